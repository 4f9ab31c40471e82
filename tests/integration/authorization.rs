//! Who may call what: every route, as anonymous, the owner, another scientist, an admin
//! and a finance officer. A scientist never sees or touches another user's workspace, and
//! learns nothing about it (404, not 403).

use atelier_tests::{TestApp, spawn_app};
use http::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) const ROLES: [&str; 5] = ["anonymous", "alice", "bob", "ada", "fiona"];

pub(crate) struct Row {
    pub(crate) method: Method,
    /// `{id}` is replaced by a RUNNING workspace of alice's (on `/v1/datasets/{id}...`: by a
    /// dataset the `oncology` group, alice's, may read); `{datasetId}` by such a dataset.
    pub(crate) path: &'static str,
    body: Option<Value>,
    /// Expected status for anonymous, alice (owner), bob, ada (admin), fiona (finance).
    pub(crate) expected: [u16; 5],
}

pub(crate) fn rows() -> Vec<Row> {
    let create = json!({ "productId": "small-t3-large", "name": "Matrix" });
    let schedule = json!({
        "timezone": "Europe/Paris",
        "windows": [{ "days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "19:00" }],
        "outside": "stop",
        "enabled": true
    });
    let until = json!({ "until": (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2)).to_string() });
    let preview = json!({ "schedule": schedule.clone(), "from": "2026-11-23T06:00:00Z", "count": 3 });
    vec![
        Row { method: Method::GET, path: "/config.json", body: None, expected: [200, 200, 200, 200, 200] },
        Row { method: Method::GET, path: "/v1/openapi.json", body: None, expected: [200, 200, 200, 200, 200] },
        Row { method: Method::GET, path: "/v1/me", body: None, expected: [401, 200, 200, 200, 200] },
        Row { method: Method::GET, path: "/v1/products", body: None, expected: [401, 200, 200, 200, 200] },
        Row { method: Method::GET, path: "/v1/workspaces", body: None, expected: [401, 200, 200, 200, 200] },
        Row { method: Method::GET, path: "/v1/workspaces?all=true", body: None, expected: [401, 403, 403, 200, 403] },
        Row {
            method: Method::GET,
            path: "/v1/workspaces?owner=alice",
            body: None,
            expected: [401, 200, 403, 200, 403],
        },
        Row { method: Method::POST, path: "/v1/workspaces", body: Some(create), expected: [401, 202, 202, 202, 403] },
        Row { method: Method::GET, path: "/v1/workspaces/{id}", body: None, expected: [401, 200, 404, 200, 404] },
        Row {
            method: Method::GET,
            path: "/v1/workspaces/{id}/events",
            body: None,
            expected: [401, 200, 404, 200, 404],
        },
        Row { method: Method::POST, path: "/v1/workspaces/{id}/stop", body: None, expected: [401, 202, 404, 202, 404] },
        Row {
            method: Method::POST,
            path: "/v1/workspaces/{id}/hibernate",
            body: None,
            expected: [401, 202, 404, 202, 404],
        },
        Row {
            method: Method::POST,
            path: "/v1/workspaces/{id}/start",
            body: None,
            expected: [401, 409, 404, 409, 404],
        },
        Row { method: Method::DELETE, path: "/v1/workspaces/{id}", body: None, expected: [401, 202, 404, 202, 404] },
        Row {
            method: Method::GET,
            path: "/v1/workspaces/{id}/schedule",
            body: None,
            expected: [401, 200, 404, 200, 404],
        },
        Row {
            method: Method::PUT,
            path: "/v1/workspaces/{id}/schedule",
            body: Some(schedule.clone()),
            expected: [401, 200, 404, 200, 404],
        },
        Row {
            method: Method::POST,
            path: "/v1/workspaces/{id}/override",
            body: Some(until),
            expected: [401, 200, 404, 200, 404],
        },
        Row {
            method: Method::DELETE,
            path: "/v1/workspaces/{id}/override",
            body: None,
            expected: [401, 200, 404, 200, 404],
        },
        Row { method: Method::GET, path: "/v1/schedules/default", body: None, expected: [401, 200, 200, 200, 200] },
        Row {
            method: Method::PUT,
            path: "/v1/schedules/default",
            body: Some(schedule),
            expected: [401, 403, 403, 200, 403],
        },
        Row {
            method: Method::POST,
            path: "/v1/schedules/preview",
            body: Some(preview),
            expected: [401, 200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            path: "/v1/costs/me?month=2026-01",
            body: None,
            expected: [401, 200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            path: "/v1/costs/users?month=2026-01",
            body: None,
            expected: [401, 403, 403, 200, 403],
        },
        Row {
            method: Method::GET,
            path: "/v1/costs/export.csv?month=2026-01",
            body: None,
            expected: [401, 403, 403, 200, 200],
        },
        Row { method: Method::GET, path: "/v1/datasets", body: None, expected: [401, 200, 200, 200, 200] },
        Row {
            method: Method::POST,
            path: "/v1/datasets",
            body: Some(dataset_body(Some("matrix-new"))),
            expected: [401, 403, 403, 201, 403],
        },
        Row {
            method: Method::GET,
            path: "/v1/datasets/access.csv?month=2026-01",
            body: None,
            expected: [401, 403, 403, 200, 403],
        },
        Row { method: Method::GET, path: "/v1/datasets/{id}", body: None, expected: [401, 200, 404, 200, 404] },
        Row {
            method: Method::PUT,
            path: "/v1/datasets/{id}",
            body: Some(dataset_body(None)),
            expected: [401, 403, 404, 200, 404],
        },
        Row { method: Method::DELETE, path: "/v1/datasets/{id}", body: None, expected: [401, 403, 404, 204, 404] },
        Row { method: Method::GET, path: "/v1/datasets/{id}/access", body: None, expected: [401, 403, 404, 200, 404] },
        Row { method: Method::GET, path: "/v1/me/data-access", body: None, expected: [401, 200, 200, 200, 200] },
        Row {
            method: Method::POST,
            path: "/v1/workspaces/{id}/datasets/{datasetId}",
            body: None,
            expected: [401, 200, 404, 200, 404],
        },
        Row {
            method: Method::DELETE,
            path: "/v1/workspaces/{id}/datasets/{datasetId}",
            body: None,
            expected: [401, 200, 404, 200, 404],
        },
    ]
}

/// A dataset body readable by the `oncology` group.
fn dataset_body(id: Option<&str>) -> Value {
    let mut body = json!({
        "name": "Matrix data",
        "location": "s3://atelier-lake/matrix/",
        "classification": "clinical",
        "owner": "data-office",
        "readers": { "groups": ["oncology"], "users": [] }
    });
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    body
}

/// True for rows whose `{id}` is a dataset.
fn is_dataset_row(row: &Row) -> bool {
    row.path.starts_with("/v1/datasets/{id}")
}

async fn call_as(app: &TestApp, role: &str, row: &Row, id: &str) -> (StatusCode, Value) {
    call_with_dataset(app, role, row, id, "no-such-dataset").await
}

async fn call_with_dataset(app: &TestApp, role: &str, row: &Row, id: &str, dataset: &str) -> (StatusCode, Value) {
    let token = if role == "anonymous" { None } else { Some(app.token(role).await) };
    let path = row.path.replace("{datasetId}", dataset).replace("{id}", id);
    let response = app.call(row.method.clone(), &path, token.as_deref(), row.body.clone()).await;
    (response.status, response.body)
}

#[tokio::test]
async fn every_route_for_every_role_on_someone_elses_workspace() {
    let app = spawn_app().await;
    let mut failures = Vec::new();
    for row in rows() {
        for (role, expected) in ROLES.iter().zip(row.expected) {
            // A fresh RUNNING workspace for each mutating cell, so that cells don't interact.
            // Rows about datasets only (no workspace in the path) need no workspace.
            let dataset_only = row.path.starts_with("/v1/datasets") || row.path.starts_with("/v1/me/data-access");
            let id = if dataset_only { String::new() } else { app.running_workspace("alice", "small-t3-large").await };
            // And a fresh dataset alice may read, attached when the row detaches it.
            let dataset = atelier_tests::unique("matrix");
            if row.path.contains("dataset") {
                app.register_dataset(&dataset, &["oncology"], &[]).await;
            }
            if row.method == Method::DELETE && row.path.contains("{datasetId}") {
                let attached = app.post("alice", &format!("/v1/workspaces/{id}/datasets/{dataset}"), None).await;
                assert_eq!(attached.status, StatusCode::OK, "{}", attached.body);
            }
            let target = if is_dataset_row(&row) { dataset.as_str() } else { id.as_str() };
            let (status, body) = call_with_dataset(&app, role, &row, target, &dataset).await;
            if status.as_u16() != expected {
                failures
                    .push(format!("{} {} as {role}: expected {expected}, got {status} {body}", row.method, row.path));
            }
            if status == StatusCode::NOT_FOUND {
                let detail = body["detail"].as_str().unwrap_or_default();
                assert!(
                    ["workspace not found", "dataset not found"].contains(&detail),
                    "a 404 reveals nothing: {detail}"
                );
            }
            if row.method != Method::GET && !status.is_success() && !dataset_only {
                assert_eq!(
                    app.state("alice", &id).await,
                    "RUNNING",
                    "a refused {} {} changed nothing",
                    row.method,
                    row.path
                );
            }
        }
    }
    assert!(failures.is_empty(), "authorization matrix mismatches:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn every_workspace_route_answers_404_for_a_missing_workspace() {
    let app = spawn_app().await;
    let missing = "ws-0000000000000000000000000a";
    for row in rows().into_iter().filter(|r| r.path.contains("{id}")) {
        for role in ["alice", "ada"] {
            let (status, _) = call_as(&app, role, &row, missing).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{} {} as {role}", row.method, row.path);
        }
        let (status, _) = call_as(&app, "alice", &row, "not-an-id").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{} {} with a malformed id", row.method, row.path);
    }
}

#[tokio::test]
async fn lists_show_only_what_the_caller_may_see() {
    let app = spawn_app().await;
    let alices = app.create_workspace("alice", "small-t3-large", "alice's").await;
    let bobs = app.create_workspace("bob", "small-t3-large", "bob's").await;
    let ids = |body: &Value| -> Vec<String> {
        body["items"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(&app.get("alice", "/v1/workspaces").await.body), std::slice::from_ref(&alices));
    assert_eq!(ids(&app.get("bob", "/v1/workspaces").await.body), std::slice::from_ref(&bobs));
    assert_eq!(ids(&app.get("fiona", "/v1/workspaces").await.body), Vec::<String>::new());
    let all = ids(&app.get("ada", "/v1/workspaces?all=true").await.body);
    assert_eq!(all, [bobs.clone(), alices.clone()]);
    assert_eq!(ids(&app.get("ada", "/v1/workspaces?owner=bob").await.body), [bobs]);
    let both = app.get("ada", "/v1/workspaces?all=true&owner=bob").await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_admin_acts_on_any_workspace_and_the_history_says_so() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "python-r-standard").await;
    let stopped = app.post("ada", &format!("/v1/workspaces/{id}/stop"), None).await;
    assert_eq!(stopped.status, StatusCode::ACCEPTED);
    let events = app.get("alice", &format!("/v1/workspaces/{id}/events")).await;
    assert_eq!(events.body["items"][0]["actor"], json!("ada"));
    assert_eq!(events.body["items"][0]["action"], json!("stop"));
}

/// Every `(method, path)` the API routers register, read from their sources in
/// shared/web/src, so that a route added without a row in `rows()` fails the test below.
pub(crate) fn registered_routes() -> std::collections::BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/web/src");
    let mut routes = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("shared/web/src exists") {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in source.lines().filter(|l| l.contains(".route(\"")) {
            let path = line.split('"').nth(1).expect("a quoted path");
            let handlers = &line[line.find(".route(").unwrap()..];
            for method in ["get", "post", "put", "delete", "patch"] {
                // `get(` as a method router, not inside a handler name such as `get_one`.
                if handlers.contains(&format!(" {method}(")) || handlers.contains(&format!(".{method}(")) {
                    routes.insert((method.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    routes
}

#[test]
fn every_registered_route_has_a_row_and_every_row_a_route() {
    let registered = registered_routes();
    assert!(registered.len() >= 20, "the parser found the routers: {registered:?}");
    let covered: std::collections::BTreeSet<(String, String)> = rows()
        .iter()
        .map(|r| (r.method.to_string(), r.path.split('?').next().unwrap_or_default().to_owned()))
        .collect();
    let missing: Vec<_> = registered.difference(&covered).collect();
    assert!(missing.is_empty(), "routes without a row in the authorization matrix: {missing:?}");
    let stale: Vec<_> = covered.difference(&registered).collect();
    assert!(stale.is_empty(), "rows for routes no router registers: {stale:?}");
}
