//! Sync driven end to end: push the journal, then pull until the replica is current
//! (DESIGN §5.2, §5.5); and connecting a new device.
//!
//! Resumable at any point, because every step that changes the replica is one SQLite
//! transaction taken only after the server answered:
//!
//! * a push batch's outcomes are written by [`Replica::mark_pushed`] after the response
//!   arrived; killed before that, the entries are still pending and are pushed again,
//!   and the server answers them from its store (idempotent by movement id and
//!   `(device, seq)`), so nothing is lost or booked twice;
//! * a pull page and its cursor are committed together by [`Replica::apply_pull`];
//!   killed mid-pull, the next pull starts after the last page applied.
//!
//! Two syncs of one replica never run at once (a lock file beside the database): they
//! would both rotate the single-use refresh token, and the server revokes a session
//! whose used token is presented again.
//!
//! Pushes go in batches of at most `PUSH_BATCH_MAX` (halved on a 413); a `sequence_gap`
//! resends from the server's `next_seq`. Transient failures (connection, timeout, a
//! response cut short, 5xx, 429 with `Retry-After`) are retried with backoff and jitter,
//! bounded in count and by the sync's deadline; a device registration is never resent.
//! `device_revoked`, `subscription_expired` and refused credentials stop the sync with a
//! typed error and leave the journal untouched.
//!
//! Re-attach ([`Replica::login`]): journal entries carry their device's id and `device_seq`
//! immutably, so a device whose session ended (offline longer than the server's refresh
//! token lifetime, or its keyring lost) gets a new session for the same device from
//! `POST /v1/devices/{id}/session` and then pushes as if nothing happened. A new device
//! is only on request ([`Replica::login_new_device`]): the old file is kept as
//! `<db>.device-<old id>`, refused while any entry is unanswered. A revoked device's
//! unsent entries are exported to a `core::journal_file` and uploaded by a manager
//! (`POST /v1/devices/{id}/journal`), where they wait for review.

use std::fs::OpenOptions;
use std::time::Instant;

use chrono::{DateTime, Utc};
use logiflow_core::{
    DeviceId, JournalFile, MovementId, Outcome, PUSH_BATCH_MAX, ProblemCode, PullPage, PushRequest,
    PushResponse, WarehouseId,
};
use rusqlite::{OptionalExtension, params};

use crate::api::{DeviceInfo, JournalExported, JournalUploaded, Resolution, Resolved, SignedOut};
use crate::client::{
    CallError, Resend, RetryNote, ServerClient, SyncOptions, WarehouseInfo, problem_error,
    usable_tokens,
};
use crate::credentials::{CredentialStore, DeviceTokens, Secret};
use crate::db::ns;
use crate::{Error, ErrorBody, Replica, Result};

/// The most `sequence_gap` answers one sync follows before giving up (each one moves the
/// push back to where the server is; more than a few means the two disagree for good).
const SEQUENCE_GAPS_MAX: usize = 3;

/// The longest reason for forcing or voiding a held movement (the server's bound).
pub use logiflow_core::sync::RESOLVE_REASON_LEN_MAX;

/// What a running sync reports, as it goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum SyncProgress {
    /// Entries pushed so far, of the entries pending when the sync started.
    Pushing {
        /// Entries the server answered.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pushed: u64,
        /// Entries pending at the start.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        total: u64,
    },
    /// Pull pages applied so far.
    Pulling {
        /// Pages applied.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pages: u64,
        /// Items (catalog records, rows, effects, outcomes) in them.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        items: u64,
        /// While a snapshot downloads (a new device): the records received so far and
        /// the snapshot's total, as the server reports them; none for the changes that
        /// follow.
        #[cfg_attr(feature = "ts", ts(type = "{ sent: number, total: number } | null"))]
        snapshot: Option<logiflow_core::SnapshotProgress>,
    },
    /// A transient failure; the request is sent again after a delay.
    Retrying {
        /// Which retry, from 1.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        attempt: u64,
        /// The delay before it.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        delay_ms: u64,
        /// What failed.
        reason: String,
    },
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncReport {
    /// Journal entries the server answered (a re-sent one counts again).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub pushed: u64,
    /// Of those: applied.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub applied: u64,
    /// Held until the stock they need is known.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub held: u64,
    /// Rejected.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub rejected: u64,
    /// Absorbed by a later count.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub absorbed: u64,
    /// Counts superseded by a later count.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub superseded: u64,
    /// Held movements a manager voided (answered again when re-sent).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub voided: u64,
    /// Pull pages applied.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub pages: u64,
    /// Items in them.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub items: u64,
    /// Outcomes of this device's movements the pull brought (a held one applied later,
    /// one forced or voided by a manager, …).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub outcomes: u64,
    /// Transient failures retried.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub retries: u64,
    /// Entries still pending afterwards (recorded while the sync ran).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub pending: u64,
    /// The replica's cursor afterwards.
    pub cursor: Option<String>,
}

/// Setting up a device with the server (`logiflow connect`).
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// The server's base URL.
    pub server: String,
    /// The tenant's slug.
    pub tenant: String,
    /// The person's email.
    pub email: String,
    /// The person's password (used once, never stored).
    pub password: Secret,
    /// The codes of the warehouses to keep offline; empty for every warehouse of the
    /// tenant.
    pub warehouses: Vec<String>,
    /// The device's name, as administrators see it.
    pub name: String,
    /// Its platform (`linux`, `windows`, `macos`).
    pub platform: String,
}

