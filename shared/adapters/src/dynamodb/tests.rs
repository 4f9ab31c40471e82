//! What a failed write means, store by store, against a mocked DynamoDB client answering
//! what AWS answers (moto cannot be made to throttle or cancel a transaction on demand).
//! Every store's transactions go through one helper (`writes::Transaction`); these tests
//! pin that each store's writes get its mapping, in particular the dataset writes, which
//! once answered a throttled transaction as a non-retryable failure (502, not 503).

use atelier_domain::{
    Actor, State, Workspace,
    costs::{BudgetStore, Month, MonthIndex},
    datasets::{
        AccessAction, AccessEvent, Classification, Dataset, DatasetId, DatasetStore, Location, Readers,
        ports::AttachmentChange,
    },
    kernel::StoreError,
    schedule::SchedulerRuns,
    testing::{WorkspaceBuilder, creation_event},
    workspaces::{IdempotencyRecord, Inserted, WorkspaceStore},
};
use aws_sdk_dynamodb::{
    Client,
    config::{BehaviorVersion, Credentials, Region, retry::RetryConfig},
    error::ErrorMetadata,
    operation::{delete_item::DeleteItemError, put_item::PutItemError, transact_write_items::TransactWriteItemsError},
    types::{
        CancellationReason,
        error::{ConditionalCheckFailedException, TransactionCanceledException},
    },
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, mock};
use jiff::Timestamp;

use super::Table;

/// The table on a client whose calls `rules` answer; retries off, so that the answer the
/// adapter maps is the one the rule gives.
fn table(rules: &[&Rule]) -> Table {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "mock"))
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(interceptor)
        .retry_config(RetryConfig::disabled())
        .build();
    Table::new(Client::from_conf(config), "atelier")
}

/// `TransactWriteItems` answering a `TransactionCanceledException` with `reasons`, one per
/// item in order, as DynamoDB does.
fn cancelled(reasons: &[&str]) -> Rule {
    let message = format!(
        "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
        reasons.join(", ")
    );
    let reasons: Vec<String> = reasons.iter().map(|&r| r.to_owned()).collect();
    mock!(Client::transact_write_items).then_error(move || {
        let mut error = TransactionCanceledException::builder().message(&message);
        for code in &reasons {
            error = error.cancellation_reasons(CancellationReason::builder().code(code).build());
        }
        TransactWriteItemsError::TransactionCanceledException(error.build())
    })
}

fn condition_failed() -> ConditionalCheckFailedException {
    ConditionalCheckFailedException::builder()
        .message("The conditional request failed")
        .meta(ErrorMetadata::builder().code("ConditionalCheckFailedException").build())
        .build()
}

fn dataset() -> Dataset {
    let at: Timestamp = "2026-11-23T08:00:00Z".parse().unwrap();
    Dataset {
        id: DatasetId::parse("onco-2026").unwrap(),
        name: "Oncology 2026".into(),
        description: "A test dataset".into(),
        location: Location::parse("s3://atelier-lake/onco-2026/").unwrap(),
        classification: Classification::Clinical,
        owner: "data-office".into(),
        readers: Readers { groups: ["oncology".to_owned()].into(), users: Default::default() },
        created_at: at,
        updated_at: at,
        version: 2,
    }
}

fn access_event(action: AccessAction, workspace: &Workspace) -> AccessEvent {
    AccessEvent {
        at: Timestamp::now(),
        dataset_id: dataset().id,
        action,
        actor: Actor::user("alice"),
        user: Some("alice".into()),
        group: None,
        workspace_id: Some(workspace.id.to_string()),
        reason: None,
    }
}

/// Every write of [`DatasetStore`], against `table`, each answering what the store said.
async fn dataset_writes(table: &Table) -> Vec<(&'static str, Result<(), StoreError>)> {
    let dataset = dataset();
    let workspace = WorkspaceBuilder::new().version(4).build();
    let grant = access_event(AccessAction::Grant, &workspace);
    let attach = access_event(AccessAction::Attach, &workspace);
    let detach = access_event(AccessAction::Detach, &workspace);
    let change = |event, dataset_version| AttachmentChange {
        workspace: &workspace,
        expected_state: State::Running,
        dataset: &dataset.id,
        dataset_version,
        event,
        policy: "{}",
    };
    vec![
        ("insert_dataset", table.insert_dataset(&dataset, std::slice::from_ref(&grant)).await),
        ("update_dataset", table.update_dataset(&dataset, std::slice::from_ref(&grant)).await),
        ("delete_dataset", table.delete_dataset(&dataset, std::slice::from_ref(&grant)).await),
        ("attach", table.attach(change(&attach, Some(dataset.version))).await),
        ("detach", table.detach(change(&detach, None)).await),
    ]
}

#[tokio::test]
async fn a_throttled_dataset_write_is_retryable_not_a_conflict() {
    let throttled = cancelled(&["None", "ThrottlingError", "None", "None", "None"]);
    let table = table(&[&throttled]);
    for (write, outcome) in dataset_writes(&table).await {
        match outcome {
            Err(StoreError::Upstream(err)) => assert!(err.retryable, "{write}: throttling may be retried: {err}"),
            other => panic!("{write}: expected a retryable upstream error, got {other:?}"),
        }
    }
    assert_eq!(throttled.num_calls(), 5, "one transaction per write");
}

