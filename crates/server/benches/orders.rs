//! The orders benchmark of `cargo xtask bench orders` (issue #15): the confirmation of
//! sales orders (their allocation) at 1, 8 and 32 concurrent clients, and the push of a
//! journal of picks beside a journal of plain ships of the same size, through the real
//! HTTP API of the release server, on the same PostgreSQL in the same run.
//!
//! It needs a PostgreSQL it may create a database in: `LOGIFLOW_BENCH_DATABASE_URL` (a
//! superuser URL; `cargo xtask bench orders` starts a throwaway cluster and sets it).
//! Without it, it says so and exits successfully. The process shell, the database, the
//! server process and the report file are `support`'s.
//!
//! Steps: create a fresh database, start the release `logiflow-server` binary on it,
//! seed (set-based SQL as the owner) one warehouse of 1,000 bins and N products with one
//! stock row of 1,000 units each (N = 100,000) and its receipt in the ledger, a customer
//! and a manager; then
//! 1. confirmation: draft orders of 5 lines (5 distinct random products, 1 unit each)
//!    are created beforehand (not timed); for 1, 8 and 32 clients, each client confirms
//!    its share of them one after the other (`POST /v1/sales-orders/{id}/confirm`: the
//!    rows of the order's products locked in key order, FIFO allocation, reservations
//!    written, audit and outbox event); each confirmation's latency, and the case's
//!    throughput (confirmations over the case's wall time); the order tables are
//!    analyzed after the drafts and a warm-up of confirmations, as autovacuum would have;
//! 2. picks: 10,000 of the lines confirmed in 1 (each reserved 1 unit on one row), each
//!    picked by a device from its reserved row (`ship` naming the sales line), beside
//!    another device's 10,000 plain ships of 1 from the same rows; both journals pushed
//!    through `POST /v1/sync/push` in batches of `PUSH_BATCH_MAX`, the two devices taking
//!    turns batch by batch so both see the same load (movements dated in that order, so
//!    neither reads a ledger tail the other left). Reported: movements/s of each and
//!    their ratio.
//!
//! The run is bounded by its counts (a few minutes with the build), checks every answer
//! (all confirmations 200, every pushed movement applied, ledger and reservations
//! consistent afterwards), prints the table and rewrites its own section of
//! `docs/benchmarks.md`. The server is killed and the database dropped on every exit path.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use logiflow_core::{
    DeviceId, DeviceStamp, LineRef, LocationId, Movement, MovementId, MovementKind, PUSH_BATCH_MAX,
    PositiveQty, ProductId, PushRequest, PushedMovement, UserId,
};
use logiflow_server::admin;
use logiflow_server::rbac::Role;
use sqlx::postgres::{PgPool, PgPoolOptions};
use uuid::Uuid;

use support::{BenchDb, Clock, Device, Machine, Rng, Server};

/// The heading of this bench's section of docs/benchmarks.md.
const HEADING: &str = "## Orders: confirmation (allocation) and pushed picks";
/// Products = stock rows.
const ROWS: usize = 100_000;
const LOCATIONS: usize = 1_000;
const ON_HAND: i64 = 1_000;
/// Lines of an order.
const LINES: usize = 5;
/// (clients, confirmations) of each confirmation case.
const CASES: [(usize, usize); 3] = [(1, 300), (8, 1_600), (32, 1_600)];
/// Confirmations before the cases, not counted (plans cached, pool warm).
const WARMUP: usize = 50;
/// Clients creating the drafts beforehand.
const CREATORS: usize = 8;
/// Picks in the pushed journal, and plain ships beside it.
const PICKS: usize = 10_000;
const MANAGER_EMAIL: &str = "manager@bench.example";
/// How long one request may take (a push of 1,000).
const REQUEST_TIMEOUT_MS: u64 = 120_000;
/// The targets.
const CONFIRM_P99_TARGET_MS: f64 = 25.0;
const PICK_RATIO_TARGET: f64 = 0.8;

fn main() -> ExitCode {
    support::main(
        "orders",
        "cargo xtask bench orders",
        |admin_url| async move { run(&admin_url).await },
    )
}

#[derive(Debug)]
struct World {
    tenant_id: Uuid,
    user_id: Uuid,
    warehouse_id: Uuid,
    customer_id: Uuid,
    /// (product, bin) of each stock row.
    rows: Vec<(Uuid, Uuid)>,
}

/// One confirmation case.
#[derive(Debug)]
struct ConfirmCase {
    clients: usize,
    latencies_us: Vec<u32>,
    elapsed: Duration,
}

