//! The bounds the OpenAPI document states, taken from the constants the server validates
//! with, so that a request the document calls valid is not refused for its shape, nor one
//! it calls invalid accepted.
//!
//! utoipa's attributes take only literals, so the bounds are set on the assembled
//! document instead: every list's `limit` (1 to [`PAGE_LIMIT_MAX`], the pull's to
//! [`PULL_PAGE_MAX`]), every `Idempotency-Key` (1 to [`IDEMPOTENCY_KEY_LEN_MAX`] visible
//! ASCII characters), and the request fields of [`FIELDS`]. Most texts are trimmed
//! before they are checked, so their length is in a `pattern` (spaces, then 1 to `max`
//! characters that start and end with a non-space, then spaces) rather than in
//! `maxLength`. [`document_bounds`] panics on an entry that names no field, so a renamed
//! field fails every test that builds the document.

use logiflow_core::QTY_MAX;
use logiflow_core::bins::{SEGMENT_LABEL_LEN_MAX, SEGMENTS_MAX};
use logiflow_core::codes::{LOCATION_CODE_LEN_MAX, LOT_CODE_LEN_MAX, SKU_LEN_MAX};
use logiflow_core::sync::{PULL_PAGE_MAX, RESOLVE_REASON_LEN_MAX};
use utoipa::Number;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi, RefOr};

use crate::catalog::location::LOCATION_NAME_LEN_MAX;
use crate::catalog::product::UOM_LEN_MAX;
use crate::catalog::warehouse::ADDRESS_LEN_MAX;
use crate::devices::{DEVICE_TEXT_LEN_MAX, DEVICE_WAREHOUSES_MAX};
use crate::extract::{IDEMPOTENCY_KEY_LEN_MAX, PAGE_LIMIT_MAX};
use crate::routes::alerts::MARK_READ_MAX;
use crate::routes::auth::RETRY_KEY_LEN;
use crate::routes::webhooks::ROTATION_GRACE_SECS_MAX;
use crate::settings::{CODE_LEN_MAX, JOURNAL_PAST_LIMIT_DAYS_MAX, OVER_RECEIPT_TOLERANCE_PCT_MAX};
use crate::users::{NAME_LEN_MAX, PASSWORD_LEN_MAX, PASSWORD_LEN_MIN};

/// What a field of a request schema accepts.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// Trimmed, then 1 to this many characters.
    Text(usize),
    /// Trimmed, then at most this many characters (it may be empty).
    AtMost(usize),
    /// Trimmed, then 1 to `max` characters of `inner`, the first and the last of `edge`
    /// (regular expression classes).
    Trimmed {
        max: usize,
        edge: &'static str,
        inner: &'static str,
    },
    /// Taken as it is: 1 to `max` characters of the class.
    Exactly(usize, &'static str),
    /// Taken as it is: this many characters (a password).
    Chars(usize, usize),
    /// An integer in this range.
    Range(i64, i64),
    /// An array of this many items.
    Items(usize, usize),
}

/// A code of `core::codes` and the like: trimmed, then 1 to `max` of the class.
const fn code(max: usize, class: &'static str) -> Bound {
    Bound::Trimmed {
        max,
        edge: class,
        inner: class,
    }
}

/// Letters, digits and `- _ .` (`core::LocationCode`, also warehouse codes).
const LOCATION_CODE: &str = "[A-Za-z0-9._-]";
/// Letters, digits and `- _ . /` (`core::Sku`).
const SKU: &str = "[A-Za-z0-9._/-]";
/// Anything but a space: a unit of measure (`catalog::product::validate_uom`).
const NOT_SPACE: &str = "\\S";
/// Any character.
const ANY: &str = "[\\s\\S]";

