//! The Tauri commands: each maps its arguments to one `Replica` call and its error to the
//! replica's [`ErrorBody`], logs the outcome, and does nothing else.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use logiflow_core::{Flag, Hold, HoldReview, MovementId, Outcome};
use logiflow_replica::{
    Action, ConnectRequest, CountScope, CountSheet, CountSubmission, CredentialStore, ErrorBody,
    History, HistoryQuery, ItemRef, JournalExported, ProductRef, Recorded, Replica, Resolution,
    Resolved, Secret, ServerClient, SignedOut, Status, StockKpis, StockLine, StockQuery,
    SyncOptions, SyncProgress, SyncReport, WarehouseInfo,
};
use serde::{Deserialize, Serialize};
use tauri::State;
use tauri::ipc::Channel;
use ts_rs::TS;

use crate::background::{Gate, SyncLoop, SyncView, Trigger};

/// What the shell knows about itself, for the settings screen and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AppInfo {
    /// The replica's SQLite file.
    pub replica_path: String,
    /// The server this app is pointed at (`$LOGIFLOW_SERVER_URL`), if any: the Connect
    /// screen's default address (a connected device syncs with the server it registered
    /// with).
    pub server_url: Option<String>,
    /// Where the log file is written.
    pub log_dir: Option<String>,
    /// The app's version.
    pub version: String,
}

/// The replica the window works on, opened once at start-up.
#[derive(Debug)]
pub struct AppState {
    /// What [`app_info`] answers.
    pub info: AppInfo,
    /// The replica's file: the network commands open their own connection to it on a
    /// worker thread, so that recording (through [`AppState::replica`]) never waits for
    /// the network.
    pub path: PathBuf,
    /// The open replica, or why it could not be opened (shown by every command). `None`
    /// only while [`login`] replaces the replica file.
    pub replica: Result<Mutex<Option<Replica>>, ErrorBody>,
    /// Taken by every call to the server with the device's session, the background
    /// loop's included, so that they take turns.
    pub gate: Gate,
}

impl AppState {
    /// Opens (creating if needed) the replica at `path`.
    pub fn open(path: PathBuf, info: AppInfo, gate: Gate) -> Self {
        let replica = Replica::open(&path)
            .map(|r| Mutex::new(Some(r)))
            .map_err(|error| {
                log::error!("failed to open the replica at {}: {error}", path.display());
                error.body()
            });
        Self {
            info,
            path,
            replica,
            gate,
        }
    }

    fn slot(&self) -> Result<MutexGuard<'_, Option<Replica>>, ErrorBody> {
        let replica = self.replica.as_ref().map_err(Clone::clone)?;
        // A panic while holding the lock leaves the replica itself consistent (every
        // write is one SQLite transaction), so a poisoned lock is still usable.
        Ok(replica
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn replica(&self) -> Result<ReplicaGuard<'_>, ErrorBody> {
        let slot = self.slot()?;
        if slot.is_none() {
            return Err(ErrorBody {
                code: "replica_busy".into(),
                message: "the device is signing in again; try again in a moment".into(),
            });
        }
        Ok(ReplicaGuard(slot))
    }
}

/// The shared replica, locked; never empty (checked by [`AppState::replica`]).
struct ReplicaGuard<'a>(MutexGuard<'a, Option<Replica>>);

impl Deref for ReplicaGuard<'_> {
    type Target = Replica;
    fn deref(&self) -> &Replica {
        self.0.as_ref().expect("AppState::replica checked the slot")
    }
}

impl DerefMut for ReplicaGuard<'_> {
    fn deref_mut(&mut self) -> &mut Replica {
        self.0.as_mut().expect("AppState::replica checked the slot")
    }
}

/// Maps a replica error to what the UI receives, logging it (codes and messages name
/// products and bins, never credentials).
fn failed(command: &str) -> impl FnOnce(logiflow_replica::Error) -> ErrorBody + '_ {
    move |error| {
        if error.is_user_error() {
            log::info!("{command}: refused: {}", error.code());
        } else {
            log::error!("{command}: {error}");
        }
        error.body()
    }
}

/// Where the replica is and what the app is pointed at; answers even when the replica
/// failed to open.
#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    state.info.clone()
}

