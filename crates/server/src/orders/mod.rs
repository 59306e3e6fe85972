//! Orders (issue #15, DESIGN §5.6): suppliers and customers ([`party`]), purchase
//! orders ([`purchase`]) and sales orders with their reservations ([`sales`]). The rules of states, line edits and receipt flags are
//! `logiflow_core::orders`; these modules hold the row types and field rules, and the
//! services that write a document with its audit entry and outbox event.

pub mod party;
pub mod purchase;
pub mod sales;

use serde::Serialize;
use uuid::Uuid;

use crate::access::Principal;
use crate::audit_log::{self, Entry, snapshot};
use crate::db::TenantTx;
use crate::error::ApiResult;
use crate::store;

/// A change of a document, as audited and announced.
pub(crate) struct Change<'a, T> {
    /// `purchase_order` or `sales_order`: the audit target type and the topic's prefix.
    pub kind: &'a str,
    pub id: Uuid,
    /// The audit action, e.g. `sales_order.confirm`.
    pub action: &'a str,
    /// The topic's event, e.g. `confirmed`.
    pub event: &'a str,
    pub before: Option<&'a T>,
    pub after: &'a T,
}

/// Audits a change of a document and announces it on the outbox as `<kind>.<event>`,
/// with the document as it is after it.
pub(crate) async fn record<T: Serialize>(
    tx: &mut TenantTx,
    p: &Principal,
    c: Change<'_, T>,
) -> ApiResult<()> {
    audit_log::record(
        tx,
        p,
        Entry {
            action: c.action,
            target_type: c.kind,
            target_id: Some(c.id.to_string()),
            before: c.before.and_then(snapshot),
            after: snapshot(c.after),
        },
    )
    .await?;
    let payload = serde_json::json!({ c.kind: c.after });
    store::outbox::insert(tx, &format!("{}.{}", c.kind, c.event), &payload).await?;
    Ok(())
}
