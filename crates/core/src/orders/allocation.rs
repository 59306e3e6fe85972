//! Allocation of sales-order lines to stock rows, its release, its consumption by a pick,
//! and the order in which back-orders are served (DESIGN §5.6).
//!
//! Allocation is an online decision: the server loads the candidate rows of the line's
//! product in the order's warehouse under their locks (key order, like movements) and
//! calls [`allocate`]; it never reserves more than is available at that moment. A pick
//! is a journal fact: [`consume`] says how the line's allocations shrink when goods
//! leave, wherever they left from. The engine applies it to every applied pick that
//! names a line it was given (`Engine::set_sales_line`), and such a pick may take what
//! its own line reserved on the picked row, which no other outbound may
//! (`tests/orders.rs`, `picks_in_the_engine`).
//!
//! # Rules, with worked examples
//!
//! Each example is a row of the table test `tests/orders.rs`, named in brackets. Rows are
//! written `bin:available`, with the lot's expiry as `exp=day` and the row's oldest
//! receipt as `in=day`; "today" is day 10.
//!
//! 1. **Only available, unexpired stock is reserved.** A row with nothing available
//!    (`on_hand − allocated ≤ 0`) or whose lot expired before today is skipped; so is a
//!    lot that expires sooner than the customer's minimum remaining shelf life.
//!    Need 5 on `A:3 exp=9`, `B:4 exp=30` → 4 on B, 1 back-ordered
//!    \[`expired_lot_skipped`\]. With a shelf life of 10 days, `A:3 exp=15` is skipped
//!    too and `B:4 exp=30` used \[`shelf_life_too_short_skipped`\]. A lot that expires
//!    today may still leave today, so it is eligible \[`lot_expiring_today_eligible`\].
//! 2. **FEFO**: earliest expiry first; rows without an expiry date last; then oldest
//!    receipt, then location path (a short walk), then the row's key.
//!    Need 5 on `A:4 exp=30`, `B:4 exp=20` → 4 on B, 1 on A \[`fefo_earliest_expiry_first`\].
//! 3. **FIFO**: oldest receipt first; rows never received last; then location path, then
//!    key. Need 5 on `A:4 in=3`, `B:4 in=1` → 4 on B, 1 on A \[`fifo_oldest_receipt_first`\].
//!    Equal receipts go by path: `B:4`, `A:4` (paths `A` < `B`) → A first
//!    \[`ties_go_by_location_path`\].
//! 4. **What cannot be reserved is back-ordered**, never over-reserved: need 10 on `A:3`
//!    → 3 on A, 7 back-ordered \[`short_stock_back_orders`\].
//! 5. **A pick consumes the line's allocation on the picked row first, then its
//!    allocation elsewhere** (the allocation follows the goods: what was reserved on B for
//!    this line is no longer needed when the line's goods left from A). Allocations
//!    `A:2, B:3`, pick 4 from A → A −2, B −2, 1 left on B \[`pick_consumes_own_row_first`\].
//!    Pick 2 from C, where nothing was reserved: the others go in key order, A −2,
//!    flagged [`PickFlag::OtherRow`] \[`pick_from_unallocated_bin`\].
//! 6. **Beyond the line's allocation is an over-pick**: applied (it happened), the
//!    allocations all consumed, the excess flagged. Allocations `A:2`, pick 5 from A →
//!    A −2, [`PickFlag::BeyondAllocation`] of 3 \[`over_pick_flagged`\].
//! 7. **Back-orders are served by priority, then requested date, then the order's
//!    creation**, when a row of their product rises (the trigger of the held retry):
//!    \[`back_orders_by_priority_then_date`\].
//! 8. **A line reduced keeps only what it still needs**: its reservations beyond the
//!    new need are released, the last rows in key order first. Allocations `A:2, B:3`,
//!    need now 3 → `A:2, B:1`, 2 released on B \[`shrink_releases_the_last_rows`\].
//!
//! Nothing here clamps: a row's `allocated` may exceed its `on_hand` for a while after
//! journal facts arrive (available below zero), and new allocations then find nothing.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};

