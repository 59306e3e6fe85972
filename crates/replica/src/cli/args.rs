//! The command line: `logiflow`'s global options, its commands and their arguments, as
//! clap parses them, and the exit codes `--help` documents.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use logiflow_core::{DeviceId, TenantId, UserId};
use logiflow_replica::SyncOptions;

/// LogiFlow's offline replica: record stock movements and browse stock without a
/// connection.
#[derive(Debug, Parser)]
#[command(name = "logiflow", version, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// The replica database (default: logiflow/replica.db in the user's data directory).
    #[arg(long, global = true, env = "LOGIFLOW_DB")]
    pub(crate) db: Option<PathBuf>,
    /// Print results as JSON (errors as {"error": {"code", "message"}} on stderr).
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The exit codes, for `--help` and the README.
pub(crate) const EXIT_CODES: &str = "Exit codes:
  0  success
  1  usage or validation error (bad arguments, unknown SKU, refused movement)
  2  any other failure (storage, damaged data, a server answer the client cannot act on)
  3  the server could not be reached or kept failing, or another sync is running: retry later
  4  the device was revoked or its credentials are invalid: `logiflow login`, or ask an administrator
  5  the tenant's subscription expired: the journal is kept and pushed after renewal

Credentials: the device's tokens are kept in the OS keyring; LOGIFLOW_CREDENTIALS=file:PATH
keeps them in a plain file instead (headless tests only).";

/// What `logiflow import` imports.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ImportWhat {
    Products,
    Locations,
    Lots,
    Suppliers,
    Customers,
    /// Opening stock (counts or receipts: columns warehouse, location, sku, lot, qty,
    /// mode, reason).
    Stock,
    /// Purchase order lines (reference, supplier, warehouse, expected_on, notes, sku, qty,
    /// unit_cost): a draft per reference.
    PurchaseOrders,
    /// Sales order lines (reference, customer, warehouse, requested_on, priority, notes,
    /// sku, qty, unit_price): a draft per reference.
    SalesOrders,
}

impl From<ImportWhat> for logiflow_replica::ImportKind {
    fn from(w: ImportWhat) -> Self {
        match w {
            ImportWhat::Products => Self::Products,
            ImportWhat::Locations => Self::Locations,
            ImportWhat::Lots => Self::Lots,
            ImportWhat::Suppliers => Self::Suppliers,
            ImportWhat::Customers => Self::Customers,
            ImportWhat::Stock => Self::Stock,
            ImportWhat::PurchaseOrders => Self::PurchaseOrders,
            ImportWhat::SalesOrders => Self::SalesOrders,
        }
    }
}

/// What `logiflow export` exports.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ExportWhat {
    Products,
    Locations,
    Stock,
    Movements,
    Audit,
    Lots,
    Suppliers,
    Customers,
}

impl From<ExportWhat> for logiflow_replica::ExportKind {
    fn from(w: ExportWhat) -> Self {
        match w {
            ExportWhat::Products => Self::Products,
            ExportWhat::Locations => Self::Locations,
            ExportWhat::Stock => Self::Stock,
            ExportWhat::Movements => Self::Movements,
            ExportWhat::Audit => Self::Audit,
            ExportWhat::Lots => Self::Lots,
            ExportWhat::Suppliers => Self::Suppliers,
            ExportWhat::Customers => Self::Customers,
        }
    }
}