/// What `connect` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConnectReport {
    /// The device as registered.
    pub device: DeviceInfo,
    /// Its scope.
    pub scope: Vec<WarehouseInfo>,
    /// Where its credentials are kept.
    pub credentials: String,
    /// The first sync, if it succeeded.
    pub first_sync: Option<SyncReport>,
    /// Why the first sync failed (the device is set up all the same: `sync` again).
    pub first_sync_error: Option<ErrorBody>,
}

/// The device's scope beside the tenant's warehouses (`logiflow scope`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScopeReport {
    /// The warehouses this device keeps offline.
    pub scope: Vec<WarehouseInfo>,
    /// Every active warehouse of the tenant, as the server lists it now.
    pub tenant_warehouses: Vec<WarehouseInfo>,
}

impl Replica {
    /// Sets this replica up as a new device of the server: signs the person in, checks
    /// the chosen warehouses, registers the device (the server gives its id and its own
    /// session), stores the device's tokens in `store`, initialises the replica and runs
    /// the first sync. The password is used for this call only.
    pub fn connect(
        &mut self,
        req: &ConnectRequest,
        store: &CredentialStore,
        options: SyncOptions,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<ConnectReport> {
        if let Some(existing) = self.device()? {
            return Err(Error::AlreadyInitialized(existing.device.to_string()));
        }
        let client = ServerClient::new(&req.server, options)?;
        let person = client.login(req.tenant.trim(), req.email.trim(), &req.password)?;
        let all = client.person_warehouses(&person)?;
        let chosen: Vec<WarehouseInfo> = if req.warehouses.is_empty() {
            all.clone()
        } else {
            let mut chosen = Vec::new();
            for code in &req.warehouses {
                let code = code.trim().to_ascii_uppercase();
                match all.iter().find(|w| w.code == code) {
                    Some(w) => chosen.push(w.clone()),
                    None => {
                        let known: Vec<&str> = all.iter().map(|w| w.code.as_str()).collect();
                        return Err(Error::InvalidInput {
                            field: "warehouse",
                            message: format!(
                                "no active warehouse {code}; the tenant has: {}",
                                known.join(", ")
                            ),
                        });
                    }
                }
            }
            chosen
        };
        if chosen.is_empty() {
            return Err(Error::InvalidInput {
                field: "warehouse",
                message: "the tenant has no active warehouse to keep offline".into(),
            });
        }
        let ids: Vec<_> = chosen.iter().map(|w| w.id).collect();
        let registered = client.register_device(&person, &req.name, &req.platform, &ids)?;
        // The tokens first: a device whose replica exists but whose tokens were lost
        // could never sync, while tokens stored for a replica that failed to initialise
        // only leave an unused entry.
        store.save(
            registered.device.id,
            &registered.tokens.into_device_tokens(),
        )?;
        let device = self.init_device(
            person.tenant,
            person.user,
            client.base_url(),
            Some(registered.device.id),
        )?;
        {
            let tx = self.write()?;
            for w in &registered.device.warehouse_ids {
                tx.execute(
                    "insert or ignore into scope (warehouse_id) values (?1)",
                    params![w.to_string()],
                )?;
            }
            tx.commit()?;
        }
        let (first_sync, first_sync_error) = match self.sync(&client, store, progress) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e.body())),
        };
        Ok(ConnectReport {
            device,
            scope: chosen,
            credentials: store.describe(),
            first_sync,
            first_sync_error,
        })
    }

    /// Pushes every pending journal entry, then pulls until the replica is current.
    /// Stops with [`Error::DeviceRevoked`], [`Error::SubscriptionExpired`] or
    /// [`Error::CredentialsInvalid`] without changing the journal; transient failures
    /// are retried within the client's bounds, then [`Error::Unreachable`]. The outcome
    /// (time, error) is kept for [`Replica::status`].
    pub fn sync(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<SyncReport> {
        self.run_sync(client, store, progress, true, true)
    }

    /// Only the push half of [`Replica::sync`].
    pub fn sync_push(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<SyncReport> {
        self.run_sync(client, store, progress, true, false)
    }

    /// Only the pull half of [`Replica::sync`].
    pub fn sync_pull(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<SyncReport> {
        self.run_sync(client, store, progress, false, true)
    }

    fn run_sync(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        progress: &mut dyn FnMut(&SyncProgress),
        push: bool,
        pull: bool,
    ) -> Result<SyncReport> {
        let ((), report) = self.with_session(
            client,
            store,
            progress,
            |_| true,
            |replica, ctx| {
                if push {
                    replica.push_all(ctx)?;
                }
                if pull {
                    replica.pull_all(ctx)?;
                    replica.read_permissions(ctx)?;
                    replica.sync_alerts(ctx)?;
                }
                Ok(())
            },
        )?;
        Ok(report)
    }

    /// Runs `work` with the device's session, holding the sync lock (refresh tokens are
    /// single use: two users of the session at once would revoke it), then keeps the
    /// outcome (time, error, last contact) for [`Replica::status`] and completes the
    /// report. An error for which `is_sync_state` is false (a refused resolution: an
    /// answer, which says nothing bad of the connection) leaves the last sync's outcome
    /// as it was; only the contact is kept.
    pub(crate) fn with_session<T>(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        progress: &mut dyn FnMut(&SyncProgress),
        is_sync_state: fn(&Error) -> bool,
        work: impl FnOnce(&mut Self, &mut Ctx<'_>) -> Result<T>,
    ) -> Result<(T, SyncReport)> {
        self.with_session_as(client, store, progress, Some(is_sync_state), work)
    }

    /// [`Replica::with_session`]; with `is_sync_state` `None` the call is a read that is
    /// no sync at all: whatever it returns, only the last contact is kept.
    pub(crate) fn with_session_as<T>(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        progress: &mut dyn FnMut(&SyncProgress),
        is_sync_state: Option<fn(&Error) -> bool>,
        work: impl FnOnce(&mut Self, &mut Ctx<'_>) -> Result<T>,
    ) -> Result<(T, SyncReport)> {
        let device = self.device()?.ok_or(Error::NotInitialized)?;
        let lock_path = sync_lock_path(&self.path);
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                Error::Credentials(format!("failed to open {}: {e}", lock_path.display()))
            })?;
        let mut lock = fd_lock::RwLock::new(lock_file);
        let _guard = lock.try_write().map_err(|_| Error::SyncBusy)?;

        let mut ctx = Ctx {
            client,
            store,
            device: device.device,
            tokens: None,
            deadline: Instant::now() + client.options().deadline,
            progress,
            report: SyncReport::default(),
            contact: None,
        };
        let result = work(self, &mut ctx);
        let contact = ctx.contact.map(ns).transpose()?;
        // When the session ends, as the last pair the store holds says (a refresh moves
        // it on): status shows it, and the app warns before.
        let session_ends = ctx
            .tokens
            .as_ref()
            .and_then(|t| t.refresh_expires_at)
            .map(ns)
            .transpose()?;
        if session_ends.is_some() {
            self.conn.execute(
                "update sync_state set session_expires_at_ns = ?1",
                params![session_ends],
            )?;
        }
        let is_sync = match (&result, is_sync_state) {
            (_, None) => false,
            (Err(e), Some(is_sync_state)) => is_sync_state(e),
            (Ok(_), Some(_)) => true,
        };
        match &result {
            _ if !is_sync => {
                self.conn.execute(
                    "update sync_state set last_contact_at_ns = coalesce(?1, last_contact_at_ns)",
                    params![contact],
                )?;
            }
            _ => {
                let now = self.env.now();
                let err = result.as_ref().err().map(Error::body);
                self.conn.execute(
                    "update sync_state set last_sync_at_ns = ?1, last_sync_error_code = ?2,
                         last_sync_error = ?3, last_contact_at_ns = coalesce(?4, last_contact_at_ns)",
                    params![
                        ns(now)?,
                        err.as_ref().map(|e| e.code.clone()),
                        err.as_ref().map(|e| e.message.clone()),
                        contact
                    ],
                )?;
            }
        }
        let value = result?;
        let status = self.status()?;
        ctx.report.pending = status.pending;
        ctx.report.cursor = status.cursor;
        Ok((value, ctx.report))
    }

    /// Reads what the device's user may do (`/v1/me`) and keeps it for
    /// [`Status::permissions`](crate::Status): a role changed on the server shows at the
    /// next sync.
    fn read_permissions(&mut self, ctx: &mut Ctx<'_>) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Me {
            permissions: Vec<String>,
        }
        let me: Me = ctx
            .authed(reqwest::Method::GET, "/v1/me", None::<&()>)
            .map_err(CallError::into_error)?;
        let text = serde_json::to_string(&me.permissions).map_err(Error::corrupt)?;
        self.conn
            .execute("update sync_state set permissions = ?1", params![text])?;
        Ok(())
    }

    /// Reads the alerts of the device's warehouses (every open one and the newest
    /// others) and sends the read marks made here (`crate::replica::alerts` has the
    /// design). A role without `stock_read` sees no alerts.
    fn sync_alerts(&mut self, ctx: &mut Ctx<'_>) -> Result<()> {
        use std::collections::BTreeMap;

        use crate::replica::{ALERTS_OPEN_MAX, ALERTS_PAGE, ALERTS_RECENT, AlertPageWire};

        let mut fetched = BTreeMap::new();
        let mut cursor: Option<String> = None;
        let mut open_read = 0;
        loop {
            let path = match &cursor {
                None => format!("/v1/alerts?open=true&limit={ALERTS_PAGE}"),
                Some(c) => format!(
                    "/v1/alerts?open=true&limit={ALERTS_PAGE}&cursor={}",
                    url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
                ),
            };
            let page: AlertPageWire = match ctx.authed(reqwest::Method::GET, &path, None::<&()>) {
                Ok(page) => page,
                Err(CallError::Problem(p)) if p.kind() == ProblemCode::Forbidden => {
                    self.apply_alerts(&BTreeMap::new())?;
                    return Ok(());
                }
                Err(e) => return Err(e.into_error()),
            };
            open_read += page.items.len();
            fetched.extend(page.items.into_iter().map(|a| (a.id, a)));
            match page.next_cursor {
                Some(next) if open_read < ALERTS_OPEN_MAX => cursor = Some(next),
                _ => break,
            }
        }
        let recent: AlertPageWire = ctx
            .authed(
                reqwest::Method::GET,
                &format!("/v1/alerts?limit={ALERTS_RECENT}"),
                None::<&()>,
            )
            .map_err(CallError::into_error)?;
        fetched.extend(recent.items.into_iter().map(|a| (a.id, a)));
        self.apply_alerts(&fetched)?;

        let user = self.device()?.ok_or(Error::NotInitialized)?.user;
        let marks = self.marks_to_send(user)?;
        for chunk in marks.chunks(ALERTS_PAGE) {
            match ctx.authed::<serde_json::Value>(
                reqwest::Method::POST,
                "/v1/alerts/read",
                Some(&serde_json::json!({ "ids": chunk })),
            ) {
                Ok(_) => {}
                // An alert deleted on the server since it was read above: the server
                // marks none of the chunk, so send them one at a time and drop the
                // ones it does not know.
                Err(CallError::Problem(p)) if p.kind() == ProblemCode::ReferenceNotFound => {
                    for id in chunk {
                        match ctx.authed::<serde_json::Value>(
                            reqwest::Method::POST,
                            "/v1/alerts/read",
                            Some(&serde_json::json!({ "ids": [id] })),
                        ) {
                            Ok(_) => {}
                            Err(CallError::Problem(p))
                                if p.kind() == ProblemCode::ReferenceNotFound => {}
                            Err(e) => return Err(e.into_error()),
                        }
                    }
                }
                Err(e) => return Err(e.into_error()),
            }
            self.marks_sent(user, chunk)?;
        }
        Ok(())
    }

    /// A manager's decision on a held movement of this journal, made from this device
    /// (DESIGN §5.3): asks the server to force it through or void it with `reason`, with
    /// the device's session (the server checks the user's `conflicts_resolve` permission
    /// and audits the user and the device), then pulls, so the outcome the server decided
    /// is in the journal and the projection when this returns. Refused locally, before
    /// any request, when the movement is not in this journal or not held.
    pub fn resolve(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        movement: MovementId,
        resolution: Resolution,
        reason: &str,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<Resolved> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > RESOLVE_REASON_LEN_MAX {
            return Err(Error::InvalidInput {
                field: "reason",
                message: format!(
                    "say why, in 1 to {RESOLVE_REASON_LEN_MAX} characters (it is kept in the audit log)"
                ),
            });
        }
        let (seq, outcome) = self.journal_outcome(movement)?;
        if outcome.as_deref() != Some("held") {
            return Err(Error::InvalidInput {
                field: "movement",
                message: format!(
                    "journal entry #{seq} is {}: only a held movement can be forced or voided",
                    outcome
                        .as_deref()
                        .unwrap_or("not answered by the server yet")
                ),
            });
        }
        let path = format!("/v1/movements/{movement}/{}", resolution.as_str());
        let body = serde_json::json!({ "reason": reason });
        // A refusal (no permission, not held any more) is an answer, not a failed sync.
        let answered = |e: &Error| !matches!(e, Error::Forbidden(_) | Error::Server { .. });
        let ((), pulled) =
            self.with_session(client, store, progress, answered, |replica, ctx| {
                let posted: Result<logiflow_core::MovementResult> = ctx
                    .authed(reqwest::Method::POST, &path, Some(&body))
                    .map_err(CallError::into_error);
                if let Err(Error::Server { status: 409, .. }) = &posted {
                    // No longer held (resolved from elsewhere, or retried and applied):
                    // pull, so the inbox shows what happened instead of the action again.
                    replica.pull_all(ctx)?;
                }
                posted?;
                replica.pull_all(ctx)?;
                replica.read_permissions(ctx)
            })?;
        let (_, outcome) = self.journal_outcome(movement)?;
        Ok(Resolved {
            seq,
            outcome: outcome.unwrap_or_default(),
            pulled,
        })
    }

    /// A journal entry's `device_seq` and outcome, by movement id.
    fn journal_outcome(&self, movement: MovementId) -> Result<(u64, Option<String>)> {
        let row: Option<(i64, Option<String>)> = self
            .conn
            .query_row(
                "select device_seq, outcome from journal where id = ?1",
                params![movement.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (seq, outcome) = row.ok_or_else(|| Error::InvalidInput {
            field: "movement",
            message: format!("movement {movement} is not in this device's journal"),
        })?;
        Ok((u64::try_from(seq).map_err(Error::corrupt)?, outcome))
    }

    /// Signs this device out: ends its session on the server (when it can be reached)
    /// and deletes its tokens from `store`, so nothing on this machine can sync as it any
    /// more. The replica and its journal stay; syncing again needs [`Replica::login`]
    /// (a person signs in on this same device again). Refused while journal entries are
    /// unanswered: they should reach the server before the device is left signed out.
    pub fn sign_out(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
    ) -> Result<SignedOut> {
        let device = self.device()?.ok_or(Error::NotInitialized)?;
        let pending = self.status()?.pending;
        if pending > 0 {
            return Err(Error::InvalidInput {
                field: "journal",
                message: format!(
                    "{pending} journal entries are not sent yet: sync before signing out (a signed-out device sends nothing until someone signs in on it again)"
                ),
            });
        }
        let ended = match self.with_session(
            client,
            store,
            &mut |_| {},
            |_| true,
            |_, ctx| {
                ctx.authed::<()>(reqwest::Method::POST, "/v1/auth/logout", None::<&()>)
                    .map_err(CallError::into_error)
            },
        ) {
            Ok(_) => true,
            // Offline, or the session is already over: the tokens go all the same.
            Err(Error::Unreachable(_) | Error::CredentialsInvalid(_) | Error::DeviceRevoked) => {
                false
            }
            Err(e) => return Err(e),
        };
        store.delete(device.device)?;
        self.conn.execute(
            "update sync_state set last_sync_error_code = 'signed_out', last_sync_error = ?1,
                 permissions = null",
            params!["signed out on this device: sign in again to sync"],
        )?;
        Ok(SignedOut {
            session_ended: ended,
        })
    }

    fn push_all(&mut self, ctx: &mut Ctx<'_>) -> Result<()> {
        let total = self.status()?.pending;
        let mut batch = PUSH_BATCH_MAX;
        let mut from: Option<u64> = None;
        let mut gaps = 0;
        (ctx.progress)(&SyncProgress::Pushing { pushed: 0, total });
        loop {
            let req = self.push_batch_from(from, batch)?;
            let (Some(first), Some(last)) = (req.movements.first(), req.movements.last()) else {
                break;
            };
            let first_seq = first.movement.device.map_or(0, |d| d.seq);
            let last_seq = last.movement.device.map_or(0, |d| d.seq);
            match ctx.authed::<PushResponse>(reqwest::Method::POST, "/v1/sync/push", Some(&req)) {
                Ok(resp) => {
                    check_results(&req, &resp)?;
                    self.mark_pushed(&resp)?;
                    ctx.tally(&resp);
                    (ctx.progress)(&SyncProgress::Pushing {
                        pushed: ctx.report.pushed,
                        total,
                    });
                    // After a gap, keep resending from where the server was until the
                    // journal's end: the entries after the gap were pushed before too.
                    from = from.map(|_| last_seq + 1);
                }
                Err(CallError::Problem(p)) if p.kind() == ProblemCode::SequenceGap => {
                    gaps += 1;
                    let next = p.next_seq.unwrap_or(0);
                    // The server lacks entries this journal marked as pushed (its
                    // database was restored from a backup): resend from where it is.
                    // They are answered and decided again like new ones.
                    if gaps > SEQUENCE_GAPS_MAX || next == 0 || next >= first_seq {
                        return Err(problem_error(p));
                    }
                    from = Some(next);
                }
                Err(CallError::Problem(p))
                    if (p.kind() == ProblemCode::BatchTooLarge || p.status == 413) && batch > 1 =>
                {
                    // A body limit smaller than a full batch: halve and go on.
                    batch = (batch / 2).max(1);
                }
                Err(e) => return Err(e.into_error()),
            }
        }
        Ok(())
    }

    fn pull_all(&mut self, ctx: &mut Ctx<'_>) -> Result<()> {
        let limit = ctx
            .client
            .options()
            .pull_limit
            .clamp(1, logiflow_core::PULL_PAGE_MAX as u32);
        loop {
            let cursor: Option<String> =
                self.conn
                    .query_row("select cursor from sync_state", [], |r| r.get(0))?;
            let path = match cursor {
                Some(c) => format!(
                    "/v1/sync/pull?cursor={}&limit={limit}",
                    url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
                ),
                None => format!("/v1/sync/pull?limit={limit}"),
            };
            let page: PullPage = ctx
                .authed(reqwest::Method::GET, &path, None::<&()>)
                .map_err(CallError::into_error)?;
            let applied = self.apply_pull(&page)?;
            ctx.report.pages += 1;
            ctx.report.items += page.item_count() as u64;
            ctx.report.outcomes += applied.outcomes as u64;
            (ctx.progress)(&SyncProgress::Pulling {
                pages: ctx.report.pages,
                items: ctx.report.items,
                snapshot: page.snapshot,
            });
            if !page.has_more {
                return Ok(());
            }
        }
    }

    /// Where [`Replica::login`] keeps the replica of the device it replaces.
    pub fn retired_path(path: &std::path::Path, device: DeviceId) -> std::path::PathBuf {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".device-{device}"));
        std::path::PathBuf::from(p)
    }

    /// Signs a person in on this device again when its session ended (offline longer
    /// than the server's device session lives, or its keyring lost): the person signs
    /// in (tenant, email, password, as at connect) and the server gives **this** device
    /// a new session (`POST /v1/devices/{id}/session`), keeping its id, scope and
    /// `device_seq`, so the journal pushes as if nothing happened; then a sync runs.
    /// The device's user becomes the person (entries pushed from now on are booked to
    /// them). Refused by the server for a revoked device ([`Error::DeviceRevoked`]:
    /// export the journal instead) and for another tenant's person
    /// ([`Error::CredentialsInvalid`]). Nothing changes in the replica before the server
    /// has answered.
    pub fn login(
        mut self,
        req: &ConnectRequest,
        store: &CredentialStore,
        options: SyncOptions,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<(Replica, ConnectReport)> {
        let report = self.reattach(req, store, options, progress)?;
        Ok((self, report))
    }

    /// [`Replica::login`] for a shell that keeps one replica open: a replica to work on
    /// comes back either way, on failure this file opened again (the failed login
    /// consumed the connection). Returns that replica, or why it could not be reopened,
    /// and the login's result.
    pub fn login_or_reopen(
        self,
        req: &ConnectRequest,
        store: &CredentialStore,
        options: SyncOptions,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> (Result<Replica>, Result<ConnectReport>) {
        let path = self.path.clone();
        match self.login(req, store, options, progress) {
            Ok((fresh, report)) => (Ok(fresh), Ok(report)),
            Err(e) => (Replica::open(&path), Err(e)),
        }
    }

    /// [`Replica::login`] on a replica borrowed in place.
    pub fn reattach(
        &mut self,
        req: &ConnectRequest,
        store: &CredentialStore,
        options: SyncOptions,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<ConnectReport> {
        let device = self.device()?.ok_or(Error::NotInitialized)?;
        let norm = |u: &str| u.trim().trim_end_matches('/').to_owned();
        if !req.server.trim().is_empty() && norm(&req.server) != norm(&device.server_url) {
            return Err(Error::InvalidInput {
                field: "server",
                message: format!(
                    "this device syncs with {}, not {}: sign in on that server",
                    device.server_url, req.server
                ),
            });
        }
        let client = ServerClient::new(&device.server_url, options)?;
        let person = client.login(req.tenant.trim(), req.email.trim(), &req.password)?;
        let attached = client.reattach_device(&person, device.device)?;
        let tokens = attached.tokens.into_device_tokens();
        // The tokens first, as at connect: the old ones are dead on the server now.
        store.save(device.device, &tokens)?;
        {
            let tx = self.write()?;
            tx.execute(
                "update device set user_id = ?1",
                params![person.user.to_string()],
            )?;
            tx.execute(
                "update sync_state set last_sync_error_code = null, last_sync_error = null,
                     session_expires_at_ns = coalesce(?1, session_expires_at_ns)",
                params![tokens.refresh_expires_at.map(ns).transpose()?],
            )?;
            tx.commit()?;
        }
        let device = self.device()?.ok_or(Error::NotInitialized)?;
        let (first_sync, first_sync_error) = match self.sync(&client, store, progress) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e.body())),
        };
        Ok(ConnectReport {
            device,
            scope: self.scope()?,
            credentials: store.describe(),
            first_sync,
            first_sync_error,
        })
    }

    /// The journal's unanswered entries (never pushed, or pushed without an answer) as
    /// a [`JournalFile`], for a device that can no longer push them (revoked): a manager
    /// uploads the file to the server, where they wait in the conflict inbox.
    pub fn journal_file(&self) -> Result<JournalFile> {
        let device = self.device()?.ok_or(Error::NotInitialized)?;
        let mut stmt = self.conn.prepare(
            "select movement, base_cursor from journal where status = 'pending'
             order by device_seq",
        )?;
        let mut entries = Vec::new();
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let json: String = r.get(0)?;
            let base: Option<String> = r.get(1)?;
            entries.push(logiflow_core::PushedMovement {
                movement: serde_json::from_str(&json).map_err(Error::corrupt)?,
                base_cursor: base.map(logiflow_core::Cursor::new),
            });
        }
        let lots = crate::replica::local_lots(&self.conn, &entries)?;
        Ok(JournalFile {
            lots,
            ..JournalFile::new(
                device.tenant,
                device.device,
                device.user,
                device.server_url,
                self.env.now(),
                entries,
            )
        })
    }

    /// Writes [`Replica::journal_file`] to `path` (a new file: an existing one is never
    /// overwritten), fully synced to disk before it is named, so a file that exists is
    /// whole.
    pub fn export_journal(&self, path: &std::path::Path) -> Result<JournalExported> {
        let file = self.journal_file()?;
        let text = serde_json::to_vec_pretty(&file).map_err(Error::corrupt)?;
        let io = |what: &str, e: std::io::Error| Error::InvalidInput {
            field: "out",
            message: format!("failed to {what} {}: {e}", path.display()),
        };
        if path.exists() {
            return Err(Error::InvalidInput {
                field: "out",
                message: format!("{} exists: choose a new file", path.display()),
            });
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = std::path::PathBuf::from(tmp);
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp).map_err(|e| io("create", e))?;
            f.write_all(&text).map_err(|e| io("write", e))?;
            f.sync_all().map_err(|e| io("write", e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| io("name", e))?;
        Ok(JournalExported {
            path: path.display().to_string(),
            device: file.device,
            entries: file.entries.len() as u64,
        })
    }

    /// Reads and checks a journal file written by [`Replica::export_journal`].
    pub fn read_journal_file(path: &std::path::Path) -> Result<JournalFile> {
        let text = std::fs::read(path).map_err(|e| Error::InvalidInput {
            field: "file",
            message: format!("failed to read {}: {e}", path.display()),
        })?;
        let file: JournalFile = serde_json::from_slice(&text).map_err(|e| Error::InvalidInput {
            field: "file",
            message: format!("{} is not a LogiFlow journal file: {e}", path.display()),
        })?;
        file.check().map_err(|e| Error::InvalidInput {
            field: "file",
            message: e.to_string(),
        })?;
        Ok(file)
    }

    /// Uploads another (revoked) device's exported journal with this device's session,
    /// whose user must be allowed to resolve conflicts (a manager): in pieces of at most
    /// [`logiflow_core::JOURNAL_UPLOAD_MAX`] entries, each idempotent, so an upload cut
    /// short is simply run again. Every new entry lands in the server's conflict inbox,
    /// held for review. Not a sync: only the last contact is kept.
    pub fn upload_journal(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        file: &JournalFile,
    ) -> Result<JournalUploaded> {
        let (done, _) = self.with_session_as(client, store, &mut |_| {}, None, |_, ctx| {
            let mut total = JournalUploaded {
                device_id: file.device.as_uuid(),
                ..JournalUploaded::default()
            };
            for piece in file.pieces(logiflow_core::JOURNAL_UPLOAD_MAX) {
                let path = format!("/v1/devices/{}/journal", piece.device);
                let got: JournalUploaded = ctx
                    .authed(reqwest::Method::POST, &path, Some(&piece))
                    .map_err(CallError::into_error)?;
                total.entries += got.entries;
                total.already_on_server += got.already_on_server;
                total.held += got.held;
                total.rejected += got.rejected;
                total.movements.extend(got.movements);
            }
            Ok(total)
        })?;
        Ok(done)
    }

    /// Replaces this device by a new one (only when a person asks for it: `logiflow
    /// login --new-device`), e.g. to start over on a machine whose device was revoked.
    ///
    /// Every journal entry carries the id and `device_seq` of the device that recorded
    /// it (the journal is immutable), so this replica cannot become the new device: this
    /// registers a new device with the same scope, keeps this file as
    /// [`Replica::retired_path`] and starts a fresh replica at the same path, fully
    /// pulled. It refuses while the journal holds entries the server has not answered:
    /// a new device cannot push them, and dropping them would lose physical facts (sign
    /// in on this device again with [`Replica::login`], or, if it was revoked, export
    /// them with [`Replica::export_journal`] for a manager to upload).
    pub fn login_new_device(
        self,
        req: &ConnectRequest,
        store: &CredentialStore,
        options: SyncOptions,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<(Replica, ConnectReport)> {
        let old = self.device()?.ok_or(Error::NotInitialized)?;
        let status = self.status()?;
        if status.pending > 0 {
            return Err(Error::InvalidInput {
                field: "journal",
                message: format!(
                    "{} journal entries of device {} are not answered by the server yet; a new device cannot push them (they carry this device's identity), so a new device would lose them: nothing was changed (sign in on this device again with `logiflow login`, or export them with `logiflow journal export` if it was revoked)",
                    status.pending, old.device
                ),
            });
        }
        let mut req = req.clone();
        if req.warehouses.is_empty() {
            req.warehouses = self
                .scope()?
                .into_iter()
                .map(|w| w.code)
                .filter(|c| !c.is_empty())
                .collect();
        }
        let Replica { conn, env, path } = self;
        // Closing the last connection checkpoints the WAL into the file and removes it.
        conn.close().map_err(|(_, e)| Error::Storage(e))?;
        let retired = Self::retired_path(&path, old.device);
        let io =
            |e: std::io::Error| Error::Corrupt(format!("failed to move the replica aside: {e}"));
        std::fs::rename(&path, &retired).map_err(io)?;
        let mut fresh = Replica::open_with_env(&path, env)?;
        match fresh.connect(&req, store, options, progress) {
            Ok(report) => {
                // The old device's tokens are worthless now; a failure to delete them
                // leaves only a dead entry.
                let _ = store.delete(old.device);
                Ok((fresh, report))
            }
            Err(e) => {
                // Put the old replica back, so a failed login changes nothing.
                drop(fresh);
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(std::path::PathBuf::from(p));
                }
                std::fs::rename(&retired, &path).map_err(io)?;
                Err(e)
            }
        }
    }

    /// The warehouses this device keeps offline, as far as the replica knows them.
    pub fn scope(&self) -> Result<Vec<WarehouseInfo>> {
        let mut stmt = self.conn.prepare(
            "select s.warehouse_id, coalesce(w.code, ''), coalesce(w.name, ''),
                    coalesce(w.time_zone, 'UTC')
             from scope s left join warehouse w on w.id = s.warehouse_id
             order by w.code, s.warehouse_id",
        )?;
        let rows: Vec<(String, String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(id, code, name, time_zone)| {
                Ok(WarehouseInfo {
                    id: crate::db::parse_id(&id)?,
                    code,
                    name,
                    time_zone,
                })
            })
            .collect()
    }

    /// The warehouse a movement happens in (that of its first location), as the local
    /// catalog knows it: the UI shows the movement's times in that warehouse's zone.
    pub fn warehouse_of(&self, movement: &logiflow_core::Movement) -> Result<Option<WarehouseId>> {
        let Some(key) = movement.keys().into_iter().next() else {
            return Ok(None);
        };
        self.location_warehouse(key.location)
    }

    /// The device's scope and the tenant's warehouses as the server lists them now
    /// (with the device's own session).
    pub fn scope_report(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
    ) -> Result<ScopeReport> {
        let device = self.device()?.ok_or(Error::NotInitialized)?;
        let deadline = Instant::now() + client.options().deadline;
        let mut refreshed = false;
        let tokens = usable_tokens(client, store, device.device, deadline, &mut |_| {})?;
        let mut access = access_of(&tokens)?;
        let tenant_warehouses = loop {
            match client.warehouses(&access) {
                Err(Error::CredentialsInvalid(_)) if !refreshed => {
                    refreshed = true;
                    let fresh =
                        client.refresh(store, device.device, &tokens, deadline, &mut |_| {})?;
                    access = access_of(&fresh)?;
                }
                other => break other?,
            }
        };
        let mut scope = self.scope()?;
        for w in &mut scope {
            if let Some(known) = tenant_warehouses.iter().find(|t| t.id == w.id) {
                *w = known.clone();
            }
        }
        Ok(ScopeReport {
            scope,
            tenant_warehouses,
        })
    }
}

/// The lock file that keeps two syncs of the replica at `db` apart.
fn sync_lock_path(db: &std::path::Path) -> std::path::PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".sync-lock");
    std::path::PathBuf::from(p)
}

