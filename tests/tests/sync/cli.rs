//! `logiflow connect | receive | sync | status | scope | login` as child processes, with
//! the file credential store, against the real server: outputs and exit codes.

use serde_json::{Value, json};

use crate::harness::*;

pub fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not json ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn error_code(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(last).unwrap_or_else(|_| panic!("stderr: {stderr}"));
    v["error"]["code"].as_str().unwrap().to_owned()
}

/// `logiflow connect` of a new replica in `dir`; returns (db, credentials file).
pub fn cli_connect(
    server: &Server,
    dir: &std::path::Path,
    base: &str,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, Value) {
    let db = dir.join("replica.db");
    let creds = dir.join("credentials.json");
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "connect", "--server", base, "--tenant"])
        .arg(&server.slug)
        .args([
            "--email",
            &server.email,
            "--warehouse",
            "wh1",
            "--name",
            name,
        ]);
    let out = run(cmd, &format!("{PASSWORD}\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    (db, creds, v)
}

/// A mistyped password is the person's to fix, not the device's session ending: its own
/// code (`wrong_password`), exit 4 as documented for refused credentials, and nothing
/// created on the device or the server.
#[test]
fn a_wrong_password_at_connect_has_its_own_code_and_changes_nothing() {
    let server = Server::start("cli-password");
    seed(&server, 1, 1);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.db");
    let creds = dir.path().join("credentials.json");
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "connect", "--server", &server.base, "--tenant"])
        .arg(&server.slug)
        .args(["--email", &server.email, "--name", "station"]);
    let out = run(cmd, "not the password\n");
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(error_code(&out), "wrong_password");
    assert!(!creds.exists(), "no tokens were stored");
    let devices: i64 = server.block_on(async {
        sqlx::query_scalar("select count(*) from device")
            .fetch_one(&server.owner)
            .await
            .unwrap()
    });
    assert_eq!(devices, 0, "no device was registered");
}

#[test]
fn the_cli_connects_records_syncs_reports_and_exits_with_documented_codes() {
    let server = Server::start("cli");
    seed(&server, 2, 1);
    let dir = tempfile::tempdir().unwrap();
    let (db, creds, connected) = cli_connect(&server, dir.path(), &server.base, "station");
    assert_eq!(connected["scope"][0]["code"], "WH1");
    assert!(connected["first_sync"]["pages"].as_u64().unwrap() >= 1);
    let device: uuid::Uuid = connected["device"]["device"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Nothing secret in the replica file.
    let raw = std::fs::read(&db).unwrap();
    let creds_text = std::fs::read_to_string(&creds).unwrap();
    assert!(creds_text.contains("lfr_"));
    assert!(!raw.windows(4).any(|w| w == b"lfr_"));

    let mut cmd = cli(&db, &creds);
    cmd.args([
        "--json", "receive", "SKU-1", "--by", "sku", "--to", "B1", "--qty", "4",
    ]);
    assert!(run(cmd, "").status.success());

    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "sync"]);
    let out = run(cmd, "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    assert_eq!(
        (report["pushed"].as_u64(), report["applied"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"pushing\""));

    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "status"]);
    let status = json_of(&run(cmd, ""));
    assert_eq!(status["pending"], 0);
    assert!(status["last_sync_at"].is_string());
    assert!(status["last_sync_error"].is_null());
    assert!(status["last_contact_at"].is_string());

    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "scope"]);
    let scope = json_of(&run(cmd, ""));
    assert_eq!(scope["scope"][0]["code"], "WH1");
    assert_eq!(scope["tenant_warehouses"].as_array().unwrap().len(), 1);
    assert_eq!(server.stock(), vec![("SKU-1".into(), "B1".into(), 4)]);

    // Expired tenant: exit 5, nothing pushed; after renewal it goes through.
    let mut cmd = cli(&db, &creds);
    cmd.args([
        "--json", "receive", "SKU-1", "--by", "sku", "--to", "B1", "--qty", "1",
    ]);
    assert!(run(cmd, "").status.success());
    server.expire();
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "sync"]);
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(error_code(&out), "subscription_expired");
    assert_eq!(server.movements_of(device).0, 1);
    server.renew();
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "sync"]);
    assert!(run(cmd, "").status.success());
    assert_eq!(server.movements_of(device).0, 2);

    // Revoked: exit 4, the journal kept; signing in on the device again is refused (a
    // revoked device never gets a session again: its journal is exported instead).
    let mut cmd = cli(&db, &creds);
    cmd.args([
        "--json", "receive", "SKU-1", "--by", "sku", "--to", "B1", "--qty", "1",
    ]);
    assert!(run(cmd, "").status.success());
    server.revoke(device);
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "sync"]);
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(error_code(&out), "device_revoked");
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "login", "--tenant"])
        .arg(&server.slug)
        .args(["--email", &server.email]);
    let out = run(cmd, &format!("{PASSWORD}\n"));
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(error_code(&out), "device_revoked");
    // Nor does a new device replace it while an entry is unanswered.
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "login", "--new-device", "--tenant"])
        .arg(&server.slug)
        .args(["--email", &server.email]);
    let out = run(cmd, &format!("{PASSWORD}\n"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "status"]);
    let status = json_of(&run(cmd, ""));
    assert_eq!(status["pending"], 1);
    assert_eq!(status["device"]["device"], device.to_string());
    assert_eq!(status["last_sync_error"]["code"], "device_revoked");

    // A usage error is 1.
    let mut cmd = cli(&db, &creds);
    cmd.args(["sync", "--interval", "5"]);
    assert_eq!(run(cmd, "").status.code(), Some(1));
}

