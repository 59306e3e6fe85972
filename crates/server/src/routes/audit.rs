//! `/v1/audit`: the tenant's audit log, newest first.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::AuditEntry;
use crate::auth::Require;
use crate::error::ApiResult;
use crate::extract::{ApiQuery, PageQuery, page};
use crate::rbac::perm;
use crate::routes::problems::Reads;
use crate::state::AppState;
use crate::store;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// A page of audit entries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

/// Filters of the audit log (all optional, combined with AND).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Entries at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this instant.
    pub to: Option<DateTime<Utc>>,
}

impl From<AuditFilter> for store::audit::Filter {
    fn from(f: AuditFilter) -> Self {
        Self {
            actor_id: f.actor_id,
            action: f.action,
            target_type: f.target_type,
            target_id: f.target_id,
            from: f.from,
            to: f.to,
        }
    }
}

/// Lists audit entries, newest first.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditFilter, PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of entries (permission audit_read)", body = AuditPage),
        (status = 400, description = "bad_request (filters, limit, cursor)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_audit(
    State(state): State<AppState>,
    p: Require<perm::AuditRead>,
    ApiQuery(f): ApiQuery<AuditFilter>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<AuditPage>> {
    let limit = q.limit()?;
    let before = q.after()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    // Newest first: the cursor is the last (smallest) id of the previous page.
    let filter = f.into();
    let rows = store::audit::list(&mut tx, filter, before, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |e| e.id);
    Ok(axum::Json(AuditPage { items, next_cursor }))
}
