//! [`Replica`]: the one entry point the desktop shell and the CLI call.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use logiflow_core::{
    Catalog, Delta, DeviceId, DeviceStamp, Effect, Flag, Hold, HoldReview, LocationFacts,
    LocationId, LotFacts, LotId, Movement, MovementId, MovementKind, MovementResult, OrderKey,
    Origin, Outcome, PULL_PAGE_MAX, PUSH_BATCH_MAX, PositiveQty, ProductFacts, ProductId, PullPage,
    PushRequest, PushResponse, PushedMovement, Qty, RejectCode, Rejection, StockKey, StockRow,
    TenantId, UserId, WarehouseId, validate,
};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::api::{
    Action, COUNT_BINS_MAX, COUNT_LINES_MAX, CountLine, CountScope, CountSheet, CountSubmission,
    DeviceInfo, ItemRef, JOURNAL_PAGE_MAX, JournalEntry, JournalFilter, JournalStatus, Op,
    ProductRef, PullApplied, Recorded, STOCK_LIMIT_MAX, Search, Status, StockLine, StockQuery,
    Warning,
};
use crate::clock::{self, ClockJump, Reference, Uptime};
use crate::db::{self, from_ns, lot_col, lot_from_col, ns, optional, order_key, parse_id};
use crate::env::{Env, SystemEnv};
use crate::projection::{self, Entry, Known, Projection};
use crate::{Error, Result};

/// How long pulled ledger effects are kept behind the server time when no unsettled
/// journal entry needs older ones (24 h, in milliseconds). New entries are stamped with
/// the corrected clock, so they occur after the last pull's server time; the margin
/// covers clock corrections and a device clock running behind.
pub const LEDGER_KEEP_MS: i64 = 24 * 60 * 60 * 1_000;

/// The default number of stock lines.
const STOCK_LIMIT_DEFAULT: usize = 200;

/// A device's local replica: one SQLite file.
#[derive(Debug)]
pub struct Replica {
    pub(crate) conn: Connection,
    pub(crate) env: Box<dyn Env>,
    /// The database file, beside which the sync lock lives.
    pub(crate) path: std::path::PathBuf,
}

