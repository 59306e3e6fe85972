//! Resolving what a person typed or scanned (product, lot, location) against the local
//! catalog, and the catalog facts that validating a movement needs.

use std::collections::HashMap;

use logiflow_core::{
    Catalog, LocationFacts, LocationId, LotFacts, LotId, Movement, ProductFacts, ProductId,
    RejectCode, Rejection, WarehouseId,
};
use rusqlite::{Connection, params};

use super::Replica;
use crate::api::{ItemRef, ProductRef};
use crate::db::{optional, parse_id};
use crate::{Error, Result};

impl Replica {
    /// The product a scan or typed SKU names, as [`Replica::record`] would resolve it:
    /// an exact barcode first, else a SKU; a misread GTIN says so.
    pub fn resolve_item(&self, item: &ItemRef) -> Result<ProductRef> {
        let found = resolve_product(&self.conn, item)?;
        let name = self.conn.query_row(
            "select name from product where id = ?1",
            params![found.id.to_string()],
            |r| r.get(0),
        )?;
        Ok(ProductRef {
            id: found.id,
            sku: found.sku,
            name,
            lot_tracked: found.lot_tracked,
        })
    }
}

pub(super) struct ResolvedProduct {
    pub(super) id: ProductId,
    pub(super) sku: String,
    lot_tracked: bool,
}

pub(super) fn resolve_product(conn: &Connection, item: &ItemRef) -> Result<ResolvedProduct> {
    let by_sku = |raw: &str| -> Result<Option<ResolvedProduct>> {
        let Ok(sku) = logiflow_core::Sku::parse(raw) else {
            return Ok(None);
        };
        product_where(conn, "sku = ?1", sku.as_str())
    };
    let by_barcode = |raw: &str| -> Result<Option<ResolvedProduct>> {
        product_where(
            conn,
            "id = (select product_id from barcode where code = ?1)",
            raw.trim(),
        )
    };
    let (found, what, value) = match item {
        ItemRef::Sku(s) => {
            logiflow_core::Sku::parse(s).map_err(|e| Error::code_err("sku", e))?;
            (by_sku(s)?, "sku", s)
        }
        ItemRef::Barcode(b) => (by_barcode(b)?, "barcode", b),
        ItemRef::Scan(s) => {
            let found = match by_barcode(s)? {
                Some(p) => Some(p),
                None => by_sku(s)?,
            };
            // A GTIN with a wrong check digit is a misread scan: say so rather than
            // "unknown product", so the person scans again.
            if found.is_none()
                && let Err(e @ logiflow_core::CodeError::CheckDigit { .. }) =
                    logiflow_core::Barcode::parse(s)
            {
                return Err(Error::code_err("barcode", e));
            }
            (found, "sku or barcode", s)
        }
    };
    found.ok_or_else(|| Error::UnknownProduct {
        what,
        value: value.trim().to_owned(),
    })
}

fn product_where(conn: &Connection, cond: &str, value: &str) -> Result<Option<ResolvedProduct>> {
    let sql = format!("select id, sku, lot_tracked from product where {cond}");
    let row: Option<(String, String, bool)> = optional(
        conn.prepare_cached(&sql)?
            .query_row(params![value], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))),
    )?;
    row.map(|(id, sku, lot_tracked)| {
        Ok(ResolvedProduct {
            id: parse_id(&id)?,
            sku,
            lot_tracked,
        })
    })
    .transpose()
}

pub(super) fn resolve_lot(
    conn: &Connection,
    product: &ResolvedProduct,
    raw: &str,
) -> Result<LotId> {
    let code = logiflow_core::LotCode::parse(raw).map_err(|e| Error::code_err("lot", e))?;
    if !product.lot_tracked {
        return Err(Error::Rejected(Rejection {
            code: RejectCode::LotNotTracked,
            message: format!(
                "product {} is not lot-tracked: no lot may be given",
                product.sku
            ),
        }));
    }
    let id: Option<String> = optional(conn.query_row(
        // A lot this device created offline (`local`) only until the server's lot of
        // that code is pulled.
        "select id from lot where product_id = ?1 and code = ?2 order by local limit 1",
        params![product.id.to_string(), code.as_str()],
        |r| r.get(0),
    ))?;
    match id {
        Some(id) => parse_id(&id),
        None => Err(Error::UnknownLot {
            sku: product.sku.clone(),
            lot: code.to_string(),
        }),
    }
}

