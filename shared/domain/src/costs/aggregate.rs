//! A workspace's month so far, kept with each of its events: what a report of the month
//! needs without reading the history (docs/adr/0006-costs.md, "Month aggregates").
//!
//! [`MonthUsage`] is folded from the events in the order they are written ([`record`], by
//! the writers of the workspace, in the same conditional write as the event: the
//! workspace item and its month index entry carry it). It holds the exact nanoseconds of
//! the month up to the last event, the stretch that may still merge with what follows
//! (a run goes on through `RUNNING → HIBERNATING`, and EC2's minimum is per run) and the
//! state the workspace is in since then, so a read at any later instant extends the open
//! stretch itself ([`MonthUsage::in_month`]).
//!
//! It is [`super::intervals`] and [`super::workspace_costs`] done incrementally, with the
//! same rules: the same merging, replays at one instant counted once, nothing after
//! `TERMINATED`, top-ups in the month the run started. The history stays the truth: an
//! aggregate that cannot say (an event older than the one before it, so the history's
//! time order differs from the written one; a price version that begins inside the month;
//! a workspace written before aggregates existed) makes the read fall back to the
//! history for that workspace, so an aggregate is never wrong, at worst absent.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::interval::{Usage, usage_after};
use super::month::Month;
use super::price::{Billable, PriceBook, top_up_nanos};
use super::use_cases::MONTH_BOUNDARY;
use crate::workspaces::{Event, InstanceState, State, Workspace};

/// A stretch `[start, end)` billed as `usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stretch {
    /// How it bills.
    pub usage: Usage,
    /// Inclusive start.
    pub start: Timestamp,
    /// Exclusive end.
    pub end: Timestamp,
}

/// The state the workspace entered with its last event, and how that bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Open {
    /// The state.
    pub state: State,
    /// How time in it bills (`None`: it does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Since when: the last event's instant.
    pub since: Timestamp,
}

/// What makes two events at one instant the same one ([`super::intervals`] counts it once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventKey {
    /// The state it left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<State>,
    /// The state it entered.
    pub to: State,
    /// What EC2 showed of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceState>,
}

impl EventKey {
    fn of(event: &Event) -> EventKey {
        EventKey { from: event.from, to: event.to, instance: event.instance.as_ref().map(|i| i.state) }
    }
}

/// One workspace's usage in the month of its last event, up to that event, and how it
/// bills since (module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthUsage {
    /// The month of the last event (UTC, [`MONTH_BOUNDARY`]).
    #[serde(with = "month_text")]
    pub month: Month,
    /// Nanoseconds billed running in the month, from the stretches that are over.
    pub running_nanos: i64,
    /// Nanoseconds stopped or hibernated (storage only) in the month, likewise.
    pub stopped_nanos: i64,
    /// Nanoseconds EC2's minimum added to the runs over that started in the month.
    pub top_up_nanos: i64,
    /// The last stretch, which the open one may still extend (same usage, no time between).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Stretch>,
    /// The state since the last event.
    pub open: Open,
    /// The events at `open.since`, so a replay at that instant counts once.
    pub last: Vec<EventKey>,
}

/// Folds `event` into `workspace`'s month usage ([`crate::workspaces::writer::append`]
/// calls it on every workspace written with an event, in the same write). An event older
/// than the last one cannot be folded in (the history orders by instant): the aggregate is
/// dropped, and reads go to that workspace's history from then on, as they do for a
/// workspace created before aggregates existed.
///
/// An aggregate whose state is not the one the event leaves was not written with the
/// workspace's last event (a write that bypassed [`crate::workspaces::writer::append`]): it
/// is dropped too, rather than carried on wrong.
pub fn record(workspace: &mut Workspace, event: &Event) {
    workspace.usage = workspace
        .usage
        .take()
        .filter(|usage| event.from == Some(usage.open.state))
        .and_then(|usage| usage.after(event));
}

impl MonthUsage {
    /// The usage of a workspace created at `at` (its creation event: into `PROVISIONING`).
    pub fn created(at: Timestamp) -> MonthUsage {
        let key = EventKey { from: None, to: State::Provisioning, instance: None };
        MonthUsage {
            month: Month::containing(at, &MONTH_BOUNDARY),
            running_nanos: 0,
            stopped_nanos: 0,
            top_up_nanos: 0,
            pending: None,
            open: Open { state: State::Provisioning, usage: super::interval::usage_of(State::Provisioning), since: at },
            last: vec![key],
        }
    }

