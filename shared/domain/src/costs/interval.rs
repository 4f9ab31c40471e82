//! From lifecycle events to billable intervals.
//!
//! How each state bills (the one place this is decided). Compute follows what EC2 bills in
//! the instance's state ("Instance state and billing",
//! <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html>):
//! `pending` no, `running` yes, `stopping` no unless the instance is hibernating,
//! `shutting-down` no. Storage is billed for as long as the volume exists.
//!
//! | state           | EC2 state                        | usage            | why |
//! |-----------------|----------------------------------|------------------|-----|
//! | `PROVISIONING`  | (none yet), `pending`            | `Stopped`        | the volume is ours from creation; compute starts with the `PROVISIONING → RUNNING` observation |
//! | `STARTING`      | `pending`                        | `Stopped`        | EC2 bills from `running` on |
//! | `RUNNING`       | `running`                        | `Running`        | |
//! | `STOPPING`      | `stopping`                       | `Stopped`        | not billed while preparing to stop |
//! | `HIBERNATING`   | `stopping` (hibernation)         | `Running`        | billed while the RAM is written to the volume |
//! | `STOPPED`       | `stopped`                        | `Stopped`        | storage only |
//! | `HIBERNATED`    | `stopped`                        | `Hibernated`     | storage only (the RAM image lives on the volume) |
//! | `TERMINATING`   | `shutting-down`                  | `Stopped`        | the volume exists until `TERMINATED` is observed |
//! | `FAILED`        | any                              | nothing          | a failed provisioning leaves nothing to bill; FAILED time is a deliberate gap |
//! | `TERMINATED`    | `terminated`                     | nothing          | the end of the workspace's life |
//!
//! Each interval is as long as Atelier saw the state: events are stamped with the instant
//! the change happened, not when it was written.

use std::collections::HashSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::kernel::WorkspaceId;
use crate::workspaces::{Event, State};

/// What a stretch of a workspace's life is billed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Usage {
    /// Compute and storage are billed.
    Running,
    /// Storage only.
    Stopped,
    /// Storage only; kept apart from `Stopped` so reports can show hibernation.
    Hibernated,
}

impl Usage {
    /// True when the instance's hourly compute price applies.
    pub fn bills_compute(self) -> bool {
        self == Usage::Running
    }
}

/// How time spent in `state` is billed, or `None` when it is not billed at all
/// (`FAILED`, `TERMINATED`). See the module documentation for the reasons.
pub fn usage_of(state: State) -> Option<Usage> {
    match state {
        State::Running | State::Hibernating => Some(Usage::Running),
        State::Provisioning | State::Starting | State::Stopping | State::Stopped | State::Terminating => {
            Some(Usage::Stopped)
        }
        State::Hibernated => Some(Usage::Hibernated),
        State::Failed | State::Terminated => None,
    }
}

/// A half-open stretch `[start, end)` of one workspace's life, billed as `usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interval {
    /// The workspace it belongs to.
    pub workspace_id: WorkspaceId,
    /// How it is billed.
    pub usage: Usage,
    /// Inclusive start.
    pub start: Timestamp,
    /// Exclusive end; always after `start` for intervals built by [`intervals`].
    pub end: Timestamp,
}

impl Interval {
    /// The length in nanoseconds: integer, so durations add up exactly.
    pub fn duration_nanos(&self) -> i128 {
        self.end.as_nanosecond() - self.start.as_nanosecond()
    }

    /// The same interval cut to `[start, end)`; the caller keeps `start < end` inside it.
    pub(crate) fn with_bounds(&self, start: Timestamp, end: Timestamp) -> Interval {
        Interval { workspace_id: self.workspace_id.clone(), usage: self.usage, start, end }
    }
}

