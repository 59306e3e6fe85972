//! Recording on the replica: every movement kind, refusals, `device_seq`, warnings, and
//! the local stock search.

use logiflow_core::{
    AdjustReason, Cursor, LedgerEffect, MovementKind, OrderKey, PullPage, RowState, StockKey,
    StockRow,
};
use logiflow_replica::{Action, ItemRef, JournalFilter, JournalStatus, Op, Search, StockQuery};

use crate::fixture::*;

use super::{empty_page, temp};

#[test]
fn every_movement_kind_is_recorded_and_projected() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let rec = r
        .record(&action(
            "4006381333931",
            Op::Receive {
                to: "a-02".into(),
                qty: 5,
            },
        ))
        .unwrap();
    assert_eq!((rec.seq, rec.projected.as_str()), (1, "applied"));
    assert!(rec.warnings.is_empty());
    assert!(matches!(rec.movement.kind, MovementKind::Receive { to, .. } if to == a02()));
    assert_eq!(rec.movement.device.unwrap().seq, 1);
    assert_eq!(rec.movement.user, user());

    r.record(&action(
        "BOLT-10",
        Op::Ship {
            from: "A-01".into(),
            qty: 3,
        },
    ))
    .unwrap();
    r.record(&action(
        "bolt-10",
        Op::Transfer {
            from: "A-01".into(),
            to: "B-01".into(),
            qty: 2,
        },
    ))
    .unwrap();
    r.record(&action(
        "BOLT-10",
        Op::Adjust {
            at: "B-01".into(),
            delta: -1,
            reason: AdjustReason::Damage,
        },
    ))
    .unwrap();
    let count = r
        .record(&action(
            "BOLT-10",
            Op::Count {
                at: "A-02".into(),
                counted: 4,
                expected: Some(5),
            },
        ))
        .unwrap();
    assert_eq!(count.projected, "applied");
    let mut lot_receipt = action(
        "MILK-1",
        Op::Receive {
            to: "A-01".into(),
            qty: 7,
        },
    );
    lot_receipt.lot = Some("L1".into());
    r.record(&lot_receipt).unwrap();

    assert_eq!(on_hand(&r, bolt(), a01()), 10 - 3 - 2);
    assert_eq!(on_hand(&r, bolt(), b01()), 2 - 1);
    assert_eq!(on_hand(&r, bolt(), a02()), 4);
    let milk_line = r
        .stock(&StockQuery {
            search: Some(Search::SkuPrefix("milk".into())),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(milk_line.len(), 1);
    assert_eq!(milk_line[0].lot, Some(lot1()));
    assert_eq!(milk_line[0].lot_code.as_deref(), Some("L1"));
    assert_eq!((milk_line[0].on_hand, milk_line[0].pending), (7, 7));

    let kinds: Vec<String> = r
        .journal(&JournalFilter::default())
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        ["receive", "ship", "transfer", "adjust", "count", "receive"]
    );
    let status = r.status().unwrap();
    assert_eq!(
        (status.pending, status.last_seq, status.conflicts),
        (6, 6, 0)
    );
    assert_eq!(status.cursor.as_deref(), Some("c1"));
}

