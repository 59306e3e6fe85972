-- Lots created offline (logiflow_core::lots): a device receiving a lot it does not know
-- creates it with an id of its own. When the product already has a lot of that code
-- (created online meanwhile, or by another device), the device's id is mapped to that
-- lot here, so every later push naming the device's id reaches the same lot.
create table lot_alias (
    tenant_id uuid not null,
    -- The id the device gave the lot.
    id uuid not null,
    lot_id uuid not null,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, lot_id) references lot (tenant_id, id)
);

grant select, insert on lot_alias to logiflow_app;

alter table lot_alias enable row level security;
alter table lot_alias force row level security;
create policy tenant_isolation on lot_alias
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
