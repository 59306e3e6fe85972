//! `GET /v1/sync/pull`: a new device's paged snapshot of its scope, then the changes
//! after its cursor — complete under concurrent writers and out-of-order commits, rows
//! as of the cursor when a page is cut, catalog imports larger than a page, deletions.
//!
//! Every test pulls through [`Puller`], which checks the page contract on every page:
//! no ledger effect is delivered twice, and each row state equals the snapshot's row plus
//! the effects delivered since (so a row never includes a movement whose page has not
//! arrived), and an applied outcome arrives with its effects.

use std::collections::{BTreeMap, BTreeSet};

use logiflow_core::{
    LocationId, LocationRecord, MovementId, MovementKind, Outcome, ProductId, PullPage,
    SnapshotProgress, StockKey, StockRow,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::inventory::*;
use crate::sync_push::{Dev, ago, loc, q, register};

/// A device's view, built only from pulled pages, checking the contract on each.
#[derive(Default)]
struct Puller {
    cursor: Option<String>,
    pages: usize,
    snapshot_done: bool,
    warehouses: BTreeSet<Uuid>,
    locations: BTreeMap<LocationId, LocationRecord>,
    products: BTreeSet<ProductId>,
    /// Each product's reorder point as last pulled.
    reorder_points: BTreeMap<ProductId, i64>,
    lots: BTreeSet<Uuid>,
    rows: BTreeMap<StockKey, StockRow>,
    /// The rows as derived from the snapshot plus every effect delivered since.
    derived: BTreeMap<StockKey, i64>,
    effects: BTreeMap<(MovementId, StockKey), i64>,
    outcomes: BTreeMap<MovementId, String>,
    /// Records received in the snapshot's pages.
    snapshot_records: u64,
    /// The snapshot's progress, as each of its pages reported it.
    progress: Vec<SnapshotProgress>,
}

impl Puller {
    async fn page(&mut self, app: &TestApp, token: &str, limit: usize) -> PullPage {
        let path = match &self.cursor {
            Some(c) => format!("/v1/sync/pull?limit={limit}&cursor={c}"),
            None => format!("/v1/sync/pull?limit={limit}"),
        };
        let r = app.get(&path, token).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{text}");
        let page: PullPage = serde_json::from_str(&text).unwrap();
        assert!(
            page.item_count() <= limit.max(50) + page.locations.len(),
            "{text}"
        );
        self.apply(&page);
        page
    }

    fn apply(&mut self, page: &PullPage) {
        self.pages += 1;
        let snapshot = !self.snapshot_done;
        if snapshot {
            assert!(page.effects.is_empty() && page.outcomes.is_empty());
        }
        for w in &page.warehouses {
            self.warehouses.insert(w.id.as_uuid());
        }
        for l in &page.locations {
            self.locations.insert(l.id, l.clone());
        }
        for l in &page.deleted_locations {
            self.locations.remove(l);
        }
        for p in &page.products {
            self.products.insert(p.id);
            self.reorder_points.insert(p.id, p.reorder_point);
        }
        for l in &page.lots {
            self.lots.insert(l.id.as_uuid());
        }
        for e in &page.effects {
            let fresh = self.effects.insert((e.movement, e.key), e.delta).is_none();
            assert!(fresh, "effect {e:?} delivered twice");
            *self.derived.entry(e.key).or_default() += e.delta;
        }
        for r in &page.rows {
            if snapshot {
                self.derived.insert(r.key, r.row.on_hand);
            }
            assert_eq!(
                self.derived.get(&r.key).copied().unwrap_or(0),
                r.row.on_hand,
                "row {:?} is not as of the page's cursor (page {})",
                r.key,
                self.pages
            );
            self.rows.insert(r.key, r.row);
        }
        for o in &page.outcomes {
            if let Outcome::Applied { effects } = &o.outcome {
                for e in effects.iter().filter(|e| !e.absorbed) {
                    assert!(
                        self.effects.contains_key(&(o.movement, e.key)),
                        "outcome of {} arrived without its effect on {:?}",
                        o.movement,
                        e.key
                    );
                }
            }
            self.outcomes
                .insert(o.movement, o.outcome.name().to_string());
        }
        // The snapshot is over once a page's cursor leaves it; from there on, changes.
        let ends_snapshot = snapshot && !cursor_in_snapshot(page.cursor.as_str());
        // Every snapshot page says how far the snapshot is: the records sent so far
        // (counted here), of a total never below them, reached on its last page.
        if snapshot {
            self.snapshot_records += page.snapshot_records();
            let progress = page.snapshot.expect("a snapshot page reports its progress");
            assert_eq!(progress.sent, self.snapshot_records, "page {}", self.pages);
            assert!(progress.total >= progress.sent, "{progress:?}");
            if ends_snapshot {
                assert_eq!(progress.sent, progress.total, "the last snapshot page");
            }
            self.progress.push(progress);
        } else {
            assert_eq!(page.snapshot, None, "a page of changes reports no snapshot");
        }
        if ends_snapshot {
            self.snapshot_done = true;
        }
        self.cursor = Some(page.cursor.as_str().to_owned());
    }

    /// Pulls until nothing more is waiting; returns the pages pulled.
    async fn drain(&mut self, app: &TestApp, token: &str, limit: usize) -> usize {
        let before = self.pages;
        for _ in 0..10_000 {
            if !self.page(app, token, limit).await.has_more {
                return self.pages - before;
            }
        }
        panic!("the pull never ends");
    }
}

/// Whether a cursor is in the middle of a snapshot (the test peeks into the opaque
/// cursor only for this bookkeeping).
fn cursor_in_snapshot(cursor: &str) -> bool {
    use base64::Engine;
    let body = cursor.strip_prefix("1.").expect("versioned cursor");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .unwrap();
    let v: Value = serde_json::from_slice(&json).unwrap();
    v.get("snap").is_some()
}

/// The server's effects in `warehouse`, applied (not absorbed) — what a device of that
/// scope must have received.
async fn server_effects(
    app: &TestApp,
    tenant: Uuid,
    warehouse: Uuid,
) -> BTreeMap<(MovementId, StockKey), i64> {
    let rows: Vec<(Uuid, Uuid, Uuid, Uuid, i64)> = sqlx::query_as(
        "select e.movement_id, e.product_id, e.location_id, e.lot_id, e.delta
         from movement_effect e join location l on l.tenant_id = e.tenant_id and l.id = e.location_id
         where e.tenant_id = $1 and l.warehouse_id = $2 and not e.absorbed",
    )
    .bind(tenant)
    .bind(warehouse)
    .fetch_all(&app.owner)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(m, p, l, lot, d)| ((MovementId::from_uuid(m), key(p, l, lot)), d))
        .collect()
}

