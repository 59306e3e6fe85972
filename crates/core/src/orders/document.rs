//! The life of purchase and sales orders: which state changes a person may make, what
//! state the quantities put an order in, which line edits each state allows, and what a
//! receipt against a line should show a person.
//!
//! A document's status has two parts. What people decide (ordering, confirming,
//! cancelling, closing) is an action, checked by [`purchase_action`] and
//! [`sales_action`]. What the goods did (received, allocated, picked) is read from the
//! lines' quantities by [`purchase_status`] and [`sales_status`]: a receipt or a pick is
//! a fact that arrives in any order, so the status follows the quantities and never the
//! other way round.
//!
//! A line's received quantity is the sum of the applied receipts that name it. The
//! engine (`crate::Engine::set_purchase_line`) judges each receipt of a batch against
//! what the receipts before it left, so two receipts in one push are flagged as if they
//! had come one by one.
//!
//! # Rules, with worked examples (rows of `tests/orders.rs`)
//!
//! 1. A purchase order is ordered from draft only with at least one line
//!    \[`po_order_needs_lines`\]; it is cancelled only while nothing was received, and
//!    closed by hand only once it was ordered \[`po_close_after_partial_receipt`\];
//!    received, closed and cancelled orders take no action \[`po_final_states`\].
//! 2. An ordered purchase order with lines `10/4` (ordered/received) and `5/0` is
//!    partially received; with `10/10` and `5/6` it is received
//!    \[`po_status_from_quantities`\].
//! 3. An ordered line may be reduced, but never below what was received: `10/4` → 4 is
//!    allowed, → 3 is not \[`po_line_not_below_received`\].
//! 4. A receipt beyond the ordered quantity and the tenant's tolerance is applied and
//!    flagged: line `10/8`, tolerance 10 %, receipt of 4 → 1 beyond (11 allowed)
//!    \[`over_receipt_beyond_tolerance`\]; a receipt against a draft, cancelled or closed
//!    order is applied and flagged \[`receipt_against_closed_order`\].
//! 5. A confirmed sales order with lines (ordered/allocated/picked) `5/5/0` and `3/1/0` is
//!    partially allocated; `5/0/5`, `3/3/0` partially picked; `5/0/5`, `3/0/3` shipped
//!    \[`so_status_from_quantities`\].
//! 6. A sales order is cancelled at any point before it is shipped; what was picked stays
//!    picked and the rest of its allocations are released \[`so_cancel_until_shipped`\].
//! 7. A purchase order's header (expected date, notes) changes until it is closed or
//!    cancelled; its supplier and warehouse only while it is a draft, since devices
//!    receive against it once it is ordered \[`po_header_edits`\].
//! 8. A sales order's header (requested date, priority, notes) changes until it is
//!    shipped or cancelled; its customer and warehouse only while it is a draft, since
//!    its stock is reserved in that warehouse once confirmed \[`so_header_edits`\].
//! 9. Naming only the order, a receipt or pick counts toward the product's first line
//!    that still expects units, else its last: lines `A:0 open, B:3 open` → B; `A:0, B:0`
//!    → B (beyond the order, flagged by the server) \[`line_for_first_open_else_last`\].

/// Where a purchase order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseStatus {
    /// Being written: lines may change freely, nothing is expected yet.
    Draft,
    /// Sent to the supplier: goods are expected.
    Ordered,
    /// Some goods arrived.
    PartiallyReceived,
    /// Every line arrived in full.
    Received,
    /// Closed by hand with lines not received in full: nothing more is expected.
    Closed,
    /// Cancelled before anything arrived.
    Cancelled,
}

/// A person's decision on a purchase order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseAction {
    /// Draft → ordered.
    Order,
    /// Draft or ordered, nothing received → cancelled.
    Cancel,
    /// Ordered or partially received → closed.
    Close,
}

