//! Datasets (issue #7): the registry, attach at launch and later, revocation on state-sync,
//! the mount list on the machine (instance tags) and the per-workspace policy document, and
//! the data-access trace with its compliance CSV.

use atelier_adapters::ec2::DATASET_TAG_PREFIX;
use atelier_domain::{
    WorkspaceId,
    datasets::{DatasetStore, policy::readable_object_arns},
};
use atelier_tests::{TestApp, spawn_app};
use http::StatusCode;
use serde_json::{Value, json};

/// The ids in a list answer.
fn ids(body: &Value) -> Vec<String> {
    body["items"].as_array().expect("items").iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
}

/// The `atelier:dataset:*` tags of a workspace's instance.
async fn tags(app: &TestApp, user: &str, ws: &str) -> std::collections::HashMap<String, String> {
    let workspace = app.get(user, &format!("/v1/workspaces/{ws}")).await;
    let instance = workspace.str("instanceId");
    app.app.root.ec2().dataset_tags(&instance).await.expect("DescribeTags")
}

/// The object ARNs the workspace's stored policy document lets it read.
async fn readable(app: &TestApp, ws: &str) -> Vec<String> {
    let id = WorkspaceId::parse(ws).unwrap();
    let document = app.app.table().policy(&id).await.expect("policy read").expect("a policy document");
    readable_object_arns(&serde_json::from_str(&document).expect("JSON"))
}

async fn remove_from_group(app: &TestApp, user: &str, group: &str) {
    aws_sdk_cognitoidentityprovider::Client::new(&app.sdk)
        .admin_remove_user_from_group()
        .user_pool_id(&app.seeded.user_pool_id)
        .username(user)
        .group_name(group)
        .send()
        .await
        .expect("AdminRemoveUserFromGroup");
}

#[tokio::test]
async fn the_registry_shows_each_user_only_what_they_may_read() {
    let app = spawn_app().await;
    app.register_dataset("onco-2026", &["oncology"], &[]).await;
    app.register_dataset("cardio-2026", &[], &["bob"]).await;
    app.register_dataset("public-ref", &["scientists"], &[]).await;

    let mut all = ids(&app.get("ada", "/v1/datasets").await.body);
    all.sort();
    assert_eq!(all, ["cardio-2026", "onco-2026", "public-ref"]);
    assert_eq!(ids(&app.get("alice", "/v1/datasets").await.body), ["onco-2026", "public-ref"]);
    assert_eq!(ids(&app.get("bob", "/v1/datasets").await.body), ["cardio-2026", "public-ref"]);
    assert_eq!(ids(&app.get("fiona", "/v1/datasets").await.body), Vec::<String>::new());

    let seen = app.get("alice", "/v1/datasets/onco-2026").await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.body["location"], json!("s3://atelier-lake/onco-2026/"));
    assert_eq!(seen.body["classification"], json!("clinical"));
    assert_eq!(seen.body["readable"], json!(true));
    assert!(seen.body.get("readers").is_none(), "only admins see the readers: {}", seen.body);
    let admin = app.get("ada", "/v1/datasets/onco-2026").await;
    assert_eq!(admin.body["readers"], json!({ "groups": ["oncology"], "users": [] }));
    assert_eq!(admin.body["readable"], json!(false), "admins manage, they do not read by role");

    for (user, id) in [("bob", "onco-2026"), ("fiona", "onco-2026"), ("alice", "cardio-2026"), ("alice", "nope")] {
        let hidden = app.get(user, &format!("/v1/datasets/{id}")).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{user} {id}");
        assert_eq!(hidden.body["detail"], json!("dataset not found"));
    }
}

