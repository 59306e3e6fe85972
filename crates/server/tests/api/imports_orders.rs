//! Importing order lines (`kind=purchase_orders`, `kind=sales_orders`): the rows of a
//! reference become one draft order made by the orders' own `create`; a reference
//! imported before is unchanged, so a file imported twice creates each order once; bad
//! rows are named; the kind's own permission is needed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::imports::{commit_refused, counts, preview, upload};
use crate::imports_locations::{commit, csv, row_errors};
use crate::imports_records::says;
use crate::inventory::coded_site;

struct Scene {
    app: TestApp,
    t: Tenant,
    wh: String,
    sku: String,
    tracked: String,
}

async fn scene() -> Scene {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let (_, wh, sku, tracked) = coded_site(&app, t.id, 1).await;
    create(
        &app,
        "/v1/suppliers",
        &t.token,
        json!({"code": "SUP-1", "name": "Supplier"}),
    )
    .await;
    create(
        &app,
        "/v1/customers",
        &t.token,
        json!({"code": "CUST-1", "name": "Customer"}),
    )
    .await;
    Scene {
        app,
        t,
        wh,
        sku,
        tracked,
    }
}

async fn orders(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let page = get_json(app, format!("{path}?limit=100"), token).await;
    page["items"].as_array().unwrap().clone()
}

fn lines(file: &[String]) -> Vec<&str> {
    file.iter().map(String::as_str).collect()
}

/// Uploads `file` as a CSV of `kind` and waits for its preview.
async fn as_csv(app: &TestApp, token: &str, kind: &str, file: &[String]) -> Value {
    preview(
        app,
        token,
        &format!("kind={kind}&format=csv"),
        "text/csv",
        csv(&lines(file)),
    )
    .await
}

/// Uploads `file` as a CSV of `kind`.
async fn upload_csv(app: &TestApp, token: &str, kind: &str, file: &[String]) -> reqwest::Response {
    upload(
        app,
        token,
        &format!("kind={kind}&format=csv"),
        "text/csv",
        csv(&lines(file)),
    )
    .await
}

#[tokio::test]
async fn purchase_order_lines_become_one_draft_per_reference_and_a_second_import_changes_nothing() {
    let Scene {
        app,
        t,
        wh,
        sku,
        tracked,
    } = scene().await;
    let file = [
        "reference,supplier,warehouse,expected_on,notes,sku,qty,unit_cost".to_owned(),
        format!("ERP-100,sup-1,{wh},2027-01-15,dock 2,{sku},10,1.50"),
        format!("ERP-101,SUP-1,{wh},,,{sku},3,2"),
        format!("ERP-100,SUP-1,{wh},2027-01-15,dock 2,{tracked},5,"),
    ];
    let job = as_csv(&app, &t.token, "purchase_orders", &file).await;
    assert_eq!(counts(&job), [3, 0, 0, 0], "{job}");
    assert!(
        orders(&app, &t.token, "/v1/purchase-orders")
            .await
            .is_empty(),
        "a preview creates nothing"
    );
    commit(&app, &t.token, &job).await;

    let made = orders(&app, &t.token, "/v1/purchase-orders").await;
    assert_eq!(made.len(), 2, "{made:?}");
    let first = &made[0];
    assert_eq!(first["status"], "draft");
    assert_eq!(first["expected_on"], "2027-01-15");
    assert_eq!(first["notes"], "dock 2");
    let got: Vec<(i64, f64)> = first["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["qty"].as_i64().unwrap(),
                l["unit_cost"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(10, 1.5), (5, 0.0)], "the file's lines in order");
    assert_eq!(made[1]["lines"].as_array().unwrap().len(), 1);
    assert_eq!(made[1]["expected_on"], Value::Null);
    // Made by the orders' own create: numbered, audited.
    assert!(
        first["number"].as_str().unwrap().starts_with("PO-"),
        "{first}"
    );
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where tenant_id = $1 and action = 'purchase_order.create'",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(audited, 2);

    // The same file again, and a file with one more order: the orders imported before
    // are unchanged, whatever became of them since.
    let again = as_csv(&app, &t.token, "purchase_orders", &file).await;
    assert_eq!(counts(&again), [0, 0, 3, 0], "{again}");
    commit(&app, &t.token, &again).await;
    let mut more = file.to_vec();
    more.push(format!("ERP-102,SUP-1,{wh},,,{sku},1,1"));
    let plus = as_csv(&app, &t.token, "purchase_orders", &more).await;
    assert_eq!(counts(&plus), [1, 0, 3, 0], "{plus}");
    commit(&app, &t.token, &plus).await;
    assert_eq!(orders(&app, &t.token, "/v1/purchase-orders").await.len(), 3);
}

