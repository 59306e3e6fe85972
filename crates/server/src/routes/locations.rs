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
use crate::catalog::location::{LOCATION_DEPTH_MAX, Location, validate_location_name};
use crate::catalog::warehouse::parse_code;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::quota;
use crate::rbac::perm;
use crate::state::AppState;
use crate::store;
use crate::store::catalog_change::{Entity, Write};

/// Longest `q` or `path_prefix` filter.
pub const FILTER_LEN_MAX: usize = 600;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_locations, create_location))
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
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
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

/// [`fetch_location`], the row locked for update.
async fn fetch_location_for_update(tx: &mut TenantTx, id: Uuid) -> ApiResult<Location> {
    store::locations::get_for_update(tx, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Lists locations, oldest first.
#[utoipa::path(get, path = "/v1/locations", tag = "catalog", params(LocationQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of locations (permission catalog_read)", body = LocationPage),
        (status = 400, description = "bad_request (limit, cursor, filters)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_locations(
    State(state): State<AppState>,
    p: Require<perm::CatalogRead>,
    ApiQuery(q): ApiQuery<LocationQuery>,
) -> ApiResult<axum::Json<LocationPage>> {
    let pq = PageQuery {
        cursor: q.cursor,
        limit: q.limit,
    };
    let limit = pq.limit()?;
    let after = pq.after()?;
    let filter = store::locations::Filter {
        warehouse_id: q.warehouse_id,
        parent_id: q.parent_id,
        root: q.root == Some(true),
        // Codes are stored upper case, so the prefix is too.
        path_prefix: validate_filter("path_prefix", q.path_prefix)?
            .map(|p| p.trim().to_ascii_uppercase()),
        q: validate_filter("q", q.q)?,
        active: q.active,
    };
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
        (status = 400, description = "bad_request (code, name, neither warehouse_id nor parent_id, too deep)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (with limit)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "conflict (code taken in the warehouse), location_has_stock (the parent holds stock)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_body, idempotency_key_reused, reference_not_found (warehouse_id, parent_id), invalid_parent (parent in another warehouse)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
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
    let code = parse_code(&req.code)?;
    let name = validate_location_name(req.name.as_deref().unwrap_or(""))?;
    let new = match req.parent_id {
        Some(parent_id) => {
            // Locked: a concurrent child creation or deletion of the parent waits.
            let parent = store::locations::get_for_update(&mut tx, parent_id)
                .await?
                .ok_or_else(|| {
                    ApiError::ReferenceNotFound(format!("parent location {parent_id} not found"))
                })?;
            if req.warehouse_id.is_some_and(|w| w != parent.warehouse_id) {
                return Err(ApiError::InvalidParent(
                    "the parent location is in another warehouse".into(),
                ));
            }
            if parent.depth >= LOCATION_DEPTH_MAX {
                return Err(ApiError::BadRequest(format!(
                    "locations nest at most {} levels deep",
                    LOCATION_DEPTH_MAX + 1
                )));
            }
            if store::locations::lock_stock(&mut tx, parent_id).await? {
                return Err(ApiError::LocationHasStock);
            }
            store::locations::NewLocation {
                warehouse_id: parent.warehouse_id,
                parent_id: Some(parent_id),
                path: format!("{}/{code}", parent.path),
                depth: parent.depth + 1,
                code,
                name,
            }
        }
        None => {
            let Some(warehouse_id) = req.warehouse_id else {
                return Err(ApiError::BadRequest(
                    "a location needs a warehouse_id or a parent_id".into(),
                ));
            };
            if store::warehouses::get(&mut tx, warehouse_id)
                .await?
                .is_none()
            {
                return Err(ApiError::ReferenceNotFound(format!(
                    "warehouse {warehouse_id} not found"
                )));
            }
            store::locations::NewLocation {
                warehouse_id,
                parent_id: None,
                path: code.clone(),
                depth: 0,
                code,
                name,
            }
        }
    };
    quota::check(&mut tx, quota::Counted::Locations).await?;
    let l = store::locations::insert(&mut tx, new).await?;
    store::catalog_change::record(
        &mut tx,
        &p,
        Write {
            entity: Entity::Location,
            id: l.id,
            warehouse_id: Some(l.warehouse_id),
            action: "location.create",
            before: None,
            after: Some(&l),
        },
    )
    .await?;
    let body = serde_json::to_value(&l).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &body)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Reads one location.
#[utoipa::path(get, path = "/v1/locations/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the location (permission catalog_read)", body = Location),
        (status = 401, description = "unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found (also for other tenants' locations)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
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
        (status = 400, description = "bad_request (code, name)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (reactivating)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "conflict (code taken in the warehouse)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_body", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_location(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateLocation>,
) -> ApiResult<axum::Json<Location>> {
    let code = req.code.as_deref().map(parse_code).transpose()?;
    let name = req
        .name
        .as_deref()
        .map(validate_location_name)
        .transpose()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = fetch_location_for_update(&mut tx, id).await?;
    if req.active == Some(true) && !before.active {
        quota::check(&mut tx, quota::Counted::Locations).await?;
    }
    // Descendants whose path changed with the code: each gets a catalog change.
    let mut moved = Vec::new();
    if let Some(code) = code.filter(|c| *c != before.code) {
        let new_path = match before.path.rsplit_once('/') {
            Some((parent_path, _)) => format!("{parent_path}/{code}"),
            None => code.clone(),
        };
        moved = store::locations::recode(&mut tx, &before, &code, &new_path).await?;
        moved.retain(|l| l.id != id);
    }
    let after = store::locations::update(&mut tx, id, name, req.active).await?;
    store::catalog_change::record(
        &mut tx,
        &p,
        Write {
            entity: Entity::Location,
            id,
            warehouse_id: Some(after.warehouse_id),
            action: "location.update",
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await?;
    for l in &moved {
        store::catalog_change::upsert(&mut tx, Entity::Location, l.id, Some(l.warehouse_id), l)
            .await?;
    }
    tx.commit().await?;
    Ok(axum::Json(after))
}

/// Deletes a location without children and without stock history.
#[utoipa::path(delete, path = "/v1/locations/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "deleted (permission catalog_manage)"),
        (status = 401, description = "unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden, subscription_expired", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "location_has_stock, location_has_children, location_has_history (deactivate it instead)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn delete_location(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = fetch_location_for_update(&mut tx, id).await?;
    if store::locations::holds_stock(&mut tx, id).await? {
        return Err(ApiError::LocationHasStock);
    }
    if store::locations::has_children(&mut tx, id).await? {
        return Err(ApiError::LocationHasChildren);
    }
    if store::locations::has_history(&mut tx, id).await? {
        return Err(ApiError::LocationHasHistory);
    }
    store::locations::delete(&mut tx, id).await?;
    store::catalog_change::record::<Location>(
        &mut tx,
        &p,
        Write {
            entity: Entity::Location,
            id,
            warehouse_id: Some(before.warehouse_id),
            action: "location.delete",
            before: Some(&before),
            after: None,
        },
    )
    .await?;
    // Its parent may hold stock again (a leaf once more): devices pull it anew. (A new
    // child's parent needs no change row: a pull sends the parent of every location it
    // sends, with its leaf state.)
    if let Some(parent) = before.parent_id
        && let Some(parent) = store::locations::get(&mut tx, parent).await?
    {
        store::catalog_change::upsert(
            &mut tx,
            Entity::Location,
            parent.id,
            Some(parent.warehouse_id),
            &parent,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
