//! The bounds the OpenAPI document states, taken from the constants the server validates
//! with, so that a request the document calls valid is not refused for its shape, nor one
//! it calls invalid accepted.
//!
//! utoipa's attributes take only literals, so the bounds are set on the assembled
//! document instead: every list's `limit` (1 to [`PAGE_LIMIT_MAX`], the pull's to
//! [`PULL_PAGE_MAX`]), every `Idempotency-Key` (1 to [`IDEMPOTENCY_KEY_LEN_MAX`] visible
//! ASCII characters), the request fields of [`FIELDS`] and the query parameters of
//! [`QUERY`], the bodies of [`ONE_OF_FIELDS`], and the whole schemas of [`SCHEMAS`]
//! (`core`'s wire types, whose schemas `core` derives with its feature `openapi`). Most texts are trimmed
//! before they are checked, so their length is in a `pattern` (spaces, then 1 to `max`
//! characters that start and end with a non-space, then spaces) rather than in
//! `maxLength`; the spaces are those `str::trim` takes ([`SPACES`]). A nullable id or
//! date is written `oneOf` the formatted string and `null` ([`nullable_formats`]).
//! [`document_bounds`] panics on an entry that names no field or parameter, so a
//! renamed one fails every test that builds the document.

use std::sync::LazyLock;

use logiflow_core::bins::{SEGMENT_LABEL_LEN_MAX, SEGMENTS_MAX};
use logiflow_core::codes::{BARCODE_LEN_MAX, LOCATION_CODE_LEN_MAX, LOT_CODE_LEN_MAX, SKU_LEN_MAX};
use logiflow_core::sync::{PULL_PAGE_MAX, PUSH_BATCH_MAX, RESOLVE_REASON_LEN_MAX};
use logiflow_core::{
    AlertKind, JOURNAL_FILE_FORMAT, JOURNAL_FILE_VERSION, JOURNAL_UPLOAD_MAX, KindName,
    OutcomeName, QTY_MAX,
};
use utoipa::Number;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{
    AllOf, AnyOf, ArrayItems, KnownFormat, Object, OneOf, Ref, Schema, SchemaFormat, SchemaType,
    Type,
};
use utoipa::openapi::{OpenApi, RefOr};

use crate::alerts::{DEVICE_SILENT_DAYS_RANGE, HELD_HOURS_RANGE, LOT_EXPIRING_DAYS_RANGE};
use crate::catalog::location::LOCATION_NAME_LEN_MAX;
use crate::catalog::product::{BARCODES_PER_PRODUCT_MAX, MONEY_MAX, MONEY_SCALE_MAX, UOM_LEN_MAX};
use crate::catalog::warehouse::ADDRESS_LEN_MAX;
use crate::devices::{DEVICE_TEXT_LEN_MAX, DEVICE_WAREHOUSES_MAX};
use crate::extract::{IDEMPOTENCY_KEY_LEN_MAX, PAGE_LIMIT_MAX};
use crate::orders::party::{DAYS_MAX, PHONE_LEN_MAX};
use crate::orders::purchase::NOTES_LEN_MAX;
use crate::routes::alerts::MARK_READ_MAX;
use crate::routes::auth::RETRY_KEY_LEN;
use crate::routes::webhooks::{DESCRIPTION_LEN_MAX, ROTATION_GRACE_SECS_MAX};
use crate::settings::{CODE_LEN_MAX, JOURNAL_PAST_LIMIT_DAYS_MAX, OVER_RECEIPT_TOLERANCE_PCT_MAX};
use crate::stock::movement::NOTE_LEN_MAX;
use crate::users::{
    EMAIL_LEN_MAX, NAME_LEN_MAX, PASSWORD_LEN_MAX, PASSWORD_LEN_MIN, TEXT_FORBIDDEN_CHAR,
};
use crate::webhooks::EVENT_TYPES;

