//! The projection: last pulled server state + unsettled journal entries, replayed in
//! `device_seq` order by the core's rules (DESIGN §5.1).
//!
//! This is the server's replay loop in miniature, run over the replica's copy:
//!
//! * The **base** is the pulled rows and the pulled ledger effects of the rows the
//!   journal touches. `effects_after` for a journal entry at `t` is the sum of the pulled
//!   effects after `t` *plus* the effects this projection already applied after `t`. For
//!   entries recorded on this device after the last pull the pulled part is zero in
//!   practice (the server has nothing later than "now"), but after a later pull it is not:
//!   another device's shipment at `t9`, pulled before our count at `t5` is pushed, must be
//!   subtracted from the count's `q_t` exactly as the server will. That is why the
//!   replica keeps the recent pulled ledger instead of assuming zero.
//! * An entry the server already **applied** (known from a push response) but that no
//!   pull has reflected yet contributes the server's own effects verbatim: the server
//!   knew more than we do.
//! * An entry never pushed, or **held** on the server, is decided again locally with
//!   [`logiflow_core::decide`] as a journal fact. Held entries are kept and retried, oldest
//!   first, when a row they need rises or is counted ([`logiflow_core::retry_order`] and
//!   [`logiflow_core::Decision::wakes`]), until nothing moves — as on the server.
//!   An entry the server holds stays in the projection even after a pull carried that
//!   outcome: the pulled rows hold nothing of it, and a later entry of this journal (a
//!   count of its bin) may release or absorb it here before the server sees that entry.
//! * Entries rejected, absorbed or superseded by the server have no effect and are left
//!   out; so are applied entries whose outcome a pull has carried (`settled`), since the
//!   pulled rows already include them.
//! * The server's bound on the clock (`logiflow_core::clock`) is predicted too: an entry
//!   never pushed is judged as received at `received_at`, the replica's estimate of the
//!   server's time now (its clock corrected by the measured offset, never before the last
//!   server time it saw), with the default tolerance; one dated beyond it is projected
//!   held `clock_ahead`, with no effect. An entry the server holds for a person (clock
//!   ahead, revoked device) stays held without effect and is never retried here either,
//!   exactly as on the server. An entry forced at its receipt time (flag `redated`)
//!   takes effect at that time, not at the date this journal keeps.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use logiflow_core::{
    DecideError, Decision, Effect, Engine, Flag, Hold, Movement, MovementId, OrderKey, Origin,
    Outcome, Receipt, StockKey, StockRow,
};

/// What the replica knows of an unsettled entry's fate on the server.
#[derive(Debug, Clone)]
pub(crate) enum Known {
    /// Not pushed yet.
    Unpushed,
    /// Pushed and held, for this reason.
    Held(Hold),
    /// Pushed and applied with these effects.
    Applied(Vec<Effect>),
}

/// An unsettled journal entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub movement: Movement,
    pub known: Known,
}

/// The projected rows and the predicted fate of each entry.
#[derive(Debug, Default)]
pub(crate) struct Projection {
    /// Projected state of every row the entries touch.
    pub rows: BTreeMap<StockKey, StockRow>,
    /// The pulled state of the same rows, to show what is still pending.
    pub pulled: BTreeMap<StockKey, StockRow>,
    /// Per entry: the outcome as projected and the flags raised.
    pub predicted: HashMap<MovementId, (Outcome, Vec<Flag>)>,
}

/// Replays `entries` (in `device_seq` order) over the pulled `rows` and `ledger` of the
/// rows they touch, with the core's [`Engine`]; entries never pushed are judged as
/// received by the server at `received_at`.
pub(crate) fn project(
    rows: BTreeMap<StockKey, StockRow>,
    ledger: BTreeMap<StockKey, Vec<(OrderKey, i64)>>,
    entries: &[Entry],
    received_at: DateTime<Utc>,
) -> Result<Projection, DecideError> {
    let receipt = Receipt::at(received_at);
    let mut engine = Engine::new();
    for (key, row) in &rows {
        engine.set_row(*key, *row);
    }
    for (key, effects) in ledger {
        for (order, delta) in effects {
            engine.book(key, order, delta);
        }
    }
    let mut predicted = HashMap::new();
    let note = |predicted: &mut HashMap<_, _>, decisions: Vec<(Movement, Decision)>| {
        for (m, d) in decisions {
            predicted.insert(m.id, (d.outcome, d.flags));
        }
    };
    for entry in entries {
        let m = &entry.movement;
        match &entry.known {
            Known::Applied(effects) => {
                predicted.insert(
                    m.id,
                    (
                        Outcome::Applied {
                            effects: effects.clone(),
                        },
                        Vec::new(),
                    ),
                );
                note(&mut predicted, engine.apply_effects(m, effects)?);
            }
            Known::Unpushed => note(&mut predicted, engine.submit_bounded(m, &receipt)?),
            // A person decides it: no effect until then, and no retry.
            Known::Held(hold) if !hold.is_retryable() => {
                predicted.insert(m.id, (Outcome::Held(*hold), Vec::new()));
            }
            Known::Held(_) => note(&mut predicted, engine.submit(m, Origin::Journal)?),
        }
    }
    Ok(Projection {
        rows: engine.rows().clone(),
        pulled: rows,
        predicted,
    })
}
