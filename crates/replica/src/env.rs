//! The clock and the id randomness, injected so that tests are deterministic.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use crate::clock::Uptime;

/// Where the replica gets the time and the random bits of new ids.
pub trait Env: Send + Sync + std::fmt::Debug {
    /// The device's clock (uncorrected; the replica adds the server offset).
    fn now(&self) -> DateTime<Utc>;
    /// Ten random bytes for a UUIDv7.
    fn random(&self) -> [u8; 10];
    /// The clock for a reading that stamps nothing (an estimate for the projection, a
    /// check the person asked for): a test clock does not advance for it.
    fn peek(&self) -> DateTime<Utc> {
        self.now()
    }
    /// The machine's uptime (boot id and milliseconds since boot, suspend included), which
    /// setting the clock does not change: how the replica notices its clock jumping
    /// ([`crate::clock`]). None where it cannot be read; the clock check then only
    /// compares with the last server time.
    fn uptime(&self) -> Option<Uptime> {
        None
    }
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

    fn uptime(&self) -> Option<Uptime> {
        linux_uptime()
    }
}

/// `/proc/uptime` (seconds since boot, suspend included) and the boot's id, on Linux.
fn linux_uptime() -> Option<Uptime> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Uptime {
        boot: boot.trim().to_owned(),
        // Hundredths of a second: far finer than the check needs.
        ms: (secs * 1000.0) as i64,
    })
}

/// A manual clock that advances by a fixed step on every reading, and a counter for
/// random bits: the same calls always give the same ids and times.
#[derive(Debug)]
pub struct TestEnv {
    now_ms: AtomicU64,
    start_ms: u64,
    step_ms: u64,
    counter: AtomicU64,
    /// How far the wall clock was set away from the true time ([`TestEnv::set_clock_ms`]).
    skew_ms: AtomicI64,
}

impl TestEnv {
    /// Starts at `start_ms` (Unix milliseconds), advancing `step_ms` per reading.
    pub fn new(start_ms: u64, step_ms: u64) -> Self {
        Self {
            now_ms: AtomicU64::new(start_ms),
            start_ms,
            step_ms,
            counter: AtomicU64::new(0),
            skew_ms: AtomicI64::new(0),
        }
    }

    /// Sets the wall clock `skew_ms` away from the true time, as a person setting the
    /// clock by hand would: [`Env::now`] moves, the uptime does not.
    pub fn set_clock_ms(&self, skew_ms: i64) {
        self.skew_ms.store(skew_ms, Ordering::SeqCst);
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: u64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Env for TestEnv {
    fn now(&self) -> DateTime<Utc> {
        let ms = self.now_ms.fetch_add(self.step_ms, Ordering::SeqCst);
        let ms = i64::try_from(ms)
            .unwrap_or(i64::MAX)
            .saturating_add(self.skew_ms.load(Ordering::SeqCst));
        DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn peek(&self) -> DateTime<Utc> {
        let ms = i64::try_from(self.now_ms.load(Ordering::SeqCst))
            .unwrap_or(i64::MAX)
            .saturating_add(self.skew_ms.load(Ordering::SeqCst));
        DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The true time elapsed since the clock was made, on one boot.
    fn uptime(&self) -> Option<Uptime> {
        let elapsed = self.now_ms.load(Ordering::SeqCst) - self.start_ms;
        Some(Uptime {
            boot: "test".into(),
            ms: i64::try_from(elapsed).unwrap_or(i64::MAX),
        })
    }

    fn random(&self) -> [u8; 10] {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let mut bytes = [0u8; 10];
        bytes[2..].copy_from_slice(&n.to_be_bytes());
        bytes
    }
}