#[test]
fn login_new_device_replaces_a_revoked_device_whose_journal_is_fully_answered() {
    let server = Server::start("login");
    seed(&server, 1, 1);
    let dir = tempfile::tempdir().unwrap();
    let (db, creds, connected) = cli_connect(&server, dir.path(), &server.base, "station");
    let old: uuid::Uuid = connected["device"]["device"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut cmd = cli(&db, &creds);
    cmd.args([
        "--json", "receive", "SKU-1", "--by", "sku", "--to", "B1", "--qty", "2",
    ]);
    assert!(run(cmd, "").status.success());
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "sync"]);
    assert!(run(cmd, "").status.success());
    server.revoke(old);

    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "login", "--new-device", "--tenant"])
        .arg(&server.slug)
        .args(["--email", &server.email]);
    let out = run(cmd, &format!("{PASSWORD}\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    let new = v["device"]["device"].as_str().unwrap().to_owned();
    assert_ne!(new, old.to_string());
    assert_eq!(v["scope"][0]["code"], "WH1");
    assert!(dir.path().join(format!("replica.db.device-{old}")).exists());

    // The new device sees the stock the old one recorded, and works.
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "stock"]);
    let stock = json_of(&run(cmd, ""));
    assert_eq!(stock[0]["on_hand"], 2);
    let mut cmd = cli(&db, &creds);
    cmd.args([
        "--json", "ship", "SKU-1", "--by", "sku", "--from", "B1", "--qty", "1",
    ]);
    assert!(run(cmd, "").status.success());
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "sync"]);
    let out = run(cmd, "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.stock(), vec![("SKU-1".into(), "B1".into(), 1)]);
}

/// The server's export as this test's admin reads it straight from the API.
fn server_export(server: &Server, path: &str) -> Vec<u8> {
    let r = reqwest::blocking::Client::new()
        .get(format!("{}{path}", server.base))
        .bearer_auth(&server.admin_token)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.bytes().unwrap().to_vec()
}

