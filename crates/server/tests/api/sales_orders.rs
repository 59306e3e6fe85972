//! Sales orders (issue #15): confirmation reserves the warehouse's stock by FEFO or FIFO
//! and back-orders the rest, reserved stock is taken online only by picks of its line,
//! picks consume the reservations (flagged from another bin or beyond them), back-orders
//! are allocated again on demand, cancelling releases, and concurrent confirmations and
//! shipments never oversell. After each test the rows' `allocated` equal the sums of the
//! reservations on them (`assert_ledger`).

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;

/// A confirmed sales order of 1 of `site.product` for `customer`, reserved on the site's
/// stock (the RLS test's seed).
pub async fn seed_sales_order(app: &TestApp, t: &Tenant, site: &Site, customer: &Value) -> Value {
    let so = create(
        app,
        "/v1/sales-orders",
        &t.token,
        json!({"customer_id": customer["id"], "warehouse_id": site.warehouse,
               "requested_on": "2027-01-01",
               "lines": [{"product_id": site.product, "qty": 1, "unit_price": "1"}]}),
    )
    .await;
    let so = ok(app, &t.token, &so, "confirm").await;
    assert_eq!(line(&so, 0).1, 1, "{so}");
    so
}

pub(crate) async fn customer(
    app: &TestApp,
    token: &str,
    code: &str,
    shelf_life: Option<i64>,
) -> Uuid {
    let v = create(
        app,
        "/v1/customers",
        token,
        json!({"code": code, "name": format!("Customer {code}"), "min_shelf_life_days": shelf_life}),
    )
    .await;
    v["id"].as_str().unwrap().parse().unwrap()
}

pub(crate) async fn draft(
    app: &TestApp,
    token: &str,
    customer: Uuid,
    warehouse: Uuid,
    lines: &[(Uuid, i64)],
) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(p, n)| json!({"product_id": p, "qty": n, "unit_price": "9.90"}))
        .collect();
    create(
        app,
        "/v1/sales-orders",
        token,
        json!({"customer_id": customer, "warehouse_id": warehouse, "requested_on": "2027-02-01",
               "lines": lines}),
    )
    .await
}

pub(crate) async fn act(app: &TestApp, token: &str, so: &Value, verb: &str) -> (StatusCode, Value) {
    let r = app
        .post(
            &format!("/v1/sales-orders/{}/{verb}", id_of(so)),
            token,
            json!({}),
        )
        .await;
    (r.status(), r.json().await.unwrap())
}

/// Confirms, allocates or cancels; the answer must be what a read says right after (the
/// server builds it from what it wrote rather than reading the order again).
pub(crate) async fn ok(app: &TestApp, token: &str, so: &Value, verb: &str) -> Value {
    let (status, v) = act(app, token, so, verb).await;
    assert_eq!(status, StatusCode::OK, "{verb}: {v}");
    let read = get_json(
        app,
        format!("/v1/sales-orders/{}", v["id"].as_str().unwrap()),
        token,
    )
    .await;
    assert_eq!(v, read, "{verb}: the answer differs from a read");
    v
}

pub(crate) fn line(so: &Value, i: usize) -> (i64, i64, i64, i64) {
    let l = &so["lines"][i];
    (
        l["qty"].as_i64().unwrap(),
        l["allocated"].as_i64().unwrap(),
        l["picked"].as_i64().unwrap(),
        l["back_ordered"].as_i64().unwrap(),
    )
}

fn pick(mut movement: Value, so: &Value, i: usize) -> Value {
    movement["reference"] = json!({"type": "sales_line", "id": so["lines"][i]["id"]});
    movement
}

fn with_lot(mut movement: Value, lot: Uuid) -> Value {
    movement["lot_id"] = json!(lot);
    movement
}

