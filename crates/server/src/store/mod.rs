//! Storage: every function takes a [`TenantTx`](crate::db::TenantTx), so each query runs
//! inside a transaction scoped to one tenant (row-level security applies) and a query
//! without a tenant cannot be written from the request path. Handlers in `routes` map
//! requests to these functions and their results to responses.

/// Decimals as the API shows them: trailing zeros trimmed but at least two decimals
/// (`12.50`, `0.1234`, `3.00`), whatever scale the column stores. `money_sql!("p", "cost")`
/// reads `p.cost` as `cost`.
macro_rules! money_sql {
    ($t:literal, $c:literal) => {
        concat!(
            "case when ",
            $t,
            ".",
            $c,
            " is null then null when scale(trim_scale(",
            $t,
            ".",
            $c,
            ")) < 2 then round(",
            $t,
            ".",
            $c,
            ", 2) else trim_scale(",
            $t,
            ".",
            $c,
            ") end as ",
            $c
        )
    };
}
pub(crate) use money_sql;

pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod catalog_change;
pub mod devices;
pub mod idempotency;
pub mod imports;
pub mod journal;
pub mod journal_upload;
pub mod locations;
pub mod lots;
pub mod movements;
pub mod orders;
pub mod outbox;
pub mod parties;
pub mod platform;
pub mod products;
pub mod pull;
pub mod purchase_orders;
pub mod sales_orders;
pub mod sessions;
pub mod settings;
pub mod stock;
pub mod users;
pub mod warehouses;
pub mod webhooks;
