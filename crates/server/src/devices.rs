//! Devices (desktop replicas): the row type and the rules for their names and scope.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// Longest device name and platform.
pub const DEVICE_TEXT_LEN_MAX: usize = 100;

/// The most warehouses one device replicates.
pub const DEVICE_WAREHOUSES_MAX: usize = 50;

/// A registered device.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Device {
    pub id: Uuid,
    /// The user who registered it; its movements are booked to them.
    pub user_id: Uuid,
    pub name: String,
    /// e.g. `linux`, `windows`, `macos`.
    pub platform: String,
    /// Its scope: the warehouses it replicates.
    pub warehouse_ids: Vec<Uuid>,
    /// The next journal sequence number the server expects from it.
    pub next_seq: i64,
    pub created_at: DateTime<Utc>,
    pub last_push_at: Option<DateTime<Utc>>,
    /// Its last pull (written at most once a minute).
    pub last_pull_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// A device's name or platform, trimmed: 1 to [`DEVICE_TEXT_LEN_MAX`] characters.
pub fn validate_text(field: &str, value: &str) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > DEVICE_TEXT_LEN_MAX {
        return Err(ApiError::BadRequest(format!(
            "{field} must have 1 to {DEVICE_TEXT_LEN_MAX} characters"
        )));
    }
    Ok(value.to_owned())
}

/// A device to register, checked: its name and platform trimmed, its scope sorted and
/// without duplicates, 1 to [`DEVICE_WAREHOUSES_MAX`] warehouses.
#[derive(Debug, Clone)]
pub struct Registration {
    pub name: String,
    pub platform: String,
    pub warehouse_ids: Vec<Uuid>,
}

impl Registration {
    /// Checks a registration as asked (whether the warehouses exist is read later, in the
    /// tenant's transaction).
    pub fn parse(name: &str, platform: &str, warehouse_ids: &[Uuid]) -> ApiResult<Self> {
        let name = validate_text("name", name)?;
        let platform = validate_text("platform", platform)?;
        let mut warehouse_ids = warehouse_ids.to_vec();
        warehouse_ids.sort();
        warehouse_ids.dedup();
        if warehouse_ids.is_empty() || warehouse_ids.len() > DEVICE_WAREHOUSES_MAX {
            return Err(ApiError::BadRequest(format!(
                "warehouse_ids must name 1 to {DEVICE_WAREHOUSES_MAX} warehouses"
            )));
        }
        Ok(Self {
            name,
            platform,
            warehouse_ids,
        })
    }
}
