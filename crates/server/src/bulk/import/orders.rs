//! Importing order lines (`kind=purchase_orders`, `kind=sales_orders`): each row a line,
//! the rows of one `reference` (the order's number in the system the file comes from)
//! one draft order, created at commit by the orders' own `create` (numbers, checks,
//! audit, events, the devices' feed).
//!
//! Columns: `reference`, the party by code (`supplier` or `customer`), `warehouse` by
//! code, the date (`expected_on`, optional, or `requested_on`, required), `priority`
//! (sales: `low`, `normal`, `high` or `urgent`; default normal), `notes`, then the
//! line: `sku`, `qty`, and `unit_cost` or `unit_price` (default 0). The order's cells
//! must read the same on each of its rows. An order whose reference was imported before
//! is unchanged (it is never imported twice, whatever became of it since).

use std::collections::HashMap;

use chrono::NaiveDate;
use logiflow_core::orders::Priority;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Action, CellError, ImportJob, StagedRow, cell_error, map_columns};
use crate::access::Principal;
use crate::bulk::formats::{Row, Table};
use crate::catalog::product::{Product, parse_sku, validate_money};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::orders::party::PartyKind;
use crate::orders::purchase::{LINES_MAX, NewLine, NewPurchaseOrder};
use crate::orders::sales::{NewSalesLine, NewSalesOrder};
use crate::store;

/// The longest reference.
pub const REFERENCE_LEN_MAX: usize = 64;

/// Which orders a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Purchase,
    Sales,
}

impl Side {
    fn party(self) -> PartyKind {
        match self {
            Side::Purchase => PartyKind::Supplier,
            Side::Sales => PartyKind::Customer,
        }
    }

    fn party_column(self) -> &'static str {
        match self {
            Side::Purchase => "supplier",
            Side::Sales => "customer",
        }
    }

    fn date_column(self) -> &'static str {
        match self {
            Side::Purchase => "expected_on",
            Side::Sales => "requested_on",
        }
    }

    fn price_column(self) -> &'static str {
        match self {
            Side::Purchase => "unit_cost",
            Side::Sales => "unit_price",
        }
    }

    /// The stored name, as `imported_order.kind` and the job's kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Purchase => "purchase_orders",
            Side::Sales => "sales_orders",
        }
    }

    fn columns(self) -> Vec<&'static str> {
        let mut c = vec![
            "reference",
            self.party_column(),
            "warehouse",
            self.date_column(),
            "notes",
            "sku",
            "qty",
            self.price_column(),
        ];
        if self == Side::Sales {
            c.push("priority");
        }
        c
    }

    /// The order's cells, which each of its rows repeats.
    fn header_columns(self) -> Vec<&'static str> {
        let mut c = vec![
            self.party_column(),
            "warehouse",
            self.date_column(),
            "notes",
        ];
        if self == Side::Sales {
            c.push("priority");
        }
        c
    }
}

/// A line as staged, with its order's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineRecord {
    pub reference: String,
    pub party_id: Uuid,
    pub warehouse_id: Uuid,
    pub date: Option<NaiveDate>,
    pub priority: Option<String>,
    pub notes: String,
    pub product_id: Uuid,
    pub qty: i64,
    pub price: Decimal,
}

/// Where each column of an order file is, and each order's first row.
#[derive(Debug, Clone)]
pub struct OrderFile {
    side: Side,
    known: HashMap<&'static str, usize>,
    /// Each reference's first row: its header cells and row number, and its line count.
    orders: HashMap<String, (Vec<String>, u32, usize)>,
}

impl OrderFile {
    fn cell<'a>(&self, cells: &'a [String], column: &str) -> &'a str {
        self.known
            .get(column)
            .map_or("", |i| cells[*i].as_str())
            .trim()
    }

    /// The order's cells of a row, as compared (codes in any case are the same code).
    fn header(&self, cells: &[String]) -> Vec<String> {
        self.side
            .header_columns()
            .iter()
            .map(|c| {
                let cell = self.cell(cells, c);
                match *c {
                    "notes" => cell.to_owned(),
                    "priority" => cell.to_lowercase(),
                    _ => cell.to_uppercase(),
                }
            })
            .collect()
    }
}

/// The file-level checks of an order file: its columns and no SKU twice in an order.
pub fn check_orders(side: Side, table: &Table) -> ApiResult<OrderFile> {
    let columns = side.columns();
    let mut required = vec!["reference", side.party_column(), "warehouse", "sku", "qty"];
    if side == Side::Sales {
        required.push("requested_on");
    }
    let known = map_columns(&table.columns, &columns, &required)?;
    let mut file = OrderFile {
        side,
        known,
        orders: HashMap::new(),
    };
    let mut lines: HashMap<(String, String), u32> = HashMap::new();
    for row in &table.rows {
        let reference = file.cell(&row.cells, "reference").to_owned();
        let sku = file.cell(&row.cells, "sku");
        let sku = parse_sku(sku).unwrap_or_else(|_| sku.to_uppercase());
        if let Some(first) = lines.insert((reference.clone(), sku.clone()), row.row_no) {
            return Err(ApiError::ImportDuplicateKey(format!(
                "{sku} is on rows {first} and {} of order {reference}; give each SKU once an order",
                row.row_no
            )));
        }
        let header = file.header(&row.cells);
        file.orders
            .entry(reference)
            .and_modify(|o| o.2 += 1)
            .or_insert((header, row.row_no, 1));
    }
    Ok(file)
}

