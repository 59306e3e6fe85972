//! Orders pulled for receiving and picking offline: the open purchase orders of the
//! device's warehouses with what each line received, the sales orders still to pick
//! with their pick lists, and the line a receipt or a pick names.
//!
//! A line's received quantity is the server's as of the last pull plus this device's
//! receipts naming it that the pulled state does not include yet (unsettled journal
//! entries not rejected or voided). Between a pull that carries an order changed by a
//! receipt and the page that settles that receipt, the receipt may show twice: a
//! display figure only, the server decides what is flagged.

use logiflow_core::LineRef;
use logiflow_core::orders::{PurchaseStatus, SalesStatus};
use rusqlite::{Connection, params};

use super::Replica;
use super::resolve::resolve_product;
use crate::api::{
    ItemRef, OpenOrders, PickView, PurchaseLineView, PurchaseOrderView, SalesLineView,
    SalesOrderView,
};
use crate::db::optional;
use crate::{Error, Result};

/// Units of `kind` (`receive`, `ship`) this device recorded against each line (`l.id`)
/// of `reference` type that the pulled state does not hold yet.
fn recorded_here(kind: &str, reference: &str) -> String {
    format!(
        "coalesce((
            select sum(json_extract(j.movement, '$.qty')) from journal j
            where j.settled = 0 and j.kind = '{kind}'
              and coalesce(j.outcome, 'applied') not in ('rejected', 'voided')
              and json_extract(j.movement, '$.reference.type') = '{reference}'
              and json_extract(j.movement, '$.reference.id') = l.id), 0)"
    )
}

/// What tells purchase and sales orders apart in the replica's tables.
struct Kind {
    orders: &'static str,
    lines: &'static str,
    /// The server's booked quantity column of a line (`received`, `picked`).
    booked: &'static str,
    movement: &'static str,
    reference: &'static str,
    /// Whether an order in the stored status takes goods (the core's rule).
    open: fn(&str) -> bool,
    line: fn(uuid::Uuid) -> LineRef,
}

const PURCHASE: Kind = Kind {
    orders: "purchase_order",
    lines: "purchase_line",
    booked: "received",
    movement: "receive",
    reference: "purchase_line",
    open: expects_goods,
    line: LineRef::PurchaseLine,
};

const SALES: Kind = Kind {
    orders: "sales_order",
    lines: "sales_line",
    booked: "picked",
    movement: "ship",
    reference: "sales_line",
    open: expects_picks,
    line: LineRef::SalesLine,
};