    /// The usage after a workspace's first event.
    pub fn first(event: &Event) -> MonthUsage {
        MonthUsage {
            month: Month::containing(event.at, &MONTH_BOUNDARY),
            running_nanos: 0,
            stopped_nanos: 0,
            top_up_nanos: 0,
            pending: None,
            open: Open { state: event.to, usage: usage_after(event, None), since: event.at },
            last: vec![EventKey::of(event)],
        }
    }

    /// The usage after `event`, or `None` when it is older than the last one.
    pub fn after(mut self, event: &Event) -> Option<MonthUsage> {
        let open = self.open;
        if open.state == State::Terminated {
            // Nothing after TERMINATED counts.
            return Some(self);
        }
        if event.at < open.since {
            return None;
        }
        let key = EventKey::of(event);
        if event.at == open.since && self.last.contains(&key) {
            return Some(self);
        }
        self.roll(Month::containing(event.at, &MONTH_BOUNDARY));
        self.push(open.usage, open.since, event.at);
        self.open = Open { state: event.to, usage: usage_after(event, open.usage), since: event.at };
        if event.at != open.since {
            self.last.clear();
        }
        self.last.push(key);
        Some(self)
    }

    /// Starts `month` when it is later: what is over belongs to the months before.
    fn roll(&mut self, month: Month) {
        if month > self.month {
            self.month = month;
            (self.running_nanos, self.stopped_nanos, self.top_up_nanos) = (0, 0, 0);
        }
    }

    /// Appends `[start, end)`, merging it into the pending stretch when it continues it
    /// ([`super::intervals`]' rule), else settling the pending one.
    fn push(&mut self, usage: Option<Usage>, start: Timestamp, end: Timestamp) {
        let Some(usage) = usage else { return };
        if end <= start {
            return;
        }
        if let Some(pending) = &mut self.pending
            && pending.usage == usage
            && pending.end == start
        {
            pending.end = end;
            return;
        }
        if let Some(pending) = self.pending.take() {
            self.settle(pending);
        }
        self.pending = Some(Stretch { usage, start, end });
    }

    /// Counts a stretch that can no longer grow: its part in the month, and its top-up
    /// when it is a short run that started in the month.
    fn settle(&mut self, stretch: Stretch) {
        let (Some(start), Some(end)) = (self.month.start(&MONTH_BOUNDARY), self.month.end(&MONTH_BOUNDARY)) else {
            return;
        };
        let (from, to) = (stretch.start.max(start), stretch.end.min(end));
        if from < to {
            let nanos = nanos_between(from, to);
            match stretch.usage {
                Usage::Running => self.running_nanos += nanos,
                Usage::Stopped | Usage::Hibernated => self.stopped_nanos += nanos,
            }
        }
        if Month::containing(stretch.start, &MONTH_BOUNDARY) == self.month {
            let ran = stretch.end.as_nanosecond() - stretch.start.as_nanosecond();
            self.top_up_nanos += i64::try_from(top_up_nanos(stretch.usage, ran)).unwrap_or(0);
        }
    }

    /// The usage of `month` up to `until`: (running, stopped, top-up) nanoseconds, or
    /// `None` when this aggregate cannot say (its last event is after `until` or in a later
    /// month).
    pub fn in_month(&self, month: Month, until: Timestamp) -> Option<(i64, i64, i64)> {
        if self.month > month || self.open.since > until {
            return None;
        }
        let mut read = self.clone();
        read.roll(month);
        read.push(read.open.usage, read.open.since, until);
        if let Some(pending) = read.pending.take() {
            read.settle(pending);
        }
        Some((read.running_nanos, read.stopped_nanos, read.top_up_nanos))
    }

