//! The background sync loop: one thread that syncs the replica every minute while the
//! device is connected, at once when someone asks ("Sync now") or a movement is recorded,
//! and never two syncs at a time. It reports every change of its state (running, progress,
//! the last report or error) as a [`SYNC_EVENT`] and the replica's [`Status`] after each
//! sync as a [`STATUS_EVENT`]; the window only listens and asks.
//!
//! Requests during a sync make exactly one more right after it. Timer ticks and nudges
//! are skipped while the device is not set up or its last sync ended in an error only a
//! person can fix ([`NEEDS_A_PERSON`], generated into the UI's bindings, which derive the
//! "sign in again" state from the same list); a failed sync drops the nudges made
//! meanwhile but keeps a person's request; a replica busy with another process's sync
//! (the CLI) is retried after 2 s without showing an error. Everything that calls the
//! server with the device's session (this loop, `connect`, `login`, `history`,
//! `resolve_conflict`, `sign_out`) takes the [`Gate`] first, so they take turns rather
//! than race for the single-use refresh token.
//!
//! The loop itself ([`SyncLoop`]) knows nothing of Tauri: what a sync is and where its
//! state goes are a [`Syncer`], so the unit tests below drive it with a scripted one. The
//! app's syncer ([`ReplicaSyncer`]) syncs the replica file with the device's session and
//! emits the events to the window.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use logiflow_replica::{ErrorBody, Replica, Status, SyncProgress, SyncReport};
use serde::Serialize;
use tauri::{AppHandle, Emitter};
use ts_rs::TS;

/// The event that carries the loop's [`SyncView`] each time it changes.
pub const SYNC_EVENT: &str = "sync";

/// The event that carries the replica's [`Status`] after each sync, failed or not.
pub const STATUS_EVENT: &str = "status";

/// When the loop syncs on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How often it syncs while nobody asks, counted from the end of the last sync.
    pub every: Duration,
    /// How soon it tries again when another process (the CLI on the same replica) holds
    /// the replica's sync lock: soon, and without showing an error, since nothing is
    /// wrong.
    pub busy_retry: Duration,
}

/// The app's timing: every minute, and 2 s after finding the replica busy.
pub const APP_TIMING: Timing = Timing {
    every: Duration::from_secs(60),
    busy_retry: Duration::from_secs(2),
};

/// The sync state the window shows: whether a sync runs and how far it is, and how the
/// last one ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
pub struct SyncView {
    /// A sync is running.
    pub running: bool,
    /// How far the running sync is, once it has reported.
    pub progress: Option<SyncProgress>,
    /// What the last successful sync did (kept while the next one runs).
    pub report: Option<SyncReport>,
    /// Why the last sync failed; none once one succeeds.
    pub error: Option<ErrorBody>,
}

/// Why the loop starts a sync, from the weakest reason to the strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    /// The interval passed.
    Timer,
    /// A movement was recorded: send it now if the server is reachable.
    Recorded,
    /// A person asked ("Sync now"): runs even when an unasked sync would not.
    Asked,
}

/// Error codes after which syncing again cannot help until a person acts: the replica's
/// one list, generated into the window's bindings too.
pub use logiflow_replica::NEEDS_A_PERSON;

/// What the loop does between its waits.
pub trait Syncer: Send + 'static {
    /// Whether a sync may start without a person asking: no while the device is not set
    /// up or its last sync ended in one of [`NEEDS_A_PERSON`].
    fn may_sync_unasked(&mut self) -> bool;
    /// Runs one sync, reporting progress as it goes.
    fn sync(&mut self, progress: &mut dyn FnMut(&SyncProgress)) -> Result<SyncReport, ErrorBody>;
    /// Called after each sync, failed or not, to publish the replica's state.
    fn synced(&mut self);
}

struct LoopState {
    trigger: Option<Trigger>,
    view: SyncView,
    stop: bool,
}

