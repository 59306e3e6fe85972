//! Table-driven tests of the order rules (DESIGN §5.6). Each case name is cited in the
//! worked examples of `logiflow_core::orders`' module documentation.
//!
//! Allocation cases list candidate rows as `bin:available`, optionally with `exp=day`
//! (the lot's expiry) and `in=day` (the row's first receipt); days count from day 0 and
//! today is day 10. The expected rendering is the reservations in the order chosen and
//! what is back-ordered: `A=4 B=1 back=0`.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use logiflow_core::orders::*;
use logiflow_core::{LocationId, ProductId, StockKey};
use rstest::rstest;
use uuid::Uuid;

const PRODUCT: ProductId = ProductId::from_uuid(Uuid::from_u128(0x42));

fn key(bin: char) -> StockKey {
    StockKey {
        product: PRODUCT,
        location: LocationId::from_uuid(Uuid::from_u128(0x1000 + bin as u128)),
        lot: None,
    }
}

fn bin(key: StockKey) -> char {
    char::from_u32((key.location.as_uuid().as_u128() - 0x1000) as u32).unwrap()
}

fn day(n: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 1, 1).unwrap() + Days::new(n)
}

fn at(n: u64) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day(n).and_hms_opt(8, 0, 0).unwrap())
}

/// `A:3 exp=9 in=2`; the path of bin `A` is `WH/A`.
fn candidates(spec: &str) -> Vec<Candidate> {
    spec.split(',')
        .map(|row| {
            let mut parts = row.split_whitespace();
            let (name, available) = parts.next().unwrap().split_once(':').unwrap();
            let name = name.chars().next().unwrap();
            let mut candidate = Candidate {
                key: key(name),
                available: available.parse().unwrap(),
                expires_on: None,
                received_at: None,
                location_path: format!("WH/{name}"),
            };
            for part in parts {
                let (what, n) = part.split_once('=').unwrap();
                let n: u64 = n.parse().unwrap();
                match what {
                    "exp" => candidate.expires_on = Some(day(n)),
                    "in" => candidate.received_at = Some(at(n)),
                    other => panic!("unknown attribute {other}"),
                }
            }
            candidate
        })
        .collect()
}

fn render(allocated: &Allocated) -> String {
    let mut out: Vec<String> = allocated
        .allocations
        .iter()
        .map(|a| format!("{}={}", bin(a.key), a.qty))
        .collect();
    out.push(format!("back={}", allocated.back_ordered));
    out.join(" ")
}

#[rstest]
#[case::expired_lot_skipped(5, "fefo", None, "A:3 exp=9, B:4 exp=30", "B=4 back=1")]
#[case::shelf_life_too_short_skipped(4, "fefo", Some(10), "A:3 exp=15, B:4 exp=30", "B=4 back=0")]
#[case::shelf_life_exactly_enough(4, "fefo", Some(5), "A:3 exp=15, B:4 exp=30", "A=3 B=1 back=0")]
#[case::lot_expiring_today_eligible(2, "fefo", None, "A:3 exp=10, B:4 exp=30", "A=2 back=0")]
#[case::nothing_available_skipped(3, "fifo", None, "A:0 in=1, B:-2 in=1, C:5 in=4", "C=3 back=0")]
#[case::fefo_earliest_expiry_first(5, "fefo", None, "A:4 exp=30, B:4 exp=20", "B=4 A=1 back=0")]
#[case::fefo_rows_without_expiry_last(5, "fefo", None, "A:4, B:4 exp=40", "B=4 A=1 back=0")]
#[case::fefo_same_expiry_oldest_receipt(
    5,
    "fefo",
    None,
    "A:4 exp=30 in=5, B:4 exp=30 in=2",
    "B=4 A=1 back=0"
)]
#[case::fifo_oldest_receipt_first(5, "fifo", None, "A:4 in=3, B:4 in=1", "B=4 A=1 back=0")]
#[case::fifo_ignores_expiry_order(
    5,
    "fifo",
    None,
    "A:4 exp=20 in=3, B:4 exp=90 in=1",
    "B=4 A=1 back=0"
)]
#[case::fifo_never_takes_expired(5, "fifo", None, "A:4 exp=5 in=1, B:4 in=3", "B=4 back=1")]
#[case::ties_go_by_location_path(5, "fifo", None, "B:4 in=1, A:4 in=1", "A=4 B=1 back=0")]
#[case::short_stock_back_orders(10, "fifo", None, "A:3", "A=3 back=7")]
#[case::no_stock_all_back_ordered(4, "fefo", None, "A:0", "back=4")]
fn allocation(
    #[case] qty: i64,
    #[case] policy: &str,
    #[case] min_shelf_life_days: Option<u32>,
    #[case] rows: &str,
    #[case] expected: &str,
) {
    let need = Need {
        qty,
        policy: ExpiryPolicy::parse(policy).unwrap(),
        today: day(10),
        min_shelf_life_days,
    };
    let rows = candidates(rows);
    let allocated = allocate(&need, &rows);
    assert_eq!(render(&allocated), expected);
    // Never more than a row has, never more than asked, and the rest is back-ordered.
    let reserved: i64 = allocated.allocations.iter().map(|a| a.qty).sum();
    assert_eq!(reserved + allocated.back_ordered, qty);
    for a in &allocated.allocations {
        let row = rows.iter().find(|r| r.key == a.key).unwrap();
        assert!(a.qty > 0 && a.qty <= row.available, "{a:?} on {row:?}");
    }
}

