//! `logiflow`: the headless CLI over the device's local replica.
//!
//! Every command maps its arguments to one [`logiflow_replica::Replica`] call and prints
//! the result, as text or, with `--json`, as one JSON document on stdout. Errors go to
//! stderr (as `{"error": {"code", "message"}}` with `--json`).
//!
//! Exit codes (see [`EXIT_CODES`], also printed by `--help`): 0 success; 1 usage or
//! validation error (bad arguments, unknown SKU, refused movement, …); 2 any other
//! failure (storage, damaged data, I/O, a server answer the client cannot act on);
//! 3 the server could not be reached or kept failing (or another sync is running):
//! retry later; 4 the device was revoked or its credentials are invalid: run
//! `logiflow login` or ask an administrator; 5 the tenant's subscription expired: the
//! journal is kept and pushed after renewal.
//!
//! `connect`, `login`, `scope`, `sync`, `conflicts resolve`, `journal upload` and
//! `sign-out` talk to the server; the device's tokens are
//! kept in the OS keyring, or in a file named by `LOGIFLOW_CREDENTIALS=file:PATH` (tests
//! only). `init` and `import-snapshot` set a replica up locally for tests and demos.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use logiflow_core::{AdjustReason, DeviceId, MovementId, PullPage, TenantId, UserId};
use logiflow_replica::{
    Action, ConnectRequest, CredentialStore, Error, ItemRef, JournalFilter, JournalStatus, Op,
    Replica, Resolution, Search, Secret, ServerClient, StockQuery, SyncOptions, SyncProgress,
};
use serde::Serialize;

/// LogiFlow's offline replica: record stock movements and browse stock without a
/// connection.
#[derive(Debug, Parser)]
#[command(name = "logiflow", version, after_help = EXIT_CODES)]
struct Cli {
    /// The replica database (default: logiflow/replica.db in the user's data directory).
    #[arg(long, global = true, env = "LOGIFLOW_DB")]
    db: Option<PathBuf>,
    /// Print results as JSON (errors as {"error": {"code", "message"}} on stderr).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The exit codes, for `--help` and the README.
const EXIT_CODES: &str = "Exit codes:
  0  success
  1  usage or validation error (bad arguments, unknown SKU, refused movement)
  2  any other failure (storage, damaged data, a server answer the client cannot act on)
  3  the server could not be reached or kept failing, or another sync is running: retry later
  4  the device was revoked or its credentials are invalid: `logiflow login`, or ask an administrator
  5  the tenant's subscription expired: the journal is kept and pushed after renewal

Credentials: the device's tokens are kept in the OS keyring; LOGIFLOW_CREDENTIALS=file:PATH
keeps them in a plain file instead (headless tests only).";

#[derive(Debug, Subcommand)]
enum ConflictsAction {
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
enum ClockAction {
    /// Confirm this device's clock as it reads now, after a `clock_jumped` refusal you
    /// checked: movements are recorded with it until the next sync measures the server's
    /// time again. Nothing already recorded is re-dated.
    Accept,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register this replica as a new device of a server and run the first sync. The
    /// password is read from stdin (first line) or prompted for at a terminal.
    Connect {
        /// The server's URL, e.g. https://logiflow.example.com.
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
    /// Record goods received into a bin.
    Receive {
        #[command(flatten)]
        item: ItemArgs,
        /// The bin received into.
        #[arg(long)]
        to: String,
        /// Units received.
        #[arg(long, allow_negative_numbers = true)]
        qty: i64,
    },
    /// Record goods shipped from a bin.
    Ship {
        #[command(flatten)]
        item: ItemArgs,
        /// The bin picked from.
        #[arg(long)]
        from: String,
        /// Units shipped.
        #[arg(long, allow_negative_numbers = true)]
        qty: i64,
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
enum JournalAction {
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
struct SyncBounds {
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
    fn options(&self) -> SyncOptions {
        SyncOptions {
            deadline: Duration::from_secs(self.timeout.max(1)),
            pull_limit: self.page_size,
            ..SyncOptions::default()
        }
    }
}

#[derive(Debug, Args)]
struct ItemArgs {
    /// The product: a scanned barcode or a SKU (see --by).
    item: String,
    /// How to read ITEM: scan (an exact barcode, else a SKU), sku or barcode.
    #[arg(long, value_enum, default_value = "scan")]
    by: ItemBy,
    /// The lot code (lot-tracked products).
    #[arg(long)]
    lot: Option<String>,
    /// The warehouse code, when a bin code exists in several warehouses.
    #[arg(long)]
    warehouse: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ItemBy {
    Scan,
    Sku,
    Barcode,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Reason {
    Damage,
    Loss,
    Found,
    Correction,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatusArg {
    Pending,
    Pushed,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            // --help and --version print to stdout and succeed; usage errors exit 1.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let (code, exit) = match (err.downcast_ref::<Error>(), err.downcast_ref::<Failed>()) {
                (Some(e), _) => (e.code(), exit_code(e)),
                (None, Some(Failed(body))) => (body.code.as_str(), exit_code_of(&body.code)),
                (None, None) => ("internal", 2),
            };
            if json {
                let message = format!("{err:#}");
                eprintln!(
                    "{}",
                    serde_json::json!({"error": {"code": code, "message": message}})
                );
            } else {
                eprintln!("logiflow: {err:#}");
            }
            ExitCode::from(exit)
        }
    }
}

/// The documented exit code of a replica error (see [`EXIT_CODES`]).
fn exit_code(e: &Error) -> u8 {
    match exit_code_of(e.code()) {
        2 if e.is_user_error() => 1,
        n => n,
    }
}

/// The exit code of an error code that is not a usage error.
fn exit_code_of(code: &str) -> u8 {
    match code {
        "server_unreachable" | "sync_busy" => 3,
        "device_revoked" | "credentials_invalid" | "wrong_password" => 4,
        "subscription_expired" => 5,
        _ => 2,
    }
}

/// A failure already reported as a `{code, message}` body (a first sync that failed).
#[derive(Debug)]
struct Failed(logiflow_replica::ErrorBody);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the device is set up but its first sync failed: {} ({})",
            self.0.message, self.0.code
        )
    }
}

impl std::error::Error for Failed {}

/// The password: prompted for (without echo) at a terminal, else the first line of stdin.
fn read_password() -> anyhow::Result<Secret> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("password: ").context("failed to read the password")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("failed to read the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if text.is_empty() {
        return Err(Error::InvalidInput {
            field: "password",
            message: "no password given on stdin".into(),
        }
        .into());
    }
    Ok(Secret::new(text))
}

fn default_device_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "logiflow-cli".to_owned())
}

