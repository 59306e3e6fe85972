//! Stock search: the query builder over the pulled rows (SKU prefix, trigram name index,
//! barcode), overlaid with the projection of the products that have live journal entries.

use std::collections::BTreeSet;

use logiflow_core::{LocationId, ProductId, StockKey, StockRow};
use rusqlite::{Connection, params};

use super::Replica;
use super::live::{ENTRY_PRODUCT, LIVE, Products, live_products, project};
use crate::Result;
use crate::api::{STOCK_LIMIT_MAX, Search, StockLine, StockQuery};
use crate::db::{lot_col, lot_from_col, parse_id};
use crate::projection::Projection;

/// The default number of stock lines.
const STOCK_LIMIT_DEFAULT: usize = 200;

impl Replica {
    /// Stock as the person should see it: the pulled state plus this device's unsettled
    /// journal, replayed by the core rules; filtered by product search, bin and
    /// warehouse; ordered by SKU, bin code and lot code.
    pub fn stock(&self, query: &StockQuery) -> Result<Vec<StockLine>> {
        self.stock_in(query, None)
    }

    /// [`Replica::stock`], limited to the bins `within` when given.
    ///
    /// The pulled rows that match come from one indexed query; only the products among
    /// them that have live journal entries, and the products with live entries that the
    /// search names (their rows may exist only in the projection), are replayed.
    pub(super) fn stock_in(
        &self,
        query: &StockQuery,
        within: Option<&BTreeSet<LocationId>>,
    ) -> Result<Vec<StockLine>> {
        let limit = query
            .limit
            .unwrap_or(STOCK_LIMIT_DEFAULT)
            .min(STOCK_LIMIT_MAX);
        let filter = Filter::new(query, within);
        let condition = filter.lines_condition(&self.conn, limit)?;

        let sql = format!(
            "select r.product_id, p.sku, p.name, r.location_id, l.code, w.code, r.lot_id, lt.code,
                    r.on_hand, r.allocated
             from stock_row r
             join product p on p.id = r.product_id
             join location l on l.id = r.location_id
             left join warehouse w on w.id = l.warehouse_id
             left join lot lt on lt.id = r.lot_id
             where {}
             order by p.sku, l.code, coalesce(lt.code, '')
             limit {limit}",
            condition
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut lines = Vec::new();
        let mut rows = stmt.query(filter.params(&sql).as_slice())?;
        while let Some(r) = rows.next()? {
            lines.push(line_from_row(r)?);
        }

        let live = live_products(&self.conn)?;
        if live.is_empty() {
            return Ok(lines);
        }
        let mut replay: BTreeSet<ProductId> = lines
            .iter()
            .map(|l| l.product)
            .filter(|p| live.contains(p))
            .collect();
        replay.extend(filter.live_matches(&self.conn)?);
        if replay.is_empty() {
            return Ok(lines);
        }
        let projection = project(&self.conn, Products::Only(&replay), self.server_estimate()?)?;

        let mut seen = BTreeSet::new();
        for line in &mut lines {
            let key = StockKey {
                product: line.product,
                location: line.location,
                lot: line.lot,
            };
            if let Some(p) = projection.rows.get(&key) {
                overlay(line, p, projection.pulled.get(&key));
            }
            seen.insert(key);
        }
        self.projected_only_lines(&filter, &projection, &seen, &mut lines)?;
        lines.sort_by(|a, b| {
            (&a.sku, &a.location_code, &a.lot_code).cmp(&(&b.sku, &b.location_code, &b.lot_code))
        });
        lines.truncate(limit);
        Ok(lines)
    }

    /// Adds to `lines` the rows that exist only in the projection (a first booking to a
    /// row) and match the filter; `seen` holds the rows already listed.
    fn projected_only_lines(
        &self,
        filter: &Filter,
        projection: &Projection,
        seen: &BTreeSet<StockKey>,
        lines: &mut Vec<StockLine>,
    ) -> Result<()> {
        let one = format!(
            "select p.id, p.sku, p.name, l.id, l.code, w.code, :lot, lt.code, 0, 0
             from product p
             join location l on l.id = :l
             left join warehouse w on w.id = l.warehouse_id
             left join lot lt on lt.id = :lot
             where p.id = :p and {}",
            filter.exact
        );
        for (key, row) in &projection.rows {
            if seen.contains(key) || projection.pulled.contains_key(key) {
                continue;
            }
            let mut stmt = self.conn.prepare_cached(&one)?;
            let mut params = filter.params(&one);
            let (p, l, lot) = (
                key.product.to_string(),
                key.location.to_string(),
                lot_col(key.lot),
            );
            params.push((":p", &p as &dyn rusqlite::ToSql));
            params.push((":l", &l));
            params.push((":lot", &lot));
            let mut rows = stmt.query(params.as_slice())?;
            if let Some(r) = rows.next()? {
                let mut line = line_from_row(r)?;
                overlay(&mut line, row, None);
                lines.push(line);
            }
        }
        Ok(())
    }
}

/// A name search with more than this many times the lines wanted in trigram hits walks
/// the SKU index (see [`Filter::lines_condition`]).
const NAME_WALK_FACTOR: usize = 3;

/// The SQL condition of a stock query over `product p`, `location l` and `warehouse w`,
/// with its named parameters, in two forms of the same meaning: `indexed` for the query
/// that finds the lines (a name search of three characters or more goes through the
/// trigram index), `exact` for checking given products (no subquery that would read an
/// index for every check).
struct Filter {
    indexed: String,
    exact: String,
    /// The search's condition alone, over `product p` (`exact` form); none without one.
    search: Option<String>,
    /// A name search of three characters or more and nothing else.
    name_only: bool,
    sku_lo: Option<String>,
    sku_hi: Option<String>,
    like: Option<String>,
    fts: Option<String>,
    barcode: Option<String>,
    bin: Option<String>,
    warehouse: Option<String>,
}

impl Filter {
    /// The filter of `q`, limited to the bins `within` when given.
    ///
    /// Longer than 80 lines: the four search forms are built side by side, each in its
    /// indexed and exact SQL form, so that the two can be compared term for term.
    fn new(q: &StockQuery, within: Option<&BTreeSet<LocationId>>) -> Self {
        let (mut sku_lo, mut like, mut fts, mut barcode) = (None, None, None, None);
        // SKUs are stored upper case and use only `A-Z 0-9 - _ . /`, all below `~`, so
        // `sku >= prefix and sku < prefix || '~'` is an index range over the prefix.
        let sku_cond = "(p.sku >= :sku_lo and p.sku < :sku_hi)";
        let name_cond = "(p.name_fold like :name escape '\\')";
        let barcode_cond = "(p.id in (select product_id from barcode where code = :barcode))";
        // The trigram index finds the candidates (every product whose name holds the
        // query's trigrams in a row); the LIKE keeps the meaning exactly what it is
        // without the index.
        let name_indexed = format!(
            "(p.key in (select rowid from product_name_fts where product_name_fts match :fts) \
             and {name_cond})"
        );
        let mut name = |s: &str| {
            like = Some(like_pattern(s));
            fts = fts_phrase(s);
            if fts.is_some() {
                name_indexed.clone()
            } else {
                name_cond.to_owned()
            }
        };
        let (search_indexed, search_exact) = match &q.search {
            None => (None, None),
            Some(Search::SkuPrefix(s)) => {
                sku_lo = Some(s.trim().to_ascii_uppercase());
                (Some(sku_cond.to_owned()), Some(sku_cond.to_owned()))
            }
            Some(Search::Name(s)) => (Some(name(s)), Some(name_cond.to_owned())),
            Some(Search::Barcode(s)) => {
                barcode = Some(s.trim().to_owned());
                (Some(barcode_cond.to_owned()), Some(barcode_cond.to_owned()))
            }
            Some(Search::Any(s)) => {
                sku_lo = Some(s.trim().to_ascii_uppercase());
                barcode = Some(s.trim().to_owned());
                let name = name(s);
                (
                    Some(format!("({sku_cond} or {name} or {barcode_cond})")),
                    Some(format!("({sku_cond} or {name_cond} or {barcode_cond})")),
                )
            }
        };
        let mut rest = Vec::new();
        let bin = q.bin.as_ref().map(|b| b.trim().to_ascii_uppercase());
        if bin.is_some() {
            rest.push("l.code = :bin".to_owned());
        }
        if q.warehouse.is_some() {
            rest.push("w.code = :warehouse".to_owned());
        }
        if let Some(within) = within {
            // Location ids are UUIDs (hex and dashes), so quoting them inline is safe;
            // the set is bounded by COUNT_BINS_MAX.
            let list: Vec<String> = within.iter().map(|id| format!("'{id}'")).collect();
            rest.push(format!("l.id in ({})", list.join(", ")));
        }
        let join = |search: &Option<String>| {
            let all: Vec<&str> = search
                .iter()
                .map(String::as_str)
                .chain(rest.iter().map(String::as_str))
                .collect();
            if all.is_empty() {
                "1 = 1".to_owned()
            } else {
                all.join(" and ")
            }
        };
        Self {
            name_only: fts.is_some()
                && rest.is_empty()
                && matches!(q.search, Some(Search::Name(_))),
            indexed: join(&search_indexed),
            exact: join(&search_exact),
            search: search_exact,
            sku_hi: sku_lo.as_ref().map(|lo| format!("{lo}~")),
            sku_lo,
            like,
            fts,
            barcode,
            bin,
            warehouse: q.warehouse.as_ref().map(|w| w.trim().to_owned()),
        }
    }

