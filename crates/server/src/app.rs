//! Assembling the HTTP application and serving it.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::config::{Config, Secret};
use crate::error::ApiError;
use crate::extract::RequestIdHeader;
use crate::routes::problems::{ErrorCodeSchema, Problem};
use crate::state::AppState;
use crate::{db, routes, telemetry};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(title = "LogiFlow", description = "LogiFlow's central multi-tenant server.\n\n\
        Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code` \
        (see the `ErrorCode` schema). Lists use cursor pagination (`cursor`, `limit` 1..500, default 50; \
        follow `next_cursor`). Creating POSTs accept an `Idempotency-Key` header. \
        Every request may carry `X-Request-Id`; it is generated when absent and always echoed. \
        A resource of another tenant answers 404. An expired subscription makes the tenant read-only \
        (writes answer 403 `subscription_expired`). Requests beyond the plan's rate answer 429 \
        `rate_limited` with `Retry-After`."),
    modifiers(&SecuritySchemes),
    components(schemas(Problem, ErrorCodeSchema, crate::rbac::Permission, crate::rbac::Role))
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "access token from /v1/auth/login (at most 15 minutes)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`ApiKey lfk_…` (an API key; `Bearer lfk_…` is accepted too)",
            ))),
        );
    }
}

fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::ops::router())
        .merge(routes::alerts::router())
        .merge(routes::auth::router())
        .merge(routes::users::router())
        .merge(routes::api_keys::router())
        .merge(routes::settings::router())
        .merge(routes::audit::router())
        .merge(routes::movements::router())
        .merge(routes::stock::router())
        .merge(routes::devices::router())
        .merge(routes::sync::router())
        .merge(routes::warehouses::router())
        .merge(routes::locations::router())
        .merge(routes::products::router())
        .merge(routes::lots::router())
        .merge(routes::webhooks::router())
        .merge(routes::parties::router())
        .merge(routes::purchase_orders::router())
        .merge(routes::sales_orders::router())
        .merge(routes::imports::router())
        .merge(routes::exports::router())
        .split_for_parts();
    routes::problems::problem_bodies(&mut doc);
    crate::webhooks::events::document(&mut doc);
    routes::bounds::document_bounds(&mut doc);
    routes::parties::document_kinds(&mut doc);
    (router, doc)
}

/// The OpenAPI document of every route, as served at `/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// Request ids are UUIDv7 unless the client sent one.
#[derive(Debug, Clone, Copy)]
struct MakeV7;

impl MakeRequestId for MakeV7 {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        uuid::Uuid::now_v7()
            .to_string()
            .parse()
            .ok()
            .map(RequestId::new)
    }
}

/// The application with all its layers.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let doc = std::sync::Arc::new(doc);
    let body_limit = state.config.body_limit_bytes;
    api.route(
        "/v1/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
    // Only matched routes are measured, by template, so paths with ids do not explode
    // the label space.
    .route_layer(axum::middleware::from_fn(telemetry::track))
    .route_layer(axum::middleware::from_fn_with_state(
        Timeouts {
            normal: Duration::from_millis(state.config.request_timeout_ms),
            bulk: Duration::from_millis(state.config.bulk_request_timeout_ms),
        },
        timeout,
    ))
    .fallback(|| async { ApiError::NotFound.into_response() })
    .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed.into_response() })
    .layer(DefaultBodyLimit::max(body_limit))
    .layer(PropagateRequestIdLayer::new(REQUEST_ID))
    .layer(
        TraceLayer::new_for_http()
            .make_span_with(|req: &Request<_>| {
                let request_id = RequestIdHeader::from_headers(req.headers())
                    .0
                    .unwrap_or_default();
                // The path only: query strings may hold filters worth keeping out of logs.
                tracing::info_span!(
                    "request",
                    method = %req.method(),
                    path = %req.uri().path(),
                    request_id = %request_id,
                    tenant = tracing::field::Empty,
                    user = tracing::field::Empty,
                    api_key = tracing::field::Empty,
                )
            })
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
    )
    .layer(SetRequestIdLayer::new(REQUEST_ID, MakeV7))
    .with_state(state)
}

/// How long a request may take: most are bounded by `request_timeout_ms`, the bulk
/// routes (imports, exports) by `bulk_request_timeout_ms`.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    normal: Duration,
    bulk: Duration,
}

/// Whether a route template is a bulk route.
fn is_bulk(template: &str) -> bool {
    template.starts_with("/v1/imports") || template.starts_with("/v1/exports/")
}

/// Abandons a request after the configured time. Dropping the handler's future drops
/// its transaction, which rolls back: a timed-out write changed nothing. (A streamed
/// CSV export is bounded until its response starts; each page after is a transaction
/// of its own.)
async fn timeout(
    axum::extract::State(limits): axum::extract::State<Timeouts>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let bulk = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|p| is_bulk(p.as_str()));
    let limit = if bulk { limits.bulk } else { limits.normal };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Db(#[from] db::DbError),
}

/// Connects as the owner, migrates, connects the request pool as `logiflow_app` and
/// checks that role cannot bypass row-level security.
pub async fn prepare(config: Config) -> Result<AppState, StartError> {
    let owner = db::connect(config.database_url.expose(), 2).await?;
    db::migrate(&owner).await?;
    owner.close().await;
    let app_url = config.app_database_url()?;
    let pool = db::connect(app_url.expose(), config.db_max_connections).await?;
    db::check_app_role(&pool).await?;
    let jwt_secret = match &config.jwt_secret {
        Some(secret) => secret.clone(),
        None => {
            tracing::warn!(
                "no jwt secret configured (LOGIFLOW_JWT_SECRET): generated an ephemeral one; \
                 tokens will not survive a restart. Set it in production"
            );
            Secret::new(
                crate::tokens::generate("", logiflow_core::TenantId::from_uuid(uuid::Uuid::nil()))
                    .token,
            )
        }
    };
    Ok(AppState::new(
        pool,
        config,
        jwt_secret,
        telemetry::metrics_handle(),
    ))
}

/// Serves on an already bound listener until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The webhook worker runs beside the requests unless the configuration turns it off
    // (`logiflow-server worker` runs it alone); it stops with the server.
    let worker = crate::webhooks::worker::spawn(state.tenant_pool().clone(), &state.config);
    let served = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    if let Some(worker) = worker {
        worker.abort();
    }
    served
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: draining open requests");
}

#[cfg(test)]
mod tests {
    #[test]
    fn imports_and_exports_are_the_bulk_routes() {
        for bulk in [
            "/v1/imports",
            "/v1/imports/{id}/commit",
            "/v1/exports/products",
            "/v1/exports/audit",
        ] {
            assert!(super::is_bulk(bulk), "{bulk}");
        }
        for other in ["/v1/me", "/v1/movements", "/v1/products", "/v1/export"] {
            assert!(!super::is_bulk(other), "{other}");
        }
    }
}
