//! Table-driven tests of the replay rules (DESIGN §5.2–5.4). Each case name is cited in
//! the worked examples of `logiflow_core::replay`'s documentation.
//!
//! A case lists the rows as loaded (`A=10` on hand, `A=10/4` with 4 allocated,
//! `A=10@t3` last counted at t3, `A=10+2` with effects of +2 applied after the movement's
//! time) and the movement, and the expected rendering of the decision:
//! `outcome[effects] rows[new state] flags[...] wakes[...]`.

use chrono::{DateTime, TimeZone, Utc};
use logiflow_core::*;
use rstest::rstest;
use uuid::Uuid;

fn loc(name: char) -> LocationId {
    LocationId::from_uuid(Uuid::from_u128(0x1000 + name as u128))
}

fn loc_name(id: LocationId) -> char {
    char::from_u32((id.as_uuid().as_u128() - 0x1000) as u32).unwrap()
}

const PRODUCT: ProductId = ProductId::from_uuid(Uuid::from_u128(0x42));

fn key(name: char) -> StockKey {
    StockKey {
        product: PRODUCT,
        location: loc(name),
        lot: None,
    }
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

/// `t5`, or `t5+1us` for a time between whole seconds: the inverse of [`t`].
fn secs(at: DateTime<Utc>) -> String {
    let s = at.timestamp() - 1_800_000_000;
    match at.timestamp_subsec_micros() {
        0 => format!("t{s}"),
        us => format!("t{s}+{us}us"),
    }
}

/// A movement id whose order follows time, so `(at, id)` sorts like the case reads.
fn id_at(secs: i64) -> MovementId {
    MovementId::new_v7((1_800_000_000 + secs) as u64 * 1000, [0; 10])
}

fn order(secs: i64) -> OrderKey {
    OrderKey {
        at: t(secs),
        id: id_at(secs),
    }
}

/// Parses `A=10`, `A=10/4`, `A=10@t3`, `A=10+2`, `A=-3-5@t2` (on hand, allocated, last
/// count, effects after) into a row view.
fn row(spec: &str) -> RowView {
    let (name, rest) = spec.split_once('=').unwrap();
    let (rest, last_count) = match rest.split_once("@t") {
        Some((r, c)) => (r, Some(order(c.parse().unwrap()))),
        None => (rest, None),
    };
    let (rest, allocated) = match rest.split_once('/') {
        Some((r, a)) => (r, a.parse().unwrap()),
        None => (rest, 0),
    };
    // The on-hand number may itself start with '-'; effects-after follow a later sign.
    let split = rest[1..].find(['+', '-']).map(|i| i + 1);
    let (on_hand, effects_after) = match split {
        Some(i) => (rest[..i].parse().unwrap(), rest[i..].parse().unwrap()),
        None => (rest.parse().unwrap(), 0),
    };
    RowView {
        key: key(name.chars().next().unwrap()),
        row: StockRow {
            on_hand,
            allocated,
            last_count,
        },
        effects_after,
    }
}

fn q(n: i64) -> PositiveQty {
    PositiveQty::new(n).unwrap()
}

/// Parses `receive A 5 @t4`, `ship A 3 @t5`, `transfer A B 2 @t1`, `adjust A -2 damage @t1`,
/// `count A 7 expect 9 @t5`, `count A 7 @t5`.
fn movement(spec: &str) -> Movement {
    let (body, at) = spec.rsplit_once(" @t").unwrap();
    let secs: i64 = at.parse().unwrap();
    let w: Vec<&str> = body.split_whitespace().collect();
    let l = |s: &str| loc(s.chars().next().unwrap());
    let kind = match w[0] {
        "receive" => MovementKind::Receive {
            to: l(w[1]),
            qty: q(w[2].parse().unwrap()),
        },
        "ship" => MovementKind::Ship {
            from: l(w[1]),
            qty: q(w[2].parse().unwrap()),
        },
        "transfer" => MovementKind::Transfer {
            from: l(w[1]),
            to: l(w[2]),
            qty: q(w[3].parse().unwrap()),
        },
        "adjust" => MovementKind::Adjust {
            at: l(w[1]),
            delta: Delta::new(w[2].parse().unwrap()).unwrap(),
            reason: match w[3] {
                "damage" => AdjustReason::Damage,
                "loss" => AdjustReason::Loss,
                "found" => AdjustReason::Found,
                _ => AdjustReason::Correction,
            },
        },
        "count" => MovementKind::Count {
            at: l(w[1]),
            counted: Qty::new(w[2].parse().unwrap()).unwrap(),
            expected: (w.len() > 3).then(|| Qty::new(w[4].parse().unwrap()).unwrap()),
        },
        other => panic!("unknown movement {other}"),
    };
    Movement {
        id: id_at(secs),
        occurred_at: t(secs),
        product: PRODUCT,
        lot: None,
        kind,
        user: UserId::from_uuid(Uuid::from_u128(7)),
        device: None,
        reference: None,
    }
}

fn render(d: &Decision) -> String {
    let k = |key: &StockKey| loc_name(key.location);
    let mut out = match &d.outcome {
        Outcome::Applied { effects } => {
            let parts: Vec<String> = effects
                .iter()
                .map(|e| {
                    if e.absorbed {
                        format!("{}:absorbed", k(&e.key))
                    } else {
                        format!("{}:{:+}", k(&e.key), e.delta)
                    }
                })
                .collect();
            format!("applied[{}]", parts.join(","))
        }
        Outcome::Held(Hold {
            review: Some(HoldReview::ClockAhead { ahead_secs, .. }),
            ..
        }) => format!("held[clock_ahead {ahead_secs}s]"),
        Outcome::Held(h) => format!(
            "held[{} needs {} has {}]",
            k(&h.waiting_on),
            h.needed,
            h.at_time
        ),
        Outcome::Rejected(r) => format!("rejected[{}]", r.code.as_str()),
        other => other.name().to_string(),
    };
    if !d.updates.is_empty() {
        let rows: Vec<String> = d
            .updates
            .iter()
            .map(|u| format!("{}={}", k(&u.key), u.row.on_hand))
            .collect();
        out += &format!(" rows[{}]", rows.join(","));
    }
    if !d.flags.is_empty() {
        let flags: Vec<String> = d
            .flags
            .iter()
            .map(|f| match f {
                Flag::NegativeRow { key, on_hand } => format!("negative({}={on_hand})", k(key)),
                Flag::CountVariance {
                    key,
                    expected,
                    server_at_time,
                } => format!(
                    "variance({} expected {expected} server {server_at_time})",
                    k(key)
                ),
                Flag::Forced => "forced".to_owned(),
                Flag::DatedBeforeDevice { .. } => "before_device".to_owned(),
                Flag::DatedLongAgo {
                    age_days,
                    limit_days,
                } => format!("long_ago({age_days}d>{limit_days}d)"),
                Flag::Redated {
                    recorded_at,
                    applied_at,
                } => format!("redated({}->{})", secs(*recorded_at), secs(*applied_at)),
                other => format!("{other:?}"),
            })
            .collect();
        out += &format!(" flags[{}]", flags.join(","));
    }
    if !d.wakes.is_empty() {
        let wakes: Vec<String> = d.wakes.iter().map(|w| k(w).to_string()).collect();
        out += &format!(" wakes[{}]", wakes.join(","));
    }
    out
}

#[rstest]
// Inbound always applies and wakes the row's held movements.
#[case::receive_applies("journal", &["A=10"], "receive A 5 @t4", "applied[A:+5] rows[A=15] wakes[A]")]
#[case::online_receive_applies("online", &["A=0"], "receive A 5 @t4", "applied[A:+5] rows[A=5] wakes[A]")]
// Online outbound: available = on hand − allocated, else insufficient_stock.
#[case::online_ship_within_available("online", &["A=10/4"], "ship A 6 @t4", "applied[A:-6] rows[A=4]")]
#[case::online_ship_beyond_available("online", &["A=10/4"], "ship A 7 @t4", "rejected[insufficient_stock]")]
#[case::online_ship_from_negative_row("online", &["A=-2"], "ship A 1 @t4", "rejected[insufficient_stock]")]
#[case::online_transfer_short("online", &["A=1", "B=0"], "transfer A B 2 @t4", "rejected[insufficient_stock]")]
#[case::online_negative_adjust_short("online", &["A=1"], "adjust A -2 damage @t4", "rejected[insufficient_stock]")]
// Journal outbound is a fact: held when short at its own time, never rejected for stock.
#[case::journal_ship_held("journal", &["A=0"], "ship A 3 @t5", "held[A needs 3 has 0]")]
#[case::journal_ship_ignores_allocation("journal", &["A=5/5"], "ship A 3 @t5", "applied[A:-3] rows[A=2]")]
#[case::journal_ship_checks_time_not_now("journal", &["A=0-5"], "ship A 5 @t1", "applied[A:-5] rows[A=-5] flags[negative(A=-5)]")]
#[case::journal_ship_short_at_time("journal", &["A=10+8"], "ship A 3 @t1", "held[A needs 3 has 2]")]
#[case::journal_transfer_applies_both("journal", &["A=4", "B=1"], "transfer A B 4 @t3", "applied[A:-4,B:+4] rows[A=0,B=5] wakes[B]")]
#[case::journal_transfer_held_on_source("journal", &["A=3", "B=1"], "transfer A B 4 @t3", "held[A needs 4 has 3]")]
// Counts: adjustment n − q_t with q_t = on hand − effects after t.
#[case::count_on_fresh_row("journal", &["A=0"], "count A 7 @t5", "applied[A:+7] rows[A=7] wakes[A]")]
#[case::count_subtracts_later_effects("journal", &["A=8-2"], "count A 7 @t5", "applied[A:-3] rows[A=5] wakes[A]")]
#[case::count_matching_changes_nothing("journal", &["A=9"], "count A 9 expect 9 @t5", "applied[A:+0] rows[A=9] wakes[A]")]
#[case::count_variance_flagged("journal", &["A=9"], "count A 6 expect 8 @t5", "applied[A:-3] rows[A=6] flags[variance(A expected 8 server 9)] wakes[A]")]
#[case::count_may_leave_row_negative("journal", &["A=0-10"], "count A 0 @t2", "applied[A:-10] rows[A=-10] flags[negative(A=-10)] wakes[A]")]
#[case::older_count_superseded("journal", &["A=5@t6"], "count A 1 @t5", "superseded")]
#[case::newer_count_replaces("journal", &["A=5@t3"], "count A 1 @t5", "applied[A:-4] rows[A=1] wakes[A]")]
#[case::online_count_applies("online", &["A=5/2"], "count A 3 @t9", "applied[A:-2] rows[A=3] wakes[A]")]
// Absorption: a journal movement that occurred before the row's latest count.
#[case::late_receipt_absorbed("journal", &["A=7@t5"], "receive A 4 @t2", "absorbed")]
#[case::late_ship_absorbed("journal", &["A=0@t5"], "ship A 4 @t2", "absorbed")]
#[case::movement_after_count_applies("journal", &["A=7@t5"], "receive A 4 @t6", "applied[A:+4] rows[A=11] wakes[A]")]
#[case::transfer_absorbed_on_one_side("journal", &["A=0@t5", "B=2"], "transfer A B 3 @t2", "applied[A:absorbed,B:+3] rows[B=5] wakes[B]")]
#[case::transfer_absorbed_on_destination("journal", &["A=3", "B=2@t5"], "transfer A B 3 @t2", "applied[A:-3,B:absorbed] rows[A=0]")]
#[case::transfer_absorbed_on_both("journal", &["A=0@t5", "B=2@t6"], "transfer A B 3 @t2", "absorbed")]
#[case::online_before_count_refused("online", &["A=9@t5"], "receive A 1 @t4", "rejected[before_latest_count]")]
#[case::online_count_before_count_refused("online", &["A=9@t5"], "count A 1 @t4", "rejected[before_latest_count]")]
// Adjustments carry their sign.
#[case::adjust_found_applies("journal", &["A=1"], "adjust A 2 found @t3", "applied[A:+2] rows[A=3] wakes[A]")]
#[case::journal_adjust_loss_held("journal", &["A=1"], "adjust A -2 loss @t3", "held[A needs 2 has 1]")]
fn rules_table(
    #[case] origin: &str,
    #[case] rows: &[&str],
    #[case] m: &str,
    #[case] expected: &str,
) {
    let origin = match origin {
        "online" => Origin::Online,
        _ => Origin::Journal,
    };
    let views: Vec<RowView> = rows.iter().map(|r| row(r)).collect();
    let decision = decide(&movement(m), origin, &views).unwrap();
    assert_eq!(render(&decision), expected, "movement: {m}, rows: {rows:?}");
}

#[test]
fn forcing_a_held_ship_applies_it_and_flags_it() {
    let m = movement("ship A 3 @t5");
    let views = [row("A=1")];
    assert_eq!(
        render(&decide(&m, Origin::Journal, &views).unwrap()),
        "held[A needs 3 has 1]"
    );
    assert_eq!(
        render(&force(&m, &views).unwrap()),
        "applied[A:-3] rows[A=-2] flags[negative(A=-2),forced]"
    );
    // A count after it still absorbs it: the count saw the shelf after the shipment.
    assert_eq!(
        render(&force(&m, &[row("A=0@t6")]).unwrap()),
        "absorbed flags[forced]"
    );
}

#[test]
fn a_row_not_loaded_is_a_caller_error() {
    let err = decide(
        &movement("transfer A B 1 @t1"),
        Origin::Journal,
        &[row("A=5")],
    )
    .unwrap_err();
    assert_eq!(err, DecideError::MissingRow(key('B')));
}

#[test]
fn sides_and_keys_come_in_lock_order() {
    let m = movement("transfer B A 1 @t1");
    assert_eq!(m.keys(), vec![key('A'), key('B')]);
    let deltas: Vec<i64> = m.sides().iter().map(|s| s.delta).collect();
    assert_eq!(deltas, vec![1, -1]);
}

#[test]
fn overflowing_quantities_are_rejected_not_wrapped() {
    let views = [RowView {
        key: key('A'),
        row: StockRow {
            on_hand: i64::MAX - 1,
            ..StockRow::default()
        },
        effects_after: 0,
    }];
    let d = decide(&movement("receive A 5 @t1"), Origin::Journal, &views).unwrap();
    assert_eq!(render(&d), "rejected[quantity_overflow]");
}

#[test]
fn rows_stay_within_the_quantity_range() {
    let at = |on_hand| {
        [RowView {
            key: key('A'),
            row: StockRow {
                on_hand,
                ..StockRow::default()
            },
            effects_after: 0,
        }]
    };
    let receive = movement("receive A 5 @t1");
    let d = decide(&receive, Origin::Online, &at(QTY_MAX - 5)).unwrap();
    assert_eq!(d.updates[0].row.on_hand, QTY_MAX, "up to the bound is fine");
    let d = decide(&receive, Origin::Online, &at(QTY_MAX - 4)).unwrap();
    assert_eq!(render(&d), "rejected[quantity_overflow]");
}

#[test]
fn retry_order_is_oldest_first_among_those_waiting_on_the_row() {
    let h = |secs, name| HeldRef {
        id: id_at(secs),
        order: order(secs),
        waiting_on: key(name),
    };
    let held = [h(9, 'A'), h(2, 'B'), h(4, 'A'), h(1, 'A')];
    assert_eq!(
        retry_order(&held, &key('A')),
        vec![id_at(1), id_at(4), id_at(9)]
    );
    assert!(retry_order(&held, &key('C')).is_empty());
}

#[test]
fn equal_timestamps_are_ordered_by_id() {
    let a = MovementId::from_uuid(Uuid::from_u128(1));
    let b = MovementId::from_uuid(Uuid::from_u128(2));
    let early = OrderKey { at: t(5), id: a };
    let late = OrderKey { at: t(5), id: b };
    assert!(early < late);
    // A count at the same instant as a receipt, but with the larger id, comes after it.
    let mut receipt = movement("receive A 4 @t5");
    receipt.id = a;
    let views = [RowView {
        key: key('A'),
        row: StockRow {
            on_hand: 4,
            allocated: 0,
            last_count: Some(late),
        },
        effects_after: 0,
    }];
    assert_eq!(
        render(&decide(&receipt, Origin::Journal, &views).unwrap()),
        "absorbed"
    );
}

mod validation {
    use super::*;
    use chrono::NaiveDate;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Cat {
        products: HashMap<ProductId, ProductFacts>,
        lots: HashMap<LotId, LotFacts>,
        locations: HashMap<LocationId, LocationFacts>,
        lines: HashMap<LineRef, OrderLineFacts>,
    }

    impl Catalog for Cat {
        fn product(&self, id: ProductId) -> Option<ProductFacts> {
            self.products.get(&id).copied()
        }
        fn lot(&self, id: LotId) -> Option<LotFacts> {
            self.lots.get(&id).copied()
        }
        fn location(&self, id: LocationId) -> Option<LocationFacts> {
            self.locations.get(&id).copied()
        }
        fn order_line(&self, line: LineRef) -> Option<OrderLineFacts> {
            self.lines.get(&line).copied()
        }
    }

    const PO_LINE: LineRef = LineRef::PurchaseLine(Uuid::from_u128(0x70));
    const PO_LINE_OTHER_PRODUCT: LineRef = LineRef::PurchaseLine(Uuid::from_u128(0x71));
    const SO_LINE: LineRef = LineRef::SalesLine(Uuid::from_u128(0x72));

    /// An order line a movement names (rule: a receipt names a purchase line of its
    /// product, a pick a sales line of its product). Online, anything else is refused;
    /// a journal fact is applied and flagged, and counts toward no line.
    #[rstest]
    #[case::receipt_against_its_purchase_line("receive A 1 @t1", PO_LINE, "ok", "ok")]
    #[case::pick_against_its_sales_line("ship A 1 @t1", SO_LINE, "ok", "ok")]
    #[case::unknown_line(
        "receive A 1 @t1",
        LineRef::PurchaseLine(Uuid::from_u128(0x7f)),
        "unknown_order_line",
        "ok [UnknownOrderLine { line: 00000000-0000-0000-0000-00000000007f }]"
    )]
    #[case::line_of_another_product(
        "receive A 1 @t1",
        PO_LINE_OTHER_PRODUCT,
        "order_line_mismatch",
        "ok [OrderLineMismatch { line: 00000000-0000-0000-0000-000000000071 }]"
    )]
    #[case::receipt_against_a_sales_line(
        "receive A 1 @t1",
        SO_LINE,
        "order_line_mismatch",
        "ok [OrderLineMismatch { line: 00000000-0000-0000-0000-000000000072 }]"
    )]
    #[case::transfer_against_a_line(
        "transfer A B 1 @t1",
        PO_LINE,
        "order_line_mismatch",
        "ok [OrderLineMismatch { line: 00000000-0000-0000-0000-000000000070 }]"
    )]
    fn order_line_references(
        #[case] spec: &str,
        #[case] line: LineRef,
        #[case] online: &str,
        #[case] journal: &str,
    ) {
        let mut cat = catalog(false);
        cat.lines
            .insert(PO_LINE, OrderLineFacts { product: PRODUCT });
        cat.lines
            .insert(SO_LINE, OrderLineFacts { product: PRODUCT });
        cat.lines.insert(
            PO_LINE_OTHER_PRODUCT,
            OrderLineFacts {
                product: ProductId::from_uuid(Uuid::from_u128(0x43)),
            },
        );
        let mut m = movement(spec);
        m.reference = Some(line);
        assert_eq!(check(&cat, &m, Origin::Online), online);
        assert_eq!(check(&cat, &m, Origin::Journal), journal);
    }

    const LOT: LotId = LotId::from_uuid(Uuid::from_u128(0x10));
    const OTHER_LOT: LotId = LotId::from_uuid(Uuid::from_u128(0x11));
    const WH: WarehouseId = WarehouseId::from_uuid(Uuid::from_u128(0x99));

    fn catalog(lot_tracked: bool) -> Cat {
        let mut c = Cat::default();
        c.products.insert(
            PRODUCT,
            ProductFacts {
                active: true,
                lot_tracked,
            },
        );
        c.lots.insert(
            LOT,
            LotFacts {
                product: PRODUCT,
                expires_on: NaiveDate::from_ymd_opt(2027, 1, 31),
            },
        );
        c.lots.insert(
            OTHER_LOT,
            LotFacts {
                product: ProductId::from_uuid(Uuid::from_u128(0x43)),
                expires_on: None,
            },
        );
        for (name, leaf) in [('A', true), ('B', true), ('Z', false)] {
            c.locations.insert(
                loc(name),
                LocationFacts {
                    warehouse: WH,
                    active: true,
                    is_leaf: leaf,
                },
            );
        }
        c
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 2, d).unwrap()
    }

    fn check(cat: &Cat, m: &Movement, origin: Origin) -> String {
        match validate(m, origin, cat, day(1)) {
            Ok(flags) if flags.is_empty() => "ok".into(),
            Ok(flags) => format!("ok {flags:?}"),
            Err(r) => r.code.as_str().into(),
        }
    }

    fn with_lot(mut m: Movement, lot: LotId) -> Movement {
        m.lot = Some(lot);
        m
    }

    #[test]
    fn structural_errors_reject_facts_and_intents_alike() {
        let plain = catalog(false);
        let tracked = catalog(true);
        for origin in [Origin::Online, Origin::Journal] {
            assert_eq!(check(&plain, &movement("receive A 1 @t1"), origin), "ok");
            assert_eq!(
                check(&Cat::default(), &movement("receive A 1 @t1"), origin),
                "unknown_product"
            );
            assert_eq!(
                check(&plain, &movement("receive C 1 @t1"), origin),
                "unknown_location"
            );
            assert_eq!(
                check(&plain, &movement("receive Z 1 @t1"), origin),
                "location_not_leaf"
            );
            assert_eq!(
                check(&plain, &movement("transfer A A 1 @t1"), origin),
                "same_location"
            );
            assert_eq!(
                check(&plain, &movement("adjust A 2 damage @t1"), origin),
                "reason_sign_mismatch"
            );
            assert_eq!(
                check(&plain, &movement("adjust A -2 found @t1"), origin),
                "reason_sign_mismatch"
            );
            assert_eq!(
                check(&plain, &movement("adjust A -2 correction @t1"), origin),
                "ok"
            );
            assert_eq!(
                check(&tracked, &movement("receive A 1 @t1"), origin),
                "lot_required"
            );
            assert_eq!(
                check(&plain, &with_lot(movement("receive A 1 @t1"), LOT), origin),
                "lot_not_tracked"
            );
            assert_eq!(
                check(
                    &tracked,
                    &with_lot(
                        movement("receive A 1 @t1"),
                        LotId::from_uuid(Uuid::from_u128(5))
                    ),
                    origin
                ),
                "unknown_lot"
            );
            assert_eq!(
                check(
                    &tracked,
                    &with_lot(movement("receive A 1 @t1"), OTHER_LOT),
                    origin
                ),
                "lot_of_other_product"
            );
        }
    }

    #[test]
    fn expired_or_inactive_refuse_intents_but_only_flag_facts() {
        let tracked = catalog(true);
        let ship = with_lot(movement("ship A 1 @t1"), LOT);
        assert_eq!(check(&tracked, &ship, Origin::Online), "lot_expired");
        assert_eq!(
            check(&tracked, &ship, Origin::Journal),
            format!("ok {:?}", [Flag::ExpiredLotMoved { lot: LOT }])
        );
        // Moving it to quarantine and writing it off are not refused either.
        for other in ["transfer A B 1 @t1", "adjust A -1 damage @t1"] {
            assert_eq!(
                check(&tracked, &with_lot(movement(other), LOT), Origin::Online),
                "ok",
                "{other}"
            );
        }
        // Receiving an expired lot (a return, say) is not refused.
        assert_eq!(
            check(
                &tracked,
                &with_lot(movement("receive A 1 @t1"), LOT),
                Origin::Online
            ),
            "ok"
        );
        // On its last day the lot is still good.
        assert!(
            validate(
                &ship,
                Origin::Online,
                &tracked,
                NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()
            )
            .is_ok()
        );

        let mut inactive = catalog(false);
        inactive.products.get_mut(&PRODUCT).unwrap().active = false;
        inactive.locations.get_mut(&loc('A')).unwrap().active = false;
        assert_eq!(
            check(&inactive, &movement("receive A 1 @t1"), Origin::Online),
            "inactive_product"
        );
        assert_eq!(
            check(&inactive, &movement("receive A 1 @t1"), Origin::Journal),
            format!(
                "ok {:?}",
                [
                    Flag::InactiveProduct,
                    Flag::InactiveLocation { location: loc('A') }
                ]
            )
        );
    }

    #[test]
    fn judge_turns_a_rejection_into_the_outcome_and_keeps_flags_otherwise() {
        let tracked = catalog(true);
        let ship = with_lot(movement("ship A 1 @t1"), LOT);
        let lot_key = StockKey {
            lot: Some(LOT),
            ..key('A')
        };
        let views = [RowView {
            key: lot_key,
            row: StockRow {
                on_hand: 3,
                ..StockRow::default()
            },
            effects_after: 0,
        }];
        let online = judge(&ship, Origin::Online, &tracked, day(1), &views).unwrap();
        assert_eq!(online.outcome.name(), "rejected");
        assert!(online.updates.is_empty());
        let fact = judge(&ship, Origin::Journal, &tracked, day(1), &views).unwrap();
        assert_eq!(fact.outcome.name(), "applied");
        assert_eq!(fact.flags, vec![Flag::ExpiredLotMoved { lot: LOT }]);
        assert_eq!(fact.updates[0].row.on_hand, 2);
    }
}

