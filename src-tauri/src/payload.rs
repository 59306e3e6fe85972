//! What the UI's screens send to the commands: a sign-in (never logging its password), a
//! conflict's resolution and an export.

use logiflow_replica::{ConnectRequest, ExportKind, ExportRequest, Resolution, Secret};
use serde::Deserialize;
use ts_rs::TS;

/// What the Connect screen sends: the server, who signs in, and (for [`crate::commands::connect`]) the
/// warehouses to keep offline. The password is used for the call only: never stored,
/// never logged (`Debug` leaves it out).
#[derive(Clone, Deserialize, TS)]
pub struct SignIn {
    /// The server's base URL.
    pub server: String,
    /// The tenant's slug.
    pub tenant: String,
    /// The person's email.
    pub email: String,
    /// The person's password.
    pub password: String,
    /// Codes of the warehouses to keep offline; empty for every warehouse.
    pub warehouses: Vec<String>,
}

/// Everything but the password.
impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("server", &self.server)
            .field("tenant", &self.tenant)
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("warehouses", &self.warehouses)
            .finish()
    }
}

impl SignIn {
    pub(crate) fn request(&self) -> ConnectRequest {
        ConnectRequest {
            server: self.server.trim().to_owned(),
            tenant: self.tenant.trim().to_owned(),
            email: self.email.trim().to_owned(),
            password: Secret::new(self.password.clone()),
            warehouses: self.warehouses.clone(),
            name: device_name(),
            platform: std::env::consts::OS.to_owned(),
        }
    }
}

/// The device's name as administrators see it: the host's name when known.
fn device_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    match host {
        Some(host) => format!("LogiFlow desktop on {host}"),
        None => "LogiFlow desktop".to_owned(),
    }
}

/// What the conflict inbox sends to force or void a held movement.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ResolveConflict {
    /// The movement's id ([`logiflow_replica::JournalRow::id`]).
    pub movement: String,
    /// Force or void.
    pub resolution: Resolution,
    /// Why (kept in the server's audit log).
    pub reason: String,
}

/// What the import form sends: what the file holds, where it is, an XLSX's sheet.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ImportFile {
    #[ts(type = "ImportKind")]
    pub kind: logiflow_replica::ImportKind,
    /// The file chosen in the open dialog (or typed).
    pub path: String,
    /// An XLSX file's sheet; none or empty: the first.
    pub sheet: Option<String>,
}

/// How far the server's validation of an import got: rows done of the file's rows.
#[derive(Debug, Clone, serde::Serialize, TS)]
pub struct ImportProgress {
    #[ts(type = "number")]
    pub done: u64,
    #[ts(type = "number")]
    pub total: u64,
}

/// What the export form sends: what, where to, and its filters.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ExportFile {
    #[ts(type = "ExportKind")]
    pub kind: ExportKind,
    /// The file chosen in the save dialog.
    pub path: String,
    /// `csv` or `xlsx`; none: from the file's extension.
    pub format: Option<String>,
    /// A warehouse of the device, by code.
    pub warehouse: Option<String>,
    /// From this date (`YYYY-MM-DD`, midnight UTC): movements, audit.
    pub from: Option<String>,
    /// Before this date: movements, audit.
    pub to: Option<String>,
}

impl ExportFile {
    /// The replica's request; a date that does not parse is refused in words.
    pub(crate) fn request(&self) -> Result<ExportRequest, logiflow_replica::Error> {
        let day = |field: &'static str, v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
                        .map_err(|_| logiflow_replica::Error::InvalidInput {
                            field,
                            message: format!("{v:?} is not a date (YYYY-MM-DD)"),
                        })
                })
                .transpose()
        };
        Ok(ExportRequest {
            format: self.format.clone().filter(|f| !f.is_empty()),
            warehouse: self.warehouse.clone().filter(|w| !w.trim().is_empty()),
            from: day("from", &self.from)?,
            to: day("to", &self.to)?,
        })
    }
}