/// The server's effects in `warehouse` that are not in `before` (the snapshot gave
/// their sum as rows).
async fn since(
    app: &TestApp,
    tenant: Uuid,
    warehouse: Uuid,
    before: &BTreeMap<(MovementId, StockKey), i64>,
) -> BTreeMap<(MovementId, StockKey), i64> {
    let mut now = server_effects(app, tenant, warehouse).await;
    now.retain(|k, _| !before.contains_key(k));
    now
}

async fn server_rows(app: &TestApp, tenant: Uuid, warehouse: Uuid) -> BTreeMap<StockKey, i64> {
    let rows: Vec<(Uuid, Uuid, Uuid, i64)> = sqlx::query_as(
        "select product_id, location_id, lot_id, on_hand from stock_row
         where tenant_id = $1 and warehouse_id = $2",
    )
    .bind(tenant)
    .bind(warehouse)
    .fetch_all(&app.owner)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(p, l, lot, q)| (key(p, l, lot), q))
        .collect()
}

fn key(p: Uuid, l: Uuid, lot: Uuid) -> StockKey {
    StockKey {
        product: ProductId::from_uuid(p),
        location: LocationId::from_uuid(l),
        lot: (!lot.is_nil()).then(|| logiflow_core::LotId::from_uuid(lot)),
    }
}

fn pulled_rows(p: &Puller) -> BTreeMap<StockKey, i64> {
    p.rows.iter().map(|(k, r)| (*k, r.on_hand)).collect()
}

async fn setup() -> (TestApp, Tenant, Site, Site) {
    let app = spawn_app().await;
    app.plan("bulk", 100, 100_000).await;
    let t = app.tenant("acme", "bulk").await;
    let a = site(&app, t.id, 3).await;
    let b = site(&app, t.id, 2).await;
    (app, t, a, b)
}

