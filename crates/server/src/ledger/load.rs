//! Loading a decision: the stock rows, locked `FOR UPDATE` in key order
//! (`store::movements::lock_rows`; the catalog facts are read after the locks, so a
//! location that just stopped being a leaf is seen), the ledger tail of those rows after
//! the oldest movement to decide, and held movements that may be retried, into a
//! `core::Engine`; then, after the engine decided, the rows to write back.

use std::collections::HashMap;

use logiflow_core::orders::SalesLineState;
use logiflow_core::{Decision, Engine, Movement, MovementId, OrderKey, Outcome, StockKey};

use crate::db::TenantTx;
use crate::error::ApiResult;
use crate::store;

pub use crate::store::movements::{Facts, Locked, load_facts, lock_rows, reserved_rows};

/// The rows the reservations of `lines` are on that `covered` leaves out. A pick may
/// consume its line's reservation on another row than the one it takes from, and then
/// writes that row's `allocated`: its transaction must hold that row's lock, taken in key
/// order with all the others, or it would wait for it late, out of order, and could
/// deadlock with an allocation of the same product (which locks the product's rows in
/// key order). Every writer of decided movements therefore locks the rows of the picks'
/// reservations with the movements' own: read before the locks
/// ([`reserved_rows`]), and checked with this once the lines are read under their
/// orders' locks (they may have moved meanwhile); rows found here mean the transaction
/// must lock again, everything in key order.
pub fn reserved_beyond<'a>(
    lines: impl IntoIterator<Item = &'a SalesLineState>,
    covered: impl Fn(&StockKey) -> bool,
) -> Vec<StockKey> {
    let mut beyond: Vec<StockKey> = lines
        .into_iter()
        .flat_map(|l| l.allocations.iter().map(|a| a.key))
        .filter(|k| !covered(k))
        .collect();
    beyond.sort();
    beyond.dedup();
    beyond
}

/// An engine holding the locked rows, the ledger tail after the oldest movement to
/// decide, and the held movements that may be retried.
pub fn loaded_engine(
    locked: &[Locked],
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

/// The ledger effects after `oldest` of the locked rows, which the engine needs for
/// `effects_after`. Only rows whose latest effect (`stock_row.last_effect_*`, kept by
/// every write under the row's lock) is later than `oldest` can have any: the others are
/// not queried, which is nearly every row of a push (its movements are the newest).
pub async fn tail_after(
    tx: &mut TenantTx,
    locked: &[Locked],
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
    Ok(store::journal::ledger_tail(tx, &keys, oldest).await?)
}

/// Decides an online movement (one recorded now, through the API or an import) on
/// `engine`'s rows: as dated (after the latest event on its rows when that lies in the
/// server's future, `logiflow_core::online_time`) and its decision. Nothing is held
/// online, so its only decision is its own.
pub fn decide_online(
    engine: &mut Engine,
    m: &Movement,
    facts: &Facts,
) -> crate::error::ApiResult<(Movement, Decision)> {
    use crate::error::ApiError;
    engine
        .submit_validated(m, logiflow_core::Origin::Online, facts, facts.on_date(m))
        .map_err(ApiError::internal)?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("the engine decided nothing"))
}

/// The rows whose state an engine run changed or that booked an effect, with their
/// latest booked effect, to write back.
pub fn changed_rows(
    engine: &Engine,
    locked: &[Locked],
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

/// Each movement's last decision of a run, in the order of those last decisions (a held
/// movement may be decided several times: held again, then applied).
pub fn last_decisions(all: Vec<(Movement, Decision, bool)>) -> Vec<(Movement, Decision, bool)> {
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
