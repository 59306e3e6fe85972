//! `import_job` and `import_row` rows, and the set-based statements that apply a
//! validated product import (see `crate::bulk::import`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::bulk::import::{ImportJob, ImportRowView, StagedRow};
use crate::db::TenantTx;

/// Whether a job's validation stopped moving: nothing staged for
/// `crate::bulk::import::STALLED_SECS` seconds (a test keeps the two equal).
macro_rules! stalled {
    () => {
        "progressed_at < now() - interval '300 seconds'"
    };
}

/// The condition of [`stalled!`].
pub const STALLED_CONDITION: &str = stalled!();

/// The job columns; `status` reads `expired` for a job past its expiry that was not
/// committed, and `failed` for a validation that stopped moving ([`stalled!`]).
const JOB_COLUMNS: &str = concat!(
    "id, kind, format, file_name,
    case when status in ('validating', 'ready') and expires_at < now() then 'expired'
         when status = 'validating' and ",
    stalled!(),
    " then 'failed' else status end as status,
    columns, rows_total, rows_done, to_create, to_update, unchanged, errors,
    case when status = 'validating' and ",
    stalled!(),
    " then 'validation stopped (the server restarted or failed); upload the file again'
         else failure end as failure,
    created_at, expires_at, committed_at"
);

/// A job to create.
#[derive(Debug)]
pub struct NewJob<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    pub format: &'a str,
    pub file_name: &'a str,
    pub columns: &'a [String],
    pub rows_total: i32,
    pub created_by: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// Deletes the tenant's jobs that expired without being committed (their rows go with
/// them); committed jobs stay as the record of what was imported.
pub async fn sweep_expired(tx: &mut TenantTx) -> Result<u64, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let done = sqlx::query(
        "delete from import_job where tenant_id = $1 and expires_at < now() and status <> 'committed'",
    )
    .bind(tenant_id)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Inserts a job in state `validating`.
pub async fn insert(tx: &mut TenantTx, job: NewJob<'_>) -> Result<ImportJob, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "insert into import_job (tenant_id, id, kind, format, file_name, columns, rows_total,
             created_by, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         returning {JOB_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(job.id)
    .bind(job.kind)
    .bind(job.format)
    .bind(job.file_name)
    .bind(job.columns)
    .bind(job.rows_total)
    .bind(job.created_by)
    .bind(job.expires_at)
    .fetch_one(tx.conn())
    .await
}

/// One job.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<ImportJob>, sqlx::Error> {
    select(tx, id, "").await
}

/// One job, its row locked: commit holds it so two commits of one job run one after the
/// other.
pub async fn get_for_update(tx: &mut TenantTx, id: Uuid) -> Result<Option<ImportJob>, sqlx::Error> {
    select(tx, id, "for update").await
}

async fn select(
    tx: &mut TenantTx,
    id: Uuid,
    lock_clause: &str,
) -> Result<Option<ImportJob>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {JOB_COLUMNS} from import_job where tenant_id = $1 and id = $2 {lock_clause}"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// Stages validated rows in one statement (`unnest` of one array per column) and
/// advances the job's progress.
pub async fn stage(tx: &mut TenantTx, job_id: Uuid, rows: &[StagedRow]) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let row_no: Vec<i32> = rows.iter().map(|r| r.row_no).collect();
    let action: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    let target: Vec<Option<Uuid>> = rows.iter().map(|r| r.target_id).collect();
    let data: Vec<Option<serde_json::Value>> = rows.iter().map(|r| r.data.clone()).collect();
    let errors: Vec<Option<serde_json::Value>> = rows
        .iter()
        .map(|r| (!r.errors.is_empty()).then(|| serde_json::json!(r.errors)))
        .collect();
    sqlx::query(
        "insert into import_row (tenant_id, job_id, row_no, action, target_id, data, errors)
         select $1, $2, * from unnest($3::int[], $4::text[], $5::uuid[], $6::jsonb[], $7::jsonb[])",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(&row_no)
    .bind(&action)
    .bind(&target)
    .bind(&data)
    .bind(&errors)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "update import_job set rows_done = rows_done + $3, progressed_at = now()
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(i32::try_from(rows.len()).unwrap_or(i32::MAX))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Marks the job `ready` with its counts, read from its staged rows.
pub async fn finish(tx: &mut TenantTx, job_id: Uuid) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(concat!(
        "update import_job j set status = 'ready',
             to_create = c.creates, to_update = c.updates, unchanged = c.unchanged, errors = c.errors
         from (select count(*) filter (where action = 'create')::int as creates,
                      count(*) filter (where action = 'update')::int as updates,
                      count(*) filter (where action = 'unchanged')::int as unchanged,
                      count(*) filter (where action = 'error')::int as errors
               from import_row where tenant_id = $1 and job_id = $2) c
         where j.tenant_id = $1 and j.id = $2 and not j.",
        stalled!()
    ))
    .bind(tenant_id)
    .bind(job_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Notes that a job waiting for its turn to validate is alive.
pub async fn touch(tx: &mut TenantTx, job_id: Uuid) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query("update import_job set progressed_at = now() where tenant_id = $1 and id = $2")
        .bind(tenant_id)
        .bind(job_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Marks the job `failed` (a server-side failure while validating).
pub async fn fail(tx: &mut TenantTx, job_id: Uuid, failure: &str) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "update import_job set status = 'failed', failure = $3 where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(failure)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A page of the job's rows after row `after`, ordered by row; only rows with errors
/// when `errors_only`.
pub async fn rows(
    tx: &mut TenantTx,
    job_id: Uuid,
    errors_only: bool,
    after: Option<i32>,
    limit: i64,
) -> Result<Vec<ImportRowView>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select row_no as row, action, coalesce(errors, '[]') as errors from import_row
         where tenant_id = $1 and job_id = $2 and (not $3 or action = 'error')
           and row_no > coalesce($4, 0)
         order by row_no limit $5",
    )
    .bind(tenant_id)
    .bind(job_id)
    .bind(errors_only)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// The staged rows a commit writes (to create or update), in row order: row number,
/// target and data.
pub async fn to_write(
    tx: &mut TenantTx,
    job_id: Uuid,
) -> Result<Vec<(i32, Option<Uuid>, serde_json::Value)>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select row_no, target_id, data from import_row
         where tenant_id = $1 and job_id = $2 and action in ('create', 'update')
         order by row_no",
    )
    .bind(tenant_id)
    .bind(job_id)
    .fetch_all(tx.conn())
    .await
}

