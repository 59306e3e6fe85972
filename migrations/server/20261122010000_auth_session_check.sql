-- The per-request check of an access token in one round trip.
--
-- Every authenticated request re-reads its session and user (a revoked session or a
-- disabled user fails on the next request) and its tenant's plan rate and expiry. Done as
-- a transaction (begin, set_config, select, commit) plus a query for the tenant, that is
-- five round trips to PostgreSQL before the handler starts. This function does it in one
-- call: PL/pgSQL runs its statements in order, so `app.tenant_id` is set before the
-- select's row-level security policies are evaluated (in a single plain statement the
-- planner could evaluate them first). `set_config(…, true)` is local to the calling
-- statement's transaction: an autocommit call leaves nothing on the pooled connection.
-- Security invoker (the default): the caller's RLS applies, nothing is bypassed.
create function auth_session_check(p_tenant_id uuid, p_user_id uuid, p_session_id uuid)
returns table (role text, expired boolean, requests_per_second integer)
language plpgsql
as $$
#variable_conflict use_column
begin
    perform set_config('app.tenant_id', p_tenant_id::text, true);
    return query
        select u.role, t.subscription_expires_at <= now(), p.requests_per_second
        from app_user u
        join session s on s.tenant_id = u.tenant_id and s.user_id = u.id
        join tenant t on t.id = u.tenant_id
        join plan p on p.code = t.plan_code
        where u.tenant_id = p_tenant_id and u.id = p_user_id and u.disabled_at is null
          and s.id = p_session_id and s.revoked_at is null;
end
$$;

grant execute on function auth_session_check(uuid, uuid, uuid) to logiflow_app;
