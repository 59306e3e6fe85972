//! `/v1/locations`: the location tree of each warehouse (zone → aisle/rack → bin, any
//! depth).
//!
//! Decisions: a location never changes warehouse or parent (stock rows and movements are
//! denormalized by warehouse, and moving a subtree would silently move its stock); its
//! code may change, which rewrites its path and its descendants' paths in one statement
//! (and writes a catalog change for each). Stock lives only in leaves: a location holding
//! stock gets no children. A location is deleted only when it has no children and no
//! stock history; otherwise it is deactivated (`PATCH active=false`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Require;
use crate::catalog;
use crate::catalog::bins::{BinRequest, GeneratedBins};
use crate::catalog::location::Location;
use crate::catalog::service::{LocationChanges, LocationRequest};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::rbac::perm;
use crate::routes::problems::{Authed, Reads, Writes};
use crate::state::AppState;
use crate::store;

/// Longest `q` or `path_prefix` filter.
pub const FILTER_LEN_MAX: usize = 600;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_locations, create_location))
        .routes(routes!(generate_bins))
        .routes(routes!(get_location, update_location, delete_location))
}

/// A page of locations.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LocationPage {
    pub items: Vec<Location>,
    /// Cursor of the next page, absent on the last.
    pub next_cursor: Option<String>,
}

/// Filters of the location list (combined with "and").
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocationQuery {
    pub warehouse_id: Option<Uuid>,
    /// The children of this location.
    pub parent_id: Option<Uuid>,
    /// `true`: only top-level locations.
    pub root: Option<bool>,
    /// Paths starting with this text (case-insensitive codes): `A/03/` is the subtree
    /// below `A/03`.
    pub path_prefix: Option<String>,
    /// Case-insensitive substring of the path or the name.
    pub q: Option<String>,
    pub active: Option<bool>,
}

impl LocationQuery {
    /// The filter, checked.
    pub fn validated(self) -> ApiResult<store::locations::Filter> {
        Ok(store::locations::Filter {
            warehouse_id: self.warehouse_id,
            parent_id: self.parent_id,
            root: self.root == Some(true),
            // Codes are stored upper case, so the prefix is too.
            path_prefix: validate_filter("path_prefix", self.path_prefix)?
                .map(|p| p.trim().to_ascii_uppercase()),
            q: validate_filter("q", self.q)?,
            active: self.active,
        })
    }
}

/// A new location: under `parent_id`, or top-level in `warehouse_id` (at least one is
/// required; when both are given they must agree).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateLocation {
    pub warehouse_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub code: String,
    pub name: Option<String>,
}

/// Changes to a location; absent fields stay as they are. The warehouse and parent
/// cannot change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateLocation {
    /// A new code rewrites the paths of the location and its descendants.
    pub code: Option<String>,
    pub name: Option<String>,
    /// `false` deactivates the location; `true` reactivates it (quota-checked).
    pub active: Option<bool>,
}

/// One dimension of a bin grid: `from` to `to` (inclusive; absent is `from` alone), two
/// numbers (`01` to `20`: the width of `from` is kept) or two letters (`A` to `D`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BinSegment {
    pub from: String,
    pub to: Option<String>,
    /// What the part is called in the bins' names, e.g. `Aisle`.
    pub label: Option<String>,
}

/// A grid of bins to generate under `parent_id` (or top-level in `warehouse_id`): every
/// combination of the segments' values, joined by `separator` (`-` by default; empty,
/// `-`, `_` or `.`), at most 5,000.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GenerateBins {
    pub parent_id: Option<Uuid>,
    pub warehouse_id: Option<Uuid>,
    pub segments: Vec<BinSegment>,
    pub separator: Option<String>,
    /// `true`: only say what would be created (the preview).
    pub dry_run: Option<bool>,
}

impl From<GenerateBins> for BinRequest {
    fn from(g: GenerateBins) -> Self {
        Self {
            parent_id: g.parent_id,
            warehouse_id: g.warehouse_id,
            segments: g
                .segments
                .into_iter()
                .map(|s| logiflow_core::bins::Segment {
                    from: s.from,
                    to: s.to,
                    label: s.label,
                })
                .collect(),
            separator: g.separator.unwrap_or_else(|| "-".into()),
            dry_run: g.dry_run.unwrap_or(false),
        }
    }
}

fn validate_filter(field: &str, v: Option<String>) -> ApiResult<Option<String>> {
    match v {
        Some(v) if v.chars().count() > FILTER_LEN_MAX => Err(ApiError::BadRequest(format!(
            "{field} has at most {FILTER_LEN_MAX} characters"
        ))),
        Some(v) if v.is_empty() => Ok(None),
        v => Ok(v),
    }
}

