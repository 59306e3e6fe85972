//! The retry schedule of webhook deliveries: what a failed attempt leads to.
//!
//! Pure: the time of the first attempt, the number of failed attempts, the time now, the
//! receiver's `Retry-After` and the random draw for the jitter all come in as arguments,
//! so the schedule is table-tested and the server's worker runs it on an injected clock.
//!
//! * Exponential backoff with **full jitter** (the AWS Architecture Blog's "Exponential
//!   Backoff And Jitter"): after the n-th failed attempt the next one waits a uniform
//!   draw in `[RETRY_MIN_SECS, ceiling(n)]`, `ceiling(n) = min(RETRY_BASE_SECS · 2ⁿ⁻¹,
//!   RETRY_CAP_SECS)`. Jitter spreads the retries of many deliveries that failed together
//!   (a receiver that was down) instead of sending them back in one burst.
//! * A `Retry-After` the receiver sent (429, 503) is honoured: the wait is at least that,
//!   at most [`RETRY_CAP_SECS`].
//! * A delivery is retried for [`RETRY_WINDOW_SECS`] (24 hours) from its first attempt,
//!   and at most [`ATTEMPTS_MAX`] times; past either it is **dead-lettered** and waits for
//!   a person to replay it.
//!
//! Which answers are failures is [`classify`]: any answer but a 2xx, a timeout and a
//! connection error. A 4xx other than 408 and 429 is retried too, as Stripe does: a
//! receiver answering 401 or 404 is most often one being deployed or misconfigured for a
//! while, and the schedule ends in the dead-letter queue anyway. Redirects are not
//! followed, so a 3xx is a failure like the others.

/// The first backoff ceiling, in seconds.
pub const RETRY_BASE_SECS: i64 = 30;
/// The largest wait between two attempts, in seconds (4 hours).
pub const RETRY_CAP_SECS: i64 = 4 * 3600;
/// The shortest wait between two attempts, in seconds.
pub const RETRY_MIN_SECS: i64 = 1;
/// How long after its first attempt a delivery is still retried, in seconds (24 hours).
pub const RETRY_WINDOW_SECS: i64 = 24 * 3600;
/// The most attempts a delivery gets before it is dead-lettered.
pub const ATTEMPTS_MAX: u32 = 40;

/// What a failed attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again this many seconds after the failed attempt.
    RetryInSecs(i64),
    /// The schedule is exhausted: the delivery goes to the dead-letter queue.
    DeadLetter,
}

/// The backoff ceiling after `failed` failed attempts (1 for the first failure), in
/// seconds: `min(RETRY_BASE_SECS · 2^(failed − 1), RETRY_CAP_SECS)`.
pub fn ceiling_secs(failed: u32) -> i64 {
    let doublings = failed.saturating_sub(1).min(30);
    RETRY_BASE_SECS
        .saturating_mul(1_i64 << doublings)
        .min(RETRY_CAP_SECS)
}

/// The schedule: what follows the `failed`-th failed attempt (counting from 1) of a
/// delivery first attempted `elapsed_secs` ago.
///
/// `jitter` is a uniform random draw over `u32`: `0` waits [`RETRY_MIN_SECS`],
/// `u32::MAX` the whole ceiling. `retry_after_secs` is the receiver's `Retry-After`.
pub fn next_attempt(
    failed: u32,
    elapsed_secs: i64,
    retry_after_secs: Option<i64>,
    jitter: u32,
) -> Next {
    if failed >= ATTEMPTS_MAX {
        return Next::DeadLetter;
    }
    let ceiling = ceiling_secs(failed);
    let span = i128::from(ceiling - RETRY_MIN_SECS);
    let drawn = RETRY_MIN_SECS
        + i64::try_from(span * i128::from(jitter) / i128::from(u32::MAX)).unwrap_or(ceiling);
    let wait = match retry_after_secs {
        Some(after) => drawn.max(after.min(RETRY_CAP_SECS)),
        None => drawn,
    };
    if elapsed_secs.saturating_add(wait) > RETRY_WINDOW_SECS {
        return Next::DeadLetter;
    }
    Next::RetryInSecs(wait)
}

/// How long an endpoint may go on failing, with not one delivery, before it is disabled,
/// in seconds (5 days: a receiver down that long is abandoned, not being fixed).
pub const ENDPOINT_FAILING_DISABLE_SECS: i64 = 5 * 24 * 3600;

