//! The delivery worker: fan-out, delivery, retries and pruning (design in the parent
//! module). The clock and the jitter's randomness are injected ([`Worker::with_clock`],
//! [`Worker::with_jitter`]): the tests move time forward instead of sleeping through
//! the backoff.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use logiflow_core::TenantId;
use logiflow_core::webhooks::{self as schedule, AttemptEnd, Next};
use sqlx::PgPool;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::address::{self, AddressPolicy, GuardedResolver};
use super::{DeliveryState, EndpointKind, RESPONSE_LOG_BYTES, signing, subscribed};
use crate::config::Config;
use crate::db::TenantTx;
use crate::store::webhooks::{self as store, AttemptLog, Claimed};

/// Outbox events fanned out per tenant and transaction.
pub const FAN_OUT_BATCH_MAX: i64 = 500;
/// Deliveries claimed (and sent concurrently) per tenant and transaction.
pub const DELIVERY_BATCH_MAX: i64 = 32;
/// Delivery batches per tenant and tick, so one busy tenant cannot starve the others.
pub const BATCHES_PER_TICK_MAX: usize = 8;

/// The time source.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;
/// The jitter's random draw, uniform over `u32`.
pub type Jitter = Arc<dyn Fn() -> u32 + Send + Sync>;

/// The worker's settings, from [`Config`].
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub policy: AddressPolicy,
    pub timeout: Duration,
    pub retention: chrono::TimeDelta,
    /// Time between two runs of the scheduled alert check (`crate::alerts::check`);
    /// `None`: this worker does not run it.
    pub alert_interval: Option<chrono::TimeDelta>,
}

impl Settings {
    /// The settings of `config`.
    pub fn from_config(config: &Config) -> Self {
        Self {
            policy: config.webhook_address_policy(),
            timeout: Duration::from_millis(config.webhook_timeout_ms),
            retention: chrono::TimeDelta::days(i64::from(config.webhook_retention_days)),
            alert_interval: Some(chrono::TimeDelta::seconds(
                i64::try_from(config.alert_check_interval_secs).unwrap_or(i64::MAX / 1_000),
            )),
        }
    }
}

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Deliveries created.
    pub fanned_out: usize,
    /// Attempts made.
    pub attempts: usize,
    /// Attempts that delivered.
    pub delivered: usize,
    /// Deliveries dead-lettered.
    pub dead: usize,
    /// Endpoints disabled for failing too long.
    pub disabled: usize,
    /// Deliveries and outbox events pruned.
    pub pruned: u64,
    /// Alerts raised by the scheduled check, when this tick ran it.
    pub alerts_raised: i64,
    /// A tenant had more work than one tick takes (a full fan-out, or every delivery
    /// batch full): [`Worker::run`] ticks again at once instead of waiting.
    pub backlog: bool,
}

/// A delivery worker.
#[derive(Clone)]
pub struct Worker {
    pool: PgPool,
    client: reqwest::Client,
    settings: Settings,
    clock: Clock,
    jitter: Jitter,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// How one attempt ended.
#[derive(Debug)]
struct Outcome {
    end: AttemptEnd,
    retry_after: Option<i64>,
    body: String,
    error: Option<String>,
    latency_ms: i32,
}

impl Worker {
    /// A worker on `pool` (connected as `logiflow_app`), on the system clock.
    pub fn new(pool: PgPool, settings: Settings) -> Result<Self, reqwest::Error> {
        let mut client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent("LogiFlow-Webhooks/1");
        if !settings.policy.allow_private {
            client = client.dns_resolver(Arc::new(GuardedResolver));
        }
        Ok(Self {
            pool,
            client: client.build()?,
            settings,
            clock: Arc::new(Utc::now),
            jitter: Arc::new(|| {
                use argon2::password_hash::rand_core::{OsRng, RngCore};
                OsRng.next_u32()
            }),
        })
    }

