//! Operations: `/healthz` (alive), `/readyz` (database reachable, migrations current),
//! `/metrics` (Prometheus text).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// Health status.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or why not.
    pub status: String,
    /// Highest migration the binary knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_binary: Option<i64>,
    /// Highest migration applied to the database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_database: Option<i64>,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "alive", body = Health)))]
#[tracing::instrument(skip_all)]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
        schema_binary: None,
        schema_database: None,
    })
}

/// Readiness: the database answers and has exactly the binary's migrations.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "ready", body = Health),
        (status = 503, description = "database unreachable or schema not current", body = Health),
    ))]
#[tracing::instrument(skip_all)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, axum::Json<Health>) {
    let binary = db::binary_schema_version();
    let database = match state.platform_pool().acquire().await {
        Ok(mut conn) => db::database_schema_version(&mut conn).await.ok(),
        Err(_) => None,
    };
    let (status, text) = match database {
        None => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable"),
        Some(v) if v != binary => (StatusCode::SERVICE_UNAVAILABLE, "schema not current"),
        Some(_) => (StatusCode::OK, "ok"),
    };
    (
        status,
        axum::Json(Health {
            status: text.into(),
            schema_binary: Some(binary),
            schema_database: database,
        }),
    )
}

/// Prometheus metrics: `http_requests_total{method,route,status}`,
/// `http_request_duration_seconds{method,route}` (histogram), `db_pool_connections`,
/// `db_pool_idle_connections`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
#[tracing::instrument(skip_all)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let pool = state.platform_pool();
    metrics::gauge!("db_pool_connections").set(f64::from(pool.size()));
    metrics::gauge!("db_pool_idle_connections").set(pool.num_idle() as f64);
    state.metrics.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
