//! Orders (DESIGN §5.6): the rules of purchase and sales orders that the server, the
//! replica and the app share. Allocation is decided online by the server under row
//! locks; receipts and picks are journal facts that apply wherever they come from, and
//! these rules say how the documents follow them.
//!
//! * [`allocation`] — reserving stock for sales lines (FEFO or FIFO), releasing it,
//!   consuming it by a pick, and the order in which back-orders are served.
//! * [`document`] — the purchase and sales orders' states, the actions people take on
//!   them, the line edits each state allows, and the flags of a receipt.
//! * [`walk`] — a location's path and the order of a pick walk's stops, for one order
//!   or a wave.

pub mod allocation;
pub mod document;
pub mod walk;

pub use allocation::{
    Allocated, Allocation, BackOrder, Candidate, Consumption, ExpiryPolicy, Need, PickFlag,
    Priority, allocate, back_order_sequence, consume, release, shrink,
};
pub use document::{
    DocumentError, PurchaseAction, PurchaseLineQty, PurchaseLineState, PurchaseStatus, ReceiptFlag,
    SalesAction, SalesLineQty, SalesLineState, SalesStatus, line_for, purchase_action,
    purchase_header_edit, purchase_line_edit, purchase_status, receipt_flags, sales_action,
    sales_header_edit, sales_line_edit, sales_status,
};
pub use walk::{PATH_SEPARATOR, WAVE_ORDERS_MAX, WalkKey, child_path, sort_walk};
