//! The movement history and the device pull feeds stay index range scans on a large
//! tenant: each filter the API offers, and each feed of a pull, is planned without
//! reading the table sequentially. Checked on
//! the plans PostgreSQL chooses and the rows they read (EXPLAIN ANALYZE of exactly the
//! statement the API runs), not on timings, which would make the test flaky.

use logiflow_server::store::stock::{MovementFilter, push_list_movements};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::helpers::*;

/// Movements of the tenant under test (another tenant holds a quarter as many).
const MOVEMENTS: i64 = 200_000;

/// Rows a page may read and throw away: a filter served by an index range discards
/// almost nothing; a filter applied while walking another index discards thousands.
const ROWS_DISCARDED_MAX: i64 = 2_000;

/// (sequential scans of movement, movement rows read and discarded by filters).
fn scan_cost(plan: &Value, seq_scans: &mut Vec<String>, discarded: &mut i64) {
    if plan["Relation Name"] == "movement" {
        if plan["Node Type"] == "Seq Scan" {
            seq_scans.push(plan["Node Type"].to_string());
        }
        *discarded += plan["Rows Removed by Filter"].as_i64().unwrap_or(0)
            + plan["Rows Removed by Index Recheck"].as_i64().unwrap_or(0);
    }
    if let Some(children) = plan["Plans"].as_array() {
        for c in children {
            scan_cost(c, seq_scans, discarded);
        }
    }
}

async fn bulk(app: &TestApp, tenant: Uuid, n: i64) {
    // 200 products, 50 bins, 5 users, 3 devices, over a year; ids are random (v4) uuids,
    // time-ordered ids are not what the plans depend on.
    sqlx::query(
        "insert into movement (tenant_id, id, kind, origin, product_id, from_location_id, to_location_id,
             qty, occurred_at, user_id, device_id, device_seq, outcome)
         select $1, gen_random_uuid(), (array['receive','ship','transfer','adjust','count'])[1 + g % 5],
                case when g % 3 = 0 then 'journal' else 'online' end,
                ('00000000-0000-4000-8000-' || lpad((g % 200)::text, 12, '0'))::uuid,
                case when g % 5 in (1, 2) then ('00000000-0000-4000-9000-' || lpad((g % 50)::text, 12, '0'))::uuid end,
                case when g % 5 <> 1 then ('00000000-0000-4000-9000-' || lpad(((g * 7) % 50)::text, 12, '0'))::uuid end,
                1 + g % 9, now() - (g || ' seconds')::interval * 150,
                ('00000000-0000-4000-a000-' || lpad((g % 5)::text, 12, '0'))::uuid,
                case when g % 3 = 0 then ('00000000-0000-4000-b000-' || lpad((g % 3)::text, 12, '0'))::uuid end,
                case when g % 3 = 0 then g end,
                case when g % 97 = 0 then 'held' else 'applied' end
         from generate_series(1, $2) g",
    )
    .bind(tenant)
    .bind(n)
    .execute(&app.owner)
    .await
    .unwrap();
}

