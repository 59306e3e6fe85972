//! The stable codes of the server's problem documents (the `code` of its RFC 9457
//! answers), written once for the server that answers them and the replica that reads
//! them.
//!
//! The server's error table (`crates/server/src/error.rs`) gives each code its status
//! and title, and fails to compile while a code here has no row there. A code this
//! build does not know, from a newer server, reads as [`ProblemCode::Unknown`]: the
//! reader then falls back on the status and the detail, never on a parse error.
//!
//! ```
//! use logiflow_core::ProblemCode;
//! assert_eq!(ProblemCode::parse("sequence_gap"), ProblemCode::SequenceGap);
//! assert_eq!(ProblemCode::parse("a_code_of_tomorrow"), ProblemCode::Unknown);
//! ```

use serde::Deserialize;

use crate::RejectCode;

macro_rules! problem_codes {
    ($($(#[doc = $doc:literal])* $code:ident,)*) => {
        /// A stable machine code of the server's problem documents.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ProblemCode {
            $($(#[doc = $doc])* $code,)*
            /// A code this build does not know (from a newer server).
            #[serde(other)]
            Unknown,
        }

        impl ProblemCode {
            /// Every known code, in the order the API documents them.
            pub const ALL: &[ProblemCode] = &[$(ProblemCode::$code),*];
        }
    };
}

problem_codes! {
    /// The request is malformed or a field is invalid.
    BadRequest,
    /// The body is not valid JSON for this endpoint.
    InvalidBody,
    /// Missing, malformed, expired or revoked credentials.
    Unauthenticated,
    /// Email, tenant or password wrong (deliberately not saying which).
    InvalidCredentials,
    /// The refresh token is unknown, expired or was already used.
    InvalidRefreshToken,
    /// The principal lacks the permission.
    Forbidden,
    /// The tenant's subscription expired: reads work, writes do not.
    SubscriptionExpired,
    /// The tenant's plan limit for this resource is reached.
    QuotaExceeded,
    /// No such resource in the caller's tenant.
    NotFound,
    /// A resource with the same unique key exists.
    Conflict,
    /// The Idempotency-Key was already used with another request.
    IdempotencyKeyReused,
    /// Too many requests for the tenant's plan.
    RateLimited,
    /// Too many login attempts for the account or address.
    TooManyLoginAttempts,
    /// The request body is larger than allowed.
    PayloadTooLarge,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The request took longer than the server allows; nothing was committed.
    Timeout,
    /// Other writes to the same stock kept conflicting; nothing was committed.
    Busy,
    /// The server failed.
    Internal,
    /// A movement refused: [`RejectCode::UnknownProduct`].
    UnknownProduct,
    /// A movement refused: [`RejectCode::UnknownLot`].
    UnknownLot,
    /// A movement refused: [`RejectCode::UnknownLocation`].
    UnknownLocation,
    /// A movement refused: [`RejectCode::LotRequired`].
    LotRequired,
    /// A movement refused: [`RejectCode::LotNotTracked`].
    LotNotTracked,
    /// A movement refused: [`RejectCode::LotOfOtherProduct`].
    LotOfOtherProduct,
    /// A movement refused: [`RejectCode::LocationNotLeaf`].
    LocationNotLeaf,
    /// A movement refused: [`RejectCode::SameLocation`].
    SameLocation,
    /// A movement refused: [`RejectCode::ReasonSignMismatch`].
    ReasonSignMismatch,
    /// A movement refused: [`RejectCode::InactiveProduct`].
    InactiveProduct,
    /// A movement refused: [`RejectCode::InactiveLocation`].
    InactiveLocation,
    /// A movement refused: [`RejectCode::LotExpired`].
    LotExpired,
    /// A movement refused: [`RejectCode::InsufficientStock`].
    InsufficientStock,
    /// A movement refused: [`RejectCode::BeforeLatestCount`].
    BeforeLatestCount,
    /// A movement refused: [`RejectCode::QuantityOverflow`].
    QuantityOverflow,
    /// A movement refused: [`RejectCode::TimePrecision`].
    TimePrecision,
    /// A movement refused: [`RejectCode::UnknownOrderLine`].
    UnknownOrderLine,
    /// A movement refused: [`RejectCode::OrderLineMismatch`].
    OrderLineMismatch,
    /// The device was revoked by an administrator.
    DeviceRevoked,
    /// A push skips journal sequence numbers (`next_seq` says where to resume).
    SequenceGap,
    /// A device's journal is uploaded only once the device is revoked.
    DeviceNotRevoked,
    /// An uploaded journal file is not one, or not this device's.
    InvalidJournal,
    /// A pushed sequence number was already used by another movement.
    SequenceConflict,
    /// A push carries more movements than one batch may.
    BatchTooLarge,
    /// A pull cursor this server did not issue: pull again without one.
    InvalidCursor,
    /// An id in the body or query names nothing in the caller's tenant.
    ReferenceNotFound,
    /// A location's parent is in another warehouse.
    InvalidParent,
    /// The location holds stock.
    LocationHasStock,
    /// The location has child locations.
    LocationHasChildren,
    /// The location has stock history.
    LocationHasHistory,
    /// A barcode is already assigned to another product of the tenant.
    BarcodeTaken,
    /// Lots are only for lot-tracked products.
    ProductNotLotTracked,
    /// Lot tracking cannot be turned off while the product has lots.
    ProductHasLots,
    /// Lot tracking cannot be turned on while the product holds stock without a lot.
    ProductHasStock,
    /// A product's custom fields do not match the tenant's field schema.
    InvalidCustomFields,
    /// The product field schema is not a valid JSON Schema object.
    InvalidFieldSchema,
    /// A webhook URL is not https, or names a loopback, private or link-local address.
    InvalidWebhookUrl,
    /// An order's state does not allow this action or line change.
    InvalidOrderState,
    /// An import file is empty (no bytes, or no header row).
    ImportEmpty,
    /// An import file is not UTF-8 text.
    ImportEncoding,
    /// An import file is not a CSV or XLSX file that can be read (or lacks the named sheet).
    ImportUnreadable,
    /// An import file misses a required column, or has an unknown or repeated one.
    ImportColumns,
    /// An import file names the same key (SKU, barcode, code) on two rows.
    ImportDuplicateKey,
    /// A cell of an import file is longer than any field takes.
    ImportValueTooLong,
    /// A cell of an import file holds a spreadsheet formula.
    ImportFormula,
    /// An import file has more rows or bytes than the server takes.
    ImportTooLarge,
    /// An XLSX file would inflate beyond what the server reads (a zip bomb).
    ImportArchiveTooLarge,
    /// A line of a CSV import file is longer than the server reads.
    ImportLineTooLong,
    /// The import is not in a state that allows this (still validating, has errors,
    /// committed, failed or expired).
    InvalidImportState,
}

impl ProblemCode {
    /// The code of a problem document's `code` text; [`ProblemCode::Unknown`] for one
    /// this build does not know.
    pub fn parse(code: &str) -> ProblemCode {
        let text = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(code);
        ProblemCode::deserialize(text).unwrap_or(ProblemCode::Unknown)
    }
}

impl From<RejectCode> for ProblemCode {
    fn from(code: RejectCode) -> Self {
        use RejectCode as R;
        match code {
            R::UnknownProduct => Self::UnknownProduct,
            R::UnknownLot => Self::UnknownLot,
            R::UnknownLocation => Self::UnknownLocation,
            R::LotRequired => Self::LotRequired,
            R::LotNotTracked => Self::LotNotTracked,
            R::LotOfOtherProduct => Self::LotOfOtherProduct,
            R::LocationNotLeaf => Self::LocationNotLeaf,
            R::SameLocation => Self::SameLocation,
            R::ReasonSignMismatch => Self::ReasonSignMismatch,
            R::InactiveProduct => Self::InactiveProduct,
            R::InactiveLocation => Self::InactiveLocation,
            R::LotExpired => Self::LotExpired,
            R::InsufficientStock => Self::InsufficientStock,
            R::BeforeLatestCount => Self::BeforeLatestCount,
            R::QuantityOverflow => Self::QuantityOverflow,
            R::TimePrecision => Self::TimePrecision,
            R::UnknownOrderLine => Self::UnknownOrderLine,
            R::OrderLineMismatch => Self::OrderLineMismatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_and_unknown_ones_do_not_fail() {
        for code in ProblemCode::ALL {
            let text = serde_json::to_value(code).unwrap();
            assert_eq!(ProblemCode::parse(text.as_str().unwrap()), *code);
        }
        let newer: ProblemCode = serde_json::from_str("\"a_code_of_tomorrow\"").unwrap();
        assert_eq!(newer, ProblemCode::Unknown);
        assert_eq!(ProblemCode::parse(""), ProblemCode::Unknown);
    }

    #[test]
    fn rejections_keep_their_journal_code() {
        let code = RejectCode::InsufficientStock;
        let text = serde_json::to_value(ProblemCode::from(code)).unwrap();
        assert_eq!(text, code.as_str());
    }
}
