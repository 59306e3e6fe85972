//! Cycle counts: the sheet of a bin's or a zone's bins and their stock, and recording a
//! finished count whole or not at all.

use std::collections::BTreeSet;

use logiflow_core::{LocationId, MovementKind};
use rusqlite::{TransactionBehavior, params};

use super::Replica;
use super::record::record_in;
use super::resolve::resolve_location;
use super::time::check_before_recording;
use crate::api::{
    Action, COUNT_BINS_MAX, COUNT_LINES_MAX, CountLine, CountScope, CountSheet, CountSubmission,
    ItemRef, Op, Recorded, STOCK_LIMIT_MAX, StockQuery,
};
use crate::db::parse_id;
use crate::{Error, Result};

impl Replica {
    /// Records a finished count: one `count` movement per line, all in one transaction,
    /// so a count is recorded whole or not at all. A line that fails refuses the count
    /// with [`Error::CountLine`], naming the line. A row (product, bin, lot) may appear
    /// once: the screen adds up repeated scans of one item before submitting.
    pub fn record_count(&mut self, count: &CountSubmission) -> Result<Vec<Recorded>> {
        if count.lines.is_empty() {
            return Err(Error::InvalidInput {
                field: "lines",
                message: "nothing was counted".into(),
            });
        }
        if count.lines.len() > COUNT_LINES_MAX {
            return Err(Error::InvalidInput {
                field: "lines",
                message: format!(
                    "{} lines; at most {COUNT_LINES_MAX} may be recorded at once",
                    count.lines.len()
                ),
            });
        }
        // Not `self.write()`: the clock and randomness are read inside the transaction.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let uptime = self.env.uptime();
        // The first line's clock reading is the one checked.
        let mut first_clock = Some(self.env.now());
        if let Some(clock) = first_clock {
            check_before_recording(&tx, clock, uptime.as_ref())?;
        }
        let mut seen = BTreeSet::new();
        let mut recorded = Vec::with_capacity(count.lines.len());
        for (index, line) in count.lines.iter().enumerate() {
            let in_line = |source: Error| Error::CountLine {
                line: index + 1,
                source: Box::new(source),
            };
            let action = Action {
                expires_on: None,
                item: line.item.clone(),
                lot: line.lot.clone(),
                warehouse: count.warehouse.clone(),
                op: Op::Count {
                    at: line.bin.clone(),
                    counted: line.counted,
                    expected: line.expected,
                },
                reference: None,
            };
            let done = record_in(
                &tx,
                first_clock.take().unwrap_or_else(|| self.env.now()),
                self.env.random(),
                &action,
                uptime.as_ref(),
            )
            .map_err(in_line)?;
            let key = match done.movement.kind {
                MovementKind::Count { at, .. } => (done.movement.product, at, done.movement.lot),
                _ => unreachable!("a count line records a count"),
            };
            if !seen.insert(key) {
                return Err(in_line(Error::InvalidInput {
                    field: "lines",
                    message: format!("{} in bin {} is counted twice", line_item(line), line.bin),
                }));
            }
            recorded.push(done);
        }
        tx.commit()?;
        Ok(recorded)
    }

    /// What a count of `scope` covers: the bin itself, or every active bin under a zone
    /// (at most [`COUNT_BINS_MAX`]), with the projected stock in them.
    pub fn count_sheet(&self, scope: &CountScope) -> Result<CountSheet> {
        let root = resolve_location(&self.conn, &scope.location, scope.warehouse.as_deref())?;
        let (location, warehouse, is_bin): (String, Option<String>, bool) = self.conn.query_row(
            "select l.code, w.code, l.is_leaf from location l
             left join warehouse w on w.id = l.warehouse_id where l.id = ?1",
            params![root.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        // The subtree by parent links; `union` (not `union all`) stops at a cycle that a
        // damaged catalog could hold.
        let mut stmt = self.conn.prepare_cached(
            "with recursive sub(id) as (
                 select ?1 union select c.id from location c join sub on c.parent_id = sub.id)
             select l.id, l.code from location l join sub on sub.id = l.id
             where l.is_leaf = 1 and l.active = 1 order by l.code limit ?2",
        )?;
        let found: Vec<(String, String)> = stmt
            .query_map(params![root.to_string(), COUNT_BINS_MAX as i64 + 1], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        if found.len() > COUNT_BINS_MAX {
            return Err(Error::InvalidInput {
                field: "location",
                message: format!(
                    "{location} holds more than {COUNT_BINS_MAX} bins: count one of its zones at a time"
                ),
            });
        }
        if found.is_empty() {
            return Err(Error::InvalidInput {
                field: "location",
                message: format!("{location} holds no active bin to count"),
            });
        }
        let ids = found
            .iter()
            .map(|(id, _)| parse_id::<LocationId>(id))
            .collect::<Result<BTreeSet<_>>>()?;
        let query = StockQuery {
            warehouse: warehouse.clone(),
            limit: Some(STOCK_LIMIT_MAX),
            ..StockQuery::default()
        };
        let lines = self.stock_in(&query, Some(&ids))?;
        Ok(CountSheet {
            location,
            warehouse: warehouse.unwrap_or_default(),
            is_bin,
            bins: found.into_iter().map(|(_, code)| code).collect(),
            lines,
        })
    }
}

fn line_item(line: &CountLine) -> &str {
    match &line.item {
        ItemRef::Sku(s) | ItemRef::Barcode(s) | ItemRef::Scan(s) => s.trim(),
    }
}
