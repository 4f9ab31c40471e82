//! Schedules: when a workspace runs, and the scheduler that acts on it.
//!
//! Owns the pure schedule (this module and its private files: what a schedule is, and
//! whether a workspace should be running at a given instant), its ports ([`ports`]: the
//! organisation default, the scheduler's progress), the schedule edits the API exposes
//! ([`edits`]) and the scheduler tick ([`scheduler`]), which starts and stops workspaces at
//! their windows' transitions.
//!
//! May use: the kernel. The edits and the tick also use workspaces (they change workspaces
//! through its writer); the pure part uses nothing but the kernel, so that a workspace can
//! carry its schedule.
//!
//! A [`Schedule`] says, in an IANA time zone, during which weekly windows a machine runs
//! (default: weekdays 09:00-18:00 Europe/Paris), which days are holidays (no window opens on
//! them), what happens outside the windows ([`OutsideAction`]), whether the scheduler acts
//! at all, and an optional [`Override`] ("keep running until").
//!
//! The decisions are pure functions of a schedule and an instant, so the scheduled function
//! can replay any instant (it takes it from the triggering event, not the wall clock):
//!
//! - [`desired`]: should the machine be running at `t`?
//! - [`next_transition`]: the first instant after `t` where that answer changes; the scheduler
//!   acts only on those, so a user who stops early or starts late is left alone.
//! - [`transitions`]: the next few of them, for a preview.
//!
//! **A disabled schedule has no opinion**: `desired` returns `None` and there are no
//! transitions, so a caller cannot mistake "disabled" for "should be stopped".
//!
//! Time semantics: a window bound takes effect at the first instant the zone's wall clock
//! reads that time or later. On the day clocks skip 02:00-03:00 a window opening at 02:30 thus
//! opens at 03:00; in the repeated hour a bound takes effect the first time it is read. See
//! `clock.rs` for why. Windows that touch (one closes as another opens, on the same day or
//! across midnight) form one run with no transition at the seam; a holiday can split a run.

mod clock;
pub mod edits;
mod holidays;
mod overrides;
pub mod ports;
pub mod scheduler;
mod spec;
#[cfg(test)]
mod tests;
mod window;

use std::fmt::Display;

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use holidays::{Calendar, Holidays, easter_sunday};
pub use overrides::{DEFAULT_MAX_OVERRIDE, Override, OverrideSpec};
pub use spec::{HolidaysSpec, MAX_HOLIDAYS, MAX_WINDOWS, ScheduleSpec, WindowSpec};
pub use window::{Days, Window};

pub use edits::Schedules;
pub use ports::{ScheduleDefaults, SchedulerRuns};
pub use scheduler::{Scheduler, SchedulerReport};

use crate::kernel::DomainError;
use clock::{first_instant_at_or_after, wall_high_water};
use window::{DAY, WeeklyTable, day_index, secs_of_day};

/// Most transitions [`transitions`] returns: a preview, not a calendar export.
pub const MAX_PREVIEW: usize = 100;

/// How many days ahead [`next_transition`] looks. A year and a month: every pattern repeats
/// weekly, so only holidays (at most yearly) can make the next change further away, and a
/// machine continuously running or stopped for longer is treated as never changing.
pub const HORIZON_DAYS: u32 = 400;

/// What the scheduler does with a machine outside its windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutsideAction {
    /// Stop the instance.
    #[default]
    Stop,
    /// Hibernate the instance (memory kept on disk), for products that support it.
    Hibernate,
}

/// Whether a machine should be running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Desired {
    /// Inside a window or an override.
    Running,
    /// Outside every window; the schedule's [`OutsideAction`] says how to stop it.
    Stopped,
}

/// A change of the desired state: from `at` on, the machine should be `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    /// The first instant of the new state.
    pub at: Timestamp,
    /// The new state.
    pub to: Desired,
}

/// A validated schedule.
///
/// Build it from the wire with [`Schedule::parse`] or `Schedule::try_from(ScheduleSpec)`; it
/// serializes back to the same wire shape ([`ScheduleSpec`]), without the override, which
/// travels on its own (see [`Override`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    timezone: TimeZone,
    timezone_name: String,
    /// As the user wrote them (normalized), for serialization.
    windows: Vec<Window>,
    /// The same windows regrouped for the decisions.
    table: WeeklyTable,
    holidays: Holidays,
    outside: OutsideAction,
    enabled: bool,
    override_until: Option<Override>,
}

