//! Sales orders under concurrency (issue #15): confirmations racing each other, online
//! ships and journal pushes of picks on the same rows never reserve or ship more than
//! is there, never deadlock and never answer 5xx; afterwards every row's `allocated` is
//! the sum of the reservations on it and the ledger agrees with the rows
//! (`assert_ledger`). The last test stops a push of a pick from another bin than its
//! reservation right before it writes (`hooks::PUSH_WRITING`) while a confirmation of
//! the same product waits for the push's row: the push must already hold the reserved
//! row, or the two wait on each other.

use std::time::Duration;

use logiflow_core::{LineRef, Movement, MovementKind, TenantId};
use logiflow_server::hooks;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;
use crate::sales_orders::{customer, draft, line, ok};
use crate::sync_push::{Dev, ago, loc, q, register};

async fn race_app() -> (TestApp, Tenant, Site) {
    let app = spawn_app_with(|c| c.db_max_connections = 10).await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s = site(&app, t.id, 2).await;
    (app, t, s)
}

/// Sends a POST in a task of its own.
fn spawn_post(
    app: &TestApp,
    path: &str,
    token: &str,
    body: Value,
) -> JoinHandle<(StatusCode, Value)> {
    let request = app
        .client
        .post(app.url(path))
        .header("authorization", bearer(token))
        .json(&body);
    tokio::spawn(async move {
        let r = request.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    })
}

fn spawn_confirm(app: &TestApp, token: &str, so: &Value) -> JoinHandle<(StatusCode, Value)> {
    spawn_post(
        app,
        &format!("/v1/sales-orders/{}/confirm", id_of(so)),
        token,
        json!({}),
    )
}

/// A journal pick of `qty` from `bin` against the first line of `so`, `offset_us`
/// microseconds after `at`.
fn device_pick(
    dev: &mut Dev,
    at: chrono::DateTime<chrono::Utc>,
    product: Uuid,
    bin: Uuid,
    qty: i64,
    so: &Value,
) -> Movement {
    let mut m = dev.entry(
        at,
        product,
        None,
        MovementKind::Ship {
            from: loc(bin),
            qty: q(qty),
        },
    );
    let id: Uuid = so["lines"][0]["id"].as_str().unwrap().parse().unwrap();
    m.reference = Some(LineRef::SalesLine(id));
    m
}

/// (sum of on hand, sum of allocated) over the tenant's rows.
async fn totals(app: &TestApp, tenant: Uuid) -> (i64, i64) {
    sqlx::query_as(
        "select coalesce(sum(on_hand), 0)::bigint, coalesce(sum(allocated), 0)::bigint
         from stock_row where tenant_id = $1",
    )
    .bind(tenant)
    .fetch_one(&app.owner)
    .await
    .unwrap()
}

/// (allocated, back-ordered) summed over the first lines of `orders`, as read back.
async fn reserved(app: &TestApp, token: &str, orders: &[Value]) -> (i64, i64) {
    let (mut allocated, mut back) = (0, 0);
    for so in orders {
        let so = get_json(app, format!("/v1/sales-orders/{}", id_of(so)), token).await;
        let (qty, a, picked, b) = line(&so, 0);
        assert_eq!(a + b + picked, qty, "{so}");
        allocated += a;
        back += b;
    }
    (allocated, back)
}

/// The race: 64 one-unit orders confirmed at once on 10 available units (6 and
/// 4 in two bins) → exactly 10 reserved, 54 back-ordered, every answer 200.
#[tokio::test]
async fn sixty_four_confirmations_on_ten_units_reserve_exactly_ten() {
    const ORDERS: usize = 64;
    let (app, t, s) = race_app().await;
    applied(&app, &t.token, receive(s.product, s.bins[0], 6)).await;
    applied(&app, &t.token, receive(s.product, s.bins[1], 4)).await;
    let c = customer(&app, &t.token, "C1", None).await;
    let mut orders = Vec::new();
    for _ in 0..ORDERS {
        orders.push(draft(&app, &t.token, c, s.warehouse, &[(s.product, 1)]).await);
    }
    let tasks: Vec<_> = orders
        .iter()
        .map(|so| spawn_confirm(&app, &t.token, so))
        .collect();
    for task in tasks {
        let (status, v) = task.await.unwrap();
        // A deadlock would answer 503 (PostgreSQL aborts one side).
        assert_eq!(status, StatusCode::OK, "{v}");
        let expected = if line(&v, 0).1 == 1 {
            "allocated"
        } else {
            "confirmed"
        };
        assert_eq!(v["status"], expected, "{v}");
    }
    assert_eq!(reserved(&app, &t.token, &orders).await, (10, 54));
    assert_eq!(totals(&app, t.id).await, (10, 10));
    let per_bin: Vec<(i64, i64)> = sqlx::query_as(
        "select on_hand, allocated from stock_row where tenant_id = $1 order by location_id",
    )
    .bind(t.id)
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(per_bin, [(6, 6), (4, 4)]);
    assert_ledger(&app, t.id).await;
}

