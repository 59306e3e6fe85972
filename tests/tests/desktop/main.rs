//! The desktop app end to end: the real binary, driven through tauri-driver and
//! WebKitWebDriver under Xvfb, on a replica seeded through the replica's own API.
//!
//! `cargo xtask test` runs it with the other tests, after building the app and
//! installing tauri-driver (its `test build` step); it passes them in
//! `LOGIFLOW_DESKTOP_BIN` and `TAURI_DRIVER`.
//! Each step saves a screenshot in `$LOGIFLOW_E2E_SCREENSHOTS` (default
//! `target/e2e-screenshots`). A second test checks that a second launch hands over to the
//! running app (single instance) on a private D-Bus session bus. `connect.rs` connects
//! the app to a real server; `alerts.rs` checks the bell and the OS notifications (a
//! notification server on a private bus); `scenario.rs` walks the whole scenario
//! (offline work, a server restart, a held movement forced from the app, sign-out) with
//! the tokens in a real Secret Service; `imports.rs` imports a workbook and generates
//! bins; `backoffice.rs` visits every Back office section as an admin; `orders.rs`
//! receives a purchase order by scanner and picks a wave of sales orders offline.
//!
//! Screenshots come from the X server (x11rb), not WebDriver: under Xvfb,
//! WebKitWebDriver's screenshot answers once and then hangs. The app runs on a fresh
//! profile (XDG directories in the test's temporary directory), and everything started
//! is stopped by Drop guards (SIGTERM to tauri-driver first, then its process group).

mod alerts;
mod backoffice;
mod connect;
mod imports;
mod orders;
mod scenario;
// The sync tests' server harness; this file uses only part of it.
#[allow(dead_code)]
#[path = "../sync/harness.rs"]
mod harness;
mod support;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use logiflow_core::{PullPage, TenantId, UserId};
use logiflow_replica::Replica;
use serde_json::json;

use support::{Display, Driver};

/// How long the UI may take to show what a step expects.
const UI_TIMEOUT_MS: u64 = 20_000;

/// The most the whole walk through the app may take.
const WALK_TIMEOUT_MS: u64 = 150_000;

/// How often the page is polled while waiting.
const UI_POLL_MS: u64 = 100;

const CATALOG: &str = include_str!("catalog.json");

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn app_binary() -> PathBuf {
    let app = env_path("LOGIFLOW_DESKTOP_BIN").expect(
        "LOGIFLOW_DESKTOP_BIN is not set: run this test through `cargo xtask test`, which \
         builds the app first",
    );
    assert!(app.is_file(), "no app binary at {}", app.display());
    std::path::absolute(app).expect("failed to make the app path absolute")
}

fn screenshots_dir() -> PathBuf {
    let dir = env_path("LOGIFLOW_E2E_SCREENSHOTS")
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots"));
    std::fs::create_dir_all(&dir).expect("failed to create the screenshot directory");
    dir
}

/// A replica with a device identity and the catalog of `catalog.json`, imported as the
/// server's pull page would be.
fn seed(data_dir: &Path) -> PathBuf {
    let path = data_dir.join("replica.db");
    let mut replica = Replica::open(&path).expect("failed to create the replica");
    replica
        .init_device(
            id::<TenantId>("01900000-0000-7000-8000-000000000001"),
            id::<UserId>("01900000-0000-7000-8000-000000000002"),
            "https://logiflow.invalid",
            None,
        )
        .expect("failed to set up the device");
    let page: PullPage = serde_json::from_str(CATALOG).expect("catalog.json is a pull page");
    let applied = replica
        .import_page(&page)
        .expect("failed to import the catalog");
    assert_eq!(applied.rows, 3);
    path
}

/// The app's environment under test: `display`, the replica in `data_dir`, and `extra`
/// (the server, the credential store, the session bus).
fn app_env<'a>(
    display: &'a str,
    data_dir: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("DISPLAY", display),
        ("LOGIFLOW_DATA_DIR", data_dir),
        // A fresh profile every run: the app's config (the remembered window size) and
        // the webview's storage (the chosen theme) stay in the temp dir too.
        ("XDG_CONFIG_HOME", data_dir),
        ("XDG_DATA_HOME", data_dir),
        ("XDG_CACHE_HOME", data_dir),
        // Xvfb has no GPU: WebKitGTK's DMA-BUF renderer can leave the page blank there,
        // so screenshots would show nothing.
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        // No accessibility bus under Xvfb; without this GTK warns at every start.
        ("NO_AT_BRIDGE", "1"),
    ];
    env.extend_from_slice(extra);
    env
}

