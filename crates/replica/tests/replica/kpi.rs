//! The dashboard's stock figures (pulled stock with the live journal replayed, low stock
//! per warehouse against the reorder point) and the Sync screen's recent entries.

use logiflow_core::{Cursor, ProductRecord};
use logiflow_replica::{LowStockLine, Op};

use crate::fixture::*;

fn line(sku: &str, name: &str, available: i64, reorder_point: i64) -> LowStockLine {
    LowStockLine {
        warehouse_code: "W1".into(),
        sku: sku.into(),
        name: name.into(),
        available,
        reorder_point,
    }
}

#[test]
fn figures_follow_the_journal_and_the_reorder_points() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = ready(&dir.path().join("replica.db"));

    // As pulled: 10 BOLT-10 in A-01, below its reorder point of 20.
    let k = r.stock_kpis(10).unwrap();
    assert_eq!((k.on_hand, k.products_in_stock, k.low_stock), (10, 1, 1));
    assert_eq!(k.low, [line("BOLT-10", "Hex bolt M10", 10, 20)]);

    // A receipt recorded here, not yet sent, counts at once (as on the Stock screen).
    r.record(&action(
        "BOLT-10",
        Op::Receive {
            to: "A-02".into(),
            qty: 15,
        },
    ))
    .unwrap();
    let k = r.stock_kpis(10).unwrap();
    assert_eq!((k.on_hand, k.products_in_stock, k.low_stock), (25, 1, 0));
    assert!(k.low.is_empty());

    // MILK-1 gets a reorder point with a catalog change; it has no stock at all, which
    // is the most urgent case, yet its shortfall (5) is smaller than BOLT-10's once
    // BOLT-10 ships 14 (available 11, shortfall 9).
    let mut page = catalog_page();
    page.cursor = Cursor::new("c2");
    page.warehouses.clear();
    page.locations.clear();
    page.lots.clear();
    page.rows.clear();
    page.products
        .retain(|p: &ProductRecord| p.sku.as_str() == "MILK-1");
    page.products[0].reorder_point = 5;
    r.apply_pull(&page).unwrap();
    r.record(&action(
        "BOLT-10",
        Op::Ship {
            from: "A-02".into(),
            qty: 14,
        },
    ))
    .unwrap();
    let k = r.stock_kpis(10).unwrap();
    assert_eq!((k.on_hand, k.products_in_stock, k.low_stock), (11, 1, 2));
    assert_eq!(
        k.low,
        [
            line("BOLT-10", "Hex bolt M10", 11, 20),
            line("MILK-1", "Milk 1L", 0, 5)
        ]
    );
    // The list is cut, the count is not.
    let k = r.stock_kpis(1).unwrap();
    assert_eq!((k.low_stock, k.low.len()), (2, 1));
}

#[test]
fn recent_entries_are_the_newest_first_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = ready(&dir.path().join("replica.db"));
    for qty in 1..=3 {
        r.record(&action(
            "BOLT-10",
            Op::Receive {
                to: "A-02".into(),
                qty,
            },
        ))
        .unwrap();
    }
    let seqs: Vec<u64> = r.recent(2).unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [3, 2]);
    assert_eq!(r.recent(100).unwrap().len(), 3);
}