    /// The same worker on another clock.
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The same worker with another jitter source.
    pub fn with_jitter(mut self, jitter: impl Fn() -> u32 + Send + Sync + 'static) -> Self {
        self.jitter = Arc::new(jitter);
        self
    }

    /// One pass: the scheduled alert check when its interval has passed (on one instance),
    /// then over every tenant: fan out, deliver what is due, prune.
    pub async fn tick(&self) -> Result<Tick, sqlx::Error> {
        let mut total = Tick::default();
        if let Some(interval) = self.settings.alert_interval
            && let Some(swept) =
                crate::alerts::check::run(&self.pool, (self.clock)(), interval).await?
        {
            total.alerts_raised = swept.raised();
        }
        let tenants: Vec<Uuid> = sqlx::query_scalar("select id from tenant order by id")
            .fetch_all(&self.pool)
            .await?;
        for tenant in tenants {
            let tenant = TenantId::from_uuid(tenant);
            let (fanned_out, full) = self.fan_out(tenant).await?;
            total.fanned_out += fanned_out;
            total.backlog |= full;
            let mut batches = 0;
            loop {
                let (claimed, batch) = self.deliver_batch(tenant).await?;
                total.attempts += batch.attempts;
                total.delivered += batch.delivered;
                total.dead += batch.dead;
                total.disabled += batch.disabled;
                batches += 1;
                if claimed < usize::try_from(DELIVERY_BATCH_MAX).unwrap_or(usize::MAX) {
                    break;
                }
                if batches == BATCHES_PER_TICK_MAX {
                    total.backlog = true;
                    break;
                }
            }
            total.pruned += self.prune(tenant).await?;
        }
        Ok(total)
    }

    /// Ticks every `interval` until `shutdown` completes; a failed tick is logged and the
    /// next one tries again.
    pub async fn run(self, interval: Duration, shutdown: impl std::future::Future<Output = ()>) {
        let mut timer = tokio::time::interval(interval);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = timer.tick() => {
                    match self.tick().await {
                        Ok(t) if t != Tick::default() => {
                            tracing::info!(?t, "webhook tick");
                            if t.backlog {
                                // A backlog drains at the worker's pace, not one tick
                                // per interval.
                                timer.reset_immediately();
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "webhook tick failed"),
                    }
                }
            }
        }
    }

    /// Fans out a batch of events: (deliveries created, whether the batch was full).
    async fn fan_out(&self, tenant: TenantId) -> Result<(usize, bool), sqlx::Error> {
        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        // A tenant without active endpoints: its events are deleted in one statement,
        // not locked first, which answers 0 when the tenant has an endpoint.
        let dropped = store::drop_unsubscribed_events(&mut tx, FAN_OUT_BATCH_MAX).await?;
        if dropped > 0 {
            tx.commit().await?;
            return Ok((
                0,
                i64::try_from(dropped).unwrap_or(i64::MAX) >= FAN_OUT_BATCH_MAX,
            ));
        }
        let events = store::pending_events(&mut tx, FAN_OUT_BATCH_MAX).await?;
        if events.is_empty() {
            return Ok((0, false));
        }
        let full = i64::try_from(events.len()).unwrap_or(i64::MAX) >= FAN_OUT_BATCH_MAX;
        // The endpoints are read after the events, so that every event read was
        // written before this read: an endpoint created after an event may get it, but
        // an event written after an endpoint was created is never taken for one no
        // endpoint wants and deleted.
        crate::hooks::reached(tenant, crate::hooks::FAN_OUT_ENDPOINTS).await;
        let endpoints = store::active_endpoints(&mut tx).await?;
        let pairs: Vec<(Uuid, Uuid)> = events
            .iter()
            .flat_map(|(event, topic)| {
                endpoints
                    .iter()
                    .filter(|(_, types)| subscribed(types.as_deref(), topic))
                    .map(|(endpoint, _)| (*event, *endpoint))
            })
            .collect();
        let ids: Vec<Uuid> = events.iter().map(|e| e.0).collect();
        store::fan_out(&mut tx, &ids, &pairs, (self.clock)()).await?;
        tx.commit().await?;
        Ok((pairs.len(), full))
    }

