//! Devices and `POST /v1/sync/push`: registration, quota and revocation; journal batches
//! decided under the rows' locks (applied, held then applied by a later receipt,
//! absorbed by a count, rejected and kept), idempotent re-sends, gaps, oversized batches,
//! read-only tenants.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use logiflow_core::{
    DeviceId, DeviceStamp, LocationId, LotId, Movement, MovementId, MovementKind, PositiveQty,
    ProductId, PushRequest, PushedMovement, Qty, UserId,
};
use logiflow_server::admin;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;

/// A registered device with its own access token.
pub struct Dev {
    pub id: Uuid,
    pub token: String,
    pub refresh: String,
    pub user: Uuid,
    next_seq: u64,
}

pub async fn register(app: &TestApp, token: &str, warehouses: &[Uuid]) -> Dev {
    let r = app
        .post(
            "/v1/devices",
            token,
            json!({"name": "Dock scanner", "platform": "linux", "warehouse_ids": warehouses}),
        )
        .await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id: Uuid = v["device"]["id"].as_str().unwrap().parse().unwrap();
    // Registered two days ago: the tests date journal entries minutes to a day back,
    // and a movement dated before its device's registration is flagged for review
    // (`dated_before_device`, tested in `sync_clock`).
    sqlx::query("update device set created_at = created_at - interval '2 days' where id = $1")
        .bind(id)
        .execute(&app.owner)
        .await
        .unwrap();
    Dev {
        id,
        token: v["tokens"]["access_token"].as_str().unwrap().to_owned(),
        refresh: v["tokens"]["refresh_token"].as_str().unwrap().to_owned(),
        user: v["device"]["user_id"].as_str().unwrap().parse().unwrap(),
        next_seq: 1,
    }
}

/// A time `minutes` ago, to the microsecond.
pub fn ago(minutes: i64) -> DateTime<Utc> {
    (Utc::now() - Duration::minutes(minutes)).trunc_subsecs(6)
}

impl Dev {
    /// Stamps `kind` as this device's next journal entry.
    pub fn entry(
        &mut self,
        at: DateTime<Utc>,
        product: Uuid,
        lot: Option<Uuid>,
        kind: MovementKind,
    ) -> Movement {
        let m = Movement {
            id: MovementId::from_uuid(Uuid::now_v7()),
            occurred_at: at,
            product: ProductId::from_uuid(product),
            lot: lot.map(LotId::from_uuid),
            kind,
            user: UserId::from_uuid(self.user),
            device: Some(DeviceStamp {
                device: DeviceId::from_uuid(self.id),
                seq: self.next_seq,
            }),
            reference: None,
        };
        self.next_seq += 1;
        m
    }

    pub fn request(&self, movements: &[Movement]) -> Value {
        serde_json::to_value(PushRequest {
            device: DeviceId::from_uuid(self.id),
            lots: Vec::new(),
            movements: movements
                .iter()
                .map(|m| PushedMovement {
                    movement: *m,
                    base_cursor: None,
                })
                .collect(),
        })
        .unwrap()
    }

    /// Pushes and expects 200; returns the response.
    pub async fn push(&self, app: &TestApp, movements: &[Movement]) -> Value {
        let r = app
            .post("/v1/sync/push", &self.token, self.request(movements))
            .await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }
}

pub fn loc(id: Uuid) -> LocationId {
    LocationId::from_uuid(id)
}

pub fn q(n: i64) -> PositiveQty {
    PositiveQty::new(n).unwrap()
}

fn outcomes(response: &Value) -> Vec<String> {
    response["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"]["outcome"].as_str().unwrap().to_owned())
        .collect()
}

async fn setup() -> (TestApp, Tenant, Site, Dev) {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s = site(&app, t.id, 3).await;
    let d = register(&app, &t.token, &[s.warehouse]).await;
    (app, t, s, d)
}

