//! SQL of the journal push: stored results of re-sent movements, the held movements a
//! batch may wake, the ledger tail its decisions need, and the set-based writes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use logiflow_core::{
    AdjustReason, Delta, DeviceId, DeviceStamp, Effect, Flag, Hold, LineRef, LocationId, LotId,
    Movement, MovementId, MovementKind, MovementResult, OrderKey, Outcome, PositiveQty, ProductId,
    Qty, Rejection, StockKey, UserId,
};
use uuid::Uuid;

use crate::db::TenantTx;
use crate::store::movements::{lot_column, lot_from_column};

/// A movement row as stored.
#[derive(Debug, sqlx::FromRow)]
pub struct MovementRow {
    pub id: Uuid,
    pub kind: String,
    pub product_id: Uuid,
    pub lot_id: Option<Uuid>,
    pub from_location_id: Option<Uuid>,
    pub to_location_id: Option<Uuid>,
    pub qty: i64,
    pub expected: Option<i64>,
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    pub device_seq: Option<i64>,
    pub reference_type: Option<String>,
    pub reference_id: Option<Uuid>,
    pub outcome: String,
    pub outcome_detail: Option<serde_json::Value>,
    pub flags: serde_json::Value,
    /// The transaction that last decided it (its ledger position once final).
    pub position: i64,
}

pub(crate) const ROW_COLUMNS: &str =
    "id, kind, product_id, lot_id, from_location_id, to_location_id, qty,
    expected, reason, occurred_at, user_id, device_id, device_seq, reference_type, reference_id,
    outcome, outcome_detail, flags, xid::text::bigint as position";

impl MovementRow {
    /// The movement as `core` knows it (None for a row the server could not have
    /// written: a kind without its location).
    pub fn to_core(&self) -> Option<Movement> {
        let loc = |l: Option<Uuid>| l.map(LocationId::from_uuid);
        let kind = match self.kind.as_str() {
            "receive" => MovementKind::Receive {
                to: loc(self.to_location_id)?,
                qty: PositiveQty::new(self.qty).ok()?,
            },
            "ship" => MovementKind::Ship {
                from: loc(self.from_location_id)?,
                qty: PositiveQty::new(self.qty).ok()?,
            },
            "transfer" => MovementKind::Transfer {
                from: loc(self.from_location_id)?,
                to: loc(self.to_location_id)?,
                qty: PositiveQty::new(self.qty).ok()?,
            },
            "adjust" => MovementKind::Adjust {
                at: loc(self.to_location_id)?,
                delta: Delta::new(self.qty).ok()?,
                reason: serde_json::from_value::<AdjustReason>(serde_json::Value::from(
                    self.reason.clone()?,
                ))
                .ok()?,
            },
            "count" => MovementKind::Count {
                at: loc(self.to_location_id)?,
                counted: Qty::new(self.qty).ok()?,
                expected: self.expected.and_then(|e| Qty::new(e).ok()),
            },
            _ => return None,
        };
        Some(Movement {
            id: MovementId::from_uuid(self.id),
            occurred_at: self.occurred_at,
            product: ProductId::from_uuid(self.product_id),
            lot: self.lot_id.map(LotId::from_uuid),
            kind,
            user: UserId::from_uuid(self.user_id),
            device: match (self.device_id, self.device_seq) {
                (Some(d), Some(s)) => Some(DeviceStamp {
                    device: DeviceId::from_uuid(d),
                    seq: u64::try_from(s).ok()?,
                }),
                _ => None,
            },
            reference: match (self.reference_type.as_deref(), self.reference_id) {
                (Some("purchase_line"), Some(id)) => Some(LineRef::PurchaseLine(id)),
                (Some("sales_line"), Some(id)) => Some(LineRef::SalesLine(id)),
                _ => None,
            },
        })
    }

    /// Why it is held, if it is.
    pub fn hold(&self) -> Option<Hold> {
        (self.outcome == "held")
            .then(|| serde_json::from_value(self.outcome_detail.clone()?).ok())
            .flatten()
    }

