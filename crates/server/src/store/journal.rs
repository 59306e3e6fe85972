//! SQL of the journal: stored movements (results of re-sent ones, a held movement to
//! force or void), the held movements a decision may wake, and the ledger tail its
//! decisions need. What a decision writes is `crate::ledger::write`'s.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use logiflow_core::{
    AdjustReason, Delta, DeviceId, DeviceStamp, Effect, Flag, Hold, KindName, LineRef, LocationId,
    LotId, Movement, MovementId, MovementKind, MovementResult, OrderKey, Outcome, OutcomeName,
    PositiveQty, ProductId, Qty, Rejection, StockKey, UserId,
};
use uuid::Uuid;

use crate::db::TenantTx;
use crate::store::movements::{lot_column, lot_from_column};

/// A movement row as stored.
#[derive(Debug, sqlx::FromRow)]
pub struct MovementRow {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub kind: KindName,
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
    #[sqlx(try_from = "String")]
    pub outcome: OutcomeName,
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
        let kind = match self.kind {
            KindName::Receive => MovementKind::Receive {
                to: loc(self.to_location_id)?,
                qty: PositiveQty::new(self.qty).ok()?,
            },
            KindName::Ship => MovementKind::Ship {
                from: loc(self.from_location_id)?,
                qty: PositiveQty::new(self.qty).ok()?,
            },
            KindName::Transfer => MovementKind::Transfer {
                from: loc(self.from_location_id)?,
                to: loc(self.to_location_id)?,
                qty: PositiveQty::new(self.qty).ok()?,
            },
            KindName::Adjust => MovementKind::Adjust {
                at: loc(self.to_location_id)?,
                delta: Delta::new(self.qty).ok()?,
                reason: serde_json::from_value::<AdjustReason>(serde_json::Value::from(
                    self.reason.clone()?,
                ))
                .ok()?,
            },
            KindName::Count => MovementKind::Count {
                at: loc(self.to_location_id)?,
                counted: Qty::new(self.qty).ok()?,
                expected: self.expected.and_then(|e| Qty::new(e).ok()),
            },
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
        (self.outcome == OutcomeName::Held)
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
        let outcome = match self.outcome {
            OutcomeName::Applied => Outcome::Applied { effects },
            OutcomeName::Absorbed => Outcome::Absorbed,
            OutcomeName::Superseded => Outcome::Superseded,
            OutcomeName::Held => self.hold().map_or(
                Outcome::Rejected(Rejection {
                    code: logiflow_core::RejectCode::UnknownProduct,
                    message: "unreadable hold".into(),
                }),
                Outcome::Held,
            ),
            OutcomeName::Voided => Outcome::Voided {
                reason: self
                    .outcome_detail
                    .as_ref()
                    .and_then(|d| d["reason"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            },
            OutcomeName::Rejected => Outcome::Rejected(
                self.outcome_detail
                    .clone()
                    .and_then(|d| serde_json::from_value(d).ok())
                    .unwrap_or(Rejection {
                        code: logiflow_core::RejectCode::UnknownProduct,
                        message: "rejected".into(),
                    }),
            ),
        };
        let last = matches!(
            self.outcome,
            OutcomeName::Applied | OutcomeName::Absorbed | OutcomeName::Superseded
        );
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
