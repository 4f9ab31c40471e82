//! Test harness: one moto server per test binary (started on a free port on first use,
//! gone when the binary exits), and per test an isolated table and user pool seeded with
//! the demo users and catalog, the real adapters, and the API router called in-process.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, OnceLock},
};

use atelier_devstack::{MotoServer, Seed, Seeded, local::LocalApp, sdk_config, seed::DEFAULT_PASSWORD};
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use aws_smithy_runtime_api::client::{
    http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
    },
    orchestrator::HttpRequest,
    runtime_components::RuntimeComponents,
};
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
    /// The SDK configuration of the harness itself (seeding, sign-in): not counted.
    pub sdk: aws_config::SdkConfig,
    /// Every AWS API call the application's adapters make.
    pub aws_calls: AwsCalls,
    tokens: Mutex<HashMap<String, String>>,
}

/// The AWS API calls an application made, as `Service.Operation` (e.g. `DynamoDB.Query`),
/// counted at the HTTP layer: every attempt, retries included, is one call.
#[derive(Debug, Clone, Default)]
pub struct AwsCalls(Arc<Mutex<Vec<String>>>);

impl AwsCalls {
    /// Forgets the calls counted so far.
    pub fn reset(&self) {
        self.0.lock().expect("lock").clear();
    }

    /// The calls counted since the last reset, by operation.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for call in self.0.lock().expect("lock").iter() {
            *counts.entry(call.clone()).or_default() += 1;
        }
        counts
    }

    fn record(&self, call: String) {
        self.0.lock().expect("lock").push(call);
    }
}

/// The SDK's own HTTP client, with every request recorded in an [`AwsCalls`].
#[derive(Debug)]
struct CountingClient {
    inner: SharedHttpClient,
    calls: AwsCalls,
}

impl HttpClient for CountingClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(CountingConnector {
            inner: self.inner.http_connector(settings, components),
            calls: self.calls.clone(),
        })
    }
}

#[derive(Debug)]
struct CountingConnector {
    inner: SharedHttpConnector,
    calls: AwsCalls,
}

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.calls.record(operation_of(&request));
        self.inner.call(request)
    }
}

/// `Service.Operation` of an SDK request: from `X-Amz-Target` for the JSON protocols
/// (DynamoDB, Cognito, Service Catalog), from the `Action=` form field for the query
/// protocol (EC2, IAM, STS), from the method and query for S3's REST API.
fn operation_of(request: &HttpRequest) -> String {
    if let Some(target) = request.headers().get("x-amz-target") {
        let (service, operation) = target.split_once('.').unwrap_or(("unknown", target));
        let service = match service {
            s if s.starts_with("DynamoDB") => "DynamoDB",
            s if s.starts_with("AWSCognitoIdentityProvider") => "Cognito",
            s if s.contains("ServiceCatalog") => "ServiceCatalog",
            s => s,
        };
        return format!("{service}.{operation}");
    }
    let scope = request
        .headers()
        .get("authorization")
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(3));
    if scope == Some("s3") {
        return format!("S3.{}", s3_operation(request.method(), request.uri()));
    }
    let body = request.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
    // The query protocol (EC2, IAM, STS): the service from the signature's scope.
    let service = scope.map_or("EC2", |service| match service {
        "iam" => "IAM",
        "sts" => "STS",
        _ => "EC2",
    });
    match body.split('&').find_map(|pair| pair.strip_prefix("Action=")) {
        Some(action) => format!("{service}.{action}"),
        None => format!("unknown {}", request.uri()),
    }
}

/// The S3 object operation of a REST request (the few the exports adapter makes).
fn s3_operation(method: &str, uri: &str) -> &'static str {
    let query = uri.split_once('?').map_or("", |(_, q)| q);
    let has = |name: &str| query.split('&').any(|pair| pair == name || pair.starts_with(&format!("{name}=")));
    match method {
        "POST" if has("uploads") => "CreateMultipartUpload",
        "POST" if has("uploadId") => "CompleteMultipartUpload",
        "PUT" if has("partNumber") => "UploadPart",
        "PUT" => "PutObject",
        "DELETE" if has("uploadId") => "AbortMultipartUpload",
        "GET" => "GetObject",
        _ => "other",
    }
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

/// Cap on active workspaces per user in [`spawn_app`]'s applications: high enough that tests
/// about something else never meet it (the cap has its own tests, [`spawn_app_with_max_active`]).
pub const TEST_MAX_ACTIVE: u32 = 1_000;

/// Calls `router` in-process (for routers a test wires itself, e.g. with a faulty adapter).
pub async fn call_router(
    router: &Router,
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
    let response = router.clone().oneshot(request).await.expect("the router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    TestResponse { status, headers, body }
}

/// `sdk` with every AWS API call made through it counted in the returned [`AwsCalls`].
pub fn counted(sdk: &aws_config::SdkConfig) -> (aws_config::SdkConfig, AwsCalls) {
    let calls = AwsCalls::default();
    // The client aws-config would pick (rustls with aws-lc), wrapped to count.
    let inner = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .build_https();
    let counted = sdk.to_builder().http_client(CountingClient { inner, calls: calls.clone() }).build();
    (counted, calls)
}

/// The registry fields of the test dataset `id` (all but `id` itself), as
/// [`TestApp::register_dataset`] and [`TestApp::set_readers`] send them.
fn dataset_body(id: &str, groups: &[&str], users: &[&str]) -> Value {
    serde_json::json!({
        "name": format!("Dataset {id}"),
        "description": "Registered by a test",
        "location": format!("s3://atelier-lake/{id}/"),
        "classification": "clinical",
        "owner": "data-office",
        "readers": { "groups": groups, "users": users },
    })
}

/// Sends the application's logs (warnings and errors, or `RUST_LOG`) to the output the test
/// harness captures, so that a failing test prints why a request failed: an answer such as
/// 503 names no cause, the log line beside it does (`problem.rs` logs every 5xx).
pub fn log_to_the_test_output() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(false)
        .without_time()
        .try_init();
}