/// Prints progress on stderr: a line per step, JSON lines with --json.
fn progress_printer(json: bool) -> impl FnMut(&SyncProgress) {
    move |p: &SyncProgress| {
        if json {
            if let Ok(line) = serde_json::to_string(&serde_json::json!({ "progress": p })) {
                eprintln!("{line}");
            }
            return;
        }
        match p {
            SyncProgress::Pushing { pushed, total } => eprintln!("push: {pushed}/{total}"),
            SyncProgress::Pulling {
                snapshot: Some(s), ..
            } => eprintln!("snapshot: {}/{} records", s.sent, s.total),
            SyncProgress::Pulling { pages, items, .. } => {
                eprintln!("pull: {pages} pages, {items} items")
            }
            SyncProgress::Retrying {
                attempt,
                delay_ms,
                reason,
            } => eprintln!("retry {attempt} in {delay_ms} ms: {reason}"),
        }
    }
}

fn sync_text(r: &logiflow_replica::SyncReport) -> String {
    format!(
        "pushed {} (applied {}, held {}, rejected {}, absorbed {}, superseded {}, voided {}); pulled {} pages, {} items, {} outcomes; {} pending; {} retries",
        r.pushed,
        r.applied,
        r.held,
        r.rejected,
        r.absorbed,
        r.superseded,
        r.voided,
        r.pages,
        r.items,
        r.outcomes,
        r.pending,
        r.retries
    )
}

