//! The bin generator's rule: ranges of codes multiplied out into bin codes.
//!
//! A warehouse is laid out as aisles × racks × levels (or any such grid). Typing 400
//! bins by hand is what this replaces: each [`Segment`] is a range of letters or of
//! numbers, and every combination, in order, becomes one bin code, the segments' values
//! joined by a separator; with labels, the bin's name says what each part is.
//!
//! Worked example: aisles `A`–`D`, racks `01`–`20`, levels `1`–`5`, separator `-`:
//!
//! ```
//! use logiflow_core::bins::{Segment, expand};
//! let segments = [
//!     Segment::new("A", Some("D"), Some("Aisle")),
//!     Segment::new("01", Some("20"), Some("Rack")),
//!     Segment::new("1", Some("5"), Some("Level")),
//! ];
//! let bins = expand(&segments, "-").unwrap();
//! assert_eq!(bins.len(), 4 * 20 * 5);
//! assert_eq!(bins[0].code.as_str(), "A-01-1");
//! assert_eq!(bins[0].name, "Aisle A Rack 01 Level 1");
//! assert_eq!(bins[399].code.as_str(), "D-20-5");
//! ```
//!
//! A numeric range keeps the width of its `from` (`01`–`20` gives `01`, `02`, …, `20`;
//! `1`–`12` gives `1`, …, `12`); a letter range is single letters of one case. The count
//! is checked before anything is built, so a range of a million bins costs nothing.

use serde::{Deserialize, Serialize};

use crate::codes::{CodeError, LocationCode};

/// Most bins one generation makes.
pub const BINS_PER_GENERATION_MAX: usize = 5_000;

/// Most segments (grid dimensions) of one generation.
pub const SEGMENTS_MAX: usize = 6;

/// Longest segment label.
pub const SEGMENT_LABEL_LEN_MAX: usize = 40;

/// One dimension of the grid: every value from `from` to `to` (inclusive; `to` absent is
/// the single value `from`), and what the part is called in the bins' names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub from: String,
    pub to: Option<String>,
    pub label: Option<String>,
}

impl Segment {
    /// A segment from its parts.
    pub fn new(from: &str, to: Option<&str>, label: Option<&str>) -> Self {
        Self {
            from: from.to_owned(),
            to: to.map(str::to_owned),
            label: label.map(str::to_owned),
        }
    }
}

/// A bin the generator makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedBin {
    pub code: LocationCode,
    /// The labels and values, e.g. `Aisle A Rack 01 Level 1`; empty without labels.
    pub name: String,
}

/// Why segments make no bins.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinRangeError {
    #[error("give at least one segment (for example aisles A to D)")]
    NoSegments,
    #[error("at most {SEGMENTS_MAX} segments")]
    TooManySegments,
    #[error("segment {segment}: {message}")]
    Segment { segment: usize, message: String },
    #[error("the separator must be empty or one of - _ .")]
    Separator,
    #[error("these segments make {count} bins; at most {BINS_PER_GENERATION_MAX} at once")]
    TooMany { count: u128 },
    #[error("bin {code:?}: {error}")]
    Code { code: String, error: CodeError },
}

/// The values of one range, checked.
#[derive(Debug, Clone, Copy)]
enum Range {
    Letters { from: u8, to: u8 },
    Numbers { from: u64, to: u64, width: usize },
}

impl Range {
    fn len(self) -> u128 {
        match self {
            Range::Letters { from, to } => u128::from(to - from) + 1,
            Range::Numbers { from, to, .. } => u128::from(to - from) + 1,
        }
    }

    fn value(self, i: u64) -> String {
        match self {
            Range::Letters { from, .. } => char::from(from + u8::try_from(i).unwrap_or(0)).into(),
            Range::Numbers { from, width, .. } => format!("{:0width$}", from + i),
        }
    }
}

fn parse_range(segment: usize, s: &Segment) -> Result<Range, BinRangeError> {
    let err = |message: String| BinRangeError::Segment { segment, message };
    let from = s.from.trim();
    let to = s.to.as_deref().map(str::trim).unwrap_or(from);
    if from.is_empty() {
        return Err(err("give the first value".into()));
    }
    if let Some(label) = &s.label
        && label.trim().chars().count() > SEGMENT_LABEL_LEN_MAX
    {
        return Err(err(format!(
            "labels have at most {SEGMENT_LABEL_LEN_MAX} characters"
        )));
    }
    let digits = |v: &str| !v.is_empty() && v.len() <= 9 && v.bytes().all(|b| b.is_ascii_digit());
    let letter = |v: &str| v.len() == 1 && v.as_bytes()[0].is_ascii_alphabetic();
    if digits(from) && digits(to) {
        let (a, b) = (from.parse::<u64>(), to.parse::<u64>());
        let (Ok(a), Ok(b)) = (a, b) else {
            return Err(err("numbers of at most 9 digits".into()));
        };
        if a > b {
            return Err(err(format!("{from} comes after {to}")));
        }
        return Ok(Range::Numbers {
            from: a,
            to: b,
            width: from.len(),
        });
    }
    if letter(from) && letter(to) {
        let (a, b) = (from.as_bytes()[0], to.as_bytes()[0]);
        if a.is_ascii_uppercase() != b.is_ascii_uppercase() {
            return Err(err("both letters in the same case".into()));
        }
        if a > b {
            return Err(err(format!("{from} comes after {to}")));
        }
        return Ok(Range::Letters { from: a, to: b });
    }
    Err(err(format!(
        "{from} to {to} is not a range: use two numbers (01 to 20) or two letters (A to D)"
    )))
}

/// Every bin of `segments`, the first segment varying slowest; each code checked as a
/// location code.
pub fn expand(segments: &[Segment], separator: &str) -> Result<Vec<GeneratedBin>, BinRangeError> {
    if segments.is_empty() {
        return Err(BinRangeError::NoSegments);
    }
    if segments.len() > SEGMENTS_MAX {
        return Err(BinRangeError::TooManySegments);
    }
    if !matches!(separator, "" | "-" | "_" | ".") {
        return Err(BinRangeError::Separator);
    }
    let ranges = segments
        .iter()
        .enumerate()
        .map(|(i, s)| parse_range(i + 1, s))
        .collect::<Result<Vec<_>, _>>()?;
    let count = ranges.iter().map(|r| r.len()).product::<u128>();
    if count > BINS_PER_GENERATION_MAX as u128 {
        return Err(BinRangeError::TooMany { count });
    }
    let labels: Vec<Option<&str>> = segments
        .iter()
        .map(|s| s.label.as_deref().map(str::trim).filter(|l| !l.is_empty()))
        .collect();
    let named = labels.iter().any(Option::is_some);
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut index = vec![0u64; ranges.len()];
    loop {
        let values: Vec<String> = ranges
            .iter()
            .zip(&index)
            .map(|(r, i)| r.value(*i))
            .collect();
        let raw = values.join(separator);
        let code = LocationCode::parse(&raw).map_err(|error| BinRangeError::Code {
            code: raw.clone(),
            error,
        })?;
        let name = if named {
            values
                .iter()
                .zip(&labels)
                .map(|(v, l)| l.map_or_else(|| v.clone(), |l| format!("{l} {v}")))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            String::new()
        };
        out.push(GeneratedBin { code, name });
        // Odometer: the last segment turns fastest.
        let mut d = ranges.len();
        loop {
            if d == 0 {
                return Ok(out);
            }
            d -= 1;
            index[d] += 1;
            if u128::from(index[d]) < ranges[d].len() {
                break;
            }
            index[d] = 0;
        }
    }
}
