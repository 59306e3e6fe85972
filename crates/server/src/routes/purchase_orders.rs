//! `/v1/purchase-orders`: purchase orders and their lines (create, list, read, change the
//! header, add, change and delete lines, order, cancel, close). The services and rules
//! are `orders::purchase` and `logiflow_core::orders`; goods are received against a
//! line with a `receive` movement that names it (`reference`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use logiflow_core::TenantId;
use logiflow_core::orders::PurchaseAction;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Require;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, IdsPath, PageQuery, page};
use crate::orders::document::{self, ListFilter, OrderKind};
use crate::orders::purchase::{
    self, HeaderChanges, LineChanges, NewLine, NewPurchaseOrder, Purchase, PurchaseOrder,
    PurchaseOrderQuery,
};
use crate::rbac::perm;
use crate::routes::problems::{Authed, Reads};
use crate::routes::products::double_option;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_purchase_orders, create_purchase_order))
        .routes(routes!(get_purchase_order, update_purchase_order))
        .routes(routes!(order_purchase_order))
        .routes(routes!(cancel_purchase_order))
        .routes(routes!(close_purchase_order))
        .routes(routes!(add_purchase_line))
        .routes(routes!(update_purchase_line, delete_purchase_line))
}

/// A page of purchase orders.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurchaseOrderPage {
    pub items: Vec<PurchaseOrder>,
    /// Cursor of the next page, absent on the last.
    pub next_cursor: Option<String>,
}

/// Changes to an order's header; absent fields stay as they are.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
pub struct UpdatePurchaseOrder {
    /// Only while a draft.
    pub supplier_id: Option<Uuid>,
    /// Only while a draft.
    pub warehouse_id: Option<Uuid>,
    /// `null` clears it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub expected_on: Option<Option<NaiveDate>>,
    pub notes: Option<String>,
}

/// A page of orders of a kind with their lines, oldest first, at most 100: what the
/// list of purchase orders and the list of sales orders answer.
pub(crate) async fn list_page<K: OrderKind>(
    state: &AppState,
    tenant_id: TenantId,
    filter: ListFilter,
    cursor: Option<String>,
    limit: Option<u32>,
) -> ApiResult<(Vec<K::Order>, Option<String>)> {
    let pq = PageQuery { cursor, limit };
    let limit = pq.limit()?.min(100);
    let after = pq.after()?;
    let mut tx = state.tenant_tx(tenant_id).await?;
    let orders = document::list::<K>(&mut tx, &filter, after, limit + 1).await?;
    tx.commit().await?;
    Ok(page(orders, limit, |o| K::id_and_warehouse(o).0))
}

/// Lists purchase orders with their lines, oldest first.
#[utoipa::path(get, path = "/v1/purchase-orders", tag = "orders", params(PurchaseOrderQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of orders (permission orders_read)", body = PurchaseOrderPage),
        (status = 400, description = "bad_request (limit, cursor, status)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_purchase_orders(
    State(state): State<AppState>,
    p: Require<perm::OrdersRead>,
    ApiQuery(q): ApiQuery<PurchaseOrderQuery>,
) -> ApiResult<axum::Json<PurchaseOrderPage>> {
    let (items, next_cursor) =
        list_page::<Purchase>(&state, p.tenant_id, q.filter(), q.cursor, q.limit).await?;
    Ok(axum::Json(PurchaseOrderPage { items, next_cursor }))
}

