//! Catalog writes that touch several rows, inside the caller's tenant transaction: the
//! location tree's rules (depth, stock only in leaves, what may be deleted) and the
//! product rules (custom fields, barcodes, lot tracking) applied under the locks that
//! make them hold, each write audited and recorded for devices to pull.

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::access::Principal;
use crate::catalog::location::{LOCATION_DEPTH_MAX, Location, validate_location_name};
use crate::catalog::product::{
    CUSTOM_LEN_MAX, ExpiryPolicy, Product, parse_barcodes, parse_sku, validate_money,
    validate_reorder, validate_uom,
};
use crate::catalog::warehouse::parse_code;
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::quota;
use crate::store;
use crate::store::catalog_change::{Entity, Write};
use crate::users::validate_name;

/// A location to create, as asked: under `parent_id`, or top-level in `warehouse_id` (at
/// least one is required; when both are given they must agree).
#[derive(Debug, Clone, Copy)]
pub struct LocationRequest<'a> {
    pub warehouse_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    /// As typed; parsed here.
    pub code: &'a str,
    /// As typed; trimmed and checked here.
    pub name: Option<&'a str>,
}

/// Creates a location (counts against the plan's `max_locations`). Its parent is locked,
/// so a concurrent child creation or deletion of the parent waits, and the parent's stock
/// rows are share-locked: a location holding stock gets no children.
pub async fn create_location(
    tx: &mut TenantTx,
    principal: &Principal,
    req: LocationRequest<'_>,
) -> ApiResult<Location> {
    let code = parse_code(req.code)?;
    let name = validate_location_name(req.name.unwrap_or(""))?;
    let place = place_children(tx, req.warehouse_id, req.parent_id).await?;
    let new = store::locations::NewLocation {
        warehouse_id: place.warehouse_id,
        parent_id: req.parent_id,
        path: place.path_of(&code),
        depth: place.depth,
        code,
        name,
    };
    quota::check(tx, quota::Counted::Locations).await?;
    let l = store::locations::insert(tx, new).await?;
    store::catalog_change::record(
        tx,
        principal,
        Write {
            entity: Entity::Location,
            id: l.id,
            warehouse_id: Some(l.warehouse_id),
            action: "location.create",
            before: None,
            after: Some(&l),
        },
    )
    .await?;
    Ok(l)
}

/// Where new locations go: under a parent (locked) or at the top of a warehouse.
#[derive(Debug, Clone)]
pub struct Placement {
    pub warehouse_id: Uuid,
    /// The parent's path (`None` at the top level).
    pub parent_path: Option<String>,
    /// The new locations' depth.
    pub depth: i32,
}

impl Placement {
    /// The path of a new location with `code` (core's rule, which the replica follows
    /// for the pick walk).
    pub fn path_of(&self, code: &str) -> String {
        logiflow_core::orders::child_path(self.parent_path.as_deref(), code)
    }
}

/// Checks that locations may be created under `parent_id`, or at the top of
/// `warehouse_id` (at least one is required; when both are given they must agree): the
/// parent exists, is locked (`for update`, so a concurrent creation under it or its
/// deletion waits), is not too deep and holds no stock (its stock rows share-locked:
/// stock lives in leaves).
pub async fn place_children(
    tx: &mut TenantTx,
    warehouse_id: Option<Uuid>,
    parent_id: Option<Uuid>,
) -> ApiResult<Placement> {
    let Some(parent_id) = parent_id else {
        let Some(warehouse_id) = warehouse_id else {
            return Err(ApiError::BadRequest(
                "a location needs a warehouse_id or a parent_id".into(),
            ));
        };
        if store::warehouses::get(tx, warehouse_id).await?.is_none() {
            return Err(ApiError::ReferenceNotFound(format!(
                "warehouse {warehouse_id} not found"
            )));
        }
        return Ok(Placement {
            warehouse_id,
            parent_path: None,
            depth: 0,
        });
    };
    let parent = store::locations::get_for_update(tx, parent_id)
        .await?
        .ok_or_else(|| {
            ApiError::ReferenceNotFound(format!("parent location {parent_id} not found"))
        })?;
    if warehouse_id.is_some_and(|w| w != parent.warehouse_id) {
        return Err(ApiError::InvalidParent(
            "the parent location is in another warehouse".into(),
        ));
    }
    if parent.depth >= LOCATION_DEPTH_MAX {
        return Err(ApiError::BadRequest(format!(
            "locations nest at most {} levels deep",
            LOCATION_DEPTH_MAX + 1
        )));
    }
    if store::locations::lock_stock(tx, parent_id).await? {
        return Err(ApiError::LocationHasStock);
    }
    Ok(Placement {
        warehouse_id: parent.warehouse_id,
        parent_path: Some(parent.path),
        depth: parent.depth + 1,
    })
}