/// Why a state change or a line edit is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The action does not apply to the order's current status.
    #[error("the order cannot be {action} while it is {status}")]
    InvalidTransition {
        /// The action's name.
        action: &'static str,
        /// The status's name.
        status: &'static str,
    },
    /// An order without lines cannot be ordered or confirmed.
    #[error("the order has no lines")]
    NoLines,
    /// Goods were received: close the order instead of cancelling it.
    #[error("goods were received against the order: close it instead")]
    AlreadyReceived,
    /// A line cannot go below what was received or picked.
    #[error("the line's quantity cannot go below {minimum}, what was already booked")]
    BelowBooked {
        /// The least quantity allowed.
        minimum: i64,
    },
    /// Lines cannot change in this status.
    #[error("lines cannot change while the order is {status}")]
    LinesFrozen {
        /// The status's name.
        status: &'static str,
    },
    /// The order's header cannot change in this status.
    #[error("the order cannot change while it is {status}")]
    Frozen {
        /// The status's name.
        status: &'static str,
    },
    /// The supplier or customer and the warehouse are fixed once the order is sent.
    #[error("the party and the warehouse change only while the order is a draft")]
    PartiesFrozen,
}

impl PurchaseStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Ordered => "ordered",
            Self::PartiallyReceived => "partially_received",
            Self::Received => "received",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status of a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Draft,
            Self::Ordered,
            Self::PartiallyReceived,
            Self::Received,
            Self::Closed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// Whether goods are expected against it (a receipt is not flagged as out of place).
    pub fn expects_goods(self) -> bool {
        matches!(
            self,
            Self::Ordered | Self::PartiallyReceived | Self::Received
        )
    }
}

impl PurchaseAction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Order => "ordered",
            Self::Cancel => "cancelled",
            Self::Close => "closed",
        }
    }
}

/// One purchase line's quantities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseLineQty {
    /// Units ordered.
    pub ordered: i64,
    /// Units received so far (applied receipts).
    pub received: i64,
}

/// The status a person's action leads to (rule 1), or why it is refused.
pub fn purchase_action(
    status: PurchaseStatus,
    action: PurchaseAction,
    lines: &[PurchaseLineQty],
) -> Result<PurchaseStatus, DocumentError> {
    use PurchaseAction as A;
    use PurchaseStatus as S;
    let refused = DocumentError::InvalidTransition {
        action: action.as_str(),
        status: status.as_str(),
    };
    match (status, action) {
        (S::Draft, A::Order) if lines.is_empty() => Err(DocumentError::NoLines),
        (S::Draft, A::Order) => Ok(purchase_status(S::Ordered, lines)),
        (S::Draft | S::Ordered, A::Cancel) if lines.iter().any(|l| l.received > 0) => {
            Err(DocumentError::AlreadyReceived)
        }
        (S::Draft | S::Ordered, A::Cancel) => Ok(S::Cancelled),
        (S::Ordered | S::PartiallyReceived, A::Close) => Ok(S::Closed),
        _ => Err(refused),
    }
}

/// The status of an order whose people's decisions left it `decided`, given its lines'
/// quantities now (rule 2). Draft, closed and cancelled orders keep their status
/// whatever arrives.
pub fn purchase_status(decided: PurchaseStatus, lines: &[PurchaseLineQty]) -> PurchaseStatus {
    use PurchaseStatus as S;
    match decided {
        S::Draft | S::Closed | S::Cancelled => decided,
        S::Ordered | S::PartiallyReceived | S::Received => {
            if !lines.is_empty() && lines.iter().all(|l| l.received >= l.ordered) {
                S::Received
            } else if lines.iter().any(|l| l.received > 0) {
                S::PartiallyReceived
            } else {
                S::Ordered
            }
        }
    }
}

/// Whether a purchase line may get `new_qty` units ordered (rule 3).
pub fn purchase_line_edit(
    status: PurchaseStatus,
    line: PurchaseLineQty,
    new_qty: i64,
) -> Result<(), DocumentError> {
    use PurchaseStatus as S;
    match status {
        S::Draft => Ok(()),
        S::Ordered | S::PartiallyReceived if new_qty >= line.received => Ok(()),
        S::Ordered | S::PartiallyReceived => Err(DocumentError::BelowBooked {
            minimum: line.received,
        }),
        S::Received | S::Closed | S::Cancelled => Err(DocumentError::LinesFrozen {
            status: status.as_str(),
        }),
    }
}