#[tokio::test]
async fn registrations_are_validated() {
    let app = spawn_app().await;
    app.register_dataset("onco-2026", &["oncology"], &[]).await;
    let base = json!({
        "id": "x-valid", "name": "X", "location": "s3://atelier-lake/x/", "classification": "internal",
        "owner": "data-office", "readers": { "groups": [], "users": [] }
    });
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    for (body, status, field) in [
        (with("location", json!("s3://atelier-lake/x/*")), 400, "location"),
        (with("location", json!("s3://Bad_Bucket/x/")), 400, "location"),
        (with("location", json!("s3://atelier-lake/x")), 400, "location"),
        (with("classification", json!("secret")), 400, "classification"),
        (with("id", json!("Not An Id")), 400, "id"),
        (with("name", json!("")), 400, "name"),
        (with("id", json!("onco-2026")), 422, "id"),
        (with("readers", json!({ "groups": ["oncology", "oncology"] })), 400, "readers.groups"),
    ] {
        let response = app.post("ada", "/v1/datasets", Some(body.clone())).await;
        assert_eq!(response.status.as_u16(), status, "{body} -> {}", response.body);
        assert_eq!(response.body["field"], json!(field), "{}", response.body);
    }
    let unknown = app.post("ada", "/v1/datasets", Some(with("bucket", json!("x")))).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    // The existing dataset is untouched by the refused duplicate.
    assert_eq!(app.get("ada", "/v1/datasets/onco-2026").await.body["location"], json!("s3://atelier-lake/onco-2026/"));
}

