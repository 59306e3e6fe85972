//! Offline recording → sync → outcomes through the real server, for each movement kind
//! and each outcome; device revoked, tenant expired, journal gap, token refresh.

use logiflow_core::{AdjustReason, PushResponse};
use logiflow_replica::{
    Action, DeviceTokens, Error, ItemRef, JournalFilter, Op, Secret, StockQuery,
};

use crate::harness::*;

pub fn act(sku: &str, op: Op) -> Action {
    Action {
        expires_on: None,
        item: ItemRef::Sku(sku.into()),
        lot: None,
        warehouse: None,
        op,
        reference: None,
    }
}

pub fn receive(sku: &str, to: &str, qty: i64) -> Action {
    act(sku, Op::Receive { to: to.into(), qty })
}

pub fn ship(sku: &str, from: &str, qty: i64) -> Action {
    act(
        sku,
        Op::Ship {
            from: from.into(),
            qty,
        },
    )
}

pub fn count(sku: &str, at: &str, counted: i64) -> Action {
    act(
        sku,
        Op::Count {
            at: at.into(),
            counted,
            expected: None,
        },
    )
}

/// Each replica's projected on-hand per (sku, bin), non-zero only, as the server lists
/// its own.
pub fn replica_stock(d: &Device) -> Vec<(String, String, i64)> {
    let mut v: Vec<_> = d
        .replica
        .stock(&StockQuery {
            limit: Some(10_000),
            ..StockQuery::default()
        })
        .unwrap()
        .into_iter()
        .filter(|l| l.on_hand != 0)
        .map(|l| (l.sku, l.location_code, l.on_hand))
        .collect();
    v.sort();
    v
}

/// The journal's outcomes in order.
fn outcomes(d: &Device) -> Vec<String> {
    d.replica
        .journal(&JournalFilter::default())
        .unwrap()
        .into_iter()
        .map(|e| e.outcome.unwrap_or_else(|| "pending".into()))
        .collect()
}

