-- The scheduled check deletes resolved alerts 90 days after they ended
-- (`store::alerts::prune_resolved`): this index finds them by age instead of reading
-- the tenant's whole alert table on every run.
create index alert_resolved_idx on alert (tenant_id, resolved_at) where resolved_at is not null;
