//! The live journal entries (never pushed, applied but not pulled back, or held) and
//! their replay over the pulled rows, per product, into the projection.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use logiflow_core::{
    Effect, Flag, Movement, MovementResult, OrderKey, Outcome, ProductId, StockKey, StockRow,
};
use rusqlite::{Connection, params};

use crate::db::{lot_col, optional, order_key, parse_id};
use crate::projection::{self, Entry, Known, Projection};
use crate::{Error, Result};

/// The journal entries the projection replays: never pushed, or applied by the server
/// but not yet carried by a pull, or held. The same condition, term for term, is the
/// WHERE of the partial index `journal_live_by_product` (migrations/replica/
/// 0005_search_index.sql): SQLite uses a partial index only for a query that repeats it.
pub(super) const LIVE: &str =
    "((settled = 0 and (status = 'pending' or outcome = 'applied')) or outcome = 'held')";

/// The column of `journal` that holds the product an entry moves (the movement's
/// `product`, written with it).
pub(super) const ENTRY_PRODUCT: &str = "product_id";

/// Whose journal entries a projection replays.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Products<'a> {
    /// Every product's: the reference the per-product replay is checked against.
    #[cfg(test)]
    All,
    /// Only these products'.
    Only(&'a BTreeSet<ProductId>),
}

/// The products that have live journal entries (see [`LIVE`]): the only ones whose
/// projected rows differ from the pulled ones. A scan of the partial index, whose size
/// follows the pending journal.
pub(crate) fn live_products(conn: &Connection) -> Result<BTreeSet<ProductId>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select distinct {ENTRY_PRODUCT} from journal where {LIVE}"
    ))?;
    let mut rows = stmt.query([])?;
    let mut out = BTreeSet::new();
    while let Some(r) = rows.next()? {
        out.insert(parse_id(&r.get::<_, String>(0)?)?);
    }
    Ok(out)
}

/// Loads the live journal entries of `products` and the base rows they touch, and
/// replays them.
///
/// A movement's rows all belong to its product, and so do the held movements it may
/// release, so one product's projected rows never depend on another product's entries:
/// replaying only some products' entries (in `device_seq` order) gives exactly the rows
/// and predictions the whole journal's replay gives for those products (checked by a
/// property test). Recording and searching use it, so their cost follows the pending
/// entries of the products involved, each product's a range read of
/// `journal_live_by_product`, not the whole pending journal.
///
/// `received_at` is the replica's estimate of the server's time now ([`super::time::server_now`]):
/// entries never pushed are judged as if received then.
pub(crate) fn project(
    conn: &Connection,
    products: Products<'_>,
    received_at: DateTime<Utc>,
) -> Result<Projection> {
    let entries = live_entries(conn, products)?;
    let keys: BTreeSet<StockKey> = entries
        .iter()
        .flat_map(|e| e.movement.keys())
        .chain(entries.iter().flat_map(|e| match &e.known {
            Known::Applied(effects) => effects.iter().map(|x: &Effect| x.key).collect(),
            _ => Vec::new(),
        }))
        .collect();
    let (base, ledger) = pulled_state(conn, keys)?;
    projection::project(base, ledger, &entries, received_at).map_err(Error::corrupt)
}

/// The live journal entries of `products`, in `device_seq` order, as the projection
/// replays them.
fn live_entries(conn: &Connection, products: Products<'_>) -> Result<Vec<Entry>> {
    let mut found: Vec<(i64, Entry)> = Vec::new();
    let mut read = |rows: &mut rusqlite::Rows<'_>| -> Result<()> {
        while let Some(r) = rows.next()? {
            let movement: Movement =
                serde_json::from_str(&r.get::<_, String>(1)?).map_err(Error::corrupt)?;
            let status: String = r.get(2)?;
            let detail: Option<String> = r.get(3)?;
            let mut applied_at = None;
            let known = if status == "pending" {
                Known::Unpushed
            } else {
                let result: MovementResult = serde_json::from_str(detail.as_deref().unwrap_or(""))
                    .map_err(Error::corrupt)?;
                applied_at = result.flags.iter().find_map(|f| match f {
                    Flag::Redated { applied_at, .. } => Some(*applied_at),
                    _ => None,
                });
                match result.outcome {
                    Outcome::Applied { effects } => Known::Applied(effects),
                    Outcome::Held(hold) => Known::Held(hold),
                    other => {
                        return Err(Error::corrupt(format!(
                            "a live entry's outcome is {}",
                            other.name()
                        )));
                    }
                }
            };
            // Forced at its receipt time (its device's clock ran ahead): it took effect
            // then, not at the date kept here.
            let movement = match applied_at {
                Some(at) => Movement {
                    occurred_at: at,
                    ..movement
                },
                None => movement,
            };
            found.push((r.get(0)?, Entry { movement, known }));
        }
        Ok(())
    };
    const COLUMNS: &str = "device_seq, movement, status, outcome_detail";
    match products {
        #[cfg(test)]
        Products::All => {
            let mut stmt = conn.prepare_cached(&format!(
                "select {COLUMNS} from journal where {LIVE} order by device_seq"
            ))?;
            read(&mut stmt.query([])?)?;
        }
        Products::Only(products) => {
            let mut stmt = conn.prepare_cached(&format!(
                "select {COLUMNS} from journal where {ENTRY_PRODUCT} = ?1 and {LIVE}
                 order by device_seq"
            ))?;
            for product in products {
                read(&mut stmt.query(params![product.to_string()])?)?;
            }
            // Each product's entries came in order; together they must be too.
            found.sort_unstable_by_key(|(seq, _)| *seq);
        }
    }
    Ok(found.into_iter().map(|(_, e)| e).collect())
}

