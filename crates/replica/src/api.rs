//! The values that cross the replica's public API (and, serialised, the desktop shell's
//! commands and the CLI's `--json` output).
//!
//! With the `ts` feature they derive `ts_rs::TS`, so the desktop UI's TypeScript types
//! are generated from these very types (see `typescript_declarations`, feature `ts`). Integers
//! cross as JSON numbers: every quantity and sequence number a warehouse produces fits
//! in the 2^53 a JavaScript number holds exactly, hence `type = "number"` where ts-rs
//! would say `bigint`. Core's ids are UUID strings on the wire (`serde(transparent)`).

use chrono::{DateTime, Utc};
use logiflow_core::{
    AdjustReason, DeviceId, LineRef, LocationId, LotId, Movement, MovementId, MovementResult,
    ProductId, TenantId, UserId,
};

/// The device's identity. No secrets: tokens live in the OS keyring.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DeviceInfo {
    /// This device's id (stamped on every journal entry).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub device: DeviceId,
    /// The tenant it belongs to.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub tenant: TenantId,
    /// The person recording on it.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub user: UserId,
    /// The server it syncs with.
    pub server_url: String,
}

/// How the person named the product.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Op {
    /// Received `qty` into bin `to`.
    Receive {
        /// Bin code.
        to: String,
        /// Units, > 0.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        qty: i64,
    },
    /// Shipped `qty` from bin `from`.
    Ship {
        /// Bin code.
        from: String,
        /// Units, > 0.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        qty: i64,
    },
    /// Moved `qty` from bin `from` to bin `to`.
    Transfer {
        /// Source bin code.
        from: String,
        /// Destination bin code.
        to: String,
        /// Units, > 0.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        qty: i64,
    },
    /// Changed bin `at` by `delta` for `reason`.
    Adjust {
        /// Bin code.
        at: String,
        /// Signed units, ≠ 0, of the sign the reason allows.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        delta: i64,
        /// Why.
        #[cfg_attr(feature = "ts", ts(type = "AdjustReason"))]
        reason: AdjustReason,
    },
    /// Counted `counted` units in bin `at`.
    Count {
        /// Bin code.
        at: String,
        /// Units seen, ≥ 0.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        counted: i64,
        /// What the screen showed beforehand; none for a blind count.
        #[cfg_attr(feature = "ts", ts(type = "number | null"))]
        expected: Option<i64>,
    },
}

/// One action to record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Action {
    /// The product.
    pub item: ItemRef,
    /// The lot code, for lot-tracked products. A receipt may name a lot this device
    /// does not know yet: the lot is then created here and declared to the server with
    /// the push (`logiflow_core::lots`).
    pub lot: Option<String>,
    /// The lot's expiry date as on the label (`YYYY-MM-DD`), for a receipt into a lot:
    /// kept by a lot created by the receipt; for a known lot, a different date is
    /// warned about (the lot keeps its own). Absent: none typed.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub expires_on: Option<String>,
    /// The warehouse code, needed only when a bin code exists in several warehouses.
    pub warehouse: Option<String>,
    /// What happened.
    pub op: Op,
    /// The order line it fulfils: a purchase line for a receipt, a sales line for a
    /// pick (see [`crate::Replica::purchase_line`], [`crate::Replica::sales_line`]).
    /// Absent: none.
    #[serde(default)]
    #[cfg_attr(
        feature = "ts",
        ts(type = "{ type: \"purchase_line\" | \"sales_line\", id: string } | null")
    )]
    pub reference: Option<LineRef>,
}

/// Something the person should know about an action that was recorded anyway.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Warning {
    /// Stable machine code, e.g. `beyond_projected_stock`.
    pub code: String,
    /// For people.
    pub message: String,
}

/// A recorded action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Recorded {
    /// Its `device_seq`.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    /// The movement as it will be pushed.
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub movement: Movement,
    /// What the projection expects the server to do: `applied`, `held`, `absorbed`, …
    pub projected: String,
    /// Recorded anyway, but worth a look.
    pub warnings: Vec<Warning>,
}

