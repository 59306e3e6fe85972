//! The one writer of decided movements, shared by every path that decides them: the
//! online group commit (`crate::group_commit`), the journal push, a forced, voided or
//! retried held movement (`crate::journal`).
//!
//! [`write()`] takes everything a decision changed and writes it in **one statement**
//! (data-modifying CTEs, one snapshot, one round trip): the stock rows as the engine left
//! them, the new movements, the outcomes of held movements decided again, the ledger
//! effects of applied ones, one outbox event each (while the tenant has an active webhook
//! endpoint: nothing else reads an event), the online movements' audit entries
//! and idempotency records, and the pushing device's next sequence number. The parts
//! only some writes have are left out when they have nothing to write (a statement per
//! shape, [`write()`]); the others bind empty arrays and write nothing.
//!
//! A held movement decided again is written only if it is still held (an outcome never
//! goes back from applied, absorbed or voided): every path decides it under the locks
//! of its rows, so anything else means the decision was made on stale state, and
//! [`Written::stale`] tells the caller to roll back.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use logiflow_core::{
    Decision, Effect, Flag, LineRef, Movement, OrderKey, Origin, Outcome, StockKey, StockRow,
};
use uuid::Uuid;

use crate::db::TenantTx;
use crate::stock::movement::outcome_detail;
use crate::store::movements::{kind_columns, lot_column};

/// A movement written for the first time.
#[derive(Debug)]
pub struct NewMovement<'a> {
    pub movement: &'a Movement,
    pub decision: &'a Decision,
    pub origin: Origin,
    /// The user it is booked to.
    pub user_id: Uuid,
    pub note: Option<&'a str>,
    /// When the server recorded it; `None`: the transaction's time.
    pub recorded_at: Option<DateTime<Utc>>,
}

/// A stored held movement decided again (retried, forced or voided).
#[derive(Debug)]
pub struct Redecided<'a> {
    /// As it takes effect (a forced movement may take effect at its receipt time).
    pub movement: &'a Movement,
    pub decision: &'a Decision,
}

/// An outbox event, delivered to other systems after the commit.
#[derive(Debug)]
pub struct Event {
    pub topic: &'static str,
    pub payload: serde_json::Value,
}

impl Event {
    /// `movement.decided`: what became of a journal movement (or of a held one decided
    /// again), for the systems that follow the devices' work.
    pub fn decided(m: &Movement, d: &Decision) -> Self {
        Self {
            topic: "movement.decided",
            payload: serde_json::json!({
                "movement_id": m.id,
                "device_id": m.device.map(|s| s.device),
                "device_seq": m.device.map(|s| s.seq),
                "outcome": &d.outcome,
                "flags": &d.flags,
            }),
        }
    }
}

/// The audit entry of an online movement (`movement.create`), its `after` the
/// movement as the API answered it: the payload of one of [`Writes::events`], sent once.
#[derive(Debug)]
pub struct Created<'a> {
    pub movement: Uuid,
    pub actor_type: &'a str,
    pub actor_id: Uuid,
    /// A person's session: when it is a device's, the entry names the device.
    pub session_id: Option<Uuid>,
    pub request_id: Option<&'a str>,
    /// The position in [`Writes::events`] of the event whose payload is the `after`.
    pub after_event: usize,
}

/// An `Idempotency-Key` and the answer a retry with it gets: the payload of one of
/// [`Writes::events`], sent once.
#[derive(Debug)]
pub struct Idempotent<'a> {
    pub key: &'a str,
    pub hash: &'a [u8],
    /// The position in [`Writes::events`] of the event whose payload is the answer.
    pub response_event: usize,
}

/// Everything one decision under lock writes.
#[derive(Debug, Default)]
pub struct Writes<'a> {
    /// Changed rows: key, new state, latest booked effect (`ledger::load::changed_rows`).
    pub rows: &'a [(StockKey, StockRow, Option<OrderKey>)],
    /// How picks moved rows' `allocated` (`Engine::allocation_changes`): applied to
    /// those among `rows` here, to the others by [`allocations`].
    pub allocated: &'a [(StockKey, i64)],
    pub new: Vec<NewMovement<'a>>,
    pub redecided: Vec<Redecided<'a>>,
    pub events: Vec<Event>,
    pub audit: Vec<Created<'a>>,
    pub idempotency: Vec<Idempotent<'a>>,
    /// The pushing device and its next expected `device_seq`.
    pub device: Option<(Uuid, i64)>,
    /// Products to answer about: which of them have held movements (as before this
    /// statement), so the caller knows whether to retry them.
    pub held_of: Vec<Uuid>,
}

