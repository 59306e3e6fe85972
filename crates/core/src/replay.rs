//! The replay decision: what happens to one stock movement (DESIGN §5.2–5.4).
//!
//! The server calls [`judge`] for every movement — an online request or an entry of a
//! device's journal — on the rows it has locked in key order, and writes back exactly
//! what the returned [`Decision`] says. A replica calls the same functions to project
//! its pending journal over the last pulled state. Nothing here reads a clock, a
//! database or the network, so the rules are checked by table tests and by a simulation
//! of many devices (`tests/convergence.rs`).
//!
//! # The rules, with worked examples
//!
//! Each example is a row of the table test `rules_table` in `tests/rules.rs`, under the
//! name in brackets. Times are written `t5` for "5 seconds after some origin".
//!
//! * **Inbound** (receive, positive adjustment, the destination of a transfer) always
//!   applies. *Row holds 10; a receipt of 5 → applied, row 15* `[receive_applies]`.
//! * **Online outbound** needs `available = on_hand − allocated ≥ qty`, else it is
//!   rejected `insufficient_stock` and nothing changes. *Row holds 10 with 4 allocated;
//!   an online ship of 7 → rejected* `[online_ship_beyond_available]`.
//! * **Journal outbound** is a physical fact: never rejected for lack of stock. It is
//!   **held** when the row's quantity *at the movement's own time* is short — the
//!   receipt that physically preceded it has not arrived yet. *Row holds 0; a ship of 3
//!   at t5 → held* `[journal_ship_held]`; *a receipt of 5 at t2 arrives → the row rises,
//!   the held ship is retried → applied, row 2*.
//!   The test looks at the quantity at the movement's time, not the current quantity,
//!   on purpose (a deliberate reading of DESIGN §5.2): checking the current quantity can
//!   deadlock. Example: device X records receive 5 into A at t0 and transfer A→C 5 at t5;
//!   device Y, offline, records transfer A→B 5 at t1 and B→A 5 at t2. X pushes first:
//!   A = 0. Then Y's A→B finds A = 0 and its B→A finds B = 0: with the current-quantity
//!   test both stay held forever although every step was physically possible. With the
//!   time test, A→B sees A = 5 at t1 and applies (A = −5 for a moment), then B→A sees
//!   B = 5 at t2 and applies: A = 0, B = 0, C = 5, the truth. The price is that a row may
//!   dip below zero for a while (flagged), exactly as the count rule already allows.
//!   `[journal_ship_checks_time_not_now]`
//! * **Count** says "at t this row held n". With `q_t = on_hand − effects after t`, it
//!   applies the adjustment `n − q_t`. *Row holds 8 after a ship of 2 at t9 was applied;
//!   a count at t5 saw 7 → q_t5 = 8 − (−2) = 10, adjustment −3, row 5*
//!   `[count_subtracts_later_effects]`.
//! * A count older than the row's latest applied count is **superseded**: no effect.
//!   `[older_count_superseded]`
//! * A journal movement that occurred before the row's latest count was already seen by
//!   that count: it is **absorbed** on that row (no effect there). A transfer may be
//!   absorbed on one row and applied on the other. `[late_receipt_absorbed]`,
//!   `[transfer_absorbed_on_one_side]`. Held movements are retried when their row gets a
//!   count, and those that occurred before it are absorbed in that retry.
//! * A count whose device-side expected quantity differs from the server's `q_t` is
//!   **flagged** for review but applied. `[count_variance_flagged]`
//! * A row may end below zero (a count or a journal outbound applied on stock whose
//!   receipt has not arrived yet): allowed and **flagged**, never clamped — clamping
//!   breaks convergence. `[count_may_leave_row_negative]`
//! * Online intents that would land before the row's latest count are refused
//!   `before_latest_count`: an intent must not be silently absorbed.
//!   `[online_before_count_refused]` The server never gets there with an intent dated
//!   now: [`crate::online_time`] first dates an intent just after the latest event on
//!   its rows when that event lies in the server's future (a device's clock within the
//!   tolerance), so an online movement is never refused because of a count dated after
//!   the server's now. *Row counted at t5, server's now t4: a receipt is dated t5 + 1 µs
//!   and applies* `[online_after_future_count]` (table `online_dating` in
//!   `tests/rules.rs`).
//! * **Clock ahead** (the server's bound on a device's clock, [`crate::clock`]): a
//!   journal movement dated later than the server's time of receipt plus the tolerance
//!   (setting `clock_ahead_tolerance_secs`, default 5 minutes) is **held for a person**
//!   with review `clock_ahead`, before any other rule: it absorbs, supersedes and blocks
//!   nothing and is not in the ledger, and no retry ever decides it again. *Received at
//!   t0 with a tolerance of 300 s, a count at t259200 (3 days ahead) → held, clock_ahead
//!   259200 s* `[count_three_days_ahead_held]`; *a receipt at t240 → applies as usual*
//!   `[within_tolerance_applies]`. Forcing it applies it at its receipt time, flagged
//!   `forced` and `redated` (with the date the device recorded); voiding drops it.
//!   `[forcing_clock_ahead_applies_at_receipt]`
//! * A journal movement dated before its device was registered (by more than the
//!   tolerance), or further in the past than the tenant's limit
//!   (`journal_past_limit_days`, default 30), is decided as usual and **flagged**
//!   `dated_before_device` / `dated_long_ago`. `[before_device_flagged]`,
//!   `[just_before_device_is_plain]`, `[long_ago_flagged]`
//!
//! Events are totally ordered by [`OrderKey`] (time, then id).

