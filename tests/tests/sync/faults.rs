//! Faults: a TCP proxy that cuts sync (and token refresh) responses half-way (the server
//! committed, the client never heard), a `logiflow sync` killed with SIGKILL mid-push and
//! mid-pull, and the server process killed with SIGKILL mid-push and started again.
//! Afterwards, 0 movements lost and 0 duplicated, and every replica equals the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use logiflow_replica::{DeviceTokens, Error, JournalFilter, Replica, Secret};
use serde_json::Value;

use crate::cli::cli_connect;
use crate::flows::{receive, replica_stock};
use crate::harness::*;

/// A loopback TCP proxy in front of the server. While `cuts` is above zero, every other
/// response on a connection that carried a request for a path containing its pattern
/// (`/v1/sync/` unless told) is cut after a few bytes (both sockets shut down), using up
/// one cut.
struct Proxy {
    base: String,
    cuts: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(upstream: &str) -> Self {
        Self::start_on(upstream, b"/v1/sync/")
    }

    fn start_on(upstream: &str, pattern: &'static [u8]) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let cuts = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let turn = Arc::new(AtomicUsize::new(0));
        {
            let (cuts, done) = (Arc::clone(&cuts), Arc::clone(&done));
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { return };
                    let Ok(server) = TcpStream::connect(&upstream) else {
                        continue;
                    };
                    let sync_seen = Arc::new(AtomicBool::new(false));
                    // Client to server, watching for sync requests.
                    {
                        let (mut from, mut to) =
                            (client.try_clone().unwrap(), server.try_clone().unwrap());
                        let seen = Arc::clone(&sync_seen);
                        std::thread::spawn(move || {
                            let mut buf = [0u8; 16 * 1024];
                            while let Ok(n) = from.read(&mut buf) {
                                if n == 0 {
                                    break;
                                }
                                if buf[..n].windows(pattern.len()).any(|w| w == pattern) {
                                    seen.store(true, Ordering::SeqCst);
                                }
                                if to.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            let _ = to.shutdown(Shutdown::Write);
                        });
                    }
                    // Server to client, cutting some responses.
                    let (cuts, done, turn) =
                        (Arc::clone(&cuts), Arc::clone(&done), Arc::clone(&turn));
                    std::thread::spawn(move || {
                        let (mut from, mut to) = (server, client);
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 {
                                break;
                            }
                            let cut = sync_seen.load(Ordering::SeqCst)
                                && cuts.load(Ordering::SeqCst) > 0
                                && turn.fetch_add(1, Ordering::SeqCst) % 2 == 0
                                && cuts
                                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                                        c.checked_sub(1)
                                    })
                                    .is_ok();
                            if cut {
                                let _ = to.write_all(&buf[..n.min(40)]);
                                let _ = to.shutdown(Shutdown::Both);
                                let _ = from.shutdown(Shutdown::Both);
                                done.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            });
        }
        Self { base, cuts, done }
    }
}

/// Bins and products of the catalog that [`record_receipts`] spreads its receipts over.
///
/// Many products, so that each holds few of the thousands of pending receipts: recording
/// replays the pending entries of the movement's product (`replica::live`), and with 5
/// products these tests spent most of their CPU recording, not on the faults they are
/// about. A product with a long pending journal is the convergence simulations' case.
const BINS: usize = 4;
const PRODUCTS: usize = 50;

/// Records `n` receipts spread over the [`PRODUCTS`] and [`BINS`] of a [`seed`]ed catalog.
fn record_receipts(replica: &mut Replica, n: usize) {
    for i in 0..n {
        replica
            .record(&receive(
                &format!("SKU-{}", i % PRODUCTS + 1),
                &format!("B{}", i % BINS + 1),
                1,
            ))
            .unwrap();
    }
}

