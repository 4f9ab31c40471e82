//! State-sync on the shared doubles: the store keeps workspaces and their history and is
//! made to fail after a number of calls (an interrupted run); the provisioner and EC2
//! answer what each test sets.

use super::*;
use crate::kernel::WorkspaceId;
use crate::testing::{Call, FakeEc2, FakeProvisioner, Hooked, MemoryStore, WorkspaceBuilder};
use crate::workspaces::Event;

const T0: &str = "2026-11-22T10:00:00Z";

fn at(offset_minutes: i64) -> Timestamp {
    T0.parse::<Timestamp>().unwrap() + SignedDuration::from_mins(offset_minutes)
}

fn workspace(state: State, instance: &str) -> Workspace {
    WorkspaceBuilder::new()
        .name("Faults")
        .state(state)
        .provisioned(Provisioned {
            provisioned_product_id: Some(format!("pp-{instance}")),
            record_id: Some(format!("rec-{instance}")),
            instance_id: Some(instance.into()),
        })
        .provision_token(&format!("token-{instance}"))
        .at(at(0))
        .build()
}

/// The shared doubles, the store behind hooks (every store call counts towards
/// [`Hooked::fail_after`]).
struct World {
    store: Hooked<MemoryStore>,
    provisioner: FakeProvisioner,
    ec2: FakeEc2,
    timeouts: Timeouts,
}

impl World {
    fn new(workspaces: Vec<Workspace>) -> Self {
        let memory = MemoryStore::default();
        for workspace in workspaces {
            memory.put_workspace(workspace);
        }
        Self {
            store: Hooked::new(memory),
            provisioner: FakeProvisioner::default(),
            ec2: FakeEc2::default(),
            timeouts: Timeouts::default(),
        }
    }

    async fn run(&self, now: Timestamp) -> Result<SyncReport, DomainError> {
        StateSync {
            store: &self.store,
            catalog: self.store.inner().as_ref(),
            provisioner: &self.provisioner,
            power: &self.ec2,
            timeouts: self.timeouts,
        }
        .run(now)
        .await
    }

    /// The workspace `id` as stored.
    fn state(&self, id: &WorkspaceId) -> Workspace {
        self.store.inner().workspace(id).expect("stored")
    }

    /// The history of `id`, oldest first.
    fn history(&self, id: &WorkspaceId) -> Vec<Event> {
        self.store.inner().history(id)
    }
}

#[tokio::test]
async fn a_failed_record_fails_the_workspace_with_its_reason_and_releases_its_resources() {
    let ws = workspace(State::Provisioning, "i-1");
    let world = World::new(vec![ws.clone()]);
    world.provisioner.set_provisioning(Progress::Failed {
        reason: "Service Catalog record rec-i-1 failed: CREATE_FAILED: quota".into(),
    });
    let report = world.run(at(5)).await.unwrap();
    assert_eq!((report.settled, report.failed_workspaces, report.failed.len()), (1, 1, 0));
    let failed = world.state(&ws.id);
    assert_eq!(failed.state, State::Failed);
    let error = failed.error.clone().unwrap();
    assert!(error.starts_with("Service Catalog record rec-i-1 failed: CREATE_FAILED: quota"), "{error}");
    assert!(error.ends_with("its resources are being released"), "{error}");
    assert_eq!(world.provisioner.terminated(), std::slice::from_ref(&ws.id), "the product is terminated");
    assert_eq!(failed.provisioned.record_id.as_deref(), Some("rec-terminate"), "its handle is kept");
    let history = world.history(&ws.id);
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].actor.0.as_str(), history[0].to), ("state-sync", State::Failed));
    assert_eq!(history[0].reason.as_deref(), Some(error.as_str()));
    assert_eq!(crate::workspaces::allowed_commands(State::Failed), [crate::Command::Terminate]);
}

