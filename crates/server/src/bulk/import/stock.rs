//! Importing opening stock (`kind=stock`): each row becomes one movement, so the ledger
//! explains every unit from the first day, decided by `crates/core` under the rows'
//! locks like any other movement.
//!
//! Columns: `warehouse` (code), `location` (its code, or its path as the stock export
//! writes it), `sku`, `lot` (required exactly for lot-tracked products; the lot must
//! exist: import lots first), the quantity as `qty` (or `on_hand`, the stock export's
//! column), `mode` and `reason`. A stock export's other columns (`product_name`,
//! `expires_on`, `allocated`, `available`, `last_counted_at`) are read and ignored, so a
//! stock export imports back unchanged.
//!
//! - `mode=count` (the default): "this bin holds `qty`": a count, which the count rule
//!   turns into the adjustment that makes it so. A row whose bin already holds `qty` is
//!   unchanged and writes nothing.
//! - `mode=receipt`: `qty` received into the bin. A receipt row is identified by what it
//!   says (warehouse, bin, product, lot, quantity, reason): the same row imported again
//!   is unchanged, so importing a file twice never receives it twice; to receive the same
//!   quantity again, give it another reason.
//!
//! The `reason` is the movement's note (default: "opening stock"). The commit writes
//! every movement or none: if the rules refuse one at commit (its bin deactivated since
//! the preview, say), the import is refused with the row and the reason.

use std::collections::{HashMap, HashSet};

use chrono::{SubsecRound, Utc};
use logiflow_core::{
    Decision, LocationId, LotId, Movement, MovementId, MovementKind, Origin, Outcome, PositiveQty,
    ProductId, Qty, StockKey, UserId, WarehouseId,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Action, CellError, ImportJob, StagedRow, cell_error, map_columns};
use crate::access::Principal;
use crate::bulk::formats::{Row, Table};
use crate::catalog::lot::Lot;
use crate::catalog::product::{Product, parse_sku};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{load, write};
use crate::stock::movement::MovementView;
use crate::store;

/// The columns of a stock file: what it says, then the stock export's columns that are
/// read and ignored.
pub const STOCK_IMPORT_COLUMNS: [&str; 13] = [
    "warehouse",
    "location",
    "sku",
    "lot",
    "qty",
    "on_hand",
    "mode",
    "reason",
    "product_name",
    "expires_on",
    "allocated",
    "available",
    "last_counted_at",
];

/// The note of a row without a reason.
pub const DEFAULT_REASON: &str = "opening stock";

/// The longest reason.
pub const REASON_LEN_MAX: usize = 200;

/// What a row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The bin holds `qty`.
    Count,
    /// `qty` received into the bin.
    Receipt,
}

/// A row as staged: the movement it makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockRecord {
    pub warehouse_id: Uuid,
    pub location_id: Uuid,
    pub product_id: Uuid,
    pub lot_id: Option<Uuid>,
    pub mode: Mode,
    pub qty: i64,
    pub reason: String,
}

impl StockRecord {
    fn key(&self) -> StockKey {
        StockKey {
            product: ProductId::from_uuid(self.product_id),
            location: LocationId::from_uuid(self.location_id),
            lot: self.lot_id.map(LotId::from_uuid),
        }
    }

    /// A receipt's movement id: the same row of the same tenant always gets the same
    /// one, so a receipt already imported is found.
    fn receipt_id(&self, tenant: Uuid) -> Uuid {
        let mut h = Sha256::new();
        h.update(b"logiflow opening receipt\0");
        for id in [
            Some(tenant),
            Some(self.warehouse_id),
            Some(self.location_id),
            Some(self.product_id),
            self.lot_id,
        ] {
            h.update(id.unwrap_or_default().as_bytes());
        }
        h.update(self.qty.to_be_bytes());
        h.update(self.reason.as_bytes());
        let digest = h.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }
}

/// Where each column of a stock file is.
#[derive(Debug, Clone, Default)]
pub struct StockFile {
    known: HashMap<&'static str, usize>,
    /// `qty`, or `on_hand` in a stock export.
    qty_column: &'static str,
}

impl StockFile {
    fn cell<'a>(&self, cells: &'a [String], column: &str) -> Option<&'a str> {
        self.known.get(column).map(|i| cells[*i].as_str())
    }

    /// The row's (warehouse, location code, SKU, lot) as compared for duplicates.
    fn key(&self, cells: &[String]) -> (String, String, String, String) {
        let text = |c: &str| self.cell(cells, c).unwrap_or_default().trim().to_owned();
        let sku = text("sku");
        (
            text("warehouse").to_uppercase(),
            location_code(&text("location")),
            parse_sku(&sku).unwrap_or_else(|_| sku.to_uppercase()),
            text("lot"),
        )
    }
}