/// Validates rows against the tenant's parties, warehouses, products and the orders
/// imported before.
pub(super) async fn validate_chunk(
    tx: &mut TenantTx,
    file: &OrderFile,
    rows: &[Row],
) -> ApiResult<Vec<StagedRow>> {
    let side = file.side;
    let warehouses = store::warehouses::ids_by_code(tx).await?;
    let codes: Vec<String> = rows
        .iter()
        .map(|r| file.cell(&r.cells, side.party_column()).to_uppercase())
        .collect();
    let parties: HashMap<String, (Uuid, bool)> =
        store::parties::with_codes(tx, side.party(), &codes)
            .await?
            .into_iter()
            .map(|p| (p.code, (p.id, p.active)))
            .collect();
    let skus: Vec<String> = rows
        .iter()
        .map(|r| {
            let s = file.cell(&r.cells, "sku");
            parse_sku(s).unwrap_or_else(|_| s.to_uppercase())
        })
        .collect();
    let products: HashMap<String, Product> = store::products::by_skus(tx, &skus)
        .await?
        .into_iter()
        .map(|p| (p.sku.clone(), p))
        .collect();
    let references: Vec<String> = rows
        .iter()
        .map(|r| file.cell(&r.cells, "reference").to_owned())
        .collect();
    let imported = store::imports::imported_orders(tx, side.as_str(), &references).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let row_no = i32::try_from(row.row_no).unwrap_or(i32::MAX);
        out.push(
            match line_record(
                file,
                &row.cells,
                row.row_no,
                &parties,
                &warehouses,
                &products,
            ) {
                Err(errors) => StagedRow::failed(row_no, errors),
                Ok(record) => {
                    let action = if imported.contains(&record.reference) {
                        Action::Unchanged
                    } else {
                        Action::Create
                    };
                    StagedRow::valid(row_no, action, None, &record)?
                }
            },
        );
    }
    Ok(out)
}

/// One row as the line it makes, or every failing cell.
///
/// Longer than 80 lines: one check per column, in the file's column order, each adding
/// its failing cell, so that a row reports every error at once.
fn line_record(
    file: &OrderFile,
    cells: &[String],
    row_no: u32,
    parties: &HashMap<String, (Uuid, bool)>,
    warehouses: &HashMap<String, Uuid>,
    products: &HashMap<String, Product>,
) -> Result<LineRecord, Vec<CellError>> {
    let side = file.side;
    let mut errors = Vec::new();
    let mut fail =
        |column: &str, value: &str, e: ApiError| errors.push(cell_error(column, value, &e));
    let cell = |c: &str| file.cell(cells, c);

    let reference = cell("reference");
    if reference.is_empty() || reference.chars().count() > REFERENCE_LEN_MAX {
        fail(
            "reference",
            reference,
            ApiError::BadRequest(format!(
                "a reference has 1 to {REFERENCE_LEN_MAX} characters"
            )),
        );
    }
    if let Some((header, first, lines)) = file.orders.get(reference) {
        if *first != row_no && *header != file.header(cells) {
            fail(
                "reference",
                reference,
                ApiError::BadRequest(format!(
                    "the order's {} differ from row {first}, its first row",
                    side.header_columns().join(", ")
                )),
            );
        }
        if *lines > LINES_MAX {
            fail(
                "reference",
                reference,
                ApiError::BadRequest(format!(
                    "an order has at most {LINES_MAX} lines, this one {lines}"
                )),
            );
        }
    }
    let code = cell(side.party_column()).to_uppercase();
    let party = match parties.get(&code) {
        Some((id, true)) => Some(*id),
        Some((_, false)) => {
            fail(
                side.party_column(),
                &code,
                ApiError::BadRequest(format!("{code} is deactivated")),
            );
            None
        }
        None => {
            fail(
                side.party_column(),
                &code,
                ApiError::ReferenceNotFound(format!(
                    "no {} with code {code:?}",
                    side.party_column()
                )),
            );
            None
        }
    };
    let w = cell("warehouse").to_uppercase();
    let warehouse = warehouses.get(&w).copied();
    if warehouse.is_none() {
        fail(
            "warehouse",
            &w,
            ApiError::ReferenceNotFound(format!("no warehouse with code {w:?}")),
        );
    }
    let date = match cell(side.date_column()) {
        "" if side == Side::Sales => {
            fail(
                "requested_on",
                "",
                ApiError::BadRequest("the requested date is required".into()),
            );
            None
        }
        "" => None,
        d => super::lots::parse_date(d)
            .map_err(|e| fail(side.date_column(), d, e))
            .ok(),
    };
    let priority = match cell("priority") {
        "" => None,
        p => match Priority::parse(&p.to_lowercase()) {
            Some(p) => Some(p.as_str().to_owned()),
            None => {
                fail(
                    "priority",
                    p,
                    ApiError::BadRequest("expected low, normal, high or urgent".into()),
                );
                None
            }
        },
    };
    let notes = cell("notes");
    if let Err(e) = crate::orders::purchase::notes(notes) {
        fail("notes", notes, e);
    }
    let sku = cell("sku");
    let product = products.get(&parse_sku(sku).unwrap_or_else(|_| sku.to_uppercase()));
    if product.is_none() {
        fail(
            "sku",
            sku,
            ApiError::ReferenceNotFound(format!("no product with SKU {sku:?}")),
        );
    }
    let qty = match cell("qty").parse::<i64>() {
        Ok(q) if (1..=logiflow_core::QTY_MAX).contains(&q) => Some(q),
        _ => {
            fail(
                "qty",
                cell("qty"),
                ApiError::BadRequest(format!("expected 1 to {} units", logiflow_core::QTY_MAX)),
            );
            None
        }
    };
    let price = match cell(side.price_column()) {
        "" => Some(Decimal::ZERO),
        p => match p.parse::<Decimal>() {
            Ok(d) => validate_money(side.price_column(), Some(d))
                .map_err(|e| fail(side.price_column(), p, e))
                .ok()
                .flatten(),
            Err(_) => {
                fail(
                    side.price_column(),
                    p,
                    ApiError::BadRequest("expected a decimal number, e.g. 12.50".into()),
                );
                None
            }
        },
    };
    match (party, warehouse, product, qty, price) {
        (Some(party_id), Some(warehouse_id), Some(product), Some(qty), Some(price))
            if errors.is_empty() =>
        {
            Ok(LineRecord {
                reference: reference.to_owned(),
                party_id,
                warehouse_id,
                date,
                priority,
                notes: notes.to_owned(),
                product_id: product.id,
                qty,
                price,
            })
        }
        _ => Err(errors),
    }
}

