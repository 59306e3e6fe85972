//! Reading stock and the movement history.
//!
//! Filters are added to the SQL only when given (sqlx's `QueryBuilder`), rather than as
//! `($n is null or column = $n)`: a prepared statement's generic plan cannot use an index
//! for a predicate that may be switched off, and these reads must stay one index range
//! scan on a tenant with a million movements.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::db::TenantTx;
use crate::stock::movement::MovementView;
use crate::stock::row::{LowStock, StockItem, StockTotal};
use crate::store::movements::key_arrays;

/// The movement columns as [`MovementView`] reads them; `effects` is aggregated from
/// the ledger for the page's rows only.
const MOVEMENT_COLUMNS: &str = "m.id, m.kind, m.origin, m.product_id, m.lot_id, m.from_location_id,
    m.to_location_id, m.qty, m.expected, m.reason, m.note, m.occurred_at, m.recorded_at, m.user_id,
    m.device_id, m.device_seq, m.reference_type, m.reference_id, m.outcome, m.outcome_detail,
    m.flags";

const EFFECTS: &str = "coalesce((select jsonb_agg(jsonb_build_object(
        'product_id', e.product_id, 'location_id', e.location_id,
        'lot_id', nullif(e.lot_id, '00000000-0000-0000-0000-000000000000'::uuid),
        'delta', e.delta, 'absorbed', e.absorbed)
        order by e.product_id, e.location_id, e.lot_id)
    from movement_effect e where e.tenant_id = m.tenant_id and e.movement_id = m.id), '[]'::jsonb) as effects";

