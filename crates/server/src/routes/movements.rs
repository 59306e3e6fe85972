//! `/v1/movements`: recording online movements (intents decided by `crates/core` under
//! the rows' locks) and reading the movement history.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SubsecRound, Utc};
use logiflow_core::{
    AdjustReason, Delta, LocationId, LotId, Movement, MovementId, MovementKind, PositiveQty,
    ProductId, QTY_MAX, Qty, UserId,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Actor, Caller, Principal, Require};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page_by};
use crate::rbac::perm;
use crate::routes::problems::{Reads, Writes};
use crate::state::AppState;
use crate::stock::movement::{MovementView, NOTE_LEN_MAX};
use crate::store;
use crate::store::movements::Recorder;
use crate::users::refuse_forbidden_char;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_movements, create_movement))
        .routes(routes!(get_movement))
        .routes(routes!(force_movement))
        .routes(routes!(void_movement))
}

/// Why stock was adjusted; the reason fixes the sign (damage and loss remove, found adds,
/// a correction may do either).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Damage,
    Loss,
    Found,
    Correction,
}

impl From<Reason> for AdjustReason {
    fn from(r: Reason) -> Self {
        match r {
            Reason::Damage => AdjustReason::Damage,
            Reason::Loss => AdjustReason::Loss,
            Reason::Found => AdjustReason::Found,
            Reason::Correction => AdjustReason::Correction,
        }
    }
}

/// What a new movement does.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NewKind {
    /// `+qty` into a bin.
    Receive { to_location_id: Uuid, qty: i64 },
    /// `−qty` from a bin; refused with `insufficient_stock` beyond the available stock.
    Ship { from_location_id: Uuid, qty: i64 },
    /// `−qty` from one bin and `+qty` into another, atomically.
    Transfer {
        from_location_id: Uuid,
        to_location_id: Uuid,
        qty: i64,
    },
    /// `±delta` with a reason.
    Adjust {
        location_id: Uuid,
        delta: i64,
        reason: Reason,
    },
    /// "This bin holds `counted` now": becomes the adjustment that makes it so. With
    /// `expected` (what the counter was shown), a difference is flagged for review.
    Count {
        location_id: Uuid,
        counted: i64,
        expected: Option<i64>,
    },
}

/// A movement to record now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewMovement {
    pub product_id: Uuid,
    /// Required exactly for lot-tracked products.
    pub lot_id: Option<Uuid>,
    #[serde(flatten)]
    pub kind: NewKind,
    /// Free text, up to 1000 characters.
    pub note: Option<String>,
    /// The order line it fulfils: a receipt names a line of a purchase order
    /// (`unknown_order_line` when there is none; `order_line_mismatch` when it is of
    /// another product). The receipt raises the line's `received`; beyond the ordered
    /// quantity and the tenant's tolerance, or against an order that expects no goods,
    /// it is applied and flagged for review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<MovementReference>,
}

/// An order line a movement names.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct MovementReference {
    #[serde(rename = "type")]
    pub kind: ReferenceKind,
    pub id: Uuid,
}

/// The kind of order line.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    PurchaseLine,
    SalesLine,
}

impl From<MovementReference> for logiflow_core::LineRef {
    fn from(r: MovementReference) -> Self {
        match r.kind {
            ReferenceKind::PurchaseLine => logiflow_core::LineRef::PurchaseLine(r.id),
            ReferenceKind::SalesLine => logiflow_core::LineRef::SalesLine(r.id),
        }
    }
}

fn quantity<T>(field: &str, parsed: Result<T, logiflow_core::QtyError>) -> ApiResult<T> {
    parsed.map_err(|_| {
        ApiError::BadRequest(match field {
            "delta" => format!("delta must be non-zero and within ±{QTY_MAX}"),
            "counted" | "expected" => format!("{field} must be between 0 and {QTY_MAX}"),
            _ => format!("{field} must be between 1 and {QTY_MAX}"),
        })
    })
}