/// `logiflow export` writes the server's export into the file, CSV or XLSX by its name,
/// for a warehouse of the device by code and a time range; what cannot be exported is
/// refused before any request and writes nothing; the server's refusal of a role comes
/// back in its words.
#[test]
fn export_writes_the_servers_file_and_refuses_what_it_cannot_do() {
    let server = Server::start("cli-export");
    let catalog = seed(&server, 2, 2);
    server.receive_online("SKU-1", &catalog.location_ids[0], 4);
    let dir = tempfile::tempdir().unwrap();
    let (db, creds, _) = cli_connect(&server, dir.path(), &server.base, "exporter");
    let export = |args: &[&str], out: &std::path::Path| {
        let mut cmd = cli(&db, &creds);
        cmd.args(["--json", "export"])
            .args(args)
            .arg("--out")
            .arg(out);
        run(cmd, "")
    };

    // The stock of WH1, named by code as on the device: the server's own file.
    let stock = dir.path().join("stock.csv");
    let out = export(&["stock", "--warehouse", "wh1"], &stock);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    let written = std::fs::read(&stock).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["format"].as_str()),
        (Some("stock"), Some("csv"))
    );
    assert_eq!(v["bytes"], written.len());
    let wh: String = server.block_on(async {
        sqlx::query_scalar("select id::text from warehouse where code = 'WH1'")
            .fetch_one(&server.owner)
            .await
            .unwrap()
    });
    assert_eq!(
        written,
        server_export(&server, &format!("/v1/exports/stock?warehouse_id={wh}"))
    );
    assert!(String::from_utf8_lossy(&written).contains("SKU-1"));
    assert!(!dir.path().join("stock.csv.part").exists());

    // An .xlsx name makes a workbook.
    let book = dir.path().join("products.xlsx");
    let out = export(&["products"], &book);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&book).unwrap().starts_with(b"PK"), "a zip");

    // A time range: the receipt is after 2000 and not after 2100.
    let lines = |args: &[&str]| {
        let file = dir.path().join("movements.csv");
        let out = export(args, &file);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&file).unwrap().lines().count()
    };
    assert_eq!(lines(&["movements", "--from", "2000-01-01"]), 2);
    assert_eq!(lines(&["movements", "--from", "2100-01-01T00:00:00Z"]), 1);

    // Refused before any request, nothing written: a warehouse the device does not
    // keep, a warehouse filter on products, a time range on stock.
    for args in [
        &["stock", "--warehouse", "NOPE"][..],
        &["products", "--warehouse", "wh1"],
        &["stock", "--from", "2000-01-01"],
    ] {
        let file = dir.path().join("refused.csv");
        let out = export(args, &file);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(error_code(&out), "invalid_input", "{args:?}");
        assert!(!file.exists(), "{args:?}");
    }

    // An operator may not read the audit log: the server's refusal, no file.
    server.user(
        "operator@cli-export.example",
        logiflow_server::rbac::Role::Operator,
    );
    let other = tempfile::tempdir().unwrap();
    let db2 = other.path().join("replica.db");
    let creds2 = other.path().join("credentials.json");
    let mut cmd = cli(&db2, &creds2);
    cmd.args(["--json", "connect", "--server", &server.base, "--tenant"])
        .arg(&server.slug)
        .args(["--email", "operator@cli-export.example", "--name", "op"]);
    assert!(run(cmd, &format!("{PASSWORD}\n")).status.success());
    let file = other.path().join("audit.csv");
    let mut cmd = cli(&db2, &creds2);
    cmd.args(["--json", "export", "audit", "--out"]).arg(&file);
    let out = run(cmd, "");
    assert!(!out.status.success());
    assert_eq!(error_code(&out), "forbidden");
    assert!(!file.exists());
}

