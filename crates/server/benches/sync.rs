//! The sync benchmark of `cargo xtask bench sync` (issue #5, point 5): a device's journal
//! pushed through the real HTTP API beside the same work as raw set-based SQL, a first
//! snapshot pulled into a new replica, and the replica's local recording and projected
//! stock search, on the same PostgreSQL and SQLite in the same run.
//!
//! It needs a PostgreSQL it may create a database in: `LOGIFLOW_BENCH_DATABASE_URL` (a
//! superuser URL; `cargo xtask bench sync` starts a throwaway cluster and sets it).
//! Without it, it says so and exits successfully. The process shell, the database, the
//! server process and the report file are `support`'s, shared with the server bench.
//!
//! Steps: create a fresh database, start the release `logiflow-server` binary on it,
//! seed (set-based SQL as the owner) one warehouse of 1,000 bins and N products (SKU,
//! name, one EAN-13 each) with one stock row each and its receipt in the ledger; then
//! 1. snapshot: register a device (`POST /v1/devices`), pull from no cursor with the
//!    default page size and `Replica::apply_pull` every page into a new SQLite file until
//!    `has_more` is false;
//! 2. search: `Replica::stock` by SKU prefix, name and barcode on that replica, with 0
//!    pending journal entries, then a few, then all the recorded ones (the projection
//!    replays the pending journal on every query);
//! 3. record: `Replica::record` (receipts and ships by SKU, `synchronous=FULL`) on that
//!    replica, beside a bare SQLite insert-and-commit of a journal-sized row in WAL with
//!    `synchronous=FULL` in the same directory;
//! 4. push: for journals of N/10 and N movements, a fresh registered device posts its
//!    journal as `PushRequest`s of `PUSH_BATCH_MAX` (built and serialised beforehand, so
//!    generation is not timed) to `POST /v1/sync/push`, one after the other as a device
//!    does, and the baseline books the same movements on the same rows in batches of the
//!    same size with four set-based statements in one transaction each, the two sides
//!    taking turns batch by batch so that both see the same load from other work on the
//!    (shared) machine.
//!
//! N is `LOGIFLOW_BENCH_SYNC_SIZE` (default and most 100,000; at least 1,000). The run is
//! bounded by N, prints the table and rewrites its own section of `docs/benchmarks.md`.
//! The server is killed, the database dropped and the temp directory removed on every
//! exit path.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use chrono::{DateTime, Utc};
use logiflow_core::{
    DeviceId, DeviceStamp, LocationId, Movement, MovementId, MovementKind, PUSH_BATCH_MAX,
    PositiveQty, ProductId, PullPage, PushRequest, PushedMovement, TenantId, UserId,
};
use logiflow_replica::{Action, ItemRef, Op, Replica, Search, StockQuery};
use sqlx::postgres::{PgPool, PgPoolOptions};
use uuid::Uuid;

use support::{BenchDb, Clock, Device, Machine, Rng, Server};

/// The heading of this bench's section of docs/benchmarks.md.
const HEADING: &str = "## Sync: journal push, snapshot, local recording and search";
/// Products = stock rows = the larger journal (the smaller is a tenth).
const SIZE_VAR: &str = "LOGIFLOW_BENCH_SYNC_SIZE";
const SIZE_DEFAULT: usize = 100_000;
const SIZE_MIN: usize = 1_000;
const SIZE_MAX: usize = 100_000;
/// Bins of the warehouse; product i lies in bin i mod LOCATIONS.
const LOCATIONS: usize = 1_000;
/// Each row's seeded quantity: receipts of 2 and ships of 1 never run it out.
const ON_HAND: i64 = 1_000;
/// Local records: N/50, within these bounds (2,000 at full size).
const RECORDS_MIN: usize = 100;
const RECORDS_MAX: usize = 2_000;
/// Pending entries at the middle search level (between none and all the records).
const FEW_PENDING: usize = 100;
/// Stock searches of each kind at each pending level.
const SEARCHES: usize = 50;
/// How long one request may take (a push of 1,000 or a snapshot page).
const REQUEST_TIMEOUT_MS: u64 = 120_000;
/// Names are "<word> <material> <n>": a name search for "<word> <material>" matches one
/// product in forty.
const WORDS: [&str; 8] = [
    "Bolt", "Nut", "Washer", "Bracket", "Hinge", "Cable", "Valve", "Panel",
];
const MATERIALS: [&str; 5] = ["steel", "brass", "zinc", "nylon", "oak"];

fn main() -> ExitCode {
    support::main("sync", "cargo xtask bench sync", |admin_url| async move {
        run(&admin_url).await
    })
}

/// One product of the seeded catalog and its one stock row.
#[derive(Debug)]
struct Item {
    product: Uuid,
    location: Uuid,
    sku: String,
    bin: String,
    name: String,
    barcode: String,
}

#[derive(Debug)]
struct World {
    tenant_id: Uuid,
    user_id: Uuid,
    warehouse_id: Uuid,
    items: Vec<Item>,
}

