//! `logiflow init` and `logiflow import-snapshot`: setting a replica up locally, without
//! a server, for tests and demos.

use std::path::Path;

use anyhow::Context;
use logiflow_core::{DeviceId, PullPage, TenantId, UserId};
use logiflow_replica::Error;

use super::{Ctx, Output};

/// Sets up the device's identity; no network is used.
pub(crate) fn init(
    ctx: &mut Ctx,
    tenant: TenantId,
    user: UserId,
    server: &str,
    device: Option<DeviceId>,
) -> anyhow::Result<Output> {
    let info = ctx
        .replica
        .init_device(tenant, user, server, device)
        .context("failed to set up the device")?;
    Ok(Output::new(ctx.json, &info, || {
        format!("device {} set up", info.device)
    }))
}

/// Stores a pull page read from a JSON file.
pub(crate) fn import_snapshot(ctx: &mut Ctx, file: &Path) -> anyhow::Result<Output> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("failed to read {}", file.display()))?;
    let page: PullPage = serde_json::from_str(&text).map_err(|e| Error::InvalidInput {
        field: "file",
        message: format!("not a pull page: {e}"),
    })?;
    let applied = ctx
        .replica
        .import_page(&page)
        .context("failed to store the pull page")?;
    Ok(Output::new(ctx.json, &applied, || {
        format!(
            "stored {} catalog records, {} stock rows, {} ledger effects, {} outcomes",
            applied.catalog, applied.rows, applied.effects, applied.outcomes
        )
    }))
}
