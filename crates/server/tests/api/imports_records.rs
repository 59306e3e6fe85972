//! Bulk import of lots (`kind=lots`), suppliers and customers (`kind=suppliers`,
//! `kind=customers`): per-row errors named by column, commit, re-import unchanged.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::imports::{commit_refused, count, counts, preview, upload};
use crate::imports_locations::{commit, csv, row_errors};

/// Asserts that the preview's errors include `row`'s `column` saying `text`.
pub async fn says(app: &TestApp, token: &str, job: &Value, expected: &[(i64, &str, &str)]) {
    let errors = row_errors(app, token, job).await;
    for (row, column, text) in expected {
        assert!(
            errors
                .iter()
                .any(|(r, c, m)| r == row && c == column && m.contains(text)),
            "row {row} {column} {text:?} not in {errors:?}"
        );
    }
}

/// The lots of `product` as `(code, expires_on)`, by code.
async fn lots(app: &TestApp, token: &str, product: &Value) -> Vec<(String, Value)> {
    let page = get_json(
        app,
        format!("/v1/lots?product_id={}", id_of(product)),
        token,
    )
    .await;
    let mut out: Vec<(String, Value)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["code"].as_str().unwrap().to_owned(),
                l["expires_on"].clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Exports `kind` as CSV and as XLSX and previews each as an import: `expected` counts.
async fn round_trip(app: &TestApp, token: &str, kind: &str, expected: [i64; 4]) {
    for format in ["csv", "xlsx"] {
        let r = app
            .get(&format!("/v1/exports/{kind}?format={format}"), token)
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{kind} {format}");
        let bytes = r.bytes().await.unwrap().to_vec();
        let job = preview(
            app,
            token,
            &format!("kind={kind}&format={format}"),
            "application/octet-stream",
            bytes,
        )
        .await;
        assert_eq!(counts(&job), expected, "{kind} {format}: {job}");
    }
}

#[tokio::test]
async fn a_lot_file_adds_lots_and_expiry_dates_of_lot_tracked_products() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let tracked = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "MILK", "name": "Milk", "lot_tracked": true, "expiry_policy": "fefo"}),
    )
    .await;
    create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "BOLT", "name": "Bolt"}),
    )
    .await;
    create(
        &app,
        "/v1/lots",
        &t.token,
        json!({"product_id": tracked["id"], "code": "L0", "expires_on": "2027-01-01"}),
    )
    .await;

    let bad = csv(&[
        "sku,lot,expires_on",
        "milk,L1,2027-03-31",
        "MILK,l1,46477",
        "MILK,L0,2027-02-01",
        "BOLT,X1,",
        "NOPE,X1,",
        "MILK,L2,31/03/2027",
        "MILK,,2027-01-01",
    ]);
    let job = preview(&app, &t.token, "kind=lots", "text/csv", bad).await;
    assert_eq!(counts(&job), [2, 1, 0, 4], "{job}");
    says(
        &app,
        &t.token,
        &job,
        &[
            (5, "sku", "not lot-tracked"),
            (6, "sku", "no product with SKU"),
            (7, "expires_on", "YYYY-MM-DD"),
            (8, "lot", "lot code"),
        ],
    )
    .await;
    commit_refused(&app, &t.token, &job).await;
    assert_eq!(lots(&app, &t.token, &tracked).await.len(), 1);

    // The file fixed: lot codes are case-sensitive, a spreadsheet's day number is a date.
    let good = csv(&[
        "sku,lot,expires_on",
        "milk,L1,2027-03-31",
        "MILK,l1,46477",
        "MILK,L0,2027-02-01",
    ]);
    let job = preview(&app, &t.token, "kind=lots", "text/csv", good.clone()).await;
    assert_eq!(counts(&job), [2, 1, 0, 0], "{job}");
    let changes = count(&app, "catalog_change").await;
    commit(&app, &t.token, &job).await;
    assert_eq!(
        lots(&app, &t.token, &tracked).await,
        [
            ("L0".to_owned(), json!("2027-02-01")),
            ("L1".to_owned(), json!("2027-03-31")),
            ("l1".to_owned(), json!("2027-03-31")),
        ]
    );
    assert_eq!(count(&app, "catalog_change").await, changes + 3);
    let again = preview(&app, &t.token, "kind=lots", "text/csv", good).await;
    assert_eq!(counts(&again), [0, 0, 3, 0]);
    round_trip(&app, &t.token, "lots", [0, 0, 3, 0]).await;
    // Without the column, a date stays as it is.
    let again = preview(
        &app,
        &t.token,
        "kind=lots",
        "text/csv",
        csv(&["sku,lot", "MILK,L0"]),
    )
    .await;
    assert_eq!(counts(&again), [0, 0, 1, 0]);
}

