//! The journal push (DESIGN §5.2–5.4): a device's batch decided by `core::Engine` over
//! the batch's rows, locked in key order, in one transaction.
//!
//! The steps, each one statement over the whole batch:
//! 1. lock the device (its pushes run one at a time, in `device_seq` order) and answer
//!    re-sent movements from what is stored;
//! 2. load the held movements of the batch's products (all a batch can wake: a held
//!    movement's rows belong to its product) and lock every row of the batch and of
//!    those held movements (if a row the batch needs does not exist yet: give up this
//!    transaction, create the missing rows in one of their own and start again, so a
//!    push only ever locks existing rows, in key order), then load the catalog facts
//!    (after the locks, see `store::movements::lock_rows`) and the ledger tail after
//!    the oldest movement;
//! 3. validate each new movement (`core::validate`) and bound its date by the push's
//!    arrival (`core::clock`: one dated beyond the clock tolerance is held for a person);
//! 4. submit the movements to an `Engine` in `device_seq` order: it decides each and
//!    retries held movements whenever a row rises or is counted;
//! 5. write rows, movements, outcome changes, effects, outbox events, the device's next
//!    sequence number and one audit entry, set-based.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use logiflow_core::{
    Decision, Engine, Movement, MovementId, MovementResult, OrderKey, Outcome, PUSH_BATCH_MAX,
    PushRequest, PushResponse, Receipt, StockKey, TenantId,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{Actor, Principal};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::sync::Decided;

/// Checks the batch's shape before touching the database.
fn check_shape(req: &PushRequest) -> ApiResult<()> {
    if req.movements.len() > PUSH_BATCH_MAX {
        return Err(ApiError::BatchTooLarge {
            max: PUSH_BATCH_MAX,
        });
    }
    let mut previous: Option<u64> = None;
    for p in &req.movements {
        let Some(stamp) = p.movement.device else {
            return Err(ApiError::BadRequest(
                "every pushed movement carries its device stamp".into(),
            ));
        };
        if stamp.device != req.device {
            return Err(ApiError::BadRequest(
                "every pushed movement must be stamped with the pushing device".into(),
            ));
        }
        if stamp.seq == 0 {
            return Err(ApiError::BadRequest("device_seq starts at 1".into()));
        }
        if previous.is_some_and(|p| stamp.seq != p + 1) {
            return Err(ApiError::BadRequest(
                "a batch holds consecutive device_seq values in increasing order".into(),
            ));
        }
        previous = Some(stamp.seq);
    }
    Ok(())
}

fn seq_of(m: &Movement) -> u64 {
    m.device.map_or(0, |d| d.seq)
}

/// What bounds the dates of a push's movements (`logiflow_core::clock`): the push's
/// arrival, the server's tolerance, the tenant's past limit and when the device was
/// registered.
async fn receipt(
    tx: &mut TenantTx,
    device: &crate::routes::devices::Device,
    received_at: DateTime<Utc>,
    ahead_tolerance: TimeDelta,
) -> ApiResult<Receipt> {
    let past_limit_days = store::settings::journal_past_limit_days(tx).await?;
    Ok(Receipt {
        received_at,
        ahead_tolerance,
        past_limit: Some(TimeDelta::days(i64::from(past_limit_days))),
        device_registered_at: Some(device.created_at),
    })
}

/// Processes a push by `principal` (a device's session). A movement dated later than
/// the push's arrival plus `clock_tolerance` is held for a person (`clock_ahead`, see
/// `logiflow_core::clock`).
pub async fn push(
    pool: &PgPool,
    principal: &Principal,
    req: &PushRequest,
    clock_tolerance: TimeDelta,
) -> ApiResult<PushResponse> {
    check_shape(req)?;
    // The server's time of receipt, by its own clock, to the microsecond like every time
    // in the order of events; the same for both rounds.
    let received_at = Utc::now().trunc_subsecs(6);
    let clock = (received_at, clock_tolerance);
    let tenant: TenantId = principal.tenant_id;
    // Nearly always one round: the rows of a device's movements usually exist. When
    // some do not, the first round stops at its locks, they are created in their own
    // transaction and the second round runs with whatever exists then (rows of unknown
    // products or bins are never created: those movements are rejected).
    match push_round(pool, principal, req, clock, true).await? {
        Round::Done(response) => Ok(response),
        Round::MissingRows(keys) => {
            let mut create = TenantTx::begin(pool, tenant).await?;
            store::sync::ensure_known_rows(&mut create, &keys).await?;
            create.commit().await?;
            match push_round(pool, principal, req, clock, false).await? {
                Round::Done(response) => Ok(response),
                Round::MissingRows(_) => Err(ApiError::internal(
                    "a push's second round asked for rows again",
                )),
            }
        }
    }
}

