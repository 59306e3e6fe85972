//! The alerts of the device's warehouses (the desktop's bell), kept so they show offline
//! with what the last sync read, and read marks made offline.
//!
//! Each sync reads every open alert and the newest [`ALERTS_RECENT`] others from
//! `GET /v1/alerts` (a device's session sees its warehouses' alerts and those of no
//! warehouse), replaces the stored set with them ([`Replica::apply_alerts`]), then sends
//! the read marks made here since ([`Replica::mark_alerts_read`]) with
//! `POST /v1/alerts/read` and forgets them once the server has them. A mark waits in
//! `alert_read` with the person who made it and is sent only with that person's session:
//! read marks are per person on the server, and another person signing in on the device
//! must not read alerts for them. Marks of an alert the server no longer has (deleted 90
//! days after it ended) are dropped.
//!
//! OS notifications: [`Replica::alerts_to_notify`] hands the app, once, each alert that
//! arrived since it last asked and is worth interrupting a person for
//! ([`NOTIFIED_KINDS`], open, unread). Everything the first read of a device brings
//! counts as already notified, so connecting a device does not pop up a backlog.
//!
//! Worked example: the bell shows 2 unread (stock.low A, conflict.held B). Offline, the
//! person marks A read: the count drops to 1 at once and the mark waits. The next sync
//! reads the server's list (A still unread there), keeps A read because its mark waits,
//! sends the mark, and deletes it; the sync after that finds A read on the server too.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use logiflow_core::{AlertKind, UserId, WarehouseId};
use rusqlite::params;
use uuid::Uuid;

use super::Replica;
use crate::db::{from_ns, ns, parse_id};
use crate::{Error, Result};

/// The kinds that interrupt a person with an OS notification when they arrive: stock
/// to reorder and a movement held for a person. The others wait in the bell.
pub const NOTIFIED_KINDS: &[AlertKind] = &[AlertKind::StockLow, AlertKind::ConflictHeld];

/// How many of the newest alerts (resolved or not) a sync keeps besides the open ones.
pub const ALERTS_RECENT: usize = 100;

/// The most open alerts a sync reads (in pages of [`ALERTS_PAGE`]); a tenant with more
/// sees the newest of them.
pub const ALERTS_OPEN_MAX: usize = 2_000;

/// Alerts per request, and read marks per `POST /v1/alerts/read` (the server's bound).
pub const ALERTS_PAGE: usize = 500;

/// An alert as `GET /v1/alerts` lists it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub(crate) struct AlertWire {
    pub id: Uuid,
    pub kind: String,
    pub subject: String,
    pub warehouse_id: Option<Uuid>,
    pub payload: serde_json::Value,
    pub raised_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub read: bool,
}

/// A page of `GET /v1/alerts`.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct AlertPageWire {
    pub items: Vec<AlertWire>,
    pub next_cursor: Option<String>,
}

/// An alert of the device's warehouses, as last read from the server.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AlertView {
    /// The alert.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub id: Uuid,
    /// What it is about.
    #[cfg_attr(feature = "ts", ts(type = "AlertKind"))]
    pub kind: AlertKind,
    /// Its subject (one open alert per kind and subject).
    pub subject: String,
    /// The warehouse it concerns; none for a silent device or a disabled webhook.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub warehouse_id: Option<WarehouseId>,
    /// The details, as the server's event carries them (fields depend on the kind).
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub payload: serde_json::Value,
    /// When it was raised (RFC 3339).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub raised_at: DateTime<Utc>,
    /// When its condition ended; none while it lasts.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Read by the signed-in person (on the server, or here and not sent yet).
    pub read: bool,
}

/// The bell: the stored alerts, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AlertList {
    /// The alerts, newest first.
    pub items: Vec<AlertView>,
    /// How many of them are unread.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unread: u64,
    /// Read marks made here and not sent yet.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub marks_waiting: u64,
    /// When the alerts were read from the server; none before the first sync.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub pulled_at: Option<DateTime<Utc>>,
}

type AlertRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
    bool,
);

const SELECT: &str = "select a.id, a.kind, a.subject, a.warehouse_id, a.payload, a.raised_at_ns,
            a.resolved_at_ns, a.read from alert a";

fn view(row: AlertRow) -> Result<Option<AlertView>> {
    let (id, kind, subject, warehouse, payload, raised, resolved, read) = row;
    // A kind of a newer server: kept, not shown, until this app knows it.
    let Ok(kind) = kind.parse::<AlertKind>() else {
        return Ok(None);
    };
    Ok(Some(AlertView {
        id: parse_id(&id)?,
        kind,
        subject,
        warehouse_id: warehouse.as_deref().map(parse_id).transpose()?,
        payload: serde_json::from_str(&payload).map_err(Error::corrupt)?,
        raised_at: from_ns(raised),
        resolved_at: resolved.map(from_ns),
        read,
    }))
}

fn rows(conn: &rusqlite::Connection, sql: &str) -> Result<Vec<AlertView>> {
    let mut stmt = conn.prepare(sql)?;
    let found = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<AlertRow>>>()?;
    let mut out = Vec::with_capacity(found.len());
    for row in found {
        out.extend(view(row)?);
    }
    Ok(out)
}

impl Replica {
    /// The alerts the last sync read, newest first, with the unread count (the bell).
    pub fn alerts(&self) -> Result<AlertList> {
        let items = rows(&self.conn, &format!("{SELECT} order by a.id desc"))?;
        let unread = self.unread_alerts()?;
        let marks_waiting: i64 =
            self.conn
                .query_row("select count(*) from alert_read", [], |r| r.get(0))?;
        let pulled: Option<i64> =
            self.conn
                .query_row("select alerts_pulled_at_ns from sync_state", [], |r| {
                    r.get(0)
                })?;
        Ok(AlertList {
            items,
            unread,
            marks_waiting: u64::try_from(marks_waiting).unwrap_or(0),
            pulled_at: pulled.map(from_ns),
        })
    }