#[tokio::test]
async fn lot_tracking_turned_off_after_the_preview_refuses_the_lot_import() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let product = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "MILK", "name": "Milk", "lot_tracked": true}),
    )
    .await;
    let job = preview(
        &app,
        &t.token,
        "kind=lots",
        "text/csv",
        csv(&["sku,lot", "MILK,L1"]),
    )
    .await;
    assert_eq!(counts(&job), [1, 0, 0, 0]);
    let r = app
        .patch(
            &format!("/v1/products/{}", id_of(&product)),
            &t.token,
            json!({"lot_tracked": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(
            &format!("/v1/imports/{}/commit", id_of(&job)),
            &t.token,
            json!({}),
        )
        .await;
    problem(r, StatusCode::CONFLICT, "product_not_lot_tracked").await;
    assert_eq!(count(&app, "lot").await, 0);
}

#[tokio::test]
async fn supplier_and_customer_files_are_checked_by_the_api_rules_and_merge_by_code() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    create(
        &app,
        "/v1/suppliers",
        &t.token,
        json!({"code": "ACME", "name": "Acme", "email": "sales@acme.test", "lead_time_days": 5}),
    )
    .await;

    let bad = csv(&[
        "code,name,email,lead_time_days,active",
        "acme,Acme Corp,,,",
        "NEW-1,New one,orders@new.test,10,yes",
        "NEW 2,,not-an-email,-1,maybe",
    ]);
    let job = preview(&app, &t.token, "kind=suppliers", "text/csv", bad).await;
    assert_eq!(counts(&job), [1, 1, 0, 1], "{job}");
    says(
        &app,
        &t.token,
        &job,
        &[
            (4, "code", "location code"),
            (4, "name", ""),
            (4, "email", ""),
            (4, "lead_time_days", "between 0 and 3650"),
            (4, "active", "true or false"),
        ],
    )
    .await;
    commit_refused(&app, &t.token, &job).await;

    // Fixed: the existing supplier's email and lead time are cleared by the empty cells
    // of present columns; absent columns (phone, address) stay.
    let good = csv(&[
        "code,name,email,lead_time_days,active",
        "acme,Acme Corp,,,",
        "NEW-1,New one,orders@new.test,10,yes",
    ]);
    let job = preview(&app, &t.token, "kind=suppliers", "text/csv", good.clone()).await;
    assert_eq!(counts(&job), [1, 1, 0, 0]);
    commit(&app, &t.token, &job).await;
    let page = get_json(&app, "/v1/suppliers", &t.token).await;
    let by_code = |code: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["code"] == code)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_code("ACME")["name"], "Acme Corp");
    assert_eq!(by_code("ACME")["email"], "");
    assert!(by_code("ACME")["lead_time_days"].is_null());
    assert_eq!(by_code("NEW-1")["lead_time_days"], 10);
    assert_eq!(by_code("NEW-1")["email"], "orders@new.test");
    let again = preview(&app, &t.token, "kind=suppliers", "text/csv", good).await;
    assert_eq!(counts(&again), [0, 0, 2, 0]);
    round_trip(&app, &t.token, "suppliers", [0, 0, 2, 0]).await;

    // Customers have a shelf life, not a lead time; codes are per kind.
    let r = upload(
        &app,
        &t.token,
        "kind=customers",
        "text/csv",
        csv(&["code,name,lead_time_days", "ACME,Acme,3"]),
    )
    .await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "import_columns").await;
    let job = preview(
        &app,
        &t.token,
        "kind=customers",
        "text/csv",
        csv(&["code,name,min_shelf_life_days", "ACME,Acme retail,30"]),
    )
    .await;
    assert_eq!(counts(&job), [1, 0, 0, 0]);
    commit(&app, &t.token, &job).await;
    let customers = get_json(&app, "/v1/customers", &t.token).await;
    assert_eq!(customers["items"][0]["min_shelf_life_days"], 30);
    round_trip(&app, &t.token, "customers", [0, 0, 1, 0]).await;
    assert_eq!(count(&app, "party").await, 3);
}
