//! `api_key` rows.

use uuid::Uuid;

use crate::api_keys::ApiKey;
use crate::db::TenantTx;
use crate::rbac::Permission;

const KEY_COLUMNS: &str =
    "id, name, permissions, hint, created_by, created_at, last_used_at, revoked_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    permissions: Vec<String>,
    hint: String,
    created_by: Uuid,
    created_at: chrono::DateTime<chrono::Utc>,
    last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<Row> for ApiKey {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            name: r.name,
            permissions: parse_permissions(&r.permissions),
            hint: r.hint,
            created_by: r.created_by,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// Known permissions of a stored scope (unknown names, e.g. from a newer server, grant
/// nothing).
fn parse_permissions(names: &[String]) -> Vec<Permission> {
    names.iter().filter_map(|p| Permission::parse(p)).collect()
}

/// Keys after `after` (by id), at most `limit`.
pub async fn list(
    tx: &mut TenantTx,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ApiKey>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select {KEY_COLUMNS} from api_key where tenant_id = $1 and ($2::uuid is null or id > $2) order by id limit $3"
    ))
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().map(ApiKey::from).collect())
}

/// A validated new key.
#[derive(Debug)]
pub struct NewApiKey<'a> {
    pub name: &'a str,
    pub hint: &'a str,
    pub hash: &'a [u8],
    pub permissions: &'a [Permission],
    pub created_by: Uuid,
}

/// Inserts a key with a fresh UUIDv7.
pub async fn insert(tx: &mut TenantTx, key: NewApiKey<'_>) -> Result<ApiKey, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let mut permissions: Vec<&str> = key.permissions.iter().map(|p| p.as_str()).collect();
    permissions.sort_unstable();
    permissions.dedup();
    let row: Row = sqlx::query_as(&format!(
        "insert into api_key (tenant_id, id, name, hint, key_hash, permissions, created_by)
         values ($1, $2, $3, $4, $5, $6, $7) returning {KEY_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(key.name)
    .bind(key.hint)
    .bind(key.hash)
    .bind(&permissions)
    .bind(key.created_by)
    .fetch_one(tx.conn())
    .await?;
    Ok(row.into())
}

/// One key, locked.
pub async fn get_for_update(tx: &mut TenantTx, id: Uuid) -> Result<Option<ApiKey>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let row: Option<Row> = sqlx::query_as(&format!(
        "select {KEY_COLUMNS} from api_key where tenant_id = $1 and id = $2 for update"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(ApiKey::from))
}

/// Revokes a key now.
pub async fn revoke(tx: &mut TenantTx, id: Uuid) -> Result<ApiKey, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let row: Row = sqlx::query_as(&format!(
        "update api_key set revoked_at = now() where tenant_id = $1 and id = $2 returning {KEY_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_one(tx.conn())
    .await?;
    Ok(row.into())
}

/// An unrevoked key by hash, recording its use: (id, scope, creator).
pub async fn use_by_hash(
    tx: &mut TenantTx,
    hash: &[u8],
) -> Result<Option<(Uuid, Vec<Permission>, Uuid)>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let row: Option<(Uuid, Vec<String>, Uuid)> = sqlx::query_as(
        "update api_key set last_used_at = now()
         where tenant_id = $1 and key_hash = $2 and revoked_at is null
         returning id, permissions, created_by",
    )
    .bind(tenant_id)
    .bind(hash)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|(id, names, created_by)| (id, parse_permissions(&names), created_by)))
}
