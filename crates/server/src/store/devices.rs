//! `device` rows.

use uuid::Uuid;

use crate::db::TenantTx;
use crate::devices::Device;

const DEVICE_COLUMNS: &str = "id, user_id, name, platform, warehouse_ids, next_seq, created_at,
    last_push_at, last_pull_at, revoked_at is not null as revoked";

/// A validated new device.
#[derive(Debug)]
pub struct NewDevice<'a> {
    pub user_id: Uuid,
    pub name: &'a str,
    pub platform: &'a str,
    pub warehouse_ids: &'a [Uuid],
}

/// Inserts a device with a fresh UUIDv7.
pub async fn insert(tx: &mut TenantTx, d: NewDevice<'_>) -> Result<Device, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "insert into device (tenant_id, id, user_id, name, platform, warehouse_ids)
         values ($1, $2, $3, $4, $5, $6) returning {DEVICE_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(d.user_id)
    .bind(d.name)
    .bind(d.platform)
    .bind(d.warehouse_ids)
    .fetch_one(tx.conn())
    .await
}

/// How many of `ids` are active warehouses of the tenant.
pub async fn count_warehouses(tx: &mut TenantTx, ids: &[Uuid]) -> Result<i64, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select count(*) from warehouse where tenant_id = $1 and id = any($2) and active",
    )
    .bind(tenant_id)
    .bind(ids)
    .fetch_one(tx.conn())
    .await
}

/// Devices after `after` (by id), at most `limit`.
pub async fn list(
    tx: &mut TenantTx,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Device>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {DEVICE_COLUMNS} from device
         where tenant_id = $1 and ($2::uuid is null or id > $2) order by id limit $3"
    ))
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// One device.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<Device>, sqlx::Error> {
    super::row_by_id(tx, "device", DEVICE_COLUMNS, id, "").await
}

/// One device, its row locked (`for update`) until the transaction ends: for a read that
/// decides a write.
pub async fn get_for_update(tx: &mut TenantTx, id: Uuid) -> Result<Option<Device>, sqlx::Error> {
    super::row_by_id(tx, "device", DEVICE_COLUMNS, id, "for update").await
}

/// Records that `device` pulled now, unless it did less than a minute ago (so a device
/// paging through a snapshot writes the row once).
pub async fn mark_pulled(tx: &mut TenantTx, device: Uuid) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "update device set last_pull_at = now()
         where tenant_id = $1 and id = $2
           and (last_pull_at is null or last_pull_at < now() - interval '1 minute')",
    )
    .bind(tenant_id)
    .bind(device)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The device a session signs in for, if any.
pub async fn by_session(
    tx: &mut TenantTx,
    session_id: Uuid,
) -> Result<Option<Device>, sqlx::Error> {
    select_by_session(tx, session_id, "").await
}

/// The device a session signs in for, if any, its row locked (`for update`) until the transaction ends: for a read that
/// decides a write.
pub async fn by_session_for_update(
    tx: &mut TenantTx,
    session_id: Uuid,
) -> Result<Option<Device>, sqlx::Error> {
    select_by_session(tx, session_id, "for update").await
}

/// [`by_session`] with `lock_clause` (empty or a locking clause) after the query.
async fn select_by_session(
    tx: &mut TenantTx,
    session_id: Uuid,
    lock_clause: &str,
) -> Result<Option<Device>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {DEVICE_COLUMNS} from device
         where tenant_id = $1 and id = (select device_id from session where tenant_id = $1 and id = $2) {lock_clause}"
    ))
    .bind(tenant_id)
    .bind(session_id)
    .fetch_optional(tx.conn())
    .await
}

/// Revokes a device and ends its sessions (its tokens stop working at once).
pub async fn revoke(tx: &mut TenantTx, id: Uuid) -> Result<Option<Device>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "update session set revoked_at = now()
         where tenant_id = $1 and device_id = $2 and revoked_at is null",
    )
    .bind(tenant_id)
    .bind(id)
    .execute(tx.conn())
    .await?;
    sqlx::query_as(&format!(
        "update device set revoked_at = coalesce(revoked_at, now())
         where tenant_id = $1 and id = $2 returning {DEVICE_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// Whether `session_id` belongs to a revoked device (to tell a device why it was refused).
pub async fn session_of_revoked_device(
    tx: &mut TenantTx,
    session_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select exists (select 1 from session s join device d on d.tenant_id = s.tenant_id and d.id = s.device_id
                        where s.tenant_id = $1 and s.id = $2 and d.revoked_at is not null)",
    )
    .bind(tenant_id)
    .bind(session_id)
    .fetch_one(tx.conn())
    .await
}

/// Marks the session as the device's.
pub async fn attach_session(
    tx: &mut TenantTx,
    session_id: Uuid,
    device_id: Uuid,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query("update session set device_id = $3 where tenant_id = $1 and id = $2")
        .bind(tenant_id)
        .bind(session_id)
        .bind(device_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Ends the device's live sessions (a person signing in on it again replaces them: a
/// device has one session at a time); how many were ended.
pub async fn end_sessions(tx: &mut TenantTx, id: Uuid) -> Result<u64, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let done = sqlx::query(
        "update session set revoked_at = now()
         where tenant_id = $1 and device_id = $2 and revoked_at is null",
    )
    .bind(tenant_id)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}
