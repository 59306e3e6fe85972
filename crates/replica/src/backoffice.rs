//! The back office from the device: the desktop's Back office area manages the tenant's
//! warehouses, locations, products, lots, people, devices, API keys and settings, and
//! reads the audit log, through the server's own API with this device's session, so the
//! signed-in person's role decides exactly as it does on the server.
//!
//! It is online only: nothing it answers is kept on the device, so offline a screen says
//! so instead of showing something stale as if it were current. Only the routes of those
//! screens pass ([`allowed`]); the sync, device registration, journal, movement and order
//! routes never do, because their effects are the replica's own to track (a movement
//! recorded here must go through the journal). A creation is sent again only when it
//! certainly did not reach the server, so a lost answer never creates a thing twice.

use serde::{Deserialize, Serialize};

use crate::client::{CallError, Resend, ServerClient};
use crate::credentials::CredentialStore;
use crate::{Error, Replica, Result};

/// One request of a back-office screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BackofficeCall {
    /// `GET`, `POST`, `PATCH` or `DELETE`.
    pub method: String,
    /// The server path with its query, e.g. `/v1/products?q=bolt&limit=50`.
    pub path: String,
    /// The JSON body of a `POST` or `PATCH`.
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

/// The resources a back-office screen may reach, and with which methods; `devices` only
/// to list and revoke, never to register one or upload a journal.
const RESOURCES: &[(&str, &[&str])] = &[
    ("me", &["GET"]),
    ("warehouses", &["GET", "POST", "PATCH"]),
    ("locations", &["GET", "POST", "PATCH", "DELETE"]),
    ("products", &["GET", "POST", "PATCH"]),
    ("lots", &["GET", "POST", "PATCH"]),
    ("users", &["GET", "POST", "PATCH"]),
    ("api-keys", &["GET", "POST", "DELETE"]),
    ("devices", &["GET", "DELETE"]),
    ("settings", &["GET", "PATCH"]),
    ("audit", &["GET"]),
    ("suppliers", &["GET", "POST", "PATCH"]),
    ("customers", &["GET", "POST", "PATCH"]),
    ("webhook-endpoints", &["GET", "POST", "PATCH", "DELETE"]),
];

/// The method of `call` if a back-office screen may send it, or why not.
pub fn allowed(method: &str, path: &str) -> std::result::Result<reqwest::Method, String> {
    let refuse = |why: &str| {
        Err(format!(
            "{method} {path} is not a back-office request: {why}"
        ))
    };
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    if query.chars().any(|c| c.is_whitespace() || c == '#') {
        return refuse("the query has spaces or a fragment");
    }
    let Some(rest) = route.strip_prefix("/v1/") else {
        return refuse("not a /v1 path");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let plain = |s: &&str| {
        !s.is_empty()
            && *s != "."
            && *s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))
    };
    if !segments.iter().all(plain) {
        return refuse("a part of the path is empty or has characters a route never has");
    }
    let Some((_, methods)) = RESOURCES.iter().find(|(r, _)| *r == segments[0]) else {
        return refuse("the back office does not manage this");
    };
    let upper = method.to_ascii_uppercase();
    if !methods.contains(&upper.as_str()) {
        return refuse("this method is not allowed here");
    }
    let device_route = match segments.len() {
        1 => upper == "GET",
        2 => upper == "DELETE",
        _ => false,
    };
    if segments[0] == "devices" && !device_route {
        return refuse("devices are only listed and revoked here");
    }
    if segments.len() > 4 {
        return refuse("too deep");
    }
    upper
        .parse()
        .map_err(|_| format!("{method} is not an HTTP method"))
}

impl Replica {
    /// Sends one back-office request with this device's session and answers the server's
    /// JSON (`null` for no content). A refusal keeps the server's code and words.
    pub fn backoffice(
        &mut self,
        client: &ServerClient,
        store: &CredentialStore,
        call: &BackofficeCall,
    ) -> Result<serde_json::Value> {
        let method = allowed(&call.method, &call.path).map_err(|message| Error::InvalidInput {
            field: "path",
            message,
        })?;
        let body = call
            .body
            .as_ref()
            .filter(|_| method == reqwest::Method::POST || method == reqwest::Method::PATCH)
            .map(crate::client::json_body)
            .transpose()?;
        // Reads and revocations can be repeated; a creation or change only when it did
        // not leave the machine.
        let resend = if method == reqwest::Method::GET || method == reqwest::Method::DELETE {
            Resend::Yes
        } else {
            Resend::OnlyIfNotSent
        };
        let (answer, _) = self.with_session_as(client, store, &mut |_| {}, None, |_, ctx| {
            ctx.authed_with(
                method,
                &call.path,
                body.as_deref().map(|b| (b, crate::client::JSON)),
                resend,
                &crate::client::json_answer::<serde_json::Value>,
            )
            .map_err(CallError::into_error)
        })?;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_back_office_routes_pass() {
        let pass = [
            ("GET", "/v1/me"),
            ("get", "/v1/products?q=bolt%20m8&limit=50"),
            ("POST", "/v1/warehouses"),
            (
                "PATCH",
                "/v1/locations/0190c0de-0000-7000-8000-000000000001",
            ),
            (
                "DELETE",
                "/v1/locations/0190c0de-0000-7000-8000-000000000001",
            ),
            ("POST", "/v1/locations/generate"),
            (
                "GET",
                "/v1/audit?action=product.update&from=2026-01-01T00%3A00%3A00Z",
            ),
            (
                "DELETE",
                "/v1/api-keys/0190c0de-0000-7000-8000-000000000002",
            ),
            ("PATCH", "/v1/settings"),
            ("GET", "/v1/devices?limit=100"),
            ("DELETE", "/v1/devices/0190c0de-0000-7000-8000-000000000003"),
        ];
        for (method, path) in pass {
            assert!(allowed(method, path).is_ok(), "{method} {path}");
        }
        let refuse = [
            ("POST", "/v1/sync/push"),
            ("GET", "/v1/sync/pull"),
            ("POST", "/v1/movements"),
            ("POST", "/v1/devices"),
            ("POST", "/v1/devices/x/session"),
            ("POST", "/v1/devices/x/journal"),
            ("POST", "/v1/auth/login"),
            ("DELETE", "/v1/products/x"),
            ("PUT", "/v1/products/x"),
            ("GET", "/v1/../v1/sync/pull"),
            ("GET", "/v1/products//x"),
            ("GET", "/v1/products/a b"),
            ("GET", "/v1/products?q=a b"),
            ("GET", "http://elsewhere/v1/products"),
            ("GET", "/v2/products"),
            ("GET", "/v1/products/a/b/c/d"),
            ("POST", "/v1/imports"),
            ("GET", "/v1/devices/x"),
            ("DELETE", "/v1/devices"),
        ];
        for (method, path) in refuse {
            assert!(allowed(method, path).is_err(), "{method} {path}");
        }
    }
}