/// A purchase line as a decision needs it: loaded under the line's lock by whoever
/// decides receipts against it, and kept up to date by the engine as it applies them
/// (`Engine::set_purchase_line`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseLineState {
    /// The product ordered: a receipt of another product does not count toward it.
    pub product: crate::ProductId,
    /// Its order's status as people decided it.
    pub status: PurchaseStatus,
    /// Ordered and received so far.
    pub qty: PurchaseLineQty,
    /// The tenant's over-receipt tolerance, in percent.
    pub tolerance_pct: u32,
}

/// A sales line as the server loaded it for the picks that name it (`Engine::set_sales_line`),
/// kept up to date by the engine as picks consume its reservations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesLineState {
    /// The product ordered: a pick of another product does not count toward it.
    pub product: crate::ProductId,
    /// Its open reservations, one per row.
    pub allocations: Vec<crate::orders::Allocation>,
}

/// The line of an order a receipt or pick of a product counts toward when the person
/// names only the order (rule 9): the first of the product's lines, in document order,
/// that still expects units, else its last line (the goods are then beyond the order,
/// which the server flags); none when the order has no line of the product. `lines` are
/// the product's lines with the units each still expects.
pub fn line_for<Id: Copy>(lines: &[(Id, i64)]) -> Option<Id> {
    lines
        .iter()
        .find(|(_, open)| *open > 0)
        .or(lines.last())
        .map(|(id, _)| *id)
}

/// Whether a sales order's header may change (rule 8); `parties`: the change names
/// another customer or warehouse.
pub fn sales_header_edit(status: SalesStatus, parties: bool) -> Result<(), DocumentError> {
    use SalesStatus as S;
    match status {
        S::Draft => Ok(()),
        S::Shipped | S::Cancelled => Err(DocumentError::Frozen {
            status: status.as_str(),
        }),
        _ if parties => Err(DocumentError::PartiesFrozen),
        _ => Ok(()),
    }
}

/// Whether a purchase order's header may change (rule 7); `parties`: the change names
/// another supplier or warehouse.
pub fn purchase_header_edit(status: PurchaseStatus, parties: bool) -> Result<(), DocumentError> {
    use PurchaseStatus as S;
    match status {
        S::Draft => Ok(()),
        S::Closed | S::Cancelled => Err(DocumentError::Frozen {
            status: status.as_str(),
        }),
        S::Ordered | S::PartiallyReceived | S::Received if parties => {
            Err(DocumentError::PartiesFrozen)
        }
        S::Ordered | S::PartiallyReceived | S::Received => Ok(()),
    }
}

/// What a person should look at about a receipt against a purchase line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiptFlag {
    /// More arrived than ordered plus the tenant's tolerance.
    OverReceipt {
        /// Units beyond what the tolerance allows.
        beyond: i64,
    },
    /// The order was not expecting goods (draft, closed or cancelled).
    OrderNotOpen {
        /// Its status when the goods arrived.
        status: PurchaseStatus,
    },
}

/// The flags of a receipt of `qty` units against a line (rule 4). The receipt is applied
/// whatever they say: the goods are there. `tolerance_pct` is the tenant's over-receipt
/// tolerance in percent of the ordered quantity (0: none), rounded down to whole units.
pub fn receipt_flags(
    status: PurchaseStatus,
    line: PurchaseLineQty,
    qty: i64,
    tolerance_pct: u32,
) -> Vec<ReceiptFlag> {
    let mut flags = Vec::new();
    if !status.expects_goods() {
        flags.push(ReceiptFlag::OrderNotOpen { status });
    }
    let tolerance =
        i64::try_from(i128::from(line.ordered.max(0)) * i128::from(tolerance_pct) / 100)
            .unwrap_or(i64::MAX);
    let allowed = line.ordered.saturating_add(tolerance);
    let after = line.received.saturating_add(qty);
    if after > allowed {
        let beyond = after - allowed.max(line.received);
        flags.push(ReceiptFlag::OverReceipt { beyond });
    }
    flags
}

