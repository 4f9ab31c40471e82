//! State-sync against the local AWS server.

use atelier_domain::{
    Actor, Event, EventAction, State, WorkspaceId, testing::WorkspaceBuilder, workspaces::WorkspaceStore,
};
use atelier_tests::spawn_app;

#[tokio::test]
async fn a_provisioning_that_never_started_is_started_by_the_next_run() {
    let app = spawn_app().await;
    // What the API leaves behind if it dies between recording the workspace and calling
    // the provisioner: PROVISIONING with nothing provisioned.
    let now = jiff::Timestamp::now();
    let workspace = WorkspaceBuilder::new()
        .name("Interrupted")
        .cost_centre("CC-ONCOLOGY")
        .state(State::Provisioning)
        .provision_token("interrupted-token-1")
        .at(now)
        .build();
    let event = Event {
        at: now,
        actor: Actor::user("alice"),
        action: EventAction::Create,
        from: None,
        to: State::Provisioning,
        reason: None,
        connection: None,
        instance: None,
    };
    app.app.table().insert(&workspace, &event, None).await.unwrap();
    assert_eq!(app.sync().await, 1);
    let settled = app.app.table().get(&workspace.id).await.unwrap().unwrap();
    assert_eq!(settled.state, State::Running);
    let instance = settled.provisioned.instance_id.clone().expect("an instance was launched");
    // Replaying the same provisioning token launches nothing new.
    assert_eq!(app.sync().await, 0);
    assert_eq!(app.app.table().get(&workspace.id).await.unwrap().unwrap().provisioned.instance_id, Some(instance));
}

#[tokio::test]
async fn a_run_with_nothing_to_do_changes_nothing() {
    let app = spawn_app().await;
    let id = app.running_workspace("bob", "small-t3-large").await;
    let before = app.get("bob", &format!("/v1/workspaces/{id}")).await.body;
    assert_eq!(app.sync().await, 0);
    assert_eq!(app.get("bob", &format!("/v1/workspaces/{id}")).await.body, before);
}

#[tokio::test]
async fn a_start_ec2_never_carried_out_is_reconciled_after_the_grace_period() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    app.post("alice", &format!("/v1/workspaces/{id}/stop"), None).await;
    app.sync().await;
    // STARTING as if StartInstances had failed after the transition was claimed.
    let stored = app.app.table().get(&WorkspaceId::parse(&id).unwrap()).await.unwrap().unwrap();
    let mut starting = stored.clone();
    starting.state = State::Starting;
    starting.version += 1;
    starting.updated_at = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(30);
    app.app.table().update(&starting, State::Stopped, None).await.unwrap();
    assert_eq!(app.sync().await, 0, "within the grace period EC2 may lag: wait");

    let mut stale = starting.clone();
    stale.version += 1;
    stale.updated_at = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(3);
    app.app.table().update(&stale, State::Starting, None).await.unwrap();
    assert_eq!(app.sync().await, 1);
    assert_eq!(app.state("alice", &id).await, "STOPPED", "back to a state the owner can act on");
    let events = app.get("alice", &format!("/v1/workspaces/{id}/events")).await;
    assert_eq!(events.body["items"][0]["reason"], "the start did not happen: the instance is stopped");
    assert_eq!(events.body["items"][0]["actor"], "state-sync");
}

#[tokio::test]
async fn a_termination_whose_call_failed_is_asked_again_by_state_sync() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    // TERMINATING as if TerminateInstances had failed after the transition was claimed.
    let stored = app.app.table().get(&WorkspaceId::parse(&id).unwrap()).await.unwrap().unwrap();
    let mut terminating = stored.clone();
    terminating.state = State::Terminating;
    terminating.version += 1;
    app.app.table().update(&terminating, State::Running, None).await.unwrap();

    assert_eq!(app.sync().await, 0, "the first run asks EC2 to terminate");
    let instance = stored.provisioned.instance_id.clone().unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&app.sdk);
    let described = ec2.describe_instances().instance_ids(&instance).send().await.unwrap();
    let state = described.reservations()[0].instances()[0].state().unwrap().name().unwrap().as_str().to_owned();
    assert_eq!(state, "terminated");
    assert_eq!(app.sync().await, 1, "the next run sees it gone");
    assert_eq!(app.state("alice", &id).await, "TERMINATED");
}

// EC2 is the truth (issue #18): an instance stopped or started behind Atelier's back.

/// The EC2 client of the harness (not counted among the application's calls).
fn ec2(app: &atelier_tests::TestApp) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&app.sdk)
}

