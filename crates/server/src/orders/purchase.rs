//! Purchase orders: the row types, the field rules, and the services that change an
//! order with its audit entry and outbox event in one transaction.
//!
//! Which action or line edit a status allows, and the status the quantities put an
//! order in, are `logiflow_core::orders` rules; this module loads what they need (the
//! order locked `for update`, its lines with what each received), calls them and writes
//! what they allow. The stored `status` is what people decided (draft, ordered, closed,
//! cancelled); the status shown is `core::orders::purchase_status` of it and the
//! quantities. Receipts are movements (`POST /v1/movements` or a device's journal) that
//! name a line: see `store::purchase_orders::lock_for_receipts`.

use chrono::{DateTime, NaiveDate, Utc};
use logiflow_core::orders::{
    DocumentError, PurchaseAction, PurchaseLineQty, PurchaseStatus, purchase_action,
    purchase_header_edit, purchase_line_edit, purchase_status,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::access::Principal;
use crate::catalog::product::validate_money;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::orders::document::{ListFilter, fetch, fetch_for_update, order_kind, record};
use crate::orders::party::PartyKind;
use crate::store;
use crate::store::catalog_change::Entity;
use crate::users::refuse_forbidden_char;

/// Most lines on one order.
pub const LINES_MAX: usize = 500;

/// Longest notes.
pub const NOTES_LEN_MAX: usize = 2000;

/// The status of an order, as shown.
pub fn status_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(
            "draft, ordered, partially_received, received (read from the lines' quantities), \
             closed or cancelled",
        ))
        .enum_values(Some(
            [
                PurchaseStatus::Draft,
                PurchaseStatus::Ordered,
                PurchaseStatus::PartiallyReceived,
                PurchaseStatus::Received,
                PurchaseStatus::Closed,
                PurchaseStatus::Cancelled,
            ]
            .map(PurchaseStatus::as_str),
        ))
        .build()
}

/// A purchase order with its lines.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PurchaseOrder {
    pub id: Uuid,
    /// `PO-000123`: unique in the tenant, in creation order.
    pub number: String,
    pub supplier_id: Uuid,
    /// Where the goods are expected: receipts against it are booked to its bins.
    pub warehouse_id: Uuid,
    pub expected_on: Option<NaiveDate>,
    pub notes: String,
    #[schema(schema_with = status_schema)]
    pub status: PurchaseStatus,
    pub lines: Vec<PurchaseLine>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A line of a purchase order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PurchaseLine {
    pub id: Uuid,
    pub product_id: Uuid,
    /// Units ordered.
    pub qty: i64,
    /// Units received: the applied receipts that name this line.
    pub received: i64,
    /// Exact decimal as a string (`"12.5"`).
    #[schema(value_type = String, example = "12.5")]
    pub unit_cost: Decimal,
}

/// An order row as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: Uuid,
    pub number: String,
    pub supplier_id: Uuid,
    pub warehouse_id: Uuid,
    pub expected_on: Option<NaiveDate>,
    pub notes: String,
    /// What people decided: draft, ordered, closed or cancelled.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A line row as read, with what it received.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub product_id: Uuid,
    pub qty: i64,
    pub unit_cost: Decimal,
    pub received: i64,
}

/// The stored (decided) status of a name; an unknown one reads as draft, which the
/// migration's check constraint never lets in.
pub fn decided_status(stored: &str) -> PurchaseStatus {
    PurchaseStatus::parse(stored).unwrap_or(PurchaseStatus::Draft)
}

/// What is stored of a status: the quantities' part (partially received, received) is
/// read, not stored.
fn stored_status(status: PurchaseStatus) -> &'static str {
    match status {
        PurchaseStatus::Ordered | PurchaseStatus::PartiallyReceived | PurchaseStatus::Received => {
            "ordered"
        }
        other => other.as_str(),
    }
}

fn quantities(lines: &[LineRow]) -> Vec<PurchaseLineQty> {
    lines
        .iter()
        .map(|l| PurchaseLineQty {
            ordered: l.qty,
            received: l.received,
        })
        .collect()
}