impl Replica {
    /// Opens (creating and migrating if needed) the replica at `path`, with the real
    /// clock and randomness.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_env(path, Box::new(SystemEnv))
    }

    /// Opens the replica with an injected clock and randomness (tests, simulations).
    pub fn open_with_env(path: impl AsRef<Path>, env: Box<dyn Env>) -> Result<Self> {
        let conn = db::open(path.as_ref())?;
        Ok(Self {
            conn,
            env,
            path: path.as_ref().to_path_buf(),
        })
    }

    /// Sets up this device's identity. A device id is made here (UUIDv7) unless given
    /// (one already registered with the server).
    pub fn init_device(
        &mut self,
        tenant: TenantId,
        user: UserId,
        server_url: &str,
        device: Option<DeviceId>,
    ) -> Result<DeviceInfo> {
        let now = self.env.now();
        let random = self.env.random();
        let tx = self.write()?;
        if let Some(existing) = read_device(&tx)? {
            return Err(Error::AlreadyInitialized(existing.device.to_string()));
        }
        let device = device.unwrap_or_else(|| {
            DeviceId::new_v7(u64::try_from(now.timestamp_millis()).unwrap_or(0), random)
        });
        let url = server_url.trim();
        if url.is_empty() {
            return Err(Error::InvalidInput {
                field: "server_url",
                message: "must not be empty".into(),
            });
        }
        tx.execute(
            "insert into device (singleton, device_id, tenant_id, user_id, server_url, created_at_ns)
             values (1, ?1, ?2, ?3, ?4, ?5)",
            params![
                device.to_string(),
                tenant.to_string(),
                user.to_string(),
                url,
                ns(now)?
            ],
        )?;
        tx.commit()?;
        Ok(DeviceInfo {
            device,
            tenant,
            user,
            server_url: url.to_owned(),
        })
    }

    /// The device's identity, once set up.
    pub fn device(&self) -> Result<Option<DeviceInfo>> {
        read_device(&self.conn)
    }

    pub(crate) fn write(&mut self) -> Result<Transaction<'_>> {
        // IMMEDIATE takes the write lock at BEGIN, so the device_seq read inside the
        // transaction cannot race another writer (the desktop app and a CLI at once).
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

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
        for w in &page.warehouses {
            tx.prepare_cached(
                "insert into warehouse (id, code, name, time_zone) values (?1, ?2, ?3, ?4)
                 on conflict (id) do update set code = excluded.code, name = excluded.name,
                     time_zone = excluded.time_zone",
            )?
            .execute(params![w.id.to_string(), w.code, w.name, w.time_zone])?;
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
                indexed_to = index_new_names(&tx, indexed_to)?;
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
            index_new_names(&tx, indexed_to)?;
        }
        for l in &page.lots {
            tx.prepare_cached(
                "insert into lot (id, product_id, code, expires_on) values (?1, ?2, ?3, ?4)
                 on conflict (id) do update set product_id = excluded.product_id,
                     code = excluded.code, expires_on = excluded.expires_on",
            )?
            .execute(params![
                l.id.to_string(),
                l.product.to_string(),
                l.code.as_str(),
                l.expires_on.map(|d| d.to_string())
            ])?;
            applied.catalog += 1;
        }
        for id in &page.deleted_locations {
            // Only a location that never held stock can be deleted on the server, so no
            // row refers to it; a journal entry that named it stays as recorded.
            applied.catalog += tx
                .prepare_cached("delete from location where id = ?1")?
                .execute(params![id.to_string()])?;
        }
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

    /// Records an action in the journal: resolves and validates it against the local
    /// catalog (refusing it at once if invalid), stamps it (UUIDv7, next `device_seq`,
    /// corrected clock, base cursor) and commits it in one transaction, synced to disk.
    ///
    /// An outbound beyond the projected stock is recorded (it physically happened) with a
    /// `beyond_projected_stock` warning.
    ///
    /// Refused with `clock_jumped` when the device's clock jumped since the server last
    /// answered ([`Replica::check_clock`]); [`Replica::accept_clock`] confirms it.
    pub fn record(&mut self, action: &Action) -> Result<Recorded> {
        let device_clock = self.env.now();
        let random = self.env.random();
        let uptime = self.env.uptime();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_before_recording(&tx, device_clock, uptime.as_ref())?;
        let recorded = record_in(&tx, device_clock, random, action, uptime.as_ref())?;
        tx.commit()?;
        Ok(recorded)
    }

    /// Records a finished count: one `count` movement per line, all in one transaction,
    /// so a count is recorded whole or not at all. A line that fails refuses the count
    /// with [`Error::CountLine`], naming the line. A row (product, bin, lot) may appear
    /// once: the screen adds up repeated scans of one item before submitting.
    pub fn record_count(&mut self, count: &CountSubmission) -> Result<Vec<Recorded>> {
        if count.lines.is_empty() {
            return Err(Error::InvalidInput {
                field: "lines",
                message: "nothing was counted".into(),
            });
        }
        if count.lines.len() > COUNT_LINES_MAX {
            return Err(Error::InvalidInput {
                field: "lines",
                message: format!(
                    "{} lines; at most {COUNT_LINES_MAX} may be recorded at once",
                    count.lines.len()
                ),
            });
        }
        // Not `self.write()`: the clock and randomness are read inside the transaction.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let uptime = self.env.uptime();
        // The first line's clock reading is the one checked.
        let mut first_clock = Some(self.env.now());
        if let Some(clock) = first_clock {
            check_before_recording(&tx, clock, uptime.as_ref())?;
        }
        let mut seen = BTreeSet::new();
        let mut recorded = Vec::with_capacity(count.lines.len());
        for (index, line) in count.lines.iter().enumerate() {
            let in_line = |source: Error| Error::CountLine {
                line: index + 1,
                source: Box::new(source),
            };
            let action = Action {
                item: line.item.clone(),
                lot: line.lot.clone(),
                warehouse: count.warehouse.clone(),
                op: Op::Count {
                    at: line.bin.clone(),
                    counted: line.counted,
                    expected: line.expected,
                },
                reference: None,
            };
            let done = record_in(
                &tx,
                first_clock.take().unwrap_or_else(|| self.env.now()),
                self.env.random(),
                &action,
                uptime.as_ref(),
            )
            .map_err(in_line)?;
            let key = match done.movement.kind {
                MovementKind::Count { at, .. } => (done.movement.product, at, done.movement.lot),
                _ => unreachable!("a count line records a count"),
            };
            if !seen.insert(key) {
                return Err(in_line(Error::InvalidInput {
                    field: "lines",
                    message: format!("{} in bin {} is counted twice", line_item(line), line.bin),
                }));
            }
            recorded.push(done);
        }
        tx.commit()?;
        Ok(recorded)
    }

    /// The product a scan or typed SKU names, as [`Replica::record`] would resolve it:
    /// an exact barcode first, else a SKU; a misread GTIN says so.
    pub fn resolve_item(&self, item: &ItemRef) -> Result<ProductRef> {
        let found = resolve_product(&self.conn, item)?;
        let name = self.conn.query_row(
            "select name from product where id = ?1",
            params![found.id.to_string()],
            |r| r.get(0),
        )?;
        Ok(ProductRef {
            id: found.id,
            sku: found.sku,
            name,
            lot_tracked: found.lot_tracked,
        })
    }

    /// What a count of `scope` covers: the bin itself, or every active bin under a zone
    /// (at most [`COUNT_BINS_MAX`]), with the projected stock in them.
    pub fn count_sheet(&self, scope: &CountScope) -> Result<CountSheet> {
        let root = resolve_location(&self.conn, &scope.location, scope.warehouse.as_deref())?;
        let (location, warehouse, is_bin): (String, Option<String>, bool) = self.conn.query_row(
            "select l.code, w.code, l.is_leaf from location l
             left join warehouse w on w.id = l.warehouse_id where l.id = ?1",
            params![root.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        // The subtree by parent links; `union` (not `union all`) stops at a cycle that a
        // damaged catalog could hold.
        let mut stmt = self.conn.prepare_cached(
            "with recursive sub(id) as (
                 select ?1 union select c.id from location c join sub on c.parent_id = sub.id)
             select l.id, l.code from location l join sub on sub.id = l.id
             where l.is_leaf = 1 and l.active = 1 order by l.code limit ?2",
        )?;
        let found: Vec<(String, String)> = stmt
            .query_map(params![root.to_string(), COUNT_BINS_MAX as i64 + 1], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        if found.len() > COUNT_BINS_MAX {
            return Err(Error::InvalidInput {
                field: "location",
                message: format!(
                    "{location} holds more than {COUNT_BINS_MAX} bins: count one of its zones at a time"
                ),
            });
        }
        if found.is_empty() {
            return Err(Error::InvalidInput {
                field: "location",
                message: format!("{location} holds no active bin to count"),
            });
        }
        let ids = found
            .iter()
            .map(|(id, _)| parse_id::<LocationId>(id))
            .collect::<Result<BTreeSet<_>>>()?;
        let query = StockQuery {
            warehouse: warehouse.clone(),
            limit: Some(STOCK_LIMIT_MAX),
            ..StockQuery::default()
        };
        let lines = self.stock_in(&query, Some(&ids))?;
        Ok(CountSheet {
            location,
            warehouse: warehouse.unwrap_or_default(),
            is_bin,
            bins: found.into_iter().map(|(_, code)| code).collect(),
            lines,
        })
    }
}

fn line_item(line: &CountLine) -> &str {
    match &line.item {
        ItemRef::Sku(s) | ItemRef::Barcode(s) | ItemRef::Scan(s) => s.trim(),
    }
}

/// [`Replica::record`] inside the caller's transaction, which commits it.
fn record_in(
    tx: &Transaction<'_>,
    device_clock: DateTime<Utc>,
    random: [u8; 10],
    action: &Action,
    uptime: Option<&Uptime>,
) -> Result<Recorded> {
    let device = read_device(tx)?.ok_or(Error::NotInitialized)?;
    let product = resolve_product(tx, &action.item)?;
    let lot = match &action.lot {
        None => None,
        Some(code) => Some(resolve_lot(tx, &product, code)?),
    };
    let wh = action.warehouse.as_deref();
    let kind = match &action.op {
        Op::Receive { to, qty } => MovementKind::Receive {
            to: resolve_location(tx, to, wh)?,
            qty: PositiveQty::new(*qty).map_err(|e| Error::qty("qty", e))?,
        },
        Op::Ship { from, qty } => MovementKind::Ship {
            from: resolve_location(tx, from, wh)?,
            qty: PositiveQty::new(*qty).map_err(|e| Error::qty("qty", e))?,
        },
        Op::Transfer { from, to, qty } => MovementKind::Transfer {
            from: resolve_location(tx, from, wh)?,
            to: resolve_location(tx, to, wh)?,
            qty: PositiveQty::new(*qty).map_err(|e| Error::qty("qty", e))?,
        },
        Op::Adjust { at, delta, reason } => MovementKind::Adjust {
            at: resolve_location(tx, at, wh)?,
            delta: Delta::new(*delta).map_err(|e| Error::qty("delta", e))?,
            reason: *reason,
        },
        Op::Count {
            at,
            counted,
            expected,
        } => MovementKind::Count {
            at: resolve_location(tx, at, wh)?,
            counted: Qty::new(*counted).map_err(|e| Error::qty("counted", e))?,
            expected: expected
                .map(Qty::new)
                .transpose()
                .map_err(|e| Error::qty("expected", e))?,
        },
    };

    let (cursor, offset_ms): (Option<String>, i64) =
        tx.query_row("select cursor, clock_offset_ms from sync_state", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (last_seq, last_at): (i64, Option<i64>) = tx.query_row(
        "select coalesce(max(device_seq), 0),
                    (select occurred_at_ns from journal order by device_seq desc limit 1)
             from journal",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let occurred_at = stamp_time(device_clock, offset_ms, last_at.map(from_ns))?;
    let seq = u64::try_from(last_seq + 1).map_err(Error::corrupt)?;
    let id = MovementId::new_v7(
        u64::try_from(occurred_at.timestamp_millis()).unwrap_or(0),
        random,
    );
    let movement = Movement {
        id,
        occurred_at,
        product: product.id,
        lot,
        kind,
        user: device.user,
        device: Some(DeviceStamp {
            device: device.device,
            seq,
        }),
        reference: action.reference,
    };

    let facts = LocalCatalog::load(tx, &movement)?;
    // The day for lot expiry is taken in UTC: the replica has no time-zone database
    // yet. For a journal fact expiry only raises a flag (never a refusal), so the
    // difference is a flag raised or not in the hours around midnight.
    let flags = validate(&movement, Origin::Journal, &facts, occurred_at.date_naive())
        .map_err(Error::Rejected)?;

    let json = serde_json::to_string(&movement).map_err(Error::corrupt)?;
    tx.prepare_cached(
        "insert into journal (device_seq, id, occurred_at_ns, recorded_at_ns, base_cursor,
                 user_id, kind, movement, product_id)
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        last_seq + 1,
        id.to_string(),
        ns(occurred_at)?,
        ns(device_clock)?,
        cursor,
        device.user.to_string(),
        kind_name(&movement.kind),
        json,
        movement.product.to_string()
    ])?;

    let received_at = server_now(tx, device_clock, uptime)?;
    let projection = project(
        tx,
        Products::Only(&BTreeSet::from([movement.product])),
        received_at,
    )?;
    let mut warnings: Vec<Warning> = flags.iter().map(flag_warning).collect();
    let projected = match projection.predicted.get(&id) {
        Some((outcome, flags)) => {
            if let Outcome::Held(Hold {
                review: Some(HoldReview::ClockAhead { ahead_secs, .. }),
                ..
            }) = outcome
            {
                warnings.push(Warning {
                    code: "clock_ahead".into(),
                    message: format!(
                        "dated {} after the server's time as this device estimates it: the server will hold it for a manager",
                        clock::human_duration(ahead_secs.unsigned_abs())
                    ),
                });
            } else if let Outcome::Held(hold) = outcome {
                warnings.push(Warning {
                        code: "beyond_projected_stock".into(),
                        message: format!(
                            "only {} projected in the bin, {} needed: recorded anyway; the server will hold it until the stock that came first is known",
                            hold.at_time, hold.needed
                        ),
                    });
            }
            warnings.extend(flags.iter().map(flag_warning));
            outcome.name().to_owned()
        }
        None => "unknown".to_owned(),
    };
    Ok(Recorded {
        seq,
        movement,
        projected,
        warnings,
    })
}

impl Replica {
    /// Stock as the person should see it: the pulled state plus this device's unsettled
    /// journal, replayed by the core rules; filtered by product search, bin and
    /// warehouse; ordered by SKU, bin code and lot code.
    pub fn stock(&self, query: &StockQuery) -> Result<Vec<StockLine>> {
        self.stock_in(query, None)
    }

    /// [`Replica::stock`], limited to the bins `within` when given.
    ///
    /// The pulled rows that match come from one indexed query; only the products among
    /// them that have live journal entries, and the products with live entries that the
    /// search names (their rows may exist only in the projection), are replayed.
    fn stock_in(
        &self,
        query: &StockQuery,
        within: Option<&BTreeSet<LocationId>>,
    ) -> Result<Vec<StockLine>> {
        let limit = query
            .limit
            .unwrap_or(STOCK_LIMIT_DEFAULT)
            .min(STOCK_LIMIT_MAX);
        let filter = Filter::new(query, within);
        let condition = filter.lines_condition(&self.conn, limit)?;

        let sql = format!(
            "select r.product_id, p.sku, p.name, r.location_id, l.code, w.code, r.lot_id, lt.code,
                    r.on_hand, r.allocated
             from stock_row r
             join product p on p.id = r.product_id
             join location l on l.id = r.location_id
             left join warehouse w on w.id = l.warehouse_id
             left join lot lt on lt.id = r.lot_id
             where {}
             order by p.sku, l.code, coalesce(lt.code, '')
             limit {limit}",
            condition
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut lines = Vec::new();
        let mut rows = stmt.query(filter.params(&sql).as_slice())?;
        while let Some(r) = rows.next()? {
            lines.push(line_from_row(r)?);
        }

        let live = live_products(&self.conn)?;
        if live.is_empty() {
            return Ok(lines);
        }
        let mut replay: BTreeSet<ProductId> = lines
            .iter()
            .map(|l| l.product)
            .filter(|p| live.contains(p))
            .collect();
        replay.extend(filter.live_matches(&self.conn)?);
        if replay.is_empty() {
            return Ok(lines);
        }
        let projection = project(&self.conn, Products::Only(&replay), self.server_estimate()?)?;

        let mut seen = BTreeSet::new();
        for line in &mut lines {
            let key = StockKey {
                product: line.product,
                location: line.location,
                lot: line.lot,
            };
            if let Some(p) = projection.rows.get(&key) {
                overlay(line, p, projection.pulled.get(&key));
            }
            seen.insert(key);
        }
        // Rows that exist only in the projection (first booking to a row).
        let one = format!(
            "select p.id, p.sku, p.name, l.id, l.code, w.code, :lot, lt.code, 0, 0
             from product p
             join location l on l.id = :l
             left join warehouse w on w.id = l.warehouse_id
             left join lot lt on lt.id = :lot
             where p.id = :p and {}",
            filter.exact
        );
        for (key, row) in &projection.rows {
            if seen.contains(key) || projection.pulled.contains_key(key) {
                continue;
            }
            let mut stmt = self.conn.prepare_cached(&one)?;
            let mut params = filter.params(&one);
            let (p, l, lot) = (
                key.product.to_string(),
                key.location.to_string(),
                lot_col(key.lot),
            );
            params.push((":p", &p as &dyn rusqlite::ToSql));
            params.push((":l", &l));
            params.push((":lot", &lot));
            let mut rows = stmt.query(params.as_slice())?;
            if let Some(r) = rows.next()? {
                let mut line = line_from_row(r)?;
                overlay(&mut line, row, None);
                lines.push(line);
            }
        }
        lines.sort_by(|a, b| {
            (&a.sku, &a.location_code, &a.lot_code).cmp(&(&b.sku, &b.location_code, &b.lot_code))
        });
        lines.truncate(limit);
        Ok(lines)
    }

    /// Journal entries not pushed yet, in order.
    pub fn pending(&self) -> Result<Vec<JournalEntry>> {
        self.journal(&JournalFilter {
            status: Some(JournalStatus::Pending),
            after_seq: None,
            limit: None,
        })
    }

    /// The next push request: the oldest unpushed entries, at most
    /// [`logiflow_core::PUSH_BATCH_MAX`], in `device_seq` order.
    pub fn push_batch(&self) -> Result<PushRequest> {
        self.push_batch_from(None, PUSH_BATCH_MAX)
    }

    /// A push request of at most `limit` entries (capped at
    /// [`logiflow_core::PUSH_BATCH_MAX`]): the oldest unpushed ones, or, with `from`,
    /// every entry from that `device_seq` on, pushed or not (to resend what a server
    /// answering `sequence_gap` lacks).
    pub fn push_batch_from(&self, from: Option<u64>, limit: usize) -> Result<PushRequest> {
        let device = read_device(&self.conn)?.ok_or(Error::NotInitialized)?;
        let limit = limit.clamp(1, PUSH_BATCH_MAX);
        let from = from.map(|f| i64::try_from(f).unwrap_or(i64::MAX));
        let mut stmt = self.conn.prepare(
            "select movement, base_cursor from journal
             where (?2 is null and status = 'pending') or device_seq >= ?2
             order by device_seq limit ?1",
        )?;
        let mut movements = Vec::new();
        let mut rows = stmt.query(params![limit as i64, from])?;
        while let Some(r) = rows.next()? {
            let json: String = r.get(0)?;
            let base: Option<String> = r.get(1)?;
            movements.push(PushedMovement {
                movement: serde_json::from_str(&json).map_err(Error::corrupt)?,
                base_cursor: base.map(logiflow_core::Cursor::new),
            });
        }
        Ok(PushRequest {
            device: device.device,
            movements,
        })
    }

    /// Journal entries, oldest first.
    pub fn journal(&self, filter: &JournalFilter) -> Result<Vec<JournalEntry>> {
        let limit = filter
            .limit
            .unwrap_or(JOURNAL_PAGE_MAX)
            .min(JOURNAL_PAGE_MAX);
        let status = filter.status.map(|s| match s {
            JournalStatus::Pending => "pending",
            JournalStatus::Pushed => "pushed",
        });
        let after = i64::try_from(filter.after_seq.unwrap_or(0)).unwrap_or(i64::MAX);
        self.entries(
            "where (?1 is null or status = ?1) and device_seq > ?2 order by device_seq limit ?3",
            params![status, after, limit as i64],
        )
    }

    /// The newest `limit` journal entries (at most [`JOURNAL_PAGE_MAX`]), newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<JournalEntry>> {
        self.entries(
            "order by device_seq desc limit ?1",
            params![limit.min(JOURNAL_PAGE_MAX) as i64],
        )
    }

    /// Entries the server held or rejected, or flagged for review (forced ones among
    /// them), oldest first. A voided entry leaves the inbox, as on the server.
    pub fn conflicts(&self) -> Result<Vec<JournalEntry>> {
        self.entries(
            "where outcome in ('held', 'rejected') or flagged = 1 order by device_seq limit ?1",
            params![JOURNAL_PAGE_MAX as i64],
        )
    }

    fn entries(&self, tail: &str, params: impl rusqlite::Params) -> Result<Vec<JournalEntry>> {
        let sql = format!(
            "select device_seq, id, kind, occurred_at_ns, base_cursor, status, outcome,
                    outcome_detail, settled, movement
             from journal {tail}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let status: String = r.get(5)?;
            let detail: Option<String> = r.get(7)?;
            let movement: String = r.get(9)?;
            out.push(JournalEntry {
                seq: u64::try_from(r.get::<_, i64>(0)?).map_err(Error::corrupt)?,
                id: parse_id(&r.get::<_, String>(1)?)?,
                kind: r.get(2)?,
                occurred_at: from_ns(r.get(3)?),
                base_cursor: r.get(4)?,
                status: if status == "pending" {
                    JournalStatus::Pending
                } else {
                    JournalStatus::Pushed
                },
                outcome: r.get(6)?,
                result: detail
                    .map(|d| serde_json::from_str(&d))
                    .transpose()
                    .map_err(Error::corrupt)?,
                settled: r.get(8)?,
                movement: serde_json::from_str(&movement).map_err(Error::corrupt)?,
            });
        }
        Ok(out)
    }

    /// The replica's state at a glance.
    pub fn status(&self) -> Result<Status> {
        let device = read_device(&self.conn)?;
        type SyncRow = (
            Option<String>,
            Option<i64>,
            Option<i64>,
            i64,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
        );
        let (cursor, last_pull, last_push, offset, last_sync, err_code, err, contact, perms, ends): SyncRow =
            self.conn.query_row(
                "select cursor, last_pull_at_ns, last_push_at_ns, clock_offset_ms,
                        last_sync_at_ns, last_sync_error_code, last_sync_error,
                        last_contact_at_ns, permissions, session_expires_at_ns
                 from sync_state",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                    ))
                },
            )?;
        let session_expires_at = ends.map(from_ns);
        let permissions: Vec<String> = match perms {
            Some(text) => serde_json::from_str(&text).map_err(Error::corrupt)?,
            None => Vec::new(),
        };
        let (pending, last_seq, conflicts): (i64, i64, i64) = self.conn.query_row(
            "select count(*) filter (where status = 'pending'),
                    coalesce(max(device_seq), 0),
                    count(*) filter (where outcome in ('held', 'rejected') or flagged = 1)
             from journal",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(Status {
            device,
            schema_version: db::user_version(&self.conn)?,
            pending: u64::try_from(pending).unwrap_or(0),
            last_seq: u64::try_from(last_seq).unwrap_or(0),
            conflicts: u64::try_from(conflicts).unwrap_or(0),
            last_pull_at: last_pull.map(from_ns),
            last_push_at: last_push.map(from_ns),
            cursor,
            clock_offset_ms: offset,
            last_sync_at: last_sync.map(from_ns),
            last_sync_error: err_code.map(|code| crate::ErrorBody {
                code,
                message: err.unwrap_or_default(),
            }),
            last_contact_at: contact.map(from_ns),
            permissions,
            session_expires_at,
            session_ends_soon: crate::api::session_ends_soon(session_expires_at, self.env.now()),
        })
    }

    /// Writes the outcomes of a push response back to the journal, in one transaction.
    /// Applying the same response again changes nothing.
    pub fn mark_pushed(&mut self, response: &PushResponse) -> Result<usize> {
        let now = self.env.now();
        let uptime = self.env.uptime();
        let tx = self.write()?;
        let mut written = 0;
        for result in &response.results {
            if !write_outcome(&tx, result, now, false)? {
                return Err(Error::UnknownMovement(result.movement.to_string()));
            }
            written += 1;
        }
        let offset = (response.server_time - now).num_milliseconds();
        tx.execute(
            "update sync_state set last_push_at_ns = ?1, clock_offset_ms = ?2",
            params![ns(now)?, offset],
        )?;
        set_clock_reference(&tx, response.server_time, uptime)?;
        tx.commit()?;
        Ok(written)
    }

    /// The replica's estimate of the server's time now ([`server_now`]).
    pub(crate) fn server_estimate(&self) -> Result<DateTime<Utc>> {
        server_now(&self.conn, self.env.peek(), self.env.uptime().as_ref())
    }

    /// Checks this device's clock before recording ([`crate::clock`]): `Some` when it
    /// jumped since the server last answered (or since a person confirmed it).
    pub fn check_clock(&self) -> Result<Option<ClockJump>> {
        let device_clock = self.env.peek();
        let (corrected, reference) = corrected_clock(&self.conn, device_clock)?;
        Ok(clock::check(
            corrected,
            reference.as_ref(),
            self.env.uptime().as_ref(),
        ))
    }

    /// A person confirms this device's clock as it reads now (after a `clock_jumped`
    /// refusal they checked): it becomes the reference the next recordings are checked
    /// against, until the next sync measures the server's time again. Nothing recorded
    /// is re-dated. Returns the time confirmed (the clock corrected by the offset).
    pub fn accept_clock(&mut self) -> Result<DateTime<Utc>> {
        let device_clock = self.env.now();
        let uptime = self.env.uptime();
        let tx = self.write()?;
        let (corrected, _) = corrected_clock(&tx, device_clock)?;
        set_clock_reference(&tx, corrected, uptime)?;
        tx.commit()?;
        Ok(corrected)
    }
}

