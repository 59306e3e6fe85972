//! Cycle counts through the library API: the sheet of a bin or a zone, resolving scans,
//! and recording a count whole or not at all.

use logiflow_core::{MovementKind, Qty};
use logiflow_replica::{
    CountLine, CountScope, CountSubmission, ItemRef, JournalFilter, Replica, StockQuery,
};
use tempfile::TempDir;

use crate::fixture::*;

fn replica() -> (TempDir, Replica) {
    let dir = tempfile::tempdir().unwrap();
    let r = ready(&dir.path().join("replica.db"));
    (dir, r)
}

fn scope(code: &str) -> CountScope {
    CountScope {
        location: code.into(),
        warehouse: None,
    }
}

fn line(item: &str, bin: &str, counted: i64, expected: Option<i64>) -> CountLine {
    CountLine {
        item: ItemRef::Scan(item.into()),
        lot: None,
        bin: bin.into(),
        counted,
        expected,
    }
}

fn submit(lines: Vec<CountLine>) -> CountSubmission {
    CountSubmission {
        warehouse: None,
        lines,
    }
}

#[test]
fn a_zone_sheet_lists_its_bins_and_their_projected_stock() {
    let (_dir, r) = replica();
    let sheet = r.count_sheet(&scope("z1")).unwrap();
    assert_eq!(sheet.location, "Z1");
    assert_eq!(sheet.warehouse, "W1");
    assert!(!sheet.is_bin);
    assert_eq!(sheet.bins, ["A-01", "A-02", "B-01"]);
    assert_eq!(sheet.lines.len(), 1);
    assert_eq!(
        (
            sheet.lines[0].sku.as_str(),
            sheet.lines[0].location_code.as_str(),
            sheet.lines[0].on_hand
        ),
        ("BOLT-10", "A-01", 10)
    );

    let bin = r.count_sheet(&scope("A-02")).unwrap();
    assert!(bin.is_bin);
    assert_eq!(bin.bins, ["A-02"]);
    assert!(bin.lines.is_empty(), "{:?}", bin.lines);

    let unknown = r.count_sheet(&scope("Q-99")).unwrap_err();
    assert_eq!(unknown.code(), "unknown_location");
}

#[test]
fn the_sheet_shows_the_projection_including_pending_movements() {
    let (_dir, mut r) = replica();
    r.record(&action(
        "BOLT-10",
        logiflow_replica::Op::Receive {
            to: "B-01".into(),
            qty: 4,
        },
    ))
    .unwrap();
    let sheet = r.count_sheet(&scope("Z1")).unwrap();
    let b01 = sheet
        .lines
        .iter()
        .find(|l| l.location_code == "B-01")
        .expect("the pending receipt's row");
    assert_eq!((b01.on_hand, b01.pending), (4, 4));
}

#[test]
fn resolving_a_scan_names_the_product_or_says_it_is_unknown() {
    let (_dir, r) = replica();
    let found = r
        .resolve_item(&ItemRef::Scan("4006381333931".into()))
        .unwrap();
    assert_eq!(
        (
            found.id,
            found.sku.as_str(),
            found.name.as_str(),
            found.lot_tracked
        ),
        (bolt(), "BOLT-10", "Hex bolt M10", false)
    );
    let milk = r.resolve_item(&ItemRef::Scan("milk-1".into())).unwrap();
    assert!(milk.lot_tracked);
    let unknown = r
        .resolve_item(&ItemRef::Scan("NOPE-404".into()))
        .unwrap_err();
    assert_eq!(unknown.code(), "unknown_product");
    // A GTIN with a wrong check digit is a misread, not an unknown product.
    let misread = r
        .resolve_item(&ItemRef::Scan("4006381333932".into()))
        .unwrap_err();
    assert_eq!(misread.code(), "invalid_input");
}

#[test]
fn a_count_records_one_count_movement_per_row_and_the_projection_follows() {
    let (_dir, mut r) = replica();
    let recorded = r
        .record_count(&submit(vec![
            line("4006381333931", "A-01", 7, Some(10)),
            line("BOLT-10", "A-02", 3, None),
            CountLine {
                lot: Some("L1".into()),
                ..line("MILK-1", "B-01", 4, Some(0))
            },
        ]))
        .unwrap();
    assert_eq!(
        recorded.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        recorded
            .windows(2)
            .all(|w| w[0].movement.occurred_at < w[1].movement.occurred_at)
    );

    let journal = r.journal(&JournalFilter::default()).unwrap();
    assert_eq!(journal.len(), 3);
    assert!(journal.iter().all(|e| e.kind == "count"));
    match journal[0].movement.kind {
        MovementKind::Count {
            at,
            counted,
            expected,
        } => {
            assert_eq!(at, a01());
            assert_eq!(counted, Qty::new(7).unwrap());
            assert_eq!(expected, Some(Qty::new(10).unwrap()));
        }
        ref other => panic!("not a count: {other:?}"),
    }
    assert!(matches!(
        journal[1].movement.kind,
        MovementKind::Count { expected: None, .. }
    ));

    assert_eq!(on_hand(&r, bolt(), a01()), 7);
    assert_eq!(on_hand(&r, bolt(), a02()), 3);
    let milk = r
        .stock(&StockQuery {
            bin: Some("B-01".into()),
            ..StockQuery::default()
        })
        .unwrap();
    assert_eq!(milk.len(), 1);
    assert_eq!(
        (milk[0].lot_code.as_deref(), milk[0].on_hand),
        (Some("L1"), 4)
    );
    assert_eq!(r.status().unwrap().pending, 3);
}

#[test]
fn a_count_with_a_bad_line_records_nothing_and_names_the_line() {
    let (_dir, mut r) = replica();
    let cases: [(Vec<CountLine>, &str, &str); 5] = [
        (
            vec![
                line("BOLT-10", "A-01", 7, Some(10)),
                line("NOPE-404", "A-01", 1, None),
            ],
            "unknown_product",
            "count line 2: no product with sku or barcode NOPE-404",
        ),
        (
            vec![line("BOLT-10", "A-01", -1, None)],
            "invalid_input",
            "count line 1: counted:",
        ),
        (
            vec![line("BOLT-10", "Z1", 5, None)],
            "location_not_leaf",
            "count line 1:",
        ),
        (
            vec![
                line("BOLT-10", "A-01", 7, None),
                line("4006381333931", "A-01", 2, None),
            ],
            "invalid_input",
            "count line 2: lines: 4006381333931 in bin A-01 is counted twice",
        ),
        (vec![], "invalid_input", "lines: nothing was counted"),
    ];
    for (lines, code, message) in cases {
        let error = r.record_count(&submit(lines)).unwrap_err();
        assert_eq!(error.code(), code, "{error}");
        assert!(
            error.to_string().starts_with(message),
            "{error} does not start with {message}"
        );
        assert!(error.is_user_error());
    }
    let status = r.status().unwrap();
    assert_eq!((status.pending, status.last_seq), (0, 0));
    assert_eq!(on_hand(&r, bolt(), a01()), 10);

    // The same replica still records a good count afterwards, from seq 1.
    let recorded = r
        .record_count(&submit(vec![line("BOLT-10", "A-01", 9, None)]))
        .unwrap();
    assert_eq!(recorded[0].seq, 1);
}
