//! The adapters against the local AWS server: conditional writes, EC2 launch and power.

use std::sync::Arc;

use atelier_domain::{
    Actor, Command, EventAction, WorkspaceId,
    workspaces::{InstanceState, PowerSwitch, WorkspaceStore, transition},
};
use atelier_tests::spawn_app;
use http::StatusCode;

#[tokio::test]
async fn two_writers_on_one_version_never_both_win() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let store = app.app.table().clone();
    let workspace = store.get(&WorkspaceId::parse(&id).unwrap()).await.unwrap().unwrap();
    let now = jiff::Timestamp::now();
    let stop = transition(
        store.as_ref(),
        workspace.clone(),
        Command::Stop.into(),
        Actor::user("a"),
        EventAction::Stop,
        None,
        now,
    );
    let terminate = transition(
        store.as_ref(),
        workspace,
        Command::Terminate.into(),
        Actor::user("b"),
        EventAction::Terminate,
        None,
        now,
    );
    let (a, b) = tokio::join!(stop, terminate);
    assert!(a.is_ok() != b.is_ok(), "exactly one wins: {a:?} / {b:?}");
    let events = app.get("alice", &format!("/v1/workspaces/{id}/events")).await;
    assert_eq!(events.body["items"].as_array().unwrap().len(), 3, "create, sync, and one of the two");
}

#[tokio::test]
async fn fifty_concurrent_actions_leave_one_consistent_history() {
    let app = Arc::new(spawn_app().await);
    let id = app.running_workspace("alice", "python-r-standard").await;
    let token = app.token("alice").await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (app, id, token) = (app.clone(), id.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let action = ["stop", "hibernate", "terminate", "start", "stop"][i % 5];
            let (method, path) = if action == "terminate" {
                (http::Method::DELETE, format!("/v1/workspaces/{id}"))
            } else {
                (http::Method::POST, format!("/v1/workspaces/{id}/{action}"))
            };
            let response = app.call(method, &path, Some(&token), None).await;
            (action, response.status, response.body)
        }));
    }
    let mut accepted = Vec::new();
    for task in tasks {
        let (action, status, body) = task.await.unwrap();
        match status {
            StatusCode::ACCEPTED => accepted.push((action, body["state"].as_str().unwrap().to_owned())),
            StatusCode::CONFLICT => {}
            other => panic!("{action}: unexpected {other}: {body}"),
        }
    }
    assert_eq!(accepted.len(), 1, "from RUNNING exactly one action can win: {accepted:?}");
    let events =
        app.get("alice", &format!("/v1/workspaces/{id}/events")).await.body["items"].as_array().unwrap().clone();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    let winner = accepted[0].0;
    assert_eq!(actions, [winner, "sync", "create"], "exactly the events that happened, newest first");
    let state = app.state("alice", &id).await;
    assert_eq!(state, accepted[0].1, "the stored state is the winner's");
    assert_eq!(events[0]["to"].as_str().unwrap(), state, "and the history ends where the workspace is");
}

#[tokio::test]
async fn ec2_launch_tags_and_hardens_the_instance() {
    let app = spawn_app().await;
    let id = app.create_workspace("alice", "python-r-standard", "Tagged").await;
    let instance_id = app.get("alice", &format!("/v1/workspaces/{id}")).await.str("instanceId");
    let ec2 = aws_sdk_ec2::Client::new(&app.sdk);
    let described = ec2.describe_instances().instance_ids(&instance_id).send().await.unwrap();
    let instance = &described.reservations()[0].instances()[0];
    let tag =
        |key: &str| instance.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value()).map(str::to_owned);
    assert_eq!(tag("atelier:owner").as_deref(), Some("alice"));
    assert_eq!(tag("atelier:workspace").as_deref(), Some(id.as_str()));
    assert_eq!(tag("atelier:cost-centre").as_deref(), Some("CC-ONCOLOGY"));
    assert_eq!(instance.instance_type().map(|t| t.as_str()), Some("m5.2xlarge"));
    assert_eq!(instance.hibernation_options().and_then(|h| h.configured()), Some(true));
    assert_eq!(
        instance.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str()),
        Some("required"),
        "IMDSv2 only"
    );
}

#[tokio::test]
async fn the_power_switch_reports_unknown_instances_as_missing() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let instance_id = app.get("alice", &format!("/v1/workspaces/{id}")).await.str("instanceId");
    let unknown = "i-0123456789abcdef0".to_owned();
    let states = app.app.root.ec2().observe(&[instance_id.clone(), unknown.clone()]).await.unwrap();
    assert_eq!(states[&instance_id], InstanceState::Running);
    assert_eq!(states[&unknown], InstanceState::Missing);
    app.app.root.ec2().stop(std::slice::from_ref(&instance_id), true).await.unwrap();
    let states = app.app.root.ec2().observe(std::slice::from_ref(&instance_id)).await.unwrap();
    assert_eq!(states[&instance_id], InstanceState::Stopped);
}

#[tokio::test]
async fn the_table_keeps_the_storage_contracts_the_memory_double_keeps() {
    // The same checks run against atelier_domain::testing::MemoryStore in the domain's
    // tests: the double the unit tests rely on behaves as the table does.
    let app = atelier_tests::spawn_app_with_max_active(3).await;
    let table = app.app.table().as_ref();
    atelier_domain::testing::contract::workspace_store(table, table, table.max_active()).await;
    atelier_domain::testing::contract::scheduler_runs(table).await;
    atelier_domain::testing::contract::budget_and_notification_stores(table, table).await;
}