/// Refuses to record when the clock jumped (see [`Replica::check_clock`]).
fn check_before_recording(
    conn: &Connection,
    device_clock: DateTime<Utc>,
    uptime: Option<&Uptime>,
) -> Result<()> {
    let (corrected, reference) = corrected_clock(conn, device_clock)?;
    match clock::check(corrected, reference.as_ref(), uptime) {
        Some(jump) => Err(Error::ClockJumped(jump)),
        None => Ok(()),
    }
}

/// Sets the time the replica trusts (the server's, or a person's) and the uptime then.
fn set_clock_reference(
    tx: &Transaction<'_>,
    at: DateTime<Utc>,
    uptime: Option<Uptime>,
) -> Result<()> {
    let (boot, ms) = match uptime {
        Some(u) => (Some(u.boot), Some(u.ms)),
        None => (None, None),
    };
    tx.execute(
        "update sync_state set clock_ref_at_ns = ?1, clock_ref_boot = ?2, clock_ref_uptime_ms = ?3",
        params![ns(at)?, boot, ms],
    )?;
    Ok(())
}

/// The device clock corrected by the measured offset, and the clock reference.
fn corrected_clock(
    conn: &Connection,
    device_clock: DateTime<Utc>,
) -> Result<(DateTime<Utc>, Option<Reference>)> {
    let (offset_ms, at, boot, ms): (i64, Option<i64>, Option<String>, Option<i64>) = conn
        .query_row(
            "select clock_offset_ms, clock_ref_at_ns, clock_ref_boot, clock_ref_uptime_ms
             from sync_state",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    let reference = at.map(|at| Reference {
        at: from_ns(at),
        uptime: match (boot, ms) {
            (Some(boot), Some(ms)) => Some(Uptime { boot, ms }),
            _ => None,
        },
    });
    Ok((device_clock + TimeDelta::milliseconds(offset_ms), reference))
}

