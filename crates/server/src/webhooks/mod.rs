//! Webhooks: each tenant's endpoints, and the delivery of its outbox events to them,
//! signed, retried and dead-lettered (issue #17).
//!
//! # From the outbox to a receiver
//!
//! Every state change writes an `outbox_event` (topic and JSON payload) in its own
//! transaction, while the tenant has an active endpoint
//! (`store::webhooks::any_active_endpoint!`): only a delivery ever reads an event, and a
//! movement would otherwise write one for nothing. The worker ([`worker`]) runs in the server process (`serve`, unless
//! `webhook_worker_enabled` is off) or alone (`logiflow-server worker`), any number of
//! them on one database. Each tick, for each tenant:
//!
//! 1. **Fan-out**: the events not fanned out yet (`delivered_at is null`), claimed with
//!    `for update skip locked`, get one `webhook_delivery` per active endpoint whose
//!    event types match (unique per event and endpoint), and are marked fanned out; an
//!    event no endpoint takes is deleted, since only a delivery ever reads an event.
//! 2. **Delivery**: due pending deliveries are claimed with `for update skip locked` and
//!    stay locked while their HTTP request runs, so two workers never attempt one
//!    delivery at the same time; a worker that dies mid-request releases the lock with
//!    its connection and the delivery is attempted again: **at least once**, each
//!    attempt with the same `webhook-id` (the event's id). Every attempt is logged
//!    (`webhook_attempt`: time, attempt, status, latency, first KB of the answer).
//! 3. **Retries**: a failure is rescheduled by `logiflow_core::webhooks::next_attempt`
//!    (exponential backoff with full jitter for 24 hours, `Retry-After` honoured), then
//!    the delivery is dead-lettered (`state = 'dead'`) until replayed through the API.
//!    An endpoint whose attempts have all failed for five days is then disabled,
//!    audited as `system` (`webhook_endpoint.disable`).
//! 4. **Pruning**: finished deliveries and fanned-out events older than
//!    `webhook_retention_days` are deleted, so the outbox stays bounded.
//!
//! A tick takes at most one fan-out batch and a few delivery batches per tenant, so one
//! busy tenant cannot starve the others; a tick that leaves work behind reports a
//! backlog and the next one starts at once instead of after the interval, so a backlog
//! drains at the worker's pace (measured by `cargo xtask bench webhooks`).
//!
//! # Every tenant, under row-level security
//!
//! The worker connects as `logiflow_app`, like the request pool, and reaches tenant
//! tables only through a [`crate::db::TenantTx`] per tenant: it reads the tenant list
//! (a platform table) and runs each step in that tenant's transaction. No role that
//! bypasses RLS and no policy exception exists for it, so a bug in the worker cannot
//! mix two tenants' events and endpoints. The cost is a few statements per tenant per
//! tick, even for tenants without endpoints (their events are only deleted);
//! a table of tenants with pending work would remove it when tenants number thousands.
//!
//! # The request
//!
//! `POST <url>` with `content-type: application/json`, the body
//! `{"type": <topic>, "timestamp": <the event's time>, "data": <payload>}` (for a
//! Slack-compatible endpoint, a chat message `{"text"}`: [`slack`]), and the
//! Standard Webhooks headers ([`signing`]). Redirects are not followed; the timeout is
//! `webhook_timeout_ms`; the answer's first [`RESPONSE_LOG_BYTES`] are logged. Which
//! addresses may be called: [`address`].

pub mod address;
pub mod events;
pub mod signing;
pub mod slack;
pub mod worker;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Bytes of a receiver's answer kept in the delivery log.
pub const RESPONSE_LOG_BYTES: usize = 1024;

/// The event types an endpoint may subscribe to (the outbox's topics): movements, the
/// alerts (`crate::alerts::Kind`, checked by a test), the orders' changes, and imports.
pub const EVENT_TYPES: &[&str] = &[
    "movement.recorded",
    "movement.decided",
    "stock.low",
    "lot.expiring",
    "conflict.held",
    "count.variance",
    "device.silent",
    "webhook.disabled",
    "purchase_order.created",
    "purchase_order.updated",
    "purchase_order.ordered",
    "purchase_order.cancelled",
    "purchase_order.closed",
    "sales_order.created",
    "sales_order.updated",
    "sales_order.confirmed",
    "sales_order.allocated",
    "sales_order.cancelled",
    "import.completed",
];

/// What an endpoint receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// The event as JSON: `{"type", "timestamp", "data"}`.
    #[default]
    Standard,
    /// The event as a chat message, `{"text"}`, for a Slack-compatible incoming webhook
    /// ([`slack`]).
    Slack,
}

impl EndpointKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Slack => "slack",
        }
    }

    /// The kind stored as `s` (the table's check allows no other).
    pub fn parse(s: &str) -> Self {
        match s {
            "slack" => Self::Slack,
            _ => Self::Standard,
        }
    }

    /// The body POSTed for an event of `topic` with `data`, made at `timestamp`.
    pub fn body(self, topic: &str, timestamp: DateTime<Utc>, data: &serde_json::Value) -> String {
        match self {
            Self::Standard => serde_json::json!({
                "type": topic,
                "timestamp": timestamp,
                "data": data,
            }),
            Self::Slack => slack::body(topic, data),
        }
        .to_string()
    }
}

/// A webhook endpoint (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    pub id: Uuid,
    /// Where events are POSTed.
    pub url: String,
    /// `standard` (the event as JSON) or `slack` (a chat message).
    pub kind: EndpointKind,
    pub description: String,
    /// The event types sent; absent (null) for every type.
    pub event_types: Option<Vec<String>>,
    /// An inactive endpoint gets no new deliveries; its pending ones wait.
    pub active: bool,
    /// When the server disabled it for failing for days (alerted as `webhook.disabled`);
    /// absent while active or when a person deactivated it.
    pub disabled_at: Option<DateTime<Utc>>,
    /// After a rotation, until when the previous secret signs too.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// The retry schedule is exhausted: in the dead-letter queue until replayed.
    Dead,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    /// Parses [`DeliveryState::as_str`] (the column's check admits nothing else).
    pub fn parse(s: &str) -> Self {
        match s {
            "delivered" => Self::Delivered,
            "dead" => Self::Dead,
            _ => Self::Pending,
        }
    }
}

/// One attempt of a delivery, in an endpoint's delivery log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    pub id: Uuid,
    /// The delivery (replay it with `POST /v1/webhook-deliveries/{id}/replay`).
    pub delivery_id: Uuid,
    /// The event, sent as `webhook-id`.
    pub event_id: Uuid,
    pub event_type: String,
    /// 1 for the first attempt (a replay starts again at 1).
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The HTTP status, absent when there was no answer.
    pub status: Option<i32>,
    /// Why there was no answer (timeout, connection error, refused address).
    pub error: Option<String>,
    pub latency_ms: i32,
    /// The first kilobyte of the answer's body.
    pub response_body: String,
    /// The delivery's state now.
    pub delivery_state: DeliveryState,
}

/// Whether an endpoint subscribed to `event_types` receives `topic`.
pub fn subscribed(event_types: Option<&[String]>, topic: &str) -> bool {
    event_types.is_none_or(|types| types.iter().any(|t| t == topic))
}
