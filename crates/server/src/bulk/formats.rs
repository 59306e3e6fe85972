//! Reading an uploaded file into a [`Table`] of text cells, with every refusal that is
//! about the file rather than a row: empty, not UTF-8, unreadable, too many rows, an XLSX
//! that would inflate too far, a CSV line too long, a cell too long, a formula.
//!
//! CSV goes through the `csv` crate (UTF-8 with or without BOM, `,` or `;` detected from
//! the header line, quoted fields, CRLF); XLSX through `calamine`'s streaming cell reader
//! (the first sheet or a named one), after the zip's central directory was checked for
//! the uncompressed size of its parts, so a zip bomb is refused before anything inflates.
//!
//! Formula neutralisation: exports prefix `'` to a cell beginning with `= + - @`
//! ([`neutralise`]); reading strips that `'` again ([`unneutralise`]), so an export reads
//! back as the same values. A cell that still begins with `=` (or an XLSX formula) is a
//! formula, refused.

use std::io::Cursor;

use calamine::{DataRef, Reader, Xlsx};

use crate::error::{ApiError, ApiResult};

/// Longest cell, in characters: longer than any field (names 200, custom values a few
/// hundred), short enough that a pasted document is refused as such.
pub const CELL_LEN_MAX: usize = 2_000;

/// Longest CSV record (one line, or several when a quoted cell spans lines), in bytes.
pub const LINE_LEN_MAX: usize = 64 * 1024;

/// A file format the server reads and writes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    /// The media type of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// The format a request names by its media type, else by the file's first bytes (an
    /// XLSX is a zip: `PK\x03\x04`).
    pub fn detect(content_type: Option<&str>, bytes: &[u8]) -> Format {
        match content_type {
            Some(ct) if ct.contains("spreadsheetml") => Format::Xlsx,
            Some(ct) if ct.starts_with("text/") => Format::Csv,
            _ if bytes.starts_with(b"PK\x03\x04") => Format::Xlsx,
            _ => Format::Csv,
        }
    }
}

/// The bounds of one read.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Most data rows (the header excluded).
    pub rows_max: usize,
    /// Most bytes the parts of an XLSX may inflate to, in total.
    pub inflated_bytes_max: u64,
}

/// A file as text: normalized column names (trimmed, lower case) and data rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// A data row: its number as a spreadsheet shows it (the header is row 1) and one cell
/// per column, trimmed, empty where the file had none.
#[derive(Debug, Clone)]
pub struct Row {
    pub row_no: u32,
    pub cells: Vec<String>,
}

/// Reads `bytes` as `format` (`sheet`: an XLSX's sheet, else the first).
pub fn read(
    bytes: &[u8],
    format: Format,
    sheet: Option<&str>,
    limits: ReadLimits,
) -> ApiResult<Table> {
    if bytes.is_empty() {
        return Err(ApiError::ImportEmpty("the file is empty (0 bytes)".into()));
    }
    let raw = match format {
        Format::Csv => read_csv(bytes, limits)?,
        Format::Xlsx => read_xlsx(bytes, sheet, limits)?,
    };
    finish(raw)
}

/// Rows of cells as read, the header first, before the common checks.
type RawRows = Vec<(u32, Vec<String>)>;

fn too_many(limits: ReadLimits) -> ApiError {
    ApiError::ImportTooLarge(format!(
        "the file has more than {} rows; split it",
        limits.rows_max
    ))
}

fn read_csv(bytes: &[u8], limits: ReadLimits) -> ApiResult<RawRows> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(text) {
        return Err(ApiError::ImportEncoding(format!(
            "the file is not UTF-8 (byte {} is not): save it as \"CSV UTF-8\"",
            e.valid_up_to()
        )));
    }
    let delimiter = detect_delimiter(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text);
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut row_no = 0u32;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(ApiError::ImportUnreadable(format!("not a CSV file: {e}"))),
        }
        row_no += 1;
        if record.as_slice().len() > LINE_LEN_MAX {
            return Err(ApiError::ImportLineTooLong(format!(
                "row {row_no} has {} bytes; a row has at most {LINE_LEN_MAX}",
                record.as_slice().len()
            )));
        }
        if rows.len() > limits.rows_max {
            return Err(too_many(limits));
        }
        rows.push((row_no, record.iter().map(str::to_owned).collect()));
    }
    Ok(rows)
}

