//! Limits: the per-user cap on active workspaces (race-free: a conditional counter in the
//! create transaction), page sizes and page tokens, the body size cap.

use std::sync::Arc;

use atelier_tests::{spawn_app, spawn_app_with_max_active};
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_user_gets_a_clear_422_past_the_active_workspace_cap() {
    let app = spawn_app_with_max_active(2).await;
    let first = app.running_workspace("alice", "small-t3-large").await;
    app.create_workspace("alice", "small-t3-large", "second").await;
    let third =
        app.post("alice", "/v1/workspaces", Some(json!({ "productId": "small-t3-large", "name": "third" }))).await;
    assert_eq!(third.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", third.body);
    assert_eq!(third.str("type"), "/problems/unprocessable");
    assert_eq!(third.str("field"), "workspaces");
    assert!(third.str("detail").contains("you already have 2 active workspaces"), "{}", third.body);
    assert_eq!(app.get("alice", "/v1/workspaces").await.body["items"].as_array().map(Vec::len), Some(2));
    // The cap is per user.
    app.create_workspace("bob", "small-t3-large", "bob's").await;

    // A terminated workspace frees its slot once it is TERMINATED (TERMINATING still counts).
    assert_eq!(app.delete("alice", &format!("/v1/workspaces/{first}")).await.status, StatusCode::ACCEPTED);
    let refused =
        app.post("alice", "/v1/workspaces", Some(json!({ "productId": "small-t3-large", "name": "x" }))).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "TERMINATING is still active");
    app.sync().await;
    assert_eq!(app.state("alice", &first).await, "TERMINATED");
    assert_eq!(app.app.table().active_workspaces("alice").await.unwrap(), 1);
    app.create_workspace("alice", "small-t3-large", "third").await;
    assert_eq!(app.app.table().active_workspaces("alice").await.unwrap(), 2);
}

#[tokio::test]
async fn a_replayed_key_is_answered_even_at_the_cap() {
    let app = spawn_app_with_max_active(1).await;
    let token = app.token("alice").await;
    let body = json!({ "productId": "small-t3-large", "name": "only" });
    let key = [("idempotency-key", "cap-replay")];
    let first = app.call_with(Method::POST, "/v1/workspaces", Some(&token), Some(body.clone()), &key).await;
    let again = app.call_with(Method::POST, "/v1/workspaces", Some(&token), Some(body), &key).await;
    assert_eq!((first.status, again.status), (StatusCode::ACCEPTED, StatusCode::ACCEPTED), "{}", again.body);
    assert_eq!(first.str("id"), again.str("id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_cannot_overshoot_the_cap() {
    let app = Arc::new(spawn_app_with_max_active(3).await);
    let token = app.token("alice").await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({ "productId": "small-t3-large", "name": format!("racer {i}") });
            app.call(Method::POST, "/v1/workspaces", Some(&token), Some(body)).await
        }));
    }
    let (mut created, mut refused) = (0, 0);
    for task in tasks {
        let response = task.await.expect("the request task");
        match response.status {
            StatusCode::ACCEPTED => created += 1,
            StatusCode::UNPROCESSABLE_ENTITY => refused += 1,
            // DynamoDB may cancel a transaction that collides with another on the counter.
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}: {}", response.body),
        }
    }
    assert_eq!(created, 3, "exactly the cap is created ({refused} refused)");
    let listed = app.get("alice", "/v1/workspaces").await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(app.app.table().active_workspaces("alice").await.unwrap(), 3);
}

#[tokio::test]
async fn a_workspace_that_fails_frees_its_slot_in_the_same_write() {
    use atelier_domain::{Actor, Event, EventAction, State, WorkspaceId, workspaces::WorkspaceStore};
    let app = spawn_app_with_max_active(1).await;
    let id = app.create_workspace("alice", "small-t3-large", "doomed").await;
    let store = app.app.table().as_ref();
    let mut workspace = store.get(&WorkspaceId::parse(&id).unwrap()).await.unwrap().unwrap();
    assert_eq!(workspace.state, State::Provisioning);
    assert_eq!(app.app.table().active_workspaces("alice").await.unwrap(), 1);
    // What state-sync writes when provisioning fails or times out.
    let now = jiff::Timestamp::now();
    workspace.state = State::Failed;
    workspace.version += 1;
    workspace.updated_at = now;
    let event = Event {
        at: now,
        actor: Actor::state_sync(),
        action: EventAction::Sync,
        from: Some(State::Provisioning),
        to: State::Failed,
        reason: Some("provisioning failed".into()),
        connection: None,
        instance: None,
    };
    store.update(&workspace, State::Provisioning, Some(&event)).await.unwrap();
    assert_eq!(app.app.table().active_workspaces("alice").await.unwrap(), 0);
    // A stale writer (same version) changes neither the workspace nor the counter.
    assert!(store.update(&workspace, State::Provisioning, Some(&event)).await.is_err());
    assert_eq!(app.app.table().active_workspaces("alice").await.unwrap(), 0);
    app.create_workspace("alice", "small-t3-large", "next").await;
}

