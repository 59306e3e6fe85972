//! The OpenAPI document against the server: schemathesis generates requests from the
//! document (its examples, then values at and across each documented bound, then random
//! ones) and checks every answer against it: no server error, only documented statuses,
//! bodies of the documented schema, and requests the document calls valid accepted and
//! invalid ones refused.
//!
//! `cargo xtask test` installs schemathesis from PyPI and passes its path in
//! `LOGIFLOW_SCHEMATHESIS`; the test runs it against a real server on loopback with a
//! seeded tenant, as that tenant's admin, with the configuration in `schemathesis.toml`
//! beside this file: every check on, and the operations where a request the document
//! calls valid may still be refused, each with its reason; and the hooks in
//! `schemathesis_hooks.py`, which draw what the document names but no keyword computes.

use std::path::PathBuf;

use logiflow_server::routes::bounds::BARCODE_FORMAT;

use crate::helpers::*;

/// Requests generated per operation and phase: enough to cross every documented bound,
/// few enough that the whole document takes about a minute of one core.
const MAX_EXAMPLES: &str = "15";

/// The fixed seed of the generated requests, so that a failure reproduces.
const SEED: &str = "14";

fn schemathesis() -> PathBuf {
    let path = std::env::var_os("LOGIFLOW_SCHEMATHESIS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .expect(
            "LOGIFLOW_SCHEMATHESIS is not set: run this test through `cargo xtask test`, which \
             installs schemathesis",
        );
    assert!(path.is_file(), "no schemathesis at {}", path.display());
    path
}

/// The document's operations by tag, in two halves of about the same size (49 and 53
/// operations, about 40 s each alone): [`every_other_operation_answers_as_the_document_says`]
/// takes every operation these tags do not name, so that the two cover the whole document
/// by construction (an operation of a new tag lands there). Two, not more: each part
/// starts its own server and schemathesis, which loads the whole document, and that cost
/// about 8 s of CPU per part; on two cores, where the run is bound by its CPU, a third
/// and a fourth part made the whole run slower, not faster.
const TAGS: &[&str] = &["orders", "catalog"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_and_catalog_operations_answer_as_the_document_says() {
    fuzz(&selection("--include-tag", TAGS)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_other_operation_answers_as_the_document_says() {
    fuzz(&selection("--exclude-tag", TAGS)).await;
}

/// `option tag` for each of `tags`.
fn selection(option: &str, tags: &[&str]) -> Vec<String> {
    tags.iter()
        .flat_map(|tag| [option.to_owned(), (*tag).to_owned()])
        .collect()
}

/// Runs schemathesis over the operations `selection` picks, against a server of its own.
///
/// The document is fuzzed in two halves, each a test ([`TAGS`]): schemathesis runs one
/// operation at a time on one core (see `--workers` below), and a single run over the
/// whole document took 65 to 75 s alone, the longest test of the suite; the halves run
/// side by side with each other and the other tests.
async fn fuzz(selection: &[String]) {
    let schemathesis = schemathesis();
    let app = spawn_app().await;
    // A plan without a rate limit in reach, so the run exercises the routes, not 429s.
    app.plan("fuzz", 100, 100_000).await;
    let tenant = app.tenant("fuzz", "fuzz").await;
    seed_catalog(&app, &tenant.token, "fuzz").await;
    // schemathesis keeps a cache of examples in its working directory: a fresh one per
    // run, outside the checkout, so that each run starts from the seed alone.
    let workdir = tempfile::tempdir().expect("failed to make a directory for schemathesis");
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api");
    let mut run = std::process::Command::new(schemathesis);
    run.current_dir(workdir.path())
        // Generators for what the document names but no keyword computes (a barcode's
        // check digit); see the file.
        .env("SCHEMATHESIS_HOOKS", here.join("schemathesis_hooks.py"))
        .env("LOGIFLOW_BARCODE_FORMAT", BARCODE_FORMAT)
        .arg("--config-file")
        .arg(here.join("schemathesis.toml"))
        .arg("run")
        .arg(app.url("/v1/openapi.json"))
        .args(selection)
        .args(["--phases", "examples,coverage,fuzzing"])
        // No `--checks`: every check runs by default, and one named here could not be
        // turned off for an operation in the configuration. `positive_data_acceptance`
        // (a request the document calls valid is accepted) has its exceptions there:
        // rules no schema states (opaque cursors, rows that must exist) and rules
        // across fields or items. The bounds it does state are in `routes/bounds.rs`.
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        // One worker: schemathesis's workers are threads, and two of them parsing
        // Python source at once (hypothesis describing a filter's lambda) can trip
        // the AST recursion counter the interpreter's threads share (CPython
        // gh-106905): two runs in six failed on POST /v1/imports with "AST constructor
        // recursion depth mismatch". On two cores shared with the server, the second
        // worker gained no time (66 s with one, 58 to 74 s with two).
        .args(["--workers", "1", "--no-color"])
        .arg("--header")
        .arg(format!("Authorization: {}", bearer(&tenant.token)))
        // Logging out ends the session the whole run authenticates with.
        .args(["--exclude-path", "/v1/auth/logout"]);
    // On a thread of its own: the server answers on this runtime meanwhile.
    let output = tokio::task::spawn_blocking(move || run.output())
        .await
        .unwrap()
        .expect("failed to start schemathesis");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "schemathesis found answers that differ from the document (report above)"
    );
    // A selection that matched nothing would pass without testing anything.
    let selected = report
        .lines()
        .find_map(|line| line.trim().strip_prefix("Selected: "))
        .and_then(|counts| counts.split('/').next()?.parse::<usize>().ok())
        .expect("schemathesis's report says how many operations it selected");
    assert!(selected > 0, "{selection:?} selected no operation");
}