impl ConfirmCase {
    fn per_sec(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    fn p(&self, p: f64) -> f64 {
        support::percentile_ms(&self.latencies_us, p)
    }
}

/// One side of the push comparison.
#[derive(Debug, Default)]
struct PushSide {
    movements: usize,
    elapsed: Duration,
    outcomes: BTreeMap<String, usize>,
    /// Flags the answers carried, by name.
    flags: BTreeMap<String, usize>,
}

impl PushSide {
    fn per_sec(&self) -> f64 {
        self.movements as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

async fn run(admin_url: &str) -> Result<()> {
    let database = BenchDb::create(admin_url).await?;
    let owner = PgPoolOptions::new()
        .max_connections(4)
        .connect(&database.url)
        .await
        .context("failed to connect to the bench database")?;
    let server = Server::start(&database.url, 16).await?;
    eprintln!("orders bench: logiflow-server ready on {}", server.base);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
        .pool_max_idle_per_host(64)
        .build()
        .context("failed to build the HTTP client")?;
    let world = seed(&owner, &http, &server.base).await?;
    let manager = support::login_as(&server.base, MANAGER_EMAIL).await?;
    let mut rng = Rng(0x0bde_25ee_d000);

    let total: usize = WARMUP + CASES.iter().map(|c| c.1).sum::<usize>();
    eprintln!("orders bench: creating {total} draft orders of {LINES} lines");
    let drafts = create_drafts(&http, &server.base, &manager, &world, total, &mut rng).await?;
    let mut drafts = drafts.into_iter();
    let warmup: Vec<Uuid> = drafts.by_ref().take(WARMUP).collect();
    confirm_case(&http, &server.base, &manager, 4, warmup).await?;
    // Statistics as autovacuum keeps them on a tenant that has orders: the order tables
    // were empty at the seed's analyze, and a plan made for an empty `sales_line` or
    // `allocation` scans all the tenant's lines for an order's (10 ms a read at a few
    // thousand lines; see docs/benchmarks.md).
    support::vacuum(&owner, &["sales_order", "sales_line", "allocation"]).await?;
    let mut confirms = Vec::new();
    for (clients, n) in CASES {
        let ids: Vec<Uuid> = drafts.by_ref().take(n).collect();
        eprintln!("orders bench: {n} confirmations at {clients} clients");
        let case = confirm_case(&http, &server.base, &manager, clients, ids).await?;
        eprintln!(
            "  {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
            case.per_sec(),
            case.p(50.0),
            case.p(99.0)
        );
        confirms.push(case);
    }

    eprintln!("orders bench: a journal of {PICKS} picks beside {PICKS} plain ships");
    support::vacuum(&owner, &["sales_line", "allocation"]).await?;
    let (picks, ships) = push_case(&http, &server.base, &manager, &owner, &world, &mut rng).await?;
    eprintln!(
        "  picks {:.0}/s, ships {:.0}/s, ratio {:.2}",
        picks.per_sec(),
        ships.per_sec(),
        picks.per_sec() / ships.per_sec()
    );
    let violations = [
        logiflow_testkit::ledger_violations(&owner, world.tenant_id).await,
        logiflow_testkit::allocation_violations(&owner, world.tenant_id).await,
        logiflow_testkit::outcome_violations(&owner, world.tenant_id).await,
    ]
    .concat();
    ensure!(
        violations.is_empty(),
        "the run left the database inconsistent:\n{}",
        violations.join("\n")
    );

    let machine = Machine::gather(&owner).await;
    let table = table(&confirms, &picks, &ships);
    println!("\n{table}");
    let path = support::write_section(
        HEADING,
        &section(&machine, &table, &confirms, &picks, &ships),
    )?;
    println!("written to {}", path.display());
    owner.close().await;
    drop(server);
    database.drop_now().await;
    Ok(())
}

/// Bins, products and their stock rows set-based as the owner, then a manager (sales
/// orders are theirs to confirm) and a customer through the API.
async fn seed(owner: &PgPool, http: &reqwest::Client, base: &str) -> Result<World> {
    let started = Instant::now();
    let user = support::tenant(owner).await?;
    let tenant_id = user.tenant_id;
    let (mut tx, warehouse_id) = support::begin_seed(owner, tenant_id).await?;
    let bins = support::seed_bins(&mut tx, tenant_id, warehouse_id, LOCATIONS).await?;
    let rows: Vec<(Uuid, Uuid)> = (0..ROWS)
        .map(|i| (Uuid::now_v7(), bins[i % LOCATIONS].0))
        .collect();
    let products: Vec<(Uuid, String, String)> = rows
        .iter()
        .enumerate()
        .map(|(i, (p, _))| (*p, format!("SKU{:06}", i + 1), format!("Item {}", i + 1)))
        .collect();
    support::seed_stock(&mut tx, tenant_id, warehouse_id, &products, &rows, ON_HAND).await?;
    support::seed_receipts(&mut tx, tenant_id, user.id).await?;
    tx.commit().await?;
    sqlx::query("vacuum analyze")
        .execute(owner)
        .await
        .context("failed to vacuum the bench database")?;
    admin::user_create(
        owner,
        support::TENANT,
        MANAGER_EMAIL,
        "Bench manager",
        Role::Manager,
        support::PASSWORD,
        logiflow_server::tokens::HashCost::Standard,
    )
    .await
    .context("failed to create the bench manager")?;
    let manager = support::login_as(base, MANAGER_EMAIL).await?;
    let response = http
        .post(format!("{base}/v1/customers"))
        .bearer_auth(&manager)
        .json(&serde_json::json!({"code": "C-BENCH", "name": "Bench customer"}))
        .send()
        .await
        .context("failed to create the customer")?;
    let customer = support::json_ok(response, "POST /v1/customers").await?;
    eprintln!(
        "orders bench: seeded {ROWS} products and stock rows in {LOCATIONS} bins in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(World {
        tenant_id,
        user_id: user.id,
        warehouse_id,
        customer_id: customer["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .context("the customer has no id")?,
        rows,
    })
}

/// `n` draft orders of [`LINES`] distinct random products, created by [`CREATORS`]
/// clients; their ids in creation order.
async fn create_drafts(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    world: &World,
    n: usize,
    rng: &mut Rng,
) -> Result<Vec<Uuid>> {
    let bodies: Vec<serde_json::Value> = (0..n)
        .map(|_| {
            let mut products: Vec<Uuid> = Vec::with_capacity(LINES);
            while products.len() < LINES {
                let p = world.rows[rng.below(world.rows.len())].0;
                if !products.contains(&p) {
                    products.push(p);
                }
            }
            let lines: Vec<serde_json::Value> = products
                .iter()
                .map(|p| serde_json::json!({"product_id": p, "qty": 1, "unit_price": "9.90"}))
                .collect();
            serde_json::json!({
                "customer_id": world.customer_id,
                "warehouse_id": world.warehouse_id,
                "requested_on": "2027-01-01",
                "lines": lines,
            })
        })
        .collect();
    let chunks: Vec<Vec<serde_json::Value>> = bodies
        .chunks(n.div_ceil(CREATORS).max(1))
        .map(<[_]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (http, url, token) = (
            http.clone(),
            format!("{base}/v1/sales-orders"),
            token.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(chunk.len());
            for body in chunk {
                let response = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .context("failed to create an order")?;
                let order = support::json_ok(response, "POST /v1/sales-orders").await?;
                ids.push(
                    order["id"]
                        .as_str()
                        .and_then(|s| s.parse::<Uuid>().ok())
                        .context("the order has no id")?,
                );
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::with_capacity(n);
    for task in tasks {
        ids.extend(task.await.context("a creator failed")??);
    }
    Ok(ids)
}

/// `clients` clients confirm `orders` (each its share, one after the other); every
/// answer must be 200 with all lines reserved.
async fn confirm_case(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    clients: usize,
    orders: Vec<Uuid>,
) -> Result<ConfirmCase> {
    let orders = Arc::new(orders);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, base, token, orders) = (
            http.clone(),
            base.to_owned(),
            token.to_owned(),
            Arc::clone(&orders),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for id in orders.iter().skip(c).step_by(clients) {
                let start = Instant::now();
                let response = http
                    .post(format!("{base}/v1/sales-orders/{id}/confirm"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                    .context("failed to confirm")?;
                let order =
                    support::json_ok(response, "POST /v1/sales-orders/{id}/confirm").await?;
                latencies.push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
                if order["status"] != "allocated" {
                    bail!("a confirmed order is not fully allocated: {order}");
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies_us = Vec::with_capacity(orders.len());
    for task in tasks {
        latencies_us.extend(task.await.context("a client failed")??);
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Ok(ConfirmCase {
        clients,
        latencies_us,
        elapsed,
    })
}

/// A journal movement of `device` (its `seq`-th), as the replica stamps it.
fn stamped(
    world: &World,
    device: &Device,
    seq: usize,
    clock: &mut Clock,
    rng: &mut Rng,
    (product, bin): (Uuid, Uuid),
    line: Option<Uuid>,
) -> Movement {
    let at = clock.tick();
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&rng.next().to_le_bytes());
    random[8..].copy_from_slice(&rng.next().to_le_bytes()[..2]);
    Movement {
        id: MovementId::new_v7(u64::try_from(at.timestamp_millis()).unwrap_or(0), random),
        occurred_at: at,
        product: ProductId::from_uuid(product),
        lot: None,
        kind: MovementKind::Ship {
            from: LocationId::from_uuid(bin),
            qty: PositiveQty::new(1).expect("1 is positive"),
        },
        user: UserId::from_uuid(world.user_id),
        device: Some(DeviceStamp {
            device: DeviceId::from_uuid(device.id),
            seq: seq as u64,
        }),
        reference: line.map(LineRef::SalesLine),
    }
}

/// [`PICKS`] picks of reserved lines by one device beside as many plain ships from the
/// same rows by another, pushed in turns, batch by batch.
async fn push_case(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    owner: &PgPool,
    world: &World,
    rng: &mut Rng,
) -> Result<(PushSide, PushSide)> {
    // Lines reserved 1 unit on one row each (every line of a confirmed order).
    let reserved: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "select line_id, product_id, location_id from allocation
         where tenant_id = $1 and qty = 1 order by line_id limit $2",
    )
    .bind(world.tenant_id)
    .bind(i64::try_from(PICKS).unwrap_or(i64::MAX))
    .fetch_all(owner)
    .await
    .context("failed to read the reservations")?;
    ensure!(
        reserved.len() == PICKS,
        "only {} reserved lines to pick",
        reserved.len()
    );
    let picker = support::register_device(http, base, token, world.warehouse_id, "picks").await?;
    let shipper = support::register_device(http, base, token, world.warehouse_id, "ships").await?;
    // From now: after the devices' registration (earlier is flagged
    // `dated_before_device`) and the seeded receipts.
    let mut clock = Clock::at(chrono::Utc::now());
    let url = format!("{base}/v1/sync/push");
    let mut picks = PushSide::default();
    let mut ships = PushSide::default();
    for (b, batch) in reserved.chunks(PUSH_BATCH_MAX).enumerate() {
        let first = b * PUSH_BATCH_MAX + 1;
        let pick_batch: Vec<Movement> = batch
            .iter()
            .enumerate()
            .map(|(i, (line, product, bin))| {
                stamped(
                    world,
                    &picker,
                    first + i,
                    &mut clock,
                    rng,
                    (*product, *bin),
                    Some(*line),
                )
            })
            .collect();
        let ship_batch: Vec<Movement> = batch
            .iter()
            .enumerate()
            .map(|(i, (_, product, bin))| {
                stamped(
                    world,
                    &shipper,
                    first + i,
                    &mut clock,
                    rng,
                    (*product, *bin),
                    None,
                )
            })
            .collect();
        for (device, movements, side) in [
            (&picker, pick_batch, &mut picks),
            (&shipper, ship_batch, &mut ships),
        ] {
            let body = serde_json::to_vec(&PushRequest {
                device: DeviceId::from_uuid(device.id),
                lots: Vec::new(),
                movements: movements
                    .iter()
                    .map(|m| PushedMovement {
                        movement: *m,
                        base_cursor: None,
                    })
                    .collect(),
            })
            .context("failed to serialise a push")?;
            let start = Instant::now();
            let answer = support::push(http, &url, device, body).await?;
            side.elapsed += start.elapsed();
            side.movements += answer.results.len();
            for r in &answer.results {
                *side
                    .outcomes
                    .entry(r.outcome.name().to_string())
                    .or_default() += 1;
                for f in &r.flags {
                    *side.flags.entry(f.name().to_string()).or_default() += 1;
                }
            }
        }
    }
    for side in [&picks, &ships] {
        ensure!(
            side.outcomes.get("applied") == Some(&PICKS),
            "not every pushed movement was applied: {:?}",
            side.outcomes
        );
    }
    let left: i64 = sqlx::query_scalar(
        "select count(*) from allocation where tenant_id = $1 and line_id = any($2)",
    )
    .bind(world.tenant_id)
    .bind(reserved.iter().map(|r| r.0).collect::<Vec<_>>())
    .fetch_one(owner)
    .await?;
    ensure!(left == 0, "{left} picked lines still hold reservations");
    Ok((picks, ships))
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn table(confirms: &[ConfirmCase], picks: &PushSide, ships: &PushSide) -> String {
    let mut t = String::from(
        "| case | clients | count | throughput | p50 | p99 |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for c in confirms {
        let _ = writeln!(
            t,
            "| confirm a {LINES}-line order | {} | {} | {:.0}/s | {:.2} ms | {:.2} ms |",
            c.clients,
            c.latencies_us.len(),
            c.per_sec(),
            c.p(50.0),
            c.p(99.0)
        );
    }
    for (name, side) in [("push picks", picks), ("push plain ships", ships)] {
        let _ = writeln!(
            t,
            "| {name} (batches of {PUSH_BATCH_MAX}) | 1 | {} | {:.0} movements/s | | |",
            side.movements,
            side.per_sec()
        );
    }
    t
}

fn section(
    machine: &Machine,
    table: &str,
    confirms: &[ConfirmCase],
    picks: &PushSide,
    ships: &PushSide,
) -> String {
    let at8 = confirms
        .iter()
        .find(|c| c.clients == 8)
        .map_or(f64::NAN, |c| c.p(99.0));
    let ratio = picks.per_sec() / ships.per_sec();
    let flags: Vec<String> = picks
        .flags
        .iter()
        .map(|(f, n)| format!("{f} {n}"))
        .collect();
    format!(
        "{HEADING}\n\n\
         Run {date} on {cpu} ({cores} cores, {memory}, load {load}), {postgres}.\n\
         `cargo xtask bench orders` (crates/server/benches/orders.rs): the release server \
         over HTTP, {ROWS} stock rows of {ON_HAND} units in {LOCATIONS} bins, orders of \
         {LINES} random products of 1 unit each, confirmed by a manager.\n\n\
         {table}\n\
         - Confirmation p99 at 8 clients: {at8:.2} ms (target < {CONFIRM_P99_TARGET_MS} ms: \
         {v1}).\n\
         - Picks push at {ratio:.2}× the rate of plain ships (target ≥ {PICK_RATIO_TARGET}: \
         {v2}). Pick flags: {flags}.\n\
         - Every confirmation reserved its 5 lines, every pushed movement was applied, and \
         rows, ledger and reservations agree afterwards (checked by the bench).\n\n\
         Findings when this bench was written (2026-12-05, same machine, shared): \
         (1) plans made while `sales_line` and `allocation` were empty (the seed's \
         analyze) scanned all of the tenant's lines for an order's: 6 ms a read of an \
         order's lines at 3,500 orders, 40 ms a read of 1,000 lines' reservations, so a \
         confirmation took 23 ms alone and picks pushed at 0.37× ships. The bench analyzes \
         the order tables after its warm-up, as autovacuum does on a live tenant; the \
         `= any($n)` reads stay at the mercy of statistics. (2) A pushed pick updated its \
         row twice (on hand in the write statement, then `allocated`); the write \
         statement now moves `allocated` too, which took the ratio from 0.73× to 0.84× in \
         back-to-back runs; from run to run on this shared machine it varies by about \
         0.1 (0.73× to 0.84× since). (3) Confirmation cost ~15 \
         statements (a few ms at one client); at 8 clients they queue for the two cores \
         (latency ≈ clients / throughput), so the p99 target was missed by this \
         machine's throughput, not by waits for locks (orders of random products rarely \
         share rows): 383 confirmations/s and p99 37.9 ms at 8 clients on 2026-12-07. \
         (4) `perf record` during the 8-client case (2026-12-07) put PostgreSQL at 75% \
         of the CPU and planning at a quarter of that. A confirmation now runs 9 \
         statements with kept plans (`TenantTx::begin_cached_plans`); two kept plans \
         then scanned whole tables (a hash of every bin for the candidate rows; \
         `allocation` for an empty list of lines), and those statements were rewritten \
         (keyed subqueries; no statement for nothing). Same machine, back to back: 8 \
         clients from 383/s and p99 37.9 ms to ~900/s and p99 18 ms.\n",
        date = machine.date,
        cpu = machine.cpu,
        cores = machine.cores,
        memory = machine.memory,
        load = machine.load,
        postgres = machine
            .postgres
            .split(" on ")
            .next()
            .unwrap_or(&machine.postgres),
        v1 = verdict(at8 < CONFIRM_P99_TARGET_MS),
        v2 = verdict(ratio >= PICK_RATIO_TARGET),
        flags = if flags.is_empty() {
            "none".to_owned()
        } else {
            flags.join(", ")
        },
    )
}