pub(super) fn resolve_location(
    conn: &Connection,
    raw: &str,
    warehouse: Option<&str>,
) -> Result<LocationId> {
    let code =
        logiflow_core::LocationCode::parse(raw).map_err(|e| Error::code_err("location", e))?;
    let mut stmt = conn.prepare_cached(
        "select l.id from location l left join warehouse w on w.id = l.warehouse_id
         where l.code = ?1 and (?2 is null or w.code = ?2) limit 2",
    )?;
    let ids: Vec<String> = stmt
        .query_map(params![code.as_str(), warehouse], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    match ids.as_slice() {
        [] => Err(Error::UnknownLocation(code.to_string())),
        [one] => parse_id(one),
        _ => Err(Error::AmbiguousLocation(code.to_string())),
    }
}

/// The facts `validate` needs for one movement, read from the local catalog.
pub(super) struct LocalCatalog {
    products: HashMap<ProductId, ProductFacts>,
    lots: HashMap<LotId, LotFacts>,
    locations: HashMap<LocationId, LocationFacts>,
    line: Option<(logiflow_core::LineRef, logiflow_core::OrderLineFacts)>,
}

impl LocalCatalog {
    /// Reads the facts of `m`'s product, lot, locations and order line from the local
    /// catalog.
    ///
    /// Longer than 80 lines: one small query per fact `validate` asks for, each beside
    /// the fields it fills, so that a fact the server loads has its local twin in one
    /// place.
    pub(super) fn load(conn: &Connection, m: &Movement) -> Result<Self> {
        let mut products = HashMap::new();
        let p: Option<(bool, bool)> = optional(conn.query_row(
            "select active, lot_tracked from product where id = ?1",
            params![m.product.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        ))?;
        if let Some((active, lot_tracked)) = p {
            products.insert(
                m.product,
                ProductFacts {
                    active,
                    lot_tracked,
                },
            );
        }
        let mut lots = HashMap::new();
        if let Some(lot) = m.lot {
            let l: Option<(String, Option<String>)> = optional(conn.query_row(
                "select product_id, expires_on from lot where id = ?1",
                params![lot.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            ))?;
            if let Some((product, expires)) = l {
                lots.insert(
                    lot,
                    LotFacts {
                        product: parse_id(&product)?,
                        expires_on: expires
                            .map(|d| d.parse())
                            .transpose()
                            .map_err(Error::corrupt)?,
                    },
                );
            }
        }
        let mut locations = HashMap::new();
        for key in m.keys() {
            let l: Option<(String, bool, bool)> = optional(conn.query_row(
                "select warehouse_id, active, is_leaf from location where id = ?1",
                params![key.location.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            ))?;
            if let Some((warehouse, active, is_leaf)) = l {
                locations.insert(
                    key.location,
                    LocationFacts {
                        warehouse: parse_id::<WarehouseId>(&warehouse)?,
                        active,
                        is_leaf,
                    },
                );
            }
        }
        // A line is known from the pulled orders.
        let mut line = None;
        if let Some(reference) = m.reference {
            let sql = match reference {
                logiflow_core::LineRef::PurchaseLine(_) => {
                    "select product_id from purchase_line where id = ?1"
                }
                logiflow_core::LineRef::SalesLine(_) => {
                    "select product_id from sales_line where id = ?1"
                }
            };
            let product: Option<String> =
                optional(conn.query_row(sql, params![reference.id().to_string()], |r| r.get(0)))?;
            if let Some(product) = product {
                line = Some((
                    reference,
                    logiflow_core::OrderLineFacts {
                        product: parse_id(&product)?,
                    },
                ));
            }
        }
        Ok(Self {
            products,
            lots,
            locations,
            line,
        })
    }
}

impl Catalog for LocalCatalog {
    fn product(&self, id: ProductId) -> Option<ProductFacts> {
        self.products.get(&id).copied()
    }
    fn lot(&self, id: LotId) -> Option<LotFacts> {
        self.lots.get(&id).copied()
    }
    fn location(&self, id: LocationId) -> Option<LocationFacts> {
        self.locations.get(&id).copied()
    }
    fn order_line(&self, line: logiflow_core::LineRef) -> Option<logiflow_core::OrderLineFacts> {
        self.line
            .filter(|(l, _)| *l == line)
            .map(|(_, facts)| facts)
    }
}
