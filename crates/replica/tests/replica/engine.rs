//! The library API over a real SQLite file in a temporary directory.

use logiflow_core::{
    AdjustReason, Cursor, Effect, Flag, Hold, LedgerEffect, MovementKind, MovementResult, OrderKey,
    Outcome, PullPage, PushResponse, RowState, StockKey, StockRow,
};
use logiflow_replica::{
    Action, Error, ItemRef, JournalFilter, JournalStatus, Op, Replica, SCHEMA_VERSION, Search,
    StockQuery,
};
use tempfile::TempDir;

use crate::fixture::*;

fn temp() -> (TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica.db");
    (dir, path)
}

fn code_of(e: Error) -> &'static str {
    e.code()
}

#[test]
fn migrations_apply_once_and_pragmas_are_set() {
    let (_dir, path) = temp();
    let r = open(&path);
    assert_eq!(r.status().unwrap().schema_version, SCHEMA_VERSION);
    drop(r);
    // Reopening applies nothing twice.
    let r = open(&path);
    assert_eq!(r.status().unwrap().schema_version, SCHEMA_VERSION);
    drop(r);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("pragma journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let tables: i64 = conn
        .query_row(
            "select count(*) from sqlite_master where type = 'table'
             and name in ('device', 'journal', 'stock_row', 'product', 'ledger_effect')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 5);
}

#[test]
fn a_database_from_a_newer_binary_is_refused() {
    let (_dir, path) = temp();
    drop(open(&path));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = Replica::open(&path).unwrap_err();
    assert_eq!(err.code(), "schema_too_new");
    assert!(!err.is_user_error());
}

#[test]
fn the_journal_is_append_only_in_sql() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    r.record(&action(
        "BOLT-10",
        Op::Receive {
            to: "A-02".into(),
            qty: 1,
        },
    ))
    .unwrap();
    drop(r);
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert!(conn.execute("delete from journal", []).is_err());
    assert!(
        conn.execute("update journal set movement = '{}'", [])
            .is_err()
    );
}

