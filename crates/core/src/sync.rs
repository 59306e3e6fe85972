//! The sync wire contract between a device's replica and the server (DESIGN §5.2, §5.5).
//!
//! Pure serde types shared by both sides, so the JSON of `POST /v1/sync/push` and
//! `GET /v1/sync/pull` is defined once. Nothing here does I/O; the server and the replica
//! only move these values over HTTP and into their own storage.
//!
//! # Contract
//!
//! * **Push**: a device sends its journal in `device_seq` order, at most
//!   [`PUSH_BATCH_MAX`] movements per request. Each movement carries its
//!   [`DeviceStamp`](crate::DeviceStamp) and the base cursor the replica had when it was
//!   recorded. The server answers one [`MovementResult`] per movement, in the same order;
//!   a re-sent movement gets its stored result again (idempotent by id and by
//!   `(device, seq)`). A gap in `device_seq` refuses the whole request (problem code
//!   `sequence_gap`), and [`PushResponse::next_seq`] tells the device where to resume.
//! * **Pull**: the device asks for the changes after its [`Cursor`] (none for a first
//!   snapshot) and gets a [`PullPage`] of at most [`PULL_PAGE_MAX`] items, repeating while
//!   [`PullPage::has_more`]. Cursors are opaque to the device: it stores and sends back
//!   the string, never parses it.
//! * **Consistency of a page**: a page is cut at server transaction boundaries, so the
//!   rows, ledger effects and outcomes that one transaction committed arrive together. In
//!   particular, a page that reports a movement's outcome also carries the row states
//!   and effects that outcome produced: the replica relies on this to stop projecting that
//!   movement itself (otherwise it would count it twice or not at all). The row states
//!   of a page are the rows *as of the page's cursor*: they include exactly the
//!   transactions delivered so far, never a later one whose outcome the device has not
//!   been told yet.
//! * **Snapshot**: a first pull (no cursor) starts a snapshot of the device's scope:
//!   pages of warehouses, locations, products, lots, open purchase orders, then every
//!   stock row of the scope,
//!   all rows as of the snapshot's start. Its last page's cursor continues with the
//!   changes committed since that start (`has_more` stays true until they are pulled).
//!   A snapshot carries no ledger effects and no outcomes: a replica starts one only
//!   with nothing pushed and unsettled.
//! * **Changes** are cut at transaction boundaries; a catalog-only transaction larger
//!   than a page (an import) is split, which is harmless because catalog records are
//!   whole replacements. Catalog records carry their state when pulled, which may be
//!   newer than the page's cut; they are upserts, so a later page only repeats them.

use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    Barcode, DeviceId, Flag, LocationCode, LocationId, LotCode, LotId, Movement, MovementId,
    OrderKey, Outcome, ProductId, Sku, StockKey, StockRow, WarehouseId,
};

/// The most movements one push request may carry. A week of offline work (thousands of
/// movements) syncs in a few requests, while one request stays small enough (about
/// 0.5 MB of JSON) to retry cheaply on a flaky connection.
pub const PUSH_BATCH_MAX: usize = 1_000;

/// The most items (catalog records, rows, effects and outcomes together, see
/// [`PullPage::item_count`]) one pull page may carry.
pub const PULL_PAGE_MAX: usize = 10_000;

/// The longest reason a manager may give for forcing or voiding a held movement, in
/// characters (after trimming): the server refuses longer ones, the replica and the app
/// check it before sending.
pub const RESOLVE_REASON_LEN_MAX: usize = 500;

/// A position in the server's change feed, opaque to the device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a cursor string received from the server or read from storage.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The cursor as text, to store or send back unchanged.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One journal entry as pushed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushedMovement {
    /// The movement, with its [`DeviceStamp`](crate::DeviceStamp) set.
    pub movement: Movement,
    /// The replica's cursor when the movement was recorded (none before the first pull):
    /// what the device had seen, useful to explain a flagged count.
    pub base_cursor: Option<Cursor>,
}

