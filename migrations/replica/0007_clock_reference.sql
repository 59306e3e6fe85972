-- Issue #18: what the replica trusts about the time, to notice its own clock jumping before
-- it records anything. The reference is the server's time at the last contact (a push or
-- pull answer), or a time a person confirmed (`logiflow clock accept`); with it, the
-- machine's uptime at that moment and its boot id, which setting the clock does not change.
alter table sync_state add column clock_ref_at_ns integer;
alter table sync_state add column clock_ref_boot text;
alter table sync_state add column clock_ref_uptime_ms integer;
