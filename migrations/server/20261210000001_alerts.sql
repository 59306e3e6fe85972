-- Alerts (issue #17): conditions a person should know about, raised once while they
-- last, each also written to the outbox so webhooks carry it. Conventions as in the
-- platform migration. How they are found: `src/alerts/mod.rs`.

create table alert (
    tenant_id uuid not null references tenant (id),
    -- UUIDv7: time-ordered, so the id is also the pagination key.
    id uuid not null,
    kind text not null check (kind in
        ('stock.low', 'lot.expiring', 'conflict.held', 'count.variance', 'device.silent')),
    -- What it is about, so a condition is raised once while it lasts: `warehouse/product`
    -- for stock.low, `warehouse/lot` for lot.expiring, the movement for conflict.held and
    -- count.variance, the device for device.silent.
    subject text not null,
    -- The warehouse it concerns (a device sees the alerts of its warehouses); null for a
    -- device that is silent.
    warehouse_id uuid,
    -- What a person reads and a webhook receives (the event's `data`).
    payload jsonb not null,
    raised_at timestamptz not null,
    -- When the condition ended (stock recovered, lot gone, held movement decided, device
    -- synced). A count variance is a one-off: raised resolved.
    resolved_at timestamptz,
    primary key (tenant_id, id)
);

-- Once while it lasts: one unresolved alert per kind and subject.
create unique index alert_open_key on alert (tenant_id, kind, subject) where resolved_at is null;
-- The list of a warehouse's alerts, newest first.
create index alert_warehouse_idx on alert (tenant_id, warehouse_id, id);

-- Marking read is per user.
create table alert_read (
    tenant_id uuid not null,
    alert_id uuid not null,
    user_id uuid not null,
    read_at timestamptz not null default now(),
    primary key (tenant_id, alert_id, user_id),
    foreign key (tenant_id, alert_id) references alert (tenant_id, id) on delete cascade,
    foreign key (tenant_id, user_id) references app_user (tenant_id, id)
);

grant select, insert, update, delete on alert, alert_read to logiflow_app;

do $$
declare
    t text;
begin
    foreach t in array array['alert', 'alert_read']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy tenant_isolation on %I using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    end loop;
end
$$;

-- The thresholds of the time-based alerts, per tenant.
alter table tenant_setting
    add column alert_lot_expiring_days integer not null default 30
        check (alert_lot_expiring_days between 1 and 365),
    add column alert_held_hours integer not null default 4
        check (alert_held_hours between 1 and 720),
    add column alert_device_silent_days integer not null default 3
        check (alert_device_silent_days between 1 and 365);

-- A device syncs when it pulls as well as when it pushes: device.silent counts both.
alter table device add column last_pull_at timestamptz;

-- The scheduled checks (a platform table): each worker tick claims a check whose interval
-- has passed by moving `last_run_at` forward in one statement, so one instance runs it per
-- interval however many run.
create table scheduled_check (
    name text primary key,
    last_run_at timestamptz not null
);
insert into scheduled_check (name, last_run_at) values ('alerts', '-infinity');
grant select, update on scheduled_check to logiflow_app;

-- The outbox's indexes per tenant: the fan-out reads a tenant's events not fanned out
-- yet, the pruning its fanned-out events by age (it scanned the table before).
drop index outbox_event_pending_idx;
create index outbox_event_pending_idx on outbox_event (tenant_id, created_at)
    where delivered_at is null;
create index outbox_event_delivered_idx on outbox_event (tenant_id, delivered_at)
    where delivered_at is not null;

-- A UUIDv7 for `at` (the 48-bit Unix milliseconds, then random bits with the version and
-- variant set), so ids made in SQL sort by time like those made by the server.
create function uuid_v7(at timestamptz) returns uuid
language sql volatile as $$
    select encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    placing substring(int8send(floor(extract(epoch from at) * 1000)::bigint) from 3)
                    from 1 for 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;
