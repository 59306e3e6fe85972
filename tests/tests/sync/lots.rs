//! Lots received offline (`logiflow_core::lots`, DESIGN §5.6): two devices with no
//! connection each receive goods of a lot neither knows, one of them moves some on;
//! after both sync, the server holds one lot of that code with the first device's
//! expiry date, the second device's receipt is in it and flagged, and both replicas show
//! the server's lot. The CLI takes the expiry date at receipt and refuses a bad one.

use logiflow_replica::{Action, Error, ItemRef, Op, StockQuery};
use serde_json::json;

use crate::cli::{cli_connect, json_of};
use crate::harness::*;

fn lot_action(lot: &str, expires_on: Option<&str>, op: Op) -> Action {
    Action {
        item: ItemRef::Sku("MILK".into()),
        lot: Some(lot.into()),
        expires_on: expires_on.map(str::to_owned),
        warehouse: None,
        op,
        reference: None,
    }
}

/// The device's projected stock of MILK as (bin, lot code, on hand), sorted.
fn milk(device: &Device) -> Vec<(String, Option<String>, i64)> {
    let mut lines: Vec<_> = device
        .replica
        .stock(&StockQuery::default())
        .unwrap()
        .into_iter()
        .filter(|l| l.sku == "MILK" && l.on_hand != 0)
        .map(|l| (l.location_code, l.lot_code, l.on_hand))
        .collect();
    lines.sort();
    lines
}

