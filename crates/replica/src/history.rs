//! The movement history of a product or a bin (the Stock screen's detail).
//!
//! The replica keeps no history of its own beyond the journal, so the history is the
//! server's (`GET /v1/movements?product_id|location_id`, with the device's session), with
//! this device's entries the server does not have yet on top of its first page. Without
//! the server (offline, or no session) it is this device's own journal entries for the
//! product or bin, and says why: never an error.

use chrono::{DateTime, Utc};
use logiflow_core::{LocationId, Movement, MovementKind, ProductId};
use rusqlite::OptionalExtension;

use crate::client::ServerClient;
use crate::credentials::CredentialStore;
use crate::error::{Error, Result};
use crate::replica::Replica;

/// Most entries a history page holds.
pub const HISTORY_PAGE_MAX: u32 = 100;

/// Whose history: a product's, or a bin's (movements in or out of it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "of", content = "id", rename_all = "snake_case")]
pub enum HistoryOf {
    Product(#[cfg_attr(feature = "ts", ts(type = "string"))] ProductId),
    Location(#[cfg_attr(feature = "ts", ts(type = "string"))] LocationId),
}

/// A page of history to read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistoryQuery {
    pub of: HistoryOf,
    /// The `next_cursor` of the previous page; none for the first.
    pub cursor: Option<String>,
    /// Entries per page (default and most: [`HISTORY_PAGE_MAX`]).
    pub limit: Option<u32>,
}

/// One movement of a history, newest first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistoryEntry {
    /// The movement's id.
    pub id: String,
    /// `receive`, `ship`, `transfer`, `adjust` or `count`.
    pub kind: String,
    /// Units moved; an adjustment's signed change; a count's units seen.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub qty: i64,
    /// The product's SKU, as the local catalog knows it.
    pub sku: String,
    /// The bin it left, by code.
    pub from: Option<String>,
    /// The bin it entered (or was adjusted or counted in), by code.
    pub to: Option<String>,
    /// The warehouse (of its first bin), for its time zone.
    pub warehouse_id: Option<String>,
    /// When it happened (RFC 3339).
    pub occurred_at: String,
    /// The server's outcome (`applied`, `held`, …); none while not sent.
    pub outcome: Option<String>,
    /// Recorded on this device.
    pub by_this_device: bool,
    /// Recorded on this device and not sent yet: the server does not know it.
    pub local: bool,
}

/// A page of history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct History {
    pub entries: Vec<HistoryEntry>,
    /// Where the next page starts; none on the last.
    pub next_cursor: Option<String>,
    /// Why the server's history is missing (offline, signed out…): the entries are then
    /// only this device's journal.
    pub unavailable: Option<String>,
}

/// A movement as `GET /v1/movements` lists it (the fields the history shows).
#[derive(Debug, serde::Deserialize)]
struct ServerMovement {
    id: String,
    kind: String,
    product_id: ProductId,
    from_location_id: Option<LocationId>,
    to_location_id: Option<LocationId>,
    qty: i64,
    occurred_at: DateTime<Utc>,
    device_id: Option<String>,
    outcome: String,
}

#[derive(Debug, serde::Deserialize)]
struct ServerPage {
    items: Vec<ServerMovement>,
    next_cursor: Option<String>,
}

/// A movement's bins (from, to) and quantity as the history shows them.
fn parts(kind: &MovementKind) -> (Option<LocationId>, Option<LocationId>, i64) {
    match *kind {
        MovementKind::Receive { to, qty } => (None, Some(to), qty.get()),
        MovementKind::Ship { from, qty } => (Some(from), None, qty.get()),
        MovementKind::Transfer { from, to, qty } => (Some(from), Some(to), qty.get()),
        MovementKind::Adjust { at, delta, .. } => (None, Some(at), delta.get()),
        MovementKind::Count { at, counted, .. } => (None, Some(at), counted.get()),
    }
}

