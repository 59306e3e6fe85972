//! `logiflow export`: a server export (products, locations, stock, movements, audit log)
//! into a file, with the device's session.

use std::path::Path;

use anyhow::Context;
use logiflow_replica::{ExportKind, ExportRequest};

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
    let (client, store) = super::device_client(ctx, bounds.long_request_options())?;
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
