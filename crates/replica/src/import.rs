//! Imports into the server from a file (`logiflow import`): the server's import flow
//! (`POST /v1/imports`, validation as a job, preview, commit in one transaction) with the
//! device's session. The file goes as it is (CSV, or XLSX by its extension); the server
//! reads and checks it. Progress (rows validated of the file's rows) is reported while
//! the job validates; a file with errors is never committed, and the first
//! [`IMPORT_ERRORS_SHOWN`] failing cells come back so the person can fix them. Without
//! `commit` only the preview is made (the job expires on the server after a day).

use std::path::Path;
use std::time::Duration;

use uuid::Uuid;

use crate::client::{CallError, Resend, ServerClient};
use crate::credentials::CredentialStore;
use crate::{Error, Replica, Result};

/// Failing cells listed in an [`Imported`].
pub const IMPORT_ERRORS_SHOWN: usize = 50;

/// How often a validating job is asked how far it got.
const POLL_MS: u64 = 250;

/// What a file holds (the server's `kind` of import).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    #[default]
    Products,
    Locations,
    Lots,
    Suppliers,
    Customers,
    /// Opening stock: a count or a receipt per row, recorded as movements.
    Stock,
    /// Purchase order lines: a draft order per reference.
    PurchaseOrders,
    /// Sales order lines: a draft order per reference.
    SalesOrders,
}

impl ImportKind {
    /// Every kind, in the order the app lists them.
    pub const ALL: [ImportKind; 8] = [
        Self::Products,
        Self::Locations,
        Self::Lots,
        Self::Suppliers,
        Self::Customers,
        Self::Stock,
        Self::PurchaseOrders,
        Self::SalesOrders,
    ];

    /// The server's name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Products => "products",
            Self::Locations => "locations",
            Self::Lots => "lots",
            Self::Suppliers => "suppliers",
            Self::Customers => "customers",
            Self::Stock => "stock",
            Self::PurchaseOrders => "purchase_orders",
            Self::SalesOrders => "sales_orders",
        }
    }
}

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// What the file holds.
    pub kind: ImportKind,
    /// An XLSX file's sheet (default: the first).
    pub sheet: Option<String>,
    /// Commit once the preview has no error.
    pub commit: bool,
}

/// A failing cell of the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportError {
    /// The row as a spreadsheet numbers it (the header is row 1).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub row: i64,
    pub column: String,
    pub value: String,
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Imported {
    /// The server's job.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub id: Uuid,
    /// `ready` (previewed), `committed`, or why not (`failed`, `expired`).
    pub status: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub rows: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub to_create: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub to_update: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unchanged: i64,
    /// Rows with errors: the import was not committed.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub errors: i64,
    /// The first failing cells.
    pub error_cells: Vec<ImportError>,
}

#[derive(serde::Deserialize)]
struct Job {
    id: Uuid,
    status: String,
    rows_total: i64,
    rows_done: i64,
    to_create: i64,
    to_update: i64,
    unchanged: i64,
    errors: i64,
    failure: Option<String>,
}

impl Job {
    /// What the job says, with the failing cells read from its rows.
    fn imported(self, error_cells: Vec<ImportError>) -> Imported {
        Imported {
            id: self.id,
            status: self.status,
            rows: self.rows_total,
            to_create: self.to_create,
            to_update: self.to_update,
            unchanged: self.unchanged,
            errors: self.errors,
            error_cells,
        }
    }
}

#[derive(serde::Deserialize)]
struct Cell {
    column: String,
    value: String,
    message: String,
}

#[derive(serde::Deserialize)]
struct Row {
    row: i64,
    errors: Vec<Cell>,
}

#[derive(serde::Deserialize)]
struct RowPage {
    items: Vec<Row>,
}

