//! HTTP resources, one module each with its own `router()`.

pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod bounds;
pub mod devices;
pub mod exports;
pub mod imports;
pub mod locations;
pub mod lots;
pub mod movements;
pub mod ops;
pub mod parties;
pub mod problems;
pub mod products;
pub mod purchase_orders;
pub mod sales_orders;
pub mod settings;
pub mod stock;
pub mod sync;
pub mod users;
pub mod warehouses;
pub mod webhooks;
