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
        assert_eq!(history.len(), 1, "{state}");
        assert_eq!(history[0].actor, Actor::state_sync());
        assert_eq!((history[0].from, history[0].to, history[0].at), (Some(state), State::Failed, at(minutes)));
        // Only a timed-out provisioning has its resources released: a stuck instance may
        // hold the owner's work, and a stuck termination is already releasing them.
        let released = !world.provisioner.terminated().is_empty();
        assert_eq!(released, state == State::Provisioning, "{state}");
        world.run(at(minutes + 60)).await.unwrap();
        assert_eq!(world.history(&ws.id).len(), 1, "{state}: FAILED is settled, nothing more happens");
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
