//! Storage: every function takes a [`TenantTx`](crate::db::TenantTx), so each query runs
//! inside a transaction scoped to one tenant (row-level security applies) and a query
//! without a tenant cannot be written from the request path. Handlers in `routes` map
//! requests to these functions and their results to responses.

pub mod api_keys;
pub mod audit;
pub mod catalog_change;
pub mod devices;
pub mod idempotency;
pub mod journal;
pub mod journal_upload;
pub mod locations;
pub mod lots;
pub mod movements;
pub mod platform;
pub mod products;
pub mod pull;
pub mod sessions;
pub mod settings;
pub mod stock;
pub mod users;
pub mod warehouses;
pub mod webhooks;