/// An order as shown: its status read from what people decided and its quantities.
pub fn assemble(row: OrderRow, lines: Vec<LineRow>) -> PurchaseOrder {
    let status = purchase_status(decided_status(&row.status), &quantities(&lines));
    PurchaseOrder {
        id: row.id,
        number: row.number,
        supplier_id: row.supplier_id,
        warehouse_id: row.warehouse_id,
        expected_on: row.expected_on,
        notes: row.notes,
        status,
        lines: lines
            .into_iter()
            .map(|l| PurchaseLine {
                id: l.id,
                product_id: l.product_id,
                qty: l.qty,
                received: l.received,
                unit_cost: l.unit_cost,
            })
            .collect(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

order_kind! {
    /// Purchase orders, as an [`OrderKind`](super::document::OrderKind).
    Purchase {
        tables: "purchase_order", "purchase_line",
        columns: "supplier_id", "unit_cost", store::purchase_orders::ORDER_COLUMNS,
            store::purchase_orders::line_columns,
        open_status: "ordered",
        instead_of_delete: "reduce the line's quantity instead",
        entity: Entity::PurchaseOrder,
        types: OrderRow, LineRow => PurchaseOrder, assemble,
    }
}

/// Filters of the order list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PurchaseOrderQuery {
    pub warehouse_id: Option<Uuid>,
    pub supplier_id: Option<Uuid>,
    /// The status people decided: `draft`, `ordered` (which includes partially received
    /// and received orders not yet closed: the ones goods are expected against),
    /// `closed` or `cancelled`.
    #[param(inline)]
    pub status: Option<DecidedStatus>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u32>,
}

/// A status people decide, as a list filter (its names, serde's, are the document's
/// `enum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecidedStatus {
    Draft,
    Ordered,
    Closed,
    Cancelled,
}

impl PurchaseOrderQuery {
    /// The list's filters.
    pub fn filter(&self) -> ListFilter {
        ListFilter {
            warehouse_id: self.warehouse_id,
            party_id: self.supplier_id,
            status: self.status.map(DecidedStatus::as_str),
        }
    }
}

impl DecidedStatus {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DecidedStatus::Draft => "draft",
            DecidedStatus::Ordered => "ordered",
            DecidedStatus::Closed => "closed",
            DecidedStatus::Cancelled => "cancelled",
        }
    }
}

/// A line to order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewLine {
    pub product_id: Uuid,
    /// 1 to `QTY_MAX` units.
    pub qty: i64,
    /// Exact decimal as a string, 0 or more, at most 6 decimals (`"12.50"`).
    #[schema(value_type = String, example = "12.50")]
    pub unit_cost: Decimal,
}

/// A new purchase order (a draft).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewPurchaseOrder {
    pub supplier_id: Uuid,
    pub warehouse_id: Uuid,
    pub expected_on: Option<NaiveDate>,
    pub notes: Option<String>,
    /// 0 to 500 lines (a draft may start empty).
    #[serde(default)]
    pub lines: Vec<NewLine>,
}

/// Changes to an order's header; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct HeaderChanges {
    /// Only while a draft.
    pub supplier_id: Option<Uuid>,
    /// Only while a draft.
    pub warehouse_id: Option<Uuid>,
    /// `Some(None)` clears it.
    pub expected_on: Option<Option<NaiveDate>>,
    pub notes: Option<String>,
}

/// Changes to a line; absent fields stay as they are.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineChanges {
    /// Not below what was received (0 allowed once ordered, for a line no longer wanted).
    pub qty: Option<i64>,
    #[schema(value_type = Option<String>, example = "12.50")]
    pub unit_cost: Option<Decimal>,
}

pub(crate) fn document_error(e: DocumentError) -> ApiError {
    ApiError::InvalidOrderState(e.to_string())
}

fn qty(v: i64, min: i64) -> ApiResult<i64> {
    if !(min..=logiflow_core::QTY_MAX).contains(&v) {
        return Err(ApiError::BadRequest(format!(
            "qty must be between {min} and {}",
            logiflow_core::QTY_MAX
        )));
    }
    Ok(v)
}

