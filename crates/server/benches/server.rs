//! The server benchmark of `cargo xtask bench server` (issue #4 §4): online movements
//! through the real HTTP API with real auth, beside the minimal movement transaction sent
//! straight to PostgreSQL, on the same database in the same run.
//!
//! It needs a PostgreSQL it may create a database in: `LOGIFLOW_BENCH_DATABASE_URL` (a
//! superuser URL; `cargo xtask bench server` starts a throwaway cluster and sets it).
//! Without it, it says so and exits successfully, so `cargo bench --workspace` stays
//! harmless.
//!
//! Steps: create a fresh database, start the release `logiflow-server` binary on it (it
//! migrates), create a plan whose request rate never throttles, a tenant and an operator,
//! log in for a real JWT, seed 100k stock rows with set-based SQL, then for each case
//! (uniform over the 100k rows, or 10 hot rows; 1, 8 and 32 clients) run the API for a
//! bounded time and the baseline for the same time, and print and write the table
//! (`docs/benchmarks.md`). The server is killed and the database dropped on every exit
//! path: success, error, Ctrl-C/SIGTERM, or the parent (cargo) going away.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use logiflow_server::admin;
use logiflow_server::rbac::Role;
use sqlx::Connection;
use sqlx::postgres::{PgPool, PgPoolOptions};
use uuid::Uuid;

/// Where the database comes from; unset means "skip".
const DATABASE_URL_VAR: &str = "LOGIFLOW_BENCH_DATABASE_URL";
/// Seconds each measured case runs (default [`CASE_SECS_DEFAULT`]).
const SECS_VAR: &str = "LOGIFLOW_BENCH_SECS";
const CASE_SECS_DEFAULT: u64 = 10;
/// `1`: the API side sends `GET /v1/me` instead of a movement, to measure the HTTP and
/// authentication path alone (the part of a request every endpoint pays).
const AUTH_ONLY_VAR: &str = "LOGIFLOW_BENCH_AUTH_ONLY";
/// The longest a case may be asked to run: the whole run must stay well under 10 minutes
/// (12 measured runs plus warm-ups).
const CASE_SECS_MAX: u64 = 30;
/// Unmeasured warm-up before each measured run: connections opened, statements prepared,
/// caches warm.
const WARMUP_MS: u64 = 1_000;
/// Client counts of the issue.
const CLIENTS: [usize; 3] = [1, 8, 32];
/// Seeded stock rows: PRODUCTS × LOCATIONS.
const PRODUCTS: i32 = 100;
const LOCATIONS: i32 = 1_000;
/// The hot case's rows.
const HOT_ROWS: usize = 10;
/// Each row's seeded quantity: ships of 1 never run out.
const ON_HAND: i64 = 1_000_000_000;
/// How long the server gets to become ready (it migrates first).
const READY_TIMEOUT_MS: u64 = 60_000;
/// How long a single request may take before the client counts it as an error.
const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Within what the parent-process watchdog notices cargo went away.
const WATCHDOG_MS: u64 = 250;

const PASSWORD: &str = "bench-password-long-enough";
const TENANT: &str = "bench";

fn main() -> ExitCode {
    let Ok(admin_url) = std::env::var(DATABASE_URL_VAR) else {
        println!(
            "server bench: skipped ({DATABASE_URL_VAR} is unset; `cargo xtask bench server` \
             starts a PostgreSQL and runs it)"
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
            result = run(&admin_url) => match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("error: {err:#}");
                    ExitCode::FAILURE
                }
            },
            () = stop_signal() => {
                eprintln!("server bench: interrupted, cleaning up");
                ExitCode::from(130)
            }
            () = parent_gone(parent) => {
                eprintln!("server bench: the parent process went away, cleaning up");
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

/// The measured rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    Uniform,
    Hot,
}

impl Rows {
    fn label(self) -> String {
        match self {
            Rows::Uniform => format!("uniform {}k", PRODUCTS * LOCATIONS / 1000),
            Rows::Hot => format!("hot {HOT_ROWS}"),
        }
    }
}

/// What the API side sends: the movement endpoint, or a stand-in authenticated endpoint
/// while the movement endpoint does not exist (the harness is built before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Movements,
    StandInMe,
}

