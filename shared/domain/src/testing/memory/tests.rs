//! The storage doubles keep the ports' contracts as the DynamoDB adapter does (the same
//! checks run against the table in the integration tests), and the rest of what tests
//! rely on: small pages, datasets written all or nothing.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::MemoryStore;
use crate::catalog::Catalog;
use crate::datasets::ports::{AccessFilter, AttachmentChange};
use crate::datasets::{AccessAction, AccessEvent, Classification, Dataset, DatasetId, DatasetStore, Location, Readers};
use crate::kernel::{PageRequest, StoreError, all_pages};
use crate::schedule::{Schedule, ScheduleDefaults};
use crate::testing::{ProductBuilder, WorkspaceBuilder, contract};
use crate::workspaces::{Actor, State, Workspace, WorkspaceStore};

#[tokio::test]
async fn the_memory_store_keeps_the_workspace_store_contract() {
    let store = MemoryStore::default();
    contract::workspace_store(&store, &store, 5).await;
    let store = MemoryStore::default().with_max_active(2);
    contract::workspace_store(&store, &store, 2).await;
    let small = MemoryStore::default().with_page_size(1);
    contract::workspace_store(&small, &small, 5).await;
}

#[tokio::test]
async fn the_memory_store_records_runs_only_forward_and_keeps_the_default_schedule() {
    let store = MemoryStore::default();
    contract::scheduler_runs(&store).await;
    contract::scheduler_runs(&store).await;
    assert_eq!(ScheduleDefaults::get(&store).await.expect("get"), Schedule::default(), "none set yet");
    let edited = Schedule::parse(serde_json::json!({
        "timezone": "Europe/Paris",
        "windows": [{ "days": ["mon"], "start": "09:00", "end": "12:00" }],
        "holidays": null,
        "outside": "stop",
        "enabled": false
    }))
    .expect("a schedule");
    ScheduleDefaults::put(&store, &edited).await.expect("put");
    assert_eq!(ScheduleDefaults::get(&store).await.expect("get"), edited);
}

#[tokio::test]
async fn a_page_size_caps_every_list_and_its_tokens_are_its_own() {
    let store = MemoryStore::default().with_page_size(2);
    for id in ["a-1", "b-2", "c-3"] {
        store.put_product(ProductBuilder::new(id).build());
    }
    let first = store.products(&PageRequest::first(100)).await.expect("products");
    assert_eq!(first.items.len(), 2, "at most two a page whatever is asked");
    let store = &store;
    let all = all_pages(|page| async move { store.products(&page).await }).await.expect("products");
    let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["a-1", "b-2", "c-3"], "by id");
    let foreign = PageRequest { limit: 2, token: first.next_token };
    let listed = store.list(&crate::workspaces::WorkspaceFilter::All, &foreign).await;
    assert!(matches!(listed, Err(StoreError::BadPageToken)), "the catalog's token on the workspaces");
}

fn dataset(id: &str) -> Dataset {
    let at: Timestamp = "2026-03-01T00:00:00Z".parse().expect("instant");
    Dataset {
        id: DatasetId::parse(id).expect("id"),
        name: id.into(),
        description: "d".into(),
        location: Location::parse("s3://bucket/prefix/").expect("location"),
        classification: Classification::Internal,
        owner: "data-team".into(),
        readers: Readers { groups: BTreeSet::new(), users: ["alice".to_owned()].into() },
        created_at: at,
        updated_at: at,
        version: 1,
    }
}

fn access(dataset: &Dataset, action: AccessAction, at: &str, workspace: &Workspace) -> AccessEvent {
    AccessEvent {
        at: at.parse().expect("instant"),
        dataset_id: dataset.id.clone(),
        action,
        actor: Actor::user(&workspace.owner.username),
        user: Some(workspace.owner.username.clone()),
        group: None,
        workspace_id: Some(workspace.id.to_string()),
        reason: None,
    }
}

#[tokio::test]
async fn datasets_are_written_on_their_version_and_attachments_all_or_nothing() {
    let store = MemoryStore::default();
    let genome = dataset("genome");
    store.insert_dataset(&genome, &[]).await.expect("insert");
    assert!(matches!(store.insert_dataset(&genome, &[]).await, Err(StoreError::Conflict)), "a taken id");
    let stale = Dataset { version: 3, ..genome.clone() };
    assert!(matches!(store.update_dataset(&stale, &[]).await, Err(StoreError::Conflict)), "not version + 1");
    let renamed = Dataset { name: "Genome".into(), version: 2, ..genome.clone() };
    store.update_dataset(&renamed, &[]).await.expect("update");

    let workspace = WorkspaceBuilder::new().build();
    store.put_workspace(workspace.clone());
    let attached = WorkspaceBuilder::from(workspace.clone()).version(2).datasets(vec![genome.id.clone()]).build();
    let event = access(&genome, AccessAction::Attach, "2026-03-02T00:00:00Z", &workspace);
    let change = |dataset_version| AttachmentChange {
        workspace: &attached,
        expected_state: State::Running,
        dataset: &genome.id,
        dataset_version,
        event: &event,
        policy: "{}",
    };
    let outdated = store.attach(change(Some(1))).await;
    assert!(matches!(outdated, Err(StoreError::Conflict)), "the dataset changed since the decision");
    assert!(store.attachments(&genome.id).await.expect("attachments").is_empty(), "nothing was written");
    assert_eq!(store.workspace(&workspace.id).map(|w| w.version), Some(1));
    store.attach(change(Some(2))).await.expect("attach");
    assert_eq!(store.attachments(&genome.id).await.expect("attachments").len(), 1);
    assert_eq!(store.policy(&workspace.id).await.expect("policy").as_deref(), Some("{}"));
    assert!(matches!(store.attach(change(Some(2))).await, Err(StoreError::Conflict)), "the same version again");

    let trace = store.access_events(&AccessFilter::User("alice".into()), &PageRequest::first(10)).await;
    assert_eq!(trace.expect("trace").items, std::slice::from_ref(&event));
    let march = store.access_events(&AccessFilter::Month("2026-03".into()), &PageRequest::first(10)).await;
    assert_eq!(march.expect("trace").items.len(), 1);
    let april = store.access_events(&AccessFilter::Month("2026-04".into()), &PageRequest::first(10)).await;
    assert!(april.expect("trace").items.is_empty());
}

#[tokio::test]
async fn the_memory_store_keeps_the_budget_and_notification_contract() {
    let store = MemoryStore::default();
    contract::budget_and_notification_stores(&store, &store).await;
    let small = MemoryStore::default().with_page_size(1);
    contract::budget_and_notification_stores(&small, &small).await;
}
