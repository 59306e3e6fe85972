//! `outbox_event` rows written outside the movement writer (`ledger::write` writes a
//! movement's own): document events such as `purchase_order.ordered`, in the
//! transaction of the change they announce.

use uuid::Uuid;

use crate::db::TenantTx;

/// Appends one event, delivered to the tenant's webhooks after the commit; nothing while
/// the tenant has no active endpoint, since only a delivery reads an event.
pub async fn insert(
    tx: &mut TenantTx,
    topic: &str,
    payload: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(concat!(
        "insert into outbox_event (tenant_id, id, topic, payload)
         select $1, $2, $3, $4 where ",
        crate::store::webhooks::any_active_endpoint!()
    ))
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(topic)
    .bind(payload)
    .execute(tx.conn())
    .await?;
    Ok(())
}
