//! Lots created offline (`logiflow_core::lots`): a device receiving a lot it does not
//! know declares it with its push; the server creates it, or maps it to its lot of the
//! same product and code, whoever pushes first and however often.

use logiflow_core::{Movement, MovementKind, PullPage};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;
use crate::sync_push::{Dev, ago, loc, q, register};

/// `d`'s next journal entry: `qty` of `product` (in `lot`) received into `bin`,
/// `minutes` ago.
fn received(
    d: &mut Dev,
    minutes: i64,
    product: Uuid,
    lot: Option<Uuid>,
    bin: Uuid,
    qty: i64,
) -> Movement {
    d.entry(
        ago(minutes),
        product,
        lot,
        MovementKind::Receive {
            to: loc(bin),
            qty: q(qty),
        },
    )
}

/// The push body of `movements` declaring `lots` as (id, product, code, expiry).
fn with_lots(
    d: &Dev,
    movements: &[logiflow_core::Movement],
    lots: &[(Uuid, Uuid, &str, Option<&str>)],
) -> Value {
    let mut body = d.request(movements);
    body["lots"] = lots
        .iter()
        .map(|(id, product, code, expires_on)| {
            json!({"id": id, "product": product, "code": code, "expires_on": expires_on})
        })
        .collect();
    body
}

async fn push(app: &TestApp, d: &Dev, body: Value) -> Value {
    let r = app.post("/v1/sync/push", &d.token, body).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

fn outcome(v: &Value, i: usize) -> &str {
    v["results"][i]["outcome"]["outcome"].as_str().unwrap()
}

fn flags(v: &Value, i: usize) -> Vec<String> {
    v["results"][i]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag"].as_str().unwrap().to_owned())
        .collect()
}

/// The tenant's lots of `product` with `code`, as (id, expiry).
async fn lots_with_code(
    app: &TestApp,
    tenant: Uuid,
    product: Uuid,
    code: &str,
) -> Vec<(Uuid, Option<chrono::NaiveDate>)> {
    sqlx::query_as(
        "select id, expires_on from lot where tenant_id = $1 and product_id = $2 and code = $3",
    )
    .bind(tenant)
    .bind(product)
    .bind(code)
    .fetch_all(&app.owner)
    .await
    .unwrap()
}

/// A lot's code and expiry date, read by the owner.
async fn lot_row(app: &TestApp, tenant: Uuid, id: Uuid) -> (String, Option<chrono::NaiveDate>) {
    sqlx::query_as("select code, expires_on from lot where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_one(&app.owner)
        .await
        .unwrap()
}

/// Every lot id a device's pulls carry, from its snapshot on.
async fn pulled_lots(app: &TestApp, d: &Dev) -> Vec<Uuid> {
    let mut cursor: Option<String> = None;
    let mut lots = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/sync/pull?cursor={c}"),
            None => "/v1/sync/pull".to_owned(),
        };
        let r = app.get(&path, &d.token).await;
        assert_eq!(r.status(), StatusCode::OK);
        let page: PullPage = r.json().await.unwrap();
        lots.extend(page.lots.iter().map(|l| l.id.as_uuid()));
        cursor = Some(page.cursor.as_str().to_owned());
        if !page.has_more {
            return lots;
        }
    }
}

/// Pushes a receipt into the site's lot `L-GOOD` by `d`, declared under an id of the
/// device's own: one `lot_alias` row.
pub async fn seed_lot_alias(app: &TestApp, d: &mut Dev, s: &Site) {
    let own = Uuid::now_v7();
    let receipt = received(d, 5, s.tracked, Some(own), s.bins[0], 1);
    let v = push(
        app,
        d,
        with_lots(d, &[receipt], &[(own, s.tracked, "L-GOOD", None)]),
    )
    .await;
    assert_eq!(outcome(&v, 0), "applied", "{v}");
}