/// The "done when", end to end.
#[tokio::test]
async fn ada_registers_alice_mounts_bob_cannot_and_a_revocation_detaches_on_the_next_sync() {
    let app = spawn_app().await;
    app.register_dataset("onco-2026", &["oncology"], &[]).await;

    // alice (in oncology) launches a workspace with it.
    let launched = app
        .post(
            "alice",
            "/v1/workspaces",
            Some(json!({ "productId": "small-t3-large", "name": "Oncology study", "datasets": ["onco-2026"] })),
        )
        .await;
    assert_eq!(launched.status, StatusCode::ACCEPTED, "{}", launched.body);
    assert_eq!(launched.body["datasets"], json!(["onco-2026"]));
    let ws = launched.str("id");
    app.sync().await;
    assert_eq!(app.state("alice", &ws).await, "RUNNING");
    assert_eq!(app.get("alice", &format!("/v1/workspaces/{ws}")).await.body["datasets"], json!(["onco-2026"]));
    // The machine gets its mount list as tags, and a policy scoped to exactly that prefix.
    let machine_tags = tags(&app, "alice", &ws).await;
    assert_eq!(
        machine_tags.get(&format!("{DATASET_TAG_PREFIX}onco-2026")).map(String::as_str),
        Some("s3://atelier-lake/onco-2026/")
    );
    assert_eq!(machine_tags.len(), 1);
    assert_eq!(readable(&app, &ws).await, ["arn:aws:s3:::atelier-lake/onco-2026/*"]);

    // bob (not in oncology) gets 404 at launch (and nothing is created), and on attach,
    // to his own workspace or to alice's.
    let refused = app
        .post(
            "bob",
            "/v1/workspaces",
            Some(json!({ "productId": "small-t3-large", "name": "Guess", "datasets": ["onco-2026"] })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    assert_eq!(ids(&app.get("bob", "/v1/workspaces").await.body), Vec::<String>::new());
    let bobs = app.running_workspace("bob", "small-t3-large").await;
    for (ws_id, dataset) in [(&bobs, "onco-2026"), (&bobs, "onco-2027"), (&ws, "onco-2026")] {
        let attempt = app.post("bob", &format!("/v1/workspaces/{ws_id}/datasets/{dataset}"), None).await;
        assert_eq!(attempt.status, StatusCode::NOT_FOUND, "{ws_id} {dataset}: {}", attempt.body);
    }
    assert_eq!(app.get("bob", &format!("/v1/workspaces/{bobs}")).await.body["datasets"], json!([]));

    // ada revokes the group; the next state-sync detaches.
    let revoked = app
        .put(
            "ada",
            "/v1/datasets/onco-2026",
            json!({
                "name": "Dataset onco-2026", "description": "Registered by a test",
                "location": "s3://atelier-lake/onco-2026/", "classification": "clinical",
                "owner": "data-office", "readers": { "groups": [], "users": [] }
            }),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(app.get("alice", &format!("/v1/workspaces/{ws}")).await.body["datasets"], json!(["onco-2026"]));
    let report = app.app.data_access_once().await.expect("revocation pass");
    assert_eq!(report.detached, [(ws.clone(), "onco-2026".to_owned())]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(app.get("alice", &format!("/v1/workspaces/{ws}")).await.body["datasets"], json!([]));
    assert!(tags(&app, "alice", &ws).await.is_empty(), "the mount tag is gone");
    assert!(readable(&app, &ws).await.is_empty(), "the policy reads nothing any more");
    assert_eq!(app.get("alice", "/v1/datasets/onco-2026").await.status, StatusCode::NOT_FOUND);

    // The access report shows alice's interval with its start and end.
    let access = app.get("ada", "/v1/datasets/onco-2026/access").await;
    assert_eq!(access.status, StatusCode::OK, "{}", access.body);
    let intervals = access.body["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 1, "{}", access.body);
    assert_eq!(intervals[0]["user"], json!("alice"));
    assert_eq!(intervals[0]["workspaceId"], json!(ws));
    let from: jiff::Timestamp = intervals[0]["from"].as_str().unwrap().parse().unwrap();
    let until: jiff::Timestamp = intervals[0]["until"].as_str().expect("closed").parse().unwrap();
    assert!(from < until);
    let actions: Vec<(&str, &str)> = access.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, [("grant", "ada"), ("attach", "alice"), ("revoke", "ada"), ("detach", "data-access")]);

    // alice sees her own history; bob's is empty of it.
    let mine = app.get("alice", "/v1/me/data-access").await;
    assert_eq!(mine.body["intervals"], access.body["intervals"]);
    assert_eq!(app.get("bob", "/v1/me/data-access").await.body["intervals"], json!([]));
}

#[tokio::test]
async fn leaving_the_group_in_cognito_detaches_without_any_registry_change() {
    let app = spawn_app().await;
    app.register_dataset("onco-2026", &["oncology"], &[]).await;
    let ws = app.running_workspace("alice", "small-t3-large").await;
    let attached = app.post("alice", &format!("/v1/workspaces/{ws}/datasets/onco-2026"), None).await;
    assert_eq!(attached.status, StatusCode::OK, "{}", attached.body);
    assert_eq!(attached.body["datasets"], json!(["onco-2026"]));
    // Attaching twice changes nothing.
    let again = app.post("alice", &format!("/v1/workspaces/{ws}/datasets/onco-2026"), None).await;
    assert_eq!(again.body["datasets"], json!(["onco-2026"]));

    assert!(app.app.data_access_once().await.unwrap().detached.is_empty(), "still a member: nothing to do");
    let other = app.running_workspace("alice", "small-t3-large").await;
    remove_from_group(&app, "alice", "oncology").await;
    // alice's token still lists oncology, but the directory decides: no new attach...
    let refused = app.post("alice", &format!("/v1/workspaces/{other}/datasets/onco-2026"), None).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    // ...and the next pass detaches the open one.
    let report = app.app.data_access_once().await.unwrap();
    assert_eq!(report.detached, [(ws.clone(), "onco-2026".to_owned())]);
    let events = app.get("ada", "/v1/datasets/onco-2026/access").await.body["events"].clone();
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], json!("detach"));
    assert_eq!(last["reason"], json!("alice is no longer one of the dataset's readers"));
}

#[tokio::test]
async fn owners_detach_admins_attach_only_what_the_owner_may_read_and_ended_workspaces_let_go() {
    let app = spawn_app().await;
    app.register_dataset("onco-2026", &["oncology"], &[]).await;
    app.register_dataset("cardio-2026", &[], &["bob"]).await;
    let ws = app.running_workspace("alice", "small-t3-large").await;

    // An admin may attach for alice what alice may read, and is told why not otherwise.
    let by_admin = app.post("ada", &format!("/v1/workspaces/{ws}/datasets/onco-2026"), None).await;
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.body);
    let outside = app.post("ada", &format!("/v1/workspaces/{ws}/datasets/cardio-2026"), None).await;
    assert_eq!(outside.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", outside.body);

    // A dataset that is attached cannot be deleted.
    let delete = app.delete("ada", "/v1/datasets/onco-2026").await;
    assert_eq!(delete.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", delete.body);

    // The owner detaches; detaching again is 404.
    let detached = app.delete("alice", &format!("/v1/workspaces/{ws}/datasets/onco-2026")).await;
    assert_eq!(detached.status, StatusCode::OK, "{}", detached.body);
    assert_eq!(detached.body["datasets"], json!([]));
    assert_eq!(
        app.delete("alice", &format!("/v1/workspaces/{ws}/datasets/onco-2026")).await.status,
        StatusCode::NOT_FOUND
    );

    // A terminated workspace lets go of its datasets on the next pass.
    app.post("alice", &format!("/v1/workspaces/{ws}/datasets/onco-2026"), None).await;
    assert_eq!(app.delete("alice", &format!("/v1/workspaces/{ws}")).await.status, StatusCode::ACCEPTED);
    app.sync().await;
    app.sync().await;
    assert_eq!(app.state("alice", &ws).await, "TERMINATED");
    assert_eq!(app.get("alice", &format!("/v1/workspaces/{ws}")).await.body["datasets"], json!([]));
    let refused = app.post("alice", &format!("/v1/workspaces/{ws}/datasets/onco-2026"), None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Now it can be deleted, and its trace stays.
    assert_eq!(app.delete("ada", "/v1/datasets/onco-2026").await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("ada", "/v1/datasets/onco-2026").await.status, StatusCode::NOT_FOUND);
    let mine = app.get("alice", "/v1/me/data-access").await;
    assert_eq!(mine.body["intervals"].as_array().unwrap().len(), 2, "{}", mine.body);
}

/// Every attach in the trace has a matching detach, or the workspace still lists the dataset.
#[tokio::test]
async fn the_trace_is_complete() {
    let app = spawn_app().await;
    app.register_dataset("onco-2026", &["oncology"], &[]).await;
    app.register_dataset("shared-ref", &["scientists"], &[]).await;
    let a = app.running_workspace("alice", "small-t3-large").await;
    let b = app.running_workspace("alice", "small-t3-large").await;
    let c = app.running_workspace("bob", "small-t3-large").await;
    for (user, ws, ds) in
        [("alice", &a, "onco-2026"), ("alice", &a, "shared-ref"), ("alice", &b, "onco-2026"), ("bob", &c, "shared-ref")]
    {
        assert_eq!(app.post(user, &format!("/v1/workspaces/{ws}/datasets/{ds}"), None).await.status, StatusCode::OK);
    }
    app.delete("alice", &format!("/v1/workspaces/{a}/datasets/shared-ref")).await;
    remove_from_group(&app, "alice", "oncology").await;
    app.sync().await;

    let mut open = 0;
    for ds in ["onco-2026", "shared-ref"] {
        let access = app.get("ada", &format!("/v1/datasets/{ds}/access")).await.body;
        let attaches = access["events"].as_array().unwrap().iter().filter(|e| e["action"] == "attach").count();
        let intervals = access["intervals"].as_array().unwrap();
        assert_eq!(intervals.len(), attaches, "every attach opens one interval: {access}");
        for interval in intervals {
            let ws = interval["workspaceId"].as_str().unwrap();
            let owner = interval["user"].as_str().unwrap();
            let listed = app.get(owner, &format!("/v1/workspaces/{ws}")).await.body["datasets"]
                .as_array()
                .unwrap()
                .contains(&json!(ds));
            if interval["until"].is_null() {
                open += 1;
                assert!(listed, "an open interval is a current attachment: {interval}");
            } else {
                assert!(!listed, "a closed interval is not attached any more: {interval}");
            }
        }
    }
    assert_eq!(open, 1, "only bob's shared-ref stays attached");
}

/// A minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF rows.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field, mut quoted, mut chars) =
        (Vec::new(), Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "rows end with CRLF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "the file ends with CRLF");
    rows
}

#[tokio::test]
async fn the_monthly_csv_round_trips_the_trace() {
    let app = spawn_app().await;
    // A reader name that a spreadsheet would run as a formula.
    app.register_dataset("onco-2026", &["oncology", "=cmd|'/c'!A1"], &["-bob,\"the\"-second"]).await;
    let ws = app.running_workspace("alice", "small-t3-large").await;
    app.post("alice", &format!("/v1/workspaces/{ws}/datasets/onco-2026"), None).await;
    let month = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y-%m").to_string();

    let (status, headers, csv) = app.get_text("ada", &format!("/v1/datasets/access.csv?month={month}")).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"atelier-data-access-{month}.csv\"").as_str()
    );
    let rows = parse_csv(&csv);
    assert_eq!(rows[0], atelier_domain::datasets::access::CSV_COLUMNS);
    let trace = app.get("ada", "/v1/datasets/onco-2026/access").await.body["events"].clone();
    let trace = trace.as_array().unwrap();
    assert_eq!(rows.len() - 1, trace.len(), "one row per event");
    for (row, event) in rows[1..].iter().zip(trace) {
        assert_eq!(row[0], month);
        assert_eq!(row[1].parse::<jiff::Timestamp>().unwrap(), event["at"].as_str().unwrap().parse().unwrap());
        assert_eq!(row[2], "onco-2026");
        assert_eq!(row[3], event["action"].as_str().unwrap());
        let neutral = |v: &Value| {
            let s = v.as_str().unwrap_or_default();
            if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() }
        };
        assert_eq!(row[4], neutral(&event["user"]));
        assert_eq!(row[5], neutral(&event["group"]));
        assert_eq!(row[6], neutral(&event["workspaceId"]));
        assert_eq!(row[7], neutral(&event["actor"]));
    }
    assert!(csv.contains("\"'-bob,\"\"the\"\"-second\""), "quoted and neutralised: {csv}");
    assert!(csv.contains(",'=cmd|'/c'!A1,"), "neutralised: {csv}");

    for (user, expected) in [("alice", 403), ("fiona", 403)] {
        let (status, _, _) = app.get_text(user, &format!("/v1/datasets/access.csv?month={month}")).await;
        assert_eq!(status.as_u16(), expected, "{user}");
    }
    for bad in ["2026-13", "next", "2999-01"] {
        let (status, _, _) = app.get_text("ada", &format!("/v1/datasets/access.csv?month={bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

/// The attach and detach routes on a workspace of one's own, someone else's, and one that
/// does not exist, for every role, with a dataset every scientist and admin may read.
#[tokio::test]
async fn attach_and_detach_on_own_others_and_missing_workspaces() {
    let app = spawn_app().await;
    app.register_dataset("shared-ref", &["scientists", "admins"], &[]).await;
    let missing = "ws-0000000000000000000000000a";
    let workspace = |owner: &'static str| {
        let app = &app;
        async move { app.running_workspace(owner, "small-t3-large").await }
    };
    // (caller, owner of the workspace or None for a missing one, expected attach, expected detach)
    let cells: [(&str, Option<&str>, u16, u16); 11] = [
        ("alice", Some("alice"), 200, 200),
        ("bob", Some("bob"), 200, 200),
        ("ada", Some("ada"), 200, 200),
        ("alice", Some("bob"), 404, 404),
        ("bob", Some("alice"), 404, 404),
        ("fiona", Some("alice"), 404, 404),
        ("ada", Some("bob"), 200, 200),
        ("alice", None, 404, 404),
        ("bob", None, 404, 404),
        ("ada", None, 404, 404),
        ("fiona", None, 404, 404),
    ];
    for (caller, owner, attach, detach) in cells {
        let id = match owner {
            Some(owner) => workspace(owner).await,
            None => missing.to_owned(),
        };
        let path = format!("/v1/workspaces/{id}/datasets/shared-ref");
        let attached = app.post(caller, &path, None).await;
        assert_eq!(attached.status.as_u16(), attach, "attach as {caller} on {owner:?}'s: {}", attached.body);
        if attach == 404 {
            assert_eq!(attached.body["detail"], json!("workspace not found"), "a 404 reveals nothing");
            if let Some(owner) = owner {
                // Make the detach cell meaningful: the owner attaches first.
                app.post(owner, &path, None).await;
            }
        }
        let detached = app.delete(caller, &path).await;
        assert_eq!(detached.status.as_u16(), detach, "detach as {caller} on {owner:?}'s: {}", detached.body);
        if let (Some(owner), 404) = (owner, detach) {
            let still = app.get(owner, &format!("/v1/workspaces/{id}")).await;
            assert_eq!(still.body["datasets"], json!(["shared-ref"]), "a refused detach changed nothing");
        }
    }
    let anonymous =
        app.call(http::Method::POST, &format!("/v1/workspaces/{missing}/datasets/shared-ref"), None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