use chrono::NaiveDate;

use crate::{
    LineRef, LocationId, LotId, Movement, MovementId, MovementKind, OrderKey, Origin, ProductId,
    RowView, StockKey, StockRow, WarehouseId,
};

crate::names::names!(
    /// A stable machine code for a refused movement. The text form (`as_str`, the serde
    /// name) is part of the API and the journal; it never changes once released. The
    /// server answers it as a problem code, [`crate::ProblemCode::Movement`].
    RejectCode {
        /// The product does not exist (for this tenant).
        UnknownProduct = "unknown_product",
        /// The lot does not exist.
        UnknownLot = "unknown_lot",
        /// A location does not exist.
        UnknownLocation = "unknown_location",
        /// The product is lot-tracked and no lot was given.
        LotRequired = "lot_required",
        /// A lot was given for a product without lot tracking.
        LotNotTracked = "lot_not_tracked",
        /// The lot belongs to another product.
        LotOfOtherProduct = "lot_of_other_product",
        /// Stock lives only in leaf locations (bins).
        LocationNotLeaf = "location_not_leaf",
        /// A transfer from a location to itself.
        SameLocation = "same_location",
        /// An adjustment whose sign does not fit its reason (a "found" that removes stock).
        ReasonSignMismatch = "reason_sign_mismatch",
        /// Online: the product is deactivated.
        InactiveProduct = "inactive_product",
        /// Online: a location is deactivated.
        InactiveLocation = "inactive_location",
        /// Online: the lot is past its expiry date (in the warehouse's time zone) and
        /// cannot be shipped (it may still be transferred or written off).
        LotExpired = "lot_expired",
        /// Online: not enough available stock (`on_hand − allocated`).
        InsufficientStock = "insufficient_stock",
        /// Online: a count on the row already covers a later time.
        BeforeLatestCount = "before_latest_count",
        /// The row's quantity would leave `±QTY_MAX`, the range of quantities we keep.
        QuantityOverflow = "quantity_overflow",
        /// `occurred_at` has a finer precision than the microsecond (see
        /// [`crate::stock::OrderKey`]).
        TimePrecision = "time_precision",
        /// Online: the movement names an order line that does not exist.
        UnknownOrderLine = "unknown_order_line",
        /// Online: the order line is of another product, or of the wrong kind (a receipt
        /// names a purchase line, a pick a sales line).
        OrderLineMismatch = "order_line_mismatch",
    }
);

/// A refused movement: a machine code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rejection {
    /// The stable code.
    pub code: RejectCode,
    /// What went wrong, in words a supervisor understands.
    pub message: String,
}

