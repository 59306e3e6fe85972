//! `/v1/warehouses`: the tenant's warehouses (create, list, read, change, deactivate).
//!
//! Warehouses are never deleted: locations, stock and movements hang off them.
//! `PATCH active=false` deactivates one (it stops counting against `max_warehouses`);
//! reactivating is checked against the quota like a creation.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Require;
use crate::catalog::warehouse::{Warehouse, parse_code, validate_address, validate_timezone};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::quota;
use crate::rbac::perm;
use crate::routes::problems::{Authed, Reads};
use crate::state::AppState;
use crate::store;
use crate::store::catalog_change::{Entity, Write};
use crate::users::validate_name;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_warehouses, create_warehouse))
        .routes(routes!(get_warehouse, update_warehouse))
}

/// A page of warehouses.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WarehousePage {
    pub items: Vec<Warehouse>,
    /// Cursor of the next page, absent on the last.
    pub next_cursor: Option<String>,
}

/// Filters of the warehouse list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WarehouseQuery {
    /// Only active (`true`) or deactivated (`false`) warehouses.
    pub active: Option<bool>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// A new warehouse.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateWarehouse {
    pub code: String,
    pub name: String,
    /// IANA time zone, e.g. `Europe/Paris`.
    pub timezone: String,
    pub address: Option<String>,
}

/// Changes to a warehouse; absent fields stay as they are.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateWarehouse {
    pub code: Option<String>,
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub address: Option<String>,
    /// `false` deactivates the warehouse; `true` reactivates it (quota-checked).
    pub active: Option<bool>,
}

/// Reads one warehouse, or not found.
pub async fn fetch_warehouse(tx: &mut TenantTx, id: Uuid) -> ApiResult<Warehouse> {
    store::warehouses::get(tx, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// [`fetch_warehouse`], the row locked for update.
pub async fn fetch_warehouse_for_update(tx: &mut TenantTx, id: Uuid) -> ApiResult<Warehouse> {
    store::warehouses::get_for_update(tx, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Lists warehouses, oldest first.
#[utoipa::path(get, path = "/v1/warehouses", tag = "catalog", params(WarehouseQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of warehouses (permission catalog_read)", body = WarehousePage),
        (status = 400, description = "bad_request (limit, cursor, filters)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_warehouses(
    State(state): State<AppState>,
    p: Require<perm::CatalogRead>,
    ApiQuery(q): ApiQuery<WarehouseQuery>,
) -> ApiResult<axum::Json<WarehousePage>> {
    let pq = PageQuery {
        cursor: q.cursor,
        limit: q.limit,
    };
    let limit = pq.limit()?;
    let after = pq.after()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::warehouses::list(&mut tx, q.active, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |w| w.id);
    Ok(axum::Json(WarehousePage { items, next_cursor }))
}

/// Creates a warehouse (counts against the plan's `max_warehouses`).
#[utoipa::path(post, path = "/v1/warehouses", tag = "catalog", request_body = CreateWarehouse,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created (permission catalog_manage)", body = Warehouse),
        (status = 400, description = "bad_request (code, name, timezone, address)"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (with limit)"),
        (status = 409, description = "conflict (code taken)"),
        (status = 422, description = "invalid_body, idempotency_key_reused"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_warehouse(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<CreateWarehouse>,
) -> ApiResult<Response> {
    let hash = state.request_hash("/v1/warehouses", &req);
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let new = store::warehouses::NewWarehouse {
        code: parse_code(&req.code)?,
        name: validate_name(&req.name)?,
        timezone: validate_timezone(&req.timezone)?,
        address: validate_address(req.address.as_deref().unwrap_or(""))?,
    };
    quota::check(&mut tx, quota::Counted::Warehouses).await?;
    let w = store::warehouses::insert(&mut tx, new).await?;
    store::catalog_change::record(
        &mut tx,
        &p,
        Write {
            entity: Entity::Warehouse,
            id: w.id,
            warehouse_id: Some(w.id),
            action: "warehouse.create",
            before: None,
            after: Some(&w),
        },
    )
    .await?;
    let body = serde_json::to_value(&w).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &body)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Reads one warehouse.
#[utoipa::path(get, path = "/v1/warehouses/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the warehouse (permission catalog_read)", body = Warehouse),
        (status = 404, description = "not_found (also for other tenants' warehouses)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_warehouse(
    State(state): State<AppState>,
    p: Require<perm::CatalogRead>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Warehouse>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let w = fetch_warehouse(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(w))
}

/// Changes a warehouse; `active=false` deactivates it.
#[utoipa::path(patch, path = "/v1/warehouses/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    request_body = UpdateWarehouse, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "updated (permission catalog_manage)", body = Warehouse),
        (status = 400, description = "bad_request (code, name, timezone, address)"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (reactivating)"),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict (code taken)"),
        (status = 422, description = "invalid_body"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_warehouse(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateWarehouse>,
) -> ApiResult<axum::Json<Warehouse>> {
    let changes = store::warehouses::WarehouseChanges {
        code: req.code.as_deref().map(parse_code).transpose()?,
        name: req.name.as_deref().map(validate_name).transpose()?,
        timezone: req.timezone.as_deref().map(validate_timezone).transpose()?,
        address: req.address.as_deref().map(validate_address).transpose()?,
        active: req.active,
    };
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = fetch_warehouse_for_update(&mut tx, id).await?;
    if req.active == Some(true) && !before.active {
        quota::check(&mut tx, quota::Counted::Warehouses).await?;
    }
    let after = store::warehouses::update(&mut tx, id, changes).await?;
    store::catalog_change::record(
        &mut tx,
        &p,
        Write {
            entity: Entity::Warehouse,
            id,
            warehouse_id: Some(id),
            action: "warehouse.update",
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(after))
}