/// What [`write()`] reports.
#[derive(Debug)]
#[must_use = "a stale decision must roll the transaction back"]
pub struct Written {
    /// How many movements decided again were no longer held (and so not written):
    /// anything but 0 means the decisions were made on stale state.
    pub stale: u64,
    /// The products of [`Writes::held_of`] that have held movements.
    pub held_products: Vec<Uuid>,
}

/// The one statement: rows ($2–$9 and $63, how picks moved their `allocated`), new
/// movements ($10–$32), outcomes decided again
/// ($33–$39), effects ($40–$46), outbox events ($47–$49), audit entries ($50–$56),
/// idempotency records ($57–$59), the device ($60–$61), the products to answer
/// about ($62) and the `count.variance` alerts ($64–$65), each with its outbox event.
/// Answers the stale count and the products with held movements.
///
/// The CTEs only some writes need (decided again, idempotency records, the device, count
/// variances, products to answer about) are left out of a write that has none: a
/// data-modifying CTE given empty arrays still costs its executor start-up (opening its
/// table and indexes), and the online group commit needs none of them. Each of the 32
/// shapes is its own statement, built once ([`WRITE_SQL`]).
static WRITE_SQL: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    (0..Shape::COUNT)
        .map(|i| Shape::from_index(i).sql())
        .collect()
});

/// Which optional parts a write has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    redecided: bool,
    idempotency: bool,
    device: bool,
    variances: bool,
    held_of: bool,
}

impl Shape {
    const COUNT: usize = 32;

    fn index(self) -> usize {
        usize::from(self.redecided)
            | usize::from(self.idempotency) << 1
            | usize::from(self.device) << 2
            | usize::from(self.variances) << 3
            | usize::from(self.held_of) << 4
    }

    fn from_index(i: usize) -> Self {
        Self {
            redecided: i & 1 != 0,
            idempotency: i & 2 != 0,
            device: i & 4 != 0,
            variances: i & 8 != 0,
            held_of: i & 16 != 0,
        }
    }

    /// The statement of this shape. (Data-modifying CTEs run to completion whether
    /// read or not.)
    fn sql(self) -> String {
        let mut ctes = vec![("upd", SQL_UPD), ("mov", SQL_MOV)];
        if self.redecided {
            ctes.push(("chg", SQL_CHG));
        }
        ctes.extend([
            ("eff", SQL_EFF),
            ("outbox", SQL_OUTBOX),
            ("audit", SQL_AUDIT),
        ]);
        if self.idempotency {
            ctes.push(("idem", SQL_IDEM));
        }
        if self.device {
            ctes.push(("dev", SQL_DEV));
        }
        if self.variances {
            ctes.push(("variance", SQL_VARIANCE));
            ctes.push(("variance_events", SQL_VARIANCE_EVENTS));
        }
        let with: Vec<String> = ctes
            .iter()
            .map(|(name, body)| format!("{name} as ({body})"))
            .collect();
        let stale = if self.redecided {
            "(select count(*) from chg)"
        } else {
            "0::bigint"
        };
        let held = if self.held_of {
            "array(select distinct h.product_id from movement h
                  where h.tenant_id = $1 and h.product_id = any($62) and h.outcome = 'held')"
        } else {
            "'{}'::uuid[]"
        };
        format!("with {} select {stale}, {held}", with.join(", "))
    }
}

const SQL_UPD: &str = "update stock_row s
     set on_hand = u.on_hand, allocated = s.allocated + u.allocated, last_count_at = u.count_at,
         last_count_id = u.count_id, last_effect_at = u.effect_at,
         last_effect_id = u.effect_id, updated_at = now()
     from unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::timestamptz[],
                 $7::uuid[], $8::timestamptz[], $9::uuid[], $63::bigint[])
          as u (product_id, location_id, lot_id, on_hand, count_at, count_id, effect_at, effect_id,
                allocated)
     where s.tenant_id = $1 and s.product_id = u.product_id
       and s.location_id = u.location_id and s.lot_id = u.lot_id
         returning 1";