/// The replica's estimate of the server's time now (see [`clock::estimate`]): when its
/// projection predicts the server's bound on an unsent entry's date.
pub(crate) fn server_now(
    conn: &Connection,
    device_clock: DateTime<Utc>,
    uptime: Option<&Uptime>,
) -> Result<DateTime<Utc>> {
    let (corrected, reference) = corrected_clock(conn, device_clock)?;
    Ok(clock::estimate(corrected, reference.as_ref(), uptime))
}

/// The corrected time for a new entry: the device clock plus the server offset, to the
/// microsecond (what PostgreSQL's `timestamptz` keeps, so the server orders events
/// exactly as the device does), and strictly after the previous entry, so this device's
/// own entries stay in the order they were recorded even if the offset moves backwards
/// a little. Only a little: a previous entry more than [`clock::CLOCK_JUMP_TOLERANCE_MS`]
/// ahead was recorded with a clock that ran ahead (the check before recording passed, so
/// the clock is right now), and following it would carry that wrong date into every new
/// entry; the new entry keeps the right time.
fn stamp_time(
    device_clock: DateTime<Utc>,
    offset_ms: i64,
    previous: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>> {
    let corrected = device_clock + TimeDelta::milliseconds(offset_ms);
    let micros = corrected.timestamp_micros();
    let mut at = DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| Error::corrupt("the clock is out of range"))?;
    if let Some(prev) = previous
        && at <= prev
        && prev - at <= TimeDelta::milliseconds(clock::CLOCK_JUMP_TOLERANCE_MS)
    {
        at = prev + TimeDelta::microseconds(1);
    }
    Ok(at)
}

