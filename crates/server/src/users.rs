//! Users of a tenant: the row type and the rules for emails, names and passwords.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::rbac::Role;

/// Shortest accepted password.
pub const PASSWORD_LEN_MIN: usize = 12;

/// Longest accepted password (argon2 cost grows with it).
pub const PASSWORD_LEN_MAX: usize = 1024;

/// Longest email (RFC 5321 path limit).
pub const EMAIL_LEN_MAX: usize = 254;

/// Longest display name.
pub const NAME_LEN_MAX: usize = 200;

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: RoleColumn,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A role read from the database.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct RoleColumn(pub Role);

impl TryFrom<String> for RoleColumn {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Role::parse(&s).map(RoleColumn).ok_or(s)
    }
}

/// Validates and normalizes an email (lowercased: the unique key is case-insensitive).
pub fn normalize_email(email: &str) -> ApiResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= EMAIL_LEN_MAX
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(ApiError::BadRequest("invalid email".into()))
    }
}

/// The one character a stored text (a name, an address, a phone number) may not hold:
/// PostgreSQL's text cannot store it, so a text with it failed at the insert (a 500)
/// until it was refused by its check.
pub const TEXT_FORBIDDEN_CHAR: char = '\0';

/// Refuses a text holding [`TEXT_FORBIDDEN_CHAR`]: `field` names it in the message.
pub fn refuse_forbidden_char(field: &str, text: &str) -> ApiResult<()> {
    if text.contains(TEXT_FORBIDDEN_CHAR) {
        return Err(ApiError::BadRequest(format!(
            "{field} must not contain a NUL character"
        )));
    }
    Ok(())
}

/// Validates a display name.
pub fn validate_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_LEN_MAX {
        return Err(ApiError::BadRequest(format!(
            "names must have 1 to {NAME_LEN_MAX} characters"
        )));
    }
    refuse_forbidden_char("names", name)?;
    Ok(name.to_owned())
}

/// Validates a password's length.
pub fn validate_password(password: &str) -> ApiResult<()> {
    let n = password.chars().count();
    if !(PASSWORD_LEN_MIN..=PASSWORD_LEN_MAX).contains(&n) {
        return Err(ApiError::BadRequest(format!(
            "passwords must have {PASSWORD_LEN_MIN} to {PASSWORD_LEN_MAX} characters"
        )));
    }
    Ok(())
}
