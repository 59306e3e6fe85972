//! The audit log as read back: one audited write (`crate::audit_log` writes them).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One audited write.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `user`, `api_key` or `system` (the platform admin CLI).
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    /// The device the write was made from, when the user acted through a device's
    /// session (the desktop app).
    pub device_id: Option<Uuid>,
    /// `resource.verb`, e.g. `user.create`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}
