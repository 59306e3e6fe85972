//! Ctrl-C, SIGTERM and SIGHUP: stop the running child, then clean up, then exit.
//!
//! A throwaway PostgreSQL is a detached daemon (`pg_ctl` puts it in its own session), so
//! nothing stops it when the xtask dies unless the xtask does it. Two paths lead there:
//!
//! - the normal one: a [`Cleanup`] guard runs its action when dropped (on success, on
//!   error, and on panic, since panics unwind);
//! - a signal: the handler gives the foreground child [`FORWARD_DELAY_MS`] to exit (a
//!   terminal's Ctrl-C reached it too), then forwards SIGINT to it (a `kill` aimed at the
//!   xtask alone did not reach it), waits [`CHILD_GRACE_MS`] more, kills it if it is still
//!   there, runs every registered cleanup and exits with status 130.
//!
//! A cleanup holds its own lock while it runs, so a signal arriving while the main thread
//! is already cleaning up waits for that to finish instead of exiting half-way through.
//! After a foreground child exits the main thread checks [`park_if_interrupted`], so it
//! does not start the next step while the handler is cleaning up.
//!
//! SIGKILL cannot be caught: what it leaves behind is removed by the next run (see
//! `pg::remove_stale_clusters`).

use std::io;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a child gets to exit by itself (a terminal's Ctrl-C reaches the whole
/// foreground process group) before the handler forwards SIGINT to it.
const FORWARD_DELAY_MS: u64 = 1_000;

/// How long a child gets to exit after the forwarded SIGINT before it is killed. Long
/// enough for nextest to stop its tests and for the server to shut down gracefully.
const CHILD_GRACE_MS: u64 = 10_000;

/// The exit status of a run stopped by a signal (128 + SIGINT, as shells report it).
pub const INTERRUPTED_EXIT: i32 = 130;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The process id of the foreground child, if one is running.
static CHILD: Mutex<Option<u32>> = Mutex::new(None);

type Action = Box<dyn FnOnce() + Send>;
type Slot = Arc<Mutex<Option<Action>>>;

/// Registered cleanups, in registration order; the handler runs them newest first.
static CLEANUPS: Mutex<Vec<Slot>> = Mutex::new(Vec::new());

/// Installs the signal handler. Call once, first thing.
pub fn install() -> Result<()> {
    ctrlc::set_handler(on_signal).context("failed to install the signal handler")
}

/// Waits up to `ms` for the foreground child `pid` to be reaped by the main thread.
fn wait_for_exit(pid: u32, ms: u64) -> bool {
    let deadline = Instant::now() + Duration::from_millis(ms);
    while *lock(&CHILD) == Some(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

fn on_signal() {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        return;
    }
    eprintln!("\ninterrupted: stopping and cleaning up");
    let child = *lock(&CHILD);
    if let Some(pid) = child {
        let pid_raw = i32::try_from(pid).expect("process ids fit in i32");
        // A terminal's Ctrl-C reached the child too; a second SIGINT would make nextest
        // kill its tests at once and a server skip its graceful shutdown. So the signal
        // is forwarded only if the child has not started exiting by itself.
        if !wait_for_exit(pid, FORWARD_DELAY_MS) {
            let _ = kill(Pid::from_raw(pid_raw), Signal::SIGINT);
            if !wait_for_exit(pid, CHILD_GRACE_MS) {
                eprintln!("interrupted: child {pid} did not exit in time, killing it");
                let _ = kill(Pid::from_raw(pid_raw), Signal::SIGKILL);
            }
        }
    }
    let slots: Vec<Slot> = lock(&CLEANUPS).clone();
    for slot in slots.iter().rev() {
        let mut action = lock(slot);
        if let Some(action) = action.take() {
            action();
        }
    }
    std::process::exit(INTERRUPTED_EXIT);
}

/// Whether a signal has been received.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// If a signal has been received, blocks forever: the handler is cleaning up and will
/// exit the process. Called after each foreground child exits.
pub fn park_if_interrupted() {
    while interrupted() {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Spawns `cmd` as the foreground child: the one a signal is forwarded to. Refuses to
/// start anything once a signal has been received. The child stays the foreground one
/// until the returned token is dropped.
pub fn spawn_foreground(cmd: &mut Command) -> io::Result<(Child, Foreground)> {
    let mut current = lock(&CHILD);
    // Checked under the lock the handler reads the child through, so a child is either
    // visible to the handler or never started.
    if interrupted() {
        drop(current);
        park_if_interrupted();
        return Err(io::Error::other("interrupted"));
    }
    let child = cmd.spawn()?;
    let pid = child.id();
    *current = Some(pid);
    Ok((child, Foreground { pid }))
}

/// Marks a child as the foreground one until dropped.
#[derive(Debug)]
pub struct Foreground {
    pid: u32,
}

impl Drop for Foreground {
    fn drop(&mut self) {
        let mut current = lock(&CHILD);
        if *current == Some(self.pid) {
            *current = None;
        }
    }
}

/// An action that runs exactly once: when the guard is dropped or [`Cleanup::run`], or
/// from the signal handler, whichever comes first.
pub struct Cleanup {
    slot: Slot,
}

impl std::fmt::Debug for Cleanup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cleanup").finish_non_exhaustive()
    }
}

impl Cleanup {
    pub fn register(action: impl FnOnce() + Send + 'static) -> Cleanup {
        let slot: Slot = Arc::new(Mutex::new(Some(Box::new(action))));
        lock(&CLEANUPS).push(Arc::clone(&slot));
        Cleanup { slot }
    }

    /// Runs the action now (if it has not run yet).
    pub fn run(self) {
        drop(self);
    }

    /// Forgets the action without running it.
    pub fn disarm(self) {
        lock(&self.slot).take();
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        {
            // Held while the action runs: see the module docs.
            let mut action = lock(&self.slot);
            if let Some(action) = action.take() {
                action();
            }
        }
        lock(&CLEANUPS).retain(|slot| !Arc::ptr_eq(slot, &self.slot));
    }
}

/// Locks, ignoring poisoning: a panic elsewhere must not stop the cleanup.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
