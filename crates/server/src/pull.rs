//! Device pulls (DESIGN §5.5): a new device's paged snapshot of its scope, then every
//! change committed after its cursor, without ever missing one and without a counter
//! row that would serialize a tenant's writers.
//!
//! # How a cursor works
//!
//! Every change row carries the id of the transaction that wrote it (`xid8`, the
//! column's default `pg_current_xact_id()`; a held movement's row moves to the
//! transaction that decides it again). A cursor holds a `pg_snapshot`: the set of
//! transactions whose changes the device already has is exactly the set that snapshot
//! sees (`pg_visible_in_snapshot`). A pull runs in one `REPEATABLE READ` transaction,
//! whose own snapshot `cur` sees every transaction committed before it began; the
//! candidates are the changes `cur` sees and the cursor does not. A transaction still
//! running when the pull began is invisible to `cur`, so it is not skipped: it stays
//! outside the next cursor too and arrives with a later pull. Nothing is ever missed,
//! whatever the commit order, and writers never wait on each other for it.
//!
//! A page takes whole transactions in id order while they fit. When it stops at
//! transaction `x` before the end, the next cursor sees: what the old cursor saw, plus
//! everything `cur` sees up to `x` ([`Snap::through`]). Stock rows are sent **as of that
//! cursor**: the current row minus the effects of transactions `cur` sees but the
//! cursor does not (their outcomes come with a later page), with the latest count the
//! cursor saw. A device therefore never holds a row that includes its own movement
//! without holding that movement's outcome too (`logiflow_core::sync`).
//!
//! Catalog records are sent with their current state (upserts, a later page may only
//! repeat them); a location comes with its parent (a new child changes the parent's
//! leaf state), and a location that no longer exists is sent as deleted. A catalog-only
//! transaction larger than a page (an import) is split; the cursor then remembers the
//! last change sent of it.
//!
//! # Snapshot
//!
//! A first pull (no cursor) fixes a snapshot `S` (the first page's own) and pages
//! through the scope: warehouses, locations, products, lots, open purchase orders,
//! confirmed sales orders, then stock rows, each in id
//! order, each page in its own transaction. Rows are sent as of `S` (the same
//! subtraction), catalog records as they are now. The last page's cursor is `S` itself,
//! so the following pulls deliver everything committed since the snapshot began.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use logiflow_core::{
    Barcode, Cursor, LedgerEffect, LocationCode, LocationId, LocationRecord, LotCode, LotId,
    LotRecord, MovementId, OrderKey, PULL_PAGE_MAX, ProductId, ProductRecord, PullPage,
    PurchaseLineRecord, PurchaseOrderRecord, RowState, SalesLineRecord, SalesOrderRecord, Sku,
    SnapshotProgress, StockKey, StockRow, WarehouseId, WarehouseRecord,
};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::access::{Actor, Principal};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::orders::purchase::Purchase;
use crate::orders::sales::Sales;
use crate::store;
use crate::store::movements::lot_from_column;
use crate::store::pull::{Range, StockRowState};

/// A `pg_snapshot`: transactions below `xmin` are seen, those from `xmax` on are not,
/// and in between all but those listed in `xip` are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snap {
    xmin: i64,
    xmax: i64,
    /// Sorted, each in `xmin..xmax`.
    xip: Vec<i64>,
}

/// The most transactions in progress a cursor may list (PostgreSQL's own bound is the
/// number of connections; this only refuses absurd input).
const XIP_MAX: usize = 100_000;

