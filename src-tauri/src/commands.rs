//! The Tauri commands: each maps its arguments to one `Replica` call and its error to the
//! replica's [`ErrorBody`], logs the outcome, and does nothing else.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use logiflow_replica::{
    Action, CountScope, CountSheet, CountSubmission, ErrorBody, ItemRef, ProductRef, Recorded,
    Replica, Status, StockLine, StockQuery,
};
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

/// What the shell knows about itself, for the settings screen and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AppInfo {
    /// The replica's SQLite file.
    pub replica_path: String,
    /// The server this app is pointed at (`$LOGIFLOW_SERVER_URL`), if any. Shown only:
    /// connecting comes with the sync client.
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
    /// The open replica, or why it could not be opened (shown by every command).
    pub replica: Result<Mutex<Replica>, ErrorBody>,
}

impl AppState {
    /// Opens (creating if needed) the replica at `path`.
    pub fn open(path: PathBuf, info: AppInfo) -> Self {
        let replica = Replica::open(&path).map(Mutex::new).map_err(|error| {
            log::error!("failed to open the replica at {}: {error}", path.display());
            error.body()
        });
        Self { info, replica }
    }

    fn replica(&self) -> Result<MutexGuard<'_, Replica>, ErrorBody> {
        let replica = self.replica.as_ref().map_err(Clone::clone)?;
        // A panic while holding the lock leaves the replica itself consistent (every
        // write is one SQLite transaction), so a poisoned lock is still usable.
        Ok(replica
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
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

/// [`Replica::record`].
#[tauri::command(async)]
pub fn record(state: State<'_, AppState>, action: Action) -> Result<Recorded, ErrorBody> {
    let recorded = state.replica()?.record(&action).map_err(failed("record"))?;
    log::info!("recorded journal entry #{}", recorded.seq);
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

/// [`Replica::record_count`].
#[tauri::command(async)]
pub fn record_count(
    state: State<'_, AppState>,
    count: CountSubmission,
) -> Result<Vec<Recorded>, ErrorBody> {
    let recorded = state
        .replica()?
        .record_count(&count)
        .map_err(failed("record_count"))?;
    log::info!("recorded a count of {} rows", recorded.len());
    Ok(recorded)
}