/// Where a sales order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SalesStatus {
    /// Being written: nothing reserved.
    Draft,
    /// Confirmed, nothing reserved yet (all back-ordered).
    Confirmed,
    /// Some of it reserved.
    PartiallyAllocated,
    /// All of it reserved or picked.
    Allocated,
    /// Some of it picked.
    PartiallyPicked,
    /// All of it picked and gone.
    Shipped,
    /// Cancelled: its reservations released.
    Cancelled,
}

impl SalesStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Confirmed => "confirmed",
            Self::PartiallyAllocated => "partially_allocated",
            Self::Allocated => "allocated",
            Self::PartiallyPicked => "partially_picked",
            Self::Shipped => "shipped",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status of a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Draft,
            Self::Confirmed,
            Self::PartiallyAllocated,
            Self::Allocated,
            Self::PartiallyPicked,
            Self::Shipped,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// Whether goods are still to be picked against it (a pick against any other is
    /// still applied: the goods left; it just counts toward nothing open).
    pub fn expects_picks(self) -> bool {
        matches!(
            self,
            Self::Confirmed | Self::PartiallyAllocated | Self::Allocated | Self::PartiallyPicked
        )
    }
}

/// A person's decision on a sales order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SalesAction {
    /// Draft → confirmed: the server allocates its lines.
    Confirm,
    /// Anything before shipped → cancelled: its allocations are released.
    Cancel,
}

/// One sales line's quantities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalesLineQty {
    /// Units ordered.
    pub ordered: i64,
    /// Units reserved now on stock rows.
    pub allocated: i64,
    /// Units picked (applied picks).
    pub picked: i64,
}

/// The status a person's action leads to (rules 5 and 6), or why it is refused. A
/// confirmation's status is [`SalesStatus::Confirmed`] until the allocation is known.
pub fn sales_action(
    status: SalesStatus,
    action: SalesAction,
    lines: &[SalesLineQty],
) -> Result<SalesStatus, DocumentError> {
    use SalesAction as A;
    use SalesStatus as S;
    match (status, action) {
        (S::Draft, A::Confirm) if lines.is_empty() => Err(DocumentError::NoLines),
        (S::Draft, A::Confirm) => Ok(S::Confirmed),
        (S::Shipped | S::Cancelled, A::Cancel) | (_, A::Confirm) => {
            Err(DocumentError::InvalidTransition {
                action: match action {
                    A::Confirm => "confirmed",
                    A::Cancel => "cancelled",
                },
                status: status.as_str(),
            })
        }
        (_, A::Cancel) => Ok(S::Cancelled),
    }
}

/// The status of a confirmed order from its lines' quantities (rule 5). Draft and
/// cancelled orders keep theirs.
pub fn sales_status(decided: SalesStatus, lines: &[SalesLineQty]) -> SalesStatus {
    use SalesStatus as S;
    if matches!(decided, S::Draft | S::Cancelled) {
        return decided;
    }
    let all = |f: fn(&SalesLineQty) -> bool| !lines.is_empty() && lines.iter().all(f);
    if all(|l| l.picked >= l.ordered) {
        S::Shipped
    } else if lines.iter().any(|l| l.picked > 0) {
        S::PartiallyPicked
    } else if all(|l| l.allocated + l.picked >= l.ordered) {
        S::Allocated
    } else if lines.iter().any(|l| l.allocated > 0) {
        S::PartiallyAllocated
    } else {
        S::Confirmed
    }
}

/// Whether a sales line may get `new_qty` units ordered: freely in draft, not below
/// what was picked once confirmed, not at all once shipped or cancelled.
pub fn sales_line_edit(
    status: SalesStatus,
    line: SalesLineQty,
    new_qty: i64,
) -> Result<(), DocumentError> {
    use SalesStatus as S;
    match status {
        S::Draft => Ok(()),
        S::Shipped | S::Cancelled => Err(DocumentError::LinesFrozen {
            status: status.as_str(),
        }),
        _ if new_qty >= line.picked => Ok(()),
        _ => Err(DocumentError::BelowBooked {
            minimum: line.picked,
        }),
    }
}
