//! Platform tables (`tenant`, `plan`): no tenant data, read-only for the application role,
//! so these functions take the pool rather than a [`TenantTx`](crate::db::TenantTx).

use logiflow_core::TenantId;
use sqlx::PgPool;
use uuid::Uuid;

/// The id of the tenant with `slug`.
pub async fn tenant_id_by_slug(pool: &PgPool, slug: &str) -> Result<Option<TenantId>, sqlx::Error> {
    let id: Option<Uuid> = sqlx::query_scalar("select id from tenant where slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await?;
    Ok(id.map(TenantId::from_uuid))
}

/// What every request needs to know about its tenant.
#[derive(Debug, sqlx::FromRow)]
pub struct TenantFacts {
    /// The subscription has ended: the tenant is read-only.
    pub expired: bool,
    /// The plan's request rate.
    pub requests_per_second: i32,
}

/// The facts of tenant `id`.
pub async fn tenant_facts(pool: &PgPool, id: TenantId) -> Result<Option<TenantFacts>, sqlx::Error> {
    sqlx::query_as(
        "select t.subscription_expires_at <= now() as expired, p.requests_per_second
         from tenant t join plan p on p.code = t.plan_code where t.id = $1",
    )
    .bind(id.as_uuid())
    .fetch_optional(pool)
    .await
}
