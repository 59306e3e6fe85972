//! An in-memory replay engine: stock rows, the ledger of their applied effects, and the
//! held movements, driven by [`decide`] with the automatic retry of held movements
//! (DESIGN §5.3).
//!
//! It is the executable form of the sync contract over state that fits in memory: the
//! replica projects its journal with it, the simulations use it as the model server,
//! and a server can load the rows of one push batch into it (after locking them in key
//! order), decide the whole batch in Rust, and write the results back in a few
//! set-based statements. What it needs of each row's history is only the effects that
//! may still be "after" a movement it decides; a caller that loads a partial ledger must
//! include every effect later than the oldest movement it will submit.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::NaiveDate;

use crate::orders::{
    PickFlag, PurchaseLineState, ReceiptFlag, SalesLineState, consume, receipt_flags,
};
use crate::{
    Catalog, DecideError, Decision, Effect, Flag, HeldRef, LineRef, Movement, MovementId,
    MovementKind, OrderKey, Origin, Outcome, Receipt, RowView, StockKey, StockRow, bound_time,
    decide, online_time, validate,
};

/// What the retry of held movements needed to see of the held movements waiting on one
/// row. An engine holds the held movements its caller loaded; a caller that loads only
/// some of a row's held movements (the server: a window of them) compares this with what
/// it loaded and, where it falls short, loads more and decides again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldDemand {
    /// The earliest position a retry looked from (`None`: from the oldest).
    pub from: Option<OrderKey>,
    /// A retry went past the last loaded held movement of the row while more could still
    /// have woken: every held movement after the loaded ones is needed too.
    pub open_end: bool,
}

/// One row to retry after a decision: it rose by `extra` at `from`, or was counted.
#[derive(Debug, Clone, Copy)]
struct Wake {
    key: StockKey,
    /// Held movements before this position cannot wake (the row's quantity at their
    /// time did not change); `None` for a wake whose cause is unknown.
    from: Option<OrderKey>,
    /// A count at this position: held movements before it are absorbed.
    count_at: Option<OrderKey>,
    /// By how much the row's quantity rose at times after `from` (`i64::MAX` when
    /// unknown). A held outbound that was stuck can only wake while some of it is left.
    extra: i64,
}

/// What picks changed ([`Engine::allocation_changes`]), for the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickChanges<'a> {
    /// Each row's change of `allocated`, in key order (rows with no change left out).
    pub rows: Vec<(StockKey, i64)>,
    /// Each changed line's reservations now.
    pub lines: Vec<(uuid::Uuid, &'a SalesLineState)>,
}

/// Rows, ledger and held movements in memory.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    rows: BTreeMap<StockKey, StockRow>,
    /// Each row's applied effects, sorted by order key, so the effects after a movement
    /// are a (usually empty) tail found by binary search.
    ledger: BTreeMap<StockKey, Vec<(OrderKey, i64)>>,
    held: BTreeMap<MovementId, (Movement, HeldRef)>,
    /// The held movements by the row they wait on, oldest first: a retry reads a range.
    waiting: BTreeSet<(StockKey, OrderKey, MovementId)>,
    /// What the retries needed to see, per row (see [`HeldDemand`]).
    demand: BTreeMap<StockKey, HeldDemand>,
    /// The purchase lines receipts may name, as loaded and as receipts raised them.
    purchase_lines: BTreeMap<uuid::Uuid, PurchaseLineState>,
    /// The sales lines picks may name, with their reservations as picks left them.
    sales_lines: BTreeMap<uuid::Uuid, SalesLineState>,
    /// How picks changed rows' `allocated` (summed per row), for the writer.
    allocation_changes: BTreeMap<StockKey, i64>,
    /// The sales lines whose reservations picks changed.
    picked_lines: BTreeSet<uuid::Uuid>,
}

impl Engine {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a row's state as loaded from storage (does not touch its ledger).
    pub fn set_row(&mut self, key: StockKey, row: StockRow) {
        self.rows.insert(key, row);
    }