/// Those of `references` of orders of `kind` imported before.
pub async fn imported_orders(
    tx: &mut TenantTx,
    kind: &str,
    references: &[String],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let found: Vec<String> = sqlx::query_scalar(
        "select i.reference from unnest($3::text[]) as r(reference)
         join imported_order i on i.tenant_id = $1 and i.kind = $2 and i.reference = r.reference",
    )
    .bind(tenant_id)
    .bind(kind)
    .bind(references)
    .fetch_all(tx.conn())
    .await?;
    Ok(found.into_iter().collect())
}

/// Takes a transaction lock on each of `references` of orders of `kind`, in order, so two
/// commits naming the same order run one after the other.
pub async fn lock_references(
    tx: &mut TenantTx,
    kind: &str,
    references: &[String],
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let mut sorted = references.to_vec();
    sorted.sort();
    sorted.dedup();
    sqlx::query(
        "select pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2 || '/' || r.reference, 0))
         from unnest($3::text[]) with ordinality as r(reference, i) order by r.i",
    )
    .bind(tenant_id)
    .bind(kind)
    .bind(&sorted)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Remembers that the order `order_id` was imported as `reference`.
pub async fn remember_order(
    tx: &mut TenantTx,
    kind: &str,
    reference: &str,
    order_id: Uuid,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "insert into imported_order (tenant_id, kind, reference, order_id) values ($1, $2, $3, $4)",
    )
    .bind(tenant_id)
    .bind(kind)
    .bind(reference)
    .bind(order_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Writes the staged products of a ready job: creations, updates (every field), their
/// barcodes (an update's set replaced), and a catalog change per written product, each
/// one set-based statement. A barcode or SKU that another writer took since validation
/// fails the statement (a unique violation: 409), and the caller's transaction with it.
pub async fn apply_products(tx: &mut TenantTx, job_id: Uuid) -> Result<(), sqlx::Error> {
    let statements = [
        "insert into product (tenant_id, id, sku, name, uom, lot_tracked, expiry_policy,
             reorder_point, reorder_qty, cost, price, custom, active)
         select $1, r.target_id, d->>'sku', d->>'name', d->>'uom', (d->>'lot_tracked')::boolean,
             d->>'expiry_policy', (d->>'reorder_point')::bigint, (d->>'reorder_qty')::bigint,
             (d->>'cost')::numeric, (d->>'price')::numeric, d->'custom', (d->>'active')::boolean
         from import_row r cross join lateral (select r.data as d) x
         where r.tenant_id = $1 and r.job_id = $2 and r.action = 'create'
         order by r.row_no",
        "update product p set sku = d->>'sku', name = d->>'name', uom = d->>'uom',
             lot_tracked = (d->>'lot_tracked')::boolean, expiry_policy = d->>'expiry_policy',
             reorder_point = (d->>'reorder_point')::bigint, reorder_qty = (d->>'reorder_qty')::bigint,
             cost = (d->>'cost')::numeric, price = (d->>'price')::numeric, custom = d->'custom',
             active = (d->>'active')::boolean, updated_at = now()
         from (select target_id, data as d from import_row
               where tenant_id = $1 and job_id = $2 and action = 'update') r
         where p.tenant_id = $1 and p.id = r.target_id",
        "delete from product_barcode b using import_row r
         where b.tenant_id = $1 and r.tenant_id = $1 and r.job_id = $2 and r.action = 'update'
           and b.product_id = r.target_id",
        "insert into product_barcode (tenant_id, barcode, product_id)
         select $1, jsonb_array_elements_text(r.data->'barcodes'), r.target_id from import_row r
         where r.tenant_id = $1 and r.job_id = $2 and r.action in ('create', 'update')",
        "insert into catalog_change (tenant_id, entity, entity_id, warehouse_id, op)
         select $1, 'product', r.target_id, null, 'upsert' from import_row r
         where r.tenant_id = $1 and r.job_id = $2 and r.action in ('create', 'update')
         order by r.row_no",
    ];
    run(tx, job_id, &statements).await
}

/// Marks the job committed and drops its staged rows.
pub async fn mark_committed(tx: &mut TenantTx, job_id: Uuid) -> Result<ImportJob, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query("delete from import_row where tenant_id = $1 and job_id = $2")
        .bind(tenant_id)
        .bind(job_id)
        .execute(tx.conn())
        .await?;
    sqlx::query_as(&format!(
        "update import_job set status = 'committed', committed_at = now()
         where tenant_id = $1 and id = $2 returning {JOB_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(job_id)
    .fetch_one(tx.conn())
    .await
}

/// Writes the staged locations of a ready job: updates (name, active), then creations a
/// level at a time from the top (a new location's parent, by path, may be one created
/// by the level before), and a catalog change per written location. Answers the number
/// of creations that found no parent (deleted since validation) — the caller refuses
/// the import then — and whether a new location's parent holds stock now (share-locking
/// those stock rows, as a single creation does).
pub async fn apply_locations(tx: &mut TenantTx, job_id: Uuid) -> Result<(i64, bool), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "update location l set name = r.data->>'name', active = (r.data->>'active')::boolean,
             updated_at = now()
         from import_row r
         where r.tenant_id = $1 and r.job_id = $2 and r.action = 'update'
           and l.tenant_id = $1 and l.id = r.target_id",
    )
    .bind(tenant_id)
    .bind(job_id)
    .execute(tx.conn())
    .await?;
    let depths: Vec<i32> = sqlx::query_scalar(
        "select distinct (data->>'depth')::int as d from import_row
         where tenant_id = $1 and job_id = $2 and action = 'create' order by d",
    )
    .bind(tenant_id)
    .bind(job_id)
    .fetch_all(tx.conn())
    .await?;
    let mut orphans = 0i64;
    for depth in depths {
        let expected: i64 = sqlx::query_scalar(
            "select count(*) from import_row
             where tenant_id = $1 and job_id = $2 and action = 'create'
               and (data->>'depth')::int = $3",
        )
        .bind(tenant_id)
        .bind(job_id)
        .bind(depth)
        .fetch_one(tx.conn())
        .await?;
        let done = sqlx::query(
            "insert into location (tenant_id, id, warehouse_id, parent_id, code, name, path, depth,
                 active)
             select $1, r.target_id, w.id, p.id, d->>'code', d->>'name', d->>'path', $3,
                 (d->>'active')::boolean
             from import_row r
             cross join lateral (select r.data as d) x
             join warehouse w on w.tenant_id = $1 and w.id = (d->>'warehouse_id')::uuid
             left join location p on p.tenant_id = $1 and p.warehouse_id = w.id
                 and p.path = d->>'parent_path'
             where r.tenant_id = $1 and r.job_id = $2 and r.action = 'create'
               and (d->>'depth')::int = $3 and ($3 = 0 or p.id is not null)
             order by r.row_no",
        )
        .bind(tenant_id)
        .bind(job_id)
        .bind(depth)
        .execute(tx.conn())
        .await?;
        orphans += expected - i64::try_from(done.rows_affected()).unwrap_or(i64::MAX);
    }
    let stocked: Option<Uuid> = sqlx::query_scalar(
        "select s.location_id from import_row r
         join location l on l.tenant_id = $1 and l.id = r.target_id
         join stock_row s on s.tenant_id = $1 and s.location_id = l.parent_id
         where r.tenant_id = $1 and r.job_id = $2 and r.action = 'create'
           and (s.on_hand <> 0 or s.allocated <> 0)
         limit 1 for share of s",
    )
    .bind(tenant_id)
    .bind(job_id)
    .fetch_optional(tx.conn())
    .await?;
    sqlx::query(
        "insert into catalog_change (tenant_id, entity, entity_id, warehouse_id, op)
         select $1, 'location', r.target_id, (r.data->>'warehouse_id')::uuid, 'upsert'
         from import_row r
         where r.tenant_id = $1 and r.job_id = $2 and r.action in ('create', 'update')
         order by (r.data->>'depth')::int, r.row_no",
    )
    .bind(tenant_id)
    .bind(job_id)
    .execute(tx.conn())
    .await?;
    Ok((orphans, stocked.is_some()))
}

