//! Importing lots (`kind=lots`), keyed by product and lot code: `sku` and `lot`
//! (required), `expires_on` (a date as `YYYY-MM-DD`, or a spreadsheet's date cell; an
//! empty cell clears it, an absent column leaves it). The product must exist and be
//! lot-tracked, as for `POST /v1/lots`; lot codes are kept as printed (case-sensitive).

use std::collections::HashMap;

use chrono::{NaiveDate, TimeDelta};
use uuid::Uuid;

use super::{Action, CellError, StagedRow, cell_error, map_columns};
use crate::bulk::formats::{Row, Table};
use crate::catalog::lot::{Lot, parse_lot_code};
use crate::catalog::product::{Product, parse_sku};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::store;

/// The columns of a lot file.
pub const LOT_COLUMNS: [&str; 3] = ["sku", "lot", "expires_on"];

/// A lot as an import writes it (the staged row's data).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LotRecord {
    pub product_id: Uuid,
    pub code: String,
    pub expires_on: Option<NaiveDate>,
}

/// Where each column of a lot file is.
#[derive(Debug, Clone, Default)]
pub struct LotFile {
    known: HashMap<&'static str, usize>,
}

impl LotFile {
    fn cell<'a>(&self, cells: &'a [String], column: &str) -> Option<&'a str> {
        self.known.get(column).map(|i| cells[*i].as_str())
    }

    /// The row's (SKU, lot code) as compared for duplicates.
    fn key(&self, cells: &[String]) -> (String, String) {
        let sku = self.cell(cells, "sku").unwrap_or_default();
        (
            parse_sku(sku).unwrap_or_else(|_| sku.to_uppercase()),
            self.cell(cells, "lot").unwrap_or_default().to_owned(),
        )
    }
}

/// The file-level checks of a lot file: its columns and no lot of a product on two rows.
pub fn check_lots(table: &Table) -> ApiResult<LotFile> {
    let file = LotFile {
        known: map_columns(&table.columns, &LOT_COLUMNS, &["sku", "lot"])?,
    };
    let mut seen: HashMap<(String, String), u32> = HashMap::new();
    for row in &table.rows {
        let key = file.key(&row.cells);
        if let Some(first) = seen.insert(key.clone(), row.row_no) {
            return Err(ApiError::ImportDuplicateKey(format!(
                "lot {} of {} is on rows {first} and {}",
                key.1, key.0, row.row_no
            )));
        }
    }
    Ok(file)
}

/// A date cell: `YYYY-MM-DD`, or the day number a spreadsheet stores for a date cell
/// (days since 1899-12-30, as XLSX files hold them).
pub fn parse_date(cell: &str) -> ApiResult<NaiveDate> {
    if let Ok(d) = NaiveDate::parse_from_str(cell, "%Y-%m-%d") {
        return Ok(d);
    }
    let serial = cell
        .parse::<f64>()
        .ok()
        .filter(|v| v.fract() == 0.0 && (1.0..=2_958_465.0).contains(v));
    if let Some(days) = serial {
        #[allow(clippy::cast_possible_truncation)]
        let days = days as i64;
        if let Some(d) = NaiveDate::from_ymd_opt(1899, 12, 30)
            .and_then(|epoch| epoch.checked_add_signed(TimeDelta::days(days)))
        {
            return Ok(d);
        }
    }
    Err(ApiError::BadRequest(
        "expected a date as YYYY-MM-DD, e.g. 2027-03-31".into(),
    ))
}

/// Validates rows against the tenant's products and their lots.
pub(super) async fn validate_chunk(
    tx: &mut TenantTx,
    file: &LotFile,
    rows: &[Row],
) -> ApiResult<Vec<StagedRow>> {
    let skus: Vec<String> = rows.iter().map(|r| file.key(&r.cells).0).collect();
    let products: HashMap<String, Product> = store::products::by_skus(tx, &skus)
        .await?
        .into_iter()
        .map(|p| (p.sku.clone(), p))
        .collect();
    let ids: Vec<Uuid> = products.values().map(|p| p.id).collect();
    let lots: HashMap<(Uuid, String), Lot> = store::lots::of_products(tx, &ids)
        .await?
        .into_iter()
        .map(|l| ((l.product_id, l.code.clone()), l))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let row_no = i32::try_from(row.row_no).unwrap_or(i32::MAX);
        let product = products.get(&file.key(&row.cells).0);
        out.push(match lot_record(file, &row.cells, product, &lots) {
            Err(errors) => StagedRow::failed(row_no, errors),
            Ok((record, before)) => {
                let action = match before {
                    None => Action::Create,
                    Some(b) if b.expires_on == record.expires_on => Action::Unchanged,
                    Some(_) => Action::Update,
                };
                let target = before.map_or_else(Uuid::now_v7, |b| b.id);
                StagedRow::valid(row_no, action, Some(target), &record)?
            }
        });
    }
    Ok(out)
}

/// One row as the lot it makes or changes (with the existing one), or every failing cell.
fn lot_record<'a>(
    file: &LotFile,
    cells: &[String],
    product: Option<&Product>,
    lots: &'a HashMap<(Uuid, String), Lot>,
) -> Result<(LotRecord, Option<&'a Lot>), Vec<CellError>> {
    let mut errors = Vec::new();
    let sku = file.cell(cells, "sku").unwrap_or_default();
    match product {
        None => errors.push(cell_error(
            "sku",
            sku,
            &ApiError::ReferenceNotFound(format!("no product with SKU {sku:?}; import it first")),
        )),
        Some(p) if !p.lot_tracked => {
            errors.push(cell_error("sku", sku, &ApiError::ProductNotLotTracked));
        }
        Some(_) => {}
    }
    let raw_code = file.cell(cells, "lot").unwrap_or_default();
    let code = parse_lot_code(raw_code)
        .map_err(|e| errors.push(cell_error("lot", raw_code, &e)))
        .ok();
    let expires_on = match file.cell(cells, "expires_on") {
        Some("") | None => None,
        Some(c) => parse_date(c)
            .map_err(|e| errors.push(cell_error("expires_on", c, &e)))
            .ok(),
    };
    let (Some(product), Some(code), true) = (product, code, errors.is_empty()) else {
        return Err(errors);
    };
    let before = lots.get(&(product.id, code.clone()));
    let expires_on = match file.cell(cells, "expires_on") {
        None => before.and_then(|b| b.expires_on),
        Some(_) => expires_on,
    };
    Ok((
        LotRecord {
            product_id: product.id,
            code,
            expires_on,
        },
        before,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso_or_a_spreadsheet_day_number() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(parse_date("2027-03-31").unwrap(), d(2027, 3, 31));
        // 46477 is what a spreadsheet stores for 2027-03-31.
        assert_eq!(parse_date("46477").unwrap(), d(2027, 3, 31));
        assert_eq!(parse_date("1").unwrap(), d(1899, 12, 31));
        for bad in ["31/03/2027", "2027-02-30", "46477.5", "0", "-3", "soon"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }
}
