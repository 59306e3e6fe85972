//! Suppliers, customers and purchase orders (issue #15): CRUD and permissions, the
//! order's life (draft → ordered → partially received → received, closed, cancelled),
//! line edits by state, receipts against lines online and from a device's journal
//! (flagged beyond the tenant's tolerance or against an order that expects nothing),
//! bad input that changes nothing, and receipts racing each other and a cancellation.

use logiflow_core::{LineRef, MovementKind};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;
use crate::sync_push::{ago, loc, q, register};

/// A supplier (`SUP-A`), a customer (`CUS-A`) and an ordered purchase order of 10 of
/// `site.product` of which 3 were received into the site's last bin.
pub async fn seed_orders(app: &TestApp, a: &Tenant, site: &Site) -> (Value, Value, Value) {
    let supplier = create(
        app,
        "/v1/suppliers",
        &a.token,
        json!({"code": "SUP-A", "name": "Supplier A"}),
    )
    .await;
    let customer = create(
        app,
        "/v1/customers",
        &a.token,
        json!({"code": "CUS-A", "name": "Customer A"}),
    )
    .await;
    let po = create(
        app,
        "/v1/purchase-orders",
        &a.token,
        json!({"supplier_id": supplier["id"], "warehouse_id": site.warehouse,
               "lines": [{"product_id": site.product, "qty": 10, "unit_cost": "1.00"}]}),
    )
    .await;
    let url = format!("/v1/purchase-orders/{}/order", id_of(&po));
    assert_eq!(
        app.post(&url, &a.token, json!({})).await.status(),
        StatusCode::OK
    );
    let mut receipt = receive(site.product, *site.bins.last().unwrap(), 3);
    receipt["reference"] = json!({"type": "purchase_line", "id": po["lines"][0]["id"]});
    applied(app, &a.token, receipt).await;
    let po = get_json(app, format!("/v1/purchase-orders/{}", id_of(&po)), &a.token).await;
    assert_eq!(po["status"], "partially_received", "{po}");
    (supplier, customer, po)
}

async fn supplier(app: &TestApp, token: &str, code: &str) -> Uuid {
    let v = create(
        app,
        "/v1/suppliers",
        token,
        json!({"code": code, "name": format!("Supplier {code}"), "lead_time_days": 5}),
    )
    .await;
    v["id"].as_str().unwrap().parse().unwrap()
}

/// A draft for `warehouse` with one line per `(product, qty)`.
async fn draft(
    app: &TestApp,
    token: &str,
    supplier: Uuid,
    warehouse: Uuid,
    lines: &[(Uuid, i64)],
) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(p, n)| json!({"product_id": p, "qty": n, "unit_cost": "2.50"}))
        .collect();
    create(
        app,
        "/v1/purchase-orders",
        token,
        json!({"supplier_id": supplier, "warehouse_id": warehouse, "expected_on": "2027-01-15",
               "lines": lines}),
    )
    .await
}

async fn action(app: &TestApp, token: &str, po: &Value, verb: &str) -> reqwest::Response {
    app.post(
        &format!("/v1/purchase-orders/{}/{verb}", po["id"].as_str().unwrap()),
        token,
        json!({}),
    )
    .await
}

async fn ok(r: reqwest::Response) -> Value {
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

fn line_id(po: &Value, i: usize) -> Uuid {
    po["lines"][i]["id"].as_str().unwrap().parse().unwrap()
}

fn against(mut movement: Value, line: Uuid) -> Value {
    movement["reference"] = json!({"type": "purchase_line", "id": line});
    movement
}

async fn order_of(app: &TestApp, token: &str, po: &Value) -> Value {
    get_json(
        app,
        format!("/v1/purchase-orders/{}", po["id"].as_str().unwrap()),
        token,
    )
    .await
}

fn flag_names(movement: &Value) -> Vec<String> {
    movement["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag"].as_str().unwrap().to_owned())
        .collect()
}

