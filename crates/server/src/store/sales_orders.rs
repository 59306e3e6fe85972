//! `sales_order`, `sales_line` and `allocation` rows: what only sales orders have (their
//! header, the stock rows an allocation may take (locked), the reservations a pick
//! consumes, back-orders, pick lists) and the columns the statements both kinds share
//! read (`store::orders`).
//!
//! A line's `picked` is read, never stored: the sum of the applied `ship` movements that
//! name it and are of its product. Its `allocated` is the sum of its allocation rows;
//! `stock_row.allocated` of a row is the sum of the allocations on it, kept so by every
//! writer changing both in one transaction.

use chrono::{DateTime, NaiveDate, Utc};
use logiflow_core::StockKey;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::db::TenantTx;
use crate::orders::sales::{Sales, SalesOrderRow};
use crate::store::movements::{lot_column, lot_from_column};

/// The columns of a `SalesOrderRow`, of `sales_order o`.
pub(crate) const ORDER_COLUMNS: &str =
    "o.id, o.number, o.customer_id, o.warehouse_id, o.requested_on,
    o.priority, o.notes, o.status, o.created_at, o.updated_at";

/// Each line's picked quantity: the applied picks that name it, of its product.
const PICKED_SQL: &str = "coalesce((
        select sum(m.qty) from movement m
        where m.tenant_id = l.tenant_id and m.reference_id = l.id
          and m.reference_type = 'sales_line' and m.kind = 'ship'
          and m.outcome = 'applied' and m.product_id = l.product_id), 0)::bigint";

/// Each line's reserved quantity.
const ALLOCATED_SQL: &str = "coalesce((
        select sum(a.qty) from allocation a
        where a.tenant_id = l.tenant_id and a.line_id = l.id), 0)::bigint";

/// The columns of a `SalesLineRow`, of `sales_line l`, with what each reserved and
/// picked.
pub(crate) fn line_columns() -> String {
    format!(
        "l.id, l.order_id, l.product_id, l.qty, {price}, {ALLOCATED_SQL} as allocated,
                {PICKED_SQL} as picked",
        price = crate::store::money_sql!("l", "unit_price"),
    )
}

/// Inserts an order (a draft) and its lines `(product, qty, unit price)`.
pub async fn insert(
    tx: &mut TenantTx,
    row: &SalesOrderRow,
    lines: &[(Uuid, i64, Decimal)],
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "insert into sales_order (tenant_id, id, number, customer_id, warehouse_id, requested_on,
             priority, notes, status)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 'draft')",
    )
    .bind(tenant_id)
    .bind(row.id)
    .bind(&row.number)
    .bind(row.customer_id)
    .bind(row.warehouse_id)
    .bind(row.requested_on)
    .bind(&row.priority)
    .bind(&row.notes)
    .execute(tx.conn())
    .await?;
    crate::store::orders::insert_lines::<Sales>(tx, row.id, lines).await?;
    Ok(())
}

