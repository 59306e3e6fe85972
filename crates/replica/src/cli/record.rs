//! `logiflow receive`, `ship`, `transfer`, `adjust` and `count`: recording one movement.

use anyhow::Context;
use logiflow_core::AdjustReason;
use logiflow_replica::{Action, ItemRef, Op};

use super::args::{ItemArgs, ItemBy, Reason};
use super::{Ctx, Output};

/// Which order a movement counts toward, by number.
enum Order<'a> {
    None,
    Purchase(&'a str),
    Sales(&'a str),
}

/// Records `op` on the item, with the projected outcome and any warnings.
pub(crate) fn run(ctx: &mut Ctx, item: ItemArgs, op: Op) -> anyhow::Result<Output> {
    record(ctx, item, op, Order::None, None)
}

/// [`run`], counting toward a line of purchase order `po` when given, into a lot with
/// the expiry date `expires` when given (see `Action::expires_on`).
pub(crate) fn receive(
    ctx: &mut Ctx,
    item: ItemArgs,
    op: Op,
    po: Option<&str>,
    expires: Option<String>,
) -> anyhow::Result<Output> {
    record(
        ctx,
        item,
        op,
        po.map_or(Order::None, Order::Purchase),
        expires,
    )
}

/// [`run`], counting toward a line of sales order `so` when given.
pub(crate) fn ship(
    ctx: &mut Ctx,
    item: ItemArgs,
    op: Op,
    so: Option<&str>,
) -> anyhow::Result<Output> {
    record(ctx, item, op, so.map_or(Order::None, Order::Sales), None)
}

fn record(
    ctx: &mut Ctx,
    item: ItemArgs,
    op: Op,
    order: Order<'_>,
    expires_on: Option<String>,
) -> anyhow::Result<Output> {
    let item_ref = match item.by {
        ItemBy::Scan => ItemRef::Scan(item.item),
        ItemBy::Sku => ItemRef::Sku(item.item),
        ItemBy::Barcode => ItemRef::Barcode(item.item),
    };
    let reference = match order {
        Order::None => None,
        Order::Purchase(number) => Some(
            ctx.replica
                .purchase_line(number, &item_ref)
                .context("failed to find the purchase order line")?,
        ),
        Order::Sales(number) => Some(
            ctx.replica
                .sales_line(number, &item_ref)
                .context("failed to find the sales order line")?,
        ),
    };
    let action = Action {
        expires_on,
        item: item_ref,
        lot: item.lot,
        warehouse: item.warehouse,
        op,
        reference,
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
