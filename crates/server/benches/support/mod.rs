//! What the database benchmarks (`benches/server.rs`, `benches/sync.rs`,
//! `benches/orders.rs`, `benches/webhooks.rs`, `benches/import.rs`) share: the
//! process shell (runtime, Ctrl-C/SIGTERM, the parent watchdog), a fresh database in the
//! cluster `cargo xtask bench …` started, the release `logiflow-server` binary as a
//! separate process, the bench tenant and its operator, the machine facts of a report, and
//! the one file both write their section of (`docs/benchmarks.md`).
//!
//! Each bench target compiles this module on its own (`mod support;`), so an item only one
//! of them uses would warn as dead code in the other; hence the module-wide allow.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use logiflow_server::admin;
use logiflow_server::rbac::Role;
use sqlx::Connection;
use sqlx::postgres::PgPool;
use uuid::Uuid;

/// Where the database comes from; unset means "skip".
pub const DATABASE_URL_VAR: &str = "LOGIFLOW_BENCH_DATABASE_URL";
/// How long the server gets to become ready (it migrates first).
const READY_TIMEOUT_MS: u64 = 60_000;
/// Within what the parent-process watchdog notices cargo went away.
const WATCHDOG_MS: u64 = 250;

pub const PASSWORD: &str = "bench-password-long-enough";
pub const TENANT: &str = "bench";
pub const OPERATOR_EMAIL: &str = "operator@bench.example";

/// Runs a bench: `run(admin_url)` on a multi-threaded runtime, until it ends, Ctrl-C or
/// SIGTERM arrives, or the parent (cargo) goes away. `name` prefixes the messages and
/// `command` is the xtask that sets [`DATABASE_URL_VAR`]. Without that variable the bench
/// says so and succeeds, so `cargo bench --workspace` stays harmless.
pub fn main<F, Fut>(name: &str, command: &str, run: F) -> ExitCode
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let Ok(admin_url) = std::env::var(DATABASE_URL_VAR) else {
        println!(
            "{name} bench: skipped ({DATABASE_URL_VAR} is unset; `{command}` starts a \
             PostgreSQL and runs it)"
        );
        return ExitCode::SUCCESS;
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: failed to start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let parent = std::os::unix::process::parent_id();
        tokio::select! {
            result = run(admin_url) => match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("error: {err:#}");
                    ExitCode::FAILURE
                }
            },
            () = stop_signal() => {
                eprintln!("{name} bench: interrupted, cleaning up");
                ExitCode::from(130)
            }
            () = parent_gone(parent) => {
                eprintln!("{name} bench: the parent process went away, cleaning up");
                ExitCode::from(130)
            }
        }
    });
    // Dropping the runtime drops `run`'s future, whose guards kill the server and drop
    // the database (the latter on its own short-lived runtime).
    drop(runtime);
    code
}

async fn stop_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}

/// Completes when our parent changes: `cargo xtask` forwards a signal to cargo only,
/// and cargo dies without telling us.
async fn parent_gone(parent: u32) {
    loop {
        tokio::time::sleep(Duration::from_millis(WATCHDOG_MS)).await;
        if std::os::unix::process::parent_id() != parent {
            return;
        }
    }
}

/// A small, fast, seeded generator (SplitMix64): the clients' row choices are
/// reproducible and cost nothing next to a request.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The `p`th percentile (nearest rank) of sorted microsecond latencies, in
/// milliseconds; NaN when there are none.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[index]) / 1000.0
}

/// A fresh database in the cluster, dropped when done (or by [`Drop`] on any other
/// exit).
#[derive(Debug)]
pub struct BenchDb {
    admin_url: String,
    name: String,
    pub url: String,
    dropped: bool,
}