#[tokio::test]
async fn every_history_filter_is_an_index_scan_on_a_large_tenant() {
    let app = spawn_app().await;
    let t = app.tenant("big", "enterprise").await;
    let other = app.tenant("other", "enterprise").await;
    bulk(&app, t.id, MOVEMENTS).await;
    bulk(&app, other.id, MOVEMENTS / 4).await;
    sqlx::query("analyze movement")
        .execute(&app.owner)
        .await
        .unwrap();

    let id = |prefix: &str, n: u32| -> Uuid {
        format!("00000000-0000-4000-{prefix}-{n:012}")
            .parse()
            .unwrap()
    };
    let at = chrono::Utc::now() - chrono::Duration::days(30);
    let filters = vec![
        ("none", MovementFilter::default()),
        (
            "product",
            MovementFilter {
                product_id: Some(id("8000", 17)),
                ..Default::default()
            },
        ),
        (
            "location",
            MovementFilter {
                location_id: Some(id("9000", 3)),
                ..Default::default()
            },
        ),
        (
            "user",
            MovementFilter {
                user_id: Some(id("a000", 2)),
                ..Default::default()
            },
        ),
        (
            "device",
            MovementFilter {
                device_id: Some(id("b000", 0)),
                ..Default::default()
            },
        ),
        (
            "kind and product",
            MovementFilter {
                kind: Some("ship".into()),
                product_id: Some(id("8000", 4)),
                ..Default::default()
            },
        ),
        (
            "time range",
            MovementFilter {
                from: Some(at - chrono::Duration::days(2)),
                to: Some(at),
                ..Default::default()
            },
        ),
        (
            "held",
            MovementFilter {
                outcome: Some("held".into()),
                ..Default::default()
            },
        ),
        (
            "the conflict inbox",
            MovementFilter {
                review: true,
                ..Default::default()
            },
        ),
    ];
    // Explained as the server runs it: the application role under row-level security
    // (which keeps non-leakproof conditions out of index scans), scoped to the tenant.
    let mut conn = app_role_connection(&app, t.id).await;
    for (name, filter) in &filters {
        for before in [None, Some((at, Uuid::max()))] {
            let mut qb = QueryBuilder::<Postgres>::new("explain (analyze, format json) ");
            push_list_movements(&mut qb, t.id, filter, before, 51);
            let plan: Value = qb.build_query_scalar().fetch_one(&mut conn).await.unwrap();
            let (mut seq_scans, mut discarded) = (Vec::new(), 0);
            scan_cost(&plan[0]["Plan"], &mut seq_scans, &mut discarded);
            assert!(
                seq_scans.is_empty() && discarded <= ROWS_DISCARDED_MAX,
                "{name} (page after {before:?}) is not an index range: {} sequential scans, \
                 {discarded} rows discarded: {plan:#}",
                seq_scans.len()
            );
        }
    }
}

/// (sequential scans, rows read) of `relation` in a plan: rows read are the rows a scan
/// returned plus those it discarded.
fn reads(plan: &Value, relation: &str, seq_scans: &mut usize, rows: &mut i64) {
    if plan["Relation Name"] == relation {
        if plan["Node Type"] == "Seq Scan" {
            *seq_scans += 1;
        }
        let loops = plan["Actual Loops"].as_i64().unwrap_or(1).max(1);
        *rows += (plan["Actual Rows"].as_i64().unwrap_or(0)
            + plan["Rows Removed by Filter"].as_i64().unwrap_or(0))
            * loops;
    }
    if let Some(children) = plan["Plans"].as_array() {
        for c in children {
            reads(c, relation, seq_scans, rows);
        }
    }
}

