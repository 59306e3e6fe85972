//! `/v1/auth`: login, refresh-token rotation, logout; and `/v1/me`.
//!
//! Login names the tenant by its slug: emails are unique per tenant, not globally, so a
//! person may have accounts in two tenants with one address.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as URL_SAFE;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit_log;
use crate::auth::tokens::{self, Claims};
use crate::auth::{Actor, Principal};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, RequestIdHeader};
use crate::rbac::{Permission, Role};
use crate::routes::problems::Authed;
use crate::state::AppState;
use crate::store;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// Credentials.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct LoginRequest {
    /// The tenant's slug.
    pub tenant: String,
    /// The user's email (case-insensitive).
    pub email: String,
    /// The password.
    pub password: String,
}

/// Tokens issued by login and refresh.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// JWT for `Authorization: Bearer`, valid `expires_in` seconds (at most 900).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    /// Single-use token for `/v1/auth/refresh`; each use returns a new one.
    pub refresh_token: String,
    /// Lifetime of the refresh token in seconds: the session ends when it passes without
    /// a refresh (a device's setting is `device_refresh_token_ttl_secs`, a person's
    /// `refresh_token_ttl_secs`).
    pub refresh_expires_in: u64,
}

/// A refresh token to exchange.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
    /// A random value (16 to 200 characters) the client saved beside the token before
    /// sending this. If the answer is lost, sending the same token with the same key
    /// again gets a new pair instead of counting as a reuse, as long as the pair the
    /// lost answer carried has not been used.
    #[serde(default)]
    pub retry_key: Option<String>,
}

/// The caller as the server sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// The caller's tenant.
    pub tenant_id: Uuid,
    /// `user` or `api_key`.
    pub actor_type: String,
    /// The user's or key's id.
    pub actor_id: Uuid,
    /// The user's role (absent for keys).
    pub role: Option<Role>,
    /// What the caller may do.
    pub permissions: Vec<Permission>,
    /// Whether the tenant is read-only because its subscription expired.
    pub subscription_expired: bool,
}

/// Starts a session: issues an access token and a refresh token.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "logged in", body = TokenResponse),
        (status = 400, description = "bad_request (not a JSON content type)"),
        (status = 401, description = "invalid_credentials"),
        (status = 422, description = "invalid_body"),
        (status = 429, description = "too_many_login_attempts (Retry-After)"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    RequestIdHeader(request_id): RequestIdHeader,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let email = req.email.trim().to_lowercase();
    let slug = req.tenant.trim().to_lowercase();
    // The account key is a hash, so the limiter's memory holds no email addresses.
    let account = URL_SAFE.encode(tokens::sha256(&format!("{slug}\n{email}")));
    state
        .limits
        .login_attempt(account, addr.ip())
        .map_err(|retry_after_secs| ApiError::TooManyLoginAttempts { retry_after_secs })?;

    let tenant_id = store::platform::tenant_id_by_slug(state.platform_pool(), &slug).await?;
    let user = match tenant_id {
        Some(tenant_id) => {
            let mut tx = state.tenant_tx(tenant_id).await?;
            let user = store::users::credentials(&mut tx, &email).await?;
            tx.commit().await?;
            user.map(|u| (tenant_id, u))
        }
        None => None,
    };
    // Unknown tenant or email still pays for a verification, so timing tells nothing.
    let hash = user.as_ref().map_or_else(
        || tokens::dummy_hash(state.config.password_hash_cost).to_owned(),
        |(_, u)| u.password_hash.clone(),
    );
    // No account has a longer password (see users::PASSWORD_LEN_MAX); refusing before
    // hashing keeps huge bodies from buying argon2 time.
    if req.password.chars().count() > crate::users::PASSWORD_LEN_MAX {
        return Err(ApiError::InvalidCredentials);
    }
    let password = req.password;
    let verified = tokio::task::spawn_blocking(move || tokens::verify_password(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    let (tenant_id, user) = match user {
        Some((tenant_id, user)) if verified && user.disabled_at.is_none() => (tenant_id, user),
        _ => return Err(ApiError::InvalidCredentials),
    };
    let mut tx = state.tenant_tx(tenant_id).await?;
    let session_id = store::sessions::create(&mut tx, user.id).await?;
    let response = issue(&state, &mut tx, user.id, &user.role, session_id, false).await?;
    audit_log::record_as(
        &mut tx,
        "user",
        Some(user.id),
        request_id.as_deref(),
        session_entry("session.create", session_id),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant_id, user = %user.id, "login");
    Ok(axum::Json(response))
}

fn session_entry(action: &str, session_id: Uuid) -> audit_log::Entry<'_> {
    audit_log::Entry {
        action,
        target_type: "session",
        target_id: Some(session_id.to_string()),
        before: None,
        after: None,
    }
}

/// Issues an access token and a new refresh token of `session_id`, a device's session
/// when `device` (its refresh token lives `device_refresh_token_ttl_secs`).
pub(crate) async fn issue(
    state: &AppState,
    tx: &mut TenantTx,
    user_id: Uuid,
    role: &str,
    session_id: Uuid,
    device: bool,
) -> ApiResult<TokenResponse> {
    Ok(issue_with_id(state, tx, user_id, role, session_id, device)
        .await?
        .0)
}

/// The lifetime of a refresh token of a device's session or of a person's.
fn refresh_ttl(state: &AppState, device: bool) -> u64 {
    if device {
        state.config.device_refresh_token_ttl_secs
    } else {
        state.config.refresh_token_ttl_secs
    }
}

/// As [`issue`], with the new refresh token's id.
async fn issue_with_id(
    state: &AppState,
    tx: &mut TenantTx,
    user_id: Uuid,
    role: &str,
    session_id: Uuid,
    device: bool,
) -> ApiResult<(TokenResponse, Uuid)> {
    let tenant_id = tx.tenant_id();
    let refresh = tokens::generate(tokens::REFRESH_PREFIX, tenant_id);
    let refresh_expires_in = refresh_ttl(state, device);
    let refresh_id =
        store::sessions::insert_refresh(tx, session_id, &refresh.hash, refresh_expires_in).await?;
    let now = Utc::now().timestamp();
    let expires_in = state.config.access_token_ttl_secs;
    let claims = Claims {
        sub: user_id,
        tid: tenant_id.as_uuid(),
        role: role.to_owned(),
        sid: session_id,
        jti: Uuid::now_v7(),
        iat: now,
        exp: now + i64::try_from(expires_in).unwrap_or(0),
    };
    let access_token = state.jwt.sign(&claims).map_err(ApiError::internal)?;
    Ok((
        TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            refresh_token: refresh.token,
            refresh_expires_in,
        },
        refresh_id,
    ))
}

