-- Each product's reorder point, pulled with it: the dashboard's low-stock figures compare
-- a warehouse's available stock with it (0: the product has none). Products pulled before
-- this version get theirs with their next catalog change.
alter table product add column reorder_point integer not null default 0;
