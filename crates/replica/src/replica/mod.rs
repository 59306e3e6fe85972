//! [`Replica`]: the one entry point the desktop shell and the CLI call. This file holds
//! the struct, opening and the device's identity; each concern lives in its own file.

mod alerts;
mod count;
mod journal;
mod live;
mod orders;
mod pull_apply;
mod push;
mod record;
mod resolve;
mod search;
mod time;

use std::path::Path;

use logiflow_core::{DeviceId, TenantId, UserId};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::api::{DeviceInfo, Status};
use crate::db::{self, from_ns, ns, optional, parse_id};
use crate::env::{Env, SystemEnv};
use crate::{Error, Result};

pub(crate) use alerts::AlertPageWire;
pub use alerts::{
    ALERTS_OPEN_MAX, ALERTS_PAGE, ALERTS_RECENT, AlertList, AlertView, NOTIFIED_KINDS,
};
pub(crate) use live::{Products, live_products, project};
pub use pull_apply::LEDGER_KEEP_MS;
pub(crate) use push::local_lots;

/// A device's local replica: one SQLite file.
#[derive(Debug)]
pub struct Replica {
    pub(crate) conn: Connection,
    pub(crate) env: Box<dyn Env>,
    /// The database file, beside which the sync lock lives.
    pub(crate) path: std::path::PathBuf,
}

impl Replica {
    /// Opens (creating and migrating if needed) the replica at `path`, with the real
    /// clock and randomness.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_env(path, Box::new(SystemEnv))
    }

    /// Opens the replica with an injected clock and randomness (tests, simulations).
    pub fn open_with_env(path: impl AsRef<Path>, env: Box<dyn Env>) -> Result<Self> {
        let conn = db::open(path.as_ref())?;
        Ok(Self {
            conn,
            env,
            path: path.as_ref().to_path_buf(),
        })
    }

    /// Sets up this device's identity. A device id is made here (UUIDv7) unless given
    /// (one already registered with the server).
    pub fn init_device(
        &mut self,
        tenant: TenantId,
        user: UserId,
        server_url: &str,
        device: Option<DeviceId>,
    ) -> Result<DeviceInfo> {
        let now = self.env.now();
        let random = self.env.random();
        let tx = self.write()?;
        if let Some(existing) = read_device(&tx)? {
            return Err(Error::AlreadyInitialized(existing.device.to_string()));
        }
        let device = device.unwrap_or_else(|| {
            DeviceId::new_v7(u64::try_from(now.timestamp_millis()).unwrap_or(0), random)
        });
        let url = server_url.trim();
        if url.is_empty() {
            return Err(Error::InvalidInput {
                field: "server_url",
                message: "must not be empty".into(),
            });
        }
        tx.execute(
            "insert into device (singleton, device_id, tenant_id, user_id, server_url, created_at_ns)
             values (1, ?1, ?2, ?3, ?4, ?5)",
            params![
                device.to_string(),
                tenant.to_string(),
                user.to_string(),
                url,
                ns(now)?
            ],
        )?;
        tx.commit()?;
        Ok(DeviceInfo {
            device,
            tenant,
            user,
            server_url: url.to_owned(),
        })
    }

    /// The device's identity, once set up.
    pub fn device(&self) -> Result<Option<DeviceInfo>> {
        read_device(&self.conn)
    }

    pub(crate) fn write(&mut self) -> Result<Transaction<'_>> {
        // IMMEDIATE takes the write lock at BEGIN, so the device_seq read inside the
        // transaction cannot race another writer (the desktop app and a CLI at once).
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// The replica's state at a glance.
    pub fn status(&self) -> Result<Status> {
        let device = read_device(&self.conn)?;
        type SyncRow = (
            Option<String>,
            Option<i64>,
            Option<i64>,
            i64,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
        );
        let (cursor, last_pull, last_push, offset, last_sync, err_code, err, contact, perms, ends): SyncRow =
            self.conn.query_row(
                "select cursor, last_pull_at_ns, last_push_at_ns, clock_offset_ms,
                        last_sync_at_ns, last_sync_error_code, last_sync_error,
                        last_contact_at_ns, permissions, session_expires_at_ns
                 from sync_state",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                    ))
                },
            )?;
        let session_expires_at = ends.map(from_ns);
        let permissions: Vec<String> = match perms {
            Some(text) => serde_json::from_str(&text).map_err(Error::corrupt)?,
            None => Vec::new(),
        };
        let (pending, last_seq, conflicts): (i64, i64, i64) = self.conn.query_row(
            "select count(*) filter (where status = 'pending'),
                    coalesce(max(device_seq), 0),
                    count(*) filter (where outcome in ('held', 'rejected') or flagged = 1)
             from journal",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(Status {
            device,
            schema_version: db::user_version(&self.conn)?,
            pending: u64::try_from(pending).unwrap_or(0),
            last_seq: u64::try_from(last_seq).unwrap_or(0),
            conflicts: u64::try_from(conflicts).unwrap_or(0),
            last_pull_at: last_pull.map(from_ns),
            last_push_at: last_push.map(from_ns),
            cursor,
            clock_offset_ms: offset,
            last_sync_at: last_sync.map(from_ns),
            last_sync_error: err_code.map(|code| crate::ErrorBody {
                code,
                message: err.unwrap_or_default(),
            }),
            last_contact_at: contact.map(from_ns),
            permissions,
            session_expires_at,
            session_ends_soon: crate::api::session_ends_soon(session_expires_at, self.env.now()),
            unread_alerts: self.unread_alerts()?,
        })
    }
}

pub(super) fn read_device(conn: &Connection) -> Result<Option<DeviceInfo>> {
    let row: Option<(String, String, String, String)> = optional(conn.query_row(
        "select device_id, tenant_id, user_id, server_url from device",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    ))?;
    row.map(|(d, t, u, url)| {
        Ok(DeviceInfo {
            device: parse_id(&d)?,
            tenant: parse_id(&t)?,
            user: parse_id(&u)?,
            server_url: url,
        })
    })
    .transpose()
}