/// `POST /v1/sync/push`: an ordered batch of one device's journal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    /// The pushing device; every movement's stamp must name it.
    pub device: DeviceId,
    /// At most [`PUSH_BATCH_MAX`] movements, in strictly increasing `device_seq` order
    /// without gaps.
    pub movements: Vec<PushedMovement>,
    /// The lots the device created while receiving offline (a lot code it did not know
    /// yet, with the expiry date typed at receipt) that the batch's movements name, by
    /// the id the device gave them. The server creates each one it does not hold, or
    /// maps it to its lot of the same product and code (`crate::lots::reconcile`).
    /// At most one per movement; absent from older devices and when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lots: Vec<LotRecord>,
}

/// What the server decided for one pushed movement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MovementResult {
    /// The movement.
    pub movement: MovementId,
    /// Its `device_seq`, so the device can match results without a lookup by id.
    pub seq: u64,
    /// Applied (with its effects), absorbed, superseded, held (with what it waits on) or
    /// rejected (with a stable code and a message for people).
    pub outcome: Outcome,
    /// What a person should review (negative row, count variance, …), even when applied.
    pub flags: Vec<Flag>,
    /// The server's ledger position of the outcome once it is final (applied, absorbed,
    /// superseded); none while held and for rejections.
    pub position: Option<u64>,
}

/// The answer to a [`PushRequest`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PushResponse {
    /// One result per pushed movement, in the order pushed.
    pub results: Vec<MovementResult>,
    /// The next `device_seq` the server expects from this device.
    pub next_seq: u64,
    /// The server's clock when it answered, to measure the device's clock offset.
    pub server_time: DateTime<Utc>,
}

/// `GET /v1/sync/pull` parameters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PullRequest {
    /// Changes after this position; none for a first snapshot of the device's scope.
    pub cursor: Option<Cursor>,
    /// The most items wanted, at most [`PULL_PAGE_MAX`].
    pub limit: u32,
}

/// A warehouse in the device's scope.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WarehouseRecord {
    /// Its id.
    pub id: WarehouseId,
    /// Its short code, as people type it.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its IANA time zone (for dates such as lot expiry).
    pub time_zone: String,
    /// Not deactivated: a deactivated warehouse of the scope is still pulled (its stock
    /// is still there) but not watched for low stock. Absent from older servers' pages:
    /// active.
    #[serde(default = "active")]
    pub active: bool,
}

fn active() -> bool {
    true
}

/// A location (zone, aisle, rack or bin).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LocationRecord {
    /// Its id.
    pub id: LocationId,
    /// Its warehouse.
    pub warehouse: WarehouseId,
    /// Its code, unique in the warehouse.
    pub code: LocationCode,
    /// The location it belongs to, none for a top-level zone.
    pub parent: Option<LocationId>,
    /// Has no children, so it can hold stock.
    pub is_leaf: bool,
    /// Not deactivated.
    pub active: bool,
}

/// A product.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProductRecord {
    /// Its id.
    pub id: ProductId,
    /// Its SKU, unique per tenant.
    pub sku: Sku,
    /// Its name.
    pub name: String,
    /// Every barcode that identifies it (the full set: the record replaces the old one).
    pub barcodes: Vec<Barcode>,
    /// Stock is kept per lot.
    pub lot_tracked: bool,
    /// Not deactivated.
    pub active: bool,
    /// Below this available quantity in a warehouse the product is low on stock (0: no
    /// reorder point). Absent from older servers' pages: 0.
    #[serde(default)]
    pub reorder_point: i64,
}

/// A lot of a lot-tracked product.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LotRecord {
    /// Its id.
    pub id: LotId,
    /// Its product.
    pub product: ProductId,
    /// Its code as printed by the supplier.
    pub code: LotCode,
    /// Its last day of use, if it expires.
    pub expires_on: Option<NaiveDate>,
}

