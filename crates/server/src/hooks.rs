//! Pause points for deterministic concurrency tests.
//!
//! A test that must interleave two transactions at a precise point (a push that has
//! read what it needs but not locked its rows yet, while another push, an online movement
//! or a manager's resolution runs to its end) asks for the next transaction of a tenant
//! that reaches a named point to stop there ([`pause_next`]), waits until it has
//! arrived, runs the other side, and lets it go on. No sleeps: the test knows where each
//! side stands.
//!
//! Production never registers a pause, so [`reached`] costs one relaxed atomic load.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use logiflow_core::TenantId;
use tokio::sync::oneshot;

/// Where a push has locked its device and read its re-sent movements, and is about to
/// lock the stock rows (and only then read the held movements those rows wake).
pub const PUSH_LOCKING: &str = "push.locking";
/// Where a push has decided its movements under its locks and is about to write them
/// (the rows' `allocated` changed by its picks among them).
pub const PUSH_WRITING: &str = "push.writing";
/// Where a manager's force has found the movement held, before it locks its rows.
pub const FORCE_LOCKING: &str = "force.locking";
/// Where a manager's void has found the movement held, before it locks its rows.
pub const VOID_LOCKING: &str = "void.locking";
/// Where the retry of held movements after an online movement is about to lock rows.
pub const RETRY_LOCKING: &str = "retry.locking";
/// Where a sales order's confirmation, allocation or cancellation has read what to lock
/// (its warehouse and products) and is about to lock the stock rows, then the order.
pub const RESERVE_LOCKING: &str = "reserve.locking";
/// Where the webhook worker has claimed a batch of a tenant's events and is about to
/// read the endpoints that take them.
pub const FAN_OUT_ENDPOINTS: &str = "webhooks.fan_out.endpoints";

static ANY: AtomicBool = AtomicBool::new(false);

type Key = (TenantId, &'static str);

#[allow(clippy::type_complexity)]
static PAUSES: Mutex<Option<HashMap<Key, (oneshot::Sender<()>, oneshot::Receiver<()>)>>> =
    Mutex::new(None);

/// A transaction stopped at a pause point (or on its way there).
#[derive(Debug)]
pub struct Paused {
    arrived: oneshot::Receiver<()>,
    resume: oneshot::Sender<()>,
}

impl Paused {
    /// Waits until the transaction stands at the point.
    pub async fn arrived(&mut self) {
        (&mut self.arrived)
            .await
            .expect("the paused transaction went away before the pause point");
    }

    /// Lets it go on.
    pub fn resume(self) {
        let _ = self.resume.send(());
    }
}

/// Stops the next transaction of `tenant` that reaches `point`.
pub fn pause_next(tenant: TenantId, point: &'static str) -> Paused {
    let (arrived_tx, arrived_rx) = oneshot::channel();
    let (resume_tx, resume_rx) = oneshot::channel();
    let mut pauses = PAUSES.lock().unwrap_or_else(|e| e.into_inner());
    pauses
        .get_or_insert_with(HashMap::new)
        .insert((tenant, point), (arrived_tx, resume_rx));
    ANY.store(true, Ordering::SeqCst);
    Paused {
        arrived: arrived_rx,
        resume: resume_tx,
    }
}

/// Called by a transaction at `point`: waits there if a test asked it to.
pub async fn reached(tenant: TenantId, point: &'static str) {
    if !ANY.load(Ordering::Relaxed) {
        return;
    }
    let pause = {
        let mut pauses = PAUSES.lock().unwrap_or_else(|e| e.into_inner());
        pauses.as_mut().and_then(|p| p.remove(&(tenant, point)))
    };
    if let Some((arrived, resume)) = pause {
        let _ = arrived.send(());
        let _ = resume.await;
    }
}
