//! Alerts (`logiflow_server::alerts`): each kind raised once while its condition lasts and
//! resolved when it ends, with its outbox event; the scheduled check claimed once per
//! interval however many instances run it (with the clock injected, not slept); the
//! thresholds as tenant settings; `/v1/alerts` with per-user read marks.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use logiflow_core::{MovementKind, Qty, TenantId};
use logiflow_server::alerts::check;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;
use crate::sync_push::{ago, loc, q, register};

async fn setup() -> (TestApp, Tenant, Site, PgPool) {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    // The alerts' events are checked too, and a movement writes its own only while
    // someone listens.
    listen(&app, t.id).await;
    let s = site(&app, t.id, 3).await;
    let pool = PgPool::connect(&app_database_url(&app)).await.unwrap();
    (app, t, s, pool)
}

/// Runs every sweep of `t` as of `now`, as the application role.
async fn sweep(pool: &PgPool, t: &Tenant, now: DateTime<Utc>) -> logiflow_server::alerts::Swept {
    check::sweep_tenant(pool, TenantId::from_uuid(t.id), now)
        .await
        .unwrap()
}

/// The tenant's alerts of `kind`: (subject, open, payload), oldest first.
async fn alerts_of(app: &TestApp, t: &Tenant, kind: &str) -> Vec<(String, bool, Value)> {
    sqlx::query_as(
        "select subject, resolved_at is null, payload from alert
         where tenant_id = $1 and kind = $2 order by id",
    )
    .bind(t.id)
    .bind(kind)
    .fetch_all(&app.owner)
    .await
    .unwrap()
}

/// The payloads of the tenant's outbox events of `topic`.
async fn events_of(app: &TestApp, t: &Tenant, topic: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "select payload from outbox_event where tenant_id = $1 and topic = $2 order by created_at, id",
    )
    .bind(t.id)
    .bind(topic)
    .fetch_all(&app.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn stock_low_is_raised_once_while_it_lasts_and_resolved_when_stock_recovers() {
    let (app, t, s, pool) = setup().await;
    let b0 = s.bins[0];
    // Both site products have a reorder point of 10 and no stock: both low.
    // Each run a second after the last, as the scheduled check runs (ids are UUIDv7 of
    // the run's time: alerts of one run share a millisecond, later runs sort after).
    let start = Utc::now();
    let mut runs = 0;
    let mut next = || {
        runs += 1;
        start + TimeDelta::seconds(runs)
    };
    let swept = sweep(&pool, &t, next()).await;
    assert_eq!(swept.stock_low, (2, 0));
    applied(&app, &t.token, receive(s.product, b0, 4)).await;
    // Still low (4 < 10): nothing new, nothing resolved, however often the check runs.
    for _ in 0..3 {
        assert_eq!(sweep(&pool, &t, next()).await.stock_low, (0, 0));
    }
    let low = alerts_of(&app, &t, "stock.low").await;
    assert_eq!(low.len(), 2);
    let product_alert = low
        .iter()
        .find(|a| a.2["product_id"] == s.product.to_string())
        .unwrap();
    assert!(product_alert.1, "open");
    assert_eq!(product_alert.0, format!("{}/{}", s.warehouse, s.product));
    assert_eq!(product_alert.2["reorder_point"], 10);
    assert_eq!(product_alert.2["available"], 0, "as it was when raised");
    assert_eq!(product_alert.2["shortfall"], 10);
    assert_eq!(events_of(&app, &t, "stock.low").await.len(), 2);

    // Recovered (4 + 6 = 10, not below the point): resolved, no event.
    applied(&app, &t.token, receive(s.product, b0, 6)).await;
    assert_eq!(sweep(&pool, &t, next()).await.stock_low, (0, 1));
    // Low again: a new alert and a new event.
    applied(&app, &t.token, ship(s.product, b0, 1)).await;
    assert_eq!(sweep(&pool, &t, next()).await.stock_low, (1, 0));
    let low = alerts_of(&app, &t, "stock.low").await;
    let mine: Vec<_> = low
        .iter()
        .filter(|a| a.2["product_id"] == s.product.to_string())
        .collect();
    assert_eq!(mine.len(), 2);
    assert!(
        !mine[0].1 && mine[1].1,
        "the first resolved, the second open"
    );
    assert_eq!(mine[1].2["available"], 9);
    let events = events_of(&app, &t, "stock.low").await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["alert_id"], mine[1].2["alert_id"]);

    // Allocation counts: on hand 9, a product now at reorder point 5 is fine...
    sqlx::query("update product set reorder_point = 5 where id = $1")
        .bind(s.product)
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(sweep(&pool, &t, next()).await.stock_low, (0, 1));
    // ...until 6 of its 9 are reserved (available 3 < 5).
    sqlx::query("update stock_row set allocated = 6 where product_id = $1 and location_id = $2")
        .bind(s.product)
        .bind(b0)
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(sweep(&pool, &t, next()).await.stock_low, (1, 0));
    // Every event this produced matches the documented webhook schemas.
    let seen = crate::events::assert_events_documented(&app).await;
    assert!(seen.contains("stock.low"), "{seen:?}");
}

