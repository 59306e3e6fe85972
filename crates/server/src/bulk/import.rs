//! Importing products: the columns a file may have, the file-level checks (columns,
//! duplicate keys), the validation job that stages every row with its action or its
//! errors, and the commit that writes them in one transaction.
//!
//! A column present in the file sets its field on every row; an empty cell is the
//! field's empty value (no barcodes, no cost, `0`, `pcs`, `fifo`, not lot-tracked,
//! active). A column absent from the file leaves the field of an existing product as it
//! is (a new one gets the default). `custom.<key>` columns set one custom field each (an
//! empty cell removes it), typed by the tenant's schema; other custom fields of an
//! existing product are kept. `barcodes` lists a product's barcodes separated by `|`.
//!
//! Each row is checked by the catalog's own rules (`catalog::product` and
//! `catalog::service::check_custom`), never by rules of its own.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use logiflow_core::Sku;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::Principal;
use crate::audit_log::{self, Entry};
use crate::bulk::formats::{Format, Table};
use crate::catalog::product::{
    ExpiryPolicy, Product, parse_barcodes, parse_sku, validate_money, validate_reorder,
    validate_uom,
};
use crate::catalog::service::{check_custom, custom_validator};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::quota;
use crate::store;
use crate::users::validate_name;

/// How long an import waits for its commit before it expires.
pub const IMPORT_TTL_HOURS: i64 = 24;

/// Rows validated and staged per transaction (one progress step).
pub const CHUNK_ROWS: usize = 5_000;

/// A job `validating` that has not moved for this long (no chunk staged, no minute waited
/// for its turn) was abandoned by a server that stopped, and reads as `failed`: a chunk
/// takes about a second.
pub const STALLED_SECS: u64 = 300;

/// Validations one server process runs at once: each holds its file's rows in memory,
/// so many large uploads at once wait for their turn instead of exhausting it.
pub const VALIDATIONS_MAX: usize = 2;

/// How often a job waiting for its turn says it is alive.
const WAITING_TOUCH_SECS: u64 = 60;

static VALIDATIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(VALIDATIONS_MAX);

/// What an import creates or changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Products,
}

impl Kind {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Products => "products",
        }
    }
}

/// An import job as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct ImportJob {
    pub id: Uuid,
    pub kind: String,
    pub format: String,
    pub file_name: String,
    /// `validating`, `ready` (preview: commit it or let it expire), `committed`,
    /// `failed` (the server failed while validating) or `expired`.
    pub status: String,
    /// The file's columns, normalized.
    pub columns: Vec<String>,
    pub rows_total: i32,
    /// Rows validated so far (progress).
    pub rows_done: i32,
    pub to_create: i32,
    pub to_update: i32,
    pub unchanged: i32,
    /// Rows with errors: a job with any cannot be committed.
    pub errors: i32,
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub committed_at: Option<DateTime<Utc>>,
}

/// A failing cell of a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CellError {
    pub column: String,
    /// The cell as read (at most 200 characters).
    pub value: String,
    pub message: String,
}

/// A row of the preview.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct ImportRowView {
    /// The row's number as a spreadsheet shows it (the header is row 1).
    pub row: i32,
    /// `create`, `update`, `unchanged` or `error`.
    pub action: String,
    #[sqlx(json)]
    pub errors: Vec<CellError>,
}

/// What a row will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Error,
}

impl Action {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
            Action::Error => "error",
        }
    }
}

/// A validated row, as staged.
#[derive(Debug, Clone)]
pub struct StagedRow {
    pub row_no: i32,
    pub action: Action,
    pub target_id: Option<Uuid>,
    pub data: Option<serde_json::Value>,
    pub errors: Vec<CellError>,
}

/// A product as an import writes it: every field, barcodes sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRecord {
    pub sku: String,
    pub name: String,
    pub uom: String,
    pub lot_tracked: bool,
    pub expiry_policy: ExpiryPolicy,
    pub reorder_point: i64,
    pub reorder_qty: i64,
    pub cost: Option<Decimal>,
    pub price: Option<Decimal>,
    pub custom: serde_json::Value,
    pub active: bool,
    pub barcodes: Vec<String>,
}

