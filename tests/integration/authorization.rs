//! Who may call what: every route, as anonymous, the owner, another scientist, an admin
//! and a finance officer; the workspace routes also on the caller's own workspace, on
//! someone else's and on a missing one (`resource_rows`). A scientist never sees or touches
//! another user's workspace, and learns nothing about it (404, not 403).

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
        // Admins only, refused before the body is read; ada's Service Catalog id is unknown
        // (publishing itself: tests/integration/catalog.rs).
        Row {
            method: Method::POST,
            path: "/v1/products",
            body: Some(publish_body("matrix-product", "prod-unknown")),
            expected: [401, 403, 403, 422, 403],
        },
        // `{id}` on a product: small-t3-large, visible to scientists (finance does not see it:
        // 404, as a missing one); memory-r5-8xlarge for the unpublish, since rows launch the other.
        Row { method: Method::GET, path: "/v1/products/{id}", body: None, expected: [401, 200, 200, 200, 404] },
        Row {
            method: Method::PUT,
            path: "/v1/products/{id}",
            body: Some(json!({
                "name": "Small notebook",
                "description": "Edited by the matrix.",
                "visibleTo": ["scientists"],
                "apps": ["jupyterlab"]
            })),
            expected: [401, 403, 403, 200, 404],
        },
        Row {
            method: Method::POST,
            path: "/v1/products/{id}/prices",
            body: Some(json!({
                "computePerHour": "0.10",
                "storagePerGbMonth": "0.0928",
                "currency": "EUR",
                "effectiveFrom": (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_string()
            })),
            expected: [401, 403, 403, 201, 404],
        },
        Row { method: Method::GET, path: "/v1/products/{id}/events", body: None, expected: [401, 403, 403, 200, 404] },
        Row { method: Method::DELETE, path: "/v1/products/{id}", body: None, expected: [401, 403, 403, 200, 404] },
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
        Row { method: Method::GET, path: "/v1/workspaces/{id}/apps", body: None, expected: [401, 200, 404, 200, 404] },
        Row {
            method: Method::POST,
            path: "/v1/workspaces/{id}/break-glass",
            body: Some(json!({ "reason": "INC-1: the matrix" })),
            expected: [401, 403, 403, 201, 403],
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
        // Written to the exports bucket (moto's S3): 201 with a link for finance and admins.
        Row {
            method: Method::POST,
            path: "/v1/costs/exports",
            body: Some(json!({ "month": "2026-01" })),
            expected: [401, 403, 403, 201, 201],
        },
        Row { method: Method::GET, path: "/v1/budgets/{user}", body: None, expected: [401, 403, 403, 200, 403] },
        Row {
            method: Method::PUT,
            path: "/v1/budgets/{user}",
            body: Some(json!({ "amount": "300.00", "thresholds": [80, 100], "policy": "notify" })),
            expected: [401, 403, 403, 200, 403],
        },
        Row { method: Method::GET, path: "/v1/cost-centres/{user}", body: None, expected: [401, 403, 403, 200, 200] },
        Row { method: Method::GET, path: "/v1/exchange-rates", body: None, expected: [401, 403, 403, 200, 200] },
        Row {
            method: Method::PUT,
            path: "/v1/exchange-rates/{from}/{to}/{date}",
            body: Some(json!({ "rate": "0.92" })),
            expected: [401, 403, 403, 200, 403],
        },
        Row {
            method: Method::PUT,
            path: "/v1/cost-centres/{user}",
            body: Some(json!({ "costCentre": "CC-ONCOLOGY" })),
            expected: [401, 403, 403, 200, 403],
        },
        Row { method: Method::GET, path: "/v1/config/budget", body: None, expected: [401, 403, 403, 200, 200] },
        Row { method: Method::GET, path: "/v1/me/notifications", body: None, expected: [401, 200, 200, 200, 200] },
        Row {
            method: Method::PUT,
            path: "/v1/config/budget",
            body: Some(json!({ "amount": "250.00", "thresholds": [80, 100], "policy": "notify" })),
            expected: [401, 403, 403, 200, 403],
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

/// A publish request for Service Catalog product `sc_id`, visible to scientists.
pub(crate) fn publish_body(id: &str, sc_id: &str) -> Value {
    json!({
        "id": id,
        "serviceCatalogProductId": sc_id,
        "instanceType": "t3.large",
        "volumeGiB": 50,
        "hibernation": true,
        "visibleTo": ["scientists"],
        "apps": ["jupyterlab"],
        "price": { "computePerHour": "0.09", "storagePerGbMonth": "0.0928", "currency": "EUR" }
    })
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
    // `{user}`: alice, whose workspace `{id}` is.
    let path = if row.path.starts_with("/v1/products/") {
        let product = if row.method == Method::DELETE { "memory-r5-8xlarge" } else { "small-t3-large" };
        row.path.replace("{id}", product)
    } else {
        row.path
            .replace("{datasetId}", dataset)
            .replace("{id}", id)
            .replace("{user}", "alice")
            .replace("{from}", "USD")
            .replace("{to}", "EUR")
            .replace("{date}", "2026-03-01")
    };
    let response = app.call(row.method.clone(), &path, token.as_deref(), row.body.clone()).await;
    // Whatever the answer, allowed or refused, no cache may keep it.
    let cache = response.headers.get(http::header::CACHE_CONTROL).and_then(|v| v.to_str().ok());
    assert_eq!(cache, Some("no-store"), "{} {path} as {role}: {}", row.method, response.status);
    (response.status, response.body)
}

#[tokio::test]
async fn every_route_for_every_role_on_someone_elses_workspace() {
    let app = spawn_app().await;
    let mut failures = Vec::new();
    let shared = app.running_workspace("alice", "small-t3-large").await;
    for row in rows() {
        for (role, expected) in ROLES.iter().zip(row.expected) {
            // A fresh RUNNING workspace for each mutating cell, so that cells don't interact.
            // Rows about datasets only (no workspace in the path) need no workspace.
            let dataset_only = row.path.starts_with("/v1/datasets")
                || row.path.starts_with("/v1/me/data-access")
                || row.path.starts_with("/v1/products");
            let id = if dataset_only {
                String::new()
            } else if row.method == Method::GET {
                shared.clone()
            } else {
                app.running_workspace("alice", "small-t3-large").await
            };
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
                    ["workspace not found", "dataset not found", "product not found"].contains(&detail),
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

/// Not applicable: finance cannot own a workspace, anonymous owns nothing.
const N: u16 = 0;

/// The workspace routes on the two other kinds of resource, for every role (the `rows()`
/// matrix is the third: alice's workspace, her own and everybody else's someone else's).
pub(crate) struct ResourceRow {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    /// Each caller on a RUNNING workspace of their own (bob's for bob, ada's for ada).
    pub(crate) own: [u16; 5],
    /// Each caller on someone else's RUNNING workspace: bob's, and alice's for bob.
    pub(crate) others: [u16; 5],
    /// Each caller on a well-formed id that no workspace has.
    pub(crate) missing: [u16; 5],
}

pub(crate) fn resource_rows() -> Vec<ResourceRow> {
    const MISSING: [u16; 5] = [401, 404, 404, 404, 404];
    let row = |method: Method, path: &'static str, own: [u16; 5], others: [u16; 5]| ResourceRow {
        method,
        path,
        own,
        others,
        missing: MISSING,
    };
    let read = ([N, 200, 200, 200, N], [401, 404, 404, 200, 404]);
    let act = ([N, 202, 202, 202, N], [401, 404, 404, 202, 404]);
    let edit = ([N, 200, 200, 200, N], [401, 404, 404, 200, 404]);
    vec![
        row(Method::GET, "/v1/workspaces/{id}", read.0, read.1),
        row(Method::GET, "/v1/workspaces/{id}/events", read.0, read.1),
        row(Method::GET, "/v1/workspaces/{id}/schedule", read.0, read.1),
        row(Method::POST, "/v1/workspaces/{id}/stop", act.0, act.1),
        row(Method::POST, "/v1/workspaces/{id}/hibernate", act.0, act.1),
        // RUNNING cannot start: those who may act learn that (409), the others learn nothing.
        row(Method::POST, "/v1/workspaces/{id}/start", [N, 409, 409, 409, N], [401, 404, 404, 409, 404]),
        row(Method::DELETE, "/v1/workspaces/{id}", act.0, act.1),
        row(Method::PUT, "/v1/workspaces/{id}/schedule", edit.0, edit.1),
        row(Method::POST, "/v1/workspaces/{id}/override", edit.0, edit.1),
        row(Method::DELETE, "/v1/workspaces/{id}/override", edit.0, edit.1),
        row(Method::GET, "/v1/workspaces/{id}/apps", read.0, read.1),
        // Admins only, whosever the workspace: the others are refused before any look-up.
        ResourceRow {
            method: Method::POST,
            path: "/v1/workspaces/{id}/break-glass",
            own: [N, 403, 403, 201, N],
            others: [401, 403, 403, 201, 403],
            missing: [401, 403, 403, 404, 403],
        },
    ]
}

#[tokio::test]
async fn every_workspace_route_for_every_role_on_own_others_and_missing_workspaces() {
    let app = spawn_app().await;
    let bodies: std::collections::HashMap<(String, &str), Option<Value>> =
        rows().into_iter().map(|r| ((r.method.to_string(), r.path), r.body)).collect();
    let missing = "ws-0000000000000000000000000a";
    let mut failures = Vec::new();
    let mut cells = 0;
    let mut readable: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    for resource in resource_rows() {
        let body = bodies
            .get(&(resource.method.to_string(), resource.path))
            .unwrap_or_else(|| panic!("{} {} has no row in rows()", resource.method, resource.path))
            .clone();
        let row = Row { method: resource.method.clone(), path: resource.path, body, expected: [0; 5] };
        for (i, role) in ROLES.iter().enumerate() {
            let columns = [("own", resource.own[i]), ("other's", resource.others[i]), ("missing", resource.missing[i])];
            for (column, expected) in columns {
                if expected == N {
                    continue;
                }
                let owner = match (column, *role) {
                    ("missing", _) => None,
                    ("own", owner) => Some(owner),
                    (_, "bob") => Some("alice"),
                    _ => Some("bob"),
                };
                // Reads share one workspace per owner; each mutating cell gets a fresh one.
                let id = match owner {
                    Some(owner) if row.method == Method::GET => match readable.get(owner) {
                        Some(id) => id.clone(),
                        None => {
                            let id = app.running_workspace(owner, "small-t3-large").await;
                            readable.insert(owner, id.clone());
                            id
                        }
                    },
                    Some(owner) => app.running_workspace(owner, "small-t3-large").await,
                    None => missing.to_owned(),
                };
                let (status, body) = call_as(&app, role, &row, &id).await;
                cells += 1;
                if status.as_u16() != expected {
                    failures.push(format!(
                        "{} {} as {role} on a {column} workspace: expected {expected}, got {status} {body}",
                        row.method, row.path
                    ));
                }
                if status == StatusCode::NOT_FOUND {
                    assert_eq!(body["detail"], json!("workspace not found"), "a 404 reveals nothing");
                }
                if owner.is_some() && row.method != Method::GET && !status.is_success() {
                    assert_eq!(
                        app.state("ada", &id).await,
                        "RUNNING",
                        "a refused {} {} changed nothing",
                        row.method,
                        row.path
                    );
                }
            }
        }
        // A malformed id is answered like a missing one (404, or 403 on an admins-only route).
        let (status, _) = call_as(&app, "alice", &row, "not-an-id").await;
        assert_eq!(status.as_u16(), resource.missing[1], "{} {} with a malformed id", row.method, row.path);
    }
    println!("authorization: {cells} cells on own, other's and missing workspaces");
    assert!(failures.is_empty(), "authorization matrix mismatches:\n{}", failures.join("\n"));
}

#[test]
fn every_workspace_route_has_a_resource_row() {
    // The dataset sub-routes (`/v1/workspaces/{id}/datasets/{datasetId}`) depend on the
    // dataset as much as on the workspace: their own/other's/missing cells are in
    // datasets.rs (`attach_and_detach_on_own_others_and_missing_workspaces`).
    let with_id: std::collections::BTreeSet<(String, &str)> = rows()
        .into_iter()
        .filter(|r| r.path.starts_with("/v1/workspaces/{id}") && !r.path.contains("{datasetId}"))
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    let resources: std::collections::BTreeSet<(String, &str)> =
        resource_rows().into_iter().map(|r| (r.method.to_string(), r.path)).collect();
    assert_eq!(with_id, resources, "every /v1/workspaces/{{id}} route needs a row in resource_rows(), and only those");
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
/// shared/web/src/routes, so that a route added without a row in `rows()` fails the test below.
pub(crate) fn registered_routes() -> std::collections::BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/web/src/routes");
    let mut routes = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("shared/web/src/routes exists") {
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