#[tokio::test]
async fn a_new_device_snapshots_its_scope_in_pages_then_pulls_the_changes() {
    let (app, t, a, b) = setup().await;
    applied(&app, &t.token, receive(a.product, a.bins[0], 10)).await;
    applied(&app, &t.token, receive(a.product, a.bins[1], 4)).await;
    applied(&app, &t.token, ship(a.product, a.bins[0], 3)).await;
    let mut lot = receive(a.tracked, a.bins[2], 6);
    lot["lot_id"] = json!(a.lot);
    applied(&app, &t.token, lot).await;
    applied(&app, &t.token, receive(b.product, b.bins[0], 99)).await;
    let mut dev = register(&app, &t.token, &[a.warehouse]).await;

    let before = server_effects(&app, t.id, a.warehouse).await;
    let mut p = Puller::default();
    let pages = p.drain(&app, &dev.token, 3).await;
    assert!(pages >= 4, "a limit of 3 pages the snapshot: {pages} pages");
    // Nothing was written meanwhile, so the total counted on the first page is exact:
    // 1 warehouse, 4 locations, 4 products, 4 lots and the scope's rows.
    let rows = server_rows(&app, t.id, a.warehouse).await.len() as u64;
    assert_eq!(
        p.progress[0].total,
        1 + 4 + 4 + 4 + rows,
        "{:?}",
        p.progress
    );
    assert!(p.progress.iter().all(|s| s.total == p.progress[0].total));
    assert!(p.progress.len() >= 4, "{:?}", p.progress);
    assert_eq!(p.warehouses, BTreeSet::from([a.warehouse]));
    // The zone and its bins, with their leaf state; nothing of the other warehouse.
    assert_eq!(p.locations.len(), 4);
    assert!(!p.locations[&loc(a.zone)].is_leaf);
    assert!(p.locations[&loc(a.bins[0])].is_leaf);
    assert_eq!(p.locations[&loc(a.bins[0])].parent, Some(loc(a.zone)));
    // Products and lots are tenant-wide (a product is not bound to a warehouse).
    assert_eq!(p.products.len(), 4);
    assert_eq!(p.lots.len(), 4);
    assert_eq!(pulled_rows(&p), server_rows(&app, t.id, a.warehouse).await);
    assert_eq!(p.rows[&key(a.product, a.bins[0], Uuid::nil())].on_hand, 7);

    // Changes: online movements in both warehouses, a journal push of this device, a
    // new product.
    applied(&app, &t.token, transfer(a.product, a.bins[0], a.bins[2], 2)).await;
    applied(&app, &t.token, receive(b.product, b.bins[1], 1)).await;
    let m = dev.entry(
        ago(1),
        a.product,
        None,
        MovementKind::Receive {
            to: loc(a.bins[1]),
            qty: q(5),
        },
    );
    dev.push(&app, &[m]).await;
    let made = create(
        &app,
        "/v1/products",
        &t.token,
        json!({"sku": "NEW-1", "name": "New", "reorder_point": 7}),
    )
    .await;
    p.drain(&app, &dev.token, 3).await;
    assert_eq!(p.effects, since(&app, t.id, a.warehouse, &before).await);
    assert_eq!(pulled_rows(&p), server_rows(&app, t.id, a.warehouse).await);
    assert_eq!(p.outcomes.get(&m.id).map(String::as_str), Some("applied"));
    let made = ProductId::from_uuid(id_of(&made).parse().unwrap());
    assert!(p.products.contains(&made));
    // The reorder point travels with the product (the app's low-stock figures).
    assert_eq!(p.reorder_points.get(&made), Some(&7));
    assert!(p.warehouses.len() == 1 && !p.locations.contains_key(&loc(b.bins[1])));

    // Nothing new: an empty last page.
    let page = p.page(&app, &dev.token, 3).await;
    assert!(!page.has_more && page.item_count() == 0, "{page:?}");
}