/// Filters of [`list_movements`]; `None` matches everything.
#[derive(Debug, Default)]
pub struct MovementFilter {
    pub product_id: Option<Uuid>,
    pub location_id: Option<Uuid>,
    pub kind: Option<String>,
    pub user_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub outcome: Option<String>,
    /// Only what a person should review: held, rejected or flagged (the conflict inbox).
    pub review: bool,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Pushes `and …` for each filter except the location one, and the page bound.
fn push_movement_filters<'a>(
    qb: &mut QueryBuilder<'a, Postgres>,
    tenant_id: Uuid,
    f: &'a MovementFilter,
    before: Option<(DateTime<Utc>, Uuid)>,
) {
    qb.push(" where m.tenant_id = ").push_bind(tenant_id);
    if let Some(v) = f.product_id {
        qb.push(" and m.product_id = ").push_bind(v);
    }
    if let Some(v) = &f.kind {
        qb.push(" and m.kind = ").push_bind(v.as_str());
    }
    if let Some(v) = f.user_id {
        qb.push(" and m.user_id = ").push_bind(v);
    }
    if let Some(v) = f.device_id {
        qb.push(" and m.device_id = ").push_bind(v);
    }
    if let Some(v) = &f.outcome {
        qb.push(" and m.outcome = ").push_bind(v.as_str());
        if v == "held" || v == "rejected" {
            // Implied, and lets the planner use movement_review_outcome_idx.
            qb.push(" and m.needs_review");
        }
    }
    if f.review {
        // The stored column of the partial index movement_review_idx (see the sync
        // migration for why it is a column).
        qb.push(" and m.needs_review");
    }
    if let Some(v) = f.from {
        qb.push(" and m.occurred_at >= ").push_bind(v);
    }
    if let Some(v) = f.to {
        qb.push(" and m.occurred_at < ").push_bind(v);
    }
    if let Some((at, id)) = before {
        // Newest first: the page continues below the previous page's last key.
        qb.push(" and (m.occurred_at, m.id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
}

/// Appends the movement-history query to `qb` (public so a test can `EXPLAIN` exactly
/// the statement the API runs).
pub fn push_list_movements<'a>(
    qb: &mut QueryBuilder<'a, Postgres>,
    tenant_id: Uuid,
    f: &'a MovementFilter,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) {
    qb.push(format!("select {MOVEMENT_COLUMNS}, {EFFECTS} from ("));
    match f.location_id {
        None => {
            qb.push("select * from movement m");
            push_movement_filters(qb, tenant_id, f, before);
            qb.push(" order by m.occurred_at desc, m.id desc limit ")
                .push_bind(limit);
        }
        Some(location) => {
            // "In or out of this bin" as two ordered, limited index scans (one per
            // partial index) merged, instead of an OR the planner could only serve by
            // reading every movement of the bin.
            for (i, column) in ["from_location_id", "to_location_id"].iter().enumerate() {
                if i > 0 {
                    qb.push(" union all ");
                }
                qb.push("(select * from movement m");
                push_movement_filters(qb, tenant_id, f, before);
                qb.push(format_args!(" and m.{column} = "))
                    .push_bind(location)
                    .push(" order by m.occurred_at desc, m.id desc limit ")
                    .push_bind(limit)
                    .push(")");
            }
        }
    }
    qb.push(") m order by m.occurred_at desc, m.id desc limit ")
        .push_bind(limit);
}

/// Movements matching `f` before `before` (exclusive), newest first, at most `limit`.
pub async fn list_movements(
    tx: &mut TenantTx,
    f: &MovementFilter,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<MovementView>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let mut qb = QueryBuilder::<Postgres>::new("");
    push_list_movements(&mut qb, tenant_id, f, before, limit);
    qb.build_query_as().fetch_all(tx.conn()).await
}

/// A movement with what a person reads instead of ids: the product, lot, bins,
/// warehouse, user and device (an export's line).
#[derive(Debug, sqlx::FromRow)]
pub struct MovementLine {
    #[sqlx(flatten)]
    pub movement: MovementView,
    /// Absent for a rejected movement that named no known product.
    pub sku: Option<String>,
    pub product_name: Option<String>,
    pub lot_code: Option<String>,
    /// The warehouse of its bins.
    pub warehouse_code: Option<String>,
    pub from_path: Option<String>,
    pub to_path: Option<String>,
    pub user_email: Option<String>,
    pub device_name: Option<String>,
}

/// [`list_movements`] with each movement's names ([`MovementLine`]).
pub async fn list_movement_lines(
    tx: &mut TenantTx,
    f: &MovementFilter,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<MovementLine>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let mut qb = QueryBuilder::<Postgres>::new(
        "select m.*, p.sku::text as sku, p.name as product_name, l.code::text as lot_code,
                w.code::text as warehouse_code, fl.path::text as from_path,
                tl.path::text as to_path, u.email as user_email, d.name as device_name
         from (",
    );
    push_list_movements(&mut qb, tenant_id, f, before, limit);
    // Left joins only: a rejected movement may name a product or bin that does not
    // exist, and an export leaves out no movement.
    qb.push(") m cross join (select ")
        .push_bind(tenant_id)
        .push(
            "::uuid as id) t
             left join product p on p.tenant_id = t.id and p.id = m.product_id
             left join lot l on l.tenant_id = t.id and l.id = m.lot_id
             left join location fl on fl.tenant_id = t.id and fl.id = m.from_location_id
             left join location tl on tl.tenant_id = t.id and tl.id = m.to_location_id
             left join warehouse w on w.tenant_id = t.id
                  and w.id = coalesce(tl.warehouse_id, fl.warehouse_id)
             left join app_user u on u.tenant_id = t.id and u.id = m.user_id
             left join device d on d.tenant_id = t.id and d.id = m.device_id
             order by m.occurred_at desc, m.id desc",
        );
    qb.build_query_as().fetch_all(tx.conn()).await
}

/// One movement with its effects.
pub async fn get_movement(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<Option<MovementView>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {MOVEMENT_COLUMNS}, {EFFECTS} from movement m where m.tenant_id = $1 and m.id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// Filters of the stock reads; `None` matches everything.
#[derive(Debug, Default)]
pub struct StockFilter {
    pub warehouse_id: Option<Uuid>,
    /// This location and everything below it.
    pub location_id: Option<Uuid>,
    pub product_id: Option<Uuid>,
    pub lot_id: Option<Uuid>,
    /// Rows of lots expiring before this date.
    pub expiring_before: Option<NaiveDate>,
    /// Rows of products whose available stock in the row's warehouse is below their
    /// reorder point.
    pub below_reorder: bool,
    /// Also rows with nothing on hand or allocated.
    pub include_empty: bool,
}

fn push_stock_filters<'a>(qb: &mut QueryBuilder<'a, Postgres>, tenant_id: Uuid, f: &StockFilter) {
    qb.push(" where s.tenant_id = ").push_bind(tenant_id);
    if let Some(v) = f.warehouse_id {
        qb.push(" and s.warehouse_id = ").push_bind(v);
    }
    if let Some(v) = f.product_id {
        qb.push(" and s.product_id = ").push_bind(v);
    }
    if let Some(v) = f.lot_id {
        qb.push(" and s.lot_id = ").push_bind(v);
    }
    if let Some(v) = f.location_id {
        // The subtree as a range of the "C"-collated path index: below 'A/03' are the
        // paths from 'A/03/' up to (not including) 'A/030', since '0' is the character
        // after '/'. No LIKE, so codes with '_' or '%' need no escaping.
        qb.push(
            " and s.location_id in (select d.id from location r join location d
                on d.tenant_id = r.tenant_id and d.warehouse_id = r.warehouse_id
               and (d.id = r.id or (d.path >= r.path || '/' and d.path < r.path || '0'))
             where r.tenant_id = s.tenant_id and r.id = ",
        )
        .push_bind(v)
        .push(")");
    }
    if let Some(v) = f.expiring_before {
        qb.push(" and l.expires_on < ").push_bind(v);
    }
    if f.below_reorder {
        // The row's (warehouse, product) pair is among the low ones of `low_stock`.
        qb.push(format_args!(
            " and exists (select 1 {WATCHED}s.tenant_id
                 and w.id = s.warehouse_id and p.id = s.product_id and {})",
            is_low_sql("p.reorder_point", "t.available")
        ));
    }
    if !f.include_empty {
        qb.push(" and (s.on_hand <> 0 or s.allocated <> 0)");
    }
}

/// Stock rows matching `f` after `after` (by key), at most `limit`.
pub async fn list_stock(
    tx: &mut TenantTx,
    f: &StockFilter,
    after: Option<(Uuid, Uuid, Uuid)>,
    limit: i64,
) -> Result<Vec<StockItem>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let mut qb = QueryBuilder::<Postgres>::new(
        "select s.product_id, p.sku::text as sku, p.name as product_name, s.warehouse_id,
                s.location_id, c.path::text as location_path,
                nullif(s.lot_id, '00000000-0000-0000-0000-000000000000'::uuid) as lot_id,
                l.code::text as lot_code, l.expires_on, s.on_hand, s.allocated,
                s.on_hand - s.allocated as available, s.last_count_at, s.updated_at
         from stock_row s
         join product p on p.tenant_id = s.tenant_id and p.id = s.product_id
         join location c on c.tenant_id = s.tenant_id and c.id = s.location_id
         left join lot l on l.tenant_id = s.tenant_id and l.id = s.lot_id",
    );
    push_stock_filters(&mut qb, tenant_id, f);
    if let Some((product, location, lot)) = after {
        qb.push(" and (s.product_id, s.location_id, s.lot_id) > (")
            .push_bind(product)
            .push(", ")
            .push_bind(location)
            .push(", ")
            .push_bind(lot)
            .push(")");
    }
    qb.push(" order by s.product_id, s.location_id, s.lot_id limit ")
        .push_bind(limit);
    qb.build_query_as().fetch_all(tx.conn()).await
}