/// A purchase order of a warehouse in the device's scope, so goods can be received
/// against it offline. Sent whole (its lines replace the old ones) when it is ordered,
/// changed, or received against, and once more when it is closed or cancelled; a draft
/// is never sent. `received` is the server's as of the pull: a replica shows what it
/// received since on top, the server decides the flags.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PurchaseOrderRecord {
    /// Its id.
    pub id: uuid::Uuid,
    /// Its number, as printed and scanned (`PO-000123`).
    pub number: String,
    /// The warehouse the goods are expected in.
    pub warehouse: WarehouseId,
    /// The supplier's name, for people.
    pub supplier: String,
    /// When the goods are expected.
    pub expected_on: Option<NaiveDate>,
    /// Where it stands (open: ordered, partially received, received).
    pub status: crate::orders::PurchaseStatus,
    /// Its lines.
    pub lines: Vec<PurchaseLineRecord>,
}

/// A line of a [`PurchaseOrderRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PurchaseLineRecord {
    /// Its id: a receipt names it (`LineRef::PurchaseLine`).
    pub id: uuid::Uuid,
    /// The product ordered.
    pub product: ProductId,
    /// Units ordered.
    pub qty: i64,
    /// Units the server has received against it.
    pub received: i64,
}

/// A confirmed sales order of a warehouse in the device's scope, so it can be picked
/// offline: its lines with what the server has picked and where it reserved stock (the
/// pick list). Sent whole when it is confirmed, changed or picked against, and once
/// more when it is cancelled; a draft is never sent. A replica shows what it picked
/// since on top; the server decides what a pick consumes and flags.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SalesOrderRecord {
    /// Its id.
    pub id: uuid::Uuid,
    /// Its number, as printed and scanned (`SO-000123`).
    pub number: String,
    /// The warehouse the goods leave from.
    pub warehouse: WarehouseId,
    /// The customer's name, for people.
    pub customer: String,
    /// When the customer wants the goods.
    pub requested_on: NaiveDate,
    /// Where it stands (confirmed ones: confirmed, partially allocated, allocated,
    /// partially picked, shipped; or cancelled).
    pub status: crate::orders::SalesStatus,
    /// Its lines.
    pub lines: Vec<SalesLineRecord>,
}

/// A line of a [`SalesOrderRecord`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SalesLineRecord {
    /// Its id: a pick names it (`LineRef::SalesLine`).
    pub id: uuid::Uuid,
    /// The product ordered.
    pub product: ProductId,
    /// Units ordered.
    pub qty: i64,
    /// Units the server has picked against it.
    pub picked: i64,
    /// Its reservations on stock rows, in the pick walk's order.
    pub allocations: Vec<crate::orders::Allocation>,
}

/// The current state of one stock row in scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowState {
    /// Which row.
    pub key: StockKey,
    /// Its state on the server as of this page.
    pub row: StockRow,
}

/// One row's share of an applied movement, as the server's ledger holds it.
///
/// The replica needs these to compute [`RowView::effects_after`](crate::RowView) for its
/// pending movements: a pending count at `t` must subtract the effects the server already
/// applied after `t` (another device's movement that occurred later but was pulled
/// first). Absorbed shares (no effect) are not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LedgerEffect {
    /// The movement that had the effect.
    pub movement: MovementId,
    /// The row.
    pub key: StockKey,
    /// The movement's position in the order of events.
    pub order: OrderKey,
    /// The change made to `on_hand` (for a count, its adjustment).
    pub delta: i64,
}