    /// The time of `month` up to `until` to price, when one price version of `prices`
    /// covers the whole of it from `from` (the workspace's creation, or the month's start
    /// if later) on; `None` sends the read to the history. Returns (running, stopped)
    /// nanoseconds with the time to price.
    pub fn billable(
        &self,
        month: Month,
        from: Timestamp,
        until: Timestamp,
        prices: &PriceBook,
    ) -> Option<(i128, i128, Billable)> {
        let (running, stopped, top_up) = self.in_month(month, until)?;
        let start = month.start(&MONTH_BOUNDARY)?.max(from);
        let end = month.end(&MONTH_BOUNDARY)?.min(until);
        let version = prices.index_at(start)?;
        if prices.versions().get(version + 1).is_some_and(|next| next.effective_from < end) {
            return None;
        }
        let mut billable = Billable::default();
        let (running, stopped, top_up) = (i128::from(running), i128::from(stopped), i128::from(top_up));
        if running + top_up > 0 {
            billable.add_compute(version, running + top_up);
        }
        if stopped > 0 {
            billable.add_stopped(version, stopped);
        }
        if running + stopped > 0 {
            // The report month is the calendar UTC month storage is prorated over.
            billable.add_storage(version, month, running + stopped);
        }
        Some((running + top_up, stopped, billable))
    }

    /// When the workspace reached `TERMINATED`, if it has (nothing after it is folded in).
    pub fn ended_at(&self) -> Option<Timestamp> {
        (self.open.state == State::Terminated).then_some(self.open.since)
    }
}

fn nanos_between(from: Timestamp, to: Timestamp) -> i64 {
    i64::try_from(to.as_nanosecond() - from.as_nanosecond()).unwrap_or(i64::MAX)
}

