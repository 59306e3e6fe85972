//! Sales orders: the row types, the field rules, and the services that change an order
//! — create, confirm, allocate again, cancel — with its audit entry and outbox event in
//! one transaction.
//!
//! Reservations (allocations) are decided by `logiflow_core::orders::allocate` on the
//! stock rows of the order's products in its warehouse, which the service locks first,
//! in key order, and only then the order (`for update`): the global lock order is stock
//! rows, then purchase orders, then sales orders, the order movements take them in, so
//! an allocation never deadlocks with a movement and never reserves what a concurrent
//! one took. Picks are `ship` movements naming a line (`reference`), decided by the
//! engine, which consumes the line's reservations (`Engine::set_sales_line`).
//!
//! Back-orders are served when their product's stock rises ([`serve_back_orders`], after
//! the movement commits). Lines and the header change by the rules of
//! `core::orders::document` (rule 8, `sales_line_edit`); a line reduced below what it
//! reserved releases the rest (`core::orders::shrink`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use logiflow_core::StockKey;
use logiflow_core::orders::{
    Allocation, Candidate, ExpiryPolicy, Need, Priority, SalesAction, SalesLineQty, SalesStatus,
    allocate, release, sales_action, sales_status,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::access::Principal;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::orders::document::{ListFilter, fetch, fetch_for_update, order_kind, record};
use crate::orders::party::PartyKind;
use crate::orders::purchase::{NewLine, check_lines, check_warehouse, document_error, notes};
use crate::store;
use crate::store::catalog_change::Entity;

/// The status of an order, as shown.
pub fn status_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(
            "draft, confirmed, partially_allocated, allocated, partially_picked, shipped \
             (read from the lines' quantities) or cancelled",
        ))
        .enum_values(Some(
            [
                SalesStatus::Draft,
                SalesStatus::Confirmed,
                SalesStatus::PartiallyAllocated,
                SalesStatus::Allocated,
                SalesStatus::PartiallyPicked,
                SalesStatus::Shipped,
                SalesStatus::Cancelled,
            ]
            .map(SalesStatus::as_str),
        ))
        .build()
}

/// A sales order with its lines.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SalesOrder {
    pub id: Uuid,
    /// `SO-000123`: unique in the tenant, in creation order.
    pub number: String,
    pub customer_id: Uuid,
    /// Where the goods leave from: its stock is reserved.
    pub warehouse_id: Uuid,
    pub requested_on: NaiveDate,
    #[schema(value_type = String, example = "normal")]
    pub priority: Priority,
    pub notes: String,
    #[schema(schema_with = status_schema)]
    pub status: SalesStatus,
    pub lines: Vec<SalesLine>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A line of a sales order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SalesLine {
    pub id: Uuid,
    pub product_id: Uuid,
    /// Units ordered.
    pub qty: i64,
    /// Units reserved on stock rows now.
    pub allocated: i64,
    /// Units picked: the applied picks that name this line.
    pub picked: i64,
    /// Units neither reserved nor picked of a confirmed order (0 otherwise).
    pub back_ordered: i64,
    /// Exact decimal as a string (`"12.50"`).
    #[schema(value_type = String, example = "12.50")]
    pub unit_price: Decimal,
}

/// An order row as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SalesOrderRow {
    pub id: Uuid,
    pub number: String,
    pub customer_id: Uuid,
    pub warehouse_id: Uuid,
    pub requested_on: NaiveDate,
    pub priority: String,
    pub notes: String,
    /// What people decided: draft, confirmed or cancelled.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A line row as read, with what it reserved and picked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SalesLineRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub product_id: Uuid,
    pub qty: i64,
    pub unit_price: Decimal,
    pub allocated: i64,
    pub picked: i64,
}

/// The stored priority; an unknown name (the check constraint lets none in) reads as
/// normal.
fn priority_of(stored: &str) -> Priority {
    Priority::parse(stored).unwrap_or(Priority::Normal)
}