/// Totals per product and warehouse (or per product over all warehouses when
/// `per_warehouse` is false) of the rows matching `f`, after `after`.
pub async fn totals(
    tx: &mut TenantTx,
    f: &StockFilter,
    per_warehouse: bool,
    after: Option<(Uuid, Option<Uuid>)>,
    limit: i64,
) -> Result<Vec<StockTotal>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let warehouse = if per_warehouse {
        "s.warehouse_id"
    } else {
        "null::uuid"
    };
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "select * from (select s.product_id, min(p.sku::text) as sku, min(p.name) as product_name,
                {warehouse} as warehouse_id, sum(s.on_hand)::bigint as on_hand,
                sum(s.allocated)::bigint as allocated,
                sum(s.on_hand - s.allocated)::bigint as available, min(p.reorder_point) as reorder_point
         from stock_row s
         join product p on p.tenant_id = s.tenant_id and p.id = s.product_id
         left join lot l on l.tenant_id = s.tenant_id and l.id = s.lot_id"
    ));
    push_stock_filters(&mut qb, tenant_id, f);
    qb.push(format_args!(" group by s.product_id, {warehouse}) g"));
    if let Some((product, warehouse)) = after {
        // Nulls (per-product totals) compare through the nil uuid.
        qb.push(" where (g.product_id, coalesce(g.warehouse_id, '00000000-0000-0000-0000-000000000000'::uuid)) > (")
            .push_bind(product)
            .push(", ")
            .push_bind(warehouse.unwrap_or_default())
            .push(")");
    }
    qb.push(" order by g.product_id, g.warehouse_id nulls first limit ")
        .push_bind(limit);
    qb.build_query_as().fetch_all(tx.conn()).await
}

