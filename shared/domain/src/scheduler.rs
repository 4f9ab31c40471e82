//! The working-window scheduler (ARCHITECTURE.md §6): on each tick, starts the workspaces
//! whose window opened and stops (or hibernates) those whose window closed since the
//! previous tick.
//!
//! It acts only on transitions, so a user who stopped early or started late is left alone;
//! it batches EC2 calls per action, retries a failed batch one instance at a time so one bad
//! instance never blocks the others, and is idempotent: a run for an instant already handled
//! changes nothing. The instant comes from the caller (the triggering event), never from the
//! wall clock, so any instant can be replayed.

use jiff::{SignedDuration, Timestamp};
use serde::{Serialize, Serializer, ser::SerializeSeq};

use crate::{
    Actor, Command, DomainError, Event, State, Workspace,
    ports::{MAX_PAGE_SIZE, PageRequest, PowerSwitch, SchedulerRuns, StoreError, WorkspaceFilter, WorkspaceStore},
    schedule::{Desired, OutsideAction, desired, next_transition},
    service::transition,
};

/// How far back the first run ever looks for transitions: twice the EventBridge rate, so
/// that a transition falling exactly on the previous (unrecorded) tick is not missed.
pub const FIRST_RUN_LOOKBACK: SignedDuration = SignedDuration::from_mins(10);

/// The states the scheduler may act on; every other one is left alone.
pub const SCHEDULED_STATES: [State; 3] = [State::Running, State::Stopped, State::Hibernated];

/// What one scheduler run did. Ids are workspace ids.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerReport {
    /// Workspaces started because a window opened.
    pub started: Vec<String>,
    /// Workspaces stopped because a window closed.
    pub stopped: Vec<String>,
    /// Workspaces hibernated because a window closed.
    pub hibernated: Vec<String>,
    /// Workspaces looked at and left alone.
    pub skipped: usize,
    /// Workspaces whose action failed, with why; serialized as `[{"id","reason"}]`.
    #[serde(serialize_with = "serialize_failed")]
    pub failed: Vec<(String, String)>,
}

fn serialize_failed<S: Serializer>(failed: &[(String, String)], serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Failure<'a> {
        id: &'a str,
        reason: &'a str,
    }
    let mut seq = serializer.serialize_seq(Some(failed.len()))?;
    for (id, reason) in failed {
        seq.serialize_element(&Failure { id, reason })?;
    }
    seq.end()
}

/// The instant of a scheduled event's `time` field (RFC 3339), e.g. EventBridge's
/// `"2026-11-23T17:05:00Z"`. `Invalid` on field `time` when it is missing or unparseable.
pub fn event_instant(time: Option<&str>) -> Result<Timestamp, DomainError> {
    let time = time.ok_or_else(|| DomainError::invalid("time", "the scheduled event has no time"))?;
    time.parse().map_err(|_| DomainError::invalid("time", format!("\"{time}\" is not an RFC 3339 instant")))
}

/// The ports the scheduler runs on.
pub struct Scheduler<'a> {
    pub store: &'a dyn WorkspaceStore,
    pub power: &'a dyn PowerSwitch,
    pub runs: &'a dyn SchedulerRuns,
}

/// What the scheduler decided for one workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Start,
    Stop,
    Hibernate,
}

impl Action {
    fn command(self) -> Command {
        match self {
            Action::Start => Command::Start,
            Action::Stop => Command::Stop,
            Action::Hibernate => Command::Hibernate,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Action::Start => "window opened",
            Action::Stop | Action::Hibernate => "window closed",
        }
    }
}