#[test]
fn responses_cut_mid_way_are_retried_without_loss_or_duplicates() {
    let server = Server::start("proxy");
    seed(&server, BINS, PRODUCTS);
    let proxy = Proxy::start(&server.base);
    let mut d = connect(&server, &proxy.base, "flaky");
    record_receipts(&mut d.replica, 1_500);

    proxy.cuts.store(6, Ordering::SeqCst);
    let report = d.sync().unwrap();
    assert!(
        proxy.done.load(Ordering::SeqCst) >= 2,
        "the proxy cut nothing"
    );
    assert!(report.retries >= 1, "{report:?}");
    assert_eq!(server.movements_of(d.id()), (1_500, 1_500));
    assert_eq!(d.replica.status().unwrap().pending, 0);

    // A second replica whose whole snapshot crosses cut connections.
    proxy.cuts.store(6, Ordering::SeqCst);
    let mut d2 = connect(&server, &proxy.base, "flaky 2");
    d.sync().unwrap();
    d2.sync().unwrap();
    let truth = server.stock();
    assert_eq!(truth.iter().map(|r| r.2).sum::<i64>(), 1_500);
    assert_eq!(replica_stock(&d), truth);
    assert_eq!(replica_stock(&d2), truth);
}

#[test]
fn an_unreachable_server_is_exit_code_3_within_the_time_bound() {
    let server = Server::start("unreach");
    seed(&server, 1, 1);
    // A port nothing listens on: bind one, note it, close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let (db, creds, _) = cli_connect(&server, dir.path(), &server.base, "far");
    // Point the replica at the dead port (the CLI has no command to change the URL).
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "update device set server_url = ?1",
            [format!("http://127.0.0.1:{port}")],
        )
        .unwrap();
    let started = Instant::now();
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "sync", "--timeout", "3"]);
    let out = run(cmd, "");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Runs `logiflow --json sync` and kills it with SIGKILL once a progress line on stderr
