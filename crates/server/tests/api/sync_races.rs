//! Held movements under concurrency (issue #20): every pair of paths that decides held
//! movements — push/push, push/online, push/force, push/void, force/online — interleaved
//! at the dangerous point with the server's pause hooks (`logiflow_server::hooks`), not
//! with sleeps: one side stops after it read what it needs and before it locks its rows,
//! the other runs to its end, then the first goes on. After each: outcomes agree with the
//! ledger (`assert_ledger`), nothing is held that could apply, and no answer is an
//! error. Then a stress run of concurrent pushes and forces that must end without a
//! deadlock, a 5xx or a held movement whose effect is in the ledger.

use std::time::Duration;

use logiflow_core::{MovementId, MovementKind, TenantId};
use logiflow_server::hooks::{self, Paused};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;
use crate::sync_push::{Dev, ago, loc, q, register};

struct Race {
    app: TestApp,
    t: Tenant,
    s: Site,
    shipper: Dev,
    receiver: Dev,
}

async fn race() -> Race {
    let app = spawn_app_with(|c| c.db_max_connections = 10).await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s = site(&app, t.id, 2).await;
    let shipper = register(&app, &t.token, &[s.warehouse]).await;
    let receiver = register(&app, &t.token, &[s.warehouse]).await;
    Race {
        app,
        t,
        s,
        shipper,
        receiver,
    }
}

impl Race {
    fn tenant(&self) -> TenantId {
        TenantId::from_uuid(self.t.id)
    }

    fn bin(&self) -> Uuid {
        self.s.bins[0]
    }

    /// A journal ship of `qty` from the bin, `minutes` ago.
    fn ship(&mut self, minutes: i64, qty: i64) -> logiflow_core::Movement {
        let bin = loc(self.bin());
        self.shipper.entry(
            ago(minutes),
            self.s.product,
            None,
            MovementKind::Ship {
                from: bin,
                qty: q(qty),
            },
        )
    }

    /// A journal receipt of `qty` into the bin, `minutes` ago.
    fn receipt(&mut self, minutes: i64, qty: i64) -> logiflow_core::Movement {
        let bin = loc(self.bin());
        self.receiver.entry(
            ago(minutes),
            self.s.product,
            None,
            MovementKind::Receive {
                to: bin,
                qty: q(qty),
            },
        )
    }

    async fn on_hand(&self) -> i64 {
        on_hand(&self.app, self.t.id, self.s.product, self.bin(), None).await
    }

    /// A movement's stored outcome and how many ledger effects it has.
    async fn stored(&self, id: MovementId) -> (String, i64) {
        sqlx::query_as(
            "select m.outcome, (select count(*) from movement_effect e
                                where e.tenant_id = m.tenant_id and e.movement_id = m.id)
             from movement m where m.tenant_id = $1 and m.id = $2",
        )
        .bind(self.t.id)
        .bind(id.as_uuid())
        .fetch_one(&self.app.owner)
        .await
        .unwrap()
    }

    /// Sends a request in a task of its own (it may stop at a pause point).
    fn spawn_post(&self, path: &str, token: &str, body: Value) -> JoinHandle<(StatusCode, Value)> {
        let request = self
            .app
            .client
            .post(self.app.url(path))
            .header("authorization", bearer(token))
            .json(&body);
        tokio::spawn(async move {
            let r = request.send().await.unwrap();
            let status = r.status();
            (status, r.json().await.unwrap_or(Value::Null))
        })
    }

    fn spawn_push(
        &self,
        dev: &Dev,
        ms: &[logiflow_core::Movement],
    ) -> JoinHandle<(StatusCode, Value)> {
        self.spawn_post("/v1/sync/push", &dev.token, dev.request(ms))
    }
}

/// Waits until the paused side stands at its point (bounded: a side that never gets
/// there fails the test instead of hanging it).
async fn arrived(p: &mut Paused) {
    tokio::time::timeout(Duration::from_secs(30), p.arrived())
        .await
        .expect("the paused side never reached its pause point");
}

