//! The projection: last pulled server state + unsettled journal entries, replayed in
//! `device_seq` order by the core's rules (DESIGN §5.1).
//!
//! This is the server's replay loop in miniature, run over the replica's copy:
//!
//! * The **base** is the pulled rows and the pulled ledger effects of the rows the
//!   journal touches. `effects_after` for a journal entry at `t` is the sum of the pulled
//!   effects after `t` *plus* the effects this projection already applied after `t`. For
//!   entries recorded on this device after the last pull the pulled part is zero in
//!   practice (the server has nothing later than "now"), but after a later pull it is not:
//!   another device's shipment at `t9`, pulled before our count at `t5` is pushed, must be
//!   subtracted from the count's `q_t` exactly as the server will. That is why the
//!   replica keeps the recent pulled ledger instead of assuming zero.
//! * An entry the server already **applied** (known from a push response) but that no
//!   pull has reflected yet contributes the server's own effects verbatim: the server
//!   knew more than we do.
//! * An entry never pushed, or **held** on the server, is decided again locally with
//!   [`logiflow_core::decide`] as a journal fact. Held entries are kept and retried, oldest
//!   first, when a row they need rises or is counted ([`logiflow_core::retry_order`] and
//!   [`logiflow_core::Decision::wakes`]), until nothing moves — as on the server.
//!   An entry the server holds stays in the projection even after a pull carried that
//!   outcome: the pulled rows hold nothing of it, and a later entry of this journal (a
//!   count of its bin) may release or absorb it here before the server sees that entry.
//! * Entries rejected, absorbed or superseded by the server have no effect and are left
//!   out; so are applied entries whose outcome a pull has carried (`settled`), since the
//!   pulled rows already include them.

use std::collections::{BTreeMap, HashMap, VecDeque};

use logiflow_core::{
    DecideError, Decision, Effect, Flag, HeldRef, Movement, MovementId, MovementKind, OrderKey,
    Origin, Outcome, RowView, StockKey, StockRow, decide, retry_order,
};

/// What the replica knows of an unsettled entry's fate on the server.
#[derive(Debug, Clone)]
pub(crate) enum Known {
    /// Not pushed yet.
    Unpushed,
    /// Pushed and held.
    Held,
    /// Pushed and applied with these effects.
    Applied(Vec<Effect>),
}

/// An unsettled journal entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub movement: Movement,
    pub known: Known,
}

/// The projected rows and the predicted fate of each entry.
#[derive(Debug, Default)]
pub(crate) struct Projection {
    /// Projected state of every row the entries touch.
    pub rows: BTreeMap<StockKey, StockRow>,
    /// The pulled state of the same rows, to show what is still pending.
    pub pulled: BTreeMap<StockKey, StockRow>,
    /// Per entry: the outcome as projected and the flags raised.
    pub predicted: HashMap<MovementId, (Outcome, Vec<Flag>)>,
}

#[derive(Debug)]
struct Engine {
    rows: BTreeMap<StockKey, StockRow>,
    ledger: BTreeMap<StockKey, Vec<(OrderKey, i64)>>,
    held: BTreeMap<MovementId, (Movement, HeldRef)>,
    predicted: HashMap<MovementId, (Outcome, Vec<Flag>)>,
}

/// Adds an effect to a row's ledger, keeping it sorted by order key.
fn book(
    ledger: &mut BTreeMap<StockKey, Vec<(OrderKey, i64)>>,
    key: StockKey,
    at: OrderKey,
    delta: i64,
) {
    let l = ledger.entry(key).or_default();
    let i = l.partition_point(|(k, _)| *k <= at);
    l.insert(i, (at, delta));
}

impl Engine {
    fn view(&self, key: StockKey, order: OrderKey) -> RowView {
        let row = self.rows.get(&key).copied().unwrap_or_default();
        // Each row's ledger is kept sorted by order key, and journal entries mostly come
        // in time order, so the effects after an entry are a short (usually empty) tail.
        let effects_after = self.ledger.get(&key).map_or(0, |l| {
            let from = l.partition_point(|(k, _)| *k <= order);
            l[from..].iter().map(|(_, d)| d).sum()
        });
        RowView {
            key,
            row,
            effects_after,
        }
    }

