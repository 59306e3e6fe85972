//! `alert`, `alert_read` and `scheduled_check` rows: the sweeps of the scheduled check
//! and a person's list (design in `crate::alerts`).
//!
//! Each sweep is one statement: a CTE finds what holds now; open alerts of the kind whose
//! subject is not among them are resolved; what holds and has no open alert is inserted
//! (ids UUIDv7 at `now`, `uuid_v7`), and each inserted alert is written to the outbox
//! with its id as the event's. All parts see one snapshot, so a subject is either kept,
//! resolved or raised, never two of them.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::alerts::{
    Alert, DEVICE_SILENT_DAYS_DEFAULT, HELD_HOURS_DEFAULT, LOT_EXPIRING_DAYS_DEFAULT,
};
use crate::db::TenantTx;
use crate::store::stock::{WATCHED, is_low_sql, shortfall_sql};

/// Claims the check `name` for the interval ending at `now`: true when no run started in
/// the last `interval` (this caller runs it), false when one did. One statement, so two
/// instances claiming at once cannot both win.
pub async fn claim_check(
    pool: &PgPool,
    name: &str,
    now: DateTime<Utc>,
    interval: TimeDelta,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "update scheduled_check set last_run_at = $2
         where name = $1 and last_run_at <= $2 - $3::interval",
    )
    .bind(name)
    .bind(now)
    .bind(interval)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

/// Resolves the open alerts of `kind` whose subject is not in the CTE `holds`
/// (`subject`, `warehouse_id`, `payload`), raises those of `holds` not open, writes an
/// outbox event per raised alert (while someone listens); returns (raised, resolved). `holds` is SQL with `$1` the
/// tenant and `$2` now.
fn sweep_sql(kind: &str, holds: &str) -> String {
    format!(
        "with holds as ({holds}),
         resolved as (
             update alert a set resolved_at = $2
             where a.tenant_id = $1 and a.kind = '{kind}' and a.resolved_at is null
               and not exists (select 1 from holds h where h.subject = a.subject)
             returning 1
         ), fresh as (
             select uuid_v7($2) as id, h.* from holds h
             where not exists (select 1 from alert a
                               where a.tenant_id = $1 and a.kind = '{kind}'
                                 and a.subject = h.subject and a.resolved_at is null)
         ), raised as (
             insert into alert (tenant_id, id, kind, subject, warehouse_id, payload, raised_at)
             select $1, f.id, '{kind}', f.subject, f.warehouse_id,
                    f.payload || jsonb_build_object('alert_id', f.id), $2
             from fresh f
             on conflict (tenant_id, kind, subject) where resolved_at is null do nothing
             returning id, payload
         ), events as (
             insert into outbox_event (tenant_id, id, topic, payload)
             select $1, r.id, '{kind}', r.payload from raised r where {listens}
             returning 1
         )
         select (select count(*) from raised), (select count(*) from resolved)",
        listens = crate::store::webhooks::any_active_endpoint!()
    )
}

/// SQL of a one-row relation `s` with the tenant's threshold `column` as `name`, or
/// `default` (the same as the column's) without a settings row.
fn threshold(column: &str, name: &str, default: i32) -> String {
    format!(
        "cross join (select coalesce((select {column} from tenant_setting
                                       where tenant_id = $1), {default}) as {name}) s"
    )
}

/// Runs one sweep (see [`sweep_sql`]).
async fn sweep(
    tx: &mut TenantTx,
    now: DateTime<Utc>,
    kind: &str,
    holds: &str,
) -> Result<(i64, i64), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&sweep_sql(kind, holds))
        .bind(tenant_id)
        .bind(now)
        .fetch_one(tx.conn())
        .await
}

/// `stock.low`: the rule of `GET /v1/stock/low` (`store::stock::low_stock`) over the whole
/// tenant, from the same SQL source of pairs and their stock (`store::stock::WATCHED`).
pub async fn sweep_stock_low(
    tx: &mut TenantTx,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    sweep(
        tx,
        now,
        "stock.low",
        &format!(
            "select w.id || '/' || p.id as subject, w.id as warehouse_id,
                jsonb_build_object('warehouse_id', w.id, 'warehouse_code', w.code,
                    'product_id', p.id, 'sku', p.sku, 'product_name', p.name,
                    'reorder_point', p.reorder_point, 'reorder_qty', p.reorder_qty,
                    'on_hand', t.on_hand, 'allocated', t.allocated, 'available', t.available,
                    'shortfall', {}) as payload
             {WATCHED}$1 and {}",
            shortfall_sql("p.reorder_point", "t.available"),
            is_low_sql("p.reorder_point", "t.available"),
        ),
    )
    .await
}

