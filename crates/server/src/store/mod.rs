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

/// One row of the transaction's tenant by its id, as `T`: `select {columns} from {from}
/// where tenant_id = $1 and id = $2 {lock_clause}`, where `lock_clause` is empty or a
/// locking clause (`for update`). Each module's `get` and `get_for_update` are the two
/// uses, named for what they do.
pub(crate) async fn row_by_id<T>(
    tx: &mut crate::db::TenantTx,
    from: &str,
    columns: &str,
    id: uuid::Uuid,
    lock_clause: &str,
) -> Result<Option<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {columns} from {from} where tenant_id = $1 and id = $2 {lock_clause}"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

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