#[test]
fn init_is_required_and_happens_once() {
    let (_dir, path) = temp();
    let mut r = open(&path);
    r.apply_pull(&catalog_page()).unwrap();
    let err = r
        .record(&action(
            "BOLT-10",
            Op::Receive {
                to: "A-01".into(),
                qty: 1,
            },
        ))
        .unwrap_err();
    assert_eq!(err.code(), "not_initialized");
    r.init_device(tenant(), user(), "https://x", None).unwrap();
    let err = r
        .init_device(tenant(), user(), "https://x", None)
        .unwrap_err();
    assert_eq!(err.code(), "already_initialized");
}

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
                item: ItemRef::Barcode("4006381333932".into()),
                ..action("", receive("A-01", 1))
            },
            "unknown_product",
        ),
        (
            Action {
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
        (with_lot("MILK-1", "L9", receive("A-01", 1)), "unknown_lot"),
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

fn empty_page() -> PullPage {
    PullPage {
        cursor: Cursor::new("c1"),
        has_more: false,
        server_time: time(START_MS),
        warehouses: vec![],
        locations: vec![],
        products: vec![],
        lots: vec![],
        deleted_locations: vec![],
        rows: vec![],
        effects: vec![],
        outcomes: vec![],
        snapshot: None,
    }
}

#[test]
fn a_deleted_location_is_gone_from_the_replica() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let receive = |to: &str| {
        action(
            "BOLT-10",
            Op::Receive {
                to: to.into(),
                qty: 1,
            },
        )
    };
    let pulled = r
        .apply_pull(&PullPage {
            deleted_locations: vec![a02()],
            ..empty_page()
        })
        .unwrap();
    assert_eq!(pulled.catalog, 1);
    assert_eq!(
        code_of(r.record(&receive("A-02")).unwrap_err()),
        "unknown_location"
    );
    r.record(&receive("A-01")).unwrap();
}

#[test]
fn a_pending_count_subtracts_pulled_effects_that_occurred_after_it() {
    // DESIGN §5.4 on the device: a count at t5 saw 7; the server later applied a ship of
    // 2 at t9 (pulled after the count was recorded). The server will compute
    // q_t5 = on_hand − (−2) and adjust so; the projection must agree.
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let rec = r
        .record(&action(
            "BOLT-10",
            Op::Count {
                at: "A-01".into(),
                counted: 7,
                expected: None,
            },
        ))
        .unwrap();
    assert_eq!(on_hand(&r, bolt(), a01()), 7);
    let key = StockKey {
        product: bolt(),
        location: a01(),
        lot: None,
    };
    let later = OrderKey {
        at: rec.movement.occurred_at + chrono::TimeDelta::seconds(4),
        id: logiflow_core::MovementId::new_v7(0, [7; 10]),
    };
    r.apply_pull(&PullPage {
        rows: vec![RowState {
            key,
            row: StockRow {
                on_hand: 8,
                allocated: 0,
                last_count: None,
            },
        }],
        effects: vec![LedgerEffect {
            movement: later.id,
            key,
            order: later,
            delta: -2,
        }],
        server_time: later.at,
        ..empty_page()
    })
    .unwrap();
    // q_t = 8 − (−2) = 10; adjustment 7 − 10 = −3; row 8 − 3 = 5 (= 7 counted − 2 shipped).
    assert_eq!(on_hand(&r, bolt(), a01()), 5);
}

#[test]
fn the_projection_equals_pulled_state_plus_pending_by_the_rules() {
    // A random but physically possible day of work on three bins, recomputed by a
    // deliberately simple model: receipts and found stock add, shipments, transfers and
    // losses subtract (never beyond what the bin holds, so nothing is held), a count sets
    // the bin. The projection, which replays the journal with the core rules over the
    // pulled state, must agree with it.
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let bins = [("A-01", a01()), ("A-02", a02()), ("B-01", b01())];
    let mut model: BTreeMap<logiflow_core::LocationId, i64> =
        bins.iter().map(|(_, id)| (*id, 0)).collect();
    model.insert(a01(), 10);
    for _ in 0..300 {
        let (bin, id) = bins[rng.random_range(0..3)];
        let (other, other_id) = bins[rng.random_range(0..3)];
        let have = model[&id];
        let op = match rng.random_range(0..6) {
            0 => {
                let q = rng.random_range(1..8);
                *model.get_mut(&id).unwrap() += q;
                Op::Receive {
                    to: bin.into(),
                    qty: q,
                }
            }
            1 if have > 0 => {
                let q = rng.random_range(1..=have);
                *model.get_mut(&id).unwrap() -= q;
                Op::Ship {
                    from: bin.into(),
                    qty: q,
                }
            }
            2 if have > 0 && bin != other => {
                let q = rng.random_range(1..=have);
                *model.get_mut(&id).unwrap() -= q;
                *model.get_mut(&other_id).unwrap() += q;
                Op::Transfer {
                    from: bin.into(),
                    to: other.into(),
                    qty: q,
                }
            }
            3 if have > 0 => {
                let q = rng.random_range(1..=have);
                *model.get_mut(&id).unwrap() -= q;
                Op::Adjust {
                    at: bin.into(),
                    delta: -q,
                    reason: AdjustReason::Loss,
                }
            }
            4 => {
                let q = rng.random_range(1..4);
                *model.get_mut(&id).unwrap() += q;
                Op::Adjust {
                    at: bin.into(),
                    delta: q,
                    reason: AdjustReason::Found,
                }
            }
            _ => {
                let q = rng.random_range(0..12);
                model.insert(id, q);
                Op::Count {
                    at: bin.into(),
                    counted: q,
                    expected: Some(have),
                }
            }
        };
        let rec = r.record(&action("BOLT-10", op)).unwrap();
        assert_eq!(rec.projected, "applied");
        assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
    }
    let lines = r.stock(&StockQuery::default()).unwrap();
    for (id, qty) in &model {
        let projected = lines
            .iter()
            .find(|l| l.location == *id)
            .map_or(0, |l| l.on_hand);
        assert_eq!(projected, *qty, "bin {id}");
    }
    // The same holds after reopening (the projection is recomputed from the file).
    drop(r);
    let r = open(&path);
    assert_eq!(r.stock(&StockQuery::default()).unwrap(), lines);
}

#[test]
fn apply_pull_is_idempotent() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    r.record(&action(
        "BOLT-10",
        Op::Receive {
            to: "A-02".into(),
            qty: 4,
        },
    ))
    .unwrap();
    let stock = r.stock(&StockQuery::default()).unwrap();
    let first = r.apply_pull(&catalog_page()).unwrap();
    let again = r.apply_pull(&catalog_page()).unwrap();
    assert_eq!(first, again);
    assert_eq!(again.effects, 0);
    assert_eq!(r.stock(&StockQuery::default()).unwrap(), stock);
    let status = r.status().unwrap();
    assert_eq!((status.pending, status.cursor.as_deref()), (1, Some("c1")));
    // A barcode moved to another product replaces the old mapping.
    let mut page = catalog_page();
    page.products[0].barcodes.clear();
    page.products[1]
        .barcodes
        .push(logiflow_core::Barcode::parse("4006381333931").unwrap());
    r.apply_pull(&page).unwrap();
    let hits = r
        .stock(&StockQuery {
            search: Some(Search::Barcode("4006381333931".into())),
            ..Default::default()
        })
        .unwrap();
    assert!(hits.iter().all(|l| l.product == milk()));
}

