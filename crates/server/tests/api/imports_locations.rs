//! Bulk import of locations (`kind=locations`): a tree built from a file in any row
//! order, the location tree's rules per row, and an export that imports back as a no-op.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::imports::{commit_refused, count, counts, csv_rows, get_json_post, preview, upload};

/// Warehouse `MAIN` with the top-level location `A`; returns `A`.
async fn main_with_zone(app: &TestApp, token: &str) -> Value {
    let main = warehouse(app, token, "MAIN").await;
    create(
        app,
        "/v1/locations",
        token,
        json!({"warehouse_id": main["id"], "code": "A"}),
    )
    .await
}

async fn warehouse(app: &TestApp, token: &str, code: &str) -> Value {
    create(
        app,
        "/v1/warehouses",
        token,
        json!({"code": code, "name": code, "timezone": "UTC"}),
    )
    .await
}

/// The locations of the tenant as `(warehouse code, path, name, parent path, depth,
/// active)`, by path.
async fn tree(app: &TestApp) -> Vec<(String, String, String, Option<String>, i32, bool)> {
    sqlx::query_as(
        "select w.code, l.path, l.name, p.path, l.depth, l.active from location l
         join warehouse w on w.id = l.warehouse_id left join location p on p.id = l.parent_id
         order by w.code, l.path",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap()
}

pub fn csv(lines: &[&str]) -> Vec<u8> {
    lines.join("\r\n").into_bytes()
}

pub async fn commit(app: &TestApp, token: &str, job: &Value) -> Value {
    get_json_post(app, &format!("/v1/imports/{}/commit", id_of(job)), token).await
}

#[tokio::test]
async fn a_location_file_builds_a_tree_in_any_order_and_its_export_imports_back_unchanged() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let main = warehouse(&app, &t.token, "MAIN").await;
    warehouse(&app, &t.token, "ANNEX").await;
    create(
        &app,
        "/v1/locations",
        &t.token,
        json!({"warehouse_id": main["id"], "code": "A", "name": "Zone A"}),
    )
    .await;

    // `;`-separated with Windows line ends; children before their parents; the existing
    // zone renamed; a bin created inactive; codes in lower case.
    let file = csv(&[
        "warehouse;path;name;active",
        "main;a/01/b1;Bin one;",
        "MAIN;A/01;Aisle one;true",
        "MAIN;A;Zone A, north;",
        "MAIN;B;;",
        "MAIN;B/X1;Cross-dock;false",
        "ANNEX;DOCK;Dock;yes",
    ]);
    let job = preview(&app, &t.token, "kind=locations", "text/csv", file).await;
    assert_eq!(job["kind"], "locations");
    assert_eq!(counts(&job), [5, 1, 0, 0], "{job}");
    let changes_before = count(&app, "catalog_change").await;
    let done = commit(&app, &t.token, &job).await;
    assert_eq!(done["status"], "committed");
    let s = |v: &str| v.to_owned();
    assert_eq!(
        tree(&app).await,
        [
            (s("ANNEX"), s("DOCK"), s("Dock"), None, 0, true),
            (s("MAIN"), s("A"), s("Zone A, north"), None, 0, true),
            (s("MAIN"), s("A/01"), s("Aisle one"), Some(s("A")), 1, true),
            (
                s("MAIN"),
                s("A/01/B1"),
                s("Bin one"),
                Some(s("A/01")),
                2,
                true
            ),
            (s("MAIN"), s("B"), s(""), None, 0, true),
            (
                s("MAIN"),
                s("B/X1"),
                s("Cross-dock"),
                Some(s("B")),
                1,
                false
            ),
        ]
    );
    // Each written location is pulled by devices; one audit entry for the import.
    assert_eq!(count(&app, "catalog_change").await, changes_before + 6);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'import.commit' and after->>'kind' = 'locations'",
    )
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // Export, then import the export: every row unchanged, nothing written.
    for format in ["csv", "xlsx"] {
        let r = app
            .get(&format!("/v1/exports/locations?format={format}"), &t.token)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let bytes = r.bytes().await.unwrap().to_vec();
        if format == "csv" {
            assert_eq!(csv_rows(&bytes).len(), 7);
        }
        let again = preview(
            &app,
            &t.token,
            &format!("kind=locations&format={format}"),
            "application/octet-stream",
            bytes,
        )
        .await;
        assert_eq!(counts(&again), [0, 0, 6, 0], "{format}: {again}");
        let before = count(&app, "catalog_change").await;
        commit(&app, &t.token, &again).await;
        assert_eq!(count(&app, "catalog_change").await, before, "{format}");
    }
}