#[tokio::test]
async fn a_pull_reads_only_what_its_cursor_has_not_seen_on_a_large_ledger() {
    use logiflow_server::store::pull::{
        Range, UNSEEN_EFFECTS_SQL, changes_sql, effects_sql, outcomes_sql,
    };
    let app = spawn_app().await;
    let t = app.tenant("big", "enterprise").await;
    bulk(&app, t.id, MOVEMENTS).await;
    let owner = &app.owner;
    // Their bins in one warehouse, one ledger effect each, and 50k catalog changes.
    let warehouse = Uuid::now_v7();
    sqlx::query(
        "insert into warehouse (tenant_id, id, code, name, timezone) values ($1, $2, 'W', 'W', 'UTC')",
    )
    .bind(t.id)
    .bind(warehouse)
    .execute(owner)
    .await
    .unwrap();
    for sql in [
        "insert into location (tenant_id, id, warehouse_id, code, path, depth)
         select $1, ('00000000-0000-4000-9000-' || lpad(g::text, 12, '0'))::uuid, $2,
                'B' || g, 'B' || g, 0
         from generate_series(0, 49) g",
        "insert into movement_effect (tenant_id, product_id, location_id, lot_id, occurred_at, movement_id, delta)
         select tenant_id, product_id, coalesce(to_location_id, from_location_id),
                '00000000-0000-0000-0000-000000000000', occurred_at, id, qty
         from movement where tenant_id = $1 and $2::uuid is not null",
        "insert into catalog_change (tenant_id, entity, entity_id, warehouse_id, op)
         select $1, 'location', gen_random_uuid(), $2, 'upsert' from generate_series(1, 50000)",
    ] {
        sqlx::query(sql)
            .bind(t.id)
            .bind(warehouse)
            .execute(owner)
            .await
            .unwrap();
    }
    for table in ["movement", "movement_effect", "catalog_change", "location"] {
        sqlx::query(&format!("analyze {table}"))
            .execute(owner)
            .await
            .unwrap();
    }
    // The device's cursor has all of that; then a few transactions commit.
    let (cursor,): (String,) = sqlx::query_as("select pg_current_snapshot()::text")
        .fetch_one(owner)
        .await
        .unwrap();
    let device: Uuid = "00000000-0000-4000-b000-000000000000".parse().unwrap();
    for i in 0..5 {
        sqlx::query(
            "insert into movement_effect (tenant_id, product_id, location_id, lot_id, occurred_at, movement_id, delta)
             select tenant_id, product_id, coalesce(to_location_id, from_location_id), gen_random_uuid(),
                    occurred_at, id, 1
             from movement where tenant_id = $1 order by id offset $2 limit 1",
        )
        .bind(t.id)
        .bind(i * 1000)
        .execute(owner)
        .await
        .unwrap();
        sqlx::query(
            "update movement set xid = pg_current_xact_id()
             where tenant_id = $1 and id = (select id from movement where tenant_id = $1
                                            and device_id = $2 order by id offset $3 limit 1)",
        )
        .bind(t.id)
        .bind(device)
        .bind(i)
        .execute(owner)
        .await
        .unwrap();
        sqlx::query(
            "insert into catalog_change (tenant_id, entity, entity_id, warehouse_id, op)
             values ($1, 'product', gen_random_uuid(), null, 'upsert')",
        )
        .bind(t.id)
        .execute(owner)
        .await
        .unwrap();
    }

    // Explained as the server runs them: the application role under row-level security.
    let mut conn = app_role_connection(&app, t.id).await;
    let xmax: i64 = cursor.split(':').nth(1).unwrap().parse().unwrap();
    let xip = format!("{{{}}}", cursor.split(':').nth(2).unwrap());
    let range = Range::After { xmax, xip: &xip };
    let (x, snap) = range.binds();
    let explain = |sql: String| format!("explain (analyze, format json) {sql}");
    let limit = 10_001_i64;
    let plans: Vec<(&str, &str, Value)> = vec![
        (
            "effects",
            "movement_effect",
            sqlx::query_scalar(&explain(effects_sql(range)))
                .bind(t.id)
                .bind(&x)
                .bind(snap)
                .bind(vec![warehouse])
                .bind(limit)
                .fetch_one(&mut conn)
                .await
                .unwrap(),
        ),
        (
            "outcomes",
            "movement",
            sqlx::query_scalar(&explain(outcomes_sql(range)))
                .bind(t.id)
                .bind(&x)
                .bind(snap)
                .bind(device)
                .bind(limit)
                .fetch_one(&mut conn)
                .await
                .unwrap(),
        ),
        (
            "catalog changes",
            "catalog_change",
            sqlx::query_scalar(&explain(changes_sql(range)))
                .bind(t.id)
                .bind(&x)
                .bind(snap)
                .bind(vec![warehouse])
                .bind(limit)
                .bind(None::<String>)
                .bind(0_i64)
                .fetch_one(&mut conn)
                .await
                .unwrap(),
        ),
    ];
    // Rows as of a cursor: the effects of three rows the cursor has not seen.
    let keys: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "select product_id, location_id, lot_id from movement_effect
         where tenant_id = $1 order by movement_id limit 3",
    )
    .bind(t.id)
    .fetch_all(owner)
    .await
    .unwrap();
    let unseen: Value = sqlx::query_scalar(&explain(UNSEEN_EFFECTS_SQL.to_owned()))
        .bind(t.id)
        .bind(keys.iter().map(|k| k.0).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.1).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.2).collect::<Vec<_>>())
        .bind(xmax.to_string())
        .bind(&xip)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let mut plans = plans;
    plans.push(("rows as of the cursor", "movement_effect", unseen));
    for (name, relation, plan) in plans {
        let (mut seq_scans, mut rows) = (0, 0);
        reads(&plan[0]["Plan"], relation, &mut seq_scans, &mut rows);
        assert!(
            seq_scans == 0 && rows <= 100,
            "the {name} feed reads {rows} rows of {relation} ({seq_scans} sequential scans) \
             for 5 new transactions: {plan:#}"
        );
    }
}

