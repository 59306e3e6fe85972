-- The `webhook.disabled` alert (issue #17): an endpoint the worker disabled for failing
-- for days is alerted until it is active again or deleted.

-- When the worker disabled the endpoint for failing; null while active or when a person
-- deactivated it. Activating it clears the mark.
alter table webhook_endpoint add column disabled_at timestamptz;

alter table alert drop constraint alert_kind_check;
alter table alert add constraint alert_kind_check check (kind in
    ('stock.low', 'lot.expiring', 'conflict.held', 'count.variance', 'device.silent',
     'webhook.disabled'));
