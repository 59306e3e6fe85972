-- Bulk import (issue #16): an import job and its staged rows. Conventions as in the
-- platform migration: `tenant_id` leads every key, RLS enabled and forced with the
-- tenant_isolation policy.
--
-- A job is created when its file was read (file-level refusals answer 4xx and create
-- nothing); a background task validates the rows into `import_row` and counts them;
-- commit applies the staged rows in one transaction with set-based statements over
-- `import_row` (no per-row round trip), then deletes them. A job that is never committed
-- expires: its rows are deleted with it, and nothing else was ever written.

create table import_job (
    tenant_id uuid not null references tenant (id),
    id uuid not null,
    kind text not null constraint import_job_kind_check check (kind in ('products')),
    format text not null constraint import_job_format_check check (format in ('csv', 'xlsx')),
    file_name text not null default '',
    status text not null default 'validating'
        constraint import_job_status_check check (status in ('validating', 'ready', 'committed', 'failed')),
    -- Columns of the file as read (normalized), for the preview.
    columns text[] not null,
    rows_total integer not null,
    rows_done integer not null default 0,
    to_create integer not null default 0,
    to_update integer not null default 0,
    unchanged integer not null default 0,
    errors integer not null default 0,
    -- Why validation failed (status `failed`): a server-side failure, never the file's.
    failure text,
    created_by text not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    committed_at timestamptz,
    primary key (tenant_id, id)
);

-- Sweeping expired jobs reads one tenant's jobs by expiry.
create index import_job_expiry_idx on import_job (tenant_id, expires_at);

create table import_row (
    tenant_id uuid not null,
    job_id uuid not null,
    -- The row's number in the file as a spreadsheet shows it (the header is row 1).
    row_no integer not null,
    action text not null constraint import_row_action_check check (action in ('create', 'update', 'unchanged', 'error')),
    -- The product a row updates (or leaves unchanged); for a creation, the id it gets.
    target_id uuid,
    -- The record as it will be written (validated, merged with the existing one).
    data jsonb,
    -- Each failing cell: [{column, value, message}].
    errors jsonb,
    primary key (tenant_id, job_id, row_no),
    foreign key (tenant_id, job_id) references import_job (tenant_id, id) on delete cascade
);

grant select, insert, update, delete on import_job, import_row to logiflow_app;

do $$
declare
    t text;
begin
    foreach t in array array['import_job', 'import_row']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy tenant_isolation on %I using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    end loop;
end
$$;
