//! A small catalog and helpers shared by the tests.

use chrono::{DateTime, Utc};
use logiflow_core::{
    Barcode, Cursor, LocationCode, LocationId, LocationRecord, LotCode, LotId, LotRecord,
    ProductId, ProductRecord, PullPage, RowState, Sku, StockKey, StockRow, TenantId, UserId,
    WarehouseId, WarehouseRecord,
};
use logiflow_replica::{Action, ItemRef, Op, Replica, TestEnv};
use uuid::Uuid;

pub const START_MS: u64 = 1_800_000_000_000;

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub fn wh() -> WarehouseId {
    WarehouseId::from_uuid(id(0x10))
}
pub fn zone() -> LocationId {
    LocationId::from_uuid(id(0x20))
}
pub fn a01() -> LocationId {
    LocationId::from_uuid(id(0x21))
}
pub fn a02() -> LocationId {
    LocationId::from_uuid(id(0x22))
}
pub fn b01() -> LocationId {
    LocationId::from_uuid(id(0x23))
}
pub fn bolt() -> ProductId {
    ProductId::from_uuid(id(0x30))
}
pub fn milk() -> ProductId {
    ProductId::from_uuid(id(0x31))
}
pub fn lot1() -> LotId {
    LotId::from_uuid(id(0x40))
}
pub fn tenant() -> TenantId {
    TenantId::from_uuid(id(1))
}
pub fn user() -> UserId {
    UserId::from_uuid(id(2))
}

pub fn time(ms: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms as i64).unwrap()
}

fn location(
    id: LocationId,
    code: &str,
    parent: Option<LocationId>,
    is_leaf: bool,
) -> LocationRecord {
    LocationRecord {
        id,
        warehouse: wh(),
        code: LocationCode::parse(code).unwrap(),
        parent,
        is_leaf,
        active: true,
    }
}

/// A page that carries nothing but its cursor and the server's time.
pub fn empty_page_at(cursor: &str, server_time: DateTime<Utc>) -> PullPage {
    PullPage {
        cursor: Cursor::new(cursor),
        has_more: false,
        server_time,
        warehouses: vec![],
        locations: vec![],
        products: vec![],
        lots: vec![],
        purchase_orders: vec![],
        sales_orders: vec![],
        deleted_locations: vec![],
        rows: vec![],
        effects: vec![],
        outcomes: vec![],
        snapshot: None,
    }
}

/// Warehouse W1 with zone Z1 and bins, B-01; BOLT-10 (barcode 4006381333931)
/// with 10 in A-01; MILK-1 lot-tracked with lot L1.
pub fn catalog_page() -> PullPage {
    PullPage {
        cursor: Cursor::new("c1"),
        has_more: false,
        server_time: time(START_MS),
        warehouses: vec![WarehouseRecord {
            id: wh(),
            code: "W1".into(),
            name: "Main".into(),
            time_zone: "Europe/Berlin".into(),
            active: true,
        }],
        locations: vec![
            location(zone(), "Z1", None, false),
            location(a01(), "A-01", Some(zone()), true),
            location(a02(), "A-02", Some(zone()), true),
            location(b01(), "B-01", Some(zone()), true),
        ],
        products: vec![
            ProductRecord {
                id: bolt(),
                sku: Sku::parse("BOLT-10").unwrap(),
                name: "Hex bolt M10".into(),
                barcodes: vec![Barcode::parse("4006381333931").unwrap()],
                lot_tracked: false,
                active: true,
                reorder_point: 20,
            },
            ProductRecord {
                id: milk(),
                sku: Sku::parse("MILK-1").unwrap(),
                name: "Milk 1L".into(),
                barcodes: vec![],
                lot_tracked: true,
                active: true,
                reorder_point: 0,
            },
        ],
        lots: vec![LotRecord {
            id: lot1(),
            product: milk(),
            code: LotCode::parse("L1").unwrap(),
            expires_on: None,
        }],
        purchase_orders: vec![],
        sales_orders: vec![],
        deleted_locations: vec![],
        rows: vec![RowState {
            key: StockKey {
                product: bolt(),
                location: a01(),
                lot: None,
            },
            row: StockRow {
                on_hand: 10,
                allocated: 0,
                last_count: None,
            },
        }],
        effects: vec![],
        outcomes: vec![],
        snapshot: None,
    }
}

/// A replica at `path` with the test clock (1 s per reading).
pub fn open(path: &std::path::Path) -> Replica {
    Replica::open_with_env(path, Box::new(TestEnv::new(START_MS, 1_000))).unwrap()
}

/// A set-up replica with the catalog page applied.
pub fn ready(path: &std::path::Path) -> Replica {
    let mut r = open(path);
    r.init_device(tenant(), user(), "https://logiflow.example", None)
        .unwrap();
    r.apply_pull(&catalog_page()).unwrap();
    r
}

pub fn action(item: &str, op: Op) -> Action {
    Action {
        expires_on: None,
        item: ItemRef::Scan(item.into()),
        lot: None,
        warehouse: None,
        op,
        reference: None,
    }
}

pub fn on_hand(r: &Replica, product: ProductId, location: LocationId) -> i64 {
    r.stock(&Default::default())
        .unwrap()
        .into_iter()
        .find(|l| l.product == product && l.location == location && l.lot.is_none())
        .map_or(0, |l| l.on_hand)
}
