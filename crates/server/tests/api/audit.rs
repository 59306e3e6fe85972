//! `/v1/audit`: every write is recorded, in its transaction, and can be filtered.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn writes_are_audited_with_actor_before_after_and_request_id() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let r = app
        .client
        .post(app.url("/v1/users"))
        .header("authorization", bearer(&t.token))
        .header("x-request-id", "req-audit-1")
        .json(&json!({"email": "u@acme.example", "display_name": "U", "role": "viewer", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let user: Value = r.json().await.unwrap();
    let id = user["id"].as_str().unwrap();
    app.patch(
        &format!("/v1/users/{id}"),
        &t.token,
        json!({"role": "sales"}),
    )
    .await;
    let (key_id, _) = app.api_key(&t, "erp", &["users_read"]).await;
    app.delete(&format!("/v1/api-keys/{key_id}"), &t.token)
        .await;
    app.patch("/v1/settings", &t.token, json!({"locale": "de"}))
        .await;

    let page: Value = app.get("/v1/audit", &t.token).await.json().await.unwrap();
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first; the tenant and its admin were created by the platform admin, then
    // the admin logged in.
    assert_eq!(
        actions,
        [
            "settings.update",
            "api_key.revoke",
            "api_key.create",
            "user.update",
            "user.create",
            "session.create",
            "user.create",
            "tenant.create"
        ]
    );
    let items = page["items"].as_array().unwrap();
    let create = &items[4];
    assert_eq!(create["actor_type"], "user");
    assert_eq!(create["actor_id"], t.admin_id.to_string());
    assert_eq!(create["target_id"], id);
    assert_eq!(create["request_id"], "req-audit-1");
    assert!(create["before"].is_null());
    assert_eq!(create["after"]["email"], "u@acme.example");
    let update = &items[3];
    assert_eq!(update["before"]["role"], "viewer");
    assert_eq!(update["after"]["role"], "sales");
    assert_eq!(items[5]["actor_id"], t.admin_id.to_string());
    assert_eq!(items[7]["actor_type"], "system");
}

#[tokio::test]
async fn audit_filters_and_paginates() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "enterprise").await;
    let (uid, _) = app.user(&t, "u@acme.example", "admin").await;
    for locale in ["a1", "a2", "a3"] {
        app.patch("/v1/settings", &t.token, json!({"locale": locale}))
            .await;
    }
    let get = |q: String| {
        let app = &app;
        let token = t.token.clone();
        async move {
            let r = app.get(&format!("/v1/audit?{q}"), &token).await;
            assert_eq!(r.status(), StatusCode::OK, "{q}");
            r.json::<Value>().await.unwrap()
        }
    };
    let count = |v: &Value| v["items"].as_array().unwrap().len();
    assert_eq!(count(&get("action=settings.update".into()).await), 3);
    // The admin's login, the user they created, three settings changes.
    assert_eq!(count(&get(format!("actor_id={}", t.admin_id)).await), 5);
    assert_eq!(
        count(&get(format!("target_type=user&target_id={uid}")).await),
        1
    );
    assert_eq!(count(&get("from=2999-01-01T00:00:00Z".into()).await), 0);
    assert_eq!(count(&get("to=2000-01-01T00:00:00Z".into()).await), 0);
    assert_eq!(
        count(&get("from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z".into()).await),
        8
    );
    let first = get("limit=4".into()).await;
    assert_eq!(count(&first), 4);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get(format!("limit=4&cursor={cursor}")).await;
    assert_eq!(count(&second), 4);
    assert!(second["next_cursor"].is_null());
    problem(
        app.get("/v1/audit?from=yesterday", &t.token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let (_, manager) = app.user(&t, "m@acme.example", "manager").await;
    assert_eq!(
        app.get("/v1/audit", &manager).await.status(),
        StatusCode::OK
    );
    let (_, viewer) = app.user(&t, "v@acme.example", "viewer").await;
    problem(
        app.get("/v1/audit", &viewer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}