/// How a round of a push ended.
enum Round {
    Done(PushResponse),
    /// Rows the batch needs do not exist (nothing was written): create them and go again.
    MissingRows(Vec<StockKey>),
}

/// One attempt at a push, in one transaction. With `stop_on_missing`, a batch whose
/// movements need rows that do not exist stops after its locks and names them.
async fn push_round(
    pool: &PgPool,
    principal: &Principal,
    req: &PushRequest,
    (received_at, clock_tolerance): (DateTime<Utc>, TimeDelta),
    stop_on_missing: bool,
) -> ApiResult<Round> {
    let tenant: TenantId = principal.tenant_id;
    let Actor::User {
        session_id,
        id: user_id,
    } = principal.actor
    else {
        return Err(ApiError::Forbidden);
    };

    let mut tx = TenantTx::begin(pool, tenant).await?;
    let device = store::devices::by_session(&mut tx, session_id, true)
        .await?
        .ok_or_else(|| ApiError::Forbidden)?;
    if device.id != req.device.as_uuid() {
        return Err(ApiError::Forbidden);
    }
    if device.revoked {
        return Err(ApiError::DeviceRevoked);
    }
    let next_seq = u64::try_from(device.next_seq).unwrap_or(1);

    // Re-sent movements answer their stored results.
    let (resent, new): (Vec<_>, Vec<_>) = req
        .movements
        .iter()
        .partition(|p| seq_of(&p.movement) < next_seq);
    if let Some(first) = new.first()
        && seq_of(&first.movement) != next_seq
    {
        return Err(ApiError::SequenceGap {
            expected: next_seq,
            got: seq_of(&first.movement),
        });
    }
    let mut results: BTreeMap<u64, MovementResult> = BTreeMap::new();
    if let (Some(first), Some(last)) = (resent.first(), resent.last()) {
        let stored = store::sync::by_seq(
            &mut tx,
            device.id,
            i64::try_from(seq_of(&first.movement)).unwrap_or(i64::MAX),
            i64::try_from(seq_of(&last.movement)).unwrap_or(i64::MAX),
        )
        .await?;
        let ids: Vec<Uuid> = stored.iter().map(|r| r.id).collect();
        let mut effects = store::sync::effects_of(&mut tx, &ids).await?;
        for p in &resent {
            let seq = seq_of(&p.movement);
            let row = stored
                .iter()
                .find(|r| r.device_seq == i64::try_from(seq).ok())
                .ok_or_else(|| ApiError::internal("a stored journal entry is missing"))?;
            if row.id != p.movement.id.as_uuid() {
                return Err(ApiError::SequenceConflict(format!(
                    "device_seq {seq} was already pushed with another movement"
                )));
            }
            results.insert(seq, row.result(effects.remove(&row.id).unwrap_or_default()));
        }
    }

    let position = store::sync::position(&mut tx).await?;
    let mut decided: Vec<(Movement, Decision, bool)> = Vec::new();
    if !new.is_empty() {
        let movements: Vec<Movement> = new.iter().map(|p| p.movement).collect();
        let mut products: Vec<Uuid> = movements.iter().map(|m| m.product.as_uuid()).collect();
        products.sort();
        products.dedup();
        let held = store::sync::held_of(&mut tx, &products).await?;
        let held: Vec<(Movement, StockKey)> = held
            .iter()
            .filter_map(store::sync::MovementRow::retryable)
            .collect();

        // Every row the batch or a held movement it may wake touches, locked in key order.
        let mut all_keys: BTreeSet<StockKey> = movements.iter().flat_map(|m| m.keys()).collect();
        all_keys.extend(held.iter().flat_map(|(m, _)| m.keys()));
        let all_keys: Vec<StockKey> = all_keys.into_iter().collect();
        let locked = store::movements::lock_rows(&mut tx, &all_keys).await?;
        if stop_on_missing {
            let missing: Vec<StockKey> = movements
                .iter()
                .flat_map(Movement::keys)
                .filter(|k| !locked.iter().any(|l| l.key == *k))
                .collect();
            if !missing.is_empty() {
                return Ok(Round::MissingRows(missing));
            }
        }
        // After the locks: see `lock_rows`.
        let facts = store::movements::load_facts(&mut tx, &movements).await?;
        let oldest: OrderKey = movements
            .iter()
            .chain(held.iter().map(|(m, _)| m))
            .map(Movement::order_key)
            .min()
            .ok_or_else(|| ApiError::internal("an empty batch has no oldest movement"))?;
        let tail = tail_after(&mut tx, &locked, oldest).await?;

        let mut engine = loaded_engine(&locked, &tail, &held);
        let receipt = receipt(&mut tx, &device, received_at, clock_tolerance).await?;
        let held_ids: BTreeSet<MovementId> = held.iter().map(|(m, _)| m.id).collect();
        // The last decision of each movement wins (a held one may be applied later in
        // the same batch).
        let mut last: HashMap<MovementId, usize> = HashMap::new();
        for m in &movements {
            let mut outputs = engine
                .submit_received(m, &facts, facts.on_date(m), &receipt)
                .map_err(ApiError::internal)?;
            for (dm, d) in outputs.drain(..) {
                let is_new = !held_ids.contains(&dm.id);
                decided.push((dm, d, is_new));
                last.insert(dm.id, decided.len() - 1);
            }
        }
        // Keep each movement's final decision only.
        let mut finals: Vec<(Movement, Decision, bool)> = Vec::new();
        for (i, entry) in decided.into_iter().enumerate() {
            if last.get(&entry.0.id) == Some(&i) {
                finals.push(entry);
            }
        }
        decided = finals;

        let rows = changed_rows(&engine, &locked, &decided);
        let writes: Vec<Decided<'_>> = decided
            .iter()
            .map(|(m, d, is_new)| Decided {
                movement: m,
                decision: d,
                // A journal entry is booked to the device's user (the person signed in on
                // it), not to a user id the device could put in the entry; a retried one
                // keeps the user it was booked to.
                user_id: if *is_new { user_id } else { m.user.as_uuid() },
                new: *is_new,
            })
            .collect();
        let next = movements.last().map_or(next_seq, |m| seq_of(m) + 1);
        store::sync::write_push(
            &mut tx,
            &rows,
            &writes,
            Some((device.id, i64::try_from(next).unwrap_or(i64::MAX))),
        )
        .await?;
        for (m, d, is_new) in &decided {
            if !is_new {
                continue;
            }
            let is_final = matches!(
                d.outcome,
                Outcome::Applied { .. } | Outcome::Absorbed | Outcome::Superseded
            );
            results.insert(
                seq_of(m),
                MovementResult {
                    movement: m.id,
                    seq: seq_of(m),
                    outcome: d.outcome.clone(),
                    flags: d.flags.clone(),
                    position: is_final.then(|| u64::try_from(position).unwrap_or(0)),
                },
            );
        }
    }

    let counts = |name: &str| {
        results
            .values()
            .filter(|r| r.outcome.name() == name)
            .count()
    };
    crate::audit_log::record(
        &mut tx,
        principal,
        crate::audit_log::Entry {
            action: "sync.push",
            target_type: "device",
            target_id: Some(device.id.to_string()),
            before: None,
            after: Some(serde_json::json!({
                "movements": req.movements.len(),
                "resent": resent.len(),
                "applied": counts("applied"),
                "held": counts("held"),
                "rejected": counts("rejected"),
                "retried_held": decided.iter().filter(|d| !d.2).count(),
            })),
        },
    )
    .await?;
    let next_seq = new.last().map_or(next_seq, |p| seq_of(&p.movement) + 1);
    tx.commit().await?;
    Ok(Round::Done(PushResponse {
        results: results.into_values().collect(),
        next_seq,
        server_time: chrono::Utc::now(),
    }))
}