/// The code of a location cell: the last part of a path (`A/03/B2` → `B2`), upper case.
fn location_code(cell: &str) -> String {
    cell.trim()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim()
        .to_uppercase()
}

/// The file-level checks of a stock file: its columns (one quantity column) and no bin,
/// product and lot on two rows.
pub fn check_stock(table: &Table) -> ApiResult<StockFile> {
    let known = map_columns(
        &table.columns,
        &STOCK_IMPORT_COLUMNS,
        &["warehouse", "location", "sku"],
    )?;
    let qty_column = match (known.contains_key("qty"), known.contains_key("on_hand")) {
        (true, false) => "qty",
        (false, true) => "on_hand",
        (true, true) => {
            return Err(ApiError::ImportColumns(
                "give the quantity once: qty or on_hand, not both".into(),
            ));
        }
        (false, false) => {
            return Err(ApiError::ImportColumns(
                "the required column \"qty\" is missing".into(),
            ));
        }
    };
    let file = StockFile { known, qty_column };
    let mut seen: HashMap<(String, String, String, String), u32> = HashMap::new();
    for row in &table.rows {
        let key = file.key(&row.cells);
        if let Some(first) = seen.insert(key.clone(), row.row_no) {
            let lot = if key.3.is_empty() {
                String::new()
            } else {
                format!(" lot {}", key.3)
            };
            return Err(ApiError::ImportDuplicateKey(format!(
                "{}{lot} in {} {} is on rows {first} and {}; give each bin, product and lot once",
                key.2, key.0, key.1, row.row_no
            )));
        }
    }
    Ok(file)
}

/// What a chunk's rows refer to.
struct Refs {
    warehouses: HashMap<String, Uuid>,
    locations: HashMap<(Uuid, String), crate::catalog::location::Location>,
    /// Locations with children: stock is held in bins.
    parents: HashSet<Uuid>,
    products: HashMap<String, Product>,
    lots: HashMap<(Uuid, String), Lot>,
}

/// Validates rows against the tenant's warehouses, bins, products, lots and stock.
///
/// Longer than 80 lines: it reads what the chunk's rows name in as few queries as it can
/// (warehouses, bins, products, lots, stock rows), then stages the rows in order; the
/// reads serve the staging below them.
pub(super) async fn validate_chunk(
    tx: &mut TenantTx,
    file: &StockFile,
    rows: &[Row],
) -> ApiResult<Vec<StagedRow>> {
    let tenant = tx.tenant_id().as_uuid();
    let warehouses = store::warehouses::ids_by_code(tx).await?;
    let keys: Vec<_> = rows.iter().map(|r| file.key(&r.cells)).collect();
    let mut codes: HashMap<Uuid, HashSet<String>> = HashMap::new();
    for (w, code, _, _) in &keys {
        if let Some(id) = warehouses.get(w) {
            codes.entry(*id).or_default().insert(code.clone());
        }
    }
    let mut locations = HashMap::new();
    for (w, codes) in codes {
        let codes: Vec<String> = codes.into_iter().collect();
        for l in store::locations::with_codes(tx, w, &codes).await? {
            locations.insert((w, l.code.clone()), l);
        }
    }
    let ids: Vec<Uuid> = locations.values().map(|l| l.id).collect();
    let parents = store::locations::with_children(tx, &ids)
        .await?
        .into_iter()
        .collect();
    let skus: Vec<String> = keys.iter().map(|k| k.2.clone()).collect();
    let products: HashMap<String, Product> = store::products::by_skus(tx, &skus)
        .await?
        .into_iter()
        .map(|p| (p.sku.clone(), p))
        .collect();
    let tracked: Vec<Uuid> = products
        .values()
        .filter(|p| p.lot_tracked)
        .map(|p| p.id)
        .collect();
    let lots = store::lots::of_products(tx, &tracked)
        .await?
        .into_iter()
        .map(|l| ((l.product_id, l.code.clone()), l))
        .collect();
    let refs = Refs {
        warehouses,
        locations,
        parents,
        products,
        lots,
    };

    let parsed: Vec<(&Row, Result<StockRecord, Vec<CellError>>)> = rows
        .iter()
        .map(|row| (row, stock_record(file, &row.cells, &refs)))
        .collect();
    let records: Vec<&StockRecord> = parsed.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
    let on_hand =
        store::stock::on_hand_of(tx, &records.iter().map(|r| r.key()).collect::<Vec<_>>()).await?;
    let receipt_ids: Vec<Uuid> = records
        .iter()
        .filter(|r| r.mode == Mode::Receipt)
        .map(|r| r.receipt_id(tenant))
        .collect();
    let received: HashSet<Uuid> = store::stock::existing_movements(tx, &receipt_ids)
        .await?
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for (row, parsed) in parsed {
        let row_no = i32::try_from(row.row_no).unwrap_or(i32::MAX);
        out.push(match parsed {
            Err(errors) => StagedRow::failed(row_no, errors),
            Ok(record) => {
                let (action, target) = match record.mode {
                    Mode::Count => match on_hand.get(&record.key()) {
                        Some(held) if *held == record.qty => (Action::Unchanged, None),
                        None if record.qty == 0 => (Action::Unchanged, None),
                        Some(_) => (Action::Update, None),
                        None => (Action::Create, None),
                    },
                    Mode::Receipt => {
                        let id = record.receipt_id(tenant);
                        if received.contains(&id) {
                            (Action::Unchanged, Some(id))
                        } else {
                            (Action::Create, Some(id))
                        }
                    }
                };
                StagedRow::valid(row_no, action, target, &record)?
            }
        });
    }
    Ok(out)
}