/// `A:2, B:3`, or `-` for none.
fn allocations(spec: &str) -> Vec<Allocation> {
    if spec == "-" {
        return Vec::new();
    }
    spec.split(',')
        .map(|a| {
            let (name, qty) = a.trim().split_once(':').unwrap();
            Allocation {
                key: key(name.chars().next().unwrap()),
                qty: qty.parse().unwrap(),
            }
        })
        .collect()
}

fn render_consumption(c: &Consumption) -> String {
    let changes: Vec<String> = c
        .changes
        .iter()
        .map(|(k, d)| format!("{}{d}", bin(*k)))
        .collect();
    let left: Vec<String> = c
        .left
        .iter()
        .map(|a| format!("{}:{}", bin(a.key), a.qty))
        .collect();
    let flags: Vec<String> = c
        .flags
        .iter()
        .map(|f| match f {
            PickFlag::OtherRow => "other_row".to_owned(),
            PickFlag::BeyondAllocation { excess } => format!("beyond:{excess}"),
        })
        .collect();
    format!(
        "changes[{}] left[{}] flags[{}]",
        changes.join(" "),
        left.join(" "),
        flags.join(" ")
    )
}

#[rstest]
#[case::pick_consumes_own_row_first('A', 4, "A:2, B:3", "changes[A-2 B-2] left[B:1] flags[]")]
#[case::pick_within_own_row('B', 2, "A:2, B:3", "changes[B-2] left[A:2 B:1] flags[]")]
#[case::pick_from_unallocated_bin('C', 2, "A:2, B:3", "changes[A-2] left[B:3] flags[other_row]")]
#[case::over_pick_flagged('A', 5, "A:2", "changes[A-2] left[] flags[beyond:3]")]
#[case::pick_without_allocation('A', 3, "-", "changes[] left[] flags[beyond:3]")]
#[case::other_bin_and_beyond(
    'C',
    9,
    "A:2, B:3",
    "changes[A-2 B-3] left[] flags[other_row beyond:4]"
)]
fn pick(#[case] from: char, #[case] qty: i64, #[case] open: &str, #[case] expected: &str) {
    let open = allocations(open);
    let consumed = consume(key(from), qty, &open);
    assert_eq!(render_consumption(&consumed), expected);
    // What was consumed plus what is left is what was open; what was consumed plus the
    // excess is what was picked.
    let used: i64 = consumed.changes.iter().map(|(_, d)| -d).sum();
    let left: i64 = consumed.left.iter().map(|a| a.qty).sum();
    let open_total: i64 = open.iter().map(|a| a.qty).sum();
    assert_eq!(used + left, open_total);
    let excess = consumed
        .flags
        .iter()
        .map(|f| match f {
            PickFlag::BeyondAllocation { excess } => *excess,
            PickFlag::OtherRow => 0,
        })
        .sum::<i64>();
    assert_eq!(used + excess, qty);
}

