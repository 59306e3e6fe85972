//! The whole scenario in the real app against a real server, with the device's
//! tokens in a real OS keyring (gnome-keyring's Secret Service on a private D-Bus session
//! bus; no `LOGIFLOW_CREDENTIALS`):
//!
//! 1. a manager connects the app and downloads the warehouse; the tokens are in the
//!    keyring and not in the replica's SQLite file;
//! 2. receives stock, synced;
//! 3. another movement (online, on the server) takes 6 of the 10 units in B1, and the
//!    server stops before the app hears of it: the app shows it is offline;
//! 4. offline, a count of bin B2, a ship of 8 from B1 (the app still sees 10 there) and
//!    a ship of 50 from B2;
//! 5. the server starts again at the same address; a sync sends both: the count is
//!    applied, the ship is held (at its time B1 held 4), and the Sync screen shows it;
//! 6. the manager forces it from the conflict inbox — first refused in plain words while
//!    their role is operator (changed on the server since the last sync), then allowed;
//!    the server applied it, flagged, audited with the manager and the device;
//!    a second held ship (50 from B2) is voided from the inbox with a reason;
//! 7. the next sync shows it resolved, and the app's stock equals the server's;
//! 8. sign-out removes the tokens from the keyring.
//!
//! Each step saves a screenshot (`30-…` to `44-…`).

use std::path::Path;

use fantoccini::Client;
use logiflow_replica::Replica;
use logiflow_server::rbac::Role;
use serde_json::json;
use uuid::Uuid;

use super::harness::{self, Server};
use super::support::{Display, Driver, SecretService};
use super::{
    Shots, app_binary, app_env, by_id, connect_app, drive, enter, env_path, eventually, feedback,
    off_runtime, scan, screenshot, stock_rows, type_enter, wait_enabled, wait_text,
};

/// The most the whole scenario may take (it waits for syncs, an offline sync's retries
/// and a server restart).
const SCENARIO_TIMEOUT_MS: u64 = 240_000;

const MANAGER: &str = "manager@scenario.example";

/// What the walk needs of the world outside the app.
struct World<'a> {
    server: &'a mut Server,
    keyring: &'a SecretService,
    data: &'a Path,
    manager: Uuid,
    bin_b1: String,
}

impl World<'_> {
    fn replica(&self) -> Replica {
        Replica::open(self.data.join("replica.db")).expect("failed to open the app's replica")
    }

    fn device(&self) -> Uuid {
        self.replica()
            .device()
            .expect("failed to read the device")
            .expect("the app set the device up")
            .device
            .as_uuid()
    }

    fn keyring_entry(&self) -> Option<String> {
        self.keyring.lookup(
            logiflow_replica::KEYRING_SERVICE,
            &format!("device:{}", self.device()),
        )
    }

    fn set_role(&self, role: &str) {
        let server = &*self.server;
        off_runtime(|| {
            server.block_on(async {
                sqlx::query("update app_user set role = $1 where id = $2")
                    .bind(role)
                    .bind(self.manager)
                    .execute(&server.owner)
                    .await
                    .expect("failed to change the role")
            });
        });
    }
}

