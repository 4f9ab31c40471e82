use jiff::civil::{Weekday, date};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::DomainError;

fn schedule(value: Value) -> Schedule {
    Schedule::parse(value).expect("a valid schedule")
}

fn refused(value: Value) -> (String, String) {
    match Schedule::parse(value) {
        Err(DomainError::Unprocessable { field, message }) => (field, message),
        other => panic!("expected Unprocessable, got {other:?}"),
    }
}

fn field(value: Value) -> String {
    refused(value).0
}

/// A Paris wall-clock time (never ambiguous in these tests) as an instant.
fn paris(y: i16, m: i8, d: i8, h: i8, min: i8) -> Timestamp {
    date(y, m, d).at(h, min, 0, 0).in_tz("Europe/Paris").expect("a Paris time").timestamp()
}

fn instant(rfc3339: &str) -> Timestamp {
    rfc3339.parse().expect("an RFC 3339 instant")
}

fn running(s: &Schedule, at: Timestamp) -> bool {
    desired(s, at) == Some(Desired::Running)
}

fn one_window(days: &[&str], start: &str, end: &str) -> Value {
    json!({ "timezone": "Europe/Paris", "windows": [{ "days": days, "start": start, "end": end }] })
}

const SECOND: SignedDuration = SignedDuration::from_secs(1);

// ---------------------------------------------------------------- parsing and validation

#[test]
fn the_default_schedule_is_weekdays_nine_to_six_in_paris() {
    let s = Schedule::default();
    assert_eq!(s.timezone_name(), "Europe/Paris");
    assert_eq!(s.outside(), OutsideAction::Stop);
    assert!(s.enabled());
    assert!(s.holidays().is_none());
    assert_eq!(s.windows().len(), 1);
    assert_eq!(s.windows()[0].days(), Days::WEEKDAYS);
    assert_eq!(serde_json::to_value(&s).expect("json")["windows"][0]["start"], "09:00");
    // Missing fields take the default's values.
    assert_eq!(schedule(json!({})), s);
}

#[test]
fn an_unknown_time_zone_names_timezone() {
    assert_eq!(field(json!({ "timezone": "Europe/Lyon" })), "timezone");
    assert_eq!(field(json!({ "timezone": "" })), "timezone");
    assert_eq!(field(json!({ "timezone": 7 })), "timezone");
}

#[test]
fn malformed_times_name_the_window_and_bound() {
    let with_second = |start: &str, end: &str| {
        json!({ "windows": [
            { "days": ["mon"], "start": "09:00", "end": "10:00" },
            { "days": ["tue"], "start": start, "end": end },
        ]})
    };
    for bad in ["25:00", "9:00", "09:60", "24:00", "09:00:00", "0900", "", "ab:cd", "+9:00", "09h00"] {
        assert_eq!(field(with_second(bad, "18:00")), "windows[1].start", "{bad}");
        assert_eq!(field(with_second("08:00", bad)), "windows[1].end", "{bad}");
    }
}

#[test]
fn unknown_or_missing_days_are_refused() {
    let (f, message) = refused(one_window(&["mon", "tue", "funday"], "09:00", "18:00"));
    assert_eq!(f, "windows[0].days[2]");
    assert!(message.contains("funday"), "{message}");
    assert_eq!(field(one_window(&["Mon"], "09:00", "18:00")), "windows[0].days[0]");
    assert_eq!(field(one_window(&[], "09:00", "18:00")), "windows[0].days");
}

#[test]
fn structural_errors_name_their_path() {
    assert_eq!(field(json!({ "outside": "pause" })), "outside");
    assert_eq!(field(json!({ "enabled": "yes" })), "enabled");
    assert_eq!(field(json!({ "windows": [{ "days": ["mon"], "start": "09:00" }] })), "windows[0]");
    assert_eq!(field(json!({ "windows": [{ "days": ["mon"], "start": 9, "end": "10:00" }] })), "windows[0].start");
    assert_eq!(field(json!("mon-fri")), "schedule");
    // Unknown fields are refused, named by their own path.
    assert_eq!(field(json!({ "timezone": "UTC", "colour": "blue" })), "colour");
    assert_eq!(
        field(json!({ "windows": [{ "days": ["mon"], "start": "09:00", "end": "10:00", "x": 1 }] })),
        "windows[0].x"
    );
}

