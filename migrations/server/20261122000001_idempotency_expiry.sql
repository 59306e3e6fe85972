-- Idempotency records are kept for a bounded time (IDEMPOTENCY_TTL_HOURS in the server):
-- this index lets each tenant's expired records be pruned without scanning the others.
create index idempotency_key_created_idx on idempotency_key (tenant_id, created_at);