#[test]
fn offline_work_syncs_to_every_outcome_and_every_replica_converges() {
    let server = Server::start("flows");
    let catalog = seed(&server, 3, 3);
    let mut r1 = connect(&server, &server.base.clone(), "dock 1");
    let mut r2 = connect(&server, &server.base.clone(), "dock 2");

    // The scope carries each warehouse's time zone (the app shows times in it), and a
    // movement's warehouse is found from its bin.
    let scope = r1.replica.scope().unwrap();
    assert_eq!(scope.len(), 1);
    assert_eq!(
        (scope[0].code.as_str(), scope[0].time_zone.as_str()),
        (catalog.warehouse.as_str(), "Europe/Paris")
    );

    // Held, then applied once the receipt that physically came first arrives.
    let received = r1.replica.record(&receive("SKU-2", "B1", 5)).unwrap();
    assert_eq!(
        r1.replica.warehouse_of(&received.movement).unwrap(),
        Some(scope[0].id)
    );
    // Each replica stamps by its clock corrected with the offset measured at its last
    // server contact, good to about a request's latency: recorded microseconds apart, the
    // two could land in either order on the server's timeline (they did, under a loaded
    // parallel test run). A second apart, the receipt came first.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let shipped = r2.replica.record(&ship("SKU-2", "B1", 5)).unwrap();
    assert!(
        shipped
            .warnings
            .iter()
            .any(|w| w.code == "beyond_projected_stock")
    );
    let report = r2.sync().unwrap();
    assert_eq!((report.pushed, report.held), (1, 1), "{report:?}");
    let report = r1.sync().unwrap();
    assert_eq!((report.pushed, report.applied), (1, 1), "{report:?}");
    let report = r2.sync().unwrap();
    assert!(report.outcomes >= 1, "{report:?}");
    assert_eq!(outcomes(&r2), ["applied"]);

    // Absorbed and superseded: r2's ship and count occurred before r1's count, but
    // arrive after it.
    r1.replica.record(&receive("SKU-1", "B1", 10)).unwrap();
    r1.sync().unwrap();
    r2.replica.record(&ship("SKU-1", "B1", 1)).unwrap();
    r2.replica.record(&count("SKU-1", "B1", 9)).unwrap();
    // As above: far enough apart that the clocks' offsets cannot swap them.
    std::thread::sleep(std::time::Duration::from_secs(1));
    r1.replica.record(&count("SKU-1", "B1", 9)).unwrap();
    let report = r1.sync().unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    let report = r2.sync().unwrap();
    assert_eq!(
        (report.pushed, report.absorbed, report.superseded),
        (2, 1, 1),
        "{report:?}"
    );

    // Every kind applied.
    for a in [
        receive("SKU-3", "B1", 10),
        act(
            "SKU-3",
            Op::Transfer {
                from: "B1".into(),
                to: "B2".into(),
                qty: 4,
            },
        ),
        act(
            "SKU-3",
            Op::Adjust {
                at: "B2".into(),
                delta: -1,
                reason: AdjustReason::Damage,
            },
        ),
        ship("SKU-3", "B1", 2),
        act(
            "SKU-3",
            Op::Count {
                at: "B2".into(),
                counted: 3,
                expected: Some(3),
            },
        ),
    ] {
        r1.replica.record(&a).unwrap();
    }
    let report = r1.sync().unwrap();
    assert_eq!((report.pushed, report.applied), (5, 5), "{report:?}");

    // Rejected: the bin was deleted on the server while the replica still knew it.
    let b3 = server.send(
        reqwest::Method::GET,
        "/v1/locations?q=B3",
        Some(&server.admin_token),
        None,
        200,
    );
    let b3 = b3["items"][0]["id"].as_str().unwrap().to_owned();
    server.send(
        reqwest::Method::DELETE,
        &format!("/v1/locations/{b3}"),
        Some(&server.admin_token),
        None,
        204,
    );
    r1.replica.record(&receive("SKU-1", "B3", 1)).unwrap();
    let report = r1.sync().unwrap();
    assert_eq!((report.pushed, report.rejected), (1, 1), "{report:?}");
    assert_eq!(r1.replica.conflicts().unwrap().len(), 1);

    // Everyone current: replicas equal the server, which equals the physical truth.
    r1.sync().unwrap();
    r2.sync().unwrap();
    let truth = vec![
        ("SKU-1".to_owned(), "B1".to_owned(), 9),
        ("SKU-3".to_owned(), "B1".to_owned(), 4),
        ("SKU-3".to_owned(), "B2".to_owned(), 3),
    ];
    assert_eq!(server.stock(), truth);
    assert_eq!(replica_stock(&r1), truth);
    assert_eq!(replica_stock(&r2), truth);
    for d in [&r1, &r2] {
        let journal = d.replica.journal(&JournalFilter::default()).unwrap();
        let (n, distinct) = server.movements_of(d.id());
        assert_eq!((n, distinct), (journal.len() as i64, journal.len() as i64));
        assert_eq!(d.replica.status().unwrap().pending, 0);
    }
}

#[test]
fn revoked_device_and_expired_tenant_stop_with_the_journal_untouched() {
    let server = Server::start("stops");
    seed(&server, 1, 1);
    let mut d = connect(&server, &server.base.clone(), "dock");
    d.replica.record(&receive("SKU-1", "B1", 3)).unwrap();
    let before = d.replica.journal(&JournalFilter::default()).unwrap();

    server.expire();
    let err = d.sync().unwrap_err();
    assert!(matches!(err, Error::SubscriptionExpired), "{err:?}");
    assert_eq!(
        d.replica.journal(&JournalFilter::default()).unwrap(),
        before
    );
    let status = d.replica.status().unwrap();
    assert_eq!(status.pending, 1);
    assert_eq!(status.last_sync_error.unwrap().code, "subscription_expired");
    assert_eq!(server.movements_of(d.id()).0, 0);

    server.renew();
    let report = d.sync().unwrap();
    assert_eq!((report.pushed, report.applied), (1, 1), "{report:?}");
    assert!(d.replica.status().unwrap().last_sync_error.is_none());

    d.replica.record(&receive("SKU-1", "B1", 2)).unwrap();
    let before = d.replica.journal(&JournalFilter::default()).unwrap();
    server.revoke(d.id());
    let err = d.sync().unwrap_err();
    assert!(matches!(err, Error::DeviceRevoked), "{err:?}");
    assert_eq!(
        d.replica.journal(&JournalFilter::default()).unwrap(),
        before
    );
    assert_eq!(server.movements_of(d.id()).0, 1);
}