#[test]
fn connect_receive_offline_count_and_ship_sync_see_held_force_it_and_sign_out() {
    // Blocking set-up first: the harness runs the server on its own runtime.
    let mut server = Server::start("scenario");
    let catalog = harness::seed(&server, 2, 2);
    let manager = server.user(MANAGER, Role::Manager);

    let app = app_binary();
    let driver_bin = env_path("TAURI_DRIVER").unwrap_or_else(|| "tauri-driver".into());
    let data = tempfile::tempdir().expect("failed to create a data directory");
    let data_dir = data.path().to_str().expect("temp paths are UTF-8");
    let keyring_home = data.path().join("keyring-home");
    std::fs::create_dir_all(&keyring_home).expect("failed to create the keyring's home");
    let keyring = SecretService::start(&keyring_home);
    let display = Display::get();
    let driver = Driver::start(
        &driver_bin,
        &app_env(
            &display.name,
            data_dir,
            &[
                ("LOGIFLOW_SERVER_URL", server.base.as_str()),
                // The real keyring: the app talks to the Secret Service on this bus.
                ("DBUS_SESSION_BUS_ADDRESS", keyring.bus_address.as_str()),
            ],
        ),
        data.path().join("tauri-driver.log"),
    );
    assert!(
        std::env::var_os(logiflow_replica::CREDENTIALS_ENV).is_none(),
        "this test is about the OS keyring: unset {}",
        logiflow_replica::CREDENTIALS_ENV
    );

    let mut world = World {
        server: &mut server,
        keyring: &keyring,
        data: data.path(),
        manager,
        bin_b1: catalog.location_ids[0].clone(),
    };
    drive(
        &driver,
        &app,
        &display,
        SCENARIO_TIMEOUT_MS,
        async |client, shots| {
            walk(client, shots, &mut world).await;
        },
    );
    drop(driver);
    drop(display);
    drop(keyring);

    // The device's session is over on the server too.
    let device = Replica::open(data.path().join("replica.db"))
        .and_then(|r| r.device())
        .expect("failed to read the replica")
        .expect("set up")
        .device
        .as_uuid();
    let live: i64 = server.block_on(async {
        sqlx::query_scalar(
            "select count(*) from session where device_id = $1 and revoked_at is null",
        )
        .bind(device)
        .fetch_one(&server.owner)
        .await
        .unwrap()
    });
    assert_eq!(live, 0, "sign-out ends the device's session");
}

/// Scrolls the element with `data-testid` into view, for the screenshot that follows.
/// Audit entries as (actor, device, reason).
type Audits = Vec<(Option<Uuid>, Option<Uuid>, Option<String>)>;

/// On the server: the outcome and flags of the device's journal entry `seq`, and every
/// audit entry of a `movement.{action}` (force or void).
fn resolution_on_server(
    server: &Server,
    device: Uuid,
    seq: i64,
    action: &str,
) -> (String, serde_json::Value, Audits) {
    server.block_on(async {
        let (outcome, flags): (String, serde_json::Value) = sqlx::query_as(
            "select outcome, flags from movement where device_id = $1 and device_seq = $2",
        )
        .bind(device)
        .bind(seq)
        .fetch_one(&server.owner)
        .await
        .unwrap();
        let audit = sqlx::query_as(
            "select actor_id, device_id, after->>'reason' from audit_log where action = $1",
        )
        .bind(format!("movement.{action}"))
        .fetch_all(&server.owner)
        .await
        .unwrap();
        (outcome, flags, audit)
    })
}

async fn scroll_to(client: &Client, test_id: &str) {
    client
        .execute(
            &format!(
                "document.querySelector('[data-testid=\"{test_id}\"]').scrollIntoView({{block: 'center'}});"
            ),
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("failed to scroll to {test_id}: {e}"));
}

/// The app's stock rows for `search`, once exactly `n` show.
async fn stock_of(client: &Client, search: &str, n: usize) -> Vec<String> {
    by_id(client, "nav-stock").await.click().await.unwrap();
    let field = by_id(client, "stock-search").await;
    field.clear().await.unwrap();
    field.send_keys(search).await.unwrap();
    eventually(
        &format!("{n} stock rows for {search}"),
        move || async move { Some(stock_rows(client).await).filter(|rows| rows.len() == n) },
    )
    .await
}