/// Request fields and their bounds: `Schema/field`.
pub const FIELDS: &[(&str, Bound)] = &[
    ("ForceMovement/reason", Bound::Text(RESOLVE_REASON_LEN_MAX)),
    ("MarkRead/ids", Bound::Items(1, MARK_READ_MAX)),
    (
        "RefreshRequest/retry_key",
        Bound::Chars(*RETRY_KEY_LEN.start(), *RETRY_KEY_LEN.end()),
    ),
    (
        "RotateSecret/grace_secs",
        Bound::Range(0, ROTATION_GRACE_SECS_MAX),
    ),
    (
        "CreateWarehouse/code",
        code(LOCATION_CODE_LEN_MAX, LOCATION_CODE),
    ),
    (
        "UpdateWarehouse/code",
        code(LOCATION_CODE_LEN_MAX, LOCATION_CODE),
    ),
    (
        "CreateLocation/code",
        code(LOCATION_CODE_LEN_MAX, LOCATION_CODE),
    ),
    (
        "UpdateLocation/code",
        code(LOCATION_CODE_LEN_MAX, LOCATION_CODE),
    ),
    ("CreateProduct/sku", code(SKU_LEN_MAX, SKU)),
    ("UpdateProduct/sku", code(SKU_LEN_MAX, SKU)),
    (
        "CreateLot/code",
        Bound::Trimmed {
            max: LOT_CODE_LEN_MAX,
            // Printable ASCII and spaces (`core::LotCode`).
            edge: "[!-~]",
            inner: "[ -~]",
        },
    ),
    (
        "UpdateLot/code",
        Bound::Trimmed {
            max: LOT_CODE_LEN_MAX,
            // Printable ASCII and spaces (`core::LotCode`).
            edge: "[!-~]",
            inner: "[ -~]",
        },
    ),
    ("CreateWarehouse/name", Bound::Text(NAME_LEN_MAX)),
    ("UpdateWarehouse/name", Bound::Text(NAME_LEN_MAX)),
    ("CreateWarehouse/address", Bound::AtMost(ADDRESS_LEN_MAX)),
    ("UpdateWarehouse/address", Bound::AtMost(ADDRESS_LEN_MAX)),
    ("CreateLocation/name", Bound::AtMost(LOCATION_NAME_LEN_MAX)),
    ("UpdateLocation/name", Bound::AtMost(LOCATION_NAME_LEN_MAX)),
    ("GenerateBins/segments", Bound::Items(1, SEGMENTS_MAX)),
    ("BinSegment/label", Bound::AtMost(SEGMENT_LABEL_LEN_MAX)),
    ("CreateProduct/name", Bound::Text(NAME_LEN_MAX)),
    ("UpdateProduct/name", Bound::Text(NAME_LEN_MAX)),
    ("CreateProduct/uom", code(UOM_LEN_MAX, NOT_SPACE)),
    ("UpdateProduct/uom", code(UOM_LEN_MAX, NOT_SPACE)),
    ("CreateProduct/reorder_point", Bound::Range(0, QTY_MAX)),
    ("UpdateProduct/reorder_point", Bound::Range(0, QTY_MAX)),
    ("CreateProduct/reorder_qty", Bound::Range(0, QTY_MAX)),
    ("UpdateProduct/reorder_qty", Bound::Range(0, QTY_MAX)),
    ("CreateUser/display_name", Bound::Text(NAME_LEN_MAX)),
    ("UpdateUser/display_name", Bound::Text(NAME_LEN_MAX)),
    (
        "CreateUser/password",
        Bound::Chars(PASSWORD_LEN_MIN, PASSWORD_LEN_MAX),
    ),
    ("CreateApiKey/name", Bound::Text(NAME_LEN_MAX)),
    ("RegisterDevice/name", Bound::Text(DEVICE_TEXT_LEN_MAX)),
    ("RegisterDevice/platform", Bound::Text(DEVICE_TEXT_LEN_MAX)),
    (
        "RegisterDevice/warehouse_ids",
        Bound::Items(1, DEVICE_WAREHOUSES_MAX),
    ),
    ("UpdateSettings/display_name", Bound::Text(NAME_LEN_MAX)),
    (
        "UpdateSettings/locale",
        Bound::Exactly(
            CODE_LEN_MAX,
            // ASCII letters, digits and `/ _ - +` (`settings::validate_code`).
            "[A-Za-z0-9/_+-]",
        ),
    ),
    (
        "UpdateSettings/journal_past_limit_days",
        Bound::Range(1, JOURNAL_PAST_LIMIT_DAYS_MAX as i64),
    ),
    (
        "UpdateSettings/over_receipt_tolerance_pct",
        Bound::Range(0, OVER_RECEIPT_TOLERANCE_PCT_MAX as i64),
    ),
];