async fn run(admin_url: &str) -> Result<()> {
    let size = match std::env::var(SIZE_VAR) {
        Ok(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (SIZE_MIN..=SIZE_MAX).contains(n))
            .with_context(|| format!("{SIZE_VAR}={v:?} is not a number {SIZE_MIN}..={SIZE_MAX}"))?,
        Err(_) => SIZE_DEFAULT,
    };
    let records = (size / 50).clamp(RECORDS_MIN, RECORDS_MAX);
    let database = BenchDb::create(admin_url).await?;
    let owner = PgPoolOptions::new()
        .max_connections(4)
        .connect(&database.url)
        .await
        .context("failed to connect to the bench database")?;
    let server = Server::start(&database.url, 8).await?;
    eprintln!("sync bench: logiflow-server ready on {}", server.base);
    let world = seed(&owner, size).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
        .build()
        .context("failed to build the HTTP client")?;
    let operator = support::login(&server.base).await?;
    let dir = tempfile::Builder::new()
        .prefix("logiflow-bench-sync-")
        .tempdir()
        .context("failed to create a temp directory")?;
    let mut rng = Rng(0x5eed_5eed);
    // The baseline's movements are stamped after the whole journal's, and the two sides
    // take turns on the same rows: from its second batch on, the API meets rows whose
    // latest effect is later than its movements (a device's journal arriving behind
    // online work), and reads their ledger tail, as it would in the field.
    let mut clock = Clock::new();
    let mut report = Report {
        size,
        ..Report::default()
    };

    eprintln!("sync bench: snapshot of {size} stock rows to a new replica");
    let device = support::register_device(
        &http,
        &server.base,
        &operator,
        world.warehouse_id,
        "snapshot",
    )
    .await?;
    let (mut replica, snap) = snapshot(&http, &server.base, &device, &world, dir.path()).await?;
    eprintln!("  {}", snap.text());
    report.snapshot = Some(snap);

    eprintln!("sync bench: search and record on the snapshot replica");
    report.searches.push(search(&replica, &world, &mut rng, 0)?);
    let few = FEW_PENDING.min(records);
    report
        .records
        .push(record(&mut replica, &world, &mut rng, 0, few)?);
    report
        .searches
        .push(search(&replica, &world, &mut rng, few)?);
    report
        .records
        .push(record(&mut replica, &world, &mut rng, few, records)?);
    report
        .searches
        .push(search(&replica, &world, &mut rng, records)?);
    report.record_base = Some(raw_sqlite_inserts(dir.path(), records)?);
    drop(replica);

    for journal in [size / 10, size] {
        eprintln!("sync bench: push of a {journal}-movement journal beside the SQL baseline");
        let device =
            support::register_device(&http, &server.base, &operator, world.warehouse_id, "push")
                .await?;
        let movements = journal_of(&world, &device, journal, &mut rng, &mut clock);
        let case = push_case(
            &http, &server, &owner, &world, &device, &movements, &mut clock,
        )
        .await?;
        eprintln!("  {}", case.text());
        report.pushes.push(case);
    }
    for (k, n_ships) in [size / 10, size].into_iter().enumerate() {
        let plain = report.pushes.get(k).map_or(f64::NAN, |c| c.api.per_sec());
        eprintln!(
            "sync bench: {n_ships} ships held on an empty bin, then the receipts that came first"
        );
        let case = wake_case(
            &http, &server, &operator, &owner, &world, k, n_ships, plain, &mut rng, &mut clock,
        )
        .await?;
        eprintln!("  {}", case.text());
        report.wakes.push(case);
    }
    report.ledger_violations = logiflow_testkit::ledger_violations(&owner, world.tenant_id)
        .await
        .len();
    report.outcome_violations = logiflow_testkit::outcome_violations(&owner, world.tenant_id)
        .await
        .len();

    let machine = Machine::gather(&owner).await;
    let table = report.table();
    println!("\n{table}");
    let path = support::write_section(HEADING, &report.section(&machine, &table))?;
    println!("written to {}", path.display());
    owner.close().await;
    drop(server);
    database.drop_now().await;
    dir.close().context("failed to remove the temp directory")?;
    Ok(())
}

/// The GS1 check digit of a GTIN body (weights 3, 1, 3, … from the right).
fn gtin(body: &str) -> String {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// The catalog and stock, set-based as the owner: arrays built here, one statement a
/// table.
async fn seed(owner: &PgPool, size: usize) -> Result<World> {
    let started = Instant::now();
    let user = support::tenant(owner).await?;
    let tenant_id = user.tenant_id;
    let (mut tx, warehouse_id) = support::begin_seed(owner, tenant_id).await?;
    let bins = support::seed_bins(&mut tx, tenant_id, warehouse_id, LOCATIONS).await?;
    let items: Vec<Item> = (0..size)
        .map(|i| Item {
            product: Uuid::now_v7(),
            location: bins[i % LOCATIONS].0,
            sku: format!("SKU{:06}", i + 1),
            bin: bins[i % LOCATIONS].1.clone(),
            name: format!(
                "{} {} {}",
                WORDS[i % WORDS.len()],
                MATERIALS[(i / WORDS.len()) % MATERIALS.len()],
                i + 1
            ),
            barcode: gtin(&format!("200{:09}", i + 1)),
        })
        .collect();

    let products: Vec<(Uuid, String, String)> = items
        .iter()
        .map(|i| (i.product, i.sku.clone(), i.name.clone()))
        .collect();
    let rows: Vec<(Uuid, Uuid)> = items.iter().map(|i| (i.product, i.location)).collect();
    support::seed_stock(&mut tx, tenant_id, warehouse_id, &products, &rows, ON_HAND).await?;
    sqlx::query(
        "insert into product_barcode (tenant_id, barcode, product_id)
         select $1, b.code, b.product_id from unnest($2::text[], $3::uuid[]) as b (code, product_id)",
    )
    .bind(tenant_id)
    .bind(items.iter().map(|i| i.barcode.clone()).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.product).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .context("failed to seed the barcodes")?;
    support::seed_receipts(&mut tx, tenant_id, user.id).await?;
    tx.commit().await?;
    // The whole database, the tables triggers filled too (product_name_trigram): an
    // autovacuum of them would otherwise run during the first measured pushes.
    sqlx::query("vacuum analyze")
        .execute(owner)
        .await
        .context("failed to vacuum the bench database")?;
    eprintln!(
        "sync bench: seeded {size} products, barcodes and stock rows in {LOCATIONS} bins in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(World {
        tenant_id,
        user_id: user.id,
        warehouse_id,
        items,
    })
}

/// A first snapshot, end to end.
#[derive(Debug, Default)]
struct Snapshot {
    pages: usize,
    rows: usize,
    items: usize,
    bytes: usize,
    elapsed: Duration,
    /// Request and response body (server and transfer), JSON parsing, `apply_pull`.
    http: Duration,
    parse: Duration,
    apply: Duration,
}

