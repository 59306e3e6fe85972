//! The replica's side of a sync: pull pages applied, push outcomes stored, the projection
//! over both, conflicts, ledger pruning and the server clock offset.

use logiflow_core::{
    AdjustReason, Cursor, Effect, Flag, Hold, LedgerEffect, MovementResult, OrderKey, Outcome,
    PullPage, PushResponse, RowState, StockKey, StockRow,
};
use logiflow_replica::{JournalFilter, Op, Search, StockQuery};

use crate::fixture::*;

use super::{code_of, empty_page, temp};

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
            purchase_orders: vec![],
            sales_orders: vec![],
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