impl From<&Product> for ProductRecord {
    fn from(p: &Product) -> Self {
        Self {
            sku: p.sku.clone(),
            name: p.name.clone(),
            uom: p.uom.clone(),
            lot_tracked: p.lot_tracked,
            expiry_policy: p.expiry_policy,
            reorder_point: p.reorder_point,
            reorder_qty: p.reorder_qty,
            cost: p.cost.map(|d| d.normalize()),
            price: p.price.map(|d| d.normalize()),
            custom: p.custom.clone(),
            active: p.active,
            barcodes: p.barcodes.clone(),
        }
    }
}

/// The columns of a product file, in export order; `custom.<key>` columns follow.
pub const PRODUCT_COLUMNS: [&str; 11] = [
    "sku",
    "name",
    "barcodes",
    "uom",
    "lot_tracked",
    "expiry_policy",
    "reorder_point",
    "reorder_qty",
    "cost",
    "price",
    "active",
];

/// Prefix of a custom field's column.
pub const CUSTOM_PREFIX: &str = "custom.";

/// Where each column of a product file is.
#[derive(Debug, Clone, Default)]
pub struct ProductColumns {
    known: HashMap<&'static str, usize>,
    custom: Vec<(String, usize)>,
}

impl ProductColumns {
    /// Maps `columns` (normalized), refusing an unknown, repeated or missing required one.
    pub fn parse(columns: &[String]) -> ApiResult<Self> {
        let mut out = Self::default();
        let mut seen = HashSet::new();
        for (i, c) in columns.iter().enumerate() {
            if !seen.insert(c.as_str()) {
                return Err(ApiError::ImportColumns(format!(
                    "column {c:?} appears twice"
                )));
            }
            if let Some(known) = PRODUCT_COLUMNS.iter().find(|k| **k == c) {
                out.known.insert(known, i);
            } else if let Some(key) = c.strip_prefix(CUSTOM_PREFIX).filter(|k| !k.is_empty()) {
                out.custom.push((key.to_owned(), i));
            } else {
                return Err(ApiError::ImportColumns(format!(
                    "unknown column {c:?}; the columns are {} and custom.<field>",
                    PRODUCT_COLUMNS.join(", ")
                )));
            }
        }
        for required in ["sku", "name"] {
            if !out.known.contains_key(required) {
                return Err(ApiError::ImportColumns(format!(
                    "the required column {required:?} is missing"
                )));
            }
        }
        Ok(out)
    }

    fn cell<'a>(&self, cells: &'a [String], column: &str) -> Option<&'a str> {
        self.known.get(column).map(|i| cells[*i].as_str())
    }
}

/// A SKU as compared for duplicates: normalized when it parses, else as typed in upper
/// case (its row fails validation anyway).
fn sku_key(raw: &str) -> String {
    Sku::parse(raw)
        .map(String::from)
        .unwrap_or_else(|_| raw.to_uppercase())
}