    /// The condition of the query that finds the lines, at most `limit` of them.
    ///
    /// A common name ("cotton shirt") can name thousands of products, and joining each
    /// to its rows to sort them all by SKU costs a few microseconds apiece, tens of
    /// milliseconds in all. The first `limit` lines in SKU order come from at most
    /// `limit` products — the first ones in SKU order that have a row — so a name search
    /// alone picks those products first. With many hits it walks the SKU index in
    /// order, testing each entry's key against the trigram hits without reading the
    /// product, and stops after `limit` products; with few hits it reads just those.
    fn lines_condition(&self, conn: &Connection, limit: usize) -> Result<String> {
        if !self.name_only {
            return Ok(self.indexed.clone());
        }
        let hits: i64 = conn
            .prepare_cached(
                "select count(*) from product_name_fts where product_name_fts match ?1",
            )?
            .query_row(params![self.fts], |r| r.get(0))?;
        // Walking the index costs about `products / hits` entries per product found,
        // each far cheaper than reading a hit's product: the walk wins once the hits
        // are a few times the lines wanted. The `+` keeps SQLite from looking the hits
        // up by key instead.
        let walk = if hits > (NAME_WALK_FACTOR * limit) as i64 {
            "+"
        } else {
            ""
        };
        Ok(format!(
            "p.id in (select c.id from product c
                      where {walk}c.key in
                                (select rowid from product_name_fts where product_name_fts match :fts)
                        and c.name_fold like :name escape '\\'
                        and exists (select 1 from stock_row x where x.product_id = c.id)
                      order by c.sku limit {limit})"
        ))
    }

