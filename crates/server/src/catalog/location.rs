//! Locations: the row type and the rules of the location tree (depth, names).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// Deepest location tree (a root has depth 0): zone → aisle → rack → level → bin and a
/// generous margin.
pub const LOCATION_DEPTH_MAX: i32 = 15;

/// Longest location name.
pub const LOCATION_NAME_LEN_MAX: usize = 200;

/// A location as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Location {
    pub id: Uuid,
    pub warehouse_id: Uuid,
    /// Absent for a top-level location (a zone).
    pub parent_id: Option<Uuid>,
    /// Unique in the warehouse; letters, digits, `- _ .`, upper case, at most 32.
    pub code: String,
    pub name: String,
    /// Codes from the root down joined by '/', e.g. `A/03/B2`.
    pub path: String,
    /// 0 for a top-level location.
    pub depth: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A location name, trimmed: at most [`LOCATION_NAME_LEN_MAX`] characters (may be empty).
pub fn validate_location_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.chars().count() > LOCATION_NAME_LEN_MAX {
        return Err(ApiError::BadRequest(format!(
            "location names have at most {LOCATION_NAME_LEN_MAX} characters"
        )));
    }
    Ok(name.to_owned())
}