/// The stored (decided) status: draft, confirmed or cancelled.
fn decided_status(stored: &str) -> SalesStatus {
    SalesStatus::parse(stored).unwrap_or(SalesStatus::Draft)
}

fn quantities(lines: &[SalesLineRow]) -> Vec<SalesLineQty> {
    lines
        .iter()
        .map(|l| SalesLineQty {
            ordered: l.qty,
            allocated: l.allocated,
            picked: l.picked,
        })
        .collect()
}

/// An order as shown: its status read from what people decided and its quantities.
pub fn assemble(row: SalesOrderRow, lines: Vec<SalesLineRow>) -> SalesOrder {
    let decided = decided_status(&row.status);
    let status = sales_status(decided, &quantities(&lines));
    let waiting = decided == SalesStatus::Confirmed;
    SalesOrder {
        id: row.id,
        number: row.number,
        customer_id: row.customer_id,
        warehouse_id: row.warehouse_id,
        requested_on: row.requested_on,
        priority: priority_of(&row.priority),
        notes: row.notes,
        status,
        lines: lines
            .into_iter()
            .map(|l| SalesLine {
                id: l.id,
                product_id: l.product_id,
                qty: l.qty,
                allocated: l.allocated,
                picked: l.picked,
                back_ordered: if waiting {
                    (l.qty - l.allocated - l.picked).max(0)
                } else {
                    0
                },
                unit_price: l.unit_price,
            })
            .collect(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

order_kind! {
    /// Sales orders, as an [`OrderKind`](super::document::OrderKind).
    Sales {
        tables: "sales_order", "sales_line",
        columns: "customer_id", "unit_price", store::sales_orders::ORDER_COLUMNS,
            store::sales_orders::line_columns,
        open_status: "confirmed",
        instead_of_delete: "set the line's quantity instead",
        entity: Entity::SalesOrder,
        types: SalesOrderRow, SalesLineRow => SalesOrder, assemble,
    }
}

/// Filters of the order list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SalesOrderQuery {
    pub warehouse_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    /// The status people decided: `draft`, `confirmed` (with whatever was reserved or
    /// picked since) or `cancelled`.
    #[param(inline)]
    pub status: Option<DecidedSalesStatus>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u32>,
}

/// A status people decide, as a list filter (its names, serde's, are the document's
/// `enum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecidedSalesStatus {
    Draft,
    Confirmed,
    Cancelled,
}

impl SalesOrderQuery {
    /// The list's filters.
    pub fn filter(&self) -> ListFilter {
        ListFilter {
            warehouse_id: self.warehouse_id,
            party_id: self.customer_id,
            status: self.status.map(DecidedSalesStatus::as_str),
        }
    }
}

impl DecidedSalesStatus {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A line to sell.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewSalesLine {
    pub product_id: Uuid,
    /// 1 to `QTY_MAX` units.
    pub qty: i64,
    /// Exact decimal as a string, 0 or more, at most 6 decimals (`"12.50"`).
    #[schema(value_type = String, example = "12.50")]
    pub unit_price: Decimal,
}

/// A new sales order (a draft).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewSalesOrder {
    pub customer_id: Uuid,
    pub warehouse_id: Uuid,
    pub requested_on: NaiveDate,
    /// `low`, `normal` (default), `high` or `urgent`: back-orders are served in this
    /// order, then by requested date.
    #[schema(value_type = Option<String>, example = "normal")]
    pub priority: Option<Priority>,
    pub notes: Option<String>,
    /// 0 to 500 lines (a draft may start empty; it is confirmed only with lines).
    #[serde(default)]
    pub lines: Vec<NewSalesLine>,
}

/// A reservation on a pick list, in walk order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PickListLine {
    pub line_id: Uuid,
    pub product_id: Uuid,
    pub sku: String,
    pub location_id: Uuid,
    /// The bin's path (`A/01/03`): the list is sorted by it, a short walk.
    pub location_path: String,
    pub lot_id: Option<Uuid>,
    pub lot_code: Option<String>,
    /// Units to pick there.
    pub qty: i64,
}

