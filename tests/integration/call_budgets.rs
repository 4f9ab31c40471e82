//! AWS call budgets: how many AWS API calls each main route makes, counted at the SDK's HTTP
//! layer (`AwsCalls` in the harness; retries would count too). A route that starts making an
//! extra call, a scan or an N+1 query fails here. The table is in docs/api.md.

use std::collections::BTreeMap;

use atelier_tests::{TestApp, spawn_app};
use http::{Method, StatusCode};
use serde_json::{Value, json};

const GET_ITEM: &str = "DynamoDB.GetItem";
const QUERY: &str = "DynamoDB.Query";
const TRANSACT: &str = "DynamoDB.TransactWriteItems";
/// Creating a workspace: the product and the default schedule (GetItem), the workspace with
/// its event (one transaction), the instance (RunInstances; the Service Catalog provisioner
/// makes one ProvisionProduct instead), and the provisioner's handle (PutItem). The owner's
/// profile comes from the function's cache here (one Cognito AdminGetUser when cold). Before
/// the launch, the workspace's own role and instance profile (three IAM calls; four in AWS,
/// where the base policy is attached too).
/// A create: the product and the default schedule, the owner's budget rule (their own, then
/// the default: `stop-at-100` is not in force, so no month is read), then the writes.
const CREATE: &[(&str, usize)] = &[
    (GET_ITEM, 4),
    (TRANSACT, 1),
    ("EC2.RunInstances", 1),
    ("DynamoDB.PutItem", 1),
    ("IAM.CreateRole", 1),
    ("IAM.CreateInstanceProfile", 1),
    ("IAM.AddRoleToInstanceProfile", 1),
];
/// The cost reports price the current month from each workspace's month aggregate, on the
/// workspace item and its month index entry (docs/adr/0006-costs.md, "Month aggregates"):
/// no history is read (it was one Query per workspace: alice has five), one GetItem per
/// distinct product. Bounded by the lists' pages, never a Scan.
const HISTORIES: usize = 0;
/// `/v1/costs/me`: alice's workspaces (by-owner), her recorded cost centres, her crossings; GetItem: the product, her own budget and the default (she has
/// none), the month's actuals.
const MY_COSTS: &[(&str, usize)] = &[(GET_ITEM, 4), (QUERY, 1 + HISTORIES + 1 + 1)];
/// The admin and finance reports read the month index. This month is not sealed yet (the
/// budget watch seals it), so they also read the workspaces live now (8 by-state queries)
/// and those ended since the month began (2): index 1 + 8 + 2, then the histories. GetItem:
/// whether the month is closed, the seal and the product; the users report adds the
/// budgets (1 Query of every user's, 1 GetItem of the default), the month's crossings
/// (1 Query) and actuals (1 GetItem); the export reads the actuals too (its `actual` rows:
/// none here, so no second cost-centre read). Both read everybody's recorded cost centres
/// (1 Query). A closed month is one Query of its stored lines and the GetItem that says so
/// (`costs::a_closed_month_is_read_from_its_stored_lines…`): its lines keep their cost centres.
const UNSEALED_MONTH: usize = 1 + 8 + 2;
const COST_CENTRES: usize = 1;
/// The reports count against the caller's per-minute limit first: one conditional
/// `UpdateItem` (atelier_domain::kernel::limits).
const LIMIT: (&str, usize) = ("DynamoDB.UpdateItem", 1);
const USERS_REPORT: &[(&str, usize)] = &[LIMIT, (GET_ITEM, 5), (QUERY, UNSEALED_MONTH + HISTORIES + 2 + COST_CENTRES)];
const EXPORT: &[(&str, usize)] = &[LIMIT, (GET_ITEM, 4), (QUERY, UNSEALED_MONTH + HISTORIES + COST_CENTRES)];

/// A user's standing, read before their first write or admin/finance request on a function
/// instance, then cached for a minute (docs/adr/0004-auth.md, "Bounded authority"). The
/// table's later rows by the same users find it cached.
const STANDING: &[(&str, usize)] = &[("Cognito.AdminGetUser", 1), ("Cognito.AdminListGroupsForUser", 1)];

/// `[("DynamoDB.GetItem", 1), ...]` as a map, an operation listed twice counted twice.
fn calls(list: &[(&str, usize)]) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for (op, n) in list {
        *calls.entry((*op).to_owned()).or_default() += n;
    }
    calls
}