/// Confirmations racing online ships (naming no order) and two devices' pushes of picks
/// against orders reserved before, half of them from another bin than reserved, all on
/// the same two rows. Whatever the interleaving: every confirmation and push answers
/// 200, an online ship is applied or refused `insufficient_stock`, every pick is
/// applied and consumes its line's reservation, and no more is reserved than is there.
#[tokio::test]
async fn confirmations_racing_online_ships_and_pushed_picks_never_oversell() {
    const CONFIRMS: usize = 24;
    const SHIPS: usize = 8;
    let (app, t, s) = race_app().await;
    // Received first: FIFO reserves the older bin first.
    applied(&app, &t.token, receive(s.product, s.bins[0], 10)).await;
    applied(&app, &t.token, receive(s.product, s.bins[1], 10)).await;
    let c = customer(&app, &t.token, "C1", None).await;
    // Four orders of 2 reserved on B00 before the race, picked offline by two devices.
    let mut picked_orders = Vec::new();
    for _ in 0..4 {
        let so = draft(&app, &t.token, c, s.warehouse, &[(s.product, 2)]).await;
        picked_orders.push(ok(&app, &t.token, &so, "confirm").await);
    }
    assert_eq!(totals(&app, t.id).await, (20, 8));
    let mut devices = [
        register(&app, &t.token, &[s.warehouse]).await,
        register(&app, &t.token, &[s.warehouse]).await,
    ];
    let start = ago(0);
    let mut pushes = Vec::new();
    for (d, dev) in devices.iter_mut().enumerate() {
        let mut picks = Vec::new();
        for (i, so) in picked_orders.iter().enumerate().skip(d).step_by(2) {
            let at = start + chrono::Duration::microseconds(i as i64 * 2);
            // One unit where it was reserved, one from the other bin.
            picks.push(device_pick(dev, at, s.product, s.bins[0], 1, so));
            let later = at + chrono::Duration::microseconds(1);
            picks.push(device_pick(dev, later, s.product, s.bins[1], 1, so));
        }
        pushes.push(picks);
    }
    let mut orders = Vec::new();
    for _ in 0..CONFIRMS {
        orders.push(draft(&app, &t.token, c, s.warehouse, &[(s.product, 1)]).await);
    }

    let confirms: Vec<_> = orders
        .iter()
        .map(|so| spawn_confirm(&app, &t.token, so))
        .collect();
    let ships: Vec<_> = (0..SHIPS)
        .map(|i| {
            spawn_post(
                &app,
                "/v1/movements",
                &t.token,
                ship(s.product, s.bins[i % 2], 1),
            )
        })
        .collect();
    let pushed: Vec<_> = devices
        .iter()
        .zip(&pushes)
        .map(|(dev, picks)| spawn_post(&app, "/v1/sync/push", &dev.token, dev.request(picks)))
        .collect();

    for task in confirms {
        let (status, v) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    let mut shipped = 0;
    for task in ships {
        let (status, v) = task.await.unwrap();
        if status == StatusCode::CREATED {
            shipped += 1;
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "{v}");
            assert_eq!(v["code"], "insufficient_stock", "{v}");
        }
    }
    for task in pushed {
        let (status, v) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{v}");
        for r in v["results"].as_array().unwrap() {
            assert_eq!(r["outcome"]["outcome"], "applied", "{v}");
        }
    }
    // Every pick consumed its line's reservation, wherever it was picked from.
    for so in &picked_orders {
        let so = get_json(&app, format!("/v1/sales-orders/{}", id_of(so)), &t.token).await;
        assert_eq!(line(&so, 0), (2, 0, 2, 0), "{so}");
    }
    let (allocated, back) = reserved(&app, &t.token, &orders).await;
    assert_eq!(allocated + back, CONFIRMS as i64);
    let (on_hand, row_allocated) = totals(&app, t.id).await;
    assert_eq!(on_hand, 20 - 8 - shipped);
    assert_eq!(row_allocated, allocated);
    // Nothing reserved twice, nothing shipped online from reserved stock: only a pick
    // from B01 of a unit reserved on B00 (a physical fact, flagged `pick_other_row`) may
    // take a unit B01 had reserved for another order, and it frees one on B00 instead.
    let per_bin: Vec<(i64, i64)> = sqlx::query_as(
        "select on_hand, allocated from stock_row where tenant_id = $1 order by location_id",
    )
    .bind(t.id)
    .fetch_all(&app.owner)
    .await
    .unwrap();
    let (b00, b01) = (per_bin[0], per_bin[1]);
    assert!(b00.1 <= b00.0, "B00 reserves {} of {}", b00.1, b00.0);
    assert!(b01.1 - b01.0 <= 4, "B01 reserves {} of {}", b01.1, b01.0);
    assert!(
        allocated <= on_hand + 4,
        "reserved {allocated} of {on_hand}"
    );
    assert_ledger(&app, t.id).await;
}

