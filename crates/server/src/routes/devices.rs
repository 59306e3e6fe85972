//! `/v1/devices`: registering a desktop or scanner station for offline work, listing and
//! revoking devices, signing a person in on a device again (a new session for the same
//! device), and uploading a revoked device's exported journal.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit_log::{self, Entry, snapshot};
use crate::auth::{Actor, Require};
use crate::devices::{Device, Registration};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::rbac::perm;
use crate::routes::auth::TokenResponse;
use crate::routes::problems::{Authed, Reads, Writes};
use crate::state::AppState;
use crate::store;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_devices, register_device))
        .routes(routes!(revoke_device))
        .routes(routes!(reattach_device))
        .routes(routes!(upload_journal))
}

/// A device to register.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterDevice {
    pub name: String,
    pub platform: String,
    /// The warehouses to keep offline (1 to 50, active, of the tenant).
    pub warehouse_ids: Vec<Uuid>,
}

/// A registered device and its own tokens. The refresh token is the device's credential
/// (kept in the OS keyring); it rotates through `POST /v1/auth/refresh` like a person's.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisteredDevice {
    pub device: Device,
    pub tokens: TokenResponse,
}

/// A page of devices.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DevicePage {
    pub items: Vec<Device>,
    pub next_cursor: Option<String>,
}