impl Bound {
    /// Sets the bound on `schema`, a string, integer or array schema.
    fn apply(self, schema: &mut Schema) -> bool {
        match (self, schema) {
            (Bound::Items(min, max), Schema::Array(array)) => {
                array.min_items = Some(min);
                array.max_items = Some(max);
            }
            (Bound::Range(min, max), Schema::Object(object)) => {
                object.minimum = Some(Number::Int(isize::try_from(min).unwrap_or(isize::MIN)));
                object.maximum = Some(Number::Int(isize::try_from(max).unwrap_or(isize::MAX)));
            }
            (Bound::Chars(min, max), Schema::Object(object)) => {
                object.min_length = Some(min);
                object.max_length = Some(max);
            }
            (Bound::Exactly(max, class), Schema::Object(object)) => {
                object.pattern = Some(format!("^{class}{{1,{max}}}$"));
            }
            (bound, Schema::Object(object)) => {
                // The length is that of the trimmed text, so it is in the pattern, not
                // in `maxLength` (which would count the spaces the server drops).
                let (max, edge, inner, optional) = match bound {
                    Bound::Text(max) => (max, NOT_SPACE, ANY, ""),
                    Bound::AtMost(max) => (max, NOT_SPACE, ANY, "?"),
                    Bound::Trimmed { max, edge, inner } => (max, edge, inner, ""),
                    _ => return false,
                };
                let inner_max = max.saturating_sub(2);
                object.pattern = Some(format!(
                    "^\\s*({edge}({inner}{{0,{inner_max}}}{edge})?){optional}\\s*$"
                ));
            }
            _ => return false,
        }
        true
    }
}

/// Sets the bounds on the document.
///
/// # Panics
///
/// When an entry of [`FIELDS`] names a field the document does not have, or one its
/// bound does not fit.
pub fn document_bounds(doc: &mut OpenApi) {
    let schemas = &mut doc
        .components
        .as_mut()
        .expect("the document has components")
        .schemas;
    for (field, bound) in FIELDS {
        let (schema, property) = field.split_once('/').expect("Schema/field");
        let target = match schemas.get_mut(schema) {
            Some(RefOr::T(Schema::Object(object))) => object.properties.get_mut(property),
            _ => None,
        };
        let fits = match target {
            Some(RefOr::T(schema)) => bound.apply(schema),
            _ => false,
        };
        assert!(
            fits,
            "the OpenAPI document has no {field} that {bound:?} fits"
        );
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for parameter in operation.parameters.iter_mut().flatten() {
                let bound = match (&parameter.parameter_in, parameter.name.as_str()) {
                    (ParameterIn::Query, "limit") if path == "/v1/sync/pull" => {
                        Bound::Range(1, PULL_PAGE_MAX as i64)
                    }
                    (ParameterIn::Query, "limit") => Bound::Range(1, i64::from(PAGE_LIMIT_MAX)),
                    (ParameterIn::Header, name) if name.eq_ignore_ascii_case("idempotency-key") => {
                        // Visible ASCII, spaces and tabs (HTTP trims them at the ends).
                        Bound::Trimmed {
                            max: IDEMPOTENCY_KEY_LEN_MAX,
                            edge: "[!-~]",
                            inner: "[\\t -~]",
                        }
                    }
                    _ => continue,
                };
                let fits = match &mut parameter.schema {
                    Some(RefOr::T(schema)) => bound.apply(schema),
                    _ => false,
                };
                assert!(
                    fits,
                    "{path}: parameter {} is not a plain schema",
                    parameter.name
                );
            }
        }
    }
}
