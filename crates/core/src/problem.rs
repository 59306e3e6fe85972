//! The stable codes of the server's problem documents (the `code` of its RFC 9457
//! answers), written once for the server that answers them and the replica that reads
//! them.
//!
//! The server's error table (`crates/server/src/error.rs`) gives each code its status
//! and title, and fails to compile while a code here has no row there. A code this
//! build does not know, from a newer server, reads as [`ProblemCode::Unknown`]: the
//! reader then falls back on the status and the detail, never on a parse error.
//!
//! A refused movement's code is its [`RejectCode`], written once in `replay`:
//! [`ProblemCode::Movement`] wraps it, and the wire keeps one flat snake_case text for
//! every code (`"insufficient_stock"`), which is why (de)serialisation is written here
//! rather than derived.
//!
//! ```
//! use logiflow_core::{ProblemCode, RejectCode};
//! assert_eq!(ProblemCode::parse("sequence_gap"), ProblemCode::SequenceGap);
//! let refused = ProblemCode::Movement(RejectCode::InsufficientStock);
//! assert_eq!(ProblemCode::parse("insufficient_stock"), refused);
//! assert_eq!(refused.as_str(), "insufficient_stock");
//! assert_eq!(ProblemCode::parse("a_code_of_tomorrow"), ProblemCode::Unknown);
//! ```

use std::fmt;

use crate::RejectCode;

