//! State-sync on in-memory ports: the store keeps workspaces and their history and can
//! be made to fail after a number of calls (an interrupted run); the provisioner and EC2
//! answer what each test sets.

use std::sync::Mutex;

use async_trait::async_trait;

use super::*;
use crate::catalog::Product;
use crate::kernel::{Page, ProductId, StoreError, WorkspaceId};
use crate::workspaces::{Event, IdempotencyRecord, Inserted, Owner, WorkspaceName};

#[derive(Default)]
struct Store {
    workspaces: Mutex<Vec<Workspace>>,
    events: Mutex<Vec<(WorkspaceId, Event)>>,
    /// Calls still allowed before every call fails (`None`: never fails).
    budget: Mutex<Option<usize>>,
}

impl Store {
    fn with(workspaces: Vec<Workspace>) -> Self {
        Self { workspaces: Mutex::new(workspaces), ..Default::default() }
    }

    fn spend(&self) -> Result<(), StoreError> {
        match self.budget.lock().unwrap().as_mut() {
            Some(0) => Err(StoreError::Upstream(UpstreamError::new(
                "dynamodb",
                "TransactWriteItems",
                true,
                "injected: the process died here",
            ))),
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn state(&self, id: &WorkspaceId) -> Workspace {
        self.workspaces.lock().unwrap().iter().find(|w| &w.id == id).cloned().unwrap()
    }

    fn history(&self, id: &WorkspaceId) -> Vec<Event> {
        self.events.lock().unwrap().iter().filter(|(w, _)| w == id).map(|(_, e)| e.clone()).collect()
    }
}

#[async_trait]
impl WorkspaceStore for Store {
    async fn insert(&self, _: &Workspace, _: &Event, _: Option<&IdempotencyRecord>) -> Result<Inserted, StoreError> {
        unimplemented!("state-sync creates nothing")
    }
    async fn get(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        self.spend()?;
        Ok(self.workspaces.lock().unwrap().iter().find(|w| &w.id == id).cloned())
    }
    async fn idempotency(&self, _: &str, _: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        unimplemented!("state-sync creates nothing")
    }
    async fn list(&self, filter: &WorkspaceFilter, _: &PageRequest) -> Result<Page<Workspace>, StoreError> {
        self.spend()?;
        let WorkspaceFilter::State(state) = filter else { panic!("state-sync lists by state only") };
        let items = self.workspaces.lock().unwrap().iter().filter(|w| w.state == *state).cloned().collect();
        Ok(Page { items, next_token: None })
    }
    async fn update(&self, next: &Workspace, expected: State, event: Option<&Event>) -> Result<(), StoreError> {
        self.spend()?;
        let mut all = self.workspaces.lock().unwrap();
        let stored = all.iter_mut().find(|w| w.id == next.id).ok_or(StoreError::Conflict)?;
        if stored.version + 1 != next.version || stored.state != expected {
            return Err(StoreError::Conflict);
        }
        *stored = next.clone();
        if let Some(event) = event {
            self.events.lock().unwrap().push((next.id.clone(), event.clone()));
        }
        Ok(())
    }
    async fn events(&self, _: &WorkspaceId, _: &PageRequest) -> Result<Page<Event>, StoreError> {
        unimplemented!("state-sync reads no history")
    }
}

struct OneProduct;

#[async_trait]
impl Catalog for OneProduct {
    async fn products(&self, _: &PageRequest) -> Result<Page<Product>, StoreError> {
        unimplemented!("state-sync lists no products")
    }
    async fn product(&self, _: &ProductId) -> Result<Option<Product>, StoreError> {
        unimplemented!("every workspace here has started provisioning")
    }
}

/// A provisioner whose progress each test sets; it counts terminate calls.
struct Provisioner {
    provisioning: Mutex<Progress>,
    termination: Mutex<Progress>,
    terminate_fails: bool,
    terminated: Mutex<Vec<WorkspaceId>>,
}

impl Default for Provisioner {
    fn default() -> Self {
        Self {
            provisioning: Mutex::new(Progress::InProgress),
            termination: Mutex::new(Progress::InProgress),
            terminate_fails: false,
            terminated: Mutex::default(),
        }
    }
}

#[async_trait]
impl crate::workspaces::Provisioner for Provisioner {
    async fn provision(&self, _: ProvisionRequest<'_>) -> Result<Provisioned, UpstreamError> {
        unimplemented!("every workspace here has started provisioning")
    }
    async fn provisioning_progress(&self, _: &Provisioned) -> Result<Progress, UpstreamError> {
        Ok(self.provisioning.lock().unwrap().clone())
    }
    async fn terminate(&self, ws: &Workspace) -> Result<Provisioned, UpstreamError> {
        if self.terminate_fails {
            return Err(UpstreamError::new("servicecatalog", "TerminateProvisionedProduct", false, "AccessDenied"));
        }
        self.terminated.lock().unwrap().push(ws.id.clone());
        Ok(Provisioned { record_id: Some("rec-terminate".into()), ..ws.provisioned.clone() })
    }
    async fn termination_progress(&self, p: &Provisioned) -> Result<Progress, UpstreamError> {
        if p.record_id.is_none() {
            return Ok(Progress::NotStarted);
        }
        Ok(self.termination.lock().unwrap().clone())
    }
}

/// EC2 as each test sets it.
#[derive(Default)]
struct Ec2(Mutex<HashMap<String, InstanceState>>);

impl Ec2 {
    fn set(&self, instance: &str, state: InstanceState) {
        self.0.lock().unwrap().insert(instance.into(), state);
    }
}

#[async_trait]
impl PowerSwitch for Ec2 {
    async fn start(&self, _: &[String]) -> Result<(), UpstreamError> {
        unimplemented!("state-sync powers nothing")
    }
    async fn stop(&self, _: &[String], _: bool) -> Result<(), UpstreamError> {
        unimplemented!("state-sync powers nothing")
    }
    async fn observe(&self, ids: &[String]) -> Result<HashMap<String, InstanceState>, UpstreamError> {
        let known = self.0.lock().unwrap();
        Ok(ids.iter().map(|id| (id.clone(), known.get(id).copied().unwrap_or(InstanceState::Missing))).collect())
    }
}

const T0: &str = "2026-11-22T10:00:00Z";

fn at(offset_minutes: i64) -> Timestamp {
    T0.parse::<Timestamp>().unwrap() + SignedDuration::from_mins(offset_minutes)
}

fn workspace(state: State, instance: &str) -> Workspace {
    Workspace {
        id: WorkspaceId::generate(),
        name: WorkspaceName::parse("Faults").unwrap(),
        owner: Owner { username: "alice".into(), sub: "sub-alice".into(), cost_centre: None },
        product_id: ProductId::parse("small-t3-large").unwrap(),
        instance_type: "t3.large".into(),
        hibernation: true,
        state,
        provisioned: Provisioned {
            provisioned_product_id: Some(format!("pp-{instance}")),
            record_id: Some(format!("rec-{instance}")),
            instance_id: Some(instance.into()),
        },
        provision_token: format!("token-{instance}"),
        created_at: at(0),
        updated_at: at(0),
        error: None,
        version: 1,
        schedule: Default::default(),
        datasets: Vec::new(),
    }
}

struct World {
    store: Store,
    provisioner: Provisioner,
    ec2: Ec2,
    timeouts: Timeouts,
}

impl World {
    fn new(workspaces: Vec<Workspace>) -> Self {
        Self {
            store: Store::with(workspaces),
            provisioner: Provisioner::default(),
            ec2: Ec2::default(),
            timeouts: Timeouts::default(),
        }
    }

    async fn run(&self, now: Timestamp) -> Result<SyncReport, DomainError> {
        StateSync {
            store: &self.store,
            catalog: &OneProduct,
            provisioner: &self.provisioner,
            power: &self.ec2,
            timeouts: self.timeouts,
        }
        .run(now)
        .await
    }
}

#[tokio::test]
async fn a_failed_record_fails_the_workspace_with_its_reason_and_releases_its_resources() {
    let ws = workspace(State::Provisioning, "i-1");
    let world = World::new(vec![ws.clone()]);
    *world.provisioner.provisioning.lock().unwrap() =
        Progress::Failed { reason: "Service Catalog record rec-i-1 failed: CREATE_FAILED: quota".into() };
    let report = world.run(at(5)).await.unwrap();
    assert_eq!((report.settled, report.failed.len()), (1, 0));
    let failed = world.store.state(&ws.id);
    assert_eq!(failed.state, State::Failed);
    let error = failed.error.clone().unwrap();
    assert!(error.starts_with("Service Catalog record rec-i-1 failed: CREATE_FAILED: quota"), "{error}");
    assert!(error.ends_with("its resources are being released"), "{error}");
    assert_eq!(
        *world.provisioner.terminated.lock().unwrap(),
        std::slice::from_ref(&ws.id),
        "the product is terminated"
    );
    assert_eq!(failed.provisioned.record_id.as_deref(), Some("rec-terminate"), "its handle is kept");
    let history = world.store.history(&ws.id);
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].actor.0.as_str(), history[0].to), ("state-sync", State::Failed));
    assert_eq!(history[0].reason.as_deref(), Some(error.as_str()));
    assert_eq!(crate::workspaces::allowed_commands(State::Failed), [crate::Command::Terminate]);
}