impl Snapshot {
    fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    fn text(&self) -> String {
        format!(
            "{} rows ({} items, {} pages, {:.1} MB of JSON) in {:.2} s: {:.0} rows/s, \
             {:.0} items/s (HTTP {:.2} s, parse {:.2} s, apply_pull {:.2} s)",
            self.rows,
            self.items,
            self.pages,
            self.bytes as f64 / 1e6,
            self.elapsed.as_secs_f64(),
            self.rows_per_sec(),
            self.items as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
            self.http.as_secs_f64(),
            self.parse.as_secs_f64(),
            self.apply.as_secs_f64(),
        )
    }
}

/// A new replica for `device` pulls from no cursor (default page size) and applies every
/// page until `has_more` is false. Opening the replica is not timed.
async fn snapshot(
    http: &reqwest::Client,
    base: &str,
    device: &Device,
    world: &World,
    dir: &Path,
) -> Result<(Replica, Snapshot)> {
    let mut replica = Replica::open(dir.join("replica.db")).context("failed to open a replica")?;
    replica
        .init_device(
            TenantId::from_uuid(world.tenant_id),
            UserId::from_uuid(world.user_id),
            base,
            Some(DeviceId::from_uuid(device.id)),
        )
        .context("failed to set up the replica's device")?;
    let mut snap = Snapshot::default();
    let mut cursor: Option<String> = None;
    let start = Instant::now();
    loop {
        let t = Instant::now();
        let url = match &cursor {
            None => url::Url::parse(&format!("{base}/v1/sync/pull"))?,
            Some(c) => {
                url::Url::parse_with_params(&format!("{base}/v1/sync/pull"), [("cursor", c)])?
            }
        };
        let response = http
            .get(url)
            .bearer_auth(&device.token)
            .send()
            .await
            .context("failed to pull")?;
        let status = response.status();
        let body = response.bytes().await.context("failed to read a page")?;
        ensure!(
            status.is_success(),
            "GET /v1/sync/pull answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        snap.http += t.elapsed();
        let t = Instant::now();
        let page: PullPage = serde_json::from_slice(&body).context("failed to parse a page")?;
        snap.parse += t.elapsed();
        let t = Instant::now();
        replica.apply_pull(&page).context("apply_pull failed")?;
        snap.apply += t.elapsed();
        snap.pages += 1;
        snap.rows += page.rows.len();
        snap.items += page.item_count();
        snap.bytes += body.len();
        cursor = Some(page.cursor.as_str().to_owned());
        if !page.has_more {
            break;
        }
    }
    snap.elapsed = start.elapsed();
    ensure!(
        snap.rows == world.items.len(),
        "the snapshot carried {} stock rows, {} were seeded",
        snap.rows,
        world.items.len()
    );
    Ok((replica, snap))
}

/// Latencies of one series of local operations.
#[derive(Debug, Default)]
struct Series {
    label: String,
    /// Microseconds, sorted.
    latencies_us: Vec<u32>,
}

impl Series {
    fn new(label: String, mut latencies_us: Vec<u32>) -> Series {
        latencies_us.sort_unstable();
        Series {
            label,
            latencies_us,
        }
    }

    fn p(&self, p: f64) -> f64 {
        support::percentile_ms(&self.latencies_us, p)
    }

    fn text(&self) -> String {
        format!(
            "{}: {} × p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
            self.label,
            self.latencies_us.len(),
            self.p(50.0),
            self.p(99.0),
            self.p(100.0)
        )
    }
}

fn micros(t: Instant) -> u32 {
    u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// Records entries `from + 1 ..= to` of the journal: receipts of 2 and ships of 1 by SKU
/// into the product's bin, alternately, each `Replica::record` timed.
fn record(
    replica: &mut Replica,
    world: &World,
    rng: &mut Rng,
    from: usize,
    to: usize,
) -> Result<Series> {
    let mut latencies = Vec::with_capacity(to - from);
    for k in from..to {
        let item = &world.items[rng.below(world.items.len())];
        let op = if k % 2 == 0 {
            Op::Receive {
                to: item.bin.clone(),
                qty: 2,
            }
        } else {
            Op::Ship {
                from: item.bin.clone(),
                qty: 1,
            }
        };
        let action = Action {
            expires_on: None,
            item: ItemRef::Sku(item.sku.clone()),
            lot: None,
            warehouse: None,
            op,
            reference: None,
        };
        let t = Instant::now();
        replica.record(&action).context("record failed")?;
        latencies.push(micros(t));
    }
    let series = Series::new(format!("record, {from} → {to} pending"), latencies);
    eprintln!("  {}", series.text());
    Ok(series)
}

/// The same number of bare SQLite transactions, each inserting one journal-sized row
/// (the JSON of a movement) and committing, in WAL with `synchronous=FULL`, in a file
/// beside the replica: the floor under `record`.
fn raw_sqlite_inserts(dir: &Path, n: usize) -> Result<Series> {
    let mut conn = rusqlite::Connection::open(dir.join("raw.db"))?;
    conn.execute_batch(
        "pragma journal_mode = wal; pragma synchronous = full;
         create table journal (seq integer primary key, id text not null, movement text not null);",
    )?;
    let json = "x".repeat(400);
    let mut latencies = Vec::with_capacity(n);
    for k in 0..n {
        let t = Instant::now();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "insert into journal (seq, id, movement) values (?1, ?2, ?3)",
            rusqlite::params![k as i64 + 1, Uuid::now_v7().to_string(), json],
        )?;
        tx.commit()?;
        latencies.push(micros(t));
    }
    let series = Series::new("bare SQLite insert + commit".to_owned(), latencies);
    eprintln!("  {}", series.text());
    Ok(series)
}

/// One level of stock searches: each kind [`SEARCHES`] times, with `pending` unsettled
/// journal entries for the projection to replay.
#[derive(Debug)]
struct SearchLevel {
    pending: usize,
    kinds: Vec<(Series, usize)>,
}

fn search(replica: &Replica, world: &World, rng: &mut Rng, pending: usize) -> Result<SearchLevel> {
    let status = replica.status().context("status failed")?;
    ensure!(
        status.pending == pending as u64,
        "the replica has {} pending entries, {pending} expected",
        status.pending
    );
    type MakeSearch = fn(&Item) -> Search;
    let kinds: [(&str, MakeSearch); 3] = [
        // "SKU0123" names a hundred SKUs at full size.
        ("SKU prefix", |i| Search::SkuPrefix(i.sku[..7].to_owned())),
        // "<word> <material>": one product in forty.
        ("name", |i| {
            Search::Name(
                i.name
                    .rsplit_once(' ')
                    .map_or(&*i.name, |(a, _)| a)
                    .to_lowercase(),
            )
        }),
        ("barcode", |i| Search::Barcode(i.barcode.clone())),
    ];
    let mut level = SearchLevel {
        pending,
        kinds: Vec::new(),
    };
    for (label, make) in kinds {
        let mut latencies = Vec::with_capacity(SEARCHES);
        let mut lines = 0;
        for _ in 0..SEARCHES {
            let item = &world.items[rng.below(world.items.len())];
            let query = StockQuery {
                search: Some(make(item)),
                ..StockQuery::default()
            };
            let t = Instant::now();
            let found = replica.stock(&query).context("stock failed")?;
            latencies.push(micros(t));
            ensure!(
                !found.is_empty(),
                "the {label} search for {} found nothing",
                item.sku
            );
            lines += found.len();
        }
        let series = Series::new(format!("search by {label}, {pending} pending"), latencies);
        eprintln!(
            "  {} ({} lines on average)",
            series.text(),
            lines / SEARCHES
        );
        level.kinds.push((series, lines / SEARCHES));
    }
    Ok(level)
}

/// A journal of `n` movements for `device`: receipts of 2 and ships of 1, alternately,
/// each on the stock row of a random product, as the replica stamps them.
fn journal_of(
    world: &World,
    device: &Device,
    n: usize,
    rng: &mut Rng,
    clock: &mut Clock,
) -> Vec<Movement> {
    (1..=n)
        .map(|seq| {
            let item = &world.items[rng.below(world.items.len())];
            let at = clock.tick();
            let bin = LocationId::from_uuid(item.location);
            let kind = if seq % 2 == 1 {
                MovementKind::Receive {
                    to: bin,
                    qty: PositiveQty::new(2).expect("2 is positive"),
                }
            } else {
                MovementKind::Ship {
                    from: bin,
                    qty: PositiveQty::new(1).expect("1 is positive"),
                }
            };
            stamped(world, device, seq, at, item.product, kind, rng)
        })
        .collect()
}

/// A journal movement of `device` as the replica stamps it.
fn stamped(
    world: &World,
    device: &Device,
    seq: usize,
    at: DateTime<Utc>,
    product: Uuid,
    kind: MovementKind,
    rng: &mut Rng,
) -> Movement {
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&rng.next().to_le_bytes());
    random[8..].copy_from_slice(&rng.next().to_le_bytes()[..2]);
    Movement {
        id: MovementId::new_v7(u64::try_from(at.timestamp_millis()).unwrap_or(0), random),
        occurred_at: at,
        product: ProductId::from_uuid(product),
        lot: None,
        kind,
        user: UserId::from_uuid(world.user_id),
        device: Some(DeviceStamp {
            device: DeviceId::from_uuid(device.id),
            seq: seq as u64,
        }),
        reference: None,
    }
}

