-- Inventory: warehouses, the location tree, products with barcodes, lots, stock rows, the
-- movement ledger, the catalog change log (served to devices by sync) and the outbox.
--
-- Conventions as in the platform migration: `tenant_id` leads every key and index, every
-- table has the tenant_isolation RLS policy, lowercase SQL, and each index says which
-- query it serves.

-- Name search ("contains") over 100k products needs a trigram index; pg_trgm is a
-- trusted extension (PostgreSQL 13+), so the database owner may create it.
create extension if not exists pg_trgm;

-- The custom-field schema of products: a JSON Schema object (validated by the server
-- before it is stored), against which each product's `custom` object is checked.
alter table tenant_setting
    add column product_field_schema jsonb not null default '{"type": "object"}';

create table warehouse (
    tenant_id uuid not null references tenant (id),
    id uuid not null,
    -- Codes compare byte-wise ("C"): the same order on the server, the replica and Rust.
    code text collate "C" not null,
    name text not null,
    -- IANA time zone: lot expiry and "today" are judged in the warehouse's local date.
    timezone text not null,
    address text not null default '',
    active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint warehouse_code_key unique (tenant_id, code)
);

-- The location tree of a warehouse: zone → aisle/rack → bin, any depth. Stock lives only
-- in leaves (a location without children).
create table location (
    tenant_id uuid not null,
    id uuid not null,
    warehouse_id uuid not null,
    parent_id uuid,
    code text collate "C" not null,
    name text not null default '',
    -- Codes from the root down joined by '/', e.g. 'A/03/B2': the searchable full path,
    -- and `path like 'A/03/%'` selects a subtree.
    path text collate "C" not null,
    depth integer not null check (depth >= 0),
    active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, warehouse_id) references warehouse (tenant_id, id),
    foreign key (tenant_id, parent_id) references location (tenant_id, id),
    constraint location_code_key unique (tenant_id, warehouse_id, code)
);

-- Children of a location (is it a leaf? list the tree level by level).
create index location_parent_idx on location (tenant_id, parent_id);
-- Subtree and path-prefix search: a "C" collated btree serves `path like 'prefix%'`.
create index location_path_idx on location (tenant_id, warehouse_id, path);

create table product (
    tenant_id uuid not null references tenant (id),
    id uuid not null,
    sku text collate "C" not null,
    name text not null,
    -- The base unit every quantity of the product counts in (pcs, g, ml, …).
    uom text not null default 'pcs',
    lot_tracked boolean not null default false,
    expiry_policy text not null default 'fifo'
        constraint product_expiry_policy_check check (expiry_policy in ('fifo', 'fefo')),
    reorder_point bigint not null default 0 check (reorder_point >= 0),
    reorder_qty bigint not null default 0 check (reorder_qty >= 0),
    -- Exact decimals, never floats.
    cost numeric(20, 6),
    price numeric(20, 6),
    custom jsonb not null default '{}',
    active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    -- Also serves "SKU starts with": the "C" collation makes `sku like 'AB%'` a range scan.
    constraint product_sku_key unique (tenant_id, sku)
);

-- "Name contains": a trigram index serves `name ilike '%…%'` on 100k products.
create index product_name_trgm_idx on product using gin (name gin_trgm_ops);

-- A product's barcodes (several per product, each unique in the tenant): the exact
-- barcode lookup of the scanner is a primary-key probe.
create table product_barcode (
    tenant_id uuid not null,
    barcode text collate "C" not null,
    product_id uuid not null,
    primary key (tenant_id, barcode),
    foreign key (tenant_id, product_id) references product (tenant_id, id) on delete cascade
);

create index product_barcode_product_idx on product_barcode (tenant_id, product_id);

create table lot (
    tenant_id uuid not null,
    id uuid not null,
    product_id uuid not null,
    code text collate "C" not null,
    -- The last day the lot may be used, in the warehouse's local date.
    expires_on date,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, product_id) references product (tenant_id, id),
    constraint lot_code_key unique (tenant_id, product_id, code)
);

