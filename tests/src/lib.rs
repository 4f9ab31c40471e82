//! Test harness: one moto server per test binary (started on a free port on first use,
//! gone when the binary exits), and per test an isolated table and user pool seeded with
//! the demo users and catalog, the real adapters, and the API router called in-process.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
};

use atelier_devstack::{MotoServer, Seed, Seeded, local::LocalApp, sdk_config, seed::DEFAULT_PASSWORD};
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use axum::{Router, body::Body};
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

static MOTO: OnceLock<MotoServer> = OnceLock::new();

/// The shared local AWS server.
pub fn moto() -> &'static MotoServer {
    MOTO.get_or_init(|| MotoServer::start(None).expect("moto starts (run `make venv` first)"))
}

/// A random lowercase suffix for per-test resource names.
pub fn unique(prefix: &str) -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("random source");
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{suffix}")
}

/// One test's application.
pub struct TestApp {
    pub app: LocalApp,
    pub router: Router,
    pub seeded: Seeded,
    pub sdk: aws_config::SdkConfig,
    tokens: Mutex<HashMap<String, String>>,
}

/// A response, with its body parsed as JSON (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    /// The body's `field` as a string (panics with the body when absent: tests want to see it).
    pub fn str(&self, field: &str) -> String {
        self.body[field].as_str().unwrap_or_else(|| panic!("no string {field} in {}", self.body)).to_owned()
    }
}

/// A new isolated application on the shared moto server.
pub async fn spawn_app() -> TestApp {
    let endpoint = moto().endpoint();
    let sdk = sdk_config(&endpoint).await;
    let seed = Seed { table: unique("atelier"), user_pool_name: unique("pool"), password: DEFAULT_PASSWORD.into() };
    let seeded = seed.apply(&sdk).await.expect("seeding the local stack");
    let app = LocalApp::new(&sdk, &endpoint, &seeded, "http://localhost");
    let router = app.router();
    TestApp { app, router, seeded, sdk, tokens: Mutex::new(HashMap::new()) }
}

impl TestApp {
    /// An access token for a seeded user, obtained through Cognito InitiateAuth.
    pub async fn token(&self, username: &str) -> String {
        if let Some(t) = self.tokens.lock().expect("lock").get(username) {
            return t.clone();
        }
        let result = self.authenticate(username).await;
        let token = result.access_token().expect("an access token").to_owned();
        self.tokens.lock().expect("lock").insert(username.to_owned(), token.clone());
        token
    }

    /// The ID token of a seeded user (for tests that must see it refused).
    pub async fn id_token(&self, username: &str) -> String {
        self.authenticate(username).await.id_token().expect("an id token").to_owned()
    }

    async fn authenticate(&self, username: &str) -> aws_sdk_cognitoidentityprovider::types::AuthenticationResultType {
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&self.sdk);
        let output = cognito
            .initiate_auth()
            .client_id(&self.seeded.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", &self.seeded.password)
            .send()
            .await
            .expect("InitiateAuth");
        output.authentication_result.expect("an authentication result")
    }

    /// Calls the API in-process.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> TestResponse {
        self.call_with(method, path, token, body, &[]).await
    }

    /// Calls the API in-process with extra headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&body).expect("json"))),
            None => request.body(Body::empty()),
        }
        .expect("a valid request");
        let response = self.router.clone().oneshot(request).await.expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse { status, headers, body }
    }

    /// `GET path` as `user`, with the body as text (for non-JSON answers such as CSV).
    pub async fn get_text(&self, user: &str, path: &str) -> (StatusCode, HeaderMap, String) {
        let token = self.token(user).await;
        let request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("a valid request");
        let response = self.router.clone().oneshot(request).await.expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
        (status, headers, String::from_utf8(bytes.to_vec()).expect("a UTF-8 body"))
    }

    /// `GET path` as `user`.
    pub async fn get(&self, user: &str, path: &str) -> TestResponse {
        let token = self.token(user).await;
        self.call(Method::GET, path, Some(&token), None).await
    }

    /// `POST path` as `user`, with a JSON body.
    pub async fn post(&self, user: &str, path: &str, body: Option<Value>) -> TestResponse {
        let token = self.token(user).await;
        self.call(Method::POST, path, Some(&token), body).await
    }

    /// `PUT path` as `user`, with a JSON body.
    pub async fn put(&self, user: &str, path: &str, body: Value) -> TestResponse {
        let token = self.token(user).await;
        self.call(Method::PUT, path, Some(&token), Some(body)).await
    }

    /// `DELETE path` as `user`.
    pub async fn delete(&self, user: &str, path: &str) -> TestResponse {
        let token = self.token(user).await;
        self.call(Method::DELETE, path, Some(&token), None).await
    }

    /// Creates a workspace as `user` and returns its id (asserting 202).
    pub async fn create_workspace(&self, user: &str, product: &str, name: &str) -> String {
        let response =
            self.post(user, "/v1/workspaces", Some(serde_json::json!({ "productId": product, "name": name }))).await;
        assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
        response.str("id")
    }

    /// Runs state-sync once and returns how many workspaces it settled.
    pub async fn sync(&self) -> usize {
        let report = self.app.sync_once().await.expect("state-sync runs");
        assert!(report.failed.is_empty(), "state-sync failures: {:?}", report.failed);
        report.settled
    }

    /// Runs the scheduler once for the instant `at` (RFC 3339), asserting nothing failed.
    pub async fn scheduler_run(&self, at: &str) -> atelier_domain::scheduler::SchedulerReport {
        let at: jiff::Timestamp = at.parse().expect("an RFC 3339 instant");
        let report = self.app.scheduler_run(at).await.expect("the scheduler runs");
        assert!(report.failed.is_empty(), "scheduler failures: {:?}", report.failed);
        report
    }

    /// The state of workspace `id` as `user` sees it.
    pub async fn state(&self, user: &str, id: &str) -> String {
        self.get(user, &format!("/v1/workspaces/{id}")).await.str("state")
    }

    /// Registers a clinical dataset `id` as ada at `s3://atelier-lake/<id>/`, readable by
    /// `groups` and `users`, asserting 201.
    pub async fn register_dataset(&self, id: &str, groups: &[&str], users: &[&str]) {
        let body = serde_json::json!({
            "id": id,
            "name": format!("Dataset {id}"),
            "description": "Registered by a test",
            "location": format!("s3://atelier-lake/{id}/"),
            "classification": "clinical",
            "owner": "data-office",
            "readers": { "groups": groups, "users": users },
        });
        let response = self.post("ada", "/v1/datasets", Some(body)).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    }

    /// Creates a workspace as `user` and syncs it to RUNNING.
    pub async fn running_workspace(&self, user: &str, product: &str) -> String {
        let id = self.create_workspace(user, product, "Test workspace").await;
        self.sync().await;
        assert_eq!(self.state(user, &id).await, "RUNNING");
        id
    }
}