/// One side's measurement of one case.
#[derive(Debug, Default)]
struct Measure {
    ok: u64,
    /// Latencies of the successful requests, in microseconds, sorted.
    latencies_us: Vec<u32>,
    /// Unsuccessful answers by status (API) or SQLSTATE (baseline); "io" for errors
    /// without an answer.
    failures: BTreeMap<String, u64>,
    elapsed: Duration,
    /// Deadlocks PostgreSQL counted in the database during the run.
    deadlocks: i64,
}

impl Measure {
    fn merge(&mut self, other: ClientMeasure) {
        self.ok += other.ok;
        self.latencies_us.extend(other.latencies_us);
        for (key, n) in other.failures {
            *self.failures.entry(key).or_default() += n;
        }
    }

    fn per_sec(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[index]) / 1000.0
    }

    fn failures_text(&self) -> String {
        if self.failures.is_empty() && self.deadlocks == 0 {
            return "none".to_owned();
        }
        let mut parts: Vec<String> = self
            .failures
            .iter()
            .map(|(key, n)| format!("{key}×{n}"))
            .collect();
        if self.deadlocks > 0 {
            parts.push(format!("deadlocks×{}", self.deadlocks));
        }
        parts.join(" ")
    }

    fn has_5xx_or_deadlock(&self) -> bool {
        self.deadlocks > 0
            || self
                .failures
                .keys()
                .any(|k| k.starts_with('5') || k == "40P01" || k == "io")
    }
}

#[derive(Debug, Default)]
struct ClientMeasure {
    ok: u64,
    latencies_us: Vec<u32>,
    failures: BTreeMap<String, u64>,
}

#[derive(Debug)]
struct Case {
    rows: Rows,
    clients: usize,
    api: Measure,
    base: Measure,
}

/// The seeded world the clients act on.
#[derive(Debug)]
struct World {
    tenant_id: Uuid,
    user_id: Uuid,
    /// (product, location) of every stock row, in key order.
    rows: Vec<(Uuid, Uuid)>,
}

async fn run(admin_url: &str) -> Result<()> {
    let secs = match std::env::var(SECS_VAR) {
        Ok(v) => v
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=CASE_SECS_MAX).contains(s))
            .with_context(|| {
                format!("{SECS_VAR}={v:?} is not a number of seconds 1..={CASE_SECS_MAX}")
            })?,
        Err(_) => CASE_SECS_DEFAULT,
    };
    let case_time = Duration::from_secs(secs);
    let database = BenchDb::create(admin_url).await?;
    let owner = PgPoolOptions::new()
        .max_connections(CLIENTS[CLIENTS.len() - 1] as u32 + 2)
        .connect(&database.url)
        .await
        .context("failed to connect to the bench database")?;

    let server = Server::start(&database.url, CLIENTS[CLIENTS.len() - 1] as u32).await?;
    eprintln!("server bench: logiflow-server ready on {}", server.base);
    let world = seed(&owner).await?;
    let token = login(&server.base).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS[CLIENTS.len() - 1] * 2)
        .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
        .build()
        .context("failed to build the HTTP client")?;
    let auth_only = std::env::var(AUTH_ONLY_VAR).is_ok_and(|v| v == "1");
    let target = if auth_only {
        eprintln!("server bench: {AUTH_ONLY_VAR}=1: the API side measures GET /v1/me");
        Target::StandInMe
    } else {
        detect_target(&client, &server.base).await?
    };
    if target == Target::StandInMe && !auth_only {
        eprintln!(
            "server bench: warning: POST /v1/movements does not exist yet; the API side \
             measures GET /v1/me (auth path only) as a stand-in"
        );
    }
    let api = Api {
        client,
        base: server.base.clone(),
        auth: format!("Bearer {token}"),
        target,
    };
    let world = Arc::new(world);

    let mut cases = Vec::new();
    for rows in [Rows::Uniform, Rows::Hot] {
        for clients in CLIENTS {
            eprintln!(
                "server bench: {} rows, {clients} client(s): API then baseline, {secs} s each",
                rows.label()
            );
            let api_measure = measure(&owner, clients, case_time, {
                let api = api.clone();
                let world = Arc::clone(&world);
                move |seed| api_client(api.clone(), Arc::clone(&world), rows, seed)
            })
            .await?;
            let pool = PgPoolOptions::new()
                .max_connections(clients as u32)
                .min_connections(clients as u32)
                .connect(&database.url)
                .await
                .context("failed to connect the baseline pool")?;
            let base_measure = measure(&owner, clients, case_time, {
                let pool = pool.clone();
                let world = Arc::clone(&world);
                move |seed| base_client(pool.clone(), Arc::clone(&world), rows, seed)
            })
            .await?;
            pool.close().await;
            let case = Case {
                rows,
                clients,
                api: api_measure,
                base: base_measure,
            };
            eprintln!("  {}", row_text(&case));
            cases.push(case);
        }
    }

    let facts = Facts::gather(&owner, secs, target).await;
    let table = table_text(&cases);
    println!("\n{table}");
    let loud: Vec<String> = cases
        .iter()
        .filter(|c| c.api.has_5xx_or_deadlock() || c.base.has_5xx_or_deadlock())
        .map(|c| format!("{} rows, {} clients", c.rows.label(), c.clients))
        .collect();
    if !loud.is_empty() {
        println!(
            "WARNING: 5xx answers, transport errors or deadlocks in: {}",
            loud.join("; ")
        );
    }
    let doc = document(&facts, &table, &cases);
    let path = docs_path();
    std::fs::write(&path, doc).with_context(|| format!("failed to write {}", path.display()))?;
    println!("written to {}", path.display());
    owner.close().await;
    drop(server);
    database.drop_now().await;
    Ok(())
}

