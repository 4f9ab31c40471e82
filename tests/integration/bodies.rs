//! Request bodies from hell: arbitrary JSON and arbitrary bytes on every route that reads a
//! body, through the real router and adapters. Whatever arrives, the answer is a 2xx or a
//! 4xx problem document, never a 5xx and never a panic.

use atelier_tests::{TestApp, spawn_app};
use axum::body::Body;
use http::{Method, Request, StatusCode};
use proptest::{prelude::*, test_runner::TestRunner};
use serde_json::Value;
use tower::ServiceExt;

/// Any JSON value, with the API's own field names and values among random ones.
fn any_json() -> impl Strategy<Value = Value> {
    atelier_domain::testing::json::any_json(
        &["small-t3-large", "09:00", "mon", "Europe/Paris", "2026-11-23T06:00:00Z", "fr"],
        &[
            "productId",
            "name",
            "until",
            "schedule",
            "from",
            "count",
            "timezone",
            "windows",
            "days",
            "start",
            "end",
            "holidays",
            "outside",
            "enabled",
        ],
    )
}

/// A body: JSON (mostly) or raw bytes, sent as application/json either way.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => any_json().prop_map(|v| serde_json::to_vec(&v).expect("json")),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: Vec<u8>) -> (StatusCode, String, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("a request");
    let response = app.router.clone().oneshot(request).await.expect("the router answers");
    let status = response.status();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    (status, content_type, bytes.to_vec())
}

#[test]
fn arbitrary_bodies_never_cause_a_server_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (app, routes, tokens) = runtime.block_on(async {
        let app = spawn_app().await;
        let id = app.running_workspace("alice", "small-t3-large").await;
        let routes = vec![
            ("alice", Method::POST, "/v1/workspaces".to_owned()),
            ("alice", Method::PUT, format!("/v1/workspaces/{id}/schedule")),
            ("alice", Method::POST, format!("/v1/workspaces/{id}/override")),
            ("ada", Method::PUT, "/v1/schedules/default".to_owned()),
            ("alice", Method::PUT, "/v1/schedules/default".to_owned()),
            ("alice", Method::POST, "/v1/schedules/preview".to_owned()),
        ];
        let tokens = (app.token("alice").await, app.token("ada").await);
        (app, routes, tokens)
    });
    let total = std::sync::atomic::AtomicUsize::new(0);
    for (user, method, path) in &routes {
        let token = if *user == "ada" { &tokens.1 } else { &tokens.0 };
        let config = ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() };
        let mut runner = TestRunner::new(config);
        runner
            .run(&any_body(), |body| {
                let (status, content_type, answer) =
                    runtime.block_on(send(&app, method.clone(), path, token, body.clone()));
                total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                prop_assert!(
                    !status.is_server_error(),
                    "{} {} answered {}: {}",
                    method,
                    path,
                    status,
                    String::from_utf8_lossy(&answer)
                );
                if status.is_client_error() {
                    prop_assert_eq!(content_type.as_str(), "application/problem+json");
                    let problem: Value = serde_json::from_slice(&answer).expect("a problem document");
                    prop_assert_eq!(problem["status"].as_u64(), Some(u64::from(status.as_u16())));
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{method} {path} as {user}: {e}"));
    }
    let total = total.into_inner();
    println!("bodies: {total} arbitrary bodies over {} routes, no server error", routes.len());
}