/// The errors of the preview's rows: `(row, column, message)`.
pub async fn row_errors(app: &TestApp, token: &str, job: &Value) -> Vec<(i64, String, String)> {
    let page = get_json(
        app,
        format!("/v1/imports/{}/rows?errors_only=true", id_of(job)),
        token,
    )
    .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["errors"].as_array().unwrap().iter().map(|e| {
                (
                    r["row"].as_i64().unwrap(),
                    e["column"].as_str().unwrap().to_owned(),
                    e["message"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect()
}

#[tokio::test]
async fn location_rows_breaking_the_tree_rules_are_listed_and_nothing_is_written() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let zone = main_with_zone(&app, &t.token).await;
    let bin = create(
        &app,
        "/v1/locations",
        &t.token,
        json!({"parent_id": zone["id"], "code": "B1"}),
    )
    .await;
    let product = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "S1", "name": "Thing"}),
    )
    .await;
    let r = app
        .post(
            "/v1/movements",
            &t.token,
            json!({"kind": "receive", "product_id": product["id"], "to_location_id": bin["id"], "qty": 5}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let deep = (0..17)
        .map(|i| format!("L{i}"))
        .collect::<Vec<_>>()
        .join("/");
    let file = csv(&[
        "warehouse,path,code,parent,name,active",
        "NOWHERE,Z,,,,",             // 2: unknown warehouse
        "MAIN,A/B*D,,,,",            // 3: not a code
        "MAIN,Z/B1,,,,",             // 4: B1 is A/B1: a location never moves
        "MAIN,Q/R,,,,",              // 5: no parent Q anywhere
        "MAIN,A/B1/X,,,,",           // 6: B1 holds stock
        "MAIN,A/C2,C3,,,",           // 7: code disagrees with the path
        "MAIN,A/C4,,B,,",            // 8: parent disagrees with the path
        &format!("MAIN,{deep},,,,"), // 9: too deep (its parents are missing too)
        "MAIN,A/C5,,,,maybe",        // 10: not a yes/no
        "MAIN,A/OK,,,Fine,",         // 11: fine
    ]);
    let job = preview(&app, &t.token, "kind=locations", "text/csv", file).await;
    assert_eq!(counts(&job), [1, 0, 0, 9], "{job}");
    let errors = row_errors(&app, &t.token, &job).await;
    let says = |row: i64, column: &str, text: &str| {
        assert!(
            errors
                .iter()
                .any(|(r, c, m)| *r == row && c == column && m.contains(text)),
            "row {row} {column} {text:?} not in {errors:?}"
        );
    };
    says(2, "warehouse", "no warehouse with code");
    says(3, "path", "location code");
    says(4, "path", "never moves");
    says(5, "path", "neither in warehouse MAIN nor in the file");
    says(6, "path", "leaf");
    says(7, "code", "last part");
    says(8, "parent", "without its last part");
    says(9, "path", "levels deep");
    says(10, "active", "true or false");
    commit_refused(&app, &t.token, &job).await;
    assert_eq!(tree_len(&app).await, 2);

    // Refused as a file: unknown or missing columns, a path or code twice.
    for (file, code, text) in [
        (
            csv(&["warehouse,path,aisle", "MAIN,A,1"]),
            "import_columns",
            "unknown column",
        ),
        (
            csv(&["warehouse,name", "MAIN,A"]),
            "import_columns",
            "\"path\" is missing",
        ),
        (
            csv(&["warehouse,path", "MAIN,A/X", "main,a/x"]),
            "import_duplicate_key",
            "rows 2 and 3",
        ),
        (
            csv(&["warehouse,path", "MAIN,A/X", "MAIN,B/X"]),
            "import_duplicate_key",
            "code X",
        ),
    ] {
        let r = upload(&app, &t.token, "kind=locations", "text/csv", file).await;
        let v = problem(r, StatusCode::UNPROCESSABLE_ENTITY, code).await;
        assert!(v["detail"].as_str().unwrap().contains(text), "{v}");
    }
    assert_eq!(tree_len(&app).await, 2);
}

async fn tree_len(app: &TestApp) -> usize {
    tree(app).await.len()
}

#[tokio::test]
async fn a_location_import_is_refused_whole_past_the_quota_or_when_a_parent_went_away() {
    let app = spawn_app().await;
    catalog_plan(&app, "small", 10, 4, 2).await;
    let t = app.tenant("acme", "small").await;
    let zone = main_with_zone(&app, &t.token).await;

    // Four new on a plan of four with one used: nothing written.
    let job = preview(
        &app,
        &t.token,
        "kind=locations",
        "text/csv",
        csv(&[
            "warehouse,path",
            "MAIN,A/1",
            "MAIN,A/2",
            "MAIN,A/3",
            "MAIN,A/4",
        ]),
    )
    .await;
    assert_eq!(counts(&job), [4, 0, 0, 0]);
    let r = app
        .post(
            &format!("/v1/imports/{}/commit", id_of(&job)),
            &t.token,
            json!({}),
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "quota_exceeded").await;
    assert_eq!(tree_len(&app).await, 1);

    // The parent deleted between the preview and the commit: refused, nothing written.
    let job = preview(
        &app,
        &t.token,
        "kind=locations",
        "text/csv",
        csv(&["warehouse,path", "MAIN,A/1", "MAIN,B"]),
    )
    .await;
    assert_eq!(counts(&job), [2, 0, 0, 0]);
    let r = app
        .delete(&format!("/v1/locations/{}", id_of(&zone)), &t.token)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .post(
            &format!("/v1/imports/{}/commit", id_of(&job)),
            &t.token,
            json!({}),
        )
        .await;
    let v = problem(r, StatusCode::CONFLICT, "invalid_import_state").await;
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("deleted since the preview"),
        "{v}"
    );
    assert_eq!(tree_len(&app).await, 0);
}