/// Stores a movement's outcome; `settled` when a pull carried it. Returns whether the
/// journal holds the movement.
fn write_outcome(
    tx: &Transaction<'_>,
    result: &MovementResult,
    now: DateTime<Utc>,
    settled: bool,
) -> Result<bool> {
    let detail = serde_json::to_string(result).map_err(Error::corrupt)?;
    let seq = i64::try_from(result.seq).map_err(Error::corrupt)?;
    let found: Option<i64> = optional(tx.query_row(
        "select device_seq from journal where id = ?1",
        params![result.movement.to_string()],
        |r| r.get(0),
    ))?;
    match found {
        None => return Ok(false),
        Some(s) if s != seq => {
            return Err(Error::corrupt(format!(
                "the server reports movement {} at seq {}, the journal has it at {s}",
                result.movement, result.seq
            )));
        }
        Some(_) => {}
    }
    // A pull's outcome is the latest word: a push response arriving after it (a re-push
    // answered from the server's store) must not turn an outcome the pulled rows already
    // include back into one the projection would apply a second time.
    tx.prepare_cached(
        "update journal set status = 'pushed', outcome = ?2, outcome_detail = ?3,
             flagged = ?4, settled = max(settled, ?5),
             pushed_at_ns = coalesce(pushed_at_ns, ?6)
         where id = ?1 and (?5 or settled = 0)",
    )?
    .execute(params![
        result.movement.to_string(),
        result.outcome.name(),
        detail,
        !result.flags.is_empty(),
        settled,
        ns(now)?
    ])?;
    Ok(true)
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

fn read_device(conn: &Connection) -> Result<Option<DeviceInfo>> {
    let row: Option<(String, String, String, String)> = optional(conn.query_row(
        "select device_id, tenant_id, user_id, server_url from device",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    ))?;
    row.map(|(d, t, u, url)| {
        Ok(DeviceInfo {
            device: parse_id(&d)?,
            tenant: parse_id(&t)?,
            user: parse_id(&u)?,
            server_url: url,
        })
    })
    .transpose()
}

struct ResolvedProduct {
    id: ProductId,
    sku: String,
    lot_tracked: bool,
}

fn resolve_product(conn: &Connection, item: &ItemRef) -> Result<ResolvedProduct> {
    let by_sku = |raw: &str| -> Result<Option<ResolvedProduct>> {
        let Ok(sku) = logiflow_core::Sku::parse(raw) else {
            return Ok(None);
        };
        product_where(conn, "sku = ?1", sku.as_str())
    };
    let by_barcode = |raw: &str| -> Result<Option<ResolvedProduct>> {
        product_where(
            conn,
            "id = (select product_id from barcode where code = ?1)",
            raw.trim(),
        )
    };
    let (found, what, value) = match item {
        ItemRef::Sku(s) => {
            logiflow_core::Sku::parse(s).map_err(|e| Error::code_err("sku", e))?;
            (by_sku(s)?, "sku", s)
        }
        ItemRef::Barcode(b) => (by_barcode(b)?, "barcode", b),
        ItemRef::Scan(s) => {
            let found = match by_barcode(s)? {
                Some(p) => Some(p),
                None => by_sku(s)?,
            };
            // A GTIN with a wrong check digit is a misread scan: say so rather than
            // "unknown product", so the person scans again.
            if found.is_none()
                && let Err(e @ logiflow_core::CodeError::CheckDigit { .. }) =
                    logiflow_core::Barcode::parse(s)
            {
                return Err(Error::code_err("barcode", e));
            }
            (found, "sku or barcode", s)
        }
    };
    found.ok_or_else(|| Error::UnknownProduct {
        what,
        value: value.trim().to_owned(),
    })
}

fn product_where(conn: &Connection, cond: &str, value: &str) -> Result<Option<ResolvedProduct>> {
    let sql = format!("select id, sku, lot_tracked from product where {cond}");
    let row: Option<(String, String, bool)> = optional(
        conn.prepare_cached(&sql)?
            .query_row(params![value], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))),
    )?;
    row.map(|(id, sku, lot_tracked)| {
        Ok(ResolvedProduct {
            id: parse_id(&id)?,
            sku,
            lot_tracked,
        })
    })
    .transpose()
}

fn resolve_lot(conn: &Connection, product: &ResolvedProduct, raw: &str) -> Result<LotId> {
    let code = logiflow_core::LotCode::parse(raw).map_err(|e| Error::code_err("lot", e))?;
    if !product.lot_tracked {
        return Err(Error::Rejected(Rejection {
            code: RejectCode::LotNotTracked,
            message: format!(
                "product {} is not lot-tracked: no lot may be given",
                product.sku
            ),
        }));
    }
    let id: Option<String> = optional(conn.query_row(
        "select id from lot where product_id = ?1 and code = ?2",
        params![product.id.to_string(), code.as_str()],
        |r| r.get(0),
    ))?;
    match id {
        Some(id) => parse_id(&id),
        None => Err(Error::UnknownLot {
            sku: product.sku.clone(),
            lot: code.to_string(),
        }),
    }
}