#[tokio::test]
async fn pulls_never_miss_a_change_under_concurrent_writers() {
    let (app, t, a, _) = setup().await;
    applied(&app, &t.token, receive(a.product, a.bins[0], 1_000)).await;
    let mut dev = register(&app, &t.token, &[a.warehouse]).await;
    let before = server_effects(&app, t.id, a.warehouse).await;
    let mut p = Puller::default();
    p.drain(&app, &dev.token, 5).await;

    // Four online writers moving stock around the same hot rows, and the device pushing
    // its journal, while the device pulls small pages.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let base = app.base.clone();
            let token = t.token.clone();
            let (product, bins) = (a.product, a.bins.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for i in 0..25 {
                    let from = bins[(w + i) % 3];
                    let to = bins[(w + i + 1) % 3];
                    let body = if i % 5 == 0 {
                        receive(product, to, 3)
                    } else {
                        transfer(product, from, to, 1)
                    };
                    let r = client
                        .post(format!("{base}/v1/movements"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    // Refusals (a bin that ran empty) are fine: they change nothing.
                    assert!(r.status().is_success() || r.status() == StatusCode::CONFLICT);
                }
            })
        })
        .collect();
    let mut pushed = Vec::new();
    for round in 0..10 {
        let m = dev.entry(
            ago(30 - round),
            a.product,
            None,
            MovementKind::Receive {
                to: loc(a.bins[round as usize % 3]),
                qty: q(2),
            },
        );
        dev.push(&app, &[m]).await;
        pushed.push(m.id);
        p.page(&app, &dev.token, 5).await;
    }
    while !writers.iter().all(|w| w.is_finished()) {
        p.page(&app, &dev.token, 5).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    p.drain(&app, &dev.token, 5).await;

    let expected = since(&app, t.id, a.warehouse, &before).await;
    assert!(expected.len() > 100, "{} effects", expected.len());
    assert_eq!(
        p.effects, expected,
        "the pulled ledger differs from the server's"
    );
    assert_eq!(pulled_rows(&p), server_rows(&app, t.id, a.warehouse).await);
    for id in pushed {
        assert_eq!(p.outcomes.get(&id).map(String::as_str), Some("applied"));
    }
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn a_transaction_still_running_is_delivered_once_it_commits_not_skipped() {
    let (app, t, a, _) = setup().await;
    let dev = register(&app, &t.token, &[a.warehouse]).await;
    let mut p = Puller::default();
    p.drain(&app, &dev.token, 100).await;

    // T1 starts first (the smaller transaction id) and stays open; T2 commits after it.
    let mut t1 = app.owner.begin().await.unwrap();
    let (x1,): (String,) = sqlx::query_as(
        "insert into catalog_change (tenant_id, entity, entity_id, op)
         values ($1, 'product', $2, 'upsert') returning xid::text",
    )
    .bind(t.id)
    .bind(a.tracked)
    .fetch_one(&mut *t1)
    .await
    .unwrap();
    let v = applied(&app, &t.token, receive(a.product, a.bins[0], 4)).await;
    let (x2,): (String,) =
        sqlx::query_as("select xid::text from movement where tenant_id = $1 and id = $2")
            .bind(t.id)
            .bind(Uuid::parse_str(v["id"].as_str().unwrap()).unwrap())
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert!(x1.parse::<u64>().unwrap() < x2.parse::<u64>().unwrap());

    let before = p.products.len();
    p.drain(&app, &dev.token, 100).await;
    assert_eq!(p.rows[&key(a.product, a.bins[0], Uuid::nil())].on_hand, 4);
    assert_eq!(p.products.len(), before, "T1 is not committed yet");
    p.products.clear();
    t1.commit().await.unwrap();
    p.drain(&app, &dev.token, 100).await;
    assert_eq!(
        p.products,
        BTreeSet::from([ProductId::from_uuid(a.tracked)]),
        "T1's change arrives after it commits, although T2 (a later id) came first"
    );
}

#[tokio::test]
async fn a_cut_page_sends_rows_as_of_its_cursor() {
    let (app, t, a, _) = setup().await;
    let dev = register(&app, &t.token, &[a.warehouse]).await;
    let mut p = Puller::default();
    p.drain(&app, &dev.token, 100).await;
    applied(&app, &t.token, receive(a.product, a.bins[0], 5)).await;
    let counted = applied(
        &app,
        &t.token,
        json!({"kind": "count", "product_id": a.product, "location_id": a.bins[0], "counted": 3}),
    )
    .await;
    let k = key(a.product, a.bins[0], Uuid::nil());
    // A page holds one transaction (an effect counts with its row: 2 items).
    let first = p.page(&app, &dev.token, 2).await;
    assert!(first.has_more);
    assert_eq!(first.effects.len(), 1);
    assert_eq!(p.rows[&k].on_hand, 5, "not yet the count's 3");
    assert_eq!(p.rows[&k].last_count, None, "nor its count");
    let second = p.page(&app, &dev.token, 2).await;
    assert_eq!(p.rows[&k].on_hand, 3);
    assert_eq!(
        p.rows[&k].last_count.map(|c| c.id.as_uuid().to_string()),
        Some(counted["id"].as_str().unwrap().to_owned())
    );
    assert_eq!(second.effects.len(), 1);
}

#[tokio::test]
async fn a_catalog_import_larger_than_a_page_arrives_in_parts() {
    let (app, t, a, _) = setup().await;
    let dev = register(&app, &t.token, &[a.warehouse]).await;
    let mut p = Puller::default();
    p.drain(&app, &dev.token, 100).await;
    let before = p.products.len();
    // One transaction of 25 new products (as an import would write them).
    let mut tx = app.owner.begin().await.unwrap();
    for i in 0..25 {
        let id = Uuid::now_v7();
        sqlx::query(
            "insert into product (tenant_id, id, sku, name) values ($1, $2, $3, 'Imported')",
        )
        .bind(t.id)
        .bind(id)
        .bind(format!("IMP-{i:02}"))
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "insert into catalog_change (tenant_id, entity, entity_id, op)
             values ($1, 'product', $2, 'upsert')",
        )
        .bind(t.id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let mut sizes = Vec::new();
    loop {
        let page = p.page(&app, &dev.token, 10).await;
        sizes.push(page.products.len());
        if !page.has_more {
            break;
        }
    }
    assert_eq!(p.products.len(), before + 25);
    assert_eq!(
        sizes.iter().sum::<usize>(),
        25,
        "each product once: {sizes:?}"
    );
    assert!(sizes.iter().all(|&n| n <= 10), "{sizes:?}");
}

#[tokio::test]
async fn new_and_deleted_locations_reach_the_device_with_their_parents_leaf_state() {
    let (app, t, a, _) = setup().await;
    let dev = register(&app, &t.token, &[a.warehouse]).await;
    let mut p = Puller::default();
    p.drain(&app, &dev.token, 100).await;
    let child = create(
        &app,
        "/v1/locations",
        &t.token,
        json!({"warehouse_id": a.warehouse, "parent_id": a.bins[1], "code": "B01-1"}),
    )
    .await;
    let child = LocationId::from_uuid(id_of(&child).parse().unwrap());
    p.drain(&app, &dev.token, 100).await;
    assert!(p.locations[&child].is_leaf);
    assert!(
        !p.locations[&loc(a.bins[1])].is_leaf,
        "the parent is no bin now"
    );

    let r = app
        .delete(&format!("/v1/locations/{}", child.as_uuid()), &t.token)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    p.drain(&app, &dev.token, 100).await;
    assert!(!p.locations.contains_key(&child));
    assert!(p.locations[&loc(a.bins[1])].is_leaf, "a bin again");
}

#[tokio::test]
async fn pull_refuses_foreign_cursors_people_bad_limits_and_revoked_devices() {
    let (app, t, a, _) = setup().await;
    let dev: Dev = register(&app, &t.token, &[a.warehouse]).await;
    for bad in ["nope", "1.AAAA", "1.eyJzIjoiMTA6OTo1In0"] {
        let r = app
            .get(&format!("/v1/sync/pull?cursor={bad}"), &dev.token)
            .await;
        problem(r, StatusCode::BAD_REQUEST, "invalid_cursor").await;
    }
    for limit in ["0", "10001", "x"] {
        let r = app
            .get(&format!("/v1/sync/pull?limit={limit}"), &dev.token)
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "limit {limit}");
    }
    let r = app.get("/v1/sync/pull", &t.token).await;
    problem(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .delete(&format!("/v1/devices/{}", dev.id), &t.token)
        .await;
    assert!(r.status().is_success());
    let r = app.get("/v1/sync/pull", &dev.token).await;
    problem(r, StatusCode::UNAUTHORIZED, "device_revoked").await;
}

#[tokio::test]
async fn a_manager_voids_a_held_movement_and_the_device_learns_it_on_its_next_pull() {
    let (app, t, a, _) = setup().await;
    let mut dev = register(&app, &t.token, &[a.warehouse]).await;
    let mut p = Puller::default();
    p.drain(&app, &dev.token, 100).await;
    // A ship from an empty bin: held. A receipt: applied.
    let ship = dev.entry(
        ago(10),
        a.product,
        None,
        MovementKind::Ship {
            from: loc(a.bins[0]),
            qty: q(4),
        },
    );
    let receipt = dev.entry(
        ago(5),
        a.product,
        None,
        MovementKind::Receive {
            to: loc(a.bins[1]),
            qty: q(2),
        },
    );
    dev.push(&app, &[ship, receipt]).await;
    p.drain(&app, &dev.token, 100).await;
    assert_eq!(p.outcomes[&ship.id], "held");

    let void = |id: MovementId| format!("/v1/movements/{id}/void");
    let (_, operator) = app.user(&t, "op@acme.example", "operator").await;
    let (_, manager) = app.user(&t, "boss@acme.example", "manager").await;
    problem(
        app.post(&void(ship.id), &operator, json!({"reason": "x"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    problem(
        app.post(&void(ship.id), &manager, json!({"reason": ""}))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    problem(
        app.post(&void(receipt.id), &manager, json!({"reason": "x"}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    let r = app
        .post(
            &void(ship.id),
            &manager,
            json!({"reason": "scanned twice, nothing left the dock"}),
        )
        .await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["outcome"]["outcome"], "voided");
    assert_eq!(
        v["outcome"]["reason"],
        "scanned twice, nothing left the dock"
    );

    // Nothing moved; it left the conflict inbox; it can be neither voided nor forced
    // again; the device learns it by pulling (and by re-sending).
    assert_eq!(on_hand(&app, t.id, a.product, a.bins[0], None).await, 0);
    let inbox = app
        .get("/v1/movements?review=true", &t.token)
        .await
        .text()
        .await
        .unwrap();
    assert!(!inbox.contains(&ship.id.to_string()), "{inbox}");
    let voided = app
        .get("/v1/movements?outcome=voided", &t.token)
        .await
        .text()
        .await
        .unwrap();
    assert!(voided.contains(&ship.id.to_string()), "{voided}");
    for action in ["void", "force"] {
        problem(
            app.post(
                &format!("/v1/movements/{}/{action}", ship.id),
                &manager,
                json!({"reason": "again"}),
            )
            .await,
            StatusCode::CONFLICT,
            "conflict",
        )
        .await;
    }
    let page = p.page(&app, &dev.token, 100).await;
    let o = page
        .outcomes
        .iter()
        .find(|o| o.movement == ship.id)
        .expect("the void reaches the device");
    assert_eq!(
        o.outcome,
        Outcome::Voided {
            reason: "scanned twice, nothing left the dock".into()
        }
    );
    let again = dev.push(&app, &[ship]).await;
    assert_eq!(again["results"][0]["outcome"]["outcome"], "voided");
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where tenant_id = $1 and action = 'movement.void'",
    )
    .bind(t.id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    assert_ledger(&app, t.id).await;
}

#[tokio::test]
async fn an_online_count_resolves_held_journal_movements_and_the_device_pulls_it() {
    let (app, t, a, _) = setup().await;
    let mut dev = register(&app, &t.token, &[a.warehouse]).await;
    let mut p = Puller::default();
    p.drain(&app, &dev.token, 100).await;
    // Two ships recorded offline half an hour ago, from bins the server thinks empty:
    // held (the goods were there, their receipt is not recorded).
    let first = dev.entry(
        ago(30),
        a.product,
        None,
        MovementKind::Ship {
            from: loc(a.bins[0]),
            qty: q(3),
        },
    );
    let second = dev.entry(
        ago(20),
        a.product,
        None,
        MovementKind::Ship {
            from: loc(a.bins[1]),
            qty: q(4),
        },
    );
    dev.push(&app, &[first, second]).await;
    let outcome = |id: MovementId| {
        let app = &app;
        let token = t.token.clone();
        async move {
            let v: Value = app
                .get(&format!("/v1/movements/{id}"), &token)
                .await
                .json()
                .await
                .unwrap();
            v["outcome"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(outcome(first.id).await, "held");
    // A receipt recorded now happened after the ships: it cannot be what they took.
    applied(&app, &t.token, receive(a.product, a.bins[0], 5)).await;
    assert_eq!(outcome(first.id).await, "held");
    // A count of the first bin now (through the API, not a push) already sees what the
    // first ship took: the ship is absorbed at once; the other bin's ship still waits.
    let count = |bin: Uuid, counted: i64| json!({"kind": "count", "product_id": a.product, "location_id": bin, "counted": counted});
    applied(&app, &t.token, count(a.bins[0], 2)).await;
    assert_eq!(outcome(first.id).await, "absorbed");
    assert_eq!(outcome(second.id).await, "held");
    assert_eq!(on_hand(&app, t.id, a.product, a.bins[0], None).await, 2);
    applied(&app, &t.token, count(a.bins[1], 0)).await;
    assert_eq!(outcome(second.id).await, "absorbed");
    assert_eq!(on_hand(&app, t.id, a.product, a.bins[1], None).await, 0);
    p.drain(&app, &dev.token, 100).await;
    assert_eq!(p.outcomes[&first.id], "absorbed");
    assert_eq!(p.outcomes[&second.id], "absorbed");
    assert_ledger(&app, t.id).await;
}
