//! `purchase_order` and `purchase_line` rows, the document counter, and the purchase
//! lines a receipt names, locked for its decision.
//!
//! A line's `received` is read, never stored: the sum of the applied `receive`
//! movements that name it and are of its product (see the orders migration).

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::db::TenantTx;
use crate::orders::purchase::{LineRow, OrderRow, PurchaseOrderQuery};

const ORDER_COLUMNS: &str = "id, number, supplier_id, warehouse_id, expected_on, notes, status,
    created_at, updated_at";

/// Each line's received quantity: the applied receipts that name it, of its product.
const RECEIVED_SQL: &str = "coalesce((
        select sum(m.qty) from movement m
        where m.tenant_id = l.tenant_id and m.reference_id = l.id
          and m.reference_type = 'purchase_line' and m.kind = 'receive'
          and m.outcome = 'applied' and m.product_id = l.product_id), 0)::bigint";

/// The next number of a document kind (`PO`, `SO`) in the tenant: the counter row is
/// locked until the transaction ends, so numbers are unique and, unless a creation
/// rolls back, gapless.
pub async fn next_number(tx: &mut TenantTx, kind: &str) -> Result<i64, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "insert into document_counter (tenant_id, kind, last) values ($1, $2, 1)
         on conflict (tenant_id, kind) do update set last = document_counter.last + 1
         returning last",
    )
    .bind(tenant_id)
    .bind(kind)
    .fetch_one(tx.conn())
    .await
}

/// Orders after `after` (by id), at most `limit`, filtered.
pub async fn list(
    tx: &mut TenantTx,
    q: &PurchaseOrderQuery,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<OrderRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {ORDER_COLUMNS} from purchase_order
         where tenant_id = $1 and ($2::uuid is null or id > $2)
           and ($3::uuid is null or warehouse_id = $3)
           and ($4::uuid is null or supplier_id = $4)
           and ($5::text is null or status = $5)
         order by id limit $6"
    ))
    .bind(tenant_id)
    .bind(after)
    .bind(q.warehouse_id)
    .bind(q.supplier_id)
    .bind(q.status.map(|s| s.as_str()))
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// One order.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<OrderRow>, sqlx::Error> {
    select(tx, id, "").await
}

/// One order, its row locked (`for update`): every change to an order or its lines
/// takes this lock first, so two changes of one order never interleave.
pub async fn get_for_update(tx: &mut TenantTx, id: Uuid) -> Result<Option<OrderRow>, sqlx::Error> {
    select(tx, id, "for update").await
}

async fn select(
    tx: &mut TenantTx,
    id: Uuid,
    lock_clause: &str,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {ORDER_COLUMNS} from purchase_order where tenant_id = $1 and id = $2 {lock_clause}"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// The lines of some orders, with what each received, by order then line id.
pub async fn lines_of(
    tx: &mut TenantTx,
    orders: &[Uuid],
) -> Result<HashMap<Uuid, Vec<LineRow>>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let rows: Vec<LineRow> = sqlx::query_as(&format!(
        "select l.id, l.order_id, l.product_id, l.qty, {cost}, {RECEIVED_SQL} as received
         from purchase_line l
         where l.tenant_id = $1 and l.order_id = any($2)
         order by l.order_id, l.id",
        cost = crate::store::money_sql!("l", "unit_cost"),
    ))
    .bind(tenant_id)
    .bind(orders)
    .fetch_all(tx.conn())
    .await?;
    let mut by_order: HashMap<Uuid, Vec<LineRow>> = HashMap::new();
    for row in rows {
        by_order.entry(row.order_id).or_default().push(row);
    }
    Ok(by_order)
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
        "insert into purchase_order (tenant_id, id, number, supplier_id, warehouse_id,
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

/// Inserts lines `(product, qty, unit cost)` of an order, each with a fresh UUIDv7, in
/// the order given. Answers their ids.
pub async fn insert_lines(
    tx: &mut TenantTx,
    order_id: Uuid,
    lines: &[(Uuid, i64, Decimal)],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let ids: Vec<Uuid> = lines.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query(
        "insert into purchase_line (tenant_id, id, order_id, product_id, qty, unit_cost)
         select $1, x.id, $2, x.product_id, x.qty, x.unit_cost
         from unnest($3::uuid[], $4::uuid[], $5::bigint[], $6::numeric[])
              as x (id, product_id, qty, unit_cost)",
    )
    .bind(tenant_id)
    .bind(order_id)
    .bind(&ids)
    .bind(lines.iter().map(|l| l.0).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.1).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.2).collect::<Vec<_>>())
    .execute(tx.conn())
    .await?;
    Ok(ids)
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