/// Registers a device for the signed-in user (people only: an API key cannot) and
/// starts its session.
#[utoipa::path(post, path = "/v1/devices", tag = "devices", request_body = RegisterDevice,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "registered (permission movements_write)", body = RegisteredDevice),
        (status = 400, description = "bad_request (name, platform, warehouse_ids)"),
        (status = 403, description = "forbidden (also for API keys), subscription_expired, quota_exceeded"),
        (status = 422, description = "invalid_body, idempotency_key_reused"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn register_device(
    State(state): State<AppState>,
    p: Require<perm::MovementsWrite>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<RegisterDevice>,
) -> ApiResult<Response> {
    let Actor::User { id: user_id, .. } = p.actor else {
        return Err(ApiError::Forbidden);
    };
    let role = p.role.ok_or(ApiError::Forbidden)?;
    let Registration {
        name,
        platform,
        warehouse_ids: warehouses,
    } = Registration::parse(&req.name, &req.platform, &req.warehouse_ids)?;
    let hash = state.request_hash("/v1/devices", &req);
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    // Another tenant's warehouse reads as missing, like an unknown one.
    let known = store::devices::count_warehouses(&mut tx, &warehouses).await?;
    if usize::try_from(known).unwrap_or(0) != warehouses.len() {
        return Err(ApiError::BadRequest(
            "warehouse_ids names a warehouse that does not exist or is deactivated".into(),
        ));
    }
    crate::quota::check(&mut tx, crate::quota::Counted::Devices).await?;
    let device = store::devices::insert(
        &mut tx,
        store::devices::NewDevice {
            user_id,
            name: &name,
            platform: &platform,
            warehouse_ids: &warehouses,
        },
    )
    .await?;
    let session_id = store::sessions::create(&mut tx, user_id).await?;
    store::devices::attach_session(&mut tx, session_id, device.id).await?;
    let tokens =
        crate::routes::auth::issue(&state, &mut tx, user_id, role.as_str(), session_id, true)
            .await?;
    audit_log::record(
        &mut tx,
        &p,
        Entry {
            action: "device.register",
            target_type: "device",
            target_id: Some(device.id.to_string()),
            before: None,
            after: snapshot(&device),
        },
    )
    .await?;
    let body = RegisteredDevice { device, tokens };
    // The stored answer of a retried registration carries no tokens: they are secrets
    // and are never stored (the device registers again if it lost them).
    let stored = serde_json::json!({ "device": &body.device });
    idem.store(&mut tx, &hash, StatusCode::CREATED, &stored)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Lists the tenant's devices, oldest first.
#[utoipa::path(get, path = "/v1/devices", tag = "devices", params(PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of devices (permission devices_manage)", body = DevicePage),
        (status = 400, description = "bad_request (limit, cursor)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_devices(
    State(state): State<AppState>,
    p: Require<perm::DevicesManage>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<DevicePage>> {
    let limit = q.limit()?;
    let after = q.after()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::devices::list(&mut tx, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |d| d.id);
    Ok(axum::Json(DevicePage { items, next_cursor }))
}

/// Revokes a device: its session ends at once, and its next push or pull answers
/// `device_revoked`. Allowed on a read-only (expired) tenant: it only takes access away.
/// The device keeps its journal; a new registration can push it.
#[utoipa::path(delete, path = "/v1/devices/{id}", tag = "devices",
    params(("id" = Uuid, Path, description = "device id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "revoked (permission devices_manage)", body = Device),
        (status = 404, description = "not_found"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn revoke_device(
    State(state): State<AppState>,
    p: Require<perm::DevicesManage>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Device>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = store::devices::get_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let device = store::devices::revoke(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    audit_log::record(
        &mut tx,
        &p,
        Entry {
            action: "device.revoke",
            target_type: "device",
            target_id: Some(id.to_string()),
            before: snapshot(&before),
            after: snapshot(&device),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(device))
}

/// Signs the caller in on an existing device again: the device gets a new session
/// (keeping its id, scope and `device_seq`), so a device whose session ended (offline
/// longer than `device_refresh_token_ttl_secs`, or its keyring lost) pushes its journal
/// as if nothing happened. The device's other sessions end. Who may: any person of the
/// tenant who may register a device (`movements_write`): a warehouse device is shared
/// by whoever is on shift, and its entries pushed from now on are booked to that person.
/// Not for API keys; not for a revoked device (`409 device_revoked`: export its journal
/// instead). Another tenant's device answers 404 like an unknown one. Audited as
/// `device.reattach` on the device.
#[utoipa::path(post, path = "/v1/devices/{id}/session", tag = "devices",
    params(("id" = Uuid, Path, description = "device id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the device and its new tokens (permission movements_write)", body = RegisteredDevice),
        (status = 403, description = "forbidden (also for API keys), subscription_expired"),
        (status = 404, description = "not_found (no such device in the caller's tenant)"),
        (status = 409, description = "device_revoked (a revoked device is never signed in again)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn reattach_device(
    State(state): State<AppState>,
    p: Require<perm::MovementsWrite>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<RegisteredDevice>> {
    let Actor::User { id: user_id, .. } = p.actor else {
        return Err(ApiError::Forbidden);
    };
    let role = p.role.ok_or(ApiError::Forbidden)?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    // Locked: a revocation running meanwhile waits, and sees this session to end.
    let device = store::devices::get_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if device.revoked {
        return Err(ApiError::RevokedDevice(format!(
            "device {id} is revoked and is never signed in again; export its journal (`logiflow journal export`) for a manager to upload"
        )));
    }
    let ended = store::devices::end_sessions(&mut tx, id).await?;
    let session_id = store::sessions::create(&mut tx, user_id).await?;
    store::devices::attach_session(&mut tx, session_id, id).await?;
    let tokens =
        crate::routes::auth::issue(&state, &mut tx, user_id, role.as_str(), session_id, true)
            .await?;
    audit_log::record(
        &mut tx,
        &p,
        Entry {
            action: "device.reattach",
            target_type: "device",
            target_id: Some(id.to_string()),
            before: None,
            after: Some(serde_json::json!({
                "user_id": user_id,
                "session_id": session_id,
                "sessions_ended": ended,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(device = %id, "device signed in again");
    Ok(axum::Json(RegisteredDevice { device, tokens }))
}

/// Uploads the exported journal of a revoked device (`logiflow journal export`, format
/// `logiflow.journal` version 1: `{format, version, tenant, device, user, server,
/// exported_at, entries: [{movement, base_cursor}]}`, at most 1000 entries per request).
/// Every entry the server does not hold yet (by movement id or by the device's
/// `device_seq`) lands in the conflict inbox held for review (`outcome_detail.review`
/// is `{"review": "revoked_device", "uploaded_at": …}`), never applied automatically: force or void it like any held
/// movement. A structurally invalid entry is rejected with its code. Idempotent:
/// uploading the same file again lands nothing new. Audited as `device.journal_upload`.
#[utoipa::path(post, path = "/v1/devices/{id}/journal", tag = "devices",
    params(("id" = Uuid, Path, description = "device id")),
    request_body = logiflow_core::JournalFile,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "what landed (permission conflicts_resolve)", body = crate::journal::upload::JournalUploaded),
        (status = 400, description = "bad_request (not a JSON content type)"),
        (status = 404, description = "not_found (no such device in the caller's tenant)"),
        (status = 409, description = "device_not_revoked (a live device pushes its journal itself)"),
        (status = 413, description = "batch_too_large, payload_too_large"),
        (status = 422, description = "invalid_body (not JSON of the format), invalid_journal (format, version, stamps, order, another device's file); nothing was changed"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn upload_journal(
    State(state): State<AppState>,
    p: Require<perm::ConflictsResolve>,
    IdPath(id): IdPath,
    ApiJson(file): ApiJson<logiflow_core::JournalFile>,
) -> ApiResult<axum::Json<crate::journal::upload::JournalUploaded>> {
    Ok(axum::Json(
        crate::journal::upload::upload(state.tenant_pool(), &p, id, &file).await?,
    ))
}
