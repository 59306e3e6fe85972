//! LogiFlow's domain types and rules, shared by the server and the offline replica.
//!
//! This crate is pure: no I/O, no async, no clock, no randomness. Time, ids and state
//! are passed in. That is what lets the same rules run under PostgreSQL row locks on the
//! server and over a SQLite journal on a device, and what lets a simulation of many
//! devices check them (see `tests/convergence.rs`).
//!
//! * [`ids`] — UUIDv7 id newtypes.
//! * [`qty`] — exact integer quantities.
//! * [`codes`] — validated SKUs, barcodes, location and lot codes.
//! * [`bins`] — the bin generator: ranges (aisles × racks × levels) into bin codes.
//! * [`movement`] and [`stock`] — movements, stock rows and the total order of events.
//! * [`engine`] — rows, ledger and held movements in memory, driven by the rules with
//!   the automatic retry of held movements (the model server, the replica's projection).
//! * [`replay`] — the decision on each movement: applied, held, rejected, absorbed or
//!   superseded, with flags; and which held movements to retry.
//! * [`clock`] — how far the server trusts a device's clock: a journal movement dated
//!   beyond the server's time of receipt is held for a person; online intents are dated
//!   after what is stored.
//! * [`sync`] — the push/pull wire contract between a device and the server.
//! * [`journal_file`] — a device's exported journal and the rule for uploaded entries.
//! * [`reorder`] — the low-stock rule: when a product is low in a warehouse, its shortfall.
//! * [`orders`] — purchase and sales orders: allocation (FEFO/FIFO), picks, states.
//! * [`secret`] — a secret string whose `Debug` never shows it.
//! * [`webhooks`] — the retry schedule of webhook deliveries (backoff, jitter, dead letter).
//! * [`problem`] — the stable codes of the server's problem documents.

pub mod bins;
pub mod clock;
pub mod codes;
pub mod engine;
pub mod ids;
pub mod journal_file;
pub mod lots;
pub mod movement;
pub mod names;
pub mod orders;
pub mod problem;
pub mod qty;
pub mod reorder;
pub mod replay;
pub mod secret;
pub mod stock;
pub mod sync;
pub mod webhooks;

pub use clock::{
    CLOCK_AHEAD_TOLERANCE_SECS_DEFAULT, JOURNAL_PAST_LIMIT_DAYS_DEFAULT, Receipt, bound_time,
    force_held, forced_movement, online_time,
};
pub use codes::{Barcode, CodeError, LocationCode, LotCode, Sku};
pub use engine::{Engine, PickChanges};
pub use ids::{DeviceId, LocationId, LotId, MovementId, ProductId, TenantId, UserId, WarehouseId};
pub use journal_file::{
    JOURNAL_FILE_FORMAT, JOURNAL_FILE_VERSION, JOURNAL_UPLOAD_MAX, JournalFile, JournalFileError,
    hold_for_review,
};
pub use movement::{AdjustReason, DeviceStamp, LineRef, Movement, MovementKind, Origin, Side};
pub use names::{AlertKind, FlagName, KindName, OriginName, OutcomeName, UnknownName};
pub use problem::ProblemCode;
pub use qty::{Delta, PositiveQty, QTY_MAX, Qty, QtyError, SCANNED_QTY_DIGITS};
pub use replay::{
    Catalog, DecideError, Decision, Effect, Flag, HeldRef, Hold, HoldReview, LocationFacts,
    LotFacts, OrderLineFacts, Outcome, ProductFacts, RejectCode, Rejection, RowUpdate, decide,
    force, judge, retry_order, validate,
};
pub use secret::Secret;
pub use stock::{OrderKey, RowView, StockKey, StockRow};
pub use sync::{
    Cursor, LedgerEffect, LocationRecord, LotRecord, MovementResult, PULL_PAGE_MAX, PUSH_BATCH_MAX,
    ProductRecord, PullPage, PullRequest, PurchaseLineRecord, PurchaseOrderRecord, PushRequest,
    PushResponse, PushedMovement, RowState, SalesLineRecord, SalesOrderRecord, SnapshotProgress,
    WarehouseRecord,
};
