//! Importing products from an Excel file in the real app against a real server (issue
//! #16): Back office → Import, and Back office → Warehouses for the bin generator.
//!
//! 1. An admin's device connects; the import form lists every kind.
//! 2. A workbook with one bad row (a barcode whose check digit is wrong) is checked: the
//!    progress bar reaches the end, the preview counts one row with errors and names it
//!    (row, column, value), and Import stays disabled; nothing is written.
//! 3. The fixed workbook is checked (the path typed into the form: the "Browse…" button
//!    opens the system's dialog, which WebDriver cannot drive) and imported.
//! 4. The next sync brings the new products to the device's replica.
//! 5. The bin generator: a zone made on the server reaches the device; A–D × 01–02 under
//!    it is previewed (8 new), created in one request, and the next sync brings the 8
//!    bins under the zone; the same grid again finds them all there.
//!
//! Screenshots `60-…` to `64-…`.

use std::path::Path;

use fantoccini::{Client, Locator};

use super::harness::{self, Server};
use super::{Shots, by_id, connect_app, eventually, off_runtime, run_app, screenshot, wait_text};

/// The most the walk may take.
const IMPORTS_TIMEOUT_MS: u64 = 120_000;

#[test]
fn an_admin_imports_products_from_a_workbook_and_generates_bins_and_the_device_gets_them() {
    let server = Server::start("import-desk");
    harness::seed(&server, 1, 1);

    let data = tempfile::tempdir().expect("failed to create a data directory");
    run_app(
        &server.base,
        data.path(),
        &[],
        IMPORTS_TIMEOUT_MS,
        async |client, shots| {
            walk(client, shots, &server, data.path()).await;
        },
    );
}

/// A products workbook: SKU, name, barcodes; the second product's barcode as given.
fn workbook(path: &Path, second_barcode: &str) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let rows = [
        ["sku", "name", "barcodes"],
        ["IMP-1", "Imported one", "4006381333931"],
        ["IMP-2", "Imported two", second_barcode],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            sheet
                .write_string(
                    u32::try_from(r).expect("small"),
                    u16::try_from(c).expect("small"),
                    *cell,
                )
                .expect("failed to write a cell");
        }
    }
    book.save(path).expect("failed to save the workbook");
}

