//! Authentication and authorization extractors.
//!
//! Every authenticated request goes through [`Principal`]'s extractor, which verifies the
//! credential, re-reads the user (enabled? role?) or key (revoked?) from the database,
//! applies the tenant's request rate, and records tenant and user in the request span.
//! [`Require<P>`] adds the permission check and the read-only rule for expired tenants.
//!
//! Schemes: `Authorization: Bearer <access token>` (a JWT from `/v1/auth/login`), and
//! for integrations `Authorization: ApiKey <key>` (also accepted as `Bearer <key>` since
//! keys start with `lfk_` and cannot be confused with a JWT).

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use logiflow_core::TenantId;
use uuid::Uuid;

use crate::access::session_verdict;
use crate::error::ApiError;
use crate::rbac::perm::Perm;
use crate::state::AppState;

// The values these extractors build, and the credentials they check, live outside the
// HTTP layer (storage and audit need them); handlers keep naming them from here.
pub use crate::access::{Actor, DeferredCheck, Principal, check, refusal_in};
pub use crate::tokens;

enum Credential<'a> {
    Jwt(&'a str),
    ApiKey(&'a str),
}

fn credential(parts: &Parts) -> Result<Credential<'_>, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthenticated)?;
    let (scheme, rest) = value.split_once(' ').ok_or(ApiError::Unauthenticated)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("apikey") {
        Ok(Credential::ApiKey(rest))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        if rest.starts_with(tokens::API_KEY_PREFIX) {
            Ok(Credential::ApiKey(rest))
        } else {
            Ok(Credential::Jwt(rest))
        }
    } else {
        Err(ApiError::Unauthenticated)
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let request_id = crate::extract::RequestIdHeader::from_headers(&parts.headers).0;
        let (tenant_id, actor, role, key_permissions, facts) = match credential(parts)? {
            Credential::Jwt(token) => {
                let claims = state
                    .jwt
                    .verify(token)
                    .map_err(|_| ApiError::Unauthenticated)?;
                let tenant_id = TenantId::from_uuid(claims.tid);
                // Re-read on every request: disabling a user, changing a role or ending a
                // session takes effect at once, not when the token expires. Session,
                // user and tenant facts in one round trip (see `sessions::check`).
                let check = crate::store::sessions::check(
                    state.platform_pool(),
                    tenant_id,
                    claims.sub,
                    claims.sid,
                )
                .await?;
                let (role, facts) = match check {
                    Some(check) => session_verdict(check)?,
                    None => return Err(refusal(state, tenant_id, claims.sid).await?),
                };
                (
                    tenant_id,
                    Actor::User {
                        id: claims.sub,
                        session_id: claims.sid,
                    },
                    Some(role),
                    Vec::new(),
                    facts,
                )
            }
            Credential::ApiKey(key) => {
                let (tenant_id, hash) =
                    tokens::parse(tokens::API_KEY_PREFIX, key).ok_or(ApiError::Unauthenticated)?;
                let mut tx = state.tenant_tx(tenant_id).await?;
                let row = crate::store::api_keys::use_by_hash(&mut tx, &hash).await?;
                tx.commit().await?;
                let (id, permissions, created_by) = row.ok_or(ApiError::Unauthenticated)?;
                let facts = crate::store::platform::tenant_facts(state.platform_pool(), tenant_id)
                    .await?
                    .ok_or(ApiError::Unauthenticated)?;
                (
                    tenant_id,
                    Actor::ApiKey { id, created_by },
                    None,
                    permissions,
                    facts,
                )
            }
        };
        record_in_span(tenant_id, actor);
        state
            .limits
            .tenant_request(
                tenant_id.as_uuid(),
                u32::try_from(facts.requests_per_second).unwrap_or(1),
            )
            .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
        let principal = Principal {
            tenant_id,
            actor,
            role,
            key_permissions,
            subscription_expired: facts.expired,
            request_id,
        };
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// A principal holding permission `P`; for write permissions, also a tenant whose
/// subscription is current.
///
/// Only its extractor can build one, so holding it proves the check ran. It derefs to the
/// [`Principal`].
#[derive(Debug)]
pub struct Require<P: Perm>(Principal, PhantomData<P>);

impl<P: Perm> std::ops::Deref for Require<P> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<P: Perm> FromRequestParts<AppState> for Require<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        check(&principal, P::PERMISSION)?;
        Ok(Require(principal, PhantomData))
    }
}