fn split_barcodes(cell: &str) -> Vec<String> {
    cell.split('|')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The file-level checks of a product file: its columns and no SKU or barcode on two
/// rows.
pub fn check_products(table: &Table) -> ApiResult<ProductColumns> {
    let cols = ProductColumns::parse(&table.columns)?;
    let mut skus: HashMap<String, u32> = HashMap::new();
    let mut barcodes: HashMap<String, u32> = HashMap::new();
    for row in &table.rows {
        let sku = sku_key(cols.cell(&row.cells, "sku").unwrap_or_default());
        if let Some(first) = skus.insert(sku.clone(), row.row_no) {
            return Err(ApiError::ImportDuplicateKey(format!(
                "SKU {sku} is on rows {first} and {}",
                row.row_no
            )));
        }
        let own: HashSet<String> = cols
            .cell(&row.cells, "barcodes")
            .map(split_barcodes)
            .unwrap_or_default()
            .into_iter()
            .collect();
        for b in own {
            if let Some(first) = barcodes.insert(b.clone(), row.row_no) {
                return Err(ApiError::ImportDuplicateKey(format!(
                    "barcode {b} is on rows {first} and {}",
                    row.row_no
                )));
            }
        }
    }
    Ok(cols)
}

/// Creates the job of a read file (after [`check_products`]), sweeping the tenant's
/// expired ones first.
pub async fn create_job(
    tx: &mut TenantTx,
    principal: &Principal,
    kind: Kind,
    format: Format,
    file_name: &str,
    table: &Table,
) -> ApiResult<ImportJob> {
    store::imports::sweep_expired(tx).await?;
    let (actor_type, actor_id) = principal.audit_actor();
    let job = store::imports::insert(
        tx,
        store::imports::NewJob {
            id: Uuid::now_v7(),
            kind: kind.as_str(),
            format: format.as_str(),
            file_name,
            columns: &table.columns,
            rows_total: i32::try_from(table.rows.len()).unwrap_or(i32::MAX),
            created_by: &format!("{actor_type}:{actor_id}"),
            expires_at: Utc::now() + chrono::TimeDelta::hours(IMPORT_TTL_HOURS),
        },
    )
    .await?;
    Ok(job)
}

/// The validation job: stages every row, [`CHUNK_ROWS`] per transaction (each advancing
/// `rows_done`), then marks the job ready with its counts. A failure marks it failed;
/// either way nothing but the job's own rows is written.
pub async fn validate(
    pool: PgPool,
    tenant_id: logiflow_core::TenantId,
    job_id: Uuid,
    cols: ProductColumns,
    table: Table,
) {
    let result = async {
        // Wait for a turn, saying every minute that the job is alive.
        let _turn = loop {
            let wait = tokio::time::timeout(
                std::time::Duration::from_secs(WAITING_TOUCH_SECS),
                VALIDATIONS.acquire(),
            );
            match wait.await {
                Ok(permit) => break permit.map_err(ApiError::internal)?,
                Err(_) => {
                    let mut tx = TenantTx::begin(&pool, tenant_id).await?;
                    store::imports::touch(&mut tx, job_id).await?;
                    tx.commit().await?;
                }
            }
        };
        for chunk in table.rows.chunks(CHUNK_ROWS) {
            let mut tx = TenantTx::begin(&pool, tenant_id).await?;
            let staged = validate_chunk(&mut tx, &cols, chunk).await?;
            store::imports::stage(&mut tx, job_id, &staged).await?;
            tx.commit().await?;
        }
        let mut tx = TenantTx::begin(&pool, tenant_id).await?;
        store::imports::finish(&mut tx, job_id).await?;
        tx.commit().await?;
        ApiResult::Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, %job_id, "import validation failed");
        let failed = async {
            let mut tx = TenantTx::begin(&pool, tenant_id).await?;
            store::imports::fail(
                &mut tx,
                job_id,
                "the server failed while validating; upload the file again",
            )
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = failed {
            tracing::error!(error = %e, %job_id, "marking the import failed");
        }
    }
}

/// Validates rows against the tenant's products, barcodes and field schema.
async fn validate_chunk(
    tx: &mut TenantTx,
    cols: &ProductColumns,
    rows: &[crate::bulk::formats::Row],
) -> ApiResult<Vec<StagedRow>> {
    let validator = custom_validator(tx).await?;
    let schema = store::settings::product_field_schema(tx).await?;
    let skus: Vec<String> = rows
        .iter()
        .map(|r| sku_key(cols.cell(&r.cells, "sku").unwrap_or_default()))
        .collect();
    let existing: HashMap<String, Product> = store::products::by_skus(tx, &skus)
        .await?
        .into_iter()
        .map(|p| (p.sku.clone(), p))
        .collect();
    let barcodes: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            cols.cell(&r.cells, "barcodes")
                .map(split_barcodes)
                .unwrap_or_default()
        })
        .collect();
    let owners: HashMap<String, Uuid> = store::products::barcode_owners(tx, &barcodes)
        .await?
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let before = existing.get(&sku_key(cols.cell(&row.cells, "sku").unwrap_or_default()));
        let row_no = i32::try_from(row.row_no).unwrap_or(i32::MAX);
        let mut record = match product_record(cols, &row.cells, before, &validator, &schema) {
            Ok(r) => r,
            Err(errors) => {
                out.push(StagedRow {
                    row_no,
                    action: Action::Error,
                    target_id: before.map(|p| p.id),
                    data: None,
                    errors,
                });
                continue;
            }
        };
        let target = before.map_or_else(Uuid::now_v7, |p| p.id);
        let mut errors = Vec::new();
        let taken: Vec<&String> = record
            .barcodes
            .iter()
            .filter(|b| owners.get(*b).is_some_and(|owner| *owner != target))
            .collect();
        for b in taken {
            errors.push(cell_error(
                "barcodes",
                b,
                &ApiError::BarcodeTaken(b.clone()),
            ));
        }
        if let Some(before) = before {
            lot_tracking_rule(tx, before, &record, &mut errors).await?;
        }
        record.cost = record.cost.map(|d| d.normalize());
        record.price = record.price.map(|d| d.normalize());
        let action = match before {
            _ if !errors.is_empty() => Action::Error,
            None => Action::Create,
            Some(b) if ProductRecord::from(b) == record => Action::Unchanged,
            Some(_) => Action::Update,
        };
        out.push(StagedRow {
            row_no,
            action,
            target_id: Some(target),
            data: (action != Action::Error)
                .then(|| serde_json::to_value(&record))
                .transpose()
                .map_err(ApiError::internal)?,
            errors,
        });
    }
    Ok(out)
}

