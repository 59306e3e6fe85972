//! The demo tenant that `cargo xtask dev` seeds: created once on an empty database, one
//! user per role who can sign in, and never created over a database with real tenants.

use logiflow_server::admin;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn demo_seed_creates_a_user_per_role_once_on_an_empty_database() {
    let app = spawn_app().await;
    let first = admin::demo_seed(&app.owner).await.unwrap();
    assert!(first.created);
    assert_eq!(first.logins.len(), 6);
    for login in &first.logins {
        let (token, _) = app.login(&login.tenant, &login.email, login.password).await;
        let me: Value = app.get("/v1/me", &token).await.json().await.unwrap();
        assert_eq!(me["role"], login.role.as_str(), "{me}");
    }
    // The inventory: two warehouses of zones, aisles and bins, 500 products, lots (some
    // expired), and weeks of movements through the API's path: the ledger holds.
    let inv = first.inventory.unwrap();
    assert_eq!((inv.warehouses, inv.products), (2, 500));
    assert_eq!(inv.lots, 200);
    assert!(inv.locations > 100, "{inv:?}");
    assert!(inv.movements > 1500, "{inv:?}");
    let tenant: uuid::Uuid = sqlx::query_scalar("select id from tenant where slug = 'demo'")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    crate::inventory::assert_ledger(&app, tenant).await;
    let (token, _) = app
        .login("demo", &first.logins[0].email, first.logins[0].password)
        .await;
    for (path, at_least) in [
        ("/v1/stock?limit=500", 400),
        ("/v1/stock/low?limit=500", 1),
        ("/v1/movements?kind=count", 10),
        ("/v1/movements?kind=transfer&limit=500", 400),
        ("/v1/stock?expiring_before=2999-01-01&limit=500", 50),
    ] {
        let page: Value = app.get(path, &token).await.json().await.unwrap();
        let n = page["items"].as_array().unwrap().len();
        assert!(n >= at_least, "{path}: {n}");
    }
    let first_day: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select min(occurred_at) from movement where tenant_id = $1")
            .bind(tenant)
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert!(first_day.unwrap() < chrono::Utc::now() - chrono::Duration::days(20));

    // Run again (every `cargo xtask dev` start): nothing new, the same logins.
    let again = admin::demo_seed(&app.owner).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.logins.len(), 6);
    let tenants = admin::tenant_list(&app.owner).await.unwrap();
    assert_eq!(tenants.len(), 1);
}

#[tokio::test]
async fn demo_seed_leaves_a_database_with_tenants_alone() {
    let app = spawn_app().await;
    app.tenant("acme", "free").await;
    let seed = admin::demo_seed(&app.owner).await.unwrap();
    assert!(!seed.created);
    assert!(seed.logins.is_empty());
    let slugs: Vec<String> = admin::tenant_list(&app.owner)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.slug)
        .collect();
    assert_eq!(slugs, ["acme"]);
}