const SQL_MOV: &str =
    "insert into movement (tenant_id, id, kind, origin, product_id, lot_id, from_location_id,
             to_location_id, qty, expected, reason, note, occurred_at, recorded_at, user_id,
             device_id, device_seq, reference_type, reference_id, outcome, outcome_detail, flags,
             wait_location_id, wait_lot_id)
         select $1, m.id, m.kind, m.origin, m.product_id, m.lot_id, m.from_id, m.to_id, m.qty,
                m.expected, m.reason, m.note, m.occurred_at, coalesce(m.recorded_at, now()),
                m.user_id, m.device_id, m.device_seq, m.reference_type, m.reference_id,
                m.outcome, m.detail, m.flags, m.wait_location_id, m.wait_lot_id
         from unnest($10::uuid[], $11::text[], $12::text[], $13::uuid[], $14::uuid[],
                     $15::uuid[], $16::uuid[], $17::bigint[], $18::bigint[], $19::text[],
                     $20::text[], $21::timestamptz[], $22::timestamptz[], $23::uuid[],
                     $24::uuid[], $25::bigint[], $26::text[], $27::uuid[], $28::text[],
                     $29::jsonb[], $30::jsonb[], $31::uuid[], $32::uuid[])
              as m (id, kind, origin, product_id, lot_id, from_id, to_id, qty, expected, reason,
                    note, occurred_at, recorded_at, user_id, device_id, device_seq,
                    reference_type, reference_id, outcome, detail, flags, wait_location_id,
                    wait_lot_id)
         returning 1";
const SQL_CHG: &str =
    "-- `xid` moves to this transaction: pulls see the outcome change. `occurred_at`
         -- is the time it took effect at: its own, except for a movement held because its
         -- device's clock ran ahead and forced at its receipt time (`core::clock`).
         update movement m set outcome = c.outcome, outcome_detail = c.detail, flags = c.flags,
                wait_location_id = c.wait_location_id, wait_lot_id = c.wait_lot_id,
                occurred_at = c.occurred_at, xid = pg_current_xact_id()
         from unnest($33::uuid[], $34::text[], $35::jsonb[], $36::jsonb[], $37::uuid[],
                     $38::uuid[], $39::timestamptz[])
              as c (id, outcome, detail, flags, wait_location_id, wait_lot_id, occurred_at)
         where m.tenant_id = $1 and m.id = c.id and m.outcome = 'held'
         returning 1";
const SQL_EFF: &str =
    "insert into movement_effect (tenant_id, product_id, location_id, lot_id, occurred_at,
             movement_id, delta, absorbed)
         select $1, e.product_id, e.location_id, e.lot_id, e.occurred_at, e.movement_id,
                e.delta, e.absorbed
         from unnest($40::uuid[], $41::uuid[], $42::uuid[], $43::timestamptz[], $44::uuid[],
                     $45::bigint[], $46::bool[])
              as e (product_id, location_id, lot_id, occurred_at, movement_id, delta, absorbed)
         returning 1";
const SQL_OUTBOX: &str = concat!(
    "-- Only while someone listens: an event no endpoint takes is never read (a
         -- delivery is what reads it), so it is not written, which spares each movement
         -- an insert and the worker's later delete (docs/benchmarks.md, issue #14).
         -- The payloads are still bound: the audit and idempotency records use them.
         insert into outbox_event (tenant_id, id, topic, payload)
         select $1, o.id, o.topic, o.payload
         from unnest($47::uuid[], $48::text[], $49::jsonb[]) as o (id, topic, payload)
         where ",
    crate::store::webhooks::any_active_endpoint!(),
    "
         returning 1"
);
const SQL_AUDIT: &str =
    "insert into audit_log (tenant_id, id, actor_type, actor_id, device_id, action,
             target_type, target_id, after, request_id)
         select $1, a.id, a.actor_type, a.actor_id,
                (select s.device_id from session s
                 where s.tenant_id = $1 and s.id = a.session_id),
                'movement.create', 'movement', a.movement_id::text, ($49::jsonb[])[a.ev],
                a.request_id
         from unnest($50::uuid[], $51::text[], $52::uuid[], $53::uuid[], $54::int4[],
                     $55::text[], $56::uuid[])
              as a (id, actor_type, actor_id, movement_id, ev, request_id, session_id)
         returning 1";
