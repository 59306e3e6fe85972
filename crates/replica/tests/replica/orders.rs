//! The pick walk across a wave of sales orders: stops in the order of their bins'
//! location paths (not their codes), several orders' stops interleaved, and what this
//! device picked since the last pull taken off as the server will take it.

use chrono::NaiveDate;
use logiflow_core::orders::{Allocation, SalesStatus};
use logiflow_core::{
    LineRef, LocationCode, LocationId, LocationRecord, LotId, ProductId, ProductRecord,
    SalesLineRecord, SalesOrderRecord, Sku, StockKey,
};
use logiflow_replica::{ItemRef, Op, PickStop, Replica};
use uuid::Uuid;

use crate::fixture::{self, bolt, id, lot1, milk, wh};

fn zone_a() -> LocationId {
    LocationId::from_uuid(id(0x50))
}
fn zone_b() -> LocationId {
    LocationId::from_uuid(id(0x51))
}
/// `Z-9` under zone A: path `A/Z-9`.
fn z9() -> LocationId {
    LocationId::from_uuid(id(0x52))
}
/// `A-1` under zone B: path `B/A-1`, after every bin of zone A though its code is first.
fn a1() -> LocationId {
    LocationId::from_uuid(id(0x53))
}
/// `C-5` under zone A: path `A/C-5`.
fn c5() -> LocationId {
    LocationId::from_uuid(id(0x54))
}
fn nut() -> ProductId {
    ProductId::from_uuid(id(0x32))
}

/// Sales line ids: order n, line m.
fn line(order: u128, line: u128) -> Uuid {
    id(0x6000 + order * 0x10 + line)
}

fn location(id: LocationId, code: &str, parent: Option<LocationId>) -> LocationRecord {
    LocationRecord {
        id,
        warehouse: wh(),
        code: LocationCode::parse(code).unwrap(),
        parent,
        is_leaf: parent.is_some(),
        active: true,
    }
}

fn reserved(product: ProductId, location: LocationId, lot: Option<LotId>, qty: i64) -> Allocation {
    Allocation {
        key: StockKey {
            product,
            location,
            lot,
        },
        qty,
    }
}

fn order(
    n: u128,
    status: SalesStatus,
    lines: Vec<(ProductId, i64, Vec<Allocation>)>,
) -> SalesOrderRecord {
    SalesOrderRecord {
        id: id(0x7000 + n),
        number: format!("SO-00000{n}"),
        warehouse: wh(),
        customer: "Corner Shop".into(),
        requested_on: NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
        status,
        lines: lines
            .into_iter()
            .enumerate()
            .map(|(i, (product, qty, allocations))| SalesLineRecord {
                id: line(n, i as u128 + 1),
                product,
                qty,
                picked: 0,
                allocations,
            })
            .collect(),
    }
}

/// The fixture's catalog with zones A and B and three bins whose code order is not
/// their path order, NUT-10, and three sales orders: two to pick (a wave) and one
/// shipped.
fn wave_replica(path: &std::path::Path) -> Replica {
    let mut replica = fixture::ready(path);
    let mut page = fixture::empty_page_at("c2", fixture::time(fixture::START_MS));
    page.locations = vec![
        location(zone_a(), "A", None),
        location(zone_b(), "B", None),
        location(z9(), "Z-9", Some(zone_a())),
        location(a1(), "A-1", Some(zone_b())),
        location(c5(), "C-5", Some(zone_a())),
    ];
    page.products = vec![ProductRecord {
        id: nut(),
        sku: Sku::parse("NUT-10").unwrap(),
        name: "Hex nut M10".into(),
        barcodes: vec![],
        lot_tracked: false,
        active: true,
        reorder_point: 0,
    }];
    page.sales_orders = vec![
        order(
            1,
            SalesStatus::Allocated,
            vec![
                (
                    bolt(),
                    7,
                    vec![
                        reserved(bolt(), a1(), None, 5),
                        reserved(bolt(), z9(), None, 2),
                    ],
                ),
                (milk(), 3, vec![reserved(milk(), c5(), Some(lot1()), 3)]),
            ],
        ),
        order(
            2,
            SalesStatus::PartiallyAllocated,
            vec![
                (bolt(), 4, vec![reserved(bolt(), z9(), None, 4)]),
                // 2 of the 6 could not be reserved: back-ordered, no stop.
                (nut(), 6, vec![reserved(nut(), a1(), None, 4)]),
            ],
        ),
        order(
            3,
            SalesStatus::Shipped,
            vec![(bolt(), 1, vec![reserved(bolt(), z9(), None, 1)])],
        ),
    ];
    replica.apply_pull(&page).unwrap();
    replica
}

/// A stop as `order path sku[/lot] ×qty`.
fn render(stops: &[PickStop]) -> Vec<String> {
    stops
        .iter()
        .map(|s| {
            let item = match &s.lot {
                Some(lot) => format!("{}/{lot}", s.sku),
                None => s.sku.clone(),
            };
            format!("{} {} {item} ×{}", s.order, s.path, s.qty)
        })
        .collect()
}

