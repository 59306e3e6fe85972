//! Importing data (the catalog, parties, opening stock, order lines): the kinds of file
//! ([`Kind`]), the validation job that stages every row with its action or its errors,
//! and the commit that writes them in one transaction. What a kind's columns mean and how
//! its rows are checked and written is in its own module: [`products`], [`locations`], [`lots`], [`parties`] (suppliers and
//! customers), [`stock`] (opening stock, as counts or receipts: movements) and [`orders`]
//! (purchase and sales order lines, an order per reference).
//!
//! Each row is checked by the domain's own rules, never by rules of its own: a preview
//! names what it can see (an unknown bin, a zone that holds no stock), and the commit
//! decides by the same code as the API (movements by `crates/core` under the rows' locks,
//! orders by `orders::*::create`).

pub mod locations;
pub mod lots;
pub mod orders;
pub mod parties;
pub mod products;
pub mod stock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::Principal;
use crate::audit_log::{self, Entry};
use crate::bulk::formats::{Format, Table};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::orders::party::PartyKind;
use crate::quota;
use crate::store;

pub use products::{CUSTOM_PREFIX, PRODUCT_COLUMNS, ProductRecord};

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
    Locations,
    Lots,
    Suppliers,
    Customers,
    /// Opening stock: a movement per row (`stock`).
    Stock,
    /// Purchase order lines, an order per reference (`orders`).
    PurchaseOrders,
    /// Sales order lines, an order per reference (`orders`).
    SalesOrders,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 8] = [
        Kind::Products,
        Kind::Locations,
        Kind::Lots,
        Kind::Suppliers,
        Kind::Customers,
        Kind::Stock,
        Kind::PurchaseOrders,
        Kind::SalesOrders,
    ];

    /// The kind of a stored name.
    pub fn parse(name: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Products => "products",
            Kind::Locations => "locations",
            Kind::Lots => "lots",
            Kind::Suppliers => "suppliers",
            Kind::Customers => "customers",
            Kind::Stock => "stock",
            Kind::PurchaseOrders => "purchase_orders",
            Kind::SalesOrders => "sales_orders",
        }
    }

    /// The permission an import of this kind needs besides `data_import`: what its rows
    /// do needs what doing it by hand needs.
    pub fn also_needs(self) -> Option<crate::rbac::Permission> {
        use crate::rbac::Permission;
        match self {
            Kind::Stock => Some(Permission::MovementsWrite),
            Kind::PurchaseOrders => Some(Permission::PurchasingManage),
            Kind::SalesOrders => Some(Permission::SalesManage),
            Kind::Products | Kind::Locations | Kind::Lots | Kind::Suppliers | Kind::Customers => {
                None
            }
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

impl StagedRow {
    /// A row with errors: it writes nothing, and the job cannot be committed.
    pub fn failed(row_no: i32, errors: Vec<CellError>) -> Self {
        Self {
            row_no,
            action: Action::Error,
            target_id: None,
            data: None,
            errors,
        }
    }

    /// A valid row: what it does, to what, and the record it writes.
    pub fn valid(
        row_no: i32,
        action: Action,
        target_id: Option<Uuid>,
        record: &impl Serialize,
    ) -> ApiResult<Self> {
        Ok(Self {
            row_no,
            action,
            target_id,
            data: Some(serde_json::to_value(record).map_err(ApiError::internal)?),
            errors: Vec::new(),
        })
    }
}

/// A file that passed the file-level checks of its kind, with what its rows' validation
/// needs to know of the whole file.
#[derive(Debug, Clone)]
pub enum Checked {
    Products(products::ProductColumns),
    Locations(locations::LocationFile),
    Lots(lots::LotFile),
    Parties(parties::PartyFile),
    Stock(stock::StockFile),
    Orders(orders::OrderFile),
}

/// The file-level checks of `kind` (columns, duplicate keys).
pub fn check(kind: Kind, table: &Table) -> ApiResult<Checked> {
    Ok(match kind {
        Kind::Products => Checked::Products(products::check_products(table)?),
        Kind::Locations => Checked::Locations(locations::check_locations(table)?),
        Kind::Lots => Checked::Lots(lots::check_lots(table)?),
        Kind::Suppliers => Checked::Parties(parties::check_parties(PartyKind::Supplier, table)?),
        Kind::Customers => Checked::Parties(parties::check_parties(PartyKind::Customer, table)?),
        Kind::Stock => Checked::Stock(stock::check_stock(table)?),
        Kind::PurchaseOrders => {
            Checked::Orders(orders::check_orders(orders::Side::Purchase, table)?)
        }
        Kind::SalesOrders => Checked::Orders(orders::check_orders(orders::Side::Sales, table)?),
    })
}

/// Creates the job of a read file (after [`check`]), sweeping the tenant's
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
    checked: Checked,
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
            let staged = match &checked {
                Checked::Products(cols) => products::validate_chunk(&mut tx, cols, chunk).await?,
                Checked::Locations(file) => locations::validate_chunk(&mut tx, file, chunk).await?,
                Checked::Lots(file) => lots::validate_chunk(&mut tx, file, chunk).await?,
                Checked::Parties(file) => parties::validate_chunk(&mut tx, file, chunk).await?,
                Checked::Stock(file) => stock::validate_chunk(&mut tx, file, chunk).await?,
                Checked::Orders(file) => orders::validate_chunk(&mut tx, file, chunk).await?,
            };
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

/// Writes a ready job's staged rows by its kind, checking the plan's quota of products
/// or locations: active records counted before and after under the quota's lock, refused
/// when the import adds past the limit. Answers the movements of a stock import that may
/// wake held movements or serve back-orders.
async fn write(
    tx: &mut TenantTx,
    principal: &Principal,
    job: &ImportJob,
) -> ApiResult<Vec<stock::Raised>> {
    let counted = match job.kind.as_str() {
        "products" => Some(quota::Counted::Skus),
        "locations" => Some(quota::Counted::Locations),
        _ => None,
    };
    let before = match counted {
        Some(c) => Some(quota::usage(tx, c).await?),
        None => None,
    };
    match job.kind.as_str() {
        "products" => store::imports::apply_products(tx, job.id).await?,
        "locations" => {
            let (orphans, parent_holds_stock) = store::imports::apply_locations(tx, job.id).await?;
            if orphans > 0 {
                return Err(ApiError::InvalidImportState(format!(
                    "the parents of {orphans} new locations were deleted since the preview; upload the file again"
                )));
            }
            if parent_holds_stock {
                return Err(ApiError::LocationHasStock);
            }
        }
        "lots" => {
            if store::imports::apply_lots(tx, job.id).await? {
                return Err(ApiError::ProductNotLotTracked);
            }
        }
        "suppliers" => store::imports::apply_parties(tx, job.id, "supplier").await?,
        "customers" => store::imports::apply_parties(tx, job.id, "customer").await?,
        "stock" => return stock::apply(tx, principal, job).await,
        "purchase_orders" => orders::apply(tx, principal, orders::Side::Purchase, job).await?,
        "sales_orders" => orders::apply(tx, principal, orders::Side::Sales, job).await?,
        other => {
            return Err(ApiError::internal(format!(
                "an import of unknown kind {other}"
            )));
        }
    }
    if let (Some(c), Some((used_before, limit))) = (counted, before) {
        let (used_after, _) = quota::usage(tx, c).await?;
        if used_after > used_before && used_after > limit {
            return Err(c.exceeded(limit));
        }
    }
    Ok(Vec::new())
}

/// Where each of a file's `columns` is, refusing one not in `allowed`, one given twice
/// or a `required` one missing.
pub(crate) fn map_columns(
    columns: &[String],
    allowed: &[&'static str],
    required: &[&str],
) -> ApiResult<std::collections::HashMap<&'static str, usize>> {
    let mut known = std::collections::HashMap::new();
    for (i, c) in columns.iter().enumerate() {
        let Some(k) = allowed.iter().find(|k| **k == c) else {
            return Err(ApiError::ImportColumns(format!(
                "unknown column {c:?}; the columns are {}",
                allowed.join(", ")
            )));
        };
        if known.insert(*k, i).is_some() {
            return Err(ApiError::ImportColumns(format!(
                "column {c:?} appears twice"
            )));
        }
    }
    for column in required {
        if !known.contains_key(column) {
            return Err(ApiError::ImportColumns(format!(
                "the required column {column:?} is missing"
            )));
        }
    }
    Ok(known)
}

/// A failing cell: `e`'s message, the value cut to 200 characters.
pub(crate) fn cell_error(column: &str, value: &str, e: &ApiError) -> CellError {
    CellError {
        column: column.to_owned(),
        value: value.chars().take(200).collect(),
        message: e.to_string(),
    }
}

/// A yes/no cell (`true`/`false`, `yes`/`no`, `y`/`n`, `1`/`0`, any case).
pub(crate) fn parse_bool(s: &str) -> Result<bool, ApiError> {
    match s.to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(ApiError::BadRequest("expected true or false".into())),
    }
}

/// Whoever commits needs what the upload needed (it may be someone else).
fn may_commit(principal: &Principal, job: &ImportJob) -> ApiResult<()> {
    match Kind::parse(&job.kind).and_then(Kind::also_needs) {
        Some(permission) => crate::access::check(principal, permission),
        None => Ok(()),
    }
}

/// What a commit needs done in a transaction of its own before [`commit`]'s: the
/// permission checked, and for opening stock the stock rows its movements need created
/// empty, so the commit locks only existing rows, in key order (as every writer of
/// movements does). Nothing is done for a job the caller may not commit.
pub async fn prepare(tx: &mut TenantTx, principal: &Principal, id: Uuid) -> ApiResult<()> {
    let job = store::imports::get(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    may_commit(principal, &job)?;
    if job.kind == Kind::Stock.as_str() && job.status == "ready" && job.errors == 0 {
        stock::prepare_rows(tx, id).await?;
    }
    Ok(())
}

/// Commits a ready job without errors in the caller's transaction: the staged rows
/// written set-based, the plan's quota of the kind checked (active records counted before
/// and after under the quota's lock: refused when the import adds past the limit), one
/// audit entry and one `import.completed` event for the import, the job marked committed.
/// A stock import's movements that raised rows are answered beside the job: after the
/// commit, held movements they may wake are retried and back-orders served.
pub async fn commit(
    tx: &mut TenantTx,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<(ImportJob, Vec<stock::Raised>)> {
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
    may_commit(principal, &job)?;
    let raised = write(tx, principal, &job).await?;
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
    Ok((after, raised))
}

/// The `import.completed` event's data (`crate::webhooks::events`). Sent when the rows
/// are written (the commit), not when the preview is ready: a receiver learns of data
/// that changed, and a preview left to expire changed nothing.
fn completed_event(job: &ImportJob) -> ApiResult<serde_json::Value> {
    serde_json::to_value(crate::webhooks::events::ImportCompletedEvent::from(job))
        .map_err(ApiError::internal)
}
