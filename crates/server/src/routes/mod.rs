//! HTTP resources, one module each with its own `router()`.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod devices;
pub mod movements;
pub mod ops;
pub mod settings;
pub mod stock;
pub mod sync;
pub mod users;
