//! `logiflow conflicts`: the conflict inbox, and `conflicts resolve` to force or void a
//! held movement.

use anyhow::Context;
use logiflow_core::MovementId;
use logiflow_replica::{CredentialStore, Error, JournalFilter, Replica, Resolution, ServerClient};

use super::args::SyncBounds;
use super::journal::journal_text;
use super::sync::{progress_printer, sync_text};
use super::{Ctx, Output};

/// The entries the server held or rejected, or flagged for review.
pub(crate) fn list(ctx: &mut Ctx) -> anyhow::Result<Output> {
    let entries = ctx
        .replica
        .conflicts()
        .context("failed to read conflicts")?;
    Ok(Output::new(ctx.json, &entries, || journal_text(&entries)))
}

/// Forces (`force`) or voids a held movement on the server, then pulls the outcome back.
pub(crate) fn resolve(
    ctx: &mut Ctx,
    movement: &str,
    force: bool,
    reason: &str,
    bounds: &SyncBounds,
) -> anyhow::Result<Output> {
    let store = CredentialStore::from_env()?;
    let device = ctx.replica.device()?.ok_or(Error::NotInitialized)?;
    let client = ServerClient::new(&device.server_url, bounds.options())?;
    let id = movement_id(&ctx.replica, movement)?;
    let resolution = if force {
        Resolution::Force
    } else {
        Resolution::Void
    };
    let mut progress = progress_printer(ctx.json);
    let done = ctx
        .replica
        .resolve(&client, &store, id, resolution, reason, &mut progress)
        .context("failed to resolve the movement")?;
    Ok(Output::new(ctx.json, &done, || {
        format!(
            "#{} {}: now {}; {}",
            done.seq,
            id,
            done.outcome,
            sync_text(&done.pulled)
        )
    }))
}

/// A movement of the journal named by its id or its journal number (`3` or `#3`).
fn movement_id(replica: &Replica, given: &str) -> anyhow::Result<MovementId> {
    let given = given.trim();
    if let Ok(seq) = given.trim_start_matches('#').parse::<u64>() {
        let entry = replica
            .journal(&JournalFilter {
                status: None,
                after_seq: Some(seq.saturating_sub(1)),
                limit: Some(1),
            })?
            .into_iter()
            .find(|e| e.seq == seq)
            .ok_or_else(|| Error::InvalidInput {
                field: "movement",
                message: format!("no journal entry #{seq}"),
            })?;
        return Ok(entry.id);
    }
    serde_json::from_value(serde_json::Value::String(given.to_owned())).map_err(|_| {
        Error::InvalidInput {
            field: "movement",
            message: format!("`{given}` is neither a movement id nor a journal number"),
        }
        .into()
    })
}