/// Waits (bounded) until a transaction of the test's database waits for a row lock.
async fn someone_waits_for_a_lock(app: &TestApp) {
    for _ in 0..300 {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(&app.owner)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the confirmation never waited for the push's row");
}

/// The gap of the pick from another bin, deterministic: an order's 2 units are reserved
/// on B00 and a device picked them from B01. Its push stops after its decision, before
/// it writes (it consumes the reservation on B00 there), while another order of the
/// product is confirmed: the confirmation locks the product's rows in key order, B00
/// then B01. Had the push locked only B01, the confirmation would hold B00 and wait for
/// B01 while the push waits for B00: a deadlock, one side aborted (503 for the
/// confirmation). The push locks the rows of its picks' reservations with its own, in
/// key order, so the confirmation simply waits for it.
#[tokio::test]
async fn a_pushed_pick_from_another_bin_never_deadlocks_with_a_confirmation() {
    let (app, t, s) = race_app().await;
    applied(&app, &t.token, receive(s.product, s.bins[0], 5)).await;
    applied(&app, &t.token, receive(s.product, s.bins[1], 5)).await;
    let c = customer(&app, &t.token, "C1", None).await;
    let first = draft(&app, &t.token, c, s.warehouse, &[(s.product, 2)]).await;
    let first = ok(&app, &t.token, &first, "confirm").await;
    let second = draft(&app, &t.token, c, s.warehouse, &[(s.product, 1)]).await;
    let mut dev = register(&app, &t.token, &[s.warehouse]).await;
    let pick = device_pick(&mut dev, ago(0), s.product, s.bins[1], 2, &first);

    let mut paused = hooks::pause_next(TenantId::from_uuid(t.id), hooks::PUSH_WRITING);
    let pushing = spawn_post(&app, "/v1/sync/push", &dev.token, dev.request(&[pick]));
    tokio::time::timeout(Duration::from_secs(30), paused.arrived())
        .await
        .expect("the push never reached its writes");
    let confirming = spawn_confirm(&app, &t.token, &second);
    someone_waits_for_a_lock(&app).await;
    paused.resume();

    let (status, v) = pushing.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    let flags: Vec<&str> = v["results"][0]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag"].as_str().unwrap())
        .collect();
    assert_eq!(flags, ["pick_other_row"], "{v}");
    let (status, v) = confirming.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    // The confirmation ran after the push: B00's 2 were released, and FIFO reserves there.
    assert_eq!(line(&v, 0), (1, 1, 0, 0), "{v}");
    let first = get_json(
        &app,
        format!("/v1/sales-orders/{}", id_of(&first)),
        &t.token,
    )
    .await;
    assert_eq!(line(&first, 0), (2, 0, 2, 0), "{first}");
    let per_bin: Vec<(i64, i64)> = sqlx::query_as(
        "select on_hand, allocated from stock_row where tenant_id = $1 order by location_id",
    )
    .bind(t.id)
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(per_bin, [(5, 1), (3, 0)]);
    assert_ledger(&app, t.id).await;
}

/// Orders changed on the server while a device picked them offline (issue #15,
/// "Offline"): one order cancelled, another's line reduced from 4 to 2. The device's
/// picks are physical facts: both applied, each where it was picked, and both land in
/// the conflict inbox (`review=true`) flagged `over_pick` with how many units went
/// beyond what the order still reserved — all 3 of the cancelled order's (it reserved
/// nothing any more), 2 of the reduced one's — naming the line, so a supervisor finds
/// the order. Nothing stays reserved for either.
#[tokio::test]
async fn picks_of_orders_cancelled_or_reduced_while_offline_apply_and_land_in_the_inbox() {
    let (app, t, s) = race_app().await;
    applied(&app, &t.token, receive(s.product, s.bins[0], 10)).await;
    let c = customer(&app, &t.token, "C1", None).await;
    let cancelled = draft(&app, &t.token, c, s.warehouse, &[(s.product, 3)]).await;
    let cancelled = ok(&app, &t.token, &cancelled, "confirm").await;
    let reduced = draft(&app, &t.token, c, s.warehouse, &[(s.product, 4)]).await;
    let reduced = ok(&app, &t.token, &reduced, "confirm").await;
    let mut dev = register(&app, &t.token, &[s.warehouse]).await;
    // Offline, the device picks both in full.
    let start = ago(0);
    let picks = [
        device_pick(&mut dev, start, s.product, s.bins[0], 3, &cancelled),
        device_pick(
            &mut dev,
            start + chrono::Duration::microseconds(1),
            s.product,
            s.bins[0],
            4,
            &reduced,
        ),
    ];
    // Meanwhile on the server.
    ok(&app, &t.token, &cancelled, "cancel").await;
    let r = app
        .patch(
            &format!(
                "/v1/sales-orders/{}/lines/{}",
                id_of(&reduced),
                reduced["lines"][0]["id"].as_str().unwrap()
            ),
            &t.token,
            json!({"qty": 2}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(totals(&app, t.id).await, (10, 2));

    let v = dev.push(&app, &picks).await;
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["outcome"]["outcome"], "applied", "{v}");
    }
    let inbox = get_json(&app, "/v1/movements?review=true", &t.token).await;
    let mut flagged: Vec<(String, Value)> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_owned(), m["flags"].clone()))
        .collect();
    flagged.sort_by(|a, b| a.0.cmp(&b.0));
    let line_of = |so: &Value| so["lines"][0]["id"].clone();
    assert_eq!(
        flagged,
        [
            (
                picks[0].id.to_string(),
                json!([{"flag": "over_pick", "line": line_of(&cancelled), "excess": 3}])
            ),
            (
                picks[1].id.to_string(),
                json!([{"flag": "over_pick", "line": line_of(&reduced), "excess": 2}])
            ),
        ],
        "{inbox}"
    );
    let so = get_json(
        &app,
        format!("/v1/sales-orders/{}", id_of(&cancelled)),
        &t.token,
    )
    .await;
    assert_eq!(
        (so["status"].as_str(), line(&so, 0)),
        (Some("cancelled"), (3, 0, 3, 0))
    );
    let so = get_json(
        &app,
        format!("/v1/sales-orders/{}", id_of(&reduced)),
        &t.token,
    )
    .await;
    assert_eq!(
        (so["status"].as_str(), line(&so, 0)),
        (Some("shipped"), (2, 0, 4, 0))
    );
    assert_eq!(totals(&app, t.id).await, (3, 0));
    assert_ledger(&app, t.id).await;
}