/// The catalog's lot-tracking rule (`catalog::service::update_product`): not off while
/// the product has lots, not on while it holds stock without a lot.
async fn lot_tracking_rule(
    tx: &mut TenantTx,
    before: &Product,
    record: &ProductRecord,
    errors: &mut Vec<CellError>,
) -> ApiResult<()> {
    let value = record.lot_tracked.to_string();
    if before.lot_tracked && !record.lot_tracked && store::products::has_lots(tx, before.id).await?
    {
        errors.push(cell_error("lot_tracked", &value, &ApiError::ProductHasLots));
    }
    if !before.lot_tracked
        && record.lot_tracked
        && store::products::has_unlotted_stock(tx, before.id).await?
    {
        errors.push(cell_error(
            "lot_tracked",
            &value,
            &ApiError::ProductHasStock,
        ));
    }
    Ok(())
}

fn cell_error(column: &str, value: &str, e: &ApiError) -> CellError {
    CellError {
        column: column.to_owned(),
        value: value.chars().take(200).collect(),
        message: e.to_string(),
    }
}

fn parse_bool(s: &str) -> Result<bool, ApiError> {
    match s.to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(ApiError::BadRequest("expected true or false".into())),
    }
}

fn parse_int(s: &str) -> Result<i64, ApiError> {
    s.parse()
        .map_err(|_| ApiError::BadRequest("expected a whole number".into()))
}

fn parse_decimal(s: &str) -> Result<Decimal, ApiError> {
    Decimal::from_str(s)
        .map_err(|_| ApiError::BadRequest("expected a decimal number like 12.50".into()))
}

/// A custom field's cell as the JSON value the schema's `type` asks for (text when it
/// names none or the cell does not parse: the schema then says what is wrong).
fn custom_value(schema: &serde_json::Value, key: &str, cell: &str) -> serde_json::Value {
    let ty = schema["properties"][key]["type"]
        .as_str()
        .unwrap_or("string");
    let parsed = match ty {
        "integer" => cell.parse::<i64>().ok().map(serde_json::Value::from),
        "number" => cell.parse::<f64>().ok().map(serde_json::Value::from),
        "boolean" => parse_bool(cell).ok().map(serde_json::Value::from),
        _ => None,
    };
    parsed.unwrap_or_else(|| serde_json::Value::from(cell))
}