#[rstest]
#[case::shrink_releases_the_last_rows("A:2, B:3", 3, "left[A:2 B:1] released[B-2]")]
#[case::shrink_to_nothing("A:2, B:3", 0, "left[] released[A-2 B-3]")]
#[case::shrink_keeps_what_is_needed("A:2, B:3", 7, "left[A:2 B:3] released[]")]
#[case::shrink_of_nothing("-", 2, "left[] released[]")]
fn shrink_a_line(#[case] open: &str, #[case] keep: i64, #[case] expected: &str) {
    let (left, released) = shrink(&allocations(open), keep);
    let left: Vec<String> = left
        .iter()
        .map(|a| format!("{}:{}", bin(a.key), a.qty))
        .collect();
    let released: Vec<String> = released
        .iter()
        .map(|(k, d)| format!("{}{d}", bin(*k)))
        .collect();
    assert_eq!(
        format!("left[{}] released[{}]", left.join(" "), released.join(" ")),
        expected
    );
}

#[rstest]
#[case::so_header_edits_in_draft(SalesStatus::Draft, true, Ok(()))]
#[case::so_header_dates_once_confirmed(SalesStatus::PartiallyPicked, false, Ok(()))]
#[case::so_header_customer_fixed_once_confirmed(
    SalesStatus::Allocated,
    true,
    Err("the party and the warehouse change only while the order is a draft")
)]
#[case::so_header_frozen_when_shipped(
    SalesStatus::Shipped,
    false,
    Err("the order cannot change while it is shipped")
)]
fn so_header_edits(
    #[case] status: SalesStatus,
    #[case] parties: bool,
    #[case] expected: Result<(), &str>,
) {
    let got = sales_header_edit(status, parties).map_err(|e| e.to_string());
    assert_eq!(got, expected.map_err(str::to_owned));
}

#[rstest]
#[case::line_for_first_open_else_last(&[('A', 0), ('B', 3), ('C', 2)], Some('B'))]
#[case::line_for_all_done_takes_the_last(&[('A', 0), ('B', -1)], Some('B'))]
#[case::line_for_no_line_of_the_product(&[], None)]
fn line_for_a_product(#[case] lines: &[(char, i64)], #[case] expected: Option<char>) {
    assert_eq!(line_for(lines), expected);
}

#[test]
fn priorities_read_back_from_their_names() {
    for p in Priority::ALL {
        assert_eq!(Priority::parse(p.as_str()), Some(p));
    }
    assert_eq!(Priority::parse("asap"), None);
}

#[test]
fn release_gives_back_every_allocation() {
    let open = allocations("A:2, B:3");
    assert_eq!(release(&open), vec![(key('A'), -2), (key('B'), -3)]);
}

#[test]
fn back_orders_by_priority_then_date() {
    let order = |line: u32, priority, requested: u64, created: u64| BackOrder {
        line,
        priority,
        requested_on: day(requested),
        created_at: at(created),
    };
    let mut waiting = vec![
        order(1, Priority::Normal, 12, 1),
        order(2, Priority::Urgent, 20, 5),
        order(3, Priority::Normal, 11, 3),
        order(4, Priority::Low, 1, 0),
        order(5, Priority::Normal, 11, 2),
        order(6, Priority::Normal, 11, 2),
    ];
    back_order_sequence(&mut waiting);
    let lines: Vec<u32> = waiting.iter().map(|b| b.line).collect();
    assert_eq!(lines, [2, 5, 6, 3, 1, 4]);
}

fn po_lines(spec: &str) -> Vec<PurchaseLineQty> {
    spec.split_whitespace()
        .map(|l| {
            let (ordered, received) = l.split_once('/').unwrap();
            PurchaseLineQty {
                ordered: ordered.parse().unwrap(),
                received: received.parse().unwrap(),
            }
        })
        .collect()
}

