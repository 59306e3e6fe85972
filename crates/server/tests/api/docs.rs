//! The crate's README stays true: its route table and permission table are checked
//! against the OpenAPI document and the permission table in code.

use std::collections::BTreeSet;

use logiflow_core::codes::{LOCATION_CODE_LEN_MAX, LOT_CODE_LEN_MAX};
use logiflow_core::sync::{PULL_PAGE_MAX, RESOLVE_REASON_LEN_MAX};
use logiflow_core::{AlertKind, KindName, OutcomeName, ProblemCode};
use logiflow_core::{Barcode, LocationCode, LotCode, QTY_MAX, Sku};
use logiflow_server::catalog::product::validate_money;
use logiflow_server::catalog::warehouse::{ADDRESS_LEN_MAX, validate_timezone};
use logiflow_server::error::status_of;
use logiflow_server::extract::{IDEMPOTENCY_KEY_LEN_MAX, PAGE_LIMIT_MAX};
use logiflow_server::orders::party::{DAYS_MAX, NewParty, PHONE_LEN_MAX, PartyKind, UpdateParty};
use logiflow_server::rbac::{Permission, Role};
use logiflow_server::stock::movement::NOTE_LEN_MAX;
use serde_json::{Value, json};

use crate::helpers::*;

const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));

fn section(title: &str) -> &'static str {
    let start = README
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README has a {title} section"));
    let rest = &README[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

#[tokio::test]
async fn readme_routes_match_the_openapi_document() {
    let app = spawn_app().await;
    let doc: Value = app.openapi().await;
    let mut documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    documented.insert("GET /v1/openapi.json".to_owned());
    // Code spans of the routes section that look like `METHOD /path`.
    let in_readme: BTreeSet<String> = section("Routes")
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            ["GET ", "POST ", "PATCH ", "PUT ", "DELETE "]
                .iter()
                .any(|m| s.starts_with(m))
        })
        .map(str::to_owned)
        .collect();
    assert_eq!(in_readme, documented);
}

#[test]
fn readme_permission_table_matches_the_code() {
    let mut rows = 0;
    for line in section("Permissions").lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `name` (write)? | admin | manager | operator | purchasing | sales | viewer |
        let Some(name) = cells.get(1).and_then(|c| c.split('`').nth(1)) else {
            continue;
        };
        let permission = Permission::parse(name).unwrap_or_else(|| panic!("unknown {name}"));
        assert_eq!(
            cells[1].contains("(write)"),
            permission.is_write(),
            "{name}"
        );
        let ticked = |i: usize| cells[i] == "✓";
        for (i, role) in Role::ALL.into_iter().enumerate() {
            assert_eq!(ticked(2 + i), role.allows(permission), "{name} {role:?}");
        }
        rows += 1;
    }
    assert_eq!(rows, Permission::ALL.len(), "every permission has a row");
}

/// The codes a problem response's description names: the first word of each item of its
/// comma-separated list, outside parentheses.
fn codes_named(description: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0_u32, 0);
    for (i, c) in description.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&description[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&description[start..]);
    items
        .into_iter()
        .map(|item| {
            let item = item.trim_start();
            let end = item.find([' ', '(', ';']).unwrap_or(item.len());
            &item[..end]
        })
        .collect()
}