/// Issue #20's scenario: a shipping device pushes `n` ships of 1 from an empty bin (all
/// held), then the receiving device pushes the `n` receipts of 1 that physically came
/// first; each batch of receipts wakes as many ships. Measured: the receipts' push,
/// against the plain push of a journal of the same size (`plain`, movements/s).
#[allow(clippy::too_many_arguments)]
async fn wake_case(
    http: &reqwest::Client,
    server: &Server,
    operator: &str,
    owner: &PgPool,
    world: &World,
    case: usize,
    n: usize,
    plain: f64,
    rng: &mut Rng,
    clock: &mut Clock,
) -> Result<WakeCase> {
    // A product at a bin where it has no stock: product `case`'s row is at its own bin,
    // and the next item's bin is another one.
    let product = world.items[case].product;
    let bin = LocationId::from_uuid(world.items[case + 1].location);
    let shipper =
        support::register_device(http, &server.base, operator, world.warehouse_id, "ships").await?;
    let receiver =
        support::register_device(http, &server.base, operator, world.warehouse_id, "receipts")
            .await?;
    let qty = PositiveQty::new(1).expect("1 is positive");
    let receipts: Vec<Movement> = (1..=n)
        .map(|seq| {
            let at = clock.tick();
            stamped(
                world,
                &receiver,
                seq,
                at,
                product,
                MovementKind::Receive { to: bin, qty },
                rng,
            )
        })
        .collect();
    let ships: Vec<Movement> = (1..=n)
        .map(|seq| {
            let at = clock.tick();
            stamped(
                world,
                &shipper,
                seq,
                at,
                product,
                MovementKind::Ship { from: bin, qty },
                rng,
            )
        })
        .collect();
    let url = format!("{}/v1/sync/push", server.base);
    let bodies = |device: &Device, ms: &[Movement]| -> Result<Vec<Vec<u8>>> {
        ms.chunks(PUSH_BATCH_MAX)
            .map(|chunk| {
                serde_json::to_vec(&PushRequest {
                    device: DeviceId::from_uuid(device.id),
                    lots: Vec::new(),
                    movements: chunk
                        .iter()
                        .map(|m| PushedMovement {
                            movement: *m,
                            base_cursor: None,
                        })
                        .collect(),
                })
                .context("failed to serialise a push")
            })
            .collect()
    };
    let mut held = PushRun {
        movements: n,
        ..PushRun::default()
    };
    for body in bodies(&shipper, &ships)? {
        let start = Instant::now();
        push_batch(http, &url, &shipper, body, &mut held.outcomes).await?;
        held.batch_times.push(start.elapsed());
        held.elapsed += start.elapsed();
    }
    let mut woke = PushRun {
        movements: n,
        ..PushRun::default()
    };
    for body in bodies(&receiver, &receipts)? {
        let db_before = support::backend_cpu(owner).await?;
        let start = Instant::now();
        push_batch(http, &url, &receiver, body, &mut woke.outcomes).await?;
        woke.batch_times.push(start.elapsed());
        woke.elapsed += start.elapsed();
        woke.db_cpu +=
            support::backend_cpu_between(&db_before, &support::backend_cpu(owner).await?);
    }
    let still_held: i64 = sqlx::query_scalar(
        "select count(*) from movement where tenant_id = $1 and outcome = 'held'",
    )
    .bind(world.tenant_id)
    .fetch_one(owner)
    .await
    .context("failed to count held movements")?;
    Ok(WakeCase {
        n,
        held,
        woke,
        plain,
        still_held,
    })
}

