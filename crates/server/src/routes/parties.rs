//! `/v1/suppliers` and `/v1/customers`: whom the tenant buys from and sells to (create,
//! list, search, read, change, deactivate). One implementation for both kinds; each
//! kind has its own routes and permission (purchasing manages suppliers, sales
//! customers). Parties are never deleted: orders name them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, Schema, Type};
use utoipa::openapi::{OpenApi, Ref, RefOr};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::access::Principal;
use crate::audit_log::{self, Entry, snapshot};
use crate::auth::Require;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey, PageQuery, page};
use crate::orders::party::{NewParty, Party, PartyKind, PartyQuery, UpdateParty};
use crate::rbac::perm;
use crate::routes::problems::{Authed, Reads};
use crate::state::AppState;
use crate::store;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_suppliers, create_supplier))
        .routes(routes!(get_supplier, update_supplier))
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, update_customer))
}

/// A page of suppliers or customers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PartyPage {
    pub items: Vec<Party>,
    /// Cursor of the next page, absent on the last.
    pub next_cursor: Option<String>,
}

/// The path of a kind's collection.
fn path(kind: PartyKind) -> &'static str {
    match kind {
        PartyKind::Supplier => "/v1/suppliers",
        PartyKind::Customer => "/v1/customers",
    }
}

/// Gives each kind its own request bodies in the OpenAPI document, so that the document
/// states which field of days a kind takes. The handlers read [`NewParty`] and
/// [`UpdateParty`], which carry both kinds' fields of days: a body of one kind may leave
/// the other's out or `null`, and is refused (400) with a number in it. So `NewSupplier`
/// and `UpdateSupplier` are those schemas (with their bounds, `routes::bounds`) whose
/// customer field ([`PartyKind::days_field`]) is `null`, `NewCustomer` and
/// `UpdateCustomer` the other way round, and the two shared schemas leave the document.
/// The bodies on the wire are the same.
///
/// # Panics
///
/// When the document lacks a schema, a field of days or an operation this names.
pub fn document_kinds(doc: &mut OpenApi) {
    let schemas = &mut doc
        .components
        .as_mut()
        .expect("the document has components")
        .schemas;
    for (shared, verb, item) in [("NewParty", "New", false), ("UpdateParty", "Update", true)] {
        let Some(RefOr::T(Schema::Object(body))) = schemas.remove(shared) else {
            panic!("the OpenAPI document has no {shared} object");
        };
        for kind in PartyKind::ALL {
            let mut own = body.clone();
            for other in PartyKind::ALL.into_iter().filter(|other| *other != kind) {
                let field = own
                    .properties
                    .get_mut(other.days_field())
                    .unwrap_or_else(|| panic!("{shared} has no {}", other.days_field()));
                let mut none = Object::with_type(Type::Null);
                none.description = Some(format!(
                    "{}s only: absent or `null` for a {}.",
                    other.as_str(),
                    kind.as_str()
                ));
                *field = RefOr::T(Schema::Object(none));
            }
            let name = match kind {
                PartyKind::Supplier => format!("{verb}Supplier"),
                PartyKind::Customer => format!("{verb}Customer"),
            };
            let route = if item {
                format!("{}/{{id}}", path(kind))
            } else {
                path(kind).to_owned()
            };
            let operation = doc.paths.paths.get_mut(&route).and_then(|route| {
                if item {
                    route.patch.as_mut()
                } else {
                    route.post.as_mut()
                }
            });
            let content = operation
                .and_then(|operation| operation.request_body.as_mut())
                .and_then(|body| body.content.get_mut("application/json"))
                .unwrap_or_else(|| panic!("the OpenAPI document has no JSON body for {route}"));
            content.schema = Some(RefOr::Ref(Ref::from_schema_name(&name)));
            schemas.insert(name, RefOr::T(Schema::Object(own)));
        }
    }
}

async fn list(
    state: &AppState,
    p: &Principal,
    kind: PartyKind,
    q: PartyQuery,
) -> ApiResult<PartyPage> {
    q.validate()?;
    let pq = PageQuery {
        cursor: q.cursor.clone(),
        limit: q.limit,
    };
    let limit = pq.limit()?;
    let after = pq.after()?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let rows = store::parties::list(&mut tx, kind, &q, after, limit + 1).await?;
    tx.commit().await?;
    let (items, next_cursor) = page(rows, limit, |party| party.id);
    Ok(PartyPage { items, next_cursor })
}

