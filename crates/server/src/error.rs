//! The one HTTP error type, rendered as RFC 9457 `application/problem+json` with a stable
//! machine `code`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Stable machine codes of every error the API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or a field is invalid (400).
    BadRequest,
    /// The body is not valid JSON for this endpoint (422).
    InvalidBody,
    /// Missing, malformed, expired or revoked credentials (401).
    Unauthenticated,
    /// Email, tenant or password wrong (401); deliberately does not say which.
    InvalidCredentials,
    /// The refresh token is unknown, expired or was already used (401).
    InvalidRefreshToken,
    /// The principal lacks the permission (403).
    Forbidden,
    /// The tenant's subscription expired: reads work, writes do not (403).
    SubscriptionExpired,
    /// The tenant's plan limit for this resource is reached (403).
    QuotaExceeded,
    /// No such resource in the caller's tenant (404), including other tenants' resources.
    NotFound,
    /// A resource with the same unique key exists (409).
    Conflict,
    /// The Idempotency-Key was already used with another request (422).
    IdempotencyKeyReused,
    /// Too many requests for the tenant's plan (429, with Retry-After).
    RateLimited,
    /// Too many login attempts for the account or address (429, with Retry-After).
    TooManyLoginAttempts,
    /// The request body is larger than allowed (413).
    PayloadTooLarge,
    /// The route exists but not with this method (405).
    MethodNotAllowed,
    /// The request took longer than the server allows; nothing was committed (503).
    Timeout,
    /// Other writes to the same stock kept conflicting with this one (a deadlock or
    /// serialization failure the server retried); nothing was committed: send it again
    /// (503, with Retry-After).
    Busy,
    /// The server failed; details are in its log under the request id (500).
    Internal,
    // Movements refused by the rules of `crates/core` (the codes are
    // `core::RejectCode::as_str`, the same on the API and in device journals).
    /// The product does not exist in the tenant (422).
    UnknownProduct,
    /// The lot does not exist in the tenant (422).
    UnknownLot,
    /// A location does not exist in the tenant (422).
    UnknownLocation,
    /// The product is lot-tracked and no lot was given (422).
    LotRequired,
    /// A lot was given for a product without lot tracking (422).
    LotNotTracked,
    /// The lot belongs to another product (422).
    LotOfOtherProduct,
    /// Stock lives only in leaf locations (bins) (422).
    LocationNotLeaf,
    /// A transfer from a location to itself (422).
    SameLocation,
    /// An adjustment whose sign does not fit its reason (422).
    ReasonSignMismatch,
    /// The product is deactivated (422).
    InactiveProduct,
    /// A location (or its warehouse) is deactivated (422).
    InactiveLocation,
    /// The lot is past its expiry date in the warehouse's time zone and cannot leave (422).
    LotExpired,
    /// Not enough available stock (`on_hand − allocated`) for an outbound movement;
    /// nothing was changed (409).
    InsufficientStock,
    /// A later count of the row is already recorded: count again (409).
    BeforeLatestCount,
    /// The row's quantity would leave the range of quantities kept (422).
    QuantityOverflow,
    /// A time finer than the microsecond (422).
    TimePrecision,
    /// The device was revoked by an administrator; its journal is kept on the device and
    /// can be pushed after it is registered again (401).
    DeviceRevoked,
    /// A push skips journal sequence numbers; `next_seq` says where to resume (409).
    SequenceGap,
    /// The device's journal can only be uploaded once it is revoked: a device that is
    /// not pushes its journal itself (409).
    DeviceNotRevoked,
    /// An uploaded journal file is not one, or not this device's (422); nothing was
    /// changed.
    InvalidJournal,
    /// A pushed sequence number was already used by another movement (409).
    SequenceConflict,
    /// A push carries more movements than one batch may (413).
    BatchTooLarge,
    /// A pull cursor that this server did not issue, or from another database (400):
    /// pull again without a cursor to start a fresh snapshot.
    InvalidCursor,
    /// An id in the body or query names nothing in the caller's tenant (422): a
    /// warehouse, parent location or product.
    ReferenceNotFound,
    /// A location's parent is in another warehouse (422).
    InvalidParent,
    /// The location holds stock (on hand or allocated): it cannot get children, nor be
    /// deleted (409). Stock lives only in leaf locations.
    LocationHasStock,
    /// The location has child locations and cannot be deleted (409).
    LocationHasChildren,
    /// The location has stock history (stock rows or movements) and cannot be deleted;
    /// deactivate it instead (409).
    LocationHasHistory,
    /// A barcode is already assigned to another product of the tenant (409); the detail
    /// names it.
    BarcodeTaken,
    /// Lots are only for lot-tracked products (409).
    ProductNotLotTracked,
    /// Lot tracking cannot be turned off while the product has lots (409).
    ProductHasLots,
    /// Lot tracking cannot be turned on while the product holds stock without a lot (409).
    ProductHasStock,
    /// A product's custom fields do not match the tenant's field schema (422); `errors`
    /// lists each failing field.
    InvalidCustomFields,
    /// The product field schema is not a valid JSON Schema object (422).
    InvalidFieldSchema,
    /// A webhook URL is not https, or names a loopback, private or link-local address
    /// (422).
    InvalidWebhookUrl,
}

