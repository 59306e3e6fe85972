//! Held movements decided again outside a push: a manager forces one through or voids
//! it (the conflict inbox), and an online movement that raised or counted a row retries
//! the ones waiting on it. Each runs in rounds (`super::rounds`) under the locks of the
//! movement's rows, taken before the movement's own (the one lock order of every path).

use logiflow_core::{Decision, Movement, MovementId, MovementResult, Outcome, TenantId};
use sqlx::PgPool;
use uuid::Uuid;

use super::rounds::{Driver, Round, Scope, cover_reservations, lock_scope, settle, stale_decision};
use super::seq_of;
use crate::access::Principal;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::ledger::load::{changed_rows, last_decisions, lock_rows};
use crate::ledger::write::{self, Event, Redecided, Writes};
use crate::store;

/// Writes held movements decided again (forced, voided or retried): the rows the engine
/// changed, their outcomes, effects and outbox events. They keep the users they were
/// booked to.
async fn write_redecided(
    tx: &mut TenantTx,
    rows: &[(
        logiflow_core::StockKey,
        logiflow_core::StockRow,
        Option<logiflow_core::OrderKey>,
    )],
    decided: &mut [(Movement, Decision, bool)],
    allocated: &[(logiflow_core::StockKey, i64)],
) -> ApiResult<()> {
    super::lots::keep_declared_flags(tx, decided).await?;
    let writes = Writes {
        rows,
        allocated,
        redecided: decided
            .iter()
            .map(|(movement, decision, _)| Redecided { movement, decision })
            .collect(),
        events: decided
            .iter()
            .map(|(m, d, _)| Event::decided(m, d))
            .collect(),
        ..Writes::default()
    };
    let stale = write::write(tx, &writes).await?.stale;
    if stale > 0 {
        return Err(stale_decision(stale));
    }
    Ok(())
}

/// Longest reason given when forcing or voiding a movement (the one bound, in core).
pub use logiflow_core::sync::RESOLVE_REASON_LEN_MAX as REASON_LEN_MAX;

/// Checks a resolution's reason.
fn check_reason(reason: &str) -> ApiResult<&str> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_LEN_MAX {
        return Err(ApiError::BadRequest(format!(
            "reason must have 1 to {REASON_LEN_MAX} characters"
        )));
    }
    Ok(reason)
}

/// The movement a resolution is about, if it is held, read without a lock: to learn
/// which stock rows to lock first.
async fn held_movement(
    tx: &mut TenantTx,
    id: Uuid,
    done: &str,
) -> ApiResult<(store::journal::MovementRow, Movement)> {
    still_held(store::journal::get(tx, id).await?, done)
}

/// The movement a resolution is about, locked, if it is still held: only with its stock
/// rows locked first (the order every path takes: stock rows in key order, then the
/// movements whose rows they are), so two resolutions of one conflict run one after the
/// other, and neither runs while a push or a retry decides it.
async fn held_movement_for_update(
    tx: &mut TenantTx,
    id: Uuid,
    done: &str,
) -> ApiResult<(store::journal::MovementRow, Movement)> {
    still_held(store::journal::get_for_update(tx, id).await?, done)
}

fn still_held(
    row: Option<store::journal::MovementRow>,
    done: &str,
) -> ApiResult<(store::journal::MovementRow, Movement)> {
    let row = row.ok_or(ApiError::NotFound)?;
    if row.outcome != logiflow_core::OutcomeName::Held {
        return Err(ApiError::Conflict(format!(
            "only a held movement can be {done}; this one is {}",
            row.outcome
        )));
    }
    let m = row
        .to_core()
        .ok_or_else(|| ApiError::internal("a stored movement cannot be read back"))?;
    Ok((row, m))
}

/// A manager forces a held movement through (DESIGN §5.3): it is applied without the
/// stock check (rows counted after it still absorb it), flagged `forced`, audited with
/// the reason, and the held movements it makes possible are retried in the same
/// transaction. Devices learn the new outcome when they re-send or pull.
pub async fn force(
    pool: &PgPool,
    principal: &Principal,
    id: Uuid,
    reason: &str,
) -> ApiResult<MovementResult> {
    let reason = check_reason(reason)?;
    let mut d = Driver::new(pool, principal.tenant_id);
    loop {
        let round = force_round(pool, principal, id, reason, &mut d.scope).await;
        if let Some(done) = d.after(round).await {
            return done;
        }
    }
}

