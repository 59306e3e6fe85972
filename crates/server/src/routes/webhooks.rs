//! `/v1/webhook-endpoints` and `/v1/webhook-deliveries`: a tenant's webhook endpoints,
//! their signing secrets, delivery log and dead-letter replays (admin only: permission
//! `settings_manage`). Delivery itself is `crate::webhooks`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit_log::{self, Entry, snapshot};
use crate::auth::Require;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::rbac::perm;
use crate::routes::problems::{Reads, Writes};
use crate::state::AppState;
use crate::store;
use crate::store::webhooks::EndpointFields;
use crate::webhooks::{
    Attempt, DeliveryState, EVENT_TYPES, Endpoint, EndpointKind, address, signing,
};

/// Longest endpoint description, in characters.
pub const DESCRIPTION_LEN_MAX: usize = 500;
/// Default and longest grace period of a rotated secret, in seconds (1 and 7 days).
pub const ROTATION_GRACE_SECS_DEFAULT: i64 = 24 * 3600;
pub const ROTATION_GRACE_SECS_MAX: i64 = 7 * 24 * 3600;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_attempts))
        .routes(routes!(replay_dead))
        .routes(routes!(replay_delivery))
}

/// A page of endpoints.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointPage {
    pub items: Vec<Endpoint>,
    pub next_cursor: Option<String>,
}

/// A page of an endpoint's delivery log, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptPage {
    pub items: Vec<Attempt>,
    pub next_cursor: Option<String>,
}

/// A new endpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateEndpoint {
    /// An https URL that resolves to a public address.
    pub url: String,
    /// `standard` (default: the event as JSON) or `slack` (a Slack-compatible incoming
    /// webhook: the event as a chat message).
    #[serde(default)]
    pub kind: EndpointKind,
    #[serde(default)]
    pub description: String,
    /// The event types to send (`movement.recorded`, `stock.low`, …; an unknown one
    /// answers 400 with the list); absent or null for every type.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Changes to an endpoint; absent fields keep their value. `event_types: null` sends
/// every type.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateEndpoint {
    pub url: Option<String>,
    pub kind: Option<EndpointKind>,
    pub description: Option<String>,
    #[serde(default, with = "super::products::double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub event_types: Option<Option<Vec<String>>>,
    pub active: Option<bool>,
}

/// An endpoint with its signing secret, in the answers that create or rotate it (the
/// only times the secret is shown).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_` and base64: the key of the `webhook-signature` HMAC. Absent from a
    /// creation replayed by its Idempotency-Key (it is not stored with the answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A secret rotation.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct RotateSecret {
    /// How long the previous secret keeps signing, in seconds (0 to 604,800; default
    /// 86,400). 0 drops it at once.
    pub grace_secs: Option<i64>,
}

/// Deliveries put back in the queue.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Replayed {
    pub replayed: usize,
}

/// Checks a request's fields; resolves the URL's host (refused addresses, see
/// `crate::webhooks::address`).
async fn validate(
    state: &AppState,
    url: &str,
    description: &str,
    event_types: Option<&[String]>,
) -> ApiResult<()> {
    address::check_url_resolved(url, state.config.webhook_address_policy())
        .await
        .map_err(|e| ApiError::InvalidWebhookUrl(e.0))?;
    if description.chars().count() > DESCRIPTION_LEN_MAX {
        return Err(ApiError::BadRequest(format!(
            "a description has at most {DESCRIPTION_LEN_MAX} characters"
        )));
    }
    if let Some(types) = event_types {
        if types.is_empty() {
            return Err(ApiError::BadRequest(
                "event_types lists at least one type, or is null for all".into(),
            ));
        }
        if let Some(unknown) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
            return Err(ApiError::BadRequest(format!(
                "unknown event type {unknown:?}; known: {}",
                EVENT_TYPES.join(", ")
            )));
        }
    }
    Ok(())
}