/// The rows whose state an engine run changed or that booked an effect, with their
/// latest booked effect, to write back.
/// The ledger effects after `oldest` of the locked rows, which the engine needs for
/// `effects_after`. Only rows whose latest effect (`stock_row.last_effect_*`, kept by
/// every write under the row's lock) is later than `oldest` can have any: the others are
/// not queried, which is nearly every row of a push (its movements are the newest).
pub(crate) async fn tail_after(
    tx: &mut TenantTx,
    locked: &[store::movements::Locked],
    oldest: OrderKey,
) -> ApiResult<Vec<(StockKey, OrderKey, i64)>> {
    let keys: Vec<StockKey> = locked
        .iter()
        .filter(|l| l.last_effect.is_some_and(|e| e > oldest))
        .map(|l| l.key)
        .collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(store::sync::ledger_tail(tx, &keys, oldest).await?)
}

/// Writes movements decided again outside a push (forced, or held ones retried): the
/// rows the engine changed, their outcomes and effects, booked to their own users.
async fn write_redecided(
    tx: &mut TenantTx,
    engine: &Engine,
    locked: &[store::movements::Locked],
    decided: &[(Movement, Decision, bool)],
) -> ApiResult<()> {
    let rows = changed_rows(engine, locked, decided);
    let writes: Vec<Decided<'_>> = decided
        .iter()
        .map(|(dm, d, _)| Decided {
            movement: dm,
            decision: d,
            user_id: dm.user.as_uuid(),
            new: false,
        })
        .collect();
    store::sync::write_push(tx, &rows, &writes, None).await?;
    Ok(())
}