struct Shared {
    state: Mutex<LoopState>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, LoopState> {
        // The loop never leaves its state half-changed, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running loop; dropping it stops the thread after the sync under way, if any.
pub struct SyncLoop {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SyncLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncLoop")
            .field("view", &self.view())
            .finish_non_exhaustive()
    }
}

impl SyncLoop {
    /// Starts the loop's thread. Its first tick is at once (a sync at start-up when
    /// unasked syncs are allowed), then every `timing.every` after the last sync; `publish`
    /// receives the loop's state on every change.
    pub fn start(
        timing: Timing,
        syncer: impl Syncer,
        publish: impl Fn(&SyncView) + Send + 'static,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(LoopState {
                trigger: None,
                view: SyncView::default(),
                stop: false,
            }),
            wake: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name("logiflow-sync".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run(&shared, timing, syncer, publish)
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Asks for a sync. While one runs, one more runs right after it (so an entry recorded
    /// meanwhile is sent without waiting for the next tick); several requests meanwhile
    /// still make one.
    pub fn request(&self, trigger: Trigger) {
        let mut state = self.shared.lock();
        state.trigger = state.trigger.max(Some(trigger));
        self.shared.wake.notify_all();
    }

    /// The loop's state now.
    pub fn view(&self) -> SyncView {
        self.shared.lock().view.clone()
    }
}

impl Drop for SyncLoop {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(shared: &Shared, timing: Timing, mut syncer: impl Syncer, publish: impl Fn(&SyncView)) {
    let mut next_tick = Instant::now();
    loop {
        let trigger = {
            let mut state = shared.lock();
            loop {
                if state.stop {
                    return;
                }
                if let Some(trigger) = state.trigger.take() {
                    break trigger;
                }
                let now = Instant::now();
                if now >= next_tick {
                    break Trigger::Timer;
                }
                state = shared
                    .wake
                    .wait_timeout(state, next_tick - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        };
        next_tick = Instant::now() + timing.every;
        if trigger < Trigger::Asked && !syncer.may_sync_unasked() {
            continue;
        }

        let view = {
            let mut state = shared.lock();
            state.view.running = true;
            state.view.progress = None;
            state.view.clone()
        };
        publish(&view);
        let result = syncer.sync(&mut |p| {
            let view = {
                let mut state = shared.lock();
                state.view.progress = Some(p.clone());
                state.view.clone()
            };
            publish(&view);
        });
        let view = {
            let mut state = shared.lock();
            match result {
                Ok(report) => {
                    state.view.report = Some(report);
                    state.view.error = None;
                }
                Err(error) if error.code == "sync_busy" => {
                    // Another process syncs this replica: try again soon, quietly.
                    next_tick = Instant::now() + timing.busy_retry;
                }
                Err(error) => {
                    log::info!("background sync failed: {}", error.code);
                    state.view.error = Some(error);
                    state.trigger = pending_after_failure(state.trigger);
                }
            }
            state.view.running = false;
            state.view.progress = None;
            state.view.clone()
        };
        publish(&view);
        syncer.synced();
    }
}

/// What is still asked for after a sync failed: a person's request made meanwhile, but
/// not a recording's nudge (the server is likely still away; the next tick will try).
fn pending_after_failure(pending: Option<Trigger>) -> Option<Trigger> {
    pending.filter(|trigger| *trigger == Trigger::Asked)
}

/// Whether the loop may sync without a person asking, by the replica's status.
pub fn may_sync_unasked(status: &Status) -> bool {
    status.device.is_some()
        && !status
            .last_sync_error
            .as_ref()
            .is_some_and(|error| logiflow_replica::needs_person(&error.code))
}

/// Held by whatever talks to the server with the device's session (the loop's syncs,
/// connect, login, resolve, history, sign-out), so that they take turns instead of
/// racing for the device's single-use refresh token or for the replica's sync lock.
#[derive(Debug, Clone, Default)]
pub struct Gate(Arc<Mutex<()>>);

impl Gate {
    /// Waits for the gate; the guard opens it again when dropped.
    pub fn enter(&self) -> MutexGuard<'_, ()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The app's [`Syncer`]: the replica file, synced with the device's session through
/// [`crate::commands::sync_replica`], its status emitted to the window.
#[derive(Debug)]
pub struct ReplicaSyncer {
    /// The replica's file (opened anew each time: a sign-in again replaces it).
    pub path: PathBuf,
    /// Shared with the network commands.
    pub gate: Gate,
    /// Where the status events go.
    pub app: AppHandle,
    /// The status read at the end of the last sync, on its connection, for [`Syncer::synced`].
    pub status: Option<Status>,
}

impl Syncer for ReplicaSyncer {
    fn may_sync_unasked(&mut self) -> bool {
        let _turn = self.gate.enter();
        match Replica::open(&self.path).and_then(|replica| replica.status()) {
            Ok(status) => may_sync_unasked(&status),
            Err(error) => {
                log::error!("background sync: cannot read the replica's status: {error}");
                false
            }
        }
    }

    fn sync(&mut self, progress: &mut dyn FnMut(&SyncProgress)) -> Result<SyncReport, ErrorBody> {
        let _turn = self.gate.enter();
        let mut replica = crate::commands::open_own(&self.path, "sync")?;
        let result = crate::commands::sync_replica(&mut replica, progress);
        // The sync recorded its outcome (last sync, error, pending) on this connection.
        self.status = replica
            .status()
            .inspect_err(|e| log::error!("background sync: cannot read the status: {e}"))
            .ok();
        result
    }

    fn synced(&mut self) {
        let Some(status) = self.status.take() else {
            return;
        };
        if let Err(error) = self.app.emit(STATUS_EVENT, status) {
            log::error!("background sync: cannot emit the status: {error}");
        }
    }
}

/// Starts the app's loop over the replica at `path`, emitting [`SYNC_EVENT`]s to `app`.
pub fn start(app: &AppHandle, path: PathBuf, gate: Gate) -> std::io::Result<SyncLoop> {
    let events = app.clone();
    SyncLoop::start(
        APP_TIMING,
        ReplicaSyncer {
            path,
            gate,
            app: app.clone(),
            status: None,
        },
        move |view| {
            if let Err(error) = events.emit(SYNC_EVENT, view) {
                log::error!("background sync: cannot emit its state: {error}");
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};

    use super::*;

    /// How long a test waits for something the loop must do before calling it lost.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// A long interval: no timer tick during a test after the first.
    const SLOW: Timing = Timing {
        every: Duration::from_secs(3600),
        busy_retry: Duration::from_millis(20),
    };

    /// A syncer whose syncs end when the test says, with the result it scripted.
    struct Scripted {
        allowed: Arc<AtomicBool>,
        /// Told when a sync starts.
        started: Sender<()>,
        /// Each sync waits here for its result.
        results: Receiver<Result<SyncReport, ErrorBody>>,
        synced: Sender<()>,
    }

    impl Syncer for Scripted {
        fn may_sync_unasked(&mut self) -> bool {
            self.allowed.load(Ordering::SeqCst)
        }
        fn sync(
            &mut self,
            progress: &mut dyn FnMut(&SyncProgress),
        ) -> Result<SyncReport, ErrorBody> {
            self.started.send(()).unwrap();
            progress(&SyncProgress::Pushing {
                pushed: 1,
                total: 2,
            });
            self.results
                .recv_timeout(PATIENCE)
                .expect("the test never ended this sync")
        }
        fn synced(&mut self) {
            let _ = self.synced.send(());
        }
    }

    struct Harness {
        sync_loop: SyncLoop,
        allowed: Arc<AtomicBool>,
        started: Receiver<()>,
        results: Sender<Result<SyncReport, ErrorBody>>,
        synced: Receiver<()>,
        views: Receiver<SyncView>,
    }

    impl Harness {
        fn start(allowed: bool, timing: Timing) -> Self {
            let allowed = Arc::new(AtomicBool::new(allowed));
            let (started_tx, started) = channel();
            let (results, results_rx) = channel();
            let (synced_tx, synced) = channel();
            let (views_tx, views) = channel();
            let sync_loop = SyncLoop::start(
                timing,
                Scripted {
                    allowed: Arc::clone(&allowed),
                    started: started_tx,
                    results: results_rx,
                    synced: synced_tx,
                },
                move |view: &SyncView| {
                    let _ = views_tx.send(view.clone());
                },
            )
            .unwrap();
            Self {
                sync_loop,
                allowed,
                started,
                results,
                synced,
                views,
            }
        }

        fn wait_started(&self) {
            self.started
                .recv_timeout(PATIENCE)
                .expect("no sync started");
        }

        /// Ends the running sync with `result` and returns the view published at its end.
        fn finish(&self, result: Result<SyncReport, ErrorBody>) -> SyncView {
            self.results.send(result).unwrap();
            self.synced
                .recv_timeout(PATIENCE)
                .expect("the sync never ended");
            let mut last = None;
            while let Ok(view) = self.views.try_recv() {
                last = Some(view);
            }
            let view = last.expect("no view published");
            assert_eq!(view, self.sync_loop.view());
            view
        }

        /// Every view published so far.
        fn drain_views(&self) -> Vec<SyncView> {
            self.views.try_iter().collect()
        }

        /// Whether a sync starts within a short while (used only to show that one does
        /// not: a loop that wrongly starts one does so at once).
        fn starts_soon(&self) -> bool {
            match self.started.recv_timeout(Duration::from_millis(300)) {
                Ok(()) => true,
                Err(RecvTimeoutError::Timeout) => false,
                Err(RecvTimeoutError::Disconnected) => panic!("the loop stopped"),
            }
        }
    }

    fn report(pushed: u64) -> SyncReport {
        SyncReport {
            pushed,
            applied: pushed,
            ..SyncReport::default()
        }
    }

    fn error(code: &str) -> ErrorBody {
        ErrorBody {
            code: code.into(),
            message: format!("{code} in a test"),
        }
    }

    #[test]
    fn syncs_at_start_and_publishes_running_progress_and_the_report() {
        let h = Harness::start(true, SLOW);
        h.wait_started();
        let view = h.finish(Ok(report(3)));
        assert_eq!(
            view,
            SyncView {
                running: false,
                progress: None,
                report: Some(report(3)),
                error: None,
            }
        );
        let views = h.drain_views();
        assert!(views.is_empty(), "nothing after the end: {views:?}");
    }

    #[test]
    fn progress_is_published_while_running() {
        let h = Harness::start(true, SLOW);
        h.wait_started();
        let first = h.views.recv_timeout(PATIENCE).unwrap();
        assert!(first.running && first.progress.is_none(), "{first:?}");
        let second = h.views.recv_timeout(PATIENCE).unwrap();
        assert!(second.running, "{second:?}");
        assert_eq!(
            second.progress,
            Some(SyncProgress::Pushing {
                pushed: 1,
                total: 2
            })
        );
        assert!(h.sync_loop.view().running);
        h.finish(Ok(report(0)));
        assert!(!h.sync_loop.view().running);
    }

    #[test]
    fn requests_during_a_sync_make_exactly_one_more() {
        let h = Harness::start(true, SLOW);
        h.wait_started();
        h.sync_loop.request(Trigger::Recorded);
        h.sync_loop.request(Trigger::Asked);
        h.sync_loop.request(Trigger::Recorded);
        h.finish(Ok(report(1)));
        h.wait_started();
        h.finish(Ok(report(2)));
        assert!(
            !h.starts_soon(),
            "a third sync ran for requests already served"
        );
        assert_eq!(h.sync_loop.view().report, Some(report(2)));
    }

    #[test]
    fn without_leave_to_sync_unasked_only_a_person_starts_one() {
        let h = Harness::start(false, SLOW);
        // The start-up tick and a recording do not sync…
        h.sync_loop.request(Trigger::Recorded);
        assert!(!h.starts_soon(), "synced while a person must act first");
        // …a person asking does.
        h.sync_loop.request(Trigger::Asked);
        h.wait_started();
        let view = h.finish(Err(error("device_revoked")));
        assert_eq!(view.error, Some(error("device_revoked")));
        // Once allowed (signed in again), recordings sync again.
        h.allowed.store(true, Ordering::SeqCst);
        h.sync_loop.request(Trigger::Recorded);
        h.wait_started();
        let view = h.finish(Ok(report(1)));
        assert_eq!(view.error, None, "a success clears the last error");
    }

    #[test]
    fn the_timer_syncs_again_after_the_interval() {
        let h = Harness::start(
            true,
            Timing {
                every: Duration::from_millis(50),
                busy_retry: Duration::from_secs(3600),
            },
        );
        for pushed in 0..3 {
            h.wait_started();
            h.finish(Ok(report(pushed)));
        }
    }

    #[test]
    fn a_busy_replica_is_retried_quietly() {
        let h = Harness::start(true, SLOW);
        h.wait_started();
        h.finish(Ok(report(1)));
        h.sync_loop.request(Trigger::Asked);
        h.wait_started();
        let view = h.finish(Err(error("sync_busy")));
        assert_eq!(view.error, None, "busy is not an error to show");
        assert_eq!(view.report, Some(report(1)), "the last report stays");
        // Tried again after `busy_retry`, not after the hour-long interval.
        h.wait_started();
        h.finish(Ok(report(2)));
    }

    #[test]
    fn a_failed_sync_drops_recording_nudges_but_keeps_a_persons_request() {
        assert_eq!(pending_after_failure(None), None);
        assert_eq!(pending_after_failure(Some(Trigger::Timer)), None);
        assert_eq!(pending_after_failure(Some(Trigger::Recorded)), None);
        assert_eq!(
            pending_after_failure(Some(Trigger::Asked)),
            Some(Trigger::Asked)
        );

        let h = Harness::start(true, SLOW);
        h.wait_started();
        h.sync_loop.request(Trigger::Recorded);
        let view = h.finish(Err(error("server_unreachable")));
        assert_eq!(view.error, Some(error("server_unreachable")));
        assert!(
            !h.starts_soon(),
            "retried at once for a recording while offline"
        );
        h.sync_loop.request(Trigger::Asked);
        h.wait_started();
        h.sync_loop.request(Trigger::Asked);
        h.finish(Err(error("server_unreachable")));
        h.wait_started();
        h.finish(Ok(report(0)));
    }

    #[test]
    fn dropping_the_loop_stops_its_thread() {
        let h = Harness::start(false, SLOW);
        let Harness {
            sync_loop, started, ..
        } = h;
        drop(sync_loop);
        // The syncer (and its sender) went with the thread.
        assert!(matches!(
            started.recv_timeout(PATIENCE),
            Err(RecvTimeoutError::Disconnected)
        ));
    }

    #[test]
    fn unasked_syncs_need_a_device_and_no_error_only_a_person_can_fix() {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open(dir.path().join("replica.db")).unwrap();
        let fresh = replica.status().unwrap();
        assert!(!may_sync_unasked(&fresh), "not set up");

        let with = |error: Option<&str>| -> Status {
            let mut json = serde_json::to_value(&fresh).unwrap();
            json["device"] = serde_json::json!({
                "device": "0190a3c0-0000-7000-8000-000000000001",
                "tenant": "0190a3c0-0000-7000-8000-000000000002",
                "user": "0190a3c0-0000-7000-8000-000000000003",
                "server_url": "http://127.0.0.1:1",
            });
            json["last_sync_error"] = serde_json::to_value(error.map(self::error)).unwrap();
            serde_json::from_value(json).unwrap()
        };
        assert!(may_sync_unasked(&with(None)));
        assert!(may_sync_unasked(&with(Some("server_unreachable"))));
        assert!(may_sync_unasked(&with(Some("sync_busy"))));
        for code in NEEDS_A_PERSON {
            assert!(!may_sync_unasked(&with(Some(code))), "{code}");
        }
    }
}
