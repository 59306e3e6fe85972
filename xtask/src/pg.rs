//! PostgreSQL clusters made from the installed server binaries: the [`Throwaway`] one
//! that `cargo xtask test` starts for each run, and the persistent [`Dev`] one of
//! `cargo xtask dev`.
//!
//! PostgreSQL refuses to run as root, and CI runs as root. So when we are root, every
//! `initdb`/`pg_ctl` runs as the unprivileged `postgres` system user (the postgresql
//! package creates it) through std's `CommandExt::uid`/`gid`, and the cluster's
//! directory is given to that user. Otherwise they run as ourselves.
//!
//! A cluster directory holds `data/` (PGDATA), `sock/` (the unix socket) and
//! `postgres.log`. Clusters listen on 127.0.0.1 only and trust local connections, so a
//! test harness can connect as the superuser and create a database or role per test.

use std::fs;
use std::io::{ErrorKind, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User};

use crate::interrupt::Cleanup;
use crate::{proc, util};

/// The superuser every cluster is created with, whoever runs it.
pub const SUPERUSER: &str = "postgres";

/// Where Debian and Ubuntu install the server binaries, one directory per major version.
const DEBIAN_PG_LIB: &str = "/usr/lib/postgresql";

/// How long `pg_ctl` may wait for the server to start or stop.
const PG_CTL_TIMEOUT_S: u32 = 60;

/// How many free ports a throwaway cluster tries: another process may take the port
/// between our probe and the server's bind.
const PORT_ATTEMPTS_MAX: usize = 3;

/// How many lines of the server log an error message shows.
const LOG_TAIL_LINES: usize = 20;

/// The prefix of every throwaway cluster's directory name. Stale-cluster cleanup only
/// ever deletes directories whose name starts with it.
const THROWAWAY_PREFIX: &str = "logiflow-test-pg-";

/// Settings for every cluster we create.
const COMMON_SETTINGS: &[(&str, &str)] = &[
    // TCP on loopback only; the unix socket lives in the cluster's own directory.
    ("listen_addresses", "'127.0.0.1'"),
    // Each test gets its own database and pool, and nextest runs tests in parallel.
    ("max_connections", "200"),
    ("shared_buffers", "'128MB'"),
    // Timestamps in logs and `now()::text` should not depend on the machine.
    ("timezone", "'UTC'"),
    ("log_timezone", "'UTC'"),
];

/// Extra settings for the throwaway test cluster, which is deleted after the run:
/// losing its last commits in an OS crash costs nothing. fsync stays on, so it never
/// corrupts.
const TEST_SETTINGS: &[(&str, &str)] = &[("synchronous_commit", "off")];

/// The directory holding `initdb`, `pg_ctl`, `postgres`: the highest major version under
/// /usr/lib/postgresql (Debian, Ubuntu), else the one `pg_config` names, else `initdb`'s
/// directory on PATH.
pub fn find_bin_dir() -> Result<PathBuf> {
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    if let Ok(entries) = fs::read_dir(DEBIAN_PG_LIB) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(version) = parse_version(&name.to_string_lossy()) else {
                continue;
            };
            let bin = entry.path().join("bin");
            if has_server_binaries(&bin) && best.as_ref().is_none_or(|(v, _)| version > *v) {
                best = Some((version, bin));
            }
        }
    }
    if let Some((_, bin)) = best {
        return Ok(bin);
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let bin = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_server_binaries(&bin) {
            return Ok(bin);
        }
    }
    if let Some(bin) = util::which("initdb").and_then(|p| p.parent().map(Path::to_path_buf)) {
        if has_server_binaries(&bin) {
            return Ok(bin);
        }
    }
    bail!(
        "failed to find the PostgreSQL server binaries (initdb, pg_ctl) under \
         {DEBIAN_PG_LIB}/*/bin, via pg_config, or on PATH"
    )
}

/// Whether PostgreSQL's server binaries are installed (a probe for `packages`).
pub fn server_binaries_installed() -> bool {
    find_bin_dir().is_ok()
}

fn has_server_binaries(bin: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|name| bin.join(name).is_file())
}