    /// Claims a batch of due deliveries, sends them concurrently while their rows stay
    /// locked, and records each outcome. Returns the number claimed.
    async fn deliver_batch(&self, tenant: TenantId) -> Result<(usize, Tick), sqlx::Error> {
        let now = (self.clock)();
        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        let claimed = store::claim_due(&mut tx, now, DELIVERY_BATCH_MAX).await?;
        let count = claimed.len();
        if claimed.is_empty() {
            return Ok((0, Tick::default()));
        }
        let mut sends = JoinSet::new();
        for delivery in claimed {
            let this = self.clone();
            sends.spawn(async move {
                let outcome = this.send(&delivery, now).await;
                (delivery, outcome)
            });
        }
        let mut tick = Tick::default();
        while let Some(joined) = sends.join_next().await {
            let (delivery, outcome) = joined.map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            let state = self.record(&mut tx, &delivery, &outcome, now).await?;
            tick.attempts += 1;
            match state {
                DeliveryState::Delivered => tick.delivered += 1,
                DeliveryState::Dead => {
                    tick.dead += 1;
                    if self
                        .disable_if_failing(&mut tx, delivery.endpoint_id, now)
                        .await?
                    {
                        tick.disabled += 1;
                    }
                }
                DeliveryState::Pending => {}
            }
        }
        tx.commit().await?;
        Ok((count, tick))
    }

    /// Disables the endpoint, audited as `system` and alerted (`webhook.disabled`), when
    /// its attempts have all failed for
    /// `logiflow_core::webhooks::ENDPOINT_FAILING_DISABLE_SECS`. Its pending deliveries
    /// wait; reactivating it (PATCH `active`) resumes them and resolves the alert.
    async fn disable_if_failing(
        &self,
        tx: &mut TenantTx,
        endpoint: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let Some(since) = store::failing_since(tx, endpoint).await? else {
            return Ok(false);
        };
        if !schedule::disable_endpoint((now - since).num_seconds()) {
            return Ok(false);
        }
        let Some(before) = store::get_endpoint_for_update(tx, endpoint).await? else {
            return Ok(false);
        };
        if !before.active {
            return Ok(false);
        }
        let after = store::disable_endpoint(tx, endpoint, now).await?;
        tracing::warn!(%endpoint, %since, "webhook endpoint disabled: failing for days");
        crate::store::audit::insert(
            tx,
            crate::store::audit::NewEntry {
                actor_type: "system",
                actor_id: None,
                session_id: None,
                action: "webhook_endpoint.disable",
                target_type: "webhook_endpoint",
                target_id: Some(endpoint.to_string()),
                before: serde_json::to_value(&before).ok(),
                after: serde_json::to_value(&after).ok(),
                request_id: None,
            },
        )
        .await?;
        crate::store::alerts::sweep_webhook_disabled(tx, now).await?;
        Ok(true)
    }