impl Rejection {
    fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Something a person should look at, attached to a decision that still took effect.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum Flag {
    /// The row is below zero after this decision (a receipt that physically came first
    /// has not arrived yet, or a record is wrong).
    NegativeRow {
        /// The row.
        key: StockKey,
        /// Its quantity now.
        on_hand: i64,
    },
    /// A count saw something else than the device expected: someone moved stock in
    /// between, or the device's view was stale.
    CountVariance {
        /// The row.
        key: StockKey,
        /// What the device expected.
        expected: i64,
        /// What the server held at the count's time.
        server_at_time: i64,
    },
    /// A journal fact shipped or moved a lot that was past its expiry date.
    ExpiredLotMoved {
        /// The lot.
        lot: LotId,
    },
    /// A journal fact used a deactivated product.
    InactiveProduct,
    /// A journal fact used a deactivated location.
    InactiveLocation {
        /// The location.
        location: LocationId,
    },
    /// A manager forced a held movement through.
    Forced,
    /// Its stored outcome disagreed with its ledger effects (written by a server before
    /// issue #20 was fixed) and was repaired to `applied`, the outcome its effects show:
    /// `was` is the outcome it had.
    OutcomeRepaired {
        /// The outcome it had (`held` or `voided`).
        was: String,
    },
    /// A journal movement dated before its device was registered: its device's clock
    /// was probably behind (applied, for a person to check).
    DatedBeforeDevice {
        /// When the device was registered (the server's clock).
        registered_at: chrono::DateTime<chrono::Utc>,
    },
    /// A journal movement dated further in the past than the tenant's limit when the
    /// server received it (applied, for a person to check).
    DatedLongAgo {
        /// How many whole days before its receipt it is dated.
        age_days: i64,
        /// The tenant's limit, in days.
        limit_days: i64,
    },
    /// A movement held because its device's clock ran ahead was forced through at the
    /// time the server received it, not at the date the device recorded.
    Redated {
        /// The date the device recorded (kept in its journal).
        recorded_at: chrono::DateTime<chrono::Utc>,
        /// The date it took effect at.
        applied_at: chrono::DateTime<chrono::Utc>,
    },
    /// A journal fact named an order line the server does not know (applied; it counts
    /// toward no line).
    UnknownOrderLine {
        /// The line named.
        line: uuid::Uuid,
    },
    /// A journal fact named an order line of another product or of the wrong kind
    /// (applied; it counts toward no line).
    OrderLineMismatch {
        /// The line named.
        line: uuid::Uuid,
    },
    /// A receipt took a purchase line beyond its ordered quantity and the tenant's
    /// tolerance (applied: the goods are there).
    OverReceipt {
        /// The purchase line.
        line: uuid::Uuid,
        /// Units beyond what the tolerance allows.
        beyond: i64,
    },
    /// A receipt arrived against a purchase order that expected no goods (draft, closed
    /// or cancelled); applied: the goods are there.
    ReceiptOrderNotOpen {
        /// The purchase line.
        line: uuid::Uuid,
        /// The order's status when the goods arrived.
        status: crate::orders::PurchaseStatus,
    },
    /// A pick left from a row (bin or lot) its sales line had nothing reserved on; the
    /// line's reservations elsewhere were released instead (applied: the goods left).
    PickOtherRow {
        /// The sales line.
        line: uuid::Uuid,
    },
    /// A pick took more than its sales line had reserved (applied: the goods left).
    OverPick {
        /// The sales line.
        line: uuid::Uuid,
        /// Units beyond the reservations.
        excess: i64,
    },
    /// A receipt's device created the lot offline with another expiry date than the
    /// lot of that code the server holds; the server's date was kept
    /// (`crate::lots::reconcile`).
    LotExpiryDiffers {
        /// The lot the receipt went into.
        lot: LotId,
        /// The date the device recorded.
        recorded: Option<NaiveDate>,
        /// The date the lot keeps.
        kept: Option<NaiveDate>,
    },
}

/// Why a journal movement is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hold {
    /// The row it waits on: it is retried when that row rises or is counted.
    pub waiting_on: StockKey,
    /// Units it needs from that row.
    pub needed: i64,
    /// Units the row held at the movement's time.
    pub at_time: i64,
    /// Set when the movement waits for a person, not for stock: it is never retried
    /// automatically (a manager forces or voids it). Absent in holds stored before it
    /// existed, which all wait for stock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<HoldReview>,
}

impl Hold {
    /// True when the automatic retry may decide the movement again (it waits for stock,
    /// not for a person).
    pub fn is_retryable(&self) -> bool {
        self.review.is_none()
    }
}

