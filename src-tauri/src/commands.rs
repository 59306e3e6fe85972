//! The Tauri commands: each maps its arguments to one `Replica` call and its error to the
//! replica's [`ErrorBody`], logs the outcome, and does nothing else.

use logiflow_core::MovementId;
use logiflow_replica::{
    Action, AlertList, AlertView, BackofficeCall, BinGrid, Connected, CountScope, CountSheet,
    CountSubmission, CredentialStore, ErrorBody, Exported, GeneratedBins, History, HistoryQuery,
    ImportRequest, Imported, ItemRef, JournalExported, JournalRow, LineMatch, OpenOrders, PickStop,
    ProductRef, Recorded, Replica, Resolved, ServerClient, SignedOut, Status, StockKpis, StockLine,
    StockQuery, SyncOptions, SyncProgress, SyncReport, WarehouseInfo,
};
use tauri::State;
use tauri::ipc::Channel;

use crate::background::{SyncLoop, SyncView, Trigger};
use crate::payload::{ExportFile, ImportFile, ImportProgress, ResolveConflict, SignIn};
use crate::state::{AppInfo, AppState};

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

/// [`Replica::open_orders`]: the purchase orders to receive and sales orders to pick.
#[tauri::command(async)]
pub fn orders(state: State<'_, AppState>) -> Result<OpenOrders, ErrorBody> {
    state.replica()?.open_orders().map_err(failed("orders"))
}

/// [`Replica::receiving_line`]: the purchase-order line a scanned item is received
/// against.
#[tauri::command(async)]
pub fn receiving_line(
    state: State<'_, AppState>,
    order: String,
    item: ItemRef,
) -> Result<LineMatch, ErrorBody> {
    state
        .replica()?
        .receiving_line(&order, &item)
        .map_err(failed("receiving_line"))
}

/// [`Replica::pick_walk`]: one pick list across the chosen sales orders, in walk order.
#[tauri::command(async)]
pub fn pick_walk(
    state: State<'_, AppState>,
    orders: Vec<String>,
) -> Result<Vec<PickStop>, ErrorBody> {
    state
        .replica()?
        .pick_walk(&orders)
        .map_err(failed("pick_walk"))
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
        Ok(Connected::from(report))
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
    replica.journal_rows(entries).map_err(failed("conflicts"))
}

/// [`Replica::alerts`]: the bell, as the last sync read it.
#[tauri::command(async)]
pub fn alerts(state: State<'_, AppState>) -> Result<AlertList, ErrorBody> {
    state.replica()?.alerts().map_err(failed("alerts"))
}

/// [`Replica::mark_alerts_read`], then a nudge to the background loop to send the marks.
#[tauri::command(async)]
pub fn mark_alerts_read(
    state: State<'_, AppState>,
    background: State<'_, SyncLoop>,
    ids: Vec<uuid::Uuid>,
) -> Result<u64, ErrorBody> {
    let marked = state
        .replica()?
        .mark_alerts_read(&ids)
        .map_err(failed("mark_alerts_read"))?;
    if marked > 0 {
        background.request(Trigger::Recorded);
    }
    Ok(marked)
}

/// [`Replica::alerts_to_notify`]: the new alerts worth an OS notification, each once.
#[tauri::command(async)]
pub fn alerts_to_notify(state: State<'_, AppState>) -> Result<Vec<AlertView>, ErrorBody> {
    state
        .replica()?
        .alerts_to_notify()
        .map_err(failed("alerts_to_notify"))
}

/// Recent journal entries the Sync screen lists.
const RECENT_ENTRIES: usize = 20;