/// Which products to show stock for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StockQuery {
    /// Products to show; all when none.
    pub search: Option<Search>,
    /// Only this bin (its code).
    pub bin: Option<String>,
    /// Only this warehouse (its code).
    pub warehouse: Option<String>,
    /// At most this many lines (capped at [`STOCK_LIMIT_MAX`], default 200).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub limit: Option<usize>,
}

/// One projected stock row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StockLine {
    /// The product.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub product: ProductId,
    /// Its SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// The bin.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub location: LocationId,
    /// The bin's code.
    pub location_code: String,
    /// The bin's warehouse code.
    pub warehouse_code: String,
    /// The lot.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub lot: Option<LotId>,
    /// The lot's code.
    pub lot_code: Option<String>,
    /// Projected units on hand (pulled state + unsettled journal).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub on_hand: i64,
    /// Units allocated to sales orders (as pulled).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub allocated: i64,
    /// `on_hand − allocated`.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub available: i64,
    /// The part of `on_hand` that comes from this device's unsettled journal.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub pending: i64,
}

/// Which journal entries to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JournalFilter {
    /// Only entries in this state.
    pub status: Option<JournalStatus>,
    /// Only entries with a greater `device_seq` (for paging).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub after_seq: Option<u64>,
    /// At most this many (capped at [`JOURNAL_PAGE_MAX`], the default).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Status {
    /// The device, once set up.
    pub device: Option<DeviceInfo>,
    /// The schema version of the database.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub schema_version: i64,
    /// Journal entries not pushed yet.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub pending: u64,
    /// The last `device_seq` used (0 before the first record).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub last_seq: u64,
    /// Held, rejected or flagged entries.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub conflicts: u64,
    /// The last pull.
    pub last_pull_at: Option<DateTime<Utc>>,
    /// The last push response applied.
    pub last_push_at: Option<DateTime<Utc>>,
    /// The replica's position in the server's change feed.
    pub cursor: Option<String>,
    /// Server clock − device clock, as last measured.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub clock_offset_ms: i64,
    /// When the last sync (successful or not) ended.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Why the last sync failed; none after a successful one.
    pub last_sync_error: Option<crate::ErrorBody>,
    /// When the server last answered.
    pub last_contact_at: Option<DateTime<Utc>>,
    /// What the device's user may do on the server (`conflicts_resolve`, …), as read at
    /// the last sync; empty before one. Decides what the app offers; the server checks
    /// again on every call.
    pub permissions: Vec<String>,
    /// When the device's session ends unless the device syncs before (its refresh
    /// token's expiry, as the server announced it with the last token pair); none
    /// before the first pair from a server that says.
    pub session_expires_at: Option<DateTime<Utc>>,
    /// The session ends within [`SESSION_WARNING_DAYS`] (or has ended): the app shows a
    /// warning; syncing before then keeps the device signed in.
    pub session_ends_soon: bool,
    /// Alerts of the device's warehouses the signed-in person has not read, as the last
    /// sync read them (the bell's count).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unread_alerts: u64,
}

/// How many days before the device's session ends the app warns.
pub const SESSION_WARNING_DAYS: i64 = 14;

/// Whether a session ending at `expires_at` ends within [`SESSION_WARNING_DAYS`] of `now`.
pub fn session_ends_soon(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires_at.is_some_and(|at| at - chrono::TimeDelta::days(SESSION_WARNING_DAYS) <= now)
}

/// What a manager's upload of a revoked device's exported journal did (the server's
/// answer, summed over the file's pieces).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JournalUploaded {
    /// The revoked device.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub device_id: uuid::Uuid,
    /// Entries in the file.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub entries: u64,
    /// Entries the server already held (pushed before, or uploaded before): skipped.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub already_on_server: u64,
    /// New entries now held for review in the conflict inbox.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub held: u64,
    /// New entries the rules rejected (unknown product, …).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub rejected: u64,
    /// The new movements' ids.
    #[cfg_attr(feature = "ts", ts(type = "Array<string>"))]
    pub movements: Vec<uuid::Uuid>,
}