#[tokio::test]
async fn the_check_runs_once_per_interval_however_many_instances_claim_it() {
    let (app, t, _s, pool) = setup().await;
    let second = PgPool::connect(&app_database_url(&app)).await.unwrap();
    let now = Utc::now();
    let minute = TimeDelta::seconds(60);
    // Eight instances at the same moment: exactly one runs it.
    let mut runs = Vec::new();
    for i in 0..8 {
        let p = if i % 2 == 0 {
            pool.clone()
        } else {
            second.clone()
        };
        runs.push(tokio::spawn(async move {
            check::run(&p, now, minute).await.unwrap()
        }));
    }
    let mut ran = Vec::new();
    for r in runs {
        if let Some(swept) = r.await.unwrap() {
            ran.push(swept);
        }
    }
    assert_eq!(ran.len(), 1, "one instance ran the check");
    assert_eq!(ran[0].stock_low.0, 2, "and raised the two low products");
    assert_eq!(alerts_of(&app, &t, "stock.low").await.len(), 2);
    // Within the interval nobody runs it; once it has passed, one does.
    assert!(
        check::run(&pool, now + TimeDelta::seconds(59), minute)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        check::run(&second, now + TimeDelta::seconds(60), minute)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        check::run(&pool, now + TimeDelta::seconds(61), minute)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn lot_expiring_counts_days_in_the_warehouses_time_zone_and_follows_the_setting() {
    let (app, t, s, pool) = setup().await;
    // A second warehouse at UTC+14 with the same kind of bin.
    let far = site(&app, t.id, 1).await;
    sqlx::query("update warehouse set timezone = 'Pacific/Kiritimati' where id = $1")
        .bind(far.warehouse)
        .execute(&app.owner)
        .await
        .unwrap();
    let expires = NaiveDate::from_ymd_opt(2031, 6, 10).unwrap();
    sqlx::query("update lot set expires_on = $2 where id = any($1)")
        .bind(vec![s.lot, far.lot])
        .bind(expires)
        .execute(&app.owner)
        .await
        .unwrap();
    for (site, lot) in [(&s, s.lot), (&far, far.lot)] {
        applied(
            &app,
            &t.token,
            json!({"kind": "receive", "product_id": site.tracked, "lot_id": lot,
                   "to_location_id": site.bins[0], "qty": 3}),
        )
        .await;
    }
    let set = |days: i32| {
        let app = &app;
        let token = t.token.clone();
        async move {
            let r = app
                .patch(
                    "/v1/settings",
                    &token,
                    json!({"alert_lot_expiring_days": days}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
    };
    set(1).await;
    // 2031-06-08 12:00 UTC: two days before expiry in Berlin (not within 1 day), but
    // 2031-06-09 02:00 at UTC+14, one day before: only the far warehouse's lot.
    let now = DateTime::parse_from_rfc3339("2031-06-08T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(sweep(&pool, &t, now).await.lot_expiring, (1, 0));
    let raised = alerts_of(&app, &t, "lot.expiring").await;
    assert_eq!(raised[0].0, format!("{}/{}", far.warehouse, far.lot));
    assert_eq!(raised[0].2["days_left"], 1);
    assert_eq!(raised[0].2["on_hand"], 3);
    assert_eq!(raised[0].2["expires_on"], "2031-06-10");
    // A wider threshold takes in Berlin's too; the far one is not raised twice.
    set(30).await;
    assert_eq!(sweep(&pool, &t, now).await.lot_expiring, (1, 0));
    // The expired lot of the site has no stock: never raised. Shipping the far lot out
    // resolves its alert.
    applied(
        &app,
        &t.token,
        json!({"kind": "ship", "product_id": far.tracked, "lot_id": far.lot,
               "from_location_id": far.bins[0], "qty": 3}),
    )
    .await;
    assert_eq!(sweep(&pool, &t, now).await.lot_expiring, (0, 1));
    assert_eq!(events_of(&app, &t, "lot.expiring").await.len(), 2);
    // Out-of-range thresholds are refused and change nothing.
    for bad in [
        json!({"alert_lot_expiring_days": 0}),
        json!({"alert_held_hours": 721}),
        json!({"alert_device_silent_days": 366}),
    ] {
        problem(
            app.patch("/v1/settings", &t.token, bad).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    let settings = get_json(&app, "/v1/settings", &t.token).await;
    assert_eq!(settings["alert_lot_expiring_days"], 30);
    assert_eq!(settings["alert_held_hours"], 4);
    assert_eq!(settings["alert_device_silent_days"], 3);
    // Every event this produced matches the documented webhook schemas.
    let seen = crate::events::assert_events_documented(&app).await;
    assert!(seen.contains("lot.expiring"), "{seen:?}");
}

#[tokio::test]
async fn a_movement_held_too_long_is_raised_and_resolved_once_decided() {
    let (app, t, s, pool) = setup().await;
    let mut d = register(&app, &t.token, &[s.warehouse]).await;
    let ship = d.entry(
        ago(10),
        s.product,
        None,
        MovementKind::Ship {
            from: loc(s.bins[0]),
            qty: q(5),
        },
    );
    let r = d.push(&app, &[ship]).await;
    assert_eq!(r["results"][0]["outcome"]["outcome"], "held");
    let now = Utc::now();
    // Held for less than the default 4 hours: nothing.
    assert_eq!(
        sweep(&pool, &t, now + TimeDelta::hours(3))
            .await
            .conflict_held,
        (0, 0)
    );
    assert_eq!(
        sweep(&pool, &t, now + TimeDelta::hours(5))
            .await
            .conflict_held,
        (1, 0)
    );
    assert_eq!(
        sweep(&pool, &t, now + TimeDelta::hours(6))
            .await
            .conflict_held,
        (0, 0)
    );
    let held = alerts_of(&app, &t, "conflict.held").await;
    assert_eq!(held[0].0, ship.id.to_string());
    assert_eq!(held[0].2["kind"], "ship");
    assert_eq!(held[0].2["qty"], 5);
    assert_eq!(held[0].2["warehouse_id"], s.warehouse.to_string());
    assert_eq!(held[0].2["device_id"], d.id.to_string());
    assert!(held[0].2["hours_waiting"].as_i64().unwrap() >= 5);
    let (_, manager) = app.user(&t, "boss@acme.example", "manager").await;
    let r = app
        .post(
            &format!("/v1/movements/{}/void", ship.id),
            &manager,
            json!({"reason": "scanned twice"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        sweep(&pool, &t, now + TimeDelta::hours(7))
            .await
            .conflict_held,
        (0, 1)
    );
    assert_eq!(events_of(&app, &t, "conflict.held").await.len(), 1);
    // Every event this produced matches the documented webhook schemas.
    let seen = crate::events::assert_events_documented(&app).await;
    assert!(seen.contains("conflict.held"), "{seen:?}");
    assert!(seen.contains("movement.decided"), "{seen:?}");
}

#[tokio::test]
async fn a_count_with_a_variance_raises_its_alert_with_the_movement() {
    let (app, t, s, _pool) = setup().await;
    let mut d = register(&app, &t.token, &[s.warehouse]).await;
    applied(&app, &t.token, receive(s.product, s.bins[1], 12)).await;
    // The device expected 10, the server held 12 at the count's time: applied, flagged.
    let count = d.entry(
        ago(0),
        s.product,
        None,
        MovementKind::Count {
            at: loc(s.bins[1]),
            counted: Qty::new(11).unwrap(),
            expected: Some(Qty::new(10).unwrap()),
        },
    );
    let r = d.push(&app, &[count]).await;
    assert_eq!(r["results"][0]["outcome"]["outcome"], "applied");
    // No check needed: written with the movement, in its transaction.
    let variance = alerts_of(&app, &t, "count.variance").await;
    assert_eq!(variance.len(), 1);
    let (subject, open, payload) = &variance[0];
    assert_eq!(subject, &count.id.to_string());
    assert!(!open, "a one-off, raised resolved");
    assert_eq!(payload["counted"], 11);
    assert_eq!(payload["expected"], 10);
    assert_eq!(payload["server_at_time"], 12);
    assert_eq!(payload["warehouse_id"], s.warehouse.to_string());
    assert_eq!(payload["location_path"], "A/B01");
    assert!(payload["sku"].as_str().unwrap().starts_with("SKU-1"));
    let events = events_of(&app, &t, "count.variance").await;
    assert_eq!(events, vec![payload.clone()]);
    // A count that matches raises nothing.
    let exact = d.entry(
        ago(0),
        s.product,
        None,
        MovementKind::Count {
            at: loc(s.bins[1]),
            counted: Qty::new(11).unwrap(),
            expected: Some(Qty::new(11).unwrap()),
        },
    );
    d.push(&app, &[exact]).await;
    assert_eq!(alerts_of(&app, &t, "count.variance").await.len(), 1);
    assert_ledger(&app, t.id).await;
    // Every event this produced matches the documented webhook schemas.
    let seen = crate::events::assert_events_documented(&app).await;
    assert!(seen.contains("count.variance"), "{seen:?}");
}

#[tokio::test]
async fn a_silent_device_is_raised_and_resolved_when_it_syncs_or_is_revoked() {
    let (app, t, s, pool) = setup().await;
    let d = register(&app, &t.token, &[s.warehouse]).await;
    let other = register(&app, &t.token, &[s.warehouse]).await;
    // Registered two days ago (see `register`), never synced: silent after 3 days.
    let now = Utc::now();
    assert_eq!(sweep(&pool, &t, now).await.device_silent, (0, 0));
    assert_eq!(
        sweep(&pool, &t, now + TimeDelta::days(2))
            .await
            .device_silent,
        (2, 0)
    );
    let silent = alerts_of(&app, &t, "device.silent").await;
    assert!(silent.iter().any(|a| a.0 == d.id.to_string()));
    assert_eq!(silent[0].2["days_silent"], 4);
    // One syncs (pulls until it has everything), the other is revoked: both resolved.
    let mut path = "/v1/sync/pull".to_owned();
    loop {
        let page = get_json(&app, &path, &d.token).await;
        if page["has_more"] == false {
            break;
        }
        let marked: Option<DateTime<Utc>> =
            sqlx::query_scalar("select last_pull_at from device where id = $1")
                .bind(d.id)
                .fetch_one(&app.owner)
                .await
                .unwrap();
        assert!(marked.is_none(), "a page mid-sync is not yet a sync");
        path = format!("/v1/sync/pull?cursor={}", page["cursor"].as_str().unwrap());
    }
    let r = app
        .delete(&format!("/v1/devices/{}", other.id), &t.token)
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        sweep(&pool, &t, now + TimeDelta::days(2))
            .await
            .device_silent,
        (0, 2)
    );
    let devices: Value = get_json(&app, "/v1/devices", &t.token).await;
    let device = devices["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == d.id.to_string())
        .unwrap();
    assert!(device["last_pull_at"].is_string(), "{device}");
    // Every event this produced matches the documented webhook schemas.
    let seen = crate::events::assert_events_documented(&app).await;
    assert!(seen.contains("device.silent"), "{seen:?}");
}

#[tokio::test]
async fn people_list_their_warehouses_alerts_and_mark_them_read_each_for_themselves() {
    let (app, t, s, pool) = setup().await;
    let far = site(&app, t.id, 1).await;
    let (_, operator) = app.user(&t, "op@acme.example", "operator").await;
    sweep(&pool, &t, Utc::now()).await;
    // Four products (two per site, all of the tenant) low in each of two warehouses.
    let all = get_json(&app, "/v1/alerts", &t.token).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 8);
    assert_eq!(all["unread"], 8);
    let here = get_json(
        &app,
        format!("/v1/alerts?warehouse_id={}", s.warehouse),
        &operator,
    )
    .await;
    let here_ids = item_ids(&here);
    assert_eq!(here_ids.len(), 4);
    assert!(
        here["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["warehouse_id"] == s.warehouse.to_string() && a["read"] == false)
    );
    // A device's session sees its own warehouses' alerts by default.
    let d = register(&app, &t.token, &[far.warehouse]).await;
    let mine = get_json(&app, "/v1/alerts", &d.token).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 4);
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["warehouse_id"] == far.warehouse.to_string())
    );
    // The operator reads one: read for them, not for the admin.
    let r = app
        .post("/v1/alerts/read", &operator, json!({"ids": [here_ids[0]]}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let again = app
        .post("/v1/alerts/read", &operator, json!({"ids": [here_ids[0]]}))
        .await;
    assert_eq!(again.json::<Value>().await.unwrap()["marked"], 1);
    let op = get_json(
        &app,
        format!("/v1/alerts?warehouse_id={}", s.warehouse),
        &operator,
    )
    .await;
    assert_eq!(op["unread"], 3);
    assert_eq!(op["items"][0]["read"], true);
    let unread = get_json(
        &app,
        format!("/v1/alerts?warehouse_id={}&unread=true", s.warehouse),
        &operator,
    )
    .await;
    assert_eq!(item_ids(&unread), here_ids[1..].to_vec());
    assert_eq!(get_json(&app, "/v1/alerts", &t.token).await["unread"], 8);
    // Filters and pages.
    let page = get_json(&app, "/v1/alerts?limit=5", &t.token).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    let rest = get_json(
        &app,
        format!(
            "/v1/alerts?limit=5&cursor={}",
            page["next_cursor"].as_str().unwrap()
        ),
        &t.token,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 3);
    assert!(rest["next_cursor"].is_null());
    let none = get_json(&app, "/v1/alerts?kind=device.silent", &t.token).await;
    assert!(none["items"].as_array().unwrap().is_empty());
    // Bad input: a clear error and nothing marked.
    problem(
        app.get("/v1/alerts?kind=stock.high", &t.token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    problem(
        app.post("/v1/alerts/read", &t.token, json!({"ids": []}))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    problem(
        app.post(
            "/v1/alerts/read",
            &t.token,
            json!({"ids": [here_ids[1], Uuid::now_v7()]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reference_not_found",
    )
    .await;
    assert_eq!(get_json(&app, "/v1/alerts", &t.token).await["unread"], 8);
    let (_, key) = app.api_key(&t, "reader", &["stock_read"]).await;
    assert_eq!(
        get_json(&app, "/v1/alerts", &key).await["items"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    problem(
        app.post("/v1/alerts/read", &key, json!({"ids": [here_ids[1]]}))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn resolved_alerts_are_pruned_after_the_retention_and_open_ones_stay() {
    use logiflow_server::alerts::RESOLVED_RETENTION_DAYS;
    let (app, t, s, pool) = setup().await;
    let start = Utc::now();
    // Both site products are low; stock for one resolves its alert.
    assert_eq!(sweep(&pool, &t, start).await.stock_low, (2, 0));
    applied(&app, &t.token, receive(s.product, s.bins[0], 20)).await;
    let resolved_at = start + TimeDelta::seconds(1);
    assert_eq!(sweep(&pool, &t, resolved_at).await.stock_low, (0, 1));
    let read = get_json(&app, "/v1/alerts?kind=stock.low", &t.token).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect::<Vec<_>>();
    let r = app
        .post("/v1/alerts/read", &t.token, json!({"ids": read}))
        .await;
    assert!(r.status().is_success(), "{}", r.status());

    // Kept until the retention has passed since it was resolved, however old it is.
    let kept = resolved_at + TimeDelta::days(RESOLVED_RETENTION_DAYS) - TimeDelta::seconds(1);
    assert_eq!(sweep(&pool, &t, kept).await.pruned, 0);
    let gone = resolved_at + TimeDelta::days(RESOLVED_RETENTION_DAYS) + TimeDelta::seconds(1);
    assert_eq!(sweep(&pool, &t, gone).await.pruned, 1);
    let left = alerts_of(&app, &t, "stock.low").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].1, "the open alert stays");
    let marks: i64 = sqlx::query_scalar("select count(*) from alert_read")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(marks, 1, "the pruned alert's read mark went with it");
}
