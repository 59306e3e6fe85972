//! Products: the row type, the expiry policy and the rules for SKUs, units, money,
//! barcodes and search filters.

use chrono::{DateTime, Utc};
use logiflow_core::{Barcode, Sku};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// Most barcodes on one product.
pub const BARCODES_PER_PRODUCT_MAX: usize = 32;

/// Longest unit of measure.
pub const UOM_LEN_MAX: usize = 16;

/// Most decimals of cost and price (the column's scale).
pub const MONEY_SCALE_MAX: u32 = 6;

/// Largest cost or price (the column holds 14 integer digits).
pub const MONEY_MAX: i64 = 99_999_999_999_999;

/// Shortest name search (and shortest word in it): trigrams need three characters.
pub const NAME_QUERY_LEN_MIN: usize = 3;

/// Longest name search.
pub const NAME_QUERY_LEN_MAX: usize = 200;

/// Largest serialized `custom` object, in bytes.
pub const CUSTOM_LEN_MAX: usize = 16 * 1024;

/// How stock of a product is picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExpiryPolicy {
    /// First in, first out.
    Fifo,
    /// First expired, first out.
    Fefo,
}

impl ExpiryPolicy {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryPolicy::Fifo => "fifo",
            ExpiryPolicy::Fefo => "fefo",
        }
    }
}

impl TryFrom<String> for ExpiryPolicy {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "fifo" => Ok(ExpiryPolicy::Fifo),
            "fefo" => Ok(ExpiryPolicy::Fefo),
            _ => Err(s),
        }
    }
}

/// A product as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Product {
    pub id: Uuid,
    /// Unique in the tenant; letters, digits, `- _ . /`, upper case, at most 64.
    pub sku: String,
    pub name: String,
    /// The base unit every quantity counts in (`pcs`, `g`, `ml`, …).
    pub uom: String,
    pub lot_tracked: bool,
    #[sqlx(try_from = "String")]
    pub expiry_policy: ExpiryPolicy,
    pub reorder_point: i64,
    pub reorder_qty: i64,
    /// Exact decimal as a string, at least two decimals (`"12.50"`).
    #[schema(value_type = Option<String>, example = "12.50")]
    pub cost: Option<Decimal>,
    /// Exact decimal as a string, at least two decimals (`"19.90"`).
    #[schema(value_type = Option<String>, example = "19.90")]
    pub price: Option<Decimal>,
    /// Custom fields, valid against the tenant's product field schema.
    #[schema(value_type = Object)]
    pub custom: serde_json::Value,
    /// Every barcode of the product (each unique in the tenant), sorted.
    pub barcodes: Vec<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A SKU as `logiflow_core::Sku` parses and normalizes it.
pub fn parse_sku(raw: &str) -> ApiResult<String> {
    Sku::parse(raw)
        .map(String::from)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// A unit of measure, trimmed: 1 to [`UOM_LEN_MAX`] characters without spaces.
pub fn validate_uom(uom: &str) -> ApiResult<String> {
    let uom = uom.trim();
    if uom.is_empty() || uom.chars().count() > UOM_LEN_MAX || uom.chars().any(char::is_whitespace) {
        return Err(ApiError::BadRequest(format!(
            "uom must have 1 to {UOM_LEN_MAX} characters without spaces"
        )));
    }
    Ok(uom.to_owned())
}

/// A reorder point or quantity: 0 to `logiflow_core::qty::QTY_MAX`.
pub fn validate_reorder(field: &str, v: i64) -> ApiResult<i64> {
    if !(0..=logiflow_core::qty::QTY_MAX).contains(&v) {
        return Err(ApiError::BadRequest(format!(
            "{field} must be between 0 and {}",
            logiflow_core::qty::QTY_MAX
        )));
    }
    Ok(v)
}

/// A cost or price, normalized: zero or more, at most [`MONEY_MAX`], with at most
/// [`MONEY_SCALE_MAX`] decimals.
pub fn validate_money(field: &str, v: Option<Decimal>) -> ApiResult<Option<Decimal>> {
    let Some(v) = v else { return Ok(None) };
    let v = v.normalize();
    if v.is_sign_negative() && !v.is_zero() {
        return Err(ApiError::BadRequest(format!(
            "{field} must not be negative"
        )));
    }
    if v.scale() > MONEY_SCALE_MAX {
        return Err(ApiError::BadRequest(format!(
            "{field} has at most {MONEY_SCALE_MAX} decimals"
        )));
    }
    if v > Decimal::from(MONEY_MAX) {
        return Err(ApiError::BadRequest(format!(
            "{field} must be at most {MONEY_MAX}"
        )));
    }
    Ok(Some(v))
}

/// A product's barcodes, each checked by `logiflow_core::Barcode`, at most
/// [`BARCODES_PER_PRODUCT_MAX`]; sorted, duplicates removed.
pub fn parse_barcodes(raw: &[String]) -> ApiResult<Vec<String>> {
    if raw.len() > BARCODES_PER_PRODUCT_MAX {
        return Err(ApiError::BadRequest(format!(
            "a product has at most {BARCODES_PER_PRODUCT_MAX} barcodes"
        )));
    }
    let mut out: Vec<String> = raw
        .iter()
        .map(|b| {
            Barcode::parse(b)
                .map(String::from)
                .map_err(|e| ApiError::BadRequest(e.to_string()))
        })
        .collect::<ApiResult<_>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}
