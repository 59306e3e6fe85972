//! `/v1/warehouses`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn warehouses_are_created_listed_changed_and_deactivated() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let w = create(
        &app,
        "/v1/warehouses",
        &t.token,
        json!({"code": " par-1 ", "name": "Paris", "timezone": "Europe/Paris", "address": "1 rue X"}),
    )
    .await;
    assert_eq!(w["code"], "PAR-1", "codes are trimmed and upper-cased");
    assert_eq!(w["timezone"], "Europe/Paris");
    assert_eq!(w["address"], "1 rue X");
    assert_eq!(w["active"], true);
    let id = id_of(&w);
    assert_eq!(
        get_json(&app, &format!("/v1/warehouses/{id}"), &t.token).await,
        w
    );

    let w2 = create(
        &app,
        "/v1/warehouses",
        &t.token,
        json!({"code": "LYS", "name": "Lyon", "timezone": "UTC"}),
    )
    .await;
    assert_eq!(w2["address"], "");
    // Pagination: one per page, in creation order.
    let p1 = get_json(&app, "/v1/warehouses?limit=1", &t.token).await;
    assert_eq!(item_ids(&p1), [id.as_str()]);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let p2 = get_json(
        &app,
        &format!("/v1/warehouses?limit=1&cursor={cursor}"),
        &t.token,
    )
    .await;
    assert_eq!(item_ids(&p2), [id_of(&w2)]);
    assert!(p2.get("next_cursor").is_none() || p2["next_cursor"].is_null());

    let r = app
        .patch(
            &format!("/v1/warehouses/{id}"),
            &t.token,
            json!({"name": "Paris Nord", "timezone": "America/New_York", "active": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let after: Value = r.json().await.unwrap();
    assert_eq!(after["name"], "Paris Nord");
    assert_eq!(after["timezone"], "America/New_York");
    assert_eq!(after["active"], false);
    assert_eq!(after["code"], "PAR-1");
    let active = get_json(&app, "/v1/warehouses?active=true", &t.token).await;
    assert_eq!(item_ids(&active), [id_of(&w2)]);
    let inactive = get_json(&app, "/v1/warehouses?active=false", &t.token).await;
    assert_eq!(item_ids(&inactive), [id.as_str()]);

    // Audited, and each write is a catalog change carrying the API's JSON.
    let audit = audits(&app, &id).await;
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].0, "warehouse.create");
    assert!(audit[0].1.is_none());
    assert_eq!(audit[0].2.as_ref().unwrap(), &w);
    assert_eq!(audit[1].0, "warehouse.update");
    assert_eq!(audit[1].1.as_ref().unwrap(), &w);
    assert_eq!(audit[1].2.as_ref().unwrap(), &after);
    let ch = changes(&app, &id).await;
    assert_eq!(ch, ["upsert", "upsert"]);
    let scoped: Option<uuid::Uuid> = sqlx::query_scalar(
        "select warehouse_id from catalog_change where entity_id = $1::uuid limit 1",
    )
    .bind(&id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(scoped.unwrap().to_string(), id);
}

#[tokio::test]
async fn warehouse_input_is_validated() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    create(
        &app,
        "/v1/warehouses",
        &t.token,
        json!({"code": "MAIN", "name": "Main", "timezone": "UTC"}),
    )
    .await;
    for body in [
        json!({"code": "MAIN 2", "name": "x", "timezone": "UTC"}),
        json!({"code": "", "name": "x", "timezone": "UTC"}),
        json!({"code": "B", "name": "", "timezone": "UTC"}),
        json!({"code": "B", "name": "x", "timezone": "Mars/Olympus"}),
        json!({"code": "B", "name": "x", "timezone": "Europe/Paris; drop table"}),
    ] {
        problem(
            app.post("/v1/warehouses", &t.token, body).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    problem(
        app.post("/v1/warehouses", &t.token, json!({"code": "B"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    let v = problem(
        app.post(
            "/v1/warehouses",
            &t.token,
            json!({"code": "main", "name": "Other", "timezone": "UTC"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("warehouse with this code")
    );
    problem(
        app.patch(
            &format!("/v1/warehouses/{}", uuid::Uuid::now_v7()),
            &t.token,
            json!({"name": "x"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn creating_a_warehouse_is_idempotent_with_a_key() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let send = |body: Value| {
        app.client
            .post(app.url("/v1/warehouses"))
            .header("authorization", bearer(&t.token))
            .header("idempotency-key", "wh-1")
            .json(&body)
            .send()
    };
    let body = json!({"code": "MAIN", "name": "Main", "timezone": "UTC"});
    let first = send(body.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send(body).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    problem(
        send(json!({"code": "OTHER", "name": "Main", "timezone": "UTC"}))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    let all = get_json(&app, "/v1/warehouses", &t.token).await;
    assert_eq!(item_ids(&all), [id_of(&first)]);
    assert_eq!(changes(&app, &id_of(&first)).await.len(), 1);
}

#[tokio::test]
async fn the_plan_limits_active_warehouses() {
    let app = spawn_app().await;
    catalog_plan(&app, "tiny", 10, 10, 1).await;
    let t = app.tenant("acme", "tiny").await;
    let body = |code: &str| json!({"code": code, "name": "W", "timezone": "UTC"});
    let first = create(&app, "/v1/warehouses", &t.token, body("A")).await;
    let v = problem(
        app.post("/v1/warehouses", &t.token, body("B")).await,
        StatusCode::FORBIDDEN,
        "quota_exceeded",
    )
    .await;
    assert_eq!(v["limit"], 1);
    assert_eq!(v["resource"], "warehouses");
    // Deactivating makes room; reactivating is checked like a creation.
    let r = app
        .patch(
            &format!("/v1/warehouses/{}", id_of(&first)),
            &t.token,
            json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    create(&app, "/v1/warehouses", &t.token, body("B")).await;
    problem(
        app.patch(
            &format!("/v1/warehouses/{}", id_of(&first)),
            &t.token,
            json!({"active": true}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "quota_exceeded",
    )
    .await;
}

#[tokio::test]
async fn viewers_read_the_catalog_and_purchasing_manages_it() {
    let app = spawn_app().await;
    // Many requests back to back: a plan whose rate limit they stay under.
    catalog_plan(&app, "roomy", 100, 100, 10).await;
    let t = app.tenant("acme", "roomy").await;
    let (_, viewer) = app.user(&t, "v@acme.example", "viewer").await;
    let (_, sales) = app.user(&t, "s@acme.example", "sales").await;
    let (_, operator) = app.user(&t, "o@acme.example", "operator").await;
    let (_, purchasing) = app.user(&t, "p@acme.example", "purchasing").await;
    let (_, manager) = app.user(&t, "m@acme.example", "manager").await;
    let seed = seed_catalog(&app, &purchasing, "P").await;
    seed_catalog(&app, &manager, "M").await;
    let writes = [
        (
            "POST",
            "/v1/warehouses".to_owned(),
            json!({"code": "X", "name": "X", "timezone": "UTC"}),
        ),
        (
            "PATCH",
            format!("/v1/warehouses/{}", id_of(&seed.warehouse)),
            json!({"name": "X"}),
        ),
        (
            "POST",
            "/v1/locations".to_owned(),
            json!({"warehouse_id": seed.warehouse["id"], "code": "X"}),
        ),
        (
            "PATCH",
            format!("/v1/locations/{}", id_of(&seed.location)),
            json!({"name": "X"}),
        ),
        (
            "DELETE",
            format!("/v1/locations/{}", id_of(&seed.location)),
            json!({}),
        ),
        (
            "POST",
            "/v1/products".to_owned(),
            json!({"sku": "X", "name": "X"}),
        ),
        (
            "PATCH",
            format!("/v1/products/{}", id_of(&seed.product)),
            json!({"name": "X"}),
        ),
        (
            "POST",
            "/v1/lots".to_owned(),
            json!({"product_id": seed.product["id"], "code": "X"}),
        ),
        (
            "PATCH",
            format!("/v1/lots/{}", id_of(&seed.lot)),
            json!({"code": "X"}),
        ),
    ];
    for token in [&viewer, &sales, &operator] {
        for (method, path, body) in &writes {
            let r = app
                .send(
                    method.parse().unwrap(),
                    path,
                    Some(&bearer(token)),
                    Some(body.clone()),
                )
                .await;
            problem(r, StatusCode::FORBIDDEN, "forbidden").await;
        }
        for path in [
            format!("/v1/warehouses/{}", id_of(&seed.warehouse)),
            format!("/v1/locations/{}", id_of(&seed.location)),
            format!("/v1/products/{}", id_of(&seed.product)),
            format!("/v1/lots/{}", id_of(&seed.lot)),
            "/v1/warehouses".to_owned(),
            "/v1/locations".to_owned(),
            "/v1/products".to_owned(),
            "/v1/lots".to_owned(),
        ] {
            get_json(&app, &path, token).await;
        }
    }
    // An API key scoped to catalog_read cannot write either.
    let (_, key) = app.api_key(&t, "reader", &["catalog_read"]).await;
    let r = app
        .send(
            reqwest::Method::POST,
            "/v1/warehouses",
            Some(&format!("ApiKey {key}")),
            Some(json!({"code": "K", "name": "K", "timezone": "UTC"})),
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    // Audit entries name the purchasing user who wrote.
    let actor: String = sqlx::query_scalar(
        "select u.role from audit_log a join app_user u on u.id = a.actor_id
         where a.target_id = $1 and a.action = 'product.create'",
    )
    .bind(id_of(&seed.product))
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(actor, "purchasing");
}

#[tokio::test]
async fn an_expired_tenant_reads_its_catalog_but_cannot_change_it() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let seed = seed_catalog(&app, &t.token, "A").await;
    // A key scoped to catalog_manage writes the catalog while the tenant is current.
    let (_, key) = app
        .api_key(&t, "erp", &["catalog_read", "catalog_manage"])
        .await;
    let auth = format!("ApiKey {key}");
    let r = app
        .send(
            reqwest::Method::POST,
            "/v1/products",
            Some(&auth),
            Some(json!({"sku": "ERP-1", "name": "From the ERP"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    logiflow_server::admin::tenant_expire(&app.owner, "acme")
        .await
        .unwrap();
    for path in [
        format!("/v1/warehouses/{}", id_of(&seed.warehouse)),
        format!("/v1/locations/{}", id_of(&seed.location)),
        format!("/v1/products/{}", id_of(&seed.product)),
        format!("/v1/lots/{}", id_of(&seed.lot)),
        "/v1/products?q=widget".to_owned(),
    ] {
        get_json(&app, &path, &t.token).await;
    }
    let r = app
        .send(
            reqwest::Method::POST,
            "/v1/products",
            Some(&auth),
            Some(json!({"sku": "ERP-2", "name": "From the ERP"})),
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "subscription_expired").await;
    problem(
        app.patch(
            &format!("/v1/lots/{}", id_of(&seed.lot)),
            &t.token,
            json!({"code": "L9"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "subscription_expired",
    )
    .await;
}
