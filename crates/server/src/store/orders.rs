//! The statements purchase and sales orders share, written once over an
//! [`OrderKind`] (its tables and columns): the document counter, list and read (locked
//! or not) orders, their lines, line edits, the status people decided, what devices are
//! sent, the orders movements name, and the lock a movement takes on the orders of the
//! lines it names. What only one kind has is in `purchase_orders` and `sales_orders`.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sqlx::{FromRow, Row};
use uuid::Uuid;

use crate::db::TenantTx;
use crate::orders::document::{ListFilter, OrderKind};

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
pub async fn list<K: OrderKind>(
    tx: &mut TenantTx,
    f: &ListFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<K::Row>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {columns} from {table} o
         where o.tenant_id = $1 and ($2::uuid is null or o.id > $2)
           and ($3::uuid is null or o.warehouse_id = $3)
           and ($4::uuid is null or o.{party} = $4)
           and ($5::text is null or o.status = $5)
         order by o.id limit $6",
        columns = K::ORDER_COLUMNS,
        table = K::TABLE,
        party = K::PARTY_COLUMN,
    ))
    .bind(tenant_id)
    .bind(after)
    .bind(f.warehouse_id)
    .bind(f.party_id)
    .bind(f.status)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// One order.
pub async fn get<K: OrderKind>(tx: &mut TenantTx, id: Uuid) -> Result<Option<K::Row>, sqlx::Error> {
    select::<K>(tx, id, "").await
}

/// One order, its row locked (`for update`): every change to an order or its lines
/// takes this lock first, so two changes of one order never interleave. A sales order
/// is locked after the stock rows its change reserves on (the global lock order: rows,
/// then purchase orders, then sales orders).
pub async fn get_for_update<K: OrderKind>(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<Option<K::Row>, sqlx::Error> {
    select::<K>(tx, id, "for update").await
}

async fn select<K: OrderKind>(
    tx: &mut TenantTx,
    id: Uuid,
    lock_clause: &str,
) -> Result<Option<K::Row>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {columns} from {table} o where o.tenant_id = $1 and o.id = $2 {lock_clause}",
        columns = K::ORDER_COLUMNS,
        table = K::TABLE,
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// The lines of some orders, with their quantities, by order then line id.
pub async fn lines_of<K: OrderKind>(
    tx: &mut TenantTx,
    orders: &[Uuid],
) -> Result<HashMap<Uuid, Vec<K::LineRow>>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let rows: Vec<K::LineRow> = sqlx::query_as(&format!(
        "select {columns}
         from {table} l
         where l.tenant_id = $1 and l.order_id = any($2)
         order by l.order_id, l.id",
        columns = K::line_columns(),
        table = K::LINE_TABLE,
    ))
    .bind(tenant_id)
    .bind(orders)
    .fetch_all(tx.conn())
    .await?;
    let mut by_order: HashMap<Uuid, Vec<K::LineRow>> = HashMap::new();
    for row in rows {
        by_order.entry(K::order_of(&row)).or_default().push(row);
    }
    Ok(by_order)
}

/// Inserts lines `(product, qty, price)` of an order, each with a fresh UUIDv7, in the
/// order given. Answers their ids.
pub async fn insert_lines<K: OrderKind>(
    tx: &mut TenantTx,
    order_id: Uuid,
    lines: &[(Uuid, i64, Decimal)],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let ids: Vec<Uuid> = lines.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query(&format!(
        "insert into {table} (tenant_id, id, order_id, product_id, qty, {price})
         select $1, x.id, $2, x.product_id, x.qty, x.{price}
         from unnest($3::uuid[], $4::uuid[], $5::bigint[], $6::numeric[])
              as x (id, product_id, qty, {price})",
        table = K::LINE_TABLE,
        price = K::PRICE_COLUMN,
    ))
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

/// Sets the status people decided; answers the row as it is now.
pub async fn set_status<K: OrderKind>(
    tx: &mut TenantTx,
    id: Uuid,
    status: &str,
) -> Result<K::Row, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "update {table} o set status = $3, updated_at = now()
         where o.tenant_id = $1 and o.id = $2
         returning {columns}",
        table = K::TABLE,
        columns = K::ORDER_COLUMNS,
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(status)
    .fetch_one(tx.conn())
    .await
}

