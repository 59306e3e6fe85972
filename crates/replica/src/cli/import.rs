//! `logiflow import`: a file into the server (validated as a job, previewed, committed
//! with `--commit`), with the device's session; progress on stderr.

use std::path::Path;

use anyhow::Context;
use logiflow_replica::{Error, ImportRequest};

use super::args::SyncBounds;
use super::{Ctx, Output};

/// Uploads `file`, prints the progress of its validation, and the preview or the commit.
pub(crate) fn run(
    ctx: &mut Ctx,
    file: &Path,
    req: &ImportRequest,
    bounds: &SyncBounds,
) -> anyhow::Result<Output> {
    let (client, store) = super::device_client(ctx, bounds.long_request_options())?;
    let json = ctx.json;
    let mut last = None;
    let mut progress = |done: u64, total: u64| {
        if last == Some(done) {
            return;
        }
        last = Some(done);
        if json {
            eprintln!(r#"{{"progress":{{"validated":{done},"total":{total}}}}}"#);
        } else {
            eprintln!("validated {done} of {total} rows");
        }
    };
    let done = ctx
        .replica
        .import_file(&client, &store, file, req, &mut progress)
        .with_context(|| format!("failed to import {}", file.display()))?;
    if done.errors > 0 {
        let mut cells = String::new();
        for c in &done.error_cells {
            cells.push_str(&format!(
                "\n  row {}, {}: {} ({:?})",
                c.row, c.column, c.message, c.value
            ));
        }
        return Err(Error::InvalidInput {
            field: "file",
            message: format!(
                "{} of {} rows have errors, so nothing was imported; fix them and import \
                 the file again:{cells}",
                done.errors, done.rows
            ),
        }
        .into());
    }
    Ok(Output::new(ctx.json, &done, || {
        let what = if done.status == "committed" {
            "imported"
        } else {
            "previewed (nothing written yet: add --commit to import)"
        };
        format!(
            "{what}: {} rows, {} to create, {} to update, {} unchanged",
            done.rows, done.to_create, done.to_update, done.unchanged
        )
    }))
}
