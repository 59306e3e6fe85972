//! Orders offline through the real stack (issue #15): a device with no connection
//! receives against a purchase order (beyond what was ordered) and picks a sales order,
//! while the server cancels another sales order and a second device, offline too, ships
//! from the same bin. After both sync, the server and both replicas agree on the stock,
//! the documents count what arrived and left, no reservation is left on the bin, and the
//! inbox holds exactly the over-receipt.

use logiflow_core::LineRef;
use logiflow_replica::{Action, ItemRef, Op, StockQuery};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

fn action(sku: &str, op: Op, reference: Option<LineRef>) -> Action {
    Action {
        item: ItemRef::Sku(sku.into()),
        lot: None,
        expires_on: None,
        warehouse: None,
        op,
        reference,
    }
}

/// `POST path` as the admin, expecting `status`.
fn post(server: &Server, path: &str, body: Value, status: u16) -> Value {
    server.send(
        reqwest::Method::POST,
        path,
        Some(&server.admin_token),
        Some(body),
        status,
    )
}

fn id(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

/// The device's projected stock as (sku, bin, on hand), non-zero, sorted.
fn projected(device: &Device) -> Vec<(String, String, i64)> {
    let mut lines: Vec<_> = device
        .replica
        .stock(&StockQuery::default())
        .unwrap()
        .into_iter()
        .filter(|l| l.on_hand != 0)
        .map(|l| (l.sku, l.location_code, l.on_hand))
        .collect();
    lines.sort();
    lines
}

#[test]
fn a_po_received_and_an_so_picked_offline_meet_a_cancel_and_another_devices_ship() {
    let mut server = Server::start("orders-offline");
    let cat = seed(&server, 2, 2);
    let warehouse = id(&server.get("/v1/warehouses")["items"][0]);
    let product =
        |sku: &str| id(&server.get(&format!("/v1/products?sku_prefix={sku}"))["items"][0]);
    let (p1, p2) = (product("SKU-1"), product("SKU-2"));
    server.receive_online("SKU-2", &cat.location_ids[0], 10);

    let supplier = server.create("/v1/suppliers", json!({"code": "SUP", "name": "Supplier"}));
    let po = server.create(
        "/v1/purchase-orders",
        json!({"supplier_id": supplier["id"], "warehouse_id": warehouse,
               "lines": [{"product_id": p1, "qty": 10, "unit_cost": "2.50"}]}),
    );
    post(
        &server,
        &format!("/v1/purchase-orders/{}/order", id(&po)),
        json!({}),
        200,
    );
    let customer = server.create("/v1/customers", json!({"code": "CUS", "name": "Customer"}));
    let sales_order = |qty: i64| {
        let so = server.create(
            "/v1/sales-orders",
            json!({"customer_id": customer["id"], "warehouse_id": warehouse,
                   "requested_on": "2027-01-15",
                   "lines": [{"product_id": p2, "qty": qty, "unit_price": "9.90"}]}),
        );
        post(
            &server,
            &format!("/v1/sales-orders/{}/confirm", id(&so)),
            json!({}),
            200,
        )
    };
    let (so1, so2) = (sales_order(3), sales_order(2));
    assert_eq!(so1["lines"][0]["allocated"], 3, "{so1}");
    assert_eq!(so2["lines"][0]["allocated"], 2, "{so2}");

    let mut a = connect(&server, &server.base, "dock-a");
    let mut b = connect(&server, &server.base, "dock-b");
    a.sync().unwrap();
    b.sync().unwrap();

    server.stop();
    // A receives 12 against the PO line of 10 (the truck brought more) and picks SO1.
    let po_line: Uuid = po["lines"][0]["id"].as_str().unwrap().parse().unwrap();
    let so1_line: Uuid = so1["lines"][0]["id"].as_str().unwrap().parse().unwrap();
    a.replica
        .record(&action(
            "SKU-1",
            Op::Receive {
                to: "B2".into(),
                qty: 12,
            },
            Some(LineRef::PurchaseLine(po_line)),
        ))
        .unwrap();
    a.replica
        .record(&action(
            "SKU-2",
            Op::Ship {
                from: "B1".into(),
                qty: 3,
            },
            Some(LineRef::SalesLine(so1_line)),
        ))
        .unwrap();
    // B ships 4 from the same bin, naming no order.
    b.replica
        .record(&action(
            "SKU-2",
            Op::Ship {
                from: "B1".into(),
                qty: 4,
            },
            None,
        ))
        .unwrap();

    server.restart();
    // Meanwhile on the server: SO2 is cancelled, which releases its 2.
    post(
        &server,
        &format!("/v1/sales-orders/{}/cancel", id(&so2)),
        json!({}),
        200,
    );
    b.sync().unwrap();
    a.sync().unwrap();
    b.sync().unwrap();
    a.sync().unwrap();

    let mut stock = server.stock();
    stock.sort();
    let want = vec![
        ("SKU-1".to_owned(), "B2".to_owned(), 12),
        ("SKU-2".to_owned(), "B1".to_owned(), 3),
    ];
    assert_eq!(stock, want);
    for device in [&a, &b] {
        assert_eq!(
            projected(device),
            want,
            "a replica disagrees with the server"
        );
    }

    let po = server.get(&format!("/v1/purchase-orders/{}", id(&po)));
    assert_eq!(po["lines"][0]["received"], 12, "{po}");
    assert_eq!(po["status"], "received", "{po}");
    let so1 = server.get(&format!("/v1/sales-orders/{}", id(&so1)));
    assert_eq!(
        (&so1["lines"][0]["picked"], &so1["lines"][0]["allocated"]),
        (&json!(3), &json!(0)),
        "{so1}"
    );
    let so2 = server.get(&format!("/v1/sales-orders/{}", id(&so2)));
    assert_eq!(so2["status"], "cancelled", "{so2}");
    assert_eq!(so2["lines"][0]["allocated"], 0, "{so2}");
    // Nothing is left reserved on the bin, and every reservation row is gone.
    let (allocated, reservations): (i64, i64) = server.block_on(async {
        sqlx::query_as(
            "select (select coalesce(sum(allocated), 0)::bigint from stock_row where tenant_id = $1),
                    (select count(*) from allocation where tenant_id = $1)",
        )
        .bind(server.tenant)
        .fetch_one(&server.owner)
        .await
        .unwrap()
    });
    assert_eq!((allocated, reservations), (0, 0));

    // The inbox: exactly the over-receipt, for a person to look at.
    assert_eq!(server.review_flags(), vec!["over_receipt"]);
}