/// The retry key's accepted length, in characters.
pub(crate) const RETRY_KEY_LEN: std::ops::RangeInclusive<usize> = 16..=200;

/// Exchanges a refresh token for new tokens. Each refresh token works once: presenting a
/// used one again (a sign it was stolen) revokes its whole session, unless it comes
/// with the retry key of its exchange while the pair that exchange issued is unused (the
/// answer was lost on the way: a new pair replaces the one never received).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "rotated", body = TokenResponse),
        (status = 400, description = "bad_request (retry_key length)"),
        (status = 401, description = "invalid_refresh_token (unknown, expired, reused: the session is then revoked)"),
        (status = 422, description = "invalid_body"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    State(state): State<AppState>,
    RequestIdHeader(request_id): RequestIdHeader,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let retry_key_hash = match &req.retry_key {
        Some(key) if !RETRY_KEY_LEN.contains(&key.chars().count()) => {
            return Err(ApiError::BadRequest(format!(
                "retry_key must be {} to {} characters long",
                RETRY_KEY_LEN.start(),
                RETRY_KEY_LEN.end()
            )));
        }
        Some(key) => Some(tokens::sha256(key)),
        None => None,
    };
    let (tenant_id, hash) = tokens::parse(tokens::REFRESH_PREFIX, &req.refresh_token)
        .ok_or(ApiError::InvalidRefreshToken)?;
    let mut tx = state.tenant_tx(tenant_id).await?;
    let stored = store::sessions::find_refresh_for_update(&mut tx, &hash).await?;
    let Some(stored) = stored else {
        return Err(ApiError::InvalidRefreshToken);
    };
    let retry = stored.used
        && stored.successor_unused
        && retry_key_hash.is_some()
        && stored.retry_key_hash == retry_key_hash;
    if stored.used && !retry {
        store::sessions::revoke(&mut tx, stored.session_id).await?;
        // Whoever presented the token cannot be named: it may be the thief.
        audit_log::record_as(
            &mut tx,
            "system",
            None,
            request_id.as_deref(),
            session_entry("session.revoke_reused_token", stored.session_id),
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(tenant = %tenant_id, session = %stored.session_id, "refresh token reused; session revoked");
        return Err(ApiError::InvalidRefreshToken);
    }
    if stored.expired || stored.session_revoked || stored.user_disabled {
        return Err(ApiError::InvalidRefreshToken);
    }
    if retry && let Some(lost) = stored.successor_id {
        // The pair the lost answer carried was never used: it goes, a new one comes.
        store::sessions::delete_unused_refresh(&mut tx, lost).await?;
    }
    // Each refresh adds a row; the session's expired ones go as it is used.
    store::sessions::prune_expired(&mut tx, stored.session_id).await?;
    let (response, successor) = issue_with_id(
        &state,
        &mut tx,
        stored.user_id,
        &stored.role,
        stored.session_id,
        stored.device,
    )
    .await?;
    store::sessions::mark_used(&mut tx, stored.id, successor, retry_key_hash.as_deref()).await?;
    tx.commit().await?;
    Ok(axum::Json(response))
}

/// Ends the caller's session: its refresh tokens and access tokens stop working at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "session revoked"),
        (status = 400, description = "bad_request (api keys have no session; revoke them instead)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn logout(State(state): State<AppState>, principal: Principal) -> ApiResult<StatusCode> {
    let Actor::User { session_id, .. } = principal.actor else {
        return Err(ApiError::BadRequest(
            "api keys have no session; revoke the key instead".into(),
        ));
    };
    let mut tx = state.tenant_tx(principal.tenant_id).await?;
    store::sessions::revoke(&mut tx, session_id).await?;
    audit_log::record(
        &mut tx,
        &principal,
        session_entry("session.revoke", session_id),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The authenticated caller and what it may do.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the caller", body = Me),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn me(principal: Principal) -> impl IntoResponse {
    let (actor_type, actor_id) = principal.audit_actor();
    axum::Json(Me {
        tenant_id: principal.tenant_id.as_uuid(),
        actor_type: actor_type.into(),
        actor_id,
        role: principal.role,
        permissions: Permission::ALL
            .into_iter()
            .filter(|p| principal.has(*p))
            .collect(),
        subscription_expired: principal.subscription_expired,
    })
}
