//! `/v1/imports`: upload a CSV or XLSX file, watch its validation, page through the
//! preview and commit it (design in `crate::bulk`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Require;
use crate::bulk::formats::{self, Format, ReadLimits};
use crate::bulk::import::{self, ImportJob, ImportRowView, Kind};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, IdPath, IdempotencyKey, PageQuery, page_by};
use crate::rbac::perm;
use crate::routes::problems::Writes;
use crate::state::AppState;
use crate::store;

/// How far the parts of an uploaded XLSX may inflate, as a multiple of the upload limit:
/// XML compresses about tenfold, so a real workbook stays well under it.
const INFLATE_RATIO_MAX: u64 = 8;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_import))
        .routes(routes!(get_import))
        .routes(routes!(import_rows))
        .routes(routes!(commit_import))
}

/// `?kind=&format=&sheet=&file_name=` of an upload.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// What the file holds.
    #[param(inline)]
    pub kind: Kind,
    /// `csv` or `xlsx`; else from the content type, else from the file's first bytes.
    #[param(inline)]
    pub format: Option<Format>,
    /// An XLSX file's sheet (default: the first).
    pub sheet: Option<String>,
    /// The file's name, shown in the job and the audit log.
    pub file_name: Option<String>,
}

/// Uploads a file to import: the body is the file itself. Refusals about the file
/// answer here and create nothing; otherwise the job is answered at once and its rows
/// are validated in the background.
#[utoipa::path(post, path = "/v1/imports", tag = "imports", params(UploadQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    request_body(content = Vec<u8>, description = "the CSV (UTF-8, `,` or `;`) or XLSX file",
        content_type = "text/csv"),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 202, description = "the job, validating (permission data_import; for stock movements_write too, for purchase_orders purchasing_manage, for sales_orders sales_manage)", body = ImportJob),
        (status = 400, description = "bad_request (kind, format, file_name)"),
        (status = 413, description = "import_too_large (bytes or rows), import_archive_too_large"),
        (status = 422, description = "import_empty, import_encoding, import_unreadable, import_columns, import_duplicate_key, import_value_too_long, import_formula, import_line_too_long, idempotency_key_reused"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_import(
    State(state): State<AppState>,
    p: Require<perm::DataImport>,
    idem: IdempotencyKey,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    if let Some(permission) = q.kind.also_needs() {
        crate::access::check(&p, permission)?;
    }
    let file_name = q.file_name.clone().unwrap_or_default();
    if file_name.chars().count() > 255 {
        return Err(ApiError::BadRequest(
            "file_name has at most 255 characters".into(),
        ));
    }
    let limit = state.config.import_limit_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::ImportTooLarge(format!("the file is larger than {limit} bytes; split it"))
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let format = q
        .format
        .unwrap_or_else(|| Format::detect(content_type, &bytes));
    let hash = state.request_hash(
        "/v1/imports",
        &serde_json::json!({
            "query": &q,
            "format": format,
            "sha256": format!("{:x}", Sha256::digest(&bytes)),
        }),
    );
    let limits = ReadLimits {
        rows_max: state.config.import_rows_max,
        inflated_bytes_max: u64::try_from(limit)
            .unwrap_or(u64::MAX)
            .saturating_mul(INFLATE_RATIO_MAX),
    };
    let sheet = q.sheet.clone();
    // Reading a large file is CPU work: off the async workers.
    let (table, columns) = tokio::task::spawn_blocking(move || {
        let table = formats::read(&bytes, format, sheet.as_deref(), limits)?;
        let columns = import::check(q.kind, &table)?;
        ApiResult::Ok((table, columns))
    })
    .await
    .map_err(ApiError::internal)??;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let job = import::create_job(&mut tx, &p, q.kind, format, &file_name, &table).await?;
    let body = serde_json::to_value(&job).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::ACCEPTED, &body)
        .await?;
    tx.commit().await?;
    tokio::spawn(import::validate(
        state.tenant_pool().clone(),
        p.tenant_id,
        job.id,
        columns,
        table,
    ));
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

/// Reads an import: its state, progress (`rows_done` of `rows_total`) and, once ready,
/// its counts.
#[utoipa::path(get, path = "/v1/imports/{id}", tag = "imports", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the job (permission data_import)", body = ImportJob),
        (status = 404, description = "not_found (also for other tenants' imports)"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_import(
    State(state): State<AppState>,
    p: Require<perm::DataImport>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<ImportJob>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let job = store::imports::get(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(axum::Json(job))
}

/// `?errors_only=&cursor=&limit=` of the preview.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RowsQuery {
    /// Only rows with errors.
    pub errors_only: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// A page of an import's rows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportRowPage {
    pub items: Vec<ImportRowView>,
    pub next_cursor: Option<String>,
}

/// The preview: each row's action, or its errors (column, value, message), by row.
#[utoipa::path(get, path = "/v1/imports/{id}/rows", tag = "imports",
    params(("id" = Uuid, Path), RowsQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of rows (permission data_import)", body = ImportRowPage),
        (status = 400, description = "bad_request (limit, cursor)"),
        (status = 404, description = "not_found (also for other tenants' imports)"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn import_rows(
    State(state): State<AppState>,
    p: Require<perm::DataImport>,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<RowsQuery>,
) -> ApiResult<axum::Json<ImportRowPage>> {
    let pq = PageQuery {
        cursor: q.cursor,
        limit: q.limit,
    };
    let limit = pq.limit()?;
    let after = pq.after_key::<i32>()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if store::imports::get(&mut tx, id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let rows = store::imports::rows(
        &mut tx,
        id,
        q.errors_only.unwrap_or(false),
        after,
        limit + 1,
    )
    .await?;
    tx.commit().await?;
    let (items, next_cursor) = page_by(rows, limit, |r| r.row);
    Ok(axum::Json(ImportRowPage { items, next_cursor }))
}

/// Commits a ready import without errors, all or nothing.
#[utoipa::path(post, path = "/v1/imports/{id}/commit", tag = "imports", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "committed (permission data_import, and the kind's own: see the upload)", body = ImportJob),
        (status = 403, description = "quota_exceeded, forbidden"),
        (status = 404, description = "not_found (also for other tenants' imports)"),
        (status = 409, description = "invalid_import_state (validating, rows with errors, committed, failed, expired), conflict (a SKU or barcode taken since validation)"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn commit_import(
    State(state): State<AppState>,
    p: Require<perm::DataImport>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<ImportJob>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    import::prepare(&mut tx, &p, id).await?;
    tx.commit().await?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let (job, raised) = import::commit(&mut tx, &p, id).await?;
    tx.commit().await?;
    // Held journal movements its movements may now apply, and back-orders they may
    // serve: the import is committed whatever happens here (a failure is logged, and the
    // next movement on the row retries them), as for an online movement.
    for r in raised.iter().filter(|r| r.held) {
        if let Err(e) =
            crate::journal::retry_held(state.tenant_pool(), p.tenant_id, &r.movement, &r.decision)
                .await
        {
            tracing::warn!(error = %e, "retrying held movements after an import failed");
        }
    }
    let mut products: Vec<uuid::Uuid> = raised
        .iter()
        .map(|r| r.movement.product.as_uuid())
        .collect();
    products.sort();
    products.dedup();
    if !products.is_empty()
        && let Err(e) =
            crate::orders::sales::serve_back_orders(state.tenant_pool(), &p, &products).await
    {
        tracing::warn!(error = %e, "serving back-orders after an import failed");
    }
    Ok(axum::Json(job))
}
