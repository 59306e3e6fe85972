//! LogiFlow's central multi-tenant server (DESIGN §4): the HTTP platform (tenancy,
//! identity, RBAC, plans and quotas, audit, API conventions, operations) on PostgreSQL
//! with row-level security.

pub mod access;
pub mod admin;
pub mod alerts;
pub mod api_keys;
pub mod app;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod bulk;
pub mod catalog;
pub mod config;
pub mod db;
pub mod demo;
pub mod devices;
pub mod error;
pub mod extract;
pub mod group_commit;
pub mod hooks;
pub mod journal;
pub mod ledger;
pub mod limits;
pub mod orders;
pub mod pull;
pub mod quota;
pub mod rbac;
pub mod routes;
pub mod settings;
pub mod state;
pub mod stock;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod users;
pub mod webhooks;