    /// Adds one applied effect to a row's ledger as loaded from storage (does not change
    /// the row's state, which already includes it).
    pub fn book(&mut self, key: StockKey, order: OrderKey, delta: i64) {
        let l = self.ledger.entry(key).or_default();
        let i = l.partition_point(|(k, _)| *k <= order);
        l.insert(i, (order, delta));
    }

    /// Sets a purchase line as loaded from storage (under its lock): an applied receipt
    /// against it is flagged by [`crate::orders::receipt_flags`] and raises what it
    /// received, so the next receipt in the same batch sees it.
    pub fn set_purchase_line(&mut self, id: uuid::Uuid, line: PurchaseLineState) {
        self.purchase_lines.insert(id, line);
    }

    /// A purchase line as the receipts decided so far left it.
    pub fn purchase_line(&self, id: uuid::Uuid) -> Option<PurchaseLineState> {
        self.purchase_lines.get(&id).copied()
    }

    /// Sets a sales line as loaded from storage (under its order's lock): a pick naming it
    /// may take what the line reserved on the picked row, and an applied pick consumes
    /// its reservations ([`crate::orders::consume`]).
    pub fn set_sales_line(&mut self, id: uuid::Uuid, line: SalesLineState) {
        self.sales_lines.insert(id, line);
    }

    /// A sales line as the picks decided so far left it.
    pub fn sales_line(&self, id: uuid::Uuid) -> Option<&SalesLineState> {
        self.sales_lines.get(&id)
    }

