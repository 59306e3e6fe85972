//! The clock and the id randomness, injected so that tests are deterministic.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

/// Where the replica gets the time and the random bits of new ids.
pub trait Env: Send + Sync + std::fmt::Debug {
    /// The device's clock (uncorrected; the replica adds the server offset).
    fn now(&self) -> DateTime<Utc>;
    /// Ten random bytes for a UUIDv7.
    fn random(&self) -> [u8; 10];
}

/// The real clock and the operating system's randomness.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEnv;

impl Env for SystemEnv {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn random(&self) -> [u8; 10] {
        rand::random()
    }
}

/// A manual clock that advances by a fixed step on every reading, and a counter for
/// random bits: the same calls always give the same ids and times.
#[derive(Debug)]
pub struct TestEnv {
    now_ms: AtomicU64,
    step_ms: u64,
    counter: AtomicU64,
}

impl TestEnv {
    /// Starts at `start_ms` (Unix milliseconds), advancing `step_ms` per reading.
    pub fn new(start_ms: u64, step_ms: u64) -> Self {
        Self {
            now_ms: AtomicU64::new(start_ms),
            step_ms,
            counter: AtomicU64::new(0),
        }
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: u64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Env for TestEnv {
    fn now(&self) -> DateTime<Utc> {
        let ms = self.now_ms.fetch_add(self.step_ms, Ordering::SeqCst);
        DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn random(&self) -> [u8; 10] {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let mut bytes = [0u8; 10];
        bytes[2..].copy_from_slice(&n.to_be_bytes());
        bytes
    }
}
