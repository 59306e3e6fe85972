//! Applying pull pages: the catalog, stock rows, ledger effects and outcomes a page
//! carries, the trigram index of product names kept up with them, and ledger pruning.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use logiflow_core::{PULL_PAGE_MAX, PullPage};
use rusqlite::{Transaction, params};

use super::Replica;
use super::push::write_outcome;
use super::time::set_clock_reference;
use crate::api::PullApplied;
use crate::db::{lot_col, ns};
use crate::{Error, Result};

/// How long pulled ledger effects are kept behind the server time when no unsettled
/// journal entry needs older ones (24 h, in milliseconds). New entries are stamped with
/// the corrected clock, so they occur after the last pull's server time; the margin
/// covers clock corrections and a device clock running behind.
pub const LEDGER_KEEP_MS: i64 = 24 * 60 * 60 * 1_000;

impl Replica {
    /// Stores a pull page just received from the server — catalog, stock rows, ledger
    /// effects, outcomes of this device's movements and the new cursor — in one
    /// transaction, and measures the clock offset from its `server_time`. Applying the
    /// same page again changes nothing.
    pub fn apply_pull(&mut self, page: &PullPage) -> Result<PullApplied> {
        self.store_page(page, true)
    }

    /// Stores a pull page read from a file (tests, demos, a snapshot carried on a USB
    /// stick): as [`Replica::apply_pull`], but the page's `server_time` says nothing
    /// about the clock now, so neither the clock offset nor the last pull time changes.
    pub fn import_page(&mut self, page: &PullPage) -> Result<PullApplied> {
        self.store_page(page, false)
    }

    fn store_page(&mut self, page: &PullPage, live: bool) -> Result<PullApplied> {
        let items = page.item_count();
        if items > PULL_PAGE_MAX {
            return Err(Error::PageTooLarge(items));
        }
        let now = self.env.now();
        let uptime = self.env.uptime();
        let tx = self.write()?;
        let mut applied = PullApplied::default();
        store_places(&tx, page, &mut applied)?;
        store_products(&tx, page, &mut applied)?;
        store_lots(&tx, page, &mut applied)?;
        store_purchase_orders(&tx, page, &mut applied)?;
        store_sales_orders(&tx, page, &mut applied)?;
        store_stock(&tx, page, &mut applied)?;
        // Outcomes of movements this journal does not hold (a device reinstalled under
        // the same id) are skipped: there is nothing here to update.
        for result in &page.outcomes {
            // The page that carries an outcome also carries the rows it changed (see
            // `logiflow_core::sync`), so from now on the pulled state includes it.
            if write_outcome(&tx, result, now, true)? {
                applied.outcomes += 1;
            }
        }
        tx.execute(
            "update sync_state set cursor = ?1",
            params![page.cursor.as_str()],
        )?;
        if live {
            // Half the round trip is ignored: a few hundred milliseconds at worst, far
            // less than the drift of an unsynchronised device clock that this corrects.
            let offset = (page.server_time - now).num_milliseconds();
            tx.execute(
                "update sync_state set last_pull_at_ns = ?1, clock_offset_ms = ?2",
                params![ns(now)?, offset],
            )?;
            set_clock_reference(&tx, page.server_time, uptime)?;
        }
        applied.pruned = prune_ledger(&tx, page.server_time)?;
        tx.commit()?;
        Ok(applied)
    }
}

/// Upserts the page's warehouses (the device's scope) and locations.
fn store_places(tx: &Transaction<'_>, page: &PullPage, applied: &mut PullApplied) -> Result<()> {
    for w in &page.warehouses {
        tx.prepare_cached(
            "insert into warehouse (id, code, name, time_zone, active) values (?1, ?2, ?3, ?4, ?5)
             on conflict (id) do update set code = excluded.code, name = excluded.name,
                 time_zone = excluded.time_zone, active = excluded.active",
        )?
        .execute(params![
            w.id.to_string(),
            w.code,
            w.name,
            w.time_zone,
            w.active
        ])?;
        // The server sends the warehouses of the device's scope.
        tx.prepare_cached("insert or ignore into scope (warehouse_id) values (?1)")?
            .execute(params![w.id.to_string()])?;
        applied.catalog += 1;
    }
    for l in &page.locations {
        tx.prepare_cached(
            "insert into location (id, warehouse_id, code, parent_id, is_leaf, active)
             values (?1, ?2, ?3, ?4, ?5, ?6)
             on conflict (id) do update set warehouse_id = excluded.warehouse_id,
                 code = excluded.code, parent_id = excluded.parent_id,
                 is_leaf = excluded.is_leaf, active = excluded.active",
        )?
        .execute(params![
            l.id.to_string(),
            l.warehouse.to_string(),
            l.code.as_str(),
            l.parent.map(|p| p.to_string()),
            l.is_leaf,
            l.active
        ])?;
        applied.catalog += 1;
    }
    Ok(())
}

