//! Platform administration (the `logiflow-server admin …` commands), run against the
//! database as the owner. Tenant-data writes still go through a [`TenantTx`] (a
//! non-superuser owner is subject to the forced RLS policies too) and are audited with
//! actor `system`.

use chrono::{DateTime, Utc};
use logiflow_core::TenantId;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::TenantTx;
use crate::rbac::Role;
use crate::tokens::{self, HashCost};
use crate::users::{normalize_email, validate_name, validate_password};

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no tenant with slug {0}")]
    UnknownTenant(String),
    #[error("no plan {0}")]
    UnknownPlan(String),
    #[error("no user with that email in tenant {0}")]
    UnknownUser(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("a tenant with slug {0} exists")]
    SlugTaken(String),
    #[error("a plan {0} exists")]
    PlanTaken(String),
    #[error("a user with that email exists in tenant {0}")]
    EmailTaken(String),
    #[error("failed to hash the password: {0}")]
    Hash(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// A plan.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Plan {
    pub code: String,
    pub name: String,
    pub max_skus: i32,
    pub max_locations: i32,
    pub max_warehouses: i32,
    pub max_users: i32,
    pub max_devices: i32,
    pub requests_per_second: i32,
}

/// A tenant.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub plan_code: String,
    pub subscription_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

const TENANT_COLUMNS: &str = "id, slug, name, plan_code, subscription_expires_at, created_at";

/// Every plan.
pub async fn plan_list(pool: &PgPool) -> Result<Vec<Plan>, AdminError> {
    Ok(
        sqlx::query_as("select * from plan order by requests_per_second, code")
            .fetch_all(pool)
            .await?,
    )
}

/// The limits of a plan to create or change; `None` leaves a limit as it is (an update).
#[derive(Debug, Clone, Default)]
pub struct PlanLimits {
    pub name: Option<String>,
    pub max_skus: Option<i32>,
    pub max_locations: Option<i32>,
    pub max_warehouses: Option<i32>,
    pub max_users: Option<i32>,
    pub max_devices: Option<i32>,
    pub requests_per_second: Option<i32>,
}

impl PlanLimits {
    fn check(&self) -> Result<(), AdminError> {
        for (field, v) in [
            ("max_skus", self.max_skus),
            ("max_locations", self.max_locations),
            ("max_warehouses", self.max_warehouses),
            ("max_users", self.max_users),
            ("max_devices", self.max_devices),
        ] {
            if v.is_some_and(|v| v < 0) {
                return Err(AdminError::Invalid(format!("{field} must be 0 or more")));
            }
        }
        if self.requests_per_second.is_some_and(|v| v < 1) {
            return Err(AdminError::Invalid(
                "requests_per_second must be 1 or more".into(),
            ));
        }
        if self
            .name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty() || n.len() > 100)
        {
            return Err(AdminError::Invalid(
                "name must have 1 to 100 characters".into(),
            ));
        }
        Ok(())
    }
}

/// Creates a plan; every limit must be given.
pub async fn plan_create(pool: &PgPool, code: &str, l: &PlanLimits) -> Result<Plan, AdminError> {
    let code = code.trim().to_lowercase();
    if code.is_empty()
        || code.len() > 40
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(AdminError::Invalid(
            "a plan code has 1 to 40 letters, digits, - or _".into(),
        ));
    }
    l.check()?;
    let need = |field: &str, v: Option<i32>| {
        v.ok_or_else(|| AdminError::Invalid(format!("--{} is required", field.replace('_', "-"))))
    };
    let plan = sqlx::query_as(
        "insert into plan (code, name, max_skus, max_locations, max_warehouses, max_users,
             max_devices, requests_per_second)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (code) do nothing
         returning *",
    )
    .bind(&code)
    .bind(l.name.clone().unwrap_or_else(|| code.clone()))
    .bind(need("max_skus", l.max_skus)?)
    .bind(need("max_locations", l.max_locations)?)
    .bind(need("max_warehouses", l.max_warehouses)?)
    .bind(need("max_users", l.max_users)?)
    .bind(need("max_devices", l.max_devices)?)
    .bind(need("requests_per_second", l.requests_per_second)?)
    .fetch_optional(pool)
    .await?;
    plan.ok_or(AdminError::PlanTaken(code))
}