impl Snap {
    /// Parses PostgreSQL's text form `xmin:xmax:xip,…`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let xmin: i64 = parts.next()?.parse().ok()?;
        let xmax: i64 = parts.next()?.parse().ok()?;
        let list = parts.next()?;
        if parts.next().is_some() || xmin < 1 || xmax < xmin {
            return None;
        }
        let mut xip = Vec::new();
        if !list.is_empty() {
            for x in list.split(',') {
                let x: i64 = x.parse().ok()?;
                if x < xmin || x >= xmax || xip.last().is_some_and(|&l| l >= x) {
                    return None;
                }
                xip.push(x);
                if xip.len() > XIP_MAX {
                    return None;
                }
            }
        }
        Some(Self { xmin, xmax, xip })
    }

    /// The text form, as PostgreSQL reads it.
    pub fn text(&self) -> String {
        let list: Vec<String> = self.xip.iter().map(i64::to_string).collect();
        format!("{}:{}:{}", self.xmin, self.xmax, list.join(","))
    }

    /// Its in-progress list as a PostgreSQL array literal, e.g. `{12,15}`.
    pub fn xip_array(&self) -> String {
        let list: Vec<String> = self.xip.iter().map(i64::to_string).collect();
        format!("{{{}}}", list.join(","))
    }

    /// Whether the snapshot sees transaction `x` (committed ones only: an aborted
    /// transaction wrote nothing that could be read).
    pub fn sees(&self, x: i64) -> bool {
        x < self.xmin || (x < self.xmax && self.xip.binary_search(&x).is_err())
    }

    /// The cursor after delivering, on top of what `self` saw, every transaction up to
    /// `x` that `cur` sees (`cur` is the later snapshot: it sees all `self` sees).
    pub fn through(&self, cur: &Snap, x: i64) -> Snap {
        let xmax = self.xmax.max(x + 1);
        // Up to x: unseen iff cur does not see it (and x < cur.xmax, so only cur's
        // in-progress list). Above x: unseen iff self did not see it; self.xmax ≤ xmax,
        // so only self's in-progress list.
        let mut xip: Vec<i64> = cur.xip.iter().copied().filter(|&t| t <= x).collect();
        xip.extend(self.xip.iter().copied().filter(|&t| t > x));
        let xmin = xip.first().copied().unwrap_or(xmax);
        Snap { xmin, xmax, xip }
    }
}

/// Where a snapshot stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    Warehouses,
    Locations,
    Products,
    Lots,
    PurchaseOrders,
    SalesOrders,
    Rows,
}

/// The decoded cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    /// What the device has (`pg_snapshot` text); for a snapshot in progress, the
    /// snapshot's.
    s: String,
    /// A catalog-only transaction sent in part: its id and the last change sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    part: Option<(i64, i64)>,
    /// A snapshot in progress: its phase and the last key sent in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snap: Option<(Phase, Option<[Uuid; 3]>)>,
    /// A snapshot in progress: records sent so far and the total counted at its start
    /// (absent from cursors issued before progress was reported: counted afresh then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<SnapshotProgress>,
}

const CURSOR_PREFIX: &str = "1.";

impl State {
    fn encode(&self) -> Cursor {
        let json = serde_json::to_vec(self).unwrap_or_default();
        Cursor::new(format!("{CURSOR_PREFIX}{}", URL_SAFE_NO_PAD.encode(json)))
    }

    fn decode(text: &str) -> ApiResult<(Self, Snap)> {
        let bad = || {
            ApiError::InvalidCursor(
                "this cursor was not issued by this server; pull without a cursor to start over"
                    .into(),
            )
        };
        let body = text.strip_prefix(CURSOR_PREFIX).ok_or_else(bad)?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad())?;
        let state: State = serde_json::from_slice(&json).map_err(|_| bad())?;
        let snap = Snap::parse(&state.s).ok_or_else(bad)?;
        Ok((state, snap))
    }
}

/// The device a principal's session belongs to, and its scope.
struct Device {
    id: Uuid,
    scope: Vec<Uuid>,
}

