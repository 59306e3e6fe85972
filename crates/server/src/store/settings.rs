//! `tenant_setting` rows (one per tenant).

use crate::db::TenantTx;
use crate::routes::settings::Settings;

/// The tenant's settings, locked for update when `lock`.
pub async fn get(tx: &mut TenantTx, lock: bool) -> Result<Option<Settings>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select display_name, timezone, locale, product_field_schema, updated_at from tenant_setting where tenant_id = $1 {}",
        if lock { "for update" } else { "" }
    ))
    .bind(tenant_id)
    .fetch_optional(tx.conn())
    .await
}

/// Validated changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct SettingsChanges {
    pub display_name: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    /// Already checked to be a valid JSON Schema object.
    pub product_field_schema: Option<serde_json::Value>,
}

/// Applies `changes`.
pub async fn update(tx: &mut TenantTx, changes: SettingsChanges) -> Result<Settings, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "update tenant_setting set display_name = coalesce($2, display_name),
            timezone = coalesce($3, timezone), locale = coalesce($4, locale),
            product_field_schema = coalesce($5, product_field_schema), updated_at = now()
         where tenant_id = $1
         returning display_name, timezone, locale, product_field_schema, updated_at",
    )
    .bind(tenant_id)
    .bind(changes.display_name)
    .bind(changes.timezone)
    .bind(changes.locale)
    .bind(changes.product_field_schema)
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
