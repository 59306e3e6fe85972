//! The webhooks benchmark of `cargo xtask bench webhooks` (issue #17): outbox events
//! delivered by the release server's webhook worker to a receiver on loopback.
//!
//! It needs a PostgreSQL it may create a database in: `LOGIFLOW_BENCH_DATABASE_URL` (a
//! superuser URL; `cargo xtask bench webhooks` starts a throwaway cluster and sets it).
//! Without it, it says so and exits successfully. The process shell, the database, the
//! server process and the report file are `support`'s.
//!
//! Steps: create a fresh database, start a receiver in this process (axum on
//! 127.0.0.1, answering 200 at once and noting when each `webhook-id` first arrived),
//! start the release `logiflow-server` with its worker on (default interval, loopback and
//! http allowed), an admin registers one endpoint for `movement.recorded`; then
//! 1. baseline: the same 10,000 signed bodies POSTed by this process straight to the
//!    receiver, 32 at a time (the worker's batch): what HTTP and the receiver allow;
//! 2. burst: 10,000 events written in one transaction as the owner (a movement's
//!    payload each), then timed from the commit until the last one arrived:
//!    deliveries/s;
//! 3. stream: 10,000 events committed one per transaction at 500/s (the target
//!    rate), each one's commit-to-delivery latency (p50/p99): commit noted by this process
//!    after the commit, arrival by the receiver, one clock.
//!
//! Events are written straight to the outbox so that only the delivery is measured (the
//! movement path has its own benches). Every event must arrive (else the bench fails after
//! 120 s a case), duplicates are counted, and every delivery must end `delivered`. The
//! server is killed and the database dropped on every exit path.

mod support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use logiflow_server::admin;
use logiflow_server::rbac::Role;
use logiflow_server::webhooks::signing;
use sqlx::postgres::{PgPool, PgPoolOptions};
use uuid::Uuid;

use support::{BenchDb, Machine, Server};

/// The heading of this bench's section of docs/benchmarks.md.
const HEADING: &str = "## Webhooks: outbox to receiver";
/// Events of each case.
const EVENTS: usize = 10_000;
/// The stream's offered rate, events/s.
const STREAM_RATE: f64 = 500.0;
/// Requests in flight in the baseline (the worker's `DELIVERY_BATCH_MAX`).
const BASELINE_CONCURRENCY: usize = 32;
/// Longest a case may take before the bench gives up.
const CASE_TIMEOUT: Duration = Duration::from_secs(120);
const ADMIN_EMAIL: &str = "admin@bench.example";
/// The targets.
const RATE_TARGET: f64 = 500.0;
const P99_TARGET_MS: f64 = 2_000.0;

fn main() -> ExitCode {
    support::main(
        "webhooks",
        "cargo xtask bench webhooks",
        |admin_url| async move { run(&admin_url).await },
    )
}

/// What the receiver saw: the first arrival of each `webhook-id`, and all requests.
#[derive(Default)]
struct Seen {
    first: HashMap<String, DateTime<Utc>>,
    requests: usize,
}

type Receiver = Arc<Mutex<Seen>>;

async fn receive(State(seen): State<Receiver>, headers: HeaderMap) -> &'static str {
    let at = Utc::now();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    seen.requests += 1;
    seen.first.entry(id).or_insert(at);
    "ok"
}

/// Starts the receiver; answers its URL.
async fn start_receiver(seen: Receiver) -> Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("failed to bind the receiver")?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(seen);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/hook"))
}

/// A case's result.
#[derive(Debug)]
struct Case {
    name: &'static str,
    events: usize,
    elapsed: Duration,
    /// Commit-to-delivery of each event (empty for the baseline).
    latencies_us: Vec<u32>,
    duplicates: usize,
}

impl Case {
    fn per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    fn p(&self, p: f64) -> f64 {
        support::percentile_ms(&self.latencies_us, p)
    }
}