#[tokio::test]
async fn a_device_registers_signs_in_and_can_be_revoked() {
    let (app, t, s, d) = setup().await;
    // Its session works like a person's: the access token, and a rotating refresh token.
    let me: Value = app.get("/v1/me", &d.token).await.json().await.unwrap();
    assert_eq!(me["actor_id"], t.admin_id.to_string());
    let r = app
        .client
        .post(app.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": d.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let list: Value = app.get("/v1/devices", &t.token).await.json().await.unwrap();
    assert_eq!(list["items"][0]["id"], d.id.to_string());
    assert_eq!(list["items"][0]["warehouse_ids"], json!([s.warehouse]));
    assert_eq!(list["items"][0]["next_seq"], 1);

    // Bad registrations.
    for (body, status, code) in [
        (
            json!({"name": "", "platform": "linux", "warehouse_ids": [s.warehouse]}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"name": "x", "platform": "linux", "warehouse_ids": []}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"name": "x", "platform": "linux", "warehouse_ids": [Uuid::now_v7()]}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"name": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ] {
        problem(app.post("/v1/devices", &t.token, body).await, status, code).await;
    }
    // Viewers do not record movements, keys are not people, operators do not manage.
    let (_, viewer) = app.user(&t, "v@acme.example", "viewer").await;
    let body = json!({"name": "x", "platform": "linux", "warehouse_ids": [s.warehouse]});
    problem(
        app.post("/v1/devices", &viewer, body.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let (_, key) = app.api_key(&t, "k", &["movements_write"]).await;
    let r = app
        .client
        .post(app.url("/v1/devices"))
        .header("authorization", format!("ApiKey {key}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let (_, operator) = app.user(&t, "o@acme.example", "operator").await;
    problem(
        app.get("/v1/devices", &operator).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Revoked: its token stops at once, with a code that says why; the refresh fails.
    let r = app.delete(&format!("/v1/devices/{}", d.id), &t.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut d = d;
    let m = d.entry(
        ago(5),
        s.product,
        None,
        MovementKind::Receive {
            to: loc(s.bins[0]),
            qty: q(1),
        },
    );
    let r = app.post("/v1/sync/push", &d.token, d.request(&[m])).await;
    problem(r, StatusCode::UNAUTHORIZED, "device_revoked").await;
    let r = app
        .client
        .post(app.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": d.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    problem(
        app.delete(&format!("/v1/devices/{}", Uuid::now_v7()), &t.token)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where tenant_id = $1 and action in ('device.register', 'device.revoke')",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn the_plan_limits_active_devices_and_an_expired_tenant_can_still_revoke() {
    let app = spawn_app().await;
    app.plan("two-devices", 10, 1000).await;
    sqlx::query("update plan set max_devices = 2 where code = 'two-devices'")
        .execute(&app.owner)
        .await
        .unwrap();
    let t = app.tenant("acme", "two-devices").await;
    let s = site(&app, t.id, 1).await;
    let d1 = register(&app, &t.token, &[s.warehouse]).await;
    register(&app, &t.token, &[s.warehouse]).await;
    let body = json!({"name": "x", "platform": "linux", "warehouse_ids": [s.warehouse]});
    let v = problem(
        app.post("/v1/devices", &t.token, body.clone()).await,
        StatusCode::FORBIDDEN,
        "quota_exceeded",
    )
    .await;
    assert_eq!(v["limit"], 2);
    // A revoked device frees its place.
    app.delete(&format!("/v1/devices/{}", d1.id), &t.token)
        .await;
    assert_eq!(
        app.post("/v1/devices", &t.token, body.clone())
            .await
            .status(),
        StatusCode::CREATED
    );

    admin::tenant_expire(&app.owner, "acme").await.unwrap();
    problem(
        app.post("/v1/devices", &t.token, body).await,
        StatusCode::FORBIDDEN,
        "subscription_expired",
    )
    .await;
    let list: Value = app.get("/v1/devices", &t.token).await.json().await.unwrap();
    let active = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["revoked"] == false)
        .unwrap();
    let r = app
        .delete(
            &format!("/v1/devices/{}", active["id"].as_str().unwrap()),
            &t.token,
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "revoking only takes access away"
    );
}

#[tokio::test]
async fn a_journal_batch_is_decided_in_order_and_resending_it_changes_nothing() {
    let (app, t, s, mut d) = setup().await;
    let (b0, b1) = (s.bins[0], s.bins[1]);
    let batch = vec![
        d.entry(
            ago(50),
            s.product,
            None,
            MovementKind::Receive {
                to: loc(b0),
                qty: q(10),
            },
        ),
        d.entry(
            ago(40),
            s.product,
            None,
            MovementKind::Transfer {
                from: loc(b0),
                to: loc(b1),
                qty: q(4),
            },
        ),
        d.entry(
            ago(30),
            s.product,
            None,
            MovementKind::Ship {
                from: loc(b1),
                qty: q(1),
            },
        ),
        d.entry(
            ago(20),
            s.product,
            None,
            MovementKind::Count {
                at: loc(b0),
                counted: Qty::new(5).unwrap(),
                expected: Some(Qty::new(7).unwrap()),
            },
        ),
        // Unknown product: rejected with its code, and kept.
        d.entry(
            ago(10),
            Uuid::now_v7(),
            None,
            MovementKind::Receive {
                to: loc(b0),
                qty: q(1),
            },
        ),
    ];
    let first = d.push(&app, &batch).await;
    assert_eq!(
        outcomes(&first),
        ["applied", "applied", "applied", "applied", "rejected"]
    );
    assert_eq!(first["next_seq"], 6);
    assert_eq!(first["results"][3]["flags"][0]["flag"], "count_variance");
    assert_eq!(first["results"][4]["outcome"]["code"], "unknown_product");
    assert!(first["results"][0]["position"].is_u64());
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 5);
    assert_eq!(on_hand(&app, t.id, s.product, b1, None).await, 3);
    assert_eq!(
        count(&app, "movement", t.id).await,
        5,
        "the rejected one is kept"
    );
    assert_ledger(&app, t.id).await;

    // The whole batch again (a lost response): the same results, nothing booked twice.
    let again = d.push(&app, &batch).await;
    assert_eq!(again["results"], first["results"]);
    assert_eq!(again["next_seq"], 6);
    assert_eq!(count(&app, "movement", t.id).await, 5);
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 5);
    // Part re-sent, part new.
    let next = d.entry(
        ago(5),
        s.product,
        None,
        MovementKind::Ship {
            from: loc(b0),
            qty: q(2),
        },
    );
    let mixed = d.push(&app, &[batch[4], next]).await;
    assert_eq!(outcomes(&mixed), ["rejected", "applied"]);
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 3);
    // The movements read back through the history, as journal facts of the device.
    let history: Value = app
        .get(&format!("/v1/movements?device_id={}", d.id), &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["items"].as_array().unwrap().len(), 6);
    assert!(
        history["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["origin"] == "journal")
    );
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_ship_held_for_a_late_receipt_is_applied_when_it_arrives() {
    let (app, t, s, mut d) = setup().await;
    let mut other = register(&app, &t.token, &[s.warehouse]).await;
    let b0 = s.bins[0];
    // Device A shipped 5 (at t2) of goods that device B received (at t1) but has not
    // pushed yet: held, not refused, and nothing happens to the row.
    let ship = d.entry(
        ago(10),
        s.product,
        None,
        MovementKind::Ship {
            from: loc(b0),
            qty: q(5),
        },
    );
    let r = d.push(&app, &[ship]).await;
    assert_eq!(outcomes(&r), ["held"]);
    assert_eq!(r["results"][0]["outcome"]["needed"], 5);
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 0);
    let held: Value = app
        .get("/v1/movements?outcome=held", &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["items"][0]["id"], ship.id.to_string());

    let receipt = other.entry(
        ago(20),
        s.product,
        None,
        MovementKind::Receive {
            to: loc(b0),
            qty: q(8),
        },
    );
    let r = other.push(&app, &[receipt]).await;
    assert_eq!(outcomes(&r), ["applied"]);
    // The retry ran in the same transaction: the ship is applied, the row is 3.
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 3);
    let m: Value = app
        .get(&format!("/v1/movements/{}", ship.id), &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["outcome"], "applied");
    // Device A re-sending learns the new outcome.
    let r = d.push(&app, &[ship]).await;
    assert_eq!(outcomes(&r), ["applied"]);
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_late_movement_before_a_count_is_absorbed_by_it() {
    let (app, t, s, mut d) = setup().await;
    let mut other = register(&app, &t.token, &[s.warehouse]).await;
    let b0 = s.bins[0];
    // B received 10 at t0 and counted 7 at t2; A's ship of 3 at t1 (before the count)
    // arrives later: the count already saw it, so the row stays what was counted.
    let receipt = other.entry(
        ago(30),
        s.product,
        None,
        MovementKind::Receive {
            to: loc(b0),
            qty: q(10),
        },
    );
    let count = other.entry(
        ago(10),
        s.product,
        None,
        MovementKind::Count {
            at: loc(b0),
            counted: Qty::new(7).unwrap(),
            expected: None,
        },
    );
    assert_eq!(
        outcomes(&other.push(&app, &[receipt, count]).await),
        ["applied", "applied"]
    );
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 7);
    let ship = d.entry(
        ago(20),
        s.product,
        None,
        MovementKind::Ship {
            from: loc(b0),
            qty: q(3),
        },
    );
    let r = d.push(&app, &[ship]).await;
    assert_eq!(outcomes(&r), ["absorbed"]);
    assert_eq!(on_hand(&app, t.id, s.product, b0, None).await, 7);
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn gaps_oversized_batches_and_foreign_stamps_are_refused_whole() {
    let (app, t, s, mut d) = setup().await;
    let b0 = s.bins[0];
    let first = d.entry(
        ago(9),
        s.product,
        None,
        MovementKind::Receive {
            to: loc(b0),
            qty: q(1),
        },
    );
    let _lost = d.entry(
        ago(8),
        s.product,
        None,
        MovementKind::Receive {
            to: loc(b0),
            qty: q(1),
        },
    );
    let third = d.entry(
        ago(7),
        s.product,
        None,
        MovementKind::Receive {
            to: loc(b0),
            qty: q(1),
        },
    );
    // Starting at 3 when the server expects 1.
    let v = problem(
        app.post("/v1/sync/push", &d.token, d.request(&[third]))
            .await,
        StatusCode::CONFLICT,
        "sequence_gap",
    )
    .await;
    assert_eq!(v["next_seq"], 1);
    // 1 then 3 inside one batch.
    problem(
        app.post("/v1/sync/push", &d.token, d.request(&[first, third]))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_eq!(
        count(&app, "movement", t.id).await,
        0,
        "nothing of a refused batch is kept"
    );

    let mut big = Vec::new();
    for _ in 0..1001 {
        big.push(d.entry(
            ago(6),
            s.product,
            None,
            MovementKind::Receive {
                to: loc(b0),
                qty: q(1),
            },
        ));
    }
    problem(
        app.post("/v1/sync/push", &d.token, d.request(&big)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch_too_large",
    )
    .await;

    // Another device's stamp, or a person's session instead of a device's.
    let other = register(&app, &t.token, &[s.warehouse]).await;
    problem(
        app.post("/v1/sync/push", &other.token, d.request(&[first]))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    problem(
        app.post("/v1/sync/push", &t.token, d.request(&[first]))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // A different movement under an already used sequence number.
    d.push(&app, &[first]).await;
    let mut impostor = first;
    impostor.id = MovementId::from_uuid(Uuid::now_v7());
    problem(
        app.post("/v1/sync/push", &d.token, d.request(&[impostor]))
            .await,
        StatusCode::CONFLICT,
        "sequence_conflict",
    )
    .await;
    assert_eq!(count(&app, "movement", t.id).await, 1);
}

#[tokio::test]
async fn an_expired_tenant_refuses_pushes_and_the_journal_goes_through_after_renewal() {
    let (app, t, s, mut d) = setup().await;
    let m = d.entry(
        ago(5),
        s.product,
        None,
        MovementKind::Receive {
            to: loc(s.bins[0]),
            qty: q(4),
        },
    );
    admin::tenant_expire(&app.owner, "acme").await.unwrap();
    problem(
        app.post("/v1/sync/push", &d.token, d.request(&[m])).await,
        StatusCode::FORBIDDEN,
        "subscription_expired",
    )
    .await;
    assert_eq!(count(&app, "movement", t.id).await, 0);
    sqlx::query(
        "update tenant set subscription_expires_at = now() + interval '30 days' where id = $1",
    )
    .bind(t.id)
    .execute(&app.owner)
    .await
    .unwrap();
    assert_eq!(outcomes(&d.push(&app, &[m]).await), ["applied"]);
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[0], None).await, 4);
}

#[tokio::test]
async fn the_conflict_inbox_lists_what_to_review_and_a_manager_forces_a_held_movement() {
    let (app, t, s, mut d) = setup().await;
    let (a, b) = (s.bins[0], s.bins[1]);
    // Held: a ship from B (empty; it happened after the transfer below) and a transfer
    // A→B (A empty); a rejected entry; an applied count with a variance; an applied
    // receipt elsewhere (nothing to review).
    let ship = d.entry(
        ago(5),
        s.product,
        None,
        MovementKind::Ship {
            from: loc(b),
            qty: q(3),
        },
    );
    let moved = d.entry(
        ago(20),
        s.product,
        None,
        MovementKind::Transfer {
            from: loc(a),
            to: loc(b),
            qty: q(5),
        },
    );
    let bad = d.entry(
        ago(15),
        Uuid::now_v7(),
        None,
        MovementKind::Receive {
            to: loc(a),
            qty: q(1),
        },
    );
    let receipt = d.entry(
        ago(12),
        s.product,
        None,
        MovementKind::Receive {
            to: loc(s.bins[2]),
            qty: q(4),
        },
    );
    let counted = d.entry(
        ago(10),
        s.product,
        None,
        MovementKind::Count {
            at: loc(s.bins[2]),
            counted: Qty::new(4).unwrap(),
            expected: Some(Qty::new(9).unwrap()),
        },
    );
    let r = d.push(&app, &[ship, moved, bad, receipt, counted]).await;
    assert_eq!(
        outcomes(&r),
        ["held", "held", "rejected", "applied", "applied"]
    );

    let inbox: Value = app
        .get("/v1/movements?review=true", &t.token)
        .await
        .json()
        .await
        .unwrap();
    let mut ids: Vec<&str> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![
        ship.id.to_string(),
        moved.id.to_string(),
        bad.id.to_string(),
        counted.id.to_string(),
    ];
    want.sort();
    assert_eq!(ids, want);

    // Only managers and admins resolve; a reason is required; only held movements.
    let (_, operator) = app.user(&t, "op@acme.example", "operator").await;
    let force = |id: MovementId| format!("/v1/movements/{id}/force");
    problem(
        app.post(&force(moved.id), &operator, json!({"reason": "x"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    problem(
        app.post(&force(moved.id), &t.token, json!({"reason": " "}))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    problem(
        app.post(&force(receipt.id), &t.token, json!({"reason": "x"}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    problem(
        app.post(
            &format!("/v1/movements/{}/force", Uuid::now_v7()),
            &t.token,
            json!({"reason": "x"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Forcing the transfer: A goes to −5 (flagged), B rises to 5, which lets the held
    // ship from B through in the same transaction (B ends at 2).
    let (_, manager) = app.user(&t, "boss@acme.example", "manager").await;
    let r = app
        .post(
            &force(moved.id),
            &manager,
            json!({"reason": "goods were on the pallet, receipt not yet entered"}),
        )
        .await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["outcome"]["outcome"], "applied");
    let flags = v["flags"].to_string();
    assert!(
        flags.contains("forced") && flags.contains("negative_row"),
        "{flags}"
    );
    assert_eq!(on_hand(&app, t.id, s.product, a, None).await, -5);
    assert_eq!(on_hand(&app, t.id, s.product, b, None).await, 2);
    let shipped: Value = app
        .get(&format!("/v1/movements/{}", ship.id), &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shipped["outcome"], "applied");
    // The device learns both outcomes by re-sending.
    let again = d.push(&app, &[ship, moved]).await;
    assert_eq!(outcomes(&again), ["applied", "applied"]);
    problem(
        app.post(&force(moved.id), &manager, json!({"reason": "again"}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    let reason: String = sqlx::query_scalar(
        "select after->>'reason' from audit_log where tenant_id = $1 and action = 'movement.force'",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert!(reason.starts_with("goods were on the pallet"));
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn an_online_movement_through_a_devices_session_is_audited_with_the_device() {
    let (app, t, s, d) = setup().await;
    let by_device = crate::inventory::applied(
        &app,
        &d.token,
        crate::inventory::receive(s.product, s.bins[0], 2),
    )
    .await;
    let by_person = crate::inventory::applied(
        &app,
        &t.token,
        crate::inventory::receive(s.product, s.bins[0], 1),
    )
    .await;
    let device_of = |movement: &Value| {
        let id = movement["id"].as_str().unwrap().to_owned();
        let owner = app.owner.clone();
        async move {
            sqlx::query_scalar::<_, Option<Uuid>>(
                "select device_id from audit_log where action = 'movement.create' and target_id = $1",
            )
            .bind(id)
            .fetch_one(&owner)
            .await
            .unwrap()
        }
    };
    assert_eq!(device_of(&by_device).await, Some(d.id));
    assert_eq!(device_of(&by_person).await, None);
}