/// "15" → `[15]`, "9.6" → `[9, 6]`; anything else is not a version directory.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// The major version of the binaries in `bin`, as PG_VERSION spells it ("15", "9.6").
fn binaries_major(bin: &Path) -> Result<String> {
    let postgres = bin.join("postgres");
    let output = Command::new(&postgres)
        .arg("--version")
        .output()
        .with_context(|| format!("failed to run {} --version", postgres.display()))?;
    // "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text
        .split_whitespace()
        .nth(2)
        .with_context(|| format!("failed to read the version in {text:?}"))?;
    Ok(major_of(version))
}

/// "15.14" → "15", "9.6.24" → "9.6" (before version 10 the major had two parts).
fn major_of(version: &str) -> String {
    let parts: Vec<&str> = version.split('.').collect();
    match parts.first().and_then(|first| first.parse::<u32>().ok()) {
        Some(major) if major < 10 && parts.len() > 1 => format!("{major}.{}", parts[1]),
        Some(major) => major.to_string(),
        None => version.to_owned(),
    }
}

/// The unprivileged user the server runs as when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

fn run_as() -> Result<Option<RunAs>> {
    if !util::is_root() {
        return Ok(None);
    }
    let user = User::from_name(SUPERUSER)
        .context("failed to look up the postgres system user")?
        .context(
            "we are root and PostgreSQL refuses to run as root, but there is no `postgres` \
             system user to run it as (the postgresql package creates it)",
        )?;
    Ok(Some(RunAs {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    }))
}

/// Whether `user` can reach `path` (or, if it does not exist yet, its nearest existing
/// ancestor): PostgreSQL must be able to walk to its data directory. Root's home is
/// usually closed to other users.
fn reachable_by(user: RunAs, path: &Path) -> bool {
    let Some(existing) = path.ancestors().find(|p| p.exists()) else {
        return false;
    };
    Command::new("test")
        .arg("-x")
        .arg(existing)
        .uid(user.uid)
        .gid(user.gid)
        .status()
        .is_ok_and(|status| status.success())
}

/// A cluster directory and the binaries and user that run it.
#[derive(Debug, Clone)]
struct Cluster {
    bin: PathBuf,
    root: PathBuf,
    run_as: Option<RunAs>,
}

impl Cluster {
    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.root.join("sock")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    /// A command for one of the server binaries, run as the cluster's user.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        // In the cluster's directory, which its user can enter (the xtask's may not be).
        cmd.current_dir(&self.root);
        // In its own process group, so a terminal's Ctrl-C does not kill a `pg_ctl stop`
        // half-way through the cleanup; the signal handler forwards the signal itself to
        // a foreground `initdb` or `pg_ctl start`.
        cmd.process_group(0);
        if let Some(user) = self.run_as {
            cmd.uid(user.uid).gid(user.gid);
        }
        // The user's own libpq settings must not redirect our commands elsewhere.
        for var in [
            "PGDATA",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGOPTIONS",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Creates the cluster directory and the socket directory, owned by the cluster's
    /// user and closed to everyone else.
    fn create_dirs(&self) -> Result<()> {
        for dir in [self.root.clone(), self.socket_dir()] {
            fs::create_dir_all(&dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("failed to restrict {}", dir.display()))?;
            if let Some(user) = self.run_as {
                std::os::unix::fs::chown(&dir, Some(user.uid), Some(user.gid)).with_context(
                    || format!("failed to give {} to the postgres user", dir.display()),
                )?;
            }
        }
        Ok(())
    }

    /// Creates the cluster. `durable: false` skips initdb's final sync to disk, which
    /// costs seconds and buys nothing for a cluster deleted after the run.
    fn initdb(&self, extra_settings: &[(&str, &str)], durable: bool) -> Result<()> {
        self.check_socket_path()?;
        self.create_dirs()?;
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(self.data_dir()).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]);
        if !durable {
            cmd.arg("--no-sync");
        }
        let output = proc::run_captured(&mut cmd)?;
        if !output.status.success() {
            bail!("{}", proc::describe_failure(&cmd, &output));
        }
        let socket_dir = self.socket_dir().to_string_lossy().replace('\'', "''");
        let mut conf = String::from("\n# Added by cargo xtask (xtask/src/pg.rs).\n");
        for (name, value) in COMMON_SETTINGS.iter().chain(extra_settings) {
            conf.push_str(&format!("{name} = {value}\n"));
        }
        conf.push_str(&format!("unix_socket_directories = '{socket_dir}'\n"));
        let conf_path = self.data_dir().join("postgresql.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&conf_path)
            .and_then(|mut file| file.write_all(conf.as_bytes()))
            .with_context(|| format!("failed to write {}", conf_path.display()))?;
        Ok(())
    }