/// A count read from the app's replica file (beside the running app) with `sql`.
fn replica_count(data: &Path, sql: &str, param: &str) -> i64 {
    let db = rusqlite::Connection::open_with_flags(
        data.join("replica.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("failed to open the app's replica");
    db.query_row(sql, [param], |r| r.get(0))
        .expect("failed to count")
}

/// The replica's products whose SKU starts with `IMP-`.
fn replica_products(data: &Path) -> i64 {
    replica_count(
        data,
        "select count(*) from product where sku like ?1 || '%'",
        "IMP-",
    )
}

/// The replica's locations under the location `parent` (by code), and the parent itself
/// (1 when the device has it).
fn replica_children(data: &Path, parent: &str) -> (i64, i64) {
    (
        replica_count(
            data,
            "select count(*) from location c join location p on p.id = c.parent_id where p.code = ?1",
            parent,
        ),
        replica_count(
            data,
            "select count(*) from location where code = ?1",
            parent,
        ),
    )
}

/// Replaces the text of the field `test_id`.
async fn type_into(client: &Client, test_id: &str, text: &str) {
    let field = by_id(client, test_id).await;
    field.clear().await.unwrap();
    // Typed, so the form sees input events (`clear` alone fires none): an empty text is
    // a character typed and deleted.
    let keys = if text.is_empty() { "x\u{E003}" } else { text };
    field.send_keys(keys).await.unwrap();
}

async fn bins(client: &Client, shots: &Shots<'_>, server: &Server, data: &Path) {
    eprintln!("e2e imports: step 5, a zone on the server, then bins under it from the app");
    off_runtime(|| {
        let warehouses = server.send(
            reqwest::Method::GET,
            "/v1/warehouses",
            Some(&server.admin_token),
            None,
            200,
        );
        let wh1 = warehouses["items"]
            .as_array()
            .and_then(|items| items.iter().find(|w| w["code"] == "WH1"))
            .expect("WH1")["id"]
            .clone();
        server.send(
            reqwest::Method::POST,
            "/v1/locations",
            Some(&server.admin_token),
            Some(serde_json::json!({"warehouse_id": wh1, "code": "Z9", "name": "Zone 9"})),
            201,
        );
    });
    by_id(client, "sync-now").await.click().await.unwrap();
    eventually("the zone on the device", || async {
        (replica_children(data, "Z9") == (0, 1)).then_some(())
    })
    .await;
    back_office(client, "warehouses").await;
    type_into(client, "bins-parent", "Z9").await;
    type_into(client, "bins-to-1", "02").await;
    type_into(client, "bins-from-2", "").await;
    by_id(client, "bins-preview-button")
        .await
        .click()
        .await
        .unwrap();
    let preview = wait_text(client, "bins-preview", |t| !t.is_empty()).await;
    assert!(
        preview.starts_with("8 bins: 8 new, 0 already there."),
        "{preview}"
    );
    assert!(preview.contains("A-01, A-02, B-01"), "{preview}");
    screenshot(client, shots, "63-bins-preview.png").await;
    assert_eq!(
        replica_children(data, "Z9"),
        (0, 1),
        "a preview creates nothing"
    );
    by_id(client, "bins-create").await.click().await.unwrap();
    let notice = wait_text(client, "bins-notice", |t| !t.is_empty()).await;
    assert!(notice.starts_with("Created 8 bins (0 were"), "{notice}");
    by_id(client, "sync-now").await.click().await.unwrap();
    eventually("the 8 bins under Z9 on the device", || async {
        (replica_children(data, "Z9") == (8, 1)).then_some(())
    })
    .await;
    back_office(client, "warehouses").await;
    by_id(client, "bins-preview-button")
        .await
        .click()
        .await
        .unwrap();
    let again = wait_text(client, "bins-preview", |t| !t.is_empty()).await;
    assert!(
        again.starts_with("8 bins: 0 new, 8 already there."),
        "{again}"
    );
    assert!(
        !by_id(client, "bins-create")
            .await
            .is_enabled()
            .await
            .unwrap()
    );
    screenshot(client, shots, "64-bins-again.png").await;
}

/// Opens the Back office (its tab appears once the server said who is signed in) at
/// `section`.
pub(crate) async fn back_office(client: &Client, section: &str) {
    by_id(client, "nav-backoffice").await.click().await.unwrap();
    by_id(client, &format!("bo-tab-{section}"))
        .await
        .click()
        .await
        .unwrap();
}

/// Puts `path` into the form's file field and checks the file.
async fn check(client: &Client, path: &Path) {
    let field = by_id(client, "import-path").await;
    field.clear().await.unwrap();
    field
        .send_keys(path.to_str().expect("UTF-8"))
        .await
        .unwrap();
    by_id(client, "import-submit").await.click().await.unwrap();
}

async fn walk(client: &Client, shots: &Shots<'_>, server: &Server, data: &Path) {
    eprintln!("e2e imports: step 1, connect; the import form lists every kind");
    connect_app(client, &server.slug.clone(), &server.email.clone()).await;
    back_office(client, "import").await;
    by_id(client, "import-form").await;
    let kinds = client
        .find_all(Locator::Css("[data-testid=\"import-kind\"] option"))
        .await
        .unwrap();
    assert_eq!(kinds.len(), 8);

    eprintln!("e2e imports: step 2, a workbook with a bad row: named, nothing written");
    let bad = data.join("products-bad.xlsx");
    workbook(&bad, "4006381333932");
    check(client, &bad).await;
    let preview = wait_text(client, "import-preview", |t| t.starts_with("2 rows")).await;
    assert!(preview.contains("1 with errors"), "{preview}");
    let errors = wait_text(client, "import-errors", |t| !t.is_empty()).await;
    assert!(
        errors.contains("row 3, barcodes") && errors.contains("4006381333932"),
        "{errors}"
    );
    wait_text(client, "import-progress-label", |t| {
        t == "Checked 2 of 2 rows"
    })
    .await;
    let percent = client
        .execute(
            "return document.querySelector('[data-testid=\"import-progress\"]').value;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(percent, serde_json::json!(100));
    let commit = by_id(client, "import-commit").await;
    assert!(
        !commit.is_enabled().await.unwrap(),
        "a file with errors cannot be imported"
    );
    screenshot(client, shots, "60-import-error.png").await;
    let written: i64 = off_runtime(|| {
        server.block_on(async {
            sqlx::query_scalar("select count(*) from product where sku like 'IMP-%'")
                .fetch_one(&server.owner)
                .await
                .unwrap()
        })
    });
    assert_eq!(written, 0);

    eprintln!("e2e imports: step 3, the fixed workbook is imported");
    let good = data.join("products.xlsx");
    workbook(&good, "");
    check(client, &good).await;
    let preview = wait_text(client, "import-preview", |t| t.starts_with("2 rows")).await;
    assert!(
        preview.contains("2 to create") && preview.contains("0 with errors"),
        "{preview}"
    );
    screenshot(client, shots, "61-import-preview.png").await;
    by_id(client, "import-commit").await.click().await.unwrap();
    let notice = wait_text(client, "import-notice", |t| !t.is_empty()).await;
    assert_eq!(notice, "Imported: 2 created, 0 updated.");
    screenshot(client, shots, "62-imported.png").await;

    eprintln!("e2e imports: step 4, the next sync brings the products to the device");
    assert_eq!(replica_products(data), 0);
    by_id(client, "sync-now").await.click().await.unwrap();
    eventually("the imported products in the replica", || async {
        (replica_products(data) == 2).then_some(())
    })
    .await;

    bins(client, shots, server, data).await;
}
