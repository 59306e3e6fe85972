//! A process killed with SIGKILL in the middle of recording loses nothing it committed,
//! and leaves the journal gap-free.
//!
//! The test re-runs its own test binary as a child, selecting only
//! [`crash_child_records_until_killed`] with `LOGIFLOW_CRASH_DB` set; the child records
//! movements in a loop and prints the `device_seq` of each one after its commit returns.
//! The parent kills it after a number of records and reopens the file.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use logiflow_replica::{JournalFilter, Op, Replica, SystemEnv};

use crate::fixture::*;

const CHILD_ENV: &str = "LOGIFLOW_CRASH_DB";
const RECORDS_BEFORE_KILL: u64 = 40;

/// The child's side. Without `LOGIFLOW_CRASH_DB` (a normal test run) it has nothing to
/// do and returns at once.
#[test]
fn crash_child_records_until_killed() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut r = Replica::open_with_env(&path, Box::new(SystemEnv)).unwrap();
    loop {
        let rec = r
            .record(&action(
                "BOLT-10",
                Op::Receive {
                    to: "A-02".into(),
                    qty: 1,
                },
            ))
            .unwrap();
        println!("committed {}", rec.seq);
    }
}

#[test]
fn a_killed_recorder_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica.db");
    drop(ready(&path));
    // The fixture's server time is a day in 2027, ahead of the real clock the child
    // uses: confirm the real clock, as a person would after the `clock_jumped` refusal.
    Replica::open_with_env(&path, Box::new(SystemEnv))
        .unwrap()
        .accept_clock()
        .unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::crash_child_records_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut last_reported = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(seq) = line.strip_prefix("committed ") {
            last_reported = seq.trim().parse().unwrap();
            if last_reported >= RECORDS_BEFORE_KILL {
                break;
            }
        }
    }
    // `Child::kill` sends SIGKILL on Unix: no destructor, no flush, no clean close.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(last_reported, RECORDS_BEFORE_KILL);

    let r = open(&path);
    let journal = r.journal(&JournalFilter::default()).unwrap();
    // Everything reported as committed is there; at most the record in flight when the
    // kill came was committed without being reported.
    let n = journal.len() as u64;
    assert!(n >= last_reported, "{n} entries, {last_reported} reported");
    assert!(
        n <= last_reported + 1,
        "{n} entries, {last_reported} reported"
    );
    let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>());
    assert_eq!(on_hand(&r, bolt(), a02()), n as i64);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("pragma integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
