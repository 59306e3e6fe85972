//! Importing products: the columns of a product file, its file-level checks (columns, no
//! SKU or barcode on two rows) and each row's validation.
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

use logiflow_core::Sku;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Action, CellError, StagedRow, cell_error, parse_bool};
use crate::bulk::formats::Table;
use crate::catalog::product::{
    ExpiryPolicy, Product, parse_barcodes, parse_sku, validate_money, validate_reorder,
    validate_uom,
};
use crate::catalog::service::{check_custom, custom_validator};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::users::validate_name;

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

/// Validates rows against the tenant's products, barcodes and field schema.
///
/// Longer than 80 lines: it reads what the chunk's rows name in as few queries as it can
/// (products by SKU, barcodes, the field schema), then stages the rows in order; the
/// reads serve the staging below them.
pub(super) async fn validate_chunk(
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
///
/// Longer than 80 lines: one check per column, in the file's column order, each adding
/// its failing cell, so that a row reports every error at once.
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
