//! The `logiflow` binary: `--json` output and exit codes scripts can trust.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::fixture::*;

struct Cli {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("replica.db");
        Self { _dir: dir, db }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_logiflow"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("LOGIFLOW_DB")
            .output()
            .unwrap()
    }

    /// Runs with `--json`, expecting `code`; returns stdout (success) or stderr (failure)
    /// parsed as JSON.
    fn json(&self, args: &[&str], code: i32) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\nstdout: {stdout}\nstderr: {stderr}"
        );
        let text = if code == 0 { stdout } else { stderr };
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    fn ready(&self) {
        let snapshot = self.db.with_file_name("snapshot.json");
        std::fs::write(&snapshot, serde_json::to_string(&catalog_page()).unwrap()).unwrap();
        let tenant = tenant().to_string();
        let user = user().to_string();
        self.json(
            &[
                "init",
                "--tenant",
                &tenant,
                "--user",
                &user,
                "--server",
                "https://x",
            ],
            0,
        );
        let stored = self.json(&["import-snapshot", path(&snapshot)], 0);
        assert_eq!(stored["rows"], 1);
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn record_and_read_back_with_json() {
    let cli = Cli::new();
    cli.ready();
    let rec = cli.json(
        &["receive", "4006381333931", "--to", "A-02", "--qty", "5"],
        0,
    );
    assert_eq!(rec["seq"], 1);
    assert_eq!(rec["projected"], "applied");
    assert_eq!(rec["movement"]["kind"], "receive");
    cli.json(&["ship", "BOLT-10", "--from", "A-01", "--qty", "3"], 0);
    cli.json(
        &[
            "transfer", "BOLT-10", "--from", "A-01", "--to", "B-01", "--qty", "2",
        ],
        0,
    );
    cli.json(
        &[
            "adjust", "BOLT-10", "--at", "B-01", "--delta", "-1", "--reason", "damage",
        ],
        0,
    );
    cli.json(
        &[
            "count",
            "BOLT-10",
            "--at",
            "A-02",
            "--counted",
            "6",
            "--expected",
            "5",
        ],
        0,
    );
    cli.json(
        &[
            "receive", "MILK-1", "--lot", "L1", "--to", "A-01", "--qty", "4",
        ],
        0,
    );

    let over = cli.json(&["ship", "BOLT-10", "--from", "B-01", "--qty", "50"], 0);
    assert_eq!(over["warnings"][0]["code"], "beyond_projected_stock");

    let stock = cli.json(&["stock", "bolt"], 0);
    let rows: Vec<(String, i64)> = stock
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["location_code"].as_str().unwrap().to_owned(),
                l["on_hand"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("A-01".to_owned(), 5),
            ("A-02".to_owned(), 6),
            ("B-01".to_owned(), 1)
        ]
    );
    let bin = cli.json(&["stock", "--bin", "A-01"], 0);
    assert_eq!(bin.as_array().unwrap().len(), 2);

    let status = cli.json(&["status"], 0);
    assert_eq!(status["pending"], 7);
    assert_eq!(status["last_seq"], 7);
    assert_eq!(status["cursor"], "c1");
    let journal = cli.json(&["journal", "--status", "pending", "--after", "5"], 0);
    assert_eq!(journal.as_array().unwrap().len(), 2);
    assert_eq!(cli.json(&["conflicts"], 0), Value::Array(vec![]));

    // Text output works too.
    let out = cli.run(&["stock", "--sku", "MILK"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("MILK-1"));
}

#[test]
fn validation_errors_exit_1_with_a_code() {
    let cli = Cli::new();
    cli.ready();
    let err = cli.json(&["receive", "NOPE", "--to", "A-01", "--qty", "1"], 1);
    assert_eq!(err["error"]["code"], "unknown_product");
    let err = cli.json(&["receive", "BOLT-10", "--to", "A-01", "--qty", "0"], 1);
    assert_eq!(err["error"]["code"], "invalid_input");
    let err = cli.json(&["receive", "MILK-1", "--to", "A-01", "--qty", "1"], 1);
    assert_eq!(err["error"]["code"], "lot_required");
    let err = cli.json(&["ship", "BOLT-10", "--from", "Z1", "--qty", "1"], 1);
    assert_eq!(err["error"]["code"], "location_not_leaf");
    assert_eq!(
        cli.json(&["status"], 0)["last_seq"],
        0,
        "nothing was recorded"
    );
    // A SKU given as a barcode is not looked up as a SKU.
    let err = cli.json(
        &[
            "receive", "BOLT-10", "--by", "barcode", "--to", "A-01", "--qty", "1",
        ],
        1,
    );
    assert_eq!(err["error"]["code"], "unknown_product");
    cli.json(
        &[
            "receive", "BOLT-10", "--by", "sku", "--to", "A-01", "--qty", "1",
        ],
        0,
    );
    assert_eq!(cli.json(&["status"], 0)["last_seq"], 1);
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let cli = Cli::new();
    assert_eq!(cli.run(&["receive"]).status.code(), Some(1));
    assert_eq!(cli.run(&["frobnicate"]).status.code(), Some(1));
    assert_eq!(
        cli.run(&[
            "adjust", "X", "--at", "A", "--delta", "1", "--reason", "whim"
        ])
        .status
        .code(),
        Some(1)
    );
    assert_eq!(cli.run(&["--help"]).status.code(), Some(0));
    // Recording before the device is set up is the user's to fix.
    let err = cli.json(&["receive", "X", "--to", "A-01", "--qty", "1"], 1);
    assert_eq!(err["error"]["code"], "not_initialized");
    // A snapshot that is not a pull page.
    let bad = cli.db.with_file_name("bad.json");
    std::fs::write(&bad, "{}").unwrap();
    let err = cli.json(&["import-snapshot", path(&bad)], 1);
    assert_eq!(err["error"]["code"], "invalid_input");
}

#[test]
fn other_failures_exit_2() {
    let cli = Cli::new();
    cli.ready();
    let conn = rusqlite::Connection::open(&cli.db).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = cli.json(&["status"], 2);
    assert_eq!(err["error"]["code"], "schema_too_new");
    // A missing snapshot file is an I/O failure.
    let other = Cli::new();
    let err = other.json(&["import-snapshot", "/nonexistent/snapshot.json"], 2);
    assert_eq!(err["error"]["code"], "internal");
}

#[test]
fn a_clock_that_jumped_is_refused_until_accepted() {
    let cli = Cli::new();
    cli.ready();
    // The server's last answer said it was three days later than this machine's clock
    // reads now (no uptime known): the clock went back since.
    let three_days_ahead = (chrono::Utc::now() + chrono::TimeDelta::days(3))
        .timestamp_nanos_opt()
        .unwrap();
    let conn = rusqlite::Connection::open(&cli.db).unwrap();
    conn.execute(
        "update sync_state set clock_ref_at_ns = ?1, clock_ref_boot = null, clock_ref_uptime_ms = null",
        [three_days_ahead],
    )
    .unwrap();
    drop(conn);
    let receive = ["receive", "BOLT-10", "--to", "A-02", "--qty", "5"];
    let err = cli.json(&receive, 1);
    assert_eq!(err["error"]["code"], "clock_jumped");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("days behind"), "{message}");
    assert!(message.contains("logiflow clock accept"), "{message}");
    assert_eq!(cli.json(&["status"], 0)["last_seq"], 0, "nothing recorded");
    let check = cli.json(&["clock"], 0);
    assert_eq!(check["clock_jumped"], true);
    // The person confirms the clock: recording goes on, with the clock as it reads.
    let accepted = cli.json(&["clock", "accept"], 0);
    assert!(accepted["accepted"].is_string());
    assert_eq!(cli.json(&["clock"], 0)["clock_jumped"], false);
    let rec = cli.json(&receive, 0);
    assert_eq!(rec["seq"], 1);
}