/// [`Replica::recent`]: the newest journal entries, sent or not, with their outcomes.
#[tauri::command(async)]
pub fn recent(state: State<'_, AppState>) -> Result<Vec<JournalRow>, ErrorBody> {
    let replica = state.replica()?;
    let entries = replica.recent(RECENT_ENTRIES).map_err(failed("recent"))?;
    replica.journal_rows(entries).map_err(failed("recent"))
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
    let old = state.take_replica()?;
    let gate = state.gate.clone();
    let outcome = on_worker("login", move || {
        let _turn = gate.enter();
        let req = sign_in.request();
        let store = match credential_store("login") {
            Ok(store) => store,
            Err(e) => return Ok((old, Err(e))),
        };
        let (replica, result) = old.login_or_reopen(&req, &store, sync_options(), &mut |p| {
            let _ = progress.send(p.clone());
        });
        let result = result.map_err(failed("login"));
        if let Ok(report) = &result {
            log::info!(
                "signed in again as device {} (tenant {}); credentials in {}",
                report.device.device,
                req.tenant,
                report.credentials
            );
        }
        Ok((replica.map_err(failed("login"))?, result))
    })
    .await;
    state.restore(outcome).map(Connected::from)
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
/// the device's session when it can be reached (on a worker thread, like [`sync_replica`]), else
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

/// [`Replica::export`]: a server export into the file the person chose in the save
/// dialog, with the device's session, on a worker thread like [`history`].
#[tauri::command]
pub async fn export(state: State<'_, AppState>, file: ExportFile) -> Result<Exported, ErrorBody> {
    let path = state.path.clone();
    let gate = state.gate.clone();
    on_worker("export", move || {
        let request = file.request().map_err(failed("export"))?;
        let _turn = gate.enter();
        let mut replica = open_own(&path, "export")?;
        let (client, store) = device_session(&replica, "export")?;
        let done = replica
            .export(
                &client,
                &store,
                file.kind,
                &request,
                std::path::Path::new(&file.path),
            )
            .map_err(failed("export"))?;
        log::info!(
            "export: wrote {} ({} bytes)",
            done.kind.as_str(),
            done.bytes
        );
        Ok(done)
    })
    .await
}

/// [`Replica::import_file`]: uploads the file the person chose and previews the
/// server's validation, sending its progress on `progress`; nothing is written until
/// [`commit_import`].
#[tauri::command]
pub async fn import(
    state: State<'_, AppState>,
    file: ImportFile,
    progress: Channel<ImportProgress>,
) -> Result<Imported, ErrorBody> {
    let path = state.path.clone();
    let gate = state.gate.clone();
    on_worker("import", move || {
        let _turn = gate.enter();
        let mut replica = open_own(&path, "import")?;
        let (client, store) = device_session(&replica, "import")?;
        let request = ImportRequest {
            kind: file.kind,
            sheet: file.sheet.filter(|s| !s.trim().is_empty()),
            commit: false,
        };
        let done = replica
            .import_file(
                &client,
                &store,
                std::path::Path::new(&file.path),
                &request,
                &mut |done, total| {
                    let _ = progress.send(ImportProgress { done, total });
                },
            )
            .map_err(failed("import"))?;
        log::info!(
            "import: {} previewed, {} rows, {} with errors",
            file.kind.as_str(),
            done.rows,
            done.errors
        );
        Ok(done)
    })
    .await
}

/// [`Replica::commit_import`]: writes a previewed import without errors.
#[tauri::command]
pub async fn commit_import(state: State<'_, AppState>, id: String) -> Result<Imported, ErrorBody> {
    let path = state.path.clone();
    let gate = state.gate.clone();
    on_worker("commit_import", move || {
        let id = uuid::Uuid::parse_str(&id).map_err(|_| {
            failed("commit_import")(logiflow_replica::Error::InvalidInput {
                field: "id",
                message: format!("{id:?} is not an import"),
            })
        })?;
        let _turn = gate.enter();
        let mut replica = open_own(&path, "commit_import")?;
        let (client, store) = device_session(&replica, "commit_import")?;
        let done = replica
            .commit_import(&client, &store, id)
            .map_err(failed("commit_import"))?;
        log::info!("import: {} committed ({} rows)", done.id, done.rows);
        Ok(done)
    })
    .await
}

/// [`Replica::generate_bins`]: previews or creates a grid of bins on the server; the
/// bins arrive with the next sync.
#[tauri::command]
pub async fn generate_bins(
    state: State<'_, AppState>,
    grid: BinGrid,
) -> Result<GeneratedBins, ErrorBody> {
    let path = state.path.clone();
    let gate = state.gate.clone();
    on_worker("generate_bins", move || {
        let _turn = gate.enter();
        let mut replica = open_own(&path, "generate_bins")?;
        let (client, store) = device_session(&replica, "generate_bins")?;
        let done = replica
            .generate_bins(&client, &store, &grid)
            .map_err(failed("generate_bins"))?;
        log::info!(
            "bins under {}: {} of {} new (preview: {})",
            grid.parent,
            done.new,
            done.total,
            done.dry_run
        );
        Ok(done)
    })
    .await
}

/// [`Replica::backoffice`]: one request of a Back office screen with this device's
/// session, answered as the server's JSON; online only, nothing kept.
#[tauri::command]
pub async fn backoffice(
    state: State<'_, AppState>,
    call: BackofficeCall,
) -> Result<serde_json::Value, ErrorBody> {
    let path = state.path.clone();
    let gate = state.gate.clone();
    on_worker("backoffice", move || {
        let _turn = gate.enter();
        let mut replica = open_own(&path, "backoffice")?;
        let (client, store) = device_session(&replica, "backoffice")?;
        let answer = replica
            .backoffice(&client, &store, &call)
            .map_err(|error| match error {
                // A screen shows the server's own words after "The server refused the
                // request:", not the replica's wrapping of them.
                logiflow_replica::Error::Server { ref message, .. } => {
                    let body = ErrorBody {
                        code: error.code().to_owned(),
                        message: message.clone(),
                    };
                    log::info!("backoffice: refused: {error}");
                    body
                }
                other => failed("backoffice")(other),
            })?;
        let route = call.path.split('?').next().unwrap_or_default();
        log::info!("backoffice: {} {route}", call.method);
        Ok(answer)
    })
    .await
}

/// Checks a code as it is typed, with core's own rule (`sku`, `barcode`, `location` or
/// `lot`): what is wrong with it in words, or nothing when it is valid.
#[tauri::command]
pub fn check_code(kind: String, value: String) -> Option<String> {
    use logiflow_core::{Barcode, LocationCode, LotCode, Sku};
    let problem = match kind.as_str() {
        "sku" => Sku::parse(&value).err(),
        "barcode" => Barcode::parse(&value).err(),
        "location" => LocationCode::parse(&value).err(),
        "lot" => LotCode::parse(&value).err(),
        other => return Some(format!("{other} is not a kind of code")),
    };
    problem.map(|e| e.to_string())
}

/// [`Replica::resolve`]: a manager forces or voids a held movement with this device's
/// session, then the outcome is pulled; on a worker thread like [`sync_replica`].
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
