//! `logiflow orders`: the open purchase orders and the sales orders to pick of the
//! device's warehouses.

use super::{Ctx, Output};
use anyhow::Context;

/// Lists the orders, one line per order line, as tab-separated tables.
pub(crate) fn run(ctx: &mut Ctx) -> anyhow::Result<Output> {
    let orders = ctx
        .replica
        .open_orders()
        .context("failed to read the orders")?;
    Ok(Output::new(ctx.json, &orders, || {
        let mut out = String::from(
            "ORDER\tWAREHOUSE\tSUPPLIER\tEXPECTED\tSKU\tORDERED\tRECEIVED\tOPEN\tNAME",
        );
        for o in &orders.purchase_orders {
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
                    l.open,
                    l.name
                ));
            }
        }
        if orders.purchase_orders.is_empty() {
            out.push_str("\n(no open purchase orders: sync to pull them)");
        }
        out.push_str("\n\nORDER\tWAREHOUSE\tCUSTOMER\tREQUESTED\tSKU\tORDERED\tPICKED\tOPEN\tPICK FROM\tNAME");
        for o in &orders.sales_orders {
            for l in &o.lines {
                let from: Vec<String> = l
                    .pick_list
                    .iter()
                    .map(|p| match &p.lot {
                        Some(lot) => format!("{} {}×{}", p.bin, lot, p.qty),
                        None => format!("{}×{}", p.bin, p.qty),
                    })
                    .collect();
                out.push_str(&format!(
                    "\n{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    o.number,
                    o.warehouse,
                    o.customer,
                    o.requested_on,
                    l.sku,
                    l.qty,
                    l.picked + l.picked_here,
                    l.open,
                    if from.is_empty() {
                        "-".to_owned()
                    } else {
                        from.join(", ")
                    },
                    l.name
                ));
            }
        }
        if orders.sales_orders.is_empty() {
            out.push_str("\n(no sales orders to pick: sync to pull them)");
        }
        out
    }))
}
