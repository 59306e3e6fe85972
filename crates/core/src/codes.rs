//! Validated codes that people type or scan: SKUs, barcodes, location codes, lot codes.
//!
//! Each is parsed once at the edge (API body, CSV row, scanner input) and carried as its
//! own type afterwards, so no code deeper in can hold an unchecked string.

use std::fmt;

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Nothing left after trimming.
    #[error("{kind} must not be empty")]
    Empty {
        /// Which kind of code.
        kind: &'static str,
    },
    /// Longer than allowed.
    #[error("{kind} is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// Which kind of code.
        kind: &'static str,
        /// Its length in characters.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error("{kind} contains {ch:?}, which is not allowed ({allowed})")]
    BadChar {
        /// Which kind of code.
        kind: &'static str,
        /// The offending character.
        ch: char,
        /// A description of what is allowed.
        allowed: &'static str,
    },
    /// A GTIN (EAN-8, UPC-A, EAN-13, GTIN-14) whose check digit is wrong: a misread scan.
    #[error(
        "barcode {code} has a wrong check digit (expected {expected}): probably a misread scan"
    )]
    CheckDigit {
        /// The scanned code.
        code: String,
        /// The check digit it should end with.
        expected: u32,
    },
}

/// Maximum SKU length in characters.
pub const SKU_LEN_MAX: usize = 64;
/// Maximum barcode length in characters.
pub const BARCODE_LEN_MAX: usize = 128;
/// Maximum location code length in characters.
pub const LOCATION_CODE_LEN_MAX: usize = 32;
/// Maximum lot code length in characters.
pub const LOT_CODE_LEN_MAX: usize = 64;

fn check(
    kind: &'static str,
    raw: &str,
    max: usize,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<String, CodeError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(CodeError::Empty { kind });
    }
    let len = s.chars().count();
    if len > max {
        return Err(CodeError::TooLong { kind, len, max });
    }
    if let Some(ch) = s.chars().find(|c| !ok(*c)) {
        return Err(CodeError::BadChar { kind, ch, allowed });
    }
    Ok(s.to_owned())
}

