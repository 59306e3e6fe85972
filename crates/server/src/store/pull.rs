//! SQL of device pulls (DESIGN §5.5): the change feeds after a cursor's snapshot, the
//! catalog records and stock rows of a device's scope, and stock rows as of a cursor.
//!
//! Transaction ids travel as text (`xid8` has no sqlx type): bound as `$n::text::xid8`,
//! read as `xid::text`. A cursor is a `pg_snapshot` (text `xmin:xmax:xip,…`): "already
//! delivered" is what it sees, so every feed reads what it did not see — the index range
//! `xid >= xmax` plus the few ids of its in-progress list (see [`Range`]).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::db::TenantTx;
use crate::store::journal::{MovementRow, ROW_COLUMNS};

/// One ledger effect of the scope, with its transaction.
#[derive(Debug, sqlx::FromRow)]
pub struct EffectRow {
    pub xid: i64,
    pub movement_id: Uuid,
    pub product_id: Uuid,
    pub location_id: Uuid,
    pub lot_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub delta: i64,
    /// Its movement names an order line: the page carries that order again.
    pub names_order: bool,
}

/// One catalog change of the scope.
#[derive(Debug, sqlx::FromRow)]
pub struct ChangeRow {
    pub xid: i64,
    pub seq: i64,
    pub entity: String,
    pub entity_id: Uuid,
}

/// Which transactions a feed query reads.
#[derive(Debug, Clone, Copy)]
pub enum Range<'a> {
    /// Those a cursor's snapshot did not see: from its `xmax` on, and those it lists as
    /// in progress (`xip`, an array literal such as `{12,15}`). Two index ranges, however
    /// old the oldest transaction running in the cluster is (a long report in another
    /// database would otherwise widen `xid >= xmin` to everything since it began).
    After { xmax: i64, xip: &'a str },
    /// Exactly this one (a transaction larger than a page, read whole).
    Only(i64),
}

impl<'a> Range<'a> {
    /// The condition on the transaction id column `col`, with binds `$2` and `$3`.
    fn sql(self, col: &str) -> String {
        match self {
            Range::After { .. } => {
                format!("({col} >= $2::text::xid8 or {col} = any($3::text::xid8[]))")
            }
            Range::Only(_) => format!("{col} = $2::text::xid8 and $3::text is null"),
        }
    }

    /// The values of `$2` and `$3`.
    pub fn binds(self) -> (String, Option<&'a str>) {
        match self {
            Range::After { xmax, xip } => (xmax.to_string(), Some(xip)),
            Range::Only(x) => (x.to_string(), None),
        }
    }
}

/// The statement of [`effects`]: `$1` tenant, `$2`/`$3` the range, `$4` the scope's
/// warehouses, `$5` the limit. Public for the plan test.
pub fn effects_sql(range: Range<'_>) -> String {
    format!(
        "select e.xid::text::bigint as xid, e.movement_id, e.product_id, e.location_id, e.lot_id,
                e.occurred_at, e.delta, m.reference_type is not null as names_order
         from movement_effect e
         join location l on l.tenant_id = e.tenant_id and l.id = e.location_id
         join movement m on m.tenant_id = e.tenant_id and m.id = e.movement_id
         where e.tenant_id = $1 and {} and not e.absorbed and l.warehouse_id = any($4)
         order by e.xid
         limit $5",
        range.sql("e.xid")
    )
}

/// The statement of [`outcomes`]: `$1` tenant, `$2`/`$3` the range, `$4` the device, `$5`
/// the limit.
pub fn outcomes_sql(range: Range<'_>) -> String {
    format!(
        "select {ROW_COLUMNS} from movement
         where tenant_id = $1 and device_id = $4 and {}
         order by xid
         limit $5",
        range.sql("xid")
    )
}

/// The statement of [`changes`]: `$1` tenant, `$2`/`$3` the range, `$4` the scope, `$5`
/// the limit, `$6`/`$7` the transaction and sequence number to skip up to.
pub fn changes_sql(range: Range<'_>) -> String {
    format!(
        "select xid::text::bigint as xid, seq, entity, entity_id from catalog_change
         where tenant_id = $1 and {}
           and (warehouse_id is null or warehouse_id = any($4))
           and ($6::text is null or not (xid = $6::text::xid8 and seq <= $7))
         order by xid, seq
         limit $5",
        range.sql("xid")
    )
}