/// A page of changes after a cursor, for the device's scope.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PullPage {
    /// Where the next pull starts.
    pub cursor: Cursor,
    /// More changes are waiting: pull again with [`PullPage::cursor`].
    pub has_more: bool,
    /// The server's clock when it answered, to measure the device's clock offset.
    pub server_time: DateTime<Utc>,
    /// Warehouses added or changed.
    #[serde(default)]
    pub warehouses: Vec<WarehouseRecord>,
    /// Locations added or changed.
    #[serde(default)]
    pub locations: Vec<LocationRecord>,
    /// Products added or changed.
    #[serde(default)]
    pub products: Vec<ProductRecord>,
    /// Lots added or changed.
    #[serde(default)]
    pub lots: Vec<LotRecord>,
    /// Purchase orders ordered, changed or received against (see
    /// [`PurchaseOrderRecord`]).
    #[serde(default)]
    pub purchase_orders: Vec<PurchaseOrderRecord>,
    /// Sales orders confirmed, changed or picked against (see [`SalesOrderRecord`]).
    #[serde(default)]
    pub sales_orders: Vec<SalesOrderRecord>,
    /// Locations deleted (only a location that never held stock can be: nothing refers
    /// to it).
    #[serde(default)]
    pub deleted_locations: Vec<LocationId>,
    /// Stock rows whose state changed.
    #[serde(default)]
    pub rows: Vec<RowState>,
    /// Ledger effects committed after the cursor (see [`LedgerEffect`]).
    #[serde(default)]
    pub effects: Vec<LedgerEffect>,
    /// Outcomes of this device's own movements decided or changed after the cursor:
    /// every one, including those a push response already returned, and later changes
    /// (a held movement applied by a retry, forced or voided by a manager). The replica
    /// learns from them that the page's rows now include the movement.
    #[serde(default)]
    pub outcomes: Vec<MovementResult>,
    /// How far a snapshot is, on each of its pages (none on the pages of changes that
    /// follow it), for a new device's progress bar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotProgress>,
}

/// How far a snapshot is: records (warehouses, locations, products, lots, purchase
/// orders, stock rows) sent so far, of about how many. The total is counted when the snapshot starts; records
/// created while it runs may make `sent` pass it, so a page never reports a total below
/// `sent`, and the snapshot's last page reports `sent == total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotProgress {
    /// Records sent in this snapshot's pages so far, this one included.
    pub sent: u64,
    /// Records in the snapshot, as counted when it started.
    pub total: u64,
}

impl PullPage {
    /// The records a snapshot page carries, as [`SnapshotProgress`] counts them:
    /// warehouses, locations, products, lots, purchase orders and stock rows.
    pub fn snapshot_records(&self) -> u64 {
        (self.warehouses.len()
            + self.locations.len()
            + self.products.len()
            + self.lots.len()
            + self.purchase_orders.len()
            + self.sales_orders.len()
            + self.rows.len()) as u64
    }

    /// The number of items the page carries, bounded by [`PULL_PAGE_MAX`] (a product's
    /// barcodes count with the product, an order's lines — at most 500 — and their
    /// reservations with the order).
    pub fn item_count(&self) -> usize {
        self.warehouses.len()
            + self.locations.len()
            + self.products.len()
            + self.lots.len()
            + self.purchase_orders.len()
            + self.sales_orders.len()
            + self.deleted_locations.len()
            + self.rows.len()
            + self.effects.len()
            + self.outcomes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceStamp, MovementKind, PositiveQty, UserId};
    use uuid::Uuid;

    fn movement() -> Movement {
        Movement {
            id: MovementId::new_v7(1_800_000_000_000, [1; 10]),
            occurred_at: DateTime::from_timestamp_millis(1_800_000_000_000).unwrap(),
            product: ProductId::from_uuid(Uuid::from_u128(1)),
            lot: None,
            kind: MovementKind::Receive {
                to: LocationId::from_uuid(Uuid::from_u128(2)),
                qty: PositiveQty::new(5).unwrap(),
            },
            user: UserId::from_uuid(Uuid::from_u128(3)),
            device: Some(DeviceStamp {
                device: DeviceId::from_uuid(Uuid::from_u128(4)),
                seq: 1,
            }),
            reference: None,
        }
    }

    #[test]
    fn push_request_and_response_round_trip_through_json() {
        let m = movement();
        let req = PushRequest {
            device: m.device.unwrap().device,
            movements: vec![PushedMovement {
                movement: m,
                base_cursor: Some(Cursor::new("c1")),
            }],
            lots: vec![],
        };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["movements"][0]["base_cursor"], "c1");
        assert_eq!(json["movements"][0]["movement"]["kind"], "receive");
        // No lots: the body is what devices sent before lots could be declared.
        assert!(json.get("lots").is_none(), "{json}");
        assert_eq!(serde_json::from_value::<PushRequest>(json).unwrap(), req);