-- "Expiring before a date" over the tenant's lots.
create index lot_expiry_idx on lot (tenant_id, expires_on) where expires_on is not null;

-- A stock row: (product, location, lot) with its quantities. A product without lot
-- tracking uses the nil uuid as its lot, so the key can be a primary key (no nulls) and
-- the nil uuid sorts first, as `None` does in `core::StockKey`: the primary key's order
-- is the lock order of `core`, and every locking statement orders by it.
create table stock_row (
    tenant_id uuid not null,
    product_id uuid not null,
    location_id uuid not null,
    lot_id uuid not null default '00000000-0000-0000-0000-000000000000',
    -- Denormalized from the location (which never changes warehouse) for the stock
    -- filters and per-warehouse totals.
    warehouse_id uuid not null,
    -- May be below zero for a while (DESIGN §5.4: never clamped); flagged when it is.
    on_hand bigint not null default 0,
    allocated bigint not null default 0 check (allocated >= 0),
    -- The order key (occurred_at, movement id) of the latest applied count.
    last_count_at timestamptz,
    last_count_id uuid,
    -- The order key of the latest effect booked on the row. A movement that comes after
    -- it knows without a query that no effect follows it (`effects_after` = 0), which is
    -- the common case; only a late journal entry sums the ledger after its time. Read
    -- with the row's lock, so it is never stale.
    last_effect_at timestamptz,
    last_effect_id uuid,
    updated_at timestamptz not null default now(),
    primary key (tenant_id, product_id, location_id, lot_id),
    -- No foreign key on lot_id: the nil "no lot" is not a lot. The server checks lots.
    foreign key (tenant_id, product_id) references product (tenant_id, id),
    foreign key (tenant_id, location_id) references location (tenant_id, id),
    constraint stock_row_count_key check ((last_count_at is null) = (last_count_id is null))
);

-- Stock of a location (is it empty? per-bin contents) and per-warehouse listings.
create index stock_row_location_idx on stock_row (tenant_id, location_id);
create index stock_row_warehouse_idx on stock_row (tenant_id, warehouse_id, product_id);

-- Every movement received: applied, held, absorbed, superseded or rejected. Nothing a
-- person recorded is lost, so rejected journal movements are kept too (online intents
-- that are refused are not stored: the caller got the answer and nothing happened).
create table movement (
    tenant_id uuid not null,
    id uuid not null,
    kind text not null
        constraint movement_kind_check check (kind in ('receive', 'ship', 'transfer', 'adjust', 'count')),
    origin text not null constraint movement_origin_check check (origin in ('online', 'journal')),
    product_id uuid not null,
    lot_id uuid,
    from_location_id uuid,
    to_location_id uuid,
    -- receive/ship/transfer: the positive quantity; adjust: the signed delta; count: the
    -- counted quantity.
    qty bigint not null,
    -- count: what the device expected (null for a blind count).
    expected bigint,
    -- adjust: damage, loss, found, correction.
    reason text,
    note text,
    occurred_at timestamptz not null,
    recorded_at timestamptz not null default now(),
    user_id uuid not null,
    device_id uuid,
    device_seq bigint,
    reference_type text constraint movement_reference_check check (reference_type in ('purchase_line', 'sales_line')),
    reference_id uuid,
    outcome text not null
        constraint movement_outcome_check check (outcome in ('applied', 'absorbed', 'superseded', 'held', 'rejected')),
    -- The rejection {code, message} or the hold {waiting_on, needed, at_time}.
    outcome_detail jsonb,
    -- Flags for review (negative row, count variance, …), as `core::Flag` JSON.
    flags jsonb not null default '[]',
    -- The transaction that last wrote the row: sync pulls read changes by transaction id
    -- (DESIGN §5.5) so a tenant's writers never queue on a shared counter.
    xid xid8 not null default pg_current_xact_id(),
    primary key (tenant_id, id),
    constraint movement_device_seq_key unique (tenant_id, device_id, device_seq)
);

