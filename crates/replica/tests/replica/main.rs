//! Integration tests of the replica: the library API on real SQLite files, crash safety
//! with a killed child process, search on a large catalog, and the `logiflow` binary.
//! One test binary, so it compiles and links once.

mod cli;
mod clock;
mod count;
mod crash;
mod engine;
mod fixture;
mod kpi;
mod orders;
mod search;
mod sim;
