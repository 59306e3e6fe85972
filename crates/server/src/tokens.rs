//! Credentials: password hashes, access tokens (JWT), refresh tokens and API keys.
//!
//! Refresh tokens and API keys are opaque: a prefix, then base64url of the tenant id (16
//! bytes) followed by 32 random bytes. Carrying the tenant lets the server scope its
//! lookup (row-level security) before it knows whose token it is; the random part makes
//! it unguessable. Only their SHA-256 is stored.

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use logiflow_core::TenantId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "lfr_";
/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "lfk_";
const SECRET_BYTES: usize = 32;

/// How costly a new password hash is to compute. Verifying reads the parameters stored
/// in the hash, so hashes of either cost verify with [`verify_password`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HashCost {
    /// argon2id with the crate's defaults: 19 MiB, 2 passes, 1 lane (OWASP's first
    /// recommendation). Every server and CLI hashes at this cost.
    #[default]
    Standard,
    /// argon2id at its minimum: 8 KiB, 1 pass. Only for test servers, which create a
    /// tenant admin per test: at the standard cost those hashes were a seventh of the CPU
    /// of the API tests. Nothing selects it from outside the code: it is a field of
    /// `Config` that neither the configuration file nor an environment variable sets.
    Minimal,
}

impl HashCost {
    fn params(self) -> argon2::Params {
        match self {
            Self::Standard => argon2::Params::default(),
            Self::Minimal => argon2::Params::new(
                argon2::Params::MIN_M_COST,
                argon2::Params::MIN_T_COST,
                argon2::Params::MIN_P_COST,
                None,
            )
            .expect("argon2's minimum parameters are valid"),
        }
    }
}

/// Hashes a password with argon2id at `cost`.
pub fn hash_password(
    password: &str,
    cost: HashCost,
) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        cost.params(),
    )
    .hash_password(password.as_bytes(), &salt)?
    .to_string())
}

/// Whether `password` matches `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash no password matches, verified when the account is unknown so that a login's
/// duration does not reveal whether an email exists: of the `cost` the server hashes
/// its users' passwords at, so that it takes as long as theirs.
pub fn dummy_hash(cost: HashCost) -> &'static str {
    static STANDARD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static MINIMAL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = match cost {
        HashCost::Standard => &STANDARD,
        HashCost::Minimal => &MINIMAL,
    };
    hash.get_or_init(|| {
        hash_password(&Uuid::now_v7().to_string(), cost).expect("argon2 hashes a fresh password")
    })
}

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The tenant.
    pub tid: Uuid,
    /// The user's role when the token was issued (informative: the server re-reads it).
    pub role: String,
    /// The session (refresh-token family).
    pub sid: Uuid,
    /// Token id.
    pub jti: Uuid,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expires at (unix seconds).
    pub exp: i64,
}

/// Keys for signing and verifying access tokens (HS256).
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(***)")
    }
}

impl JwtKeys {
    /// Keys from a shared secret.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// Signs `claims`.
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Verifies signature, algorithm and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map(|d| d.claims)
    }
}

/// A freshly generated opaque token: the string handed out once, and its stored hash.
#[derive(Debug)]
pub struct OpaqueToken {
    /// The token, shown to the client once.
    pub token: String,
    /// SHA-256 of the token.
    pub hash: Vec<u8>,
}

/// Generates a token carrying `tenant_id`.
pub fn generate(prefix: &str, tenant_id: TenantId) -> OpaqueToken {
    let mut raw = [0u8; 16 + SECRET_BYTES];
    raw[..16].copy_from_slice(tenant_id.as_uuid().as_bytes());
    OsRng.fill_bytes(&mut raw[16..]);
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(raw));
    let hash = sha256(&token);
    OpaqueToken { token, hash }
}

/// Parses a token of kind `prefix`: its tenant and hash, or `None` when malformed.
pub fn parse(prefix: &str, token: &str) -> Option<(TenantId, Vec<u8>)> {
    let body = token.strip_prefix(prefix)?;
    let raw = URL_SAFE_NO_PAD.decode(body).ok()?;
    if raw.len() != 16 + SECRET_BYTES {
        return None;
    }
    let tenant = Uuid::from_slice(&raw[..16]).ok()?;
    Some((TenantId::from_uuid(tenant), sha256(token)))
}

/// SHA-256 of a string.
pub fn sha256(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_tokens_round_trip_and_reject_garbage() {
        let t = TenantId::from_uuid(Uuid::now_v7());
        let g = generate(API_KEY_PREFIX, t);
        assert_eq!(parse(API_KEY_PREFIX, &g.token), Some((t, g.hash.clone())));
        assert_eq!(parse(REFRESH_PREFIX, &g.token), None);
        assert_eq!(parse(API_KEY_PREFIX, "lfk_abc"), None);
        assert_ne!(generate(API_KEY_PREFIX, t).token, g.token);
    }

    #[test]
    fn passwords_verify_at_either_cost() {
        for (cost, params) in [
            (HashCost::Standard, "$argon2id$v=19$m=19456,t=2,p=1$"),
            (HashCost::Minimal, "$argon2id$v=19$m=8,t=1,p=1$"),
        ] {
            let h = hash_password("correct horse", cost).unwrap();
            assert!(h.starts_with(params), "{cost:?}: {h}");
            assert!(verify_password("correct horse", &h));
            assert!(!verify_password("wrong", &h));
        }
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn the_dummy_hash_is_of_the_servers_cost_and_matches_no_password() {
        for (cost, params) in [
            (HashCost::Standard, "$argon2id$v=19$m=19456,t=2,p=1$"),
            (HashCost::Minimal, "$argon2id$v=19$m=8,t=1,p=1$"),
        ] {
            let h = dummy_hash(cost);
            assert!(h.starts_with(params), "{cost:?}: {h}");
            assert_eq!(dummy_hash(cost), h, "made once per cost");
            assert!(!verify_password("", h));
        }
    }

    #[test]
    fn jwt_rejects_other_keys_and_expired_tokens() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: Uuid::now_v7(),
            tid: Uuid::now_v7(),
            role: "admin".into(),
            sid: Uuid::now_v7(),
            jti: Uuid::now_v7(),
            iat: now,
            exp: now + 60,
        };
        let token = keys.sign(&claims).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), claims);
        let other = JwtKeys::new(b"another secret of thirty-two bytes!");
        assert!(other.verify(&token).is_err());
        let expired = keys
            .sign(&Claims {
                exp: now - 10,
                ..claims
            })
            .unwrap();
        assert!(keys.verify(&expired).is_err());
    }
}
