//! A streaming CSV writer for cost exports: RFC 4180, UTF-8, CRLF, with CSV-injection
//! neutralisation (docs/adr/0006-costs.md).
//!
//! Every text cell is neutralised: a cell starting with `=`, `+`, `-`, `@`, tab or CR
//! (the OWASP list) is prefixed with `'` so a spreadsheet shows it as text instead of
//! evaluating it. Numbers take a separate path, [`Cell::Number`], which writes a
//! `Decimal`'s plain rendering (digits, one `.`, at most a leading `-`): that cannot be a
//! formula, so it is never prefixed and stays a number in the spreadsheet. Amounts in cost
//! reports are never negative anyway.

use std::fmt::Write as _;
use std::io::{self, Write};

use rust_decimal::Decimal;

use super::month::Month;

/// The export's columns, in their stable order.
/// The first fourteen are the export's original ones, unchanged; the rest were added after
/// them so that a spreadsheet or a script reading columns by position keeps working.
pub const COLUMNS: [&str; 22] = [
    "month",
    "user",
    "email",
    "cost_centre",
    "workspace_id",
    "workspace_name",
    "product",
    "instance_type",
    "running_hours",
    "stopped_hours",
    "compute_cost",
    "storage_cost",
    "total_cost",
    "currency",
    "running_seconds",
    "storage_gib_seconds",
    "compute_rate",
    "storage_rate",
    "price_version",
    "period_start",
    "period_end",
    "kind",
];

/// The field separator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Separator {
    /// `,`: RFC 4180.
    #[default]
    Comma,
    /// `;`: for spreadsheet locales that use `,` as the decimal mark. The decimal mark in
    /// the file stays `.` either way.
    Semicolon,
}

impl Separator {
    /// The separator character.
    pub fn as_char(self) -> char {
        match self {
            Separator::Comma => ',',
            Separator::Semicolon => ';',
        }
    }
}

/// One cell of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    /// Text from users or the catalog: quoted as needed and neutralised.
    Text(&'a str),
    /// A number, written as is.
    Number(Decimal),
    /// A month, written `YYYY-MM`.
    Month(Month),
}

/// Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
const TRIGGERS: [u8; 6] = *b"=+-@\t\r";

fn starts_with_trigger(text: &str) -> bool {
    text.as_bytes().first().is_some_and(|b| TRIGGERS.contains(b))
}

/// Writes rows to `W` as they come: nothing but the current row is held in memory, so a
/// report of any size streams. Wrap `W` in a `BufWriter` when it is a file or socket.
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    out: W,
    separator: Separator,
    /// The row being assembled, reused between rows.
    line: String,
}

impl<W: Write> CsvWriter<W> {
    /// A writer to `out` separating fields with `separator`.
    pub fn new(out: W, separator: Separator) -> Self {
        Self { out, separator, line: String::new() }
    }

    /// Writes the header row, [`COLUMNS`].
    pub fn write_header(&mut self) -> io::Result<()> {
        self.write_row(&COLUMNS)
    }

    /// Writes a row of text cells, each neutralised and quoted as needed.
    pub fn write_row(&mut self, cells: &[&str]) -> io::Result<()> {
        self.line.clear();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.line.push(self.separator.as_char());
            }
            push_text(&mut self.line, cell, self.separator);
        }
        self.finish_line()
    }

    /// Writes a row mixing text and numbers.
    pub fn write_cells(&mut self, cells: &[Cell<'_>]) -> io::Result<()> {
        self.line.clear();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.line.push(self.separator.as_char());
            }
            match cell {
                Cell::Text(text) => push_text(&mut self.line, text, self.separator),
                // A Decimal renders as `-?[0-9]+(\.[0-9]+)?`: no separator, quote or line
                // break, so it never needs quoting, and it is a number, not a formula.
                Cell::Number(n) => push_decimal(&mut self.line, *n),
                // Years 0–9999 render as digits first: nothing to quote or neutralise.
                Cell::Month(month) if month.year() >= 0 => {
                    let _ = write!(self.line, "{month}");
                }
                Cell::Month(month) => push_text(&mut self.line, &month.to_string(), self.separator),
            }
        }
        self.finish_line()
    }

    /// The underlying writer, e.g. to take the bytes written so far out of a `Vec<u8>`
    /// while streaming.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn finish_line(&mut self) -> io::Result<()> {
        self.line.push_str("\r\n");
        self.out.write_all(self.line.as_bytes())
    }
}

