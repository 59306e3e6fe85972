//! Stock rows as read: one row, totals per product, and products below their reorder point.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One stock row: a product in a bin (and lot).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct StockItem {
    pub product_id: Uuid,
    pub sku: String,
    pub product_name: String,
    pub warehouse_id: Uuid,
    pub location_id: Uuid,
    /// The bin's full path, e.g. `A/03/B2`.
    pub location_path: String,
    pub lot_id: Option<Uuid>,
    pub lot_code: Option<String>,
    pub expires_on: Option<NaiveDate>,
    /// May be below zero for a while after offline work (flagged, never clamped).
    pub on_hand: i64,
    /// Reserved by sales orders.
    pub allocated: i64,
    /// `on_hand − allocated`.
    pub available: i64,
    /// The time of the latest count applied to the row.
    pub last_count_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A product's total stock in a warehouse, or over all warehouses.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct StockTotal {
    pub product_id: Uuid,
    pub sku: String,
    pub product_name: String,
    /// Absent for totals over all warehouses (`group_by=product`).
    pub warehouse_id: Option<Uuid>,
    pub on_hand: i64,
    pub allocated: i64,
    pub available: i64,
    pub reorder_point: i64,
}

/// A product whose available stock in a warehouse is below its reorder point.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct LowStock {
    pub warehouse_id: Uuid,
    pub warehouse_code: String,
    pub product_id: Uuid,
    pub sku: String,
    pub product_name: String,
    pub reorder_point: i64,
    /// What to order by default (the product's reorder quantity).
    pub reorder_qty: i64,
    pub on_hand: i64,
    pub allocated: i64,
    pub available: i64,
    /// `reorder_point − available`: how far below the point the warehouse is.
    pub shortfall: i64,
}
