-- What writing many products costs (a 100,000-product import's commit, measured by
-- `cargo xtask bench import`):
--
-- `product_name_trgm_idx` served no query: under RLS `ilike` cannot use it (see
-- 20261122000003_catalog.sql, which searches names through `product_name_trigram`
-- instead), and keeping a GIN trigram index up to date was a large share of the cost.
drop index product_name_trgm_idx;

-- The name trigrams of new products: inserted in the order of the primary key, so the
-- B-tree is appended to page by page rather than touched at random, and without
-- `on conflict`: the rows are new products' (show_trgm gives each trigram once), so no
-- row can exist yet, and a speculative insertion per row is pure cost.
create or replace function product_name_trigram_insert() returns trigger language plpgsql as $$
begin
    insert into product_name_trigram (tenant_id, trigram, product_id)
    select n.tenant_id, t collate "C", n.id
    from new_rows n, unnest(product_name_trigrams(n.name)) t
    order by 1, 2, 3;
    return null;
end
$$;
