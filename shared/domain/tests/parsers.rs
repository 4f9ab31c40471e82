//! Properties of the parsers that take user input (issue #8, fuzzing): whatever the input,
//! they never panic, refuse with the error kind the API maps to a 4xx naming the field, and
//! what they accept round-trips. (The CSV writer's round trip through an RFC 4180 reader is a
//! property in `costs::csv`; schedule decisions have theirs in `schedule::tests`.)

use atelier_domain::{
    DomainError, ProductId, WorkspaceId, WorkspaceName,
    costs::{Month, MonthBoundary},
    schedule::Schedule,
};
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Any JSON value, a few levels deep, with the keys a schedule has among random ones.
fn any_json() -> impl Strategy<Value = Value> {
    atelier_domain::testing::json::any_json(
        &["09:00", "24:00", "9:00", "mon", "fr", "Europe/Paris"],
        &["timezone", "windows", "days", "start", "end", "holidays", "outside", "enabled"],
    )
}

/// A schedule-shaped body: the right keys with values that are often, not always, valid.
fn schedule_like() -> impl Strategy<Value = Value> {
    let time = prop_oneof!["([01][0-9]|2[0-3]):[0-5][0-9]", "[0-9]{1,2}:[0-9]{1,3}", "\\PC{0,5}"];
    let day = prop_oneof![
        prop::sample::select(vec!["mon", "tue", "wed", "thu", "fri", "sat", "sun"]).prop_map(str::to_owned),
        "[a-z]{0,4}"
    ];
    let window = (prop::collection::vec(day, 0..4), time.clone(), time)
        .prop_map(|(days, start, end)| json!({ "days": days, "start": start, "end": end }));
    (
        prop::sample::select(vec!["Europe/Paris", "UTC", "America/New_York", "Mars/Olympus", ""]),
        prop::collection::vec(window, 0..5),
        prop_oneof![
            Just(Value::Null),
            Just(json!("fr")),
            Just(json!("xx")),
            prop::collection::vec("[0-9]{4}-[0-9]{2}-[0-9]{2}|\\PC{0,4}", 0..3).prop_map(|d| json!(d)),
        ],
        prop::sample::select(vec!["stop", "hibernate", "off"]),
        any::<bool>(),
    )
        .prop_map(|(timezone, windows, holidays, outside, enabled)| {
            json!({ "timezone": timezone, "windows": windows, "holidays": holidays, "outside": outside, "enabled": enabled })
        })
}

fn is_field_error(error: &DomainError) -> bool {
    matches!(error, DomainError::Unprocessable { field, .. } if !field.is_empty())
}

fn now() -> Timestamp {
    "2026-11-22T12:00:00Z".parse().expect("an instant")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_json_body_parses_as_a_schedule_or_is_refused_naming_a_field(body in prop_oneof![any_json(), schedule_like()]) {
        match Schedule::parse(body.clone()) {
            Ok(schedule) => {
                // What is accepted serializes to a body that parses to the same schedule.
                let wire = serde_json::to_value(&schedule).expect("a schedule serializes");
                prop_assert_eq!(Schedule::parse(wire).expect("its own wire form parses"), schedule);
            }
            Err(error) => prop_assert!(is_field_error(&error), "{:?} for {}", error, body),
        }
    }

    #[test]
    fn the_month_parameter_accepts_exactly_yyyy_mm_of_a_begun_month(
        value in "\\PC{0,9}|[0-9]{4}-[0-9]{2}|[0-9]{4}-[0-9]-|[0-9]{3}-[0-9]{3}"
    ) {
        match Month::parse(&value, now(), &MonthBoundary::Utc) {
            Ok(month) => {
                prop_assert_eq!(month.to_string(), value.clone());
                prop_assert!((1..=12).contains(&month.month()));
                prop_assert!(month <= Month::containing(now(), &MonthBoundary::Utc));
            }
            Err(error) => {
                prop_assert!(
                    matches!(&error, DomainError::Unprocessable { field, .. } if field == "month"),
                    "{:?}", error
                );
            }
        }
    }

    #[test]
    fn every_begun_month_parses_and_no_later_one(year in 1970i16..=2030, month in 1i8..=12) {
        let text = format!("{year:04}-{month:02}");
        let parsed = Month::parse(&text, now(), &MonthBoundary::Utc);
        if (year, month) <= (2026, 11) {
            prop_assert_eq!(parsed.expect("a begun month").to_string(), text);
        } else {
            prop_assert!(parsed.is_err(), "{} has not begun", text);
        }
    }

    #[test]
    fn ids_and_names_from_the_outside_are_checked_not_trusted(
        value in "\\PC{0,80}|ws-[0-9a-z]{26}|[a-z0-9-]{1,70}| ?[A-Za-zé0-9][A-Za-z0-9 ._'-]{0,66}"
    ) {
        if let Ok(name) = WorkspaceName::parse(&value) {
            let n = name.as_str().chars().count();
            prop_assert!((1..=64).contains(&n));
            prop_assert!(name.as_str().chars().next().is_some_and(char::is_alphanumeric));
            prop_assert_eq!(name.as_str(), value.trim());
        }
        if let Ok(id) = ProductId::parse(&value) {
            prop_assert!(!id.as_str().is_empty() && id.as_str().len() <= 64);
            prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        }
        match WorkspaceId::parse(&value) {
            Ok(id) => prop_assert_eq!(id.as_str(), value.as_str()),
            // A malformed id is answered like a missing one: nothing to learn from the error.
            Err(error) => {
                let not_found = matches!(error, DomainError::NotFound { kind: "workspace" });
                prop_assert!(not_found, "{:?}", error);
            }
        }
    }
}
