//! `/v1/api-keys`: keys for integrations. A key is shown once at creation, stored as a
//! SHA-256 hash, scoped to a set of permissions, revocable, and records its last use.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_keys::ApiKey;
use crate::audit_log::{self, Entry, snapshot};
use crate::auth::{Require, tokens};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::rbac::{Permission, perm};
use crate::routes::problems::{Authed, Reads, Writes};
use crate::state::AppState;
use crate::store;
use crate::users::validate_name;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
}

/// A page of API keys.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyPage {
    pub items: Vec<ApiKey>,
    pub next_cursor: Option<String>,
}

/// A new key: a name and the permissions it grants (a subset of the creator's).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateApiKey {
    pub name: String,
    pub permissions: Vec<Permission>,
}

/// The created key. `key` is present only in the creating response: it is not stored,
/// so a replay of the same Idempotency-Key answers without it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The secret, for `Authorization: ApiKey <key>`. Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Lists API keys (revoked ones included), oldest first.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", params(PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of keys (permission api_keys_read)", body = ApiKeyPage),
        (status = 400, description = "bad_request (limit, cursor)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    p: Require<perm::ApiKeysRead>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<ApiKeyPage>> {
    let limit = q.limit()?;
    let after = q.after()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::api_keys::list(&mut tx, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |k| k.id);
    Ok(axum::Json(ApiKeyPage { items, next_cursor }))
}

/// Creates a key. It may only grant permissions its creator holds.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = CreateApiKey,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created (permission api_keys_manage); `key` is shown once", body = CreatedApiKey),
        (status = 400, description = "bad_request (name, empty permissions)"),
        (status = 403, description = "forbidden (also: granting a permission the creator lacks), subscription_expired"),
        (status = 409, description = "conflict (name taken)"),
        (status = 422, description = "invalid_body, idempotency_key_reused"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_api_key(
    State(state): State<AppState>,
    p: Require<perm::ApiKeysManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<CreateApiKey>,
) -> ApiResult<Response> {
    let hash = state.request_hash("/v1/api-keys", &req);
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let name = validate_name(&req.name)?;
    if req.permissions.is_empty() {
        return Err(ApiError::BadRequest(
            "a key needs at least one permission".into(),
        ));
    }
    if !req.permissions.iter().all(|perm| p.has(*perm)) {
        return Err(ApiError::Forbidden);
    }
    let generated = tokens::generate(tokens::API_KEY_PREFIX, p.tenant_id);
    let hint = &generated.token[generated.token.len() - 6..];
    let api_key = store::api_keys::insert(
        &mut tx,
        store::api_keys::NewApiKey {
            name: &name,
            hint,
            hash: &generated.hash,
            permissions: &req.permissions,
            created_by: p.accountable_user(),
        },
    )
    .await?;
    audit_log::record(
        &mut tx,
        &p,
        Entry {
            action: "api_key.create",
            target_type: "api_key",
            target_id: Some(api_key.id.to_string()),
            before: None,
            after: snapshot(&api_key),
        },
    )
    .await?;
    let stored = CreatedApiKey { api_key, key: None };
    let stored_body = serde_json::to_value(&stored).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &stored_body)
        .await?;
    tx.commit().await?;
    let created = CreatedApiKey {
        key: Some(generated.token),
        ..stored
    };
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

/// Revokes a key at once. Revoking a revoked key succeeds and changes nothing.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "revoked (permission api_keys_manage)"),
        (status = 404, description = "not_found (also for other tenants' keys)"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    p: Require<perm::ApiKeysManage>,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = store::api_keys::get_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if before.revoked_at.is_some() {
        return Ok(StatusCode::NO_CONTENT);
    }
    let after = store::api_keys::revoke(&mut tx, id).await?;
    audit_log::record(
        &mut tx,
        &p,
        Entry {
            action: "api_key.revoke",
            target_type: "api_key",
            target_id: Some(id.to_string()),
            before: snapshot(&before),
            after: snapshot(&after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
