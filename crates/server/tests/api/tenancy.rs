//! Tenant isolation in the database, read-only tenants, per-tenant rate limits, schema
//! version checks.

use logiflow_server::admin;
use logiflow_server::config::{Config, Secret};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, Row};
use uuid::Uuid;

use crate::helpers::*;

/// Every write route of the API (from the OpenAPI document, so new routes are covered),
/// except the auth routes, which a read-only tenant still needs, and revoking a device,
/// which only takes access away (tested in `devices`).
async fn write_routes(app: &TestApp) -> Vec<(Method, String)> {
    let doc: Value = app.openapi().await;
    let mut routes = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if path.starts_with("/v1/auth/") {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            // Revoking a device and marking alerts read stay allowed: they take access
            // away or change only a person's own view. A wave's pick list is a POST
            // that only reads.
            if method != "get"
                && !(method == "delete" && path == "/v1/devices/{id}")
                && path != "/v1/alerts/read"
                && path != "/v1/sales-orders/pick-list"
            {
                routes.push((method.to_uppercase().parse().unwrap(), path.clone()));
            }
        }
    }
    assert!(routes.len() >= 5, "{routes:?}");
    routes
}

#[tokio::test]
async fn an_expired_tenant_is_read_only() {
    let app = spawn_app().await;
    // One request per write route back to back, then the reads: more than the standard
    // plan's rate allows on a slow machine.
    app.plan("wide", 25, 1000).await;
    let t = app.tenant("acme", "wide").await;
    let (uid, _) = app.user(&t, "u@acme.example", "viewer").await;
    let (kid, key) = app
        .api_key(&t, "erp", &["settings_manage", "settings_read"])
        .await;
    admin::tenant_expire(&app.owner, "acme").await.unwrap();

    for (method, path) in write_routes(&app).await {
        let path = path.replace("{id}", &uid.to_string());
        let r = app
            .send(
                method.clone(),
                &path,
                Some(&bearer(&t.token)),
                Some(json!({})),
            )
            .await;
        problem(r, StatusCode::FORBIDDEN, "subscription_expired").await;
    }
    let r = app
        .send(
            Method::PATCH,
            "/v1/settings",
            Some(&format!("ApiKey {key}")),
            Some(json!({"locale": "de"})),
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "subscription_expired").await;
    let r = app.delete(&format!("/v1/api-keys/{kid}"), &t.token).await;
    problem(r, StatusCode::FORBIDDEN, "subscription_expired").await;

    for path in [
        "/v1/me".to_owned(),
        "/v1/users".to_owned(),
        format!("/v1/users/{uid}"),
        "/v1/api-keys".to_owned(),
        "/v1/settings".to_owned(),
        "/v1/audit".to_owned(),
    ] {
        assert_eq!(
            app.get(&path, &t.token).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    // A wave's pick list reads: answered (here: no such order), not refused as a write.
    let r = app
        .post(
            "/v1/sales-orders/pick-list",
            &t.token,
            json!({"order_ids": [Uuid::now_v7()]}),
        )
        .await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "reference_not_found").await;
    let me: Value = app.get("/v1/me", &t.token).await.json().await.unwrap();
    assert_eq!(me["subscription_expired"], true);
    // People can still sign in and out of a read-only tenant.
    let (token, refresh) = app.login("acme", &t.admin_email, PASSWORD).await;
    let r = app
        .send(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.logout(&token).await;

    admin::tenant_renew(
        &app.owner,
        "acme",
        chrono::Utc::now() + chrono::Duration::days(1),
    )
    .await
    .unwrap();
    let r = app
        .patch("/v1/settings", &t.token, json!({"locale": "de"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_plan_rate_limits_one_tenant_without_touching_another() {
    let app = spawn_app().await;
    app.plan("slow", 10, 1).await;
    let slow = app.tenant("slow", "slow").await;
    let other = app.tenant("other", "standard").await;
    // One request a second with a burst of one: of ten back-to-back requests, at least
    // one is refused however slow the machine (it would need a second between each).
    let mut limited = None;
    for _ in 0..10 {
        let r = app.get("/v1/me", &slow.token).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("rate limited");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    problem(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(
        app.get("/v1/me", &other.token).await.status(),
        StatusCode::OK
    );
}

/// The app role's connection to the test database.
async fn app_role_connection(app: &TestApp) -> PgConnection {
    PgConnection::connect(&app_database_url(app)).await.unwrap()
}

#[tokio::test]
async fn rls_hides_every_tenant_table_without_app_tenant_id() {
    let app = spawn_app_with(crate::webhooks::allow_loopback).await;
    // Put rows in every tenant table, for two tenants.
    for slug in ["acme", "beta"] {
        let t = app.tenant(slug, "standard").await;
        app.client
            .post(app.url("/v1/users"))
            .header("authorization", bearer(&t.token))
            .header("idempotency-key", "seed")
            .json(&json!({"email": "u@x.example", "display_name": "U", "role": "viewer", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        app.api_key(&t, "k", &["users_read"]).await;
        let s = crate::inventory::site(&app, t.id, 1).await;
        crate::inventory::applied(
            &app,
            &t.token,
            crate::inventory::receive(s.product, s.bins[0], 1),
        )
        .await;
        let mut device = crate::sync_push::register(&app, &t.token, &[s.warehouse]).await;
        // A lot alias: a receipt into the site's lot, declared by the device as its own.
        crate::sync_lots::seed_lot_alias(&app, &mut device, &s).await;
        // Parties, document numbers, a purchase order with a received line.
        let (_, customer, _) = crate::purchase_orders::seed_orders(&app, &t, &s).await;
        // A sales order with a reservation.
        crate::sales_orders::seed_sales_order(&app, &t, &s, &customer).await;
        // The catalog tables (and catalog_change, written by each of these creations).
        seed_catalog(&app, &t.token, slug).await;
        // Webhook endpoints, deliveries and their log.
        crate::webhooks::seed_webhook_rows(&app, &t).await;
        // Alerts (low stock of the site's products) and a read mark.
        let pool = sqlx::PgPool::connect(&app_database_url(&app))
            .await
            .unwrap();
        logiflow_server::alerts::check::sweep_tenant(
            &pool,
            logiflow_core::TenantId::from_uuid(t.id),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        let alerts = get_json(&app, "/v1/alerts", &t.token).await;
        let first = alerts["items"][0]["id"].clone();
        let r = app
            .post(
                "/v1/alerts/read",
                &t.token,
                serde_json::json!({"ids": [first]}),
            )
            .await;
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        // An import job with its staged rows (not committed, so they stay).
        crate::imports::preview(
            &app,
            &t.token,
            "kind=products",
            "text/csv",
            b"sku,name\nIMPORTED-1,Imported\n".to_vec(),
        )
        .await;
        // An imported purchase order, remembered by its reference (in a site of its own,
        // coded as the API writes codes).
        create(
            &app,
            "/v1/suppliers",
            &t.token,
            json!({"code": "IMP-SUP", "name": "Imported"}),
        )
        .await;
        let (_, wh, sku, _) = crate::inventory::coded_site(&app, t.id, 1).await;
        let po = crate::imports::preview(
            &app,
            &t.token,
            "kind=purchase_orders",
            "text/csv",
            format!("reference,supplier,warehouse,sku,qty\nERP-1,IMP-SUP,{wh},{sku},1\n")
                .into_bytes(),
        )
        .await;
        crate::imports_locations::commit(&app, &t.token, &po).await;
    }
    // Tenant tables from the catalog: every table with a tenant_id column, so a new table
    // is covered without editing this test.
    let tables: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c
         join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
         where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
         order by 1",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert!(tables.len() >= 7, "{tables:?}");
    let acme: Uuid = sqlx::query_scalar("select id from tenant where slug = 'acme'")
        .fetch_one(&app.owner)
        .await
        .unwrap();

    let mut conn = app_role_connection(&app).await;
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("select rolsuper, rolbypassrls from pg_roles where rolname = current_user")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(!superuser && !bypass);
    for table in &tables {
        let (enabled, forced, owner_is_app): (bool, bool, bool) = sqlx::query_as(
            "select relrowsecurity, relforcerowsecurity, pg_get_userbyid(relowner) = current_user
             from pg_class where relname = $1 and relnamespace = 'public'::regnamespace",
        )
        .bind(table)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(enabled && forced, "{table}: rls enabled and forced");
        assert!(!owner_is_app, "{table}: the app role owns no table");

        let owner_rows: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&app.owner)
            .await
            .unwrap();
        assert!(owner_rows > 0, "{table}: the test seeds at least one row");
        let seen: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(seen, 0, "{table}: no rows without app.tenant_id");

        // Re-insert a real row (so no other constraint can fail first): refused by RLS.
        // `overriding system value` lets the copy keep identity columns (catalog_change.seq
        // is `generated always`), so the only thing left to refuse it is the policy.
        let row: Value = sqlx::query_scalar(&format!(
            "select to_jsonb(t) from {table} t where tenant_id = $1 limit 1"
        ))
        .bind(acme)
        .fetch_one(&app.owner)
        .await
        .unwrap();
        // Generated columns (movement.needs_review) cannot be given; leave them out.
        let columns: String = sqlx::query_scalar(
            "select string_agg(quote_ident(attname), ', ' order by attnum) from pg_attribute
             where attrelid = $1::regclass and attnum > 0 and not attisdropped and attgenerated = ''",
        )
        .bind(table)
        .fetch_one(&app.owner)
        .await
        .unwrap();
        let err = sqlx::query(&format!(
            "insert into {table} ({columns}) overriding system value
             select {columns} from jsonb_populate_record(null::{table}, $1)"
        ))
        .bind(&row)
        .execute(&mut conn)
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("row-level security"),
            "{table}: {err}"
        );

        // Scoped to acme: only acme's rows.
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("select set_config('app.tenant_id', $1, true)")
            .bind(acme.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        let row = sqlx::query(&format!(
            "select count(*) filter (where tenant_id = $1) as mine, count(*) filter (where tenant_id <> $1) as theirs from {table}"
        ))
        .bind(acme)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert!(row.get::<i64, _>("mine") > 0, "{table}: own rows visible");
        assert_eq!(
            row.get::<i64, _>("theirs"),
            0,
            "{table}: no other tenant's rows"
        );
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused() {
    let app = spawn_app().await;
    sqlx::query(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
         values (99990101000000, 'from the future', true, '\\x00', 0)",
    )
    .execute(&app.owner)
    .await
    .unwrap();
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "schema not current");
    let config = Config {
        database_url: Secret::new(app._db.url()),
        jwt_secret: Some(Secret::new(JWT_SECRET)),
        ..Config::default()
    };
    let err = logiflow_server::app::prepare(config).await.unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
}

#[tokio::test]
async fn an_app_role_that_could_bypass_rls_is_refused() {
    let app = spawn_app().await;
    let role = format!("unsafe_{}", Uuid::now_v7().simple());
    sqlx::query(&format!("create role {role} login bypassrls"))
        .execute(&app.owner)
        .await
        .unwrap();
    let mut url = url::Url::parse(app._db.url()).unwrap();
    url.set_username(&role).unwrap();
    let config = Config {
        database_url: Secret::new(app._db.url()),
        app_database_url: Some(Secret::new(url.as_str())),
        jwt_secret: Some(Secret::new(JWT_SECRET)),
        ..Config::default()
    };
    let result = logiflow_server::app::prepare(config).await;
    // Roles are cluster-wide: remove it before asserting, so a failure leaves nothing.
    sqlx::query(&format!("drop role {role}"))
        .execute(&app.owner)
        .await
        .unwrap();
    let err = result.unwrap_err();
    assert!(
        err.to_string().contains("may bypass row-level security"),
        "{err}"
    );
}
