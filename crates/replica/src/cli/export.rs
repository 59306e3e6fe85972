//! `logiflow export`: a server export (products, locations, stock, movements, audit log)
//! into a file, with the device's session.

use std::path::Path;

use anyhow::Context;
use logiflow_replica::{CredentialStore, Error, ExportKind, ExportRequest, ServerClient};

use super::args::SyncBounds;
use super::{Ctx, Output};

/// Downloads the export into `out`.
pub(crate) fn run(
    ctx: &mut Ctx,
    kind: ExportKind,
    req: &ExportRequest,
    out: &Path,
    bounds: &SyncBounds,
) -> anyhow::Result<Output> {
    let store = CredentialStore::from_env()?;
    let device = ctx.replica.device()?.ok_or(Error::NotInitialized)?;
    // One request that may stream for long: its bound is the whole command's.
    let mut options = bounds.options();
    options.request_timeout = options.deadline;
    let client = ServerClient::new(&device.server_url, options)?;
    let done = ctx
        .replica
        .export(&client, &store, kind, req, out)
        .with_context(|| format!("failed to export {}", kind.as_str()))?;
    Ok(Output::new(ctx.json, &done, || {
        format!(
            "wrote {} ({}, {} bytes) to {}",
            done.kind.as_str(),
            done.format,
            done.bytes,
            done.path
        )
    }))
}
