//! Importing locations: the columns of a location file (those of its export, so an
//! export reads back as an import that changes nothing), its file-level checks and each
//! row's validation.
//!
//! A row is one location, keyed by its warehouse (by code) and its `path` (the codes from
//! the root joined by `/`, e.g. `Z1/A-01-1`). `code` and `parent`, which the export
//! writes, may be given and must then agree with the path; `name` and `active` are the
//! fields an import sets (absent columns leave an existing location's as they are; a new
//! one gets an empty name and is active). A path not in the warehouse creates the
//! location under its parent, which is either in the warehouse already or created by
//! another row of the file (rows may come in any order: parents are written first).
//!
//! The location tree's rules hold as for one location (`catalog::service`): codes are
//! unique per warehouse, so a code already used at another path is refused (a location
//! never moves); a parent holding stock gets no children; at most
//! [`LOCATION_DEPTH_MAX`] + 1 levels. Warehouses are not created by an import.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::{Action, CellError, StagedRow, cell_error, map_columns, parse_bool};
use crate::bulk::export::LOCATION_COLUMNS;
use crate::bulk::formats::{Row, Table};
use crate::catalog::location::{LOCATION_DEPTH_MAX, Location, validate_location_name};
use crate::catalog::warehouse::parse_code;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::store;

/// A location as an import writes it (the staged row's data).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LocationRecord {
    pub warehouse_id: Uuid,
    pub path: String,
    pub code: String,
    /// Empty at the top level.
    pub parent_path: String,
    pub depth: i32,
    pub name: String,
    pub active: bool,
}

/// Where each column of a location file is, and the paths the file holds (by warehouse
/// code, normalized), so that a row's parent may be another row.
#[derive(Debug, Clone, Default)]
pub struct LocationFile {
    known: HashMap<&'static str, usize>,
    paths: HashSet<(String, String)>,
}

impl LocationFile {
    fn cell<'a>(&self, cells: &'a [String], column: &str) -> Option<&'a str> {
        self.known.get(column).map(|i| cells[*i].as_str())
    }
}

/// A path as typed, each part a location code (upper case), joined by `/`.
fn parse_path(raw: &str) -> ApiResult<Vec<String>> {
    if raw.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "give the location's path, e.g. Z1/A-01-1".into(),
        ));
    }
    raw.split('/').map(parse_code).collect()
}

/// A path as compared for duplicates: normalized when it parses, else as typed in upper
/// case (its row fails validation anyway).
fn path_key(raw: &str) -> String {
    parse_path(raw)
        .map(|p| p.join("/"))
        .unwrap_or_else(|_| raw.trim().to_uppercase())
}

/// The file-level checks of a location file: its columns, and no location (warehouse and
/// path) or code of a warehouse on two rows.
pub fn check_locations(table: &Table) -> ApiResult<LocationFile> {
    let mut file = LocationFile {
        known: map_columns(&table.columns, LOCATION_COLUMNS, &["warehouse", "path"])?,
        paths: HashSet::new(),
    };
    let mut codes: HashMap<(String, String), u32> = HashMap::new();
    let mut paths: HashMap<(String, String), u32> = HashMap::new();
    for row in &table.rows {
        let warehouse = file
            .cell(&row.cells, "warehouse")
            .unwrap_or_default()
            .to_uppercase();
        let path = path_key(file.cell(&row.cells, "path").unwrap_or_default());
        let code = path.rsplit('/').next().unwrap_or_default().to_owned();
        if let Some(first) = paths.insert((warehouse.clone(), path.clone()), row.row_no) {
            return Err(ApiError::ImportDuplicateKey(format!(
                "location {path} of warehouse {warehouse} is on rows {first} and {}",
                row.row_no
            )));
        }
        if let Some(first) = codes.insert((warehouse.clone(), code.clone()), row.row_no) {
            return Err(ApiError::ImportDuplicateKey(format!(
                "code {code} is on rows {first} and {} of warehouse {warehouse}; codes are unique per warehouse",
                row.row_no
            )));
        }
    }
    file.paths = paths.into_keys().collect();
    Ok(file)
}

/// A row as read: its warehouse (by code) and its path's parts.
struct Parsed<'a> {
    row: &'a Row,
    warehouse: Option<(Uuid, String)>,
    parts: Option<Vec<String>>,
}

