//! The library API over a real SQLite file in a temporary directory, by topic.

use logiflow_core::{Cursor, PullPage};
use logiflow_replica::Error;
use tempfile::TempDir;

use crate::fixture::*;

mod pull_push;
mod record;
mod storage;

fn temp() -> (TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica.db");
    (dir, path)
}

fn code_of(e: Error) -> &'static str {
    e.code()
}

fn empty_page() -> PullPage {
    PullPage {
        cursor: Cursor::new("c1"),
        has_more: false,
        server_time: time(START_MS),
        warehouses: vec![],
        locations: vec![],
        products: vec![],
        lots: vec![],
        deleted_locations: vec![],
        rows: vec![],
        effects: vec![],
        outcomes: vec![],
        snapshot: None,
    }
}
