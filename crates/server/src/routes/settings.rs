//! `/v1/settings`: the tenant's settings.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit_log::{self, Entry, snapshot};
use crate::auth::Require;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::rbac::perm;
use crate::routes::problems::{Reads, Writes};
use crate::settings::{AlertThresholds, Settings, SettingsChanges};
use crate::state::AppState;
use crate::store;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, update_settings))
}

/// Changes; absent fields stay as they are.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateSettings {
    pub display_name: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    /// A JSON Schema for products' `custom` object: it must be a valid schema (draft
    /// 2020-12 unless `$schema` says otherwise), self-contained (no remote `$ref`), with
    /// `"type": "object"`. Existing products are not re-checked; each is checked against
    /// the schema in force whenever its custom fields change.
    #[schema(value_type = Option<Object>)]
    pub product_field_schema: Option<serde_json::Value>,
    /// 1 to 3650 days.
    pub journal_past_limit_days: Option<i32>,
    /// 0 to 1000 percent.
    pub over_receipt_tolerance_pct: Option<i32>,
    /// 1 to 365 days.
    pub alert_lot_expiring_days: Option<i32>,
    /// 1 to 720 hours.
    pub alert_held_hours: Option<i32>,
    /// 1 to 365 days.
    pub alert_device_silent_days: Option<i32>,
}

/// Reads the row, or not found.
async fn fetch(tx: &mut TenantTx) -> ApiResult<Settings> {
    store::settings::get(tx).await?.ok_or(ApiError::NotFound)
}

/// [`fetch`], the row locked for update.
async fn fetch_for_update(tx: &mut TenantTx) -> ApiResult<Settings> {
    store::settings::get_for_update(tx)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Reads the settings.
#[utoipa::path(get, path = "/v1/settings", tag = "settings",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the settings (permission settings_read)", body = Settings),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_settings(
    State(state): State<AppState>,
    p: Require<perm::SettingsRead>,
) -> ApiResult<axum::Json<Settings>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let settings = fetch(&mut tx).await?;
    tx.commit().await?;
    Ok(axum::Json(settings))
}

/// Changes the settings.
#[utoipa::path(patch, path = "/v1/settings", tag = "settings", request_body = UpdateSettings,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "updated (permission settings_manage)", body = Settings),
        (status = 400, description = "bad_request (journal_past_limit_days, over_receipt_tolerance_pct, alert_*)"),
        (status = 422, description = "invalid_body, invalid_field_schema"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_settings(
    State(state): State<AppState>,
    p: Require<perm::SettingsManage>,
    ApiJson(req): ApiJson<UpdateSettings>,
) -> ApiResult<axum::Json<Settings>> {
    let changes = SettingsChanges::parse(
        req.display_name.as_deref(),
        req.timezone.as_deref(),
        req.locale.as_deref(),
        req.product_field_schema.as_ref(),
        req.journal_past_limit_days,
        req.over_receipt_tolerance_pct,
        AlertThresholds {
            lot_expiring_days: req.alert_lot_expiring_days,
            held_hours: req.alert_held_hours,
            device_silent_days: req.alert_device_silent_days,
        },
    )?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = fetch_for_update(&mut tx).await?;
    let after = store::settings::update(&mut tx, changes).await?;
    audit_log::record(
        &mut tx,
        &p,
        Entry {
            action: "settings.update",
            target_type: "tenant_setting",
            target_id: Some(p.tenant_id.to_string()),
            before: snapshot(&before),
            after: snapshot(&after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(after))
}
