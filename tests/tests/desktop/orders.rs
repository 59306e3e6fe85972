//! Receiving and picking with the scanner screens, against a real server (issue #15):
//!
//! 1. the app connects and pulls a purchase order and two confirmed sales orders, whose
//!    reservations the server made on the stock received online beforehand;
//! 2. Receiving: the order scanned, the bin scanned once, then the items: an item not on
//!    the order is refused and records nothing; an over-receipt is said first and
//!    recorded on the second Enter; the server books both lines and flags the excess;
//! 3. the server stops and the app shows it is offline; a lot-tracked item arrives on
//!    the same order with a lot nobody has seen: received offline with the lot and the
//!    expiry date on its label, the app saying the lot is new;
//! 4. Picking, offline: a wave of both sales orders in one walk (bin order), a short
//!    pick confirmed, a wrong item refused, a substitute bin confirmed by a second scan;
//! 5. the server is back; the sync sends the receipt and the picks; the server holds
//!    the new lot with its expiry date, its sales lines and stock rows are what was
//!    scanned, the substitute pick moved the reservation and is flagged.
//!
//! Screenshots `50-…` to `57-…`.

use std::path::Path;

use fantoccini::Client;
use serde_json::{Value, json};
use uuid::Uuid;

use super::harness::{self, Server};
use super::{
    Shots, by_id, connect_app, enter, eventually, feedback, off_runtime, run_app, screenshot,
    type_enter, wait_enabled, wait_text,
};

/// The most the whole walk may take (two syncs, an offline sync's retries, a restart).
const ORDERS_TIMEOUT_MS: u64 = 240_000;

/// The ids of what the set-up created on the server.
struct Orders {
    po: String,
    so1: String,
    so2: String,
}

#[test]
fn receive_by_scanner_then_pick_a_wave_offline_and_sync_it() {
    let mut server = Server::start("picking");
    let catalog = harness::seed(&server, 4, 3);
    let orders = set_up(&server, &catalog);

    let data = tempfile::tempdir().expect("failed to create a data directory");
    let server = &mut server;
    run_app(
        &server.base.clone(),
        data.path(),
        &[],
        ORDERS_TIMEOUT_MS,
        async |client, shots| walk(client, shots, server, &orders, data.path()).await,
    );

    // After the walk: the server's stock is what was scanned. Online 10 × SKU-1 in B1,
    // 10 × SKU-2 in B2, 5 × SKU-3 in B3; received 5 × SKU-1 and 6 × SKU-3 into B4, and
    // offline 3 × MILK of the new lot; picked 4 + 1 SKU-1 from B1, 3 SKU-2 from B2,
    // 2 SKU-3 from B4 (the substitute).
    assert_eq!(
        server.stock(),
        [
            ("MILK".to_owned(), "B4".to_owned(), 3),
            ("SKU-1".to_owned(), "B1".to_owned(), 5),
            ("SKU-1".to_owned(), "B4".to_owned(), 5),
            ("SKU-2".to_owned(), "B2".to_owned(), 7),
            ("SKU-3".to_owned(), "B3".to_owned(), 5),
            ("SKU-3".to_owned(), "B4".to_owned(), 4),
        ]
    );
}

