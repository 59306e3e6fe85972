//! The values the desktop commands take and return, as the UI sees them.
//!
//! They mirror the replica's API types field for field and derive `ts_rs::TS`, so the
//! TypeScript in `ui/src/lib/bindings` is generated from them, never written by hand.
//! The mirrors exist because `crates/replica` does not derive `TS` itself (that would
//! put a TypeScript concern in the engine); the `From` impls below are the only code
//! here, and they only move fields.
//!
//! Integers cross as JSON numbers: every quantity and sequence number a warehouse
//! produces fits in the 2^53 that a JavaScript number holds exactly, hence
//! `#[ts(type = "number")]` where ts-rs would otherwise say `bigint`.

use logiflow_core::AdjustReason;
use logiflow_replica as replica;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// An error as the UI receives it: a stable machine code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CommandError {
    /// Stable machine code, e.g. `unknown_product`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

impl From<replica::Error> for CommandError {
    fn from(error: replica::Error) -> Self {
        let body = error.body();
        Self {
            code: body.code,
            message: body.message,
        }
    }
}

/// Where the replica lives and whether it opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReplicaLocation {
    /// The SQLite file's path.
    pub path: String,
}

/// The device's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeviceView {
    /// This device's id.
    pub device: String,
    /// The tenant it belongs to.
    pub tenant: String,
    /// The person recording on it.
    pub user: String,
    /// The server it syncs with.
    pub server_url: String,
}

impl From<replica::DeviceInfo> for DeviceView {
    fn from(info: replica::DeviceInfo) -> Self {
        Self {
            device: info.device.to_string(),
            tenant: info.tenant.to_string(),
            user: info.user.to_string(),
            server_url: info.server_url,
        }
    }
}

/// The replica at a glance, for the dashboard ([`replica::Status`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StatusView {
    /// The device, once set up.
    pub device: Option<DeviceView>,
    /// The database's schema version.
    #[ts(type = "number")]
    pub schema_version: i64,
    /// Journal entries not pushed yet.
    #[ts(type = "number")]
    pub pending: u64,
    /// The last `device_seq` used.
    #[ts(type = "number")]
    pub last_seq: u64,
    /// Held, rejected or flagged entries.
    #[ts(type = "number")]
    pub conflicts: u64,
    /// The last pull, RFC 3339.
    pub last_pull_at: Option<String>,
    /// The last push response applied, RFC 3339.
    pub last_push_at: Option<String>,
    /// The replica's position in the server's change feed.
    pub cursor: Option<String>,
    /// Server clock − device clock, as last measured.
    #[ts(type = "number")]
    pub clock_offset_ms: i64,
}

impl From<replica::Status> for StatusView {
    fn from(status: replica::Status) -> Self {
        Self {
            device: status.device.map(DeviceView::from),
            schema_version: status.schema_version,
            pending: status.pending,
            last_seq: status.last_seq,
            conflicts: status.conflicts,
            last_pull_at: status.last_pull_at.map(|at| at.to_rfc3339()),
            last_push_at: status.last_push_at.map(|at| at.to_rfc3339()),
            cursor: status.cursor,
            clock_offset_ms: status.clock_offset_ms,
        }
    }
}

/// Which products to show ([`replica::Search`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum SearchBy {
    /// SKUs starting with this.
    SkuPrefix(String),
    /// Names containing this.
    Name(String),
    /// Exactly this barcode.
    Barcode(String),
    /// Any of the three.
    Any(String),
}

impl From<SearchBy> for replica::Search {
    fn from(search: SearchBy) -> Self {
        match search {
            SearchBy::SkuPrefix(s) => Self::SkuPrefix(s),
            SearchBy::Name(s) => Self::Name(s),
            SearchBy::Barcode(s) => Self::Barcode(s),
            SearchBy::Any(s) => Self::Any(s),
        }
    }
}

/// A stock query ([`replica::StockQuery`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StockQuery {
    /// Products to show; all when none.
    pub search: Option<SearchBy>,
    /// Only this bin code.
    pub bin: Option<String>,
    /// Only this warehouse code.
    pub warehouse: Option<String>,
    /// At most this many lines (the replica caps it).
    #[ts(type = "number | null")]
    pub limit: Option<usize>,
}

impl From<StockQuery> for replica::StockQuery {
    fn from(query: StockQuery) -> Self {
        Self {
            search: query.search.map(Into::into),
            bin: query.bin,
            warehouse: query.warehouse,
            limit: query.limit,
        }
    }
}

/// One projected stock row ([`replica::StockLine`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StockLine {
    /// The product's id.
    pub product: String,
    /// Its SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// The bin's id.
    pub location: String,
    /// The bin's code.
    pub location_code: String,
    /// The bin's warehouse code.
    pub warehouse_code: String,
    /// The lot's code.
    pub lot_code: Option<String>,
    /// Projected units on hand.
    #[ts(type = "number")]
    pub on_hand: i64,
    /// Units allocated to sales orders.
    #[ts(type = "number")]
    pub allocated: i64,
    /// `on_hand − allocated`.
    #[ts(type = "number")]
    pub available: i64,
    /// The part of `on_hand` from this device's unsettled journal.
    #[ts(type = "number")]
    pub pending: i64,
}