#[tokio::test]
async fn bad_order_rows_are_named_and_nothing_is_created() {
    let Scene {
        app,
        t,
        wh,
        sku,
        tracked,
    } = scene().await;
    let file = [
        "reference,supplier,warehouse,expected_on,sku,qty,unit_cost".to_owned(),
        format!("A-1,SUP-1,{wh},2027-01-15,{sku},1,1"),
        format!("A-1,SUP-1,{wh},2027-02-01,{tracked},1,1"), // 3: the order's date differs
        format!("A-2,NOPE,{wh},,{sku},1,1"),                // 4: no such supplier
        format!("A-3,SUP-1,NOWHERE,,{sku},1,1"),            // 5: no such warehouse
        format!("A-4,SUP-1,{wh},,GHOST,1,1"),               // 6: no such product
        format!("A-5,SUP-1,{wh},,{sku},0,1"),               // 7: no units
        format!("A-6,SUP-1,{wh},,{sku},1,-2"),              // 8: a negative cost
        format!("A-7,SUP-1,{wh},someday,{sku},1,1"),        // 9: not a date
        format!(",SUP-1,{wh},,{sku},1,1"),                  // 10: no reference
    ];
    let job = as_csv(&app, &t.token, "purchase_orders", &file).await;
    assert_eq!(counts(&job), [1, 0, 0, 8], "{job}");
    says(
        &app,
        &t.token,
        &job,
        &[
            (3, "reference", "differ from row 2"),
            (4, "supplier", "no supplier with code \"NOPE\""),
            (5, "warehouse", "no warehouse"),
            (6, "sku", "no product"),
            (7, "qty", "units"),
            (8, "unit_cost", ""),
            (9, "expected_on", "YYYY-MM-DD"),
            (10, "reference", "1 to 64"),
        ],
    )
    .await;
    commit_refused(&app, &t.token, &job).await;
    assert!(
        orders(&app, &t.token, "/v1/purchase-orders")
            .await
            .is_empty()
    );

    // A SKU twice in one order refuses the file; so does a sales file without its date.
    let twice = [
        "reference,supplier,warehouse,sku,qty".to_owned(),
        format!("B-1,SUP-1,{wh},{sku},1"),
        format!("B-1,SUP-1,{wh},{sku},2"),
    ];
    let r = upload_csv(&app, &t.token, "purchase_orders", &twice).await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "import_duplicate_key").await;
    let undated = [
        "reference,customer,warehouse,sku,qty".to_owned(),
        format!("S-1,CUST-1,{wh},{sku},1"),
    ];
    let r = upload_csv(&app, &t.token, "sales_orders", &undated).await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "import_columns").await;
}

#[tokio::test]
async fn sales_order_lines_are_imported_with_their_priority_by_whoever_may_sell() {
    let Scene {
        app,
        t,
        wh,
        sku,
        tracked: _,
    } = scene().await;
    let file = [
        "reference,customer,warehouse,requested_on,priority,sku,qty,unit_price".to_owned(),
        format!("WEB-9,CUST-1,{wh},2027-03-01,HIGH,{sku},4,9.99"),
        format!("WEB-10,CUST-1,{wh},2027-03-02,,{sku},1,"),
        format!("WEB-11,CUST-1,{wh},,soon,{sku},1,"),
    ];
    // A key that may import and buy, but not sell, may not import sales orders.
    let (_, buyer) = app
        .api_key(&t, "buyer", &["data_import", "purchasing_manage"])
        .await;
    let r = upload_csv(&app, &buyer, "sales_orders", &file).await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let (_, seller) = app
        .api_key(&t, "seller", &["data_import", "sales_manage"])
        .await;

    let job = as_csv(&app, &seller, "sales_orders", &file).await;
    assert_eq!(counts(&job), [2, 0, 0, 1], "{job}");
    let errors = row_errors(&app, &seller, &job).await;
    assert!(
        errors
            .iter()
            .any(|(r, c, _)| *r == 4 && c == "requested_on"),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(r, c, m)| *r == 4 && c == "priority" && m.contains("urgent")),
        "{errors:?}"
    );
    commit_refused(&app, &seller, &job).await;

    let good: Vec<String> = file[..3].to_vec();
    let job = as_csv(&app, &seller, "sales_orders", &good).await;
    assert_eq!(counts(&job), [2, 0, 0, 0], "{job}");
    commit(&app, &seller, &job).await;
    let made = orders(&app, &t.token, "/v1/sales-orders").await;
    assert_eq!(made.len(), 2, "{made:?}");
    assert_eq!(made[0]["priority"], "high");
    assert_eq!(made[0]["requested_on"], "2027-03-01");
    assert_eq!(
        made[0]["lines"][0]["unit_price"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        9.99
    );
    assert_eq!(made[1]["priority"], "normal");
    assert!(made[0]["number"].as_str().unwrap().starts_with("SO-"));
}

#[tokio::test]
async fn two_files_naming_the_same_order_committed_at_once_create_it_once() {
    let Scene {
        app,
        t,
        wh,
        sku,
        tracked: _,
    } = scene().await;
    let file = [
        "reference,supplier,warehouse,sku,qty".to_owned(),
        format!("RACE-1,SUP-1,{wh},{sku},7"),
    ];
    let a = as_csv(&app, &t.token, "purchase_orders", &file).await;
    let b = as_csv(&app, &t.token, "purchase_orders", &file).await;
    assert_eq!((counts(&a), counts(&b)), ([1, 0, 0, 0], [1, 0, 0, 0]));
    let (x, y) = tokio::join!(commit(&app, &t.token, &a), commit(&app, &t.token, &b));
    assert_eq!(
        (&x["status"], &y["status"]),
        (&json!("committed"), &json!("committed"))
    );
    let made = orders(&app, &t.token, "/v1/purchase-orders").await;
    assert_eq!(made.len(), 1, "{made:?}");
}
