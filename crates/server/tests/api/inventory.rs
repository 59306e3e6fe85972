//! Test fixtures for stock and movements: a small site (a warehouse with a zone of bins,
//! a plain product, a lot-tracked product with a current and an expired lot) written
//! straight into the test database, and helpers to record movements and read stock.

use chrono::{Duration, Utc};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

/// One tenant's site.
pub struct Site {
    pub warehouse: Uuid,
    /// A zone: not a leaf, so it holds no stock.
    pub zone: Uuid,
    /// Leaf bins of the zone.
    pub bins: Vec<Uuid>,
    /// A product without lots (reorder point 10).
    pub product: Uuid,
    /// A lot-tracked product.
    pub tracked: Uuid,
    /// A lot of `tracked` expiring in a year.
    pub lot: Uuid,
    /// A lot of `tracked` that expired last month.
    pub expired_lot: Uuid,
}

/// Inserts a site for `tenant` with `bins` bins (as the owner: the catalog API is
/// tested on its own).
pub async fn site(app: &TestApp, tenant: Uuid, bins: usize) -> Site {
    let owner = &app.owner;
    let warehouse = Uuid::now_v7();
    let code = format!("WH{}", &warehouse.simple().to_string()[24..]);
    sqlx::query(
        "insert into warehouse (tenant_id, id, code, name, timezone) values ($1, $2, $3, 'Main', 'Europe/Berlin')",
    )
    .bind(tenant)
    .bind(warehouse)
    .bind(&code)
    .execute(owner)
    .await
    .unwrap();
    let zone = Uuid::now_v7();
    sqlx::query(
        "insert into location (tenant_id, id, warehouse_id, parent_id, code, path, depth)
         values ($1, $2, $3, null, 'A', 'A', 0)",
    )
    .bind(tenant)
    .bind(zone)
    .bind(warehouse)
    .execute(owner)
    .await
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..bins {
        let id = Uuid::now_v7();
        sqlx::query(
            "insert into location (tenant_id, id, warehouse_id, parent_id, code, path, depth)
             values ($1, $2, $3, $4, $5, 'A/' || $5, 1)",
        )
        .bind(tenant)
        .bind(id)
        .bind(warehouse)
        .bind(zone)
        .bind(format!("B{i:02}"))
        .execute(owner)
        .await
        .unwrap();
        ids.push(id);
    }
    let product = Uuid::now_v7();
    let tracked = Uuid::now_v7();
    for (id, sku, lots) in [(product, "SKU-1", false), (tracked, "SKU-LOT", true)] {
        sqlx::query(
            "insert into product (tenant_id, id, sku, name, lot_tracked, reorder_point, reorder_qty)
             values ($1, $2, $3, $3 || ' name', $4, 10, 50)",
        )
        .bind(tenant)
        .bind(id)
        .bind(format!("{sku}-{}", &code))
        .bind(lots)
        .execute(owner)
        .await
        .unwrap();
    }
    let lot = Uuid::now_v7();
    let expired_lot = Uuid::now_v7();
    let today = Utc::now().date_naive();
    for (id, code, expires) in [
        (lot, "L-GOOD", today + Duration::days(365)),
        (expired_lot, "L-OLD", today - Duration::days(30)),
    ] {
        sqlx::query(
            "insert into lot (tenant_id, id, product_id, code, expires_on) values ($1, $2, $3, $4, $5)",
        )
        .bind(tenant)
        .bind(id)
        .bind(tracked)
        .bind(code)
        .bind(expires)
        .execute(owner)
        .await
        .unwrap();
    }
    Site {
        warehouse,
        zone,
        bins: ids,
        product,
        tracked,
        lot,
        expired_lot,
    }
}

/// POSTs a movement.
pub async fn record(app: &TestApp, token: &str, body: Value) -> Response {
    app.post("/v1/movements", token, body).await
}

/// POSTs a movement that must be applied; returns it.
pub async fn applied(app: &TestApp, token: &str, body: Value) -> Value {
    let r = record(app, token, body.clone()).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body} → {v}");
    assert_eq!(v["outcome"], "applied");
    v
}

pub fn receive(product: Uuid, to: Uuid, qty: i64) -> Value {
    json!({"kind": "receive", "product_id": product, "to_location_id": to, "qty": qty})
}

pub fn ship(product: Uuid, from: Uuid, qty: i64) -> Value {
    json!({"kind": "ship", "product_id": product, "from_location_id": from, "qty": qty})
}

