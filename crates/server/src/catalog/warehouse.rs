//! Warehouses: the row type and the rules for their codes, time zones and addresses.

use chrono::{DateTime, Utc};
use logiflow_core::LocationCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::users::refuse_forbidden_char;

/// Longest warehouse address.
pub const ADDRESS_LEN_MAX: usize = 1000;

/// A warehouse as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Warehouse {
    pub id: Uuid,
    /// Unique in the tenant; letters, digits, `- _ .`, upper case, at most 32.
    pub code: String,
    pub name: String,
    /// IANA time zone, e.g. `Europe/Paris`: lot expiry is judged in its local date.
    pub timezone: String,
    pub address: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A code in a request (warehouse or location code), as `core::LocationCode` accepts it.
pub fn parse_code(raw: &str) -> ApiResult<String> {
    LocationCode::parse(raw)
        .map(String::from)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Validates an IANA time zone name.
pub fn validate_timezone(tz: &str) -> ApiResult<String> {
    tz.parse::<chrono_tz::Tz>()
        .map(|_| tz.to_owned())
        .map_err(|_| ApiError::BadRequest(format!("unknown IANA time zone {tz:?}")))
}

/// A postal address, trimmed: at most [`ADDRESS_LEN_MAX`] characters, none of them NUL
/// (`users::TEXT_FORBIDDEN_CHAR`).
pub fn validate_address(address: &str) -> ApiResult<String> {
    let address = address.trim();
    if address.chars().count() > ADDRESS_LEN_MAX {
        return Err(ApiError::BadRequest(format!(
            "addresses have at most {ADDRESS_LEN_MAX} characters"
        )));
    }
    refuse_forbidden_char("addresses", address)?;
    Ok(address.to_owned())
}