#[tokio::test]
async fn a_failed_record_whose_release_fails_still_fails_and_says_what_to_do() {
    let ws = workspace(State::Provisioning, "i-1");
    let world = World::new(vec![ws.clone()]);
    world.provisioner.fail_terminate();
    world.provisioner.set_provisioning(Progress::Failed { reason: "record failed".into() });
    world.run(at(5)).await.unwrap();
    let failed = world.state(&ws.id);
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
        assert_eq!(world.state(&ws.id).state, state, "{state}: one minute before its timeout, it waits");
        assert!(world.history(&ws.id).is_empty());

        let report = world.run(at(minutes)).await.unwrap();
        assert_eq!((report.settled, report.failed_workspaces, report.failed.clone()), (1, 1, vec![]), "{state}");
        let after = world.state(&ws.id);
        assert_eq!(after.state, State::Failed, "{state}");
        assert_eq!(after.error.as_deref(), Some(expected), "{state}");
        let history = world.history(&ws.id);
        assert_eq!(history[0].actor, Actor::state_sync());
        assert_eq!((history[0].from, history[0].to, history[0].at), (Some(state), State::Failed, at(minutes)));
        // A stuck power state's event says what EC2 showed (the FAILED workspace is billed
        // by it); after a provisioning or a termination, the same run's FAILED pass looks
        // at the instance and records what EC2 shows, in an event that leaves it FAILED.
        let power = matches!(state, State::Starting | State::Stopping | State::Hibernating);
        assert_eq!(history[0].instance.as_ref().map(|i| i.state), power.then_some(seen), "{state}");
        assert_eq!(history.len(), if power { 1 } else { 2 }, "{state}");
        if let Some(observed) = history.get(1) {
            assert_eq!((observed.from, observed.to), (Some(State::Failed), State::Failed), "{state}");
            assert_eq!(observed.instance.as_ref().map(|i| i.state), Some(seen), "{state}");
        }
        // Only a timed-out provisioning has its resources released: a stuck instance may
        // hold the owner's work, and a stuck termination is already releasing them.
        let released = !world.provisioner.terminated().is_empty();
        assert_eq!(released, state == State::Provisioning, "{state}");
        let recorded = world.history(&ws.id).len();
        world.run(at(minutes + 60)).await.unwrap();
        assert_eq!(world.history(&ws.id).len(), recorded, "{state}: FAILED is settled, nothing new happens");
    }
}

