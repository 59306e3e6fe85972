//! `cargo xtask dev`: a persistent local PostgreSQL and the server running against it.
//!
//! The steps are the functions below, in order: packages, the dev cluster, the database
//! (the place to add migrations or demo data that the server does not do itself), the
//! desktop app when there is a display (built with its UI, pointed at the server), then
//! the server in the foreground until it exits or Ctrl-C. The cluster is stopped, not
//! deleted, when this exits, so its data survives to the next run; the app is closed.

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::packages::{self, Need};
use crate::{bundle, pg, proc, util};

const HELP: &str = "\
usage: cargo xtask dev

Starts the dev PostgreSQL cluster (created on first run in
~/.local/share/logiflow/dev-pg, or /var/lib/logiflow/dev-pg as root), creates the
`logiflow` database if missing, seeds the demo tenant (a user per role, two warehouses,
500 products, three weeks of movements) when the database has no tenant and prints the
demo logins, then runs `cargo run -p logiflow-server --
serve` with LOGIFLOW_DATABASE_URL, LOGIFLOW_LISTEN and a dev JWT secret kept in the data
dir (built in the checkout's target/). Ctrl-C stops the server, then the cluster.

With a display ($DISPLAY or $WAYLAND_DISPLAY) it also builds the UI and the desktop app
and opens it with LOGIFLOW_SERVER_URL set to the server's address (shown in its
settings); without one it says so and runs the server alone. LOGIFLOW_DEV_NO_APP=1 skips
the app.

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
    let app = open_desktop_app(&listen_addr())?;
    run_server(&database_url)?;
    drop(app);
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

fn listen_addr() -> String {
    std::env::var("LOGIFLOW_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_owned())
}

/// Whether a graphical session is there to show a window in.
fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

/// The desktop app, running beside the server; closed when dropped.
#[derive(Debug)]
struct DesktopApp(std::process::Child);

impl Drop for DesktopApp {
    fn drop(&mut self) {
        // Ctrl-C in the terminal reaches the app too (same process group); this covers
        // the server exiting on its own.
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Builds the UI and the app, and starts the app pointed at the dev server; `None`
/// without a display (said so) or with LOGIFLOW_DEV_NO_APP=1.
fn open_desktop_app(listen: &str) -> Result<Option<DesktopApp>> {
    if std::env::var_os("LOGIFLOW_DEV_NO_APP").is_some_and(|v| v == "1") {
        eprintln!("desktop: LOGIFLOW_DEV_NO_APP=1, not opening the desktop app");
        return Ok(None);
    }
    if !has_display() {
        eprintln!(
            "desktop: no display ($DISPLAY and $WAYLAND_DISPLAY are unset), so the desktop app \
             is not opened; running the server alone"
        );
        return Ok(None);
    }
    packages::ensure(&[Need::DesktopBuild])?;
    eprintln!("desktop: building the UI and the desktop app");
    bundle::build_ui()?;
    let mut build: Command = util::cargo();
    build.args([
        "build",
        "-p",
        "logiflow-desktop",
        "--bin",
        "logiflow-desktop",
    ]);
    let status = proc::run(&mut build)?;
    if !status.success() {
        bail!(
            "building the desktop app failed ({status}): `{}`",
            util::display_command(&build)
        );
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| util::project_root().join("target"));
    let binary = target.join("debug/logiflow-desktop");
    let server_url = format!("http://{listen}");
    let child = Command::new(&binary)
        .env("LOGIFLOW_SERVER_URL", &server_url)
        .spawn()
        .with_context(|| format!("failed to start {}", binary.display()))?;
    eprintln!("desktop: opened the desktop app, pointed at {server_url}");
    Ok(Some(DesktopApp(child)))
}

fn run_server(database_url: &str) -> Result<()> {
    let listen = listen_addr();
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
