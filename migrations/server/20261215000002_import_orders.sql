-- Purchase and sales order lines can be imported (crate::bulk::import::orders): each
-- order of a file is named by its reference in the system the file comes from, and
-- `imported_order` remembers which references were imported, so a file imported twice
-- creates each order once.
alter table import_job drop constraint import_job_kind_check;
alter table import_job add constraint import_job_kind_check
    check (kind in ('products', 'locations', 'lots', 'suppliers', 'customers', 'stock',
                    'purchase_orders', 'sales_orders'));

create table imported_order (
    tenant_id uuid not null,
    -- `purchase_orders` or `sales_orders`.
    kind text not null constraint imported_order_kind_check check (kind in ('purchase_orders', 'sales_orders')),
    reference text not null,
    order_id uuid not null,
    imported_at timestamptz not null default now(),
    primary key (tenant_id, kind, reference)
);

grant select, insert on imported_order to logiflow_app;

alter table imported_order enable row level security;
alter table imported_order force row level security;
create policy tenant_isolation on imported_order
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