#[rstest]
#[case::po_order_needs_lines(
    PurchaseStatus::Draft,
    PurchaseAction::Order,
    "",
    Err("the order has no lines")
)]
#[case::po_order(
    PurchaseStatus::Draft,
    PurchaseAction::Order,
    "10/0",
    Ok(PurchaseStatus::Ordered)
)]
#[case::po_cancel_draft(
    PurchaseStatus::Draft,
    PurchaseAction::Cancel,
    "10/0",
    Ok(PurchaseStatus::Cancelled)
)]
#[case::po_cancel_ordered(
    PurchaseStatus::Ordered,
    PurchaseAction::Cancel,
    "10/0",
    Ok(PurchaseStatus::Cancelled)
)]
#[case::po_cancel_after_receipt(
    PurchaseStatus::Ordered,
    PurchaseAction::Cancel,
    "10/1",
    Err("goods were received against the order: close it instead")
)]
#[case::po_close_after_partial_receipt(
    PurchaseStatus::PartiallyReceived,
    PurchaseAction::Close,
    "10/4",
    Ok(PurchaseStatus::Closed)
)]
#[case::po_close_draft(
    PurchaseStatus::Draft,
    PurchaseAction::Close,
    "10/0",
    Err("the order cannot be closed while it is draft")
)]
#[case::po_final_states(
    PurchaseStatus::Received,
    PurchaseAction::Close,
    "10/10",
    Err("the order cannot be closed while it is received")
)]
#[case::po_final_cancelled(
    PurchaseStatus::Cancelled,
    PurchaseAction::Order,
    "10/0",
    Err("the order cannot be ordered while it is cancelled")
)]
#[case::po_final_closed(
    PurchaseStatus::Closed,
    PurchaseAction::Cancel,
    "10/4",
    Err("the order cannot be cancelled while it is closed")
)]
fn purchase_actions(
    #[case] status: PurchaseStatus,
    #[case] action: PurchaseAction,
    #[case] lines: &str,
    #[case] expected: Result<PurchaseStatus, &str>,
) {
    let got = purchase_action(status, action, &po_lines(lines)).map_err(|e| e.to_string());
    assert_eq!(got, expected.map_err(str::to_owned));
}

#[rstest]
#[case::po_status_from_quantities(
    PurchaseStatus::Ordered,
    "10/4 5/0",
    PurchaseStatus::PartiallyReceived
)]
#[case::po_status_received(
    PurchaseStatus::PartiallyReceived,
    "10/10 5/6",
    PurchaseStatus::Received
)]
#[case::po_status_nothing_yet(PurchaseStatus::Ordered, "10/0 5/0", PurchaseStatus::Ordered)]
#[case::po_closed_stays_closed(PurchaseStatus::Closed, "10/10 5/5", PurchaseStatus::Closed)]
#[case::po_draft_stays_draft(PurchaseStatus::Draft, "10/3", PurchaseStatus::Draft)]
fn purchase_statuses(
    #[case] decided: PurchaseStatus,
    #[case] lines: &str,
    #[case] expected: PurchaseStatus,
) {
    assert_eq!(purchase_status(decided, &po_lines(lines)), expected);
}

#[rstest]
#[case::po_line_not_below_received(
    PurchaseStatus::Ordered,
    "10/4",
    3,
    Err("the line's quantity cannot go below 4, what was already booked")
)]
#[case::po_line_down_to_received(PurchaseStatus::PartiallyReceived, "10/4", 4, Ok(()))]
#[case::po_line_draft_free(PurchaseStatus::Draft, "10/0", 1, Ok(()))]
#[case::po_line_frozen_when_received(
    PurchaseStatus::Received,
    "10/10",
    12,
    Err("lines cannot change while the order is received")
)]
fn purchase_line_edits(
    #[case] status: PurchaseStatus,
    #[case] line: &str,
    #[case] new_qty: i64,
    #[case] expected: Result<(), &str>,
) {
    let line = po_lines(line)[0];
    let got = purchase_line_edit(status, line, new_qty).map_err(|e| e.to_string());
    assert_eq!(got, expected.map_err(str::to_owned));
}

