//! Issue #19: a device whose session ended signs in again as the same device and sends
//! its journal; a revoked device's journal is exported and uploaded by a manager into
//! the conflict inbox, held for review.

use std::time::Duration;

use logiflow_replica::{ConnectRequest, Error, Replica, Secret};
use logiflow_server::rbac::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cli::{cli_connect, json_of};
use crate::harness::*;

/// What signing in on `server`'s tenant as `email` asks.
fn sign_in(server: &Server, tenant: &str, email: &str) -> ConnectRequest {
    ConnectRequest {
        server: server.base.clone(),
        tenant: tenant.to_owned(),
        email: email.to_owned(),
        password: Secret::new(PASSWORD),
        warehouses: Vec::new(),
        name: "ignored".into(),
        platform: "linux".into(),
    }
}

/// Signs in on `d`'s device again (the replica is moved out and back).
fn reattach(
    d: &mut Device,
    req: &ConnectRequest,
) -> logiflow_replica::Result<logiflow_replica::ConnectReport> {
    d.replica
        .reattach(req, &d.store, fast_options(), &mut |_| {})
}

fn audit_count(server: &Server, action: &str, device: Uuid) -> i64 {
    server.block_on(async {
        sqlx::query_scalar(
            "select count(*) from audit_log where action = $1 and target_type = 'device' and target_id = $2",
        )
        .bind(action)
        .bind(device.to_string())
        .fetch_one(&server.owner)
        .await
        .unwrap()
    })
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The four steps through the `logiflow` binary, against a server whose device
/// sessions live 3 seconds: connect, record a receipt offline, let the session expire
/// (sync answers exit 4), `logiflow login` signs in on the same device again, and
/// `logiflow sync` leaves the receipt applied on the server.
#[test]
fn a_device_offline_longer_than_its_session_signs_in_again_and_sends_its_receipt() {
    let server = Server::start_with("reattach-cli", |c| {
        c.device_refresh_token_ttl_secs = 3;
        c.access_token_ttl_secs = 1;
    });
    seed(&server, 1, 1);
    let dir = tempfile::tempdir().unwrap();
    let (db, creds, connected) = cli_connect(&server, dir.path(), &server.base, "station");
    let device: Uuid = connected["device"]["device"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The device knows when its session ends, from the server's token answer.
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "status"]);
    let status = json_of(&run(cmd, ""));
    let ends: chrono::DateTime<chrono::Utc> = status["session_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        ends <= chrono::Utc::now() + chrono::Duration::seconds(4),
        "{status}"
    );
    assert_eq!(
        status["session_ends_soon"], true,
        "3 s is within the warning"
    );

    // 1. A receipt recorded offline.
    let mut cmd = cli(&db, &creds);
    cmd.args([
        "--json", "receive", "SKU-1", "--by", "sku", "--to", "B1", "--qty", "3",
    ]);
    assert!(run(cmd, "").status.success());
    // 2. The session's refresh token (and the access token) expire meanwhile: this is
    // waiting for time to pass on the server's clock, not for readiness.
    std::thread::sleep(Duration::from_secs(4));
    // 3. The sync is refused: exit 4, the journal untouched.
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "sync"]);
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(server.movements_of(device).0, 0);

    // 4. Signing in again gives the same device a new session and sends the journal.
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "login", "--tenant"])
        .arg(&server.slug)
        .args(["--email", &server.email]);
    let out = run(cmd, &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json_of(&out);
    assert_eq!(v["device"]["device"], device.to_string());
    assert!(
        !dir.path()
            .join(format!("replica.db.device-{device}"))
            .exists()
    );
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "sync"]);
    let out = run(cmd, "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.stock(), vec![("SKU-1".into(), "B1".into(), 3)]);
    assert_eq!(server.movements_of(device), (1, 1));
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "status"]);
    let status = json_of(&run(cmd, ""));
    assert_eq!(status["pending"], 0);
    assert_eq!(status["device"]["device"], device.to_string());
    assert!(status["last_sync_error"].is_null(), "{status}");
    assert_eq!(audit_count(&server, "device.reattach", device), 1);
}