/// Calls `path` as `user` (None: anonymous) and returns the status and the AWS calls it made.
async fn measure(
    app: &TestApp,
    user: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, BTreeMap<String, usize>) {
    let token = match user {
        Some(user) => Some(app.token(user).await),
        None => None,
    };
    // Warm the JWKS cache (not an AWS SDK call, but keep the measured request alone).
    app.aws_calls.reset();
    let response = app.call_with(method, path, token.as_deref(), body, headers).await;
    (response.status, app.aws_calls.counts())
}

struct Budget {
    what: &'static str,
    user: Option<&'static str>,
    method: Method,
    path: String,
    body: Option<Value>,
    headers: Vec<(&'static str, &'static str)>,
    status: u16,
    calls: BTreeMap<String, usize>,
}

#[tokio::test]
async fn every_main_route_stays_within_its_aws_call_budget() {
    let app = spawn_app().await;
    let running = app.running_workspace("alice", "small-t3-large").await;
    let stopped = app.running_workspace("alice", "small-t3-large").await;
    assert_eq!(app.post("alice", &format!("/v1/workspaces/{stopped}/stop"), None).await.status, StatusCode::ACCEPTED);
    app.sync().await;
    let other = app.running_workspace("alice", "small-t3-large").await;
    let doomed = app.running_workspace("alice", "small-t3-large").await;
    let schedule = json!({ "windows": [{ "days": ["mon"], "start": "08:00", "end": "19:00" }] });
    let until = json!({ "until": (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2)).to_string() });
    let month = jiff::Timestamp::now().strftime("%Y-%m").to_string();
    let create = json!({ "productId": "small-t3-large", "name": "Budget" });
    // The seed's unpublished Service Catalog product, for an admin to publish.
    let unpublished = aws_sdk_servicecatalog::Client::new(&app.sdk)
        .describe_product()
        .name(atelier_devstack::seed::UNPUBLISHED.0)
        .send()
        .await
        .expect("the seeded product")
        .product_view_summary()
        .and_then(|p| p.product_id())
        .expect("its id")
        .to_owned();
    let price = json!({
        "computePerHour": "0.10",
        "storagePerGbMonth": "0.0928",
        "currency": "EUR",
        "effectiveFrom": (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string()
    });
    let b = |what, user, method, path: String, body, status, list: &[(&str, usize)]| Budget {
        what,
        user,
        method,
        path,
        body,
        headers: Vec::new(),
        status,
        calls: calls(list),
    };
    let mut budgets = vec![
        b("no token: refused before any AWS call", None, Method::GET, "/v1/workspaces".into(), None, 401, &[]),
        b("the OpenAPI document", None, Method::GET, "/v1/openapi.json".into(), None, 200, &[]),
        b("the portal configuration", None, Method::GET, "/config.json".into(), None, 200, &[]),
        b(
            "who am I (first call of this user on this instance: her finance token's standing, then her profile)",
            Some("fiona"),
            Method::GET,
            "/v1/me".into(),
            None,
            200,
            &[STANDING[0], STANDING[1], ("Cognito.AdminGetUser", 1)],
        ),
        b("who am I (profile cached)", Some("fiona"), Method::GET, "/v1/me".into(), None, 200, &[]),
        b("the catalog", Some("alice"), Method::GET, "/v1/products".into(), None, 200, &[(QUERY, 1)]),
        // Publishing reads Service Catalog (DescribeProduct; with the service-catalog
        // provisioner also DescribeProvisioningArtifact and ListLaunchPaths) and EC2, then
        // writes the product and its event in one transaction.
        b(
            "an admin publishes a Service Catalog product (ada's first request: her standing)",
            Some("ada"),
            Method::POST,
            "/v1/products".into(),
            Some(crate::authorization::publish_body("budget-product", &unpublished)),
            201,
            &[
                STANDING[0],
                STANDING[1],
                ("ServiceCatalog.DescribeProduct", 1),
                ("EC2.DescribeInstanceTypes", 1),
                (TRANSACT, 1),
            ],
        ),
        // The route reads the product (404 before 403), the use case reads it again for
        // the version it writes against.
        b(
            "an admin appends a price version",
            Some("ada"),
            Method::POST,
            "/v1/products/small-t3-large/prices".into(),
            Some(price),
            201,
            &[(GET_ITEM, 2), (TRANSACT, 1)],
        ),
        b(
            "a product's history",
            Some("ada"),
            Method::GET,
            "/v1/products/small-t3-large/events".into(),
            None,
            200,
            &[(GET_ITEM, 2), (QUERY, 1)],
        ),
        b("my workspaces", Some("alice"), Method::GET, "/v1/workspaces".into(), None, 200, &[(QUERY, 1)]),
        b(
            "everybody's workspaces",
            Some("ada"),
            Method::GET,
            "/v1/workspaces?all=true".into(),
            None,
            200,
            &[(QUERY, 1)],
        ),
        b(
            "one workspace",
            Some("alice"),
            Method::GET,
            format!("/v1/workspaces/{running}"),
            None,
            200,
            &[(GET_ITEM, 1)],
        ),
        b(
            "someone else's workspace",
            Some("bob"),
            Method::GET,
            format!("/v1/workspaces/{running}"),
            None,
            404,
            &[(GET_ITEM, 1)],
        ),
        b("a malformed id", Some("alice"), Method::GET, "/v1/workspaces/nope".into(), None, 404, &[]),
        b(
            "history",
            Some("alice"),
            Method::GET,
            format!("/v1/workspaces/{running}/events"),
            None,
            200,
            &[(GET_ITEM, 1), (QUERY, 1)],
        ),
        b(
            "the workspace's apps (RUNNING: EC2 for the agent's readiness reports)",
            Some("alice"),
            Method::GET,
            format!("/v1/workspaces/{running}/apps"),
            None,
            200,
            &[(GET_ITEM, 2), ("EC2.DescribeInstances", 1)],
        ),
        b(
            "break-glass (the grant and its event in one transaction)",
            Some("ada"),
            Method::POST,
            format!("/v1/workspaces/{running}/break-glass"),
            Some(serde_json::json!({ "reason": "INC-1: budget table" })),
            201,
            &[(GET_ITEM, 1), (TRANSACT, 1)],
        ),
        b(
            "break-glass by a scientist: refused once his standing is read (bob's first write), before the table",
            Some("bob"),
            Method::POST,
            format!("/v1/workspaces/{running}/break-glass"),
            Some(serde_json::json!({ "reason": "curious" })),
            403,
            STANDING,
        ),
        b(
            "schedule",
            Some("alice"),
            Method::GET,
            format!("/v1/workspaces/{running}/schedule"),
            None,
            200,
            &[(GET_ITEM, 1)],
        ),
        b(
            "new schedule",
            Some("alice"),
            Method::PUT,
            format!("/v1/workspaces/{running}/schedule"),
            Some(schedule.clone()),
            200,
            &[(GET_ITEM, 1), (TRANSACT, 1)],
        ),
        b(
            "override",
            Some("alice"),
            Method::POST,
            format!("/v1/workspaces/{running}/override"),
            Some(until),
            200,
            &[(GET_ITEM, 1), (TRANSACT, 1)],
        ),
        b(
            "clear override",
            Some("alice"),
            Method::DELETE,
            format!("/v1/workspaces/{running}/override"),
            None,
            200,
            &[(GET_ITEM, 1), (TRANSACT, 1)],
        ),
        b("default schedule", Some("alice"), Method::GET, "/v1/schedules/default".into(), None, 200, &[(GET_ITEM, 1)]),
        b(
            "new default schedule",
            Some("ada"),
            Method::PUT,
            "/v1/schedules/default".into(),
            Some(schedule.clone()),
            200,
            &[("DynamoDB.PutItem", 1)],
        ),
        b(
            "preview",
            Some("alice"),
            Method::POST,
            "/v1/schedules/preview".into(),
            Some(json!({ "schedule": schedule, "from": "2026-11-23T06:00:00Z", "count": 3 })),
            200,
            &[],
        ),
        b("create", Some("alice"), Method::POST, "/v1/workspaces".into(), Some(create.clone()), 202, CREATE),
        b(
            "stop",
            Some("alice"),
            Method::POST,
            format!("/v1/workspaces/{running}/stop"),
            None,
            202,
            &[(GET_ITEM, 1), (TRANSACT, 1), ("EC2.StopInstances", 1)],
        ),
        b(
            "start",
            Some("alice"),
            Method::POST,
            format!("/v1/workspaces/{stopped}/start"),
            None,
            202,
            // The workspace, the owner's rule (own, then the default): no stop-at-100, no month read.
            &[(GET_ITEM, 3), (TRANSACT, 1), ("EC2.StartInstances", 1)],
        ),
        b(
            "hibernate",
            Some("alice"),
            Method::POST,
            format!("/v1/workspaces/{other}/hibernate"),
            None,
            202,
            &[(GET_ITEM, 1), (TRANSACT, 1), ("EC2.StopInstances", 1)],
        ),
        b(
            "an action the state does not allow",
            Some("alice"),
            Method::POST,
            format!("/v1/workspaces/{other}/start"),
            None,
            409,
            &[(GET_ITEM, 1)],
        ),
        b(
            "terminate",
            Some("alice"),
            Method::DELETE,
            format!("/v1/workspaces/{doomed}"),
            None,
            202,
            &[(GET_ITEM, 1), (TRANSACT, 1), ("EC2.TerminateInstances", 1)],
        ),
        b("my costs", Some("alice"), Method::GET, format!("/v1/costs/me?month={month}"), None, 200, MY_COSTS),
        b("users report", Some("ada"), Method::GET, format!("/v1/costs/users?month={month}"), None, 200, USERS_REPORT),
        b(
            "finance export",
            Some("fiona"),
            Method::GET,
            format!("/v1/costs/export.csv?month={month}"),
            None,
            200,
            EXPORT,
        ),
        // Budgets: the user must exist (Cognito), then their rule and the default.
        b(
            "a user's budget",
            Some("ada"),
            Method::GET,
            "/v1/budgets/alice".into(),
            None,
            200,
            &[("Cognito.AdminGetUser", 1), (GET_ITEM, 2)],
        ),
        b(
            "set a user's budget (one conditional put)",
            Some("ada"),
            Method::PUT,
            "/v1/budgets/bob".into(),
            Some(json!({ "amount": "300.00" })),
            200,
            &[("Cognito.AdminGetUser", 1), (GET_ITEM, 2), ("DynamoDB.PutItem", 1)],
        ),
    ];
    let keyed = |what, status, list: &[(&str, usize)]| {
        let mut budget =
            b(what, Some("alice"), Method::POST, "/v1/workspaces".into(), Some(create.clone()), status, list);
        budget.headers = vec![("idempotency-key", "budget-1")];
        budget
    };
    budgets.push(keyed(
        "create with an Idempotency-Key",
        202,
        &[
            (GET_ITEM, 5),
            ("DynamoDB.PutItem", 1),
            (TRANSACT, 1),
            ("EC2.RunInstances", 1),
            ("IAM.CreateRole", 1),
            ("IAM.CreateInstanceProfile", 1),
            ("IAM.AddRoleToInstanceProfile", 1),
        ],
    ));
    budgets.push(keyed("the same request again (replay)", 202, &[(GET_ITEM, 2)]));

    let mut failures = Vec::new();
    let mut table = String::new();
    for budget in &budgets {
        let (status, counted) =
            measure(&app, budget.user, budget.method.clone(), &budget.path, budget.body.clone(), &budget.headers).await;
        let total: usize = counted.values().sum();
        let shown: Vec<String> = counted.iter().map(|(op, n)| format!("{n} {op}")).collect();
        table.push_str(&format!(
            "| {} | `{} {}` | {} | {} | {} |\n",
            budget.what,
            budget.method,
            budget.path.split('?').next().unwrap_or_default(),
            budget.user.unwrap_or("anonymous"),
            total,
            if shown.is_empty() { "none".to_owned() } else { shown.join(", ") }
        ));
        if status.as_u16() != budget.status || counted != budget.calls {
            failures.push(format!(
                "{} ({} {} as {:?}): expected {} with {:?}, got {status} with {counted:?}",
                budget.what, budget.method, budget.path, budget.user, budget.status, budget.calls
            ));
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "AWS call budgets exceeded or changed:\n{}", failures.join("\n"));
}

/// Retries of one create (same Idempotency-Key) racing each other: one workspace, one
/// provisioning call, whatever the interleaving. The losers of the insert answer the winner's
/// workspace (the key record is written in the same transaction as the workspace).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_with_one_key_provision_once() {
    let app = std::sync::Arc::new(spawn_app().await);
    let token = app.token("alice").await;
    let body = json!({ "productId": "small-t3-large", "name": "Retried" });
    app.aws_calls.reset();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (app, token, body) = (app.clone(), token.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            app.call_with(
                Method::POST,
                "/v1/workspaces",
                Some(&token),
                Some(body),
                &[("idempotency-key", "retry-storm")],
            )
            .await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let response = task.await.expect("the request task");
        assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
        ids.insert(response.str("id"));
    }
    assert_eq!(ids.len(), 1, "one workspace for one key: {ids:?}");
    let counts = app.aws_calls.counts();
    assert_eq!(counts.get("EC2.RunInstances"), Some(&1), "one provisioning: {counts:?}");
    let listed = app.get("alice", "/v1/workspaces").await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
}

