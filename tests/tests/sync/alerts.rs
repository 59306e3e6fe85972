//! The bell of a device (issue #17): the alerts of its warehouses come with the sync and
//! stay readable offline; a read mark made offline shows at once, waits, and reaches the
//! server with the next sync, as the mark of the person who made it; each new alert is
//! handed out once for an OS notification, and a new device's backlog never is.

use chrono::Utc;
use logiflow_core::{AlertKind, TenantId};
use logiflow_replica::Error;
use logiflow_server::rbac::Role;
use uuid::Uuid;

use crate::harness::*;

/// Runs every alert sweep of the tenant now, as the scheduled check would.
pub(crate) fn sweep(server: &Server) {
    server
        .block_on(logiflow_server::alerts::check::sweep_tenant(
            &server.owner,
            TenantId::from_uuid(server.tenant),
            Utc::now(),
        ))
        .unwrap();
}

/// Users who marked `alert` read on the server.
fn readers(server: &Server, alert: Uuid) -> Vec<Uuid> {
    server.block_on(async {
        sqlx::query_scalar("select user_id from alert_read where alert_id = $1 order by user_id")
            .bind(alert)
            .fetch_all(&server.owner)
            .await
            .unwrap()
    })
}

#[test]
fn alerts_come_with_the_sync_stay_offline_and_read_marks_made_offline_reach_the_server() {
    let mut server = Server::start("bell");
    let catalog = seed(&server, 1, 2);
    let mut d = connect(&server, &server.base.clone(), "bell-1");
    let first = d.replica.alerts().unwrap();
    assert!(
        first.items.is_empty() && first.pulled_at.is_some(),
        "{first:?}"
    );

    // SKU-1 falls below its reorder point: the check raises stock.low.
    server.block_on(async {
        sqlx::query("update product set reorder_point = 5 where sku = 'SKU-1'")
            .execute(&server.owner)
            .await
            .unwrap()
    });
    server.receive_online("SKU-1", &catalog.location_ids[0], 2);
    sweep(&server);
    d.sync().unwrap();
    let bell = d.replica.alerts().unwrap();
    assert_eq!(bell.items.len(), 1, "{bell:?}");
    let alert = bell.items[0].clone();
    assert_eq!(alert.kind, AlertKind::StockLow);
    assert_eq!(alert.payload["sku"], "SKU-1");
    assert_eq!(alert.payload["available"], 2);
    assert!(!alert.read && alert.resolved_at.is_none());
    assert_eq!(
        (bell.unread, d.replica.status().unwrap().unread_alerts),
        (1, 1)
    );

    // Handed out for an OS notification once.
    let notify = d.replica.alerts_to_notify().unwrap();
    assert_eq!(notify.iter().map(|a| a.id).collect::<Vec<_>>(), [alert.id]);
    assert!(d.replica.alerts_to_notify().unwrap().is_empty());

    // Offline: the bell still shows it; marking it read counts at once and waits.
    server.stop();
    assert!(d.sync().is_err(), "the server is down");
    assert_eq!(d.replica.alerts().unwrap().items.len(), 1);
    let unknown = d.replica.mark_alerts_read(&[Uuid::nil()]).unwrap_err();
    assert!(matches!(unknown, Error::InvalidInput { .. }), "{unknown:?}");
    assert_eq!(d.replica.mark_alerts_read(&[alert.id]).unwrap(), 1);
    assert_eq!(d.replica.mark_alerts_read(&[alert.id]).unwrap(), 0, "no-op");
    let bell = d.replica.alerts().unwrap();
    assert_eq!((bell.unread, bell.marks_waiting), (0, 1), "{bell:?}");
    assert_eq!(d.replica.status().unwrap().unread_alerts, 0);
    assert!(readers(&server, alert.id).is_empty());

    // Back online: the mark reaches the server, as the device's person's.
    server.restart();
    d.sync().unwrap();
    let me = d.replica.device().unwrap().unwrap().user.as_uuid();
    assert_eq!(readers(&server, alert.id), [me]);
    let bell = d.replica.alerts().unwrap();
    assert_eq!((bell.unread, bell.marks_waiting), (0, 0), "{bell:?}");
    assert!(bell.items[0].read, "read on the server now");

    // Read marks are per person: another person's new device sees it unread, and its
    // first sync hands out no backlog for notification.
    server.user("second@bell.example", Role::Operator);
    let mut other = connect_as(
        &server,
        &server.base.clone(),
        "bell-2",
        "second@bell.example",
    );
    let theirs = other.replica.alerts().unwrap();
    assert_eq!((theirs.items.len(), theirs.unread), (1, 1), "{theirs:?}");
    assert!(other.replica.alerts_to_notify().unwrap().is_empty());

    // Stock recovers: the alert shows resolved, and a resolved one is never notified.
    server.receive_online("SKU-1", &catalog.location_ids[0], 10);
    sweep(&server);
    other.sync().unwrap();
    let theirs = other.replica.alerts().unwrap();
    assert!(theirs.items[0].resolved_at.is_some(), "{theirs:?}");
    assert!(other.replica.alerts_to_notify().unwrap().is_empty());

    // A mark of an alert deleted on the server meanwhile is dropped, not retried forever,
    // and the alert leaves the bell.
    other.replica.mark_alerts_read(&[alert.id]).unwrap();
    server.block_on(async {
        sqlx::query("delete from alert where id = $1")
            .bind(alert.id)
            .execute(&server.owner)
            .await
            .unwrap()
    });
    other.sync().unwrap();
    let theirs = other.replica.alerts().unwrap();
    assert!(theirs.items.is_empty(), "{theirs:?}");
    assert_eq!(theirs.marks_waiting, 0);
}

#[test]
fn a_mark_made_offline_is_sent_even_when_the_server_deleted_another_alert_of_its_batch() {
    // Two unread alerts; one is marked read offline along with the other, which the
    // server deletes before the device syncs: the sync reads the list first (dropping
    // the deleted alert and its mark), so the kept mark is sent and accepted.
    let server = Server::start("bell-batch");
    let catalog = seed(&server, 1, 2);
    let mut d = connect(&server, &server.base.clone(), "bell-3");
    server.block_on(async {
        sqlx::query("update product set reorder_point = 5")
            .execute(&server.owner)
            .await
            .unwrap()
    });
    server.receive_online("SKU-1", &catalog.location_ids[0], 1);
    server.receive_online("SKU-2", &catalog.location_ids[0], 1);
    sweep(&server);
    d.sync().unwrap();
    let bell = d.replica.alerts().unwrap();
    assert_eq!(bell.unread, 2, "{bell:?}");
    let ids: Vec<Uuid> = bell.items.iter().map(|a| a.id).collect();
    d.replica.mark_alerts_read(&ids).unwrap();
    server.block_on(async {
        sqlx::query("delete from alert where id = $1")
            .bind(ids[0])
            .execute(&server.owner)
            .await
            .unwrap()
    });
    d.sync().unwrap();
    let me = d.replica.device().unwrap().unwrap().user.as_uuid();
    assert_eq!(readers(&server, ids[1]), [me]);
    let bell = d.replica.alerts().unwrap();
    assert_eq!((bell.items.len(), bell.marks_waiting), (1, 0), "{bell:?}");
}
