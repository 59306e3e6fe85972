//! Where a device's tokens live: the OS keyring, or — only when chosen explicitly — a
//! file, for headless tests and CI where no keyring daemon runs.
//!
//! The replica's SQLite file never holds a token (anyone who copies the database must not
//! get the device's session), and no token is ever logged: [`Secret`]'s `Debug` redacts.
//!
//! What is stored per device is one JSON value ([`DeviceTokens`]): the refresh token
//! (single use: each refresh returns a new one, which must be saved before anything else
//! happens, since presenting a used one revokes the whole session) and the current
//! access token with its expiry, so that successive `logiflow sync` runs within its
//! lifetime do not rotate the refresh token at all.
//!
//! Each refresh carries a random retry key, saved beside the token before the request: a
//! resend after a lost answer (or after the process died waiting) carries the same key,
//! and the server, which keeps the key's hash and the successor it issued, answers a new
//! pair instead of revoking the session as long as that successor is unused. The keyring
//! entry is service `logiflow`, user `device:<id>`; `LOGIFLOW_CREDENTIALS=file:PATH`
//! chooses the file store, never the default.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use logiflow_core::DeviceId;

use crate::{Error, Result};

/// Environment variable choosing the credential store: unset or `keyring` for the OS
/// keyring, `file:PATH` for a plain file (tests only: the tokens are not encrypted).
pub const CREDENTIALS_ENV: &str = "LOGIFLOW_CREDENTIALS";

/// The keyring service name; the entry's user is `device:<id>`.
pub const KEYRING_SERVICE: &str = "logiflow";

pub use logiflow_core::Secret;

/// A device's tokens, as kept in the credential store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceTokens {
    /// The device's single-use refresh token.
    pub refresh_token: Secret,
    /// The current access token, if one is known.
    #[serde(default)]
    pub access_token: Option<Secret>,
    /// When the access token expires.
    #[serde(default)]
    pub access_expires_at: Option<DateTime<Utc>>,
    /// The retry key of an exchange of `refresh_token` that was sent and not answered
    /// yet: saved before the request, so that a resend after a lost answer (or a crash)
    /// carries the same key and the server treats it as a retry, not a reuse.
    #[serde(default)]
    pub retry_key: Option<Secret>,
    /// When the refresh token expires (the session ends unless refreshed before), as the
    /// server announced it; none from servers that do not say.
    #[serde(default)]
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

/// Where tokens are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialStore {
    /// The operating system's keyring (Secret Service on Linux, Keychain on macOS,
    /// Credential Manager on Windows).
    Keyring,
    /// A JSON file, unencrypted: for headless tests only, never chosen silently.
    File(PathBuf),
}

impl CredentialStore {
    /// The store named by [`CREDENTIALS_ENV`], the keyring when it is unset.
    pub fn from_env() -> Result<Self> {
        match std::env::var(CREDENTIALS_ENV) {
            Ok(spec) => Self::parse(&spec),
            Err(std::env::VarError::NotPresent) => Ok(Self::Keyring),
            Err(e) => Err(Error::InvalidInput {
                field: CREDENTIALS_ENV,
                message: e.to_string(),
            }),
        }
    }

    /// Parses `keyring` or `file:PATH`.
    pub fn parse(spec: &str) -> Result<Self> {
        let spec = spec.trim();
        if spec == "keyring" {
            return Ok(Self::Keyring);
        }
        match spec.strip_prefix("file:") {
            Some(path) if !path.is_empty() => Ok(Self::File(PathBuf::from(path))),
            _ => Err(Error::InvalidInput {
                field: CREDENTIALS_ENV,
                message: format!("expected `keyring` or `file:PATH`, got `{spec}`"),
            }),
        }
    }

    /// Where the tokens are, for people (no secret in it).
    pub fn describe(&self) -> String {
        match self {
            Self::Keyring => "the OS keyring".to_owned(),
            Self::File(p) => format!("the file {} (test only)", p.display()),
        }
    }