/// Tiles the life of the workspace `workspace_id` into billable intervals, from its
/// creation until its termination or, while it lives, until `until`.
///
/// - Events are taken in time order (stable, so events at the same instant keep their
///   recorded order); events after `until` are ignored, as is anything after `TERMINATED`.
/// - A replayed event (same `at`, `from` and `to`) counts once: replaying history into
///   the ledger is idempotent.
/// - Consecutive stretches billed the same way are merged (`RUNNING → HIBERNATING` is one
///   running interval, so a running interval is a whole run: from a start to the next stop,
///   what EC2's 60-second minimum applies to); zero-length stretches are dropped.
/// - Only `to` drives the state: an event whose `from` disagrees with the previous `to`
///   (a gap in the history) still moves the workspace where the event says it went.
///
/// The intervals are sorted, never overlap, and cover `[creation, end)` exactly except
/// for time spent `FAILED`, which bills nothing.
///
/// Events carry no workspace id, hence the explicit `workspace_id`.
pub fn intervals(workspace_id: &WorkspaceId, events: &[Event], until: Timestamp) -> Vec<Interval> {
    let mut ordered: Vec<&Event> = events.iter().filter(|e| e.at <= until).collect();
    ordered.sort_by_key(|e| e.at);
    let mut seen = HashSet::new();
    ordered.retain(|e| seen.insert((e.at, e.from, e.to)));

    let mut out: Vec<Interval> = Vec::new();
    // The state the workspace is in and since when; `None` before the first event.
    let mut current: Option<(State, Timestamp)> = None;
    for event in ordered {
        if let Some((state, since)) = current {
            if state == State::Terminated {
                break;
            }
            push(&mut out, workspace_id, usage_of(state), since, event.at);
        }
        current = Some((event.to, event.at));
    }
    if let Some((state, since)) = current {
        push(&mut out, workspace_id, usage_of(state), since, until);
    }
    out
}

