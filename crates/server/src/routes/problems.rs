//! The problem responses of the OpenAPI document, written once.
//!
//! Every answer of status 400 or above is a [`Problem`](crate::error::Problem) document
//! (`application/problem+json`): [`ApiError`](crate::error::ApiError) is the one error
//! type, the fallbacks included. So an operation's annotation names only the status and
//! the codes it may answer, `(status = 409, description = "conflict (code taken)")`, and
//! [`problem_bodies`] gives each such response its body when the document is assembled.
//! The responses most operations share are the sets below ([`Reads`], [`Writes`],
//! [`Authed`], [`RateLimited`]), listed in `responses(...)` like a response tuple.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::content::Content;
use utoipa::openapi::response::Response;
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
