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