/// The server's bound on a device's clock ([`logiflow_core::clock`]). Every movement of
/// the table is received at t0, with a tolerance of 300 s, a past limit of 30 days, by a
/// device registered at t-86400 (one day before). Rows as in `rules_table`.
mod clock {
    use super::*;
    use chrono::TimeDelta;

    fn receipt(at: i64) -> Receipt {
        Receipt {
            received_at: t(at),
            ahead_tolerance: TimeDelta::seconds(300),
            past_limit: Some(TimeDelta::days(30)),
            device_registered_at: Some(t(-86_400)),
        }
    }

    fn engine(rows: &[&str]) -> Engine {
        let mut engine = Engine::new();
        for r in rows {
            let v = row(r);
            engine.set_row(v.key, v.row);
        }
        engine
    }

    #[rstest]
    #[case::count_three_days_ahead_held(&["A=10"], "count A 10 @t259200", "held[clock_ahead 259200s]")]
    #[case::ship_ahead_held_not_for_stock(&["A=0"], "ship A 3 @t3600", "held[clock_ahead 3600s]")]
    #[case::just_beyond_tolerance_held(&["A=10"], "receive A 7 @t301", "held[clock_ahead 301s]")]
    #[case::within_tolerance_applies(&["A=10"], "receive A 7 @t240", "applied[A:+7] rows[A=17] wakes[A]")]
    #[case::before_device_flagged(&["A=10"], "receive A 7 @t-90000", "applied[A:+7] rows[A=17] flags[before_device] wakes[A]")]
    #[case::just_before_device_is_plain(&["A=10"], "receive A 7 @t-86600", "applied[A:+7] rows[A=17] wakes[A]")]
    #[case::long_ago_flagged(&["A=10"], "receive A 7 @t-2678400", "applied[A:+7] rows[A=17] flags[before_device,long_ago(31d>30d)] wakes[A]")]
    #[case::behind_but_recent_is_plain(&["A=10@t-7200"], "receive A 7 @t-3600", "applied[A:+7] rows[A=17] wakes[A]")]
    fn clock_table(#[case] rows: &[&str], #[case] m: &str, #[case] expected: &str) {
        let mut engine = engine(rows);
        let out = engine.submit_bounded(&movement(m), &receipt(0)).unwrap();
        assert_eq!(render(&out[0].1), expected, "movement: {m}, rows: {rows:?}");
        // A hold for a person is never kept for the automatic retry.
        if out[0].1.outcome.name() == "held" {
            assert_eq!(engine.held().count(), 0);
            assert_eq!(engine.row(&key('A')), row(rows[0]).row, "nothing changed");
        }
    }

