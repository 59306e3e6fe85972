//! The demo tenant's inventory (`cargo xtask dev`): two warehouses with zones, aisles
//! and bins, 500 products (a fifth lot-tracked, with expiring and expired lots), and
//! three weeks of movements recorded through the same path as the API, so the stock,
//! the ledger, the audit log and the outbox agree as they would in production.
//!
//! Deterministic (a fixed seed), so every developer sees the same demo.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use logiflow_core::{
    AdjustReason, Delta, LocationId, LotId, Movement, MovementId, MovementKind, PositiveQty,
    ProductId, Qty, TenantId, UserId,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::TenantTx;
use crate::error::ApiError;

/// Products in the demo catalog.
pub const DEMO_PRODUCTS: usize = 500;
/// Every n-th product is lot-tracked.
const LOT_TRACKED_EVERY: usize = 5;
/// Days of history.
const HISTORY_DAYS: i64 = 21;
/// Movements per day after the opening receipts.
const MOVEMENTS_PER_DAY: usize = 70;

const WAREHOUSES: [(&str, &str, &str, &str); 2] = [
    (
        "BER",
        "Berlin Central",
        "Europe/Berlin",
        "Lagerstraße 1, 10115 Berlin",
    ),
    (
        "WAW",
        "Warsaw East",
        "Europe/Warsaw",
        "ul. Magazynowa 7, Warszawa",
    ),
];
const ZONES: [&str; 3] = ["A", "B", "C"];
const AISLES: usize = 4;
const BINS_PER_AISLE: usize = 8;

const ADJECTIVES: [&str; 20] = [
    "Steel",
    "Brass",
    "Nylon",
    "Rubber",
    "Copper",
    "Plastic",
    "Oak",
    "Glass",
    "Cotton",
    "Carbon",
    "Ceramic",
    "Leather",
    "Bamboo",
    "Silicone",
    "Aluminium",
    "Paper",
    "Wool",
    "Granite",
    "Linen",
    "Titanium",
];
const NOUNS: [&str; 25] = [
    "Bolt", "Washer", "Hinge", "Bracket", "Gasket", "Valve", "Hose", "Clamp", "Spring", "Bearing",
    "Cable", "Filter", "Fuse", "Switch", "Tape", "Glue", "Paint", "Brush", "Glove", "Mask",
    "Battery", "Bulb", "Socket", "Pipe", "Nozzle",
];

/// What the demo inventory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DemoInventory {
    pub warehouses: usize,
    pub locations: usize,
    pub products: usize,
    pub lots: usize,
    /// Movements applied (those the rules refused, e.g. a ship beyond the stock, are
    /// skipped, as a person would have been told at once).
    pub movements: usize,
}

/// A small deterministic generator (xorshift64*): enough for demo data, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::try_from(self.next() % u64::try_from(hi - lo + 1).unwrap_or(1)).unwrap_or(0)
    }
}

/// An EAN-13 with its check digit (GTIN rule: weights 1 and 3 from the left).
fn ean13(body: u64) -> String {
    let digits = format!("{:012}", body % 1_000_000_000_000);
    let sum: u32 = digits
        .chars()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).unwrap_or(0) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

struct Bin {
    id: Uuid,
    warehouse: usize,
}

/// Seeds the catalog and three weeks of movements for `tenant_id`, booked to `users`
/// (the people on the floor) in turn.
pub async fn seed_inventory(
    pool: &PgPool,
    tenant_id: Uuid,
    users: &[Uuid],
) -> Result<DemoInventory, crate::admin::AdminError> {
    // Demo data needs no durability per movement: one connection that does not wait for
    // each commit's flush makes the thousands of small transactions several times faster
    // (the data is flushed moments later all the same).
    let options = (*pool.connect_options())
        .clone()
        .options([("synchronous_commit", "off")]);
    let pool = &sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let mut rng = Rng(0x5eed_1064_f10e_2026);
    let tenant = TenantId::from_uuid(tenant_id);
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let (bins, docks, locations) = seed_locations(&mut tx, tenant_id).await?;
    let (products, lots) = seed_products(&mut tx, tenant_id, &mut rng).await?;
    tx.commit().await?;
    let movements = demo_movements(&mut rng, users, &bins, &docks, &products);
    let applied = write_movements(pool, tenant, &movements).await?;
    Ok(DemoInventory {
        warehouses: WAREHOUSES.len(),
        locations,
        products: products.len(),
        lots,
        movements: applied,
    })
}