/// What [`crate::Replica::export_journal`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JournalExported {
    /// The file.
    pub path: String,
    /// The device whose journal it is.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub device: DeviceId,
    /// Entries written (the journal's unanswered entries).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub entries: u64,
}

/// A manager's decision on a held movement (DESIGN §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Apply it without the stock check (flagged `forced`).
    Force,
    /// It will never apply (the goods were never there, a duplicate scan).
    Void,
}

impl Resolution {
    /// The server's action path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Force => "force",
            Self::Void => "void",
        }
    }
}

/// What [`crate::Replica::resolve`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Resolved {
    /// The movement's `device_seq` in this journal.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    /// Its outcome on the server now (`applied`, `voided`).
    pub outcome: String,
    /// The pull that brought the outcome (and anything else new) into the replica.
    pub pulled: crate::SyncReport,
}

/// What [`crate::Replica::sign_out`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SignedOut {
    /// Whether the server ended the device's session too (false when it could not be
    /// reached: the tokens are gone from this machine all the same).
    pub session_ended: bool,
}

/// What [`crate::Replica::apply_pull`] stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PullApplied {
    /// Catalog records written.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub catalog: usize,
    /// Stock rows written.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub rows: usize,
    /// Ledger effects stored (re-sent ones not counted).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub effects: usize,
    /// Own movements whose outcome was written.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub outcomes: usize,
    /// Old ledger effects dropped as no longer needed.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub pruned: usize,
}

/// The orders a device receives and picks against ([`crate::Replica::open_orders`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OpenOrders {
    /// Open purchase orders, by number.
    pub purchase_orders: Vec<PurchaseOrderView>,
    /// Sales orders still to pick, by number.
    pub sales_orders: Vec<SalesOrderView>,
}

/// An open purchase order of the device's warehouses, as pulled
/// ([`crate::Replica::purchase_orders`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PurchaseOrderView {
    /// Its id.
    pub id: String,
    /// `PO-000123`.
    pub number: String,
    /// The warehouse's code.
    pub warehouse: String,
    /// The supplier's name.
    pub supplier: String,
    /// When the goods are expected (`YYYY-MM-DD`).
    pub expected_on: Option<String>,
    /// `ordered`, `partially_received` or `received`, as last pulled.
    pub status: String,
    /// Its lines in document order.
    pub lines: Vec<PurchaseLineView>,
}

/// A line of a [`PurchaseOrderView`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PurchaseLineView {
    /// Its id.
    pub id: String,
    /// The product's SKU and name (empty if the product is not pulled).
    pub sku: String,
    /// The product's name.
    pub name: String,
    /// Units ordered.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub qty: i64,
    /// Units the server had received when last pulled.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub received: i64,
    /// Units this device received since, not yet in the pulled state.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub received_here: i64,
    /// Units still expected: ordered less both, never below zero.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub open: i64,
}

/// A sales order of the device's warehouses still to be picked, as pulled
/// ([`crate::Replica::sales_orders`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SalesOrderView {
    /// Its id.
    pub id: String,
    /// `SO-000123`.
    pub number: String,
    /// The warehouse's code.
    pub warehouse: String,
    /// The customer's name.
    pub customer: String,
    /// When the customer wants the goods (`YYYY-MM-DD`).
    pub requested_on: String,
    /// As last pulled (`confirmed`, `allocated`, `partially_picked`, …).
    pub status: String,
    /// Its lines in document order.
    pub lines: Vec<SalesLineView>,
}