/// The held-wake scenario's measures.
#[derive(Debug)]
struct WakeCase {
    n: usize,
    /// The ships' push (all held).
    held: PushRun,
    /// The receipts' push, waking the ships.
    woke: PushRun,
    /// The plain push of a journal of the same size, movements/s.
    plain: f64,
    /// Held movements left afterwards (should be 0).
    still_held: i64,
}

impl WakeCase {
    fn ratio(&self) -> f64 {
        self.woke.per_sec() / self.plain.max(f64::MIN_POSITIVE)
    }

    fn text(&self) -> String {
        format!(
            "{} ships pushed in {:.2} s (outcomes {:?}); {} receipts waking them: {:.0}/s ({:.2} s, {}; PostgreSQL {:.2} s), outcomes {:?}; plain push {:.0}/s; ratio {:.3}; held afterwards {}",
            self.n,
            self.held.elapsed.as_secs_f64(),
            self.held.outcomes,
            self.n,
            self.woke.per_sec(),
            self.woke.elapsed.as_secs_f64(),
            self.woke.batches_text(),
            self.woke.db_cpu.as_secs_f64(),
            self.woke.outcomes,
            self.plain,
            self.ratio(),
            self.still_held,
        )
    }
}

/// One side of a push case.
#[derive(Debug, Default)]
struct PushRun {
    elapsed: Duration,
    movements: usize,
    batches: usize,
    /// Outcomes by name (API) — every one should be `applied`.
    outcomes: BTreeMap<String, usize>,
    /// The largest request body, in bytes (API).
    largest_body: usize,
    /// CPU used meanwhile by the server process (API) and by the database's backends.
    server_cpu: Option<Duration>,
    db_cpu: Duration,
    /// Each batch's time, in order.
    batch_times: Vec<Duration>,
}

impl PushRun {
    fn per_sec(&self) -> f64 {
        self.movements as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// The batches' times: first, median and slowest, in milliseconds.
    fn batches_text(&self) -> String {
        let mut sorted = self.batch_times.clone();
        sorted.sort_unstable();
        let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
        format!(
            "batches first {:.0} / median {:.0} / max {:.0} ms",
            ms(self.batch_times.first()),
            ms(sorted.get(sorted.len() / 2)),
            ms(sorted.last()),
        )
    }
}

#[derive(Debug)]
struct PushCase {
    movements: usize,
    api: PushRun,
    base: PushRun,
}

impl PushCase {
    fn ratio(&self) -> f64 {
        self.api.per_sec() / self.base.per_sec().max(f64::MIN_POSITIVE)
    }

    fn text(&self) -> String {
        format!(
            "{} movements: API {:.0}/s ({:.2} s, {}; CPU server {:?}, PostgreSQL {:.2} s), baseline {:.0}/s ({:.2} s, {}; PostgreSQL {:.2} s), ratio {:.3}; outcomes {:?}",
            self.movements,
            self.api.per_sec(),
            self.api.elapsed.as_secs_f64(),
            self.api.batches_text(),
            self.api.server_cpu,
            self.api.db_cpu.as_secs_f64(),
            self.base.per_sec(),
            self.base.elapsed.as_secs_f64(),
            self.base.batches_text(),
            self.base.db_cpu.as_secs_f64(),
            self.ratio(),
            self.api.outcomes
        )
    }
}

/// Pushes the journal through the API and books it again with the baseline, batch by
/// batch in turn (API batch 1, baseline batch 1, API batch 2, …), so that both sides see
/// the same load from whatever else runs on the machine. The API side posts each batch
/// as the device's sync does, one request after the other, with bodies serialised before
/// the clock starts; each side's time is the sum of its batches.
async fn push_case(
    http: &reqwest::Client,
    server: &Server,
    owner: &PgPool,
    world: &World,
    device: &Device,
    journal: &[Movement],
    clock: &mut Clock,
) -> Result<PushCase> {
    let mut bodies = Vec::new();
    for chunk in journal.chunks(PUSH_BATCH_MAX) {
        let request = PushRequest {
            device: DeviceId::from_uuid(device.id),
            lots: Vec::new(),
            movements: chunk
                .iter()
                .map(|m| PushedMovement {
                    movement: *m,
                    base_cursor: None,
                })
                .collect(),
        };
        bodies.push(serde_json::to_vec(&request).context("failed to serialise a push")?);
    }
    let rows = baseline_rows(journal, clock);
    let url = format!("{}/v1/sync/push", server.base);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*owner.connect_options()).clone())
        .await
        .context("failed to connect the baseline")?;
    let baseline_device = Uuid::now_v7();
    let mut api = PushRun {
        movements: journal.len(),
        batches: bodies.len(),
        largest_body: bodies.iter().map(Vec::len).max().unwrap_or(0),
        server_cpu: Some(Duration::ZERO),
        ..PushRun::default()
    };
    let mut base = PushRun {
        movements: rows.len(),
        batches: rows.len().div_ceil(PUSH_BATCH_MAX),
        ..PushRun::default()
    };
    for (b, (body, batch)) in bodies
        .into_iter()
        .zip(rows.chunks(PUSH_BATCH_MAX))
        .enumerate()
    {
        let server_before = server.cpu_time();
        let db_before = support::backend_cpu(owner).await?;
        let start = Instant::now();
        push_batch(http, &url, device, body, &mut api.outcomes).await?;
        api.batch_times.push(start.elapsed());
        api.elapsed += start.elapsed();
        let db_after = support::backend_cpu(owner).await?;
        api.db_cpu += support::backend_cpu_between(&db_before, &db_after);
        api.server_cpu = match (api.server_cpu, server_before, server.cpu_time()) {
            (Some(sum), Some(before), Some(after)) => Some(sum + after.saturating_sub(before)),
            _ => None,
        };

        let start = Instant::now();
        baseline_batch(&pool, world, baseline_device, b * PUSH_BATCH_MAX, batch).await?;
        base.batch_times.push(start.elapsed());
        base.elapsed += start.elapsed();
        base.db_cpu += support::backend_cpu_between(&db_after, &support::backend_cpu(owner).await?);
    }
    pool.close().await;
    Ok(PushCase {
        movements: journal.len(),
        api,
        base,
    })
}