/// Awaits a walk through the app, bounded by `limit_ms` well inside nextest's limit, so
/// that a hung WebDriver call ends in a panic (with tauri-driver's log) and the guards
/// still stop everything.
async fn bounded(driver: &Driver, limit_ms: u64, walk: impl Future<Output = ()>) {
    if tokio::time::timeout(Duration::from_millis(limit_ms), walk)
        .await
        .is_err()
    {
        panic!(
            "the walk through the app took over {limit_ms} ms; tauri-driver's log:\n{}",
            driver.log_text()
        );
    }
}

/// Runs `walk` in a WebDriver session of `app` on a runtime of its own, bounded by
/// `limit_ms` ([`bounded`]), then ends the session.
fn drive(
    driver: &Driver,
    app: &Path,
    display: &Display,
    limit_ms: u64,
    walk: impl AsyncFnOnce(&Client, &Shots<'_>),
) {
    let dir = screenshots_dir();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("failed to start a runtime");
    rt.block_on(async {
        let session = driver.session(app).await;
        let shots = Shots {
            dir: &dir,
            display: &display.name,
        };
        bounded(driver, limit_ms, walk(&session, &shots)).await;
        session.close().await.expect("failed to end the session");
    });
}

/// Starts the app (through tauri-driver, on the test display) against the server at
/// `server_base`, its replica, profile and credential file in `data` and `extra` on its
/// environment; runs `walk` in a WebDriver session ([`drive`]); then stops everything.
fn run_app(
    server_base: &str,
    data: &Path,
    extra: &[(&str, &str)],
    limit_ms: u64,
    walk: impl AsyncFnOnce(&Client, &Shots<'_>),
) {
    let app = app_binary();
    let driver_bin = env_path("TAURI_DRIVER").unwrap_or_else(|| "tauri-driver".into());
    let data_dir = data.to_str().expect("temp paths are UTF-8");
    let credentials = format!("file:{}", data.join("credentials.json").display());
    let display = Display::get();
    let mut env = vec![
        ("LOGIFLOW_SERVER_URL", server_base),
        ("LOGIFLOW_CREDENTIALS", credentials.as_str()),
    ];
    env.extend_from_slice(extra);
    let _log = AppLogOnFailure(app_log(data));
    let driver = Driver::start(
        &driver_bin,
        &app_env(&display.name, data_dir, &env),
        data.join("tauri-driver.log"),
    );
    drive(&driver, &app, &display, limit_ms, walk);
    drop(driver);
    drop(display);
}

/// The app's own log, with its data directory `data` as `XDG_DATA_HOME`.
fn app_log(data: &Path) -> PathBuf {
    data.join("com.logiflow.desktop/logs/logiflow-desktop.log")
}

/// Prints the end of the app's log when the test fails, before its data directory is
/// deleted: what the window shows says that something did not happen (a count that
/// stays, a notice that never comes), the log says why (a sync that failed, and its
/// code).
struct AppLogOnFailure(PathBuf);

/// How many of the log's last lines a failure prints.
const APP_LOG_TAIL_LINES: usize = 60;

impl Drop for AppLogOnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        match std::fs::read_to_string(&self.0) {
            Ok(log) => {
                let lines: Vec<&str> = log.lines().collect();
                let tail = &lines[lines.len().saturating_sub(APP_LOG_TAIL_LINES)..];
                eprintln!(
                    "the app's log, last {} lines ({}):\n{}",
                    tail.len(),
                    self.0.display(),
                    tail.join("\n")
                );
            }
            Err(e) => eprintln!("no app log at {}: {e}", self.0.display()),
        }
    }
}

