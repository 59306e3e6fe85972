//! `lot` rows.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::db::TenantTx;
use crate::routes::lots::Lot;

const COLUMNS: &str = "id, product_id, code, expires_on, created_at, updated_at";

/// Filters of the lot list.
#[derive(Debug, Default)]
pub struct Filter {
    pub product_id: Option<Uuid>,
    /// Lots with an expiry date before this day (exclusive).
    pub expiring_before: Option<NaiveDate>,
}

/// Lots matching `f` after `after` (by id), at most `limit`.
pub async fn list(
    tx: &mut TenantTx,
    f: &Filter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Lot>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {COLUMNS} from lot
         where tenant_id = $1 and ($2::uuid is null or product_id = $2)
           and ($3::date is null or (expires_on is not null and expires_on < $3))
           and ($4::uuid is null or id > $4)
         order by id limit $5"
    ))
    .bind(tenant_id)
    .bind(f.product_id)
    .bind(f.expiring_before)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// One lot, locked for update when `lock`.
pub async fn get(tx: &mut TenantTx, id: Uuid, lock: bool) -> Result<Option<Lot>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {COLUMNS} from lot where tenant_id = $1 and id = $2 {}",
        if lock { "for update" } else { "" }
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// Inserts a lot with a fresh UUIDv7.
pub async fn insert(
    tx: &mut TenantTx,
    product_id: Uuid,
    code: &str,
    expires_on: Option<NaiveDate>,
) -> Result<Lot, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "insert into lot (tenant_id, id, product_id, code, expires_on)
         values ($1, $2, $3, $4, $5) returning {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(product_id)
    .bind(code)
    .bind(expires_on)
    .fetch_one(tx.conn())
    .await
}

/// Sets the code and expiry date (the merged values).
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    code: &str,
    expires_on: Option<NaiveDate>,
) -> Result<Lot, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "update lot set code = $3, expires_on = $4, updated_at = now()
         where tenant_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(code)
    .bind(expires_on)
    .fetch_one(tx.conn())
    .await
}