/// Posts one `PushRequest` body and counts the outcomes of its answer.
async fn push_batch(
    http: &reqwest::Client,
    url: &str,
    device: &Device,
    body: Vec<u8>,
    outcomes: &mut BTreeMap<String, usize>,
) -> Result<()> {
    let answer = support::push(http, url, device, body).await?;
    for result in &answer.results {
        *outcomes
            .entry(result.outcome.name().to_string())
            .or_default() += 1;
    }
    Ok(())
}

/// One journal movement as the baseline books it: new id, later time (as another
/// device's journal on the same rows), and its row's delta.
#[derive(Debug)]
struct BaseMovement {
    product: Uuid,
    from: Option<Uuid>,
    to: Option<Uuid>,
    location: Uuid,
    kind: &'static str,
    qty: i64,
    delta: i64,
    id: Uuid,
    at: DateTime<Utc>,
}

fn baseline_rows(journal: &[Movement], clock: &mut Clock) -> Vec<BaseMovement> {
    journal
        .iter()
        .map(|m| {
            let at = clock.tick();
            let (kind, from, to, location, qty, delta) = match m.kind {
                MovementKind::Receive { to, qty } => (
                    "receive",
                    None,
                    Some(to.as_uuid()),
                    to.as_uuid(),
                    qty.get(),
                    qty.get(),
                ),
                MovementKind::Ship { from, qty } => (
                    "ship",
                    Some(from.as_uuid()),
                    None,
                    from.as_uuid(),
                    qty.get(),
                    -qty.get(),
                ),
                _ => unreachable!("the bench journal holds receipts and ships"),
            };
            BaseMovement {
                product: m.product.as_uuid(),
                from,
                to,
                location,
                kind,
                qty,
                delta,
                id: Uuid::now_v7(),
                at,
            }
        })
        .collect()
}

/// The raw batched-SQL baseline for one batch: one transaction of four set-based
/// statements on one connection as the owner (no RLS, no device, no audit, no outbox):
/// lock the batch's rows in key order, update them from arrays, insert the movements and
/// their effects from arrays. `before` movements of this journal precede the batch.
async fn baseline_batch(
    pool: &PgPool,
    world: &World,
    device: Uuid,
    before: usize,
    batch: &[BaseMovement],
) -> Result<()> {
    let tenant = world.tenant_id;
    let nil = Uuid::nil();
    // Several movements of a batch may share a row: one update per row, with the sum of
    // their deltas and the latest one's order key.
    let mut per_row: BTreeMap<(Uuid, Uuid), (i64, DateTime<Utc>, Uuid)> = BTreeMap::new();
    for r in batch {
        let e = per_row
            .entry((r.product, r.location))
            .or_insert((0, r.at, r.id));
        e.0 += r.delta;
        e.1 = r.at;
        e.2 = r.id;
    }
    let products: Vec<Uuid> = per_row.keys().map(|k| k.0).collect();
    let locations: Vec<Uuid> = per_row.keys().map(|k| k.1).collect();
    let lots = vec![nil; per_row.len()];
    let mut tx = pool.begin().await?;
    let locked: Vec<(i64,)> = sqlx::query_as(
        "select s.on_hand from stock_row s
         where s.tenant_id = $1 and (s.product_id, s.location_id, s.lot_id) in
               (select * from unnest($2::uuid[], $3::uuid[], $4::uuid[]))
         order by s.product_id, s.location_id, s.lot_id
         for update",
    )
    .bind(tenant)
    .bind(&products)
    .bind(&locations)
    .bind(&lots)
    .fetch_all(&mut *tx)
    .await
    .context("baseline: lock")?;
    ensure!(locked.len() == per_row.len(), "baseline: a row is missing");
    sqlx::query(
        "update stock_row s
         set on_hand = s.on_hand + u.delta, last_effect_at = u.at, last_effect_id = u.id,
             updated_at = now()
         from unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::timestamptz[],
                     $7::uuid[]) as u (product_id, location_id, lot_id, delta, at, id)
         where s.tenant_id = $1 and s.product_id = u.product_id
           and s.location_id = u.location_id and s.lot_id = u.lot_id",
    )
    .bind(tenant)
    .bind(&products)
    .bind(&locations)
    .bind(&lots)
    .bind(per_row.values().map(|v| v.0).collect::<Vec<_>>())
    .bind(per_row.values().map(|v| v.1).collect::<Vec<_>>())
    .bind(per_row.values().map(|v| v.2).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .context("baseline: update")?;
    sqlx::query(
        "insert into movement (tenant_id, id, kind, origin, product_id, from_location_id,
                               to_location_id, qty, occurred_at, user_id, device_id,
                               device_seq, outcome)
         select $1, m.id, m.kind, 'journal', m.product_id, m.from_id, m.to_id, m.qty,
                m.occurred_at, $2, $3, $4 + m.n, 'applied'
         from unnest($5::uuid[], $6::text[], $7::uuid[], $8::uuid[], $9::uuid[],
                     $10::bigint[], $11::timestamptz[]) with ordinality
              as m (id, kind, product_id, from_id, to_id, qty, occurred_at, n)",
    )
    .bind(tenant)
    .bind(world.user_id)
    .bind(device)
    .bind(before as i64)
    .bind(batch.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.kind).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.product).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.from).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.to).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.qty).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.at).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .context("baseline: insert movements")?;
    sqlx::query(
        "insert into movement_effect (tenant_id, product_id, location_id, lot_id,
                                      occurred_at, movement_id, delta)
         select $1, e.product_id, e.location_id, $2, e.occurred_at, e.movement_id, e.delta
         from unnest($3::uuid[], $4::uuid[], $5::timestamptz[], $6::uuid[], $7::bigint[])
              as e (product_id, location_id, occurred_at, movement_id, delta)",
    )
    .bind(tenant)
    .bind(nil)
    .bind(batch.iter().map(|r| r.product).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.location).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.at).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.delta).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .context("baseline: insert effects")?;
    tx.commit().await.context("baseline: commit")?;
    Ok(())
}