/// [`Replica::status`].
#[tauri::command(async)]
pub fn status(state: State<'_, AppState>) -> Result<Status, ErrorBody> {
    state.replica()?.status().map_err(failed("status"))
}

/// [`Replica::stock`].
#[tauri::command(async)]
pub fn stock(state: State<'_, AppState>, query: StockQuery) -> Result<Vec<StockLine>, ErrorBody> {
    state.replica()?.stock(&query).map_err(failed("stock"))
}

/// Low-stock lines the dashboard lists.
const DASHBOARD_LOW_STOCK_LINES: usize = 8;

/// [`Replica::stock_kpis`]: the dashboard's stock figures.
#[tauri::command(async)]
pub fn stock_kpis(state: State<'_, AppState>) -> Result<StockKpis, ErrorBody> {
    state
        .replica()?
        .stock_kpis(DASHBOARD_LOW_STOCK_LINES)
        .map_err(failed("stock_kpis"))
}

/// [`Replica::record`], then a nudge to the background loop to send it.
#[tauri::command(async)]
pub fn record(
    state: State<'_, AppState>,
    background: State<'_, SyncLoop>,
    action: Action,
) -> Result<Recorded, ErrorBody> {
    let recorded = state.replica()?.record(&action).map_err(failed("record"))?;
    log::info!("recorded journal entry #{}", recorded.seq);
    background.request(Trigger::Recorded);
    Ok(recorded)
}

/// [`Replica::resolve_item`].
#[tauri::command(async)]
pub fn resolve_item(state: State<'_, AppState>, item: ItemRef) -> Result<ProductRef, ErrorBody> {
    state
        .replica()?
        .resolve_item(&item)
        .map_err(failed("resolve_item"))
}

/// [`Replica::count_sheet`].
#[tauri::command(async)]
pub fn count_sheet(state: State<'_, AppState>, scope: CountScope) -> Result<CountSheet, ErrorBody> {
    state
        .replica()?
        .count_sheet(&scope)
        .map_err(failed("count_sheet"))
}

/// [`Replica::record_count`], then a nudge to the background loop to send it.
#[tauri::command(async)]
pub fn record_count(
    state: State<'_, AppState>,
    background: State<'_, SyncLoop>,
    count: CountSubmission,
) -> Result<Vec<Recorded>, ErrorBody> {
    let recorded = state
        .replica()?
        .record_count(&count)
        .map_err(failed("record_count"))?;
    log::info!("recorded a count of {} rows", recorded.len());
    background.request(Trigger::Recorded);
    Ok(recorded)
}

/// [`Replica::accept_clock`]: the person confirms this computer's clock after a
/// `clock_jumped` refusal ("Record anyway"); returns the time confirmed (RFC 3339).
#[tauri::command(async)]
pub fn accept_clock(state: State<'_, AppState>) -> Result<String, ErrorBody> {
    let at = state
        .replica()?
        .accept_clock()
        .map_err(failed("accept_clock"))?;
    log::info!("the person confirmed the device clock");
    Ok(at.to_rfc3339())
}