/// Why a held movement waits for a person rather than for stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "review", rename_all = "snake_case")]
pub enum HoldReview {
    /// The movement is dated later than the server's clock allows: the device's clock ran
    /// ahead. Taking effect at that date would absorb or supersede other people's work, so
    /// it waits; forcing it applies it at `received_at`.
    ClockAhead {
        /// When the server received it.
        received_at: chrono::DateTime<chrono::Utc>,
        /// How far its date lay beyond `received_at`, in seconds.
        ahead_secs: i64,
    },
    /// Recorded on a device that was revoked before it could push, and uploaded by a
    /// manager from that device's exported journal: a physical fact a person must review.
    RevokedDevice {
        /// When the journal was uploaded.
        uploaded_at: chrono::DateTime<chrono::Utc>,
    },
}

/// One row's part of an applied movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Effect {
    /// The row.
    pub key: StockKey,
    /// The change made to `on_hand` (for a count, the adjustment; may be 0).
    pub delta: i64,
    /// True when a later count already saw this movement on this row, so it changed
    /// nothing there (`delta` is then 0).
    pub absorbed: bool,
}

/// What became of a movement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// It took effect on at least one row (some rows may have absorbed it).
    Applied {
        /// Each row's part, in lock order.
        effects: Vec<Effect>,
    },
    /// Every row it touches was counted after it: the counts already include it.
    Absorbed,
    /// A count older than the row's latest count: recorded, no effect.
    Superseded,
    /// A journal fact that cannot be applied yet.
    Held(Hold),
    /// Invalid whatever happens later.
    Rejected(Rejection),
    /// A held movement that a manager decided will never apply (the goods were never
    /// there, a duplicate scan): kept with the reason, audited, no effect.
    Voided {
        /// Why, as the manager wrote it.
        reason: String,
    },
}

/// A row's state after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowUpdate {
    /// The row.
    pub key: StockKey,
    /// Its new state, to be written back.
    pub row: StockRow,
}

/// The full decision on one movement: its outcome, the flags raised, and the rows' new
/// state (only rows that changed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Decision {
    /// What became of the movement.
    pub outcome: Outcome,
    /// What a person should review.
    pub flags: Vec<Flag>,
    /// New state of each row that changed, in lock order.
    pub updates: Vec<RowUpdate>,
    /// Rows whose held movements must be retried after this decision: rows that rose,
    /// and rows that received a count (held movements before it are then absorbed).
    pub wakes: Vec<StockKey>,
}

impl Decision {
    pub(crate) fn only(outcome: Outcome) -> Self {
        Self {
            outcome,
            flags: Vec::new(),
            updates: Vec::new(),
            wakes: Vec::new(),
        }
    }

    fn rejected(code: RejectCode, message: impl Into<String>) -> Self {
        Self::only(Outcome::Rejected(Rejection::new(code, message)))
    }
}

/// A programming error of the caller, not a property of the movement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    /// The caller did not load (and lock) a row the movement touches. Pass
    /// [`RowView::empty`] for rows that do not exist yet.
    #[error("row {0:?} was not loaded for the decision")]
    MissingRow(StockKey),
}

/// What the caller knows of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductFacts {
    /// Not deactivated.
    pub active: bool,
    /// Stock is kept per lot.
    pub lot_tracked: bool,
}

/// What the caller knows of a lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LotFacts {
    /// The product it belongs to.
    pub product: ProductId,
    /// Its last day of use, if it expires.
    pub expires_on: Option<NaiveDate>,
}

/// What the caller knows of a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocationFacts {
    /// Its warehouse.
    pub warehouse: WarehouseId,
    /// Not deactivated.
    pub active: bool,
    /// Has no children, so it can hold stock.
    pub is_leaf: bool,
}

/// The catalog as the caller sees it (the server from PostgreSQL, a replica from its
/// SQLite copy). Returning `None` means "does not exist for this tenant".
pub trait Catalog {
    /// A product's facts.
    fn product(&self, id: ProductId) -> Option<ProductFacts>;
    /// A lot's facts.
    fn lot(&self, id: LotId) -> Option<LotFacts>;
    /// A location's facts.
    fn location(&self, id: LocationId) -> Option<LocationFacts>;
    /// An order line's facts.
    fn order_line(&self, line: LineRef) -> Option<OrderLineFacts>;
}

/// What the caller knows of an order line a movement names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLineFacts {
    /// The product ordered on it.
    pub product: ProductId,
}