        let with_lot = PushRequest {
            lots: vec![LotRecord {
                id: LotId::from_uuid(Uuid::from_u128(9)),
                product: m.product,
                code: crate::LotCode::parse("L-2027-01").unwrap(),
                expires_on: NaiveDate::from_ymd_opt(2027, 6, 30),
            }],
            ..req
        };
        let json = serde_json::to_value(&with_lot).unwrap();
        assert_eq!(json["lots"][0]["code"], "L-2027-01");
        assert_eq!(json["lots"][0]["expires_on"], "2027-06-30");
        assert_eq!(
            serde_json::from_value::<PushRequest>(json).unwrap(),
            with_lot
        );

        let resp = PushResponse {
            results: vec![MovementResult {
                movement: m.id,
                seq: 1,
                outcome: Outcome::Absorbed,
                flags: vec![Flag::Forced],
                position: Some(42),
            }],
            next_seq: 2,
            server_time: m.occurred_at,
        };
        let json = serde_json::to_value(&resp).unwrap();
        assert_eq!(json["results"][0]["outcome"]["outcome"], "absorbed");
        assert_eq!(serde_json::from_value::<PushResponse>(json).unwrap(), resp);
    }

    #[test]
    fn a_minimal_pull_page_parses_with_empty_lists() {
        let page: PullPage = serde_json::from_str(
            r#"{"cursor":"abc","has_more":false,"server_time":"2027-01-15T08:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(page.cursor.as_str(), "abc");
        assert_eq!(page.item_count(), 0);
    }

    #[test]
    fn a_purchase_order_counts_as_one_item_and_its_status_reads_back() {
        use crate::orders::PurchaseStatus;
        let line = |n: u128| PurchaseLineRecord {
            id: Uuid::from_u128(n),
            product: ProductId::from_uuid(Uuid::from_u128(9)),
            qty: 5,
            received: 2,
        };
        let mut order = PurchaseOrderRecord {
            id: Uuid::from_u128(1),
            number: "PO-000001".into(),
            warehouse: WarehouseId::from_uuid(Uuid::from_u128(2)),
            supplier: "ACME".into(),
            expected_on: None,
            status: PurchaseStatus::PartiallyReceived,
            lines: vec![line(3), line(4)],
        };
        let mut page: PullPage = serde_json::from_str(
            r#"{"cursor":"abc","has_more":false,"server_time":"2027-01-15T08:00:00Z"}"#,
        )
        .unwrap();
        page.purchase_orders.push(order.clone());
        assert_eq!(page.item_count(), 1);
        assert_eq!(page.snapshot_records(), 1);
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(json["purchase_orders"][0]["status"], "partially_received");
        assert_eq!(serde_json::from_value::<PullPage>(json).unwrap(), page);
        assert_eq!(PurchaseStatus::parse("shipped"), None);
        use crate::orders::SalesStatus as S;
        for (status, open) in [
            (S::Draft, false),
            (S::Confirmed, true),
            (S::PartiallyAllocated, true),
            (S::Allocated, true),
            (S::PartiallyPicked, true),
            (S::Shipped, false),
            (S::Cancelled, false),
        ] {
            assert_eq!(status.expects_picks(), open, "{status:?}");
            assert_eq!(S::parse(status.as_str()), Some(status));
        }
        for (status, open) in [
            (PurchaseStatus::Ordered, true),
            (PurchaseStatus::PartiallyReceived, true),
            (PurchaseStatus::Received, true),
            (PurchaseStatus::Closed, false),
            (PurchaseStatus::Cancelled, false),
            (PurchaseStatus::Draft, false),
        ] {
            order.status = status;
            assert_eq!(order.status.expects_goods(), open, "{status:?}");
            assert_eq!(PurchaseStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn pull_page_refuses_invalid_codes() {
        let bad = r#"{"cursor":"c","has_more":false,"server_time":"2027-01-15T08:00:00Z",
            "products":[{"id":"00000000-0000-0000-0000-000000000001","sku":"a b","name":"x",
            "barcodes":[],"lot_tracked":false,"active":true}]}"#;
        assert!(serde_json::from_str::<PullPage>(bad).is_err());
    }
}
