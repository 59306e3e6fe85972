//! Recording one movement: resolving what a person typed or scanned, validating it,
//! stamping it and appending it to the journal, with the warnings its projection raises.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use logiflow_core::{
    Delta, DeviceStamp, Flag, Hold, HoldReview, LotId, Movement, MovementId, MovementKind, Origin,
    Outcome, PositiveQty, Qty, validate,
};
use rusqlite::{Transaction, TransactionBehavior, params};

use super::live::{Products, project};
use super::resolve::{
    LocalCatalog, ResolvedProduct, resolve_location, resolve_lot, resolve_product,
};
use super::time::{check_before_recording, server_now, stamp_time};
use super::{Replica, read_device};
use crate::api::{Action, Op, Recorded, Warning};
use crate::clock::{self, Uptime};
use crate::db::{from_ns, ns};
use crate::{Error, Result};

impl Replica {
    /// Records an action in the journal: resolves and validates it against the local
    /// catalog (refusing it at once if invalid), stamps it (UUIDv7, next `device_seq`,
    /// corrected clock, base cursor) and commits it in one transaction, synced to disk.
    ///
    /// An outbound beyond the projected stock is recorded (it physically happened) with a
    /// `beyond_projected_stock` warning.
    ///
    /// Refused with `clock_jumped` when the device's clock jumped since the server last
    /// answered ([`Replica::check_clock`]); [`Replica::accept_clock`] confirms it.
    pub fn record(&mut self, action: &Action) -> Result<Recorded> {
        let device_clock = self.env.now();
        let random = self.env.random();
        let uptime = self.env.uptime();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_before_recording(&tx, device_clock, uptime.as_ref())?;
        let recorded = record_in(&tx, device_clock, random, action, uptime.as_ref())?;
        tx.commit()?;
        Ok(recorded)
    }
}

/// [`Replica::record`] inside the caller's transaction, which commits it.
pub(super) fn record_in(
    tx: &Transaction<'_>,
    device_clock: DateTime<Utc>,
    random: [u8; 10],
    action: &Action,
    uptime: Option<&Uptime>,
) -> Result<Recorded> {
    let device = read_device(tx)?.ok_or(Error::NotInitialized)?;
    let product = resolve_product(tx, &action.item)?;
    let kind = movement_kind(tx, action)?;
    let (lot, lot_warnings) = action_lot(tx, &product, action, device_clock, random)?;

    let (cursor, offset_ms): (Option<String>, i64) =
        tx.query_row("select cursor, clock_offset_ms from sync_state", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (last_seq, last_at): (i64, Option<i64>) = tx.query_row(
        "select coalesce(max(device_seq), 0),
                    (select occurred_at_ns from journal order by device_seq desc limit 1)
             from journal",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let occurred_at = stamp_time(device_clock, offset_ms, last_at.map(from_ns))?;
    let seq = u64::try_from(last_seq + 1).map_err(Error::corrupt)?;
    let id = MovementId::new_v7(
        u64::try_from(occurred_at.timestamp_millis()).unwrap_or(0),
        random,
    );
    let movement = Movement {
        id,
        occurred_at,
        product: product.id,
        lot,
        kind,
        user: device.user,
        device: Some(DeviceStamp {
            device: device.device,
            seq,
        }),
        reference: action.reference,
    };

    let facts = LocalCatalog::load(tx, &movement)?;
    // The day for lot expiry is taken in UTC: the replica has no time-zone database
    // yet. For a journal fact expiry only raises a flag (never a refusal), so the
    // difference is a flag raised or not in the hours around midnight.
    let flags = validate(&movement, Origin::Journal, &facts, occurred_at.date_naive())
        .map_err(Error::Rejected)?;

    let json = serde_json::to_string(&movement).map_err(Error::corrupt)?;
    tx.prepare_cached(
        "insert into journal (device_seq, id, occurred_at_ns, recorded_at_ns, base_cursor,
                 user_id, kind, movement, product_id)
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        last_seq + 1,
        id.to_string(),
        ns(occurred_at)?,
        ns(device_clock)?,
        cursor,
        device.user.to_string(),
        movement.kind.name().as_str(),
        json,
        movement.product.to_string()
    ])?;

    let (projected, mut warnings) = projected_outcome(tx, &movement, &flags, device_clock, uptime)?;
    warnings.splice(0..0, lot_warnings);
    Ok(Recorded {
        seq,
        movement,
        projected,
        warnings,
    })
}

