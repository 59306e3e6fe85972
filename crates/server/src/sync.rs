//! The journal push (DESIGN §5.2–5.4): a device's batch decided by `core::Engine` over
//! the batch's rows, locked in key order, in one transaction; and the other writes that
//! decide held movements again (a manager's force or void, the retry after an online
//! movement).
//!
//! The steps of a push, each one statement over the whole batch:
//! 1. lock the device (its pushes run one at a time, in `device_seq` order) and answer
//!    re-sent movements from what is stored;
//! 2. lock every row of the batch in key order (if a row the batch needs does not exist
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
//! 5. write rows, movements, outcome changes, effects, outbox events, the device's next
//!    sequence number and one audit entry, set-based.
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
    Decision, Engine, Movement, MovementId, MovementResult, OrderKey, Outcome, PUSH_BATCH_MAX,
    PushRequest, PushResponse, Receipt, StockKey, TenantId,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::access::{Actor, Principal};
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

/// How many rounds a write may take: rounds end early when a decision needs rows that do
/// not exist yet (created, then again), rows below those already locked (all locks
/// again, in key order), or a deadlock or serialization failure (again after a pause).
const ROUNDS_MAX: usize = 12;

/// How many times a transaction that met a deadlock or serialization failure is run
/// again before the server answers `busy` (503 with Retry-After).
const TRANSIENT_RETRIES_MAX: usize = 4;

/// The shortest pause before running such a transaction again; it doubles, with jitter.
const TRANSIENT_DELAY_MIN_MS: u64 = 5;

/// How many held movements of a row a decision reads at first, from the time the row
/// rose; twice as many each time the retry needs more (see [`core::HeldDemand`]).
///
/// [`core::HeldDemand`]: logiflow_core::engine::HeldDemand
const HELD_WINDOW_MIN: i64 = 64;

/// The most a first reading of a row's held movements takes, however much the movements
/// raise it; more come in later readings if the retry needs them.
const HELD_WINDOW_FIRST_MAX: i64 = 10_000;

/// How a round of a write ended.
enum Round<T> {
    Done(T),
    /// Rows a decision needs do not exist (nothing was written): create them and go again.
    MissingRows(Vec<StockKey>),
    /// The decision needs rows below some it has locked: go again, locking them all in
    /// key order from the start (the scope remembers them).
    Relock,
}

/// Runs rounds of a write until one is done: creates missing rows between rounds (once
/// each, in their own transaction), and runs again after a transient database conflict,
/// with backoff. The caller loops:
/// `loop { let r = round(&mut d.scope, d.created).await; if let Some(done) = d.after(r).await { return done } }`.
struct Driver<'p> {
    pool: &'p PgPool,
    tenant: TenantId,
    scope: Scope,
    created: bool,
    rounds: usize,
    delays: backon::ExponentialBackoff,
}

impl<'p> Driver<'p> {
    fn new(pool: &'p PgPool, tenant: TenantId) -> Self {
        use backon::BackoffBuilder;
        Self {
            pool,
            tenant,
            scope: Scope::default(),
            created: false,
            rounds: 0,
            delays: backon::ExponentialBuilder::default()
                .with_min_delay(std::time::Duration::from_millis(TRANSIENT_DELAY_MIN_MS))
                .with_max_times(TRANSIENT_RETRIES_MAX)
                .with_jitter()
                .build(),
        }
    }

    /// What a round's end means: `Some` to answer, `None` to run another round.
    async fn after<T>(&mut self, round: ApiResult<Round<T>>) -> Option<ApiResult<T>> {
        self.rounds += 1;
        let again = match round {
            Ok(Round::Done(done)) => return Some(Ok(done)),
            Ok(Round::MissingRows(keys)) => {
                let created = async {
                    let mut create = TenantTx::begin(self.pool, self.tenant).await?;
                    store::sync::ensure_known_rows(&mut create, &keys).await?;
                    create.commit().await?;
                    ApiResult::Ok(())
                };
                if let Err(e) = created.await {
                    return Some(Err(e));
                }
                self.created = true;
                None
            }
            Ok(Round::Relock) => None,
            Err(e) if e.is_transient() => match self.delays.next() {
                Some(delay) => {
                    metrics::counter!("logiflow_transient_retries_total").increment(1);
                    tokio::time::sleep(delay).await;
                    None
                }
                None => Some(Err(e)),
            },
            Err(e) => Some(Err(e)),
        };
        if again.is_none() && self.rounds >= ROUNDS_MAX {
            return Some(Err(ApiError::internal(
                "a write kept needing more stock rows than it had locked",
            )));
        }
        again
    }
}