#[tokio::test]
async fn the_ledger_tail_of_a_push_batch_reads_only_the_tails_on_a_large_ledger() {
    use logiflow_server::store::journal::LEDGER_TAIL_SQL;
    let app = spawn_app().await;
    let t = app.tenant("big", "enterprise").await;
    // 1,000 rows with 200 effects each over the last 200 days, one a day: a batch whose
    // oldest movement is 2.5 days old needs the 3 newest effects of each row, 3,000 in
    // all (a sequential scan reads all 200,000).
    sqlx::query(
        "with m as (
           insert into movement (tenant_id, id, kind, origin, product_id, to_location_id, qty,
                                 occurred_at, user_id, outcome)
           select $1, gen_random_uuid(), 'receive', 'online',
                  ('00000000-0000-4000-8000-' || lpad((r % 100)::text, 12, '0'))::uuid,
                  ('00000000-0000-4000-9000-' || lpad((r / 100)::text, 12, '0'))::uuid, 1,
                  now() - (d || ' days')::interval,
                  '00000000-0000-4000-a000-000000000000', 'applied'
           from generate_series(0, 999) r, generate_series(0, 199) d
           returning tenant_id, id, product_id, to_location_id, occurred_at)
         insert into movement_effect (tenant_id, product_id, location_id, lot_id, occurred_at, movement_id, delta)
         select tenant_id, product_id, to_location_id, '00000000-0000-0000-0000-000000000000',
                occurred_at, id, 1
         from m",
    )
    .bind(t.id)
    .execute(&app.owner)
    .await
    .unwrap();
    sqlx::query("analyze movement, movement_effect")
        .execute(&app.owner)
        .await
        .unwrap();
    let (products, locations): (Vec<Uuid>, Vec<Uuid>) = (0..1000)
        .map(|r| {
            (
                format!("00000000-0000-4000-8000-{:012}", r % 100)
                    .parse::<Uuid>()
                    .unwrap(),
                format!("00000000-0000-4000-9000-{:012}", r / 100)
                    .parse::<Uuid>()
                    .unwrap(),
            )
        })
        .unzip();
    let lots = vec![Uuid::nil(); 1000];
    let after = chrono::Utc::now() - chrono::TimeDelta::hours(60);
    let mut conn = app_role_connection(&app, t.id).await;
    let plan: Value =
        sqlx::query_scalar(&format!("explain (analyze, format json) {LEDGER_TAIL_SQL}"))
            .bind(t.id)
            .bind(&products)
            .bind(&locations)
            .bind(&lots)
            .bind(after)
            .bind(Uuid::max())
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let (mut seq_scans, mut rows) = (0, 0);
    reads(
        &plan[0]["Plan"],
        "movement_effect",
        &mut seq_scans,
        &mut rows,
    );
    assert!(
        seq_scans == 0 && rows <= 4_000,
        "the ledger tail reads {rows} rows of movement_effect ({seq_scans} sequential scans) \
         for 2,000 effects after the batch's oldest: {plan:#}"
    );
}