#[test]
fn receive_and_pick_against_orders_pulled_with_the_catalog() {
    use logiflow_core::orders::{Allocation, PurchaseStatus, SalesStatus};
    use logiflow_core::{
        PurchaseLineRecord, PurchaseOrderRecord, SalesLineRecord, SalesOrderRecord, StockKey,
    };

    let cli = Cli::new();
    cli.ready();
    let line = |n: u128, product, qty, received| PurchaseLineRecord {
        id: uuid::Uuid::from_u128(n),
        product,
        qty,
        received,
    };
    let mut page = empty_page_at("c2", time(START_MS));
    page.purchase_orders = vec![
        PurchaseOrderRecord {
            id: uuid::Uuid::from_u128(100),
            number: "PO-000007".into(),
            warehouse: wh(),
            supplier: "Bolts & Co".into(),
            expected_on: "2027-02-01".parse().ok(),
            status: PurchaseStatus::PartiallyReceived,
            lines: vec![line(101, bolt(), 10, 10), line(102, bolt(), 5, 1)],
        },
        PurchaseOrderRecord {
            id: uuid::Uuid::from_u128(200),
            number: "PO-000008".into(),
            warehouse: wh(),
            supplier: "Bolts & Co".into(),
            expected_on: None,
            status: PurchaseStatus::Cancelled,
            lines: vec![line(201, bolt(), 3, 0)],
        },
    ];
    page.sales_orders = vec![SalesOrderRecord {
        id: uuid::Uuid::from_u128(300),
        number: "SO-000003".into(),
        warehouse: wh(),
        customer: "Shop".into(),
        requested_on: "2027-02-02".parse().unwrap(),
        status: SalesStatus::Allocated,
        lines: vec![SalesLineRecord {
            id: uuid::Uuid::from_u128(301),
            product: bolt(),
            qty: 4,
            picked: 0,
            allocations: vec![Allocation {
                key: StockKey {
                    product: bolt(),
                    location: a01(),
                    lot: None,
                },
                qty: 4,
            }],
        }],
    }];
    let file = cli.db.with_file_name("orders.json");
    std::fs::write(&file, serde_json::to_string(&page).unwrap()).unwrap();
    cli.json(&["import-snapshot", path(&file)], 0);

    // Only the open order is listed, with what each line still expects.
    let orders = cli.json(&["orders"], 0);
    let po = &orders["purchase_orders"];
    assert_eq!(po.as_array().unwrap().len(), 1, "{orders}");
    assert_eq!(po[0]["number"], "PO-000007");
    assert_eq!(po[0]["warehouse"], "W1");
    assert_eq!(
        orders["sales_orders"][0]["lines"][0]["pick_list"][0]["bin"],
        "A-01"
    );
    let text = String::from_utf8(cli.run(&["orders"]).stdout).unwrap();
    assert!(
        text.contains("PO-000007\tW1\tBolts & Co\t2027-02-01\tBOLT-10\t5\t1\t4\tHex bolt M10"),
        "{text}"
    );

    // The receipt names the line that still expects units, and the list shows it.
    let rec = cli.json(
        &[
            "receive",
            "4006381333931",
            "--to",
            "A-02",
            "--qty",
            "3",
            "--po",
            "po-000007",
        ],
        0,
    );
    assert_eq!(rec["movement"]["reference"]["type"], "purchase_line");
    assert_eq!(
        rec["movement"]["reference"]["id"],
        uuid::Uuid::from_u128(102).to_string()
    );
    let orders = cli.json(&["orders"], 0);
    assert_eq!(orders["purchase_orders"][0]["lines"][1]["received_here"], 3);

    // A pick for the sales order names its line; the list shows what is left to pick.
    let rec = cli.json(
        &[
            "ship",
            "BOLT-10",
            "--from",
            "A-01",
            "--qty",
            "3",
            "--so",
            "SO-000003",
        ],
        0,
    );
    assert_eq!(rec["movement"]["reference"]["type"], "sales_line");
    assert_eq!(
        rec["movement"]["reference"]["id"],
        uuid::Uuid::from_u128(301).to_string()
    );
    let text = String::from_utf8(cli.run(&["orders"]).stdout).unwrap();
    assert!(
        text.contains("SO-000003\tW1\tShop\t2027-02-02\tBOLT-10\t4\t3\t1\tA-01×4\tHex bolt M10"),
        "{text}"
    );

    // A cancelled or unknown order, or an item not on it: exit 1 with a code, nothing recorded.
    for (po, item, code) in [
        ("PO-000008", "BOLT-10", "unknown_order"),
        ("PO-999999", "BOLT-10", "unknown_order"),
        ("PO-000007", "MILK-1", "not_on_order"),
    ] {
        let err = cli.json(
            &["receive", item, "--to", "A-02", "--qty", "1", "--po", po],
            1,
        );
        assert_eq!(err["error"]["code"], code, "{po} {item}: {err}");
    }
    let err = cli.json(
        &[
            "ship",
            "BOLT-10",
            "--from",
            "A-01",
            "--qty",
            "1",
            "--so",
            "SO-000009",
        ],
        1,
    );
    assert_eq!(err["error"]["code"], "unknown_order");
    assert_eq!(cli.json(&["status"], 0)["last_seq"], 2);
}
