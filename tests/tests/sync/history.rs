//! The movement history of a product or bin on a device: the server's pages with this
//! device's unsent entries on top, and the device's own journal when the server is gone.

use logiflow_core::{LocationId, OutcomeName, ProductId};
use logiflow_replica::{History, HistoryOf, HistoryQuery, ItemRef, Named};

use crate::flows::{receive, ship};
use crate::harness::*;

fn product_id(d: &Device, sku: &str) -> ProductId {
    d.replica
        .resolve_item(&ItemRef::Sku(sku.into()))
        .unwrap()
        .id
}

fn history(d: &mut Device, of: HistoryOf, cursor: Option<String>, limit: u32) -> History {
    let Device {
        replica,
        client,
        store,
        ..
    } = d;
    replica
        .history(
            Some((&*client, &*store)),
            &HistoryQuery {
                of,
                cursor,
                limit: Some(limit),
            },
        )
        .unwrap()
}

/// (kind, qty, from, to, local, by this device) of an entry.
type Line = (String, i64, Option<String>, Option<String>, bool, bool);

fn summary(h: &History) -> Vec<Line> {
    h.entries
        .iter()
        .map(|e| {
            (
                e.kind.to_string(),
                e.qty,
                e.from.clone(),
                e.to.clone(),
                e.local,
                e.by_this_device,
            )
        })
        .collect()
}

fn entry(
    kind: &str,
    qty: i64,
    from: Option<&str>,
    to: Option<&str>,
    local: bool,
    mine: bool,
) -> Line {
    (
        kind.into(),
        qty,
        from.map(Into::into),
        to.map(Into::into),
        local,
        mine,
    )
}

#[test]
fn a_history_is_the_servers_with_unsent_entries_on_top_and_the_journal_offline() {
    let mut server = Server::start("history");
    let catalog = seed(&server, 2, 2);
    let base = server.base.clone();
    let mut r1 = connect(&server, &base, "dock 1");
    let mut r2 = connect(&server, &base, "dock 2");
    let sku1 = product_id(&r1, "SKU-1");
    let b1: LocationId = catalog.location_ids[0].parse().unwrap();

    r1.replica.record(&receive("SKU-1", "B1", 10)).unwrap();
    r1.replica.record(&receive("SKU-2", "B1", 3)).unwrap();
    r1.sync().unwrap();
    r2.sync().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    r2.replica.record(&ship("SKU-1", "B1", 4)).unwrap();

    // r2's ship is not sent: it leads, marked local; then the server's, newest first.
    let h = history(&mut r2, HistoryOf::Product(sku1), None, 50);
    assert_eq!(h.unavailable, None);
    assert_eq!(
        summary(&h),
        [
            entry("ship", 4, Some("B1"), None, true, true),
            entry("receive", 10, None, Some("B1"), false, false),
        ]
    );
    assert_eq!(h.entries[0].outcome, None);
    assert_eq!(
        h.entries[1].outcome,
        Some(Named::Known(OutcomeName::Applied))
    );
    assert_eq!(h.entries[1].sku, "SKU-1");
    assert!(h.entries.iter().all(|e| e.warehouse_id.is_some()));

    // A bin's history has both products; once sent, r2's ship is the server's, and
    // pages follow the cursor.
    r2.sync().unwrap();
    let first = history(&mut r1, HistoryOf::Location(b1), None, 2);
    assert_eq!(
        summary(&first),
        [
            entry("ship", 4, Some("B1"), None, false, false),
            entry("receive", 3, None, Some("B1"), false, true),
        ]
    );
    let next = first.next_cursor.clone().expect("a next page");
    let second = history(&mut r1, HistoryOf::Location(b1), Some(next), 2);
    assert_eq!(
        summary(&second),
        [entry("receive", 10, None, Some("B1"), false, true)]
    );
    assert_eq!(second.next_cursor, None);
    // Reading a history is no sync: the last sync's time stays as it was.
    let before = r1.replica.status().unwrap().last_sync_at;
    history(&mut r1, HistoryOf::Product(sku1), None, 50);
    assert_eq!(r1.replica.status().unwrap().last_sync_at, before);

    // Offline: this device's own entries of the product, and why the rest is missing.
    server.stop();
    r2.replica.record(&ship("SKU-1", "B1", 1)).unwrap();
    let h = history(&mut r2, HistoryOf::Product(sku1), None, 50);
    assert!(h.unavailable.is_some(), "{h:?}");
    assert_eq!(
        summary(&h),
        [
            entry("ship", 1, Some("B1"), None, true, true),
            entry("ship", 4, Some("B1"), None, false, true),
        ]
    );
    assert_eq!(h.next_cursor, None);
    server.restart();
}