    /// The movement and the row it waits on, if it is held for stock (a hold for a
    /// person is never retried automatically).
    pub fn retryable(&self) -> Option<(Movement, StockKey)> {
        let hold = self.hold().filter(Hold::is_retryable)?;
        Some((self.to_core()?, hold.waiting_on))
    }

    /// Its stored result, with `effects` from the ledger.
    pub fn result(&self, effects: Vec<Effect>) -> MovementResult {
        let outcome = match self.outcome.as_str() {
            "applied" => Outcome::Applied { effects },
            "absorbed" => Outcome::Absorbed,
            "superseded" => Outcome::Superseded,
            "held" => self.hold().map_or(
                Outcome::Rejected(Rejection {
                    code: logiflow_core::RejectCode::UnknownProduct,
                    message: "unreadable hold".into(),
                }),
                Outcome::Held,
            ),
            _ => Outcome::Rejected(
                self.outcome_detail
                    .clone()
                    .and_then(|d| serde_json::from_value(d).ok())
                    .unwrap_or(Rejection {
                        code: logiflow_core::RejectCode::UnknownProduct,
                        message: "rejected".into(),
                    }),
            ),
        };
        let outcome = if self.outcome == "voided" {
            Outcome::Voided {
                reason: self
                    .outcome_detail
                    .as_ref()
                    .and_then(|d| d["reason"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            }
        } else {
            outcome
        };
        let last = matches!(self.outcome.as_str(), "applied" | "absorbed" | "superseded");
        MovementResult {
            movement: MovementId::from_uuid(self.id),
            seq: self
                .device_seq
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
            outcome,
            flags: serde_json::from_value::<Vec<Flag>>(self.flags.clone()).unwrap_or_default(),
            position: last.then(|| u64::try_from(self.position).unwrap_or(0)),
        }
    }
}

/// The effects of the given movements, by movement.
pub async fn effects_of(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Effect>>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let rows: Vec<(Uuid, Uuid, Uuid, Uuid, i64, bool)> = sqlx::query_as(
        "select movement_id, product_id, location_id, lot_id, delta, absorbed from movement_effect
         where tenant_id = $1 and movement_id = any($2)
         order by movement_id, product_id, location_id, lot_id",
    )
    .bind(tenant_id)
    .bind(ids)
    .fetch_all(tx.conn())
    .await?;
    let mut out: HashMap<Uuid, Vec<Effect>> = HashMap::new();
    for (m, product, location, lot, delta, absorbed) in rows {
        out.entry(m).or_default().push(Effect {
            key: StockKey {
                product: ProductId::from_uuid(product),
                location: LocationId::from_uuid(location),
                lot: lot_from_column(lot),
            },
            delta,
            absorbed,
        });
    }
    Ok(out)
}

/// One movement, as stored.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<MovementRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {ROW_COLUMNS} from movement where tenant_id = $1 and id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// One movement, locked (two resolutions of the same conflict run one after the other).
pub async fn get_for_update(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<Option<MovementRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {ROW_COLUMNS} from movement where tenant_id = $1 and id = $2 for update"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// The device's movements with `device_seq` in `from..=to`.
pub async fn by_seq(
    tx: &mut TenantTx,
    device: Uuid,
    from: i64,
    to: i64,
) -> Result<Vec<MovementRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {ROW_COLUMNS} from movement
         where tenant_id = $1 and device_id = $2 and device_seq between $3 and $4
         order by device_seq"
    ))
    .bind(tenant_id)
    .bind(device)
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await
}

/// The held movements of `products` (a held movement's rows all belong to its
/// product, so these are all a batch of those products can wake), oldest first.
pub async fn held_of(
    tx: &mut TenantTx,
    products: &[Uuid],
) -> Result<Vec<MovementRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    // movement_held_idx: a partial index of the few held movements.
    sqlx::query_as(&format!(
        "select {ROW_COLUMNS} from movement
         where tenant_id = $1 and outcome = 'held' and product_id = any($2)
         order by occurred_at, id"
    ))
    .bind(tenant_id)
    .bind(products)
    .fetch_all(tx.conn())
    .await
}

