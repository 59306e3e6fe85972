//! `/v1/sales-orders`: sales orders (create, list, read, confirm — which reserves stock
//! —, allocate back-orders again, cancel — which releases it —, and the pick list). The
//! services and rules are `orders::sales` and `logiflow_core::orders`; goods leave
//! against a line with a `ship` movement that names it (`reference`), which consumes the
//! line's reservations.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Require;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, IdsPath};
use crate::orders::document;
use crate::orders::sales::{
    self, NewSalesLine, NewSalesOrder, PickListLine, Reserve, Sales, SalesLineChanges, SalesOrder,
    SalesOrderQuery, UpdateSalesOrder, WaveStop,
};
use crate::rbac::perm;
use crate::routes::problems::{Authed, Reads};
use crate::routes::purchase_orders::list_page;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sales_orders, create_sales_order))
        .routes(routes!(get_sales_order, update_sales_order))
        .routes(routes!(add_sales_line))
        .routes(routes!(update_sales_line, delete_sales_line))
        .routes(routes!(confirm_sales_order))
        .routes(routes!(allocate_sales_order))
        .routes(routes!(cancel_sales_order))
        .routes(routes!(sales_order_pick_list))
        .routes(routes!(wave_pick_list))
}

/// A page of sales orders.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SalesOrderPage {
    pub items: Vec<SalesOrder>,
    /// Cursor of the next page, absent on the last.
    pub next_cursor: Option<String>,
}

/// An order's pick list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PickList {
    /// The reservations in walk order (bin path), each a pick to make.
    pub items: Vec<PickListLine>,
}

/// The sales orders of a wave, to pick in one walk.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WavePickListRequest {
    /// 1 to 50 sales orders (`logiflow_core::orders::WAVE_ORDERS_MAX`); repeats count once.
    pub order_ids: Vec<Uuid>,
}

/// A wave's pick list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WavePickList {
    /// The reservations of all its orders in one walk (bin path, then SKU, lot and order
    /// number), each a pick to make for one order.
    pub items: Vec<WaveStop>,
}

/// Lists sales orders with their lines, oldest first.
#[utoipa::path(get, path = "/v1/sales-orders", tag = "orders", params(SalesOrderQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of orders (permission orders_read)", body = SalesOrderPage),
        (status = 400, description = "bad_request (limit, cursor, status)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_sales_orders(
    State(state): State<AppState>,
    p: Require<perm::OrdersRead>,
    ApiQuery(q): ApiQuery<SalesOrderQuery>,
) -> ApiResult<axum::Json<SalesOrderPage>> {
    let (items, next_cursor) =
        list_page::<Sales>(&state, p.tenant_id, q.filter(), q.cursor, q.limit).await?;
    Ok(axum::Json(SalesOrderPage { items, next_cursor }))
}

