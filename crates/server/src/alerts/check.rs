//! The scheduled alert check (design in the parent module): claimed once per interval
//! across all instances, then one sweep per kind in each tenant's own transaction.

use chrono::{DateTime, TimeDelta, Utc};
use logiflow_core::TenantId;
use sqlx::PgPool;
use uuid::Uuid;

use super::Swept;
use crate::db::TenantTx;
use crate::store::alerts as store;

/// The `scheduled_check` row of the alert check.
pub const CHECK_NAME: &str = "alerts";

/// Runs the check if no instance has run it in the last `interval` (as of `now`):
/// `None` when another run claimed this interval, else what the sweeps did.
pub async fn run(
    pool: &PgPool,
    now: DateTime<Utc>,
    interval: TimeDelta,
) -> Result<Option<Swept>, sqlx::Error> {
    if !store::claim_check(pool, CHECK_NAME, now, interval).await? {
        return Ok(None);
    }
    let tenants: Vec<Uuid> = sqlx::query_scalar("select id from tenant order by id")
        .fetch_all(pool)
        .await?;
    let mut total = Swept::default();
    for tenant in tenants {
        total.add(sweep_tenant(pool, TenantId::from_uuid(tenant), now).await?);
    }
    Ok(Some(total))
}

/// Every sweep of one tenant as of `now`, in one transaction.
pub async fn sweep_tenant(
    pool: &PgPool,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<Swept, sqlx::Error> {
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let swept = Swept {
        stock_low: store::sweep_stock_low(&mut tx, now).await?,
        lot_expiring: store::sweep_lot_expiring(&mut tx, now).await?,
        conflict_held: store::sweep_conflict_held(&mut tx, now).await?,
        device_silent: store::sweep_device_silent(&mut tx, now).await?,
        webhook_disabled: store::sweep_webhook_disabled(&mut tx, now).await?,
        pruned: store::prune_resolved(
            &mut tx,
            now - TimeDelta::days(super::RESOLVED_RETENTION_DAYS),
        )
        .await?,
    };
    tx.commit().await?;
    Ok(swept)
}