/// `;` when the header line has more of them than `,` (Excel in locales with a decimal
/// comma writes `;`), else `,`.
fn detect_delimiter(text: &[u8]) -> u8 {
    let header = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |c: u8| header.iter().filter(|b| **b == c).count();
    if count(b';') > count(b',') {
        b';'
    } else {
        b','
    }
}

fn unreadable(e: impl std::fmt::Display) -> ApiError {
    ApiError::ImportUnreadable(format!("not an XLSX file that can be read: {e}"))
}

fn read_xlsx(bytes: &[u8], sheet: Option<&str>, limits: ReadLimits) -> ApiResult<RawRows> {
    check_archive(bytes, limits)?;
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let name = match sheet {
        Some(s) => s.to_owned(),
        None => book
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| ApiError::ImportEmpty("the workbook has no sheet".into()))?,
    };
    if !book.sheet_names().contains(&name) {
        return Err(ApiError::ImportUnreadable(format!(
            "the workbook has no sheet named {name:?}"
        )));
    }
    // Formulas first: a formula cell has a cached value that would otherwise be read as
    // if someone had typed it.
    {
        let mut cells = book.worksheet_cells_reader(&name).map_err(unreadable)?;
        while let Some(cell) = cells.next_formula().map_err(unreadable)? {
            if !cell.get_value().is_empty() {
                let (row, col) = cell.get_position();
                return Err(ApiError::ImportFormula(format!(
                    "row {}, column {}: a formula ({}); paste values instead",
                    row + 1,
                    col + 1,
                    cell.get_value()
                )));
            }
        }
    }
    let mut cells = book.worksheet_cells_reader(&name).map_err(unreadable)?;
    let mut rows: RawRows = Vec::new();
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (row, col) = cell.get_position();
        let text = cell_text(cell.get_value());
        if text.is_empty() {
            continue;
        }
        let row_no = row.saturating_add(1);
        if rows.last().is_none_or(|(n, _)| *n != row_no) {
            if rows.len() > limits.rows_max {
                return Err(too_many(limits));
            }
            rows.push((row_no, Vec::new()));
        }
        let Some((_, cells)) = rows.last_mut() else {
            continue;
        };
        let col = usize::try_from(col).unwrap_or(usize::MAX);
        if col >= 16_384 {
            return Err(unreadable("a column beyond XFD"));
        }
        if cells.len() <= col {
            cells.resize(col + 1, String::new());
        }
        cells[col] = text;
    }
    Ok(rows)
}

/// Refuses an archive whose parts, as its central directory declares them, inflate
/// beyond `limits.inflated_bytes_max` in total. A part that lies about its size is still
/// only streamed: the sheet is read cell by cell and stops at the row limit (the shared
/// strings part is the one part calamine reads whole).
fn check_archive(bytes: &[u8], limits: ReadLimits) -> ApiResult<()> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let part = archive.by_index_raw(i).map_err(unreadable)?;
        total = total.saturating_add(part.size());
    }
    if total > limits.inflated_bytes_max {
        return Err(ApiError::ImportArchiveTooLarge(format!(
            "the workbook would inflate to {total} bytes; at most {} are read",
            limits.inflated_bytes_max
        )));
    }
    Ok(())
}

/// A cell's text: numbers without a trailing `.0` (barcodes typed as numbers), booleans as
/// `true`/`false`.
fn cell_text(v: &DataRef<'_>) -> String {
    match v {
        DataRef::Empty => String::new(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e17 {
                format!("{f:.0}")
            } else {
                f.to_string()
            }
        }
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => d.as_f64().to_string(),
        DataRef::Error(e) => format!("#{e}"),
    }
}