/// What the Connect screen sends: the server, who signs in, and (for [`connect`]) the
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
    fn request(&self) -> ConnectRequest {
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

/// What [`connect`] did (the replica's `ConnectReport`, as the UI reads it).
#[derive(Debug, Clone, Serialize, TS)]
pub struct Connected {
    /// The new device's id.
    pub device: String,
    /// The warehouses it keeps offline.
    pub scope: Vec<WarehouseInfo>,
    /// Where its credentials are kept (`OS keyring`, `file …`).
    pub credentials: String,
    /// The first sync, if it succeeded.
    pub first_sync: Option<SyncReport>,
    /// Why the first sync failed (the device is set up all the same: sync again).
    pub first_sync_error: Option<ErrorBody>,
}

/// One journal entry as the Sync screen shows it: in the conflict inbox (held, rejected
/// or flagged by the server) or among the recent entries.
#[derive(Debug, Clone, Serialize, TS)]
pub struct JournalRow {
    /// Its `device_seq`.
    #[ts(type = "number")]
    pub seq: u64,
    /// The movement's id (what a manager forces or voids on the server).
    pub id: String,
    /// `receive`, `ship`, `transfer`, `adjust` or `count`.
    pub kind: String,
    /// When it happened (RFC 3339).
    pub occurred_at: String,
    /// The warehouse it happened in, when the local catalog knows its bin: the UI shows
    /// `occurred_at` in that warehouse's time zone.
    pub warehouse_id: Option<String>,
    /// `pending` (not sent yet) or `pushed`.
    pub status: String,
    /// The server's outcome once known: `held`, `rejected`, `applied`, … (in the inbox:
    /// held, rejected, or another outcome when only flagged).
    pub outcome: Option<String>,
    /// A rejection's stable code.
    pub reject_code: Option<String>,
    /// A rejection's message, or the manager's reason for voiding, for people.
    pub message: Option<String>,
    /// A hold: the units the movement needs from its row.
    #[ts(type = "number | null")]
    pub needed: Option<i64>,
    /// A hold: the units that row held at the movement's time.
    #[ts(type = "number | null")]
    pub available: Option<i64>,
    /// A hold for a person because this device's clock ran ahead: how far its date lay
    /// beyond the server's time of receipt, in seconds (`needed`/`available` are then
    /// null).
    #[ts(type = "number | null")]
    pub clock_ahead_secs: Option<i64>,
    /// The review flags raised (`negative_row`, `count_variance`, `forced`, …).
    pub flags: Vec<String>,
}

fn flag_name(flag: &Flag) -> String {
    serde_json::to_value(flag)
        .ok()
        .and_then(|v| v.get("flag").and_then(|f| f.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "flag".to_owned())
}

impl From<logiflow_replica::JournalEntry> for JournalRow {
    fn from(entry: logiflow_replica::JournalEntry) -> Self {
        let mut conflict = JournalRow {
            seq: entry.seq,
            id: entry.id.to_string(),
            kind: entry.kind,
            occurred_at: entry.occurred_at.to_rfc3339(),
            warehouse_id: None,
            status: match entry.status {
                logiflow_replica::JournalStatus::Pending => "pending",
                logiflow_replica::JournalStatus::Pushed => "pushed",
            }
            .to_owned(),
            outcome: entry.outcome,
            reject_code: None,
            message: None,
            needed: None,
            available: None,
            clock_ahead_secs: None,
            flags: Vec::new(),
        };
        if let Some(result) = entry.result {
            match result.outcome {
                Outcome::Rejected(r) => {
                    conflict.reject_code = Some(r.code.as_str().to_owned());
                    conflict.message = Some(r.message);
                }
                Outcome::Held(Hold {
                    review: Some(HoldReview::ClockAhead { ahead_secs, .. }),
                    ..
                }) => conflict.clock_ahead_secs = Some(ahead_secs),
                Outcome::Held(h) => {
                    conflict.needed = Some(h.needed);
                    conflict.available = Some(h.at_time);
                }
                Outcome::Voided { reason } => conflict.message = Some(reason),
                _ => {}
            }
            conflict.flags = result.flags.iter().map(flag_name).collect();
        }
        conflict
    }
}

/// Retries of one request in a row in the app's syncs. Fewer than the CLI's: the app
/// syncs again every minute and after each movement anyway, and a long retry streak
/// against a server that is down only delays showing "Offline" (three retries wait about
/// 1.5 s, up to twice that with jitter).
pub const DESKTOP_RETRIES_MAX: usize = 3;

/// The app's sync bounds: the replica's defaults with [`DESKTOP_RETRIES_MAX`].
fn sync_options() -> SyncOptions {
    SyncOptions {
        retries_max: DESKTOP_RETRIES_MAX,
        ..SyncOptions::default()
    }
}

/// Runs `work` on a worker thread (never the UI thread, and outside the async runtime,
/// which the blocking HTTP client must not run on) and waits for it without blocking.
async fn on_worker<T: Send + 'static>(
    command: &'static str,
    work: impl FnOnce() -> Result<T, ErrorBody> + Send + 'static,
) -> Result<T, ErrorBody> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| {
            log::error!("{command}: the worker failed: {e}");
            Err(ErrorBody {
                code: "internal".into(),
                message: format!("{command} failed unexpectedly"),
            })
        })
}

