//! `audit_log` rows: appended in the transaction of each write, read newest first.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::audit::AuditEntry;
use crate::db::TenantTx;

/// A row to append.
#[derive(Debug)]
pub struct NewEntry<'a> {
    pub actor_type: &'a str,
    pub actor_id: Option<Uuid>,
    /// The actor's session: when it is a device's, the entry names the device.
    pub session_id: Option<Uuid>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<&'a str>,
}

/// Appends an entry with a fresh UUIDv7 (time-ordered: also the pagination key).
pub async fn insert(tx: &mut TenantTx, e: NewEntry<'_>) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "insert into audit_log (tenant_id, id, actor_type, actor_id, device_id, action, target_type, target_id, before, after, request_id)
         values ($1, $2, $3, $4,
                 (select device_id from session where tenant_id = $1 and id = $11),
                 $5, $6, $7, $8, $9, $10)",
    )
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(e.actor_type)
    .bind(e.actor_id)
    .bind(e.action)
    .bind(e.target_type)
    .bind(e.target_id)
    .bind(e.before)
    .bind(e.after)
    .bind(e.request_id)
    .bind(e.session_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Filters of [`list`]; `None` matches everything.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Entries matching `f` older than `before` (by id), newest first, at most `limit`.
pub async fn list(
    tx: &mut TenantTx,
    f: Filter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select id, at, actor_type, actor_id, device_id, action, target_type, target_id, before, after, request_id
         from audit_log
         where tenant_id = $1
           and ($2::uuid is null or id < $2)
           and ($3::uuid is null or actor_id = $3)
           and ($4::text is null or action = $4)
           and ($5::text is null or target_type = $5)
           and ($6::text is null or target_id = $6)
           and ($7::timestamptz is null or at >= $7)
           and ($8::timestamptz is null or at < $8)
         order by id desc
         limit $9",
    )
    .bind(tenant_id)
    .bind(before)
    .bind(f.actor_id)
    .bind(f.action)
    .bind(f.target_type)
    .bind(f.target_id)
    .bind(f.from)
    .bind(f.to)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}