    /// The named parameters `sql` uses (SQLite refuses a name the statement lacks).
    fn params(&self, sql: &str) -> Vec<(&'static str, &dyn rusqlite::ToSql)> {
        let all: [(&'static str, &Option<String>); 7] = [
            (":sku_lo", &self.sku_lo),
            (":sku_hi", &self.sku_hi),
            (":name", &self.like),
            (":fts", &self.fts),
            (":barcode", &self.barcode),
            (":bin", &self.bin),
            (":warehouse", &self.warehouse),
        ];
        all.into_iter()
            .filter(|(name, _)| sql.contains(name))
            .filter_map(|(name, value)| value.as_ref().map(|v| (name, v as &dyn rusqlite::ToSql)))
            .collect()
    }

    /// The products with live journal entries that the search names: their projected
    /// rows may match though no pulled row does. Driven by the live entries (the
    /// pending journal's products), each checked with the exact condition.
    fn live_matches(&self, conn: &Connection) -> Result<BTreeSet<ProductId>> {
        let sql = format!(
            "select p.id from product p
             where p.id in (select {ENTRY_PRODUCT} from journal where {LIVE}) and {}",
            self.search.as_deref().unwrap_or("1 = 1")
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(self.params(&sql).as_slice())?;
        let mut out = BTreeSet::new();
        while let Some(r) = rows.next()? {
            out.insert(parse_id(&r.get::<_, String>(0)?)?);
        }
        Ok(out)
    }
}

/// The FTS5 query for names containing `s` (trimmed, lowercased as `name_fold` is): every
/// trigram of it, each quoted so that no character of it is query syntax. The index keeps
/// no positions (`detail = none`), so this finds names holding all the trigrams anywhere,
/// a superset the LIKE then narrows to the substring. None when `s` is shorter than three
/// characters, which a trigram index cannot look up.
fn fts_phrase(s: &str) -> Option<String> {
    let chars: Vec<char> = s.trim().to_lowercase().chars().collect();
    if chars.len() < 3 {
        return None;
    }
    let trigrams: BTreeSet<String> = chars
        .windows(3)
        .map(|w| w.iter().collect::<String>().replace('"', "\"\""))
        .collect();
    Some(
        trigrams
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(" AND "),
    )
}

fn like_pattern(s: &str) -> String {
    let mut out = String::from("%");
    for c in s.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn line_from_row(r: &rusqlite::Row<'_>) -> Result<StockLine> {
    let on_hand: i64 = r.get(8)?;
    let allocated: i64 = r.get(9)?;
    Ok(StockLine {
        product: parse_id(&r.get::<_, String>(0)?)?,
        sku: r.get(1)?,
        name: r.get(2)?,
        location: parse_id(&r.get::<_, String>(3)?)?,
        location_code: r.get(4)?,
        warehouse_code: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        lot: lot_from_col(&r.get::<_, String>(6)?)?,
        lot_code: r.get(7)?,
        on_hand,
        allocated,
        available: on_hand - allocated,
        pending: 0,
    })
}

fn overlay(line: &mut StockLine, projected: &StockRow, pulled: Option<&StockRow>) {
    let base = pulled.map_or(0, |p| p.on_hand);
    line.on_hand = projected.on_hand;
    line.allocated = projected.allocated;
    line.available = projected.available();
    line.pending = projected.on_hand - base;
}
