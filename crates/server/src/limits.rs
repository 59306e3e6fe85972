//! Rate limits: login attempts per account and per client address, and each tenant's
//! request rate from its plan. In memory, per server instance (documented limitation:
//! N instances allow N times the rate).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

/// Keyed limiters hold one entry per key seen; past this many they are pruned.
const KEYED_ENTRIES_MAX: usize = 100_000;

/// All of the server's rate limiters.
#[derive(Debug)]
pub struct Limits {
    login_account: DefaultKeyedRateLimiter<String>,
    login_address: DefaultKeyedRateLimiter<std::net::IpAddr>,
    /// Per tenant: its plan's rate, its limiter, and when a request last read the rate
    /// from the database.
    tenants: Mutex<HashMap<Uuid, TenantRate>>,
    clock: DefaultClock,
}

#[derive(Debug)]
struct TenantRate {
    per_second: u32,
    limiter: Arc<DefaultDirectRateLimiter>,
    read_at: Instant,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).expect("positive"))
}

/// Whole seconds to wait, at least one (Retry-After has a resolution of seconds).
fn retry_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl Limits {
    /// Limiters allowing `per_account` and `per_address` login attempts a minute.
    pub fn new(per_account: u32, per_address: u32) -> Self {
        Self {
            login_account: RateLimiter::keyed(per_minute(per_account)),
            login_address: RateLimiter::keyed(per_minute(per_address)),
            tenants: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    /// Counts a login attempt; `Err(seconds)` when one of the limits is reached.
    pub fn login_attempt(&self, account: String, address: std::net::IpAddr) -> Result<(), u64> {
        if self.login_account.len() > KEYED_ENTRIES_MAX {
            self.login_account.retain_recent();
        }
        if self.login_address.len() > KEYED_ENTRIES_MAX {
            self.login_address.retain_recent();
        }
        let now = self.clock.now();
        self.login_address
            .check_key(&address)
            .map_err(|n| retry_secs(n.wait_time_from(now)))?;
        self.login_account
            .check_key(&account)
            .map_err(|n| retry_secs(n.wait_time_from(now)))
    }

    /// Counts a request of `tenant`, whose plan allows `per_second` requests a second
    /// (with a burst of the same size); `Err(seconds)` when over.
    pub fn tenant_request(&self, tenant: Uuid, per_second: u32) -> Result<(), u64> {
        let limiter = {
            let mut map = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            let entry = map.entry(tenant).or_insert_with(|| TenantRate {
                per_second,
                limiter: Arc::new(direct(per_second)),
                read_at: Instant::now(),
            });
            // A plan change takes effect on the next request.
            if entry.per_second != per_second {
                entry.per_second = per_second;
                entry.limiter = Arc::new(direct(per_second));
            }
            entry.read_at = Instant::now();
            Arc::clone(&entry.limiter)
        };
        self.check(&limiter)
    }

    /// Counts a request of `tenant` at the rate a request read from the database less
    /// than `max_age` ago; `None` (nothing counted) when no request did. For requests
    /// whose session is checked later (see [`crate::auth::Caller`]): a plan change
    /// reaches them within `max_age`.
    pub fn tenant_request_recent(
        &self,
        tenant: Uuid,
        max_age: Duration,
    ) -> Option<Result<(), u64>> {
        let limiter = {
            let map = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            let entry = map.get(&tenant)?;
            if entry.read_at.elapsed() >= max_age {
                return None;
            }
            Arc::clone(&entry.limiter)
        };
        Some(self.check(&limiter))
    }

    fn check(&self, limiter: &DefaultDirectRateLimiter) -> Result<(), u64> {
        let now = self.clock.now();
        limiter
            .check()
            .map_err(|n| retry_secs(n.wait_time_from(now)))
    }
}

fn direct(per_second: u32) -> DefaultDirectRateLimiter {
    RateLimiter::direct(Quota::per_second(
        NonZeroU32::new(per_second.max(1)).expect("positive"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(retry_secs(Duration::ZERO), 1);
        assert_eq!(retry_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_secs(Duration::from_millis(2500)), 3);
    }

    #[test]
    fn login_limit_is_per_account() {
        let l = Limits::new(2, 100);
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        assert!(l.login_attempt("a".into(), ip).is_ok());
        assert!(l.login_attempt("a".into(), ip).is_ok());
        assert!(l.login_attempt("a".into(), ip).is_err());
        assert!(l.login_attempt("b".into(), ip).is_ok());
    }

    #[test]
    fn a_recent_rate_counts_against_the_same_limiter() {
        let l = Limits::new(10, 10);
        let t = Uuid::now_v7();
        let fresh = Duration::from_secs(60);
        assert_eq!(l.tenant_request_recent(t, fresh), None, "never read");
        assert!(l.tenant_request(t, 2).is_ok());
        assert_eq!(l.tenant_request_recent(t, fresh), Some(Ok(())));
        assert!(
            matches!(l.tenant_request_recent(t, fresh), Some(Err(_))),
            "burst of 2 spent"
        );
        assert_eq!(l.tenant_request_recent(t, Duration::ZERO), None, "too old");
    }
}
