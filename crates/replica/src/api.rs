//! The values that cross the replica's public API (and, serialised, the desktop shell's
//! commands and the CLI's `--json` output).

use chrono::{DateTime, Utc};
use logiflow_core::{
    AdjustReason, DeviceId, LineRef, LocationId, LotId, Movement, MovementId, MovementResult,
    ProductId, TenantId, UserId,
};

/// The device's identity. No secrets: tokens live in the OS keyring.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceInfo {
    /// This device's id (stamped on every journal entry).
    pub device: DeviceId,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// The person recording on it.
    pub user: UserId,
    /// The server it syncs with.
    pub server_url: String,
}

/// How the person named the product.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum ItemRef {
    /// A SKU as typed.
    Sku(String),
    /// A barcode as scanned, exactly.
    Barcode(String),
    /// Scanner or keyboard input: an exact barcode first, else a SKU.
    Scan(String),
}

/// What the person did, with quantities and codes as entered (parsed by the replica).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Op {
    /// Received `qty` into bin `to`.
    Receive {
        /// Bin code.
        to: String,
        /// Units, > 0.
        qty: i64,
    },
    /// Shipped `qty` from bin `from`.
    Ship {
        /// Bin code.
        from: String,
        /// Units, > 0.
        qty: i64,
    },
    /// Moved `qty` from bin `from` to bin `to`.
    Transfer {
        /// Source bin code.
        from: String,
        /// Destination bin code.
        to: String,
        /// Units, > 0.
        qty: i64,
    },
    /// Changed bin `at` by `delta` for `reason`.
    Adjust {
        /// Bin code.
        at: String,
        /// Signed units, ≠ 0, of the sign the reason allows.
        delta: i64,
        /// Why.
        reason: AdjustReason,
    },
    /// Counted `counted` units in bin `at`.
    Count {
        /// Bin code.
        at: String,
        /// Units seen, ≥ 0.
        counted: i64,
        /// What the screen showed beforehand; none for a blind count.
        expected: Option<i64>,
    },
}

/// One action to record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Action {
    /// The product.
    pub item: ItemRef,
    /// The lot code, for lot-tracked products.
    pub lot: Option<String>,
    /// The warehouse code, needed only when a bin code exists in several warehouses.
    pub warehouse: Option<String>,
    /// What happened.
    pub op: Op,
    /// The order line it fulfils.
    pub reference: Option<LineRef>,
}

/// Something the person should know about an action that was recorded anyway.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Warning {
    /// Stable machine code, e.g. `beyond_projected_stock`.
    pub code: String,
    /// For people.
    pub message: String,
}

/// A recorded action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    /// Its `device_seq`.
    pub seq: u64,
    /// The movement as it will be pushed.
    pub movement: Movement,
    /// What the projection expects the server to do: `applied`, `held`, `absorbed`, …
    pub projected: String,
    /// Recorded anyway, but worth a look.
    pub warnings: Vec<Warning>,
}

/// Which products to show stock for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum Search {
    /// SKUs starting with this (case-insensitive).
    SkuPrefix(String),
    /// Names containing this (case-insensitive).
    Name(String),
    /// Exactly this barcode.
    Barcode(String),
    /// Any of the three.
    Any(String),
}

/// The most stock lines one query returns.
pub const STOCK_LIMIT_MAX: usize = 1_000;

/// A stock query over the projection.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StockQuery {
    /// Products to show; all when none.
    pub search: Option<Search>,
    /// Only this bin (its code).
    pub bin: Option<String>,
    /// Only this warehouse (its code).
    pub warehouse: Option<String>,
    /// At most this many lines (capped at [`STOCK_LIMIT_MAX`], default 200).
    pub limit: Option<usize>,
}

/// One projected stock row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StockLine {
    /// The product.
    pub product: ProductId,
    /// Its SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// The bin.
    pub location: LocationId,
    /// The bin's code.
    pub location_code: String,
    /// The bin's warehouse code.
    pub warehouse_code: String,
    /// The lot.
    pub lot: Option<LotId>,
    /// The lot's code.
    pub lot_code: Option<String>,
    /// Projected units on hand (pulled state + unsettled journal).
    pub on_hand: i64,
    /// Units allocated to sales orders (as pulled).
    pub allocated: i64,
    /// `on_hand − allocated`.
    pub available: i64,
    /// The part of `on_hand` that comes from this device's unsettled journal.
    pub pending: i64,
}

/// Which journal entries to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalStatus {
    /// Not pushed yet.
    Pending,
    /// Pushed, with an outcome.
    Pushed,
}

/// The most journal entries one listing returns.
pub const JOURNAL_PAGE_MAX: usize = 1_000;

/// A journal listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournalFilter {
    /// Only entries in this state.
    pub status: Option<JournalStatus>,
    /// Only entries with a greater `device_seq` (for paging).
    pub after_seq: Option<u64>,
    /// At most this many (capped at [`JOURNAL_PAGE_MAX`], the default).
    pub limit: Option<usize>,
}

/// One journal entry with its sync state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournalEntry {
    /// Its `device_seq`.
    pub seq: u64,
    /// Its id.
    pub id: MovementId,
    /// `receive`, `ship`, `transfer`, `adjust` or `count`.
    pub kind: String,
    /// When it happened (corrected clock).
    pub occurred_at: DateTime<Utc>,
    /// The replica's cursor when it was recorded.
    pub base_cursor: Option<String>,
    /// `pending` or `pushed`.
    pub status: JournalStatus,
    /// The server's outcome, once known.
    pub outcome: Option<String>,
    /// The server's full result, once known.
    pub result: Option<MovementResult>,
    /// Whether a pull has reflected it in the pulled stock.
    pub settled: bool,
    /// The movement as pushed.
    pub movement: Movement,
}

/// The replica's state at a glance (dashboard, `logiflow status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// The device, once set up.
    pub device: Option<DeviceInfo>,
    /// The schema version of the database.
    pub schema_version: i64,
    /// Journal entries not pushed yet.
    pub pending: u64,
    /// The last `device_seq` used (0 before the first record).
    pub last_seq: u64,
    /// Held, rejected or flagged entries.
    pub conflicts: u64,
    /// The last pull.
    pub last_pull_at: Option<DateTime<Utc>>,
    /// The last push response applied.
    pub last_push_at: Option<DateTime<Utc>>,
    /// The replica's position in the server's change feed.
    pub cursor: Option<String>,
    /// Server clock − device clock, as last measured.
    pub clock_offset_ms: i64,
}

/// What [`crate::Replica::apply_pull`] stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PullApplied {
    /// Catalog records written.
    pub catalog: usize,
    /// Stock rows written.
    pub rows: usize,
    /// Ledger effects stored (re-sent ones not counted).
    pub effects: usize,
    /// Own movements whose outcome was written.
    pub outcomes: usize,
    /// Old ledger effects dropped as no longer needed.
    pub pruned: usize,
}
