//! Table tests of the low-stock rule (`logiflow_core::reorder`): one case per edge of the
//! rule its module documentation names. The server's SQL twin of the rule is checked
//! against `shortfall` on the same edges (`crates/server/tests/api/stock.rs`).

use logiflow_core::QTY_MAX;
use logiflow_core::reorder::{available, is_low, shortfall};
use rstest::rstest;

/// `(reorder_point, available, shortfall)`: the cases both sides must agree on.
const CASES: &[(i64, i64, Option<i64>)] = &[
    (10, 7, Some(3)),
    (10, 9, Some(1)),
    (10, 10, None),
    (10, 11, None),
    (10, 0, Some(10)),
    (10, -3, Some(13)),
    (1, 0, Some(1)),
    (0, 0, None),
    (0, -5, None),
    (0, 5, None),
    (QTY_MAX, -QTY_MAX, Some(2 * QTY_MAX)),
    (QTY_MAX, QTY_MAX, None),
];

#[rstest]
#[case::below_the_point(10, &[(12, 5)], Some(3))]
#[case::one_below(10, &[(9, 0)], Some(1))]
#[case::at_the_point_is_not_low(10, &[(10, 0)], None)]
#[case::above_the_point(10, &[(11, 0)], None)]
#[case::no_row_in_the_warehouse_is_the_whole_point(10, &[], Some(10))]
#[case::empty_rows_are_the_whole_point(10, &[(0, 0), (0, 0)], Some(10))]
#[case::allocations_count_against_stock(10, &[(15, 6)], Some(1))]
#[case::over_allocated_is_below_zero(10, &[(2, 5)], Some(13))]
#[case::negative_on_hand_is_not_clamped(10, &[(-2, 0), (3, 4)], Some(13))]
#[case::summed_over_the_warehouse_rows(10, &[(4, 0), (6, 0)], None)]
#[case::no_reorder_point_never_low(0, &[], None)]
#[case::no_reorder_point_never_low_below_zero(0, &[(-5, 0)], None)]
#[case::smallest_reorder_point(1, &[], Some(1))]
#[case::largest_quantities(QTY_MAX, &[(-QTY_MAX, 0)], Some(2 * QTY_MAX))]
fn the_rule(#[case] reorder_point: i64, #[case] rows: &[(i64, i64)], #[case] want: Option<i64>) {
    let avail = available(rows.iter().copied());
    assert_eq!(shortfall(reorder_point, avail), want);
    assert_eq!(is_low(reorder_point, avail), want.is_some());
}

#[test]
fn the_shared_cases() {
    for &(reorder_point, avail, want) in CASES {
        assert_eq!(
            shortfall(reorder_point, avail),
            want,
            "{reorder_point} {avail}"
        );
        assert_eq!(is_low(reorder_point, avail), want.is_some());
    }
}

#[test]
fn the_shortfall_saturates_rather_than_wraps() {
    assert_eq!(shortfall(1, i64::MIN), Some(i64::MAX));
    assert_eq!(available([(i64::MAX, 0), (1, 0)]), i64::MAX);
}
