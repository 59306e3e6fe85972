//! The app against a real server: the server runs in this process on loopback against a
//! fresh test database (`DATABASE_URL`, as `cargo xtask test` sets it; see
//! tests/sync/harness.rs), and the app connects to it through the Connect screen, records
//! a receipt into its local journal, syncs, and the test checks on the server that the
//! movement arrived. Then the device's session ends (as after months offline: its refresh
//! token expired on the server), the next sync asks a person to sign in again, and
//! signing in on the Sync screen gives the same device a new session that sends the
//! second receipt (issue #19).
//!
//! The device's tokens go to a file credential store (`LOGIFLOW_CREDENTIALS=file:…` on
//! the app's environment): the OS keyring is not exercised here.

use fantoccini::Client;
use logiflow_replica::Replica;

use super::harness::{self, PASSWORD, Server};
use super::{Shots, WALK_TIMEOUT_MS, by_id, enter, feedback, run_app, scan, screenshot, wait_text};

#[test]
fn connect_to_a_real_server_record_a_receipt_and_sync_it() {
    // Blocking set-up first: the harness runs the server on its own runtime. Access
    // tokens live a second, so each sync refreshes the session: ending it on the server
    // is seen by the next sync.
    let server = Server::start_with("desk", |c| c.access_token_ttl_secs = 1);
    let catalog = harness::seed(&server, 2, 2);
    assert_eq!(catalog.warehouse, "WH1");

    let data = tempfile::tempdir().expect("failed to create a data directory");
    run_app(
        &server.base,
        data.path(),
        &[],
        WALK_TIMEOUT_MS,
        async |client, shots| {
            walk(
                client,
                shots,
                &server.slug,
                &server.email,
                server.database_url(),
            )
            .await;
        },
    );

    // The server has the receipt, once, from the device the app registered.
    let status = Replica::open(data.path().join("replica.db"))
        .and_then(|replica| replica.status())
        .expect("failed to read the replica");
    assert_eq!((status.pending, status.last_seq), (0, 2));
    let device = status.device.expect("the app set the device up").device;
    // Both receipts, from the one device: signing in again kept its identity.
    assert_eq!(server.movements_of(device.as_uuid()), (2, 2));
    assert!(
        server
            .stock()
            .contains(&("SKU-1".to_owned(), "B1".to_owned(), 7)),
        "{:?}",
        server.stock()
    );
    // The credentials went to the file store named on the app's environment.
    let stored = std::fs::read_to_string(data.path().join("credentials.json"))
        .expect("the app stored the device's tokens in the file store");
    assert!(stored.contains(&device.to_string()), "{stored}");
}

