//! The events' payloads, documented in the OpenAPI document's `webhooks` section: one
//! entry per event type of [`super::EVENT_TYPES`], a POST whose body is the envelope
//! `{"type", "timestamp", "data"}` with `data` of the type's schema below.
//!
//! The alerts' payloads are built in SQL (`store::alerts`, `ledger::write`), the others
//! by the code that writes the event; these types are their contract. The API tests
//! check every event they produce against this document (`tests/api/events.rs`): a
//! field the SQL adds and the schema lacks, or a type that differs, fails there.
//!
//! **Versioning**: every schema is version 1 (`x-version`). Within a version fields are
//! only added, never renamed, retyped or removed, so a receiver ignoring unknown fields
//! keeps working; a breaking change would be a new event type.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::{OpenApi, RefOr, Schema};
use uuid::Uuid;

use crate::bulk::import::ImportJob;
use crate::orders::purchase::PurchaseOrder;
use crate::orders::sales::SalesOrder;
use crate::stock::movement::MovementView;
use crate::stock::row::LowStock;

/// The version of every event schema.
pub const VERSION: u32 = 1;

/// `stock.low`: a product's available stock in a warehouse fell below its reorder point
/// (a line of `GET /v1/stock/low`, with the alert's id).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StockLowEvent {
    pub alert_id: Uuid,
    #[serde(flatten)]
    pub line: LowStock,
}

/// `lot.expiring`: a lot with stock in a warehouse expires within the tenant's
/// `alert_lot_expiring_days` (or has expired).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LotExpiringEvent {
    pub alert_id: Uuid,
    pub warehouse_id: Uuid,
    pub warehouse_code: String,
    pub lot_id: Uuid,
    pub lot_code: String,
    pub product_id: Uuid,
    pub sku: String,
    pub product_name: String,
    pub expires_on: NaiveDate,
    /// Days from today in the warehouse's time zone; negative once expired.
    pub days_left: i64,
    pub on_hand: i64,
}

/// `conflict.held`: a journal movement held for longer than `alert_held_hours`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConflictHeldEvent {
    pub alert_id: Uuid,
    pub movement_id: Uuid,
    /// receive, ship, transfer, adjust or count.
    pub kind: String,
    pub product_id: Uuid,
    pub sku: String,
    pub product_name: String,
    pub qty: i64,
    pub device_id: Option<Uuid>,
    pub user_id: Uuid,
    pub warehouse_id: Uuid,
    /// The hold: `{waiting_on, needed, at_time}` or the review asked for.
    #[schema(value_type = Object)]
    pub held: Value,
    pub recorded_at: DateTime<Utc>,
    pub hours_waiting: i64,
}

/// `count.variance`: a count applied whose counted quantity differed from what the
/// counter was shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CountVarianceEvent {
    pub alert_id: Uuid,
    pub movement_id: Uuid,
    pub warehouse_id: Uuid,
    pub location_id: Uuid,
    pub location_path: String,
    pub product_id: Uuid,
    pub sku: String,
    pub product_name: String,
    /// Absent for a product without lots.
    pub lot_id: Option<Uuid>,
    pub counted: i64,
    /// What the device showed the counter.
    pub expected: i64,
    /// What the server held at the count's time.
    pub server_at_time: i64,
    pub device_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
}

/// `device.silent`: a device that has neither pushed nor pulled for
/// `alert_device_silent_days`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceSilentEvent {
    pub alert_id: Uuid,
    pub device_id: Uuid,
    pub name: String,
    pub platform: String,
    pub user_id: Uuid,
    pub warehouse_ids: Vec<Uuid>,
    /// Absent when it never synced.
    pub last_sync_at: Option<DateTime<Utc>>,
    pub days_silent: i64,
}

/// `webhook.disabled`: the server disabled an endpoint whose attempts all failed for
/// five days.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookDisabledEvent {
    pub alert_id: Uuid,
    pub endpoint_id: Uuid,
    pub url: String,
    pub description: String,
    pub disabled_at: DateTime<Utc>,
}

/// `movement.decided`: what became of a device's journal movement (or of a held one
/// decided again).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MovementDecidedEvent {
    pub movement_id: Uuid,
    pub device_id: Option<Uuid>,
    pub device_seq: Option<i64>,
    /// `{"outcome": "applied" | "held" | "rejected" | …, …}`, as the push answers it.
    #[schema(value_type = Object)]
    pub outcome: Value,
    /// What a person should review (negative row, count variance, …).
    #[schema(value_type = Vec<Object>)]
    pub flags: Vec<Value>,
}

