//! The network side of sync (DESIGN §5.2, §5.5): HTTP calls to the server, the device's
//! session (access token, single-use refresh token), retries.
//!
//! Blocking by design: the CLI has no async runtime, and the desktop shell calls
//! [`crate::Replica::sync`] from a worker thread (`spawn_blocking`), where a blocking
//! call is what it wants anyway. Do not call it from inside an async task.
//!
//! Retries: connection failures, timeouts, a response cut short, `5xx` and `429` are
//! transient. They are retried with exponential backoff and full jitter (`backon`'s
//! delays; a `Retry-After` is honoured when longer), at most [`SyncOptions::retries_max`]
//! times in a row and never past the sync's deadline. Everything the client sends is
//! safe to send twice (push is idempotent by movement id and `(device, seq)`; pull only
//! reads), except a device registration, which is never retried once sent.

use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use chrono::{TimeDelta, Utc};
use logiflow_core::{DeviceId, ProblemCode, TenantId, UserId, WarehouseId};
use serde::de::DeserializeOwned;

use crate::credentials::{CredentialStore, DeviceTokens, Secret};
use crate::{Error, Result};

/// The longest one HTTP request may take, connection included (30 s, in milliseconds).
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// The longest a connection attempt may take (5 s, in milliseconds).
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// The longest one sync may take, retries included (10 min, in milliseconds): a week of
/// offline work is a few dozen requests, each well under a second.
pub const SYNC_DEADLINE_MS: u64 = 10 * 60 * 1_000;
/// The most retries of one request in a row.
pub const RETRIES_MAX: usize = 8;
/// The first retry delay (in milliseconds); each next one doubles, with jitter.
pub const RETRY_DELAY_MIN_MS: u64 = 200;
/// The longest retry delay (in milliseconds).
pub const RETRY_DELAY_MAX_MS: u64 = 15_000;
/// An access token this close to its expiry is refreshed before use (in seconds).
pub const ACCESS_TOKEN_MARGIN_SECS: i64 = 30;

/// Bounds of a sync; the defaults are the constants above.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The whole sync's time bound.
    pub deadline: Duration,
    /// One request's time bound.
    pub request_timeout: Duration,
    /// One connection attempt's time bound.
    pub connect_timeout: Duration,
    /// Retries of one request in a row.
    pub retries_max: usize,
    /// The first retry delay.
    pub retry_delay_min: Duration,
    /// The longest retry delay.
    pub retry_delay_max: Duration,
    /// Items asked per pull page (at most [`logiflow_core::PULL_PAGE_MAX`]).
    pub pull_limit: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(SYNC_DEADLINE_MS),
            request_timeout: Duration::from_millis(REQUEST_TIMEOUT_MS),
            connect_timeout: Duration::from_millis(CONNECT_TIMEOUT_MS),
            retries_max: RETRIES_MAX,
            retry_delay_min: Duration::from_millis(RETRY_DELAY_MIN_MS),
            retry_delay_max: Duration::from_millis(RETRY_DELAY_MAX_MS),
            pull_limit: logiflow_core::PULL_PAGE_MAX as u32,
        }
    }
}

/// A problem+json answer (RFC 9457) with the server's stable code.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct Problem {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub next_seq: Option<u64>,
    #[serde(skip)]
    pub status: u16,
}

impl Problem {
    /// The code as this build knows it: [`ProblemCode::Unknown`] for a newer server's
    /// (`code` keeps its text for the messages).
    pub(crate) fn kind(&self) -> ProblemCode {
        ProblemCode::parse(&self.code)
    }
}

/// Why a call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The server answered with a problem the caller must look at.
    Problem(Problem),
    /// Retries ran out or the deadline passed.
    Unreachable(String),
    /// Anything else (a body that is not what the contract says).
    Other(Error),
}

impl CallError {
    /// The error as the replica reports it, for problems the caller does not handle.
    pub(crate) fn into_error(self) -> Error {
        match self {
            Self::Problem(p) => problem_error(p),
            Self::Unreachable(m) => Error::Unreachable(m),
            Self::Other(e) => e,
        }
    }
}

