//! `/v1/suppliers` and `/v1/customers`: whom the tenant buys from and sells to (create,
//! list, search, read, change, deactivate). One implementation for both kinds; each
//! kind has its own routes and permission (purchasing manages suppliers, sales
//! customers). Parties are never deleted: orders name them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::access::Principal;
use crate::audit_log::{self, Entry, snapshot};
use crate::auth::Require;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::orders::party::{NewParty, Party, PartyKind, PartyQuery, UpdateParty};
use crate::rbac::perm;
use crate::routes::problems::{Authed, Reads};
use crate::state::AppState;
use crate::store;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_suppliers, create_supplier))
        .routes(routes!(get_supplier, update_supplier))
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, update_customer))
}

/// A page of suppliers or customers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PartyPage {
    pub items: Vec<Party>,
    /// Cursor of the next page, absent on the last.
    pub next_cursor: Option<String>,
}

async fn list(
    state: &AppState,
    p: &Principal,
    kind: PartyKind,
    q: PartyQuery,
) -> ApiResult<PartyPage> {
    q.validate()?;
    let pq = PageQuery {
        cursor: q.cursor.clone(),
        limit: q.limit,
    };
    let limit = pq.limit()?;
    let after = pq.after()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::parties::list(&mut tx, kind, &q, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |party| party.id);
    Ok(PartyPage { items, next_cursor })
}

async fn create(
    state: &AppState,
    p: &Principal,
    kind: PartyKind,
    idem: IdempotencyKey,
    req: NewParty,
) -> ApiResult<Response> {
    let route = match kind {
        PartyKind::Supplier => "/v1/suppliers",
        PartyKind::Customer => "/v1/customers",
    };
    let hash = state.request_hash(route, &req);
    let valid = req.validate(kind)?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let party = store::parties::insert(&mut tx, valid).await?;
    audit_log::record(
        &mut tx,
        p,
        Entry {
            action: &format!("{}.create", kind.as_str()),
            target_type: kind.as_str(),
            target_id: Some(party.id.to_string()),
            before: None,
            after: snapshot(&party),
        },
    )
    .await?;
    let body = serde_json::to_value(&party).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &body)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn get(state: &AppState, p: &Principal, kind: PartyKind, id: Uuid) -> ApiResult<Party> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let party = store::parties::get(&mut tx, kind, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(party)
}

async fn update(
    state: &AppState,
    p: &Principal,
    kind: PartyKind,
    id: Uuid,
    req: UpdateParty,
) -> ApiResult<Party> {
    let changes = req.validate(kind)?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = store::parties::get_for_update(&mut tx, kind, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let after = store::parties::update(&mut tx, id, changes).await?;
    audit_log::record(
        &mut tx,
        p,
        Entry {
            action: &format!("{}.update", kind.as_str()),
            target_type: kind.as_str(),
            target_id: Some(id.to_string()),
            before: snapshot(&before),
            after: snapshot(&after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Lists suppliers, oldest first.
#[utoipa::path(get, path = "/v1/suppliers", tag = "orders", params(PartyQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of suppliers (permission orders_read)", body = PartyPage),
        (status = 400, description = "bad_request (limit, cursor, q)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_suppliers(
    State(state): State<AppState>,
    p: Require<perm::OrdersRead>,
    ApiQuery(q): ApiQuery<PartyQuery>,
) -> ApiResult<axum::Json<PartyPage>> {
    list(&state, &p, PartyKind::Supplier, q)
        .await
        .map(axum::Json)
}

/// Creates a supplier.
#[utoipa::path(post, path = "/v1/suppliers", tag = "orders", request_body = NewParty,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created (permission purchasing_manage)", body = Party),
        (status = 400, description = "bad_request (code, name, email, phone, address, lead_time_days; min_shelf_life_days is for customers)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 409, description = "conflict (code taken)"),
        (status = 422, description = "invalid_body, idempotency_key_reused"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_supplier(
    State(state): State<AppState>,
    p: Require<perm::PurchasingManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<NewParty>,
) -> ApiResult<Response> {
    create(&state, &p, PartyKind::Supplier, idem, req).await
}

/// Reads one supplier.
#[utoipa::path(get, path = "/v1/suppliers/{id}", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the supplier (permission orders_read)", body = Party),
        (status = 404, description = "not_found (also for other tenants' suppliers and for customers)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_supplier(
    State(state): State<AppState>,
    p: Require<perm::OrdersRead>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Party>> {
    get(&state, &p, PartyKind::Supplier, id)
        .await
        .map(axum::Json)
}

/// Changes a supplier; `active=false` deactivates it.
#[utoipa::path(patch, path = "/v1/suppliers/{id}", tag = "orders", params(("id" = Uuid, Path)),
    request_body = UpdateParty, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "updated (permission purchasing_manage)", body = Party),
        (status = 400, description = "bad_request (code, name, email, phone, address, lead_time_days; min_shelf_life_days is for customers)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict (code taken)"),
        (status = 422, description = "invalid_body"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_supplier(
    State(state): State<AppState>,
    p: Require<perm::PurchasingManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateParty>,
) -> ApiResult<axum::Json<Party>> {
    update(&state, &p, PartyKind::Supplier, id, req)
        .await
        .map(axum::Json)
}

/// Lists customers, oldest first.
#[utoipa::path(get, path = "/v1/customers", tag = "orders", params(PartyQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of customers (permission orders_read)", body = PartyPage),
        (status = 400, description = "bad_request (limit, cursor, q)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_customers(
    State(state): State<AppState>,
    p: Require<perm::OrdersRead>,
    ApiQuery(q): ApiQuery<PartyQuery>,
) -> ApiResult<axum::Json<PartyPage>> {
    list(&state, &p, PartyKind::Customer, q)
        .await
        .map(axum::Json)
}

/// Creates a customer.
#[utoipa::path(post, path = "/v1/customers", tag = "orders", request_body = NewParty,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created (permission sales_manage)", body = Party),
        (status = 400, description = "bad_request (code, name, email, phone, address, min_shelf_life_days; lead_time_days is for suppliers)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 409, description = "conflict (code taken)"),
        (status = 422, description = "invalid_body, idempotency_key_reused"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_customer(
    State(state): State<AppState>,
    p: Require<perm::SalesManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<NewParty>,
) -> ApiResult<Response> {
    create(&state, &p, PartyKind::Customer, idem, req).await
}

/// Reads one customer.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the customer (permission orders_read)", body = Party),
        (status = 404, description = "not_found (also for other tenants' customers and for suppliers)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_customer(
    State(state): State<AppState>,
    p: Require<perm::OrdersRead>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Party>> {
    get(&state, &p, PartyKind::Customer, id)
        .await
        .map(axum::Json)
}

/// Changes a customer; `active=false` deactivates it.
#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "orders", params(("id" = Uuid, Path)),
    request_body = UpdateParty, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "updated (permission sales_manage)", body = Party),
        (status = 400, description = "bad_request (code, name, email, phone, address, min_shelf_life_days; lead_time_days is for suppliers)"),
        (status = 403, description = "forbidden, subscription_expired"),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict (code taken)"),
        (status = 422, description = "invalid_body"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_customer(
    State(state): State<AppState>,
    p: Require<perm::SalesManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateParty>,
) -> ApiResult<axum::Json<Party>> {
    update(&state, &p, PartyKind::Customer, id, req)
        .await
        .map(axum::Json)
}
