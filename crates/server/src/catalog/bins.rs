//! The bin generator: a grid of bins (aisles × racks × levels, `logiflow_core::bins`)
//! created under one location in one request, previewed first.
//!
//! Bins already under that parent with a generated code are kept and counted as
//! existing, so running the generator again with a wider range adds only what is
//! missing; a generated code used elsewhere in the warehouse (codes are unique per
//! warehouse) refuses the whole request. The parent is locked and must not hold stock
//! (stock lives in leaves), like a single location's creation; the plan's location quota
//! is checked for all new bins at once. One audit entry tells what was generated; each
//! new bin gets its catalog change for devices to pull.

use std::collections::HashMap;

use logiflow_core::bins::{BinRangeError, Segment, expand};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::Principal;
use crate::audit_log::{self, Entry};
use crate::catalog::service::place_children;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::quota;
use crate::store;
use crate::store::catalog_change::Entity;

/// Codes named in the refusal of codes used elsewhere.
const TAKEN_SHOWN: usize = 5;

/// What to generate.
#[derive(Debug, Clone)]
pub struct BinRequest {
    /// Under this location; or, without it, top-level in `warehouse_id`.
    pub parent_id: Option<Uuid>,
    pub warehouse_id: Option<Uuid>,
    pub segments: Vec<Segment>,
    pub separator: String,
    /// Only say what would be created.
    pub dry_run: bool,
}

/// A generated bin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GeneratedBinView {
    pub code: String,
    pub name: String,
    pub path: String,
    /// Already under the parent (kept as it is).
    pub exists: bool,
    /// The location's id (absent for a bin a dry run would create).
    pub id: Option<Uuid>,
}

/// What a generation did, or would do.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GeneratedBins {
    pub dry_run: bool,
    /// Bins the segments make.
    pub total: usize,
    /// Bins created (or to create, in a dry run).
    pub new: usize,
    /// Bins already under the parent.
    pub existing: usize,
    /// Every bin, in order.
    pub bins: Vec<GeneratedBinView>,
}

impl From<BinRangeError> for ApiError {
    fn from(e: BinRangeError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

/// Generates the bins of `req` (or, with `dry_run`, says which it would).
///
/// Longer than 80 lines: the parent's lock, the codes taken elsewhere, the quota for the
/// new bins and the one insert are one transaction, in the order a reader checks them.
pub async fn generate(
    tx: &mut TenantTx,
    principal: &Principal,
    req: BinRequest,
) -> ApiResult<GeneratedBins> {
    let bins = expand(&req.segments, &req.separator)?;
    let place = place_children(tx, req.warehouse_id, req.parent_id).await?;
    let warehouse_id = place.warehouse_id;
    let codes: Vec<String> = bins.iter().map(|b| b.code.as_str().to_owned()).collect();
    let mut existing: HashMap<String, Uuid> = HashMap::new();
    let mut taken = Vec::new();
    for l in store::locations::with_codes(tx, warehouse_id, &codes).await? {
        if l.parent_id == req.parent_id {
            existing.insert(l.code, l.id);
        } else {
            taken.push(l.code);
        }
    }
    if !taken.is_empty() {
        taken.sort_unstable();
        let shown = taken.iter().take(TAKEN_SHOWN).cloned().collect::<Vec<_>>();
        return Err(ApiError::Conflict(format!(
            "{} of these codes are used elsewhere in the warehouse ({}{}); location codes are unique per warehouse",
            taken.len(),
            shown.join(", "),
            if taken.len() > TAKEN_SHOWN {
                ", …"
            } else {
                ""
            }
        )));
    }
    let new: Vec<usize> = (0..bins.len())
        .filter(|i| !existing.contains_key(&codes[*i]))
        .collect();
    if !new.is_empty() {
        let (used, limit) = quota::usage(tx, quota::Counted::Locations).await?;
        if used + i64::try_from(new.len()).unwrap_or(i64::MAX) > limit {
            return Err(quota::Counted::Locations.exceeded(limit));
        }
    }
    let mut created: HashMap<String, Uuid> = HashMap::new();
    if !req.dry_run && !new.is_empty() {
        let rows = store::locations::insert_siblings(
            tx,
            store::locations::NewSiblings {
                warehouse_id,
                parent_id: req.parent_id,
                depth: place.depth,
                codes: new.iter().map(|i| codes[*i].clone()).collect(),
                names: new.iter().map(|i| bins[*i].name.clone()).collect(),
                paths: new.iter().map(|i| place.path_of(&codes[*i])).collect(),
            },
        )
        .await?;
        let ids: Vec<Uuid> = rows.iter().map(|l| l.id).collect();
        store::catalog_change::upsert_many(tx, Entity::Location, &ids, Some(warehouse_id)).await?;
        created = rows.into_iter().map(|l| (l.code, l.id)).collect();
        audit_log::record(
            tx,
            principal,
            Entry {
                action: "location.generate",
                target_type: "location",
                target_id: req.parent_id.map(|p| p.to_string()),
                before: None,
                after: audit_log::snapshot(&serde_json::json!({
                    "warehouse_id": warehouse_id,
                    "parent_path": place.parent_path,
                    "created": ids.len(),
                    "existing": existing.len(),
                    "first": codes[new[0]],
                    "last": codes[new[new.len() - 1]],
                })),
            },
        )
        .await?;
    }
    let views = bins
        .into_iter()
        .zip(&codes)
        .map(|(b, code)| GeneratedBinView {
            path: place.path_of(code),
            exists: existing.contains_key(code),
            id: existing.get(code).or_else(|| created.get(code)).copied(),
            code: code.clone(),
            name: b.name,
        })
        .collect();
    Ok(GeneratedBins {
        dry_run: req.dry_run,
        total: codes.len(),
        new: new.len(),
        existing: existing.len(),
        bins: views,
    })
}
