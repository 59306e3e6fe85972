//! `app_user` rows.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::TenantTx;
use crate::rbac::Role;
use crate::users::User;

const USER_COLUMNS: &str =
    "id, email, display_name, role, disabled_at is not null as disabled, created_at, updated_at";

/// Users after `after` (by id), at most `limit`.
pub async fn list(
    tx: &mut TenantTx,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<User>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {USER_COLUMNS} from app_user
         where tenant_id = $1 and ($2::uuid is null or id > $2)
         order by id limit $3"
    ))
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// One user.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    super::row_by_id(tx, "app_user", USER_COLUMNS, id, "").await
}

/// One user, its row locked (`for update`) until the transaction ends: for a read that
/// decides a write.
pub async fn get_for_update(tx: &mut TenantTx, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    super::row_by_id(tx, "app_user", USER_COLUMNS, id, "for update").await
}

/// A validated new user.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

/// Inserts a user with a fresh UUIDv7.
pub async fn insert(tx: &mut TenantTx, user: NewUser<'_>) -> Result<User, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "insert into app_user (tenant_id, id, email, display_name, role, password_hash)
         values ($1, $2, $3, $4, $5, $6) returning {USER_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(user.email)
    .bind(user.display_name)
    .bind(user.role.as_str())
    .bind(user.password_hash)
    .fetch_one(tx.conn())
    .await
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// Applies `changes` (disabling keeps the first disabling time).
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    changes: UserChanges,
) -> Result<User, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "update app_user set
            display_name = coalesce($3, display_name),
            role = coalesce($4, role),
            disabled_at = case when $5::boolean is null then disabled_at
                               when $5 then coalesce(disabled_at, now()) else null end,
            updated_at = now()
         where tenant_id = $1 and id = $2
         returning {USER_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(changes.display_name)
    .bind(changes.role.map(Role::as_str))
    .bind(changes.disabled)
    .fetch_one(tx.conn())
    .await
}

/// What login needs to know about an account.
#[derive(Debug, sqlx::FromRow)]
pub struct Credentials {
    pub id: Uuid,
    pub role: String,
    pub password_hash: String,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The account with `email` (already normalized).
pub async fn credentials(
    tx: &mut TenantTx,
    email: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select id, role, password_hash, disabled_at from app_user where tenant_id = $1 and email = $2",
    )
    .bind(tenant_id)
    .bind(email)
    .fetch_optional(tx.conn())
    .await
}
