-- Issue #18: a journal movement dated further in the past than this many days when the
-- server receives it is applied but flagged `dated_long_ago` for review (an old clock,
-- or a journal that sat on a device for weeks). Per tenant, changed with PATCH
-- /v1/settings. A constant default: adding the column rewrites nothing.
alter table tenant_setting add column journal_past_limit_days integer not null default 30
    constraint tenant_setting_journal_past_limit_days_check
        check (journal_past_limit_days between 1 and 3650);
