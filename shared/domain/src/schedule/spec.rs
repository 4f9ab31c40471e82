//! The wire format of a schedule and its validation into a [`Schedule`].
//!
//! [`ScheduleSpec`] is what the API and the store exchange: plain strings, so that every
//! mistake can be reported against the precise field (`windows[1].start`) with a message a
//! user understands, rather than whatever a time parser says.

use std::fmt;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::holidays::{Calendar, Holidays};
use super::window::{DAY_NAMES, Days, WeeklyTable, Window, day_index, find_overlap, hhmm, weekday_at};
use super::{OutsideAction, Schedule};
use crate::DomainError;

/// Most windows a schedule may have: bounds the (quadratic) overlap check and the record size.
pub const MAX_WINDOWS: usize = 32;

/// Most explicit holiday dates a schedule may list: bounds the record size.
pub const MAX_HOLIDAYS: usize = 1000;

/// A schedule as written on the wire, before validation:
/// `{"timezone":"Europe/Paris","windows":[{"days":["mon"],"start":"09:00","end":"18:00"}],
/// "holidays":null,"outside":"stop","enabled":true}`.
///
/// A missing field takes the default schedule's value ([`ScheduleSpec::default`]); an
/// unknown field is refused. Turn it into a [`Schedule`] with `Schedule::try_from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ScheduleSpec {
    /// IANA time zone the windows are expressed in, e.g. `Europe/Paris`.
    pub timezone: String,
    /// Weekly windows during which the machine should run.
    pub windows: Vec<WindowSpec>,
    /// Days on which no window opens: `null`, a calendar name (`"fr"`) or a list of ISO dates.
    pub holidays: Option<HolidaysSpec>,
    /// What to do with the machine outside the windows.
    pub outside: OutsideAction,
    /// Whether the scheduler acts on this schedule at all.
    pub enabled: bool,
}

impl Default for ScheduleSpec {
    /// Weekdays 09:00-18:00 Europe/Paris, stopped outside, no holidays, enabled.
    fn default() -> Self {
        Self {
            timezone: "Europe/Paris".to_owned(),
            windows: vec![WindowSpec {
                days: DAY_NAMES[..5].iter().map(|&day| day.to_owned()).collect(),
                start: "09:00".to_owned(),
                end: "18:00".to_owned(),
            }],
            holidays: None,
            outside: OutsideAction::Stop,
            enabled: true,
        }
    }
}

/// One weekly window on the wire: `{"days":["mon","tue"],"start":"09:00","end":"18:00"}`.
///
/// `days` are the days the window opens; an `end` not after `start` closes the next day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowSpec {
    /// Days the window opens, as `mon`..`sun`.
    pub days: Vec<String>,
    /// Opening local time, `HH:MM` (24-hour, two digits each).
    pub start: String,
    /// Closing local time, `HH:MM`; not after `start` means the next day.
    pub end: String,
}

/// The `holidays` field on the wire: a calendar name or a list of ISO dates (`null` is the
/// absence of the field's `Option`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum HolidaysSpec {
    /// A calendar the project ships, e.g. `"fr"`.
    Calendar(String),
    /// Explicit dates, `YYYY-MM-DD`.
    Dates(Vec<String>),
}

/// Hand-written so a wrong type gets a message naming the two accepted shapes, where serde's
/// untagged enums only say "did not match any variant".
impl<'de> Deserialize<'de> for HolidaysSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HolidaysVisitor;

        impl<'de> Visitor<'de> for HolidaysVisitor {
            type Value = HolidaysSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null, a calendar name such as \"fr\", or a list of dates such as [\"2026-12-24\"]")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<HolidaysSpec, E> {
                Ok(HolidaysSpec::Calendar(name.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HolidaysSpec, A::Error> {
                let mut dates = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_HOLIDAYS));
                while let Some(date) = seq.next_element::<String>()? {
                    dates.push(date);
                }
                Ok(HolidaysSpec::Dates(dates))
            }
        }

        deserializer.deserialize_any(HolidaysVisitor)
    }
}

impl TryFrom<ScheduleSpec> for Schedule {
    type Error = DomainError;

    /// Validates `spec`; every error is [`DomainError::Unprocessable`] naming the field.
    fn try_from(spec: ScheduleSpec) -> Result<Self, DomainError> {
        Schedule::validate(&spec)
    }
}

impl From<&Schedule> for ScheduleSpec {
    fn from(schedule: &Schedule) -> Self {
        let holidays = if let Some(calendar) = schedule.holidays.as_calendar() {
            Some(HolidaysSpec::Calendar(calendar.name().to_owned()))
        } else {
            schedule.holidays.as_dates().map(|dates| HolidaysSpec::Dates(dates.iter().map(Date::to_string).collect()))
        };
        Self {
            timezone: schedule.timezone_name.clone(),
            windows: schedule
                .windows
                .iter()
                .map(|window| WindowSpec {
                    days: window.days().names().map(str::to_owned).collect(),
                    start: hhmm(window.start()),
                    end: hhmm(window.end()),
                })
                .collect(),
            holidays,
            outside: schedule.outside,
            enabled: schedule.enabled,
        }
    }
}

