//! `/v1/products`: the tenant's product catalog (create, search, read, change,
//! deactivate).
//!
//! Products are never deleted (movements and stock refer to them): `PATCH active=false`
//! deactivates one, which also frees room in the plan's `max_skus`. Cost and price are
//! exact decimals carried as JSON strings. `custom` is checked against the tenant's
//! product field schema (`PATCH /v1/settings` `product_field_schema`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Require;
use crate::catalog::product::{
    CUSTOM_LEN_MAX, ExpiryPolicy, NAME_QUERY_LEN_MAX, NAME_QUERY_LEN_MIN, Product, parse_barcodes,
    parse_sku, validate_money, validate_reorder, validate_uom,
};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::quota;
use crate::rbac::perm;
use crate::state::AppState;
use crate::store;
use crate::store::catalog_change::{Entity, Write};
use crate::users::validate_name;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product))
}

/// A page of products.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProductPage {
    pub items: Vec<Product>,
    /// Cursor of the next page, absent on the last.
    pub next_cursor: Option<String>,
}

/// Search filters (combined with "and"); each is served by an index.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// SKUs starting with this (case-insensitive).
    pub sku_prefix: Option<String>,
    /// Case-insensitive substring of the name, with a word of at least 3 letters or
    /// digits.
    pub q: Option<String>,
    /// Exact barcode (as scanned).
    pub barcode: Option<String>,
    pub active: Option<bool>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// A new product.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateProduct {
    pub sku: String,
    pub name: String,
    /// Default `pcs`.
    pub uom: Option<String>,
    /// Default false.
    pub lot_tracked: Option<bool>,
    /// Default `fifo`.
    pub expiry_policy: Option<ExpiryPolicy>,
    /// Default 0.
    pub reorder_point: Option<i64>,
    /// Default 0.
    pub reorder_qty: Option<i64>,
    /// A decimal string, e.g. `"12.50"` (numbers are refused: no floats).
    #[schema(value_type = Option<String>)]
    pub cost: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// Default `{}`; must match the tenant's product field schema.
    #[schema(value_type = Option<Object>)]
    pub custom: Option<serde_json::Value>,
    /// Default none; GTINs must carry a correct check digit.
    pub barcodes: Option<Vec<String>>,
}

/// Changes to a product; absent fields stay as they are. `cost`/`price` `null` clears
/// them; `barcodes` replaces the whole set; `custom` replaces the whole object.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateProduct {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub uom: Option<String>,
    /// Turning it off is refused while the product has lots; on, while it holds stock
    /// without a lot.
    pub lot_tracked: Option<bool>,
    pub expiry_policy: Option<ExpiryPolicy>,
    pub reorder_point: Option<i64>,
    pub reorder_qty: Option<i64>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub cost: Option<Option<Decimal>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub price: Option<Option<Decimal>>,
    #[schema(value_type = Option<Object>)]
    pub custom: Option<serde_json::Value>,
    pub barcodes: Option<Vec<String>>,
    /// `false` deactivates the product; `true` reactivates it (quota-checked).
    pub active: Option<bool>,
}

/// `Option<Option<T>>` that tells an absent field (None) from `null` (Some(None)).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }
}

