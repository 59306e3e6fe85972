//! LogiFlow's offline engine: the device's local replica (DESIGN §5.1, §5.5, §6).
//!
//! One SQLite file holds the device's identity, the pulled catalog and stock of its
//! scope, and the append-only journal of everything recorded on the device. [`Replica`]
//! is the single API that the desktop shell (Tauri commands) and the `logiflow` CLI call;
//! neither holds logic of its own.
//!
//! * Recording ([`Replica::record`]) resolves what a person typed or scanned against the
//!   local catalog, validates it with [`logiflow_core::validate`], and appends it to the
//!   journal in one transaction synced to disk.
//! * The stock a person sees ([`Replica::stock`]) is the projection: the last pulled
//!   server state plus the journal entries not yet reflected in it, replayed by the same
//!   core rules the server uses (see the `projection` module).
//! * Sync ([`Replica::sync`]) pushes the pending journal in bounded batches, then pulls
//!   pages until the replica is current, over HTTP with a [`ServerClient`] (blocking
//!   reqwest with rustls; retries with backoff and jitter; a total time bound). It is
//!   built from pure steps that tests may also call one by one:
//!   [`Replica::push_batch`] builds a [`logiflow_core::PushRequest`],
//!   [`Replica::mark_pushed`] stores its response, [`Replica::apply_pull`] stores a
//!   [`logiflow_core::PullPage`] with its cursor. Every step commits only after the
//!   server answered, so a sync killed at any point resumes without loss or duplicates.
//! * Credentials ([`CredentialStore`]): the device's tokens live in the OS keyring, or in
//!   a file chosen explicitly for headless tests (`LOGIFLOW_CREDENTIALS=file:PATH`);
//!   never in the SQLite file or the logs. [`Replica::connect`] registers a new device
//!   with the server and stores its tokens.
//!
//! Time and the random bits of ids come from an injected [`Env`], so tests are
//! deterministic.
//!
//! * Cycle counts: [`Replica::count_sheet`] lists a bin's or a zone's bins and their
//!   projected stock, [`Replica::resolve_item`] names the product a scan means, and
//!   [`Replica::record_count`] journals one `count` movement per counted row, all or none.
//!
//! The `ts` feature derives `ts_rs::TS` on the API types, for the desktop UI's generated
//! TypeScript ([`typescript_declarations`]).

mod api;
mod backoffice;
mod bins;
mod client;
mod clock;
mod credentials;
mod db;
mod env;
mod error;
mod export;
mod history;
mod import;
mod kpi;
mod projection;
mod replica;
mod sync;
#[cfg(feature = "ts")]
mod ts;
mod view;

pub use api::{
    Action, COUNT_BINS_MAX, COUNT_LINES_MAX, CountLine, CountScope, CountSheet, CountSubmission,
    DeviceInfo, ItemRef, JOURNAL_PAGE_MAX, JournalEntry, JournalExported, JournalFilter,
    JournalStatus, JournalUploaded, LineMatch, Op, OpenOrders, PickStop, PickView, ProductRef,
    PullApplied, PurchaseLineView, PurchaseOrderView, Recorded, Resolution, Resolved,
    SESSION_WARNING_DAYS, STOCK_LIMIT_MAX, SalesLineView, SalesOrderView, Search, SignedOut,
    Status, StockLine, StockQuery, WAVE_ORDERS_MAX, Warning, session_ends_soon,
};
pub use backoffice::{BackofficeCall, allowed as backoffice_allowed};
pub use bins::{BIN_CODES_SHOWN, BinGrid, BinSegment, GeneratedBins};
pub use client::{
    ACCESS_TOKEN_MARGIN_SECS, CONNECT_TIMEOUT_MS, PersonSession, REQUEST_TIMEOUT_MS, RETRIES_MAX,
    RETRY_DELAY_MAX_MS, RETRY_DELAY_MIN_MS, SYNC_DEADLINE_MS, ServerClient, SyncOptions,
    WarehouseInfo,
};
pub use clock::{CLOCK_JUMP_TOLERANCE_MS, ClockJump, Uptime, human_duration};
pub use credentials::{CREDENTIALS_ENV, CredentialStore, DeviceTokens, KEYRING_SERVICE, Secret};
pub use db::{BUSY_TIMEOUT_MS, SCHEMA_VERSION};
pub use env::{Env, SystemEnv, TestEnv};
pub use error::{Error, ErrorBody, NEEDS_A_PERSON, Result, needs_person};
pub use export::{ExportKind, ExportRequest, Exported};
pub use history::{HISTORY_PAGE_MAX, History, HistoryEntry, HistoryOf, HistoryQuery, Named};
pub use import::{IMPORT_ERRORS_SHOWN, ImportError, ImportKind, ImportRequest, Imported};
pub use kpi::{LOW_STOCK_LINES_MAX, LowStockLine, StockKpis};
pub use replica::{
    ALERTS_OPEN_MAX, ALERTS_PAGE, ALERTS_RECENT, AlertList, AlertView, LEDGER_KEEP_MS,
    NOTIFIED_KINDS, Replica,
};
pub use sync::{
    ConnectReport, ConnectRequest, RESOLVE_REASON_LEN_MAX, ScopeReport, SyncProgress, SyncReport,
};
#[cfg(feature = "ts")]
pub use ts::typescript_declarations;
pub use view::{Connected, JournalRow};
