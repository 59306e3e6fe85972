-- Whether each warehouse of the scope is active, pulled with it: a deactivated one is not
-- watched for low stock (logiflow_core::reorder), as on the server. Warehouses pulled
-- before this version count as active until their next change.
alter table warehouse add column active integer not null default 1;
