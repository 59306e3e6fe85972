//! The Back office in the real app against a real server (issue #16): an admin's device
//! visits every section once, with the keyboard where the screen is meant to be driven
//! by it, and the server is checked for each change.
//!
//! 1. Warehouses: a new warehouse with its time zone found by searching "new york";
//!    deactivated, then active again.
//! 2. Locations: WH1's tree; a zone and a bin under it added; ↑ ← → ↓ move, close and
//!    open the tree; the bin renamed; deleting the zone (it has a bin) is refused and
//!    the server's reason is shown in words.
//! 3. Settings: a product custom field schema (invalid JSON is caught as typed) and the
//!    company's time zone, saved.
//! 4. Products: a new product with a barcode whose check digit is wrong (said as it is
//!    typed, then fixed), lot tracking, a decimal cost and the custom field the schema
//!    made; found by SKU prefix, barcode and name; then a lot of it.
//! 5. People: a user created as operator and made a viewer; this device in the list; an
//!    API key created (its secret shown once, and it works on the API), then revoked
//!    (and it no longer does).
//! 6. Audit: filtered to products, the creation shows its fields as a diff.
//! 7. The server goes away: a section says the back office needs it and shows no list.
//!
//! Screenshots `70-…` to `76-…`.

use fantoccini::{Client, Locator};
use serde_json::Value;

use super::harness::{self, Server};
use super::imports::back_office;
use super::{Shots, by_id, connect_app, eventually, off_runtime, run_app, screenshot, wait_text};

/// The most the walk may take.
const BACKOFFICE_TIMEOUT_MS: u64 = 150_000;

/// WebDriver's arrow keys.
const UP: &str = "\u{E013}";
const LEFT: &str = "\u{E012}";
const RIGHT: &str = "\u{E014}";
const DOWN: &str = "\u{E015}";

#[test]
fn an_admin_manages_warehouses_locations_settings_products_people_and_reads_the_audit() {
    let mut server = Server::start("backoffice-desk");
    harness::seed(&server, 1, 1);

    let data = tempfile::tempdir().expect("failed to create a data directory");
    run_app(
        &server.base.clone(),
        data.path(),
        &[],
        BACKOFFICE_TIMEOUT_MS,
        async |client, shots| {
            walk(client, shots, &mut server).await;
        },
    );
}

/// `GET path` on the server as the tenant's admin.
fn get(server: &Server, path: &str) -> Value {
    off_runtime(|| server.get(path))
}