#[test]
fn end_not_after_start_crosses_midnight() {
    let night = schedule(one_window(&["fri"], "22:00", "06:00"));
    assert!(night.windows()[0].crosses_midnight());
    let whole_day = schedule(one_window(&["mon"], "09:00", "09:00"));
    // 24 hours: Monday 09:00 to Tuesday 09:00.
    assert!(running(&whole_day, paris(2026, 11, 23, 9, 0)));
    assert!(running(&whole_day, paris(2026, 11, 24, 8, 59)));
    assert!(!running(&whole_day, paris(2026, 11, 24, 9, 0)));
    assert_eq!(
        next_transition(&whole_day, paris(2026, 11, 23, 10, 0)),
        Some(Transition { at: paris(2026, 11, 24, 9, 0), to: Desired::Stopped })
    );
}

#[test]
fn overlapping_windows_are_refused_naming_both() {
    let cases = [
        // Same day.
        json!([{ "days": ["mon"], "start": "09:00", "end": "12:00" }, { "days": ["mon"], "start": "11:00", "end": "13:00" }]),
        // Across midnight.
        json!([{ "days": ["fri"], "start": "22:00", "end": "06:00" }, { "days": ["sat"], "start": "05:00", "end": "07:00" }]),
        // Across the end of the week.
        json!([{ "days": ["mon"], "start": "00:00", "end": "01:00" }, { "days": ["sun"], "start": "23:00", "end": "00:30" }]),
        // One inside the other.
        json!([{ "days": ["wed"], "start": "08:00", "end": "20:00" }, { "days": ["wed", "thu"], "start": "10:00", "end": "11:00" }]),
    ];
    for windows in cases {
        let (f, message) = refused(json!({ "windows": windows }));
        assert_eq!(f, "windows", "{message}");
        assert!(message.contains("windows[0]") && message.contains("windows[1]"), "{message}");
    }
}

#[test]
fn touching_windows_are_accepted_and_merged() {
    // Same day: one run, 09:00-18:00.
    let s = schedule(json!({ "windows": [
        { "days": ["mon"], "start": "12:00", "end": "18:00" },
        { "days": ["mon"], "start": "09:00", "end": "12:00" },
    ]}));
    assert_eq!(
        transitions(&s, paris(2026, 11, 23, 8, 0), 2),
        vec![
            Transition { at: paris(2026, 11, 23, 9, 0), to: Desired::Running },
            Transition { at: paris(2026, 11, 23, 18, 0), to: Desired::Stopped },
        ]
    );
    // Across midnight: no stop/start at the seam.
    let s = schedule(json!({ "windows": [
        { "days": ["mon"], "start": "18:00", "end": "00:00" },
        { "days": ["tue"], "start": "00:00", "end": "09:00" },
    ]}));
    assert!(running(&s, paris(2026, 11, 24, 0, 0)));
    assert_eq!(
        next_transition(&s, paris(2026, 11, 23, 19, 0)),
        Some(Transition { at: paris(2026, 11, 24, 9, 0), to: Desired::Stopped })
    );
    // ...unless a holiday removes the second half.
    let s = schedule(json!({ "windows": [
        { "days": ["mon"], "start": "18:00", "end": "00:00" },
        { "days": ["tue"], "start": "00:00", "end": "09:00" },
    ], "holidays": ["2026-11-24"] }));
    assert_eq!(
        next_transition(&s, paris(2026, 11, 23, 19, 0)),
        Some(Transition { at: paris(2026, 11, 24, 0, 0), to: Desired::Stopped })
    );
}

#[test]
fn holiday_errors_name_the_entry_or_the_calendar() {
    let (f, message) = refused(json!({ "holidays": ["2026-12-24", "2026-12-25", "2026-12-31", "2026-13-01"] }));
    assert_eq!(f, "holidays[3]");
    assert!(message.contains("2026-13-01"), "{message}");
    assert_eq!(field(json!({ "holidays": ["2026-2-01"] })), "holidays[0]");
    assert_eq!(field(json!({ "holidays": ["2026-02-30"] })), "holidays[0]");
    assert_eq!(field(json!({ "holidays": ["20261224xx"] })), "holidays[0]");
    let (f, message) = refused(json!({ "holidays": "de" }));
    assert_eq!(f, "holidays");
    assert!(message.contains("fr"), "{message}");
    assert_eq!(field(json!({ "holidays": 3 })), "holidays");
    assert_eq!(field(json!({ "holidays": ["2026-12-24", 5] })), "holidays[1]");
}