/// What a decision under lock covers: the rows it locks, and which held movements of
/// each row it reads. It only grows from round to round.
#[derive(Debug, Default)]
struct Scope {
    keys: BTreeSet<StockKey>,
    windows: BTreeMap<StockKey, Window>,
}

/// The held movements of one row that a round reads: from `from` on, at most `limit`.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: Option<OrderKey>,
    limit: i64,
}

impl Scope {
    /// The held movements of `key` from `from` on are needed (`None`: all of them), at
    /// least `more` of them beyond the window's first reading.
    fn want(&mut self, key: StockKey, from: Option<OrderKey>, more: i64) {
        let w = self.windows.entry(key).or_insert(Window {
            from,
            limit: HELD_WINDOW_MIN,
        });
        w.from = w.from.min(from);
        w.limit = w.limit.saturating_add(more).min(HELD_WINDOW_FIRST_MAX);
    }

    /// The windows to read for the movements `ms` a round decides itself: each row they
    /// raise from the earliest of them that raises it, each row they count entirely.
    /// A rise of q can wake at most q held outbounds (each needs a unit at least), so
    /// the first reading takes that many: nearly always the only one.
    fn want_woken_by(&mut self, ms: &[Movement]) {
        for m in ms {
            let counts = matches!(m.kind, logiflow_core::MovementKind::Count { .. });
            for side in m.sides() {
                if counts {
                    self.want(side.key, None, 0);
                } else if side.delta > 0 {
                    self.want(side.key, Some(m.order_key()), side.delta);
                }
            }
        }
    }
}

/// Locks the scope's rows in key order. `must_exist` rows that are missing end the round
/// ([`Round::MissingRows`]).
async fn lock_scope(
    tx: &mut TenantTx,
    scope: &Scope,
    must_exist: &[StockKey],
) -> ApiResult<Result<Vec<store::movements::Locked>, Vec<StockKey>>> {
    let keys: Vec<StockKey> = scope.keys.iter().copied().collect();
    let locked = store::movements::lock_rows(tx, &keys).await?;
    let missing: Vec<StockKey> = must_exist
        .iter()
        .filter(|k| !locked.iter().any(|l| l.key == **k))
        .copied()
        .collect();
    Ok(if missing.is_empty() {
        Ok(locked)
    } else {
        Err(missing)
    })
}

/// An engine run under the scope's locks with every held movement it needed.
struct Settled<R> {
    engine: Engine,
    locked: Vec<store::movements::Locked>,
    /// The held movements it was loaded with (the ones it may have decided again).
    held: Vec<(Movement, StockKey)>,
    out: R,
}