const SQL_IDEM: &str =
    "insert into idempotency_key (tenant_id, key, request_hash, status, response)
         select $1, k.key, k.hash, 201, ($49::jsonb[])[k.ev]
         from unnest($57::text[], $58::bytea[], $59::int4[]) as k (key, hash, ev)
         returning 1";
const SQL_DEV: &str = "update device set next_seq = $61, last_push_at = now()
         where tenant_id = $1 and id = $60
         returning 1";
const SQL_VARIANCE: &str =
    "-- `crate::alerts`: a count applied with a variance, raised resolved (a one-off).
         insert into alert (tenant_id, id, kind, subject, warehouse_id, payload, raised_at,
             resolved_at)
         select $1, v.id, 'count.variance', v.payload->>'movement_id', l.warehouse_id,
                v.payload || jsonb_build_object('alert_id', v.id, 'warehouse_id', l.warehouse_id,
                    'location_path', l.path, 'sku', p.sku, 'product_name', p.name),
                now(), now()
         from unnest($64::uuid[], $65::jsonb[]) as v (id, payload)
         join location l on l.tenant_id = $1 and l.id = (v.payload->>'location_id')::uuid
         join product p on p.tenant_id = $1 and p.id = (v.payload->>'product_id')::uuid
         returning id, payload";
const SQL_VARIANCE_EVENTS: &str = concat!(
    "insert into outbox_event (tenant_id, id, topic, payload)
         select $1, v.id, 'count.variance', v.payload from variance v
         where ",
    crate::store::webhooks::any_active_endpoint!(),
    "
         returning 1"
);

/// Rows to write (key, new state, latest effect) as arrays.
struct RowArrays {
    products: Vec<Uuid>,
    locations: Vec<Uuid>,
    lots: Vec<Uuid>,
    on_hand: Vec<i64>,
    allocated: Vec<i64>,
    count_at: Vec<Option<DateTime<Utc>>>,
    count_id: Vec<Option<Uuid>>,
    effect_at: Vec<Option<DateTime<Utc>>>,
    effect_id: Vec<Option<Uuid>>,
}

impl RowArrays {
    fn new(rows: &[(StockKey, StockRow, Option<OrderKey>)], allocated: &[(StockKey, i64)]) -> Self {
        // By row, once: a push of 1,000 picks has as many of each.
        let mut moved: HashMap<StockKey, i64> = HashMap::with_capacity(allocated.len());
        for (k, d) in allocated {
            *moved.entry(*k).or_default() += d;
        }
        Self {
            products: rows.iter().map(|r| r.0.product.as_uuid()).collect(),
            locations: rows.iter().map(|r| r.0.location.as_uuid()).collect(),
            lots: rows.iter().map(|r| lot_column(r.0.lot)).collect(),
            on_hand: rows.iter().map(|r| r.1.on_hand).collect(),
            allocated: rows
                .iter()
                .map(|r| moved.get(&r.0).copied().unwrap_or(0))
                .collect(),
            count_at: rows.iter().map(|r| r.1.last_count.map(|c| c.at)).collect(),
            count_id: rows
                .iter()
                .map(|r| r.1.last_count.map(|c| c.id.as_uuid()))
                .collect(),
            effect_at: rows.iter().map(|r| r.2.map(|c| c.at)).collect(),
            effect_id: rows.iter().map(|r| r.2.map(|c| c.id.as_uuid())).collect(),
        }
    }
}

/// The ledger effects of applied decisions (other outcomes have none), as arrays.
struct EffectArrays {
    products: Vec<Uuid>,
    locations: Vec<Uuid>,
    lots: Vec<Uuid>,
    occurred_at: Vec<DateTime<Utc>>,
    movements: Vec<Uuid>,
    deltas: Vec<i64>,
    absorbed: Vec<bool>,
}