/// Which held movements of one row to read: those from `from` on (`None`: from the
/// oldest), oldest first, at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct HeldWindow {
    pub key: StockKey,
    pub from: Option<OrderKey>,
    pub limit: i64,
}

/// The held movements waiting on each window's row (for stock, not for a person), from
/// its `from` on, oldest first, at most its `limit`: one range of `movement_waiting_idx`
/// per row. Call it with the rows locked, so the list is current (whoever holds or
/// decides a movement that waits on a row holds that row's lock).
pub async fn held_waiting(
    tx: &mut TenantTx,
    windows: &[HeldWindow],
) -> Result<Vec<MovementRow>, sqlx::Error> {
    if windows.is_empty() {
        return Ok(Vec::new());
    }
    let tenant_id = tx.tenant_id().as_uuid();
    // `offset 0` keeps each lateral range a nested loop over the index (see LEDGER_TAIL_SQL).
    sqlx::query_as(&format!(
        "select m.* from unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::uuid[], $7::bigint[])
             as k (product_id, location_id, lot_id, from_at, from_id, lim)
         cross join lateral (
             select {ROW_COLUMNS} from movement
             where tenant_id = $1 and outcome = 'held' and wait_location_id is not null
               and product_id = k.product_id and wait_location_id = k.location_id
               and wait_lot_id = k.lot_id
               and (occurred_at, id) >= (coalesce(k.from_at, '-infinity'),
                                         coalesce(k.from_id, '00000000-0000-0000-0000-000000000000'))
             order by occurred_at, id
             limit k.lim offset 0) m"
    ))
    .bind(tenant_id)
    .bind(windows.iter().map(|w| w.key.product.as_uuid()).collect::<Vec<_>>())
    .bind(windows.iter().map(|w| w.key.location.as_uuid()).collect::<Vec<_>>())
    .bind(windows.iter().map(|w| lot_column(w.key.lot)).collect::<Vec<_>>())
    .bind(windows.iter().map(|w| w.from.map(|o| o.at)).collect::<Vec<_>>())
    .bind(windows.iter().map(|w| w.from.map(|o| o.id.as_uuid())).collect::<Vec<_>>())
    .bind(windows.iter().map(|w| w.limit).collect::<Vec<_>>())
    .fetch_all(tx.conn())
    .await
}

/// [`ledger_tail`]'s statement: $1 tenant, $2–$4 the rows' keys as arrays, $5–$6 the
/// order key after which effects are read.
///
/// One range read of the primary key (…, occurred_at, movement_id) per row, as a
/// nested loop over the keys. Written as a join, the planner (which guesses the size of
/// an `unnest` of several arrays) picks a sequential scan of the whole ledger and a
/// merge join for a batch of a thousand rows; `offset 0` keeps the lateral subquery from
/// being flattened into such a join. `movement_plans.rs` checks the plan.
pub const LEDGER_TAIL_SQL: &str =
    "select k.product_id, k.location_id, k.lot_id, e.occurred_at, e.movement_id, e.delta
     from unnest($2::uuid[], $3::uuid[], $4::uuid[]) as k (product_id, location_id, lot_id)
     cross join lateral (
         select e.occurred_at, e.movement_id, e.delta from movement_effect e
         where e.tenant_id = $1 and e.product_id = k.product_id
           and e.location_id = k.location_id and e.lot_id = k.lot_id
           and (e.occurred_at, e.movement_id) > ($5, $6)
           and not e.absorbed
         offset 0) e";

/// The applied effects on `keys` after `after` (exclusive): what the decisions of
/// movements later than `after` need to know of the rows' history.
pub async fn ledger_tail(
    tx: &mut TenantTx,
    keys: &[StockKey],
    after: OrderKey,
) -> Result<Vec<(StockKey, OrderKey, i64)>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let rows: Vec<(Uuid, Uuid, Uuid, DateTime<Utc>, Uuid, i64)> = sqlx::query_as(LEDGER_TAIL_SQL)
        .bind(tenant_id)
        .bind(keys.iter().map(|k| k.product.as_uuid()).collect::<Vec<_>>())
        .bind(
            keys.iter()
                .map(|k| k.location.as_uuid())
                .collect::<Vec<_>>(),
        )
        .bind(keys.iter().map(|k| lot_column(k.lot)).collect::<Vec<_>>())
        .bind(after.at)
        .bind(after.id.as_uuid())
        .fetch_all(tx.conn())
        .await?;
    Ok(rows
        .into_iter()
        .map(|(p, l, lot, at, id, delta)| {
            (
                StockKey {
                    product: ProductId::from_uuid(p),
                    location: LocationId::from_uuid(l),
                    lot: lot_from_column(lot),
                },
                OrderKey {
                    at,
                    id: MovementId::from_uuid(id),
                },
                delta,
            )
        })
        .collect())
}