/// Appends `[start, end)` as `usage`, merging with the previous interval when it is
/// billed the same way and touches it.
fn push(out: &mut Vec<Interval>, workspace_id: &WorkspaceId, usage: Option<Usage>, start: Timestamp, end: Timestamp) {
    let Some(usage) = usage else { return };
    if end <= start {
        return;
    }
    if let Some(last) = out.last_mut()
        && last.usage == usage
        && last.end == start
    {
        last.end = end;
        return;
    }
    out.push(Interval { workspace_id: workspace_id.clone(), usage, start, end });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspaces::{Actor, EventAction};
    use crate::workspaces::{Trigger, lifecycle::TRANSITIONS};
    use proptest::prelude::*;

    fn ws() -> WorkspaceId {
        WorkspaceId::parse("ws-0123456789abcdefghjkmnpqrs").expect("valid id")
    }

    fn ts(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).expect("in range")
    }

    fn event(at: i64, from: Option<State>, to: State) -> Event {
        Event {
            at: ts(at),
            actor: Actor::state_sync(),
            action: EventAction::Sync,
            from,
            to,
            reason: None,
            connection: None,
        }
    }

    fn iv(usage: Usage, start: i64, end: i64) -> Interval {
        Interval { workspace_id: ws(), usage, start: ts(start), end: ts(end) }
    }

    #[test]
    fn a_typical_life() {
        use State::*;
        let events = [
            event(0, None, Provisioning),
            event(100, Some(Provisioning), Running),
            event(1000, Some(Running), Stopping),
            event(1060, Some(Stopping), Stopped),
            event(5000, Some(Stopped), Starting),
            event(5030, Some(Starting), Running),
            event(6000, Some(Running), Hibernating),
            event(6010, Some(Hibernating), Hibernated),
            event(9000, Some(Hibernated), Terminating),
            event(9100, Some(Terminating), Terminated),
        ];
        assert_eq!(
            intervals(&ws(), &events, ts(99_999)),
            vec![
                iv(Usage::Stopped, 0, 100),
                iv(Usage::Running, 100, 1000),
                // STOPPING and STARTING are not billed by EC2: storage only.
                iv(Usage::Stopped, 1000, 5030),
                // HIBERNATING is: the run lasts until the RAM is on the volume.
                iv(Usage::Running, 5030, 6010),
                iv(Usage::Hibernated, 6010, 9000),
                iv(Usage::Stopped, 9000, 9100),
            ]
        );
    }

    #[test]
    fn a_living_workspace_is_closed_at_until_and_later_events_are_ignored() {
        use State::*;
        let events = [
            event(0, None, Provisioning),
            event(100, Some(Provisioning), Running),
            event(500, Some(Running), Hibernating),
        ];
        assert_eq!(intervals(&ws(), &events, ts(300)), vec![iv(Usage::Stopped, 0, 100), iv(Usage::Running, 100, 300)]);
        assert!(intervals(&ws(), &events, ts(-1)).is_empty());
    }

    #[test]
    fn failed_time_bills_nothing() {
        use State::*;
        let events = [
            event(0, None, Provisioning),
            event(100, Some(Provisioning), Failed),
            event(700, Some(Failed), Terminating),
            event(760, Some(Terminating), Terminated),
        ];
        assert_eq!(intervals(&ws(), &events, ts(1000)), vec![iv(Usage::Stopped, 0, 100), iv(Usage::Stopped, 700, 760)]);
    }

    #[test]
    fn replayed_and_unordered_events_count_once() {
        use State::*;
        let events = [
            event(100, Some(Provisioning), Running),
            event(0, None, Provisioning),
            event(100, Some(Provisioning), Running),
            event(0, None, Provisioning),
        ];
        assert_eq!(intervals(&ws(), &events, ts(200)), vec![iv(Usage::Stopped, 0, 100), iv(Usage::Running, 100, 200)]);
    }

    /// A creation event followed by a random walk through the transition table.
    fn walk() -> impl Strategy<Value = (Vec<Event>, Timestamp)> {
        (prop::collection::vec((any::<u16>(), 0i64..200_000), 0..40), 0i64..200_000).prop_map(|(steps, tail)| {
            let mut t = 0;
            let mut state = State::Provisioning;
            let mut events = vec![event(t, None, state)];
            for (choice, gap) in steps {
                let options: Vec<_> = TRANSITIONS.iter().filter(|(from, _, _)| *from == state).collect();
                if options.is_empty() {
                    break;
                }
                let (_, trigger, to) = options[usize::from(choice) % options.len()];
                t += gap + 1;
                let action = match trigger {
                    Trigger::Command(c) => EventAction::from(*c),
                    Trigger::Observation(_) => EventAction::Sync,
                };
                events.push(Event { action, ..event(t, Some(state), *to) });
                state = *to;
            }
            (events, ts(t + tail))
        })
    }

    proptest! {
        #[test]
        fn intervals_tile_the_life_except_failed_time((events, until) in walk()) {
            let got = intervals(&ws(), &events, until);
            let creation = events[0].at;
            let last = events.last().expect("creation");
            let end = if last.to == State::Terminated { last.at } else { until };

            // Each stretch between two events (or the last event and `end`).
            let stretches: Vec<(State, Timestamp, Timestamp)> = events
                .iter()
                .enumerate()
                .map(|(i, e)| (e.to, e.at, events.get(i + 1).map_or(end, |n| n.at)))
                .filter(|(s, a, b)| *s != State::Terminated && a < b)
                .collect();
            let failed: i128 = stretches
                .iter()
                .filter(|(s, _, _)| *s == State::Failed)
                .map(|(_, a, b)| b.as_nanosecond() - a.as_nanosecond())
                .sum();
            let billed: i128 = got.iter().map(Interval::duration_nanos).sum();
            prop_assert_eq!(billed + failed, end.as_nanosecond() - creation.as_nanosecond());

            for pair in got.windows(2) {
                prop_assert!(pair[0].end <= pair[1].start, "overlap: {:?}", pair);
                if pair[0].end < pair[1].start {
                    // A gap is exactly FAILED time.
                    prop_assert!(stretches.iter().any(|(s, a, b)| *s == State::Failed && *a == pair[0].end && *b == pair[1].start));
                }
            }
            for i in &got {
                prop_assert!(i.start < i.end);
            }
            if let Some(first) = got.first() {
                prop_assert_eq!(first.start, creation);
            }
            // Every billed stretch lies inside one interval of its usage.
            for (state, a, b) in &stretches {
                if let Some(usage) = usage_of(*state) {
                    prop_assert!(got.iter().any(|i| i.usage == usage && i.start <= *a && *b <= i.end));
                }
            }
        }

        #[test]
        fn replaying_an_event_changes_nothing((events, until) in walk(), pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>()) {
            let expected = intervals(&ws(), &events, until);
            let mut replayed = events.clone();
            let duplicate = Event { actor: Actor::user("replayer"), ..pick.get(&events).clone() };
            replayed.insert(at.index(events.len() + 1), duplicate);
            prop_assert_eq!(intervals(&ws(), &replayed, until), expected);
        }
    }
}
