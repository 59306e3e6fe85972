//! The journal (DESIGN §5.2–5.4): a device's push, decided by `core::Engine` over the
//! batch's rows, locked in key order, in one transaction (this file); the other writes
//! that decide held movements again, a manager's force or void and the retry after an
//! online movement (`held`); the rounds all of them run in (`rounds`); and a journal
//! file uploaded for a device that cannot push (`upload`).
//!
//! The steps of a push, each one statement over the whole batch:
//! 0. create or map the lots the device created offline (`lots`, in a transaction of
//!    its own), and name in the movements the lots the server keeps;
//! 1. lock the device (its pushes run one at a time, in `device_seq` order) and answer
//!    re-sent movements from what is stored;
//! 2. lock every row of the batch in key order, with the rows its picks' reservations
//!    are on (a pick may consume one on another row, `ledger::load::reserved_beyond`)
//!    (if a row the batch needs does not exist
//!    yet: give up this transaction, create the missing rows in one of their own and
//!    start again, so a push only ever locks existing rows, in key order), then load the
//!    catalog facts (after the locks, see `store::movements::lock_rows`);
//! 3. only now, under those locks, read the held movements the batch may wake: those
//!    waiting on a row it raises, from the time it raises it, and on a row it counts
//!    (`settle`), lock their other rows, and load the ledger tail after the oldest;
//! 4. submit the movements to an `Engine` in `device_seq` order (`core::validate`
//!    first, then the date bounded by the push's arrival, `core::clock`: one dated
//!    beyond the clock tolerance is held for a person): it decides each and retries held movements whenever a row rises or is
//!    counted, looking only at what that can wake; where it needed held movements that
//!    were not read, read more and decide again;
//! 5. write rows, movements, outcome changes, effects, outbox events and the device's
//!    next sequence number in one statement (`crate::ledger::write`), then one audit
//!    entry.
//!
//! **One lock order for every path** (issue #20): stock rows in key order first, then
//! the movements whose rows those are. A held movement is held, retried, forced or
//! voided only by a transaction that holds the locks of its rows, and the list of held
//! movements a transaction acts on is read after it took those locks, so it is current:
//! a push that waited for another push's locks sees what that push held. Rows beyond the
//! first ones are locked later only when they sort after all of them; otherwise the
//! round starts again locking everything in order (`Round::Relock`). A deadlock or
//! serialization failure, which this order should make impossible, is still run again
//! (`Driver`) and answered `busy` (503) only when that keeps failing. Writing an outcome
//! change checks that the movement is still held, so an outcome never goes back from
//! applied, absorbed or voided.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use logiflow_core::{
    Decision, Flag, Movement, MovementId, MovementResult, OrderKey, Outcome, PUSH_BATCH_MAX,
    PushRequest, PushResponse, Receipt, StockKey, TenantId,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::access::{Actor, Principal};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::ledger::load::{changed_rows, last_decisions, load_facts};
use crate::ledger::write::{self, Event, NewMovement, Redecided, Writes};
use crate::store;
use rounds::{Driver, Round, Scope, cover_reservations, lock_scope, settle, stale_decision};

mod held;
mod lots;
mod rounds;
pub mod upload;

pub use held::{REASON_LEN_MAX, force, retry_held, void};

