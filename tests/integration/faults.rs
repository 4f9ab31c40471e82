//! Fault injection: AWS throttling, refusing, forgetting or disappearing, against the real
//! adapters and routers. Faults AWS cannot be asked to produce on demand come from
//! aws-smithy-mocks answering with the wire error AWS would send (so the SDK's own retry
//! and error parsing run); the rest is done to the local moto server itself.

use std::{sync::Arc, time::Duration};

use atelier_adapters::{dynamodb::Table, ec2::Ec2};
use atelier_app::Overrides;
use atelier_devstack::{MotoServer, Seed, local::LocalApp, sdk_config, seed::DEFAULT_PASSWORD};
use atelier_domain::{
    State, WorkspaceId,
    kernel::StoreError,
    workspaces::{PowerSwitch, WorkspaceStore},
};
use atelier_tests::{TestResponse, call_router, spawn_app, unique};
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, mock};
use aws_smithy_runtime_api::client::{
    http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
    },
    orchestrator::{HttpRequest, HttpResponse},
    runtime_components::RuntimeComponents,
};
use aws_smithy_types::body::SdkBody;
use http::{Method, StatusCode};

/// A client of SDK crate `$sdk` whose calls `rules` answer, with the standard retry policy
/// (as in production: 3 attempts) and millisecond back-off so tests stay fast.
macro_rules! mocked {
    ($sdk:ident, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("eu-west-1"))
                .credentials_provider($sdk::config::Credentials::new("AKID", "secret", None, None, "faults"))
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(interceptor)
                .retry_config(
                    $sdk::config::retry::RetryConfig::standard()
                        .with_max_attempts(PRODUCTION_ATTEMPTS)
                        .with_initial_backoff(Duration::from_millis(1))
                        .with_max_backoff(Duration::from_millis(5)),
                )
                .build(),
        )
    }};
}

/// The SDK's default (standard retry mode), which production uses (checked by
/// `atelier_adapters::lambda_config`'s tests).
const PRODUCTION_ATTEMPTS: u32 = 3;

const THROUGHPUT_EXCEEDED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
const THROTTLING: &str = r#"{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;

/// The deployed workspaces-api router of `app`, with the workspace store replaced by `store`.
fn router_with_store(app: &LocalApp, store: Arc<dyn WorkspaceStore>) -> axum::Router {
    app.with_overrides(Overrides { workspace_store: Some(store), ..Overrides::default() }).root.workspaces_api()
}

/// The deployed workspaces-api router of `app`, with the power switch replaced by `power`.
fn router_with_power(app: &LocalApp, power: Arc<dyn PowerSwitch>) -> axum::Router {
    app.with_overrides(Overrides { power: Some(power), ..Overrides::default() }).root.workspaces_api()
}

/// `GET /v1/workspaces` as alice through the deployed router, with every DynamoDB `Query`
/// answered by `query`.
async fn list_with_queries(app: &atelier_tests::TestApp, token: &str, query: &aws_smithy_mocks::Rule) -> TestResponse {
    let table = Arc::new(Table::new(mocked!(aws_sdk_dynamodb, [query]), "atelier"));
    call_router(&router_with_store(&app.app, table), Method::GET, "/v1/workspaces", Some(token), None, &[]).await
}

/// DynamoDB `Query` answering `body` (a throttling error) the first `times` times and then
/// an empty page, or every time.
fn throttled_queries(body: &str, times: Option<usize>) -> aws_smithy_mocks::Rule {
    let throttled = mock!(aws_sdk_dynamodb::Client::query).sequence().http_status(400, Some(body.to_owned()));
    match times {
        Some(times) => {
            throttled.times(times).output(|| aws_sdk_dynamodb::operation::query::QueryOutput::builder().build()).build()
        }
        None => throttled.repeatedly().build(),
    }
}

#[tokio::test]
async fn dynamodb_throttling_is_retried_by_the_sdk_and_a_short_burst_goes_unnoticed() {
    let app = spawn_app().await;
    let token = app.token("alice").await;
    for body in [THROUGHPUT_EXCEEDED, THROTTLING] {
        let query = throttled_queries(body, Some(2));
        let response = list_with_queries(&app, &token, &query).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        assert_eq!(query.num_calls(), 3, "two throttled attempts, then the one that succeeds");
    }
}