#[test]
fn invalid_actions_are_refused_with_a_code_and_nothing_is_recorded() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let with_lot = |item: &str, lot: &str, op: Op| Action {
        lot: Some(lot.into()),
        ..action(item, op)
    };
    let receive = |to: &str, qty: i64| Op::Receive { to: to.into(), qty };
    let cases: Vec<(Action, &str)> = vec![
        (action("NOPE-1", receive("A-01", 1)), "unknown_product"),
        (
            Action {
                expires_on: None,
                item: ItemRef::Barcode("4006381333932".into()),
                ..action("", receive("A-01", 1))
            },
            "unknown_product",
        ),
        (
            Action {
                expires_on: None,
                item: ItemRef::Sku("a b".into()),
                ..action("", receive("A-01", 1))
            },
            "invalid_input",
        ),
        (action("BOLT-10", receive("A-01", 0)), "invalid_input"),
        (action("BOLT-10", receive("A-01", -4)), "invalid_input"),
        (action("BOLT-10", receive("Q-99", 1)), "unknown_location"),
        (action("BOLT-10", receive("Z1", 1)), "location_not_leaf"),
        (action("MILK-1", receive("A-01", 1)), "lot_required"),
        // Only a receipt may bring a lot this device does not know.
        (
            with_lot(
                "MILK-1",
                "L9",
                Op::Ship {
                    from: "A-01".into(),
                    qty: 1,
                },
            ),
            "unknown_lot",
        ),
        (
            Action {
                expires_on: Some("31/12/2027".into()),
                ..with_lot("MILK-1", "L9", receive("A-01", 1))
            },
            "invalid_input",
        ),
        (
            Action {
                expires_on: Some("2027-12-31".into()),
                ..action("BOLT-10", receive("A-01", 1))
            },
            "invalid_input",
        ),
        // A new lot into a bin that cannot hold stock: refused, and no lot is left.
        (
            with_lot("MILK-1", "L-NEW", receive("Z1", 1)),
            "location_not_leaf",
        ),
        (
            with_lot("BOLT-10", "L1", receive("A-01", 1)),
            "lot_not_tracked",
        ),
        (
            action(
                "BOLT-10",
                Op::Transfer {
                    from: "A-01".into(),
                    to: "a-01".into(),
                    qty: 1,
                },
            ),
            "same_location",
        ),
        (
            action(
                "BOLT-10",
                Op::Adjust {
                    at: "A-01".into(),
                    delta: -2,
                    reason: AdjustReason::Found,
                },
            ),
            "reason_sign_mismatch",
        ),
        (
            action(
                "BOLT-10",
                Op::Adjust {
                    at: "A-01".into(),
                    delta: 0,
                    reason: AdjustReason::Correction,
                },
            ),
            "invalid_input",
        ),
        (
            action(
                "BOLT-10",
                Op::Count {
                    at: "A-01".into(),
                    counted: -1,
                    expected: None,
                },
            ),
            "invalid_input",
        ),
    ];
    for (a, code) in cases {
        let err = r.record(&a).unwrap_err();
        assert_eq!(err.code(), code, "{a:?}: {err}");
        assert!(err.is_user_error());
        let body = err.body();
        assert_eq!(body.code, code);
        assert!(!body.message.is_empty());
        assert!(
            !body.message.starts_with(char::is_uppercase),
            "messages are lowercase: {}",
            body.message
        );
    }
    assert_eq!(r.status().unwrap().last_seq, 0);
    assert!(r.journal(&JournalFilter::default()).unwrap().is_empty());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let lots: i64 = conn
        .query_row("select count(*) from lot where local = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(lots, 0, "a refused receipt leaves no lot behind");
}

/// A receipt into a lot the replica does not know creates it on the device with the
/// expiry typed, the push declares it, and the pull of the server's lot settles it; a
/// date typed for a known lot that differs from its own is warned about.
#[test]
fn a_receipt_brings_a_new_lot_that_the_push_declares() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let receipt = |lot: &str, expires_on: &str| Action {
        lot: Some(lot.into()),
        expires_on: Some(expires_on.into()),
        ..action(
            "MILK-1",
            Op::Receive {
                to: "A-01".into(),
                qty: 4,
            },
        )
    };
    let rec = r.record(&receipt("L-NEW", "2027-05-31")).unwrap();
    let codes: Vec<&str> = rec.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(codes, vec!["new_lot"], "{:?}", rec.warnings);
    let new_lot = rec.movement.lot.unwrap();
    // The next receipt of that code goes into the same lot, without a warning.
    let again = r.record(&receipt("L-NEW", "2027-05-31")).unwrap();
    assert_eq!(again.movement.lot, Some(new_lot));
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    // Another date than the lot's: warned, the lot keeps its date.
    let other = r.record(&receipt("L1", "2027-01-01")).unwrap();
    let codes: Vec<&str> = other.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(codes, vec!["lot_expiry_differs"], "{:?}", other.warnings);
    assert_eq!(other.movement.lot, Some(lot1()));

    let batch = r.push_batch().unwrap();
    assert_eq!(batch.movements.len(), 3);
    assert_eq!(batch.lots.len(), 1, "{:?}", batch.lots);
    assert_eq!(batch.lots[0].id, new_lot);
    assert_eq!(batch.lots[0].code.as_str(), "L-NEW");
    assert_eq!(
        batch.lots[0].expires_on.map(|d| d.to_string()).as_deref(),
        Some("2027-05-31")
    );
    let stock = r.stock(&StockQuery::default()).unwrap();
    assert!(
        stock
            .iter()
            .any(|l| l.lot_code.as_deref() == Some("L-NEW") && l.on_hand == 8),
        "{stock:?}"
    );

    // The server's lot, pulled: no longer the device's own, so no longer declared.
    let mut page = empty_page_at("c9", time(START_MS + 60_000));
    page.lots = vec![logiflow_core::LotRecord {
        id: new_lot,
        product: milk(),
        code: logiflow_core::LotCode::parse("L-NEW").unwrap(),
        expires_on: chrono::NaiveDate::from_ymd_opt(2027, 5, 31),
    }];
    r.apply_pull(&page).unwrap();
    assert!(r.push_batch().unwrap().lots.is_empty());
}