/// Whether an endpoint whose attempts have all failed for `failing_secs` (since its
/// last delivery, or since its first attempt) is disabled. The worker asks when one of
/// its deliveries is dead-lettered.
pub fn disable_endpoint(failing_secs: i64) -> bool {
    failing_secs >= ENDPOINT_FAILING_DISABLE_SECS
}

/// How an attempt ended, as the worker saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    /// The receiver answered with this HTTP status.
    Status(u16),
    /// No answer in time.
    Timeout,
    /// The connection failed or was closed before an answer.
    ConnectionError,
    /// The URL resolved to an address the server refuses to call.
    AddressRefused,
}

/// Whether an attempt delivered the event: only a 2xx answer does.
pub fn classify(end: AttemptEnd) -> bool {
    matches!(end, AttemptEnd::Status(s) if (200..300).contains(&s))
}

/// Parses a `Retry-After` value in delta-seconds; an HTTP date (rare from webhook
/// receivers) is ignored, which leaves the schedule's own wait.
pub fn parse_retry_after(value: &str) -> Option<i64> {
    value.trim().parse::<u32>().ok().map(i64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_then_cap() {
        let rows = [
            (1, 30),
            (2, 60),
            (3, 120),
            (4, 240),
            (9, 7_680),
            (10, 14_400),
            (11, 14_400),
            (39, 14_400),
            (u32::MAX, 14_400),
        ];
        for (failed, ceiling) in rows {
            assert_eq!(ceiling_secs(failed), ceiling, "after {failed} failures");
        }
    }

    #[test]
    fn the_schedule_table() {
        let max = u32::MAX;
        let rows = [
            // (failed, elapsed, retry_after, jitter) → next
            ((1, 0, None, max), Next::RetryInSecs(30)),
            ((1, 0, None, 0), Next::RetryInSecs(1)),
            ((1, 0, None, max / 2), Next::RetryInSecs(15)),
            ((3, 200, None, max), Next::RetryInSecs(120)),
            // Retry-After is honoured when longer than the draw, capped at 4 hours.
            ((1, 0, Some(90), 0), Next::RetryInSecs(90)),
            ((1, 0, Some(5), max), Next::RetryInSecs(30)),
            (
                (1, 0, Some(1_000_000), 0),
                Next::RetryInSecs(RETRY_CAP_SECS),
            ),
            // The 24-hour window and the attempt bound end the schedule.
            ((12, 86_000, None, max), Next::DeadLetter),
            ((12, 86_000, None, 0), Next::RetryInSecs(1)),
            ((ATTEMPTS_MAX, 0, None, 0), Next::DeadLetter),
        ];
        for ((failed, elapsed, after, jitter), next) in rows {
            assert_eq!(
                next_attempt(failed, elapsed, after, jitter),
                next,
                "failed {failed}, elapsed {elapsed}, retry-after {after:?}, jitter {jitter}"
            );
        }
    }

    #[test]
    fn with_the_longest_waits_the_schedule_spans_about_a_day() {
        let (mut elapsed, mut attempts) = (0_i64, 1_u32);
        while let Next::RetryInSecs(wait) = next_attempt(attempts, elapsed, None, u32::MAX) {
            elapsed += wait;
            attempts += 1;
        }
        assert_eq!(attempts, 14, "attempts before the dead-letter queue");
        assert!((20 * 3600..=24 * 3600).contains(&elapsed), "{elapsed}");
    }

    #[test]
    fn an_endpoint_failing_for_five_days_is_disabled() {
        for (failing_secs, disabled) in [
            (0, false),
            (24 * 3600, false),
            (ENDPOINT_FAILING_DISABLE_SECS - 1, false),
            (ENDPOINT_FAILING_DISABLE_SECS, true),
            (30 * 24 * 3600, true),
        ] {
            assert_eq!(disable_endpoint(failing_secs), disabled, "{failing_secs}");
        }
    }

    #[test]
    fn only_a_2xx_delivers() {
        assert!(classify(AttemptEnd::Status(200)));
        assert!(classify(AttemptEnd::Status(204)));
        for end in [
            AttemptEnd::Status(301),
            AttemptEnd::Status(404),
            AttemptEnd::Status(429),
            AttemptEnd::Status(500),
            AttemptEnd::Timeout,
            AttemptEnd::ConnectionError,
            AttemptEnd::AddressRefused,
        ] {
            assert!(!classify(end), "{end:?}");
        }
        assert_eq!(parse_retry_after(" 120 "), Some(120));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