    /// A unix socket path is limited to 107 bytes; PostgreSQL would refuse to start.
    fn check_socket_path(&self) -> Result<()> {
        // ".s.PGSQL.65535"
        let longest = self.socket_dir().join(".s.PGSQL.65535");
        if longest.as_os_str().len() > 107 {
            bail!(
                "the cluster's socket path {} is too long for a unix socket (107 bytes at \
                 most): use a shorter directory",
                longest.display()
            );
        }
        Ok(())
    }

    fn start(&self, port: u16) -> Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.args(["start", "-w", "-t", &PG_CTL_TIMEOUT_S.to_string(), "-D"])
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-o", &format!("-p {port}")]);
        let output = proc::run_captured(&mut cmd)?;
        if !output.status.success() {
            bail!(
                "{}\nlast lines of {}:\n{}",
                proc::describe_failure(&cmd, &output),
                self.log_file().display(),
                self.log_tail()
            );
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    fn postmaster_pid_file(&self) -> PathBuf {
        self.data_dir().join("postmaster.pid")
    }

    /// The port of the running server, from the fourth line of postmaster.pid.
    fn running_port(&self) -> Option<u16> {
        if !self.is_running() {
            return None;
        }
        let text = fs::read_to_string(self.postmaster_pid_file()).ok()?;
        text.lines().nth(3)?.trim().parse().ok()
    }

    fn is_running(&self) -> bool {
        self.postmaster_pid_file().exists()
            && self
                .command("pg_ctl")
                .arg("status")
                .arg("-D")
                .arg(self.data_dir())
                .output()
                .is_ok_and(|output| output.status.success())
    }

    /// Stops the server if it runs. Not a foreground command: the signal handler runs
    /// this itself and must not interrupt it.
    fn stop(&self, mode: &str) -> Result<()> {
        if !self.postmaster_pid_file().exists() {
            return Ok(());
        }
        let mut cmd = self.command("pg_ctl");
        cmd.args([
            "stop",
            "-w",
            "-t",
            &PG_CTL_TIMEOUT_S.to_string(),
            "-m",
            mode,
            "-D",
        ])
        .arg(self.data_dir());
        let output = cmd
            .output()
            .with_context(|| format!("failed to run `{}`", util::display_command(&cmd)))?;
        if !output.status.success() && self.postmaster_pid_file().exists() {
            bail!("{}", proc::describe_failure(&cmd, &output));
        }
        Ok(())
    }

    /// The last resort when `pg_ctl stop` failed: SIGQUIT (immediate shutdown) to the
    /// postmaster named in postmaster.pid, then SIGKILL.
    fn kill_postmaster(&self) {
        let Some(pid) = fs::read_to_string(self.postmaster_pid_file())
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<i32>().ok())
        else {
            return;
        };
        let pid = Pid::from_raw(pid);
        let _ = kill(pid, Signal::SIGQUIT);
        let deadline = Instant::now() + Duration::from_secs(5);
        while kill(pid, None).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = kill(pid, Signal::SIGKILL);
    }
}

/// The superuser URL of database `db` on a local cluster's port.
pub fn url(port: u16, db: &str) -> String {
    format!("postgres://{SUPERUSER}@127.0.0.1:{port}/{db}")
}

/// The memory file system the throwaway cluster goes to when it has room for it.
const MEMORY_DIR: &str = "/dev/shm";

/// The free space [`MEMORY_DIR`] must have: a whole run peaked at 1.1 GB (its WAL, the
/// large-data tests' databases and the copies of the template), with room to spare.
const MEMORY_ROOM_MIN: u64 = 3 << 30;