fn locations(m: &Movement) -> Vec<LocationId> {
    match m.kind {
        MovementKind::Receive { to, .. } => vec![to],
        MovementKind::Ship { from, .. } => vec![from],
        MovementKind::Transfer { from, to, .. } => vec![from, to],
        MovementKind::Adjust { at, .. } | MovementKind::Count { at, .. } => vec![at],
    }
}

/// Checks a movement against the catalog. `on_date` is the movement's date in its
/// warehouse's time zone (for lot expiry).
///
/// A time finer than the microsecond is refused (`time_precision`): the server stores
/// microseconds, and a finer time could order two events differently on the device and
/// on the server.
///
/// Structural errors (unknown product, lot or location; lot missing or superfluous;
/// non-leaf location; a transfer to itself; a reason of the wrong sign) reject any
/// movement. Deactivated products or locations and expired lots reject an online
/// intent but only flag a journal fact: the fact happened, and refusing it would lose
/// what a person recorded.
///
/// Longer than 80 lines: one check per rule, listed in order; splitting them would
/// scatter the rules this comment lists.
pub fn validate(
    m: &Movement,
    origin: Origin,
    catalog: &impl Catalog,
    on_date: NaiveDate,
) -> Result<Vec<Flag>, Rejection> {
    use RejectCode as C;
    let mut flags = Vec::new();
    if m.occurred_at.timestamp_subsec_nanos() % 1_000 != 0 {
        return Err(Rejection::new(
            C::TimePrecision,
            "occurred_at must be given to the microsecond at most",
        ));
    }
    let product = catalog
        .product(m.product)
        .ok_or_else(|| Rejection::new(C::UnknownProduct, "this product does not exist"))?;
    let online = origin == Origin::Online;
    if !product.active {
        if online {
            return Err(Rejection::new(
                C::InactiveProduct,
                "this product is deactivated; reactivate it to move stock",
            ));
        }
        flags.push(Flag::InactiveProduct);
    }
    match (product.lot_tracked, m.lot) {
        (true, None) => {
            return Err(Rejection::new(
                C::LotRequired,
                "this product is lot-tracked: say which lot",
            ));
        }
        (false, Some(_)) => {
            return Err(Rejection::new(
                C::LotNotTracked,
                "this product is not lot-tracked: no lot may be given",
            ));
        }
        (true, Some(lot_id)) => {
            let lot = catalog
                .lot(lot_id)
                .ok_or_else(|| Rejection::new(C::UnknownLot, "this lot does not exist"))?;
            if lot.product != m.product {
                return Err(Rejection::new(
                    C::LotOfOtherProduct,
                    "this lot belongs to another product",
                ));
            }
            let expired = lot.expires_on.is_some_and(|d| d < on_date);
            // Expired goods must not reach a customer, but they must still be moved to
            // quarantine and written off: only a ship is refused.
            if expired && matches!(m.kind, MovementKind::Ship { .. }) {
                if online {
                    return Err(Rejection::new(
                        C::LotExpired,
                        "this lot is past its expiry date and cannot be shipped; move it to quarantine or write it off",
                    ));
                }
                flags.push(Flag::ExpiredLotMoved { lot: lot_id });
            }
        }
        (false, None) => {}
    }
    for location in locations(m) {
        let facts = catalog
            .location(location)
            .ok_or_else(|| Rejection::new(C::UnknownLocation, "this location does not exist"))?;
        if !facts.is_leaf {
            return Err(Rejection::new(
                C::LocationNotLeaf,
                "stock is kept only in bins (locations without sub-locations)",
            ));
        }
        if !facts.active {
            if online {
                return Err(Rejection::new(
                    C::InactiveLocation,
                    "this location is deactivated",
                ));
            }
            flags.push(Flag::InactiveLocation { location });
        }
    }
    if let Some(reference) = m.reference {
        let line = reference.id();
        let fits = matches!(
            (m.kind, reference),
            (MovementKind::Receive { .. }, LineRef::PurchaseLine(_))
                | (MovementKind::Ship { .. }, LineRef::SalesLine(_))
        );
        match catalog.order_line(reference) {
            None if online => {
                return Err(Rejection::new(
                    C::UnknownOrderLine,
                    "this order line does not exist",
                ));
            }
            None => flags.push(Flag::UnknownOrderLine { line }),
            Some(facts) if !fits || facts.product != m.product => {
                if online {
                    return Err(Rejection::new(
                        C::OrderLineMismatch,
                        "a receipt names a purchase-order line and a pick a sales-order line, of the same product",
                    ));
                }
                flags.push(Flag::OrderLineMismatch { line });
            }
            Some(_) => {}
        }
    }
    match m.kind {
        MovementKind::Transfer { from, to, .. } if from == to => Err(Rejection::new(
            C::SameLocation,
            "a transfer needs two different locations",
        )),
        MovementKind::Adjust { delta, reason, .. } if !reason.allows(delta) => Err(Rejection::new(
            C::ReasonSignMismatch,
            format!("an adjustment for {reason:?} cannot change stock by {delta}").to_lowercase(),
        )),
        _ => Ok(flags),
    }
}

