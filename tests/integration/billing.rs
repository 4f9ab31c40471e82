//! AWS's billing rules, worked by hand to the cent and checked through the API.
//!
//! Each life is written by the dev server's `POST /_local/history` (the lifecycle's one
//! writer, at the given instants), then read back from `/v1/costs/me`, the users report and
//! the export. Seeded prices (shared/devstack/src/seed.rs), from the epoch: python-r-standard
//! 0.35 EUR/h and 100 GiB, small-t3-large 0.09 EUR/h and 50 GiB, memory-r5-8xlarge 2.20 EUR/h
//! and 200 GiB; storage 0.0928 EUR per GB-month, prorated per second over the calendar UTC
//! month (March: 2,678,400 s; February 2026: 2,419,200 s). Rules: compute per second while
//! EC2 bills (RUNNING, HIBERNATING), 60 s at least per start; storage for as long as the
//! volume exists (docs/adr/0006-costs.md, "AWS's billing rules").

use atelier_domain::{Caller, catalog::PriceVersion};
use atelier_tests::{TestApp, spawn_app};
use http::StatusCode;
use serde_json::{Value, json};

async fn life(app: &TestApp, owner: &str, product: &str, events: &[(&str, &str)]) -> String {
    let events: Vec<Value> = events.iter().map(|(at, state)| json!({ "at": at, "state": state })).collect();
    let written = app
        .local_history(json!({ "owner": owner, "productId": product, "name": "Billing case", "events": events }))
        .await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.body);
    written.str("workspaceId")
}

/// The line of `workspace` in `user`'s month.
async fn line(app: &TestApp, user: &str, month: &str, workspace: &str) -> Value {
    let mine = app.get(user, &format!("/v1/costs/me?month={month}")).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    assert_eq!(mine.body["unpriced"], json!([]), "{}", mine.body);
    mine.body["workspaces"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["workspaceId"] == workspace)
        .unwrap_or_else(|| panic!("no line for {workspace} in {month}: {}", mine.body))
        .clone()
}

fn amounts(line: &Value) -> (u64, u64, &str, &str, &str) {
    (
        line["runningSeconds"].as_u64().expect("seconds"),
        line["stoppedSeconds"].as_u64().expect("seconds"),
        line["compute"].as_str().expect("amount"),
        line["storage"].as_str().expect("amount"),
        line["total"].as_str().expect("amount"),
    )
}

#[tokio::test]
async fn every_state_bills_as_ec2_does_with_a_minute_per_start() {
    let app = spawn_app().await;
    let id = life(
        &app,
        "alice",
        "python-r-standard",
        &[
            ("2026-03-02T08:00:00Z", "PROVISIONING"),
            ("2026-03-02T08:10:00Z", "RUNNING"),
            ("2026-03-02T12:00:00Z", "STOPPING"),
            ("2026-03-02T12:01:00Z", "STOPPED"),
            ("2026-03-03T08:00:00Z", "STARTING"),
            ("2026-03-03T08:02:00Z", "RUNNING"),
            ("2026-03-03T10:00:00Z", "HIBERNATING"),
            ("2026-03-03T10:03:00Z", "HIBERNATED"),
            ("2026-03-04T08:00:00Z", "STARTING"),
            ("2026-03-04T08:01:00Z", "RUNNING"),
            ("2026-03-04T08:01:40Z", "STOPPING"),
            ("2026-03-04T08:02:00Z", "STOPPED"),
            ("2026-03-05T00:00:00Z", "TERMINATING"),
            ("2026-03-05T00:10:00Z", "TERMINATED"),
        ],
    )
    .await;
    // Compute: 08:10-12:00 (13,800 s; STOPPING is not billed), 08:02-10:03 (7,260 s:
    // RUNNING and HIBERNATING, one run; STARTING is not billed), and a 40 s run billed 60 s:
    // 21,120 s × 0.35 / 3,600 = 2.0533… → 2.05.
    // Storage: the volume lives 08:00 on the 2nd to 00:10 on the 5th, 231,000 s:
    // 231,000 × 100 GiB × 0.0928 / 2,678,400 = 0.8003… → 0.80.
    // Not running: 231,000 - 21,100 s actually running = 209,900 s.
    let march = line(&app, "alice", "2026-03", &id).await;
    assert_eq!(amounts(&march), (21_120, 209_900, "2.05", "0.80", "2.85"));
}