/// A customer that exists and is active, or `reference_not_found`; with its minimum
/// remaining shelf life.
async fn check_customer(tx: &mut TenantTx, id: Uuid) -> ApiResult<Option<i32>> {
    match store::parties::get(tx, PartyKind::Customer, id).await? {
        Some(c) if c.active => Ok(c.min_shelf_life_days),
        Some(_) => Err(ApiError::BadRequest("the customer is deactivated".into())),
        None => Err(ApiError::ReferenceNotFound(
            "customer_id names no customer".into(),
        )),
    }
}

/// Creates a draft with its lines: `SO-` and the tenant's next number.
pub async fn create(
    tx: &mut TenantTx,
    p: &Principal,
    new: &NewSalesOrder,
) -> ApiResult<SalesOrder> {
    let notes = notes(new.notes.as_deref().unwrap_or(""))?;
    check_customer(tx, new.customer_id).await?;
    check_warehouse(tx, new.warehouse_id).await?;
    let as_lines: Vec<NewLine> = new
        .lines
        .iter()
        .map(|l| NewLine {
            product_id: l.product_id,
            qty: l.qty,
            unit_cost: l.unit_price,
        })
        .collect();
    let lines = check_lines(tx, &as_lines).await?;
    let number = store::orders::next_number(tx, "SO").await?;
    let row = SalesOrderRow {
        id: Uuid::now_v7(),
        number: format!("SO-{number:06}"),
        customer_id: new.customer_id,
        warehouse_id: new.warehouse_id,
        requested_on: new.requested_on,
        priority: new.priority.unwrap_or(Priority::Normal).as_str().to_owned(),
        notes,
        status: "draft".into(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    };
    store::sales_orders::insert(tx, &row, &lines).await?;
    let order = fetch::<Sales>(tx, row.id).await?;
    record::<Sales>(tx, p, "create", "created", None, &order).await?;
    Ok(order)
}

/// What a person asks of a sales order's reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// Draft → confirmed, reserving what is available.
    Confirm,
    /// Reserve what is available now for the lines still back-ordered.
    Allocate,
    /// Cancel, releasing every reservation (picks stay picked).
    Cancel,
}

