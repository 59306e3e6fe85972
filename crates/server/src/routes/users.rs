//! `/v1/users`: the tenant's users (create, list, read, change role, disable).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit_log::{self, Entry, snapshot};
use crate::auth::{Actor, Require, tokens};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::quota;
use crate::rbac::{Role, perm};
use crate::routes::problems::{Authed, Reads};
use crate::state::AppState;
use crate::store;
use crate::users::{User, normalize_email, validate_name, validate_password};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
}

/// A page of users.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    /// Cursor of the next page, absent on the last.
    pub next_cursor: Option<String>,
}

/// A new user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// 12 to 1024 characters.
    pub password: String,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// `true` disables the user at once (their tokens stop working); `false` re-enables.
    pub disabled: Option<bool>,
}

/// Lists users, oldest first.
#[utoipa::path(get, path = "/v1/users", tag = "users", params(PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of users (permission users_read)", body = UserPage),
        (status = 400, description = "bad_request (limit, cursor)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_users(
    State(state): State<AppState>,
    p: Require<perm::UsersRead>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<UserPage>> {
    let limit = q.limit()?;
    let after = q.after()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::users::list(&mut tx, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |u| u.id);
    Ok(axum::Json(UserPage { items, next_cursor }))
}

/// Reads one user, or not found.
async fn fetch_user(tx: &mut TenantTx, id: Uuid) -> ApiResult<User> {
    store::users::get(tx, id).await?.ok_or(ApiError::NotFound)
}

/// [`fetch_user`], the row locked for update.
async fn fetch_user_for_update(tx: &mut TenantTx, id: Uuid) -> ApiResult<User> {
    store::users::get_for_update(tx, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Creates a user (counts against the plan's `max_users`).
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = CreateUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created (permission users_manage)", body = User),
        (status = 400, description = "bad_request (email, name, password)"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (with limit)"),
        (status = 409, description = "conflict (email taken)"),
        (status = 422, description = "invalid_body, idempotency_key_reused"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_user(
    State(state): State<AppState>,
    p: Require<perm::UsersManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<CreateUser>,
) -> ApiResult<Response> {
    let hash = state.request_hash("/v1/users", &req);
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let email = normalize_email(&req.email)?;
    let display_name = validate_name(&req.display_name)?;
    validate_password(&req.password)?;
    quota::check_users(&mut tx).await?;
    let password = req.password;
    let cost = state.config.password_hash_cost;
    let password_hash = tokio::task::spawn_blocking(move || tokens::hash_password(&password, cost))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let user = store::users::insert(
        &mut tx,
        store::users::NewUser {
            email: &email,
            display_name: &display_name,
            role: req.role,
            password_hash: &password_hash,
        },
    )
    .await?;
    let id = user.id;
    audit_log::record(
        &mut tx,
        &p,
        Entry {
            action: "user.create",
            target_type: "user",
            target_id: Some(id.to_string()),
            before: None,
            after: snapshot(&user),
        },
    )
    .await?;
    let body = serde_json::to_value(&user).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &body)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Reads one user.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the user (permission users_read)", body = User),
        (status = 404, description = "not_found (also for other tenants' users)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_user(
    State(state): State<AppState>,
    p: Require<perm::UsersRead>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<User>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let user = fetch_user(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(user))
}

/// Changes a user's name or role, or disables / re-enables them. Disabling ends their
/// access at once: every request re-checks the user.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    request_body = UpdateUser, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "updated (permission users_manage)", body = User),
        (status = 400, description = "bad_request (e.g. changing one's own role or disabling oneself)"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (re-enabling)"),
        (status = 404, description = "not_found"),
        (status = 422, description = "invalid_body"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_user(
    State(state): State<AppState>,
    p: Require<perm::UsersManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateUser>,
) -> ApiResult<axum::Json<User>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = fetch_user_for_update(&mut tx, id).await?;
    if matches!(p.actor, Actor::User { id: me, .. } if me == id)
        && (req.role.is_some_and(|r| r != before.role.0) || req.disabled == Some(true))
    {
        return Err(ApiError::BadRequest(
            "you cannot change your own role or disable yourself".into(),
        ));
    }
    let display_name = req.display_name.as_deref().map(validate_name).transpose()?;
    if req.disabled == Some(false) && before.disabled {
        quota::check_users(&mut tx).await?;
    }
    let after = store::users::update(
        &mut tx,
        id,
        store::users::UserChanges {
            display_name,
            role: req.role,
            disabled: req.disabled,
        },
    )
    .await?;
    audit_log::record(
        &mut tx,
        &p,
        Entry {
            action: "user.update",
            target_type: "user",
            target_id: Some(id.to_string()),
            before: snapshot(&before),
            after: snapshot(&after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(after))
}