/// One endpoint, or not found.
async fn endpoint_of(tx: &mut TenantTx, id: uuid::Uuid) -> ApiResult<Endpoint> {
    store::webhooks::get_endpoint(tx, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// One endpoint locked for a write that depends on it, or not found.
async fn endpoint_for_update(tx: &mut TenantTx, id: uuid::Uuid) -> ApiResult<Endpoint> {
    store::webhooks::get_endpoint_for_update(tx, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Lists webhook endpoints, oldest first.
#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", params(PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of endpoints (permission settings_manage)", body = EndpointPage),
        (status = 400, description = "bad_request (limit, cursor)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_endpoints(
    State(state): State<AppState>,
    p: Require<perm::SettingsManage>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<EndpointPage>> {
    let limit = q.limit()?;
    let after = q.after()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::webhooks::list_endpoints(&mut tx, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |e| e.id);
    Ok(axum::Json(EndpointPage { items, next_cursor }))
}

/// Creates an endpoint; the answer shows its signing secret, once.
#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", request_body = CreateEndpoint,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created (permission settings_manage); `secret` is shown once", body = EndpointWithSecret),
        (status = 400, description = "bad_request (description, event types)"),
        (status = 422, description = "invalid_webhook_url, invalid_body, idempotency_key_reused"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_endpoint(
    State(state): State<AppState>,
    p: Require<perm::SettingsManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<CreateEndpoint>,
) -> ApiResult<Response> {
    let hash = state.request_hash("/v1/webhook-endpoints", &req);
    validate(
        &state,
        &req.url,
        &req.description,
        req.event_types.as_deref(),
    )
    .await?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let secret = signing::generate_secret();
    let fields = EndpointFields {
        url: &req.url,
        kind: req.kind,
        description: &req.description,
        event_types: req.event_types.as_deref(),
        active: req.active,
    };
    let endpoint = store::webhooks::insert_endpoint(&mut tx, fields, &secret).await?;
    audit(
        &mut tx,
        &p,
        "webhook_endpoint.create",
        None,
        Some(&endpoint),
    )
    .await?;
    let stored = EndpointWithSecret {
        endpoint,
        secret: None,
    };
    let stored_body = serde_json::to_value(&stored).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &stored_body)
        .await?;
    tx.commit().await?;
    let created = EndpointWithSecret {
        secret: Some(secret),
        ..stored
    };
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

async fn audit(
    tx: &mut TenantTx,
    p: &crate::auth::Principal,
    action: &str,
    before: Option<&Endpoint>,
    after: Option<&Endpoint>,
) -> ApiResult<()> {
    let id = after.or(before).map(|e| e.id.to_string());
    audit_log::record(
        tx,
        p,
        Entry {
            action,
            target_type: "webhook_endpoint",
            target_id: id,
            before: before.and_then(snapshot),
            after: after.and_then(snapshot),
        },
    )
    .await
}

/// One endpoint.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the endpoint (permission settings_manage)", body = Endpoint),
        (status = 404, description = "not_found (also for other tenants' endpoints)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_endpoint(
    State(state): State<AppState>,
    p: Require<perm::SettingsManage>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Endpoint>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let endpoint = endpoint_of(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(endpoint))
}

/// Changes an endpoint (URL, kind, description, event types, active).
#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    request_body = UpdateEndpoint,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "changed (permission settings_manage)", body = Endpoint),
        (status = 400, description = "bad_request (description, event types)"),
        (status = 404, description = "not_found (also for other tenants' endpoints)"),
        (status = 422, description = "invalid_webhook_url, invalid_body"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_endpoint(
    State(state): State<AppState>,
    p: Require<perm::SettingsManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateEndpoint>,
) -> ApiResult<axum::Json<Endpoint>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = endpoint_for_update(&mut tx, id).await?;
    let url = req.url.unwrap_or_else(|| before.url.clone());
    let description = req
        .description
        .unwrap_or_else(|| before.description.clone());
    let event_types = req
        .event_types
        .unwrap_or_else(|| before.event_types.clone());
    validate(&state, &url, &description, event_types.as_deref()).await?;
    let fields = EndpointFields {
        url: &url,
        kind: req.kind.unwrap_or(before.kind),
        description: &description,
        event_types: event_types.as_deref(),
        active: req.active.unwrap_or(before.active),
    };
    let after = store::webhooks::update_endpoint(&mut tx, id, fields).await?;
    audit(
        &mut tx,
        &p,
        "webhook_endpoint.update",
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(after))
}

/// Deletes an endpoint, its pending deliveries and its delivery log.
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "deleted (permission settings_manage)"),
        (status = 404, description = "not_found (also for other tenants' endpoints)"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    p: Require<perm::SettingsManage>,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = endpoint_for_update(&mut tx, id).await?;
    store::webhooks::delete_endpoint(&mut tx, id).await?;
    audit(&mut tx, &p, "webhook_endpoint.delete", Some(&before), None).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the signing secret; the previous one keeps signing for the grace period
/// (both signatures are sent), so receivers switch without losing events.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks",
    params(("id" = Uuid, Path)), request_body = RotateSecret,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "rotated (permission settings_manage); the new `secret` is shown once", body = EndpointWithSecret),
        (status = 400, description = "bad_request (grace_secs)"),
        (status = 422, description = "invalid_body"),
        (status = 404, description = "not_found (also for other tenants' endpoints)"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    p: Require<perm::SettingsManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<RotateSecret>,
) -> ApiResult<axum::Json<EndpointWithSecret>> {
    let grace = req.grace_secs.unwrap_or(ROTATION_GRACE_SECS_DEFAULT);
    if !(0..=ROTATION_GRACE_SECS_MAX).contains(&grace) {
        return Err(ApiError::BadRequest(format!(
            "grace_secs must be between 0 and {ROTATION_GRACE_SECS_MAX}"
        )));
    }
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = endpoint_for_update(&mut tx, id).await?;
    let secret = signing::generate_secret();
    let until = Utc::now() + TimeDelta::seconds(grace);
    let after = store::webhooks::rotate_secret(&mut tx, id, &secret, until).await?;
    audit(
        &mut tx,
        &p,
        "webhook_endpoint.rotate_secret",
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(EndpointWithSecret {
        endpoint: after,
        secret: Some(secret),
    }))
}

/// The endpoint's delivery log: every attempt, newest first.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}/attempts", tag = "webhooks",
    params(("id" = Uuid, Path), PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of attempts (permission settings_manage)", body = AttemptPage),
        (status = 400, description = "bad_request (limit, cursor)"),
        (status = 404, description = "not_found (also for other tenants' endpoints)"),
        Reads,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_attempts(
    State(state): State<AppState>,
    p: Require<perm::SettingsManage>,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<AttemptPage>> {
    let limit = q.limit()?;
    let before = q.after()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    endpoint_of(&mut tx, id).await?;
    let rows = store::webhooks::list_attempts(&mut tx, id, before, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |a| a.id);
    Ok(axum::Json(AttemptPage { items, next_cursor }))
}

/// Puts every dead-lettered delivery of the endpoint back in the queue, due now, with a
/// new retry schedule.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/replay", tag = "webhooks",
    params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "replayed (permission settings_manage)", body = Replayed),
        (status = 404, description = "not_found (also for other tenants' endpoints)"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn replay_dead(
    State(state): State<AppState>,
    p: Require<perm::SettingsManage>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Replayed>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    endpoint_for_update(&mut tx, id).await?;
    let ids = store::webhooks::replay(&mut tx, id, None).await?;
    audit_replay(&mut tx, &p, id, &ids).await?;
    tx.commit().await?;
    Ok(axum::Json(Replayed {
        replayed: ids.len(),
    }))
}

async fn audit_replay(
    tx: &mut TenantTx,
    p: &crate::auth::Principal,
    endpoint: uuid::Uuid,
    ids: &[uuid::Uuid],
) -> ApiResult<()> {
    audit_log::record(
        tx,
        p,
        Entry {
            action: "webhook_endpoint.replay",
            target_type: "webhook_endpoint",
            target_id: Some(endpoint.to_string()),
            before: None,
            after: Some(serde_json::json!({ "deliveries": ids })),
        },
    )
    .await
}

/// Puts one dead-lettered delivery back in the queue, due now, with a new schedule.
#[utoipa::path(post, path = "/v1/webhook-deliveries/{id}/replay", tag = "webhooks",
    params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "replayed (permission settings_manage)", body = Replayed),
        (status = 404, description = "not_found (also for other tenants' deliveries)"),
        (status = 409, description = "conflict (only a dead-lettered delivery is replayed)"),
        Writes,
    ))]
#[tracing::instrument(skip_all)]
pub async fn replay_delivery(
    State(state): State<AppState>,
    p: Require<perm::SettingsManage>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Replayed>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let (endpoint, delivery_state) = store::webhooks::delivery_state_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if delivery_state != DeliveryState::Dead {
        return Err(ApiError::Conflict(format!(
            "only a dead-lettered delivery is replayed; this one is {}",
            delivery_state.as_str()
        )));
    }
    let ids = store::webhooks::replay(&mut tx, endpoint, Some(&[id])).await?;
    audit_replay(&mut tx, &p, endpoint, &ids).await?;
    tx.commit().await?;
    Ok(axum::Json(Replayed {
        replayed: ids.len(),
    }))
}
