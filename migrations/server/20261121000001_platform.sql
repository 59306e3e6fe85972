-- The multi-tenant platform: plans, tenants, users, sessions, api keys, settings, audit
-- and idempotency records.
--
-- Isolation (DESIGN §4): every tenant table has `tenant_id` leading each key and index,
-- and a row-level security policy comparing it with the transaction-local setting
-- `app.tenant_id`. The server's request pool connects as `logiflow_app`, which owns no
-- table and cannot bypass RLS, so a query that forgets its tenant sees nothing.

-- The application role. Roles are cluster-wide while migrations run per database, so the
-- role may already exist (another database of the same cluster, or a concurrent test
-- migrating its own database at the same moment, which surfaces as a unique violation).
do $$
begin
    create role logiflow_app login nosuperuser nocreatedb nocreaterole nobypassrls;
exception
    when duplicate_object or unique_violation then null;
end
$$;

grant usage on schema public to logiflow_app;
-- /readyz compares the applied migrations with the binary's.
grant select on _sqlx_migrations to logiflow_app;

-- Platform tables (no tenant_id): managed by the platform admin CLI as the owner.
create table plan (
    code text primary key,
    name text not null,
    max_skus integer not null check (max_skus >= 0),
    max_locations integer not null check (max_locations >= 0),
    max_warehouses integer not null check (max_warehouses >= 0),
    max_users integer not null check (max_users >= 0),
    max_devices integer not null check (max_devices >= 0),
    requests_per_second integer not null check (requests_per_second > 0)
);

insert into plan (code, name, max_skus, max_locations, max_warehouses, max_users, max_devices, requests_per_second)
values
    ('free', 'Free', 100, 50, 1, 3, 2, 5),
    ('standard', 'Standard', 10000, 5000, 5, 25, 20, 50),
    ('enterprise', 'Enterprise', 1000000, 500000, 100, 1000, 1000, 500);

create table tenant (
    id uuid primary key,
    -- Login names the tenant by slug (emails are unique per tenant, not globally).
    slug text not null constraint tenant_slug_key unique
        constraint tenant_slug_format check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name text not null,
    plan_code text not null references plan (code),
    -- Past this instant the tenant is read-only (every write answers subscription_expired).
    subscription_expires_at timestamptz not null,
    created_at timestamptz not null default now()
);

-- The request pool reads tenants (login by slug, plan limits) but never changes them.
grant select on plan, tenant to logiflow_app;

-- "user" is a reserved word, hence app_user.
create table app_user (
    tenant_id uuid not null references tenant (id),
    id uuid not null,
    -- Stored lowercased by the server so the unique key is case-insensitive.
    email text not null,
    display_name text not null,
    role text not null
        constraint app_user_role_check check (role in ('admin', 'manager', 'operator', 'purchasing', 'sales', 'viewer')),
    password_hash text not null,
    disabled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint app_user_email_key unique (tenant_id, email)
);

-- A login session: the family of rotating refresh tokens. Revoking it ends the refresh
-- tokens and the access tokens (which carry its id as `sid`) at once.
create table session (
    tenant_id uuid not null,
    id uuid not null,
    user_id uuid not null,
    created_at timestamptz not null default now(),
    revoked_at timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, user_id) references app_user (tenant_id, id)
);

create table refresh_token (
    tenant_id uuid not null,
    id uuid not null,
    session_id uuid not null,
    -- SHA-256 of the token: a database leak does not leak usable tokens.
    token_hash bytea not null,
    expires_at timestamptz not null,
    -- Set when the token is exchanged; presenting it again is a reuse.
    used_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint refresh_token_hash_key unique (tenant_id, token_hash),
    foreign key (tenant_id, session_id) references session (tenant_id, id)
);

create index refresh_token_session_idx on refresh_token (tenant_id, session_id);

create table api_key (
    tenant_id uuid not null,
    id uuid not null,
    name text not null,
    -- The last characters of the key, shown in lists to tell keys apart.
    hint text not null,
    key_hash bytea not null,
    permissions text[] not null,
    created_by uuid not null,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    primary key (tenant_id, id),
    constraint api_key_hash_key unique (tenant_id, key_hash),
    constraint api_key_name_key unique (tenant_id, name)
);

create table tenant_setting (
    tenant_id uuid primary key references tenant (id),
    display_name text not null,
    timezone text not null default 'UTC',
    locale text not null default 'en',
    updated_at timestamptz not null default now()
);

create table audit_log (
    tenant_id uuid not null,
    -- UUIDv7: time-ordered, so the id is also the pagination key.
    id uuid not null,
    at timestamptz not null default now(),
    actor_type text not null check (actor_type in ('user', 'api_key', 'system')),
    actor_id uuid,
    action text not null,
    target_type text not null,
    target_id text,
    before jsonb,
    after jsonb,
    request_id text,
    primary key (tenant_id, id)
);

-- The audit filters: by actor and by target, newest first.
create index audit_log_actor_idx on audit_log (tenant_id, actor_id, id);
create index audit_log_target_idx on audit_log (tenant_id, target_type, target_id, id);

create table idempotency_key (
    tenant_id uuid not null,
    key text not null,
    -- SHA-256 of method, path and body: the same key with another request is refused.
    request_hash bytea not null,
    status smallint not null,
    response jsonb not null,
    created_at timestamptz not null default now(),
    primary key (tenant_id, key)
);

grant select, insert, update, delete on app_user, session, refresh_token, api_key, tenant_setting, idempotency_key to logiflow_app;
-- The audit log is append-only for the application.
grant select, insert on audit_log to logiflow_app;

-- Row-level security on every tenant table. FORCE applies it to the owner too (unless a
-- superuser), so a non-superuser owner running the admin CLI must also scope by tenant.
-- An unset or empty app.tenant_id compares as null: no row is visible or insertable.
do $$
declare
    t text;
begin
    foreach t in array array['app_user', 'session', 'refresh_token', 'api_key', 'tenant_setting', 'audit_log', 'idempotency_key']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy tenant_isolation on %I using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    end loop;
end
$$;