#[tokio::test]
async fn a_termination_whose_record_failed_is_reported_then_fails_at_its_timeout_with_the_record_reason() {
    let ws = workspace(State::Terminating, "i-1");
    let world = World::new(vec![ws.clone()]);
    world.provisioner.set_termination(Progress::Failed {
        reason: "Service Catalog record rec-t failed: DELETE_FAILED: bucket not empty".into(),
    });
    let report = world.run(at(10)).await.unwrap();
    assert_eq!(report.failed.len(), 1, "reported on every run before the timeout");
    assert_eq!(world.state(&ws.id).state, State::Terminating);
    world.run(at(60)).await.unwrap();
    let after = world.state(&ws.id);
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
    assert_eq!(world.state(&ws.id).state, State::Stopping);
    world.run(at(5)).await.unwrap();
    assert_eq!(world.state(&ws.id).state, State::Failed);
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
    world.provisioner.set_termination(Progress::Succeeded { instance_id: None });
    let report = world.run(at(30)).await.unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(world.state(&running.id).state, State::Terminating, "the first run sends the terminate");
    assert_eq!(world.provisioner.terminated().len(), 3, "what was around each instance is removed");
    world.run(at(31)).await.unwrap();
    for (ws, what) in [
        (&running, "EC2 shows it terminated"),
        (&stopped, "EC2 no longer knows it"),
        (&stopping, "EC2 shows it shutting down"),
    ] {
        assert_eq!(world.state(&ws.id).state, State::Terminated, "{}", ws.state);
        let history = world.history(&ws.id);
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
    let ws = WorkspaceBuilder::from(workspace(State::Starting, "i-new")).updated_at(at(29)).build();
    let world = World::new(vec![ws.clone()]);
    world.run(at(30)).await.unwrap();
    assert_eq!(world.state(&ws.id).state, State::Starting, "within the grace period EC2 may lag");
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
    world.provisioner.set_provisioning(Progress::Succeeded { instance_id: Some("i-p".into()) });
    world.provisioner.set_termination(Progress::Succeeded { instance_id: None });
    world.ec2.set("i-p", InstanceState::Running);
    world.ec2.set("i-s", InstanceState::Stopped);
    world.ec2.set("i-v", InstanceState::Terminated);
    world.ec2.set("i-t", InstanceState::Terminated);
    world.ec2.set("i-r", InstanceState::Running);
    (world, expected)
}

fn moves(world: &World) -> Vec<(WorkspaceId, Option<State>, State)> {
    let mut all: Vec<_> = world.store.inner().all_events().into_iter().map(|(id, e)| (id, e.from, e.to)).collect();
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
        world.store.fail_after(budget, Call::any);
        let interrupted = world.run(at(10)).await;
        let finished = matches!(&interrupted, Ok(r) if r.failed.is_empty());
        world.store.heal();
        world.run(at(11)).await.unwrap();
        world.run(at(12)).await.unwrap();
        for (id, state) in &expected {
            assert_eq!(world.state(id).state, *state, "cut after {budget} calls");
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

#[tokio::test]
async fn a_provisioned_workspace_keeps_the_volume_ec2_attached_for_its_costs() {
    let mut ws = workspace(State::Provisioning, "i-p");
    ws.launch = Some(crate::workspaces::Launch {
        product_version: 3,
        provisioning_artifact_id: Some("pa-1".into()),
        price_version: Some(at(-60)),
        volume_gib: 100,
        provisioned_volume_gib: None,
    });
    let world = World::new(vec![ws.clone()]);
    world.provisioner.set_provisioning(Progress::Succeeded { instance_id: Some("i-p".into()) });
    world.ec2.set("i-p", InstanceState::Running);
    world.ec2.set_volume("i-p", 128);
    let report = world.run(at(5)).await.unwrap();
    assert_eq!((report.settled, report.failed_workspaces), (1, 0));
    let running = world.state(&ws.id);
    assert_eq!(running.state, State::Running);
    assert_eq!(running.launch.as_ref().and_then(|l| l.provisioned_volume_gib), Some(128));
    assert_eq!(running.volume_gib(), Some(128), "storage is billed on what EC2 attached, not the 100 asked for");
}

// EC2 is the truth (issue #18): settled workspaces follow their instance both ways, stamped
// with the instant EC2 reports; FAILED ones keep being observed and billed.

impl World {
    fn sync(&self) -> StateSync<'_> {
        StateSync {
            store: &self.store,
            catalog: self.store.inner().as_ref(),
            provisioner: &self.provisioner,
            power: &self.ec2,
            timeouts: self.timeouts,
        }
    }

    async fn on_change(&self, change: &InstanceChange, now: Timestamp) -> SyncReport {
        self.sync().on_instance_change(change, now).await.expect("the event is handled")
    }

    fn last_event(&self, id: &WorkspaceId) -> Event {
        self.history(id).pop().expect("an event")
    }
}

fn change(instance: &str, state: InstanceState, at: Timestamp) -> InstanceChange {
    InstanceChange { instance_id: instance.into(), state: Some(state), at }
}

#[tokio::test]
async fn a_running_workspace_whose_instance_was_stopped_outside_atelier_is_stopped_when_ec2_says() {
    let ws = workspace(State::Running, "i-1");
    let world = World::new(vec![ws.clone()]);
    world.ec2.set("i-1", InstanceState::Stopped);
    world.ec2.set_reason("i-1", "User initiated (2026-11-22 10:05:07 GMT)");
    let report = world.run(at(30)).await.unwrap();
    assert_eq!((report.settled, report.failed_workspaces, report.failed.clone()), (1, 0, vec![]));
    let stopped = world.state(&ws.id);
    assert_eq!(stopped.state, State::Stopped);
    let event = world.last_event(&ws.id);
    assert_eq!(
        (event.from, event.to, event.actor.clone()),
        (Some(State::Running), State::Stopped, Actor::state_sync())
    );
    assert_eq!(event.reason.as_deref(), Some(STOPPED_OUTSIDE));
    let expected: Timestamp = "2026-11-22T10:05:07Z".parse().unwrap();
    assert_eq!(event.at, expected, "stamped when EC2 stopped it, not when state-sync looked");
    assert_eq!(stopped.updated_at, expected);
    let seen = event.instance.expect("what EC2 showed");
    assert_eq!((seen.id.as_str(), seen.state), ("i-1", InstanceState::Stopped));
    assert_eq!(seen.transition_reason.as_deref(), Some("User initiated (2026-11-22 10:05:07 GMT)"));
    assert_eq!(seen.time_source, crate::workspaces::TimeSource::Ec2Reason);
    // Nothing more to do on the next run.
    assert_eq!(world.run(at(31)).await.unwrap().settled, 0);
    assert_eq!(world.history(&ws.id).len(), 1);
}

#[tokio::test]
async fn a_stopping_instance_stops_its_running_workspace_at_the_observation_when_ec2_gives_no_date() {
    let ws = workspace(State::Running, "i-1");
    let world = World::new(vec![ws.clone()]);
    world.ec2.set("i-1", InstanceState::Stopping);
    world.run(at(30)).await.unwrap();
    let event = world.last_event(&ws.id);
    assert_eq!((event.to, event.at), (State::Stopped, at(30)));
    assert_eq!(event.instance.unwrap().time_source, crate::workspaces::TimeSource::Observed);
}

#[tokio::test]
async fn a_date_older_than_the_last_change_is_not_believed() {
    // A stale reason (an earlier stop) must not put the event before the workspace's last change.
    let ws = workspace(State::Running, "i-1");
    let world = World::new(vec![ws.clone()]);
    world.ec2.set("i-1", InstanceState::Stopped);
    world.ec2.set_reason("i-1", "User initiated (2026-11-22 09:00:00 GMT)");
    world.run(at(30)).await.unwrap();
    let event = world.last_event(&ws.id);
    assert_eq!(event.at, at(30));
    assert_eq!(event.instance.unwrap().time_source, crate::workspaces::TimeSource::Observed);
}

#[tokio::test]
async fn a_stopped_or_hibernated_workspace_whose_instance_was_started_outside_atelier_is_running() {
    let stopped = workspace(State::Stopped, "i-s");
    let hibernated = workspace(State::Hibernated, "i-h");
    let pending = workspace(State::Stopped, "i-p");
    let world = World::new(vec![stopped.clone(), hibernated.clone(), pending.clone()]);
    world.ec2.set("i-s", InstanceState::Running);
    world.ec2.set("i-h", InstanceState::Running);
    world.ec2.set("i-p", InstanceState::Pending);
    let report = world.run(at(30)).await.unwrap();
    assert_eq!(report.settled, 2);
    for ws in [&stopped, &hibernated] {
        assert_eq!(world.state(&ws.id).state, State::Running, "{}", ws.state);
        let event = world.last_event(&ws.id);
        assert_eq!((event.from, event.reason.as_deref(), event.at), (Some(ws.state), Some(STARTED_OUTSIDE), at(30)));
    }
    assert_eq!(world.state(&pending.id).state, State::Stopped, "pending: wait until EC2 says running");
}

#[tokio::test]
async fn an_instance_change_event_handles_its_one_workspace_stamped_with_the_event_time() {
    let ws = workspace(State::Running, "i-1");
    let other = workspace(State::Running, "i-2");
    let world = World::new(vec![ws.clone(), other.clone()]);
    world.ec2.set("i-1", InstanceState::Stopped);
    world.ec2.set("i-2", InstanceState::Stopped);
    let report = world.on_change(&change("i-1", InstanceState::Stopped, at(29)), at(30)).await;
    assert_eq!((report.examined, report.settled), (1, 1));
    let event = world.last_event(&ws.id);
    assert_eq!((event.to, event.at, event.reason.as_deref()), (State::Stopped, at(29), Some(STOPPED_OUTSIDE)));
    assert_eq!(event.instance.unwrap().time_source, crate::workspaces::TimeSource::Ec2Event);
    assert_eq!(world.state(&other.id).state, State::Running, "only the event's instance is looked at");
    assert_eq!(world.ec2.describes(), 1, "one DescribeInstances");

    // A `stopping` event dates a stop EC2 has finished since.
    let later = workspace(State::Running, "i-3");
    world.store.inner().put_workspace(later.clone());
    world.ec2.set("i-3", InstanceState::Stopped);
    world.on_change(&change("i-3", InstanceState::Stopping, at(28)), at(30)).await;
    assert_eq!(world.last_event(&later.id).at, at(28));
}

#[tokio::test]
async fn an_event_for_an_instance_atelier_does_not_own_costs_one_read() {
    let ws = workspace(State::Running, "i-1");
    let world = World::new(vec![ws.clone()]);
    let report = world.on_change(&change("i-foreign", InstanceState::Stopped, at(1)), at(1)).await;
    assert_eq!(report, SyncReport::default());
    assert_eq!(world.store.calls(), [Call::List(WorkspaceFilter::Instance("i-foreign".into()))]);
    assert_eq!(world.ec2.describes(), 0);
}

#[tokio::test]
async fn an_event_ec2_has_overtaken_follows_what_ec2_shows_now() {
    // EventBridge does not promise order: a `stopped` event arriving after the instance was
    // started again must not stop the workspace.
    let ws = workspace(State::Running, "i-1");
    let world = World::new(vec![ws.clone()]);
    world.ec2.set("i-1", InstanceState::Running);
    let report = world.on_change(&change("i-1", InstanceState::Stopped, at(5)), at(6)).await;
    assert_eq!(report.settled, 0);
    assert!(world.history(&ws.id).is_empty());
}

#[tokio::test]
async fn an_event_settles_a_stop_at_the_instant_ec2_finished_it() {
    let ws = WorkspaceBuilder::from(workspace(State::Stopping, "i-1")).updated_at(at(10)).build();
    let world = World::new(vec![ws.clone()]);
    world.ec2.set("i-1", InstanceState::Stopped);
    world.on_change(&change("i-1", InstanceState::Stopped, at(11)), at(12)).await;
    let event = world.last_event(&ws.id);
    assert_eq!((event.to, event.at, event.reason), (State::Stopped, at(11), None));
}

#[tokio::test]
async fn a_failed_workspace_keeps_being_observed_while_it_holds_an_instance() {
    let mut ws = workspace(State::Stopping, "i-1");
    ws.provisioned.provisioned_product_id = None;
    let world = World::new(vec![ws.clone()]);

    // The stop never finishes: FAILED at its timeout, with what EC2 showed in the event.
    world.ec2.set("i-1", InstanceState::Stopping);
    world.run(at(29)).await.unwrap();
    assert_eq!(world.state(&ws.id).state, State::Stopping);
    let report = world.run(at(30)).await.unwrap();
    assert_eq!((report.failed_workspaces, report.failed_with_resources), (1, 1), "{report:?}");
    let failed = world.state(&ws.id);
    assert_eq!((failed.state, failed.instance_seen), (State::Failed, Some(InstanceState::Stopping)));
    let entered = world.last_event(&ws.id);
    assert_eq!(entered.instance.as_ref().map(|i| i.state), Some(InstanceState::Stopping), "billed from the start");

    // Nothing new: nothing written, still counted for the alarm.
    let before = world.history(&ws.id).len();
    let report = world.run(at(31)).await.unwrap();
    assert_eq!((report.settled, report.failed_with_resources), (0, 1));
    assert_eq!(world.history(&ws.id).len(), before);

    // Started in the console: compute is billed again, the workspace stays FAILED.
    world.ec2.set("i-1", InstanceState::Running);
    let report = world.run(at(80)).await.unwrap();
    assert_eq!((report.settled, report.failed_workspaces, report.failed_with_resources), (0, 0, 1));
    let failed = world.state(&ws.id);
    assert_eq!((failed.state, failed.instance_seen), (State::Failed, Some(InstanceState::Running)));
    assert!(failed.error.as_deref().unwrap().starts_with("the stop did not finish"), "the error stays");
    let event = world.last_event(&ws.id);
    assert_eq!((event.from, event.to, event.at), (Some(State::Failed), State::Failed, at(80)));
    assert_eq!(
        event.reason.as_deref(),
        Some("EC2 shows instance i-1 running: compute and storage are billed until the workspace is terminated")
    );
    let intervals = crate::costs::intervals(&ws.id, &world.history(&ws.id), at(90));
    let last = intervals.last().unwrap();
    assert_eq!((last.usage, last.start, last.end), (crate::costs::Usage::Running, at(80), at(90)));

    // Stopped by an operator, then deleted: storage, then nothing; then it is no longer looked at.
    world.ec2.set("i-1", InstanceState::Stopped);
    world.run(at(85)).await.unwrap();
    assert_eq!(world.state(&ws.id).instance_seen, Some(InstanceState::Stopped));
    world.ec2.set("i-1", InstanceState::Terminated);
    let report = world.run(at(86)).await.unwrap();
    assert_eq!(report.failed_with_resources, 0, "gone: the alarm clears");
    let describes = world.ec2.describes();
    world.run(at(87)).await.unwrap();
    assert_eq!(world.ec2.describes(), describes, "an instance seen deleted is not described again");
    assert_eq!(crate::workspaces::allowed_commands(State::Failed), [crate::Command::Terminate]);
}

#[tokio::test]
async fn a_failed_workspace_with_only_a_provisioned_product_counts_for_the_alarm() {
    let mut ws = workspace(State::Failed, "i-1");
    ws.provisioned.instance_id = None;
    let mut bare = workspace(State::Failed, "i-2");
    bare.provisioned = Provisioned::default();
    let world = World::new(vec![ws, bare]);
    let report = world.run(at(1)).await.unwrap();
    assert_eq!((report.failed_with_resources, report.settled), (1, 0));
    assert_eq!(world.ec2.describes(), 0);
}

#[tokio::test]
async fn a_failed_workspace_with_only_a_product_is_looked_into_and_its_instance_billed_once_found() {
    let mut ws = workspace(State::Failed, "i-7");
    ws.provisioned.instance_id = None;
    let world = World::new(vec![ws.clone()]);
    // The record has not produced an instance: nothing to describe, still costly for the alarm.
    let report = world.run(at(1)).await.unwrap();
    assert_eq!((report.failed_with_resources, world.ec2.describes()), (1, 0));
    assert_eq!(world.state(&ws.id).provisioned.instance_id, None);

    // It has: the instance is recorded and described in the same pass, and billed from then.
    world.provisioner.set_provisioning(Progress::Succeeded { instance_id: Some("i-7".into()) });
    world.ec2.set("i-7", InstanceState::Running);
    let report = world.run(at(2)).await.unwrap();
    assert_eq!(report.failed_with_resources, 1, "{report:?}");
    let failed = world.state(&ws.id);
    assert_eq!(failed.provisioned.instance_id.as_deref(), Some("i-7"));
    assert_eq!((failed.state, failed.instance_seen), (State::Failed, Some(InstanceState::Running)));
    let event = world.last_event(&ws.id);
    assert_eq!((event.from, event.to, event.at), (Some(State::Failed), State::Failed, at(2)));
    let intervals = crate::costs::intervals(&ws.id, &world.history(&ws.id), at(12));
    let last = intervals.last().unwrap();
    assert_eq!((last.usage, last.start, last.end), (crate::costs::Usage::Running, at(2), at(12)));

    // Known now: the next pass describes it with the others and does not ask the record again.
    let describes = world.ec2.describes();
    world.provisioner.set_provisioning(Progress::InProgress);
    world.run(at(3)).await.unwrap();
    assert_eq!(world.ec2.describes(), describes + 1);
    assert_eq!(world.state(&ws.id).provisioned.instance_id.as_deref(), Some("i-7"));
}

#[test]
fn ec2_state_change_events_and_transition_reasons_are_read() {
    let event = serde_json::json!({
        "version": "0",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "time": "2026-03-10T14:02:11Z",
        "resources": ["arn:aws:ec2:eu-west-3:123456789012:instance/i-0abc"],
        "detail": { "instance-id": "i-0abc", "state": "shutting-down" }
    });
    let change = InstanceChange::from_event(&event).unwrap().unwrap();
    assert_eq!(change.instance_id, "i-0abc");
    assert_eq!(change.state, Some(InstanceState::ShuttingDown));
    assert_eq!(change.at, "2026-03-10T14:02:11Z".parse::<Timestamp>().unwrap());
    let tick = serde_json::json!({ "detail-type": "Scheduled Event", "time": "2026-03-10T14:02:00Z" });
    assert_eq!(InstanceChange::from_event(&tick).unwrap(), None);
    assert_eq!(InstanceChange::from_event(&serde_json::Value::Null).unwrap(), None);
    let broken = serde_json::json!({ "detail-type": "EC2 Instance State-change Notification", "time": "2026-03-10T14:02:11Z", "detail": {} });
    assert!(InstanceChange::from_event(&broken).is_err());

    let at = |s: &str| s.parse::<Timestamp>().unwrap();
    assert_eq!(transition_instant("User initiated (2026-03-10 14:02:11 GMT)"), Some(at("2026-03-10T14:02:11Z")));
    assert_eq!(transition_instant("User initiated (2026-03-10 14:02:11 UTC)"), Some(at("2026-03-10T14:02:11Z")));
    assert_eq!(transition_instant("User initiated"), None);
    assert_eq!(transition_instant("Server.InternalError"), None);
    assert_eq!(transition_instant("User initiated (yesterday)"), None);
}