/// Runs `clients` client loops built by `make` for a warm-up and then for `time`, and
/// merges what they measured.
async fn measure<F, Fut>(owner: &PgPool, clients: usize, time: Duration, make: F) -> Result<Measure>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Box<dyn FnMut() -> ClientFuture + Send>>,
{
    let mut loops = Vec::with_capacity(clients);
    for i in 0..clients {
        loops.push(make(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1)).await);
    }
    // Warm-up: the same loops, results thrown away.
    let warm_until = Instant::now() + Duration::from_millis(WARMUP_MS);
    let (loops, _) = drive(loops, warm_until).await?;
    let deadlocks_before = deadlocks(owner).await?;
    let start = Instant::now();
    let (_, measures) = drive(loops, start + time).await?;
    let mut total = Measure {
        elapsed: start.elapsed(),
        ..Measure::default()
    };
    for m in measures {
        total.merge(m);
    }
    total.deadlocks = deadlocks(owner).await? - deadlocks_before;
    total.latencies_us.sort_unstable();
    Ok(total)
}

type ClientFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>;
type ClientLoop = Box<dyn FnMut() -> ClientFuture + Send>;

/// One operation's result: Ok or the failure key (status or SQLSTATE).
type Outcome = Result<(), String>;

/// Runs each loop on its own task until `until`, timing each operation.
async fn drive(
    loops: Vec<ClientLoop>,
    until: Instant,
) -> Result<(Vec<ClientLoop>, Vec<ClientMeasure>)> {
    let mut tasks = Vec::with_capacity(loops.len());
    for mut op in loops {
        tasks.push(tokio::spawn(async move {
            let mut m = ClientMeasure::default();
            while Instant::now() < until {
                let start = Instant::now();
                match op().await {
                    Ok(()) => {
                        m.ok += 1;
                        let us = start.elapsed().as_micros();
                        m.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                    Err(key) => *m.failures.entry(key).or_default() += 1,
                }
            }
            (op, m)
        }));
    }
    let mut loops = Vec::with_capacity(tasks.len());
    let mut measures = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (op, m) = task.await.context("a client task panicked")?;
        loops.push(op);
        measures.push(m);
    }
    Ok((loops, measures))
}

/// A small, fast, seeded generator (SplitMix64): the clients' row choices are
/// reproducible and cost nothing next to a request.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn pick(world: &World, rows: Rows, rng: &mut Rng) -> (Uuid, Uuid) {
    let n = match rows {
        Rows::Uniform => world.rows.len(),
        Rows::Hot => HOT_ROWS,
    };
    world.rows[rng.below(n)]
}

