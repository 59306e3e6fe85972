//! Stock and movements as read back: stock rows, totals, low-stock lines, and the view
//! of a recorded movement with its effects on rows.

pub mod movement;
pub mod row;