#[tokio::test]
async fn a_movements_catalog_facts_are_primary_key_probes_in_a_cached_plan() {
    use logiflow_server::store::movements::LOAD_FACTS_SQL;
    let app = spawn_app().await;
    let t = app.tenant("big", "enterprise").await;
    // 1,000 products, and a warehouse of 10 zones of 100 bins each: small enough that the
    // planner, left to itself, would rather hash a whole table than probe it.
    let warehouse = Uuid::now_v7();
    for sql in [
        "insert into warehouse (tenant_id, id, code, name, timezone) values ($1, $2, 'W', 'W', 'Europe/Paris')",
        "insert into product (tenant_id, id, sku, name)
         select $1, ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'SKU' || g, 'P' || g
         from generate_series(1, 1000) g where $2::uuid is not null",
        "insert into location (tenant_id, id, warehouse_id, code, path, depth)
         select $1, ('00000000-0000-4000-9000-' || lpad(z::text, 12, '0'))::uuid, $2, 'Z' || z, 'Z' || z, 0
         from generate_series(1, 10) z",
        "insert into location (tenant_id, id, warehouse_id, parent_id, code, path, depth)
         select $1, ('00000000-0000-4000-9001-' || lpad((z * 1000 + b)::text, 12, '0'))::uuid, $2,
                ('00000000-0000-4000-9000-' || lpad(z::text, 12, '0'))::uuid,
                'Z' || z || 'B' || b, 'Z' || z || '/B' || b, 1
         from generate_series(1, 10) z, generate_series(1, 100) b",
    ] {
        sqlx::query(sql)
            .bind(t.id)
            .bind(warehouse)
            .execute(&app.owner)
            .await
            .unwrap();
    }
    sqlx::query("analyze product, location, warehouse")
        .execute(&app.owner)
        .await
        .unwrap();
    let product: Uuid = "00000000-0000-4000-8000-000000000042".parse().unwrap();
    let from: Uuid = "00000000-0000-4000-9001-000000003042".parse().unwrap();
    let to: Uuid = "00000000-0000-4000-9001-000000009013".parse().unwrap();
    let zone: Uuid = "00000000-0000-4000-9000-000000000007".parse().unwrap();
    // As the movement path runs it: the app role, a generic (cached) plan.
    let mut conn = app_role_connection(&app, t.id).await;
    sqlx::query("set plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await
        .unwrap();
    let plan: Value =
        sqlx::query_scalar(&format!("explain (analyze, format json) {LOAD_FACTS_SQL}"))
            .bind(t.id)
            .bind(vec![product])
            .bind(Vec::<Uuid>::new())
            .bind(vec![from, to, zone])
            .bind(vec![Uuid::now_v7()])
            .bind(vec![from])
            .bind(vec![chrono::Utc::now()])
            .fetch_one(&mut conn)
            .await
            .unwrap();
    // The product; the three locations, their leaf tests (a bin has no child, the zone's
    // 100 children are counted) and the movement's date: about 110 rows.
    for (relation, most) in [("product", 2), ("location", 120)] {
        let (mut seq_scans, mut rows) = (0, 0);
        reads(&plan[0]["Plan"], relation, &mut seq_scans, &mut rows);
        assert!(
            seq_scans == 0 && rows <= most,
            "the facts of one movement read {rows} rows of {relation} ({seq_scans} sequential \
             scans): {plan:#}"
        );
    }
    // Locking the rows of a transfer among 112,000 stock rows (as `cargo xtask bench
    // server` has): two probes of stock_row and of location.
    use logiflow_server::store::movements::LOCK_ROWS_SQL;
    sqlx::query(
        "insert into stock_row (tenant_id, product_id, location_id, warehouse_id, on_hand)
         select $1, p.id, c.id, $2, 5 from product p, location c
         where p.tenant_id = $1 and c.tenant_id = $1 and c.depth = 1 and p.sku < 'SKU2'",
    )
    .bind(t.id)
    .bind(warehouse)
    .execute(&app.owner)
    .await
    .unwrap();
    sqlx::query("analyze stock_row")
        .execute(&app.owner)
        .await
        .unwrap();
    let plan: Value =
        sqlx::query_scalar(&format!("explain (analyze, format json) {LOCK_ROWS_SQL}"))
            .bind(t.id)
            .bind(vec![product, product])
            .bind(vec![from, to])
            .bind(vec![Uuid::nil(), Uuid::nil()])
            .fetch_one(&mut conn)
            .await
            .unwrap();
    for relation in ["stock_row", "location"] {
        let (mut seq_scans, mut rows) = (0, 0);
        reads(&plan[0]["Plan"], relation, &mut seq_scans, &mut rows);
        assert!(
            seq_scans == 0 && rows <= 2,
            "locking the 2 rows of a transfer reads {rows} rows of {relation} ({seq_scans} \
             sequential scans): {plan:#}"
        );
    }

    // And the facts are right: two bins (leaves), a zone (not a leaf), the product, the date.
    let rows: Vec<(String, Uuid, Option<bool>, Option<bool>)> = sqlx::query_as(&format!(
        "select f.what, f.id, f.active, f.is_leaf
         from ({LOAD_FACTS_SQL}) f (what, id, active, lot_tracked, product, date, warehouse, is_leaf)"
    ))
    .bind(t.id)
    .bind(vec![product])
    .bind(Vec::<Uuid>::new())
    .bind(vec![from, to, zone])
    .bind(vec![Uuid::nil()])
    .bind(vec![from])
    .bind(vec![chrono::Utc::now()])
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let leaf = |id: Uuid| {
        rows.iter()
            .find(|r| r.0 == "location" && r.1 == id)
            .and_then(|r| r.3)
    };
    assert_eq!(leaf(from), Some(true));
    assert_eq!(leaf(to), Some(true));
    assert_eq!(leaf(zone), Some(false));
    assert!(
        rows.iter()
            .any(|r| r.0 == "product" && r.1 == product && r.2 == Some(true))
    );
    assert!(rows.iter().any(|r| r.0 == "date" && r.1 == Uuid::nil()));
}
