//! The low-stock rule exists once (issue #14, point 3): on one fixture, the server's
//! low-stock list, its `below_reorder` stock filter and its `stock.low` alert sweep, and
//! a synced replica's dashboard name the same (warehouse, product, shortfall) set, the
//! one `logiflow_core::reorder` gives for the fixture. A warehouse of the device's scope
//! deactivated after it connected is watched by neither side.

use std::collections::{BTreeMap, BTreeSet};

use logiflow_core::reorder::{available, shortfall};
use serde_json::json;
use uuid::Uuid;

use crate::harness::*;

type Low = BTreeSet<(String, String, i64)>;

/// A product of the fixture: SKU, reorder point, active, and its rows per warehouse as
/// (bin, on hand, allocated).
struct Product {
    sku: &'static str,
    reorder_point: i64,
    active: bool,
    rows: &'static [(&'static str, &'static str, i64, i64)],
}

/// Two warehouses (`WH1`: bins `A1`, `A2`; `WH2`: bin `C1`), both in the device's scope.
const PRODUCTS: &[Product] = &[
    // Low in WH1 (4 < 10) and in WH2, where it has no row at all (shortfall 10).
    Product {
        sku: "LOW-ONE-SITE",
        reorder_point: 10,
        active: true,
        rows: &[("WH1", "A1", 4, 0)],
    },
    // No reorder point: never low, with stock or without.
    Product {
        sku: "NO-POINT",
        reorder_point: 0,
        active: true,
        rows: &[("WH1", "A1", 1, 0)],
    },
    // Inactive: not watched, though it has nothing anywhere.
    Product {
        sku: "INACTIVE",
        reorder_point: 5,
        active: false,
        rows: &[],
    },
    // WH1: 12 on hand of which 6 allocated, available 6 < 8 (two rows, one empty);
    // WH2: 20, fine.
    Product {
        sku: "ALLOCATED",
        reorder_point: 8,
        active: true,
        rows: &[
            ("WH1", "A1", 12, 6),
            ("WH1", "A2", 0, 0),
            ("WH2", "C1", 20, 0),
        ],
    },
    // WH1: exactly at the point, not low; WH2: below zero on hand (left so by offline
    // work), shortfall 3 − (−2) = 5.
    Product {
        sku: "NEGATIVE",
        reorder_point: 3,
        active: true,
        rows: &[("WH1", "A2", 3, 0), ("WH2", "C1", -2, 0)],
    },
];

const WAREHOUSES: [&str; 2] = ["WH1", "WH2"];

/// A third warehouse of the device's scope, with no stock: every watched product would
/// be low there, but it is deactivated once the device has connected.
const DEACTIVATED: &str = "WH3";

/// What `logiflow_core::reorder` says of the fixture.
fn expected() -> Low {
    let mut low = Low::new();
    for p in PRODUCTS.iter().filter(|p| p.active) {
        for w in WAREHOUSES {
            let rows = p.rows.iter().filter(|r| r.0 == w).map(|r| (r.2, r.3));
            if let Some(s) = shortfall(p.reorder_point, available(rows)) {
                low.insert((w.to_owned(), p.sku.to_owned(), s));
            }
        }
    }
    low
}

/// Puts the fixture on the server: catalog and receipts through the API, allocations and
/// the negative row as the owner (no API makes them directly). Returns the warehouse
/// codes by id.
fn fixture(server: &Server) -> BTreeMap<String, String> {
    let mut bins: BTreeMap<&str, String> = BTreeMap::new();
    let mut codes = BTreeMap::new();
    for (w, w_bins) in [
        ("WH1", &["A1", "A2"][..]),
        ("WH2", &["C1"][..]),
        (DEACTIVATED, &["D1"][..]),
    ] {
        let wh = server.create(
            "/v1/warehouses",
            json!({"code": w, "name": w, "timezone": "Europe/Paris"}),
        );
        codes.insert(wh["id"].as_str().unwrap().to_owned(), w.to_owned());
        for &b in w_bins {
            let l = server.create(
                "/v1/locations",
                json!({"warehouse_id": wh["id"], "code": b, "name": b}),
            );
            bins.insert(b, l["id"].as_str().unwrap().to_owned());
        }
    }
    for p in PRODUCTS {
        let made = server.create(
            "/v1/products",
            json!({"sku": p.sku, "name": p.sku, "barcodes": [],
                   "reorder_point": p.reorder_point}),
        );
        let id: Uuid = made["id"].as_str().unwrap().parse().unwrap();
        for &(_, bin, on_hand, allocated) in p.rows {
            // A receipt makes the row; the owner then sets what no API sets directly.
            server.receive_online(p.sku, &bins[bin], on_hand.max(1));
            let location: Uuid = bins[bin].parse().unwrap();
            server.block_on(async {
                sqlx::query(
                    "update stock_row set on_hand = $3, allocated = $4
                     where product_id = $1 and location_id = $2",
                )
                .bind(id)
                .bind(location)
                .bind(on_hand)
                .bind(allocated)
                .execute(&server.owner)
                .await
                .unwrap()
            });
        }
        if !p.active {
            server.send(
                reqwest::Method::PATCH,
                &format!("/v1/products/{id}"),
                Some(&server.admin_token),
                Some(json!({"active": false})),
                200,
            );
        }
    }
    codes
}