/// A draft moved to another warehouse after its confirmation read what to lock, but
/// before it locked: the confirmation is refused (`conflict`, retry) and reserves
/// nothing, rather than reserving in the warehouse the draft left.
#[tokio::test]
async fn a_draft_moved_to_another_warehouse_while_confirming_reserves_nothing() {
    let (app, t, s) = race_app().await;
    applied(&app, &t.token, receive(s.product, s.bins[0], 5)).await;
    let c = customer(&app, &t.token, "C1", None).await;
    let so = draft(&app, &t.token, c, s.warehouse, &[(s.product, 2)]).await;
    let other = create(
        &app,
        "/v1/warehouses",
        &t.token,
        json!({"code": "WH-OTHER", "name": "Other", "timezone": "UTC"}),
    )
    .await;

    let mut paused = hooks::pause_next(TenantId::from_uuid(t.id), hooks::RESERVE_LOCKING);
    let confirming = spawn_confirm(&app, &t.token, &so);
    tokio::time::timeout(Duration::from_secs(30), paused.arrived())
        .await
        .expect("the confirmation never reached its locks");
    let r = app
        .patch(
            &format!("/v1/sales-orders/{}", id_of(&so)),
            &t.token,
            json!({"warehouse_id": other["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    paused.resume();

    let (status, v) = confirming.await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "conflict", "{v}");
    let so = get_json(&app, format!("/v1/sales-orders/{}", id_of(&so)), &t.token).await;
    assert_eq!(so["status"], "draft", "{so}");
    assert_eq!(line(&so, 0), (2, 0, 0, 0), "{so}");
    let allocated: i64 = sqlx::query_scalar(
        "select coalesce(sum(allocated), 0)::bigint from stock_row where tenant_id = $1",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(allocated, 0);
    assert_ledger(&app, t.id).await;
}
