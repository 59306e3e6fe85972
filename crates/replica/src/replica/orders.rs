//! Orders pulled for receiving and picking offline: the open purchase orders of the
//! device's warehouses with what each line received, the sales orders still to pick
//! with their pick lists, the line a receipt or a pick names, and the pick walk across
//! a wave of sales orders (stops in the order of their bins' location paths, which the
//! replica reads up the pulled location tree).
//!
//! A line's received quantity is the server's as of the last pull plus this device's
//! receipts naming it that the pulled state does not include yet (unsettled journal
//! entries not rejected or voided). Between a pull that carries an order changed by a
//! receipt and the page that settles that receipt, the receipt may show twice: a
//! display figure only, the server decides what is flagged.

use std::collections::{HashMap, HashSet};

use logiflow_core::orders::{
    Allocation, PurchaseStatus, SalesStatus, WalkKey, child_path, consume, sort_walk,
};
use logiflow_core::{LineRef, Movement, MovementKind, StockKey};
use rusqlite::{Connection, params};

use super::Replica;
use super::resolve::resolve_product;
use crate::api::{
    ItemRef, LineMatch, OpenOrders, PickStop, PickView, PurchaseLineView, PurchaseOrderView,
    SalesLineView, SalesOrderView, WAVE_ORDERS_MAX,
};
use crate::db::{lot_from_col, optional, parse_id};
use crate::{Error, Result};

/// The journal entries (`j`) of `kind` (`receive`, `ship`) this device recorded against
/// the line whose id is `line` (an SQL expression) of `reference` type, that the pulled
/// state does not hold yet: unsettled, neither rejected nor voided.
fn unsettled_on_line(kind: &str, reference: &str, line: &str) -> String {
    format!(
        "j.settled = 0 and j.kind = '{kind}'
         and coalesce(j.outcome, 'applied') not in ('rejected', 'voided')
         and json_extract(j.movement, '$.reference.type') = '{reference}'
         and json_extract(j.movement, '$.reference.id') = {line}"
    )
}

