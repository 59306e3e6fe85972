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
`logiflow` database if missing, seeds the demo tenant (a user per role) when the database
has no tenant and prints the demo logins, then runs `cargo run -p logiflow-server --
serve` with LOGIFLOW_DATABASE_URL, LOGIFLOW_LISTEN and a dev JWT secret kept in the data
dir (built in the checkout's target/). Ctrl-C stops the server, then the cluster.

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
    seed_demo(&database_url)?;
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

/// Migrates and seeds the demo tenant when the database has no tenant yet (the server's
/// own `admin demo seed`, so the demo data lives with the code it exercises), and prints
/// the demo logins.
fn seed_demo(database_url: &str) -> Result<()> {
    let mut cmd: Command = util::cargo();
    cmd.args([
        "run",
        "--quiet",
        "-p",
        "logiflow-server",
        "--",
        "admin",
        "demo",
        "seed",
    ])
    .env("LOGIFLOW_DATABASE_URL", database_url)
    .env("RUST_LOG", "warn");
    eprintln!("demo: seeding the demo tenant if the database is empty; its logins:");
    let status = proc::run(&mut cmd)?;
    if !status.success() {
        bail!(
            "seeding the demo tenant failed ({status}); its own message is above (`{}`)",
            util::display_command(&cmd)
        );
    }
    Ok(())
}

/// A JWT signing secret kept in the data dir, so that tokens (and the desktop app's
/// sessions) survive a restart of the dev server. Made once from the kernel's random
/// source; for local development only.
fn dev_jwt_secret() -> Result<String> {
    let path = util::data_dir()?.join("dev-jwt-secret");
    if let Ok(secret) = std::fs::read_to_string(&path) {
        let secret = secret.trim().to_owned();
        if secret.len() >= 32 {
            return Ok(secret);
        }
    }
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").context("failed to open /dev/urandom")?,
        &mut bytes,
    )
    .context("failed to read /dev/urandom")?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    std::fs::write(&path, &secret)
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(secret)
}

fn run_server(database_url: &str) -> Result<()> {
    let listen = std::env::var("LOGIFLOW_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_owned());
    // In the checkout's own target/, like any `cargo run`: the shared cache is for test
    // runs, and the server runs for as long as the developer works.
    let mut cmd: Command = util::cargo();
    cmd.args(["run", "-p", "logiflow-server", "--", "serve"])
        .env("LOGIFLOW_DATABASE_URL", database_url)
        .env("LOGIFLOW_LISTEN", &listen)
        .env("LOGIFLOW_JWT_SECRET", dev_jwt_secret()?);
    eprintln!(
        "server: starting logiflow-server on http://{listen} (Ctrl-C stops it and the database)"
    );
    eprintln!(
        "server: API under http://{listen}/v1, OpenAPI document at http://{listen}/v1/openapi.json"
    );
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