impl EffectArrays {
    fn new<'a>(decided: impl IntoIterator<Item = (&'a Movement, &'a Decision)>) -> Self {
        let mut effects: Vec<(&Movement, Effect)> = Vec::new();
        for (m, d) in decided {
            if let Outcome::Applied { effects: es } = &d.outcome {
                effects.extend(es.iter().map(|e| (m, *e)));
            }
        }
        Self {
            products: effects.iter().map(|e| e.1.key.product.as_uuid()).collect(),
            locations: effects.iter().map(|e| e.1.key.location.as_uuid()).collect(),
            lots: effects.iter().map(|e| lot_column(e.1.key.lot)).collect(),
            occurred_at: effects.iter().map(|e| e.0.occurred_at).collect(),
            movements: effects.iter().map(|e| e.0.id.as_uuid()).collect(),
            deltas: effects.iter().map(|e| e.1.delta).collect(),
            absorbed: effects.iter().map(|e| e.1.absorbed).collect(),
        }
    }
}

/// The payloads of the `count.variance` alerts of applied counts flagged with a variance
/// (the statement adds the warehouse, the bin's path and the product's SKU and name).
fn count_variances<'a>(
    decided: impl IntoIterator<Item = (&'a Movement, &'a Decision)>,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (m, d) in decided {
        if !matches!(d.outcome, Outcome::Applied { .. }) {
            continue;
        }
        for f in &d.flags {
            if let Flag::CountVariance {
                key,
                expected,
                server_at_time,
            } = f
            {
                out.push(serde_json::json!({
                    "movement_id": m.id,
                    "product_id": key.product,
                    "location_id": key.location,
                    "lot_id": key.lot,
                    "counted": kind_columns(&m.kind).qty,
                    "expected": expected,
                    "server_at_time": server_at_time,
                    "device_id": m.device.map(|s| s.device),
                    "occurred_at": m.occurred_at,
                }));
            }
        }
    }
    out
}

/// The row a hold for stock waits on (see `movement_waiting_idx`); none otherwise.
fn waiting(d: &Decision) -> (Option<Uuid>, Option<Uuid>) {
    match &d.outcome {
        Outcome::Held(h) if h.is_retryable() => (
            Some(h.waiting_on.location.as_uuid()),
            Some(lot_column(h.waiting_on.lot)),
        ),
        _ => (None, None),
    }
}

fn flags(d: &Decision) -> serde_json::Value {
    serde_json::to_value(&d.flags).unwrap_or_default()
}

fn reference(m: &Movement) -> (Option<&'static str>, Option<Uuid>) {
    match m.reference {
        Some(LineRef::PurchaseLine(id)) => (Some("purchase_line"), Some(id)),
        Some(LineRef::SalesLine(id)) => (Some("sales_line"), Some(id)),
        None => (None, None),
    }
}

/// The SQL subscript (1-based) of an event's payload in the statement's array.
fn event_subscript(position: usize) -> i32 {
    i32::try_from(position + 1).unwrap_or(i32::MAX)
}