/// Confirms, allocates again or cancels an order: locks the stock rows of its products
/// in its warehouse (key order), then the order, then decides with the core rules and
/// writes the reservations and the rows' `allocated` together.
///
/// Longer than 80 lines: the locks, core's decision and the writes of a confirmation,
/// a new allocation and a cancellation are one transaction in the lock order every
/// writer keeps (rows, then orders); split, that order would no longer read in one place.
pub async fn reserve(
    tx: &mut TenantTx,
    p: &Principal,
    id: Uuid,
    what: Reserve,
) -> ApiResult<SalesOrder> {
    // What to lock, read before any lock; the lines of a confirmed order do not change
    // in this version, and a draft's products and warehouse are checked again under the
    // lock.
    let (warehouse_id, products) = store::sales_orders::lock_plan(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    crate::hooks::reached(tx.tenant_id(), crate::hooks::RESERVE_LOCKING).await;
    let candidates = store::sales_orders::lock_candidates(tx, warehouse_id, &products).await?;
    let locked = store::sales_orders::lock_for_reserve(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let row = locked.row;
    let mut by_order = store::orders::lines_of::<Sales>(tx, &[id]).await?;
    let lines = by_order.remove(&id).unwrap_or_default();
    if row.warehouse_id != warehouse_id
        || lines
            .iter()
            .any(|l| products.binary_search(&l.product_id).is_err())
    {
        return Err(ApiError::Conflict(
            "the order's lines or warehouse changed meanwhile: try again".into(),
        ));
    }
    let before = assemble(row.clone(), lines.clone());
    let decided = decided_status(&row.status);
    // A draft holds none (nor does an order whose lines hold none): no read for those.
    let reserved: Vec<Uuid> = lines
        .iter()
        .filter(|l| l.allocated > 0)
        .map(|l| l.id)
        .collect();
    let current = if reserved.is_empty() {
        Vec::new()
    } else {
        store::sales_orders::allocations_of(tx, &reserved).await?
    };
    let mut kept: BTreeMap<Uuid, Vec<Allocation>> = BTreeMap::new();
    for a in &current {
        kept.entry(a.line_id).or_default().push(Allocation {
            key: a.key(),
            qty: a.qty,
        });
    }
    let mut deltas: BTreeMap<StockKey, i64> = BTreeMap::new();
    let (status, verb, event) = match what {
        Reserve::Cancel => {
            let status = sales_action(before.status, SalesAction::Cancel, &quantities(&lines))
                .map_err(document_error)?;
            for allocations in kept.values() {
                for (key, d) in release(allocations) {
                    *deltas.entry(key).or_default() += d;
                }
            }
            kept.clear();
            (status, "cancel", "cancelled")
        }
        Reserve::Confirm | Reserve::Allocate => {
            let status = match what {
                Reserve::Confirm => {
                    sales_action(decided, SalesAction::Confirm, &quantities(&lines))
                        .map_err(document_error)?
                }
                _ if decided == SalesStatus::Confirmed => SalesStatus::Confirmed,
                _ => {
                    return Err(ApiError::InvalidOrderState(format!(
                        "only a confirmed order is allocated; this one is {}",
                        decided.as_str()
                    )));
                }
            };
            let mut available: HashMap<StockKey, Candidate> = candidates
                .iter()
                .map(|c| {
                    (
                        c.key(),
                        Candidate {
                            key: c.key(),
                            available: c.on_hand - c.allocated,
                            expires_on: c.expires_on,
                            received_at: c.received_at,
                            location_path: c.path.clone(),
                        },
                    )
                })
                .collect();
            for line in &lines {
                let need = line.qty - line.allocated - line.picked;
                if need <= 0 {
                    continue;
                }
                let policy = candidates
                    .iter()
                    .find(|c| c.product_id == line.product_id)
                    .and_then(|c| ExpiryPolicy::parse(&c.expiry_policy))
                    .unwrap_or(ExpiryPolicy::Fifo);
                let of_product: Vec<Candidate> = available
                    .values()
                    .filter(|c| c.key.product.as_uuid() == line.product_id)
                    .cloned()
                    .collect();
                let got = allocate(
                    &Need {
                        qty: need,
                        policy,
                        today: locked.today,
                        min_shelf_life_days: locked
                            .min_shelf_life_days
                            .and_then(|d| u32::try_from(d).ok()),
                    },
                    &of_product,
                );
                let entry = kept.entry(line.id).or_default();
                for a in got.allocations {
                    if let Some(c) = available.get_mut(&a.key) {
                        c.available -= a.qty;
                    }
                    *deltas.entry(a.key).or_default() += a.qty;
                    match entry.iter_mut().find(|e| e.key == a.key) {
                        Some(e) => e.qty += a.qty,
                        None => entry.push(a),
                    }
                }
            }
            let verb = if what == Reserve::Confirm {
                "confirm"
            } else {
                "allocate"
            };
            let event = if what == Reserve::Confirm {
                "confirmed"
            } else {
                "allocated"
            };
            (status, verb, event)
        }
    };
    let rows: Vec<(StockKey, i64)> = deltas.into_iter().filter(|(_, d)| *d != 0).collect();
    if what == Reserve::Allocate && rows.is_empty() {
        // Nothing more available: nothing to write, audit or announce.
        return Ok(before);
    }
    let allocations: Vec<(Uuid, StockKey, i64)> = kept
        .iter()
        .flat_map(|(line, list)| list.iter().map(move |a| (*line, a.key, a.qty)))
        .collect();
    // Only the lines that had reservations lose theirs first (none, on a confirmation).
    let mut reserved_lines: Vec<Uuid> = current.iter().map(|a| a.line_id).collect();
    reserved_lines.dedup();
    store::sales_orders::write_allocations(tx, &rows, &reserved_lines, &allocations).await?;
    let stored = match status {
        SalesStatus::Cancelled => "cancelled",
        SalesStatus::Draft => "draft",
        _ => "confirmed",
    };
    let row = store::orders::set_status::<Sales>(tx, id, stored).await?;
    // What a read would answer now: the lines as read under the lock, with what each
    // keeps reserved (tested equal to a read in `tests/api/sales_orders.rs`).
    let lines = lines
        .into_iter()
        .map(|l| SalesLineRow {
            allocated: kept.get(&l.id).map_or(0, |a| a.iter().map(|a| a.qty).sum()),
            ..l
        })
        .collect();
    let after = assemble(row, lines);
    record::<Sales>(tx, p, verb, event, Some(&before), &after).await?;
    Ok(after)
}

/// The reservations of `orders` in one walk (`core::orders::sort_walk`, the order the
/// desktop's pick walk follows too): by bin path, SKU, lot, then order number. Lines of
/// one order, product, bin and lot keep the query's order, by line id: the lines'
/// document order, the key's last field.
async fn walk(tx: &mut TenantTx, orders: &[Uuid]) -> ApiResult<Vec<store::sales_orders::PickRow>> {
    let mut rows = store::sales_orders::pick_list(tx, orders).await?;
    logiflow_core::orders::sort_walk(&mut rows, |r| logiflow_core::orders::WalkKey {
        path: &r.location_path,
        sku: &r.sku,
        lot: r.lot_code.as_deref(),
        order: &r.order_number,
        position: 0,
    });
    Ok(rows)
}

fn pick_line(r: store::sales_orders::PickRow) -> PickListLine {
    PickListLine {
        line_id: r.line_id,
        product_id: r.product_id,
        sku: r.sku,
        location_id: r.location_id,
        location_path: r.location_path,
        lot_id: r.lot_id,
        lot_code: r.lot_code,
        qty: r.qty,
    }
}

/// The order's reservations in walk order ([`walk`]).
pub async fn pick_list(tx: &mut TenantTx, id: Uuid) -> ApiResult<Vec<PickListLine>> {
    fetch::<Sales>(tx, id).await?;
    Ok(walk(tx, &[id]).await?.into_iter().map(pick_line).collect())
}

/// A stop of a wave's pick list: a reservation, and the order it is for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WaveStop {
    pub order_id: Uuid,
    /// The order's number (`SO-000123`), for the label on the tote.
    pub order_number: String,
    #[serde(flatten)]
    pub pick: PickListLine,
}

/// The reservations of a wave of 1 to `WAVE_ORDERS_MAX` sales orders (`ids`, repeats
/// ignored) in one walk ([`walk`]): every stop of a bin before the next bin, whichever
/// order it is for. An id that names no order of the tenant (another tenant's included)
/// refuses the whole wave, `reference_not_found`.
pub async fn wave_pick_list(tx: &mut TenantTx, ids: &[Uuid]) -> ApiResult<Vec<WaveStop>> {
    let max = logiflow_core::orders::WAVE_ORDERS_MAX;
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.is_empty() || ids.len() > max {
        return Err(ApiError::BadRequest(format!(
            "order_ids lists 1 to {max} sales orders"
        )));
    }
    let found = store::sales_orders::existing(tx, &ids).await?;
    if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
        return Err(ApiError::ReferenceNotFound(format!(
            "sales order {missing} not found"
        )));
    }
    Ok(walk(tx, &ids)
        .await?
        .into_iter()
        .map(|r| WaveStop {
            order_id: r.order_id,
            order_number: r.order_number.clone(),
            pick: pick_line(r),
        })
        .collect())
}

