//! `product` and `product_barcode` rows.

use rust_decimal::Decimal;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::catalog::product::{ExpiryPolicy, Product};
use crate::db::TenantTx;
use crate::store::locations::{like_escape, prefix_upper};

/// The product columns, barcodes included (sorted), for `from product p`.
const COLUMNS: &str = concat!(
    "p.id, p.sku, p.name, p.uom, p.lot_tracked, p.expiry_policy, p.reorder_point, p.reorder_qty, ",
    crate::store::money_sql!("p", "cost"),
    ", ",
    crate::store::money_sql!("p", "price"),
    ", p.custom, p.active, p.created_at, p.updated_at,
     coalesce((select array_agg(b.barcode order by b.barcode) from product_barcode b
               where b.tenant_id = p.tenant_id and b.product_id = p.id), '{}') as barcodes"
);

/// Search filters (validated), combined with "and".
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// SKUs starting with this (normalized upper case): a range of `product_sku_key`.
    pub sku_prefix: Option<String>,
    /// Case-insensitive name substring with a word of 3+ letters or digits:
    /// `product_name_trigram`.
    pub q: Option<String>,
    /// Exact barcode: a primary-key probe of `product_barcode`.
    pub barcode: Option<String>,
    pub active: Option<bool>,
}

/// The search statement, starting with `prefix` (empty, or `explain …` for the test that
/// checks each filter is served by an index).
pub fn search_query(
    prefix: &str,
    tenant_id: Uuid,
    f: &Filter,
    after: Option<Uuid>,
    limit: i64,
) -> QueryBuilder<'static, Postgres> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "{prefix} select {COLUMNS} from product p where p.tenant_id = "
    ));
    qb.push_bind(tenant_id);
    if let Some(sku) = &f.sku_prefix {
        qb.push(" and p.sku >= ")
            .push_bind(sku.clone())
            .push(" and p.sku < ")
            .push_bind(prefix_upper(sku));
    }
    if let Some(q) = &f.q {
        // Candidates: products having every inner trigram of q, a range of
        // `product_name_trigram_pkey` per trigram (`=` is leakproof, so RLS lets the index
        // serve it; see migration 20261122000003). Then `ilike` rechecks the few candidates.
        qb.push(
            " and p.id in (select t.product_id from product_name_trigram t where t.tenant_id = ",
        )
        .push_bind(tenant_id)
        .push(" and t.trigram = any(product_name_trigrams(")
        .push_bind(q.clone())
        .push(")) group by t.product_id having count(*) = cardinality(product_name_trigrams(")
        .push_bind(q.clone())
        .push(")))")
        .push(" and p.name ilike ")
        .push_bind(format!("%{}%", like_escape(q)));
    }
    if let Some(barcode) = &f.barcode {
        qb.push(" and p.id = (select b.product_id from product_barcode b where b.tenant_id = ")
            .push_bind(tenant_id)
            .push(" and b.barcode = ")
            .push_bind(barcode.clone())
            .push(")");
    }
    if let Some(active) = f.active {
        qb.push(" and p.active = ").push_bind(active);
    }
    if let Some(after) = after {
        qb.push(" and p.id > ").push_bind(after);
    }
    qb.push(" order by p.id limit ").push_bind(limit);
    qb
}

/// Products matching `f` after `after` (by id), at most `limit`.
pub async fn list(
    tx: &mut TenantTx,
    f: &Filter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Product>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    search_query("", tenant_id, f, after, limit)
        .build_query_as()
        .fetch_all(tx.conn())
        .await
}

/// One product.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<Product>, sqlx::Error> {
    super::row_by_id(tx, "product p", COLUMNS, id, "").await
}

/// One product, its row locked (`for update of p`) until the transaction ends: for a read that
/// decides a write.
pub async fn get_for_update(tx: &mut TenantTx, id: Uuid) -> Result<Option<Product>, sqlx::Error> {
    super::row_by_id(tx, "product p", COLUMNS, id, "for update of p").await
}

/// The product's fields as stored (validated); also the changes of an update, where
/// every field is replaced by the merged value.
#[derive(Debug, Clone)]
pub struct ProductFields {
    pub sku: String,
    pub name: String,
    pub uom: String,
    pub lot_tracked: bool,
    pub expiry_policy: ExpiryPolicy,
    pub reorder_point: i64,
    pub reorder_qty: i64,
    pub cost: Option<Decimal>,
    pub price: Option<Decimal>,
    pub custom: serde_json::Value,
    pub active: bool,
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds `f`'s fields in the order [`insert`] and [`update`] number them, `$3` to `$13`.
fn bind_fields<'q>(query: PgQuery<'q>, f: &'q ProductFields) -> PgQuery<'q> {
    query
        .bind(&f.sku)
        .bind(&f.name)
        .bind(&f.uom)
        .bind(f.lot_tracked)
        .bind(f.expiry_policy.as_str())
        .bind(f.reorder_point)
        .bind(f.reorder_qty)
        .bind(f.cost)
        .bind(f.price)
        .bind(&f.custom)
        .bind(f.active)
}

/// Inserts a product with a fresh UUIDv7; returns its id (barcodes are set apart).
pub async fn insert(tx: &mut TenantTx, f: &ProductFields) -> Result<Uuid, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let id = Uuid::now_v7();
    let query = sqlx::query(
        "insert into product (tenant_id, id, sku, name, uom, lot_tracked, expiry_policy,
            reorder_point, reorder_qty, cost, price, custom, active)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    );
    bind_fields(query.bind(tenant_id).bind(id), f)
        .execute(tx.conn())
        .await?;
    Ok(id)
}

