//! `purchase_order` and `purchase_line` rows: what only purchase orders have (their
//! header, the purchase lines a receipt names, locked for its decision) and the columns
//! the statements both kinds share read (`store::orders`).
//!
//! A line's `received` is read, never stored: the sum of the applied `receive`
//! movements that name it and are of its product (see the orders migration).

use chrono::NaiveDate;
use uuid::Uuid;

use crate::db::TenantTx;
use crate::orders::purchase::{OrderRow, Purchase};

/// The columns of an `OrderRow`, of `purchase_order o`.
pub(crate) const ORDER_COLUMNS: &str = "o.id, o.number, o.supplier_id, o.warehouse_id,
    o.expected_on, o.notes, o.status, o.created_at, o.updated_at";

/// Each line's received quantity: the applied receipts that name it, of its product.
const RECEIVED_SQL: &str = "coalesce((
        select sum(m.qty) from movement m
        where m.tenant_id = l.tenant_id and m.reference_id = l.id
          and m.reference_type = 'purchase_line' and m.kind = 'receive'
          and m.outcome = 'applied' and m.product_id = l.product_id), 0)::bigint";

/// The columns of a `LineRow`, of `purchase_line l`, with what each received.
pub(crate) fn line_columns() -> String {
    format!(
        "l.id, l.order_id, l.product_id, l.qty, {cost}, {RECEIVED_SQL} as received",
        cost = crate::store::money_sql!("l", "unit_cost"),
    )
}

/// A validated new order.
#[derive(Debug)]
pub struct NewOrder {
    pub number: String,
    pub supplier_id: Uuid,
    pub warehouse_id: Uuid,
    pub expected_on: Option<NaiveDate>,
    pub notes: String,
}

/// Inserts an order (a draft) with a fresh UUIDv7.
pub async fn insert(tx: &mut TenantTx, o: NewOrder) -> Result<OrderRow, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "insert into purchase_order as o (tenant_id, id, number, supplier_id, warehouse_id,
            expected_on, notes)
         values ($1, $2, $3, $4, $5, $6, $7) returning {ORDER_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(o.number)
    .bind(o.supplier_id)
    .bind(o.warehouse_id)
    .bind(o.expected_on)
    .bind(o.notes)
    .fetch_one(tx.conn())
    .await
}

/// Changes an order's header; `None` leaves a field as it is (`expected_on`:
/// `Some(None)` clears it).
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    c: &crate::orders::purchase::HeaderChanges,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "update purchase_order set supplier_id = coalesce($3, supplier_id),
            warehouse_id = coalesce($4, warehouse_id),
            expected_on = case when $5 then $6 else expected_on end,
            notes = coalesce($7, notes), updated_at = now()
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(c.supplier_id)
    .bind(c.warehouse_id)
    .bind(c.expected_on.is_some())
    .bind(c.expected_on.flatten())
    .bind(c.notes.as_deref())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A purchase line as a receipt's decision needs it.
#[derive(Debug, sqlx::FromRow)]
pub struct ReceiptLine {
    pub id: Uuid,
    pub product_id: Uuid,
    pub status: String,
    pub qty: i64,
    pub received: i64,
    pub tolerance_pct: i32,
}

/// The purchase lines that receipts name, for their decision. Called after the stock
/// rows are locked. The lock is the lines' orders, by id, `for no key update`: every
/// change of an order or its lines takes that row `for update` first, so concurrent
/// receipts against one order decide one after the other, and a cancellation or a
/// close waits for the receipts in flight (and they for it): each receipt is judged
/// against the quantities and the status that are committed. No line is locked, so
/// nothing waits on a line while holding its order. The quantities are read by a
/// second statement, after the locks, so they include what the transaction waited for.
pub async fn lock_for_receipts(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<Vec<ReceiptLine>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    crate::store::orders::lock_orders_of_lines::<Purchase>(tx, ids).await?;
    sqlx::query_as(&format!(
        "select l.id, l.product_id, o.status, l.qty, {RECEIVED_SQL} as received,
                coalesce(s.over_receipt_tolerance_pct, 0) as tolerance_pct
         from purchase_line l
         join purchase_order o on o.tenant_id = l.tenant_id and o.id = l.order_id
         left join tenant_setting s on s.tenant_id = l.tenant_id
         where l.tenant_id = $1 and l.id = any($2)"
    ))
    .bind(tenant_id)
    .bind(ids)
    .fetch_all(tx.conn())
    .await
}
