//! Shared application state handed to every handler.

use std::sync::Arc;

use logiflow_core::TenantId;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::config::{Config, Secret};
use crate::db::TenantTx;
use crate::limits::Limits;
use crate::tokens::JwtKeys;

/// Cheap to clone: everything is behind one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// The state's contents.
#[derive(Debug)]
pub struct Inner {
    /// Request pool, connected as `logiflow_app` (RLS enforced). Private on purpose:
    /// tenant data is reached through [`AppState::tenant_tx`] only.
    pool: PgPool,
    /// Configuration.
    pub config: Config,
    /// Access-token keys.
    pub jwt: JwtKeys,
    /// Rate limiters.
    pub limits: Limits,
    /// Prometheus registry handle, rendered by `/metrics`.
    pub metrics: PrometheusHandle,
    /// Key of the idempotency request hashes (the JWT secret).
    hash_key: Secret,
    /// Online movements written together (see [`crate::group_commit`]).
    pub committer: crate::group_commit::Committer,
}

impl AppState {
    /// Builds the state.
    pub fn new(
        pool: PgPool,
        config: Config,
        jwt_secret: Secret,
        metrics: PrometheusHandle,
    ) -> Self {
        let jwt = JwtKeys::new(jwt_secret.expose().as_bytes());
        let limits = Limits::new(
            config.login_attempts_per_account_per_minute,
            config.login_attempts_per_address_per_minute,
        );
        Self(Arc::new(Inner {
            pool,
            config,
            jwt,
            limits,
            metrics,
            hash_key: jwt_secret,
            committer: crate::group_commit::Committer::default(),
        }))
    }

    /// The idempotency hash of a creating POST to `route` with `body`.
    pub fn request_hash(&self, route: &str, body: &impl serde::Serialize) -> Vec<u8> {
        crate::extract::request_hash(self.0.hash_key.expose(), route, body)
    }

    /// A transaction scoped to `tenant_id`.
    pub async fn tenant_tx(&self, tenant_id: TenantId) -> Result<TenantTx, sqlx::Error> {
        TenantTx::begin(&self.0.pool, tenant_id).await
    }

    /// The pool, for code that opens several tenant transactions of its own
    /// ([`crate::group_commit`] creates missing stock rows before the movements' transaction);
    /// it scopes each with [`TenantTx::begin`].
    pub(crate) fn tenant_pool(&self) -> &PgPool {
        &self.0.pool
    }

    /// The pool, for platform-level reads (tenant by slug, readiness, pool gauges):
    /// tables without tenant data or queries that cannot see any.
    pub(crate) fn platform_pool(&self) -> &PgPool {
        &self.0.pool
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
