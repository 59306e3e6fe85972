//! The one error type of the server's domain and storage functions: a table of every
//! problem the API can answer, each a stable machine `code` with its HTTP status and
//! title. The domain names the code; `routes::problems` renders it as an RFC 9457
//! `application/problem+json` answer.
//!
//! One table rather than an error enum per domain module: every error a domain function
//! returns is already a stable code a client sees (`core::ProblemCode`), and an enum per
//! domain would be a second list of those codes to keep in step with this one.

use axum::http::StatusCode;
use logiflow_core::{ProblemCode, RejectCode};
use serde::Serialize;
use utoipa::ToSchema;

/// The one table of errors: each row is a stable code (a [`ProblemCode`] of
/// `crates/core`) with its status, its title and its meaning, and (after `=>`) the
/// [`ApiError`] variant that answers it, with its message. The codes of a refused
/// movement, [`ProblemCode::Movement`] (a `core::RejectCode`, the same on the API and in
/// device journals), are answered by [`ApiError::Movement`], with the status of
/// [`movement_status`]. The rows generate [`ApiError`], its code and status, and
/// [`status_of`] and [`title_of`], whose matches fail to compile while a code of core
/// has no row here.
macro_rules! problems {
    (
        $(
            $(#[doc = $doc:literal])*
            $code:ident: $status:ident $title:literal
            $(=> $(#[$meta:meta])* $variant:ident
                $(($($ty:ty),*))? $({ $($field:ident: $fty:ty),* })?)?;
        )*
        // Variants that answer a code of the rows above, with how they pick it.
        @extra {
            $(
                $(#[$xmeta:meta])*
                $xvariant:ident($xty:ty) => |$xbind:ident| $xcode:expr, $xstatus:expr;
            )*
        }
    ) => {
        /// The status `code` is answered with (a variant of the `extra` section may
        /// answer another one).
        pub fn status_of(code: ProblemCode) -> StatusCode {
            match code {
                $(ProblemCode::$code => StatusCode::$status,)*
                ProblemCode::Movement(code) => movement_status(code),
                // Never answered: only a reader of a newer server meets it.
                ProblemCode::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
            }
        }

        /// The problem's title: a short human summary of `code`.
        pub fn title_of(code: ProblemCode) -> &'static str {
            match code {
                $(ProblemCode::$code => $title,)*
                ProblemCode::Movement(_) => "movement refused",
                ProblemCode::Unknown => "unknown",
            }
        }

        /// Every error a handler can return.
        #[derive(Debug, thiserror::Error)]
        pub enum ApiError {
            $($(
                $(#[$meta])*
                $variant $(($($ty),*))? $({ $($field: $fty),* })?,
            )?)*
            $(
                $(#[$xmeta])*
                $xvariant($xty),
            )*
        }

        impl ApiError {
            /// The stable code.
            pub fn code(&self) -> ProblemCode {
                match self {
                    $($(ApiError::$variant { .. } => ProblemCode::$code,)?)*
                    $(ApiError::$xvariant($xbind) => $xcode,)*
                }
            }

            /// The HTTP status it is answered with.
            pub fn status(&self) -> StatusCode {
                match self {
                    $(ApiError::$xvariant($xbind) => $xstatus,)*
                    other => status_of(other.code()),
                }
            }
        }
    };
}

/// The status of a movement the rules refused: 409 when the request was valid but the
/// stock does not allow it now, 422 when the request itself names something wrong. No
/// wildcard, so a new `RejectCode` needs its status here.
fn movement_status(code: RejectCode) -> StatusCode {
    use RejectCode as R;
    match code {
        // Not enough available stock; a later count of the row is already recorded
        // (count again): nothing was changed.
        R::InsufficientStock | R::BeforeLatestCount => StatusCode::CONFLICT,
        R::UnknownProduct
        | R::UnknownLot
        | R::UnknownLocation
        | R::LotRequired
        | R::LotNotTracked
        | R::LotOfOtherProduct
        | R::LocationNotLeaf
        | R::SameLocation
        | R::ReasonSignMismatch
        | R::InactiveProduct
        | R::InactiveLocation
        | R::LotExpired
        | R::QuantityOverflow
        | R::TimePrecision
        | R::UnknownOrderLine
        | R::OrderLineMismatch => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

problems! {
    /// The request is malformed or a field is invalid (400).
    BadRequest: BAD_REQUEST "bad request" => #[error("{0}")] BadRequest(String);
    /// The body is not valid JSON for this endpoint (422).
    InvalidBody: UNPROCESSABLE_ENTITY "invalid body" => #[error("{0}")] InvalidBody(String);
    /// Missing, malformed, expired or revoked credentials (401).
    Unauthenticated: UNAUTHORIZED "unauthenticated" => #[error("authentication required")] Unauthenticated;
    /// Email, tenant or password wrong (401); deliberately does not say which.
    InvalidCredentials: UNAUTHORIZED "invalid credentials" => #[error("invalid credentials")] InvalidCredentials;
    /// The refresh token is unknown, expired or was already used (401).
    InvalidRefreshToken: UNAUTHORIZED "invalid refresh token"
        => #[error("invalid refresh token")] InvalidRefreshToken;
    /// The principal lacks the permission (403).
    Forbidden: FORBIDDEN "forbidden" => #[error("missing permission")] Forbidden;
    /// The tenant's subscription expired: reads work, writes do not (403).
    SubscriptionExpired: FORBIDDEN "subscription expired"
        => #[error("the subscription expired; the tenant is read-only")] SubscriptionExpired;
    /// The tenant's plan limit for this resource is reached (403).
    QuotaExceeded: FORBIDDEN "quota exceeded"
        => #[error("plan limit of {limit} {resource} reached")] QuotaExceeded
        { resource: &'static str, limit: i64 };
    /// No such resource in the caller's tenant (404), including other tenants' resources.
    NotFound: NOT_FOUND "not found" => #[error("not found")] NotFound;
    /// A resource with the same unique key exists (409).
    Conflict: CONFLICT "conflict" => #[error("{0}")] Conflict(String);
    /// The Idempotency-Key was already used with another request (422).
    IdempotencyKeyReused: UNPROCESSABLE_ENTITY "idempotency key reused"
        => #[error("the idempotency key was used with a different request")] IdempotencyKeyReused;
    /// Too many requests for the tenant's plan (429, with Retry-After).
    RateLimited: TOO_MANY_REQUESTS "rate limited"
        => #[error("request rate limit reached")] RateLimited { retry_after_secs: u64 };
    /// Too many login attempts for the account or address (429, with Retry-After).
    TooManyLoginAttempts: TOO_MANY_REQUESTS "too many login attempts"
        => #[error("too many login attempts")] TooManyLoginAttempts { retry_after_secs: u64 };
    /// The request body is larger than allowed (413).
    PayloadTooLarge: PAYLOAD_TOO_LARGE "payload too large"
        => #[error("request body too large")] PayloadTooLarge;
    /// The route exists but not with this method (405).
    MethodNotAllowed: METHOD_NOT_ALLOWED "method not allowed"
        => #[error("method not allowed on this route")] MethodNotAllowed;
    /// The request took longer than the server allows; nothing was committed (503).
    Timeout: SERVICE_UNAVAILABLE "timeout"
        => #[error("the request took too long and was abandoned; nothing was changed")] Timeout;
    /// Other writes to the same stock kept conflicting with this one (a deadlock or
    /// serialization failure the server retried); nothing was committed: send it again
    /// (503, with Retry-After). The server retries the transaction itself (see
    /// [`ApiError::is_transient`]) and answers `busy` only when the retries ran out.
    Busy: SERVICE_UNAVAILABLE "busy" => #[error(
        "other writes to the same stock kept conflicting with this one; nothing was changed, send it again"
    )] Busy;
    /// The server failed; details are in its log under the request id (500).
    Internal: INTERNAL_SERVER_ERROR "internal error"
        => #[error("internal error: {0}")] Internal(Box<dyn std::error::Error + Send + Sync>);
    /// The device was revoked by an administrator; its journal is kept on the device and
    /// can be pushed after it is registered again (401).
    DeviceRevoked: UNAUTHORIZED "device revoked"
        => #[error("this device was revoked; register it again to push its journal")] DeviceRevoked;
    /// A push skips journal sequence numbers; `next_seq` says where to resume (409).
    SequenceGap: CONFLICT "sequence gap"
        => #[error("the push starts at device_seq {got} but the server expects {expected}")] SequenceGap
        { expected: u64, got: u64 };
    /// The device's journal can only be uploaded once it is revoked: a device that is
    /// not pushes its journal itself (409).
    DeviceNotRevoked: CONFLICT "device not revoked" => #[error(
        "the device is not revoked; it pushes its journal itself (sign in on it again if its session ended)"
    )] DeviceNotRevoked;
    /// An uploaded journal file is not one, or not this device's (422); nothing was
    /// changed.
    InvalidJournal: UNPROCESSABLE_ENTITY "invalid journal" => #[error("{0}")] InvalidJournal(String);
    /// A pushed sequence number was already used by another movement (409).
    SequenceConflict: CONFLICT "sequence conflict" => #[error("{0}")] SequenceConflict(String);
    /// A push carries more movements than one batch may (413).
    BatchTooLarge: PAYLOAD_TOO_LARGE "batch too large"
        => #[error("a push carries at most {max} movements")] BatchTooLarge { max: usize };
    /// A pull cursor that this server did not issue, or from another database (400):
    /// pull again without a cursor to start a fresh snapshot.
    InvalidCursor: BAD_REQUEST "invalid cursor" => #[error("{0}")] InvalidCursor(String);
    /// An id in the body or query names nothing in the caller's tenant (422): a
    /// warehouse, parent location or product.
    ReferenceNotFound: UNPROCESSABLE_ENTITY "reference not found" => #[error("{0}")] ReferenceNotFound(String);
    /// A location's parent is in another warehouse (422).
    InvalidParent: UNPROCESSABLE_ENTITY "invalid parent" => #[error("{0}")] InvalidParent(String);
    /// The location holds stock (on hand or allocated): it cannot get children, nor be
    /// deleted (409). Stock lives only in leaf locations.
    LocationHasStock: CONFLICT "location has stock" => #[error(
        "the location holds stock; stock lives only in leaf locations, so move it out first"
    )] LocationHasStock;
    /// The location has child locations and cannot be deleted (409).
    LocationHasChildren: CONFLICT "location has children"
        => #[error("the location has child locations; delete or move them first")] LocationHasChildren;
    /// The location has stock history (stock rows or movements) and cannot be deleted;
    /// deactivate it instead (409).
    LocationHasHistory: CONFLICT "location has history"
        => #[error("the location has stock history; deactivate it instead of deleting it")] LocationHasHistory;
    /// A barcode is already assigned to another product of the tenant (409); the detail
    /// names it.
    BarcodeTaken: CONFLICT "barcode taken"
        => #[error("barcode {0} is already assigned to another product")] BarcodeTaken(String);
    /// Lots are only for lot-tracked products (409).
    ProductNotLotTracked: CONFLICT "product not lot-tracked"
        => #[error("the product is not lot-tracked; turn lot tracking on first")] ProductNotLotTracked;
    /// Lot tracking cannot be turned off while the product has lots (409).
    ProductHasLots: CONFLICT "product has lots"
        => #[error("the product has lots; lot tracking cannot be turned off")] ProductHasLots;
    /// Lot tracking cannot be turned on while the product holds stock without a lot (409).
    ProductHasStock: CONFLICT "product has stock"
        => #[error("the product holds stock without a lot; lot tracking cannot be turned on")] ProductHasStock;
    /// A product's custom fields do not match the tenant's field schema (422); `errors`
    /// lists each failing field.
    InvalidCustomFields: UNPROCESSABLE_ENTITY "invalid custom fields" => #[error(fmt = fields_summary)] InvalidCustomFields(Vec<FieldError>);
    /// The product field schema is not a valid JSON Schema object (422).
    InvalidFieldSchema: UNPROCESSABLE_ENTITY "invalid field schema"
        => #[error("invalid product field schema: {0}")] InvalidFieldSchema(String);
    /// A webhook URL is not https, or names a loopback, private or link-local address
    /// (422).
    InvalidWebhookUrl: UNPROCESSABLE_ENTITY "invalid webhook url"
        => #[error("invalid webhook url: {0}")] InvalidWebhookUrl(String);
    /// An order's state does not allow this action or line change (409); the detail
    /// says why (`core::orders::DocumentError`).
    InvalidOrderState: CONFLICT "invalid order state"
        => #[error("{0}")] InvalidOrderState(String);
    /// An import file is empty (422); nothing was changed.
    ImportEmpty: UNPROCESSABLE_ENTITY "empty import file" => #[error("{0}")] ImportEmpty(String);
    /// An import file is not UTF-8 (422): save it as "CSV UTF-8".
    ImportEncoding: UNPROCESSABLE_ENTITY "import file not utf-8" => #[error("{0}")] ImportEncoding(String);
    /// An import file cannot be read as CSV or XLSX, or lacks the named sheet (422).
    ImportUnreadable: UNPROCESSABLE_ENTITY "unreadable import file" => #[error("{0}")] ImportUnreadable(String);
    /// A required column is missing, or a column is unknown or repeated (422).
    ImportColumns: UNPROCESSABLE_ENTITY "import columns" => #[error("{0}")] ImportColumns(String);
    /// Two rows of an import file name the same key (422); the detail names both rows.
    ImportDuplicateKey: UNPROCESSABLE_ENTITY "duplicate key in import file" => #[error("{0}")] ImportDuplicateKey(String);
    /// A cell is longer than any field takes (422); the detail names row and column.
    ImportValueTooLong: UNPROCESSABLE_ENTITY "import value too long" => #[error("{0}")] ImportValueTooLong(String);
    /// A cell holds a spreadsheet formula (422): paste values instead.
    ImportFormula: UNPROCESSABLE_ENTITY "formula in import file" => #[error("{0}")] ImportFormula(String);
    /// An import file has more rows or bytes than the server takes (413).
    ImportTooLarge: PAYLOAD_TOO_LARGE "import file too large" => #[error("{0}")] ImportTooLarge(String);
    /// An XLSX file whose parts would inflate beyond what the server reads (413).
    ImportArchiveTooLarge: PAYLOAD_TOO_LARGE "import archive too large" => #[error("{0}")] ImportArchiveTooLarge(String);
    /// A CSV line longer than the server reads (422).
    ImportLineTooLong: UNPROCESSABLE_ENTITY "import line too long" => #[error("{0}")] ImportLineTooLong(String);
    /// The import's state does not allow this (409): validating, with errors, committed,
    /// failed or expired.
    InvalidImportState: CONFLICT "invalid import state" => #[error("{0}")] InvalidImportState(String);
    @extra {
        /// A movement refused by the rules; nothing was changed.
        #[error(fmt = rejection_message)]
        Movement(logiflow_core::Rejection) => |r| r.code.into(), status_of(r.code.into());
        /// A request about a revoked device that only a live one allows (signing in on it
        /// again): answered with the device's code, but 409, since the caller's own
        /// credentials are fine.
        #[error("{0}")]
        RevokedDevice(String) => |_d| ProblemCode::DeviceRevoked, StatusCode::CONFLICT;
    }
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

fn fields_summary(errors: &[FieldError], f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    let summary = errors
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
        .join("; ");
    write!(
        f,
        "custom fields do not match the tenant's product field schema: {summary}"
    )
}

fn rejection_message(
    rejection: &logiflow_core::Rejection,
    f: &mut std::fmt::Formatter<'_>,
) -> std::fmt::Result {
    f.write_str(&rejection.message)
}

impl ApiError {
    /// Wraps an unexpected failure (logged, answered with a generic 500).
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(e.into())
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
        "party_code_key" => "a supplier or customer with this code exists",
        _ => return None,
    })
}