impl Default for Schedule {
    /// Weekdays 09:00-18:00 Europe/Paris, stopped outside, no holidays, enabled.
    fn default() -> Self {
        Self::validate(&ScheduleSpec::default()).expect("the default schedule is a valid literal")
    }
}

impl Schedule {
    /// Parses and validates a wire schedule from any serde input (a `serde_json::Value`,
    /// a JSON deserializer...). Every error is [`DomainError::Unprocessable`] naming the
    /// field: `timezone`, `windows[1].start`, `windows[0].days[2]`, `windows` (overlap),
    /// `holidays[3]`, `holidays` (unknown calendar), or `schedule` for the body as a whole.
    pub fn parse<'de, D: Deserializer<'de>>(input: D) -> Result<Self, DomainError> {
        let spec: ScheduleSpec =
            serde_path_to_error::deserialize(input).map_err(|error| serde_error(error, "schedule"))?;
        Self::validate(&spec)
    }

    /// The time zone the windows are expressed in.
    pub fn timezone(&self) -> &TimeZone {
        &self.timezone
    }

    /// The IANA name of the time zone, as stored.
    pub fn timezone_name(&self) -> &str {
        &self.timezone_name
    }

    /// The weekly windows, in the order given.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// The days on which no window opens.
    pub fn holidays(&self) -> &Holidays {
        &self.holidays
    }

    /// What to do with the machine outside the windows.
    pub fn outside(&self) -> OutsideAction {
        self.outside
    }

    /// Whether the scheduler acts on this schedule; when not, the decisions have no opinion.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The "keep running until" override, if any (possibly expired).
    pub fn override_until(&self) -> Option<Override> {
        self.override_until
    }

    /// This schedule with `value` as its override (`None` removes it).
    pub fn with_override(mut self, value: Option<Override>) -> Self {
        self.override_until = value;
        self
    }

    /// The wire form of this schedule (without the override).
    pub fn to_spec(&self) -> ScheduleSpec {
        ScheduleSpec::from(self)
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_spec().serialize(serializer)
    }
}