#[tokio::test]
async fn a_failed_record_whose_release_fails_still_fails_and_says_what_to_do() {
    let ws = workspace(State::Provisioning, "i-1");
    let mut world = World::new(vec![ws.clone()]);
    world.provisioner.terminate_fails = true;
    *world.provisioner.provisioning.lock().unwrap() = Progress::Failed { reason: "record failed".into() };
    world.run(at(5)).await.unwrap();
    let failed = world.store.state(&ws.id);
    assert_eq!(failed.state, State::Failed);
    assert_eq!(
        failed.error.as_deref(),
        Some(
            "record failed; releasing its resources failed (servicecatalog TerminateProvisionedProduct failed): \
             terminate the workspace"
        )
    );
}

#[tokio::test]
async fn no_transitional_state_outlasts_its_timeout() {
    // (state, what EC2 shows, timeout in minutes, expected error)
    let cases = [
        (
            State::Starting,
            InstanceState::Pending,
            30,
            "the start did not finish within 30 minutes (EC2 shows instance i-1 pending); an operator must check the instance in EC2",
        ),
        (
            State::Stopping,
            InstanceState::Stopping,
            30,
            "the stop did not finish within 30 minutes (EC2 shows instance i-1 stopping); an operator must check the instance in EC2",
        ),
        (
            State::Hibernating,
            InstanceState::Stopping,
            30,
            "the hibernation did not finish within 30 minutes (EC2 shows instance i-1 stopping); an operator must check the instance in EC2",
        ),
        (
            State::Provisioning,
            InstanceState::Pending,
            60,
            "provisioning did not finish within 60 minutes (AWS still reports it in progress); its resources are being released",
        ),
        (
            State::Terminating,
            InstanceState::ShuttingDown,
            60,
            "the termination did not finish within 60 minutes (AWS still reports it in progress); fix the cause, then terminate the workspace again",
        ),
    ];
    for (state, seen, minutes, expected) in cases {
        let ws = workspace(state, "i-1");
        let world = World::new(vec![ws.clone()]);
        world.ec2.set("i-1", seen);
        world.run(at(minutes - 1)).await.unwrap();
        assert_eq!(world.store.state(&ws.id).state, state, "{state}: one minute before its timeout, it waits");
        assert!(world.store.history(&ws.id).is_empty());

        let report = world.run(at(minutes)).await.unwrap();
        assert_eq!((report.settled, report.failed.clone()), (1, vec![]), "{state}");
        let after = world.store.state(&ws.id);
        assert_eq!(after.state, State::Failed, "{state}");
        assert_eq!(after.error.as_deref(), Some(expected), "{state}");
        let history = world.store.history(&ws.id);
        assert_eq!(history.len(), 1, "{state}");
        assert_eq!(history[0].actor, Actor::state_sync());
        assert_eq!((history[0].from, history[0].to, history[0].at), (Some(state), State::Failed, at(minutes)));
        // Only a timed-out provisioning has its resources released: a stuck instance may
        // hold the owner's work, and a stuck termination is already releasing them.
        let released = !world.provisioner.terminated.lock().unwrap().is_empty();
        assert_eq!(released, state == State::Provisioning, "{state}");
        world.run(at(minutes + 60)).await.unwrap();
        assert_eq!(world.store.history(&ws.id).len(), 1, "{state}: FAILED is settled, nothing more happens");
    }
}