/// Answers `GET /v1/sync/pull` for `principal` (a device's session).
pub async fn pull(
    pool: &PgPool,
    principal: &Principal,
    cursor: Option<&str>,
    limit: usize,
) -> ApiResult<PullPage> {
    if limit == 0 || limit > PULL_PAGE_MAX {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {PULL_PAGE_MAX}"
        )));
    }
    let Actor::User { session_id, .. } = principal.actor else {
        return Err(ApiError::Forbidden);
    };
    let decoded = cursor.map(State::decode).transpose()?;
    let mut tx = TenantTx::begin_snapshot(pool, principal.tenant_id).await?;
    let device = store::devices::by_session(&mut tx, session_id)
        .await?
        .ok_or(ApiError::Forbidden)?;
    if device.revoked {
        return Err(ApiError::DeviceRevoked);
    }
    let device = Device {
        id: device.id,
        scope: device.warehouse_ids,
    };
    let (cur_text,): (String,) = sqlx::query_as("select pg_current_snapshot()::text")
        .fetch_one(tx.conn())
        .await?;
    let cur = Snap::parse(&cur_text)
        .ok_or_else(|| ApiError::internal(format!("unreadable snapshot {cur_text}")))?;
    let page = match decoded {
        None => {
            let start = Start {
                phase: Phase::Warehouses,
                after: None,
                size: None,
            };
            snapshot_page(&mut tx, &device, &cur, &cur, start, limit).await?
        }
        Some((
            State {
                snap: Some((phase, after)),
                size,
                ..
            },
            s,
        )) => {
            let start = Start { phase, after, size };
            snapshot_page(&mut tx, &device, &cur, &s, start, limit).await?
        }
        Some((state, prev)) => {
            changes_page(&mut tx, &device, &cur, &prev, state.part, limit).await?
        }
    };
    tx.commit().await?;
    // A device that pulled its last page has synced: `device.silent` (crate::alerts)
    // counts it. Once per sync, not per page, apart from the read-only snapshot above.
    if !page.has_more {
        let mut tx = TenantTx::begin(pool, principal.tenant_id).await?;
        store::devices::mark_pulled(&mut tx, device.id).await?;
        tx.commit().await?;
    }
    Ok(page)
}

/// Sets a snapshot page's progress from what the pages before it sent; the last page
/// reports the snapshot whole. Returns the progress for the next cursor.
fn progress(page: &mut PullPage, before: SnapshotProgress, last: bool) -> SnapshotProgress {
    let sent = before.sent + page.snapshot_records();
    // Records created during the snapshot can make it larger than counted; a total
    // counted high (records deleted meanwhile) ends at what was sent.
    let total = if last { sent } else { before.total.max(sent) };
    let now = SnapshotProgress { sent, total };
    page.snapshot = Some(now);
    now
}