/// One row as the movement it makes, or every failing cell.
///
/// Longer than 80 lines: one check per column, in the file's column order, each adding
/// its failing cell, so that a row reports every error at once.
fn stock_record(
    file: &StockFile,
    cells: &[String],
    refs: &Refs,
) -> Result<StockRecord, Vec<CellError>> {
    let mut errors = Vec::new();
    let raw = |c: &str| file.cell(cells, c).unwrap_or_default();
    let (w_code, l_code, sku, lot_code) = file.key(cells);

    let warehouse = refs.warehouses.get(&w_code).copied();
    if warehouse.is_none() {
        errors.push(cell_error(
            "warehouse",
            raw("warehouse"),
            &ApiError::ReferenceNotFound(format!("no warehouse with code {w_code:?}")),
        ));
    }
    let location = warehouse.and_then(|w| refs.locations.get(&(w, l_code.clone())));
    let path = raw("location").trim().to_uppercase();
    match (warehouse, location) {
        (Some(_), None) => errors.push(cell_error(
            "location",
            raw("location"),
            &ApiError::ReferenceNotFound(format!(
                "no location {l_code:?} in {w_code}; import the locations first"
            )),
        )),
        (Some(_), Some(l)) if path.contains('/') && l.path != path => errors.push(cell_error(
            "location",
            raw("location"),
            &ApiError::BadRequest(format!("{} is at {}, not at {path}", l.code, l.path)),
        )),
        (Some(_), Some(l)) if refs.parents.contains(&l.id) => errors.push(cell_error(
            "location",
            raw("location"),
            &ApiError::BadRequest(format!(
                "{} has locations under it; stock is held in the bins at the bottom of the tree",
                l.code
            )),
        )),
        (Some(_), Some(l)) if !l.active => errors.push(cell_error(
            "location",
            raw("location"),
            &ApiError::BadRequest(format!("{} is deactivated", l.code)),
        )),
        _ => {}
    }

    let product = refs.products.get(&sku);
    match product {
        None => errors.push(cell_error(
            "sku",
            raw("sku"),
            &ApiError::ReferenceNotFound(format!("no product with SKU {sku:?}; import it first")),
        )),
        Some(p) if !p.active => errors.push(cell_error(
            "sku",
            raw("sku"),
            &ApiError::BadRequest(format!("{} is deactivated", p.sku)),
        )),
        Some(_) => {}
    }
    let lot = match product {
        Some(p) if p.lot_tracked && lot_code.is_empty() => {
            errors.push(cell_error(
                "lot",
                "",
                &ApiError::BadRequest(format!("{} is tracked by lot: name the lot", p.sku)),
            ));
            None
        }
        Some(p) if p.lot_tracked => match refs.lots.get(&(p.id, lot_code.clone())) {
            Some(l) => Some(l.id),
            None => {
                errors.push(cell_error(
                    "lot",
                    &lot_code,
                    &ApiError::ReferenceNotFound(format!(
                        "{} has no lot {lot_code:?}; import the lots first",
                        p.sku
                    )),
                ));
                None
            }
        },
        Some(_) if !lot_code.is_empty() => {
            errors.push(cell_error(
                "lot",
                &lot_code,
                &ApiError::ProductNotLotTracked,
            ));
            None
        }
        _ => None,
    };

    let mode = match raw("mode").trim().to_lowercase().as_str() {
        "" | "count" => Some(Mode::Count),
        "receipt" | "receive" => Some(Mode::Receipt),
        _ => {
            errors.push(cell_error(
                "mode",
                raw("mode"),
                &ApiError::BadRequest("expected count or receipt".into()),
            ));
            None
        }
    };
    let qty_raw = raw(file.qty_column).trim();
    let qty = match (qty_raw.parse::<i64>(), mode) {
        (Ok(q), Some(Mode::Receipt)) => PositiveQty::new(q)
            .map(|q| q.get())
            .map_err(|e| e.to_string()),
        (Ok(q), _) => Qty::new(q).map(|q| q.get()).map_err(|e| e.to_string()),
        (Err(_), _) => Err("expected a whole number of units".to_owned()),
    }
    .map_err(|message| {
        errors.push(cell_error(
            file.qty_column,
            qty_raw,
            &ApiError::BadRequest(message),
        ))
    })
    .ok();
    let reason = raw("reason").trim();
    if reason.chars().count() > REASON_LEN_MAX {
        errors.push(cell_error(
            "reason",
            reason,
            &ApiError::BadRequest(format!("a reason has at most {REASON_LEN_MAX} characters")),
        ));
    }

    match (warehouse, location, product, mode, qty) {
        (Some(warehouse_id), Some(location), Some(product), Some(mode), Some(qty))
            if errors.is_empty() =>
        {
            Ok(StockRecord {
                warehouse_id,
                location_id: location.id,
                product_id: product.id,
                lot_id: lot,
                mode,
                qty,
                reason: if reason.is_empty() {
                    DEFAULT_REASON.to_owned()
                } else {
                    reason.to_owned()
                },
            })
        }
        _ => Err(errors),
    }
}

