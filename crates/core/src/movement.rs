//! Stock movements: the facts and intents that change stock.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    Delta, DeviceId, LocationId, LotId, MovementId, OrderKey, PositiveQty, ProductId, Qty,
    StockKey, UserId,
};

/// Where a movement comes from, which decides how a shortfall is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// An online request (API or connected app): an *intent*. An outbound without enough
    /// available stock is refused at once (`insufficient_stock`): no oversell.
    Online,
    /// An entry of a device's journal: a *fact* that physically happened. It is never
    /// refused for lack of stock; it is held until the stock it needs is known.
    Journal,
}

/// Why an adjustment was made. The reason fixes the sign: damage and loss take stock
/// away, found adds it, a correction may go either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AdjustReason {
    /// Goods damaged and written off (negative).
    Damage,
    /// Goods lost or stolen (negative).
    Loss,
    /// Goods found that were not on record (positive).
    Found,
    /// A booking error put right (either sign).
    Correction,
}

impl AdjustReason {
    /// Whether a change of this sign fits the reason.
    pub fn allows(self, delta: Delta) -> bool {
        match self {
            Self::Damage | Self::Loss => delta.get() < 0,
            Self::Found => delta.get() > 0,
            Self::Correction => true,
        }
    }
}

/// What a movement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MovementKind {
    /// `+qty` into (product, lot, `to`).
    Receive {
        /// The receiving leaf location.
        to: LocationId,
        /// Units received.
        qty: PositiveQty,
    },
    /// `−qty` from (product, lot, `from`).
    Ship {
        /// The leaf location picked from.
        from: LocationId,
        /// Units shipped.
        qty: PositiveQty,
    },
    /// `−qty` from `from` and `+qty` into `to`, atomically.
    Transfer {
        /// Source leaf location.
        from: LocationId,
        /// Destination leaf location.
        to: LocationId,
        /// Units moved.
        qty: PositiveQty,
    },
    /// `±delta` with a reason.
    Adjust {
        /// The leaf location adjusted.
        at: LocationId,
        /// The signed change.
        delta: Delta,
        /// Why.
        reason: AdjustReason,
    },
    /// "At `occurred_at`, this row physically held `counted`." Becomes an adjustment by
    /// the count rule (see [`crate::decide`]).
    Count {
        /// The leaf location counted.
        at: LocationId,
        /// Units seen.
        counted: Qty,
        /// What the device expected to see, when it showed an expected quantity (blind
        /// counts carry none). A difference from the server's quantity at that time is
        /// flagged for review.
        expected: Option<Qty>,
    },
}

/// The journal position of a movement recorded on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceStamp {
    /// The device that recorded it.
    pub device: DeviceId,
    /// Its strictly increasing sequence number in that device's journal, from 1.
    pub seq: u64,
}

/// The order line a movement fulfils, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LineRef {
    /// A purchase-order line (receiving).
    PurchaseLine(Uuid),
    /// A sales-order line (picking and shipping).
    SalesLine(Uuid),
}

impl LineRef {
    /// The line's id.
    pub fn id(self) -> Uuid {
        match self {
            LineRef::PurchaseLine(id) | LineRef::SalesLine(id) => id,
        }
    }
}

/// A stock movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Movement {
    /// Its id (UUIDv7, made by whoever recorded it; an imported opening receipt's is
    /// derived from its row, so the same row is never received twice).
    pub id: MovementId,
    /// When it physically happened.
    pub occurred_at: DateTime<Utc>,
    /// The product moved.
    pub product: ProductId,
    /// The lot, required exactly for lot-tracked products.
    pub lot: Option<LotId>,
    /// What it does.
    #[serde(flatten)]
    pub kind: MovementKind,
    /// Who recorded it.
    pub user: UserId,
    /// Its journal position when it came from a device.
    pub device: Option<DeviceStamp>,
    /// The order line it fulfils.
    pub reference: Option<LineRef>,
}

/// One row's share of a movement, before the rules decide on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side {
    /// The row touched.
    pub key: StockKey,
    /// The change it asks for (for a count: none; see [`MovementKind::Count`]).
    pub delta: i64,
}

impl Movement {
    /// Its position in the total order of events.
    pub fn order_key(&self) -> OrderKey {
        OrderKey {
            at: self.occurred_at,
            id: self.id,
        }
    }

    fn key_at(&self, location: LocationId) -> StockKey {
        StockKey {
            product: self.product,
            location,
            lot: self.lot,
        }
    }

    /// The rows it touches with the change it asks of each (a count asks for none), in
    /// lock order.
    pub fn sides(&self) -> Vec<Side> {
        let side = |location, delta| Side {
            key: self.key_at(location),
            delta,
        };
        let mut sides = match self.kind {
            MovementKind::Receive { to, qty } => vec![side(to, qty.get())],
            MovementKind::Ship { from, qty } => vec![side(from, -qty.get())],
            MovementKind::Transfer { from, to, qty } => {
                vec![side(from, -qty.get()), side(to, qty.get())]
            }
            MovementKind::Adjust { at, delta, .. } => vec![side(at, delta.get())],
            MovementKind::Count { at, .. } => vec![side(at, 0)],
        };
        sides.sort_by_key(|s| s.key);
        sides
    }

    /// The keys of the rows it touches, in lock order.
    pub fn keys(&self) -> Vec<StockKey> {
        self.sides().into_iter().map(|s| s.key).collect()
    }

    /// Whether it takes stock away from some row (ship, transfer, negative adjustment).
    pub fn is_outbound(&self) -> bool {
        self.sides().iter().any(|s| s.delta < 0)
    }

    /// Whether it may raise some row (a receipt, a transfer's destination, a positive
    /// adjustment, a count): what back-orders wait for.
    pub fn may_raise(&self) -> bool {
        matches!(self.kind, MovementKind::Count { .. }) || self.sides().iter().any(|s| s.delta > 0)
    }

    /// Whether deciding it reads its rows' history, the quantity at its own time (an
    /// outbound's stock check, a count's adjustment). An inbound alone never does: it
    /// applies whatever came after it. A caller that loads a partial ledger needs the
    /// effects after the oldest movement that reads history, not after every movement.
    pub fn reads_history(&self) -> bool {
        matches!(self.kind, MovementKind::Count { .. }) || self.is_outbound()
    }
}
