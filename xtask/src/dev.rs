//! `cargo xtask dev`: a persistent local PostgreSQL and the server running against it.
//!
//! The steps are the functions below, in order: packages, the dev cluster, the database
//! (the place to add migrations or demo data that the server does not do itself), then
//! the server in the foreground until it exits or Ctrl-C. The cluster is stopped, not
//! deleted, when this exits, so its data survives to the next run.

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::packages::{self, Need};
use crate::{pg, proc, util};

const HELP: &str = "\
usage: cargo xtask dev

Starts the dev PostgreSQL cluster (created on first run in
~/.local/share/logiflow/dev-pg, or /var/lib/logiflow/dev-pg as root), creates the
`logiflow` database if missing, then runs `cargo run -p logiflow-server -- serve` with
LOGIFLOW_DATABASE_URL and LOGIFLOW_LISTEN set (built in the checkout's target/). Ctrl-C
stops the server, then the cluster.

environment:
  LOGIFLOW_DEV_PG_PORT  the cluster's port (default 54329)
  LOGIFLOW_LISTEN       the server's address (default 127.0.0.1:8080)
";

/// The dev cluster's port unless LOGIFLOW_DEV_PG_PORT says otherwise: fixed, so that
/// `psql` commands and tools pointed at it keep working across runs, and away from a
/// system PostgreSQL on 5432.
const DEV_PG_PORT: u16 = 54329;

/// The database the server uses.
const DEV_DATABASE: &str = "logiflow";

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

pub fn main(args: &[String]) -> Result<ExitCode> {
    match args {
        [] => {}
        [flag] if flag == "-h" || flag == "--help" => {
            print!("{HELP}");
            return Ok(ExitCode::SUCCESS);
        }
        [other, ..] => bail!("unknown argument `{other}` (see cargo xtask dev --help)"),
    }
    packages::ensure(&[Need::Postgres])?;
    let cluster = start_database()?;
    let database_url = prepare_database(&cluster)?;
    run_server(&database_url)?;
    Ok(ExitCode::SUCCESS)
    // `cluster` is dropped here, and on every early return above: that stops it.
}

fn start_database() -> Result<pg::Dev> {
    let port = match std::env::var("LOGIFLOW_DEV_PG_PORT") {
        Ok(port) => port
            .parse()
            .with_context(|| format!("failed to read LOGIFLOW_DEV_PG_PORT={port:?} as a port"))?,
        Err(_) => DEV_PG_PORT,
    };
    let root = util::data_dir()?.join("dev-pg");
    pg::Dev::start(root, "/var/lib/logiflow/dev-pg".into(), port)
}

/// Creates the database if missing and returns its superuser URL.
fn prepare_database(cluster: &pg::Dev) -> Result<String> {
    if cluster.create_database_if_missing(DEV_DATABASE)? {
        eprintln!("postgres: created database {DEV_DATABASE}");
    }
    let url = pg::url(cluster.port(), DEV_DATABASE);
    eprintln!("postgres: {url} (data in {})", cluster.root().display());
    Ok(url)
}

fn run_server(database_url: &str) -> Result<()> {
    let listen = std::env::var("LOGIFLOW_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_owned());
    // In the checkout's own target/, like any `cargo run`: the shared cache is for test
    // runs, and the server runs for as long as the developer works.
    let mut cmd: Command = util::cargo();
    cmd.args(["run", "-p", "logiflow-server", "--", "serve"])
        .env("LOGIFLOW_DATABASE_URL", database_url)
        .env("LOGIFLOW_LISTEN", &listen);
    eprintln!("server: starting logiflow-server on {listen} (Ctrl-C stops it and the database)");
    let status = proc::run(&mut cmd)?;
    if !status.success() {
        bail!(
            "logiflow-server failed ({status}); its own message is above (`{}`)",
            util::display_command(&cmd)
        );
    }
    eprintln!("server: logiflow-server exited");
    Ok(())
}