/// A movement the commit wrote that may wake held movements of its product or serve its
/// back-orders (after the commit: `crate::journal::retry_held`,
/// `crate::orders::sales::serve_back_orders`).
#[derive(Debug, Clone)]
pub struct Raised {
    pub movement: Movement,
    pub decision: Decision,
    /// Its product has held movements.
    pub held: bool,
}

/// Creates the stock rows a job's movements need that do not exist yet, empty (see
/// [`super::prepare`]).
pub async fn prepare_rows(tx: &mut TenantTx, job_id: Uuid) -> ApiResult<()> {
    let records = staged(tx, job_id).await?;
    let rows: Vec<(StockKey, WarehouseId)> = records
        .iter()
        .map(|(_, _, r)| (r.key(), WarehouseId::from_uuid(r.warehouse_id)))
        .collect();
    store::movements::ensure_rows(tx, &rows).await?;
    Ok(())
}

/// The staged rows to write: (row number, receipt id, record).
async fn staged(
    tx: &mut TenantTx,
    job_id: Uuid,
) -> ApiResult<Vec<(i32, Option<Uuid>, StockRecord)>> {
    store::imports::to_write(tx, job_id)
        .await?
        .into_iter()
        .map(|(row, target, data)| {
            let record: StockRecord = serde_json::from_value(data).map_err(ApiError::internal)?;
            Ok((row, target, record))
        })
        .collect()
}