/// A keyring emptied by hand: the device cannot sync, then a person signs in on it
/// again and its journal goes through; the new session's refresh token keeps the retry
/// key's promise (a resend after a lost answer is answered, not taken for a theft).
#[test]
fn a_device_whose_keyring_was_emptied_signs_in_again() {
    let server = Server::start("reattach-keyring");
    seed(&server, 1, 1);
    // A shift operator signs in on the admin's device: any person who may record may.
    server.user("shift@reattach-keyring.example", Role::Operator);
    let mut d = connect(&server, &server.base, "station");
    let device = d.id();
    d.replica
        .record(&crate::flows::receive("SKU-1", "B1", 5))
        .unwrap();
    std::fs::write(d.dir.path().join("credentials.json"), "{}").unwrap();
    let err = d.sync().unwrap_err();
    assert!(matches!(err, Error::CredentialsInvalid(_)), "{err:?}");

    let report = reattach(
        &mut d,
        &sign_in(&server, &server.slug, "shift@reattach-keyring.example"),
    )
    .unwrap();
    assert!(
        report.first_sync_error.is_none(),
        "{:?}",
        report.first_sync_error
    );
    assert_eq!(report.device.device.as_uuid(), device);
    assert_eq!(d.replica.status().unwrap().pending, 0);
    assert_eq!(server.movements_of(device), (1, 1));
    assert_eq!(server.stock(), vec![("SKU-1".into(), "B1".into(), 5)]);
    assert!(d.replica.status().unwrap().session_expires_at.is_some());

    // The refresh token of the new session, exchanged with a retry key whose answer is
    // "lost": the resend with the same key gets a new pair, and the session lives on.
    let tokens = d
        .store
        .load(d.replica.device().unwrap().unwrap().device)
        .unwrap()
        .unwrap();
    let body = json!({"refresh_token": tokens.refresh_token.expose(), "retry_key": "k".repeat(32)});
    server.send(
        reqwest::Method::POST,
        "/v1/auth/refresh",
        None,
        Some(body.clone()),
        200,
    );
    let again = server.send(
        reqwest::Method::POST,
        "/v1/auth/refresh",
        None,
        Some(body),
        200,
    );
    assert!(again["refresh_expires_in"].as_u64().unwrap() > 30 * 24 * 3600);
    let me = server.send(
        reqwest::Method::GET,
        "/v1/me",
        again["access_token"].as_str(),
        None,
        200,
    );
    assert_eq!(me["role"], "operator");
}