/// Creates a purchase order (a draft), with its lines.
#[utoipa::path(post, path = "/v1/purchase-orders", tag = "orders", request_body = NewPurchaseOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created (permission purchasing_manage)", body = PurchaseOrder),
        (status = 400, description = "bad_request (qty, unit_cost, notes, lines; a deactivated supplier or warehouse)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 422, description = "invalid_body (also a decimal sent as a JSON number), idempotency_key_reused, reference_not_found (supplier_id, warehouse_id, product_id)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_purchase_order(
    State(state): State<AppState>,
    p: Require<perm::PurchasingManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<NewPurchaseOrder>,
) -> ApiResult<Response> {
    let hash = state.request_hash("/v1/purchase-orders", &req);
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let order = purchase::create(&mut tx, &p, &req).await?;
    let body = serde_json::to_value(&order).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &body)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Reads one purchase order with its lines and what each received.
#[utoipa::path(get, path = "/v1/purchase-orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the order (permission orders_read)", body = PurchaseOrder),
        (status = 404, description = "not_found (also for other tenants' orders)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_purchase_order(
    State(state): State<AppState>,
    p: Require<perm::OrdersRead>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<PurchaseOrder>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let order = document::fetch::<Purchase>(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}

/// Changes an order's header: the expected date and notes until it is closed or
/// cancelled, the supplier and warehouse only while it is a draft.
#[utoipa::path(patch, path = "/v1/purchase-orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    request_body = UpdatePurchaseOrder, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "updated (permission purchasing_manage)", body = PurchaseOrder),
        (status = 400, description = "bad_request (notes; a deactivated supplier or warehouse)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "invalid_order_state (closed or cancelled; supplier or warehouse once ordered)"),
        (status = 422, description = "invalid_body, reference_not_found (supplier_id, warehouse_id)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_purchase_order(
    State(state): State<AppState>,
    p: Require<perm::PurchasingManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdatePurchaseOrder>,
) -> ApiResult<axum::Json<PurchaseOrder>> {
    let changes = HeaderChanges {
        supplier_id: req.supplier_id,
        warehouse_id: req.warehouse_id,
        expected_on: req.expected_on,
        notes: req.notes,
    };
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let order = purchase::update(&mut tx, &p, id, &changes).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}

async fn act(
    state: &AppState,
    p: &crate::access::Principal,
    id: Uuid,
    action: PurchaseAction,
) -> ApiResult<axum::Json<PurchaseOrder>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let order = purchase::act(&mut tx, p, id, action).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}

/// Sends a draft to the supplier: goods are expected against it from now on, and
/// devices of its warehouse can receive against it.
#[utoipa::path(post, path = "/v1/purchase-orders/{id}/order", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "ordered (permission purchasing_manage)", body = PurchaseOrder),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "invalid_order_state (not a draft, or no lines)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn order_purchase_order(
    State(state): State<AppState>,
    p: Require<perm::PurchasingManage>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<PurchaseOrder>> {
    act(&state, &p, id, PurchaseAction::Order).await
}

/// Cancels an order against which nothing was received (close it otherwise).
#[utoipa::path(post, path = "/v1/purchase-orders/{id}/cancel", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "cancelled (permission purchasing_manage)", body = PurchaseOrder),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "invalid_order_state (goods received: close it; already closed or cancelled)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn cancel_purchase_order(
    State(state): State<AppState>,
    p: Require<perm::PurchasingManage>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<PurchaseOrder>> {
    act(&state, &p, id, PurchaseAction::Cancel).await
}

/// Closes an ordered or partly received order by hand: nothing more is expected.
#[utoipa::path(post, path = "/v1/purchase-orders/{id}/close", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "closed (permission purchasing_manage)", body = PurchaseOrder),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "invalid_order_state (a draft, received in full, closed or cancelled)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn close_purchase_order(
    State(state): State<AppState>,
    p: Require<perm::PurchasingManage>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<PurchaseOrder>> {
    act(&state, &p, id, PurchaseAction::Close).await
}

/// Adds a line to an order that is not yet received in full, closed or cancelled.
#[utoipa::path(post, path = "/v1/purchase-orders/{id}/lines", tag = "orders", params(("id" = Uuid, Path)),
    request_body = NewLine, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the order with the new line (permission purchasing_manage)", body = PurchaseOrder),
        (status = 400, description = "bad_request (qty, unit_cost, lines)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "invalid_order_state (received, closed or cancelled)"),
        (status = 422, description = "invalid_body, reference_not_found (product_id)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn add_purchase_line(
    State(state): State<AppState>,
    p: Require<perm::PurchasingManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<NewLine>,
) -> ApiResult<axum::Json<PurchaseOrder>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let order = purchase::add_line(&mut tx, &p, id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}

/// Changes a line's quantity (never below what it received) or unit cost.
#[utoipa::path(patch, path = "/v1/purchase-orders/{id}/lines/{line_id}", tag = "orders",
    params(("id" = Uuid, Path), ("line_id" = Uuid, Path)),
    request_body = LineChanges, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the order (permission purchasing_manage)", body = PurchaseOrder),
        (status = 400, description = "bad_request (qty, unit_cost)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found (the order, or a line of another order)"),
        (status = 409, description = "invalid_order_state (below what was received; received, closed or cancelled)"),
        (status = 422, description = "invalid_body"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_purchase_line(
    State(state): State<AppState>,
    p: Require<perm::PurchasingManage>,
    IdsPath(id, line_id): IdsPath,
    ApiJson(req): ApiJson<LineChanges>,
) -> ApiResult<axum::Json<PurchaseOrder>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let order = purchase::edit_line(&mut tx, &p, id, line_id, &req).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}

/// Deletes a line of a draft.
#[utoipa::path(delete, path = "/v1/purchase-orders/{id}/lines/{line_id}", tag = "orders",
    params(("id" = Uuid, Path), ("line_id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the order without the line (permission purchasing_manage)", body = PurchaseOrder),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found (the order, or a line of another order)"),
        (status = 409, description = "invalid_order_state (the order is no longer a draft)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn delete_purchase_line(
    State(state): State<AppState>,
    p: Require<perm::PurchasingManage>,
    IdsPath(id, line_id): IdsPath,
) -> ApiResult<axum::Json<PurchaseOrder>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let order = document::delete_line::<Purchase>(&mut tx, &p, id, line_id).await?;
    tx.commit().await?;
    Ok(axum::Json(order))
}
