//! The bell and OS notifications in the real app against a real server (issue #17). The
//! app's session bus has a desktop notification server on it (`notifications.py`, a
//! real D-Bus service written with jeepney) that records what the app shows.
//!
//! 1. A new device connects: the bell shows no alert.
//! 2. SKU-1 falls below its reorder point on the server and the alert check runs; the
//!    next sync brings it: the bell counts 1 and one OS notification says so.
//! 3. The server goes away; offline, the person opens the bell and marks the alert
//!    read: the count drops at once and the mark waits.
//! 4. Notifications are turned off in the settings; the server comes back, SKU-2 falls
//!    low: the sync sends the waiting mark (the server has it, as this person's) and
//!    brings the new alert to the bell, and no notification is shown.
//! 5. "Mark all read" empties the count.
//! 6. Settings offers the export form; the shell's `export` command (what its "Export…"
//!    button calls with the path chosen in the system's save dialog, which WebDriver
//!    cannot drive) writes the server's stock export of WH1 into that file.
//!
//! Screenshots `50-…` to `55-…`.

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator};
use logiflow_core::TenantId;
use uuid::Uuid;

use super::harness::{self, Server};
use super::support::NotificationServer;
use super::{Shots, by_id, connect_app, eventually, off_runtime, run_app, screenshot, wait_text};

/// The most the walk may take (it waits for several syncs and a server restart).
const ALERTS_TIMEOUT_MS: u64 = 180_000;

#[test]
fn the_bell_brings_alerts_with_the_sync_marks_them_read_offline_and_notifies_new_ones() {
    let mut server = Server::start("bell-desk");
    harness::seed(&server, 1, 2);

    let data = tempfile::tempdir().expect("failed to create a data directory");
    let notifications = NotificationServer::start(data.path());
    run_app(
        &server.base.clone(),
        data.path(),
        // The notification server's bus.
        &[(
            "DBUS_SESSION_BUS_ADDRESS",
            notifications.bus_address.as_str(),
        )],
        ALERTS_TIMEOUT_MS,
        async |client, shots| {
            walk(client, shots, &mut server, &notifications, data.path()).await;
        },
    );
}

/// Gives `sku` a reorder point of 5, receives `qty` of it into B1 online and runs the
/// alert check, as the worker would.
fn fall_low(server: &Server, sku: &str, qty: i64) {
    off_runtime(|| {
        server.block_on(async {
            sqlx::query("update product set reorder_point = 5 where sku = $1")
                .bind(sku)
                .execute(&server.owner)
                .await
                .expect("failed to set the reorder point")
        });
        let bins = server.send(
            reqwest::Method::GET,
            "/v1/locations",
            Some(&server.admin_token),
            None,
            200,
        );
        let bin = bins["items"]
            .as_array()
            .and_then(|items| items.iter().find(|l| l["code"] == "B1"))
            .expect("bin B1")["id"]
            .as_str()
            .expect("an id")
            .to_owned();
        server.receive_online(sku, &bin, qty);
        server
            .block_on(logiflow_server::alerts::check::sweep_tenant(
                &server.owner,
                TenantId::from_uuid(server.tenant),
                chrono::Utc::now(),
            ))
            .expect("the alert check failed");
    });
}

/// Users who marked the alert of `sku` read on the server.
fn readers_of(server: &Server, sku: &str) -> Vec<Uuid> {
    off_runtime(|| {
        server.block_on(async {
            sqlx::query_scalar(
                "select r.user_id from alert_read r join alert a on a.id = r.alert_id
                 where a.kind = 'stock.low' and a.payload->>'sku' = $1",
            )
            .bind(sku)
            .fetch_all(&server.owner)
            .await
            .expect("failed to read the read marks")
        })
    })
}

/// The id of the user with `email`.
fn user_id(server: &Server, email: &str) -> Uuid {
    off_runtime(|| {
        server.block_on(async {
            sqlx::query_scalar("select id from app_user where email = $1")
                .bind(email)
                .fetch_one(&server.owner)
                .await
                .expect("no such user")
        })
    })
}