#[test]
fn a_page_beyond_the_bound_is_refused() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let mut page = empty_page();
    page.effects = vec![
        LedgerEffect {
            movement: logiflow_core::MovementId::new_v7(1, [0; 10]),
            key: StockKey {
                product: bolt(),
                location: a01(),
                lot: None,
            },
            order: OrderKey {
                at: time(START_MS),
                id: logiflow_core::MovementId::new_v7(1, [0; 10]),
            },
            delta: 1,
        };
        logiflow_core::PULL_PAGE_MAX + 1
    ];
    assert_eq!(code_of(r.apply_pull(&page).unwrap_err()), "page_too_large");
}

#[test]
fn push_outcomes_are_stored_idempotently_and_settled_by_a_pull() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let a = r
        .record(&action(
            "BOLT-10",
            Op::Receive {
                to: "A-02".into(),
                qty: 4,
            },
        ))
        .unwrap();
    let b = r
        .record(&action(
            "BOLT-10",
            Op::Ship {
                from: "B-01".into(),
                qty: 2,
            },
        ))
        .unwrap();
    let batch = r.push_batch().unwrap();
    assert_eq!(batch.movements.len(), 2);
    assert_eq!(batch.movements[0].movement, a.movement);
    assert_eq!(batch.movements[0].base_cursor, Some(Cursor::new("c1")));

    let key_a = StockKey {
        product: bolt(),
        location: a02(),
        lot: None,
    };
    let key_b = StockKey {
        product: bolt(),
        location: b01(),
        lot: None,
    };
    let applied = MovementResult {
        movement: a.movement.id,
        seq: 1,
        outcome: Outcome::Applied {
            effects: vec![Effect {
                key: key_a,
                delta: 4,
                absorbed: false,
            }],
        },
        flags: vec![],
        position: Some(100),
    };
    let held = MovementResult {
        movement: b.movement.id,
        seq: 2,
        outcome: Outcome::Held(Hold {
            waiting_on: key_b,
            needed: 2,
            at_time: 0,
            review: None,
        }),
        flags: vec![],
        position: None,
    };
    let response = PushResponse {
        results: vec![applied.clone(), held.clone()],
        next_seq: 3,
        server_time: time(START_MS + 60_000),
    };
    assert_eq!(r.mark_pushed(&response).unwrap(), 2);
    assert_eq!(r.mark_pushed(&response).unwrap(), 2);
    let status = r.status().unwrap();
    assert_eq!((status.pending, status.conflicts), (0, 1));
    assert!(status.last_push_at.is_some());
    assert!(r.push_batch().unwrap().movements.is_empty());
    let conflicts = r.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].outcome.as_deref(), Some("held"));
    assert_eq!(conflicts[0].result.as_ref(), Some(&held));
    // Applied on the server but not pulled yet: still in the projection.
    assert_eq!(on_hand(&r, bolt(), a02()), 4);

    // The pull carries the outcome with the row it changed: counted once, not twice.
    r.apply_pull(&PullPage {
        cursor: Cursor::new("c2"),
        rows: vec![RowState {
            key: key_a,
            row: StockRow {
                on_hand: 4,
                allocated: 0,
                last_count: None,
            },
        }],
        outcomes: vec![applied],
        ..empty_page()
    })
    .unwrap();
    assert_eq!(on_hand(&r, bolt(), a02()), 4);
    let entries = r.journal(&JournalFilter::default()).unwrap();
    assert!(entries[0].settled);
    assert!(!entries[1].settled);

    // A result for a movement this journal does not hold is an error, not ignored.
    let mut stranger = held;
    stranger.movement = logiflow_core::MovementId::new_v7(5, [5; 10]);
    let err = r
        .mark_pushed(&PushResponse {
            results: vec![stranger],
            ..response
        })
        .unwrap_err();
    assert_eq!(err.code(), "unknown_movement");
}