#[tokio::test]
async fn a_lot_received_offline_is_created_with_the_receipt_and_reaches_other_devices() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s = site(&app, t.id, 2).await;
    let mut a = register(&app, &t.token, &[s.warehouse]).await;
    let b = register(&app, &t.token, &[s.warehouse]).await;
    // B has its snapshot before the lot exists: the lot must reach it as a change.
    let before = pulled_lots(&app, &b).await;

    let lot = Uuid::now_v7();
    let receipt = received(&mut a, 30, s.tracked, Some(lot), s.bins[0], 12);
    let body = with_lots(
        &a,
        &[receipt],
        &[(lot, s.tracked, "L-2027-06", Some("2027-06-30"))],
    );
    let v = push(&app, &a, body.clone()).await;
    assert_eq!(outcome(&v, 0), "applied", "{v}");
    assert!(flags(&v, 0).is_empty(), "{v}");

    let r = app.get(&format!("/v1/lots/{lot}"), &t.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let got: Value = r.json().await.unwrap();
    assert_eq!(
        (got["code"].as_str(), got["expires_on"].as_str()),
        (Some("L-2027-06"), Some("2027-06-30"))
    );
    assert_eq!(
        on_hand(&app, t.id, s.tracked, s.bins[0], Some(lot)).await,
        12
    );
    assert_eq!(audited(&app, t.id, "lot.create").await, 1);

    // The same batch again (a lost answer): the stored results, one lot, one audit.
    let again = push(&app, &a, body).await;
    assert_eq!(again["results"], v["results"]);
    assert_eq!(
        lots_with_code(&app, t.id, s.tracked, "L-2027-06")
            .await
            .len(),
        1
    );
    assert_eq!(audited(&app, t.id, "lot.create").await, 1);
    assert_eq!(
        on_hand(&app, t.id, s.tracked, s.bins[0], Some(lot)).await,
        12
    );

    let after = pulled_lots(&app, &b).await;
    assert!(!before.contains(&lot) && after.contains(&lot), "{after:?}");
    assert_ledger(&app, t.id).await;
}

/// A tenant with a site of two bins and two devices registered on its warehouse.
async fn two_devices() -> (TestApp, Tenant, Site, Dev, Dev) {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s = site(&app, t.id, 2).await;
    let a = register(&app, &t.token, &[s.warehouse]).await;
    let b = register(&app, &t.token, &[s.warehouse]).await;
    (app, t, s, a, b)
}

