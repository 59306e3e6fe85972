//! Search on a catalog of 100,000 products: correct results (no timing asserts).

use logiflow_core::{
    Barcode, Cursor, PULL_PAGE_MAX, ProductId, ProductRecord, PullPage, RowState, Sku, StockKey,
    StockRow,
};
use logiflow_replica::{Replica, Search, StockQuery};
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
        purchase_orders: vec![],
        sales_orders: vec![],
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
                reorder_point: 0,
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

/// Names that make substring search tricky: case, accents, letters whose lowercase is
/// longer, SQL LIKE and FTS5 query syntax, quotes, spaces and very short names.
const TRICKY: [&str; 16] = [
    "Crème Brûlée 100%",
    "CRÈME fraîche",
    "Straße Schild",
    "İstanbul Çay",
    "50% off_sale",
    "a_b%c\\d",
    "Say \"hello\" world",
    "it's OR NOT AND NEAR",
    "col:umn * (x) ^y",
    "  padded  name  ",
    "Ab",
    "x",
    "ÅNGSTRÖM ångström",
    "emoji 🍺 beer",
    "naïve café",
    "plain widget",
];

/// `name` contains `query`, case-insensitively: the meaning the search had before the
/// trigram index, which it must keep.
fn contains(name: &str, query: &str) -> bool {
    name.to_lowercase().contains(&query.trim().to_lowercase())
}

#[test]
fn name_search_means_case_insensitive_substring_whatever_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = ready(&dir.path().join("replica.db"));
    let product = |n: usize| ProductId::from_uuid(Uuid::from_u128(0x7_0000 + n as u128));
    let sku = |n: usize| format!("T-{n:02}");
    let mut page = PullPage {
        cursor: Cursor::new("tricky"),
        warehouses: vec![],
        locations: vec![],
        lots: vec![],
        ..catalog_page()
    };
    page.products = TRICKY
        .iter()
        .enumerate()
        .map(|(n, name)| ProductRecord {
            id: product(n),
            sku: Sku::parse(&sku(n)).unwrap(),
            name: (*name).to_owned(),
            barcodes: vec![],
            lot_tracked: false,
            active: true,
            reorder_point: 0,
        })
        .collect();
    // Half of them have a pulled row; the others only get one from the journal below.
    page.rows = (0..TRICKY.len())
        .step_by(2)
        .map(|n| RowState {
            key: StockKey {
                product: product(n),
                location: a02(),
                lot: None,
            },
            row: StockRow {
                on_hand: 5,
                allocated: 0,
                last_count: None,
            },
        })
        .collect();
    r.apply_pull(&page).unwrap();
    // Pending receipts: into the pulled row for some, into a bin with no row for the
    // others (those rows exist only in the projection).
    for n in (0..TRICKY.len()).step_by(3) {
        r.record(&logiflow_replica::Action {
            expires_on: None,
            item: logiflow_replica::ItemRef::Sku(sku(n)),
            lot: None,
            warehouse: None,
            op: logiflow_replica::Op::Receive {
                to: if n % 2 == 0 { "A-02" } else { "B-01" }.into(),
                qty: 2,
            },
            reference: None,
        })
        .unwrap();
    }
    let found = |r: &Replica, search: Search| -> Vec<String> {
        r.stock(&StockQuery {
            search: Some(search),
            limit: Some(1_000),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|l| l.sku)
        .filter(|s| s.starts_with("T-"))
        .collect()
    };
    // Every product with a row, pulled or projected.
    let shown: Vec<usize> = (0..TRICKY.len())
        .filter(|n| n % 2 == 0 || n % 3 == 0)
        .collect();
    let queries = [
        "crème",
        "CRÈME",
        "creme",
        "brûlée 100%",
        "100%",
        "%",
        "_",
        "0% o",
        "a_b",
        "%c\\d",
        "\\",
        "\"hello\"",
        "\"",
        "say \"",
        "'s or not",
        "OR",
        "NEAR",
        "col:umn",
        "* (x)",
        "^y",
        "padded  name",
        "  padded ",
        "ab",
        "a",
        "x",
        "ß",
        "straße",
        "STRASSE",
        "i̇stanbul",
        "istanbul",
        "çay",
        "ångström",
        "ÅNGSTRÖM Å",
        "🍺",
        "🍺 b",
        "naïve",
        "naive",
        "é",
        "e",
        "",
        "   ",
        "widget",
        "zzz",
        "ee",
        "plain widget",
        "lain widge",
    ];
    let mut hits = 0;
    for q in queries {
        let expected: Vec<String> = shown
            .iter()
            .filter(|&&n| contains(TRICKY[n], q))
            .map(|&n| sku(n))
            .collect();
        hits += usize::from(!expected.is_empty());
        assert_eq!(
            found(&r, Search::Name(q.into())),
            expected,
            "name search {q:?}"
        );
        // `Any` adds SKU prefixes and exact barcodes (none here but "T-…" prefixes).
        let expected_any: Vec<String> = shown
            .iter()
            .filter(|&&n| {
                contains(TRICKY[n], q) || sku(n).starts_with(&q.trim().to_ascii_uppercase())
            })
            .map(|&n| sku(n))
            .collect();
        assert_eq!(
            found(&r, Search::Any(q.into())),
            expected_any,
            "any search {q:?}"
        );
    }

    assert!(hits > 30, "only {hits} queries found something");

    // A renamed product is found by its new name only (the index follows the rows).
    let mut renamed = page.clone();
    renamed.cursor = Cursor::new("renamed");
    renamed.rows.clear();
    renamed.products.truncate(1);
    renamed.products[0].name = "Sorbet".into();
    r.apply_pull(&renamed).unwrap();
    assert!(found(&r, Search::Name("crème brû".into())).is_empty());
    assert_eq!(found(&r, Search::Name("sorb".into())), [sku(0)]);
    assert!(found(&r, Search::Name("100%".into())).is_empty());
}