fn render_receipt(flags: &[ReceiptFlag]) -> String {
    flags
        .iter()
        .map(|f| match f {
            ReceiptFlag::OverReceipt { beyond } => format!("over:{beyond}"),
            ReceiptFlag::OrderNotOpen { status } => format!("not_open:{}", status.as_str()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[rstest]
#[case::receipt_within_order(PurchaseStatus::Ordered, "10/8", 2, 0, "")]
#[case::over_receipt_no_tolerance(PurchaseStatus::Ordered, "10/8", 3, 0, "over:1")]
#[case::over_receipt_within_tolerance(PurchaseStatus::Ordered, "10/8", 3, 10, "")]
#[case::over_receipt_beyond_tolerance(PurchaseStatus::PartiallyReceived, "10/8", 4, 10, "over:1")]
#[case::receipt_after_over_receipt(PurchaseStatus::Received, "10/12", 2, 0, "over:2")]
#[case::receipt_against_closed_order(PurchaseStatus::Closed, "10/4", 1, 0, "not_open:closed")]
#[case::receipt_against_cancelled_order(
    PurchaseStatus::Cancelled,
    "10/0",
    11,
    0,
    "not_open:cancelled over:1"
)]
#[case::receipt_against_draft(PurchaseStatus::Draft, "10/0", 1, 0, "not_open:draft")]
fn receipts(
    #[case] status: PurchaseStatus,
    #[case] line: &str,
    #[case] qty: i64,
    #[case] tolerance_pct: u32,
    #[case] expected: &str,
) {
    let line = po_lines(line)[0];
    assert_eq!(
        render_receipt(&receipt_flags(status, line, qty, tolerance_pct)),
        expected
    );
}

fn so_lines(spec: &str) -> Vec<SalesLineQty> {
    spec.split_whitespace()
        .map(|l| {
            let mut n = l.split('/').map(|n| n.parse().unwrap());
            SalesLineQty {
                ordered: n.next().unwrap(),
                allocated: n.next().unwrap(),
                picked: n.next().unwrap(),
            }
        })
        .collect()
}

#[rstest]
#[case::so_confirmed_nothing_reserved(
    SalesStatus::Confirmed,
    "5/0/0 3/0/0",
    SalesStatus::Confirmed
)]
#[case::so_status_from_quantities(
    SalesStatus::Confirmed,
    "5/5/0 3/1/0",
    SalesStatus::PartiallyAllocated
)]
#[case::so_allocated(SalesStatus::PartiallyAllocated, "5/5/0 3/3/0", SalesStatus::Allocated)]
#[case::so_partially_picked(SalesStatus::Allocated, "5/0/5 3/3/0", SalesStatus::PartiallyPicked)]
#[case::so_shipped(SalesStatus::PartiallyPicked, "5/0/5 3/0/3", SalesStatus::Shipped)]
#[case::so_cancelled_stays(SalesStatus::Cancelled, "5/0/5 3/0/3", SalesStatus::Cancelled)]
#[case::so_draft_stays(SalesStatus::Draft, "5/0/0", SalesStatus::Draft)]
fn sales_statuses(
    #[case] decided: SalesStatus,
    #[case] lines: &str,
    #[case] expected: SalesStatus,
) {
    assert_eq!(sales_status(decided, &so_lines(lines)), expected);
}

#[rstest]
#[case::so_confirm_needs_lines(
    SalesStatus::Draft,
    SalesAction::Confirm,
    "",
    Err("the order has no lines")
)]
#[case::so_confirm(
    SalesStatus::Draft,
    SalesAction::Confirm,
    "5/0/0",
    Ok(SalesStatus::Confirmed)
)]
#[case::so_confirm_twice(
    SalesStatus::Allocated,
    SalesAction::Confirm,
    "5/5/0",
    Err("the order cannot be confirmed while it is allocated")
)]
#[case::so_cancel_until_shipped(
    SalesStatus::PartiallyPicked,
    SalesAction::Cancel,
    "5/2/3",
    Ok(SalesStatus::Cancelled)
)]
#[case::so_cancel_shipped(
    SalesStatus::Shipped,
    SalesAction::Cancel,
    "5/0/5",
    Err("the order cannot be cancelled while it is shipped")
)]
fn sales_actions(
    #[case] status: SalesStatus,
    #[case] action: SalesAction,
    #[case] lines: &str,
    #[case] expected: Result<SalesStatus, &str>,
) {
    let got = sales_action(status, action, &so_lines(lines)).map_err(|e| e.to_string());
    assert_eq!(got, expected.map_err(str::to_owned));
}

