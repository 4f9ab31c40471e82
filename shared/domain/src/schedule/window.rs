//! Weekly windows and the table the decisions read.

use std::fmt;

use jiff::civil::{Time, Weekday};

/// Seconds in a civil day: window arithmetic is done in wall-clock seconds, where every day
/// has 86,400 of them; DST is dealt with only when wall-clock times become instants.
pub(crate) const DAY: i32 = 86_400;

/// Seconds in a civil week, the period of the window pattern.
const WEEK: i32 = 7 * DAY;

/// Wire names of the days, Monday first (index = [`Weekday::to_monday_zero_offset`]).
pub(crate) const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Index of `day` in a Monday-first week, 0..=6.
pub(crate) fn day_index(day: Weekday) -> usize {
    // `to_monday_zero_offset` is always in 0..=6, so the cast cannot wrap.
    day.to_monday_zero_offset() as usize
}

/// A set of weekdays. A bitmask (bit 0 = Monday) so that membership is one AND on the
/// decision path.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Days(u8);

impl Days {
    /// Monday to Friday.
    pub const WEEKDAYS: Days = Days(0b001_1111);
    /// Every day of the week.
    pub const ALL: Days = Days(0b111_1111);

    /// No day.
    pub const fn empty() -> Self {
        Days(0)
    }

    /// This set plus `day`.
    pub fn with(self, day: Weekday) -> Self {
        Days(self.0 | 1 << day_index(day))
    }

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.contains_index(day_index(day))
    }

    fn contains_index(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    /// Whether the set has no day.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The days in the set, Monday first.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        (0..7usize).filter(move |&i| self.contains_index(i)).map(weekday_at)
    }

    /// The wire names of the days in the set, Monday first.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        (0..7usize).filter(move |&i| self.contains_index(i)).map(|i| DAY_NAMES[i])
    }
}

/// The weekday at `index` in a Monday-first week (taken modulo 7).
pub(crate) fn weekday_at(index: usize) -> Weekday {
    const WEEK_DAYS: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    WEEK_DAYS[index % 7]
}

impl fmt::Debug for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// One weekly window as the user wrote it: it opens at `start` (local time) on each of its
/// `days` and closes at `end` the same day, or the next day when `end` is not after `start`
/// (so `22:00`-`06:00` crosses midnight and `09:00`-`09:00` lasts 24 hours).
///
/// Built only by validating a [`super::WindowSpec`], which guarantees at least one day and
/// whole-minute times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    days: Days,
    start: Time,
    end: Time,
}

impl Window {
    pub(crate) fn new(days: Days, start: Time, end: Time) -> Self {
        Self { days, start, end }
    }

    /// The days the window opens on.
    pub fn days(&self) -> Days {
        self.days
    }

    /// The local time the window opens.
    pub fn start(&self) -> Time {
        self.start
    }

    /// The local time the window closes (the next day when [`Window::crosses_midnight`]).
    pub fn end(&self) -> Time {
        self.end
    }

    /// Whether the window closes the day after it opens.
    pub fn crosses_midnight(&self) -> bool {
        self.end <= self.start
    }

    /// Opening time in seconds after local midnight.
    pub(crate) fn start_secs(&self) -> i32 {
        secs_of_day(self.start)
    }

    /// Length in wall-clock seconds, in 1..=86,400.
    pub(crate) fn duration_secs(&self) -> i32 {
        let (start, end) = (secs_of_day(self.start), secs_of_day(self.end));
        if end > start { end - start } else { end + DAY - start }
    }
}

/// Seconds after midnight of a civil time, sub-seconds dropped (window bounds are whole
/// minutes, so dropping them never changes a comparison with a bound).
pub(crate) fn secs_of_day(time: Time) -> i32 {
    i32::from(time.hour()) * 3600 + i32::from(time.minute()) * 60 + i32::from(time.second())
}

/// Formats a time as the wire's `HH:MM`.
pub(crate) fn hhmm(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

/// The first pair of windows (by index) that overlap on some day, with the opening day of
/// each occurrence, or `None`. Windows that merely touch (one closes as the other opens) do
/// not overlap.
pub(crate) fn find_overlap(windows: &[Window]) -> Option<(usize, Weekday, usize, Weekday)> {
    for (i, a) in windows.iter().enumerate() {
        for (j, b) in windows.iter().enumerate().skip(i + 1) {
            for day_a in a.days.iter() {
                for day_b in b.days.iter() {
                    // Positions in the (circular) week, in seconds.
                    let open_a = day_index(day_a) as i32 * DAY + a.start_secs();
                    let open_b = day_index(day_b) as i32 * DAY + b.start_secs();
                    if (open_b - open_a).rem_euclid(WEEK) < a.duration_secs()
                        || (open_a - open_b).rem_euclid(WEEK) < b.duration_secs()
                    {
                        return Some((i, day_a, j, day_b));
                    }
                }
            }
        }
    }
    None
}

/// One window occurrence as wall-clock seconds relative to the midnight of the day it opens:
/// `start` in 0..86,400 and `end` in (`start`, `start` + 86,400].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) start: i32,
    pub(crate) end: i32,
}

/// The windows regrouped by opening weekday, built once at validation so a decision only
/// scans the handful of entries opening on two weekdays, with no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WeeklyTable {
    /// Entries grouped by weekday (Monday first), sorted by `start` within a day.
    entries: Box<[Entry]>,
    /// `entries[bounds[d]..bounds[d + 1]]` open on weekday `d`.
    bounds: [usize; 8],
}

impl WeeklyTable {
    /// Regroups non-overlapping `windows` by weekday.
    ///
    /// Entries of one day that touch are merged when the result still lasts at most a day,
    /// which keeps the invariant the decisions rely on: an occurrence opening on day `d`
    /// has closed by the end of day `d + 1`.
    pub(crate) fn build(windows: &[Window]) -> Self {
        let mut entries: Vec<Entry> = Vec::new();
        let mut bounds = [0; 8];
        for day in 0..7 {
            let mut today: Vec<Entry> = windows
                .iter()
                .filter(|window| window.days.contains_index(day))
                .map(|window| Entry { start: window.start_secs(), end: window.start_secs() + window.duration_secs() })
                .collect();
            today.sort_unstable_by_key(|entry| entry.start);
            let first = entries.len();
            for entry in today {
                let touches = entries.len() > first
                    && entries.last().is_some_and(|last| last.end == entry.start && entry.end - last.start <= DAY);
                match entries.last_mut() {
                    Some(last) if touches => last.end = entry.end,
                    _ => entries.push(entry),
                }
            }
            bounds[day + 1] = entries.len();
        }
        Self { entries: entries.into_boxed_slice(), bounds }
    }

    /// Whether there is no window at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries opening on weekday `day` (0 = Monday), sorted by start.
    pub(crate) fn opening_on(&self, day: usize) -> &[Entry] {
        match (self.bounds.get(day), self.bounds.get(day + 1)) {
            (Some(&from), Some(&to)) => &self.entries[from..to],
            _ => &[],
        }
    }
}