/// The scope's applied (not absorbed) ledger effects in `range`, by transaction, at most
/// `limit`.
pub async fn effects(
    tx: &mut TenantTx,
    range: Range<'_>,
    scope: &[Uuid],
    limit: i64,
) -> Result<Vec<EffectRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let (x, snap) = range.binds();
    sqlx::query_as(&effects_sql(range))
        .bind(tenant_id)
        .bind(x)
        .bind(snap)
        .bind(scope)
        .bind(limit)
        .fetch_all(tx.conn())
        .await
}

/// The device's movements whose outcome was decided or changed in `range`, by
/// transaction (their `position`), at most `limit`.
pub async fn outcomes(
    tx: &mut TenantTx,
    range: Range<'_>,
    device: Uuid,
    limit: i64,
) -> Result<Vec<MovementRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let (x, snap) = range.binds();
    sqlx::query_as(&outcomes_sql(range))
        .bind(tenant_id)
        .bind(x)
        .bind(snap)
        .bind(device)
        .bind(limit)
        .fetch_all(tx.conn())
        .await
}

/// The scope's catalog changes in `range` (warehouse-bound ones of the scope, and every
/// product-level one), by transaction then order, at most `limit`. `skip` leaves out the
/// changes of one transaction up to a sequence number (delivered by the previous page).
pub async fn changes(
    tx: &mut TenantTx,
    range: Range<'_>,
    skip: Option<(i64, i64)>,
    scope: &[Uuid],
    limit: i64,
) -> Result<Vec<ChangeRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let (x, snap) = range.binds();
    let (skip_xid, skip_seq) = skip.map_or((None, 0), |(x, s)| (Some(x.to_string()), s));
    sqlx::query_as(&changes_sql(range))
        .bind(tenant_id)
        .bind(x)
        .bind(snap)
        .bind(scope)
        .bind(limit)
        .bind(skip_xid)
        .bind(skip_seq)
        .fetch_all(tx.conn())
        .await
}

/// A stock row as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StockRowState {
    pub product_id: Uuid,
    pub location_id: Uuid,
    pub lot_id: Uuid,
    pub on_hand: i64,
    pub allocated: i64,
    pub last_count_at: Option<DateTime<Utc>>,
    pub last_count_id: Option<Uuid>,
}

const STOCK_COLUMNS: &str =
    "product_id, location_id, lot_id, on_hand, allocated, last_count_at, last_count_id";

/// The current state of the given rows (keys as three parallel arrays).
pub async fn rows(
    tx: &mut TenantTx,
    keys: &(Vec<Uuid>, Vec<Uuid>, Vec<Uuid>),
) -> Result<Vec<StockRowState>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {STOCK_COLUMNS} from stock_row
         where tenant_id = $1
           and (product_id, location_id, lot_id) in
               (select * from unnest($2::uuid[], $3::uuid[], $4::uuid[]))
         order by product_id, location_id, lot_id"
    ))
    .bind(tenant_id)
    .bind(&keys.0)
    .bind(&keys.1)
    .bind(&keys.2)
    .fetch_all(tx.conn())
    .await
}

/// The records a snapshot of `scope` sends (warehouses, locations, products, lots and
/// stock rows), counted for its progress when it starts: each count reads a range of an
/// index that `tenant_id` leads (the scope's warehouses next for locations and rows).
pub async fn snapshot_size(tx: &mut TenantTx, scope: &[Uuid]) -> Result<u64, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let (n,): (i64,) = sqlx::query_as(
        "select (select count(*) from warehouse where tenant_id = $1 and id = any($2))
              + (select count(*) from location where tenant_id = $1 and warehouse_id = any($2))
              + (select count(*) from product where tenant_id = $1)
              + (select count(*) from lot where tenant_id = $1)
              + (select count(*) from purchase_order
                 where tenant_id = $1 and warehouse_id = any($2) and status = 'ordered')
              + (select count(*) from sales_order
                 where tenant_id = $1 and warehouse_id = any($2) and status = 'confirmed')
              + (select count(*) from stock_row where tenant_id = $1 and warehouse_id = any($2))",
    )
    .bind(tenant_id)
    .bind(scope)
    .fetch_one(tx.conn())
    .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A page of the scope's stock rows in key order, after `after`.
