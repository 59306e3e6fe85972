//! Exports from the server into a file (`logiflow export`): the server's
//! `/v1/exports/{kind}` with the device's session, streamed to disk. The file is written
//! to `<out>.part` and renamed when whole, so an export cut short never leaves a
//! truncated file under the asked name; a transient failure starts it again (bounded like
//! any request of a sync). The server decides who may export what (the device's user's
//! permissions) and writes the cells neutralised against formula injection.
//!
//! A warehouse is named by its code, as on the device: only the device's warehouses are
//! known here. Times (`from`, `to`) apply to movements and the audit log.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::params;

use crate::client::{CallError, ServerClient};
use crate::credentials::CredentialStore;
use crate::db::optional;
use crate::{Error, Replica, Result};

/// What the server exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// The catalog's products, in the import's columns.
    Products,
    /// The location tree, parents first.
    Locations,
    /// Stock rows, now.
    Stock,
    /// The movement history, newest first.
    Movements,
    /// The audit log, newest first.
    Audit,
    /// Lots (SKU, lot, expiry), in the import's columns.
    Lots,
    /// Suppliers, in the import's columns.
    Suppliers,
    /// Customers, in the import's columns.
    Customers,
}

impl ExportKind {
    /// Every kind, in the order the app lists them.
    pub const ALL: [ExportKind; 8] = [
        Self::Products,
        Self::Locations,
        Self::Lots,
        Self::Stock,
        Self::Movements,
        Self::Suppliers,
        Self::Customers,
        Self::Audit,
    ];

    /// The path segment and the file's default name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Products => "products",
            Self::Locations => "locations",
            Self::Stock => "stock",
            Self::Movements => "movements",
            Self::Audit => "audit",
            Self::Lots => "lots",
            Self::Suppliers => "suppliers",
            Self::Customers => "customers",
        }
    }

    /// Whether the kind is exported per warehouse (the app's form asks which only then).
    pub fn per_warehouse(self) -> bool {
        matches!(self, Self::Locations | Self::Stock | Self::Movements)
    }

    /// Whether the kind is exported for a time range.
    pub fn in_time(self) -> bool {
        matches!(self, Self::Movements | Self::Audit)
    }
}

/// An export to make.
#[derive(Debug, Clone, Default)]
pub struct ExportRequest {
    /// `csv` or `xlsx`; none: from the file's extension (`.xlsx`), else CSV.
    pub format: Option<String>,
    /// A warehouse of the device, by code (locations, stock, movements).
    pub warehouse: Option<String>,
    /// From this instant (movements, audit).
    pub from: Option<DateTime<Utc>>,
    /// Before this instant (movements, audit).
    pub to: Option<DateTime<Utc>>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Exported {
    /// What was exported.
    pub kind: ExportKind,
    /// `csv` or `xlsx`.
    pub format: String,
    /// The file written.
    pub path: String,
    /// Its size.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
}

impl Replica {
    /// Exports `kind` from the server into the file `out` (replaced when whole).
    pub fn export(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        kind: ExportKind,
        req: &ExportRequest,
        out: &Path,
    ) -> Result<Exported> {
        let format = match req.format.as_deref().map(str::to_ascii_lowercase) {
            Some(f) if f == "csv" || f == "xlsx" => f,
            Some(other) => {
                return Err(Error::InvalidInput {
                    field: "format",
                    message: format!("{other:?} is not csv or xlsx"),
                });
            }
            None if out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xlsx")) =>
            {
                "xlsx".to_owned()
            }
            None => "csv".to_owned(),
        };
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        params.append_pair("format", &format);
        if let Some(code) = &req.warehouse {
            if !kind.per_warehouse() {
                return Err(Error::InvalidInput {
                    field: "warehouse",
                    message: format!("{} are not exported per warehouse", kind.as_str()),
                });
            }
            params.append_pair("warehouse_id", &self.warehouse_by_code(code)?);
        }
        for (name, at) in [("from", req.from), ("to", req.to)] {
            let Some(at) = at else { continue };
            if !kind.in_time() {
                return Err(Error::InvalidInput {
                    field: name,
                    message: format!("{} are not exported by time", kind.as_str()),
                });
            }
            params.append_pair(name, &at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        if out.is_dir() {
            return Err(Error::InvalidInput {
                field: "out",
                message: format!("{} is a directory: name the file", out.display()),
            });
        }
        let path = format!("/v1/exports/{}?{}", kind.as_str(), params.finish());
        let read = crate::client::file_answer(out);
        let (bytes, _) = self.with_session_as(client, store, &mut |_| {}, None, |_, ctx| {
            ctx.authed_as(reqwest::Method::GET, &path, None, &read)
                .map_err(CallError::into_error)
        })?;
        Ok(Exported {
            kind,
            format,
            path: out.display().to_string(),
            bytes,
        })
    }

    /// The id of the device's warehouse `code`.
    pub(crate) fn warehouse_by_code(&self, code: &str) -> Result<String> {
        optional(self.conn.query_row(
            "select id from warehouse where code = ?1 collate nocase",
            params![code.trim()],
            |r| r.get::<_, String>(0),
        ))?
        .ok_or_else(|| Error::InvalidInput {
            field: "warehouse",
            message: format!("no warehouse {code} on this device (see `logiflow scope`)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ExportKind;

    #[test]
    fn every_kind_is_listed_once_under_its_serde_name() {
        for kind in ExportKind::ALL {
            // A new kind fails to compile here until it is listed.
            match kind {
                ExportKind::Products
                | ExportKind::Locations
                | ExportKind::Stock
                | ExportKind::Movements
                | ExportKind::Audit
                | ExportKind::Lots
                | ExportKind::Suppliers
                | ExportKind::Customers => {}
            }
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        let mut names: Vec<&str> = ExportKind::ALL.iter().map(|k| k.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), ExportKind::ALL.len());
    }
}
