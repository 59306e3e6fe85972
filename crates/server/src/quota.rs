//! Plan quotas, checked inside the creating transaction.

use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};

/// Fails with `quota_exceeded` when the tenant already has as many enabled users as its
/// plan allows.
pub async fn check_users(tx: &mut TenantTx) -> ApiResult<()> {
    let tenant_id = tx.tenant_id().as_uuid();
    // Two concurrent creations would both see room for one more; a transaction-level
    // advisory lock per (tenant, quota) serializes them without locking the tenant row
    // (which the application role may not update).
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('quota:users:' || $1::text, 0))")
        .bind(tenant_id)
        .execute(tx.conn())
        .await?;
    let (limit, used): (i32, i64) = sqlx::query_as(
        "select p.max_users,
                (select count(*) from app_user u where u.tenant_id = t.id and u.disabled_at is null)
         from tenant t join plan p on p.code = t.plan_code
         where t.id = $1",
    )
    .bind(tenant_id)
    .fetch_one(tx.conn())
    .await?;
    if used >= i64::from(limit) {
        return Err(ApiError::QuotaExceeded {
            resource: "users",
            limit: i64::from(limit),
        });
    }
    Ok(())
}

/// A resource the plan limits (besides users, whose rule differs: enabled ones count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Active warehouses, against `plan.max_warehouses`.
    Warehouses,
    /// Active locations, against `plan.max_locations`.
    Locations,
    /// Active products, against `plan.max_skus`.
    Skus,
    /// Devices not revoked, against `plan.max_devices`.
    Devices,
}

impl Counted {
    /// The name in `quota_exceeded` problems.
    fn resource(self) -> &'static str {
        match self {
            Counted::Warehouses => "warehouses",
            Counted::Locations => "locations",
            Counted::Skus => "skus",
            Counted::Devices => "devices",
        }
    }
}

/// Fails with `quota_exceeded` when the tenant already has as many active records of
/// `what` as its plan allows. Deactivated records do not count (products have history and
/// are never deleted, so deactivating is how a tenant makes room); reactivating one is
/// checked like a creation.
pub async fn check(tx: &mut TenantTx, what: Counted) -> ApiResult<()> {
    let (used, limit) = usage(tx, what).await?;
    if used >= limit {
        return Err(what.exceeded(limit));
    }
    Ok(())
}

impl Counted {
    /// The `quota_exceeded` error of this resource.
    pub fn exceeded(self, limit: i64) -> ApiError {
        ApiError::QuotaExceeded {
            resource: self.resource(),
            limit,
        }
    }
}

/// How many active records of `what` the tenant has, and how many its plan allows,
/// holding the quota's lock until the transaction ends: a bulk write counts before and
/// after itself under one lock (see `crate::bulk::import`).
pub async fn usage(tx: &mut TenantTx, what: Counted) -> ApiResult<(i64, i64)> {
    let tenant_id = tx.tenant_id().as_uuid();
    // Serializes concurrent creations of the same resource, as for users.
    sqlx::query(
        "select pg_advisory_xact_lock(hashtextextended('quota:' || $2 || ':' || $1::text, 0))",
    )
    .bind(tenant_id)
    .bind(what.resource())
    .execute(tx.conn())
    .await?;
    // Fixed SQL per resource (table and column names cannot be bound).
    let sql = match what {
        Counted::Warehouses => {
            "select p.max_warehouses,
                    (select count(*) from warehouse w where w.tenant_id = t.id and w.active)
             from tenant t join plan p on p.code = t.plan_code where t.id = $1"
        }
        Counted::Locations => {
            "select p.max_locations,
                    (select count(*) from location l where l.tenant_id = t.id and l.active)
             from tenant t join plan p on p.code = t.plan_code where t.id = $1"
        }
        Counted::Skus => {
            "select p.max_skus,
                    (select count(*) from product x where x.tenant_id = t.id and x.active)
             from tenant t join plan p on p.code = t.plan_code where t.id = $1"
        }
        Counted::Devices => {
            "select p.max_devices,
                    (select count(*) from device d where d.tenant_id = t.id and d.revoked_at is null)
             from tenant t join plan p on p.code = t.plan_code where t.id = $1"
        }
    };
    let (limit, used): (i32, i64) = sqlx::query_as(sql)
        .bind(tenant_id)
        .fetch_one(tx.conn())
        .await?;
    Ok((used, i64::from(limit)))
}