/// What a change of an order's reservations locks, read before any lock: its
/// warehouse and its lines' products (distinct, sorted). `None`: no such order.
pub async fn lock_plan(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<Option<(Uuid, Vec<Uuid>)>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select o.warehouse_id,
                array(select distinct l.product_id from sales_line l
                      where l.tenant_id = o.tenant_id and l.order_id = o.id
                      order by 1) as products
         from sales_order o where o.tenant_id = $1 and o.id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// An order locked for a change of its reservations, with what the allocation rules
/// read of its customer and its warehouse.
#[derive(Debug, sqlx::FromRow)]
pub struct LockedOrder {
    #[sqlx(flatten)]
    pub row: SalesOrderRow,
    /// The customer's minimum remaining shelf life, active or not (a deactivated
    /// customer's confirmed orders are still served).
    pub min_shelf_life_days: Option<i32>,
    /// Today in the warehouse's time zone.
    pub today: NaiveDate,
}

/// One order locked `for update` (after the stock rows: the global lock order), with
/// its customer's shelf life and its warehouse's date, in one statement.
pub async fn lock_for_reserve(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<Option<LockedOrder>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {ORDER_COLUMNS}, c.min_shelf_life_days,
                (now() at time zone w.timezone)::date as today
         from sales_order o
         join warehouse w on w.tenant_id = o.tenant_id and w.id = o.warehouse_id
         left join party c on c.tenant_id = o.tenant_id and c.kind = 'customer'
                          and c.id = o.customer_id
         where o.tenant_id = $1 and o.id = $2
         for update of o"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// A stock row an allocation may take, locked, with what the allocation rules read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CandidateRow {
    pub product_id: Uuid,
    pub location_id: Uuid,
    pub lot_id: Uuid,
    pub on_hand: i64,
    pub allocated: i64,
    pub expires_on: Option<NaiveDate>,
    /// The row's first applied receipt.
    pub received_at: Option<DateTime<Utc>>,
    pub path: String,
    /// Its product's `expiry_policy` (`fefo`, `fifo`).
    pub expiry_policy: String,
}

impl CandidateRow {
    /// Its key.
    pub fn key(&self) -> StockKey {
        StockKey {
            product: logiflow_core::ProductId::from_uuid(self.product_id),
            location: logiflow_core::LocationId::from_uuid(self.location_id),
            lot: lot_from_column(self.lot_id),
        }
    }
}

/// Locks every stock row of `products` in `warehouse`, in key order (the order every
/// writer of stock rows locks them in), and reads what allocation needs of each.
pub async fn lock_candidates(
    tx: &mut TenantTx,
    warehouse: Uuid,
    products: &[Uuid],
) -> Result<Vec<CandidateRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    // One statement: the rows are locked in the sort's order (the lock is taken above
    // it), and a row changed meanwhile is read again as it is once locked. What the
    // rules read of its bin, lot and product are subqueries by key, so the plan (kept:
    // `TenantTx::begin_cached_plans`) never hashes a whole table; a bin deactivated
    // since has no path and is no candidate.
    let rows: Vec<LockedRow> = sqlx::query_as(
        "select s.product_id, s.location_id, s.lot_id, s.on_hand, s.allocated,
                (select lt.expires_on from lot lt
                 where lt.tenant_id = s.tenant_id and lt.id = s.lot_id) as expires_on,
                (select min(m.occurred_at) from movement_effect m
                 where m.tenant_id = s.tenant_id and m.product_id = s.product_id
                   and m.location_id = s.location_id and m.lot_id = s.lot_id
                   and m.delta > 0 and not m.absorbed) as received_at,
                (select l.path from location l
                 where l.tenant_id = s.tenant_id and l.id = s.location_id
                   and l.active) as path,
                (select p.expiry_policy from product p
                 where p.tenant_id = s.tenant_id and p.id = s.product_id) as expiry_policy
         from stock_row s
         where s.tenant_id = $1 and s.warehouse_id = $2 and s.product_id = any($3)
         order by s.product_id, s.location_id, s.lot_id
         for update",
    )
    .bind(tenant_id)
    .bind(warehouse)
    .bind(products)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(CandidateRow {
                product_id: r.product_id,
                location_id: r.location_id,
                lot_id: r.lot_id,
                on_hand: r.on_hand,
                allocated: r.allocated,
                expires_on: r.expires_on,
                received_at: r.received_at,
                path: r.path?,
                expiry_policy: r.expiry_policy,
            })
        })
        .collect())
}

/// A locked stock row as read, before the rows of inactive bins are left out.
#[derive(Debug, sqlx::FromRow)]
struct LockedRow {
    product_id: Uuid,
    location_id: Uuid,
    lot_id: Uuid,
    on_hand: i64,
    allocated: i64,
    expires_on: Option<NaiveDate>,
    received_at: Option<DateTime<Utc>>,
    path: Option<String>,
    expiry_policy: String,
}