/// Replaces every field of product `id`.
pub async fn update(tx: &mut TenantTx, id: Uuid, f: &ProductFields) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let query = sqlx::query(
        "update product set sku = $3, name = $4, uom = $5, lot_tracked = $6, expiry_policy = $7,
            reorder_point = $8, reorder_qty = $9, cost = $10, price = $11, custom = $12,
            active = $13, updated_at = now()
         where tenant_id = $1 and id = $2",
    );
    bind_fields(query.bind(tenant_id).bind(id), f)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The first of `barcodes` that belongs to a product other than `product_id`.
pub async fn taken_barcode(
    tx: &mut TenantTx,
    barcodes: &[String],
    product_id: Option<Uuid>,
) -> Result<Option<String>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select barcode from product_barcode
         where tenant_id = $1 and barcode = any($2) and ($3::uuid is null or product_id <> $3)
         order by barcode limit 1",
    )
    .bind(tenant_id)
    .bind(barcodes)
    .bind(product_id)
    .fetch_optional(tx.conn())
    .await
}

/// Makes `barcodes` the product's exact set. Returns a barcode that another product
/// took in the meantime (a concurrent writer committed it after [`taken_barcode`] looked):
/// `on conflict do nothing` waits for that writer and skips the row instead of failing,
/// so the caller can name the barcode (the unique violation's detail cannot: PostgreSQL
/// hides key values of tables under row-level security).
pub async fn set_barcodes(
    tx: &mut TenantTx,
    product_id: Uuid,
    barcodes: &[String],
) -> Result<Option<String>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "delete from product_barcode where tenant_id = $1 and product_id = $2 and barcode <> all($3)",
    )
    .bind(tenant_id)
    .bind(product_id)
    .bind(barcodes)
    .execute(tx.conn())
    .await?;
    sqlx::query_scalar(
        "with wanted as (
             select b from unnest($3::text[]) b
             where not exists (select 1 from product_barcode x
                               where x.tenant_id = $1 and x.barcode = b and x.product_id = $2)),
         inserted as (
             insert into product_barcode (tenant_id, barcode, product_id)
             select $1, b, $2 from wanted
             on conflict (tenant_id, barcode) do nothing
             returning barcode)
         select b from wanted where b not in (select barcode from inserted) order by b limit 1",
    )
    .bind(tenant_id)
    .bind(product_id)
    .bind(barcodes)
    .fetch_optional(tx.conn())
    .await
}

/// Whether the product has lots.
pub async fn has_lots(tx: &mut TenantTx, id: Uuid) -> Result<bool, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar("select exists (select 1 from lot where tenant_id = $1 and product_id = $2)")
        .bind(tenant_id)
        .bind(id)
        .fetch_one(tx.conn())
        .await
}

/// Whether the product holds stock without a lot (the nil lot), on hand or allocated.
pub async fn has_unlotted_stock(tx: &mut TenantTx, id: Uuid) -> Result<bool, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select exists (select 1 from stock_row where tenant_id = $1 and product_id = $2
                          and lot_id = '00000000-0000-0000-0000-000000000000'
                          and (on_hand <> 0 or allocated <> 0))",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_one(tx.conn())
    .await
}

/// Which of `ids` name products of the tenant.
pub async fn existing(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar("select id from product where tenant_id = $1 and id = any($2)")
        .bind(tenant_id)
        .bind(ids)
        .fetch_all(tx.conn())
        .await
}

/// Which of `ids` name lot-tracked products of the tenant, every one of `ids` locked
/// (`for update`, in id order, so two callers never deadlock) until the transaction
/// ends: lots are added to them, and lot tracking cannot be turned off meanwhile.
pub async fn lot_tracked_for_update(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let locked: Vec<(Uuid, bool)> = sqlx::query_as(
        "select id, lot_tracked from product where tenant_id = $1 and id = any($2)
         order by id for update",
    )
    .bind(tenant_id)
    .bind(ids)
    .fetch_all(tx.conn())
    .await?;
    Ok(locked.into_iter().filter(|p| p.1).map(|p| p.0).collect())
}

/// The products whose SKU is one of `skus` (normalized): an import's existing rows.
pub async fn by_skus(tx: &mut TenantTx, skus: &[String]) -> Result<Vec<Product>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    // A join with the list rather than `sku = any($2)`: once PostgreSQL switches the
    // prepared statement to its generic plan, `= any` of a parameter is a linear search
    // of the list for every product of the tenant (4 s a 5,000-row import chunk against
    // 100,000 products, `cargo xtask bench import`); the join hashes or probes the index
    // whatever the plan.
    sqlx::query_as(&format!(
        "select {COLUMNS} from product p join unnest($2::text[]) s(sku) on p.sku = s.sku
         where p.tenant_id = $1"
    ))
    .bind(tenant_id)
    .bind(skus)
    .fetch_all(tx.conn())
    .await
}

/// The owner of each of `barcodes` that belongs to a product: (barcode, product id).
pub async fn barcode_owners(
    tx: &mut TenantTx,
    barcodes: &[String],
) -> Result<Vec<(String, Uuid)>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        // A join, not `= any($2)`: see `by_skus`.
        "select b.barcode, b.product_id from product_barcode b
         join unnest($2::text[]) s(barcode) on b.barcode = s.barcode
         where b.tenant_id = $1",
    )
    .bind(tenant_id)
    .bind(barcodes)
    .fetch_all(tx.conn())
    .await
}
