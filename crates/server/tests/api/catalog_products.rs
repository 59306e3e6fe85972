//! `/v1/products`: products, barcodes, exact decimals, custom fields, search.

use logiflow_server::routes::products::product_filter;
use logiflow_server::store::products::search_query;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn products_carry_barcodes_and_exact_decimals() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let p = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "ab-100/x", "name": "Blue widget", "uom": "g", "expiry_policy": "fefo",
               "reorder_point": 10, "reorder_qty": 50, "cost": "12.5", "price": "19.999",
               "barcodes": ["4006381333931", "INT-0042", "INT-0042"]}),
    )
    .await;
    assert_eq!(p["sku"], "AB-100/X");
    assert_eq!(p["uom"], "g");
    assert_eq!(p["lot_tracked"], false);
    assert_eq!(p["expiry_policy"], "fefo");
    assert_eq!(p["reorder_point"], 10);
    assert_eq!(p["reorder_qty"], 50);
    assert_eq!(
        p["cost"], "12.50",
        "decimals are strings with at least two places"
    );
    assert_eq!(p["price"], "19.999");
    assert_eq!(p["barcodes"], json!(["4006381333931", "INT-0042"]));
    assert_eq!(p["custom"], json!({}));
    assert_eq!(p["active"], true);
    let id = id_of(&p);
    assert_eq!(
        get_json(&app, &format!("/v1/products/{id}"), &t.token).await,
        p
    );
    let stored: rust_decimal::Decimal =
        sqlx::query_scalar("select cost from product where id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert_eq!(stored, rust_decimal::Decimal::new(125, 1));

    // Floats are refused; so are negative, over-precise or malformed amounts.
    problem(
        app.post(
            "/v1/products",
            &t.token,
            json!({"sku": "F", "name": "F", "cost": 12.5}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    for body in [
        json!({"sku": "F", "name": "F", "cost": "-1"}),
        json!({"sku": "F", "name": "F", "price": "0.0000001"}),
        json!({"sku": "F G", "name": "F"}),
        json!({"sku": "F", "name": ""}),
        json!({"sku": "F", "name": "F", "uom": ""}),
        json!({"sku": "F", "name": "F", "reorder_point": -1}),
        json!({"sku": "F", "name": "F", "barcodes": ["4006381333932"]}),
    ] {
        problem(
            app.post("/v1/products", &t.token, body).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    problem(
        app.post(
            "/v1/products",
            &t.token,
            json!({"sku": "F", "name": "F", "cost": "abc"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    // SKUs are unique per tenant, whatever the case typed.
    let v = problem(
        app.post(
            "/v1/products",
            &t.token,
            json!({"sku": "AB-100/x", "name": "Dup"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("sku"));
    // A barcode of another product: 409 naming it.
    let v = problem(
        app.post(
            "/v1/products",
            &t.token,
            json!({"sku": "OTHER", "name": "Other", "barcodes": ["NEW-1", "INT-0042"]}),
        )
        .await,
        StatusCode::CONFLICT,
        "barcode_taken",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("INT-0042"), "{v}");
    let other = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "OTHER", "name": "Other", "barcodes": ["NEW-1"]}),
    )
    .await;

    // PATCH replaces the barcode set and clears cost with null.
    let r = app
        .patch(
            &format!("/v1/products/{id}"),
            &t.token,
            json!({"barcodes": ["INT-0042", "INT-0043"], "cost": null, "price": "20", "name": "Blue widget XL"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let after: Value = r.json().await.unwrap();
    assert_eq!(after["barcodes"], json!(["INT-0042", "INT-0043"]));
    assert!(after["cost"].is_null());
    assert_eq!(after["price"], "20.00");
    assert_eq!(after["name"], "Blue widget XL");
    assert_eq!(after["sku"], "AB-100/X");
    let v = problem(
        app.patch(
            &format!("/v1/products/{}", id_of(&other)),
            &t.token,
            json!({"barcodes": ["INT-0043"]}),
        )
        .await,
        StatusCode::CONFLICT,
        "barcode_taken",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("INT-0043"));
    // The freed barcode can be taken.
    let r = app
        .patch(
            &format!("/v1/products/{}", id_of(&other)),
            &t.token,
            json!({"barcodes": ["NEW-1", "4006381333931"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Changes and audit carry the API's JSON, barcodes included.
    let ch = changes(&app, &id).await;
    assert_eq!(ch, ["upsert", "upsert"]);
    let audit = audits(&app, &id).await;
    assert_eq!(
        audit.iter().map(|a| a.0.as_str()).collect::<Vec<_>>(),
        ["product.create", "product.update"]
    );
    assert_eq!(audit[1].1.as_ref().unwrap(), &p);
    assert_eq!(audit[1].2.as_ref().unwrap(), &after);
    let null_warehouse: bool = sqlx::query_scalar(
        "select bool_and(warehouse_id is null) from catalog_change where entity = 'product'",
    )
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert!(null_warehouse, "products go to every device");
}

#[tokio::test]
async fn custom_fields_follow_the_tenant_schema() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    // Any object goes by default.
    create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "FREE", "name": "Free", "custom": {"anything": [1, 2]}}),
    )
    .await;
    let schema = json!({
        "type": "object",
        "properties": {
            "color": {"type": "string", "enum": ["red", "blue"]},
            "weight_g": {"type": "integer", "minimum": 0}
        },
        "required": ["color"],
        "additionalProperties": false
    });
    let r = app
        .patch(
            "/v1/settings",
            &t.token,
            json!({"product_field_schema": schema}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let s = get_json(&app, "/v1/settings", &t.token).await;
    assert_eq!(s["product_field_schema"], schema);
    for bad in [
        json!({"type": "string"}),
        json!([1, 2]),
        json!({"type": "object", "properties": {"a": {"type": "no-such-type"}}}),
        json!({"type": "object", "minProperties": -1}),
    ] {
        problem(
            app.patch(
                "/v1/settings",
                &t.token,
                json!({"product_field_schema": bad}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field_schema",
        )
        .await;
    }
    assert_eq!(
        get_json(&app, "/v1/settings", &t.token).await["product_field_schema"],
        schema
    );

    let v = problem(
        app.post(
            "/v1/products",
            &t.token,
            json!({"sku": "BAD", "name": "Bad", "custom": {"weight_g": -5, "size": "XL"}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_custom_fields",
    )
    .await;
    let errors = v["errors"].as_array().unwrap();
    let fields: Vec<&str> = errors
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"/weight_g"), "{v}");
    let text = v.to_string();
    assert!(
        text.contains("color"),
        "the missing required field is named: {v}"
    );
    assert!(text.contains("size"), "the unexpected field is named: {v}");
    assert!(v["detail"].as_str().unwrap().contains("/weight_g"));
    problem(
        app.post(
            "/v1/products",
            &t.token,
            json!({"sku": "BAD", "name": "Bad", "custom": [1]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_custom_fields",
    )
    .await;
    let ok = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "OK", "name": "Ok", "custom": {"color": "red", "weight_g": 12}}),
    )
    .await;
    assert_eq!(ok["custom"], json!({"color": "red", "weight_g": 12}));
    problem(
        app.patch(
            &format!("/v1/products/{}", id_of(&ok)),
            &t.token,
            json!({"custom": {"color": "green"}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_custom_fields",
    )
    .await;
    // A change that does not touch custom fields is not re-checked.
    let r = app
        .patch(
            &format!("/v1/products/{}", id_of(&ok)),
            &t.token,
            json!({"custom": {"color": "blue"}, "name": "Ok 2"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Changing the schema is audited.
    let n: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'settings.update'
         and after -> 'product_field_schema' = $1",
    )
    .bind(&schema)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn lot_tracking_cannot_strand_lots_or_stock() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let seed = seed_catalog(&app, &t.token, "A").await;
    let lotted = id_of(&seed.product);
    let v = problem(
        app.patch(
            &format!("/v1/products/{lotted}"),
            &t.token,
            json!({"lot_tracked": false}),
        )
        .await,
        StatusCode::CONFLICT,
        "product_has_lots",
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("lots"));
    let plain = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "PLAIN", "name": "Plain"}),
    )
    .await;
    sqlx::query(
        "insert into stock_row (tenant_id, product_id, location_id, warehouse_id, on_hand)
         values ($1, $2::uuid, $3::uuid, $4::uuid, 3)",
    )
    .bind(t.id)
    .bind(id_of(&plain))
    .bind(id_of(&seed.location))
    .bind(id_of(&seed.warehouse))
    .execute(&app.owner)
    .await
    .unwrap();
    problem(
        app.patch(
            &format!("/v1/products/{}", id_of(&plain)),
            &t.token,
            json!({"lot_tracked": true}),
        )
        .await,
        StatusCode::CONFLICT,
        "product_has_stock",
    )
    .await;
    let empty = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "EMPTY", "name": "Empty"}),
    )
    .await;
    let r = app
        .patch(
            &format!("/v1/products/{}", id_of(&empty)),
            &t.token,
            json!({"lot_tracked": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn products_are_searched_deactivated_and_counted_against_the_plan() {
    let app = spawn_app().await;
    catalog_plan(&app, "tiny", 3, 10, 5).await;
    let t = app.tenant("acme", "tiny").await;
    let a = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "AB-1", "name": "Red apple", "barcodes": ["5901234123457"]}),
    )
    .await;
    let b = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "AB-2", "name": "Green APPLE juice"}),
    )
    .await;
    let c = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "ABC", "name": "Pear 100%"}),
    )
    .await;
    let v = problem(
        app.post("/v1/products", &t.token, json!({"sku": "D", "name": "D"}))
            .await,
        StatusCode::FORBIDDEN,
        "quota_exceeded",
    )
    .await;
    assert_eq!(v["resource"], "skus");
    assert_eq!(v["limit"], 3);

    let search = |q: &str| get_json(&app, format!("/v1/products?{q}"), &t.token);
    assert_eq!(
        item_ids(&search("sku_prefix=ab-").await),
        [id_of(&a), id_of(&b)]
    );
    assert_eq!(item_ids(&search("sku_prefix=AB").await).len(), 3);
    assert_eq!(item_ids(&search("q=apple").await), [id_of(&a), id_of(&b)]);
    assert_eq!(
        item_ids(&search("q=100%25").await),
        [id_of(&c)],
        "% is literal"
    );
    assert_eq!(
        item_ids(&search("barcode=5901234123457").await),
        [id_of(&a)]
    );
    assert!(item_ids(&search("barcode=nothing").await).is_empty());
    problem(
        app.get("/v1/products?q=ap", &t.token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let p1 = search("limit=2").await;
    assert_eq!(item_ids(&p1), [id_of(&a), id_of(&b)]);
    let p2 = search(&format!(
        "limit=2&cursor={}",
        p1["next_cursor"].as_str().unwrap()
    ))
    .await;
    assert_eq!(item_ids(&p2), [id_of(&c)]);

    // Deactivated (never deleted): hidden by active=true, and room for a new SKU.
    let r = app
        .patch(
            &format!("/v1/products/{}", id_of(&b)),
            &t.token,
            json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(item_ids(&search("active=true&q=apple").await), [id_of(&a)]);
    assert_eq!(item_ids(&search("active=false").await), [id_of(&b)]);
    create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "D", "name": "D"}),
    )
    .await;
    problem(
        app.patch(
            &format!("/v1/products/{}", id_of(&b)),
            &t.token,
            json!({"active": true}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "quota_exceeded",
    )
    .await;
    // A new name is searchable at once, and the old one no longer finds it.
    let r = app
        .patch(
            &format!("/v1/products/{}", id_of(&a)),
            &t.token,
            json!({"name": "Red cherry"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(item_ids(&search("q=apple").await), [id_of(&b)]);
    assert_eq!(item_ids(&search("q=CHERRY").await), [id_of(&a)]);
    assert_eq!(item_ids(&search("q=red%20ch").await), [id_of(&a)]);
    problem(
        app.get("/v1/products?q=a%20b%20c", &t.token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let r = app
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/products/{}", id_of(&a)),
            Some(&bearer(&t.token)),
            None,
        )
        .await;
    problem(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn creating_a_product_is_idempotent_with_a_key() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let send = |body: Value| {
        app.client
            .post(app.url("/v1/products"))
            .header("authorization", bearer(&t.token))
            .header("idempotency-key", "p-1")
            .json(&body)
            .send()
    };
    let body = json!({"sku": "P1", "name": "One", "price": "1.10", "barcodes": ["B-1"]});
    let first: Value = send(body.clone()).await.unwrap().json().await.unwrap();
    let again = send(body).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    problem(
        send(json!({"sku": "P2", "name": "Two"})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(changes(&app, &id_of(&first)).await.len(), 1);
}

/// The plan nodes of an EXPLAIN (format json), flattened.
fn nodes(plan: &Value, out: &mut Vec<(String, String, String)>) {
    out.push((
        plan["Node Type"].as_str().unwrap_or_default().to_owned(),
        plan["Relation Name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        plan["Index Name"].as_str().unwrap_or_default().to_owned(),
    ));
    if let Some(children) = plan["Plans"].as_array() {
        for c in children {
            nodes(c, out);
        }
    }
}

#[tokio::test]
async fn every_product_search_uses_an_index_on_100k_products() {
    let app = spawn_app().await;
    catalog_plan(&app, "big", 200_000, 10, 5).await;
    let t = app.tenant("acme", "big").await;
    // Another tenant's rows too: the searches must not scan them either.
    let other = app.tenant("other", "big").await;
    for (tenant, n) in [(t.id, 100_000), (other.id, 10_000)] {
        // One set-based statement: the products, every tenth with a barcode (the name
        // search index is filled by the statement-level trigger in the same statement).
        sqlx::query(
            "with p as (
                 insert into product (tenant_id, id, sku, name, cost)
                 select $1, gen_random_uuid(), 'SKU-' || lpad(i::text, 6, '0'),
                        'Product ' || substr(md5(i::text), 1, 10), (i % 1000) / 100.0
                 from generate_series(1, $2) i
                 returning tenant_id, id, sku)
             insert into product_barcode (tenant_id, barcode, product_id)
             select tenant_id, 'BC-' || sku, id from p where right(sku, 1) = '0'",
        )
        .bind(tenant)
        .bind(n)
        .execute(&app.owner)
        .await
        .unwrap();
    }
    for table in ["product", "product_barcode", "product_name_trigram"] {
        sqlx::query(&format!("analyze {table}"))
            .execute(&app.owner)
            .await
            .unwrap();
    }
    let needle: String = sqlx::query_scalar(
        "select substr(name, 11, 6) from product where tenant_id = $1 and sku = 'SKU-054321'",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();

    // Explained as the server runs it: the application role, under row-level security
    // (which keeps non-leakproof conditions such as `ilike` out of index scans), in a
    // transaction scoped to the tenant.
    let mut conn = app_role_connection(&app, t.id).await;

    // (what, sku_prefix, q, barcode, active)
    type Search<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<bool>,
    );
    let searches: [Search; 6] = [
        ("sku_prefix", Some("sku-0123"), None, None, None),
        ("q", None, Some(&needle), None, None),
        ("q + active", None, Some(&needle), None, Some(true)),
        ("barcode", None, None, Some("BC-SKU-012340"), None),
        ("active", None, None, None, Some(true)),
        (
            "sku_prefix + active",
            Some("SKU-09"),
            None,
            None,
            Some(false),
        ),
    ];
    for (what, sku_prefix, q, barcode, active) in searches {
        let filter = product_filter(
            sku_prefix.map(str::to_owned),
            q.map(str::to_owned),
            barcode.map(str::to_owned),
            active,
        )
        .unwrap();
        // The exact statement the server runs, explained with the same parameters.
        let plan: Value = search_query("explain (format json)", t.id, &filter, None, 51)
            .build_query_scalar()
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let mut all = Vec::new();
        nodes(&plan[0]["Plan"], &mut all);
        assert!(all.iter().any(|n| n.1 == "product"), "{what}: {all:?}");
        for (node, relation, _) in &all {
            assert!(
                !(node == "Seq Scan" && relation.starts_with("product")),
                "{what} scans {relation} sequentially: {all:?}"
            );
        }
        let expected_index = match what {
            "sku_prefix" | "sku_prefix + active" => "product_sku_key",
            "q" | "q + active" => "product_name_trigram_pkey",
            "barcode" => "product_barcode_pkey",
            _ => "product_pkey",
        };
        assert!(
            all.iter().any(|n| n.2 == expected_index),
            "{what} uses {expected_index}: {all:?}"
        );
    }

    // And the API answers them right.
    let page = get_json(
        &app,
        "/v1/products?sku_prefix=SKU-01234&limit=500",
        &t.token,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 10);
    let page = get_json(&app, "/v1/products?barcode=BC-SKU-012340", &t.token).await;
    assert_eq!(page["items"][0]["sku"], "SKU-012340");
    assert_eq!(page["items"][0]["barcodes"], json!(["BC-SKU-012340"]));
    let page = get_json(
        &app,
        format!("/v1/products?q={}&limit=500", needle.to_uppercase()),
        &t.token,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    assert!(items.iter().any(|p| p["sku"] == "SKU-054321"), "{needle}");
    assert!(
        items
            .iter()
            .all(|p| p["name"].as_str().unwrap().contains(needle.as_str()))
    );
}

#[tokio::test]
async fn concurrent_products_with_one_barcode_one_wins_the_other_is_told_which() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    for round in 0..5 {
        let barcode = format!("RACE-{round}");
        let post = |sku: String| {
            app.client
                .post(app.url("/v1/products"))
                .header("authorization", bearer(&t.token))
                .json(&json!({"sku": sku, "name": "Racer", "barcodes": [barcode]}))
                .send()
        };
        let (a, b) = tokio::join!(post(format!("A{round}")), post(format!("B{round}")));
        let mut statuses = vec![a.unwrap(), b.unwrap()];
        statuses.sort_by_key(|r| r.status());
        let loser = statuses.pop().unwrap();
        assert_eq!(statuses[0].status(), StatusCode::CREATED);
        let v = problem(loser, StatusCode::CONFLICT, "barcode_taken").await;
        assert!(v["detail"].as_str().unwrap().contains(&barcode), "{v}");
    }
}

#[tokio::test]
async fn the_openapi_document_shows_decimals_as_strings() {
    let app = spawn_app().await;
    let doc = app.openapi().await;
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("Product", "cost"),
        ("Product", "price"),
        ("CreateProduct", "cost"),
        ("UpdateProduct", "price"),
    ] {
        let prop = &schemas[schema]["properties"][field];
        let types = if prop["type"].is_array() {
            prop["type"].clone()
        } else {
            json!([prop["type"]])
        };
        assert!(
            types.as_array().unwrap().contains(&json!("string")),
            "{schema}.{field}: {prop}"
        );
        assert!(
            !types.as_array().unwrap().contains(&json!("number")),
            "{schema}.{field}: {prop}"
        );
    }
    assert!(schemas["Problem"]["properties"].get("errors").is_some());
}
