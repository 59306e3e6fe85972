//! The library API over a real SQLite file in a temporary directory, by topic.

use logiflow_core::PullPage;
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
    empty_page_at("c1", time(START_MS))
}
