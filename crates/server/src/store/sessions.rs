//! `session` and `refresh_token` rows.

use logiflow_core::TenantId;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::TenantTx;

/// What an authenticated request needs to know about its access token's session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionCheck {
    /// The user's current role.
    pub role: String,
    /// The tenant's subscription has ended: the tenant is read-only.
    pub expired: bool,
    /// The tenant's plan's request rate.
    pub requests_per_second: i32,
}

/// The live session `session_id` of enabled user `user_id` in `tenant_id`, with the
/// tenant's facts; `None` when the session is revoked, the user disabled or unknown.
///
/// One round trip on the pool rather than a [`TenantTx`]: the SQL function
/// `auth_session_check` sets the tenant itself, locally to the call's own transaction,
/// before it reads under row-level security (see its migration).
pub async fn check(
    pool: &PgPool,
    tenant_id: TenantId,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<Option<SessionCheck>, sqlx::Error> {
    sqlx::query_as("select role, expired, requests_per_second from auth_session_check($1, $2, $3)")
        .bind(tenant_id.as_uuid())
        .bind(user_id)
        .bind(session_id)
        .fetch_optional(pool)
        .await
}

/// [`check`] for several sessions at once, in a transaction of their tenant (whose
/// row-level security applies): the live ones among `(user_id, session_id)` pairs, by
/// session id. One statement however many requests share the transaction.
pub async fn check_many(
    tx: &mut TenantTx,
    sessions: &[(Uuid, Uuid)],
) -> Result<std::collections::HashMap<Uuid, SessionCheck>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let (users, ids): (Vec<Uuid>, Vec<Uuid>) = sessions.iter().copied().unzip();
    let rows: Vec<(Uuid, String, bool, i32)> = sqlx::query_as(
        "select s.id, u.role, t.subscription_expires_at <= now(), p.requests_per_second
         from unnest($2::uuid[], $3::uuid[]) as j (user_id, session_id)
         join app_user u on u.tenant_id = $1 and u.id = j.user_id and u.disabled_at is null
         join session s on s.tenant_id = $1 and s.user_id = u.id and s.id = j.session_id
                       and s.revoked_at is null
         join tenant t on t.id = $1
         join plan p on p.code = t.plan_code",
    )
    .bind(tenant_id)
    .bind(users)
    .bind(ids)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, role, expired, requests_per_second)| {
            (
                id,
                SessionCheck {
                    role,
                    expired,
                    requests_per_second,
                },
            )
        })
        .collect())
}

/// Starts a session of `user_id`.
pub async fn create(tx: &mut TenantTx, user_id: Uuid) -> Result<Uuid, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let id = Uuid::now_v7();
    sqlx::query("insert into session (tenant_id, id, user_id) values ($1, $2, $3)")
        .bind(tenant_id)
        .bind(id)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(id)
}

/// Revokes a session (and so its tokens); revoking twice keeps the first time.
pub async fn revoke(tx: &mut TenantTx, session_id: Uuid) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "update session set revoked_at = now() where tenant_id = $1 and id = $2 and revoked_at is null",
    )
    .bind(tenant_id)
    .bind(session_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Stores the hash of a new refresh token of `session_id`, valid `ttl_secs`.
pub async fn insert_refresh(
    tx: &mut TenantTx,
    session_id: Uuid,
    hash: &[u8],
    ttl_secs: u64,
) -> Result<Uuid, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into refresh_token (tenant_id, id, session_id, token_hash, expires_at)
         values ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(session_id)
    .bind(hash)
    .bind(ttl_secs as f64)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// A stored refresh token with what deciding its fate needs.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredRefresh {
    pub id: Uuid,
    pub session_id: Uuid,
    pub expired: bool,
    pub used: bool,
    pub session_revoked: bool,
    pub user_id: Uuid,
    pub role: String,
    pub user_disabled: bool,
    /// SHA-256 of the retry key sent when it was exchanged.
    pub retry_key_hash: Option<Vec<u8>>,
    /// Whether the token it was exchanged for is still unused (the client may never
    /// have received it).
    pub successor_unused: bool,
    pub successor_id: Option<Uuid>,
    /// Whether the session is a device's (its tokens live longer than a person's).
    pub device: bool,
}

/// The refresh token with hash `hash`, locked.
pub async fn find_refresh_for_update(
    tx: &mut TenantTx,
    hash: &[u8],
) -> Result<Option<StoredRefresh>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    // `for update` of the token row serializes two concurrent uses of the same token: the
    // second sees it used and revokes the session.
    sqlx::query_as(
        "select r.id, r.session_id, r.expires_at <= now() as expired, r.used_at is not null as used,
                s.revoked_at is not null as session_revoked, u.id as user_id, u.role,
                u.disabled_at is not null as user_disabled, r.retry_key_hash,
                exists (select 1 from refresh_token n
                        where n.tenant_id = r.tenant_id and n.id = r.successor_id
                          and n.used_at is null) as successor_unused,
                r.successor_id, s.device_id is not null as device
         from refresh_token r
         join session s on s.tenant_id = r.tenant_id and s.id = r.session_id
         join app_user u on u.tenant_id = s.tenant_id and u.id = s.user_id
         where r.tenant_id = $1 and r.token_hash = $2
         for update of r",
    )
    .bind(tenant_id)
    .bind(hash)
    .fetch_optional(tx.conn())
    .await
}

/// Deletes the session's expired refresh tokens. Used tokens are otherwise kept until they
/// expire, because presenting one again is how a stolen token is detected.
pub async fn prune_expired(tx: &mut TenantTx, session_id: Uuid) -> Result<u64, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let done = sqlx::query(
        "delete from refresh_token where tenant_id = $1 and session_id = $2 and expires_at < now()",
    )
    .bind(tenant_id)
    .bind(session_id)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Marks a refresh token as exchanged (again, for a retry) for `successor`, with the
/// hash of the retry key the client sent.
pub async fn mark_used(
    tx: &mut TenantTx,
    id: Uuid,
    successor: Uuid,
    retry_key_hash: Option<&[u8]>,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "update refresh_token set used_at = coalesce(used_at, now()), successor_id = $3,
                retry_key_hash = $4
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(successor)
    .bind(retry_key_hash)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Deletes an unused refresh token (the successor of a retried exchange, which its
/// client never received).
pub async fn delete_unused_refresh(tx: &mut TenantTx, id: Uuid) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query("delete from refresh_token where tenant_id = $1 and id = $2 and used_at is null")
        .bind(tenant_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
