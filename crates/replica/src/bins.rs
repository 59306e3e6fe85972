//! The bin generator from the device (the desktop's Settings → Bins): a grid of bins
//! (aisles × racks × levels) under a location of one of the device's warehouses, named by
//! code as the device knows it, previewed and then created by the server in one request
//! (`POST /v1/locations/generate`, rule in `logiflow_core::bins`). The new bins reach the
//! device with the next sync, like any catalog change.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::client::{CallError, ServerClient};
use crate::credentials::CredentialStore;
use crate::db::optional;
use crate::{Error, Replica, Result};

/// How many of the generated codes an answer lists.
pub const BIN_CODES_SHOWN: usize = 10;

/// One dimension of the grid: `from` to `to` (two numbers or two letters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BinSegment {
    pub from: String,
    pub to: String,
    /// What the part is called in the bins' names, e.g. `Aisle` (may be empty).
    pub label: String,
}

/// A grid of bins to generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BinGrid {
    /// A warehouse of the device, by code.
    pub warehouse: String,
    /// The location the bins go under (a zone), by code.
    pub parent: String,
    pub segments: Vec<BinSegment>,
    /// Between the parts of a code: empty, `-`, `_` or `.`.
    pub separator: String,
    /// Only say what would be created.
    pub dry_run: bool,
}

/// What a generation did, or would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GeneratedBins {
    pub dry_run: bool,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: u64,
    /// Created (or to create, in a preview).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub new: u64,
    /// Already under the parent, kept.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub existing: u64,
    /// The first [`BIN_CODES_SHOWN`] codes, in order.
    pub first: Vec<String>,
    /// The last code.
    pub last: String,
}

#[derive(Deserialize)]
struct Answer {
    dry_run: bool,
    total: u64,
    new: u64,
    existing: u64,
    bins: Vec<AnswerBin>,
}

#[derive(Deserialize)]
struct AnswerBin {
    code: String,
}

impl Replica {
    /// Previews (`grid.dry_run`) or creates a grid of bins with this device's session.
    pub fn generate_bins(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        grid: &BinGrid,
    ) -> Result<GeneratedBins> {
        let warehouse_id = self.warehouse_by_code(&grid.warehouse)?;
        let parent = grid.parent.trim();
        let parent_id = optional(self.conn.query_row(
            "select id from location where warehouse_id = ?1 and code = ?2 collate nocase",
            params![warehouse_id, parent],
            |r| r.get::<_, String>(0),
        ))?
        .ok_or_else(|| Error::InvalidInput {
            field: "parent",
            message: format!(
                "no location {parent} in {} on this device (sync first if it is new)",
                grid.warehouse.trim()
            ),
        })?;
        let segments: Vec<serde_json::Value> = grid
            .segments
            .iter()
            .filter(|s| !s.from.trim().is_empty())
            .map(|s| {
                serde_json::json!({
                    "from": s.from.trim(),
                    "to": Some(s.to.trim()).filter(|t| !t.is_empty()),
                    "label": Some(s.label.trim()).filter(|l| !l.is_empty()),
                })
            })
            .collect();
        let body = serde_json::json!({
            "parent_id": parent_id,
            "segments": segments,
            "separator": grid.separator,
            "dry_run": grid.dry_run,
        });
        let (answer, _) = self.with_session_as(client, store, &mut |_| {}, None, |_, ctx| {
            ctx.authed::<Answer>(reqwest::Method::POST, "/v1/locations/generate", Some(&body))
                .map_err(CallError::into_error)
        })?;
        Ok(GeneratedBins {
            dry_run: answer.dry_run,
            total: answer.total,
            new: answer.new,
            existing: answer.existing,
            last: answer
                .bins
                .last()
                .map(|b| b.code.clone())
                .unwrap_or_default(),
            first: answer
                .bins
                .into_iter()
                .take(BIN_CODES_SHOWN)
                .map(|b| b.code)
                .collect(),
        })
    }
}