/// One reservation as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AllocationRow {
    pub line_id: Uuid,
    pub product_id: Uuid,
    pub location_id: Uuid,
    pub lot_id: Uuid,
    pub qty: i64,
}

impl AllocationRow {
    /// The row it is on.
    pub fn key(&self) -> StockKey {
        StockKey {
            product: logiflow_core::ProductId::from_uuid(self.product_id),
            location: logiflow_core::LocationId::from_uuid(self.location_id),
            lot: lot_from_column(self.lot_id),
        }
    }
}

/// The reservations of some lines, by line then row.
pub async fn allocations_of(
    tx: &mut TenantTx,
    lines: &[Uuid],
) -> Result<Vec<AllocationRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select line_id, product_id, location_id, lot_id, qty from allocation
         where tenant_id = $1 and line_id = any($2)
         order by line_id, product_id, location_id, lot_id",
    )
    .bind(tenant_id)
    .bind(lines)
    .fetch_all(tx.conn())
    .await
}

/// Changes rows' `allocated` by the given amounts and sets the given lines'
/// reservations to exactly the given ones (a line listed without any loses all).
pub async fn write_allocations(
    tx: &mut TenantTx,
    rows: &[(StockKey, i64)],
    lines: &[Uuid],
    allocations: &[(Uuid, StockKey, i64)],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() && lines.is_empty() {
        return Ok(());
    }
    let tenant_id = tx.tenant_id().as_uuid();
    // First on its own: an insert in a sibling CTE would not see this delete. Not at
    // all when no line is listed (a confirmation: its lines held nothing).
    if !lines.is_empty() {
        sqlx::query("delete from allocation where tenant_id = $1 and line_id = any($2)")
            .bind(tenant_id)
            .bind(lines)
            .execute(tx.conn())
            .await?;
    }
    sqlx::query(
        "with rows as (
             update stock_row s set allocated = s.allocated + r.delta, updated_at = now()
             from unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[])
                  as r (product_id, location_id, lot_id, delta)
             where s.tenant_id = $1 and s.product_id = r.product_id
               and s.location_id = r.location_id and s.lot_id = r.lot_id
             returning 1
         )
         insert into allocation (tenant_id, line_id, product_id, location_id, lot_id, qty)
         select $1, a.line_id, a.product_id, a.location_id, a.lot_id, a.qty
         from unnest($6::uuid[], $7::uuid[], $8::uuid[], $9::uuid[], $10::bigint[])
              as a (line_id, product_id, location_id, lot_id, qty)
         where a.qty > 0",
    )
    .bind(tenant_id)
    .bind(
        rows.iter()
            .map(|r| r.0.product.as_uuid())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.0.location.as_uuid())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| lot_column(r.0.lot)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
    .bind(allocations.iter().map(|a| a.0).collect::<Vec<_>>())
    .bind(
        allocations
            .iter()
            .map(|a| a.1.product.as_uuid())
            .collect::<Vec<_>>(),
    )
    .bind(
        allocations
            .iter()
            .map(|a| a.1.location.as_uuid())
            .collect::<Vec<_>>(),
    )
    .bind(
        allocations
            .iter()
            .map(|a| lot_column(a.1.lot))
            .collect::<Vec<_>>(),
    )
    .bind(allocations.iter().map(|a| a.2).collect::<Vec<_>>())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A sales line as a pick's decision needs it, with its reservations.
#[derive(Debug, sqlx::FromRow)]
pub struct PickLine {
    pub id: Uuid,
    pub product_id: Uuid,
}

/// The sales lines that picks name, for their decision. Called after the stock rows are
/// locked; locks the lines' orders `for no key update` (every change of an order's
/// reservations takes it `for update` after the rows), so picks of one order and its
/// allocation or cancellation are decided one after the other.
pub async fn lock_for_picks(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<(Vec<PickLine>, Vec<AllocationRow>), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    crate::store::orders::lock_orders_of_lines::<Sales>(tx, ids).await?;
    let lines = sqlx::query_as(
        "select l.id, l.product_id from sales_line l where l.tenant_id = $1 and l.id = any($2)",
    )
    .bind(tenant_id)
    .bind(ids)
    .fetch_all(tx.conn())
    .await?;
    let allocations = allocations_of(tx, ids).await?;
    Ok((lines, allocations))
}

