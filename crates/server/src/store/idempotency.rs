//! `idempotency_key` rows.

use crate::db::TenantTx;

/// A stored answer: (request hash, status, response body).
pub type Stored = (Vec<u8>, i16, serde_json::Value);

/// How long a key is remembered: a retry comes within minutes; a day is ample.
pub const IDEMPOTENCY_TTL_HOURS: i32 = 24;

/// The answer stored under `key` within the last [`IDEMPOTENCY_TTL_HOURS`], if any.
pub async fn get(tx: &mut TenantTx, key: &str) -> Result<Option<Stored>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    // Expired records of this tenant are pruned here, on the creating path, so the table
    // stays bounded without a background job and an expired key can be used again.
    sqlx::query(
        "delete from idempotency_key where tenant_id = $1 and created_at < now() - make_interval(hours => $2)",
    )
    .bind(tenant_id)
    .bind(IDEMPOTENCY_TTL_HOURS)
    .execute(tx.conn())
    .await?;
    sqlx::query_as(
        "select request_hash, status, response from idempotency_key where tenant_id = $1 and key = $2",
    )
    .bind(tenant_id)
    .bind(key)
    .fetch_optional(tx.conn())
    .await
}

/// Stores the answer under `key`. A concurrent request with the same key fails on the
/// primary key (answered 409 by constraint name).
pub async fn insert(
    tx: &mut TenantTx,
    key: &str,
    hash: &[u8],
    status: i16,
    response: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "insert into idempotency_key (tenant_id, key, request_hash, status, response) values ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(key)
    .bind(hash)
    .bind(status)
    .bind(response)
    .execute(tx.conn())
    .await?;
    Ok(())
}