fn access_of(tokens: &DeviceTokens) -> Result<Secret> {
    tokens
        .access_token
        .clone()
        .ok_or_else(|| Error::CredentialsInvalid("no access token after a refresh".into()))
}

/// The results must answer the request, movement for movement.
fn check_results(req: &PushRequest, resp: &PushResponse) -> Result<()> {
    let same = resp.results.len() == req.movements.len()
        && resp
            .results
            .iter()
            .zip(&req.movements)
            .all(|(r, m)| r.movement == m.movement.id);
    if same {
        Ok(())
    } else {
        Err(Error::Server {
            status: 200,
            code: "invalid_response".into(),
            message: "the push response does not answer the movements pushed".into(),
        })
    }
}

/// One sync's state: the session, the bounds, the progress.
pub(crate) struct Ctx<'a> {
    client: &'a ServerClient,
    store: &'a CredentialStore,
    device: DeviceId,
    tokens: Option<DeviceTokens>,
    deadline: Instant,
    progress: &'a mut dyn FnMut(&SyncProgress),
    report: SyncReport,
    contact: Option<DateTime<Utc>>,
}

impl Ctx<'_> {
    /// A request with the device's access token; an `unauthenticated` answer (the
    /// token expired early, the server's key rotated) refreshes once and resends.
    pub(crate) fn authed<T: serde::de::DeserializeOwned>(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl serde::Serialize>,
    ) -> Result<T, CallError> {
        let json = body
            .map(crate::client::json_body)
            .transpose()
            .map_err(CallError::Other)?;
        self.authed_as(
            method,
            path,
            json.as_deref().map(|b| (b, crate::client::JSON)),
            &crate::client::json_answer::<T>,
        )
    }

    /// [`Ctx::authed`] with the body as bytes of a content type (a file upload), and
    /// `read` reading the successful answer (JSON, a file download).
    pub(crate) fn authed_as<T>(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&[u8], &str)>,
        read: &dyn Fn(reqwest::blocking::Response, &str) -> Result<T, crate::client::Attempt>,
    ) -> Result<T, CallError> {
        self.authed_with(method, path, body, Resend::Yes, read)
    }

    /// [`Ctx::authed_as`] saying whether the request may be sent again after it may have
    /// reached the server (not for a creation without an idempotency key).
    ///
    /// Longer than 80 lines: one loop around a request that refreshes the session once on
    /// `401` and decides on each failure whether the request may be sent again; split,
    /// the retry's state would have to travel between the parts.
    pub(crate) fn authed_with<T>(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&[u8], &str)>,
        resend: Resend<'_>,
        read: &dyn Fn(reqwest::blocking::Response, &str) -> Result<T, crate::client::Attempt>,
    ) -> Result<T, CallError> {
        let mut refreshed = false;
        loop {
            let Ctx {
                client,
                store,
                device,
                tokens,
                deadline,
                progress,
                report,
                ..
            } = self;
            let mut on_retry = |n: RetryNote| {
                report.retries += 1;
                progress(&SyncProgress::Retrying {
                    attempt: n.attempt as u64,
                    delay_ms: u64::try_from(n.delay.as_millis()).unwrap_or(u64::MAX),
                    reason: n.reason,
                });
            };
            if tokens.is_none() {
                *tokens = Some(
                    usable_tokens(client, store, *device, *deadline, &mut on_retry)
                        .map_err(CallError::Other)?,
                );
            }
            let current = tokens.clone().expect("set above");
            let access = access_of(&current).map_err(CallError::Other)?;
            let result = client.call_as(
                method.clone(),
                path,
                Some(&access),
                body,
                resend,
                *deadline,
                &mut on_retry,
                read,
            );
            if matches!(result, Ok(_) | Err(CallError::Problem(_))) {
                self.contact = Some(Utc::now());
            }
            match result {
                Err(CallError::Problem(ref p))
                    if p.kind() == ProblemCode::Unauthenticated && !refreshed =>
                {
                    refreshed = true;
                    let Ctx {
                        client,
                        store,
                        device,
                        tokens,
                        deadline,
                        progress,
                        report,
                        ..
                    } = self;
                    let mut on_retry = |n: RetryNote| {
                        report.retries += 1;
                        progress(&SyncProgress::Retrying {
                            attempt: n.attempt as u64,
                            delay_ms: u64::try_from(n.delay.as_millis()).unwrap_or(u64::MAX),
                            reason: n.reason,
                        });
                    };
                    *tokens = Some(
                        client
                            .refresh(store, *device, &current, *deadline, &mut on_retry)
                            .map_err(CallError::Other)?,
                    );
                }
                other => return other,
            }
        }
    }

    fn tally(&mut self, resp: &PushResponse) {
        for r in &resp.results {
            self.report.pushed += 1;
            match r.outcome {
                Outcome::Applied { .. } => self.report.applied += 1,
                Outcome::Held(_) => self.report.held += 1,
                Outcome::Rejected(_) => self.report.rejected += 1,
                Outcome::Absorbed => self.report.absorbed += 1,
                Outcome::Superseded => self.report.superseded += 1,
                Outcome::Voided { .. } => self.report.voided += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_sync_of_one_replica_is_refused_while_the_first_runs() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("replica.db");
        let mut replica = Replica::open(&db).unwrap();
        replica
            .init_device(
                logiflow_core::TenantId::from_uuid(uuid::Uuid::from_u128(1)),
                logiflow_core::UserId::from_uuid(uuid::Uuid::from_u128(2)),
                "http://127.0.0.1:9",
                None,
            )
            .unwrap();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(sync_lock_path(&db))
            .unwrap();
        let mut other = fd_lock::RwLock::new(file);
        let _held = other.write().unwrap();
        let client = ServerClient::new("http://127.0.0.1:9", SyncOptions::default()).unwrap();
        let store = CredentialStore::File(dir.path().join("creds.json"));
        let err = replica.sync(&client, &store, &mut |_| {}).unwrap_err();
        assert!(matches!(err, Error::SyncBusy), "{err:?}");
        assert_eq!(replica.status().unwrap().last_sync_error, None);
    }
}