/// Upserts the page's products and their barcodes, and indexes their names.
fn store_products(tx: &Transaction<'_>, page: &PullPage, applied: &mut PullApplied) -> Result<()> {
    // The products this page inserts get keys above the largest one now (SQLite
    // assigns the largest + 1, and nothing here deletes a product); their names go
    // into the trigram index in one statement, not row by row (see
    // migrations/replica/0005_search_index.sql).
    let mut indexed_to: i64 = tx
        .prepare_cached("select coalesce(max(key), 0) from product")?
        .query_row([], |r| r.get(0))?;
    let mut in_page = HashSet::new();
    for p in &page.products {
        if !in_page.insert(p.id) {
            // The same product again: index the first version before the upsert
            // below renames it (the rename trigger removes the indexed name).
            indexed_to = index_new_names(tx, indexed_to)?;
        }
        let id = p.id.to_string();
        let name_fold = p.name.to_lowercase();
        let upsert = || -> rusqlite::Result<i64> {
            tx.prepare_cached(
                "insert into product (id, sku, name, name_fold, lot_tracked, active,
                     reorder_point)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 on conflict (id) do update set sku = excluded.sku, name = excluded.name,
                     name_fold = excluded.name_fold, lot_tracked = excluded.lot_tracked,
                     active = excluded.active, reorder_point = excluded.reorder_point
                 returning key",
            )?
            .query_row(
                params![
                    id,
                    p.sku.as_str(),
                    p.name,
                    name_fold,
                    p.lot_tracked,
                    p.active,
                    p.reorder_point
                ],
                |r| r.get(0),
            )
        };
        let key = match upsert() {
            Ok(key) => key,
            // A SKU moved from one product to another within the changes: the old
            // holder is updated in this same page or a later one; free the SKU
            // meanwhile so the unique index does not refuse the page. (Tried after
            // the refusal, which undid only its own statement, rather than before
            // every product: a snapshot would pay a statement per product for it.)
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
            {
                tx.prepare_cached(
                    "update product set sku = '~' || id where sku = ?1 and id <> ?2",
                )?
                .execute(params![p.sku.as_str(), id])?;
                upsert()?
            }
            Err(e) => return Err(e.into()),
        };
        // The record carries the full set of barcodes: replace the old set. A product
        // this page created has none yet (most of a snapshot: a statement saved each).
        if key <= indexed_to {
            tx.prepare_cached("delete from barcode where product_id = ?1")?
                .execute(params![id])?;
        }
        for b in &p.barcodes {
            tx.prepare_cached(
                "insert into barcode (code, product_id) values (?1, ?2)
                 on conflict (code) do update set product_id = excluded.product_id",
            )?
            .execute(params![b.as_str(), id])?;
        }
        applied.catalog += 1;
    }
    if !page.products.is_empty() {
        index_new_names(tx, indexed_to)?;
    }
    Ok(())
}

/// Upserts the page's lots and deletes the locations it says were deleted.
fn store_lots(tx: &Transaction<'_>, page: &PullPage, applied: &mut PullApplied) -> Result<()> {
    for l in &page.lots {
        tx.prepare_cached(
            "insert into lot (id, product_id, code, expires_on) values (?1, ?2, ?3, ?4)
             on conflict (id) do update set product_id = excluded.product_id,
                 code = excluded.code, expires_on = excluded.expires_on, local = 0",
        )?
        .execute(params![
            l.id.to_string(),
            l.product.to_string(),
            l.code.as_str(),
            l.expires_on.map(|d| d.to_string())
        ])?;
        applied.catalog += 1;
    }
    // A lot this device created offline that the server mapped to its own lot of that
    // code (`logiflow_core::lots`) is dropped once no unsettled entry names it.
    tx.prepare_cached(
        "delete from lot where local = 1
           and exists (select 1 from lot s where s.local = 0
                         and s.product_id = lot.product_id and s.code = lot.code)
           and not exists (select 1 from journal j where j.settled = 0
                             and json_extract(j.movement, '$.lot') = lot.id)",
    )?
    .execute([])?;
    for id in &page.deleted_locations {
        // Only a location that never held stock can be deleted on the server, so no
        // row refers to it; a journal entry that named it stays as recorded.
        applied.catalog += tx
            .prepare_cached("delete from location where id = ?1")?
            .execute(params![id.to_string()])?;
    }
    Ok(())
}

/// Replaces each purchase order the page carries, with its lines.
fn store_purchase_orders(
    tx: &Transaction<'_>,
    page: &PullPage,
    applied: &mut PullApplied,
) -> Result<()> {
    for o in &page.purchase_orders {
        tx.prepare_cached(
            "insert into purchase_order (id, number, warehouse_id, supplier, expected_on, status)
             values (?1, ?2, ?3, ?4, ?5, ?6)
             on conflict (id) do update set number = excluded.number,
                 warehouse_id = excluded.warehouse_id, supplier = excluded.supplier,
                 expected_on = excluded.expected_on, status = excluded.status",
        )?
        .execute(params![
            o.id.to_string(),
            o.number,
            o.warehouse.to_string(),
            o.supplier,
            o.expected_on.map(|d| d.to_string()),
            o.status.as_str()
        ])?;
        tx.prepare_cached("delete from purchase_line where order_id = ?1")?
            .execute(params![o.id.to_string()])?;
        for (position, l) in o.lines.iter().enumerate() {
            tx.prepare_cached(
                "insert into purchase_line (id, order_id, position, product_id, qty, received)
                 values (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                l.id.to_string(),
                o.id.to_string(),
                position as i64,
                l.product.to_string(),
                l.qty,
                l.received
            ])?;
        }
        applied.catalog += 1;
    }
    Ok(())
}