impl BenchDb {
    pub async fn create(admin_url: &str) -> Result<BenchDb> {
        let name = format!("bench_{}", Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("failed to connect to {DATABASE_URL_VAR}"))?;
        // Generated from hex digits: quoting is enough.
        sqlx::query(&format!(r#"create database "{name}""#))
            .execute(&mut conn)
            .await
            .context("failed to create the bench database")?;
        conn.close().await.ok();
        let mut url = url::Url::parse(admin_url).context("failed to parse the database url")?;
        url.set_path(&format!("/{name}"));
        let url = url.to_string();
        Ok(BenchDb {
            admin_url: admin_url.to_owned(),
            name,
            url,
            dropped: false,
        })
    }

    pub async fn drop_now(mut self) {
        drop_database(&self.admin_url, &self.name).await;
        self.dropped = true;
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(&format!(r#"drop database if exists "{name}" with (force)"#))
            .execute(&mut conn)
            .await;
        conn.close().await.ok();
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Dropped from inside (or after) the main runtime: a thread with its own.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(&admin_url, &name));
            }
        })
        .join();
    }
}

/// The release `logiflow-server` binary that cargo built beside this bench, killed when
/// dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub base: String,
    log: PathBuf,
}

impl Server {
    pub async fn start(database_url: &str, max_connections: u32) -> Result<Server> {
        Server::start_with(database_url, max_connections, &[]).await
    }

