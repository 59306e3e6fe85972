//! `tenant_setting` rows (one per tenant).

use crate::db::TenantTx;
use crate::settings::{SETTINGS_COLUMNS, Settings, SettingsChanges};

/// The tenant's settings.
pub async fn get(tx: &mut TenantTx) -> Result<Option<Settings>, sqlx::Error> {
    select(tx, "").await
}

/// The tenant's settings, its row locked (`for update`) until the transaction ends: for a read that
/// decides a write.
pub async fn get_for_update(tx: &mut TenantTx) -> Result<Option<Settings>, sqlx::Error> {
    select(tx, "for update").await
}

/// [`get`] with `lock_clause` (empty or a locking clause) after the query.
async fn select(tx: &mut TenantTx, lock_clause: &str) -> Result<Option<Settings>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {SETTINGS_COLUMNS} from tenant_setting where tenant_id = $1 {lock_clause}"
    ))
    .bind(tenant_id)
    .fetch_optional(tx.conn())
    .await
}

/// Applies `changes`.
pub async fn update(tx: &mut TenantTx, changes: SettingsChanges) -> Result<Settings, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "update tenant_setting set display_name = coalesce($2, display_name),
            timezone = coalesce($3, timezone), locale = coalesce($4, locale),
            product_field_schema = coalesce($5, product_field_schema),
            journal_past_limit_days = coalesce($6, journal_past_limit_days),
            over_receipt_tolerance_pct = coalesce($7, over_receipt_tolerance_pct),
            alert_lot_expiring_days = coalesce($8, alert_lot_expiring_days),
            alert_held_hours = coalesce($9, alert_held_hours),
            alert_device_silent_days = coalesce($10, alert_device_silent_days),
            updated_at = now()
         where tenant_id = $1
         returning {SETTINGS_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(changes.display_name)
    .bind(changes.timezone)
    .bind(changes.locale)
    .bind(changes.product_field_schema)
    .bind(changes.journal_past_limit_days)
    .bind(changes.over_receipt_tolerance_pct)
    .bind(changes.alerts.lot_expiring_days)
    .bind(changes.alerts.held_hours)
    .bind(changes.alerts.device_silent_days)
    .fetch_one(tx.conn())
    .await
}

/// The JSON Schema that products' `custom` objects must match.
pub async fn product_field_schema(tx: &mut TenantTx) -> Result<serde_json::Value, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar("select product_field_schema from tenant_setting where tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(tx.conn())
        .await
}

/// How many days in the past a pushed journal movement may be dated before it is flagged
/// `dated_long_ago` (the default when the tenant has no settings row).
pub async fn journal_past_limit_days(tx: &mut TenantTx) -> Result<i32, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let days: Option<i32> = sqlx::query_scalar(
        "select journal_past_limit_days from tenant_setting where tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(days.unwrap_or(i32::try_from(logiflow_core::JOURNAL_PAST_LIMIT_DAYS_DEFAULT).unwrap_or(30)))
}