/// Records who is acting in the request's span (and so in its log lines).
fn record_in_span(tenant_id: TenantId, actor: Actor) {
    let span = tracing::Span::current();
    span.record("tenant", tracing::field::display(tenant_id));
    match actor {
        Actor::User { id, .. } => span.record("user", tracing::field::display(id)),
        Actor::ApiKey { id, .. } => span.record("api_key", tracing::field::display(id)),
    };
}

/// Why a session that is not live is refused. Only on refusal: tell a revoked device
/// why, so it stops retrying and asks its user to register it again (its journal is
/// kept).
async fn refusal(
    state: &AppState,
    tenant_id: TenantId,
    session_id: Uuid,
) -> Result<ApiError, ApiError> {
    let mut tx = state.tenant_tx(tenant_id).await?;
    let revoked = refusal_in(&mut tx, session_id).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// How long a tenant's request rate, as a checked request last read it, is used for
/// requests whose session is checked later.
const RATE_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// The caller of a route that can check a person's session in its own transaction
/// (`POST /v1/movements`): [`Caller::Checked`] like [`Require<P>`], or, when the
/// credential is an access token and the tenant's rate was read within the last
/// second, [`Caller::DeferredCheck`]. A route that answers before its transaction (a bad
/// body, a replayed `Idempotency-Key`) calls [`Caller::checked`] first, so that a
/// refused session is answered as such whatever else is wrong.
#[derive(Debug)]
pub enum Caller<P: Perm> {
    Checked(Require<P>),
    DeferredCheck(DeferredCheck),
}

impl<P: Perm> Caller<P> {
    /// The caller's tenant.
    pub fn tenant_id(&self) -> TenantId {
        match self {
            Caller::Checked(p) => p.tenant_id,
            Caller::DeferredCheck(u) => u.tenant_id,
        }
    }

    /// The checked caller: checks the session now if it is not yet.
    pub async fn checked(self, state: &AppState) -> Result<Require<P>, ApiError> {
        match self {
            Caller::Checked(p) => Ok(p),
            Caller::DeferredCheck(u) => {
                let read = crate::store::sessions::check(
                    state.platform_pool(),
                    u.tenant_id,
                    u.user_id,
                    u.session_id,
                )
                .await?;
                let (role, facts) = match read {
                    Some(check) => session_verdict(check)?,
                    None => return Err(refusal(state, u.tenant_id, u.session_id).await?),
                };
                let principal = u.principal(role, facts.expired);
                check(&principal, P::PERMISSION)?;
                Ok(Require(principal, PhantomData))
            }
        }
    }
}

impl<P: Perm> FromRequestParts<AppState> for Caller<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.extensions.get::<Principal>().is_none()
            && let Ok(Credential::Jwt(token)) = credential(parts)
            && let Ok(claims) = state.jwt.verify(token)
        {
            let tenant_id = TenantId::from_uuid(claims.tid);
            if let Some(rate) = state
                .limits
                .tenant_request_recent(tenant_id.as_uuid(), RATE_FRESH)
            {
                rate.map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
                let actor = Actor::User {
                    id: claims.sub,
                    session_id: claims.sid,
                };
                record_in_span(tenant_id, actor);
                return Ok(Caller::DeferredCheck(DeferredCheck {
                    tenant_id,
                    user_id: claims.sub,
                    session_id: claims.sid,
                    request_id: crate::extract::RequestIdHeader::from_headers(&parts.headers).0,
                    permission: P::PERMISSION,
                }));
            }
        }
        Require::<P>::from_request_parts(parts, state)
            .await
            .map(Caller::Checked)
    }
}