    /// The device's tokens, if stored.
    pub fn load(&self, device: DeviceId) -> Result<Option<DeviceTokens>> {
        let text = match self {
            Self::Keyring => match keyring_entry(device)?.get_password() {
                Ok(text) => Some(text),
                Err(keyring::Error::NoEntry) => None,
                Err(e) => return Err(keyring_error(e)),
            },
            Self::File(path) => read_file(path)?.remove(&device.to_string()),
        };
        text.map(|t| {
            serde_json::from_str(&t).map_err(|_| {
                Error::Credentials("the stored device credentials do not parse".into())
            })
        })
        .transpose()
    }

    /// Stores the device's tokens, durably, before returning.
    pub fn save(&self, device: DeviceId, tokens: &DeviceTokens) -> Result<()> {
        let text = serde_json::to_string(tokens).map_err(Error::corrupt)?;
        match self {
            Self::Keyring => keyring_entry(device)?
                .set_password(&text)
                .map_err(keyring_error),
            Self::File(path) => {
                let mut all = read_file(path)?;
                all.insert(device.to_string(), text);
                write_file(path, &all)
            }
        }
    }

    /// Forgets the device's tokens (nothing happens if none are stored).
    pub fn delete(&self, device: DeviceId) -> Result<()> {
        match self {
            Self::Keyring => match keyring_entry(device)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(keyring_error(e)),
            },
            Self::File(path) => {
                let mut all = read_file(path)?;
                if all.remove(&device.to_string()).is_some() {
                    write_file(path, &all)?;
                }
                Ok(())
            }
        }
    }
}

fn keyring_entry(device: DeviceId) -> Result<keyring::Entry> {
    keyring::Entry::new(KEYRING_SERVICE, &format!("device:{device}")).map_err(keyring_error)
}

fn keyring_error(e: keyring::Error) -> Error {
    // The keyring's messages name the store and the failure, never the secret.
    Error::Credentials(format!(
        "the OS keyring failed: {e} (on a headless machine set {CREDENTIALS_ENV}=file:PATH)"
    ))
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|_| {
            Error::Credentials(format!("{} is not a credentials file", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(Error::Credentials(format!(
            "failed to read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes the whole file through a temporary file, synced and renamed over the old one:
/// a crash leaves either the old or the new tokens, never a torn file (losing the new
/// refresh token would lose the device's session).
fn write_file(path: &Path, all: &BTreeMap<String, String>) -> Result<()> {
    let io =
        |e: std::io::Error| Error::Credentials(format!("failed to write {}: {e}", path.display()));
    let text = serde_json::to_string_pretty(all).map_err(Error::corrupt)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_store_spec_and_refuses_anything_else() {
        assert_eq!(
            CredentialStore::parse("keyring").unwrap(),
            CredentialStore::Keyring
        );
        assert_eq!(
            CredentialStore::parse("file:/tmp/x.json").unwrap(),
            CredentialStore::File("/tmp/x.json".into())
        );
        assert!(CredentialStore::parse("file:").is_err());
        assert!(CredentialStore::parse("memory").is_err());
    }

    #[test]
    fn the_file_store_keeps_tokens_per_device_and_debug_hides_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::File(dir.path().join("creds.json"));
        let a = DeviceId::from_uuid(uuid::Uuid::from_u128(1));
        let b = DeviceId::from_uuid(uuid::Uuid::from_u128(2));
        assert_eq!(store.load(a).unwrap(), None);
        let tokens = DeviceTokens {
            refresh_token: Secret::new("lfr_one"),
            retry_key: None,
            access_token: None,
            access_expires_at: None,
            refresh_expires_at: None,
        };
        store.save(a, &tokens).unwrap();
        store
            .save(
                b,
                &DeviceTokens {
                    refresh_token: Secret::new("lfr_two"),
                    retry_key: None,
                    ..tokens.clone()
                },
            )
            .unwrap();
        assert_eq!(store.load(a).unwrap(), Some(tokens.clone()));
        assert!(!format!("{tokens:?}").contains("lfr_one"));
        store.delete(a).unwrap();
        assert_eq!(store.load(a).unwrap(), None);
        assert_eq!(
            store.load(b).unwrap().unwrap().refresh_token.expose(),
            "lfr_two"
        );
    }
}
