-- Sync: devices and what the push of their journals needs (DESIGN §5).

-- A device a user registered: its scope (the warehouses it replicates) and the next
-- journal sequence number the server expects from it.
create table device (
    tenant_id uuid not null references tenant (id),
    id uuid not null,
    user_id uuid not null,
    name text not null,
    platform text not null,
    warehouse_ids uuid[] not null,
    -- The next device_seq the server expects: pushes are applied in journal order
    -- without gaps, and the row's lock serializes two pushes of the same device.
    next_seq bigint not null default 1 check (next_seq >= 1),
    created_at timestamptz not null default now(),
    last_push_at timestamptz,
    revoked_at timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, user_id) references app_user (tenant_id, id)
);

-- A device signs in through a session of its own (the registering user's, marked with
-- the device), so its refresh token rotates like a person's and revoking the device
-- ends the session.
alter table session add column device_id uuid;
alter table session add foreign key (tenant_id, device_id) references device (tenant_id, id);
create index session_device_idx on session (tenant_id, device_id) where device_id is not null;

-- The held movements of a product: a push retries those whose rows it raises or counts
-- (a held movement's rows all belong to its product). Few rows, so a small index.
create index movement_held_idx on movement (tenant_id, product_id, occurred_at, id)
    where outcome = 'held';

grant select, insert, update on device to logiflow_app;

alter table device enable row level security;
alter table device force row level security;
create policy tenant_isolation on device
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- The conflict inbox (held, rejected or flagged movements) as a stored boolean: under
-- row-level security PostgreSQL keeps non-leakproof conditions such as jsonb's `<>` out
-- of index scans, so the inbox filter must be a plain boolean test to use its index.
alter table movement add column needs_review boolean
    generated always as (outcome in ('held', 'rejected') or flags <> '[]'::jsonb) stored;
drop index movement_review_idx;
-- The inbox, newest first; and its held or rejected part alone (the query adds
-- `needs_review` to an outcome filter of held or rejected so this index applies).
create index movement_review_idx on movement (tenant_id, occurred_at, id) where needs_review;
create index movement_review_outcome_idx on movement (tenant_id, outcome, occurred_at, id)
    where needs_review;