/// The (warehouse, product) pairs the low-stock rule watches (`logiflow_core::reorder`),
/// each with its stock there as `t` (`on_hand`, `allocated`, `available`), as SQL from
/// `from` to `w.tenant_id = `, followed by the tenant: every active warehouse `w` times
/// every active product `p` with a reorder point. A product with no row at all in a
/// warehouse is the most urgent case, so the pairs come from the catalog, not from the
/// stock rows; the per-pair sums are an index range scan on `stock_row_warehouse_idx`.
///
/// The one SQL source of "available per (warehouse, product)": the low-stock list, the
/// `below_reorder` filter of the stock reads and the `stock.low` alert sweep read it.
pub const WATCHED: &str = "from warehouse w
     join product p on p.tenant_id = w.tenant_id and p.active and p.reorder_point > 0
     cross join lateral (
         select coalesce(sum(sr.on_hand), 0)::bigint as on_hand,
                coalesce(sum(sr.allocated), 0)::bigint as allocated,
                coalesce(sum(sr.on_hand - sr.allocated), 0)::bigint as available
         from stock_row sr
         where sr.tenant_id = w.tenant_id and sr.warehouse_id = w.id and sr.product_id = p.id
     ) t
     where w.active and w.tenant_id = ";

/// The low-stock rule as SQL, beside the rule in core (`tests/api/stock.rs`,
/// `the_sql_low_stock_rule_agrees_with_core`, checks it on PostgreSQL).
pub use logiflow_core::reorder::{is_low_sql, shortfall_sql};

/// Products whose available stock in a warehouse is below their reorder point, per
/// active warehouse (optionally one), after `after` by (warehouse, product).
pub async fn low_stock(
    tx: &mut TenantTx,
    warehouse_id: Option<Uuid>,
    after: Option<(Uuid, Uuid)>,
    limit: i64,
) -> Result<Vec<LowStock>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "select w.id as warehouse_id, w.code::text as warehouse_code, p.id as product_id,
                p.sku::text as sku, p.name as product_name, p.reorder_point, p.reorder_qty,
                t.on_hand, t.allocated, t.available, {} as shortfall
         {WATCHED}",
        shortfall_sql("p.reorder_point", "t.available")
    ));
    qb.push_bind(tenant_id);
    if let Some(w) = warehouse_id {
        qb.push(" and w.id = ").push_bind(w);
    }
    if let Some((w, p)) = after {
        qb.push(" and (w.id, p.id) > (")
            .push_bind(w)
            .push(", ")
            .push_bind(p)
            .push(")");
    }
    qb.push(format_args!(
        " and {} order by w.id, p.id limit ",
        is_low_sql("p.reorder_point", "t.available")
    ))
    .push_bind(limit);
    let rows: Vec<LowStock> = qb.build_query_as().fetch_all(tx.conn()).await?;
    // SQL chose the page; whether each pair is low and by how much is core's answer
    // (the same as SQL's, see `is_low_sql`).
    Ok(rows
        .into_iter()
        .filter_map(|mut l| {
            l.shortfall = logiflow_core::reorder::shortfall(l.reorder_point, l.available)?;
            Some(l)
        })
        .collect())
}

/// The quantity on hand of those of `keys` whose stock row exists (not locked: what a
/// preview shows).
pub async fn on_hand_of(
    tx: &mut TenantTx,
    keys: &[logiflow_core::StockKey],
) -> Result<std::collections::HashMap<logiflow_core::StockKey, i64>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let (products, locations, lots) = key_arrays(keys);
    let rows: Vec<(i32, i64)> = sqlx::query_as(
        "select k.i::int4, s.on_hand
         from unnest($2::uuid[], $3::uuid[], $4::uuid[]) with ordinality as k (product_id, location_id, lot_id, i)
         join stock_row s on s.tenant_id = $1 and s.product_id = k.product_id
           and s.location_id = k.location_id and s.lot_id = k.lot_id",
    )
    .bind(tenant_id)
    .bind(&products)
    .bind(&locations)
    .bind(&lots)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(i, on_hand)| {
            let key = keys.get(usize::try_from(i).ok()?.checked_sub(1)?)?;
            Some((*key, on_hand))
        })
        .collect())
}

/// Those of `ids` that are movements of the tenant.
pub async fn existing_movements(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select m.id from unnest($2::uuid[]) as i(id)
         join movement m on m.tenant_id = $1 and m.id = i.id",
    )
    .bind(tenant_id)
    .bind(ids)
    .fetch_all(tx.conn())
    .await
}