/// `lot.expiring`: lots with stock in a warehouse that expire within the tenant's
/// `alert_lot_expiring_days` of today in that warehouse's time zone.
pub async fn sweep_lot_expiring(
    tx: &mut TenantTx,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    sweep(
        tx,
        now,
        "lot.expiring",
        &format!(
            "select w.id || '/' || l.id as subject, w.id as warehouse_id,
                jsonb_build_object('warehouse_id', w.id, 'warehouse_code', w.code,
                    'lot_id', l.id, 'lot_code', l.code, 'product_id', p.id, 'sku', p.sku,
                    'product_name', p.name, 'expires_on', l.expires_on,
                    'days_left', l.expires_on - ($2 at time zone w.timezone)::date,
                    'on_hand', t.on_hand) as payload
         from (
             select s.warehouse_id, s.lot_id, sum(s.on_hand)::bigint as on_hand
             from stock_row s
             where s.tenant_id = $1 and s.lot_id <> '00000000-0000-0000-0000-000000000000'
             group by s.warehouse_id, s.lot_id
             having sum(s.on_hand) > 0
         ) t
         join lot l on l.tenant_id = $1 and l.id = t.lot_id and l.expires_on is not null
         join product p on p.tenant_id = $1 and p.id = l.product_id
         join warehouse w on w.tenant_id = $1 and w.id = t.warehouse_id and w.active
         {}
         where l.expires_on - s.days <= ($2 at time zone w.timezone)::date",
            threshold("alert_lot_expiring_days", "days", LOT_EXPIRING_DAYS_DEFAULT)
        ),
    )
    .await
}

/// `conflict.held`: journal movements held for more than the tenant's `alert_held_hours`
/// (since the server received them).
pub async fn sweep_conflict_held(
    tx: &mut TenantTx,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    sweep(
        tx,
        now,
        "conflict.held",
        &format!(
            "select m.id::text as subject, loc.warehouse_id,
                jsonb_build_object('movement_id', m.id, 'kind', m.kind, 'product_id', m.product_id,
                    'sku', p.sku, 'product_name', p.name, 'qty', m.qty,
                    'device_id', m.device_id, 'user_id', m.user_id,
                    'warehouse_id', loc.warehouse_id, 'held', m.outcome_detail,
                    'recorded_at', m.recorded_at,
                    'hours_waiting', floor(extract(epoch from $2 - m.recorded_at) / 3600)::bigint)
                    as payload
         from movement m
         join product p on p.tenant_id = m.tenant_id and p.id = m.product_id
         join location loc on loc.tenant_id = m.tenant_id
              and loc.id = coalesce(m.from_location_id, m.to_location_id)
         {}
         where m.tenant_id = $1 and m.outcome = 'held'
           and m.recorded_at < $2 - make_interval(hours => s.hours)",
            threshold("alert_held_hours", "hours", HELD_HOURS_DEFAULT)
        ),
    )
    .await
}

/// `device.silent`: devices (not revoked) that neither pushed nor pulled for the tenant's
/// `alert_device_silent_days` (a device that never synced counts from its registration).
pub async fn sweep_device_silent(
    tx: &mut TenantTx,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    sweep(
        tx,
        now,
        "device.silent",
        &format!(
            "select d.id::text as subject, null::uuid as warehouse_id,
                jsonb_build_object('device_id', d.id, 'name', d.name, 'platform', d.platform,
                    'user_id', d.user_id, 'warehouse_ids', d.warehouse_ids,
                    'last_sync_at', greatest(d.last_push_at, d.last_pull_at),
                    'days_silent', floor(extract(epoch from $2 - coalesce(
                        greatest(d.last_push_at, d.last_pull_at), d.created_at)) / 86400)::bigint)
                    as payload
         from device d
         {}
         where d.tenant_id = $1 and d.revoked_at is null
           and coalesce(greatest(d.last_push_at, d.last_pull_at), d.created_at)
               < $2 - make_interval(days => s.days)",
            threshold(
                "alert_device_silent_days",
                "days",
                DEVICE_SILENT_DAYS_DEFAULT
            )
        ),
    )
    .await
}

