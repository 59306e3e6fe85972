//! Recording a movement: the one path from a `core::Movement` to committed stock, used by
//! the API handler and the demo seed.
//!
//! In the movement's transaction: the catalog facts, the rows locked in key order, the
//! decision by `core::judge`, and the writes. Rows that do not exist yet are created
//! first in their own transaction (see [`store::movements::ensure_rows`]) and the
//! movement is decided again, so the movement's transaction only locks existing rows,
//! in order.

use logiflow_core::{Movement, Origin, Outcome, TenantId};
use sqlx::PgPool;

use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::routes::movements::MovementView;
use crate::store;
use crate::store::movements::{Recorder, Write};

/// How often a movement is decided again after creating the stock rows it needs (only a
/// concurrent deletion of those rows could make a second round necessary).
const ROW_CREATION_ROUNDS_MAX: usize = 3;

/// A movement written but not committed: the caller may add to the transaction (an
/// idempotency record) before committing.
#[derive(Debug)]
pub struct Recorded {
    pub tx: TenantTx,
    /// The movement as the API shows it.
    pub view: MovementView,
    /// The same, as JSON.
    pub json: serde_json::Value,
    /// Rows it raised or counted on which held movements of its product may wait: retry
    /// them with [`crate::sync::retry_held`] once `tx` has committed (empty when none
    /// is held).
    pub wakes: Vec<logiflow_core::StockKey>,
}

/// Decides `movement` on its locked rows and writes the decision, stock rows, movement,
/// ledger effects, outbox event and audit entry in one transaction, returned
/// uncommitted. A rejected movement writes nothing: [`ApiError::Movement`].
pub async fn record(
    pool: &PgPool,
    tenant_id: TenantId,
    who: &Recorder<'_>,
    movement: &Movement,
    origin: Origin,
    note: Option<&str>,
) -> ApiResult<Recorded> {
    let keys = movement.keys();
    // The server receives it now; an online movement also happened now.
    let recorded_at =
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6).max(movement.occurred_at);
    for _ in 0..ROW_CREATION_ROUNDS_MAX {
        let mut tx = TenantTx::begin_cached_plans(pool, tenant_id).await?;
        // Lock first, then read the catalog: see `lock_rows`.
        let locked = store::movements::lock_rows(&mut tx, &keys).await?;
        let facts = store::movements::load_facts(&mut tx, std::slice::from_ref(movement)).await?;
        let views = store::movements::views(&mut tx, &keys, &locked, movement.order_key()).await?;
        let decision =
            logiflow_core::judge(movement, origin, &facts, facts.on_date(movement), &views)
                .map_err(ApiError::internal)?;
        if let Outcome::Rejected(rejection) = decision.outcome {
            return Err(ApiError::Movement(rejection));
        }
        let missing: Vec<_> = decision
            .updates
            .iter()
            .filter(|u| !locked.iter().any(|l| l.key == u.key))
            .filter_map(|u| Some((u.key, facts.warehouse(u.key.location)?)))
            .collect();
        if !missing.is_empty() {
            drop(tx);
            let mut create = TenantTx::begin(pool, tenant_id).await?;
            store::movements::ensure_rows(&mut create, &missing).await?;
            create.commit().await?;
            continue;
        }
        let view = MovementView::new(
            movement,
            origin,
            &decision,
            note.map(str::to_owned),
            recorded_at,
        );
        let json = serde_json::to_value(&view).map_err(ApiError::internal)?;
        let held = store::movements::write(
            &mut tx,
            who,
            Write {
                movement,
                origin,
                decision: &decision,
                note,
                recorded_at,
                locked: &locked,
                view: json.clone(),
            },
        )
        .await?;
        let wakes = if held {
            decision.wakes.clone()
        } else {
            Vec::new()
        };
        return Ok(Recorded {
            tx,
            view,
            json,
            wakes,
        });
    }
    Err(ApiError::internal(
        "the stock rows of the movement kept disappearing while it was recorded",
    ))
}
