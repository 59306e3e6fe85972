//! The dashboard's stock figures: units on hand, products in stock, and the products
//! whose available stock in a warehouse of the scope is below their reorder point.
//!
//! As the Stock screen shows stock: the pulled rows with this device's live journal
//! entries replayed over them. Most products have no live entry, so their figures come
//! from SQL aggregates over the pulled rows; only the products with live entries (few:
//! the pending journal's) are projected and added in Rust. Which pairs are low, and by
//! how much, is `logiflow_core::reorder`'s answer, as on the server: its SQL twin narrows
//! the query to the low pairs, and the rule decides each. A deactivated warehouse is not
//! watched, as on the server.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use logiflow_core::{LocationId, ProductId, WarehouseId, reorder};
use rusqlite::{OptionalExtension, params};

use crate::db::parse_id;
use crate::error::Result;
use crate::replica::{Products, Replica, live_products, project};

/// The dashboard's stock figures for the warehouses this device keeps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StockKpis {
    /// Units on hand, all products and bins.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub on_hand: i64,
    /// Products with units on hand.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub products_in_stock: u64,
    /// (warehouse, product) pairs whose available stock is below the product's reorder
    /// point (active products with one).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub low_stock: u64,
    /// The first of them, the largest shortfall first.
    pub low: Vec<LowStockLine>,
}

/// A product low on stock in a warehouse.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LowStockLine {
    /// The warehouse's code.
    pub warehouse_code: String,
    /// The product's SKU.
    pub sku: String,
    /// The product's name.
    pub name: String,
    /// On hand less allocated, over the warehouse's bins.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub available: i64,
    /// The product's reorder point.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub reorder_point: i64,
}

impl LowStockLine {
    fn shortfall(&self) -> i64 {
        reorder::shortfall(self.reorder_point, self.available).unwrap_or(0)
    }
}

/// Keeps the first `limit` of `low`: the largest shortfall first, then by SKU and
/// warehouse.
fn sort_and_cut(low: &mut Vec<LowStockLine>, limit: usize) {
    low.sort_by(|a, b| {
        b.shortfall()
            .cmp(&a.shortfall())
            .then_with(|| a.sku.cmp(&b.sku))
            .then_with(|| a.warehouse_code.cmp(&b.warehouse_code))
    });
    low.truncate(limit);
}

/// Most low-stock lines [`Replica::stock_kpis`] lists.
pub const LOW_STOCK_LINES_MAX: usize = 100;

impl Replica {
    /// The stock figures of the scope, with the live journal replayed (see the module).
    /// Lists the first `low_limit` (at most [`LOW_STOCK_LINES_MAX`]) low-stock lines.
    pub fn stock_kpis(&self, low_limit: usize) -> Result<StockKpis> {
        let low_limit = low_limit.min(LOW_STOCK_LINES_MAX);
        let live = live_products(&self.conn)?;
        let live_json =
            serde_json::to_string(&live.iter().map(ToString::to_string).collect::<Vec<_>>())
                .expect("strings serialise");

        // The products without live entries: straight from the pulled rows.
        let (pulled_on_hand, still_in_stock): (i64, i64) = self.conn.query_row(
            "select coalesce(sum(on_hand), 0),
                    (select count(*) from (
                        select product_id from stock_row
                        where product_id not in (select value from json_each(?1))
                        group by product_id having sum(on_hand) > 0))
             from stock_row",
            params![live_json],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut low = Vec::new();
        let mut low_stock: u64 = 0;
        {
            // The watched pairs (see `logiflow_core::reorder`: the scope's active
            // warehouses times the active products with a reorder point) that core's
            // SQL twin of the rule calls low, with their available stock; core decides
            // each again. Only the low ones are read, names included.
            let mut stmt = self.conn.prepare_cached(&format!(
                "with avail as (
                     select l.warehouse_id, s.product_id,
                            sum(s.on_hand - s.allocated) as available
                     from stock_row s join location l on l.id = s.location_id
                     group by l.warehouse_id, s.product_id
                 )
                 select p.reorder_point, coalesce(a.available, 0), w.code, p.sku, p.name
                 from scope sc
                 join warehouse w on w.id = sc.warehouse_id and w.active = 1
                 join product p on p.active = 1 and p.reorder_point > 0
                 left join avail a on a.warehouse_id = w.id and a.product_id = p.id
                 where p.id not in (select value from json_each(?1)) and {}",
                reorder::is_low_sql("p.reorder_point", "coalesce(a.available, 0)")
            ))?;
            let mut rows = stmt.query(params![live_json])?;
            while let Some(r) = rows.next()? {
                let (reorder_point, available): (i64, i64) = (r.get(0)?, r.get(1)?);
                if !reorder::is_low(reorder_point, available) {
                    continue;
                }
                low_stock += 1;
                low.push(LowStockLine {
                    warehouse_code: r.get(2)?,
                    sku: r.get(3)?,
                    name: r.get(4)?,
                    available,
                    reorder_point,
                });
                // Bounded: only the first `low_limit` are listed.
                if low.len() >= 2 * low_limit.max(1) + 64 {
                    sort_and_cut(&mut low, low_limit);
                }
            }
        }
        let mut kpis = StockKpis {
            on_hand: pulled_on_hand,
            products_in_stock: still_in_stock as u64,
            low_stock,
            low,
        };
        if !live.is_empty() {
            self.add_live(&live, &live_json, &mut kpis)?;
        }
        sort_and_cut(&mut kpis.low, low_limit);
        Ok(kpis)
    }