/// Creates a draft order for each reference of a job not imported yet, in the order of
/// their first rows, through the orders' own `create`, and remembers its reference.
pub async fn apply(
    tx: &mut TenantTx,
    principal: &Principal,
    side: Side,
    job: &ImportJob,
) -> ApiResult<()> {
    let mut orders: Vec<(String, Vec<LineRecord>)> = Vec::new();
    for (_, _, data) in store::imports::to_write(tx, job.id).await? {
        let line: LineRecord = serde_json::from_value(data).map_err(ApiError::internal)?;
        match orders.iter_mut().find(|(r, _)| *r == line.reference) {
            Some((_, lines)) => lines.push(line),
            None => orders.push((line.reference.clone(), vec![line])),
        }
    }
    let references: Vec<String> = orders.iter().map(|(r, _)| r.clone()).collect();
    // Locks this kind's references: two commits of files naming the same order wait for
    // each other, and the second finds it imported.
    store::imports::lock_references(tx, side.as_str(), &references).await?;
    let done = store::imports::imported_orders(tx, side.as_str(), &references).await?;
    for (reference, lines) in orders.into_iter().filter(|(r, _)| !done.contains(r)) {
        let head = &lines[0];
        let id = match side {
            Side::Purchase => {
                crate::orders::purchase::create(
                    tx,
                    principal,
                    &NewPurchaseOrder {
                        supplier_id: head.party_id,
                        warehouse_id: head.warehouse_id,
                        expected_on: head.date,
                        notes: Some(head.notes.clone()),
                        lines: lines
                            .iter()
                            .map(|l| NewLine {
                                product_id: l.product_id,
                                qty: l.qty,
                                unit_cost: l.price,
                            })
                            .collect(),
                    },
                )
                .await?
                .id
            }
            Side::Sales => {
                let requested_on = head
                    .date
                    .ok_or_else(|| ApiError::internal("a staged sales order without its date"))?;
                crate::orders::sales::create(
                    tx,
                    principal,
                    &NewSalesOrder {
                        customer_id: head.party_id,
                        warehouse_id: head.warehouse_id,
                        requested_on,
                        priority: head.priority.as_deref().and_then(Priority::parse),
                        notes: Some(head.notes.clone()),
                        lines: lines
                            .iter()
                            .map(|l| NewSalesLine {
                                product_id: l.product_id,
                                qty: l.qty,
                                unit_price: l.price,
                            })
                            .collect(),
                    },
                )
                .await?
                .id
            }
        };
        store::imports::remember_order(tx, side.as_str(), &reference, id).await?;
    }
    Ok(())
}