    async fn record(
        &self,
        tx: &mut TenantTx,
        delivery: &Claimed,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<DeliveryState, sqlx::Error> {
        let attempt = delivery.attempts + 1;
        let (state, next) = if schedule::classify(outcome.end) {
            (DeliveryState::Delivered, None)
        } else {
            let first = delivery.first_attempt_at.unwrap_or(now);
            let elapsed = (now - first).num_seconds();
            let failed = u32::try_from(attempt).unwrap_or(u32::MAX);
            match schedule::next_attempt(failed, elapsed, outcome.retry_after, (self.jitter)()) {
                Next::RetryInSecs(wait) => (
                    DeliveryState::Pending,
                    Some(now + chrono::TimeDelta::seconds(wait)),
                ),
                Next::DeadLetter => (DeliveryState::Dead, None),
            }
        };
        if state == DeliveryState::Dead {
            tracing::warn!(delivery = %delivery.id, endpoint = %delivery.endpoint_id, "webhook delivery dead-lettered");
        }
        let status = match outcome.end {
            AttemptEnd::Status(s) => Some(i32::from(s)),
            _ => None,
        };
        let log = AttemptLog {
            delivery_id: delivery.id,
            endpoint_id: delivery.endpoint_id,
            attempt,
            at: now,
            status,
            error: outcome.error.as_deref(),
            latency_ms: outcome.latency_ms,
            response_body: &outcome.body,
        };
        store::record_attempt(tx, &log, state, next).await?;
        Ok(state)
    }

    /// One HTTP attempt.
    async fn send(&self, delivery: &Claimed, now: DateTime<Utc>) -> Outcome {
        let started = Instant::now();
        let failed = |end, error: String| Outcome {
            end,
            retry_after: None,
            body: String::new(),
            error: Some(error),
            latency_ms: elapsed_ms(started),
        };
        if let Err(refused) = address::check_url(&delivery.url, self.settings.policy) {
            return failed(AttemptEnd::AddressRefused, refused.0);
        }
        let body = EndpointKind::parse(&delivery.kind).body(
            &delivery.topic,
            delivery.created_at,
            &delivery.payload,
        );
        let id = delivery.event_id.to_string();
        let timestamp = now.timestamp();
        let mut secrets = vec![delivery.secret.as_str()];
        if let (Some(previous), Some(until)) = (
            &delivery.previous_secret,
            delivery.previous_secret_expires_at,
        ) {
            if until > now {
                secrets.push(previous);
            }
        }
        let signature = signing::signature_header(&secrets, &id, timestamp, body.as_bytes());
        let sent = self
            .client
            .post(&delivery.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => return failed(error_end(&e), error_text(&e)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(schedule::parse_retry_after);
        // Only the first KB is read: a receiver's answer is never buffered whole.
        let mut kept = Vec::new();
        let mut error = None;
        while kept.len() < RESPONSE_LOG_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    error = Some(error_text(&e));
                    break;
                }
            }
        }
        kept.truncate(RESPONSE_LOG_BYTES);
        Outcome {
            end: AttemptEnd::Status(status),
            retry_after,
            body: String::from_utf8_lossy(&kept).into_owned(),
            error,
            latency_ms: elapsed_ms(started),
        }
    }

    async fn prune(&self, tenant: TenantId) -> Result<u64, sqlx::Error> {
        let cutoff = (self.clock)() - self.settings.retention;
        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        let (deliveries, events) = store::prune(&mut tx, cutoff).await?;
        tx.commit().await?;
        Ok(deliveries + events)
    }
}

fn elapsed_ms(started: Instant) -> i32 {
    i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX)
}

fn error_end(e: &reqwest::Error) -> AttemptEnd {
    if address::is_refusal(e) {
        AttemptEnd::AddressRefused
    } else if e.is_timeout() {
        AttemptEnd::Timeout
    } else {
        AttemptEnd::ConnectionError
    }
}

fn error_text(e: &reqwest::Error) -> String {
    let kind = match error_end(e) {
        AttemptEnd::AddressRefused => "address refused",
        AttemptEnd::Timeout => "timeout",
        _ => "connection error",
    };
    // The chain of causes, without the URL (it is in the endpoint already).
    let mut text = kind.to_owned();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text.chars().take(RESPONSE_LOG_BYTES).collect()
}

/// Starts the worker in the background when the configuration enables it.
pub fn spawn(pool: PgPool, config: &Config) -> Option<tokio::task::JoinHandle<()>> {
    if !config.webhook_worker_enabled {
        return None;
    }
    let interval = Duration::from_millis(config.webhook_worker_interval_ms);
    match Worker::new(pool, Settings::from_config(config)) {
        Ok(worker) => Some(tokio::spawn(
            worker.run(interval, std::future::pending::<()>()),
        )),
        Err(e) => {
            tracing::error!(error = %e, "the webhook worker could not start");
            None
        }
    }
}
