//! `logiflow stock`: projected stock, searched by SKU prefix, name or barcode.

use anyhow::Context;
use logiflow_replica::{Search, StockQuery};

use super::{Ctx, Output};

/// How to read the query: the flags that narrow it, else any of the three.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SearchBy {
    pub(crate) sku: bool,
    pub(crate) name: bool,
    pub(crate) barcode: bool,
}

/// Reads the stock lines the query names, as a tab-separated table.
pub(crate) fn run(
    ctx: &mut Ctx,
    query: Option<String>,
    by: SearchBy,
    bin: Option<String>,
    warehouse: Option<String>,
    limit: Option<usize>,
) -> anyhow::Result<Output> {
    let search = query.map(|q| {
        if by.sku {
            Search::SkuPrefix(q)
        } else if by.name {
            Search::Name(q)
        } else if by.barcode {
            Search::Barcode(q)
        } else {
            Search::Any(q)
        }
    });
    let lines = ctx
        .replica
        .stock(&StockQuery {
            search,
            bin,
            warehouse,
            limit,
        })
        .context("failed to read stock")?;
    Ok(Output::new(ctx.json, &lines, || {
        let mut out = String::from("SKU\tBIN\tLOT\tON HAND\tAVAILABLE\tPENDING\tNAME");
        for l in &lines {
            out.push_str(&format!(
                "\n{}\t{}/{}\t{}\t{}\t{}\t{:+}\t{}",
                l.sku,
                l.warehouse_code,
                l.location_code,
                l.lot_code.as_deref().unwrap_or("-"),
                l.on_hand,
                l.available,
                l.pending,
                l.name
            ));
        }
        out
    }))
}
