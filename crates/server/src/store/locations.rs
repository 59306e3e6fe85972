//! `location` rows: the location tree of each warehouse.

use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::catalog::location::Location;
use crate::db::TenantTx;

const COLUMNS: &str =
    "id, warehouse_id, parent_id, code, name, path, depth, active, created_at, updated_at";

/// The upper bound of a prefix range: paths and SKUs are ASCII under the "C" collation,
/// so `prefix <= x < prefix || U+10FFFF` is exactly "x starts with prefix", as a range
/// the btree serves with a bound parameter too (unlike `like $1 || '%'`, which a generic
/// plan cannot turn into a range, and where `_` would be a wildcard).
pub fn prefix_upper(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Filters of the location list (already validated and normalized).
#[derive(Debug, Default)]
pub struct Filter {
    pub warehouse_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    /// Only top-level locations (no parent).
    pub root: bool,
    pub path_prefix: Option<String>,
    /// Substring of the path or the name, case-insensitive.
    pub q: Option<String>,
    pub active: Option<bool>,
}

/// Escapes `%`, `_` and `\` for a `like` pattern.
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Locations matching `f` after `after` (by id), at most `limit`.
pub async fn list(
    tx: &mut TenantTx,
    f: &Filter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Location>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("select {COLUMNS} from location where tenant_id = "));
    qb.push_bind(tenant_id);
    if let Some(w) = f.warehouse_id {
        qb.push(" and warehouse_id = ").push_bind(w);
    }
    if let Some(parent) = f.parent_id {
        qb.push(" and parent_id = ").push_bind(parent);
    }
    if f.root {
        qb.push(" and parent_id is null");
    }
    if let Some(prefix) = &f.path_prefix {
        qb.push(" and path >= ")
            .push_bind(prefix.clone())
            .push(" and path < ")
            .push_bind(prefix_upper(prefix));
    }
    if let Some(q) = &f.q {
        let pattern = format!("%{}%", like_escape(q));
        qb.push(" and (path ilike ")
            .push_bind(pattern.clone())
            .push(" or name ilike ")
            .push_bind(pattern)
            .push(")");
    }
    if let Some(active) = f.active {
        qb.push(" and active = ").push_bind(active);
    }
    if let Some(after) = after {
        qb.push(" and id > ").push_bind(after);
    }
    qb.push(" order by id limit ").push_bind(limit);
    qb.build_query_as().fetch_all(tx.conn()).await
}

/// One location.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<Location>, sqlx::Error> {
    super::row_by_id(tx, "location", COLUMNS, id, "").await
}

/// One location, its row locked (`for update`) until the transaction ends: for a read that
/// decides a write.
pub async fn get_for_update(tx: &mut TenantTx, id: Uuid) -> Result<Option<Location>, sqlx::Error> {
    super::row_by_id(tx, "location", COLUMNS, id, "for update").await
}

/// A validated new location; `path` and `depth` follow from the parent.
#[derive(Debug)]
pub struct NewLocation {
    pub warehouse_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub code: String,
    pub name: String,
    pub path: String,
    pub depth: i32,
}

/// Inserts a location with a fresh UUIDv7.
pub async fn insert(tx: &mut TenantTx, l: NewLocation) -> Result<Location, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "insert into location (tenant_id, id, warehouse_id, parent_id, code, name, path, depth)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(l.warehouse_id)
    .bind(l.parent_id)
    .bind(l.code)
    .bind(l.name)
    .bind(l.path)
    .bind(l.depth)
    .fetch_one(tx.conn())
    .await
}

/// Changes name and active flag; `None` leaves a field as it is.
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    name: Option<String>,
    active: Option<bool>,
) -> Result<Location, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "update location set name = coalesce($3, name), active = coalesce($4, active),
            updated_at = now()
         where tenant_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(name)
    .bind(active)
    .fetch_one(tx.conn())
    .await
}