/// Creates the missing rows among `keys` whose product and location exist (so unknown
/// ones, which the rules reject, create nothing), in their own transaction: see
/// [`crate::store::movements::ensure_rows`].
pub async fn ensure_known_rows(tx: &mut TenantTx, keys: &[StockKey]) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let mut keys = keys.to_vec();
    keys.sort();
    keys.dedup();
    sqlx::query(
        "insert into stock_row (tenant_id, product_id, location_id, lot_id, warehouse_id)
         select $1, k.product_id, k.location_id, k.lot_id, c.warehouse_id
         from unnest($2::uuid[], $3::uuid[], $4::uuid[]) with ordinality as k (product_id, location_id, lot_id, n)
         join product p on p.tenant_id = $1 and p.id = k.product_id
         join location c on c.tenant_id = $1 and c.id = k.location_id
         order by k.n
         on conflict do nothing",
    )
    .bind(tenant_id)
    .bind(keys.iter().map(|k| k.product.as_uuid()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.location.as_uuid()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| lot_column(k.lot)).collect::<Vec<_>>())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The current transaction id: the ledger position of what this transaction decides.
pub async fn position(tx: &mut TenantTx) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select pg_current_xact_id()::text::bigint")
        .fetch_one(tx.conn())
        .await
}

/// A decided movement to write.
#[derive(Debug)]
pub struct Decided<'a> {
    pub movement: &'a Movement,
    pub decision: &'a logiflow_core::Decision,
    /// The user it is booked to.
    pub user_id: Uuid,
    /// New (insert) or already stored (its outcome changes: a held movement retried).
    pub new: bool,
}

/// Sets stock rows to the state a decision left them in: $1 the tenant, $2–$9 the
/// columns of [`RowArrays`]. Also the first step of the group commit's statement.
pub(crate) const UPDATE_ROWS_SQL: &str = "update stock_row s
     set on_hand = u.on_hand, last_count_at = u.count_at, last_count_id = u.count_id,
         last_effect_at = u.effect_at, last_effect_id = u.effect_id, updated_at = now()
     from unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::timestamptz[],
                 $7::uuid[], $8::timestamptz[], $9::uuid[])
          as u (product_id, location_id, lot_id, on_hand, count_at, count_id, effect_at, effect_id)
     where s.tenant_id = $1 and s.product_id = u.product_id
       and s.location_id = u.location_id and s.lot_id = u.lot_id";

/// Rows to write (key, new state, latest effect) as the arrays [`UPDATE_ROWS_SQL`] binds.
pub(crate) struct RowArrays {
    pub products: Vec<Uuid>,
    pub locations: Vec<Uuid>,
    pub lots: Vec<Uuid>,
    pub on_hand: Vec<i64>,
    pub count_at: Vec<Option<DateTime<Utc>>>,
    pub count_id: Vec<Option<Uuid>>,
    pub effect_at: Vec<Option<DateTime<Utc>>>,
    pub effect_id: Vec<Option<Uuid>>,
}

