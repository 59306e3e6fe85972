//! Opening the SQLite file: pragmas, embedded migrations, and value conversions.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use logiflow_core::{LotId, MovementId, OrderKey};
use rusqlite::{Connection, OptionalExtension};

use crate::{Error, Result};

/// The migrations, in order. Version `n` is `MIGRATIONS[n - 1]`; once released a file is
/// never edited, only followed by a new one.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../migrations/replica/0001_init.sql"),
    ),
    (
        "0002_sync_client",
        include_str!("../../../migrations/replica/0002_sync_client.sql"),
    ),
    (
        "0003_voided",
        include_str!("../../../migrations/replica/0003_voided.sql"),
    ),
    (
        "0004_permissions",
        include_str!("../../../migrations/replica/0004_permissions.sql"),
    ),
    (
        "0005_search_index",
        include_str!("../../../migrations/replica/0005_search_index.sql"),
    ),
    (
        "0006_reorder_point",
        include_str!("../../../migrations/replica/0006_reorder_point.sql"),
    ),
    (
        "0007_clock_reference",
        include_str!("../../../migrations/replica/0007_clock_reference.sql"),
    ),
    (
        "0008_session_expiry",
        include_str!("../../../migrations/replica/0008_session_expiry.sql"),
    ),
    (
        "0009_purchase_orders",
        include_str!("../../../migrations/replica/0009_purchase_orders.sql"),
    ),
    (
        "0010_sales_orders",
        include_str!("../../../migrations/replica/0010_sales_orders.sql"),
    ),
    (
        "0011_alerts",
        include_str!("../../../migrations/replica/0011_alerts.sql"),
    ),
    (
        "0012_local_lots",
        include_str!("../../../migrations/replica/0012_local_lots.sql"),
    ),
    (
        "0013_warehouse_active",
        include_str!("../../../migrations/replica/0013_warehouse_active.sql"),
    ),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a writer waits for another connection's lock (the desktop app and the CLI may
/// open the same file) before failing with "database is locked".
pub const BUSY_TIMEOUT_MS: u64 = 5_000;

/// The page cache of a replica connection, in KiB (SQLite's default is 2,048).
pub const CACHE_KIB: i64 = 32 * 1024;

/// Opens (creating if needed) and migrates the replica database.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
    // WAL lets readers (the UI) read while a movement is being recorded.
    let mode: String = conn.query_row("pragma journal_mode = wal", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::corrupt(format!(
            "could not switch the database to wal mode (got {mode})"
        )));
    }
    // FULL: a commit returns only once the WAL is synced to disk, so a recorded movement
    // survives a power cut. It costs one fsync per transaction, which the journal (one
    // transaction per scan) and the pull (one per page) easily afford.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A page cache that holds the catalog's hot pages: a search joins a few thousand
    // products to their rows, and with SQLite's default 2 MiB most of those pages are
    // read from the OS again on every search of a 100,000-product catalog. Negative
    // means KiB.
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.query_row("pragma user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, (_name, sql)) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        if version <= found {
            continue;
        }
        // One transaction per migration, the version bump included: a crash leaves the
        // database at the previous version, never half migrated. IMMEDIATE so that two
        // processes opening a fresh file do not both migrate it.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("pragma user_version", [], |r| r.get(0))?;
        if current >= version {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

/// The schema version of an open database.
pub(crate) fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("pragma user_version", [], |r| r.get(0))?)
}

/// A time as stored: nanoseconds since the Unix epoch.
pub(crate) fn ns(at: DateTime<Utc>) -> Result<i64> {
    at.timestamp_nanos_opt()
        .ok_or_else(|| Error::corrupt(format!("time {at} is out of the storable range")))
}

/// A stored time.
pub(crate) fn from_ns(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

/// A lot as stored in a key column ('' for none).
pub(crate) fn lot_col(lot: Option<LotId>) -> String {
    lot.map(|l| l.to_string()).unwrap_or_default()
}

/// A lot from a key column.
pub(crate) fn lot_from_col(col: &str) -> Result<Option<LotId>> {
    if col.is_empty() {
        Ok(None)
    } else {
        parse_id(col).map(Some)
    }
}

/// Parses a stored id.
pub(crate) fn parse_id<T: std::str::FromStr>(text: &str) -> Result<T> {
    text.parse()
        .map_err(|_| Error::corrupt(format!("stored id {text:?} is not a uuid")))
}

/// An order key from its stored columns.
pub(crate) fn order_key(at_ns: i64, id: &str) -> Result<OrderKey> {
    Ok(OrderKey {
        at: from_ns(at_ns),
        id: parse_id::<MovementId>(id)?,
    })
}

/// Reads one optional value.
pub(crate) fn optional<T>(r: rusqlite::Result<T>) -> Result<Option<T>> {
    Ok(r.optional()?)
}
