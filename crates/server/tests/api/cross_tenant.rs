//! Cross-tenant suite: tenant B's principals aim at tenant A's resources, or inject A's
//! tenant id in bodies and queries. Every route of the OpenAPI document must have a case
//! here: `every_documented_route_has_a_cross_tenant_case` fails otherwise.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;

/// The routes with a case in [`run_case`].
const COVERED: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    ("GET", "/v1/me"),
    ("GET", "/v1/users"),
    ("POST", "/v1/users"),
    ("GET", "/v1/users/{id}"),
    ("PATCH", "/v1/users/{id}"),
    ("GET", "/v1/api-keys"),
    ("POST", "/v1/api-keys"),
    ("DELETE", "/v1/api-keys/{id}"),
    ("GET", "/v1/settings"),
    ("PATCH", "/v1/settings"),
    ("GET", "/v1/audit"),
    ("POST", "/v1/movements"),
    ("GET", "/v1/movements"),
    ("GET", "/v1/movements/{id}"),
    ("GET", "/v1/stock"),
    ("GET", "/v1/stock/totals"),
    ("GET", "/v1/stock/low"),
    ("POST", "/v1/devices"),
    ("GET", "/v1/devices"),
    ("DELETE", "/v1/devices/{id}"),
    ("POST", "/v1/devices/{id}/session"),
    ("POST", "/v1/devices/{id}/journal"),
    ("POST", "/v1/sync/push"),
    ("GET", "/v1/sync/pull"),
    ("POST", "/v1/movements/{id}/force"),
    ("POST", "/v1/movements/{id}/void"),
    ("GET", "/v1/warehouses"),
    ("POST", "/v1/warehouses"),
    ("GET", "/v1/warehouses/{id}"),
    ("PATCH", "/v1/warehouses/{id}"),
    ("GET", "/v1/locations"),
    ("POST", "/v1/locations"),
    ("POST", "/v1/locations/generate"),
    ("GET", "/v1/locations/{id}"),
    ("PATCH", "/v1/locations/{id}"),
    ("DELETE", "/v1/locations/{id}"),
    ("GET", "/v1/products"),
    ("POST", "/v1/products"),
    ("GET", "/v1/products/{id}"),
    ("PATCH", "/v1/products/{id}"),
    ("GET", "/v1/lots"),
    ("POST", "/v1/lots"),
    ("GET", "/v1/lots/{id}"),
    ("PATCH", "/v1/lots/{id}"),
    ("GET", "/v1/webhook-endpoints"),
    ("POST", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints/{id}"),
    ("PATCH", "/v1/webhook-endpoints/{id}"),
    ("DELETE", "/v1/webhook-endpoints/{id}"),
    ("POST", "/v1/webhook-endpoints/{id}/rotate-secret"),
    ("GET", "/v1/webhook-endpoints/{id}/attempts"),
    ("POST", "/v1/webhook-endpoints/{id}/replay"),
    ("POST", "/v1/webhook-deliveries/{id}/replay"),
    ("GET", "/v1/suppliers"),
    ("POST", "/v1/suppliers"),
    ("GET", "/v1/suppliers/{id}"),
    ("PATCH", "/v1/suppliers/{id}"),
    ("GET", "/v1/customers"),
    ("POST", "/v1/customers"),
    ("GET", "/v1/customers/{id}"),
    ("PATCH", "/v1/customers/{id}"),
    ("GET", "/v1/purchase-orders"),
    ("POST", "/v1/purchase-orders"),
    ("GET", "/v1/purchase-orders/{id}"),
    ("PATCH", "/v1/purchase-orders/{id}"),
    ("POST", "/v1/purchase-orders/{id}/order"),
    ("POST", "/v1/purchase-orders/{id}/cancel"),
    ("POST", "/v1/purchase-orders/{id}/close"),
    ("POST", "/v1/purchase-orders/{id}/lines"),
    ("PATCH", "/v1/purchase-orders/{id}/lines/{line_id}"),
    ("DELETE", "/v1/purchase-orders/{id}/lines/{line_id}"),
    ("GET", "/v1/sales-orders"),
    ("POST", "/v1/sales-orders"),
    ("GET", "/v1/sales-orders/{id}"),
    ("POST", "/v1/sales-orders/{id}/confirm"),
    ("POST", "/v1/sales-orders/{id}/allocate"),
    ("POST", "/v1/sales-orders/{id}/cancel"),
    ("GET", "/v1/sales-orders/{id}/pick-list"),
    ("POST", "/v1/sales-orders/pick-list"),
    ("PATCH", "/v1/sales-orders/{id}"),
    ("POST", "/v1/sales-orders/{id}/lines"),
    ("PATCH", "/v1/sales-orders/{id}/lines/{line_id}"),
    ("DELETE", "/v1/sales-orders/{id}/lines/{line_id}"),
    ("GET", "/v1/alerts"),
    ("POST", "/v1/alerts/read"),
    ("POST", "/v1/imports"),
    ("GET", "/v1/imports/{id}"),
    ("GET", "/v1/imports/{id}/rows"),
    ("POST", "/v1/imports/{id}/commit"),
    ("GET", "/v1/exports/products"),
    ("GET", "/v1/exports/stock"),
    ("GET", "/v1/exports/movements"),
    ("GET", "/v1/exports/locations"),
    ("GET", "/v1/exports/audit"),
    ("GET", "/v1/exports/suppliers"),
    ("GET", "/v1/exports/customers"),
    ("GET", "/v1/exports/lots"),
];

struct World {
    app: TestApp,
    a: Tenant,
    a_user: Uuid,
    a_user_token: String,
    a_key: Uuid,
    a_key_secret: String,
    /// A's stock: 5 of `a_site.product` in its first bin, by `a_movement`.
    a_site: Site,
    a_movement: String,
    /// A's warehouse, location, product (barcode `INT-A`, SKU `SKU-A`) and lot.
    a_cat: CatalogSeed,
    b: Tenant,
    b_site: Site,
    /// A's webhook endpoint and a dead-lettered delivery of it.
    a_hook: Uuid,
    a_delivery: Uuid,
    /// A's supplier (`SUP-A`), customer (`CUS-A`) and an ordered purchase order of 10
    /// of `a_site.product` into `a_site`'s warehouse, of which 3 were received.
    a_supplier: Value,
    a_customer: Value,
    a_po: Value,
    /// A's confirmed sales order of 2 of `a_site.tracked` (back-ordered: none in stock).
    a_so: Value,
    /// A's `stock.low` alerts (raised by a sweep of A).
    a_alerts: Vec<Uuid>,
    /// A's ready import updating `SKU-A` (not committed).
    a_import: Value,
}