#[derive(Debug, Clone)]
struct Api {
    client: reqwest::Client,
    base: String,
    auth: String,
    target: Target,
}

async fn api_client(api: Api, world: Arc<World>, rows: Rows, seed: u64) -> ClientLoop {
    let mut rng = Rng(seed);
    let movements = format!("{}/v1/movements", api.base);
    let me = format!("{}/v1/me", api.base);
    Box::new(move || {
        let (product, location) = pick(&world, rows, &mut rng);
        let request = match api.target {
            Target::Movements => api
                .client
                .post(&movements)
                .header("authorization", &api.auth)
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"kind":"ship","product_id":"{product}","from_location_id":"{location}","qty":1}}"#
                )),
            Target::StandInMe => api.client.get(&me).header("authorization", &api.auth),
        };
        Box::pin(async move {
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    // Read the body: the response is complete only then, and the
                    // connection goes back to the pool.
                    let body = response.bytes().await;
                    match (status.is_success(), body) {
                        (true, Ok(_)) => Ok(()),
                        (false, _) => Err(status.as_u16().to_string()),
                        (true, Err(_)) => Err("io".to_owned()),
                    }
                }
                Err(_) => Err("io".to_owned()),
            }
        })
    })
}

async fn base_client(pool: PgPool, world: Arc<World>, rows: Rows, seed: u64) -> ClientLoop {
    let mut rng = Rng(seed);
    let tenant_id = world.tenant_id;
    let user_id = world.user_id;
    Box::new(move || {
        let (product, location) = pick(&world, rows, &mut rng);
        let pool = pool.clone();
        Box::pin(async move {
            baseline_movement(&pool, tenant_id, user_id, product, location)
                .await
                .map_err(|err| match &err {
                    sqlx::Error::Database(db) => db
                        .code()
                        .map_or_else(|| "db".to_owned(), |c| c.into_owned()),
                    _ => "io".to_owned(),
                })
        })
    })
}

/// The minimal movement transaction of the issue: lock the row, update the quantity,
/// insert one movement row. As the owner (no RLS), prepared statements, five round trips
/// (begin, select, update, insert, commit).
async fn baseline_movement(
    pool: &PgPool,
    tenant_id: Uuid,
    user_id: Uuid,
    product: Uuid,
    location: Uuid,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let on_hand: i64 = sqlx::query_scalar(
        "select on_hand from stock_row
         where tenant_id = $1 and product_id = $2 and location_id = $3 and lot_id = $4
         for update",
    )
    .bind(tenant_id)
    .bind(product)
    .bind(location)
    .bind(Uuid::nil())
    .fetch_one(&mut *tx)
    .await?;
    if on_hand < 1 {
        return Err(sqlx::Error::RowNotFound);
    }
    sqlx::query(
        "update stock_row set on_hand = on_hand - 1, updated_at = now()
         where tenant_id = $1 and product_id = $2 and location_id = $3 and lot_id = $4",
    )
    .bind(tenant_id)
    .bind(product)
    .bind(location)
    .bind(Uuid::nil())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into movement (tenant_id, id, kind, origin, product_id, from_location_id, qty,
                               occurred_at, user_id, outcome)
         values ($1, $2, 'ship', 'online', $3, $4, 1, now(), $5, 'applied')",
    )
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(product)
    .bind(location)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

async fn deadlocks(owner: &PgPool) -> Result<i64> {
    sqlx::query_scalar("select deadlocks from pg_stat_database where datname = current_database()")
        .fetch_one(owner)
        .await
        .context("failed to read pg_stat_database")
}

/// Which request the API side sends: the movement endpoint once it exists.
async fn detect_target(client: &reqwest::Client, base: &str) -> Result<Target> {
    let doc: serde_json::Value = client
        .get(format!("{base}/v1/openapi.json"))
        .send()
        .await
        .context("failed to fetch the OpenAPI document")?
        .json()
        .await
        .context("failed to read the OpenAPI document")?;
    let has = doc["paths"]["/v1/movements"]["post"].is_object();
    Ok(if has {
        Target::Movements
    } else {
        Target::StandInMe
    })
}