pub fn transfer(product: Uuid, from: Uuid, to: Uuid, qty: i64) -> Value {
    json!({"kind": "transfer", "product_id": product, "from_location_id": from, "to_location_id": to, "qty": qty})
}

/// `on_hand` of a row, read by the owner (0 when the row does not exist).
pub async fn on_hand(
    app: &TestApp,
    tenant: Uuid,
    product: Uuid,
    bin: Uuid,
    lot: Option<Uuid>,
) -> i64 {
    sqlx::query_scalar(
        "select on_hand from stock_row where tenant_id = $1 and product_id = $2 and location_id = $3 and lot_id = $4",
    )
    .bind(tenant)
    .bind(product)
    .bind(bin)
    .bind(lot.unwrap_or_default())
    .fetch_optional(&app.owner)
    .await
    .unwrap()
    .unwrap_or(0)
}

/// Rows of a table for a tenant, read by the owner.
pub async fn count(app: &TestApp, table: &str, tenant: Uuid) -> i64 {
    sqlx::query_scalar(&format!(
        "select count(*) from {table} where tenant_id = $1"
    ))
    .bind(tenant)
    .fetch_one(&app.owner)
    .await
    .unwrap()
}

/// Fails with every row where the ledger does not hold, and every movement whose outcome
/// disagrees with its ledger effects.
pub async fn assert_ledger(app: &TestApp, tenant: Uuid) {
    let violations = logiflow_testkit::ledger_violations(&app.owner, tenant).await;
    assert!(violations.is_empty(), "ledger:\n{}", violations.join("\n"));
    let violations = logiflow_testkit::allocation_violations(&app.owner, tenant).await;
    assert!(
        violations.is_empty(),
        "allocations:\n{}",
        violations.join("\n")
    );
    let violations = logiflow_testkit::outcome_violations(&app.owner, tenant).await;
    assert!(
        violations.is_empty(),
        "outcomes:\n{}",
        violations.join("\n")
    );
}

/// How many audit entries of `action` the tenant has.
pub async fn audited(app: &TestApp, tenant: Uuid, action: &str) -> i64 {
    sqlx::query_scalar("select count(*) from audit_log where tenant_id = $1 and action = $2")
        .bind(tenant)
        .bind(action)
        .fetch_one(&app.owner)
        .await
        .unwrap()
}

/// An online movement of `kind` for the group committer (`logiflow_server::group`), by
/// the holder of access token `token`, whose session its batch checks.
pub fn online_job(
    token: &str,
    tenant: Uuid,
    product: Uuid,
    kind: logiflow_core::MovementKind,
) -> logiflow_server::group_commit::Job {
    use chrono::SubsecRound;
    let claims = claims_of_token(token);
    logiflow_server::group_commit::Job {
        movement: logiflow_core::Movement {
            id: logiflow_core::MovementId::from_uuid(Uuid::now_v7()),
            occurred_at: Utc::now().trunc_subsecs(6),
            product: logiflow_core::ProductId::from_uuid(product),
            lot: None,
            kind,
            user: logiflow_core::UserId::from_uuid(claims.sub),
            device: None,
            reference: None,
        },
        user_id: claims.sub,
        actor_type: "user".to_owned(),
        actor_id: claims.sub,
        session_id: Some(claims.sid),
        request_id: None,
        note: None,
        idempotency: None,
        deferred_check: Some(logiflow_server::auth::DeferredCheck {
            tenant_id: logiflow_core::TenantId::from_uuid(tenant),
            user_id: claims.sub,
            session_id: claims.sid,
            request_id: None,
            permission: logiflow_server::rbac::Permission::MovementsWrite,
        }),
    }
}

/// [`site`] with its codes as the API writes them (upper case: `site` inserts them
/// directly, in mixed case), for files that name things by code; answers the site and
/// the codes of its warehouse, product and lot-tracked product.
pub async fn coded_site(
    app: &TestApp,
    tenant: Uuid,
    bins: usize,
) -> (Site, String, String, String) {
    let s = site(app, tenant, bins).await;
    for sql in [
        "update warehouse set code = upper(code) where tenant_id = $1",
        "update product set sku = upper(sku) where tenant_id = $1",
    ] {
        sqlx::query(sql)
            .bind(tenant)
            .execute(&app.owner)
            .await
            .unwrap();
    }
    let (wh, sku, tracked): (String, String, String) = sqlx::query_as(
        "select w.code, p.sku, q.sku from warehouse w, product p, product q
         where w.id = $1 and p.id = $2 and q.id = $3",
    )
    .bind(s.warehouse)
    .bind(s.product)
    .bind(s.tracked)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    (s, wh, sku, tracked)
}
