//! `/v1/exports/*`: the catalog as CSV or XLSX files (design in `crate::bulk::export`).

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use logiflow_core::TenantId;
use serde::Deserialize;
use sqlx::PgPool;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Require;
use crate::bulk::export;
use crate::bulk::formats::Format;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::rbac::perm;
use crate::routes::problems::Reads;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_products))
}

/// `?format=` of an export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (default) or `xlsx`.
    #[param(inline)]
    pub format: Option<Format>,
}

/// Where a streamed CSV export is.
struct CsvState {
    pool: PgPool,
    tenant_id: TenantId,
    keys: Vec<String>,
    /// The last product written; `None` before the first page.
    after: Option<Uuid>,
    header: bool,
    done: bool,
}

/// The next chunk of a streamed CSV export: the header, then a page of products.
async fn next_chunk(mut s: CsvState) -> Option<(Result<Vec<u8>, ApiError>, CsvState)> {
    if s.done {
        return None;
    }
    if s.header {
        s.header = false;
        let header = export::csv_bytes(&[export::product_header(&s.keys)]);
        return Some((header, s));
    }
    let page = async {
        let mut tx = TenantTx::begin(&s.pool, s.tenant_id).await?;
        let page = export::product_page(&mut tx, s.after).await?;
        tx.commit().await?;
        ApiResult::Ok(page)
    }
    .await;
    match page {
        Err(e) => {
            s.done = true;
            Some((Err(e), s))
        }
        Ok(page) if page.is_empty() => None,
        Ok(page) => {
            s.done = i64::try_from(page.len()).unwrap_or(0) < export::EXPORT_PAGE_ROWS;
            s.after = page.last().map(|p| p.id);
            let rows: Vec<Vec<String>> = page
                .iter()
                .map(|p| export::product_cells(p, &s.keys))
                .collect();
            Some((export::csv_bytes(&rows), s))
        }
    }
}

/// Exports every product (import columns, custom fields of the tenant's schema). CSV is
/// streamed a page at a time; cells beginning with `= + - @` get a leading `'`.
#[utoipa::path(get, path = "/v1/exports/products", tag = "imports", params(ExportQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the file (permission catalog_read)", content(
            (String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "bad_request (format)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn export_products(
    State(state): State<AppState>,
    p: Require<perm::CatalogRead>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let format = q.format.unwrap_or(Format::Csv);
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let keys = export::custom_keys(&mut tx).await?;
    let disposition = format!("attachment; filename=\"products.{}\"", format.as_str());
    let headers = [
        (header::CONTENT_TYPE, format.content_type().to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    match format {
        Format::Csv => {
            tx.commit().await?;
            let start = CsvState {
                pool: state.tenant_pool().clone(),
                tenant_id: p.tenant_id,
                keys,
                after: None,
                header: true,
                done: false,
            };
            let stream = futures_util::stream::unfold(start, next_chunk);
            Ok((headers, Body::from_stream(stream)).into_response())
        }
        Format::Xlsx => {
            let mut rows = vec![export::product_header(&keys)];
            let mut after = None;
            loop {
                let page = export::product_page(&mut tx, after).await?;
                after = page.last().map(|p| p.id);
                rows.extend(page.iter().map(|p| export::product_cells(p, &keys)));
                if i64::try_from(page.len()).unwrap_or(0) < export::EXPORT_PAGE_ROWS {
                    break;
                }
            }
            tx.commit().await?;
            let bytes = tokio::task::spawn_blocking(move || export::xlsx_bytes("products", &rows))
                .await
                .map_err(ApiError::internal)??;
            Ok((headers, bytes).into_response())
        }
    }
}
