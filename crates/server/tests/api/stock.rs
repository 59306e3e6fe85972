//! `GET /v1/stock`, `/v1/stock/totals` and `/v1/stock/low`: filters, paging, totals.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let r = app.get(path, token).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.unwrap()
}

fn rows(page: &Value) -> Vec<(String, String, i64)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["sku"].as_str().unwrap().to_owned(),
                i["location_path"].as_str().unwrap().to_owned(),
                i["on_hand"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// A zone `Z` under `A` with its own bin, to test subtrees: A/B00, A/B01, A/Z/Z1.
async fn nested_bin(app: &TestApp, tenant: Uuid, s: &Site) -> Uuid {
    let z = Uuid::now_v7();
    let z1 = Uuid::now_v7();
    for (id, parent, code, path, depth) in [(z, s.zone, "Z", "A/Z", 1), (z1, z, "Z1", "A/Z/Z1", 2)]
    {
        sqlx::query(
            "insert into location (tenant_id, id, warehouse_id, parent_id, code, path, depth)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(id)
        .bind(s.warehouse)
        .bind(parent)
        .bind(code)
        .bind(path)
        .bind(depth)
        .execute(&app.owner)
        .await
        .unwrap();
    }
    z1
}

#[tokio::test]
async fn stock_rows_filter_by_place_product_lot_and_expiry() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s = site(&app, t.id, 2).await;
    let deep = nested_bin(&app, t.id, &s).await;
    let (b0, b1) = (s.bins[0], s.bins[1]);
    applied(&app, &t.token, receive(s.product, b0, 4)).await;
    applied(&app, &t.token, receive(s.product, deep, 30)).await;
    applied(
        &app,
        &t.token,
        json!({"kind": "receive", "product_id": s.tracked, "lot_id": s.lot, "to_location_id": b1, "qty": 7}),
    )
    .await;
    applied(
        &app,
        &t.token,
        json!({"kind": "receive", "product_id": s.tracked, "lot_id": s.expired_lot, "to_location_id": b1, "qty": 2}),
    )
    .await;
    // A row emptied by a ship is hidden unless asked for.
    applied(&app, &t.token, receive(s.product, b1, 1)).await;
    applied(&app, &t.token, ship(s.product, b1, 1)).await;

    let all = get(&app, &t.token, "/v1/stock").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    let with_empty = get(&app, &t.token, "/v1/stock?include_empty=true").await;
    assert_eq!(with_empty["items"].as_array().unwrap().len(), 5);

    let only = |page: &Value| -> Vec<(String, i64)> {
        rows(page)
            .into_iter()
            .map(|(sku, path, q)| (format!("{}@{path}", &sku[..sku.rfind('-').unwrap()]), q))
            .collect()
    };
    let by_zone = get(&app, &t.token, &format!("/v1/stock?location_id={}", s.zone)).await;
    assert_eq!(only(&by_zone).len(), 4, "the whole zone");
    let z = get(&app, &t.token, &format!("/v1/stock?location_id={deep}")).await;
    assert_eq!(only(&z), vec![("SKU-1@A/Z/Z1".to_owned(), 30)]);
    let by_product = get(
        &app,
        &t.token,
        &format!("/v1/stock?product_id={}", s.product),
    )
    .await;
    assert_eq!(by_product["items"].as_array().unwrap().len(), 2);
    let by_lot = get(&app, &t.token, &format!("/v1/stock?lot_id={}", s.lot)).await;
    assert_eq!(by_lot["items"][0]["lot_code"], "L-GOOD");
    assert_eq!(by_lot["items"][0]["available"], 7);
    let expiring = get(
        &app,
        &t.token,
        &format!(
            "/v1/stock?expiring_before={}",
            chrono::Utc::now().date_naive()
        ),
    )
    .await;
    assert_eq!(expiring["items"].as_array().unwrap().len(), 1);
    assert_eq!(expiring["items"][0]["lot_code"], "L-OLD");
    // Reorder point 10: the plain product has 34 (not below), the tracked one 9 (below).
    let below = get(&app, &t.token, "/v1/stock?below_reorder=true").await;
    let below_products: Vec<&str> = below["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["product_id"].as_str().unwrap())
        .collect();
    assert_eq!(below_products.len(), 2);
    assert!(below_products.iter().all(|p| *p == s.tracked.to_string()));

    // Pages of one walk every row once.
    let mut seen = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let q = cursor.map_or("/v1/stock?limit=1".to_owned(), |c| {
            format!("/v1/stock?limit=1&cursor={c}")
        });
        let page = get(&app, &t.token, &q).await;
        seen.extend(rows(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, rows(&all));

    problem(
        app.get("/v1/stock?expiring_before=tomorrow", &t.token)
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    problem(
        app.get("/v1/stock?cursor=%%%", &t.token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn totals_sum_per_product_and_warehouse() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s1 = site(&app, t.id, 2).await;
    let s2 = site(&app, t.id, 1).await;
    applied(&app, &t.token, receive(s1.product, s1.bins[0], 4)).await;
    applied(&app, &t.token, receive(s1.product, s1.bins[1], 6)).await;
    // The same product in the second warehouse.
    applied(&app, &t.token, receive(s1.product, s2.bins[0], 5)).await;

    let per_wh = get(
        &app,
        &t.token,
        &format!("/v1/stock/totals?product_id={}", s1.product),
    )
    .await;
    let mut got: Vec<(String, i64)> = per_wh["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["warehouse_id"].as_str().unwrap().to_owned(),
                i["on_hand"].as_i64().unwrap(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        (s1.warehouse.to_string(), 10),
        (s2.warehouse.to_string(), 5),
    ];
    want.sort();
    assert_eq!(got, want);

    let per_product = get(&app, &t.token, "/v1/stock/totals?group_by=product").await;
    assert_eq!(per_product["items"].as_array().unwrap().len(), 1);
    assert_eq!(per_product["items"][0]["on_hand"], 15);
    assert_eq!(per_product["items"][0]["warehouse_id"], Value::Null);

    let in_one = get(
        &app,
        &t.token,
        &format!(
            "/v1/stock/totals?group_by=product&warehouse_id={}",
            s2.warehouse
        ),
    )
    .await;
    assert_eq!(in_one["items"][0]["on_hand"], 5);

    // Paging by one.
    let first = get(&app, &t.token, "/v1/stock/totals?limit=1").await;
    let next = first["next_cursor"].as_str().unwrap();
    let second = get(
        &app,
        &t.token,
        &format!("/v1/stock/totals?limit=1&cursor={next}"),
    )
    .await;
    assert_ne!(first["items"][0], second["items"][0]);
    assert!(second["next_cursor"].is_null());

    problem(
        app.get("/v1/stock/totals?group_by=lot", &t.token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn the_low_stock_list_names_what_to_reorder_per_warehouse() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s1 = site(&app, t.id, 1).await;
    let s2 = site(&app, t.id, 1).await;
    // Reorder points are 10. Warehouse 1: the plain product has 12 (fine) of which 5 are
    // allocated (available 7: low). Warehouse 2 has nothing at all: both products low.
    applied(&app, &t.token, receive(s1.product, s1.bins[0], 12)).await;
    sqlx::query("update stock_row set allocated = 5 where tenant_id = $1 and product_id = $2")
        .bind(t.id)
        .bind(s1.product)
        .execute(&app.owner)
        .await
        .unwrap();
    // A product without a reorder point is never low.
    sqlx::query("update product set reorder_point = 0 where id = $1")
        .bind(s2.product)
        .execute(&app.owner)
        .await
        .unwrap();

    let low = get(
        &app,
        &t.token,
        &format!("/v1/stock/low?warehouse_id={}", s1.warehouse),
    )
    .await;
    let items = low["items"].as_array().unwrap();
    let entry = items
        .iter()
        .find(|i| i["product_id"] == s1.product.to_string())
        .expect("the allocated product is low");
    assert_eq!(entry["on_hand"], 12);
    assert_eq!(entry["available"], 7);
    assert_eq!(entry["shortfall"], 3);
    assert_eq!(entry["reorder_qty"], 50);
    assert!(
        items
            .iter()
            .all(|i| i["warehouse_id"] == s1.warehouse.to_string())
    );
    assert!(
        items
            .iter()
            .all(|i| i["product_id"] != s2.product.to_string())
    );

    // Over every warehouse: the products (with a reorder point) times the two
    // warehouses, all low here.
    let all = get(&app, &t.token, "/v1/stock/low").await;
    let n = all["items"].as_array().unwrap().len();
    assert_eq!(n, 6, "{all}");

    // Raising the stock above the point takes it off the list.
    applied(&app, &t.token, receive(s1.product, s1.bins[0], 3)).await;
    let low = get(
        &app,
        &t.token,
        &format!("/v1/stock/low?warehouse_id={}", s1.warehouse),
    )
    .await;
    assert!(
        low["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["product_id"] != s1.product.to_string())
    );
}

/// The SQL twin of the low-stock rule (`reorder::is_low_sql`, `shortfall_sql`), which
/// pages the low list and runs the alert sweep, says what `logiflow_core::reorder` says,
/// on the rule's edges: no reorder point, at the point, below zero, the largest
/// quantities.
#[tokio::test]
async fn the_sql_low_stock_rule_agrees_with_core() {
    use logiflow_core::QTY_MAX;
    use logiflow_core::reorder::{is_low_sql, shortfall, shortfall_sql};

    let app = spawn_app().await;
    let points = [0, 1, 3, 10, QTY_MAX];
    let availables = [-QTY_MAX, -3, -1, 0, 1, 2, 3, 9, 10, 11, QTY_MAX];
    let sql = format!(
        "select {}, {}",
        is_low_sql("$1::bigint", "$2::bigint"),
        shortfall_sql("$1::bigint", "$2::bigint")
    );
    for reorder_point in points {
        for available in availables {
            let (low, short): (bool, i64) = sqlx::query_as(&sql)
                .bind(reorder_point)
                .bind(available)
                .fetch_one(&app.owner)
                .await
                .unwrap();
            let core = shortfall(reorder_point, available);
            assert_eq!(low, core.is_some(), "{reorder_point} {available}");
            if let Some(core) = core {
                assert_eq!(short, core, "{reorder_point} {available}");
            }
        }
    }
}