#[test]
fn every_error_response_has_a_body_and_problems_name_codes_of_their_status() {
    let doc = serde_json::to_value(logiflow_server::app::openapi()).unwrap();
    let codes: Vec<(String, u16)> = ProblemCode::ALL
        .iter()
        .map(|code| {
            let wire = serde_json::to_value(code).unwrap();
            (wire.as_str().unwrap().to_owned(), status_of(*code).as_u16())
        })
        .collect();
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let status: u16 = status.parse().unwrap();
                if status < 400 {
                    continue;
                }
                let at = format!("{method} {path} {status}");
                let problem = &response["content"]["application/problem+json"]["schema"];
                if problem.is_null() {
                    // A body of its own (the readiness probe's 503 is a `Health`).
                    assert!(response["content"].is_object(), "{at} has no body");
                    continue;
                }
                assert_eq!(problem["$ref"], "#/components/schemas/Problem", "{at}");
                let description = response["description"].as_str().unwrap();
                for name in codes_named(description) {
                    let answered = codes.iter().find(|(wire, _)| wire == name);
                    let (_, code_status) =
                        answered.unwrap_or_else(|| panic!("{at}: `{name}` is no error code"));
                    // `ApiError::RevokedDevice` answers `device_revoked` with 409.
                    let revoked_conflict = name == "device_revoked" && status == 409;
                    assert!(
                        *code_status == status || revoked_conflict,
                        "{at}: `{name}` is answered with {code_status}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} codes were checked");
}

#[test]
fn codes_named_reads_the_list_outside_parentheses() {
    assert_eq!(
        codes_named("forbidden (also: a, b), subscription_expired"),
        ["forbidden", "subscription_expired"]
    );
    assert_eq!(
        codes_named("invalid_journal (format); nothing was changed"),
        ["invalid_journal"]
    );
}

#[test]
fn documented_bounds_are_the_validated_ones() {
    let doc = serde_json::to_value(logiflow_server::app::openapi()).unwrap();
    let mut limits = 0;
    let mut keys = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let parameters = operation["parameters"].as_array().into_iter().flatten();
            for parameter in parameters {
                let schema = &parameter["schema"];
                match parameter["name"].as_str().unwrap() {
                    "limit" => {
                        let max = if path == "/v1/sync/pull" {
                            PULL_PAGE_MAX as u64
                        } else {
                            u64::from(PAGE_LIMIT_MAX)
                        };
                        assert_eq!(schema["minimum"], 1, "{method} {path}");
                        assert_eq!(schema["maximum"], max, "{method} {path}");
                        limits += 1;
                    }
                    "Idempotency-Key" => {
                        let inner = IDEMPOTENCY_KEY_LEN_MAX - 2;
                        let pattern = format!("{{0,{inner}}}");
                        let documented = schema["pattern"].as_str().unwrap_or_default();
                        assert!(documented.contains(&pattern), "{method} {path}");
                        keys += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(limits >= 12, "only {limits} limit parameters");
    assert!(keys >= 8, "only {keys} Idempotency-Key parameters");
    // A reason is trimmed (the spaces `str::trim` takes), then 1 to the most characters.
    let reason = &doc["components"]["schemas"]["ForceMovement"]["properties"]["reason"];
    let most = "r".repeat(RESOLVE_REASON_LEN_MAX);
    for (value, valid) in [
        ("r".to_owned(), true),
        (format!(" \u{85}{most}\u{3000}\t"), true),
        (format!("r\u{feff}{most}"), false),
        (format!("{most}r"), false),
        ("\u{feff}".to_owned(), true),
        (" \u{85} ".to_owned(), false),
        (String::new(), false),
    ] {
        assert_eq!(documented(reason, &json!(value)), valid, "{value:?}");
    }
}

/// The `enum` of query parameter `name` of `GET path`.
fn query_names(doc: &Value, path: &str, name: &str) -> Vec<String> {
    let parameters = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
    let parameter = parameters
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("GET {path} has no parameter {name}"));
    let names = parameter["schema"]["enum"].as_array();
    let names = names.unwrap_or_else(|| panic!("GET {path} {name} has no enum"));
    names
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn documented_names_time_zones_and_money_are_the_accepted_ones() {
    let doc = serde_json::to_value(logiflow_server::app::openapi()).unwrap();
    let strings = |names: &[&str]| -> Vec<String> { names.iter().map(|n| n.to_string()).collect() };
    let alert_kinds: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
    let kinds: Vec<&str> = KindName::ALL.iter().map(|k| k.as_str()).collect();
    let outcomes: Vec<&str> = OutcomeName::ALL.iter().map(|o| o.as_str()).collect();
    assert_eq!(
        query_names(&doc, "/v1/alerts", "kind"),
        strings(&alert_kinds)
    );
    for path in ["/v1/movements", "/v1/exports/movements"] {
        assert_eq!(query_names(&doc, path, "kind"), strings(&kinds), "{path}");
        assert_eq!(
            query_names(&doc, path, "outcome"),
            strings(&outcomes),
            "{path}"
        );
    }

    let schemas = &doc["components"]["schemas"];
    let zones = schemas["TimeZone"]["enum"].as_array().unwrap();
    assert_eq!(zones.len(), chrono_tz::TZ_VARIANTS.len());
    for zone in zones {
        validate_timezone(zone.as_str().unwrap()).unwrap();
    }
    assert_eq!(
        schemas["CreateWarehouse"]["properties"]["timezone"]["$ref"],
        "#/components/schemas/TimeZone"
    );

    // Each value the document calls a valid cost is one the server accepts.
    let cost = jsonschema::validator_for(&schemas["CreateProduct"]["properties"]["cost"]).unwrap();
    let accepted = |v: &str| {
        v.parse::<rust_decimal::Decimal>()
            .is_ok_and(|d| validate_money("cost", Some(d)).is_ok())
    };
    for (value, valid) in [
        ("0", true),
        ("12.50", true),
        ("99999999999999", true),
        ("9999999999999.999999", true),
        ("100000000000000", false),
        ("99999999999999.5", false),
        ("1.1234567", false),
        ("-1", false),
        ("1e3", false),
        ("", false),
    ] {
        assert_eq!(cost.is_valid(&Value::from(value)), valid, "{value:?}");
        if valid {
            assert!(accepted(value), "{value:?}");
        }
    }
}

/// The schema of `field` of the body `schema`, in one of its parts where it is `allOf`
/// them (a body with a flattened part, or one that needs one of its fields).
fn property(schemas: &Value, schema: &str, field: &str) -> Value {
    let parts = schemas[schema]["allOf"].as_array().cloned();
    parts
        .unwrap_or_else(|| vec![schemas[schema].clone()])
        .into_iter()
        .map(|part| part["properties"][field].clone())
        .find(|property| !property.is_null())
        .unwrap_or_else(|| panic!("{schema} has no {field}"))
}

/// The document's schema `name` with the document's components, for its references.
fn body_schema(doc: &Value, name: &str) -> Value {
    json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    })
}

/// A validator of the document's `schema`, `format`s asserted.
fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap()
}

/// Whether the document's `schema` calls `body` valid, `format`s asserted.
fn documented(schema: &Value, body: &Value) -> bool {
    validator(schema).is_valid(body)
}

#[test]
fn documented_party_bodies_are_the_accepted_ones_for_each_kind() {
    let doc = serde_json::to_value(logiflow_server::app::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["NewParty"].is_null() && schemas["UpdateParty"].is_null());
    let long = |n: usize| "a".repeat(n);
    let bodies = [
        json!({"code": " a-1.b_2 ", "name": " Acme "}),
        json!({"code": long(LOCATION_CODE_LEN_MAX), "name": "Acme"}),
        json!({"code": long(LOCATION_CODE_LEN_MAX + 1), "name": "Acme"}),
        json!({"code": "a b", "name": "Acme"}),
        json!({"code": "a/b", "name": "Acme"}),
        json!({"code": "  ", "name": "Acme"}),
        json!({"code": "A1", "name": "  "}),
        json!({"code": "A1", "name": "a\u{0}b"}),
        json!({"code": "A1", "name": "Acme", "email": ""}),
        json!({"code": "A1", "name": "Acme", "email": "  "}),
        json!({"code": "A1", "name": "Acme", "email": "buyer@acme.example"}),
        json!({"code": "A1", "name": "Acme", "email": "buyer"}),
        json!({"code": "A1", "name": "Acme", "email": null}),
        json!({"code": "A1", "name": "Acme", "phone": long(PHONE_LEN_MAX)}),
        json!({"code": "A1", "name": "Acme", "phone": long(PHONE_LEN_MAX + 1)}),
        json!({"code": "A1", "name": "Acme", "address": long(ADDRESS_LEN_MAX + 1)}),
        json!({"code": "A1", "name": "Acme", "address": "1 Main St\u{0}"}),
        json!({"code": "A1", "name": "Acme", "phone": "1\u{0}2"}),
        json!({"code": "A1", "name": "Acme", "lead_time_days": 0}),
        json!({"code": "A1", "name": "Acme", "lead_time_days": DAYS_MAX}),
        json!({"code": "A1", "name": "Acme", "lead_time_days": DAYS_MAX + 1}),
        json!({"code": "A1", "name": "Acme", "lead_time_days": -1}),
        json!({"code": "A1", "name": "Acme", "lead_time_days": null}),
        json!({"code": "A1", "name": "Acme", "min_shelf_life_days": 30}),
        json!({"code": "A1", "name": "Acme", "min_shelf_life_days": DAYS_MAX + 1}),
        json!({"code": "A1", "name": "Acme", "min_shelf_life_days": null}),
    ];
    for kind in PartyKind::ALL {
        let (create, update, path) = match kind {
            PartyKind::Supplier => ("NewSupplier", "UpdateSupplier", "/v1/suppliers"),
            PartyKind::Customer => ("NewCustomer", "UpdateCustomer", "/v1/customers"),
        };
        let body_of = |method: &str, path: &str| {
            doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
                ["$ref"]
                .clone()
        };
        assert_eq!(
            body_of("post", path),
            format!("#/components/schemas/{create}")
        );
        let item = format!("{path}/{{id}}");
        assert_eq!(
            body_of("patch", &item),
            format!("#/components/schemas/{update}")
        );
        for body in &bodies {
            // What the handlers do: read the body, then check it for the kind.
            let new = serde_json::from_value::<NewParty>(body.clone())
                .is_ok_and(|party| party.validate(kind).is_ok());
            let changes = serde_json::from_value::<UpdateParty>(body.clone())
                .is_ok_and(|party| party.validate(kind).is_ok());
            for (schema, accepted) in [(create, new), (update, changes)] {
                assert_eq!(
                    documented(&schemas[schema], body),
                    accepted,
                    "{schema} {body}"
                );
            }
        }
    }
}

#[test]
fn nullable_ids_and_dates_are_documented_as_one_of_the_format_and_null() {
    let doc = serde_json::to_value(logiflow_server::app::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for (schema, field, valid, invalid) in [
        (
            "CreateLocation",
            "parent_id",
            "0190a5a2-7c1e-7000-8000-000000000000",
            "",
        ),
        ("CreateLot", "expires_on", "2030-01-31", ""),
        ("UpdateLot", "expires_on", "2030-01-31", "2030-02-30"),
        ("UpdatePurchaseOrder", "expected_on", "2030-01-31", ""),
        (
            "NewMovement",
            "lot_id",
            "0190a5a2-7c1e-7000-8000-000000000000",
            "",
        ),
    ] {
        let property = &property(schemas, schema, field);
        let at = format!("{schema}/{field}");
        assert!(property["oneOf"].is_array(), "{at}: {property}");
        assert!(documented(property, &json!(valid)), "{at}");
        assert!(documented(property, &Value::Null), "{at}");
        assert!(!documented(property, &json!(invalid)), "{at}");
    }
}

/// Whether a parser of `core::codes` takes a text.
type Parses = fn(&str) -> bool;

#[test]
fn documented_codes_take_the_characters_their_parsers_take() {
    let doc = serde_json::to_value(logiflow_server::app::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let location: Parses = |s| LocationCode::parse(s).is_ok();
    let codes: [(&str, &str, Parses); 7] = [
        ("NewSupplier", "code", location),
        ("UpdateCustomer", "code", location),
        ("CreateLocation", "code", location),
        ("CreateWarehouse", "code", location),
        ("CreateProduct", "sku", |s| Sku::parse(s).is_ok()),
        ("CreateLot", "code", |s| LotCode::parse(s).is_ok()),
        ("CreateProduct", "barcodes", |s| Barcode::parse(s).is_ok()),
    ];
    let codes = codes.map(|(schema, field, parses)| {
        let mut documented = property(schemas, schema, field);
        if documented["items"].is_object() {
            // Each barcode of the list.
            documented = documented["items"].clone();
        }
        (format!("{schema}/{field}"), validator(&documented), parses)
    });
    // Every character of the first planes' start, and a few wide and space-like ones,
    // alone, inside a code and at its ends.
    let chars = (0..0x250).filter_map(char::from_u32).chain([
        '\u{2028}',
        '\u{3000}',
        '\u{feff}',
        '\u{1f600}',
    ]);
    for c in chars {
        for value in [
            format!("{c}"),
            format!("A{c}B"),
            format!("{c}AB"),
            format!("AB{c}"),
        ] {
            for (at, documented, parses) in &codes {
                assert_eq!(
                    documented.is_valid(&json!(value)),
                    parses(&value),
                    "{at} {value:?}"
                );
            }
        }
    }
}

#[test]
fn documented_movement_quantities_and_notes_are_the_accepted_ones() {
    let doc = serde_json::to_value(logiflow_server::app::openapi()).unwrap();
    let schema = body_schema(&doc, "NewMovement");
    let id = "0190a5a2-7c1e-7000-8000-000000000000";
    let max = QTY_MAX;
    let long = |n: usize| "n".repeat(n);
    for (body, valid) in [
        (
            json!({"kind": "receive", "to_location_id": id, "qty": 1}),
            true,
        ),
        (
            json!({"kind": "receive", "to_location_id": id, "qty": max}),
            true,
        ),
        (
            json!({"kind": "receive", "to_location_id": id, "qty": 0}),
            false,
        ),
        (
            json!({"kind": "ship", "from_location_id": id, "qty": max + 1}),
            false,
        ),
        (
            json!({"kind": "adjust", "location_id": id, "delta": -max, "reason": "loss"}),
            true,
        ),
        (
            json!({"kind": "adjust", "location_id": id, "delta": 0, "reason": "loss"}),
            false,
        ),
        (
            json!({"kind": "adjust", "location_id": id, "delta": max + 1, "reason": "found"}),
            false,
        ),
        (
            json!({"kind": "count", "location_id": id, "counted": 0, "expected": null}),
            true,
        ),
        (
            json!({"kind": "count", "location_id": id, "counted": -1}),
            false,
        ),
        (
            json!({"kind": "count", "location_id": id, "counted": 1, "expected": max + 1}),
            false,
        ),
        (
            json!({"kind": "receive", "to_location_id": id, "qty": 1, "note": long(NOTE_LEN_MAX)}),
            true,
        ),
        (
            json!({"kind": "receive", "to_location_id": id, "qty": 1, "note": long(NOTE_LEN_MAX + 1)}),
            false,
        ),
        (
            json!({"kind": "receive", "to_location_id": id, "qty": 1, "note": "a\u{0}b"}),
            false,
        ),
        (
            json!({"kind": "receive", "to_location_id": id, "qty": 1, "lot_id": ""}),
            false,
        ),
    ] {
        let mut body = body;
        body["product_id"] = json!(id);
        assert_eq!(documented(&schema, &body), valid, "{body}");
    }
}

#[test]
fn documented_locations_go_under_a_parent_or_in_a_warehouse() {
    let doc = serde_json::to_value(logiflow_server::app::openapi()).unwrap();
    let location = body_schema(&doc, "CreateLocation");
    let bins = body_schema(&doc, "GenerateBins");
    let id = "0190a5a2-7c1e-7000-8000-000000000000";
    for (body, valid) in [
        (json!({"code": "A"}), false),
        (
            json!({"code": "A", "warehouse_id": null, "parent_id": null}),
            false,
        ),
        (json!({"code": "A", "warehouse_id": id}), true),
        (
            json!({"code": "A", "warehouse_id": null, "parent_id": id}),
            true,
        ),
        (
            json!({"code": "A", "warehouse_id": id, "parent_id": id}),
            true,
        ),
    ] {
        assert_eq!(documented(&location, &body), valid, "{body}");
    }
    let segments = json!([{"from": "A", "to": "D"}]);
    assert!(!documented(&bins, &json!({"segments": segments})));
    assert!(documented(
        &bins,
        &json!({"segments": segments, "parent_id": id})
    ));
}

/// A bin range's values and the separator: what the document calls valid is what the
/// generator's rule takes, field by field (a segment of one value, `to` equal to `from`,
/// so that no rule across fields refuses it).
#[test]
fn documented_bin_values_and_separators_are_the_accepted_ones() {
    use logiflow_core::bins::{Segment, expand};
    let doc = serde_json::to_value(logiflow_server::app::openapi()).unwrap();
    let bins = body_schema(&doc, "GenerateBins");
    let id = "0190a5a2-7c1e-7000-8000-000000000000";
    let values = [
        "A",
        "z",
        "7",
        "01",
        "000000000",
        "999999999",
        " B ",
        "\u{85}1\u{3000}",
        "\t9\n",
        "",
        " ",
        "AB",
        "1A",
        "0000000000",
        "-1",
        "1.5",
        "\u{feff}A",
        "é",
        "Ａ",
        "١",
    ];
    for value in values {
        let accepted = expand(&[Segment::new(value, None, None)], "-").is_ok();
        for to in [None, Some(value)] {
            let body = json!({"parent_id": id, "segments": [{"from": value, "to": to}]});
            assert_eq!(documented(&bins, &body), accepted, "{body}");
        }
        let body = json!({"parent_id": id, "segments": [{"from": "A", "to": value}]});
        let accepted = accepted && expand(&[Segment::new("A", Some(value), None)], "-").is_ok();
        assert!(
            !accepted || documented(&bins, &body),
            "the document refuses a range the rule takes: {body}"
        );
    }
    for separator in ["", "-", "_", ".", "/", "--", " ", " -", "\u{2010}"] {
        let accepted = expand(&[Segment::new("A", Some("B"), None)], separator).is_ok();
        let body = json!({"parent_id": id, "separator": separator,
            "segments": [{"from": "A", "to": "B"}]});
        assert_eq!(documented(&bins, &body), accepted, "{body}");
    }
    let body = json!({"parent_id": id, "separator": null, "segments": [{"from": "A"}]});
    assert!(documented(&bins, &body), "no separator is the default one");
}

#[test]
fn documented_push_and_journal_bodies_are_the_parsed_ones() {
    use logiflow_core::{JournalFile, PUSH_BATCH_MAX, PushRequest};
    let doc = serde_json::to_value(logiflow_server::app::openapi()).unwrap();
    let push = body_schema(&doc, "PushRequest");
    let id = "0190a5a2-7c1e-7000-8000-000000000000";
    let movement = |kind: Value| {
        let mut m = json!({"id": id, "occurred_at": "2027-01-15T08:00:00Z", "product": id,
            "lot": null, "user": id, "device": {"device": id, "seq": 1}, "reference": null});
        m.as_object_mut()
            .unwrap()
            .extend(kind.as_object().unwrap().clone());
        json!({"device": id, "movements": [{"movement": m, "base_cursor": null}]})
    };
    let lot = |code: &str| {
        let mut body = movement(json!({"kind": "receive", "to": id, "qty": 1}));
        body["lots"] = json!([{"id": id, "product": id, "code": code, "expires_on": "2027-06-30"}]);
        body
    };
    let max = QTY_MAX;
    // What serde reads is what the document calls valid.
    for body in [
        movement(json!({"kind": "receive", "to": id, "qty": 1})),
        movement(json!({"kind": "receive", "to": id, "qty": 0})),
        movement(json!({"kind": "ship", "from": id, "qty": max})),
        movement(json!({"kind": "ship", "from": id, "qty": max + 1})),
        movement(json!({"kind": "transfer", "from": id, "to": id, "qty": 3})),
        movement(json!({"kind": "transfer", "from": id, "qty": 3})),
        movement(json!({"kind": "adjust", "at": id, "delta": -max, "reason": "loss"})),
        movement(json!({"kind": "adjust", "at": id, "delta": 0, "reason": "loss"})),
        movement(json!({"kind": "adjust", "at": id, "delta": 1, "reason": "theft"})),
        movement(json!({"kind": "count", "at": id, "counted": 0})),
        movement(json!({"kind": "count", "at": id, "counted": -1, "expected": null})),
        movement(json!({"kind": "count", "at": id, "counted": 1, "expected": max + 1})),
        movement(json!({"kind": "pick", "at": id, "qty": 1})),
        movement(json!({"kind": "receive", "to": "not-an-id", "qty": 1})),
        movement(
            json!({"kind": "receive", "to": id, "qty": 1, "reference": {"type": "sales_line", "id": id}}),
        ),
        movement(
            json!({"kind": "receive", "to": id, "qty": 1, "reference": {"type": "order", "id": id}}),
        ),
        // A field the server does not know is ignored (a newer device's).
        movement(json!({"kind": "receive", "to": id, "qty": 1, "since": 2})),
        lot(" L-2027-01 "),
        lot(""),
        lot(&"L".repeat(LOT_CODE_LEN_MAX)),
        lot(&"L".repeat(LOT_CODE_LEN_MAX + 1)),
        lot("tab\there"),
        json!({"device": id, "movements": []}),
        json!({"movements": []}),
    ] {
        let parses = serde_json::from_value::<PushRequest>(body.clone()).is_ok();
        assert_eq!(documented(&push, &body), parses, "{body}");
    }
    // And what the server refuses after parsing, where the document can say so.
    let mut first = movement(json!({"kind": "receive", "to": id, "qty": 1}));
    first["movements"][0]["movement"]["device"]["seq"] = json!(0);
    assert!(!documented(&push, &first), "a device_seq from 1");
    let mut batch = movement(json!({"kind": "receive", "to": id, "qty": 1}));
    let entry = batch["movements"][0].clone();
    batch["movements"] = Value::Array(vec![entry; PUSH_BATCH_MAX + 1]);
    assert!(
        !documented(&push, &batch),
        "at most PUSH_BATCH_MAX movements"
    );

    let journal = body_schema(&doc, "JournalFile");
    let file = JournalFile::new(
        logiflow_core::TenantId::from_uuid(uuid::Uuid::from_u128(1)),
        logiflow_core::DeviceId::from_uuid(uuid::Uuid::from_u128(2)),
        logiflow_core::UserId::from_uuid(uuid::Uuid::from_u128(3)),
        "https://logiflow.example.com",
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        vec![],
    );
    let file = serde_json::to_value(file).unwrap();
    assert!(documented(&journal, &file), "{file}");
    for (field, value) in [("format", json!("zip")), ("version", json!(2))] {
        let mut other = file.clone();
        other[field] = value;
        assert!(!documented(&journal, &other), "{other}");
    }
}