/// Everything measured, for the table and the document.
#[derive(Debug, Default)]
struct Report {
    size: usize,
    snapshot: Option<Snapshot>,
    records: Vec<Series>,
    record_base: Option<Series>,
    searches: Vec<SearchLevel>,
    pushes: Vec<PushCase>,
    wakes: Vec<WakeCase>,
    ledger_violations: usize,
    outcome_violations: usize,
}

/// Thousands separated by commas, as the issue writes them.
fn n(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

impl Report {
    fn table(&self) -> String {
        let mut t = String::new();
        t.push_str("| measure | work | LogiFlow | baseline | target |\n");
        t.push_str("|:--|:--|--:|--:|:--|\n");
        for c in &self.pushes {
            let _ = writeln!(
                t,
                "| push, `POST /v1/sync/push` | {} movements in {} batches | {} movements/s | {} movements/s | ratio **{:.3}**, ≥ 0.5: {} |",
                n(c.movements as f64),
                c.api.batches,
                n(c.api.per_sec()),
                n(c.base.per_sec()),
                c.ratio(),
                verdict(c.ratio() >= 0.5),
            );
        }
        for w in &self.wakes {
            let _ = writeln!(
                t,
                "| waking held movements, `POST /v1/sync/push` | {} receipts waking {} held ships, {} batches | {} movements/s | plain push {} movements/s | ratio **{:.3}**, ≥ 0.5: {} |",
                n(w.n as f64),
                n(w.n as f64),
                w.woke.batch_times.len(),
                n(w.woke.per_sec()),
                n(w.plain),
                w.ratio(),
                verdict(w.ratio() >= 0.5 && w.still_held == 0),
            );
        }
        if let Some(s) = &self.snapshot {
            let _ = writeln!(
                t,
                "| snapshot to a new replica, pull + `apply_pull` | {} stock rows ({} items, {} pages) | **{} rows/s** ({} items/s) | — | ≥ 50,000 rows/s: {} |",
                n(s.rows as f64),
                n(s.items as f64),
                s.pages,
                n(s.rows_per_sec()),
                n(s.items as f64 / s.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)),
                verdict(s.rows_per_sec() >= 50_000.0),
            );
        }
        let base = self.record_base.as_ref().map_or_else(String::new, |b| {
            format!("{:.2} / {:.2} ms", b.p(50.0), b.p(99.0))
        });
        for r in &self.records {
            let _ = writeln!(
                t,
                "| `Replica::record`, synchronous=FULL, p50 / p99 | {} records, {} | {:.2} / **{:.2}** ms | {base} | p99 < 5 ms: {} |",
                r.latencies_us.len(),
                r.label.trim_start_matches("record, "),
                r.p(50.0),
                r.p(99.0),
                verdict(r.p(99.0) < 5.0),
            );
        }
        for level in &self.searches {
            for (s, lines) in &level.kinds {
                let _ = writeln!(
                    t,
                    "| `Replica::stock` {}, p50 / p99 | {} queries, {} pending, ~{} lines each | {:.2} / **{:.2}** ms | — | p99 < 20 ms: {} |",
                    s.label.split(',').next().unwrap_or_default(),
                    s.latencies_us.len(),
                    level.pending,
                    lines,
                    s.p(50.0),
                    s.p(99.0),
                    verdict(s.p(99.0) < 20.0),
                );
            }
        }
        t
    }

    fn section(&self, machine: &Machine, table: &str) -> String {
        let snap = self.snapshot.as_ref().map_or_else(String::new, |s| {
            format!(
                "- Snapshot breakdown: {:.2} s in all, of which HTTP (server and transfer of \
                 {:.1} MB of JSON) {:.2} s, parsing {:.2} s, `apply_pull` {:.2} s\n",
                s.elapsed.as_secs_f64(),
                s.bytes as f64 / 1e6,
                s.http.as_secs_f64(),
                s.parse.as_secs_f64(),
                s.apply.as_secs_f64()
            )
        });
        let pushes: String = self
            .pushes
            .iter()
            .map(|c| {
                format!(
                    "- Push of {}: API {:.2} s ({}; CPU meanwhile: server process {}, \
                     PostgreSQL client backends {:.2} s), baseline {:.2} s ({}; backends \
                     {:.2} s); outcomes {}; largest request {:.0} kB\n",
                    n(c.movements as f64),
                    c.api.elapsed.as_secs_f64(),
                    c.api.batches_text(),
                    c.api.server_cpu.map_or_else(
                        || "unknown".to_owned(),
                        |t| format!("{:.2} s", t.as_secs_f64())
                    ),
                    c.api.db_cpu.as_secs_f64(),
                    c.base.elapsed.as_secs_f64(),
                    c.base.batches_text(),
                    c.base.db_cpu.as_secs_f64(),
                    c.api
                        .outcomes
                        .iter()
                        .map(|(k, v)| format!("{k} × {}", n(*v as f64)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    c.api.largest_body as f64 / 1e3
                )
            })
            .collect();
        let wakes: String = self
            .wakes
            .iter()
            .map(|w| format!("- Held wake: {}\n", w.text()))
            .collect();
        let full = if self.size == SIZE_MAX {
            String::new()
        } else {
            format!(
                " **Reduced run: {SIZE_VAR}={}, not the issue's 100,000.**",
                self.size
            )
        };
        format!(
            "{HEADING}\n\
             \n\
             Written by `cargo xtask bench sync` (crates/server/benches/sync.rs).{full}\n\
             \n\
             - Date: {date}\n\
             - Machine: {cpu}, {cores} cores (`nproc`), {memory} of memory, shared by the \
             server, PostgreSQL, SQLite and the bench (load average {load} at the end, which \
             counts other work on the machine)\n\
             - PostgreSQL: {postgres} (a throwaway cluster: `synchronous_commit = off`, \
             `shared_buffers = 128MB`, otherwise defaults); SQLite: the replica's own \
             (bundled, WAL, `synchronous=FULL`) on the temp directory's file system\n\
             - Data: one warehouse of {locations} bins, {size} products (SKU, name, one EAN-13) \
             with one stock row each (on_hand {on_hand}, its receipt in the ledger); seeded \
             with set-based SQL as the owner. The server: the release `logiflow-server` as a \
             separate process, 8 pool connections, `RUST_LOG=warn`; each device registered \
             through `POST /v1/devices` and calling with its own session's JWT\n\
             - Push: a journal of receipts (2) and ships (1) on random rows, stamped as the \
             replica stamps them (UUIDv7, consecutive `device_seq`, increasing times), sent as \
             `PushRequest`s of {batch} built and serialised before the clock starts, one \
             request after the other; movements/s = journal ÷ the summed time from each request \
             to its answer, parsed. Baseline: the same movements on the same rows, batches of \
             {batch}, each one transaction on one connection as the owner (no RLS) of \
             `select … order by key for update` (all rows), `update … from unnest(…)`, \
             `insert into movement … select … unnest(…)`, `insert into movement_effect … \
             select … unnest(…)`. The API additionally locks the device, loads held movements, \
             catalog facts and the ledger tail, decides each movement with `core::Engine`, \
             writes the device's sequence and an audit entry (and outbox events, which a tenant \
             without webhook endpoints, as here, does not write), and creates \
             missing rows in a transaction of its own. The two sides take turns batch by batch \
             (API batch 1, baseline batch 1, API batch 2, …) so both see the same load from \
             other work on the machine; ratio = API ÷ baseline. CPU of the server process \
             (/proc) and of the database's backends is summed over each side's batches\n\
             - Snapshot: a new replica file, a device pulling `GET /v1/sync/pull` from no cursor \
             (default limit) and `Replica::apply_pull` of each page until `has_more` is false; \
             rows/s = stock rows ÷ the whole loop (catalog pages included)\n\
             - Record: `Replica::record` by SKU (receipts of 2, ships of 1, alternately, random \
             products) on the snapshot replica, with the pending journal growing as it goes \
             (`record` replays its product's pending entries to tell the projected outcome); baseline: a \
             bare SQLite transaction (`begin immediate`, one insert of a 400-byte row, \
             `commit`) in WAL with `synchronous=FULL`, same count, same directory\n\
             - Search: `Replica::stock` (default limit 200) by SKU prefix (`SKU0123`: a hundred \
             SKUs at full size), by name (`<word> <material>`: one product in forty) and by an \
             exact barcode, {searches} queries of each, with 0, then {few}, then all the \
             recorded entries pending\n\
             - Held wake (issue #20): a shipping device pushes N ships of 1 from a bin where \
             the product has no stock (all held), then a receiving device pushes the N \
             receipts of 1 that physically came first, in batches of {batch}; each batch wakes \
             as many ships. Measured: the receipts' push, movements/s as above, against the \
             plain push of the same size (the push row above); target ≥ 0.5\n\
             {snap}{pushes}{wakes}\
             - Ledger check after the run (every stock row equals the sum of its effects): \
             {violations} violations; outcomes that disagree with their effects: \
             {outcome_violations}\n\
             \n\
             {table}\n\
             Reproduce: `cargo xtask bench sync` (`{SIZE_VAR}=N` for N products, stock rows and \
             journal movements, {min} to {max}; a quick run: N = 10000).\n",
            date = machine.date,
            cpu = machine.cpu,
            cores = machine.cores,
            memory = machine.memory,
            load = machine.load,
            postgres = machine.postgres,
            locations = n(LOCATIONS as f64),
            size = n(self.size as f64),
            on_hand = ON_HAND,
            batch = n(PUSH_BATCH_MAX as f64),
            searches = SEARCHES,
            few = FEW_PENDING,
            violations = self.ledger_violations,
            outcome_violations = self.outcome_violations,
            min = n(SIZE_MIN as f64),
            max = n(SIZE_MAX as f64),
        )
    }
}
