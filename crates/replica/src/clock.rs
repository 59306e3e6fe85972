//! The device's own clock, checked before anything is recorded (issue #18).
//!
//! A journal entry carries the device's clock corrected by the offset measured at the
//! last contact with the server. If the clock jumps after that contact (set by hand, a
//! dead CMOS battery after a reboot, a time-zone mistake), the correction no longer holds
//! and the entry would carry a wrong time: the server holds one dated in its future
//! (`clock_ahead`) and may absorb one dated in the past into a count. So before recording
//! the replica compares its corrected clock with what it can trust:
//!
//! * the **reference**: the last time the server told it (a push or pull answer), or the
//!   time a person confirmed as right ([`crate::Replica::accept_clock`]);
//! * the time elapsed since then by the machine's **uptime** (`/proc/uptime` with the
//!   boot id on Linux: it keeps counting through suspend and is not changed by setting
//!   the clock), when the machine has not restarted since.
//!
//! The clock **jumped** when the corrected clock reads earlier than the reference, or
//! differs from "reference + uptime elapsed" by more than [`CLOCK_JUMP_TOLERANCE_MS`].
//! Recording then fails with `clock_jumped` and says by how much; the person sets the
//! clock right, syncs (which measures the offset again), or confirms the clock as it is
//! (`logiflow clock accept`, or "Record anyway" in the app). Nothing already recorded is
//! ever re-dated.

use chrono::{DateTime, TimeDelta, Utc};

/// How far the corrected clock may stray from what the replica can check before
/// recording is stopped (2 minutes: well below the server's default tolerance of 5, and
/// far above the drift of a working clock between two syncs).
pub const CLOCK_JUMP_TOLERANCE_MS: i64 = 2 * 60 * 1000;

/// A reading of the machine's uptime: which boot, and milliseconds since it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uptime {
    /// The boot's id (a new one after every restart).
    pub boot: String,
    /// Milliseconds since that boot, suspend included.
    pub ms: i64,
}

/// A time the replica trusts, and the uptime when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    /// The server's time (or a time a person confirmed).
    pub at: DateTime<Utc>,
    /// The machine's uptime at that moment, when known.
    pub uptime: Option<Uptime>,
}

/// What the clock check found: the corrected clock and what it should read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockJump {
    /// The clock as the replica would stamp an entry now.
    pub reads: DateTime<Utc>,
    /// What it should read: the reference plus the uptime elapsed, or at least the
    /// reference.
    pub expected: DateTime<Utc>,
    /// True when `expected` is only a lower bound (the machine restarted since).
    pub at_least: bool,
}

impl ClockJump {
    /// How far ahead (positive) or behind (negative) the clock is, in seconds.
    pub fn off_by_secs(&self) -> i64 {
        (self.reads - self.expected).num_seconds()
    }

    /// The explanation, with the way forward.
    pub fn message(&self) -> String {
        let off = self.off_by_secs();
        let how = if off >= 0 { "ahead" } else { "behind" };
        let amount = human_duration(off.unsigned_abs());
        let qualifier = if self.at_least { "at least " } else { "" };
        format!(
            "this device's clock seems to have jumped: it reads {}, {qualifier}{amount} {how} of the time the server's last answer and the time elapsed since give ({}); a movement recorded now would carry the wrong time. Set the clock right or sync, or confirm the clock as it is (`logiflow clock accept`, or \"Record anyway\" in the app)",
            self.reads.format("%Y-%m-%d %H:%M:%S UTC"),
            self.expected.format("%Y-%m-%d %H:%M:%S UTC"),
        )
    }
}

