//! `logiflow connect`: register this replica as a new device of a server and run the
//! first sync; also the password prompt and default device name `login` shares.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use logiflow_replica::{ConnectRequest, CredentialStore, Error, Secret};

use super::args::SyncBounds;
use super::output::Failed;
use super::sync::{progress_printer, sync_text};
use super::{Ctx, Output};

/// Registers the device, stores its tokens and runs the first sync. The device is set up
/// even when that sync fails: the output says so, then the command fails with its code.
pub(crate) fn run(
    ctx: &mut Ctx,
    server: String,
    tenant: String,
    email: String,
    warehouses: Vec<String>,
    name: Option<String>,
    bounds: &SyncBounds,
) -> anyhow::Result<Output> {
    let store = CredentialStore::from_env()?;
    let password = read_password()?;
    let req = ConnectRequest {
        server,
        tenant,
        email,
        password,
        warehouses,
        name: name.unwrap_or_else(default_device_name),
        platform: std::env::consts::OS.to_owned(),
    };
    let report = ctx
        .replica
        .connect(
            &req,
            &store,
            bounds.options(),
            &mut progress_printer(ctx.json),
        )
        .context("failed to connect")?;
    let out = Output::new(ctx.json, &report, || {
        let codes: Vec<&str> = report.scope.iter().map(|w| w.code.as_str()).collect();
        let mut out = format!(
            "device {} registered with {} (scope: {}); credentials in {}",
            report.device.device,
            report.device.server_url,
            codes.join(", "),
            report.credentials
        );
        match (&report.first_sync, &report.first_sync_error) {
            (Some(r), _) => out.push_str(&format!("\nfirst sync: {}", sync_text(r))),
            (None, Some(e)) => out.push_str(&format!(
                "\nfirst sync failed: {} ({}); run `logiflow sync`",
                e.message, e.code
            )),
            (None, None) => {}
        }
        out
    });
    // The device is set up either way; a failed first sync still tells scripts why,
    // through the exit code.
    Ok(out.then_fail(report.first_sync_error.map(|e| Failed(e).into())))
}

/// The password: prompted for (without echo) at a terminal, else the first line of stdin.
pub(crate) fn read_password() -> anyhow::Result<Secret> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("password: ").context("failed to read the password")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("failed to read the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if text.is_empty() {
        return Err(Error::InvalidInput {
            field: "password",
            message: "no password given on stdin".into(),
        }
        .into());
    }
    Ok(Secret::new(text))
}

pub(crate) fn default_device_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "logiflow-cli".to_owned())
}
