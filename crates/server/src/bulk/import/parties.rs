//! Importing suppliers or customers (`kind=suppliers`, `kind=customers`), keyed by code.
//!
//! Columns: `code` and `name` (required), `email`, `phone`, `address`, `active`, and
//! `lead_time_days` (suppliers) or `min_shelf_life_days` (customers). As for products, a
//! column present sets its field on every row (an empty cell is the field's empty value)
//! and an absent one leaves an existing party's field as it is. Each row goes through the
//! API's own check (`orders::party::NewParty::validate`).

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::{Action, CellError, StagedRow, cell_error, map_columns, parse_bool};
use crate::bulk::formats::{Row, Table};
use crate::catalog::warehouse::parse_code;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::orders::party::{NewParty, Party, PartyKind};
use crate::store;

/// A party as an import writes it (the staged row's data).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartyRecord {
    pub code: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub address: String,
    pub lead_time_days: Option<i32>,
    pub min_shelf_life_days: Option<i32>,
    pub active: bool,
}

impl From<&Party> for PartyRecord {
    fn from(p: &Party) -> Self {
        Self {
            code: p.code.clone(),
            name: p.name.clone(),
            email: p.email.clone(),
            phone: p.phone.clone(),
            address: p.address.clone(),
            lead_time_days: p.lead_time_days,
            min_shelf_life_days: p.min_shelf_life_days,
            active: p.active,
        }
    }
}

/// The columns of a party file of `kind`.
pub fn columns(kind: PartyKind) -> [&'static str; 7] {
    [
        "code",
        "name",
        "email",
        "phone",
        "address",
        kind.days_field(),
        "active",
    ]
}

/// Where each column of a party file is.
#[derive(Debug, Clone)]
pub struct PartyFile {
    kind: PartyKind,
    known: HashMap<&'static str, usize>,
}

impl PartyFile {
    fn cell<'a>(&self, cells: &'a [String], column: &str) -> Option<&'a str> {
        self.known.get(column).map(|i| cells[*i].as_str())
    }
}

/// A code as compared for duplicates.
fn code_key(raw: &str) -> String {
    parse_code(raw).unwrap_or_else(|_| raw.trim().to_uppercase())
}

/// The file-level checks of a party file: its columns and no code on two rows.
pub fn check_parties(kind: PartyKind, table: &Table) -> ApiResult<PartyFile> {
    let known = map_columns(&table.columns, &columns(kind), &["code", "name"])?;
    let file = PartyFile { kind, known };
    let mut seen: HashMap<String, u32> = HashMap::new();
    for row in &table.rows {
        let code = code_key(file.cell(&row.cells, "code").unwrap_or_default());
        if let Some(first) = seen.insert(code.clone(), row.row_no) {
            return Err(ApiError::ImportDuplicateKey(format!(
                "{} {code} is on rows {first} and {}",
                kind.as_str(),
                row.row_no
            )));
        }
    }
    Ok(file)
}

/// Validates rows against the tenant's parties of the file's kind.
pub(super) async fn validate_chunk(
    tx: &mut TenantTx,
    file: &PartyFile,
    rows: &[Row],
) -> ApiResult<Vec<StagedRow>> {
    let codes: Vec<String> = rows
        .iter()
        .map(|r| code_key(file.cell(&r.cells, "code").unwrap_or_default()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let existing: HashMap<String, Party> = store::parties::with_codes(tx, file.kind, &codes)
        .await?
        .into_iter()
        .map(|p| (p.code.clone(), p))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let row_no = i32::try_from(row.row_no).unwrap_or(i32::MAX);
        let before = existing.get(&code_key(file.cell(&row.cells, "code").unwrap_or_default()));
        out.push(match party_record(file, &row.cells, before) {
            Err(errors) => StagedRow::failed(row_no, errors),
            Ok(record) => {
                let action = match before {
                    None => Action::Create,
                    Some(b) if PartyRecord::from(b) == record => Action::Unchanged,
                    Some(_) => Action::Update,
                };
                let target = before.map_or_else(Uuid::now_v7, |b| b.id);
                StagedRow::valid(row_no, action, Some(target), &record)?
            }
        });
    }
    Ok(out)
}

/// One row as the party it makes, merged with `before`; or every failing cell.
fn party_record(
    file: &PartyFile,
    cells: &[String],
    before: Option<&Party>,
) -> Result<PartyRecord, Vec<CellError>> {
    let mut errors = Vec::new();
    let text = |column: &str, old: Option<&String>| {
        file.cell(cells, column)
            .map(str::to_owned)
            .or_else(|| old.cloned())
    };
    let [_, _, _, _, _, days_column, _] = columns(file.kind);
    let days = match file.cell(cells, days_column) {
        Some("") => None,
        Some(c) => match c.parse::<i32>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(cell_error(
                    days_column,
                    c,
                    &ApiError::BadRequest("expected a whole number of days".into()),
                ));
                None
            }
        },
        None => before.and_then(|b| match file.kind {
            PartyKind::Supplier => b.lead_time_days,
            PartyKind::Customer => b.min_shelf_life_days,
        }),
    };
    let active = match file.cell(cells, "active") {
        Some("") => true,
        Some(c) => parse_bool(c).unwrap_or_else(|e| {
            errors.push(cell_error("active", c, &e));
            true
        }),
        None => before.is_none_or(|b| b.active),
    };
    let new = NewParty {
        code: file.cell(cells, "code").unwrap_or_default().to_owned(),
        name: file.cell(cells, "name").unwrap_or_default().to_owned(),
        email: text("email", before.map(|b| &b.email)),
        phone: text("phone", before.map(|b| &b.phone)),
        address: text("address", before.map(|b| &b.address)),
        lead_time_days: days.filter(|_| file.kind == PartyKind::Supplier),
        min_shelf_life_days: days.filter(|_| file.kind == PartyKind::Customer),
    };
    let valid = match new.validate_fields(file.kind) {
        Ok(valid) => valid,
        Err(failed) => {
            for (column, e) in failed {
                let value = file.cell(cells, column).unwrap_or_default();
                errors.push(cell_error(column, value, &e));
            }
            return Err(errors);
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(PartyRecord {
        code: valid.code,
        name: valid.name,
        email: valid.email,
        phone: valid.phone,
        address: valid.address,
        lead_time_days: valid.lead_time_days,
        min_shelf_life_days: valid.min_shelf_life_days,
        active,
    })
}
