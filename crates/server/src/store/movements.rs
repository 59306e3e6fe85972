//! The movement path: the catalog facts a decision needs, the stock rows it touches
//! (locked in `core`'s key order), and the decision's writes.
//!
//! Round trips are what a movement costs (each ~0.15 ms, as much as the commit's fsync),
//! so each step is one statement over arrays: one for the facts, one to lock and read
//! the rows, one for all the writes (rows, movement, ledger effects, outbox event and
//! audit entry as data-modifying CTEs). Only a movement that sorts before an effect
//! already booked on one of its rows (a late journal entry) pays one more, to sum the
//! effects after its time.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use logiflow_core::orders::{Allocation, PurchaseLineQty, PurchaseLineState, SalesLineState};
use logiflow_core::{
    Catalog, Engine, LineRef, LocationFacts, LocationId, LotFacts, LotId, Movement, MovementKind,
    OrderKey, OrderLineFacts, ProductFacts, ProductId, StockKey, StockRow, WarehouseId,
};
use uuid::Uuid;

use crate::db::TenantTx;

/// The lot column of a row without lot: the nil uuid (see the inventory migration).
pub const NO_LOT: Uuid = Uuid::nil();

/// The stock row key as stored.
pub fn lot_column(lot: Option<LotId>) -> Uuid {
    lot.map_or(NO_LOT, |l| l.as_uuid())
}

/// A lot as read back from a stock row.
pub fn lot_from_column(lot: Uuid) -> Option<LotId> {
    (!lot.is_nil()).then(|| LotId::from_uuid(lot))
}

/// The catalog facts of a set of movements, loaded in one statement.
#[derive(Debug, Default)]
pub struct Facts {
    products: HashMap<ProductId, ProductFacts>,
    lots: HashMap<LotId, LotFacts>,
    locations: HashMap<LocationId, LocationFacts>,
    /// Each movement's date in its (first) location's warehouse time zone.
    local_dates: HashMap<logiflow_core::MovementId, NaiveDate>,
    /// The order lines the movements name.
    lines: HashMap<LineRef, OrderLineFacts>,
    /// The purchase lines receipts name, as their decision starts.
    purchase_lines: Vec<(Uuid, PurchaseLineState)>,
    /// The sales lines picks name, with their reservations, as their decision starts.
    sales_lines: Vec<(Uuid, SalesLineState)>,
}

impl Catalog for Facts {
    fn product(&self, id: ProductId) -> Option<ProductFacts> {
        self.products.get(&id).copied()
    }
    fn lot(&self, id: LotId) -> Option<LotFacts> {
        self.lots.get(&id).copied()
    }
    fn location(&self, id: LocationId) -> Option<LocationFacts> {
        self.locations.get(&id).copied()
    }
    fn order_line(&self, line: LineRef) -> Option<OrderLineFacts> {
        self.lines.get(&line).copied()
    }
}

impl Facts {
    /// The movement's date where it happened, for lot expiry; its UTC date when the
    /// location is unknown (the movement is then rejected anyway).
    pub fn on_date(&self, m: &Movement) -> NaiveDate {
        self.local_dates
            .get(&m.id)
            .copied()
            .unwrap_or_else(|| m.occurred_at.date_naive())
    }

    /// Gives an engine the purchase lines the movements name, so it flags and counts
    /// each receipt against what the ones before it left.
    pub fn prime(&self, engine: &mut Engine) {
        for (id, line) in &self.purchase_lines {
            engine.set_purchase_line(*id, *line);
        }
        for (id, line) in &self.sales_lines {
            engine.set_sales_line(*id, line.clone());
        }
    }

    /// The sales lines the movements name, as their decision starts.
    pub fn sales_lines(&self) -> impl Iterator<Item = &SalesLineState> {
        self.sales_lines.iter().map(|(_, l)| l)
    }

    /// The warehouse of a location.
    pub fn warehouse(&self, location: LocationId) -> Option<WarehouseId> {
        self.locations.get(&location).map(|l| l.warehouse)
    }
}

/// The locations a movement names.
pub fn locations(kind: &MovementKind) -> Vec<LocationId> {
    match *kind {
        MovementKind::Receive { to, .. } => vec![to],
        MovementKind::Ship { from, .. } => vec![from],
        MovementKind::Transfer { from, to, .. } => vec![from, to],
        MovementKind::Adjust { at, .. } | MovementKind::Count { at, .. } => vec![at],
    }
}