/// Changes a line's quantity or price; `None` leaves it as it is.
pub async fn update_line<K: OrderKind>(
    tx: &mut TenantTx,
    order_id: Uuid,
    line_id: Uuid,
    qty: Option<i64>,
    price: Option<Decimal>,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(&format!(
        "update {table} set qty = coalesce($4, qty), {price} = coalesce($5, {price})
         where tenant_id = $1 and order_id = $2 and id = $3",
        table = K::LINE_TABLE,
        price = K::PRICE_COLUMN,
    ))
    .bind(tenant_id)
    .bind(order_id)
    .bind(line_id)
    .bind(qty)
    .bind(price)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Deletes a line of a draft.
pub async fn delete_line<K: OrderKind>(
    tx: &mut TenantTx,
    order_id: Uuid,
    line_id: Uuid,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(&format!(
        "delete from {table} where tenant_id = $1 and order_id = $2 and id = $3",
        table = K::LINE_TABLE,
    ))
    .bind(tenant_id)
    .bind(order_id)
    .bind(line_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Locks the orders of the lines `ids` (of movements naming them), by id, `for no key
/// update`: every change of an order or its lines takes that row `for update` first,
/// so the movements naming an order's lines and the order's changes are decided one
/// after the other. Called after the stock rows are locked; no line is locked, so
/// nothing waits on a line while holding its order.
pub async fn lock_orders_of_lines<K: OrderKind>(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(&format!(
        "select 1 from {table} o
         where o.tenant_id = $1
           and o.id in (select l.order_id from {line_table} l
                        where l.tenant_id = $1 and l.id = any($2))
         order by o.id
         for no key update",
        table = K::TABLE,
        line_table = K::LINE_TABLE,
    ))
    .bind(tenant_id)
    .bind(ids)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The orders of `ids` in the warehouses of `scope` that devices are sent (all but
/// drafts), with their party's name, by id.
pub async fn for_devices<K: OrderKind>(
    tx: &mut TenantTx,
    scope: &[Uuid],
    ids: &[Uuid],
) -> Result<Vec<(K::Row, String)>, sqlx::Error> {
    let filter = "o.id = any($3) and o.status <> 'draft'";
    device_orders::<K>(tx, scope, filter, ids, None, i64::MAX).await
}

/// A snapshot page of the open orders (ordered, confirmed) of `scope`'s warehouses
/// after `after`, by id, at most `limit`.
pub async fn open_page<K: OrderKind>(
    tx: &mut TenantTx,
    scope: &[Uuid],
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(K::Row, String)>, sqlx::Error> {
    let filter = format!("o.status = '{}'", K::OPEN_STATUS);
    device_orders::<K>(tx, scope, &filter, &[], after, limit).await
}

async fn device_orders<K: OrderKind>(
    tx: &mut TenantTx,
    scope: &[Uuid],
    filter: &str,
    ids: &[Uuid],
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(K::Row, String)>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let rows = sqlx::query(&format!(
        "select {columns}, p.name as party_name
         from {table} o
         join party p on p.tenant_id = o.tenant_id and p.id = o.{party}
         where o.tenant_id = $1 and o.warehouse_id = any($2) and {filter}
           and ($4::uuid is null or o.id > $4)
         order by o.id limit $5",
        columns = K::ORDER_COLUMNS,
        table = K::TABLE,
        party = K::PARTY_COLUMN,
    ))
    .bind(tenant_id)
    .bind(scope)
    .bind(ids)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| -> Result<(K::Row, String), sqlx::Error> {
            Ok((K::Row::from_row(r)?, r.try_get("party_name")?))
        })
        .collect()
}

/// The orders whose lines the given movements name: their received or picked
/// quantities changed.
pub async fn named_by_movements<K: OrderKind>(
    tx: &mut TenantTx,
    movements: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(&format!(
        "select distinct l.order_id from movement m
         join {line_table} l on l.tenant_id = m.tenant_id and l.id = m.reference_id
         where m.tenant_id = $1 and m.id = any($2) and m.reference_type = '{line_table}'",
        line_table = K::LINE_TABLE,
    ))
    .bind(tenant_id)
    .bind(movements)
    .fetch_all(tx.conn())
    .await
}