fn empty_page(cursor: Cursor, has_more: bool) -> PullPage {
    PullPage {
        cursor,
        has_more,
        server_time: Utc::now(),
        warehouses: vec![],
        locations: vec![],
        products: vec![],
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

/// The key to go on after when `rows` filled what was left of the page (`None`: the phase
/// is done), taking them from `budget`.
fn spend<T>(rows: &[T], budget: &mut usize, key: impl Fn(&T) -> [Uuid; 3]) -> Option<[Uuid; 3]> {
    let more = (rows.len() == *budget)
        .then(|| rows.last().map(&key))
        .flatten();
    *budget -= rows.len();
    more
}

/// A phase's cursor key of one id.
fn by_id(id: Uuid) -> [Uuid; 3] {
    [id, Uuid::nil(), Uuid::nil()]
}

/// Where a snapshot page starts: the phase, the last key sent in it, and the records sent
/// so far of the total (none on the first page, which counts the total).
struct Start {
    phase: Phase,
    after: Option<[Uuid; 3]>,
    size: Option<SnapshotProgress>,
}

/// One page of a snapshot as of `s`, from `start`.
///
/// Longer than 80 lines: the phases of a snapshot share one page budget and one cursor,
/// so the page is filled phase after phase in one loop.
async fn snapshot_page(
    tx: &mut TenantTx,
    device: &Device,
    cur: &Snap,
    s: &Snap,
    start: Start,
    limit: usize,
) -> ApiResult<PullPage> {
    let Start {
        mut phase,
        mut after,
        size,
    } = start;
    let before = match size {
        Some(size) => size,
        None => SnapshotProgress {
            sent: 0,
            total: store::pull::snapshot_size(tx, &device.scope).await?,
        },
    };
    let mut page = empty_page(Cursor::new(""), true);
    let mut budget = limit;
    let first = |a: Option<[Uuid; 3]>| a.map(|k| k[0]);
    loop {
        // `Some(last)`: the phase may go on after `last`; `None`: it is done.
        let more: Option<[Uuid; 3]> = match phase {
            Phase::Warehouses => {
                // At most 50 (a device's scope): always whole.
                for w in store::pull::warehouses(tx, &device.scope, None).await? {
                    page.warehouses.push(warehouse(w));
                }
                budget = budget.saturating_sub(page.warehouses.len());
                None
            }
            Phase::Locations => {
                let rows =
                    store::pull::locations_page(tx, &device.scope, first(after), as_limit(budget))
                        .await?;
                let more = spend(&rows, &mut budget, |l| by_id(l.id));
                for l in rows {
                    page.locations.push(location(l)?);
                }
                more
            }
            Phase::Products => {
                let rows = store::pull::products_page(tx, first(after), as_limit(budget)).await?;
                let more = spend(&rows, &mut budget, |p| by_id(p.id));
                for p in rows {
                    page.products.push(product(p)?);
                }
                more
            }
            Phase::Lots => {
                let rows = store::pull::lots_page(tx, first(after), as_limit(budget)).await?;
                let more = spend(&rows, &mut budget, |l| by_id(l.id));
                for l in rows {
                    page.lots.push(lot(l)?);
                }
                more
            }
            Phase::PurchaseOrders => {
                let rows = store::orders::open_page::<Purchase>(
                    tx,
                    &device.scope,
                    first(after),
                    as_limit(budget),
                )
                .await?;
                let more = spend(&rows, &mut budget, |(o, _)| by_id(o.id));
                page.purchase_orders = purchase_orders(tx, rows).await?;
                more
            }
            Phase::SalesOrders => {
                let rows = store::orders::open_page::<Sales>(
                    tx,
                    &device.scope,
                    first(after),
                    as_limit(budget),
                )
                .await?;
                let more = spend(&rows, &mut budget, |(o, _)| by_id(o.id));
                page.sales_orders = sales_orders(tx, rows).await?;
                more
            }
            Phase::Rows => {
                let key = after.map(|k| (k[0], k[1], k[2]));
                let rows = store::pull::rows_page(tx, &device.scope, key, as_limit(budget)).await?;
                let more = spend(&rows, &mut budget, |r| {
                    [r.product_id, r.location_id, r.lot_id]
                });
                page.rows = rows_as_of(tx, rows, s, cur).await?;
                more
            }
        };
        match more {
            Some(last) => {
                let size = progress(&mut page, before, false);
                page.cursor = State {
                    s: s.text(),
                    part: None,
                    snap: Some((phase, Some(last))),
                    size: Some(size),
                }
                .encode();
                return Ok(page);
            }
            None => {
                after = None;
                phase = match phase {
                    Phase::Warehouses => Phase::Locations,
                    Phase::Locations => Phase::Products,
                    Phase::Products => Phase::Lots,
                    Phase::Lots => Phase::PurchaseOrders,
                    Phase::PurchaseOrders => Phase::SalesOrders,
                    Phase::SalesOrders => Phase::Rows,
                    Phase::Rows => {
                        // The snapshot is complete; the changes since it began follow.
                        progress(&mut page, before, true);
                        page.cursor = State {
                            s: s.text(),
                            part: None,
                            snap: None,
                            size: None,
                        }
                        .encode();
                        return Ok(page);
                    }
                };
                if budget == 0 {
                    let size = progress(&mut page, before, false);
                    page.cursor = State {
                        s: s.text(),
                        part: None,
                        snap: Some((phase, None)),
                        size: Some(size),
                    }
                    .encode();
                    return Ok(page);
                }
            }
        }
    }
}

fn as_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Items a catalog change may add to a page: a location comes with its parent.
fn change_items(entity: &str) -> usize {
    if entity == "location" { 2 } else { 1 }
}

/// One page of the changes after `prev`.
///
/// Longer than 80 lines: the three feeds (effects, outcomes, catalog changes) are cut at
/// the same transaction boundary and share one page budget; the cut and the page are
/// worked out together.
async fn changes_page(
    tx: &mut TenantTx,
    device: &Device,
    cur: &Snap,
    prev: &Snap,
    part: Option<(i64, i64)>,
    limit: usize,
) -> ApiResult<PullPage> {
    let prev_xip = prev.xip_array();
    let range = Range::After {
        xmax: prev.xmax,
        xip: &prev_xip,
    };
    let fetch = as_limit(limit + 1);
    let mut effects = store::pull::effects(tx, range, &device.scope, fetch).await?;
    let mut outcomes = store::pull::outcomes(tx, range, device.id, fetch).await?;
    let mut changes = store::pull::changes(tx, range, part, &device.scope, fetch).await?;
    // A feed cut by its limit is complete only below its last transaction.
    let full = |n: usize| n == limit + 1;
    let bound = [
        full(effects.len())
            .then(|| effects.last().map(|e| e.xid))
            .flatten(),
        full(outcomes.len())
            .then(|| outcomes.last().map(|o| o.position))
            .flatten(),
        full(changes.len())
            .then(|| changes.last().map(|c| c.xid))
            .flatten(),
    ]
    .into_iter()
    .flatten()
    .min();
    // Items per transaction: an effect may bring its row too, and a receipt its order.
    let mut per: BTreeMap<i64, usize> = BTreeMap::new();
    for e in &effects {
        *per.entry(e.xid).or_default() += 2 + usize::from(e.names_order);
    }
    for o in &outcomes {
        *per.entry(o.position).or_default() += 1;
    }
    for c in &changes {
        *per.entry(c.xid).or_default() += change_items(&c.entity);
    }
    let mut taken: BTreeSet<i64> = BTreeSet::new();
    let mut total = 0;
    for (&x, &n) in &per {
        if bound.is_some_and(|b| x >= b) || (!taken.is_empty() && total + n > limit) {
            break;
        }
        taken.insert(x);
        total += n;
    }
    let mut new_part = None;
    if taken.is_empty()
        && let Some(&x) = per.keys().next()
    {
        // The first transaction alone is larger than a page: read it whole.
        effects = store::pull::effects(tx, Range::Only(x), &device.scope, i64::MAX).await?;
        outcomes = store::pull::outcomes(tx, Range::Only(x), device.id, i64::MAX).await?;
        changes = store::pull::changes(tx, Range::Only(x), part, &device.scope, fetch).await?;
        let movement_items: usize = effects
            .iter()
            .map(|e| 2 + usize::from(e.names_order))
            .sum::<usize>()
            + outcomes.len();
        let catalog_items: usize = changes.iter().map(|c| change_items(&c.entity)).sum();
        if changes.len() < limit + 1 && movement_items + catalog_items <= limit
            || changes.is_empty()
        {
            taken.insert(x);
        } else {
            // Its catalog changes are sent in parts, its movements (if any) with the last.
            effects.clear();
            outcomes.clear();
            let mut items = 0;
            let mut keep = 0;
            for c in &changes {
                items += change_items(&c.entity);
                if keep > 0 && items > limit {
                    break;
                }
                keep += 1;
            }
            changes.truncate(keep);
            new_part = changes.last().map(|c| (x, c.seq));
        }
    }
    let complete = bound.is_none() && taken.len() == per.len() && new_part.is_none();
    let next = if complete {
        cur.clone()
    } else {
        match taken.last() {
            Some(&x) => prev.through(cur, x),
            None => prev.clone(),
        }
    };
    let carried = part.filter(|&(x, _)| !complete && !taken.contains(&x));
    let state = State {
        s: next.text(),
        part: new_part.or(carried),
        snap: None,
        size: None,
    };
    let mut page = empty_page(state.encode(), !complete);

    effects.retain(|e| taken.contains(&e.xid));
    outcomes.retain(|o| taken.contains(&o.position));
    changes.retain(|c| taken.contains(&c.xid) || new_part.is_some_and(|(x, _)| x == c.xid));

    let mut keys: BTreeSet<(Uuid, Uuid, Uuid)> = BTreeSet::new();
    for e in &effects {
        keys.insert((e.product_id, e.location_id, e.lot_id));
        let id = MovementId::from_uuid(e.movement_id);
        page.effects.push(LedgerEffect {
            movement: id,
            key: stock_key(e.product_id, e.location_id, e.lot_id),
            order: OrderKey {
                at: e.occurred_at,
                id,
            },
            delta: e.delta,
        });
    }
    if !keys.is_empty() {
        let arrays = split_keys(keys.iter().copied());
        let rows = store::pull::rows(tx, &arrays).await?;
        page.rows = rows_as_of(tx, rows, &next, cur).await?;
    }
    if !outcomes.is_empty() {
        let ids: Vec<Uuid> = outcomes.iter().map(|o| o.id).collect();
        let mut effects_of = store::journal::effects_of(tx, &ids).await?;
        for o in &outcomes {
            page.outcomes
                .push(o.result(effects_of.remove(&o.id).unwrap_or_default()));
        }
    }
    // Receipts and picks change their orders' quantities: send those orders again.
    let movements: BTreeSet<Uuid> = effects
        .iter()
        .filter(|e| e.names_order)
        .map(|e| e.movement_id)
        .collect();
    let named = if movements.is_empty() {
        (vec![], vec![])
    } else {
        let ids: Vec<Uuid> = movements.into_iter().collect();
        (
            store::orders::named_by_movements::<Purchase>(tx, &ids).await?,
            store::orders::named_by_movements::<Sales>(tx, &ids).await?,
        )
    };
    catalog(tx, device, &changes, &named, &mut page).await?;
    Ok(page)
}

fn split_keys(keys: impl Iterator<Item = (Uuid, Uuid, Uuid)>) -> (Vec<Uuid>, Vec<Uuid>, Vec<Uuid>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for (p, l, lot) in keys {
        out.0.push(p);
        out.1.push(l);
        out.2.push(lot);
    }
    out
}

fn stock_key(product: Uuid, location: Uuid, lot: Uuid) -> StockKey {
    StockKey {
        product: ProductId::from_uuid(product),
        location: LocationId::from_uuid(location),
        lot: lot_from_column(lot),
    }
}

/// The rows as the snapshot `at` saw them: their current state (`cur` sees it) minus
/// the effects of transactions `cur` sees and `at` does not, with the latest count `at`
/// saw.
async fn rows_as_of(
    tx: &mut TenantTx,
    rows: Vec<StockRowState>,
    at: &Snap,
    cur: &Snap,
) -> ApiResult<Vec<RowState>> {
    let mut unseen: HashMap<(Uuid, Uuid, Uuid), (i64, bool)> = HashMap::new();
    if at != cur && !rows.is_empty() {
        let arrays = split_keys(rows.iter().map(|r| (r.product_id, r.location_id, r.lot_id)));
        for (p, l, lot, sum, count) in
            store::pull::unseen_effects(tx, &arrays, at.xmax, &at.xip_array()).await?
        {
            unseen.insert((p, l, lot), (sum, count));
        }
    }
    let at_text = at.text();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let k = (r.product_id, r.location_id, r.lot_id);
        let mut last_count = match (r.last_count_at, r.last_count_id) {
            (Some(at), Some(id)) => Some(OrderKey {
                at,
                id: MovementId::from_uuid(id),
            }),
            _ => None,
        };
        let mut on_hand = r.on_hand;
        if let Some(&(sum, count)) = unseen.get(&k) {
            on_hand -= sum;
            if count {
                last_count =
                    store::pull::last_seen_count(tx, k, &at_text)
                        .await?
                        .map(|(at, id)| OrderKey {
                            at,
                            id: MovementId::from_uuid(id),
                        });
            }
        }
        out.push(RowState {
            key: stock_key(r.product_id, r.location_id, r.lot_id),
            row: StockRow {
                on_hand,
                allocated: r.allocated,
                last_count,
            },
        });
    }
    Ok(out)
}

/// Adds the records named by `changes` to the page, as they are now.
async fn catalog(
    tx: &mut TenantTx,
    device: &Device,
    changes: &[store::pull::ChangeRow],
    named: &(Vec<Uuid>, Vec<Uuid>),
    page: &mut PullPage,
) -> ApiResult<()> {
    let mut ids: BTreeMap<&str, BTreeSet<Uuid>> = BTreeMap::new();
    for c in changes {
        ids.entry(c.entity.as_str())
            .or_default()
            .insert(c.entity_id);
    }
    let list = |e: &str| -> Vec<Uuid> {
        ids.get(e)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    };
    let warehouses = list("warehouse");
    if !warehouses.is_empty() {
        for w in store::pull::warehouses(tx, &device.scope, Some(&warehouses)).await? {
            page.warehouses.push(warehouse(w));
        }
    }
    let locations = list("location");
    if !locations.is_empty() {
        let found = store::pull::locations_by_id(tx, &device.scope, &locations).await?;
        let present: BTreeSet<Uuid> = found.iter().map(|l| l.id).collect();
        for l in found {
            page.locations.push(location(l)?);
        }
        page.deleted_locations = locations
            .into_iter()
            .filter(|id| !present.contains(id))
            .map(LocationId::from_uuid)
            .collect();
    }
    let products = list("product");
    if !products.is_empty() {
        for p in store::pull::products_by_id(tx, &products).await? {
            page.products.push(product(p)?);
        }
    }
    let lots = list("lot");
    if !lots.is_empty() {
        for l in store::pull::lots_by_id(tx, &lots).await? {
            page.lots.push(lot(l)?);
        }
    }
    let mut orders: BTreeSet<Uuid> = list("purchase_order").into_iter().collect();
    orders.extend(named.0.iter().copied());
    if !orders.is_empty() {
        let ids: Vec<Uuid> = orders.into_iter().collect();
        let rows = store::orders::for_devices::<Purchase>(tx, &device.scope, &ids).await?;
        page.purchase_orders = purchase_orders(tx, rows).await?;
    }
    let mut orders: BTreeSet<Uuid> = list("sales_order").into_iter().collect();
    orders.extend(named.1.iter().copied());
    if !orders.is_empty() {
        let ids: Vec<Uuid> = orders.into_iter().collect();
        let rows = store::orders::for_devices::<Sales>(tx, &device.scope, &ids).await?;
        page.sales_orders = sales_orders(tx, rows).await?;
    }
    Ok(())
}

/// The records of some sales orders, with their lines, what each picked and where it
/// reserved stock.
async fn sales_orders(
    tx: &mut TenantTx,
    rows: Vec<(crate::orders::sales::SalesOrderRow, String)>,
) -> ApiResult<Vec<SalesOrderRecord>> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Uuid> = rows.iter().map(|(o, _)| o.id).collect();
    let mut lines = store::orders::lines_of::<Sales>(tx, &ids).await?;
    let line_ids: Vec<Uuid> = lines.values().flatten().map(|l| l.id).collect();
    let mut reserved: HashMap<Uuid, Vec<logiflow_core::orders::Allocation>> = HashMap::new();
    for a in store::sales_orders::allocations_of(tx, &line_ids).await? {
        reserved
            .entry(a.line_id)
            .or_default()
            .push(logiflow_core::orders::Allocation {
                key: a.key(),
                qty: a.qty,
            });
    }
    Ok(rows
        .into_iter()
        .map(|(row, customer)| {
            let lines = lines.remove(&row.id).unwrap_or_default();
            let order = crate::orders::sales::assemble(row, lines);
            SalesOrderRecord {
                id: order.id,
                number: order.number,
                warehouse: WarehouseId::from_uuid(order.warehouse_id),
                customer,
                requested_on: order.requested_on,
                status: order.status,
                lines: order
                    .lines
                    .iter()
                    .map(|l| SalesLineRecord {
                        id: l.id,
                        product: ProductId::from_uuid(l.product_id),
                        qty: l.qty,
                        picked: l.picked,
                        allocations: reserved.remove(&l.id).unwrap_or_default(),
                    })
                    .collect(),
            }
        })
        .collect())
}