type FactRow = (
    String,
    Uuid,
    Option<bool>,
    Option<bool>,
    Option<Uuid>,
    Option<NaiveDate>,
    Option<Uuid>,
    Option<bool>,
);

/// Loads what the rules need of the movements' products, lots and locations, and each
/// movement's local date. A record of another tenant is invisible (RLS and the tenant
/// predicate), so it reads as unknown.
/// [`load_facts`]'s statement: $1 tenant, $2 products, $3 lots, $4 locations, and per
/// movement $5 its id, $6 its first location, $7 its time.
pub const LOAD_FACTS_SQL: &str = "
    select 'product', p.id, p.active, p.lot_tracked, null::uuid, null::date, null::uuid, null::bool
    from unnest($2::uuid[]) as x (id)
    cross join lateral (select p.id, p.active, p.lot_tracked from product p
                        where p.tenant_id = $1 and p.id = x.id offset 0) p
    union all
    select 'lot', l.id, null, null, l.product_id, l.expires_on, null, null
    from unnest($3::uuid[]) as x (id)
    cross join lateral (select l.id, l.product_id, l.expires_on from lot l
                        where l.tenant_id = $1 and l.id = x.id offset 0) l
    union all
    -- A location of a deactivated warehouse counts as deactivated.
    select 'location', c.id, c.active and w.active, null, null, null, c.warehouse_id,
           leaf.is_leaf
    from unnest($4::uuid[]) as x (id)
    cross join lateral (select c.id, c.active, c.warehouse_id from location c
                        where c.tenant_id = $1 and c.id = x.id offset 0) c
    cross join lateral (select w.active from warehouse w
                        where w.tenant_id = $1 and w.id = c.warehouse_id offset 0) w
    -- Counted, not `limit 1`: with a limit the planner bets on finding a child early in
    -- a sequential scan, and a bin has none.
    cross join lateral (select count(*) = 0 as is_leaf from location ch
                        where ch.tenant_id = $1 and ch.parent_id = c.id) leaf
    union all
    -- Each movement's local date, by PostgreSQL's own IANA time-zone data.
    select 'date', m.id, null, null, null, (m.at at time zone w.timezone)::date, null, null
    from unnest($5::uuid[], $6::uuid[], $7::timestamptz[]) as m (id, location_id, at)
    cross join lateral (select w.timezone from location c
                        join warehouse w on w.tenant_id = c.tenant_id and w.id = c.warehouse_id
                        where c.tenant_id = $1 and c.id = m.location_id offset 0) w";

/// The facts core's `validate` needs for `ms`: their products, lots, locations and local
/// dates, read with [`LOAD_FACTS_SQL`] in one round trip.
///
/// Longer than 80 lines: the statement's arrays are built, then its rows sorted into the
/// maps of [`Facts`], field by field.
pub async fn load_facts(tx: &mut TenantTx, ms: &[Movement]) -> Result<Facts, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let mut products: Vec<Uuid> = ms.iter().map(|m| m.product.as_uuid()).collect();
    products.sort();
    products.dedup();
    let mut lots: Vec<Uuid> = ms
        .iter()
        .filter_map(|m| m.lot.map(|l| l.as_uuid()))
        .collect();
    lots.sort();
    lots.dedup();
    let mut all_locations: Vec<Uuid> = ms
        .iter()
        .flat_map(|m| locations(&m.kind))
        .map(|l| l.as_uuid())
        .collect();
    all_locations.sort();
    all_locations.dedup();
    // One primary-key probe per id: each lookup is a `lateral` subquery that `offset 0`
    // keeps from being flattened into a join, so the plan does not depend on the
    // planner's guess of an `unnest`'s size. Left to itself, the generic (cached) plan of
    // `TenantTx::begin_cached_plans` hashed the whole location table for the leaf test
    // of one movement. `movement_plans.rs` checks the plan.
    let rows: Vec<FactRow> = sqlx::query_as(LOAD_FACTS_SQL)
        .bind(tenant_id)
        .bind(&products)
        .bind(&lots)
        .bind(&all_locations)
        .bind(ms.iter().map(|m| m.id.as_uuid()).collect::<Vec<_>>())
        .bind(
            ms.iter()
                .map(|m| locations(&m.kind)[0].as_uuid())
                .collect::<Vec<_>>(),
        )
        .bind(ms.iter().map(|m| m.occurred_at).collect::<Vec<_>>())
        .fetch_all(tx.conn())
        .await?;
    let mut facts = Facts::default();
    for (what, id, active, lot_tracked, product, date, warehouse, is_leaf) in rows {
        match what.as_str() {
            "product" => {
                facts.products.insert(
                    ProductId::from_uuid(id),
                    ProductFacts {
                        active: active.unwrap_or(false),
                        lot_tracked: lot_tracked.unwrap_or(false),
                    },
                );
            }
            "lot" => {
                if let Some(product) = product {
                    facts.lots.insert(
                        LotId::from_uuid(id),
                        LotFacts {
                            product: ProductId::from_uuid(product),
                            expires_on: date,
                        },
                    );
                }
            }
            "location" => {
                if let Some(warehouse) = warehouse {
                    facts.locations.insert(
                        LocationId::from_uuid(id),
                        LocationFacts {
                            warehouse: WarehouseId::from_uuid(warehouse),
                            active: active.unwrap_or(false),
                            is_leaf: is_leaf.unwrap_or(false),
                        },
                    );
                }
            }
            _ => {
                if let Some(date) = date {
                    facts
                        .local_dates
                        .insert(logiflow_core::MovementId::from_uuid(id), date);
                }
            }
        }
    }
    load_purchase_lines(tx, ms, &mut facts).await?;
    load_sales_lines(tx, ms, &mut facts).await?;
    Ok(facts)
}

