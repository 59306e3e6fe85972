//! `party` rows: suppliers and customers.

use uuid::Uuid;

use crate::db::TenantTx;
use crate::orders::party::{Party, PartyChanges, PartyKind, PartyQuery, ValidParty};

const COLUMNS: &str = "id, kind, code, name, email, phone, address, lead_time_days,
    min_shelf_life_days, active, created_at, updated_at";

/// Parties of `kind` after `after` (by id), at most `limit`, filtered.
pub async fn list(
    tx: &mut TenantTx,
    kind: PartyKind,
    q: &PartyQuery,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Party>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    // `q` matches a code prefix or a part of the name, case-insensitively; the list of
    // one kind of one tenant is small enough to filter by scanning its index range.
    sqlx::query_as(&format!(
        "select {COLUMNS} from party
         where tenant_id = $1 and kind = $2 and ($3::uuid is null or id > $3)
           and ($4::boolean is null or active = $4)
           and ($5::text is null or code like $5 || '%'
                or lower(name) like '%' || lower($5) || '%')
         order by id limit $6"
    ))
    .bind(tenant_id)
    .bind(kind.as_str())
    .bind(after)
    .bind(q.active)
    .bind(q.q.as_deref().map(escape_like))
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// `LIKE` wildcards in a search text, escaped.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// One party of `kind`.
pub async fn get(
    tx: &mut TenantTx,
    kind: PartyKind,
    id: Uuid,
) -> Result<Option<Party>, sqlx::Error> {
    select(tx, kind, id, "").await
}

/// One party of `kind`, its row locked (`for update`): for a read that decides a write.
pub async fn get_for_update(
    tx: &mut TenantTx,
    kind: PartyKind,
    id: Uuid,
) -> Result<Option<Party>, sqlx::Error> {
    select(tx, kind, id, "for update").await
}

async fn select(
    tx: &mut TenantTx,
    kind: PartyKind,
    id: Uuid,
    lock_clause: &str,
) -> Result<Option<Party>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {COLUMNS} from party where tenant_id = $1 and kind = $2 and id = $3 {lock_clause}"
    ))
    .bind(tenant_id)
    .bind(kind.as_str())
    .bind(id)
    .fetch_optional(tx.conn())
    .await
}

/// Inserts a party with a fresh UUIDv7.
pub async fn insert(tx: &mut TenantTx, p: ValidParty) -> Result<Party, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "insert into party (tenant_id, id, kind, code, name, email, phone, address,
            lead_time_days, min_shelf_life_days)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(p.kind.as_str())
    .bind(p.code)
    .bind(p.name)
    .bind(p.email)
    .bind(p.phone)
    .bind(p.address)
    .bind(p.lead_time_days)
    .bind(p.min_shelf_life_days)
    .fetch_one(tx.conn())
    .await
}

/// Applies `changes`.
pub async fn update(tx: &mut TenantTx, id: Uuid, c: PartyChanges) -> Result<Party, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "update party set code = coalesce($3, code), name = coalesce($4, name),
            email = coalesce($5, email), phone = coalesce($6, phone),
            address = coalesce($7, address),
            lead_time_days = coalesce($8, lead_time_days),
            min_shelf_life_days = coalesce($9, min_shelf_life_days),
            active = coalesce($10, active), updated_at = now()
         where tenant_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(c.code)
    .bind(c.name)
    .bind(c.email)
    .bind(c.phone)
    .bind(c.address)
    .bind(c.lead_time_days)
    .bind(c.min_shelf_life_days)
    .bind(c.active)
    .fetch_one(tx.conn())
    .await
}

/// The parties of `kind` with one of `codes`.
pub async fn with_codes(
    tx: &mut TenantTx,
    kind: PartyKind,
    codes: &[String],
) -> Result<Vec<Party>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(&format!(
        "select {} from unnest($3::text[]) as c(code)
         join party p on p.tenant_id = $1 and p.kind = $2 and p.code = c.code",
        COLUMNS
            .split(',')
            .map(|c| format!("p.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(tenant_id)
    .bind(kind.as_str())
    .bind(codes)
    .fetch_all(tx.conn())
    .await
}
