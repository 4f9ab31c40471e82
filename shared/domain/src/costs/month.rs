//! Calendar months for reports, and splitting intervals at month boundaries.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::interval::Interval;
use crate::kernel::DomainError;

/// Where months begin and end: the one setting that decides which month an hour belongs to.
///
/// `Utc` (the default) matches AWS billing and Cost Explorer, so estimates and actuals line
/// up. `Zone` makes months follow the organisation's local calendar (e.g. `Europe/Paris`:
/// March starts at 00:00 local time on 1 March), which finance teams sometimes prefer.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum MonthBoundary {
    /// Months begin at 00:00 UTC on the first.
    #[default]
    Utc,
    /// Months begin at 00:00 local time on the first, in this IANA zone.
    Zone(TimeZone),
}

impl MonthBoundary {
    /// The zone month boundaries are drawn in.
    pub fn time_zone(&self) -> TimeZone {
        match self {
            MonthBoundary::Utc => TimeZone::UTC,
            MonthBoundary::Zone(tz) => tz.clone(),
        }
    }
}

/// A calendar month, e.g. `2025-03`. Ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i16,
    month: i8,
}

impl Month {
    /// The month `year`-`month`, if `month` is 1–12 and the year is one jiff can represent.
    pub fn new(year: i16, month: i8) -> Option<Month> {
        (Date::new(year, month, 1).is_ok()).then_some(Month { year, month })
    }

    /// The year.
    pub fn year(self) -> i16 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> i8 {
        self.month
    }

    /// Parses `YYYY-MM` as asked for in a report request. Malformed months and months that
    /// have not begun yet at `now` (under `boundary`) are refused as unprocessable: there
    /// is nothing to report for them, and an empty report would look like a real one.
    pub fn parse(value: &str, now: Timestamp, boundary: &MonthBoundary) -> Result<Month, DomainError> {
        let parsed = Month::parse_field(value, "month")?;
        if parsed > Month::containing(now, boundary) {
            return Err(DomainError::unprocessable("month", format!("{parsed} has not begun yet")));
        }
        Ok(parsed)
    }

    /// Parses `YYYY-MM`, any month (past or future); malformed is unprocessable on `field`.
    pub fn parse_field(value: &str, field: &str) -> Result<Month, DomainError> {
        let malformed = || DomainError::unprocessable(field, format!("expected a month as YYYY-MM, got {value:?}"));
        let bytes = value.as_bytes();
        if bytes.len() != 7 || bytes[4] != b'-' || !bytes.iter().enumerate().all(|(i, b)| i == 4 || b.is_ascii_digit())
        {
            return Err(malformed());
        }
        let year: i16 = value[..4].parse().map_err(|_| malformed())?;
        let month: i8 = value[5..].parse().map_err(|_| malformed())?;
        Month::new(year, month).ok_or_else(malformed)
    }

    /// The month `t` falls in under `boundary`.
    pub fn containing(t: Timestamp, boundary: &MonthBoundary) -> Month {
        let date = t.to_zoned(boundary.time_zone()).date();
        Month { year: date.year(), month: date.month() }
    }

    /// The following month, if representable.
    pub fn next(self) -> Option<Month> {
        if self.month == 12 { Month::new(self.year.checked_add(1)?, 1) } else { Month::new(self.year, self.month + 1) }
    }

    /// The month before, if representable.
    pub fn previous(self) -> Option<Month> {
        if self.month == 1 { Month::new(self.year.checked_sub(1)?, 12) } else { Month::new(self.year, self.month - 1) }
    }

    /// The instant the month begins under `boundary` (00:00 on the first; when a DST gap
    /// swallows that midnight, the first instant after it). `None` outside jiff's range.
    pub fn start(self, boundary: &MonthBoundary) -> Option<Timestamp> {
        let date = Date::new(self.year, self.month, 1).ok()?;
        Some(date.to_zoned(boundary.time_zone()).ok()?.timestamp())
    }