/// Defines [`ProblemCode`] from the server's own codes, with the codes of a refused
/// movement ([`RejectCode`], written once in `replay`) at `@movement`.
macro_rules! problem_codes {
    (
        $($(#[doc = $doc:literal])* $code:ident = $text:literal,)*
        @movement,
        $($(#[doc = $doc2:literal])* $code2:ident = $text2:literal,)*
    ) => {
        /// A stable machine code of the server's problem documents. On the wire it is one
        /// flat snake_case text, a refused movement's too (`"insufficient_stock"`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $($(#[doc = $doc])* $code,)*
            /// A movement refused by the rules: its [`RejectCode`], whose text is the
            /// code, the same on the API and in device journals.
            Movement(RejectCode),
            $($(#[doc = $doc2])* $code2,)*
            /// A code this build does not know (from a newer server).
            Unknown,
        }

        /// The codes before the movement codes, and after them.
        const BEFORE: &[ProblemCode] = &[$(ProblemCode::$code),*];
        const AFTER: &[ProblemCode] = &[$(ProblemCode::$code2),*];
        const COUNT: usize = BEFORE.len() + RejectCode::ALL.len() + AFTER.len();

        impl ProblemCode {
            /// Every known code, in the order the API documents them.
            pub const ALL: &[ProblemCode] = &{
                let mut all = [ProblemCode::Unknown; COUNT];
                let mut i = 0;
                while i < COUNT {
                    let movements = BEFORE.len() + RejectCode::ALL.len();
                    all[i] = if i < BEFORE.len() {
                        BEFORE[i]
                    } else if i < movements {
                        ProblemCode::Movement(RejectCode::ALL[i - BEFORE.len()])
                    } else {
                        AFTER[i - movements]
                    };
                    i += 1;
                }
                all
            };

            /// The code's text (`unknown` for [`ProblemCode::Unknown`]).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$code => $text,)*
                    ProblemCode::Movement(code) => code.as_str(),
                    $(ProblemCode::$code2 => $text2,)*
                    ProblemCode::Unknown => "unknown",
                }
            }

            /// The code of a problem document's `code` text; [`ProblemCode::Unknown`] for
            /// one this build does not know.
            pub fn parse(code: &str) -> ProblemCode {
                match code {
                    $($text => ProblemCode::$code,)*
                    $($text2 => ProblemCode::$code2,)*
                    other => other
                        .parse()
                        .map_or(ProblemCode::Unknown, ProblemCode::Movement),
                }
            }
        }
    };
}

problem_codes! {
    /// The request is malformed or a field is invalid.
    BadRequest = "bad_request",
    /// The body is not valid JSON for this endpoint.
    InvalidBody = "invalid_body",
    /// Missing, malformed, expired or revoked credentials.
    Unauthenticated = "unauthenticated",
    /// Email, tenant or password wrong (deliberately not saying which).
    InvalidCredentials = "invalid_credentials",
    /// The refresh token is unknown, expired or was already used.
    InvalidRefreshToken = "invalid_refresh_token",
    /// The principal lacks the permission.
    Forbidden = "forbidden",
    /// The tenant's subscription expired: reads work, writes do not.
    SubscriptionExpired = "subscription_expired",
    /// The tenant's plan limit for this resource is reached.
    QuotaExceeded = "quota_exceeded",
    /// No such resource in the caller's tenant.
    NotFound = "not_found",
    /// A resource with the same unique key exists.
    Conflict = "conflict",
    /// The Idempotency-Key was already used with another request.
    IdempotencyKeyReused = "idempotency_key_reused",
    /// Too many requests for the tenant's plan.
    RateLimited = "rate_limited",
    /// Too many login attempts for the account or address.
    TooManyLoginAttempts = "too_many_login_attempts",
    /// The request body is larger than allowed.
    PayloadTooLarge = "payload_too_large",
    /// The route exists but not with this method.
    MethodNotAllowed = "method_not_allowed",
    /// The request took longer than the server allows; nothing was committed.
    Timeout = "timeout",
    /// Other writes to the same stock kept conflicting; nothing was committed.
    Busy = "busy",
    /// The server failed.
    Internal = "internal",
    // Here, in the order the API documents them: `RejectCode::ALL`.
    @movement,
    /// The device was revoked by an administrator.
    DeviceRevoked = "device_revoked",
    /// A push skips journal sequence numbers (`next_seq` says where to resume).
    SequenceGap = "sequence_gap",
    /// A device's journal is uploaded only once the device is revoked.
    DeviceNotRevoked = "device_not_revoked",
    /// An uploaded journal file is not one, or not this device's.
    InvalidJournal = "invalid_journal",
    /// A pushed sequence number was already used by another movement.
    SequenceConflict = "sequence_conflict",
    /// A push carries more movements than one batch may.
    BatchTooLarge = "batch_too_large",
    /// A pull cursor this server did not issue: pull again without one.
    InvalidCursor = "invalid_cursor",
    /// An id in the body or query names nothing in the caller's tenant.
    ReferenceNotFound = "reference_not_found",
    /// A location's parent is in another warehouse.
    InvalidParent = "invalid_parent",
    /// The location holds stock.
    LocationHasStock = "location_has_stock",
    /// The location has child locations.
    LocationHasChildren = "location_has_children",
    /// The location has stock history.
    LocationHasHistory = "location_has_history",
    /// A barcode is already assigned to another product of the tenant.
    BarcodeTaken = "barcode_taken",
    /// Lots are only for lot-tracked products.
    ProductNotLotTracked = "product_not_lot_tracked",
    /// Lot tracking cannot be turned off while the product has lots.
    ProductHasLots = "product_has_lots",
    /// Lot tracking cannot be turned on while the product holds stock without a lot.
    ProductHasStock = "product_has_stock",
    /// A product's custom fields do not match the tenant's field schema.
    InvalidCustomFields = "invalid_custom_fields",
    /// The product field schema is not a valid JSON Schema object.
    InvalidFieldSchema = "invalid_field_schema",
    /// A webhook URL is not https, or names a loopback, private or link-local address.
    InvalidWebhookUrl = "invalid_webhook_url",
    /// An order's state does not allow this action or line change.
    InvalidOrderState = "invalid_order_state",
    /// An import file is empty (no bytes, or no header row).
    ImportEmpty = "import_empty",
    /// An import file is not UTF-8 text.
    ImportEncoding = "import_encoding",
    /// An import file is not a CSV or XLSX file that can be read (or lacks the named sheet).
    ImportUnreadable = "import_unreadable",
    /// An import file misses a required column, or has an unknown or repeated one.
    ImportColumns = "import_columns",
    /// An import file names the same key (SKU, barcode, code) on two rows.
    ImportDuplicateKey = "import_duplicate_key",
    /// A cell of an import file is longer than any field takes.
    ImportValueTooLong = "import_value_too_long",
    /// A cell of an import file holds a spreadsheet formula.
    ImportFormula = "import_formula",
    /// An import file has more rows or bytes than the server takes.
    ImportTooLarge = "import_too_large",
    /// An XLSX file would inflate beyond what the server reads (a zip bomb).
    ImportArchiveTooLarge = "import_archive_too_large",
    /// A line of a CSV import file is longer than the server reads.
    ImportLineTooLong = "import_line_too_long",
    /// The import is not in a state that allows this (still validating, has errors,
    /// committed, failed or expired).
    InvalidImportState = "invalid_import_state",
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ProblemCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Any text reads, as [`ProblemCode::parse`] reads it: a newer server's code is
/// [`ProblemCode::Unknown`], never an error.
impl<'de> serde::Deserialize<'de> for ProblemCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        Ok(ProblemCode::parse(&text))
    }
}

impl From<RejectCode> for ProblemCode {
    fn from(code: RejectCode) -> Self {
        ProblemCode::Movement(code)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_code_reads_back_and_unknown_ones_do_not_fail() {
        for code in ProblemCode::ALL {
            let text = serde_json::to_value(code).unwrap();
            assert_eq!(text, code.as_str());
            assert_eq!(ProblemCode::parse(text.as_str().unwrap()), *code);
            assert_eq!(serde_json::from_value::<ProblemCode>(text).unwrap(), *code);
        }
        let texts: BTreeSet<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            texts.len(),
            ProblemCode::ALL.len(),
            "a text names two codes"
        );
        assert!(!ProblemCode::ALL.contains(&ProblemCode::Unknown));
        let newer: ProblemCode = serde_json::from_str("\"a_code_of_tomorrow\"").unwrap();
        assert_eq!(newer, ProblemCode::Unknown);
        assert_eq!(ProblemCode::parse(""), ProblemCode::Unknown);
        assert_eq!(
            ProblemCode::parse("Insufficient_Stock"),
            ProblemCode::Unknown
        );
        assert!(serde_json::from_str::<ProblemCode>("422").is_err());
    }

    #[test]
    fn every_rejection_is_a_problem_code_of_the_same_text() {
        let mut listed = 0;
        for &code in RejectCode::ALL {
            let problem = ProblemCode::from(code);
            assert_eq!(problem, ProblemCode::Movement(code));
            let text = serde_json::to_value(problem).unwrap();
            assert_eq!(text, serde_json::to_value(code).unwrap());
            assert_eq!(problem.to_string(), code.as_str());
            assert_eq!(ProblemCode::parse(code.as_str()), problem);
            assert_eq!(
                serde_json::from_value::<ProblemCode>(text).unwrap(),
                problem
            );
            listed += usize::from(ProblemCode::ALL.contains(&problem));
        }
        assert_eq!(
            listed,
            RejectCode::ALL.len(),
            "every rejection is documented"
        );
    }

    #[test]
    fn movement_codes_keep_their_documented_place() {
        let texts: Vec<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        let at = texts.iter().position(|t| *t == "unknown_product").unwrap();
        assert_eq!(texts[at - 1], "internal");
        assert_eq!(texts[at + RejectCode::ALL.len() - 1], "order_line_mismatch");
        assert_eq!(texts[at + RejectCode::ALL.len()], "device_revoked");
        assert_eq!(texts.first(), Some(&"bad_request"));
        assert_eq!(texts.last(), Some(&"invalid_import_state"));
    }
}