/// Writes the staged lots of a ready job (creations, new expiry dates) and a catalog
/// change per written lot. Answers whether a product of a new lot is no longer
/// lot-tracked (its row share-locked, so lot tracking cannot be turned off while the
/// import commits).
pub async fn apply_lots(tx: &mut TenantTx, job_id: Uuid) -> Result<bool, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    // Share-lock the products of the new lots, in id order like every product lock.
    sqlx::query(
        "select p.id from import_row r
         join product p on p.tenant_id = $1 and p.id = (r.data->>'product_id')::uuid
         where r.tenant_id = $1 and r.job_id = $2 and r.action = 'create'
         order by p.id for share of p",
    )
    .bind(tenant_id)
    .bind(job_id)
    .execute(tx.conn())
    .await?;
    let untracked: bool = sqlx::query_scalar(
        "select exists (select 1 from import_row r
             join product p on p.tenant_id = $1 and p.id = (r.data->>'product_id')::uuid
             where r.tenant_id = $1 and r.job_id = $2 and r.action = 'create'
               and not p.lot_tracked)",
    )
    .bind(tenant_id)
    .bind(job_id)
    .fetch_one(tx.conn())
    .await?;
    let statements = [
        "insert into lot (tenant_id, id, product_id, code, expires_on)
         select $1, r.target_id, (r.data->>'product_id')::uuid, r.data->>'code',
             (r.data->>'expires_on')::date
         from import_row r where r.tenant_id = $1 and r.job_id = $2 and r.action = 'create'
         order by r.row_no",
        "update lot l set expires_on = (r.data->>'expires_on')::date, updated_at = now()
         from import_row r
         where r.tenant_id = $1 and r.job_id = $2 and r.action = 'update'
           and l.tenant_id = $1 and l.id = r.target_id",
        "insert into catalog_change (tenant_id, entity, entity_id, warehouse_id, op)
         select $1, 'lot', r.target_id, null, 'upsert' from import_row r
         where r.tenant_id = $1 and r.job_id = $2 and r.action in ('create', 'update')
         order by r.row_no",
    ];
    run(tx, job_id, &statements).await?;
    Ok(untracked)
}