fn default_db() -> anyhow::Result<PathBuf> {
    use etcetera::BaseStrategy;
    let base = etcetera::choose_base_strategy()
        .context("failed to find the user's data directory; pass --db")?;
    Ok(base.data_dir().join("logiflow").join("replica.db"))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let path = match cli.db {
        Some(p) => p,
        None => default_db()?,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let mut replica = Replica::open(&path)
        .with_context(|| format!("failed to open the replica at {}", path.display()))?;
    let json = cli.json;
    match cli.command {
        Command::Connect {
            server,
            tenant,
            email,
            warehouses,
            name,
            bounds,
        } => {
            let store = CredentialStore::from_env()?;
            let password = read_password()?;
            let req = ConnectRequest {
                server,
                tenant,
                email,
                password,
                warehouses,
                name: name.unwrap_or_else(default_device_name),
                platform: std::env::consts::OS.to_owned(),
            };
            let report = replica
                .connect(&req, &store, bounds.options(), &mut progress_printer(json))
                .context("failed to connect")?;
            print(json, &report, || {
                let codes: Vec<&str> = report.scope.iter().map(|w| w.code.as_str()).collect();
                let mut out = format!(
                    "device {} registered with {} (scope: {}); credentials in {}",
                    report.device.device,
                    report.device.server_url,
                    codes.join(", "),
                    report.credentials
                );
                match (&report.first_sync, &report.first_sync_error) {
                    (Some(r), _) => out.push_str(&format!("\nfirst sync: {}", sync_text(r))),
                    (None, Some(e)) => out.push_str(&format!(
                        "\nfirst sync failed: {} ({}); run `logiflow sync`",
                        e.message, e.code
                    )),
                    (None, None) => {}
                }
                out
            })?;
            // The device is set up either way; a failed first sync still tells scripts
            // why, through the exit code.
            match report.first_sync_error {
                Some(e) => Err(Failed(e).into()),
                None => Ok(()),
            }
        }
        Command::Login {
            tenant,
            email,
            server,
            name,
            new_device,
            bounds,
        } => {
            let store = CredentialStore::from_env()?;
            let old = replica
                .device()?
                .ok_or(Error::NotInitialized)
                .context("nothing to log in to: use `logiflow connect`")?;
            if new_device {
                // Refused before asking for a password when it cannot work.
                let pending = replica.status()?.pending;
                if pending > 0 {
                    return Err(Error::InvalidInput {
                        field: "journal",
                        message: format!(
                            "{pending} journal entries of device {} are not answered by the server yet; a new device cannot push them: nothing was changed (run `logiflow login` without --new-device to sign in on this device again, or `logiflow journal export` if it was revoked)",
                            old.device
                        ),
                    }
                    .into());
                }
            }
            let password = read_password()?;
            let req = ConnectRequest {
                server: server.unwrap_or_else(|| old.server_url.clone()),
                tenant,
                email,
                password,
                warehouses: Vec::new(),
                name: name.unwrap_or_else(default_device_name),
                platform: std::env::consts::OS.to_owned(),
            };
            let mut progress = progress_printer(json);
            let report = if new_device {
                replica
                    .login_new_device(&req, &store, bounds.options(), &mut progress)
                    .context("failed to log in")?
                    .1
            } else {
                replica
                    .login(&req, &store, bounds.options(), &mut progress)
                    .context("failed to sign in on this device again")?
                    .1
            };
            print(json, &report, || {
                let first = report
                    .first_sync
                    .as_ref()
                    .map_or_else(|| "failed: run `logiflow sync`".to_owned(), sync_text);
                if new_device {
                    format!(
                        "device {} replaces {} (the old replica is kept as {}); first sync: {first}",
                        report.device.device,
                        old.device,
                        Replica::retired_path(&path, old.device).display(),
                    )
                } else {
                    format!(
                        "signed in on device {} again; sync: {first}",
                        report.device.device
                    )
                }
            })?;
            match report.first_sync_error {
                Some(e) => Err(Failed(e).into()),
                None => Ok(()),
            }
        }
        Command::Scope => {
            let store = CredentialStore::from_env()?;
            let device = replica.device()?.ok_or(Error::NotInitialized)?;
            let client = ServerClient::new(&device.server_url, SyncOptions::default())?;
            let report = replica
                .scope_report(&client, &store)
                .context("failed to read the scope")?;
            print(json, &report, || {
                let mut out = String::from("IN SCOPE\tCODE\tNAME");
                for w in &report.tenant_warehouses {
                    let inside = report.scope.iter().any(|s| s.id == w.id);
                    out.push_str(&format!(
                        "\n{}\t{}\t{}",
                        if inside { "yes" } else { "no" },
                        w.code,
                        w.name
                    ));
                }
                for s in &report.scope {
                    if !report.tenant_warehouses.iter().any(|w| w.id == s.id) {
                        out.push_str(&format!("\nyes\t{}\t(no longer active) {}", s.code, s.id));
                    }
                }
                out
            })
        }
        Command::Sync {
            watch,
            interval,
            bounds,
        } => {
            let store = CredentialStore::from_env()?;
            let device = replica.device()?.ok_or(Error::NotInitialized)?;
            let client = ServerClient::new(&device.server_url, bounds.options())?;
            let mut progress = progress_printer(json);
            if !watch {
                let report = replica
                    .sync(&client, &store, &mut progress)
                    .context("sync failed")?;
                return print(json, &report, || sync_text(&report));
            }
            let stop = Arc::new(AtomicBool::new(false));
            {
                let stop = Arc::clone(&stop);
                ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
                    .context("failed to install the Ctrl-C handler")?;
            }
            while !stop.load(Ordering::SeqCst) {
                match replica.sync(&client, &store, &mut progress) {
                    Ok(report) => print(json, &report, || sync_text(&report))?,
                    // These do not heal by waiting: stop and say so.
                    Err(e) if e.needs_person() => {
                        return Err(e).context("sync failed");
                    }
                    Err(e) => {
                        if json {
                            eprintln!("{}", serde_json::json!({ "error": e.body() }));
                        } else {
                            eprintln!("logiflow: sync failed: {e} (retrying in {interval} s)");
                        }
                    }
                }
                for _ in 0..interval.max(1) * 10 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Ok(())
        }
        Command::Init {
            tenant,
            user,
            server,
            device,
        } => {
            let info = replica
                .init_device(tenant, user, &server, device)
                .context("failed to set up the device")?;
            print(json, &info, || format!("device {} set up", info.device))
        }
        Command::ImportSnapshot { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("failed to read {}", file.display()))?;
            let page: PullPage =
                serde_json::from_str(&text).map_err(|e| logiflow_replica::Error::InvalidInput {
                    field: "file",
                    message: format!("not a pull page: {e}"),
                })?;
            let applied = replica
                .import_page(&page)
                .context("failed to store the pull page")?;
            print(json, &applied, || {
                format!(
                    "stored {} catalog records, {} stock rows, {} ledger effects, {} outcomes",
                    applied.catalog, applied.rows, applied.effects, applied.outcomes
                )
            })
        }
        Command::Receive { item, to, qty } => {
            record(json, &mut replica, item, Op::Receive { to, qty })
        }
        Command::Ship { item, from, qty } => {
            record(json, &mut replica, item, Op::Ship { from, qty })
        }
        Command::Transfer {
            item,
            from,
            to,
            qty,
        } => record(json, &mut replica, item, Op::Transfer { from, to, qty }),
        Command::Adjust {
            item,
            at,
            delta,
            reason,
        } => {
            let reason = match reason {
                Reason::Damage => AdjustReason::Damage,
                Reason::Loss => AdjustReason::Loss,
                Reason::Found => AdjustReason::Found,
                Reason::Correction => AdjustReason::Correction,
            };
            record(json, &mut replica, item, Op::Adjust { at, delta, reason })
        }
        Command::Count {
            item,
            at,
            counted,
            expected,
        } => record(
            json,
            &mut replica,
            item,
            Op::Count {
                at,
                counted,
                expected,
            },
        ),
        Command::Stock {
            query,
            sku,
            name,
            barcode,
            bin,
            warehouse,
            limit,
        } => {
            let search = query.map(|q| {
                if sku {
                    Search::SkuPrefix(q)
                } else if name {
                    Search::Name(q)
                } else if barcode {
                    Search::Barcode(q)
                } else {
                    Search::Any(q)
                }
            });
            let lines = replica
                .stock(&StockQuery {
                    search,
                    bin,
                    warehouse,
                    limit,
                })
                .context("failed to read stock")?;
            print(json, &lines, || {
                let mut out = String::from("SKU\tBIN\tLOT\tON HAND\tAVAILABLE\tPENDING\tNAME");
                for l in &lines {
                    out.push_str(&format!(
                        "\n{}\t{}/{}\t{}\t{}\t{}\t{:+}\t{}",
                        l.sku,
                        l.warehouse_code,
                        l.location_code,
                        l.lot_code.as_deref().unwrap_or("-"),
                        l.on_hand,
                        l.available,
                        l.pending,
                        l.name
                    ));
                }
                out
            })
        }
        Command::Clock { action: None } => {
            let jump = replica.check_clock().context("failed to check the clock")?;
            let report = serde_json::json!({
                "clock_jumped": jump.is_some(),
                "off_by_secs": jump.as_ref().map(logiflow_replica::ClockJump::off_by_secs),
                "message": jump.as_ref().map(logiflow_replica::ClockJump::message),
            });
            print(json, &report, || match &jump {
                Some(j) => format!("clock_jumped: {}", j.message()),
                None => "the clock agrees with the server's last answer and the time elapsed since"
                    .into(),
            })
        }
        Command::Clock {
            action: Some(ClockAction::Accept),
        } => {
            let at = replica
                .accept_clock()
                .context("failed to confirm the clock")?;
            print(json, &serde_json::json!({ "accepted": at }), || {
                format!(
                    "the clock is confirmed as it reads now ({}); the next sync checks it against the server again",
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                )
            })
        }
        Command::Status => {
            let s = replica.status().context("failed to read the status")?;
            print(json, &s, || {
                let device = s
                    .device
                    .as_ref()
                    .map_or("not set up".to_owned(), |d| d.device.to_string());
                let server = s
                    .device
                    .as_ref()
                    .map_or("none".to_owned(), |d| d.server_url.clone());
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map_or("never".to_owned(), |t| t.to_rfc3339())
                };
                let last_sync = match (&s.last_sync_at, &s.last_sync_error) {
                    (None, _) => "never".to_owned(),
                    (Some(t), None) => format!("{} (ok)", t.to_rfc3339()),
                    (Some(t), Some(e)) => {
                        format!("{} (failed: {} — {})", t.to_rfc3339(), e.code, e.message)
                    }
                };
                let session = match s.session_expires_at {
                    None => "unknown".to_owned(),
                    Some(t) if s.session_ends_soon => format!(
                        "ends {} (soon: sync before then, or sign in again with `logiflow login`)",
                        t.to_rfc3339()
                    ),
                    Some(t) => format!("ends {} unless the device syncs before", t.to_rfc3339()),
                };
                format!(
                    "device: {device}\nserver: {server}\npending: {}\nconflicts: {}\nlast seq: {}\nlast sync: {last_sync}\nlast contact with the server: {}\nlast push: {}\nlast pull: {}\ncursor: {}\nsession: {session}",
                    s.pending,
                    s.conflicts,
                    s.last_seq,
                    when(s.last_contact_at),
                    when(s.last_push_at),
                    when(s.last_pull_at),
                    s.cursor.as_deref().unwrap_or("none")
                )
            })
        }
        Command::Conflicts { action: None } => {
            let entries = replica.conflicts().context("failed to read conflicts")?;
            print(json, &entries, || journal_text(&entries))
        }
        Command::Conflicts {
            action:
                Some(ConflictsAction::Resolve {
                    movement,
                    force,
                    void: _,
                    reason,
                    bounds,
                }),
        } => {
            let store = CredentialStore::from_env()?;
            let device = replica.device()?.ok_or(Error::NotInitialized)?;
            let client = ServerClient::new(&device.server_url, bounds.options())?;
            let id = movement_id(&replica, &movement)?;
            let resolution = if force {
                Resolution::Force
            } else {
                Resolution::Void
            };
            let mut progress = progress_printer(json);
            let done = replica
                .resolve(&client, &store, id, resolution, &reason, &mut progress)
                .context("failed to resolve the movement")?;
            print(json, &done, || {
                format!(
                    "#{} {}: now {}; {}",
                    done.seq,
                    id,
                    done.outcome,
                    sync_text(&done.pulled)
                )
            })
        }
        Command::SignOut => {
            let store = CredentialStore::from_env()?;
            let device = replica.device()?.ok_or(Error::NotInitialized)?;
            let client = ServerClient::new(&device.server_url, SyncOptions::default())?;
            let done = replica
                .sign_out(&client, &store)
                .context("failed to sign out")?;
            print(json, &done, || {
                if done.session_ended {
                    format!(
                        "signed out: device {} has no tokens on this machine and its session is ended",
                        device.device
                    )
                } else {
                    format!(
                        "signed out: device {} has no tokens on this machine (the server could not be told; its session ends when its tokens expire)",
                        device.device
                    )
                }
            })
        }
        Command::Journal {
            action: Some(JournalAction::Export { out }),
            ..
        } => {
            let done = replica
                .export_journal(&out)
                .context("failed to export the journal")?;
            print(json, &done, || {
                format!(
                    "wrote {} unsent entries of device {} to {}: a manager uploads it with `logiflow journal upload {}`",
                    done.entries, done.device, done.path, done.path
                )
            })
        }
        Command::Journal {
            action: Some(JournalAction::Upload { file, bounds }),
            ..
        } => {
            let store = CredentialStore::from_env()?;
            let device = replica.device()?.ok_or(Error::NotInitialized)?;
            let journal = Replica::read_journal_file(&file)?;
            let client = ServerClient::new(&device.server_url, bounds.options())?;
            let done = replica
                .upload_journal(&client, &store, &journal)
                .context("failed to upload the journal")?;
            print(json, &done, || {
                format!(
                    "device {}: {} entries, {} already on the server, {} held for review in the conflict inbox, {} rejected",
                    done.device_id, done.entries, done.already_on_server, done.held, done.rejected
                )
            })
        }
        Command::Journal {
            action: None,
            status,
            after,
            limit,
        } => {
            let entries = replica
                .journal(&JournalFilter {
                    status: status.map(|s| match s {
                        StatusArg::Pending => JournalStatus::Pending,
                        StatusArg::Pushed => JournalStatus::Pushed,
                    }),
                    after_seq: after,
                    limit,
                })
                .context("failed to read the journal")?;
            print(json, &entries, || journal_text(&entries))
        }
    }
}

