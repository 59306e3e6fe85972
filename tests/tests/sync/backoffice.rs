//! The desktop's Back office through the replica (issue #16): requests go to the real
//! server with the device's session, so the signed-in person's role decides as on the
//! server; a refusal keeps the server's code and words; a route that is not the back
//! office's never leaves the device; offline it says so; and what it creates reaches the
//! device with the next sync like any catalog change.

use logiflow_replica::{BackofficeCall, Error, ItemRef};
use logiflow_server::rbac::Role;
use serde_json::{Value, json};

use crate::harness::*;

fn call(method: &str, path: &str, body: Option<Value>) -> BackofficeCall {
    BackofficeCall {
        method: method.into(),
        path: path.into(),
        body,
    }
}

fn send(
    d: &mut Device,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> logiflow_replica::Result<Value> {
    d.replica
        .backoffice(&d.client, &d.store, &call(method, path, body))
}

fn count(server: &Server, sql: &str) -> i64 {
    server.block_on(async {
        sqlx::query_scalar(sql)
            .fetch_one(&server.owner)
            .await
            .unwrap()
    })
}

#[test]
fn the_back_office_works_with_the_devices_session_and_keeps_the_servers_refusals() {
    let mut server = Server::start("backoffice");
    let catalog = seed(&server, 1, 1);
    let mut admin = connect(&server, &server.base.clone(), "bo-admin");

    // Who is signed in, as the Back office tab reads it.
    let me = send(&mut admin, "GET", "/v1/me", None).unwrap();
    assert_eq!(me["role"], "admin", "{me}");
    let permissions: Vec<&str> = me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        ["catalog_manage", "users_manage", "audit_read"]
            .iter()
            .all(|p| permissions.contains(p)),
        "{permissions:?}"
    );

    // A warehouse, a zone and a bin under it, and a product, created from the device.
    let wh = send(
        &mut admin,
        "POST",
        "/v1/warehouses",
        Some(json!({"code": "WH2", "name": "North", "timezone": "America/New_York"})),
    )
    .unwrap();
    assert_eq!(wh["timezone"], "America/New_York", "{wh}");
    let zone = send(
        &mut admin,
        "POST",
        "/v1/locations",
        Some(json!({"warehouse_id": wh["id"], "code": "Z1", "name": "Zone 1"})),
    )
    .unwrap();
    let bin = send(
        &mut admin,
        "POST",
        "/v1/locations",
        Some(json!({"parent_id": zone["id"], "code": "Z1-01"})),
    )
    .unwrap();
    assert_eq!(bin["parent_id"], zone["id"], "{bin}");
    let product = send(
        &mut admin,
        "POST",
        "/v1/products",
        Some(json!({"sku": "BO-1", "name": "Back office widget", "barcodes": ["4006381333931"], "cost": "1.25"})),
    )
    .unwrap();
    assert_eq!(product["cost"], "1.25", "{product}");
    assert_eq!(
        count(&server, "select count(*) from warehouse where code = 'WH2'"),
        1
    );

    // Reads with a query; a change (PATCH) answers the changed thing.
    let found = send(
        &mut admin,
        "GET",
        "/v1/products?q=back%20office&limit=10",
        None,
    )
    .unwrap();
    let skus: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["BO-1"], "{found}");
    let renamed = send(
        &mut admin,
        "PATCH",
        &format!("/v1/locations/{}", bin["id"].as_str().unwrap()),
        Some(json!({"name": "First bin"})),
    )
    .unwrap();
    assert_eq!(renamed["name"], "First bin", "{renamed}");

    // The server's refusal, with its code and words: a zone with a bin under it, and a
    // bin that holds stock, are not deleted.
    let refused = send(
        &mut admin,
        "DELETE",
        &format!("/v1/locations/{}", zone["id"].as_str().unwrap()),
        None,
    )
    .unwrap_err();
    match &refused {
        Error::Server {
            status,
            code,
            message,
        } => {
            assert_eq!((*status, code.as_str()), (409, "location_has_children"));
            assert!(!message.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(refused.code(), "server_refused");
    server.receive_online(&catalog.skus[0], &catalog.location_ids[0], 3);
    let with_stock = send(
        &mut admin,
        "DELETE",
        &format!("/v1/locations/{}", catalog.location_ids[0]),
        None,
    )
    .unwrap_err();
    assert!(
        matches!(&with_stock, Error::Server { code, .. } if code == "location_has_stock"),
        "{with_stock:?}"
    );
    // An empty bin is deleted (no content: null).
    let gone = send(
        &mut admin,
        "DELETE",
        &format!("/v1/locations/{}", bin["id"].as_str().unwrap()),
        None,
    )
    .unwrap();
    assert_eq!(gone, Value::Null);
    assert_eq!(
        count(
            &server,
            "select count(*) from location where code = 'Z1-01'"
        ),
        0
    );

    // A bad body is the server's 4xx, not a crash, and creates nothing.
    let bad = send(
        &mut admin,
        "POST",
        "/v1/products",
        Some(json!({"sku": "BO-2", "name": "x", "barcodes": ["4006381333932"]})),
    )
    .unwrap_err();
    assert!(
        matches!(
            &bad,
            Error::Server {
                status: 400 | 422,
                ..
            }
        ),
        "{bad:?}"
    );
    assert_eq!(
        count(&server, "select count(*) from product where sku = 'BO-2'"),
        0
    );

    // Routes that are the replica's own to track never leave the device.
    let movements = count(&server, "select count(*) from movement");
    for (method, path) in [
        ("POST", "/v1/movements"),
        ("POST", "/v1/sync/push"),
        ("POST", "/v1/devices"),
        ("GET", "/v1/products/../sync/pull"),
        ("GET", "/health"),
    ] {
        let err = send(&mut admin, method, path, Some(json!({}))).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field: "path", .. }),
            "{method} {path}: {err:?}"
        );
    }
    assert_eq!(count(&server, "select count(*) from movement"), movements);

    // What the back office created reaches the device with its next sync (the product;
    // the new warehouse is outside this device's scope).
    admin.sync().unwrap();
    let synced = admin
        .replica
        .resolve_item(&ItemRef::Barcode("4006381333931".into()))
        .unwrap();
    assert_eq!(synced.sku, "BO-1");

    // Someone whose role may not change the catalog is refused by the server, as there.
    server.user("op@backoffice.test", Role::Operator);
    let mut operator = connect_as(&server, &server.base.clone(), "bo-op", "op@backoffice.test");
    let me = send(&mut operator, "GET", "/v1/me", None).unwrap();
    assert_eq!(me["role"], "operator", "{me}");
    let forbidden = send(
        &mut operator,
        "POST",
        "/v1/warehouses",
        Some(json!({"code": "WH3", "name": "Nope", "timezone": "UTC"})),
    )
    .unwrap_err();
    assert!(matches!(forbidden, Error::Forbidden(_)), "{forbidden:?}");
    assert_eq!(
        count(&server, "select count(*) from warehouse where code = 'WH3'"),
        0
    );

    // Offline: it says so, and keeps nothing to show as if current.
    server.stop();
    let offline = send(&mut admin, "GET", "/v1/warehouses", None).unwrap_err();
    assert_eq!(offline.code(), "server_unreachable", "{offline:?}");
}