pub(crate) fn open_own(path: &std::path::Path, command: &str) -> Result<Replica, ErrorBody> {
    Replica::open(path).map_err(failed(command))
}

fn credential_store(command: &str) -> Result<CredentialStore, ErrorBody> {
    CredentialStore::from_env().map_err(failed(command))
}

/// Signs in and lists the tenant's active warehouses, for the Connect screen's second
/// step ([`ServerClient::login`] then [`ServerClient::person_warehouses`]).
#[tauri::command]
pub async fn warehouses(sign_in: SignIn) -> Result<Vec<WarehouseInfo>, ErrorBody> {
    on_worker("warehouses", move || {
        let req = sign_in.request();
        let client =
            ServerClient::new(&req.server, sync_options()).map_err(failed("warehouses"))?;
        let person = client
            .login(&req.tenant, &req.email, &req.password)
            .map_err(failed("warehouses"))?;
        let list = client
            .person_warehouses(&person)
            .map_err(failed("warehouses"))?;
        log::info!(
            "warehouses: {} listed by {} for tenant {}",
            list.len(),
            req.server,
            req.tenant
        );
        Ok(list)
    })
    .await
}

/// [`Replica::connect`]: registers this replica as a new device, stores its tokens and
/// runs the first sync, reporting progress on `progress`.
#[tauri::command]
pub async fn connect(
    state: State<'_, AppState>,
    sign_in: SignIn,
    progress: Channel<SyncProgress>,
) -> Result<Connected, ErrorBody> {
    let path = state.path.clone();
    let gate = state.gate.clone();
    on_worker("connect", move || {
        let _turn = gate.enter();
        let req = sign_in.request();
        let store = credential_store("connect")?;
        let mut replica = open_own(&path, "connect")?;
        let report = replica
            .connect(&req, &store, sync_options(), &mut |p| {
                let _ = progress.send(p.clone());
            })
            .map_err(failed("connect"))?;
        log::info!(
            "connected as device {} to {} (tenant {}); credentials in {}; first sync {}",
            report.device.device,
            req.server,
            req.tenant,
            report.credentials,
            match &report.first_sync_error {
                None => "ok".to_owned(),
                Some(e) => format!("failed: {}", e.code),
            }
        );
        Ok(Connected {
            device: report.device.device.to_string(),
            scope: report.scope,
            credentials: report.credentials,
            first_sync: report.first_sync,
            first_sync_error: report.first_sync_error,
        })
    })
    .await
}

/// Asks the background loop for a sync now ("Sync now"); its progress and outcome
/// arrive as events ([`crate::background::SYNC_EVENT`]).
#[tauri::command(async)]
pub fn sync_now(background: State<'_, SyncLoop>) {
    log::info!("sync_now: asked");
    background.request(Trigger::Asked);
}

/// The background loop's state now, for a window that starts listening mid-sync.
#[tauri::command(async)]
pub fn sync_state(background: State<'_, SyncLoop>) -> SyncView {
    background.view()
}

/// [`Replica::sync`] with the device's session, for the background loop, on a
/// connection of its own to the replica (so that recording goes on meanwhile); the
/// caller holds the gate.
pub(crate) fn sync_replica(
    replica: &mut Replica,
    progress: &mut dyn FnMut(&SyncProgress),
) -> Result<SyncReport, ErrorBody> {
    let (client, store) = device_session(replica, "sync")?;
    let report = replica
        .sync(&client, &store, progress)
        .map_err(failed("sync"))?;
    log::info!(
        "sync: pushed {} (applied {}, held {}, rejected {}), pulled {} pages, {} pending",
        report.pushed,
        report.applied,
        report.held,
        report.rejected,
        report.pages,
        report.pending
    );
    Ok(report)
}

/// [`Replica::scope`]: the warehouses this device keeps offline.
#[tauri::command(async)]
pub fn scope(state: State<'_, AppState>) -> Result<Vec<WarehouseInfo>, ErrorBody> {
    state.replica()?.scope().map_err(failed("scope"))
}