async fn events(app: &TestApp, tenant: Uuid, topic: &str) -> i64 {
    sqlx::query_scalar("select count(*) from outbox_event where tenant_id = $1 and topic = $2")
        .bind(tenant)
        .bind(topic)
        .fetch_one(&app.owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn suppliers_and_customers_are_kept_apart_and_by_permission() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let (_, buyer) = app.user(&t, "buyer@acme.test", "purchasing").await;
    let (_, seller) = app.user(&t, "seller@acme.test", "sales").await;
    let (_, viewer) = app.user(&t, "viewer@acme.test", "viewer").await;

    let s = create(
        &app,
        "/v1/suppliers",
        &buyer,
        json!({"code": "acme-parts", "name": "ACME Parts", "email": "Orders@ACME.test", "lead_time_days": 7}),
    )
    .await;
    assert_eq!(s["code"], "ACME-PARTS");
    assert_eq!(s["email"], "orders@acme.test");
    assert_eq!(s["kind"], "supplier");
    // The same code is free for a customer: codes are unique per kind.
    let c = create(
        &app,
        "/v1/customers",
        &seller,
        json!({"code": "ACME-PARTS", "name": "ACME Retail", "min_shelf_life_days": 30}),
    )
    .await;
    assert_eq!(c["min_shelf_life_days"], 30);

    // Each role manages its own kind only; everyone reads.
    for (path, token) in [
        ("/v1/suppliers", &seller),
        ("/v1/customers", &buyer),
        ("/v1/suppliers", &viewer),
    ] {
        problem(
            app.post(path, token, json!({"code": "X", "name": "X"}))
                .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    let page = get_json(&app, "/v1/suppliers?q=parts", &viewer).await;
    assert_eq!(item_ids(&page), [id_of(&s)]);
    let page = get_json(&app, "/v1/customers?q=retail", &viewer).await;
    assert_eq!(item_ids(&page), [id_of(&c)]);
    // A customer is not a supplier.
    problem(
        app.get(&format!("/v1/suppliers/{}", id_of(&c)), &viewer)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Bad input: a clear 4xx and nothing written.
    for (path, body, status, code) in [
        (
            "/v1/suppliers",
            json!({"code": "ACME-PARTS", "name": "Dup"}),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            "/v1/suppliers",
            json!({"code": "N", "name": "N", "min_shelf_life_days": 3}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/v1/customers",
            json!({"code": "N", "name": "N", "lead_time_days": 3}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/v1/suppliers",
            json!({"code": "N", "name": "N", "lead_time_days": -1}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/v1/suppliers",
            json!({"code": "N", "name": "N", "email": "not an email"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/v1/suppliers",
            json!({"code": "N N", "name": "N"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/v1/suppliers",
            json!({"code": "N", "name": ""}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/v1/suppliers",
            json!({"code": "N", "name": "N", "phone": "1\u{0}2"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/v1/customers",
            json!({"code": "N", "name": "N", "address": "1\u{0}2"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ] {
        let token = if path == "/v1/suppliers" {
            &buyer
        } else {
            &seller
        };
        problem(app.post(path, token, body).await, status, code).await;
    }
    assert_eq!(count(&app, "party", t.id).await, 2);

    let r = app
        .patch(
            &format!("/v1/suppliers/{}", id_of(&s)),
            &buyer,
            json!({"name": "ACME Parts Ltd", "active": false}),
        )
        .await;
    let updated = ok(r).await;
    assert_eq!(updated["active"], false);
    assert_eq!(audited(&app, t.id, "supplier.create").await, 1);
    assert_eq!(audited(&app, t.id, "supplier.update").await, 1);
    assert_eq!(audited(&app, t.id, "customer.create").await, 1);
    let page = get_json(&app, "/v1/suppliers?active=true", &viewer).await;
    assert!(item_ids(&page).is_empty());
}

#[tokio::test]
async fn a_purchase_order_follows_what_people_decide_and_what_arrives() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    // Its events are checked: someone listens.
    listen(&app, t.id).await;
    let site = site(&app, t.id, 2).await;
    let (_, buyer) = app.user(&t, "buyer@acme.test", "purchasing").await;
    let (_, operator) = app.user(&t, "op@acme.test", "operator").await;
    let sup = supplier(&app, &buyer, "SUP").await;

    let po = draft(
        &app,
        &buyer,
        sup,
        site.warehouse,
        &[(site.product, 10), (site.product, 4)],
    )
    .await;
    assert_eq!(po["number"], "PO-000001");
    assert_eq!(po["status"], "draft");
    assert_eq!(po["lines"][0]["unit_cost"], "2.50");
    let second = draft(&app, &buyer, sup, site.warehouse, &[]).await;
    assert_eq!(second["number"], "PO-000002");
    // A draft without lines cannot be ordered; a draft cannot be closed.
    problem(
        action(&app, &buyer, &second, "order").await,
        StatusCode::CONFLICT,
        "invalid_order_state",
    )
    .await;
    problem(
        action(&app, &buyer, &po, "close").await,
        StatusCode::CONFLICT,
        "invalid_order_state",
    )
    .await;
    // Operators receive; they do not decide orders.
    problem(
        action(&app, &operator, &po, "order").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let po = ok(action(&app, &buyer, &po, "order").await).await;
    assert_eq!(po["status"], "ordered");
    problem(
        action(&app, &buyer, &po, "order").await,
        StatusCode::CONFLICT,
        "invalid_order_state",
    )
    .await;
    // Once ordered, the supplier is fixed; the expected date is not.
    let other = supplier(&app, &buyer, "OTHER").await;
    let url = format!("/v1/purchase-orders/{}", id_of(&po));
    problem(
        app.patch(&url, &buyer, json!({"supplier_id": other})).await,
        StatusCode::CONFLICT,
        "invalid_order_state",
    )
    .await;
    let po = ok(app
        .patch(
            &url,
            &buyer,
            json!({"expected_on": null, "notes": "dock 2"}),
        )
        .await)
    .await;
    assert_eq!(po["expected_on"], Value::Null);

    // Receipts against the first line raise what it received.
    let (l1, l2) = (line_id(&po, 0), line_id(&po, 1));
    let m = applied(
        &app,
        &operator,
        against(receive(site.product, site.bins[0], 6), l1),
    )
    .await;
    assert_eq!(m["reference_type"], "purchase_line");
    assert_eq!(m["reference_id"], l1.to_string());
    assert!(flag_names(&m).is_empty(), "{m}");
    let po = order_of(&app, &buyer, &po).await;
    assert_eq!(po["status"], "partially_received");
    assert_eq!(po["lines"][0]["received"], 6);
    // Something arrived: cancelling is refused (close it instead), and a line cannot go
    // below what it received.
    problem(
        action(&app, &buyer, &po, "cancel").await,
        StatusCode::CONFLICT,
        "invalid_order_state",
    )
    .await;
    let line_url = format!("{url}/lines/{l1}");
    problem(
        app.patch(&line_url, &buyer, json!({"qty": 5})).await,
        StatusCode::CONFLICT,
        "invalid_order_state",
    )
    .await;
    let po = ok(app.patch(&line_url, &buyer, json!({"qty": 6})).await).await;
    assert_eq!(po["lines"][0]["qty"], 6);
    // Lines are deleted only from drafts.
    problem(
        app.delete(&format!("{url}/lines/{l2}"), &buyer).await,
        StatusCode::CONFLICT,
        "invalid_order_state",
    )
    .await;

    applied(
        &app,
        &operator,
        against(receive(site.product, site.bins[1], 4), l2),
    )
    .await;
    let po = order_of(&app, &buyer, &po).await;
    assert_eq!(po["status"], "received");
    // Received in full: nothing to close, no line to add.
    problem(
        action(&app, &buyer, &po, "close").await,
        StatusCode::CONFLICT,
        "invalid_order_state",
    )
    .await;
    problem(
        app.post(
            &format!("{url}/lines"),
            &buyer,
            json!({"product_id": site.product, "qty": 1, "unit_cost": "1"}),
        )
        .await,
        StatusCode::CONFLICT,
        "invalid_order_state",
    )
    .await;

    // Every change is audited and announced.
    assert_eq!(audited(&app, t.id, "purchase_order.create").await, 2);
    assert_eq!(audited(&app, t.id, "purchase_order.order").await, 1);
    assert_eq!(audited(&app, t.id, "purchase_order.line_update").await, 1);
    assert_eq!(events(&app, t.id, "purchase_order.created").await, 2);
    assert_eq!(events(&app, t.id, "purchase_order.ordered").await, 1);
    assert_eq!(
        on_hand(&app, t.id, site.product, site.bins[0], None).await,
        6
    );
    assert_ledger(&app, t.id).await;

    // A second order, partly received, is closed by hand; a third is cancelled.
    let po2 = draft(&app, &buyer, sup, site.warehouse, &[(site.product, 5)]).await;
    let po2 = ok(action(&app, &buyer, &po2, "order").await).await;
    applied(
        &app,
        &operator,
        against(receive(site.product, site.bins[0], 2), line_id(&po2, 0)),
    )
    .await;
    let po2 = ok(action(&app, &buyer, &po2, "close").await).await;
    assert_eq!(po2["status"], "closed");
    let po3 = draft(&app, &buyer, sup, site.warehouse, &[(site.product, 5)]).await;
    let po3 = ok(action(&app, &buyer, &po3, "cancel").await).await;
    assert_eq!(po3["status"], "cancelled");
    let page = get_json(
        &app,
        format!(
            "/v1/purchase-orders?status=ordered&warehouse_id={}",
            site.warehouse
        ),
        &buyer,
    )
    .await;
    assert_eq!(item_ids(&page), [id_of(&po)]);
    // Every event this produced matches the documented webhook schemas.
    let seen = crate::events::assert_events_documented(&app).await;
    assert!(seen.contains("purchase_order.created"), "{seen:?}");
    assert!(seen.contains("purchase_order.ordered"), "{seen:?}");
}

#[tokio::test]
async fn bad_orders_and_bad_receipts_change_nothing() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let other = app.tenant("other", "bulk").await;
    let site = site(&app, t.id, 1).await;
    let foreign = crate::inventory::site(&app, other.id, 1).await;
    let sup = supplier(&app, &t.token, "SUP").await;
    let foreign_sup = supplier(&app, &other.token, "SUP").await;
    let po = draft(&app, &t.token, sup, site.warehouse, &[(site.product, 3)]).await;
    let po = ok(action(&app, &t.token, &po, "order").await).await;
    let other_po = draft(&app, &t.token, sup, site.warehouse, &[(site.product, 3)]).await;
    let (orders, lines) = (
        count(&app, "purchase_order", t.id).await,
        count(&app, "purchase_line", t.id).await,
    );

    let line = |product: Value, qty: Value, cost: Value| json!({"product_id": product, "qty": qty, "unit_cost": cost});
    let p = json!(site.product);
    for (body, status, code) in [
        (
            json!({"supplier_id": sup, "warehouse_id": site.warehouse, "lines": [line(p.clone(), json!(0), json!("1"))]}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"supplier_id": sup, "warehouse_id": site.warehouse, "lines": [line(p.clone(), json!(-2), json!("1"))]}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"supplier_id": sup, "warehouse_id": site.warehouse, "lines": [line(p.clone(), json!(1), json!("-1"))]}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"supplier_id": sup, "warehouse_id": site.warehouse, "lines": [line(p.clone(), json!(1), json!("0.0000001"))]}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        // Decimals travel as strings: a JSON number is refused.
        (
            json!({"supplier_id": sup, "warehouse_id": site.warehouse, "lines": [line(p.clone(), json!(1), json!(2.5))]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"supplier_id": foreign_sup, "warehouse_id": site.warehouse}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reference_not_found",
        ),
        (
            json!({"supplier_id": sup, "warehouse_id": foreign.warehouse}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reference_not_found",
        ),
        (
            json!({"supplier_id": sup, "warehouse_id": site.warehouse, "lines": [line(json!(foreign.product), json!(1), json!("1"))]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reference_not_found",
        ),
        (
            json!({"supplier_id": sup, "warehouse_id": site.warehouse, "notes": "x".repeat(2001)}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ] {
        problem(
            app.post("/v1/purchase-orders", &t.token, body).await,
            status,
            code,
        )
        .await;
    }
    // A line of another order is not found through this one.
    problem(
        app.patch(
            &format!(
                "/v1/purchase-orders/{}/lines/{}",
                id_of(&po),
                line_id(&other_po, 0)
            ),
            &t.token,
            json!({"qty": 1}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(count(&app, "purchase_order", t.id).await, orders);
    assert_eq!(count(&app, "purchase_line", t.id).await, lines);

    // Online receipts naming a line that does not exist, or one of another product, are
    // refused and write nothing.
    let movements = count(&app, "movement", t.id).await;
    let unknown = against(receive(site.product, site.bins[0], 1), Uuid::now_v7());
    problem(
        record(&app, &t.token, unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_order_line",
    )
    .await;
    let lot = json!({"kind": "receive", "product_id": site.tracked, "lot_id": site.lot,
                     "to_location_id": site.bins[0], "qty": 1});
    problem(
        record(&app, &t.token, against(lot, line_id(&po, 0))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order_line_mismatch",
    )
    .await;
    let mut sales = receive(site.product, site.bins[0], 1);
    sales["reference"] = json!({"type": "sales_line", "id": line_id(&po, 0)});
    problem(
        record(&app, &t.token, sales).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_order_line",
    )
    .await;
    assert_eq!(count(&app, "movement", t.id).await, movements);
}

#[tokio::test]
async fn receipts_beyond_the_tolerance_or_against_a_cancelled_order_are_applied_and_flagged() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 1).await;
    let sup = supplier(&app, &t.token, "SUP").await;
    ok(app
        .patch(
            "/v1/settings",
            &t.token,
            json!({"over_receipt_tolerance_pct": 10}),
        )
        .await)
    .await;
    problem(
        app.patch(
            "/v1/settings",
            &t.token,
            json!({"over_receipt_tolerance_pct": 1001}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;

    let po = draft(&app, &t.token, sup, site.warehouse, &[(site.product, 10)]).await;
    let po = ok(action(&app, &t.token, &po, "order").await).await;
    let l = line_id(&po, 0);
    // 10 ordered, 10 % tolerance: 11 arrive unflagged, the 12th is flagged.
    let m = applied(
        &app,
        &t.token,
        against(receive(site.product, site.bins[0], 11), l),
    )
    .await;
    assert!(flag_names(&m).is_empty(), "{m}");
    let m = applied(
        &app,
        &t.token,
        against(receive(site.product, site.bins[0], 1), l),
    )
    .await;
    assert_eq!(flag_names(&m), ["over_receipt"]);
    assert_eq!(m["flags"][0]["beyond"], 1);

    let cancelled = draft(&app, &t.token, sup, site.warehouse, &[(site.product, 2)]).await;
    let cancelled = ok(action(&app, &t.token, &cancelled, "cancel").await).await;
    let m = applied(
        &app,
        &t.token,
        against(
            receive(site.product, site.bins[0], 2),
            line_id(&cancelled, 0),
        ),
    )
    .await;
    assert_eq!(flag_names(&m), ["receipt_order_not_open"]);
    assert_eq!(m["flags"][0]["status"], "cancelled");
    // It counts toward the line all the same: the goods are there.
    assert_eq!(
        order_of(&app, &t.token, &cancelled).await["lines"][0]["received"],
        2
    );
    assert_eq!(
        on_hand(&app, t.id, site.product, site.bins[0], None).await,
        14
    );
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_device_receives_against_a_line_offline_and_the_push_counts_it() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 2).await;
    let sup = supplier(&app, &t.token, "SUP").await;
    let po = draft(&app, &t.token, sup, site.warehouse, &[(site.product, 5)]).await;
    let po = ok(action(&app, &t.token, &po, "order").await).await;
    let l = line_id(&po, 0);
    let mut dev = register(&app, &t.token, &[site.warehouse]).await;

    let receipt = |dev: &mut crate::sync_push::Dev, bin: Uuid, n: i64, line: Uuid| {
        let mut m = dev.entry(
            ago(30),
            site.product,
            None,
            MovementKind::Receive {
                to: loc(bin),
                qty: q(n),
            },
        );
        m.reference = Some(LineRef::PurchaseLine(line));
        m
    };
    // Two receipts in one push: the second is judged after the first.
    let a = receipt(&mut dev, site.bins[0], 3, l);
    let b = receipt(&mut dev, site.bins[1], 4, l);
    // A line the server never had (deleted from a draft, say): still applied, flagged,
    // and counted toward nothing.
    let c = receipt(&mut dev, site.bins[0], 1, Uuid::now_v7());
    let r = dev.push(&app, &[a, b, c]).await;
    let flags: Vec<Vec<String>> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|res| {
            assert_eq!(res["outcome"]["outcome"], "applied", "{res}");
            res["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["flag"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(
        flags,
        [
            vec![],
            vec!["over_receipt".to_owned()],
            vec!["unknown_order_line".to_owned()]
        ]
    );
    let po = order_of(&app, &t.token, &po).await;
    assert_eq!(po["lines"][0]["received"], 7);
    assert_eq!(po["status"], "received");
    assert_eq!(
        on_hand(&app, t.id, site.product, site.bins[0], None).await,
        4
    );
    assert_ledger(&app, t.id).await;
}

type Answer = tokio::task::JoinHandle<(StatusCode, Value)>;

/// Sends every body to `path` at once, each from its own task.
fn spawn_posts(app: &TestApp, token: &str, path: &str, bodies: Vec<Value>) -> Vec<Answer> {
    bodies
        .into_iter()
        .map(|body| {
            let request = app
                .client
                .post(app.url(path))
                .header("authorization", bearer(token))
                .json(&body);
            tokio::spawn(async move {
                let r = request.send().await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            })
        })
        .collect()
}

/// The movements answered, each of which must have been applied.
async fn all_applied(answers: Vec<Answer>) -> Vec<Value> {
    let mut out = Vec::new();
    for a in answers {
        let (status, v) = a.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert_eq!(v["outcome"], "applied", "{v}");
        out.push(v);
    }
    out
}

#[tokio::test]
async fn concurrent_receipts_and_a_cancellation_are_judged_one_after_the_other() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 4).await;
    let sup = supplier(&app, &t.token, "SUP").await;

    // 16 one-unit receipts at once against a line of 10, on four bins: exactly the six
    // beyond the line are flagged, whatever order they commit in.
    let po = draft(&app, &t.token, sup, site.warehouse, &[(site.product, 10)]).await;
    let po = ok(action(&app, &t.token, &po, "order").await).await;
    let l = line_id(&po, 0);
    let bodies = (0..16)
        .map(|i| against(receive(site.product, site.bins[i % 4], 1), l))
        .collect();
    let answers = all_applied(spawn_posts(&app, &t.token, "/v1/movements", bodies)).await;
    let flagged = answers
        .iter()
        .filter(|m| flag_names(m) == ["over_receipt"])
        .count();
    assert_eq!(flagged, 6);
    assert_eq!(
        order_of(&app, &t.token, &po).await["lines"][0]["received"],
        16
    );

    // A cancellation racing receipts: either it wins (every receipt is then flagged as
    // against a cancelled order) or a receipt committed first and it is refused.
    for round in 0..4 {
        let po = draft(&app, &t.token, sup, site.warehouse, &[(site.product, 10)]).await;
        let po = ok(action(&app, &t.token, &po, "order").await).await;
        let l = line_id(&po, 0);
        let bodies = (0..4)
            .map(|i| against(receive(site.product, site.bins[i], 1), l))
            .collect();
        let receipts = spawn_posts(&app, &t.token, "/v1/movements", bodies);
        let cancel_url = format!("/v1/purchase-orders/{}/cancel", id_of(&po));
        let mut cancel = spawn_posts(&app, &t.token, &cancel_url, vec![json!({})]);
        let answers = all_applied(receipts).await;
        let (cancel_status, _) = cancel.remove(0).await.unwrap();
        let cancelled = cancel_status == StatusCode::OK;
        let not_open = answers
            .iter()
            .filter(|m| flag_names(m) == ["receipt_order_not_open"])
            .count();
        if cancelled {
            assert_eq!(
                not_open, 4,
                "round {round}: every receipt came after the cancellation"
            );
        } else {
            assert_eq!(cancel_status, StatusCode::CONFLICT, "round {round}");
            let status = order_of(&app, &t.token, &po).await["status"].clone();
            assert_eq!(status, "partially_received", "round {round}");
            assert_eq!(not_open, 0, "round {round}");
        }
    }
    assert_ledger(&app, t.id).await;
}

/// Pushes the replica's journal and pulls until nothing more waits, in pages of `limit`.
pub async fn sync_replica(
    app: &TestApp,
    dev: &crate::sync_push::Dev,
    replica: &mut logiflow_replica::Replica,
    limit: usize,
) {
    loop {
        let batch = replica.push_batch().unwrap();
        if batch.movements.is_empty() {
            break;
        }
        let r = app
            .post(
                "/v1/sync/push",
                &dev.token,
                serde_json::to_value(&batch).unwrap(),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        replica.mark_pushed(&r.json().await.unwrap()).unwrap();
    }
    for _ in 0..100 {
        let path = match replica.status().unwrap().cursor {
            Some(c) => format!("/v1/sync/pull?limit={limit}&cursor={c}"),
            None => format!("/v1/sync/pull?limit={limit}"),
        };
        let r = app.get(&path, &dev.token).await;
        assert_eq!(r.status(), StatusCode::OK);
        let page: logiflow_core::PullPage = r.json().await.unwrap();
        replica.apply_pull(&page).unwrap();
        if !page.has_more {
            return;
        }
    }
    panic!("the pull never ends");
}

fn receipt(sku: &str, bin: &str, qty: i64, line: Option<LineRef>) -> logiflow_replica::Action {
    logiflow_replica::Action {
        expires_on: None,
        item: logiflow_replica::ItemRef::Sku(sku.to_owned()),
        lot: None,
        warehouse: None,
        op: logiflow_replica::Op::Receive {
            to: bin.to_owned(),
            qty,
        },
        reference: line,
    }
}

/// An order as a replica shows it: (number, [(ordered, received, received here)]).
type ShownOrder = (String, Vec<(i64, i64, i64)>);

/// The open orders a replica shows.
fn replica_orders(replica: &logiflow_replica::Replica) -> Vec<ShownOrder> {
    replica
        .purchase_orders()
        .unwrap()
        .into_iter()
        .map(|o| {
            (
                o.number,
                o.lines
                    .iter()
                    .map(|l| (l.qty, l.received, l.received_here))
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_device_pulls_the_open_orders_of_its_warehouses_and_receives_against_them_offline() {
    use logiflow_replica::{Error as ReplicaError, ItemRef, Replica};

    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 2).await;
    let other = create(
        &app,
        "/v1/warehouses",
        &t.token,
        json!({"code": "FAR", "name": "Far", "timezone": "UTC"}),
    )
    .await;
    let sup = supplier(&app, &t.token, "SUP").await;
    // PO-000001: two lines of the same product, ordered. PO-000002: a draft. PO-000003:
    // ordered, in a warehouse the device does not keep.
    let po = draft(
        &app,
        &t.token,
        sup,
        site.warehouse,
        &[(site.product, 4), (site.product, 6)],
    )
    .await;
    let po = ok(action(&app, &t.token, &po, "order").await).await;
    let _draft = draft(&app, &t.token, sup, site.warehouse, &[(site.product, 1)]).await;
    let far = draft(
        &app,
        &t.token,
        sup,
        id_of(&other).parse().unwrap(),
        &[(site.product, 1)],
    )
    .await;
    ok(action(&app, &t.token, &far, "order").await).await;

    let dev = register(&app, &t.token, &[site.warehouse]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut replica = Replica::open(dir.path().join("r.db")).unwrap();
    replica
        .init_device(
            logiflow_core::TenantId::from_uuid(t.id),
            logiflow_core::UserId::from_uuid(dev.user),
            &app.base,
            Some(logiflow_core::DeviceId::from_uuid(dev.id)),
        )
        .unwrap();
    // Small pages: the snapshot's order phase is paged like the others.
    sync_replica(&app, &dev, &mut replica, 2).await;
    assert_eq!(
        replica_orders(&replica),
        [("PO-000001".to_owned(), vec![(4, 0, 0), (6, 0, 0)])]
    );

    // Offline: receipts name the first line with units still expected, typed in any case.
    let sku_of = async |id: Uuid| {
        get_json(&app, format!("/v1/products/{id}"), &t.token).await["sku"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (sku1, sku_lot) = (sku_of(site.product).await, sku_of(site.tracked).await);
    let sku = ItemRef::Sku(sku1.clone());
    let first = replica.purchase_line("po-000001", &sku).unwrap();
    assert_eq!(first, LineRef::PurchaseLine(line_id(&po, 0)));
    replica
        .record(&receipt(&sku1, "B00", 4, Some(first)))
        .unwrap();
    let second = replica.purchase_line("PO-000001", &sku).unwrap();
    assert_eq!(second, LineRef::PurchaseLine(line_id(&po, 1)));
    let recorded = replica
        .record(&receipt(&sku1, "B01", 5, Some(second)))
        .unwrap();
    assert!(recorded.warnings.is_empty(), "{:?}", recorded.warnings);
    assert_eq!(
        replica_orders(&replica),
        [("PO-000001".to_owned(), vec![(4, 0, 4), (6, 0, 5)])]
    );
    // Orders the device does not hold, and items not on the order, are refused by name.
    for (number, item, code) in [
        ("PO-000002", &sku, "unknown_order"),
        ("PO-000003", &sku, "unknown_order"),
        ("PO-000001", &ItemRef::Sku(sku_lot.clone()), "not_on_order"),
    ] {
        let e: ReplicaError = replica.purchase_line(number, item).unwrap_err();
        assert_eq!(e.code(), code, "{number}: {e}");
    }

    // Meanwhile on the server: a line is added and someone receives 1 against line 2.
    let lines_url = format!("/v1/purchase-orders/{}/lines", id_of(&po));
    ok(app
        .post(
            &lines_url,
            &t.token,
            json!({"product_id": site.product, "qty": 2, "unit_cost": "1"}),
        )
        .await)
    .await;
    applied(
        &app,
        &t.token,
        against(receive(site.product, site.bins[0], 1), line_id(&po, 1)),
    )
    .await;

    sync_replica(&app, &dev, &mut replica, 3).await;
    // The server counted the device's receipts toward the lines they named; the device
    // now shows the server's figures, its own receipts settled into them.
    let server = order_of(&app, &t.token, &po).await;
    let received: Vec<i64> = server["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["received"].as_i64().unwrap())
        .collect();
    assert_eq!(received, [4, 6, 0]);
    assert_eq!(server["status"], "partially_received");
    assert_eq!(
        replica_orders(&replica),
        [(
            "PO-000001".to_owned(),
            vec![(4, 4, 0), (6, 6, 0), (2, 0, 0)]
        )]
    );
    // Line 2 took 5 from the device and 1 online: exactly its 6, nothing flagged.
    let review = get_json(&app, "/v1/movements?review=true", &t.token).await;
    assert_eq!(review["items"].as_array().unwrap().len(), 0, "{review}");

    // Closed by hand: the next pull tells the device, which stops offering it.
    ok(action(&app, &t.token, &po, "close").await).await;
    sync_replica(&app, &dev, &mut replica, 50).await;
    assert!(replica_orders(&replica).is_empty());
    let e = replica.purchase_line("PO-000001", &sku).unwrap_err();
    assert_eq!(e.code(), "unknown_order");
}