/// EC2's state-change notification as EventBridge delivers it to state-sync.
fn state_change(instance: &str, state: &str) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": "eu-west-3",
        "resources": [format!("arn:aws:ec2:eu-west-3:123456789012:instance/{instance}")],
        "detail": { "instance-id": instance, "state": state }
    })
}

/// The EC2 state-change rule fires for every instance of the account: state-sync handles the
/// one instance of the event (docs/adr/0003), with one read of the `by-instance` index for an
/// instance Atelier does not own, and for its own one DescribeInstances more and the
/// transition's one transaction, whatever the number of workspaces.
#[tokio::test]
async fn an_ec2_state_change_event_stays_within_its_aws_call_budget() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    app.running_workspace("bob", "small-t3-large").await;
    let stored = atelier_domain::workspaces::WorkspaceStore::get(
        app.app.table().as_ref(),
        &atelier_domain::WorkspaceId::parse(&id).unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let instance = stored.provisioned.instance_id.expect("an instance");
    aws_sdk_ec2::Client::new(&app.sdk).stop_instances().instance_ids(&instance).send().await.unwrap();

    let cases = [
        ("an instance Atelier does not own", "i-0123456789abcdef0", "stopped", 0, calls(&[(QUERY, 1)])),
        (
            "its own instance, stopped behind its back: moved to STOPPED",
            instance.as_str(),
            "stopped",
            1,
            calls(&[(QUERY, 1), ("EC2.DescribeInstances", 1), (TRANSACT, 1)]),
        ),
        (
            "its own instance, nothing new",
            instance.as_str(),
            "stopped",
            0,
            calls(&[(QUERY, 1), ("EC2.DescribeInstances", 1)]),
        ),
    ];
    let mut failures = Vec::new();
    for (what, instance, state, settled, expected) in cases {
        app.aws_calls.reset();
        let outcome = app.app.sync_event(&state_change(instance, state)).await.expect("the event is handled");
        let counted = app.aws_calls.counts();
        println!("| EC2 state change: {what} | {} | {counted:?} |", counted.values().sum::<usize>());
        if outcome.settled != settled || counted != expected {
            failures.push(format!(
                "{what}: expected {settled} settled with {expected:?}, got {outcome:?} with {counted:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "AWS call budgets exceeded or changed:\n{}", failures.join("\n"));
}

/// The start check under `stop-at-100` reads the owner's rule and, until the watch has
/// recorded their 100 % crossing, their own month (their workspaces and those histories,
/// one product read each): bounded by the owner's workspaces, never everybody's. Once the
/// crossing is recorded it is one `GetItem` instead. A refusal also reads the default
/// schedule, whose zone says until when.
#[tokio::test]
async fn the_budget_start_check_reads_only_the_owner_s_rule_and_month() {
    let app = spawn_app().await;
    let stopped = app.running_workspace("bob", "small-t3-large").await;
    assert_eq!(app.post("bob", &format!("/v1/workspaces/{stopped}/stop"), None).await.status, StatusCode::ACCEPTED);
    app.sync().await;
    // Ten hours of python-r-standard this month (or since it began): past 0.01.
    let now = jiff::Timestamp::now();
    let month_start = atelier_domain::costs::Month::containing(now, &atelier_domain::costs::MONTH_BOUNDARY)
        .start(&atelier_domain::costs::MONTH_BOUNDARY)
        .expect("in range");
    let since = (now - jiff::SignedDuration::from_hours(10)).max(month_start);
    let steps = [(since, atelier_domain::State::Provisioning), (since, atelier_domain::State::Running)];
    app.write_history("bob", "python-r-standard", "m5.2xlarge", "Spent", &steps).await;
    // Others' workspaces are never read.
    app.running_workspace("alice", "small-t3-large").await;
    let put = app.put("ada", "/v1/budgets/bob", json!({ "amount": "0.01", "policy": "stop-at-100" })).await;
    assert_eq!(put.status, StatusCode::OK);

    let start = format!("/v1/workspaces/{stopped}/start");
    let (status, counted) = measure(&app, Some("bob"), Method::POST, &start, None, &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // GetItem: the workspace, bob's rule, his 100 % crossing (none yet), the two products,
    // the default schedule; Query: bob's workspaces, and the history of the one whose month
    // aggregate cannot say (the other is priced from its aggregate).
    assert_eq!(counted, calls(&[(GET_ITEM, 6), (QUERY, 2)]), "refused, month read");

    app.app.budget_run(jiff::Timestamp::now()).await.expect("the watch records the crossing");
    let (status, counted) = measure(&app, Some("bob"), Method::POST, &start, None, &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(counted, calls(&[(GET_ITEM, 4)]), "refused on the recorded crossing, no month read");
}