/// Reads the held movements of the scope's windows (under the rows' locks, so the list
/// is current: whoever holds or decides a movement that waits on a row holds that row's
/// lock), locks their other rows, and runs `run` on an engine loaded with all of it;
/// then, where the retry needed held movements it did not have (`Engine::held_demand`),
/// widens the windows and runs again, until it had everything. `run` must be a pure
/// function of the engine: it may run several times. `exclude` is a movement never to
/// load as held (the one a force decides itself).
async fn settle<R>(
    tx: &mut TenantTx,
    scope: &mut Scope,
    mut locked: Vec<store::movements::Locked>,
    oldest: OrderKey,
    exclude: Option<Uuid>,
    mut run: impl FnMut(&mut Engine) -> ApiResult<R>,
) -> ApiResult<Round<Settled<R>>> {
    loop {
        let windows: Vec<store::sync::HeldWindow> = scope
            .windows
            .iter()
            .map(|(key, w)| store::sync::HeldWindow {
                key: *key,
                from: w.from,
                limit: w.limit,
            })
            .collect();
        let rows = store::sync::held_waiting(tx, &windows).await?;
        let mut per_key: HashMap<StockKey, i64> = HashMap::new();
        let mut held: Vec<(Movement, StockKey)> = Vec::new();
        for r in &rows {
            let Some((m, waiting_on)) = r.retryable() else {
                continue;
            };
            *per_key.entry(waiting_on).or_default() += 1;
            if Some(r.id) != exclude {
                held.push((m, waiting_on));
            }
        }
        // The other rows of those held movements (a transfer's destination).
        let new_keys: BTreeSet<StockKey> = held
            .iter()
            .flat_map(|(m, _)| m.keys())
            .filter(|k| !scope.keys.contains(k))
            .collect();
        if !new_keys.is_empty() {
            let below = scope
                .keys
                .last()
                .is_some_and(|max| new_keys.first().is_some_and(|k| k < max));
            scope.keys.extend(new_keys.iter().copied());
            if below {
                return Ok(Round::Relock);
            }
            // All above the rows locked so far: locking them now keeps the key order.
            let new_keys: Vec<StockKey> = new_keys.into_iter().collect();
            locked.extend(store::movements::lock_rows(tx, &new_keys).await?);
        }
        let missing: BTreeSet<StockKey> = held
            .iter()
            .flat_map(|(m, _)| m.keys())
            .filter(|k| !locked.iter().any(|l| l.key == *k))
            .collect();
        if !missing.is_empty() {
            return Ok(Round::MissingRows(missing.into_iter().collect()));
        }
        let oldest = held
            .iter()
            .map(|(m, _)| m.order_key())
            .chain([oldest])
            .min()
            .unwrap_or(oldest);
        let tail = tail_after(tx, &locked, oldest).await?;
        let mut engine = loaded_engine(&locked, &tail, &held);
        let out = run(&mut engine)?;

        // Did the retry look where nothing was read?
        let mut widened = false;
        for (key, demand) in engine.held_demand() {
            let read = per_key.get(key).copied().unwrap_or(0);
            match scope.windows.get_mut(key) {
                None => {
                    scope.windows.insert(
                        *key,
                        Window {
                            from: demand.from,
                            limit: HELD_WINDOW_MIN,
                        },
                    );
                    widened = true;
                }
                Some(w) => {
                    let earlier = demand.from < w.from;
                    let beyond = demand.open_end && read >= w.limit;
                    if earlier || beyond {
                        w.from = w.from.min(demand.from);
                        w.limit = w.limit.saturating_mul(2).max(read * 2 + HELD_WINDOW_MIN);
                        widened = true;
                    }
                }
            }
        }
        if !widened {
            return Ok(Round::Done(Settled {
                engine,
                locked,
                held,
                out,
            }));
        }
    }
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
    // Nearly always one round: the rows of a device's movements usually exist. When
    // some do not, the first round stops at its locks, they are created in their own
    // transaction and the next round runs with whatever exists then (rows of unknown
    // products or bins are never created: those movements are rejected).
    let mut d = Driver::new(pool, principal.tenant_id);
    loop {
        let round = push_round(pool, principal, req, clock, &mut d.scope, !d.created).await;
        if let Some(done) = d.after(round).await {
            return done;
        }
    }
}

