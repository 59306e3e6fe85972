//! Shared request extractors and helpers: JSON bodies with problem+json rejections,
//! cursor pagination and idempotency keys.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::db::TenantTx;
use crate::error::{ApiError, ApiResult};

/// Default page size of lists.
pub const PAGE_LIMIT_DEFAULT: u32 = 50;
/// Largest page size of lists.
pub const PAGE_LIMIT_MAX: u32 = 500;
/// Longest accepted Idempotency-Key.
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 255;

/// `axum::Json`, with rejections rendered as problems.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(JsonRejection::BytesRejection(r))
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::PayloadTooLarge)
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::BadRequest(
                "expected content-type application/json".into(),
            )),
            Err(e) => Err(ApiError::InvalidBody(e.body_text())),
        }
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `?cursor=&limit=` of every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct CursorBody {
    /// The last id of the previous page.
    k: Uuid,
}

impl PageQuery {
    /// The validated page size.
    pub fn limit(&self) -> ApiResult<i64> {
        match self.limit.unwrap_or(PAGE_LIMIT_DEFAULT) {
            n @ 1..=PAGE_LIMIT_MAX => Ok(i64::from(n)),
            _ => Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {PAGE_LIMIT_MAX}"
            ))),
        }
    }

    /// The id after which the page starts (exclusive), from the cursor.
    pub fn after(&self) -> ApiResult<Option<Uuid>> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        let bad = || ApiError::BadRequest("invalid cursor".into());
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
        let body: CursorBody = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        Ok(Some(body.k))
    }
}

/// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
pub fn page<T>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Uuid) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|last| {
            URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&CursorBody { k: key(last) }).unwrap_or_default())
        })
    } else {
        None
    };
    (rows, next)
}

/// The optional `Idempotency-Key` header of a creating POST.
///
/// Stored per tenant and key with a hash of the request and the response, in the same
/// transaction as the write: the same key with the same request answers the stored
/// response; with another request, `422 idempotency_key_reused`.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let key = value
            .to_str()
            .ok()
            .filter(|k| !k.is_empty() && k.len() <= IDEMPOTENCY_KEY_LEN_MAX)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "idempotency-key must be 1 to {IDEMPOTENCY_KEY_LEN_MAX} visible ascii characters"
                ))
            })?;
        Ok(Self(Some(key.to_owned())))
    }
}

/// The request hash: keyed with a server secret, because bodies may hold passwords and
/// a plain hash of a guessable body could be brute-forced from the table.
pub fn request_hash(secret: &str, route: &str, body: &impl Serialize) -> Vec<u8> {
    let body = serde_json::to_string(body).unwrap_or_default();
    crate::auth::tokens::sha256(&format!("{secret}\nPOST {route}\n{body}"))
}

impl IdempotencyKey {
    /// A stored answer to replay, if this key was used (or 422 if with another request).
    pub async fn replay(&self, tx: &mut TenantTx, hash: &[u8]) -> ApiResult<Option<Response>> {
        let Some(key) = &self.0 else { return Ok(None) };
        let tenant_id = tx.tenant_id();
        let stored: Option<(Vec<u8>, i16, serde_json::Value)> = sqlx::query_as(
            "select request_hash, status, response from idempotency_key where tenant_id = $1 and key = $2",
        )
        .bind(tenant_id)
        .bind(key)
        .fetch_optional(tx.conn())
        .await?;
        match stored {
            None => Ok(None),
            Some((stored_hash, _, _)) if stored_hash != hash => Err(ApiError::IdempotencyKeyReused),
            Some((_, status, response)) => {
                let status = u16::try_from(status)
                    .ok()
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::OK);
                Ok(Some((status, axum::Json(response)).into_response()))
            }
        }
    }

    /// Records the answer (same transaction as the write it answers).
    pub async fn store(
        &self,
        tx: &mut TenantTx,
        hash: &[u8],
        status: StatusCode,
        response: &serde_json::Value,
    ) -> ApiResult<()> {
        let Some(key) = &self.0 else { return Ok(()) };
        let tenant_id = tx.tenant_id();
        sqlx::query(
            "insert into idempotency_key (tenant_id, key, request_hash, status, response) values ($1, $2, $3, $4, $5)",
        )
        .bind(tenant_id)
        .bind(key)
        .bind(hash)
        .bind(i16::try_from(status.as_u16()).unwrap_or(200))
        .bind(response)
        .execute(tx.conn())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_bounded() {
        let q = |limit| PageQuery {
            cursor: None,
            limit,
        };
        assert_eq!(q(None).limit().unwrap(), 50);
        assert_eq!(q(Some(500)).limit().unwrap(), 500);
        assert!(q(Some(0)).limit().is_err());
        assert!(q(Some(501)).limit().is_err());
    }

    #[test]
    fn cursors_round_trip() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let (items, next) = page(ids.clone(), 2, |u| *u);
        assert_eq!(items, ids[..2]);
        let q = PageQuery {
            cursor: next,
            limit: None,
        };
        assert_eq!(q.after().unwrap(), Some(ids[1]));
        let (_, none) = page(ids, 3, |u| *u);
        assert!(none.is_none());
        let bad = PageQuery {
            cursor: Some("!!".into()),
            limit: None,
        };
        assert!(bad.after().is_err());
    }
}

/// `axum::extract::Path` of one id; a malformed id is simply not found.
#[derive(Debug)]
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<Uuid>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(Self(id)),
            Err(_) => Err(ApiError::NotFound),
        }
    }
}

/// `axum::extract::Query`, with rejections rendered as problems.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}
