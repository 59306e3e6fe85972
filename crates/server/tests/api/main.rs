//! The server's API tests: one binary (compiled once), one fresh database per test.
//!
//! Run with `cargo xtask test`, or export `DATABASE_URL` as a superuser URL.

mod helpers;

mod auth;

mod ops;

mod users;
