//! Property tests over an in-memory model of one server and several devices (DESIGN §5.4).
//!
//! The model server stores rows, a ledger of applied effects and the held movements, and
//! decides every movement with `logiflow_core` exactly as the real server does. Each
//! scenario is generated from one `u64` seed: a physically possible history (the
//! physical truth never goes negative) of receipts, shipments, transfers, adjustments,
//! counts, unrecorded losses that a later count sees, online requests, and orders:
//! sales orders confirmed (allocated by `core::orders::allocate`, FIFO), allocated again
//! and cancelled online, picked by devices offline (from a bin the line reserved, or from
//! another one), and receipts against purchase lines, recorded by several devices that
//! go offline for random periods and push their journals in random batches and arrival
//! orders.
//!
//! Properties:
//! (a) **convergence** — once every device has pushed everything, every row equals the
//!     physical truth and nothing is held;
//! (b) **ledger** — after every push, every row equals the sum of its applied effects;
//! (c) **no oversell** — an online intent never makes a row negative, and never takes a
//!     row below what it has reserved;
//! (d) **orders** — after every push, each row's `allocated` equals the sum of the open
//!     allocations on it and is never negative; a sales line never keeps more reserved
//!     than it still needs, and its picks consumed no more than they picked; a purchase
//!     line's received quantity equals the sum of its applied receipts.
//!
//! A failure prints its seed; `LOGIFLOW_SIM_SEED=<seed> cargo test -p logiflow-core
//! --test convergence` replays exactly that scenario with a trace.
//! `LOGIFLOW_SIM_CASES` sets the number of scenarios (default 2,000).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use logiflow_core::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// The model server: what PostgreSQL holds, without the SQL — the core's [`Engine`]
/// plus the push bookkeeping (outcomes, next expected `device_seq`).
#[derive(Default)]
struct Server {
    engine: Engine,
    outcomes: HashMap<MovementId, &'static str>,
    /// Movements held because their device's clock ran ahead (`clock_ahead`).
    clock_ahead: BTreeSet<MovementId>,
    next_seq: HashMap<DeviceId, u64>,
    /// Devices whose pushes this server ignores (the control run of the skewed
    /// simulation: as if the devices whose clock runs far ahead never pushed).
    ignored: BTreeSet<DeviceId>,
    went_negative: bool,
    ever_held: usize,
    /// Picks flagged as taken from another row than their line reserved.
    picks_other_row: usize,
}

/// The server's clock tolerance in the simulation (the default setting).
const TOLERANCE_MS: i64 = CLOCK_AHEAD_TOLERANCE_SECS_DEFAULT * 1_000;

impl Server {
    fn record(&mut self, decisions: &[(Movement, Decision)]) {
        for (m, d) in decisions {
            if matches!(d.outcome, Outcome::Held(_)) && !self.outcomes.contains_key(&m.id) {
                self.ever_held += 1;
            }
            if d.updates.iter().any(|u| u.row.on_hand < 0) {
                self.went_negative = true;
            }
            if let Outcome::Held(Hold {
                review: Some(HoldReview::ClockAhead { .. }),
                ..
            }) = d.outcome
            {
                self.clock_ahead.insert(m.id);
            }
            self.outcomes.insert(m.id, d.outcome.name().as_str());
            self.picks_other_row += d
                .flags
                .iter()
                .filter(|f| matches!(f, Flag::PickOtherRow { .. }))
                .count();
        }
    }

    /// `POST /v1/sync/push`: a batch of one device's journal, in `device_seq` order,
    /// received at `now` (the server's clock, which is true time).
    fn push(&mut self, batch: &[Movement], now: DateTime<Utc>) -> Result<(), String> {
        let receipt = Receipt {
            received_at: now,
            ahead_tolerance: chrono::TimeDelta::milliseconds(TOLERANCE_MS),
            past_limit: Some(chrono::TimeDelta::days(JOURNAL_PAST_LIMIT_DAYS_DEFAULT)),
            device_registered_at: None,
        };
        for m in batch {
            let stamp = m.device.expect("journal entries carry a device stamp");
            let next = self.next_seq.entry(stamp.device).or_insert(1);
            if stamp.seq < *next {
                continue; // already processed: idempotent re-send
            }
            if stamp.seq > *next {
                return Err(format!(
                    "gap in device_seq: got {}, expected {next}",
                    stamp.seq
                ));
            }
            *next += 1;
            if self.ignored.contains(&stamp.device) {
                continue;
            }
            let decisions = self
                .engine
                .submit_bounded(m, &receipt)
                .map_err(|e| e.to_string())?;
            self.record(&decisions);
        }
        Ok(())
    }

    fn online(&mut self, m: &Movement) -> Decision {
        // Dated after the latest event on its rows when that lies in the server's future,
        // as the real server's engine does (`Engine::submit_validated`).
        let m = online_time(m, self.engine.latest_event(m));
        let decisions = self.engine.submit(&m, Origin::Online).expect("rows loaded");
        // A refused intent is answered at once and leaves no trace; the check that no
        // journal movement ends rejected must not see it.
        if !matches!(decisions[0].1.outcome, Outcome::Rejected(_)) {
            self.record(&decisions);
        }
        decisions[0].1.clone()
    }

    fn row(&self, key: &StockKey) -> StockRow {
        self.engine.row(key)
    }