/// Connects the app to the server it was started with, as `email`, keeping warehouse
/// WH1 offline, through the Sync screen; returns once the first sync is done.
async fn connect_app(client: &Client, tenant: &str, email: &str) {
    by_id(client, "nav-sync").await.click().await.unwrap();
    by_id(client, "connect-tenant")
        .await
        .send_keys(tenant)
        .await
        .unwrap();
    by_id(client, "connect-email")
        .await
        .send_keys(email)
        .await
        .unwrap();
    by_id(client, "connect-password")
        .await
        .send_keys(&format!("{}{}", harness::PASSWORD, enter()))
        .await
        .unwrap();
    by_id(client, "connect-wh-WH1").await;
    by_id(client, "connect-submit").await.click().await.unwrap();
    let notice = wait_text(client, "connect-notice", |t| !t.is_empty()).await;
    assert_eq!(notice, "Connected. The first sync is done.");
    wait_text(client, "sync-indicator", |t| t == "Online").await;
}

/// Runs blocking server work (the harness drives its own runtime) from inside the walk's
/// runtime, on a thread of its own.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(work).join().expect("the server work panicked"))
}

/// An id from its JSON form, as the server would send it.
fn id<T: serde::de::DeserializeOwned>(uuid: &str) -> T {
    serde_json::from_value(json!(uuid)).expect("a valid id")
}

/// Polls `check` until it gives `Some`, or fails the test after [`UI_TIMEOUT_MS`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_millis(UI_TIMEOUT_MS);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {UI_TIMEOUT_MS} ms waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(UI_POLL_MS)).await;
    }
}

/// The text of the element with `data-testid`, once it exists.
async fn text_of(client: &Client, test_id: &str) -> Option<String> {
    let element = client
        .find(Locator::Css(&format!("[data-testid=\"{test_id}\"]")))
        .await
        .ok()?;
    element.text().await.ok()
}

async fn wait_text(client: &Client, test_id: &str, wanted: impl Fn(&str) -> bool) -> String {
    let wanted = &wanted;
    eventually(
        &format!("[data-testid={test_id}] to read as expected"),
        move || async move { text_of(client, test_id).await.filter(|text| wanted(text)) },
    )
    .await
}

async fn by_id(client: &Client, test_id: &str) -> fantoccini::elements::Element {
    eventually(&format!("[data-testid={test_id}]"), move || async move {
        client
            .find(Locator::Css(&format!("[data-testid=\"{test_id}\"]")))
            .await
            .ok()
    })
    .await
}

/// The server address the app is started with (nothing listens there: it is shown only).
const SERVER_URL: &str = "http://127.0.0.1:8080";

/// The element with `data-testid`, once it is enabled.
async fn wait_enabled(client: &Client, test_id: &str) -> fantoccini::elements::Element {
    let input = by_id(client, test_id).await;
    let field = &input;
    eventually(
        &format!("[data-testid={test_id}] to be enabled"),
        move || async move { field.is_enabled().await.ok().filter(|enabled| *enabled) },
    )
    .await;
    input
}

/// Types `text` and Enter into the element with `data-testid`, once it is enabled.
async fn type_enter(client: &Client, test_id: &str, text: &str) {
    let input = wait_enabled(client, test_id).await;
    input
        .send_keys(&format!("{text}{}", enter()))
        .await
        .unwrap_or_else(|e| panic!("failed to type into {test_id}: {e}"));
}

/// The stock list's rendered rows, each as its cells joined by spaces.
async fn stock_rows(client: &Client) -> Vec<String> {
    let rows = client
        .execute(
            "return Array.from(document.querySelectorAll('[data-testid=\"stock-row\"]'))\
               .map(row => Array.from(row.children).map(cell => cell.textContent).join(' '));",
            vec![],
        )
        .await
        .unwrap_or_default();
    serde_json::from_value(rows).unwrap_or_default()
}

/// Where screenshots go and which display they are taken from.
struct Shots<'a> {
    dir: &'a Path,
    display: &'a str,
}

/// Saves the screen as `name`, once the page has painted what the step changed.
async fn screenshot(client: &Client, shots: &Shots<'_>, name: &str) {
    // Two animation frames: the DOM changes of the step are painted by then.
    client
        .execute_async(
            "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(1)));",
            vec![],
        )
        .await
        .expect("failed to wait for the page to paint");
    let png = support::screenshot_png(shots.display);
    std::fs::write(shots.dir.join(name), png).expect("failed to save the screenshot");
}