#[rstest]
#[case::so_line_not_below_picked(
    SalesStatus::PartiallyPicked,
    "5/0/3",
    2,
    Err("the line's quantity cannot go below 3, what was already booked")
)]
#[case::so_line_reduced(SalesStatus::Allocated, "5/5/0", 2, Ok(()))]
#[case::so_line_frozen_when_shipped(
    SalesStatus::Shipped,
    "5/0/5",
    6,
    Err("lines cannot change while the order is shipped")
)]
fn sales_line_edits(
    #[case] status: SalesStatus,
    #[case] line: &str,
    #[case] new_qty: i64,
    #[case] expected: Result<(), &str>,
) {
    let line = so_lines(line)[0];
    let got = sales_line_edit(status, line, new_qty).map_err(|e| e.to_string());
    assert_eq!(got, expected.map_err(str::to_owned));
}

mod receipts_in_the_engine {
    //! Rule 4 of `document` as the engine applies it to a batch: each applied receipt
    //! against a purchase line is flagged against what the line received before it,
    //! including the receipts decided earlier in the same batch.

    use super::*;
    use logiflow_core::{
        Engine, Flag, LineRef, Movement, MovementId, MovementKind, Origin, PositiveQty, UserId,
    };

    const LINE: Uuid = Uuid::from_u128(0x70);

    fn receipt(n: u128, product: ProductId, qty: i64) -> Movement {
        Movement {
            id: MovementId::from_uuid(Uuid::from_u128(0x0100_0000 + n)),
            occurred_at: at(n as u64),
            product,
            lot: None,
            kind: MovementKind::Receive {
                to: LocationId::from_uuid(Uuid::from_u128(0x1000)),
                qty: PositiveQty::new(qty).unwrap(),
            },
            user: UserId::from_uuid(Uuid::from_u128(7)),
            device: None,
            reference: Some(LineRef::PurchaseLine(LINE)),
        }
    }

    fn engine(status: PurchaseStatus, ordered: i64, received: i64, tolerance_pct: u32) -> Engine {
        let mut engine = Engine::new();
        engine.set_purchase_line(
            LINE,
            PurchaseLineState {
                product: PRODUCT,
                status,
                qty: PurchaseLineQty { ordered, received },
                tolerance_pct,
            },
        );
        engine
    }

    fn flags(engine: &mut Engine, m: &Movement) -> Vec<Flag> {
        let decided = engine.submit(m, Origin::Journal).unwrap();
        decided[0].1.flags.clone()
    }

    #[test]
    fn each_receipt_is_judged_after_the_ones_before_it() {
        // 10 ordered, 8 received, tolerance 10 %: 11 may arrive without a flag.
        let mut engine = engine(PurchaseStatus::Ordered, 10, 8, 10);
        assert_eq!(flags(&mut engine, &receipt(1, PRODUCT, 2)), []);
        assert_eq!(flags(&mut engine, &receipt(2, PRODUCT, 1)), []);
        assert_eq!(
            flags(&mut engine, &receipt(3, PRODUCT, 2)),
            [Flag::OverReceipt {
                line: LINE,
                beyond: 2
            }]
        );
        assert_eq!(engine.purchase_line(LINE).unwrap().qty.received, 13);
    }

    #[test]
    fn a_receipt_against_a_cancelled_order_is_flagged_and_counted() {
        let mut engine = engine(PurchaseStatus::Cancelled, 5, 0, 0);
        assert_eq!(
            flags(&mut engine, &receipt(1, PRODUCT, 5)),
            [Flag::ReceiptOrderNotOpen {
                line: LINE,
                status: PurchaseStatus::Cancelled
            }]
        );
        assert_eq!(engine.purchase_line(LINE).unwrap().qty.received, 5);
    }

    #[test]
    fn a_receipt_of_another_product_does_not_count_toward_the_line() {
        let other = ProductId::from_uuid(Uuid::from_u128(0x43));
        let mut engine = engine(PurchaseStatus::Ordered, 5, 0, 0);
        assert_eq!(flags(&mut engine, &receipt(1, other, 9)), []);
        assert_eq!(engine.purchase_line(LINE).unwrap().qty.received, 0);
    }
}