/// Checks `custom` against the tenant's product field schema, listing every failing
/// field.
async fn validate_custom(tx: &mut TenantTx, custom: &serde_json::Value) -> ApiResult<()> {
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
    let schema = store::settings::product_field_schema(tx).await?;
    // The schema was checked when it was stored; failing to compile now is a bug.
    let validator =
        jsonschema::validator_for(&schema).map_err(|e| ApiError::internal(e.to_string()))?;
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

/// Reads one product, or not found.
pub async fn fetch_product(tx: &mut TenantTx, id: Uuid) -> ApiResult<Product> {
    store::products::get(tx, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// [`fetch_product`], the row locked for update.
pub async fn fetch_product_for_update(tx: &mut TenantTx, id: Uuid) -> ApiResult<Product> {
    store::products::get_for_update(tx, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Searches products, oldest first. Each filter is served by an index, so a search
/// stays fast on 100k products.
#[utoipa::path(get, path = "/v1/products", tag = "catalog", params(ProductQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of products (permission catalog_read)", body = ProductPage),
        (status = 400, description = "bad_request (limit, cursor, q without a word of 3 letters or digits)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_products(
    State(state): State<AppState>,
    p: Require<perm::CatalogRead>,
    ApiQuery(q): ApiQuery<ProductQuery>,
) -> ApiResult<axum::Json<ProductPage>> {
    let pq = PageQuery {
        cursor: q.cursor,
        limit: q.limit,
    };
    let limit = pq.limit()?;
    let after = pq.after()?;
    let filter = product_filter(q.sku_prefix, q.q, q.barcode, q.active)?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::products::list(&mut tx, &filter, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |p| p.id);
    Ok(axum::Json(ProductPage { items, next_cursor }))
}

/// Validates and normalizes search filters.
pub fn product_filter(
    sku_prefix: Option<String>,
    q: Option<String>,
    barcode: Option<String>,
    active: Option<bool>,
) -> ApiResult<store::products::Filter> {
    let sku_prefix = match sku_prefix.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(parse_sku(s)?),
    };
    let q = match q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => {
            let n = s.chars().count();
            if !(NAME_QUERY_LEN_MIN..=NAME_QUERY_LEN_MAX).contains(&n) {
                return Err(ApiError::BadRequest(format!(
                    "q must have {NAME_QUERY_LEN_MIN} to {NAME_QUERY_LEN_MAX} characters"
                )));
            }
            // The search index holds trigrams of words: a text without a word of three
            // letters or digits has none to look up.
            let longest_word = s
                .split(|c: char| !c.is_alphanumeric())
                .map(|w| w.chars().count())
                .max()
                .unwrap_or(0);
            if longest_word < NAME_QUERY_LEN_MIN {
                return Err(ApiError::BadRequest(format!(
                    "q must contain a word of at least {NAME_QUERY_LEN_MIN} letters or digits"
                )));
            }
            Some(s.to_owned())
        }
    };
    let barcode = match barcode.as_deref().map(str::trim) {
        None | Some("") => None,
        // Not parsed as a Barcode: a malformed scan simply finds nothing.
        Some(s) if s.len() <= logiflow_core::codes::BARCODE_LEN_MAX => Some(s.to_owned()),
        Some(_) => return Err(ApiError::BadRequest("barcode is too long".into())),
    };
    Ok(store::products::Filter {
        sku_prefix,
        q,
        barcode,
        active,
    })
}

/// Creates a product (counts against the plan's `max_skus`).
#[utoipa::path(post, path = "/v1/products", tag = "catalog", request_body = CreateProduct,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created (permission catalog_manage)", body = Product),
        (status = 400, description = "bad_request (sku, name, uom, reorder levels, cost, price, barcodes)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (with limit)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "conflict (sku taken), barcode_taken (naming the barcode)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_body (e.g. a number for cost), idempotency_key_reused, invalid_custom_fields (with errors)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_product(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    idem: IdempotencyKey,
    ApiJson(req): ApiJson<CreateProduct>,
) -> ApiResult<Response> {
    let hash = state.request_hash("/v1/products", &req);
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let fields = store::products::ProductFields {
        sku: parse_sku(&req.sku)?,
        name: validate_name(&req.name)?,
        uom: validate_uom(req.uom.as_deref().unwrap_or("pcs"))?,
        lot_tracked: req.lot_tracked.unwrap_or(false),
        expiry_policy: req.expiry_policy.unwrap_or(ExpiryPolicy::Fifo),
        reorder_point: validate_reorder("reorder_point", req.reorder_point.unwrap_or(0))?,
        reorder_qty: validate_reorder("reorder_qty", req.reorder_qty.unwrap_or(0))?,
        cost: validate_money("cost", req.cost)?,
        price: validate_money("price", req.price)?,
        custom: req.custom.clone().unwrap_or_else(|| serde_json::json!({})),
        active: true,
    };
    let barcodes = parse_barcodes(req.barcodes.as_deref().unwrap_or_default())?;
    validate_custom(&mut tx, &fields.custom).await?;
    check_barcodes(&mut tx, &barcodes, None).await?;
    quota::check(&mut tx, quota::Counted::Skus).await?;
    let id = store::products::insert(&mut tx, &fields).await?;
    if let Some(taken) = store::products::set_barcodes(&mut tx, id, &barcodes).await? {
        return Err(ApiError::BarcodeTaken(taken));
    }
    let product = fetch_product(&mut tx, id).await?;
    store::catalog_change::record(
        &mut tx,
        &p,
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
    let body = serde_json::to_value(&product).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &body)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Reads one product.
#[utoipa::path(get, path = "/v1/products/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the product (permission catalog_read)", body = Product),
        (status = 401, description = "unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found (also for other tenants' products)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_product(
    State(state): State<AppState>,
    p: Require<perm::CatalogRead>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Product>> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let product = fetch_product(&mut tx, id).await?;
    tx.commit().await?;
    Ok(axum::Json(product))
}

/// Changes a product (barcodes included); `active=false` deactivates it.
#[utoipa::path(patch, path = "/v1/products/{id}", tag = "catalog", params(("id" = Uuid, Path)),
    request_body = UpdateProduct, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "updated (permission catalog_manage)", body = Product),
        (status = 400, description = "bad_request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "unauthenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (reactivating)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "conflict (sku taken), barcode_taken, product_has_lots (turning lot tracking off), product_has_stock (turning it on)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_body, invalid_custom_fields (with errors)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_product(
    State(state): State<AppState>,
    p: Require<perm::CatalogManage>,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateProduct>,
) -> ApiResult<axum::Json<Product>> {
    let barcodes = req.barcodes.as_deref().map(parse_barcodes).transpose()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = fetch_product_for_update(&mut tx, id).await?;
    let fields = store::products::ProductFields {
        sku: match &req.sku {
            Some(s) => parse_sku(s)?,
            None => before.sku.clone(),
        },
        name: match &req.name {
            Some(n) => validate_name(n)?,
            None => before.name.clone(),
        },
        uom: match &req.uom {
            Some(u) => validate_uom(u)?,
            None => before.uom.clone(),
        },
        lot_tracked: req.lot_tracked.unwrap_or(before.lot_tracked),
        expiry_policy: req.expiry_policy.unwrap_or(before.expiry_policy),
        reorder_point: validate_reorder(
            "reorder_point",
            req.reorder_point.unwrap_or(before.reorder_point),
        )?,
        reorder_qty: validate_reorder(
            "reorder_qty",
            req.reorder_qty.unwrap_or(before.reorder_qty),
        )?,
        cost: match req.cost {
            Some(c) => validate_money("cost", c)?,
            None => before.cost,
        },
        price: match req.price {
            Some(c) => validate_money("price", c)?,
            None => before.price,
        },
        custom: req.custom.clone().unwrap_or_else(|| before.custom.clone()),
        active: req.active.unwrap_or(before.active),
    };
    if let Some(custom) = &req.custom {
        validate_custom(&mut tx, custom).await?;
    }
    if before.lot_tracked && !fields.lot_tracked && store::products::has_lots(&mut tx, id).await? {
        return Err(ApiError::ProductHasLots);
    }
    if !before.lot_tracked
        && fields.lot_tracked
        && store::products::has_unlotted_stock(&mut tx, id).await?
    {
        return Err(ApiError::ProductHasStock);
    }
    if fields.active && !before.active {
        quota::check(&mut tx, quota::Counted::Skus).await?;
    }
    store::products::update(&mut tx, id, &fields).await?;
    if let Some(barcodes) = &barcodes {
        check_barcodes(&mut tx, barcodes, Some(id)).await?;
        if let Some(taken) = store::products::set_barcodes(&mut tx, id, barcodes).await? {
            return Err(ApiError::BarcodeTaken(taken));
        }
    }
    let after = fetch_product(&mut tx, id).await?;
    store::catalog_change::record(
        &mut tx,
        &p,
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
    tx.commit().await?;
    Ok(axum::Json(after))
}
