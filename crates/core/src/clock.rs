//! How far the server trusts a clock it does not own (issue #18).
//!
//! A journal movement carries the time its device's clock said, corrected by the offset
//! the device measured at its last contact. A device whose clock runs ahead (a dead CMOS
//! battery, a laptop set by hand, a malicious device) would otherwise date a count days
//! in the future, and that count would absorb every movement of the bin dated before it
//! and refuse every online movement there: other people's work lost. The server cannot
//! check a device's clock beyond its own, so it bounds it:
//!
//! * [`bound_time`] — a journal movement dated later than the server's time of receipt
//!   plus a tolerance is **held for a person** ([`HoldReview::ClockAhead`]): it never
//!   takes effect at that date, so it absorbs, supersedes and blocks nothing, and it is
//!   not in the ledger. A manager forces it — it then takes effect at the time the
//!   server received it ([`forced_movement`], [`force_held`], flagged [`Flag::Redated`]
//!   with the date the device recorded) — or voids it. A movement dated before its
//!   device was registered, or further in the past than the tenant's limit, is decided
//!   as usual but flagged for review ([`Flag::DatedBeforeDevice`], [`Flag::DatedLongAgo`]).
//! * [`online_time`] — an online intent happens *now*, after everything the server has
//!   already stored (all of it physically happened before the server received it). When
//!   a row it touches already holds an event dated after the server's now (a journal
//!   movement within the tolerance), the intent is dated just after that event instead of
//!   being refused `before_latest_count`.
//!
//! Nothing here reads a clock: the receipt time and the settings are passed in.

use chrono::{DateTime, TimeDelta, Utc};

use crate::{DecideError, Decision, Flag, Hold, HoldReview, Movement, OrderKey, RowView};

/// The default of the server setting `clock_ahead_tolerance_secs`: how far after the
/// server's time of receipt a journal movement may be dated and still take effect at its
/// date (5 minutes: the replica already corrects its clock by the offset it measured, so
/// what is left is drift since the last contact).
pub const CLOCK_AHEAD_TOLERANCE_SECS_DEFAULT: i64 = 5 * 60;

/// The default of the tenant setting `journal_past_limit_days`: a journal movement dated
/// further in the past than this when received is flagged for review.
pub const JOURNAL_PAST_LIMIT_DAYS_DEFAULT: i64 = 30;

/// What the server knows when it receives a journal movement, to bound its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// When the server received the movement, by its own clock.
    pub received_at: DateTime<Utc>,
    /// How far after `received_at` a movement may be dated and still take effect at its
    /// date.
    pub ahead_tolerance: TimeDelta,
    /// A movement dated earlier than `received_at` minus this is flagged
    /// [`Flag::DatedLongAgo`]; none: not checked.
    pub past_limit: Option<TimeDelta>,
    /// When the recording device was registered; a movement dated before it (by more
    /// than `ahead_tolerance`, the clock error accepted either way) is flagged
    /// [`Flag::DatedBeforeDevice`]; none: not checked.
    pub device_registered_at: Option<DateTime<Utc>>,
}

impl Receipt {
    /// A receipt at `received_at` with the default tolerance and no past checks (what a
    /// replica can predict of the server's decision).
    pub fn at(received_at: DateTime<Utc>) -> Self {
        Self {
            received_at,
            ahead_tolerance: TimeDelta::seconds(CLOCK_AHEAD_TOLERANCE_SECS_DEFAULT),
            past_limit: None,
            device_registered_at: None,
        }
    }
}

/// Bounds a journal movement's date by the server's clock (see the module documentation).
///
/// `Err(hold)`: the movement is dated beyond `received_at + ahead_tolerance`; it is held
/// with [`HoldReview::ClockAhead`] (never retried automatically) and must not be decided.
/// `Ok(flags)`: decide it as usual and add these flags (dated before its device, or
/// long ago).
pub fn bound_time(m: &Movement, receipt: &Receipt) -> Result<Vec<Flag>, Hold> {
    let ahead = m.occurred_at - receipt.received_at;
    if ahead > receipt.ahead_tolerance {
        return Err(Hold {
            // A hold for a person waits on no stock; the movement's first row names
            // where it would have taken effect.
            waiting_on: m.keys()[0],
            needed: 0,
            at_time: 0,
            review: Some(HoldReview::ClockAhead {
                received_at: receipt.received_at,
                ahead_secs: ahead.num_seconds(),
            }),
        });
    }
    let mut flags = Vec::new();
    // The same tolerance the other way: a clock a little behind is no news.
    if let Some(registered_at) = receipt.device_registered_at
        && m.occurred_at + receipt.ahead_tolerance < registered_at
    {
        flags.push(Flag::DatedBeforeDevice { registered_at });
    }
    if let Some(limit) = receipt.past_limit
        && receipt.received_at - m.occurred_at > limit
    {
        flags.push(Flag::DatedLongAgo {
            age_days: (receipt.received_at - m.occurred_at).num_days(),
            limit_days: limit.num_days(),
        });
    }
    Ok(flags)
}

/// The movement as a manager's force applies it: one held because its device's clock ran
/// ahead takes effect at the time the server received it (its id, and so its order among
/// movements at that same instant, is kept); any other as recorded.
pub fn forced_movement(recorded: &Movement, hold: Option<&Hold>) -> Movement {
    match hold.and_then(|h| h.review) {
        Some(HoldReview::ClockAhead { received_at, .. }) => Movement {
            occurred_at: received_at,
            ..*recorded
        },
        _ => *recorded,
    }
}

/// Forces a held movement (see [`crate::force`]) at the time [`forced_movement`] gives.
/// `rows` are the views for that movement (its `effects_after` relative to the forced
/// time). When the time differs from the recorded one, the decision carries
/// [`Flag::Redated`] after [`Flag::Forced`], keeping the date the device recorded.
pub fn force_held(
    recorded: &Movement,
    hold: Option<&Hold>,
    rows: &[RowView],
) -> Result<Decision, DecideError> {
    let m = forced_movement(recorded, hold);
    let mut decision = crate::force(&m, rows)?;
    if m.occurred_at != recorded.occurred_at {
        decision.flags.push(Flag::Redated {
            recorded_at: recorded.occurred_at,
            applied_at: m.occurred_at,
        });
    }
    Ok(decision)
}

/// The time an online intent takes: its own (the server's now) unless `latest`, the
/// latest event already stored on the rows it touches (a count or an applied effect),
/// is at or after it; then just after that event (1 µs later, the precision of every
/// time in the order of events). Everything stored physically happened before the
/// server received the intent, so the intent comes after it; an event may lie in the
/// server's future only by a device's clock tolerance, so the shift is that small.
pub fn online_time(m: &Movement, latest: Option<OrderKey>) -> Movement {
    match latest {
        Some(l) if l >= m.order_key() => Movement {
            occurred_at: l.at + TimeDelta::microseconds(1),
            ..*m
        },
        _ => *m,
    }
}