/// The records of some orders, with their lines and what each received.
async fn purchase_orders(
    tx: &mut TenantTx,
    rows: Vec<(crate::orders::purchase::OrderRow, String)>,
) -> ApiResult<Vec<PurchaseOrderRecord>> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Uuid> = rows.iter().map(|(o, _)| o.id).collect();
    let mut lines = store::orders::lines_of::<Purchase>(tx, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|(row, supplier)| {
            let lines = lines.remove(&row.id).unwrap_or_default();
            let order = crate::orders::purchase::assemble(row, lines);
            PurchaseOrderRecord {
                id: order.id,
                number: order.number,
                warehouse: WarehouseId::from_uuid(order.warehouse_id),
                supplier,
                expected_on: order.expected_on,
                status: order.status,
                lines: order
                    .lines
                    .iter()
                    .map(|l| PurchaseLineRecord {
                        id: l.id,
                        product: ProductId::from_uuid(l.product_id),
                        qty: l.qty,
                        received: l.received,
                    })
                    .collect(),
            }
        })
        .collect())
}

fn unreadable(what: &str, value: &str) -> ApiError {
    ApiError::internal(format!("stored {what} {value:?} is not valid"))
}

fn warehouse(w: store::pull::WarehouseRow) -> WarehouseRecord {
    WarehouseRecord {
        id: WarehouseId::from_uuid(w.id),
        code: w.code,
        name: w.name,
        time_zone: w.timezone,
        active: w.active,
    }
}

