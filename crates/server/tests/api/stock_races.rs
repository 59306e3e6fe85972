//! Movements racing on the same rows: no oversell, no deadlock, no lost update, and the
//! ledger still sums to every row. The assertions hold whatever the interleaving.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::inventory::*;

/// Sends every body at once, each on its own task; returns (status, body) pairs.
async fn race(app: &TestApp, token: &str, bodies: Vec<Value>) -> Vec<(StatusCode, Value)> {
    let handles: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let request = app
                .client
                .post(app.url("/v1/movements"))
                .header("authorization", bearer(token))
                .json(&body);
            tokio::spawn(async move {
                let r = request.send().await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn setup(bins: usize) -> (TestApp, Tenant, Site) {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s = site(&app, t.id, bins).await;
    (app, t, s)
}

#[tokio::test]
async fn sixty_four_ships_of_one_on_ten_apply_exactly_ten() {
    let (app, t, s) = setup(1).await;
    let bin = s.bins[0];
    applied(&app, &t.token, receive(s.product, bin, 10)).await;
    let results = race(&app, &t.token, vec![ship(s.product, bin, 1); 64]).await;
    let applied = results
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(applied, 10);
    for (status, body) in &results {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["code"], "insufficient_stock", "{body}");
        }
    }
    assert_eq!(on_hand(&app, t.id, s.product, bin, None).await, 0);
    assert_eq!(count(&app, "movement", t.id).await, 11);
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn crossing_transfers_never_deadlock() {
    let (app, t, s) = setup(2).await;
    let (a, b) = (s.bins[0], s.bins[1]);
    applied(&app, &t.token, receive(s.product, a, 100)).await;
    applied(&app, &t.token, receive(s.product, b, 100)).await;
    let mut bodies = Vec::new();
    for _ in 0..40 {
        bodies.push(transfer(s.product, a, b, 1));
        bodies.push(transfer(s.product, b, a, 1));
    }
    let results = race(&app, &t.token, bodies).await;
    for (status, body) in &results {
        // A deadlock would surface as a 500 (PostgreSQL aborts one of the two).
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(on_hand(&app, t.id, s.product, a, None).await, 100);
    assert_eq!(on_hand(&app, t.id, s.product, b, None).await, 100);
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_hot_set_of_ten_rows_stays_consistent_under_mixed_load() {
    let (app, t, s) = setup(10).await;
    for bin in &s.bins {
        applied(&app, &t.token, receive(s.product, *bin, 20)).await;
    }
    // A fixed pseudo-random mix (reproducible): transfers in both directions between any
    // two of the ten rows, ships and receipts, 240 requests at once.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n as u64).unwrap()
    };
    let mut bodies = Vec::new();
    for _ in 0..240 {
        let from = s.bins[next(10)];
        let to = s.bins[next(10)];
        let qty = i64::try_from(next(5) + 1).unwrap();
        bodies.push(match next(4) {
            0 => ship(s.product, from, qty),
            1 => receive(s.product, to, qty),
            _ if from != to => transfer(s.product, from, to, qty),
            _ => ship(s.product, from, qty),
        });
    }
    let results = race(&app, &t.token, bodies.clone()).await;
    let mut expected_total = 200;
    for ((status, body), sent) in results.iter().zip(&bodies) {
        match *status {
            StatusCode::CREATED => match sent["kind"].as_str().unwrap() {
                "ship" => expected_total -= sent["qty"].as_i64().unwrap(),
                "receive" => expected_total += sent["qty"].as_i64().unwrap(),
                _ => {}
            },
            StatusCode::CONFLICT => assert_eq!(body["code"], "insufficient_stock", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    let mut total = 0;
    for bin in &s.bins {
        let q = on_hand(&app, t.id, s.product, *bin, None).await;
        assert!(q >= 0, "online movements never oversell: {q}");
        total += q;
    }
    assert_eq!(total, expected_total, "no lost update");
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_bin_cannot_get_a_child_beside_stock_booked_at_the_same_moment() {
    let (app, t, s) = setup(1).await;
    let bin = s.bins[0];
    // The bin's stock row exists (empty), so the receipt goes straight to its locks (inserted
    // first: its foreign key would wait on the bin's lock).
    sqlx::query(
        "insert into stock_row (tenant_id, product_id, location_id, lot_id, warehouse_id)
         values ($1, $2, $3, '00000000-0000-0000-0000-000000000000', $4)",
    )
    .bind(t.id)
    .bind(s.product)
    .bind(bin)
    .bind(s.warehouse)
    .execute(&app.owner)
    .await
    .unwrap();
    // The catalog's "add a child" holds the bin locked and share-locks its stock rows
    // while it checks them for stock; here a transaction plays that part and commits the
    // child while a receipt waits. Its own connection: the owner pool is needed meanwhile.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(app._db.url())
        .await
        .unwrap();
    let mut catalog = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query("select 1 from location where id = $1 for update")
        .bind(bin)
        .execute(&mut *catalog)
        .await
        .unwrap();
    sqlx::query("select 1 from stock_row where location_id = $1 for share")
        .bind(bin)
        .execute(&mut *catalog)
        .await
        .unwrap();
    let request = app
        .client
        .post(app.url("/v1/movements"))
        .header("authorization", bearer(&t.token))
        .json(&receive(s.product, bin, 5));
    let receipt = tokio::spawn(async move { request.send().await.unwrap() });
    let waiting = waits_on_a_lock(&app, "%for update of s%").await;
    assert!(waiting, "the receipt never waited on the row's lock");
    sqlx::query(
        "insert into location (tenant_id, id, warehouse_id, parent_id, code, path, depth)
         values ($1, $2, $3, $4, 'CHILD', 'A/B00/CHILD', 2)",
    )
    .bind(t.id)
    .bind(uuid::Uuid::now_v7())
    .bind(s.warehouse)
    .bind(bin)
    .execute(&mut *catalog)
    .await
    .unwrap();
    catalog.commit().await.unwrap();
    // The receipt read the catalog after its locks: the bin is no longer a leaf.
    problem(
        receipt.await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "location_not_leaf",
    )
    .await;
    assert_eq!(on_hand(&app, t.id, s.product, bin, None).await, 0);
}

/// Waits (bounded) until a statement like `pattern` waits on a lock.
async fn waits_on_a_lock(app: &TestApp, pattern: &str) -> bool {
    for _ in 0..500 {
        let waiting: bool = sqlx::query_scalar(
            "select exists (select 1 from pg_stat_activity
                            where wait_event_type = 'Lock' and query like $1)",
        )
        .bind(pattern)
        .fetch_one(&app.owner)
        .await
        .unwrap();
        if waiting {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_bin_being_filled_cannot_get_a_child_when_the_fill_commits() {
    let (app, t, s) = setup(1).await;
    let bin = s.bins[0];
    sqlx::query(
        "insert into stock_row (tenant_id, product_id, location_id, lot_id, warehouse_id)
         values ($1, $2, $3, '00000000-0000-0000-0000-000000000000', $4)",
    )
    .bind(t.id)
    .bind(s.product)
    .bind(bin)
    .bind(s.warehouse)
    .execute(&app.owner)
    .await
    .unwrap();
    // A movement in flight: it holds the bin's (still empty) row and has booked 5 into
    // it, not yet committed.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(app._db.url())
        .await
        .unwrap();
    let mut movement = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query("update stock_row set on_hand = 5 where location_id = $1")
        .bind(bin)
        .execute(&mut *movement)
        .await
        .unwrap();
    // Giving the bin a child now waits for it, then sees the stock.
    let request = app
        .client
        .post(app.url("/v1/locations"))
        .header("authorization", bearer(&t.token))
        .json(&serde_json::json!({ "parent_id": bin, "code": "CHILD" }));
    let child = tokio::spawn(async move { request.send().await.unwrap() });
    assert!(
        waits_on_a_lock(&app, "%for share%").await,
        "the child's creation never waited on the row being filled"
    );
    movement.commit().await.unwrap();
    problem(
        child.await.unwrap(),
        StatusCode::CONFLICT,
        "location_has_stock",
    )
    .await;
    let children: i64 = sqlx::query_scalar("select count(*) from location where parent_id = $1")
        .bind(bin)
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(children, 0);
}
