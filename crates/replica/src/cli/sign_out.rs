//! `logiflow sign-out`: end this device's session and delete its tokens.

use anyhow::Context;
use logiflow_replica::{CredentialStore, Error, ServerClient, SyncOptions};

use super::{Ctx, Output};

/// Signs out; the journal stays.
pub(crate) fn run(ctx: &mut Ctx) -> anyhow::Result<Output> {
    let store = CredentialStore::from_env()?;
    let device = ctx.replica.device()?.ok_or(Error::NotInitialized)?;
    let client = ServerClient::new(&device.server_url, SyncOptions::default())?;
    let done = ctx
        .replica
        .sign_out(&client, &store)
        .context("failed to sign out")?;
    Ok(Output::new(ctx.json, &done, || {
        if done.session_ended {
            format!(
                "signed out: device {} has no tokens on this machine and its session is ended",
                device.device
            )
        } else {
            format!(
                "signed out: device {} has no tokens on this machine (the server could not be told; its session ends when its tokens expire)",
                device.device
            )
        }
    }))
}
