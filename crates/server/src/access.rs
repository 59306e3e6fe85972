//! Who is acting and what they may do, apart from HTTP: the authenticated [`Principal`]
//! and its [`Actor`] (what the audit log records), the authorization rule, and a
//! person's request whose session is checked later in the work's transaction. The
//! extractors that build these from a request are in `crate::auth`.

use logiflow_core::TenantId;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::rbac::{Permission, Role};

/// Who is acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// A person, through an access token of a session.
    User {
        /// The user.
        id: Uuid,
        /// The session the token belongs to.
        #[serde(skip)]
        session_id: Uuid,
    },
    /// An integration, through an API key created by `created_by`.
    ApiKey {
        /// The key.
        id: Uuid,
        /// The user who created the key.
        #[serde(skip)]
        created_by: Uuid,
    },
}

/// The authenticated caller. Its tenant scopes everything the request touches.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The caller's tenant: the only tenant the request may see.
    pub tenant_id: TenantId,
    /// The user or key.
    pub actor: Actor,
    /// The user's current role (None for keys).
    pub role: Option<Role>,
    /// A key's scope (empty for users, whose role decides).
    pub key_permissions: Vec<Permission>,
    /// Whether the tenant's subscription has expired (read-only tenant).
    pub subscription_expired: bool,
    /// The request id, for the audit log.
    pub request_id: Option<String>,
}

impl Principal {
    /// Whether the principal holds `permission`: the role table for users, the scope for
    /// keys. The only place permissions are decided.
    pub fn has(&self, permission: Permission) -> bool {
        match self.actor {
            Actor::User { .. } => self.role.is_some_and(|r| r.allows(permission)),
            Actor::ApiKey { .. } => self.key_permissions.contains(&permission),
        }
    }

    /// The user accountable for the request (a key's creator for keys).
    pub fn accountable_user(&self) -> Uuid {
        match self.actor {
            Actor::User { id, .. } => id,
            Actor::ApiKey { created_by, .. } => created_by,
        }
    }

    /// The actor kind and id as written in the audit log.
    pub fn audit_actor(&self) -> (&'static str, Uuid) {
        match self.actor {
            Actor::User { id, .. } => ("user", id),
            Actor::ApiKey { id, .. } => ("api_key", id),
        }
    }
}

/// The authorization rule: permission first, then the read-only rule.
pub fn check(principal: &Principal, permission: Permission) -> Result<(), ApiError> {
    if !principal.has(permission) {
        return Err(ApiError::Forbidden);
    }
    if permission.is_write() && principal.subscription_expired {
        return Err(ApiError::SubscriptionExpired);
    }
    Ok(())
}

/// **The deferred session check**, the one place a person's session is checked after
/// the request arrived rather than on arrival. Why: an online movement's own work is small
/// next to a round trip to the database, and the group commit (`crate::group_commit`)
/// writes many movements in one transaction; checking each request's session on arrival
/// would cost each its own round trip and transaction, while checking them all inside the
/// batch's transaction costs one statement ([`authorize_deferred`]). The answer is the
/// same as on arrival: a session revoked, a user disabled or a role changed before that
/// statement refuses the movement, which is then not decided at all; after it, the
/// movement commits as it would have after a check on arrival. What is checked on arrival
/// still: the access token's signature and claims and the tenant's request rate. Only
/// `POST /v1/movements` uses it (`auth::Caller`); a request that answers before its
/// transaction (a bad body, a replayed `Idempotency-Key`) is checked first.
#[derive(Debug, Clone)]
pub struct DeferredCheck {
    pub tenant_id: TenantId,
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub request_id: Option<String>,
    /// What the request needs.
    pub permission: Permission,
}

impl DeferredCheck {
    /// The principal of a request whose deferred check passed (its work committed): the
    /// user and session it named, for what follows the work (audit of a back-order
    /// served after a receipt).
    pub fn principal_after_check(&self) -> Principal {
        Principal {
            tenant_id: self.tenant_id,
            actor: Actor::User {
                id: self.user_id,
                session_id: self.session_id,
            },
            role: None,
            key_permissions: Vec::new(),
            subscription_expired: false,
            request_id: self.request_id.clone(),
        }
    }

    /// The principal, if the session as read in the work's transaction (`None`: not
    /// live) allows the request; its refusal otherwise. The same rules as a checked
    /// request's, in the same order.
    pub async fn authorize(
        &self,
        tx: &mut crate::db::TenantTx,
        check: Option<crate::store::sessions::SessionCheck>,
    ) -> Result<Principal, ApiError> {
        let Some(check) = check else {
            return Err(refusal_in(tx, self.session_id).await?);
        };
        let (role, facts) = session_verdict(check)?;
        let principal = self.principal(role, facts.expired);
        self::check(&principal, self.permission)?;
        Ok(principal)
    }

    pub(crate) fn principal(&self, role: Role, subscription_expired: bool) -> Principal {
        Principal {
            tenant_id: self.tenant_id,
            actor: Actor::User {
                id: self.user_id,
                session_id: self.session_id,
            },
            role: Some(role),
            key_permissions: Vec::new(),
            subscription_expired,
            request_id: self.request_id.clone(),
        }
    }
}

/// Checks the deferred sessions of a batch's requests (`None`: checked on arrival) in
/// one statement of the batch's transaction: which requests are refused, by position,
/// and why (the same answers as a request checked on arrival).
pub async fn authorize_deferred<'a>(
    tx: &mut crate::db::TenantTx,
    requests: impl Iterator<Item = Option<&'a DeferredCheck>> + Clone,
) -> Result<Vec<(usize, ApiError)>, ApiError> {
    let sessions: Vec<(Uuid, Uuid)> = requests
        .clone()
        .flatten()
        .map(|d| (d.user_id, d.session_id))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if sessions.is_empty() {
        return Ok(Vec::new());
    }
    let live = crate::store::sessions::check_many(tx, &sessions).await?;
    let mut refused = Vec::new();
    for (i, deferred) in requests.enumerate() {
        let Some(deferred) = deferred else {
            continue;
        };
        // A session's row is read once; each of its requests is judged on it.
        let check = live.get(&deferred.session_id).cloned();
        if let Err(refusal) = deferred.authorize(tx, check).await {
            refused.push((i, refusal));
        }
    }
    Ok(refused)
}

/// The role and tenant facts of a live session as read from the database.
pub(crate) fn session_verdict(
    check: crate::store::sessions::SessionCheck,
) -> Result<(Role, crate::store::platform::TenantFacts), ApiError> {
    let role = Role::parse(&check.role).ok_or(ApiError::Unauthenticated)?;
    Ok((
        role,
        crate::store::platform::TenantFacts {
            expired: check.expired,
            requests_per_second: check.requests_per_second,
        },
    ))
}

/// Why a session that is not live is refused, inside a transaction of its tenant. Only on
/// refusal: tell a revoked device why, so it stops retrying and asks its user to register
/// it again (its journal is kept).
pub async fn refusal_in(
    tx: &mut crate::db::TenantTx,
    session_id: Uuid,
) -> Result<ApiError, sqlx::Error> {
    let revoked = crate::store::devices::session_of_revoked_device(tx, session_id).await?;
    Ok(if revoked {
        ApiError::DeviceRevoked
    } else {
        ApiError::Unauthenticated
    })
}
