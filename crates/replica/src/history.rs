//! The movement history of a product or a bin (the Stock screen's detail).
//!
//! The replica keeps no history of its own beyond the journal, so the history is the
//! server's (`GET /v1/movements?product_id|location_id`, with the device's session), with
//! this device's entries the server does not have yet on top of its first page. Without
//! the server (offline, or no session) it is this device's own journal entries for the
//! product or bin, and says why: never an error.
//!
//! An entry's kind and outcome are core's typed names ([`KindName`], [`OutcomeName`]),
//! so the UI's declarations say the union. A newer server may send a kind or an outcome
//! this build does not know: the entry is still shown, never dropped, with that name as
//! the server wrote it ([`Named::Newer`], `{ "newer": "…" }` to the UI, which shows the
//! text as it is). A supervisor then sees every movement of the product, even one this
//! version cannot name in words, and a page never fails because of one entry.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use logiflow_core::{KindName, LocationId, Movement, MovementKind, OutcomeName, ProductId};
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

/// A name of core's (`N`), or one of a newer server that this build does not know,
/// kept as its text so its entry still shows (see the module).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Named<N> {
    /// A name this build knows.
    Known(N),
    /// A name of a newer server, as it wrote it.
    Newer { newer: String },
}

impl<N: fmt::Display> fmt::Display for Named<N> {
    /// The name's text, a newer one as the server wrote it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Named::Known(name) => name.fmt(f),
            Named::Newer { newer } => f.write_str(newer),
        }
    }
}

impl<N: FromStr> Named<N> {
    /// Reads `text`: a known name, else [`Named::Newer`]; never an error.
    pub fn read(text: String) -> Self {
        match text.parse() {
            Ok(name) => Named::Known(name),
            Err(_) => Named::Newer { newer: text },
        }
    }
}

/// One movement of a history, newest first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistoryEntry {
    /// The movement's id.
    pub id: String,
    /// `receive`, `ship`, `transfer`, `adjust` or `count` (or a newer server's kind).
    #[cfg_attr(feature = "ts", ts(type = "KindName | { newer: string }"))]
    pub kind: Named<KindName>,
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
    /// The server's outcome (`applied`, `held`, …, or a newer server's); none while not
    /// sent.
    #[cfg_attr(feature = "ts", ts(type = "OutcomeName | { newer: string } | null"))]
    pub outcome: Option<Named<OutcomeName>>,
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
                    entries.push(self.server_entry(m, device.as_deref())?);
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

    /// An entry of the server's page; `device` is this device's id.
    fn server_entry(&self, m: ServerMovement, device: Option<&str>) -> Result<HistoryEntry> {
        Ok(HistoryEntry {
            by_this_device: m.device_id.is_some() && m.device_id.as_deref() == device,
            id: m.id,
            kind: Named::read(m.kind),
            qty: m.qty,
            sku: self.sku(m.product_id)?,
            from: self.code(m.from_location_id)?,
            to: self.code(m.to_location_id)?,
            warehouse_id: self.warehouse_id(m.from_location_id.or(m.to_location_id))?,
            occurred_at: m.occurred_at.to_rfc3339(),
            outcome: Some(Named::read(m.outcome)),
            local: false,
        })
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
            "select id, movement, status, outcome from journal
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
                serde_json::from_str(&r.get::<_, String>(1)?).map_err(Error::corrupt)?;
            let (from, to, qty) = parts(&movement.kind);
            let mine = match of {
                HistoryOf::Product(p) => movement.product == *p,
                HistoryOf::Location(l) => from == Some(*l) || to == Some(*l),
            };
            if !mine {
                continue;
            }
            let status: String = r.get(2)?;
            out.push(HistoryEntry {
                id: r.get(0)?,
                // This build wrote the journal, so it knows the kind it recorded.
                kind: Named::Known(movement.kind.name()),
                qty,
                sku: self.sku(movement.product)?,
                from: self.code(from)?,
                to: self.code(to)?,
                warehouse_id: self.warehouse_id(from.or(to))?,
                occurred_at: movement.occurred_at.to_rfc3339(),
                outcome: r.get::<_, Option<String>>(3)?.map(Named::read),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of `GET /v1/movements` (the server's `MovementView`s) from a newer server:
    /// a kind and an outcome this build does not know, and a plain receipt.
    const NEWER_PAGE: &str = r#"{
      "items": [
        {"id": "01938f4e-0000-7000-8000-000000000002", "kind": "relabel", "origin": "online",
         "product_id": "01938f4e-0000-7000-8000-0000000000a1", "lot_id": null,
         "from_location_id": null, "to_location_id": "01938f4e-0000-7000-8000-0000000000b1",
         "qty": 4, "expected": null, "reason": null, "note": null,
         "occurred_at": "2026-12-06T10:00:00Z", "recorded_at": "2026-12-06T10:00:01Z",
         "user_id": "01938f4e-0000-7000-8000-0000000000c1",
         "device_id": "01938f4e-0000-7000-8000-0000000000d1", "device_seq": 7,
         "outcome": "quarantined", "outcome_detail": null, "reference_type": null,
         "reference_id": null, "flags": [], "effects": []},
        {"id": "01938f4e-0000-7000-8000-000000000001", "kind": "receive", "origin": "journal",
         "product_id": "01938f4e-0000-7000-8000-0000000000a1", "lot_id": null,
         "from_location_id": null, "to_location_id": "01938f4e-0000-7000-8000-0000000000b1",
         "qty": 10, "expected": null, "reason": null, "note": null,
         "occurred_at": "2026-12-06T09:00:00Z", "recorded_at": "2026-12-06T09:00:01Z",
         "user_id": "01938f4e-0000-7000-8000-0000000000c1", "device_id": null,
         "device_seq": null, "outcome": "applied", "outcome_detail": null,
         "reference_type": null, "reference_id": null, "flags": [], "effects": []}
      ],
      "next_cursor": null
    }"#;

    #[test]
    fn a_newer_servers_kind_and_outcome_keep_their_entry() {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open(dir.path().join("replica.db")).unwrap();
        let page: ServerPage = serde_json::from_str(NEWER_PAGE).unwrap();
        let device = "01938f4e-0000-7000-8000-0000000000d1";
        let entries: Vec<HistoryEntry> = page
            .items
            .into_iter()
            .map(|m| replica.server_entry(m, Some(device)).unwrap())
            .collect();

        let newer = &entries[0];
        assert_eq!(
            newer.kind,
            Named::Newer {
                newer: "relabel".into()
            }
        );
        assert_eq!(
            newer.outcome,
            Some(Named::Newer {
                newer: "quarantined".into()
            })
        );
        assert!(newer.by_this_device);
        assert_eq!(newer.kind.to_string(), "relabel");
        let known = &entries[1];
        assert_eq!(known.kind, Named::Known(KindName::Receive));
        assert_eq!(known.kind.to_string(), "receive");
        assert_eq!(known.outcome, Some(Named::Known(OutcomeName::Applied)));
        assert!(!known.by_this_device);

        // What the UI reads: a known name is its text, a newer one `{ "newer": … }`.
        let json = serde_json::to_value(&entries).unwrap();
        assert_eq!(json[0]["kind"], serde_json::json!({ "newer": "relabel" }));
        assert_eq!(
            json[0]["outcome"],
            serde_json::json!({ "newer": "quarantined" })
        );
        assert_eq!(json[1]["kind"], "receive");
        assert_eq!(json[1]["outcome"], "applied");
        let back: Vec<HistoryEntry> = serde_json::from_value(json).unwrap();
        assert_eq!(back, entries);
    }
}
