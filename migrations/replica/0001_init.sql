-- The device's local replica (DESIGN §5.1, §5.5): identity, scope, the pulled catalog and
-- stock, the pulled ledger needed for projecting counts, and the append-only journal.
--
-- Ids are UUID text; times are integer nanoseconds since the Unix epoch (UTC), so they
-- sort and compare exactly like `OrderKey`. A row without a lot stores lot_id = '' rather
-- than NULL, because NULLs in a SQLite primary key are distinct from each other and would
-- let the same row exist twice.

-- This device. One row at most; no secrets here (tokens live in the OS keyring).
create table device (
    singleton integer primary key check (singleton = 1),
    device_id text not null,
    tenant_id text not null,
    user_id text not null,
    server_url text not null,
    created_at_ns integer not null
) strict;

-- Sync bookkeeping. One row, created with the device.
create table sync_state (
    singleton integer primary key check (singleton = 1),
    -- Opaque position in the server's change feed; null before the first pull.
    cursor text,
    last_pull_at_ns integer,
    last_push_at_ns integer,
    -- server clock − device clock measured at the last contact, added to the device's
    -- clock when stamping a movement.
    clock_offset_ms integer not null default 0
) strict;
insert into sync_state (singleton) values (1);

-- The warehouses this device keeps offline.
create table scope (
    warehouse_id text primary key
) strict;

-- The catalog mirrors the server, which owns its integrity; the replica adds only the
-- foreign keys it needs to keep its own search tables consistent.
create table warehouse (
    id text primary key,
    code text not null,
    name text not null,
    time_zone text not null
) strict;

create table location (
    id text primary key,
    warehouse_id text not null,
    code text not null,
    parent_id text,
    is_leaf integer not null,
    active integer not null
) strict;
-- Scanned location codes are resolved by code; codes are unique per warehouse only.
create index location_by_code on location (code, warehouse_id);

create table product (
    id text primary key,
    sku text not null,
    name text not null,
    -- lower(name), for case-insensitive substring search.
    name_fold text not null,
    lot_tracked integer not null,
    active integer not null
) strict;
-- SKU prefix search is a range scan on this index (SKUs are stored upper case).
create unique index product_by_sku on product (sku);

create table barcode (
    code text primary key,
    product_id text not null references product (id) on delete cascade
) strict;
create index barcode_by_product on barcode (product_id);

create table lot (
    id text primary key,
    product_id text not null,
    code text not null,
    expires_on text
) strict;
create index lot_by_code on lot (product_id, code);

-- Stock rows as last pulled: the server's state, never the projection.
create table stock_row (
    product_id text not null,
    location_id text not null,
    lot_id text not null default '',
    on_hand integer not null,
    allocated integer not null,
    last_count_at_ns integer,
    last_count_id text,
    primary key (product_id, location_id, lot_id)
) strict;
-- Per-bin contents.
create index stock_row_by_location on stock_row (location_id);

-- Applied effects pulled from the server's ledger, kept only while a journal entry may
-- still need them for `effects_after` (see `Replica::apply_pull`).
create table ledger_effect (
    movement_id text not null,
    product_id text not null,
    location_id text not null,
    lot_id text not null default '',
    at_ns integer not null,
    delta integer not null,
    primary key (movement_id, product_id, location_id, lot_id)
) strict;
create index ledger_effect_by_row on ledger_effect (product_id, location_id, lot_id, at_ns);

-- The journal: every action recorded on this device, in order. Append-only: rows are
-- never deleted and the recorded movement never changes; only its sync status does.
create table journal (
    -- Strictly increasing from 1 without gaps: each insert takes max + 1 inside the
    -- recording transaction (the server refuses a gap).
    device_seq integer primary key check (device_seq > 0),
    id text not null unique,
    occurred_at_ns integer not null,
    -- The device's own clock when recorded, before the offset correction (for audit).
    recorded_at_ns integer not null,
    base_cursor text,
    user_id text not null,
    kind text not null,
    -- The exact `logiflow_core::Movement` that is pushed, as JSON.
    movement text not null,
    status text not null default 'pending' check (status in ('pending', 'pushed')),
    outcome text check (outcome in ('applied', 'absorbed', 'superseded', 'held', 'rejected')),
    -- The server's `MovementResult`, as JSON.
    outcome_detail text,
    flagged integer not null default 0,
    -- A pull carried this movement's outcome, so the pulled stock already includes its
    -- effects and the projection must not apply it again.
    settled integer not null default 0,
    pushed_at_ns integer
) strict;
create index journal_unsettled on journal (settled, device_seq);

create trigger journal_no_delete before delete on journal
begin
    select raise(abort, 'the journal is append-only');
end;

create trigger journal_movement_immutable
before update of device_seq, id, occurred_at_ns, recorded_at_ns, base_cursor, user_id, kind, movement
on journal
begin
    select raise(abort, 'a recorded movement never changes');
end;