fn view(rows: &[RowView], key: StockKey) -> Result<RowView, DecideError> {
    rows.iter()
        .find(|r| r.key == key)
        .copied()
        .ok_or(DecideError::MissingRow(key))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Online,
    Journal,
    Forced,
}

/// Decides one movement on the rows the caller loaded under lock (one [`RowView`] per
/// row in [`Movement::keys`], whose `effects_after` is relative to this movement).
///
/// See the module documentation for the rules and worked examples. The movement must
/// have passed [`validate`] (or use [`judge`], which does both).
pub fn decide(m: &Movement, origin: Origin, rows: &[RowView]) -> Result<Decision, DecideError> {
    let mode = match origin {
        Origin::Online => Mode::Online,
        Origin::Journal => Mode::Journal,
    };
    decide_in(m, mode, rows)
}

/// Applies a held journal movement that a manager forces through with a reason: as
/// [`decide`] for a journal fact, but without the stock check. Rows counted after it
/// still absorb it (the count saw it). The decision carries [`Flag::Forced`].
pub fn force(m: &Movement, rows: &[RowView]) -> Result<Decision, DecideError> {
    let mut decision = decide_in(m, Mode::Forced, rows)?;
    decision.flags.push(Flag::Forced);
    Ok(decision)
}

/// [`validate`] then [`decide`]: a rejection becomes the decision's outcome, and the
/// validation flags are added to the decision's flags.
pub fn judge(
    m: &Movement,
    origin: Origin,
    catalog: &impl Catalog,
    on_date: NaiveDate,
    rows: &[RowView],
) -> Result<Decision, DecideError> {
    match validate(m, origin, catalog, on_date) {
        Err(rejection) => Ok(Decision::only(Outcome::Rejected(rejection))),
        Ok(flags) => {
            let mut decision = decide(m, origin, rows)?;
            if !matches!(decision.outcome, Outcome::Rejected(_)) {
                decision.flags.splice(0..0, flags);
            }
            Ok(decision)
        }
    }
}

