//! What purchase and sales orders share: the [`OrderKind`] that names a kind's tables,
//! columns and types, and the services written once for both — read an order (locked or
//! not) with its lines, list them, audit and announce a change, delete a draft's line.
//!
//! What really differs stays in the kind's module: the header fields and their checks,
//! receipts against purchase lines, reservations of sales lines, each status machine.

use serde::Serialize;
use sqlx::FromRow;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::access::Principal;
use crate::audit_log::{self, Entry, snapshot};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::catalog_change::Entity;

/// A kind of order: its tables and columns, its row and document types.
pub trait OrderKind {
    /// The order table (`purchase_order`), also the audit target type and the topic's
    /// prefix.
    const TABLE: &'static str;
    /// The line table (`purchase_line`), also the `reference_type` of a movement naming
    /// a line.
    const LINE_TABLE: &'static str;
    /// The order's party column (`supplier_id`, `customer_id`).
    const PARTY_COLUMN: &'static str;
    /// A line's price column (`unit_cost`, `unit_price`).
    const PRICE_COLUMN: &'static str;
    /// The stored status of the orders devices work on (`ordered`, `confirmed`).
    const OPEN_STATUS: &'static str;
    /// The columns of [`Self::Row`], of the order table as `o`.
    const ORDER_COLUMNS: &'static str;
    /// What to do to a line instead of deleting it once the order is no draft.
    const INSTEAD_OF_DELETE: &'static str;
    /// The feed devices pull its changes from.
    const ENTITY: Entity;
    /// An order row as stored.
    type Row: for<'r> FromRow<'r, PgRow> + Send + Unpin;
    /// A line row as read, with its quantities.
    type LineRow: for<'r> FromRow<'r, PgRow> + Send + Unpin;
    /// An order as shown, with its lines.
    type Order: Serialize;
    /// The columns of [`Self::LineRow`], of the line table as `l`.
    fn line_columns() -> String;
    /// An order row's id.
    fn row_id(row: &Self::Row) -> Uuid;
    /// The order a line row is of.
    fn order_of(line: &Self::LineRow) -> Uuid;
    /// An order as shown: its status read from what people decided and its quantities.
    fn assemble(row: Self::Row, lines: Vec<Self::LineRow>) -> Self::Order;
    /// An order's id and warehouse.
    fn id_and_warehouse(order: &Self::Order) -> (Uuid, Uuid);
    /// An order's status as shown, and whether it has the line `line_id`.
    fn status_and_line(order: &Self::Order, line_id: Uuid) -> (&'static str, bool);
}

/// Implements [`OrderKind`] for a kind from its names and types: the kinds' row, line
/// row and order types have the same field names (`id`, `order_id`, `warehouse_id`,
/// `status`, `lines`), so the accessors are written once here.
macro_rules! order_kind {
    (
        $(#[doc = $doc:tt])*
        $kind:ident {
            tables: $table:tt, $line_table:tt,
            columns: $party:tt, $price:tt, $order_columns:expr, $line_columns:path,
            open_status: $open:tt,
            instead_of_delete: $instead:tt,
            entity: $entity:expr,
            types: $row:ty, $line_row:ty => $order:ty, $assemble:path $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug)]
        pub struct $kind;

        impl $crate::orders::document::OrderKind for $kind {
            const TABLE: &'static str = $table;
            const LINE_TABLE: &'static str = $line_table;
            const PARTY_COLUMN: &'static str = $party;
            const PRICE_COLUMN: &'static str = $price;
            const OPEN_STATUS: &'static str = $open;
            const ORDER_COLUMNS: &'static str = $order_columns;
            const INSTEAD_OF_DELETE: &'static str = $instead;
            const ENTITY: $crate::store::catalog_change::Entity = $entity;
            type Row = $row;
            type LineRow = $line_row;
            type Order = $order;

            fn line_columns() -> String {
                $line_columns()
            }

            fn row_id(row: &$row) -> Uuid {
                row.id
            }

            fn order_of(line: &$line_row) -> Uuid {
                line.order_id
            }

            fn assemble(row: $row, lines: Vec<$line_row>) -> $order {
                $assemble(row, lines)
            }

            fn id_and_warehouse(order: &$order) -> (Uuid, Uuid) {
                (order.id, order.warehouse_id)
            }

            fn status_and_line(order: &$order, line_id: Uuid) -> (&'static str, bool) {
                let has_line = order.lines.iter().any(|l| l.id == line_id);
                (order.status.as_str(), has_line)
            }
        }
    };
}
pub(crate) use order_kind;

/// Filters of an order list.
#[derive(Debug, Default, Clone, Copy)]
pub struct ListFilter {
    pub warehouse_id: Option<Uuid>,
    /// The supplier or customer.
    pub party_id: Option<Uuid>,
    /// A status people decided, as stored.
    pub status: Option<&'static str>,
}

/// Orders after `after` (by id), at most `limit`, filtered, with their lines.
pub async fn list<K: OrderKind>(
    tx: &mut TenantTx,
    filter: &ListFilter,
    after: Option<Uuid>,
    limit: i64,
) -> ApiResult<Vec<K::Order>> {
    let rows = store::orders::list::<K>(tx, filter, after, limit).await?;
    let ids: Vec<Uuid> = rows.iter().map(K::row_id).collect();
    let mut lines = store::orders::lines_of::<K>(tx, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let l = lines.remove(&K::row_id(&row)).unwrap_or_default();
            K::assemble(row, l)
        })
        .collect())
}