/// The ledger effects of each row, in the order the projection reads them.
type Ledger = BTreeMap<StockKey, Vec<(OrderKey, i64)>>;

/// The pulled rows of `keys` and their ledger effects, the base the projection replays
/// the live entries over.
fn pulled_state(
    conn: &Connection,
    keys: BTreeSet<StockKey>,
) -> Result<(BTreeMap<StockKey, StockRow>, Ledger)> {
    let mut base = BTreeMap::new();
    let mut ledger: Ledger = BTreeMap::new();
    for key in keys {
        let (p, l, lot) = (
            key.product.to_string(),
            key.location.to_string(),
            lot_col(key.lot),
        );
        let row: Option<(i64, i64, Option<i64>, Option<String>)> = optional(
            conn.prepare_cached(
                "select on_hand, allocated, last_count_at_ns, last_count_id from stock_row
                 where product_id = ?1 and location_id = ?2 and lot_id = ?3",
            )?
            .query_row(params![p, l, lot], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            }),
        )?;
        if let Some((on_hand, allocated, at, id)) = row {
            let last_count = match (at, id) {
                (Some(at), Some(id)) => Some(order_key(at, &id)?),
                _ => None,
            };
            base.insert(
                key,
                StockRow {
                    on_hand,
                    allocated,
                    last_count,
                },
            );
        }
        let mut stmt = conn.prepare_cached(
            "select at_ns, movement_id, delta from ledger_effect
             where product_id = ?1 and location_id = ?2 and lot_id = ?3",
        )?;
        let mut effects = stmt.query(params![p, l, lot])?;
        while let Some(r) = effects.next()? {
            let at: i64 = r.get(0)?;
            let id: String = r.get(1)?;
            ledger
                .entry(key)
                .or_default()
                .push((order_key(at, &id)?, r.get(2)?));
        }
    }
    Ok((base, ledger))
}

#[cfg(test)]
mod tests {
    //! The per-product replay against the whole journal's replay, over random journals
    //! decided by a model server (the core's engine) and partly pulled back.

    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use logiflow_core::{
        AdjustReason, Cursor, Engine, LedgerEffect, LocationCode, LocationId, LocationRecord,
        Movement, MovementResult, Origin, Outcome, ProductId, ProductRecord, PullPage,
        PushResponse, RowState, Sku, StockKey, TenantId, UserId, WarehouseId, WarehouseRecord,
    };
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use uuid::Uuid;

    use super::{Products, live_products, project};
    use crate::Replica;
    use crate::api::{Action, ItemRef, Op};
    use crate::env::TestEnv;

    const START_MS: u64 = 1_800_000_000_000;
    const PRODUCTS: u128 = 4;
    const BINS: u128 = 3;

    fn product(n: u128) -> ProductId {
        ProductId::from_uuid(Uuid::from_u128(0x100 + n))
    }
    fn bin(n: u128) -> LocationId {
        LocationId::from_uuid(Uuid::from_u128(0x200 + n))
    }

