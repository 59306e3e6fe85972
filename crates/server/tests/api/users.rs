//! `/v1/users`: create, list with pagination, read, update, permissions, quota,
//! idempotency, conflicts.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn new_user(email: &str) -> Value {
    json!({"email": email, "display_name": "New", "role": "operator", "password": PASSWORD})
}

#[tokio::test]
async fn admin_creates_reads_updates_and_lists_users() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let r = app
        .post("/v1/users", &t.token, new_user("New@Acme.Example"))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["email"], "new@acme.example");
    assert_eq!(created["role"], "operator");
    assert_eq!(created["disabled"], false);
    assert!(created.get("password_hash").is_none());
    let id = created["id"].as_str().unwrap();

    let got: Value = app
        .get(&format!("/v1/users/{id}"), &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, created);

    let r = app
        .patch(
            &format!("/v1/users/{id}"),
            &t.token,
            json!({"role": "purchasing", "display_name": "Renamed"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["role"], "purchasing");
    assert_eq!(updated["display_name"], "Renamed");

    let page: Value = app.get("/v1/users", &t.token).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["next_cursor"].is_null());
}

#[tokio::test]
async fn lists_paginate_with_opaque_cursors() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "enterprise").await;
    for i in 0..4 {
        let r = app
            .post(
                "/v1/users",
                &t.token,
                new_user(&format!("u{i}@acme.example")),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/users?limit=2&cursor={c}"),
            None => "/v1/users?limit=2".to_owned(),
        };
        let page: Value = app.get(&path, &t.token).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "no duplicates");

    for bad in ["limit=0", "limit=501", "cursor=%21%21", "limit=abc"] {
        let r = app.get(&format!("/v1/users?{bad}"), &t.token).await;
        problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let r = app.get("/v1/users?limit=500", &t.token).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn invalid_input_is_refused() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    for body in [
        json!({"email": "no-at-sign", "display_name": "x", "role": "viewer", "password": PASSWORD}),
        json!({"email": "a@b.c", "display_name": "", "role": "viewer", "password": PASSWORD}),
        json!({"email": "a@b.c", "display_name": "x", "role": "viewer", "password": "short"}),
        // PostgreSQL's text cannot hold NUL: refused as input, never a failed insert.
        json!({"email": "a@b.c", "display_name": "Ann\u{0}e", "role": "viewer", "password": PASSWORD}),
    ] {
        let r = app.post("/v1/users", &t.token, body).await;
        problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let r = app
        .post(
            "/v1/users",
            &t.token,
            json!({"email": "a@b.c", "display_name": "x", "role": "superuser", "password": PASSWORD}),
        )
        .await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let r = app
        .client
        .post(app.url("/v1/users"))
        .header("authorization", bearer(&t.token))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let r = app
        .client
        .post(app.url("/v1/users"))
        .header("authorization", bearer(&t.token))
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
    // None of the refused bodies made a user: the address is still free.
    let r = app
        .post(
            "/v1/users",
            &t.token,
            json!({"email": "a@b.c", "display_name": "Anne", "role": "viewer", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A change to a name with NUL is refused the same way, and changes nothing.
    let r = app
        .patch(
            &format!("/v1/users/{id}"),
            &t.token,
            json!({"display_name": "An\u{0}ne"}),
        )
        .await;
    problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
    let user: serde_json::Value = app
        .get(&format!("/v1/users/{id}"), &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["display_name"], "Anne");
}

#[tokio::test]
async fn duplicate_email_conflicts_by_constraint() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    app.post("/v1/users", &t.token, new_user("dup@acme.example"))
        .await;
    let r = app
        .post("/v1/users", &t.token, new_user("DUP@acme.example"))
        .await;
    let v = problem(r, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(v["detail"], "a user with this email exists");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    for path in [
        format!("/v1/users/{}", uuid::Uuid::now_v7()),
        "/v1/users/not-a-uuid".to_owned(),
    ] {
        problem(
            app.get(&path, &t.token).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        problem(
            app.patch(&path, &t.token, json!({"role": "viewer"})).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
}

#[tokio::test]
async fn admins_cannot_lock_themselves_out() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let path = format!("/v1/users/{}", t.admin_id);
    for body in [json!({"role": "viewer"}), json!({"disabled": true})] {
        problem(
            app.patch(&path, &t.token, body).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    let r = app
        .patch(
            &path,
            &t.token,
            json!({"display_name": "Me", "role": "admin"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn only_permitted_roles_read_or_manage_users() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let (_, manager) = app.user(&t, "m@acme.example", "manager").await;
    let (viewer_id, viewer) = app.user(&t, "v@acme.example", "viewer").await;
    assert_eq!(
        app.get("/v1/users", &manager).await.status(),
        StatusCode::OK
    );
    problem(
        app.post("/v1/users", &manager, new_user("x@acme.example"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    problem(
        app.get("/v1/users", &viewer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    problem(
        app.get(&format!("/v1/users/{viewer_id}"), &viewer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    problem(
        app.patch(
            &format!("/v1/users/{viewer_id}"),
            &manager,
            json!({"role": "admin"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let r = app.send(Method::GET, "/v1/users", None, None).await;
    problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn user_quota_allows_up_to_the_limit_and_refuses_one_more() {
    let app = spawn_app().await;
    // 3 users; the admin is the first.
    app.plan("three-users", 3, 1000).await;
    let t = app.tenant("acme", "three-users").await;
    for i in 0..2 {
        let r = app
            .post(
                "/v1/users",
                &t.token,
                new_user(&format!("u{i}@acme.example")),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "user {i} within the limit");
    }
    let r = app
        .post("/v1/users", &t.token, new_user("one-too-many@acme.example"))
        .await;
    let v = problem(r, StatusCode::FORBIDDEN, "quota_exceeded").await;
    assert_eq!(v["limit"], 3);
    assert_eq!(v["resource"], "users");

    // Disabling frees a seat; re-enabling needs one.
    let page: Value = app.get("/v1/users", &t.token).await.json().await.unwrap();
    let other = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] != t.admin_id.to_string())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.patch(
        &format!("/v1/users/{other}"),
        &t.token,
        json!({"disabled": true}),
    )
    .await;
    let r = app
        .post("/v1/users", &t.token, new_user("fits-now@acme.example"))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .patch(
            &format!("/v1/users/{other}"),
            &t.token,
            json!({"disabled": false}),
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "quota_exceeded").await;
}

#[tokio::test]
async fn idempotency_key_replays_the_same_answer_and_refuses_another_body() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let send = |body: Value| {
        app.client
            .post(app.url("/v1/users"))
            .header("authorization", bearer(&t.token))
            .header("idempotency-key", "create-u1")
            .json(&body)
            .send()
    };
    let first = send(new_user("u1@acme.example")).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send(new_user("u1@acme.example")).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let page: Value = app.get("/v1/users", &t.token).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "created once");

    let other = send(new_user("u2@acme.example")).await.unwrap();
    problem(
        other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    // The same key in another tenant is another key.
    let b = app.tenant("beta", "standard").await;
    let r = app
        .client
        .post(app.url("/v1/users"))
        .header("authorization", bearer(&b.token))
        .header("idempotency-key", "create-u1")
        .json(&new_user("u1@acme.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_ne!(v["id"], first["id"]);
}

#[tokio::test]
async fn idempotency_keys_expire_after_a_day() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let send = |email: &'static str| {
        app.client
            .post(app.url("/v1/users"))
            .header("authorization", bearer(&t.token))
            .header("idempotency-key", "old")
            .json(&new_user(email))
            .send()
    };
    assert_eq!(
        send("a@acme.example").await.unwrap().status(),
        StatusCode::CREATED
    );
    sqlx::query("update idempotency_key set created_at = now() - interval '25 hours'")
        .execute(&app.owner)
        .await
        .unwrap();
    // Forgotten: the same key with another body is a new request, not a reuse.
    assert_eq!(
        send("b@acme.example").await.unwrap().status(),
        StatusCode::CREATED
    );
    let kept: i64 = sqlx::query_scalar("select count(*) from idempotency_key")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(kept, 1, "the expired record was pruned");
}