impl NewMovement {
    /// The movement `core` decides on, stamped `at` by the server.
    fn to_core(&self, id: MovementId, at: DateTime<Utc>, user: Uuid) -> ApiResult<Movement> {
        let loc = LocationId::from_uuid;
        let kind = match self.kind {
            NewKind::Receive {
                to_location_id,
                qty,
            } => MovementKind::Receive {
                to: loc(to_location_id),
                qty: quantity("qty", PositiveQty::new(qty))?,
            },
            NewKind::Ship {
                from_location_id,
                qty,
            } => MovementKind::Ship {
                from: loc(from_location_id),
                qty: quantity("qty", PositiveQty::new(qty))?,
            },
            NewKind::Transfer {
                from_location_id,
                to_location_id,
                qty,
            } => MovementKind::Transfer {
                from: loc(from_location_id),
                to: loc(to_location_id),
                qty: quantity("qty", PositiveQty::new(qty))?,
            },
            NewKind::Adjust {
                location_id,
                delta,
                reason,
            } => MovementKind::Adjust {
                at: loc(location_id),
                delta: quantity("delta", Delta::new(delta))?,
                reason: reason.into(),
            },
            NewKind::Count {
                location_id,
                counted,
                expected,
            } => MovementKind::Count {
                at: loc(location_id),
                counted: quantity("counted", Qty::new(counted))?,
                expected: expected
                    .map(|e| quantity("expected", Qty::new(e)))
                    .transpose()?,
            },
        };
        if self
            .note
            .as_ref()
            .is_some_and(|n| n.chars().count() > NOTE_LEN_MAX)
        {
            return Err(ApiError::BadRequest(format!(
                "note must have at most {NOTE_LEN_MAX} characters"
            )));
        }
        if let Some(note) = &self.note {
            refuse_forbidden_char("note", note)?;
        }
        Ok(Movement {
            id,
            occurred_at: at,
            product: ProductId::from_uuid(self.product_id),
            lot: self.lot_id.map(LotId::from_uuid),
            kind,
            user: UserId::from_uuid(user),
            device: None,
            reference: self.reference.map(Into::into),
        })
    }
}

/// [`recorder`] of a caller whose session may not be checked yet, and its session.
fn caller_recorder<P: perm::Perm>(caller: &Caller<P>) -> (Recorder<'_>, Option<Uuid>) {
    match caller {
        Caller::Checked(p) => (
            recorder(p),
            match p.actor {
                Actor::User { session_id, .. } => Some(session_id),
                Actor::ApiKey { .. } => None,
            },
        ),
        Caller::DeferredCheck(u) => (
            Recorder {
                user_id: u.user_id,
                actor_type: "user",
                actor_id: u.user_id,
                request_id: u.request_id.as_deref(),
            },
            Some(u.session_id),
        ),
    }
}

/// The user a movement is booked to, and the actor of its audit entry: a key's
/// movements are booked to the user who created the key.
pub fn recorder(p: &Principal) -> Recorder<'_> {
    let (actor_type, actor_id) = p.audit_actor();
    let user_id = match p.actor {
        Actor::User { id, .. } => id,
        Actor::ApiKey { created_by, .. } => created_by,
    };
    Recorder {
        user_id,
        actor_type,
        actor_id,
        request_id: p.request_id.as_deref(),
    }
}