#[test]
fn a_voided_movement_leaves_the_projection_and_the_conflicts() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    // The server held a ship of 2 from A-01 (it knew less than this device): the
    // projection, which re-decides held entries, still applies it here.
    let ship = r
        .record(&action(
            "BOLT-10",
            Op::Ship {
                from: "A-01".into(),
                qty: 2,
            },
        ))
        .unwrap();
    let key = StockKey {
        product: bolt(),
        location: a01(),
        lot: None,
    };
    let held = MovementResult {
        movement: ship.movement.id,
        seq: 1,
        outcome: Outcome::Held(Hold {
            waiting_on: key,
            needed: 2,
            at_time: 0,
            review: None,
        }),
        flags: vec![],
        position: None,
    };
    r.mark_pushed(&PushResponse {
        results: vec![held.clone()],
        next_seq: 2,
        server_time: time(START_MS),
    })
    .unwrap();
    assert_eq!(on_hand(&r, bolt(), a01()), 8);
    assert_eq!(r.conflicts().unwrap().len(), 1);
    // A manager voided it; the device learns it with its next pull.
    r.apply_pull(&PullPage {
        outcomes: vec![MovementResult {
            outcome: Outcome::Voided {
                reason: "scanned twice".into(),
            },
            ..held
        }],
        ..empty_page()
    })
    .unwrap();
    assert_eq!(on_hand(&r, bolt(), a01()), 10);
    assert!(r.conflicts().unwrap().is_empty());
    let entry = &r.journal(&JournalFilter::default()).unwrap()[0];
    assert_eq!(entry.outcome.as_deref(), Some("voided"));
}

#[test]
fn a_version_1_journal_survives_the_migration_that_allows_voided() {
    let (_dir, path) = temp();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../../../../migrations/replica/0001_init.sql"))
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "insert into journal (device_seq, id, occurred_at_ns, recorded_at_ns, user_id, kind,
                 movement, status, outcome)
             values (1, 'm1', 5, 5, 'u', 'receive', '{}', 'pushed', 'held')",
            [],
        )
        .unwrap();
    }
    let r = open(&path);
    assert_eq!(r.status().unwrap().schema_version, SCHEMA_VERSION);
    drop(r);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let kept: (String, String) = conn
        .query_row(
            "select id, outcome from journal where device_seq = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kept, ("m1".into(), "held".into()));
    conn.execute(
        "update journal set outcome = 'voided' where device_seq = 1",
        [],
    )
    .unwrap();
    // The journal is still append-only and its movements immutable.
    assert!(conn.execute("delete from journal", []).is_err());
    assert!(
        conn.execute(
            "update journal set movement = '[]' where device_seq = 1",
            []
        )
        .is_err()
    );
    assert!(
        conn.execute(
            "update journal set outcome = 'lost' where device_seq = 1",
            []
        )
        .is_err()
    );
}

