//! Lots: the row type and the rule for lot codes.

use chrono::{DateTime, NaiveDate, Utc};
use logiflow_core::LotCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// A lot as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Lot {
    pub id: Uuid,
    pub product_id: Uuid,
    /// Unique per product, kept as printed (case-sensitive), at most 64.
    pub code: String,
    /// The last day the lot may be used (in the warehouse's local date).
    pub expires_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A lot code as printed (case-sensitive), checked by `logiflow_core::LotCode`.
pub fn parse_lot_code(raw: &str) -> ApiResult<String> {
    LotCode::parse(raw)
        .map(String::from)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}