/// satisfies `when`; returns whether it was killed (false: it finished first).
fn sync_killed_when(
    db: &std::path::Path,
    creds: &std::path::Path,
    extra: &[&str],
    when: impl Fn(&Value) -> bool,
) -> bool {
    let mut cmd = cli(db, creds);
    cmd.args(["--json", "sync"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut killed = false;
    for line in stderr.lines() {
        let Ok(line) = line else { break };
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if when(&v["progress"]) {
            child.kill().unwrap(); // SIGKILL on Unix
            killed = true;
            break;
        }
        assert!(Instant::now() < deadline, "the sync ran too long");
    }
    let _ = child.wait();
    killed
}

#[test]
fn a_sync_killed_mid_push_and_mid_pull_resumes_without_loss_or_duplicates() {
    let server = Server::start("kill");
    seed(&server, BINS, PRODUCTS);
    let dir1 = tempfile::tempdir().unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let (db1, creds1, c1) = cli_connect(&server, dir1.path(), &server.base, "pusher");
    let (db2, creds2, _) = cli_connect(&server, dir2.path(), &server.base, "puller");
    let device1: uuid::Uuid = c1["device"]["device"].as_str().unwrap().parse().unwrap();
    {
        let mut r = Replica::open(&db1).unwrap();
        record_receipts(&mut r, 2_500);
    }

    // Mid-push: killed as soon as the first batch is answered, while the next is out.
    let killed = sync_killed_when(&db1, &creds1, &[], |p| {
        p["phase"] == "pushing" && p["pushed"].as_u64().unwrap_or(0) >= 1_000
    });
    assert!(killed, "the push finished before it could be killed");
    let pending = Replica::open(&db1).unwrap().status().unwrap().pending;
    assert!(pending < 2_500, "pending {pending}");
    let mut cmd = cli(&db1, &creds1);
    cmd.args(["--json", "sync"]);
    let out = run(cmd, "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.movements_of(device1), (2_500, 2_500));
    let r1 = Replica::open(&db1).unwrap();
    assert_eq!(r1.status().unwrap().pending, 0);
    assert!(
        r1.journal(&JournalFilter::default())
            .unwrap()
            .iter()
            .all(|e| e.outcome.as_deref() == Some("applied"))
    );

    // Mid-pull: the second replica is behind by 2,500 movements; small pages; killed
    // once the first page is applied.
    let killed = sync_killed_when(&db2, &creds2, &["--page-size", "50"], |p| {
        p["phase"] == "pulling" && p["pages"].as_u64().unwrap_or(0) >= 1
    });
    assert!(killed, "the pull finished before it could be killed");
    let mut cmd = cli(&db2, &creds2);
    cmd.args(["--json", "sync", "--page-size", "50"]);
    let out = run(cmd, "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let truth = server.stock();
    assert_eq!(truth.iter().map(|r| r.2).sum::<i64>(), 2_500);
    let view = |db: &std::path::Path| {
        let mut v: Vec<(String, String, i64)> = Replica::open(db)
            .unwrap()
            .stock(&logiflow_replica::StockQuery {
                limit: Some(10_000),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .filter(|l| l.on_hand != 0)
            .map(|l| (l.sku, l.location_code, l.on_hand))
            .collect();
        v.sort();
        v
    };
    assert_eq!(view(&db1), truth);
    assert_eq!(view(&db2), truth);
}

/// A `logiflow-server serve` process on the test's database, on a fixed port so that it
/// can be killed and started again at the same address.
pub struct ServerProcess {
    child: std::process::Child,
}

impl ServerProcess {
    pub fn start(server: &Server, port: u16) -> Self {
        Self::start_with(server, port, &[])
    }

    /// [`ServerProcess::start`] with more configuration variables (`LOGIFLOW_…`).
    pub fn start_with(server: &Server, port: u16, env: &[(&str, &str)]) -> Self {
        let child = std::process::Command::new(workspace_bin("logiflow-server"))
            .arg("serve")
            .env("LOGIFLOW_DATABASE_URL", server.database_url())
            .env("LOGIFLOW_LISTEN", format!("127.0.0.1:{port}"))
            .env("LOGIFLOW_JWT_SECRET", server.jwt_secret())
            .env("LOGIFLOW_DB_MAX_CONNECTIONS", "5")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Ready when it answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("http://127.0.0.1:{port}/healthz");
        while !reqwest::blocking::get(&url).is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL on Unix
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_server_killed_mid_push_and_restarted_loses_and_duplicates_nothing() {
    let server = Server::start("restart");
    seed(&server, BINS, PRODUCTS);
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let process = ServerProcess::start(&server, port);
    let base = format!("http://127.0.0.1:{port}");
    let mut d = connect(&server, &base, "survivor");
    let device = d.id();
    record_receipts(&mut d.replica, 2_000);

    // The sync runs on its own thread; the server is killed once part of the journal has
    // arrived, and started again a moment later at the same address.
    let syncing = std::thread::spawn(move || {
        let report = d.sync();
        (d, report)
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while server.movements_of(device).0 < 1_000 {
        assert!(Instant::now() < deadline, "the push never started");
        assert!(!syncing.is_finished(), "the sync ended before the kill");
        std::thread::sleep(Duration::from_millis(5));
    }
    process.kill();
    let arrived = server.movements_of(device).0;
    std::thread::sleep(Duration::from_millis(300));
    let _again = ServerProcess::start(&server, port);
    let (d, report) = syncing.join().unwrap();
    let report = report.unwrap();
    assert!(
        arrived < 2_000,
        "the kill came after the whole push ({arrived})"
    );
    assert!(report.retries >= 1, "{report:?}");
    assert_eq!(server.movements_of(device), (2_000, 2_000));
    assert_eq!(d.replica.status().unwrap().pending, 0);
    let truth = server.stock();
    assert_eq!(truth.iter().map(|r| r.2).sum::<i64>(), 2_000);
    assert_eq!(replica_stock(&d), truth);
}

#[test]
fn a_refresh_whose_answer_is_lost_is_retried_and_the_session_lives_on() {
    let server = Server::start("refresh-cut");
    seed(&server, 1, 1);
    let proxy = Proxy::start_on(&server.base, b"/v1/auth/refresh");
    let mut d = connect(&server, &proxy.base, "flaky refresh");
    let device = d.replica.device().unwrap().unwrap().device;
    let expire = |d: &Device| {
        let tokens = d.store.load(device).unwrap().unwrap();
        d.store
            .save(
                device,
                &DeviceTokens {
                    access_expires_at: Some(chrono::Utc::now() - chrono::Duration::minutes(1)),
                    ..tokens.clone()
                },
            )
            .unwrap();
        tokens
    };

    // The server rotates the token and commits; the answer is cut on the way back. The
    // client resends with the retry key it saved, and gets a new pair.
    let first = expire(&d);
    proxy.cuts.store(1, Ordering::SeqCst);
    d.replica.record(&receive("SKU-1", "B1", 1)).unwrap();
    let report = d.sync().unwrap();
    assert_eq!(
        proxy.done.load(Ordering::SeqCst),
        1,
        "the proxy cut no refresh"
    );
    assert_eq!(report.applied, 1, "{report:?}");
    let second = d.store.load(device).unwrap().unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert!(
        second.retry_key.is_none(),
        "the key is dropped once answered"
    );

    // The process died while waiting: the exchange happened on the server (with the key
    // saved before the request), its answer was never read. The next sync resends it.
    let key = "a-key-saved-before-the-process-died";
    d.store
        .save(
            device,
            &DeviceTokens {
                access_token: None,
                access_expires_at: None,
                retry_key: Some(Secret::new(key)),
                ..second.clone()
            },
        )
        .unwrap();
    server.send(
        reqwest::Method::POST,
        "/v1/auth/refresh",
        None,
        Some(serde_json::json!({
            "refresh_token": second.refresh_token.expose(),
            "retry_key": key,
        })),
        200,
    );
    d.replica.record(&receive("SKU-1", "B1", 1)).unwrap();
    let report = d.sync().unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    assert_eq!(server.movements_of(d.id()), (2, 2));

    // Without its key, the spent token is a reuse: the session ends, the journal stays.
    let third = d.store.load(device).unwrap().unwrap();
    d.store
        .save(
            device,
            &DeviceTokens {
                access_token: None,
                access_expires_at: None,
                retry_key: None,
                ..second
            },
        )
        .unwrap();
    d.replica.record(&receive("SKU-1", "B1", 1)).unwrap();
    let err = d.sync().unwrap_err();
    assert!(matches!(err, Error::CredentialsInvalid(_)), "{err:?}");
    d.store.save(device, &third).unwrap();
    let err = d.sync().unwrap_err();
    assert!(matches!(err, Error::CredentialsInvalid(_)), "{err:?}");
    assert_eq!(d.replica.status().unwrap().pending, 1);
}

#[test]
fn an_import_upload_whose_answer_is_lost_is_retried_with_its_key_and_validated_once() {
    let server = Server::start("import-cut");
    seed(&server, 1, 1);
    let proxy = Proxy::start_on(&server.base, b"POST /v1/imports?");
    let dir = tempfile::tempdir().unwrap();
    let (db, creds, _) = cli_connect(&server, dir.path(), &proxy.base, "flaky import");
    let file = dir.path().join("products.csv");
    std::fs::write(&file, "sku,name\nCUT-1,Cut once\n").unwrap();

    // The server creates the job; its answer is cut on the way back. The CLI sends the
    // upload again with the same Idempotency-Key and is answered the same job.
    proxy.cuts.store(1, Ordering::SeqCst);
    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "import", "products"])
        .arg(&file)
        .arg("--commit");
    let out = run(cmd, "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        proxy.done.load(Ordering::SeqCst),
        1,
        "the proxy cut no upload"
    );
    let jobs: i64 = server.block_on(async {
        sqlx::query_scalar("select count(*) from import_job")
            .fetch_one(&server.owner)
            .await
            .unwrap()
    });
    assert_eq!(jobs, 1, "one upload, one job");
    let products: i64 = server.block_on(async {
        sqlx::query_scalar("select count(*) from product where sku = 'CUT-1'")
            .fetch_one(&server.owner)
            .await
            .unwrap()
    });
    assert_eq!(products, 1);
}
