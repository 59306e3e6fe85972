//! View models of the desktop UI: the replica's typed results turned into the plain
//! strings and numbers its screens show (journal rows, a connect report).

use logiflow_core::{Flag, FlagName, Hold, HoldReview, KindName, Outcome, OutcomeName};
use serde::Serialize;

use crate::api::{JournalEntry, JournalStatus};
use crate::client::WarehouseInfo;
use crate::error::ErrorBody;
use crate::sync::{ConnectReport, SyncReport};
use crate::{Replica, Result};

/// What connecting or signing in again did: a [`ConnectReport`] as the desktop UI reads
/// it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Connected {
    /// The new device's id.
    pub device: String,
    /// The warehouses it keeps offline.
    pub scope: Vec<WarehouseInfo>,
    /// Where its credentials are kept (`OS keyring`, `file …`).
    pub credentials: String,
    /// The first sync, if it succeeded.
    pub first_sync: Option<SyncReport>,
    /// Why the first sync failed (the device is set up all the same: sync again).
    pub first_sync_error: Option<ErrorBody>,
}

/// One journal entry as the Sync screen shows it: in the conflict inbox (held, rejected
/// or flagged by the server) or among the recent entries.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JournalRow {
    /// Its `device_seq`.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    /// The movement's id (what a manager forces or voids on the server).
    pub id: String,
    /// What it does.
    #[cfg_attr(feature = "ts", ts(type = "KindName"))]
    pub kind: KindName,
    /// When it happened (RFC 3339).
    pub occurred_at: String,
    /// The warehouse it happened in, when the local catalog knows its bin: the UI shows
    /// `occurred_at` in that warehouse's time zone.
    pub warehouse_id: Option<String>,
    /// `pending` (not sent yet) or `pushed`.
    pub status: String,
    /// The server's outcome once known: `held`, `rejected`, `applied`, … (in the inbox:
    /// held, rejected, or another outcome when only flagged).
    #[cfg_attr(feature = "ts", ts(type = "OutcomeName | null"))]
    pub outcome: Option<OutcomeName>,
    /// A rejection's stable code.
    pub reject_code: Option<String>,
    /// A rejection's message, or the manager's reason for voiding, for people.
    pub message: Option<String>,
    /// A hold: the units the movement needs from its row.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub needed: Option<i64>,
    /// A hold: the units that row held at the movement's time.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub available: Option<i64>,
    /// A hold for a person because this device's clock ran ahead: how far its date lay
    /// beyond the server's time of receipt, in seconds (`needed`/`available` are then
    /// null).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub clock_ahead_secs: Option<i64>,
    /// The review flags raised (`negative_row`, `count_variance`, `forced`, …).
    #[cfg_attr(feature = "ts", ts(type = "Array<FlagName>"))]
    pub flags: Vec<FlagName>,
}

impl From<JournalEntry> for JournalRow {
    fn from(entry: JournalEntry) -> Self {
        let mut conflict = JournalRow {
            seq: entry.seq,
            id: entry.id.to_string(),
            kind: entry.movement.kind.name(),
            occurred_at: entry.occurred_at.to_rfc3339(),
            warehouse_id: None,
            status: match entry.status {
                JournalStatus::Pending => "pending",
                JournalStatus::Pushed => "pushed",
            }
            .to_owned(),
            outcome: entry.outcome.and_then(|o| o.parse().ok()),
            reject_code: None,
            message: None,
            needed: None,
            available: None,
            clock_ahead_secs: None,
            flags: Vec::new(),
        };
        if let Some(result) = entry.result {
            match result.outcome {
                Outcome::Rejected(r) => {
                    conflict.reject_code = Some(r.code.as_str().to_owned());
                    conflict.message = Some(r.message);
                }
                Outcome::Held(Hold {
                    review: Some(HoldReview::ClockAhead { ahead_secs, .. }),
                    ..
                }) => conflict.clock_ahead_secs = Some(ahead_secs),
                Outcome::Held(h) => {
                    conflict.needed = Some(h.needed);
                    conflict.available = Some(h.at_time);
                }
                Outcome::Voided { reason } => conflict.message = Some(reason),
                _ => {}
            }
            conflict.flags = result.flags.iter().map(Flag::name).collect();
        }
        conflict
    }
}

impl From<ConnectReport> for Connected {
    fn from(report: ConnectReport) -> Self {
        Self {
            device: report.device.device.to_string(),
            scope: report.scope,
            credentials: report.credentials,
            first_sync: report.first_sync,
            first_sync_error: report.first_sync_error,
        }
    }
}

impl Replica {
    /// Journal entries as rows, each with the warehouse of its bin (for its time zone).
    pub fn journal_rows(&self, entries: Vec<JournalEntry>) -> Result<Vec<JournalRow>> {
        entries
            .into_iter()
            .map(|entry| {
                let warehouse = self.warehouse_of(&entry.movement)?;
                Ok(JournalRow {
                    warehouse_id: warehouse.map(|w| w.to_string()),
                    ..JournalRow::from(entry)
                })
            })
            .collect()
    }
}