/// Changes a plan's name or limits (its tenants get them on their next request; a
/// tenant above a lowered limit keeps what it has and may not add more).
pub async fn plan_update(pool: &PgPool, code: &str, l: &PlanLimits) -> Result<Plan, AdminError> {
    l.check()?;
    sqlx::query_as(
        "update plan set name = coalesce($2, name), max_skus = coalesce($3, max_skus),
             max_locations = coalesce($4, max_locations),
             max_warehouses = coalesce($5, max_warehouses), max_users = coalesce($6, max_users),
             max_devices = coalesce($7, max_devices),
             requests_per_second = coalesce($8, requests_per_second)
         where code = $1
         returning *",
    )
    .bind(code)
    .bind(&l.name)
    .bind(l.max_skus)
    .bind(l.max_locations)
    .bind(l.max_warehouses)
    .bind(l.max_users)
    .bind(l.max_devices)
    .bind(l.requests_per_second)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AdminError::UnknownPlan(code.to_owned()))
}

/// One quota: what the tenant uses of what its plan allows.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub used: i64,
    pub limit: i32,
}

/// A device as the platform operator sees it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeviceSummary {
    pub id: Uuid,
    pub name: String,
    pub platform: String,
    pub last_push_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// `admin tenant show`: a tenant, its usage against each quota of its plan, its
/// subscription, its devices and its last activity.
#[derive(Debug, Clone, Serialize)]
pub struct TenantReport {
    #[serde(flatten)]
    pub tenant: Tenant,
    /// The subscription ended: the tenant is read-only.
    pub expired: bool,
    pub plan: Plan,
    /// Active products, locations, warehouses, enabled users, devices not revoked
    /// (what the quotas count).
    pub usage: std::collections::BTreeMap<&'static str, Usage>,
    pub devices: Vec<DeviceSummary>,
    /// The latest audited change or recorded movement.
    pub last_activity: Option<DateTime<Utc>>,
}

/// Reads a tenant's report.
pub async fn tenant_show(pool: &PgPool, slug: &str) -> Result<TenantReport, AdminError> {
    let tenant = tenant_get(pool, slug).await?;
    let plan: Plan = sqlx::query_as("select * from plan where code = $1")
        .bind(&tenant.plan_code)
        .fetch_one(pool)
        .await?;
    let mut tx = TenantTx::begin(pool, TenantId::from_uuid(tenant.id)).await?;
    let t = tenant.id;
    #[derive(sqlx::FromRow)]
    struct Counts {
        skus: i64,
        locations: i64,
        warehouses: i64,
        users: i64,
        devices: i64,
        last_audit: Option<DateTime<Utc>>,
        last_movement: Option<DateTime<Utc>>,
    }
    let c: Counts = sqlx::query_as(
        "select (select count(*) from product where tenant_id = $1 and active) as skus,
                (select count(*) from location where tenant_id = $1 and active) as locations,
                (select count(*) from warehouse where tenant_id = $1 and active) as warehouses,
                (select count(*) from app_user where tenant_id = $1 and disabled_at is null)
                    as users,
                (select count(*) from device where tenant_id = $1 and revoked_at is null)
                    as devices,
                (select max(at) from audit_log where tenant_id = $1) as last_audit,
                (select max(recorded_at) from movement where tenant_id = $1) as last_movement",
    )
    .bind(t)
    .fetch_one(tx.conn())
    .await?;
    let device_list: Vec<DeviceSummary> = sqlx::query_as(
        "select id, name, platform, last_push_at, revoked_at from device
         where tenant_id = $1 order by last_push_at desc nulls last, name",
    )
    .bind(t)
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    let usage = [
        ("skus", c.skus, plan.max_skus),
        ("locations", c.locations, plan.max_locations),
        ("warehouses", c.warehouses, plan.max_warehouses),
        ("users", c.users, plan.max_users),
        ("devices", c.devices, plan.max_devices),
    ]
    .into_iter()
    .map(|(k, used, limit)| (k, Usage { used, limit }))
    .collect();
    Ok(TenantReport {
        expired: tenant.subscription_expires_at <= Utc::now(),
        tenant,
        plan,
        usage,
        devices: device_list,
        last_activity: c.last_audit.max(c.last_movement),
    })
}