/// Reads one order with its lines, or not found.
pub async fn fetch<K: OrderKind>(tx: &mut TenantTx, id: Uuid) -> ApiResult<K::Order> {
    let row = store::orders::get::<K>(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    with_lines::<K>(tx, id, row).await
}

/// One order locked for a change (`store::orders::get_for_update`), with its lines.
pub(crate) async fn fetch_for_update<K: OrderKind>(
    tx: &mut TenantTx,
    id: Uuid,
) -> ApiResult<K::Order> {
    let row = store::orders::get_for_update::<K>(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    with_lines::<K>(tx, id, row).await
}

async fn with_lines<K: OrderKind>(tx: &mut TenantTx, id: Uuid, row: K::Row) -> ApiResult<K::Order> {
    let mut lines = store::orders::lines_of::<K>(tx, &[id]).await?;
    Ok(K::assemble(row, lines.remove(&id).unwrap_or_default()))
}

/// Audits a change (action `<kind>.<verb>`), announces it on the outbox as
/// `<kind>.<event>` with the order as it is after it, and puts it in the feed devices
/// pull (a draft is never sent to them, but its change row is harmless: the pull skips
/// drafts).
pub(crate) async fn record<K: OrderKind>(
    tx: &mut TenantTx,
    p: &Principal,
    verb: &str,
    event: &str,
    before: Option<&K::Order>,
    after: &K::Order,
) -> ApiResult<()> {
    let (id, warehouse_id) = K::id_and_warehouse(after);
    audit_log::record(
        tx,
        p,
        Entry {
            action: &format!("{}.{verb}", K::TABLE),
            target_type: K::TABLE,
            target_id: Some(id.to_string()),
            before: before.and_then(snapshot),
            after: snapshot(after),
        },
    )
    .await?;
    let kind = K::TABLE;
    let payload = serde_json::json!({ kind: after });
    store::outbox::insert(tx, &format!("{}.{event}", K::TABLE), &payload).await?;
    store::catalog_change::upsert(tx, K::ENTITY, id, Some(warehouse_id)).await?;
    Ok(())
}

/// Deletes a line of a draft (once the order left draft, devices may work against the
/// line: its quantity is changed instead).
pub async fn delete_line<K: OrderKind>(
    tx: &mut TenantTx,
    p: &Principal,
    id: Uuid,
    line_id: Uuid,
) -> ApiResult<K::Order> {
    let before = fetch_for_update::<K>(tx, id).await?;
    let (status, has_line) = K::status_and_line(&before, line_id);
    if !has_line {
        return Err(ApiError::NotFound);
    }
    if status != "draft" {
        return Err(ApiError::InvalidOrderState(format!(
            "a line is deleted only while the order is a draft; the order is {status}: {}",
            K::INSTEAD_OF_DELETE
        )));
    }
    store::orders::delete_line::<K>(tx, id, line_id).await?;
    let after = fetch::<K>(tx, id).await?;
    record::<K>(tx, p, "line_delete", "updated", Some(&before), &after).await?;
    Ok(after)
}
