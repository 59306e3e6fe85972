//! The replica file itself: migrations, schema versions, the append-only journal in SQL,
//! reopening, threads and two writers on one file.

use logiflow_replica::{JournalFilter, Op, Replica, SCHEMA_VERSION, Search, StockQuery};

use crate::fixture::*;

use super::temp;

#[test]
fn migrations_apply_once_and_pragmas_are_set() {
    let (_dir, path) = temp();
    let r = open(&path);
    assert_eq!(r.status().unwrap().schema_version, SCHEMA_VERSION);
    drop(r);
    // Reopening applies nothing twice.
    let r = open(&path);
    assert_eq!(r.status().unwrap().schema_version, SCHEMA_VERSION);
    drop(r);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("pragma journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let tables: i64 = conn
        .query_row(
            "select count(*) from sqlite_master where type = 'table'
             and name in ('device', 'journal', 'stock_row', 'product', 'ledger_effect')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 5);
}

#[test]
fn a_database_from_a_newer_binary_is_refused() {
    let (_dir, path) = temp();
    drop(open(&path));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = Replica::open(&path).unwrap_err();
    assert_eq!(err.code(), "schema_too_new");
    assert!(!err.is_user_error());
}

#[test]
fn the_journal_is_append_only_in_sql() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    r.record(&action(
        "BOLT-10",
        Op::Receive {
            to: "A-02".into(),
            qty: 1,
        },
    ))
    .unwrap();
    drop(r);
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert!(conn.execute("delete from journal", []).is_err());
    assert!(
        conn.execute("update journal set movement = '{}'", [])
            .is_err()
    );
}

#[test]
fn init_is_required_and_happens_once() {
    let (_dir, path) = temp();
    let mut r = open(&path);
    r.apply_pull(&catalog_page()).unwrap();
    let err = r
        .record(&action(
            "BOLT-10",
            Op::Receive {
                to: "A-01".into(),
                qty: 1,
            },
        ))
        .unwrap_err();
    assert_eq!(err.code(), "not_initialized");
    r.init_device(tenant(), user(), "https://x", None).unwrap();
    let err = r
        .init_device(tenant(), user(), "https://x", None)
        .unwrap_err();
    assert_eq!(err.code(), "already_initialized");
}

#[test]
fn a_version_1_journal_survives_the_migration_that_allows_voided() {
    let (_dir, path) = temp();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!(
            "../../../../../migrations/replica/0001_init.sql"
        ))
        .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "insert into journal (device_seq, id, occurred_at_ns, recorded_at_ns, user_id, kind,
                 movement, status, outcome)
             values (1, 'm1', 5, 5, 'u', 'receive', '{}', 'pushed', 'held')",
            [],
        )
        .unwrap();
    }
    let r = open(&path);
    assert_eq!(r.status().unwrap().schema_version, SCHEMA_VERSION);
    drop(r);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let kept: (String, String) = conn
        .query_row(
            "select id, outcome from journal where device_seq = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kept, ("m1".into(), "held".into()));
    conn.execute(
        "update journal set outcome = 'voided' where device_seq = 1",
        [],
    )
    .unwrap();
    // The journal is still append-only and its movements immutable.
    assert!(conn.execute("delete from journal", []).is_err());
    assert!(
        conn.execute(
            "update journal set movement = '[]' where device_seq = 1",
            []
        )
        .is_err()
    );
    assert!(
        conn.execute(
            "update journal set outcome = 'lost' where device_seq = 1",
            []
        )
        .is_err()
    );
}