impl From<logiflow_core::RejectCode> for ErrorCode {
    fn from(code: logiflow_core::RejectCode) -> Self {
        use logiflow_core::RejectCode as R;
        match code {
            R::UnknownProduct => Self::UnknownProduct,
            R::UnknownLot => Self::UnknownLot,
            R::UnknownLocation => Self::UnknownLocation,
            R::LotRequired => Self::LotRequired,
            R::LotNotTracked => Self::LotNotTracked,
            R::LotOfOtherProduct => Self::LotOfOtherProduct,
            R::LocationNotLeaf => Self::LocationNotLeaf,
            R::SameLocation => Self::SameLocation,
            R::ReasonSignMismatch => Self::ReasonSignMismatch,
            R::InactiveProduct => Self::InactiveProduct,
            R::InactiveLocation => Self::InactiveLocation,
            R::LotExpired => Self::LotExpired,
            R::InsufficientStock => Self::InsufficientStock,
            R::BeforeLatestCount => Self::BeforeLatestCount,
            R::QuantityOverflow => Self::QuantityOverflow,
            R::TimePrecision => Self::TimePrecision,
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`urn:logiflow:problem:<code>`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Short human summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Human explanation of this occurrence.
    pub detail: String,
    /// Stable machine code.
    pub code: ErrorCode,
    /// For `quota_exceeded`: the plan's limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// For `quota_exceeded`: the resource whose limit is reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// For 429s: seconds to wait (also in the Retry-After header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// For `sequence_gap`: the next `device_seq` the server expects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_seq: Option<u64>,
    /// For `invalid_custom_fields`: each failing field and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// One field that failed validation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON pointer of the field inside the validated object (`/color`; empty for the
    /// object itself, e.g. a missing required field).
    pub field: String,
    /// Why it failed.
    pub message: String,
}

/// Every error a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidBody(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("missing permission")]
    Forbidden,
    #[error("the subscription expired; the tenant is read-only")]
    SubscriptionExpired,
    #[error("plan limit of {limit} {resource} reached")]
    QuotaExceeded { resource: &'static str, limit: i64 },
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("the idempotency key was used with a different request")]
    IdempotencyKeyReused,
    #[error("request rate limit reached")]
    RateLimited { retry_after_secs: u64 },
    #[error("too many login attempts")]
    TooManyLoginAttempts { retry_after_secs: u64 },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("the request took too long and was abandoned; nothing was changed")]
    Timeout,
    /// A deadlock or serialization failure of the database: transient, the server retries
    /// the transaction (see [`ApiError::is_transient`]) and answers `busy` only when the
    /// retries ran out.
    #[error(
        "other writes to the same stock kept conflicting with this one; nothing was changed, send it again"
    )]
    Busy,
    #[error("internal error: {0}")]
    Internal(Box<dyn std::error::Error + Send + Sync>),
    /// A movement refused by the rules; nothing was changed.
    #[error("{}", .0.message)]
    Movement(logiflow_core::Rejection),
    #[error("this device was revoked; register it again to push its journal")]
    DeviceRevoked,
    /// A request about a revoked device that only a live one allows (signing in on it
    /// again): answered with the device's code, but 409, since the caller's own
    /// credentials are fine.
    #[error("{0}")]
    RevokedDevice(String),
    #[error(
        "the device is not revoked; it pushes its journal itself (sign in on it again if its session ended)"
    )]
    DeviceNotRevoked,
    #[error("{0}")]
    InvalidJournal(String),
    #[error("the push starts at device_seq {got} but the server expects {expected}")]
    SequenceGap { expected: u64, got: u64 },
    #[error("{0}")]
    SequenceConflict(String),
    #[error("a push carries at most {max} movements")]
    BatchTooLarge { max: usize },
    #[error("{0}")]
    InvalidCursor(String),
    #[error("{0}")]
    ReferenceNotFound(String),
    #[error("{0}")]
    InvalidParent(String),
    #[error("the location holds stock; stock lives only in leaf locations, so move it out first")]
    LocationHasStock,
    #[error("the location has child locations; delete or move them first")]
    LocationHasChildren,
    #[error("the location has stock history; deactivate it instead of deleting it")]
    LocationHasHistory,
    #[error("barcode {0} is already assigned to another product")]
    BarcodeTaken(String),
    #[error("the product is not lot-tracked; turn lot tracking on first")]
    ProductNotLotTracked,
    #[error("the product has lots; lot tracking cannot be turned off")]
    ProductHasLots,
    #[error("the product holds stock without a lot; lot tracking cannot be turned on")]
    ProductHasStock,
    #[error("custom fields do not match the tenant's product field schema: {}", fields_summary(.0))]
    InvalidCustomFields(Vec<FieldError>),
    #[error("invalid product field schema: {0}")]
    InvalidFieldSchema(String),
    #[error("invalid webhook url: {0}")]
    InvalidWebhookUrl(String),
}

