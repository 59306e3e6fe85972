//! Races the storage layer must win: concurrent creations against a quota, concurrent
//! uses of one idempotency key, concurrent uses of one refresh token. Assertions hold
//! whatever the interleaving.

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Sends all requests at once (each on its own task) and collects the responses.
async fn race(requests: Vec<RequestBuilder>) -> Vec<Response> {
    let handles: Vec<_> = requests
        .into_iter()
        .map(|r| tokio::spawn(r.send()))
        .collect();
    let mut responses = Vec::new();
    for h in handles {
        responses.push(h.await.unwrap().unwrap());
    }
    responses
}

#[tokio::test]
async fn concurrent_creations_never_exceed_the_quota() {
    let app = spawn_app().await;
    app.plan("two-users", 2, 1000).await;
    let t = app.tenant("acme", "two-users").await;
    let results = race(
        (0..6)
            .map(|i| {
                app.client
                    .post(app.url("/v1/users"))
                    .header("authorization", bearer(&t.token))
                    .json(
                        &json!({"email": format!("u{i}@acme.example"), "display_name": "U",
                                  "role": "viewer", "password": PASSWORD}),
                    )
            })
            .collect(),
    )
    .await;
    let created = results
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "one seat was left");
    for r in results
        .into_iter()
        .filter(|r| r.status() != StatusCode::CREATED)
    {
        problem(r, StatusCode::FORBIDDEN, "quota_exceeded").await;
    }
}

#[tokio::test]
async fn concurrent_uses_of_one_idempotency_key_create_once() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "enterprise").await;
    let body = json!({"email": "once@acme.example", "display_name": "U", "role": "viewer", "password": PASSWORD});
    let results = race(
        (0..4)
            .map(|_| {
                app.client
                    .post(app.url("/v1/users"))
                    .header("authorization", bearer(&t.token))
                    .header("idempotency-key", "race")
                    .json(&body)
            })
            .collect(),
    )
    .await;
    for r in results {
        // The winner and later replays answer 201; a request that raced the winner's
        // commit answers 409 (retrying it then replays the stored answer).
        assert!(
            [StatusCode::CREATED, StatusCode::CONFLICT].contains(&r.status()),
            "{}",
            r.status()
        );
    }
    let page: Value = app.get("/v1/users", &t.token).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "created once");
}

#[tokio::test]
async fn a_refresh_token_raced_twice_is_exchanged_at_most_once() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let results = race(
        (0..2)
            .map(|_| {
                app.client
                    .post(app.url("/v1/auth/refresh"))
                    .json(&json!({"refresh_token": t.refresh}))
            })
            .collect(),
    )
    .await;
    let ok = results
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert!(ok <= 1, "a single-use token was exchanged {ok} times");
}
