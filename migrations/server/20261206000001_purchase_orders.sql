-- Orders, first part (issue #15): suppliers and customers, purchase orders and their
-- lines, and receipts against those lines. Conventions as in the platform migration:
-- `tenant_id` leads every key, RLS enabled and forced with the tenant_isolation policy.
--
-- A line's received quantity is not stored: it is the sum of the applied `receive`
-- movements that name the line (`movement.reference_id`) and are of its product, so it
-- equals that sum by construction whatever path applied them (online, journal push,
-- forced). The order's `status` column holds what people decided (draft, ordered,
-- closed, cancelled); partially received and received are read from the quantities
-- (`core::orders::purchase_status`).

create table party (
    tenant_id uuid not null references tenant (id),
    id uuid not null,
    kind text not null constraint party_kind_check check (kind in ('supplier', 'customer')),
    code text not null,
    name text not null,
    email text not null default '',
    phone text not null default '',
    address text not null default '',
    -- Suppliers: days from ordering to delivery.
    lead_time_days integer constraint party_lead_time_check check (lead_time_days between 0 and 3650),
    -- Customers: the least remaining shelf life, in days, of a lot allocated to them.
    min_shelf_life_days integer constraint party_shelf_life_check check (min_shelf_life_days between 0 and 3650),
    active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint party_code_key unique (tenant_id, kind, code)
);

-- Searching a list by name (`q`) scans one kind of one tenant: a few thousand rows.
create index party_kind_name_idx on party (tenant_id, kind, lower(name));

-- Readable document numbers (`PO-000123`), one counter per tenant and kind, taken under
-- the counter row's lock by the transaction that creates the document: gapless unless
-- that transaction rolls back.
create table document_counter (
    tenant_id uuid not null references tenant (id),
    kind text not null,
    last bigint not null,
    primary key (tenant_id, kind)
);

create table purchase_order (
    tenant_id uuid not null,
    id uuid not null,
    number text not null,
    supplier_id uuid not null,
    warehouse_id uuid not null,
    expected_on date,
    notes text not null default '',
    status text not null default 'draft'
        constraint purchase_order_status_check check (status in ('draft', 'ordered', 'closed', 'cancelled')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint purchase_order_number_key unique (tenant_id, number),
    foreign key (tenant_id, supplier_id) references party (tenant_id, id),
    foreign key (tenant_id, warehouse_id) references warehouse (tenant_id, id)
);

-- The open orders of a warehouse (what a receiving screen lists), newest first.
create index purchase_order_warehouse_idx on purchase_order (tenant_id, warehouse_id, id);
create index purchase_order_supplier_idx on purchase_order (tenant_id, supplier_id, id);

create table purchase_line (
    tenant_id uuid not null,
    id uuid not null,
    order_id uuid not null,
    product_id uuid not null,
    -- 0 only for a line reduced to nothing after the order was sent (nothing received).
    qty bigint not null constraint purchase_line_qty_check check (qty >= 0),
    -- A decimal string on the wire; never a float.
    unit_cost numeric(20, 6) not null constraint purchase_line_cost_check check (unit_cost >= 0),
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, order_id) references purchase_order (tenant_id, id) on delete cascade,
    foreign key (tenant_id, product_id) references product (tenant_id, id)
);

create index purchase_line_order_idx on purchase_line (tenant_id, order_id, id);

-- What was received against a line: the applied movements that name it.
create index movement_reference_idx on movement (tenant_id, reference_id)
    where reference_id is not null;

-- Over-receipt tolerance: a receipt taking a line beyond its quantity plus this percent
-- is applied and flagged for review. A constant default rewrites nothing.
alter table tenant_setting add column over_receipt_tolerance_pct integer not null default 0
    constraint tenant_setting_over_receipt_tolerance_check
        check (over_receipt_tolerance_pct between 0 and 1000);

-- Devices pull the purchase orders of their warehouses, to receive against them offline:
-- an order's changes go through the catalog change feed like a location's.
alter table catalog_change drop constraint catalog_change_entity_check;
alter table catalog_change add constraint catalog_change_entity_check
    check (entity in ('warehouse', 'location', 'product', 'lot', 'purchase_order'));

grant select, insert, update on party, document_counter, purchase_order to logiflow_app;
grant select, insert, update, delete on purchase_line to logiflow_app;

do $$
declare
    t text;
begin
    foreach t in array array['party', 'document_counter', 'purchase_order', 'purchase_line']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy tenant_isolation on %I using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    end loop;
end
$$;