/// One attempt at forcing held movement `id`, in one transaction.
///
/// Longer than 80 lines: the movement's lock, the rows it needs, the manager's decision
/// by core and the write are one round of [`Driver`], which retries the whole on a
/// conflict.
async fn force_round(
    pool: &PgPool,
    principal: &Principal,
    id: Uuid,
    reason: &str,
    scope: &mut Scope,
) -> ApiResult<Round<MovementResult>> {
    let tenant = principal.tenant_id;
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let (_, recorded) = held_movement(&mut tx, id, "forced").await?;
    scope.keys.extend(recorded.keys());
    // With the rows its pick's reservations are on: a forced pick consumes them.
    scope
        .keys
        .extend(store::movements::reserved_rows(&mut tx, &[recorded]).await?);
    crate::hooks::reached(tenant, crate::hooks::FORCE_LOCKING).await;
    let locked = match lock_scope(&mut tx, scope, &recorded.keys()).await? {
        Ok(locked) => locked,
        Err(missing) => return Ok(Round::MissingRows(missing)),
    };
    // Still held, now that nobody else can decide it.
    let (row, recorded) = held_movement_for_update(&mut tx, id, "forced").await?;
    // Held because its device's clock ran ahead: it takes effect when the server
    // received it (`logiflow_core::clock`); the recorded date stays in its flags.
    let hold = row.hold();
    let m = logiflow_core::forced_movement(&recorded, hold.as_ref());
    scope.want_woken_by(&[m]);
    let oldest = m.order_key().min(recorded.order_key());
    // The lines it names, so a forced pick consumes its reservations.
    let lines = store::movements::sales_lines_for(&mut tx, &[m]).await?;
    if cover_reservations(scope, lines.iter().map(|(_, l)| l)) {
        return Ok(Round::Relock);
    }
    let settled = match settle(&mut tx, scope, locked, oldest, Some(id), |engine| {
        for (line_id, line) in &lines {
            engine.set_sales_line(*line_id, line.clone());
        }
        let mut decision = logiflow_core::force_held(&recorded, hold.as_ref(), &engine.views(&m))
            .map_err(ApiError::internal)?;
        engine.book_order_lines(&m, &mut decision);
        let effects = match &decision.outcome {
            Outcome::Applied { effects } => effects.clone(),
            _ => Vec::new(),
        };
        let retries = engine
            .apply_effects(&m, &effects)
            .map_err(ApiError::internal)?;
        Ok((decision, retries))
    })
    .await?
    .done()
    {
        Ok(settled) => settled,
        Err(early) => return Ok(early),
    };
    let (decision, retries) = settled.out;
    let mut decided: Vec<(Movement, Decision, bool)> = vec![(m, decision, false)];
    decided.extend(last_decisions(
        retries.into_iter().map(|(rm, d)| (rm, d, false)).collect(),
    ));
    let rows = changed_rows(&settled.engine, &settled.locked, &decided);
    let picks = settled.engine.allocation_changes();
    write_redecided(&mut tx, &rows, &mut decided, &picks.rows).await?;
    write::allocations(&mut tx, &picks, &rows).await?;
    let position = store::journal::position(&mut tx).await?;
    crate::audit_log::record(
        &mut tx,
        principal,
        crate::audit_log::Entry {
            action: "movement.force",
            target_type: "movement",
            target_id: Some(id.to_string()),
            before: Some(serde_json::json!({"outcome": "held", "detail": row.outcome_detail})),
            after: Some(serde_json::json!({
                "outcome": decided[0].1.outcome.name(),
                "reason": reason,
                "retried_held": decided.len() - 1,
                "occurred_at": m.occurred_at,
                "recorded_occurred_at": recorded.occurred_at,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    let (fm, fd, _) = &decided[0];
    Ok(Round::Done(MovementResult {
        movement: fm.id,
        seq: seq_of(fm),
        outcome: fd.outcome.clone(),
        flags: fd.flags.clone(),
        position: Some(u64::try_from(position).unwrap_or(0)),
    }))
}

/// Voids a held movement for `principal` (a manager resolving the conflict inbox): it will
/// never apply, is kept with the reason, audited, and devices learn it on their next pull.
/// Nothing else changes: a held movement had no effect. Its stock rows are locked first
/// (in key order), so a push or retry deciding it at the same moment runs before or
/// after, never across.
pub async fn void(
    pool: &PgPool,
    principal: &Principal,
    id: Uuid,
    reason: &str,
) -> ApiResult<MovementResult> {
    let reason = check_reason(reason)?;
    let mut d = Driver::new(pool, principal.tenant_id);
    loop {
        let round = void_round(pool, principal, id, reason).await;
        if let Some(done) = d.after(round).await {
            return done;
        }
    }
}

async fn void_round(
    pool: &PgPool,
    principal: &Principal,
    id: Uuid,
    reason: &str,
) -> ApiResult<Round<MovementResult>> {
    let tenant = principal.tenant_id;
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let (_, m) = held_movement(&mut tx, id, "voided").await?;
    crate::hooks::reached(tenant, crate::hooks::VOID_LOCKING).await;
    let mut keys = m.keys();
    keys.sort();
    lock_rows(&mut tx, &keys).await?;
    let (row, m) = held_movement_for_update(&mut tx, id, "voided").await?;
    // Nothing else changes: a held movement had no effect, and wakes nothing.
    let voided = Decision {
        outcome: Outcome::Voided {
            reason: reason.to_owned(),
        },
        flags: serde_json::from_value(row.flags.clone()).map_err(ApiError::internal)?,
        updates: Vec::new(),
        wakes: Vec::new(),
    };
    write_redecided(&mut tx, &[], &mut [(m, voided, false)], &[]).await?;
    crate::audit_log::record(
        &mut tx,
        principal,
        crate::audit_log::Entry {
            action: "movement.void",
            target_type: "movement",
            target_id: Some(id.to_string()),
            before: Some(serde_json::json!({"outcome": "held", "detail": row.outcome_detail})),
            after: Some(serde_json::json!({"outcome": "voided", "reason": reason})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Round::Done(MovementResult {
        movement: MovementId::from_uuid(id),
        seq: row
            .device_seq
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0),
        outcome: Outcome::Voided {
            reason: reason.to_owned(),
        },
        flags: serde_json::from_value(row.flags.clone()).unwrap_or_default(),
        position: None,
    }))
}

/// Retries the held movements that a committed online movement `m` (decided `d`) may
/// wake, on the rows it raised or counted (DESIGN §5.3): a push retries within its own
/// transaction; this is the same for writes that do not go through a push. In a
/// transaction of its own, after the other one committed, so the rows are locked in key
/// order as always. Returns how many held movements were decided again.
///
/// Should the process stop between the two commits, the held movements stay held (nothing
/// is lost) until the next movement that raises or counts the row.
pub async fn retry_held(
    pool: &PgPool,
    tenant: TenantId,
    m: &Movement,
    d: &Decision,
) -> ApiResult<usize> {
    if d.wakes.is_empty() {
        return Ok(0);
    }
    let mut driver = Driver::new(pool, tenant);
    loop {
        let round = retry_round(pool, tenant, m, d, &mut driver.scope).await;
        if let Some(done) = driver.after(round).await {
            return done;
        }
    }
}

async fn retry_round(
    pool: &PgPool,
    tenant: TenantId,
    m: &Movement,
    d: &Decision,
    scope: &mut Scope,
) -> ApiResult<Round<usize>> {
    let mut tx = TenantTx::begin(pool, tenant).await?;
    scope.keys.extend(d.wakes.iter().copied());
    scope.want_woken_by(&[*m]);
    crate::hooks::reached(tenant, crate::hooks::RETRY_LOCKING).await;
    let locked = match lock_scope(&mut tx, scope, &[]).await? {
        Ok(locked) => locked,
        Err(missing) => return Ok(Round::MissingRows(missing)),
    };
    let settled = match settle(&mut tx, scope, locked, m.order_key(), None, |engine| {
        engine.retry_after(m, d).map_err(ApiError::internal)
    })
    .await?
    .done()
    {
        Ok(settled) => settled,
        Err(early) => return Ok(early),
    };
    let mut decided = last_decisions(
        settled
            .out
            .into_iter()
            .map(|(rm, rd)| (rm, rd, false))
            .collect(),
    );
    if decided.is_empty() {
        return Ok(Round::Done(0));
    }
    let rows = changed_rows(&settled.engine, &settled.locked, &decided);
    let picks = settled.engine.allocation_changes();
    write_redecided(&mut tx, &rows, &mut decided, &picks.rows).await?;
    write::allocations(&mut tx, &picks, &rows).await?;
    tx.commit().await?;
    Ok(Round::Done(decided.len()))
}
