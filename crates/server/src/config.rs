//! Configuration, layered: defaults, then a TOML file, then `LOGIFLOW_` environment
//! variables (the last wins).

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

pub use logiflow_core::Secret;

use crate::tokens::HashCost;

/// Longest access-token lifetime accepted (DESIGN: short-lived access tokens).
pub const ACCESS_TOKEN_TTL_MAX_SECS: u64 = 15 * 60;

/// The server's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// URL of the database as the role that owns the tables; used for migrations and
    /// by the admin CLI.
    pub database_url: Secret,
    /// URL the request pool uses (role `logiflow_app`). When unset it is derived from
    /// `database_url` with the user replaced by `logiflow_app` and the password by
    /// `app_database_password` (or none).
    pub app_database_url: Option<Secret>,
    /// Password of `logiflow_app`, used when deriving `app_database_url`.
    pub app_database_password: Option<Secret>,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// HMAC key for access tokens. When unset an ephemeral one is generated (dev only).
    pub jwt_secret: Option<Secret>,
    /// Lifetime of access tokens, at most [`ACCESS_TOKEN_TTL_MAX_SECS`].
    pub access_token_ttl_secs: u64,
    /// Lifetime of a person's refresh tokens (each refresh issues one for this long).
    pub refresh_token_ttl_secs: u64,
    /// Lifetime of a device's refresh tokens: longer than a person's, because a device
    /// offline for weeks must still be able to send its journal when it comes back.
    pub device_refresh_token_ttl_secs: u64,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Largest import file (`POST /v1/imports`), in bytes.
    pub import_limit_bytes: usize,
    /// Most data rows of an import file.
    pub import_rows_max: usize,
    /// Login attempts allowed per account per minute (burst of the same size).
    pub login_attempts_per_account_per_minute: u32,
    /// Login attempts allowed per client address per minute (burst of the same size).
    pub login_attempts_per_address_per_minute: u32,
    /// Maximum connections of the request pool.
    pub db_max_connections: u32,
    /// Longest a request may take; past it the handler is dropped (its transaction rolls
    /// back) and the client gets `503 timeout`.
    pub request_timeout_ms: u64,
    /// [`Config::request_timeout_ms`] of the bulk routes (imports and exports): a
    /// 200,000-row upload or commit, or a large workbook, takes longer than any other
    /// request.
    pub bulk_request_timeout_ms: u64,
    /// How far after the server's time of receipt a pushed journal movement may be dated
    /// and still take effect at its date; one dated later is held for a person with
    /// review `clock_ahead` (see `logiflow_core::clock`). At most
    /// [`CLOCK_AHEAD_TOLERANCE_MAX_SECS`].
    pub clock_ahead_tolerance_secs: u64,
    /// Whether `serve` runs the webhook delivery worker (`logiflow-server worker` runs it
    /// alone); see `crate::webhooks`.
    pub webhook_worker_enabled: bool,
    /// Time between two passes of the webhook worker.
    pub webhook_worker_interval_ms: u64,
    /// Longest a webhook request may take (connection, answer and its first KB).
    pub webhook_timeout_ms: u64,
    /// Webhook URLs may name loopback, private and link-local addresses (tests, a
    /// receiver on the same network). Off in production: it would let a tenant make the
    /// server call its internal services.
    pub webhook_allow_private_addresses: bool,
    /// Webhook URLs may use `http` besides `https`.
    pub webhook_allow_http: bool,
    /// Delivered (and dead-lettered) webhook deliveries and their outbox events are
    /// deleted this many days after they finished.
    pub webhook_retention_days: u32,
    /// Time between two runs of the scheduled alert check (stock below the reorder point,
    /// expiring lots, long-held movements, silent devices), run by one worker across all
    /// instances; see `crate::alerts`.
    pub alert_check_interval_secs: u64,
    /// The cost of new password hashes. Always [`HashCost::Standard`] when loaded: no key
    /// of the file and no environment variable sets it, so that a deployment cannot
    /// weaken its hashes by mistake; test servers set [`HashCost::Minimal`] in code.
    pub password_hash_cost: HashCost,
}

/// Largest accepted `clock_ahead_tolerance_secs` (one day): beyond it a device whose
/// clock runs ahead could again absorb a day of other people's work.
pub const CLOCK_AHEAD_TOLERANCE_MAX_SECS: u64 = 24 * 3600;

