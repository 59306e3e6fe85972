-- The sync client's bookkeeping, for `logiflow status` and the desktop dashboard: when
-- the last sync ended and how, and when the server last answered. No secrets: the
-- device's tokens live in the OS keyring (see crates/replica/src/credentials.rs).
alter table sync_state add column last_sync_at_ns integer;
-- The last sync's failure as `code` and message; null after a sync that succeeded.
alter table sync_state add column last_sync_error_code text;
alter table sync_state add column last_sync_error text;
-- The last time the server answered a request, whatever the answer.
alter table sync_state add column last_contact_at_ns integer;