fn enter() -> char {
    Key::Enter.into()
}

fn escape() -> char {
    Key::Escape.into()
}

async fn scan(client: &Client, code: &str, qty: &str) {
    let scan = &by_id(client, "scan-input").await;
    eventually("the scan field to be enabled", move || async move {
        scan.is_enabled().await.ok().filter(|enabled| *enabled)
    })
    .await;
    scan.send_keys(&format!("{code}{}", enter()))
        .await
        .expect("failed to type the scan");
    let qty_input = &by_id(client, "qty-input").await;
    eventually("the quantity field to be enabled", move || async move {
        qty_input.is_enabled().await.ok().filter(|enabled| *enabled)
    })
    .await;
    qty_input
        .send_keys(&format!("{qty}{}", enter()))
        .await
        .expect("failed to type the quantity");
}

/// The feedback banner's tone and text once it shows `tone`.
async fn feedback(client: &Client, tone: &str) -> String {
    eventually(&format!("{tone} feedback"), move || async move {
        let banner = client
            .find(Locator::Css(&format!(
                "[data-testid=\"feedback\"] [data-tone=\"{tone}\"]"
            )))
            .await
            .ok()?;
        banner.text().await.ok()
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn search_stock_then_receive_by_scanner_and_see_it_pending() {
    let app = app_binary();
    let driver_bin = env_path("TAURI_DRIVER").unwrap_or_else(|| PathBuf::from("tauri-driver"));
    let shots = screenshots_dir();
    let data = tempfile::tempdir().expect("failed to create a data directory");
    let replica_path = seed(data.path());

    let display = Display::get();
    let data_dir = data.path().to_str().expect("temp paths are UTF-8");
    let driver = Driver::start(
        &driver_bin,
        &app_env(
            &display.name,
            data_dir,
            &[("LOGIFLOW_SERVER_URL", SERVER_URL)],
        ),
        data.path().join("tauri-driver.log"),
    );

    let session = driver.session(&app).await;

    let shots = Shots {
        dir: &shots,
        display: &display.name,
    };
    bounded(
        &driver,
        WALK_TIMEOUT_MS,
        walk(&session, &shots, &replica_path, data.path()),
    )
    .await;

    session.close().await.expect("failed to end the session");
    drop(driver);
    drop(display);
}

/// The steps, each ending in a screenshot.
async fn walk(client: &Client, shots: &Shots<'_>, replica_path: &Path, data_dir: &Path) {
    // What the window shows before anything is asked of it, for a failure's post-mortem.
    screenshot(client, shots, "00-start.png").await;
    eprintln!("e2e: step 1, dashboard");
    // 1. The dashboard: the seeded replica, nothing pending, honestly offline.
    wait_text(client, "pending-count", |t| t == "0").await;
    // A device set up by hand, never registered with a server: it cannot sync, and the
    // dashboard says so rather than "Online".
    let connection = wait_text(client, "connection", |t| !t.is_empty() && t != "Syncing…").await;
    assert!(
        connection.starts_with("Offline") || connection.starts_with("Signed out"),
        "{connection}"
    );
    let path = wait_text(client, "replica-path", |t| t != "–").await;
    assert_eq!(Path::new(&path), replica_path);
    // Stock figures: 40 + 250 + 1,200 units; BOLT-10 has 35 available (40 less 5
    // allocated) against a reorder point of 50.
    wait_text(client, "kpi-on-hand", |t| t == "1,490").await;
    wait_text(client, "kpi-low-stock", |t| t == "1").await;
    let low = wait_text(client, "low-stock-list", |t| t.contains("BOLT-10")).await;
    assert!(low.contains("35") && low.contains("50"), "{low}");
    screenshot(client, shots, "01-dashboard.png").await;

    eprintln!("e2e: step 2, stock search");
    // 2. Stock search, by name and by barcode.
    by_id(client, "nav-stock").await.click().await.unwrap();
    let search = by_id(client, "stock-search").await;
    search.send_keys("hex").await.unwrap();
    let rows = eventually("two hex rows", move || async move {
        Some(stock_rows(client).await).filter(|rows| rows.len() == 2)
    })
    .await;
    assert!(
        rows[0].contains("BOLT-10") && rows[1].contains("NUT-10"),
        "{rows:?}"
    );
    search.clear().await.unwrap();
    search.send_keys("4006381333948").await.unwrap();
    let rows = eventually("the nut by barcode", move || async move {
        Some(stock_rows(client).await).filter(|rows| rows.len() == 1 && rows[0].contains("NUT-10"))
    })
    .await;
    assert!(rows[0].contains("250"), "{rows:?}");
    screenshot(client, shots, "02-stock-search.png").await;

    eprintln!("e2e: step 3, receive by scanner");
    // 3. Receive 12 bolts into A-02 by scanning the barcode.
    by_id(client, "nav-movement").await.click().await.unwrap();
    by_id(client, "kind-receive").await.click().await.unwrap();
    by_id(client, "bin-to")
        .await
        .send_keys(&format!("A-02{}", enter()))
        .await
        .unwrap();
    scan(client, "4006381333931", "12").await;
    let message = feedback(client, "ok").await;
    assert_eq!(message, "Recorded #1: Receive 12 × 4006381333931");
    screenshot(client, shots, "03-receive-recorded.png").await;

    eprintln!("e2e: step 4, unknown scan");
    // 4. An unknown scan is refused in red at once, before any quantity, and nothing
    // is recorded.
    type_enter(client, "scan-input", "NOPE-404").await;
    let message = feedback(client, "error").await;
    assert!(message.starts_with("Unknown item:"), "{message}");
    screenshot(client, shots, "04-unknown-scan.png").await;

    eprintln!("e2e: step 5, pending count");
    // 5. The dashboard counts the one pending entry...
    by_id(client, "nav-dashboard").await.click().await.unwrap();
    wait_text(client, "pending-count", |t| t == "1").await;
    // ...and its 12 bolts at once, though not sent: still below the reorder point.
    wait_text(client, "kpi-on-hand", |t| t == "1,502").await;
    wait_text(client, "low-stock-list", |t| t.contains("47")).await;
    screenshot(client, shots, "05-dashboard-pending.png").await;

    // ...and the stock list shows it as pending in A-02.
    by_id(client, "nav-stock").await.click().await.unwrap();
    by_id(client, "stock-search")
        .await
        .send_keys("BOLT")
        .await
        .unwrap();
    let rows = eventually("the bolt in two bins", move || async move {
        Some(stock_rows(client).await).filter(|rows| rows.len() == 2)
    })
    .await;
    let received = rows
        .iter()
        .find(|row| row.contains("A-02"))
        .unwrap_or_else(|| panic!("no A-02 row in {rows:?}"));
    assert!(received.contains("12"), "{received}");
    screenshot(client, shots, "06-stock-pending.png").await;

    // The bolt's history: this device has no server session, so it is the journal's
    // own entry, not sent yet, and the panel says why the rest is missing.
    by_id(client, "history-product")
        .await
        .click()
        .await
        .unwrap();
    wait_text(client, "history-title", |t| t == "History of BOLT-10").await;
    by_id(client, "history-unavailable").await;
    let row = wait_text(client, "history-row", |t| t.contains("Receive")).await;
    for part in ["BOLT-10", "12", "– → A-02", "This device", "Not sent yet"] {
        assert!(row.contains(part), "{part} missing from {row}");
    }
    screenshot(client, shots, "06a-history-offline.png").await;
    by_id(client, "history-close").await.click().await.unwrap();

    eprintln!("e2e: step 6, dark theme");
    // 6. The dark theme, for the night shift.
    let theme = async || {
        client
            .execute("return document.documentElement.dataset.theme;", vec![])
            .await
            .expect("failed to read the theme")
    };
    assert_eq!(
        theme().await,
        json!("light"),
        "a fresh profile starts light"
    );
    by_id(client, "theme").await.click().await.unwrap();
    assert_eq!(theme().await, json!("dark"));
    screenshot(client, shots, "07-stock-dark.png").await;

    // The journal on disk agrees with the screen.
    let status = Replica::open(replica_path)
        .and_then(|replica| replica.status())
        .expect("failed to read the replica");
    assert_eq!((status.pending, status.last_seq), (1, 1));

    eprintln!("e2e: step 7, blind cycle count of a zone");
    // 7. A blind count of zone Z1: bin A-01 by scanner (one short, one right, one
    // unknown scan), then bin A-02; the expected quantities stay hidden until the review.
    by_id(client, "nav-count").await.click().await.unwrap();
    by_id(client, "count-blind").await.click().await.unwrap();
    type_enter(client, "count-scope", "Z1").await;
    let heading = wait_text(client, "count-heading", |t| t.contains("Z1")).await;
    assert!(heading.contains("Counting Z1 in W1"), "{heading}");
    assert!(heading.contains("Blind count"), "{heading}");
    type_enter(client, "count-bin", "A-01").await;
    let bin_rows = wait_text(client, "count-bin-rows", |t| t.contains("BOLT-10")).await;
    assert!(
        bin_rows.contains("hidden") && !bin_rows.contains("250"),
        "a blind count shows no expected quantity: {bin_rows}"
    );
    scan(client, "4006381333931", "38").await;
    wait_text(client, "feedback", |t| {
        t == "A-01: BOLT-10 +38 (counted 38)"
    })
    .await;
    scan(client, "NUT-10", "250").await;
    wait_text(client, "feedback", |t| t.starts_with("A-01: NUT-10 +250")).await;
    type_enter(client, "scan-input", "NOPE-404").await;
    let message = feedback(client, "error").await;
    assert!(message.starts_with("Unknown item:"), "{message}");
    screenshot(client, shots, "08-count-unknown-scan.png").await;
    // Esc leaves the bin; the next bin is scanned.
    by_id(client, "scan-input")
        .await
        .send_keys(&escape().to_string())
        .await
        .unwrap();
    type_enter(client, "count-bin", "A-02").await;
    scan(client, "WASHER-10", "1,190").await;
    wait_text(client, "feedback", |t| {
        t.starts_with("A-02: WASHER-10 +1,190")
    })
    .await;
    screenshot(client, shots, "09-count-scanning.png").await;

    eprintln!("e2e: step 8, review the variances and submit");
    // 8. The review reveals the variances: BOLT-10 −2 and WASHER-10 −10; the bolts
    // received into A-02 in step 3 were not counted, so they are not submitted.
    by_id(client, "count-review").await.click().await.unwrap();
    let summary = wait_text(client, "count-summary", |t| !t.is_empty()).await;
    assert_eq!(
        summary,
        "3 of 4 rows counted · 2 with a variance · net \u{2212}12"
    );
    let rows = eventually("the review's rows", move || async move {
        let rows: Vec<String> = serde_json::from_value(
            client
                .execute(
                    "return Array.from(document.querySelectorAll('[data-testid=\"count-row\"]'))\
                       .map(row => Array.from(row.children).map(cell => \
                         cell.querySelector('input') ? cell.querySelector('input').value : cell.textContent.trim()).join(' '));",
                    vec![],
                )
                .await
                .ok()?,
        )
        .ok()?;
        Some(rows).filter(|rows| rows.len() == 4)
    })
    .await;
    assert_eq!(
        rows,
        [
            "A-02 WASHER-10 Washer M10  1,200 1190 \u{2212}10",
            "A-01 BOLT-10 Hex bolt M10  40 38 \u{2212}2",
            "A-01 NUT-10 Hex nut M10  250 250 0",
            "A-02 BOLT-10 Hex bolt M10  12  –",
        ]
    );
    screenshot(client, shots, "10-count-review.png").await;
    by_id(client, "count-submit").await.click().await.unwrap();
    let message = feedback(client, "ok").await;
    assert_eq!(message, "Recorded 3 counts (#2–#4)");
    screenshot(client, shots, "11-count-recorded.png").await;

    // One journaled count per counted row, and the projection follows them.
    let replica = Replica::open(replica_path).expect("failed to open the replica");
    let status = replica.status().expect("failed to read the replica");
    assert_eq!((status.pending, status.last_seq), (4, 4));
    let counts: Vec<_> = replica
        .journal(&Default::default())
        .expect("failed to read the journal")
        .into_iter()
        .filter(|entry| entry.kind == "count")
        .collect();
    assert_eq!(counts.len(), 3);
    assert!(
        counts.iter().all(|entry| matches!(
            entry.movement.kind,
            logiflow_core::MovementKind::Count { expected: None, .. }
        )),
        "a blind count records no expected quantity"
    );
    let bolts: Vec<(String, i64)> = replica
        .stock(&logiflow_replica::StockQuery {
            search: Some(logiflow_replica::Search::SkuPrefix("BOLT".into())),
            ..Default::default()
        })
        .expect("failed to read the stock")
        .into_iter()
        .map(|line| (line.location_code, line.on_hand))
        .collect();
    assert_eq!(bolts, [("A-01".to_owned(), 38), ("A-02".to_owned(), 12)]);

    eprintln!("e2e: step 9, settings");
    // 9. Settings: the server the app was started with, and the theme back to light.
    by_id(client, "nav-settings").await.click().await.unwrap();
    wait_text(client, "settings-server", |t| t == SERVER_URL).await;
    let replica_shown = wait_text(client, "settings-replica", |t| !t.is_empty()).await;
    assert_eq!(Path::new(&replica_shown), replica_path);
    by_id(client, "settings-theme-light")
        .await
        .click()
        .await
        .unwrap();
    assert_eq!(theme().await, json!("light"));
    screenshot(client, shots, "12-settings.png").await;

    // The app logged to its log directory (XDG_DATA_HOME is the test's data dir).
    let log = app_log(data_dir);
    let log = std::fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("failed to read the app's log {}: {e}", log.display()));
    assert!(log.contains("recorded a count of 3 rows"), "{log}");
}

/// A child process killed (if still running) and reaped when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Polls `check` until it holds, or fails the test after [`UI_TIMEOUT_MS`].
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_millis(UI_TIMEOUT_MS);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {UI_TIMEOUT_MS} ms waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(UI_POLL_MS));
    }
}