/// Renames `loc` to `code` and rewrites the path of it and of every descendant in one
/// statement: descendants are exactly the paths starting with `old path + '/'` (codes
/// cannot contain '/'), a range of the path index. Returns every changed row.
pub async fn recode(
    tx: &mut TenantTx,
    loc: &Location,
    code: &str,
    new_path: &str,
) -> Result<Vec<Location>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let below = format!("{}/", loc.path);
    sqlx::query_as(&format!(
        "update location set
            code = case when id = $2 then $4 else code end,
            path = $5 || substr(path, length($6) + 1),
            updated_at = now()
         where tenant_id = $1 and warehouse_id = $3
           and (id = $2 or (path >= $7 and path < $8))
         returning {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(loc.id)
    .bind(loc.warehouse_id)
    .bind(code)
    .bind(new_path)
    .bind(&loc.path)
    .bind(&below)
    .bind(prefix_upper(&below))
    .fetch_all(tx.conn())
    .await
}

/// Whether a stock row of the location holds anything (on hand or allocated).
pub async fn holds_stock(tx: &mut TenantTx, id: Uuid) -> Result<bool, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select exists (select 1 from stock_row where tenant_id = $1 and location_id = $2
                          and (on_hand <> 0 or allocated <> 0))",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_one(tx.conn())
    .await
}

/// Whether the location holds stock, its stock rows share-locked: for giving it a
/// child. A movement booking on one of them holds it `FOR UPDATE` until it commits, so
/// this waits and then reads what it booked; a movement coming after waits for this
/// transaction, then reads the catalog and finds the location no longer a leaf (see
/// `store::movements::lock_rows`). Rows are locked whatever their quantity: a row empty
/// in this statement's snapshot may be filling in a transaction that has not committed.
pub async fn lock_stock(tx: &mut TenantTx, id: Uuid) -> Result<bool, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "select on_hand, allocated from stock_row where tenant_id = $1 and location_id = $2
         order by product_id, location_id, lot_id
         for share",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .iter()
        .any(|&(on_hand, allocated)| on_hand != 0 || allocated != 0))
}

/// Whether the location has children.
pub async fn has_children(tx: &mut TenantTx, id: Uuid) -> Result<bool, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select exists (select 1 from location where tenant_id = $1 and parent_id = $2)",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_one(tx.conn())
    .await
}

/// Those of `ids` that have child locations (and so hold no stock).
pub async fn with_children(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select i.id from unnest($2::uuid[]) as i(id)
         where exists (select 1 from location c where c.tenant_id = $1 and c.parent_id = i.id)",
    )
    .bind(tenant_id)
    .bind(ids)
    .fetch_all(tx.conn())
    .await
}

/// Whether any stock row (even empty) or movement refers to the location: deleting it
/// would erase history, so it can only be deactivated.
pub async fn has_history(tx: &mut TenantTx, id: Uuid) -> Result<bool, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select exists (select 1 from stock_row where tenant_id = $1 and location_id = $2)
             or exists (select 1 from movement where tenant_id = $1 and from_location_id = $2)
             or exists (select 1 from movement where tenant_id = $1 and to_location_id = $2)",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_one(tx.conn())
    .await
}

/// Deletes a location.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query("delete from location where tenant_id = $1 and id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The locations of the warehouse with one of `codes`.
pub async fn with_codes(
    tx: &mut TenantTx,
    warehouse_id: Uuid,
    codes: &[String],
) -> Result<Vec<Location>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    // A join with the list, not `code = any($3)`: under a generic plan the latter
    // searches the list linearly for every location of the warehouse.
    sqlx::query_as(&format!(
        "select {} from unnest($3::text[]) as c(code)
         join location l on l.tenant_id = $1 and l.warehouse_id = $2 and l.code = c.code",
        COLUMNS
            .split(", ")
            .map(|c| format!("l.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(tenant_id)
    .bind(warehouse_id)
    .bind(codes)
    .fetch_all(tx.conn())
    .await
}

/// Validated new siblings under `parent_id` (or top-level): the i-th has `codes[i]`,
/// `names[i]` and `paths[i]`.
#[derive(Debug)]
pub struct NewSiblings {
    pub warehouse_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub depth: i32,
    pub codes: Vec<String>,
    pub names: Vec<String>,
    pub paths: Vec<String>,
}

/// Inserts siblings in one statement, each with a fresh UUIDv7, in the given order.
pub async fn insert_siblings(
    tx: &mut TenantTx,
    s: NewSiblings,
) -> Result<Vec<Location>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let ids: Vec<Uuid> = s.codes.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query_as(&format!(
        "insert into location (tenant_id, id, warehouse_id, parent_id, code, name, path, depth)
         select $1, n.id, $2, $3, n.code, n.name, n.path, $4
         from unnest($5::uuid[], $6::text[], $7::text[], $8::text[])
              with ordinality as n(id, code, name, path, ord)
         order by n.ord
         returning {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(s.warehouse_id)
    .bind(s.parent_id)
    .bind(s.depth)
    .bind(&ids)
    .bind(&s.codes)
    .bind(&s.names)
    .bind(&s.paths)
    .fetch_all(tx.conn())
    .await
}
