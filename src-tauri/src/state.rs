//! The app's state: what the shell knows about itself, and the one replica the window
//! works on, shared by the commands behind a lock (taken out while a login replaces it).

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use logiflow_replica::{ErrorBody, Replica};
use serde::Serialize;
use ts_rs::TS;

use crate::background::Gate;

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
    /// What [`crate::commands::app_info`] answers.
    pub info: AppInfo,
    /// The replica's file: the network commands open their own connection to it on a
    /// worker thread, so that recording (through [`AppState::replica`]) never waits for
    /// the network.
    pub path: PathBuf,
    /// The open replica, or why it could not be opened (shown by every command). `None`
    /// only while [`crate::commands::login`] replaces the replica file.
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

    pub(crate) fn replica(&self) -> Result<ReplicaGuard<'_>, ErrorBody> {
        let slot = self.slot()?;
        if slot.is_none() {
            return Err(ErrorBody {
                code: "replica_busy".into(),
                message: "the device is signing in again; try again in a moment".into(),
            });
        }
        Ok(ReplicaGuard(slot))
    }

    /// Takes the replica out for a call that replaces it (a login); meanwhile the other
    /// commands answer `replica_busy`.
    pub(crate) fn take_replica(&self) -> Result<Replica, ErrorBody> {
        self.slot()?.take().ok_or_else(|| ErrorBody {
            code: "replica_busy".into(),
            message: "the device is already signing in again".into(),
        })
    }

    /// Puts back the replica a login returned, with the login's result; when the worker
    /// failed to give one back, opens the file once more so the window keeps one.
    pub(crate) fn restore<T>(
        &self,
        outcome: Result<(Replica, Result<T, ErrorBody>), ErrorBody>,
    ) -> Result<T, ErrorBody> {
        let mut slot = self.slot()?;
        match outcome {
            Ok((replica, result)) => {
                *slot = Some(replica);
                result
            }
            Err(e) => {
                *slot = Replica::open(&self.path).ok();
                Err(e)
            }
        }
    }
}

/// The shared replica, locked; never empty (checked by [`AppState::replica`]).
pub(crate) struct ReplicaGuard<'a>(MutexGuard<'a, Option<Replica>>);

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
