//! The hooks and the fakes do what their documentation promises.

use super::*;
use crate::costs::KnownUsers;
use crate::datasets::{DataMounts, DatasetId, GroupDirectory, Location, Mount};
use crate::kernel::{Profile, StoreError, UserDirectory};
use crate::workspaces::{
    Actor, Event, EventAction, InstanceState, PowerSwitch, Progress, ProvisionRequest, Provisioner, State,
    WorkspaceStore,
};

fn sync(workspace: &crate::Workspace) -> Event {
    Event {
        at: workspace.updated_at,
        actor: Actor::state_sync(),
        action: EventAction::Sync,
        from: None,
        to: workspace.state,
        reason: None,
        connection: None,
        instance: None,
    }
}

#[tokio::test]
async fn fail_after_cuts_the_selected_calls_until_healed_and_every_call_is_logged() {
    let workspace = WorkspaceBuilder::new().build();
    let store = Hooked::new(MemoryStore::default());
    store.fail_after(1, Call::is_write);
    store.insert(&workspace, &sync(&workspace), None).await.expect("the first write goes through");
    let stopped = WorkspaceBuilder::from(workspace.clone()).state(State::Stopped).version(2).build();
    match store.update(&stopped, State::Running, None).await {
        Err(StoreError::Upstream(err)) => assert!(err.retryable, "an interrupted process may be retried"),
        other => panic!("expected an injected failure, got {other:?}"),
    }
    assert!(store.get(&workspace.id).await.expect("reads are not selected").is_some());
    assert_eq!(store.inner().workspace(&workspace.id).map(|w| w.state), Some(State::Running), "nothing written");
    store.heal();
    store.update(&stopped, State::Running, None).await.expect("healed");
    let calls = store.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls.iter().filter(|c| c.is_write()).count(), 3, "failed calls are logged too");
}

#[tokio::test]
async fn another_writer_wins_the_next_update_once_and_history_reads_are_recorded() {
    let workspace = WorkspaceBuilder::new().build();
    let store = Hooked::new(MemoryStore::default());
    store.insert(&workspace, &sync(&workspace), None).await.expect("insert");
    store.another_writer_wins();
    assert!(store.another_writer_pending());
    let stopped = WorkspaceBuilder::from(workspace.clone()).state(State::Stopped).version(2).build();
    assert!(matches!(store.update(&stopped, State::Running, None).await, Err(StoreError::Conflict)));
    assert!(!store.another_writer_pending());
    let current = store.get(&workspace.id).await.expect("get").expect("stored");
    assert_eq!((current.state, current.version), (State::Running, 2), "the other writer moved the version only");
    store.latency(std::time::Duration::from_millis(1), Call::is_history_read);
    store.events(&workspace.id, &crate::kernel::PageRequest::first(10)).await.expect("events");
    assert_eq!(store.history_reads(), std::slice::from_ref(&workspace.id));
}

#[tokio::test]
async fn fake_ec2_refuses_what_it_is_told_to_and_logs_every_call() {
    let ec2 = FakeEc2::default();
    ec2.refuse("i-bad");
    let batch = ["i-1".to_owned(), "i-bad".to_owned()];
    let refused = ec2.stop(&batch, true).await.expect_err("one bad instance fails the batch");
    assert!(!refused.retryable);
    ec2.stop(&batch[..1], false).await.expect("stop");
    assert_eq!(ec2.stopped(), ["i-1"]);
    assert_eq!(ec2.calls().len(), 2);
    assert_eq!(ec2.calls()[0].action, PowerAction::Stop { hibernate: true });
    let seen = ec2.observe(&["i-1".to_owned(), "i-never".to_owned()]).await.expect("observe");
    assert_eq!((seen["i-1"], seen["i-never"]), (InstanceState::Stopping, InstanceState::Missing));

    let mount = Mount {
        dataset_id: DatasetId::parse("genome").expect("id"),
        location: Location::parse("s3://bucket/prefix/").expect("location"),
    };
    ec2.publish(&WorkspaceBuilder::new().build(), std::slice::from_ref(&mount)).await.expect("no machine yet");
    ec2.publish(&WorkspaceBuilder::new().instance("i-1").build(), std::slice::from_ref(&mount)).await.expect("publish");
    assert_eq!(ec2.mounts("i-1"), Some(vec![mount]));
}

#[tokio::test]
async fn fake_provisioner_provisions_once_per_token_and_terminates_as_set() {
    let provisioner = FakeProvisioner::default();
    let product = ProductBuilder::new("small-t3-large").build();
    let workspace = WorkspaceBuilder::new().provision_token("t-1").build();
    let request = ProvisionRequest { workspace: &workspace, product: &product };
    let handle = provisioner.provision(request).await.expect("provision");
    assert_eq!(provisioner.provision(request).await.expect("again"), handle, "idempotent per token");
    assert_eq!(provisioner.provisioned(), std::slice::from_ref(&workspace.id));
    assert_eq!(provisioner.provisioning_progress(&handle).await.expect("progress"), Progress::InProgress);
    assert_eq!(provisioner.termination_progress(&Default::default()).await.expect("progress"), Progress::NotStarted);
    provisioner.fail_terminate();
    assert!(!provisioner.terminate(&workspace).await.expect_err("refused").retryable);
    assert!(provisioner.terminated().is_empty());
}

#[tokio::test]
async fn fake_directory_treats_an_unknown_user_as_a_deleted_one() {
    let directory = FakeDirectory::default().with_user("alice", Profile::default());
    directory.set_groups("alice", &["scientists"]);
    assert!(directory.exists("alice").await.expect("exists"));
    assert_eq!(directory.groups("alice").await.expect("groups"), ["scientists"]);
    directory.forget("alice");
    assert!(!directory.profile("alice").await.expect_err("forgotten").retryable);
    assert!(!directory.exists("alice").await.expect("exists"));
    assert!(directory.groups("alice").await.expect("groups").is_empty());
}
