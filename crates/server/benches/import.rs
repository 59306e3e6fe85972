//! The import benchmark of `cargo xtask bench import` (issue #16): 100,000 products (SKU,
//! name, barcode, two custom fields) imported through the release server's API, from a
//! CSV and from an XLSX, each uploaded, validated and committed.
//!
//! It needs a PostgreSQL it may create a database in: `LOGIFLOW_BENCH_DATABASE_URL` (a
//! superuser URL; `cargo xtask bench import` starts a throwaway cluster and sets it).
//! Without it, it says so and exits successfully. The process shell, the database, the
//! server process and the report file are `support`'s.
//!
//! Steps: a fresh database, the release `logiflow-server`, a tenant whose plan allows a
//! million products, an admin, and a product field schema with two custom fields; then
//! 1. baseline: this process reads the same files with the server's own reader
//!    (`bulk::formats::read`: what the formats cost) and inserts the same 100,000 rows
//!    into a scratch table with one set-based statement (what PostgreSQL needs at least);
//! 2. CSV: upload, poll the job until its preview is ready, commit: each step's time,
//!    and the server's resident memory before and at its peak (`VmHWM`);
//! 3. XLSX: the same with 100,000 other SKUs;
//! 4. the CSV again: every row `unchanged`, the commit writes nothing but its audit
//!    entry.
//!
//! Every job must preview its rows as expected with no error, and the catalog must hold
//! both files' products at the end. The server is killed and the database dropped on
//! every exit path.

mod support;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use logiflow_server::admin;
use logiflow_server::bulk::formats::{self, Format, ReadLimits};
use logiflow_server::rbac::Role;
use sqlx::postgres::{PgPool, PgPoolOptions};

use support::{BenchDb, Machine, Server};

/// The heading of this bench's section of docs/benchmarks.md.
const HEADING: &str = "## Import: 100,000 products";
/// Products per file (`LOGIFLOW_BENCH_IMPORT_ROWS` lowers it for a quick run).
const ROWS_DEFAULT: usize = 100_000;
const ROWS_MIN: usize = 1_000;
/// Longest a job may take to validate or commit before the bench gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(300);
const ADMIN_EMAIL: &str = "admin@bench.example";
/// The targets: validate + commit of each file, and the server's memory growth.
const SECONDS_TARGET: f64 = 20.0;
const MEMORY_TARGET_MB: f64 = 200.0;

fn main() -> ExitCode {
    support::main(
        "import",
        "cargo xtask bench import",
        |admin_url| async move { run(&admin_url).await },
    )
}

fn rows() -> Result<usize> {
    match std::env::var("LOGIFLOW_BENCH_IMPORT_ROWS") {
        Err(_) => Ok(ROWS_DEFAULT),
        Ok(v) => {
            let n: usize = v
                .parse()
                .context("LOGIFLOW_BENCH_IMPORT_ROWS is not a number")?;
            ensure!(
                (ROWS_MIN..=ROWS_DEFAULT).contains(&n),
                "LOGIFLOW_BENCH_IMPORT_ROWS must be {ROWS_MIN} to {ROWS_DEFAULT}"
            );
            Ok(n)
        }
    }
}

/// One generated product: (sku, name, barcode, color, weight_g).
fn product(prefix: &str, i: usize) -> (String, String, String, String, String) {
    // A valid EAN-13: 12 digits and their check digit.
    let body = format!("{}{:011}", if prefix == "CSV" { 2 } else { 3 }, i);
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(k, b)| u32::from(b - b'0') * if k % 2 == 0 { 1 } else { 3 })
        .sum();
    let check = (10 - sum % 10) % 10;
    (
        format!("{prefix}-{i:06}"),
        format!("Product {prefix} number {i}"),
        format!("{body}{check}"),
        ["red", "green", "blue", "black"][i % 4].to_owned(),
        (100 + i % 900).to_string(),
    )
}

const HEADER: [&str; 5] = ["sku", "name", "barcodes", "custom.color", "custom.weight_g"];