/// `purchase_order.*`: the order as it is after the change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurchaseOrderEvent {
    pub purchase_order: PurchaseOrder,
}

/// `sales_order.*`: the order as it is after the change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SalesOrderEvent {
    pub sales_order: SalesOrder,
}

/// `import.completed`: an import's rows were written (its commit).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportCompletedEvent {
    pub import_id: Uuid,
    /// What was imported (`products`).
    pub kind: String,
    /// `csv` or `xlsx`.
    pub format: String,
    pub file_name: String,
    /// Rows of the file.
    pub rows: i32,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub committed_at: Option<DateTime<Utc>>,
}

impl From<&ImportJob> for ImportCompletedEvent {
    fn from(job: &ImportJob) -> Self {
        Self {
            import_id: job.id,
            kind: job.kind.clone(),
            format: job.format.clone(),
            file_name: job.file_name.clone(),
            rows: job.rows_total,
            created: job.to_create,
            updated: job.to_update,
            unchanged: job.unchanged,
            committed_at: job.committed_at,
        }
    }
}

/// The schema name of `data` for an event type; `None` for an unknown type.
pub fn schema_of(topic: &str) -> Option<&'static str> {
    Some(match topic {
        "movement.recorded" => "MovementView",
        "movement.decided" => "MovementDecidedEvent",
        "stock.low" => "StockLowEvent",
        "lot.expiring" => "LotExpiringEvent",
        "conflict.held" => "ConflictHeldEvent",
        "count.variance" => "CountVarianceEvent",
        "device.silent" => "DeviceSilentEvent",
        "webhook.disabled" => "WebhookDisabledEvent",
        "import.completed" => "ImportCompletedEvent",
        t if t.starts_with("purchase_order.") => "PurchaseOrderEvent",
        t if t.starts_with("sales_order.") => "SalesOrderEvent",
        _ => return None,
    })
}

/// Adds the payload schemas to the components and the `webhooks` section (OpenAPI 3.1)
/// to the document: one POST per event type.
pub fn document(doc: &mut OpenApi) {
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    fn add<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((T::name().into_owned(), T::schema()));
        T::schemas(out);
    }
    add::<StockLowEvent>(&mut schemas);
    add::<LotExpiringEvent>(&mut schemas);
    add::<ConflictHeldEvent>(&mut schemas);
    add::<CountVarianceEvent>(&mut schemas);
    add::<DeviceSilentEvent>(&mut schemas);
    add::<WebhookDisabledEvent>(&mut schemas);
    add::<MovementDecidedEvent>(&mut schemas);
    add::<PurchaseOrderEvent>(&mut schemas);
    add::<SalesOrderEvent>(&mut schemas);
    add::<ImportCompletedEvent>(&mut schemas);
    add::<MovementView>(&mut schemas);
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }

    let mut webhooks = serde_json::Map::new();
    for topic in super::EVENT_TYPES {
        let Some(schema) = schema_of(topic) else {
            continue;
        };
        webhooks.insert(
            (*topic).to_owned(),
            json!({"post": {
                "summary": topic,
                "description": format!(
                    "`{topic}`, version {VERSION}. Signed per Standard Webhooks \
                     (`webhook-id`, `webhook-timestamp`, `webhook-signature`); delivered at \
                     least once: deduplicate on `webhook-id`. A Slack-compatible endpoint \
                     receives `{{\"text\"}}` instead."
                ),
                "operationId": format!("webhook_{}", topic.replace('.', "_")),
                "tags": ["webhooks"],
                "x-version": VERSION,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["type", "timestamp", "data"],
                    "properties": {
                        "type": {"type": "string", "const": topic},
                        "timestamp": {"type": "string", "format": "date-time",
                                      "description": "when the event was written"},
                        "data": {"$ref": format!("#/components/schemas/{schema}")},
                    },
                }}}},
                "responses": {"2XX": {"description": "delivered; any other answer is retried"}},
            }}),
        );
    }
    let extensions = doc.extensions.get_or_insert_with(Default::default);
    extensions.insert("webhooks".to_owned(), Value::Object(webhooks));
}
