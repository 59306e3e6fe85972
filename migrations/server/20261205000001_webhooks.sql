-- Webhooks (issue #17): each tenant's endpoints, one delivery per outbox event and
-- matching endpoint, and the log of every attempt. Conventions as in the platform
-- migration: `tenant_id` leads every key, RLS enabled and forced with the
-- tenant_isolation policy. How the worker reaches every tenant: `src/webhooks/mod.rs`.

create table webhook_endpoint (
    tenant_id uuid not null references tenant (id),
    id uuid not null,
    url text not null,
    description text not null default '',
    -- null: every event type.
    event_types text[],
    active boolean not null default true,
    -- The signing secret (`whsec_` + base64), kept in clear because every delivery is
    -- signed with it; it leaves the server only in the answers that create or rotate it.
    secret text not null,
    -- After a rotation the old secret signs too until `previous_secret_expires_at`, so a
    -- receiver can switch at its own pace.
    previous_secret text,
    previous_secret_expires_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id)
);

create table webhook_delivery (
    tenant_id uuid not null,
    id uuid not null,
    endpoint_id uuid not null,
    event_id uuid not null,
    -- pending: waiting for its next attempt; delivered; dead: the schedule is exhausted
    -- (the dead-letter queue) until a person replays it.
    state text not null default 'pending' check (state in ('pending', 'delivered', 'dead')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    -- When the first attempt of the current schedule was made: the 24-hour retry window
    -- counts from it (a replay starts a new schedule).
    first_attempt_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    -- One delivery per event and endpoint: fanning an event out twice is a no-op.
    constraint webhook_delivery_event_key unique (tenant_id, event_id, endpoint_id),
    foreign key (tenant_id, endpoint_id) references webhook_endpoint (tenant_id, id) on delete cascade,
    foreign key (tenant_id, event_id) references outbox_event (tenant_id, id)
);

-- The worker's claim: due pending deliveries of a tenant, oldest due first; the partial
-- index holds only what is still to deliver.
create index webhook_delivery_due_idx on webhook_delivery (tenant_id, next_attempt_at)
    where state = 'pending';
-- An endpoint's deliveries by state (the dead-letter replay) and the pruning by age.
create index webhook_delivery_endpoint_idx on webhook_delivery (tenant_id, endpoint_id, state);
create index webhook_delivery_finished_idx on webhook_delivery (tenant_id, finished_at)
    where state <> 'pending';

-- The delivery log: one row per attempt.
create table webhook_attempt (
    tenant_id uuid not null,
    id uuid not null,
    delivery_id uuid not null,
    endpoint_id uuid not null,
    attempt integer not null,
    at timestamptz not null,
    -- The HTTP status, or null when there was no answer (`error` says why).
    status integer,
    error text,
    latency_ms integer not null,
    -- The first kilobyte of the answer's body.
    response_body text not null default '',
    primary key (tenant_id, id),
    foreign key (tenant_id, delivery_id) references webhook_delivery (tenant_id, id) on delete cascade
);

-- The delivery log of an endpoint, newest first (ids are UUIDv7).
create index webhook_attempt_endpoint_idx on webhook_attempt (tenant_id, endpoint_id, id);
create index webhook_attempt_delivery_idx on webhook_attempt (tenant_id, delivery_id);

-- The pruning deletes fanned-out events; the request path never deletes one.
grant delete on outbox_event to logiflow_app;
grant select, insert, update, delete on webhook_endpoint, webhook_delivery, webhook_attempt to logiflow_app;

do $$
declare
    t text;
begin
    foreach t in array array['webhook_endpoint', 'webhook_delivery', 'webhook_attempt']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy tenant_isolation on %I using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    end loop;
end
$$;