fn unit_cost(v: Decimal) -> ApiResult<Decimal> {
    validate_money("unit_cost", Some(v))?.ok_or_else(|| ApiError::BadRequest("unit_cost".into()))
}

pub(crate) fn notes(v: &str) -> ApiResult<String> {
    if v.chars().count() > NOTES_LEN_MAX {
        return Err(ApiError::BadRequest(format!(
            "notes have at most {NOTES_LEN_MAX} characters"
        )));
    }
    refuse_forbidden_char("notes", v)?;
    Ok(v.trim().to_owned())
}

/// A supplier that exists and is active, or `reference_not_found`.
async fn check_supplier(tx: &mut TenantTx, id: Uuid) -> ApiResult<()> {
    match store::parties::get(tx, PartyKind::Supplier, id).await? {
        Some(s) if s.active => Ok(()),
        Some(_) => Err(ApiError::BadRequest("the supplier is deactivated".into())),
        None => Err(ApiError::ReferenceNotFound(
            "supplier_id names no supplier".into(),
        )),
    }
}

/// A warehouse that exists and is active, or `reference_not_found`.
pub(crate) async fn check_warehouse(tx: &mut TenantTx, id: Uuid) -> ApiResult<()> {
    match store::warehouses::get(tx, id).await? {
        Some(w) if w.active => Ok(()),
        Some(_) => Err(ApiError::BadRequest("the warehouse is deactivated".into())),
        None => Err(ApiError::ReferenceNotFound(
            "warehouse_id names no warehouse".into(),
        )),
    }
}

/// Checks lines: quantities, costs, products that exist.
pub(crate) async fn check_lines(
    tx: &mut TenantTx,
    lines: &[NewLine],
) -> ApiResult<Vec<(Uuid, i64, Decimal)>> {
    if lines.len() > LINES_MAX {
        return Err(ApiError::BadRequest(format!(
            "an order has at most {LINES_MAX} lines"
        )));
    }
    let mut valid = Vec::with_capacity(lines.len());
    for line in lines {
        valid.push((
            line.product_id,
            qty(line.qty, 1)?,
            unit_cost(line.unit_cost)?,
        ));
    }
    let mut products: Vec<Uuid> = valid.iter().map(|l| l.0).collect();
    products.sort();
    products.dedup();
    let known = store::products::existing(tx, &products).await?;
    if let Some(missing) = products.iter().find(|p| !known.contains(p)) {
        return Err(ApiError::ReferenceNotFound(format!(
            "product_id {missing} names no product"
        )));
    }
    Ok(valid)
}

/// Creates a draft with its lines: `PO-` and the tenant's next number.
pub async fn create(
    tx: &mut TenantTx,
    p: &Principal,
    new: &NewPurchaseOrder,
) -> ApiResult<PurchaseOrder> {
    let notes = notes(new.notes.as_deref().unwrap_or(""))?;
    check_supplier(tx, new.supplier_id).await?;
    check_warehouse(tx, new.warehouse_id).await?;
    let lines = check_lines(tx, &new.lines).await?;
    let number = store::orders::next_number(tx, "PO").await?;
    let row = store::purchase_orders::insert(
        tx,
        store::purchase_orders::NewOrder {
            number: format!("PO-{number:06}"),
            supplier_id: new.supplier_id,
            warehouse_id: new.warehouse_id,
            expected_on: new.expected_on,
            notes,
        },
    )
    .await?;
    store::orders::insert_lines::<Purchase>(tx, row.id, &lines).await?;
    let order = fetch::<Purchase>(tx, row.id).await?;
    record::<Purchase>(tx, p, "create", "created", None, &order).await?;
    Ok(order)
}