fn csv_file(n: usize) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(n * 64));
    w.write_record(HEADER)?;
    for i in 0..n {
        let (sku, name, barcode, color, weight) = product("CSV", i);
        w.write_record([sku, name, barcode, color, weight])?;
    }
    w.into_inner().context("failed to finish the CSV")
}

fn xlsx_file(n: usize) -> Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h)?;
    }
    for i in 0..n {
        let (sku, name, barcode, color, weight) = product("XLSX", i);
        let r = u32::try_from(i + 1)?;
        sheet.write_string(r, 0, sku)?;
        sheet.write_string(r, 1, name)?;
        sheet.write_string(r, 2, barcode)?;
        sheet.write_string(r, 3, color)?;
        // A number, as a spreadsheet user types it.
        sheet.write_number(r, 4, weight.parse::<f64>()?)?;
    }
    Ok(book.save_to_buffer()?)
}

/// One import's figures.
#[derive(Debug)]
struct Case {
    name: &'static str,
    bytes: usize,
    upload: Duration,
    validate: Duration,
    commit: Duration,
    /// Server memory: resident before the upload, peak (`VmHWM`) after the commit.
    rss_before: u64,
    peak_after: u64,
    /// (to_create, to_update, unchanged, errors) of the preview.
    counts: [i64; 4],
}

impl Case {
    fn total(&self) -> Duration {
        self.upload + self.validate + self.commit
    }
}

async fn run(admin_url: &str) -> Result<()> {
    let n = rows()?;
    let database = BenchDb::create(admin_url).await?;
    let owner = PgPoolOptions::new()
        .max_connections(4)
        .connect(&database.url)
        .await
        .context("failed to connect to the bench database")?;
    let server = Server::start(&database.url, 16).await?;
    eprintln!("import bench: logiflow-server ready on {}", server.base);
    support::tenant(&owner).await?;
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
    let http = reqwest::Client::builder().timeout(STEP_TIMEOUT).build()?;
    support::json_ok(
        http.patch(format!("{}/v1/settings", server.base))
            .bearer_auth(&token)
            .json(&serde_json::json!({"product_field_schema": {
                "type": "object", "properties": {
                    "color": {"type": "string", "maxLength": 20},
                    "weight_g": {"type": "integer", "minimum": 0}}}}))
            .send()
            .await?,
        "set the product field schema",
    )
    .await?;

    let csv = csv_file(n)?;
    let xlsx = xlsx_file(n)?;
    eprintln!(
        "import bench: {n} rows, CSV {} KB, XLSX {} KB",
        csv.len() / 1024,
        xlsx.len() / 1024
    );
    let baseline = baseline(&owner, &csv, &xlsx, n).await?;

    let ctx = Ctx {
        http: &http,
        server: &server,
        token: &token,
    };
    let first = ctx
        .import("CSV", &csv, Format::Csv, [n as i64, 0, 0, 0])
        .await?;
    let second = ctx
        .import("XLSX", &xlsx, Format::Xlsx, [n as i64, 0, 0, 0])
        .await?;
    let again = ctx
        .import("CSV again", &csv, Format::Csv, [0, 0, n as i64, 0])
        .await?;
    let products: i64 = sqlx::query_scalar("select count(*) from product")
        .fetch_one(&owner)
        .await?;
    ensure!(
        products == 2 * n as i64,
        "the catalog should hold {} products, found {products}",
        2 * n
    );

    let machine = Machine::gather(&owner).await;
    let cases = [first, second, again];
    let table = table(&baseline, &cases);
    println!("\n{table}");
    let path = support::write_section(HEADING, &section(&machine, n, &table, &cases))?;
    println!("written to {}", path.display());
    owner.close().await;
    drop(server);
    database.drop_now().await;
    Ok(())
}

/// What reading the files and writing the rows cost without the server.
struct Baseline {
    read_csv: Duration,
    read_xlsx: Duration,
    insert: Duration,
}