/// [`Replica::conflicts`]: the conflict inbox.
#[tauri::command(async)]
pub fn conflicts(state: State<'_, AppState>) -> Result<Vec<JournalRow>, ErrorBody> {
    let replica = state.replica()?;
    let entries = replica.conflicts().map_err(failed("conflicts"))?;
    rows(&replica, entries, "conflicts")
}

/// Journal entries as rows, each with the warehouse of its bin (for its time zone).
fn rows(
    replica: &Replica,
    entries: Vec<logiflow_replica::JournalEntry>,
    command: &'static str,
) -> Result<Vec<JournalRow>, ErrorBody> {
    entries
        .into_iter()
        .map(|entry| {
            let warehouse = replica
                .warehouse_of(&entry.movement)
                .map_err(failed(command))?;
            Ok(JournalRow {
                warehouse_id: warehouse.map(|w| w.to_string()),
                ..JournalRow::from(entry)
            })
        })
        .collect()
}

/// Recent journal entries the Sync screen lists.
const RECENT_ENTRIES: usize = 20;

/// [`Replica::recent`]: the newest journal entries, sent or not, with their outcomes.
#[tauri::command(async)]
pub fn recent(state: State<'_, AppState>) -> Result<Vec<JournalRow>, ErrorBody> {
    let replica = state.replica()?;
    let entries = replica.recent(RECENT_ENTRIES).map_err(failed("recent"))?;
    rows(&replica, entries, "recent")
}

/// [`Replica::login`], for a device whose session ended: the person signs in and the
/// server gives this same device a new session (its journal then pushes as if nothing
/// happened), then a sync runs. The shared connection is taken out for the time of the
/// call (other commands answer `replica_busy`), as for any call that may change who the
/// device's user is.
#[tauri::command]
pub async fn login(
    state: State<'_, AppState>,
    sign_in: SignIn,
    progress: Channel<SyncProgress>,
) -> Result<Connected, ErrorBody> {
    let old = state.slot()?.take().ok_or_else(|| ErrorBody {
        code: "replica_busy".into(),
        message: "the device is already signing in again".into(),
    })?;
    let path = state.path.clone();
    let gate = state.gate.clone();
    let outcome = on_worker("login", move || {
        let _turn = gate.enter();
        let req = sign_in.request();
        let store = match credential_store("login") {
            Ok(store) => store,
            Err(e) => return Ok((old, Err(e))),
        };
        match old.login(&req, &store, sync_options(), &mut |p| {
            let _ = progress.send(p.clone());
        }) {
            Ok((fresh, report)) => {
                log::info!(
                    "signed in again as device {} (tenant {}); credentials in {}",
                    report.device.device,
                    req.tenant,
                    report.credentials
                );
                Ok((fresh, Ok(report)))
            }
            Err(e) => {
                let body = failed("login")(e);
                // A failed login puts the old file back: open it again.
                let reopened = open_own(&path, "login")?;
                Ok((reopened, Err(body)))
            }
        }
    })
    .await;
    let mut slot = state.slot()?;
    match outcome {
        Ok((replica, result)) => {
            *slot = Some(replica);
            let report = result?;
            Ok(Connected {
                device: report.device.device.to_string(),
                scope: report.scope,
                credentials: report.credentials,
                first_sync: report.first_sync,
                first_sync_error: report.first_sync_error,
            })
        }
        Err(e) => {
            // The replica could not be reopened: try once more, so the window keeps one.
            *slot = Replica::open(&state.path).ok();
            Err(e)
        }
    }
}

/// The client for the server this device registered with, and the credential store.
fn device_session(
    replica: &Replica,
    command: &'static str,
) -> Result<(ServerClient, CredentialStore), ErrorBody> {
    let device = replica
        .device()
        .map_err(failed(command))?
        .ok_or_else(|| failed(command)(logiflow_replica::Error::NotInitialized))?;
    let client = ServerClient::new(&device.server_url, sync_options()).map_err(failed(command))?;
    Ok((client, credential_store(command)?))
}