fn resolve_location(conn: &Connection, raw: &str, warehouse: Option<&str>) -> Result<LocationId> {
    let code =
        logiflow_core::LocationCode::parse(raw).map_err(|e| Error::code_err("location", e))?;
    let mut stmt = conn.prepare_cached(
        "select l.id from location l left join warehouse w on w.id = l.warehouse_id
         where l.code = ?1 and (?2 is null or w.code = ?2) limit 2",
    )?;
    let ids: Vec<String> = stmt
        .query_map(params![code.as_str(), warehouse], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    match ids.as_slice() {
        [] => Err(Error::UnknownLocation(code.to_string())),
        [one] => parse_id(one),
        _ => Err(Error::AmbiguousLocation(code.to_string())),
    }
}

/// The facts `validate` needs for one movement, read from the local catalog.
struct LocalCatalog {
    products: HashMap<ProductId, ProductFacts>,
    lots: HashMap<LotId, LotFacts>,
    locations: HashMap<LocationId, LocationFacts>,
}

impl LocalCatalog {
    fn load(conn: &Connection, m: &Movement) -> Result<Self> {
        let mut products = HashMap::new();
        let p: Option<(bool, bool)> = optional(conn.query_row(
            "select active, lot_tracked from product where id = ?1",
            params![m.product.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        ))?;
        if let Some((active, lot_tracked)) = p {
            products.insert(
                m.product,
                ProductFacts {
                    active,
                    lot_tracked,
                },
            );
        }
        let mut lots = HashMap::new();
        if let Some(lot) = m.lot {
            let l: Option<(String, Option<String>)> = optional(conn.query_row(
                "select product_id, expires_on from lot where id = ?1",
                params![lot.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            ))?;
            if let Some((product, expires)) = l {
                lots.insert(
                    lot,
                    LotFacts {
                        product: parse_id(&product)?,
                        expires_on: expires
                            .map(|d| d.parse())
                            .transpose()
                            .map_err(Error::corrupt)?,
                    },
                );
            }
        }
        let mut locations = HashMap::new();
        for key in m.keys() {
            let l: Option<(String, bool, bool)> = optional(conn.query_row(
                "select warehouse_id, active, is_leaf from location where id = ?1",
                params![key.location.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            ))?;
            if let Some((warehouse, active, is_leaf)) = l {
                locations.insert(
                    key.location,
                    LocationFacts {
                        warehouse: parse_id::<WarehouseId>(&warehouse)?,
                        active,
                        is_leaf,
                    },
                );
            }
        }
        Ok(Self {
            products,
            lots,
            locations,
        })
    }
}

impl Catalog for LocalCatalog {
    fn product(&self, id: ProductId) -> Option<ProductFacts> {
        self.products.get(&id).copied()
    }
    fn lot(&self, id: LotId) -> Option<LotFacts> {
        self.lots.get(&id).copied()
    }
    fn location(&self, id: LocationId) -> Option<LocationFacts> {
        self.locations.get(&id).copied()
    }
}

fn kind_name(kind: &MovementKind) -> &'static str {
    match kind {
        MovementKind::Receive { .. } => "receive",
        MovementKind::Ship { .. } => "ship",
        MovementKind::Transfer { .. } => "transfer",
        MovementKind::Adjust { .. } => "adjust",
        MovementKind::Count { .. } => "count",
    }
}

fn flag_warning(flag: &Flag) -> Warning {
    let (code, message) = match flag {
        Flag::NegativeRow { on_hand, .. } => (
            "negative_row",
            format!("the bin is projected at {on_hand}, below zero"),
        ),
        Flag::CountVariance {
            expected,
            server_at_time,
            ..
        } => (
            "count_variance",
            format!("expected {expected} but the replica held {server_at_time} at that time"),
        ),
        Flag::ExpiredLotMoved { .. } => (
            "expired_lot_moved",
            "the lot is past its expiry date".to_owned(),
        ),
        Flag::InactiveProduct => ("inactive_product", "the product is deactivated".to_owned()),
        Flag::InactiveLocation { .. } => (
            "inactive_location",
            "the location is deactivated".to_owned(),
        ),
        Flag::Forced => ("forced", "forced through by a manager".to_owned()),
        Flag::OutcomeRepaired { was } => (
            "outcome_repaired",
            format!("recorded as {was} by an older server although it moved stock; now applied"),
        ),
        Flag::DatedBeforeDevice { .. } => (
            "dated_before_device",
            "dated before this device was registered: its clock may be behind".to_owned(),
        ),
        Flag::DatedLongAgo {
            age_days,
            limit_days,
        } => (
            "dated_long_ago",
            format!("dated {age_days} days back, beyond the limit of {limit_days}"),
        ),
        Flag::Redated { recorded_at, .. } => (
            "redated",
            format!(
                "recorded at {} by a clock that ran ahead; applied at the time the server received it",
                recorded_at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
    };
    Warning {
        code: code.to_owned(),
        message,
    }
}

/// The journal entries the projection replays: never pushed, or applied by the server
/// but not yet carried by a pull, or held. The same condition, term for term, is the
/// WHERE of the partial index `journal_live_by_product` (migrations/replica/
/// 0005_search_index.sql): SQLite uses a partial index only for a query that repeats it.
const LIVE: &str =
    "((settled = 0 and (status = 'pending' or outcome = 'applied')) or outcome = 'held')";

/// The column of `journal` that holds the product an entry moves (the movement's
/// `product`, written with it).
const ENTRY_PRODUCT: &str = "product_id";

/// Whose journal entries a projection replays.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Products<'a> {
    /// Every product's: the reference the per-product replay is checked against.
    #[cfg(test)]
    All,
    /// Only these products'.
    Only(&'a BTreeSet<ProductId>),
}

/// The products that have live journal entries (see [`LIVE`]): the only ones whose
/// projected rows differ from the pulled ones. A scan of the partial index, whose size
/// follows the pending journal.
pub(crate) fn live_products(conn: &Connection) -> Result<BTreeSet<ProductId>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select distinct {ENTRY_PRODUCT} from journal where {LIVE}"
    ))?;
    let mut rows = stmt.query([])?;
    let mut out = BTreeSet::new();
    while let Some(r) = rows.next()? {
        out.insert(parse_id(&r.get::<_, String>(0)?)?);
    }
    Ok(out)
}

/// Loads the live journal entries of `products` and the base rows they touch, and
/// replays them.
///
/// A movement's rows all belong to its product, and so do the held movements it may
/// release, so one product's projected rows never depend on another product's entries:
/// replaying only some products' entries (in `device_seq` order) gives exactly the rows
/// and predictions the whole journal's replay gives for those products (checked by a
/// property test). Recording and searching use it, so their cost follows the pending
/// entries of the products involved, each product's a range read of
/// `journal_live_by_product`, not the whole pending journal.
///
/// `received_at` is the replica's estimate of the server's time now ([`server_now`]):
/// entries never pushed are judged as if received then.
pub(crate) fn project(
    conn: &Connection,
    products: Products<'_>,
    received_at: DateTime<Utc>,
) -> Result<Projection> {
    let mut found: Vec<(i64, Entry)> = Vec::new();
    let mut read = |rows: &mut rusqlite::Rows<'_>| -> Result<()> {
        while let Some(r) = rows.next()? {
            let movement: Movement =
                serde_json::from_str(&r.get::<_, String>(1)?).map_err(Error::corrupt)?;
            let status: String = r.get(2)?;
            let detail: Option<String> = r.get(3)?;
            let mut applied_at = None;
            let known = if status == "pending" {
                Known::Unpushed
            } else {
                let result: MovementResult = serde_json::from_str(detail.as_deref().unwrap_or(""))
                    .map_err(Error::corrupt)?;
                applied_at = result.flags.iter().find_map(|f| match f {
                    Flag::Redated { applied_at, .. } => Some(*applied_at),
                    _ => None,
                });
                match result.outcome {
                    Outcome::Applied { effects } => Known::Applied(effects),
                    Outcome::Held(hold) => Known::Held(hold),
                    other => {
                        return Err(Error::corrupt(format!(
                            "a live entry's outcome is {}",
                            other.name()
                        )));
                    }
                }
            };
            // Forced at its receipt time (its device's clock ran ahead): it took effect
            // then, not at the date kept here.
            let movement = match applied_at {
                Some(at) => Movement {
                    occurred_at: at,
                    ..movement
                },
                None => movement,
            };
            found.push((r.get(0)?, Entry { movement, known }));
        }
        Ok(())
    };
    const COLUMNS: &str = "device_seq, movement, status, outcome_detail";
    match products {
        #[cfg(test)]
        Products::All => {
            let mut stmt = conn.prepare_cached(&format!(
                "select {COLUMNS} from journal where {LIVE} order by device_seq"
            ))?;
            read(&mut stmt.query([])?)?;
        }
        Products::Only(products) => {
            let mut stmt = conn.prepare_cached(&format!(
                "select {COLUMNS} from journal where {ENTRY_PRODUCT} = ?1 and {LIVE}
                 order by device_seq"
            ))?;
            for product in products {
                read(&mut stmt.query(params![product.to_string()])?)?;
            }
            // Each product's entries came in order; together they must be too.
            found.sort_unstable_by_key(|(seq, _)| *seq);
        }
    }
    let entries: Vec<Entry> = found.into_iter().map(|(_, e)| e).collect();
    let keys: BTreeSet<StockKey> = entries
        .iter()
        .flat_map(|e| e.movement.keys())
        .chain(entries.iter().flat_map(|e| match &e.known {
            Known::Applied(effects) => effects.iter().map(|x: &Effect| x.key).collect(),
            _ => Vec::new(),
        }))
        .collect();
    let mut base = BTreeMap::new();
    let mut ledger: BTreeMap<StockKey, Vec<(OrderKey, i64)>> = BTreeMap::new();
    for key in keys {
        let (p, l, lot) = (
            key.product.to_string(),
            key.location.to_string(),
            lot_col(key.lot),
        );
        let row: Option<(i64, i64, Option<i64>, Option<String>)> = optional(
            conn.prepare_cached(
                "select on_hand, allocated, last_count_at_ns, last_count_id from stock_row
                 where product_id = ?1 and location_id = ?2 and lot_id = ?3",
            )?
            .query_row(params![p, l, lot], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            }),
        )?;
        if let Some((on_hand, allocated, at, id)) = row {
            let last_count = match (at, id) {
                (Some(at), Some(id)) => Some(order_key(at, &id)?),
                _ => None,
            };
            base.insert(
                key,
                StockRow {
                    on_hand,
                    allocated,
                    last_count,
                },
            );
        }
        let mut stmt = conn.prepare_cached(
            "select at_ns, movement_id, delta from ledger_effect
             where product_id = ?1 and location_id = ?2 and lot_id = ?3",
        )?;
        let mut effects = stmt.query(params![p, l, lot])?;
        while let Some(r) = effects.next()? {
            let at: i64 = r.get(0)?;
            let id: String = r.get(1)?;
            ledger
                .entry(key)
                .or_default()
                .push((order_key(at, &id)?, r.get(2)?));
        }
    }
    projection::project(base, ledger, &entries, received_at).map_err(Error::corrupt)
}

/// A name search with more than this many times the lines wanted in trigram hits walks
/// the SKU index (see [`Filter::lines_condition`]).
const NAME_WALK_FACTOR: usize = 3;

/// The SQL condition of a stock query over `product p`, `location l` and `warehouse w`,
/// with its named parameters, in two forms of the same meaning: `indexed` for the query
/// that finds the lines (a name search of three characters or more goes through the
/// trigram index), `exact` for checking given products (no subquery that would read an
/// index for every check).
struct Filter {
    indexed: String,
    exact: String,
    /// The search's condition alone, over `product p` (`exact` form); none without one.
    search: Option<String>,
    /// A name search of three characters or more and nothing else.
    name_only: bool,
    sku_lo: Option<String>,
    sku_hi: Option<String>,
    like: Option<String>,
    fts: Option<String>,
    barcode: Option<String>,
    bin: Option<String>,
    warehouse: Option<String>,
}