#[tokio::test]
async fn a_month_boundary_and_february_follow_the_calendar() {
    let app = spawn_app().await;
    let id = life(
        &app,
        "alice",
        "small-t3-large",
        &[
            ("2026-01-31T20:00:00Z", "PROVISIONING"),
            ("2026-01-31T20:05:00Z", "RUNNING"),
            ("2026-02-01T02:05:00Z", "STOPPING"),
            ("2026-02-01T02:06:00Z", "STOPPED"),
            ("2026-03-01T00:00:00Z", "TERMINATING"),
            ("2026-03-01T00:05:00Z", "TERMINATED"),
        ],
    )
    .await;
    // January: running 20:05-24:00, 14,100 s × 0.09 / 3,600 = 0.3525 → 0.35 (half-even);
    // 4 h of 50 GiB: 14,400 × 50 × 0.0928 / 2,678,400 = 0.0249… → 0.02.
    let january = line(&app, "alice", "2026-01", &id).await;
    assert_eq!(amounts(&january), (14_100, 300, "0.35", "0.02", "0.37"));
    // February: the same run goes on until 02:05, 7,500 s × 0.09 / 3,600 = 0.1875 → 0.19;
    // the whole calendar month of 50 GiB is 50 × 0.0928 = 4.64, over 28 days as over 31.
    let february = line(&app, "alice", "2026-02", &id).await;
    assert_eq!(amounts(&february), (7_500, 2_419_200 - 7_500, "0.19", "4.64", "4.83"));
    // March: five minutes TERMINATING, the volume still there: 300 s, 0.0005… → 0.00.
    let march = line(&app, "alice", "2026-03", &id).await;
    assert_eq!(amounts(&march), (0, 300, "0.00", "0.00", "0.00"));
}

#[tokio::test]
async fn a_price_change_applies_from_its_instant_only() {
    let app = spawn_app().await;
    // An admin appended a version effective 15 March 00:00 (decided on 1 March).
    let ada = Caller { sub: "sub-ada".into(), username: "ada".into(), groups: vec!["admins".into()] };
    let change = PriceVersion {
        effective_from: "2026-03-15T00:00:00Z".parse().unwrap(),
        compute_per_hour: "2.64".parse().unwrap(),
        storage_per_gb_month: "0.0928".parse().unwrap(),
        currency: "EUR".into(),
    };
    let decided = "2026-03-01T00:00:00Z".parse().unwrap();
    app.app.root.catalog_cases().add_price(&ada, "memory-r5-8xlarge", change, decided).await.expect("a new version");
    let id = life(
        &app,
        "bob",
        "memory-r5-8xlarge",
        &[
            ("2026-03-14T21:00:00Z", "PROVISIONING"),
            ("2026-03-14T22:00:00Z", "RUNNING"),
            ("2026-03-15T02:00:00Z", "STOPPING"),
            ("2026-03-15T02:01:00Z", "STOPPED"),
            ("2026-03-15T03:00:00Z", "TERMINATING"),
            ("2026-03-15T03:01:00Z", "TERMINATED"),
        ],
    )
    .await;
    // Two hours at 2.20 before midnight, two at 2.64 after: 4.40 + 5.28 = 9.68.
    // Storage 21:00-03:01, 21,660 s × 200 GiB × 0.0928 / 2,678,400 = 0.1500… → 0.15.
    let march = line(&app, "bob", "2026-03", &id).await;
    assert_eq!(amounts(&march), (14_400, 7_260, "9.68", "0.15", "9.83"));
    // The admin's report and the finance export say the same.
    let users = app.get("ada", "/v1/costs/users?month=2026-03").await;
    let bob = users.body["users"].as_array().unwrap().iter().find(|u| u["user"] == "bob").cloned().unwrap();
    assert_eq!(bob["total"], "9.83");
    let (status, _, csv) = app.get_text("fiona", "/v1/costs/export.csv?month=2026-03").await;
    assert_eq!(status, StatusCode::OK);
    // A row per price version, each recomputable from its rates, adding up to the line:
    // 7,200 s × 2.20 / 3,600 = 4.40 and 7,200 s × 2.64 / 3,600 = 5.28; storage 3 h
    // (21:00–00:00) and 3 h 01 min (00:00–03:01) of 200 GiB, 0.0748… + 0.0752… = 0.15
    // once rounded: truncated 0.07 + 0.07, the lost cent to the second, which lost more.
    let rows: Vec<Vec<&str>> =
        csv.lines().filter(|r| r.contains(id.as_str())).map(|r| r.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    fn tail<'a>(row: &[&'a str]) -> Vec<&'a str> {
        [&row[8..14], &row[14..18], &row[19..22]].concat()
    }
    assert_eq!(
        tail(&rows[0]),
        [
            "2.00",
            "1.00",
            "4.40",
            "0.07",
            "4.47",
            "EUR",
            "7200",
            "2160000",
            "2.20",
            "0.0928",
            "2026-03-14T21:00:00Z",
            "2026-03-15T00:00:00Z",
            "estimate"
        ]
    );
    assert_eq!(
        tail(&rows[1]),
        [
            "2.00",
            "1.02",
            "5.28",
            "0.08",
            "5.36",
            "EUR",
            "7200",
            "2172000",
            "2.64",
            "0.0928",
            "2026-03-15T00:00:00Z",
            "2026-03-15T03:01:00Z",
            "estimate"
        ]
    );
    assert_eq!(rows[1][18], "2026-03-15T00:00:00Z", "the version's own instant");
}

