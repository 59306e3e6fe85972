-- The confirmed sales orders of the device's warehouses, pulled so they can be picked
-- offline (issue #15). Each pulled record replaces the order, its lines and their
-- reservations. `picked` is the server's as of the pull; what this device picked since
-- is read from its journal on top.
create table sales_order (
    id text primary key,
    number text not null,
    warehouse_id text not null,
    customer text not null,
    requested_on text not null,
    -- confirmed, partially_allocated, allocated, partially_picked, shipped, cancelled.
    status text not null
) strict;
create index sales_order_by_number on sales_order (number);

create table sales_line (
    id text primary key,
    order_id text not null references sales_order (id) on delete cascade,
    position integer not null,
    product_id text not null,
    qty integer not null,
    picked integer not null
) strict;
create index sales_line_by_order on sales_line (order_id, position);

-- Where the server reserved stock for each line: the pick list.
create table sales_allocation (
    line_id text not null references sales_line (id) on delete cascade,
    product_id text not null,
    location_id text not null,
    lot_id text not null default '',
    qty integer not null,
    primary key (line_id, product_id, location_id, lot_id)
) strict;