#[test]
fn too_many_windows_or_holidays_are_refused() {
    let windows: Vec<Value> = (0..=MAX_WINDOWS)
        .map(|i| json!({ "days": ["mon"], "start": format!("{:02}:00", i % 24), "end": format!("{:02}:30", i % 24) }))
        .collect();
    assert_eq!(field(json!({ "windows": windows })), "windows");
    let dates: Vec<String> = (0..=MAX_HOLIDAYS).map(|_| "2026-01-01".to_owned()).collect();
    assert_eq!(field(json!({ "holidays": dates })), "holidays");
}

// ---------------------------------------------------------------- French holidays

#[test]
fn french_holidays_follow_easter() {
    let fr = Calendar::Fr;
    for (y, m, d) in [
        (2024, 4, 1),  // Easter Monday
        (2024, 5, 9),  // Ascension
        (2024, 5, 20), // Whit Monday
        (2025, 4, 21), // Easter Monday
        (2025, 5, 29), // Ascension
        (2025, 6, 9),  // Whit Monday
        (2026, 4, 6),  // Easter Monday
        (2026, 5, 14), // Ascension
        (2026, 5, 25), // Whit Monday
        (2038, 4, 26), // Easter Monday, latest Easter of the century
        (2285, 3, 23), // Easter Monday, earliest possible (Easter 22 March)
    ] {
        assert!(fr.is_holiday(date(y, m, d)), "{y}-{m}-{d}");
    }
    assert_eq!(easter_sunday(2024), Some(date(2024, 3, 31)));
    assert_eq!(easter_sunday(2025), Some(date(2025, 4, 20)));
    assert_eq!(easter_sunday(2026), Some(date(2026, 4, 5)));
}

#[test]
fn french_fixed_holidays_and_ordinary_days() {
    let fr = Calendar::Fr;
    for (m, d) in [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)] {
        for y in [2024, 2026, 2032] {
            assert!(fr.is_holiday(date(y, m, d)), "{y}-{m}-{d}");
        }
    }
    for (y, m, d) in [(2024, 4, 2), (2024, 3, 29), (2026, 4, 5), (2026, 12, 26), (2026, 11, 23), (2024, 5, 10)] {
        assert!(!fr.is_holiday(date(y, m, d)), "{y}-{m}-{d}");
    }
    let all = fr.holidays(2026);
    assert_eq!(all.len(), 11);
    assert!(all.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(all.iter().all(|&day| fr.is_holiday(day)));
    assert_eq!(Calendar::from_name("fr"), Some(Calendar::Fr));
    assert_eq!(Calendar::from_name("FR"), None);
}

// ---------------------------------------------------------------- decisions

#[test]
fn the_default_schedule_runs_on_weekday_office_hours() {
    let s = Schedule::default();
    assert_eq!(date(2026, 11, 23).weekday(), Weekday::Monday);
    assert_eq!(desired(&s, paris(2026, 11, 23, 10, 0)), Some(Desired::Running));
    assert_eq!(desired(&s, paris(2026, 11, 23, 9, 0)), Some(Desired::Running));
    assert_eq!(desired(&s, paris(2026, 11, 23, 8, 59)), Some(Desired::Stopped));
    assert_eq!(desired(&s, paris(2026, 11, 23, 18, 5)), Some(Desired::Stopped));
    assert_eq!(desired(&s, paris(2026, 11, 23, 18, 0)), Some(Desired::Stopped));
    assert_eq!(desired(&s, paris(2026, 11, 28, 12, 0)), Some(Desired::Stopped));
    assert_eq!(
        next_transition(&s, paris(2026, 11, 23, 18, 5)),
        Some(Transition { at: paris(2026, 11, 24, 9, 0), to: Desired::Running })
    );
    assert_eq!(
        next_transition(&s, paris(2026, 11, 27, 18, 5)),
        Some(Transition { at: paris(2026, 11, 30, 9, 0), to: Desired::Running })
    );
    assert_eq!(
        next_transition(&s, paris(2026, 11, 23, 10, 0)),
        Some(Transition { at: paris(2026, 11, 23, 18, 0), to: Desired::Stopped })
    );
    // Strictly after: from the opening instant itself, the next change is the closing.
    assert_eq!(next_transition(&s, paris(2026, 11, 23, 9, 0)).map(|t| t.at), Some(paris(2026, 11, 23, 18, 0)));
}

#[test]
fn a_disabled_schedule_has_no_opinion() {
    let s = schedule(json!({ "enabled": false }));
    assert_eq!(desired(&s, paris(2026, 11, 23, 10, 0)), None);
    assert_eq!(next_transition(&s, paris(2026, 11, 23, 10, 0)), None);
    assert!(transitions(&s, paris(2026, 11, 23, 10, 0), 10).is_empty());
}

