//! Tenant settings: the row type and the rules for time zones, locales, the product
//! field schema and the journal past limit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::warehouse::validate_timezone;
use crate::error::{ApiError, ApiResult};
use crate::users::validate_name;

/// Longest time zone or locale name.
pub const CODE_LEN_MAX: usize = 64;

/// Tenant-wide settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Settings {
    /// Name shown in the apps.
    pub display_name: String,
    /// IANA time zone used for reports, e.g. `Europe/Paris`.
    pub timezone: String,
    /// Default locale (BCP 47), e.g. `en`.
    pub locale: String,
    /// The JSON Schema (an object schema) each product's `custom` fields must match.
    #[schema(value_type = Object)]
    pub product_field_schema: serde_json::Value,
    /// A device's journal movement dated more than this many days before the server
    /// receives it is applied but flagged `dated_long_ago` for review (1 to 3650;
    /// default 30).
    pub journal_past_limit_days: i32,
    /// A receipt that takes a purchase-order line beyond its quantity plus this percent
    /// of it is applied but flagged `over_receipt` for review (0 to 1000; default 0).
    pub over_receipt_tolerance_pct: i32,
    /// `lot.expiring` is raised this many days before a lot with stock expires (1 to
    /// 365; default 30). See `crate::alerts`.
    pub alert_lot_expiring_days: i32,
    /// `conflict.held` is raised for a movement held longer than this many hours (1 to
    /// 720; default 4).
    pub alert_held_hours: i32,
    /// `device.silent` is raised for a device that has not synced for this many days (1
    /// to 365; default 3).
    pub alert_device_silent_days: i32,
    pub updated_at: DateTime<Utc>,
}

/// The columns of [`Settings`], in its order.
pub const SETTINGS_COLUMNS: &str = "display_name, timezone, locale, product_field_schema,
    journal_past_limit_days, over_receipt_tolerance_pct, alert_lot_expiring_days,
    alert_held_hours, alert_device_silent_days, updated_at";

/// Changes to the alert thresholds; `None` leaves one as it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct AlertThresholds {
    pub lot_expiring_days: Option<i32>,
    pub held_hours: Option<i32>,
    pub device_silent_days: Option<i32>,
}

impl AlertThresholds {
    /// Checks each threshold against its bounds (`crate::alerts`).
    pub fn validate(self) -> ApiResult<Self> {
        use crate::alerts::{
            DEVICE_SILENT_DAYS_RANGE, HELD_HOURS_RANGE, LOT_EXPIRING_DAYS_RANGE, validate_threshold,
        };
        validate_threshold(
            "alert_lot_expiring_days",
            self.lot_expiring_days,
            LOT_EXPIRING_DAYS_RANGE,
        )?;
        validate_threshold("alert_held_hours", self.held_hours, HELD_HOURS_RANGE)?;
        validate_threshold(
            "alert_device_silent_days",
            self.device_silent_days,
            DEVICE_SILENT_DAYS_RANGE,
        )?;
        Ok(self)
    }
}

/// Bounds of `journal_past_limit_days`, in days (ten years at most).
pub const JOURNAL_PAST_LIMIT_DAYS_MAX: i32 = 3650;

/// Largest over-receipt tolerance, in percent.
pub const OVER_RECEIPT_TOLERANCE_PCT_MAX: i32 = 1000;

/// Largest product field schema, in bytes of JSON.
pub const FIELD_SCHEMA_LEN_MAX: usize = 64 * 1024;

/// Checks that `schema` is a JSON Schema for an object that the validator compiles.
pub fn validate_field_schema(schema: &serde_json::Value) -> ApiResult<serde_json::Value> {
    if schema.to_string().len() > FIELD_SCHEMA_LEN_MAX {
        return Err(ApiError::InvalidFieldSchema(format!(
            "at most {FIELD_SCHEMA_LEN_MAX} bytes of JSON"
        )));
    }
    if schema.get("type").and_then(|t| t.as_str()) != Some("object") {
        return Err(ApiError::InvalidFieldSchema(
            "it must be a JSON object with \"type\": \"object\"".into(),
        ));
    }
    jsonschema::meta::validate(schema).map_err(|e| ApiError::InvalidFieldSchema(e.to_string()))?;
    jsonschema::validator_for(schema).map_err(|e| ApiError::InvalidFieldSchema(e.to_string()))?;
    Ok(schema.clone())
}

/// A time zone or locale name: 1 to [`CODE_LEN_MAX`] ASCII letters, digits and `/ _ - +`.
pub fn validate_code(field: &str, v: &str) -> ApiResult<String> {
    let ok = !v.is_empty()
        && v.len() <= CODE_LEN_MAX
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ApiError::BadRequest(format!("invalid {field}")))
    }
}

/// Validated changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct SettingsChanges {
    pub display_name: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    /// Already checked to be a valid JSON Schema object.
    pub product_field_schema: Option<serde_json::Value>,
    /// Already checked to be within bounds.
    pub journal_past_limit_days: Option<i32>,
    /// Already checked to be within bounds.
    pub over_receipt_tolerance_pct: Option<i32>,
    /// Already checked to be within bounds.
    pub alerts: AlertThresholds,
}

impl SettingsChanges {
    /// Checks each change as asked: a display name, a real IANA time zone (as
    /// warehouses' are), a locale code, a product field schema that compiles, and a
    /// journal past limit of 1 to [`JOURNAL_PAST_LIMIT_DAYS_MAX`] days, an over-receipt
    /// tolerance of 0 to [`OVER_RECEIPT_TOLERANCE_PCT_MAX`] percent, alert thresholds
    /// within their bounds.
    pub fn parse(
        display_name: Option<&str>,
        timezone: Option<&str>,
        locale: Option<&str>,
        product_field_schema: Option<&serde_json::Value>,
        journal_past_limit_days: Option<i32>,
        over_receipt_tolerance_pct: Option<i32>,
        alerts: AlertThresholds,
    ) -> ApiResult<Self> {
        let alerts = alerts.validate()?;
        let display_name = display_name.map(validate_name).transpose()?;
        let timezone = timezone.map(validate_timezone).transpose()?;
        let locale = locale.map(|v| validate_code("locale", v)).transpose()?;
        let product_field_schema = product_field_schema
            .map(validate_field_schema)
            .transpose()?;
        if let Some(days) = journal_past_limit_days
            && !(1..=JOURNAL_PAST_LIMIT_DAYS_MAX).contains(&days)
        {
            return Err(ApiError::BadRequest(format!(
                "journal_past_limit_days must be between 1 and {JOURNAL_PAST_LIMIT_DAYS_MAX}"
            )));
        }
        if let Some(pct) = over_receipt_tolerance_pct
            && !(0..=OVER_RECEIPT_TOLERANCE_PCT_MAX).contains(&pct)
        {
            return Err(ApiError::BadRequest(format!(
                "over_receipt_tolerance_pct must be between 0 and {OVER_RECEIPT_TOLERANCE_PCT_MAX}"
            )));
        }
        Ok(Self {
            display_name,
            timezone,
            locale,
            product_field_schema,
            journal_past_limit_days,
            over_receipt_tolerance_pct,
            alerts,
        })
    }
}
