//! `logiflow clock`: check this device's clock, or confirm it with `clock accept`.

use anyhow::Context;
use logiflow_replica::ClockJump;

use super::{Ctx, Output};

/// Whether the clock jumped since the server last answered.
pub(crate) fn check(ctx: &mut Ctx) -> anyhow::Result<Output> {
    let jump = ctx
        .replica
        .check_clock()
        .context("failed to check the clock")?;
    let report = serde_json::json!({
        "clock_jumped": jump.is_some(),
        "off_by_secs": jump.as_ref().map(ClockJump::off_by_secs),
        "message": jump.as_ref().map(ClockJump::message),
    });
    Ok(Output::new(ctx.json, &report, || match &jump {
        Some(j) => format!("clock_jumped: {}", j.message()),
        None => "the clock agrees with the server's last answer and the time elapsed since".into(),
    }))
}

/// Confirms the clock as it reads now.
pub(crate) fn accept(ctx: &mut Ctx) -> anyhow::Result<Output> {
    let at = ctx
        .replica
        .accept_clock()
        .context("failed to confirm the clock")?;
    Ok(Output::new(
        ctx.json,
        &serde_json::json!({ "accepted": at }),
        || {
            format!(
                "the clock is confirmed as it reads now ({}); the next sync checks it against the server again",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            )
        },
    ))
}