    fn catalog(server_time: chrono::DateTime<chrono::Utc>) -> PullPage {
        let wh = WarehouseId::from_uuid(Uuid::from_u128(0x10));
        PullPage {
            cursor: Cursor::new("0"),
            has_more: false,
            server_time,
            warehouses: vec![WarehouseRecord {
                id: wh,
                code: "W1".into(),
                name: "Main".into(),
                time_zone: "UTC".into(),
                active: true,
            }],
            locations: (0..BINS)
                .map(|n| LocationRecord {
                    id: bin(n),
                    warehouse: wh,
                    code: LocationCode::parse(&format!("B-{n}")).unwrap(),
                    parent: None,
                    is_leaf: true,
                    active: true,
                })
                .collect(),
            products: (0..PRODUCTS)
                .map(|n| ProductRecord {
                    id: product(n),
                    sku: Sku::parse(&format!("P-{n}")).unwrap(),
                    name: format!("Product {n}"),
                    barcodes: vec![],
                    lot_tracked: false,
                    active: true,
                    reorder_point: 0,
                })
                .collect(),
            lots: vec![],
            purchase_orders: vec![],
            sales_orders: vec![],
            deleted_locations: vec![],
            rows: vec![],
            effects: vec![],
            outcomes: vec![],
            snapshot: None,
        }
    }

    /// The model server's answer to `movements`, and the pull page of what changed.
    fn decide(
        engine: &mut Engine,
        movements: &[Movement],
        now: chrono::DateTime<chrono::Utc>,
    ) -> (PushResponse, PullPage) {
        let mut results = HashMap::new();
        let mut effects = Vec::new();
        let mut touched = BTreeSet::new();
        for m in movements {
            for (m, d) in engine.submit(m, Origin::Journal).unwrap() {
                if let Outcome::Applied { effects: e } = &d.outcome {
                    effects.extend(e.iter().filter(|e| !e.absorbed).map(|e| LedgerEffect {
                        movement: m.id,
                        key: e.key,
                        order: m.order_key(),
                        delta: e.delta,
                    }));
                }
                touched.extend(d.updates.iter().map(|u| u.key));
                let result = MovementResult {
                    movement: m.id,
                    seq: m.device.unwrap().seq,
                    outcome: d.outcome,
                    flags: d.flags,
                    position: None,
                };
                results.insert(m.id, result);
            }
        }
        let response = PushResponse {
            results: movements.iter().map(|m| results[&m.id].clone()).collect(),
            next_seq: movements.last().map_or(1, |m| m.device.unwrap().seq + 1),
            server_time: now,
        };
        let page = PullPage {
            cursor: Cursor::new(format!("{}", now.timestamp_micros())),
            rows: touched
                .into_iter()
                .map(|key| RowState {
                    key,
                    row: engine.row(&key),
                })
                .collect(),
            effects,
            outcomes: results.into_values().collect(),
            warehouses: vec![],
            locations: vec![],
            products: vec![],
            ..catalog(now)
        };
        (response, page)
    }

    fn random_action(rng: &mut StdRng) -> Action {
        let sku = format!("P-{}", rng.random_range(0..PRODUCTS));
        let at = format!("B-{}", rng.random_range(0..BINS));
        let qty = rng.random_range(1..8);
        let op = match rng.random_range(0..6) {
            0 | 1 => Op::Receive { to: at, qty },
            2 | 3 => Op::Ship { from: at, qty },
            4 => Op::Transfer {
                from: at,
                to: format!("B-{}", rng.random_range(0..BINS)),
                qty,
            },
            _ if rng.random_bool(0.5) => Op::Adjust {
                at,
                delta: -qty,
                reason: AdjustReason::Damage,
            },
            _ => Op::Count {
                at,
                counted: rng.random_range(0..10),
                expected: None,
            },
        };
        Action {
            expires_on: None,
            item: ItemRef::Sku(sku),
            lot: None,
            warehouse: None,
            op,
            reference: None,
        }
    }