/// The decision for one movement against its rows, in `mode` (see [`decide`]).
///
/// Longer than 80 lines: a count's own rule first, then for every other movement its
/// sides' views, stock checks and effects in order, one pass that reads as the rule.
fn decide_in(m: &Movement, mode: Mode, rows: &[RowView]) -> Result<Decision, DecideError> {
    let key = m.order_key();
    if let MovementKind::Count {
        at: _,
        counted,
        expected,
    } = m.kind
    {
        let row_key = m.keys()[0];
        let v = view(rows, row_key)?;
        if v.row.last_count.is_some_and(|c| c >= key) {
            if mode == Mode::Online {
                return Ok(Decision::rejected(
                    RejectCode::BeforeLatestCount,
                    "a later count of this bin is already recorded; count again now",
                ));
            }
            return Ok(Decision::only(Outcome::Superseded));
        }
        let at_time = v.qty_at_time();
        let delta = counted.get() - at_time;
        let Some(on_hand) = row_qty(v.row.on_hand, delta) else {
            return Ok(overflow());
        };
        let mut flags = Vec::new();
        if let Some(expected) = expected
            && expected.get() != at_time
        {
            flags.push(Flag::CountVariance {
                key: row_key,
                expected: expected.get(),
                server_at_time: at_time,
            });
        }
        if on_hand < 0 {
            flags.push(Flag::NegativeRow {
                key: row_key,
                on_hand,
            });
        }
        let row = StockRow {
            on_hand,
            last_count: Some(key),
            ..v.row
        };
        return Ok(Decision {
            outcome: Outcome::Applied {
                effects: vec![Effect {
                    key: row_key,
                    delta,
                    absorbed: false,
                }],
            },
            flags,
            updates: vec![RowUpdate { key: row_key, row }],
            wakes: vec![row_key],
        });
    }

    let sides = m.sides();
    let mut views = Vec::with_capacity(sides.len());
    for side in &sides {
        let v = view(rows, side.key)?;
        let counted_after = v.row.last_count.is_some_and(|c| c > key);
        if counted_after && mode == Mode::Online {
            return Ok(Decision::rejected(
                RejectCode::BeforeLatestCount,
                "a count of this bin at a later time is already recorded; record the movement with the current time",
            ));
        }
        views.push((side, v, counted_after));
    }
    if views.iter().all(|(_, _, absorbed)| *absorbed) {
        return Ok(Decision::only(Outcome::Absorbed));
    }
    // Stock checks for every outbound side that is not absorbed.
    for (side, v, absorbed) in &views {
        if *absorbed || side.delta >= 0 {
            continue;
        }
        let needed = -side.delta;
        match mode {
            Mode::Online if v.row.available() < needed => {
                return Ok(Decision::rejected(
                    RejectCode::InsufficientStock,
                    format!(
                        "only {} available (on hand {}, allocated {}); {} requested",
                        v.row.available().max(0),
                        v.row.on_hand,
                        v.row.allocated,
                        needed
                    ),
                ));
            }
            Mode::Journal if v.qty_at_time() < needed => {
                return Ok(Decision::only(Outcome::Held(Hold {
                    waiting_on: side.key,
                    needed,
                    at_time: v.qty_at_time(),
                    review: None,
                })));
            }
            _ => {}
        }
    }
    let mut effects = Vec::with_capacity(views.len());
    let mut updates = Vec::with_capacity(views.len());
    let mut flags = Vec::new();
    for (side, v, absorbed) in views {
        if absorbed {
            effects.push(Effect {
                key: side.key,
                delta: 0,
                absorbed: true,
            });
            continue;
        }
        let Some(on_hand) = row_qty(v.row.on_hand, side.delta) else {
            return Ok(overflow());
        };
        if on_hand < 0 {
            flags.push(Flag::NegativeRow {
                key: side.key,
                on_hand,
            });
        }
        effects.push(Effect {
            key: side.key,
            delta: side.delta,
            absorbed: false,
        });
        updates.push(RowUpdate {
            key: side.key,
            row: StockRow { on_hand, ..v.row },
        });
    }
    let wakes = effects
        .iter()
        .filter(|e| e.delta > 0)
        .map(|e| e.key)
        .collect();
    Ok(Decision {
        outcome: Outcome::Applied { effects },
        flags,
        updates,
        wakes,
    })
}

/// A row's quantity after `delta`, if it stays within `±QTY_MAX`: the range every
/// quantity we keep lives in (a row beyond a trillion units is a data error, and the
/// bound leaves sums of rows far from `i64`'s limits).
fn row_qty(on_hand: i64, delta: i64) -> Option<i64> {
    on_hand
        .checked_add(delta)
        .filter(|q| q.unsigned_abs() <= crate::QTY_MAX.unsigned_abs())
}

fn overflow() -> Decision {
    Decision::rejected(
        RejectCode::QuantityOverflow,
        "this would take the stock quantity out of range",
    )
}

/// A held movement as the retry logic needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldRef {
    /// The movement.
    pub id: MovementId,
    /// Its position in the order of events.
    pub order: OrderKey,
    /// The row it waits on ([`Hold::waiting_on`]).
    pub waiting_on: StockKey,
}

/// Which held movements to retry after `woken` rose or was counted, in the order to
/// retry them: the ones waiting on that row, oldest first (DESIGN §5.3: held movements
/// are kept and retried in the order they occurred).
///
/// The caller decides each again in that order (with fresh [`RowView`]s), and feeds the
/// [`Decision::wakes`] of every movement that now applies back in, until nothing moves.
pub fn retry_order<'a>(
    held: impl IntoIterator<Item = &'a HeldRef>,
    woken: &StockKey,
) -> Vec<MovementId> {
    let mut waiting: Vec<&HeldRef> = held
        .into_iter()
        .filter(|h| h.waiting_on == *woken)
        .collect();
    waiting.sort_by_key(|h| h.order);
    waiting.into_iter().map(|h| h.id).collect()
}
