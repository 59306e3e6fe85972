//! The webhook events' contract: every event type has an entry in the OpenAPI document's
//! `webhooks` section, and every event a test produced matches its documented schema
//! (`assert_events_documented`, called at the end of the tests that produce each type).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::*;

/// The OpenAPI document as served.
fn document() -> Value {
    serde_json::to_value(logiflow_server::app::openapi()).unwrap()
}

/// Checks every outbox event of the test's database against the `webhooks` section: a
/// documented type, an envelope whose `data` validates against the type's schema, and no
/// field the schema does not name. Returns the event types seen.
pub async fn assert_events_documented(app: &TestApp) -> BTreeSet<String> {
    let doc = document();
    let events: Vec<(String, Value)> =
        sqlx::query_as("select topic, payload from outbox_event order by id")
            .fetch_all(&app.owner)
            .await
            .unwrap();
    let mut seen = BTreeSet::new();
    for (topic, data) in events {
        let post = &doc["webhooks"][&topic]["post"];
        assert!(post.is_object(), "event type {topic} is not documented");
        let envelope = &post["requestBody"]["content"]["application/json"]["schema"];
        let reference = envelope["properties"]["data"]["$ref"].as_str().unwrap();
        let name = reference.trim_start_matches("#/components/schemas/");
        let properties = properties(&doc, &doc["components"]["schemas"][name]);
        assert!(!properties.is_empty(), "{name} has properties");
        for field in data.as_object().unwrap().keys() {
            assert!(
                properties.contains(field),
                "{topic}: field {field:?} is not in the schema {name}: {data}"
            );
        }
        let root = json!({"$ref": reference, "components": doc["components"]});
        let validator = jsonschema::validator_for(&root).unwrap();
        let body = json!({"type": topic, "timestamp": "2026-12-06T00:00:00Z", "data": data});
        let errors: Vec<String> = validator
            .iter_errors(&data)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{topic}: {errors:?} in {data}");
        let envelope_validator = jsonschema::validator_for(
            &json!({"components": doc["components"], "allOf": [envelope]}),
        )
        .unwrap();
        assert!(
            envelope_validator.is_valid(&body),
            "{topic}: envelope {body}"
        );
        seen.insert(topic);
    }
    seen
}

/// The properties a schema names, through `$ref` and `allOf` (a flattened struct).
fn properties(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return properties(doc, &doc["components"]["schemas"][name]);
    }
    if let Some(props) = schema["properties"].as_object() {
        out.extend(props.keys().cloned());
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        out.extend(properties(doc, part));
    }
    out
}

#[test]
fn every_event_type_is_a_documented_webhook_with_a_schema() {
    let doc = document();
    let webhooks = doc["webhooks"].as_object().expect("a webhooks section");
    let documented: BTreeSet<&str> = webhooks.keys().map(String::as_str).collect();
    let types: BTreeSet<&str> = logiflow_server::webhooks::EVENT_TYPES
        .iter()
        .copied()
        .collect();
    assert_eq!(documented, types);
    for (topic, hook) in webhooks {
        let post = &hook["post"];
        assert_eq!(post["x-version"], 1, "{topic}");
        let reference = post["requestBody"]["content"]["application/json"]["schema"]["properties"]
            ["data"]["$ref"]
            .as_str()
            .unwrap();
        let name = reference.trim_start_matches("#/components/schemas/");
        assert!(
            !properties(&doc, &doc["components"]["schemas"][name]).is_empty(),
            "{topic}: schema {name}"
        );
    }
    // The document is still an OpenAPI 3.1 one, where `webhooks` is a top-level field.
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[test]
fn a_payload_unlike_its_schema_is_caught() {
    // The check above is only worth something if it fails: a field the schema lacks and
    // a field of the wrong type both make it panic.
    let doc = document();
    let stock_low = properties(&doc, &doc["components"]["schemas"]["StockLowEvent"]);
    assert!(stock_low.contains("alert_id") && stock_low.contains("shortfall"));
    assert!(!stock_low.contains("colour"));
    let root =
        json!({"$ref": "#/components/schemas/StockLowEvent", "components": doc["components"]});
    let validator = jsonschema::validator_for(&root).unwrap();
    let good = json!({
        "alert_id": "01937a4e-0000-7000-8000-000000000001",
        "warehouse_id": "01937a4e-0000-7000-8000-000000000002",
        "warehouse_code": "MAIN",
        "product_id": "01937a4e-0000-7000-8000-000000000003",
        "sku": "BOLT-1", "product_name": "Bolt", "reorder_point": 10, "reorder_qty": 0,
        "on_hand": 3, "allocated": 0, "available": 3, "shortfall": 7,
    });
    assert!(validator.is_valid(&good));
    let mut wrong = good.clone();
    wrong["available"] = json!("three");
    assert!(!validator.is_valid(&wrong));
    let mut missing = good;
    missing.as_object_mut().unwrap().remove("sku");
    assert!(!validator.is_valid(&missing));
}