/// [`Replica::history`]: the movement history of a product or bin, from the server with
/// the device's session when it can be reached (on a worker thread, like [`sync`]), else
/// this device's own journal entries.
#[tauri::command]
pub async fn history(
    state: State<'_, AppState>,
    query: HistoryQuery,
) -> Result<History, ErrorBody> {
    let path = state.path.clone();
    let gate = state.gate.clone();
    on_worker("history", move || {
        let _turn = gate.enter();
        let mut replica = open_own(&path, "history")?;
        // No session (a device never connected): the journal alone, said so.
        let session = device_session(&replica, "history").ok();
        replica
            .history(session.as_ref().map(|(c, s)| (c, s)), &query)
            .map_err(failed("history"))
    })
    .await
}

/// What the conflict inbox sends to force or void a held movement.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ResolveConflict {
    /// The movement's id ([`JournalRow::id`]).
    pub movement: String,
    /// Force or void.
    pub resolution: Resolution,
    /// Why (kept in the server's audit log).
    pub reason: String,
}

/// [`Replica::resolve`]: a manager forces or voids a held movement with this device's
/// session, then the outcome is pulled; on a worker thread like [`sync`].
#[tauri::command]
pub async fn resolve_conflict(
    state: State<'_, AppState>,
    request: ResolveConflict,
    progress: Channel<SyncProgress>,
) -> Result<Resolved, ErrorBody> {
    let path = state.path.clone();
    let gate = state.gate.clone();
    on_worker("resolve_conflict", move || {
        let id: MovementId = serde_json::from_value(serde_json::Value::String(
            request.movement.clone(),
        ))
        .map_err(|_| {
            failed("resolve_conflict")(logiflow_replica::Error::InvalidInput {
                field: "movement",
                message: format!("`{}` is not a movement id", request.movement),
            })
        })?;
        let _turn = gate.enter();
        let mut replica = open_own(&path, "resolve_conflict")?;
        let (client, store) = device_session(&replica, "resolve_conflict")?;
        let done = replica
            .resolve(
                &client,
                &store,
                id,
                request.resolution,
                &request.reason,
                &mut |p| {
                    let _ = progress.send(p.clone());
                },
            )
            .map_err(failed("resolve_conflict"))?;
        log::info!(
            "resolve_conflict: #{} {} is now {}",
            done.seq,
            request.resolution.as_str(),
            done.outcome
        );
        Ok(done)
    })
    .await
}

/// [`Replica::sign_out`]: ends the device's session and deletes its tokens from the
/// keyring; the journal stays.
#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> Result<SignedOut, ErrorBody> {
    let path = state.path.clone();
    let gate = state.gate.clone();
    on_worker("sign_out", move || {
        let _turn = gate.enter();
        let mut replica = open_own(&path, "sign_out")?;
        let (client, store) = device_session(&replica, "sign_out")?;
        let done = replica
            .sign_out(&client, &store)
            .map_err(failed("sign_out"))?;
        log::info!(
            "signed out; the server {} the session",
            if done.session_ended {
                "ended"
            } else {
                "could not be told to end"
            }
        );
        Ok(done)
    })
    .await
}

/// [`Replica::export_journal`]: writes the journal's unsent entries (a revoked device's,
/// which it can no longer push) to a new file in the `exports` folder beside the replica,
/// for a manager to upload; returns where. Works offline.
#[tauri::command]
pub async fn export_journal(state: State<'_, AppState>) -> Result<JournalExported, ErrorBody> {
    let path = state.path.clone();
    on_worker("export_journal", move || {
        let replica = open_own(&path, "export_journal")?;
        let device = replica
            .device()
            .map_err(failed("export_journal"))?
            .ok_or_else(|| failed("export_journal")(logiflow_replica::Error::NotInitialized))?;
        let dir = path
            .parent()
            .unwrap_or_else(|| std::path::Path::new("."))
            .join("exports");
        std::fs::create_dir_all(&dir).map_err(|e| ErrorBody {
            code: "export_failed".into(),
            message: format!("failed to create {}: {e}", dir.display()),
        })?;
        // Seconds since the epoch: a new name for each export, sorted by time.
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let out = dir.join(format!("journal-{}-{stamp}.json", device.device));
        let done = replica
            .export_journal(&out)
            .map_err(failed("export_journal"))?;
        log::info!(
            "exported {} journal entries of device {} to {}",
            done.entries,
            done.device,
            done.path
        );
        Ok(done)
    })
    .await
}
