//! Issue #19 on the API: a device's session lifetime, signing a person in on an existing
//! device again (`POST /v1/devices/{id}/session`).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::inventory::*;
use crate::sync_push::{ago, loc, q, register};

#[tokio::test]
async fn a_device_session_lives_its_own_setting_and_a_person_signs_in_on_it_again() {
    let app = spawn_app_with(|c| {
        c.refresh_token_ttl_secs = 1000;
        c.device_refresh_token_ttl_secs = 5000;
    })
    .await;
    app.plan("wide", 25, 1000).await;
    let t = app.tenant("acme", "wide").await;
    let s = site(&app, t.id, 1).await;
    // A person's tokens say how long their refresh token lives, a device's its own.
    let (person, _) = app.login("acme", &t.admin_email, PASSWORD).await;
    let r = app
        .post(
            "/v1/devices",
            &person,
            json!({"name": "dock", "platform": "linux", "warehouse_ids": [s.warehouse]}),
        )
        .await;
    let registered: Value = r.json().await.unwrap();
    assert_eq!(
        registered["tokens"]["refresh_expires_in"], 5000,
        "{registered}"
    );
    let refreshed: Value = app
        .send(
            reqwest::Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": registered["tokens"]["refresh_token"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refreshed["refresh_expires_in"], 5000, "{refreshed}");
    let login: Value = app
        .send(
            reqwest::Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"tenant": "acme", "email": t.admin_email, "password": PASSWORD})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(login["refresh_expires_in"], 1000, "{login}");

    // A device that pushed one entry; an operator of the shift signs in on it again.
    let mut dev = register(&app, &t.token, &[s.warehouse]).await;
    let m = dev.entry(
        ago(5),
        s.product,
        None,
        logiflow_core::MovementKind::Receive {
            to: loc(s.bins[0]),
            qty: q(2),
        },
    );
    dev.push(&app, &[m]).await;
    let (operator, operator_token) = app.user(&t, "op@acme.example", "operator").await;
    let r = app
        .post(
            &format!("/v1/devices/{}/session", dev.id),
            &operator_token,
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["device"]["id"], dev.id.to_string());
    assert_eq!(
        again["device"]["next_seq"], 2,
        "the device keeps its journal numbers"
    );
    assert_eq!(again["device"]["warehouse_ids"], json!([s.warehouse]));
    assert_eq!(again["tokens"]["refresh_expires_in"], 5000);
    // The old session ended; the new one pushes the next entry, booked to the operator.
    let r = app.get("/v1/me", &dev.token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    dev.token = again["tokens"]["access_token"].as_str().unwrap().to_owned();
    let m = dev.entry(
        ago(4),
        s.product,
        None,
        logiflow_core::MovementKind::Receive {
            to: loc(s.bins[0]),
            qty: q(1),
        },
    );
    let v = dev.push(&app, &[m]).await;
    assert_eq!(v["results"][0]["outcome"]["outcome"], "applied", "{v}");
    let booked: uuid::Uuid = sqlx::query_scalar("select user_id from movement where id = $1")
        .bind(m.id.as_uuid())
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(booked, operator);
    let audit = audits(&app, &dev.id.to_string()).await;
    let reattach = audit
        .iter()
        .find(|a| a.0 == "device.reattach")
        .expect("audited");
    assert_eq!(
        reattach.2.as_ref().unwrap()["user_id"],
        operator.to_string()
    );
    assert_eq!(reattach.2.as_ref().unwrap()["sessions_ended"], 1);

    // An API key cannot; a viewer may not; an unknown device is 404; a revoked one 409.
    let (_, key) = app.api_key(&t, "erp", &["movements_write"]).await;
    let r = app
        .send(
            reqwest::Method::POST,
            &format!("/v1/devices/{}/session", dev.id),
            Some(&format!("ApiKey {key}")),
            Some(json!({})),
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let (_, viewer) = app.user(&t, "v@acme.example", "viewer").await;
    let r = app
        .post(
            &format!("/v1/devices/{}/session", dev.id),
            &viewer,
            json!({}),
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .post(
            &format!("/v1/devices/{}/session", uuid::Uuid::now_v7()),
            &t.token,
            json!({}),
        )
        .await;
    problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .delete(&format!("/v1/devices/{}", dev.id), &t.token)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(
            &format!("/v1/devices/{}/session", dev.id),
            &t.token,
            json!({}),
        )
        .await;
    problem(r, StatusCode::CONFLICT, "device_revoked").await;
}
