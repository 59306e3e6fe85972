//! Issue #18: the server bounds a journal movement's time by its own clock. A device
//! whose clock runs ahead no longer absorbs other devices' work or blocks online
//! movements: its movement is held for a person (`clock_ahead`), forced at the time the
//! server received it or voided. Movements dated before their device was registered or
//! beyond the tenant's past limit are applied and flagged. The tolerance is a server
//! setting, the past limit a tenant setting.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use logiflow_core::{MovementKind, Qty};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;
use crate::sync_push::{Dev, loc, q, register};

fn in_future(d: Duration) -> DateTime<Utc> {
    (Utc::now() + d).trunc_subsecs(6)
}

fn result(response: &Value, i: usize) -> &Value {
    &response["results"][i]
}

async fn movement(app: &TestApp, token: &str, id: impl std::fmt::Display) -> Value {
    get_json(app, format!("/v1/movements/{id}"), token).await
}

async fn last_count_at(
    app: &TestApp,
    tenant: Uuid,
    product: Uuid,
    bin: Uuid,
) -> Option<DateTime<Utc>> {
    sqlx::query_scalar(
        "select last_count_at from stock_row
         where tenant_id = $1 and product_id = $2 and location_id = $3",
    )
    .bind(tenant)
    .bind(product)
    .bind(bin)
    .fetch_one(&app.owner)
    .await
    .unwrap()
}

