-- The alerts of the device's warehouses (issue #17), as the last sync read them from
-- `GET /v1/alerts`: every open one and the newest others. Each sync replaces the set.
-- `read` is the signed-in person's read mark on the server as of that sync;
-- `notified` says the app has had its chance to show it as an OS notification (set for
-- everything the first read brings, so a new device does not pop up old alerts).
create table alert (
    id text primary key,
    -- stock.low, lot.expiring, conflict.held, count.variance, device.silent,
    -- webhook.disabled (a kind this build does not know is kept and not shown).
    kind text not null,
    subject text not null,
    warehouse_id text,
    -- The event's data, JSON.
    payload text not null,
    raised_at_ns integer not null,
    resolved_at_ns integer,
    read integer not null,
    notified integer not null
) strict;

-- Read marks made on this device and not yet sent (offline): sent by the next sync with
-- the session of the person who made them, then deleted.
create table alert_read (
    alert_id text not null,
    user_id text not null,
    marked_at_ns integer not null,
    primary key (alert_id, user_id)
) strict;

-- When the alerts were last read from the server; null before the first time.
alter table sync_state add column alerts_pulled_at_ns integer;
