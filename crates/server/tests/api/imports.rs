//! Bulk import of products: upload, validation job, preview, commit, re-import; every
//! bad file of `tests/fixtures/imports` refused with its code and nothing changed.

use std::io::Write;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/imports/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// POSTs a file to `/v1/imports?{query}`.
pub async fn upload(
    app: &TestApp,
    token: &str,
    query: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/imports?{query}")))
        .header("authorization", bearer(token))
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

/// Polls the job until its validation is over; returns it.
pub async fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..2_000 {
        let job = get_json(app, format!("/v1/imports/{id}"), token).await;
        if job["status"] != "validating" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("import {id} still validating");
}

/// Uploads and waits for the preview.
pub async fn preview(app: &TestApp, token: &str, query: &str, ct: &str, bytes: Vec<u8>) -> Value {
    let r = upload(app, token, query, ct, bytes).await;
    let status = r.status();
    let job: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    settled(app, token, &id_of(&job)).await
}

pub fn counts(job: &Value) -> [i64; 4] {
    ["to_create", "to_update", "unchanged", "errors"].map(|k| job[k].as_i64().unwrap())
}

async fn set_schema(app: &TestApp, token: &str) {
    let schema = json!({"type": "object", "properties": {
        "color": {"type": "string", "maxLength": 20},
        "weight_g": {"type": "integer", "minimum": 0}}});
    let r = app
        .patch(
            "/v1/settings",
            token,
            json!({"product_field_schema": schema}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn product(app: &TestApp, token: &str, sku: &str) -> Option<Value> {
    let page = get_json(app, format!("/v1/products?sku_prefix={sku}"), token).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["sku"] == sku)
        .cloned()
}

pub async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(&app.owner)
        .await
        .unwrap()
}

/// The `import.completed` events' data, oldest first.
async fn completed_events(app: &TestApp) -> Vec<Value> {
    sqlx::query_scalar(
        "select payload from outbox_event where topic = 'import.completed' order by id",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap()
}

/// An XLSX with a decoy first sheet and the products on sheet `Products` (a barcode
/// typed as a number, as spreadsheets do).
fn products_xlsx() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet().set_name("Notes").unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("Products").unwrap();
    for (c, h) in ["sku", "name", "barcodes", "cost"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "XL-1").unwrap();
    sheet.write_string(1, 1, "From a workbook").unwrap();
    sheet.write_number(1, 2, 5_901_234_123_457.0).unwrap();
    sheet.write_number(1, 3, 2.5).unwrap();
    book.save_to_buffer().unwrap()
}

#[tokio::test]
async fn a_product_file_is_previewed_committed_and_reimported_as_unchanged() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    // Its events are checked: someone listens.
    listen(&app, t.id).await;
    set_schema(&app, &t.token).await;
    let bolt = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "BOLT-1", "name": "Old bolt", "custom": {"origin": "DE"}}),
    )
    .await;

    let job = preview(
        &app,
        &t.token,
        "kind=products&file_name=products.csv",
        "text/csv",
        fixture("products.csv"),
    )
    .await;
    assert_eq!(job["status"], "ready", "{job}");
    assert_eq!(
        (job["rows_done"].as_i64(), job["rows_total"].as_i64()),
        (Some(3), Some(3))
    );
    assert_eq!(counts(&job), [2, 1, 0, 0], "{job}");
    // Nothing is written before the commit.
    assert!(product(&app, &t.token, "NUT-1").await.is_none());
    let rows = get_json(&app, format!("/v1/imports/{}/rows", id_of(&job)), &t.token).await;
    let actions: Vec<&str> = rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["update", "create", "create"]);
    assert_eq!(rows["items"][0]["row"], 2);

    let committed = get_json_post(
        &app,
        &format!("/v1/imports/{}/commit", id_of(&job)),
        &t.token,
    )
    .await;
    assert_eq!(committed["status"], "committed");
    let b = product(&app, &t.token, "BOLT-1").await.unwrap();
    assert_eq!(b["id"], bolt["id"]);
    assert_eq!(b["name"], "Bolt; 10 mm");
    assert_eq!(b["barcodes"], json!(["4006381333931", "INT-0001"]));
    assert_eq!(
        (b["reorder_point"].as_i64(), b["reorder_qty"].as_i64()),
        (Some(10), Some(50))
    );
    assert_eq!(
        (b["cost"].as_str(), b["price"].as_str()),
        (Some("0.12"), Some("0.30"))
    );
    // The file's custom columns are set (typed by the schema); others are kept.
    assert_eq!(
        b["custom"],
        json!({"origin": "DE", "color": "grey", "weight_g": 12})
    );
    let nut = product(&app, &t.token, "NUT-1").await.unwrap();
    assert_eq!(nut["name"], "Nut \"M10\"");
    assert_eq!(nut["cost"], Value::Null);
    let oil = product(&app, &t.token, "OIL-1").await.unwrap();
    assert_eq!(
        (
            oil["uom"].as_str(),
            oil["lot_tracked"].as_bool(),
            oil["expiry_policy"].as_str()
        ),
        (Some("ml"), Some(true), Some("fefo"))
    );
    assert_eq!(oil["cost"], "3.50");
    // Devices pull every written product; the import is audited once.
    for p in [&b, &nut, &oil] {
        assert_eq!(
            changes(&app, &id_of(p)).await.last().map(String::as_str),
            Some("upsert")
        );
    }
    let audit = audits(&app, &id_of(&job)).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0, "import.commit");
    assert_eq!(audit[0].2.as_ref().unwrap()["created"], 2);
    // Webhooks learn of it once, with what it changed.
    let events = completed_events(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["import_id"], job["id"]);
    assert_eq!(events[0]["file_name"], "products.csv");
    assert_eq!(
        [
            &events[0]["created"],
            &events[0]["updated"],
            &events[0]["unchanged"]
        ],
        [&json!(2), &json!(1), &json!(0)]
    );
    assert_eq!(events[0]["committed_at"], committed["committed_at"]);
    // Staged rows are gone once committed; a second commit is refused.
    assert_eq!(count(&app, "import_row").await, 0);
    commit_refused(&app, &t.token, &job).await;

    // The same file again: every row unchanged, and its commit changes nothing.
    let changes_before = count(&app, "catalog_change").await;
    let again = preview(
        &app,
        &t.token,
        "kind=products",
        "text/csv",
        fixture("products.csv"),
    )
    .await;
    assert_eq!(counts(&again), [0, 0, 3, 0], "{again}");
    get_json_post(
        &app,
        &format!("/v1/imports/{}/commit", id_of(&again)),
        &t.token,
    )
    .await;
    assert_eq!(count(&app, "catalog_change").await, changes_before);
    assert_eq!(product(&app, &t.token, "BOLT-1").await.unwrap(), b);
    let events = completed_events(&app).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["import_id"], again["id"]);
    assert_eq!(events[1]["unchanged"], 3);
    // Every event this produced matches the documented webhook schemas.
    let seen = crate::events::assert_events_documented(&app).await;
    assert!(seen.contains("import.completed"), "{seen:?}");
}