async fn create(
    state: &AppState,
    p: &Principal,
    kind: PartyKind,
    idem: IdempotencyKey,
    req: NewParty,
) -> ApiResult<Response> {
    let hash = state.request_hash(path(kind), &req);
    let valid = req.validate(kind)?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    if let Some(replay) = idem.replay(&mut tx, &hash).await? {
        return Ok(replay);
    }
    let party = store::parties::insert(&mut tx, valid).await?;
    audit_log::record(
        &mut tx,
        p,
        Entry {
            action: &format!("{}.create", kind.as_str()),
            target_type: kind.as_str(),
            target_id: Some(party.id.to_string()),
            before: None,
            after: snapshot(&party),
        },
    )
    .await?;
    let body = serde_json::to_value(&party).map_err(ApiError::internal)?;
    idem.store(&mut tx, &hash, StatusCode::CREATED, &body)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn get(state: &AppState, p: &Principal, kind: PartyKind, id: Uuid) -> ApiResult<Party> {
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let party = store::parties::get(&mut tx, kind, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(party)
}

async fn update(
    state: &AppState,
    p: &Principal,
    kind: PartyKind,
    id: Uuid,
    req: UpdateParty,
) -> ApiResult<Party> {
    let changes = req.validate(kind)?;
    let mut tx = state.tenant_tx(p.tenant_id).await?;
    let before = store::parties::get_for_update(&mut tx, kind, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let after = store::parties::update(&mut tx, id, changes).await?;
    audit_log::record(
        &mut tx,
        p,
        Entry {
            action: &format!("{}.update", kind.as_str()),
            target_type: kind.as_str(),
            target_id: Some(id.to_string()),
            before: snapshot(&before),
            after: snapshot(&after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// The handlers of one kind of party. The supplier's and the customer's differ only by
/// their names, paths, permission to manage and descriptions; each is a route of its
/// own, with its own `#[utoipa::path]`, so this macro writes both from one body.
macro_rules! party_handlers {
    (
        kind: $kind:expr,
        path: $path:tt,
        item_path: $item_path:tt,
        manage: $manage:ty,
        bad_request: $bad:tt,
        list: $list:ident, $list_doc:tt, $list_ok:tt,
        create: $create:ident, $create_doc:tt, $create_ok:tt,
        get: $get:ident, $get_doc:tt, $get_ok:tt, $get_not_found:tt,
        update: $update:ident, $update_doc:tt, $update_ok:tt $(,)?
    ) => {
        #[doc = $list_doc]
        #[utoipa::path(get, path = $path, tag = "orders", params(PartyQuery),
            security(("bearer" = []), ("api_key" = [])),
            responses(
                (status = 200, description = $list_ok, body = PartyPage),
                (status = 400, description = "bad_request (limit, cursor, q)"),
                Reads,
            ))]
        #[tracing::instrument(skip_all)]
        pub async fn $list(
            State(state): State<AppState>,
            p: Require<perm::OrdersRead>,
            ApiQuery(q): ApiQuery<PartyQuery>,
        ) -> ApiResult<axum::Json<PartyPage>> {
            list(&state, &p, $kind, q).await.map(axum::Json)
        }

        #[doc = $create_doc]
        #[utoipa::path(post, path = $path, tag = "orders", request_body = NewParty,
            params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
            security(("bearer" = []), ("api_key" = [])),
            responses(
                (status = 201, description = $create_ok, body = Party),
                (status = 400, description = $bad),
                (status = 403, description = "forbidden, subscription_expired"),
                (status = 409, description = "conflict (code taken)"),
                (status = 422, description = "invalid_body, idempotency_key_reused"),
                Authed,
            ))]
        #[tracing::instrument(skip_all)]
        pub async fn $create(
            State(state): State<AppState>,
            p: Require<$manage>,
            idem: IdempotencyKey,
            ApiJson(req): ApiJson<NewParty>,
        ) -> ApiResult<Response> {
            create(&state, &p, $kind, idem, req).await
        }

        #[doc = $get_doc]
        #[utoipa::path(get, path = $item_path, tag = "orders", params(("id" = Uuid, Path)),
            security(("bearer" = []), ("api_key" = [])),
            responses(
                (status = 200, description = $get_ok, body = Party),
                (status = 404, description = $get_not_found),
                Reads,
            ))]
        #[tracing::instrument(skip_all)]
        pub async fn $get(
            State(state): State<AppState>,
            p: Require<perm::OrdersRead>,
            IdPath(id): IdPath,
        ) -> ApiResult<axum::Json<Party>> {
            get(&state, &p, $kind, id).await.map(axum::Json)
        }

        #[doc = $update_doc]
        #[utoipa::path(patch, path = $item_path, tag = "orders", params(("id" = Uuid, Path)),
            request_body = UpdateParty, security(("bearer" = []), ("api_key" = [])),
            responses(
                (status = 200, description = $update_ok, body = Party),
                (status = 400, description = $bad),
                (status = 403, description = "forbidden, subscription_expired"),
                (status = 404, description = "not_found"),
                (status = 409, description = "conflict (code taken)"),
                (status = 422, description = "invalid_body"),
                Authed,
            ))]
        #[tracing::instrument(skip_all)]
        pub async fn $update(
            State(state): State<AppState>,
            p: Require<$manage>,
            IdPath(id): IdPath,
            ApiJson(req): ApiJson<UpdateParty>,
        ) -> ApiResult<axum::Json<Party>> {
            update(&state, &p, $kind, id, req).await.map(axum::Json)
        }
    };
}

party_handlers! {
    kind: PartyKind::Supplier,
    path: "/v1/suppliers",
    item_path: "/v1/suppliers/{id}",
    manage: perm::PurchasingManage,
    bad_request: "bad_request (code, name, email, phone, address, lead_time_days; min_shelf_life_days is for customers)",
    list: list_suppliers, " Lists suppliers, oldest first.",
        "a page of suppliers (permission orders_read)",
    create: create_supplier, " Creates a supplier.", "created (permission purchasing_manage)",
    get: get_supplier, " Reads one supplier.", "the supplier (permission orders_read)",
        "not_found (also for other tenants' suppliers and for customers)",
    update: update_supplier, " Changes a supplier; `active=false` deactivates it.",
        "updated (permission purchasing_manage)",
}

party_handlers! {
    kind: PartyKind::Customer,
    path: "/v1/customers",
    item_path: "/v1/customers/{id}",
    manage: perm::SalesManage,
    bad_request: "bad_request (code, name, email, phone, address, min_shelf_life_days; lead_time_days is for suppliers)",
    list: list_customers, " Lists customers, oldest first.",
        "a page of customers (permission orders_read)",
    create: create_customer, " Creates a customer.", "created (permission sales_manage)",
    get: get_customer, " Reads one customer.", "the customer (permission orders_read)",
        "not_found (also for other tenants' customers and for suppliers)",
    update: update_customer, " Changes a customer; `active=false` deactivates it.",
        "updated (permission sales_manage)",
}