/// The four steps through the public API, then force and void. On the old code
/// step 2 answered `applied`, step 3 `absorbed` and step 4 `409 before_latest_count`.
#[tokio::test]
async fn a_device_whose_clock_runs_ahead_absorbs_and_blocks_nothing() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s = site(&app, t.id, 2).await;
    let (bin, other_bin) = (s.bins[0], s.bins[1]);
    let mut a: Dev = register(&app, &t.token, &[s.warehouse]).await;
    let mut b: Dev = register(&app, &t.token, &[s.warehouse]).await;

    // 1. The bin holds 10 (an online receipt).
    applied(&app, &t.token, receive(s.product, bin, 10)).await;

    // 2. Device A, whose clock runs 3 days ahead, counts 10 in the bin.
    let before_push = Utc::now();
    let count = a.entry(
        in_future(Duration::days(3)),
        s.product,
        None,
        MovementKind::Count {
            at: loc(bin),
            counted: Qty::new(10).unwrap(),
            expected: None,
        },
    );
    let r = a.push(&app, &[count]).await;
    let held = result(&r, 0);
    assert_eq!(held["outcome"]["outcome"], "held", "{r}");
    let review = &held["outcome"]["review"];
    assert_eq!(review["review"], "clock_ahead", "{r}");
    let ahead = review["ahead_secs"].as_i64().unwrap();
    assert!((3 * 86_400 - 60..=3 * 86_400).contains(&ahead), "{ahead}");
    let received_at: DateTime<Utc> = review["received_at"].as_str().unwrap().parse().unwrap();
    assert!(received_at >= before_push.trunc_subsecs(6) && received_at <= Utc::now());
    assert_eq!(held["position"], Value::Null);
    // It took effect nowhere: no count on the row, nothing in the ledger.
    assert_eq!(on_hand(&app, t.id, s.product, bin, None).await, 10);
    assert_eq!(last_count_at(&app, t.id, s.product, bin).await, None);

    // 3. Device B, with a correct clock, receives 7 into the bin, dated a minute ahead
    //    (within the tolerance): applied, not absorbed.
    let receipt = b.entry(
        in_future(Duration::minutes(1)),
        s.product,
        None,
        MovementKind::Receive {
            to: loc(bin),
            qty: q(7),
        },
    );
    let r = b.push(&app, &[receipt]).await;
    assert_eq!(result(&r, 0)["outcome"]["outcome"], "applied", "{r}");
    assert_eq!(result(&r, 0)["outcome"]["effects"][0]["delta"], 7, "{r}");
    assert_eq!(on_hand(&app, t.id, s.product, bin, None).await, 17);

    // 4. An online receipt of 5: accepted. It is dated just after B's receipt, which lies
    //    in the server's future: stored events all happened before the intent arrived.
    let online = applied(&app, &t.token, receive(s.product, bin, 5)).await;
    assert_eq!(on_hand(&app, t.id, s.product, bin, None).await, 22);
    let online_at: DateTime<Utc> = online["occurred_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        online_at,
        receipt.occurred_at + Duration::microseconds(1),
        "{online}"
    );
    // The inbox explains the hold; the automatic retry never touched it.
    let inbox = get_json(&app, "/v1/movements?review=true", &t.token).await;
    let entry = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == count.id.to_string())
        .expect("the clock-ahead count is in the inbox")
        .clone();
    assert_eq!(entry["outcome"], "held");
    assert_eq!(entry["outcome_detail"]["review"]["review"], "clock_ahead");
    assert_eq!(entry["outcome_detail"]["review"]["ahead_secs"], ahead);

    // Force: applied at the time the server received it, flagged forced and redated
    // with the date the device recorded. At that time the bin held 10 (everything else
    // came after), so the count changes nothing and the receipts stay.
    let (_, manager) = app.user(&t, "boss@acme.example", "manager").await;
    let r = app
        .post(
            &format!("/v1/movements/{}/force", count.id),
            &manager,
            json!({"reason": "the scanner's clock was 3 days ahead; count checked"}),
        )
        .await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["outcome"]["outcome"], "applied", "{v}");
    assert_eq!(v["outcome"]["effects"][0]["delta"], 0, "{v}");
    let flags = v["flags"].as_array().unwrap();
    assert_eq!(flags[0]["flag"], "forced", "{v}");
    assert_eq!(flags[1]["flag"], "redated", "{v}");
    let recorded: DateTime<Utc> = flags[1]["recorded_at"].as_str().unwrap().parse().unwrap();
    let applied_at: DateTime<Utc> = flags[1]["applied_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(recorded, count.occurred_at);
    assert_eq!(applied_at, received_at);
    assert_eq!(on_hand(&app, t.id, s.product, bin, None).await, 22);
    let stored = movement(&app, &t.token, count.id).await;
    let stored_at: DateTime<Utc> = stored["occurred_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        stored_at, received_at,
        "the server keeps the time it took effect at"
    );
    assert_eq!(
        last_count_at(&app, t.id, s.product, bin).await,
        Some(received_at)
    );
    // An online count now sees B's receipt, dated in the server's future (it is not
    // subtracted as if it came later), and becomes the row's latest count.
    let counted = applied(
        &app,
        &t.token,
        json!({"kind": "count", "product_id": s.product, "location_id": bin, "counted": 22}),
    )
    .await;
    assert_eq!(counted["effects"][0]["delta"], 0, "{counted}");
    assert!(last_count_at(&app, t.id, s.product, bin).await.unwrap() > receipt.occurred_at);
    let after: Value = sqlx::query_scalar(
        "select after from audit_log where tenant_id = $1 and action = 'movement.force'",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    let audited: DateTime<Utc> = after["recorded_occurred_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(audited, count.occurred_at, "{after}");
    // The device learns it by re-sending.
    let r = a.push(&app, &[count]).await;
    assert_eq!(result(&r, 0)["outcome"]["outcome"], "applied", "{r}");

    // Void: another count of A, still 3 days ahead, on the other bin; voided, it never
    // applies and changes nothing.
    applied(&app, &t.token, receive(s.product, other_bin, 4)).await;
    let wrong = a.entry(
        in_future(Duration::days(3)),
        s.product,
        None,
        MovementKind::Count {
            at: loc(other_bin),
            counted: Qty::new(0).unwrap(),
            expected: None,
        },
    );
    let r = a.push(&app, &[wrong]).await;
    assert_eq!(result(&r, 0)["outcome"]["review"]["review"], "clock_ahead");
    // A later receipt on that bin raises the row: the hold is not retried.
    applied(&app, &t.token, receive(s.product, other_bin, 1)).await;
    assert_eq!(movement(&app, &t.token, wrong.id).await["outcome"], "held");
    let r = app
        .post(
            &format!("/v1/movements/{}/void", wrong.id),
            &manager,
            json!({"reason": "counted with the wrong clock; recount"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        movement(&app, &t.token, wrong.id).await["outcome"],
        "voided"
    );
    assert_eq!(on_hand(&app, t.id, s.product, other_bin, None).await, 5);
    assert_ledger(&app, t.id).await;
}

/// The tolerance is the server's setting: with 60 s, a movement two minutes ahead is
/// held; with the default (300 s) it applies.
#[tokio::test]
async fn the_clock_tolerance_is_a_server_setting() {
    for (tolerance, outcome) in [(60, "held"), (300, "applied")] {
        let app = spawn_app_with(|c| c.clock_ahead_tolerance_secs = tolerance).await;
        app.plan("bulk", 100, 100_000).await;
        let t = app.tenant("acme", "bulk").await;
        let s = site(&app, t.id, 1).await;
        let mut d = register(&app, &t.token, &[s.warehouse]).await;
        let m = d.entry(
            in_future(Duration::minutes(2)),
            s.product,
            None,
            MovementKind::Receive {
                to: loc(s.bins[0]),
                qty: q(3),
            },
        );
        let r = d.push(&app, &[m]).await;
        assert_eq!(
            result(&r, 0)["outcome"]["outcome"],
            outcome,
            "{tolerance}: {r}"
        );
    }
}

/// Dated before the device was registered, or further back than the tenant's past
/// limit (a setting, default 30 days): applied and flagged for review.
#[tokio::test]
async fn old_dates_are_applied_and_flagged() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s = site(&app, t.id, 1).await;
    let settings = get_json(&app, "/v1/settings", &t.token).await;
    assert_eq!(settings["journal_past_limit_days"], 30);
    for bad in [0, 3651] {
        problem(
            app.patch(
                "/v1/settings",
                &t.token,
                json!({"journal_past_limit_days": bad}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    let r = app
        .patch(
            "/v1/settings",
            &t.token,
            json!({"journal_past_limit_days": 7}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["journal_past_limit_days"],
        7
    );

    let mut d = register(&app, &t.token, &[s.warehouse]).await;
    // `register` dates the device two days back; this one is registered now.
    sqlx::query("update device set created_at = now() where id = $1")
        .bind(d.id)
        .execute(&app.owner)
        .await
        .unwrap();
    let receipt = |d: &mut Dev, at| {
        d.entry(
            at,
            s.product,
            None,
            MovementKind::Receive {
                to: loc(s.bins[0]),
                qty: q(1),
            },
        )
    };
    let recent = receipt(&mut d, in_future(Duration::seconds(-5)));
    let before_device = receipt(&mut d, in_future(Duration::hours(-2)));
    let long_ago = receipt(&mut d, in_future(Duration::days(-10)));
    let r = d.push(&app, &[recent, before_device, long_ago]).await;
    let flags = |i: usize| -> Vec<String> {
        result(&r, i)["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["flag"].as_str().unwrap().to_owned())
            .collect()
    };
    for i in 0..3 {
        assert_eq!(result(&r, i)["outcome"]["outcome"], "applied", "{r}");
    }
    assert!(flags(0).is_empty(), "{r}");
    assert_eq!(flags(1), ["dated_before_device"], "{r}");
    assert_eq!(flags(2), ["dated_before_device", "dated_long_ago"], "{r}");
    assert_eq!(result(&r, 2)["flags"][1]["age_days"], 10, "{r}");
    assert_eq!(result(&r, 2)["flags"][1]["limit_days"], 7, "{r}");
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[0], None).await, 3);
    // Both are in the inbox.
    let inbox = get_json(&app, "/v1/movements?review=true", &t.token).await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 2, "{inbox}");
}
