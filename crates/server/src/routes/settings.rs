//! `/v1/settings`: the tenant's settings.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit_log::{self, Entry, snapshot};
use crate::auth::Require;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiJson;
use crate::rbac::perm;
use crate::routes::users::validate_name;
use crate::state::AppState;
use crate::store;

/// Longest time zone or locale name.
const CODE_LEN_MAX: usize = 64;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, update_settings))
}

/// Tenant-wide settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Settings {
    /// Name shown in the apps.
    pub display_name: String,
    /// IANA time zone used for reports, e.g. `Europe/Paris`.
    pub timezone: String,
    /// Default locale (BCP 47), e.g. `en`.
    pub locale: String,
    /// The JSON Schema (an object schema) each product's `custom` fields must match.
    #[schema(value_type = Object)]
    pub product_field_schema: serde_json::Value,
    /// A device's journal movement dated more than this many days before the server
    /// receives it is applied but flagged `dated_long_ago` for review (1 to 3650;
    /// default 30).
    pub journal_past_limit_days: i32,
    pub updated_at: DateTime<Utc>,
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
}

/// Bounds of `journal_past_limit_days`, in days (ten years at most).
pub const JOURNAL_PAST_LIMIT_DAYS_MAX: i32 = 3650;

/// Largest product field schema, in bytes of JSON.
pub const FIELD_SCHEMA_LEN_MAX: usize = 64 * 1024;

/// Checks that `schema` is a JSON Schema for an object that the validator compiles.
pub fn validate_field_schema(schema: &serde_json::Value) -> ApiResult<serde_json::Value> {
    if schema.to_string().len() > FIELD_SCHEMA_LEN_MAX {
        return Err(ApiError::InvalidFieldSchema(format!(
            "at most {FIELD_SCHEMA_LEN_MAX} bytes of JSON"
        )));
    }
    if schema.get("type").and_then(|t| t.as_str()) != Some("object") {
        return Err(ApiError::InvalidFieldSchema(
            "it must be a JSON object with \"type\": \"object\"".into(),
        ));
    }
    jsonschema::meta::validate(schema).map_err(|e| ApiError::InvalidFieldSchema(e.to_string()))?;
    jsonschema::validator_for(schema).map_err(|e| ApiError::InvalidFieldSchema(e.to_string()))?;
    Ok(schema.clone())
}

async fn fetch(tx: &mut TenantTx, lock: bool) -> ApiResult<Settings> {
    store::settings::get(tx, lock)
        .await?
        .ok_or(ApiError::NotFound)
}

fn validate_code(field: &str, v: &str) -> ApiResult<String> {
    let ok = !v.is_empty()
        && v.len() <= CODE_LEN_MAX
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ApiError::BadRequest(format!("invalid {field}")))
    }
}

/// Reads the settings.
#[utoipa::path(get, path = "/v1/settings", tag = "settings",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the settings (permission settings_read)", body = Settings),
        (status = 401, description = "unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_settings(
    State(state): State<AppState>,
    p: Require<perm::SettingsRead>,
) -> ApiResult<axum::Json<Settings>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let settings = fetch(&mut tx, false).await?;
    tx.commit().await?;
    Ok(axum::Json(settings))
}

/// Changes the settings.
#[utoipa::path(patch, path = "/v1/settings", tag = "settings", request_body = UpdateSettings,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "updated (permission settings_manage)", body = Settings),
        (status = 400, description = "bad_request (journal_past_limit_days)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden, subscription_expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_body, invalid_field_schema", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_settings(
    State(state): State<AppState>,
    p: Require<perm::SettingsManage>,
    ApiJson(req): ApiJson<UpdateSettings>,
) -> ApiResult<axum::Json<Settings>> {
    let display_name = req.display_name.as_deref().map(validate_name).transpose()?;
    let timezone = req
        .timezone
        .as_deref()
        // A real IANA zone (chrono-tz), as warehouses' time zones are.
        .map(crate::routes::warehouses::validate_timezone)
        .transpose()?;
    let locale = req
        .locale
        .as_deref()
        .map(|v| validate_code("locale", v))
        .transpose()?;
    let product_field_schema = req
        .product_field_schema
        .as_ref()
        .map(validate_field_schema)
        .transpose()?;
    if let Some(days) = req.journal_past_limit_days
        && !(1..=JOURNAL_PAST_LIMIT_DAYS_MAX).contains(&days)
    {
        return Err(ApiError::BadRequest(format!(
            "journal_past_limit_days must be between 1 and {JOURNAL_PAST_LIMIT_DAYS_MAX}"
        )));
    }
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = fetch(&mut tx, true).await?;
    let after = store::settings::update(
        &mut tx,
        store::settings::SettingsChanges {
            display_name,
            timezone,
            locale,
            product_field_schema,
            journal_past_limit_days: req.journal_past_limit_days,
        },
    )
    .await?;
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