/// Creates a tenant and its settings row.
pub async fn tenant_create(
    pool: &PgPool,
    slug: &str,
    name: &str,
    plan: &str,
    expires_at: DateTime<Utc>,
) -> Result<Tenant, AdminError> {
    let name = validate_name(name).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let id = Uuid::now_v7();
    let mut tx = TenantTx::begin(pool, TenantId::from_uuid(id)).await?;
    let plan_exists: bool =
        sqlx::query_scalar("select exists (select 1 from plan where code = $1)")
            .bind(plan)
            .fetch_one(tx.conn())
            .await?;
    if !plan_exists {
        return Err(AdminError::UnknownPlan(plan.to_owned()));
    }
    let tenant: Tenant = sqlx::query_as(&format!(
        "insert into tenant (id, slug, name, plan_code, subscription_expires_at)
         values ($1, $2, $3, $4, $5) returning {TENANT_COLUMNS}"
    ))
    .bind(id)
    .bind(slug)
    .bind(&name)
    .bind(plan)
    .bind(expires_at)
    .fetch_one(tx.conn())
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("tenant_slug_key") => {
            AdminError::SlugTaken(slug.to_owned())
        }
        sqlx::Error::Database(d) if d.constraint() == Some("tenant_slug_format") => {
            AdminError::Invalid("slugs are 2 to 63 lowercase letters, digits or dashes".into())
        }
        _ => AdminError::Db(e),
    })?;
    sqlx::query("insert into tenant_setting (tenant_id, display_name) values ($1, $2)")
        .bind(id)
        .bind(&name)
        .execute(tx.conn())
        .await?;
    system_audit(
        &mut tx,
        "tenant.create",
        "tenant",
        &id.to_string(),
        None,
        &tenant,
    )
    .await?;
    tx.commit().await?;
    Ok(tenant)
}

async fn system_audit(
    tx: &mut TenantTx,
    action: &str,
    target_type: &str,
    target_id: &str,
    before: Option<serde_json::Value>,
    after: &impl Serialize,
) -> Result<(), AdminError> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "insert into audit_log (tenant_id, id, actor_type, action, target_type, target_id, before, after)
         values ($1, $2, 'system', $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(action)
    .bind(target_type)
    .bind(target_id)
    .bind(before)
    .bind(serde_json::to_value(after).ok())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Every tenant, by slug.
pub async fn tenant_list(pool: &PgPool) -> Result<Vec<Tenant>, AdminError> {
    Ok(sqlx::query_as(&format!(
        "select {TENANT_COLUMNS} from tenant order by slug"
    ))
    .fetch_all(pool)
    .await?)
}

/// A tenant by slug.
pub async fn tenant_get(pool: &PgPool, slug: &str) -> Result<Tenant, AdminError> {
    sqlx::query_as(&format!(
        "select {TENANT_COLUMNS} from tenant where slug = $1"
    ))
    .bind(slug)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AdminError::UnknownTenant(slug.to_owned()))
}