/// A fresh database in the cluster, dropped when done (or by [`Drop`] on any other
/// exit).
#[derive(Debug)]
struct BenchDb {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

impl BenchDb {
    async fn create(admin_url: &str) -> Result<BenchDb> {
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

    async fn drop_now(mut self) {
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
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    async fn start(database_url: &str, max_connections: u32) -> Result<Server> {
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

    fn log_tail(&self) -> String {
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

/// Plan, tenant, operator, and the stock: set-based SQL as the owner.
async fn seed(owner: &PgPool) -> Result<World> {
    let started = Instant::now();
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
    let user = admin::user_create(
        owner,
        TENANT,
        "operator@bench.example",
        "Bench operator",
        Role::Operator,
        PASSWORD,
    )
    .await
    .context("failed to create the bench operator")?;
    let tenant_id = user.tenant_id;

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
    .await?;
    // Flat leaf locations and plain (lot-less) products; every pair is a stock row.
    sqlx::query(
        "insert into location (tenant_id, id, warehouse_id, code, path, depth)
         select $1, gen_random_uuid(), $2, c, c, 0
         from (select 'L' || lpad(i::text, 5, '0') as c from generate_series(1, $3) i) s",
    )
    .bind(tenant_id)
    .bind(warehouse_id)
    .bind(LOCATIONS)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into product (tenant_id, id, sku, name)
         select $1, gen_random_uuid(), 'SKU' || lpad(i::text, 6, '0'), 'Bench product ' || i
         from generate_series(1, $2) i",
    )
    .bind(tenant_id)
    .bind(PRODUCTS)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into stock_row (tenant_id, product_id, location_id, warehouse_id, on_hand,
                                last_effect_at, last_effect_id)
         select $1, p.id, l.id, $2, $3, now() - interval '1 day', gen_random_uuid()
         from product p cross join location l
         where p.tenant_id = $1 and l.tenant_id = $1",
    )
    .bind(tenant_id)
    .bind(warehouse_id)
    .bind(ON_HAND)
    .execute(&mut *tx)
    .await?;
    // The ledger stays consistent: each row's quantity is one applied receipt's effect,
    // and the row's latest effect is that receipt.
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
    .bind(user.id)
    .bind(Uuid::nil())
    .execute(&mut *tx)
    .await?;
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "select product_id, location_id from stock_row where tenant_id = $1
         order by product_id, location_id",
    )
    .bind(tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    for table in [
        "stock_row",
        "movement",
        "movement_effect",
        "location",
        "product",
    ] {
        sqlx::query(&format!("vacuum analyze {table}"))
            .execute(owner)
            .await?;
    }
    eprintln!(
        "server bench: seeded {} stock rows (and their receipts) in {:.1} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    // Spread the hot rows over products and locations rather than the first ten keys.
    let mut rows = rows;
    let step = rows.len() / HOT_ROWS;
    for i in 0..HOT_ROWS {
        rows.swap(i, i * step + i % LOCATIONS as usize);
    }
    Ok(World {
        tenant_id,
        user_id: user.id,
        rows,
    })
}

async fn login(base: &str) -> Result<String> {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/auth/login"))
        .json(&serde_json::json!({
            "tenant": TENANT,
            "email": "operator@bench.example",
            "password": PASSWORD,
        }))
        .send()
        .await
        .context("failed to log in")?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .context("failed to read the login answer")?;
    if !status.is_success() {
        bail!("login answered {status}: {body}");
    }
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("the login answer has no access_token")
}

/// The machine and the database, for the report.
#[derive(Debug)]
struct Facts {
    date: String,
    cpu: String,
    cores: usize,
    memory: String,
    /// /proc/loadavg when the report was written: the machine may be shared.
    load: String,
    postgres: String,
    secs: u64,
    target: Target,
}

impl Facts {
    async fn gather(owner: &PgPool, secs: u64, target: Target) -> Facts {
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
        Facts {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            cpu,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            memory,
            load,
            postgres,
            secs,
            target,
        }
    }
}

fn row_text(case: &Case) -> String {
    format!(
        "| {:>7} | {:<12} | {:>9.0} | {:>8.2} | {:>8.2} | {:>9.0} | {:>8.2} | {:>8.2} | {:>5.2} | {} / {} |",
        case.clients,
        case.rows.label(),
        case.api.per_sec(),
        case.api.percentile_ms(50.0),
        case.api.percentile_ms(99.0),
        case.base.per_sec(),
        case.base.percentile_ms(50.0),
        case.base.percentile_ms(99.0),
        case.api.per_sec() / case.base.per_sec().max(f64::MIN_POSITIVE),
        case.api.failures_text(),
        case.base.failures_text(),
    )
}

fn table_text(cases: &[Case]) -> String {
    let mut text = String::new();
    text.push_str(
        "| clients | rows         |   API/s   | API p50  | API p99  |  base/s   | base p50 | base p99 | ratio | failures API / base |\n",
    );
    text.push_str(
        "|--------:|:-------------|----------:|---------:|---------:|----------:|---------:|---------:|------:|:--------------------|\n",
    );
    for case in cases {
        let _ = writeln!(text, "{}", row_text(case));
    }
    text
}

fn document(facts: &Facts, table: &str, cases: &[Case]) -> String {
    let api_side = match facts.target {
        Target::Movements => {
            "`POST /v1/movements` (`ship`, qty 1) with `Authorization: Bearer <JWT>` of an operator"
        }
        Target::StandInMe => {
            "**`GET /v1/me`** instead of a movement (`LOGIFLOW_BENCH_AUTH_ONLY=1`, or no \
             movement endpoint in this build), so the API column measures the HTTP and \
             authentication path only"
        }
    };
    let failures: u64 = cases
        .iter()
        .flat_map(|c| c.api.failures.values().chain(c.base.failures.values()))
        .sum();
    let deadlocks: i64 = cases
        .iter()
        .map(|c| c.api.deadlocks + c.base.deadlocks)
        .sum();
    format!(
        "# Benchmarks\n\
         \n\
         Written by `cargo xtask bench server` (crates/server/benches/server.rs); rerun it to \
         refresh this file. The benchmark reports, it never fails on speed.\n\
         \n\
         ## Server: online movements, API against the minimal transaction\n\
         \n\
         - Date: {date}\n\
         - Machine: {cpu}, {cores} cores (`nproc`), {memory} of memory; the server, \
         PostgreSQL and the load generator share them (load average {load} at the end, \
         which counts other work on the machine)\n\
         - PostgreSQL: {postgres} (a throwaway cluster: `synchronous_commit = off`, \
         `shared_buffers = 128MB`, otherwise defaults)\n\
         - Each case: {secs} s measured after a 1 s warm-up\n\
         - API: {api_side}; the release `logiflow-server` binary as a separate process, \
         request pool of 32 connections, request logs off (`RUST_LOG=warn`); one \
         keep-alive HTTP/1.1 connection per client\n\
         - Baseline: the same number of connections straight to PostgreSQL (sqlx, prepared \
         statements, the owner role so no RLS): `begin; select on_hand … for update; update \
         stock_row set on_hand = on_hand - 1 …; insert into movement …; commit`\n\
         - Rows: `uniform 100k` picks one of 100,000 stock rows (100 products × 1,000 leaf \
         locations, no lots) at random for each movement; `hot 10` one of 10 rows. Seeded \
         with on_hand = 10⁹ and one receipt per row in the ledger\n\
         - Latencies in milliseconds (p50, p99 of successful requests); ratio = API/s ÷ \
         baseline/s. Failures by HTTP status or SQLSTATE ({failures} in all), deadlocks \
         from `pg_stat_database` ({deadlocks} in all)\n\
         \n\
         {table}\n\
         Reproduce: `cargo xtask bench server` (`LOGIFLOW_BENCH_SECS=N` for N seconds a \
         case, at most {max}).\n",
        date = facts.date,
        cpu = facts.cpu,
        cores = facts.cores,
        memory = facts.memory,
        load = facts.load,
        postgres = facts.postgres,
        secs = facts.secs,
        max = CASE_SECS_MAX,
    )
}

fn docs_path() -> PathBuf {
    // crates/server → the workspace root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    root.join("docs").join("benchmarks.md")
}