#[tokio::test]
async fn a_termination_whose_record_failed_is_reported_then_fails_at_its_timeout_with_the_record_reason() {
    let ws = workspace(State::Terminating, "i-1");
    let world = World::new(vec![ws.clone()]);
    *world.provisioner.termination.lock().unwrap() =
        Progress::Failed { reason: "Service Catalog record rec-t failed: DELETE_FAILED: bucket not empty".into() };
    let report = world.run(at(10)).await.unwrap();
    assert_eq!(report.failed.len(), 1, "reported on every run before the timeout");
    assert_eq!(world.store.state(&ws.id).state, State::Terminating);
    world.run(at(60)).await.unwrap();
    let after = world.store.state(&ws.id);
    assert_eq!(after.state, State::Failed);
    assert_eq!(
        after.error.as_deref(),
        Some(
            "the termination did not finish within 60 minutes (terminate: Service Catalog record rec-t failed: \
             DELETE_FAILED: bucket not empty); fix the cause, then terminate the workspace again"
        )
    );
}

#[tokio::test]
async fn timeouts_are_configurable_and_checked() {
    let ws = workspace(State::Stopping, "i-1");
    let mut world = World::new(vec![ws.clone()]);
    world.ec2.set("i-1", InstanceState::Stopping);
    world.timeouts =
        Timeouts::new(SignedDuration::from_mins(10), SignedDuration::from_mins(5), SignedDuration::from_mins(10))
            .unwrap();
    world.run(at(4)).await.unwrap();
    assert_eq!(world.store.state(&ws.id).state, State::Stopping);
    world.run(at(5)).await.unwrap();
    assert_eq!(world.store.state(&ws.id).state, State::Failed);
    let two = SignedDuration::from_mins(2);
    assert!(Timeouts::new(two, two, two).is_err(), "the grace period must act before the timeout");
    assert!(Timeouts::new(SignedDuration::ZERO, SignedDuration::from_mins(5), two).is_err());
}

