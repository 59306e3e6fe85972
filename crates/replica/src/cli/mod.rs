//! The `logiflow` commands: their arguments ([`args`]), one file per command, each
//! returning one [`Output`], and the one printer of results and errors ([`output`]).

mod args;
mod clock;
mod conflicts;
mod connect;
mod export;
mod import;
mod journal;
mod login;
mod orders;
mod output;
mod record;
mod scope;
mod setup;
mod sign_out;
mod status;
mod stock;
mod sync;

use std::path::PathBuf;

use anyhow::Context;
use logiflow_replica::{Op, Replica};

pub(crate) use args::Cli;
use args::{ClockAction, Command, ConflictsAction, JournalAction};
pub(crate) use output::{Output, report};

/// What every command works with.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The open replica.
    replica: Replica,
    /// Its file (`login --new-device` names the retired one beside it).
    path: PathBuf,
    /// `--json`: the result as JSON, progress as JSON lines on stderr.
    json: bool,
}

/// Opens the replica (creating its directory) and runs the command.
pub(crate) fn run(cli: Cli) -> anyhow::Result<Output> {
    let path = match cli.db {
        Some(p) => p,
        None => default_db()?,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let replica = Replica::open(&path)
        .with_context(|| format!("failed to open the replica at {}", path.display()))?;
    let ctx = Ctx {
        replica,
        path,
        json: cli.json,
    };
    dispatch(ctx, cli.command)
}

/// The device's server and credential store, for a command that calls the server with
/// the device's session.
fn device_client(
    ctx: &Ctx,
    options: logiflow_replica::SyncOptions,
) -> anyhow::Result<(
    logiflow_replica::ServerClient,
    logiflow_replica::CredentialStore,
)> {
    let store = logiflow_replica::CredentialStore::from_env()?;
    let device = ctx
        .replica
        .device()?
        .ok_or(logiflow_replica::Error::NotInitialized)?;
    let client = logiflow_replica::ServerClient::new(&device.server_url, options)?;
    Ok((client, store))
}

fn default_db() -> anyhow::Result<PathBuf> {
    use etcetera::BaseStrategy;
    let base = etcetera::choose_base_strategy()
        .context("failed to find the user's data directory; pass --db")?;
    Ok(base.data_dir().join("logiflow").join("replica.db"))
}

/// Hands each command's arguments to its file. Longer than 80 lines only because it has
/// one arm per command and rustfmt gives each argument its own line.
fn dispatch(mut ctx: Ctx, command: Command) -> anyhow::Result<Output> {
    match command {
        Command::Connect {
            server,
            tenant,
            email,
            warehouses,
            name,
            bounds,
        } => connect::run(&mut ctx, server, tenant, email, warehouses, name, &bounds),
        Command::Login {
            tenant,
            email,
            server,
            name,
            new_device,
            bounds,
        } => login::run(ctx, tenant, email, server, name, new_device, &bounds),
        Command::Scope => scope::run(&mut ctx),
        Command::Sync {
            watch,
            interval,
            bounds,
        } => sync::run(&mut ctx, watch, interval, &bounds),
        Command::Init {
            tenant,
            user,
            server,
            device,
        } => setup::init(&mut ctx, tenant, user, &server, device),
        Command::ImportSnapshot { file } => setup::import_snapshot(&mut ctx, &file),
        Command::Receive {
            item,
            to,
            qty,
            po,
            expires,
        } => record::receive(
            &mut ctx,
            item,
            Op::Receive { to, qty },
            po.as_deref(),
            expires,
        ),
        Command::Orders => orders::run(&mut ctx),
        Command::Import {
            what,
            file,
            sheet,
            commit,
            bounds,
        } => import::run(
            &mut ctx,
            &file,
            &logiflow_replica::ImportRequest {
                kind: what.into(),
                sheet,
                commit,
            },
            &bounds,
        ),
        Command::Export {
            what,
            out,
            format,
            warehouse,
            from,
            to,
            bounds,
        } => {
            let req = logiflow_replica::ExportRequest {
                format,
                warehouse,
                from,
                to,
            };
            export::run(&mut ctx, what.into(), &req, &out, &bounds)
        }
        Command::Ship {
            item,
            from,
            qty,
            so,
        } => record::ship(&mut ctx, item, Op::Ship { from, qty }, so.as_deref()),
        Command::Transfer {
            item,
            from,
            to,
            qty,
        } => record::run(&mut ctx, item, Op::Transfer { from, to, qty }),
        Command::Adjust {
            item,
            at,
            delta,
            reason,
        } => {
            let reason = record::reason(reason);
            record::run(&mut ctx, item, Op::Adjust { at, delta, reason })
        }
        Command::Count {
            item,
            at,
            counted,
            expected,
        } => record::run(
            &mut ctx,
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
            let by = stock::SearchBy { sku, name, barcode };
            stock::run(&mut ctx, query, by, bin, warehouse, limit)
        }
        Command::Status => status::run(&mut ctx),
        Command::Clock { action: None } => clock::check(&mut ctx),
        Command::Clock {
            action: Some(ClockAction::Accept),
        } => clock::accept(&mut ctx),
        Command::Conflicts { action: None } => conflicts::list(&mut ctx),
        Command::Conflicts {
            action:
                Some(ConflictsAction::Resolve {
                    movement,
                    force,
                    void: _,
                    reason,
                    bounds,
                }),
        } => conflicts::resolve(&mut ctx, &movement, force, &reason, &bounds),
        Command::SignOut => sign_out::run(&mut ctx),
        Command::Journal {
            action: Some(JournalAction::Export { out }),
            ..
        } => journal::export(&mut ctx, &out),
        Command::Journal {
            action: Some(JournalAction::Upload { file, bounds }),
            ..
        } => journal::upload(&mut ctx, &file, &bounds),
        Command::Journal {
            action: None,
            status,
            after,
            limit,
        } => journal::list(&mut ctx, status, after, limit),
    }
}