/// `YYYY-MM` on the item, as everywhere else.
mod month_text {
    use super::Month;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(month: &Month, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(month)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        let text = String::deserialize(d)?;
        Month::parse_field(&text, "usage.month").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::interval::intervals;
    use crate::costs::price::PriceVersion;
    use crate::costs::report::{WorkspaceCost, WorkspaceInfo, line, workspace_costs};
    use crate::kernel::{ProductId, WorkspaceId};
    use crate::workspaces::{Actor, EventAction, InstanceSeen, TimeSource, Trigger, lifecycle::TRANSITIONS};
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    const INSTANCE_STATES: [InstanceState; 7] = [
        InstanceState::Pending,
        InstanceState::Running,
        InstanceState::Stopping,
        InstanceState::Stopped,
        InstanceState::ShuttingDown,
        InstanceState::Terminated,
        InstanceState::Missing,
    ];

    /// 2026-01-31T23:58:00Z: two minutes before February, so short runs cross months.
    fn origin() -> i64 {
        1_769_903_880
    }

    fn ts(seconds: i64, nanos: i32) -> Timestamp {
        Timestamp::new(origin() + seconds, nanos).expect("in range")
    }

    fn event(at: Timestamp, from: Option<State>, to: State) -> Event {
        Event {
            at,
            actor: Actor::state_sync(),
            action: EventAction::Sync,
            from,
            to,
            reason: None,
            connection: None,
            instance: None,
        }
    }

    /// Gaps from none (two events at one instant) through seconds (short runs) to weeks.
    fn gap() -> impl Strategy<Value = (i64, i32)> {
        prop_oneof![Just((0, 0)), (0i64..90, 0i32..1_000_000_000), (0i64..3_000_000, Just(0))]
    }

    /// A creation, then a random walk through the lifecycle table with FAILED observations,
    /// edits (`from` = `to`) and replays; and an instant to read at after it.
    fn history() -> impl Strategy<Value = (Vec<Event>, Timestamp)> {
        let step = (any::<u16>(), 0u8..10, gap(), 0usize..INSTANCE_STATES.len());
        (0i64..200, prop::collection::vec(step, 0..30), gap()).prop_map(|(start, steps, tail)| {
            let mut t = ts(start, 0);
            let mut state = State::Provisioning;
            let mut events = vec![event(t, None, state)];
            for (choice, kind, (secs, nanos), seen) in steps {
                t += jiff::SignedDuration::new(secs, nanos);
                let seen = InstanceSeen {
                    id: "i-0123".into(),
                    state: INSTANCE_STATES[seen],
                    transition_reason: None,
                    time_source: TimeSource::Observed,
                };
                match kind {
                    // A replay of the last event.
                    0 => events.push(events.last().expect("creation").clone()),
                    // An edit or a FAILED observation: the state stays.
                    1 => {
                        let instance = (state == State::Failed).then_some(seen);
                        events.push(Event { instance, ..event(t, Some(state), state) });
                    }
                    _ => {
                        let options: Vec<_> = TRANSITIONS.iter().filter(|(from, _, _)| *from == state).collect();
                        if options.is_empty() {
                            continue;
                        }
                        let (_, trigger, to) = options[usize::from(choice) % options.len()];
                        let action = match trigger {
                            Trigger::Command(c) => EventAction::from(*c),
                            Trigger::Observation(_) => EventAction::Sync,
                        };
                        let instance = (*to == State::Failed && kind % 2 == 0).then_some(seen);
                        events.push(Event { action, instance, ..event(t, Some(state), *to) });
                        state = *to;
                    }
                }
            }
            (events, t + jiff::SignedDuration::new(tail.0, tail.1))
        })
    }

    fn info(created_at: Timestamp) -> WorkspaceInfo {
        WorkspaceInfo {
            workspace_id: WorkspaceId::generate(),
            workspace_name: "w".into(),
            owner: "alice".into(),
            email: String::new(),
            cost_centre: None,
            product: ProductId::parse("small-t3-large").expect("id"),
            instance_type: "t3.large".into(),
            volume_gib: 30,
            created_at,
            ended_at: None,
        }
    }

    fn book(effective: &[Timestamp]) -> PriceBook {
        let prices = ["0.0832", "0.35", "1.10"];
        PriceBook::new(
            effective
                .iter()
                .zip(prices)
                .map(|(at, price)| PriceVersion {
                    effective_from: *at,
                    compute_per_hour: Decimal::from_str(price).expect("price"),
                    storage_per_gb_month: Decimal::from_str("0.0928").expect("price"),
                    currency: "EUR".into(),
                })
                .collect(),
        )
        .expect("book")
    }

    /// The month's line from the history, as the ledger computes it.
    fn from_history(
        info: &WorkspaceInfo,
        events: &[Event],
        month: Month,
        until: Timestamp,
        book: &PriceBook,
    ) -> Option<WorkspaceCost> {
        let billable = intervals(&info.workspace_id, events, until);
        let info =
            WorkspaceInfo { ended_at: events.iter().find(|e| e.to == State::Terminated).map(|e| e.at), ..info.clone() };
        workspace_costs(&info, &billable, book, &MONTH_BOUNDARY, until)
            .expect("priced")
            .into_iter()
            .find(|l| l.month == month)
    }

    /// The month's line from the aggregate; `Err` when it cannot say.
    fn from_aggregate(
        info: &WorkspaceInfo,
        usage: &MonthUsage,
        month: Month,
        until: Timestamp,
        book: &PriceBook,
    ) -> Result<Option<WorkspaceCost>, ()> {
        let (running, stopped, top_up) = usage.in_month(month, until).ok_or(())?;
        if running + stopped + top_up == 0 {
            return Ok(None);
        }
        let (running, stopped, billable) = usage.billable(month, info.created_at, until, book).ok_or(())?;
        let info = WorkspaceInfo { ended_at: usage.ended_at(), ..info.clone() };
        Ok(Some(line(&MONTH_BOUNDARY, month, &info, (running, stopped), &billable, book, until).expect("priced")))
    }

    fn folded(events: &[Event]) -> Option<MonthUsage> {
        let mut usage = Some(MonthUsage::first(&events[0]));
        for event in &events[1..] {
            usage = usage.and_then(|u| u.after(event));
        }
        usage
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// The aggregate's line of every month it can answer is the history's, to the
        /// nanosecond and the full-precision cent: same seconds, same rounding.
        #[test]
        fn aggregates_price_like_the_history((events, until) in history(), second in 0i64..4_000_000) {
            let info = info(events[0].at);
            let usage = folded(&events).expect("a history written in time order folds");
            let books = [book(&[Timestamp::UNIX_EPOCH]), book(&[Timestamp::UNIX_EPOCH, ts(second, 0)])];
            let last = Month::containing(until, &MONTH_BOUNDARY);
            for book in &books {
                for month in [last.previous().expect("month"), last] {
                    if let Ok(line) = from_aggregate(&info, &usage, month, until, book) {
                        prop_assert_eq!(line, from_history(&info, &events, month, until, book), "{}", month);
                    } else {
                        // Only a later month, or a price change inside the month, sends the read to the history.
                        let start = month.start(&MONTH_BOUNDARY).expect("start");
                        let changes = book.versions().iter().any(|v| v.effective_from > start);
                        prop_assert!(usage.month > month || changes);
                    }
                }
            }
        }

        /// A workspace created through the use case starts with [`MonthUsage::created`], the
        /// creation event's fold.
        #[test]
        fn created_is_the_creation_event_folded(seconds in 0i64..100_000_000) {
            let at = ts(seconds, 0);
            prop_assert_eq!(MonthUsage::created(at), MonthUsage::first(&event(at, None, State::Provisioning)));
        }
    }

    /// Through the ledger on the memory store: the current month's lines come from the
    /// aggregates without a history read and equal the history's; a past month reads them.
    #[tokio::test]
    async fn the_ledger_prices_the_current_month_from_aggregates_only() {
        use crate::costs::ledger::{Ledger, Scope};
        use crate::testing::{MemoryStore, ProductBuilder, WorkspaceBuilder};
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (with, without) = (MemoryStore::default(), MemoryStore::default());
        for store in [&with, &without] {
            store.put_product(ProductBuilder::new("small-t3-large").hourly("0.0944").build());
        }
        let strategy = history();
        let mut until = ts(0, 0);
        for n in 0..40 {
            let (events, end) = proptest::strategy::ValueTree::current(
                &proptest::strategy::Strategy::new_tree(&strategy, &mut runner).expect("tree"),
            );
            until = until.max(end);
            let workspace = WorkspaceBuilder::new()
                .owner(&format!("user{}", n % 7))
                .product("small-t3-large", "t3.large")
                .state(events.last().expect("creation").to)
                .at(events[0].at)
                .updated_at(events.last().expect("creation").at)
                .version(events.len() as u64)
                .build();
            without.load(workspace.clone(), events.clone());
            with.load(Workspace { usage: folded(&events), ..workspace }, events);
        }
        for month in [Month::containing(until, &MONTH_BOUNDARY), Month::new(2026, 1).expect("month")] {
            let (mut from_aggregates, mut from_histories) = (Vec::new(), Vec::new());
            let (ledger, history) =
                (Ledger::new(&with, &with, &with, None), Ledger::new(&without, &without, &without, None));
            let stats = ledger.each_line(&Scope::All, month, until, &mut from_aggregates).await.expect("read");
            let history_stats = history.each_line(&Scope::All, month, until, &mut from_histories).await.expect("read");
            assert_eq!(from_aggregates, from_histories, "{month}");
            assert_eq!(history_stats.aggregated, 0);
            if month == Month::containing(until, &MONTH_BOUNDARY) {
                assert_eq!((stats.workspaces, stats.events), (0, 0), "no history read: {stats:?}");
                assert!(stats.aggregated > 0, "{stats:?}");
            } else {
                assert_eq!(stats.aggregated, 0, "a past month is the histories'");
            }
        }
    }

    #[test]
    fn an_event_older_than_the_last_drops_the_aggregate() {
        let created = MonthUsage::first(&event(ts(100, 0), None, State::Provisioning));
        assert_eq!(created.after(&event(ts(50, 0), Some(State::Provisioning), State::Running)), None);
    }

    #[test]
    fn a_run_of_forty_seconds_over_midnight_is_billed_sixty_in_january() {
        // 23:59:40 → 00:00:20 the next month: a 40-second run, topped up in January.
        let events = [
            event(ts(0, 0), None, State::Provisioning),
            event(ts(100, 0), Some(State::Provisioning), State::Running),
            event(ts(140, 0), Some(State::Running), State::Stopping),
        ];
        let usage = folded(&events).expect("folds");
        let feb = Month::new(2026, 2).expect("month");
        let (running, _, top_up) = usage.in_month(feb, ts(200, 0)).expect("February");
        assert_eq!((running, top_up), (20_000_000_000, 0), "February has its 20 seconds, no top-up");
        assert_eq!(usage.in_month(Month::new(2026, 1).expect("month"), ts(200, 0)), None, "January is the history's");
    }
}