/// One attempt at a push, in one transaction. With `stop_on_missing`, a batch whose
/// movements need rows that do not exist stops after its locks and names them.
async fn push_round(
    pool: &PgPool,
    principal: &Principal,
    req: &PushRequest,
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
        // Every row of the batch, locked in key order; the held movements those rows
        // may wake are read only then (`settle`), under the locks.
        scope.keys.extend(movements.iter().flat_map(Movement::keys));
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
        let facts = store::movements::load_facts(&mut tx, &movements).await?;
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
        {
            Round::Done(settled) => settled,
            Round::MissingRows(keys) => return Ok(Round::MissingRows(keys)),
            Round::Relock => return Ok(Round::Relock),
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

        let rows = changed_rows(&settled.engine, &settled.locked, &decided);
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
        let stale = store::sync::write_push(
            &mut tx,
            &rows,
            &writes,
            Some((device.id, i64::try_from(next).unwrap_or(i64::MAX))),
        )
        .await?;
        if stale > 0 {
            return Err(stale_decision(stale));
        }
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

/// Each movement's last decision of a run, in the order of those last decisions (a held
/// movement may be decided several times: held again, then applied).
fn last_decisions(all: Vec<(Movement, Decision, bool)>) -> Vec<(Movement, Decision, bool)> {
    let mut last: HashMap<MovementId, usize> = HashMap::new();
    for (i, (m, _, _)) in all.iter().enumerate() {
        last.insert(m.id, i);
    }
    all.into_iter()
        .enumerate()
        .filter(|(i, (m, _, _))| last.get(&m.id) == Some(i))
        .map(|(_, entry)| entry)
        .collect()
}

/// A write found a movement it decided again no longer held: its decision was made on
/// stale state. Never expected (every path locks a held movement's rows before deciding
/// it); the transaction is rolled back and the client may send it again.
fn stale_decision(stale: u64) -> ApiError {
    tracing::error!(
        stale,
        "movements decided again were no longer held; rolled back"
    );
    ApiError::Busy
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
    let stale = store::sync::write_push(tx, &rows, &writes, None).await?;
    if stale > 0 {
        return Err(stale_decision(stale));
    }
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

/// The movement a resolution is about, if it is still held. `lock` locks its row: only
/// with its stock rows locked first (the order every path takes: stock rows in key
/// order, then the movements whose rows they are), so two resolutions of one conflict
/// run one after the other, and neither runs while a push or a retry decides it.
async fn held_movement(
    tx: &mut TenantTx,
    id: Uuid,
    lock: bool,
    done: &str,
) -> ApiResult<(store::sync::MovementRow, Movement)> {
    let row = if lock {
        store::sync::get_for_update(tx, id).await?
    } else {
        store::sync::get(tx, id).await?
    }
    .ok_or(ApiError::NotFound)?;
    if row.outcome != "held" {
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

async fn force_round(
    pool: &PgPool,
    principal: &Principal,
    id: Uuid,
    reason: &str,
    scope: &mut Scope,
) -> ApiResult<Round<MovementResult>> {
    let tenant = principal.tenant_id;
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let (_, recorded) = held_movement(&mut tx, id, false, "forced").await?;
    scope.keys.extend(recorded.keys());
    crate::hooks::reached(tenant, crate::hooks::FORCE_LOCKING).await;
    let locked = match lock_scope(&mut tx, scope, &recorded.keys()).await? {
        Ok(locked) => locked,
        Err(missing) => return Ok(Round::MissingRows(missing)),
    };
    // Still held, now that nobody else can decide it.
    let (row, recorded) = held_movement(&mut tx, id, true, "forced").await?;
    // Held because its device's clock ran ahead: it takes effect when the server
    // received it (`logiflow_core::clock`); the recorded date stays in its flags.
    let hold = row.hold();
    let m = logiflow_core::forced_movement(&recorded, hold.as_ref());
    scope.want_woken_by(&[m]);
    let oldest = m.order_key().min(recorded.order_key());
    let settled = match settle(&mut tx, scope, locked, oldest, Some(id), |engine| {
        let decision = logiflow_core::force_held(&recorded, hold.as_ref(), &engine.views(&m))
            .map_err(ApiError::internal)?;
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
    {
        Round::Done(settled) => settled,
        Round::MissingRows(keys) => return Ok(Round::MissingRows(keys)),
        Round::Relock => return Ok(Round::Relock),
    };
    let (decision, retries) = settled.out;
    let mut decided: Vec<(Movement, Decision, bool)> = vec![(m, decision, false)];
    decided.extend(last_decisions(
        retries.into_iter().map(|(rm, d)| (rm, d, false)).collect(),
    ));
    write_redecided(&mut tx, &settled.engine, &settled.locked, &decided).await?;
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
    let (_, m) = held_movement(&mut tx, id, false, "voided").await?;
    crate::hooks::reached(tenant, crate::hooks::VOID_LOCKING).await;
    let mut keys = m.keys();
    keys.sort();
    store::movements::lock_rows(&mut tx, &keys).await?;
    let (row, _) = held_movement(&mut tx, id, true, "voided").await?;
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
    {
        Round::Done(settled) => settled,
        Round::MissingRows(keys) => return Ok(Round::MissingRows(keys)),
        Round::Relock => return Ok(Round::Relock),
    };
    let decided = last_decisions(
        settled
            .out
            .into_iter()
            .map(|(rm, rd)| (rm, rd, false))
            .collect(),
    );
    if decided.is_empty() {
        return Ok(Round::Done(0));
    }
    write_redecided(&mut tx, &settled.engine, &settled.locked, &decided).await?;
    tx.commit().await?;
    Ok(Round::Done(decided.len()))
}