async fn walk(client: &Client, shots: &Shots<'_>, tenant: &str, email: &str, database: &str) {
    screenshot(client, shots, "20-connect-start.png").await;
    eprintln!("e2e connect: step 1, a new device opens on the Connect screen");
    by_id(client, "nav-sync").await.click().await.unwrap();
    let server_field = by_id(client, "connect-server").await;
    let prefilled = server_field
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(prefilled.starts_with("http://127.0.0.1:"), "{prefilled}");
    let connection = wait_text(client, "sync-indicator", |t| !t.is_empty()).await;
    assert!(connection.starts_with("Not connected"), "{connection}");

    eprintln!("e2e connect: step 2, a wrong password is refused in plain words");
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
    let password = by_id(client, "connect-password").await;
    password
        .send_keys(&format!("not the password{}", enter()))
        .await
        .unwrap();
    let error = wait_text(client, "connect-error", |t| !t.is_empty()).await;
    assert_eq!(error, "Wrong tenant, email or password.");
    screenshot(client, shots, "21-connect-wrong-password.png").await;

    eprintln!("e2e connect: step 3, sign in and pick the warehouse");
    password.clear().await.unwrap();
    password
        .send_keys(&format!("{PASSWORD}{}", enter()))
        .await
        .unwrap();
    let warehouse = by_id(client, "connect-wh-WH1").await;
    assert_eq!(
        warehouse.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );
    screenshot(client, shots, "22-connect-pick.png").await;
    by_id(client, "connect-submit").await.click().await.unwrap();
    let notice = wait_text(client, "connect-notice", |t| !t.is_empty()).await;
    assert_eq!(notice, "Connected. The first sync is done.");
    wait_text(client, "sync-indicator", |t| t == "Online").await;
    screenshot(client, shots, "23-connected.png").await;

    eprintln!("e2e connect: step 4, record a receipt into the local journal");
    by_id(client, "nav-movement").await.click().await.unwrap();
    by_id(client, "kind-receive").await.click().await.unwrap();
    by_id(client, "bin-to")
        .await
        .send_keys(&format!("B1{}", enter()))
        .await
        .unwrap();
    scan(client, "SKU-1", "5").await;
    let message = feedback(client, "ok").await;
    assert_eq!(message, "Recorded #1: Receive 5 × SKU-1");
    screenshot(client, shots, "24-receipt-recorded.png").await;

    eprintln!("e2e connect: step 5, sync: nothing pending, no conflict");
    // Recording starts a sync on its own when the server was reachable; "Sync now"
    // (Alt+S) runs one more, after it if it is still running.
    by_id(client, "sync-now").await.click().await.unwrap();
    by_id(client, "nav-dashboard").await.click().await.unwrap();
    wait_text(client, "pending-count", |t| t == "0").await;
    wait_text(client, "connection", |t| t == "Online").await;
    let last_sync = wait_text(client, "last-sync", |t| !t.is_empty()).await;
    assert_eq!(last_sync, "just now");
    screenshot(client, shots, "25-dashboard-synced.png").await;
    by_id(client, "nav-sync").await.click().await.unwrap();
    wait_text(client, "sync-pending", |t| {
        t == "0 entries waiting to be sent"
    })
    .await;
    let scope = wait_text(client, "sync-scope", |t| !t.is_empty()).await;
    assert!(scope.contains("WH1"), "{scope}");
    by_id(client, "conflicts-empty").await;
    screenshot(client, shots, "26-sync-panel.png").await;

    eprintln!("e2e connect: step 6, the session ends; the next sync asks to sign in again");
    // As after months offline: the device's refresh tokens expired on the server.
    let db = sqlx::PgPool::connect(database)
        .await
        .expect("failed to reach the test database");
    sqlx::query("update refresh_token set expires_at = now() - interval '1 second'")
        .execute(&db)
        .await
        .expect("failed to expire the sessions");
    db.close().await;
    by_id(client, "nav-movement").await.click().await.unwrap();
    by_id(client, "kind-receive").await.click().await.unwrap();
    by_id(client, "bin-to")
        .await
        .send_keys(&format!("B1{}", enter()))
        .await
        .unwrap();
    scan(client, "SKU-1", "2").await;
    let message = feedback(client, "ok").await;
    assert_eq!(message, "Recorded #2: Receive 2 × SKU-1");
    by_id(client, "sync-now").await.click().await.unwrap();
    wait_text(client, "sync-indicator", |t| t.starts_with("Signed out")).await;
    by_id(client, "nav-sync").await.click().await.unwrap();
    by_id(client, "login-form").await;
    screenshot(client, shots, "27-session-ended.png").await;

    eprintln!("e2e connect: step 7, sign in again: the same device sends its journal");
    for (field, value) in [("login-tenant", tenant), ("login-email", email)] {
        let input = by_id(client, field).await;
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    let password = by_id(client, "login-password").await;
    password.clear().await.unwrap();
    password
        .send_keys(&format!("{PASSWORD}{}", enter()))
        .await
        .unwrap();
    wait_text(client, "connect-notice", |t| {
        t == "Signed in again. The sync is done."
    })
    .await;
    wait_text(client, "sync-indicator", |t| t == "Online").await;
    wait_text(client, "sync-pending", |t| {
        t == "0 entries waiting to be sent"
    })
    .await;
    screenshot(client, shots, "28-signed-in-again.png").await;

    // The new commands are granted by name: a command the capability does not list (a
    // plugin's, here) is still refused.
    let refused = client
        .execute_async(
            "const done = arguments[0];\
             window.__TAURI_INTERNALS__.invoke('plugin:window-state|save_window_state', { flags: 0 })\
               .then(() => done('allowed'), (e) => done(String(e)));",
            vec![],
        )
        .await
        .expect("failed to call the plugin command");
    let refused = refused.as_str().unwrap_or_default().to_owned();
    assert!(
        refused != "allowed" && refused.contains("not allowed"),
        "{refused}"
    );
}