/// What a field of a request schema accepts.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// Trimmed, then 1 to this many characters.
    Text(usize),
    /// Trimmed, then at most this many characters (it may be empty).
    AtMost(usize),
    /// Trimmed, then at most this many characters (it may be empty), none of them NUL
    /// (`users::TEXT_FORBIDDEN_CHAR`).
    StoredAtMost(usize),
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
    /// A text this regular expression matches, each `[\s]` in it the spaces `str::trim`
    /// takes ([`spell_spaces`]); for a rule of few values (a separator, a bin range's
    /// value), checked against its parser by the API's documentation tests.
    Pattern(&'static str),
    /// Taken as it is: at most this many characters, none of them NUL
    /// (`users::TEXT_FORBIDDEN_CHAR`).
    StoredChars(usize),
    /// An integer in this range.
    Range(i64, i64),
    /// An integer of at least this (the type's own format bounds it above).
    AtLeast(i64),
    /// A non-zero integer from `-max` to `max` (`core::Delta`).
    NonZero(i64),
    /// An array of this many items.
    Items(usize, usize),
    /// An array of at least this many items.
    MinItems(usize),
    /// An array of at most `max` items, each within `item`.
    Each { max: usize, item: &'static Bound },
    /// A decimal string of money (`catalog::product::validate_money`), as `money_pattern`
    /// spells it.
    Money,
    /// One of these names, as they are written.
    OneOf(&'static [&'static str]),
    /// An array of at least `min` items, each one of `names`.
    EachOneOf {
        min: usize,
        names: &'static [&'static str],
    },
    /// An IANA time zone name: the shared [`TIME_ZONE`] schema.
    TimeZone,
    /// A barcode (`core::Barcode`): the `code` bound, and the `format` [`BARCODE_FORMAT`],
    /// which names what no keyword can compute, a GTIN's check digit.
    Barcode,
    /// An e-mail address of at most this many characters (`users::normalize_email`
    /// accepts every address of the format, which has a non-empty local part, one `@`,
    /// a domain with a dot and no spaces).
    Email(usize),
    /// Blank (spaces at most, which clear it) or an [`Bound::Email`] of at most this many
    /// characters: a supplier's or customer's e-mail (`orders::party`).
    EmailOrBlank(usize),
}

/// The shared schema of a time zone: a name `chrono_tz` knows
/// (`catalog::warehouse::validate_timezone` parses it), from its own list.
pub const TIME_ZONE: &str = "TimeZone";

/// The names of a `core` name enum (`logiflow_core::names`), from its `ALL` list: what
/// its `FromStr`, the server's check, accepts.
macro_rules! names_of {
    ($names:ty) => {{
        const N: usize = <$names>::ALL.len();
        const NAMES: [&str; N] = {
            let mut names = [""; N];
            let mut i = 0;
            while i < N {
                names[i] = <$names>::ALL[i].as_str();
                i += 1;
            }
            names
        };
        &NAMES
    }};
}

/// A code of `core::codes` and the like: trimmed, then 1 to `max` of the class.
const fn code(max: usize, class: &'static str) -> Bound {
    Bound::Trimmed {
        max,
        edge: class,
        inner: class,
    }
}

/// A name (`users::validate_name`): trimmed, then 1 to `max` characters, none of them
/// NUL (`users::TEXT_FORBIDDEN_CHAR`).
const fn name(max: usize) -> Bound {
    Bound::Trimmed {
        max,
        edge: STORED_EDGE,
        inner: STORED,
    }
}
/// Any character but NUL (`users::TEXT_FORBIDDEN_CHAR`), and not a space either.
const STORED_EDGE: &str = "[^\\s\\x00]";
/// Any character but NUL.
const STORED: &str = "[^\\x00]";
const _: () = assert!(
    TEXT_FORBIDDEN_CHAR == '\0',
    "the patterns of stored texts leave out NUL"
);

/// Letters, digits and `- _ .` (`core::LocationCode`, also warehouse codes).
const LOCATION_CODE: &str = "[A-Za-z0-9._-]";
/// Letters, digits and `- _ . /` (`core::Sku`).
const SKU: &str = "[A-Za-z0-9._/-]";
/// Anything but a space: a unit of measure (`catalog::product::validate_uom`).
const NOT_SPACE: &str = "[^\\s]";
/// A barcode (`core::Barcode`): printable ASCII without spaces. Whether a GTIN's check
/// digit is right no pattern can say: the barcode's `format`, [`BARCODE_FORMAT`], does.
const BARCODE: Bound = code(BARCODE_LEN_MAX, "[!-~]");

/// The `format` of a barcode: one of 8, 12, 13 or 14 digits (trimmed) is a GS1 GTIN whose
/// last digit is its check digit (`core::Barcode::parse`); any other is taken as it is.
/// A validator that does not know the format takes it as an annotation (JSON Schema); the
/// API fuzz test registers a generator for it (`tests/api/schemathesis_hooks.py`).
pub const BARCODE_FORMAT: &str = "gtin-checked-barcode";
/// A value of a bin range (`core::bins::expand`): trimmed, a number of at most 9 digits
/// or one ASCII letter.
const BIN_VALUE: &str = "^[\\s]*([0-9]{1,9}|[A-Za-z])[\\s]*$";
/// A lot code (`core::LotCode`): printable ASCII and inner spaces.
const LOT_CODE: Bound = Bound::Trimmed {
    max: LOT_CODE_LEN_MAX,
    edge: "[!-~]",
    inner: "[ -~]",
};
/// Any character. Not `[\s\S]`: [`spell_spaces`] would make that a class without
/// U+FEFF, which is no space to the server but one to ECMA-262's `\s`.
const ANY: &str = "[\\d\\D]";

