//! `/v1/exports/*`: the catalog, the stock, the movements and the audit log as CSV or
//! XLSX files (design in `crate::bulk::export`).

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

use crate::auth::Require;
use crate::bulk::export::{self, Source};
use crate::bulk::formats::Format;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::orders::party::PartyKind;
use crate::rbac::perm;
use crate::routes::audit::AuditFilter;
use crate::routes::locations::LocationQuery;
use crate::routes::movements::MovementFilter;
use crate::routes::problems::Reads;
use crate::routes::stock::StockQuery;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_products))
        .routes(routes!(export_stock))
        .routes(routes!(export_movements))
        .routes(routes!(export_locations))
        .routes(routes!(export_audit))
        .routes(routes!(export_suppliers))
        .routes(routes!(export_customers))
        .routes(routes!(export_lots))
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
    source: Source,
    header: bool,
    done: bool,
}

/// The next chunk of a streamed CSV export: the header, then a page at a time, each page
/// in its own short transaction.
async fn next_chunk(mut s: CsvState) -> Option<(Result<Vec<u8>, ApiError>, CsvState)> {
    if s.done {
        return None;
    }
    if s.header {
        s.header = false;
        let header = export::csv_bytes(&[s.source.header()]);
        return Some((header, s));
    }
    let page = async {
        let mut tx = TenantTx::begin(&s.pool, s.tenant_id).await?;
        let page = s.source.next_page(&mut tx).await?;
        tx.commit().await?;
        ApiResult::Ok(page)
    }
    .await;
    match page {
        Err(e) => {
            s.done = true;
            Some((Err(e), s))
        }
        Ok((rows, _)) if rows.is_empty() => None,
        Ok((rows, last)) => {
            s.done = last;
            Some((export::csv_bytes(&rows), s))
        }
    }
}

