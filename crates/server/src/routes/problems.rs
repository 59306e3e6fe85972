//! The problem responses of the OpenAPI document, written once.
//!
//! Every answer of status 400 or above is a [`Problem`] document
//! (`application/problem+json`): [`ApiError`] is the one error
//! type, the fallbacks included. So an operation's annotation names only the status and
//! the codes it may answer, `(status = 409, description = "conflict (code taken)")`, and
//! [`problem_bodies`] gives each such response its body when the document is assembled.
//! The responses most operations share are the sets below ([`Reads`], [`Writes`],
//! [`Authed`], [`RateLimited`]), listed in `responses(...)` like a response tuple.
//!
//! The rendering of an [`ApiError`] as that document (its body,
//! `Content-Type`, `Retry-After` and `WWW-Authenticate`) is here too: `crate::error` is
//! the table of what can go wrong, which the domain and storage functions return; how it
//! is answered over HTTP belongs to the HTTP layer.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use logiflow_core::ProblemCode;
use serde::Serialize;
use utoipa::ToSchema;

use utoipa::IntoResponses;
use utoipa::openapi::content::Content;
use utoipa::openapi::response::Response;

use crate::error::{ApiError, FieldError, title_of};
use utoipa::openapi::{OpenApi, Ref, RefOr};

/// The media type of every problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem response without its body (added by [`problem_bodies`]).
fn problem(description: &str) -> RefOr<Response> {
    RefOr::T(Response::new(description))
}

/// Declares a set of problem responses: each row a status and its description.
macro_rules! problem_set {
    ($($(#[doc = $doc:literal])* $name:ident = [$(($status:literal, $description:literal)),+];)+) => {$(
        $(#[doc = $doc])*
        #[derive(Debug)]
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                [$(($status, $description)),+]
                    .into_iter()
                    .map(|(status, description): (u16, &str)| {
                        (status.to_string(), problem(description))
                    })
                    .collect()
            }
        }
    )+};
}

problem_set! {
    /// 429: every authenticated route is under the tenant's rate limit.
    RateLimited = [(429, "rate_limited (Retry-After)")];
    /// 401 and 429: a route open to any authenticated caller.
    Authed = [(401, "unauthenticated"), (429, "rate_limited (Retry-After)")];
    /// 401, 403 and 429: a read that needs a permission.
    Reads = [
        (401, "unauthenticated"),
        (403, "forbidden"),
        (429, "rate_limited (Retry-After)")
    ];
    /// 401, 403 and 429: a write that needs a permission, refused to a tenant whose
    /// subscription expired.
    Writes = [
        (401, "unauthenticated"),
        (403, "forbidden, subscription_expired"),
        (429, "rate_limited (Retry-After)")
    ];
}

/// Gives every response of status 400 or above that has no body the problem document's,
/// so that annotations need not repeat it.
pub fn problem_bodies(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &mut operation.responses.responses {
                let RefOr::T(response) = response else {
                    continue;
                };
                let is_error = status.parse::<u16>().is_ok_and(|status| status >= 400);
                if is_error && response.content.is_empty() {
                    response.content.insert(
                        PROBLEM_JSON.to_owned(),
                        Content::new(Some(Ref::from_schema_name("Problem"))),
                    );
                }
            }
        }
    }
}

/// The `ErrorCode` schema of the OpenAPI document: the codes of [`ProblemCode::ALL`].
#[derive(Debug)]
pub struct ErrorCodeSchema;

impl utoipa::PartialSchema for ErrorCodeSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let codes = ProblemCode::ALL
            .iter()
            .map(|code| serde_json::Value::from(code.as_str()));
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("Stable machine codes of every error the API answers."))
            .enum_values(Some(codes))
            .into()
    }
}

impl ToSchema for ErrorCodeSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
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
    #[schema(value_type = ErrorCodeSchema)]
    pub code: ProblemCode,
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

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let code = self.code();
        let status = self.status();
        let title = title_of(code);
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
            type_: format!("urn:logiflow:problem:{code}"),
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
