//! `/v1/lots`.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn lots_belong_to_lot_tracked_products() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let milk = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "MILK", "name": "Milk", "lot_tracked": true, "expiry_policy": "fefo"}),
    )
    .await;
    let eggs = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "EGGS", "name": "Eggs", "lot_tracked": true}),
    )
    .await;
    let bolt = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "BOLT", "name": "Bolt"}),
    )
    .await;
    let l1 = create(
        &app,
        "/v1/lots",
        &t.token,
        json!({"product_id": milk["id"], "code": "L-2024 a", "expires_on": "2030-01-10"}),
    )
    .await;
    assert_eq!(l1["code"], "L-2024 a", "lot codes are kept as printed");
    assert_eq!(l1["expires_on"], "2030-01-10");
    assert_eq!(l1["product_id"], milk["id"]);
    let l2 = create(
        &app,
        "/v1/lots",
        &t.token,
        json!({"product_id": milk["id"], "code": "L2", "expires_on": "2030-03-01"}),
    )
    .await;
    let l3 = create(
        &app,
        "/v1/lots",
        &t.token,
        json!({"product_id": eggs["id"], "code": "L-2024 a"}),
    )
    .await;
    assert!(l3["expires_on"].is_null());
    assert_eq!(
        get_json(&app, &format!("/v1/lots/{}", id_of(&l1)), &t.token).await,
        l1
    );

    let v = problem(
        app.post(
            "/v1/lots",
            &t.token,
            json!({"product_id": bolt["id"], "code": "X"}),
        )
        .await,
        StatusCode::CONFLICT,
        "product_not_lot_tracked",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("lot"));
    problem(
        app.post(
            "/v1/lots",
            &t.token,
            json!({"product_id": Uuid::now_v7(), "code": "X"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reference_not_found",
    )
    .await;
    let v = problem(
        app.post(
            "/v1/lots",
            &t.token,
            json!({"product_id": milk["id"], "code": "L2"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("lot with this code"));
    problem(
        app.post(
            "/v1/lots",
            &t.token,
            json!({"product_id": milk["id"], "code": " "}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    problem(
        app.post(
            "/v1/lots",
            &t.token,
            json!({"product_id": milk["id"], "code": "Z", "expires_on": "31/01/2030"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;

    let list = |q: &str| get_json(&app, format!("/v1/lots?{q}"), &t.token);
    assert_eq!(
        item_ids(&list(&format!("product_id={}", milk["id"].as_str().unwrap())).await),
        [id_of(&l1), id_of(&l2)]
    );
    assert_eq!(
        item_ids(&list("expiring_before=2030-02-01").await),
        [id_of(&l1)]
    );
    assert_eq!(
        item_ids(&list("expiring_before=2031-01-01").await),
        [id_of(&l1), id_of(&l2)]
    );
    assert_eq!(item_ids(&list("").await).len(), 3);
    let p1 = list("limit=2").await;
    let p2 = list(&format!(
        "limit=2&cursor={}",
        p1["next_cursor"].as_str().unwrap()
    ))
    .await;
    assert_eq!(item_ids(&p2), [id_of(&l3)]);
    problem(
        app.get("/v1/lots?expiring_before=soon", &t.token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;

    // PATCH: the code and expiry date; null clears the date.
    let r = app
        .patch(
            &format!("/v1/lots/{}", id_of(&l2)),
            &t.token,
            json!({"expires_on": null}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let after: Value = r.json().await.unwrap();
    assert!(after["expires_on"].is_null());
    assert_eq!(after["code"], "L2");
    let r = app
        .patch(
            &format!("/v1/lots/{}", id_of(&l2)),
            &t.token,
            json!({"code": "L3"}),
        )
        .await;
    let after2: Value = r.json().await.unwrap();
    assert_eq!(after2["code"], "L3");
    assert!(after2["expires_on"].is_null());
    problem(
        app.patch(
            &format!("/v1/lots/{}", id_of(&l2)),
            &t.token,
            json!({"code": "L-2024 a"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    let ch = changes(&app, &id_of(&l2)).await;
    assert_eq!(ch, ["upsert", "upsert", "upsert"]);
    let audit = audits(&app, &id_of(&l2)).await;
    assert_eq!(
        audit.iter().map(|a| a.0.as_str()).collect::<Vec<_>>(),
        ["lot.create", "lot.update", "lot.update"]
    );
    assert_eq!(audit[1].1.as_ref().unwrap(), &l2);
}

#[tokio::test]
async fn creating_a_lot_is_idempotent_with_a_key() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let p = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "MILK", "name": "Milk", "lot_tracked": true}),
    )
    .await;
    let send = |code: &str| {
        app.client
            .post(app.url("/v1/lots"))
            .header("authorization", bearer(&t.token))
            .header("idempotency-key", "lot-1")
            .json(&json!({"product_id": p["id"], "code": code}))
            .send()
    };
    let first: Value = send("A").await.unwrap().json().await.unwrap();
    let again = send("A").await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    problem(
        send("B").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
}
