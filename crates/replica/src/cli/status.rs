//! `logiflow status`: the replica's state at a glance.

use anyhow::Context;
use chrono::{DateTime, Utc};
use logiflow_replica::Status;

use super::{Ctx, Output};

/// The pending journal, conflicts, last sync, session and cursor.
pub(crate) fn run(ctx: &mut Ctx) -> anyhow::Result<Output> {
    let s = ctx.replica.status().context("failed to read the status")?;
    Ok(Output::new(ctx.json, &s, || text(&s)))
}

fn text(s: &Status) -> String {
    let device = s
        .device
        .as_ref()
        .map_or("not set up".to_owned(), |d| d.device.to_string());
    let server = s
        .device
        .as_ref()
        .map_or("none".to_owned(), |d| d.server_url.clone());
    let when = |t: Option<DateTime<Utc>>| t.map_or("never".to_owned(), |t| t.to_rfc3339());
    let last_sync = match (&s.last_sync_at, &s.last_sync_error) {
        (None, _) => "never".to_owned(),
        (Some(t), None) => format!("{} (ok)", t.to_rfc3339()),
        (Some(t), Some(e)) => {
            format!("{} (failed: {} — {})", t.to_rfc3339(), e.code, e.message)
        }
    };
    let session = match s.session_expires_at {
        None => "unknown".to_owned(),
        Some(t) if s.session_ends_soon => format!(
            "ends {} (soon: sync before then, or sign in again with `logiflow login`)",
            t.to_rfc3339()
        ),
        Some(t) => format!("ends {} unless the device syncs before", t.to_rfc3339()),
    };
    format!(
        "device: {device}\nserver: {server}\npending: {}\nconflicts: {}\nlast seq: {}\nlast sync: {last_sync}\nlast contact with the server: {}\nlast push: {}\nlast pull: {}\ncursor: {}\nsession: {session}",
        s.pending,
        s.conflicts,
        s.last_seq,
        when(s.last_contact_at),
        when(s.last_push_at),
        when(s.last_pull_at),
        s.cursor.as_deref().unwrap_or("none")
    )
}
