//! `/v1/stock`: stock rows, totals per product and warehouse, and the low-stock list.

use axum::extract::State;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Require;
use crate::error::ApiResult;
use crate::extract::{ApiQuery, PageQuery, page_by};
use crate::rbac::perm;
use crate::routes::problems::Reads;
use crate::state::AppState;
use crate::stock::row::{LowStock, StockItem, StockTotal};
use crate::store;
use crate::store::movements::lot_column;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stock))
        .routes(routes!(stock_totals))
        .routes(routes!(low_stock))
}

/// A page of stock rows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StockPage {
    pub items: Vec<StockItem>,
    pub next_cursor: Option<String>,
}

/// Filters of the stock reads and the stock export (all optional, combined with AND),
/// read beside [`PageQuery`] from the same query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StockQuery {
    pub warehouse_id: Option<Uuid>,
    /// This location and its whole subtree (a zone, an aisle, a bin).
    pub location_id: Option<Uuid>,
    pub product_id: Option<Uuid>,
    pub lot_id: Option<Uuid>,
    /// Rows of lots whose expiry date is before this date.
    pub expiring_before: Option<NaiveDate>,
    /// Rows of products whose available stock in the warehouse is below the reorder
    /// point.
    #[serde(default)]
    pub below_reorder: bool,
    /// Also rows with nothing on hand or allocated (default false).
    #[serde(default)]
    pub include_empty: bool,
}

impl From<StockQuery> for store::stock::StockFilter {
    fn from(q: StockQuery) -> Self {
        Self {
            warehouse_id: q.warehouse_id,
            location_id: q.location_id,
            product_id: q.product_id,
            lot_id: q.lot_id,
            expiring_before: q.expiring_before,
            below_reorder: q.below_reorder,
            include_empty: q.include_empty,
        }
    }
}

/// Lists stock rows by (product, location, lot).
#[utoipa::path(get, path = "/v1/stock", tag = "stock", params(StockQuery, PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of stock rows (permission stock_read)", body = StockPage),
        (status = 400, description = "bad_request (filters, limit, cursor)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_stock(
    State(state): State<AppState>,
    p: Require<perm::StockRead>,
    ApiQuery(query): ApiQuery<StockQuery>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<StockPage>> {
    let filter = query.into();
    let limit = q.limit()?;
    let after: Option<(Uuid, Uuid, Uuid)> = q.after_key()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::stock::list_stock(&mut tx, &filter, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page_by(rows, limit, |s| {
        (
            s.product_id,
            s.location_id,
            lot_column(s.lot_id.map(logiflow_core::LotId::from_uuid)),
        )
    });
    Ok(axum::Json(StockPage { items, next_cursor }))
}

/// A page of totals.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StockTotalPage {
    pub items: Vec<StockTotal>,
    pub next_cursor: Option<String>,
}

/// How to group totals (read beside [`StockQuery`] from the same query string: serde's
/// `flatten` would turn the filters' booleans into strings).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupBy {
    /// `product_warehouse` (default): one total per product and warehouse; `product`:
    /// one per product over all warehouses.
    #[param(inline)]
    pub group_by: Option<Grouping>,
}

/// What totals are per (its serde names are the document's `enum`, and anything else is
/// refused as the query is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    ProductWarehouse,
    Product,
}

/// Totals per product and warehouse (or per product), over the rows matching the filters.
#[utoipa::path(get, path = "/v1/stock/totals", tag = "stock", params(GroupBy, StockQuery, PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of totals (permission stock_read)", body = StockTotalPage),
        (status = 400, description = "bad_request (group_by, filters, limit, cursor)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn stock_totals(
    State(state): State<AppState>,
    p: Require<perm::StockRead>,
    ApiQuery(group): ApiQuery<GroupBy>,
    ApiQuery(query): ApiQuery<StockQuery>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<StockTotalPage>> {
    let per_warehouse = group.group_by != Some(Grouping::Product);
    let filter = query.into();
    let limit = q.limit()?;
    let after: Option<(Uuid, Option<Uuid>)> = q.after_key()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::stock::totals(&mut tx, &filter, per_warehouse, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page_by(rows, limit, |t| (t.product_id, t.warehouse_id));
    Ok(axum::Json(StockTotalPage { items, next_cursor }))
}

/// A page of low-stock entries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LowStockPage {
    pub items: Vec<LowStock>,
    pub next_cursor: Option<String>,
}

/// The warehouse filter of the low-stock list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LowStockQuery {
    /// One warehouse (default: every active warehouse).
    pub warehouse_id: Option<Uuid>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Products below their reorder point, per warehouse (products with a reorder point
/// of 0 are never listed).
#[utoipa::path(get, path = "/v1/stock/low", tag = "stock", params(LowStockQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of low-stock entries by warehouse then product (permission stock_read)", body = LowStockPage),
        (status = 400, description = "bad_request (limit, cursor)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn low_stock(
    State(state): State<AppState>,
    p: Require<perm::StockRead>,
    ApiQuery(query): ApiQuery<LowStockQuery>,
) -> ApiResult<axum::Json<LowStockPage>> {
    let q = PageQuery {
        cursor: query.cursor.clone(),
        limit: query.limit,
    };
    let limit = q.limit()?;
    let after: Option<(Uuid, Uuid)> = q.after_key()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::stock::low_stock(&mut tx, query.warehouse_id, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page_by(rows, limit, |l| (l.warehouse_id, l.product_id));
    Ok(axum::Json(LowStockPage { items, next_cursor }))
}
