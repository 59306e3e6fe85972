//! A revoked device's exported journal, uploaded by a manager (issue #19).
//!
//! A revoked device can never push again, but the entries it recorded and never sent
//! are physical facts. Its user exports them (`logiflow journal export`, a
//! `core::JournalFile`); a manager uploads the file here. Each entry the server does not
//! hold yet (by movement id, or by the device's `device_seq`) is stored as the device
//! would have pushed it, but decided by `core::hold_for_review`: held with
//! `HoldReview::RevokedDevice`, never applied automatically (the retry skips it), so it
//! waits in the conflict inbox for a person to force or void it; a structurally invalid
//! one is rejected with its code. Uploading the same file twice lands its entries once.

use std::collections::HashSet;

use chrono::Utc;
use logiflow_core::{HoldReview, JOURNAL_UPLOAD_MAX, JournalFile, Movement, Outcome};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::Principal;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::ledger::write::{self, Event, NewMovement, Writes};
use crate::store;

/// What an upload did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JournalUploaded {
    /// The device.
    pub device_id: Uuid,
    /// Entries in the file.
    pub entries: usize,
    /// Entries the server already held (pushed by the device, or uploaded before):
    /// skipped.
    pub already_on_server: usize,
    /// New entries held for review (`held`, review `revoked_device`).
    pub held: usize,
    /// New entries rejected by the rules (unknown product, …), with their code.
    pub rejected: usize,
    /// The new movements' ids, in `device_seq` order.
    pub movements: Vec<Uuid>,
}

/// Stores the new entries of `file`, the exported journal of revoked device
/// `device_id`, for `principal` (a manager), in one transaction.
///
/// Longer than 80 lines: the device's lock, the file's checks, the new entries and their
/// one write are one transaction, in the order a reader checks them.
pub async fn upload(
    pool: &PgPool,
    principal: &Principal,
    device_id: Uuid,
    file: &JournalFile,
) -> ApiResult<JournalUploaded> {
    if file.entries.len() > JOURNAL_UPLOAD_MAX {
        return Err(ApiError::BatchTooLarge {
            max: JOURNAL_UPLOAD_MAX,
        });
    }
    let mut tx = TenantTx::begin(pool, principal.tenant_id).await?;
    // Locked: two uploads of one device's journal run one after the other, so an entry
    // in both lands once. Another tenant's device reads as missing.
    let device = store::devices::get_for_update(&mut tx, device_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    file.check()
        .map_err(|e| ApiError::InvalidJournal(e.to_string()))?;
    if file.tenant != principal.tenant_id || file.device.as_uuid() != device_id {
        return Err(ApiError::InvalidJournal(format!(
            "the file holds the journal of device {} of another tenant or another device, not of device {device_id}",
            file.device
        )));
    }
    if !device.revoked {
        return Err(ApiError::DeviceNotRevoked);
    }
    // The lots the device created offline, now that the file is known to be its own
    // (`super::lots`; this transaction holds no stock row lock).
    let declared = super::lots::declare(&mut tx, principal, &file.lots, &file.entries).await?;
    let (entries, lot_flags) = declared.apply(&file.entries);
    let ids: Vec<Uuid> = entries.iter().map(|e| e.movement.id.as_uuid()).collect();
    let seqs: Vec<i64> = entries.iter().map(|e| seq(&e.movement)).collect();
    let (known_ids, known_seqs) =
        store::journal_upload::present(&mut tx, device_id, &ids, &seqs).await?;
    let new: Vec<Movement> = entries
        .iter()
        .map(|e| e.movement)
        .filter(|m| !known_ids.contains(&m.id.as_uuid()) && !known_seqs.contains(&seq(m)))
        .collect();
    // The same id twice in one file would be one movement: keep the first.
    let mut seen = HashSet::new();
    let new: Vec<Movement> = new.into_iter().filter(|m| seen.insert(m.id)).collect();

    let review = HoldReview::RevokedDevice {
        uploaded_at: Utc::now(),
    };
    let facts = store::movements::load_facts(&mut tx, &new).await?;
    let decisions: Vec<logiflow_core::Decision> = new
        .iter()
        .map(|m| {
            let mut d = logiflow_core::hold_for_review(m, &facts, facts.on_date(m), review);
            d.flags.extend(lot_flags.get(&m.id).cloned());
            d
        })
        .collect();
    let writes = Writes {
        new: new
            .iter()
            .zip(&decisions)
            .map(|(movement, decision)| NewMovement {
                movement,
                decision,
                origin: logiflow_core::Origin::Journal,
                // Booked to the device's user, whom the server knows, not to a user id
                // the file could name; the audit entry names the manager who uploaded it.
                user_id: device.user_id,
                note: None,
                recorded_at: None,
            })
            .collect(),
        events: new
            .iter()
            .zip(&decisions)
            .map(|(m, d)| Event::decided(m, d))
            .collect(),
        // No row changes and no device sequence: nothing is applied, and the revoked
        // device never pushes again. Only new movements: none is decided again, so none
        // is stale.
        ..Writes::default()
    };
    let _ = write::write(&mut tx, &writes).await?;
    let held = decisions
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Held(_)))
        .count();
    let report = JournalUploaded {
        device_id,
        entries: file.entries.len(),
        already_on_server: file.entries.len() - new.len(),
        held,
        rejected: new.len() - held,
        movements: new.iter().map(|m| m.id.as_uuid()).collect(),
    };
    crate::audit_log::record(
        &mut tx,
        principal,
        crate::audit_log::Entry {
            action: "device.journal_upload",
            target_type: "device",
            target_id: Some(device_id.to_string()),
            before: None,
            after: Some(serde_json::json!({
                "entries": report.entries,
                "already_on_server": report.already_on_server,
                "held": report.held,
                "rejected": report.rejected,
                "exported_at": file.exported_at,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

fn seq(m: &Movement) -> i64 {
    m.device
        .map_or(0, |d| i64::try_from(d.seq).unwrap_or(i64::MAX))
}
