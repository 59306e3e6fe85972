//! `/v1/alerts`: the tenant's alerts (`crate::alerts`), newest first, with the caller's
//! read marks.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::access::Actor;
use crate::alerts::{Alert, Kind};
use crate::auth::Require;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, PageQuery, page};
use crate::rbac::perm;
use crate::routes::problems::Reads;
use crate::state::AppState;
use crate::store;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_alerts))
        .routes(routes!(mark_read))
}

/// Most alerts marked read in one request.
pub const MARK_READ_MAX: usize = 500;

/// A page of alerts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertPage {
    pub items: Vec<Alert>,
    pub next_cursor: Option<String>,
    /// Alerts matching the warehouse filter that the caller has not read (the bell's
    /// count), whatever the page.
    pub unread: i64,
}

/// Filters of the list (all optional, combined with AND).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertFilter {
    /// Alerts of this warehouse (and those of no warehouse, such as a silent device).
    /// Absent: every warehouse, or a device session's own warehouses.
    pub warehouse_id: Option<Uuid>,
    /// One kind: stock.low, lot.expiring, conflict.held, count.variance, device.silent,
    /// webhook.disabled.
    pub kind: Option<String>,
    /// `true`: only alerts whose condition still holds.
    #[serde(default)]
    pub open: bool,
    /// `true`: only alerts the caller has not read.
    #[serde(default)]
    pub unread: bool,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// The user whose read marks a request sees and sets: a person; an API key has none.
fn reader(p: &crate::access::Principal) -> ApiResult<Uuid> {
    match p.actor {
        Actor::User { id, .. } => Ok(id),
        Actor::ApiKey { .. } => Err(ApiError::BadRequest(
            "read marks belong to a person; an API key has none".into(),
        )),
    }
}

/// Lists alerts, newest first.
#[utoipa::path(get, path = "/v1/alerts", tag = "alerts", params(AlertFilter),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of alerts (permission stock_read)", body = AlertPage),
        (status = 400, description = "bad_request (kind, limit, cursor)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_alerts(
    State(state): State<AppState>,
    p: Require<perm::StockRead>,
    ApiQuery(f): ApiQuery<AlertFilter>,
) -> ApiResult<axum::Json<AlertPage>> {
    // An API key reads the list with no read marks (every alert unread).
    let user = reader(&p).unwrap_or(Uuid::nil());
    if let Some(kind) = &f.kind
        && kind.parse::<Kind>().is_err()
    {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        return Err(ApiError::BadRequest(format!(
            "unknown kind {kind:?}; known: {}",
            known.join(", ")
        )));
    }
    let q = PageQuery {
        cursor: f.cursor.clone(),
        limit: f.limit,
    };
    let limit = q.limit()?;
    let before = q.after()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    // A device's session sees the alerts of its warehouses unless it names one.
    let warehouses = match (f.warehouse_id, p.actor) {
        (Some(w), _) => Some(vec![w]),
        (None, Actor::User { session_id, .. }) => store::devices::by_session(&mut tx, session_id)
            .await?
            .map(|d| d.warehouse_ids),
        (None, Actor::ApiKey { .. }) => None,
    };
    let filter = store::alerts::Filter {
        warehouses: warehouses.clone(),
        kind: f.kind,
        open: f.open,
        unread: f.unread,
    };
    let rows = store::alerts::list(&mut tx, user, &filter, before, limit + 1).await?;
    let unread = store::alerts::unread_count(&mut tx, user, warehouses.as_deref()).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |a| a.id);
    Ok(axum::Json(AlertPage {
        items,
        next_cursor,
        unread,
    }))
}

/// Alerts to mark read.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MarkRead {
    /// 1 to 500 alert ids.
    pub ids: Vec<Uuid>,
}

/// How many were marked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MarkedRead {
    pub marked: u64,
}

/// Marks alerts read for the caller (a person); marking one twice is a no-op. Allowed on
/// a read-only tenant: it changes only the person's own view.
#[utoipa::path(post, path = "/v1/alerts/read", tag = "alerts", request_body = MarkRead,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "marked (permission stock_read)", body = MarkedRead),
        (status = 400, description = "bad_request (no ids, more than 500, an API key)"),
        (status = 422, description = "invalid_body, reference_not_found (an id of no alert of the tenant: nothing is marked)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn mark_read(
    State(state): State<AppState>,
    p: Require<perm::StockRead>,
    ApiJson(req): ApiJson<MarkRead>,
) -> ApiResult<axum::Json<MarkedRead>> {
    let user = reader(&p)?;
    if req.ids.is_empty() || req.ids.len() > MARK_READ_MAX {
        return Err(ApiError::BadRequest(format!(
            "ids lists 1 to {MARK_READ_MAX} alerts"
        )));
    }
    let mut ids = req.ids;
    ids.sort();
    ids.dedup();
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let found = store::alerts::mark_read(&mut tx, user, &ids).await?;
    if found != ids.len() as u64 {
        // Rolled back: all or nothing.
        return Err(ApiError::ReferenceNotFound("an id names no alert".into()));
    }
    tx.commit().await?;
    Ok(axum::Json(MarkedRead { marked: found }))
}