impl Replica {
    /// A page of the history of a product or bin; see the module. `server` is the
    /// device's client and keyring, none when it has no session.
    pub fn history(
        &mut self,
        server: Option<(&ServerClient, &CredentialStore)>,
        query: &HistoryQuery,
    ) -> Result<History> {
        let limit = query
            .limit
            .unwrap_or(HISTORY_PAGE_MAX)
            .clamp(1, HISTORY_PAGE_MAX);
        let device = self.device()?.map(|d| d.device.to_string());
        let page = match server {
            None => Err(Error::NotInitialized),
            Some((client, store)) => self.server_history(client, store, query, limit),
        };
        match page {
            Ok(page) => {
                let mut entries = Vec::new();
                if query.cursor.is_none() {
                    // What the server does not have yet comes first: it is the newest.
                    entries = self.journal_history(&query.of, true)?;
                }
                for m in page.items {
                    let by_this_device = m.device_id.is_some() && m.device_id == device;
                    entries.push(HistoryEntry {
                        id: m.id,
                        kind: m.kind,
                        qty: m.qty,
                        sku: self.sku(m.product_id)?,
                        from: self.code(m.from_location_id)?,
                        to: self.code(m.to_location_id)?,
                        warehouse_id: self.warehouse_id(m.from_location_id.or(m.to_location_id))?,
                        occurred_at: m.occurred_at.to_rfc3339(),
                        outcome: Some(m.outcome),
                        by_this_device,
                        local: false,
                    });
                }
                Ok(History {
                    entries,
                    next_cursor: page.next_cursor,
                    unavailable: None,
                })
            }
            // Storage failures are ours to report; anything the server path says
            // (offline, signed out, busy, refused) leaves the device's own entries.
            Err(e @ (Error::Storage(_) | Error::Corrupt(_))) => Err(e),
            Err(e) => Ok(History {
                entries: if query.cursor.is_none() {
                    self.journal_history(&query.of, false)?
                } else {
                    Vec::new()
                },
                next_cursor: None,
                unavailable: Some(e.body().message),
            }),
        }
    }

    fn server_history(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        query: &HistoryQuery,
        limit: u32,
    ) -> Result<ServerPage> {
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        match &query.of {
            HistoryOf::Product(p) => params.append_pair("product_id", &p.to_string()),
            HistoryOf::Location(l) => params.append_pair("location_id", &l.to_string()),
        };
        params.append_pair("limit", &limit.to_string());
        if let Some(cursor) = &query.cursor {
            params.append_pair("cursor", cursor);
        }
        let path = format!("/v1/movements?{}", params.finish());
        let (page, _) = self.with_session_as(client, store, &mut |_| {}, None, |_, ctx| {
            ctx.authed::<ServerPage>(reqwest::Method::GET, &path, None::<&()>)
                .map_err(crate::client::CallError::into_error)
        })?;
        Ok(page)
    }

    /// This device's journal entries of the product or bin, newest first: only those
    /// not sent yet when `unsent_only`.
    fn journal_history(&self, of: &HistoryOf, unsent_only: bool) -> Result<Vec<HistoryEntry>> {
        let mut stmt = self.conn.prepare(&format!(
            "select id, kind, movement, occurred_at_ns, status, outcome from journal
             {} order by device_seq desc limit {HISTORY_PAGE_MAX}",
            if unsent_only {
                "where status = 'pending'"
            } else {
                ""
            }
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let movement: Movement =
                serde_json::from_str(&r.get::<_, String>(2)?).map_err(Error::corrupt)?;
            let (from, to, qty) = parts(&movement.kind);
            let mine = match of {
                HistoryOf::Product(p) => movement.product == *p,
                HistoryOf::Location(l) => from == Some(*l) || to == Some(*l),
            };
            if !mine {
                continue;
            }
            let status: String = r.get(4)?;
            out.push(HistoryEntry {
                id: r.get(0)?,
                kind: r.get(1)?,
                qty,
                sku: self.sku(movement.product)?,
                from: self.code(from)?,
                to: self.code(to)?,
                warehouse_id: self.warehouse_id(from.or(to))?,
                occurred_at: movement.occurred_at.to_rfc3339(),
                outcome: r.get(5)?,
                by_this_device: true,
                local: status == "pending",
            });
        }
        Ok(out)
    }

    fn sku(&self, product: ProductId) -> Result<String> {
        Ok(self
            .conn
            .prepare_cached("select sku from product where id = ?1")?
            .query_row([product.to_string()], |r| r.get(0))
            .optional()?
            .unwrap_or_else(|| product.to_string()))
    }

    fn code(&self, location: Option<LocationId>) -> Result<Option<String>> {
        let Some(location) = location else {
            return Ok(None);
        };
        Ok(Some(
            self.conn
                .prepare_cached("select code from location where id = ?1")?
                .query_row([location.to_string()], |r| r.get(0))
                .optional()?
                .unwrap_or_else(|| location.to_string()),
        ))
    }

    fn warehouse_id(&self, location: Option<LocationId>) -> Result<Option<String>> {
        match location {
            None => Ok(None),
            Some(l) => Ok(self.location_warehouse(l)?.map(|w| w.to_string())),
        }
    }
}