#[tokio::test]
async fn page_sizes_and_page_tokens_are_bounded() {
    let app = spawn_app().await;
    let id = app.create_workspace("alice", "small-t3-large", "paged").await;
    for path in ["/v1/workspaces", "/v1/products", &format!("/v1/workspaces/{id}/events")] {
        for limit in ["0", "101", "-1", "many"] {
            let response = app.get("alice", &format!("{path}?limit={limit}")).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{path}?limit={limit}: {}", response.body);
            assert_eq!(response.str("field"), "limit", "{path}?limit={limit}");
        }
        for good in ["1", "100"] {
            assert_eq!(app.get("alice", &format!("{path}?limit={good}")).await.status, StatusCode::OK);
        }
        for token in ["garbage", "eyJwayI6IldTIyJ9", "%00", &"A".repeat(4096)] {
            let response = app.get("alice", &format!("{path}?nextToken={token}")).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{path}?nextToken={token:.20}: {}", response.body);
            assert_eq!(response.str("field"), "nextToken");
        }
    }
}

#[tokio::test]
async fn bodies_over_64_kib_are_refused_before_parsing() {
    let app = spawn_app().await;
    let token = app.token("alice").await;
    let big = json!({ "productId": "small-t3-large", "name": "x".repeat(64 * 1024) });
    let response = app.call(Method::POST, "/v1/workspaces", Some(&token), Some(big)).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.str("type"), "/problems/payload-too-large");
    let just_under = json!({ "productId": "small-t3-large", "name": "x".repeat(60 * 1024) });
    let response = app.call(Method::POST, "/v1/workspaces", Some(&token), Some(just_under)).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "read and refused by validation, not by size");
    assert_eq!(response.str("field"), "name");
}

/// Per-caller limits (atelier_domain::kernel::limits), counted where they are enforced: one
/// conditional update per request in the table, shared by every function instance.
#[tokio::test]
async fn one_person_looping_a_report_is_limited_and_nobody_else_is() {
    use atelier_domain::kernel::limits::REPORTS;

    let app = spawn_app().await;
    let report = "/v1/costs/users?month=2026-01";
    // The count is per fixed minute: a loop that crosses a minute starts a new count, so it
    // may take up to twice the limit to be refused.
    let mut refused = None;
    for sent in 1..=2 * REPORTS.requests + 1 {
        let response = app.get("ada", report).await;
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((sent, response));
            break;
        }
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }
    let (sent, refused) = refused.expect("refused within two windows");
    assert_eq!(refused.str("type"), "/problems/too-many-requests");
    assert!(refused.str("detail").contains("at most 30 reports requests per 60 s per person"), "{}", refused.body);
    let retry_after: u64 = refused.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
    assert_eq!(refused.headers["cache-control"], "no-store");

    // Nobody else is held (fiona's export is a report too), and ada's other routes are not either.
    assert_eq!(app.get("fiona", "/v1/costs/export.csv?month=2026-01").await.status, StatusCode::OK);
    assert_eq!(app.get("ada", "/v1/workspaces").await.status, StatusCode::OK);

    // The table holds ada's count for the window that refused her: exactly the limit, under
    // her sub (a recreated username would start afresh).
    let sub = app.get("ada", "/v1/me").await.str("sub");
    let counts = aws_sdk_dynamodb::Client::new(&app.sdk)
        .query()
        .table_name(&app.seeded.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("LIMIT#{sub}")))
        .send()
        .await
        .expect("Query");
    let full: Vec<_> = counts
        .items()
        .iter()
        .filter_map(|item| item.get("n").and_then(|n| n.as_n().ok()).map(String::as_str))
        .collect();
    assert!(full.contains(&"30"), "ada's windows: {full:?} after {sent} requests");

    // Once the window is over, she is let in again.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    assert_eq!(app.get("ada", report).await.status, StatusCode::OK);
}