#[tokio::test]
async fn an_instance_deleted_outside_atelier_terminates_its_workspace_with_an_event_saying_why() {
    let running = workspace(State::Running, "i-run");
    let stopped = workspace(State::Stopped, "i-stop");
    let stopping = workspace(State::Stopping, "i-stopping");
    let world = World::new(vec![running.clone(), stopped.clone(), stopping.clone()]);
    world.ec2.set("i-run", InstanceState::Terminated);
    world.ec2.set("i-stopping", InstanceState::ShuttingDown);
    // i-stop is unknown to EC2 (terminated over an hour ago).
    *world.provisioner.termination.lock().unwrap() = Progress::Succeeded { instance_id: None };
    let report = world.run(at(30)).await.unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(world.store.state(&running.id).state, State::Terminating, "the first run sends the terminate");
    assert_eq!(world.provisioner.terminated.lock().unwrap().len(), 3, "what was around each instance is removed");
    world.run(at(31)).await.unwrap();
    for (ws, what) in [
        (&running, "EC2 shows it terminated"),
        (&stopped, "EC2 no longer knows it"),
        (&stopping, "EC2 shows it shutting down"),
    ] {
        assert_eq!(world.store.state(&ws.id).state, State::Terminated, "{}", ws.state);
        let history = world.store.history(&ws.id);
        let moves: Vec<_> = history.iter().map(|e| (e.actor.0.as_str(), e.from.unwrap(), e.to)).collect();
        assert_eq!(
            moves,
            [("state-sync", ws.state, State::Terminating), ("state-sync", State::Terminating, State::Terminated)]
        );
        let instance = ws.provisioned.instance_id.as_deref().unwrap();
        assert_eq!(
            history[0].reason.as_deref(),
            Some(
                format!("instance {instance} was deleted outside Atelier ({what}); finishing the termination").as_str()
            )
        );
    }
}