#[tokio::test]
async fn two_devices_receiving_one_lot_offline_at_the_same_moment_share_it() {
    let (app, t, s, mut a, mut b) = two_devices().await;

    let (lot_a, lot_b) = (Uuid::now_v7(), Uuid::now_v7());
    let ra = received(&mut a, 40, s.tracked, Some(lot_a), s.bins[0], 5);
    let rb = received(&mut b, 35, s.tracked, Some(lot_b), s.bins[1], 7);
    let body_a = with_lots(&a, &[ra], &[(lot_a, s.tracked, "L7", Some("2027-06-30"))]);
    let body_b = with_lots(&b, &[rb], &[(lot_b, s.tracked, "L7", Some("2027-07-31"))]);
    let (va, vb) = tokio::join!(push(&app, &a, body_a), push(&app, &b, body_b));
    assert_eq!((outcome(&va, 0), outcome(&vb, 0)), ("applied", "applied"));

    let lots = lots_with_code(&app, t.id, s.tracked, "L7").await;
    assert_eq!(lots.len(), 1, "one lot of the code: {lots:?}");
    let (kept, expiry) = lots[0];
    // Whoever came first created it with its date; the other's receipt went into it,
    // flagged because its device typed another date.
    let (first, second) = if kept == lot_a {
        (&va, &vb)
    } else {
        (&vb, &va)
    };
    assert!(kept == lot_a || kept == lot_b);
    assert!(flags(first, 0).is_empty(), "{first}");
    assert_eq!(flags(second, 0), vec!["lot_expiry_differs"], "{second}");
    let want_expiry = if kept == lot_a {
        "2027-06-30"
    } else {
        "2027-07-31"
    };
    assert_eq!(expiry.map(|d| d.to_string()).as_deref(), Some(want_expiry));
    assert_eq!(
        on_hand(&app, t.id, s.tracked, s.bins[0], Some(kept)).await,
        5
    );
    assert_eq!(
        on_hand(&app, t.id, s.tracked, s.bins[1], Some(kept)).await,
        7
    );

    // The lot is renamed on the server; a device that has not pulled yet still names
    // its own id with the old code: the mapping, not the code, takes it to the lot.
    let r = app
        .patch(
            &format!("/v1/lots/{kept}"),
            &t.token,
            json!({"code": "L7-A"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let (other, other_dev) = if kept == lot_a {
        (lot_b, &mut b)
    } else {
        (lot_a, &mut a)
    };
    let more = received(other_dev, 10, s.tracked, Some(other), s.bins[1], 1);
    let expiry_typed = if kept == lot_a {
        "2027-07-31"
    } else {
        "2027-06-30"
    };
    let v = push(
        &app,
        other_dev,
        with_lots(
            other_dev,
            &[more],
            &[(other, s.tracked, "L7", Some(expiry_typed))],
        ),
    )
    .await;
    assert_eq!(outcome(&v, 0), "applied", "{v}");
    assert_eq!(
        on_hand(&app, t.id, s.tracked, s.bins[1], Some(kept)).await,
        8
    );
    assert!(lots_with_code(&app, t.id, s.tracked, "L7").await.is_empty());
    assert_eq!(count(&app, "lot_alias", t.id).await, 1);
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_declared_lot_that_cannot_be_a_lot_is_not_created_and_its_receipt_is_rejected() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let s = site(&app, t.id, 2).await;
    let mut d = register(&app, &t.token, &[s.warehouse]).await;

    // A product without lot tracking: no lot is created, the receipt says why.
    let lot = Uuid::now_v7();
    let r = received(&mut d, 20, s.product, Some(lot), s.bins[0], 3);
    let v = push(
        &app,
        &d,
        with_lots(&d, &[r], &[(lot, s.product, "X1", None)]),
    )
    .await;
    assert_eq!(outcome(&v, 0), "rejected", "{v}");
    assert_eq!(v["results"][0]["outcome"]["code"], "lot_not_tracked", "{v}");
    assert_eq!(
        count(&app, "lot", t.id).await,
        2,
        "the site's two lots only"
    );

    // A declared lot no movement names is ignored.
    let unused = Uuid::now_v7();
    let r = received(&mut d, 15, s.product, None, s.bins[0], 3);
    let v = push(
        &app,
        &d,
        with_lots(&d, &[r], &[(unused, s.tracked, "UNUSED", None)]),
    )
    .await;
    assert_eq!(outcome(&v, 0), "applied", "{v}");
    assert_eq!(count(&app, "lot", t.id).await, 2);

    // Only the device's own session declares lots: the tenant's admin (an ordinary
    // session, whose user may record movements) or another device pushing this
    // device's journal is refused, and no lot is created.
    let other = register(&app, &t.token, &[s.warehouse]).await;
    let stolen = Uuid::now_v7();
    let r = received(&mut d, 12, s.tracked, Some(stolen), s.bins[0], 3);
    let body = with_lots(&d, &[r], &[(stolen, s.tracked, "STOLEN", None)]);
    for token in [&t.token, &other.token] {
        let resp = app.post("/v1/sync/push", token, body.clone()).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(count(&app, "lot", t.id).await, 2);
    // The device itself may still send that entry (its seq was not used).
    let v = push(&app, &d, body).await;
    assert_eq!(outcome(&v, 0), "applied", "{v}");
    assert_eq!(count(&app, "lot", t.id).await, 3);

    // A code no lot may have refuses the whole batch, and nothing is written.
    let bad = Uuid::now_v7();
    let r = received(&mut d, 10, s.tracked, Some(bad), s.bins[0], 3);
    let resp = app
        .post(
            "/v1/sync/push",
            &d.token,
            with_lots(&d, &[r], &[(bad, s.tracked, "", None)]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(count(&app, "lot", t.id).await, 3);
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_lot_declared_in_one_tenant_never_reaches_another_tenants_lot() {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let ta = app.tenant("acme", "bulk").await;
    let tb = app.tenant("globex", "bulk").await;
    let sa = site(&app, ta.id, 1).await;
    let sb = site(&app, tb.id, 1).await;
    let mut db = register(&app, &tb.token, &[sb.warehouse]).await;
    let before = lot_row(&app, ta.id, sa.lot).await;

    // Tenant B's device declares A's lot id for its own product (a code B has no lot
    // of: B's site has its own lot of A's code).
    let r = received(&mut db, 5, sb.tracked, Some(sa.lot), sb.bins[0], 4);
    let v = push(
        &app,
        &db,
        with_lots(
            &db,
            &[r],
            &[(sa.lot, sb.tracked, "CROSS-1", Some("2030-01-01"))],
        ),
    )
    .await;
    assert_eq!(outcome(&v, 0), "applied", "{v}");
    assert!(flags(&v, 0).is_empty(), "nothing of A's lot may show: {v}");
    // B got a lot of its own; A's lot is as it was, with no stock added.
    assert_eq!(
        lots_with_code(&app, tb.id, sb.tracked, "CROSS-1").await,
        vec![(sa.lot, chrono::NaiveDate::from_ymd_opt(2030, 1, 1))]
    );
    assert_eq!(
        on_hand(&app, tb.id, sb.tracked, sb.bins[0], Some(sa.lot)).await,
        4
    );
    assert_eq!(lot_row(&app, ta.id, sa.lot).await, before);
    assert_eq!(
        on_hand(&app, ta.id, sa.tracked, sa.bins[0], Some(sa.lot)).await,
        0
    );
    assert_eq!(
        count(&app, "lot_alias", ta.id).await + count(&app, "lot_alias", tb.id).await,
        0
    );
}

/// A receipt held first (its device's clock ran 3 days ahead) and forced later keeps its
/// `lot_expiry_differs` flag: it is a fact of how the lot was declared, not of the
/// decision the force replaces.
#[tokio::test]
async fn a_held_receipt_keeps_its_lot_flag_when_it_is_forced() {
    let (app, t, s, mut a, mut b) = two_devices().await;

    let (lot_a, lot_b) = (Uuid::now_v7(), Uuid::now_v7());
    let ra = received(&mut a, 30, s.tracked, Some(lot_a), s.bins[0], 5);
    let v = push(
        &app,
        &a,
        with_lots(&a, &[ra], &[(lot_a, s.tracked, "L7", Some("2027-06-30"))]),
    )
    .await;
    assert_eq!(outcome(&v, 0), "applied", "{v}");

    let rb = received(&mut b, -3 * 24 * 60, s.tracked, Some(lot_b), s.bins[1], 7);
    let v = push(
        &app,
        &b,
        with_lots(&b, &[rb], &[(lot_b, s.tracked, "L7", Some("2027-07-31"))]),
    )
    .await;
    assert_eq!(outcome(&v, 0), "held", "{v}");
    assert_eq!(
        v["results"][0]["outcome"]["review"]["review"], "clock_ahead",
        "{v}"
    );
    assert_eq!(flags(&v, 0), vec!["lot_expiry_differs"], "{v}");

    let (_, manager) = app.user(&t, "boss@acme.example", "manager").await;
    let r = app
        .post(
            &format!("/v1/movements/{}/force", rb.id),
            &manager,
            json!({"reason": "the scanner's clock was 3 days ahead"}),
        )
        .await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["outcome"]["outcome"], "applied", "{v}");
    let names = |flags: &Value| -> Vec<String> {
        flags
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["flag"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&v["flags"]),
        vec!["forced", "redated", "lot_expiry_differs"],
        "{v}"
    );
    let stored = get_json(&app, format!("/v1/movements/{}", rb.id), &t.token).await;
    assert_eq!(
        names(&stored["flags"]),
        vec!["forced", "redated", "lot_expiry_differs"],
        "{stored}"
    );
    assert_eq!(stored["flags"][2]["recorded"], "2027-07-31", "{stored}");
    assert_eq!(stored["flags"][2]["kept"], "2027-06-30", "{stored}");
    assert_eq!(
        on_hand(&app, t.id, s.tracked, s.bins[1], Some(lot_a)).await,
        7
    );
    assert_ledger(&app, t.id).await;
}