fn walk(replica: &Replica, numbers: &[&str]) -> Vec<String> {
    let numbers: Vec<String> = numbers.iter().map(|n| (*n).to_owned()).collect();
    render(&replica.pick_walk(&numbers).unwrap())
}

fn pick(replica: &mut Replica, sku: &str, bin: &str, qty: i64, sales_line: Uuid) {
    replica
        .record(&logiflow_replica::Action {
            expires_on: None,
            item: ItemRef::Sku(sku.into()),
            lot: None,
            warehouse: None,
            op: Op::Ship {
                from: bin.into(),
                qty,
            },
            reference: Some(LineRef::SalesLine(sales_line)),
        })
        .unwrap();
}

#[test]
fn a_wave_walks_its_orders_stops_by_location_path() {
    let dir = tempfile::tempdir().unwrap();
    let replica = wave_replica(&dir.path().join("r.db"));
    // Zone A's bins before zone B's, though bin A-1's code sorts first; at Z-9 both
    // orders' bolts one after the other; NUT-10's back-ordered 2 have no stop.
    let expected = [
        "SO-000001 A/C-5 MILK-1/L1 ×3",
        "SO-000001 A/Z-9 BOLT-10 ×2",
        "SO-000002 A/Z-9 BOLT-10 ×4",
        "SO-000001 B/A-1 BOLT-10 ×5",
        "SO-000002 B/A-1 NUT-10 ×4",
    ];
    assert_eq!(walk(&replica, &["SO-000002", "SO-000001"]), expected);
    // Typed as people type, and named twice: the same walk.
    assert_eq!(
        walk(&replica, &[" so-000001 ", "SO-000002", "SO-000001"]),
        expected
    );
    let stops = replica.pick_walk(&["SO-000001".to_owned()]).unwrap();
    assert_eq!(
        (stops[0].bin.as_str(), stops[0].name.as_str()),
        ("C-5", "Milk 1L")
    );
    assert_eq!(stops[1].line, line(1, 1).to_string());
    // The per-line pick list follows the walk too: Z-9 (A/Z-9) before A-1 (B/A-1).
    let orders = replica.sales_orders().unwrap();
    let bins: Vec<&str> = orders[0].lines[0]
        .pick_list
        .iter()
        .map(|p| p.bin.as_str())
        .collect();
    assert_eq!(bins, ["Z-9", "A-1"]);
}

#[test]
fn an_unknown_or_shipped_order_is_refused_and_a_wave_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let replica = wave_replica(&dir.path().join("r.db"));
    for number in ["SO-000003", "SO-000009", "PO-000001"] {
        let error = replica
            .pick_walk(&["SO-000001".to_owned(), number.to_owned()])
            .unwrap_err();
        assert_eq!(error.code(), "unknown_order", "{number}: {error}");
        assert!(error.to_string().contains(number), "{error}");
    }
    let too_many: Vec<String> = (0..=logiflow_replica::WAVE_ORDERS_MAX)
        .map(|_| "SO-000001".to_owned())
        .collect();
    assert_eq!(
        replica.pick_walk(&too_many).unwrap_err().code(),
        "invalid_input"
    );
    assert!(replica.pick_walk(&[]).unwrap().is_empty());
}

#[test]
fn what_this_device_picked_is_not_offered_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut replica = wave_replica(&dir.path().join("r.db"));
    // SO-1's bolts: all 2 at Z-9, then a short pick of 3 of the 5 at A-1.
    pick(&mut replica, "BOLT-10", "Z-9", 2, line(1, 1));
    pick(&mut replica, "BOLT-10", "A-1", 3, line(1, 1));
    // SO-2's bolts, reserved at Z-9, taken from C-5 instead (a substitute bin): the
    // reservation follows the goods, so the Z-9 stop is gone.
    pick(&mut replica, "BOLT-10", "C-5", 4, line(2, 1));
    assert_eq!(
        walk(&replica, &["SO-000001", "SO-000002"]),
        [
            "SO-000001 A/C-5 MILK-1/L1 ×3",
            "SO-000001 B/A-1 BOLT-10 ×2",
            "SO-000002 B/A-1 NUT-10 ×4",
        ]
    );
    // The line's own figures agree: 5 picked here, 2 open.
    let orders = replica.sales_orders().unwrap();
    let bolts = &orders[0].lines[0];
    assert_eq!((bolts.picked_here, bolts.open), (5, 2));
    // A pick from the line's other bin consumes its own row first, then the rest: 2
    // taken from Z-9 (reserved nothing any more) leave nothing of SO-1's bolts.
    pick(&mut replica, "BOLT-10", "Z-9", 2, line(1, 1));
    assert_eq!(
        walk(&replica, &["SO-000001"]),
        ["SO-000001 A/C-5 MILK-1/L1 ×3"]
    );
}