    /// What picks changed since the lines were set: each row's change of `allocated`
    /// (rows with no change left out), and each changed line's reservations now.
    pub fn allocation_changes(&self) -> PickChanges<'_> {
        let rows = self
            .allocation_changes
            .iter()
            .filter(|(_, d)| **d != 0)
            .map(|(k, d)| (*k, *d))
            .collect();
        let lines = self
            .picked_lines
            .iter()
            .filter_map(|id| self.sales_lines.get(id).map(|l| (*id, l)))
            .collect();
        PickChanges { rows, lines }
    }

    /// The sales line a pick takes reservations of: a ship naming a known line of its
    /// product.
    fn pick_line(&self, m: &Movement) -> Option<(uuid::Uuid, StockKey, i64)> {
        let (MovementKind::Ship { from, qty }, Some(LineRef::SalesLine(id))) =
            (m.kind, m.reference)
        else {
            return None;
        };
        let line = self.sales_lines.get(&id)?;
        (line.product == m.product).then_some((
            id,
            StockKey {
                product: m.product,
                location: from,
                lot: m.lot,
            },
            qty.get(),
        ))
    }

    /// The rows as [`decide`] sees them for `m`: a pick may also take what its line
    /// reserved on the picked row, so that reservation does not count as taken.
    fn views_for(&self, m: &Movement) -> Vec<RowView> {
        let mut views = self.views(m);
        if let Some((id, key, _)) = self.pick_line(m) {
            let own: i64 = self.sales_lines[&id]
                .allocations
                .iter()
                .filter(|a| a.key == key)
                .map(|a| a.qty)
                .sum();
            for v in views.iter_mut().filter(|v| v.key == key) {
                v.row.allocated -= own.clamp(0, v.row.allocated.max(0));
            }
        }
        views
    }

    /// What an applied pick does to its line's reservations: consumed on the picked row
    /// first, then elsewhere; flags for a person; rows' `allocated` lowered.
    fn book_pick(&mut self, m: &Movement, d: &mut Decision) {
        if !matches!(d.outcome, Outcome::Applied { .. }) {
            return;
        }
        let Some((id, key, qty)) = self.pick_line(m) else {
            return;
        };
        let line = self.sales_lines.get_mut(&id).expect("pick_line found it");
        let c = consume(key, qty, &line.allocations);
        line.allocations = c.left;
        self.picked_lines.insert(id);
        for flag in c.flags {
            d.flags.push(match flag {
                PickFlag::OtherRow => Flag::PickOtherRow { line: id },
                PickFlag::BeyondAllocation { excess } => Flag::OverPick { line: id, excess },
            });
        }
        for (k, delta) in c.changes {
            *self.allocation_changes.entry(k).or_default() += delta;
            let before = self.rows.get(&k).map_or(0, |r| r.allocated);
            match d.updates.iter_mut().find(|u| u.key == k) {
                // The decision saw the row without the line's reservation on it.
                Some(u) => u.row.allocated = before + delta,
                None => {
                    if let Some(r) = self.rows.get_mut(&k) {
                        r.allocated += delta;
                    }
                }
            }
        }
    }

    /// What a decision made outside [`Engine::submit`] (a manager's force) does to the
    /// order lines its movement names: as for a submitted one, the receipt counted and
    /// flagged, the pick's reservations consumed. Call before applying its effects.
    pub fn book_order_lines(&mut self, m: &Movement, d: &mut Decision) {
        self.book_receipt(m, d);
        self.book_pick(m, d);
    }

    /// What an applied receipt against a known purchase line of its product does to the
    /// line: flags for a person ([`ReceiptFlag`]), and the received quantity raised.
    fn book_receipt(&mut self, m: &Movement, d: &mut Decision) {
        let (MovementKind::Receive { qty, .. }, Some(LineRef::PurchaseLine(id))) =
            (m.kind, m.reference)
        else {
            return;
        };
        if !matches!(d.outcome, Outcome::Applied { .. }) {
            return;
        }
        let Some(line) = self.purchase_lines.get_mut(&id) else {
            return;
        };
        if line.product != m.product {
            return;
        }
        let qty = qty.get();
        for flag in receipt_flags(line.status, line.qty, qty, line.tolerance_pct) {
            d.flags.push(match flag {
                ReceiptFlag::OverReceipt { beyond } => Flag::OverReceipt { line: id, beyond },
                ReceiptFlag::OrderNotOpen { status } => {
                    Flag::ReceiptOrderNotOpen { line: id, status }
                }
            });
        }
        line.qty.received = line.qty.received.saturating_add(qty);
    }

    /// Adds a held movement as loaded from storage.
    pub fn add_held(&mut self, m: Movement, waiting_on: StockKey) {
        let r = HeldRef {
            id: m.id,
            order: m.order_key(),
            waiting_on,
        };
        if let Some((_, old)) = self.held.insert(m.id, (m, r)) {
            self.waiting.remove(&(old.waiting_on, old.order, old.id));
        }
        self.waiting.insert((waiting_on, r.order, m.id));
    }

    fn remove_held(&mut self, id: MovementId) {
        if let Some((_, r)) = self.held.remove(&id) {
            self.waiting.remove(&(r.waiting_on, r.order, r.id));
        }
    }

    /// What the retries so far needed to see of each row's held movements.
    pub fn held_demand(&self) -> &BTreeMap<StockKey, HeldDemand> {
        &self.demand
    }

    /// A row's state (an empty row if nothing was ever booked to it).
    pub fn row(&self, key: &StockKey) -> StockRow {
        self.rows.get(key).copied().unwrap_or_default()
    }

    /// Every row the engine knows, in key order.
    pub fn rows(&self) -> &BTreeMap<StockKey, StockRow> {
        &self.rows
    }

    /// The held movements, oldest first within each waiting row.
    pub fn held(&self) -> impl Iterator<Item = (&Movement, &HeldRef)> {
        self.held.values().map(|(m, r)| (m, r))
    }

    /// The sum of a row's applied effects (equals its `on_hand` when the whole ledger is
    /// loaded: the ledger invariant).
    pub fn ledger_sum(&self, key: &StockKey) -> i64 {
        self.ledger
            .get(key)
            .map_or(0, |l| l.iter().map(|(_, d)| d).sum())
    }

    /// A row as [`decide`] needs it for a movement at `order`.
    pub fn view(&self, key: StockKey, order: OrderKey) -> RowView {
        let effects_after = self.ledger.get(&key).map_or(0, |l| {
            let from = l.partition_point(|(k, _)| *k <= order);
            l[from..].iter().map(|(_, d)| d).sum()
        });
        RowView {
            key,
            row: self.row(&key),
            effects_after,
        }
    }

    /// The views of every row a movement touches.
    pub fn views(&self, m: &Movement) -> Vec<RowView> {
        m.keys()
            .into_iter()
            .map(|k| self.view(k, m.order_key()))
            .collect()
    }

    /// Decides a movement and carries out the decision: an applied (or absorbed,
    /// superseded) movement changes the rows and the ledger, a held one is kept, a
    /// rejected one changes nothing. Then every held movement on a row it raised or
    /// counted is retried, oldest first, until nothing moves.
    ///
    /// Returns the movement's own decision first, then each retry's decision in the order
    /// made (a retried movement may be held again, with a new [`crate::Hold`]).
    pub fn submit(
        &mut self,
        m: &Movement,
        origin: Origin,
    ) -> Result<Vec<(Movement, Decision)>, DecideError> {
        let mut d = decide(m, origin, &self.views_for(m))?;
        self.book_receipt(m, &mut d);
        self.book_pick(m, &mut d);
        let mut out = Vec::new();
        match &d.outcome {
            // A hold for a person is never retried automatically.
            Outcome::Held(h) if h.is_retryable() => self.add_held(*m, h.waiting_on),
            Outcome::Held(_) => {}
            Outcome::Rejected(_) => {}
            _ => {
                let wakes = wakes_of(m, &d);
                self.commit(m, &d);
                out.push((*m, d));
                self.settle(wakes, &mut out)?;
                return Ok(out);
            }
        }
        out.push((*m, d));
        Ok(out)
    }

    /// Checks `m` against the catalog ([`validate`], on the movement's local date), then
    /// [`Engine::submit`]s it: a movement the catalog refuses is rejected and changes
    /// nothing; otherwise the catalog's flags lead the movement's own decision. The one
    /// way a server decides a new online movement (a journal movement goes through
    /// [`Engine::submit_received`]).
    ///
    /// An online intent is first dated by [`online_time`] after the latest event on its
    /// rows when that event is not before it (see [`crate::clock`]), so it is never
    /// refused because of a count dated after the server's now; the returned movement
    /// (first of the list) carries the time it took.
    pub fn submit_validated(
        &mut self,
        m: &Movement,
        origin: Origin,
        catalog: &impl Catalog,
        on_date: NaiveDate,
    ) -> Result<Vec<(Movement, Decision)>, DecideError> {
        let m = match origin {
            Origin::Online => online_time(m, self.latest_event(m)),
            Origin::Journal => *m,
        };
        match validate(&m, origin, catalog, on_date) {
            Err(rejection) => Ok(vec![(m, Decision::only(Outcome::Rejected(rejection)))]),
            Ok(flags) => {
                let mut out = self.submit(&m, origin)?;
                if let Some(first) = out.first_mut() {
                    first.1.flags.splice(0..0, flags);
                }
                Ok(out)
            }
        }
    }

    /// Decides a journal movement the server just received: [`validate`] (a rejection
    /// changes nothing), then [`Engine::submit_bounded`]. The catalog's flags lead the
    /// movement's own decision. The one way a server decides a pushed movement.
    pub fn submit_received(
        &mut self,
        m: &Movement,
        catalog: &impl Catalog,
        on_date: NaiveDate,
        receipt: &Receipt,
    ) -> Result<Vec<(Movement, Decision)>, DecideError> {
        match validate(m, Origin::Journal, catalog, on_date) {
            Err(rejection) => Ok(vec![(*m, Decision::only(Outcome::Rejected(rejection)))]),
            Ok(flags) => {
                let mut out = self.submit_bounded(m, receipt)?;
                if let Some(first) = out.first_mut() {
                    first.1.flags.splice(0..0, flags);
                }
                Ok(out)
            }
        }
    }

    /// Bounds a journal movement's date by the time it was (or, on a replica, will be)
    /// received ([`bound_time`]): one dated too far ahead is held for a person and
    /// changes nothing (it is not kept for retries); otherwise it is
    /// [`Engine::submit`]ted, with the date's flags added to its own decision.
    pub fn submit_bounded(
        &mut self,
        m: &Movement,
        receipt: &Receipt,
    ) -> Result<Vec<(Movement, Decision)>, DecideError> {
        match bound_time(m, receipt) {
            Err(hold) => Ok(vec![(*m, Decision::only(Outcome::Held(hold)))]),
            Ok(flags) => {
                let mut out = self.submit(m, Origin::Journal)?;
                if let Some(first) = out.first_mut() {
                    first.1.flags.extend(flags);
                }
                Ok(out)
            }
        }
    }

    /// The latest event the engine knows on the rows `m` touches: their latest count
    /// or applied effect (of the loaded ledger, which holds everything after the oldest
    /// movement a caller submits).
    pub fn latest_event(&self, m: &Movement) -> Option<OrderKey> {
        m.keys()
            .iter()
            .flat_map(|k| {
                let counted = self.rows.get(k).and_then(|r| r.last_count);
                let booked = self.ledger.get(k).and_then(|l| l.last()).map(|(o, _)| *o);
                [counted, booked]
            })
            .flatten()
            .max()
    }

    /// Carries out a decision another party already made (a replica replaying what the
    /// server applied): books the effects as given, then retries held movements as
    /// [`Engine::submit`] does. Returns the retries' decisions.
    pub fn apply_effects(
        &mut self,
        m: &Movement,
        effects: &[Effect],
    ) -> Result<Vec<(Movement, Decision)>, DecideError> {
        let is_count = matches!(m.kind, MovementKind::Count { .. });
        let order = m.order_key();
        let mut wakes = Vec::new();
        for e in effects.iter().filter(|e| !e.absorbed) {
            let row = self.rows.entry(e.key).or_default();
            row.on_hand = row.on_hand.saturating_add(e.delta);
            if is_count {
                if row.last_count.is_none_or(|c| c < order) {
                    row.last_count = Some(order);
                }
                wakes.push(Wake::count(e.key, order, e.delta));
            } else if e.delta > 0 {
                wakes.push(Wake::rise(e.key, order, e.delta));
            }
            self.book(e.key, order, e.delta);
        }
        let mut out = Vec::new();
        self.settle(wakes, &mut out)?;
        Ok(out)
    }

    /// Retries the held movements that `m`'s decision `d`, made and stored elsewhere, may
    /// wake (the engine was loaded with the rows as they are after it): as
    /// [`Engine::submit`] does after its own movements, looking only at the held
    /// movements its effects can reach. Returns the retries' decisions in the order made.
    pub fn retry_after(
        &mut self,
        m: &Movement,
        d: &Decision,
    ) -> Result<Vec<(Movement, Decision)>, DecideError> {
        let mut out = Vec::new();
        self.settle(wakes_of(m, d), &mut out)?;
        Ok(out)
    }

    /// Retries the held movements waiting on `keys` after a movement decided and stored
    /// elsewhere raised or counted those rows (the engine was loaded with the rows as they
    /// are after it), as [`Engine::submit`] does after its own movements. Returns the
    /// retries' decisions in the order made.
    /// Every held movement waiting on those rows is retried, as after a count at the end
    /// of time: use it when the cause is unknown (a repair).
    pub fn retry(&mut self, keys: &[StockKey]) -> Result<Vec<(Movement, Decision)>, DecideError> {
        let mut out = Vec::new();
        let wakes = keys
            .iter()
            .map(|&key| Wake {
                key,
                from: None,
                count_at: None,
                extra: i64::MAX,
            })
            .collect();
        self.settle(wakes, &mut out)?;
        Ok(out)
    }

    fn commit(&mut self, m: &Movement, d: &Decision) {
        if let Outcome::Applied { effects } = &d.outcome {
            for e in effects.iter().filter(|e| !e.absorbed) {
                self.book(e.key, m.order_key(), e.delta);
            }
        }
        for u in &d.updates {
            self.rows.insert(u.key, u.row);
        }
    }

    /// Retries held movements after the rows in `wakes` rose or were counted, oldest
    /// first on each row, feeding what their decisions wake back in until nothing moves.
    ///
    /// Each held movement was stuck before the wake (the state every retry leaves), so
    /// on a row that rose by `extra` at `from` only those at or after `from` can wake,
    /// and only while some of `extra` is left: each one that applies takes its part, and
    /// once none is left the row's quantity at every later time is no higher than when
    /// they were stuck. So a retry costs what wakes, not what is held.
    fn settle(
        &mut self,
        wakes: Vec<Wake>,
        out: &mut Vec<(Movement, Decision)>,
    ) -> Result<(), DecideError> {
        let mut queue: VecDeque<Wake> = wakes.into();
        while let Some(w) = queue.pop_front() {
            let start = match (w.from, w.count_at) {
                (_, Some(_)) | (None, _) => None,
                (Some(from), None) => Some(from),
            };
            let demand = self.demand.entry(w.key).or_insert(HeldDemand {
                from: start,
                open_end: false,
            });
            demand.from = demand.from.min(start);
            let mut extra = w.extra;
            let mut cursor = start;
            let open_end = loop {
                let next = self
                    .waiting
                    .range(range_from(w.key, cursor)..)
                    .next()
                    .filter(|(k, _, _)| *k == w.key)
                    .copied();
                let Some((_, order, id)) = next else {
                    break extra > 0;
                };
                let absorbing = w.count_at.is_some_and(|c| order < c);
                if !absorbing && extra <= 0 {
                    break false;
                }
                let m = self.held[&id].0;
                let mut d = decide(&m, Origin::Journal, &self.views_for(&m))?;
                self.book_receipt(&m, &mut d);
                self.book_pick(&m, &mut d);
                if let Outcome::Held(h) = &d.outcome {
                    self.add_held(m, h.waiting_on);
                } else {
                    self.remove_held(id);
                    if let Outcome::Applied { effects } = &d.outcome {
                        extra = extra.saturating_add(
                            effects
                                .iter()
                                .filter(|e| e.key == w.key)
                                .map(|e| e.delta)
                                .sum(),
                        );
                    }
                    queue.extend(wakes_of(&m, &d));
                    self.commit(&m, &d);
                }
                out.push((m, d));
                // Past this one: the range starts strictly after it.
                cursor = Some(OrderKey {
                    at: order.at,
                    id: next_id(order.id),
                });
            };
            if open_end && let Some(d) = self.demand.get_mut(&w.key) {
                d.open_end = true;
            }
        }
        Ok(())
    }
}