#[tokio::test]
async fn a_failed_provisioning_bills_its_volume_and_nothing_while_failed_unobserved() {
    let app = spawn_app().await;
    let id = life(
        &app,
        "alice",
        "python-r-standard",
        &[
            ("2026-03-20T10:00:00Z", "PROVISIONING"),
            ("2026-03-20T10:20:00Z", "FAILED"),
            ("2026-03-20T11:00:00Z", "TERMINATING"),
            ("2026-03-20T11:05:00Z", "TERMINATED"),
        ],
    )
    .await;
    // 20 minutes PROVISIONING and 5 TERMINATING hold the volume: 1,500 s × 100 GiB ×
    // 0.0928 / 2,678,400 = 0.0051… → 0.01. FAILED time that nobody observed an instance in
    // bills nothing (tests/integration/state_sync.rs bills a FAILED one whose instance runs).
    let march = line(&app, "alice", "2026-03", &id).await;
    assert_eq!(amounts(&march), (0, 1_500, "0.00", "0.01", "0.01"));
}

#[tokio::test]
async fn a_life_the_lifecycle_would_refuse_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let before = app.get("ada", "/v1/workspaces?all=true").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    for (events, field) in [
        (
            json!([{ "at": "2026-03-01T00:00:00Z", "state": "PROVISIONING" }, { "at": "2026-03-01T01:00:00Z", "state": "STOPPED" }]),
            "events[1].state",
        ),
        (json!([{ "at": "2026-03-01T00:00:00Z", "state": "RUNNING" }]), "events[0].state"),
        (
            json!([{ "at": "2026-03-01T00:00:00Z", "state": "PROVISIONING" }, { "at": "2026-02-28T00:00:00Z", "state": "RUNNING" }]),
            "events[1].at",
        ),
        (json!([{ "at": "yesterday", "state": "PROVISIONING" }]), "events[0].at"),
        (json!([{ "at": "2026-03-01T00:00:00Z", "state": "ASLEEP" }]), "events[0].state"),
        (json!([]), "events"),
    ] {
        let refused = app
            .local_history(json!({ "owner": "alice", "productId": "python-r-standard", "name": "x", "events": events }))
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert_eq!(refused.body["field"], field, "{}", refused.body);
    }
    let one = json!([{ "at": "2026-03-01T00:00:00Z", "state": "PROVISIONING" }]);
    for (owner, product, field) in [("nobody", "python-r-standard", "owner"), ("alice", "no-such-product", "productId")]
    {
        let refused =
            app.local_history(json!({ "owner": owner, "productId": product, "name": "x", "events": one })).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert_eq!(refused.body["field"], field, "{}", refused.body);
    }
    let after = app.get("ada", "/v1/workspaces?all=true").await;
    assert_eq!(after.body, before.body, "nothing was written");
    // The route exists on the dev server only.
    let api =
        atelier_tests::call_router(&app.router, http::Method::POST, "/_local/history", None, Some(json!({})), &[])
            .await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn make_dev_seeds_a_month_of_work_that_every_cost_screen_shows() {
    let app = spawn_app().await;
    let now = jiff::Timestamp::now();
    let written = atelier_devstack::last_month::seed(&app.app.root.workspaces(), now).await.expect("seeded");
    assert_eq!(written, 3);
    let this = now.to_zoned(jiff::tz::TimeZone::UTC).date().first_of_month();
    let last = this.checked_sub(jiff::Span::new().months(1)).unwrap();
    let month = format!("{:04}-{:02}", last.year(), last.month());
    let users = app.get("ada", &format!("/v1/costs/users?month={month}")).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    let names: Vec<&str> =
        users.body["users"].as_array().unwrap().iter().map(|u| u["user"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", "bob"]);
    for user in users.body["users"].as_array().unwrap() {
        assert_ne!(user["total"], "0.00", "{user}");
    }
    let (status, _, csv) = app.get_text("fiona", &format!("/v1/costs/export.csv?month={month}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), 4, "a header and three workspaces: {csv}");
    // Everything seeded ended last month: nothing runs or costs now.
    let mine = app.get("alice", "/v1/workspaces").await;
    assert!(mine.body["items"].as_array().unwrap().iter().all(|w| w["state"] == "TERMINATED"), "{}", mine.body);
}