/// Appends `text` as one field: neutralised, then quoted when it holds the separator, a
/// quote, CR or LF (inner quotes doubled).
///
/// Byte-wise: every character tested is ASCII, and in UTF-8 an ASCII byte never occurs
/// inside a multi-byte character, so scanning bytes finds exactly the characters.
fn push_text(line: &mut String, text: &str, separator: Separator) {
    let sep = separator.as_char() as u8;
    let neutralise = starts_with_trigger(text);
    let quote = text.bytes().any(|b| b == sep || matches!(b, b'"' | b'\r' | b'\n'));
    if !quote {
        if neutralise {
            line.push('\'');
        }
        line.push_str(text);
        return;
    }
    line.push('"');
    if neutralise {
        line.push('\'');
    }
    let mut rest = text;
    while let Some(at) = rest.find('"') {
        // Up to and including the quote, then the quote again.
        line.push_str(&rest[..=at]);
        line.push('"');
        rest = &rest[at + 1..];
    }
    line.push_str(rest);
    line.push('"');
}

/// Appends `n` exactly as `Decimal`'s `Display` does (sign, digits, and `scale` digits
/// after the point, trailing zeros kept), without going through `fmt`: the export writes
/// five numbers per row, and this is most of a row's formatting time.
fn push_decimal(line: &mut String, n: Decimal) {
    if n.is_sign_negative() {
        line.push('-');
    }
    // The mantissa has at most 29 digits (96 bits), `scale` at most 28; at least `scale + 1`
    // digits are written so that one stands before the point. Beyond u64, as two halves
    // (the low one 19 digits wide).
    const TEN_19: u128 = 10_000_000_000_000_000_000;
    let scale = n.scale() as usize;
    let mut digits = [0u8; 40];
    let end = digits.len();
    let magnitude = n.mantissa().unsigned_abs();
    let at = match u64::try_from(magnitude) {
        Ok(small) => write_digits(&mut digits, end, small, scale + 1),
        Err(_) => {
            let below = write_digits(&mut digits, end, (magnitude % TEN_19) as u64, 19);
            write_digits(&mut digits, below, (magnitude / TEN_19) as u64, (scale + 1).saturating_sub(19).max(1))
        }
    };
    let digits = &digits[at..];
    let (whole, fraction) = digits.split_at(digits.len() - scale);
    // Only ASCII digits were written.
    line.push_str(std::str::from_utf8(whole).unwrap_or_default());
    if scale > 0 {
        line.push('.');
        line.push_str(std::str::from_utf8(fraction).unwrap_or_default());
    }
}

