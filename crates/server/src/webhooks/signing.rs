//! Signatures per the Standard Webhooks convention (standardwebhooks.com), so receivers
//! verify with the libraries that exist for it.
//!
//! Each request carries `webhook-id` (the event's id, the same on every retry and
//! replay: the receiver's deduplication key), `webhook-timestamp` (Unix seconds of this
//! attempt) and `webhook-signature`: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
//! keyed with the base64-decoded part of the endpoint's `whsec_…` secret. During a
//! rotation's grace period the header carries one signature per valid secret, separated
//! by spaces; a receiver accepts the request when any of them verifies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of signing secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a signing secret (the spec asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn generate_secret() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut raw = [0_u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut raw);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(raw))
}

/// The key of a secret: its base64 part decoded (`None` if it is not base64).
fn key(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()
}

/// One signature, `v1,<base64>`, of `body` sent as message `id` at `timestamp`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(secret)?).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector the Standard Webhooks reference libraries share.
    #[test]
    fn the_specifications_test_vector() {
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#,
            )
            .as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn a_rotation_signs_with_both_secrets() {
        let (old, new) = (generate_secret(), generate_secret());
        assert!(new.starts_with(SECRET_PREFIX) && new != old);
        let header = signature_header(&[&new, &old], "id", 1, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(Some(parts[0]), sign(&new, "id", 1, b"{}").as_deref());
        assert_eq!(Some(parts[1]), sign(&old, "id", 1, b"{}").as_deref());
        assert_ne!(parts[0], parts[1]);
        assert_eq!(sign("whsec_not base64!", "id", 1, b""), None);
    }
}