#[test]
fn server_and_replica_list_the_low_stock_core_names() {
    let server = Server::start("lowstock");
    let codes = fixture(&server);
    // A replica keeping the three warehouses; then the third is deactivated.
    let mut d = connect_scoped(
        &server,
        &server.base.clone(),
        "low-1",
        &server.email,
        &["WH1", "WH2", DEACTIVATED],
    );
    let before = d.replica.stock_kpis(100).unwrap();
    assert!(
        before.low.iter().any(|l| l.warehouse_code == DEACTIVATED),
        "while active, the third warehouse is watched: {before:?}"
    );
    let wh3 = codes
        .iter()
        .find(|(_, c)| c.as_str() == DEACTIVATED)
        .unwrap()
        .0;
    server.send(
        reqwest::Method::PATCH,
        &format!("/v1/warehouses/{wh3}"),
        Some(&server.admin_token),
        Some(json!({"active": false})),
        200,
    );
    let want = expected();
    assert_eq!(
        want,
        [
            ("WH1", "ALLOCATED", 2),
            ("WH1", "LOW-ONE-SITE", 6),
            ("WH2", "LOW-ONE-SITE", 10),
            ("WH2", "NEGATIVE", 5),
        ]
        .into_iter()
        .map(|(w, s, n)| (w.to_owned(), s.to_owned(), n))
        .collect::<Low>(),
        "the fixture covers the rule's cases"
    );

    // The low-stock list.
    let list = server.get("/v1/stock/low?limit=100");
    assert!(list["next_cursor"].is_null(), "{list}");
    let listed: Low = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["warehouse_code"].as_str().unwrap().to_owned(),
                i["sku"].as_str().unwrap().to_owned(),
                i["shortfall"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, want, "GET /v1/stock/low");

    // The stock rows below the reorder point: those of the low pairs that have rows.
    let rows = server.get("/v1/stock?below_reorder=true&include_empty=true&limit=100");
    let pairs: BTreeSet<(String, String)> = rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                codes[i["warehouse_id"].as_str().unwrap()].clone(),
                i["sku"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let with_rows: BTreeSet<(String, String)> = want
        .iter()
        .filter(|(w, sku, _)| {
            PRODUCTS
                .iter()
                .any(|p| p.sku == sku.as_str() && p.rows.iter().any(|r| r.0 == w.as_str()))
        })
        .map(|(w, sku, _)| (w.clone(), sku.clone()))
        .collect();
    assert_eq!(pairs, with_rows, "GET /v1/stock?below_reorder=true");

    // The alert sweep.
    crate::alerts::sweep(&server);
    let alerted: Vec<(String, String, i64)> = server.block_on(async {
        sqlx::query_as(
            "select payload->>'warehouse_code', payload->>'sku',
                    (payload->>'shortfall')::bigint
             from alert where kind = 'stock.low' and resolved_at is null",
        )
        .fetch_all(&server.owner)
        .await
        .unwrap()
    });
    assert_eq!(
        alerted.into_iter().collect::<Low>(),
        want,
        "stock.low alerts"
    );

    // The replica, synced since.
    d.sync().unwrap();
    let kpis = d.replica.stock_kpis(100).unwrap();
    let shown: Low = kpis
        .low
        .iter()
        .map(|l| {
            (
                l.warehouse_code.clone(),
                l.sku.clone(),
                l.reorder_point - l.available,
            )
        })
        .collect();
    assert_eq!(shown, want, "the replica's dashboard");
    assert_eq!(kpis.low_stock, want.len() as u64);
}