/// Units of `kind` (`receive`, `ship`) this device recorded against each line (`l.id`)
/// of `reference` type that the pulled state does not hold yet.
fn recorded_here(kind: &str, reference: &str) -> String {
    format!(
        "coalesce((select sum(json_extract(j.movement, '$.qty')) from journal j where {}), 0)",
        unsettled_on_line(kind, reference, "l.id")
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
    let order = open_order(conn, kind, &number)?;
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

/// The id of the order of `kind` numbered `number` (as stored: upper case), if it still
/// takes goods.
fn open_order(conn: &Connection, kind: &Kind, number: &str) -> Result<String> {
    let order: Option<(String, String)> = optional(conn.query_row(
        &format!("select id, status from {} where number = ?1", kind.orders),
        params![number],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ))?;
    order
        .filter(|(_, status)| (kind.open)(status))
        .map(|(id, _)| id)
        .ok_or_else(|| Error::UnknownOrder(number.to_owned()))
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

    /// [`Replica::purchase_line`] with the product the scan names, for a receiving
    /// screen: the line to name in the receipt, and whether to ask for a lot.
    pub fn receiving_line(&self, number: &str, item: &ItemRef) -> Result<LineMatch> {
        let line = self.purchase_line(number, item)?;
        Ok(LineMatch {
            line: line.id().to_string(),
            product: self.resolve_item(item)?,
        })
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
        "select a.location_id, lt.code, a.qty
         from sales_allocation a left join lot lt on lt.id = a.lot_id
         where a.line_id = ?1",
    )?;
    let mut paths = Paths::new(conn);
    for line in &mut lines {
        let reserved: Vec<(String, Option<String>, i64)> = picks
            .query_map(params![line.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut list = Vec::with_capacity(reserved.len());
        for (location, lot, qty) in reserved {
            let (bin, path) = paths.of(&location)?;
            list.push((path, PickView { bin, lot, qty }));
        }
        // One line: the same product, order and position on every stop.
        sort_walk(&mut list, |(path, pick)| WalkKey {
            path,
            sku: "",
            lot: pick.lot.as_deref(),
            order: "",
            position: 0,
        });
        line.pick_list = list.into_iter().map(|(_, pick)| pick).collect();
    }
    Ok(lines)
}

/// The deepest location tree a path is read up: far beyond any warehouse's (zone,
/// aisle, rack, level, bin), it ends the walk up a damaged parent cycle.
const LOCATION_DEPTH_MAX: usize = 32;

/// Locations' codes and paths (`core::orders::child_path`, as the server stores them),
/// each read once per call.
struct Paths<'c> {
    conn: &'c Connection,
    known: HashMap<String, (String, String)>,
}

impl<'c> Paths<'c> {
    fn new(conn: &'c Connection) -> Self {
        Self {
            conn,
            known: HashMap::new(),
        }
    }

    /// The code and path of location `id`: empty for a location not pulled; from the
    /// highest pulled ancestor for one whose parent is not pulled.
    fn of(&mut self, id: &str) -> Result<(String, String)> {
        if let Some(known) = self.known.get(id) {
            return Ok(known.clone());
        }
        let mut up = self
            .conn
            .prepare_cached("select code, parent_id from location where id = ?1")?;
        // The codes from the location up to its zone.
        let mut codes: Vec<String> = Vec::new();
        let mut next = Some(id.to_owned());
        while let Some(at) = next {
            if codes.len() == LOCATION_DEPTH_MAX {
                return Err(Error::corrupt(format!(
                    "location {id} is more than {LOCATION_DEPTH_MAX} levels deep"
                )));
            }
            let row: Option<(String, Option<String>)> =
                optional(up.query_row(params![at], |r| Ok((r.get(0)?, r.get(1)?))))?;
            let Some((code, parent)) = row else { break };
            codes.push(code);
            next = parent;
        }
        let path = codes
            .iter()
            .rev()
            .fold(None, |parent: Option<String>, code| {
                Some(child_path(parent.as_deref(), code))
            })
            .unwrap_or_default();
        let found = (codes.first().cloned().unwrap_or_default(), path);
        self.known.insert(id.to_owned(), found.clone());
        Ok(found)
    }
}

/// An open line of a sales order in a pick walk.
struct WalkLine {
    id: String,
    position: i64,
    sku: String,
    name: String,
    /// Units still to pick: ordered less picked on the server and here.
    open: i64,
}

/// A stop with its line's position, the walk's last tie-break.
type Stop = (i64, PickStop);

fn walk_key((position, stop): &Stop) -> WalkKey<'_> {
    WalkKey {
        path: &stop.path,
        sku: &stop.sku,
        lot: stop.lot.as_deref(),
        order: &stop.order,
        position: *position,
    }
}

impl Replica {
    /// One pick list across the open sales orders `numbers` (one order, or a wave of up
    /// to [`WAVE_ORDERS_MAX`]), in walk order (`core::orders::sort_walk`: the bin's
    /// path, SKU, lot, order number, line).
    ///
    /// A stop is a reservation the server made for a line still expecting goods, less
    /// what this device picked for the line since the last pull, consumed as the server
    /// will consume it (`core::orders::consume`: the picked row first, then the line's
    /// others), and never more than the line still expects: what was picked here is not
    /// offered again. What the server could not reserve (back-ordered) has no stop. A
    /// number naming no sales order still to pick is refused (`unknown_order`).
    pub fn pick_walk(&self, numbers: &[String]) -> Result<Vec<PickStop>> {
        if numbers.len() > WAVE_ORDERS_MAX {
            return Err(Error::InvalidInput {
                field: "orders",
                message: format!("at most {WAVE_ORDERS_MAX} orders make one wave"),
            });
        }
        let mut paths = Paths::new(&self.conn);
        let mut stops: Vec<Stop> = Vec::new();
        let mut seen = HashSet::new();
        for number in numbers {
            let number = number.trim().to_uppercase();
            if !seen.insert(number.clone()) {
                continue;
            }
            let order = open_order(&self.conn, &SALES, &number)?;
            for line in walk_lines(&self.conn, &order)? {
                stops.extend(line_stops(&self.conn, &mut paths, &number, &line)?);
            }
        }
        sort_walk(&mut stops, walk_key);
        Ok(stops.into_iter().map(|(_, stop)| stop).collect())
    }
}

/// The lines of sales order `order` still expecting goods, in document order.
fn walk_lines(conn: &Connection, order: &str) -> Result<Vec<WalkLine>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select l.id, l.position, coalesce(p.sku, ''), coalesce(p.name, ''),
                l.qty - l.picked - {here}
         from sales_line l left join product p on p.id = l.product_id
         where l.order_id = ?1 order by l.position",
        here = recorded_here(SALES.movement, SALES.reference),
    ))?;
    let lines = stmt
        .query_map(params![order], |r| {
            Ok(WalkLine {
                id: r.get(0)?,
                position: r.get(1)?,
                sku: r.get(2)?,
                name: r.get(3)?,
                open: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(lines.into_iter().filter(|l| l.open > 0).collect())
}

/// The stops of one line of order `number` (see [`Replica::pick_walk`]), in walk order.
fn line_stops(
    conn: &Connection,
    paths: &mut Paths<'_>,
    number: &str,
    line: &WalkLine,
) -> Result<Vec<Stop>> {
    let reserved: Vec<(String, String, String, i64)> = conn
        .prepare_cached(
            "select product_id, location_id, lot_id, qty from sales_allocation
             where line_id = ?1",
        )?
        .query_map(params![line.id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut allocations = reserved
        .into_iter()
        .map(|(product, location, lot, qty)| {
            Ok(Allocation {
                key: StockKey {
                    product: parse_id(&product)?,
                    location: parse_id(&location)?,
                    lot: lot_from_col(&lot)?,
                },
                qty,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // This device's picks for the line since the last pull, in the order recorded.
    let mut picks = conn.prepare_cached(&format!(
        "select j.movement from journal j where {} order by j.device_seq",
        unsettled_on_line(SALES.movement, SALES.reference, "?1")
    ))?;
    let picked: Vec<String> = picks
        .query_map(params![line.id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for movement in picked {
        let movement: Movement = serde_json::from_str(&movement).map_err(Error::corrupt)?;
        if let MovementKind::Ship { from, qty } = movement.kind {
            let row = StockKey {
                product: movement.product,
                location: from,
                lot: movement.lot,
            };
            allocations = consume(row, qty.get(), &allocations).left;
        }
    }
    let mut stops = Vec::with_capacity(allocations.len());
    for allocation in allocations {
        let (bin, path) = paths.of(&allocation.key.location.to_string())?;
        let lot = match allocation.key.lot {
            Some(lot) => optional(conn.query_row(
                "select code from lot where id = ?1",
                params![lot.to_string()],
                |r| r.get(0),
            ))?,
            None => None,
        };
        let stop = PickStop {
            order: number.to_owned(),
            line: line.id.clone(),
            sku: line.sku.clone(),
            name: line.name.clone(),
            bin,
            path,
            lot,
            qty: allocation.qty,
        };
        stops.push((line.position, stop));
    }
    // Never more than the line still expects: the last stops of its walk give way.
    sort_walk(&mut stops, walk_key);
    let mut left = line.open;
    stops.retain_mut(|(_, stop)| {
        stop.qty = stop.qty.min(left);
        left -= stop.qty;
        stop.qty > 0
    });
    Ok(stops)
}
