//! How fast the scheduler's decisions are, on a fleet-sized set of varied schedules.
//!
//! Run with `cargo bench -p atelier-domain --bench decisions`. It prints figures and never
//! asserts on time: timings depend on the machine. The target is 100,000 `desired`
//! decisions in under 100 ms on one core, so that one scheduled invocation can decide for
//! the whole fleet with time to spare for the EC2 calls.

use std::hint::black_box;
use std::time::Instant;

use atelier_domain::schedule::{self, Desired, HolidaysSpec, Schedule, ScheduleSpec, WindowSpec};
use jiff::Timestamp;

const SCHEDULES: usize = 100_000;
const WORKSPACES_NEEDING_A_TRANSITION: usize = 10_000;
/// Instances per EC2 StartInstances/StopInstances call in the EC2 adapter.
const EC2_BATCH: usize = 50;

const ZONES: [&str; 8] = [
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "UTC",
];

const DAY_SETS: [&[&str]; 4] = [
    &["mon", "tue", "wed", "thu", "fri"],
    &["mon", "tue", "wed", "thu"],
    &["mon", "wed", "fri"],
    &["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
];

fn window(days: &[&str], start: &str, end: &str) -> WindowSpec {
    WindowSpec { days: days.iter().map(|&day| day.to_owned()).collect(), start: start.to_owned(), end: end.to_owned() }
}

/// The `i`-th schedule of the fleet: zones, windows and holidays vary with `i`.
fn spec(i: usize) -> ScheduleSpec {
    let days = DAY_SETS[i / 7 % DAY_SETS.len()];
    let start_hour = 6 + i / 3 % 5;
    let end_hour = 16 + i / 11 % 6;
    let mut windows = vec![window(days, &format!("{start_hour:02}:00"), &format!("{end_hour:02}:30"))];
    match i % 4 {
        // A night batch window crossing midnight.
        1 => windows.push(window(&["sat"], "22:00", "06:00")),
        // A lunch break: two windows.
        2 => {
            windows[0].end = "12:00".to_owned();
            windows.push(window(days, "13:30", &format!("{end_hour:02}:00")));
        }
        _ => {}
    }
    let holidays = match i % 5 {
        0 | 1 => Some(HolidaysSpec::Calendar("fr".to_owned())),
        2 => Some(HolidaysSpec::Dates(vec!["2026-12-24".to_owned(), "2026-12-31".to_owned()])),
        _ => None,
    };
    ScheduleSpec { timezone: ZONES[i % ZONES.len()].to_owned(), windows, holidays, ..ScheduleSpec::default() }
}

fn main() {
    let build_started = Instant::now();
    let schedules: Vec<Schedule> =
        (0..SCHEDULES).map(|i| Schedule::validate(&spec(i)).expect("the bench's schedules are valid")).collect();
    let build = build_started.elapsed();

    // A Monday, 10:00 in Paris.
    let at: Timestamp = "2026-11-23T09:00:00Z".parse().expect("a literal instant");

    // Warm up caches and the branch predictor once, then measure.
    let mut running = 0usize;
    for s in &schedules {
        running += usize::from(schedule::desired(s, at) == Some(Desired::Running));
    }
    let started = Instant::now();
    let mut measured_running = 0usize;
    for s in &schedules {
        measured_running +=
            usize::from(black_box(schedule::desired(black_box(s), black_box(at))) == Some(Desired::Running));
    }
    let decide = started.elapsed();
    assert_eq!(running, measured_running, "decisions are deterministic");

    let started = Instant::now();
    let mut with_transition = 0usize;
    for s in &schedules {
        with_transition += usize::from(black_box(schedule::next_transition(black_box(s), black_box(at))).is_some());
    }
    let next = started.elapsed();

    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let per_second = |d: std::time::Duration| SCHEDULES as f64 / d.as_secs_f64();
    println!("schedules built:        {SCHEDULES} in {:.1} ms", ms(build));
    println!(
        "desired:                {SCHEDULES} decisions in {:.2} ms = {:.0} decisions/s ({:.0} ns each; {running} running, {} stopped)",
        ms(decide),
        per_second(decide),
        decide.as_nanos() as f64 / SCHEDULES as f64,
        SCHEDULES - running,
    );
    println!("  vs the 100 ms target: {:.1}% of the budget", ms(decide) / 100.0 * 100.0);
    println!(
        "next_transition:        {SCHEDULES} in {:.2} ms = {:.0} /s ({with_transition} with a transition)",
        ms(next),
        per_second(next),
    );
    let calls = WORKSPACES_NEEDING_A_TRANSITION.div_ceil(EC2_BATCH);
    println!(
        "EC2 calls:              {WORKSPACES_NEEDING_A_TRANSITION} workspaces needing a transition / batches of {EC2_BATCH} = {calls} calls per action (start or stop)"
    );
}