/// `webhook.disabled`: endpoints the webhook worker disabled for failing
/// (`disabled_at` set, not active again). The worker sweeps it in the transaction that
/// disables one, so the alert is raised at once; the scheduled check resolves it once
/// the endpoint is active again or deleted.
pub async fn sweep_webhook_disabled(
    tx: &mut TenantTx,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    sweep(
        tx,
        now,
        "webhook.disabled",
        "select e.id::text as subject, null::uuid as warehouse_id,
                jsonb_build_object('endpoint_id', e.id, 'url', e.url,
                    'description', e.description, 'disabled_at', e.disabled_at) as payload
         from webhook_endpoint e
         where e.tenant_id = $1 and not e.active and e.disabled_at is not null",
    )
    .await
}

/// Deletes the alerts resolved before `cutoff` (their read marks cascade); returns how
/// many.
pub async fn prune_resolved(tx: &mut TenantTx, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    Ok(
        sqlx::query("delete from alert where tenant_id = $1 and resolved_at < $2")
            .bind(tenant_id)
            .bind(cutoff)
            .execute(tx.conn())
            .await?
            .rows_affected(),
    )
}

/// Filters of a person's list.
#[derive(Debug, Default)]
pub struct Filter {
    /// Alerts of these warehouses, and those of no warehouse; `None`: all.
    pub warehouses: Option<Vec<Uuid>>,
    pub kind: Option<String>,
    /// Only alerts still open.
    pub open: bool,
    /// Only alerts the user has not read.
    pub unread: bool,
}

/// Alerts newest first, before the id `before`, at most `limit`, with whether `user`
/// read each.
pub async fn list(
    tx: &mut TenantTx,
    user: Uuid,
    f: &Filter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Alert>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select a.id, a.kind, a.subject, a.warehouse_id, a.payload, a.raised_at, a.resolved_at,
                r.user_id is not null as read
         from alert a
         left join alert_read r on r.tenant_id = a.tenant_id and r.alert_id = a.id
              and r.user_id = $2
         where a.tenant_id = $1
           and ($3::uuid[] is null or a.warehouse_id is null or a.warehouse_id = any($3))
           and ($4::text is null or a.kind = $4)
           and (not $5 or a.resolved_at is null)
           and (not $6 or r.user_id is null)
           and ($7::uuid is null or a.id < $7)
         order by a.id desc limit $8",
    )
    .bind(tenant_id)
    .bind(user)
    .bind(f.warehouses.as_deref())
    .bind(f.kind.as_deref())
    .bind(f.open)
    .bind(f.unread)
    .bind(before)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Marks `alerts` read by `user`; returns how many of them exist (read before or not).
pub async fn mark_read(tx: &mut TenantTx, user: Uuid, alerts: &[Uuid]) -> Result<u64, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let found: i64 = sqlx::query_scalar(
        "with known as (
             select a.id from alert a where a.tenant_id = $1 and a.id = any($3)
         ), ins as (
             insert into alert_read (tenant_id, alert_id, user_id)
             select $1, k.id, $2 from known k
             on conflict do nothing
             returning 1
         )
         select count(*) from known",
    )
    .bind(tenant_id)
    .bind(user)
    .bind(alerts)
    .fetch_one(tx.conn())
    .await?;
    Ok(u64::try_from(found).unwrap_or(0))
}

/// The number of open alerts `user` has not read, of `warehouses` (or all).
pub async fn unread_count(
    tx: &mut TenantTx,
    user: Uuid,
    warehouses: Option<&[Uuid]>,
) -> Result<i64, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select count(*) from alert a
         where a.tenant_id = $1
           and ($3::uuid[] is null or a.warehouse_id is null or a.warehouse_id = any($3))
           and not exists (select 1 from alert_read r where r.tenant_id = a.tenant_id
                           and r.alert_id = a.id and r.user_id = $2)",
    )
    .bind(tenant_id)
    .bind(user)
    .bind(warehouses)
    .fetch_one(tx.conn())
    .await
}