/// `logiflow import products FILE` previews the server's validation with progress on
/// stderr and writes nothing; `--commit` imports; a file with a bad row changes nothing
/// and names the row, with exit code 1.
#[test]
fn import_previews_then_commits_and_a_bad_row_changes_nothing() {
    let server = Server::start("cli-import");
    seed(&server, 1, 1);
    let dir = tempfile::tempdir().unwrap();
    let (db, creds, _) = cli_connect(&server, dir.path(), &server.base, "importer");
    let import = |file: &std::path::Path, commit: bool| {
        let mut cmd = cli(&db, &creds);
        cmd.args(["--json", "import", "products"]).arg(file);
        if commit {
            cmd.arg("--commit");
        }
        run(cmd, "")
    };
    let products = |prefix: &str| -> i64 {
        server.block_on(async {
            sqlx::query_scalar("select count(*) from product where sku like $1 || '%'")
                .bind(prefix)
                .fetch_one(&server.owner)
                .await
                .unwrap()
        })
    };
    let good = dir.path().join("new.csv");
    std::fs::write(
        &good,
        "sku,name,barcodes\nNEW-1,First new,4006381333931\nNEW-2,Second new,\n",
    )
    .unwrap();

    let out = import(&good, false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(
        (v["status"].as_str(), v["to_create"].as_i64()),
        (Some("ready"), Some(2))
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(r#""validated":2"#),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(products("NEW-"), 0, "a preview writes nothing");

    let out = import(&good, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["status"], "committed");
    assert_eq!(products("NEW-"), 2);

    // A barcode whose check digit is wrong: nothing of the file is written.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "sku,name,barcodes\nBAD-1,Fine,\nBAD-2,Wrong code,4006381333932\n",
    )
    .unwrap();
    let out = import(&bad, true);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(error_code(&out), "invalid_input");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("row 3, barcodes"), "{stderr}");
    assert_eq!(products("BAD-"), 0);
}

/// `logiflow import suppliers --commit` writes a new supplier, `logiflow import
/// purchase-orders --commit` an order (once, imported twice) and `logiflow import stock
/// --commit` counts a bin; `logiflow export KIND` then `logiflow import KIND` of that file
/// changes nothing, for each kind both know.
#[test]
fn an_exported_file_of_each_kind_imports_back_unchanged_and_suppliers_import() {
    let server = Server::start("cli-import-kinds");
    let catalog = seed(&server, 1, 1);
    server.receive_online("SKU-1", &catalog.location_ids[0], 4);
    // Something of every kind, so each round trip below has rows to compare.
    let tracked = server.create(
        "/v1/products",
        json!({"sku": "LOT-1", "name": "Tracked", "barcodes": [], "lot_tracked": true}),
    );
    server.create(
        "/v1/lots",
        json!({"product_id": tracked["id"], "code": "L-1", "expires_on": "2030-01-31"}),
    );
    server.create(
        "/v1/customers",
        json!({"code": "CUST-1", "name": "A customer", "min_shelf_life_days": 30}),
    );
    let dir = tempfile::tempdir().unwrap();
    let (db, creds, _) = cli_connect(&server, dir.path(), &server.base, "importer");
    let file = dir.path().join("suppliers.csv");
    std::fs::write(&file, "code,name,lead_time_days\nNEW-SUP,New supplier,7\n").unwrap();
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "import", "suppliers"])
        .arg(&file)
        .arg("--commit");
    let out = run(cmd, "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["status"], "committed");
    let lead: Option<i32> = server.block_on(async {
        sqlx::query_scalar("select lead_time_days from party where code = 'NEW-SUP'")
            .fetch_one(&server.owner)
            .await
            .unwrap()
    });
    assert_eq!(lead, Some(7));
    // Purchase order lines: the rows of a reference make one draft order, once.
    let file = dir.path().join("orders.csv");
    std::fs::write(
        &file,
        "reference,supplier,warehouse,sku,qty,unit_cost\nERP-7,NEW-SUP,WH1,SKU-1,12,0.40\n",
    )
    .unwrap();
    for _ in 0..2 {
        let mut cmd = cli(&db, &creds);
        cmd.args(["--json", "import", "purchase-orders"])
            .arg(&file)
            .arg("--commit");
        let out = run(cmd, "");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(json_of(&out)["status"], "committed");
    }
    let orders: i64 = server.block_on(async {
        sqlx::query_scalar("select count(*) from purchase_order")
            .fetch_one(&server.owner)
            .await
            .unwrap()
    });
    assert_eq!(orders, 1, "imported twice, created once");
    // Opening stock: a count of B1 (4 → 9), as one movement with its reason.
    let file = dir.path().join("stock.csv");
    std::fs::write(
        &file,
        "warehouse,location,sku,qty,reason\nWH1,B1,SKU-1,9,opening\n",
    )
    .unwrap();
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "import", "stock"])
        .arg(&file)
        .arg("--commit");
    let out = run(cmd, "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["status"], "committed");
    assert_eq!(
        server.stock(),
        [("SKU-1".to_owned(), "B1".to_owned(), 9)],
        "counted to 9"
    );
    for kind in [
        "products",
        "locations",
        "lots",
        "suppliers",
        "customers",
        "stock",
    ] {
        let file = dir.path().join(format!("{kind}.xlsx"));
        let mut cmd = cli(&db, &creds);
        cmd.args(["--json", "export", kind, "--out"]).arg(&file);
        let out = run(cmd, "");
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut cmd = cli(&db, &creds);
        cmd.args(["--json", "import", kind]).arg(&file);
        let out = run(cmd, "");
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json_of(&out);
        assert_eq!(v["status"], "ready", "{kind}: {v}");
        assert_eq!(
            (
                v["to_create"].as_i64(),
                v["to_update"].as_i64(),
                v["errors"].as_i64()
            ),
            (Some(0), Some(0), Some(0)),
            "{kind}: {v}"
        );
        assert_eq!(v["unchanged"], v["rows"], "{kind}: {v}");
        assert!(v["rows"].as_i64().unwrap() > 0, "{kind}: {v}");
    }
}