/// The sales lines picks name.
fn sales_line_ids(ms: &[Movement]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = ms
        .iter()
        .filter_map(|m| match m.reference {
            Some(LineRef::SalesLine(id)) => Some(id),
            _ => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The rows the reservations of the sales lines `ms` name are on, read before the
/// locks: a pick may consume a reservation on another row than its own, so the caller
/// locks those rows with the movements' own, in key order (and checks them again under
/// the locks, `ledger::load::reserved_beyond`). Nothing to read, no
/// statement, for movements that name no sales line.
pub async fn reserved_rows(
    tx: &mut TenantTx,
    ms: &[Movement],
) -> Result<Vec<StockKey>, sqlx::Error> {
    let ids = sales_line_ids(ms);
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(crate::store::sales_orders::allocations_of(tx, &ids)
        .await?
        .iter()
        .map(|a| a.key())
        .collect())
}

/// The sales lines the movements name, with their reservations, locked for their
/// decision (`sales_orders::lock_for_picks`).
async fn load_sales_lines(
    tx: &mut TenantTx,
    ms: &[Movement],
    facts: &mut Facts,
) -> Result<(), sqlx::Error> {
    for (id, line) in sales_lines_for(tx, ms).await? {
        facts.lines.insert(
            LineRef::SalesLine(id),
            OrderLineFacts {
                product: line.product,
            },
        );
        facts.sales_lines.push((id, line));
    }
    Ok(())
}

/// The sales lines the movements name, with their reservations, their orders locked
/// (`sales_orders::lock_for_picks`; after the stock rows). Nothing to read, no
/// statement, for movements that name none.
pub async fn sales_lines_for(
    tx: &mut TenantTx,
    ms: &[Movement],
) -> Result<Vec<(Uuid, SalesLineState)>, sqlx::Error> {
    let ids = sales_line_ids(ms);
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let (lines, allocations) = crate::store::sales_orders::lock_for_picks(tx, &ids).await?;
    let mut by_line: HashMap<Uuid, Vec<Allocation>> = HashMap::with_capacity(lines.len());
    for a in &allocations {
        by_line.entry(a.line_id).or_default().push(Allocation {
            key: a.key(),
            qty: a.qty,
        });
    }
    Ok(lines
        .into_iter()
        .map(|line| {
            (
                line.id,
                SalesLineState {
                    product: ProductId::from_uuid(line.product_id),
                    allocations: by_line.remove(&line.id).unwrap_or_default(),
                },
            )
        })
        .collect())
}

/// The purchase lines the movements name, locked for their decision
/// (`purchase_orders::lock_for_receipts`). Nothing to read, no statement, for the
/// movements that name none: nearly all of them.
async fn load_purchase_lines(
    tx: &mut TenantTx,
    ms: &[Movement],
    facts: &mut Facts,
) -> Result<(), sqlx::Error> {
    let mut ids: Vec<Uuid> = ms
        .iter()
        .filter_map(|m| match m.reference {
            Some(LineRef::PurchaseLine(id)) => Some(id),
            _ => None,
        })
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort();
    ids.dedup();
    for line in crate::store::purchase_orders::lock_for_receipts(tx, &ids).await? {
        let product = ProductId::from_uuid(line.product_id);
        facts
            .lines
            .insert(LineRef::PurchaseLine(line.id), OrderLineFacts { product });
        facts.purchase_lines.push((
            line.id,
            PurchaseLineState {
                product,
                status: crate::orders::purchase::decided_status(&line.status),
                qty: PurchaseLineQty {
                    ordered: line.qty,
                    received: line.received,
                },
                tolerance_pct: u32::try_from(line.tolerance_pct).unwrap_or(0),
            },
        ));
    }
    Ok(())
}

/// A stock row as locked for a decision.
#[derive(Debug, Clone, Copy)]
pub struct Locked {
    pub key: StockKey,
    pub row: StockRow,
    /// The order key of the latest effect booked on the row.
    pub last_effect: Option<OrderKey>,
}

type RowTuple = (
    Uuid,
    Uuid,
    Uuid,
    i64,
    i64,
    Option<DateTime<Utc>>,
    Option<Uuid>,
    Option<DateTime<Utc>>,
    Option<Uuid>,
);

/// `keys` as the three arrays SQL joins them with (`unnest($a, $b, $c)`): products,
/// locations, lots (the nil uuid for none).
pub fn key_arrays(keys: &[StockKey]) -> (Vec<Uuid>, Vec<Uuid>, Vec<Uuid>) {
    (
        keys.iter().map(|k| k.product.as_uuid()).collect(),
        keys.iter().map(|k| k.location.as_uuid()).collect(),
        keys.iter().map(|k| lot_column(k.lot)).collect(),
    )
}

fn order_key(at: Option<DateTime<Utc>>, id: Option<Uuid>) -> Option<OrderKey> {
    Some(OrderKey {
        at: at?,
        id: logiflow_core::MovementId::from_uuid(id?),
    })
}

/// [`lock_rows`]'s statement: $1 tenant, $2–$4 the rows' keys as arrays.
pub const LOCK_ROWS_SQL: &str =
    "select s.product_id, s.location_id, s.lot_id, s.on_hand, s.allocated,
                s.last_count_at, s.last_count_id, s.last_effect_at, s.last_effect_id
         from stock_row s
         join unnest($2::uuid[], $3::uuid[], $4::uuid[]) as k (product_id, location_id, lot_id)
           on s.product_id = k.product_id and s.location_id = k.location_id and s.lot_id = k.lot_id
         where s.tenant_id = $1
         -- LockRows runs above the sort: the locks are taken in this order.
         order by s.product_id, s.location_id, s.lot_id
         for update of s";

/// Locks the existing rows among `keys` with `SELECT … FOR UPDATE` and reads them. Load
/// the catalog facts after this: a location that got a child before the lock is then
/// seen as no longer a leaf. (Giving a location a child share-locks its stock rows and
/// checks they are empty, see `store::locations::lock_stock`, so it waits for a
/// movement holding one of them, or the movement waits for it; a new row's foreign key
/// waits on the location's lock. The bins themselves are not locked: a share lock taken
/// by every movement is a tuple write, and a multixact when movements share a bin.)
///
/// The rows are locked in the order of the primary key, which is `core::StockKey`'s
/// order (uuids compare as bytes in both, and the nil "no lot" sorts first as `None`
/// does): every transaction that locks several rows takes them in the same order, so
/// two transactions never wait on each other in a cycle. Rows that do not exist are
/// absent from the result.
pub async fn lock_rows(tx: &mut TenantTx, keys: &[StockKey]) -> Result<Vec<Locked>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let (products, locations, lots) = key_arrays(keys);
    let rows: Vec<RowTuple> = sqlx::query_as(LOCK_ROWS_SQL)
        .bind(tenant_id)
        .bind(&products)
        .bind(&locations)
        .bind(&lots)
        .fetch_all(tx.conn())
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(product, location, lot, on_hand, allocated, lc_at, lc_id, le_at, le_id)| Locked {
                key: StockKey {
                    product: ProductId::from_uuid(product),
                    location: LocationId::from_uuid(location),
                    lot: lot_from_column(lot),
                },
                row: StockRow {
                    on_hand,
                    allocated,
                    last_count: order_key(lc_at, lc_id),
                },
                last_effect: order_key(le_at, le_id),
            },
        )
        .collect())
}

