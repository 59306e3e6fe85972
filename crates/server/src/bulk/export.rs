//! Exporting products as rows of the import's own columns, so an export reads back as
//! an import that changes nothing (tested). Cells a spreadsheet would read as a formula
//! (beginning with `= + - @`) are written with a leading `'` ([`formats::neutralise`]),
//! which the import strips again.
//!
//! CSV is streamed a page of products at a time (memory bounded by
//! [`EXPORT_PAGE_ROWS`]); XLSX is built in memory by `rust_xlsxwriter`, bounded by the
//! tenant's SKU quota.

use rust_xlsxwriter::Workbook;

use crate::bulk::formats;
use crate::bulk::import::{CUSTOM_PREFIX, PRODUCT_COLUMNS};
use crate::catalog::product::Product;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::store;

/// Products read (and written out) per step of an export.
pub const EXPORT_PAGE_ROWS: i64 = 1_000;

/// The custom fields exported: the properties of the tenant's product field schema,
/// sorted.
pub async fn custom_keys(tx: &mut TenantTx) -> ApiResult<Vec<String>> {
    let schema = store::settings::product_field_schema(tx).await?;
    let mut keys: Vec<String> = schema["properties"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    Ok(keys)
}

/// The header row.
pub fn product_header(custom_keys: &[String]) -> Vec<String> {
    PRODUCT_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .chain(custom_keys.iter().map(|k| format!("{CUSTOM_PREFIX}{k}")))
        .collect()
}

/// A product's row, neutralised.
pub fn product_cells(p: &Product, custom_keys: &[String]) -> Vec<String> {
    let money = |d: Option<rust_decimal::Decimal>| d.map(|d| d.to_string()).unwrap_or_default();
    let mut cells = vec![
        p.sku.clone(),
        p.name.clone(),
        p.barcodes.join("|"),
        p.uom.clone(),
        p.lot_tracked.to_string(),
        p.expiry_policy.as_str().to_owned(),
        p.reorder_point.to_string(),
        p.reorder_qty.to_string(),
        money(p.cost),
        money(p.price),
        p.active.to_string(),
    ];
    for k in custom_keys {
        cells.push(match p.custom.get(k) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        });
    }
    cells
        .iter()
        .map(|c| formats::neutralise(c).into_owned())
        .collect()
}

/// Rows as CSV bytes.
pub fn csv_bytes(rows: &[Vec<String>]) -> ApiResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(r).map_err(ApiError::internal)?;
    }
    w.into_inner()
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Rows (the header first) as an XLSX workbook of one sheet, every cell text.
pub fn xlsx_bytes(sheet: &str, rows: &[Vec<String>]) -> ApiResult<Vec<u8>> {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name(sheet).map_err(ApiError::internal)?;
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r).map_err(ApiError::internal)?;
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).map_err(ApiError::internal)?;
            if !cell.is_empty() {
                ws.write_string(r, c, cell).map_err(ApiError::internal)?;
            }
        }
    }
    book.save_to_buffer().map_err(ApiError::internal)
}

/// A page of products after `after`, by id.
pub async fn product_page(tx: &mut TenantTx, after: Option<uuid::Uuid>) -> ApiResult<Vec<Product>> {
    Ok(store::products::list(
        tx,
        &store::products::Filter::default(),
        after,
        EXPORT_PAGE_ROWS,
    )
    .await?)
}
