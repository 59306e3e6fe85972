//! The server's API tests: one binary (compiled once), one fresh database per test.
//!
//! Run with `cargo xtask test`, or export `DATABASE_URL` as a superuser URL.

mod helpers;
mod inventory;

mod alerts;
mod api_keys;
mod audit;
mod auth;
mod catalog_locations;
mod catalog_lots;
mod catalog_products;
mod catalog_warehouses;
mod cli;
mod concurrency;
mod cross_tenant;
mod demo;
mod device_session;
mod docs;
mod events;
mod fuzz;
mod imports;
mod imports_locations;
mod imports_orders;
mod imports_records;
mod imports_stock;
mod movement_plans;
mod movement_sessions;
mod movements;
mod ops;
mod purchase_orders;
mod sales_order_races;
mod sales_orders;
mod settings;
mod stock;
mod stock_races;
mod sync_clock;
mod sync_convergence;
mod sync_lots;
mod sync_pull;
mod sync_push;
mod sync_races;
mod tenancy;
mod users;
mod webhooks;
