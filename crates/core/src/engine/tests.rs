//! The engine's unit tests: held movements released by rises, partial ledgers and
//! validated submissions.

use super::*;
use crate::{LocationId, PositiveQty, ProductId, UserId};
use chrono::{TimeZone, Utc};
use uuid::Uuid;

fn key() -> StockKey {
    StockKey {
        product: ProductId::from_uuid(Uuid::from_u128(1)),
        location: LocationId::from_uuid(Uuid::from_u128(2)),
        lot: None,
    }
}

fn at(secs: i64, kind: MovementKind) -> Movement {
    Movement {
        id: MovementId::new_v7(secs as u64 * 1000, [0; 10]),
        occurred_at: Utc.timestamp_opt(secs, 0).unwrap(),
        product: key().product,
        lot: None,
        kind,
        user: UserId::from_uuid(Uuid::from_u128(3)),
        device: None,
        reference: None,
    }
}

fn ship(secs: i64, q: i64) -> Movement {
    at(
        secs,
        MovementKind::Ship {
            from: key().location,
            qty: PositiveQty::new(q).unwrap(),
        },
    )
}

/// The key's product and bin, with the product active or not; nothing else exists.
struct OneBin {
    product_active: bool,
}

impl Catalog for OneBin {
    fn product(&self, id: ProductId) -> Option<crate::ProductFacts> {
        (id == key().product).then_some(crate::ProductFacts {
            active: self.product_active,
            lot_tracked: false,
        })
    }
    fn lot(&self, _: crate::LotId) -> Option<crate::LotFacts> {
        None
    }
    fn order_line(&self, _: crate::LineRef) -> Option<crate::OrderLineFacts> {
        None
    }
    fn location(&self, id: LocationId) -> Option<crate::LocationFacts> {
        (id == key().location).then_some(crate::LocationFacts {
            warehouse: crate::WarehouseId::from_uuid(Uuid::from_u128(4)),
            active: true,
            is_leaf: true,
        })
    }
}

#[test]
fn a_validated_submission_rejects_what_the_catalog_refuses_and_flags_what_it_warns_of() {
    let day = Utc.timestamp_opt(0, 0).unwrap().date_naive();
    let receipt = at(
        10,
        MovementKind::Receive {
            to: key().location,
            qty: PositiveQty::new(5).unwrap(),
        },
    );
    // Unknown bin: rejected, nothing changes.
    let mut engine = Engine::new();
    let elsewhere = Movement {
        kind: MovementKind::Receive {
            to: LocationId::from_uuid(Uuid::from_u128(9)),
            qty: PositiveQty::new(5).unwrap(),
        },
        ..receipt
    };
    let out = engine
        .submit_validated(
            &elsewhere,
            Origin::Journal,
            &OneBin {
                product_active: true,
            },
            day,
        )
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1.outcome.name(), "rejected");
    assert!(engine.rows().is_empty());
    // A deactivated product: an online intent is refused, a journal fact is applied
    // and flagged for review.
    let inactive = OneBin {
        product_active: false,
    };
    let out = engine
        .submit_validated(&receipt, Origin::Online, &inactive, day)
        .unwrap();
    assert_eq!(out[0].1.outcome.name(), "rejected");
    assert_eq!(engine.row(&key()).on_hand, 0);
    let out = engine
        .submit_validated(&receipt, Origin::Journal, &inactive, day)
        .unwrap();
    assert_eq!(out[0].1.outcome.name(), "applied");
    assert!(!out[0].1.flags.is_empty(), "{:?}", out[0].1);
    assert_eq!(engine.row(&key()).on_hand, 5);
}

#[test]
fn effects_decided_elsewhere_release_held_movements_loaded_from_storage() {
    let mut engine = Engine::new();
    let held = ship(50, 4);
    engine.add_held(held, key());
    // The server applied a receipt at t10 that this engine did not decide itself.
    let receipt = at(
        10,
        MovementKind::Receive {
            to: key().location,
            qty: PositiveQty::new(6).unwrap(),
        },
    );
    let effects = [Effect {
        key: key(),
        delta: 6,
        absorbed: false,
    }];
    let released = engine.apply_effects(&receipt, &effects).unwrap();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].0.id, held.id);
    assert_eq!(released[0].1.outcome.name(), "applied");
    assert_eq!(engine.row(&key()).on_hand, 2);
    assert_eq!(engine.ledger_sum(&key()), 2);
    assert!(engine.held().next().is_none());
}