/// The demo's warehouses and their trees: zone → aisle → bin, plus a receiving dock per
/// warehouse. Returns the bins, the docks (by warehouse) and how many locations it made.
async fn seed_locations(
    tx: &mut TenantTx,
    tenant_id: Uuid,
) -> Result<(Vec<Bin>, Vec<Uuid>, usize), sqlx::Error> {
    let mut bins: Vec<Bin> = Vec::new();
    let mut docks: Vec<Uuid> = Vec::new();
    let mut locations = 0;
    for (w, (code, name, tz, address)) in WAREHOUSES.iter().enumerate() {
        let warehouse = Uuid::now_v7();
        sqlx::query(
            "insert into warehouse (tenant_id, id, code, name, timezone, address) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant_id)
        .bind(warehouse)
        .bind(code)
        .bind(name)
        .bind(tz)
        .bind(address)
        .execute(tx.conn())
        .await?;
        let insert = |id: Uuid, parent: Option<Uuid>, code: String, path: String, depth: i32| {
            (id, parent, code, path, depth)
        };
        let mut rows = Vec::new();
        let dock = Uuid::now_v7();
        rows.push(insert(dock, None, "DOCK".into(), "DOCK".into(), 0));
        docks.push(dock);
        for zone in ZONES {
            let z = Uuid::now_v7();
            rows.push(insert(z, None, zone.into(), zone.into(), 0));
            for aisle in 1..=AISLES {
                let a = Uuid::now_v7();
                let a_code = format!("{zone}{aisle:02}");
                rows.push(insert(
                    a,
                    Some(z),
                    a_code.clone(),
                    format!("{zone}/{a_code}"),
                    1,
                ));
                for bin in 1..=BINS_PER_AISLE {
                    let b = Uuid::now_v7();
                    let b_code = format!("{a_code}-{bin:02}");
                    rows.push(insert(
                        b,
                        Some(a),
                        b_code.clone(),
                        format!("{zone}/{a_code}/{b_code}"),
                        2,
                    ));
                    bins.push(Bin {
                        id: b,
                        warehouse: w,
                    });
                }
            }
        }
        locations += rows.len();
        sqlx::query(
            "insert into location (tenant_id, id, warehouse_id, parent_id, code, path, depth)
             select $1, r.id, $2, r.parent_id, r.code, r.path, r.depth
             from unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::int[])
                  as r (id, parent_id, code, path, depth)",
        )
        .bind(tenant_id)
        .bind(warehouse)
        .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.3.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.4).collect::<Vec<_>>())
        .execute(tx.conn())
        .await?;
    }
    Ok((bins, docks, locations))
}

