//! Login, refresh rotation and reuse detection, logout, token validation, API keys as
//! credentials, the login rate limit.

use logiflow_server::auth::tokens::Claims;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.send(
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": token})),
    )
    .await
}

#[tokio::test]
async fn login_issues_short_lived_tokens_that_authenticate() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let r = app
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"tenant": "ACME", "email": " Admin@Acme.Example ", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["expires_in"].as_u64().unwrap() <= 900);
    let me: Value = app.get("/v1/me", &t.token).await.json().await.unwrap();
    assert_eq!(me["tenant_id"], t.id.to_string());
    assert_eq!(me["actor_id"], t.admin_id.to_string());
    assert_eq!(me["role"], "admin");
}

#[tokio::test]
async fn wrong_password_unknown_email_and_unknown_tenant_look_the_same() {
    let app = spawn_app().await;
    app.tenant("acme", "standard").await;
    for (tenant, email, password) in [
        ("acme", "admin@acme.example", "wrong password!!"),
        ("acme", "nobody@acme.example", PASSWORD),
        ("nope", "admin@acme.example", PASSWORD),
    ] {
        let r = app
            .send(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"tenant": tenant, "email": email, "password": password})),
            )
            .await;
        let v = problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert_eq!(v["detail"], "invalid credentials");
    }
    let r = app
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"tenant": "acme"})),
        )
        .await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_session() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let r = refresh(&app, &t.refresh).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let second_refresh = v["refresh_token"].as_str().unwrap().to_owned();
    let second_access = v["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, t.refresh);
    assert_eq!(
        app.get("/v1/me", &second_access).await.status(),
        StatusCode::OK
    );

    // The first token again: a thief or a replay. The session dies, with every token.
    problem(
        refresh(&app, &t.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    problem(
        refresh(&app, &second_refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    problem(
        app.get("/v1/me", &second_access).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    problem(
        app.get("/v1/me", &t.token).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // Another session of the same user is unaffected.
    let (other, _) = app.login("acme", &t.admin_email, PASSWORD).await;
    assert_eq!(app.get("/v1/me", &other).await.status(), StatusCode::OK);
    // The revocation is audited, without naming whoever presented the token.
    let page: Value = app
        .get("/v1/audit?action=session.revoke_reused_token", &other)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["actor_type"], "system");
}

async fn refresh_keyed(app: &TestApp, token: &str, key: &str) -> reqwest::Response {
    app.send(
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": token, "retry_key": key})),
    )
    .await
}

#[tokio::test]
async fn a_refresh_whose_answer_was_lost_is_retried_with_its_key_and_nothing_else_is() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let key = "k3y-0f-th3-f1rst-exchange";
    // The exchange happens; its answer is lost (never read).
    let lost = refresh_keyed(&app, &t.refresh, key).await;
    assert_eq!(lost.status(), StatusCode::OK);
    let lost: Value = lost.json().await.unwrap();
    // The client sends the same token with the same key: a new pair, and the lost one
    // stops working (it was never delivered, so nobody can hold it legitimately).
    let r = refresh_keyed(&app, &t.refresh, key).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let second = v["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, lost["refresh_token"].as_str().unwrap());
    problem(
        refresh(&app, lost["refresh_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    // A retry again (its answer lost too) still works while the pair is unused.
    let r = refresh_keyed(&app, &t.refresh, key).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let third = v["refresh_token"].as_str().unwrap().to_owned();
    let access = v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/me", &access).await.status(), StatusCode::OK);
    problem(
        refresh(&app, &second).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(app.get("/v1/me", &access).await.status(), StatusCode::OK);
    // Once the new pair is used, the old token is spent for good: with its key it is a
    // reuse, and the session is revoked.
    let r = refresh_keyed(&app, &third, "another-key-for-the-next-one").await;
    assert_eq!(r.status(), StatusCode::OK);
    let fourth: Value = r.json().await.unwrap();
    problem(
        refresh_keyed(&app, &t.refresh, key).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    problem(
        app.get("/v1/me", fourth["access_token"].as_str().unwrap())
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn a_spent_token_with_a_wrong_or_no_retry_key_is_a_reuse() {
    let app = spawn_app().await;
    for (i, second_key) in [Some("not-the-key-it-was-sent-with"), None]
        .into_iter()
        .enumerate()
    {
        let t = app.tenant(&format!("acme{i}"), "standard").await;
        let r = refresh_keyed(&app, &t.refresh, "the-key-it-was-sent-with").await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        let access = v["access_token"].as_str().unwrap().to_owned();
        let again = match second_key {
            Some(k) => refresh_keyed(&app, &t.refresh, k).await,
            None => refresh(&app, &t.refresh).await,
        };
        problem(again, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
        problem(
            app.get("/v1/me", &access).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
    }
    // A key too short to be random is refused before anything is spent.
    let t = app.tenant("acme9", "standard").await;
    problem(
        refresh_keyed(&app, &t.refresh, "short").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_eq!(refresh(&app, &t.refresh).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_and_unknown_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    for token in ["garbage", "lfr_", &t.refresh.replace("lfr_", "lfk_")] {
        problem(
            refresh(&app, token).await,
            StatusCode::UNAUTHORIZED,
            "invalid_refresh_token",
        )
        .await;
    }
    // Right tenant prefix, unknown secret.
    let mut forged = t.refresh.clone();
    forged.pop();
    forged.push(if t.refresh.ends_with('A') { 'B' } else { 'A' });
    problem(
        refresh(&app, &forged).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    app.logout(&t.token).await;
    problem(
        app.get("/v1/me", &t.token).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    problem(
        refresh(&app, &t.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    let r = app.send(Method::POST, "/v1/auth/logout", None, None).await;
    problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

fn claims_of(t: &Tenant) -> Claims {
    // A real token's claims, to forge variations of it.
    claims_of_token(&t.token)
}

#[tokio::test]
async fn expired_tampered_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let claims = claims_of(&t);
    let now = chrono::Utc::now().timestamp();
    let expired = sign(
        &Claims {
            iat: now - 3600,
            exp: now - 1800,
            ..claims.clone()
        },
        JWT_SECRET,
    );
    let wrong_key = sign(&claims, "another-secret-of-at-least-32-bytes!!");
    // Payload swapped to another user but the original signature kept.
    let mut parts: Vec<&str> = t.token.split('.').collect();
    let forged_payload = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                sub: Uuid::now_v7(),
                ..claims.clone()
            })
            .unwrap(),
        )
    };
    parts[1] = &forged_payload;
    let tampered = parts.join(".");
    // Validly signed, but for a session that does not exist.
    let unknown_session = sign(
        &Claims {
            sid: Uuid::now_v7(),
            ..claims.clone()
        },
        JWT_SECRET,
    );
    for token in [
        expired.as_str(),
        wrong_key.as_str(),
        tampered.as_str(),
        unknown_session.as_str(),
        "not.a.jwt",
    ] {
        let r = app.get("/v1/me", token).await;
        assert!(r.headers().contains_key("www-authenticate"));
        problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    for header in ["Basic abc", "Bearer", "Token x"] {
        let r = app.send(Method::GET, "/v1/me", Some(header), None).await;
        problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    assert_eq!(app.get("/v1/me", &t.token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn short_access_token_ttl_is_configurable() {
    let app = spawn_app_with(|c| c.access_token_ttl_secs = 1).await;
    let t = app.tenant("acme", "standard").await;
    let claims = claims_of(&t);
    assert_eq!(claims.exp - claims.iat, 1);
}

#[tokio::test]
async fn disabling_a_user_takes_effect_on_the_next_request() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let (id, token) = app.user(&t, "op@acme.example", "operator").await;
    assert_eq!(app.get("/v1/me", &token).await.status(), StatusCode::OK);
    let r = app
        .patch(
            &format!("/v1/users/{id}"),
            &t.token,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    problem(
        app.get("/v1/me", &token).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let r = app
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"tenant": "acme", "email": "op@acme.example", "password": PASSWORD})),
        )
        .await;
    problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn role_changes_take_effect_on_the_next_request() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let (id, token) = app.user(&t, "m@acme.example", "manager").await;
    assert_eq!(app.get("/v1/users", &token).await.status(), StatusCode::OK);
    app.patch(
        &format!("/v1/users/{id}"),
        &t.token,
        json!({"role": "viewer"}),
    )
    .await;
    problem(
        app.get("/v1/users", &token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn api_keys_authenticate_in_both_schemes_until_revoked() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let (id, key) = app.api_key(&t, "erp", &["users_read"]).await;
    for header in [format!("ApiKey {key}"), format!("Bearer {key}")] {
        let r = app.send(Method::GET, "/v1/me", Some(&header), None).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["actor_type"], "api_key");
        assert_eq!(v["permissions"], json!(["users_read"]));
    }
    let r = app
        .send(
            Method::GET,
            "/v1/users",
            Some(&format!("ApiKey {key}")),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Out of scope.
    let r = app
        .send(
            Method::GET,
            "/v1/audit",
            Some(&format!("ApiKey {key}")),
            None,
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    // Keys have no session to log out of.
    let r = app
        .send(
            Method::POST,
            "/v1/auth/logout",
            Some(&format!("ApiKey {key}")),
            None,
        )
        .await;
    problem(r, StatusCode::BAD_REQUEST, "bad_request").await;

    assert_eq!(
        app.delete(&format!("/v1/api-keys/{id}"), &t.token)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let r = app
        .send(Method::GET, "/v1/me", Some(&format!("ApiKey {key}")), None)
        .await;
    problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let mut wrong = key.clone();
    wrong.pop();
    let r = app
        .send(
            Method::GET,
            "/v1/me",
            Some(&format!("ApiKey {wrong}x")),
            None,
        )
        .await;
    problem(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn login_attempts_are_limited_per_account() {
    let app = spawn_app_with(|c| c.login_attempts_per_account_per_minute = 3).await;
    let t = app.tenant("acme", "standard").await; // one attempt used by the fixture
    let attempt = || {
        app.send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"tenant": "acme", "email": t.admin_email, "password": "wrong password!!"})),
        )
    };
    let mut limited = None;
    // A minute-long window refills one attempt every 20 s: far longer than this loop.
    for _ in 0..6 {
        let r = attempt().await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = limited.expect("the limit is reached");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let v = problem(r, StatusCode::TOO_MANY_REQUESTS, "too_many_login_attempts").await;
    assert_eq!(v["retry_after"], retry);
    // Another account from the same address is not affected.
    let (_, _) = app.user(&t, "other@acme.example", "viewer").await;
}

#[tokio::test]
async fn login_attempts_are_limited_per_address() {
    let app = spawn_app_with(|c| c.login_attempts_per_address_per_minute = 3).await;
    app.tenant("acme", "standard").await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let r = app
            .send(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"tenant": "acme", "email": format!("u{i}@acme.example"), "password": "x"})),
            )
            .await;
        statuses.push(r.status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn refreshing_prunes_the_sessions_expired_tokens_and_refuses_them() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let r = refresh(&app, &t.refresh).await;
    let v: Value = r.json().await.unwrap();
    let current = v["refresh_token"].as_str().unwrap().to_owned();
    // Age the first (used) token past its expiry.
    sqlx::query("update refresh_token set expires_at = now() - interval '1 second' where used_at is not null")
        .execute(&app.owner)
        .await
        .unwrap();
    let r = refresh(&app, &current).await;
    assert_eq!(r.status(), StatusCode::OK);
    let rows: i64 = sqlx::query_scalar("select count(*) from refresh_token")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(
        rows, 2,
        "the expired token was pruned; the used and the new one remain"
    );
    // An expired token is refused without revoking the session (it is not a reuse).
    let mut tx = app.owner.begin().await.unwrap();
    sqlx::query(
        "update refresh_token set expires_at = now() - interval '1 second' where used_at is null",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let v: Value = r.json().await.unwrap();
    problem(
        refresh(&app, v["refresh_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(app.get("/v1/me", &t.token).await.status(), StatusCode::OK);
}
