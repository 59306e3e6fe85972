//! Writing the audit log: called inside the transaction of every write.

use serde::Serialize;

use crate::access::Principal;
use crate::db::TenantTx;
use crate::error::ApiResult;

/// One audit entry.
#[derive(Debug)]
pub struct Entry<'a> {
    /// What was done, `resource.verb` (e.g. `user.create`).
    pub action: &'a str,
    /// The kind of the target (e.g. `user`).
    pub target_type: &'a str,
    /// The target's id.
    pub target_id: Option<String>,
    /// State before (None for creations).
    pub before: Option<serde_json::Value>,
    /// State after (None for deletions).
    pub after: Option<serde_json::Value>,
}

/// Serializes a value for `before`/`after`.
pub fn snapshot(v: &impl Serialize) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok()
}

/// Appends `entry`, attributed to `principal`, in `tx`. A person acting through a
/// device's session (the desktop app) is named with the device: the insert reads it from
/// the session, so every audited write made from a device says which one.
pub async fn record(tx: &mut TenantTx, principal: &Principal, entry: Entry<'_>) -> ApiResult<()> {
    let (actor_type, actor_id) = principal.audit_actor();
    let session_id = match principal.actor {
        crate::access::Actor::User { session_id, .. } => Some(session_id),
        crate::access::Actor::ApiKey { .. } => None,
    };
    insert(
        tx,
        actor_type,
        Some(actor_id),
        session_id,
        principal.request_id.as_deref(),
        entry,
    )
    .await
}

/// Appends `entry` for an actor that is not (yet) an authenticated principal: a user
/// logging in, or `system` when no one can be named (a reused refresh token).
pub async fn record_as(
    tx: &mut TenantTx,
    actor_type: &str,
    actor_id: Option<uuid::Uuid>,
    request_id: Option<&str>,
    entry: Entry<'_>,
) -> ApiResult<()> {
    insert(tx, actor_type, actor_id, None, request_id, entry).await
}

async fn insert(
    tx: &mut TenantTx,
    actor_type: &str,
    actor_id: Option<uuid::Uuid>,
    session_id: Option<uuid::Uuid>,
    request_id: Option<&str>,
    entry: Entry<'_>,
) -> ApiResult<()> {
    crate::store::audit::insert(
        tx,
        crate::store::audit::NewEntry {
            actor_type,
            actor_id,
            session_id,
            action: entry.action,
            target_type: entry.target_type,
            target_id: entry.target_id,
            before: entry.before,
            after: entry.after,
            request_id,
        },
    )
    .await?;
    Ok(())
}