/// Creates the missing rows among `keys` (quantity 0) in their own committed
/// transaction, so that the movement's transaction only ever locks existing rows, in key
/// order: inserting a row inside it would be a lock taken out of order. A row with
/// nothing in it is harmless (and is where the next receipt lands).
pub async fn ensure_rows(
    tx: &mut TenantTx,
    rows: &[(StockKey, WarehouseId)],
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let mut rows = rows.to_vec();
    rows.sort_by_key(|(k, _)| *k);
    let keys: Vec<StockKey> = rows.iter().map(|(k, _)| *k).collect();
    let (products, locations, lots) = key_arrays(&keys);
    let warehouses: Vec<Uuid> = rows.iter().map(|(_, w)| w.as_uuid()).collect();
    sqlx::query(
        "insert into stock_row (tenant_id, product_id, location_id, lot_id, warehouse_id)
         select $1, k.product_id, k.location_id, k.lot_id, k.warehouse_id
         from unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[])
              with ordinality as k (product_id, location_id, lot_id, warehouse_id, n)
         order by k.n
         on conflict do nothing",
    )
    .bind(tenant_id)
    .bind(&products)
    .bind(&locations)
    .bind(&lots)
    .bind(&warehouses)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Who recorded a movement, for the movement row and the audit entry.