/// The lot an action names, and what to tell the person about it. A receipt into a lot
/// this device does not know creates the lot here (`local`, with the expiry date typed),
/// declared to the server with the next push (`logiflow_core::lots`); any other movement
/// needs a known lot. A date typed for a known lot that differs from its own is warned
/// about: the lot keeps its date.
fn action_lot(
    tx: &Transaction<'_>,
    product: &ResolvedProduct,
    action: &Action,
    device_clock: DateTime<Utc>,
    random: [u8; 10],
) -> Result<(Option<LotId>, Vec<Warning>)> {
    let expires_on =
        match action.expires_on.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                Error::InvalidInput {
                    field: "expires_on",
                    message: format!("`{text}` is not a date written as YYYY-MM-DD"),
                }
            })?),
        };
    let Some(code) = &action.lot else {
        return match expires_on {
            None => Ok((None, Vec::new())),
            Some(_) => Err(Error::InvalidInput {
                field: "expires_on",
                message: "an expiry date belongs to a lot: give the lot code too".into(),
            }),
        };
    };
    let id = match resolve_lot(tx, product, code) {
        Ok(id) => id,
        Err(Error::UnknownLot { lot, .. }) if matches!(action.op, Op::Receive { .. }) => {
            // Another id than the movement's (made from the same clock and random bytes).
            let id = LotId::new_v7(
                u64::try_from(device_clock.timestamp_millis()).unwrap_or(0),
                random.map(|b| b ^ 0xff),
            );
            tx.prepare_cached(
                "insert into lot (id, product_id, code, expires_on, local)
                 values (?1, ?2, ?3, ?4, 1)",
            )?
            .execute(params![
                id.to_string(),
                product.id.to_string(),
                lot,
                expires_on.map(|d| d.to_string())
            ])?;
            let expiry = expires_on.map_or_else(
                || "without an expiry date".to_owned(),
                |d| format!("expiring {d}"),
            );
            let warning = Warning {
                code: "new_lot".into(),
                message: format!(
                    "lot {lot} of {} is new: created on this device {expiry}; the server adds it with the next sync",
                    product.sku
                ),
            };
            return Ok((Some(id), vec![warning]));
        }
        Err(e) => return Err(e),
    };
    let mut warnings = Vec::new();
    if let Some(typed) = expires_on {
        let kept: Option<String> = tx.query_row(
            "select expires_on from lot where id = ?1",
            params![id.to_string()],
            |r| r.get(0),
        )?;
        if kept.as_deref() != Some(typed.to_string().as_str()) {
            warnings.push(Warning {
                code: "lot_expiry_differs".into(),
                message: format!(
                    "lot {code} expires {} here, not {typed}: the lot keeps its date; check the label",
                    kept.as_deref().unwrap_or("never")
                ),
            });
        }
    }
    Ok((Some(id), warnings))
}

/// The movement an action's operation names, its locations resolved in the action's
/// warehouse and its quantities checked.
fn movement_kind(tx: &Transaction<'_>, action: &Action) -> Result<MovementKind> {
    let wh = action.warehouse.as_deref();
    Ok(match &action.op {
        Op::Receive { to, qty } => MovementKind::Receive {
            to: resolve_location(tx, to, wh)?,
            qty: PositiveQty::new(*qty).map_err(|e| Error::qty("qty", e))?,
        },
        Op::Ship { from, qty } => MovementKind::Ship {
            from: resolve_location(tx, from, wh)?,
            qty: PositiveQty::new(*qty).map_err(|e| Error::qty("qty", e))?,
        },
        Op::Transfer { from, to, qty } => MovementKind::Transfer {
            from: resolve_location(tx, from, wh)?,
            to: resolve_location(tx, to, wh)?,
            qty: PositiveQty::new(*qty).map_err(|e| Error::qty("qty", e))?,
        },
        Op::Adjust { at, delta, reason } => MovementKind::Adjust {
            at: resolve_location(tx, at, wh)?,
            delta: Delta::new(*delta).map_err(|e| Error::qty("delta", e))?,
            reason: *reason,
        },
        Op::Count {
            at,
            counted,
            expected,
        } => MovementKind::Count {
            at: resolve_location(tx, at, wh)?,
            counted: Qty::new(*counted).map_err(|e| Error::qty("counted", e))?,
            expected: expected
                .map(Qty::new)
                .transpose()
                .map_err(|e| Error::qty("expected", e))?,
        },
    })
}