use crate::StockKey;

/// How a product's stock is chosen for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryPolicy {
    /// First in, first out: the oldest receipt first.
    Fifo,
    /// First expired, first out: the earliest lot expiry first.
    Fefo,
}

impl ExpiryPolicy {
    /// The wire name (`fifo`, `fefo`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fifo => "fifo",
            Self::Fefo => "fefo",
        }
    }

    /// The policy of a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "fifo" => Some(Self::Fifo),
            "fefo" => Some(Self::Fefo),
            _ => None,
        }
    }
}

/// A stock row a line may be allocated on, as the caller loaded it under its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The row.
    pub key: StockKey,
    /// `on_hand − allocated` now (may be negative).
    pub available: i64,
    /// The expiry date of the row's lot, if it has one that expires.
    pub expires_on: Option<NaiveDate>,
    /// When the row first received stock, if it ever did.
    pub received_at: Option<DateTime<Utc>>,
    /// The location's path (`WH1/A/01/03`), whose order is the walk order.
    pub location_path: String,
}

/// What a line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// Units still to reserve (the line's quantity less what is allocated or picked).
    pub qty: i64,
    /// The product's policy.
    pub policy: ExpiryPolicy,
    /// Today in the warehouse's time zone: lots that expired before it are never taken.
    pub today: NaiveDate,
    /// The customer's minimum remaining shelf life in days, if it has one.
    pub min_shelf_life_days: Option<u32>,
}

/// One reservation of a line on one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Allocation {
    /// The row.
    pub key: StockKey,
    /// Units reserved (positive).
    pub qty: i64,
}

/// The result of [`allocate`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allocated {
    /// The reservations, in the order they were chosen (the pick walk's preference).
    pub allocations: Vec<Allocation>,
    /// What could not be reserved now.
    pub back_ordered: i64,
}

/// Whether a row may be reserved for this need at all (rule 1).
fn eligible(candidate: &Candidate, need: &Need) -> bool {
    if candidate.available <= 0 {
        return false;
    }
    match candidate.expires_on {
        None => true,
        Some(expires) if expires < need.today => false,
        Some(expires) => need
            .min_shelf_life_days
            .is_none_or(|days| (expires - need.today).num_days() >= i64::from(days)),
    }
}

/// `Some` before `None`, then ascending.
fn known_first<T: Ord>(a: &Option<T>, b: &Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The order in which a policy takes rows (rules 2 and 3).
fn preference(policy: ExpiryPolicy, a: &Candidate, b: &Candidate) -> Ordering {
    let by_expiry = || known_first(&a.expires_on, &b.expires_on);
    let by_receipt = || known_first(&a.received_at, &b.received_at);
    let first = match policy {
        ExpiryPolicy::Fefo => by_expiry().then_with(by_receipt),
        ExpiryPolicy::Fifo => by_receipt(),
    };
    first
        .then_with(|| a.location_path.cmp(&b.location_path))
        .then_with(|| a.key.cmp(&b.key))
}

/// Reserves up to `need.qty` units on the candidates, by the product's policy; the rest
/// is back-ordered. Never reserves more than a row has available.
pub fn allocate(need: &Need, candidates: &[Candidate]) -> Allocated {
    let mut rows: Vec<&Candidate> = candidates.iter().filter(|c| eligible(c, need)).collect();
    rows.sort_by(|a, b| preference(need.policy, a, b));
    let mut left = need.qty.max(0);
    let mut allocations = Vec::new();
    for row in rows {
        if left == 0 {
            break;
        }
        let qty = row.available.min(left);
        allocations.push(Allocation { key: row.key, qty });
        left -= qty;
    }
    Allocated {
        allocations,
        back_ordered: left,
    }
}

/// What releasing a line's allocations gives back: each row's `allocated` falls by its
/// allocation (a cancelled order, a line reduced to nothing).
pub fn release(allocations: &[Allocation]) -> Vec<(StockKey, i64)> {
    allocations.iter().map(|a| (a.key, -a.qty)).collect()
}

/// A line's reservations cut down to `keep` units (rule 8): what is left, in key order,
/// and what each row gives back (negative), the last rows first.
pub fn shrink(allocations: &[Allocation], keep: i64) -> (Vec<Allocation>, Vec<(StockKey, i64)>) {
    let mut sorted: Vec<Allocation> = allocations.iter().copied().filter(|a| a.qty > 0).collect();
    sorted.sort_by_key(|a| a.key);
    let mut left = keep.max(0);
    let mut kept = Vec::new();
    let mut released = Vec::new();
    for a in sorted {
        let stay = a.qty.min(left);
        left -= stay;
        if stay > 0 {
            kept.push(Allocation {
                key: a.key,
                qty: stay,
            });
        }
        if a.qty > stay {
            released.push((a.key, stay - a.qty));
        }
    }
    (kept, released)
}

/// Something a person should look at about a pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PickFlag {
    /// The goods left from a row (bin or lot) the line had nothing reserved on; the
    /// line's reservations elsewhere were consumed instead.
    OtherRow,
    /// More was picked than the line had reserved.
    BeyondAllocation {
        /// Units beyond the reservations.
        excess: i64,
    },
}