    fn check_ledger(&self) -> Result<(), String> {
        for (key, row) in self.engine.rows() {
            let sum = self.engine.ledger_sum(key);
            if sum != row.on_hand {
                return Err(format!(
                    "ledger: row {} holds {} but its effects sum to {sum}",
                    name(key),
                    row.on_hand
                ));
            }
        }
        Ok(())
    }
}

struct Device {
    id: DeviceId,
    seq: u64,
    pending: Vec<Movement>,
    online: bool,
    /// How far its clock is from true time, in ms (0: a correct clock).
    skew_ms: i64,
}

impl Device {
    /// Its clock runs ahead beyond the server's tolerance.
    fn far_ahead(&self) -> bool {
        self.skew_ms > TOLERANCE_MS
    }
}

fn name(key: &StockKey) -> String {
    let b = |u: Uuid| u.as_u128() as u8;
    match key.lot {
        Some(lot) => format!(
            "p{}@l{}/lot{}",
            b(key.product.as_uuid()),
            b(key.location.as_uuid()),
            b(lot.as_uuid())
        ),
        None => format!(
            "p{}@l{}",
            b(key.product.as_uuid()),
            b(key.location.as_uuid())
        ),
    }
}

#[derive(Default, Clone, Copy)]
struct Stats {
    scenarios: usize,
    movements: usize,
    went_negative: usize,
    had_held: usize,
    online_refused: usize,
    sales_lines: usize,
    cancelled: usize,
    picks: usize,
    picks_other_row: usize,
    receipts_against_orders: usize,
}

/// A sales line as the model knows it besides what the engine holds (its open
/// allocations): what was reserved for it and released from it, in total.
struct SalesModel {
    id: Uuid,
    product: ProductId,
    qty: i64,
    cancelled: bool,
    reserved: i64,
    released: i64,
}

struct Sim {
    rng: StdRng,
    server: Server,
    devices: Vec<Device>,
    truth: BTreeMap<StockKey, i64>,
    keys: Vec<StockKey>,
    unseen_loss: BTreeSet<StockKey>,
    ms: u64,
    counter: u16,
    trace: Vec<String>,
    stats: Stats,
    /// Every journal movement recorded, with its device.
    recorded: Vec<(MovementId, DeviceId)>,
    sales: Vec<SalesModel>,
    /// The purchase lines, with their product.
    purchases: Vec<(Uuid, ProductId)>,
    /// Every journal movement naming an order line: (movement, line, quantity).
    against_lines: Vec<(MovementId, LineRef, i64)>,
}

const EPOCH_MS: u64 = 1_800_000_000_000;
const USER: UserId = UserId::from_uuid(Uuid::from_u128(1));

impl Sim {
    /// A scenario whose devices' clocks are all correct.
    fn new(seed: u64) -> Self {
        Self::with_clocks(seed, false)
    }