/// Writes `n` in decimal ending just before `end`, at least `width` digits (zero-padded);
/// returns where the digits start.
fn write_digits(digits: &mut [u8], end: usize, mut n: u64, width: usize) -> usize {
    let mut at = end;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 && end - at >= width {
            return at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(separator: Separator, rows: &[&[&str]]) -> String {
        let mut w = CsvWriter::new(Vec::new(), separator);
        for row in rows {
            w.write_row(row).expect("write");
        }
        String::from_utf8(w.into_inner().expect("flush")).expect("utf-8")
    }

    /// A minimal RFC 4180 reader, the test's independent view of the format.
    fn parse(input: &str, separator: char) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut chars = input.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            if quoted {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                } else {
                    field.push(c);
                }
            } else if c == '"' && field.is_empty() {
                quoted = true;
            } else if c == separator {
                row.push(std::mem::take(&mut field));
            } else if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            } else {
                field.push(c);
            }
        }
        assert!(field.is_empty() && row.is_empty(), "input must end with CRLF");
        rows
    }

    #[test]
    fn header_and_quoting() {
        let mut w = CsvWriter::new(Vec::new(), Separator::Comma);
        w.write_header().expect("header");
        w.write_cells(&[Cell::Text("a,b"), Cell::Text("say \"hi\""), Cell::Number(Decimal::new(1234, 2))])
            .expect("row");
        let out = String::from_utf8(w.into_inner().expect("flush")).expect("utf-8");
        assert_eq!(
            out,
            "month,user,email,cost_centre,workspace_id,workspace_name,product,instance_type,running_hours,\
             stopped_hours,compute_cost,storage_cost,total_cost,currency,running_seconds,storage_gib_seconds,\
             compute_rate,storage_rate,price_version,period_start,period_end,kind\r\n\"a,b\",\"say \"\"hi\"\"\",12.34\r\n"
        );
    }

    #[test]
    fn semicolon_separator_quotes_semicolons_not_commas() {
        assert_eq!(written(Separator::Semicolon, &[&["a;b", "c,d", "e"]]), "\"a;b\";c,d;e\r\n");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(
            written(Separator::Comma, &[&["=1+1", "+x", "-2", "@SUM(A1)", "\tx", "\rx", "a=b", ""]]),
            "'=1+1,'+x,'-2,'@SUM(A1),'\tx,\"'\rx\",a=b,\r\n"
        );
        // A formula hidden behind quoting is neutralised inside the quotes.
        assert_eq!(
            written(Separator::Comma, &[&["=HYPERLINK(\"x\",\"y\")"]]),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"\r\n"
        );
    }

    #[test]
    fn months_are_written_as_yyyy_mm() {
        let mut w = CsvWriter::new(Vec::new(), Separator::Comma);
        w.write_cells(&[
            Cell::Month(Month::new(2026, 3).expect("month")),
            Cell::Month(Month::new(-5, 11).expect("month")),
        ])
        .expect("row");
        assert_eq!(w.into_inner().expect("flush"), b"2026-03,'-005-11\r\n");
    }

    #[test]
    fn numbers_are_not_neutralised() {
        let mut w = CsvWriter::new(Vec::new(), Separator::Comma);
        w.write_cells(&[Cell::Number(Decimal::new(-5, 1)), Cell::Number(Decimal::ZERO)]).expect("row");
        assert_eq!(w.into_inner().expect("flush"), b"-0.5,0\r\n");
    }

    proptest! {
        #[test]
        fn numbers_are_written_as_decimal_displays_them(
            lo in any::<u32>(), mid in any::<u32>(), hi in any::<u32>(), negative in any::<bool>(), scale in 0u32..=28,
            small in any::<bool>(),
        ) {
            let n = if small {
                Decimal::new(i64::from(lo) * if negative { -1 } else { 1 }, scale)
            } else {
                Decimal::from_parts(lo, mid, hi, negative, scale)
            };
            let mut line = String::new();
            push_decimal(&mut line, n);
            prop_assert_eq!(line, n.to_string());
        }

        #[test]
        fn rows_round_trip_and_no_cell_starts_with_a_trigger(
            rows in prop::collection::vec(prop::collection::vec("[=+\\-@\t\r\n\",; a-zé']{0,8}|\\PC{0,6}", 1..6), 1..5),
            semicolon in any::<bool>(),
        ) {
            let separator = if semicolon { Separator::Semicolon } else { Separator::Comma };
            let borrowed: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().map(String::as_str).collect()).collect();
            let refs: Vec<&[&str]> = borrowed.iter().map(Vec::as_slice).collect();
            let out = written(separator, &refs);
            let parsed = parse(&out, separator.as_char());
            prop_assert_eq!(parsed.len(), rows.len());
            for (original, read) in rows.iter().zip(&parsed) {
                prop_assert_eq!(original.len(), read.len());
                for (o, r) in original.iter().zip(read) {
                    prop_assert!(!starts_with_trigger(r), "cell starts with a trigger: {:?}", r);
                    let restored = if starts_with_trigger(o) {
                        r.strip_prefix('\'').expect("neutralised cells start with a quote")
                    } else {
                        r.as_str()
                    };
                    prop_assert_eq!(restored, o.as_str());
                }
            }
        }
    }
}
