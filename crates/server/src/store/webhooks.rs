//! `webhook_endpoint`, `webhook_delivery` and `webhook_attempt` rows, and the outbox
//! reads and deletes of the delivery worker (`crate::webhooks::worker`).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::db::TenantTx;
use crate::webhooks::{Attempt, DeliveryState, Endpoint, EndpointKind};

/// The SQL condition "the transaction's tenant (`$1`) has an active endpoint", the one
/// test of whether anyone listens: no event is written without one (`crate::ledger::write`,
/// `store::outbox`, `store::alerts`), and the worker deletes the events written before
/// the last endpoint went ([`drop_unsubscribed_events`]). A macro so that the statements
/// are `concat!`ed constants.
macro_rules! any_active_endpoint {
    () => {
        "exists (select 1 from webhook_endpoint where tenant_id = $1 and active)"
    };
}
pub(crate) use any_active_endpoint;

const ENDPOINT_COLUMNS: &str = "id, url, kind, description, event_types, active, disabled_at, \
    previous_secret_expires_at, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: Uuid,
    url: String,
    kind: String,
    description: String,
    event_types: Option<Vec<String>>,
    active: bool,
    disabled_at: Option<DateTime<Utc>>,
    previous_secret_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<EndpointRow> for Endpoint {
    fn from(r: EndpointRow) -> Self {
        Self {
            id: r.id,
            url: r.url,
            kind: EndpointKind::parse(&r.kind),
            description: r.description,
            event_types: r.event_types,
            active: r.active,
            disabled_at: r.disabled_at,
            previous_secret_expires_at: r.previous_secret_expires_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Endpoints after `after` (by id), at most `limit`.
pub async fn list_endpoints(
    tx: &mut TenantTx,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Endpoint>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoint
         where tenant_id = $1 and ($2::uuid is null or id > $2) order by id limit $3"
    ))
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().map(Endpoint::from).collect())
}

/// A validated endpoint, for an insert or an update.
#[derive(Debug)]
pub struct EndpointFields<'a> {
    pub url: &'a str,
    pub kind: EndpointKind,
    pub description: &'a str,
    pub event_types: Option<&'a [String]>,
    pub active: bool,
}