/// Maps a problem the caller did not handle to the replica's error.
pub(crate) fn problem_error(p: Problem) -> Error {
    match p.kind() {
        ProblemCode::DeviceRevoked => Error::DeviceRevoked,
        ProblemCode::SubscriptionExpired => Error::SubscriptionExpired,
        ProblemCode::InvalidCredentials => Error::WrongPassword,
        ProblemCode::Forbidden => Error::Forbidden(format!(
            "the server refused: this user's role does not allow it ({})",
            p.detail
        )),
        ProblemCode::InvalidRefreshToken | ProblemCode::Unauthenticated => Error::CredentialsInvalid(
            "the device's session has ended (its refresh token was refused: lost, used twice, expired, or the device was revoked): run `logiflow login` to sign this device in again".into(),
        ),
        _ => Error::Server {
            status: p.status,
            code: if p.code.is_empty() {
                "unknown".into()
            } else {
                p.code
            },
            message: p.detail,
        },
    }
}

/// Whether a request may be sent again after it may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend<'a> {
    /// Safe to repeat (idempotent or read-only).
    Yes,
    /// Only retried when it certainly did not leave the machine (connection refused).
    OnlyIfNotSent,
    /// Safe to repeat: sent with this `Idempotency-Key`, so the server answers a repeat
    /// with what it answered the first time instead of doing it again.
    Keyed(&'a str),
}

/// A retry about to happen, for progress reports.
#[derive(Debug, Clone)]
pub(crate) struct RetryNote {
    pub attempt: usize,
    pub delay: Duration,
    pub reason: String,
}

/// An HTTP client bound to one server.
#[derive(Debug, Clone)]
pub struct ServerClient {
    http: reqwest::blocking::Client,
    base: String,
    options: SyncOptions,
}

/// Tokens answered by login, refresh and registration.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct TokenPair {
    pub access_token: Secret,
    pub refresh_token: Secret,
    #[serde(default = "default_expires_in")]
    pub expires_in: u64,
    /// The refresh token's lifetime in seconds (servers before issue #19 do not say).
    #[serde(default)]
    pub refresh_expires_in: Option<u64>,
}

fn default_expires_in() -> u64 {
    900
}

impl TokenPair {
    pub(crate) fn into_device_tokens(self) -> DeviceTokens {
        let secs = i64::try_from(self.expires_in).unwrap_or(900);
        DeviceTokens {
            refresh_token: self.refresh_token,
            access_token: Some(self.access_token),
            access_expires_at: Some(Utc::now() + TimeDelta::seconds(secs)),
            retry_key: None,
            refresh_expires_at: self
                .refresh_expires_in
                .and_then(|s| i64::try_from(s).ok())
                .map(|s| Utc::now() + TimeDelta::seconds(s)),
        }
    }
}

/// A person signed in (for `connect` and `login`): their access token only, held in
/// memory, never stored.
#[derive(Debug, Clone)]
pub struct PersonSession {
    access: Secret,
    /// The person's tenant.
    pub tenant: TenantId,
    /// The person.
    pub user: UserId,
}

/// A warehouse of the tenant, as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WarehouseInfo {
    /// Its id.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub id: WarehouseId,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its IANA time zone (`Europe/Paris`): the UI shows the warehouse's times in it.
    pub time_zone: String,
}

/// A warehouse as `GET /v1/warehouses` lists it.
#[derive(Debug, serde::Deserialize)]
struct ServerWarehouse {
    id: WarehouseId,
    code: String,
    name: String,
    timezone: String,
}

