//! `/v1/locations`: the location tree.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

async fn warehouse(app: &TestApp, token: &str, code: &str) -> String {
    id_of(
        &create(
            app,
            "/v1/warehouses",
            token,
            json!({"code": code, "name": code, "timezone": "UTC"}),
        )
        .await,
    )
}

async fn location(app: &TestApp, token: &str, body: Value) -> Value {
    create(app, "/v1/locations", token, body).await
}

#[tokio::test]
async fn locations_form_a_searchable_tree_per_warehouse() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let w = warehouse(&app, &t.token, "MAIN").await;
    let zone = location(
        &app,
        &t.token,
        json!({"warehouse_id": w, "code": "a", "name": "Zone A"}),
    )
    .await;
    assert_eq!(zone["path"], "A");
    assert_eq!(zone["depth"], 0);
    assert!(zone["parent_id"].is_null());
    let aisle = location(
        &app,
        &t.token,
        json!({"parent_id": zone["id"], "code": "03"}),
    )
    .await;
    assert_eq!(aisle["path"], "A/03");
    assert_eq!(aisle["depth"], 1);
    assert_eq!(aisle["warehouse_id"], w.as_str());
    let bin = location(
        &app,
        &t.token,
        json!({"warehouse_id": w, "parent_id": aisle["id"], "code": "B2", "name": "Bin two"}),
    )
    .await;
    assert_eq!(bin["path"], "A/03/B2");
    assert_eq!(bin["depth"], 2);
    let other = location(&app, &t.token, json!({"warehouse_id": w, "code": "A_1"})).await;
    // The same code in another warehouse is fine.
    let w2 = warehouse(&app, &t.token, "SECOND").await;
    let zone2 = location(&app, &t.token, json!({"warehouse_id": w2, "code": "A"})).await;

    let ids = |v: Value| item_ids(&v);
    let list = |q: &str| get_json(&app, format!("/v1/locations?{q}"), &t.token);
    assert_eq!(
        ids(list(&format!("warehouse_id={w}")).await),
        [id_of(&zone), id_of(&aisle), id_of(&bin), id_of(&other)]
    );
    assert_eq!(
        ids(list(&format!("parent_id={}", id_of(&zone))).await),
        [id_of(&aisle)]
    );
    assert_eq!(
        ids(list("root=true").await),
        [id_of(&zone), id_of(&other), id_of(&zone2)]
    );
    // Subtree by path prefix (codes are case-insensitive; `_` is not a wildcard).
    assert_eq!(
        ids(list(&format!("warehouse_id={w}&path_prefix=a/")).await),
        [id_of(&aisle), id_of(&bin)]
    );
    assert_eq!(ids(list("path_prefix=A_").await), [id_of(&other)]);
    // Substring of the path or the name.
    assert_eq!(ids(list("q=03/b").await), [id_of(&bin)]);
    assert_eq!(ids(list("q=bin%20TWO").await), [id_of(&bin)]);
    assert_eq!(ids(list("q=_").await), [id_of(&other)]);

    // Code taken in the warehouse.
    let v = problem(
        app.post(
            "/v1/locations",
            &t.token,
            json!({"warehouse_id": w, "code": "b2"}),
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
            .contains("location with this code")
    );
    // A parent in another warehouse.
    problem(
        app.post(
            "/v1/locations",
            &t.token,
            json!({"warehouse_id": w2, "parent_id": zone["id"], "code": "X"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_parent",
    )
    .await;
    for body in [
        json!({"warehouse_id": Uuid::now_v7(), "code": "X"}),
        json!({"parent_id": Uuid::now_v7(), "code": "X"}),
    ] {
        problem(
            app.post("/v1/locations", &t.token, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "reference_not_found",
        )
        .await;
    }
    for body in [
        json!({"code": "X"}),
        json!({"warehouse_id": w, "code": "A/B"}),
        json!({"warehouse_id": w, "code": ""}),
        // PostgreSQL cannot store a NUL: refused, not a server error.
        json!({"warehouse_id": w, "code": "N", "name": "a\u{0}b"}),
    ] {
        problem(
            app.post("/v1/locations", &t.token, body).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    // Audit and change rows of the creation.
    let ch = changes(&app, &id_of(&bin)).await;
    assert_eq!(ch, ["upsert"]);
    assert_eq!(audits(&app, &id_of(&bin)).await[0].0, "location.create");
}

#[tokio::test]
async fn a_new_code_rewrites_the_paths_of_the_subtree() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let w = warehouse(&app, &t.token, "MAIN").await;
    let zone = location(&app, &t.token, json!({"warehouse_id": w, "code": "A"})).await;
    let aisle = location(
        &app,
        &t.token,
        json!({"parent_id": zone["id"], "code": "03"}),
    )
    .await;
    let bin = location(
        &app,
        &t.token,
        json!({"parent_id": aisle["id"], "code": "B2"}),
    )
    .await;
    // A sibling whose path merely starts with the same characters is not a descendant.
    let sibling = location(
        &app,
        &t.token,
        json!({"parent_id": zone["id"], "code": "030"}),
    )
    .await;
    let r = app
        .patch(
            &format!("/v1/locations/{}", id_of(&aisle)),
            &t.token,
            json!({"code": "04", "name": "Aisle four"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let after: Value = r.json().await.unwrap();
    assert_eq!(after["code"], "04");
    assert_eq!(after["path"], "A/04");
    assert_eq!(after["name"], "Aisle four");
    let bin_after = get_json(&app, &format!("/v1/locations/{}", id_of(&bin)), &t.token).await;
    assert_eq!(bin_after["path"], "A/04/B2");
    let sib = get_json(
        &app,
        &format!("/v1/locations/{}", id_of(&sibling)),
        &t.token,
    )
    .await;
    assert_eq!(sib["path"], "A/030");
    // Devices learn the descendant's new path from a change row.
    let ch = changes(&app, &id_of(&bin)).await;
    // The bin's path changed with its aisle's code: devices pull the bin again.
    assert_eq!(ch, ["upsert", "upsert"]);
    assert_eq!(changes(&app, &id_of(&sibling)).await.len(), 1);
    let audit = audits(&app, &id_of(&aisle)).await;
    assert_eq!(audit[1].0, "location.update");
    assert_eq!(audit[1].1.as_ref().unwrap()["path"], "A/03");
    assert_eq!(audit[1].2.as_ref().unwrap()["path"], "A/04");
    // The code is unique in the warehouse.
    problem(
        app.patch(
            &format!("/v1/locations/{}", id_of(&bin)),
            &t.token,
            json!({"code": "030"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
}

/// Puts stock of a new product in `location` (as the movement API will).
async fn stock(
    app: &TestApp,
    t: &Tenant,
    location: &Value,
    sku: &str,
    on_hand: i64,
    allocated: i64,
) {
    let p = create(
        app,
        "/v1/products",
        &t.token,
        json!({"sku": sku, "name": "Thing"}),
    )
    .await;
    sqlx::query(
        "insert into stock_row (tenant_id, product_id, location_id, warehouse_id, on_hand, allocated)
         values ($1, $2::uuid, $3::uuid, $4::uuid, $5, $6)",
    )
    .bind(t.id)
    .bind(id_of(&p))
    .bind(id_of(location))
    .bind(location["warehouse_id"].as_str().unwrap())
    .bind(on_hand)
    .bind(allocated)
    .execute(&app.owner)
    .await
    .unwrap();
}

#[tokio::test]
async fn stock_lives_in_leaves_and_used_locations_are_kept() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let w = warehouse(&app, &t.token, "MAIN").await;
    let zone = location(&app, &t.token, json!({"warehouse_id": w, "code": "A"})).await;
    let bin = location(
        &app,
        &t.token,
        json!({"parent_id": zone["id"], "code": "B1"}),
    )
    .await;
    let reserved = location(
        &app,
        &t.token,
        json!({"parent_id": zone["id"], "code": "B2"}),
    )
    .await;
    let empty = location(
        &app,
        &t.token,
        json!({"parent_id": zone["id"], "code": "B3"}),
    )
    .await;
    stock(&app, &t, &bin, "S1", 5, 0).await;
    stock(&app, &t, &reserved, "S2", 0, 2).await;
    stock(&app, &t, &empty, "S3", 0, 0).await;

    for holder in [&bin, &reserved] {
        let v = problem(
            app.post(
                "/v1/locations",
                &t.token,
                json!({"parent_id": holder["id"], "code": "X"}),
            )
            .await,
            StatusCode::CONFLICT,
            "location_has_stock",
        )
        .await;
        assert!(v["detail"].as_str().unwrap().contains("leaf"));
        problem(
            app.delete(&format!("/v1/locations/{}", id_of(holder)), &t.token)
                .await,
            StatusCode::CONFLICT,
            "location_has_stock",
        )
        .await;
    }
    // An empty stock row is history: the location can only be deactivated.
    problem(
        app.delete(&format!("/v1/locations/{}", id_of(&empty)), &t.token)
            .await,
        StatusCode::CONFLICT,
        "location_has_history",
    )
    .await;
    // But an emptied location may get children again.
    location(
        &app,
        &t.token,
        json!({"parent_id": empty["id"], "code": "B3-1"}),
    )
    .await;
    problem(
        app.delete(&format!("/v1/locations/{}", id_of(&zone)), &t.token)
            .await,
        StatusCode::CONFLICT,
        "location_has_children",
    )
    .await;
    let r = app
        .patch(
            &format!("/v1/locations/{}", id_of(&bin)),
            &t.token,
            json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["active"], false);

    // A leaf without history is deleted: audited, and a delete change for devices.
    let leaf = location(
        &app,
        &t.token,
        json!({"parent_id": zone["id"], "code": "TMP"}),
    )
    .await;
    let r = app
        .delete(&format!("/v1/locations/{}", id_of(&leaf)), &t.token)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    problem(
        app.get(&format!("/v1/locations/{}", id_of(&leaf)), &t.token)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let ch = changes(&app, &id_of(&leaf)).await;
    assert_eq!(ch, ["upsert", "delete"]);
    let audit = audits(&app, &id_of(&leaf)).await;
    assert_eq!(audit[1].0, "location.delete");
    assert_eq!(audit[1].1.as_ref().unwrap(), &leaf);
    assert!(audit[1].2.is_none());
    problem(
        app.delete(&format!("/v1/locations/{}", id_of(&leaf)), &t.token)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn the_plan_limits_locations_and_creation_is_idempotent() {
    let app = spawn_app().await;
    catalog_plan(&app, "tiny", 10, 2, 5).await;
    let t = app.tenant("acme", "tiny").await;
    let w = warehouse(&app, &t.token, "MAIN").await;
    let send = |key: &'static str, code: &'static str| {
        app.client
            .post(app.url("/v1/locations"))
            .header("authorization", bearer(&t.token))
            .header("idempotency-key", key)
            .json(&json!({"warehouse_id": w, "code": code}))
            .send()
    };
    let first: Value = send("k1", "A").await.unwrap().json().await.unwrap();
    let replay = send("k1", "A").await.unwrap();
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    problem(
        send("k1", "B").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(send("k2", "B").await.unwrap().status(), StatusCode::CREATED);
    let v = problem(
        send("k3", "C").await.unwrap(),
        StatusCode::FORBIDDEN,
        "quota_exceeded",
    )
    .await;
    assert_eq!(v["resource"], "locations");
    assert_eq!(v["limit"], 2);
}

#[tokio::test]
async fn trees_are_bounded_in_depth() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let w = warehouse(&app, &t.token, "MAIN").await;
    let mut parent = location(&app, &t.token, json!({"warehouse_id": w, "code": "L0"})).await;
    for depth in 1..=15 {
        parent = location(
            &app,
            &t.token,
            json!({"parent_id": parent["id"], "code": format!("L{depth}")}),
        )
        .await;
        assert_eq!(parent["depth"], depth);
    }
    assert!(parent["path"].as_str().unwrap().ends_with("/L14/L15"));
    let v = problem(
        app.post(
            "/v1/locations",
            &t.token,
            json!({"parent_id": parent["id"], "code": "L16"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("16 levels"));
}

/// `POST /v1/locations/generate` with aisles A–D × racks 01–20 × levels 1–`levels`.
fn grid(parent: &Value, levels: &str, dry_run: bool) -> Value {
    json!({
        "parent_id": parent["id"],
        "segments": [
            {"from": "A", "to": "D", "label": "Aisle"},
            {"from": "01", "to": "20", "label": "Rack"},
            {"from": "1", "to": levels, "label": "Level"},
        ],
        "dry_run": dry_run,
    })
}

/// Generates bins (201) and returns the answer with its (new, existing) counts.
async fn generate(app: &TestApp, token: &str, body: Value) -> (Value, (u64, u64)) {
    let made = create(app, "/v1/locations/generate", token, body).await;
    let counts = (
        made["new"].as_u64().unwrap(),
        made["existing"].as_u64().unwrap(),
    );
    (made, counts)
}

async fn children(app: &TestApp, token: &str, parent: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get_json(
            app,
            format!(
                "/v1/locations?parent_id={}&limit=500{cursor}",
                id_of(parent)
            ),
            token,
        )
        .await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

#[tokio::test]
async fn the_bin_generator_previews_then_creates_a_grid_once() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let w = warehouse(&app, &t.token, "MAIN").await;
    let zone = location(&app, &t.token, json!({"warehouse_id": w, "code": "Z1"})).await;

    // The preview says what would be made and makes nothing.
    let r = app
        .post("/v1/locations/generate", &t.token, grid(&zone, "5", true))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let preview: Value = r.json().await.unwrap();
    assert_eq!(
        (
            preview["total"].as_u64(),
            preview["new"].as_u64(),
            preview["existing"].as_u64()
        ),
        (Some(400), Some(400), Some(0))
    );
    assert_eq!(preview["bins"][0]["code"], "A-01-1");
    assert_eq!(preview["bins"][0]["path"], "Z1/A-01-1");
    assert_eq!(preview["bins"][0]["name"], "Aisle A Rack 01 Level 1");
    assert!(preview["bins"][0]["id"].is_null());
    assert!(children(&app, &t.token, &zone).await.is_empty());

    // Created in one request: 400 leaves under the zone, each pulled by devices, one audit
    // entry for the whole grid.
    let (made, counts) = generate(&app, &t.token, grid(&zone, "5", false)).await;
    assert_eq!(counts, (400, 0));
    let bins = children(&app, &t.token, &zone).await;
    assert_eq!(bins.len(), 400);
    let last = bins.iter().find(|b| b["code"] == "D-20-5").unwrap();
    assert_eq!(last["path"], "Z1/D-20-5");
    assert_eq!(last["depth"], 1);
    assert_eq!(last["name"], "Aisle D Rack 20 Level 5");
    assert_eq!(made["bins"][399]["id"], last["id"]);
    assert_eq!(
        changes(&app, last["id"].as_str().unwrap()).await,
        ["upsert"]
    );
    let generated = || async {
        let all = audits(&app, &id_of(&zone)).await;
        all.into_iter()
            .filter(|a| a.0 == "location.generate")
            .collect::<Vec<_>>()
    };
    let audited = generated().await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].2.as_ref().unwrap()["created"], 400);

    // A sixth level adds only what is missing; the same grid again adds nothing.
    let (wider, counts) = generate(&app, &t.token, grid(&zone, "6", false)).await;
    assert_eq!(counts, (80, 400));
    assert_eq!(wider["bins"][0]["exists"], true);
    assert_eq!(wider["bins"][0]["id"], made["bins"][0]["id"]);
    let (_, counts) = generate(&app, &t.token, grid(&zone, "6", false)).await;
    assert_eq!(counts, (0, 480));
    assert_eq!(children(&app, &t.token, &zone).await.len(), 480);
    assert_eq!(generated().await.len(), 2);
}

#[tokio::test]
async fn the_bin_generator_refuses_and_changes_nothing() {
    let app = spawn_app().await;
    catalog_plan(&app, "small", 100, 30, 5).await;
    let t = app.tenant("acme", "small").await;
    let w = warehouse(&app, &t.token, "MAIN").await;
    let zone = location(&app, &t.token, json!({"warehouse_id": w, "code": "Z1"})).await;
    let other = location(&app, &t.token, json!({"warehouse_id": w, "code": "Z2"})).await;
    location(
        &app,
        &t.token,
        json!({"parent_id": other["id"], "code": "a-1"}),
    )
    .await;
    let post = |body: Value| app.post("/v1/locations/generate", &t.token, body);
    let small = |parent: &Value, to: &str| json!({"parent_id": parent["id"], "segments": [{"from": "A", "to": to}, {"from": "1", "to": "3"}]});

    // A code used under another zone: codes are unique per warehouse.
    let v = problem(
        post(small(&zone, "B")).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("A-1"), "{v}");
    // Ranges that make no sense, and too many bins, say why.
    for (segments, says) in [
        (json!([{"from": "D", "to": "A"}]), "D comes after A"),
        (json!([{"from": "A", "to": "9"}]), "not a range"),
        (json!([]), "at least one segment"),
        (
            json!([{"from": "1", "to": "100"}, {"from": "1", "to": "100"}]),
            "at most 5000",
        ),
    ] {
        let v = problem(
            post(json!({"parent_id": zone["id"], "segments": segments})).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(v["detail"].as_str().unwrap().contains(says), "{v}");
    }
    // The plan allows 30 locations and 3 exist: 27 more fit, 30 do not, even as a preview.
    let v = problem(
        post(json!({"parent_id": zone["id"], "segments": [{"from": "C", "to": "L"}, {"from": "1", "to": "3"}], "dry_run": true})).await,
        StatusCode::FORBIDDEN,
        "quota_exceeded",
    )
    .await;
    assert_eq!(v["limit"], 30);
    // A bin holding stock gets no children.
    let bin = location(
        &app,
        &t.token,
        json!({"parent_id": zone["id"], "code": "HOLD"}),
    )
    .await;
    stock(&app, &t, &bin, "S1", 5, 0).await;
    problem(
        post(small(&bin, "B")).await,
        StatusCode::CONFLICT,
        "location_has_stock",
    )
    .await;
    assert_eq!(children(&app, &t.token, &zone).await.len(), 1);
    assert!(children(&app, &t.token, &bin).await.is_empty());
    // Within the plan it works.
    let made = create(&app, "/v1/locations/generate", &t.token, json!({"parent_id": zone["id"], "segments": [{"from": "C", "to": "J"}, {"from": "1", "to": "3"}]})).await;
    assert_eq!(made["new"], 24);
}

#[tokio::test]
async fn two_people_generating_overlapping_grids_at_once_make_each_bin_once() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let (_, manager) = app.user(&t, "m@acme.test", "manager").await;
    let w = warehouse(&app, &t.token, "MAIN").await;
    let zone = location(&app, &t.token, json!({"warehouse_id": w, "code": "Z1"})).await;
    let body = |to: &str| json!({"parent_id": zone["id"], "segments": [{"from": "A", "to": to}, {"from": "01", "to": "10"}]});
    let (a, b) = tokio::join!(
        app.post("/v1/locations/generate", &t.token, body("C")),
        app.post("/v1/locations/generate", &manager, body("E")),
    );
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    // Whichever came second found the other's bins and made only the rest.
    assert_eq!(
        a["new"].as_u64().unwrap() + b["new"].as_u64().unwrap(),
        50,
        "{a} {b}"
    );
    assert_eq!(a["total"], 30);
    assert_eq!(b["total"], 50);
    let bins = children(&app, &t.token, &zone).await;
    assert_eq!(bins.len(), 50);
}