/// Answers `source` as a file of the asked format (CSV by default): CSV streamed, XLSX
/// built whole.
async fn file(
    state: &AppState,
    tenant_id: TenantId,
    mut tx: TenantTx,
    mut source: Source,
    q: ExportQuery,
) -> ApiResult<Response> {
    let format = q.format.unwrap_or(Format::Csv);
    let disposition = format!(
        "attachment; filename=\"{}.{}\"",
        source.name(),
        format.as_str()
    );
    let headers = [
        (header::CONTENT_TYPE, format.content_type().to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    match format {
        Format::Csv => {
            tx.commit().await?;
            let start = CsvState {
                pool: state.tenant_pool().clone(),
                tenant_id,
                source,
                header: true,
                done: false,
            };
            let stream = futures_util::stream::unfold(start, next_chunk);
            Ok((headers, Body::from_stream(stream)).into_response())
        }
        Format::Xlsx => {
            let mut rows = vec![source.header()];
            loop {
                let (page, last) = source.next_page(&mut tx).await?;
                rows.extend(page);
                if last {
                    break;
                }
            }
            tx.commit().await?;
            let sheet = source.name();
            let bytes = tokio::task::spawn_blocking(move || export::xlsx_bytes(sheet, &rows))
                .await
                .map_err(ApiError::internal)??;
            Ok((headers, bytes).into_response())
        }
    }
}

/// A file export's handler, `pub async fn $name`: its `#[utoipa::path]`, the same for
/// every export but the path, tag and descriptions, and its extractors, the same but the
/// permission and the filters' query (besides `?format=`, `q`), around its body. It is
/// written `fn $name(state, p: Permission, q[, f: Filters]) { body }`.
macro_rules! export_handler {
    (
        $(#[doc = $doc:tt])*
        path: $path:tt, tag: $tag:tt,
        ok: $ok:tt,
        bad_request: $bad:tt,
        fn $name:ident($state:ident, $p:ident: $perm:ident, $q:ident $(, $f:ident: $filter:ident)?)
        $body:tt
    ) => {
        $(#[doc = $doc])*
        #[utoipa::path(get, path = $path, tag = $tag, params(ExportQuery $(, $filter)?),
            security(("bearer" = []), ("api_key" = [])),
            responses(
                (status = 200, description = $ok, content(
                    (String = "text/csv"),
                    (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
                (status = 400, description = $bad),
                Reads,
            ))]
        #[tracing::instrument(skip_all)]
        pub async fn $name(
            State($state): State<AppState>,
            $p: Require<perm::$perm>,
            ApiQuery($q): ApiQuery<ExportQuery>,
            $(ApiQuery($f): ApiQuery<$filter>,)?
        ) -> ApiResult<Response> $body
    };
}

export_handler! {
    /// Exports every product (import columns, custom fields of the tenant's schema). CSV is
    /// streamed a page at a time; cells beginning with `= + - @` get a leading `'`.
    path: "/v1/exports/products", tag: "imports",
    ok: "the file (permission catalog_read)",
    bad_request: "bad_request (format)",
    fn export_products(state, p: CatalogRead, q) {
        let mut tx = state.tenant_tx(p.tenant_id).await?;
        let source = Source::products(&mut tx).await?;
        file(&state, p.tenant_id, tx, source, q).await
    }
}

export_handler! {
    /// Exports stock rows (the filters of `GET /v1/stock`): warehouse, bin, SKU, product,
    /// lot and expiry, on hand, allocated, available and the last count, one row per stock
    /// row. For a stock take on paper, a reconciliation with an ERP, an auditor.
    path: "/v1/exports/stock", tag: "stock",
    ok: "the file (permission stock_read)",
    bad_request: "bad_request (format, filters)",
    fn export_stock(state, p: StockRead, q, f: StockQuery) {
        let mut tx = state.tenant_tx(p.tenant_id).await?;
        let source = Source::stock(&mut tx, f.into()).await?;
        file(&state, p.tenant_id, tx, source, q).await
    }
}

export_handler! {
    /// Exports movements (the filters of `GET /v1/movements`, e.g. a time range with
    /// `from`/`to`), newest first: times, kind, outcome, warehouse, SKU, product, lot, bins,
    /// quantity, reason, note, user, device and the order line it fulfils.
    path: "/v1/exports/movements", tag: "movements",
    ok: "the file (permission stock_read)",
    bad_request: "bad_request (format, kind, outcome, filters)",
    fn export_movements(state, p: StockRead, q, f: MovementFilter) {
        let source = Source::movements(f.validated()?);
        let tx = state.tenant_tx(p.tenant_id).await?;
        file(&state, p.tenant_id, tx, source, q).await
    }
}

export_handler! {
    /// Exports locations (the filters of `GET /v1/locations`), parents before their
    /// children: warehouse, path, code, name, the parent's path and whether it is active.
    path: "/v1/exports/locations", tag: "catalog",
    ok: "the file (permission catalog_read)",
    bad_request: "bad_request (format, filters)",
    fn export_locations(state, p: CatalogRead, q, f: LocationQuery) {
        let filter = f.validated()?;
        let mut tx = state.tenant_tx(p.tenant_id).await?;
        let source = Source::locations(&mut tx, filter).await?;
        file(&state, p.tenant_id, tx, source, q).await
    }
}

export_handler! {
    /// Exports the audit log (the filters of `GET /v1/audit`, e.g. a time range with
    /// `from`/`to`), newest first: time, action, target, actor by email, device by name,
    /// and the before and after snapshots as JSON. For an auditor, or to keep beyond the
    /// server's own history.
    path: "/v1/exports/audit", tag: "audit",
    ok: "the file (permission audit_read)",
    bad_request: "bad_request (format, filters)",
    fn export_audit(state, p: AuditRead, q, f: AuditFilter) {
        let mut tx = state.tenant_tx(p.tenant_id).await?;
        let source = Source::audit(&mut tx, f.into()).await?;
        file(&state, p.tenant_id, tx, source, q).await
    }
}

export_handler! {
    /// Exports every supplier in the columns of their import, so an export imports back as
    /// unchanged. CSV is streamed a page at a time.
    path: "/v1/exports/suppliers", tag: "imports",
    ok: "the file (permission orders_read)",
    bad_request: "bad_request (format)",
    fn export_suppliers(state, p: OrdersRead, q) {
        let tx = state.tenant_tx(p.tenant_id).await?;
        let source = Source::parties(PartyKind::Supplier);
        file(&state, p.tenant_id, tx, source, q).await
    }
}

export_handler! {
    /// Exports every customer in the columns of their import, so an export imports back as
    /// unchanged. CSV is streamed a page at a time.
    path: "/v1/exports/customers", tag: "imports",
    ok: "the file (permission orders_read)",
    bad_request: "bad_request (format)",
    fn export_customers(state, p: OrdersRead, q) {
        let tx = state.tenant_tx(p.tenant_id).await?;
        let source = Source::parties(PartyKind::Customer);
        file(&state, p.tenant_id, tx, source, q).await
    }
}

export_handler! {
    /// Exports every lot (SKU, lot code, expiry) in the columns of their import, so an export
    /// imports back as unchanged. CSV is streamed a page at a time.
    path: "/v1/exports/lots", tag: "imports",
    ok: "the file (permission catalog_read)",
    bad_request: "bad_request (format)",
    fn export_lots(state, p: CatalogRead, q) {
        let tx = state.tenant_tx(p.tenant_id).await?;
        file(&state, p.tenant_id, tx, Source::Lots { after: None }, q).await
    }
}
