//! `/v1/lots`: lots (batches) of lot-tracked products, with their expiry dates.
//!
//! One top-level resource filtered by `product_id` (rather than nesting under
//! `/v1/products/{id}/lots`), so "every lot expiring before a date" across products is
//! the same list. Lots are not deleted: stock rows and movements refer to them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Require;
use crate::catalog::lot::{Lot, parse_lot_code};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::rbac::perm;
use crate::routes::problems::{Reads, Writes};
use crate::state::AppState;
use crate::store;
use crate::store::catalog_change::{Entity, Write};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_lots, create_lot))
        .routes(routes!(get_lot, update_lot))
}

/// A page of lots.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LotPage {
    pub items: Vec<Lot>,
    /// Cursor of the next page, absent on the last.
    pub next_cursor: Option<String>,
}

/// Filters of the lot list (combined with "and").
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LotQuery {
    /// The lots of this product.
    pub product_id: Option<Uuid>,
    /// Lots whose expiry date is before this day (`YYYY-MM-DD`, exclusive).
    pub expiring_before: Option<NaiveDate>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// A new lot of a lot-tracked product.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateLot {
    pub product_id: Uuid,
    pub code: String,
    /// `YYYY-MM-DD`.
    pub expires_on: Option<NaiveDate>,
}

/// Changes to a lot; absent fields stay as they are, `expires_on: null` clears it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateLot {
    pub code: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<NaiveDate>)]
    pub expires_on: Option<Option<NaiveDate>>,
}

/// A present field (even `null`) is `Some`.
fn some<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Reads one lot, or not found.
async fn fetch_lot(tx: &mut TenantTx, id: Uuid) -> ApiResult<Lot> {
    store::lots::get(tx, id).await?.ok_or(ApiError::NotFound)
}

/// [`fetch_lot`], the row locked for update.
async fn fetch_lot_for_update(tx: &mut TenantTx, id: Uuid) -> ApiResult<Lot> {
    store::lots::get_for_update(tx, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Lists lots, oldest first.
#[utoipa::path(get, path = "/v1/lots", tag = "catalog", params(LotQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of lots (permission catalog_read)", body = LotPage),
        (status = 400, description = "bad_request (limit, cursor, filters)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_lots(
    State(state): State<AppState>,
    p: Require<perm::CatalogRead>,
    ApiQuery(q): ApiQuery<LotQuery>,
) -> ApiResult<axum::Json<LotPage>> {
    let pq = PageQuery {
        cursor: q.cursor,
        limit: q.limit,
    };
    let limit = pq.limit()?;
    let after = pq.after()?;
    let filter = store::lots::Filter {
        product_id: q.product_id,
        expiring_before: q.expiring_before,
    };
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::lots::list(&mut tx, &filter, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |l| l.id);
    Ok(axum::Json(LotPage { items, next_cursor }))
}

/// Creates a lot of a lot-tracked product.
#[utoipa::path(post, path = "/v1/lots", tag = "catalog", request_body = CreateLot,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created (permission catalog_manage)", body = Lot),
        (status = 400, description = "bad_request (code)"),
        (status = 409, description = "conflict (the product has a lot with this code), product_not_lot_tracked"),
        (status = 422, description = "invalid_body, idempotency_key_reused, reference_not_found (product_id)"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_lot(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<CreateLot>,
) -> ApiResult<Response> {
    let hash = state.request_hash("/v1/lots", &req);
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let code = parse_lot_code(&req.code)?;
    // Locked: lot tracking cannot be turned off while this lot is being added.
    let product = store::products::get_for_update(&mut tx, req.product_id)
        .await?
        .ok_or_else(|| {
            ApiError::ReferenceNotFound(format!("product {} not found", req.product_id))
        })?;
    if !product.lot_tracked {
        return Err(ApiError::ProductNotLotTracked);
    }
    let lot = store::lots::insert(&mut tx, product.id, &code, req.expires_on).await?;
    store::catalog_change::record(
        &mut tx,
        &p,
        Write {
            entity: Entity::Lot,
            id: lot.id,
            warehouse_id: None,
            action: "lot.create",
            before: None,
            after: Some(&lot),
        },
    )
    .await?;
    let body = serde_json::to_value(&lot).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &body)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Reads one lot.
#[utoipa::path(get, path = "/v1/lots/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the lot (permission catalog_read)", body = Lot),
        (status = 404, description = "not_found (also for other tenants' lots)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_lot(
    State(state): State<AppState>,
    p: Require<perm::CatalogRead>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Lot>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let lot = fetch_lot(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(lot))
}

/// Changes a lot's code or expiry date.
#[utoipa::path(patch, path = "/v1/lots/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    request_body = UpdateLot, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "updated (permission catalog_manage)", body = Lot),
        (status = 400, description = "bad_request (code)"),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict (the product has a lot with this code)"),
        (status = 422, description = "invalid_body"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_lot(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateLot>,
) -> ApiResult<axum::Json<Lot>> {
    let code = req.code.as_deref().map(parse_lot_code).transpose()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = fetch_lot_for_update(&mut tx, id).await?;
    let after = store::lots::update(
        &mut tx,
        id,
        code.as_deref().unwrap_or(&before.code),
        req.expires_on.unwrap_or(before.expires_on),
    )
    .await?;
    store::catalog_change::record(
        &mut tx,
        &p,
        Write {
            entity: Entity::Lot,
            id,
            warehouse_id: None,
            action: "lot.update",
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(after))
}