async fn ok(h: JoinHandle<(StatusCode, Value)>) -> Value {
    let (status, v) = h.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

fn outcome(push: &Value, i: usize) -> &str {
    push["results"][i]["outcome"]["outcome"].as_str().unwrap()
}

/// The race of the issue, deterministic: the receiving device's push has read what it
/// needs and waits for its locks while the shipping device pushes a ship that the
/// receipt physically preceded. The receipt must wake it. (Before the fix, the push read
/// the held movements before it locked the rows, so it missed the ship, raised the row,
/// and left the ship held on a bin that held 5.)
#[tokio::test]
async fn a_push_waiting_for_its_locks_wakes_what_another_push_just_held() {
    let mut r = race().await;
    let receipt = r.receipt(10, 5);
    let ship = r.ship(5, 3);
    let mut paused = hooks::pause_next(r.tenant(), hooks::PUSH_LOCKING);
    let receiving = r.spawn_push(&r.receiver, &[receipt]);
    arrived(&mut paused).await;
    let shipped = r.shipper.push(&r.app, &[ship]).await;
    assert_eq!(outcome(&shipped, 0), "held");
    paused.resume();
    let received = ok(receiving).await;
    assert_eq!(outcome(&received, 0), "applied");
    assert_eq!(r.stored(ship.id).await, ("applied".to_owned(), 1));
    assert_eq!(r.on_hand().await, 2);
    assert_ledger(&r.app, r.t.id).await;
}

/// push/force and push/void: a manager resolves the held ship while the receipt's push
/// waits for its locks; the push must not decide it again. Before the fix, a forced ship
/// was applied a second time (a unique violation answered `409 conflict`) and a voided
/// one ended `voided` with its −3 in the ledger.
#[tokio::test]
async fn a_push_does_not_decide_again_what_a_manager_resolved_meanwhile() {
    // (resolution, on hand right after it, the ship's final outcome and effects, final on hand)
    for (path, after_resolution, stored, end) in [
        ("force", -3, ("applied", 1), 2),
        ("void", 0, ("voided", 0), 5),
    ] {
        let mut r = race().await;
        let ship = r.ship(5, 3);
        let receipt = r.receipt(10, 5);
        assert_eq!(outcome(&r.shipper.push(&r.app, &[ship]).await, 0), "held");
        let mut paused = hooks::pause_next(r.tenant(), hooks::PUSH_LOCKING);
        let receiving = r.spawn_push(&r.receiver, &[receipt]);
        arrived(&mut paused).await;
        let resolved = r
            .app
            .post(
                &format!("/v1/movements/{}/{path}", ship.id),
                &r.t.token,
                json!({"reason": "manager"}),
            )
            .await;
        assert_eq!(resolved.status(), StatusCode::OK, "{path}");
        assert_eq!(r.on_hand().await, after_resolution, "{path}");
        paused.resume();
        assert_eq!(outcome(&ok(receiving).await, 0), "applied", "{path}");
        assert_eq!(
            r.stored(ship.id).await,
            (stored.0.to_owned(), stored.1),
            "{path}"
        );
        assert_eq!(r.on_hand().await, end, "{path}");
        assert_ledger(&r.app, r.t.id).await;
    }
}

/// force/push and void/push, the other way round: the resolution has found the ship
/// held and waits for its locks while the receipt's push applies it. The resolution then
/// answers `409 conflict` (it is applied now) and changes nothing.
#[tokio::test]
async fn a_resolution_waiting_for_its_locks_finds_the_movement_decided_meanwhile() {
    for path in ["force", "void"] {
        let mut r = race().await;
        let ship = r.ship(5, 3);
        let receipt = r.receipt(10, 5);
        assert_eq!(outcome(&r.shipper.push(&r.app, &[ship]).await, 0), "held");
        let point = if path == "force" {
            hooks::FORCE_LOCKING
        } else {
            hooks::VOID_LOCKING
        };
        let mut paused = hooks::pause_next(r.tenant(), point);
        let resolving = r.spawn_post(
            &format!("/v1/movements/{}/{path}", ship.id),
            &r.t.token,
            json!({"reason": "manager"}),
        );
        arrived(&mut paused).await;
        let received = r.receiver.push(&r.app, &[receipt]).await;
        assert_eq!(outcome(&received, 0), "applied");
        paused.resume();
        let (status, v) = resolving.await.unwrap();
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {v}");
        assert_eq!(v["code"], "conflict");
        assert_eq!(r.stored(ship.id).await, ("applied".to_owned(), 1), "{path}");
        assert_eq!(r.on_hand().await, 2, "{path}");
        assert_ledger(&r.app, r.t.id).await;
    }
}

/// push/online: an online count's retry of the held movements it absorbs waits for its
/// locks while a push applies a receipt the count already saw; and force/online: a force
/// waits for its locks while an online count absorbs the movement it forces.
#[tokio::test]
async fn online_counts_race_pushes_and_forces_without_losing_or_doubling_anything() {
    // push/online.
    let mut r = race().await;
    let ship = r.ship(5, 3);
    let receipt = r.receipt(10, 5);
    assert_eq!(outcome(&r.shipper.push(&r.app, &[ship]).await, 0), "held");
    let mut paused = hooks::pause_next(r.tenant(), hooks::RETRY_LOCKING);
    let counting = r.spawn_post(
        "/v1/movements",
        &r.t.token,
        json!({"kind": "count", "product_id": r.s.product, "location_id": r.bin(), "counted": 7}),
    );
    arrived(&mut paused).await;
    // The receipt happened before the count: the count saw it (absorbed).
    let received = r.receiver.push(&r.app, &[receipt]).await;
    assert_eq!(outcome(&received, 0), "absorbed");
    paused.resume();
    let (status, v) = counting.await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{v}");
    // The ship happened before the count too: absorbed by it, and the bin holds 7.
    assert_eq!(r.stored(ship.id).await, ("absorbed".to_owned(), 0));
    assert_eq!(r.on_hand().await, 7);
    assert_ledger(&r.app, r.t.id).await;

    // force/online.
    let mut r = race().await;
    let ship = r.ship(5, 3);
    assert_eq!(outcome(&r.shipper.push(&r.app, &[ship]).await, 0), "held");
    let mut paused = hooks::pause_next(r.tenant(), hooks::FORCE_LOCKING);
    let forcing = r.spawn_post(
        &format!("/v1/movements/{}/force", ship.id),
        &r.t.token,
        json!({"reason": "it left"}),
    );
    arrived(&mut paused).await;
    applied(
        &r.app,
        &r.t.token,
        json!({"kind": "count", "product_id": r.s.product, "location_id": r.bin(), "counted": 4}),
    )
    .await;
    paused.resume();
    let (status, v) = forcing.await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(r.stored(ship.id).await, ("absorbed".to_owned(), 0));
    assert_eq!(r.on_hand().await, 4);
    assert_ledger(&r.app, r.t.id).await;
}

/// The second scenario, bounded: ships held on an empty bin, a manager forcing
/// each of them while the receiving device pushes the receipts that cover them (batches
/// of 5), all at once. No deadlock, no 5xx, no unique violation; every ship ends applied
/// exactly once (forced, or woken by its receipt); the bin ends at the truth.
#[tokio::test]
async fn forces_and_pushes_at_the_same_moment_never_deadlock_or_double_a_movement() {
    const SHIPS: usize = 40;
    let mut r = race().await;
    let ships: Vec<_> = (0..SHIPS).map(|i| r.ship(100 - i as i64, 1)).collect();
    for chunk in ships.chunks(10) {
        r.shipper.push(&r.app, chunk).await;
    }
    // The receipts physically came first (older than every ship).
    let receipts: Vec<_> = (0..SHIPS).map(|i| r.receipt(300 - i as i64, 1)).collect();
    let mut tasks = Vec::new();
    let pushes = {
        let batches: Vec<Value> = receipts.chunks(5).map(|c| r.receiver.request(c)).collect();
        let client = r.app.client.clone();
        let url = r.app.url("/v1/sync/push");
        let token = r.receiver.token.clone();
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for body in batches {
                let resp = client
                    .post(&url)
                    .header("authorization", bearer(&token))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                statuses.push(resp.status());
            }
            statuses
        })
    };
    for ship in &ships {
        tasks.push(r.spawn_post(
            &format!("/v1/movements/{}/force", ship.id),
            &r.t.token,
            json!({"reason": "shipped"}),
        ));
    }
    for status in pushes.await.unwrap() {
        assert_eq!(status, StatusCode::OK);
    }
    for t in tasks {
        let (status, v) = t.await.unwrap();
        // Forced, or already applied by its receipt when the force got its locks.
        assert!(
            status == StatusCode::OK || (status == StatusCode::CONFLICT && v["code"] == "conflict"),
            "{status}: {v}"
        );
    }
    for ship in &ships {
        assert_eq!(r.stored(ship.id).await, ("applied".to_owned(), 1));
    }
    assert_eq!(r.on_hand().await, 0);
    assert_ledger(&r.app, r.t.id).await;
    // Nothing left for a person: no movement is held.
    let held: i64 = sqlx::query_scalar(
        "select count(*) from movement where tenant_id = $1 and outcome = 'held'",
    )
    .bind(r.t.id)
    .fetch_one(&r.app.owner)
    .await
    .unwrap();
    assert_eq!(held, 0);
}

