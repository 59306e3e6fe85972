//! Database access: pools, embedded migrations and the tenant-scoped transaction.
//!
//! Storage functions take a [`TenantTx`], the only way to reach a tenant table from the
//! request path: it is a transaction in which `app.tenant_id` is set, so every query runs
//! under the tenant's row-level security policy.

use std::str::FromStr;

use logiflow_core::TenantId;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, Transaction};

/// The migrations, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/server");

/// The role the request pool connects as: owns nothing, cannot bypass RLS.
pub const APP_ROLE: &str = "logiflow_app";

/// Why the database could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("failed to connect: {0}")]
    Connect(#[source] sqlx::Error),
    #[error(
        "the database has migration {db} but this binary knows only up to {binary}: refusing to run an older server on a newer schema"
    )]
    SchemaNewer { db: i64, binary: i64 },
    #[error("failed to migrate: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the application role {role} may bypass row-level security (superuser or bypassrls): refusing to serve"
    )]
    UnsafeAppRole { role: String },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

/// Connects to `url` with at most `max` connections.
pub async fn connect(url: &str, max: u32) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url).map_err(DbError::Connect)?;
    PgPoolOptions::new()
        .max_connections(max)
        .connect_with(options)
        .await
        .map_err(DbError::Connect)
}

/// Highest migration version the binary knows.
pub fn binary_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Highest successfully applied migration version (0 if none, or no migration table).
pub async fn database_schema_version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(0);
    }
    sqlx::query_scalar("select coalesce(max(version), 0) from _sqlx_migrations where success")
        .fetch_one(&mut *conn)
        .await
}

/// Applies pending migrations as the owner, refusing a schema newer than the binary.
pub async fn migrate(owner: &PgPool) -> Result<(), DbError> {
    let mut conn = owner.acquire().await?;
    let db = database_schema_version(&mut conn).await?;
    let binary = binary_schema_version();
    if db > binary {
        return Err(DbError::SchemaNewer { db, binary });
    }
    MIGRATOR.run(&mut *conn).await?;
    Ok(())
}

/// Refuses an application role that would make RLS a no-op.
pub async fn check_app_role(app: &PgPool) -> Result<(), DbError> {
    let (role, unsafe_role): (String, bool) = sqlx::query_as(
        "select current_user::text, rolsuper or rolbypassrls from pg_roles where rolname = current_user",
    )
    .fetch_one(app)
    .await?;
    if unsafe_role {
        return Err(DbError::UnsafeAppRole { role });
    }
    Ok(())
}

/// A transaction scoped to one tenant: `app.tenant_id` is set for its whole life.
#[derive(Debug)]
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    tenant_id: TenantId,
}

impl TenantTx {
    /// Begins a transaction on `pool` and scopes it to `tenant_id`.
    pub async fn begin(pool: &PgPool, tenant_id: TenantId) -> Result<Self, sqlx::Error> {
        // BEGIN and the setting in one simple-protocol message: one round trip instead
        // of two, on every tenant transaction. The value is formatted from a `Uuid`
        // (hex digits and dashes), so writing it into the statement cannot inject
        // anything. `true`: local to this transaction, so a pooled connection never
        // carries a tenant into the next request.
        let tx = pool
            .begin_with(format!(
                "begin; select set_config('app.tenant_id', '{}', true)",
                tenant_id.as_uuid()
            ))
            .await?;
        Ok(Self { tx, tenant_id })
    }

    /// As [`TenantTx::begin`], for the fixed statements over arrays of the movement path
    /// and of a sales order's reservations: their plans are kept and reused
    /// (`plan_cache_mode = force_generic_plan`, local to the transaction). PostgreSQL
    /// would otherwise plan them again on every call, since a plan for the actual array
    /// length always looks cheaper than the generic one, and planning cost as much as
    /// running them (a confirmation spent a quarter of the database's time planning:
    /// docs/benchmarks.md, orders).
    pub async fn begin_cached_plans(
        pool: &PgPool,
        tenant_id: TenantId,
    ) -> Result<Self, sqlx::Error> {
        let tx = pool
            .begin_with(format!(
                "begin; select set_config('app.tenant_id', '{}', true), \
                 set_config('plan_cache_mode', 'force_generic_plan', true)",
                tenant_id.as_uuid()
            ))
            .await?;
        Ok(Self { tx, tenant_id })
    }

    /// As [`TenantTx::begin`], read-only and `REPEATABLE READ`: every statement sees the
    /// same snapshot, the one `pg_current_snapshot()` returns (device pulls).
    pub async fn begin_snapshot(pool: &PgPool, tenant_id: TenantId) -> Result<Self, sqlx::Error> {
        let tx = pool
            .begin_with(format!(
                "begin isolation level repeatable read read only; \
                 select set_config('app.tenant_id', '{}', true)",
                tenant_id.as_uuid()
            ))
            .await?;
        Ok(Self { tx, tenant_id })
    }

    /// The tenant this transaction is scoped to.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// The connection, for storage functions.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}