/// Stock received online, a purchase order (5 × SKU-1, 4 × SKU-3, 3 × MILK, a
/// lot-tracked product) and two confirmed
/// sales orders: SO-1 4 × SKU-1 and 3 × SKU-2, SO-2 2 × SKU-1 and 2 × SKU-3, reserved
/// in B1, B2 and B3.
fn set_up(server: &Server, catalog: &harness::Catalog) -> Orders {
    server.receive_online("SKU-1", &catalog.location_ids[0], 10);
    server.receive_online("SKU-2", &catalog.location_ids[1], 10);
    server.receive_online("SKU-3", &catalog.location_ids[2], 5);
    let warehouse = server.get("/v1/warehouses")["items"][0]["id"].clone();
    let product =
        |sku: &str| server.get(&format!("/v1/products?sku_prefix={sku}"))["items"][0]["id"].clone();
    let (sku1, sku2, sku3) = (product("SKU-1"), product("SKU-2"), product("SKU-3"));
    let milk = server.create(
        "/v1/products",
        json!({"sku": "MILK", "name": "Milk", "lot_tracked": true, "expiry_policy": "fefo", "barcodes": []}),
    )["id"]
        .clone();
    let admin = Some(server.admin_token.as_str());
    let supplier = server.create(
        "/v1/suppliers",
        json!({"code": "ACME", "name": "Acme Parts"}),
    );
    let po = server.create(
        "/v1/purchase-orders",
        json!({"supplier_id": supplier["id"], "warehouse_id": warehouse,
               "lines": [{"product_id": sku1, "qty": 5, "unit_cost": "1.00"},
                         {"product_id": sku3, "qty": 4, "unit_cost": "2.00"},
                         {"product_id": milk, "qty": 3, "unit_cost": "0.80"}]}),
    );
    let path = format!("/v1/purchase-orders/{}/order", po["id"].as_str().unwrap());
    let po = server.send(reqwest::Method::POST, &path, admin, Some(json!({})), 200);
    assert_eq!(po["number"], "PO-000001");
    let customer = server.create(
        "/v1/customers",
        json!({"code": "SHOP", "name": "Corner Shop"}),
    );
    let confirm = |lines: Value| {
        let so = server.create(
            "/v1/sales-orders",
            json!({"customer_id": customer["id"], "warehouse_id": warehouse,
                   "requested_on": "2027-01-15", "lines": lines}),
        );
        let path = format!("/v1/sales-orders/{}/confirm", so["id"].as_str().unwrap());
        server.send(reqwest::Method::POST, &path, admin, Some(json!({})), 200)
    };
    let so1 = confirm(json!([{"product_id": sku1, "qty": 4, "unit_price": "9.90"},
                             {"product_id": sku2, "qty": 3, "unit_price": "4.50"}]));
    let so2 = confirm(json!([{"product_id": sku1, "qty": 2, "unit_price": "9.90"},
                             {"product_id": sku3, "qty": 2, "unit_price": "7.00"}]));
    assert_eq!(
        (so1["number"].as_str(), so2["number"].as_str()),
        (Some("SO-000001"), Some("SO-000002"))
    );
    assert_eq!(so2["status"], "allocated", "{so2}");
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    Orders {
        po: id(&po),
        so1: id(&so1),
        so2: id(&so2),
    }
}

/// (qty, allocated, picked) of each line of the sales order `id` on the server.
fn sales_lines(server: &Server, id: &str) -> (String, Vec<(i64, i64, i64)>) {
    let so = server.get(&format!("/v1/sales-orders/{id}"));
    let lines = so["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["qty"].as_i64().unwrap(),
                l["allocated"].as_i64().unwrap(),
                l["picked"].as_i64().unwrap(),
            )
        })
        .collect();
    (so["status"].as_str().unwrap().to_owned(), lines)
}

/// The flags the server gave the device's journal entry `seq`.
fn flags_of(server: &Server, device: Uuid, seq: i64) -> String {
    server.block_on(async {
        let flags: Value = sqlx::query_scalar(
            "select flags from movement where device_id = $1 and device_seq = $2",
        )
        .bind(device)
        .bind(seq)
        .fetch_one(&server.owner)
        .await
        .unwrap();
        flags.to_string()
    })
}

/// Types `code` and Enter into the item field, then, once the quantity field is
/// enabled, checks the quantity it offers and replaces it with `qty` and Enter.
async fn scan_offered(client: &Client, code: &str, offered: &str, qty: &str) {
    type_enter(client, "scan-input", code).await;
    let field = wait_enabled(client, "qty-input").await;
    assert_eq!(
        field.prop("value").await.unwrap().as_deref(),
        Some(offered),
        "offered for {code}"
    );
    field.clear().await.unwrap();
    field.send_keys(&format!("{qty}{}", enter())).await.unwrap();
}

