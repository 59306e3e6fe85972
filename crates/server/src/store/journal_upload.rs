//! What an uploaded journal (issue #19) needs to know of the movements already stored.

use std::collections::HashSet;

use uuid::Uuid;

use crate::db::TenantTx;

/// Of the given movement ids and the device's `device_seq` values, those the server
/// already holds: `(ids, seqs)`. An entry is on the server when its id is, or when the
/// device's sequence number is taken (`movement_device_seq_key`), whichever movement
/// took it.
pub async fn present(
    tx: &mut TenantTx,
    device: Uuid,
    ids: &[Uuid],
    seqs: &[i64],
) -> Result<(HashSet<Uuid>, HashSet<i64>), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    // Two index probes: the primary key for ids, `movement_device_seq_key` for seqs.
    let rows: Vec<(Uuid, Option<Uuid>, Option<i64>)> = sqlx::query_as(
        "select id, device_id, device_seq from movement
         where tenant_id = $1 and id = any($2)
         union
         select id, device_id, device_seq from movement
         where tenant_id = $1 and device_id = $3 and device_seq = any($4)",
    )
    .bind(tenant_id)
    .bind(ids)
    .bind(device)
    .bind(seqs)
    .fetch_all(tx.conn())
    .await?;
    let mut found_ids = HashSet::new();
    let mut found_seqs = HashSet::new();
    for (id, device_id, seq) in rows {
        found_ids.insert(id);
        if device_id == Some(device)
            && let Some(seq) = seq
        {
            found_seqs.insert(seq);
        }
    }
    Ok((found_ids, found_seqs))
}
