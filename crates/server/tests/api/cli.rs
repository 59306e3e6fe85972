//! The `logiflow-server` binary: `serve` (config from the environment, migrations,
//! graceful shutdown on SIGTERM) and the platform `admin` commands.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use logiflow_testkit::TestDb;
use reqwest::StatusCode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_logiflow-server");

fn admin(db: &TestDb, args: &[&str], stdin: Option<&str>) -> (bool, Value, String) {
    let mut child = Command::new(BIN)
        .arg("admin")
        .args(args)
        .env("LOGIFLOW_DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        value,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn admin_commands_manage_tenants_plans_and_users() {
    let db = TestDb::new().await;
    let (ok, plans, err) = admin(&db, &["plan", "list"], None);
    assert!(ok, "{err}");
    let codes: Vec<&str> = plans
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["free", "standard", "enterprise"]);

    let (ok, tenant, err) = admin(
        &db,
        &[
            "tenant", "create", "--slug", "acme", "--name", "Acme", "--plan", "standard",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(tenant["plan_code"], "standard");
    let (ok, _, err) = admin(
        &db,
        &["tenant", "create", "--slug", "acme", "--name", "Again"],
        None,
    );
    assert!(!ok);
    assert!(err.contains("a tenant with slug acme exists"), "{err}");

    let (ok, user, err) = admin(
        &db,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "boss@acme.example",
            "--name",
            "Boss",
        ],
        Some("a long enough password\n"),
    );
    assert!(ok, "{err}");
    assert_eq!(user["role"], "admin");

    let (ok, t, _) = admin(
        &db,
        &[
            "tenant",
            "set-plan",
            "--slug",
            "acme",
            "--plan",
            "enterprise",
        ],
        None,
    );
    assert!(ok);
    assert_eq!(t["plan_code"], "enterprise");
    let (ok, _, err) = admin(
        &db,
        &["tenant", "set-plan", "--slug", "acme", "--plan", "gold"],
        None,
    );
    assert!(!ok && err.contains("no plan gold"), "{err}");

    let (ok, expired, _) = admin(&db, &["tenant", "expire", "--slug", "acme"], None);
    assert!(ok);
    let (ok, renewed, _) = admin(
        &db,
        &["tenant", "renew", "--slug", "acme", "--days", "30"],
        None,
    );
    assert!(ok);
    assert!(
        renewed["subscription_expires_at"].as_str().unwrap()
            > expired["subscription_expires_at"].as_str().unwrap()
    );
    let (ok, list, _) = admin(&db, &["tenant", "list"], None);
    assert!(ok);
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (ok, disabled, err) = admin(
        &db,
        &[
            "user",
            "disable",
            "--tenant",
            "acme",
            "--email",
            "BOSS@acme.example",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(disabled["id"], user["id"]);
    let (ok, _, err) = admin(&db, &["tenant", "expire", "--slug", "nope"], None);
    assert!(!ok && err.contains("no tenant with slug nope"), "{err}");
}

#[tokio::test]
async fn the_operator_creates_and_changes_plans_and_reads_a_tenants_usage() {
    let db = TestDb::new().await;
    let limits = |skus: &'static str| -> Vec<&'static str> {
        vec![
            "--name",
            "Pro",
            "--max-skus",
            skus,
            "--max-locations",
            "200",
            "--max-warehouses",
            "2",
            "--max-users",
            "4",
            "--max-devices",
            "3",
            "--requests-per-second",
            "20",
        ]
    };
    let mut args = vec!["plan", "create", "pro"];
    args.extend(limits("500"));
    let (ok, plan, err) = admin(&db, &args, None);
    assert!(ok, "{err}");
    assert_eq!(
        (plan["code"].as_str(), plan["max_skus"].as_i64()),
        (Some("pro"), Some(500))
    );
    // Taken, incomplete or out of range: refused with a reason, nothing changed.
    let (ok, _, err) = admin(&db, &args, None);
    assert!(!ok && err.contains("a plan pro exists"), "{err}");
    let (ok, _, err) = admin(&db, &["plan", "create", "tiny", "--max-skus", "1"], None);
    assert!(!ok && err.contains("--max-locations is required"), "{err}");
    let mut bad = vec!["plan", "create", "bad"];
    bad.extend(limits("-1"));
    let (ok, _, err) = admin(&db, &bad, None);
    assert!(!ok && err.contains("max_skus must be 0 or more"), "{err}");
    let (ok, _, err) = admin(&db, &["plan", "update", "gold", "--max-skus", "9"], None);
    assert!(!ok && err.contains("no plan gold"), "{err}");
    // Only what is given changes.
    let (ok, plan, err) = admin(&db, &["plan", "update", "pro", "--max-users", "6"], None);
    assert!(ok, "{err}");
    assert_eq!(
        (plan["max_users"].as_i64(), plan["max_skus"].as_i64()),
        (Some(6), Some(500))
    );
    let (ok, plans, _) = admin(&db, &["plan", "list"], None);
    assert!(ok);
    assert_eq!(plans.as_array().unwrap().len(), 4);

    let (ok, _, err) = admin(
        &db,
        &[
            "tenant", "create", "--slug", "acme", "--name", "Acme", "--plan", "pro", "--days", "30",
        ],
        None,
    );
    assert!(ok, "{err}");
    for email in ["a@acme.example", "b@acme.example"] {
        let (ok, _, err) = admin(
            &db,
            &[
                "user", "create", "--tenant", "acme", "--email", email, "--name", "A",
            ],
            Some("a long enough password\n"),
        );
        assert!(ok, "{err}");
    }
    let (ok, report, err) = admin(&db, &["tenant", "show", "acme"], None);
    assert!(ok, "{err}");
    assert_eq!(report["slug"], "acme");
    assert_eq!(report["plan"]["code"], "pro");
    assert_eq!(report["expired"], false);
    assert_eq!(report["usage"]["users"]["used"], 2);
    assert_eq!(report["usage"]["users"]["limit"], 6);
    assert_eq!(report["usage"]["skus"]["used"], 0);
    assert_eq!(report["devices"], serde_json::json!([]));
    assert!(report["last_activity"].is_string(), "{report}");
    let (ok, _, _) = admin(&db, &["tenant", "expire", "--slug", "acme"], None);
    assert!(ok);
    let (ok, report, _) = admin(&db, &["tenant", "show", "acme"], None);
    assert!(ok);
    assert_eq!(report["expired"], true);
    let (ok, _, err) = admin(&db, &["tenant", "show", "nope"], None);
    assert!(!ok && err.contains("no tenant with slug nope"), "{err}");
}

/// Kills the server if the test fails before it stops it.
struct Guard(Option<std::process::Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn serve_migrates_answers_and_stops_gracefully_on_sigterm() {
    let db = TestDb::new().await;
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("LOGIFLOW_DATABASE_URL", db.url())
        .env("LOGIFLOW_LISTEN", "127.0.0.1:0")
        .env_remove("LOGIFLOW_JWT_SECRET")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let mut guard = Guard(Some(child));
    // Read the JSON log until the server says where it listens (it binds before saying so).
    let (address, lines, reader) = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            let v: Value = serde_json::from_str(&line).expect("log lines are json");
            lines.push(std::mem::take(&mut line));
            if v["fields"]["message"] == "serving" {
                let address = v["fields"]["address"].as_str().unwrap().to_owned();
                return (address, lines, reader);
            }
        }
        panic!("the server exited before serving: {lines:?}");
    })
    .await
    .unwrap();
    let logs = lines.concat();
    assert!(logs.contains("no jwt secret configured"), "{logs}");
    assert!(!logs.contains(db.url()), "no database url in logs");

    let r = reqwest::get(format!("http://{address}/readyz"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // An authenticated request, to look at what its log lines carry.
    let owner = sqlx::PgPool::connect(db.url()).await.unwrap();
    let tenant = logiflow_server::admin::tenant_create(
        &owner,
        "acme",
        "Acme",
        "standard",
        chrono::Utc::now() + chrono::Duration::days(1),
    )
    .await
    .unwrap();
    let email = "secret.person@acme.example";
    let password = "a password nobody may log";
    logiflow_server::admin::user_create(
        &owner,
        "acme",
        email,
        "Person",
        logiflow_server::rbac::Role::Admin,
        password,
        logiflow_server::tokens::HashCost::Minimal,
    )
    .await
    .unwrap();
    owner.close().await;
    let client = reqwest::Client::new();
    let tokens: Value = client
        .post(format!("http://{address}/v1/auth/login"))
        .json(&serde_json::json!({"tenant": "acme", "email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let r = client
        .get(format!("http://{address}/v1/me"))
        .bearer_auth(&access)
        .header("x-request-id", "log-me-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut child = guard.0.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");

    // The process has exited: the rest of its log is complete.
    let rest: Vec<String> = reader.lines().map(Result::unwrap).collect();
    let logs = rest.join("\n");
    let request_line = rest
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["span"]["request_id"] == "log-me-1" && v["span"]["user"].is_string())
        .unwrap_or_else(|| panic!("a log line of the request with its user: {logs}"));
    assert_eq!(request_line["span"]["tenant"], tenant.id.to_string());
    for secret in [email, password, &access, &refresh] {
        assert!(
            !logs.contains(secret),
            "a secret or email was logged: {logs}"
        );
    }
    assert!(logs.contains("shutting down"), "{logs}");
}