async fn tenant_update(
    pool: &PgPool,
    slug: &str,
    action: &str,
    set: &str,
    bind: impl for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + 'static,
) -> Result<Tenant, AdminError> {
    let before = tenant_get(pool, slug).await?;
    let mut tx = TenantTx::begin(pool, TenantId::from_uuid(before.id)).await?;
    let after: Tenant = sqlx::query_as(&format!(
        "update tenant set {set} = $2 where id = $1 returning {TENANT_COLUMNS}"
    ))
    .bind(before.id)
    .bind(bind)
    .fetch_one(tx.conn())
    .await?;
    system_audit(
        &mut tx,
        action,
        "tenant",
        &before.id.to_string(),
        serde_json::to_value(&before).ok(),
        &after,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Moves a tenant to another plan (its limits and rate apply on the next request).
pub async fn tenant_set_plan(pool: &PgPool, slug: &str, plan: &str) -> Result<Tenant, AdminError> {
    let exists: bool = sqlx::query_scalar("select exists (select 1 from plan where code = $1)")
        .bind(plan)
        .fetch_one(pool)
        .await?;
    if !exists {
        return Err(AdminError::UnknownPlan(plan.to_owned()));
    }
    tenant_update(pool, slug, "tenant.set_plan", "plan_code", plan.to_owned()).await
}

/// Ends a tenant's subscription now: it becomes read-only.
pub async fn tenant_expire(pool: &PgPool, slug: &str) -> Result<Tenant, AdminError> {
    tenant_update(
        pool,
        slug,
        "tenant.expire",
        "subscription_expires_at",
        Utc::now(),
    )
    .await
}

/// Extends a tenant's subscription until `until`.
pub async fn tenant_renew(
    pool: &PgPool,
    slug: &str,
    until: DateTime<Utc>,
) -> Result<Tenant, AdminError> {
    tenant_update(pool, slug, "tenant.renew", "subscription_expires_at", until).await
}

/// A created user.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedUser {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub role: Role,
}

/// Creates a user in a tenant (platform admins are not bound by the plan's user quota),
/// their password hashed at `cost` (the CLI: its configuration's, always standard).
pub async fn user_create(
    pool: &PgPool,
    slug: &str,
    email: &str,
    display_name: &str,
    role: Role,
    password: &str,
    cost: HashCost,
) -> Result<CreatedUser, AdminError> {
    let invalid = |e: crate::error::ApiError| AdminError::Invalid(e.to_string());
    let email = normalize_email(email).map_err(invalid)?;
    let display_name = validate_name(display_name).map_err(invalid)?;
    validate_password(password).map_err(invalid)?;
    let tenant = tenant_get(pool, slug).await?;
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || tokens::hash_password(&password, cost))
        .await
        .map_err(|e| AdminError::Hash(e.to_string()))?
        .map_err(|e| AdminError::Hash(e.to_string()))?;
    let mut tx = TenantTx::begin(pool, TenantId::from_uuid(tenant.id)).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into app_user (tenant_id, id, email, display_name, role, password_hash) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant.id)
    .bind(id)
    .bind(&email)
    .bind(&display_name)
    .bind(role.as_str())
    .bind(&hash)
    .execute(tx.conn())
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("app_user_email_key") => {
            AdminError::EmailTaken(slug.to_owned())
        }
        _ => AdminError::Db(e),
    })?;
    let created = CreatedUser {
        id,
        tenant_id: tenant.id,
        role,
    };
    system_audit(
        &mut tx,
        "user.create",
        "user",
        &id.to_string(),
        None,
        &created,
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Disables a user at once (their tokens stop working on the next request).
pub async fn user_disable(pool: &PgPool, slug: &str, email: &str) -> Result<Uuid, AdminError> {
    let email = normalize_email(email).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let tenant = tenant_get(pool, slug).await?;
    let mut tx = TenantTx::begin(pool, TenantId::from_uuid(tenant.id)).await?;
    let id: Uuid = sqlx::query_scalar(
        "update app_user set disabled_at = coalesce(disabled_at, now()), updated_at = now()
         where tenant_id = $1 and email = $2 returning id",
    )
    .bind(tenant.id)
    .bind(&email)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| AdminError::UnknownUser(slug.to_owned()))?;
    system_audit(
        &mut tx,
        "user.disable",
        "user",
        &id.to_string(),
        None,
        &serde_json::json!({ "disabled": true }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The demo tenant's slug (`cargo xtask dev`).
pub const DEMO_SLUG: &str = "demo";
/// The password of every demo user. The demo tenant is for local development only.
pub const DEMO_PASSWORD: &str = "demo-password";

/// A demo user's login.
#[derive(Debug, Clone, Serialize)]
pub struct DemoLogin {
    pub tenant: String,
    pub email: String,
    pub role: Role,
    pub password: &'static str,
}

/// What [`demo_seed`] did.
#[derive(Debug, Clone, Serialize)]
pub struct DemoSeed {
    /// The database had no tenant, so the demo tenant was created now.
    pub created: bool,
    /// The demo tenant's logins (empty when the database holds other tenants but no
    /// demo tenant: then nothing is seeded, since the database is not a fresh one).
    pub logins: Vec<DemoLogin>,
    /// The inventory seeded now (only when the tenant was created now).
    pub inventory: Option<crate::demo::DemoInventory>,
}

fn demo_email(role: Role) -> String {
    format!("{}@demo.logiflow.test", role.as_str())
}

/// Seeds the demo tenant — one user per role, on the enterprise plan — when the
/// database holds no tenant at all; otherwise reports the demo logins if the demo tenant
/// exists. Safe to run at every start.
pub async fn demo_seed(pool: &PgPool) -> Result<DemoSeed, AdminError> {
    let logins = || {
        Role::ALL
            .into_iter()
            .map(|role| DemoLogin {
                tenant: DEMO_SLUG.to_owned(),
                email: demo_email(role),
                role,
                password: DEMO_PASSWORD,
            })
            .collect::<Vec<_>>()
    };
    let tenants = tenant_list(pool).await?;
    if !tenants.is_empty() {
        let has_demo = tenants.iter().any(|t| t.slug == DEMO_SLUG);
        return Ok(DemoSeed {
            created: false,
            logins: if has_demo { logins() } else { Vec::new() },
            inventory: None,
        });
    }
    let tenant = tenant_create(
        pool,
        DEMO_SLUG,
        "Demo Warehouse Co",
        "enterprise",
        Utc::now() + chrono::Duration::days(3650),
    )
    .await?;
    let mut floor = Vec::new();
    for role in Role::ALL {
        let name = format!("Demo {}", role.as_str());
        let user = user_create(
            pool,
            DEMO_SLUG,
            &demo_email(role),
            &name,
            role,
            DEMO_PASSWORD,
            HashCost::Standard,
        )
        .await?;
        if matches!(role, Role::Manager | Role::Operator) {
            floor.push(user.id);
        }
    }
    let inventory = crate::demo::seed_inventory(pool, tenant.id, &floor).await?;
    Ok(DemoSeed {
        created: true,
        logins: logins(),
        inventory: Some(inventory),
    })
}