/// A new isolated application on the shared moto server.
pub async fn spawn_app() -> TestApp {
    spawn_app_with_max_active(TEST_MAX_ACTIVE).await
}

/// [`spawn_app`] with at most `max_active` active workspaces per user.
pub async fn spawn_app_with_max_active(max_active: u32) -> TestApp {
    spawn_app_on(&moto().endpoint(), None, max_active).await
}

/// A new isolated application on the moto server at `endpoint` (a test's own, for tests
/// that switch moto's IAM enforcement on). With `credentials`, the application's adapters
/// sign as them instead of the harness's unchecked `testing` keys: an IAM user's, so
/// that they keep working once moto enforces IAM.
pub async fn spawn_app_on(
    endpoint: &str,
    credentials: Option<aws_credential_types::Credentials>,
    max_active: u32,
) -> TestApp {
    log_to_the_test_output();
    let sdk = sdk_config(endpoint).await;
    let seed = Seed { table: unique("atelier"), user_pool_name: unique("pool"), password: DEFAULT_PASSWORD.into() };
    let seeded = seed.apply(&sdk).await.expect("seeding the local stack");
    let sdk_for_app = match credentials {
        Some(credentials) => sdk
            .to_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
            .build(),
        None => sdk.clone(),
    };
    let (counted, aws_calls) = counted(&sdk_for_app);
    let app = LocalApp::with_settings(&counted, endpoint, &seeded, "http://localhost", |settings| {
        settings.max_active = max_active;
    });
    app.publish_catalog(&seeded).await.expect("publishing the seeded catalog");
    let router = app.router();
    TestApp { app, router, seeded, sdk, aws_calls, tokens: Mutex::new(HashMap::new()) }
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
        call_router(&self.router, method, path, token, body, headers).await
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
        // Large enough for the multipart exports' months (tests/integration/exports.rs).
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.expect("a body");
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

    /// `POST /_local/history` on the dev server's router (no token: a local-only route), with
    /// `body`: a workspace's whole life written through the lifecycle's writer.
    pub async fn local_history(&self, body: Value) -> TestResponse {
        call_router(&self.app.dev_router(), Method::POST, "/_local/history", None, Some(body), &[]).await
    }

    /// Creates a workspace as `user` and returns its id (asserting 202).
    pub async fn create_workspace(&self, user: &str, product: &str, name: &str) -> String {
        let response =
            self.post(user, "/v1/workspaces", Some(serde_json::json!({ "productId": product, "name": name }))).await;
        assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
        response.str("id")
    }

    /// Runs state-sync once, then the data-access pass (as the dev server's loop does), and
    /// returns how many workspaces state-sync settled; either failing an item fails the test.
    pub async fn sync(&self) -> usize {
        let report = self.app.sync_once().await.expect("state-sync runs");
        assert!(report.failed.is_empty(), "state-sync failures: {:?}", report.failed);
        let access = self.app.data_access_once().await.expect("the data-access pass runs");
        assert!(access.failed.is_empty(), "data-access failures: {:?}", access.failed);
        report.settled
    }

    /// Runs the scheduler once for the instant `at` (RFC 3339), asserting nothing failed.
    pub async fn scheduler_run(&self, at: &str) -> atelier_domain::schedule::SchedulerReport {
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
        let mut body = dataset_body(id, groups, users);
        body["id"] = serde_json::json!(id);
        let response = self.post("ada", "/v1/datasets", Some(body)).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    }

    /// Replaces the readers of a dataset [`TestApp::register_dataset`] registered (as ada,
    /// asserting 200); everything else stays as registered.
    pub async fn set_readers(&self, id: &str, groups: &[&str], users: &[&str]) {
        let response = self.put("ada", &format!("/v1/datasets/{id}"), dataset_body(id, groups, users)).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }

    /// Writes, through the store, a workspace of `owner` named `name` whose history is
    /// `steps` (instant, state): the first is its creation in `PROVISIONING` by `owner`,
    /// each next one a state-sync observation. Returns its id. For cost tests, whose
    /// seconds and cents are exact only with fixed instants.
    pub async fn write_history(
        &self,
        owner: &str,
        product: &str,
        instance_type: &str,
        name: &str,
        steps: &[(jiff::Timestamp, atelier_domain::State)],
    ) -> String {
        use atelier_domain::testing::{WorkspaceBuilder, write_history};
        assert_eq!(steps[0].1, atelier_domain::State::Provisioning);
        // As a create records it: the owner's cost centre at the time (the seeded one).
        let cost_centre = atelier_devstack::seed::USERS.iter().find(|u| u.username == owner).map(|u| u.cost_centre);
        let workspace = WorkspaceBuilder::new()
            .owner(owner)
            .cost_centre(cost_centre)
            .product(product, instance_type)
            .name(name)
            .provision_token(&unique("history"))
            .build();
        let workspace = write_history(self.app.table().as_ref(), workspace, steps).await.expect("history written");
        workspace.id.to_string()
    }

    /// Creates a workspace as `user` and syncs it to RUNNING.
    pub async fn running_workspace(&self, user: &str, product: &str) -> String {
        let id = self.create_workspace(user, product, "Test workspace").await;
        self.sync().await;
        assert_eq!(self.state(user, &id).await, "RUNNING");
        id
    }
}
