//! `logiflow orders`: the open purchase orders of the device's warehouses.

use anyhow::Context;

use super::{Ctx, Output};

/// Lists the open purchase orders, one line per order line, as a tab-separated table.
pub(crate) fn run(ctx: &mut Ctx) -> anyhow::Result<Output> {
    let orders = ctx
        .replica
        .purchase_orders()
        .context("failed to read the purchase orders")?;
    Ok(Output::new(ctx.json, &orders, || {
        let mut out = String::from(
            "ORDER\tWAREHOUSE\tSUPPLIER\tEXPECTED\tSKU\tORDERED\tRECEIVED\tOPEN\tNAME",
        );
        for o in &orders {
            for l in &o.lines {
                out.push_str(&format!(
                    "\n{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    o.number,
                    o.warehouse,
                    o.supplier,
                    o.expected_on.as_deref().unwrap_or("-"),
                    l.sku,
                    l.qty,
                    l.received + l.received_here,
                    l.open(),
                    l.name
                ));
            }
        }
        if orders.is_empty() {
            out.push_str("\n(no open purchase orders: sync to pull them)");
        }
        out
    }))
}