/// A line of a pick list: a reservation with where it is, and its order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PickRow {
    pub order_id: Uuid,
    pub order_number: String,
    pub line_id: Uuid,
    pub product_id: Uuid,
    pub sku: String,
    pub location_id: Uuid,
    pub location_path: String,
    pub lot_id: Option<Uuid>,
    pub lot_code: Option<String>,
    pub qty: i64,
}

/// Which of `ids` are sales orders of the tenant.
pub async fn existing(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar("select id from sales_order where tenant_id = $1 and id = any($2)")
        .bind(tenant_id)
        .bind(ids)
        .fetch_all(tx.conn())
        .await
}

/// The reservations of `orders` (one, or a wave), in walk order for the "C" collation,
/// then by order number and line (the lines' document order); the caller sorts them by
/// `core::orders::sort_walk`, the rule.
pub async fn pick_list(tx: &mut TenantTx, orders: &[Uuid]) -> Result<Vec<PickRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select o.id as order_id, o.number as order_number, a.line_id, a.product_id, p.sku,
                a.location_id, l.path as location_path,
                lt.id as lot_id, lt.code as lot_code, a.qty
         from allocation a
         join sales_line sl on sl.tenant_id = a.tenant_id and sl.id = a.line_id
         join sales_order o on o.tenant_id = sl.tenant_id and o.id = sl.order_id
         join product p on p.tenant_id = a.tenant_id and p.id = a.product_id
         join location l on l.tenant_id = a.tenant_id and l.id = a.location_id
         left join lot lt on lt.tenant_id = a.tenant_id and lt.id = a.lot_id
         where a.tenant_id = $1 and sl.order_id = any($2)
         order by l.path, p.sku, lt.code nulls first, o.number, a.line_id",
    )
    .bind(tenant_id)
    .bind(orders)
    .fetch_all(tx.conn())
    .await
}

/// A line of a confirmed order still waiting for stock (qty above what it reserved
/// and picked).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BackOrderRow {
    pub order_id: Uuid,
    pub line_id: Uuid,
    pub priority: String,
    pub requested_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

/// The back-ordered lines of `products` in confirmed orders.
pub async fn back_ordered(
    tx: &mut TenantTx,
    products: &[Uuid],
) -> Result<Vec<BackOrderRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select o.id as order_id, l.id as line_id, o.priority, o.requested_on, o.created_at
         from sales_line l
         join sales_order o on o.tenant_id = l.tenant_id and o.id = l.order_id
         where l.tenant_id = $1 and l.product_id = any($2) and o.status = 'confirmed'
           and l.qty > {ALLOCATED_SQL} + {PICKED_SQL}"
    ))
    .bind(tenant_id)
    .bind(products)
    .fetch_all(tx.conn())
    .await
}

/// Changes to a sales order's header, checked; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct HeaderUpdate {
    pub customer_id: Option<Uuid>,
    pub warehouse_id: Option<Uuid>,
    pub requested_on: Option<NaiveDate>,
    pub priority: Option<String>,
    pub notes: Option<String>,
}

/// Changes the header.
pub async fn update(tx: &mut TenantTx, id: Uuid, c: &HeaderUpdate) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "update sales_order set customer_id = coalesce($3, customer_id),
             warehouse_id = coalesce($4, warehouse_id), requested_on = coalesce($5, requested_on),
             priority = coalesce($6, priority), notes = coalesce($7, notes), updated_at = now()
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(c.customer_id)
    .bind(c.warehouse_id)
    .bind(c.requested_on)
    .bind(&c.priority)
    .bind(&c.notes)
    .execute(tx.conn())
    .await?;
    Ok(())
}
