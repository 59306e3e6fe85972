//! `warehouse` rows.

use uuid::Uuid;

use crate::catalog::warehouse::Warehouse;
use crate::db::TenantTx;

const COLUMNS: &str = "id, code, name, timezone, address, active, created_at, updated_at";

/// Warehouses after `after` (by id), at most `limit`, optionally only (in)active ones.
pub async fn list(
    tx: &mut TenantTx,
    active: Option<bool>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Warehouse>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {COLUMNS} from warehouse
         where tenant_id = $1 and ($2::uuid is null or id > $2)
           and ($3::boolean is null or active = $3)
         order by id limit $4"
    ))
    .bind(tenant_id)
    .bind(after)
    .bind(active)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Every warehouse's id by its code (an import names warehouses by code).
pub async fn ids_by_code(
    tx: &mut TenantTx,
) -> Result<std::collections::HashMap<String, Uuid>, sqlx::Error> {
    Ok(list(tx, None, None, i64::from(i32::MAX))
        .await?
        .into_iter()
        .map(|w| (w.code, w.id))
        .collect())
}

/// One warehouse.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<Warehouse>, sqlx::Error> {
    super::row_by_id(tx, "warehouse", COLUMNS, id, "").await
}

/// One warehouse, its row locked (`for update`) until the transaction ends: for a read that
/// decides a write.
pub async fn get_for_update(tx: &mut TenantTx, id: Uuid) -> Result<Option<Warehouse>, sqlx::Error> {
    super::row_by_id(tx, "warehouse", COLUMNS, id, "for update").await
}

/// A validated new warehouse.
#[derive(Debug)]
pub struct NewWarehouse {
    pub code: String,
    pub name: String,
    pub timezone: String,
    pub address: String,
}

/// Inserts a warehouse with a fresh UUIDv7.
pub async fn insert(tx: &mut TenantTx, w: NewWarehouse) -> Result<Warehouse, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "insert into warehouse (tenant_id, id, code, name, timezone, address)
         values ($1, $2, $3, $4, $5, $6) returning {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(w.code)
    .bind(w.name)
    .bind(w.timezone)
    .bind(w.address)
    .fetch_one(tx.conn())
    .await
}

/// Validated changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct WarehouseChanges {
    pub code: Option<String>,
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub address: Option<String>,
    pub active: Option<bool>,
}

/// Applies `changes`.
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    c: WarehouseChanges,
) -> Result<Warehouse, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "update warehouse set code = coalesce($3, code), name = coalesce($4, name),
            timezone = coalesce($5, timezone), address = coalesce($6, address),
            active = coalesce($7, active), updated_at = now()
         where tenant_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(c.code)
    .bind(c.name)
    .bind(c.timezone)
    .bind(c.address)
    .bind(c.active)
    .fetch_one(tx.conn())
    .await
}
