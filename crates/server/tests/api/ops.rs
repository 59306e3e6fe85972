//! `/healthz`, `/readyz`, `/metrics`, request ids, the OpenAPI document, errors at the edge.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn healthz_and_readyz_answer_ok() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["schema_binary"], v["schema_database"]);
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    // Errors carry it too.
    let r = app.client.get(app.url("/nope")).send().await.unwrap();
    assert!(r.headers().contains_key("x-request-id"));
    problem(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_report_the_pool() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    app.get(&format!("/v1/users/{}", t.admin_id), &t.token)
        .await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains(r#"route="/v1/users/{id}""#)
            && l.contains(r#"status="200""#)),
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds_bucket{"));
    assert!(text.contains("db_pool_connections"));
    assert!(text.contains("db_pool_idle_connections"));
    assert!(!text.contains(&t.admin_id.to_string()), "no ids in labels");
}

#[tokio::test]
async fn openapi_documents_every_route_error_codes_and_auth_schemes() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/me",
        "/v1/users",
        "/v1/users/{id}",
        "/v1/api-keys",
        "/v1/api-keys/{id}",
        "/v1/settings",
        "/v1/audit",
        "/v1/warehouses",
        "/v1/warehouses/{id}",
        "/v1/locations",
        "/v1/locations/{id}",
        "/v1/products",
        "/v1/products/{id}",
        "/v1/lots",
        "/v1/lots/{id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["in"], "header");
    // Every authenticated operation documents the answers its extractor can give.
    let mut authenticated = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("security").is_some() {
                authenticated += 1;
                for status in ["401", "429"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} documents {status}"
                    );
                }
            }
        }
    }
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|ops| ops.as_object().unwrap().len())
        .sum();
    // Only probes and the credential exchanges are open.
    let public = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/auth/login",
        "/v1/auth/refresh",
    ];
    assert_eq!(
        authenticated,
        operations - public.len(),
        "every operation but {public:?} is behind authentication"
    );
    let codes = doc["components"]["schemas"]["ErrorCode"].to_string();
    for code in [
        "quota_exceeded",
        "subscription_expired",
        "rate_limited",
        "idempotency_key_reused",
        "not_found",
        "reference_not_found",
        "invalid_parent",
        "location_has_stock",
        "location_has_children",
        "location_has_history",
        "barcode_taken",
        "product_not_lot_tracked",
        "product_has_lots",
        "product_has_stock",
        "invalid_custom_fields",
        "invalid_field_schema",
    ] {
        assert!(codes.contains(code), "{code} documented");
    }
}

#[tokio::test]
async fn wrong_methods_answer_a_problem() {
    let app = spawn_app().await;
    let r = app
        .client
        .delete(app.url("/v1/settings"))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn long_request_ids_are_cut_in_the_audit_log() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let long = "x".repeat(1000);
    app.client
        .patch(app.url("/v1/settings"))
        .header("authorization", bearer(&t.token))
        .header("x-request-id", &long)
        .json(&serde_json::json!({"locale": "de"}))
        .send()
        .await
        .unwrap();
    let page: Value = app
        .get("/v1/audit?action=settings.update", &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["request_id"].as_str().unwrap().len(), 128);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let app = spawn_app_with(|c| c.body_limit_bytes = 1024).await;
    let r = app
        .send(
            reqwest::Method::POST,
            "/v1/auth/login",
            None,
            Some(
                serde_json::json!({"tenant": "a", "email": "a@b.c", "password": "x".repeat(4096)}),
            ),
        )
        .await;
    problem(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn internal_errors_answer_a_generic_problem() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    // Break the settings row's table behind the server's back: the request fails inside.
    sqlx::query("alter table tenant_setting rename column locale to locale_gone")
        .execute(&app.owner)
        .await
        .unwrap();
    let r = app.get("/v1/settings", &t.token).await;
    let v = problem(r, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    let detail = v["detail"].as_str().unwrap();
    assert!(!detail.contains("locale"), "no internals leak: {detail}");
}

#[tokio::test]
async fn requests_past_the_timeout_are_abandoned() {
    // A zero budget: whatever waits on the database is abandoned at its first wait, so
    // this does not depend on how fast the machine is.
    let app = spawn_app_with(|c| c.request_timeout_ms = 0).await;
    let now = chrono::Utc::now().timestamp();
    let token = sign(
        &logiflow_server::auth::tokens::Claims {
            sub: uuid::Uuid::now_v7(),
            tid: uuid::Uuid::now_v7(),
            role: "admin".into(),
            sid: uuid::Uuid::now_v7(),
            jti: uuid::Uuid::now_v7(),
            iat: now,
            exp: now + 60,
        },
        JWT_SECRET,
    );
    let r = app.get("/v1/me", &token).await;
    problem(r, StatusCode::SERVICE_UNAVAILABLE, "timeout").await;
    // What needs no waiting still answers.
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn imports_and_exports_have_a_timeout_of_their_own() {
    // The bulk routes' budget is their own: zero here abandons an upload (reading 20,000
    // rows takes far longer than the timer's millisecond), while every other route keeps
    // the normal one. Which routes are bulk is unit-tested in `app`.
    let app = spawn_app_with(|c| c.bulk_request_timeout_ms = 0).await;
    let t = app.tenant("acme", "standard").await;
    let r = app.get("/v1/me", &t.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut file = String::from("sku,name\n");
    for i in 0..20_000 {
        file.push_str(&format!("BULK-{i},Product {i}\n"));
    }
    let r = app
        .client
        .post(app.url("/v1/imports?kind=products"))
        .header("authorization", format!("Bearer {}", t.token))
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::SERVICE_UNAVAILABLE, "timeout").await;
    let jobs: i64 = sqlx::query_scalar("select count(*) from import_job")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "an abandoned upload created nothing");
}

#[tokio::test]
async fn readyz_reports_an_unreachable_database() {
    // A pool whose server is gone (nothing listens on port 1), on a short leash.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap();
    let state = logiflow_server::state::AppState::new(
        pool,
        logiflow_server::config::Config::default(),
        logiflow_server::config::Secret::new(JWT_SECRET),
        logiflow_server::telemetry::metrics_handle(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(logiflow_server::app::serve(
        listener,
        state,
        std::future::pending(),
    ));
    let r = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "database unreachable");
    let r = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "alive even without its database"
    );
}