    /// The instant the month ends (exclusive): the start of the next month.
    pub fn end(self, boundary: &MonthBoundary) -> Option<Timestamp> {
        self.next()?.start(boundary)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Splits `interval` at every month boundary it crosses, so no interval spanning a month
/// boundary is lost or counted in the wrong month. The pieces are in order, contiguous,
/// each inside its month, and their durations add up to the whole. An empty interval
/// yields no pieces.
pub fn split_by_month(interval: &Interval, boundary: &MonthBoundary) -> Vec<(Month, Interval)> {
    let mut out = Vec::new();
    let mut start = interval.start;
    let mut month = Month::containing(start, boundary);
    while start < interval.end {
        // At the very end of jiff's range there is no next month: the rest stays in this one.
        let end = month.end(boundary).map_or(interval.end, |e| e.min(interval.end));
        out.push((month, interval.with_bounds(start, end)));
        start = end;
        match month.next() {
            Some(next) => month = next,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::interval::Usage;
    use crate::kernel::WorkspaceId;
    use proptest::prelude::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn interval(start: Timestamp, end: Timestamp) -> Interval {
        Interval {
            workspace_id: WorkspaceId::parse("ws-0123456789abcdefghjkmnpqrs").expect("id"),
            usage: Usage::Running,
            start,
            end,
        }
    }

    fn paris() -> MonthBoundary {
        MonthBoundary::Zone(TimeZone::get("Europe/Paris").expect("zone"))
    }

    #[test]
    fn parse_accepts_past_and_current_months_only() {
        let now = t("2025-03-15T12:00:00Z");
        let utc = MonthBoundary::Utc;
        assert_eq!(Month::parse("2025-03", now, &utc).expect("current").to_string(), "2025-03");
        assert_eq!(Month::parse("1999-12", now, &utc).expect("past"), Month::new(1999, 12).expect("month"));
        for bad in
            ["2025-04", "2025-3", "2025-13", "2025-00", "25-03", "2025/03", "+025-03", "2025-03-01", "", "２０２５-03"]
        {
            let err = Month::parse(bad, now, &utc).expect_err(bad);
            assert!(matches!(err, DomainError::Unprocessable { ref field, .. } if field == "month"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_current_month_depends_on_the_boundary() {
        // 23:30 UTC on 31 March is already April in Paris.
        let now = t("2025-03-31T23:30:00Z");
        assert!(Month::parse("2025-04", now, &MonthBoundary::Utc).is_err());
        assert!(Month::parse("2025-04", now, &paris()).is_ok());
    }

    #[test]
    fn splits_at_utc_and_local_midnights() {
        let whole = interval(t("2025-01-31T22:00:00Z"), t("2025-03-01T01:00:00Z"));
        let utc = split_by_month(&whole, &MonthBoundary::Utc);
        let bounds: Vec<_> = utc.iter().map(|(m, i)| (m.to_string(), i.start, i.end)).collect();
        assert_eq!(
            bounds,
            vec![
                ("2025-01".to_owned(), t("2025-01-31T22:00:00Z"), t("2025-02-01T00:00:00Z")),
                ("2025-02".to_owned(), t("2025-02-01T00:00:00Z"), t("2025-03-01T00:00:00Z")),
                ("2025-03".to_owned(), t("2025-03-01T00:00:00Z"), t("2025-03-01T01:00:00Z")),
            ]
        );
        // In Paris (UTC+1 in winter) February starts at 23:00 UTC on 31 January.
        let local = split_by_month(&whole, &paris());
        let bounds: Vec<_> = local.iter().map(|(m, i)| (m.to_string(), i.start, i.end)).collect();
        assert_eq!(
            bounds,
            vec![
                ("2025-01".to_owned(), t("2025-01-31T22:00:00Z"), t("2025-01-31T23:00:00Z")),
                ("2025-02".to_owned(), t("2025-01-31T23:00:00Z"), t("2025-02-28T23:00:00Z")),
                ("2025-03".to_owned(), t("2025-02-28T23:00:00Z"), t("2025-03-01T01:00:00Z")),
            ]
        );
        assert!(split_by_month(&interval(whole.start, whole.start), &MonthBoundary::Utc).is_empty());
    }

    fn boundary() -> impl Strategy<Value = MonthBoundary> {
        prop::sample::select(vec!["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"])
            .prop_map(|name| {
                if name == "UTC" { MonthBoundary::Utc } else { MonthBoundary::Zone(TimeZone::get(name).expect("zone")) }
            })
    }

    proptest! {
        #[test]
        fn pieces_add_up_and_stay_in_their_months(
            start in 946_684_800i64..2_208_988_800,
            nanos in 0i32..1_000_000_000,
            length in 0i64..40_000_000,
            boundary in boundary(),
        ) {
            let start = Timestamp::new(start, nanos).expect("in range");
            let end = Timestamp::from_second(start.as_second() + length).expect("in range");
            let whole = interval(start, end);
            let pieces = split_by_month(&whole, &boundary);
            let total: i128 = pieces.iter().map(|(_, i)| i.duration_nanos()).sum();
            prop_assert_eq!(total, whole.duration_nanos().max(0));
            let mut cursor = start;
            for (month, piece) in &pieces {
                prop_assert_eq!(piece.start, cursor);
                prop_assert!(piece.start < piece.end);
                prop_assert!(month.start(&boundary).expect("start") <= piece.start);
                prop_assert!(piece.end <= month.end(&boundary).expect("end"));
                prop_assert_eq!(Month::containing(piece.start, &boundary), *month);
                cursor = piece.end;
            }
            if !pieces.is_empty() {
                prop_assert_eq!(cursor, end);
            }
        }
    }
}