macro_rules! code_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name(String);

        impl $name {
            /// The code as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = CodeError;
            fn try_from(s: String) -> Result<Self, CodeError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(c: $name) -> String {
                c.0
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

code_type!(
    /// A stock-keeping unit code, unique per tenant.
    ///
    /// Letters, digits and `- _ . /`, at most [`SKU_LEN_MAX`] characters; stored upper
    /// case so that `ab-1` and `AB-1` cannot become two products.
    ///
    /// ```
    /// use logiflow_core::Sku;
    /// assert_eq!(Sku::parse(" ab-100/x ").unwrap().as_str(), "AB-100/X");
    /// assert!(Sku::parse("a b").is_err());
    /// ```
    Sku
);
impl Sku {
    /// Parses and normalises a SKU.
    pub fn parse(raw: &str) -> Result<Self, CodeError> {
        check("sku", raw, SKU_LEN_MAX, "letters, digits, - _ . /", |c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
        })
        .map(|s| Self(s.to_ascii_uppercase()))
    }
}

code_type!(
    /// A barcode as a scanner reads it (the scanner acts as a keyboard).
    ///
    /// Printable ASCII without spaces, at most [`BARCODE_LEN_MAX`] characters. A code of
    /// 8, 12, 13 or 14 digits is a GS1 GTIN and must carry a correct check digit: a wrong
    /// one is almost always a misread, and accepting it would book stock to nothing.
    ///
    /// ```
    /// use logiflow_core::Barcode;
    /// assert!(Barcode::parse("4006381333931").is_ok()); // EAN-13
    /// assert!(Barcode::parse("4006381333932").is_err()); // one digit off
    /// assert!(Barcode::parse("INT-0042").is_ok()); // an internal Code 128 label
    /// ```
    Barcode
);
impl Barcode {
    /// Parses a barcode, checking GTIN check digits.
    pub fn parse(raw: &str) -> Result<Self, CodeError> {
        let s = check(
            "barcode",
            raw,
            BARCODE_LEN_MAX,
            "printable ASCII without spaces",
            |c| c.is_ascii_graphic(),
        )?;
        if matches!(s.len(), 8 | 12 | 13 | 14) && s.bytes().all(|b| b.is_ascii_digit()) {
            let digits: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
            let (body, last) = digits.split_at(digits.len() - 1);
            // GS1: weights 3,1,3,1… from the digit next to the check digit, leftwards.
            let sum: u32 = body
                .iter()
                .rev()
                .enumerate()
                .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
                .sum();
            let expected = (10 - sum % 10) % 10;
            if last[0] != expected {
                return Err(CodeError::CheckDigit { code: s, expected });
            }
        }
        Ok(Self(s))
    }
}

code_type!(
    /// A location code (zone, aisle, rack or bin), unique per warehouse.
    ///
    /// Letters, digits and `- _ .`, at most [`LOCATION_CODE_LEN_MAX`] characters, stored
    /// upper case.
    ///
    /// ```
    /// use logiflow_core::LocationCode;
    /// assert_eq!(LocationCode::parse("a-01-03").unwrap().as_str(), "A-01-03");
    /// ```
    LocationCode
);
impl LocationCode {
    /// Parses and normalises a location code.
    pub fn parse(raw: &str) -> Result<Self, CodeError> {
        check(
            "location code",
            raw,
            LOCATION_CODE_LEN_MAX,
            "letters, digits, - _ .",
            |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'),
        )
        .map(|s| Self(s.to_ascii_uppercase()))
    }
}

code_type!(
    /// A lot (batch) code as printed by the supplier, unique per product.
    ///
    /// Kept as printed (suppliers' lot codes are case-sensitive), printable ASCII and
    /// inner spaces, at most [`LOT_CODE_LEN_MAX`] characters.
    LotCode
);
impl LotCode {
    /// Parses a lot code.
    pub fn parse(raw: &str) -> Result<Self, CodeError> {
        check("lot code", raw, LOT_CODE_LEN_MAX, "printable ASCII", |c| {
            c.is_ascii_graphic() || c == ' '
        })
        .map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_trimmed_upper_cased_and_bounded() {
        assert_eq!(Sku::parse("  x1 ").unwrap().as_str(), "X1");
        assert_eq!(Sku::parse("   "), Err(CodeError::Empty { kind: "sku" }));
        let long = "A".repeat(SKU_LEN_MAX + 1);
        assert!(matches!(
            Sku::parse(&long),
            Err(CodeError::TooLong { len: 65, .. })
        ));
        assert!(matches!(
            Sku::parse("A\u{e9}"),
            Err(CodeError::BadChar { ch: '\u{e9}', .. })
        ));
    }

    #[test]
    fn gtin_check_digits_are_verified_for_every_gtin_length() {
        for good in [
            "96385074",
            "036000291452",
            "4006381333931",
            "10614141000415",
        ] {
            assert!(Barcode::parse(good).is_ok(), "{good} should parse");
        }
        for bad in [
            "96385075",
            "036000291453",
            "4006381333930",
            "10614141000416",
        ] {
            let err = Barcode::parse(bad).unwrap_err();
            assert!(matches!(err, CodeError::CheckDigit { .. }), "{bad}: {err}");
        }
        // Numeric codes of other lengths are not GTINs and are taken as they are.
        assert!(Barcode::parse("12345").is_ok());
        assert!(Barcode::parse("has space").is_err());
    }

    #[test]
    fn lot_and_location_codes() {
        assert_eq!(LotCode::parse(" Lot 7b ").unwrap().as_str(), "Lot 7b");
        assert!(LotCode::parse("tab\there").is_err());
        assert_eq!(LocationCode::parse("z1.a2").unwrap().as_str(), "Z1.A2");
        assert!(LocationCode::parse("A/1").is_err());
        assert!(serde_json::from_str::<Sku>("\"\"").is_err());
    }
}
