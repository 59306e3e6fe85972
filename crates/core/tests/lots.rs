//! Table tests of the rule for lots created offline (`logiflow_core::lots::reconcile`):
//! one case per step of the rule its module documentation names.

use chrono::NaiveDate;
use logiflow_core::lots::{Existing, Reconciled, keep_declared, reconcile};
use logiflow_core::{Flag, LotCode, LotId, LotRecord, ProductId};
use rstest::rstest;
use uuid::Uuid;

fn lot(n: u128) -> LotId {
    LotId::from_uuid(Uuid::from_u128(n))
}

fn day(d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(2027, 6, d)
}

/// Lot 1, code `L7`, declared with expiry `expiry`.
fn declared(expiry: Option<NaiveDate>) -> LotRecord {
    LotRecord {
        id: lot(1),
        product: ProductId::from_uuid(Uuid::from_u128(100)),
        code: LotCode::parse("L7").unwrap(),
        expires_on: expiry,
    }
}

fn existing(n: u128, expiry: Option<NaiveDate>) -> Option<Existing> {
    Some(Existing {
        id: lot(n),
        expires_on: expiry,
    })
}

fn differs(n: u128, recorded: Option<NaiveDate>, kept: Option<NaiveDate>) -> Option<Flag> {
    Some(Flag::LotExpiryDiffers {
        lot: lot(n),
        recorded,
        kept,
    })
}

#[rstest]
#[case::nothing_known_creates_it(None, None, None, 1, true, None)]
#[case::its_own_lot_from_an_earlier_push(None, existing(1, day(30)), None, 1, false, None)]
#[case::a_lot_of_that_code_takes_it(None, None, existing(2, day(30)), 2, false, None)]
#[case::mapped_before_wins_over_the_code(
    existing(3, day(30)),
    None,
    existing(2, day(30)),
    3,
    false,
    None
)]
#[case::mapped_before_wins_over_the_id(
    existing(3, day(30)),
    existing(1, day(30)),
    None,
    3,
    false,
    None
)]
#[case::the_id_wins_over_the_code(None, existing(1, day(30)), existing(2, day(30)), 1, false, None)]
#[case::another_expiry_is_kept_and_flagged(
    None,
    None,
    existing(2, day(1)),
    2,
    false,
    differs(2, day(30), day(1))
)]
#[case::no_expiry_on_the_server_is_kept_and_flagged(
    None,
    None,
    existing(2, None),
    2,
    false,
    differs(2, day(30), None)
)]
#[case::an_edited_own_lot_is_flagged(
    None,
    existing(1, day(2)),
    None,
    1,
    false,
    differs(1, day(30), day(2))
)]
fn the_rule(
    #[case] mapped: Option<Existing>,
    #[case] by_id: Option<Existing>,
    #[case] by_code: Option<Existing>,
    #[case] want_lot: u128,
    #[case] want_create: bool,
    #[case] want_flag: Option<Flag>,
) {
    assert_eq!(
        reconcile(&declared(day(30)), mapped, by_id, by_code),
        Reconciled {
            lot: lot(want_lot),
            create: want_create,
            flag: want_flag,
        }
    );
}

#[test]
fn a_lot_without_expiry_matches_one_without() {
    let r = reconcile(&declared(None), None, None, existing(2, None));
    assert_eq!((r.lot, r.create, r.flag), (lot(2), false, None));
}

/// The worked example of the module docs.
#[test]
fn two_devices_receiving_one_lot_share_it() {
    let a = LotRecord {
        id: lot(10),
        ..declared(day(30))
    };
    let b = LotRecord {
        id: lot(20),
        expires_on: NaiveDate::from_ymd_opt(2027, 7, 31),
        ..declared(None)
    };
    let first = reconcile(&a, None, None, None);
    assert_eq!((first.lot, first.create), (lot(10), true));
    let second = reconcile(
        &b,
        None,
        None,
        Some(Existing {
            id: first.lot,
            expires_on: a.expires_on,
        }),
    );
    assert_eq!(
        second,
        Reconciled {
            lot: lot(10),
            create: false,
            flag: Some(Flag::LotExpiryDiffers {
                lot: lot(10),
                recorded: b.expires_on,
                kept: a.expires_on,
            }),
        }
    );
}

fn lot_differs() -> Flag {
    Flag::LotExpiryDiffers {
        lot: lot(10),
        recorded: day(30),
        kept: day(1),
    }
}

fn redated() -> Flag {
    let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    Flag::Redated {
        recorded_at: at,
        applied_at: at,
    }
}

fn old() -> Flag {
    Flag::DatedLongAgo {
        age_days: 40,
        limit_days: 30,
    }
}

/// A held movement decided again keeps the lot flag it was declared with, after the
/// new decision's flags, once; other flags of its first decision are not carried.
#[rstest]
#[case::nothing_before(vec![], vec![redated()], vec![redated()])]
#[case::declared_kept(vec![lot_differs()], vec![redated()], vec![redated(), lot_differs()])]
#[case::declared_alone(vec![lot_differs()], vec![], vec![lot_differs()])]
#[case::not_twice(vec![lot_differs()], vec![lot_differs()], vec![lot_differs()])]
#[case::decided_flags_not_carried(vec![old(), lot_differs()], vec![], vec![lot_differs()])]
fn a_redecided_movement_keeps_its_declared_flags(
    #[case] before: Vec<Flag>,
    #[case] mut decided: Vec<Flag>,
    #[case] want: Vec<Flag>,
) {
    keep_declared(&before, &mut decided);
    assert_eq!(decided, want);
}
