-- When an import's validation last moved (each chunk staged, or a minute waited for its
-- turn): a job `validating` that has not moved for `bulk::import::STALLED_SECS` was
-- abandoned by a server that stopped (a restart, a crash) and reads as `failed`, instead
-- of validating forever.
alter table import_job add column progressed_at timestamptz not null default now();