/// Commits `job`, expecting `409 invalid_import_state`.
pub async fn commit_refused(app: &TestApp, token: &str, job: &Value) {
    let r = app
        .post(
            &format!("/v1/imports/{}/commit", id_of(job)),
            token,
            json!({}),
        )
        .await;
    problem(r, StatusCode::CONFLICT, "invalid_import_state").await;
}

/// POSTs `{}` and reads a 200 answer.
pub async fn get_json_post(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.post(path, token, json!({})).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "POST {path}: {v}");
    v
}

#[tokio::test]
async fn row_errors_are_listed_by_row_and_column_and_block_the_commit() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    set_schema(&app, &t.token).await;
    create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "OWNER", "name": "Has it", "barcodes": ["INT-0099"]}),
    )
    .await;
    let file = b"sku,name,barcodes\nTAKER,Wants it,INT-0099\n".to_vec();
    let taken = preview(&app, &t.token, "kind=products", "text/csv", file).await;
    assert_eq!(counts(&taken), [0, 0, 0, 1]);

    let job = preview(
        &app,
        &t.token,
        "kind=products",
        "text/csv",
        fixture("products_row_errors.csv"),
    )
    .await;
    assert_eq!(counts(&job), [1, 0, 0, 4], "{job}");
    let page = get_json(
        &app,
        format!("/v1/imports/{}/rows?errors_only=true&limit=2", id_of(&job)),
        &t.token,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["row"], 3);
    assert_eq!(items[0]["errors"][0]["column"], "barcodes");
    assert_eq!(items[0]["errors"][0]["value"], "4006381333932");
    assert!(
        items[0]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("check digit"),
        "{page}"
    );
    assert_eq!(items[1]["errors"][0]["column"], "cost");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = get_json(
        &app,
        format!(
            "/v1/imports/{}/rows?errors_only=true&cursor={cursor}",
            id_of(&job)
        ),
        &t.token,
    )
    .await;
    let rest = rest["items"].as_array().unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0]["errors"][0]["column"], "custom.weight_g");
    assert_eq!(rest[0]["errors"][0]["value"], "heavy");
    let columns: Vec<&str> = rest[1]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["column"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["sku", "name"]);

    let before = count(&app, "product").await;
    commit_refused(&app, &t.token, &job).await;
    assert_eq!(count(&app, "product").await, before);
}