/// The demo's products, their barcodes and lots: each product with its lots, and how
/// many lots there are.
///
/// Longer than 80 lines: it fills one array per column and binds each to its insert (a
/// statement per table), so the columns and the values they get are read side by side.
async fn seed_products(
    tx: &mut TenantTx,
    tenant_id: Uuid,
    rng: &mut Rng,
) -> Result<(Vec<(Uuid, Vec<Uuid>)>, usize), sqlx::Error> {
    let today = Utc::now().date_naive();
    let mut products: Vec<(Uuid, Vec<Uuid>)> = Vec::new();
    let (mut ids, mut skus, mut names, mut uoms, mut tracked, mut points, mut qtys) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut costs, mut prices) = (vec![], vec![]);
    let (mut lot_ids, mut lot_products, mut lot_codes, mut lot_expiries) =
        (vec![], vec![], vec![], vec![]);
    for i in 0..DEMO_PRODUCTS {
        let id = Uuid::now_v7();
        let is_tracked = i % LOT_TRACKED_EVERY == 0;
        ids.push(id);
        skus.push(format!("DEMO-{:04}", i + 1));
        names.push(format!(
            "{} {} {}",
            ADJECTIVES[i % ADJECTIVES.len()],
            NOUNS[(i / ADJECTIVES.len()) % NOUNS.len()],
            ["S", "M", "L", "XL"][i % 4]
        ));
        uoms.push(if i % 11 == 0 { "g" } else { "pcs" });
        tracked.push(is_tracked);
        points.push(rng.between(0, 4) * 10);
        qtys.push(rng.between(2, 10) * 10);
        let cost = rng.between(50, 50_000);
        costs.push(format!("{}.{:02}", cost / 100, cost % 100));
        let price = cost * 13 / 10;
        prices.push(format!("{}.{:02}", price / 100, price % 100));
        let mut lots = Vec::new();
        if is_tracked {
            for n in 0..2 {
                let lot = Uuid::now_v7();
                lot_ids.push(lot);
                lot_products.push(id);
                lot_codes.push(format!("L{:04}-{}", i + 1, n + 1));
                // Every tenth tracked product has a lot that expired last week.
                let days = if n == 0 && (i / LOT_TRACKED_EVERY) % 10 == 0 {
                    -7
                } else {
                    rng.between(20, 400)
                };
                lot_expiries.push(today + Duration::days(days));
                lots.push(lot);
            }
        }
        products.push((id, lots));
    }
    sqlx::query(
        "insert into product (tenant_id, id, sku, name, uom, lot_tracked, expiry_policy, reorder_point,
             reorder_qty, cost, price)
         select $1, p.id, p.sku, p.name, p.uom, p.tracked, case when p.tracked then 'fefo' else 'fifo' end,
                p.point, p.qty, p.cost::numeric, p.price::numeric
         from unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::bigint[],
                     $8::bigint[], $9::text[], $10::text[])
              as p (id, sku, name, uom, tracked, point, qty, cost, price)",
    )
    .bind(tenant_id)
    .bind(&ids)
    .bind(&skus)
    .bind(&names)
    .bind(&uoms)
    .bind(&tracked)
    .bind(&points)
    .bind(&qtys)
    .bind(&costs)
    .bind(&prices)
    .execute(tx.conn())
    .await?;
    let barcodes: Vec<String> = (0..ids.len())
        .map(|i| ean13(400_000_000_000 + i as u64 + 1))
        .collect();
    sqlx::query(
        "insert into product_barcode (tenant_id, barcode, product_id)
         select $1, b.barcode, b.product_id from unnest($2::text[], $3::uuid[]) as b (barcode, product_id)",
    )
    .bind(tenant_id)
    .bind(&barcodes)
    .bind(&ids)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "insert into lot (tenant_id, id, product_id, code, expires_on)
         select $1, l.id, l.product_id, l.code, l.expires_on
         from unnest($2::uuid[], $3::uuid[], $4::text[], $5::date[]) as l (id, product_id, code, expires_on)",
    )
    .bind(tenant_id)
    .bind(&lot_ids)
    .bind(&lot_products)
    .bind(&lot_codes)
    .bind(&lot_expiries)
    .execute(tx.conn())
    .await?;
    Ok((products, lot_ids.len()))
}