/// Sets the status people decided.
pub async fn set_status(tx: &mut TenantTx, id: Uuid, status: &str) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "update purchase_order set status = $3, updated_at = now()
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(status)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Changes a line's quantity or cost; `None` leaves it as it is.
pub async fn update_line(
    tx: &mut TenantTx,
    order_id: Uuid,
    line_id: Uuid,
    qty: Option<i64>,
    unit_cost: Option<Decimal>,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "update purchase_line set qty = coalesce($4, qty), unit_cost = coalesce($5, unit_cost)
         where tenant_id = $1 and order_id = $2 and id = $3",
    )
    .bind(tenant_id)
    .bind(order_id)
    .bind(line_id)
    .bind(qty)
    .bind(unit_cost)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Deletes a line of a draft.
pub async fn delete_line(
    tx: &mut TenantTx,
    order_id: Uuid,
    line_id: Uuid,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query("delete from purchase_line where tenant_id = $1 and order_id = $2 and id = $3")
        .bind(tenant_id)
        .bind(order_id)
        .bind(line_id)
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
    sqlx::query(
        "select 1 from purchase_order o
         where o.tenant_id = $1
           and o.id in (select l.order_id from purchase_line l
                        where l.tenant_id = $1 and l.id = any($2))
         order by o.id
         for no key update",
    )
    .bind(tenant_id)
    .bind(ids)
    .execute(tx.conn())
    .await?;
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

/// The orders of `ids` in the warehouses of `scope` that devices are sent (all but
/// drafts), with their supplier's name, by id.
pub async fn for_devices(
    tx: &mut TenantTx,
    scope: &[Uuid],
    ids: &[Uuid],
) -> Result<Vec<(OrderRow, String)>, sqlx::Error> {
    device_orders(
        tx,
        scope,
        "o.id = any($3) and o.status <> 'draft'",
        ids,
        None,
        i64::MAX,
    )
    .await
}

/// A snapshot page of the open (ordered) orders of `scope`'s warehouses after `after`,
/// by id, at most `limit`.
pub async fn open_page(
    tx: &mut TenantTx,
    scope: &[Uuid],
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(OrderRow, String)>, sqlx::Error> {
    device_orders(tx, scope, "o.status = 'ordered'", &[], after, limit).await
}

async fn device_orders(
    tx: &mut TenantTx,
    scope: &[Uuid],
    filter: &str,
    ids: &[Uuid],
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(OrderRow, String)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        order: OrderRow,
        supplier: String,
    }
    let tenant_id = tx.tenant_id().as_uuid();
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select o.id, o.number, o.supplier_id, o.warehouse_id, o.expected_on, o.notes, o.status,
                o.created_at, o.updated_at, p.name as supplier
         from purchase_order o
         join party p on p.tenant_id = o.tenant_id and p.id = o.supplier_id
         where o.tenant_id = $1 and o.warehouse_id = any($2) and {filter}
           and ($4::uuid is null or o.id > $4)
         order by o.id limit $5"
    ))
    .bind(tenant_id)
    .bind(scope)
    .bind(ids)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().map(|r| (r.order, r.supplier)).collect())
}

/// The orders whose lines the given movements name: their received quantities changed.
pub async fn named_by_movements(
    tx: &mut TenantTx,
    movements: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select distinct l.order_id from movement m
         join purchase_line l on l.tenant_id = m.tenant_id and l.id = m.reference_id
         where m.tenant_id = $1 and m.id = any($2) and m.reference_type = 'purchase_line'",
    )
    .bind(tenant_id)
    .bind(movements)
    .fetch_all(tx.conn())
    .await
}