pub async fn rows_page(
    tx: &mut TenantTx,
    scope: &[Uuid],
    after: Option<(Uuid, Uuid, Uuid)>,
    limit: i64,
) -> Result<Vec<StockRowState>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let (p, l, lot) = after.unwrap_or((Uuid::nil(), Uuid::nil(), Uuid::nil()));
    sqlx::query_as(&format!(
        "select {STOCK_COLUMNS} from stock_row
         where tenant_id = $1 and (product_id, location_id, lot_id) > ($2, $3, $4)
           and warehouse_id = any($5)
         order by product_id, location_id, lot_id
         limit $6"
    ))
    .bind(tenant_id)
    .bind(p)
    .bind(l)
    .bind(lot)
    .bind(scope)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// The statement of [`unseen_effects`]: `$1` tenant, `$2`..`$4` the keys, `$5` the
/// cursor's `xmax`, `$6` its in-progress list (an array literal).
pub const UNSEEN_EFFECTS_SQL: &str =
    "select e.product_id, e.location_id, e.lot_id, sum(e.delta)::bigint,
        bool_or(m.kind = 'count')
     from movement_effect e
     join movement m on m.tenant_id = e.tenant_id and m.id = e.movement_id
     where e.tenant_id = $1
       and (e.xid >= $5::text::xid8 or e.xid = any($6::text::xid8[]))
       and (e.product_id, e.location_id, e.lot_id) in
           (select * from unnest($2::uuid[], $3::uuid[], $4::uuid[]))
     group by 1, 2, 3";

/// Per row among `keys`: the sum of the effects a cursor has not seen (visible to this
/// transaction, not in the snapshot `cursor`), and whether one of them is a count.
pub async fn unseen_effects(
    tx: &mut TenantTx,
    keys: &(Vec<Uuid>, Vec<Uuid>, Vec<Uuid>),
    cursor_xmax: i64,
    cursor_xip: &str,
) -> Result<Vec<(Uuid, Uuid, Uuid, i64, bool)>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(UNSEEN_EFFECTS_SQL)
        .bind(tenant_id)
        .bind(&keys.0)
        .bind(&keys.1)
        .bind(&keys.2)
        .bind(cursor_xmax.to_string())
        .bind(cursor_xip)
        .fetch_all(tx.conn())
        .await
}

/// The order key of the latest count of a row that the snapshot `cursor` saw.
pub async fn last_seen_count(
    tx: &mut TenantTx,
    key: (Uuid, Uuid, Uuid),
    cursor: &str,
) -> Result<Option<(DateTime<Utc>, Uuid)>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select e.occurred_at, e.movement_id
         from movement_effect e
         join movement m on m.tenant_id = e.tenant_id and m.id = e.movement_id
         where e.tenant_id = $1 and e.product_id = $2 and e.location_id = $3
           and e.lot_id = $4 and m.kind = 'count' and not e.absorbed
           and pg_visible_in_snapshot(e.xid, $5::text::pg_snapshot)
         order by e.occurred_at desc, e.movement_id desc
         limit 1",
    )
    .bind(tenant_id)
    .bind(key.0)
    .bind(key.1)
    .bind(key.2)
    .bind(cursor)
    .fetch_optional(tx.conn())
    .await
}

/// A warehouse record.
#[derive(Debug, sqlx::FromRow)]
pub struct WarehouseRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub timezone: String,
    pub active: bool,
}

