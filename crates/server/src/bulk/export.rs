//! Exports ([`Source`]): products as rows of the import's own columns, so an export
//! reads back as an import that changes nothing (tested); locations (parents before
//! their children), stock rows (the filters of `GET /v1/stock`), movements (those of
//! `GET /v1/movements`, newest first) and the audit log (newest first, before and after
//! as JSON) with their warehouse, bins, product, lot, user and device by name. Cells a
//! spreadsheet would read as a formula (beginning with `= + - @`) are written with a
//! leading `'` ([`formats::neutralise`]), which the import strips again.
//!
//! CSV is streamed a page at a time (memory bounded by [`EXPORT_PAGE_ROWS`]); XLSX is
//! built in memory by `rust_xlsxwriter`, bounded by the tenant's quotas.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_xlsxwriter::Workbook;
use uuid::Uuid;

use crate::audit::AuditEntry;
use crate::bulk::formats;
use crate::bulk::import::lots::LOT_COLUMNS;
use crate::bulk::import::parties;
use crate::bulk::import::{CUSTOM_PREFIX, PRODUCT_COLUMNS};
use crate::catalog::location::Location;
use crate::catalog::product::Product;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::orders::party::{Party, PartyKind, PartyQuery};
use crate::stock::row::StockItem;
use crate::store;
use crate::store::stock::{MovementFilter, MovementLine, StockFilter};

/// Rows read (and written out) per step of an export.
pub const EXPORT_PAGE_ROWS: i64 = 1_000;

/// The columns of a stock export.
pub const STOCK_COLUMNS: &[&str] = &[
    "warehouse",
    "location",
    "sku",
    "product_name",
    "lot",
    "expires_on",
    "on_hand",
    "allocated",
    "available",
    "last_counted_at",
];

/// The columns of a movements export.
pub const MOVEMENT_COLUMNS: &[&str] = &[
    "occurred_at",
    "recorded_at",
    "kind",
    "outcome",
    "warehouse",
    "sku",
    "product_name",
    "lot",
    "from_location",
    "to_location",
    "qty",
    "expected",
    "reason",
    "note",
    "user",
    "device",
    "reference_type",
    "reference_id",
    "movement_id",
];

/// The columns of a locations export.
pub const LOCATION_COLUMNS: &[&str] = &["warehouse", "path", "code", "name", "parent", "active"];

/// The columns of an audit log export.
pub const AUDIT_COLUMNS: &[&str] = &[
    "at",
    "action",
    "target_type",
    "target_id",
    "actor_type",
    "actor",
    "device",
    "before",
    "after",
    "request_id",
    "id",
];

/// What an export writes, and how far it got.
#[derive(Debug)]
pub enum Source {
    Products {
        /// The custom fields exported ([`custom_keys`]).
        keys: Vec<String>,
        /// The last product written.
        after: Option<Uuid>,
    },
    Stock {
        filter: StockFilter,
        /// Warehouse codes by id.
        warehouses: HashMap<Uuid, String>,
        /// The key of the last row written.
        after: Option<(Uuid, Uuid, Uuid)>,
    },
    /// Newest first, as the history lists them.
    Movements {
        filter: MovementFilter,
        /// The key of the last movement written.
        before: Option<(DateTime<Utc>, Uuid)>,
    },
    /// Oldest first (ids are UUIDv7, and a parent exists before its children).
    Locations {
        filter: store::locations::Filter,
        warehouses: HashMap<Uuid, String>,
        after: Option<Uuid>,
    },
    /// Suppliers or customers, oldest first, in the columns of their import.
    Parties {
        kind: PartyKind,
        after: Option<Uuid>,
    },
    /// Lots, oldest first, in the columns of their import (the product by SKU).
    Lots { after: Option<Uuid> },
    /// Newest first.
    Audit {
        filter: store::audit::Filter,
        /// Emails of users and names of devices by id.
        names: HashMap<Uuid, String>,
        before: Option<Uuid>,
    },
}

/// Every warehouse's code by id.
async fn warehouse_codes(tx: &mut TenantTx) -> ApiResult<HashMap<Uuid, String>> {
    Ok(store::warehouses::list(tx, None, None, i64::from(i32::MAX))
        .await?
        .into_iter()
        .map(|w| (w.id, w.code))
        .collect())
}

impl Source {
    /// Every product.
    pub async fn products(tx: &mut TenantTx) -> ApiResult<Self> {
        Ok(Self::Products {
            keys: custom_keys(tx).await?,
            after: None,
        })
    }

    /// The stock rows `filter` matches.
    pub async fn stock(tx: &mut TenantTx, filter: StockFilter) -> ApiResult<Self> {
        Ok(Self::Stock {
            filter,
            warehouses: warehouse_codes(tx).await?,
            after: None,
        })
    }