/// Inserts an endpoint with a fresh UUIDv7 and its signing secret.
pub async fn insert_endpoint(
    tx: &mut TenantTx,
    fields: EndpointFields<'_>,
    secret: &str,
) -> Result<Endpoint, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let row: EndpointRow = sqlx::query_as(&format!(
        "insert into webhook_endpoint (tenant_id, id, url, description, event_types, active, secret,
             kind)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {ENDPOINT_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(fields.url)
    .bind(fields.description)
    .bind(fields.event_types)
    .bind(fields.active)
    .bind(secret)
    .bind(fields.kind.as_str())
    .fetch_one(tx.conn())
    .await?;
    Ok(row.into())
}

/// One endpoint.
pub async fn get_endpoint(tx: &mut TenantTx, id: Uuid) -> Result<Option<Endpoint>, sqlx::Error> {
    Ok(
        super::row_by_id::<EndpointRow>(tx, "webhook_endpoint", ENDPOINT_COLUMNS, id, "")
            .await?
            .map(Endpoint::from),
    )
}

/// One endpoint, its row locked (`for update`) until the transaction ends: for a read
/// that decides a write.
pub async fn get_endpoint_for_update(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<Option<Endpoint>, sqlx::Error> {
    Ok(
        super::row_by_id::<EndpointRow>(tx, "webhook_endpoint", ENDPOINT_COLUMNS, id, "for update")
            .await?
            .map(Endpoint::from),
    )
}

/// Replaces an endpoint's fields; an endpoint active again loses its `disabled_at`.
pub async fn update_endpoint(
    tx: &mut TenantTx,
    id: Uuid,
    fields: EndpointFields<'_>,
) -> Result<Endpoint, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let row: EndpointRow = sqlx::query_as(&format!(
        "update webhook_endpoint set url = $3, description = $4, event_types = $5, active = $6,
             kind = $7, disabled_at = case when $6 then null else disabled_at end,
             updated_at = now()
         where tenant_id = $1 and id = $2 returning {ENDPOINT_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(fields.url)
    .bind(fields.description)
    .bind(fields.event_types)
    .bind(fields.active)
    .bind(fields.kind.as_str())
    .fetch_one(tx.conn())
    .await?;
    Ok(row.into())
}

/// Deletes an endpoint with its deliveries and their log.
pub async fn delete_endpoint(tx: &mut TenantTx, id: Uuid) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query("delete from webhook_endpoint where tenant_id = $1 and id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Makes `secret` the signing secret; the current one keeps signing until `grace_until`.
pub async fn rotate_secret(
    tx: &mut TenantTx,
    id: Uuid,
    secret: &str,
    grace_until: DateTime<Utc>,
) -> Result<Endpoint, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let row: EndpointRow = sqlx::query_as(&format!(
        "update webhook_endpoint set previous_secret = secret, previous_secret_expires_at = $4,
             secret = $3, updated_at = now()
         where tenant_id = $1 and id = $2 returning {ENDPOINT_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(secret)
    .bind(grace_until)
    .fetch_one(tx.conn())
    .await?;
    Ok(row.into())
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    id: Uuid,
    delivery_id: Uuid,
    event_id: Uuid,
    event_type: String,
    attempt: i32,
    at: DateTime<Utc>,
    status: Option<i32>,
    error: Option<String>,
    latency_ms: i32,
    response_body: String,
    delivery_state: String,
}

/// The delivery log of an endpoint, newest first, before `before` (by id).
pub async fn list_attempts(
    tx: &mut TenantTx,
    endpoint_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Attempt>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let rows: Vec<AttemptRow> = sqlx::query_as(
        "select a.id, a.delivery_id, d.event_id, o.topic as event_type, a.attempt, a.at,
                a.status, a.error, a.latency_ms, a.response_body, d.state as delivery_state
         from webhook_attempt a
         join webhook_delivery d on d.tenant_id = a.tenant_id and d.id = a.delivery_id
         join outbox_event o on o.tenant_id = d.tenant_id and o.id = d.event_id
         where a.tenant_id = $1 and a.endpoint_id = $2 and ($3::uuid is null or a.id < $3)
         order by a.id desc limit $4",
    )
    .bind(tenant_id)
    .bind(endpoint_id)
    .bind(before)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Attempt {
            id: r.id,
            delivery_id: r.delivery_id,
            event_id: r.event_id,
            event_type: r.event_type,
            attempt: r.attempt,
            at: r.at,
            status: r.status,
            error: r.error,
            latency_ms: r.latency_ms,
            response_body: r.response_body,
            delivery_state: DeliveryState::parse(&r.delivery_state),
        })
        .collect())
}

/// A delivery's state, locked.
pub async fn delivery_state_for_update(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<Option<(Uuid, DeliveryState)>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "select endpoint_id, state from webhook_delivery where tenant_id = $1 and id = $2 for update",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|(endpoint, state)| (endpoint, DeliveryState::parse(&state))))
}

/// Puts dead-lettered deliveries back in the queue, due now, with a new schedule:
/// `ids`, or every dead one of `endpoint_id` when `ids` is `None`. Returns the ids.
pub async fn replay(
    tx: &mut TenantTx,
    endpoint_id: Uuid,
    ids: Option<&[Uuid]>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "update webhook_delivery set state = 'pending', attempts = 0, next_attempt_at = now(),
             first_attempt_at = null, finished_at = null
         where tenant_id = $1 and endpoint_id = $2 and state = 'dead'
           and ($3::uuid[] is null or id = any($3))
         returning id",
    )
    .bind(tenant_id)
    .bind(endpoint_id)
    .bind(ids)
    .fetch_all(tx.conn())
    .await
}

// The worker's statements.

/// Outbox events not fanned out yet, oldest first, at most `limit`, locked: a worker
/// skips those another one is fanning out.
pub async fn pending_events(
    tx: &mut TenantTx,
    limit: i64,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select id, topic from outbox_event where tenant_id = $1 and delivered_at is null
         order by created_at, id limit $2 for update skip locked",
    )
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Deletes the oldest `limit` events not fanned out yet if the tenant has no active
/// endpoint: nothing will read them. One statement, so one snapshot: an event it sees was
/// written before any endpoint it does not see was created, and when it sees an active
/// endpoint it deletes nothing (returns 0; [`pending_events`] then takes the events).
/// Not locked first (a lock writes each row once more): a worker deleting the same rows
/// at the same moment waits for this one and then finds them gone. Returns how many it
/// deleted.
pub async fn drop_unsubscribed_events(tx: &mut TenantTx, limit: i64) -> Result<u64, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    Ok(sqlx::query(concat!(
        "delete from outbox_event where tenant_id = $1 and id in (
             select id from outbox_event where tenant_id = $1 and delivered_at is null
             order by created_at, id limit $2)
         and not ",
        any_active_endpoint!()
    ))
    .bind(tenant_id)
    .bind(limit)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// The active endpoints: (id, event types or `None` for all).
pub async fn active_endpoints(
    tx: &mut TenantTx,
) -> Result<Vec<(Uuid, Option<Vec<String>>)>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as("select id, event_types from webhook_endpoint where tenant_id = $1 and active")
        .bind(tenant_id)
        .fetch_all(tx.conn())
        .await
}

/// Creates a delivery per (event, endpoint), due at `now`, and marks the events fanned
/// out (`delivered_at`: the outbox's job is done once its deliveries exist). An event no
/// endpoint takes is deleted instead: nothing will ever read it (a delivery is what reads
/// an event), and a delete costs PostgreSQL less than the update, which moves the row
/// between the outbox's two partial indexes. On a tenant without endpoints that is every
/// event, one per movement (docs/benchmarks.md, issue #14 point 2).
pub async fn fan_out(
    tx: &mut TenantTx,
    events: &[Uuid],
    pairs: &[(Uuid, Uuid)],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    if !pairs.is_empty() {
        let ids: Vec<Uuid> = pairs.iter().map(|_| Uuid::now_v7()).collect();
        let event_ids: Vec<Uuid> = pairs.iter().map(|p| p.0).collect();
        let endpoint_ids: Vec<Uuid> = pairs.iter().map(|p| p.1).collect();
        sqlx::query(
            "insert into webhook_delivery (tenant_id, id, event_id, endpoint_id, next_attempt_at)
             select $1, i, e, p, $5 from unnest($2::uuid[], $3::uuid[], $4::uuid[]) as u(i, e, p)
             on conflict on constraint webhook_delivery_event_key do nothing",
        )
        .bind(tenant_id)
        .bind(&ids)
        .bind(&event_ids)
        .bind(&endpoint_ids)
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    let taken: HashSet<Uuid> = pairs.iter().map(|p| p.0).collect();
    let (taken, unread): (Vec<Uuid>, Vec<Uuid>) =
        events.iter().copied().partition(|e| taken.contains(e));
    if !taken.is_empty() {
        sqlx::query(
            "update outbox_event set delivered_at = $3 where tenant_id = $1 and id = any($2)",
        )
        .bind(tenant_id)
        .bind(&taken)
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    if !unread.is_empty() {
        sqlx::query("delete from outbox_event where tenant_id = $1 and id = any($2)")
            .bind(tenant_id)
            .bind(&unread)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// A delivery claimed for an attempt, with what the attempt needs.
#[derive(Debug, sqlx::FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub attempts: i32,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub url: String,
    /// The endpoint's kind (`EndpointKind::parse`).
    pub kind: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub topic: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

/// Due pending deliveries of active endpoints, at most `limit`, locked until the
/// transaction ends: `skip locked` makes concurrent workers take disjoint sets, so one
/// delivery is never attempted twice at the same time.
pub async fn claim_due(
    tx: &mut TenantTx,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_as(
        "select d.id, d.endpoint_id, d.event_id, d.attempts, d.first_attempt_at, e.url, e.kind,
                e.secret,
                e.previous_secret, e.previous_secret_expires_at, o.topic, o.payload, o.created_at
         from webhook_delivery d
         join webhook_endpoint e on e.tenant_id = d.tenant_id and e.id = d.endpoint_id
         join outbox_event o on o.tenant_id = d.tenant_id and o.id = d.event_id
         where d.tenant_id = $1 and d.state = 'pending' and d.next_attempt_at <= $2 and e.active
         order by d.next_attempt_at, d.id limit $3
         for update of d skip locked",
    )
    .bind(tenant_id)
    .bind(now)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// One attempt of a delivery, as logged.
#[derive(Debug)]
pub struct AttemptLog<'a> {
    pub delivery_id: Uuid,
    pub endpoint_id: Uuid,
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub status: Option<i32>,
    pub error: Option<&'a str>,
    pub latency_ms: i32,
    pub response_body: &'a str,
}

/// Logs an attempt and moves its delivery on: `Some(next)` to retry then, `None` with
/// `state` delivered or dead.
pub async fn record_attempt(
    tx: &mut TenantTx,
    log: &AttemptLog<'_>,
    state: DeliveryState,
    next_attempt_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query(
        "insert into webhook_attempt (tenant_id, id, delivery_id, endpoint_id, attempt, at,
             status, error, latency_ms, response_body)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(log.delivery_id)
    .bind(log.endpoint_id)
    .bind(log.attempt)
    .bind(log.at)
    .bind(log.status)
    .bind(log.error)
    .bind(log.latency_ms)
    .bind(log.response_body)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "update webhook_delivery set state = $3, attempts = $4,
             first_attempt_at = coalesce(first_attempt_at, $5),
             next_attempt_at = coalesce($6, next_attempt_at),
             finished_at = case when $3 = 'pending' then null else $5 end
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(log.delivery_id)
    .bind(state.as_str())
    .bind(log.attempt)
    .bind(log.at)
    .bind(next_attempt_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// When the endpoint's attempts began failing: its first attempt after its last 2xx
/// (`None` when it has none, i.e. its last attempt delivered).
pub async fn failing_since(
    tx: &mut TenantTx,
    endpoint_id: Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    sqlx::query_scalar(
        "select min(at) from webhook_attempt
         where tenant_id = $1 and endpoint_id = $2
           and at > coalesce((select max(at) from webhook_attempt
                              where tenant_id = $1 and endpoint_id = $2
                                and status between 200 and 299), '-infinity')",
    )
    .bind(tenant_id)
    .bind(endpoint_id)
    .fetch_one(tx.conn())
    .await
}

/// Deactivates an endpoint for failing, marked `disabled_at` = `now`.
pub async fn disable_endpoint(
    tx: &mut TenantTx,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Endpoint, sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let row: EndpointRow = sqlx::query_as(&format!(
        "update webhook_endpoint set active = false, disabled_at = $3, updated_at = now()
         where tenant_id = $1 and id = $2 returning {ENDPOINT_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(id)
    .bind(now)
    .fetch_one(tx.conn())
    .await?;
    Ok(row.into())
}

/// Deletes finished deliveries (with their log) and fanned-out outbox events older than
/// `cutoff`; an event still referenced by a delivery stays. Returns (deliveries, events).
pub async fn prune(tx: &mut TenantTx, cutoff: DateTime<Utc>) -> Result<(u64, u64), sqlx::Error> {
    let tenant_id = tx.tenant_id().as_uuid();
    let deliveries = sqlx::query(
        "delete from webhook_delivery
         where tenant_id = $1 and state <> 'pending' and finished_at < $2",
    )
    .bind(tenant_id)
    .bind(cutoff)
    .execute(tx.conn())
    .await?
    .rows_affected();
    let events = sqlx::query(
        "delete from outbox_event o
         where o.tenant_id = $1 and o.delivered_at < $2
           and not exists (select 1 from webhook_delivery d
                           where d.tenant_id = o.tenant_id and d.event_id = o.id)",
    )
    .bind(tenant_id)
    .bind(cutoff)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok((deliveries, events))
}