#[tokio::test]
async fn an_instance_ec2_does_not_know_yet_is_not_taken_for_deleted() {
    let mut ws = workspace(State::Starting, "i-new");
    ws.updated_at = at(29);
    let world = World::new(vec![ws.clone()]);
    world.run(at(30)).await.unwrap();
    assert_eq!(world.store.state(&ws.id).state, State::Starting, "within the grace period EC2 may lag");
}

/// Every kind of move one run makes, for the interruption test.
fn mixed_world() -> (World, Vec<(WorkspaceId, State)>) {
    let provisioning = workspace(State::Provisioning, "i-p");
    let stopping = workspace(State::Stopping, "i-s");
    let vanished = workspace(State::Running, "i-v");
    let mut terminating = workspace(State::Terminating, "i-t");
    terminating.provisioned.record_id = None; // the API's terminate call failed
    let running = workspace(State::Running, "i-r");
    let expected = vec![
        (provisioning.id.clone(), State::Running),
        (stopping.id.clone(), State::Stopped),
        (vanished.id.clone(), State::Terminated),
        (terminating.id.clone(), State::Terminated),
        (running.id.clone(), State::Running),
    ];
    let world = World::new(vec![provisioning, stopping, vanished, terminating, running]);
    *world.provisioner.provisioning.lock().unwrap() = Progress::Succeeded { instance_id: Some("i-p".into()) };
    *world.provisioner.termination.lock().unwrap() = Progress::Succeeded { instance_id: None };
    world.ec2.set("i-p", InstanceState::Running);
    world.ec2.set("i-s", InstanceState::Stopped);
    world.ec2.set("i-v", InstanceState::Terminated);
    world.ec2.set("i-t", InstanceState::Terminated);
    world.ec2.set("i-r", InstanceState::Running);
    (world, expected)
}

fn moves(world: &World) -> Vec<(WorkspaceId, Option<State>, State)> {
    let mut all: Vec<_> = world.store.events.lock().unwrap().iter().map(|(id, e)| (id.clone(), e.from, e.to)).collect();
    all.sort_by(|a, b| (a.0.as_str(), a.1, a.2).cmp(&(b.0.as_str(), b.1, b.2)));
    all
}

#[tokio::test]
async fn a_run_interrupted_anywhere_is_completed_by_the_next_with_each_event_once() {
    // What one uninterrupted run does.
    let (clean, _) = mixed_world();
    for minute in [10, 11, 12] {
        clean.run(at(minute)).await.unwrap();
    }
    let clean_moves: Vec<_> = moves(&clean).into_iter().map(|(_, from, to)| (from, to)).collect();
    assert_eq!(clean_moves.len(), 5, "{clean_moves:?}");

    // The same run cut after every possible number of store calls, then a healthy run.
    let mut cut_points = 0;
    for budget in 0.. {
        let (world, expected) = mixed_world();
        *world.store.budget.lock().unwrap() = Some(budget);
        let interrupted = world.run(at(10)).await;
        let finished = matches!(&interrupted, Ok(r) if r.failed.is_empty());
        *world.store.budget.lock().unwrap() = None;
        world.run(at(11)).await.unwrap();
        world.run(at(12)).await.unwrap();
        for (id, state) in &expected {
            assert_eq!(world.store.state(id).state, *state, "cut after {budget} calls");
        }
        // Costs are rebuilt from the history: the same moves, each exactly once.
        let mut seen: Vec<_> = moves(&world).into_iter().map(|(_, from, to)| (from, to)).collect();
        let mut want = clean_moves.clone();
        seen.sort();
        want.sort();
        assert_eq!(seen, want, "cut after {budget} calls");
        let all = moves(&world);
        let mut unique = all.clone();
        unique.dedup();
        assert_eq!(unique, all, "cut after {budget} calls: a move recorded twice");
        if finished {
            break;
        }
        cut_points += 1;
    }
    assert!(cut_points >= 10, "the run was cut at {cut_points} places only");
}
