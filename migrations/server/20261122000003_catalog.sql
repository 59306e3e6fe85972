-- Product name search under row-level security.
--
-- `product_name_trgm_idx` (a GIN trigram index) cannot serve the application: under RLS,
-- PostgreSQL only uses a condition as an index condition before the policy's check when
-- its operator is leakproof, and `ilike` (texticlike) is not. As the application role,
-- `name ilike '%…%'` therefore scans every product of the tenant (measured: 176 ms on
-- 100k products). Marking texticlike leakproof needs a superuser and changes it for the
-- whole cluster, so instead the trigrams are kept in a table of their own, searched with
-- `=` (texteq, leakproof) on its primary key, and the few candidates are rechecked with
-- `ilike`.
--
-- Only the inner trigrams of each word are stored (those without the blank padding that
-- pg_trgm adds at word ends): a word of a search text is a contiguous run of letters and
-- digits inside some word of a matching name, so its inner trigrams are among that word's
-- inner trigrams. Both sides come from pg_trgm's show_trgm, so they split words and fold
-- case the same way.
create table product_name_trigram (
    tenant_id uuid not null,
    trigram text collate "C" not null,
    product_id uuid not null,
    -- "Products having this trigram" is a range of the primary key; so is "this
    -- product's rows" once its name gives the trigrams (the update trigger's delete).
    -- No foreign key: the triggers below keep the rows in step with product, and a
    -- per-row foreign-key check would double the cost of a bulk product import. Products
    -- are never deleted.
    primary key (tenant_id, trigram, product_id)
);

alter table product_name_trigram enable row level security;
alter table product_name_trigram force row level security;
create policy tenant_isolation on product_name_trigram
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
grant select, insert, delete on product_name_trigram to logiflow_app;

-- The inner trigrams of a text, as the search computes them for its query text too.
create function product_name_trigrams(name text) returns text[]
    language sql immutable strict parallel safe
    return array(select t from unnest(show_trgm(name)) t where t !~ ' ');

-- Statement-level triggers with transition tables: a set-based insert of many products
-- indexes their names in one statement too.
create function product_name_trigram_insert() returns trigger language plpgsql as $$
begin
    insert into product_name_trigram (tenant_id, trigram, product_id)
    select n.tenant_id, t, n.id
    from new_rows n, unnest(product_name_trigrams(n.name)) t
    on conflict do nothing;
    return null;
end
$$;

create function product_name_trigram_update() returns trigger language plpgsql as $$
begin
    -- Only products whose name changed are reindexed.
    delete from product_name_trigram x
    using new_rows n join old_rows o on o.tenant_id = n.tenant_id and o.id = n.id
    where n.name is distinct from o.name and x.tenant_id = o.tenant_id
      and x.trigram = any(product_name_trigrams(o.name)) and x.product_id = o.id;
    insert into product_name_trigram (tenant_id, trigram, product_id)
    select n.tenant_id, t, n.id
    from new_rows n join old_rows o on o.tenant_id = n.tenant_id and o.id = n.id,
         unnest(product_name_trigrams(n.name)) t
    where n.name is distinct from o.name
    on conflict do nothing;
    return null;
end
$$;

create trigger product_name_trigram_insert after insert on product
    referencing new table as new_rows
    for each statement execute function product_name_trigram_insert();

create trigger product_name_trigram_update after update on product
    referencing old table as old_rows new table as new_rows
    for each statement execute function product_name_trigram_update();

-- Products created before this migration.
insert into product_name_trigram (tenant_id, trigram, product_id)
select p.tenant_id, t, p.id from product p, unnest(product_name_trigrams(p.name)) t;
