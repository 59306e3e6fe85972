//! `POST /v1/movements` and `GET /v1/movements`: every kind, every refusal code, the
//! all-or-nothing write (stock row, movement, ledger, outbox, audit), idempotency and
//! permissions.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;

async fn setup() -> (TestApp, Tenant, Site) {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s = site(&app, t.id, 4).await;
    (app, t, s)
}

#[tokio::test]
async fn each_kind_changes_stock_and_books_its_effects() {
    let (app, t, s) = setup().await;
    listen(&app, t.id).await;
    let (b0, b1) = (s.bins[0], s.bins[1]);

    let m = applied(&app, &t.token, receive(s.product, b0, 20)).await;
    assert_eq!(m["kind"], "receive");
    assert_eq!(m["origin"], "online");
    assert_eq!(m["user_id"], t.admin_id.to_string());
    assert_eq!(
        m["effects"],
        json!([{"product_id": s.product, "location_id": b0, "lot_id": null, "delta": 20, "absorbed": false}])
    );
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 20);

    applied(&app, &t.token, ship(s.product, b0, 5)).await;
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 15);

    let m = applied(&app, &t.token, transfer(s.product, b0, b1, 6)).await;
    assert_eq!(m["effects"].as_array().unwrap().len(), 2);
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 9);
    assert_eq!(on_hand(&app, t.id, s.product, b1, None).await, 6);

    let m = applied(
        &app,
        &t.token,
        json!({"kind": "adjust", "product_id": s.product, "location_id": b1, "delta": -2, "reason": "damage", "note": "forklift"}),
    )
    .await;
    assert_eq!(m["reason"], "damage");
    assert_eq!(m["note"], "forklift");
    assert_eq!(on_hand(&app, t.id, s.product, b1, None).await, 4);

    // A count becomes the adjustment that makes the row what was seen; the expected
    // quantity differs from the server's, so it is flagged.
    let m = applied(
        &app,
        &t.token,
        json!({"kind": "count", "product_id": s.product, "location_id": b0, "counted": 7, "expected": 8}),
    )
    .await;
    assert_eq!(m["effects"][0]["delta"], -2);
    assert_eq!(m["flags"][0]["flag"], "count_variance");
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 7);

    // Lot-tracked stock is kept per lot.
    let m = applied(
        &app,
        &t.token,
        json!({"kind": "receive", "product_id": s.tracked, "lot_id": s.lot, "to_location_id": b0, "qty": 3}),
    )
    .await;
    assert_eq!(m["effects"][0]["lot_id"], s.lot.to_string());
    assert_eq!(on_hand(&app, t.id, s.tracked, b0, Some(s.lot)).await, 3);

    // Each movement wrote its outbox event and audit entry in its transaction, and the
    // count with a variance its `count.variance` alert's event too.
    assert_eq!(count(&app, "movement", t.id).await, 6);
    assert_eq!(count(&app, "outbox_event", t.id).await, 7);
    let variance: i64 = sqlx::query_scalar(
        "select count(*) from outbox_event where tenant_id = $1 and topic = 'count.variance'",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(variance, 1);
    assert_eq!(audited(&app, t.id, "movement.create").await, 6);
    assert_ledger(&app, t.id).await;

    // The stored movement reads back as it was answered.
    let id = m["id"].as_str().unwrap();
    let read: Value = app
        .get(&format!("/v1/movements/{id}"), &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, m);
}

