//! `lot` rows.

use chrono::NaiveDate;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::catalog::lot::Lot;
use crate::db::TenantTx;

const COLUMNS: &str = "id, product_id, code, expires_on, created_at, updated_at";

/// Filters of the lot list.
#[derive(Debug, Default)]
pub struct Filter {
    pub product_id: Option<Uuid>,
    /// Lots with an expiry date before this day (exclusive).
    pub expiring_before: Option<NaiveDate>,
}

/// Lots matching `f` after `after` (by id), at most `limit`. Only the given filters are
/// in the statement, so `expiring_before` is a range of `lot_expiry_idx` (a partial index
/// that a generic plan with `$n is null or …` could not use).
pub async fn list(
    tx: &mut TenantTx,
    f: &Filter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Lot>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("select {COLUMNS} from lot where tenant_id = "));
    qb.push_bind(tenant_id);
    if let Some(product_id) = f.product_id {
        qb.push(" and product_id = ").push_bind(product_id);
    }
    if let Some(day) = f.expiring_before {
        qb.push(" and expires_on < ").push_bind(day);
    }
    if let Some(after) = after {
        qb.push(" and id > ").push_bind(after);
    }
    qb.push(" order by id limit ").push_bind(limit);
    qb.build_query_as().fetch_all(tx.conn()).await
}

/// One lot.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<Lot>, sqlx::Error> {
    super::row_by_id(tx, "lot", COLUMNS, id, "").await
}

/// One lot, its row locked (`for update`) until the transaction ends: for a read that
/// decides a write.
pub async fn get_for_update(tx: &mut TenantTx, id: Uuid) -> Result<Option<Lot>, sqlx::Error> {
    super::row_by_id(tx, "lot", COLUMNS, id, "for update").await
}

/// Every lot of `products`.
pub async fn of_products(tx: &mut TenantTx, products: &[Uuid]) -> Result<Vec<Lot>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {} from unnest($2::uuid[]) as p(id) join lot l on l.tenant_id = $1 and l.product_id = p.id",
        COLUMNS
            .split(", ")
            .map(|c| format!("l.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(tenant_id)
    .bind(products)
    .fetch_all(tx.conn())
    .await
}

/// A lot with its product's SKU.
#[derive(Debug, sqlx::FromRow)]
pub struct LotWithSku {
    #[sqlx(flatten)]
    pub lot: Lot,
    pub sku: String,
}

/// Lots after `after` (by id) with their product's SKU, at most `limit`.
pub async fn page_with_sku(
    tx: &mut TenantTx,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<LotWithSku>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select l.id, l.product_id, l.code, l.expires_on, l.created_at, l.updated_at, p.sku
         from lot l join product p on p.tenant_id = l.tenant_id and p.id = l.product_id
         where l.tenant_id = $1 and ($2::uuid is null or l.id > $2)
         order by l.id limit $3",
    )
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Inserts a lot with a fresh UUIDv7.
pub async fn insert(
    tx: &mut TenantTx,
    product_id: Uuid,
    code: &str,
    expires_on: Option<NaiveDate>,
) -> Result<Lot, sqlx::Error> {
    insert_with_id(tx, Uuid::now_v7(), product_id, code, expires_on).await
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

/// What the server holds for a lot a device declared (`logiflow_core::lots`): the lot
/// its id was mapped to, the lot with its id, and its product's lot with its code, each
/// as (id, expiry date).
#[derive(Debug, sqlx::FromRow)]
pub struct DeclaredMatch {
    pub id: Uuid,
    pub mapped: Option<Uuid>,
    pub mapped_expires_on: Option<NaiveDate>,
    pub by_id: Option<Uuid>,
    pub by_id_expires_on: Option<NaiveDate>,
    pub by_code: Option<Uuid>,
    pub by_code_expires_on: Option<NaiveDate>,
}

/// [`DeclaredMatch`] of each declared lot (`ids`, `products`, `codes` side by side).
pub async fn declared_matches(
    tx: &mut TenantTx,
    ids: &[Uuid],
    products: &[Uuid],
    codes: &[String],
) -> Result<Vec<DeclaredMatch>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select d.id, a.lot_id as mapped, am.expires_on as mapped_expires_on,
                li.id as by_id, li.expires_on as by_id_expires_on,
                lc.id as by_code, lc.expires_on as by_code_expires_on
         from unnest($2::uuid[], $3::uuid[], $4::text[]) as d (id, product_id, code)
         left join lot_alias a on a.tenant_id = $1 and a.id = d.id
         left join lot am on am.tenant_id = $1 and am.id = a.lot_id
         left join lot li on li.tenant_id = $1 and li.id = d.id
         left join lot lc on lc.tenant_id = $1 and lc.product_id = d.product_id
                         and lc.code = d.code",
    )
    .bind(tenant_id)
    .bind(ids)
    .bind(products)
    .bind(codes)
    .fetch_all(tx.conn())
    .await
}

/// Inserts a lot with id `id` (a device's, for a lot it created offline).
pub async fn insert_with_id(
    tx: &mut TenantTx,
    id: Uuid,
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
    .bind(id)
    .bind(product_id)
    .bind(code)
    .bind(expires_on)
    .fetch_one(tx.conn())
    .await
}

/// Maps the id a device gave a lot to the lot the server keeps (`lot_alias`).
pub async fn insert_aliases(
    tx: &mut TenantTx,
    ids: &[Uuid],
    lots: &[Uuid],
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "insert into lot_alias (tenant_id, id, lot_id)
         select $1, a.id, a.lot_id from unnest($2::uuid[], $3::uuid[]) as a (id, lot_id)
         on conflict (tenant_id, id) do nothing",
    )
    .bind(tenant_id)
    .bind(ids)
    .bind(lots)
    .execute(tx.conn())
    .await
    .map(|_| ())
}