/// Validates rows against the tenant's warehouses and location trees.
///
/// Longer than 80 lines: it reads what the chunk's rows name in as few queries as it can
/// (warehouses, then the locations and parents of all rows, then each new parent's stock
/// once), then stages the rows in order; the reads serve the staging below them.
pub(super) async fn validate_chunk(
    tx: &mut TenantTx,
    file: &LocationFile,
    rows: &[Row],
) -> ApiResult<Vec<StagedRow>> {
    let warehouses = store::warehouses::ids_by_code(tx).await?;
    let parsed: Vec<Parsed<'_>> = rows
        .iter()
        .map(|row| {
            let code = file
                .cell(&row.cells, "warehouse")
                .unwrap_or_default()
                .trim()
                .to_uppercase();
            Parsed {
                row,
                warehouse: warehouses.get(&code).map(|id| (*id, code)),
                parts: parse_path(file.cell(&row.cells, "path").unwrap_or_default()).ok(),
            }
        })
        .collect();
    // The locations of the chunk's warehouses with the rows' codes or their parents'.
    let mut wanted: HashMap<Uuid, HashSet<String>> = HashMap::new();
    for p in &parsed {
        if let (Some((w, _)), Some(parts)) = (&p.warehouse, &p.parts) {
            let codes = wanted.entry(*w).or_default();
            codes.extend(parts.iter().rev().take(2).cloned());
        }
    }
    let mut existing: HashMap<(Uuid, String), Location> = HashMap::new();
    for (w, codes) in wanted {
        let codes: Vec<String> = codes.into_iter().collect();
        for l in store::locations::with_codes(tx, w, &codes).await? {
            existing.insert((w, l.code.clone()), l);
        }
    }
    let mut stocked: HashMap<Uuid, bool> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for p in parsed {
        let row_no = i32::try_from(p.row.row_no).unwrap_or(i32::MAX);
        let staged = match location_record(file, &p, &existing) {
            Err(errors) => StagedRow::failed(row_no, errors),
            Ok((record, Some(before))) => {
                let action = if before.name == record.name && before.active == record.active {
                    Action::Unchanged
                } else {
                    Action::Update
                };
                StagedRow::valid(row_no, action, Some(before.id), &record)?
            }
            Ok((record, None)) => {
                let parent = record
                    .parent_path
                    .rsplit('/')
                    .next()
                    .and_then(|code| existing.get(&(record.warehouse_id, code.to_owned())));
                let holds_stock = match parent {
                    Some(parent) => match stocked.get(&parent.id) {
                        Some(known) => *known,
                        None => {
                            let holds = store::locations::holds_stock(tx, parent.id).await?;
                            stocked.insert(parent.id, holds);
                            holds
                        }
                    },
                    None => false,
                };
                if holds_stock {
                    StagedRow::failed(
                        row_no,
                        vec![cell_error(
                            "path",
                            &record.path,
                            &ApiError::LocationHasStock,
                        )],
                    )
                } else {
                    StagedRow::valid(row_no, Action::Create, Some(Uuid::now_v7()), &record)?
                }
            }
        };
        out.push(staged);
    }
    Ok(out)
}

/// One row as the location it makes or changes (with the existing one), or every
/// failing cell.
///
/// Longer than 80 lines: one check per column, in the file's column order, each adding
/// its failing cell, so that a row reports every error at once.
fn location_record<'a>(
    file: &LocationFile,
    p: &Parsed<'_>,
    existing: &'a HashMap<(Uuid, String), Location>,
) -> Result<(LocationRecord, Option<&'a Location>), Vec<CellError>> {
    let cells = &p.row.cells;
    let mut errors = Vec::new();
    let raw = |column| file.cell(cells, column).unwrap_or_default();
    if p.warehouse.is_none() {
        errors.push(cell_error(
            "warehouse",
            raw("warehouse"),
            &ApiError::ReferenceNotFound(format!(
                "no warehouse with code {:?}; create it first",
                raw("warehouse")
            )),
        ));
    }
    let parts = match parse_path(raw("path")) {
        Ok(parts) => Some(parts),
        Err(e) => {
            errors.push(cell_error("path", raw("path"), &e));
            None
        }
    };
    let name = match file.cell(cells, "name").map(validate_location_name) {
        Some(Err(e)) => {
            errors.push(cell_error("name", raw("name"), &e));
            None
        }
        Some(Ok(name)) => Some(name),
        None => None,
    };
    let active = match file.cell(cells, "active").filter(|c| !c.is_empty()) {
        Some(c) => match parse_bool(c) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(cell_error("active", c, &e));
                None
            }
        },
        None if file.known.contains_key("active") => Some(true),
        None => None,
    };
    let (Some((warehouse_id, warehouse_code)), Some(parts)) = (&p.warehouse, parts) else {
        return Err(errors);
    };
    let path = parts.join("/");
    let code = parts[parts.len() - 1].clone();
    let parent_path = parts[..parts.len() - 1].join("/");
    let depth = i32::try_from(parts.len() - 1).unwrap_or(i32::MAX);
    if let Some(c) = file.cell(cells, "code").filter(|c| !c.is_empty())
        && parse_code(c).ok().as_deref() != Some(code.as_str())
    {
        errors.push(cell_error(
            "code",
            c,
            &ApiError::BadRequest(format!("the code must be the path's last part, {code}")),
        ));
    }
    if let Some(c) = file.cell(cells, "parent").filter(|c| !c.is_empty())
        && path_key(c) != parent_path
    {
        errors.push(cell_error(
            "parent",
            c,
            &ApiError::BadRequest(format!(
                "the parent must be the path without its last part, {parent_path:?}"
            )),
        ));
    }
    if depth > LOCATION_DEPTH_MAX {
        errors.push(cell_error(
            "path",
            &path,
            &ApiError::BadRequest(format!(
                "locations nest at most {} levels deep",
                LOCATION_DEPTH_MAX + 1
            )),
        ));
    }
    let before = existing.get(&(*warehouse_id, code.clone()));
    match before {
        Some(b) if b.path != path => errors.push(cell_error(
            "path",
            &path,
            &ApiError::Conflict(format!(
                "code {code} is the location {} of this warehouse; a location never moves, so give this one another code",
                b.path
            )),
        )),
        None if depth > 0 => {
            let parent_code = parts[parts.len() - 2].clone();
            let in_catalog = existing
                .get(&(*warehouse_id, parent_code))
                .is_some_and(|l| l.path == parent_path);
            let in_file = file
                .paths
                .contains(&(warehouse_code.clone(), parent_path.clone()));
            if !in_catalog && !in_file {
                errors.push(cell_error(
                    "path",
                    &path,
                    &ApiError::ReferenceNotFound(format!(
                        "the parent {parent_path} is neither in warehouse {warehouse_code} nor in the file"
                    )),
                ));
            }
        }
        _ => {}
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let record = LocationRecord {
        warehouse_id: *warehouse_id,
        name: name.unwrap_or_else(|| before.map(|b| b.name.clone()).unwrap_or_default()),
        active: active.unwrap_or_else(|| before.is_none_or(|b| b.active)),
        path,
        code,
        parent_path,
        depth,
    };
    Ok((record, before))
}