#[test]
fn a_retry_after_a_row_rose_elsewhere_releases_what_now_fits_oldest_first() {
    // Storage: the row now holds 5 (a receipt stored by someone else); two ships wait.
    let mut engine = Engine::new();
    engine.set_row(
        key(),
        StockRow {
            on_hand: 5,
            ..StockRow::default()
        },
    );
    engine.add_held(ship(40, 4), key());
    engine.add_held(ship(30, 3), key());
    let released = engine.retry(&[key()]).unwrap();
    let outcomes: Vec<(i64, &str)> = released
        .iter()
        .map(|(m, d)| (m.occurred_at.timestamp(), d.outcome.name().as_str()))
        .collect();
    assert_eq!(outcomes, [(30, "applied"), (40, "held")]);
    assert_eq!(engine.row(&key()).on_hand, 2);
    assert_eq!(engine.held().count(), 1);
    // Nothing waits on another row.
    let other = StockKey {
        location: LocationId::from_uuid(Uuid::from_u128(9)),
        ..key()
    };
    assert!(engine.retry(&[other]).unwrap().is_empty());
}

fn receipt(secs: i64, q: i64) -> Movement {
    at(
        secs,
        MovementKind::Receive {
            to: key().location,
            qty: PositiveQty::new(q).unwrap(),
        },
    )
}

#[test]
fn a_rise_retries_only_what_it_can_wake_not_everything_held() {
    // 10,000 ships of 1 wait on an empty bin, from t1000 on.
    let mut engine = Engine::new();
    for i in 0..10_000 {
        let s = ship(1_000 + i, 1);
        let out = engine.submit(&s, Origin::Journal).unwrap();
        assert_eq!(out[0].1.outcome.name(), "held");
    }
    // A receipt of 3 at t10 (it physically came first) wakes exactly the three oldest:
    // the fourth is not even decided again.
    let out = engine.submit(&receipt(10, 3), Origin::Journal).unwrap();
    let decided: Vec<(i64, &str)> = out
        .iter()
        .map(|(m, d)| (m.occurred_at.timestamp(), d.outcome.name().as_str()))
        .collect();
    assert_eq!(
        decided,
        [
            (10, "applied"),
            (1_000, "applied"),
            (1_001, "applied"),
            (1_002, "applied")
        ]
    );
    assert_eq!(engine.held().count(), 9_997);
    assert_eq!(engine.row(&key()).on_hand, 0);
    // It looked from the receipt's time on, and stopped before the end.
    let demand = engine.held_demand()[&key()];
    assert_eq!(demand.from, Some(receipt(10, 3).order_key()));
    assert!(!demand.open_end);
    // A receipt after every held ship wakes none of them.
    let out = engine.submit(&receipt(20_000, 5), Origin::Journal).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(engine.held().count(), 9_997);
}

#[test]
fn a_retry_that_runs_out_of_loaded_held_movements_asks_for_more() {
    // The caller loaded two of the held ships; a receipt of 5 wakes both and could
    // wake more: the engine says it needs the held movements after them.
    let mut engine = Engine::new();
    engine.add_held(ship(30, 1), key());
    engine.add_held(ship(40, 1), key());
    let out = engine.submit(&receipt(10, 5), Origin::Journal).unwrap();
    assert_eq!(out.len(), 3);
    assert!(engine.held_demand()[&key()].open_end);
    // A count wakes every held movement before it, whatever it adjusts.
    let mut engine = Engine::new();
    engine.add_held(ship(30, 1), key());
    engine.add_held(ship(40, 7), key());
    engine.add_held(ship(60, 1), key());
    let count = at(
        50,
        MovementKind::Count {
            at: key().location,
            counted: crate::Qty::new(0).unwrap(),
            expected: None,
        },
    );
    let out = engine.submit(&count, Origin::Journal).unwrap();
    let names: Vec<&str> = out.iter().map(|(_, d)| d.outcome.name().as_str()).collect();
    assert_eq!(names, ["applied", "absorbed", "absorbed"]);
    assert_eq!(engine.held().count(), 1);
    let demand = engine.held_demand()[&key()];
    assert_eq!(demand.from, None);
    assert!(!demand.open_end);
}

#[test]
fn a_partial_ledger_is_enough_for_effects_after() {
    // Storage loaded the row (on hand 3) and only its ledger tail after t20.
    let mut engine = Engine::new();
    engine.set_row(
        key(),
        StockRow {
            on_hand: 3,
            ..StockRow::default()
        },
    );
    let later = ship(30, 5);
    engine.book(key(), later.order_key(), -5);
    // A ship at t25 sees 3 − (−5) = 8 at its time: applied, row −5 (flagged).
    let d = engine.submit(&ship(25, 8), Origin::Journal).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].1.outcome.name(), "applied");
    assert_eq!(engine.row(&key()).on_hand, -5);
    assert_eq!(
        engine.view(key(), ship(26, 1).order_key()).effects_after,
        -5
    );
}