async fn world() -> World {
    let app = spawn_app_with(crate::webhooks::allow_loopback).await;
    // B sends a hundred-odd requests back to back: a rate it stays under on any machine.
    app.plan("wide", 25, 1000).await;
    let a = app.tenant("tenant-a", "wide").await;
    let b = app.tenant("tenant-b", "wide").await;
    let (a_user, a_user_token) = app.user(&a, "same@example.com", "manager").await;
    // B has a user with the same email: emails are unique per tenant only.
    app.user(&b, "same@example.com", "viewer").await;
    let (a_key, a_key_secret) = app.api_key(&a, "a-key", &["users_read"]).await;
    let a_site = site(&app, a.id, 2).await;
    let b_site = site(&app, b.id, 2).await;
    let a_movement =
        applied(&app, &a.token, receive(a_site.product, a_site.bins[0], 5)).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let a_cat = seed_catalog(&app, &a.token, "A").await;
    let (a_hook, a_delivery) = crate::webhooks::seed_webhook_rows(&app, &a).await;
    let (a_supplier, a_customer, a_po) =
        crate::purchase_orders::seed_orders(&app, &a, &a_site).await;
    let a_so = create(
        &app,
        "/v1/sales-orders",
        &a.token,
        json!({"customer_id": a_customer["id"], "warehouse_id": a_site.warehouse,
               "requested_on": "2027-01-01",
               "lines": [{"product_id": a_site.tracked, "qty": 2, "unit_price": "1"}]}),
    )
    .await;
    let confirm = format!("/v1/sales-orders/{}/confirm", id_of(&a_so));
    let a_so: Value = app
        .post(&confirm, &a.token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a_so["status"], "confirmed", "{a_so}");
    let pool = sqlx::PgPool::connect(&app_database_url(&app))
        .await
        .unwrap();
    logiflow_server::alerts::check::sweep_tenant(
        &pool,
        logiflow_core::TenantId::from_uuid(a.id),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let a_alerts: Vec<Uuid> = sqlx::query_scalar("select id from alert where tenant_id = $1")
        .bind(a.id)
        .fetch_all(&app.owner)
        .await
        .unwrap();
    assert!(!a_alerts.is_empty());
    let a_import = crate::imports::preview(
        &app,
        &a.token,
        "kind=products",
        "text/csv",
        b"sku,name\nSKU-A,Renamed by A\n".to_vec(),
    )
    .await;
    assert_eq!(a_import["to_update"], 1, "{a_import}");
    World {
        a_import,
        a_alerts,
        a_so,
        a_supplier,
        a_customer,
        a_po,
        a_hook,
        a_delivery,
        a_site,
        a_movement,
        b_site,
        app,
        a,
        a_user,
        a_user_token,
        a_key,
        a_key_secret,
        a_cat,
        b,
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_users(w: &World) -> Value {
    w.app
        .get("/v1/users", &w.a.token)
        .await
        .json()
        .await
        .unwrap()
}

/// One case per route: B acts, A is unaffected and nothing of A leaks.
async fn run_case(w: &World, method: &str, path: &str) {
    let app = &w.app;
    let b = &w.b.token;
    let a_id = w.a.id.to_string();
    match (method, path) {
        ("GET", "/healthz") | ("GET", "/readyz") => {
            let text = app
                .client
                .get(app.url(path))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(!text.contains(&a_id));
        }
        ("GET", "/metrics") => {
            let text = app
                .client
                .get(app.url(path))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(!text.contains(&a_id) && !text.contains("tenant-a"));
        }
        ("POST", "/v1/auth/login") => {
            // B's admin credentials against A's slug.
            let r = app
                .send(
                    Method::POST,
                    path,
                    None,
                    Some(json!({"tenant": "tenant-a", "email": w.b.admin_email, "password": PASSWORD})),
                )
                .await;
            problem(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
            // Same email in both tenants: B's slug logs into B.
            let (token, _) = app.login("tenant-b", "same@example.com", PASSWORD).await;
            let me: Value = app.get("/v1/me", &token).await.json().await.unwrap();
            assert_eq!(me["tenant_id"], w.b.id.to_string());
        }
        ("POST", "/v1/auth/refresh") => {
            // B's refresh token with its tenant part rewritten to A.
            let raw = URL_SAFE_NO_PAD
                .decode(w.b.refresh.strip_prefix("lfr_").unwrap())
                .unwrap();
            let mut forged = w.a.id.as_bytes().to_vec();
            forged.extend_from_slice(&raw[16..]);
            let forged = format!("lfr_{}", URL_SAFE_NO_PAD.encode(forged));
            let r = app
                .send(
                    Method::POST,
                    path,
                    None,
                    Some(json!({"refresh_token": forged})),
                )
                .await;
            problem(r, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
        }
        ("POST", "/v1/auth/logout") => {
            let (token, _) = app.login("tenant-b", &w.b.admin_email, PASSWORD).await;
            let r = app
                .send(
                    Method::POST,
                    &format!("{path}?tenant_id={a_id}"),
                    Some(&bearer(&token)),
                    Some(json!({"tenant_id": a_id})),
                )
                .await;
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
            assert_eq!(app.get("/v1/me", &w.a.token).await.status(), StatusCode::OK);
            assert_eq!(
                app.get("/v1/me", &w.a_user_token).await.status(),
                StatusCode::OK
            );
        }
        ("GET", "/v1/me") => {
            let me: Value = app
                .get(&format!("{path}?tenant_id={a_id}"), b)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(me["tenant_id"], w.b.id.to_string());
        }
        ("GET", "/v1/users") => {
            let page: Value = app
                .get(&format!("{path}?tenant_id={a_id}"), b)
                .await
                .json()
                .await
                .unwrap();
            let seen = ids(&page);
            assert!(!seen.contains(&w.a_user.to_string()));
            assert!(!seen.contains(&w.a.admin_id.to_string()));
            // A cursor pointing into A's id space changes nothing either.
            let cursor = URL_SAFE_NO_PAD.encode(format!(r#"{{"k":"{}"}}"#, Uuid::nil()));
            let page: Value = app
                .get(&format!("{path}?cursor={cursor}"), b)
                .await
                .json()
                .await
                .unwrap();
            assert!(!ids(&page).contains(&w.a_user.to_string()));
        }
        ("POST", "/v1/users") => {
            let before = ids(&a_users(w).await);
            let r = app
                .post(
                    path,
                    b,
                    json!({"tenant_id": a_id, "email": "injected@example.com", "display_name": "I",
                           "role": "viewer", "password": PASSWORD}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
            let created: Value = r.json().await.unwrap();
            assert_eq!(ids(&a_users(w).await), before, "A unchanged");
            let mine: Value = app
                .get("/v1/users?limit=500", b)
                .await
                .json()
                .await
                .unwrap();
            assert!(ids(&mine).contains(&created["id"].as_str().unwrap().to_owned()));
        }
        ("GET", "/v1/users/{id}") => {
            for target in [w.a_user, w.a.admin_id] {
                problem(
                    app.get(&format!("/v1/users/{target}"), b).await,
                    StatusCode::NOT_FOUND,
                    "not_found",
                )
                .await;
            }
        }
        ("PATCH", "/v1/users/{id}") => {
            let r = app
                .patch(
                    &format!("/v1/users/{}", w.a_user),
                    b,
                    json!({"disabled": true, "role": "admin", "tenant_id": a_id}),
                )
                .await;
            problem(r, StatusCode::NOT_FOUND, "not_found").await;
            let u: Value = app
                .get(&format!("/v1/users/{}", w.a_user), &w.a.token)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(u["disabled"], false);
            assert_eq!(u["role"], "manager");
        }
        ("GET", "/v1/api-keys") => {
            let page: Value = app
                .get(&format!("{path}?tenant_id={a_id}"), b)
                .await
                .json()
                .await
                .unwrap();
            assert!(!ids(&page).contains(&w.a_key.to_string()));
        }
        ("POST", "/v1/api-keys") => {
            let r = app
                .post(
                    path,
                    b,
                    json!({"tenant_id": a_id, "name": "injected", "permissions": ["users_read"]}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
            let key: Value = r.json().await.unwrap();
            let auth = format!("ApiKey {}", key["key"].as_str().unwrap());
            let me: Value = app
                .send(Method::GET, "/v1/me", Some(&auth), None)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(me["tenant_id"], w.b.id.to_string());
            let a_keys: Value = app
                .get("/v1/api-keys", &w.a.token)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(ids(&a_keys), [w.a_key.to_string()]);
        }
        ("DELETE", "/v1/api-keys/{id}") => {
            problem(
                app.delete(&format!("/v1/api-keys/{}", w.a_key), b).await,
                StatusCode::NOT_FOUND,
                "not_found",
            )
            .await;
            let r = app
                .send(
                    Method::GET,
                    "/v1/users",
                    Some(&format!("ApiKey {}", w.a_key_secret)),
                    None,
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK, "A's key still works");
        }
        ("GET", "/v1/settings") => {
            let s: Value = app
                .get(&format!("{path}?tenant_id={a_id}"), b)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(s["display_name"], "Tenant tenant-b");
        }
        ("PATCH", "/v1/settings") => {
            let r = app
                .patch(
                    path,
                    b,
                    json!({"tenant_id": a_id, "display_name": "Hijacked"}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            let s: Value = app.get(path, &w.a.token).await.json().await.unwrap();
            assert_eq!(s["display_name"], "Tenant tenant-a");
        }
        ("GET", "/v1/audit") => {
            for q in [
                format!("tenant_id={a_id}"),
                format!("target_id={}", w.a_user),
                format!("actor_id={}", w.a.admin_id),
            ] {
                let page: Value = app
                    .get(&format!("{path}?{q}"), b)
                    .await
                    .json()
                    .await
                    .unwrap();
                let text = page.to_string();
                assert!(!text.contains(&w.a_user.to_string()), "{q}");
                assert!(!text.contains(&w.a.admin_id.to_string()), "{q}");
            }
        }
        ("POST", "/v1/movements") => {
            let (a, bs) = (&w.a_site, &w.b_site);
            // A's product, A's bins, A's lot: each reads as unknown, and A's stock stays.
            for (body, code) in [
                (ship(a.product, a.bins[0], 1), "unknown_product"),
                (receive(bs.product, a.bins[0], 1), "unknown_location"),
                (
                    transfer(bs.product, bs.bins[0], a.bins[1], 1),
                    "unknown_location",
                ),
                (
                    json!({"kind": "receive", "product_id": bs.tracked, "lot_id": a.lot,
                           "to_location_id": bs.bins[0], "qty": 1, "tenant_id": a_id}),
                    "unknown_lot",
                ),
            ] {
                problem(
                    app.post(path, b, body).await,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    code,
                )
                .await;
            }
            assert_eq!(on_hand(app, w.a.id, a.product, a.bins[0], None).await, 5);
            assert_eq!(count(app, "movement", w.b.id).await, 0);
        }
        ("GET", "/v1/movements")
        | ("GET", "/v1/stock")
        | ("GET", "/v1/stock/totals")
        | ("GET", "/v1/stock/low") => {
            let a = &w.a_site;
            for q in [
                String::new(),
                format!("?product_id={}", a.product),
                format!("?location_id={}", a.bins[0]),
                format!("?warehouse_id={}", a.warehouse),
                format!("?tenant_id={a_id}"),
            ] {
                let r = app.get(&format!("{path}{q}"), b).await;
                assert_eq!(r.status(), StatusCode::OK, "{path}{q}");
                let text = r.text().await.unwrap();
                for id in [a.product, a.bins[0], a.warehouse] {
                    assert!(!text.contains(&id.to_string()), "{path}{q}: {text}");
                }
                assert!(!text.contains(&w.a_movement), "{path}{q}");
            }
            // A sees its own, so the filters above could have matched.
            let mine = app
                .get(&format!("{path}?product_id={}", a.product), &w.a.token)
                .await
                .text()
                .await
                .unwrap();
            assert!(mine.contains(&a.product.to_string()), "{path}: {mine}");
        }
        ("GET", "/v1/movements/{id}") => {
            let r = app.get(&format!("/v1/movements/{}", w.a_movement), b).await;
            problem(r, StatusCode::NOT_FOUND, "not_found").await;
        }
        ("POST", "/v1/movements/{id}/force") | ("POST", "/v1/movements/{id}/void") => {
            // A's movement id from B: not found (whatever its state), nothing changes.
            let r = app
                .post(
                    &path.replace("{id}", &w.a_movement.to_string()),
                    b,
                    json!({"reason": "x"}),
                )
                .await;
            problem(r, StatusCode::NOT_FOUND, "not_found").await;
            assert_eq!(
                on_hand(app, w.a.id, w.a_site.product, w.a_site.bins[0], None).await,
                5
            );
        }
        ("GET", "/v1/sync/pull") => {
            // B's device pulls its snapshot and then the changes: A's warehouse, products,
            // rows and movements (A's bin holds 5) never appear.
            let b_dev = crate::sync_push::register(app, b, &[w.b_site.warehouse]).await;
            let mut cursor: Option<String> = None;
            let mut text = String::new();
            for _ in 0..20 {
                let path = match &cursor {
                    Some(c) => format!("/v1/sync/pull?limit=3&cursor={c}"),
                    None => "/v1/sync/pull?limit=3".to_owned(),
                };
                let r = app.get(&path, &b_dev.token).await;
                assert_eq!(r.status(), StatusCode::OK);
                let page: Value = r.json().await.unwrap();
                text.push_str(&page.to_string());
                cursor = Some(page["cursor"].as_str().unwrap().to_owned());
                if page["has_more"] == false {
                    break;
                }
            }
            assert!(text.contains(&w.b_site.warehouse.to_string()), "{text}");
            for a in [
                w.a_site.warehouse,
                w.a_site.product,
                w.a_site.bins[0],
                w.a_site.lot,
            ] {
                assert!(!text.contains(&a.to_string()), "{a} in {text}");
            }
            // A person's session of B is no device: refused.
            let r = app.get("/v1/sync/pull", b).await;
            problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        }
        ("POST", "/v1/devices") => {
            // A's warehouse in B's scope reads as unknown.
            let r = app
                .post(
                    path,
                    b,
                    json!({"name": "x", "platform": "linux", "warehouse_ids": [w.a_site.warehouse]}),
                )
                .await;
            problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
        }
        ("GET", "/v1/devices") | ("DELETE", "/v1/devices/{id}") | ("POST", "/v1/sync/push") => {
            let a_dev = crate::sync_push::register(app, &w.a.token, &[w.a_site.warehouse]).await;
            let mut b_dev = crate::sync_push::register(app, b, &[w.b_site.warehouse]).await;
            let list = app.get("/v1/devices", b).await.text().await.unwrap();
            assert!(!list.contains(&a_dev.id.to_string()), "{list}");
            let r = app.delete(&format!("/v1/devices/{}", a_dev.id), b).await;
            problem(r, StatusCode::NOT_FOUND, "not_found").await;
            // B's device naming A's device, or pushing A's product into A's bin.
            let mut a_dev = a_dev;
            let m = a_dev.entry(
                crate::sync_push::ago(5),
                w.a_site.product,
                None,
                logiflow_core::MovementKind::Receive {
                    to: crate::sync_push::loc(w.a_site.bins[0]),
                    qty: crate::sync_push::q(1),
                },
            );
            let r = app
                .post("/v1/sync/push", &b_dev.token, a_dev.request(&[m]))
                .await;
            problem(r, StatusCode::FORBIDDEN, "forbidden").await;
            let m = b_dev.entry(
                crate::sync_push::ago(5),
                w.a_site.product,
                None,
                logiflow_core::MovementKind::Receive {
                    to: crate::sync_push::loc(w.a_site.bins[0]),
                    qty: crate::sync_push::q(1),
                },
            );
            let v = b_dev.push(app, &[m]).await;
            assert_eq!(v["results"][0]["outcome"]["code"], "unknown_product", "{v}");
            assert_eq!(
                on_hand(app, w.a.id, w.a_site.product, w.a_site.bins[0], None).await,
                5
            );
            // A's device still works.
            assert_eq!(
                app.get("/v1/me", &a_dev.token).await.status(),
                StatusCode::OK
            );
        }
        ("GET", "/v1/warehouses")
        | ("GET", "/v1/locations")
        | ("GET", "/v1/products")
        | ("GET", "/v1/lots") => {
            let c = &w.a_cat;
            let wh = id_of(&c.warehouse);
            let loc = id_of(&c.location);
            let prod = id_of(&c.product);
            let queries = match path {
                "/v1/warehouses" => vec![format!("tenant_id={a_id}")],
                "/v1/locations" => vec![
                    format!("tenant_id={a_id}"),
                    format!("warehouse_id={wh}"),
                    format!("parent_id={loc}"),
                    "path_prefix=A".to_owned(),
                ],
                "/v1/products" => vec![
                    format!("tenant_id={a_id}"),
                    "barcode=INT-A".to_owned(),
                    "sku_prefix=SKU-A".to_owned(),
                    "q=Widget".to_owned(),
                ],
                _ => vec![
                    format!("tenant_id={a_id}"),
                    format!("product_id={prod}"),
                    "expiring_before=2100-01-01".to_owned(),
                ],
            };
            for q in queries {
                let page = get_json(app, format!("{path}?{q}"), b).await;
                let text = page.to_string();
                for id in [&wh, &loc, &prod, &id_of(&c.lot)] {
                    assert!(!text.contains(id.as_str()), "{path}?{q}: {text}");
                }
            }
        }
        ("POST", "/v1/warehouses") => {
            // A's code is free in B (codes are unique per tenant): no existence oracle.
            let before = get_json(app, "/v1/warehouses", &w.a.token).await;
            let created = create(
                app,
                path,
                b,
                json!({"tenant_id": a_id, "code": w.a_cat.warehouse["code"], "name": "B", "timezone": "UTC"}),
            )
            .await;
            assert_eq!(get_json(app, "/v1/warehouses", &w.a.token).await, before);
            let mine = get_json(app, "/v1/warehouses", b).await;
            assert!(item_ids(&mine).contains(&id_of(&created)));
        }
        ("GET", "/v1/warehouses/{id}")
        | ("GET", "/v1/locations/{id}")
        | ("GET", "/v1/products/{id}")
        | ("GET", "/v1/lots/{id}") => {
            let c = &w.a_cat;
            let target = match path {
                "/v1/warehouses/{id}" => &c.warehouse,
                "/v1/locations/{id}" => &c.location,
                "/v1/products/{id}" => &c.product,
                _ => &c.lot,
            };
            let url = path.replace("{id}", &id_of(target));
            problem(app.get(&url, b).await, StatusCode::NOT_FOUND, "not_found").await;
        }
        ("PATCH", "/v1/warehouses/{id}")
        | ("PATCH", "/v1/locations/{id}")
        | ("PATCH", "/v1/products/{id}")
        | ("PATCH", "/v1/lots/{id}") => {
            let c = &w.a_cat;
            let (target, body) = match path {
                "/v1/warehouses/{id}" => {
                    (&c.warehouse, json!({"name": "Hijacked", "active": false}))
                }
                "/v1/locations/{id}" => (&c.location, json!({"code": "HIJACK", "active": false})),
                "/v1/products/{id}" => (
                    &c.product,
                    json!({"name": "Hijacked", "barcodes": [], "active": false}),
                ),
                _ => (&c.lot, json!({"code": "HIJACK", "expires_on": null})),
            };
            let url = path.replace("{id}", &id_of(target));
            let mut body = body;
            body["tenant_id"] = json!(a_id);
            problem(
                app.patch(&url, b, body).await,
                StatusCode::NOT_FOUND,
                "not_found",
            )
            .await;
            assert_eq!(
                &get_json(app, &url, &w.a.token).await,
                target,
                "A unchanged"
            );
        }
        ("DELETE", "/v1/locations/{id}") => {
            let url = format!("/v1/locations/{}", id_of(&w.a_cat.location));
            problem(
                app.delete(&url, b).await,
                StatusCode::NOT_FOUND,
                "not_found",
            )
            .await;
            assert_eq!(get_json(app, &url, &w.a.token).await, w.a_cat.location);
        }
        ("POST", "/v1/locations" | "/v1/locations/generate") => {
            // A's warehouse or parent in B's body, for one location or a grid of bins
            // (previewed or made): the same answer as an unknown id, nothing of A's named.
            let c = &w.a_cat;
            let what = if path.ends_with("generate") {
                vec![
                    json!({"segments": [{"from": "A", "to": "B"}, {"from": "1", "to": "2"}], "dry_run": true}),
                    json!({"segments": [{"from": "A", "to": "B"}, {"from": "1", "to": "2"}]}),
                ]
            } else {
                vec![json!({"code": "X"})]
            };
            for mut body in what {
                for (field, id) in [
                    ("warehouse_id", &c.warehouse["id"]),
                    ("parent_id", &c.location["id"]),
                ] {
                    body["warehouse_id"] = Value::Null;
                    body[field] = id.clone();
                    let v = problem(
                        app.post(path, b, body.clone()).await,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "reference_not_found",
                    )
                    .await;
                    assert!(!v.to_string().contains("WH-A"));
                }
            }
            let children = get_json(
                app,
                format!("/v1/locations?parent_id={}", id_of(&c.location)),
                &w.a.token,
            )
            .await;
            assert!(item_ids(&children).is_empty());
        }
        ("POST", "/v1/products") => {
            // A's SKU and barcode are free in B: uniqueness is per tenant.
            let created = create(
                app,
                path,
                b,
                json!({"tenant_id": a_id, "sku": "SKU-A", "name": "B's", "barcodes": ["INT-A"]}),
            )
            .await;
            let a_view = get_json(app, "/v1/products?barcode=INT-A", &w.a.token).await;
            assert_eq!(item_ids(&a_view), [id_of(&w.a_cat.product)]);
            let b_view = get_json(app, "/v1/products?barcode=INT-A", b).await;
            assert_eq!(item_ids(&b_view), [id_of(&created)]);
        }
        ("POST", "/v1/lots") => {
            let v = problem(
                app.post(
                    path,
                    b,
                    json!({"product_id": w.a_cat.product["id"], "code": "X"}),
                )
                .await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "reference_not_found",
            )
            .await;
            assert!(!v.to_string().contains("SKU-A"));
            let lots = get_json(
                app,
                format!("/v1/lots?product_id={}", id_of(&w.a_cat.product)),
                &w.a.token,
            )
            .await;
            assert_eq!(item_ids(&lots), [id_of(&w.a_cat.lot)]);
        }
        ("POST", "/v1/devices/{id}/session") => {
            // B's person signing in on A's device: answered as an unknown device.
            let a_dev = crate::sync_push::register(app, &w.a.token, &[w.a_site.warehouse]).await;
            let r = app
                .post(&format!("/v1/devices/{}/session", a_dev.id), b, json!({}))
                .await;
            problem(r, StatusCode::NOT_FOUND, "not_found").await;
            let r = app
                .post(
                    &format!("/v1/devices/{}/session", Uuid::now_v7()),
                    b,
                    json!({}),
                )
                .await;
            problem(r, StatusCode::NOT_FOUND, "not_found").await;
            // A's device keeps its session; B's own device can be signed in on again.
            assert_eq!(
                app.get("/v1/me", &a_dev.token).await.status(),
                StatusCode::OK
            );
            let b_dev = crate::sync_push::register(app, b, &[w.b_site.warehouse]).await;
            let r = app
                .post(&format!("/v1/devices/{}/session", b_dev.id), b, json!({}))
                .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
        ("POST", "/v1/devices/{id}/journal") => {
            // A's revoked device's journal, uploaded by B (naming A's tenant, or B's):
            // answered as an unknown device, nothing lands in A.
            let mut a_dev =
                crate::sync_push::register(app, &w.a.token, &[w.a_site.warehouse]).await;
            let r = app
                .delete(&format!("/v1/devices/{}", a_dev.id), &w.a.token)
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            let m = a_dev.entry(
                crate::sync_push::ago(5),
                w.a_site.product,
                None,
                logiflow_core::MovementKind::Receive {
                    to: crate::sync_push::loc(w.a_site.bins[0]),
                    qty: crate::sync_push::q(1),
                },
            );
            let file = |tenant: Uuid| {
                serde_json::to_value(logiflow_core::JournalFile::new(
                    logiflow_core::TenantId::from_uuid(tenant),
                    logiflow_core::DeviceId::from_uuid(a_dev.id),
                    logiflow_core::UserId::from_uuid(a_dev.user),
                    "http://x",
                    chrono::Utc::now(),
                    vec![logiflow_core::PushedMovement {
                        movement: m,
                        base_cursor: None,
                    }],
                ))
                .unwrap()
            };
            for tenant in [w.a.id, w.b.id] {
                let r = app
                    .post(
                        &format!("/v1/devices/{}/journal", a_dev.id),
                        b,
                        file(tenant),
                    )
                    .await;
                problem(r, StatusCode::NOT_FOUND, "not_found").await;
            }
            let moved = app
                .get(&format!("/v1/movements?device_id={}", a_dev.id), &w.a.token)
                .await
                .json::<Value>()
                .await
                .unwrap();
            assert_eq!(moved["items"].as_array().unwrap().len(), 0, "{moved}");
            // A's manager uploads it: it lands in A, held.
            let r = app
                .post(
                    &format!("/v1/devices/{}/journal", a_dev.id),
                    &w.a.token,
                    file(w.a.id),
                )
                .await;
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["held"], 1, "{v}");
        }
        ("GET", "/v1/alerts") => {
            for query in ["", &format!("?warehouse_id={}", w.a_site.warehouse)] {
                let page = get_json(app, format!("{path}{query}"), b).await;
                let seen = ids(&page);
                assert!(
                    w.a_alerts.iter().all(|a| !seen.contains(&a.to_string())),
                    "{page}"
                );
                assert_eq!(page["unread"], 0, "B has no alerts: {page}");
            }
        }
        ("POST", "/v1/alerts/read") => {
            let r = app
                .post(path, b, json!({"tenant_id": a_id, "ids": [w.a_alerts[0]]}))
                .await;
            problem(r, StatusCode::UNPROCESSABLE_ENTITY, "reference_not_found").await;
            let marks: i64 = sqlx::query_scalar("select count(*) from alert_read")
                .fetch_one(&app.owner)
                .await
                .unwrap();
            assert_eq!(marks, 0, "nothing marked");
        }
        ("GET", "/v1/webhook-endpoints") => {
            let page = get_json(app, format!("{path}?tenant_id={a_id}"), b).await;
            assert!(!ids(&page).contains(&w.a_hook.to_string()));
        }
        ("POST", "/v1/webhook-endpoints") => {
            let r = app
                .post(
                    path,
                    b,
                    json!({"tenant_id": a_id, "url": "http://127.0.0.1:9/b"}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
            let a_hooks = get_json(app, path, &w.a.token).await;
            assert_eq!(ids(&a_hooks), [w.a_hook.to_string()]);
        }
        ("GET", "/v1/webhook-endpoints/{id}")
        | ("PATCH", "/v1/webhook-endpoints/{id}")
        | ("DELETE", "/v1/webhook-endpoints/{id}")
        | ("POST", "/v1/webhook-endpoints/{id}/rotate-secret")
        | ("GET", "/v1/webhook-endpoints/{id}/attempts")
        | ("POST", "/v1/webhook-endpoints/{id}/replay")
        | ("POST", "/v1/webhook-deliveries/{id}/replay") => {
            let url = format!("/v1/webhook-endpoints/{}", w.a_hook);
            let before = get_json(app, &url, &w.a.token).await;
            let target = if path.starts_with("/v1/webhook-deliveries") {
                w.a_delivery
            } else {
                w.a_hook
            };
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let body = (method != Method::GET && method != Method::DELETE).then(
                || json!({"tenant_id": a_id, "url": "http://127.0.0.1:9/b", "active": false}),
            );
            let r = app
                .send(
                    method,
                    &path.replace("{id}", &target.to_string()),
                    Some(&bearer(b)),
                    body,
                )
                .await;
            problem(r, StatusCode::NOT_FOUND, "not_found").await;
            assert_eq!(get_json(app, &url, &w.a.token).await, before, "A unchanged");
            let state: String =
                sqlx::query_scalar("select state from webhook_delivery where id = $1")
                    .bind(w.a_delivery)
                    .fetch_one(&app.owner)
                    .await
                    .unwrap();
            assert_eq!(state, "dead", "A's dead letter stays");
        }
        ("GET", "/v1/suppliers") | ("GET", "/v1/customers") | ("GET", "/v1/purchase-orders") => {
            let queries = match path {
                "/v1/purchase-orders" => vec![
                    format!("tenant_id={a_id}"),
                    format!("supplier_id={}", id_of(&w.a_supplier)),
                    format!("warehouse_id={}", w.a_site.warehouse),
                    "status=ordered".to_owned(),
                ],
                _ => vec![
                    format!("tenant_id={a_id}"),
                    "q=A".to_owned(),
                    "active=true".to_owned(),
                ],
            };
            for q in queries {
                let page = get_json(app, format!("{path}?{q}"), b).await;
                let text = page.to_string();
                for v in [&w.a_supplier, &w.a_customer, &w.a_po] {
                    assert!(!text.contains(id_of(v).as_str()), "{path}?{q}: {text}");
                }
                assert!(
                    !text.contains("PO-000001") && !text.contains("SUP-A"),
                    "{text}"
                );
            }
        }
        ("POST", "/v1/suppliers") | ("POST", "/v1/customers") => {
            // A's code is free in B: codes are unique per tenant, no existence oracle.
            let code = if path == "/v1/suppliers" {
                "SUP-A"
            } else {
                "CUS-A"
            };
            let before = get_json(app, path, &w.a.token).await;
            let created = create(
                app,
                path,
                b,
                json!({"tenant_id": a_id, "code": code, "name": "B's"}),
            )
            .await;
            assert_eq!(get_json(app, path, &w.a.token).await, before, "A unchanged");
            assert!(item_ids(&get_json(app, path, b).await).contains(&id_of(&created)));
        }
        ("POST", "/v1/purchase-orders") => {
            // A's supplier, warehouse or product in B's order: the answer of an unknown id.
            let (bs, bw) = (
                create(
                    app,
                    "/v1/suppliers",
                    b,
                    json!({"code": "SUP-B", "name": "B"}),
                )
                .await,
                w.b_site.warehouse,
            );
            for body in [
                json!({"supplier_id": w.a_supplier["id"], "warehouse_id": bw}),
                json!({"supplier_id": bs["id"], "warehouse_id": w.a_site.warehouse}),
                json!({"supplier_id": bs["id"], "warehouse_id": bw,
                       "lines": [{"product_id": w.a_site.product, "qty": 1, "unit_cost": "1"}]}),
            ] {
                let v = problem(
                    app.post(path, b, body).await,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "reference_not_found",
                )
                .await;
                assert!(!v.to_string().contains("SUP-A"), "{v}");
            }
            // B's numbers are B's own: its first order is PO-000001 too.
            let mine = create(
                app,
                path,
                b,
                json!({"tenant_id": a_id, "supplier_id": bs["id"], "warehouse_id": bw}),
            )
            .await;
            assert_eq!(mine["number"], "PO-000001");
            let a_orders = get_json(app, path, &w.a.token).await;
            assert_eq!(item_ids(&a_orders), [id_of(&w.a_po)]);
        }
        ("GET", "/v1/suppliers/{id}")
        | ("PATCH", "/v1/suppliers/{id}")
        | ("GET", "/v1/customers/{id}")
        | ("PATCH", "/v1/customers/{id}")
        | ("GET", "/v1/purchase-orders/{id}")
        | ("PATCH", "/v1/purchase-orders/{id}")
        | ("POST", "/v1/purchase-orders/{id}/order")
        | ("POST", "/v1/purchase-orders/{id}/cancel")
        | ("POST", "/v1/purchase-orders/{id}/close")
        | ("POST", "/v1/purchase-orders/{id}/lines")
        | ("PATCH", "/v1/purchase-orders/{id}/lines/{line_id}")
        | ("DELETE", "/v1/purchase-orders/{id}/lines/{line_id}") => {
            let target = if path.starts_with("/v1/suppliers") {
                &w.a_supplier
            } else if path.starts_with("/v1/customers") {
                &w.a_customer
            } else {
                &w.a_po
            };
            let own = path.split('/').take(3).collect::<Vec<_>>().join("/");
            let own = format!("{own}/{}", id_of(target));
            let url = path
                .replace("{id}", &id_of(target))
                .replace("{line_id}", w.a_po["lines"][0]["id"].as_str().unwrap());
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let body = (method != Method::GET && method != Method::DELETE).then(|| {
                json!({"tenant_id": a_id, "name": "Hijacked", "active": false, "notes": "B",
                       "product_id": w.b_site.product, "qty": 1, "unit_cost": "9"})
            });
            let r = app.send(method, &url, Some(&bearer(b)), body).await;
            problem(r, StatusCode::NOT_FOUND, "not_found").await;
            assert_eq!(
                &get_json(app, &own, &w.a.token).await,
                target,
                "A unchanged"
            );
            // Nor can B receive against A's line: it is no line of B's.
            let mut receipt = receive(w.b_site.product, w.b_site.bins[0], 1);
            receipt["reference"] = json!({"type": "purchase_line", "id": w.a_po["lines"][0]["id"]});
            problem(
                app.post("/v1/movements", b, receipt).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_order_line",
            )
            .await;
            let po = get_json(
                app,
                format!("/v1/purchase-orders/{}", id_of(&w.a_po)),
                &w.a.token,
            )
            .await;
            assert_eq!(po, w.a_po, "A's order and its received quantity unchanged");
        }
        ("GET", "/v1/sales-orders") => {
            for q in [
                format!("tenant_id={a_id}"),
                format!("customer_id={}", id_of(&w.a_customer)),
                format!("warehouse_id={}", w.a_site.warehouse),
                "status=confirmed".to_owned(),
            ] {
                let page = get_json(app, format!("{path}?{q}"), b).await;
                assert!(
                    !page.to_string().contains(id_of(&w.a_so).as_str()),
                    "{path}?{q}: {page}"
                );
            }
        }
        ("POST", "/v1/sales-orders") => {
            let v = problem(
                app.post(
                    path,
                    b,
                    json!({"customer_id": w.a_customer["id"], "warehouse_id": w.b_site.warehouse,
                           "requested_on": "2027-01-01"}),
                )
                .await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "reference_not_found",
            )
            .await;
            assert!(!v.to_string().contains("CUS-A"), "{v}");
            let bc = create(
                app,
                "/v1/customers",
                b,
                json!({"code": "CUS-B", "name": "B"}),
            )
            .await;
            for body in [
                json!({"customer_id": bc["id"], "warehouse_id": w.a_site.warehouse, "requested_on": "2027-01-01"}),
                json!({"customer_id": bc["id"], "warehouse_id": w.b_site.warehouse, "requested_on": "2027-01-01",
                       "lines": [{"product_id": w.a_site.product, "qty": 1, "unit_price": "1"}]}),
            ] {
                problem(
                    app.post(path, b, body).await,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "reference_not_found",
                )
                .await;
            }
            let mine = create(
                app,
                path,
                b,
                json!({"tenant_id": a_id, "customer_id": bc["id"], "warehouse_id": w.b_site.warehouse,
                       "requested_on": "2027-01-01"}),
            )
            .await;
            assert_eq!(mine["number"], "SO-000001");
            assert_eq!(
                item_ids(&get_json(app, path, &w.a.token).await),
                [id_of(&w.a_so)]
            );
        }
        ("GET", "/v1/sales-orders/{id}")
        | ("POST", "/v1/sales-orders/{id}/confirm")
        | ("POST", "/v1/sales-orders/{id}/allocate")
        | ("POST", "/v1/sales-orders/{id}/cancel")
        | ("GET", "/v1/sales-orders/{id}/pick-list")
        | ("PATCH", "/v1/sales-orders/{id}")
        | ("POST", "/v1/sales-orders/{id}/lines")
        | ("PATCH", "/v1/sales-orders/{id}/lines/{line_id}")
        | ("DELETE", "/v1/sales-orders/{id}/lines/{line_id}") => {
            let url = path
                .replace("{id}", &id_of(&w.a_so))
                .replace("{line_id}", w.a_so["lines"][0]["id"].as_str().unwrap());
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let body = (method != Method::GET && method != Method::DELETE).then(|| {
                json!({"tenant_id": a_id, "notes": "B", "priority": "urgent",
                       "product_id": w.b_site.product, "qty": 9, "unit_price": "1"})
            });
            let r = app.send(method, &url, Some(&bearer(b)), body).await;
            problem(r, StatusCode::NOT_FOUND, "not_found").await;
            let own = format!("/v1/sales-orders/{}", id_of(&w.a_so));
            assert_eq!(get_json(app, &own, &w.a.token).await, w.a_so, "A unchanged");
            // Nor can B pick against A's line.
            let mut pick = ship(w.b_site.product, w.b_site.bins[0], 1);
            pick["reference"] = json!({"type": "sales_line", "id": w.a_so["lines"][0]["id"]});
            problem(
                app.post("/v1/movements", b, pick).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_order_line",
            )
            .await;
        }
        ("POST", "/v1/sales-orders/pick-list") => {
            // A's order in B's wave is no order of B's: nothing of A's pick list shows.
            let r = app
                .post(
                    path,
                    b,
                    json!({"order_ids": [id_of(&w.a_so)], "tenant_id": a_id}),
                )
                .await;
            problem(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
            let r = app
                .post(path, b, json!({"order_ids": [id_of(&w.a_so)]}))
                .await;
            let v = problem(r, StatusCode::UNPROCESSABLE_ENTITY, "reference_not_found").await;
            assert!(
                !v.to_string().contains(&w.a_so["number"].to_string()),
                "{v}"
            );
        }
        ("POST", "/v1/imports") => {
            // B's import of A's SKU reaches B's catalog only (the product case may
            // have given B a SKU-A of its own, which it then updates).
            let r = crate::imports::upload(
                app,
                b,
                &format!("kind=products&tenant_id={a_id}"),
                "text/csv",
                b"sku,name\nSKU-A,Imported by B\n".to_vec(),
            )
            .await;
            assert_eq!(r.status(), StatusCode::ACCEPTED);
            let job: Value = r.json().await.unwrap();
            let job = crate::imports::settled(app, b, &id_of(&job)).await;
            assert_eq!(job["errors"], 0, "{job}");
            let commit = format!("/v1/imports/{}/commit", id_of(&job));
            crate::imports::get_json_post(app, &commit, b).await;
            let mine = get_json(app, "/v1/products?sku_prefix=SKU-A", b).await;
            assert_eq!(mine["items"][0]["name"], "Imported by B");
            let theirs = get_json(app, "/v1/products?sku_prefix=SKU-A", &w.a.token).await;
            assert_ne!(theirs["items"][0]["name"], "Imported by B");
            assert_ne!(theirs["items"][0]["id"], mine["items"][0]["id"]);
            let own = format!("/v1/imports/{}", id_of(&w.a_import));
            assert_eq!(
                get_json(app, &own, &w.a.token).await,
                w.a_import,
                "A unchanged"
            );
        }
        ("GET", "/v1/exports/products")
        | ("GET", "/v1/exports/suppliers")
        | ("GET", "/v1/exports/customers")
        | ("GET", "/v1/exports/lots") => {
            // B's export lists B's records only: as many rows as B's list has, and
            // none of A's codes.
            let list = path.replace("/exports", "");
            let mine = get_json(app, format!("{list}?limit=500"), b).await;
            let url = format!("{path}?format=csv&tenant_id={a_id}");
            let r = app.get(&url, b).await;
            assert_eq!(r.status(), StatusCode::OK);
            let text = r.text().await.unwrap();
            assert_eq!(
                text.lines().count(),
                mine["items"].as_array().unwrap().len() + 1,
                "{text}"
            );
            // (B has a product SKU-A, a supplier SUP-A and a customer CUS-A of its own,
            // named "B's": see their POST cases. A's are told apart by A's names.)
            for a_text in [
                &w.a_supplier["name"],
                &w.a_customer["name"],
                &w.a_cat.lot["code"],
            ] {
                let a_text = a_text.as_str().unwrap();
                assert!(!text.contains(a_text), "{path}: {a_text} in {text}");
            }
            let r = app.get(&format!("{path}?format=xlsx"), b).await;
            assert_eq!(r.status(), StatusCode::OK);
        }
        ("GET", "/v1/exports/stock") => {
            // B's export has B's rows only, and none of A's for A's ids as filters.
            let a = &w.a_site;
            let a_code: String = sqlx::query_scalar("select code from warehouse where id = $1")
                .bind(a.warehouse)
                .fetch_one(&app.owner)
                .await
                .unwrap();
            crate::inventory::applied(
                app,
                b,
                crate::inventory::receive(w.b_site.product, w.b_site.bins[0], 2),
            )
            .await;
            let mine = get_json(app, "/v1/stock?limit=500", b).await["items"]
                .as_array()
                .unwrap()
                .len();
            assert!(mine > 0, "B has stock to export");
            for (q, rows) in [
                (String::new(), mine),
                (format!("?tenant_id={a_id}"), mine),
                (format!("?warehouse_id={}", a.warehouse), 0),
                (format!("?product_id={}", a.product), 0),
                (
                    format!("?location_id={}&format=xlsx", a.bins[0]),
                    usize::MAX,
                ),
            ] {
                let r = app.get(&format!("{path}{q}"), b).await;
                assert_eq!(r.status(), StatusCode::OK, "{path}{q}");
                let bytes = r.bytes().await.unwrap();
                if rows == usize::MAX {
                    continue;
                }
                let text = String::from_utf8(bytes.to_vec()).unwrap();
                assert_eq!(text.lines().count(), rows + 1, "{path}{q}: {text}");
                assert!(!text.contains(&a_code), "{path}{q}: {text}");
            }
        }
        ("GET", "/v1/exports/movements") => {
            // B's export is B's history for the same filters, never A's movements or
            // names, also with A's ids as filters (B's own rejected movements that named
            // A's product stay B's).
            let a = &w.a_site;
            crate::inventory::applied(
                app,
                b,
                crate::inventory::receive(w.b_site.product, w.b_site.bins[0], 1),
            )
            .await;
            let a_code: String = sqlx::query_scalar("select code from warehouse where id = $1")
                .bind(a.warehouse)
                .fetch_one(&app.owner)
                .await
                .unwrap();
            for q in [
                String::new(),
                format!("tenant_id={a_id}"),
                format!("product_id={}", a.product),
                format!("location_id={}", a.bins[0]),
            ] {
                let listed = get_json(app, format!("/v1/movements?limit=500&{q}"), b).await;
                let rows = listed["items"].as_array().unwrap().len();
                let r = app.get(&format!("{path}?{q}"), b).await;
                assert_eq!(r.status(), StatusCode::OK, "{path}?{q}");
                let text = r.text().await.unwrap();
                assert_eq!(text.lines().count(), rows + 1, "{path}?{q}: {text}");
                assert!(!text.contains(&w.a_movement), "{path}?{q}: {text}");
                assert!(!text.contains(&a_code), "{path}?{q}: {text}");
            }
        }
        ("GET", "/v1/exports/locations") | ("GET", "/v1/exports/audit") => {
            // B's export has the rows B's list has for the same filters, A's ids as
            // filters included, and none of A's ids or paths.
            let c = &w.a_cat;
            let (wh, loc) = (id_of(&c.warehouse), id_of(&c.location));
            let (list, queries, hidden) = if path.ends_with("locations") {
                // Rows name warehouses by code: A's is WH-A, B's WH-B.
                let a_code = c.warehouse["code"].as_str().unwrap().to_owned();
                (
                    "/v1/locations",
                    vec![
                        format!("tenant_id={a_id}"),
                        format!("warehouse_id={wh}"),
                        format!("parent_id={loc}"),
                        "path_prefix=A".to_owned(),
                    ],
                    vec![a_code],
                )
            } else {
                (
                    "/v1/audit",
                    vec![
                        format!("tenant_id={a_id}"),
                        format!("target_id={}", w.a_user),
                        format!("actor_id={}", w.a.admin_id),
                    ],
                    vec![w.a_user.to_string(), w.a.admin_id.to_string(), wh.clone()],
                )
            };
            for q in queries {
                let listed = get_json(app, format!("{list}?limit=500&{q}"), b).await;
                let rows = listed["items"].as_array().unwrap().len();
                let r = app.get(&format!("{path}?{q}"), b).await;
                assert_eq!(r.status(), StatusCode::OK, "{path}?{q}");
                let text = r.text().await.unwrap();
                assert_eq!(text.lines().count(), rows + 1, "{path}?{q}: {text}");
                for h in &hidden {
                    assert!(!text.contains(h.as_str()), "{path}?{q}: {text}");
                }
            }
        }
        ("GET", "/v1/imports/{id}")
        | ("GET", "/v1/imports/{id}/rows")
        | ("POST", "/v1/imports/{id}/commit") => {
            let url = path.replace("{id}", &id_of(&w.a_import));
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let body = (method != Method::GET).then(|| json!({"tenant_id": a_id}));
            let r = app.send(method, &url, Some(&bearer(b)), body).await;
            problem(r, StatusCode::NOT_FOUND, "not_found").await;
            let own = format!("/v1/imports/{}", id_of(&w.a_import));
            assert_eq!(
                get_json(app, &own, &w.a.token).await,
                w.a_import,
                "A unchanged"
            );
            let a_product = get_json(app, "/v1/products?sku_prefix=SKU-A", &w.a.token).await;
            assert_ne!(a_product["items"][0]["name"], "Renamed by A");
        }
        other => panic!("no cross-tenant case for {other:?}: add one to run_case"),
    }
}

#[tokio::test]
async fn tenant_b_cannot_see_or_touch_tenant_a() {
    let w = world().await;
    for (method, path) in COVERED {
        run_case(&w, method, path).await;
    }
}

#[tokio::test]
async fn every_documented_route_has_a_cross_tenant_case() {
    let app = spawn_app().await;
    let doc: Value = app.openapi().await;
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let covered: BTreeSet<(String, String)> = COVERED
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes without a cross-tenant case: {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "cases for routes that no longer exist: {stale:?}"
    );
}
