//! Push: the batches of unpushed journal entries, and writing the server's outcomes back
//! to the journal.

use chrono::{DateTime, Utc};
use logiflow_core::{
    LotCode, LotRecord, MovementResult, PUSH_BATCH_MAX, PushRequest, PushResponse, PushedMovement,
};
use rusqlite::{Transaction, params};

use super::time::set_clock_reference;
use super::{Replica, read_device};
use crate::db::{ns, optional};
use crate::{Error, Result};

impl Replica {
    /// The next push request: the oldest unpushed entries, at most
    /// [`logiflow_core::PUSH_BATCH_MAX`], in `device_seq` order.
    pub fn push_batch(&self) -> Result<PushRequest> {
        self.push_batch_from(None, PUSH_BATCH_MAX)
    }

    /// A push request of at most `limit` entries (capped at
    /// [`logiflow_core::PUSH_BATCH_MAX`]): the oldest unpushed ones, or, with `from`,
    /// every entry from that `device_seq` on, pushed or not (to resend what a server
    /// answering `sequence_gap` lacks).
    pub fn push_batch_from(&self, from: Option<u64>, limit: usize) -> Result<PushRequest> {
        let device = read_device(&self.conn)?.ok_or(Error::NotInitialized)?;
        let limit = limit.clamp(1, PUSH_BATCH_MAX);
        let from = from.map(|f| i64::try_from(f).unwrap_or(i64::MAX));
        let mut stmt = self.conn.prepare(
            "select movement, base_cursor from journal
             where (?2 is null and status = 'pending') or device_seq >= ?2
             order by device_seq limit ?1",
        )?;
        let mut movements = Vec::new();
        let mut rows = stmt.query(params![limit as i64, from])?;
        while let Some(r) = rows.next()? {
            let json: String = r.get(0)?;
            let base: Option<String> = r.get(1)?;
            movements.push(PushedMovement {
                movement: serde_json::from_str(&json).map_err(Error::corrupt)?,
                base_cursor: base.map(logiflow_core::Cursor::new),
            });
        }
        let lots = local_lots(&self.conn, &movements)?;
        Ok(PushRequest {
            device: device.device,
            movements,
            lots,
        })
    }

    /// Writes the outcomes of a push response back to the journal, in one transaction.
    /// Applying the same response again changes nothing.
    pub fn mark_pushed(&mut self, response: &PushResponse) -> Result<usize> {
        let now = self.env.now();
        let uptime = self.env.uptime();
        let tx = self.write()?;
        let mut written = 0;
        for result in &response.results {
            if !write_outcome(&tx, result, now, false)? {
                return Err(Error::UnknownMovement(result.movement.to_string()));
            }
            written += 1;
        }
        let offset = (response.server_time - now).num_milliseconds();
        tx.execute(
            "update sync_state set last_push_at_ns = ?1, clock_offset_ms = ?2",
            params![ns(now)?, offset],
        )?;
        set_clock_reference(&tx, response.server_time, uptime)?;
        tx.commit()?;
        Ok(written)
    }
}

/// Stores a movement's outcome; `settled` when a pull carried it. Returns whether the
/// journal holds the movement.
pub(super) fn write_outcome(
    tx: &Transaction<'_>,
    result: &MovementResult,
    now: DateTime<Utc>,
    settled: bool,
) -> Result<bool> {
    let detail = serde_json::to_string(result).map_err(Error::corrupt)?;
    let seq = i64::try_from(result.seq).map_err(Error::corrupt)?;
    let found: Option<i64> = optional(tx.query_row(
        "select device_seq from journal where id = ?1",
        params![result.movement.to_string()],
        |r| r.get(0),
    ))?;
    match found {
        None => return Ok(false),
        Some(s) if s != seq => {
            return Err(Error::corrupt(format!(
                "the server reports movement {} at seq {}, the journal has it at {s}",
                result.movement, result.seq
            )));
        }
        Some(_) => {}
    }
    // A pull's outcome is the latest word: a push response arriving after it (a re-push
    // answered from the server's store) must not turn an outcome the pulled rows already
    // include back into one the projection would apply a second time.
    tx.prepare_cached(
        "update journal set status = 'pushed', outcome = ?2, outcome_detail = ?3,
             flagged = ?4, settled = max(settled, ?5),
             pushed_at_ns = coalesce(pushed_at_ns, ?6)
         where id = ?1 and (?5 or settled = 0)",
    )?
    .execute(params![
        result.movement.to_string(),
        result.outcome.name().as_str(),
        detail,
        !result.flags.is_empty(),
        settled,
        ns(now)?
    ])?;
    Ok(true)
}

/// The lots this device created offline that `movements` name: a push or an exported
/// journal declares them (`logiflow_core::lots`).
pub(crate) fn local_lots(
    conn: &rusqlite::Connection,
    movements: &[PushedMovement],
) -> Result<Vec<LotRecord>> {
    let mut ids: Vec<String> = movements
        .iter()
        .filter_map(|p| p.movement.lot.map(|l| l.to_string()))
        .collect();
    ids.sort();
    ids.dedup();
    let mut stmt = conn.prepare_cached(
        "select id, product_id, code, expires_on from lot where id = ?1 and local = 1",
    )?;
    let mut lots = Vec::new();
    for id in ids {
        let row: Option<(String, String, String, Option<String>)> =
            optional(stmt.query_row(params![id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            }))?;
        if let Some((id, product, code, expires_on)) = row {
            lots.push(LotRecord {
                id: id.parse().map_err(Error::corrupt)?,
                product: product.parse().map_err(Error::corrupt)?,
                code: LotCode::parse(&code).map_err(Error::corrupt)?,
                expires_on: expires_on
                    .map(|d| d.parse())
                    .transpose()
                    .map_err(Error::corrupt)?,
            });
        }
    }
    Ok(lots)
}
