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
//! | `FAILED`        | any                              | by its instance  | what EC2 last showed of it (the `instance` of the latest event, [`failed_usage`]): `Running` while it runs, `Stopped` (storage) while it exists, nothing once it is gone or when nobody has looked (a failed provisioning leaves nothing to bill) |
//! | `TERMINATED`    | `terminated`                     | nothing          | the end of the workspace's life |
//!
//! Each interval is as long as Atelier saw the state: events are stamped with the instant
//! the change happened, not when it was written.

use std::collections::HashSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::kernel::WorkspaceId;
use crate::workspaces::{Event, InstanceState, State};

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
/// (`TERMINATED`; `FAILED` is billed by its instance, [`failed_usage`]). See the module
/// documentation for the reasons.
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

/// How time spent FAILED is billed while EC2 shows its instance in `state`: compute while
/// it runs (AWS bills a running instance whatever Atelier thinks of it), storage while it
/// exists (its volume is there), nothing once it is gone.
pub fn failed_usage(state: InstanceState) -> Option<Usage> {
    match state {
        InstanceState::Running => Some(Usage::Running),
        s if s.exists() => Some(Usage::Stopped),
        _ => None,
    }
}

/// How the time after `event` is billed, the time before it having been billed as
/// `before`: by the state it leads to, except FAILED, which is billed by what EC2 showed
/// of its instance (in the event that entered FAILED or a later observation); an event
/// that leaves FAILED as it was without a new observation (a schedule edit) changes
/// nothing.
pub(crate) fn usage_after(event: &Event, before: Option<Usage>) -> Option<Usage> {
    match (event.to, &event.instance) {
        (State::Failed, Some(seen)) => failed_usage(seen.state),
        (State::Failed, None) if event.from == Some(State::Failed) => before,
        (state, _) => usage_of(state),
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
/// for time spent `FAILED` with no instance seen to exist, which bills nothing.
///
/// Events carry no workspace id, hence the explicit `workspace_id`.
pub fn intervals(workspace_id: &WorkspaceId, events: &[Event], until: Timestamp) -> Vec<Interval> {
    let mut ordered: Vec<&Event> = events.iter().filter(|e| e.at <= until).collect();
    ordered.sort_by_key(|e| e.at);
    let mut seen = HashSet::new();
    ordered.retain(|e| seen.insert((e.at, e.from, e.to, e.instance.as_ref().map(|i| i.state))));

    let mut out: Vec<Interval> = Vec::new();
    // The state the workspace is in, how it bills and since when; `None` before the first event.
    let mut current: Option<(State, Option<Usage>, Timestamp)> = None;
    for event in ordered {
        let mut before = None;
        if let Some((state, usage, since)) = current {
            if state == State::Terminated {
                break;
            }
            push(&mut out, workspace_id, usage, since, event.at);
            before = usage;
        }
        current = Some((event.to, usage_after(event, before), event.at));
    }
    if let Some((_, usage, since)) = current {
        push(&mut out, workspace_id, usage, since, until);
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
            instance: None,
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

    fn seen(mut e: Event, state: InstanceState) -> Event {
        e.instance = Some(crate::workspaces::InstanceSeen {
            id: "i-1".into(),
            state,
            transition_reason: None,
            time_source: crate::workspaces::TimeSource::Observed,
        });
        e
    }

    #[test]
    fn a_failed_workspace_is_billed_by_what_ec2_shows_of_its_instance() {
        use State::*;
        let events = [
            event(0, None, Provisioning),
            event(100, Some(Provisioning), Running),
            event(200, Some(Running), Stopping),
            // The stop timed out with the instance still running: compute goes on.
            seen(event(2000, Some(Stopping), Failed), InstanceState::Running),
            // An operator stopped it in the console: storage only.
            seen(event(3000, Some(Failed), Failed), InstanceState::Stopped),
            // A schedule edit on the FAILED workspace changes nothing.
            event(3500, Some(Failed), Failed),
            // Started again behind Atelier's back: compute again.
            seen(event(4000, Some(Failed), Failed), InstanceState::Running),
            // Deleted in the console: nothing more.
            seen(event(5000, Some(Failed), Failed), InstanceState::Terminated),
        ];
        assert_eq!(
            intervals(&ws(), &events, ts(9000)),
            vec![
                iv(Usage::Stopped, 0, 100),
                iv(Usage::Running, 100, 200),
                // STOPPING bills no compute; FAILED with the instance running does.
                iv(Usage::Stopped, 200, 2000),
                iv(Usage::Running, 2000, 3000),
                iv(Usage::Stopped, 3000, 4000),
                iv(Usage::Running, 4000, 5000),
            ]
        );
    }

    #[test]
    fn a_failed_workspace_nobody_has_looked_at_bills_from_its_first_observation() {
        use State::*;
        let events = [
            event(0, None, Provisioning),
            event(100, Some(Provisioning), Running),
            event(200, Some(Running), Terminating),
            // The termination timed out: nothing known of the instance yet.
            event(3800, Some(Terminating), Failed),
            seen(event(3860, Some(Failed), Failed), InstanceState::Stopped),
        ];
        assert_eq!(
            intervals(&ws(), &events, ts(4000)),
            vec![
                iv(Usage::Stopped, 0, 100),
                iv(Usage::Running, 100, 200),
                iv(Usage::Stopped, 200, 3800),
                iv(Usage::Stopped, 3860, 4000)
            ]
        );
        assert_eq!(failed_usage(InstanceState::Pending), Some(Usage::Stopped));
        assert_eq!(failed_usage(InstanceState::Stopping), Some(Usage::Stopped));
        assert_eq!(failed_usage(InstanceState::ShuttingDown), None);
        assert_eq!(failed_usage(InstanceState::Missing), None);
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
                    // A gap is exactly FAILED time (one stretch, or several FAILED observations).
                    let (gap_start, gap_end) = (pair[0].end, pair[1].start);
                    prop_assert!(stretches.iter().filter(|(_, a, b)| *a < gap_end && *b > gap_start).all(|(s, _, _)| *s == State::Failed));
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
