-- Indexes that keep recording and searching fast on a large catalog with a long pending
-- journal (issue #5, benchmark targets).
--
-- 1. The projection replays the unsettled journal per product (a product's rows never
--    depend on another product's entries), so recording a movement replays only its
--    product's entries and a search only those of the products it shows. This partial
--    index makes "the live entries of product P in order" a range read. Its WHERE is the
--    projection's selection of live entries, written identically in the queries
--    (`LIVE` in crates/replica/src/replica.rs): SQLite uses a partial index only when
--    the query repeats its condition term for term. Settled entries leave the index, so
--    its size follows the pending journal, not the journal's whole history.
--
--    The entry's product gets a column of its own, written with the entry, rather than
--    an index on json_extract(movement, …): a search first lists the products that have
--    live entries, and with the columns the condition reads in the index that is a scan
--    of the index alone, where an expression (or a virtual column) over `movement`
--    makes SQLite read and parse every live entry's JSON again.
alter table journal add column product_id text;
update journal set product_id = json_extract(movement, '$.product');
-- The product is part of the recorded movement: immutable like the rest of it.
drop trigger journal_movement_immutable;
create trigger journal_movement_immutable
before update of device_seq, id, occurred_at_ns, recorded_at_ns, base_cursor, user_id, kind, movement,
    product_id
on journal
begin
    select raise(abort, 'a recorded movement never changes');
end;
create index journal_live_by_product
    on journal (product_id, device_seq, settled, status, outcome)
    where (settled = 0 and (status = 'pending' or outcome = 'applied')) or outcome = 'held';

-- 2. Name search by substring uses an FTS5 trigram index instead of scanning every name.
--    An external-content FTS5 table refers to its rows by an integer key; the product
--    table has none of its own (its key is the UUID text), and an implicit rowid may be
--    renumbered by VACUUM, which would silently point the index at the wrong products.
--    So the product table is rebuilt with `key integer primary key` (an alias of the
--    rowid, which VACUUM keeps). Nothing else refers to `key`.
create table product_new (
    -- The full-text index's reference to the row; assigned by SQLite on insert.
    -- SQLite gives a new row the largest key + 1, and the pull never deletes a product,
    -- so the rows a pull page inserted are exactly those above the largest key before
    -- it (see below).
    key integer primary key,
    id text not null unique,
    sku text not null,
    name text not null,
    -- lower(name) (Rust's Unicode lowercase), for case-insensitive substring search.
    name_fold text not null,
    lot_tracked integer not null,
    active integer not null
) strict;

insert into product_new (id, sku, name, name_fold, lot_tracked, active)
select id, sku, name, name_fold, lot_tracked, active from product;

-- Dropping the old table deletes its rows first, and with foreign_keys=ON (which cannot
-- be switched off inside this transaction) that cascades to the barcodes: keep them
-- aside and put them back once the new table holds every product again.
create temp table barcode_keep as select code, product_id from barcode;
drop table product;
alter table product_new rename to product;
-- SKU prefix search is a range scan on this index (SKUs are stored upper case).
create unique index product_by_sku on product (sku);

insert into barcode (code, product_id) select code, product_id from temp.barcode_keep;
drop table temp.barcode_keep;

-- Trigrams of name_fold, case-sensitive because name_fold is already lowercased by the
-- same function that lowercases the query (Rust's `to_lowercase`), so the index agrees
-- exactly with the substring semantics `name_fold like '%query%'`; queries still check
-- that condition on the candidates. Queries shorter than three characters cannot use a
-- trigram index and fall back to the LIKE condition alone.
create virtual table product_name_fts using fts5 (
    name_fold,
    content = 'product',
    content_rowid = 'key',
    tokenize = 'trigram case_sensitive 1',
    -- Neither positions nor per-row token counts: a query asks for rows holding all of
    -- its trigrams (not as a phrase), the LIKE removes the few that hold them apart, and
    -- nothing ranks the hits. This halves the cost of indexing a snapshot's names.
    detail = none,
    columnsize = 0
);

-- New products are added to the index by the one writer of `product`, the pull
-- (`store_page` in crates/replica/src/replica.rs), with one `insert … select` of the keys
-- the page created, before it inserts anything else: an insert trigger would do it row
-- by row, and FTS5 writes its pending terms out at every statement, so a 100,000-product
-- snapshot spent 2.7 s there instead of 0.1 s. Renames and deletions are rare and kept
-- by triggers. An upsert that leaves the name as it was does not touch the index.

create trigger product_name_fts_delete after delete on product
begin
    insert into product_name_fts (product_name_fts, rowid, name_fold)
    values ('delete', old.key, old.name_fold);
end;

create trigger product_name_fts_update after update of name_fold on product
when old.name_fold is not new.name_fold
begin
    insert into product_name_fts (product_name_fts, rowid, name_fold)
    values ('delete', old.key, old.name_fold);
    insert into product_name_fts (rowid, name_fold) values (new.key, new.name_fold);
end;

-- The products already here.
insert into product_name_fts (product_name_fts) values ('rebuild');