async fn baseline(owner: &PgPool, csv: &[u8], xlsx: &[u8], n: usize) -> Result<Baseline> {
    let limits = ReadLimits {
        rows_max: n,
        inflated_bytes_max: 1 << 32,
    };
    let started = Instant::now();
    let table =
        formats::read(csv, Format::Csv, None, limits).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let read_csv = started.elapsed();
    ensure!(
        table.rows.len() == n,
        "the CSV reads {} rows",
        table.rows.len()
    );
    let started = Instant::now();
    let table_x =
        formats::read(xlsx, Format::Xlsx, None, limits).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let read_xlsx = started.elapsed();
    ensure!(
        table_x.rows.len() == n,
        "the XLSX reads {} rows",
        table_x.rows.len()
    );
    sqlx::query(
        "create unlogged table scratch (id uuid primary key default gen_random_uuid(),
             sku text not null unique, name text not null, barcode text not null,
             custom jsonb not null)",
    )
    .execute(owner)
    .await?;
    let column =
        |k: usize| -> Vec<String> { table.rows.iter().map(|r| r.cells[k].clone()).collect() };
    let started = Instant::now();
    sqlx::query(
        "insert into scratch (sku, name, barcode, custom)
         select s, nm, b, jsonb_build_object('color', c, 'weight_g', w::int)
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) as t(s, nm, b, c, w)",
    )
    .bind(column(0))
    .bind(column(1))
    .bind(column(2))
    .bind(column(3))
    .bind(column(4))
    .execute(owner)
    .await?;
    let insert = started.elapsed();
    sqlx::query("drop table scratch").execute(owner).await?;
    eprintln!(
        "import bench: baseline read CSV {read_csv:?}, XLSX {read_xlsx:?}, insert {insert:?}"
    );
    Ok(Baseline {
        read_csv,
        read_xlsx,
        insert,
    })
}

struct Ctx<'a> {
    http: &'a reqwest::Client,
    server: &'a Server,
    token: &'a str,
}