    /// With `skewed`, every device but the first gets a clock that is correct, slightly
    /// ahead (within the tolerance), far ahead (minutes to days beyond it) or behind
    /// (a minute to days).
    fn with_clocks(seed: u64, skewed: bool) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let products = rng.random_range(1..=2u128);
        let locations = rng.random_range(2..=4u128);
        let mut keys = Vec::new();
        for p in 0..products {
            // The second product is lot-tracked with two lots.
            let lots: Vec<Option<LotId>> = if p == 1 {
                vec![
                    Some(LotId::from_uuid(Uuid::from_u128(1))),
                    Some(LotId::from_uuid(Uuid::from_u128(2))),
                ]
            } else {
                vec![None]
            };
            for l in 0..locations {
                for lot in &lots {
                    keys.push(StockKey {
                        product: ProductId::from_uuid(Uuid::from_u128(p)),
                        location: LocationId::from_uuid(Uuid::from_u128(l)),
                        lot: *lot,
                    });
                }
            }
        }
        let count = rng.random_range(1..=4u128);
        let devices = (0..count)
            .map(|d| Device {
                id: DeviceId::from_uuid(Uuid::from_u128(100 + d)),
                seq: 0,
                pending: Vec::new(),
                online: true,
                skew_ms: 0,
            })
            .collect::<Vec<_>>();
        let mut devices = devices;
        if skewed {
            const DAY_MS: i64 = 86_400_000;
            for d in devices.iter_mut().skip(1) {
                d.skew_ms = match rng.random_range(0..4) {
                    0 => 0,
                    1 => rng.random_range(1..=TOLERANCE_MS),
                    // Far ahead: by more than the tolerance plus the longest scenario (under a
                    // second), so every one of its movements arrives too far ahead.
                    2 => rng.random_range(TOLERANCE_MS + 60_000..=3 * DAY_MS),
                    _ => -rng.random_range(60_000..=3 * DAY_MS),
                };
            }
        }
        Self {
            rng,
            server: Server::default(),
            devices,
            truth: keys.iter().map(|k| (*k, 0)).collect(),
            keys,
            unseen_loss: BTreeSet::new(),
            ms: EPOCH_MS,
            counter: 0,
            trace: Vec::new(),
            stats: Stats::default(),
            recorded: Vec::new(),
            sales: Vec::new(),
            purchases: Vec::new(),
            against_lines: Vec::new(),
        }
        .with_purchase_orders()
    }

    /// One or two ordered purchase lines per product, expecting 5 to 30 units.
    fn with_purchase_orders(mut self) -> Self {
        let mut products: Vec<ProductId> = self.keys.iter().map(|k| k.product).collect();
        products.dedup();
        for product in products {
            for _ in 0..self.rng.random_range(1..=2) {
                let id = Uuid::from_u128(1_000 + self.purchases.len() as u128);
                let ordered = self.rng.random_range(5..=30);
                self.server.engine.set_purchase_line(
                    id,
                    orders::PurchaseLineState {
                        product,
                        status: orders::PurchaseStatus::Ordered,
                        qty: orders::PurchaseLineQty {
                            ordered,
                            received: 0,
                        },
                        tolerance_pct: 0,
                    },
                );
                self.purchases.push((id, product));
            }
        }
        self
    }

    /// The next instant: time moves by 0–2 ms, so equal timestamps are common and the
    /// id (whose counter bits follow the physical order) breaks the tie.
    fn tick(&mut self) -> (DateTime<Utc>, MovementId) {
        let step = self.rng.random_range(0..=2);
        self.ms += step;
        self.counter = if step == 0 { self.counter + 1 } else { 0 };
        let mut random = [0u8; 10];
        random[..2].copy_from_slice(&self.counter.to_be_bytes());
        let at = Utc.timestamp_millis_opt(self.ms as i64).unwrap();
        (at, MovementId::new_v7(self.ms, random))
    }

    fn pick(&mut self, filter: impl Fn(&StockKey, i64) -> bool) -> Option<StockKey> {
        let candidates: Vec<StockKey> = self
            .keys
            .iter()
            .copied()
            .filter(|k| filter(k, self.truth[k]))
            .collect();
        (!candidates.is_empty()).then(|| candidates[self.rng.random_range(0..candidates.len())])
    }

    fn movement(&mut self, key: StockKey, kind: MovementKind) -> Movement {
        let (occurred_at, id) = self.tick();
        Movement {
            id,
            occurred_at,
            product: key.product,
            lot: key.lot,
            kind,
            user: USER,
            device: None,
            reference: None,
        }
    }

    /// A device records a physical fact in its journal, dated by its own clock.
    fn record(&mut self, device: usize, key: StockKey, kind: MovementKind) {
        self.record_against(device, key, kind, None);
    }

    /// [`Sim::record`], naming an order line.
    fn record_against(
        &mut self,
        device: usize,
        key: StockKey,
        kind: MovementKind,
        reference: Option<LineRef>,
    ) {
        let mut m = self.movement(key, kind);
        m.reference = reference;
        let skew = self.devices[device].skew_ms;
        if skew != 0 {
            let ms = self.ms as i64 + skew;
            m.occurred_at = Utc.timestamp_millis_opt(ms).unwrap();
            let mut random = [0u8; 10];
            random[..2].copy_from_slice(&self.counter.to_be_bytes());
            m.id = MovementId::new_v7(ms as u64, random);
        }
        let dev = &mut self.devices[device];
        dev.seq += 1;
        m.device = Some(DeviceStamp {
            device: dev.id,
            seq: dev.seq,
        });
        self.trace.push(format!(
            "d{device} records #{} {:?}{} on {} at +{}ms",
            dev.seq,
            m.kind,
            m.reference.map_or(String::new(), |r| format!(" for {r:?}")),
            name(&key),
            self.ms - EPOCH_MS
        ));
        dev.pending.push(m);
        self.recorded.push((m.id, dev.id));
        if let Some(line) = reference {
            let qty = match kind {
                MovementKind::Receive { qty, .. } | MovementKind::Ship { qty, .. } => qty.get(),
                _ => 0,
            };
            self.against_lines.push((m.id, line, qty));
        }
        self.stats.movements += 1;
    }

    fn qty(&mut self, max: i64) -> i64 {
        self.rng.random_range(1..=max)
    }

    /// One step of physical history.
    fn step(&mut self) -> Result<(), String> {
        let device = self.rng.random_range(0..self.devices.len());
        if self.rng.random_bool(0.25) {
            self.order_step(device);
            return Ok(());
        }
        match self.rng.random_range(0..100) {
            0..=19 => {
                let key = self.pick(|_, _| true).unwrap();
                let q = self.qty(10);
                *self.truth.get_mut(&key).unwrap() += q;
                self.record(
                    device,
                    key,
                    MovementKind::Receive {
                        to: key.location,
                        qty: PositiveQty::new(q).unwrap(),
                    },
                );
            }
            20..=34 => {
                if let Some(key) = self.pick(|_, t| t > 0) {
                    let q = self.qty(self.truth[&key]);
                    *self.truth.get_mut(&key).unwrap() -= q;
                    self.record(
                        device,
                        key,
                        MovementKind::Ship {
                            from: key.location,
                            qty: PositiveQty::new(q).unwrap(),
                        },
                    );
                }
            }
            35..=49 => {
                if let Some(from) = self.pick(|_, t| t > 0) {
                    let to = self
                        .pick(|k, _| {
                            k.product == from.product
                                && k.lot == from.lot
                                && k.location != from.location
                        })
                        .unwrap();
                    let q = self.qty(self.truth[&from]);
                    *self.truth.get_mut(&from).unwrap() -= q;
                    *self.truth.get_mut(&to).unwrap() += q;
                    self.record(
                        device,
                        from,
                        MovementKind::Transfer {
                            from: from.location,
                            to: to.location,
                            qty: PositiveQty::new(q).unwrap(),
                        },
                    );
                }
            }
            50..=54 => {
                let key = self.pick(|_, _| true).unwrap();
                let q = self.qty(5);
                *self.truth.get_mut(&key).unwrap() += q;
                self.record(
                    device,
                    key,
                    MovementKind::Adjust {
                        at: key.location,
                        delta: Delta::new(q).unwrap(),
                        reason: AdjustReason::Found,
                    },
                );
            }
            55..=59 => {
                if let Some(key) = self.pick(|_, t| t > 0) {
                    let q = self.qty(self.truth[&key]);
                    *self.truth.get_mut(&key).unwrap() -= q;
                    self.record(
                        device,
                        key,
                        MovementKind::Adjust {
                            at: key.location,
                            delta: Delta::new(-q).unwrap(),
                            reason: AdjustReason::Damage,
                        },
                    );
                }
            }
            60..=69 => {
                let key = self.pick(|_, _| true).unwrap();
                let counted = Qty::new(self.truth[&key]).unwrap();
                // What the device expected: its guess may be right, off, or hidden (blind).
                let expected = match self.rng.random_range(0..3) {
                    0 => None,
                    1 => Some(counted),
                    _ => Some(Qty::new(self.rng.random_range(0..20)).unwrap()),
                };
                self.unseen_loss.remove(&key);
                self.record(
                    device,
                    key,
                    MovementKind::Count {
                        at: key.location,
                        counted,
                        expected,
                    },
                );
            }
            70..=73 => {
                // Stock vanishes and nobody records it; a later count must see it.
                if let Some(key) = self.pick(|_, t| t > 0) {
                    let q = self.qty(self.truth[&key]);
                    *self.truth.get_mut(&key).unwrap() -= q;
                    self.unseen_loss.insert(key);
                    self.trace
                        .push(format!("unrecorded loss of {q} on {}", name(&key)));
                }
            }
            74..=79 => self.online_request()?,
            80..=84 => {
                let d = &mut self.devices[device];
                d.online = !d.online;
                self.trace.push(format!(
                    "d{device} {}",
                    if d.online {
                        "back online"
                    } else {
                        "goes offline"
                    }
                ));
            }
            _ => {
                if self.devices[device].online {
                    self.push_some(device, false)?;
                }
            }
        }
        Ok(())
    }

    /// A connected person asks the server directly: an intent, applied or refused now.
    /// Only physically possible requests are made (nobody ships what is not on the shelf).
    fn online_request(&mut self) -> Result<(), String> {
        let key = self.pick(|_, _| true).unwrap();
        let truth = self.truth[&key];
        let kind = match self.rng.random_range(0..4) {
            0 => MovementKind::Receive {
                to: key.location,
                qty: PositiveQty::new(self.qty(10)).unwrap(),
            },
            1 if truth > 0 => MovementKind::Ship {
                from: key.location,
                qty: PositiveQty::new(self.qty(truth)).unwrap(),
            },
            2 => {
                // A sales order is confirmed: it reserves stock (not a movement).
                self.confirm_sales_order(key.product);
                return Ok(());
            }
            _ => MovementKind::Count {
                at: key.location,
                counted: Qty::new(truth).unwrap(),
                expected: None,
            },
        };
        let m = self.movement(key, kind);
        let before: Vec<(StockKey, StockRow)> =
            m.keys().iter().map(|k| (*k, self.server.row(k))).collect();
        let d = self.server.online(&m);
        self.trace.push(format!(
            "online {:?} on {} -> {}",
            m.kind,
            name(&key),
            d.outcome.name()
        ));
        match &d.outcome {
            Outcome::Rejected(r) => {
                self.stats.online_refused += 1;
                if r.code != RejectCode::InsufficientStock {
                    return Err(format!("online request refused with {}", r.code.as_str()));
                }
            }
            _ => {
                // It happened physically.
                match m.kind {
                    MovementKind::Receive { qty, .. } => {
                        *self.truth.get_mut(&key).unwrap() += qty.get()
                    }
                    MovementKind::Ship { qty, .. } => {
                        *self.truth.get_mut(&key).unwrap() -= qty.get()
                    }
                    MovementKind::Count { .. } => {
                        self.unseen_loss.remove(&key);
                    }
                    _ => {}
                }
                // (c) no oversell: an online intent never makes a row negative, and
                // an outbound one never takes reserved stock.
                for u in &d.updates {
                    let old = before.iter().find(|(k, _)| *k == u.key).unwrap().1;
                    if u.row.on_hand < 0 && u.row.on_hand < old.on_hand {
                        return Err(format!(
                            "online {:?} drove {} from {} to {}",
                            m.kind,
                            name(&u.key),
                            old.on_hand,
                            u.row.on_hand
                        ));
                    }
                    let outbound = !matches!(m.kind, MovementKind::Count { .. });
                    if outbound && u.row.on_hand < old.on_hand && u.row.on_hand < old.allocated {
                        return Err(format!(
                            "online {:?} took {} from {} to {} with {} reserved",
                            m.kind,
                            name(&u.key),
                            old.on_hand,
                            u.row.on_hand,
                            old.allocated
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// A device pushes its pending journal in random batches (all of it when `all`).
    fn push_some(&mut self, device: usize, all: bool) -> Result<(), String> {
        while !self.devices[device].pending.is_empty() {
            let pending = self.devices[device].pending.len();
            let n = self.rng.random_range(1..=pending.min(8));
            let batch: Vec<Movement> = self.devices[device].pending.drain(..n).collect();
            // Sometimes the answer is lost and the device sends the batch again.
            let resend = self.rng.random_bool(0.1);
            self.trace.push(format!(
                "d{device} pushes #{}..#{}{}",
                seq(&batch[0]),
                seq(&batch[n - 1]),
                if resend { " (twice)" } else { "" }
            ));
            let now = Utc.timestamp_millis_opt(self.ms as i64).unwrap();
            self.server.push(&batch, now)?;
            if resend {
                self.server.push(&batch, now)?;
            }
            self.server.check_ledger()?;
            self.check_orders()?;
            if !all && self.rng.random_bool(0.5) {
                break;
            }
        }
        Ok(())
    }

    fn run(&mut self, steps: usize) -> Result<Stats, String> {
        for _ in 0..steps {
            self.step()?;
        }
        // Every unrecorded loss is seen by a later count (the premise of convergence).
        for key in std::mem::take(&mut self.unseen_loss) {
            let device = self.rng.random_range(0..self.devices.len());
            let counted = Qty::new(self.truth[&key]).unwrap();
            self.record(
                device,
                key,
                MovementKind::Count {
                    at: key.location,
                    counted,
                    expected: None,
                },
            );
        }
        // Everyone comes back and pushes everything, devices in random order.
        let mut order: Vec<usize> = (0..self.devices.len()).collect();
        while !order.is_empty() {
            let i = self.rng.random_range(0..order.len());
            let device = order[i];
            self.push_some(device, false)?;
            if self.devices[device].pending.is_empty() {
                order.swap_remove(i);
            }
        }
        if self.devices.iter().all(|d| d.skew_ms == 0) {
            self.verify()?;
        } else {
            self.verify_skewed()?;
        }
        self.check_orders()?;
        self.stats.scenarios = 1;
        self.stats.sales_lines = self.sales.len();
        self.stats.cancelled = self.sales.iter().filter(|l| l.cancelled).count();
        self.stats.picks_other_row = self.server.picks_other_row;
        self.stats.went_negative = usize::from(self.server.went_negative);
        self.stats.had_held = usize::from(self.server.ever_held > 0);
        Ok(self.stats)
    }

    fn verify(&self) -> Result<(), String> {
        self.server.check_ledger()?;
        if let Some((m, r)) = self.server.engine.held().next() {
            return Err(format!(
                "{} movement(s) left held, e.g. {:?} waiting on {}",
                self.server.engine.held().count(),
                m.kind,
                name(&r.waiting_on)
            ));
        }
        for key in &self.keys {
            let server = self.server.row(key).on_hand;
            if server != self.truth[key] {
                return Err(format!(
                    "row {} is {server} on the server but {} physically",
                    name(key),
                    self.truth[key]
                ));
            }
        }
        let recorded: usize = self.devices.iter().map(|d| d.seq as usize).sum();
        let decided = self
            .server
            .outcomes
            .values()
            .filter(|o| **o != "held")
            .count();
        if decided < recorded {
            return Err(format!(
                "only {decided} of {recorded} journal movements have a final outcome"
            ));
        }
        if let Some((id, _)) = self.server.outcomes.iter().find(|(_, o)| **o == "rejected") {
            return Err(format!("movement {id} of a valid history was rejected"));
        }
        Ok(())
    }
}

impl Sim {
    /// What holds when some clocks are wrong: every movement of a device whose clock is
    /// far ahead is held for a person (`clock_ahead`), so it took effect nowhere, and no
    /// other movement is; no journal movement is rejected; the ledger holds. (That the
    /// far-ahead devices change nothing for anyone else is checked against a control run
    /// that ignores them: [`skewed_clocks_cost_no_one_their_work`].)
    fn verify_skewed(&self) -> Result<(), String> {
        self.server.check_ledger()?;
        for (id, device) in &self.recorded {
            let d = self.devices.iter().find(|d| d.id == *device).unwrap();
            if self.server.ignored.contains(device) {
                continue;
            }
            let outcome = self.server.outcomes.get(id).copied().unwrap_or("none");
            let held_ahead = self.server.clock_ahead.contains(id);
            if d.far_ahead() != held_ahead {
                return Err(format!(
                    "movement {id} of a device {} ms off ended {outcome} (held clock_ahead: {held_ahead})",
                    d.skew_ms
                ));
            }
            if outcome == "rejected" || outcome == "none" {
                return Err(format!("journal movement {id} ended {outcome}"));
            }
        }
        Ok(())
    }
}

/// Orders: what a sales or purchasing person does online, what devices record against
/// order lines offline, and the invariants (d).
impl Sim {
    fn order_step(&mut self, device: usize) {
        match self.rng.random_range(0..8) {
            0 | 1 => {
                let product = self.keys[self.rng.random_range(0..self.keys.len())].product;
                self.confirm_sales_order(product);
            }
            2 => {
                // Back-orders served again (a rise of stock, or a person asking).
                if !self.sales.is_empty() {
                    let i = self.rng.random_range(0..self.sales.len());
                    self.allocate_line(i);
                }
            }
            3 => {
                let open: Vec<usize> = (0..self.sales.len())
                    .filter(|&i| !self.sales[i].cancelled)
                    .collect();
                if !open.is_empty() {
                    let i = open[self.rng.random_range(0..open.len())];
                    self.cancel_line(i);
                }
            }
            4..=6 => self.device_pick(device),
            _ => self.device_receipt(device),
        }
    }

    /// A one-line sales order of 1–8 units, confirmed online: it reserves what is
    /// available, the rest is back-ordered.
    fn confirm_sales_order(&mut self, product: ProductId) {
        let id = Uuid::from_u128(10_000 + self.sales.len() as u128);
        let qty = self.qty(8);
        self.server.engine.set_sales_line(
            id,
            orders::SalesLineState {
                product,
                allocations: Vec::new(),
            },
        );
        self.sales.push(SalesModel {
            id,
            product,
            qty,
            cancelled: false,
            reserved: 0,
            released: 0,
        });
        self.allocate_line(self.sales.len() - 1);
    }

    fn open_allocations(&self, line: Uuid) -> Vec<orders::Allocation> {
        self.server
            .engine
            .sales_line(line)
            .map(|l| l.allocations.clone())
            .unwrap_or_default()
    }

    /// The units of applied journal movements naming `line`.
    fn applied_against(&self, line: LineRef) -> i64 {
        self.against_lines
            .iter()
            .filter(|(m, l, _)| *l == line && self.server.outcomes.get(m) == Some(&"applied"))
            .map(|(_, _, q)| q)
            .sum()
    }

    /// What the server does when it allocates a line (`orders::sales::reserve`): the
    /// product's rows as they are now, [`orders::allocate`] for what the line still
    /// needs, the rows' `allocated` raised and the line's reservations extended.
    fn allocate_line(&mut self, i: usize) {
        let line = &self.sales[i];
        if line.cancelled {
            return;
        }
        let (id, product, qty) = (line.id, line.product, line.qty);
        let mut open = self.open_allocations(id);
        let reserved: i64 = open.iter().map(|a| a.qty).sum();
        let need = qty - reserved - self.applied_against(LineRef::SalesLine(id));
        if need <= 0 {
            return;
        }
        let candidates: Vec<orders::Candidate> = self
            .keys
            .iter()
            .filter(|k| k.product == product)
            .map(|k| {
                let row = self.server.row(k);
                orders::Candidate {
                    key: *k,
                    available: row.on_hand - row.allocated,
                    expires_on: None,
                    received_at: None,
                    location_path: name(k),
                }
            })
            .collect();
        let got = orders::allocate(
            &orders::Need {
                qty: need,
                policy: orders::ExpiryPolicy::Fifo,
                today: Utc
                    .timestamp_millis_opt(self.ms as i64)
                    .unwrap()
                    .date_naive(),
                min_shelf_life_days: None,
            },
            &candidates,
        );
        for a in &got.allocations {
            let mut row = self.server.row(&a.key);
            row.allocated += a.qty;
            self.server.engine.set_row(a.key, row);
            match open.iter_mut().find(|o| o.key == a.key) {
                Some(o) => o.qty += a.qty,
                None => open.push(*a),
            }
            self.sales[i].reserved += a.qty;
        }
        self.trace.push(format!(
            "line {} of {need}: reserved {:?}, back-ordered {}",
            id.as_u128(),
            got.allocations
                .iter()
                .map(|a| (name(&a.key), a.qty))
                .collect::<Vec<_>>(),
            got.back_ordered
        ));
        self.server.engine.set_sales_line(
            id,
            orders::SalesLineState {
                product,
                allocations: open,
            },
        );
    }

    /// The order is cancelled online: every reservation of its line is released.
    fn cancel_line(&mut self, i: usize) {
        let (id, product) = (self.sales[i].id, self.sales[i].product);
        let open = self.open_allocations(id);
        for (key, delta) in orders::release(&open) {
            let mut row = self.server.row(&key);
            row.allocated += delta;
            self.server.engine.set_row(key, row);
            self.sales[i].released -= delta;
        }
        self.sales[i].cancelled = true;
        self.server.engine.set_sales_line(
            id,
            orders::SalesLineState {
                product,
                allocations: Vec::new(),
            },
        );
        self.trace.push(format!("line {} cancelled", id.as_u128()));
    }

    /// A device picks against a line (cancelled or not, it does not know): from a bin the
    /// line reserved when there is one and it is not empty, else from any bin of the
    /// product holding stock; sometimes more than the line needs.
    fn device_pick(&mut self, device: usize) {
        if self.sales.is_empty() {
            return;
        }
        let i = self.rng.random_range(0..self.sales.len());
        let (id, product) = (self.sales[i].id, self.sales[i].product);
        let reserved: Vec<StockKey> = self
            .open_allocations(id)
            .iter()
            .map(|a| a.key)
            .filter(|k| self.truth[k] > 0)
            .collect();
        let key = if !reserved.is_empty() && self.rng.random_bool(0.6) {
            reserved[self.rng.random_range(0..reserved.len())]
        } else {
            match self.pick(|k, t| k.product == product && t > 0) {
                Some(key) => key,
                None => return,
            }
        };
        let q = self.qty(self.truth[&key].min(6));
        *self.truth.get_mut(&key).unwrap() -= q;
        self.stats.picks += 1;
        self.record_against(
            device,
            key,
            MovementKind::Ship {
                from: key.location,
                qty: PositiveQty::new(q).unwrap(),
            },
            Some(LineRef::SalesLine(id)),
        );
    }

    /// A device receives goods against a purchase line of the product.
    fn device_receipt(&mut self, device: usize) {
        let (id, product) = self.purchases[self.rng.random_range(0..self.purchases.len())];
        let Some(key) = self.pick(|k, _| k.product == product) else {
            return;
        };
        let q = self.qty(12);
        *self.truth.get_mut(&key).unwrap() += q;
        self.stats.receipts_against_orders += 1;
        self.record_against(
            device,
            key,
            MovementKind::Receive {
                to: key.location,
                qty: PositiveQty::new(q).unwrap(),
            },
            Some(LineRef::PurchaseLine(id)),
        );
    }

    /// (d): rows, sales lines and purchase lines agree with what was applied.
    fn check_orders(&self) -> Result<(), String> {
        let mut reserved_on: BTreeMap<StockKey, i64> = BTreeMap::new();
        for line in &self.sales {
            let open = self.open_allocations(line.id);
            if let Some(a) = open.iter().find(|a| a.qty <= 0) {
                return Err(format!(
                    "line {} keeps an empty or negative reservation of {} on {}",
                    line.id.as_u128(),
                    a.qty,
                    name(&a.key)
                ));
            }
            let open_qty: i64 = open.iter().map(|a| a.qty).sum();
            for a in &open {
                *reserved_on.entry(a.key).or_default() += a.qty;
            }
            let picked = self.applied_against(LineRef::SalesLine(line.id));
            let consumed = line.reserved - line.released - open_qty;
            if consumed < 0 || consumed > picked {
                return Err(format!(
                    "line {}: picks consumed {consumed} of its reservations but picked {picked}",
                    line.id.as_u128()
                ));
            }
            if line.cancelled && open_qty != 0 {
                return Err(format!(
                    "cancelled line {} still reserves {open_qty}",
                    line.id.as_u128()
                ));
            }
            if open_qty > 0 && open_qty + picked > line.qty {
                return Err(format!(
                    "line {} of {} reserves {open_qty} with {picked} picked",
                    line.id.as_u128(),
                    line.qty
                ));
            }
        }
        for (key, row) in self.server.engine.rows() {
            let reserved = reserved_on.get(key).copied().unwrap_or(0);
            if row.allocated != reserved || row.allocated < 0 {
                return Err(format!(
                    "row {} has {} allocated but its lines reserve {reserved} on it",
                    name(key),
                    row.allocated
                ));
            }
        }
        if let Some(key) = reserved_on
            .keys()
            .find(|k| !self.server.engine.rows().contains_key(k))
        {
            return Err(format!(
                "a line reserves on {}, a row never loaded",
                name(key)
            ));
        }
        for (id, _) in &self.purchases {
            let received = self
                .server
                .engine
                .purchase_line(*id)
                .map_or(0, |l| l.qty.received);
            let applied = self.applied_against(LineRef::PurchaseLine(*id));
            if received != applied {
                return Err(format!(
                    "purchase line {} received {received} but its applied receipts bring {applied}",
                    id.as_u128()
                ));
            }
        }
        Ok(())
    }
}

fn seq(m: &Movement) -> u64 {
    m.device.map_or(0, |d| d.seq)
}

fn steps_for(seed: u64) -> usize {
    // Short and long histories alike; derived from the seed so it reproduces.
    10 + (seed % 140) as usize
}

/// Runs one scenario; on failure the error carries the tail of its trace.
fn run_seed(seed: u64) -> Result<Stats, String> {
    const TRACE_TAIL: usize = 300;
    let mut sim = Sim::new(seed);
    let result = sim.run(steps_for(seed));
    result.map_err(|err| {
        let from = sim.trace.len().saturating_sub(TRACE_TAIL);
        format!(
            "{err}\n--- trace (last {} events) ---\n{}",
            sim.trace.len() - from,
            sim.trace[from..].join("\n")
        )
    })
}

fn cases() -> u32 {
    std::env::var("LOGIFLOW_SIM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

#[test]
fn journals_converge_to_physical_truth_in_any_arrival_order() {
    if let Some(seed) = std::env::var("LOGIFLOW_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        if let Err(e) = run_seed(seed) {
            panic!("seed {seed}: {e}");
        }
        return;
    }
    let stats = RefCell::new(Stats::default());
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&any::<u64>(), |seed| {
        let s = run_seed(seed).map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))?;
        let mut total = stats.borrow_mut();
        total.scenarios += s.scenarios;
        total.movements += s.movements;
        total.went_negative += s.went_negative;
        total.had_held += s.had_held;
        total.online_refused += s.online_refused;
        total.sales_lines += s.sales_lines;
        total.cancelled += s.cancelled;
        total.picks += s.picks;
        total.picks_other_row += s.picks_other_row;
        total.receipts_against_orders += s.receipts_against_orders;
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, seed)) => panic!(
            "convergence failed: {reason}\nreproduce with: LOGIFLOW_SIM_SEED={seed} cargo test -p logiflow-core --test convergence"
        ),
        Err(e) => panic!("{e}"),
    }
    let s = stats.into_inner();
    eprintln!(
        "convergence: {} scenarios, {} journal movements; {:.1}% passed through a negative row, {:.1}% held something, {} online requests refused",
        s.scenarios,
        s.movements,
        100.0 * s.went_negative as f64 / s.scenarios as f64,
        100.0 * s.had_held as f64 / s.scenarios as f64,
        s.online_refused
    );
    eprintln!(
        "orders: {} sales lines ({} cancelled), {} picks ({} from another row), {} receipts against purchase lines",
        s.sales_lines, s.cancelled, s.picks, s.picks_other_row, s.receipts_against_orders
    );
    // The generator must really exercise the interesting paths, or the property is hollow.
    assert!(s.scenarios as u32 >= cases());
    if s.scenarios >= 500 {
        assert!(
            s.had_held > 0,
            "no scenario held a movement: the generator lost its teeth"
        );
        assert!(
            s.went_negative > 0,
            "no scenario passed through a negative row"
        );
        assert!(
            s.cancelled > 0 && s.picks_other_row > 0 && s.receipts_against_orders > 0,
            "the orders lost their teeth: no cancellation, pick from another row or receipt"
        );
    }
}

/// Devices with wrong clocks (minutes to days, ahead and behind) beside correct ones.
/// Each scenario runs twice from its seed: as is, and as a control in which the server
/// ignores the devices whose clock runs ahead beyond the tolerance. Their movements are
/// all held for a person (`clock_ahead`) and change nothing: every other movement ends
/// exactly as in the control, rows included — so none of a correct device's movements
/// is absorbed by their counts, superseded or blocked, and every one is applied or held
/// for a stated reason. Online requests are never refused but for lack of stock, also
/// on rows counted in the server's future (slightly-ahead devices, within the tolerance).
/// `LOGIFLOW_SIM_SKEWED_CASES` sets the number of scenarios (default 300).
#[test]
fn skewed_clocks_cost_no_one_their_work() {
    let cases: u64 = std::env::var("LOGIFLOW_SIM_SKEWED_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let (mut far_ahead, mut held_for_clock) = (0, 0);
    for seed in 0..cases {
        let run = |ignore_far_ahead: bool| {
            let mut sim = Sim::with_clocks(seed, true);
            if ignore_far_ahead {
                sim.server.ignored = sim
                    .devices
                    .iter()
                    .filter(|d| d.far_ahead())
                    .map(|d| d.id)
                    .collect();
            }
            let result = sim.run(steps_for(seed));
            if let Err(e) = &result {
                let from = sim.trace.len().saturating_sub(300);
                panic!(
                    "skewed seed {seed} (control: {ignore_far_ahead}): {e}\n{}",
                    sim.trace[from..].join("\n")
                );
            }
            sim
        };
        let with = run(false);
        let control = run(true);
        far_ahead += with.devices.iter().filter(|d| d.far_ahead()).count();
        held_for_clock += with.server.clock_ahead.len();
        let mut outcomes: Vec<(&MovementId, &&str)> = with
            .server
            .outcomes
            .iter()
            .filter(|(id, _)| !with.server.clock_ahead.contains(id))
            .collect();
        let mut expected: Vec<(&MovementId, &&str)> = control.server.outcomes.iter().collect();
        outcomes.sort();
        expected.sort();
        assert_eq!(
            outcomes, expected,
            "skewed seed {seed}: outcomes differ from the control"
        );
        assert_eq!(
            with.server.engine.rows(),
            control.server.engine.rows(),
            "skewed seed {seed}: rows differ from the control"
        );
    }
    eprintln!(
        "skewed clocks: {cases} scenarios, {far_ahead} devices far ahead, {held_for_clock} movements held clock_ahead"
    );
    assert!(
        held_for_clock > 0,
        "no movement was held for its clock: the generator lost its teeth"
    );
}

/// Property (c) on arbitrary rows, with proptest's shrinking: an online intent never
/// takes a row below zero, and never below its allocation when it takes stock out.
mod no_oversell {
    use super::*;

    fn kinds() -> impl Strategy<Value = MovementKind> {
        let l = |n: u128| LocationId::from_uuid(Uuid::from_u128(n));
        let qty = (1i64..50).prop_map(|q| PositiveQty::new(q).unwrap());
        prop_oneof![
            qty.clone()
                .prop_map(move |qty| MovementKind::Ship { from: l(1), qty }),
            qty.clone().prop_map(move |qty| MovementKind::Transfer {
                from: l(1),
                to: l(2),
                qty
            }),
            qty.prop_map(move |qty| MovementKind::Receive { to: l(1), qty }),
            (1i64..50).prop_map(move |d| MovementKind::Adjust {
                at: l(1),
                delta: Delta::new(-d).unwrap(),
                reason: AdjustReason::Loss
            }),
            (0i64..50).prop_map(move |n| MovementKind::Count {
                at: l(1),
                counted: Qty::new(n).unwrap(),
                expected: None
            }),
        ]
    }

    proptest! {
        #![proptest_config(Config { cases: 2_000, failure_persistence: None, ..Config::default() })]
        #[test]
        fn online_intents_never_oversell(
            kind in kinds(),
            on_hand in -20i64..60,
            alloc_pct in 0i64..=100,
            dest in -20i64..60,
        ) {
            let allocated = on_hand.max(0) * alloc_pct / 100;
            let m = Movement {
                id: MovementId::from_uuid(Uuid::from_u128(9)),
                occurred_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
                product: ProductId::from_uuid(Uuid::from_u128(0)),
                lot: None,
                kind,
                user: USER,
                device: None,
                reference: None,
            };
            let views: Vec<RowView> = m.keys().into_iter().map(|key| RowView {
                key,
                row: if key.location.as_uuid().as_u128() == 1 {
                    StockRow { on_hand, allocated, last_count: None }
                } else {
                    StockRow { on_hand: dest, allocated: 0, last_count: None }
                },
                // Online intents happen now: nothing is recorded after them.
                effects_after: 0,
            }).collect();
            let d = decide(&m, Origin::Online, &views).unwrap();
            for u in &d.updates {
                let before = views.iter().find(|v| v.key == u.key).unwrap().row;
                prop_assert!(u.row.on_hand >= 0 || u.row.on_hand >= before.on_hand,
                    "{:?} took {:?} from {} to {}", m.kind, u.key, before.on_hand, u.row.on_hand);
                if u.row.on_hand < before.on_hand && !matches!(m.kind, MovementKind::Count { .. }) {
                    prop_assert!(u.row.on_hand >= before.allocated, "oversold the allocation");
                }
            }
        }
    }
}