impl Filter {
    fn new(q: &StockQuery, within: Option<&BTreeSet<LocationId>>) -> Self {
        let (mut sku_lo, mut like, mut fts, mut barcode) = (None, None, None, None);
        // SKUs are stored upper case and use only `A-Z 0-9 - _ . /`, all below `~`, so
        // `sku >= prefix and sku < prefix || '~'` is an index range over the prefix.
        let sku_cond = "(p.sku >= :sku_lo and p.sku < :sku_hi)";
        let name_cond = "(p.name_fold like :name escape '\\')";
        let barcode_cond = "(p.id in (select product_id from barcode where code = :barcode))";
        // The trigram index finds the candidates (every product whose name holds the
        // query's trigrams in a row); the LIKE keeps the meaning exactly what it is
        // without the index.
        let name_indexed = format!(
            "(p.key in (select rowid from product_name_fts where product_name_fts match :fts) \
             and {name_cond})"
        );
        let mut name = |s: &str| {
            like = Some(like_pattern(s));
            fts = fts_phrase(s);
            if fts.is_some() {
                name_indexed.clone()
            } else {
                name_cond.to_owned()
            }
        };
        let (search_indexed, search_exact) = match &q.search {
            None => (None, None),
            Some(Search::SkuPrefix(s)) => {
                sku_lo = Some(s.trim().to_ascii_uppercase());
                (Some(sku_cond.to_owned()), Some(sku_cond.to_owned()))
            }
            Some(Search::Name(s)) => (Some(name(s)), Some(name_cond.to_owned())),
            Some(Search::Barcode(s)) => {
                barcode = Some(s.trim().to_owned());
                (Some(barcode_cond.to_owned()), Some(barcode_cond.to_owned()))
            }
            Some(Search::Any(s)) => {
                sku_lo = Some(s.trim().to_ascii_uppercase());
                barcode = Some(s.trim().to_owned());
                let name = name(s);
                (
                    Some(format!("({sku_cond} or {name} or {barcode_cond})")),
                    Some(format!("({sku_cond} or {name_cond} or {barcode_cond})")),
                )
            }
        };
        let mut rest = Vec::new();
        let bin = q.bin.as_ref().map(|b| b.trim().to_ascii_uppercase());
        if bin.is_some() {
            rest.push("l.code = :bin".to_owned());
        }
        if q.warehouse.is_some() {
            rest.push("w.code = :warehouse".to_owned());
        }
        if let Some(within) = within {
            // Location ids are UUIDs (hex and dashes), so quoting them inline is safe;
            // the set is bounded by COUNT_BINS_MAX.
            let list: Vec<String> = within.iter().map(|id| format!("'{id}'")).collect();
            rest.push(format!("l.id in ({})", list.join(", ")));
        }
        let join = |search: &Option<String>| {
            let all: Vec<&str> = search
                .iter()
                .map(String::as_str)
                .chain(rest.iter().map(String::as_str))
                .collect();
            if all.is_empty() {
                "1 = 1".to_owned()
            } else {
                all.join(" and ")
            }
        };
        Self {
            name_only: fts.is_some()
                && rest.is_empty()
                && matches!(q.search, Some(Search::Name(_))),
            indexed: join(&search_indexed),
            exact: join(&search_exact),
            search: search_exact,
            sku_hi: sku_lo.as_ref().map(|lo| format!("{lo}~")),
            sku_lo,
            like,
            fts,
            barcode,
            bin,
            warehouse: q.warehouse.as_ref().map(|w| w.trim().to_owned()),
        }
    }