/// The trigram index agrees with the product table (FTS5's own check compares an
/// external-content index with its table).
fn index_is_consistent(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(
        "insert into product_name_fts (product_name_fts, rank) values ('integrity-check', 1)",
        [],
    )
    .unwrap();
}

#[test]
fn catalog_changes_within_a_page_keep_skus_barcodes_and_the_name_index_right() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica.db");
    let mut r = ready(&path);
    let product = |n: u128| ProductId::from_uuid(Uuid::from_u128(0x8_0000 + n));
    let record = |n: u128, sku: &str, name: &str, barcode: &str| ProductRecord {
        id: product(n),
        sku: Sku::parse(sku).unwrap(),
        name: name.into(),
        barcodes: vec![Barcode::parse(barcode).unwrap()],
        lot_tracked: false,
        active: true,
        reorder_point: 0,
    };
    let page = |cursor: &str, products: Vec<ProductRecord>| PullPage {
        cursor: Cursor::new(cursor),
        warehouses: vec![],
        locations: vec![],
        lots: vec![],
        rows: vec![],
        products,
        ..catalog_page()
    };
    let row = |n: u128| RowState {
        key: StockKey {
            product: product(n),
            location: a02(),
            lot: None,
        },
        row: StockRow {
            on_hand: 1,
            allocated: 0,
            last_count: None,
        },
    };
    let mut first = page(
        "p1",
        vec![
            record(1, "CUP-1", "Red cup", "INT-1"),
            record(2, "CUP-2", "Blue cup", "INT-2"),
        ],
    );
    first.rows = vec![row(1), row(2)];
    r.apply_pull(&first).unwrap();
    index_is_consistent(&path);

    // One page: the SKUs and a barcode change hands, product 3 arrives and is renamed
    // further down the same page, and product 1 is renamed.
    let mut second = page(
        "p2",
        vec![
            record(1, "CUP-2", "Green mug", "INT-2"),
            record(3, "JUG-3", "Milk jug", "INT-3"),
            record(2, "CUP-1", "Blue cup", "INT-1"),
            record(3, "JUG-3", "Water jug", "INT-3"),
        ],
    );
    second.rows = vec![row(3)];
    r.apply_pull(&second).unwrap();
    index_is_consistent(&path);

    let find = |r: &Replica, search: Search| -> Vec<(String, String)> {
        r.stock(&StockQuery {
            search: Some(search),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|l| (l.sku, l.name))
        .collect()
    };
    let pair = |sku: &str, name: &str| (sku.to_owned(), name.to_owned());
    assert_eq!(
        find(&r, Search::SkuPrefix("CUP".into())),
        [pair("CUP-1", "Blue cup"), pair("CUP-2", "Green mug")]
    );
    assert_eq!(
        find(&r, Search::Barcode("INT-1".into())),
        [pair("CUP-1", "Blue cup")]
    );
    assert_eq!(
        find(&r, Search::Barcode("INT-2".into())),
        [pair("CUP-2", "Green mug")]
    );
    assert_eq!(
        find(&r, Search::Name("jug".into())),
        [pair("JUG-3", "Water jug")]
    );
    assert!(find(&r, Search::Name("milk jug".into())).is_empty());
    assert!(find(&r, Search::Name("red cup".into())).is_empty());
    assert_eq!(
        find(&r, Search::Name("en mu".into())),
        [pair("CUP-2", "Green mug")]
    );

    // The same page again changes nothing.
    r.apply_pull(&second).unwrap();
    index_is_consistent(&path);
    assert_eq!(
        find(&r, Search::Name("cup".into())),
        [pair("CUP-1", "Blue cup")]
    );
}