/// Whether the app has had the alert of `sku` handed out for notification (the replica's
/// own flag, read from its file beside the running app).
fn handed_out(data: &Path, sku: &str) -> bool {
    let db = rusqlite::Connection::open_with_flags(
        data.join("replica.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("failed to open the app's replica");
    db.query_row(
        "select coalesce(max(notified), 0) from alert where json_extract(payload, '$.sku') = ?1",
        [sku],
        |r| r.get::<_, i64>(0),
    )
    .expect("failed to read the alert")
        == 1
}

/// Calls the shell's `export` command as the Export button does with the path the save
/// dialog gave; its answer, or `{"error": …}`.
async fn export(client: &Client, file: serde_json::Value) -> serde_json::Value {
    client
        .execute_async(
            "const [file, done] = arguments;\
             window.__TAURI_INTERNALS__.invoke('export', { file })\
               .then((r) => done(r), (e) => done({ error: e }));",
            vec![file],
        )
        .await
        .expect("failed to call export")
}

/// The bell's rows as (title, `data-read`).
async fn rows(client: &Client) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for row in client
        .find_all(Locator::Css("[data-testid=\"alert-row\"]"))
        .await
        .unwrap_or_default()
    {
        let read = row
            .attr("data-read")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let title = match row
            .find(Locator::Css("[data-testid=\"alert-title\"]"))
            .await
        {
            Ok(title) => title.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        out.push((title, read));
    }
    out
}

async fn walk(
    client: &Client,
    shots: &Shots<'_>,
    server: &mut Server,
    notifications: &NotificationServer,
    data: &Path,
) {
    eprintln!("e2e alerts: step 1, connect: the bell is empty");
    connect_app(client, &server.slug.clone(), &server.email.clone()).await;
    let bell = by_id(client, "alerts-bell").await;
    assert_eq!(
        bell.attr("data-unread").await.unwrap().as_deref(),
        Some("0")
    );
    by_id(client, "alerts-bell").await.click().await.unwrap();
    by_id(client, "alerts-none").await;
    screenshot(client, shots, "50-alerts-empty.png").await;

    eprintln!("e2e alerts: step 2, stock falls low on the server; a sync brings the alert");
    fall_low(server, "SKU-1", 2);
    by_id(client, "sync-now").await.click().await.unwrap();
    wait_text(client, "alerts-count", |t| t == "1").await;
    let row = eventually("the alert row", || async {
        rows(client).await.into_iter().next()
    })
    .await;
    assert_eq!(
        row,
        ("Low stock: SKU-1 in WH1".to_owned(), "false".to_owned())
    );
    let shown = eventually("an OS notification", || async {
        let shown = notifications.shown();
        (!shown.is_empty()).then_some(shown)
    })
    .await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0].summary, "Low stock: SKU-1 in WH1");
    assert_eq!(shown[0].body, "Widget 1: 2 available, reorder point 5");
    screenshot(client, shots, "51-alert-arrived.png").await;

    eprintln!("e2e alerts: step 3, offline: mark it read; the count drops, the mark waits");
    off_runtime(|| server.stop());
    by_id(client, "alert-mark-read")
        .await
        .click()
        .await
        .unwrap();
    wait_text(client, "alerts-waiting", |t| {
        t == "1 read marks wait to be sent"
    })
    .await;
    eventually("the count to go", || async {
        client
            .find(Locator::Css("[data-testid=\"alerts-count\"]"))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    assert_eq!(
        rows(client).await,
        [("Low stock: SKU-1 in WH1".to_owned(), "true".to_owned())]
    );
    assert!(readers_of(server, "SKU-1").is_empty());
    screenshot(client, shots, "52-marked-offline.png").await;

    eprintln!("e2e alerts: step 4, notifications off; back online, a new alert, no popup");
    by_id(client, "nav-settings").await.click().await.unwrap();
    let toggle = by_id(client, "settings-notifications").await;
    assert_eq!(
        toggle.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );
    toggle.click().await.unwrap();
    assert_eq!(
        toggle.prop("checked").await.unwrap().as_deref(),
        Some("false")
    );
    off_runtime(|| server.restart());
    fall_low(server, "SKU-2", 1);
    by_id(client, "sync-now").await.click().await.unwrap();
    wait_text(client, "alerts-count", |t| t == "1").await;
    let me = user_id(server, &server.email.clone());
    eventually("the mark on the server", || async {
        (readers_of(server, "SKU-1") == [me]).then_some(())
    })
    .await;
    eventually("the new alert handed out", || async {
        handed_out(data, "SKU-2").then_some(())
    })
    .await;
    // The window had its chance to show it (the flag is set when it asks); give a
    // notification that would follow time to arrive, then check none did.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        notifications.shown().len(),
        1,
        "{:?}",
        notifications.shown()
    );
    screenshot(client, shots, "53-notifications-off.png").await;

    eprintln!("e2e alerts: step 5, mark all read");
    by_id(client, "alerts-bell").await.click().await.unwrap();
    wait_text(client, "alerts-as-of", |t| t.starts_with("As of the sync")).await;
    eventually("both alerts listed", || async {
        (rows(client).await.len() == 2).then_some(())
    })
    .await;
    by_id(client, "alerts-mark-all")
        .await
        .click()
        .await
        .unwrap();
    eventually("every alert read", || async {
        let rows = rows(client).await;
        (rows.len() == 2 && rows.iter().all(|(_, read)| read == "true")).then_some(())
    })
    .await;
    let bell = by_id(client, "alerts-bell").await;
    eventually("the bell at 0", || async {
        (bell.attr("data-unread").await.ok().flatten().as_deref() == Some("0")).then_some(())
    })
    .await;
    screenshot(client, shots, "54-all-read.png").await;

    eprintln!("e2e alerts: step 6, export the stock of WH1 to a file");
    by_id(client, "nav-settings").await.click().await.unwrap();
    by_id(client, "export-form").await;
    let kind = by_id(client, "export-kind").await;
    assert_eq!(kind.prop("value").await.unwrap().as_deref(), Some("stock"));
    by_id(client, "export-warehouse").await;
    screenshot(client, shots, "55-export-form.png").await;
    let file = data.join("stock-WH1.csv");
    let answer = export(
        client,
        serde_json::json!({
            "kind": "stock", "path": file.to_str().expect("UTF-8"), "format": null,
            "warehouse": "WH1", "from": null, "to": null,
        }),
    )
    .await;
    assert_eq!(answer["kind"], "stock", "{answer}");
    let written = std::fs::read_to_string(&file).expect("the export's file");
    assert_eq!(answer["bytes"], written.len());
    assert!(written.starts_with("warehouse,location,sku"), "{written}");
    assert!(
        written.contains("SKU-1") && written.contains("SKU-2"),
        "{written}"
    );
    // A warehouse the device does not keep: refused in words, no file.
    let refused = export(
        client,
        serde_json::json!({
            "kind": "stock", "path": data.join("nope.csv").to_str().expect("UTF-8"),
            "format": null, "warehouse": "NOPE", "from": null, "to": null,
        }),
    )
    .await;
    assert_eq!(refused["error"]["code"], "invalid_input", "{refused}");
    assert!(!data.join("nope.csv").exists());
}