impl From<ServerWarehouse> for WarehouseInfo {
    fn from(w: ServerWarehouse) -> Self {
        WarehouseInfo {
            id: w.id,
            code: w.code,
            name: w.name,
            time_zone: w.timezone,
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct WarehousePage {
    items: Vec<ServerWarehouse>,
    next_cursor: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct Me {
    tenant_id: TenantId,
    actor_id: UserId,
}

/// The server's answer to a device registration.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Registered {
    pub device: RegisteredDevice,
    pub tokens: TokenPair,
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct RegisteredDevice {
    pub id: DeviceId,
    pub warehouse_ids: Vec<WarehouseId>,
}

/// The most warehouse pages read when listing (500 each): a bound, far beyond any tenant.
const WAREHOUSE_PAGES_MAX: usize = 100;

impl ServerClient {
    /// A client for the server at `base_url` (e.g. `https://logiflow.example.com`).
    pub fn new(base_url: &str, options: SyncOptions) -> Result<Self> {
        let base = base_url.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::InvalidInput {
                field: "server",
                message: format!("`{base}` is not an http(s) URL"),
            });
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("logiflow-replica/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Unreachable(format!("failed to set up the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            options,
        })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The bounds in force.
    pub fn options(&self) -> &SyncOptions {
        &self.options
    }

    /// Signs a person in and reads who they are.
    pub fn login(&self, tenant: &str, email: &str, password: &Secret) -> Result<PersonSession> {
        let deadline = Instant::now() + self.options.deadline;
        let body = serde_json::json!({
            "tenant": tenant, "email": email, "password": password.expose()
        });
        let pair: TokenPair = self
            .call(
                reqwest::Method::POST,
                "/v1/auth/login",
                None,
                Some(&body),
                Resend::Yes,
                deadline,
                &mut |_| {},
            )
            .map_err(CallError::into_error)?;
        let me: Me = self
            .call::<Me>(
                reqwest::Method::GET,
                "/v1/me",
                Some(&pair.access_token),
                None::<&()>,
                Resend::Yes,
                deadline,
                &mut |_| {},
            )
            .map_err(CallError::into_error)?;
        Ok(PersonSession {
            access: pair.access_token,
            tenant: me.tenant_id,
            user: me.actor_id,
        })
    }

    /// The tenant's active warehouses, by code.
    pub fn warehouses(&self, token: &Secret) -> Result<Vec<WarehouseInfo>> {
        let deadline = Instant::now() + self.options.deadline;
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..WAREHOUSE_PAGES_MAX {
            let path = match &cursor {
                Some(c) => format!("/v1/warehouses?limit=500&cursor={c}"),
                None => "/v1/warehouses?limit=500".to_owned(),
            };
            let page: WarehousePage = self
                .call(
                    reqwest::Method::GET,
                    &path,
                    Some(token),
                    None::<&()>,
                    Resend::Yes,
                    deadline,
                    &mut |_| {},
                )
                .map_err(CallError::into_error)?;
            out.extend(page.items.into_iter().map(WarehouseInfo::from));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        out.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(out)
    }

    /// [`ServerClient::warehouses`] with a person's session.
    pub fn person_warehouses(&self, person: &PersonSession) -> Result<Vec<WarehouseInfo>> {
        self.warehouses(&person.access)
    }

    /// Registers a device for the person; never retried once sent (a second
    /// registration would be a second device).
    pub(crate) fn register_device(
        &self,
        person: &PersonSession,
        name: &str,
        platform: &str,
        warehouses: &[WarehouseId],
    ) -> Result<Registered> {
        let deadline = Instant::now() + self.options.deadline;
        let body = serde_json::json!({
            "name": name, "platform": platform, "warehouse_ids": warehouses
        });
        self.call(
            reqwest::Method::POST,
            "/v1/devices",
            Some(&person.access),
            Some(&body),
            Resend::OnlyIfNotSent,
            deadline,
            &mut |_| {},
        )
        .map_err(CallError::into_error)
    }

    /// Signs `person` in on existing device `device` again: the server gives the device a
    /// new session (same id, scope and `device_seq`) and ends its others. Safe to resend:
    /// a second answer only replaces the first session, which nobody received.
    pub(crate) fn reattach_device(
        &self,
        person: &PersonSession,
        device: DeviceId,
    ) -> Result<Registered> {
        let deadline = Instant::now() + self.options.deadline;
        self.call(
            reqwest::Method::POST,
            &format!("/v1/devices/{device}/session"),
            Some(&person.access),
            None::<&()>,
            Resend::Yes,
            deadline,
            &mut |_| {},
        )
        .map_err(|e| match e {
            // Not this tenant's device (or no longer known): the person cannot sign in on it.
            CallError::Problem(p) if p.kind() == ProblemCode::NotFound => Error::CredentialsInvalid(format!(
                "the server knows no device {device} in this person's tenant: sign in with an account of the device's tenant"
            )),
            other => other.into_error(),
        })
    }

    /// Exchanges the device's refresh token for a new pair and stores the new pair at
    /// once, before anything else: the old refresh token is dead from now on.
    pub(crate) fn refresh(
        &self,
        store: &CredentialStore,
        device: DeviceId,
        tokens: &DeviceTokens,
        deadline: Instant,
        on_retry: &mut dyn FnMut(RetryNote),
    ) -> Result<DeviceTokens> {
        // The exchange's retry key, saved before the request: if the answer is lost (or
        // this process dies waiting for it), the resend, now or at the next sync, carries
        // the same key, and the server answers a new pair instead of revoking the session
        // as it does when a spent token comes back without it.
        let key = match &tokens.retry_key {
            Some(key) => key.clone(),
            None => {
                let key = Secret::new(format!(
                    "{:032x}{:032x}",
                    rand::random::<u128>(),
                    rand::random::<u128>()
                ));
                let mut pending = tokens.clone();
                pending.retry_key = Some(key.clone());
                store.save(device, &pending)?;
                key
            }
        };
        let body = serde_json::json!({
            "refresh_token": tokens.refresh_token.expose(),
            "retry_key": key.expose(),
        });
        let pair: TokenPair = self
            .call(
                reqwest::Method::POST,
                "/v1/auth/refresh",
                None,
                Some(&body),
                Resend::Yes,
                deadline,
                on_retry,
            )
            .map_err(CallError::into_error)?;
        let fresh = pair.into_device_tokens();
        store.save(device, &fresh)?;
        Ok(fresh)
    }

    /// One request with retries of transient failures; decodes a JSON answer or returns
    /// the problem.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&Secret>,
        body: Option<&impl serde::Serialize>,
        resend: Resend<'_>,
        deadline: Instant,
        on_retry: &mut dyn FnMut(RetryNote),
    ) -> Result<T, CallError> {
        let json = body.map(json_body).transpose().map_err(CallError::Other)?;
        self.call_as(
            method,
            path,
            bearer,
            json.as_deref().map(|b| (b, JSON)),
            resend,
            deadline,
            on_retry,
            &json_answer::<T>,
        )
    }

    /// [`ServerClient::call`] with the body as bytes of a content type, and `read` reading
    /// a successful answer (JSON, a file).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call_as<T>(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&Secret>,
        body: Option<(&[u8], &str)>,
        resend: Resend<'_>,
        deadline: Instant,
        on_retry: &mut dyn FnMut(RetryNote),
        read: &dyn Fn(reqwest::blocking::Response, &str) -> Result<T, Attempt>,
    ) -> Result<T, CallError> {
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(self.options.retry_delay_min)
            .with_max_delay(self.options.retry_delay_max)
            .with_max_times(self.options.retries_max)
            .with_jitter()
            .build();
        let mut attempt = 0;
        loop {
            let key = match resend {
                Resend::Keyed(key) => Some(key),
                Resend::Yes | Resend::OnlyIfNotSent => None,
            };
            let failure = match self.once(method.clone(), path, bearer, body, key, deadline, read) {
                Ok(v) => return Ok(v),
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Transient {
                    reason,
                    sent,
                    retry_after,
                }) => {
                    if sent && resend == Resend::OnlyIfNotSent {
                        return Err(CallError::Unreachable(format!(
                            "{reason} (not retried: the request may have reached the server)"
                        )));
                    }
                    (reason, retry_after)
                }
            };
            let (reason, retry_after) = failure;
            let Some(delay) = delays.next() else {
                return Err(CallError::Unreachable(format!(
                    "{reason} (gave up after {attempt} retries)"
                )));
            };
            let delay = retry_after.map_or(delay, |r| r.max(delay));
            if Instant::now() + delay >= deadline {
                return Err(CallError::Unreachable(format!(
                    "{reason} (the sync's time bound is reached)"
                )));
            }
            attempt += 1;
            on_retry(RetryNote {
                attempt,
                delay,
                reason,
            });
            std::thread::sleep(delay);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn once<T>(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&Secret>,
        body: Option<(&[u8], &str)>,
        idempotency_key: Option<&str>,
        deadline: Instant,
        read: &dyn Fn(reqwest::blocking::Response, &str) -> Result<T, Attempt>,
    ) -> Result<T, Attempt> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Attempt::Final(CallError::Unreachable(
                "the sync's time bound is reached".into(),
            )));
        }
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(left.min(self.options.request_timeout));
        if let Some(token) = bearer {
            req = req.bearer_auth(token.expose());
        }
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        if let Some((bytes, content_type)) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes.to_vec());
        }
        let resp = req.send().map_err(transport)?;
        let status = resp.status();
        if status.is_success() {
            return read(resp, path);
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().map_err(transport)?;
        let mut problem: Problem = serde_json::from_slice(&bytes).unwrap_or(Problem {
            code: String::new(),
            detail: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            next_seq: None,
            status: 0,
        });
        problem.status = status.as_u16();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(Attempt::Transient {
                reason: format!(
                    "the server answered {} {}",
                    status.as_u16(),
                    if problem.code.is_empty() {
                        status.canonical_reason().unwrap_or("")
                    } else {
                        problem.code.as_str()
                    }
                ),
                sent: true,
                retry_after,
            });
        }
        Err(Attempt::Final(CallError::Problem(problem)))
    }
}