/// Single instance: with the first app running, a second launch hands over to it
/// (tauri-plugin-single-instance, over the D-Bus session bus) and exits at once, and the
/// first one hears of it (its log says so).
#[test]
fn a_second_launch_hands_over_to_the_running_app_and_exits() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let app = app_binary();
    let display = Display::get();
    let data = tempfile::tempdir().expect("failed to create a data directory");
    seed(data.path());
    // A private session bus: both launches meet on it, and nothing else is on it.
    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("failed to start dbus-daemon (Debian package dbus)");
    let mut address = String::new();
    std::io::BufReader::new(bus.stdout.take().expect("piped"))
        .read_line(&mut address)
        .expect("failed to read the bus address");
    let _bus = Killed(bus);
    let launch = || {
        let mut cmd = Command::new(&app);
        cmd.env("DISPLAY", &display.name)
            .env("DBUS_SESSION_BUS_ADDRESS", address.trim())
            .env("LOGIFLOW_DATA_DIR", data.path())
            .env("XDG_CONFIG_HOME", data.path())
            .env("XDG_DATA_HOME", data.path())
            .env("XDG_CACHE_HOME", data.path())
            .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
            .env("NO_AT_BRIDGE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let log = app_log(data.path());
    let log_has = |text: &str| {
        std::fs::read_to_string(&log)
            .map(|log| log.contains(text))
            .unwrap_or(false)
    };

    let mut first = Killed(launch().spawn().expect("failed to start the app"));
    wait_until("the first app to start", || log_has("starting"));

    let mut second = launch().spawn().expect("failed to start the app again");
    let mut exited = None;
    wait_until("the second launch to exit", || {
        exited = second.try_wait().expect("failed to poll the second launch");
        exited.is_some()
    });
    assert!(exited.is_some_and(|status| status.success()), "{exited:?}");
    wait_until("the first app to hear of the second launch", || {
        log_has("a second launch asked for the window")
    });
    assert!(
        first
            .0
            .try_wait()
            .expect("failed to poll the app")
            .is_none(),
        "the first app must keep running"
    );
}
