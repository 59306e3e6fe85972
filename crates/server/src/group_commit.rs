//! Group commit of online movements: the `POST /v1/movements` requests of a tenant that
//! arrive while one of them is being written are decided and written together, in one
//! transaction, by whichever of them gets there first (the leader).
//!
//! Each movement is still decided by `crates/core` on its rows as locked `FOR UPDATE` in
//! key order, in the order of the movements' order keys (`occurred_at`, id), exactly as
//! if they had come one after the other: the batch's rows are locked at once, an
//! [`Engine`](logiflow_core::Engine) holding them decides each movement on the rows as the movements before it
//! left them (`crate::ledger::load`), and the changed rows, the movements, their ledger
//! effects, outbox events, audit entries and idempotency records are written in one
//! statement (`crate::ledger::write`, the writer the journal push uses too). A rejected
//! movement writes nothing and answers its own error; the others are unaffected.
//!
//! Why: a movement's own work in PostgreSQL is small next to what every transaction costs
//! (starting the executor for each statement, a round trip each, the commit), and on a
//! busy tenant many movements are waiting at once. Written together they share all of it
//! (see `cargo xtask bench server`). A request alone (nothing else waiting) is a batch of
//! one, with the same statements as before.
//!
//! Inside the batch's transaction, in this order: the sessions of its requests (the
//! deferred session check, `access::DeferredCheck`: one statement for the whole batch
//! instead of a round trip each on arrival; a refused request's movement is not
//! decided); the stock rows `FOR UPDATE` in primary-key order (= `StockKey` order; a
//! product without lots uses the nil uuid as its lot, so the key has no nulls), with the
//! rows the picks' reservations are on (`ledger::load::reserved_beyond`); the
//! catalog facts, read after the locks so a location that just stopped being a leaf is
//! seen; the ledger tail of rows with later effects. A row that does not exist yet is
//! created empty in its own committed transaction and the batch decided again, so the
//! batch only ever locks existing rows, in order. Bins are not locked by movements:
//! giving a location a child locks it and share-locks its stock rows instead
//! (`store::locations::lock_stock`). The transaction keeps generic cached plans
//! (`TenantTx::begin_cached_plans`): its statements take arrays, and planning them on
//! every call cost as much as running them. `stock_row.last_effect_*` holds the order key
//! of the row's latest effect, so a movement later than it knows `effects_after = 0`
//! without summing the ledger. Waiting requests are counted by the gauge
//! `logiflow_movements_waiting`; a batch takes at most [`BATCH_MAX`], in a task of its own, so a
//! client going away mid-batch stops nothing. An online movement that raises or counts a
//! row on which held movements wait calls `sync::retry_held` right after it commits.
//!
//! If the batch's transaction fails as a whole (a database error, e.g. two requests with
//! the same `Idempotency-Key` racing), each of its movements is recorded again on its
//! own, as a batch of one ([`record_alone`]), so one request's problem is never another's.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use logiflow_core::{Decision, Movement, OrderKey, Origin, Outcome, StockKey, TenantId};
use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{load, write};
use crate::stock::movement::MovementView;
use crate::store;

/// Most movements written in one transaction: bounds a batch's statement sizes and the
/// time its rows stay locked.
pub const BATCH_MAX: usize = 64;

/// Prometheus gauge: online movements waiting for their batch, all tenants.
pub const WAITING_GAUGE: &str = "logiflow_movements_waiting";

/// A movement to record, with what its answer and its audit entry need.
#[derive(Debug)]
pub struct Job {
    pub movement: Movement,
    pub user_id: Uuid,
    pub actor_type: String,
    pub actor_id: Uuid,
    /// The person's session: when it is a device's, the audit entry names the device.
    pub session_id: Option<Uuid>,
    pub request_id: Option<String>,
    pub note: Option<String>,
    /// The request's `Idempotency-Key` and hash, recorded with the movement.
    pub idempotency: Option<(String, Vec<u8>)>,
    /// A person's session still to check, which the batch does in its transaction
    /// before deciding anything. (A request with an `Idempotency-Key` is checked before
    /// it looks its key up, so it never has one.)
    pub deferred_check: Option<crate::access::DeferredCheck>,
}