    /// The four steps: a count from a device 3 days ahead absorbs nothing and
    /// blocks nothing; forcing it applies it at its receipt time; voiding (not submitting
    /// it) leaves the rest as it is.
    #[test]
    fn forcing_clock_ahead_applies_at_receipt() {
        let mut engine = Engine::new();
        // 1. An online receipt of 10 at t0.
        engine
            .submit(&movement("receive A 10 @t0"), Origin::Online)
            .unwrap();
        // 2. Device A, 3 days ahead, counts 10; received at t30.
        let count = movement("count A 10 @t259230");
        let out = engine.submit_bounded(&count, &receipt(30)).unwrap();
        assert_eq!(render(&out[0].1), "held[clock_ahead 259200s]");
        let Outcome::Held(hold) = out[0].1.outcome else {
            unreachable!()
        };
        // 3. Device B, right clock, a receipt of 7 dated t60 (received at t40).
        let out = engine
            .submit_bounded(&movement("receive A 7 @t60"), &receipt(40))
            .unwrap();
        assert_eq!(render(&out[0].1), "applied[A:+7] rows[A=17] wakes[A]");
        // 4. An online receipt of 5 at t50.
        let out = engine
            .submit(&movement("receive A 5 @t50"), Origin::Online)
            .unwrap();
        assert_eq!(render(&out[0].1), "applied[A:+5] rows[A=22] wakes[A]");
        // Force: the count takes effect at t30, when the server received it. At t30 the
        // row held 10 (the receipts at t50 and t60 came after): it applies +0 and the
        // later receipts stay.
        let forced = forced_movement(&count, Some(&hold));
        assert_eq!(secs(forced.occurred_at), "t30");
        assert_eq!(forced.id, count.id);
        let d = force_held(&count, Some(&hold), &engine.views(&forced)).unwrap();
        assert_eq!(
            render(&d),
            "applied[A:+0] rows[A=22] flags[forced,redated(t259230->t30)] wakes[A]"
        );
        // A hold for stock is forced at its own date, without a `redated` flag.
        let ship = movement("ship A 30 @t70");
        let stock_hold = Hold {
            waiting_on: key('A'),
            needed: 30,
            at_time: 22,
            review: None,
        };
        assert_eq!(forced_movement(&ship, Some(&stock_hold)), ship);
        assert_eq!(
            render(&force_held(&ship, Some(&stock_hold), &engine.views(&ship)).unwrap()),
            "applied[A:-30] rows[A=-8] flags[negative(A=-8),forced]"
        );
    }