/// The checks common to both formats: a header, cells within bounds, no formula.
fn finish(raw: RawRows) -> ApiResult<Table> {
    let mut rows = raw.into_iter();
    let Some((_, header)) = rows.next() else {
        return Err(ApiError::ImportEmpty("the file has no header row".into()));
    };
    let columns: Vec<String> = header.iter().map(|c| c.trim().to_lowercase()).collect();
    let mut table = Table {
        columns,
        rows: Vec::new(),
    };
    for (row_no, mut cells) in rows {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if cells.len() > table.columns.len() {
            if cells[table.columns.len()..]
                .iter()
                .any(|c| !c.trim().is_empty())
            {
                return Err(ApiError::ImportColumns(format!(
                    "row {row_no} has {} cells but the header names {} columns",
                    cells.len(),
                    table.columns.len()
                )));
            }
            cells.truncate(table.columns.len());
        }
        cells.resize(table.columns.len(), String::new());
        for (i, cell) in cells.iter_mut().enumerate() {
            let column = &table.columns[i];
            let len = cell.chars().count();
            if len > CELL_LEN_MAX {
                return Err(ApiError::ImportValueTooLong(format!(
                    "row {row_no}, column {column}: {len} characters; a cell has at most {CELL_LEN_MAX}"
                )));
            }
            let trimmed = cell.trim();
            if trimmed.starts_with('=') {
                return Err(ApiError::ImportFormula(format!(
                    "row {row_no}, column {column}: a formula ({trimmed}); paste values instead"
                )));
            }
            *cell = unneutralise(trimmed).to_owned();
        }
        table.rows.push(Row { row_no, cells });
    }
    Ok(table)
}

/// Whether a spreadsheet would read `s` as a formula (it begins with `= + - @`).
fn is_risky(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@'])
}

/// A cell value as exported: one a spreadsheet would read as a formula gets a leading
/// `'`, which spreadsheets show as text and [`unneutralise`] strips on import.
pub fn neutralise(s: &str) -> std::borrow::Cow<'_, str> {
    if is_risky(s) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// The value of a cell that [`neutralise`] wrote.
pub fn unneutralise(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if is_risky(rest) => rest,
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ReadLimits = ReadLimits {
        rows_max: 10,
        inflated_bytes_max: 1 << 20,
    };

    fn csv(text: &[u8]) -> ApiResult<Table> {
        read(text, Format::Csv, None, LIMITS)
    }

    #[test]
    fn csv_dialects_read_the_same() {
        let variants: [&[u8]; 4] = [
            b"SKU,Name\nA-1,\"Bolt, 10 mm\"\n",
            b"\xEF\xBB\xBFsku;name\r\nA-1;Bolt, 10 mm\r\n",
            b"sku,name\r\n\r\nA-1,\"Bolt, 10 mm\"\r\n,\r\n",
            b"sku;name\nA-1;\"Bolt, 10 mm\"",
        ];
        for v in variants {
            let t = csv(v).unwrap();
            assert_eq!(t.columns, ["sku", "name"], "{v:?}");
            assert_eq!(t.rows.len(), 1, "{v:?}");
            assert_eq!(t.rows[0].cells, ["A-1", "Bolt, 10 mm"], "{v:?}");
        }
    }

    #[test]
    fn neutralised_cells_read_back() {
        for s in ["=1+1", "+49 30", "-5", "@home", "plain", "'quoted"] {
            assert_eq!(unneutralise(&neutralise(s)), s);
        }
        assert_eq!(neutralise("-5"), "'-5");
        assert_eq!(neutralise("5"), "5");
    }

    #[test]
    fn file_refusals_have_their_codes() {
        use logiflow_core::ProblemCode as P;
        let code = |r: ApiResult<Table>| r.unwrap_err().code();
        assert_eq!(code(csv(b"")), P::ImportEmpty);
        assert_eq!(code(csv(b"sku\n\xff\xfe\n")), P::ImportEncoding);
        assert_eq!(code(csv(b"sku\n=1+1\n")), P::ImportFormula);
        let long = format!("sku\n{}\n", "x".repeat(CELL_LEN_MAX + 1));
        assert_eq!(code(csv(long.as_bytes())), P::ImportValueTooLong);
        let many = format!("sku\n{}", "a\n".repeat(11));
        assert_eq!(code(csv(many.as_bytes())), P::ImportTooLarge);
        assert_eq!(code(csv(b"sku\na,b\n")), P::ImportColumns);
        assert_eq!(
            code(read(b"PK\x03\x04junk", Format::Xlsx, None, LIMITS)),
            P::ImportUnreadable
        );
    }
}
