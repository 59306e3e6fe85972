//! The low-stock rule: when a product is low in a warehouse, and by how much.
//!
//! A product is **low** in a warehouse when it has a reorder point (above 0) and its
//! available stock there is below that point. Its **shortfall** is `reorder_point −
//! available`, how much is missing to reach the point again (not what to order: that is
//! the product's reorder quantity, a person's choice).
//!
//! * `available` is summed over all the product's stock rows in the warehouse, each
//!   `on_hand − allocated` ([`available`]). It may be below zero (a count or a pick
//!   recorded offline, DESIGN §5.4 and §5.6): the shortfall is then above the reorder
//!   point, never clamped, so the worst cases sort first.
//! * A product with no stock row at all in a warehouse has 0 available there: low, with
//!   the whole reorder point as its shortfall (the most urgent case, not a missing one).
//! * A reorder point of 0 means the product is not watched: never low, even below zero.
//!
//! Which (warehouse, product) pairs are watched is the callers' selection, the same on
//! both sides: every **active product** with a reorder point, in every **active
//! warehouse** of the tenant (the server), or of the device's scope (the replica, which
//! keeps only those). The reorder point is the product's, tenant-wide, so a product is
//! watched in every such warehouse, including those where it has no row yet. Each side
//! loads the pairs with their available stock and asks [`shortfall`]. The rule also
//! exists as SQL, here beside it ([`is_low_sql`], [`shortfall_sql`]): the server pages
//! the low pairs with it, the replica narrows its dashboard's query with it before
//! asking [`shortfall`] of each row. Tests on both sides check that it agrees with this
//! one on the edges of `tests/reorder.rs` (PostgreSQL in `logiflow-server`'s
//! `tests/api/stock.rs`, SQLite in `logiflow-replica`'s `kpi.rs`).
//!
//! Worked example, reorder point 10, in one warehouse:
//!
//! | rows (on hand / allocated) | available | low | shortfall |
//! |---|---|---|---|
//! | 12 / 5 | 7 | yes | 3 |
//! | 10 / 0 | 10 | no (at the point is not below it) | — |
//! | none | 0 | yes | 10 |
//! | −2 / 0 and 3 / 4 | −3 | yes | 13 |
//!
//! ```
//! use logiflow_core::reorder::{available, is_low, shortfall};
//!
//! let avail = available([(12, 5)]);
//! assert_eq!(avail, 7);
//! assert_eq!(shortfall(10, avail), Some(3));
//! assert!(!is_low(10, 10));
//! assert_eq!(shortfall(10, available([])), Some(10));
//! assert_eq!(shortfall(10, available([(-2, 0), (3, 4)])), Some(13));
//! assert_eq!(shortfall(0, -5), None);
//! ```

/// `Some(reorder_point − available)` when the product is low (see the module), `None`
/// when it is not. The difference saturates at `i64::MAX` rather than wrapping.
#[must_use]
pub fn shortfall(reorder_point: i64, available: i64) -> Option<i64> {
    (reorder_point > 0 && available < reorder_point)
        .then(|| reorder_point.saturating_sub(available))
}

/// Whether the product is low: it has a reorder point and `available` is below it.
#[must_use]
pub fn is_low(reorder_point: i64, available: i64) -> bool {
    shortfall(reorder_point, available).is_some()
}

/// The available stock of a product in a warehouse: `on_hand − allocated` summed over
/// its rows there, given as `(on_hand, allocated)`; 0 without rows.
#[must_use]
pub fn available(rows: impl IntoIterator<Item = (i64, i64)>) -> i64 {
    rows.into_iter().fold(0i64, |sum, (on_hand, allocated)| {
        sum.saturating_add(on_hand.saturating_sub(allocated))
    })
}

/// The SQL twin of [`is_low`] over two integer expressions (standard SQL, the same text
/// for PostgreSQL and SQLite): a query selects the low pairs itself so that a page of
/// them is one bounded statement. It must say what [`is_low`] says (see the module).
#[must_use]
pub fn is_low_sql(reorder_point: &str, available: &str) -> String {
    format!("({reorder_point} > 0 and {available} < {reorder_point})")
}

/// The SQL twin of [`shortfall`] for a pair [`is_low_sql`] selected.
#[must_use]
pub fn shortfall_sql(reorder_point: &str, available: &str) -> String {
    format!("({reorder_point} - {available})")
}