/// Serves the back-orders of `products` once their stock rose (a receipt, a transfer in,
/// a count or adjustment up): every confirmed order with a line of those products still
/// waiting is allocated again, in the order `core::orders::back_order_sequence` gives
/// (priority, requested date, age), each order in its own transaction with the locks of
/// [`reserve`]. Called after the movement committed: should it fail or the process stop,
/// the back-orders wait for the next rise or `POST .../allocate`. Returns the orders
/// served. One indexed query when nothing waits.
pub async fn serve_back_orders(
    pool: &sqlx::PgPool,
    p: &Principal,
    products: &[Uuid],
) -> ApiResult<usize> {
    if products.is_empty() {
        return Ok(0);
    }
    let mut tx = TenantTx::begin(pool, p.tenant_id).await?;
    let waiting = store::sales_orders::back_ordered(&mut tx, products).await?;
    tx.commit().await?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let mut sequence: Vec<logiflow_core::orders::BackOrder<(Uuid, Uuid)>> = waiting
        .iter()
        .map(|w| logiflow_core::orders::BackOrder {
            line: (w.order_id, w.line_id),
            priority: priority_of(&w.priority),
            requested_on: w.requested_on,
            created_at: w.created_at,
        })
        .collect();
    logiflow_core::orders::back_order_sequence(&mut sequence);
    let mut served: Vec<Uuid> = Vec::new();
    for b in &sequence {
        let order = b.line.0;
        if served.contains(&order) {
            continue;
        }
        served.push(order);
        let mut tx = TenantTx::begin_cached_plans(pool, p.tenant_id).await?;
        match reserve(&mut tx, p, order, Reserve::Allocate).await {
            Ok(_) => tx.commit().await?,
            // Cancelled or changed meanwhile: nothing to serve there.
            Err(ApiError::InvalidOrderState(_) | ApiError::Conflict(_) | ApiError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(served.len())
}

/// Changes to a sales order's header; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
pub struct UpdateSalesOrder {
    /// Only while a draft.
    pub customer_id: Option<Uuid>,
    /// Only while a draft.
    pub warehouse_id: Option<Uuid>,
    pub requested_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, example = "high")]
    pub priority: Option<Priority>,
    pub notes: Option<String>,
}

/// Changes to a sales line; absent fields stay as they are.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
pub struct SalesLineChanges {
    /// Not below what was picked; below what is reserved releases the rest.
    pub qty: Option<i64>,
    #[schema(value_type = Option<String>, example = "12.50")]
    pub unit_price: Option<Decimal>,
}

/// Changes the header (rule 8 of `core::orders::document`).
pub async fn update(
    tx: &mut TenantTx,
    p: &Principal,
    id: Uuid,
    changes: &UpdateSalesOrder,
) -> ApiResult<SalesOrder> {
    let notes = changes.notes.as_deref().map(notes).transpose()?;
    let before = fetch_for_update::<Sales>(tx, id).await?;
    let parties = changes.customer_id.is_some_and(|c| c != before.customer_id)
        || changes
            .warehouse_id
            .is_some_and(|w| w != before.warehouse_id);
    logiflow_core::orders::sales_header_edit(before.status, parties).map_err(document_error)?;
    if let Some(customer) = changes.customer_id {
        check_customer(tx, customer).await?;
    }
    if let Some(warehouse) = changes.warehouse_id {
        check_warehouse(tx, warehouse).await?;
    }
    let update = store::sales_orders::HeaderUpdate {
        customer_id: changes.customer_id,
        warehouse_id: changes.warehouse_id,
        requested_on: changes.requested_on,
        priority: changes.priority.map(|p| p.as_str().to_owned()),
        notes,
    };
    store::sales_orders::update(tx, id, &update).await?;
    let after = fetch::<Sales>(tx, id).await?;
    record::<Sales>(tx, p, "update", "updated", Some(&before), &after).await?;
    Ok(after)
}

/// Adds a line to an order not shipped or cancelled; on a confirmed order it waits as a
/// back-order until stock rises or `POST .../allocate`.
pub async fn add_line(
    tx: &mut TenantTx,
    p: &Principal,
    id: Uuid,
    line: &NewSalesLine,
) -> ApiResult<SalesOrder> {
    let before = fetch_for_update::<Sales>(tx, id).await?;
    let empty = SalesLineQty {
        ordered: 0,
        allocated: 0,
        picked: 0,
    };
    logiflow_core::orders::sales_line_edit(before.status, empty, line.qty)
        .map_err(document_error)?;
    if before.lines.len() >= crate::orders::purchase::LINES_MAX {
        return Err(ApiError::BadRequest(format!(
            "an order has at most {} lines",
            crate::orders::purchase::LINES_MAX
        )));
    }
    let as_line = NewLine {
        product_id: line.product_id,
        qty: line.qty,
        unit_cost: line.unit_price,
    };
    let valid = check_lines(tx, std::slice::from_ref(&as_line)).await?;
    store::orders::insert_lines::<Sales>(tx, id, &valid).await?;
    let after = fetch::<Sales>(tx, id).await?;
    record::<Sales>(tx, p, "line_add", "updated", Some(&before), &after).await?;
    Ok(after)
}

/// Changes a line's quantity (never below what was picked; below what it reserved, the
/// rest is released by `core::orders::shrink`) or price. Locks the rows of the line's
/// product in the order's warehouse first, then the order, like [`reserve`].
pub async fn edit_line(
    tx: &mut TenantTx,
    p: &Principal,
    id: Uuid,
    line_id: Uuid,
    changes: &SalesLineChanges,
) -> ApiResult<SalesOrder> {
    let new_qty = changes
        .qty
        .map(|q| {
            if (0..=logiflow_core::QTY_MAX).contains(&q) {
                Ok(q)
            } else {
                Err(ApiError::BadRequest(format!(
                    "qty must be between 0 and {}",
                    logiflow_core::QTY_MAX
                )))
            }
        })
        .transpose()?;
    let price = changes
        .unit_price
        .map(|v| {
            crate::catalog::product::validate_money("unit_price", Some(v))?
                .ok_or_else(|| ApiError::BadRequest("unit_price".into()))
        })
        .transpose()?;
    let first = fetch::<Sales>(tx, id).await?;
    let product = first
        .lines
        .iter()
        .find(|l| l.id == line_id)
        .ok_or(ApiError::NotFound)?
        .product_id;
    store::sales_orders::lock_candidates(tx, first.warehouse_id, &[product]).await?;
    let before = fetch_for_update::<Sales>(tx, id).await?;
    let line = before
        .lines
        .iter()
        .find(|l| l.id == line_id)
        .ok_or(ApiError::NotFound)?;
    let qty_now = SalesLineQty {
        ordered: line.qty,
        allocated: line.allocated,
        picked: line.picked,
    };
    let target = new_qty.unwrap_or(line.qty);
    logiflow_core::orders::sales_line_edit(before.status, qty_now, target)
        .map_err(document_error)?;
    if target == 0 && before.status == SalesStatus::Draft {
        return Err(ApiError::BadRequest(
            "a draft's line is deleted, not set to 0".into(),
        ));
    }
    let current: Vec<Allocation> = store::sales_orders::allocations_of(tx, &[line_id])
        .await?
        .iter()
        .map(|a| Allocation {
            key: a.key(),
            qty: a.qty,
        })
        .collect();
    let (kept, released) = logiflow_core::orders::shrink(&current, (target - line.picked).max(0));
    if !released.is_empty() {
        let kept: Vec<(Uuid, StockKey, i64)> =
            kept.iter().map(|a| (line_id, a.key, a.qty)).collect();
        store::sales_orders::write_allocations(tx, &released, &[line_id], &kept).await?;
    }
    store::orders::update_line::<Sales>(tx, id, line_id, new_qty, price).await?;
    let after = fetch::<Sales>(tx, id).await?;
    record::<Sales>(tx, p, "line_update", "updated", Some(&before), &after).await?;
    Ok(after)
}