/// One row as the product it makes, merged with `before`; or every failing cell.
fn product_record(
    cols: &ProductColumns,
    cells: &[String],
    before: Option<&Product>,
    validator: &jsonschema::Validator,
    schema: &serde_json::Value,
) -> Result<ProductRecord, Vec<CellError>> {
    let mut errors = Vec::new();
    let default = ProductRecord {
        sku: String::new(),
        name: String::new(),
        uom: "pcs".into(),
        lot_tracked: false,
        expiry_policy: ExpiryPolicy::Fifo,
        reorder_point: 0,
        reorder_qty: 0,
        cost: None,
        price: None,
        custom: serde_json::json!({}),
        active: true,
        barcodes: Vec::new(),
    };
    let mut r = before.map_or(default, ProductRecord::from);
    macro_rules! field {
        ($column:literal, $target:expr, |$cell:ident| $parse:expr) => {
            if let Some($cell) = cols.cell(cells, $column) {
                match $parse {
                    Ok(v) => $target = v,
                    Err(e) => errors.push(cell_error($column, $cell, &e)),
                }
            }
        };
    }
    field!("sku", r.sku, |c| parse_sku(c));
    field!("name", r.name, |c| validate_name(c));
    field!("uom", r.uom, |c| validate_uom(if c.is_empty() {
        "pcs"
    } else {
        c
    }));
    field!("lot_tracked", r.lot_tracked, |c| if c.is_empty() {
        Ok(false)
    } else {
        parse_bool(c)
    });
    field!("expiry_policy", r.expiry_policy, |c| if c.is_empty() {
        Ok(ExpiryPolicy::Fifo)
    } else {
        ExpiryPolicy::try_from(c.to_lowercase())
            .map_err(|_| ApiError::BadRequest("expected fifo or fefo".into()))
    });
    field!("reorder_point", r.reorder_point, |c| if c.is_empty() {
        Ok(0)
    } else {
        parse_int(c).and_then(|v| validate_reorder("reorder_point", v))
    });
    field!("reorder_qty", r.reorder_qty, |c| if c.is_empty() {
        Ok(0)
    } else {
        parse_int(c).and_then(|v| validate_reorder("reorder_qty", v))
    });
    field!("cost", r.cost, |c| if c.is_empty() {
        Ok(None)
    } else {
        parse_decimal(c).and_then(|v| validate_money("cost", Some(v)))
    });
    field!("price", r.price, |c| if c.is_empty() {
        Ok(None)
    } else {
        parse_decimal(c).and_then(|v| validate_money("price", Some(v)))
    });
    field!("active", r.active, |c| if c.is_empty() {
        Ok(true)
    } else {
        parse_bool(c)
    });
    field!("barcodes", r.barcodes, |c| parse_barcodes(&split_barcodes(
        c
    )));
    if !cols.custom.is_empty() {
        let mut custom = r.custom.as_object().cloned().unwrap_or_default();
        for (key, i) in &cols.custom {
            let cell = cells[*i].as_str();
            if cell.is_empty() {
                custom.remove(key);
            } else {
                custom.insert(key.clone(), custom_value(schema, key, cell));
            }
        }
        r.custom = serde_json::Value::Object(custom);
        if let Err(e) = check_custom(validator, &r.custom) {
            match e {
                ApiError::InvalidCustomFields(fields) => {
                    for f in fields {
                        let key = f.field.trim_start_matches('/');
                        let column = format!("{CUSTOM_PREFIX}{key}");
                        let value = r.custom.get(key).map(|v| match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        });
                        errors.push(CellError {
                            column: if key.is_empty() {
                                "custom".into()
                            } else {
                                column
                            },
                            value: value.unwrap_or_default(),
                            message: f.message,
                        });
                    }
                }
                other => errors.push(cell_error("custom", "", &other)),
            }
        }
    }
    if errors.is_empty() {
        Ok(r)
    } else {
        Err(errors)
    }
}

/// Commits a ready job without errors in the caller's transaction: the staged products
/// written set-based, the plan's SKU quota checked (active products counted before and
/// after under the quota's lock: refused when the import adds past the limit), one audit
/// entry and one `import.completed` event for the import, the job marked committed.
pub async fn commit(tx: &mut TenantTx, principal: &Principal, id: Uuid) -> ApiResult<ImportJob> {
    let job = store::imports::get_for_update(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    match job.status.as_str() {
        "ready" if job.errors > 0 => {
            return Err(ApiError::InvalidImportState(format!(
                "the import has {} rows with errors; fix the file and upload it again",
                job.errors
            )));
        }
        "ready" => {}
        other => {
            return Err(ApiError::InvalidImportState(format!(
                "the import is {other}; only a ready import can be committed"
            )));
        }
    }
    let (used_before, limit) = quota::usage(tx, quota::Counted::Skus).await?;
    store::imports::apply_products(tx, id).await?;
    let (used_after, _) = quota::usage(tx, quota::Counted::Skus).await?;
    if used_after > used_before && used_after > limit {
        return Err(quota::Counted::Skus.exceeded(limit));
    }
    let after = store::imports::mark_committed(tx, id).await?;
    store::outbox::insert(tx, "import.completed", &completed_event(&after)?).await?;
    audit_log::record(
        tx,
        principal,
        Entry {
            action: "import.commit",
            target_type: "import",
            target_id: Some(id.to_string()),
            before: None,
            after: audit_log::snapshot(&serde_json::json!({
                "kind": after.kind,
                "file_name": after.file_name,
                "created": after.to_create,
                "updated": after.to_update,
                "unchanged": after.unchanged,
            })),
        },
    )
    .await?;
    Ok(after)
}

/// The `import.completed` event's data (`crate::webhooks::events`). Sent when the rows
/// are written (the commit), not when the preview is ready: a receiver learns of data
/// that changed, and a preview left to expire changed nothing.
fn completed_event(job: &ImportJob) -> ApiResult<serde_json::Value> {
    serde_json::to_value(crate::webhooks::events::ImportCompletedEvent::from(job))
        .map_err(ApiError::internal)
}