/// A movement of the journal named by its id or its journal number (`3` or `#3`).
fn movement_id(replica: &Replica, given: &str) -> anyhow::Result<MovementId> {
    let given = given.trim();
    if let Ok(seq) = given.trim_start_matches('#').parse::<u64>() {
        let entry = replica
            .journal(&JournalFilter {
                status: None,
                after_seq: Some(seq.saturating_sub(1)),
                limit: Some(1),
            })?
            .into_iter()
            .find(|e| e.seq == seq)
            .ok_or_else(|| Error::InvalidInput {
                field: "movement",
                message: format!("no journal entry #{seq}"),
            })?;
        return Ok(entry.id);
    }
    serde_json::from_value(serde_json::Value::String(given.to_owned())).map_err(|_| {
        Error::InvalidInput {
            field: "movement",
            message: format!("`{given}` is neither a movement id nor a journal number"),
        }
        .into()
    })
}

fn record(json: bool, replica: &mut Replica, item: ItemArgs, op: Op) -> anyhow::Result<()> {
    let action = Action {
        item: match item.by {
            ItemBy::Scan => ItemRef::Scan(item.item),
            ItemBy::Sku => ItemRef::Sku(item.item),
            ItemBy::Barcode => ItemRef::Barcode(item.item),
        },
        lot: item.lot,
        warehouse: item.warehouse,
        op,
        reference: None,
    };
    let recorded = replica
        .record(&action)
        .context("failed to record the movement")?;
    print(json, &recorded, || {
        let mut out = format!(
            "recorded #{} ({}), projected {}",
            recorded.seq, recorded.movement.id, recorded.projected
        );
        for w in &recorded.warnings {
            out.push_str(&format!("\nwarning: {} ({})", w.message, w.code));
        }
        out
    })
}

fn journal_text(entries: &[logiflow_replica::JournalEntry]) -> String {
    let mut out = String::from("SEQ\tKIND\tOCCURRED AT\tSTATUS\tOUTCOME");
    for e in entries {
        out.push_str(&format!(
            "\n{}\t{}\t{}\t{:?}\t{}",
            e.seq,
            e.kind,
            e.occurred_at.to_rfc3339(),
            e.status,
            e.outcome.as_deref().unwrap_or("-")
        ));
    }
    out
}

fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        let s = serde_json::to_string_pretty(value).context("failed to write json")?;
        println!("{s}");
    } else {
        println!("{}", text());
    }
    Ok(())
}
