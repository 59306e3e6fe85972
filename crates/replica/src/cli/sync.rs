//! `logiflow sync`: push the journal and pull until current, once or every interval with
//! `--watch`; also the progress lines and the report text other commands share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use logiflow_replica::{CredentialStore, Error, ServerClient, SyncProgress, SyncReport};

use super::args::SyncBounds;
use super::{Ctx, Output};

/// One sync, or with `watch` a sync every `interval` seconds until Ctrl-C, each report
/// printed as it comes.
pub(crate) fn run(
    ctx: &mut Ctx,
    watch: bool,
    interval: u64,
    bounds: &SyncBounds,
) -> anyhow::Result<Output> {
    let json = ctx.json;
    let store = CredentialStore::from_env()?;
    let device = ctx.replica.device()?.ok_or(Error::NotInitialized)?;
    let client = ServerClient::new(&device.server_url, bounds.options())?;
    let mut progress = progress_printer(json);
    if !watch {
        let report = ctx
            .replica
            .sync(&client, &store, &mut progress)
            .context("sync failed")?;
        return Ok(Output::new(json, &report, || sync_text(&report)));
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("failed to install the Ctrl-C handler")?;
    }
    while !stop.load(Ordering::SeqCst) {
        match ctx.replica.sync(&client, &store, &mut progress) {
            Ok(report) => Output::new(json, &report, || sync_text(&report)).print(json)?,
            // These do not heal by waiting: stop and say so.
            Err(e) if e.needs_person() => {
                return Err(e).context("sync failed");
            }
            Err(e) => {
                if json {
                    eprintln!("{}", serde_json::json!({ "error": e.body() }));
                } else {
                    eprintln!("logiflow: sync failed: {e} (retrying in {interval} s)");
                }
            }
        }
        for _ in 0..interval.max(1) * 10 {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(Output::printed())
}

/// Prints progress on stderr: a line per step, JSON lines with --json.
pub(crate) fn progress_printer(json: bool) -> impl FnMut(&SyncProgress) {
    move |p: &SyncProgress| {
        if json {
            if let Ok(line) = serde_json::to_string(&serde_json::json!({ "progress": p })) {
                eprintln!("{line}");
            }
            return;
        }
        match p {
            SyncProgress::Pushing { pushed, total } => eprintln!("push: {pushed}/{total}"),
            SyncProgress::Pulling {
                snapshot: Some(s), ..
            } => eprintln!("snapshot: {}/{} records", s.sent, s.total),
            SyncProgress::Pulling { pages, items, .. } => {
                eprintln!("pull: {pages} pages, {items} items")
            }
            SyncProgress::Retrying {
                attempt,
                delay_ms,
                reason,
            } => eprintln!("retry {attempt} in {delay_ms} ms: {reason}"),
        }
    }
}

pub(crate) fn sync_text(r: &SyncReport) -> String {
    format!(
        "pushed {} (applied {}, held {}, rejected {}, absorbed {}, superseded {}, voided {}); pulled {} pages, {} items, {} outcomes; {} pending; {} retries",
        r.pushed,
        r.applied,
        r.held,
        r.rejected,
        r.absorbed,
        r.superseded,
        r.voided,
        r.pages,
        r.items,
        r.outcomes,
        r.pending,
        r.retries
    )
}