/// Three weeks of movements, oldest first: opening stock received at the docks and put
/// away, then the daily work.
///
/// Longer than 80 lines: one generator script whose closures share its clock and random
/// state; split, they would have to be threaded through every part.
fn demo_movements(
    rng: &mut Rng,
    users: &[Uuid],
    bins: &[Bin],
    docks: &[Uuid],
    products: &[(Uuid, Vec<Uuid>)],
) -> Vec<Movement> {
    let start = Utc::now().trunc_subsecs(6) - Duration::days(HISTORY_DAYS);
    let mut clock = start;
    let mut tick = |rng: &mut Rng| {
        clock += Duration::seconds(rng.between(30, 600));
        clock
    };
    let bins_of = |w: usize| -> Vec<&Bin> { bins.iter().filter(|b| b.warehouse == w).collect() };
    // Where each product is kept: a home bin per warehouse.
    let homes: Vec<[Uuid; 2]> = (0..products.len())
        .map(|_| {
            let a = bins_of(0);
            let b = bins_of(1);
            [a[rng.below(a.len())].id, b[rng.below(b.len())].id]
        })
        .collect();
    let mut movements: Vec<Movement> = Vec::new();
    let user = |rng: &mut Rng| UserId::from_uuid(users[rng.below(users.len())]);
    let new_movement = |rng: &mut Rng,
                        at: DateTime<Utc>,
                        product: usize,
                        lot: Option<Uuid>,
                        kind: MovementKind| Movement {
        id: MovementId::from_uuid(Uuid::now_v7()),
        occurred_at: at,
        product: ProductId::from_uuid(products[product].0),
        lot: lot.map(LotId::from_uuid),
        kind,
        user: user(rng),
        device: None,
        reference: None,
    };
    let lot_of = |rng: &mut Rng, product: usize| -> Option<Uuid> {
        let lots = &products[product].1;
        (!lots.is_empty()).then(|| lots[rng.below(lots.len())])
    };
    // The generator's quantities are in range by construction.
    let qty = |n: i64| PositiveQty::new(n).expect("demo quantities are positive");
    // Opening stock: received at the dock, then put away into each product's home bin
    // (most products are kept in both warehouses).
    for (p, homes) in homes.iter().enumerate() {
        for (w, home) in homes.iter().enumerate() {
            if w == 1 && p % 3 == 0 {
                continue;
            }
            let lot = lot_of(&mut *rng, p);
            let n = qty(rng.between(20, 200));
            let dock = LocationId::from_uuid(docks[w]);
            let at = tick(&mut *rng);
            movements.push(new_movement(
                &mut *rng,
                at,
                p,
                lot,
                MovementKind::Receive { to: dock, qty: n },
            ));
            let at = tick(&mut *rng);
            movements.push(new_movement(
                &mut *rng,
                at,
                p,
                lot,
                MovementKind::Transfer {
                    from: dock,
                    to: LocationId::from_uuid(*home),
                    qty: n,
                },
            ));
        }
    }
    // Then the daily work: mostly picking, some replenishment, moves, damage and counts.
    let per_day_secs = (HISTORY_DAYS * 86_400 - (clock - start).num_seconds()).max(86_400)
        / (HISTORY_DAYS * i64::try_from(MOVEMENTS_PER_DAY).unwrap_or(1));
    let mut at = clock;
    for _ in 0..(HISTORY_DAYS as usize * MOVEMENTS_PER_DAY) {
        at += Duration::seconds(rng.between(1, per_day_secs.max(2) * 2 - 1));
        if at >= Utc::now() - Duration::minutes(5) {
            break;
        }
        let p = rng.below(products.len());
        let w = rng.below(2);
        let home = LocationId::from_uuid(homes[p][w]);
        let lot = lot_of(&mut *rng, p);
        let kind = match rng.below(100) {
            0..=64 => MovementKind::Ship {
                from: home,
                qty: qty(rng.between(1, 12)),
            },
            65..=79 => MovementKind::Receive {
                to: home,
                qty: qty(rng.between(10, 120)),
            },
            80..=89 => {
                let others = bins_of(w);
                let to = LocationId::from_uuid(others[rng.below(others.len())].id);
                if to == home {
                    continue;
                }
                MovementKind::Transfer {
                    from: home,
                    to,
                    qty: qty(rng.between(1, 10)),
                }
            }
            90..=93 => MovementKind::Adjust {
                at: home,
                delta: Delta::new(-rng.between(1, 3)).expect("demo deltas are non-zero"),
                reason: AdjustReason::Damage,
            },
            _ => MovementKind::Count {
                at: home,
                counted: Qty::new(rng.between(0, 150)).expect("demo counts are in range"),
                expected: None,
            },
        };
        movements.push(new_movement(&mut *rng, at, p, lot, kind));
    }
    movements
}

/// Decides and writes `movements` by the API's path, in batches as the API writes
/// movements that arrive together (`crate::group_commit`). Returns how many applied.
async fn write_movements(
    pool: &PgPool,
    tenant: TenantId,
    movements: &[Movement],
) -> Result<usize, crate::admin::AdminError> {
    let mut applied = 0;
    for chunk in movements.chunks(crate::group_commit::BATCH_MAX) {
        let jobs: Vec<crate::group_commit::Job> = chunk
            .iter()
            .map(|m| crate::group_commit::Job {
                movement: *m,
                user_id: m.user.as_uuid(),
                actor_type: "user".to_owned(),
                actor_id: m.user.as_uuid(),
                session_id: None,
                request_id: None,
                note: None,
                idempotency: None,
                deferred_check: None,
            })
            .collect();
        let answers = crate::group_commit::record_batch(pool, tenant, &jobs)
            .await
            .map_err(|e| crate::admin::AdminError::Invalid(e.to_string()))?;
        for answer in answers {
            match answer {
                Ok(_) => applied += 1,
                // A pick beyond the stock, an expired lot: a person would have been told
                // and done something else; the demo moves on.
                Err(ApiError::Movement(_)) => {}
                Err(e) => return Err(crate::admin::AdminError::Invalid(e.to_string())),
            }
        }
    }
    Ok(applied)
}