/// The item of the list at `path` whose `field` is `value`.
fn find(server: &Server, path: &str, field: &str, value: &str) -> Value {
    get(server, path)["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i[field] == value).cloned())
        .unwrap_or_else(|| panic!("no {field} = {value} in {path}"))
}

/// Replaces the text of the field `test_id` (typed, so the form sees input events).
async fn type_into(client: &Client, test_id: &str, text: &str) {
    let field = by_id(client, test_id).await;
    field.clear().await.unwrap();
    let keys = if text.is_empty() { "x\u{E003}" } else { text };
    field.send_keys(keys).await.unwrap();
}

async fn click(client: &Client, test_id: &str) {
    by_id(client, test_id).await.click().await.unwrap();
}

/// Whether an element with `test_id` is on the screen now.
async fn present(client: &Client, test_id: &str) -> bool {
    client
        .find(Locator::Css(&format!("[data-testid=\"{test_id}\"]")))
        .await
        .is_ok()
}

/// Waits until the element with `test_id` is gone.
async fn gone(client: &Client, test_id: &str) {
    eventually(&format!("[data-testid={test_id}] to go"), || async {
        (!present(client, test_id).await).then_some(())
    })
    .await;
}

/// Sends `key` to the element that has the focus.
async fn press(client: &Client, key: &str) {
    client
        .active_element()
        .await
        .unwrap()
        .send_keys(key)
        .await
        .unwrap();
}

/// Waits until the tree's selected location is `code`.
async fn selected(client: &Client, code: &str) {
    eventually(&format!("{code} selected in the tree"), || async {
        let item = client
            .find(Locator::Css(&format!("[data-testid=\"bo-loc-{code}\"]")))
            .await
            .ok()?;
        (item.attr("aria-selected").await.ok()?? == "true").then_some(())
    })
    .await;
}

async fn walk(client: &Client, shots: &Shots<'_>, server: &mut Server) {
    connect_app(client, &server.slug.clone(), &server.email.clone()).await;
    warehouses(client, shots, server).await;
    locations(client, shots, server).await;
    settings(client, shots, server).await;
    products(client, shots, server).await;
    people(client, shots, server).await;
    audit(client, shots).await;

    eprintln!("e2e backoffice: step 7, the server goes away");
    off_runtime(|| server.stop());
    back_office(client, "products").await;
    back_office(client, "warehouses").await;
    let problem = wait_text(client, "bo-problem", |t| !t.is_empty()).await;
    assert!(
        problem.starts_with("The back office needs the server"),
        "{problem}"
    );
    assert!(!present(client, "bo-warehouses").await, "nothing stale");
    screenshot(client, shots, "76-backoffice-offline.png").await;
}

async fn warehouses(client: &Client, shots: &Shots<'_>, server: &Server) {
    eprintln!("e2e backoffice: step 1, a warehouse with a searched time zone");
    back_office(client, "warehouses").await;
    by_id(client, "bo-warehouse-WH1").await;
    type_into(client, "bo-warehouse-code", "WH2").await;
    type_into(client, "bo-warehouse-name", "North").await;
    type_into(client, "bo-warehouse-zone-search", "new york").await;
    click(client, "bo-warehouse-zone-America/New_York").await;
    wait_text(client, "bo-warehouse-timezone", |t| t == "America/New_York").await;
    type_into(client, "bo-warehouse-address", "1 Dock Road").await;
    screenshot(client, shots, "70-backoffice-warehouse.png").await;
    click(client, "bo-warehouse-save").await;
    let notice = wait_text(client, "bo-notice", |t| !t.is_empty()).await;
    assert_eq!(notice, "Created WH2.");
    by_id(client, "bo-warehouse-WH2").await;
    let wh2 = find(server, "/v1/warehouses", "code", "WH2");
    assert_eq!(
        (&wh2["name"], &wh2["timezone"], &wh2["address"]),
        (
            &Value::from("North"),
            &Value::from("America/New_York"),
            &Value::from("1 Dock Road")
        )
    );
    // Deactivated, then active again.
    click(client, "bo-warehouse-deactivate-WH2").await;
    wait_text(client, "bo-notice", |t| t == "WH2 is deactivated.").await;
    assert_eq!(
        find(server, "/v1/warehouses", "code", "WH2")["active"],
        false
    );
    click(client, "bo-warehouse-activate-WH2").await;
    wait_text(client, "bo-notice", |t| t == "WH2 is active again.").await;
    assert_eq!(
        find(server, "/v1/warehouses", "code", "WH2")["active"],
        true
    );
}

async fn locations(client: &Client, shots: &Shots<'_>, server: &Server) {
    eprintln!("e2e backoffice: step 2, WH1's location tree");
    click(client, "bo-warehouse-tree-WH1").await;
    by_id(client, "bo-loc-B1").await;
    // Nothing chosen yet: a new top-level zone.
    type_into(client, "bo-loc-new-code", "Z1").await;
    type_into(client, "bo-loc-new-name", "Zone 1").await;
    click(client, "bo-loc-new").await;
    click(client, "bo-loc-Z1").await;
    selected(client, "Z1").await;
    type_into(client, "bo-loc-new-code", "Z1-01").await;
    click(client, "bo-loc-new").await;
    by_id(client, "bo-loc-Z1-01").await;

    // The keyboard: from the bin, up to the zone, close it, open it, down to the bin.
    click(client, "bo-loc-Z1-01").await;
    selected(client, "Z1-01").await;
    press(client, UP).await;
    selected(client, "Z1").await;
    press(client, LEFT).await;
    gone(client, "bo-loc-Z1-01").await;
    press(client, RIGHT).await;
    by_id(client, "bo-loc-Z1-01").await;
    press(client, DOWN).await;
    selected(client, "Z1-01").await;

    type_into(client, "bo-loc-name", "First bin").await;
    click(client, "bo-loc-rename").await;
    let notice = wait_text(client, "bo-tree-notice", |t| t.starts_with("Saved")).await;
    assert_eq!(notice, "Saved Z1-01.");
    let bin = get(server, "/v1/locations?q=Z1-01");
    let renamed = bin["items"]
        .as_array()
        .and_then(|items| items.iter().find(|l| l["code"] == "Z1-01"))
        .expect("Z1-01 on the server");
    assert_eq!(renamed["name"], "First bin");

    // The zone has a bin: deleting it asks twice, then the server's reason in words.
    click(client, "bo-loc-Z1").await;
    selected(client, "Z1").await;
    click(client, "bo-loc-delete").await;
    wait_text(client, "bo-tree-notice", |t| {
        t == "Press Delete again to delete Z1."
    })
    .await;
    click(client, "bo-loc-delete").await;
    let refused = wait_text(client, "bo-tree-problem", |t| !t.is_empty()).await;
    assert_eq!(
        refused,
        "The server refused the request: the location has child locations; delete or move them first"
    );
    by_id(client, "bo-loc-Z1").await;
    screenshot(client, shots, "71-backoffice-tree.png").await;
}

async fn settings(client: &Client, shots: &Shots<'_>, server: &Server) {
    eprintln!("e2e backoffice: step 3, company settings and a product field schema");
    back_office(client, "settings").await;
    by_id(client, "bo-settings-form").await;
    type_into(client, "bo-settings-schema", "{\"type\": ").await;
    let invalid = wait_text(client, "bo-schema-problem", |t| !t.is_empty()).await;
    assert!(
        invalid.starts_with("The schema is not valid JSON"),
        "{invalid}"
    );
    type_into(
        client,
        "bo-settings-schema",
        r#"{"type": "object", "properties": {"color": {"type": "string", "title": "Colour"}}}"#,
    )
    .await;
    wait_text(client, "bo-schema-fields", |t| {
        t == "Fields on the product form: color"
    })
    .await;
    type_into(client, "bo-settings-zone-search", "berlin").await;
    click(client, "bo-settings-zone-Europe/Berlin").await;
    screenshot(client, shots, "72-backoffice-settings.png").await;
    click(client, "bo-settings-save").await;
    wait_text(client, "bo-notice", |t| t == "Settings saved.").await;
    let saved = get(server, "/v1/settings");
    assert_eq!(saved["timezone"], "Europe/Berlin", "{saved}");
    assert_eq!(
        saved["product_field_schema"]["properties"]["color"]["title"], "Colour",
        "{saved}"
    );
}

async fn products(client: &Client, shots: &Shots<'_>, server: &Server) {
    eprintln!("e2e backoffice: step 4, a product with a checked barcode and a custom field");
    back_office(client, "products").await;
    by_id(client, "bo-product-SKU-1").await;
    click(client, "bo-product-new").await;
    type_into(client, "bo-product-sku", "BO-1").await;
    type_into(client, "bo-product-name", "Back office widget").await;
    type_into(client, "bo-product-barcodes", "4006381333932").await;
    let wrong = wait_text(client, "bo-barcode-problem", |t| !t.is_empty()).await;
    assert!(wrong.contains("check digit"), "{wrong}");
    screenshot(client, shots, "73-backoffice-barcode.png").await;
    type_into(client, "bo-product-barcodes", "4006381333931").await;
    gone(client, "bo-barcode-problem").await;
    click(client, "bo-product-lots").await;
    type_into(client, "bo-product-cost", "1.25").await;
    type_into(client, "bo-custom-input-color", "red").await;
    click(client, "bo-product-save").await;
    wait_text(client, "bo-notice", |t| t == "Created BO-1.").await;
    let made = find(server, "/v1/products?sku_prefix=BO-", "sku", "BO-1");
    assert_eq!(made["cost"], "1.25", "{made}");
    assert_eq!(made["lot_tracked"], true, "{made}");
    assert_eq!(made["custom"]["color"], "red", "{made}");
    assert_eq!(made["barcodes"][0], "4006381333931", "{made}");

    // The search finds it by the start of its SKU, by its barcode and by its name (each
    // after a search for SKU-1 alone, so every answer is seen to change the list).
    let search = async |text: &str, shown: &str, hidden: &str| {
        type_into(
            client,
            "bo-product-search",
            &format!("{text}{}", super::enter()),
        )
        .await;
        by_id(client, &format!("bo-product-{shown}")).await;
        gone(client, &format!("bo-product-{hidden}")).await;
    };
    for text in ["bo-", "4006381333931", "office widget"] {
        search("sku-1", "SKU-1", "BO-1").await;
        search(text, "BO-1", "SKU-1").await;
    }

    type_into(client, "bo-lot-code", "L-0001").await;
    click(client, "bo-lot-add").await;
    wait_text(client, "bo-lots", |t| t.contains("L-0001")).await;
    let id = made["id"].as_str().expect("an id").to_owned();
    let lot = find(
        server,
        &format!("/v1/lots?product_id={id}"),
        "code",
        "L-0001",
    );
    assert_eq!(lot["product_id"], made["id"]);
}

async fn people(client: &Client, shots: &Shots<'_>, server: &Server) {
    eprintln!("e2e backoffice: step 5, a user, this device, and an API key");
    back_office(client, "people").await;
    type_into(client, "bo-user-email", "picker@backoffice.test").await;
    type_into(client, "bo-user-name", "Pat Picker").await;
    type_into(client, "bo-user-password", "a long enough password 1").await;
    click(client, "bo-user-create").await;
    by_id(client, "bo-user-picker@backoffice.test").await;
    by_id(client, "bo-user-role-picker@backoffice.test")
        .await
        .select_by_value("viewer")
        .await
        .unwrap();
    wait_text(client, "bo-notice", |t| {
        t == "picker@backoffice.test is now viewer."
    })
    .await;
    let user = find(server, "/v1/users", "email", "picker@backoffice.test");
    assert_eq!(user["role"], "viewer", "{user}");

    let device = get(server, "/v1/devices")["items"][0]["name"]
        .as_str()
        .expect("this device")
        .to_owned();
    by_id(client, &format!("bo-device-{device}")).await;

    type_into(client, "bo-key-name", "ERP").await;
    click(client, "bo-key-perm-catalog_read").await;
    click(client, "bo-key-create").await;
    let secret = eventually("the new key's secret", || async {
        let field = client
            .find(Locator::Css("[data-testid=\"bo-key-secret\"]"))
            .await
            .ok()?;
        field.prop("value").await.ok()?.filter(|v| !v.is_empty())
    })
    .await;
    screenshot(client, shots, "74-backoffice-key.png").await;
    let with_key = |secret: &str| {
        let base = server.base.clone();
        let secret = secret.to_owned();
        off_runtime(move || {
            reqwest::blocking::Client::new()
                .get(format!("{base}/v1/products"))
                .header("Authorization", format!("ApiKey {secret}"))
                .send()
                .expect("the server answers")
                .status()
                .as_u16()
        })
    };
    assert_eq!(with_key(&secret), 200, "the key works on the API");
    click(client, "bo-key-done").await;
    gone(client, "bo-key-secret").await;
    click(client, "bo-key-revoke-ERP").await;
    wait_text(client, "bo-notice", |t| t == "Revoked ERP.").await;
    assert_eq!(with_key(&secret), 401, "a revoked key no longer works");
}

async fn audit(client: &Client, shots: &Shots<'_>) {
    eprintln!("e2e backoffice: step 6, the audit log as a diff");
    back_office(client, "audit").await;
    type_into(client, "bo-audit-target", "product").await;
    click(client, "bo-audit-search").await;
    // Only product entries once the filter applies, BO-1's creation (newest first) among
    // them with its SKU as a change. Read again until the list settles.
    let (actions, sku) = eventually("the audit log filtered to products", || async {
        let mut actions = Vec::new();
        for entry in client
            .find_all(Locator::Css("[data-testid=\"bo-audit-entry\"]"))
            .await
            .ok()?
        {
            actions.push(entry.attr("data-action").await.ok()??);
        }
        let sku = client
            .find(Locator::Css(
                "[data-testid=\"bo-audit-entry\"][data-action=\"product.create\"] [data-testid=\"bo-audit-change\"][data-field=\"sku\"]",
            ))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        actions
            .iter()
            .all(|a| a.starts_with("product."))
            .then_some((actions, sku))
    })
    .await;
    assert!(sku.contains("BO-1"), "{sku}");
    assert!(
        actions.contains(&"product.create".to_owned()),
        "{actions:?}"
    );
    screenshot(client, shots, "75-backoffice-audit.png").await;
}