    /// Checks that each product's replay alone equals its part of the whole replay;
    /// returns how many entries the replay predicts held (so the test can tell that
    /// its journals exercise held movements).
    fn check(r: &Replica, seed: u64) -> usize {
        let all = project(&r.conn, Products::All, r.server_estimate().unwrap()).unwrap();
        let live = live_products(&r.conn).unwrap();
        for n in 0..PRODUCTS {
            let p = product(n);
            let one = project(
                &r.conn,
                Products::Only(&BTreeSet::from([p])),
                r.server_estimate().unwrap(),
            )
            .unwrap();
            let mine = |rows: &BTreeMap<StockKey, logiflow_core::StockRow>| {
                rows.iter()
                    .filter(|(k, _)| k.product == p)
                    .map(|(k, v)| (*k, *v))
                    .collect::<BTreeMap<_, _>>()
            };
            assert_eq!(one.rows, mine(&all.rows), "seed {seed}: rows of {p}");
            assert_eq!(one.pulled, mine(&all.pulled), "seed {seed}: pulled of {p}");
            for (id, predicted) in &one.predicted {
                assert_eq!(
                    format!("{predicted:?}"),
                    format!("{:?}", all.predicted[id]),
                    "seed {seed}: prediction of {id}"
                );
            }
            assert_eq!(
                one.rows.is_empty() && one.predicted.is_empty(),
                !live.contains(&p),
                "seed {seed}: {p} is live exactly when it has entries to replay"
            );
        }
        let every: BTreeSet<ProductId> = (0..PRODUCTS).map(product).collect();
        let union = project(
            &r.conn,
            Products::Only(&every),
            r.server_estimate().unwrap(),
        )
        .unwrap();
        assert_eq!(union.rows, all.rows, "seed {seed}: all products at once");
        assert_eq!(union.predicted.len(), all.predicted.len(), "seed {seed}");
        all.predicted
            .values()
            .filter(|(o, _)| matches!(o, Outcome::Held(_)))
            .count()
    }

    /// Returns the held predictions seen and the entries the server applied.
    fn scenario(seed: u64) -> (usize, usize) {
        let mut rng = StdRng::seed_from_u64(seed);
        let dir = tempfile::tempdir().unwrap();
        let mut r = Replica::open_with_env(
            dir.path().join("r.db"),
            Box::new(TestEnv::new(START_MS, 1_000)),
        )
        .unwrap();
        let tenant = TenantId::from_uuid(Uuid::from_u128(1));
        let user = UserId::from_uuid(Uuid::from_u128(2));
        r.init_device(tenant, user, "https://x", None).unwrap();
        let t0 = chrono::DateTime::from_timestamp_millis(START_MS as i64).unwrap();
        r.import_page(&catalog(t0)).unwrap();
        let mut engine = Engine::new();
        let mut held = 0;
        for step in 0..80 {
            match rng.random_range(0..10) {
                // Push what is pending (in one or more batches); sometimes pull the
                // outcomes back, which settles the applied ones.
                0 | 1 => {
                    let batch = r.push_batch().unwrap();
                    let movements: Vec<Movement> =
                        batch.movements.iter().map(|p| p.movement).collect();
                    let now = r.env.now();
                    let (response, page) = decide(&mut engine, &movements, now);
                    r.mark_pushed(&response).unwrap();
                    if rng.random_bool(0.5) {
                        r.apply_pull(&page).unwrap();
                    }
                }
                _ => {
                    // Refusals (a ship from an unknown bin, …) are not the point here.
                    let _ = r.record(&random_action(&mut rng));
                }
            }
            if step % 5 == 0 {
                held += check(&r, seed);
            }
        }
        held += check(&r, seed);
        let applied = r
            .journal(&crate::api::JournalFilter::default())
            .unwrap()
            .iter()
            .filter(|e| e.outcome.as_deref() == Some("applied"))
            .count();
        (held, applied)
    }

    /// Scenarios per run; `LOGIFLOW_REPLAY_CASES` raises it.
    #[test]
    fn replaying_one_product_equals_its_part_of_the_whole_replay() {
        let cases = std::env::var("LOGIFLOW_REPLAY_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(24);
        let (mut held, mut applied) = (0, 0);
        for seed in 0..cases {
            let (h, a) = scenario(seed);
            held += h;
            applied += a;
        }
        // The journals hold what makes the replay interesting: entries the server
        // applied and entries predicted held.
        assert!(held > 0 && applied > 0, "held {held}, applied {applied}");
    }

    #[test]
    fn the_live_entries_of_a_product_are_a_range_of_the_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let r = Replica::open(dir.path().join("r.db")).unwrap();
        for (sql, index) in [
            (
                format!(
                    "select device_seq from journal where {} = 'x' and {} order by device_seq",
                    super::ENTRY_PRODUCT,
                    super::LIVE
                ),
                "INDEX journal_live_by_product (product_id=?)",
            ),
            (
                format!(
                    "select distinct {} from journal where {}",
                    super::ENTRY_PRODUCT,
                    super::LIVE
                ),
                "COVERING INDEX journal_live_by_product",
            ),
        ] {
            let plan: Vec<String> = r
                .conn
                .prepare(&format!("explain query plan {sql}"))
                .unwrap()
                .query_map([], |row| row.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{sql}: {plan:?}"
            );
        }
    }
}