/// Writes `w` in one statement (see the module docs).
///
/// Longer than 80 lines: one SQL statement, bound parameter by parameter in the order of
/// its CTEs (about sixty binds).
pub async fn write(tx: &mut TenantTx, w: &Writes<'_>) -> Result<Written, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let r = RowArrays::new(w.rows, w.allocated);
    let new = &w.new;
    let cols: Vec<_> = new.iter().map(|n| kind_columns(&n.movement.kind)).collect();
    let e = EffectArrays::new(
        new.iter()
            .map(|n| (n.movement, n.decision))
            .chain(w.redecided.iter().map(|c| (c.movement, c.decision))),
    );
    let chg = &w.redecided;
    let variances = count_variances(
        new.iter()
            .map(|n| (n.movement, n.decision))
            .chain(chg.iter().map(|c| (c.movement, c.decision))),
    );
    let (device, next_seq) = w.device.unzip();
    let shape = Shape {
        redecided: !chg.is_empty(),
        idempotency: !w.idempotency.is_empty(),
        device: device.is_some(),
        variances: !variances.is_empty(),
        held_of: !w.held_of.is_empty(),
    };
    let (updated, held_products): (i64, Vec<Uuid>) = sqlx::query_as(&WRITE_SQL[shape.index()])
        .bind(tenant_id)
        .bind(r.products)
        .bind(r.locations)
        .bind(r.lots)
        .bind(r.on_hand)
        .bind(r.count_at)
        .bind(r.count_id)
        .bind(r.effect_at)
        .bind(r.effect_id)
        // $10–$32: new movements.
        .bind(
            new.iter()
                .map(|n| n.movement.id.as_uuid())
                .collect::<Vec<_>>(),
        )
        .bind(cols.iter().map(|c| c.kind).collect::<Vec<_>>())
        .bind(
            new.iter()
                .map(|n| n.origin.name().as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            new.iter()
                .map(|n| n.movement.product.as_uuid())
                .collect::<Vec<_>>(),
        )
        .bind(
            new.iter()
                .map(|n| n.movement.lot.map(|l| l.as_uuid()))
                .collect::<Vec<_>>(),
        )
        .bind(cols.iter().map(|c| c.from).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.to).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.qty).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.expected).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.reason).collect::<Vec<_>>())
        .bind(new.iter().map(|n| n.note).collect::<Vec<_>>())
        .bind(
            new.iter()
                .map(|n| n.movement.occurred_at)
                .collect::<Vec<_>>(),
        )
        .bind(new.iter().map(|n| n.recorded_at).collect::<Vec<_>>())
        .bind(new.iter().map(|n| n.user_id).collect::<Vec<_>>())
        .bind(
            new.iter()
                .map(|n| n.movement.device.map(|s| s.device.as_uuid()))
                .collect::<Vec<_>>(),
        )
        .bind(
            new.iter()
                .map(|n| {
                    n.movement
                        .device
                        .map(|s| i64::try_from(s.seq).unwrap_or(i64::MAX))
                })
                .collect::<Vec<_>>(),
        )
        .bind(
            new.iter()
                .map(|n| reference(n.movement).0)
                .collect::<Vec<_>>(),
        )
        .bind(
            new.iter()
                .map(|n| reference(n.movement).1)
                .collect::<Vec<_>>(),
        )
        .bind(
            new.iter()
                .map(|n| n.decision.outcome.name().as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            new.iter()
                .map(|n| outcome_detail(&n.decision.outcome))
                .collect::<Vec<_>>(),
        )
        .bind(new.iter().map(|n| flags(n.decision)).collect::<Vec<_>>())
        .bind(
            new.iter()
                .map(|n| waiting(n.decision).0)
                .collect::<Vec<_>>(),
        )
        .bind(
            new.iter()
                .map(|n| waiting(n.decision).1)
                .collect::<Vec<_>>(),
        )
        // $33–$39: outcomes decided again.
        .bind(
            chg.iter()
                .map(|c| c.movement.id.as_uuid())
                .collect::<Vec<_>>(),
        )
        .bind(
            chg.iter()
                .map(|c| c.decision.outcome.name().as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            chg.iter()
                .map(|c| outcome_detail(&c.decision.outcome))
                .collect::<Vec<_>>(),
        )
        .bind(chg.iter().map(|c| flags(c.decision)).collect::<Vec<_>>())
        .bind(
            chg.iter()
                .map(|c| waiting(c.decision).0)
                .collect::<Vec<_>>(),
        )
        .bind(
            chg.iter()
                .map(|c| waiting(c.decision).1)
                .collect::<Vec<_>>(),
        )
        .bind(
            chg.iter()
                .map(|c| c.movement.occurred_at)
                .collect::<Vec<_>>(),
        )
        // $40–$46: effects.
        .bind(e.products)
        .bind(e.locations)
        .bind(e.lots)
        .bind(e.occurred_at)
        .bind(e.movements)
        .bind(e.deltas)
        .bind(e.absorbed)
        // $47–$49: outbox events.
        .bind(w.events.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
        .bind(w.events.iter().map(|v| v.topic).collect::<Vec<_>>())
        .bind(w.events.iter().map(|v| &v.payload).collect::<Vec<_>>())
        // $50–$56: audit entries.
        .bind(w.audit.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
        .bind(w.audit.iter().map(|a| a.actor_type).collect::<Vec<_>>())
        .bind(w.audit.iter().map(|a| a.actor_id).collect::<Vec<_>>())
        .bind(w.audit.iter().map(|a| a.movement).collect::<Vec<_>>())
        .bind(
            w.audit
                .iter()
                .map(|a| event_subscript(a.after_event))
                .collect::<Vec<_>>(),
        )
        .bind(w.audit.iter().map(|a| a.request_id).collect::<Vec<_>>())
        .bind(w.audit.iter().map(|a| a.session_id).collect::<Vec<_>>())
        // $57–$59: idempotency records.
        .bind(w.idempotency.iter().map(|k| k.key).collect::<Vec<_>>())
        .bind(w.idempotency.iter().map(|k| k.hash).collect::<Vec<_>>())
        .bind(
            w.idempotency
                .iter()
                .map(|k| event_subscript(k.response_event))
                .collect::<Vec<_>>(),
        )
        // $60–$62.
        .bind(device)
        .bind(next_seq)
        .bind(&w.held_of)
        // $63: how picks moved the rows' `allocated` (after the rows).
        .bind(r.allocated)
        // $64–$65: count variances.
        .bind(variances.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
        .bind(variances)
        .fetch_one(tx.conn())
        .await?;
    let updated = u64::try_from(updated).unwrap_or(0);
    Ok(Written {
        stale: (chg.len() as u64).saturating_sub(updated),
        held_products,
    })
}

/// Writes what picks did to reservations ([`logiflow_core::Engine::allocation_changes`]):
/// each changed line's reservations set to what is left, and the `allocated` of a row
/// not among `written` (the rows [`write()`] updated, with their change of `allocated`,
/// [`Writes::allocated`]) moved by its change: a row a pick changed is then updated
/// once, not twice. Nothing to write (nearly every batch), no statement.
pub async fn allocations(
    tx: &mut TenantTx,
    changes: &logiflow_core::PickChanges<'_>,
    written: &[(StockKey, StockRow, Option<OrderKey>)],
) -> Result<(), sqlx::Error> {
    if changes.rows.is_empty() && changes.lines.is_empty() {
        return Ok(());
    }
    let written: HashSet<StockKey> = written.iter().map(|w| w.0).collect();
    let rows: Vec<(StockKey, i64)> = changes
        .rows
        .iter()
        .filter(|(k, _)| !written.contains(k))
        .copied()
        .collect();
    let lines: Vec<Uuid> = changes.lines.iter().map(|(id, _)| *id).collect();
    let left: Vec<(Uuid, StockKey, i64)> = changes
        .lines
        .iter()
        .flat_map(|(id, l)| l.allocations.iter().map(move |a| (*id, a.key, a.qty)))
        .collect();
    crate::store::sales_orders::write_allocations(tx, &rows, &lines, &left).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each of the 32 shapes has the CTEs and parameters of its parts, and no others
    /// (every shape runs against PostgreSQL in the API tests that write movements).
    #[test]
    fn a_write_leaves_out_exactly_the_parts_it_does_not_have() {
        for i in 0..Shape::COUNT {
            let shape = Shape::from_index(i);
            assert_eq!(shape.index(), i);
            let sql = &WRITE_SQL[i];
            for (has, needle) in [
                (shape.redecided, "chg as ("),
                (shape.redecided, "$33::uuid[]"),
                (shape.idempotency, "idem as ("),
                (shape.idempotency, "$57::text[]"),
                (shape.device, "dev as ("),
                (shape.device, "$60"),
                (shape.variances, "variance_events as ("),
                (shape.variances, "$64::uuid[]"),
                (shape.held_of, "any($62)"),
            ] {
                assert_eq!(sql.contains(needle), has, "shape {i}: {needle}");
            }
            for always in [
                "upd as (",
                "mov as (",
                "eff as (",
                "outbox as (",
                "audit as (",
            ] {
                assert!(sql.contains(always), "shape {i}: {always}");
            }
        }
    }
}