impl RowArrays {
    pub(crate) fn new(rows: &[(StockKey, logiflow_core::StockRow, Option<OrderKey>)]) -> Self {
        Self {
            products: rows.iter().map(|r| r.0.product.as_uuid()).collect(),
            locations: rows.iter().map(|r| r.0.location.as_uuid()).collect(),
            lots: rows.iter().map(|r| lot_column(r.0.lot)).collect(),
            on_hand: rows.iter().map(|r| r.1.on_hand).collect(),
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

/// Inserts ledger effects: `$1` the tenant, then the seven columns of [`EffectArrays`]
/// as `$first`…`$first+6`. Also a step of the group commit's statement.
pub(crate) fn insert_effects_sql(first: usize) -> String {
    let p: Vec<String> = (first..first + 7).map(|i| format!("${i}")).collect();
    format!(
        "insert into movement_effect (tenant_id, product_id, location_id, lot_id, occurred_at,
             movement_id, delta, absorbed)
         select $1, e.product_id, e.location_id, e.lot_id, e.occurred_at, e.movement_id,
                e.delta, e.absorbed
         from unnest({}::uuid[], {}::uuid[], {}::uuid[], {}::timestamptz[], {}::uuid[],
                     {}::bigint[], {}::bool[])
              as e (product_id, location_id, lot_id, occurred_at, movement_id, delta, absorbed)",
        p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    )
}

/// The ledger effects of applied decisions as the arrays [`insert_effects_sql`] binds
/// (other outcomes have none).
pub(crate) struct EffectArrays {
    pub products: Vec<Uuid>,
    pub locations: Vec<Uuid>,
    pub lots: Vec<Uuid>,
    pub occurred_at: Vec<DateTime<Utc>>,
    pub movements: Vec<Uuid>,
    pub deltas: Vec<i64>,
    pub absorbed: Vec<bool>,
}

impl EffectArrays {
    pub(crate) fn new<'a>(
        decided: impl IntoIterator<Item = (&'a Movement, &'a logiflow_core::Decision)>,
    ) -> Self {
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

/// Writes a push's results in a few set-based statements: the changed rows, the new
/// movements, the changed outcomes of retried ones, the ledger effects, one outbox event
/// per decision, and the device's next sequence number.
///
/// Returns how many of the movements decided again were no longer held (and so were not
/// written): anything but 0 means the decisions were made on stale state, and the
/// caller must roll the transaction back.
#[must_use = "a stale decision must roll the transaction back"]
pub async fn write_push(
    tx: &mut TenantTx,
    rows: &[(StockKey, logiflow_core::StockRow, Option<OrderKey>)],
    decided: &[Decided<'_>],
    device: Option<(Uuid, i64)>,
) -> Result<u64, sqlx::Error> {
    let mut stale = 0;
    let tenant_id = tx.tenant_id().as_uuid();
    if !rows.is_empty() {
        let r = RowArrays::new(rows);
        sqlx::query(UPDATE_ROWS_SQL)
            .bind(tenant_id)
            .bind(r.products)
            .bind(r.locations)
            .bind(r.lots)
            .bind(r.on_hand)
            .bind(r.count_at)
            .bind(r.count_id)
            .bind(r.effect_at)
            .bind(r.effect_id)
            .execute(tx.conn())
            .await?;
    }

    let detail = |d: &logiflow_core::Decision| match &d.outcome {
        Outcome::Rejected(r) => serde_json::to_value(r).ok(),
        Outcome::Held(h) => serde_json::to_value(h).ok(),
        _ => None,
    };
    let flags = |d: &logiflow_core::Decision| serde_json::to_value(&d.flags).unwrap_or_default();
    // The row a hold for stock waits on (see `movement_waiting_idx`); none otherwise.
    let waiting = |d: &logiflow_core::Decision| match &d.outcome {
        Outcome::Held(h) if h.is_retryable() => (
            Some(h.waiting_on.location.as_uuid()),
            Some(lot_column(h.waiting_on.lot)),
        ),
        _ => (None, None),
    };

    let new: Vec<&Decided<'_>> = decided.iter().filter(|d| d.new).collect();
    if !new.is_empty() {
        let cols: Vec<_> = new
            .iter()
            .map(|d| crate::store::movements::kind_columns(&d.movement.kind))
            .collect();
        let reference = |m: &Movement| match m.reference {
            Some(LineRef::PurchaseLine(id)) => (Some("purchase_line"), Some(id)),
            Some(LineRef::SalesLine(id)) => (Some("sales_line"), Some(id)),
            None => (None, None),
        };
        sqlx::query(
            "insert into movement (tenant_id, id, kind, origin, product_id, lot_id, from_location_id,
                 to_location_id, qty, expected, reason, occurred_at, user_id, device_id, device_seq,
                 reference_type, reference_id, outcome, outcome_detail, flags,
                 wait_location_id, wait_lot_id)
             select $1, m.id, m.kind, 'journal', m.product_id, m.lot_id, m.from_id, m.to_id, m.qty,
                    m.expected, m.reason, m.occurred_at, m.user_id, m.device_id, m.device_seq,
                    m.reference_type, m.reference_id, m.outcome, m.detail, m.flags,
                    m.wait_location_id, m.wait_lot_id
             from unnest($2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $6::uuid[], $7::uuid[],
                         $8::bigint[], $9::bigint[], $10::text[], $11::timestamptz[], $12::uuid[],
                         $13::uuid[], $14::bigint[], $15::text[], $16::uuid[], $17::text[],
                         $18::jsonb[], $19::jsonb[], $20::uuid[], $21::uuid[])
                  as m (id, kind, product_id, lot_id, from_id, to_id, qty, expected, reason,
                        occurred_at, user_id, device_id, device_seq, reference_type, reference_id,
                        outcome, detail, flags, wait_location_id, wait_lot_id)",
        )
        .bind(tenant_id)
        .bind(new.iter().map(|d| d.movement.id.as_uuid()).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.kind).collect::<Vec<_>>())
        .bind(new.iter().map(|d| d.movement.product.as_uuid()).collect::<Vec<_>>())
        .bind(
            new.iter()
                .map(|d| d.movement.lot.map(|l| l.as_uuid()))
                .collect::<Vec<_>>(),
        )
        .bind(cols.iter().map(|c| c.from).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.to).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.qty).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.expected).collect::<Vec<_>>())
        .bind(cols.iter().map(|c| c.reason).collect::<Vec<_>>())
        .bind(new.iter().map(|d| d.movement.occurred_at).collect::<Vec<_>>())
        .bind(new.iter().map(|d| d.user_id).collect::<Vec<_>>())
        .bind(
            new.iter()
                .map(|d| d.movement.device.map(|s| s.device.as_uuid()))
                .collect::<Vec<_>>(),
        )
        .bind(
            new.iter()
                .map(|d| d.movement.device.map(|s| i64::try_from(s.seq).unwrap_or(i64::MAX)))
                .collect::<Vec<_>>(),
        )
        .bind(new.iter().map(|d| reference(d.movement).0).collect::<Vec<_>>())
        .bind(new.iter().map(|d| reference(d.movement).1).collect::<Vec<_>>())
        .bind(new.iter().map(|d| d.decision.outcome.name()).collect::<Vec<_>>())
        .bind(new.iter().map(|d| detail(d.decision)).collect::<Vec<_>>())
        .bind(new.iter().map(|d| flags(d.decision)).collect::<Vec<_>>())
        .bind(new.iter().map(|d| waiting(d.decision).0).collect::<Vec<_>>())
        .bind(new.iter().map(|d| waiting(d.decision).1).collect::<Vec<_>>())
        .execute(tx.conn())
        .await?;
    }

    let changed: Vec<&Decided<'_>> = decided.iter().filter(|d| !d.new).collect();
    if !changed.is_empty() {
        // `xid` moves to this transaction: pulls see the outcome change. Only a held
        // movement is ever decided again, and only by a transaction holding the locks of
        // its rows; were it no longer held, the decision was made on stale state: the
        // whole transaction fails rather than write it (an outcome never goes back from
        // applied, absorbed or voided). `occurred_at` is the time it took effect at: its
        // own, except for a movement held because its device's clock ran ahead and forced
        // at its receipt time (`core::clock`; the recorded date is in its `redated` flag).
        let updated = sqlx::query(
            "update movement m set outcome = c.outcome, outcome_detail = c.detail, flags = c.flags,
                    wait_location_id = c.wait_location_id, wait_lot_id = c.wait_lot_id,
                    occurred_at = c.occurred_at, xid = pg_current_xact_id()
             from unnest($2::uuid[], $3::text[], $4::jsonb[], $5::jsonb[], $6::uuid[], $7::uuid[],
                         $8::timestamptz[])
                  as c (id, outcome, detail, flags, wait_location_id, wait_lot_id, occurred_at)
             where m.tenant_id = $1 and m.id = c.id and m.outcome = 'held'",
        )
        .bind(tenant_id)
        .bind(
            changed
                .iter()
                .map(|d| d.movement.id.as_uuid())
                .collect::<Vec<_>>(),
        )
        .bind(
            changed
                .iter()
                .map(|d| d.decision.outcome.name())
                .collect::<Vec<_>>(),
        )
        .bind(
            changed
                .iter()
                .map(|d| detail(d.decision))
                .collect::<Vec<_>>(),
        )
        .bind(
            changed
                .iter()
                .map(|d| flags(d.decision))
                .collect::<Vec<_>>(),
        )
        .bind(
            changed
                .iter()
                .map(|d| waiting(d.decision).0)
                .collect::<Vec<_>>(),
        )
        .bind(
            changed
                .iter()
                .map(|d| waiting(d.decision).1)
                .collect::<Vec<_>>(),
        )
        .bind(
            changed
                .iter()
                .map(|d| d.movement.occurred_at)
                .collect::<Vec<_>>(),
        )
        .execute(tx.conn())
        .await?
        .rows_affected();
        stale = changed.len() as u64 - updated;
    }

    let e = EffectArrays::new(decided.iter().map(|d| (d.movement, d.decision)));
    if !e.movements.is_empty() {
        sqlx::query(&insert_effects_sql(2))
            .bind(tenant_id)
            .bind(e.products)
            .bind(e.locations)
            .bind(e.lots)
            .bind(e.occurred_at)
            .bind(e.movements)
            .bind(e.deltas)
            .bind(e.absorbed)
            .execute(tx.conn())
            .await?;
    }

    if !decided.is_empty() {
        let payloads: Vec<serde_json::Value> = decided
            .iter()
            .map(|d| {
                serde_json::json!({
                    "movement_id": d.movement.id,
                    "device_id": d.movement.device.map(|s| s.device),
                    "device_seq": d.movement.device.map(|s| s.seq),
                    "outcome": &d.decision.outcome,
                    "flags": &d.decision.flags,
                })
            })
            .collect();
        sqlx::query(
            "insert into outbox_event (tenant_id, id, topic, payload)
             select $1, e.id, 'movement.decided', e.payload
             from unnest($2::uuid[], $3::jsonb[]) as e (id, payload)",
        )
        .bind(tenant_id)
        .bind(payloads.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
        .bind(&payloads)
        .execute(tx.conn())
        .await?;
    }

    if let Some((device, next_seq)) = device {
        sqlx::query(
            "update device set next_seq = $3, last_push_at = now() where tenant_id = $1 and id = $2",
        )
        .bind(tenant_id)
        .bind(device)
        .bind(next_seq)
        .execute(tx.conn())
        .await?;
    }
    Ok(stale)
}

/// Voids a held movement (locked by the caller): its outcome becomes `voided` with the
/// reason, its `xid` moves to this transaction (devices pull the change), and a
/// `movement.decided` outbox event records it.
pub async fn void(tx: &mut TenantTx, row: &MovementRow, reason: &str) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let detail = serde_json::json!({ "reason": reason });
    let payload = serde_json::json!({
        "movement_id": row.id,
        "device_id": row.device_id,
        "device_seq": row.device_seq,
        "outcome": {"outcome": "voided", "reason": reason},
        "flags": row.flags,
    });
    sqlx::query(
        "with v as (
             update movement set outcome = 'voided', outcome_detail = $3,
                 wait_location_id = null, wait_lot_id = null, xid = pg_current_xact_id()
             where tenant_id = $1 and id = $2
             returning id
         )
         insert into outbox_event (tenant_id, id, topic, payload)
         select $1, $4, 'movement.decided', $5 from v",
    )
    .bind(tenant_id)
    .bind(row.id)
    .bind(detail)
    .bind(Uuid::now_v7())
    .bind(payload)
    .execute(tx.conn())
    .await?;
    Ok(())
}