#[rstest]
#[case::po_header_edits_in_draft(PurchaseStatus::Draft, true, Ok(()))]
#[case::po_header_dates_once_ordered(PurchaseStatus::PartiallyReceived, false, Ok(()))]
#[case::po_header_supplier_fixed_once_ordered(
    PurchaseStatus::Ordered,
    true,
    Err("the party and the warehouse change only while the order is a draft")
)]
#[case::po_header_frozen_when_closed(
    PurchaseStatus::Closed,
    false,
    Err("the order cannot change while it is closed")
)]
fn po_header_edits(
    #[case] status: PurchaseStatus,
    #[case] parties: bool,
    #[case] expected: Result<(), &str>,
) {
    let got = purchase_header_edit(status, parties).map_err(|e| e.to_string());
    assert_eq!(got, expected.map_err(str::to_owned));
}

mod picks_in_the_engine {
    //! Rules 5 and 6 of `allocation` as the engine applies them to picks that name a
    //! sales line: a pick may take what its line reserved on the picked row, consumes
    //! the line's reservations (own row first), and what it takes beyond them or from
    //! an unreserved row is flagged, never refused when it is a journal fact.

    use super::*;
    use logiflow_core::{
        Engine, Flag, LineRef, Movement, MovementId, MovementKind, Origin, Outcome, PositiveQty,
        RejectCode, StockRow, UserId,
    };

    const LINE: Uuid = Uuid::from_u128(0x71);

    fn pick(n: u128, bin: char, qty: i64, line: Option<Uuid>) -> Movement {
        Movement {
            id: MovementId::from_uuid(Uuid::from_u128(0x0200_0000 + n)),
            occurred_at: at(n as u64),
            product: PRODUCT,
            lot: None,
            kind: MovementKind::Ship {
                from: key(bin).location,
                qty: PositiveQty::new(qty).unwrap(),
            },
            user: UserId::from_uuid(Uuid::from_u128(7)),
            device: None,
            reference: line.map(LineRef::SalesLine),
        }
    }

    /// A holds 5, all reserved for the line; B holds 3, nothing reserved.
    fn engine() -> Engine {
        let mut engine = Engine::new();
        let row = |on_hand, allocated| StockRow {
            on_hand,
            allocated,
            last_count: None,
        };
        engine.set_row(key('A'), row(5, 5));
        engine.set_row(key('B'), row(3, 0));
        engine.set_sales_line(
            LINE,
            SalesLineState {
                product: PRODUCT,
                allocations: vec![Allocation {
                    key: key('A'),
                    qty: 5,
                }],
            },
        );
        engine
    }

    fn decide(engine: &mut Engine, m: &Movement, origin: Origin) -> (Outcome, Vec<Flag>) {
        let d = engine.submit(m, origin).unwrap().remove(0).1;
        (d.outcome, d.flags)
    }

    #[test]
    fn only_a_pick_for_the_line_takes_what_the_line_reserved() {
        let mut engine = engine();
        // Without the line, reserved stock is not available online.
        let (outcome, _) = decide(&mut engine, &pick(1, 'A', 3, None), Origin::Online);
        assert!(
            matches!(&outcome, Outcome::Rejected(r) if r.code == RejectCode::InsufficientStock),
            "{outcome:?}"
        );
        // With it, the pick takes its own reservation: nothing to flag.
        let (outcome, flags) = decide(&mut engine, &pick(2, 'A', 3, Some(LINE)), Origin::Online);
        assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
        assert_eq!(flags, []);
        assert_eq!(
            (
                engine.row(&key('A')).on_hand,
                engine.row(&key('A')).allocated
            ),
            (2, 2)
        );
        let logiflow_core::PickChanges { rows, lines } = engine.allocation_changes();
        assert_eq!(rows, [(key('A'), -3)]);
        assert_eq!(
            lines[0].1.allocations,
            [Allocation {
                key: key('A'),
                qty: 2
            }]
        );
    }