#[tokio::test]
async fn a_dataset_write_that_lost_a_condition_or_a_race_is_a_conflict() {
    for reasons in [
        &["None", "None", "None", "None", "ConditionalCheckFailed"][..],
        &["TransactionConflict", "None", "None", "None", "None"][..],
        // A lost condition wins over throttling: retrying cannot make it hold.
        &["ConditionalCheckFailed", "ThrottlingError", "None", "None", "None"][..],
    ] {
        let rule = cancelled(reasons);
        let table = table(&[&rule]);
        for (write, outcome) in dataset_writes(&table).await {
            assert!(matches!(outcome, Err(StoreError::Conflict)), "{write} with {reasons:?}: {outcome:?}");
        }
    }
}

#[tokio::test]
async fn a_transaction_cancelled_for_another_reason_is_an_upstream_failure_not_to_retry() {
    let rule = cancelled(&["ValidationError", "None", "None", "None", "None"]);
    let table = table(&[&rule]);
    for (write, outcome) in dataset_writes(&table).await {
        match outcome {
            Err(StoreError::Upstream(err)) => assert!(!err.retryable, "{write}: {err}"),
            other => panic!("{write}: expected an upstream error, got {other:?}"),
        }
    }
}

fn key_record(workspace: &Workspace) -> IdempotencyRecord {
    IdempotencyRecord {
        owner: workspace.owner.username.clone(),
        key: "key-1".into(),
        request_hash: "hash".into(),
        workspace_id: workspace.id.clone(),
        expires_at: Timestamp::now() + jiff::SignedDuration::from_hours(24),
    }
}

#[tokio::test]
async fn a_workspace_insert_tells_a_taken_key_from_the_active_limit_by_the_item_that_failed() {
    let workspace = WorkspaceBuilder::new().state(State::Provisioning).build();
    let (event, record) = (creation_event(&workspace), key_record(&workspace));
    // The items: workspace, event, [idempotency key], counter, month index entry.
    let cases: [(&[&str], bool, &str); 5] = [
        (&["None", "None", "ConditionalCheckFailed", "None", "None"], true, "KeyTaken"),
        (&["None", "None", "ConditionalCheckFailed", "ConditionalCheckFailed", "None"], true, "KeyTaken"),
        (&["None", "None", "None", "ConditionalCheckFailed", "None"], true, "ActiveLimit"),
        (&["None", "None", "ConditionalCheckFailed", "None"], false, "ActiveLimit"),
        (&["ConditionalCheckFailed", "None", "None", "None"], false, "Conflict"),
    ];
    for (reasons, with_key, expected) in cases {
        let rule = cancelled(reasons);
        let table = table(&[&rule]).with_max_active(3);
        let outcome = table.insert(&workspace, &event, with_key.then_some(&record)).await;
        let got = match outcome {
            Ok(Inserted::KeyTaken) => "KeyTaken",
            Ok(Inserted::ActiveLimit { max: 3 }) => "ActiveLimit",
            Err(StoreError::Conflict) => "Conflict",
            other => panic!("{reasons:?}: {other:?}"),
        };
        assert_eq!(got, expected, "{reasons:?}");
    }
}

#[tokio::test]
async fn a_throttled_workspace_write_is_retryable() {
    let workspace = WorkspaceBuilder::new().state(State::Provisioning).build();
    let rule = cancelled(&["None", "ThrottlingError", "None", "None", "None"]);
    let table = table(&[&rule]);
    let inserted = table.insert(&workspace, &creation_event(&workspace), Some(&key_record(&workspace))).await;
    assert!(matches!(inserted, Err(StoreError::Upstream(ref e)) if e.retryable), "{inserted:?}");
    let mut next = workspace.clone();
    next.version += 1;
    let updated = table.update(&next, State::Provisioning, Some(&creation_event(&next))).await;
    assert!(matches!(updated, Err(StoreError::Upstream(ref e)) if e.retryable), "{updated:?}");
}

#[tokio::test]
async fn a_single_item_write_that_lost_its_condition_is_a_conflict() {
    let put = mock!(Client::put_item).then_error(|| PutItemError::ConditionalCheckFailedException(condition_failed()));
    let delete =
        mock!(Client::delete_item).then_error(|| DeleteItemError::ConditionalCheckFailedException(condition_failed()));
    let table = table(&[&put, &delete]);
    let recorded = table.record_run(Timestamp::now()).await;
    assert!(matches!(recorded, Err(StoreError::Conflict)), "{recorded:?}");
    let deleted = table.delete_user_budget("alice", 3).await;
    assert!(matches!(deleted, Err(StoreError::Conflict)), "{deleted:?}");
    // A workspace write with nothing else in its transaction is a single put, same meaning.
    let mut next = WorkspaceBuilder::new().build();
    next.version += 1;
    let updated = table.update(&next, State::Running, None).await;
    assert!(matches!(updated, Err(StoreError::Conflict)), "{updated:?}");
    // A seal that finds one already there keeps it, and says nothing went wrong.
    let sealed = table.seal(Month::new(2026, 11).unwrap(), Timestamp::now()).await;
    assert!(sealed.is_ok(), "{sealed:?}");
    assert_eq!((put.num_calls(), delete.num_calls()), (3, 1));
}
