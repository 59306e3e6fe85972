//! `/v1/settings`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn everyone_reads_settings_and_admins_change_them() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let (_, viewer) = app.user(&t, "v@acme.example", "viewer").await;
    let v: Value = app.get("/v1/settings", &viewer).await.json().await.unwrap();
    assert_eq!(v["display_name"], "Tenant acme");
    assert_eq!(v["timezone"], "UTC");
    let r = app
        .patch(
            "/v1/settings",
            &t.token,
            json!({"timezone": "Europe/Paris", "locale": "fr-FR"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = app.get("/v1/settings", &viewer).await.json().await.unwrap();
    assert_eq!(v["timezone"], "Europe/Paris");
    assert_eq!(v["locale"], "fr-FR");
    assert_eq!(v["display_name"], "Tenant acme");
    problem(
        app.patch("/v1/settings", &viewer, json!({"locale": "en"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    for body in [
        json!({"timezone": "Europe/Paris; drop table"}),
        json!({"display_name": ""}),
    ] {
        problem(
            app.patch("/v1/settings", &t.token, body).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    problem(
        app.patch("/v1/settings", &t.token, json!({"locale": 5}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
}