fn fields_summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| {
            let field = if e.field.is_empty() {
                "(object)"
            } else {
                &e.field
            };
            format!("{field}: {}", e.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// Wraps an unexpected failure (logged, answered with a generic 500).
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(e.into())
    }

    fn parts(&self) -> (StatusCode, ErrorCode, &'static str) {
        use ApiError as E;
        use ErrorCode as C;
        match self {
            E::BadRequest(_) => (StatusCode::BAD_REQUEST, C::BadRequest, "bad request"),
            E::InvalidBody(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                C::InvalidBody,
                "invalid body",
            ),
            E::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                C::Unauthenticated,
                "unauthenticated",
            ),
            E::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                C::InvalidCredentials,
                "invalid credentials",
            ),
            E::InvalidRefreshToken => (
                StatusCode::UNAUTHORIZED,
                C::InvalidRefreshToken,
                "invalid refresh token",
            ),
            E::Forbidden => (StatusCode::FORBIDDEN, C::Forbidden, "forbidden"),
            E::SubscriptionExpired => (
                StatusCode::FORBIDDEN,
                C::SubscriptionExpired,
                "subscription expired",
            ),
            E::QuotaExceeded { .. } => (StatusCode::FORBIDDEN, C::QuotaExceeded, "quota exceeded"),
            E::NotFound => (StatusCode::NOT_FOUND, C::NotFound, "not found"),
            E::Conflict(_) => (StatusCode::CONFLICT, C::Conflict, "conflict"),
            E::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                C::IdempotencyKeyReused,
                "idempotency key reused",
            ),
            E::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                C::RateLimited,
                "rate limited",
            ),
            E::TooManyLoginAttempts { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                C::TooManyLoginAttempts,
                "too many login attempts",
            ),
            E::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                C::PayloadTooLarge,
                "payload too large",
            ),
            E::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                C::MethodNotAllowed,
                "method not allowed",
            ),
            E::Timeout => (StatusCode::SERVICE_UNAVAILABLE, C::Timeout, "timeout"),
            E::Busy => (StatusCode::SERVICE_UNAVAILABLE, C::Busy, "busy"),
            E::Movement(r) => {
                use logiflow_core::RejectCode as R;
                let status = match r.code {
                    // The request was valid but the state does not allow it now.
                    R::InsufficientStock | R::BeforeLatestCount => StatusCode::CONFLICT,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                (status, r.code.into(), "movement refused")
            }
            E::DeviceRevoked => (StatusCode::UNAUTHORIZED, C::DeviceRevoked, "device revoked"),
            E::RevokedDevice(_) => (StatusCode::CONFLICT, C::DeviceRevoked, "device revoked"),
            E::DeviceNotRevoked => (
                StatusCode::CONFLICT,
                C::DeviceNotRevoked,
                "device not revoked",
            ),
            E::InvalidJournal(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                C::InvalidJournal,
                "invalid journal",
            ),
            E::SequenceGap { .. } => (StatusCode::CONFLICT, C::SequenceGap, "sequence gap"),
            E::SequenceConflict(_) => (
                StatusCode::CONFLICT,
                C::SequenceConflict,
                "sequence conflict",
            ),
            E::BatchTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                C::BatchTooLarge,
                "batch too large",
            ),
            E::InvalidCursor(_) => (StatusCode::BAD_REQUEST, C::InvalidCursor, "invalid cursor"),
            E::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                C::Internal,
                "internal error",
            ),
            E::ReferenceNotFound(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                C::ReferenceNotFound,
                "reference not found",
            ),
            E::InvalidParent(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                C::InvalidParent,
                "invalid parent",
            ),
            E::LocationHasStock => (
                StatusCode::CONFLICT,
                C::LocationHasStock,
                "location has stock",
            ),
            E::LocationHasChildren => (
                StatusCode::CONFLICT,
                C::LocationHasChildren,
                "location has children",
            ),
            E::LocationHasHistory => (
                StatusCode::CONFLICT,
                C::LocationHasHistory,
                "location has history",
            ),
            E::BarcodeTaken(_) => (StatusCode::CONFLICT, C::BarcodeTaken, "barcode taken"),
            E::ProductNotLotTracked => (
                StatusCode::CONFLICT,
                C::ProductNotLotTracked,
                "product not lot-tracked",
            ),
            E::ProductHasLots => (StatusCode::CONFLICT, C::ProductHasLots, "product has lots"),
            E::ProductHasStock => (
                StatusCode::CONFLICT,
                C::ProductHasStock,
                "product has stock",
            ),
            E::InvalidCustomFields(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                C::InvalidCustomFields,
                "invalid custom fields",
            ),
            E::InvalidFieldSchema(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                C::InvalidFieldSchema,
                "invalid field schema",
            ),
            E::InvalidWebhookUrl(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                C::InvalidWebhookUrl,
                "invalid webhook url",
            ),
        }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.parts().1
    }
}

