//! The server benchmark of `cargo xtask bench server` (issue #4, point 4): online movements
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

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sqlx::postgres::{PgPool, PgPoolOptions};
use uuid::Uuid;

use support::{BenchDb, Machine, Rng, Server};

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
/// How long a single request may take before the client counts it as an error.
const REQUEST_TIMEOUT_MS: u64 = 30_000;

/// The heading of this bench's section of docs/benchmarks.md.
const HEADING: &str = "## Server: online movements, API against the minimal transaction";

fn main() -> ExitCode {
    support::main(
        "server",
        "cargo xtask bench server",
        |admin_url| async move { run(&admin_url).await },
    )
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
    /// CPU used during the measured run by the server process (API side only), the
    /// database's client backends, and this process (the load generator).
    cpu_server: Option<Duration>,
    cpu_db: Duration,
    cpu_bench: Option<Duration>,
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
        support::percentile_ms(&self.latencies_us, p)
    }

    /// CPU microseconds per successful operation.
    fn cpu_us(&self, cpu: Option<Duration>) -> String {
        match cpu {
            Some(cpu) if self.ok > 0 => format!("{:.0}", cpu.as_secs_f64() * 1e6 / self.ok as f64),
            _ => "—".to_owned(),
        }
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
    let token = support::login(&server.base).await?;
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
            let api_measure = measure(&owner, Some(&server), clients, case_time, {
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
            let base_measure = measure(&owner, None, clients, case_time, {
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
            eprintln!(
                "  CPU µs a movement: API server {} PostgreSQL {} load generator {}; baseline PostgreSQL {} load generator {}",
                case.api.cpu_us(case.api.cpu_server),
                case.api.cpu_us(Some(case.api.cpu_db)),
                case.api.cpu_us(case.api.cpu_bench),
                case.base.cpu_us(Some(case.base.cpu_db)),
                case.base.cpu_us(case.base.cpu_bench),
            );
            cases.push(case);
        }
    }

    let facts = Facts::gather(&owner, secs, target).await;
    let table = table_text(&cases);
    println!("\n{table}");
    println!("{}", cpu_table_text(&cases));
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
    let path = support::write_section(HEADING, &section(&facts, &table, &cases))?;
    println!("written to {}", path.display());
    owner.close().await;
    drop(server);
    database.drop_now().await;
    Ok(())
}

/// Runs `clients` client loops built by `make` for a warm-up and then for `time`, and
/// merges what they measured.
async fn measure<F, Fut>(
    owner: &PgPool,
    server: Option<&Server>,
    clients: usize,
    time: Duration,
    make: F,
) -> Result<Measure>
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
    let db_before = support::backend_cpu(owner).await?;
    let server_before = server.and_then(Server::cpu_time);
    let bench_before = support::cpu_time(std::process::id());
    let start = Instant::now();
    let (_, measures) = drive(loops, start + time).await?;
    let elapsed = start.elapsed();
    let bench_after = support::cpu_time(std::process::id());
    let server_after = server.and_then(Server::cpu_time);
    let db_after = support::backend_cpu(owner).await?;
    let mut total = Measure {
        elapsed,
        cpu_server: server_after
            .zip(server_before)
            .map(|(after, before)| after.saturating_sub(before)),
        cpu_db: support::backend_cpu_between(&db_before, &db_after),
        cpu_bench: bench_after
            .zip(bench_before)
            .map(|(after, before)| after.saturating_sub(before)),
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

/// Plan, tenant, operator, and the stock: set-based SQL as the owner.
async fn seed(owner: &PgPool) -> Result<World> {
    let started = Instant::now();
    let user = support::tenant(owner).await?;
    let tenant_id = user.tenant_id;

    let (mut tx, warehouse_id) = support::begin_seed(owner, tenant_id).await?;
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
    support::seed_receipts(&mut tx, tenant_id, user.id).await?;
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "select product_id, location_id from stock_row where tenant_id = $1
         order by product_id, location_id",
    )
    .bind(tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    support::vacuum(
        owner,
        &[
            "stock_row",
            "movement",
            "movement_effect",
            "location",
            "product",
        ],
    )
    .await?;
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

/// The machine and the run's settings, for the report.
#[derive(Debug)]
struct Facts {
    machine: Machine,
    secs: u64,
    target: Target,
}

impl Facts {
    async fn gather(owner: &PgPool, secs: u64, target: Target) -> Facts {
        Facts {
            machine: Machine::gather(owner).await,
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

/// Where the CPU went, per movement: what bounds each side on a machine whose cores the
/// server, PostgreSQL and the load generator share.
fn cpu_table_text(cases: &[Case]) -> String {
    let mut text = String::new();
    text.push_str(
        "| clients | rows         | API: server µs | API: PostgreSQL µs | API: load generator µs | base: PostgreSQL µs | base: load generator µs |\n",
    );
    text.push_str(
        "|--------:|:-------------|---------------:|-------------------:|-----------------------:|--------------------:|------------------------:|\n",
    );
    for c in cases {
        let _ = writeln!(
            text,
            "| {:>7} | {:<12} | {:>14} | {:>18} | {:>22} | {:>19} | {:>23} |",
            c.clients,
            c.rows.label(),
            c.api.cpu_us(c.api.cpu_server),
            c.api.cpu_us(Some(c.api.cpu_db)),
            c.api.cpu_us(c.api.cpu_bench),
            c.base.cpu_us(Some(c.base.cpu_db)),
            c.base.cpu_us(c.base.cpu_bench),
        );
    }
    text
}

fn section(facts: &Facts, table: &str, cases: &[Case]) -> String {
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
        "{HEADING}\n\
         \n\
         Written by `cargo xtask bench server` (crates/server/benches/server.rs).\n\
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
         keep-alive HTTP/1.1 connection per client; the tenant has no webhook endpoint, so \
         its movements write no outbox event\n\
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
         CPU per movement, in microseconds, over each measured run (user + system time of \
         the server process, of the database's client backends from /proc, and of the \
         bench process that generates the load; the machine's other work is not counted):\n\
         \n\
         {cpu_table}\n\
         Reproduce: `cargo xtask bench server` (`LOGIFLOW_BENCH_SECS=N` for N seconds a \
         case, at most {max}).\n",
        date = facts.machine.date,
        cpu = facts.machine.cpu,
        cores = facts.machine.cores,
        memory = facts.machine.memory,
        load = facts.machine.load,
        postgres = facts.machine.postgres,
        secs = facts.secs,
        max = CASE_SECS_MAX,
        cpu_table = cpu_table_text(cases),
    )
}
