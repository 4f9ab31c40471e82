//! A realistic previous month for the seeded users, so that a newcomer's cost, budget and
//! finance screens show real figures on the first visit of `make dev`.
//!
//! Each life is written through [`Workspaces::write_history`] (the lifecycle's one writer,
//! at the given instants, as `POST /_local/history` does), in the organisation's working
//! hours (Europe/Paris): machines started just before 09:00 and stopped at 18:00, hibernated
//! over the weekend where the product can hibernate. Every seeded workspace is terminated
//! before the month ends, so the current month starts clean.

use atelier_domain::{
    DomainError,
    workspaces::{HistoryRequest, HistoryStep, State, Workspaces},
};
use jiff::{Timestamp, Zoned, civil, tz::TimeZone};

/// The zone the seeded people work in.
const ZONE: &str = "Europe/Paris";

/// Who worked on what last month.
struct Plan {
    owner: &'static str,
    product: &'static str,
    name: &'static str,
    /// Working weekdays, 1 = Monday.
    weekdays: &'static [i8],
    /// Local start and stop hours.
    hours: (i8, i8),
}

const PLAN: [Plan; 3] = [
    Plan {
        owner: "alice",
        product: "python-r-standard",
        name: "Survival analysis",
        weekdays: &[1, 2, 3, 4, 5],
        hours: (9, 18),
    },
    Plan { owner: "bob", product: "memory-r5-8xlarge", name: "Genome assembly", weekdays: &[2, 4], hours: (10, 16) },
    Plan { owner: "alice", product: "small-t3-large", name: "Cohort export", weekdays: &[3], hours: (14, 16) },
];

/// The seeded lives of the month before the one `now` falls in (UTC months, as reports).
pub fn previous_month(now: Timestamp) -> Result<Vec<HistoryRequest>, DomainError> {
    let zone = TimeZone::get(ZONE).map_err(|e| DomainError::unprocessable("zone", e.to_string()))?;
    let this = now.to_zoned(TimeZone::UTC).date().first_of_month();
    let first = this
        .checked_sub(jiff::Span::new().months(1))
        .map_err(|e| DomainError::unprocessable("month", e.to_string()))?;
    let days: Vec<civil::Date> =
        (0..first.days_in_month()).filter_map(|d| first.checked_add(jiff::Span::new().days(d)).ok()).collect();
    let at = |day: civil::Date, hour: i8, minute: i8| -> Result<Timestamp, DomainError> {
        day.at(hour, minute, 0, 0)
            .to_zoned(zone.clone())
            .map(|z: Zoned| z.timestamp())
            .map_err(|e| DomainError::unprocessable("zone", e.to_string()))
    };
    let mut lives = Vec::new();
    for Plan { owner, product, name, weekdays, hours: (start, stop) } in PLAN {
        let working: Vec<civil::Date> =
            days.iter().copied().filter(|d| weekdays.contains(&d.weekday().to_monday_one_offset())).collect();
        let Some((&last, _)) = working.split_last() else { continue };
        let hibernates = product != "memory-r5-8xlarge";
        let mut steps = Vec::new();
        for (i, day) in working.iter().enumerate() {
            if i == 0 {
                steps.push(step(at(*day, start - 1, 50)?, State::Provisioning));
                steps.push(step(at(*day, start - 1, 56)?, State::Running));
            } else {
                steps.push(step(at(*day, start - 1, 55)?, State::Starting));
                steps.push(step(at(*day, start - 1, 57)?, State::Running));
            }
            // Friday evenings hibernate (when the product can), other evenings stop.
            let weekend = day.weekday() == civil::Weekday::Friday && hibernates;
            let (going, gone) =
                if weekend { (State::Hibernating, State::Hibernated) } else { (State::Stopping, State::Stopped) };
            steps.push(step(at(*day, stop, 0)?, going));
            steps.push(step(at(*day, stop, 2)?, gone));
        }
        steps.push(step(at(last, stop, 30)?, State::Terminating));
        steps.push(step(at(last, stop, 35)?, State::Terminated));
        lives.push(HistoryRequest {
            owner: owner.to_owned(),
            product_id: product.to_owned(),
            name: name.to_owned(),
            instance_id: None,
            steps,
        });
    }
    Ok(lives)
}

fn step(at: Timestamp, state: State) -> HistoryStep {
    HistoryStep { at, state, reason: Some("seeded: last month's work (make dev)".to_owned()) }
}

/// Writes [`previous_month`] through `workspaces`; returns how many lives were written.
pub async fn seed(workspaces: &Workspaces, now: Timestamp) -> Result<usize, DomainError> {
    let lives = previous_month(now)?;
    let count = lives.len();
    for life in lives {
        workspaces.write_history(life).await?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seeded_life_is_in_the_previous_month_and_ends_in_it() {
        let now: Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
        let lives = previous_month(now).expect("lives");
        assert_eq!(lives.len(), 3);
        let (start, end): (Timestamp, Timestamp) =
            ("2026-02-01T00:00:00Z".parse().unwrap(), "2026-03-01T00:00:00Z".parse().unwrap());
        for life in &lives {
            assert!(life.steps.iter().all(|s| start <= s.at && s.at < end), "{}", life.name);
            assert_eq!(life.steps.first().map(|s| s.state), Some(State::Provisioning));
            assert_eq!(life.steps.last().map(|s| s.state), Some(State::Terminated));
            assert!(life.steps.windows(2).all(|w| w[0].at < w[1].at), "{}", life.name);
        }
        // February 2026 has 20 working days: alice's notebook is started on each; 09:00
        // Paris is 08:00 UTC in winter.
        let notebook = &lives[0];
        assert_eq!(notebook.steps.iter().filter(|s| s.state == State::Running).count(), 20);
        assert_eq!(notebook.steps[1].at, "2026-02-02T07:56:00Z".parse::<Timestamp>().unwrap());
        // The r5 cannot hibernate: it only ever stops.
        assert!(lives[1].steps.iter().all(|s| s.state != State::Hibernating));
    }
}