impl Replica {
    /// Imports `file` (of `req.kind`) into the server: upload, validation (reporting rows
    /// done of total to `progress`), and with `req.commit` the commit when no row failed.
    ///
    /// Longer than 80 lines: upload, the validation's progress and the commit are one
    /// conversation with the server, whose steps share the job's id and the session, in
    /// the order they happen.
    pub fn import_file(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        file: &Path,
        req: &ImportRequest,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Imported> {
        let bytes = std::fs::read(file).map_err(|e| Error::InvalidInput {
            field: "file",
            message: format!("cannot read {}: {e}", file.display()),
        })?;
        let xlsx = file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
        let (format, content_type) = if xlsx {
            (
                "xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        } else {
            ("csv", "text/csv")
        };
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("kind", req.kind.as_str())
            .append_pair("format", format);
        if let Some(name) = file.file_name() {
            query.append_pair("file_name", &name.to_string_lossy());
        }
        if let Some(sheet) = &req.sheet {
            query.append_pair("sheet", sheet);
        }
        let upload = format!("/v1/imports?{}", query.finish());
        // One key for this upload and its retries: an upload whose answer was lost is
        // answered again with the same job instead of validating the file twice.
        let key = Uuid::now_v7().to_string();
        let (done, _) = self.with_session_as(client, store, &mut |_| {}, None, |_, ctx| {
            let json = crate::client::json_answer::<Job>;
            let mut job: Job = ctx
                .authed_with(
                    reqwest::Method::POST,
                    &upload,
                    Some((&bytes, content_type)),
                    Resend::Keyed(&key),
                    &json,
                )
                .map_err(CallError::into_error)?;
            let at = format!("/v1/imports/{}", job.id);
            while job.status == "validating" {
                progress(
                    u64::try_from(job.rows_done).unwrap_or(0),
                    u64::try_from(job.rows_total).unwrap_or(0),
                );
                std::thread::sleep(Duration::from_millis(POLL_MS));
                job = ctx
                    .authed(reqwest::Method::GET, &at, None::<&()>)
                    .map_err(CallError::into_error)?;
            }
            progress(
                u64::try_from(job.rows_done).unwrap_or(0),
                u64::try_from(job.rows_total).unwrap_or(0),
            );
            if job.status != "ready" {
                return Err(Error::Server {
                    status: 409,
                    code: "invalid_import_state".into(),
                    message: format!(
                        "the import is {}: {}",
                        job.status,
                        job.failure.as_deref().unwrap_or("upload the file again")
                    ),
                });
            }
            let mut error_cells = Vec::new();
            if job.errors > 0 {
                let page: RowPage = ctx
                    .authed(
                        reqwest::Method::GET,
                        &format!("{at}/rows?errors_only=true&limit={IMPORT_ERRORS_SHOWN}"),
                        None::<&()>,
                    )
                    .map_err(CallError::into_error)?;
                error_cells = page
                    .items
                    .into_iter()
                    .flat_map(|r| {
                        r.errors.into_iter().map(move |c| ImportError {
                            row: r.row,
                            column: c.column,
                            value: c.value,
                            message: c.message,
                        })
                    })
                    .take(IMPORT_ERRORS_SHOWN)
                    .collect();
            } else if req.commit {
                job = ctx
                    .authed(reqwest::Method::POST, &format!("{at}/commit"), None::<&()>)
                    .map_err(CallError::into_error)?;
            }
            Ok(job.imported(error_cells))
        })?;
        Ok(done)
    }

    /// Commits the previewed import `id` (made by [`Replica::import_file`] without
    /// `commit`): the server refuses one with errors, expired or already committed.
    pub fn commit_import(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        id: Uuid,
    ) -> Result<Imported> {
        let (job, _) = self.with_session_as(client, store, &mut |_| {}, None, |_, ctx| {
            ctx.authed::<Job>(
                reqwest::Method::POST,
                &format!("/v1/imports/{id}/commit"),
                None::<&()>,
            )
            .map_err(CallError::into_error)
        })?;
        Ok(job.imported(Vec::new()))
    }
}