#[tokio::test]
async fn dynamodb_throttling_that_outlasts_the_retries_answers_503_with_retry_after() {
    let app = spawn_app().await;
    let token = app.token("alice").await;
    for body in [THROUGHPUT_EXCEEDED, THROTTLING] {
        let query = throttled_queries(body, None);
        let response = list_with_queries(&app, &token, &query).await;
        assert_eq!(query.num_calls(), PRODUCTION_ATTEMPTS as usize, "the SDK retried before giving up");
        assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE, "{}", response.body);
        assert_eq!(response.headers["retry-after"], "2");
        assert_eq!(response.headers["content-type"], "application/problem+json");
        assert_eq!(response.body["type"], "/problems/upstream-unavailable");
        assert_eq!(response.body["status"], 503);
        let text = response.body.to_string();
        assert!(!text.contains("Throughput") && !text.contains("dynamodb"), "no AWS detail leaks: {text}");
    }
}

#[tokio::test]
async fn a_transaction_cancelled_by_throttling_is_retryable_not_a_conflict() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let workspace = app.app.table().get(&WorkspaceId::parse(&id).unwrap()).await.unwrap().unwrap();
    let transact = mock!(aws_sdk_dynamodb::Client::transact_write_items).then_error(|| {
        use aws_sdk_dynamodb::{
            operation::transact_write_items::TransactWriteItemsError,
            types::{CancellationReason, error::TransactionCanceledException},
        };
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .message("Transaction cancelled, please refer cancellation reasons for specific reasons [ThrottlingError, None]")
                .cancellation_reasons(CancellationReason::builder().code("ThrottlingError").build())
                .cancellation_reasons(CancellationReason::builder().code("None").build())
                .build(),
        )
    });
    let table = Table::new(mocked!(aws_sdk_dynamodb, [&transact]), "atelier");
    let mut next = workspace.clone();
    next.state = State::Stopping;
    next.version += 1;
    let event = atelier_domain::Event {
        at: jiff::Timestamp::now(),
        actor: atelier_domain::Actor::user("alice"),
        action: atelier_domain::EventAction::Stop,
        from: Some(State::Running),
        to: State::Stopping,
        reason: None,
        connection: None,
        instance: None,
    };
    match table.update(&next, State::Running, Some(&event)).await {
        Err(StoreError::Upstream(err)) => assert!(err.retryable, "throttling may be retried: {err}"),
        other => panic!("expected a retryable upstream error, got {other:?}"),
    }
}

