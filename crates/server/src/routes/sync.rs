//! `/v1/sync`: devices push their journals (DESIGN §5.2). The wire types are
//! `logiflow_core::sync`'s, shared with the replica.

use axum::extract::State;
use logiflow_core::{PULL_PAGE_MAX, PullPage, PushRequest, PushResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Require;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};
use crate::rbac::perm;
use crate::routes::problems::RateLimited;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(push))
        .routes(routes!(pull))
}

/// Pushes an ordered batch of the calling device's journal (`core::sync::PushRequest`:
/// `{device, movements: [{movement, base_cursor}]}`, at most 1000, consecutive
/// `device_seq`). Answers one result per movement (`core::sync::PushResponse`): applied
/// with its effects, absorbed, superseded, held (what it waits on) or rejected (code and
/// message). A re-sent movement answers its stored result; held movements the batch
/// makes possible are applied in the same transaction. A movement dated later than the
/// server's time of receipt plus `clock_ahead_tolerance_secs` (a server setting, default
/// 300) is held for a person with review `clock_ahead` (it takes effect nowhere until a
/// manager forces it, at its receipt time, or voids it); one dated before its device was
/// registered or more than the tenant's `journal_past_limit_days` ago is decided as
/// usual and flagged `dated_before_device` / `dated_long_ago`.
#[utoipa::path(post, path = "/v1/sync/push", tag = "sync",
    request_body = PushRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the results, in the order pushed (permission movements_write, from a registered device's session)", body = Object),
        (status = 400, description = "bad_request (stamps, sequence order)"),
        (status = 401, description = "unauthenticated, device_revoked"),
        (status = 403, description = "forbidden (not this device's session), subscription_expired (the device keeps its journal and pushes after renewal)"),
        (status = 409, description = "sequence_gap (with next_seq), sequence_conflict"),
        (status = 413, description = "batch_too_large, payload_too_large"),
        (status = 422, description = "invalid_body"),
        RateLimited,
    ))]
#[tracing::instrument(skip_all)]
pub async fn push(
    State(state): State<AppState>,
    p: Require<perm::MovementsWrite>,
    ApiJson(req): ApiJson<PushRequest>,
) -> ApiResult<axum::Json<PushResponse>> {
    let response = crate::journal::push(
        state.tenant_pool(),
        &p,
        &req,
        state.config.clock_ahead_tolerance(),
    )
    .await?;
    // Back-orders of the products the batch raised, served after it committed (see
    // `orders::sales::serve_back_orders`); a failure leaves them for the next rise.
    let mut raised: Vec<uuid::Uuid> = req
        .movements
        .iter()
        .zip(&response.results)
        .filter(|(m, r)| {
            m.movement.may_raise() && matches!(r.outcome, logiflow_core::Outcome::Applied { .. })
        })
        .map(|(m, _)| m.movement.product.as_uuid())
        .collect();
    raised.sort();
    raised.dedup();
    if let Err(e) = crate::orders::sales::serve_back_orders(state.tenant_pool(), &p, &raised).await
    {
        tracing::warn!(error = %e, "serving back-orders failed");
    }
    Ok(axum::Json(response))
}

/// `GET /v1/sync/pull` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PullQuery {
    /// The cursor of the previous page; absent to start a snapshot of the device's scope.
    pub cursor: Option<String>,
    /// The most items in the page (1 to 10000, the default).
    pub limit: Option<usize>,
}

/// The changes in the calling device's scope after `cursor` (`core::sync::PullPage`):
/// catalog records, stock rows as of the new cursor, ledger effects, and the outcomes of
/// the device's own movements decided or changed since. Without a cursor, the first page
/// of a snapshot of the scope. Pull again with the page's `cursor` while `has_more`.
/// Never misses a committed change, whatever the order transactions commit in.
#[utoipa::path(get, path = "/v1/sync/pull", tag = "sync", params(PullQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "a page (permission stock_read, from a registered device's session)", body = Object),
        (status = 400, description = "bad_request (limit), invalid_cursor (pull without a cursor to start over)"),
        (status = 401, description = "unauthenticated, device_revoked"),
        (status = 403, description = "forbidden (not a device's session)"),
        RateLimited,
    ))]
#[tracing::instrument(skip_all)]
pub async fn pull(
    State(state): State<AppState>,
    p: Require<perm::StockRead>,
    ApiQuery(q): ApiQuery<PullQuery>,
) -> ApiResult<axum::Json<PullPage>> {
    Ok(axum::Json(
        crate::pull::pull(
            state.tenant_pool(),
            &p,
            q.cursor.as_deref(),
            q.limit.unwrap_or(PULL_PAGE_MAX),
        )
        .await?,
    ))
}
