//! `/v1/api-keys`: shown once, hashed, scoped, revocable, last use recorded.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn keys_are_shown_once_listed_without_secret_and_record_use() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let r = app
        .post(
            "/v1/api-keys",
            &t.token,
            json!({"name": "erp", "permissions": ["users_read", "users_read", "settings_read"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("lfk_"));
    assert!(key.ends_with(created["hint"].as_str().unwrap()));
    assert_eq!(
        created["permissions"],
        json!(["settings_read", "users_read"])
    );
    assert!(created["last_used_at"].is_null());
    // Only the hash is stored.
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from api_key where key_hash = sha256(convert_to($1, 'utf8'))",
    )
    .bind(&key)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(stored, 1);

    let r = app
        .send(
            Method::GET,
            "/v1/settings",
            Some(&format!("ApiKey {key}")),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page: Value = app
        .get("/v1/api-keys", &t.token)
        .await
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0].get("key").is_none());
    assert!(items[0]["last_used_at"].is_string());
    assert_eq!(items[0]["created_by"], t.admin_id.to_string());
}

#[tokio::test]
async fn keys_cannot_grant_more_than_their_creator_holds() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let (_, key) = app.api_key(&t, "keymaker", &["api_keys_manage"]).await;
    let auth = format!("ApiKey {key}");
    let r = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&auth),
            Some(json!({"name": "escalate", "permissions": ["users_manage"]})),
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&auth),
            Some(json!({"name": "same", "permissions": ["api_keys_manage"]})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Listing needs api_keys_read, which this key lacks.
    let r = app
        .send(Method::GET, "/v1/api-keys", Some(&auth), None)
        .await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn invalid_duplicate_and_unknown_keys_are_refused() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let r = app
        .post(
            "/v1/api-keys",
            &t.token,
            json!({"name": "x", "permissions": []}),
        )
        .await;
    problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
    let r = app
        .post(
            "/v1/api-keys",
            &t.token,
            json!({"name": "x", "permissions": ["root"]}),
        )
        .await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    app.api_key(&t, "dup", &["users_read"]).await;
    let r = app
        .post(
            "/v1/api-keys",
            &t.token,
            json!({"name": "dup", "permissions": ["users_read"]}),
        )
        .await;
    let v = problem(r, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(v["detail"], "an api key with this name exists");
    let r = app
        .delete(&format!("/v1/api-keys/{}", uuid::Uuid::now_v7()), &t.token)
        .await;
    problem(r, StatusCode::NOT_FOUND, "not_found").await;
    let (_, viewer) = app.user(&t, "v@acme.example", "viewer").await;
    let r = app
        .post(
            "/v1/api-keys",
            &viewer,
            json!({"name": "v", "permissions": ["settings_read"]}),
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    problem(
        app.get("/v1/api-keys", &viewer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn revoking_twice_is_harmless_and_replays_omit_the_secret() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let send = || {
        app.client
            .post(app.url("/v1/api-keys"))
            .header("authorization", bearer(&t.token))
            .header("idempotency-key", "k1")
            .json(&json!({"name": "erp", "permissions": ["users_read"]}))
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    assert!(first["key"].is_string());
    let r = send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let replay: Value = r.json().await.unwrap();
    assert!(replay.get("key").is_none(), "secrets are never stored");
    assert_eq!(replay["id"], first["id"]);
    let path = format!("/v1/api-keys/{}", first["id"].as_str().unwrap());
    assert_eq!(
        app.delete(&path, &t.token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&path, &t.token).await.status(),
        StatusCode::NO_CONTENT
    );
    let page: Value = app
        .get("/v1/api-keys", &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(page["items"][0]["revoked_at"].is_string());
}