async fn walk(client: &Client, shots: &Shots<'_>, world: &mut World<'_>) {
    let tenant = world.server.slug.clone();
    eprintln!("e2e scenario: step 1, connect as a manager and download");
    connect_app(client, &tenant, MANAGER).await;
    // A manager may resolve: the inbox says so (read from the server at the sync).
    let note = wait_text(client, "conflicts-note", |t| !t.is_empty()).await;
    assert!(note.starts_with("You may resolve held movements"), "{note}");
    screenshot(client, shots, "30-connected.png").await;

    // The tokens are in the OS keyring, and nowhere in the replica's files.
    let stored = world
        .keyring_entry()
        .expect("the device's tokens are in the keyring");
    let tokens: serde_json::Value =
        serde_json::from_str(&stored).expect("the keyring holds the tokens' JSON");
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    assert!(refresh.len() > 20, "{refresh}");
    for file in ["replica.db", "replica.db-wal"] {
        let bytes = std::fs::read(world.data.join(file)).unwrap_or_default();
        let haystack = String::from_utf8_lossy(&bytes);
        assert!(
            !haystack.contains(&refresh),
            "the refresh token is in {file}"
        );
    }
    assert!(
        !world.data.join("credentials.json").exists(),
        "no file credential store was used"
    );

    eprintln!("e2e scenario: step 2, receive and sync");
    by_id(client, "nav-movement").await.click().await.unwrap();
    by_id(client, "kind-receive").await.click().await.unwrap();
    type_enter(client, "bin-to", "B1").await;
    scan(client, "SKU-1", "10").await;
    assert_eq!(
        feedback(client, "ok").await,
        "Recorded #1: Receive 10 × SKU-1"
    );
    let bin_to = by_id(client, "bin-to").await;
    bin_to.clear().await.unwrap();
    bin_to.send_keys(&format!("B2{}", enter())).await.unwrap();
    scan(client, "SKU-2", "5").await;
    wait_text(client, "feedback", |t| {
        t == "Recorded #2: Receive 5 × SKU-2"
    })
    .await;
    screenshot(client, shots, "31-received.png").await;
    // Nobody presses "Sync now": the shell's background loop syncs after each recording
    // and its events (the sync state, then the status) bring the dashboard up to date.
    by_id(client, "nav-dashboard").await.click().await.unwrap();
    wait_text(client, "pending-count", |t| t == "0").await;
    wait_text(client, "connection", |t| t == "Online").await;
    let server = &*world.server;
    let stock = off_runtime(|| server.stock());
    assert_eq!(
        stock,
        [
            ("SKU-1".to_owned(), "B1".to_owned(), 10),
            ("SKU-2".to_owned(), "B2".to_owned(), 5)
        ]
    );
    screenshot(client, shots, "32-synced.png").await;

    eprintln!("e2e scenario: step 3, stock taken on the server, then the server stops");
    // An online movement (someone at the office) ships 6 of the 10 in B1; the server
    // stops right after, before the app's next sync could bring it.
    let bin_b1 = world.bin_b1.clone();
    let server = &mut *world.server;
    off_runtime(|| {
        let product = server.send(
            reqwest::Method::GET,
            "/v1/products?sku_prefix=SKU-1",
            Some(&server.admin_token),
            None,
            200,
        );
        server.create(
            "/v1/movements",
            json!({"kind": "ship", "product_id": product["items"][0]["id"], "from_location_id": bin_b1, "qty": 6}),
        );
        server.stop();
    });
    by_id(client, "sync-now").await.click().await.unwrap();
    let offline = wait_text(client, "connection", |t| t.starts_with("Offline")).await;
    assert_eq!(
        offline,
        "Offline — the server could not be reached; working locally"
    );
    wait_text(client, "sync-indicator", |t| t.starts_with("Offline")).await;
    screenshot(client, shots, "33-offline.png").await;
    // The app never heard of the online ship: it still sees 10 in B1.
    let rows = stock_of(client, "SKU-1", 1).await;
    assert!(rows[0].contains("B1") && rows[0].contains("10"), "{rows:?}");

    eprintln!("e2e scenario: step 4, offline: count B2 and ship 8 from B1");
    by_id(client, "nav-count").await.click().await.unwrap();
    type_enter(client, "count-scope", "B2").await;
    let heading = wait_text(client, "count-heading", |t| t.contains("B2")).await;
    assert!(heading.contains("Counting B2"), "{heading}");
    scan(client, "SKU-2", "4").await;
    wait_text(client, "feedback", |t| t.starts_with("B2: SKU-2 +4")).await;
    by_id(client, "count-review").await.click().await.unwrap();
    let summary = wait_text(client, "count-summary", |t| !t.is_empty()).await;
    assert!(summary.starts_with("1 of 1 rows counted"), "{summary}");
    screenshot(client, shots, "34-offline-count-review.png").await;
    by_id(client, "count-submit").await.click().await.unwrap();
    let message = feedback(client, "ok").await;
    assert!(message.starts_with("Recorded 1 count"), "{message}");

    by_id(client, "nav-movement").await.click().await.unwrap();
    by_id(client, "kind-ship").await.click().await.unwrap();
    type_enter(client, "bin-from", "B1").await;
    scan(client, "SKU-1", "8").await;
    assert_eq!(feedback(client, "ok").await, "Recorded #4: Ship 8 × SKU-1");
    screenshot(client, shots, "35-offline-ship.png").await;
    // A ship of 50 from B2, where 4 were just counted: it will be held too, and voided.
    // (The bin stays filled in between scans: empty it as a person would.)
    client
        .execute(
            "const bin = document.querySelector('[data-testid=\"bin-from\"]');\
             bin.value = ''; bin.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![],
        )
        .await
        .unwrap();
    type_enter(client, "bin-from", "B2").await;
    scan(client, "SKU-2", "50").await;
    // Recorded all the same, with a warning: the app expects it to be held.
    let warned = feedback(client, "warn").await;
    assert!(
        warned.starts_with("Recorded #5: Ship 50 × SKU-2"),
        "{warned}"
    );
    by_id(client, "nav-dashboard").await.click().await.unwrap();
    wait_text(client, "pending-count", |t| t == "3").await;
    // Recording tried to sync; the server is still down.
    wait_text(client, "connection", |t| t.starts_with("Offline")).await;
    screenshot(client, shots, "36-offline-pending.png").await;

    eprintln!("e2e scenario: step 5, the server is back; sync; the ship is held");
    let server = &mut *world.server;
    off_runtime(|| server.restart());
    by_id(client, "sync-now").await.click().await.unwrap();
    wait_text(client, "pending-count", |t| t == "0").await;
    wait_text(client, "connection", |t| t == "Online").await;
    by_id(client, "nav-sync").await.click().await.unwrap();
    let state = wait_text(client, "conflict-state-4", |t| !t.is_empty()).await;
    assert_eq!(state, "Held");
    let row = wait_text(client, "conflicts", |t| t.contains("Needs 8 units")).await;
    assert!(
        row.contains("Needs 8 units; 4 were there at that time"),
        "{row}"
    );
    let rows = client
        .find_all(fantoccini::Locator::Css("[data-testid=\"conflict-row\"]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "only the two ships need review: {row}");
    assert_eq!(
        wait_text(client, "conflict-state-5", |t| !t.is_empty()).await,
        "Held"
    );
    // The recent movements list every entry with where it stands.
    assert_eq!(
        wait_text(client, "recent-state-5", |t| !t.is_empty()).await,
        "Held"
    );
    assert_eq!(
        wait_text(client, "recent-state-3", |t| !t.is_empty()).await,
        "Applied"
    );
    // The last sync's time is in the header on every screen.
    assert_eq!(
        wait_text(client, "header-last-sync", |t| !t.is_empty()).await,
        "Last sync: just now"
    );
    screenshot(client, shots, "37-sync-held.png").await;
    // On the server: the count applied (B2 = 4), the ship held, B1 at 10 − 6 = 4.
    let device = world.device();
    let server = &*world.server;
    let (stock, outcomes) = off_runtime(|| {
        let stock = server.stock();
        let outcomes: Vec<(i64, String)> = server.block_on(async {
            sqlx::query_as(
                "select device_seq, outcome from movement where device_id = $1 order by device_seq",
            )
            .bind(device)
            .fetch_all(&server.owner)
            .await
            .unwrap()
        });
        (stock, outcomes)
    });
    assert_eq!(
        stock,
        [
            ("SKU-1".to_owned(), "B1".to_owned(), 4),
            ("SKU-2".to_owned(), "B2".to_owned(), 4)
        ]
    );
    let outcomes: Vec<(i64, &str)> = outcomes.iter().map(|(s, o)| (*s, o.as_str())).collect();
    assert_eq!(
        outcomes,
        [
            (1, "applied"),
            (2, "applied"),
            (3, "applied"),
            (4, "held"),
            (5, "held")
        ]
    );

    eprintln!("e2e scenario: step 6, force it: refused while not a manager, then done");
    // The role changed on the server since the last sync: the app still offers the
    // action, and the server's refusal reads in plain words.
    world.set_role("operator");
    by_id(client, "conflict-force-4")
        .await
        .click()
        .await
        .unwrap();
    type_enter(
        client,
        "resolve-reason",
        "the pallet was found behind the dock door",
    )
    .await;
    let error = wait_text(client, "resolve-error", |t| !t.is_empty()).await;
    assert_eq!(
        error,
        "Your role may not do this. A manager or an administrator can."
    );
    scroll_to(client, "resolve-error").await;
    screenshot(client, shots, "38-resolve-refused.png").await;
    world.set_role("manager");
    by_id(client, "resolve-confirm")
        .await
        .click()
        .await
        .unwrap();
    let notice = wait_text(client, "resolve-notice", |t| !t.is_empty()).await;
    assert_eq!(notice, "#4 was forced: it is applied now.");
    wait_text(client, "conflict-state-4", |t| t == "Forced by a manager").await;
    screenshot(client, shots, "39-forced.png").await;
    // On the server: applied and flagged forced, audited with the manager and the device.
    let server = &*world.server;
    let manager = world.manager;
    let (outcome, flags, audit) = off_runtime(|| resolution_on_server(server, device, 4, "force"));
    assert_eq!(outcome, "applied");
    assert!(flags.to_string().contains("forced"), "{flags}");
    assert_eq!(
        audit,
        [(
            Some(manager),
            Some(device),
            Some("the pallet was found behind the dock door".to_owned())
        )]
    );

    eprintln!("e2e scenario: step 6b, void the other held ship, with a reason");
    by_id(client, "conflict-void-5")
        .await
        .click()
        .await
        .unwrap();
    type_enter(client, "resolve-reason", "recorded twice by mistake").await;
    let notice = wait_text(client, "resolve-notice", |t| t.starts_with("#5")).await;
    assert_eq!(notice, "#5 was voided: it will never apply.");
    eventually("no action left on #5", move || async move {
        client
            .find(fantoccini::Locator::Css(
                "[data-testid=\"conflict-void-5\"]",
            ))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    scroll_to(client, "resolve-notice").await;
    screenshot(client, shots, "39a-voided.png").await;
    // On the server: voided, B2 untouched, audited with the reason and the device.
    let server = &*world.server;
    let (outcome, _, audit) = off_runtime(|| resolution_on_server(server, device, 5, "void"));
    assert_eq!(outcome, "voided");
    assert_eq!(
        audit,
        [(
            Some(manager),
            Some(device),
            Some("recorded twice by mistake".to_owned())
        )]
    );
    assert!(
        off_runtime(|| server.stock()).contains(&("SKU-2".to_owned(), "B2".to_owned(), 4)),
        "a voided ship takes nothing"
    );

    eprintln!("e2e scenario: step 7, the next sync shows it resolved");
    by_id(client, "sync-panel-now").await.click().await.unwrap();
    wait_text(client, "sync-report", |t| t.starts_with("Synced")).await;
    assert_eq!(
        wait_text(client, "conflict-state-4", |t| !t.is_empty()).await,
        "Forced by a manager"
    );
    assert!(
        client
            .find(fantoccini::Locator::Css(
                "[data-testid=\"conflict-force-4\"]"
            ))
            .await
            .is_err(),
        "a resolved movement offers no action"
    );
    screenshot(client, shots, "40-resolved-after-sync.png").await;
    // The app's stock is the server's: B1 at 10 − 6 − 8 = −4.
    let rows = stock_of(client, "SKU-1", 1).await;
    assert!(
        rows[0].contains("B1") && (rows[0].contains("-4") || rows[0].contains("\u{2212}4")),
        "{rows:?}"
    );
    screenshot(client, shots, "41-stock-after-force.png").await;
    // The bin's history, from the server: this device's receipt and forced ship, and
    // the ship made online elsewhere; no unsent entry, nothing missing.
    by_id(client, "history-bin").await.click().await.unwrap();
    wait_text(client, "history-title", |t| t == "History of bin B1").await;
    let history = eventually("the bin's three movements", move || async move {
        let rows = client
            .find_all(fantoccini::Locator::Css("[data-testid=\"history-row\"]"))
            .await
            .ok()?;
        let mut texts = Vec::new();
        for row in rows {
            texts.push(row.text().await.ok()?);
        }
        Some(texts).filter(|t| t.len() >= 3)
    })
    .await;
    assert!(
        history[0].contains("Ship")
            && history[0].contains("This device")
            && history[0].contains("Applied"),
        "the forced ship first: {history:?}"
    );
    assert!(
        history
            .iter()
            .any(|r| r.contains("Ship") && r.contains("Another device or the web")),
        "the online ship: {history:?}"
    );
    assert!(
        history.iter().all(|r| !r.contains("Not sent yet")),
        "{history:?}"
    );
    assert!(
        client
            .find(fantoccini::Locator::Css(
                "[data-testid=\"history-unavailable\"]"
            ))
            .await
            .is_err(),
        "online, the server's history is there"
    );
    scroll_to(client, "history-close").await;
    screenshot(client, shots, "41a-bin-history.png").await;
    by_id(client, "history-close").await.click().await.unwrap();
    let status = world
        .replica()
        .status()
        .expect("failed to read the replica");
    assert_eq!(status.pending, 0);

    eprintln!("e2e scenario: step 7b, receive against a purchase order on the Receiving screen");
    let server = &*world.server;
    let po = off_runtime(|| {
        let admin = Some(server.admin_token.as_str());
        let get = |path: &str| server.send(reqwest::Method::GET, path, admin, None, 200);
        let warehouse = get("/v1/warehouses")["items"][0]["id"].clone();
        let product = get("/v1/products?sku_prefix=SKU-2")["items"][0]["id"].clone();
        let supplier = server.create(
            "/v1/suppliers",
            json!({"code": "ACME", "name": "Acme Parts"}),
        );
        let po = server.create(
            "/v1/purchase-orders",
            json!({"supplier_id": supplier["id"], "warehouse_id": warehouse,
                   "lines": [{"product_id": product, "qty": 6, "unit_cost": "1.25"}]}),
        );
        let path = format!("/v1/purchase-orders/{}/order", po["id"].as_str().unwrap());
        server.send(reqwest::Method::POST, &path, admin, Some(json!({})), 200)
    });
    assert_eq!(po["number"], "PO-000001");
    by_id(client, "sync-now").await.click().await.unwrap();
    by_id(client, "nav-receiving").await.click().await.unwrap();
    // Chosen from the list (it shows once the sync pulled it), the bin scanned once.
    by_id(client, "receive-po-PO-000001")
        .await
        .click()
        .await
        .unwrap();
    type_enter(client, "receive-bin", "B2").await;
    type_enter(client, "scan-input", "SKU-2").await;
    let qty = wait_enabled(client, "qty-input").await;
    assert_eq!(
        qty.prop("value").await.unwrap().as_deref(),
        Some("6"),
        "the open quantity is offered"
    );
    qty.clear().await.unwrap();
    qty.send_keys(&format!("4{}", enter())).await.unwrap();
    let notice = feedback(client, "ok").await;
    assert!(
        notice.contains("received 4 × SKU-2 into B2 for PO-000001"),
        "{notice}"
    );
    wait_text(client, "receive-received-SKU-2", |t| t == "4").await;
    screenshot(client, shots, "42-received-against-po.png").await;
    // The background loop sends it; the server counts it toward the line.
    let po_url = format!("/v1/purchase-orders/{}", po["id"].as_str().unwrap());
    eventually("the receipt counted on the server", || {
        let po_url = po_url.clone();
        async move {
            let po = off_runtime(|| {
                let admin = Some(server.admin_token.as_str());
                server.send(reqwest::Method::GET, &po_url, admin, None, 200)
            });
            (po["lines"][0]["received"] == 4).then_some(())
        }
    })
    .await;

    eprintln!("e2e scenario: step 7c, pick a sales order on the Picking screen");
    let so = off_runtime(|| {
        let admin = Some(server.admin_token.as_str());
        let get = |path: &str| server.send(reqwest::Method::GET, path, admin, None, 200);
        let warehouse = get("/v1/warehouses")["items"][0]["id"].clone();
        let product = get("/v1/products?sku_prefix=SKU-2")["items"][0]["id"].clone();
        let customer = server.create(
            "/v1/customers",
            json!({"code": "SHOP", "name": "Corner Shop"}),
        );
        let so = server.create(
            "/v1/sales-orders",
            json!({"customer_id": customer["id"], "warehouse_id": warehouse,
                   "requested_on": "2027-01-15",
                   "lines": [{"product_id": product, "qty": 2, "unit_price": "9.90"}]}),
        );
        let path = format!("/v1/sales-orders/{}/confirm", so["id"].as_str().unwrap());
        server.send(reqwest::Method::POST, &path, admin, Some(json!({})), 200)
    });
    assert_eq!(so["lines"][0]["allocated"], 2, "{so}");
    by_id(client, "sync-now").await.click().await.unwrap();
    by_id(client, "nav-picking").await.click().await.unwrap();
    by_id(client, "pick-so-SO-000001")
        .await
        .click()
        .await
        .unwrap();
    by_id(client, "pick-start").await.click().await.unwrap();
    let stop = wait_text(client, "pick-stop", |t| !t.is_empty()).await;
    assert!(stop.starts_with("B2"), "the pick list's bin: {stop}");
    type_enter(client, "pick-bin", "B2").await;
    type_enter(client, "scan-input", "SKU-2").await;
    // More than the line expects: said before anything is recorded.
    let qty = wait_enabled(client, "qty-input").await;
    qty.clear().await.unwrap();
    qty.send_keys(&format!("3{}", enter())).await.unwrap();
    let warning = feedback(client, "warn").await;
    assert!(
        warning.starts_with("More than this stop: 3 × SKU-2, the stop has 2"),
        "{warning}"
    );
    qty.clear().await.unwrap();
    qty.send_keys(&format!("2{}", enter())).await.unwrap();
    let notice = feedback(client, "ok").await;
    assert!(
        notice.contains("picked 2 × SKU-2 from B2 for SO-000001"),
        "{notice}"
    );
    screenshot(client, shots, "43-picked-for-so.png").await;
    let so_url = format!("/v1/sales-orders/{}", so["id"].as_str().unwrap());
    eventually("the pick counted on the server", || {
        let so_url = so_url.clone();
        async move {
            let so = off_runtime(|| {
                let admin = Some(server.admin_token.as_str());
                server.send(reqwest::Method::GET, &so_url, admin, None, 200)
            });
            (so["status"] == "shipped").then_some(())
        }
    })
    .await;

    eprintln!("e2e scenario: step 8, sign out: the keyring forgets the device");
    by_id(client, "nav-settings").await.click().await.unwrap();
    let scope = wait_text(client, "settings-scope", |t| t.contains("WH1")).await;
    assert!(scope.contains("Europe/Paris"), "{scope}");
    by_id(client, "settings-sign-out")
        .await
        .click()
        .await
        .unwrap();
    let notice = wait_text(client, "sign-out-notice", |t| !t.is_empty()).await;
    assert_eq!(notice, "Signed out. This device's credentials are removed.");
    wait_text(client, "sync-indicator", |t| t.starts_with("Signed out")).await;
    // Signing out twice makes no sense: the button is disabled, and looks it.
    let button = by_id(client, "settings-sign-out").await;
    assert!(
        !button.is_enabled().await.unwrap(),
        "sign out stays enabled"
    );
    let opacity = button.css_value("opacity").await.unwrap();
    assert_eq!(opacity, "0.5", "a disabled button must look disabled");
    scroll_to(client, "sign-out-notice").await;
    screenshot(client, shots, "42-signed-out.png").await;
    assert_eq!(world.keyring_entry(), None, "sign-out removes the tokens");
    // The Sync screen offers to sign in again.
    by_id(client, "nav-sync").await.click().await.unwrap();
    by_id(client, "login-form").await;
    screenshot(client, shots, "43-sign-in-again.png").await;
}
