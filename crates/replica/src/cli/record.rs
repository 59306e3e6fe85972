//! `logiflow receive`, `ship`, `transfer`, `adjust` and `count`: recording one movement.

use anyhow::Context;
use logiflow_core::AdjustReason;
use logiflow_replica::{Action, ItemRef, Op};

use super::args::{ItemArgs, ItemBy, Reason};
use super::{Ctx, Output};

/// Records `op` on the item, with the projected outcome and any warnings.
pub(crate) fn run(ctx: &mut Ctx, item: ItemArgs, op: Op) -> anyhow::Result<Output> {
    let action = Action {
        item: match item.by {
            ItemBy::Scan => ItemRef::Scan(item.item),
            ItemBy::Sku => ItemRef::Sku(item.item),
            ItemBy::Barcode => ItemRef::Barcode(item.item),
        },
        lot: item.lot,
        warehouse: item.warehouse,
        op,
        reference: None,
    };
    let recorded = ctx
        .replica
        .record(&action)
        .context("failed to record the movement")?;
    Ok(Output::new(ctx.json, &recorded, || {
        let mut out = format!(
            "recorded #{} ({}), projected {}",
            recorded.seq, recorded.movement.id, recorded.projected
        );
        for w in &recorded.warnings {
            out.push_str(&format!("\nwarning: {} ({})", w.message, w.code));
        }
        out
    }))
}

/// The core's reason for an adjustment.
pub(crate) fn reason(reason: Reason) -> AdjustReason {
    match reason {
        Reason::Damage => AdjustReason::Damage,
        Reason::Loss => AdjustReason::Loss,
        Reason::Found => AdjustReason::Found,
        Reason::Correction => AdjustReason::Correction,
    }
}