#[tokio::test]
async fn ec2_incorrect_instance_state_on_start_is_reconciled_by_state_sync() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    app.post("alice", &format!("/v1/workspaces/{id}/stop"), None).await;
    app.sync().await;
    assert_eq!(app.state("alice", &id).await, "STOPPED");

    // EC2 refuses the start, as it does for an instance still stopping.
    let start = mock!(aws_sdk_ec2::Client::start_instances).sequence().http_status(
        400,
        Some(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>IncorrectInstanceState</Code>\
             <Message>The instance is not in a state from which it can be started.</Message></Error></Errors>\
             <RequestID>f4a2</RequestID></Response>"
                .to_owned(),
        ),
    );
    let start = start.repeatedly().build();
    let router = router_with_power(&app.app, Arc::new(Ec2::new(mocked!(aws_sdk_ec2, [&start]))));
    let token = app.token("alice").await;
    let response =
        call_router(&router, Method::POST, &format!("/v1/workspaces/{id}/start"), Some(&token), None, &[]).await;
    assert_eq!(start.num_calls(), 1, "a refusal is not retried");
    assert_eq!(response.status, StatusCode::BAD_GATEWAY, "{}", response.body);
    assert_eq!(response.body["type"], "/problems/upstream-failure");
    assert_eq!(app.state("alice", &id).await, "STARTING", "the claim stays until state-sync settles it");

    let now = jiff::Timestamp::now();
    assert_eq!(app.app.sync_at(now).await.unwrap().settled, 0, "EC2 may still be lagging: wait");
    let report = app.app.sync_at(now + jiff::SignedDuration::from_mins(3)).await.unwrap();
    assert_eq!((report.settled, report.failed.len()), (1, 0));
    assert_eq!(app.state("alice", &id).await, "STOPPED", "back to a state the owner can act on");
    let events = app.get("alice", &format!("/v1/workspaces/{id}/events")).await;
    assert_eq!(events.body["items"][0]["actor"], "state-sync");
    assert_eq!(events.body["items"][0]["reason"], "the start did not happen: the instance is stopped");
    // And the owner can start it again.
    assert_eq!(app.post("alice", &format!("/v1/workspaces/{id}/start"), None).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn an_instance_terminated_outside_atelier_ends_its_workspace_with_an_event_saying_why() {
    let app = spawn_app().await;
    let running = app.running_workspace("alice", "small-t3-large").await;
    let stopped = app.running_workspace("bob", "small-t3-large").await;
    app.post("bob", &format!("/v1/workspaces/{stopped}/stop"), None).await;
    app.sync().await;
    let ec2 = aws_sdk_ec2::Client::new(&app.sdk);
    for id in [&running, &stopped] {
        let stored = app.app.table().get(&WorkspaceId::parse(id).unwrap()).await.unwrap().unwrap();
        let instance = stored.provisioned.instance_id.expect("an instance");
        ec2.terminate_instances().instance_ids(&instance).send().await.expect("someone terminates it in the console");
    }
    assert_eq!(app.sync().await, 4, "each: to TERMINATING, then TERMINATED in the same run");
    for (user, id) in [("alice", &running), ("bob", &stopped)] {
        assert_eq!(app.state(user, id).await, "TERMINATED");
        let events = app.get(user, &format!("/v1/workspaces/{id}/events")).await.body["items"].clone();
        assert_eq!(events[0]["actor"], "state-sync");
        assert_eq!((events[0]["from"].as_str(), events[0]["to"].as_str()), (Some("TERMINATING"), Some("TERMINATED")));
        assert_eq!(events[1]["actor"], "state-sync");
        assert_eq!(events[1]["to"], "TERMINATING");
        let reason = events[1]["reason"].as_str().unwrap();
        assert!(reason.contains("was deleted outside Atelier (EC2 shows it terminated)"), "{reason}");
    }
    assert_eq!(app.sync().await, 0, "nothing more to do");
}

#[tokio::test]
async fn with_the_aws_server_gone_the_api_answers_503_and_state_sync_changes_nothing() {
    // A private moto for this test: stopping the shared one would break the others.
    let moto = MotoServer::start(None).expect("moto starts");
    let sdk = sdk_config(&moto.endpoint()).await;
    let seed = Seed { table: unique("atelier"), user_pool_name: unique("pool"), password: DEFAULT_PASSWORD.into() };
    let seeded = seed.apply(&sdk).await.expect("seeding");
    let app = LocalApp::new(&sdk, &moto.endpoint(), &seeded, "http://localhost");
    app.publish_catalog(&seeded).await.expect("publishing the seeded catalog");
    let router = app.router();
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let auth = cognito
        .initiate_auth()
        .client_id(&seeded.client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("PASSWORD", DEFAULT_PASSWORD)
        .send()
        .await
        .expect("InitiateAuth");
    let token = auth.authentication_result().and_then(|r| r.access_token()).expect("a token").to_owned();
    let body = serde_json::json!({ "productId": "small-t3-large", "name": "Before the outage" });
    let created = call_router(&router, Method::POST, "/v1/workspaces", Some(&token), Some(body), &[]).await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    // The JWKS is cached by now, so the token still verifies without the server.

    drop(moto);

    let response = call_router(&router, Method::GET, "/v1/workspaces", Some(&token), None, &[]).await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE, "{}", response.body);
    assert_eq!(response.headers["retry-after"], "2");
    assert_eq!(response.body["type"], "/problems/upstream-unavailable");
    let err = app.sync_once().await.expect_err("state-sync cannot even list");
    assert!(matches!(&err, atelier_domain::DomainError::Upstream(u) if u.retryable), "{err:?}");
}

#[tokio::test]
async fn the_lambda_configuration_talks_to_aws_and_retries_an_unreachable_endpoint() {
    let endpoint = atelier_tests::moto().endpoint();
    let lambda = |endpoint: String| {
        move |name: &str| match name {
            "AWS_REGION" => Some("eu-west-1".to_owned()),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("testing".to_owned()),
            "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
            _ => None,
        }
    };
    let config = atelier_adapters::lambda_config::from_env(lambda(endpoint)).unwrap();
    let tables = aws_sdk_dynamodb::Client::new(&config).list_tables().send().await;
    assert!(tables.is_ok(), "the lazily built HTTPS client works: {tables:?}");

    // Nothing listens on port 9: the SDK retries (it has a sleep and a time source), then fails.
    let config = atelier_adapters::lambda_config::from_env(lambda("http://127.0.0.1:9".into())).unwrap();
    let started = std::time::Instant::now();
    let err = aws_sdk_dynamodb::Client::new(&config).list_tables().send().await.expect_err("nobody listens");
    assert!(matches!(err, aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// DynamoDB's wire answer to a transaction it cancelled because one of its items was
/// throttled (the reasons come one per item, in order).
const TRANSACTION_THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, None, ThrottlingError, None, None]","CancellationReasons":[{"Code":"None"},{"Code":"None"},{"Code":"ThrottlingError","Message":"Throughput exceeds the current capacity of your table or index."},{"Code":"None"},{"Code":"None"}]}"#;

/// An HTTP client that answers [`TRANSACTION_THROTTLED`] to every `TransactWriteItems`
/// writing a dataset attachment (its body names an `ATTACH#` key) and sends everything
/// else on. The override hooks of the harness cannot replace the dataset store, so the
/// fault goes in at the HTTP layer: the real router, use case and adapter all run.
#[derive(Debug)]
struct ThrottledAttachments(SharedHttpClient);

impl HttpClient for ThrottledAttachments {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(ThrottledAttachmentsConnector(self.0.http_connector(settings, components)))
    }
}

#[derive(Debug)]
struct ThrottledAttachmentsConnector(SharedHttpConnector);

impl HttpConnector for ThrottledAttachmentsConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let transaction = request.headers().get("x-amz-target") == Some("DynamoDB_20120810.TransactWriteItems");
        let body = request.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
        if transaction && body.contains("\"ATTACH#") {
            let status = 400.try_into().expect("a valid status");
            return HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(TRANSACTION_THROTTLED))));
        }
        self.0.call(request)
    }
}

#[tokio::test]
async fn a_dataset_attach_cancelled_by_throttling_answers_503_with_retry_after() {
    let app = spawn_app().await;
    app.register_dataset("onco-2026", &["oncology"], &[]).await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let sdk = app.app.root.sdk();
    let http = sdk.http_client().expect("the harness sets the HTTP client");
    let throttled = sdk.to_builder().http_client(ThrottledAttachments(http)).build();
    let router = LocalApp::new(&throttled, &atelier_tests::moto().endpoint(), &app.seeded, "http://localhost").router();
    let token = app.token("alice").await;
    let path = format!("/v1/workspaces/{id}/datasets/onco-2026");

    let response = call_router(&router, Method::POST, &path, Some(&token), None, &[]).await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE, "{}", response.body);
    assert_eq!(response.headers["retry-after"], "2");
    assert_eq!(response.body["type"], "/problems/upstream-unavailable");
    // Nothing was written, and the same attach succeeds once DynamoDB keeps up.
    assert_eq!(app.get("alice", &format!("/v1/workspaces/{id}")).await.body["datasets"], serde_json::json!([]));
    let retried = app.post("alice", &path, None).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(retried.body["datasets"], serde_json::json!(["onco-2026"]));
}