    /// An online intent is dated just after the latest event on its rows when that event
    /// lies at or after the intent's own time (the server's now); else it keeps its time.
    #[rstest]
    #[case::online_after_future_count(&["A=9@t5"], "receive A 1 @t4", "t5+1us", "applied[A:+1] rows[A=10] wakes[A]")]
    #[case::online_count_after_future_count(&["A=9@t5"], "count A 1 @t4", "t5+1us", "applied[A:-8] rows[A=1] wakes[A]")]
    #[case::online_transfer_after_future_count_on_one_side(&["A=9", "B=0@t5"], "transfer A B 2 @t4", "t5+1us", "applied[A:-2,B:+2] rows[A=7,B=2] wakes[B]")]
    #[case::online_after_past_count_keeps_its_time(&["A=9@t3"], "receive A 1 @t4", "t4", "applied[A:+1] rows[A=10] wakes[A]")]
    fn online_dating(
        #[case] rows: &[&str],
        #[case] m: &str,
        #[case] at: &str,
        #[case] expected: &str,
    ) {
        let mut engine = engine(rows);
        let m = movement(m);
        let dated = online_time(&m, engine.latest_event(&m));
        assert_eq!(secs(dated.occurred_at), at);
        let out = engine.submit(&dated, Origin::Online).unwrap();
        assert_eq!(render(&out[0].1), expected);
    }

    /// An applied effect dated in the server's future (a journal movement within the
    /// tolerance) counts as an event too: an online count after it sees it.
    #[test]
    fn online_count_is_dated_after_a_future_effect() {
        let mut engine = Engine::new();
        engine
            .submit(&movement("receive A 5 @t0"), Origin::Online)
            .unwrap();
        let out = engine
            .submit_bounded(&movement("receive A 7 @t200"), &receipt(0))
            .unwrap();
        assert_eq!(out[0].1.outcome.name(), "applied");
        // The server's now is t10: the count of 12 (what the bin holds) is dated t200+1us
        // and changes nothing, instead of subtracting the receipt as if it came later.
        let count = movement("count A 12 @t10");
        let dated = online_time(&count, engine.latest_event(&count));
        assert_eq!(secs(dated.occurred_at), "t200+1us");
        let out = engine.submit(&dated, Origin::Online).unwrap();
        assert_eq!(render(&out[0].1), "applied[A:+0] rows[A=12] wakes[A]");
    }
}