/// The replica's lots of code `code` as (local, expiry).
fn replica_lots(device: &Device, code: &str) -> Vec<(i64, Option<String>)> {
    let conn = rusqlite::Connection::open(device.db()).unwrap();
    let mut stmt = conn
        .prepare("select local, expires_on from lot where code = ?1 order by local")
        .unwrap();
    stmt.query_map([code], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn two_devices_receive_one_new_lot_offline_and_the_server_keeps_one() {
    let mut server = Server::start("lots-offline");
    seed(&server, 2, 1);
    server.create(
        "/v1/products",
        json!({"sku": "MILK", "name": "Milk", "lot_tracked": true, "expiry_policy": "fefo", "barcodes": []}),
    );
    let mut a = connect(&server, &server.base, "dock-a");
    let mut b = connect(&server, &server.base, "dock-b");

    server.stop();
    // A receives lot L9 (new to it), then moves 2 of it on: the local lot serves both.
    let recorded = a
        .replica
        .record(&lot_action(
            "L9",
            Some("2027-06-30"),
            Op::Receive {
                to: "B1".into(),
                qty: 6,
            },
        ))
        .unwrap();
    assert!(
        recorded.warnings.iter().any(|w| w.code == "new_lot"),
        "{:?}",
        recorded.warnings
    );
    a.replica
        .record(&lot_action(
            "L9",
            None,
            Op::Transfer {
                from: "B1".into(),
                to: "B2".into(),
                qty: 2,
            },
        ))
        .unwrap();
    // A ship of a lot nobody has is refused at once: only a receipt creates a lot.
    let refused = a.replica.record(&lot_action(
        "L-NONE",
        None,
        Op::Ship {
            from: "B1".into(),
            qty: 1,
        },
    ));
    assert!(
        matches!(refused, Err(Error::UnknownLot { .. })),
        "{refused:?}"
    );
    // B receives the same printed lot with another date on its label.
    b.replica
        .record(&lot_action(
            "L9",
            Some("2027-07-31"),
            Op::Receive {
                to: "B2".into(),
                qty: 3,
            },
        ))
        .unwrap();
    assert_eq!(
        milk(&a),
        vec![
            ("B1".into(), Some("L9".into()), 4),
            ("B2".into(), Some("L9".into()), 2)
        ]
    );
    assert_eq!(replica_lots(&a, "L9"), vec![(1, Some("2027-06-30".into()))]);

    server.restart();
    a.sync().unwrap();
    b.sync().unwrap();
    a.sync().unwrap();
    b.sync().unwrap();

    let lots = server.get("/v1/lots?limit=50");
    let l9: Vec<_> = lots["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["code"] == "L9")
        .collect();
    assert_eq!(l9.len(), 1, "{lots}");
    assert_eq!(l9[0]["expires_on"], "2027-06-30");
    let mut stock = server.stock();
    stock.retain(|s| s.0 == "MILK");
    stock.sort();
    assert_eq!(
        stock,
        vec![
            ("MILK".into(), "B1".into(), 4),
            ("MILK".into(), "B2".into(), 5)
        ]
    );
    // B's receipt went into A's lot, flagged for a person to check the label.
    assert_eq!(server.review_flags(), vec!["lot_expiry_differs"]);

    // Both replicas now hold the server's lot only, and the server's stock.
    for device in [&a, &b] {
        assert_eq!(
            replica_lots(device, "L9"),
            vec![(0, Some("2027-06-30".into()))]
        );
        assert_eq!(
            milk(device),
            vec![
                ("B1".into(), Some("L9".into()), 4),
                ("B2".into(), Some("L9".into()), 5)
            ]
        );
    }
}

#[test]
fn the_cli_receives_into_a_new_lot_with_its_expiry_date_and_refuses_a_bad_date() {
    let server = Server::start("lots-cli");
    seed(&server, 1, 1);
    server.create(
        "/v1/products",
        json!({"sku": "MILK", "name": "Milk", "lot_tracked": true, "barcodes": []}),
    );
    let dir = tempfile::tempdir().unwrap();
    let (db, creds, _) = cli_connect(&server, dir.path(), &server.base, "station");

    let receive = |expires: &str| {
        let mut cmd = cli(&db, &creds);
        cmd.args([
            "--json",
            "receive",
            "MILK",
            "--by",
            "sku",
            "--lot",
            "L-CLI",
            "--expires",
            expires,
            "--to",
            "B1",
            "--qty",
            "2",
        ]);
        run(cmd, "")
    };
    let bad = receive("31/01/2027");
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    let err: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    let err = &err["error"];
    assert_eq!(err["code"], "invalid_input", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("YYYY-MM-DD"),
        "{err}"
    );

    let out = receive("2027-01-31");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recorded = json_of(&out);
    assert_eq!(recorded["warnings"][0]["code"], "new_lot", "{recorded}");

    let mut cmd = cli(&db, &creds);
    cmd.args(["--json", "sync"]);
    let out = run(cmd, "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lots = server.get("/v1/lots?limit=50");
    let got: Vec<(&str, &str)> = lots["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["code"].as_str().unwrap(),
                l["expires_on"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("L-CLI", "2027-01-31")],
        "the bad date wrote nothing"
    );
}

/// A device revoked before it could push a receipt into a lot it created: the exported
/// journal declares the lot, so the upload holds the receipt for review (not rejected as
/// an unknown lot), and forcing it puts the goods into that lot.
#[test]
fn a_revoked_devices_journal_brings_the_lots_it_created() {
    let server = Server::start("lots-upload");
    seed(&server, 1, 1);
    server.create(
        "/v1/products",
        json!({"sku": "MILK", "name": "Milk", "lot_tracked": true, "barcodes": []}),
    );
    let mut d = connect(&server, &server.base, "dock");
    d.replica
        .record(&lot_action(
            "L-LOST",
            Some("2027-03-31"),
            Op::Receive {
                to: "B1".into(),
                qty: 9,
            },
        ))
        .unwrap();
    let device = d.id();
    server.revoke(device);
    let file = d.replica.journal_file().unwrap();
    assert_eq!(file.lots.len(), 1, "{file:?}");

    let v = server.send(
        reqwest::Method::POST,
        &format!("/v1/devices/{device}/journal"),
        Some(&server.admin_token),
        Some(serde_json::to_value(&file).unwrap()),
        200,
    );
    assert_eq!((&v["held"], &v["rejected"]), (&json!(1), &json!(0)), "{v}");
    let lots = server.get("/v1/lots?limit=50");
    let lost: Vec<_> = lots["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["code"] == "L-LOST")
        .collect();
    assert_eq!(lost.len(), 1, "{lots}");
    assert_eq!(lost[0]["expires_on"], "2027-03-31");

    let id = v["movements"][0].as_str().unwrap();
    server.send(
        reqwest::Method::POST,
        &format!("/v1/movements/{id}/force"),
        Some(&server.admin_token),
        Some(json!({"reason": "the pallet is on the shelf"})),
        200,
    );
    let stock = server.get(&format!(
        "/v1/stock?lot_id={}",
        lost[0]["id"].as_str().unwrap()
    ));
    let rows = stock["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{stock}");
    assert_eq!(rows[0]["on_hand"], 9, "{stock}");
}
