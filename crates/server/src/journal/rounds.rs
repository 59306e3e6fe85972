//! The rounds a journal write runs in (push, force, void, retry): each round is one
//! transaction; it ends early when a decision needs rows that do not exist yet
//! ([`Round::MissingRows`]: created in a transaction of their own, then again), rows
//! below those it locked ([`Round::Relock`]: again, locking all in key order), or a
//! transient database conflict (again after a pause, [`Driver`]). [`Scope`] remembers
//! what the rounds lock and which held movements they read, and [`settle`] runs an
//! engine under those locks until it had every held movement it needed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use logiflow_core::{Engine, Movement, OrderKey, StockKey, TenantId};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::ledger::load::{Locked, loaded_engine, lock_rows, reserved_beyond, tail_after};
use crate::store;

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
pub(super) enum Round<T> {
    Done(T),
    /// Rows a decision needs do not exist (nothing was written): create them and go again.
    MissingRows(Vec<StockKey>),
    /// The decision needs rows below some it has locked: go again, locking them all in
    /// key order from the start (the scope remembers them).
    Relock,
}

impl<T> Round<T> {
    /// The round's result, or how it ended early, as the end of the caller's round.
    pub(super) fn done<U>(self) -> Result<T, Round<U>> {
        match self {
            Round::Done(done) => Ok(done),
            Round::MissingRows(keys) => Err(Round::MissingRows(keys)),
            Round::Relock => Err(Round::Relock),
        }
    }
}

/// Runs rounds of a write until one is done: creates missing rows between rounds (once
/// each, in their own transaction), and runs again after a transient database conflict,
/// with backoff. The caller loops:
/// `loop { let r = round(&mut d.scope, d.created).await; if let Some(done) =
/// d.after(r).await { return done } }`.
pub(super) struct Driver<'p> {
    pool: &'p PgPool,
    tenant: TenantId,
    pub(super) scope: Scope,
    pub(super) created: bool,
    rounds: usize,
    delays: backon::ExponentialBackoff,
}

impl<'p> Driver<'p> {
    pub(super) fn new(pool: &'p PgPool, tenant: TenantId) -> Self {
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
    pub(super) async fn after<T>(&mut self, round: ApiResult<Round<T>>) -> Option<ApiResult<T>> {
        self.rounds += 1;
        let again = match round {
            Ok(Round::Done(done)) => return Some(Ok(done)),
            Ok(Round::MissingRows(keys)) => {
                let created = async {
                    let mut create = TenantTx::begin(self.pool, self.tenant).await?;
                    store::journal::ensure_known_rows(&mut create, &keys).await?;
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
pub(super) struct Scope {
    pub(super) keys: BTreeSet<StockKey>,
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
    pub(super) fn want_woken_by(&mut self, ms: &[Movement]) {
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

/// Adds to the scope the rows of `lines`' reservations it does not cover yet (see
/// `ledger::load::reserved_beyond`). True when there were some: the round must end with
/// [`Round::Relock`] and the next one lock them all, in key order.
pub(super) fn cover_reservations<'a>(
    scope: &mut Scope,
    lines: impl IntoIterator<Item = &'a logiflow_core::orders::SalesLineState>,
) -> bool {
    let beyond = reserved_beyond(lines, |k| scope.keys.contains(k));
    let any = !beyond.is_empty();
    scope.keys.extend(beyond);
    any
}

/// Locks the scope's rows in key order. `must_exist` rows that are missing end the round
/// ([`Round::MissingRows`]).
pub(super) async fn lock_scope(
    tx: &mut TenantTx,
    scope: &Scope,
    must_exist: &[StockKey],
) -> ApiResult<Result<Vec<Locked>, Vec<StockKey>>> {
    let keys: Vec<StockKey> = scope.keys.iter().copied().collect();
    let locked = lock_rows(tx, &keys).await?;
    let present: HashSet<StockKey> = locked.iter().map(|l| l.key).collect();
    let missing: Vec<StockKey> = must_exist
        .iter()
        .filter(|k| !present.contains(k))
        .copied()
        .collect();
    Ok(if missing.is_empty() {
        Ok(locked)
    } else {
        Err(missing)
    })
}

/// An engine run under the scope's locks with every held movement it needed.
pub(super) struct Settled<R> {
    pub(super) engine: Engine,
    pub(super) locked: Vec<Locked>,
    /// The held movements it was loaded with (the ones it may have decided again).
    pub(super) held: Vec<(Movement, StockKey)>,
    pub(super) out: R,
}

/// Reads the held movements of the scope's windows (under the rows' locks, so the list
/// is current: whoever holds or decides a movement that waits on a row holds that row's
/// lock), locks their other rows, and runs `run` on an engine loaded with all of it;
/// then, where the retry needed held movements it did not have (`Engine::held_demand`),
/// widens the windows and runs again, until it had everything. `run` must be a pure
/// function of the engine: it may run several times. `exclude` is a movement never to
/// load as held (the one a force decides itself).
///
/// Longer than 80 lines: the widening loop (load, run, widen by `held_demand`, again)
/// keeps its windows and locks in local state across rounds; split, that state would have
/// to travel between functions.
pub(super) async fn settle<R>(
    tx: &mut TenantTx,
    scope: &mut Scope,
    mut locked: Vec<Locked>,
    oldest: OrderKey,
    exclude: Option<Uuid>,
    mut run: impl FnMut(&mut Engine) -> ApiResult<R>,
) -> ApiResult<Round<Settled<R>>> {
    loop {
        let windows: Vec<store::journal::HeldWindow> = scope
            .windows
            .iter()
            .map(|(key, w)| store::journal::HeldWindow {
                key: *key,
                from: w.from,
                limit: w.limit,
            })
            .collect();
        let rows = store::journal::held_waiting(tx, &windows).await?;
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
            locked.extend(lock_rows(tx, &new_keys).await?);
        }
        let present: HashSet<StockKey> = locked.iter().map(|l| l.key).collect();
        let missing: BTreeSet<StockKey> = held
            .iter()
            .flat_map(|(m, _)| m.keys())
            .filter(|k| !present.contains(k))
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
        // A held pick applied now consumes its line's reservations, whose rows this
        // transaction must hold.
        let held_moves: Vec<Movement> = held.iter().map(|(m, _)| *m).collect();
        let lines = store::movements::sales_lines_for(tx, &held_moves).await?;
        if cover_reservations(scope, lines.iter().map(|(_, l)| l)) {
            return Ok(Round::Relock);
        }
        for (id, line) in lines {
            engine.set_sales_line(id, line);
        }
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

/// A write found a movement it decided again no longer held: its decision was made on
/// stale state. Never expected (every path locks a held movement's rows before deciding
/// it); the transaction is rolled back and the client may send it again.
pub(super) fn stale_decision(stale: u64) -> ApiError {
    tracing::error!(
        stale,
        "movements decided again were no longer held; rolled back"
    );
    ApiError::Busy
}
