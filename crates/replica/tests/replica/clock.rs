//! Issue #18 on the device: the replica notices its own clock jumping and refuses to
//! record until a person sets it right, syncs or confirms it; a movement the server holds
//! because the clock ran ahead stays held in the projection, with no effect.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use logiflow_core::{Hold, HoldReview, MovementResult, Outcome, PullPage, PushResponse, StockKey};
use logiflow_replica::{Env, Error, Op, Replica, TestEnv, Uptime};

use crate::fixture::*;

/// The test clock, kept by the test so it can set the wall clock by hand.
#[derive(Debug)]
struct Clock(Arc<TestEnv>);

impl Env for Clock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
    fn random(&self) -> [u8; 10] {
        self.0.random()
    }
    fn peek(&self) -> DateTime<Utc> {
        self.0.peek()
    }
    fn uptime(&self) -> Option<Uptime> {
        self.0.uptime()
    }
}

const DAY_MS: i64 = 86_400_000;

fn setup(dir: &tempfile::TempDir) -> (Arc<TestEnv>, Replica) {
    let env = Arc::new(TestEnv::new(START_MS, 1_000));
    let mut r =
        Replica::open_with_env(dir.path().join("r.db"), Box::new(Clock(env.clone()))).unwrap();
    r.init_device(tenant(), user(), "https://logiflow.example", None)
        .unwrap();
    // The server's time is the true time: the offset is about 0.
    r.apply_pull(&catalog_page()).unwrap();
    (env, r)
}

fn receive(qty: i64) -> logiflow_replica::Action {
    action(
        "BOLT-10",
        Op::Receive {
            to: "A-01".into(),
            qty,
        },
    )
}

/// A page with nothing but the server's time (true time, as the test clock keeps it).
fn page_at(env: &TestEnv, cursor: &str) -> PullPage {
    empty_page_at(
        cursor,
        env.peek() - TimeDelta::milliseconds(current_skew(env)),
    )
}

/// How far the wall clock was set from the true time: the difference between the
/// clock and the uptime's account of the time since the start.
fn current_skew(env: &TestEnv) -> i64 {
    let true_ms = START_MS as i64 + env.uptime().unwrap().ms;
    env.peek().timestamp_millis() - true_ms
}

#[test]
fn a_clock_that_jumps_is_caught_before_anything_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (env, mut r) = setup(&dir);
    assert!(r.check_clock().unwrap().is_none());
    r.record(&receive(5)).unwrap();
    assert_eq!(on_hand(&r, bolt(), a01()), 15);

    // Someone sets the clock 3 days ahead: nothing is recorded, and the error says why.
    env.set_clock_ms(3 * DAY_MS);
    let err = r.record(&receive(7)).unwrap_err();
    assert_eq!(err.code(), "clock_jumped");
    assert!(err.is_user_error());
    assert!(err.to_string().contains("3 days ahead"), "{err}");
    assert!(err.to_string().contains("logiflow clock accept"), "{err}");
    assert!(matches!(err, Error::ClockJumped(_)));
    assert_eq!(r.status().unwrap().last_seq, 1);
    let jump = r.check_clock().unwrap().expect("the check sees it too");
    assert_eq!(jump.off_by_secs() / 86_400, 3);
    // A count is refused the same way, whole.
    let count = logiflow_replica::CountSubmission {
        warehouse: None,
        lines: vec![logiflow_replica::CountLine {
            bin: "A-01".into(),
            item: logiflow_replica::ItemRef::Sku("BOLT-10".into()),
            lot: None,
            counted: 15,
            expected: None,
        }],
    };
    assert_eq!(r.record_count(&count).unwrap_err().code(), "clock_jumped");
    assert_eq!(r.status().unwrap().last_seq, 1);

    // The person confirms the clock: it records with it (never re-dated), and the
    // projection, which trusts the confirmed clock, applies it.
    let confirmed = r.accept_clock().unwrap();
    assert!(confirmed.timestamp_millis() - START_MS as i64 > 3 * DAY_MS - 60_000);
    let ahead = r.record(&receive(7)).unwrap();
    assert!(ahead.movement.occurred_at >= confirmed);
    assert_eq!(on_hand(&r, bolt(), a01()), 22);

    // The next contact with the server measures the true time again: the entry, dated
    // 3 days after it, is projected as the server will decide it — held for a person,
    // no effect — and the clock check passes (the offset corrects the wrong clock).
    r.apply_pull(&page_at(&env, "c2")).unwrap();
    assert!(r.check_clock().unwrap().is_none());
    assert_eq!(on_hand(&r, bolt(), a01()), 15);
    let journal = r.recent(10).unwrap();
    let kept = journal.iter().find(|e| e.id == ahead.movement.id).unwrap();
    assert_eq!(
        kept.occurred_at, ahead.movement.occurred_at,
        "never re-dated"
    );
    // New entries carry the corrected clock again.
    let fixed = r.record(&receive(1)).unwrap();
    assert!(fixed.movement.occurred_at < ahead.movement.occurred_at);
    assert_eq!(on_hand(&r, bolt(), a01()), 16);

    // Set back 2 days now: refused again, the other way.
    env.set_clock_ms(-2 * DAY_MS);
    let err = r.record(&receive(1)).unwrap_err();
    assert!(err.to_string().contains("days behind"), "{err}");
}

#[test]
fn a_hold_for_a_clock_ahead_stays_held_in_the_projection() {
    let dir = tempfile::tempdir().unwrap();
    let (_env, mut r) = setup(&dir);
    let recorded = r.record(&receive(7)).unwrap();
    let count = r
        .record(&action(
            "BOLT-10",
            Op::Count {
                at: "A-01".into(),
                counted: 17,
                expected: None,
            },
        ))
        .unwrap();
    assert_eq!(on_hand(&r, bolt(), a01()), 17);
    // The server held both for the device's clock (as if it had run ahead).
    let key = StockKey {
        product: bolt(),
        location: a01(),
        lot: None,
    };
    let held = |m: &logiflow_core::Movement| MovementResult {
        movement: m.id,
        seq: m.device.unwrap().seq,
        outcome: Outcome::Held(Hold {
            waiting_on: key,
            needed: 0,
            at_time: 0,
            review: Some(HoldReview::ClockAhead {
                received_at: time(START_MS),
                ahead_secs: 3 * 86_400,
            }),
        }),
        flags: vec![],
        position: None,
    };
    r.mark_pushed(&PushResponse {
        results: vec![held(&recorded.movement), held(&count.movement)],
        next_seq: 3,
        server_time: time(START_MS + 10_000),
    })
    .unwrap();
    // Neither takes effect; the count does not release or absorb anything either.
    assert_eq!(on_hand(&r, bolt(), a01()), 10);
    let conflicts = r.conflicts().unwrap();
    assert_eq!(conflicts.len(), 2);
}