/// The first entry of the `waiting` index for `key` at or after `from`.
fn range_from(key: StockKey, from: Option<OrderKey>) -> (StockKey, OrderKey, MovementId) {
    let from = from.unwrap_or(OrderKey {
        at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        id: MovementId::from_uuid(uuid::Uuid::nil()),
    });
    (key, from, MovementId::from_uuid(uuid::Uuid::nil()))
}

/// The smallest id after `id` (the index is ordered by order key, then id).
fn next_id(id: MovementId) -> MovementId {
    MovementId::from_uuid(uuid::Uuid::from_u128(
        id.as_uuid().as_u128().saturating_add(1),
    ))
}

/// The rows a decision wakes, with what the retry may skip: a row that rose wakes the
/// held movements from the decided movement's time on, by the units it rose; a count
/// wakes those before it (absorbed) and, by its adjustment, those after.
fn wakes_of(m: &Movement, d: &Decision) -> Vec<Wake> {
    let order = m.order_key();
    let is_count = matches!(m.kind, MovementKind::Count { .. });
    let delta_on = |key: StockKey| match &d.outcome {
        Outcome::Applied { effects } => effects
            .iter()
            .filter(|e| e.key == key && !e.absorbed)
            .map(|e| e.delta)
            .sum(),
        _ => 0,
    };
    d.wakes
        .iter()
        .map(|&key| {
            if is_count {
                Wake::count(key, order, delta_on(key))
            } else {
                Wake::rise(key, order, delta_on(key))
            }
        })
        .collect()
}

impl Wake {
    fn rise(key: StockKey, at: OrderKey, by: i64) -> Self {
        Self {
            key,
            from: Some(at),
            count_at: None,
            extra: by,
        }
    }

    fn count(key: StockKey, at: OrderKey, delta: i64) -> Self {
        Self {
            key,
            from: Some(at),
            count_at: Some(at),
            extra: delta,
        }
    }
}

#[cfg(test)]
mod tests;