    #[test]
    fn a_pick_from_an_unreserved_bin_releases_the_reservation_elsewhere() {
        let mut engine = engine();
        let (outcome, flags) = decide(&mut engine, &pick(1, 'B', 2, Some(LINE)), Origin::Online);
        assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
        assert_eq!(flags, [Flag::PickOtherRow { line: LINE }]);
        // B lost 2 on hand, A's reservation shrank by 2 (the goods left from B instead).
        assert_eq!(
            (
                engine.row(&key('B')).on_hand,
                engine.row(&key('B')).allocated
            ),
            (1, 0)
        );
        assert_eq!(
            (
                engine.row(&key('A')).on_hand,
                engine.row(&key('A')).allocated
            ),
            (5, 3)
        );
        // Online, B's one unit left is all another pick of the line may take there.
        let (outcome, _) = decide(&mut engine, &pick(2, 'B', 2, Some(LINE)), Origin::Online);
        assert!(matches!(outcome, Outcome::Rejected(_)), "{outcome:?}");
    }

    #[test]
    fn a_journal_pick_beyond_the_reservations_is_applied_and_flagged() {
        let mut engine = engine();
        let (outcome, flags) = decide(&mut engine, &pick(1, 'A', 5, Some(LINE)), Origin::Journal);
        assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
        assert_eq!(flags, []);
        let (outcome, flags) = decide(&mut engine, &pick(2, 'B', 2, Some(LINE)), Origin::Journal);
        assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
        assert_eq!(
            flags,
            [Flag::OverPick {
                line: LINE,
                excess: 2
            }]
        );
        // Nothing is reserved any more and no row's reservation went below zero.
        assert_eq!(engine.row(&key('A')).allocated, 0);
        assert_eq!(engine.row(&key('B')).allocated, 0);
        let logiflow_core::PickChanges { rows, lines } = engine.allocation_changes();
        assert_eq!(rows, [(key('A'), -5)]);
        assert!(lines[0].1.allocations.is_empty());
    }
}

#[rstest]
#[case::path_of_a_zone(None, "A", "A")]
#[case::path_of_a_bin(Some("A/03"), "B2", "A/03/B2")]
fn location_paths(#[case] parent: Option<&str>, #[case] code: &str, #[case] expected: &str) {
    assert_eq!(child_path(parent, code), expected);
}

/// Stops written `path sku lot order position`, `-` for no lot, separated by commas; the
/// walk renders them the same way, in the order visited.
#[rstest]
#[case::paths_compare_as_text(
    "A/X BOLT - SO-1 1, A-1 BOLT - SO-1 2",
    "A-1 BOLT - SO-1 2, A/X BOLT - SO-1 1"
)]
#[case::bins_walk_by_zone_not_by_code(
    "B/A-1 BOLT - SO-1 1, A/Z-9 NUT - SO-1 2",
    "A/Z-9 NUT - SO-1 2, B/A-1 BOLT - SO-1 1"
)]
#[case::wave_stops_interleave_by_path(
    "B/01 BOLT - SO-1 1, A/02 MILK L2 SO-1 2, B/01 BOLT - SO-2 1, A/02 BOLT - SO-2 2, A/01 NUT - SO-1 3",
    "A/01 NUT - SO-1 3, A/02 BOLT - SO-2 2, A/02 MILK L2 SO-1 2, B/01 BOLT - SO-1 1, B/01 BOLT - SO-2 1"
)]
#[case::lots_none_first_then_by_code(
    "A/01 MILK L2 SO-1 1, A/01 MILK L1 SO-1 2, A/01 MILK - SO-1 3",
    "A/01 MILK - SO-1 3, A/01 MILK L1 SO-1 2, A/01 MILK L2 SO-1 1"
)]
#[case::one_order_two_lines_by_position(
    "A/01 BOLT - SO-1 3, A/01 BOLT - SO-1 1",
    "A/01 BOLT - SO-1 1, A/01 BOLT - SO-1 3"
)]
fn pick_walk(#[case] stops: &str, #[case] expected: &str) {
    let mut stops: Vec<Vec<&str>> = stops
        .split(',')
        .map(|s| s.split_whitespace().collect())
        .collect();
    sort_walk(&mut stops, |s| WalkKey {
        path: s[0],
        sku: s[1],
        lot: Some(s[2]).filter(|lot| *lot != "-"),
        order: s[3],
        position: s[4].parse().unwrap(),
    });
    let walked: Vec<String> = stops.iter().map(|s| s.join(" ")).collect();
    assert_eq!(walked.join(", "), expected);
}
