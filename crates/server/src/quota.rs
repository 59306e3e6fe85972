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