async fn run(admin_url: &str) -> Result<()> {
    let database = BenchDb::create(admin_url).await?;
    let owner = PgPoolOptions::new()
        .max_connections(4)
        .connect(&database.url)
        .await
        .context("failed to connect to the bench database")?;
    let seen: Receiver = Arc::default();
    let url = start_receiver(seen.clone()).await?;
    let server = Server::start_with(
        &database.url,
        16,
        &[
            ("LOGIFLOW_WEBHOOK_WORKER_ENABLED", "true"),
            ("LOGIFLOW_WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "true"),
            ("LOGIFLOW_WEBHOOK_ALLOW_HTTP", "true"),
        ],
    )
    .await?;
    eprintln!("webhooks bench: logiflow-server ready on {}", server.base);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    let user = support::tenant(&owner).await?;
    let tenant_id = user.tenant_id;
    admin::user_create(
        &owner,
        support::TENANT,
        ADMIN_EMAIL,
        "Bench admin",
        Role::Admin,
        support::PASSWORD,
        logiflow_server::tokens::HashCost::Standard,
    )
    .await
    .context("failed to create the bench admin")?;
    let token = support::login_as(&server.base, ADMIN_EMAIL).await?;
    let endpoint = support::json_ok(
        http.post(format!("{}/v1/webhook-endpoints", server.base))
            .bearer_auth(&token)
            .json(&serde_json::json!({"url": url, "event_types": ["movement.recorded"]}))
            .send()
            .await?,
        "create the endpoint",
    )
    .await?;
    let secret = endpoint["secret"]
        .as_str()
        .context("the endpoint's secret")?
        .to_owned();

    let payload = sample_payload();
    let baseline = baseline(&http, &url, &secret, &payload).await?;
    seen.lock().unwrap().first.clear();
    eprintln!("webhooks bench: baseline {:.0}/s", baseline.per_sec());
    let burst = burst(&owner, tenant_id, &seen, &payload).await?;
    eprintln!("webhooks bench: burst {:.0}/s", burst.per_sec());
    let stream = stream(&owner, tenant_id, &seen, &payload).await?;
    eprintln!(
        "webhooks bench: stream p50 {:.0} ms, p99 {:.0} ms",
        stream.p(50.0),
        stream.p(99.0)
    );

    let states: Vec<(String, i64)> = sqlx::query_as(
        "select state, count(*) from webhook_delivery group by state order by state",
    )
    .fetch_all(&owner)
    .await?;
    ensure!(
        states == [("delivered".to_owned(), (2 * EVENTS) as i64)],
        "every delivery should be delivered, found {states:?}"
    );

    // Attempts that did not deliver: each is a retry the receiver never saw.
    let failures: Vec<(String, i64)> = sqlx::query_as(
        "select coalesce(error, 'status ' || status::text), count(*) from webhook_attempt
         where status is null or status not between 200 and 299
         group by 1 order by 2 desc",
    )
    .fetch_all(&owner)
    .await?;
    let failures = if failures.is_empty() {
        "none".to_owned()
    } else {
        failures
            .iter()
            .map(|(what, n)| format!("{n} × {what}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    eprintln!("webhooks bench: failed attempts: {failures}");

    let machine = Machine::gather(&owner).await;
    let cases = [baseline, burst, stream];
    let table = table(&cases);
    println!("\n{table}");
    let path = support::write_section(HEADING, &section(&machine, &table, &cases, &failures))?;
    println!("written to {}", path.display());
    owner.close().await;
    drop(server);
    database.drop_now().await;
    Ok(())
}

/// A `movement.recorded` payload as the API writes it (about 600 bytes).
fn sample_payload() -> serde_json::Value {
    serde_json::json!({
        "id": Uuid::now_v7(), "kind": "receive", "origin": "online",
        "product_id": Uuid::now_v7(), "lot_id": null, "from_location_id": null,
        "to_location_id": Uuid::now_v7(), "qty": 12, "expected": null, "reason": null,
        "note": "dock 3", "occurred_at": Utc::now(), "recorded_at": Utc::now(),
        "user_id": Uuid::now_v7(), "device_id": null, "device_seq": null,
        "outcome": "applied", "outcome_detail": null, "reference_type": null,
        "reference_id": null, "flags": [],
        "effects": [{"location_id": Uuid::now_v7(), "lot_id": null, "delta": 12}],
    })
}

/// The signed bodies straight to the receiver, [`BASELINE_CONCURRENCY`] at a time.
async fn baseline(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    payload: &serde_json::Value,
) -> Result<Case> {
    let started = Instant::now();
    let mut sent = 0;
    while sent < EVENTS {
        let n = BASELINE_CONCURRENCY.min(EVENTS - sent);
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..n {
            let http = http.clone();
            let url = url.to_owned();
            let secret = secret.to_owned();
            let id = Uuid::now_v7().to_string();
            let now = Utc::now();
            let body = serde_json::json!({
                "type": "movement.recorded", "timestamp": now, "data": payload,
            })
            .to_string();
            batch.spawn(async move {
                let timestamp = now.timestamp();
                let signature =
                    signing::signature_header(&[&secret], &id, timestamp, body.as_bytes());
                http.post(url)
                    .header("content-type", "application/json")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
            });
        }
        while let Some(done) = batch.join_next().await {
            done.context("a baseline request panicked")?
                .context("a baseline request failed")?;
        }
        sent += n;
    }
    Ok(Case {
        name: "baseline: signed POSTs straight to the receiver, 32 in flight",
        events: EVENTS,
        elapsed: started.elapsed(),
        latencies_us: Vec::new(),
        duplicates: 0,
    })
}

/// Inserts events with `ids` in one transaction as the owner.
async fn insert(
    owner: &PgPool,
    tenant_id: Uuid,
    ids: &[Uuid],
    payload: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "insert into outbox_event (tenant_id, id, topic, payload)
         select $1, id, 'movement.recorded', $3 from unnest($2::uuid[]) as id",
    )
    .bind(tenant_id)
    .bind(ids)
    .bind(payload)
    .execute(owner)
    .await
    .context("failed to write outbox events")?;
    Ok(())
}

/// Waits until every id of `ids` arrived; answers the arrivals by id.
async fn arrivals(seen: &Receiver, ids: &[Uuid]) -> Result<HashMap<Uuid, DateTime<Utc>>> {
    let deadline = Instant::now() + CASE_TIMEOUT;
    loop {
        {
            let seen = seen.lock().unwrap();
            let got: HashMap<Uuid, DateTime<Utc>> = ids
                .iter()
                .filter_map(|id| seen.first.get(&id.to_string()).map(|at| (*id, *at)))
                .collect();
            if got.len() == ids.len() {
                return Ok(got);
            }
            if Instant::now() > deadline {
                bail!(
                    "{} of {} events arrived within {CASE_TIMEOUT:?}",
                    got.len(),
                    ids.len()
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn latency_us(from: DateTime<Utc>, to: DateTime<Utc>) -> u32 {
    u32::try_from((to - from).num_microseconds().unwrap_or(0).max(0)).unwrap_or(u32::MAX)
}

async fn burst(
    owner: &PgPool,
    tenant_id: Uuid,
    seen: &Receiver,
    payload: &serde_json::Value,
) -> Result<Case> {
    let ids: Vec<Uuid> = (0..EVENTS).map(|_| Uuid::now_v7()).collect();
    let requests_before = seen.lock().unwrap().requests;
    insert(owner, tenant_id, &ids, payload).await?;
    let committed = Utc::now();
    let got = arrivals(seen, &ids).await?;
    let last = got.values().max().copied().unwrap_or(committed);
    let mut latencies_us: Vec<u32> = got.values().map(|at| latency_us(committed, *at)).collect();
    latencies_us.sort_unstable();
    let requests = seen.lock().unwrap().requests - requests_before;
    Ok(Case {
        name: "burst: 10,000 events committed at once, until the last arrived",
        events: EVENTS,
        elapsed: (last - committed).to_std().unwrap_or_default(),
        latencies_us,
        duplicates: requests.saturating_sub(EVENTS),
    })
}

async fn stream(
    owner: &PgPool,
    tenant_id: Uuid,
    seen: &Receiver,
    payload: &serde_json::Value,
) -> Result<Case> {
    let requests_before = seen.lock().unwrap().requests;
    let mut committed: Vec<(Uuid, DateTime<Utc>)> = Vec::with_capacity(EVENTS);
    let started = Instant::now();
    for i in 0..EVENTS {
        let due = started + Duration::from_secs_f64(i as f64 / STREAM_RATE);
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        let id = Uuid::now_v7();
        insert(owner, tenant_id, &[id], payload).await?;
        committed.push((id, Utc::now()));
    }
    let offered = started.elapsed();
    let ids: Vec<Uuid> = committed.iter().map(|(id, _)| *id).collect();
    let got = arrivals(seen, &ids).await?;
    let mut latencies_us: Vec<u32> = committed
        .iter()
        .map(|(id, at)| latency_us(*at, got[id]))
        .collect();
    latencies_us.sort_unstable();
    let requests = seen.lock().unwrap().requests - requests_before;
    Ok(Case {
        name: "stream: 10,000 events committed one by one at 500/s",
        events: EVENTS,
        elapsed: offered,
        latencies_us,
        duplicates: requests.saturating_sub(EVENTS),
    })
}

fn table(cases: &[Case]) -> String {
    let mut out = String::from(
        "| case | events | deliveries/s | commit→delivery p50 | p99 | max | duplicates |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in cases {
        let (p50, p99, max) = if c.latencies_us.is_empty() {
            ("–".to_owned(), "–".to_owned(), "–".to_owned())
        } else {
            (
                format!("{:.0} ms", c.p(50.0)),
                format!("{:.0} ms", c.p(99.0)),
                format!("{:.0} ms", c.p(100.0)),
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {p50} | {p99} | {max} | {} |",
            c.name,
            c.events,
            c.per_sec(),
            c.duplicates
        );
    }
    out
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn section(machine: &Machine, table: &str, cases: &[Case], failures: &str) -> String {
    let [baseline, burst, stream] = cases else {
        return String::new();
    };
    format!(
        "{HEADING}\n\n\
         `cargo xtask bench webhooks` (crates/server/benches/webhooks.rs): the release \
         server's webhook worker (default interval 1 s) delivering `movement.recorded` \
         events (~600-byte payloads, signed) to one endpoint, a receiver on loopback in the \
         bench process that answers 200 at once. Events are written straight to the \
         outbox, so only delivery is measured. In the stream case the worker's rate is \
         the offered rate (500/s); its latency is the figure.\n\n\
         {measured}\n\n\
         {table}\n\
         - Burst: {burst_rate:.0} deliveries/s against the target ≥ {RATE_TARGET:.0} \
         ({v1}); the baseline, the same requests without the database, ran at \
         {base_rate:.0}/s, so the worker reaches {share:.0}% of what HTTP allows here.\n\
         - Stream at 500/s: commit-to-delivery p99 {p99:.0} ms against the target < \
         {P99_TARGET_MS:.0} ms ({v2}); p50 {p50:.0} ms, mostly the wait for the next \
         tick.\n\
         - Every event arrived; duplicates {dups}; every delivery ended `delivered` \
         (checked by the bench). Attempts that failed and were retried: {failures}.\n\n\
         Finding when this bench was written (2026-12-06, same machine): the worker ticked \
         once per interval and a tick delivers at most 8 batches of 32 per tenant, so it \
         could never pass 256 deliveries/s: the burst drained at 254/s (p99 38 s) and a \
         500/s stream fell further behind the longer it ran (p99 19.4 s after 20 s). A \
         tick that finds more work than it takes now says so (`Tick::backlog`) and the \
         next one starts at once; the per-tick bound still keeps one tenant from starving \
         the others.\n",
        measured = machine.measured(),
        burst_rate = burst.per_sec(),
        base_rate = baseline.per_sec(),
        share = 100.0 * burst.per_sec() / baseline.per_sec().max(f64::MIN_POSITIVE),
        p99 = stream.p(99.0),
        p50 = stream.p(50.0),
        v1 = verdict(burst.per_sec() >= RATE_TARGET),
        v2 = verdict(stream.p(99.0) < P99_TARGET_MS),
        dups = burst.duplicates + stream.duplicates,
    )
}