impl Ctx<'_> {
    async fn import(
        &self,
        name: &'static str,
        file: &[u8],
        format: Format,
        expect: [i64; 4],
    ) -> Result<Case> {
        let base = &self.server.base;
        let (rss_before, _) = self.server.memory().context("the server's memory")?;
        let (ext, content_type) = match format {
            Format::Csv => ("csv", "text/csv"),
            Format::Xlsx => (
                "xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        };
        let started = Instant::now();
        let job = support::json_ok(
            self.http
                .post(format!(
                    "{base}/v1/imports?kind=products&format={ext}&file_name=bench.{ext}"
                ))
                .bearer_auth(self.token)
                .header("content-type", content_type)
                .body(file.to_vec())
                .send()
                .await?,
            "upload",
        )
        .await?;
        let upload = started.elapsed();
        let id = job["id"].as_str().context("the job's id")?.to_owned();
        let started = Instant::now();
        let job = loop {
            let job = support::json_ok(
                self.http
                    .get(format!("{base}/v1/imports/{id}"))
                    .bearer_auth(self.token)
                    .send()
                    .await?,
                "poll the job",
            )
            .await?;
            if job["status"] != "validating" {
                break job;
            }
            if started.elapsed() > STEP_TIMEOUT {
                bail!("{name}: still validating after {STEP_TIMEOUT:?}: {job}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let validate = started.elapsed();
        let counts = ["to_create", "to_update", "unchanged", "errors"]
            .map(|k| job[k].as_i64().unwrap_or(-1));
        ensure!(
            counts == expect,
            "{name}: preview {counts:?}, expected {expect:?}: {job}"
        );
        let started = Instant::now();
        let done = support::json_ok(
            self.http
                .post(format!("{base}/v1/imports/{id}/commit"))
                .bearer_auth(self.token)
                .send()
                .await?,
            "commit",
        )
        .await?;
        let commit = started.elapsed();
        ensure!(done["status"] == "committed", "{name}: {done}");
        let (_, peak_after) = self.server.memory().context("the server's memory")?;
        let case = Case {
            name,
            bytes: file.len(),
            upload,
            validate,
            commit,
            rss_before,
            peak_after,
            counts,
        };
        eprintln!("import bench: {case:?}");
        Ok(case)
    }
}

/// `n` with thousands separators (100,000).
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn table(b: &Baseline, cases: &[Case]) -> String {
    let mut out = String::from(
        "| case | file | upload | validate | commit | total | rows/s | server RSS before → peak |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in cases {
        let rows = c.counts.iter().take(3).sum::<i64>();
        let _ = writeln!(
            out,
            "| {} | {:.1} MB | {} | {} | {} | {} | {:.0} | {:.0} → {:.0} MB |",
            c.name,
            mb(c.bytes as u64),
            secs(c.upload),
            secs(c.validate),
            secs(c.commit),
            secs(c.total()),
            rows as f64 / c.total().as_secs_f64().max(f64::MIN_POSITIVE),
            mb(c.rss_before),
            mb(c.peak_after),
        );
    }
    let _ = writeln!(
        out,
        "| baseline: read CSV / XLSX, one INSERT | – | – | {} / {} | {} | – | – | – |",
        secs(b.read_csv),
        secs(b.read_xlsx),
        secs(b.insert)
    );
    out
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn section(machine: &Machine, n: usize, table: &str, cases: &[Case]) -> String {
    let [csv, xlsx, again] = cases else {
        return String::new();
    };
    let growth = |c: &Case, from: u64| mb(c.peak_after.saturating_sub(from));
    let n = thousands(n);
    let start = csv.rss_before;
    format!(
        "{HEADING}\n\n\
         `cargo xtask bench import` (crates/server/benches/import.rs): {n} products (SKU, \
         name, an EAN-13 barcode, two custom fields checked against the tenant's schema) \
         imported through the release server's API: upload (`POST /v1/imports`), \
         validation until the preview is ready (`GET /v1/imports/{{id}}` polled), commit \
         in one transaction. The XLSX holds {n} other SKUs; the last case uploads the CSV \
         again (every row unchanged). Memory is the server process's: resident before the \
         upload, and its peak (`VmHWM`, which never goes down) after the commit. The \
         baseline is this process reading the same files with the server's reader, and \
         one set-based INSERT of the same rows into a scratch table.\n\n\
         {measured}\n\n\
         {table}\n\
         - Validate + commit: CSV {csv_t:.1} s, XLSX {xlsx_t:.1} s against the target ≤ \
         {SECONDS_TARGET:.0} s each ({v1}); the unchanged re-import {again_t:.1} s.\n\
         - Server memory growth, from before the first upload to the peak: {g1:.0} MB after \
         the CSV, {g2:.0} MB after the XLSX (cumulative) against the target < \
         {MEMORY_TARGET_MB:.0} MB ({v2}).\n\n\
         Findings when this bench was written (2026-12-06, same machine): (1) validation \
         of a file against a catalog that already held 100,000 products took 19 to 41 s \
         in most runs \
         instead of 3: once PostgreSQL used the generic plan of the prepared lookups \
         `sku = any($2)` and `barcode = any($2)`, each 5,000-row chunk searched the list \
         linearly for every product (4 s a chunk); they now join with `unnest($2)`. (2) \
         The commit spent 8.5 to 10.3 s inserting the products, against 0.5 s for the \
         same rows in the baseline: the name-trigram rows (about 13 a product) went into \
         their B-tree in random order with a speculative insertion each, and an unused \
         GIN trigram index was kept up to date; the trigram rows are now inserted in key \
         order without `on conflict` and the GIN index is gone (5.5 to 6.4 s; the \
         trigram rows are most of what is left).\n",
        measured = machine.measured(),
        csv_t = (csv.validate + csv.commit).as_secs_f64(),
        xlsx_t = (xlsx.validate + xlsx.commit).as_secs_f64(),
        again_t = (again.validate + again.commit).as_secs_f64(),
        v1 = verdict(
            (csv.validate + csv.commit).as_secs_f64() <= SECONDS_TARGET
                && (xlsx.validate + xlsx.commit).as_secs_f64() <= SECONDS_TARGET
        ),
        g1 = growth(csv, start),
        g2 = growth(xlsx, start),
        v2 = verdict(growth(xlsx, start) < MEMORY_TARGET_MB),
    )
}