/// Records a movement now: decided by `crates/core` on the rows it touches, locked in
/// key order; the stock rows, the movement, its ledger effects, an outbox event and the
/// audit entry commit together, or nothing does.
#[utoipa::path(post, path = "/v1/movements", tag = "movements", request_body = NewMovement,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "applied (permission movements_write)", body = MovementView),
        (status = 400, description = "bad_request (qty, delta, counted, expected, note)"),
        (status = 409, description = "insufficient_stock (nothing changed), before_latest_count"),
        (status = 422, description = "invalid_body, idempotency_key_reused, unknown_product, unknown_lot, unknown_location, lot_required, lot_not_tracked, lot_of_other_product, location_not_leaf, same_location, reason_sign_mismatch, inactive_product, inactive_location, lot_expired, quantity_overflow"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_movement(
    State(state): State<AppState>,
    caller: Caller<perm::MovementsWrite>,
    idem: IdempotencyKey,
    body: Result<ApiJson<NewMovement>, ApiError>,
) -> ApiResult<Response> {
    // A replay answers before any batch: its session is checked first (see `Caller`).
    let caller = if idem.is_some() {
        Caller::Checked(caller.checked(&state).await?)
    } else {
        caller
    };
    // Online movements happen now, by the server's clock, kept to the microsecond like
    // every time in the total order of events.
    let now = Utc::now().trunc_subsecs(6);
    let (who, session_id) = caller_recorder(&caller);
    let (req, movement) = match body.and_then(|ApiJson(req)| {
        let movement = req.to_core(MovementId::from_uuid(Uuid::now_v7()), now, who.user_id)?;
        Ok((req, movement))
    }) {
        Ok(valid) => valid,
        Err(e) => {
            // A refused session is answered as such, whatever is wrong with the body.
            caller.checked(&state).await?;
            return Err(e);
        }
    };
    // Serializing and hashing the body is only needed to honour an Idempotency-Key.
    let hash = if idem.is_some() {
        state.request_hash("/v1/movements", &req)
    } else {
        Vec::new()
    };
    if idem.is_some() {
        // A retry answers what the first request answered. (A concurrent duplicate is
        // caught by the key's primary key when its answer is stored below.)
        let mut tx = state.tenant_tx(caller.tenant_id()).await?;
        let replay = idem.replay(&mut tx, &hash).await?;
        tx.commit().await?;
        if let Some(replay) = replay {
            return Ok(replay);
        }
    }
    let tenant_id = caller.tenant_id();
    // Written together with whatever else of the tenant is waiting (`crate::group_commit`),
    // which also checks the session of a caller not checked yet.
    let done = state
        .committer
        .record(
            state.tenant_pool(),
            tenant_id,
            crate::group_commit::Job {
                movement,
                user_id: who.user_id,
                actor_type: who.actor_type.to_owned(),
                actor_id: who.actor_id,
                session_id,
                request_id: who.request_id.map(str::to_owned),
                note: req.note.clone(),
                idempotency: idem.key().map(|k| (k.to_owned(), hash.clone())),
                deferred_check: match &caller {
                    Caller::Checked(_) => None,
                    Caller::DeferredCheck(u) => Some(u.clone()),
                },
            },
        )
        .await?;
    after_commit(&state, &caller, &movement, &done).await;
    Ok((StatusCode::CREATED, axum::Json(done.json)).into_response())
}

/// What an applied online movement sets going once it is committed: the held journal
/// movements waiting on a row it raised or counted, and the back-orders of its product
/// waiting for stock. The movement is committed whatever happens here: a failure is
/// logged, and the next movement on the row or the next push of the product tries again.
async fn after_commit(
    state: &AppState,
    caller: &Caller<perm::MovementsWrite>,
    movement: &logiflow_core::Movement,
    done: &crate::group_commit::Done,
) {
    let tenant_id = caller.tenant_id();
    if let Some(decision) = &done.wakes
        && let Err(e) =
            crate::journal::retry_held(state.tenant_pool(), tenant_id, movement, decision).await
    {
        tracing::warn!(error = %e, "retrying held movements failed");
    }
    if done.raised {
        let principal = match caller {
            Caller::Checked(p) => (**p).clone(),
            Caller::DeferredCheck(u) => u.principal_after_check(),
        };
        if let Err(e) = crate::orders::sales::serve_back_orders(
            state.tenant_pool(),
            &principal,
            &[movement.product.as_uuid()],
        )
        .await
        {
            tracing::warn!(error = %e, "serving back-orders failed");
        }
    }
}

/// Filters of the movement history and its export (all optional, combined with AND),
/// read beside [`PageQuery`] from the same query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MovementFilter {
    pub product_id: Option<Uuid>,
    /// Movements in or out of this bin.
    pub location_id: Option<Uuid>,
    /// receive, ship, transfer, adjust or count.
    pub kind: Option<String>,
    pub user_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    /// applied, absorbed, superseded, held or rejected.
    pub outcome: Option<String>,
    /// `true`: the conflict inbox, what a person should review (held, rejected, or
    /// applied with flags such as a count variance or a negative row).
    #[serde(default)]
    pub review: bool,
    /// Movements that occurred at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Movements that occurred before this instant.
    pub to: Option<DateTime<Utc>>,
}

