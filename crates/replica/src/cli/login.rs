//! `logiflow login`: sign in on this device again, or with `--new-device` register a new
//! device in place of this one.

use anyhow::Context;
use logiflow_replica::{ConnectRequest, CredentialStore, DeviceInfo, Error, Replica};

use super::args::SyncBounds;
use super::connect::{default_device_name, read_password};
use super::output::Failed;
use super::sync::{progress_printer, sync_text};
use super::{Ctx, Output};

/// Signs in (the server gives this device a new session), then syncs. With
/// `new_device`, refused before asking for a password while entries are unsent.
pub(crate) fn run(
    ctx: Ctx,
    tenant: String,
    email: String,
    server: Option<String>,
    name: Option<String>,
    new_device: bool,
    bounds: &SyncBounds,
) -> anyhow::Result<Output> {
    let Ctx {
        replica,
        path,
        json,
    } = ctx;
    let store = CredentialStore::from_env()?;
    let old = replica
        .device()?
        .ok_or(Error::NotInitialized)
        .context("nothing to log in to: use `logiflow connect`")?;
    if new_device {
        refuse_unsent(&replica, &old)?;
    }
    let password = read_password()?;
    let req = ConnectRequest {
        server: server.unwrap_or_else(|| old.server_url.clone()),
        tenant,
        email,
        password,
        warehouses: Vec::new(),
        name: name.unwrap_or_else(default_device_name),
        platform: std::env::consts::OS.to_owned(),
    };
    let mut progress = progress_printer(json);
    let report = if new_device {
        replica
            .login_new_device(&req, &store, bounds.options(), &mut progress)
            .context("failed to log in")?
            .1
    } else {
        replica
            .login(&req, &store, bounds.options(), &mut progress)
            .context("failed to sign in on this device again")?
            .1
    };
    let out = Output::new(json, &report, || {
        let first = report
            .first_sync
            .as_ref()
            .map_or_else(|| "failed: run `logiflow sync`".to_owned(), sync_text);
        if new_device {
            format!(
                "device {} replaces {} (the old replica is kept as {}); first sync: {first}",
                report.device.device,
                old.device,
                Replica::retired_path(&path, old.device).display(),
            )
        } else {
            format!(
                "signed in on device {} again; sync: {first}",
                report.device.device
            )
        }
    });
    Ok(out.then_fail(report.first_sync_error.map(|e| Failed(e).into())))
}

/// A new device cannot push the old one's unsent entries: refused, nothing changed.
fn refuse_unsent(replica: &Replica, old: &DeviceInfo) -> anyhow::Result<()> {
    let pending = replica.status()?.pending;
    if pending > 0 {
        return Err(Error::InvalidInput {
            field: "journal",
            message: format!(
                "{pending} journal entries of device {} are not answered by the server yet; a new device cannot push them: nothing was changed (run `logiflow login` without --new-device to sign in on this device again, or `logiflow journal export` if it was revoked)",
                old.device
            ),
        }
        .into());
    }
    Ok(())
}
