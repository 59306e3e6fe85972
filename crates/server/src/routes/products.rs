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
use crate::catalog;
use crate::catalog::product::{
    ExpiryPolicy, NAME_QUERY_LEN_MAX, NAME_QUERY_LEN_MIN, Product, parse_barcodes, parse_sku,
};
use crate::catalog::service::{ProductChanges, ProductRequest};
use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::rbac::perm;
use crate::routes::problems::{Authed, Reads};
use crate::state::AppState;
use crate::store;

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
pub(crate) mod double_option {
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

/// Reads one product, or not found.
pub async fn fetch_product(tx: &mut TenantTx, id: Uuid) -> ApiResult<Product> {
    store::products::get(tx, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Searches products, oldest first. Each filter is served by an index, so a search
/// stays fast on 100k products.
#[utoipa::path(get, path = "/v1/products", tag = "catalog", params(ProductQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "a page of products (permission catalog_read)", body = ProductPage),
        (status = 400, description = "bad_request (limit, cursor, q without a word of 3 letters or digits)"),
        Reads,
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
        (status = 400, description = "bad_request (sku, name, uom, reorder levels, cost, price, barcodes)"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (with limit)"),
        (status = 409, description = "conflict (sku taken), barcode_taken (naming the barcode)"),
        (status = 422, description = "invalid_body (e.g. a number for cost), idempotency_key_reused, invalid_custom_fields (with errors)"),
        Authed,
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
    let product = catalog::service::create_product(
        &mut tx,
        &p,
        ProductRequest {
            sku: &req.sku,
            name: &req.name,
            uom: req.uom.as_deref(),
            lot_tracked: req.lot_tracked,
            expiry_policy: req.expiry_policy,
            reorder_point: req.reorder_point,
            reorder_qty: req.reorder_qty,
            cost: req.cost,
            price: req.price,
            custom: req.custom.as_ref(),
            barcodes: req.barcodes.as_deref().unwrap_or_default(),
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
        (status = 404, description = "not_found (also for other tenants' products)"),
        Reads,
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
        (status = 400, description = "bad_request"),
        (status = 403, description = "forbidden, subscription_expired, quota_exceeded (reactivating)"),
        (status = 404, description = "not_found"),
        (status = 409, description = "conflict (sku taken), barcode_taken, product_has_lots (turning lot tracking off), product_has_stock (turning it on)"),
        (status = 422, description = "invalid_body, invalid_custom_fields (with errors)"),
        Authed,
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
    let changes = ProductChanges {
        sku: req.sku.as_deref(),
        name: req.name.as_deref(),
        uom: req.uom.as_deref(),
        lot_tracked: req.lot_tracked,
        expiry_policy: req.expiry_policy,
        reorder_point: req.reorder_point,
        reorder_qty: req.reorder_qty,
        cost: req.cost,
        price: req.price,
        custom: req.custom.as_ref(),
        barcodes,
        active: req.active,
    };
    let after = catalog::service::update_product(&mut tx, &p, id, changes).await?;
    tx.commit().await?;
    Ok(axum::Json(after))
}
