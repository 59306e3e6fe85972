//! Exact integer quantities.
//!
//! Quantities are whole numbers of the product's base unit (pieces, grams, millilitres):
//! never floats, so sums are exact and every replica computes the same numbers. Each
//! type's constructor is the only way in, so a function that takes a [`PositiveQty`]
//! needs no check of its own.

use std::fmt;

/// The largest quantity one movement or count may carry, in base units (10^12).
///
/// Far above any real movement, and small enough that sums of millions of movements
/// stay well inside `i64`, so stock arithmetic cannot overflow in practice (it is still
/// checked).
pub const QTY_MAX: i64 = 1_000_000_000_000;

/// How many digits make a quantity typed into a quantity field look like a barcode
/// scanned there by mistake: the shortest GTIN (EAN-8) has eight, leading zeros
/// included, and nobody moves ten million units by hand. The desktop refuses such an
/// entry with its own message, whatever [`QTY_MAX`] allows; the API and imports, where
/// nobody scans, take every quantity up to [`QTY_MAX`].
pub const SCANNED_QTY_DIGITS: usize = 8;

/// Why a number is not a valid quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QtyError {
    /// Zero or below where a positive quantity is needed.
    #[error("quantity must be greater than zero (got {0})")]
    NotPositive(i64),
    /// Below zero where a count or stock level is needed.
    #[error("quantity must not be negative (got {0})")]
    Negative(i64),
    /// A signed change of zero, which would record nothing.
    #[error("a change of zero records nothing")]
    Zero,
    /// Beyond [`QTY_MAX`].
    #[error("quantity {0} exceeds the maximum of {QTY_MAX}")]
    TooLarge(i64),
}

/// A quantity of at least one base unit (what a receipt, shipment or transfer moves).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PositiveQty(i64);

impl PositiveQty {
    /// Parses a positive quantity.
    ///
    /// ```
    /// use logiflow_core::PositiveQty;
    /// assert_eq!(PositiveQty::new(5).unwrap().get(), 5);
    /// assert!(PositiveQty::new(0).is_err());
    /// assert!(PositiveQty::new(-3).is_err());
    /// ```
    pub fn new(value: i64) -> Result<Self, QtyError> {
        if value <= 0 {
            Err(QtyError::NotPositive(value))
        } else if value > QTY_MAX {
            Err(QtyError::TooLarge(value))
        } else {
            Ok(Self(value))
        }
    }

    /// The number of base units.
    pub const fn get(self) -> i64 {
        self.0
    }
}

/// A quantity of zero or more base units (what a count observes).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Qty(i64);

impl Qty {
    /// Zero units.
    pub const ZERO: Qty = Qty(0);

    /// Parses a non-negative quantity.
    pub fn new(value: i64) -> Result<Self, QtyError> {
        if value < 0 {
            Err(QtyError::Negative(value))
        } else if value > QTY_MAX {
            Err(QtyError::TooLarge(value))
        } else {
            Ok(Self(value))
        }
    }

    /// The number of base units.
    pub const fn get(self) -> i64 {
        self.0
    }
}

/// A signed, non-zero change of stock (what an adjustment records).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delta(i64);

impl Delta {
    /// Parses a non-zero change whose size is at most [`QTY_MAX`].
    pub fn new(value: i64) -> Result<Self, QtyError> {
        if value == 0 {
            Err(QtyError::Zero)
        } else if value.unsigned_abs() > QTY_MAX.unsigned_abs() {
            Err(QtyError::TooLarge(value))
        } else {
            Ok(Self(value))
        }
    }

    /// The signed number of base units.
    pub const fn get(self) -> i64 {
        self.0
    }
}

macro_rules! qty_conversions {
    ($($t:ident),*) => {$(
        impl TryFrom<i64> for $t {
            type Error = QtyError;
            fn try_from(value: i64) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }
        impl From<$t> for i64 {
            fn from(q: $t) -> i64 {
                q.0
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    )*};
}
qty_conversions!(PositiveQty, Qty, Delta);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced_at_construction() {
        assert_eq!(PositiveQty::new(QTY_MAX).unwrap().get(), QTY_MAX);
        assert_eq!(
            PositiveQty::new(QTY_MAX + 1),
            Err(QtyError::TooLarge(QTY_MAX + 1))
        );
        assert_eq!(Qty::new(0).unwrap(), Qty::ZERO);
        assert_eq!(Qty::new(-1), Err(QtyError::Negative(-1)));
        assert_eq!(Delta::new(0), Err(QtyError::Zero));
        assert_eq!(Delta::new(-QTY_MAX).unwrap().get(), -QTY_MAX);
        assert_eq!(Delta::new(i64::MIN), Err(QtyError::TooLarge(i64::MIN)));
    }

    #[test]
    fn json_rejects_invalid_quantities() {
        assert_eq!(serde_json::from_str::<PositiveQty>("3").unwrap().get(), 3);
        assert!(serde_json::from_str::<PositiveQty>("0").is_err());
        assert!(serde_json::from_str::<Qty>("-2").is_err());
        assert!(serde_json::from_str::<Delta>("0").is_err());
        assert_eq!(
            serde_json::to_string(&Delta::new(-4).unwrap()).unwrap(),
            "-4"
        );
    }
}
