//! The crate's README stays true: its route table and permission table are checked
//! against the OpenAPI document and the permission table in code.

use std::collections::BTreeSet;

use logiflow_core::sync::{PULL_PAGE_MAX, RESOLVE_REASON_LEN_MAX};
use logiflow_core::{AlertKind, KindName, OutcomeName, ProblemCode};
use logiflow_server::catalog::product::validate_money;
use logiflow_server::catalog::warehouse::validate_timezone;
use logiflow_server::error::status_of;
use logiflow_server::extract::{IDEMPOTENCY_KEY_LEN_MAX, PAGE_LIMIT_MAX};
use logiflow_server::rbac::{Permission, Role};
use serde_json::Value;

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
    let reason = &doc["components"]["schemas"]["ForceMovement"]["properties"]["reason"];
    let inner = RESOLVE_REASON_LEN_MAX - 2;
    assert_eq!(
        reason["pattern"],
        format!("^\\s*(\\S([\\s\\S]{{0,{inner}}}\\S)?)\\s*$")
    );
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