/// Enter again in the quantity field: the confirmation of what was said.
async fn confirm_qty(client: &Client) {
    by_id(client, "qty-input")
        .await
        .send_keys(&enter().to_string())
        .await
        .unwrap();
}

/// The pick list's rows once `n` show, each as its cells' text joined by spaces.
async fn pick_rows(client: &Client, n: usize) -> Vec<String> {
    eventually(&format!("{n} pick rows"), move || async move {
        let rows = client
            .execute(
                "return Array.from(document.querySelectorAll('[data-testid=\"pick-row\"]'))\
                   .map(row => Array.from(row.children).map(cell => cell.textContent).join(' '));",
                vec![],
            )
            .await
            .ok()?;
        serde_json::from_value::<Vec<String>>(rows)
            .ok()
            .filter(|rows| rows.len() == n)
    })
    .await
}

async fn walk(
    client: &Client,
    shots: &Shots<'_>,
    server: &mut Server,
    orders: &Orders,
    data: &Path,
) {
    eprintln!("e2e orders: step 1, connect and pull the orders");
    connect_app(client, &server.slug, &server.email.clone()).await;

    eprintln!("e2e orders: step 2, receive the purchase order by scanner");
    by_id(client, "nav-receiving").await.click().await.unwrap();
    by_id(client, "receive-po-PO-000001").await;
    type_enter(client, "receive-order", "po-000001").await;
    let heading = wait_text(client, "receive-heading", |t| t.contains("PO-000001")).await;
    assert!(
        heading.contains("from Acme Parts") && heading.contains("0 of 3 lines complete"),
        "{heading}"
    );
    type_enter(client, "receive-bin", "B4").await;
    scan_offered(client, "SKU-1", "5", "5").await;
    wait_text(client, "feedback", |t| {
        t == "Recorded #1: received 5 × SKU-1 into B4 for PO-000001"
    })
    .await;
    wait_text(client, "receive-received-SKU-1", |t| t == "5").await;
    // SKU-2 is not on the order: refused, nothing recorded, back to scanning.
    type_enter(client, "scan-input", "SKU-2").await;
    let refused = feedback(client, "error").await;
    assert!(
        refused.starts_with("Not on PO-000001: nothing was recorded."),
        "{refused}"
    );
    screenshot(client, shots, "50-receive-not-on-order.png").await;
    // 6 of SKU-3 where 4 are expected: said first, recorded on the second Enter.
    scan_offered(client, "SKU-3", "4", "6").await;
    let warned = feedback(client, "warn").await;
    assert!(
        warned.starts_with("Over-receipt: 6 × SKU-3, but the line still expects 4."),
        "{warned}"
    );
    wait_text(client, "receive-received-SKU-3", |t| t == "0").await;
    screenshot(client, shots, "51-receive-over-warning.png").await;
    confirm_qty(client).await;
    wait_text(client, "feedback", |t| {
        t == "Recorded #2: received 6 × SKU-3 into B4 for PO-000001"
    })
    .await;
    wait_text(client, "receive-received-SKU-3", |t| t == "6").await;
    wait_text(client, "receive-progress", |t| t == "2 of 3 lines complete").await;
    screenshot(client, shots, "52-received.png").await;
    // The background loop sends both; the server books them, the excess flagged.
    by_id(client, "nav-dashboard").await.click().await.unwrap();
    wait_text(client, "pending-count", |t| t == "0").await;
    let po_url = format!("/v1/purchase-orders/{}", orders.po);
    let received = off_runtime(|| {
        let po = server.get(&po_url);
        (
            po["lines"][0]["received"].as_i64(),
            po["lines"][1]["received"].as_i64(),
        )
    });
    assert_eq!(received, (Some(5), Some(6)));
    eprintln!("e2e orders: step 3, the server stops: offline");
    off_runtime(|| server.stop());
    by_id(client, "sync-now").await.click().await.unwrap();
    wait_text(client, "connection", |t| t.starts_with("Offline")).await;
    // The milk comes in with a lot nobody has: its lot and the date on its label.
    by_id(client, "nav-receiving").await.click().await.unwrap();
    wait_text(client, "receive-heading", |t| t.contains("PO-000001")).await;
    type_enter(client, "scan-input", "MILK").await;
    type_enter(client, "lot-input", "L-OFF-1").await;
    type_enter(client, "expiry-input", "2027-06-30").await;
    let field = wait_enabled(client, "qty-input").await;
    assert_eq!(field.prop("value").await.unwrap().as_deref(), Some("3"));
    screenshot(client, shots, "52b-receive-new-lot-offline.png").await;
    confirm_qty(client).await;
    let new_lot = feedback(client, "warn").await;
    assert!(
        new_lot.starts_with("Recorded #3: received 3 × MILK into B4 for PO-000001.")
            && new_lot.contains("lot L-OFF-1 of MILK is new")
            && new_lot.contains("expiring 2027-06-30"),
        "{new_lot}"
    );
    wait_text(client, "receive-progress", |t| t == "3 of 3 lines complete").await;

    eprintln!("e2e orders: step 4, pick a wave of both sales orders offline");
    by_id(client, "nav-picking").await.click().await.unwrap();
    type_enter(client, "pick-order", "SO-000001").await;
    by_id(client, "pick-so-SO-000002")
        .await
        .click()
        .await
        .unwrap();
    wait_text(client, "pick-wave", |t| t == "Wave: SO-000001, SO-000002").await;
    screenshot(client, shots, "53-pick-wave-chosen.png").await;
    type_enter(client, "pick-order", "").await;
    // One walk across both: B1's two stops (SO-1, then SO-2), then B2, then B3.
    assert_eq!(
        pick_rows(client, 4).await,
        [
            "B1 SKU-1 Widget 1  4 SO-000001 To pick",
            "B1 SKU-1 Widget 1  2 SO-000002 To pick",
            "B2 SKU-2 Widget 2  3 SO-000001 To pick",
            "B3 SKU-3 Widget 3  2 SO-000002 To pick",
        ]
    );
    wait_text(client, "pick-progress", |t| {
        t == "0 done · 0 short · 4 left"
    })
    .await;
    screenshot(client, shots, "54-pick-walk.png").await;

    // Stop 1: B1, all 4.
    type_enter(client, "pick-bin", "B1").await;
    scan_offered(client, "SKU-1", "4", "4").await;
    wait_text(client, "feedback", |t| {
        t == "Recorded #4: picked 4 × SKU-1 from B1 for SO-000001"
    })
    .await;
    // Stop 2 is in the same bin: straight to the item. Only 1 of 2 found: a short pick.
    scan_offered(client, "SKU-1", "2", "1").await;
    let short = feedback(client, "warn").await;
    assert_eq!(
        short,
        "Short pick: 1 of 2 found. Press Enter again to record 1; the rest of the line stays open."
    );
    confirm_qty(client).await;
    wait_text(client, "feedback", |t| {
        t == "Recorded #5: short pick, 1 of 2 × SKU-1 from B1 for SO-000002"
    })
    .await;
    wait_text(client, "pick-progress", |t| {
        t == "1 done · 1 short · 2 left"
    })
    .await;
    // Stop 3: B2; the wrong item first, refused.
    type_enter(client, "pick-bin", "B2").await;
    type_enter(client, "scan-input", "SKU-1").await;
    let wrong = feedback(client, "error").await;
    assert_eq!(
        wrong,
        "Wrong item: SKU-1 (Widget 1) was scanned, this stop is SKU-2. Nothing was recorded."
    );
    scan_offered(client, "SKU-2", "3", "3").await;
    wait_text(client, "feedback", |t| {
        t == "Recorded #6: picked 3 × SKU-2 from B2 for SO-000001"
    })
    .await;
    // Stop 4: reserved in B3, taken from B4 (where SKU-3 was just received): B4 is a
    // substitute bin, taken on its second scan.
    type_enter(client, "pick-bin", "B4").await;
    let other = feedback(client, "warn").await;
    assert!(
        other.starts_with("B4 is not this stop's bin (B3). Scan B4 again"),
        "{other}"
    );
    screenshot(client, shots, "55-pick-substitute.png").await;
    let bin = by_id(client, "pick-bin").await;
    bin.clear().await.unwrap();
    bin.send_keys(&format!("B4{}", enter())).await.unwrap();
    scan_offered(client, "SKU-3", "2", "2").await;
    wait_text(client, "feedback", |t| {
        t == "Recorded #7: picked 2 × SKU-3 from B4 for SO-000002"
    })
    .await;
    let finished = wait_text(client, "pick-finished", |t| !t.is_empty()).await;
    assert_eq!(finished, "Wave done: 3 stops picked, 1 short.");
    assert_eq!(
        pick_rows(client, 4).await,
        [
            "B1 SKU-1 Widget 1  4 / 4 SO-000001 Picked",
            "B1 SKU-1 Widget 1  1 / 2 SO-000002 Short",
            "B2 SKU-2 Widget 2  3 / 3 SO-000001 Picked",
            "B3 → B4 SKU-3 Widget 3  2 / 2 SO-000002 Picked",
        ]
    );
    screenshot(client, shots, "56-pick-done.png").await;
    by_id(client, "nav-dashboard").await.click().await.unwrap();
    wait_text(client, "pending-count", |t| t == "5").await;
    wait_text(client, "connection", |t| t.starts_with("Offline")).await;

    eprintln!("e2e orders: step 5, the server is back; the receipt and the picks arrive");
    off_runtime(|| server.restart());
    by_id(client, "sync-now").await.click().await.unwrap();
    wait_text(client, "pending-count", |t| t == "0").await;
    wait_text(client, "connection", |t| t == "Online").await;
    screenshot(client, shots, "57-picks-synced.png").await;
    let server = &*server;
    let (so1, so2) = off_runtime(|| {
        (
            sales_lines(server, &orders.so1),
            sales_lines(server, &orders.so2),
        )
    });
    // SO-1 all picked; SO-2's SKU-1 line short by 1 (its reservation of 1 kept), its
    // SKU-3 line picked from B4, the reservation on B3 consumed with the goods.
    assert_eq!(so1, ("shipped".to_owned(), vec![(4, 0, 4), (3, 0, 3)]));
    assert_eq!(
        so2,
        ("partially_picked".to_owned(), vec![(2, 1, 1), (2, 0, 2)])
    );
    let device = logiflow_replica::Replica::open(data.join("replica.db"))
        .and_then(|r| r.device())
        .expect("failed to read the replica")
        .expect("the app set the device up")
        .device
        .as_uuid();
    let (over, substitute) =
        off_runtime(|| (flags_of(server, device, 2), flags_of(server, device, 7)));
    assert!(over.contains("over_receipt"), "{over}");
    assert!(substitute.contains("pick_other_row"), "{substitute}");
    // The lot made offline is the server's now, with the date typed at the dock, and
    // the purchase line counts the receipt.
    let (lots, po) = off_runtime(|| {
        (
            server.get("/v1/lots?limit=10"),
            server.get(&format!("/v1/purchase-orders/{}", orders.po)),
        )
    });
    let lot = &lots["items"][0];
    assert_eq!(
        (lot["code"].as_str(), lot["expires_on"].as_str()),
        (Some("L-OFF-1"), Some("2027-06-30")),
        "{lots}"
    );
    assert_eq!(po["lines"][2]["received"], 3, "{po}");
    assert_eq!(po["status"], "received", "{po}");
}
