//! `logiflow journal`: list the journal, `journal export` its unsent entries to a file,
//! and `journal upload` such a file to the server.

use std::path::Path;

use anyhow::Context;
use logiflow_replica::{
    CredentialStore, Error, JournalEntry, JournalFilter, JournalStatus, Replica, ServerClient,
};

use super::args::{StatusArg, SyncBounds};
use super::{Ctx, Output};

/// Journal entries, oldest first.
pub(crate) fn list(
    ctx: &mut Ctx,
    status: Option<StatusArg>,
    after: Option<u64>,
    limit: Option<usize>,
) -> anyhow::Result<Output> {
    let entries = ctx
        .replica
        .journal(&JournalFilter {
            status: status.map(|s| match s {
                StatusArg::Pending => JournalStatus::Pending,
                StatusArg::Pushed => JournalStatus::Pushed,
            }),
            after_seq: after,
            limit,
        })
        .context("failed to read the journal")?;
    Ok(Output::new(ctx.json, &entries, || journal_text(&entries)))
}

/// Writes the unsent entries to `out` (never overwriting it).
pub(crate) fn export(ctx: &mut Ctx, out: &Path) -> anyhow::Result<Output> {
    let done = ctx
        .replica
        .export_journal(out)
        .context("failed to export the journal")?;
    Ok(Output::new(ctx.json, &done, || {
        format!(
            "wrote {} unsent entries of device {} to {}: a manager uploads it with `logiflow journal upload {}`",
            done.entries, done.device, done.path, done.path
        )
    }))
}

/// Uploads another device's exported journal with this device's session.
pub(crate) fn upload(ctx: &mut Ctx, file: &Path, bounds: &SyncBounds) -> anyhow::Result<Output> {
    let store = CredentialStore::from_env()?;
    let device = ctx.replica.device()?.ok_or(Error::NotInitialized)?;
    let journal = Replica::read_journal_file(file)?;
    let client = ServerClient::new(&device.server_url, bounds.options())?;
    let done = ctx
        .replica
        .upload_journal(&client, &store, &journal)
        .context("failed to upload the journal")?;
    Ok(Output::new(ctx.json, &done, || {
        format!(
            "device {}: {} entries, {} already on the server, {} held for review in the conflict inbox, {} rejected",
            done.device_id, done.entries, done.already_on_server, done.held, done.rejected
        )
    }))
}

/// The journal as a tab-separated table.
pub(crate) fn journal_text(entries: &[JournalEntry]) -> String {
    let mut out = String::from("SEQ\tKIND\tOCCURRED AT\tSTATUS\tOUTCOME");
    for e in entries {
        out.push_str(&format!(
            "\n{}\t{}\t{}\t{:?}\t{}",
            e.seq,
            e.kind,
            e.occurred_at.to_rfc3339(),
            e.status,
            e.outcome.as_deref().unwrap_or("-")
        ));
    }
    out
}
