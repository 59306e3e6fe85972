-- The purchase orders of the device's warehouses, pulled so goods can be received
-- against them offline (issue #15). Each pulled record replaces the order and its lines.
-- `received` is the server's as of the pull; what this device received since is read
-- from its journal on top.
create table purchase_order (
    id text primary key,
    number text not null,
    warehouse_id text not null,
    supplier text not null,
    expected_on text,
    -- draft never arrives; ordered, partially_received, received, closed, cancelled.
    status text not null
) strict;
-- People scan or type the number.
create index purchase_order_by_number on purchase_order (number);

create table purchase_line (
    id text primary key,
    order_id text not null references purchase_order (id) on delete cascade,
    -- Order of the lines on the document.
    position integer not null,
    product_id text not null,
    qty integer not null,
    received integer not null
) strict;
create index purchase_line_by_order on purchase_line (order_id, position);
