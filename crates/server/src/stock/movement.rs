//! A recorded movement as shown (with its per-row effects), built from a decided movement.

use chrono::{DateTime, Utc};
use logiflow_core::{Decision, Flag, KindName, Movement, Origin, OriginName, Outcome, OutcomeName};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest note on a movement.
pub const NOTE_LEN_MAX: usize = 1000;

/// One row's part of an applied movement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EffectView {
    pub product_id: Uuid,
    pub location_id: Uuid,
    pub lot_id: Option<Uuid>,
    /// The change made to the row's `on_hand` (for a count, the adjustment).
    pub delta: i64,
    /// A later count had already seen this movement on the row (delta 0).
    pub absorbed: bool,
}

/// A recorded movement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct MovementView {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    #[schema(schema_with = kind_schema)]
    pub kind: KindName,
    /// `online` (an API intent) or `journal` (a device's recorded fact).
    #[sqlx(try_from = "String")]
    #[schema(schema_with = origin_schema)]
    pub origin: OriginName,
    pub product_id: Uuid,
    pub lot_id: Option<Uuid>,
    /// ship, transfer: the bin stock left.
    pub from_location_id: Option<Uuid>,
    /// receive, transfer: the bin stock entered; adjust, count: the bin changed.
    pub to_location_id: Option<Uuid>,
    /// receive, ship, transfer: the quantity; adjust: the signed delta; count: the counted
    /// quantity.
    pub qty: i64,
    /// count: what the counter was shown (absent for a blind count).
    pub expected: Option<i64>,
    /// adjust: damage, loss, found or correction.
    pub reason: Option<String>,
    pub note: Option<String>,
    /// When it happened (the events' order is `(occurred_at, id)`).
    pub occurred_at: DateTime<Utc>,
    /// When the server received it.
    pub recorded_at: DateTime<Utc>,
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    pub device_seq: Option<i64>,
    #[sqlx(try_from = "String")]
    #[schema(schema_with = outcome_schema)]
    pub outcome: OutcomeName,
    /// The rejection `{code, message}` or the hold `{waiting_on, needed, at_time}`.
    pub outcome_detail: Option<serde_json::Value>,
    /// The order line it fulfils: `purchase_line` (a receipt) or `sales_line` (a pick).
    pub reference_type: Option<String>,
    pub reference_id: Option<Uuid>,
    /// What a person should review (negative row, count variance, …).
    #[sqlx(json)]
    #[schema(value_type = Vec<Object>)]
    pub flags: Vec<Flag>,
    /// Each row's part, in lock order.
    #[sqlx(json)]
    pub effects: Vec<EffectView>,
}

impl MovementView {
    /// The view of a decided movement.
    pub fn new(
        m: &Movement,
        origin: Origin,
        decision: &Decision,
        note: Option<String>,
        recorded_at: DateTime<Utc>,
    ) -> Self {
        let k = crate::store::movements::kind_columns(&m.kind);
        let effects: Vec<EffectView> = match &decision.outcome {
            Outcome::Applied { effects } => effects
                .iter()
                .map(|e| EffectView {
                    product_id: e.key.product.as_uuid(),
                    location_id: e.key.location.as_uuid(),
                    lot_id: e.key.lot.map(|l| l.as_uuid()),
                    delta: e.delta,
                    absorbed: e.absorbed,
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            id: m.id.as_uuid(),
            kind: m.kind.name(),
            origin: origin.name(),
            product_id: m.product.as_uuid(),
            lot_id: m.lot.map(|l| l.as_uuid()),
            from_location_id: k.from,
            to_location_id: k.to,
            qty: k.qty,
            expected: k.expected,
            reason: k.reason.map(str::to_owned),
            note,
            occurred_at: m.occurred_at,
            recorded_at,
            user_id: m.user.as_uuid(),
            device_id: m.device.map(|d| d.device.as_uuid()),
            device_seq: m.device.map(|d| i64::try_from(d.seq).unwrap_or(i64::MAX)),
            reference_type: m.reference.map(|r| {
                match r {
                    logiflow_core::LineRef::PurchaseLine(_) => "purchase_line",
                    logiflow_core::LineRef::SalesLine(_) => "sales_line",
                }
                .to_owned()
            }),
            reference_id: m.reference.map(logiflow_core::LineRef::id),
            outcome: decision.outcome.name(),
            outcome_detail: outcome_detail(&decision.outcome),
            flags: decision.flags.clone(),
            effects,
        }
    }
}

/// What is stored and shown of an outcome beyond its name: a rejection's or a hold's
/// reasons, a void's reason.
pub fn outcome_detail(outcome: &Outcome) -> Option<serde_json::Value> {
    match outcome {
        Outcome::Rejected(r) => serde_json::to_value(r).ok(),
        Outcome::Held(h) => serde_json::to_value(h).ok(),
        Outcome::Voided { reason } => Some(serde_json::json!({ "reason": reason })),
        _ => None,
    }
}

/// A string schema whose values are `names`: the OpenAPI side of a `core::names` enum.
fn names_schema(
    description: &str,
    names: impl Iterator<Item = &'static str>,
) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(description))
        .enum_values(Some(names))
        .build()
}

fn kind_schema() -> utoipa::openapi::Object {
    names_schema(
        "What the movement does.",
        KindName::ALL.iter().map(|n| n.as_str()),
    )
}

fn origin_schema() -> utoipa::openapi::Object {
    names_schema(
        "`online` (an API intent) or `journal` (a device's recorded fact).",
        OriginName::ALL.iter().map(|n| n.as_str()),
    )
}

fn outcome_schema() -> utoipa::openapi::Object {
    names_schema(
        "What became of the movement.",
        OutcomeName::ALL.iter().map(|n| n.as_str()),
    )
}