/// An engine holding the locked rows, the ledger tail after the oldest movement to
/// decide, and the held movements that may be retried.
pub(crate) fn loaded_engine(
    locked: &[store::movements::Locked],
    tail: &[(StockKey, OrderKey, i64)],
    held: &[(Movement, StockKey)],
) -> Engine {
    let mut engine = Engine::new();
    for l in locked {
        engine.set_row(l.key, l.row);
    }
    for (key, order, delta) in tail {
        engine.book(*key, *order, *delta);
    }
    for (h, waiting_on) in held {
        engine.add_held(*h, *waiting_on);
    }
    engine
}

pub(crate) fn changed_rows(
    engine: &Engine,
    locked: &[store::movements::Locked],
    decided: &[(Movement, Decision, bool)],
) -> Vec<(StockKey, logiflow_core::StockRow, Option<OrderKey>)> {
    let mut latest: HashMap<StockKey, OrderKey> = HashMap::new();
    for (m, d, _) in decided {
        if let Outcome::Applied { effects } = &d.outcome {
            for e in effects {
                let k = latest.entry(e.key).or_insert(m.order_key());
                *k = (*k).max(m.order_key());
            }
        }
    }
    let mut rows = Vec::new();
    for l in locked {
        let now = engine.row(&l.key);
        let booked = latest.get(&l.key).copied();
        if now != l.row || booked.is_some() {
            rows.push((l.key, now, l.last_effect.max(booked)));
        }
    }
    rows
}

/// Longest reason given when forcing a movement.
pub const REASON_LEN_MAX: usize = 500;

/// Checks a resolution's reason, then locks the movement (two resolutions of the same
/// conflict run one after the other) and checks it is still held. `done` names the
/// resolution for the error message.
async fn open_held<'r>(
    pool: &PgPool,
    principal: &Principal,
    id: Uuid,
    reason: &'r str,
    done: &str,
) -> ApiResult<(&'r str, TenantTx, store::sync::MovementRow)> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_LEN_MAX {
        return Err(ApiError::BadRequest(format!(
            "reason must have 1 to {REASON_LEN_MAX} characters"
        )));
    }
    let mut tx = TenantTx::begin(pool, principal.tenant_id).await?;
    let row = store::sync::get_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if row.outcome != "held" {
        return Err(ApiError::Conflict(format!(
            "only a held movement can be {done}; this one is {}",
            row.outcome
        )));
    }
    Ok((reason, tx, row))
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
    let (reason, mut tx, row) = open_held(pool, principal, id, reason, "forced").await?;
    let recorded = row
        .to_core()
        .ok_or_else(|| ApiError::internal("a stored movement cannot be read back"))?;
    // Held because its device's clock ran ahead: it takes effect when the server
    // received it (`logiflow_core::clock`); the recorded date stays in its flags.
    let hold = row.hold();
    let m = logiflow_core::forced_movement(&recorded, hold.as_ref());
    let held = store::sync::held_of(&mut tx, &[m.product.as_uuid()]).await?;
    let held: Vec<(Movement, StockKey)> = held
        .iter()
        .filter(|r| r.id != id)
        .filter_map(store::sync::MovementRow::retryable)
        .collect();
    let mut keys: BTreeSet<StockKey> = m.keys().into_iter().collect();
    keys.extend(held.iter().flat_map(|(h, _)| h.keys()));
    let keys: Vec<StockKey> = keys.into_iter().collect();
    let locked = store::movements::lock_rows(&mut tx, &keys).await?;
    let oldest = held
        .iter()
        .map(|(h, _)| h.order_key())
        .chain([m.order_key()])
        .min()
        .unwrap_or(m.order_key());
    let tail = tail_after(&mut tx, &locked, oldest).await?;
    let mut engine = loaded_engine(&locked, &tail, &held);
    let decision = logiflow_core::force_held(&recorded, hold.as_ref(), &engine.views(&m))
        .map_err(ApiError::internal)?;
    let effects = match &decision.outcome {
        Outcome::Applied { effects } => effects.clone(),
        _ => Vec::new(),
    };
    let retries = engine
        .apply_effects(&m, &effects)
        .map_err(ApiError::internal)?;
    let mut decided: Vec<(Movement, Decision, bool)> = vec![(m, decision, false)];
    // Each retried movement's last decision.
    let mut last: HashMap<MovementId, Decision> = HashMap::new();
    for (rm, d) in retries {
        last.insert(rm.id, d);
    }
    for (h, _) in &held {
        if let Some(d) = last.remove(&h.id) {
            decided.push((*h, d, false));
        }
    }
    write_redecided(&mut tx, &engine, &locked, &decided).await?;
    let position = store::sync::position(&mut tx).await?;
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
    Ok(MovementResult {
        movement: fm.id,
        seq: seq_of(fm),
        outcome: fd.outcome.clone(),
        flags: fd.flags.clone(),
        position: Some(u64::try_from(position).unwrap_or(0)),
    })
}

