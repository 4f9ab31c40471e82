//! The scheduler tick on in-memory ports.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;

use super::*;
use crate::kernel::{Page, PageRequest, ProductId, WorkspaceId};
use crate::workspaces::{IdempotencyRecord, Inserted, InstanceState, Owner, Provisioned, WorkspaceName};

/// Workspaces in memory, with the store's conditional update.
#[derive(Default)]
struct Store(Mutex<Vec<Workspace>>);

#[async_trait]
impl WorkspaceStore for Store {
    async fn insert(&self, _: &Workspace, _: &Event, _: Option<&IdempotencyRecord>) -> Result<Inserted, StoreError> {
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
    async fn insert(&self, w: &Workspace, e: &Event, i: Option<&IdempotencyRecord>) -> Result<Inserted, StoreError> {
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
                return Err(StoreError::Upstream(UpstreamError::new("dynamodb", "TransactWriteItems", true, "cut")));
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
fn reports_serialize_failures_as_objects() {
    let report = SchedulerReport { failed: vec![("ws-1".into(), "boom".into())], ..Default::default() };
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"started":[],"stopped":[],"hibernated":[],"skipped":0,"failed":[{"id":"ws-1","reason":"boom"}]})
    );
}