/// [`MEMORY_DIR`], when it is a tmpfs with [`MEMORY_ROOM_MIN`] free. Every test creates a
/// database (a copy of the template, hundreds of files) and drops it again, and on a disk
/// file system the kernel's share of PostgreSQL's CPU was over a third, much of it that
/// file work, ext4's journal and block I/O: the tests ran in 187 s instead of 238 s on two
/// cores with the cluster in memory. Nothing of it needs to outlive the run.
#[cfg(target_os = "linux")]
fn memory_dir() -> Option<PathBuf> {
    let fs = nix::sys::statfs::statfs(MEMORY_DIR).ok()?;
    if fs.filesystem_type() != nix::sys::statfs::TMPFS_MAGIC {
        return None;
    }
    let room = nix::sys::statvfs::statvfs(MEMORY_DIR).ok()?;
    let free = room.blocks_available().saturating_mul(room.fragment_size());
    (free >= MEMORY_ROOM_MIN).then(|| PathBuf::from(MEMORY_DIR))
}

/// Only Linux has a tmpfs at [`MEMORY_DIR`] to rely on.
#[cfg(not(target_os = "linux"))]
fn memory_dir() -> Option<PathBuf> {
    None
}

/// A cluster in a temporary directory (in memory when there is room: [`memory_dir`]),
/// stopped and deleted when dropped, on a signal, or by the next run if this one was
/// killed outright.
#[derive(Debug)]
pub struct Throwaway {
    cluster: Cluster,
    port: u16,
    cleanup: Cleanup,
}

