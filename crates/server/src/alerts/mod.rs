//! Alerts: conditions a person should know about, raised **once while they last**, shown in
//! the desktop app's notification list and sent to webhooks as events of the same name
//! (issue #17).
//!
//! | kind | raised when | subject | resolved when |
//! |---|---|---|---|
//! | `stock.low` | a product's available stock (on hand − allocated) in an active warehouse is below its reorder point | warehouse/product | it is back at or above the point |
//! | `lot.expiring` | a lot with stock in a warehouse expires within `alert_lot_expiring_days` (today in the warehouse's time zone; an expired lot is included) | warehouse/lot | no stock of the lot is left there |
//! | `conflict.held` | a journal movement has been held for more than `alert_held_hours` | the movement | it is decided (retried, forced or voided) |
//! | `count.variance` | a count is applied with a variance flag (written with the movement, by `ledger::write`) | the movement | a one-off: raised resolved |
//! | `device.silent` | a device (not revoked) has neither pushed nor pulled for `alert_device_silent_days` | the device | it syncs again or is revoked |
//! | `webhook.disabled` | the webhook worker disabled an endpoint whose attempts all failed for five days (raised in the worker's transaction) | the endpoint | it is active again or deleted |
//!
//! "Once while it lasts" is the unique index on unresolved alerts (`alert_open_key`): a
//! sweep inserts what is not open yet and resolves what no longer holds, in one statement
//! per kind. A raised alert writes an outbox event in the same statement (topic = kind,
//! the event id = the alert id, payload = the alert's payload), so it is delivered like any
//! other event; resolving writes no event.
//!
//! # The scheduled check
//!
//! `stock.low`, `lot.expiring`, `conflict.held`, `device.silent` (and the resolution of
//! `webhook.disabled`) are found by
//! [`check::run`], which the webhook worker calls on each tick. It runs **once per
//! `alert_check_interval_secs` across all instances**: the worker claims the
//! `scheduled_check` row by moving its `last_run_at` forward in one conditional `update`;
//! the instance whose update matched runs the check, the others skip it. Sweeping is
//! idempotent, so a check that dies half-way is simply done again at the next interval.
//! Why a sweep rather than a trigger on every movement: available stock also falls when a
//! sales order is confirmed, a reorder point changes, a warehouse is reactivated; one
//! set-based query per tenant and interval covers them all and costs the movement path
//! nothing. A low-stock alert can so be up to one interval late.
//!
//! The thresholds are tenant settings (`/v1/settings`), with the defaults below.
//!
//! Resolved alerts are deleted by the check [`RESOLVED_RETENTION_DAYS`] after they ended
//! (with their read marks), so the table stays bounded; open ones stay however old. What
//! happened remains in the webhooks' receivers and, for the movements, in the ledger.

pub mod check;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The alert kinds, which are also their event types: `logiflow_core::AlertKind`, the one
/// list the server, the replica and the desktop's bell share.
pub use logiflow_core::AlertKind as Kind;

/// Days a resolved alert is kept.
pub const RESOLVED_RETENTION_DAYS: i64 = 90;

/// Default days before expiry that `lot.expiring` is raised.
pub const LOT_EXPIRING_DAYS_DEFAULT: i32 = 30;
/// Default hours a movement is held before `conflict.held` is raised.
pub const HELD_HOURS_DEFAULT: i32 = 4;
/// Default days without a sync before `device.silent` is raised.
pub const DEVICE_SILENT_DAYS_DEFAULT: i32 = 3;

/// Bounds of the thresholds (inclusive), as the table's checks.
pub const LOT_EXPIRING_DAYS_RANGE: (i32, i32) = (1, 365);
pub const HELD_HOURS_RANGE: (i32, i32) = (1, 720);
pub const DEVICE_SILENT_DAYS_RANGE: (i32, i32) = (1, 365);

/// Checks a threshold `value` of setting `name` against `range`.
pub fn validate_threshold(name: &str, value: Option<i32>, range: (i32, i32)) -> ApiResult<()> {
    match value {
        Some(v) if !(range.0..=range.1).contains(&v) => Err(ApiError::BadRequest(format!(
            "{name} must be between {} and {}",
            range.0, range.1
        ))),
        _ => Ok(()),
    }
}

/// An alert, as a person's list shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Alert {
    pub id: Uuid,
    /// `stock.low`, `lot.expiring`, `conflict.held`, `count.variance`, `device.silent` or
    /// `webhook.disabled`.
    pub kind: String,
    /// What it is about (see the kinds): one open alert per kind and subject.
    pub subject: String,
    /// The warehouse it concerns; absent for a silent device or a disabled webhook.
    pub warehouse_id: Option<Uuid>,
    /// The details (the event's `data`); its fields depend on the kind.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub raised_at: DateTime<Utc>,
    /// When the condition ended; absent while it lasts.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Whether the caller marked it read.
    pub read: bool,
}

/// What one run of the scheduled check did, per kind: (raised, resolved).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub stock_low: (i64, i64),
    pub lot_expiring: (i64, i64),
    pub conflict_held: (i64, i64),
    pub device_silent: (i64, i64),
    pub webhook_disabled: (i64, i64),
    /// Resolved alerts deleted after [`RESOLVED_RETENTION_DAYS`].
    pub pruned: u64,
}

impl Swept {
    /// Adds another tenant's counts.
    pub fn add(&mut self, o: Swept) {
        for (a, b) in [
            (&mut self.stock_low, o.stock_low),
            (&mut self.lot_expiring, o.lot_expiring),
            (&mut self.conflict_held, o.conflict_held),
            (&mut self.device_silent, o.device_silent),
            (&mut self.webhook_disabled, o.webhook_disabled),
        ] {
            a.0 += b.0;
            a.1 += b.1;
        }
        self.pruned += o.pruned;
    }

    /// Alerts raised in all.
    pub fn raised(&self) -> i64 {
        self.stock_low.0
            + self.lot_expiring.0
            + self.conflict_held.0
            + self.device_silent.0
            + self.webhook_disabled.0
    }
}
