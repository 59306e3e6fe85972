//! `logiflow`: the headless CLI over the device's local replica.
//!
//! Every command maps its arguments to one [`logiflow_replica::Replica`] call and prints
//! the result, as text or, with `--json`, as one JSON document on stdout. Errors go to
//! stderr (as `{"error": {"code", "message"}}` with `--json`).
//!
//! Exit codes: 0 success; 1 usage or validation error (bad arguments, unknown SKU,
//! refused movement, …); 2 any other failure (storage, damaged data, I/O).
//!
//! Commands that need the server (`connect`, `login`, `scope`, `sync`) are not here yet:
//! the server's sync endpoints do not exist. `init` and `import-snapshot` set a replica
//! up locally for tests and demos.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use logiflow_core::{AdjustReason, DeviceId, PullPage, TenantId, UserId};
use logiflow_replica::{
    Action, ItemRef, JournalFilter, JournalStatus, Op, Replica, Search, StockQuery,
};
use serde::Serialize;

/// LogiFlow's offline replica: record stock movements and browse stock without a
/// connection.
#[derive(Debug, Parser)]
#[command(name = "logiflow", version)]
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

#[derive(Debug, Subcommand)]
enum Command {
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
    /// List movements the server held or rejected, or flagged for review.
    Conflicts,
    /// List the journal.
    Journal {
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
            let replica_err = err.downcast_ref::<logiflow_replica::Error>();
            let (code, exit) = match replica_err {
                Some(e) if e.is_user_error() => (e.code(), 1),
                Some(e) => (e.code(), 2),
                None => ("internal", 2),
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
        Command::Status => {
            let s = replica.status().context("failed to read the status")?;
            print(json, &s, || {
                let device = s
                    .device
                    .as_ref()
                    .map_or("not set up".to_owned(), |d| d.device.to_string());
                let last_pull = s
                    .last_pull_at
                    .map_or("never".to_owned(), |t| t.to_rfc3339());
                format!(
                    "device: {device}\npending: {}\nconflicts: {}\nlast seq: {}\nlast pull: {last_pull}\ncursor: {}",
                    s.pending,
                    s.conflicts,
                    s.last_seq,
                    s.cursor.as_deref().unwrap_or("none")
                )
            })
        }
        Command::Conflicts => {
            let entries = replica.conflicts().context("failed to read conflicts")?;
            print(json, &entries, || journal_text(&entries))
        }
        Command::Journal {
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