/// SQLSTATEs of a transaction that lost a race and may simply be run again:
/// serialization_failure and deadlock_detected.
const TRANSIENT_SQLSTATES: [&str; 2] = ["40001", "40P01"];

/// SQLSTATEs of a text PostgreSQL cannot store, which only a request brings: a NUL
/// character in a text (character_not_in_repertoire) or in a JSON string
/// (untranslatable_character).
const UNSTORABLE_TEXT_SQLSTATES: [&str; 2] = ["22021", "22P05"];

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
            if db
                .code()
                .is_some_and(|c| UNSTORABLE_TEXT_SQLSTATES.contains(&c.as_ref()))
            {
                // A NUL in a text that no check of its field refused (names, addresses,
                // phones, notes have one): the request's fault, so a 400, not a 500.
                tracing::info!(error = %db, "unstorable text in a request");
                return ApiError::BadRequest("text must not contain a NUL character".into());
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

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use logiflow_core::Rejection;

    use super::*;

    fn wire(code: ProblemCode) -> String {
        serde_json::to_value(code)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn answer(error: &ApiError) -> (u16, String, &'static str) {
        (
            error.status().as_u16(),
            wire(error.code()),
            title_of(error.code()),
        )
    }

    #[test]
    fn each_variant_answers_its_row() {
        let refused = |code| {
            ApiError::Movement(Rejection {
                code,
                message: "refused".into(),
            })
        };
        let cases = [
            (ApiError::NotFound, (404, "not_found", "not found")),
            (
                ApiError::QuotaExceeded {
                    resource: "users",
                    limit: 3,
                },
                (403, "quota_exceeded", "quota exceeded"),
            ),
            (
                ApiError::DeviceRevoked,
                (401, "device_revoked", "device revoked"),
            ),
            // The one variant answering another row's code, with its own status.
            (
                ApiError::RevokedDevice("gone".into()),
                (409, "device_revoked", "device revoked"),
            ),
            (
                refused(RejectCode::InsufficientStock),
                (409, "insufficient_stock", "movement refused"),
            ),
            (
                refused(RejectCode::LotExpired),
                (422, "lot_expired", "movement refused"),
            ),
            (
                ApiError::internal("boom"),
                (500, "internal", "internal error"),
            ),
        ];
        for (error, (status, code, title)) in cases {
            assert_eq!(
                answer(&error),
                (status, code.to_owned(), title),
                "{error:?}"
            );
        }
    }

    #[test]
    fn movement_codes_are_the_journal_codes_with_their_status() {
        for &r in RejectCode::ALL {
            assert_eq!(wire(r.into()), r.as_str());
            assert_eq!(title_of(r.into()), "movement refused");
            let conflict = matches!(
                r,
                RejectCode::InsufficientStock | RejectCode::BeforeLatestCount
            );
            let status = if conflict { 409 } else { 422 };
            assert_eq!(status_of(r.into()).as_u16(), status, "{r}");
        }
    }

    #[test]
    fn codes_are_distinct_and_titled() {
        let wires: std::collections::BTreeSet<String> =
            ProblemCode::ALL.iter().map(|c| wire(*c)).collect();
        assert_eq!(wires.len(), ProblemCode::ALL.len());
        assert!(ProblemCode::ALL.iter().all(|c| title_of(*c) != "unknown"));
    }

    #[test]
    fn custom_field_errors_are_summed_up_in_the_detail() {
        let error = ApiError::InvalidCustomFields(vec![
            FieldError {
                field: String::new(),
                message: "color is required".into(),
            },
            FieldError {
                field: "/size".into(),
                message: "not a number".into(),
            },
        ]);
        assert_eq!(
            error.to_string(),
            "custom fields do not match the tenant's product field schema: \
             (object): color is required; /size: not a number"
        );
    }
}
