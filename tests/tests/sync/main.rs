//! The replica's sync client against the real server (issue #5, points 2 to 4): replicas in temp
//! dirs, the server on loopback against a fresh test database (`DATABASE_URL`, as
//! `cargo xtask test` sets it), the `logiflow` CLI as a child process, and faults: a TCP
//! proxy that cuts connections, and a sync killed with SIGKILL mid-push and mid-pull;
//! the conflict inbox resolved from a device, and signing a device out; signing in on a
//! device again after its session ended, and a revoked device's journal exported and
//! uploaded (issue #19); the server killed while webhook deliveries are in flight
//! (issue #17); the alerts of a device's bell (`alerts.rs`); the Back office through the
//! device's session (`backoffice.rs`, issue #16); the low-stock rule, the same on both
//! sides (`low_stock.rs`, issue #14); lots received offline (`lots.rs`, issue #15).

mod alerts;
mod backoffice;
mod cli;
mod faults;
mod flows;
mod history;
mod lots;
mod low_stock;
mod orders;
mod reattach;
mod resolve;
mod webhooks;
// Helpers shared by the files above; not every file uses each one.
#[allow(dead_code)]
mod harness;