/// Lets a schedule be a field of a stored record; the validation error becomes the
/// deserializer's error. Prefer [`Schedule::parse`] for user input: it names the field.
impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::validate(&ScheduleSpec::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// Maps a deserialization error to `Unprocessable` on the path where it happened (`root`
/// when it concerns the input as a whole).
fn serde_error<E: Display>(error: serde_path_to_error::Error<E>, root: &str) -> DomainError {
    let path = error.path().to_string();
    let field = if path == "." { root.to_owned() } else { path };
    DomainError::unprocessable(field, error.inner().to_string())
}

/// Whether the machine should be running at `at`.
///
/// `None` when the schedule is disabled: the scheduler has no opinion and leaves the machine
/// alone. Otherwise `Running` while an override lasts or inside a window, `Stopped` outside.
/// Allocation-free; one time-zone lookup.
pub fn desired(schedule: &Schedule, at: Timestamp) -> Option<Desired> {
    if !schedule.enabled {
        return None;
    }
    if schedule.override_until.is_some_and(|value| value.is_active(at)) {
        return Some(Desired::Running);
    }
    Some(windows_desired(schedule, at))
}

/// The first instant strictly after `after` at which [`desired`] changes, and the new state.
///
/// `None` when it never changes: the schedule is disabled, has no windows, or the state holds
/// for the whole [`HORIZON_DAYS`] look-ahead (e.g. windows covering the whole week).
pub fn next_transition(schedule: &Schedule, after: Timestamp) -> Option<Transition> {
    if !schedule.enabled {
        return None;
    }
    if let Some(value) = schedule.override_until.filter(|value| value.is_active(after)) {
        // Running until `until`; from then on the windows decide.
        return match windows_desired(schedule, value.until()) {
            Desired::Stopped => Some(Transition { at: value.until(), to: Desired::Stopped }),
            Desired::Running => windows_next(schedule, value.until()),
        };
    }
    windows_next(schedule, after)
}

/// The next `count` transitions after `from` (at most [`MAX_PREVIEW`]), for a preview; fewer
/// when the state stops changing, none when the schedule is disabled.
pub fn transitions(schedule: &Schedule, from: Timestamp, count: usize) -> Vec<Transition> {
    let count = count.min(MAX_PREVIEW);
    let mut found = Vec::with_capacity(count);
    let mut cursor = from;
    while found.len() < count {
        let Some(transition) = next_transition(schedule, cursor) else { break };
        found.push(transition);
        cursor = transition.at;
    }
    found
}

/// The windows' verdict at `at`, ignoring `enabled` and the override.
///
/// `at` is inside an occurrence `[open, close)` iff the wall clock's high-water mark `h` at
/// `at` satisfies `open <= h < close` (see `clock.rs`), so the bounds never need converting.
/// An occurrence lasts at most a day, so only those opening on `h`'s date or the day before
/// can contain it.
fn windows_desired(schedule: &Schedule, at: Timestamp) -> Desired {
    if schedule.table.is_empty() {
        return Desired::Stopped;
    }
    let wall = wall_high_water(&schedule.timezone, at);
    let date = wall.date();
    let secs = secs_of_day(wall.time());
    let today = day_index(date.weekday());
    if schedule.table.opening_on(today).iter().any(|entry| entry.start <= secs && secs < entry.end)
        && !schedule.holidays.contains(date)
    {
        return Desired::Running;
    }
    let yesterday = (today + 6) % 7;
    if schedule.table.opening_on(yesterday).iter().any(|entry| secs + DAY < entry.end)
        && date.yesterday().is_ok_and(|day| !schedule.holidays.contains(day))
    {
        return Desired::Running;
    }
    Desired::Stopped
}

/// The windows' next change strictly after `after`, ignoring `enabled` and the override.
///
/// Walks the occurrences in time order from the day before `after`'s date (the earliest one
/// that can contain it), converting bounds to instants and merging occurrences that touch or
/// overlap into runs; the first run boundary after `after` is the answer.
fn windows_next(schedule: &Schedule, after: Timestamp) -> Option<Transition> {
    if schedule.table.is_empty() {
        return None;
    }
    let tz = &schedule.timezone;
    let wall_date = wall_high_water(tz, after).date();
    let mut date = wall_date.yesterday().unwrap_or(wall_date);
    let mut run: Option<(Timestamp, Timestamp)> = None;
    for _ in 0..=HORIZON_DAYS + 1 {
        let entries = schedule.table.opening_on(day_index(date.weekday()));
        if !entries.is_empty() && !schedule.holidays.contains(date) {
            let midnight = date.to_datetime(Time::midnight());
            let wall = |secs: i32| midnight.checked_add(SignedDuration::from_secs(i64::from(secs))).ok();
            for entry in entries {
                let open = first_instant_at_or_after(tz, wall(entry.start)?)?;
                let close = first_instant_at_or_after(tz, wall(entry.end)?)?;
                if open >= close {
                    // Entirely inside a skipped hour: it never runs.
                    continue;
                }
                run = match run {
                    Some((start, end)) if open <= end => Some((start, end.max(close))),
                    Some((start, end)) => {
                        if let Some(transition) = crossing(start, end, after) {
                            return Some(transition);
                        }
                        Some((open, close))
                    }
                    None => Some((open, close)),
                };
            }
        }
        date = match date.tomorrow() {
            Ok(next) => next,
            Err(_) => break,
        };
    }
    // Occurrences beyond the horizon open at its midnight or later: a run ending before that is
    // complete; one reaching it may go on, so only its start is known to be a change.
    let horizon = first_instant_at_or_after(tz, date.to_datetime(Time::midnight()));
    match run {
        Some((start, end)) if horizon.is_some_and(|horizon| end < horizon) => crossing(start, end, after),
        Some((start, _)) if start > after => Some(Transition { at: start, to: Desired::Running }),
        _ => None,
    }
}

/// The change a complete run `[start, end)` brings after `after`, if any.
fn crossing(start: Timestamp, end: Timestamp, after: Timestamp) -> Option<Transition> {
    if start > after {
        Some(Transition { at: start, to: Desired::Running })
    } else if end > after {
        Some(Transition { at: end, to: Desired::Stopped })
    } else {
        None
    }
}