/// Voids a held movement for `principal` (a manager resolving the conflict inbox): it will
/// never apply, is kept with the reason, audited, and devices learn it on their next pull.
/// Nothing else changes: a held movement had no effect.
pub async fn void(
    pool: &PgPool,
    principal: &Principal,
    id: Uuid,
    reason: &str,
) -> ApiResult<MovementResult> {
    let (reason, mut tx, row) = open_held(pool, principal, id, reason, "voided").await?;
    store::sync::void(&mut tx, &row, reason).await?;
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
    Ok(MovementResult {
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
    })
}

/// Retries the held movements of `product` after a committed movement (an online one, or
/// a stock import) raised or counted the rows `wakes` (DESIGN §5.3): a push retries within
/// its own transaction; this is the same for writes that do not go through a push. In a
/// transaction of its own, after the other one committed, so the rows are locked in key
/// order as always. Returns how many held movements were decided again.
///
/// Should the process stop between the two commits, the held movements stay held (nothing
/// is lost) until the next movement that raises the row, or the next push of the product.
pub async fn retry_held(
    pool: &PgPool,
    tenant: TenantId,
    product: Uuid,
    wakes: &[StockKey],
) -> ApiResult<usize> {
    if wakes.is_empty() {
        return Ok(0);
    }
    // The rows every held movement of the product needs, created if missing (their own
    // transaction, as for pushes), then locked in key order.
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let held = store::sync::held_of(&mut tx, &[product]).await?;
    tx.commit().await?;
    let mut keys: BTreeSet<StockKey> = wakes.iter().copied().collect();
    keys.extend(
        held.iter()
            .filter_map(|r| r.to_core())
            .flat_map(|m| m.keys()),
    );
    let keys: Vec<StockKey> = keys.into_iter().collect();
    if held.is_empty() {
        return Ok(0);
    }
    let mut create = TenantTx::begin(pool, tenant).await?;
    store::sync::ensure_known_rows(&mut create, &keys).await?;
    create.commit().await?;

    let mut tx = TenantTx::begin(pool, tenant).await?;
    let locked = store::movements::lock_rows(&mut tx, &keys).await?;
    // Read again under the rows' locks: whoever decides a held movement locks its rows
    // first, so this is current. One that appeared meanwhile with other rows waits for
    // its own trigger.
    let held: Vec<(Movement, StockKey)> = store::sync::held_of(&mut tx, &[product])
        .await?
        .iter()
        .filter_map(store::sync::MovementRow::retryable)
        .filter(|(m, _)| m.keys().iter().all(|k| keys.binary_search(k).is_ok()))
        .collect();
    let Some(oldest) = held.iter().map(|(m, _)| m.order_key()).min() else {
        return Ok(0);
    };
    let tail = tail_after(&mut tx, &locked, oldest).await?;
    let mut engine = loaded_engine(&locked, &tail, &held);
    let retries = engine.retry(wakes).map_err(ApiError::internal)?;
    let mut last: HashMap<MovementId, Decision> = HashMap::new();
    for (rm, d) in retries {
        last.insert(rm.id, d);
    }
    let decided: Vec<(Movement, Decision, bool)> = held
        .iter()
        .filter_map(|(h, _)| Some((*h, last.remove(&h.id)?, false)))
        .collect();
    if decided.is_empty() {
        return Ok(0);
    }
    write_redecided(&mut tx, &engine, &locked, &decided).await?;
    tx.commit().await?;
    Ok(decided.len())
}