/// Changes the header (rule 7 of `core::orders::document`).
pub async fn update(
    tx: &mut TenantTx,
    p: &Principal,
    id: Uuid,
    changes: &HeaderChanges,
) -> ApiResult<PurchaseOrder> {
    let mut changes = changes.clone();
    changes.notes = changes.notes.as_deref().map(notes).transpose()?;
    let before = fetch_for_update::<Purchase>(tx, id).await?;
    let parties = changes.supplier_id.is_some_and(|s| s != before.supplier_id)
        || changes
            .warehouse_id
            .is_some_and(|w| w != before.warehouse_id);
    purchase_header_edit(before.status, parties).map_err(document_error)?;
    if let Some(supplier) = changes.supplier_id {
        check_supplier(tx, supplier).await?;
    }
    if let Some(warehouse) = changes.warehouse_id {
        check_warehouse(tx, warehouse).await?;
    }
    store::purchase_orders::update(tx, id, &changes).await?;
    let after = fetch::<Purchase>(tx, id).await?;
    record::<Purchase>(tx, p, "update", "updated", Some(&before), &after).await?;
    Ok(after)
}

/// Orders, cancels or closes an order (rule 1).
pub async fn act(
    tx: &mut TenantTx,
    p: &Principal,
    id: Uuid,
    action: PurchaseAction,
) -> ApiResult<PurchaseOrder> {
    let before = fetch_for_update::<Purchase>(tx, id).await?;
    let lines: Vec<PurchaseLineQty> = before
        .lines
        .iter()
        .map(|l| PurchaseLineQty {
            ordered: l.qty,
            received: l.received,
        })
        .collect();
    let status = purchase_action(before.status, action, &lines).map_err(document_error)?;
    store::orders::set_status::<Purchase>(tx, id, stored_status(status)).await?;
    let after = fetch::<Purchase>(tx, id).await?;
    let (verb, event) = match action {
        PurchaseAction::Order => ("order", "ordered"),
        PurchaseAction::Cancel => ("cancel", "cancelled"),
        PurchaseAction::Close => ("close", "closed"),
    };
    record::<Purchase>(tx, p, verb, event, Some(&before), &after).await?;
    Ok(after)
}

/// Adds a line (allowed until the order is received, closed or cancelled).
pub async fn add_line(
    tx: &mut TenantTx,
    p: &Principal,
    id: Uuid,
    line: &NewLine,
) -> ApiResult<PurchaseOrder> {
    let before = fetch_for_update::<Purchase>(tx, id).await?;
    let empty = PurchaseLineQty {
        ordered: 0,
        received: 0,
    };
    purchase_line_edit(before.status, empty, line.qty).map_err(document_error)?;
    if before.lines.len() >= LINES_MAX {
        return Err(ApiError::BadRequest(format!(
            "an order has at most {LINES_MAX} lines"
        )));
    }
    let valid = check_lines(tx, std::slice::from_ref(line)).await?;
    store::orders::insert_lines::<Purchase>(tx, id, &valid).await?;
    let after = fetch::<Purchase>(tx, id).await?;
    record::<Purchase>(tx, p, "line_add", "updated", Some(&before), &after).await?;
    Ok(after)
}

/// Changes a line's quantity (rule 3: never below what was received) or cost.
pub async fn edit_line(
    tx: &mut TenantTx,
    p: &Principal,
    id: Uuid,
    line_id: Uuid,
    changes: &LineChanges,
) -> ApiResult<PurchaseOrder> {
    let before = fetch_for_update::<Purchase>(tx, id).await?;
    let line = before
        .lines
        .iter()
        .find(|l| l.id == line_id)
        .ok_or(ApiError::NotFound)?;
    let new_qty = changes.qty.map(|q| qty(q, 0)).transpose()?;
    let cost = changes.unit_cost.map(unit_cost).transpose()?;
    let current = PurchaseLineQty {
        ordered: line.qty,
        received: line.received,
    };
    purchase_line_edit(before.status, current, new_qty.unwrap_or(line.qty))
        .map_err(document_error)?;
    if new_qty == Some(0) && before.status == PurchaseStatus::Draft {
        return Err(ApiError::BadRequest(
            "a draft's line is deleted, not set to 0".into(),
        ));
    }
    store::orders::update_line::<Purchase>(tx, id, line_id, new_qty, cost).await?;
    let after = fetch::<Purchase>(tx, id).await?;
    record::<Purchase>(tx, p, "line_update", "updated", Some(&before), &after).await?;
    Ok(after)
}