/// The line of order `number` that a receipt or pick of `item` counts toward
/// (`core::orders::line_for`), or why there is none.
fn line_of(conn: &Connection, kind: &Kind, number: &str, item: &ItemRef) -> Result<LineRef> {
    let number = number.trim().to_uppercase();
    let order: Option<(String, String)> = optional(conn.query_row(
        &format!("select id, status from {} where number = ?1", kind.orders),
        params![number],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ))?;
    let order = order
        .filter(|(_, status)| (kind.open)(status))
        .map(|(id, _)| id)
        .ok_or_else(|| Error::UnknownOrder(number.clone()))?;
    let product = resolve_product(conn, item)?;
    let lines: Vec<(String, i64)> = conn
        .prepare(&format!(
            "select l.id, l.qty - l.{} - {} from {} l
             where l.order_id = ?1 and l.product_id = ?2 order by l.position",
            kind.booked,
            recorded_here(kind.movement, kind.reference),
            kind.lines
        ))?
        .query_map(params![order, product.id.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let indexed: Vec<(usize, i64)> = lines.iter().enumerate().map(|(i, l)| (i, l.1)).collect();
    let chosen = logiflow_core::orders::line_for(&indexed).ok_or_else(|| Error::NotOnOrder {
        order: number,
        sku: product.sku.clone(),
    })?;
    let id = lines[chosen].0.parse().map_err(Error::corrupt)?;
    Ok((kind.line)(id))
}

impl Replica {
    /// Both kinds of orders the device works against.
    pub fn open_orders(&self) -> Result<OpenOrders> {
        Ok(OpenOrders {
            purchase_orders: self.purchase_orders()?,
            sales_orders: self.sales_orders()?,
        })
    }

    /// The open purchase orders of the device's warehouses, by number, with their lines
    /// in document order.
    pub fn purchase_orders(&self) -> Result<Vec<PurchaseOrderView>> {
        let mut stmt = self.conn.prepare(
            "select o.id, o.number, coalesce(w.code, ''), o.supplier, o.expected_on, o.status
             from purchase_order o left join warehouse w on w.id = o.warehouse_id
             order by o.number",
        )?;
        let orders = stmt
            .query_map([], |r| {
                Ok(PurchaseOrderView {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    warehouse: r.get(2)?,
                    supplier: r.get(3)?,
                    expected_on: r.get(4)?,
                    status: r.get(5)?,
                    lines: vec![],
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        orders
            .into_iter()
            .filter(|o| expects_goods(&o.status))
            .map(|mut o| {
                o.lines = lines(&self.conn, &o.id)?;
                Ok(o)
            })
            .collect()
    }

    /// The line of open purchase order `number` that a receipt of `item` counts toward
    /// (`core::orders::line_for`: its first line of the product still expecting units,
    /// else its last, and the server flags the receipt as beyond the order).
    pub fn purchase_line(&self, number: &str, item: &ItemRef) -> Result<LineRef> {
        line_of(&self.conn, &PURCHASE, number, item)
    }
}

/// Whether goods are expected against an order in the stored status (the core's rule).
fn expects_goods(status: &str) -> bool {
    PurchaseStatus::parse(status).is_some_and(PurchaseStatus::expects_goods)
}

fn lines(conn: &Connection, order: &str) -> Result<Vec<PurchaseLineView>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select l.id, coalesce(p.sku, ''), coalesce(p.name, ''), l.qty, l.received, {here}
         from purchase_line l left join product p on p.id = l.product_id
         where l.order_id = ?1 order by l.position",
        here = recorded_here(PURCHASE.movement, PURCHASE.reference),
    ))?;
    let lines = stmt
        .query_map(params![order], |r| {
            let (qty, received, received_here): (i64, i64, i64) = (r.get(3)?, r.get(4)?, r.get(5)?);
            Ok(PurchaseLineView {
                id: r.get(0)?,
                sku: r.get(1)?,
                name: r.get(2)?,
                qty,
                received,
                received_here,
                open: (qty - received - received_here).max(0),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(lines)
}

/// Whether goods are still to be picked against an order in the stored status.
fn expects_picks(status: &str) -> bool {
    SalesStatus::parse(status).is_some_and(SalesStatus::expects_picks)
}

impl Replica {
    /// The sales orders of the device's warehouses still to be picked, by number, with
    /// their lines in document order and each line's pick list (bin and lot codes).
    pub fn sales_orders(&self) -> Result<Vec<SalesOrderView>> {
        let mut stmt = self.conn.prepare(
            "select o.id, o.number, coalesce(w.code, ''), o.customer, o.requested_on, o.status
             from sales_order o left join warehouse w on w.id = o.warehouse_id
             order by o.number",
        )?;
        let orders = stmt
            .query_map([], |r| {
                Ok(SalesOrderView {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    warehouse: r.get(2)?,
                    customer: r.get(3)?,
                    requested_on: r.get(4)?,
                    status: r.get(5)?,
                    lines: vec![],
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        orders
            .into_iter()
            .filter(|o| expects_picks(&o.status))
            .map(|mut o| {
                o.lines = sales_lines(&self.conn, &o.id)?;
                Ok(o)
            })
            .collect()
    }

    /// The line of sales order `number` that a pick of `item` counts toward
    /// (`core::orders::line_for`, as for receipts).
    pub fn sales_line(&self, number: &str, item: &ItemRef) -> Result<LineRef> {
        line_of(&self.conn, &SALES, number, item)
    }
}

fn sales_lines(conn: &Connection, order: &str) -> Result<Vec<SalesLineView>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select l.id, coalesce(p.sku, ''), coalesce(p.name, ''), l.qty, l.picked, {here}
         from sales_line l left join product p on p.id = l.product_id
         where l.order_id = ?1 order by l.position",
        here = recorded_here(SALES.movement, SALES.reference),
    ))?;
    let mut lines: Vec<SalesLineView> = stmt
        .query_map(params![order], |r| {
            let (qty, picked, picked_here): (i64, i64, i64) = (r.get(3)?, r.get(4)?, r.get(5)?);
            Ok(SalesLineView {
                id: r.get(0)?,
                sku: r.get(1)?,
                name: r.get(2)?,
                qty,
                picked,
                picked_here,
                open: (qty - picked - picked_here).max(0),
                pick_list: vec![],
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut picks = conn.prepare_cached(
        "select coalesce(loc.code, ''), lt.code, a.qty
         from sales_allocation a
         left join location loc on loc.id = a.location_id
         left join lot lt on lt.id = a.lot_id
         where a.line_id = ?1
         order by loc.code, lt.code",
    )?;
    for line in &mut lines {
        line.pick_list = picks
            .query_map(params![line.id], |r| {
                Ok(PickView {
                    bin: r.get(0)?,
                    lot: r.get(1)?,
                    qty: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(lines)
}