impl Scheduler<'_> {
    /// One run for instant `at`: acts on the transitions in `(previous run, at]`.
    pub async fn run(&self, at: Timestamp) -> Result<SchedulerReport, DomainError> {
        let mut report = SchedulerReport::default();
        let previous = self.runs.last_run().await?.unwrap_or(at - FIRST_RUN_LOOKBACK);
        let workspaces = self.candidates().await?;
        if at <= previous {
            // This instant was handled already: nothing can have happened since.
            report.skipped = workspaces.len();
            return Ok(report);
        }

        let mut claimed: Vec<(Action, Workspace)> = Vec::new();
        // Claims that failed for another reason than someone acting first (the store was
        // throttled or unreachable): this interval is not done with.
        let mut unclaimed = 0;
        for workspace in workspaces {
            let Some(action) = decide(&workspace, previous, at) else {
                report.skipped += 1;
                continue;
            };
            let id = workspace.id.to_string();
            let command = action.command();
            let outcome = transition(
                self.store,
                workspace,
                command.into(),
                Actor::scheduler(),
                command.into(),
                Some(action.reason().to_owned()),
                at,
            )
            .await;
            match outcome {
                Ok(workspace) => claimed.push((action, workspace)),
                // Someone acted on it meanwhile: theirs is the last word.
                Err(DomainError::Concurrent | DomainError::IllegalTransition(_)) => report.skipped += 1,
                Err(err) => {
                    unclaimed += 1;
                    report.failed.push((id, err.to_string()));
                }
            }
        }

        for action in [Action::Start, Action::Stop, Action::Hibernate] {
            let batch: Vec<(String, String)> = claimed
                .iter()
                .filter(|(a, _)| *a == action)
                .filter_map(|(_, w)| w.provisioned.instance_id.clone().map(|instance| (w.id.to_string(), instance)))
                .collect();
            if batch.is_empty() {
                continue;
            }
            let failures = self.power_batch(action, &batch).await;
            for (id, _) in &batch {
                if let Some((_, reason)) = failures.iter().find(|(failed, _)| failed == id) {
                    if let Some((_, workspace)) = claimed.iter().find(|(_, w)| w.id.as_str() == id) {
                        self.record_failure(workspace, action, reason, at).await;
                    }
                    report.failed.push((id.clone(), reason.clone()));
                } else {
                    match action {
                        Action::Start => report.started.push(id.clone()),
                        Action::Stop => report.stopped.push(id.clone()),
                        Action::Hibernate => report.hibernated.push(id.clone()),
                    }
                }
            }
        }

        if unclaimed > 0 {
            // Not recorded: the next run covers the same interval again and retries these.
            // The workspaces claimed by this run are no longer candidates, so nothing is
            // done twice.
            tracing::warn!(unclaimed, "scheduler run left transitions unclaimed; the next run retries them");
            return Ok(report);
        }
        match self.runs.record_run(at).await {
            // A later run was recorded meanwhile: it covers this one.
            Ok(()) | Err(StoreError::Conflict) => {}
            Err(err) => return Err(err.into()),
        }
        Ok(report)
    }

    /// Every workspace in a state the scheduler may act on, read before acting so that the
    /// writes do not move items under the pages being read.
    async fn candidates(&self) -> Result<Vec<Workspace>, DomainError> {
        let mut all = Vec::new();
        for state in SCHEDULED_STATES {
            let mut page = PageRequest::first(MAX_PAGE_SIZE);
            loop {
                let batch = self.store.list(&WorkspaceFilter::State(state), &page).await?;
                all.extend(batch.items);
                match batch.next_token {
                    Some(token) => page.token = Some(token),
                    None => break,
                }
            }
        }
        Ok(all)
    }

    /// One batched EC2 call for `batch` (workspace id, instance id); when it fails, one call
    /// per instance. Returns the workspaces whose instance could not be switched, with why.
    /// Those stay transitional; state-sync reconciles them after its grace period.
    async fn power_batch(&self, action: Action, batch: &[(String, String)]) -> Vec<(String, String)> {
        let instances: Vec<String> = batch.iter().map(|(_, instance)| instance.clone()).collect();
        if self.switch(action, &instances).await.is_ok() {
            return Vec::new();
        }
        let mut failed = Vec::new();
        for (id, instance) in batch {
            if let Err(err) = self.switch(action, std::slice::from_ref(instance)).await {
                tracing::warn!(workspace = %id, instance = %instance, error = ?err, "scheduler power action failed");
                failed.push((id.clone(), format!("{err}: {}", err.source)));
            }
        }
        failed
    }

    /// Appends to the workspace's history that EC2 refused the action (the state stays
    /// transitional; state-sync reconciles it after its grace period).
    async fn record_failure(&self, workspace: &Workspace, action: Action, reason: &str, at: Timestamp) {
        let command = action.command();
        let mut next = workspace.clone();
        next.version += 1;
        let event = Event {
            at,
            actor: Actor::scheduler(),
            action: command.into(),
            from: Some(workspace.state),
            to: workspace.state,
            reason: Some(format!("EC2 refused to {}: {reason}", command.as_str())),
        };
        if let Err(err) = self.store.update(&next, workspace.state, Some(&event)).await {
            tracing::warn!(workspace = %workspace.id, error = ?err, "could not record the scheduler failure");
        }
    }

    async fn switch(&self, action: Action, instances: &[String]) -> Result<(), crate::UpstreamError> {
        match action {
            Action::Start => self.power.start(instances).await,
            Action::Stop => self.power.stop(instances, false).await,
            Action::Hibernate => self.power.stop(instances, true).await,
        }
    }
}

