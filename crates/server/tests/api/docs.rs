//! The crate's README stays true: its route table and permission table are checked
//! against the OpenAPI document and the permission table in code.

use std::collections::BTreeSet;

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