/// Checked changes to a location; `None` leaves a field as it is. The warehouse and
/// parent never change (stock rows and movements are denormalized by warehouse).
#[derive(Debug, Clone, Default)]
pub struct LocationChanges {
    code: Option<String>,
    name: Option<String>,
    active: Option<bool>,
}

impl LocationChanges {
    /// Parses the code and checks the name, before anything is read.
    pub fn parse(code: Option<&str>, name: Option<&str>, active: Option<bool>) -> ApiResult<Self> {
        Ok(Self {
            code: code.map(parse_code).transpose()?,
            name: name.map(validate_location_name).transpose()?,
            active,
        })
    }
}

/// Changes a location's code, name or active flag. A new code rewrites the paths of the
/// location and its descendants in one statement, and each descendant gets a catalog
/// change; reactivating is quota-checked.
pub async fn update_location(
    tx: &mut TenantTx,
    principal: &Principal,
    id: Uuid,
    changes: LocationChanges,
) -> ApiResult<Location> {
    let before = store::locations::get_for_update(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if changes.active == Some(true) && !before.active {
        quota::check(tx, quota::Counted::Locations).await?;
    }
    // Descendants whose path changed with the code: each gets a catalog change.
    let mut moved = Vec::new();
    if let Some(code) = changes.code.filter(|c| *c != before.code) {
        let parent_path = before
            .path
            .rsplit_once(logiflow_core::orders::PATH_SEPARATOR)
            .map(|(parent, _)| parent);
        let new_path = logiflow_core::orders::child_path(parent_path, &code);
        moved = store::locations::recode(tx, &before, &code, &new_path).await?;
        moved.retain(|l| l.id != id);
    }
    let after = store::locations::update(tx, id, changes.name, changes.active).await?;
    store::catalog_change::record(
        tx,
        principal,
        Write {
            entity: Entity::Location,
            id,
            warehouse_id: Some(after.warehouse_id),
            action: "location.update",
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await?;
    for l in &moved {
        store::catalog_change::upsert(tx, Entity::Location, l.id, Some(l.warehouse_id)).await?;
    }
    Ok(after)
}

/// Deletes a location, refused while it holds stock, has children, or has stock history
/// (deleting it would erase history: deactivate it instead).
pub async fn delete_location(tx: &mut TenantTx, principal: &Principal, id: Uuid) -> ApiResult<()> {
    let before = store::locations::get_for_update(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if store::locations::holds_stock(tx, id).await? {
        return Err(ApiError::LocationHasStock);
    }
    if store::locations::has_children(tx, id).await? {
        return Err(ApiError::LocationHasChildren);
    }
    if store::locations::has_history(tx, id).await? {
        return Err(ApiError::LocationHasHistory);
    }
    store::locations::delete(tx, id).await?;
    store::catalog_change::record::<Location>(
        tx,
        principal,
        Write {
            entity: Entity::Location,
            id,
            warehouse_id: Some(before.warehouse_id),
            action: "location.delete",
            before: Some(&before),
            after: None,
        },
    )
    .await?;
    // Its parent may hold stock again (a leaf once more): devices pull it anew. (A new
    // child's parent needs no change row: a pull sends the parent of every location it
    // sends, with its leaf state.)
    if let Some(parent) = before.parent_id {
        // A parent is in its child's warehouse.
        store::catalog_change::upsert(tx, Entity::Location, parent, Some(before.warehouse_id))
            .await?;
    }
    Ok(())
}

/// A product to create, as asked; absent fields take their defaults (`pcs`, no lot
/// tracking, `fifo`, reorder levels 0, no cost or price, `{}`, no barcodes).
#[derive(Debug, Clone, Copy)]
pub struct ProductRequest<'a> {
    pub sku: &'a str,
    pub name: &'a str,
    pub uom: Option<&'a str>,
    pub lot_tracked: Option<bool>,
    pub expiry_policy: Option<ExpiryPolicy>,
    pub reorder_point: Option<i64>,
    pub reorder_qty: Option<i64>,
    pub cost: Option<Decimal>,
    pub price: Option<Decimal>,
    pub custom: Option<&'a serde_json::Value>,
    pub barcodes: &'a [String],
}

/// Creates a product (counts against the plan's `max_skus`): its fields checked, its
/// custom fields against the tenant's schema, its barcodes free in the tenant.
pub async fn create_product(
    tx: &mut TenantTx,
    principal: &Principal,
    req: ProductRequest<'_>,
) -> ApiResult<Product> {
    let fields = store::products::ProductFields {
        sku: parse_sku(req.sku)?,
        name: validate_name(req.name)?,
        uom: validate_uom(req.uom.unwrap_or("pcs"))?,
        lot_tracked: req.lot_tracked.unwrap_or(false),
        expiry_policy: req.expiry_policy.unwrap_or(ExpiryPolicy::Fifo),
        reorder_point: validate_reorder("reorder_point", req.reorder_point.unwrap_or(0))?,
        reorder_qty: validate_reorder("reorder_qty", req.reorder_qty.unwrap_or(0))?,
        cost: validate_money("cost", req.cost)?,
        price: validate_money("price", req.price)?,
        custom: req.custom.cloned().unwrap_or_else(|| serde_json::json!({})),
        active: true,
    };
    let barcodes = parse_barcodes(req.barcodes)?;
    validate_custom(tx, &fields.custom).await?;
    check_barcodes(tx, &barcodes, None).await?;
    quota::check(tx, quota::Counted::Skus).await?;
    let id = store::products::insert(tx, &fields).await?;
    if let Some(taken) = store::products::set_barcodes(tx, id, &barcodes).await? {
        return Err(ApiError::BarcodeTaken(taken));
    }
    let product = store::products::get(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    store::catalog_change::record(
        tx,
        principal,
        Write {
            entity: Entity::Product,
            id,
            warehouse_id: None,
            action: "product.create",
            before: None,
            after: Some(&product),
        },
    )
    .await?;
    Ok(product)
}

/// Changes to a product as asked; `None` leaves a field as it is. `cost`/`price`
/// `Some(None)` clears them; `barcodes` (already parsed) replaces the whole set; `custom`
/// replaces the whole object.
#[derive(Debug, Clone)]
pub struct ProductChanges<'a> {
    pub sku: Option<&'a str>,
    pub name: Option<&'a str>,
    pub uom: Option<&'a str>,
    pub lot_tracked: Option<bool>,
    pub expiry_policy: Option<ExpiryPolicy>,
    pub reorder_point: Option<i64>,
    pub reorder_qty: Option<i64>,
    pub cost: Option<Option<Decimal>>,
    pub price: Option<Option<Decimal>>,
    pub custom: Option<&'a serde_json::Value>,
    pub barcodes: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// Changes a product. Lot tracking cannot be turned off while the product has lots, nor
/// on while it holds stock without a lot; reactivating is quota-checked.
///
/// Longer than 80 lines: each rule on a change (lot tracking, reactivation's quota,
/// custom fields, barcodes) is checked against the locked product in turn, then one
/// write, one catalog change and one audit entry; the checks share `before`.
pub async fn update_product(
    tx: &mut TenantTx,
    principal: &Principal,
    id: Uuid,
    changes: ProductChanges<'_>,
) -> ApiResult<Product> {
    let before = store::products::get_for_update(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let fields = store::products::ProductFields {
        sku: match changes.sku {
            Some(s) => parse_sku(s)?,
            None => before.sku.clone(),
        },
        name: match changes.name {
            Some(n) => validate_name(n)?,
            None => before.name.clone(),
        },
        uom: match changes.uom {
            Some(u) => validate_uom(u)?,
            None => before.uom.clone(),
        },
        lot_tracked: changes.lot_tracked.unwrap_or(before.lot_tracked),
        expiry_policy: changes.expiry_policy.unwrap_or(before.expiry_policy),
        reorder_point: validate_reorder(
            "reorder_point",
            changes.reorder_point.unwrap_or(before.reorder_point),
        )?,
        reorder_qty: validate_reorder(
            "reorder_qty",
            changes.reorder_qty.unwrap_or(before.reorder_qty),
        )?,
        cost: match changes.cost {
            Some(c) => validate_money("cost", c)?,
            None => before.cost,
        },
        price: match changes.price {
            Some(c) => validate_money("price", c)?,
            None => before.price,
        },
        custom: changes
            .custom
            .cloned()
            .unwrap_or_else(|| before.custom.clone()),
        active: changes.active.unwrap_or(before.active),
    };
    if let Some(custom) = changes.custom {
        validate_custom(tx, custom).await?;
    }
    if before.lot_tracked && !fields.lot_tracked && store::products::has_lots(tx, id).await? {
        return Err(ApiError::ProductHasLots);
    }
    if !before.lot_tracked
        && fields.lot_tracked
        && store::products::has_unlotted_stock(tx, id).await?
    {
        return Err(ApiError::ProductHasStock);
    }
    if fields.active && !before.active {
        quota::check(tx, quota::Counted::Skus).await?;
    }
    store::products::update(tx, id, &fields).await?;
    if let Some(barcodes) = &changes.barcodes {
        check_barcodes(tx, barcodes, Some(id)).await?;
        if let Some(taken) = store::products::set_barcodes(tx, id, barcodes).await? {
            return Err(ApiError::BarcodeTaken(taken));
        }
    }
    let after = store::products::get(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    store::catalog_change::record(
        tx,
        principal,
        Write {
            entity: Entity::Product,
            id,
            warehouse_id: None,
            action: "product.update",
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await?;
    Ok(after)
}

/// Checks `custom` against the tenant's product field schema, listing every failing
/// field.
async fn validate_custom(tx: &mut TenantTx, custom: &serde_json::Value) -> ApiResult<()> {
    let validator = custom_validator(tx).await?;
    check_custom(&validator, custom)
}

/// The tenant's product field schema, compiled (once per import, not per row).
pub async fn custom_validator(tx: &mut TenantTx) -> ApiResult<jsonschema::Validator> {
    let schema = store::settings::product_field_schema(tx).await?;
    // The schema was checked when it was stored; failing to compile now is a bug.
    jsonschema::validator_for(&schema).map_err(|e| ApiError::internal(e.to_string()))
}

/// Checks `custom` against a compiled product field schema: an object of at most
/// [`CUSTOM_LEN_MAX`] bytes, listing every failing field.
pub fn check_custom(
    validator: &jsonschema::Validator,
    custom: &serde_json::Value,
) -> ApiResult<()> {
    if !custom.is_object() {
        return Err(ApiError::InvalidCustomFields(vec![FieldError {
            field: String::new(),
            message: "custom must be a JSON object".into(),
        }]));
    }
    if custom.to_string().len() > CUSTOM_LEN_MAX {
        return Err(ApiError::BadRequest(format!(
            "custom has at most {CUSTOM_LEN_MAX} bytes of JSON"
        )));
    }
    let errors: Vec<FieldError> = validator
        .iter_errors(custom)
        .map(|e| FieldError {
            field: e.instance_path.as_str().to_owned(),
            message: e.to_string(),
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::InvalidCustomFields(errors))
    }
}

/// Checks that none of `barcodes` belongs to another product.
async fn check_barcodes(
    tx: &mut TenantTx,
    barcodes: &[String],
    product_id: Option<Uuid>,
) -> ApiResult<()> {
    match store::products::taken_barcode(tx, barcodes, product_id).await? {
        Some(taken) => Err(ApiError::BarcodeTaken(taken)),
        None => Ok(()),
    }
}
