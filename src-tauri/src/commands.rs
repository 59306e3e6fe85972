//! The Tauri commands: each maps its arguments to one `Replica` call and its error to a
//! [`CommandError`], and does nothing else.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use logiflow_replica::Replica;
use tauri::State;

use crate::dto::{
    Action, CommandError, Recorded, ReplicaLocation, StatusView, StockLine, StockQuery,
};

/// The replica the window works on, opened once at start-up.
#[derive(Debug)]
pub struct AppState {
    /// The SQLite file.
    pub path: PathBuf,
    /// The open replica, or why it could not be opened (shown by every command).
    pub replica: Result<Mutex<Replica>, CommandError>,
}

impl AppState {
    /// Opens (creating if needed) the replica at `path`.
    pub fn open(path: PathBuf) -> Self {
        let replica = Replica::open(&path)
            .map(Mutex::new)
            .map_err(CommandError::from);
        Self { path, replica }
    }

    fn replica(&self) -> Result<MutexGuard<'_, Replica>, CommandError> {
        let replica = self.replica.as_ref().map_err(Clone::clone)?;
        // A panic while holding the lock leaves the replica itself consistent (every
        // write is one SQLite transaction), so a poisoned lock is still usable.
        Ok(replica
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// Where the replica file is; answers even when it failed to open.
#[tauri::command]
pub fn replica_location(state: State<'_, AppState>) -> ReplicaLocation {
    ReplicaLocation {
        path: state.path.display().to_string(),
    }
}

/// [`Replica::status`].
#[tauri::command(async)]
pub fn status(state: State<'_, AppState>) -> Result<StatusView, CommandError> {
    Ok(state.replica()?.status()?.into())
}

/// [`Replica::stock`].
#[tauri::command(async)]
pub fn stock(
    state: State<'_, AppState>,
    query: StockQuery,
) -> Result<Vec<StockLine>, CommandError> {
    let lines = state.replica()?.stock(&query.into())?;
    Ok(lines.into_iter().map(StockLine::from).collect())
}

/// [`Replica::record`].
#[tauri::command(async)]
pub fn record(state: State<'_, AppState>, action: Action) -> Result<Recorded, CommandError> {
    Ok(state.replica()?.record(&action.into())?.into())
}