impl Schedule {
    /// Validates a wire schedule (see [`ScheduleSpec`]); same as `Schedule::try_from(spec)`.
    pub fn validate(spec: &ScheduleSpec) -> Result<Self, DomainError> {
        let timezone = TimeZone::get(&spec.timezone).map_err(|_| {
            DomainError::unprocessable(
                "timezone",
                format!("unknown time zone \"{}\"; expected an IANA name such as Europe/Paris", spec.timezone),
            )
        })?;
        // The canonical spelling, so what is stored and shown does not depend on the input's case.
        let timezone_name = timezone.iana_name().unwrap_or(&spec.timezone).to_owned();

        if spec.windows.len() > MAX_WINDOWS {
            return Err(DomainError::unprocessable("windows", format!("at most {MAX_WINDOWS} windows are allowed")));
        }
        let windows = spec
            .windows
            .iter()
            .enumerate()
            .map(|(i, window)| parse_window(i, window))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some((i, day_i, j, day_j)) = find_overlap(&windows) {
            let describe = |index: usize, day: jiff::civil::Weekday| {
                let window = &windows[index];
                let name = DAY_NAMES[day_index(day)];
                format!("windows[{index}] ({name} {}-{})", hhmm(window.start()), hhmm(window.end()))
            };
            return Err(DomainError::unprocessable(
                "windows",
                format!("{} overlaps {}; windows may touch but not overlap", describe(i, day_i), describe(j, day_j)),
            ));
        }

        let holidays = match &spec.holidays {
            None => Holidays::none(),
            Some(HolidaysSpec::Calendar(name)) => Holidays::calendar(Calendar::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Calendar::ALL.iter().map(|calendar| calendar.name()).collect();
                DomainError::unprocessable(
                    "holidays",
                    format!("unknown holiday calendar \"{name}\"; expected one of {}", known.join(", ")),
                )
            })?),
            Some(HolidaysSpec::Dates(dates)) => {
                if dates.len() > MAX_HOLIDAYS {
                    return Err(DomainError::unprocessable(
                        "holidays",
                        format!("at most {MAX_HOLIDAYS} holiday dates are allowed"),
                    ));
                }
                let parsed = dates
                    .iter()
                    .enumerate()
                    .map(|(i, date)| {
                        parse_date(date).ok_or_else(|| {
                            DomainError::unprocessable(
                                format!("holidays[{i}]"),
                                format!("\"{date}\" is not a date; expected YYYY-MM-DD"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Holidays::dates(parsed)
            }
        };

        Ok(Self {
            table: WeeklyTable::build(&windows),
            timezone,
            timezone_name,
            windows,
            holidays,
            outside: spec.outside,
            enabled: spec.enabled,
            override_until: None,
        })
    }
}

fn parse_window(index: usize, spec: &WindowSpec) -> Result<Window, DomainError> {
    let mut days = Days::empty();
    for (d, name) in spec.days.iter().enumerate() {
        let Some(day) = DAY_NAMES.iter().position(|&known| known == name) else {
            return Err(DomainError::unprocessable(
                format!("windows[{index}].days[{d}]"),
                format!("unknown day \"{name}\"; expected one of {}", DAY_NAMES.join(", ")),
            ));
        };
        days = days.with(weekday_at(day));
    }
    if days.is_empty() {
        return Err(DomainError::unprocessable(format!("windows[{index}].days"), "name at least one day"));
    }
    let time = |field: &str, text: &str| {
        parse_hhmm(text).ok_or_else(|| {
            DomainError::unprocessable(
                format!("windows[{index}].{field}"),
                format!("\"{text}\" is not a time; expected HH:MM between 00:00 and 23:59"),
            )
        })
    };
    let start = time("start", &spec.start)?;
    let end = time("end", &spec.end)?;
    Ok(Window::new(days, start, end))
}

/// Parses exactly `HH:MM` (two digits each, 00:00-23:59): a lenient parser would let "9:00"
/// or "24:00" through and the user would never learn the intended meaning.
fn parse_hhmm(text: &str) -> Option<Time> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    let two_digits = |hi: u8, lo: u8| -> Option<i8> {
        (hi.is_ascii_digit() && lo.is_ascii_digit()).then(|| ((hi - b'0') * 10 + (lo - b'0')) as i8)
    };
    let hour = two_digits(bytes[0], bytes[1])?;
    let minute = two_digits(bytes[3], bytes[4])?;
    Time::new(hour, minute, 0, 0).ok()
}

/// Parses exactly `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    text.parse().ok()
}