#[test]
fn no_windows_means_always_stopped_and_never_a_transition() {
    let s = schedule(json!({ "windows": [] }));
    assert_eq!(desired(&s, paris(2026, 11, 23, 10, 0)), Some(Desired::Stopped));
    assert_eq!(next_transition(&s, paris(2026, 11, 23, 10, 0)), None);
}

#[test]
fn a_whole_week_window_never_changes_except_on_holidays() {
    let always =
        json!([{ "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "00:00" }]);
    let s = schedule(json!({ "windows": always }));
    assert_eq!(desired(&s, paris(2026, 11, 23, 3, 0)), Some(Desired::Running));
    assert_eq!(next_transition(&s, paris(2026, 11, 23, 3, 0)), None);
    let s = schedule(json!({ "windows": always, "holidays": ["2026-12-25"] }));
    assert_eq!(
        transitions(&s, paris(2026, 12, 20, 0, 0), 5),
        vec![
            Transition { at: paris(2026, 12, 25, 0, 0), to: Desired::Stopped },
            Transition { at: paris(2026, 12, 26, 0, 0), to: Desired::Running },
        ]
    );
}

#[test]
fn a_last_run_followed_only_by_holidays_still_ends() {
    let first = date(2027, 1, 1);
    let dates: Vec<String> = (0..MAX_HOLIDAYS as i32)
        .map(|i| first.checked_add(jiff::Span::new().days(i)).expect("in range").to_string())
        .collect();
    let s = schedule(json!({ "holidays": dates }));
    assert_eq!(
        next_transition(&s, paris(2026, 12, 31, 10, 0)),
        Some(Transition { at: paris(2026, 12, 31, 18, 0), to: Desired::Stopped })
    );
    assert_eq!(next_transition(&s, paris(2026, 12, 31, 19, 0)), None);
}

#[test]
fn previews_are_capped() {
    assert_eq!(transitions(&Schedule::default(), paris(2026, 1, 1, 0, 0), 1_000).len(), MAX_PREVIEW);
    assert_eq!(transitions(&Schedule::default(), paris(2026, 1, 1, 0, 0), 3).len(), 3);
    assert!(transitions(&Schedule::default(), paris(2026, 1, 1, 0, 0), 0).is_empty());
}

// ---------------------------------------------------------------- DST

#[test]
fn spring_forward_shortens_a_window_by_an_hour() {
    let s = schedule(one_window(&["sun"], "01:00", "04:00"));
    let [open, close] = transitions(&s, paris(2026, 3, 28, 12, 0), 2)[..] else { panic!("two transitions") };
    assert_eq!(open, Transition { at: instant("2026-03-29T01:00:00+01:00"), to: Desired::Running });
    assert_eq!(close, Transition { at: instant("2026-03-29T04:00:00+02:00"), to: Desired::Stopped });
    assert_eq!(open.at.duration_until(close.at), SignedDuration::from_hours(2));
}

#[test]
fn fall_back_lengthens_a_window_by_an_hour() {
    let s = schedule(one_window(&["sun"], "01:00", "04:00"));
    let [open, close] = transitions(&s, paris(2026, 10, 24, 12, 0), 2)[..] else { panic!("two transitions") };
    assert_eq!(open.at, instant("2026-10-25T01:00:00+02:00"));
    assert_eq!(close.at, instant("2026-10-25T04:00:00+01:00"));
    assert_eq!(open.at.duration_until(close.at), SignedDuration::from_hours(4));
    // Running throughout, both passes through the repeated hour included.
    for minutes in (0..240).step_by(5) {
        assert!(running(&s, open.at + SignedDuration::from_mins(minutes)), "{minutes}");
    }
}

#[test]
fn a_window_starting_in_the_skipped_hour_opens_when_clocks_jump() {
    let s = schedule(one_window(&["sun"], "02:30", "05:00"));
    let opening = next_transition(&s, paris(2026, 3, 28, 12, 0)).expect("a transition");
    assert_eq!(opening, Transition { at: instant("2026-03-29T03:00:00+02:00"), to: Desired::Running });
    assert_eq!(opening.at.to_zoned(TimeZone::get("Europe/Paris").expect("zone")).time(), jiff::civil::time(3, 0, 0, 0));
    assert!(!running(&s, opening.at - SECOND));
    assert!(running(&s, opening.at));
}

#[test]
fn a_window_inside_the_skipped_hour_never_runs() {
    let s = schedule(one_window(&["sun"], "02:00", "02:30"));
    assert!(!running(&s, instant("2026-03-29T03:00:00+02:00")));
    assert_eq!(
        next_transition(&s, paris(2026, 3, 28, 12, 0)).map(|t| t.at),
        Some(instant("2026-04-05T02:00:00+02:00"))
    );
}

#[test]
fn bounds_in_the_repeated_hour_take_effect_the_first_time() {
    // Opens at the first 02:30, runs through the second pass.
    let s = schedule(one_window(&["sun"], "02:30", "05:00"));
    assert_eq!(
        next_transition(&s, paris(2026, 10, 24, 12, 0)).map(|t| t.at),
        Some(instant("2026-10-25T02:30:00+02:00"))
    );
    assert!(running(&s, instant("2026-10-25T02:15:00+01:00")));
    // Closes at the first 02:30 and stays closed when 02:15 comes round again.
    let s = schedule(one_window(&["sun"], "01:00", "02:30"));
    assert_eq!(
        transitions(&s, paris(2026, 10, 24, 12, 0), 2).iter().map(|t| t.at).collect::<Vec<_>>(),
        vec![instant("2026-10-25T01:00:00+02:00"), instant("2026-10-25T02:30:00+02:00")]
    );
    assert!(!running(&s, instant("2026-10-25T02:15:00+01:00")));
    assert!(!running(&s, instant("2026-10-25T02:45:00+01:00")));
}

#[test]
fn half_hour_dst_changes_in_lord_howe() {
    let tz = "Australia/Lord_Howe";
    let window = |start: &str, end: &str| json!({ "timezone": tz, "windows": [{ "days": ["sun"], "start": start, "end": end }] });
    // 2026-10-04: 02:00 (+10:30) jumps to 02:30 (+11:00).
    let s = schedule(window("02:10", "03:00"));
    let [open, close] = transitions(&s, instant("2026-10-03T00:00:00Z"), 2)[..] else { panic!("two transitions") };
    assert_eq!(open.at, instant("2026-10-04T02:30:00+11:00"));
    assert_eq!(close.at, instant("2026-10-04T03:00:00+11:00"));
    assert!(!running(&s, open.at - SECOND) && running(&s, open.at));
    // 2026-04-05: 02:00 (+11:00) falls back to 01:30 (+10:30); 01:45 closes the first time.
    let s = schedule(window("01:00", "01:45"));
    let [open, close] = transitions(&s, instant("2026-04-04T00:00:00Z"), 2)[..] else { panic!("two transitions") };
    assert_eq!(open.at, instant("2026-04-05T01:00:00+11:00"));
    assert_eq!(close.at, instant("2026-04-05T01:45:00+11:00"));
    assert!(!running(&s, instant("2026-04-05T01:40:00+10:30")));
}

#[test]
fn windows_touching_midnight() {
    let s = schedule(one_window(&["fri"], "22:00", "06:00"));
    assert_eq!(date(2026, 11, 28).weekday(), Weekday::Saturday);
    assert!(!running(&s, paris(2026, 11, 27, 21, 59)));
    assert!(running(&s, paris(2026, 11, 27, 22, 0)));
    assert!(running(&s, paris(2026, 11, 28, 0, 0)));
    assert!(running(&s, paris(2026, 11, 28, 5, 0)));
    assert!(!running(&s, paris(2026, 11, 28, 6, 0)));
    let s = schedule(one_window(&["sun"], "18:00", "00:00"));
    assert!(running(&s, paris(2026, 11, 29, 23, 59)));
    assert!(!running(&s, paris(2026, 11, 30, 0, 0)));
    let s = schedule(one_window(&["mon"], "00:00", "01:00"));
    assert!(running(&s, paris(2026, 11, 30, 0, 0)));
    assert!(!running(&s, paris(2026, 11, 29, 23, 59)));
}

#[test]
fn no_window_opens_on_a_french_holiday() {
    let s = schedule(json!({ "holidays": "fr" }));
    assert_eq!(date(2026, 4, 6).weekday(), Weekday::Monday);
    assert_eq!(desired(&s, paris(2026, 4, 6, 10, 0)), Some(Desired::Stopped));
    assert_eq!(
        next_transition(&s, paris(2026, 4, 6, 10, 0)),
        Some(Transition { at: paris(2026, 4, 7, 9, 0), to: Desired::Running })
    );
    assert_eq!(desired(&s, paris(2026, 4, 7, 10, 0)), Some(Desired::Running));
}

#[test]
fn a_window_on_a_leap_day() {
    assert_eq!(date(2032, 2, 29).weekday(), Weekday::Sunday);
    let s = schedule(one_window(&["sun"], "10:00", "12:00"));
    assert!(running(&s, paris(2032, 2, 29, 11, 0)));
    assert_eq!(
        transitions(&s, paris(2032, 2, 28, 12, 0), 2),
        vec![
            Transition { at: paris(2032, 2, 29, 10, 0), to: Desired::Running },
            Transition { at: paris(2032, 2, 29, 12, 0), to: Desired::Stopped },
        ]
    );
    let s = schedule(
        json!({ "windows": [{ "days": ["sun"], "start": "10:00", "end": "12:00" }], "holidays": ["2032-02-29"] }),
    );
    assert!(!running(&s, paris(2032, 2, 29, 11, 0)));
}

// ---------------------------------------------------------------- override

#[test]
fn an_override_keeps_the_machine_running_until_its_end() {
    let now = paris(2026, 11, 23, 17, 30);
    let until = Override::new(paris(2026, 11, 23, 20, 0), now, DEFAULT_MAX_OVERRIDE).expect("a valid override");
    let s = Schedule::default().with_override(Some(until));
    assert_eq!(desired(&s, paris(2026, 11, 23, 19, 0)), Some(Desired::Running));
    assert_eq!(desired(&s, paris(2026, 11, 23, 20, 5)), Some(Desired::Stopped));
    assert_eq!(
        next_transition(&s, paris(2026, 11, 23, 17, 45)),
        Some(Transition { at: paris(2026, 11, 23, 20, 0), to: Desired::Stopped })
    );
    assert_eq!(
        next_transition(&s, paris(2026, 11, 23, 20, 0)),
        Some(Transition { at: paris(2026, 11, 24, 9, 0), to: Desired::Running })
    );
    // Ending inside a window: no change at `until`, the window's close is next.
    let until = Override::new(paris(2026, 11, 24, 10, 0), now, DEFAULT_MAX_OVERRIDE).expect("a valid override");
    let s = Schedule::default().with_override(Some(until));
    assert_eq!(
        next_transition(&s, paris(2026, 11, 23, 20, 0)),
        Some(Transition { at: paris(2026, 11, 24, 18, 0), to: Desired::Stopped })
    );
    // A disabled schedule still has no opinion.
    let s = schedule(json!({ "enabled": false })).with_override(Some(until));
    assert_eq!(desired(&s, paris(2026, 11, 23, 19, 0)), None);
}

#[test]
fn override_validation_names_until() {
    let now = paris(2026, 11, 23, 17, 30);
    let error_field = |result: Result<Override, DomainError>| match result {
        Err(DomainError::Unprocessable { field, .. }) => field,
        other => panic!("expected Unprocessable, got {other:?}"),
    };
    let too_far = now + SignedDuration::from_hours(25);
    assert_eq!(error_field(Override::new(too_far, now, DEFAULT_MAX_OVERRIDE)), "until");
    assert_eq!(error_field(Override::new(now, now, DEFAULT_MAX_OVERRIDE)), "until");
    assert_eq!(error_field(Override::new(now - SECOND, now, DEFAULT_MAX_OVERRIDE)), "until");
    assert!(Override::new(now + DEFAULT_MAX_OVERRIDE, now, DEFAULT_MAX_OVERRIDE).is_ok());
    assert_eq!(
        error_field(Override::new(now + SignedDuration::from_hours(3), now, SignedDuration::from_hours(2))),
        "until"
    );

    let parsed = Override::parse(json!({ "until": "2026-11-23T20:00:00+01:00" }), now, DEFAULT_MAX_OVERRIDE);
    assert_eq!(parsed.expect("valid").until(), paris(2026, 11, 23, 20, 0));
    assert_eq!(error_field(Override::parse(json!({ "until": "tonight" }), now, DEFAULT_MAX_OVERRIDE)), "until");
    assert_eq!(
        error_field(Override::parse(json!({ "until": "2026-11-24T20:00:00+01:00" }), now, DEFAULT_MAX_OVERRIDE)),
        "until"
    );
    assert_eq!(error_field(Override::parse(json!({}), now, DEFAULT_MAX_OVERRIDE)), "until");
    let round_trip = serde_json::to_value(Override::restore(paris(2026, 11, 23, 20, 0))).expect("json");
    assert_eq!(round_trip, json!({ "until": "2026-11-23T19:00:00Z" }));
}

// ---------------------------------------------------------------- serde

#[test]
fn a_schedule_round_trips_through_json() {
    let wire = json!({
        "timezone": "America/New_York",
        "windows": [
            { "days": ["mon", "wed", "fri"], "start": "08:30", "end": "12:00" },
            { "days": ["mon", "wed", "fri"], "start": "13:00", "end": "17:45" },
            { "days": ["sat"], "start": "22:00", "end": "02:00" },
        ],
        "holidays": "fr",
        "outside": "hibernate",
        "enabled": true,
    });
    let s = schedule(wire.clone());
    assert_eq!(serde_json::to_value(&s).expect("json"), wire);
    assert_eq!(serde_json::from_value::<Schedule>(wire.clone()).expect("deserializes"), s);

    let wire = json!({
        "timezone": "Europe/Paris",
        "windows": [{ "days": ["tue"], "start": "09:00", "end": "09:00" }],
        "holidays": ["2026-12-24", "2026-12-31"],
        "outside": "stop",
        "enabled": false,
    });
    assert_eq!(serde_json::to_value(schedule(wire.clone())).expect("json"), wire);
    let s = Schedule::default();
    assert_eq!(schedule(serde_json::to_value(&s).expect("json")), s);
    assert_eq!(serde_json::to_value(&s).expect("json")["holidays"], Value::Null);
}

#[test]
fn deserializing_a_schedule_reports_validation_errors() {
    let error = serde_json::from_value::<Schedule>(json!({ "timezone": "Mars/Olympus" })).expect_err("invalid");
    assert!(error.to_string().contains("timezone"), "{error}");
}

// ---------------------------------------------------------------- properties

const ZONES: [&str; 5] = ["Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"];

/// 2024-01-01T00:00Z to 2031-01-01T00:00Z, in seconds.
const FROM: i64 = 1_704_067_200;
const TO: i64 = 1_924_992_000;

fn hhmm_of(minutes: u16) -> String {
    format!("{:02}:{:02}", (minutes / 60) % 24, minutes % 60)
}

fn window_json(days: u8, start: u16, duration: u16) -> WindowSpec {
    WindowSpec {
        days: window::DAY_NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| days & (1 << i) != 0)
            .map(|(_, d)| d.to_string())
            .collect(),
        start: hhmm_of(start),
        end: hhmm_of((start + duration) % 1440),
    }
}

/// A start minute, often within 00:00-04:00 local where DST changes happen.
fn start_minute() -> impl Strategy<Value = u16> {
    prop_oneof![0u16..1440, 0u16..240]
}

/// A duration in minutes, often short so that both bounds can fall near a DST change.
fn duration_minutes() -> impl Strategy<Value = u16> {
    prop_oneof![1u16..=1440, 1u16..=180]
}

/// Days as a bitmask (bit 0 = Monday), often including Sunday, the day DST changes in the
/// zones tested.
fn days_mask() -> impl Strategy<Value = u8> {
    prop_oneof![1u8..128, (1u8..128).prop_map(|days| days | 1 << 6)]
}

fn raw_windows() -> impl Strategy<Value = Vec<(u8, u16, u16)>> {
    prop::collection::vec((days_mask(), start_minute(), duration_minutes()), 1..=3)
}

/// Keeps the windows that do not overlap the ones kept before them.
fn without_overlaps(mut spec: ScheduleSpec, raw: &[(u8, u16, u16)]) -> ScheduleSpec {
    for &(days, start, duration) in raw {
        spec.windows.push(window_json(days, start, duration));
        if Schedule::validate(&spec).is_err() {
            spec.windows.pop();
        }
    }
    spec
}

fn holidays_spec(kind: u8) -> Option<HolidaysSpec> {
    match kind {
        0 => None,
        1 => Some(HolidaysSpec::Calendar("fr".into())),
        _ => Some(HolidaysSpec::Dates(vec!["2026-03-29".into(), "2026-10-25".into(), "2027-01-04".into()])),
    }
}

fn arb_schedule() -> impl Strategy<Value = Schedule> {
    (0..ZONES.len(), raw_windows(), 0u8..3).prop_map(|(zone, raw, holidays)| {
        let spec = ScheduleSpec {
            timezone: ZONES[zone].into(),
            windows: vec![],
            holidays: holidays_spec(holidays),
            ..ScheduleSpec::default()
        };
        Schedule::validate(&without_overlaps(spec, &raw)).expect("non-overlapping windows are valid")
    })
}

/// An instant in 2024-2030, half the time within three hours of one of the zone's transitions.
fn arb_instant(tz: &TimeZone, secs: i64, near_transition: bool, jitter: i64) -> Timestamp {
    let t = Timestamp::from_second(secs).expect("in range");
    if !near_transition {
        return t;
    }
    match tz.following(t).next() {
        Some(transition) => transition.timestamp() + SignedDuration::from_secs(jitter),
        None => t,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Desired is constant on [t, next) and changes at next.
    #[test]
    fn desired_is_constant_until_the_next_transition(
        s in arb_schedule(),
        secs in FROM..TO,
        near in any::<bool>(),
        jitter in -3 * 3600i64..3 * 3600,
        fraction in 0.0f64..1.0,
        override_for in prop::option::of(-12 * 3600i64..24 * 3600),
    ) {
        let t = arb_instant(s.timezone(), secs, near, jitter);
        let s = s.with_override(override_for.map(|o| Override::restore(t + SignedDuration::from_secs(o))));
        let now = desired(&s, t).expect("enabled");
        match next_transition(&s, t) {
            Some(next) => {
                prop_assert!(next.at > t);
                prop_assert_ne!(next.to, now);
                prop_assert_eq!(desired(&s, next.at), Some(next.to));
                prop_assert_eq!(desired(&s, next.at - SECOND), Some(now));
                let span = t.duration_until(next.at).as_secs();
                let inside = t + SignedDuration::from_secs((span as f64 * fraction) as i64);
                prop_assert_eq!(desired(&s, inside), Some(now));
            }
            None => {
                for days in [1, 8, 30] {
                    prop_assert_eq!(desired(&s, t + SignedDuration::from_hours(24 * days)), Some(now));
                }
            }
        }
    }

    /// A schedule in UTC+2 (`Etc/GMT-2`) decides like the UTC schedule with every window
    /// shifted two hours later on the wall clock.
    #[test]
    fn a_fixed_offset_is_a_shift_of_the_windows(raw in raw_windows(), secs in FROM..TO) {
        let utc = without_overlaps(ScheduleSpec { timezone: "UTC".into(), windows: vec![], ..ScheduleSpec::default() }, &raw);
        let mut shifted = utc.clone();
        shifted.timezone = "Etc/GMT-2".into();
        shifted.windows = raw_of(&utc)
            .into_iter()
            .map(|(days, start, duration)| {
                let moved = start + 120;
                let days = if moved >= 1440 { ((days << 1) | (days >> 6)) & 0x7f } else { days };
                window_json(days, moved % 1440, duration)
            })
            .collect();
        let (utc, shifted) = (Schedule::validate(&utc).expect("valid"), Schedule::validate(&shifted).expect("valid"));
        let t = Timestamp::from_second(secs).expect("in range");
        prop_assert_eq!(desired(&utc, t), desired(&shifted, t));
        prop_assert_eq!(next_transition(&utc, t), next_transition(&shifted, t));
    }

    /// Without holidays nor DST, the pattern repeats every week.
    #[test]
    fn without_dst_or_holidays_the_week_repeats(raw in raw_windows(), secs in FROM..TO) {
        let spec = without_overlaps(ScheduleSpec { timezone: "Asia/Kolkata".into(), windows: vec![], ..ScheduleSpec::default() }, &raw);
        let s = Schedule::validate(&spec).expect("valid");
        let t = Timestamp::from_second(secs).expect("in range");
        prop_assert_eq!(desired(&s, t), desired(&s, t + SignedDuration::from_hours(7 * 24)));
    }

    /// Previews are strictly increasing and alternate, starting with a change from `from`.
    #[test]
    fn transitions_increase_and_alternate(s in arb_schedule(), secs in FROM..TO, count in 0usize..30) {
        let from = Timestamp::from_second(secs).expect("in range");
        let found = transitions(&s, from, count);
        prop_assert!(found.len() <= count);
        let mut previous = (from, desired(&s, from).expect("enabled"));
        for transition in found {
            prop_assert!(transition.at > previous.0);
            prop_assert_ne!(transition.to, previous.1);
            previous = (transition.at, transition.to);
        }
    }
}

/// The (days bitmask, start minute, duration minutes) of a spec's windows.
fn raw_of(spec: &ScheduleSpec) -> Vec<(u8, u16, u16)> {
    let minutes = |text: &str| -> u16 {
        let (h, m) = text.split_once(':').expect("HH:MM");
        h.parse::<u16>().expect("hours") * 60 + m.parse::<u16>().expect("minutes")
    };
    spec.windows
        .iter()
        .map(|w| {
            let days =
                w.days.iter().map(|d| 1u8 << window::DAY_NAMES.iter().position(|n| n == d).expect("a day")).sum();
            let (start, end) = (minutes(&w.start), minutes(&w.end));
            let duration = if end > start { end - start } else { end + 1440 - start };
            (days, start, duration)
        })
        .collect()
}
