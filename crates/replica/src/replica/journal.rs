//! Reading the journal: pending entries, pages by status, the newest entries, and the
//! conflict inbox.

use rusqlite::params;

use super::Replica;
use crate::api::{JOURNAL_PAGE_MAX, JournalEntry, JournalFilter, JournalStatus};
use crate::db::{from_ns, parse_id};
use crate::{Error, Result};

impl Replica {
    /// Journal entries not pushed yet, in order.
    pub fn pending(&self) -> Result<Vec<JournalEntry>> {
        self.journal(&JournalFilter {
            status: Some(JournalStatus::Pending),
            after_seq: None,
            limit: None,
        })
    }

    /// Journal entries, oldest first.
    pub fn journal(&self, filter: &JournalFilter) -> Result<Vec<JournalEntry>> {
        let limit = filter
            .limit
            .unwrap_or(JOURNAL_PAGE_MAX)
            .min(JOURNAL_PAGE_MAX);
        let status = filter.status.map(|s| match s {
            JournalStatus::Pending => "pending",
            JournalStatus::Pushed => "pushed",
        });
        let after = i64::try_from(filter.after_seq.unwrap_or(0)).unwrap_or(i64::MAX);
        self.entries(
            "where (?1 is null or status = ?1) and device_seq > ?2 order by device_seq limit ?3",
            params![status, after, limit as i64],
        )
    }

    /// The newest `limit` journal entries (at most [`JOURNAL_PAGE_MAX`]), newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<JournalEntry>> {
        self.entries(
            "order by device_seq desc limit ?1",
            params![limit.min(JOURNAL_PAGE_MAX) as i64],
        )
    }

    /// Entries the server held or rejected, or flagged for review (forced ones among
    /// them), oldest first. A voided entry leaves the inbox, as on the server.
    pub fn conflicts(&self) -> Result<Vec<JournalEntry>> {
        self.entries(
            "where outcome in ('held', 'rejected') or flagged = 1 order by device_seq limit ?1",
            params![JOURNAL_PAGE_MAX as i64],
        )
    }

    fn entries(&self, tail: &str, params: impl rusqlite::Params) -> Result<Vec<JournalEntry>> {
        let sql = format!(
            "select device_seq, id, kind, occurred_at_ns, base_cursor, status, outcome,
                    outcome_detail, settled, movement
             from journal {tail}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let status: String = r.get(5)?;
            let detail: Option<String> = r.get(7)?;
            let movement: String = r.get(9)?;
            out.push(JournalEntry {
                seq: u64::try_from(r.get::<_, i64>(0)?).map_err(Error::corrupt)?,
                id: parse_id(&r.get::<_, String>(1)?)?,
                kind: r.get(2)?,
                occurred_at: from_ns(r.get(3)?),
                base_cursor: r.get(4)?,
                status: if status == "pending" {
                    JournalStatus::Pending
                } else {
                    JournalStatus::Pushed
                },
                outcome: r.get(6)?,
                result: detail
                    .map(|d| serde_json::from_str(&d))
                    .transpose()
                    .map_err(Error::corrupt)?,
                settled: r.get(8)?,
                movement: serde_json::from_str(&movement).map_err(Error::corrupt)?,
            });
        }
        Ok(out)
    }
}
