//! The replica's clock: the device clock corrected by the server's offset, the reference
//! a clock jump is detected against, and the time a new entry is stamped with.

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{Connection, Transaction, params};

use super::Replica;
use crate::clock::{self, ClockJump, Reference, Uptime};
use crate::db::{from_ns, ns};
use crate::{Error, Result};

impl Replica {
    /// The replica's estimate of the server's time now ([`server_now`]).
    pub(crate) fn server_estimate(&self) -> Result<DateTime<Utc>> {
        server_now(&self.conn, self.env.peek(), self.env.uptime().as_ref())
    }

    /// Checks this device's clock before recording ([`crate::clock`]): `Some` when it
    /// jumped since the server last answered (or since a person confirmed it).
    pub fn check_clock(&self) -> Result<Option<ClockJump>> {
        let device_clock = self.env.peek();
        let (corrected, reference) = corrected_clock(&self.conn, device_clock)?;
        Ok(clock::check(
            corrected,
            reference.as_ref(),
            self.env.uptime().as_ref(),
        ))
    }

    /// A person confirms this device's clock as it reads now (after a `clock_jumped`
    /// refusal they checked): it becomes the reference the next recordings are checked
    /// against, until the next sync measures the server's time again. Nothing recorded
    /// is re-dated. Returns the time confirmed (the clock corrected by the offset).
    pub fn accept_clock(&mut self) -> Result<DateTime<Utc>> {
        let device_clock = self.env.now();
        let uptime = self.env.uptime();
        let tx = self.write()?;
        let (corrected, _) = corrected_clock(&tx, device_clock)?;
        set_clock_reference(&tx, corrected, uptime)?;
        tx.commit()?;
        Ok(corrected)
    }
}

/// Refuses to record when the clock jumped (see [`Replica::check_clock`]).
pub(super) fn check_before_recording(
    conn: &Connection,
    device_clock: DateTime<Utc>,
    uptime: Option<&Uptime>,
) -> Result<()> {
    let (corrected, reference) = corrected_clock(conn, device_clock)?;
    match clock::check(corrected, reference.as_ref(), uptime) {
        Some(jump) => Err(Error::ClockJumped(jump)),
        None => Ok(()),
    }
}

/// Sets the time the replica trusts (the server's, or a person's) and the uptime then.
pub(super) fn set_clock_reference(
    tx: &Transaction<'_>,
    at: DateTime<Utc>,
    uptime: Option<Uptime>,
) -> Result<()> {
    let (boot, ms) = match uptime {
        Some(u) => (Some(u.boot), Some(u.ms)),
        None => (None, None),
    };
    tx.execute(
        "update sync_state set clock_ref_at_ns = ?1, clock_ref_boot = ?2, clock_ref_uptime_ms = ?3",
        params![ns(at)?, boot, ms],
    )?;
    Ok(())
}

/// The device clock corrected by the measured offset, and the clock reference.
fn corrected_clock(
    conn: &Connection,
    device_clock: DateTime<Utc>,
) -> Result<(DateTime<Utc>, Option<Reference>)> {
    let (offset_ms, at, boot, ms): (i64, Option<i64>, Option<String>, Option<i64>) = conn
        .query_row(
            "select clock_offset_ms, clock_ref_at_ns, clock_ref_boot, clock_ref_uptime_ms
             from sync_state",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    let reference = at.map(|at| Reference {
        at: from_ns(at),
        uptime: match (boot, ms) {
            (Some(boot), Some(ms)) => Some(Uptime { boot, ms }),
            _ => None,
        },
    });
    Ok((device_clock + TimeDelta::milliseconds(offset_ms), reference))
}

/// The replica's estimate of the server's time now (see [`clock::estimate`]): when its
/// projection predicts the server's bound on an unsent entry's date.
pub(crate) fn server_now(
    conn: &Connection,
    device_clock: DateTime<Utc>,
    uptime: Option<&Uptime>,
) -> Result<DateTime<Utc>> {
    let (corrected, reference) = corrected_clock(conn, device_clock)?;
    Ok(clock::estimate(corrected, reference.as_ref(), uptime))
}

/// The corrected time for a new entry: the device clock plus the server offset, to the
/// microsecond (what PostgreSQL's `timestamptz` keeps, so the server orders events
/// exactly as the device does), and strictly after the previous entry, so this device's
/// own entries stay in the order they were recorded even if the offset moves backwards
/// a little. Only a little: a previous entry more than [`clock::CLOCK_JUMP_TOLERANCE_MS`]
/// ahead was recorded with a clock that ran ahead (the check before recording passed, so
/// the clock is right now), and following it would carry that wrong date into every new
/// entry; the new entry keeps the right time.
pub(super) fn stamp_time(
    device_clock: DateTime<Utc>,
    offset_ms: i64,
    previous: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>> {
    let corrected = device_clock + TimeDelta::milliseconds(offset_ms);
    let micros = corrected.timestamp_micros();
    let mut at = DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| Error::corrupt("the clock is out of range"))?;
    if let Some(prev) = previous
        && at <= prev
        && prev - at <= TimeDelta::milliseconds(clock::CLOCK_JUMP_TOLERANCE_MS)
    {
        at = prev + TimeDelta::microseconds(1);
    }
    Ok(at)
}
