//! Stock rows: what the rules read and write.

use crate::{LocationId, LotId, MovementId, ProductId};
use chrono::{DateTime, Utc};

/// The key of a stock row: one product, in one leaf location, of one lot (or none for a
/// product without lot tracking).
///
/// The derived order (product, location, lot with no-lot first) is **the lock order**:
/// whoever locks several rows locks them in this order, so two transactions touching the
/// same rows can never wait on each other in a cycle. Ids compare as their bytes, which
/// is also how PostgreSQL orders `uuid`, so `order by product_id, location_id, lot_id
/// nulls first` locks in the same order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct StockKey {
    /// The product.
    pub product: ProductId,
    /// The leaf location holding the stock.
    pub location: LocationId,
    /// The lot, for lot-tracked products.
    pub lot: Option<LotId>,
}

/// The position of an event in the one total order that every rule uses: the time it
/// occurred, then its id to break ties. "Before" and "after" always mean this order, so
/// equal timestamps are never ambiguous.
///
/// Times are kept to the **microsecond**, the precision of PostgreSQL's `timestamptz`:
/// whoever stamps a movement truncates to it, and [`crate::validate`] refuses a finer
/// time, so the device and the server always agree on the order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct OrderKey {
    /// When the event physically happened (device clock corrected by the server offset).
    pub at: DateTime<Utc>,
    /// The movement's id.
    pub id: MovementId,
}

/// The state of one stock row as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct StockRow {
    /// Units physically on hand as far as the server knows. May be below zero for a
    /// while (see [`crate::Flag::NegativeRow`]); never clamped, because clamping would
    /// break convergence.
    pub on_hand: i64,
    /// Units promised to sales orders; `available = on_hand − allocated`.
    pub allocated: i64,
    /// The order key of the latest count applied to this row, if any.
    pub last_count: Option<OrderKey>,
}

impl StockRow {
    /// Units that an online outbound may still take: `on_hand − allocated`.
    pub fn available(&self) -> i64 {
        self.on_hand - self.allocated
    }
}

/// A row as the caller loaded it under lock, for deciding one movement.
///
/// `effects_after` is the sum of the row's applied effects (count adjustments included)
/// whose order key is *after* the movement being decided. The row's quantity at the
/// movement's own time is then `row.on_hand − effects_after`. The server reads it from
/// its movement ledger; a replica from its pulled state and journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowView {
    /// Which row.
    pub key: StockKey,
    /// Its current state.
    pub row: StockRow,
    /// Sum of its applied effects that occurred after the movement being decided.
    pub effects_after: i64,
}

impl RowView {
    /// A row that does not exist yet (nothing was ever booked to it).
    pub fn empty(key: StockKey) -> Self {
        Self {
            key,
            row: StockRow::default(),
            effects_after: 0,
        }
    }

    /// The row's quantity at the time of the movement being decided.
    pub fn qty_at_time(&self) -> i64 {
        self.row.on_hand - self.effects_after
    }
}