impl Throwaway {
    pub fn start() -> Result<Throwaway> {
        let bin = find_bin_dir()?;
        let run_as = run_as()?;
        let records = records_dir()?;
        remove_stale_clusters(&records, &bin, run_as);
        fs::create_dir_all(&records)
            .with_context(|| format!("failed to create {}", records.display()))?;

        let mut parent = memory_dir().unwrap_or_else(std::env::temp_dir);
        if let Some(user) = run_as {
            if !reachable_by(user, &parent) {
                parent = PathBuf::from("/tmp");
            }
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let root = parent.join(format!(
            "{THROWAWAY_PREFIX}{}-{nanos:09}",
            std::process::id()
        ));
        let cluster = Cluster { bin, root, run_as };

        // The record goes first: whatever happens from here on, a later run can find the
        // directory and remove it.
        let record = records.join(std::process::id().to_string());
        fs::write(&record, cluster.root.as_os_str().as_encoded_bytes())
            .with_context(|| format!("failed to write {}", record.display()))?;
        let cleanup = Cleanup::register({
            let cluster = cluster.clone();
            move || remove_throwaway(&cluster, &record)
        });

        eprintln!(
            "postgres: creating a throwaway cluster in {} ({})",
            cluster.root.display(),
            cluster.bin.display()
        );
        cluster.initdb(TEST_SETTINGS, false)?;
        let mut attempt = 1;
        let port = loop {
            let port = free_port()?;
            match cluster.start(port) {
                Ok(()) => break port,
                Err(err)
                    if attempt < PORT_ATTEMPTS_MAX
                        && cluster.log_tail().contains("could not bind") =>
                {
                    eprintln!(
                        "postgres: port {port} was taken meanwhile, trying another ({err:#})"
                    );
                    attempt += 1;
                }
                Err(err) => return Err(err.context("failed to start the throwaway cluster")),
            }
        };
        eprintln!("postgres: throwaway cluster listening on 127.0.0.1:{port}");
        Ok(Throwaway {
            cluster,
            port,
            cleanup,
        })
    }

    /// The superuser URL for the `postgres` database.
    pub fn url(&self) -> String {
        url(self.port, "postgres")
    }

    /// Stops and deletes the cluster now.
    pub fn remove(self) {
        self.cleanup.run();
    }

    /// Leaves the cluster running for inspection and says how to reach and stop it. The
    /// next `cargo xtask test` removes it.
    pub fn keep(self) {
        let url = self.url();
        self.cleanup.disarm();
        let pg_ctl = self.cluster.bin.join("pg_ctl");
        let stop = match self.cluster.run_as {
            Some(_) => format!("runuser -u {SUPERUSER} -- {}", pg_ctl.display()),
            None => pg_ctl.display().to_string(),
        };
        eprintln!(
            "postgres: kept the throwaway cluster (KEEP_TEST_DB is set): {url}\n\
             postgres: the next cargo xtask test removes it; to stop it now: \
             {stop} stop -D {data} && rm -rf {root}",
            data = self.cluster.data_dir().display(),
            root = self.cluster.root.display(),
        );
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("failed to find a free port")?;
    Ok(listener
        .local_addr()
        .context("failed to find a free port")?
        .port())
}

/// Where each running `cargo xtask test` records its throwaway cluster, one file per
/// process named by its pid and holding the cluster's directory.
fn records_dir() -> Result<PathBuf> {
    Ok(util::cache_dir()?.join("test-pg"))
}

fn remove_throwaway(cluster: &Cluster, record: &Path) {
    if let Err(err) = cluster.stop("immediate") {
        eprintln!("warning: failed to stop the throwaway cluster, killing it: {err:#}");
        cluster.kill_postmaster();
    }
    match fs::remove_dir_all(&cluster.root) {
        Ok(()) => eprintln!("postgres: stopped and removed {}", cluster.root.display()),
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => eprintln!(
            "warning: failed to remove {}: {err}",
            cluster.root.display()
        ),
    }
    let _ = fs::remove_file(record);
}

/// Stops and deletes the throwaway clusters of earlier runs that were killed without a
/// chance to clean up (SIGKILL, a crash, a power cut). Never fails the run: a cluster it
/// cannot remove only costs disk space.
fn remove_stale_clusters(records: &Path, bin: &Path, run_as: Option<RunAs>) {
    let Ok(entries) = fs::read_dir(records) else {
        return;
    };
    for entry in entries.flatten() {
        let record = entry.path();
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        if owner_alive(pid) {
            continue;
        }
        let Ok(text) = fs::read_to_string(&record) else {
            continue;
        };
        let root = PathBuf::from(text.trim());
        let ours = root.is_absolute()
            && root
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(THROWAWAY_PREFIX));
        if !ours {
            eprintln!(
                "warning: ignoring {}: it does not name a throwaway cluster",
                record.display()
            );
            let _ = fs::remove_file(&record);
            continue;
        }
        eprintln!(
            "postgres: removing a cluster left behind by an earlier run (pid {pid}): {}",
            root.display()
        );
        let cluster = Cluster {
            bin: bin.to_path_buf(),
            root,
            run_as,
        };
        remove_throwaway(&cluster, &record);
    }
}

/// Whether the `cargo xtask` process that wrote a record still runs. A pid that now
/// belongs to another program (pids are reused) or to a zombie (killed, not yet reaped by
/// its parent) counts as gone.
fn owner_alive(pid: i32) -> bool {
    if pid == i32::try_from(std::process::id()).unwrap_or(-1) {
        // An earlier run had our pid: it is gone.
        return false;
    }
    match kill(Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => {}
        Err(_) => return false,
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => parse_proc_stat(&stat)
            .is_some_and(|(comm, state)| comm == "xtask" && !matches!(state, 'Z' | 'X')),
        // No /proc (not Linux): trust kill(2).
        Err(_) => true,
    }
}

/// The command name and state of `/proc/<pid>/stat`: `1234 (xtask) S 1 …`. The name may
/// itself hold spaces and parentheses, so it ends at the last `)`.
fn parse_proc_stat(stat: &str) -> Option<(&str, char)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let state = stat.get(close + 1..)?.trim_start().chars().next()?;
    Some((comm, state))
}

/// The persistent dev cluster, stopped (not deleted) when dropped or on a signal.
#[derive(Debug)]
pub struct Dev {
    port: u16,
    cluster: Cluster,
    _cleanup: Cleanup,
}

