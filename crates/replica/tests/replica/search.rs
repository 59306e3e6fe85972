//! Search on a catalog of 100,000 products: correct results (no timing asserts).

use logiflow_core::{
    Barcode, Cursor, PULL_PAGE_MAX, ProductId, ProductRecord, PullPage, RowState, Sku, StockKey,
    StockRow,
};
use logiflow_replica::{Search, StockQuery};
use uuid::Uuid;

use crate::fixture::*;

const PRODUCTS: u32 = 100_000;
const COLORS: [&str; 7] = ["Red", "Green", "Blue", "Teal", "Amber", "Black", "White"];

fn name(n: u32) -> String {
    format!("Widget {n} {}", COLORS[(n % 7) as usize])
}

#[test]
fn search_on_a_catalog_of_100k_products() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica.db");
    let mut r = ready(&path);
    let product = |n: u32| ProductId::from_uuid(Uuid::from_u128(0x1_0000_0000 + u128::from(n)));
    let empty = PullPage {
        cursor: Cursor::new("big"),
        ..catalog_page()
    };
    let empty = PullPage {
        warehouses: vec![],
        locations: vec![],
        products: vec![],
        lots: vec![],
        deleted_locations: vec![],
        rows: vec![],
        ..empty
    };
    // Each product as a record and one stock row in A-02 holding n % 50 + 1.
    let per_page = PULL_PAGE_MAX / 2;
    for chunk in (0..PRODUCTS).collect::<Vec<_>>().chunks(per_page) {
        let mut page = empty.clone();
        for &n in chunk {
            page.products.push(ProductRecord {
                id: product(n),
                sku: Sku::parse(&format!("SKU-{n:06}")).unwrap(),
                name: name(n),
                barcodes: vec![Barcode::parse(&format!("INT-{n}")).unwrap()],
                lot_tracked: false,
                active: true,
            });
            page.rows.push(RowState {
                key: StockKey {
                    product: product(n),
                    location: a02(),
                    lot: None,
                },
                row: StockRow {
                    on_hand: i64::from(n % 50 + 1),
                    allocated: 0,
                    last_count: None,
                },
            });
        }
        r.apply_pull(&page).unwrap();
    }
    let skus = |search: Search| -> Vec<String> {
        r.stock(&StockQuery {
            search: Some(search),
            limit: Some(1_000),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|l| {
            assert_eq!(
                l.on_hand,
                i64::from(l.sku[4..].parse::<u32>().unwrap() % 50 + 1)
            );
            l.sku
        })
        .collect()
    };

    let expected: Vec<String> = (12_340..12_350).map(|n| format!("SKU-{n:06}")).collect();
    assert_eq!(skus(Search::SkuPrefix("sku-01234".into())), expected);

    let hit = skus(Search::Barcode("INT-77777".into()));
    assert_eq!(hit, ["SKU-077777"]);
    assert!(skus(Search::Barcode("INT-777777".into())).is_empty());

    // "9999 " in a name: products 9999 and 19999 … 99999 (names have the number then a
    // space), filtered to one colour to check the whole condition.
    let mut expected: Vec<String> = (0..PRODUCTS)
        .filter(|n| name(*n).to_lowercase().contains("9999 teal"))
        .map(|n| format!("SKU-{n:06}"))
        .collect();
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(skus(Search::Name("9999 TEAL".into())), expected);

    // Limits hold on a broad search, in SKU order.
    let first = skus(Search::Any("sku-0".into()));
    assert_eq!(first.len(), 1_000);
    assert_eq!(first[0], "SKU-000000");
    assert_eq!(first[999], "SKU-000999");
}