/// The one-off repair of databases written before the fix (migration `held_waiting`,
/// function `repair_movement_outcomes`): a movement left `held` or `voided` with its
/// effect in the ledger becomes `applied`, flagged `outcome_repaired` with the outcome it
/// had (so a person sees it in the inbox); the stock is not touched; a consistent
/// movement is left alone.
#[tokio::test]
async fn the_repair_makes_outcomes_agree_with_the_ledger_without_touching_stock() {
    let mut r = race().await;
    let held = r.ship(5, 3);
    let voided = r.ship(4, 2);
    let fine = r.ship(3, 1);
    let pushed = r.shipper.push(&r.app, &[held, voided, fine]).await;
    assert_eq!(outcome(&pushed, 2), "held");
    r.app
        .post(
            &format!("/v1/movements/{}/void", voided.id),
            &r.t.token,
            json!({"reason": "x"}),
        )
        .await;
    // What the race used to leave behind: their effects booked, the outcomes not.
    for (m, delta) in [(held, -3), (voided, -2)] {
        sqlx::query(
            "insert into movement_effect (tenant_id, product_id, location_id, lot_id, occurred_at, movement_id, delta)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.t.id)
        .bind(r.s.product)
        .bind(r.bin())
        .bind(Uuid::nil())
        .bind(m.occurred_at)
        .bind(m.id.as_uuid())
        .bind(delta)
        .execute(&r.app.owner)
        .await
        .unwrap();
    }
    sqlx::query(
        "update stock_row set on_hand = -5 where tenant_id = $1 and product_id = $2 and location_id = $3",
    )
    .bind(r.t.id)
    .bind(r.s.product)
    .bind(r.bin())
    .execute(&r.app.owner)
    .await
    .unwrap();
    assert_eq!(
        logiflow_testkit::outcome_violations(&r.app.owner, r.t.id)
            .await
            .len(),
        2
    );
    let repaired: i64 = sqlx::query_scalar("select repair_movement_outcomes()")
        .fetch_one(&r.app.owner)
        .await
        .unwrap();
    assert_eq!(repaired, 2);
    assert_eq!(r.stored(held.id).await, ("applied".to_owned(), 1));
    assert_eq!(r.stored(voided.id).await, ("applied".to_owned(), 1));
    assert_eq!(r.stored(fine.id).await, ("held".to_owned(), 0));
    let flags: Vec<Value> = sqlx::query_scalar(
        "select flags from movement where tenant_id = $1 and id = any($2) order by occurred_at",
    )
    .bind(r.t.id)
    .bind(vec![held.id.as_uuid(), voided.id.as_uuid()])
    .fetch_all(&r.app.owner)
    .await
    .unwrap();
    assert_eq!(
        flags[0],
        json!([{"flag": "outcome_repaired", "was": "held"}])
    );
    assert_eq!(
        flags[1],
        json!([{"flag": "outcome_repaired", "was": "voided"}])
    );
    assert_eq!(r.on_hand().await, -5);
    assert_ledger(&r.app, r.t.id).await;
    // The app's role cannot run it.
    let mut conn = app_role_connection(&r.app, r.t.id).await;
    assert!(
        sqlx::query("select repair_movement_outcomes()")
            .execute(&mut conn)
            .await
            .is_err()
    );
}