/// Writes the staged suppliers or customers (`kind`) of a ready job: creations and
/// updates of every field.
pub async fn apply_parties(tx: &mut TenantTx, job_id: Uuid, kind: &str) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let statements = [
        "insert into party (tenant_id, id, kind, code, name, email, phone, address,
             lead_time_days, min_shelf_life_days, active)
         select $1, r.target_id, $3, d->>'code', d->>'name', d->>'email', d->>'phone',
             d->>'address', (d->>'lead_time_days')::int, (d->>'min_shelf_life_days')::int,
             (d->>'active')::boolean
         from import_row r cross join lateral (select r.data as d) x
         where r.tenant_id = $1 and r.job_id = $2 and r.action = 'create'
         order by r.row_no",
        "update party p set name = d->>'name', email = d->>'email', phone = d->>'phone',
             address = d->>'address', lead_time_days = (d->>'lead_time_days')::int,
             min_shelf_life_days = (d->>'min_shelf_life_days')::int,
             active = (d->>'active')::boolean, updated_at = now()
         from (select target_id, data as d from import_row
               where tenant_id = $1 and job_id = $2 and action = 'update') r
         where p.tenant_id = $1 and p.id = r.target_id and p.kind = $3",
    ];
    for sql in statements {
        sqlx::query(sql)
            .bind(tenant_id)
            .bind(job_id)
            .bind(kind)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// Runs `statements`, each taking the tenant (`$1`) and the job (`$2`).
async fn run(tx: &mut TenantTx, job_id: Uuid, statements: &[&str]) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    for sql in statements {
        sqlx::query(sql)
            .bind(tenant_id)
            .bind(job_id)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stalled_condition_is_stalled_secs() {
        assert!(
            super::STALLED_CONDITION
                .contains(&format!("'{} seconds'", crate::bulk::import::STALLED_SECS)),
            "{}",
            super::STALLED_CONDITION
        );
    }
}
