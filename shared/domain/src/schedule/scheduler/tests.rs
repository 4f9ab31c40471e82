//! The scheduler tick on the shared doubles.

use jiff::SignedDuration;

use super::*;
use crate::testing::{Call, FakeEc2, FixedGate, Hooked, MemoryStore, WorkspaceBuilder};

/// The `n`th fixture, RUNNING with `instance`: each one changed a second after the one
/// before, so the store lists them (least recently changed first) in the order made.
fn running(instance: &str, n: i64) -> Workspace {
    let now: Timestamp = "2026-11-23T08:00:00Z".parse().unwrap();
    WorkspaceBuilder::new()
        .hibernation(false)
        .instance(instance)
        .at(now)
        .updated_at(now + SignedDuration::from_secs(n))
        .version(2)
        .build()
}

/// A store holding `workspaces`.
fn store_of(workspaces: &[Workspace]) -> MemoryStore {
    let store = MemoryStore::default();
    for workspace in workspaces {
        store.put_workspace(workspace.clone());
    }
    store
}

/// The instances of every start or stop call, one list per call.
fn calls(ec2: &FakeEc2) -> Vec<Vec<String>> {
    ec2.calls().into_iter().map(|c| c.instances).collect()
}

#[tokio::test]
async fn one_bad_instance_never_blocks_the_others() {
    let workspaces = [running("i-good1", 0), running("i-bad", 1), running("i-good2", 2)];
    let store = store_of(&workspaces);
    let power = FakeEc2::default();
    power.refuse("i-bad");
    let gate = FixedGate::default();
    let scheduler = Scheduler { store: &store, power: &power, runs: &store, gate: &gate };
    // Monday 18:00 Paris is 17:00Z: the default window closes.
    let report = scheduler.run("2026-11-23T17:02:00Z".parse().unwrap()).await.unwrap();
    let id = |i: usize| workspaces[i].id.to_string();
    assert_eq!(report.stopped, [id(0), id(2)]);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, id(1));
    // One batched call, then one call per instance.
    let calls = calls(&power);
    assert_eq!(calls[0].len(), 3);
    assert_eq!(calls.len(), 4);
    // The failed one stays STOPPING: state-sync reconciles it after its grace period. Its
    // history records the refusal (one more write after the claim).
    let stored: Vec<Workspace> = workspaces.iter().map(|w| store.workspace(&w.id).unwrap()).collect();
    assert!(stored.iter().all(|w| w.state == State::Stopping));
    let versions: Vec<u64> = stored.iter().map(|w| w.version).collect();
    assert_eq!(versions, [3, 4, 3]);

    let replay = scheduler.run("2026-11-23T17:02:00Z".parse().unwrap()).await.unwrap();
    assert_eq!(replay, SchedulerReport::default());
    assert_eq!(power.calls().len(), 4, "a replay calls EC2 for nothing");
}

#[tokio::test]
async fn a_run_cut_after_any_write_is_completed_by_the_next_with_each_stop_once() {
    for budget in 0..4 {
        let workspaces = [running("i-1", 0), running("i-2", 1), running("i-3", 2)];
        // Cut after `budget` writes (a run that dies half-way); the memory store keeps
        // every event written.
        let store = Hooked::new(store_of(&workspaces));
        store.fail_after(budget, Call::is_write);
        let power = FakeEc2::default();
        let runs = MemoryStore::default();
        let gate = FixedGate::default();
        let scheduler = Scheduler { store: &store, power: &power, runs: &runs, gate: &gate };
        let first = scheduler.run("2026-11-23T17:02:00Z".parse().unwrap()).await.unwrap();
        assert_eq!(first.failed.len(), 3 - budget.min(3), "cut after {budget} writes");
        store.heal();
        scheduler.run("2026-11-23T17:03:00Z".parse().unwrap()).await.unwrap();
        let inner = store.inner();
        let stored: Vec<Workspace> = workspaces.iter().map(|w| inner.workspace(&w.id).unwrap()).collect();
        assert!(stored.iter().all(|w| w.state == State::Stopping), "cut after {budget} writes");
        let events = inner.all_events();
        let mut stopped: Vec<String> = events.iter().map(|(id, _)| id.to_string()).collect();
        stopped.sort();
        stopped.dedup();
        assert_eq!((events.len(), stopped.len()), (3, 3), "one stop event per workspace, cut after {budget}");
        let instances: Vec<String> = calls(&power).into_iter().flatten().collect();
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
        serde_json::json!({"started":[],"stopped":[],"hibernated":[],"skipped":0,"failed":[{"id":"ws-1","reason":"boom"}],"refused":[]})
    );
}

/// A STOPPED fixture with `instance` and owner `owner`, whose default window opens on
/// Monday 09:00 Paris.
fn stopped(owner: &str, instance: &str, n: i64) -> Workspace {
    let now: Timestamp = "2026-11-23T06:00:00Z".parse().unwrap();
    WorkspaceBuilder::new()
        .owner(owner)
        .hibernation(false)
        .instance(instance)
        .state(State::Stopped)
        .at(now)
        .updated_at(now + SignedDuration::from_secs(n))
        .version(2)
        .build()
}

#[tokio::test]
async fn a_start_the_budget_refuses_is_explained_in_the_history_and_the_others_start() {
    let workspaces = [stopped("alice", "i-a1", 0), stopped("alice", "i-a2", 1), stopped("bob", "i-b", 2)];
    let store = store_of(&workspaces);
    let power = FakeEc2::default();
    let gate = FixedGate::default();
    gate.refuse("alice", "the monthly budget of 300.00 EUR for 2026-11 is used up");
    let scheduler = Scheduler { store: &store, power: &power, runs: &store, gate: &gate };
    // Monday 09:00 Paris is 08:00Z: the default window opens.
    let report = scheduler.run("2026-11-23T08:02:00Z".parse().unwrap()).await.unwrap();
    let id = |i: usize| workspaces[i].id.to_string();
    assert_eq!(report.started, [id(2)], "bob's starts; the tick is not failed");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.refused.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), [id(0), id(1)]);
    assert_eq!(gate.asked(), ["alice", "bob"], "once per owner and run");
    assert_eq!(calls(&power), [vec!["i-b".to_owned()]]);
    for w in &workspaces[..2] {
        let stored = store.workspace(&w.id).unwrap();
        assert_eq!(stored.state, State::Stopped);
        let last = store.history(&w.id).last().cloned().unwrap();
        assert_eq!(last.actor, Actor::scheduler());
        assert_eq!(last.action, crate::EventAction::Start);
        assert_eq!((last.from, last.to), (Some(State::Stopped), State::Stopped));
        assert!(last.reason.unwrap().contains("start refused: the monthly budget of 300.00 EUR"), "explained");
    }
    // The run is recorded: the next tick does not ask again.
    let next = scheduler.run("2026-11-23T08:07:00Z".parse().unwrap()).await.unwrap();
    assert!(next.refused.is_empty() && next.started.is_empty(), "{next:?}");
}