/// A revoked device is never signed in again, and a person of another tenant cannot sign
/// in on a device (the server answers as for an unknown device); a viewer may not.
#[test]
fn signing_in_again_is_refused_for_a_revoked_device_and_another_tenants_person() {
    let server = Server::start("reattach-refused");
    seed(&server, 1, 1);
    let other = "elsewhere-reattach";
    let other_email = format!("admin@{other}.example");
    server.block_on(async {
        logiflow_server::admin::tenant_create(
            &server.owner,
            other,
            "Other",
            "sync",
            chrono::Utc::now() + chrono::Duration::days(30),
        )
        .await
        .unwrap();
        logiflow_server::admin::user_create(
            &server.owner,
            other,
            &other_email,
            "Other admin",
            Role::Admin,
            PASSWORD,
            logiflow_server::tokens::HashCost::Minimal,
        )
        .await
        .unwrap();
    });
    server.user("viewer@reattach-refused.example", Role::Viewer);
    let mut d = connect(&server, &server.base, "station");
    let device = d.id();
    d.replica
        .record(&crate::flows::receive("SKU-1", "B1", 2))
        .unwrap();

    // Another tenant's admin: refused as an unknown device, nothing changes.
    let err = reattach(&mut d, &sign_in(&server, other, &other_email)).unwrap_err();
    assert!(matches!(err, Error::CredentialsInvalid(_)), "{err:?}");
    let other_token = {
        let v = server.send(
            reqwest::Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"tenant": other, "email": other_email, "password": PASSWORD})),
            200,
        );
        v["access_token"].as_str().unwrap().to_owned()
    };
    let missing = server.send(
        reqwest::Method::POST,
        &format!("/v1/devices/{device}/session"),
        Some(&other_token),
        None,
        404,
    );
    assert_eq!(missing["code"], "not_found");
    let unknown = server.send(
        reqwest::Method::POST,
        &format!("/v1/devices/{}/session", Uuid::now_v7()),
        Some(&other_token),
        None,
        404,
    );
    assert_eq!(unknown["detail"], missing["detail"]);
    // A viewer may not record, so may not sign in on a device either.
    let err = reattach(
        &mut d,
        &sign_in(&server, &server.slug, "viewer@reattach-refused.example"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    // The device's own session was not touched by those refusals.
    assert_eq!(d.sync().unwrap().applied, 1);
    assert_eq!(audit_count(&server, "device.reattach", device), 0);

    // Revoked: refused with the device's code; the journal stays.
    d.replica
        .record(&crate::flows::receive("SKU-1", "B1", 1))
        .unwrap();
    server.revoke(device);
    let err = reattach(&mut d, &sign_in(&server, &server.slug, &server.email)).unwrap_err();
    assert!(matches!(err, Error::DeviceRevoked), "{err:?}");
    assert_eq!(d.replica.status().unwrap().pending, 1);
    let v = server.send(
        reqwest::Method::POST,
        &format!("/v1/devices/{device}/session"),
        Some(&server.admin_token),
        None,
        409,
    );
    assert_eq!(v["code"], "device_revoked");
}

/// A revoked device's unsent entries, exported with `logiflow journal export` and
/// uploaded twice by a manager with `logiflow journal upload`, land once, held for
/// review in the conflict inbox; force applies one, void drops the other. Bad files and
/// a live device's journal are refused and change nothing.
#[test]
fn an_exported_journal_uploaded_twice_lands_once_held_for_review() {
    let server = Server::start("journal-upload");
    seed(&server, 1, 1);
    let dir = tempfile::tempdir().unwrap();
    let (db, creds, connected) = cli_connect(&server, dir.path(), &server.base, "station");
    let device: Uuid = connected["device"]["device"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let record = |qty: &str| {
        let mut cmd = cli(&db, &creds);
        cmd.args([
            "--json", "receive", "SKU-1", "--by", "sku", "--to", "B1", "--qty", qty,
        ]);
        assert!(run(cmd, "").status.success());
    };
    record("1");
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "sync"]);
    assert!(run(cmd, "").status.success());
    record("2");
    record("4");
    server.revoke(device);

    let file = dir.path().join("journal.json");
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "journal", "export", "--out"])
        .arg(&file);
    let out = run(cmd, "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_of(&out)["entries"], 2);
    let text: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        (&text["format"], &text["version"], &text["device"]),
        (
            &json!("logiflow.journal"),
            &json!(1),
            &json!(device.to_string())
        )
    );
    assert_eq!(text["tenant"], server.tenant.to_string());
    // An existing file is never overwritten.
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "journal", "export", "--out"])
        .arg(&file);
    assert_eq!(run(cmd, "").status.code(), Some(1));

    // The manager's own device uploads it, twice.
    let manager_dir = tempfile::tempdir().unwrap();
    let (mdb, mcreds, _) = cli_connect(&server, manager_dir.path(), &server.base, "office");
    let upload = || {
        let mut cmd = cli(&mdb, &mcreds);
        cmd.args(["--json", "journal", "upload"]).arg(&file);
        let out = run(cmd, "");
        assert!(out.status.success(), "{}", stderr(&out));
        json_of(&out)
    };
    let first = upload();
    assert_eq!(
        (
            &first["entries"],
            &first["already_on_server"],
            &first["held"],
            &first["rejected"]
        ),
        (&json!(2), &json!(0), &json!(2), &json!(0)),
        "{first}"
    );
    let second = upload();
    assert_eq!(
        (&second["already_on_server"], &second["held"]),
        (&json!(2), &json!(0)),
        "{second}"
    );
    assert_eq!(server.movements_of(device), (3, 3));
    // A file holding the pushed entry too: skipped by (device, seq) and id.
    let replica = Replica::open(&db).unwrap();
    let mut whole = replica.journal_file().unwrap();
    whole.entries = replica.push_batch_from(Some(1), 100).unwrap().movements;
    assert_eq!(whole.entries.len(), 3);
    let v = server.send(
        reqwest::Method::POST,
        &format!("/v1/devices/{device}/journal"),
        Some(&server.admin_token),
        Some(serde_json::to_value(&whole).unwrap()),
        200,
    );
    assert_eq!(
        (&v["already_on_server"], &v["held"]),
        (&json!(3), &json!(0)),
        "{v}"
    );
    // Nothing was applied: only the pushed receipt counts.
    assert_eq!(server.stock(), vec![("SKU-1".into(), "B1".into(), 1)]);

    // The conflict inbox shows them held, for review of a revoked device's journal.
    let inbox = server.send(
        reqwest::Method::GET,
        &format!("/v1/movements?review=true&device_id={device}"),
        Some(&server.admin_token),
        None,
        200,
    );
    let items = inbox["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{inbox}");
    let mut ids = Vec::new();
    for item in items {
        assert_eq!(item["outcome"], "held", "{item}");
        let review = &item["outcome_detail"]["review"];
        assert_eq!(review["review"], "revoked_device", "{item}");
        assert!(review["uploaded_at"].is_string(), "{item}");
        ids.push(item["id"].as_str().unwrap().to_owned());
    }
    let qty_of = |id: &str| {
        items.iter().find(|i| i["id"] == id).unwrap()["qty"]
            .as_i64()
            .unwrap()
    };
    let (four, two) = if qty_of(&ids[0]) == 4 {
        (ids[0].clone(), ids[1].clone())
    } else {
        (ids[1].clone(), ids[0].clone())
    };
    server.send(
        reqwest::Method::POST,
        &format!("/v1/movements/{four}/force"),
        Some(&server.admin_token),
        Some(json!({"reason": "the pallet is on the shelf"})),
        200,
    );
    server.send(
        reqwest::Method::POST,
        &format!("/v1/movements/{two}/void"),
        Some(&server.admin_token),
        Some(json!({"reason": "never arrived"})),
        200,
    );
    assert_eq!(server.stock(), vec![("SKU-1".into(), "B1".into(), 5)]);
    assert_eq!(audit_count(&server, "device.journal_upload", device), 3);

    // Bad files: a clear problem with a stable code, and nothing changes.
    let path = format!("/v1/devices/{device}/journal");
    let mut bad = serde_json::to_value(&whole).unwrap();
    bad["format"] = json!("zip");
    let v = server.send(
        reqwest::Method::POST,
        &path,
        Some(&server.admin_token),
        Some(bad),
        422,
    );
    assert_eq!(v["code"], "invalid_journal");
    let mut bad = serde_json::to_value(&whole).unwrap();
    bad["version"] = json!(2);
    let v = server.send(
        reqwest::Method::POST,
        &path,
        Some(&server.admin_token),
        Some(bad),
        422,
    );
    assert_eq!(v["code"], "invalid_journal");
    let v = server.send(
        reqwest::Method::POST,
        &path,
        Some(&server.admin_token),
        Some(json!({"entries": "nope"})),
        422,
    );
    assert_eq!(v["code"], "invalid_body");
    // Another device's file under this device's id.
    let mut bad = serde_json::to_value(&whole).unwrap();
    bad["device"] = json!(Uuid::now_v7().to_string());
    let v = server.send(
        reqwest::Method::POST,
        &path,
        Some(&server.admin_token),
        Some(bad),
        422,
    );
    assert_eq!(v["code"], "invalid_journal");
    // A live device's journal is pushed by the device, not uploaded.
    let live: Uuid = {
        let mut cmd = cli(&mdb, &mcreds);
        cmd.args(["--json", "status"]);
        json_of(&run(cmd, ""))["device"]["device"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut for_live = serde_json::to_value(&whole).unwrap();
    for_live["device"] = json!(live.to_string());
    for_live["entries"] = json!([]);
    let v = server.send(
        reqwest::Method::POST,
        &format!("/v1/devices/{live}/journal"),
        Some(&server.admin_token),
        Some(for_live),
        409,
    );
    assert_eq!(v["code"], "device_not_revoked");
    // An operator may not upload.
    server.user("op@journal-upload.example", Role::Operator);
    let op = server.login("op@journal-upload.example");
    let v = server.send(
        reqwest::Method::POST,
        &path,
        Some(&op),
        Some(serde_json::to_value(&whole).unwrap()),
        403,
    );
    assert_eq!(v["code"], "forbidden");
    assert_eq!(server.movements_of(device), (3, 3));
    assert_eq!(server.stock(), vec![("SKU-1".into(), "B1".into(), 5)]);
}