    /// How many stored alerts are unread (the bell's count in the status).
    pub(crate) fn unread_alerts(&self) -> Result<u64> {
        let known: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
        let n: i64 = self.conn.query_row(
            "select count(*) from alert where read = 0
               and kind in (select value from json_each(?1))",
            params![serde_json::to_string(&known).map_err(Error::corrupt)?],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Marks alerts read for the signed-in person, here at once and on the server with
    /// the next sync. An id of no stored alert is refused and nothing is marked; one
    /// already read is a no-op. Returns how many were newly marked.
    pub fn mark_alerts_read(&mut self, ids: &[Uuid]) -> Result<u64> {
        let user = self.device()?.ok_or(Error::NotInitialized)?.user;
        let now = ns(self.env.now())?;
        let tx = self.write()?;
        let mut marked = 0;
        for id in ids {
            let read: Option<bool> = crate::db::optional(tx.query_row(
                "select read from alert where id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            ))?;
            match read {
                None => {
                    return Err(Error::InvalidInput {
                        field: "alert",
                        message: format!("no alert {id} on this device: sync to read the latest"),
                    });
                }
                Some(true) => {}
                Some(false) => {
                    tx.execute(
                        "update alert set read = 1 where id = ?1",
                        params![id.to_string()],
                    )?;
                    tx.execute(
                        "insert into alert_read (alert_id, user_id, marked_at_ns) values (?1, ?2, ?3)
                         on conflict do nothing",
                        params![id.to_string(), user.to_string(), now],
                    )?;
                    marked += 1;
                }
            }
        }
        tx.commit()?;
        Ok(marked)
    }

    /// The alerts that arrived since the last call and should interrupt a person (an OS
    /// notification): of [`NOTIFIED_KINDS`], open and unread, oldest first. Each stored
    /// alert is handed out at most once, whatever its kind, so a call after a long
    /// silence never repeats old ones.
    pub fn alerts_to_notify(&mut self) -> Result<Vec<AlertView>> {
        let kinds: Vec<String> = NOTIFIED_KINDS
            .iter()
            .map(|k| format!("'{}'", k.as_str()))
            .collect();
        // Asked after every sync: without anything new, no write transaction at all.
        let new: bool = self.conn.query_row(
            "select exists (select 1 from alert where notified = 0)",
            [],
            |r| r.get(0),
        )?;
        if !new {
            return Ok(Vec::new());
        }
        let tx = self.write()?;
        let found = rows(
            &tx,
            &format!(
                "{SELECT} where a.notified = 0 and a.read = 0 and a.resolved_at_ns is null
                   and a.kind in ({}) order by a.id",
                kinds.join(", ")
            ),
        )?;
        tx.execute("update alert set notified = 1 where notified = 0", [])?;
        tx.commit()?;
        Ok(found)
    }

    /// Replaces the stored alerts with those a sync read (`fetched`, by id), keeping
    /// whether each was handed out for notification and the read marks still waiting.
    pub(crate) fn apply_alerts(&mut self, fetched: &BTreeMap<Uuid, AlertWire>) -> Result<()> {
        let user = self.device()?.ok_or(Error::NotInitialized)?.user;
        let now = ns(self.env.now())?;
        let tx = self.write()?;
        let first: bool = tx.query_row(
            "select alerts_pulled_at_ns is null from sync_state",
            [],
            |r| r.get(0),
        )?;
        let ids: Vec<String> = fetched.keys().map(Uuid::to_string).collect();
        let ids_json = serde_json::to_string(&ids).map_err(Error::corrupt)?;
        tx.execute(
            "delete from alert where id not in (select value from json_each(?1))",
            params![ids_json],
        )?;
        for a in fetched.values() {
            tx.execute(
                "insert into alert (id, kind, subject, warehouse_id, payload, raised_at_ns,
                                    resolved_at_ns, read, notified)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7,
                         ?8 or exists (select 1 from alert_read r
                                       where r.alert_id = ?1 and r.user_id = ?10), ?9)
                 on conflict (id) do update set
                     kind = excluded.kind, subject = excluded.subject,
                     warehouse_id = excluded.warehouse_id, payload = excluded.payload,
                     raised_at_ns = excluded.raised_at_ns,
                     resolved_at_ns = excluded.resolved_at_ns, read = excluded.read",
                params![
                    a.id.to_string(),
                    a.kind,
                    a.subject,
                    a.warehouse_id.map(|w| w.to_string()),
                    a.payload.to_string(),
                    ns(a.raised_at)?,
                    a.resolved_at.map(ns).transpose()?,
                    a.read,
                    first,
                    user.to_string(),
                ],
            )?;
        }
        // Marks of alerts the server no longer lists cannot be sent (it would refuse
        // them) and mark nothing anyone sees.
        tx.execute(
            "delete from alert_read where alert_id not in (select id from alert)",
            [],
        )?;
        tx.execute(
            "update sync_state set alerts_pulled_at_ns = ?1",
            params![now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The read marks `user` made here that the server does not have yet.
    pub(crate) fn marks_to_send(&self, user: UserId) -> Result<Vec<Uuid>> {
        let mut stmt = self
            .conn
            .prepare("select alert_id from alert_read where user_id = ?1 order by alert_id")?;
        let ids = stmt
            .query_map(params![user.to_string()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.iter().map(|id| parse_id(id)).collect()
    }

    /// Forgets read marks of `user` the server now has (or refused as unknown).
    pub(crate) fn marks_sent(&mut self, user: UserId, ids: &[Uuid]) -> Result<()> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        self.conn.execute(
            "delete from alert_read where user_id = ?1
               and alert_id in (select value from json_each(?2))",
            params![
                user.to_string(),
                serde_json::to_string(&ids).map_err(Error::corrupt)?
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(n: u128, kind: &str, resolved: bool, read: bool) -> (Uuid, AlertWire) {
        let id = Uuid::from_u128(n);
        let at = DateTime::<Utc>::from_timestamp(1_800_000_000 + n as i64, 0).unwrap();
        (
            id,
            AlertWire {
                id,
                kind: kind.into(),
                subject: format!("s{n}"),
                warehouse_id: None,
                payload: serde_json::json!({"n": n as u64}),
                raised_at: at,
                resolved_at: resolved.then_some(at),
                read,
            },
        )
    }

    fn replica(dir: &tempfile::TempDir) -> Replica {
        let mut r = Replica::open(dir.path().join("replica.db")).unwrap();
        r.init_device(
            "01900000-0000-7000-8000-000000000001".parse().unwrap(),
            "01900000-0000-7000-8000-000000000002".parse().unwrap(),
            "https://logiflow.invalid",
            None,
        )
        .unwrap();
        r
    }

    #[test]
    fn only_new_open_unread_stock_low_and_conflict_held_are_notified_and_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = replica(&dir);
        // The first read is a backlog: nothing of it is notified.
        r.apply_alerts(&BTreeMap::from([wire(1, "stock.low", false, false)]))
            .unwrap();
        assert!(r.alerts_to_notify().unwrap().is_empty());
        let next = BTreeMap::from([
            wire(1, "stock.low", false, false),
            wire(2, "stock.low", false, false),
            wire(3, "conflict.held", false, false),
            wire(4, "lot.expiring", false, false),
            wire(5, "count.variance", true, false),
            wire(6, "device.silent", false, false),
            wire(7, "stock.low", true, false),
            wire(8, "conflict.held", false, true),
            wire(9, "something.new", false, false),
        ]);
        r.apply_alerts(&next).unwrap();
        let ids: Vec<u128> = r
            .alerts_to_notify()
            .unwrap()
            .iter()
            .map(|a| a.id.as_u128())
            .collect();
        assert_eq!(ids, [2, 3]);
        assert!(r.alerts_to_notify().unwrap().is_empty(), "once");
        r.apply_alerts(&next).unwrap();
        assert!(
            r.alerts_to_notify().unwrap().is_empty(),
            "once, across syncs"
        );
        // A kind this build does not know is kept but not shown or counted.
        let list = r.alerts().unwrap();
        assert_eq!(list.items.len(), 8);
        assert_eq!(list.unread, 7);
        assert_eq!(r.status().unwrap().unread_alerts, 7);
    }

    #[test]
    fn a_waiting_mark_outlives_a_sync_that_still_says_unread_and_goes_with_its_alert() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = replica(&dir);
        let user = r.device().unwrap().unwrap().user;
        let both = BTreeMap::from([
            wire(1, "stock.low", false, false),
            wire(2, "stock.low", false, false),
        ]);
        r.apply_alerts(&both).unwrap();
        r.mark_alerts_read(&[Uuid::from_u128(1), Uuid::from_u128(2)])
            .unwrap();
        // The server has not heard yet: still unread there; read here.
        r.apply_alerts(&both).unwrap();
        assert_eq!(r.alerts().unwrap().unread, 0);
        assert_eq!(r.marks_to_send(user).unwrap().len(), 2);
        // Alert 2 is gone from the server: its mark is dropped with it.
        r.apply_alerts(&BTreeMap::from([wire(1, "stock.low", false, false)]))
            .unwrap();
        assert_eq!(r.marks_to_send(user).unwrap(), [Uuid::from_u128(1)]);
        // Another person's session sends none of them.
        let other: UserId = "01900000-0000-7000-8000-000000000003".parse().unwrap();
        assert!(r.marks_to_send(other).unwrap().is_empty());
        r.marks_sent(user, &[Uuid::from_u128(1)]).unwrap();
        assert!(r.marks_to_send(user).unwrap().is_empty());
        assert_eq!(r.alerts().unwrap().marks_waiting, 0);
    }
}