/// Creates a sales order (a draft), with its lines.
#[utoipa::path(post, path = "/v1/sales-orders", tag = "orders", request_body = NewSalesOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created (permission sales_manage)", body = SalesOrder),
        (status = 400, description = "bad_request (qty, unit_price, notes, lines; a deactivated customer or warehouse)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 422, description = "invalid_body (also a decimal sent as a JSON number), idempotency_key_reused, reference_not_found (customer_id, warehouse_id, product_id)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_sales_order(
    State(state): State<AppState>,
    p: Require<perm::SalesManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<NewSalesOrder>,
) -> ApiResult<Response> {
    let hash = state.request_hash("/v1/sales-orders", &req);
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let order = sales::create(&mut tx, &p, &req).await?;
    let body = serde_json::to_value(&order).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &body)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Reads one sales order with its lines: what each reserved, picked and waits for.
#[utoipa::path(get, path = "/v1/sales-orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the order (permission orders_read)", body = SalesOrder),
        (status = 404, description = "not_found (also for other tenants' orders)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_sales_order(
    State(state): State<AppState>,
    p: Require<perm::OrdersRead>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<SalesOrder>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let order = document::fetch::<Sales>(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}

/// Changes an order's header: requested date, priority and notes until it is shipped or
/// cancelled, the customer and warehouse only while it is a draft.
#[utoipa::path(patch, path = "/v1/sales-orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    request_body = UpdateSalesOrder, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "updated (permission sales_manage)", body = SalesOrder),
        (status = 400, description = "bad_request (notes; a deactivated customer or warehouse)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "invalid_order_state (shipped or cancelled; customer or warehouse once confirmed)"),
        (status = 422, description = "invalid_body, reference_not_found (customer_id, warehouse_id)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_sales_order(
    State(state): State<AppState>,
    p: Require<perm::SalesManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateSalesOrder>,
) -> ApiResult<axum::Json<SalesOrder>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let order = sales::update(&mut tx, &p, id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}

/// Adds a line to an order not shipped or cancelled (on a confirmed order, it is
/// back-ordered until stock arrives or `POST .../allocate`).
#[utoipa::path(post, path = "/v1/sales-orders/{id}/lines", tag = "orders", params(("id" = Uuid, Path)),
    request_body = NewSalesLine, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the order with the new line (permission sales_manage)", body = SalesOrder),
        (status = 400, description = "bad_request (qty, unit_price, lines)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "invalid_order_state (shipped or cancelled)"),
        (status = 422, description = "invalid_body, reference_not_found (product_id)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn add_sales_line(
    State(state): State<AppState>,
    p: Require<perm::SalesManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<NewSalesLine>,
) -> ApiResult<axum::Json<SalesOrder>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let order = sales::add_line(&mut tx, &p, id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}

/// Changes a line's quantity (never below what was picked; below what it reserved, the
/// rest is released) or unit price.
#[utoipa::path(patch, path = "/v1/sales-orders/{id}/lines/{line_id}", tag = "orders",
    params(("id" = Uuid, Path), ("line_id" = Uuid, Path)),
    request_body = SalesLineChanges, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the order (permission sales_manage)", body = SalesOrder),
        (status = 400, description = "bad_request (qty, unit_price)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found (the order, or a line of another order)"),
        (status = 409, description = "invalid_order_state (below what was picked; shipped or cancelled)"),
        (status = 422, description = "invalid_body"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_sales_line(
    State(state): State<AppState>,
    p: Require<perm::SalesManage>,
    IdsPath(id, line_id): IdsPath,
    ApiJson(req): ApiJson<SalesLineChanges>,
) -> ApiResult<axum::Json<SalesOrder>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let order = sales::edit_line(&mut tx, &p, id, line_id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}

/// Deletes a line of a draft.
#[utoipa::path(delete, path = "/v1/sales-orders/{id}/lines/{line_id}", tag = "orders",
    params(("id" = Uuid, Path), ("line_id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the order without the line (permission sales_manage)", body = SalesOrder),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found (the order, or a line of another order)"),
        (status = 409, description = "invalid_order_state (the order is no longer a draft)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn delete_sales_line(
    State(state): State<AppState>,
    p: Require<perm::SalesManage>,
    IdsPath(id, line_id): IdsPath,
) -> ApiResult<axum::Json<SalesOrder>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let order = document::delete_line::<Sales>(&mut tx, &p, id, line_id).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}

async fn reserve(
    state: &AppState,
    p: &crate::access::Principal,
    id: Uuid,
    what: Reserve,
) -> ApiResult<axum::Json<SalesOrder>> {
    let mut tx = TenantTx::begin_cached_plans(state.tenant_pool(), p.tenant_id).await?;
    let order = sales::reserve(&mut tx, p, id, what).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}

/// Confirms a draft: its lines are allocated on the warehouse's stock by each product's
/// policy (FEFO or FIFO, then bin path); what is not available is back-ordered.
#[utoipa::path(post, path = "/v1/sales-orders/{id}/confirm", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "confirmed (permission sales_manage)", body = SalesOrder),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "invalid_order_state (not a draft, or no lines), conflict (lines or warehouse changed meanwhile: retry)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn confirm_sales_order(
    State(state): State<AppState>,
    p: Require<perm::SalesManage>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<SalesOrder>> {
    reserve(&state, &p, id, Reserve::Confirm).await
}

/// Allocates what is available now to a confirmed order's back-ordered lines.
#[utoipa::path(post, path = "/v1/sales-orders/{id}/allocate", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "allocated (permission sales_manage)", body = SalesOrder),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "invalid_order_state (a draft or cancelled order), conflict (lines changed meanwhile: retry)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn allocate_sales_order(
    State(state): State<AppState>,
    p: Require<perm::SalesManage>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<SalesOrder>> {
    reserve(&state, &p, id, Reserve::Allocate).await
}

/// Cancels an order not yet shipped: its reservations are released; what was picked
/// stays picked.
#[utoipa::path(post, path = "/v1/sales-orders/{id}/cancel", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "cancelled (permission sales_manage)", body = SalesOrder),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "invalid_order_state (shipped or cancelled), conflict (lines changed meanwhile: retry)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn cancel_sales_order(
    State(state): State<AppState>,
    p: Require<perm::SalesManage>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<SalesOrder>> {
    reserve(&state, &p, id, Reserve::Cancel).await
}

/// The order's reservations in walk order: where to pick what.
#[utoipa::path(get, path = "/v1/sales-orders/{id}/pick-list", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the pick list (permission orders_read)", body = PickList),
        (status = 404, description = "not_found"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn sales_order_pick_list(
    State(state): State<AppState>,
    p: Require<perm::OrdersRead>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<PickList>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let items = sales::pick_list(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(PickList { items }))
}

/// The pick list of a wave: the reservations of several sales orders in one walk, so a
/// picker visits each bin once for all of them. Reads only (nothing is reserved or
/// written): a POST because the orders are a list in the body.
#[utoipa::path(post, path = "/v1/sales-orders/pick-list", tag = "orders",
    request_body = WavePickListRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the wave's pick list (permission orders_read)", body = WavePickList),
        (status = 400, description = "bad_request (1 to 50 order_ids)"),
        (status = 422, description = "invalid_body, reference_not_found (an order id)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn wave_pick_list(
    State(state): State<AppState>,
    p: Require<perm::OrdersRead>,
    ApiJson(req): ApiJson<WavePickListRequest>,
) -> ApiResult<axum::Json<WavePickList>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let items = sales::wave_pick_list(&mut tx, &req.order_ids).await?;
    tx.commit().await?;
    Ok(axum::Json(WavePickList { items }))
}
