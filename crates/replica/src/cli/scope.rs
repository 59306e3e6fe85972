//! `logiflow scope`: the warehouses this device keeps offline beside the tenant's.

use anyhow::Context;
use logiflow_replica::{CredentialStore, Error, ServerClient, SyncOptions};

use super::{Ctx, Output};

/// Asks the server for the tenant's warehouses and marks those in this device's scope.
pub(crate) fn run(ctx: &mut Ctx) -> anyhow::Result<Output> {
    let store = CredentialStore::from_env()?;
    let device = ctx.replica.device()?.ok_or(Error::NotInitialized)?;
    let client = ServerClient::new(&device.server_url, SyncOptions::default())?;
    let report = ctx
        .replica
        .scope_report(&client, &store)
        .context("failed to read the scope")?;
    Ok(Output::new(ctx.json, &report, || {
        let mut out = String::from("IN SCOPE\tCODE\tNAME");
        for w in &report.tenant_warehouses {
            let inside = report.scope.iter().any(|s| s.id == w.id);
            out.push_str(&format!(
                "\n{}\t{}\t{}",
                if inside { "yes" } else { "no" },
                w.code,
                w.name
            ));
        }
        for s in &report.scope {
            if !report.tenant_warehouses.iter().any(|w| w.id == s.id) {
                out.push_str(&format!("\nyes\t{}\t(no longer active) {}", s.code, s.id));
            }
        }
        out
    }))
}