/// Reads one location, or not found.
async fn fetch_location(tx: &mut TenantTx, id: Uuid) -> ApiResult<Location> {
    store::locations::get(tx, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Lists locations, oldest first.
#[utoipa::path(get, path = "/v1/locations", tag = "catalog", params(LocationQuery, PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of locations (permission catalog_read)", body = LocationPage),
        (status = 400, description = "bad_request (limit, cursor, filters)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_locations(
    State(state): State<AppState>,
    p: Require<perm::CatalogRead>,
    ApiQuery(f): ApiQuery<LocationQuery>,
    ApiQuery(pq): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<LocationPage>> {
    let limit = pq.limit()?;
    let after = pq.after()?;
    let filter = f.validated()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::locations::list(&mut tx, &filter, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |l| l.id);
    Ok(axum::Json(LocationPage { items, next_cursor }))
}

/// Creates a location (counts against the plan's `max_locations`).
#[utoipa::path(post, path = "/v1/locations", tag = "catalog", request_body = CreateLocation,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created (permission catalog_manage)", body = Location),
        (status = 400, description = "bad_request (code, name, neither warehouse_id nor parent_id, too deep)"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (with limit)"),
        (status = 409, description = "conflict (code taken in the warehouse), location_has_stock (the parent holds stock)"),
        (status = 422, description = "invalid_body, idempotency_key_reused, reference_not_found (warehouse_id, parent_id), invalid_parent (parent in another warehouse)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_location(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<CreateLocation>,
) -> ApiResult<Response> {
    let hash = state.request_hash("/v1/locations", &req);
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let l = catalog::service::create_location(
        &mut tx,
        &p,
        LocationRequest {
            warehouse_id: req.warehouse_id,
            parent_id: req.parent_id,
            code: &req.code,
            name: req.name.as_deref(),
        },
    )
    .await?;
    let body = serde_json::to_value(&l).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &body)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Generates a grid of bins (aisles × racks × levels) under one location, or previews it.
#[utoipa::path(post, path = "/v1/locations/generate", tag = "catalog", request_body = GenerateBins,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the preview of a dry run (permission catalog_manage)", body = GeneratedBins),
        (status = 201, description = "created: the new bins, and those already under the parent", body = GeneratedBins),
        (status = 400, description = "bad_request (segments, separator, more than 5,000 bins, a code too long, neither parent_id nor warehouse_id, too deep)"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (for all new bins at once)"),
        (status = 409, description = "conflict (a generated code is used elsewhere in the warehouse), location_has_stock (the parent holds stock)"),
        (status = 422, description = "invalid_body, idempotency_key_reused, reference_not_found (warehouse_id, parent_id), invalid_parent (parent in another warehouse)"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn generate_bins(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<GenerateBins>,
) -> ApiResult<Response> {
    let hash = state.request_hash("/v1/locations/generate", &req);
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let out: GeneratedBins = catalog::bins::generate(&mut tx, &p, req.into()).await?;
    let status = if out.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let body = serde_json::to_value(&out).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, status, &body).await?;
    tx.commit().await?;
    Ok((status, axum::Json(body)).into_response())
}

/// Reads one location.
#[utoipa::path(get, path = "/v1/locations/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the location (permission catalog_read)", body = Location),
        (status = 404, description = "not_found (also for other tenants' locations)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_location(
    State(state): State<AppState>,
    p: Require<perm::CatalogRead>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Location>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let l = fetch_location(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(l))
}

/// Changes a location's code, name or active flag.
#[utoipa::path(patch, path = "/v1/locations/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    request_body = UpdateLocation, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "updated (permission catalog_manage)", body = Location),
        (status = 400, description = "bad_request (code, name)"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (reactivating)"),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict (code taken in the warehouse)"),
        (status = 422, description = "invalid_body"),
        Authed,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_location(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateLocation>,
) -> ApiResult<axum::Json<Location>> {
    let changes = LocationChanges::parse(req.code.as_deref(), req.name.as_deref(), req.active)?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let after = catalog::service::update_location(&mut tx, &p, id, changes).await?;
    tx.commit().await?;
    Ok(axum::Json(after))
}

/// Deletes a location without children and without stock history.
#[utoipa::path(delete, path = "/v1/locations/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "deleted (permission catalog_manage)"),
        (status = 404, description = "not_found"),
        (status = 409, description = "location_has_stock, location_has_children, location_has_history (deactivate it instead)"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn delete_location(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    catalog::service::delete_location(&mut tx, &p, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