/// A recorded (committed) movement.
#[derive(Debug, Clone)]
pub struct Done {
    /// The movement as the API shows it.
    pub json: serde_json::Value,
    /// Its decision, when it raised or counted rows and held movements of its product
    /// exist: retry them with [`crate::journal::retry_held`].
    pub wakes: Option<Decision>,
    /// It was applied and raised or counted rows: back-orders of its product may be
    /// served ([`crate::orders::sales::serve_back_orders`]).
    pub raised: bool,
}

struct Waiting {
    job: Job,
    reply: oneshot::Sender<ApiResult<Done>>,
}

/// One tenant's waiting movements, and the lock whose holder writes them.
#[derive(Default)]
struct Queue {
    waiting: Mutex<Vec<Waiting>>,
    leader: tokio::sync::Mutex<()>,
}

/// The group committer: one queue per tenant.
#[derive(Default)]
pub struct Committer {
    queues: Mutex<HashMap<TenantId, Arc<Queue>>>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer").finish_non_exhaustive()
    }
}

impl Committer {
    fn queue(&self, tenant: TenantId) -> Arc<Queue> {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(queues.entry(tenant).or_default())
    }

    /// Records `job`'s movement, together with whatever else of the tenant is waiting,
    /// and answers when it is committed (or refused).
    pub async fn record(&self, pool: &PgPool, tenant: TenantId, job: Job) -> ApiResult<Done> {
        let queue = self.queue(tenant);
        let (reply, mut answer) = oneshot::channel();
        queue
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Waiting { job, reply });
        metrics::gauge!(WAITING_GAUGE).increment(1.0);
        loop {
            // Waiters take the lock in turn (tokio's mutex is fair). A leader that took
            // this movement into its batch has answered it by the time the lock is free.
            let leader = queue.leader.lock().await;
            match answer.try_recv() {
                Ok(done) => return done,
                Err(oneshot::error::TryRecvError::Closed) => return Err(unanswered()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch: Vec<Waiting> = {
                let mut waiting = queue
                    .waiting
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let n = waiting.len().min(BATCH_MAX);
                metrics::gauge!(WAITING_GAUGE).decrement(n as f64);
                waiting.drain(..n).collect()
            };
            if batch.is_empty() {
                // Our movement is in a batch still running, whose leader's request went
                // away (the batch runs on in its own task): wait for its answer.
                drop(leader);
                return answer.await.unwrap_or_else(|_| Err(unanswered()));
            }
            // In a task of its own, so that the batch runs to its end and answers
            // everyone even if this request is dropped meanwhile (its client gone).
            let _ = tokio::spawn(run(pool.clone(), tenant, batch)).await;
            drop(leader);
            match answer.try_recv() {
                Ok(done) => return done,
                Err(oneshot::error::TryRecvError::Closed) => return Err(unanswered()),
                // Our movement was beyond this batch's size: lead again.
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
        }
    }
}

fn unanswered() -> ApiError {
    ApiError::internal("the movement's batch ended without answering it")
}

/// Records a batch and answers each of its movements.
async fn run(pool: PgPool, tenant: TenantId, batch: Vec<Waiting>) {
    let pool = &pool;
    let (jobs, replies): (Vec<Job>, Vec<_>) = batch.into_iter().map(|w| (w.job, w.reply)).unzip();
    match record_batch(pool, tenant, &jobs).await {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
        }
        Err(e) => {
            if jobs.len() > 1 {
                tracing::info!(error = %e, movements = jobs.len(), "a movement batch failed; recording each on its own");
            }
            for (job, reply) in jobs.iter().zip(replies) {
                let _ = reply.send(record_alone(pool, tenant, job).await);
            }
        }
    }
}

/// One movement on its own: a batch of one. A request whose `Idempotency-Key` another
/// movement of a failed batch has meanwhile recorded gets that answer, as a retry would.
pub async fn record_alone(pool: &PgPool, tenant: TenantId, job: &Job) -> ApiResult<Done> {
    if let Some((key, hash)) = &job.idempotency {
        let mut tx = TenantTx::begin(pool, tenant).await?;
        let stored = store::idempotency::get(&mut tx, key).await?;
        tx.commit().await?;
        match stored {
            Some((stored_hash, _, _)) if stored_hash != *hash => {
                return Err(ApiError::IdempotencyKeyReused);
            }
            Some((_, _, response)) => {
                return Ok(Done {
                    json: response,
                    wakes: None,
                    raised: false,
                });
            }
            None => {}
        }
    }
    record_batch(pool, tenant, std::slice::from_ref(job))
        .await?
        .pop()
        .unwrap_or_else(|| Err(unanswered()))
}

/// How often a batch is decided again after creating the stock rows it needs (or
/// locking the row of a reservation that moved meanwhile).
const ROW_CREATION_ROUNDS_MAX: usize = 3;

/// Decides and writes `jobs` in one transaction. `Err` when the transaction failed as a
/// whole (nothing written); otherwise each job's own answer, in order (a rejected
/// movement's is [`ApiError::Movement`], and it wrote nothing).
///
/// Longer than 80 lines: one transaction for a batch (deferred session checks, locks in
/// key order, the decisions, one write), whose steps must stay in that order under the
/// same locks; each step is a call, what is left is the order itself.
pub async fn record_batch(
    pool: &PgPool,
    tenant: TenantId,
    jobs: &[Job],
) -> ApiResult<Vec<ApiResult<Done>>> {
    let mut answers: Vec<Option<ApiResult<Done>>> = (0..jobs.len()).map(|_| None).collect();
    let mut order: Vec<usize> = Vec::new();
    let mut movements: Vec<Movement> = Vec::new();
    let mut keys: Vec<StockKey> = Vec::new();
    for round in 0..ROW_CREATION_ROUNDS_MAX {
        let mut tx = TenantTx::begin_cached_plans(pool, tenant).await?;
        if round == 0 {
            // Sessions first: a refused request's movement is not decided at all.
            let deferred = jobs.iter().map(|j| j.deferred_check.as_ref());
            for (i, refusal) in crate::access::authorize_deferred(&mut tx, deferred).await? {
                answers[i] = Some(Err(refusal));
            }
            // Decided in the order of their order keys, as if they had come one by one.
            order = (0..jobs.len()).filter(|&i| answers[i].is_none()).collect();
            order.sort_by_key(|&i| jobs[i].movement.order_key());
            movements = order.iter().map(|&i| jobs[i].movement).collect();
            // With the rows the picks' reservations are on: a pick may consume them.
            let reserved = load::reserved_rows(&mut tx, &movements).await?;
            keys = movements
                .iter()
                .flat_map(Movement::keys)
                .chain(reserved)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            if order.is_empty() {
                tx.commit().await?;
                return Ok(finish(answers));
            }
        }
        let locked = load::lock_rows(&mut tx, &keys).await?;
        // After the locks: see `lock_rows`.
        let facts = load::load_facts(&mut tx, &movements).await?;
        // A reservation moved since it was read before the locks: all again, locking its
        // row too, in key order.
        let beyond = load::reserved_beyond(facts.sales_lines(), |k| keys.binary_search(k).is_ok());
        if !beyond.is_empty() {
            drop(tx);
            keys.extend(beyond);
            keys.sort();
            continue;
        }
        let oldest: OrderKey = movements
            .iter()
            .map(Movement::order_key)
            .min()
            .ok_or_else(|| ApiError::internal("an empty batch"))?;
        let tail = load::tail_after(&mut tx, &locked, oldest).await?;
        let mut engine = load::loaded_engine(&locked, &tail, &[]);
        facts.prime(&mut engine);

        let mut decisions: Vec<Decision> = Vec::with_capacity(movements.len());
        // Each movement as decided: dated after the latest event on its rows when that
        // lies in the server's future (`logiflow_core::online_time`).
        let mut dated: Vec<Movement> = Vec::with_capacity(movements.len());
        for m in &movements {
            let (m, decision) = load::decide_online(&mut engine, m, &facts)?;
            decisions.push(decision);
            dated.push(m);
        }
        // A row that does not exist yet: created in its own transaction, then all again.
        let missing: Vec<StockKey> = decisions
            .iter()
            .flat_map(|d| d.updates.iter().map(|u| u.key))
            .filter(|k| !locked.iter().any(|l| l.key == *k))
            .collect();
        if !missing.is_empty() {
            drop(tx);
            let missing: Vec<_> = missing
                .into_iter()
                .filter_map(|k| Some((k, facts.warehouse(k.location)?)))
                .collect();
            let mut create = TenantTx::begin(pool, tenant).await?;
            store::movements::ensure_rows(&mut create, &missing).await?;
            create.commit().await?;
            continue;
        }

        let recorded_at = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
        let decided: Vec<(Movement, Decision, bool)> = dated
            .iter()
            .zip(&decisions)
            .filter(|(_, d)| !matches!(d.outcome, Outcome::Rejected(_)))
            .map(|(m, d)| (*m, d.clone(), true))
            .collect();
        let rows = load::changed_rows(&engine, &locked, &decided);
        // (position among the jobs, position among the decided, its answer, recorded at)
        let mut answered: Vec<(usize, usize, serde_json::Value, DateTime<Utc>)> = Vec::new();
        for (pos, &i) in order.iter().enumerate() {
            let d = &decisions[pos];
            if let Outcome::Rejected(rejection) = &d.outcome {
                answers[i] = Some(Err(ApiError::Movement(rejection.clone())));
                continue;
            }
            let m = &dated[pos];
            let at = recorded_at.max(m.occurred_at);
            let view = MovementView::new(m, Origin::Online, d, jobs[i].note.clone(), at);
            answered.push((
                i,
                pos,
                serde_json::to_value(&view).map_err(ApiError::internal)?,
                at,
            ));
        }
        let picks = engine.allocation_changes();
        let mut writes = write::Writes {
            rows: &rows,
            allocated: &picks.rows,
            held_of: answered
                .iter()
                .map(|&(_, pos, _, _)| dated[pos].product.as_uuid())
                .collect(),
            ..write::Writes::default()
        };
        for (i, pos, json, at) in &answered {
            let (job, m) = (&jobs[*i], &dated[*pos]);
            // The answer is written once, as the outbox event's payload; the audit entry
            // and the idempotency record take it from there.
            let event = writes.events.len();
            writes.new.push(write::NewMovement {
                movement: m,
                decision: &decisions[*pos],
                origin: Origin::Online,
                user_id: job.user_id,
                note: job.note.as_deref(),
                recorded_at: Some(*at),
            });
            writes.events.push(write::Event {
                topic: "movement.recorded",
                payload: json.clone(),
            });
            writes.audit.push(write::Created {
                movement: m.id.as_uuid(),
                actor_type: &job.actor_type,
                actor_id: job.actor_id,
                session_id: job.session_id,
                request_id: job.request_id.as_deref(),
                after_event: event,
            });
            if let Some((key, hash)) = &job.idempotency {
                writes.idempotency.push(write::Idempotent {
                    key,
                    hash,
                    response_event: event,
                });
            }
        }
        let held_products = write::write(&mut tx, &writes).await?.held_products;
        write::allocations(&mut tx, &picks, &rows).await?;
        drop(writes);
        tx.commit().await?;
        for (i, pos, json, _) in answered {
            let decision = &decisions[pos];
            let wakes = (held_products.contains(&dated[pos].product.as_uuid())
                && !decision.wakes.is_empty())
            .then(|| decision.clone());
            let raised = !decision.wakes.is_empty();
            answers[i] = Some(Ok(Done {
                json,
                wakes,
                raised,
            }));
        }
        return Ok(finish(answers));
    }
    Err(ApiError::internal(
        "the stock rows of the movements kept changing while they were recorded",
    ))
}

fn finish(answers: Vec<Option<ApiResult<Done>>>) -> Vec<ApiResult<Done>> {
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(ApiError::internal("a movement went unanswered"))))
        .collect()
}