#[test]
fn a_version_3_replica_keeps_its_catalog_and_journal_through_the_search_index_migration() {
    // A movement as a replica records it, taken from a current one.
    let (_other_dir, other) = temp();
    let mut r = ready(&other);
    r.record(&action(
        "BOLT-10",
        Op::Receive {
            to: "A-01".into(),
            qty: 5,
        },
    ))
    .unwrap();
    let entry = r.journal(&JournalFilter::default()).unwrap().remove(0);
    drop(r);
    let movement = serde_json::to_string(&entry.movement).unwrap();

    let (_dir, path) = temp();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../../../../../migrations/replica/0001_init.sql"),
            include_str!("../../../../../migrations/replica/0002_sync_client.sql"),
            include_str!("../../../../../migrations/replica/0003_voided.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(&format!(
            "insert into warehouse values ('{wh}', 'W1', 'Main', 'UTC');
             insert into location values ('{a01}', '{wh}', 'A-01', null, 1, 1);
             insert into product values ('{bolt}', 'BOLT-10', 'Hex bolt M10', 'hex bolt m10', 0, 1);
             insert into barcode values ('4006381333931', '{bolt}');
             insert into stock_row (product_id, location_id, on_hand, allocated)
                 values ('{bolt}', '{a01}', 10, 0);",
            wh = wh(),
            a01 = a01(),
            bolt = bolt()
        ))
        .unwrap();
        conn.execute(
            "insert into journal (device_seq, id, occurred_at_ns, recorded_at_ns, user_id, kind,
                 movement)
             values (1, ?1, 5, 5, 'u', 'receive', ?2)",
            rusqlite::params![entry.id.to_string(), movement],
        )
        .unwrap();
    }
    let r = open(&path);
    assert_eq!(r.status().unwrap().schema_version, SCHEMA_VERSION);
    for search in [
        Search::Name("bolt m1".into()),
        Search::Barcode("4006381333931".into()),
        Search::SkuPrefix("BOLT".into()),
    ] {
        let lines = r
            .stock(&StockQuery {
                search: Some(search.clone()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(lines.len(), 1, "{search:?}");
        // The pending receipt, found through the new index, is in the projection.
        assert_eq!((lines[0].on_hand, lines[0].pending), (15, 5), "{search:?}");
    }
    drop(r);
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert!(
        conn.execute(
            "update journal set product_id = 'x' where device_seq = 1",
            []
        )
        .is_err(),
        "the entry's product is as immutable as its movement"
    );
}

#[test]
fn the_journal_survives_reopen() {
    let (_dir, path) = temp();
    let mut r = ready(&path);
    for q in 1..=4 {
        r.record(&action(
            "BOLT-10",
            Op::Receive {
                to: "B-01".into(),
                qty: q,
            },
        ))
        .unwrap();
    }
    let journal = r.journal(&JournalFilter::default()).unwrap();
    let stock = r.stock(&StockQuery::default()).unwrap();
    drop(r);
    let r = Replica::open(&path).unwrap();
    assert_eq!(r.journal(&JournalFilter::default()).unwrap(), journal);
    assert_eq!(r.stock(&StockQuery::default()).unwrap(), stock);
    assert_eq!(r.pending().unwrap().len(), 4);
    assert_eq!(r.device().unwrap().unwrap().user, user());
}

#[test]
fn the_replica_can_move_between_threads() {
    // The desktop shell keeps it in shared state behind a mutex.
    fn assert_send<T: Send>() {}
    assert_send::<Replica>();
}

#[test]
fn a_failing_migration_leaves_the_database_as_it_was() {
    let (_dir, path) = temp();
    // A table in the way makes the first migration fail half-way through its script.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("create table journal (x integer)")
        .unwrap();
    drop(conn);
    let err = Replica::open(&path).unwrap_err();
    assert_eq!(err.code(), "storage");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("pragma user_version", [], |r| r.get(0))
        .unwrap();
    let tables: i64 = conn
        .query_row(
            "select count(*) from sqlite_master where type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        (version, tables),
        (0, 1),
        "nothing of the migration remains"
    );
}

#[test]
fn two_writers_on_one_file_keep_device_seq_gap_free() {
    // The desktop app and a CLI may record on the same replica at once.
    let (_dir, path) = temp();
    drop(ready(&path));
    // The fixture's server time is a day in 2027, ahead of the real clock the writers
    // use: confirm the real clock, as a person would after the `clock_jumped` refusal.
    Replica::open_with_env(&path, Box::new(logiflow_replica::SystemEnv))
        .unwrap()
        .accept_clock()
        .unwrap();
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Real randomness: two test clocks would hand out the same id bits.
                let mut r =
                    Replica::open_with_env(&path, Box::new(logiflow_replica::SystemEnv)).unwrap();
                for _ in 0..25 {
                    r.record(&action(
                        "BOLT-10",
                        Op::Receive {
                            to: "A-02".into(),
                            qty: 1,
                        },
                    ))
                    .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let r = open(&path);
    let seqs: Vec<u64> = r
        .journal(&JournalFilter::default())
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    assert_eq!(on_hand(&r, bolt(), a02()), 50);
}