/// An instant as RFC 3339, or a date (`2026-12-01`) for its midnight UTC.
fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{s:?} is neither an RFC 3339 time nor a date (YYYY-MM-DD)"))
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConflictsAction {
    /// Force a held movement through (applied without the stock check, flagged `forced`)
    /// or void it (it will never apply); needs a manager's or an administrator's role.
    Resolve {
        /// The movement: its id, or its journal number (`device_seq`, e.g. 3 or #3).
        movement: String,
        /// Apply it.
        #[arg(long, conflicts_with = "void", required_unless_present = "void")]
        force: bool,
        /// Never apply it.
        #[arg(long)]
        void: bool,
        /// Why (1 to 500 characters, kept in the server's audit log).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        bounds: SyncBounds,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClockAction {
    /// Confirm this device's clock as it reads now, after a `clock_jumped` refusal you
    /// checked: movements are recorded with it until the next sync measures the server's
    /// time again. Nothing already recorded is re-dated.
    Accept,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Register this replica as a new device of a server and run the first sync. The
    /// password is read from stdin (first line) or prompted for at a terminal.
    Connect {
        /// The server's URL, e.g. https://logiflow.example.com.
        // The help text shows this line as written, so the address stays bare.
        #[allow(rustdoc::bare_urls)]
        #[arg(long)]
        server: String,
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Your email.
        #[arg(long)]
        email: String,
        /// A warehouse to keep offline (its code); repeat for several. Default: all.
        #[arg(long = "warehouse")]
        warehouses: Vec<String>,
        /// The device's name, as administrators see it (default: the host name).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        bounds: SyncBounds,
    },
    /// Sign in on this device again when its session ended (offline too long, keyring
    /// lost): the server gives this same device a new session (its id, scope and journal
    /// numbers stay), then a sync pushes the journal. Any person of the tenant who may
    /// record movements may sign in on a shared device. The password is read from stdin
    /// or prompted for. With --new-device, register a new device instead (a fresh
    /// replica; the old file is kept as `<db>.device-<id>`), refused while entries are
    /// unsent. A revoked device is refused: export its journal (`journal export`).
    Login {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Your email.
        #[arg(long)]
        email: String,
        /// The server's URL (default: the one this replica syncs with).
        #[arg(long)]
        server: Option<String>,
        /// The new device's name with --new-device (default: the host name).
        #[arg(long, requires = "new_device")]
        name: Option<String>,
        /// Register a new device instead of signing in on this one (refused while the
        /// journal holds unsent entries).
        #[arg(long)]
        new_device: bool,
        #[command(flatten)]
        bounds: SyncBounds,
    },
    /// Show the warehouses this device keeps offline and the tenant's warehouses.
    Scope,
    /// Push the journal, then pull until current; with --watch, again every interval
    /// until Ctrl-C. Progress goes to stderr.
    Sync {
        /// Keep syncing every --interval seconds until Ctrl-C.
        #[arg(long)]
        watch: bool,
        /// Seconds between syncs with --watch.
        #[arg(long, default_value_t = 30, requires = "watch")]
        interval: u64,
        #[command(flatten)]
        bounds: SyncBounds,
    },
    /// Set up this device locally (tenant, user, server URL); no network is used.
    Init {
        /// The tenant id.
        #[arg(long)]
        tenant: TenantId,
        /// The user recording on this device.
        #[arg(long)]
        user: UserId,
        /// The server this device will sync with.
        #[arg(long)]
        server: String,
        /// A device id already registered with the server (default: a new one).
        #[arg(long)]
        device: Option<DeviceId>,
    },
    /// Store a pull page (JSON, as the server's /v1/sync/pull returns) in the replica.
    ImportSnapshot {
        /// The JSON file.
        file: PathBuf,
    },
    /// Record goods received into a bin, against a purchase order with `--po`.
    Receive {
        #[command(flatten)]
        item: ItemArgs,
        /// The bin received into.
        #[arg(long)]
        to: String,
        /// Units received.
        #[arg(long, allow_negative_numbers = true)]
        qty: i64,
        /// The purchase order received against (its number, e.g. PO-000123): the
        /// receipt counts toward its first line of the item with units still expected.
        #[arg(long)]
        po: Option<String>,
        /// The lot's expiry date as on the label (YYYY-MM-DD), with --lot: a lot this
        /// device does not know yet is created with it.
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
    },
    /// List the open purchase orders and the sales orders to pick of this device's
    /// warehouses: what each line expects, received or picked (as of the last sync,
    /// plus this device's receipts and picks since), and where to pick.
    Orders,
    /// Record goods shipped from a bin, picked for a sales order with `--so`.
    Ship {
        #[command(flatten)]
        item: ItemArgs,
        /// The bin picked from.
        #[arg(long)]
        from: String,
        /// Units shipped.
        #[arg(long, allow_negative_numbers = true)]
        qty: i64,
        /// The sales order picked for (its number, e.g. SO-000123): the pick counts
        /// toward its first line of the item with units still to pick.
        #[arg(long)]
        so: Option<String>,
    },
    /// Record goods moved from one bin to another.
    Transfer {
        #[command(flatten)]
        item: ItemArgs,
        /// The source bin.
        #[arg(long)]
        from: String,
        /// The destination bin.
        #[arg(long)]
        to: String,
        /// Units moved.
        #[arg(long, allow_negative_numbers = true)]
        qty: i64,
    },
    /// Record a stock adjustment with a reason.
    Adjust {
        #[command(flatten)]
        item: ItemArgs,
        /// The bin adjusted.
        #[arg(long)]
        at: String,
        /// The signed change (negative for damage or loss).
        #[arg(long, allow_negative_numbers = true)]
        delta: i64,
        /// Why.
        #[arg(long, value_enum)]
        reason: Reason,
    },
    /// Record a count of a bin.
    Count {
        #[command(flatten)]
        item: ItemArgs,
        /// The bin counted.
        #[arg(long)]
        at: String,
        /// Units seen.
        #[arg(long, allow_negative_numbers = true)]
        counted: i64,
        /// Units the screen showed beforehand (omit for a blind count).
        #[arg(long, allow_negative_numbers = true)]
        expected: Option<i64>,
    },
    /// Show projected stock, optionally searched by SKU prefix, name or barcode.
    Stock {
        /// Matches an exact barcode, a SKU prefix or a name substring.
        query: Option<String>,
        /// Match only SKUs starting with the query.
        #[arg(long, conflicts_with_all = ["name", "barcode"])]
        sku: bool,
        /// Match only names containing the query.
        #[arg(long, conflicts_with = "barcode")]
        name: bool,
        /// Match only this exact barcode.
        #[arg(long)]
        barcode: bool,
        /// Only this bin.
        #[arg(long)]
        bin: Option<String>,
        /// Only this warehouse (code).
        #[arg(long)]
        warehouse: Option<String>,
        /// At most this many lines.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Export from the server into a file (CSV, or XLSX for a `.xlsx` file or --format
    /// xlsx) with this device's session: products, locations, stock, movements or the
    /// audit log, as the server's /v1/exports write them. Needs a connection; the file
    /// appears only when whole.
    Export {
        /// What to export.
        what: ExportWhat,
        /// The file to write (replaced when the export is whole).
        #[arg(long)]
        out: PathBuf,
        /// csv or xlsx (default: xlsx for a .xlsx file, else csv).
        #[arg(long, value_parser = ["csv", "xlsx"])]
        format: Option<String>,
        /// Only this warehouse of the device (code): locations, stock, movements.
        #[arg(long)]
        warehouse: Option<String>,
        /// From this time (RFC 3339, or a date for midnight UTC): movements, audit.
        #[arg(long, value_parser = parse_instant)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Before this time (RFC 3339, or a date for midnight UTC): movements, audit.
        #[arg(long, value_parser = parse_instant)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        #[command(flatten)]
        bounds: SyncBounds,
    },
    /// Import a file into the server with this device's session: the server validates
    /// every row (progress on stderr) and shows what it would create, update or leave
    /// unchanged, or the failing cells; with --commit, a file without errors is written
    /// in one transaction. A file with errors changes nothing (exit code 1).
    Import {
        /// What the file holds.
        what: ImportWhat,
        /// The CSV (UTF-8, `,` or `;`) or XLSX file (by its extension).
        file: PathBuf,
        /// An XLSX file's sheet (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// Write the rows when none has an error (default: preview only).
        #[arg(long)]
        commit: bool,
        #[command(flatten)]
        bounds: SyncBounds,
    },
    /// Show the replica's state: pending journal, conflicts, last sync, cursor.
    Status,
    /// Check this device's clock against the server's last answer and the time elapsed
    /// since (recording is refused with `clock_jumped` when it jumped); with `accept`,
    /// confirm the clock as it reads now.
    Clock {
        #[command(subcommand)]
        action: Option<ClockAction>,
    },
    /// List movements the server held or rejected, or flagged for review; with
    /// `resolve`, force or void a held one (a manager's decision, made on the server with
    /// this device's session, then pulled back).
    Conflicts {
        #[command(subcommand)]
        action: Option<ConflictsAction>,
    },
    /// Sign this device out: end its session on the server and delete its tokens from
    /// the keyring. The journal stays; syncing again needs `logiflow login` (a new
    /// device). Refused while journal entries are not sent.
    SignOut,
    /// List the journal; `journal export` writes its unsent entries to a file (for a
    /// revoked device) and `journal upload` sends such a file to the server (a manager).
    #[command(args_conflicts_with_subcommands = true)]
    Journal {
        #[command(subcommand)]
        action: Option<JournalAction>,
        /// Only pending (not pushed) or pushed entries.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only entries after this device_seq.
        #[arg(long)]
        after: Option<u64>,
        /// At most this many entries.
        #[arg(long)]
        limit: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum JournalAction {
    /// Write the journal's unsent entries to FILE (format `logiflow.journal` version 1,
    /// JSON), for a device that can no longer push them (revoked): a manager uploads the
    /// file and the entries land in the conflict inbox, held for review. Works offline;
    /// an existing FILE is never overwritten.
    Export {
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Upload FILE, another device's exported journal, with this device's session (its
    /// user must be allowed to resolve conflicts: a manager). Every entry the server does
    /// not hold yet lands in the conflict inbox held for review; uploading twice lands
    /// once.
    Upload {
        /// The file `journal export` wrote.
        file: PathBuf,
        #[command(flatten)]
        bounds: SyncBounds,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SyncBounds {
    /// The longest one sync may take, retries included, in seconds.
    #[arg(long, default_value_t = logiflow_replica::SYNC_DEADLINE_MS / 1000)]
    timeout: u64,
    /// The most items per pull page (1 to 10000): smaller pages commit progress more
    /// often on a slow link.
    #[arg(long, default_value_t = logiflow_core::PULL_PAGE_MAX as u32,
          value_parser = clap::value_parser!(u32).range(1..=logiflow_core::PULL_PAGE_MAX as i64))]
    page_size: u32,
}

impl SyncBounds {
    pub(crate) fn options(&self) -> SyncOptions {
        SyncOptions {
            deadline: Duration::from_secs(self.timeout.max(1)),
            pull_limit: self.page_size,
            ..SyncOptions::default()
        }
    }

    /// [`SyncBounds::options`] for a command whose one request may stream for long (a
    /// file up or down): the request's bound is the whole command's.
    pub(crate) fn long_request_options(&self) -> SyncOptions {
        let options = self.options();
        SyncOptions {
            request_timeout: options.deadline,
            ..options
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct ItemArgs {
    /// The product: a scanned barcode or a SKU (see --by).
    pub(crate) item: String,
    /// How to read ITEM: scan (an exact barcode, else a SKU), sku or barcode.
    #[arg(long, value_enum, default_value = "scan")]
    pub(crate) by: ItemBy,
    /// The lot code (lot-tracked products).
    #[arg(long)]
    pub(crate) lot: Option<String>,
    /// The warehouse code, when a bin code exists in several warehouses.
    #[arg(long)]
    pub(crate) warehouse: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ItemBy {
    Scan,
    Sku,
    Barcode,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Reason {
    Damage,
    Loss,
    Found,
    Correction,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StatusArg {
    Pending,
    Pushed,
}
