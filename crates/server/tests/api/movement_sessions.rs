//! A movement's session checked in its batch (`crate::group_commit`, `auth::Caller`): a
//! request whose session ended, whose user was disabled or demoted, whose device was
//! revoked or whose tenant expired is refused with the same answer as a request checked
//! on arrival, and its movement is neither decided nor written; the others of the batch
//! are unaffected.

use logiflow_core::{LocationId, MovementKind, PositiveQty, TenantId};
use logiflow_server::error::ApiError;
use logiflow_server::group_commit::{Job, record_batch};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;

/// A job receiving one unit into `bin` by the holder of `token`, whose session the batch
/// checks.
fn job(token: &str, tenant: Uuid, product: Uuid, bin: Uuid) -> Job {
    online_job(
        token,
        tenant,
        product,
        MovementKind::Receive {
            to: LocationId::from_uuid(bin),
            qty: PositiveQty::new(1).unwrap(),
        },
    )
}

#[tokio::test]
async fn a_batch_refuses_each_request_whose_session_does_not_allow_it_and_records_the_rest() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let s = site(&app, t.id, 2).await;
    let (_, operator) = app.user(&t, "op@acme.example", "operator").await;
    let (viewer_id, viewer) = app.user(&t, "v@acme.example", "operator").await;
    let (disabled_id, disabled) = app.user(&t, "d@acme.example", "operator").await;
    let (_, logged_out) = app.user(&t, "out@acme.example", "operator").await;
    let device = crate::sync_push::register(&app, &t.token, &[s.warehouse]).await;
    // Each session is changed after its token was issued.
    app.patch(
        &format!("/v1/users/{viewer_id}"),
        &t.token,
        json!({"role": "viewer"}),
    )
    .await;
    app.patch(
        &format!("/v1/users/{disabled_id}"),
        &t.token,
        json!({"disabled": true}),
    )
    .await;
    app.logout(&logged_out).await;
    let r = app
        .delete(&format!("/v1/devices/{}", device.id), &t.token)
        .await;
    assert!(r.status().is_success(), "{}", r.status());

    let pool = PgPool::connect(&app_database_url(&app)).await.unwrap();
    let jobs = [
        job(&operator, t.id, s.product, s.bins[0]),
        job(&viewer, t.id, s.product, s.bins[0]),
        job(&disabled, t.id, s.product, s.bins[0]),
        job(&logged_out, t.id, s.product, s.bins[0]),
        job(&device.token, t.id, s.product, s.bins[0]),
        job(&operator, t.id, s.product, s.bins[1]),
    ];
    let answers = record_batch(&pool, TenantId::from_uuid(t.id), &jobs)
        .await
        .unwrap();
    let codes: Vec<String> = answers
        .iter()
        .map(|a| match a {
            Ok(_) => "applied".to_owned(),
            Err(e) => match e {
                ApiError::Forbidden => "forbidden".to_owned(),
                ApiError::Unauthenticated => "unauthenticated".to_owned(),
                ApiError::DeviceRevoked => "device_revoked".to_owned(),
                other => format!("{other:?}"),
            },
        })
        .collect();
    assert_eq!(
        codes,
        [
            "applied",
            "forbidden",
            "unauthenticated",
            "unauthenticated",
            "device_revoked",
            "applied"
        ]
    );
    // Only the allowed movements were written, with their audit entries.
    assert_eq!(count(&app, "movement", t.id).await, 2);
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[0], None).await, 1);
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[1], None).await, 1);
    assert_eq!(audited(&app, t.id, "movement.create").await, 2);
    assert_ledger(&app, t.id).await;

    // A read-only (expired) tenant: refused too, nothing written.
    logiflow_server::admin::tenant_expire(&app.owner, "acme")
        .await
        .unwrap();
    let answers = record_batch(
        &pool,
        TenantId::from_uuid(t.id),
        &[job(&operator, t.id, s.product, s.bins[0])],
    )
    .await
    .unwrap();
    assert!(
        matches!(answers[..], [Err(ApiError::SubscriptionExpired)]),
        "{answers:?}"
    );
    assert_eq!(count(&app, "movement", t.id).await, 2);
}

/// Through the API: each change to a session refuses the very next movement request,
/// made right after another request of the tenant (so that its session is checked in
/// its batch rather than on arrival), with the same answer as any other route gives.
#[tokio::test]
async fn the_next_movement_after_a_session_changes_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let s = site(&app, t.id, 2).await;
    let (id, op) = app.user(&t, "op@acme.example", "operator").await;
    let receive_one = || receive(s.product, s.bins[0], 1);
    applied(&app, &op, receive_one()).await;

    app.patch(
        &format!("/v1/users/{id}"),
        &t.token,
        json!({"role": "viewer"}),
    )
    .await;
    problem(
        record(&app, &op, receive_one()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // The same refusal when the body is also wrong: the session is answered first.
    problem(
        record(&app, &op, json!({"product_id": s.product})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    app.patch(
        &format!("/v1/users/{id}"),
        &t.token,
        json!({"role": "operator"}),
    )
    .await;
    applied(&app, &op, receive_one()).await;

    app.patch(
        &format!("/v1/users/{id}"),
        &t.token,
        json!({"disabled": true}),
    )
    .await;
    problem(
        record(&app, &op, receive_one()).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    app.logout(&t.token).await;
    problem(
        record(&app, &t.token, receive_one()).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(count(&app, "movement", t.id).await, 2);
    assert_eq!(on_hand(&app, t.id, s.product, s.bins[0], None).await, 2);
}