/// The outcome the projection predicts for a movement just appended (`unknown` if none),
/// and the warnings to show: its validation flags, then a clock or stock hold, then the
/// projection's flags.
fn projected_outcome(
    tx: &Transaction<'_>,
    movement: &Movement,
    flags: &[Flag],
    device_clock: DateTime<Utc>,
    uptime: Option<&Uptime>,
) -> Result<(String, Vec<Warning>)> {
    let received_at = server_now(tx, device_clock, uptime)?;
    let projection = project(
        tx,
        Products::Only(&BTreeSet::from([movement.product])),
        received_at,
    )?;
    let mut warnings: Vec<Warning> = flags.iter().map(flag_warning).collect();
    let projected = match projection.predicted.get(&movement.id) {
        Some((outcome, flags)) => {
            if let Outcome::Held(Hold {
                review: Some(HoldReview::ClockAhead { ahead_secs, .. }),
                ..
            }) = outcome
            {
                warnings.push(Warning {
                    code: "clock_ahead".into(),
                    message: format!(
                        "dated {} after the server's time as this device estimates it: the server will hold it for a manager",
                        clock::human_duration(ahead_secs.unsigned_abs())
                    ),
                });
            } else if let Outcome::Held(hold) = outcome {
                warnings.push(Warning {
                        code: "beyond_projected_stock".into(),
                        message: format!(
                            "only {} projected in the bin, {} needed: recorded anyway; the server will hold it until the stock that came first is known",
                            hold.at_time, hold.needed
                        ),
                    });
            }
            warnings.extend(flags.iter().map(flag_warning));
            outcome.name().as_str().to_owned()
        }
        None => "unknown".to_owned(),
    };
    Ok((projected, warnings))
}

/// What the person is told of a flag the projection or validation raised.
///
/// Longer than 80 lines: one arm per flag, exhaustive, so a new flag gets its words here.
fn flag_warning(flag: &Flag) -> Warning {
    let (code, message) = match flag {
        Flag::NegativeRow { on_hand, .. } => (
            "negative_row",
            format!("the bin is projected at {on_hand}, below zero"),
        ),
        Flag::CountVariance {
            expected,
            server_at_time,
            ..
        } => (
            "count_variance",
            format!("expected {expected} but the replica held {server_at_time} at that time"),
        ),
        Flag::ExpiredLotMoved { .. } => (
            "expired_lot_moved",
            "the lot is past its expiry date".to_owned(),
        ),
        Flag::InactiveProduct => ("inactive_product", "the product is deactivated".to_owned()),
        Flag::InactiveLocation { .. } => (
            "inactive_location",
            "the location is deactivated".to_owned(),
        ),
        Flag::Forced => ("forced", "forced through by a manager".to_owned()),
        Flag::OutcomeRepaired { was } => (
            "outcome_repaired",
            format!("recorded as {was} by an older server although it moved stock; now applied"),
        ),
        Flag::DatedBeforeDevice { .. } => (
            "dated_before_device",
            "dated before this device was registered: its clock may be behind".to_owned(),
        ),
        Flag::DatedLongAgo {
            age_days,
            limit_days,
        } => (
            "dated_long_ago",
            format!("dated {age_days} days back, beyond the limit of {limit_days}"),
        ),
        Flag::Redated { recorded_at, .. } => (
            "redated",
            format!(
                "recorded at {} by a clock that ran ahead; applied at the time the server received it",
                recorded_at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        Flag::UnknownOrderLine { .. } => (
            "unknown_order_line",
            "the order line it names is unknown: it counts toward no order".to_owned(),
        ),
        Flag::OrderLineMismatch { .. } => (
            "order_line_mismatch",
            "the order line it names is of another product or kind: it counts toward no order"
                .to_owned(),
        ),
        Flag::OverReceipt { beyond, .. } => (
            "over_receipt",
            format!("{beyond} more received than the purchase order allows"),
        ),
        Flag::PickOtherRow { .. } => (
            "pick_other_row",
            "picked from a bin or lot the sales order had nothing reserved on".to_owned(),
        ),
        Flag::OverPick { excess, .. } => (
            "over_pick",
            format!("{excess} more picked than the sales order reserved"),
        ),
        Flag::LotExpiryDiffers { recorded, kept, .. } => (
            "lot_expiry_differs",
            format!(
                "the lot's expiry date is {}, not {} as recorded: the lot kept its date",
                kept.map_or_else(|| "none".to_owned(), |d| d.to_string()),
                recorded.map_or_else(|| "none".to_owned(), |d| d.to_string())
            ),
        ),
        Flag::ReceiptOrderNotOpen { status, .. } => (
            "receipt_order_not_open",
            format!(
                "received against a purchase order that is {}",
                status.as_str().replace('_', " ")
            ),
        ),
    };
    Warning {
        code: code.to_owned(),
        message,
    }
}
