-- Orders, second part (issue #15): sales orders, their lines, and the reservations
-- (allocations) of those lines on stock rows. Conventions as in the platform migration.
--
-- A line's picked quantity is not stored: it is the sum of the applied `ship` movements
-- that name the line and are of its product. Its allocated quantity is the sum of its
-- allocation rows, and `stock_row.allocated` of each row equals the sum of the
-- allocations on it: every writer of one changes the other in the same transaction (the
-- allocation service on confirming, allocating and cancelling; the movement writer when
-- a pick consumes them). The order's `status` holds what people decided (draft,
-- confirmed, cancelled); allocated, picked and shipped are read from the quantities
-- (`core::orders::sales_status`).

create table sales_order (
    tenant_id uuid not null,
    id uuid not null,
    number text not null,
    customer_id uuid not null,
    warehouse_id uuid not null,
    requested_on date not null,
    priority text not null default 'normal'
        constraint sales_order_priority_check check (priority in ('low', 'normal', 'high', 'urgent')),
    notes text not null default '',
    status text not null default 'draft'
        constraint sales_order_status_check check (status in ('draft', 'confirmed', 'cancelled')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint sales_order_number_key unique (tenant_id, number),
    foreign key (tenant_id, customer_id) references party (tenant_id, id),
    foreign key (tenant_id, warehouse_id) references warehouse (tenant_id, id)
);

create index sales_order_warehouse_idx on sales_order (tenant_id, warehouse_id, id);
create index sales_order_customer_idx on sales_order (tenant_id, customer_id, id);

create table sales_line (
    tenant_id uuid not null,
    id uuid not null,
    order_id uuid not null,
    product_id uuid not null,
    -- 0 only for a line no longer wanted after the order was confirmed (nothing picked).
    qty bigint not null constraint sales_line_qty_check check (qty >= 0),
    unit_price numeric(20, 6) not null constraint sales_line_price_check check (unit_price >= 0),
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, order_id) references sales_order (tenant_id, id) on delete cascade,
    foreign key (tenant_id, product_id) references product (tenant_id, id)
);

create index sales_line_order_idx on sales_line (tenant_id, order_id, id);
-- The back-orders a rise of a product's stock may serve.
create index sales_line_product_idx on sales_line (tenant_id, product_id);

-- A line's reservation on one stock row (`lot_id` as in stock_row: the nil uuid for no
-- lot). Removed when consumed or released to nothing.
create table allocation (
    tenant_id uuid not null,
    line_id uuid not null,
    product_id uuid not null,
    location_id uuid not null,
    lot_id uuid not null,
    qty bigint not null constraint allocation_qty_check check (qty > 0),
    primary key (tenant_id, line_id, product_id, location_id, lot_id),
    foreign key (tenant_id, line_id) references sales_line (tenant_id, id) on delete cascade
);

-- The reservations on a row (a pick list's walk, the invariant check).
create index allocation_row_idx on allocation (tenant_id, product_id, location_id, lot_id);

-- Devices pull the confirmed sales orders of their warehouses, to pick them offline.
alter table catalog_change drop constraint catalog_change_entity_check;
alter table catalog_change add constraint catalog_change_entity_check
    check (entity in ('warehouse', 'location', 'product', 'lot', 'purchase_order', 'sales_order'));

grant select, insert, update on sales_order to logiflow_app;
grant select, insert, update, delete on sales_line, allocation to logiflow_app;

do $$
declare
    t text;
begin
    foreach t in array array['sales_order', 'sales_line', 'allocation']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy tenant_isolation on %I using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    end loop;
end
$$;