#[test]
fn an_expired_or_refused_access_token_is_refreshed_once_and_the_new_pair_stored() {
    let server = Server::start("refresh");
    seed(&server, 1, 1);
    let mut d = connect(&server, &server.base.clone(), "dock");
    let device = d.replica.device().unwrap().unwrap().device;
    let first = d.store.load(device).unwrap().unwrap();

    // Expired: refreshed before use.
    d.store
        .save(
            device,
            &DeviceTokens {
                access_expires_at: Some(chrono::Utc::now() - chrono::Duration::minutes(1)),
                ..first.clone()
            },
        )
        .unwrap();
    d.replica.record(&receive("SKU-1", "B1", 1)).unwrap();
    d.sync().unwrap();
    let second = d.store.load(device).unwrap().unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);

    // Refused although not expired (e.g. a server key rotation): refreshed once on 401.
    d.store
        .save(
            device,
            &DeviceTokens {
                access_token: Some(Secret::new("not-a-jwt")),
                ..second.clone()
            },
        )
        .unwrap();
    d.replica.record(&receive("SKU-1", "B1", 1)).unwrap();
    let report = d.sync().unwrap();
    assert_eq!(report.applied, 1);
    let third = d.store.load(device).unwrap().unwrap();
    assert_ne!(third.refresh_token, second.refresh_token);

    // The first refresh token was used: presenting it again is refused (and revokes the
    // session, as the server promises), which the client reports as invalid credentials.
    d.store
        .save(
            device,
            &DeviceTokens {
                access_token: None,
                access_expires_at: None,
                ..first
            },
        )
        .unwrap();
    let err = d.sync().unwrap_err();
    assert!(matches!(err, Error::CredentialsInvalid(_)), "{err:?}");
}

#[test]
fn a_sequence_gap_resends_from_where_the_server_is() {
    let server = Server::start("gap");
    seed(&server, 1, 1);
    let mut d = connect(&server, &server.base.clone(), "dock");
    for _ in 0..3 {
        d.replica.record(&receive("SKU-1", "B1", 1)).unwrap();
    }
    // The journal believes entry 1 was answered (as after a server restored from an
    // older backup): the next push starts at 2, and the server answers sequence_gap.
    let batch = d.replica.push_batch().unwrap();
    let first = &batch.movements[0].movement;
    let fake = PushResponse {
        results: vec![logiflow_core::MovementResult {
            movement: first.id,
            seq: 1,
            outcome: logiflow_core::Outcome::Held(logiflow_core::Hold {
                waiting_on: first.keys()[0],
                needed: 1,
                at_time: 0,
                review: None,
            }),
            flags: vec![],
            position: None,
        }],
        next_seq: 2,
        server_time: chrono::Utc::now(),
    };
    d.replica.mark_pushed(&fake).unwrap();
    assert_eq!(d.replica.status().unwrap().pending, 2);

    let report = d.sync().unwrap();
    assert_eq!((report.pushed, report.applied), (3, 3), "{report:?}");
    assert_eq!(server.movements_of(d.id()), (3, 3));
    assert_eq!(server.stock(), vec![("SKU-1".into(), "B1".into(), 3)]);
    assert_eq!(replica_stock(&d), server.stock());
}