/// A line of a [`SalesOrderView`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SalesLineView {
    /// Its id.
    pub id: String,
    /// The product's SKU (empty if the product is not pulled).
    pub sku: String,
    /// The product's name.
    pub name: String,
    /// Units ordered.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub qty: i64,
    /// Units the server had picked when last pulled.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub picked: i64,
    /// Units this device picked since, not yet in the pulled state.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub picked_here: i64,
    /// Units still to pick: ordered less both, never below zero.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub open: i64,
    /// Where the server reserved stock for it, by bin code.
    pub pick_list: Vec<PickView>,
}

/// Where to pick part of a line: a bin (and lot) the server reserved stock on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PickView {
    /// The bin's code.
    pub bin: String,
    /// The lot's code, for a lot-tracked product.
    pub lot: Option<String>,
    /// Units reserved there as last pulled.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub qty: i64,
}

/// The most sales orders one pick walk (a wave) takes ([`crate::Replica::pick_walk`]):
/// core's bound, the same as the server's wave pick list.
pub use logiflow_core::orders::WAVE_ORDERS_MAX;

/// One stop of a pick walk across one sales order or a wave of several
/// ([`crate::Replica::pick_walk`]): what to take from one bin for one order line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PickStop {
    /// The sales order's number (`SO-000123`).
    pub order: String,
    /// The sales line's id: the pick's `reference`.
    pub line: String,
    /// The product's SKU (empty if the product is not pulled).
    pub sku: String,
    /// The product's name.
    pub name: String,
    /// The bin's code.
    pub bin: String,
    /// The bin's location path (`A/03/B2`), whose order is the walk's.
    pub path: String,
    /// The lot's code, for a lot-tracked product.
    pub lot: Option<String>,
    /// Units to pick here: the server's reservation as last pulled, less what this
    /// device picked for the line since (consumed as the server will), never more than
    /// the line still expects.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub qty: i64,
}

/// The purchase-order line a scanned item is received against
/// ([`crate::Replica::receiving_line`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LineMatch {
    /// The line's id: the receipt's `reference`.
    pub line: String,
    /// The product the scan names.
    pub product: ProductRef,
}

/// A product as a scan or a typed SKU names it ([`crate::Replica::resolve_item`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProductRef {
    /// The product.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub id: ProductId,
    /// Its SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// Whether a lot must be named with it.
    pub lot_tracked: bool,
}

/// The most bins one count sheet covers: a zone bigger than this is counted in parts.
pub const COUNT_BINS_MAX: usize = 500;

/// The most lines one count submission carries.
pub const COUNT_LINES_MAX: usize = 1_000;

/// What to count: one bin, or every active bin under a zone
/// ([`crate::Replica::count_sheet`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CountScope {
    /// A bin's or a zone's code.
    pub location: String,
    /// The warehouse code, needed only when the code exists in several warehouses.
    pub warehouse: Option<String>,
}

/// The bins of a count and the stock the replica projects in them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CountSheet {
    /// The scope's location code, as stored.
    pub location: String,
    /// Its warehouse's code.
    pub warehouse: String,
    /// Whether the scope is a single bin (else a zone).
    pub is_bin: bool,
    /// The active bins to count, by code.
    pub bins: Vec<String>,
    /// The projected stock rows in those bins, by SKU, bin and lot.
    pub lines: Vec<StockLine>,
}

/// One counted row: the units seen of a product (and lot) in a bin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CountLine {
    /// The product.
    pub item: ItemRef,
    /// The lot code, for lot-tracked products.
    pub lot: Option<String>,
    /// The bin's code.
    pub bin: String,
    /// Units seen, ≥ 0.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub counted: i64,
    /// The quantity the screen showed; none for a blind count.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub expected: Option<i64>,
}

/// A finished count to record ([`crate::Replica::record_count`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CountSubmission {
    /// The warehouse code of the bins, when a bin code exists in several warehouses.
    pub warehouse: Option<String>,
    /// The counted rows, at most [`COUNT_LINES_MAX`], each row once.
    pub lines: Vec<CountLine>,
}