#[test]
fn a_version_3_replica_keeps_its_catalog_and_journal_through_the_search_index_migration() {
    // A movement as a replica records it, taken from a current one.
    let (_other_dir, other) = temp();
    let mut r = ready(&other);
    r.record(&action(
        "BOLT-10",
        Op::Receive {
            to: "A-01".into(),
            qty: 5,
        },
    ))
    .unwrap();
    let entry = r.journal(&JournalFilter::default()).unwrap().remove(0);
    drop(r);
    let movement = serde_json::to_string(&entry.movement).unwrap();

    let (_dir, path) = temp();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../../../../migrations/replica/0001_init.sql"),
            include_str!("../../../../migrations/replica/0002_sync_client.sql"),
            include_str!("../../../../migrations/replica/0003_voided.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(&format!(
            "insert into warehouse values ('{wh}', 'W1', 'Main', 'UTC');
             insert into location values ('{a01}', '{wh}', 'A-01', null, 1, 1);
             insert into product values ('{bolt}', 'BOLT-10', 'Hex bolt M10', 'hex bolt m10', 0, 1);
             insert into barcode values ('4006381333931', '{bolt}');
             insert into stock_row (product_id, location_id, on_hand, allocated)
                 values ('{bolt}', '{a01}', 10, 0);",
            wh = wh(),
            a01 = a01(),
            bolt = bolt()
        ))
        .unwrap();
        conn.execute(
            "insert into journal (device_seq, id, occurred_at_ns, recorded_at_ns, user_id, kind,
                 movement)
             values (1, ?1, 5, 5, 'u', 'receive', ?2)",
            rusqlite::params![entry.id.to_string(), movement],
        )
        .unwrap();
    }
    let r = open(&path);
    assert_eq!(r.status().unwrap().schema_version, SCHEMA_VERSION);
    for search in [
        Search::Name("bolt m1".into()),
        Search::Barcode("4006381333931".into()),
        Search::SkuPrefix("BOLT".into()),
    ] {
        let lines = r
            .stock(&StockQuery {
                search: Some(search.clone()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(lines.len(), 1, "{search:?}");
        // The pending receipt, found through the new index, is in the projection.
        assert_eq!((lines[0].on_hand, lines[0].pending), (15, 5), "{search:?}");
    }
    drop(r);
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert!(
        conn.execute(
            "update journal set product_id = 'x' where device_seq = 1",
            []
        )
        .is_err(),
        "the entry's product is as immutable as its movement"
    );
}

#[test]
fn flagged_results_are_conflicts() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let a = r
        .record(&action(
            "BOLT-10",
            Op::Count {
                at: "A-01".into(),
                counted: 3,
                expected: Some(9),
            },
        ))
        .unwrap();
    let key = StockKey {
        product: bolt(),
        location: a01(),
        lot: None,
    };
    r.mark_pushed(&PushResponse {
        results: vec![MovementResult {
            movement: a.movement.id,
            seq: 1,
            outcome: Outcome::Applied {
                effects: vec![Effect {
                    key,
                    delta: -7,
                    absorbed: false,
                }],
            },
            flags: vec![Flag::CountVariance {
                key,
                expected: 9,
                server_at_time: 10,
            }],
            position: Some(1),
        }],
        next_seq: 2,
        server_time: time(START_MS),
    })
    .unwrap();
    assert_eq!(r.conflicts().unwrap().len(), 1);
    assert_eq!(on_hand(&r, bolt(), a01()), 3);
}

#[test]
fn the_journal_survives_reopen() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    for q in 1..=4 {
        r.record(&action(
            "BOLT-10",
            Op::Receive {
                to: "B-01".into(),
                qty: q,
            },
        ))
        .unwrap();
    }
    let journal = r.journal(&JournalFilter::default()).unwrap();
    let stock = r.stock(&StockQuery::default()).unwrap();
    drop(r);
    let r = Replica::open(&path).unwrap();
    assert_eq!(r.journal(&JournalFilter::default()).unwrap(), journal);
    assert_eq!(r.stock(&StockQuery::default()).unwrap(), stock);
    assert_eq!(r.pending().unwrap().len(), 4);
    assert_eq!(r.device().unwrap().unwrap().user, user());
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
fn a_held_shipment_is_absorbed_by_a_later_count_of_its_bin() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let ship = r
        .record(&action(
            "BOLT-10",
            Op::Ship {
                from: "A-01".into(),
                qty: 15,
            },
        ))
        .unwrap();
    assert_eq!(ship.projected, "held");
    // The count saw the bin after the shipment: it includes it, so the held shipment is
    // absorbed on retry and the bin shows what was counted.
    let count = r
        .record(&action(
            "BOLT-10",
            Op::Count {
                at: "A-01".into(),
                counted: 0,
                expected: None,
            },
        ))
        .unwrap();
    assert_eq!(count.projected, "applied");
    assert_eq!(on_hand(&r, bolt(), a01()), 0);
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

#[test]
fn old_ledger_effects_are_pruned_once_no_entry_needs_them() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    let key = StockKey {
        product: bolt(),
        location: a01(),
        lot: None,
    };
    let effect = |ms: u64| {
        let id = logiflow_core::MovementId::new_v7(ms, [3; 10]);
        LedgerEffect {
            movement: id,
            key,
            order: OrderKey { at: time(ms), id },
            delta: 1,
        }
    };
    let day = logiflow_replica::LEDGER_KEEP_MS as u64;
    // With nothing pending, effects older than the keep window go at once.
    let pulled = r
        .apply_pull(&PullPage {
            effects: vec![effect(START_MS - 2 * day), effect(START_MS - 1_000)],
            server_time: time(START_MS),
            ..empty_page()
        })
        .unwrap();
    assert_eq!((pulled.effects, pulled.pruned), (2, 1));
    // A pending entry from long ago keeps what occurred after it (the effect just
    // before it goes, although it is inside the keep window).
    let rec = r
        .record(&action(
            "BOLT-10",
            Op::Receive {
                to: "A-01".into(),
                qty: 1,
            },
        ))
        .unwrap();
    let at = rec.movement.occurred_at.timestamp_millis() as u64;
    let pulled = r
        .apply_pull(&PullPage {
            effects: vec![effect(at + 1)],
            server_time: time(at + 3 * day),
            ..empty_page()
        })
        .unwrap();
    assert_eq!((pulled.effects, pulled.pruned), (1, 1));
    let again = r
        .apply_pull(&PullPage {
            effects: vec![effect(at + 1)],
            server_time: time(at + 3 * day),
            ..empty_page()
        })
        .unwrap();
    assert_eq!(
        (again.effects, again.pruned),
        (0, 0),
        "the needed effect was kept"
    );
}