/// What to do with `workspace` for a run covering `(previous, at]`; `None` to leave it.
fn decide(workspace: &Workspace, previous: Timestamp, at: Timestamp) -> Option<Action> {
    workspace.provisioned.instance_id.as_ref()?;
    let schedule = &workspace.schedule;
    let transition = next_transition(schedule, previous)?;
    if transition.at > at {
        return None;
    }
    match (desired(schedule, at)?, workspace.state) {
        (Desired::Running, State::Stopped | State::Hibernated) => Some(Action::Start),
        (Desired::Stopped, State::Running) => {
            if schedule.outside() == OutsideAction::Hibernate && workspace.hibernation {
                Some(Action::Hibernate)
            } else {
                Some(Action::Stop)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, sync::Mutex};

    use async_trait::async_trait;

    use super::*;
    use crate::{
        Event, ProductId, UpstreamError, WorkspaceId, WorkspaceName,
        ports::{IdempotencyRecord, Inserted, InstanceState, Page},
        workspace::{Owner, Provisioned},
    };

    /// Workspaces in memory, with the store's conditional update.
    #[derive(Default)]
    struct Store(Mutex<Vec<Workspace>>);

    #[async_trait]
    impl WorkspaceStore for Store {
        async fn insert(
            &self,
            _: &Workspace,
            _: &Event,
            _: Option<&IdempotencyRecord>,
        ) -> Result<Inserted, StoreError> {
            unimplemented!("not used by the scheduler")
        }
        async fn get(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError> {
            Ok(self.0.lock().unwrap().iter().find(|w| &w.id == id).cloned())
        }
        async fn idempotency(&self, _: &str, _: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
            unimplemented!("not used by the scheduler")
        }
        async fn list(&self, filter: &WorkspaceFilter, _: &PageRequest) -> Result<Page<Workspace>, StoreError> {
            let WorkspaceFilter::State(state) = filter else { panic!("the scheduler lists by state only") };
            let items = self.0.lock().unwrap().iter().filter(|w| w.state == *state).cloned().collect();
            Ok(Page { items, next_token: None })
        }
        async fn update(&self, next: &Workspace, expected: State, _: Option<&Event>) -> Result<(), StoreError> {
            let mut all = self.0.lock().unwrap();
            let stored = all.iter_mut().find(|w| w.id == next.id).ok_or(StoreError::Conflict)?;
            if stored.version + 1 != next.version || stored.state != expected {
                return Err(StoreError::Conflict);
            }
            *stored = next.clone();
            Ok(())
        }
        async fn events(&self, _: &WorkspaceId, _: &PageRequest) -> Result<Page<Event>, StoreError> {
            unimplemented!("not used by the scheduler")
        }
    }

    /// EC2 that refuses any call naming `bad`, and counts calls.
    struct Power {
        bad: &'static str,
        calls: Mutex<Vec<Vec<String>>>,
    }

    #[async_trait]
    impl PowerSwitch for Power {
        async fn start(&self, ids: &[String]) -> Result<(), UpstreamError> {
            self.stop(ids, false).await
        }
        async fn stop(&self, ids: &[String], _: bool) -> Result<(), UpstreamError> {
            self.calls.lock().unwrap().push(ids.to_vec());
            if ids.iter().any(|id| id == self.bad) {
                return Err(UpstreamError::new("ec2", "StopInstances", false, "InvalidInstanceID.Malformed"));
            }
            Ok(())
        }
        async fn observe(&self, _: &[String]) -> Result<HashMap<String, InstanceState>, UpstreamError> {
            unimplemented!("not used by the scheduler")
        }
    }

    #[derive(Default)]
    struct Runs(Mutex<Option<Timestamp>>);

    #[async_trait]
    impl SchedulerRuns for Runs {
        async fn last_run(&self) -> Result<Option<Timestamp>, StoreError> {
            Ok(*self.0.lock().unwrap())
        }
        async fn record_run(&self, at: Timestamp) -> Result<(), StoreError> {
            let mut last = self.0.lock().unwrap();
            if last.is_some_and(|last| last >= at) {
                return Err(StoreError::Conflict);
            }
            *last = Some(at);
            Ok(())
        }
    }

    fn running(instance: &str) -> Workspace {
        let now: Timestamp = "2026-11-23T08:00:00Z".parse().unwrap();
        Workspace {
            id: WorkspaceId::generate(),
            name: WorkspaceName::parse("Test").unwrap(),
            owner: Owner { username: "alice".into(), sub: "sub".into(), cost_centre: None },
            product_id: ProductId::parse("small-t3-large").unwrap(),
            instance_type: "t3.large".into(),
            hibernation: false,
            state: State::Running,
            provisioned: Provisioned { instance_id: Some(instance.into()), ..Default::default() },
            provision_token: "token".into(),
            created_at: now,
            updated_at: now,
            error: None,
            version: 2,
            schedule: Default::default(),
            datasets: Vec::new(),
        }
    }

    #[tokio::test]
    async fn one_bad_instance_never_blocks_the_others() {
        let workspaces = [running("i-good1"), running("i-bad"), running("i-good2")];
        let store = Store(Mutex::new(workspaces.to_vec()));
        let power = Power { bad: "i-bad", calls: Mutex::default() };
        let runs = Runs::default();
        let scheduler = Scheduler { store: &store, power: &power, runs: &runs };
        // Monday 18:00 Paris is 17:00Z: the default window closes.
        let report = scheduler.run("2026-11-23T17:02:00Z".parse().unwrap()).await.unwrap();
        let id = |i: usize| workspaces[i].id.to_string();
        assert_eq!(report.stopped, [id(0), id(2)]);
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].0, id(1));
        // One batched call, then one call per instance.
        let calls = power.calls.lock().unwrap().clone();
        assert_eq!(calls[0].len(), 3);
        assert_eq!(calls.len(), 4);
        // The failed one stays STOPPING: state-sync reconciles it after its grace period. Its
        // history records the refusal (one more write after the claim).
        assert!(store.0.lock().unwrap().iter().all(|w| w.state == State::Stopping));
        let versions: Vec<u64> = store.0.lock().unwrap().iter().map(|w| w.version).collect();
        assert_eq!(versions, [3, 4, 3]);

        let replay = scheduler.run("2026-11-23T17:02:00Z".parse().unwrap()).await.unwrap();
        assert_eq!(replay, SchedulerReport::default());
        assert_eq!(power.calls.lock().unwrap().len(), 4, "a replay calls EC2 for nothing");
    }

    /// The in-memory store, cut after `budget` writes (a run that dies half-way), keeping
    /// every event written.
    struct Cut<'a> {
        inner: &'a Store,
        budget: Mutex<Option<usize>>,
        events: Mutex<Vec<(WorkspaceId, Event)>>,
    }

    #[async_trait]
    impl WorkspaceStore for Cut<'_> {
        async fn insert(
            &self,
            w: &Workspace,
            e: &Event,
            i: Option<&IdempotencyRecord>,
        ) -> Result<Inserted, StoreError> {
            self.inner.insert(w, e, i).await
        }
        async fn get(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError> {
            self.inner.get(id).await
        }
        async fn idempotency(&self, o: &str, k: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
            self.inner.idempotency(o, k).await
        }
        async fn list(&self, f: &WorkspaceFilter, p: &PageRequest) -> Result<Page<Workspace>, StoreError> {
            self.inner.list(f, p).await
        }
        async fn update(&self, next: &Workspace, expected: State, event: Option<&Event>) -> Result<(), StoreError> {
            if let Some(left) = self.budget.lock().unwrap().as_mut() {
                if *left == 0 {
                    return Err(StoreError::Upstream(UpstreamError::new(
                        "dynamodb",
                        "TransactWriteItems",
                        true,
                        "cut",
                    )));
                }
                *left -= 1;
            }
            self.inner.update(next, expected, event).await?;
            if let Some(event) = event {
                self.events.lock().unwrap().push((next.id.clone(), event.clone()));
            }
            Ok(())
        }
        async fn events(&self, id: &WorkspaceId, p: &PageRequest) -> Result<Page<Event>, StoreError> {
            self.inner.events(id, p).await
        }
    }

    #[tokio::test]
    async fn a_run_cut_after_any_write_is_completed_by_the_next_with_each_stop_once() {
        for budget in 0..4 {
            let workspaces = [running("i-1"), running("i-2"), running("i-3")];
            let inner = Store(Mutex::new(workspaces.to_vec()));
            let store = Cut { inner: &inner, budget: Mutex::new(Some(budget)), events: Mutex::default() };
            let power = Power { bad: "none", calls: Mutex::default() };
            let runs = Runs::default();
            let scheduler = Scheduler { store: &store, power: &power, runs: &runs };
            let first = scheduler.run("2026-11-23T17:02:00Z".parse().unwrap()).await.unwrap();
            assert_eq!(first.failed.len(), 3 - budget.min(3), "cut after {budget} writes");
            *store.budget.lock().unwrap() = None;
            scheduler.run("2026-11-23T17:03:00Z".parse().unwrap()).await.unwrap();
            assert!(inner.0.lock().unwrap().iter().all(|w| w.state == State::Stopping), "cut after {budget} writes");
            let events = store.events.lock().unwrap().clone();
            let mut stopped: Vec<String> = events.iter().map(|(id, _)| id.to_string()).collect();
            stopped.sort();
            stopped.dedup();
            assert_eq!((events.len(), stopped.len()), (3, 3), "one stop event per workspace, cut after {budget}");
            let instances: Vec<String> = power.calls.lock().unwrap().iter().flatten().cloned().collect();
            let mut unique = instances.clone();
            unique.sort();
            unique.dedup();
            assert_eq!((instances.len(), unique.len()), (3, 3), "each instance stopped once, cut after {budget}");
        }
    }

    #[test]
    fn event_instants_come_from_the_time_field() {
        let at = event_instant(Some("2026-11-23T17:05:00Z")).unwrap();
        assert_eq!(at.to_string(), "2026-11-23T17:05:00Z");
        assert!(matches!(event_instant(None), Err(DomainError::Invalid { ref field, .. }) if field == "time"));
        assert!(
            matches!(event_instant(Some("monday")), Err(DomainError::Invalid { ref field, .. }) if field == "time")
        );
    }

    #[test]
    fn reports_serialize_failures_as_objects() {
        let report = SchedulerReport { failed: vec![("ws-1".into(), "boom".into())], ..Default::default() };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"started":[],"stopped":[],"hibernated":[],"skipped":0,"failed":[{"id":"ws-1","reason":"boom"}]})
        );
    }
}