/// Checks the batch's shape before touching the database.
fn check_shape(req: &PushRequest) -> ApiResult<()> {
    if req.movements.len() > PUSH_BATCH_MAX || req.lots.len() > PUSH_BATCH_MAX {
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

pub(crate) fn seq_of(m: &Movement) -> u64 {
    m.device.map_or(0, |d| d.seq)
}

/// What bounds the dates of a push's movements (`logiflow_core::clock`): the push's
/// arrival, the server's tolerance, the tenant's past limit and when the device was
/// registered.
async fn receipt(
    tx: &mut TenantTx,
    device: &crate::devices::Device,
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

/// The lots `req` declares, created or mapped in a transaction of their own (`lots`),
/// once the session is known to be the pushing device's own: only a device's journal
/// creates lots this way, never another session (which would need `catalog_manage`).
async fn declare_lots(
    pool: &PgPool,
    principal: &Principal,
    req: &PushRequest,
) -> ApiResult<lots::Declared> {
    if req.lots.is_empty() {
        return Ok(lots::Declared::default());
    }
    let Actor::User { session_id, .. } = principal.actor else {
        return Err(ApiError::Forbidden);
    };
    let mut tx = TenantTx::begin(pool, principal.tenant_id).await?;
    let device = store::devices::by_session(&mut tx, session_id)
        .await?
        .filter(|d| d.id == req.device.as_uuid())
        .ok_or(ApiError::Forbidden)?;
    if device.revoked {
        return Err(ApiError::DeviceRevoked);
    }
    let declared = lots::declare(&mut tx, principal, &req.lots, &req.movements).await?;
    tx.commit().await?;
    Ok(declared)
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
    // in the order of events; the same for every round.
    let received_at = Utc::now().trunc_subsecs(6);
    let clock = (received_at, clock_tolerance);
    // The lots the device created offline, before anything is decided (`lots`).
    let declared = declare_lots(pool, principal, req).await?;
    let (movements, lot_flags) = declared.apply(&req.movements);
    let mapped;
    let req = match movements {
        std::borrow::Cow::Borrowed(_) => req,
        std::borrow::Cow::Owned(movements) => {
            mapped = PushRequest {
                device: req.device,
                movements,
                lots: Vec::new(),
            };
            &mapped
        }
    };
    // Nearly always one round: the rows of a device's movements usually exist. When
    // some do not, the first round stops at its locks, they are created in their own
    // transaction and the next round runs with whatever exists then (rows of unknown
    // products or bins are never created: those movements are rejected).
    let mut d = Driver::new(pool, principal.tenant_id);
    loop {
        let round = push_round(
            pool,
            principal,
            (req, &lot_flags),
            clock,
            &mut d.scope,
            !d.created,
        )
        .await;
        if let Some(done) = d.after(round).await {
            return done;
        }
    }
}

/// One attempt at a push, in one transaction. With `stop_on_missing`, a batch whose
/// movements need rows that do not exist stops after its locks and names them.
///
/// Longer than 80 lines: the push's one transaction (device lock, sequence check, stored
/// duplicates, locks, decisions, one write, the answer per movement) is the sync
/// contract's replay, read in the order the design describes it; each step is a call.
async fn push_round(
    pool: &PgPool,
    principal: &Principal,
    (req, lot_flags): (&PushRequest, &HashMap<MovementId, Flag>),
    (received_at, clock_tolerance): (DateTime<Utc>, TimeDelta),
    scope: &mut Scope,
    stop_on_missing: bool,
) -> ApiResult<Round<PushResponse>> {
    let tenant: TenantId = principal.tenant_id;
    let Actor::User {
        session_id,
        id: user_id,
    } = principal.actor
    else {
        return Err(ApiError::Forbidden);
    };

    let mut tx = TenantTx::begin(pool, tenant).await?;
    let device = store::devices::by_session_for_update(&mut tx, session_id)
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
        let stored = store::journal::by_seq(
            &mut tx,
            device.id,
            i64::try_from(seq_of(&first.movement)).unwrap_or(i64::MAX),
            i64::try_from(seq_of(&last.movement)).unwrap_or(i64::MAX),
        )
        .await?;
        let ids: Vec<Uuid> = stored.iter().map(|r| r.id).collect();
        let mut effects = store::journal::effects_of(&mut tx, &ids).await?;
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

    let position = store::journal::position(&mut tx).await?;
    let mut decided: Vec<(Movement, Decision, bool)> = Vec::new();
    if !new.is_empty() {
        let movements: Vec<Movement> = new.iter().map(|p| p.movement).collect();
        // Every row of the batch, locked in key order; the held movements those rows
        // may wake are read only then (`settle`), under the locks.
        scope.keys.extend(movements.iter().flat_map(Movement::keys));
        // With the rows the picks' reservations are on: a pick may consume them.
        scope
            .keys
            .extend(store::movements::reserved_rows(&mut tx, &movements).await?);
        scope.want_woken_by(&movements);
        crate::hooks::reached(tenant, crate::hooks::PUSH_LOCKING).await;
        let batch_keys: Vec<StockKey> = if stop_on_missing {
            movements.iter().flat_map(Movement::keys).collect()
        } else {
            Vec::new()
        };
        let locked = match lock_scope(&mut tx, scope, &batch_keys).await? {
            Ok(locked) => locked,
            Err(missing) => return Ok(Round::MissingRows(missing)),
        };
        // After the locks: see `lock_rows`.
        let facts = load_facts(&mut tx, &movements).await?;
        // A reservation moved since it was read before the locks: lock again.
        if cover_reservations(scope, facts.sales_lines()) {
            return Ok(Round::Relock);
        }
        let receipt = receipt(&mut tx, &device, received_at, clock_tolerance).await?;
        // The ledger tail is read after the oldest movement whose decision reads a row's
        // history (see `Movement::reads_history`): a receipt applies whatever came after
        // it, so a batch of late receipts reads no tail at all.
        let oldest: OrderKey = movements
            .iter()
            .filter(|m| m.reads_history())
            .map(Movement::order_key)
            .min()
            .unwrap_or(OrderKey {
                at: chrono::DateTime::<chrono::Utc>::MAX_UTC,
                id: MovementId::from_uuid(Uuid::max()),
            });
        let settled = match settle(&mut tx, scope, locked, oldest, None, |engine| {
            facts.prime(engine);
            let mut decided: Vec<(Movement, Decision)> = Vec::new();
            for m in &movements {
                decided.extend(
                    engine
                        .submit_received(m, &facts, facts.on_date(m), &receipt)
                        .map_err(ApiError::internal)?,
                );
            }
            Ok(decided)
        })
        .await?
        .done()
        {
            Ok(settled) => settled,
            Err(early) => return Ok(early),
        };
        let held_ids: BTreeSet<MovementId> = settled.held.iter().map(|(m, _)| m.id).collect();
        decided = last_decisions(
            settled
                .out
                .into_iter()
                .map(|(m, d)| {
                    let is_new = !held_ids.contains(&m.id);
                    (m, d, is_new)
                })
                .collect(),
        );
        for (m, d, is_new) in &mut decided {
            if let Some(flag) = lot_flags.get(&m.id).filter(|_| *is_new) {
                d.flags.push(flag.clone());
            }
        }
        lots::keep_declared_flags(&mut tx, &mut decided).await?;

        crate::hooks::reached(tenant, crate::hooks::PUSH_WRITING).await;
        let rows = changed_rows(&settled.engine, &settled.locked, &decided);
        let picks = settled.engine.allocation_changes();
        let next = movements.last().map_or(next_seq, |m| seq_of(m) + 1);
        let mut writes = Writes {
            rows: &rows,
            allocated: &picks.rows,
            events: decided
                .iter()
                .map(|(m, d, _)| Event::decided(m, d))
                .collect(),
            device: Some((device.id, i64::try_from(next).unwrap_or(i64::MAX))),
            ..Writes::default()
        };
        for (m, d, is_new) in &decided {
            if *is_new {
                writes.new.push(NewMovement {
                    movement: m,
                    decision: d,
                    origin: logiflow_core::Origin::Journal,
                    // A journal entry is booked to the device's user (the person signed
                    // in on it), not to a user id the device could put in the entry.
                    user_id,
                    note: None,
                    recorded_at: None,
                });
            } else {
                // A retried one keeps the user it was booked to.
                writes.redecided.push(Redecided {
                    movement: m,
                    decision: d,
                });
            }
        }
        let stale = write::write(&mut tx, &writes).await?.stale;
        if stale > 0 {
            return Err(stale_decision(stale));
        }
        write::allocations(&mut tx, &picks, &rows).await?;
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
