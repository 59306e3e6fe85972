//! The movement history stays one index range scan on a large tenant: each filter the
//! API offers is planned without reading the movement table sequentially. Checked on
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