    /// Adds the figures of the products with live entries, from their projection.
    ///
    /// Longer than 80 lines: the pulled totals, their projected corrections and the
    /// low-stock lines are worked out in one pass over the same maps.
    fn add_live(
        &self,
        live: &BTreeSet<ProductId>,
        live_json: &str,
        kpis: &mut StockKpis,
    ) -> Result<()> {
        let projection = project(&self.conn, Products::Only(live), self.server_estimate()?)?;
        // Per (warehouse, product): (on hand, available) as pulled, over all its rows.
        let mut totals: BTreeMap<(WarehouseId, ProductId), (i64, i64)> = BTreeMap::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "select l.warehouse_id, s.product_id, sum(s.on_hand), sum(s.on_hand - s.allocated)
                 from stock_row s join location l on l.id = s.location_id
                 where s.product_id in (select value from json_each(?1))
                 group by l.warehouse_id, s.product_id",
            )?;
            let mut rows = stmt.query(params![live_json])?;
            while let Some(r) = rows.next()? {
                let key = (
                    parse_id(&r.get::<_, String>(0)?)?,
                    parse_id(&r.get::<_, String>(1)?)?,
                );
                totals.insert(key, (r.get(2)?, r.get(3)?));
            }
        }
        // The rows the journal touches: projected in place of pulled.
        let mut warehouses: HashMap<LocationId, Option<WarehouseId>> = HashMap::new();
        for (key, row) in &projection.rows {
            let warehouse = match warehouses.get(&key.location) {
                Some(w) => *w,
                None => {
                    let w = self.location_warehouse(key.location)?;
                    warehouses.insert(key.location, w);
                    w
                }
            };
            let pulled = projection.pulled.get(key).copied().unwrap_or_default();
            kpis.on_hand += row.on_hand - pulled.on_hand;
            if let Some(warehouse) = warehouse {
                let total = totals.entry((warehouse, key.product)).or_default();
                total.0 += row.on_hand - pulled.on_hand;
                total.1 += row.available() - pulled.available();
            }
        }
        let mut in_stock: BTreeMap<ProductId, i64> = BTreeMap::new();
        for ((_, product), (on_hand, _)) in &totals {
            *in_stock.entry(*product).or_default() += on_hand;
        }
        kpis.products_in_stock += in_stock.values().filter(|&&n| n > 0).count() as u64;

        let scope: Vec<(WarehouseId, String)> = {
            let mut stmt = self.conn.prepare_cached(
                "select w.id, w.code from scope sc
                 join warehouse w on w.id = sc.warehouse_id and w.active = 1",
            )?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push((parse_id(&r.get::<_, String>(0)?)?, r.get(1)?));
            }
            out
        };
        let mut stmt = self.conn.prepare_cached(
            "select id, sku, name, reorder_point from product
             where id in (select value from json_each(?1)) and active = 1 and reorder_point > 0",
        )?;
        let mut rows = stmt.query(params![live_json])?;
        while let Some(r) = rows.next()? {
            let product: ProductId = parse_id(&r.get::<_, String>(0)?)?;
            let (sku, name, reorder_point): (String, String, i64) =
                (r.get(1)?, r.get(2)?, r.get(3)?);
            for (warehouse, code) in &scope {
                let available = totals.get(&(*warehouse, product)).map_or(0, |t| t.1);
                if reorder::is_low(reorder_point, available) {
                    kpis.low_stock += 1;
                    kpis.low.push(LowStockLine {
                        warehouse_code: code.clone(),
                        sku: sku.clone(),
                        name: name.clone(),
                        available,
                        reorder_point,
                    });
                }
            }
        }
        Ok(())
    }

    /// The warehouse of a location, as the local catalog knows it.
    pub(crate) fn location_warehouse(&self, location: LocationId) -> Result<Option<WarehouseId>> {
        let id: Option<String> = self
            .conn
            .prepare_cached("select warehouse_id from location where id = ?1")?
            .query_row([location.to_string()], |r| r.get(0))
            .optional()?;
        id.map(|id| parse_id(&id)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use logiflow_core::QTY_MAX;
    use logiflow_core::reorder::{is_low_sql, shortfall, shortfall_sql};

    /// The SQL twin of the low-stock rule that narrows the dashboard's query says on
    /// SQLite what core says, on the rule's edges (as the server's test does on
    /// PostgreSQL).
    #[test]
    fn the_sql_low_stock_rule_agrees_with_core_on_sqlite() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let sql = format!(
            "select {}, {}",
            is_low_sql("?1", "?2"),
            shortfall_sql("?1", "?2")
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        for reorder_point in [0, 1, 3, 10, QTY_MAX] {
            for available in [-QTY_MAX, -3, -1, 0, 1, 2, 3, 9, 10, 11, QTY_MAX] {
                let (low, short): (bool, i64) = stmt
                    .query_row([reorder_point, available], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap();
                let want = shortfall(reorder_point, available);
                assert_eq!(low, want.is_some(), "{reorder_point} {available}");
                if let Some(want) = want {
                    assert_eq!(short, want, "{reorder_point} {available}");
                }
            }
        }
    }
}