/// The scope's warehouses among `ids` (all of the scope when `ids` is none).
pub async fn warehouses(
    tx: &mut TenantTx,
    scope: &[Uuid],
    ids: Option<&[Uuid]>,
) -> Result<Vec<WarehouseRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select id, code, name, timezone, active from warehouse
         where tenant_id = $1 and id = any($2) and ($3::uuid[] is null or id = any($3))
         order by id",
    )
    .bind(tenant_id)
    .bind(scope)
    .bind(ids)
    .fetch_all(tx.conn())
    .await
}

/// A location record.
#[derive(Debug, sqlx::FromRow)]
pub struct LocationRow {
    pub id: Uuid,
    pub warehouse_id: Uuid,
    pub code: String,
    pub parent_id: Option<Uuid>,
    pub is_leaf: bool,
    pub active: bool,
}

const LOCATION_SELECT: &str = "select l.id, l.warehouse_id, l.code, l.parent_id,
        not exists (select 1 from location c
                    where c.tenant_id = l.tenant_id and c.parent_id = l.id) as is_leaf,
        l.active and w.active as active
     from location l
     join warehouse w on w.tenant_id = l.tenant_id and w.id = l.warehouse_id";

/// The scope's locations among `ids`, with their parents (whose leaf state a new child
/// changes).
pub async fn locations_by_id(
    tx: &mut TenantTx,
    scope: &[Uuid],
    ids: &[Uuid],
) -> Result<Vec<LocationRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "{LOCATION_SELECT}
         where l.tenant_id = $1 and l.warehouse_id = any($2)
           and (l.id = any($3) or l.id in (select parent_id from location
                                          where tenant_id = $1 and id = any($3)))
         order by l.id"
    ))
    .bind(tenant_id)
    .bind(scope)
    .bind(ids)
    .fetch_all(tx.conn())
    .await
}

/// A page of the scope's locations in id order, after `after`.
pub async fn locations_page(
    tx: &mut TenantTx,
    scope: &[Uuid],
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<LocationRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "{LOCATION_SELECT}
         where l.tenant_id = $1 and l.warehouse_id = any($2) and l.id > $3
         order by l.id
         limit $4"
    ))
    .bind(tenant_id)
    .bind(scope)
    .bind(after.unwrap_or(Uuid::nil()))
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// A product record with its barcodes.
#[derive(Debug, sqlx::FromRow)]
pub struct ProductRow {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub lot_tracked: bool,
    pub active: bool,
    pub reorder_point: i64,
    pub barcodes: Vec<String>,
}

const PRODUCT_SELECT: &str = "select p.id, p.sku, p.name, p.lot_tracked, p.active, p.reorder_point,
        array(select b.barcode from product_barcode b
              where b.tenant_id = p.tenant_id and b.product_id = p.id
              order by b.barcode) as barcodes
     from product p";

/// The products among `ids`.
pub async fn products_by_id(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<Vec<ProductRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "{PRODUCT_SELECT} where p.tenant_id = $1 and p.id = any($2) order by p.id"
    ))
    .bind(tenant_id)
    .bind(ids)
    .fetch_all(tx.conn())
    .await
}

/// A page of the products in id order, after `after`.
pub async fn products_page(
    tx: &mut TenantTx,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ProductRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "{PRODUCT_SELECT} where p.tenant_id = $1 and p.id > $2 order by p.id limit $3"
    ))
    .bind(tenant_id)
    .bind(after.unwrap_or(Uuid::nil()))
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// A lot record.
#[derive(Debug, sqlx::FromRow)]
pub struct LotRow {
    pub id: Uuid,
    pub product_id: Uuid,
    pub code: String,
    pub expires_on: Option<NaiveDate>,
}

/// The lots among `ids`.
pub async fn lots_by_id(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<LotRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select id, product_id, code, expires_on from lot
         where tenant_id = $1 and id = any($2) order by id",
    )
    .bind(tenant_id)
    .bind(ids)
    .fetch_all(tx.conn())
    .await
}

/// A page of the lots in id order, after `after`.
pub async fn lots_page(
    tx: &mut TenantTx,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<LotRow>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select id, product_id, code, expires_on from lot
         where tenant_id = $1 and id > $2 order by id limit $3",
    )
    .bind(tenant_id)
    .bind(after.unwrap_or(Uuid::nil()))
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}
