//! `cargo xtask bench`: lists the workspace's benchmarks and runs them;
//! `cargo xtask bench server`, `sync`, `orders`, `webhooks` and `import` run the benchmarks that need
//! a database against a throwaway PostgreSQL.

use std::process::ExitCode;

use std::fs;

use anyhow::{Result, bail};

use crate::packages::{self, Need};
use crate::{pg, proc, util};

const HELP: &str = "\
usage: cargo xtask bench [-- <cargo bench arguments>...]
       cargo xtask bench server
       cargo xtask bench sync
       cargo xtask bench orders
       cargo xtask bench webhooks
       cargo xtask bench import

Without an argument: lists the benchmark targets of the workspace (`benches/*.rs` or
`[[bench]]` in a crate's Cargo.toml) and runs them, and only them, with `cargo bench`,
except the server, sync, orders, webhooks and import benchmarks, which need a database.

server: starts a throwaway PostgreSQL cluster and runs `cargo bench -p logiflow-server
--bench server` against it: online movements through the HTTP API (the release server
binary, real login and JWT on every request) beside the minimal movement transaction sent
straight to PostgreSQL, at 1, 8 and 32 clients over 100k uniform and 10 hot stock rows.
Prints a table with the API/baseline ratio and writes docs/benchmarks.md. Reports, never
fails on speed; takes about 12 × (LOGIFLOW_BENCH_SECS + 1) seconds plus the build.

sync: the same cluster and server, `cargo bench -p logiflow-server --bench sync`: a
device's journal of N/10 and N movements through POST /v1/sync/push in batches of 1,000
beside the same work as raw set-based SQL (ratio), a first snapshot of N stock rows pulled
into a new replica (rows/s), Replica::record with synchronous=FULL (p50/p99) and
Replica::stock searches by SKU prefix, name and barcode over N products with pending
journal entries (p50/p99). Bounded by N; a few minutes at N = 100,000 plus the build.

orders: the same cluster and server, `cargo bench -p logiflow-server --bench orders`: the
confirmation (allocation) of 5-line sales orders at 1, 8 and 32 clients on 100k stock rows
(throughput, p50/p99), and a device's journal of 10,000 picks pushed beside 10,000 plain
ships of the same rows (movements/s and their ratio). Bounded by its counts: a few
minutes plus the build.

webhooks: the same cluster and server (its webhook worker on, loopback allowed),
`cargo bench -p logiflow-server --bench webhooks`: 10,000 outbox events committed at once
and then 10,000 committed at 500/s, delivered to a receiver on loopback (deliveries/s,
commit-to-delivery p50/p99), beside the same signed POSTs sent straight to the receiver.
Bounded by its counts (each case times out after 120 s): about a minute plus the build.

import: the same cluster and server, `cargo bench -p logiflow-server --bench import`:
100,000 products (SKU, name, barcode, two custom fields) imported from a CSV and from an
XLSX through the API (upload, validation, commit: seconds each, rows/s) and the CSV again
(all unchanged), with the server's resident memory before and at its peak, beside the
same files read in the bench process and the rows written with one INSERT. Bounded by
its counts (each step times out after 300 s): about a minute plus the build.

Each prints a table and rewrites only its own section of docs/benchmarks.md. The cluster,
the server and temp files are removed on exit, error and Ctrl-C.

environment:
  LOGIFLOW_BENCH_SECS        server: seconds each case runs (default 10, at most 30)
  LOGIFLOW_BENCH_SYNC_SIZE   sync: N, products, stock rows and the larger journal
                             (default and most 100000, at least 1000)
  LOGIFLOW_BENCH_IMPORT_ROWS import: products per file (default and most 100000, at
                             least 1000)
  LOGIFLOW_BENCH_SERVER_LOG  the server's RUST_LOG (default warn: no request logs)
  LOGIFLOW_BENCH_AUTH_ONLY   server: 1 sends GET /v1/me instead of movements (the HTTP
                             and auth path alone)
";

/// The benchmarks that need a database, by the argument that runs them: `cargo xtask
/// bench <name>` starts a cluster and runs (package, bench target); plain `cargo xtask
/// bench` leaves them out.
const DATABASE_BENCHES: [(&str, (&str, &str)); 5] = [
    ("server", ("logiflow-server", "server")),
    ("sync", ("logiflow-server", "sync")),
    ("orders", ("logiflow-server", "orders")),
    ("webhooks", ("logiflow-server", "webhooks")),
    ("import", ("logiflow-server", "import")),
];

pub fn main(args: &[String]) -> Result<ExitCode> {
    let database = match args {
        [name] => DATABASE_BENCHES.iter().find(|(n, _)| n == name),
        _ => None,
    };
    if let Some((_, bench)) = database {
        return database_bench(*bench);
    }
    let passthrough: Vec<String> = match args {
        [] => Vec::new(),
        [flag, ..] if flag == "-h" || flag == "--help" => {
            print!("{HELP}");
            return Ok(ExitCode::SUCCESS);
        }
        [dashes, rest @ ..] if dashes == "--" => rest.to_vec(),
        [other, ..] => bail!("unknown argument `{other}` (see cargo xtask bench --help)"),
    };
    let benches: Vec<(String, String)> = list_benches()?
        .into_iter()
        .filter(|(package, bench)| {
            !DATABASE_BENCHES
                .iter()
                .any(|(_, b)| *b == (package.as_str(), bench.as_str()))
        })
        .collect();
    for (name, (package, bench)) in DATABASE_BENCHES {
        println!("{package}: {bench} (needs a database: run cargo xtask bench {name})");
    }
    if benches.is_empty() {
        println!(
            "no other benchmarks yet: add them as benches/*.rs in a crate and cargo xtask \
             bench will list and run them"
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("benchmarks:");
    for (package, bench) in &benches {
        println!("  {package}: {bench}");
    }
    let target = util::claim_shared_target()?;
    let mut cmd = util::cargo_in(&target);
    cmd.arg("bench");
    for (package, bench) in &benches {
        cmd.args(["-p", package, "--bench", bench]);
    }
    if !passthrough.is_empty() {
        cmd.arg("--").args(&passthrough);
    }
    let status = proc::run(&mut cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", util::display_command(&cmd));
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask bench server|sync|orders`: the cluster first (a missing PostgreSQL fails fast,
/// before minutes of release build), then `cargo bench`, which builds the server binary
/// beside the bench; the bench starts and stops the server itself (see its module docs).
fn database_bench((package, bench): (&str, &str)) -> Result<ExitCode> {
    packages::ensure(&[Need::Postgres])?;
    let target = util::claim_shared_target()?;
    let cluster = pg::Throwaway::start()?;
    let mut cmd = util::cargo_in(&target);
    cmd.args(["bench", "-p", package, "--bench", bench])
        .env("LOGIFLOW_BENCH_DATABASE_URL", cluster.url());
    let status = proc::run(&mut cmd);
    cluster.remove();
    let status = status?;
    if !status.success() {
        bail!("`{}` failed ({status})", util::display_command(&cmd));
    }
    Ok(ExitCode::SUCCESS)
}

/// (package name, bench target) pairs: the files cargo discovers by itself
/// (`benches/*.rs`, `benches/*/main.rs`) and `[[bench]]` entries in a crate's
/// Cargo.toml. Read from the files rather than `cargo metadata`, whose JSON would need
/// serde_json, the largest part of building the xtask in a fresh clone.
fn list_benches() -> Result<Vec<(String, String)>> {
    let root = util::project_root();
    let mut benches = Vec::new();
    for member in util::workspace_members()? {
        let dir = root.join(&member.dir);
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let mut found = declared_benches(&manifest);
        if let Ok(entries) = fs::read_dir(dir.join("benches")) {
            for entry in entries.flatten() {
                let path = entry.path();
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
                let discovered = if path.is_dir() {
                    path.join("main.rs").is_file()
                } else {
                    path.extension().is_some_and(|ext| ext == "rs")
                };
                if let (true, Some(stem)) = (discovered, stem) {
                    found.push(stem);
                }
            }
        }
        found.sort();
        found.dedup();
        benches.extend(found.into_iter().map(|bench| (member.name.clone(), bench)));
    }
    Ok(benches)
}

/// The names of the `[[bench]]` tables of a Cargo.toml.
fn declared_benches(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_bench = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bench = line == "[[bench]]";
        } else if in_bench {
            if let Some(value) = line.strip_prefix("name").map(str::trim_start) {
                if let Some(value) = value.strip_prefix('=') {
                    names.push(value.trim().trim_matches('"').to_owned());
                }
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_declared_benches() {
        let manifest = "[package]\nname = \"core\"\n\n[[bench]]\nname = \"replay\"\nharness = false\n\n[dependencies]\nname = \"not-a-bench\"\n";
        assert_eq!(declared_benches(manifest), ["replay"]);
    }
}