    /// [`Server::start`] with more configuration variables (`LOGIFLOW_…`).
    pub async fn start_with(
        database_url: &str,
        max_connections: u32,
        env: &[(&str, &str)],
    ) -> Result<Server> {
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .context("failed to find a free port")?
            .port();
        let log =
            std::env::temp_dir().join(format!("logiflow-bench-server-{}.log", std::process::id()));
        let out = std::fs::File::create(&log)
            .with_context(|| format!("failed to create {}", log.display()))?;
        let err = out.try_clone().context("failed to share the log file")?;
        let secret: String = (0..2)
            .map(|_| Uuid::new_v4().simple().to_string())
            .collect();
        let child = Command::new(env!("CARGO_BIN_EXE_logiflow-server"))
            .arg("serve")
            .env("LOGIFLOW_DATABASE_URL", database_url)
            .env("LOGIFLOW_LISTEN", format!("127.0.0.1:{port}"))
            .env("LOGIFLOW_JWT_SECRET", secret)
            .env("LOGIFLOW_DB_MAX_CONNECTIONS", max_connections.to_string())
            .envs(env.iter().copied())
            // Request logs off unless asked for: the bench measures the request path, and
            // a JSON line per request to a file is the operator's choice.
            .env(
                "RUST_LOG",
                std::env::var("LOGIFLOW_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("failed to start logiflow-server")?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// Polls `/readyz`: the server is another process, whose listener we cannot bind
    /// for it.
    async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_millis(READY_TIMEOUT_MS);
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .context("failed to watch the server")?
            {
                bail!(
                    "logiflow-server exited ({status}) before it was ready; its log:\n{}",
                    self.log_tail()
                );
            }
            let ready = client
                .get(format!("{}/readyz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "logiflow-server was not ready within {READY_TIMEOUT_MS} ms; its log:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// CPU time (user and system) the server process has used so far.
    pub fn cpu_time(&self) -> Option<Duration> {
        cpu_time(self.child.id())
    }

    /// The server's resident memory now (`VmRSS`) and at its peak so far (`VmHWM`), in
    /// bytes; none when /proc cannot be read.
    pub fn memory(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kib = |field: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(field))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        };
        Some((kib("VmRSS:")? * 1024, kib("VmHWM:")? * 1024))
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// CPU time (user and system) process `pid` has used so far, from /proc/<pid>/stat, in
/// Linux's USER_HZ ticks of 10 ms; none when it cannot be read.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    // There the state is the first; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time used so far by each PostgreSQL client backend connected to the bench
/// database, by pid: the difference of two readings is the CPU the connections' work
/// took between them (backends that came and went in between are missed, and autovacuum
/// workers are left out).
pub async fn backend_cpu(owner: &PgPool) -> Result<std::collections::BTreeMap<i32, Duration>> {
    let pids: Vec<i32> = sqlx::query_scalar(
        "select pid from pg_stat_activity
             where datname = current_database() and backend_type = 'client backend'",
    )
    .fetch_all(owner)
    .await
    .context("failed to read pg_stat_activity")?;
    Ok(pids
        .into_iter()
        .filter_map(|pid| Some((pid, cpu_time(u32::try_from(pid).ok()?)?)))
        .collect())
}

/// The CPU the backends used between two [`backend_cpu`] readings.
pub fn backend_cpu_between(
    before: &std::collections::BTreeMap<i32, Duration>,
    after: &std::collections::BTreeMap<i32, Duration>,
) -> Duration {
    after
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or_default()))
        .sum()
}

/// The bench tenant on a plan that never throttles nor runs out of quota, and its
/// operator (who may write movements and register devices). Returns the operator.
pub async fn tenant(owner: &PgPool) -> Result<admin::CreatedUser> {
    sqlx::query(
        "insert into plan (code, name, max_skus, max_locations, max_warehouses, max_users,
                           max_devices, requests_per_second)
         values ('bench', 'Bench', 1000000, 1000000, 100, 100, 100, 1000000)",
    )
    .execute(owner)
    .await
    .context("failed to create the bench plan")?;
    admin::tenant_create(
        owner,
        TENANT,
        "Bench",
        "bench",
        chrono::Utc::now() + chrono::Duration::days(1),
    )
    .await
    .context("failed to create the bench tenant")?;
    admin::user_create(
        owner,
        TENANT,
        OPERATOR_EMAIL,
        "Bench operator",
        Role::Operator,
        PASSWORD,
        logiflow_server::tokens::HashCost::Standard,
    )
    .await
    .context("failed to create the bench operator")
}

/// Begins the seeding transaction as the owner, with the tenant set, and creates the
/// bench warehouse in it. Returns the transaction and the warehouse's id.
pub async fn begin_seed(
    owner: &PgPool,
    tenant_id: Uuid,
) -> Result<(sqlx::Transaction<'static, sqlx::Postgres>, Uuid)> {
    let mut tx = owner.begin().await?;
    // RLS is forced on tenant tables: the owner's statements see the tenant set here.
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant_id.to_string())
        .execute(&mut *tx)
        .await?;
    let warehouse_id = Uuid::now_v7();
    sqlx::query(
        "insert into warehouse (tenant_id, id, code, name, timezone)
         values ($1, $2, 'BENCH', 'Bench warehouse', 'UTC')",
    )
    .bind(tenant_id)
    .bind(warehouse_id)
    .execute(&mut *tx)
    .await
    .context("failed to create the bench warehouse")?;
    Ok((tx, warehouse_id))
}

/// `n` bins `B0000`, `B0001`, … at the top of the bench warehouse; (id, code) each.
pub async fn seed_bins(
    tx: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    warehouse_id: Uuid,
    n: usize,
) -> Result<Vec<(Uuid, String)>> {
    let bins: Vec<(Uuid, String)> = (0..n)
        .map(|i| (Uuid::now_v7(), format!("B{i:04}")))
        .collect();
    sqlx::query(
        "insert into location (tenant_id, id, warehouse_id, code, path, depth)
         select $1, b.id, $2, b.code, b.code, 0 from unnest($3::uuid[], $4::text[]) as b (id, code)",
    )
    .bind(tenant_id)
    .bind(warehouse_id)
    .bind(bins.iter().map(|b| b.0).collect::<Vec<_>>())
    .bind(bins.iter().map(|b| b.1.clone()).collect::<Vec<_>>())
    .execute(tx)
    .await
    .context("failed to seed the bins")?;
    Ok(bins)
}

/// Products (id, SKU, name), and stock rows (product, bin) of `on_hand` units each whose
/// latest effect is a day old ([`seed_receipts`] books it).
pub async fn seed_stock(
    tx: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    warehouse_id: Uuid,
    products: &[(Uuid, String, String)],
    rows: &[(Uuid, Uuid)],
    on_hand: i64,
) -> Result<()> {
    sqlx::query(
        "insert into product (tenant_id, id, sku, name)
         select $1, p.id, p.sku, p.name from unnest($2::uuid[], $3::text[], $4::text[]) as p (id, sku, name)",
    )
    .bind(tenant_id)
    .bind(products.iter().map(|p| p.0).collect::<Vec<_>>())
    .bind(products.iter().map(|p| p.1.clone()).collect::<Vec<_>>())
    .bind(products.iter().map(|p| p.2.clone()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .context("failed to seed the products")?;
    sqlx::query(
        "insert into stock_row (tenant_id, product_id, location_id, warehouse_id, on_hand,
                                last_effect_at, last_effect_id)
         select $1, r.product_id, r.location_id, $2, $3, now() - interval '1 day', gen_random_uuid()
         from unnest($4::uuid[], $5::uuid[]) as r (product_id, location_id)",
    )
    .bind(tenant_id)
    .bind(warehouse_id)
    .bind(on_hand)
    .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .context("failed to seed the stock rows")?;
    Ok(())
}

/// One applied receipt per stock row of the tenant, of the row's whole quantity at its
/// `last_effect_*`: the seeded rows then equal the sum of their ledger, as the product
/// keeps them. Run as the owner inside the seeding transaction.
pub async fn seed_receipts(
    tx: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    user_id: Uuid,
) -> Result<()> {
    sqlx::query(
        "with m as (
             insert into movement (tenant_id, id, kind, origin, product_id, to_location_id, qty,
                                   occurred_at, user_id, outcome)
             select tenant_id, last_effect_id, 'receive', 'online', product_id, location_id,
                    on_hand, last_effect_at, $2, 'applied'
             from stock_row where tenant_id = $1
             returning tenant_id, id, product_id, to_location_id, qty, occurred_at
         )
         insert into movement_effect (tenant_id, product_id, location_id, lot_id, occurred_at,
                                      movement_id, delta)
         select tenant_id, product_id, to_location_id, $3, occurred_at, id, qty from m",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(Uuid::nil())
    .execute(tx)
    .await
    .context("failed to seed the receipts")?;
    Ok(())
}

/// `vacuum analyze` of the seeded tables, so the first measured statements have
/// statistics.
pub async fn vacuum(owner: &PgPool, tables: &[&str]) -> Result<()> {
    for table in tables {
        sqlx::query(&format!("vacuum analyze {table}"))
            .execute(owner)
            .await
            .with_context(|| format!("failed to vacuum {table}"))?;
    }
    Ok(())
}

/// The JSON body of an answer that must be a success; an error naming `what`, the
/// status and the body otherwise.
pub async fn json_ok(response: reqwest::Response, what: &str) -> Result<serde_json::Value> {
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .with_context(|| format!("failed to read the {what} answer"))?;
    if !status.is_success() {
        bail!("{what} answered {status}: {body}");
    }
    Ok(body)
}

/// Signs the bench operator in; returns the access token.
pub async fn login(base: &str) -> Result<String> {
    login_as(base, OPERATOR_EMAIL).await
}

/// Signs a user of the bench tenant in (password [`PASSWORD`]); returns the access token.
pub async fn login_as(base: &str, email: &str) -> Result<String> {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/auth/login"))
        .json(&serde_json::json!({
            "tenant": TENANT,
            "email": email,
            "password": PASSWORD,
        }))
        .send()
        .await
        .context("failed to log in")?;
    let body = json_ok(response, "login").await?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("the login answer has no access_token")
}

/// `POST /v1/sync/push` of a serialised `PushRequest` by `device`: the parsed answer, an
/// error unless it is a success.
pub async fn push(
    http: &reqwest::Client,
    url: &str,
    device: &Device,
    body: Vec<u8>,
) -> Result<logiflow_core::PushResponse> {
    let response = http
        .post(url)
        .bearer_auth(&device.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .context("failed to push")?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .context("failed to read a push answer")?;
    if !status.is_success() {
        bail!(
            "POST /v1/sync/push answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    serde_json::from_slice(&bytes).context("failed to parse a push answer")
}

/// A registered device and its session's access token.
#[derive(Debug)]
pub struct Device {
    pub id: Uuid,
    pub token: String,
}

/// Registers a device of the holder of `token` for `warehouse` (`POST /v1/devices`).
pub async fn register_device(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    warehouse: Uuid,
    name: &str,
) -> Result<Device> {
    let response = http
        .post(format!("{base}/v1/devices"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "name": name,
            "platform": "linux",
            "warehouse_ids": [warehouse],
        }))
        .send()
        .await
        .context("failed to register a device")?;
    let body = json_ok(response, "POST /v1/devices").await?;
    Ok(Device {
        id: body["device"]["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .context("the registration has no device id")?,
        token: body["tokens"]["access_token"]
            .as_str()
            .context("the registration has no access token")?
            .to_owned(),
    })
}

/// The journal's clock: from its start, a microsecond further at each tick, so that the
/// movements of a run are in the order they were made and after the seeded receipts.
#[derive(Debug)]
pub struct Clock(pub chrono::DateTime<chrono::Utc>);

impl Clock {
    /// From an hour ago.
    pub fn new() -> Clock {
        Clock::at(chrono::Utc::now() - chrono::TimeDelta::hours(1))
    }

    /// From `start`, to the microsecond.
    pub fn at(start: chrono::DateTime<chrono::Utc>) -> Clock {
        Clock(chrono::DateTime::from_timestamp_micros(start.timestamp_micros()).unwrap_or(start))
    }

    pub fn tick(&mut self) -> chrono::DateTime<chrono::Utc> {
        self.0 += chrono::TimeDelta::microseconds(1);
        self.0
    }
}

/// The machine and the database, for a report.
#[derive(Debug)]
pub struct Machine {
    pub date: String,
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    /// /proc/loadavg when the report was written: the machine may be shared.
    pub load: String,
    pub postgres: String,
}

impl Machine {
    pub async fn gather(owner: &PgPool) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(
                || "unknown".to_owned(),
                |kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0),
            );
        let load = std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".to_owned());
        let postgres: String = sqlx::query_scalar("select version()")
            .fetch_one(owner)
            .await
            .unwrap_or_else(|_| "unknown".to_owned());
        Machine {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            cpu,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            memory,
            load,
            postgres,
        }
    }

    /// "Measured <date> on <cpu> (<cores> cores, <memory>, load <load>), <PostgreSQL
    /// version>.", the line every report gives.
    pub fn measured(&self) -> String {
        let postgres = self.postgres.split(" on ").next().unwrap_or(&self.postgres);
        format!(
            "Measured {} on {} ({} cores, {}, load {}), {postgres}.",
            self.date, self.cpu, self.cores, self.memory, self.load
        )
    }
}

/// The head of docs/benchmarks.md, rewritten with every section.
const DOC_HEAD: &str = "# Benchmarks\n\
\n\
Written by `cargo xtask bench server`, `sync`, `orders` and `webhooks` \
(crates/server/benches/); each rewrites only its own `## ` section of this file, so rerun \
one to refresh its section. The benchmarks report, they never fail on speed.\n";

/// Replaces the section of docs/benchmarks.md that starts with the line `heading`
/// (`## …`) by `section` (which starts with that line), leaving the other sections as
/// they are; appends it when the file has no such section yet. Returns the file's path.
pub fn write_section(heading: &str, section: &str) -> Result<PathBuf> {
    let path = docs_path();
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let text = replace_section(&old, heading, section);
    std::fs::write(&path, text).with_context(|| format!("failed to write {}", path.display()))?;
    Ok(path)
}

/// [`write_section`]'s text: the head, then the old sections in their order with
/// `heading`'s replaced (or appended).
fn replace_section(old: &str, heading: &str, section: &str) -> String {
    // Sections are the runs of lines from one `## ` line to the next.
    let mut sections: Vec<String> = Vec::new();
    for line in old.lines() {
        if line.starts_with("## ") {
            sections.push(String::new());
        }
        if let Some(current) = sections.last_mut() {
            current.push_str(line);
            current.push('\n');
        }
    }
    let section = format!("{}\n", section.trim_end());
    let mut replaced = false;
    for s in &mut sections {
        if s.lines().next() == Some(heading) {
            *s = section.clone();
            replaced = true;
        }
    }
    if !replaced {
        sections.push(section);
    }
    let mut text = String::from(DOC_HEAD);
    for s in sections {
        text.push('\n');
        text.push_str(s.trim_end());
        text.push('\n');
    }
    text
}

fn docs_path() -> PathBuf {
    // crates/server → the workspace root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    root.join("docs").join("benchmarks.md")
}