fn location(l: store::pull::LocationRow) -> ApiResult<LocationRecord> {
    Ok(LocationRecord {
        id: LocationId::from_uuid(l.id),
        warehouse: WarehouseId::from_uuid(l.warehouse_id),
        code: LocationCode::parse(&l.code).map_err(|_| unreadable("location code", &l.code))?,
        parent: l.parent_id.map(LocationId::from_uuid),
        is_leaf: l.is_leaf,
        active: l.active,
    })
}

fn product(p: store::pull::ProductRow) -> ApiResult<ProductRecord> {
    let mut barcodes = Vec::with_capacity(p.barcodes.len());
    for b in &p.barcodes {
        barcodes.push(Barcode::parse(b).map_err(|_| unreadable("barcode", b))?);
    }
    Ok(ProductRecord {
        id: ProductId::from_uuid(p.id),
        sku: Sku::parse(&p.sku).map_err(|_| unreadable("SKU", &p.sku))?,
        name: p.name,
        barcodes,
        lot_tracked: p.lot_tracked,
        active: p.active,
        reorder_point: p.reorder_point,
    })
}

fn lot(l: store::pull::LotRow) -> ApiResult<LotRecord> {
    Ok(LotRecord {
        id: LotId::from_uuid(l.id),
        product: ProductId::from_uuid(l.product_id),
        code: LotCode::parse(&l.code).map_err(|_| unreadable("lot code", &l.code))?,
        expires_on: l.expires_on,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(t: &str) -> Snap {
        Snap::parse(t).unwrap()
    }

    #[test]
    fn snapshots_parse_and_print_as_postgresql_does() {
        for t in ["10:10:", "10:20:10,15", "7:9:8"] {
            assert_eq!(snap(t).text(), t);
        }
        for bad in [
            "",
            "1:2",
            "5:4:",
            "10:20:9",
            "10:20:20",
            "10:20:15,12",
            "a:b:",
            "0:1:",
            "1:2:3:4",
        ] {
            assert!(Snap::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_snapshot_sees_what_committed_before_it() {
        let s = snap("10:20:12,15");
        assert!(s.sees(9) && s.sees(10) && s.sees(11) && s.sees(19));
        assert!(!s.sees(12) && !s.sees(15) && !s.sees(20) && !s.sees(25));
    }

    #[test]
    fn the_cursor_through_x_sees_exactly_the_old_cursor_plus_what_cur_sees_up_to_x() {
        // Exhaustively over small snapshots: the property the pull relies on.
        let prev = snap("10:20:12,15,18");
        let cur = snap("15:30:15,22,27");
        for x in 10..30 {
            let next = prev.through(&cur, x);
            for t in 1..40 {
                let want = prev.sees(t) || (t <= x && cur.sees(t));
                assert_eq!(next.sees(t), want, "x {x} t {t}: {}", next.text());
            }
            assert!(Snap::parse(&next.text()).is_some());
        }
    }

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let state = State {
            s: "10:20:12".into(),
            part: Some((12, 7)),
            snap: Some((Phase::Rows, Some([Uuid::nil(); 3]))),
            size: Some(SnapshotProgress {
                sent: 1_000,
                total: 201_001,
            }),
        };
        let (back, s) = State::decode(state.encode().as_str()).unwrap();
        assert_eq!(back, state);
        // A cursor issued before snapshots reported progress still reads (its size is
        // counted afresh).
        let old = format!(
            "{CURSOR_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(br#"{"s":"10:20:12","snap":["rows",null]}"#)
        );
        let (back, _) = State::decode(&old).unwrap();
        assert_eq!(back.size, None);
        assert_eq!(back.snap, Some((Phase::Rows, None)));
        assert_eq!(s, snap("10:20:12"));
        for bad in ["", "1.", "1.!!", "2.e30", "1.eyJzIjoieCJ9"] {
            assert!(State::decode(bad).is_err(), "{bad}");
        }
    }
}
