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
    empty_row(&app, t.id, &s, bin).await;
    // The catalog's "add a child" holds the bin locked and share-locks its stock rows
    // while it checks them for stock; here a transaction plays that part and commits the
    // child while a receipt waits. Its own connection: the owner pool is needed meanwhile.
    let mut conn = own_connection(&app).await;
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

/// The (empty) stock row of the site's product in `bin`.
async fn empty_row(app: &TestApp, tenant: uuid::Uuid, s: &Site, bin: uuid::Uuid) {
    sqlx::query(
        "insert into stock_row (tenant_id, product_id, location_id, lot_id, warehouse_id)
         values ($1, $2, $3, '00000000-0000-0000-0000-000000000000', $4)",
    )
    .bind(tenant)
    .bind(s.product)
    .bind(bin)
    .bind(s.warehouse)
    .execute(&app.owner)
    .await
    .unwrap();
}

/// A connection of its own to the test database (the owner pool stays free meanwhile),
/// for a transaction that plays another party.
async fn own_connection(app: &TestApp) -> sqlx::PgConnection {
    <sqlx::PgConnection as sqlx::Connection>::connect(app._db.url())
        .await
        .unwrap()
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
    empty_row(&app, t.id, &s, bin).await;
    // A movement in flight: it holds the bin's (still empty) row and has booked 5 into
    // it, not yet committed.
    let mut conn = own_connection(&app).await;
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

/// The value of the group committer's gauge of waiting movements.
async fn movements_waiting(app: &TestApp) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("logiflow_movements_waiting "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Holds the row of `product` in `bin` locked, sends `first` (its batch then waits on the
/// lock), sends `rest` once it waits, and releases the row once all of `rest` wait for
/// the next batch. Returns the answers to `first` and to each of `rest`.
async fn behind_a_locked_row(
    app: &TestApp,
    token: &str,
    (product, bin): (uuid::Uuid, uuid::Uuid),
    first: Value,
    rest: Vec<(Value, Option<&'static str>)>,
) -> ((StatusCode, Value), Vec<(StatusCode, Value)>) {
    let mut conn = own_connection(app).await;
    let mut blocker = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query("select 1 from stock_row where product_id = $1 and location_id = $2 for update")
        .bind(product)
        .bind(bin)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let send = |body: Value, key: Option<&'static str>| {
        let mut request = app
            .client
            .post(app.url("/v1/movements"))
            .header("authorization", bearer(token))
            .json(&body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        tokio::spawn(async move {
            let r = request.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        })
    };
    let first = send(first, None);
    assert!(
        waits_on_a_lock(app, "%for update of s%").await,
        "the first movement never waited on the locked row"
    );
    let n = rest.len();
    let rest: Vec<_> = rest.into_iter().map(|(b, k)| send(b, k)).collect();
    let mut queued = false;
    for _ in 0..1000 {
        if movements_waiting(app).await >= n as f64 {
            queued = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(queued, "the movements never queued behind the first");
    blocker.commit().await.unwrap();
    let first = first.await.unwrap();
    let mut answers = Vec::new();
    for h in rest {
        answers.push(h.await.unwrap());
    }
    (first, answers)
}

#[tokio::test]
async fn movements_waiting_together_commit_together_each_with_its_own_answer() {
    let (app, t, s) = setup(2).await;
    listen(&app, t.id).await;
    let (bin, other) = (s.bins[0], s.bins[1]);
    applied(&app, &t.token, receive(s.product, bin, 5)).await;
    applied(&app, &t.token, receive(s.product, other, 1)).await;
    let mut rest: Vec<(Value, Option<&'static str>)> = vec![(ship(s.product, bin, 2), None); 4];
    rest.push((ship(s.product, other, 5), None));
    rest.push((receive(s.product, other, 2), None));
    let (first, answers) = behind_a_locked_row(
        &app,
        &t.token,
        (s.product, bin),
        receive(s.product, bin, 1),
        rest,
    )
    .await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    // 6 in the bin: three ships of 2 fit, the fourth does not; the other bin never holds 5.
    let ships: Vec<_> = answers[..4].iter().map(|a| a.0).collect();
    assert_eq!(
        ships.iter().filter(|s| **s == StatusCode::CREATED).count(),
        3,
        "{answers:?}"
    );
    for (status, body) in answers[..5].iter().filter(|a| a.0 != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], "insufficient_stock", "{body}");
    }
    assert_eq!(answers[4].0, StatusCode::CONFLICT, "{:?}", answers[4]);
    assert_eq!(answers[5].0, StatusCode::CREATED, "{:?}", answers[5]);
    // The four that were applied, written in one transaction.
    let ids: Vec<uuid::Uuid> = answers
        .iter()
        .filter(|a| a.0 == StatusCode::CREATED)
        .map(|a| a.1["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    let transactions: i64 =
        sqlx::query_scalar("select count(distinct xid) from movement where id = any($1)")
            .bind(&ids)
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert_eq!(
        transactions, 1,
        "the waiting movements were written one by one"
    );
    // Each with its audit entry and outbox event, and the books balance.
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'movement.create' and target_id = any($1)",
    )
    .bind(ids.iter().map(ToString::to_string).collect::<Vec<_>>())
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(audited, 4);
    assert_eq!(on_hand(&app, t.id, s.product, bin, None).await, 0);
    assert_eq!(on_hand(&app, t.id, s.product, other, None).await, 3);
    assert_eq!(count(&app, "movement", t.id).await, 2 + 1 + 4);
    assert_eq!(count(&app, "outbox_event", t.id).await, 2 + 1 + 4);
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_batch_that_fails_as_a_whole_is_recorded_one_by_one() {
    let (app, t, s) = setup(2).await;
    let (bin, other) = (s.bins[0], s.bins[1]);
    applied(&app, &t.token, receive(s.product, bin, 5)).await;
    // The same Idempotency-Key twice in one batch (a client retrying while its first
    // request waits): the batch's insert of the keys fails, then each is recorded on its
    // own and the second answers what the first recorded.
    let key = Some("retry-of-the-same-receipt");
    let (first, answers) = behind_a_locked_row(
        &app,
        &t.token,
        (s.product, bin),
        ship(s.product, bin, 1),
        vec![
            (receive(s.product, other, 3), key),
            (ship(s.product, bin, 1), None),
            (receive(s.product, other, 3), key),
        ],
    )
    .await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(answers[0].1["id"], answers[2].1["id"]);
    assert_eq!(on_hand(&app, t.id, s.product, other, None).await, 3);
    assert_eq!(on_hand(&app, t.id, s.product, bin, None).await, 3);
    assert_eq!(count(&app, "movement", t.id).await, 1 + 1 + 2);
    assert_ledger(&app, t.id).await;
}

/// The leader of a batch is the request that got the tenant's lock first; its client
/// going away (its future dropped) while its batch runs must not lose the batch: its own
/// movement is still written (it may have been committed already, the client just never
/// heard), and the movements queued behind it are still answered.
#[tokio::test]
async fn a_leader_dropped_mid_batch_still_writes_its_batch_and_the_next_is_answered() {
    use logiflow_core::{LocationId, MovementKind, PositiveQty, TenantId};
    let (app, t, s) = setup(1).await;
    let bin = s.bins[0];
    applied(&app, &t.token, receive(s.product, bin, 10)).await;
    let pool = sqlx::PgPool::connect(&app_database_url(&app))
        .await
        .unwrap();
    let committer = std::sync::Arc::new(logiflow_server::group_commit::Committer::default());
    let ship = |qty| {
        online_job(
            &t.token,
            t.id,
            s.product,
            MovementKind::Ship {
                from: LocationId::from_uuid(bin),
                qty: PositiveQty::new(qty).unwrap(),
            },
        )
    };
    let send = |job| {
        let (committer, pool) = (committer.clone(), pool.clone());
        tokio::spawn(async move {
            committer
                .record(&pool, TenantId::from_uuid(t.id), job)
                .await
        })
    };

    let mut conn = own_connection(&app).await;
    let mut blocker = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query("select 1 from stock_row where product_id = $1 and location_id = $2 for update")
        .bind(s.product)
        .bind(bin)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let leader = send(ship(1));
    assert!(
        waits_on_a_lock(&app, "%for update of s%").await,
        "the leader's batch never waited on the locked row"
    );
    let follower = send(ship(2));
    let mut queued = false;
    for _ in 0..1000 {
        if movements_waiting(&app).await >= 1.0 {
            queued = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(queued, "the second movement never queued behind the leader");
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    blocker.commit().await.unwrap();

    let answer = follower.await.unwrap().expect("the follower is recorded");
    assert_eq!(answer.json["outcome"], "applied");
    // Both ships are written: 10 - 1 - 2.
    assert_eq!(count(&app, "movement", t.id).await, 3);
    assert_eq!(on_hand(&app, t.id, s.product, bin, None).await, 7);
    assert_ledger(&app, t.id).await;
}