impl From<replica::StockLine> for StockLine {
    fn from(line: replica::StockLine) -> Self {
        Self {
            product: line.product.to_string(),
            sku: line.sku,
            name: line.name,
            location: line.location.to_string(),
            location_code: line.location_code,
            warehouse_code: line.warehouse_code,
            lot_code: line.lot_code,
            on_hand: line.on_hand,
            allocated: line.allocated,
            available: line.available,
            pending: line.pending,
        }
    }
}

/// How the person named the product ([`replica::ItemRef`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum ItemRef {
    /// A SKU as typed.
    Sku(String),
    /// A barcode as scanned.
    Barcode(String),
    /// Scanner or keyboard input: an exact barcode first, else a SKU.
    Scan(String),
}

impl From<ItemRef> for replica::ItemRef {
    fn from(item: ItemRef) -> Self {
        match item {
            ItemRef::Sku(s) => Self::Sku(s),
            ItemRef::Barcode(s) => Self::Barcode(s),
            ItemRef::Scan(s) => Self::Scan(s),
        }
    }
}

/// Why stock was adjusted ([`AdjustReason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Damaged (negative).
    Damage,
    /// Lost or stolen (negative).
    Loss,
    /// Found (positive).
    Found,
    /// A booking error put right.
    Correction,
}

impl From<Reason> for AdjustReason {
    fn from(reason: Reason) -> Self {
        match reason {
            Reason::Damage => Self::Damage,
            Reason::Loss => Self::Loss,
            Reason::Found => Self::Found,
            Reason::Correction => Self::Correction,
        }
    }
}

/// What the person did ([`replica::Op`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Op {
    /// Received `qty` into bin `to`.
    Receive {
        /// Bin code.
        to: String,
        /// Units.
        #[ts(type = "number")]
        qty: i64,
    },
    /// Shipped `qty` from bin `from`.
    Ship {
        /// Bin code.
        from: String,
        /// Units.
        #[ts(type = "number")]
        qty: i64,
    },
    /// Moved `qty` from `from` to `to`.
    Transfer {
        /// Source bin code.
        from: String,
        /// Destination bin code.
        to: String,
        /// Units.
        #[ts(type = "number")]
        qty: i64,
    },
    /// Changed bin `at` by `delta` for `reason`.
    Adjust {
        /// Bin code.
        at: String,
        /// Signed units.
        #[ts(type = "number")]
        delta: i64,
        /// Why.
        reason: Reason,
    },
}

impl From<Op> for replica::Op {
    fn from(op: Op) -> Self {
        match op {
            Op::Receive { to, qty } => Self::Receive { to, qty },
            Op::Ship { from, qty } => Self::Ship { from, qty },
            Op::Transfer { from, to, qty } => Self::Transfer { from, to, qty },
            Op::Adjust { at, delta, reason } => Self::Adjust {
                at,
                delta,
                reason: reason.into(),
            },
        }
    }
}

/// One action to record ([`replica::Action`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Action {
    /// The product.
    pub item: ItemRef,
    /// The lot code, for lot-tracked products.
    pub lot: Option<String>,
    /// The warehouse code, when a bin code exists in several.
    pub warehouse: Option<String>,
    /// What happened.
    pub op: Op,
}

impl From<Action> for replica::Action {
    fn from(action: Action) -> Self {
        Self {
            item: action.item.into(),
            lot: action.lot,
            warehouse: action.warehouse,
            op: action.op.into(),
            reference: None,
        }
    }
}

/// Something worth a look about an action recorded anyway ([`replica::Warning`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Warning {
    /// Stable machine code.
    pub code: String,
    /// For people.
    pub message: String,
}

/// A recorded action ([`replica::Recorded`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Recorded {
    /// Its `device_seq`.
    #[ts(type = "number")]
    pub seq: u64,
    /// The movement's id.
    pub movement_id: String,
    /// When it happened, RFC 3339.
    pub occurred_at: String,
    /// What the projection expects the server to do: `applied`, `held`, …
    pub projected: String,
    /// Recorded anyway, but worth a look.
    pub warnings: Vec<Warning>,
}

impl From<replica::Recorded> for Recorded {
    fn from(recorded: replica::Recorded) -> Self {
        Self {
            seq: recorded.seq,
            movement_id: recorded.movement.id.to_string(),
            occurred_at: recorded.movement.occurred_at.to_rfc3339(),
            projected: recorded.projected,
            warnings: recorded
                .warnings
                .into_iter()
                .map(|w| Warning {
                    code: w.code,
                    message: w.message,
                })
                .collect(),
        }
    }
}

/// The TypeScript declarations of every type above, in one file, as checked in at
/// `ui/src/lib/bindings/index.ts`.
pub fn typescript_bindings() -> String {
    let decls = [
        CommandError::decl(),
        ReplicaLocation::decl(),
        DeviceView::decl(),
        StatusView::decl(),
        SearchBy::decl(),
        StockQuery::decl(),
        StockLine::decl(),
        ItemRef::decl(),
        Reason::decl(),
        Op::decl(),
        Action::decl(),
        Warning::decl(),
        Recorded::decl(),
    ];
    let mut out = String::from(
        "// Generated from src-tauri/src/dto.rs by ts-rs. Do not edit: run\n\
         // `UPDATE_BINDINGS=1 cargo test -p logiflow-desktop bindings` instead.\n",
    );
    for decl in decls {
        out.push_str("\nexport ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}