    /// The locations `filter` matches.
    pub async fn locations(tx: &mut TenantTx, filter: store::locations::Filter) -> ApiResult<Self> {
        Ok(Self::Locations {
            filter,
            warehouses: warehouse_codes(tx).await?,
            after: None,
        })
    }

    /// The audit entries `filter` matches.
    pub async fn audit(tx: &mut TenantTx, filter: store::audit::Filter) -> ApiResult<Self> {
        let all = i64::from(i32::MAX);
        let mut names: HashMap<Uuid, String> = store::users::list(tx, None, all)
            .await?
            .into_iter()
            .map(|u| (u.id, u.email))
            .collect();
        names.extend(
            store::devices::list(tx, None, all)
                .await?
                .into_iter()
                .map(|d| (d.id, d.name)),
        );
        Ok(Self::Audit {
            filter,
            names,
            before: None,
        })
    }

    /// Every supplier or customer.
    pub fn parties(kind: PartyKind) -> Self {
        Self::Parties { kind, after: None }
    }

    /// The movements `filter` matches.
    pub fn movements(filter: MovementFilter) -> Self {
        Self::Movements {
            filter,
            before: None,
        }
    }

    /// The file's and the sheet's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Parties {
                kind: PartyKind::Supplier,
                ..
            } => "suppliers",
            Self::Parties {
                kind: PartyKind::Customer,
                ..
            } => "customers",
            Self::Lots { .. } => "lots",
            Self::Products { .. } => "products",
            Self::Stock { .. } => "stock",
            Self::Movements { .. } => "movements",
            Self::Locations { .. } => "locations",
            Self::Audit { .. } => "audit",
        }
    }

    /// The header row.
    pub fn header(&self) -> Vec<String> {
        match self {
            Self::Products { keys, .. } => product_header(keys),
            Self::Stock { .. } => STOCK_COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
            Self::Movements { .. } => MOVEMENT_COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
            Self::Locations { .. } => LOCATION_COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
            Self::Audit { .. } => AUDIT_COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
            Self::Parties { kind, .. } => parties::columns(*kind)
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            Self::Lots { .. } => LOT_COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    /// The next page's rows, the position moved past them, and whether it was the last.
    ///
    /// Longer than 80 lines: one arm per export kind, each a keyset read and its
    /// position, side by side so that every kind pages the same way.
    pub async fn next_page(&mut self, tx: &mut TenantTx) -> ApiResult<(Vec<Vec<String>>, bool)> {
        let full = |n: usize| i64::try_from(n).unwrap_or(i64::MAX) >= EXPORT_PAGE_ROWS;
        match self {
            Self::Products { keys, after } => {
                let page = product_page(tx, *after).await?;
                *after = page.last().map(|p| p.id).or(*after);
                let rows = page.iter().map(|p| product_cells(p, keys)).collect();
                Ok((rows, !full(page.len())))
            }
            Self::Stock {
                filter,
                warehouses,
                after,
            } => {
                let page = store::stock::list_stock(tx, filter, *after, EXPORT_PAGE_ROWS).await?;
                if let Some(last) = page.last() {
                    *after = Some((
                        last.product_id,
                        last.location_id,
                        last.lot_id.unwrap_or(Uuid::nil()),
                    ));
                }
                let rows = page.iter().map(|s| stock_cells(s, warehouses)).collect();
                Ok((rows, !full(page.len())))
            }
            Self::Movements { filter, before } => {
                let page = store::stock::list_movement_lines(tx, filter, *before, EXPORT_PAGE_ROWS)
                    .await?;
                if let Some(last) = page.last() {
                    *before = Some((last.movement.occurred_at, last.movement.id));
                }
                let rows = page.iter().map(movement_cells).collect();
                Ok((rows, !full(page.len())))
            }
            Self::Locations {
                filter,
                warehouses,
                after,
            } => {
                let page = store::locations::list(tx, filter, *after, EXPORT_PAGE_ROWS).await?;
                *after = page.last().map(|l| l.id).or(*after);
                let rows = page.iter().map(|l| location_cells(l, warehouses)).collect();
                Ok((rows, !full(page.len())))
            }
            Self::Parties { kind, after } => {
                let page = store::parties::list(
                    tx,
                    *kind,
                    &PartyQuery::default(),
                    *after,
                    EXPORT_PAGE_ROWS,
                )
                .await?;
                *after = page.last().map(|p| p.id).or(*after);
                let rows = page.iter().map(party_cells).collect();
                Ok((rows, !full(page.len())))
            }
            Self::Lots { after } => {
                let page = store::lots::page_with_sku(tx, *after, EXPORT_PAGE_ROWS).await?;
                *after = page.last().map(|l| l.lot.id).or(*after);
                let rows = page
                    .iter()
                    .map(|l| {
                        neutralised([
                            l.sku.clone(),
                            l.lot.code.clone(),
                            l.lot.expires_on.map(|d| d.to_string()).unwrap_or_default(),
                        ])
                    })
                    .collect();
                Ok((rows, !full(page.len())))
            }
            Self::Audit {
                filter,
                names,
                before,
            } => {
                let page =
                    store::audit::list(tx, filter.clone(), *before, EXPORT_PAGE_ROWS).await?;
                *before = page.last().map(|e| e.id).or(*before);
                let rows = page.iter().map(|e| audit_cells(e, names)).collect();
                Ok((rows, !full(page.len())))
            }
        }
    }
}

/// Cells as written: a formula-looking one gets its leading `'`.
fn neutralised<const N: usize>(cells: [String; N]) -> Vec<String> {
    cells
        .iter()
        .map(|c| formats::neutralise(c).into_owned())
        .collect()
}

/// A supplier's or customer's cells, neutralised, in [`parties::columns`] order.
pub fn party_cells(p: &Party) -> Vec<String> {
    let days = match p.kind {
        PartyKind::Supplier => p.lead_time_days,
        PartyKind::Customer => p.min_shelf_life_days,
    };
    neutralised([
        p.code.clone(),
        p.name.clone(),
        p.email.clone(),
        p.phone.clone(),
        p.address.clone(),
        days.map(|d| d.to_string()).unwrap_or_default(),
        p.active.to_string(),
    ])
}

/// A location's cells, neutralised: its parent by path, so the file reads as a tree.
pub fn location_cells(l: &Location, warehouses: &HashMap<Uuid, String>) -> Vec<String> {
    neutralised([
        warehouses
            .get(&l.warehouse_id)
            .cloned()
            .unwrap_or_else(|| l.warehouse_id.to_string()),
        l.path.clone(),
        l.code.clone(),
        l.name.clone(),
        l.path
            .rsplit_once('/')
            .map(|(parent, _)| parent.to_owned())
            .unwrap_or_default(),
        l.active.to_string(),
    ])
}

/// An audit entry's cells, neutralised: the actor by email and the device by name when
/// they are known, before and after as compact JSON.
pub fn audit_cells(e: &AuditEntry, names: &HashMap<Uuid, String>) -> Vec<String> {
    let named = |id: Option<Uuid>| {
        id.map(|id| names.get(&id).cloned().unwrap_or_else(|| id.to_string()))
            .unwrap_or_default()
    };
    let json =
        |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    neutralised([
        e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        e.action.clone(),
        e.target_type.clone(),
        e.target_id.clone().unwrap_or_default(),
        e.actor_type.clone(),
        named(e.actor_id),
        named(e.device_id),
        json(&e.before),
        json(&e.after),
        e.request_id.clone().unwrap_or_default(),
        e.id.to_string(),
    ])
}

/// A movement's cells, neutralised.
pub fn movement_cells(line: &MovementLine) -> Vec<String> {
    let m = &line.movement;
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
    let cells = [
        time(m.occurred_at),
        time(m.recorded_at),
        m.kind.to_string(),
        m.outcome.to_string(),
        or_empty(&line.warehouse_code),
        line.sku.clone().unwrap_or_else(|| m.product_id.to_string()),
        or_empty(&line.product_name),
        or_empty(&line.lot_code),
        or_empty(&line.from_path),
        or_empty(&line.to_path),
        m.qty.to_string(),
        m.expected.map(|e| e.to_string()).unwrap_or_default(),
        or_empty(&m.reason),
        or_empty(&m.note),
        line.user_email
            .clone()
            .unwrap_or_else(|| m.user_id.to_string()),
        or_empty(&line.device_name),
        or_empty(&m.reference_type),
        m.reference_id.map(|r| r.to_string()).unwrap_or_default(),
        m.id.to_string(),
    ];
    neutralised(cells)
}

/// A stock row's cells, neutralised.
pub fn stock_cells(s: &StockItem, warehouses: &HashMap<Uuid, String>) -> Vec<String> {
    let cells = [
        warehouses
            .get(&s.warehouse_id)
            .cloned()
            .unwrap_or_else(|| s.warehouse_id.to_string()),
        s.location_path.clone(),
        s.sku.clone(),
        s.product_name.clone(),
        s.lot_code.clone().unwrap_or_default(),
        s.expires_on.map(|d| d.to_string()).unwrap_or_default(),
        s.on_hand.to_string(),
        s.allocated.to_string(),
        s.available.to_string(),
        s.last_count_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
    ];
    neutralised(cells)
}

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