/// The result of [`consume`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Consumption {
    /// How each row's `allocated` changes (negative), in key order.
    pub changes: Vec<(StockKey, i64)>,
    /// The line's allocations left afterwards, in key order, without empty ones.
    pub left: Vec<Allocation>,
    /// What a person should look at.
    pub flags: Vec<PickFlag>,
}

/// A pick of `qty` units from `row` for a line whose open allocations are `allocations`
/// (rules 5 and 6): the allocation on the picked row is consumed first, then the others
/// in key order; what exceeds them all is flagged, never refused.
pub fn consume(row: StockKey, qty: i64, allocations: &[Allocation]) -> Consumption {
    let mut open: Vec<Allocation> = allocations.iter().copied().filter(|a| a.qty > 0).collect();
    open.sort_by_key(|a| (a.key != row, a.key));
    let mut left = qty.max(0);
    let mut flags = Vec::new();
    if !open.iter().any(|a| a.key == row) && !open.is_empty() {
        flags.push(PickFlag::OtherRow);
    }
    let mut changes = Vec::new();
    for allocation in &mut open {
        if left == 0 {
            break;
        }
        let used = allocation.qty.min(left);
        allocation.qty -= used;
        left -= used;
        changes.push((allocation.key, -used));
    }
    if left > 0 {
        flags.push(PickFlag::BeyondAllocation { excess: left });
    }
    changes.sort_by_key(|(key, _)| *key);
    open.retain(|a| a.qty > 0);
    open.sort_by_key(|a| a.key);
    Consumption {
        changes,
        left: open,
        flags,
    }
}

/// How urgent a sales order is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Served after every other.
    Low,
    /// The default.
    Normal,
    /// Before normal orders.
    High,
    /// Before everything else.
    Urgent,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];

    /// The wire name (`low`, `normal`, `high`, `urgent`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    /// The priority of a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// A back-ordered line waiting for stock of its product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackOrder<Id> {
    /// The line (the caller's id).
    pub line: Id,
    /// Its order's priority.
    pub priority: Priority,
    /// Its order's requested ship date.
    pub requested_on: NaiveDate,
    /// When its order was created: the last tie-breaker before the id.
    pub created_at: DateTime<Utc>,
}

/// The order in which back-orders are allocated when stock of their product rises (rule
/// 7): higher priority first, then the earlier requested date, then the older order,
/// then the line's id, so every caller serves them in the same order.
pub fn back_order_sequence<Id: Ord + Copy>(waiting: &mut [BackOrder<Id>]) {
    waiting.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.requested_on.cmp(&b.requested_on))
            .then(a.created_at.cmp(&b.created_at))
            .then(a.line.cmp(&b.line))
    });
}