    fn decide(&self, m: &Movement) -> Result<Decision, DecideError> {
        let views: Vec<RowView> = m
            .keys()
            .into_iter()
            .map(|k| self.view(k, m.order_key()))
            .collect();
        decide(m, Origin::Journal, &views)
    }

    fn commit(&mut self, m: &Movement, d: Decision) {
        if let Outcome::Applied { effects } = &d.outcome {
            for e in effects.iter().filter(|e| !e.absorbed) {
                book(&mut self.ledger, e.key, m.order_key(), e.delta);
            }
        }
        for u in &d.updates {
            self.rows.insert(u.key, u.row);
        }
        self.predicted.insert(m.id, (d.outcome, d.flags));
    }

    fn apply_known(&mut self, m: &Movement, effects: &[Effect]) -> Vec<StockKey> {
        let mut wakes = Vec::new();
        for e in effects.iter().filter(|e| !e.absorbed) {
            let row = self.rows.entry(e.key).or_default();
            row.on_hand = row.on_hand.saturating_add(e.delta);
            if matches!(m.kind, MovementKind::Count { .. }) {
                let order = m.order_key();
                if row.last_count.is_none_or(|c| c < order) {
                    row.last_count = Some(order);
                }
                wakes.push(e.key);
            } else if e.delta > 0 {
                wakes.push(e.key);
            }
            book(&mut self.ledger, e.key, m.order_key(), e.delta);
        }
        self.predicted.insert(
            m.id,
            (
                Outcome::Applied {
                    effects: effects.to_vec(),
                },
                Vec::new(),
            ),
        );
        wakes
    }

    fn settle(&mut self, wakes: Vec<StockKey>) -> Result<(), DecideError> {
        let mut queue: VecDeque<StockKey> = wakes.into();
        while let Some(key) = queue.pop_front() {
            for id in retry_order(self.held.values().map(|(_, r)| r), &key) {
                let m = self.held[&id].0;
                let d = self.decide(&m)?;
                match &d.outcome {
                    Outcome::Held(h) => {
                        if let Some(entry) = self.held.get_mut(&id) {
                            entry.1.waiting_on = h.waiting_on;
                        }
                        self.predicted.insert(id, (d.outcome, d.flags));
                    }
                    _ => {
                        self.held.remove(&id);
                        queue.extend(d.wakes.iter().copied());
                        self.commit(&m, d);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Replays `entries` (in `device_seq` order) over the pulled `rows` and `ledger` of the
/// rows they touch.
pub(crate) fn project(
    rows: BTreeMap<StockKey, StockRow>,
    ledger: BTreeMap<StockKey, Vec<(OrderKey, i64)>>,
    entries: &[Entry],
) -> Result<Projection, DecideError> {
    let pulled = rows.clone();
    let mut ledger = ledger;
    for l in ledger.values_mut() {
        l.sort_by_key(|(k, _)| *k);
    }
    let mut engine = Engine {
        rows,
        ledger,
        held: BTreeMap::new(),
        predicted: HashMap::new(),
    };
    for entry in entries {
        let m = &entry.movement;
        match &entry.known {
            Known::Applied(effects) => {
                let wakes = engine.apply_known(m, effects);
                engine.settle(wakes)?;
            }
            Known::Unpushed | Known::Held => {
                let d = engine.decide(m)?;
                if let Outcome::Held(h) = &d.outcome {
                    engine.held.insert(
                        m.id,
                        (
                            *m,
                            HeldRef {
                                id: m.id,
                                order: m.order_key(),
                                waiting_on: h.waiting_on,
                            },
                        ),
                    );
                    engine.predicted.insert(m.id, (d.outcome, d.flags));
                } else {
                    let wakes = d.wakes.clone();
                    engine.commit(m, d);
                    engine.settle(wakes)?;
                }
            }
        }
    }
    Ok(Projection {
        rows: engine.rows,
        pulled,
        predicted: engine.predicted,
    })
}