#[test]
fn the_replica_can_move_between_threads() {
    // The desktop shell keeps it in shared state behind a mutex.
    fn assert_send<T: Send>() {}
    assert_send::<Replica>();
}

#[test]
fn the_clock_offset_comes_from_live_pulls_only() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    // A snapshot file from a week ago must not move this device's clock back a week.
    let week_ms = 7 * 24 * 3_600_000;
    r.import_page(&PullPage {
        server_time: time(START_MS - week_ms),
        cursor: Cursor::new("old"),
        ..empty_page()
    })
    .unwrap();
    let status = r.status().unwrap();
    assert_eq!(status.cursor.as_deref(), Some("old"));
    assert!(status.clock_offset_ms.abs() < 10_000, "{status:?}");
    // A live pull whose server runs a minute ahead corrects the stamps by a minute.
    let rec = r
        .record(&action(
            "BOLT-10",
            Op::Receive {
                to: "A-01".into(),
                qty: 1,
            },
        ))
        .unwrap();
    let before = rec.movement.occurred_at;
    r.apply_pull(&PullPage {
        server_time: before + chrono::TimeDelta::seconds(61),
        ..empty_page()
    })
    .unwrap();
    let offset = r.status().unwrap().clock_offset_ms;
    assert!((55_000..=61_000).contains(&offset), "offset {offset}");
    let rec = r
        .record(&action(
            "BOLT-10",
            Op::Receive {
                to: "A-01".into(),
                qty: 1,
            },
        ))
        .unwrap();
    assert!(rec.movement.occurred_at >= before + chrono::TimeDelta::seconds(60));
}

#[test]
fn a_failing_migration_leaves_the_database_as_it_was() {
    let (_dir, path) = temp();
    // A table in the way makes the first migration fail half-way through its script.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("create table journal (x integer)")
        .unwrap();
    drop(conn);
    let err = Replica::open(&path).unwrap_err();
    assert_eq!(err.code(), "storage");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("pragma user_version", [], |r| r.get(0))
        .unwrap();
    let tables: i64 = conn
        .query_row(
            "select count(*) from sqlite_master where type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        (version, tables),
        (0, 1),
        "nothing of the migration remains"
    );
}

#[test]
fn two_writers_on_one_file_keep_device_seq_gap_free() {
    // The desktop app and a CLI may record on the same replica at once.
    let (_dir, path) = temp();
    drop(ready(&path));
    // The fixture's server time is a day in 2027, ahead of the real clock the writers
    // use: confirm the real clock, as a person would after the `clock_jumped` refusal.
    Replica::open_with_env(&path, Box::new(logiflow_replica::SystemEnv))
        .unwrap()
        .accept_clock()
        .unwrap();
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Real randomness: two test clocks would hand out the same id bits.
                let mut r =
                    Replica::open_with_env(&path, Box::new(logiflow_replica::SystemEnv)).unwrap();
                for _ in 0..25 {
                    r.record(&action(
                        "BOLT-10",
                        Op::Receive {
                            to: "A-02".into(),
                            qty: 1,
                        },
                    ))
                    .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let r = open(&path);
    let seqs: Vec<u64> = r
        .journal(&JournalFilter::default())
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    assert_eq!(on_hand(&r, bolt(), a02()), 50);
}