#[tokio::test]
async fn an_xlsx_sheet_is_imported_by_name() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let job = preview(
        &app,
        &t.token,
        "kind=products&sheet=Products",
        XLSX,
        products_xlsx(),
    )
    .await;
    assert_eq!(counts(&job), [1, 0, 0, 0], "{job}");
    assert_eq!(job["format"], "xlsx");
    get_json_post(
        &app,
        &format!("/v1/imports/{}/commit", id_of(&job)),
        &t.token,
    )
    .await;
    let p = product(&app, &t.token, "XL-1").await.unwrap();
    assert_eq!(p["barcodes"], json!(["5901234123457"]));
    assert_eq!(p["cost"], "2.50");
    // The first sheet (the decoy) has no header row.
    let r = upload(&app, &t.token, "kind=products", XLSX, products_xlsx()).await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "import_empty").await;
    let r = upload(
        &app,
        &t.token,
        "kind=products&sheet=Nope",
        XLSX,
        products_xlsx(),
    )
    .await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "import_unreadable").await;
}

/// A zip whose one part declares `inflated` bytes of zeros (a few KB compressed).
fn zip_bomb(inflated: usize) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    out.start_file("xl/worksheets/sheet1.xml", options).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..inflated / zeros.len() {
        out.write_all(&zeros).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn xlsx_with_formula() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "sku").unwrap();
    sheet.write_string(0, 1, "name").unwrap();
    sheet.write_string(1, 0, "A-1").unwrap();
    sheet.write_formula(1, 1, "=CONCAT(\"a\",\"b\")").unwrap();
    book.save_to_buffer().unwrap()
}