/// Writes a stock job: each row's movement decided by the rules under the rows' locks,
/// in row order, all of them or none. Counts whose bin holds the counted quantity by
/// now, and receipts already written, are left out.
///
/// Longer than 80 lines: locking, deciding and writing every row's movement is one
/// transaction whose steps follow the online path's order (`ledger::load`, core's
/// decision, `ledger::write`); split, the locks' scope would no longer be visible in one
/// place.
pub async fn apply(
    tx: &mut TenantTx,
    principal: &Principal,
    job: &ImportJob,
) -> ApiResult<Vec<Raised>> {
    let records = staged(tx, job.id).await?;
    let receipts: Vec<Uuid> = records.iter().filter_map(|(_, t, _)| *t).collect();
    let done: HashSet<Uuid> = store::stock::existing_movements(tx, &receipts)
        .await?
        .into_iter()
        .collect();
    let user = UserId::from_uuid(principal.accountable_user());
    let now = Utc::now().trunc_subsecs(6);
    let mut movements: Vec<(i32, Movement, &str)> = Vec::with_capacity(records.len());
    for (row, target, r) in &records {
        let (id, kind) = match r.mode {
            Mode::Receipt => {
                let Some(id) = target.filter(|id| !done.contains(id)) else {
                    continue;
                };
                let qty = PositiveQty::new(r.qty).map_err(ApiError::internal)?;
                (
                    id,
                    MovementKind::Receive {
                        to: r.key().location,
                        qty,
                    },
                )
            }
            Mode::Count => {
                let counted = Qty::new(r.qty).map_err(ApiError::internal)?;
                (
                    Uuid::now_v7(),
                    MovementKind::Count {
                        at: r.key().location,
                        counted,
                        expected: None,
                    },
                )
            }
        };
        movements.push((
            *row,
            Movement {
                id: MovementId::from_uuid(id),
                occurred_at: now,
                product: r.key().product,
                lot: r.key().lot,
                kind,
                user,
                device: None,
                reference: None,
            },
            r.reason.as_str(),
        ));
    }
    if movements.is_empty() {
        return Ok(Vec::new());
    }
    let mut keys: Vec<StockKey> = movements.iter().flat_map(|(_, m, _)| m.keys()).collect();
    keys.sort();
    keys.dedup();
    let locked = load::lock_rows(tx, &keys).await?;
    if locked.len() != keys.len() {
        return Err(ApiError::InvalidImportState(
            "the stock rows of the import changed while it was committed; commit it again".into(),
        ));
    }
    let only: Vec<Movement> = movements.iter().map(|(_, m, _)| *m).collect();
    let facts = load::load_facts(tx, &only).await?;
    let oldest = only
        .iter()
        .map(Movement::order_key)
        .min()
        .ok_or_else(|| ApiError::internal("no movement"))?;
    let tail = load::tail_after(tx, &locked, oldest).await?;
    let mut engine = load::loaded_engine(&locked, &tail, &[]);
    facts.prime(&mut engine);

    let mut decided: Vec<(i32, Movement, Decision, &str)> = Vec::with_capacity(movements.len());
    for (row, m, note) in &movements {
        // A count the bin already matches writes nothing.
        if let MovementKind::Count { counted, .. } = m.kind
            && m.keys()
                .iter()
                .all(|k| engine.row(k).on_hand == counted.get())
        {
            continue;
        }
        let (m, decision) = load::decide_online(&mut engine, m, &facts)?;
        if let Outcome::Rejected(rejection) = &decision.outcome {
            return Err(ApiError::InvalidImportState(format!(
                "row {row} is refused now: {}; nothing was imported, fix the file and upload it again",
                rejection.message
            )));
        }
        decided.push((*row, m, decision, note));
    }
    if decided.is_empty() {
        return Ok(Vec::new());
    }
    let triples: Vec<(Movement, Decision, bool)> = decided
        .iter()
        .map(|(_, m, d, _)| (*m, d.clone(), true))
        .collect();
    let rows = load::changed_rows(&engine, &locked, &triples);
    let picks = engine.allocation_changes();
    let recorded_at = Utc::now().trunc_subsecs(6);
    let mut writes = write::Writes {
        rows: &rows,
        allocated: &picks.rows,
        held_of: decided
            .iter()
            .map(|(_, m, _, _)| m.product.as_uuid())
            .collect(),
        ..write::Writes::default()
    };
    for (_, m, d, note) in &decided {
        let at = recorded_at.max(m.occurred_at);
        let view = MovementView::new(m, Origin::Online, d, Some((*note).to_owned()), at);
        writes.new.push(write::NewMovement {
            movement: m,
            decision: d,
            origin: Origin::Online,
            user_id: principal.accountable_user(),
            note: Some(note),
            recorded_at: Some(at),
        });
        writes.events.push(write::Event {
            topic: "movement.recorded",
            payload: serde_json::to_value(&view).map_err(ApiError::internal)?,
        });
    }
    let held = write::write(tx, &writes).await?.held_products;
    write::allocations(tx, &picks, &rows).await?;
    drop(writes);
    Ok(decided
        .into_iter()
        .filter(|(_, _, d, _)| !d.wakes.is_empty())
        .map(|(_, m, d, _)| Raised {
            held: held.contains(&m.product.as_uuid()),
            movement: m,
            decision: d,
        })
        .collect())
}