/// Maps unique-constraint names to the human detail of the 409 they cause.
fn conflict_detail(constraint: &str) -> Option<&'static str> {
    Some(match constraint {
        "app_user_email_key" => "a user with this email exists",
        "api_key_name_key" => "an api key with this name exists",
        "tenant_slug_key" => "a tenant with this slug exists",
        "idempotency_key_pkey" => "a request with this idempotency key is in progress",
        "warehouse_code_key" => "a warehouse with this code exists",
        "location_code_key" => "a location with this code exists in the warehouse",
        "product_sku_key" => "a product with this sku exists",
        "product_barcode_pkey" => "one of the barcodes is already assigned to a product",
        "lot_code_key" => "the product has a lot with this code",
        _ => return None,
    })
}

/// SQLSTATEs of a transaction that lost a race and may simply be run again:
/// serialization_failure and deadlock_detected.
const TRANSIENT_SQLSTATES: [&str; 2] = ["40001", "40P01"];

impl ApiError {
    /// True for a failure that running the same transaction again may not meet (a
    /// deadlock or serialization failure): the server retries those itself.
    pub fn is_transient(&self) -> bool {
        matches!(self, ApiError::Busy)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db
                .code()
                .is_some_and(|c| TRANSIENT_SQLSTATES.contains(&c.as_ref()))
            {
                tracing::info!(error = %db, "transient database conflict");
                return ApiError::Busy;
            }
            if db.is_unique_violation() {
                // A constraint without a mapped message still is a conflict, not a failure;
                // its name stays in the log rather than in the answer.
                let detail = db
                    .constraint()
                    .and_then(conflict_detail)
                    .unwrap_or_else(|| {
                        tracing::warn!(constraint = ?db.constraint(), "unmapped unique violation");
                        "a resource with the same unique key exists"
                    });
                return ApiError::Conflict(detail.to_owned());
            }
        }
        ApiError::Internal(Box::new(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        let detail = match &self {
            ApiError::Internal(e) => {
                // The cause goes to the log, inside the request span (with its request id);
                // the client only learns that something failed.
                tracing::error!(error = %e, "request failed");
                "the server failed to handle the request; quote the x-request-id when reporting it"
                    .to_owned()
            }
            other => other.to_string(),
        };
        let code_str = serde_json::to_value(code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let (limit, resource) = match &self {
            ApiError::QuotaExceeded { resource, limit } => {
                (Some(*limit), Some((*resource).to_owned()))
            }
            _ => (None, None),
        };
        let retry_after = match &self {
            ApiError::RateLimited { retry_after_secs }
            | ApiError::TooManyLoginAttempts { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Busy => Some(1),
            _ => None,
        };
        let next_seq = match &self {
            ApiError::SequenceGap { expected, .. } => Some(*expected),
            _ => None,
        };
        let problem = Problem {
            type_: format!("urn:logiflow:problem:{code_str}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            code,
            limit,
            resource,
            retry_after,
            next_seq,
            errors: match self {
                ApiError::InvalidCustomFields(errors) => Some(errors),
                _ => None,
            },
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