#[tokio::test]
async fn every_bad_file_is_refused_with_its_code_and_changes_nothing() {
    // Small limits, so "too large" needs no large fixture.
    let app = spawn_app_with(|c| {
        c.import_rows_max = 3;
        c.import_limit_bytes = 256 * 1024;
    })
    .await;
    let t = app.tenant("acme", "standard").await;
    let products = count(&app, "product").await;
    let csv = "text/csv";
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "empty",
            csv,
            fixture("products_empty.csv"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "import_empty",
        ),
        (
            "latin-1",
            csv,
            fixture("products_latin1.csv"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "import_encoding",
        ),
        (
            "missing column",
            csv,
            fixture("products_missing_column.csv"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "import_columns",
        ),
        (
            "unknown column",
            csv,
            fixture("products_unknown_column.csv"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "import_columns",
        ),
        (
            "duplicate sku",
            csv,
            fixture("products_duplicate_sku.csv"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "import_duplicate_key",
        ),
        (
            "duplicate barcode",
            csv,
            fixture("products_duplicate_barcode.csv"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "import_duplicate_key",
        ),
        (
            "csv formula",
            csv,
            fixture("products_formula.csv"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "import_formula",
        ),
        (
            "xlsx formula",
            XLSX,
            xlsx_with_formula(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "import_formula",
        ),
        (
            "value too long",
            csv,
            fixture("products_value_too_long.csv"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "import_value_too_long",
        ),
        (
            "too many rows",
            csv,
            b"sku,name\nA,a\nB,b\nC,c\nD,d\n".to_vec(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "import_too_large",
        ),
        (
            "too many bytes",
            csv,
            vec![b'a'; 256 * 1024 + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
            "import_too_large",
        ),
        (
            "zip bomb",
            XLSX,
            zip_bomb(8 << 20),
            StatusCode::PAYLOAD_TOO_LARGE,
            "import_archive_too_large",
        ),
        (
            "not a zip",
            XLSX,
            b"PK\x03\x04 not really".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "import_unreadable",
        ),
    ];
    for (name, ct, bytes, status, code) in cases {
        let r = upload(&app, &t.token, "kind=products", ct, bytes).await;
        let v = problem(r, status, code).await;
        assert!(!v["detail"].as_str().unwrap().is_empty(), "{name}: {v}");
    }
    assert_eq!(count(&app, "import_job").await, 0);
    assert_eq!(count(&app, "product").await, products);
}

#[tokio::test]
async fn a_csv_line_of_ten_megabytes_is_refused() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let mut file = b"sku,name\nA-1,".to_vec();
    file.extend(std::iter::repeat_n(b'x', 10 << 20));
    file.push(b'\n');
    let r = upload(&app, &t.token, "kind=products", "text/csv", file).await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY, "import_line_too_long").await;
    assert_eq!(count(&app, "import_job").await, 0);
}

#[tokio::test]
async fn imports_need_the_permission_respect_quotas_and_replay_by_key() {
    let app = spawn_app().await;
    catalog_plan(&app, "tiny", 2, 10, 2).await;
    let t = app.tenant("acme", "tiny").await;
    // A refused commit writes no event, though someone listens.
    listen(&app, t.id).await;
    let (_, operator) = app.user(&t, "op@acme.example", "operator").await;
    let r = upload(
        &app,
        &operator,
        "kind=products",
        "text/csv",
        fixture("products.csv"),
    )
    .await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let (_, manager) = app.user(&t, "m@acme.example", "manager").await;
    set_schema(&app, &t.token).await;

    // Three new products on a plan of two: refused at commit, nothing written.
    let job = preview(
        &app,
        &manager,
        "kind=products",
        "text/csv",
        fixture("products.csv"),
    )
    .await;
    assert_eq!(counts(&job), [3, 0, 0, 0]);
    let r = app
        .post(
            &format!("/v1/imports/{}/commit", id_of(&job)),
            &manager,
            json!({}),
        )
        .await;
    problem(r, StatusCode::FORBIDDEN, "quota_exceeded").await;
    assert_eq!(count(&app, "product").await, 0);
    assert!(completed_events(&app).await.is_empty());
    assert_eq!(
        get_json(&app, format!("/v1/imports/{}", id_of(&job)), &manager).await["status"],
        "ready"
    );

    // The same key and file answer the same job.
    let send = |key: &'static str, file: &'static str| {
        app.client
            .post(app.url("/v1/imports?kind=products"))
            .header("authorization", bearer(&manager))
            .header("idempotency-key", key)
            .body(fixture(file))
            .send()
    };
    let first: Value = send("k1", "products.csv")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second: Value = send("k1", "products.csv")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["id"], second["id"]);
    let r = send("k1", "products_row_errors.csv").await.unwrap();
    problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(count(&app, "import_job").await, 2);
}

/// The field schema set and `products.csv` uploaded: its ready preview.
async fn products_preview(app: &TestApp, token: &str) -> Value {
    set_schema(app, token).await;
    preview(
        app,
        token,
        "kind=products",
        "text/csv",
        fixture("products.csv"),
    )
    .await
}

async fn export(app: &TestApp, token: &str, format: &str) -> Vec<u8> {
    let r = app
        .get(&format!("/v1/exports/products?format={format}"), token)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn an_export_imports_back_as_unchanged_with_formulas_neutralised() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let job = products_preview(&app, &t.token).await;
    get_json_post(
        &app,
        &format!("/v1/imports/{}/commit", id_of(&job)),
        &t.token,
    )
    .await;
    // A name a spreadsheet would run as a formula, entered through the API.
    create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "RISKY", "name": "=1+2", "custom": {"color": "@red"}}),
    )
    .await;

    let csv = String::from_utf8(export(&app, &t.token, "csv").await).unwrap();
    assert!(csv.starts_with("sku,name,barcodes,uom,lot_tracked,expiry_policy,reorder_point,reorder_qty,cost,price,active,custom.color,custom.weight_g\n"), "{csv}");
    assert!(
        csv.contains("RISKY,'=1+2,") && csv.contains(",'@red,"),
        "{csv}"
    );
    assert!(
        !csv.lines()
            .any(|l| l.split(',').any(|c| c.starts_with(['=', '@']))),
        "{csv}"
    );
    let changes_before = count(&app, "catalog_change").await;
    for (ct, bytes) in [
        ("text/csv", csv.into_bytes()),
        (XLSX, export(&app, &t.token, "xlsx").await),
    ] {
        let again = preview(&app, &t.token, "kind=products", ct, bytes).await;
        assert_eq!(counts(&again), [0, 0, 4, 0], "{ct}: {again}");
        get_json_post(
            &app,
            &format!("/v1/imports/{}/commit", id_of(&again)),
            &t.token,
        )
        .await;
    }
    assert_eq!(count(&app, "catalog_change").await, changes_before);
    assert_eq!(
        product(&app, &t.token, "RISKY").await.unwrap()["name"],
        "=1+2"
    );
}

/// The rows of a CSV export, the header first.
pub fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// A tenant with a site of two bins whose plain product is `BOLT-1`, named `name`.
async fn export_scene(name: &str) -> (TestApp, Tenant, crate::inventory::Site) {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let s = crate::inventory::site(&app, t.id, 2).await;
    sqlx::query("update product set name = $2, sku = 'BOLT-1' where id = $1")
        .bind(s.product)
        .bind(name)
        .execute(&app.owner)
        .await
        .unwrap();
    (app, t, s)
}

#[tokio::test]
async fn a_stock_export_has_a_line_per_row_by_code_and_follows_the_filters() {
    use crate::inventory::{applied, receive};
    // A name a spreadsheet would run as a formula.
    let (app, t, s) = export_scene("=1+1").await;
    applied(&app, &t.token, receive(s.product, s.bins[0], 5)).await;
    applied(&app, &t.token, receive(s.product, s.bins[1], 3)).await;
    let mut lotted = receive(s.tracked, s.bins[1], 7);
    lotted["lot_id"] = json!(s.lot);
    applied(&app, &t.token, lotted).await;
    let (code, lot_code, expires_on): (String, String, chrono::NaiveDate) = sqlx::query_as(
        "select w.code, l.code, l.expires_on from warehouse w, lot l
         where w.id = $1 and l.id = $2",
    )
    .bind(s.warehouse)
    .bind(s.lot)
    .fetch_one(&app.owner)
    .await
    .unwrap();

    let get = |query: String| {
        let app = &app;
        let token = t.token.clone();
        async move {
            let r = app.get(&format!("/v1/exports/stock{query}"), &token).await;
            assert_eq!(r.status(), StatusCode::OK, "{query}");
            let disposition = r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(disposition.contains("stock."), "{disposition}");
            r.bytes().await.unwrap().to_vec()
        }
    };
    let rows = csv_rows(&get(String::new()).await);
    assert_eq!(
        rows[0],
        logiflow_server::bulk::export::STOCK_COLUMNS
            .iter()
            .map(|c| (*c).to_owned())
            .collect::<Vec<_>>()
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    let bolt: Vec<&Vec<String>> = rows.iter().filter(|r| r[2] == "BOLT-1").collect();
    assert_eq!(bolt.len(), 2);
    let in_bin0 = bolt.iter().find(|r| r[6] == "5").unwrap();
    assert_eq!(in_bin0[0], code);
    assert!(in_bin0[1].starts_with("A/"), "{in_bin0:?}");
    assert_eq!(in_bin0[3], "'=1+1", "a formula is written as text");
    assert_eq!((&in_bin0[7][..], &in_bin0[8][..]), ("0", "5"));
    let lot_row = rows.iter().find(|r| r[4] == lot_code).unwrap();
    assert_eq!(lot_row[5], expires_on.to_string());
    assert_eq!(lot_row[6], "7");

    // The filters of GET /v1/stock.
    let in_bin1 = csv_rows(&get(format!("?location_id={}", s.bins[1])).await);
    assert_eq!(in_bin1.len(), 3, "{in_bin1:?}");
    let of_bolt = csv_rows(&get(format!("?product_id={}", s.product)).await);
    assert_eq!(of_bolt.len(), 3, "{of_bolt:?}");

    // The same rows as a workbook.
    let xlsx = get("?format=xlsx".to_owned()).await;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = calamine::Reader::worksheet_range(&mut book, "stock").unwrap();
    assert_eq!(sheet.height(), 4);
    assert_eq!(sheet.get_value((0, 0)).unwrap().to_string(), "warehouse");

    // A bad filter or format is refused.
    for query in [
        "?warehouse_id=nope",
        "?format=pdf",
        "?expiring_before=tomorrow",
    ] {
        let r = app
            .get(&format!("/v1/exports/stock{query}"), &t.token)
            .await;
        problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
    }
}

#[tokio::test]
async fn a_movement_export_is_the_history_by_name_newest_first_with_its_filters() {
    use crate::inventory::{applied, receive};
    let (app, t, s) = export_scene("@SUM(1)").await;
    let mut first = receive(s.product, s.bins[0], 5);
    first["note"] = json!("dock 3");
    let received = applied(&app, &t.token, first).await;
    let moved = applied(
        &app,
        &t.token,
        json!({"kind": "transfer", "product_id": s.product, "from_location_id": s.bins[0],
               "to_location_id": s.bins[1], "qty": 2}),
    )
    .await;
    let (code, bin0, bin1): (String, String, String) = sqlx::query_as(
        "select w.code, a.path::text, b.path::text from warehouse w, location a, location b
         where w.id = $1 and a.id = $2 and b.id = $3",
    )
    .bind(s.warehouse)
    .bind(s.bins[0])
    .bind(s.bins[1])
    .fetch_one(&app.owner)
    .await
    .unwrap();

    let get = |query: String| {
        let app = &app;
        let token = t.token.clone();
        async move {
            let r = app
                .get(&format!("/v1/exports/movements{query}"), &token)
                .await;
            assert_eq!(r.status(), StatusCode::OK, "{query}");
            r.bytes().await.unwrap().to_vec()
        }
    };
    let rows = csv_rows(&get(String::new()).await);
    let columns = logiflow_server::bulk::export::MOVEMENT_COLUMNS;
    assert_eq!(
        rows[0],
        columns.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>()
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    let cell = |row: &Vec<String>, column: &str| {
        row[columns.iter().position(|c| *c == column).unwrap()].clone()
    };
    // Newest first: the transfer, then the receipt.
    let transfer = &rows[1];
    assert_eq!(cell(transfer, "movement_id"), moved["id"].as_str().unwrap());
    assert_eq!(
        [
            cell(transfer, "kind"),
            cell(transfer, "outcome"),
            cell(transfer, "warehouse"),
            cell(transfer, "sku"),
            cell(transfer, "from_location"),
            cell(transfer, "to_location"),
            cell(transfer, "qty"),
        ],
        ["transfer", "applied", &code, "BOLT-1", &bin0, &bin1, "2"].map(String::from)
    );
    assert_eq!(
        cell(transfer, "product_name"),
        "'@SUM(1)",
        "a formula is text"
    );
    assert!(cell(transfer, "user").contains('@'), "{transfer:?}");
    let receipt = &rows[2];
    assert_eq!(
        cell(receipt, "movement_id"),
        received["id"].as_str().unwrap()
    );
    assert_eq!(cell(receipt, "note"), "dock 3");
    assert_eq!(cell(receipt, "from_location"), "");

    // The filters of GET /v1/movements.
    assert_eq!(csv_rows(&get("?kind=receive".into()).await).len(), 2);
    assert_eq!(
        csv_rows(&get(format!("?location_id={}", s.bins[1])).await).len(),
        2
    );
    let later = (chrono::Utc::now() + chrono::TimeDelta::minutes(1)).to_rfc3339();
    let later = later.replace('+', "%2B");
    assert_eq!(csv_rows(&get(format!("?from={later}")).await).len(), 1);
    let xlsx = get("?format=xlsx".into()).await;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = calamine::Reader::worksheet_range(&mut book, "movements").unwrap();
    assert_eq!(sheet.height(), 3);
    for query in ["?kind=teleport", "?outcome=lost", "?from=yesterday"] {
        let r = app
            .get(&format!("/v1/exports/movements{query}"), &t.token)
            .await;
        problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
    }
}

#[tokio::test]
async fn a_location_export_is_the_tree_parents_first_with_its_filters() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let wh = create(
        &app,
        "/v1/warehouses",
        &t.token,
        json!({"code": "MAIN", "name": "Main", "timezone": "Europe/Paris"}),
    )
    .await;
    let other = create(
        &app,
        "/v1/warehouses",
        &t.token,
        json!({"code": "ANNEX", "name": "Annex", "timezone": "Europe/Paris"}),
    )
    .await;
    let zone = create(
        &app,
        "/v1/locations",
        &t.token,
        json!({"warehouse_id": wh["id"], "code": "A", "name": "Zone A"}),
    )
    .await;
    let aisle = create(
        &app,
        "/v1/locations",
        &t.token,
        json!({"parent_id": zone["id"], "code": "01", "name": "Aisle, one"}),
    )
    .await;
    // A name a spreadsheet would run as a formula.
    create(
        &app,
        "/v1/locations",
        &t.token,
        json!({"parent_id": aisle["id"], "code": "B1", "name": "=HYPERLINK(\"x\")"}),
    )
    .await;
    create(
        &app,
        "/v1/locations",
        &t.token,
        json!({"warehouse_id": other["id"], "code": "DOCK", "name": "Dock"}),
    )
    .await;

    let get = |query: String| {
        let app = &app;
        let token = t.token.clone();
        async move {
            let r = app
                .get(&format!("/v1/exports/locations{query}"), &token)
                .await;
            assert_eq!(r.status(), StatusCode::OK, "{query}");
            r.bytes().await.unwrap().to_vec()
        }
    };
    let rows = csv_rows(&get(String::new()).await);
    let header: Vec<String> = logiflow_server::bulk::export::LOCATION_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    assert_eq!(rows[0], header);
    let body: Vec<Vec<&str>> = rows[1..]
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        body,
        [
            vec!["MAIN", "A", "A", "Zone A", "", "true"],
            vec!["MAIN", "A/01", "01", "Aisle, one", "A", "true"],
            vec![
                "MAIN",
                "A/01/B1",
                "B1",
                "'=HYPERLINK(\"x\")",
                "A/01",
                "true"
            ],
            vec!["ANNEX", "DOCK", "DOCK", "Dock", "", "true"],
        ]
    );

    // The filters of GET /v1/locations.
    let main = csv_rows(&get(format!("?warehouse_id={}", id_of(&wh))).await);
    assert_eq!(main.len(), 4, "{main:?}");
    let under = csv_rows(&get("?path_prefix=a/01/".to_owned()).await);
    assert_eq!(under.len(), 2, "{under:?}");
    assert_eq!(under[1][1], "A/01/B1");

    // The same rows as a workbook.
    let xlsx = get("?format=xlsx".to_owned()).await;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = calamine::Reader::worksheet_range(&mut book, "locations").unwrap();
    assert_eq!(sheet.height(), 5);
    assert_eq!(sheet.get_value((3, 1)).unwrap().to_string(), "A/01/B1");

    for query in ["?warehouse_id=nope", "?format=pdf"] {
        let r = app
            .get(&format!("/v1/exports/locations{query}"), &t.token)
            .await;
        problem(r, StatusCode::BAD_REQUEST, "bad_request").await;
    }
}

#[tokio::test]
async fn an_audit_export_is_the_log_newest_first_by_name_for_auditors_only() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let (_, operator) = app.user(&t, "operator@acme.example", "operator").await;
    for sku in ["AUD-1", "AUD-2"] {
        create(
            &app,
            "/v1/products",
            &t.token,
            json!({"sku": sku, "name": format!("Audited {sku}")}),
        )
        .await;
    }
    let listed = get_json(&app, "/v1/audit?limit=500", &t.token).await;
    let entries = listed["items"].as_array().unwrap().clone();

    let r = app.get("/v1/exports/audit", &t.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let rows = csv_rows(&r.bytes().await.unwrap());
    let header: Vec<String> = logiflow_server::bulk::export::AUDIT_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    assert_eq!(rows[0], header);
    assert_eq!(rows.len(), entries.len() + 1, "{rows:?}");
    // Newest first, as the list: the last product's creation, by the admin's email,
    // with the product as it was written.
    let newest = &rows[1];
    assert_eq!(newest[10], entries[0]["id"].as_str().unwrap());
    assert_eq!(newest[1], "product.create");
    assert_eq!(newest[4], "user");
    assert!(newest[5].contains('@'), "the actor by email: {newest:?}");
    let after: Value = serde_json::from_str(&newest[8]).unwrap();
    assert_eq!(after["sku"], "AUD-2");

    // The filters of GET /v1/audit.
    let r = app
        .get("/v1/exports/audit?action=product.create", &t.token)
        .await;
    let rows = csv_rows(&r.bytes().await.unwrap());
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows[1..].iter().all(|r| r[1] == "product.create"));

    // Only those who may read the audit log may export it.
    let r = app.get("/v1/exports/audit", &operator).await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
}

/// A validation the server stopped running (a restart, a crash) does not leave its job
/// `validating` forever: once nothing moved for `STALLED_SECS` it reads as failed, says
/// to upload again, and cannot be committed; a job that moved lately is left alone.
#[tokio::test]
async fn an_abandoned_validation_reads_as_failed_instead_of_validating_forever() {
    let app = spawn_app().await;
    let t = app.tenant("acme", "standard").await;
    let job = products_preview(&app, &t.token).await;
    let id = id_of(&job);
    let back_to_validating = |age_secs: u64| {
        sqlx::query(
            "update import_job set status = 'validating',
                 progressed_at = now() - make_interval(secs => $2)
             where id = $1::uuid",
        )
        .bind(id.clone())
        .bind(age_secs as f64)
        .execute(&app.owner)
    };
    let stalled = logiflow_server::bulk::import::STALLED_SECS;

    // Moved a minute ago: still validating.
    back_to_validating(60).await.unwrap();
    let seen = get_json(&app, format!("/v1/imports/{id}"), &t.token).await;
    assert_eq!(seen["status"], "validating", "{seen}");
    assert!(seen["failure"].is_null(), "{seen}");

    // Nothing moved for longer than the bound: the server that validated it is gone.
    back_to_validating(stalled + 60).await.unwrap();
    let seen = get_json(&app, format!("/v1/imports/{id}"), &t.token).await;
    assert_eq!(seen["status"], "failed", "{seen}");
    assert!(
        seen["failure"]
            .as_str()
            .unwrap()
            .contains("upload the file again"),
        "{seen}"
    );
    let r = app
        .post(&format!("/v1/imports/{id}/commit"), &t.token, json!({}))
        .await;
    problem(r, StatusCode::CONFLICT, "invalid_import_state").await;
    assert_eq!(count(&app, "product").await, 0, "nothing was written");
}