-- GET /v1/movements lists newest first by (occurred_at, id), the events' total order;
-- each filter has an index leading with it, so a filtered page is one index range scan
-- however many movements the tenant has.
create index movement_time_idx on movement (tenant_id, occurred_at, id);
create index movement_product_idx on movement (tenant_id, product_id, occurred_at, id);
-- "Movements of a location" is from_location = $l or to_location = $l: a bitmap OR of
-- these two.
create index movement_from_idx on movement (tenant_id, from_location_id, occurred_at, id)
    where from_location_id is not null;
create index movement_to_idx on movement (tenant_id, to_location_id, occurred_at, id)
    where to_location_id is not null;
create index movement_user_idx on movement (tenant_id, user_id, occurred_at, id);
-- The conflict inbox and the retry of held movements read only the few non-applied rows.
create index movement_review_idx on movement (tenant_id, outcome, occurred_at, id)
    where outcome in ('held', 'rejected') or flags <> '[]';

-- The ledger: each row's part of each applied movement. Every stock row equals the sum
-- of its effects (the ledger invariant, checked by the tests), and a count's "quantity at
-- its time" is the row minus the effects after that time: the primary key serves that
-- sum as one range scan at the end of the row's history.
create table movement_effect (
    tenant_id uuid not null,
    product_id uuid not null,
    location_id uuid not null,
    lot_id uuid not null,
    occurred_at timestamptz not null,
    movement_id uuid not null,
    delta bigint not null,
    -- A later count had already seen this movement on this row: delta is 0.
    absorbed boolean not null default false,
    xid xid8 not null default pg_current_xact_id(),
    primary key (tenant_id, product_id, location_id, lot_id, occurred_at, movement_id),
    foreign key (tenant_id, movement_id) references movement (tenant_id, id)
);

create index movement_effect_movement_idx on movement_effect (tenant_id, movement_id);

-- Catalog changes for device pulls: one row per created/changed/deleted catalog record,
-- with its data as the API shows it. `warehouse_id` scopes warehouse-bound records
-- (warehouses, locations); product-level records (products, lots) go to every device.
create table catalog_change (
    tenant_id uuid not null,
    -- Order among changes of one transaction; a sequence (not a counter row) never
    -- makes concurrent writers wait on each other.
    seq bigint generated always as identity,
    xid xid8 not null default pg_current_xact_id(),
    entity text not null
        constraint catalog_change_entity_check check (entity in ('warehouse', 'location', 'product', 'lot')),
    entity_id uuid not null,
    warehouse_id uuid,
    op text not null constraint catalog_change_op_check check (op in ('upsert', 'delete')),
    data jsonb,
    changed_at timestamptz not null default now(),
    primary key (tenant_id, seq)
);

-- Pulls read "changes after this transaction id, in order".
create index catalog_change_xid_idx on catalog_change (tenant_id, xid, seq);

-- The outbox: each state change writes an event in the same transaction; the webhook
-- workers claim undelivered events with FOR UPDATE SKIP LOCKED.
create table outbox_event (
    tenant_id uuid not null,
    id uuid not null,
    topic text not null,
    payload jsonb not null,
    created_at timestamptz not null default now(),
    delivered_at timestamptz,
    primary key (tenant_id, id)
);

-- The one index not led by tenant_id: the delivery workers serve every tenant, oldest
-- event first; the partial index holds only what is still to deliver, so it stays small.
create index outbox_event_pending_idx on outbox_event (created_at) where delivered_at is null;

grant select, insert, update, delete on warehouse, location, product, product_barcode, lot to logiflow_app;
grant select, insert, update on stock_row, movement, movement_effect, outbox_event to logiflow_app;
grant select, insert on catalog_change to logiflow_app;

do $$
declare
    t text;
begin
    foreach t in array array['warehouse', 'location', 'product', 'product_barcode', 'lot', 'stock_row',
                             'movement', 'movement_effect', 'catalog_change', 'outbox_event']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy tenant_isolation on %I using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    end loop;
end
$$;