impl MovementFilter {
    /// The store's filter, after checking the kind and the outcome named.
    pub fn validated(self) -> ApiResult<store::stock::MovementFilter> {
        if let Some(kind) = &self.kind
            && kind.parse::<logiflow_core::KindName>().is_err()
        {
            return Err(ApiError::BadRequest(format!(
                "kind must be one of {}",
                one_of(logiflow_core::KindName::ALL)
            )));
        }
        if let Some(outcome) = &self.outcome
            && outcome.parse::<logiflow_core::OutcomeName>().is_err()
        {
            return Err(ApiError::BadRequest(format!(
                "outcome must be one of {}",
                one_of(logiflow_core::OutcomeName::ALL)
            )));
        }
        Ok(store::stock::MovementFilter {
            product_id: self.product_id,
            location_id: self.location_id,
            kind: self.kind,
            user_id: self.user_id,
            device_id: self.device_id,
            outcome: self.outcome,
            review: self.review,
            from: self.from,
            to: self.to,
        })
    }
}

/// A page of movements.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MovementPage {
    pub items: Vec<MovementView>,
    pub next_cursor: Option<String>,
}

/// `names` joined for an error message.
fn one_of<N: std::fmt::Display>(names: &[N]) -> String {
    names
        .iter()
        .map(N::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lists movements, newest first by `(occurred_at, id)`.
#[utoipa::path(get, path = "/v1/movements", tag = "movements", params(MovementFilter, PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of movements (permission stock_read)", body = MovementPage),
        (status = 400, description = "bad_request (kind, outcome, limit, cursor)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_movements(
    State(state): State<AppState>,
    p: Require<perm::StockRead>,
    ApiQuery(f): ApiQuery<MovementFilter>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<MovementPage>> {
    let limit = q.limit()?;
    let before: Option<(DateTime<Utc>, Uuid)> = q.after_key()?;
    let filter = f.validated()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::stock::list_movements(&mut tx, &filter, before, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page_by(rows, limit, |m| (m.occurred_at, m.id));
    Ok(axum::Json(MovementPage { items, next_cursor }))
}

/// Reads one movement with its effects.
#[utoipa::path(get, path = "/v1/movements/{id}", tag = "movements",
    params(("id" = Uuid, Path, description = "movement id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the movement (permission stock_read)", body = MovementView),
        (status = 404, description = "not_found"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_movement(
    State(state): State<AppState>,
    p: Require<perm::StockRead>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<MovementView>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let movement = store::stock::get_movement(&mut tx, id).await?;
    tx.commit().await?;
    movement.map(axum::Json).ok_or(ApiError::NotFound)
}

/// Why a held movement is forced or voided.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ForceMovement {
    /// 1 to 500 characters, kept in the audit log.
    pub reason: String,
}

/// Forces a held movement through (the conflict inbox): applied without the stock check,
/// flagged `forced`, audited with the reason; held movements it makes possible are
/// retried at once. Answers the movement's new result (`core::sync::MovementResult`).
#[utoipa::path(post, path = "/v1/movements/{id}/force", tag = "movements",
    request_body = ForceMovement,
    params(("id" = Uuid, Path, description = "movement id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "forced (permission conflicts_resolve)", body = Object),
        (status = 400, description = "bad_request (reason)"),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict (the movement is not held)"),
        (status = 422, description = "invalid_body"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn force_movement(
    State(state): State<AppState>,
    p: Require<perm::ConflictsResolve>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<ForceMovement>,
) -> ApiResult<axum::Json<logiflow_core::MovementResult>> {
    Ok(axum::Json(
        crate::journal::force(state.tenant_pool(), &p, id, &req.reason).await?,
    ))
}

/// Voids a held movement (the conflict inbox): it will never apply (the goods were never
/// there, a duplicate scan), is kept with the reason and audited; its device learns it
/// on its next pull. Answers the movement's new result (`core::sync::MovementResult`).
#[utoipa::path(post, path = "/v1/movements/{id}/void", tag = "movements",
    request_body = ForceMovement,
    params(("id" = Uuid, Path, description = "movement id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "voided (permission conflicts_resolve)", body = Object),
        (status = 400, description = "bad_request (reason)"),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict (the movement is not held)"),
        (status = 422, description = "invalid_body"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn void_movement(
    State(state): State<AppState>,
    p: Require<perm::ConflictsResolve>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<ForceMovement>,
) -> ApiResult<axum::Json<logiflow_core::MovementResult>> {
    Ok(axum::Json(
        crate::journal::void(state.tenant_pool(), &p, id, &req.reason).await?,
    ))
}