impl Config {
    /// The clock tolerance as a duration.
    pub fn clock_ahead_tolerance(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(
            i64::try_from(self.clock_ahead_tolerance_secs).unwrap_or(i64::MAX / 1_000),
        )
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: Secret::new("postgres://postgres@127.0.0.1:5432/logiflow"),
            app_database_url: None,
            app_database_password: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            jwt_secret: None,
            access_token_ttl_secs: ACCESS_TOKEN_TTL_MAX_SECS,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            device_refresh_token_ttl_secs: 180 * 24 * 3600,
            body_limit_bytes: 1024 * 1024,
            import_limit_bytes: 50 * 1024 * 1024,
            import_rows_max: 200_000,
            login_attempts_per_account_per_minute: 10,
            login_attempts_per_address_per_minute: 60,
            db_max_connections: 20,
            request_timeout_ms: 30_000,
            bulk_request_timeout_ms: 300_000,
            clock_ahead_tolerance_secs: logiflow_core::CLOCK_AHEAD_TOLERANCE_SECS_DEFAULT
                .unsigned_abs(),
            webhook_worker_enabled: true,
            webhook_worker_interval_ms: 1_000,
            webhook_timeout_ms: 10_000,
            webhook_allow_private_addresses: false,
            webhook_allow_http: false,
            webhook_retention_days: 7,
            alert_check_interval_secs: 60,
            password_hash_cost: HashCost::Standard,
        }
    }
}

/// The TOML file: every key optional, same names as [`Config`]'s fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<Secret>,
    app_database_url: Option<Secret>,
    app_database_password: Option<Secret>,
    listen: Option<SocketAddr>,
    jwt_secret: Option<Secret>,
    access_token_ttl_secs: Option<u64>,
    refresh_token_ttl_secs: Option<u64>,
    device_refresh_token_ttl_secs: Option<u64>,
    body_limit_bytes: Option<usize>,
    import_limit_bytes: Option<usize>,
    import_rows_max: Option<usize>,
    login_attempts_per_account_per_minute: Option<u32>,
    login_attempts_per_address_per_minute: Option<u32>,
    db_max_connections: Option<u32>,
    request_timeout_ms: Option<u64>,
    bulk_request_timeout_ms: Option<u64>,
    clock_ahead_tolerance_secs: Option<u64>,
    webhook_worker_enabled: Option<bool>,
    webhook_worker_interval_ms: Option<u64>,
    webhook_timeout_ms: Option<u64>,
    webhook_allow_private_addresses: Option<bool>,
    webhook_allow_http: Option<bool>,
    webhook_retention_days: Option<u32>,
    alert_check_interval_secs: Option<u64>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to parse config file {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("invalid value of {name}: {reason}")]
    Invalid { name: String, reason: String },
}

