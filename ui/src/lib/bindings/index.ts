// Generated from src-tauri/src/dto.rs by ts-rs. Do not edit: run
// `UPDATE_BINDINGS=1 cargo test -p logiflow-desktop bindings` instead.

export type CommandError = { 
/**
 * Stable machine code, e.g. `unknown_product`.
 */
code: string, 
/**
 * What went wrong, for people.
 */
message: string, };

export type ReplicaLocation = { 
/**
 * The SQLite file's path.
 */
path: string, };

export type DeviceView = { 
/**
 * This device's id.
 */
device: string, 
/**
 * The tenant it belongs to.
 */
tenant: string, 
/**
 * The person recording on it.
 */
user: string, 
/**
 * The server it syncs with.
 */
server_url: string, };

export type StatusView = { 
/**
 * The device, once set up.
 */
device: DeviceView | null, 
/**
 * The database's schema version.
 */
schema_version: number, 
/**
 * Journal entries not pushed yet.
 */
pending: number, 
/**
 * The last `device_seq` used.
 */
last_seq: number, 
/**
 * Held, rejected or flagged entries.
 */
conflicts: number, 
/**
 * The last pull, RFC 3339.
 */
last_pull_at: string | null, 
/**
 * The last push response applied, RFC 3339.
 */
last_push_at: string | null, 
/**
 * The replica's position in the server's change feed.
 */
cursor: string | null, 
/**
 * Server clock − device clock, as last measured.
 */
clock_offset_ms: number, };

export type SearchBy = { "by": "sku_prefix", "value": string } | { "by": "name", "value": string } | { "by": "barcode", "value": string } | { "by": "any", "value": string };

export type StockQuery = { 
/**
 * Products to show; all when none.
 */
search: SearchBy | null, 
/**
 * Only this bin code.
 */
bin: string | null, 
/**
 * Only this warehouse code.
 */
warehouse: string | null, 
/**
 * At most this many lines (the replica caps it).
 */
limit: number | null, };

export type StockLine = { 
/**
 * The product's id.
 */
product: string, 
/**
 * Its SKU.
 */
sku: string, 
/**
 * Its name.
 */
name: string, 
/**
 * The bin's id.
 */
location: string, 
/**
 * The bin's code.
 */
location_code: string, 
/**
 * The bin's warehouse code.
 */
warehouse_code: string, 
/**
 * The lot's code.
 */
lot_code: string | null, 
/**
 * Projected units on hand.
 */
on_hand: number, 
/**
 * Units allocated to sales orders.
 */
allocated: number, 
/**
 * `on_hand − allocated`.
 */
available: number, 
/**
 * The part of `on_hand` from this device's unsettled journal.
 */
pending: number, };

export type ItemRef = { "by": "sku", "value": string } | { "by": "barcode", "value": string } | { "by": "scan", "value": string };

export type Reason = "damage" | "loss" | "found" | "correction";

export type Op = { "kind": "receive", 
/**
 * Bin code.
 */
to: string, 
/**
 * Units.
 */
qty: number, } | { "kind": "ship", 
/**
 * Bin code.
 */
from: string, 
/**
 * Units.
 */
qty: number, } | { "kind": "transfer", 
/**
 * Source bin code.
 */
from: string, 
/**
 * Destination bin code.
 */
to: string, 
/**
 * Units.
 */
qty: number, } | { "kind": "adjust", 
/**
 * Bin code.
 */
at: string, 
/**
 * Signed units.
 */
delta: number, 
/**
 * Why.
 */
reason: Reason, };

export type Action = { 
/**
 * The product.
 */
item: ItemRef, 
/**
 * The lot code, for lot-tracked products.
 */
lot: string | null, 
/**
 * The warehouse code, when a bin code exists in several.
 */
warehouse: string | null, 
/**
 * What happened.
 */
op: Op, };

export type Warning = { 
/**
 * Stable machine code.
 */
code: string, 
/**
 * For people.
 */
message: string, };

export type Recorded = { 
/**
 * Its `device_seq`.
 */
seq: number, 
/**
 * The movement's id.
 */
movement_id: string, 
/**
 * When it happened, RFC 3339.
 */
occurred_at: string, 
/**
 * What the projection expects the server to do: `applied`, `held`, …
 */
projected: string, 
/**
 * Recorded anyway, but worth a look.
 */
warnings: Array<Warning>, };