#[derive(Debug, Clone)]
pub struct Recorder<'a> {
    pub user_id: Uuid,
    pub actor_type: &'a str,
    pub actor_id: Uuid,
    pub request_id: Option<&'a str>,
}

/// What the movement row stores of a movement's kind.
pub(crate) struct KindColumns {
    pub kind: &'static str,
    pub from: Option<Uuid>,
    pub to: Option<Uuid>,
    pub qty: i64,
    pub expected: Option<i64>,
    pub reason: Option<&'static str>,
}

pub(crate) fn kind_columns(kind: &MovementKind) -> KindColumns {
    use logiflow_core::AdjustReason as R;
    let base = |kind, from: Option<LocationId>, to: Option<LocationId>, qty| KindColumns {
        kind,
        from: from.map(|l| l.as_uuid()),
        to: to.map(|l| l.as_uuid()),
        qty,
        expected: None,
        reason: None,
    };
    match *kind {
        MovementKind::Receive { to, qty } => base(kind.name().as_str(), None, Some(to), qty.get()),
        MovementKind::Ship { from, qty } => base(kind.name().as_str(), Some(from), None, qty.get()),
        MovementKind::Transfer { from, to, qty } => {
            base(kind.name().as_str(), Some(from), Some(to), qty.get())
        }
        // An adjustment and a count name their one location as the destination: the
        // row they change.
        MovementKind::Adjust { at, delta, reason } => KindColumns {
            reason: Some(match reason {
                R::Damage => "damage",
                R::Loss => "loss",
                R::Found => "found",
                R::Correction => "correction",
            }),
            ..base(kind.name().as_str(), None, Some(at), delta.get())
        },
        MovementKind::Count {
            at,
            counted,
            expected,
        } => KindColumns {
            expected: expected.map(|e| e.get()),
            ..base(kind.name().as_str(), None, Some(at), counted.get())
        },
    }
}

/// The stored flags of `ids`, of those that have any, by movement. A flag this version
/// cannot read is left out.
pub async fn flags_of(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<logiflow_core::Flag>>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let rows: Vec<(Uuid, sqlx::types::Json<Vec<serde_json::Value>>)> = sqlx::query_as(
        "select id, flags from movement
         where tenant_id = $1 and id = any($2) and flags <> '[]'::jsonb",
    )
    .bind(tenant_id)
    .bind(ids)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, flags)| {
            let flags = flags
                .0
                .into_iter()
                .filter_map(|f| serde_json::from_value(f).ok())
                .collect();
            (id, flags)
        })
        .collect())
}