impl Config {
    /// Loads defaults < `path` (if given) < the process environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.display().to_string(),
                    source,
                })?
            }
            None => FileConfig::default(),
        };
        let mut config = Self::default();
        config.apply_file(file);
        config.apply_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        Ok(config)
    }

    fn apply_file(&mut self, f: FileConfig) {
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(v) = f.$field { self.$field = v; } )* };
        }
        take!(
            database_url,
            listen,
            access_token_ttl_secs,
            refresh_token_ttl_secs,
            device_refresh_token_ttl_secs,
            body_limit_bytes,
            import_limit_bytes,
            import_rows_max,
            login_attempts_per_account_per_minute,
            login_attempts_per_address_per_minute,
            db_max_connections,
            request_timeout_ms,
            bulk_request_timeout_ms,
            clock_ahead_tolerance_secs,
            webhook_worker_enabled,
            webhook_worker_interval_ms,
            webhook_timeout_ms,
            webhook_allow_private_addresses,
            webhook_allow_http,
            webhook_retention_days,
            alert_check_interval_secs
        );
        if f.app_database_url.is_some() {
            self.app_database_url = f.app_database_url;
        }
        if f.app_database_password.is_some() {
            self.app_database_password = f.app_database_password;
        }
        if f.jwt_secret.is_some() {
            self.jwt_secret = f.jwt_secret;
        }
    }

    /// Applies `LOGIFLOW_<FIELD>` variables read through `get` (injectable for tests).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, v: String) -> Result<T, ConfigError>
        where
            T::Err: fmt::Display,
        {
            v.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name: name.to_owned(),
                reason: e.to_string(),
            })
        }
        macro_rules! env {
            ($($field:ident => $name:literal),* $(,)?) => {
                $( if let Some(v) = get($name) { self.$field = parse($name, v)?; } )*
            };
        }
        if let Some(v) = get("LOGIFLOW_DATABASE_URL") {
            self.database_url = Secret::new(v);
        }
        if let Some(v) = get("LOGIFLOW_APP_DATABASE_URL") {
            self.app_database_url = Some(Secret::new(v));
        }
        if let Some(v) = get("LOGIFLOW_APP_DATABASE_PASSWORD") {
            self.app_database_password = Some(Secret::new(v));
        }
        if let Some(v) = get("LOGIFLOW_JWT_SECRET") {
            self.jwt_secret = Some(Secret::new(v));
        }
        env!(
            listen => "LOGIFLOW_LISTEN",
            access_token_ttl_secs => "LOGIFLOW_ACCESS_TOKEN_TTL_SECS",
            refresh_token_ttl_secs => "LOGIFLOW_REFRESH_TOKEN_TTL_SECS",
            device_refresh_token_ttl_secs => "LOGIFLOW_DEVICE_REFRESH_TOKEN_TTL_SECS",
            body_limit_bytes => "LOGIFLOW_BODY_LIMIT_BYTES",
            import_limit_bytes => "LOGIFLOW_IMPORT_LIMIT_BYTES",
            import_rows_max => "LOGIFLOW_IMPORT_ROWS_MAX",
            login_attempts_per_account_per_minute => "LOGIFLOW_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE",
            login_attempts_per_address_per_minute => "LOGIFLOW_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE",
            db_max_connections => "LOGIFLOW_DB_MAX_CONNECTIONS",
            request_timeout_ms => "LOGIFLOW_REQUEST_TIMEOUT_MS",
            bulk_request_timeout_ms => "LOGIFLOW_BULK_REQUEST_TIMEOUT_MS",
            clock_ahead_tolerance_secs => "LOGIFLOW_CLOCK_AHEAD_TOLERANCE_SECS",
            webhook_worker_enabled => "LOGIFLOW_WEBHOOK_WORKER_ENABLED",
            webhook_worker_interval_ms => "LOGIFLOW_WEBHOOK_WORKER_INTERVAL_MS",
            webhook_timeout_ms => "LOGIFLOW_WEBHOOK_TIMEOUT_MS",
            webhook_allow_private_addresses => "LOGIFLOW_WEBHOOK_ALLOW_PRIVATE_ADDRESSES",
            webhook_allow_http => "LOGIFLOW_WEBHOOK_ALLOW_HTTP",
            webhook_retention_days => "LOGIFLOW_WEBHOOK_RETENTION_DAYS",
            alert_check_interval_secs => "LOGIFLOW_ALERT_CHECK_INTERVAL_SECS",
        );
        Ok(())
    }

    /// Checks bounds that the types cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name: &str, reason: &str| ConfigError::Invalid {
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        if self.access_token_ttl_secs == 0 || self.access_token_ttl_secs > ACCESS_TOKEN_TTL_MAX_SECS
        {
            return Err(invalid(
                "access_token_ttl_secs",
                "must be between 1 and 900 seconds",
            ));
        }
        if self.refresh_token_ttl_secs == 0 || self.device_refresh_token_ttl_secs == 0 {
            return Err(invalid("*refresh_token_ttl_secs", "must be positive"));
        }
        if self.login_attempts_per_account_per_minute == 0
            || self.login_attempts_per_address_per_minute == 0
        {
            return Err(invalid("login_attempts_per_*", "must be positive"));
        }
        if self.request_timeout_ms == 0 {
            return Err(invalid("request_timeout_ms", "must be positive"));
        }
        if self.bulk_request_timeout_ms == 0 {
            return Err(invalid("bulk_request_timeout_ms", "must be positive"));
        }
        if self.clock_ahead_tolerance_secs > CLOCK_AHEAD_TOLERANCE_MAX_SECS {
            return Err(invalid(
                "clock_ahead_tolerance_secs",
                "must be at most 86400 seconds (one day)",
            ));
        }
        if self.webhook_worker_interval_ms == 0
            || self.webhook_timeout_ms == 0
            || self.webhook_retention_days == 0
            || self.alert_check_interval_secs == 0
        {
            return Err(invalid(
                "webhook_*, alert_check_interval_secs",
                "must be positive",
            ));
        }
        if let Some(s) = &self.jwt_secret {
            if s.expose().len() < 32 {
                return Err(invalid("jwt_secret", "must be at least 32 bytes"));
            }
        }
        Ok(())
    }

    /// Which addresses webhook URLs may name.
    pub fn webhook_address_policy(&self) -> crate::webhooks::address::AddressPolicy {
        crate::webhooks::address::AddressPolicy {
            allow_private: self.webhook_allow_private_addresses,
            allow_http: self.webhook_allow_http,
        }
    }

    /// The URL of the request pool (role `logiflow_app`), see [`Config::app_database_url`].
    pub fn app_database_url(&self) -> Result<Secret, ConfigError> {
        if let Some(url) = &self.app_database_url {
            return Ok(url.clone());
        }
        let invalid = |reason: String| ConfigError::Invalid {
            name: "database_url".into(),
            reason,
        };
        let mut url =
            url::Url::parse(self.database_url.expose()).map_err(|e| invalid(e.to_string()))?;
        url.set_username(crate::db::APP_ROLE)
            .map_err(|()| invalid("url cannot carry a user".into()))?;
        url.set_password(self.app_database_password.as_ref().map(Secret::expose))
            .map_err(|()| invalid("url cannot carry a password".into()))?;
        Ok(Secret::new(url.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_redacts() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let c = Config {
            jwt_secret: Some(Secret::new("a".repeat(40))),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("aaaa"));
    }

    #[test]
    fn no_file_key_or_variable_lowers_the_password_hash_cost() {
        assert_eq!(Config::default().password_hash_cost, HashCost::Standard);
        let refused = toml::from_str::<FileConfig>("password_hash_cost = \"minimal\"");
        assert!(refused.unwrap_err().to_string().contains("unknown field"));
        let asked = std::cell::RefCell::new(Vec::new());
        let mut c = Config::default();
        c.apply_env(|name| {
            asked.borrow_mut().push(name.to_owned());
            None
        })
        .unwrap();
        let asked = asked.into_inner();
        assert!(asked.contains(&"LOGIFLOW_LISTEN".to_owned()), "{asked:?}");
        assert!(
            !asked
                .iter()
                .any(|name| name.contains("HASH") || name.contains("COST")),
            "{asked:?}"
        );
        assert_eq!(c.password_hash_cost, HashCost::Standard);
    }

    #[test]
    fn layers_file_then_env() {
        let mut c = Config::default();
        c.apply_file(toml::from_str("listen = \"0.0.0.0:9000\"\nbody_limit_bytes = 10").unwrap());
        assert_eq!(c.listen.port(), 9000);
        c.apply_env(|n| (n == "LOGIFLOW_LISTEN").then(|| "127.0.0.1:7000".to_owned()))
            .unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.body_limit_bytes, 10);
        assert_eq!(c.device_refresh_token_ttl_secs, 180 * 24 * 3600);
        c.apply_env(|n| (n == "LOGIFLOW_DEVICE_REFRESH_TOKEN_TTL_SECS").then(|| "40".to_owned()))
            .unwrap();
        assert_eq!(c.device_refresh_token_ttl_secs, 40);
        assert_eq!(c.refresh_token_ttl_secs, 30 * 24 * 3600);
    }

    #[test]
    fn rejects_long_access_tokens_and_unknown_keys() {
        let c = Config {
            access_token_ttl_secs: 901,
            ..Config::default()
        };
        assert!(c.validate().is_err());
        assert!(toml::from_str::<FileConfig>("nope = 1").is_err());
        let c = Config {
            clock_ahead_tolerance_secs: CLOCK_AHEAD_TOLERANCE_MAX_SECS + 1,
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn the_clock_tolerance_defaults_to_five_minutes_and_layers() {
        let mut c = Config::default();
        assert_eq!(c.clock_ahead_tolerance_secs, 300);
        c.apply_file(toml::from_str("clock_ahead_tolerance_secs = 60").unwrap());
        assert_eq!(c.clock_ahead_tolerance(), chrono::TimeDelta::seconds(60));
        c.apply_env(|n| (n == "LOGIFLOW_CLOCK_AHEAD_TOLERANCE_SECS").then(|| "120".to_owned()))
            .unwrap();
        assert_eq!(c.clock_ahead_tolerance_secs, 120);
    }

    #[test]
    fn derives_the_app_url_from_the_owner_url() {
        let c = Config {
            database_url: Secret::new("postgres://owner:pw@db:5432/logiflow"),
            app_database_password: Some(Secret::new("apppw")),
            ..Config::default()
        };
        assert_eq!(
            c.app_database_url().unwrap().expose(),
            "postgres://logiflow_app:apppw@db:5432/logiflow"
        );
    }
}
