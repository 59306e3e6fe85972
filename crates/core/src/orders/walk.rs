//! The pick walk (DESIGN §5.6): the path of a location and the order in which a person
//! visits the stops of a pick list, for one sales order or a wave of several.
//!
//! # Rules, with worked examples
//!
//! Each example is a row of the table tests in `tests/orders.rs`, named in brackets.
//!
//! 1. **A location's path is its ancestors' codes from the top of the warehouse, then
//!    its own, joined by `/`**: bin `B2` under aisle `03` under zone `A` is `A/03/B2`;
//!    a top-level location's path is its code \[`path_of_a_zone`, `path_of_a_bin`\].
//! 2. **The path order is the walk order**, compared byte by byte (the server's
//!    `collate "C"`), not segment by segment: `A-1` (a top-level bin) comes before
//!    `A/X` because `-` sorts before `/` \[`paths_compare_as_text`\]. Allocation breaks
//!    its ties by the same path ([`super::allocation`], rules 2 and 3).
//! 3. **A stop is visited by its bin's path, then SKU, then lot (none first), then
//!    order number, then the line's position in its order**: every stop at one bin is
//!    picked before walking on, the same product's stops for several orders of a wave
//!    come one after the other \[`wave_stops_interleave_by_path`\], and bin codes that
//!    sort one way under different zones walk the zones' way
//!    \[`bins_walk_by_zone_not_by_code`\].

/// The most sales orders one pick walk (a wave) takes: a cart's worth, and a bound on the
/// work of building it (the server's wave pick list, the replica's pick walk).
pub const WAVE_ORDERS_MAX: usize = 50;

/// What joins the codes of a location path.
pub const PATH_SEPARATOR: char = '/';

/// The path of a location with `code` under a parent whose path is `parent` (rule 1).
pub fn child_path(parent: Option<&str>, code: &str) -> String {
    match parent {
        Some(parent) => format!("{parent}{PATH_SEPARATOR}{code}"),
        None => code.to_owned(),
    }
}

/// Where a stop of a pick walk is and what it is for; its derived order is the walk
/// order (rule 3, field by field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WalkKey<'a> {
    /// The bin's location path (rule 1).
    pub path: &'a str,
    /// The product's SKU.
    pub sku: &'a str,
    /// The lot's code, for a lot-tracked product.
    pub lot: Option<&'a str>,
    /// The sales order's number (one order's list: the same on every stop).
    pub order: &'a str,
    /// The line's position in its order.
    pub position: i64,
}

/// Sorts `stops` into walk order (rules 2 and 3) by the key each one gives; stops with
/// equal keys keep their order.
pub fn sort_walk<T>(stops: &mut [T], key: impl Fn(&T) -> WalkKey<'_>) {
    stops.sort_by(|a, b| key(a).cmp(&key(b)));
}