/// "3 days", "2 hours", "7 minutes", "40 seconds": the largest whole unit.
pub fn human_duration(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3_600 => (s / 3_600, "hour"),
        s if s >= 60 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// What the server's clock reads now, as well as the replica can tell: the reference
/// plus the uptime elapsed on the same boot, else the corrected clock but never before
/// the reference.
pub(crate) fn estimate(
    corrected: DateTime<Utc>,
    reference: Option<&Reference>,
    uptime: Option<&Uptime>,
) -> DateTime<Utc> {
    match reference {
        None => corrected,
        Some(r) => elapsed(r, uptime).map_or(corrected.max(r.at), |e| r.at + e),
    }
}

/// The uptime elapsed since the reference, when both readings are of the same boot.
fn elapsed(reference: &Reference, now: Option<&Uptime>) -> Option<TimeDelta> {
    let (then, now) = (reference.uptime.as_ref()?, now?);
    (then.boot == now.boot && now.ms >= then.ms).then(|| TimeDelta::milliseconds(now.ms - then.ms))
}

/// Checks the corrected clock against the reference (see the module documentation).
pub(crate) fn check(
    corrected: DateTime<Utc>,
    reference: Option<&Reference>,
    uptime: Option<&Uptime>,
) -> Option<ClockJump> {
    let reference = reference?;
    let tolerance = TimeDelta::milliseconds(CLOCK_JUMP_TOLERANCE_MS);
    match elapsed(reference, uptime) {
        Some(e) => {
            let expected = reference.at + e;
            ((corrected - expected).abs() > tolerance).then_some(ClockJump {
                reads: corrected,
                expected,
                at_least: false,
            })
        }
        None => (corrected < reference.at - tolerance).then_some(ClockJump {
            reads: corrected,
            expected: reference.at,
            at_least: true,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn up(boot: &str, secs: i64) -> Uptime {
        Uptime {
            boot: boot.into(),
            ms: secs * 1000,
        }
    }

    #[test]
    fn a_clock_that_keeps_time_passes() {
        let r = Reference {
            at: at(0),
            uptime: Some(up("b", 100)),
        };
        assert_eq!(check(at(3600), Some(&r), Some(&up("b", 3700))), None);
        // Drift within the tolerance.
        assert_eq!(check(at(3660), Some(&r), Some(&up("b", 3700))), None);
        // No reference yet: nothing to check against.
        assert_eq!(check(at(-99_999), None, None), None);
    }

    #[test]
    fn a_jump_either_way_is_caught_on_the_same_boot() {
        let r = Reference {
            at: at(0),
            uptime: Some(up("b", 100)),
        };
        let ahead = check(at(3 * 86_400 + 3600), Some(&r), Some(&up("b", 3700))).unwrap();
        assert_eq!(ahead.off_by_secs(), 3 * 86_400);
        assert!(
            ahead.message().contains("3 days ahead"),
            "{}",
            ahead.message()
        );
        let behind = check(at(3600 - 600), Some(&r), Some(&up("b", 3700))).unwrap();
        assert!(
            behind.message().contains("10 minutes behind"),
            "{}",
            behind.message()
        );
        assert_eq!(estimate(at(0), Some(&r), Some(&up("b", 3700))), at(3600));
    }

    #[test]
    fn after_a_restart_only_a_clock_before_the_reference_is_caught() {
        let r = Reference {
            at: at(0),
            uptime: Some(up("old", 100)),
        };
        // Any later reading may be right: the time elapsed is unknown.
        assert_eq!(check(at(5 * 86_400), Some(&r), Some(&up("new", 10))), None);
        let back = check(at(-2 * 86_400), Some(&r), Some(&up("new", 10))).unwrap();
        assert!(back.at_least);
        assert!(
            back.message().contains("at least 2 days behind"),
            "{}",
            back.message()
        );
        // The estimate of the server's time never goes before the reference.
        assert_eq!(estimate(at(-2 * 86_400), Some(&r), None), at(0));
        assert_eq!(estimate(at(50), Some(&r), None), at(50));
    }

    #[test]
    fn durations_read_in_the_largest_whole_unit() {
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(61), "1 minute");
        assert_eq!(human_duration(7_200), "2 hours");
        assert_eq!(human_duration(3 * 86_400 + 5), "3 days");
    }
}
