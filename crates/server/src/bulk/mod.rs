//! Bulk import and export (issue #16): the catalog, suppliers and customers, opening stock
//! and order lines ([`import::Kind`]).
//!
//! Import is three steps, each its own request:
//!
//! 1. **Upload** (`POST /v1/imports`): the file is read whole ([`formats::read`]: CSV or
//!    XLSX, bounded in bytes, rows, line and cell length, inflated size) and checked as a
//!    file (columns, duplicate keys: [`import::check`]). A file refused here
//!    answers 4xx with a stable code and creates nothing. Otherwise an `import_job` row
//!    is created and answered at once (202), and a background task validates the rows.
//! 2. **Validation** ([`import::validate`]): chunks of rows are checked against the
//!    catalog's own rules, the tenant's products, barcodes and field schema, and staged
//!    in `import_row` with their action (`create`, `update`, `unchanged`) or their
//!    errors (row, column, value, message); each chunk commits and advances
//!    `rows_done`, which `GET /v1/imports/{id}` shows. Staged rows live in a table, not
//!    in memory or in the job's JSON, so a 100,000-row preview is paged from an index
//!    and the commit is set-based.
//! 3. **Commit** (`POST /v1/imports/{id}/commit`): one transaction writes every staged
//!    row with a handful of set-based statements over `import_row`, checks the plan's
//!    quota, appends a `catalog_change` per written product or location (devices pull them) and one
//!    audit entry for the import. Opening stock is written as movements, decided under
//!    the rows' locks (`import::stock`); order lines as orders (`import::orders`). A job with any row in error, still validating, or
//!    expired is refused; a failure anywhere rolls the whole import back.
//!
//! Re-importing a file whose rows match the catalog stages every row `unchanged`: its
//! commit writes nothing but the audit entry. A job never committed expires after
//! [`import::IMPORT_TTL_HOURS`] and is swept (with its rows) by the tenant's next upload;
//! it never wrote anything else.

pub mod export;
pub mod formats;
pub mod import;