/// (bin path, lot code, qty) of the order's pick list.
async fn pick_list(app: &TestApp, token: &str, so: &Value) -> Vec<(String, Option<String>, i64)> {
    let v = get_json(
        app,
        format!("/v1/sales-orders/{}/pick-list", id_of(so)),
        token,
    )
    .await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["location_path"].as_str().unwrap().to_owned(),
                i["lot_code"].as_str().map(str::to_owned),
                i["qty"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn confirmation_reserves_by_fefo_picks_consume_and_cancelling_releases() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    // Its events are checked: someone listens.
    listen(&app, t.id).await;
    let site = site(&app, t.id, 3).await;
    let (_, seller) = app.user(&t, "seller@acme.test", "sales").await;
    let (_, buyer) = app.user(&t, "buyer@acme.test", "purchasing").await;
    // The tracked product goes out by FEFO; a second lot expires in 20 days.
    let tracked = format!("/v1/products/{}", site.tracked);
    let r = app
        .patch(&tracked, &t.token, json!({"expiry_policy": "fefo"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let soon = create(
        &app,
        "/v1/lots",
        &t.token,
        json!({"product_id": site.tracked, "code": "L-SOON",
               "expires_on": (chrono::Utc::now() + chrono::Duration::days(20)).date_naive()}),
    )
    .await;
    let soon: Uuid = id_of(&soon).parse().unwrap();
    // Stock: 4 of the good lot in B00, 3 of the soon lot in B02, 5 of an expired lot in
    // B01 (never reserved); 6 of the plain product in B00.
    for (lot, bin, qty) in [(site.lot, 0, 4), (soon, 2, 3), (site.expired_lot, 1, 5)] {
        applied(
            &app,
            &t.token,
            with_lot(receive(site.tracked, site.bins[bin], qty), lot),
        )
        .await;
    }
    applied(&app, &t.token, receive(site.product, site.bins[0], 6)).await;

    let c = customer(&app, &seller, "C1", None).await;
    let so = draft(
        &app,
        &seller,
        c,
        site.warehouse,
        &[(site.tracked, 5), (site.product, 20)],
    )
    .await;
    assert_eq!(so["number"], "SO-000001");
    assert_eq!(so["status"], "draft");
    assert_eq!(line(&so, 0), (5, 0, 0, 0), "a draft reserves nothing");
    // Only sales manages sales orders.
    let (status, _) = act(&app, &buyer, &so, "confirm").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let so = ok(&app, &seller, &so, "confirm").await;
    assert_eq!(so["status"], "partially_allocated");
    assert_eq!(line(&so, 0), (5, 5, 0, 0));
    assert_eq!(
        line(&so, 1),
        (20, 6, 0, 14),
        "what is missing is back-ordered"
    );
    // FEFO: the lot expiring first (B02), then the good lot; the expired lot never.
    let paths: Vec<(String, Option<String>, i64)> = pick_list(&app, &seller, &so).await;
    assert_eq!(
        paths,
        [
            ("A/B00".to_owned(), None, 6),
            ("A/B00".to_owned(), Some("L-GOOD".to_owned()), 2),
            ("A/B02".to_owned(), Some("L-SOON".to_owned()), 3),
        ]
    );
    assert_ledger(&app, t.id).await;

    // Reserved stock is not there for an outbound that names no line, nor for a line
    // of another order.
    problem(
        record(&app, &t.token, ship(site.product, site.bins[0], 1)).await,
        StatusCode::CONFLICT,
        "insufficient_stock",
    )
    .await;
    // The line's pick takes its reservation: 4 of the 6 from B00.
    let m = applied(
        &app,
        &t.token,
        pick(ship(site.product, site.bins[0], 4), &so, 1),
    )
    .await;
    assert_eq!(m["flags"], json!([]), "{m}");
    // 2 of the good lot from B00, where the line reserved exactly those.
    let m = applied(
        &app,
        &t.token,
        pick(
            with_lot(ship(site.tracked, site.bins[0], 2), site.lot),
            &so,
            0,
        ),
    )
    .await;
    assert_eq!(
        m["flags"],
        json!([]),
        "its own reservation on that row: {m}"
    );
    let so_now = get_json(&app, format!("/v1/sales-orders/{}", id_of(&so)), &seller).await;
    assert_eq!(line(&so_now, 0), (5, 3, 2, 0));
    assert_eq!(line(&so_now, 1), (20, 2, 4, 14));
    assert_eq!(so_now["status"], "partially_picked");
    assert_ledger(&app, t.id).await;

    // Goods arrive; allocating again serves the back-order.
    applied(&app, &t.token, receive(site.product, site.bins[1], 30)).await;
    let so_now = ok(&app, &seller, &so, "allocate").await;
    assert_eq!(line(&so_now, 1), (20, 16, 4, 0));
    assert_ledger(&app, t.id).await;

    // Cancelling releases every reservation; what was picked stays picked.
    let so_now = ok(&app, &seller, &so, "cancel").await;
    assert_eq!(so_now["status"], "cancelled");
    assert_eq!(line(&so_now, 1), (20, 0, 4, 0));
    assert_eq!(line(&so_now, 0), (5, 0, 2, 0));
    let (status, v) = act(&app, &seller, &so, "cancel").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "invalid_order_state");
    // Everything is available again.
    applied(&app, &t.token, ship(site.product, site.bins[1], 30)).await;
    assert_ledger(&app, t.id).await;
    assert_eq!(audited(&app, t.id, "sales_order.confirm").await, 1);
    assert_eq!(audited(&app, t.id, "sales_order.cancel").await, 1);
    // Every event this produced matches the documented webhook schemas.
    let seen = crate::events::assert_events_documented(&app).await;
    assert!(seen.contains("sales_order.created"), "{seen:?}");
    assert!(seen.contains("sales_order.confirmed"), "{seen:?}");
}

#[tokio::test]
async fn a_pick_beyond_its_reservation_or_from_another_bin_is_flagged_and_bad_orders_change_nothing()
 {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 2).await;
    applied(&app, &t.token, receive(site.product, site.bins[0], 3)).await;
    applied(&app, &t.token, receive(site.product, site.bins[1], 5)).await;
    let c = customer(&app, &t.token, "C1", None).await;
    let so = draft(&app, &t.token, c, site.warehouse, &[(site.product, 3)]).await;
    let so = ok(&app, &t.token, &so, "confirm").await;
    assert_eq!(line(&so, 0), (3, 3, 0, 0));
    // FIFO: the bin received first (B00) is reserved.
    assert_eq!(
        pick_list(&app, &t.token, &so).await,
        [("A/B00".to_owned(), None, 3)]
    );
    // Picked from B01 instead: the reservation on B00 is released as the goods left.
    let m = applied(
        &app,
        &t.token,
        pick(ship(site.product, site.bins[1], 2), &so, 0),
    )
    .await;
    let flags: Vec<&str> = m["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag"].as_str().unwrap())
        .collect();
    assert_eq!(flags, ["pick_other_row"]);
    assert_eq!(
        pick_list(&app, &t.token, &so).await,
        [("A/B00".to_owned(), None, 1)]
    );
    // 2 more than the line's last reserved unit, from B00 (which has 2 unreserved now).
    let m = applied(
        &app,
        &t.token,
        pick(ship(site.product, site.bins[0], 3), &so, 0),
    )
    .await;
    let flags: Vec<&str> = m["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag"].as_str().unwrap())
        .collect();
    assert_eq!(flags, ["over_pick"]);
    let so = get_json(&app, format!("/v1/sales-orders/{}", id_of(&so)), &t.token).await;
    assert_eq!(so["status"], "shipped");
    assert_eq!(line(&so, 0), (3, 0, 5, 0));
    assert_ledger(&app, t.id).await;

    // Bad input: a clear error and nothing written.
    let before = count(&app, "sales_order", t.id).await;
    let other = app.tenant("other", "bulk").await;
    let foreign = customer(&app, &other.token, "C9", None).await;
    for (body, status, code) in [
        (
            json!({"customer_id": foreign, "warehouse_id": site.warehouse, "requested_on": "2027-01-01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reference_not_found",
        ),
        (
            json!({"customer_id": c, "warehouse_id": site.warehouse, "requested_on": "2027-01-01",
                "lines": [{"product_id": site.product, "qty": 0, "unit_price": "1"}]}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"customer_id": c, "warehouse_id": site.warehouse, "requested_on": "2027-01-01",
                "lines": [{"product_id": site.product, "qty": 1, "unit_price": 1.5}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"customer_id": c, "warehouse_id": site.warehouse, "requested_on": "2027-01-01", "priority": "asap"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"customer_id": c, "warehouse_id": site.warehouse}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ] {
        problem(
            app.post("/v1/sales-orders", &t.token, body).await,
            status,
            code,
        )
        .await;
    }
    assert_eq!(count(&app, "sales_order", t.id).await, before);
    // A draft without lines is not confirmed; a draft is not allocated.
    let empty = draft(&app, &t.token, c, site.warehouse, &[]).await;
    for verb in ["confirm", "allocate"] {
        let (status, v) = act(&app, &t.token, &empty, verb).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (StatusCode::CONFLICT, Some("invalid_order_state")),
            "{verb}: {v}"
        );
    }
    // A ship naming a line of another product is refused online.
    let so2 = draft(&app, &t.token, c, site.warehouse, &[(site.tracked, 1)]).await;
    problem(
        record(
            &app,
            &t.token,
            pick(ship(site.product, site.bins[1], 1), &so2, 0),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order_line_mismatch",
    )
    .await;
}

#[tokio::test]
async fn concurrent_confirmations_and_shipments_never_take_more_than_is_there() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 2).await;
    applied(&app, &t.token, receive(site.product, site.bins[0], 6)).await;
    applied(&app, &t.token, receive(site.product, site.bins[1], 4)).await;
    let c = customer(&app, &t.token, "C1", None).await;
    let mut orders = Vec::new();
    for _ in 0..6 {
        orders.push(draft(&app, &t.token, c, site.warehouse, &[(site.product, 3)]).await);
    }
    // Six confirmations of 3 and six one-unit shipments naming no order, all at once, on
    // 10 units: whatever the interleaving, nothing is reserved twice or shipped from
    // reserved stock, and every unit is either reserved, shipped or still free.
    let mut tasks = Vec::new();
    for so in &orders {
        let request = app
            .client
            .post(app.url(&format!("/v1/sales-orders/{}/confirm", id_of(so))))
            .header("authorization", bearer(&t.token))
            .json(&json!({}));
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status()
        }));
    }
    for i in 0..6 {
        let request = app
            .client
            .post(app.url("/v1/movements"))
            .header("authorization", bearer(&t.token))
            .json(&ship(site.product, site.bins[i % 2], 1));
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status()
        }));
    }
    let mut shipped = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        let status = task.await.unwrap();
        if i < 6 {
            assert_eq!(status, StatusCode::OK);
        } else if status == StatusCode::CREATED {
            shipped += 1;
        } else {
            assert_eq!(
                status,
                StatusCode::CONFLICT,
                "only insufficient_stock may refuse"
            );
        }
    }
    let mut reserved = 0;
    for so in &orders {
        let so = get_json(&app, format!("/v1/sales-orders/{}", id_of(so)), &t.token).await;
        let (qty, allocated, _, back) = line(&so, 0);
        assert_eq!(allocated + back, qty);
        reserved += allocated;
    }
    assert!(
        reserved + shipped <= 10,
        "reserved {reserved} + shipped {shipped}"
    );
    let (on_hand, allocated): (i64, i64) = sqlx::query_as(
        "select sum(on_hand)::bigint, sum(allocated)::bigint from stock_row where tenant_id = $1",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(on_hand, 10 - shipped);
    assert_eq!(allocated, reserved);
    assert!(allocated <= on_hand);
    // Nothing free is left unreserved while an order waits.
    assert!(reserved == on_hand || orders.len() as i64 * 3 == reserved);
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_device_picks_against_a_line_offline_and_the_push_consumes_the_reservation() {
    use crate::sync_push::{ago, loc, q, register};
    use logiflow_core::{LineRef, MovementKind};

    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 2).await;
    applied(&app, &t.token, receive(site.product, site.bins[0], 5)).await;
    let c = customer(&app, &t.token, "C1", None).await;
    let so = draft(&app, &t.token, c, site.warehouse, &[(site.product, 3)]).await;
    let so = ok(&app, &t.token, &so, "confirm").await;
    let line_id: Uuid = so["lines"][0]["id"].as_str().unwrap().parse().unwrap();
    let mut dev = register(&app, &t.token, &[site.warehouse]).await;

    // Offline: the line's 3 picked from B00, then 1 more (an over-pick), and a pick
    // naming a line the server does not know. Meanwhile 2 unreserved units leave online.
    let mut picks = Vec::new();
    // After the receipt, each a microsecond after the one before.
    let start = ago(0);
    for (i, (qty, line)) in [(3, line_id), (1, line_id), (1, Uuid::now_v7())]
        .into_iter()
        .enumerate()
    {
        let mut m = dev.entry(
            start + chrono::Duration::microseconds(i as i64),
            site.product,
            None,
            MovementKind::Ship {
                from: loc(site.bins[0]),
                qty: q(qty),
            },
        );
        m.reference = Some(LineRef::SalesLine(line));
        picks.push(m);
    }
    applied(&app, &t.token, ship(site.product, site.bins[0], 2)).await;
    let v = dev.push(&app, &picks).await;
    let flags: Vec<Vec<&str>> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut f: Vec<&str> = r["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["flag"].as_str().unwrap())
                .collect();
            f.sort_unstable();
            f
        })
        .collect();
    // Each applied at its own time, where the goods were; the row ends below zero (the
    // online shipment took units the device had already picked), which is flagged too.
    assert_eq!(
        flags,
        [
            vec![],
            vec!["negative_row", "over_pick"],
            vec!["negative_row", "unknown_order_line"]
        ],
        "{v}"
    );
    let so = get_json(&app, format!("/v1/sales-orders/{}", id_of(&so)), &t.token).await;
    assert_eq!(line(&so, 0), (3, 0, 4, 0));
    assert_eq!(so["status"], "shipped");
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_device_pulls_the_sales_orders_to_pick_and_picks_them_offline() {
    use logiflow_replica::{Action, ItemRef, Op, Replica};

    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 2).await;
    applied(&app, &t.token, receive(site.product, site.bins[1], 4)).await;
    let c = customer(&app, &t.token, "C1", None).await;
    let so = draft(&app, &t.token, c, site.warehouse, &[(site.product, 3)]).await;
    let so = ok(&app, &t.token, &so, "confirm").await;
    // A draft is never sent.
    draft(&app, &t.token, c, site.warehouse, &[(site.product, 1)]).await;

    let dev = crate::sync_push::register(&app, &t.token, &[site.warehouse]).await;
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
    crate::purchase_orders::sync_replica(&app, &dev, &mut replica, 2).await;
    let orders = replica.sales_orders().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].number, "SO-000001");
    let pick_list = &orders[0].lines[0].pick_list;
    assert_eq!((pick_list[0].bin.as_str(), pick_list[0].qty), ("B01", 3));

    // Offline: the pick list says B01; the line is found by the order's number.
    let sku = get_json(&app, format!("/v1/products/{}", site.product), &t.token).await["sku"]
        .as_str()
        .unwrap()
        .to_owned();
    let so_line = replica
        .sales_line("so-000001", &ItemRef::Sku(sku.clone()))
        .unwrap();
    replica
        .record(&Action {
            expires_on: None,
            item: ItemRef::Sku(sku),
            lot: None,
            warehouse: None,
            op: Op::Ship {
                from: "B01".into(),
                qty: 3,
            },
            reference: Some(so_line),
        })
        .unwrap();
    assert_eq!(replica.sales_orders().unwrap()[0].lines[0].picked_here, 3);

    crate::purchase_orders::sync_replica(&app, &dev, &mut replica, 50).await;
    let so = get_json(&app, format!("/v1/sales-orders/{}", id_of(&so)), &t.token).await;
    assert_eq!(so["status"], "shipped");
    assert_eq!(line(&so, 0), (3, 0, 3, 0));
    // Shipped: the device no longer offers it.
    assert!(replica.sales_orders().unwrap().is_empty());
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn back_orders_are_served_when_stock_arrives_by_priority_then_date() {
    use crate::sync_push::{ago, loc, q, register};
    use logiflow_core::MovementKind;

    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 2).await;
    let c = customer(&app, &t.token, "C1", None).await;
    let order = async |priority: &str, requested_on: &str, qty: i64| {
        let so = create(
            &app,
            "/v1/sales-orders",
            &t.token,
            json!({"customer_id": c, "warehouse_id": site.warehouse, "requested_on": requested_on,
                   "priority": priority,
                   "lines": [{"product_id": site.product, "qty": qty, "unit_price": "1"}]}),
        )
        .await;
        ok(&app, &t.token, &so, "confirm").await
    };
    // Nothing in stock: all back-ordered. The urgent one was asked for last and latest.
    let normal_early = order("normal", "2027-01-10", 3).await;
    let normal_late = order("normal", "2027-01-20", 3).await;
    let urgent = order("urgent", "2027-03-01", 3).await;
    for so in [&normal_early, &normal_late, &urgent] {
        assert_eq!(line(so, 0), (3, 0, 0, 3));
    }
    let now = async |so: &Value| {
        line(
            &get_json(&app, format!("/v1/sales-orders/{}", id_of(so)), &t.token).await,
            0,
        )
    };

    // 4 arrive online: the urgent order first, then the earliest requested.
    applied(&app, &t.token, receive(site.product, site.bins[0], 4)).await;
    assert_eq!(now(&urgent).await, (3, 3, 0, 0));
    assert_eq!(now(&normal_early).await, (3, 1, 0, 2));
    assert_eq!(now(&normal_late).await, (3, 0, 0, 3));
    // A count that finds no more changes nothing; a shipment never serves anyone.
    applied(
        &app,
        &t.token,
        json!({"kind": "count", "product_id": site.product,
        "location_id": site.bins[0], "counted": 4}),
    )
    .await;
    assert_eq!(now(&normal_early).await, (3, 1, 0, 2));

    // 4 more arrive from a device's journal: the rest of the early order, then the late.
    let mut dev = register(&app, &t.token, &[site.warehouse]).await;
    let m = dev.entry(
        ago(0),
        site.product,
        None,
        MovementKind::Receive {
            to: loc(site.bins[1]),
            qty: q(4),
        },
    );
    dev.push(&app, &[m]).await;
    assert_eq!(now(&normal_early).await, (3, 3, 0, 0));
    assert_eq!(now(&normal_late).await, (3, 2, 0, 1));
    // Every unit is reserved, none twice.
    let (on_hand, allocated): (i64, i64) = sqlx::query_as(
        "select sum(on_hand)::bigint, sum(allocated)::bigint from stock_row where tenant_id = $1",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!((on_hand, allocated), (8, 8));
    assert_eq!(audited(&app, t.id, "sales_order.allocate").await, 4);
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_held_pick_forced_or_retried_later_consumes_its_reservation() {
    use crate::sync_push::{ago, loc, q, register};
    use logiflow_core::{LineRef, MovementKind};

    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 2).await;
    let c = customer(&app, &t.token, "C1", None).await;
    let mut dev = register(&app, &t.token, &[site.warehouse]).await;
    let pick_of = |dev: &mut crate::sync_push::Dev, so: &Value, bin: usize, qty: i64| {
        let mut m = dev.entry(
            ago(0),
            site.product,
            None,
            MovementKind::Ship {
                from: loc(site.bins[bin]),
                qty: q(qty),
            },
        );
        let line: Uuid = so["lines"][0]["id"].as_str().unwrap().parse().unwrap();
        m.reference = Some(LineRef::SalesLine(line));
        m
    };

    // 3 in B00, all reserved for the first order. The device picks 5 there: short at its
    // own time, so held for a manager, who forces it (the goods did leave).
    applied(&app, &t.token, receive(site.product, site.bins[0], 3)).await;
    let first = draft(&app, &t.token, c, site.warehouse, &[(site.product, 3)]).await;
    let first = ok(&app, &t.token, &first, "confirm").await;
    let m = pick_of(&mut dev, &first, 0, 5);
    let v = dev.push(&app, &[m]).await;
    assert_eq!(v["results"][0]["outcome"]["outcome"], "held", "{v}");
    assert_eq!(line(&first, 0), (3, 3, 0, 0));
    let r = app
        .post(
            &format!("/v1/movements/{}/force", m.id),
            &t.token,
            json!({"reason": "the pallet left with the truck"}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outcome"]["outcome"], "applied", "{v}");
    let flags: Vec<&str> = v["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag"].as_str().unwrap())
        .collect();
    assert!(flags.contains(&"over_pick"), "{v}");
    let first = get_json(
        &app,
        format!("/v1/sales-orders/{}", id_of(&first)),
        &t.token,
    )
    .await;
    assert_eq!(
        line(&first, 0),
        (3, 0, 5, 0),
        "the reservation went with the goods"
    );
    assert_ledger(&app, t.id).await;

    // A second order's pick of 2 from B01 is held (B01 is empty: the order is all
    // back-ordered). Then the same device pushes a receipt into B01 dated before the
    // pick: the retry applies the pick, which had nothing reserved: flagged over_pick.
    let second = draft(&app, &t.token, c, site.warehouse, &[(site.product, 2)]).await;
    let second = ok(&app, &t.token, &second, "confirm").await;
    assert_eq!(line(&second, 0), (2, 0, 0, 2));
    let pick = pick_of(&mut dev, &second, 1, 2);
    let v = dev.push(&app, &[pick]).await;
    assert_eq!(v["results"][0]["outcome"]["outcome"], "held", "{v}");
    let receipt = dev.entry(
        pick.occurred_at - chrono::Duration::minutes(1),
        site.product,
        None,
        MovementKind::Receive {
            to: loc(site.bins[1]),
            qty: q(4),
        },
    );
    dev.push(&app, &[receipt]).await;
    let m = get_json(&app, format!("/v1/movements/{}", pick.id), &t.token).await;
    assert_eq!(m["outcome"], "applied", "{m}");
    let flags: Vec<&str> = m["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag"].as_str().unwrap())
        .collect();
    assert!(flags.contains(&"over_pick"), "{m}");
    let second = get_json(
        &app,
        format!("/v1/sales-orders/{}", id_of(&second)),
        &t.token,
    )
    .await;
    assert_eq!(line(&second, 0), (2, 0, 2, 0));
    assert_eq!(second["status"], "shipped");
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn an_order_changes_by_its_state_and_a_reduced_line_releases_what_it_no_longer_needs() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 2).await;
    applied(&app, &t.token, receive(site.product, site.bins[0], 4)).await;
    applied(&app, &t.token, receive(site.product, site.bins[1], 4)).await;
    let c1 = customer(&app, &t.token, "C1", None).await;
    let c2 = customer(&app, &t.token, "C2", None).await;
    let so = draft(&app, &t.token, c1, site.warehouse, &[(site.product, 2)]).await;
    let url = format!("/v1/sales-orders/{}", id_of(&so));
    let patch = async |path: &str, body: Value| {
        let r = app.patch(path, &t.token, body).await;
        (r.status(), r.json::<Value>().await.unwrap())
    };

    // A draft changes freely; a line is deleted, not set to 0.
    let (status, v) = patch(
        &url,
        json!({"customer_id": c2, "priority": "high", "notes": "fragile"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["customer_id"].as_str(), v["priority"].as_str()),
        (Some(c2.to_string().as_str()), Some("high"))
    );
    let r = app
        .post(
            &format!("{url}/lines"),
            &t.token,
            json!({"product_id": site.tracked, "qty": 1, "unit_price": "3"}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["lines"].as_array().unwrap().len(), 2, "{v}");
    let extra = v["lines"][1]["id"].as_str().unwrap().to_owned();
    let (status, _) = patch(&format!("{url}/lines/{extra}"), json!({"qty": 0})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let r = app.delete(&format!("{url}/lines/{extra}"), &t.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let line_id = v["lines"][0]["id"].as_str().unwrap().to_owned();
    let (status, v) = patch(&format!("{url}/lines/{line_id}"), json!({"qty": 7})).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    // Confirmed: 7 reserved (4 in B00, 3 in B01). The customer is fixed now; the date
    // and priority are not.
    let so = ok(&app, &t.token, &so, "confirm").await;
    assert_eq!(line(&so, 0), (7, 7, 0, 0));
    let (status, v) = patch(&url, json!({"customer_id": c1})).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_order_state"))
    );
    let (status, _) = patch(
        &url,
        json!({"requested_on": "2027-03-03", "priority": "urgent"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // 2 picked from B00, then the line cut to 4: it keeps 2 reserved, the rest is free.
    applied(
        &app,
        &t.token,
        pick(ship(site.product, site.bins[0], 2), &so, 0),
    )
    .await;
    let (status, v) = patch(&format!("{url}/lines/{line_id}"), json!({"qty": 4})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(line(&v, 0), (4, 2, 2, 0));
    assert_ledger(&app, t.id).await;
    // Never below what was picked; no deleting once confirmed.
    let (status, v) = patch(&format!("{url}/lines/{line_id}"), json!({"qty": 1})).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_order_state")),
        "{v}"
    );
    let r = app
        .delete(&format!("{url}/lines/{line_id}"), &t.token)
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // 4 of the 6 left are free again: a plain shipment may take them.
    applied(&app, &t.token, ship(site.product, site.bins[1], 4)).await;
    // A line added to a confirmed order waits: nothing is free.
    let r = app
        .post(
            &format!("{url}/lines"),
            &t.token,
            json!({"product_id": site.product, "qty": 3, "unit_price": "1"}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(line(&v, 1), (3, 0, 0, 3), "{v}");
    // Cancelled: frozen.
    ok(&app, &t.token, &so, "cancel").await;
    let (status, _) = patch(&url, json!({"notes": "too late"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_ledger(&app, t.id).await;
    assert_eq!(audited(&app, t.id, "sales_order.line_update").await, 2);
}

/// (bin path, order number, qty) of a wave's pick list.
async fn wave(app: &TestApp, token: &str, ids: Value) -> (StatusCode, Value) {
    let r = app
        .post(
            "/v1/sales-orders/pick-list",
            token,
            json!({"order_ids": ids}),
        )
        .await;
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// A wave's pick list walks every order's reservations in one bin order: each bin once,
/// its stops for both orders together. Bad waves are refused with a clear code, and a
/// viewer may read it (nothing is written).
#[tokio::test]
async fn a_wave_of_orders_is_picked_in_one_walk() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let site = site(&app, t.id, 3).await;
    let (_, viewer) = app.user(&t, "viewer@acme.test", "viewer").await;
    // 3 in B02, 4 in B00 (whose path sorts first), 2 in B01.
    for (bin, qty) in [(2, 3), (0, 4), (1, 2)] {
        applied(&app, &t.token, receive(site.product, site.bins[bin], qty)).await;
    }
    let c = customer(&app, &t.token, "C1", None).await;
    let mut orders = Vec::new();
    for qty in [5, 4] {
        let so = draft(&app, &t.token, c, site.warehouse, &[(site.product, qty)]).await;
        orders.push(ok(&app, &t.token, &so, "confirm").await);
    }
    // FIFO, oldest receipt first: SO-1 took B02 (3) and B00 (2), SO-2 the rest of B00
    // (2) and B01 (2).
    let (status, v) = wave(&app, &viewer, json!([id_of(&orders[1]), id_of(&orders[0])])).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let stops: Vec<(String, String, i64)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["location_path"].as_str().unwrap().to_owned(),
                i["order_number"].as_str().unwrap().to_owned(),
                i["qty"].as_i64().unwrap(),
            )
        })
        .collect();
    let stop = |path: &str, order: &str, qty| (path.to_owned(), order.to_owned(), qty);
    assert_eq!(
        stops,
        [
            stop("A/B00", "SO-000001", 2),
            stop("A/B00", "SO-000002", 2),
            stop("A/B01", "SO-000002", 2),
            stop("A/B02", "SO-000001", 3),
        ]
    );
    // Each stop names its order and line, as the single order's list does.
    assert_eq!(v["items"][0]["order_id"], id_of(&orders[0]));
    assert_eq!(v["items"][0]["line_id"], orders[0]["lines"][0]["id"]);
    // The same order twice is one order.
    let (_, once) = wave(
        &app,
        &t.token,
        json!([id_of(&orders[0]), id_of(&orders[0])]),
    )
    .await;
    assert_eq!(once["items"].as_array().unwrap().len(), 2, "{once}");

    // Refused: no order, more than a wave, an unknown id, not a list.
    let (status, v) = wave(&app, &t.token, json!([])).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request")),
        "{v}"
    );
    let many: Vec<String> = (0..=logiflow_core::orders::WAVE_ORDERS_MAX)
        .map(|_| Uuid::now_v7().to_string())
        .collect();
    let (status, v) = wave(&app, &t.token, json!(many)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = wave(&app, &t.token, json!([id_of(&orders[0]), Uuid::now_v7()])).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("reference_not_found")
        ),
        "{v}"
    );
    let (status, v) = wave(&app, &t.token, json!("SO-000001")).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")),
        "{v}"
    );
    assert_ledger(&app, t.id).await;
}