#[test]
fn device_seq_is_strictly_increasing_and_gap_free_across_reopen() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    for _ in 0..3 {
        r.record(&action(
            "BOLT-10",
            Op::Receive {
                to: "A-02".into(),
                qty: 1,
            },
        ))
        .unwrap();
    }
    let before = r.journal(&JournalFilter::default()).unwrap();
    drop(r);
    // A new process whose clock reads earlier than the last entry (clock set back).
    let mut r = open(&path);
    for _ in 0..3 {
        r.record(&action(
            "BOLT-10",
            Op::Receive {
                to: "A-02".into(),
                qty: 1,
            },
        ))
        .unwrap();
    }
    let all = r.journal(&JournalFilter::default()).unwrap();
    assert_eq!(&all[..3], &before[..]);
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    for w in all.windows(2) {
        assert!(w[0].movement.order_key() < w[1].movement.order_key());
        assert_eq!(w[1].movement.device.unwrap().seq, w[0].seq + 1);
    }
    assert_eq!(on_hand(&r, bolt(), a02()), 6);
    // Paging.
    let page = r
        .journal(&JournalFilter {
            status: Some(JournalStatus::Pending),
            after_seq: Some(4),
            limit: Some(1),
        })
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].seq, 5);
}

#[test]
fn an_outbound_beyond_projected_stock_is_recorded_with_a_warning() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let rec = r
        .record(&action(
            "BOLT-10",
            Op::Ship {
                from: "A-01".into(),
                qty: 15,
            },
        ))
        .unwrap();
    assert_eq!(rec.projected, "held");
    assert_eq!(rec.warnings.len(), 1);
    assert_eq!(rec.warnings[0].code, "beyond_projected_stock");
    // Held, like the server will: no effect yet.
    assert_eq!(on_hand(&r, bolt(), a01()), 10);
    assert_eq!(r.status().unwrap().pending, 1);

    // A pull reveals a receipt of 10 that another device recorded before the shipment:
    // the projection applies the shipment, exactly as the server will.
    let ship_at = rec.movement.occurred_at;
    let receipt = OrderKey {
        at: ship_at - chrono::TimeDelta::seconds(30),
        id: logiflow_core::MovementId::new_v7(0, [9; 10]),
    };
    let key = StockKey {
        product: bolt(),
        location: a01(),
        lot: None,
    };
    let page = PullPage {
        cursor: Cursor::new("c2"),
        has_more: false,
        server_time: ship_at,
        rows: vec![RowState {
            key,
            row: StockRow {
                on_hand: 20,
                allocated: 0,
                last_count: None,
            },
        }],
        effects: vec![LedgerEffect {
            movement: receipt.id,
            key,
            order: receipt,
            delta: 10,
        }],
        ..empty_page()
    };
    r.apply_pull(&page).unwrap();
    assert_eq!(on_hand(&r, bolt(), a01()), 5);
}

#[test]
fn stock_search_by_sku_name_barcode_and_bin() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let mut lot_receipt = action(
        "MILK-1",
        Op::Receive {
            to: "B-01".into(),
            qty: 2,
        },
    );
    lot_receipt.lot = Some("L1".into());
    r.record(&lot_receipt).unwrap();
    let q = |search: Option<Search>, bin: Option<&str>| {
        r.stock(&StockQuery {
            search,
            bin: bin.map(Into::into),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|l| (l.sku, l.location_code))
        .collect::<Vec<_>>()
    };
    let bolt_a01 = || ("BOLT-10".to_owned(), "A-01".to_owned());
    let milk_b01 = || ("MILK-1".to_owned(), "B-01".to_owned());
    assert_eq!(
        q(Some(Search::SkuPrefix("bo".into())), None),
        vec![bolt_a01()]
    );
    assert_eq!(q(Some(Search::Name("1l".into())), None), vec![milk_b01()]);
    assert!(q(Some(Search::Name("%".into())), None).is_empty());
    assert_eq!(
        q(Some(Search::Barcode("4006381333931".into())), None),
        vec![bolt_a01()]
    );
    assert_eq!(q(Some(Search::Any("milk".into())), None), vec![milk_b01()]);
    assert_eq!(q(None, Some("b-01")), vec![milk_b01()]);
    assert_eq!(q(None, None), vec![bolt_a01(), milk_b01()]);
}

#[test]
fn a_misread_gtin_is_reported_as_such() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let err = r
        .record(&action(
            "4006381333932",
            Op::Receive {
                to: "A-01".into(),
                qty: 1,
            },
        ))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("misread"), "{err}");
}