impl Dev {
    /// Creates the cluster in `root` on first use, then starts it on `port`. As root,
    /// when the postgres user cannot reach `root` (root's home is closed to others), the
    /// cluster lives in `root_fallback` instead.
    pub fn start(root: PathBuf, root_fallback: PathBuf, port: u16) -> Result<Dev> {
        let run_as = run_as()?;
        let root = match run_as {
            Some(user) if !reachable_by(user, &root) => {
                eprintln!(
                    "postgres: the postgres user cannot reach {}, so as root the dev \
                     cluster lives in {}",
                    root.display(),
                    root_fallback.display()
                );
                root_fallback
            }
            _ => root,
        };
        let version_file = root.join("data").join("PG_VERSION");
        let bin = match fs::read_to_string(&version_file) {
            Ok(major) => bin_dir_for_major(major.trim())?,
            Err(_) => find_bin_dir()?,
        };
        let cluster = Cluster { bin, root, run_as };

        if !version_file.exists() {
            eprintln!(
                "postgres: creating the dev cluster in {} ({})",
                cluster.root.display(),
                cluster.bin.display()
            );
            cluster.initdb(&[], true)?;
        }
        // Registered before starting, so that a signal during the start stops it too.
        let cleanup = Cleanup::register({
            let cluster = cluster.clone();
            move || match cluster.stop("fast") {
                Ok(()) => eprintln!("postgres: stopped the dev cluster"),
                Err(err) => eprintln!("warning: failed to stop the dev cluster: {err:#}"),
            }
        });
        let port = match cluster.running_port() {
            Some(running) => {
                eprintln!(
                    "postgres: the dev cluster was already running (port {running}); it \
                     will be stopped when this exits"
                );
                running
            }
            None => {
                cluster.start(port).with_context(|| {
                    format!(
                        "failed to start the dev cluster on port {port} (set \
                         LOGIFLOW_DEV_PG_PORT to use another port)"
                    )
                })?;
                port
            }
        };
        eprintln!(
            "postgres: dev cluster in {} listening on 127.0.0.1:{port}",
            cluster.root.display()
        );
        Ok(Dev {
            port,
            cluster,
            _cleanup: cleanup,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn root(&self) -> &Path {
        &self.cluster.root
    }

    /// Creates database `name` unless it exists. Returns whether it was created.
    pub fn create_database_if_missing(&self, name: &str) -> Result<bool> {
        let mut query = self.client("psql");
        query
            .args(["-X", "-q", "-t", "-A", "-d", "postgres", "-c"])
            .arg(format!(
                "select 1 from pg_database where datname = '{}'",
                name.replace('\'', "''")
            ));
        let output = proc::run_captured(&mut query)?;
        if !output.status.success() {
            bail!("{}", proc::describe_failure(&query, &output));
        }
        if String::from_utf8_lossy(&output.stdout).trim() == "1" {
            return Ok(false);
        }
        let mut create = self.client("createdb");
        create.arg(name);
        let output = proc::run_captured(&mut create)?;
        if !output.status.success() {
            bail!("{}", proc::describe_failure(&create, &output));
        }
        Ok(true)
    }

    /// A client program (psql, createdb) connecting as the superuser over TCP.
    fn client(&self, program: &str) -> Command {
        let mut cmd = self.cluster.command(program);
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            SUPERUSER,
        ]);
        cmd
    }
}

/// The binaries for an existing cluster's major version: a data directory only works
/// with the major version that created it.
fn bin_dir_for_major(major: &str) -> Result<PathBuf> {
    let debian = Path::new(DEBIAN_PG_LIB).join(major).join("bin");
    if has_server_binaries(&debian) {
        return Ok(debian);
    }
    let bin = find_bin_dir()?;
    let found = binaries_major(&bin)?;
    if found != major {
        bail!(
            "the dev cluster was created by PostgreSQL {major} but only {found} is \
             installed ({}): delete the cluster's directory to start afresh, or install \
             PostgreSQL {major}",
            bin.display()
        );
    }
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_version_directories() {
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("common"), None);
        assert!(parse_version("16").unwrap() > parse_version("9.6").unwrap());
    }

    #[test]
    fn reads_proc_stat() {
        assert_eq!(
            parse_proc_stat("4242 (xtask) S 1 4242 4242 0"),
            Some(("xtask", 'S'))
        );
        assert_eq!(
            parse_proc_stat("4242 (xtask) Z 1 4242"),
            Some(("xtask", 'Z'))
        );
        assert_eq!(parse_proc_stat("7 (a (b) c) R 1"), Some(("a (b) c", 'R')));
        assert_eq!(parse_proc_stat("garbage"), None);
    }

    #[test]
    fn reads_major_versions() {
        assert_eq!(major_of("15.14"), "15");
        assert_eq!(major_of("16beta1"), "16beta1");
        assert_eq!(major_of("9.6.24"), "9.6");
    }
}
