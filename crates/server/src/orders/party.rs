//! Suppliers and customers (one `party` table, told apart by `kind`): the row type and
//! the rules of their fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::catalog::warehouse::{parse_code, validate_address};
use crate::error::{ApiError, ApiResult};
use crate::users::{normalize_email, refuse_forbidden_char, validate_name};

/// Longest phone number.
pub const PHONE_LEN_MAX: usize = 64;

/// Longest lead time or minimum shelf life, in days (ten years).
pub const DAYS_MAX: i32 = 3650;

/// Longest search text.
pub const QUERY_LEN_MAX: usize = 200;

/// Whom the tenant buys from or sells to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Supplier,
    Customer,
}

impl PartyKind {
    /// Both kinds.
    pub const ALL: [PartyKind; 2] = [PartyKind::Supplier, PartyKind::Customer];

    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PartyKind::Supplier => "supplier",
            PartyKind::Customer => "customer",
        }
    }

    /// The field of days only this kind has (in the API, the import's columns and the
    /// OpenAPI document): a supplier's lead time, a customer's least shelf life.
    pub fn days_field(self) -> &'static str {
        match self {
            PartyKind::Supplier => "lead_time_days",
            PartyKind::Customer => "min_shelf_life_days",
        }
    }
}

impl TryFrom<String> for PartyKind {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "supplier" => Ok(PartyKind::Supplier),
            "customer" => Ok(PartyKind::Customer),
            _ => Err(s),
        }
    }
}

/// A supplier or a customer as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Party {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub kind: PartyKind,
    /// Unique per tenant and kind; letters, digits, `- _ .`, upper case, at most 32.
    pub code: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub address: String,
    /// Suppliers: days from ordering to delivery.
    pub lead_time_days: Option<i32>,
    /// Customers: the least remaining shelf life, in days, of a lot allocated to them.
    pub min_shelf_life_days: Option<i32>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Filters of a party list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PartyQuery {
    /// A code prefix or a part of the name (case-insensitive).
    pub q: Option<String>,
    /// Only active (`true`) or deactivated (`false`) ones.
    pub active: Option<bool>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl PartyQuery {
    /// Checks the search text's length.
    pub fn validate(&self) -> ApiResult<()> {
        if self
            .q
            .as_ref()
            .is_some_and(|q| q.is_empty() || q.chars().count() > QUERY_LEN_MAX)
        {
            return Err(ApiError::BadRequest(format!(
                "q must have 1 to {QUERY_LEN_MAX} characters"
            )));
        }
        Ok(())
    }
}

/// A new supplier or customer, as sent.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewParty {
    pub code: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Suppliers only: 0 to 3650 days.
    pub lead_time_days: Option<i32>,
    /// Customers only: 0 to 3650 days.
    pub min_shelf_life_days: Option<i32>,
}

/// Changes to a supplier or customer; absent fields stay as they are.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateParty {
    pub code: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Suppliers only: 0 to 3650 days.
    pub lead_time_days: Option<i32>,
    /// Customers only: 0 to 3650 days.
    pub min_shelf_life_days: Option<i32>,
    /// `false` deactivates it: no new orders name it; its orders stay.
    pub active: Option<bool>,
}

/// A validated new party.
#[derive(Debug)]
pub struct ValidParty {
    pub kind: PartyKind,
    pub code: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub address: String,
    pub lead_time_days: Option<i32>,
    pub min_shelf_life_days: Option<i32>,
}

/// Validated changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct PartyChanges {
    pub code: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub lead_time_days: Option<i32>,
    pub min_shelf_life_days: Option<i32>,
    pub active: Option<bool>,
}

/// An email, normalized, or empty for none.
fn email(raw: Option<&str>) -> ApiResult<Option<String>> {
    raw.map(|e| match e.trim() {
        "" => Ok(String::new()),
        e => normalize_email(e),
    })
    .transpose()
}

fn phone(raw: Option<&str>) -> ApiResult<Option<String>> {
    raw.map(|p| {
        let p = p.trim();
        if p.chars().count() > PHONE_LEN_MAX {
            return Err(ApiError::BadRequest(format!(
                "phone has at most {PHONE_LEN_MAX} characters"
            )));
        }
        refuse_forbidden_char("phone", p)?;
        Ok(p.to_owned())
    })
    .transpose()
}

/// A number of days that only one kind of party has: its [`PartyKind::days_field`].
fn days(value: Option<i32>, kind: PartyKind, belongs_to: PartyKind) -> ApiResult<Option<i32>> {
    let Some(v) = value else { return Ok(None) };
    let field = belongs_to.days_field();
    if kind != belongs_to {
        return Err(ApiError::BadRequest(format!(
            "{field} is a field of {}s only",
            belongs_to.as_str()
        )));
    }
    if !(0..=DAYS_MAX).contains(&v) {
        return Err(ApiError::BadRequest(format!(
            "{field} must be between 0 and {DAYS_MAX}"
        )));
    }
    Ok(Some(v))
}

impl NewParty {
    /// Checks every field for a party of `kind`.
    pub fn validate(&self, kind: PartyKind) -> ApiResult<ValidParty> {
        self.validate_fields(kind)
            .map_err(|mut errors| errors.swap_remove(0).1)
    }

    /// Checks every field for a party of `kind`, naming each failing field (an import
    /// lists them all).
    pub fn validate_fields(
        &self,
        kind: PartyKind,
    ) -> Result<ValidParty, Vec<(&'static str, ApiError)>> {
        let mut errors = Vec::new();
        let mut check = |field: &'static str, r: ApiResult<String>| {
            r.map_err(|e| errors.push((field, e))).unwrap_or_default()
        };
        let code = check("code", parse_code(&self.code));
        let name = check("name", validate_name(&self.name));
        let email = check(
            "email",
            email(self.email.as_deref()).map(Option::unwrap_or_default),
        );
        let phone = check(
            "phone",
            phone(self.phone.as_deref()).map(Option::unwrap_or_default),
        );
        let address = check(
            "address",
            validate_address(self.address.as_deref().unwrap_or("")),
        );
        let lead_time_days = days(self.lead_time_days, kind, PartyKind::Supplier)
            .map_err(|e| errors.push((PartyKind::Supplier.days_field(), e)))
            .unwrap_or_default();
        let min_shelf_life_days = days(self.min_shelf_life_days, kind, PartyKind::Customer)
            .map_err(|e| errors.push((PartyKind::Customer.days_field(), e)))
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidParty {
            kind,
            code,
            name,
            email,
            phone,
            address,
            lead_time_days,
            min_shelf_life_days,
        })
    }
}

impl UpdateParty {
    /// Checks every change for a party of `kind`.
    pub fn validate(&self, kind: PartyKind) -> ApiResult<PartyChanges> {
        Ok(PartyChanges {
            code: self.code.as_deref().map(parse_code).transpose()?,
            name: self.name.as_deref().map(validate_name).transpose()?,
            email: email(self.email.as_deref())?,
            phone: phone(self.phone.as_deref())?,
            address: self.address.as_deref().map(validate_address).transpose()?,
            lead_time_days: days(self.lead_time_days, kind, PartyKind::Supplier)?,
            min_shelf_life_days: days(self.min_shelf_life_days, kind, PartyKind::Customer)?,
            active: self.active,
        })
    }
}