async fn instance_of(app: &atelier_tests::TestApp, id: &str) -> String {
    let stored = app.app.table().get(&WorkspaceId::parse(id).unwrap()).await.unwrap().unwrap();
    stored.provisioned.instance_id.expect("an instance")
}

/// EC2's state-change notification as EventBridge delivers it to the function.
fn state_change(instance: &str, state: &str, time: jiff::Timestamp) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": "eu-west-3",
        "resources": [format!("arn:aws:ec2:eu-west-3:123456789012:instance/{instance}")],
        "detail": { "instance-id": instance, "state": state }
    })
}

/// The whole seconds of the current month (`runningSeconds`, `compute`) of workspace `id`
/// in `/v1/costs/me`.
async fn running_seconds(app: &atelier_tests::TestApp, user: &str, id: &str) -> (i64, String) {
    let month = jiff::Timestamp::now().strftime("%Y-%m").to_string();
    let costs = app.get(user, &format!("/v1/costs/me?month={month}")).await;
    assert_eq!(costs.status, http::StatusCode::OK, "{}", costs.body);
    let line = costs.body["workspaces"]
        .as_array()
        .and_then(|lines| lines.iter().find(|l| l["workspaceId"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no line for {id}: {}", costs.body));
    (line["runningSeconds"].as_i64().unwrap(), line["compute"].as_str().unwrap().to_owned())
}

/// Waits past the second the workspace last changed in, so that EC2's instants (whole
/// seconds) come after it and are believed.
async fn next_second() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn an_instance_stopped_behind_atelier_s_back_is_stopped_by_the_next_pass_and_its_compute_stops() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let instance = instance_of(&app, &id).await;
    next_second().await;
    ec2(&app).stop_instances().instance_ids(&instance).send().await.unwrap();

    assert_eq!(app.sync().await, 1, "one pass");
    assert_eq!(app.state("alice", &id).await, "STOPPED");
    let events = app.get("alice", &format!("/v1/workspaces/{id}/events")).await;
    let event = &events.body["items"][0];
    assert_eq!((event["actor"].as_str(), event["action"].as_str()), (Some("state-sync"), Some("sync")));
    assert_eq!((event["from"].as_str(), event["to"].as_str()), (Some("RUNNING"), Some("STOPPED")));
    assert_eq!(event["reason"], "stopped outside Atelier");
    assert_eq!(event["instance"]["id"], instance.as_str());
    assert_eq!(event["instance"]["state"], "stopped");
    let why = event["instance"]["transitionReason"].as_str().expect("EC2's StateTransitionReason");
    assert!(why.starts_with("User initiated ("), "{why}");
    // Stamped with the instant in EC2's reason (whole seconds), not when state-sync looked.
    assert_eq!(event["instance"]["timeSource"], "ec2-reason");
    let at: jiff::Timestamp = event["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at.subsec_nanosecond(), 0, "{at}");

    let first = running_seconds(&app, "alice", &id).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(running_seconds(&app, "alice", &id).await, first, "compute no longer grows");
    assert_eq!(app.sync().await, 0, "nothing more to do");
}

#[tokio::test]
async fn an_ec2_state_change_event_moves_its_one_workspace_both_ways_at_the_event_time() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let untouched = app.running_workspace("alice", "small-t3-large").await;
    let instance = instance_of(&app, &id).await;
    let other = instance_of(&app, &untouched).await;
    next_second().await;
    ec2(&app).stop_instances().instance_ids(&instance).instance_ids(&other).send().await.unwrap();
    let stopped_at = jiff::Timestamp::now();

    let outcome = app.app.sync_event(&state_change(&instance, "stopped", stopped_at)).await.unwrap();
    assert_eq!((outcome.examined, outcome.settled, outcome.failed.len()), (1, 1, 0));
    assert_eq!(app.state("alice", &id).await, "STOPPED");
    assert_eq!(app.state("alice", &untouched).await, "RUNNING", "the event's instance only");
    let events = app.get("alice", &format!("/v1/workspaces/{id}/events")).await;
    let event = &events.body["items"][0];
    assert_eq!(event["reason"], "stopped outside Atelier");
    assert_eq!(event["instance"]["timeSource"], "ec2-event");
    let at: jiff::Timestamp = event["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, stopped_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string().parse().unwrap(), "the event's time");
    let first = running_seconds(&app, "alice", &id).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(running_seconds(&app, "alice", &id).await, first, "compute no longer grows");

    // The reverse: started behind Atelier's back.
    next_second().await;
    ec2(&app).start_instances().instance_ids(&instance).send().await.unwrap();
    let started_at = jiff::Timestamp::now();
    let outcome = app.app.sync_event(&state_change(&instance, "running", started_at)).await.unwrap();
    assert_eq!(outcome.settled, 1);
    assert_eq!(app.state("alice", &id).await, "RUNNING");
    let events = app.get("alice", &format!("/v1/workspaces/{id}/events")).await;
    assert_eq!(events.body["items"][0]["reason"], "started outside Atelier");
    assert_eq!(events.body["items"][0]["from"], "STOPPED");
    // A new run: billed again, at least EC2's 60 seconds per start.
    let again = running_seconds(&app, "alice", &id).await.0;
    assert!(again >= first.0 + 60, "compute is billed again: {} then {again}", first.0);

    // The periodic pass is the safety net: it catches the other stop the event never announced.
    assert_eq!(app.sync().await, 1);
    assert_eq!(app.state("alice", &untouched).await, "STOPPED");
    // An event for an instance Atelier does not own changes nothing.
    let foreign = app.app.sync_event(&state_change("i-0123456789abcdef0", "stopped", started_at)).await.unwrap();
    assert_eq!((foreign.examined, foreign.settled), (0, 0));
}

#[tokio::test]
async fn a_stopped_workspace_whose_instance_was_started_behind_atelier_s_back_is_running_after_one_pass() {
    let app = spawn_app().await;
    let id = app.running_workspace("bob", "small-t3-large").await;
    assert_eq!(app.post("bob", &format!("/v1/workspaces/{id}/stop"), None).await.status, http::StatusCode::ACCEPTED);
    app.sync().await;
    assert_eq!(app.state("bob", &id).await, "STOPPED");
    let instance = instance_of(&app, &id).await;
    ec2(&app).start_instances().instance_ids(&instance).send().await.unwrap();
    assert_eq!(app.sync().await, 1);
    assert_eq!(app.state("bob", &id).await, "RUNNING");
    let events = app.get("bob", &format!("/v1/workspaces/{id}/events")).await;
    assert_eq!(events.body["items"][0]["reason"], "started outside Atelier");
    assert_eq!(events.body["items"][0]["instance"]["timeSource"], "observed", "EC2 dates stops only");
}

#[tokio::test]
async fn a_failed_workspace_with_a_running_instance_is_billed_compute_and_raises_the_alarm() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let workspace_id = WorkspaceId::parse(&id).unwrap();
    // FAILED as a termination that timed out leaves it (TerminateInstances never got
    // through): the instance still runs.
    let stored = app.app.table().get(&workspace_id).await.unwrap().unwrap();
    let now = jiff::Timestamp::now();
    let failed =
        WorkspaceBuilder::from(stored.clone()).state(State::Failed).version(stored.version + 1).updated_at(now).build();
    let event = Event {
        at: now,
        actor: Actor::state_sync(),
        action: EventAction::Sync,
        from: Some(State::Running),
        to: State::Failed,
        reason: Some("the termination did not finish within 60 minutes".into()),
        connection: None,
        instance: None,
    };
    app.app.table().update(&failed, State::Running, Some(&event)).await.unwrap();
    // Until state-sync has looked at its instance, FAILED time bills nothing: only the
    // run before it (billed at least EC2's 60 seconds).
    let before = running_seconds(&app, "alice", &id).await.0;

    let outcome = app.app.sync_once().await.unwrap();
    assert_eq!((outcome.settled, outcome.failed_with_resources), (0, 1), "{outcome:?}");
    assert_eq!(outcome.failed_workspaces_metric(), 1, "the FailedWorkspaces alarm is raised");
    assert_eq!(app.state("alice", &id).await, "FAILED");
    let events = app.get("alice", &format!("/v1/workspaces/{id}/events")).await;
    let observed = &events.body["items"][0];
    assert_eq!((observed["from"].as_str(), observed["to"].as_str()), (Some("FAILED"), Some("FAILED")));
    assert_eq!(observed["instance"]["state"], "running");

    // Billed compute while EC2 says running: a run from the observation on, at least 60 s.
    let during = running_seconds(&app, "alice", &id).await.0;
    assert!(during >= before + 60, "a FAILED workspace's running instance is billed: {before} then {during}");

    // Stopped in the console: the next pass records it and compute stops.
    let instance = instance_of(&app, &id).await;
    ec2(&app).stop_instances().instance_ids(&instance).send().await.unwrap();
    let outcome = app.app.sync_once().await.unwrap();
    assert_eq!(outcome.failed_with_resources, 1, "its volume still costs");
    let first = running_seconds(&app, "alice", &id).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(running_seconds(&app, "alice", &id).await, first, "storage only now");
    assert_eq!(app.state("alice", &id).await, "FAILED");
}