/// Replaces each sales order the page carries, with its lines and reservations.
fn store_sales_orders(
    tx: &Transaction<'_>,
    page: &PullPage,
    applied: &mut PullApplied,
) -> Result<()> {
    for o in &page.sales_orders {
        tx.prepare_cached(
            "insert into sales_order (id, number, warehouse_id, customer, requested_on, status)
             values (?1, ?2, ?3, ?4, ?5, ?6)
             on conflict (id) do update set number = excluded.number,
                 warehouse_id = excluded.warehouse_id, customer = excluded.customer,
                 requested_on = excluded.requested_on, status = excluded.status",
        )?
        .execute(params![
            o.id.to_string(),
            o.number,
            o.warehouse.to_string(),
            o.customer,
            o.requested_on.to_string(),
            o.status.as_str()
        ])?;
        tx.prepare_cached("delete from sales_line where order_id = ?1")?
            .execute(params![o.id.to_string()])?;
        for (position, l) in o.lines.iter().enumerate() {
            tx.prepare_cached(
                "insert into sales_line (id, order_id, position, product_id, qty, picked)
                 values (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                l.id.to_string(),
                o.id.to_string(),
                position as i64,
                l.product.to_string(),
                l.qty,
                l.picked
            ])?;
            for a in &l.allocations {
                tx.prepare_cached(
                    "insert into sales_allocation (line_id, product_id, location_id, lot_id, qty)
                     values (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    l.id.to_string(),
                    a.key.product.to_string(),
                    a.key.location.to_string(),
                    lot_col(a.key.lot),
                    a.qty
                ])?;
            }
        }
        applied.catalog += 1;
    }
    Ok(())
}

/// Upserts the page's stock rows and adds its ledger effects.
fn store_stock(tx: &Transaction<'_>, page: &PullPage, applied: &mut PullApplied) -> Result<()> {
    for r in &page.rows {
        let (count_at, count_id) = match r.row.last_count {
            Some(k) => (Some(ns(k.at)?), Some(k.id.to_string())),
            None => (None, None),
        };
        tx.prepare_cached(
            "insert into stock_row (product_id, location_id, lot_id, on_hand, allocated,
                 last_count_at_ns, last_count_id)
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             on conflict (product_id, location_id, lot_id) do update set
                 on_hand = excluded.on_hand, allocated = excluded.allocated,
                 last_count_at_ns = excluded.last_count_at_ns,
                 last_count_id = excluded.last_count_id",
        )?
        .execute(params![
            r.key.product.to_string(),
            r.key.location.to_string(),
            lot_col(r.key.lot),
            r.row.on_hand,
            r.row.allocated,
            count_at,
            count_id
        ])?;
        applied.rows += 1;
    }
    for e in &page.effects {
        applied.effects += tx
            .prepare_cached(
                "insert or ignore into ledger_effect
                     (movement_id, product_id, location_id, lot_id, at_ns, delta)
                 values (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                e.movement.to_string(),
                e.key.product.to_string(),
                e.key.location.to_string(),
                lot_col(e.key.lot),
                ns(e.order.at)?,
                e.delta
            ])?;
    }
    Ok(())
}

/// Adds the names of the products with a key above `after` (inserted since) to the
/// trigram index; returns the largest key now indexed.
fn index_new_names(tx: &Transaction<'_>, after: i64) -> Result<i64> {
    tx.prepare_cached(
        "insert into product_name_fts (rowid, name_fold)
         select key, name_fold from product where key > ?1",
    )?
    .execute(params![after])?;
    Ok(tx
        .prepare_cached("select coalesce(max(key), ?1) from product")?
        .query_row(params![after], |r| r.get(0))?)
}

/// Drops pulled ledger effects no journal entry can need: those before the oldest entry
/// the projection decides again, and, beyond that, those older than [`LEDGER_KEEP_MS`] before the
/// server time (future entries will occur after it).
fn prune_ledger(tx: &Transaction<'_>, server_time: DateTime<Utc>) -> Result<usize> {
    // Only entries the projection decides again (never pushed, or held) read
    // `effects_after`; entries the server applied contribute its effects verbatim, and
    // rejected, absorbed or superseded ones nothing. Counting those too would let one
    // old rejection keep the whole ledger forever.
    let oldest: Option<i64> = tx.query_row(
        "select min(occurred_at_ns) from journal
         where (settled = 0 and status = 'pending') or outcome = 'held'",
        [],
        |r| r.get(0),
    )?;
    let keep_from = ns(server_time - TimeDelta::milliseconds(LEDGER_KEEP_MS))?;
    let horizon = oldest.map_or(keep_from, |o| o.min(keep_from));
    Ok(tx.execute(
        "delete from ledger_effect where at_ns < ?1",
        params![horizon],
    )?)
}