    /// The condition of the query that finds the lines, at most `limit` of them.
    ///
    /// A common name ("cotton shirt") can name thousands of products, and joining each
    /// to its rows to sort them all by SKU costs a few microseconds apiece, tens of
    /// milliseconds in all. The first `limit` lines in SKU order come from at most
    /// `limit` products — the first ones in SKU order that have a row — so a name search
    /// alone picks those products first. With many hits it walks the SKU index in
    /// order, testing each entry's key against the trigram hits without reading the
    /// product, and stops after `limit` products; with few hits it reads just those.
    fn lines_condition(&self, conn: &Connection, limit: usize) -> Result<String> {
        if !self.name_only {
            return Ok(self.indexed.clone());
        }
        let hits: i64 = conn
            .prepare_cached(
                "select count(*) from product_name_fts where product_name_fts match ?1",
            )?
            .query_row(params![self.fts], |r| r.get(0))?;
        // Walking the index costs about `products / hits` entries per product found,
        // each far cheaper than reading a hit's product: the walk wins once the hits
        // are a few times the lines wanted. The `+` keeps SQLite from looking the hits
        // up by key instead.
        let walk = if hits > (NAME_WALK_FACTOR * limit) as i64 {
            "+"
        } else {
            ""
        };
        Ok(format!(
            "p.id in (select c.id from product c
                      where {walk}c.key in
                                (select rowid from product_name_fts where product_name_fts match :fts)
                        and c.name_fold like :name escape '\\'
                        and exists (select 1 from stock_row x where x.product_id = c.id)
                      order by c.sku limit {limit})"
        ))
    }

    /// The named parameters `sql` uses (SQLite refuses a name the statement lacks).
    fn params(&self, sql: &str) -> Vec<(&'static str, &dyn rusqlite::ToSql)> {
        let all: [(&'static str, &Option<String>); 7] = [
            (":sku_lo", &self.sku_lo),
            (":sku_hi", &self.sku_hi),
            (":name", &self.like),
            (":fts", &self.fts),
            (":barcode", &self.barcode),
            (":bin", &self.bin),
            (":warehouse", &self.warehouse),
        ];
        all.into_iter()
            .filter(|(name, _)| sql.contains(name))
            .filter_map(|(name, value)| value.as_ref().map(|v| (name, v as &dyn rusqlite::ToSql)))
            .collect()
    }

    /// The products with live journal entries that the search names: their projected
    /// rows may match though no pulled row does. Driven by the live entries (the
    /// pending journal's products), each checked with the exact condition.
    fn live_matches(&self, conn: &Connection) -> Result<BTreeSet<ProductId>> {
        let sql = format!(
            "select p.id from product p
             where p.id in (select {ENTRY_PRODUCT} from journal where {LIVE}) and {}",
            self.search.as_deref().unwrap_or("1 = 1")
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(self.params(&sql).as_slice())?;
        let mut out = BTreeSet::new();
        while let Some(r) = rows.next()? {
            out.insert(parse_id(&r.get::<_, String>(0)?)?);
        }
        Ok(out)
    }
}

/// The FTS5 query for names containing `s` (trimmed, lowercased as `name_fold` is): every
/// trigram of it, each quoted so that no character of it is query syntax. The index keeps
/// no positions (`detail = none`), so this finds names holding all the trigrams anywhere,
/// a superset the LIKE then narrows to the substring. None when `s` is shorter than three
/// characters, which a trigram index cannot look up.
fn fts_phrase(s: &str) -> Option<String> {
    let chars: Vec<char> = s.trim().to_lowercase().chars().collect();
    if chars.len() < 3 {
        return None;
    }
    let trigrams: BTreeSet<String> = chars
        .windows(3)
        .map(|w| w.iter().collect::<String>().replace('"', "\"\""))
        .collect();
    Some(
        trigrams
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(" AND "),
    )
}

fn like_pattern(s: &str) -> String {
    let mut out = String::from("%");
    for c in s.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn line_from_row(r: &rusqlite::Row<'_>) -> Result<StockLine> {
    let on_hand: i64 = r.get(8)?;
    let allocated: i64 = r.get(9)?;
    Ok(StockLine {
        product: parse_id(&r.get::<_, String>(0)?)?,
        sku: r.get(1)?,
        name: r.get(2)?,
        location: parse_id(&r.get::<_, String>(3)?)?,
        location_code: r.get(4)?,
        warehouse_code: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        lot: lot_from_col(&r.get::<_, String>(6)?)?,
        lot_code: r.get(7)?,
        on_hand,
        allocated,
        available: on_hand - allocated,
        pending: 0,
    })
}

fn overlay(line: &mut StockLine, projected: &StockRow, pulled: Option<&StockRow>) {
    let base = pulled.map_or(0, |p| p.on_hand);
    line.on_hand = projected.on_hand;
    line.allocated = projected.allocated;
    line.available = projected.available();
    line.pending = projected.on_hand - base;
}

#[cfg(test)]
mod tests {
    //! The per-product replay against the whole journal's replay, over random journals
    //! decided by a model server (the core's engine) and partly pulled back.

    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use logiflow_core::{
        AdjustReason, Cursor, Engine, LedgerEffect, LocationCode, LocationId, LocationRecord,
        Movement, MovementResult, Origin, Outcome, ProductId, ProductRecord, PullPage,
        PushResponse, RowState, Sku, StockKey, TenantId, UserId, WarehouseId, WarehouseRecord,
    };
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use uuid::Uuid;

    use super::{Products, Replica, live_products, project};
    use crate::api::{Action, ItemRef, Op};
    use crate::env::TestEnv;

    const START_MS: u64 = 1_800_000_000_000;
    const PRODUCTS: u128 = 4;
    const BINS: u128 = 3;

    fn product(n: u128) -> ProductId {
        ProductId::from_uuid(Uuid::from_u128(0x100 + n))
    }
    fn bin(n: u128) -> LocationId {
        LocationId::from_uuid(Uuid::from_u128(0x200 + n))
    }

    fn catalog(server_time: chrono::DateTime<chrono::Utc>) -> PullPage {
        let wh = WarehouseId::from_uuid(Uuid::from_u128(0x10));
        PullPage {
            cursor: Cursor::new("0"),
            has_more: false,
            server_time,
            warehouses: vec![WarehouseRecord {
                id: wh,
                code: "W1".into(),
                name: "Main".into(),
                time_zone: "UTC".into(),
            }],
            locations: (0..BINS)
                .map(|n| LocationRecord {
                    id: bin(n),
                    warehouse: wh,
                    code: LocationCode::parse(&format!("B-{n}")).unwrap(),
                    parent: None,
                    is_leaf: true,
                    active: true,
                })
                .collect(),
            products: (0..PRODUCTS)
                .map(|n| ProductRecord {
                    id: product(n),
                    sku: Sku::parse(&format!("P-{n}")).unwrap(),
                    name: format!("Product {n}"),
                    barcodes: vec![],
                    lot_tracked: false,
                    active: true,
                    reorder_point: 0,
                })
                .collect(),
            lots: vec![],
            deleted_locations: vec![],
            rows: vec![],
            effects: vec![],
            outcomes: vec![],
            snapshot: None,
        }
    }

    /// The model server's answer to `movements`, and the pull page of what changed.
    fn decide(
        engine: &mut Engine,
        movements: &[Movement],
        now: chrono::DateTime<chrono::Utc>,
    ) -> (PushResponse, PullPage) {
        let mut results = HashMap::new();
        let mut effects = Vec::new();
        let mut touched = BTreeSet::new();
        for m in movements {
            for (m, d) in engine.submit(m, Origin::Journal).unwrap() {
                if let Outcome::Applied { effects: e } = &d.outcome {
                    effects.extend(e.iter().filter(|e| !e.absorbed).map(|e| LedgerEffect {
                        movement: m.id,
                        key: e.key,
                        order: m.order_key(),
                        delta: e.delta,
                    }));
                }
                touched.extend(d.updates.iter().map(|u| u.key));
                let result = MovementResult {
                    movement: m.id,
                    seq: m.device.unwrap().seq,
                    outcome: d.outcome,
                    flags: d.flags,
                    position: None,
                };
                results.insert(m.id, result);
            }
        }
        let response = PushResponse {
            results: movements.iter().map(|m| results[&m.id].clone()).collect(),
            next_seq: movements.last().map_or(1, |m| m.device.unwrap().seq + 1),
            server_time: now,
        };
        let page = PullPage {
            cursor: Cursor::new(format!("{}", now.timestamp_micros())),
            rows: touched
                .into_iter()
                .map(|key| RowState {
                    key,
                    row: engine.row(&key),
                })
                .collect(),
            effects,
            outcomes: results.into_values().collect(),
            warehouses: vec![],
            locations: vec![],
            products: vec![],
            ..catalog(now)
        };
        (response, page)
    }

    fn random_action(rng: &mut StdRng) -> Action {
        let sku = format!("P-{}", rng.random_range(0..PRODUCTS));
        let at = format!("B-{}", rng.random_range(0..BINS));
        let qty = rng.random_range(1..8);
        let op = match rng.random_range(0..6) {
            0 | 1 => Op::Receive { to: at, qty },
            2 | 3 => Op::Ship { from: at, qty },
            4 => Op::Transfer {
                from: at,
                to: format!("B-{}", rng.random_range(0..BINS)),
                qty,
            },
            _ if rng.random_bool(0.5) => Op::Adjust {
                at,
                delta: -qty,
                reason: AdjustReason::Damage,
            },
            _ => Op::Count {
                at,
                counted: rng.random_range(0..10),
                expected: None,
            },
        };
        Action {
            item: ItemRef::Sku(sku),
            lot: None,
            warehouse: None,
            op,
            reference: None,
        }
    }

    /// Checks that each product's replay alone equals its part of the whole replay;
    /// returns how many entries the replay predicts held (so the test can tell that
    /// its journals exercise held movements).
    fn check(r: &Replica, seed: u64) -> usize {
        let all = project(&r.conn, Products::All, r.server_estimate().unwrap()).unwrap();
        let live = live_products(&r.conn).unwrap();
        for n in 0..PRODUCTS {
            let p = product(n);
            let one = project(
                &r.conn,
                Products::Only(&BTreeSet::from([p])),
                r.server_estimate().unwrap(),
            )
            .unwrap();
            let mine = |rows: &BTreeMap<StockKey, logiflow_core::StockRow>| {
                rows.iter()
                    .filter(|(k, _)| k.product == p)
                    .map(|(k, v)| (*k, *v))
                    .collect::<BTreeMap<_, _>>()
            };
            assert_eq!(one.rows, mine(&all.rows), "seed {seed}: rows of {p}");
            assert_eq!(one.pulled, mine(&all.pulled), "seed {seed}: pulled of {p}");
            for (id, predicted) in &one.predicted {
                assert_eq!(
                    format!("{predicted:?}"),
                    format!("{:?}", all.predicted[id]),
                    "seed {seed}: prediction of {id}"
                );
            }
            assert_eq!(
                one.rows.is_empty() && one.predicted.is_empty(),
                !live.contains(&p),
                "seed {seed}: {p} is live exactly when it has entries to replay"
            );
        }
        let every: BTreeSet<ProductId> = (0..PRODUCTS).map(product).collect();
        let union = project(
            &r.conn,
            Products::Only(&every),
            r.server_estimate().unwrap(),
        )
        .unwrap();
        assert_eq!(union.rows, all.rows, "seed {seed}: all products at once");
        assert_eq!(union.predicted.len(), all.predicted.len(), "seed {seed}");
        all.predicted
            .values()
            .filter(|(o, _)| matches!(o, Outcome::Held(_)))
            .count()
    }

    /// Returns the held predictions seen and the entries the server applied.
    fn scenario(seed: u64) -> (usize, usize) {
        let mut rng = StdRng::seed_from_u64(seed);
        let dir = tempfile::tempdir().unwrap();
        let mut r = Replica::open_with_env(
            dir.path().join("r.db"),
            Box::new(TestEnv::new(START_MS, 1_000)),
        )
        .unwrap();
        let tenant = TenantId::from_uuid(Uuid::from_u128(1));
        let user = UserId::from_uuid(Uuid::from_u128(2));
        r.init_device(tenant, user, "https://x", None).unwrap();
        let t0 = chrono::DateTime::from_timestamp_millis(START_MS as i64).unwrap();
        r.import_page(&catalog(t0)).unwrap();
        let mut engine = Engine::new();
        let mut held = 0;
        for step in 0..80 {
            match rng.random_range(0..10) {
                // Push what is pending (in one or more batches); sometimes pull the
                // outcomes back, which settles the applied ones.
                0 | 1 => {
                    let batch = r.push_batch().unwrap();
                    let movements: Vec<Movement> =
                        batch.movements.iter().map(|p| p.movement).collect();
                    let now = r.env.now();
                    let (response, page) = decide(&mut engine, &movements, now);
                    r.mark_pushed(&response).unwrap();
                    if rng.random_bool(0.5) {
                        r.apply_pull(&page).unwrap();
                    }
                }
                _ => {
                    // Refusals (a ship from an unknown bin, …) are not the point here.
                    let _ = r.record(&random_action(&mut rng));
                }
            }
            if step % 5 == 0 {
                held += check(&r, seed);
            }
        }
        held += check(&r, seed);
        let applied = r
            .journal(&crate::api::JournalFilter::default())
            .unwrap()
            .iter()
            .filter(|e| e.outcome.as_deref() == Some("applied"))
            .count();
        (held, applied)
    }

    /// Scenarios per run; `LOGIFLOW_REPLAY_CASES` raises it.
    #[test]
    fn replaying_one_product_equals_its_part_of_the_whole_replay() {
        let cases = std::env::var("LOGIFLOW_REPLAY_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(24);
        let (mut held, mut applied) = (0, 0);
        for seed in 0..cases {
            let (h, a) = scenario(seed);
            held += h;
            applied += a;
        }
        // The journals hold what makes the replay interesting: entries the server
        // applied and entries predicted held.
        assert!(held > 0 && applied > 0, "held {held}, applied {applied}");
    }

    #[test]
    fn the_live_entries_of_a_product_are_a_range_of_the_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let r = Replica::open(dir.path().join("r.db")).unwrap();
        for (sql, index) in [
            (
                format!(
                    "select device_seq from journal where {} = 'x' and {} order by device_seq",
                    super::ENTRY_PRODUCT,
                    super::LIVE
                ),
                "INDEX journal_live_by_product (product_id=?)",
            ),
            (
                format!(
                    "select distinct {} from journal where {}",
                    super::ENTRY_PRODUCT,
                    super::LIVE
                ),
                "COVERING INDEX journal_live_by_product",
            ),
        ] {
            let plan: Vec<String> = r
                .conn
                .prepare(&format!("explain query plan {sql}"))
                .unwrap()
                .query_map([], |row| row.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{sql}: {plan:?}"
            );
        }
    }
}