/// An outbox event is only ever read by a webhook delivery, so a tenant with no active
/// endpoint writes none (each movement would cost an insert and the worker's delete for
/// nothing); the movement, its audit entry and the documents are written all the same,
/// and the events start with the first endpoint.
#[tokio::test]
async fn a_tenant_nobody_listens_to_writes_no_events() {
    let (app, t, s) = setup().await;
    let (b0, b1) = (s.bins[0], s.bins[1]);
    let audits = count(&app, "audit_log", t.id).await;
    applied(&app, &t.token, receive(s.product, b0, 5)).await;
    applied(
        &app,
        &t.token,
        json!({"kind": "count", "product_id": s.product, "location_id": b0, "counted": 4, "expected": 6}),
    )
    .await;
    assert_eq!(count(&app, "audit_log", t.id).await, audits + 2);
    assert_eq!(count(&app, "outbox_event", t.id).await, 0);
    // The count's variance alert (the counter expected 6, the server had 5) is raised
    // all the same: people see it in the app.
    let alerts: i64 = sqlx::query_scalar(
        "select count(*) from alert where tenant_id = $1 and kind = 'count.variance'",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(alerts, 1);
    // Nor do the documents' events (a purchase order created, ordered and received).
    crate::purchase_orders::seed_orders(&app, &t, &s).await;
    assert_eq!(count(&app, "outbox_event", t.id).await, 0);
    let audits = count(&app, "audit_log", t.id).await;

    // An endpoint that is not active does not count; an active one does.
    listen(&app, t.id).await;
    sqlx::query("update webhook_endpoint set active = false where tenant_id = $1")
        .bind(t.id)
        .execute(&app.owner)
        .await
        .unwrap();
    applied(&app, &t.token, transfer(s.product, b0, b1, 1)).await;
    assert_eq!(count(&app, "outbox_event", t.id).await, 0);
    listen(&app, t.id).await;
    let m = applied(&app, &t.token, transfer(s.product, b0, b1, 1)).await;
    let topics: Vec<(String, String)> =
        sqlx::query_as("select topic, payload->>'id' from outbox_event where tenant_id = $1")
            .bind(t.id)
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert_eq!(topics, [("movement.recorded".to_owned(), id_of(&m))]);
    assert_eq!(count(&app, "audit_log", t.id).await, audits + 2);
}

#[tokio::test]
async fn an_outbound_beyond_the_available_stock_changes_nothing() {
    let (app, t, s) = setup().await;
    listen(&app, t.id).await;
    let (b0, b1) = (s.bins[0], s.bins[1]);
    applied(&app, &t.token, receive(s.product, b0, 3)).await;
    let before = (
        count(&app, "movement", t.id).await,
        count(&app, "outbox_event", t.id).await,
        count(&app, "audit_log", t.id).await,
    );
    for body in [
        ship(s.product, b0, 4),
        transfer(s.product, b0, b1, 4),
        json!({"kind": "adjust", "product_id": s.product, "location_id": b0, "delta": -4, "reason": "loss"}),
        // A bin that never held the product.
        ship(s.product, b1, 1),
    ] {
        let v = problem(
            record(&app, &t.token, body).await,
            StatusCode::CONFLICT,
            "insufficient_stock",
        )
        .await;
        assert!(v["detail"].as_str().unwrap().contains("available"), "{v}");
    }
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 3);
    assert_eq!(on_hand(&app, t.id, s.product, b1, None).await, 0);
    let after = (
        count(&app, "movement", t.id).await,
        count(&app, "outbox_event", t.id).await,
        count(&app, "audit_log", t.id).await,
    );
    assert_eq!(before, after, "a refused movement writes nothing");
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn every_refusal_has_its_code() {
    let (app, t, s) = setup().await;
    let (b0, b1) = (s.bins[0], s.bins[1]);
    applied(&app, &t.token, receive(s.product, b0, 5)).await;
    applied(
        &app,
        &t.token,
        json!({"kind": "receive", "product_id": s.tracked, "lot_id": s.expired_lot, "to_location_id": b0, "qty": 5}),
    )
    .await;
    let other = site(&app, t.id, 1).await;
    // Deactivated records.
    let inactive_product = other.product;
    sqlx::query("update product set active = false where id = $1")
        .bind(inactive_product)
        .execute(&app.owner)
        .await
        .unwrap();
    let inactive_bin = other.bins[0];
    sqlx::query("update location set active = false where id = $1")
        .bind(inactive_bin)
        .execute(&app.owner)
        .await
        .unwrap();

    let unknown = Uuid::now_v7();
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            receive(unknown, b0, 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_product",
        ),
        (
            receive(s.product, unknown, 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_location",
        ),
        (
            json!({"kind": "receive", "product_id": s.tracked, "lot_id": unknown, "to_location_id": b0, "qty": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_lot",
        ),
        (
            receive(s.tracked, b0, 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lot_required",
        ),
        (
            json!({"kind": "receive", "product_id": s.product, "lot_id": s.lot, "to_location_id": b0, "qty": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lot_not_tracked",
        ),
        (
            json!({"kind": "receive", "product_id": s.tracked, "lot_id": other.lot, "to_location_id": b0, "qty": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lot_of_other_product",
        ),
        (
            receive(s.product, s.zone, 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "location_not_leaf",
        ),
        (
            transfer(s.product, b0, b0, 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "same_location",
        ),
        (
            json!({"kind": "adjust", "product_id": s.product, "location_id": b0, "delta": 1, "reason": "damage"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason_sign_mismatch",
        ),
        (
            receive(inactive_product, b0, 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "inactive_product",
        ),
        (
            receive(s.product, inactive_bin, 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "inactive_location",
        ),
        (
            json!({"kind": "ship", "product_id": s.tracked, "lot_id": s.expired_lot, "from_location_id": b0, "qty": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lot_expired",
        ),
        (
            receive(s.product, b1, 1_000_000_000_000),
            StatusCode::CREATED,
            "",
        ),
        (
            receive(s.product, b1, 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity_overflow",
        ),
        (
            receive(s.product, b0, 0),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            receive(s.product, b0, 1_000_000_000_001),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"kind": "adjust", "product_id": s.product, "location_id": b0, "delta": 0, "reason": "correction"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"kind": "count", "product_id": s.product, "location_id": b0, "counted": -1}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"kind": "receive", "product_id": s.product, "to_location_id": b0, "qty": 1, "note": "x".repeat(1001)}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"kind": "teleport", "product_id": s.product, "qty": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"kind": "ship", "product_id": s.product, "qty": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        let r = record(&app, &t.token, body.clone()).await;
        if status == StatusCode::CREATED {
            assert_eq!(r.status(), status, "{body}");
            continue;
        }
        let v = problem(r, status, code).await;
        assert!(!v["detail"].as_str().unwrap().is_empty(), "{body}: {v}");
    }
    // An expired lot may still go to quarantine and be written off.
    applied(
        &app,
        &t.token,
        json!({"kind": "transfer", "product_id": s.tracked, "lot_id": s.expired_lot, "from_location_id": b0, "to_location_id": b1, "qty": 2}),
    )
    .await;
    applied(
        &app,
        &t.token,
        json!({"kind": "adjust", "product_id": s.tracked, "lot_id": s.expired_lot, "location_id": b1, "delta": -2, "reason": "damage"}),
    )
    .await;
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn an_idempotency_key_records_once() {
    let (app, t, s) = setup().await;
    listen(&app, t.id).await;
    let send = |body: Value| {
        app.client
            .post(app.url("/v1/movements"))
            .header("authorization", bearer(&t.token))
            .header("idempotency-key", "receipt-42")
            .json(&body)
            .send()
    };
    let first: Value = send(receive(s.product, s.bins[0], 4))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let again = send(receive(s.product, s.bins[0], 4)).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[0], None).await, 4);
    let other = send(receive(s.product, s.bins[0], 5)).await.unwrap();
    problem(
        other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(count(&app, "movement", t.id).await, 1);
    // The answer is written once and read back three ways: the outbox event, the audit
    // entry and the stored answer a retry gets are all the movement as answered.
    let (payload, after, response): (Value, Value, Value) = sqlx::query_as(
        "select o.payload, a.after, k.response
         from outbox_event o, audit_log a, idempotency_key k
         where o.tenant_id = $1 and o.topic = 'movement.recorded'
           and a.tenant_id = $1 and a.action = 'movement.create'
           and k.tenant_id = $1 and k.key = 'receipt-42'",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(payload, first);
    assert_eq!(after, first);
    assert_eq!(response, first);
}

#[tokio::test]
async fn only_roles_on_the_floor_record_movements() {
    let (app, t, s) = setup().await;
    for (role, allowed) in [
        ("manager", true),
        ("operator", true),
        ("purchasing", false),
        ("sales", false),
        ("viewer", false),
    ] {
        let (_, token) = app.user(&t, &format!("{role}@acme.example"), role).await;
        let r = record(&app, &token, receive(s.product, s.bins[0], 1)).await;
        if allowed {
            assert_eq!(r.status(), StatusCode::CREATED, "{role}");
        } else {
            problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        }
        // Everyone may read stock and movements.
        assert_eq!(
            app.get("/v1/movements", &token).await.status(),
            StatusCode::OK
        );
        assert_eq!(app.get("/v1/stock", &token).await.status(), StatusCode::OK);
    }
    // An API key books its movements to the user who created it; the audit names the key.
    let (key_id, key) = app.api_key(&t, "wms-bridge", &["movements_write"]).await;
    let r = app
        .client
        .post(app.url("/v1/movements"))
        .header("authorization", format!("ApiKey {key}"))
        .json(&receive(s.product, s.bins[0], 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["user_id"], t.admin_id.to_string());
    let actor: (String, Uuid) = sqlx::query_as(
        "select actor_type, actor_id from audit_log where tenant_id = $1 and target_id = $2",
    )
    .bind(t.id)
    .bind(m["id"].as_str().unwrap())
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(actor, ("api_key".to_owned(), key_id));
}

#[tokio::test]
async fn the_history_filters_and_pages_newest_first() {
    let (app, t, s) = setup().await;
    let (b0, b1, b2) = (s.bins[0], s.bins[1], s.bins[2]);
    let (_, op) = app.user(&t, "op@acme.example", "operator").await;
    let mut ids = Vec::new();
    for body in [
        receive(s.product, b0, 10),
        transfer(s.product, b0, b1, 3),
        ship(s.product, b1, 1),
        receive(s.product, b2, 2),
    ] {
        ids.push(
            applied(&app, &t.token, body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let by_op = applied(&app, &op, ship(s.product, b0, 1)).await;
    ids.push(by_op["id"].as_str().unwrap().to_owned());

    let list = |query: String| {
        let app = &app;
        let token = t.token.clone();
        async move {
            let r = app.get(&format!("/v1/movements{query}"), &token).await;
            assert_eq!(r.status(), StatusCode::OK, "{query}");
            let v: Value = r.json().await.unwrap();
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(list(String::new()).await, newest_first);
    // In or out of b1: the transfer into it and the ship out of it.
    assert_eq!(
        list(format!("?location_id={b1}")).await,
        vec![ids[2].clone(), ids[1].clone()]
    );
    assert_eq!(
        list("?kind=receive".into()).await,
        vec![ids[3].clone(), ids[0].clone()]
    );
    assert_eq!(
        list(format!("?user_id={}", by_op["user_id"].as_str().unwrap())).await,
        vec![ids[4].clone()]
    );
    assert_eq!(
        list(format!("?product_id={}", s.tracked)).await,
        Vec::<String>::new()
    );
    let second: Value = app
        .get(&format!("/v1/movements/{}", ids[1]), &t.token)
        .await
        .json()
        .await
        .unwrap();
    let from = second["occurred_at"].as_str().unwrap().replace('+', "%2B");
    assert_eq!(
        list(format!("?from={from}")).await,
        newest_first[..4].to_vec()
    );
    assert_eq!(list(format!("?to={from}")).await, vec![ids[0].clone()]);

    // Pages of 2 walk the whole history once, newest first, with or without a filter.
    for filter in [String::new(), format!("&location_id={b0}")] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                None => format!("?limit=2{filter}"),
                Some(c) => format!("?limit=2&cursor={c}{filter}"),
            };
            let v: Value = app
                .get(&format!("/v1/movements{q}"), &t.token)
                .await
                .json()
                .await
                .unwrap();
            seen.extend(
                v["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["id"].as_str().unwrap().to_owned()),
            );
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let expected = list(filter.replacen('&', "?", 1)).await;
        assert_eq!(seen, expected, "{filter}");
    }

    for bad in ["?kind=teleport", "?outcome=lost", "?cursor=zzz", "?limit=0"] {
        problem(
            app.get(&format!("/v1/movements{bad}"), &t.token).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    problem(
        app.get(&format!("/v1/movements/{}", Uuid::now_v7()), &t.token)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