/// How one attempt of a request failed.
pub(crate) enum Attempt {
    Final(CallError),
    Transient {
        reason: String,
        /// The request may have reached the server.
        sent: bool,
        retry_after: Option<Duration>,
    },
}

/// The content type of a JSON body.
pub(crate) const JSON: &str = "application/json";

/// A request body as JSON bytes, serialized once for every attempt.
pub(crate) fn json_body(body: &impl serde::Serialize) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(body).map_err(Error::corrupt)
}

/// Reads a successful answer as JSON. A body cut short fails here: transient, and the
/// request is resent.
pub(crate) fn json_answer<T: DeserializeOwned>(
    resp: reqwest::blocking::Response,
    path: &str,
) -> Result<T, Attempt> {
    let status = resp.status();
    let bytes = resp.bytes().map_err(transport)?;
    // No content (204): `null`, which `()` reads.
    let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
    serde_json::from_slice(bytes).map_err(|e| {
        Attempt::Final(CallError::Other(Error::Server {
            status: status.as_u16(),
            code: "invalid_response".into(),
            message: format!("the answer to {path} does not parse: {e}"),
        }))
    })
}

/// A reader of a successful answer that streams its body into the file `to`: written to
/// `<to>.part` first and renamed when whole, so an interrupted download (retried from
/// the start) never leaves a truncated file under the asked name. Answers the bytes
/// written.
pub(crate) fn file_answer(
    to: &std::path::Path,
) -> impl Fn(reqwest::blocking::Response, &str) -> Result<u64, Attempt> + '_ {
    move |mut resp, _path| {
        let mut part = to.as_os_str().to_owned();
        part.push(".part");
        let part = std::path::PathBuf::from(part);
        let local = |e: std::io::Error| {
            Attempt::Final(CallError::Other(Error::InvalidInput {
                field: "out",
                message: format!("cannot write {}: {e}", to.display()),
            }))
        };
        let mut file = std::fs::File::create(&part).map_err(local)?;
        let written = match std::io::copy(&mut resp, &mut file) {
            Ok(n) => n,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                // The body was cut short (the error is the connection's) or the disk
                // refused: retried like any cut answer, bounded by the call's retries.
                return Err(Attempt::Transient {
                    reason: format!("the download was cut short: {e}"),
                    sent: true,
                    retry_after: None,
                });
            }
        };
        file.sync_all().map_err(local)?;
        std::fs::rename(&part, to).map_err(local)?;
        Ok(written)
    }
}

fn transport(e: reqwest::Error) -> Attempt {
    // reqwest's messages name the URL (no credentials in it: tokens travel in headers
    // and bodies) and the cause.
    Attempt::Transient {
        sent: !e.is_connect(),
        reason: format!("{e}"),
        retry_after: None,
    }
}

/// The device's tokens, refreshing the access token when it is missing or about to
/// expire.
pub(crate) fn usable_tokens(
    client: &ServerClient,
    store: &CredentialStore,
    device: DeviceId,
    deadline: Instant,
    on_retry: &mut dyn FnMut(RetryNote),
) -> Result<DeviceTokens> {
    let tokens = store.load(device)?.ok_or_else(|| {
        Error::CredentialsInvalid(format!(
            "no credentials for device {device} in {}: run `logiflow login`",
            store.describe()
        ))
    })?;
    let fresh_enough = match (&tokens.access_token, tokens.access_expires_at) {
        (Some(_), Some(at)) => at - TimeDelta::seconds(ACCESS_TOKEN_MARGIN_SECS) > Utc::now(),
        _ => false,
    };
    if fresh_enough {
        Ok(tokens)
    } else {
        client.refresh(store, device, &tokens, deadline, on_retry)
    }
}
