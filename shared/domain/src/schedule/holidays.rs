//! Public holidays: days on which no window opens.
//!
//! Calendars are computed, not tabulated, so they work for any year without a data update
//! (the Easter-based French holidays move every year).

use jiff::civil::Date;

/// A public-holiday calendar the project ships, named on the wire by [`Calendar::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Calendar {
    /// French (metropolitan) public holidays: 1 Jan, Easter Monday, 1 May, 8 May, Ascension,
    /// Whit Monday, 14 July, 15 Aug, 1 Nov, 11 Nov, 25 Dec. Alsace-Moselle's two extra days
    /// (Good Friday, 26 Dec) are not included.
    Fr,
}

/// Fixed-date French holidays as (month, day).
const FR_FIXED: [(i8, i8); 8] = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)];

/// Days after Easter Sunday of the Easter-based French holidays: Easter Monday, Ascension
/// Thursday, Whit Monday.
const FR_AFTER_EASTER: [i16; 3] = [1, 39, 50];

impl Calendar {
    /// Every calendar, for error messages and documentation.
    pub const ALL: &'static [Calendar] = &[Calendar::Fr];

    /// The calendar called `name` on the wire (`"fr"`), if the project ships it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|calendar| calendar.name() == name)
    }

    /// The wire name of this calendar.
    pub fn name(self) -> &'static str {
        match self {
            Calendar::Fr => "fr",
        }
    }

    /// Whether `date` is a public holiday in this calendar.
    ///
    /// Called on the decision hot path, so it allocates nothing: fixed dates are compared
    /// directly and Easter is recomputed (a handful of integer operations) only for dates in
    /// March-June, the only months an Easter-based holiday can fall in.
    pub fn is_holiday(self, date: Date) -> bool {
        match self {
            Calendar::Fr => {
                if FR_FIXED.contains(&(date.month(), date.day())) {
                    return true;
                }
                // Easter Monday is 23 Mar at the earliest, Whit Monday 14 June at the latest.
                if !(3..=6).contains(&date.month()) {
                    return false;
                }
                let Some(easter) = easter_sunday(date.year()) else { return false };
                FR_AFTER_EASTER.contains(&(date.day_of_year() - easter.day_of_year()))
            }
        }
    }

    /// This calendar's holidays in `year`, in date order (for previews and tests).
    pub fn holidays(self, year: i16) -> Vec<Date> {
        match self {
            Calendar::Fr => {
                let mut days: Vec<Date> =
                    FR_FIXED.iter().filter_map(|&(month, day)| Date::new(year, month, day).ok()).collect();
                if let Some(easter) = easter_sunday(year) {
                    days.extend(
                        FR_AFTER_EASTER
                            .iter()
                            .filter_map(|&after| easter.checked_add(jiff::Span::new().days(after)).ok()),
                    );
                }
                days.sort_unstable();
                days
            }
        }
    }
}

/// Easter Sunday of `year` in the Gregorian calendar (the anonymous "Meeus/Jones/Butcher"
/// algorithm), or `None` for a year jiff cannot represent.
pub fn easter_sunday(year: i16) -> Option<Date> {
    let y = i32::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// The holidays of a schedule: none, a shipped calendar, or an explicit list of dates.
///
/// The explicit list is kept sorted and free of duplicates so lookups are a binary search;
/// that is why it can only be built through [`Holidays::dates`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holidays(Repr);

#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Repr {
    #[default]
    None,
    Calendar(Calendar),
    Dates(Box<[Date]>),
}

impl Holidays {
    /// No holidays: every window opens on every one of its days.
    pub fn none() -> Self {
        Self(Repr::None)
    }

    /// The holidays of a shipped calendar.
    pub fn calendar(calendar: Calendar) -> Self {
        Self(Repr::Calendar(calendar))
    }

    /// An explicit list of dates, sorted and deduplicated here.
    pub fn dates(dates: impl IntoIterator<Item = Date>) -> Self {
        let mut dates: Vec<Date> = dates.into_iter().collect();
        dates.sort_unstable();
        dates.dedup();
        Self(Repr::Dates(dates.into_boxed_slice()))
    }

    /// Whether no date is ever a holiday.
    pub fn is_none(&self) -> bool {
        matches!(self.0, Repr::None)
    }

    /// The shipped calendar, when the holidays are one.
    pub fn as_calendar(&self) -> Option<Calendar> {
        match self.0 {
            Repr::Calendar(calendar) => Some(calendar),
            _ => None,
        }
    }

    /// The explicit dates (sorted, deduplicated), when the holidays are a list.
    pub fn as_dates(&self) -> Option<&[Date]> {
        match &self.0 {
            Repr::Dates(dates) => Some(dates),
            _ => None,
        }
    }

    /// Whether `date` is a holiday, i.e. no window opens on it.
    pub fn contains(&self, date: Date) -> bool {
        match &self.0 {
            Repr::None => false,
            Repr::Calendar(calendar) => calendar.is_holiday(date),
            Repr::Dates(dates) => dates.binary_search(&date).is_ok(),
        }
    }
}
