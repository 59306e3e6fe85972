//! `catalog_change` rows: one per created, changed or deleted catalog record, written in
//! the transaction of the write, for devices to pull (DESIGN §5.5).

use serde::Serialize;
use uuid::Uuid;

use crate::db::TenantTx;
use crate::error::ApiResult;

/// The kind of catalog record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Warehouse,
    Location,
    Product,
    Lot,
    /// A purchase order, with its lines (scoped by its warehouse).
    PurchaseOrder,
    /// A sales order, with its lines and reservations (scoped by its warehouse).
    SalesOrder,
}

impl Entity {
    fn as_str(self) -> &'static str {
        match self {
            Entity::Warehouse => "warehouse",
            Entity::Location => "location",
            Entity::Product => "product",
            Entity::Lot => "lot",
            Entity::PurchaseOrder => "purchase_order",
            Entity::SalesOrder => "sales_order",
        }
    }
}

/// Records that `entity_id` was created or changed: a pull reads its current row.
/// `warehouse_id` scopes warehouse-bound records (warehouses, locations, purchase
/// orders).
pub async fn upsert(
    tx: &mut TenantTx,
    entity: Entity,
    entity_id: Uuid,
    warehouse_id: Option<Uuid>,
) -> ApiResult<()> {
    insert(tx, entity, entity_id, warehouse_id, "upsert").await
}

/// Records that each of `ids` (all in `warehouse_id`, or unscoped) was created or
/// changed, in one statement.
pub async fn upsert_many(
    tx: &mut TenantTx,
    entity: Entity,
    ids: &[Uuid],
    warehouse_id: Option<Uuid>,
) -> ApiResult<()> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "insert into catalog_change (tenant_id, entity, entity_id, warehouse_id, op)
         select $1, $2, i.id, $4, 'upsert'
         from unnest($3::uuid[]) with ordinality as i(id, ord) order by i.ord",
    )
    .bind(tenant_id)
    .bind(entity.as_str())
    .bind(ids)
    .bind(warehouse_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records that `entity_id` was deleted.
pub async fn delete(
    tx: &mut TenantTx,
    entity: Entity,
    entity_id: Uuid,
    warehouse_id: Option<Uuid>,
) -> ApiResult<()> {
    insert(tx, entity, entity_id, warehouse_id, "delete").await
}

async fn insert(
    tx: &mut TenantTx,
    entity: Entity,
    entity_id: Uuid,
    warehouse_id: Option<Uuid>,
    op: &str,
) -> ApiResult<()> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "insert into catalog_change (tenant_id, entity, entity_id, warehouse_id, op)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(entity.as_str())
    .bind(entity_id)
    .bind(warehouse_id)
    .bind(op)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// What every catalog write records besides itself, in its transaction: the audit entry
/// (before/after) and the change row devices pull. `after` is `None` for a deletion.
#[derive(Debug)]
pub struct Write<'a, T: Serialize> {
    pub entity: Entity,
    pub id: Uuid,
    pub warehouse_id: Option<Uuid>,
    /// `resource.verb`, e.g. `warehouse.create`.
    pub action: &'a str,
    pub before: Option<&'a T>,
    pub after: Option<&'a T>,
}

/// Audits `write` and appends its catalog change.
pub async fn record<T: Serialize>(
    tx: &mut TenantTx,
    principal: &crate::access::Principal,
    write: Write<'_, T>,
) -> ApiResult<()> {
    crate::audit_log::record(
        tx,
        principal,
        crate::audit_log::Entry {
            action: write.action,
            target_type: write.entity.as_str(),
            target_id: Some(write.id.to_string()),
            before: write.before.and_then(crate::audit_log::snapshot),
            after: write.after.and_then(crate::audit_log::snapshot),
        },
    )
    .await?;
    match write.after {
        Some(_) => upsert(tx, write.entity, write.id, write.warehouse_id).await,
        None => delete(tx, write.entity, write.id, write.warehouse_id).await,
    }
}