/// Digits of the largest amount of money: a whole amount of at most this many digits is
/// within [`MONEY_MAX`], and one with decimals has at most one digit fewer before the
/// point.
const MONEY_DIGITS: u32 = MONEY_MAX.ilog10() + 1;
const _: () = assert!(
    MONEY_MAX == 10_i64.pow(MONEY_DIGITS) - 1,
    "the money pattern takes MONEY_MAX to be all nines"
);

/// A decimal string of money as `validate_money` accepts it: not negative, at most
/// [`MONEY_MAX`], at most [`MONEY_SCALE_MAX`] decimals. (The server also takes a few
/// spellings the pattern leaves out, such as trailing zeros beyond the decimals.)
fn money_pattern() -> String {
    let whole = MONEY_DIGITS;
    let below = MONEY_DIGITS - 1;
    format!("^([0-9]{{1,{whole}}}|[0-9]{{1,{below}}}\\.[0-9]{{1,{MONEY_SCALE_MAX}}})$")
}

/// Request fields and their bounds: `Schema/field`.
pub const FIELDS: &[(&str, Bound)] = &[
    ("ForceMovement/reason", Bound::Text(RESOLVE_REASON_LEN_MAX)),
    ("MarkRead/ids", Bound::Items(1, MARK_READ_MAX)),
    (
        "WavePickListRequest/order_ids",
        Bound::Items(1, logiflow_core::orders::WAVE_ORDERS_MAX),
    ),
    (
        "RefreshRequest/retry_key",
        Bound::Chars(*RETRY_KEY_LEN.start(), *RETRY_KEY_LEN.end()),
    ),
    (
        "CreateEndpoint/description",
        Bound::Chars(0, DESCRIPTION_LEN_MAX),
    ),
    (
        "UpdateEndpoint/description",
        Bound::Chars(0, DESCRIPTION_LEN_MAX),
    ),
    (
        "CreateEndpoint/event_types",
        Bound::EachOneOf {
            min: 1,
            names: EVENT_TYPES,
        },
    ),
    (
        "UpdateEndpoint/event_types",
        Bound::EachOneOf {
            min: 1,
            names: EVENT_TYPES,
        },
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
    ("CreateLot/code", LOT_CODE),
    ("UpdateLot/code", LOT_CODE),
    ("CreateWarehouse/name", name(NAME_LEN_MAX)),
    ("UpdateWarehouse/name", name(NAME_LEN_MAX)),
    (
        "CreateWarehouse/address",
        Bound::StoredAtMost(ADDRESS_LEN_MAX),
    ),
    (
        "UpdateWarehouse/address",
        Bound::StoredAtMost(ADDRESS_LEN_MAX),
    ),
    ("CreateWarehouse/timezone", Bound::TimeZone),
    ("UpdateWarehouse/timezone", Bound::TimeZone),
    ("UpdateSettings/timezone", Bound::TimeZone),
    ("CreateLocation/name", Bound::AtMost(LOCATION_NAME_LEN_MAX)),
    ("UpdateLocation/name", Bound::AtMost(LOCATION_NAME_LEN_MAX)),
    ("GenerateBins/segments", Bound::Items(1, SEGMENTS_MAX)),
    ("BinSegment/label", Bound::AtMost(SEGMENT_LABEL_LEN_MAX)),
    // A bin range's value, trimmed: a number of at most 9 digits or one letter
    // (`core::bins::expand`); that `from` and `to` are of one kind and case, in order,
    // and that the grid makes at most 5,000 valid codes are rules across fields.
    ("BinSegment/from", Bound::Pattern(BIN_VALUE)),
    ("BinSegment/to", Bound::Pattern(BIN_VALUE)),
    ("GenerateBins/separator", Bound::Pattern("^[-_.]?$")),
    ("CreateProduct/name", name(NAME_LEN_MAX)),
    ("UpdateProduct/name", name(NAME_LEN_MAX)),
    ("CreateProduct/uom", code(UOM_LEN_MAX, NOT_SPACE)),
    ("UpdateProduct/uom", code(UOM_LEN_MAX, NOT_SPACE)),
    (
        "CreateProduct/barcodes",
        Bound::Each {
            max: BARCODES_PER_PRODUCT_MAX,
            item: &Bound::Barcode,
        },
    ),
    (
        "UpdateProduct/barcodes",
        Bound::Each {
            max: BARCODES_PER_PRODUCT_MAX,
            item: &Bound::Barcode,
        },
    ),
    ("CreateProduct/cost", Bound::Money),
    ("UpdateProduct/cost", Bound::Money),
    ("CreateProduct/price", Bound::Money),
    ("UpdateProduct/price", Bound::Money),
    // A movement's quantities (`core::PositiveQty`, `Qty`, `Delta`) and note.
    ("NewKind/qty", Bound::Range(1, QTY_MAX)),
    ("NewKind/delta", Bound::NonZero(QTY_MAX)),
    ("NewKind/counted", Bound::Range(0, QTY_MAX)),
    ("NewKind/expected", Bound::Range(0, QTY_MAX)),
    ("NewMovement/note", Bound::StoredChars(NOTE_LEN_MAX)),
    // A push and a journal upload (`core::PushRequest`, `core::JournalFile`): their
    // bounds (`journal::check_shape`, `journal::upload`), a device's sequence numbers from
    // 1 (`check_shape`, `JournalFile::check`), the file's format and version.
    ("PushRequest/movements", Bound::Items(0, PUSH_BATCH_MAX)),
    ("PushRequest/lots", Bound::Items(0, PUSH_BATCH_MAX)),
    ("JournalFile/entries", Bound::Items(0, JOURNAL_UPLOAD_MAX)),
    ("JournalFile/format", Bound::OneOf(&[JOURNAL_FILE_FORMAT])),
    (
        "JournalFile/version",
        Bound::Range(JOURNAL_FILE_VERSION as i64, JOURNAL_FILE_VERSION as i64),
    ),
    ("DeviceStamp/seq", Bound::AtLeast(1)),
    // An order's notes (`orders::purchase::notes`), counted before they are trimmed.
    ("NewPurchaseOrder/notes", Bound::StoredChars(NOTES_LEN_MAX)),
    (
        "UpdatePurchaseOrder/notes",
        Bound::StoredChars(NOTES_LEN_MAX),
    ),
    ("NewLine/qty", Bound::Range(1, QTY_MAX)),
    ("NewLine/unit_cost", Bound::Money),
    ("LineChanges/qty", Bound::Range(0, QTY_MAX)),
    ("LineChanges/unit_cost", Bound::Money),
    ("NewSalesLine/qty", Bound::Range(1, QTY_MAX)),
    ("NewSalesLine/unit_price", Bound::Money),
    ("SalesLineChanges/qty", Bound::Range(0, QTY_MAX)),
    ("SalesLineChanges/unit_price", Bound::Money),
    ("CreateProduct/reorder_point", Bound::Range(0, QTY_MAX)),
    ("UpdateProduct/reorder_point", Bound::Range(0, QTY_MAX)),
    ("CreateProduct/reorder_qty", Bound::Range(0, QTY_MAX)),
    ("UpdateProduct/reorder_qty", Bound::Range(0, QTY_MAX)),
    // A supplier's or customer's code is a location code (`catalog::warehouse::parse_code`).
    ("NewParty/code", code(LOCATION_CODE_LEN_MAX, LOCATION_CODE)),
    (
        "UpdateParty/code",
        code(LOCATION_CODE_LEN_MAX, LOCATION_CODE),
    ),
    ("NewParty/name", name(NAME_LEN_MAX)),
    ("UpdateParty/name", name(NAME_LEN_MAX)),
    ("NewParty/email", Bound::EmailOrBlank(EMAIL_LEN_MAX)),
    ("UpdateParty/email", Bound::EmailOrBlank(EMAIL_LEN_MAX)),
    ("NewParty/phone", Bound::StoredAtMost(PHONE_LEN_MAX)),
    ("UpdateParty/phone", Bound::StoredAtMost(PHONE_LEN_MAX)),
    ("NewParty/address", Bound::StoredAtMost(ADDRESS_LEN_MAX)),
    ("UpdateParty/address", Bound::StoredAtMost(ADDRESS_LEN_MAX)),
    // Each kind's request bodies take only its own field of days
    // (`routes::parties::document_kinds`).
    ("NewParty/lead_time_days", Bound::Range(0, DAYS_MAX as i64)),
    (
        "UpdateParty/lead_time_days",
        Bound::Range(0, DAYS_MAX as i64),
    ),
    (
        "NewParty/min_shelf_life_days",
        Bound::Range(0, DAYS_MAX as i64),
    ),
    (
        "UpdateParty/min_shelf_life_days",
        Bound::Range(0, DAYS_MAX as i64),
    ),
    ("CreateUser/email", Bound::Email(EMAIL_LEN_MAX)),
    ("CreateUser/display_name", name(NAME_LEN_MAX)),
    ("UpdateUser/display_name", name(NAME_LEN_MAX)),
    (
        "CreateUser/password",
        Bound::Chars(PASSWORD_LEN_MIN, PASSWORD_LEN_MAX),
    ),
    ("CreateApiKey/name", name(NAME_LEN_MAX)),
    ("CreateApiKey/permissions", Bound::MinItems(1)),
    ("RegisterDevice/name", Bound::Text(DEVICE_TEXT_LEN_MAX)),
    ("RegisterDevice/platform", Bound::Text(DEVICE_TEXT_LEN_MAX)),
    (
        "RegisterDevice/warehouse_ids",
        Bound::Items(1, DEVICE_WAREHOUSES_MAX),
    ),
    ("UpdateSettings/display_name", name(NAME_LEN_MAX)),
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
    (
        "UpdateSettings/alert_lot_expiring_days",
        Bound::Range(
            LOT_EXPIRING_DAYS_RANGE.0 as i64,
            LOT_EXPIRING_DAYS_RANGE.1 as i64,
        ),
    ),
    (
        "UpdateSettings/alert_held_hours",
        Bound::Range(HELD_HOURS_RANGE.0 as i64, HELD_HOURS_RANGE.1 as i64),
    ),
    (
        "UpdateSettings/alert_device_silent_days",
        Bound::Range(
            DEVICE_SILENT_DAYS_RANGE.0 as i64,
            DEVICE_SILENT_DAYS_RANGE.1 as i64,
        ),
    ),
];

/// The schemas of `core`'s wire types that a request body holds (`core`'s feature
/// `openapi` derives them without bounds, since utoipa's attributes take only literals),
/// bounded whole; their fields' bounds are in [`FIELDS`].
pub const SCHEMAS: &[(&str, Bound)] = &[
    ("PositiveQty", Bound::Range(1, QTY_MAX)),
    ("Qty", Bound::Range(0, QTY_MAX)),
    ("Delta", Bound::NonZero(QTY_MAX)),
    ("LotCode", LOT_CODE),
];

/// Request bodies that need one of these fields, not `null`: where a location goes
/// (`catalog::service::place_children`: under a parent, or top-level in a warehouse).
pub const ONE_OF_FIELDS: &[(&str, &[&str])] = &[
    ("CreateLocation", &["warehouse_id", "parent_id"]),
    ("GenerateBins", &["warehouse_id", "parent_id"]),
];

/// Query parameters and their bounds: the operations' paths, the parameter's name.
pub const QUERY: &[(&[&str], &str, Bound)] = &[
    (&["/v1/alerts"], "kind", Bound::OneOf(names_of!(AlertKind))),
    (
        &["/v1/movements", "/v1/exports/movements"],
        "kind",
        Bound::OneOf(names_of!(KindName)),
    ),
    (
        &["/v1/movements", "/v1/exports/movements"],
        "outcome",
        Bound::OneOf(names_of!(OutcomeName)),
    ),
];

impl Bound {
    /// Sets the bound on `schema`, a string, integer or array schema.
    fn apply(self, schema: &mut Schema) -> bool {
        if let Schema::Object(object) = schema
            && let Some(alternatives) = self.alternatives(object)
        {
            *schema = alternatives;
            return true;
        }
        if let Schema::Object(object) = schema
            && let Some(pattern) = self.whole_pattern()
        {
            object.pattern = Some(pattern);
            return true;
        }
        match (self, schema) {
            (Bound::Items(min, max), Schema::Array(array)) => {
                array.min_items = Some(min);
                array.max_items = Some(max);
            }
            (Bound::MinItems(min), Schema::Array(array)) => {
                array.min_items = Some(min);
            }
            (Bound::Each { max, item }, Schema::Array(array)) => {
                let ArrayItems::RefOrSchema(items) = &mut array.items else {
                    return false;
                };
                let RefOr::T(items) = items.as_mut() else {
                    return false;
                };
                array.max_items = Some(max);
                return item.apply(items);
            }
            (Bound::EachOneOf { min, names }, Schema::Array(array)) => {
                let ArrayItems::RefOrSchema(item) = &mut array.items else {
                    return false;
                };
                let RefOr::T(Schema::Object(item)) = item.as_mut() else {
                    return false;
                };
                item.enum_values = Some(names.iter().map(|&name| name.into()).collect());
                array.min_items = Some(min);
            }
            (Bound::Range(min, max), Schema::Object(object)) => range(object, min, max),
            (Bound::AtLeast(min), Schema::Object(object)) => object.minimum = Some(int(min)),
            (Bound::Barcode, schema) => return barcode(schema),
            (Bound::Chars(min, max), Schema::Object(object)) => {
                object.min_length = Some(min);
                object.max_length = Some(max);
            }
            (Bound::OneOf(names), Schema::Object(object)) => {
                // A name, never null: a query parameter is absent or a text.
                object.schema_type = SchemaType::Type(Type::String);
                object.enum_values = Some(names.iter().map(|&name| name.into()).collect());
            }
            (Bound::Email(max), Schema::Object(object)) => {
                object.format = Some(SchemaFormat::KnownFormat(KnownFormat::Email));
                object.max_length = Some(max);
            }
            (bound, Schema::Object(object)) => {
                // The length is that of the trimmed text, so it is in the pattern, not
                // in `maxLength` (which would count the spaces the server drops).
                let (max, edge, inner, optional) = match bound {
                    Bound::Text(max) => (max, NOT_SPACE, ANY, ""),
                    Bound::AtMost(max) => (max, NOT_SPACE, ANY, "?"),
                    Bound::StoredAtMost(max) => (max, STORED_EDGE, STORED, "?"),
                    Bound::Trimmed { max, edge, inner } => (max, edge, inner, ""),
                    _ => return false,
                };
                let inner_max = max.saturating_sub(2);
                object.pattern = Some(spell_spaces(&format!(
                    "^[\\s]*({edge}({inner}{{0,{inner_max}}}{edge})?){optional}[\\s]*$"
                )));
            }
            _ => return false,
        }
        true
    }

    /// The pattern of a bound that is one pattern of the whole text (not trimmed first,
    /// or, for [`Bound::Pattern`], trimmed in the pattern itself); `None` for the others.
    fn whole_pattern(self) -> Option<String> {
        Some(match self {
            Bound::Money => money_pattern(),
            Bound::StoredChars(max) => format!("^{STORED}{{0,{max}}}$"),
            Bound::Pattern(pattern) => spell_spaces(pattern),
            Bound::Exactly(max, class) => format!("^{class}{{1,{max}}}$"),
            _ => return None,
        })
    }

    /// For a bound of two or three alternatives (a non-zero range, an e-mail or blank),
    /// the `anyOf` them that replaces `object`; `None` for the others, and for an object
    /// the bound does not fit.
    fn alternatives(self, object: &mut Object) -> Option<Schema> {
        let items = match self {
            Bound::NonZero(max) => {
                let (mut below, mut above) = (object.clone(), object.clone());
                (below.description, above.description) = (None, None);
                range(&mut below, -max, -1);
                range(&mut above, 1, max);
                vec![below, above]
            }
            Bound::EmailOrBlank(max) => {
                let nullable = nullable_string(object)?;
                let mut blank = Object::with_type(Type::String);
                blank.pattern = Some(spell_spaces("^[\\s]*$"));
                let mut email = Object::with_type(Type::String);
                email.format = Some(SchemaFormat::KnownFormat(KnownFormat::Email));
                email.max_length = Some(max);
                let mut items = vec![blank, email];
                if nullable {
                    items.push(Object::with_type(Type::Null));
                }
                items
            }
            _ => return None,
        };
        let mut either = AnyOf::new();
        either.description = object.description.take();
        either.items = items
            .into_iter()
            .map(|item| RefOr::T(Schema::Object(item)))
            .collect();
        Some(Schema::AnyOf(either))
    }
}

/// The characters `str::trim` takes away (those `char::is_whitespace` calls spaces) as
/// the inside of a regular expression class, in ranges of `\uXXXX`, which Python's `re`,
/// ECMA-262 and Rust's `regex` read alike. They are all in the Basic Multilingual Plane
/// (a test checks it), so only that plane is searched: every server builds this when it
/// starts, and the whole of Unicode took 15 ms of each API test's CPU in a debug build.
static SPACES: LazyLock<String> = LazyLock::new(|| {
    let mut class = String::new();
    let mut spaces = ('\0'..=BMP_LAST).filter(|c| c.is_whitespace()).peekable();
    while let Some(first) = spaces.next() {
        let mut last = first;
        while let Some(&next) = spaces.peek() {
            if u32::from(next) != u32::from(last) + 1 {
                break;
            }
            last = next;
            spaces.next();
        }
        class.push_str(&format!("\\u{:04X}", u32::from(first)));
        if last != first {
            class.push_str(&format!("-\\u{:04X}", u32::from(last)));
        }
    }
    class
});

/// The last character of the Basic Multilingual Plane, the last a `\uXXXX` escape names.
const BMP_LAST: char = '\u{FFFF}';

/// A pattern with each `\s` (always inside a class: `[\s]`, `[^\s\x00]`) spelled as
/// [`SPACES`]. The `\s` of a JSON Schema pattern is ECMA-262's, which leaves out U+0085
/// and takes in U+FEFF, and Python's takes in U+001C to U+001F: none of them is what the
/// server trims.
fn spell_spaces(pattern: &str) -> String {
    pattern.replace("\\s", &SPACES)
}

/// Sets an integer schema's `minimum` and `maximum`.
fn range(object: &mut Object, min: i64, max: i64) {
    object.minimum = Some(int(min));
    object.maximum = Some(int(max));
}

/// A bound of an integer schema (`isize` is `i64` on the platforms the server runs on).
fn int(n: i64) -> Number {
    Number::Int(isize::try_from(n).unwrap_or(if n < 0 { isize::MIN } else { isize::MAX }))
}

/// Sets [`Bound::Barcode`] on a string schema.
fn barcode(schema: &mut Schema) -> bool {
    let Schema::Object(object) = schema else {
        return false;
    };
    object.format = Some(SchemaFormat::Custom(BARCODE_FORMAT.to_owned()));
    BARCODE.apply(schema)
}

/// Makes a string field, nullable or not, a reference to the [`TIME_ZONE`] schema,
/// keeping its description.
fn time_zone_ref(field: &mut RefOr<Schema>) -> bool {
    let RefOr::T(Schema::Object(object)) = field else {
        return false;
    };
    let mut zone = Ref::from_schema_name(TIME_ZONE);
    zone.description = object.description.clone().unwrap_or_default();
    *field = match nullable_string(object) {
        Some(true) => RefOr::T(or_null(RefOr::Ref(zone), None)),
        Some(false) => RefOr::Ref(zone),
        None => return false,
    };
    true
}

/// Whether a string schema may also be `null` (`type: ["string", "null"]`, as utoipa
/// writes an `Option<String>`); `None` when it is not a string schema.
fn nullable_string(object: &Object) -> Option<bool> {
    match &object.schema_type {
        SchemaType::Type(Type::String) => Some(false),
        SchemaType::Array(types) if types.as_slice() == [Type::String, Type::Null] => Some(true),
        _ => None,
    }
}

/// `oneOf` the schema and `null`.
fn or_null(schema: RefOr<Schema>, description: Option<String>) -> Schema {
    let mut either = OneOf::new();
    either.description = description;
    either.items = vec![
        schema,
        RefOr::T(Schema::Object(Object::with_type(Type::Null))),
    ];
    Schema::OneOf(either)
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
    let mut time_zone = Object::with_type(Type::String);
    time_zone.description = Some("An IANA time zone name, e.g. `Europe/Paris`.".into());
    time_zone.enum_values = Some(
        chrono_tz::TZ_VARIANTS
            .iter()
            .map(|tz| tz.name().into())
            .collect(),
    );
    schemas.insert(TIME_ZONE.into(), RefOr::T(Schema::Object(time_zone)));
    for (field, bound) in FIELDS {
        let (schema, property) = field.split_once('/').expect("Schema/field");
        // A tagged enum (`NewKind`) is `oneOf` its variants, and a body with a flattened
        // part (`NewMovement`) `allOf` its parts: the field of each that has it.
        let targets: Vec<&mut RefOr<Schema>> = match schemas.get_mut(schema) {
            Some(RefOr::T(Schema::Object(object))) => {
                object.properties.get_mut(property).into_iter().collect()
            }
            Some(RefOr::T(Schema::OneOf(OneOf { items, .. })))
            | Some(RefOr::T(Schema::AllOf(AllOf { items, .. }))) => items
                .iter_mut()
                .filter_map(|variant| match variant {
                    RefOr::T(Schema::Object(object)) => object.properties.get_mut(property),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let fits = !targets.is_empty()
            && targets.into_iter().all(|target| match (bound, target) {
                (Bound::TimeZone, slot) => time_zone_ref(slot),
                (_, RefOr::T(schema)) => bound.apply(schema),
                _ => false,
            });
        assert!(
            fits,
            "the OpenAPI document has no {field} that {bound:?} fits"
        );
    }
    for (name, bound) in SCHEMAS {
        let fits = match schemas.get_mut(*name) {
            Some(RefOr::T(schema)) => bound.apply(schema),
            _ => false,
        };
        assert!(
            fits,
            "the OpenAPI document has no {name} that {bound:?} fits"
        );
    }
    for (name, fields) in ONE_OF_FIELDS {
        let Some(RefOr::T(Schema::Object(body))) = schemas.get_mut(*name) else {
            panic!("the OpenAPI document has no {name} object");
        };
        let body = std::mem::take(body);
        schemas.insert((*name).to_owned(), RefOr::T(one_of_fields(body, fields)));
    }
    for schema in schemas.values_mut() {
        nullable_formats(schema);
    }
    bound_parameters(&mut doc.paths);
}

/// `allOf` the body and `anyOf` the bodies that have one of `fields` as a string.
fn one_of_fields(mut body: Object, fields: &[&str]) -> Schema {
    let mut any = AnyOf::new();
    for field in fields {
        assert!(
            body.properties.contains_key(*field),
            "the OpenAPI document has no field {field} to require"
        );
        let mut with = Object::new();
        with.required = vec![(*field).to_owned()];
        with.properties.insert(
            (*field).to_owned(),
            RefOr::T(Schema::Object(Object::with_type(Type::String))),
        );
        any.items.push(RefOr::T(Schema::Object(with)));
    }
    let mut all = AllOf::new();
    all.description = body.description.take();
    all.items = vec![RefOr::T(Schema::Object(body)), RefOr::T(Schema::AnyOf(any))];
    Schema::AllOf(all)
}

/// Rewrites, below `schema`, every nullable string with a `format` (an `Option<Uuid>` or
/// `Option<NaiveDate>`, which utoipa writes as `type: ["string", "null"]` beside the
/// `format`) as `oneOf` the formatted string and null. The two say the same, but
/// schemathesis reads the `format` beside a list of types as an annotation only and
/// sends `""` as a valid id or date, which the server refuses as not one; from the
/// `oneOf` it sends an id, a date or null.
fn nullable_formats(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            if nullable_string(object) == Some(true) && object.format.is_some() {
                let mut string = object.clone();
                string.schema_type = SchemaType::Type(Type::String);
                let description = string.description.take();
                *schema = or_null(RefOr::T(Schema::Object(string)), description);
                return;
            }
            object.properties.values_mut().for_each(nullable_formats);
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                nullable_formats(items);
            }
        }
        Schema::OneOf(either) => either.items.iter_mut().for_each(nullable_formats),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(nullable_formats),
        Schema::AllOf(all) => all.items.iter_mut().for_each(nullable_formats),
        _ => {}
    }
}

/// Sets the bounds of the operations' parameters: `limit`, `Idempotency-Key` and the
/// query parameters of [`QUERY`].
///
/// # Panics
///
/// When an entry of [`QUERY`] names a parameter the document does not have, or a bound
/// does not fit its schema.
fn bound_parameters(paths: &mut utoipa::openapi::Paths) {
    let mut unused: Vec<(&str, &str)> = QUERY
        .iter()
        .flat_map(|(paths, name, _)| paths.iter().map(move |path| (*path, *name)))
        .collect();
    for (path, item) in paths.paths.iter_mut() {
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
                    (ParameterIn::Query, name) => {
                        let listed = QUERY.iter().find(|(paths, listed, _)| {
                            *listed == name && paths.contains(&path.as_str())
                        });
                        match listed {
                            Some((_, _, bound)) => {
                                unused.retain(|entry| *entry != (path.as_str(), name));
                                *bound
                            }
                            None => continue,
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
    assert!(
        unused.is_empty(),
        "the OpenAPI document has no query parameters {unused:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_space_is_beyond_the_basic_multilingual_plane() {
        let beyond: Vec<char> = ('\u{10000}'..=char::MAX)
            .filter(|c| c.is_whitespace())
            .collect();
        assert!(beyond.is_empty(), "{beyond:?}");
    }

    #[test]
    fn the_class_holds_exactly_the_characters_trim_takes() {
        // `\u0009-\u000D\u0020…`: a range, or a single character.
        let code = |escape: &str| u32::from_str_radix(&escape[..4], 16).unwrap();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        let mut parts = SPACES.split("\\u").skip(1);
        while let Some(part) = parts.next() {
            let first = code(part);
            let last = if part.ends_with('-') {
                code(parts.next().expect("a range has an end"))
            } else {
                first
            };
            ranges.push((first, last));
        }
        assert!(!ranges.is_empty());
        for c in '\0'..=char::MAX {
            let n = u32::from(c);
            let in_class = ranges.iter().any(|&(first, last)| first <= n && n <= last);
            assert_eq!(in_class, c.is_whitespace(), "U+{n:04X}");
            assert_eq!(in_class, c.to_string().trim().is_empty(), "U+{n:04X}");
        }
    }
}
