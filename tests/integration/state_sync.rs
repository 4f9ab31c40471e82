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
