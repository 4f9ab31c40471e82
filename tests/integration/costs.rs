//! Costs: rebuilt from the workspace event history, priced from the catalog, to the cent.
//!
//! The histories are written through the store with fixed instants, so every second and
//! every cent below is exact.

use atelier_domain::{State, costs::COLUMNS};
use atelier_tests::{TestApp, spawn_app};
use http::StatusCode;
use serde_json::json;

/// A workspace named "Cost history" whose history is `steps` (RFC 3339 instant, state);
/// see [`TestApp::write_history`].
async fn history(app: &TestApp, owner: &str, product: &str, instance_type: &str, steps: &[(&str, State)]) -> String {
    let steps: Vec<_> = steps.iter().map(|(at, state)| (at.parse().expect("an RFC 3339 instant"), *state)).collect();
    app.write_history(owner, product, instance_type, "Cost history", &steps).await
}

/// alice: one python-r-standard workspace living 4.5 hours of March 2026 (one of them
/// running), and one small-t3-large workspace running across the February/March boundary
/// and stopped ever since.
async fn alices_march(app: &TestApp) -> (String, String) {
    let spanning = history(
        app,
        "alice",
        "small-t3-large",
        "t3.large",
        &[
            ("2026-02-28T22:00:00Z", State::Provisioning),
            ("2026-02-28T23:00:00Z", State::Running),
            ("2026-03-01T01:00:00Z", State::Stopped),
        ],
    )
    .await;
    let short = history(
        app,
        "alice",
        "python-r-standard",
        "m5.2xlarge",
        &[
            ("2026-03-10T08:00:00Z", State::Provisioning),
            ("2026-03-10T09:00:00Z", State::Running),
            ("2026-03-10T10:00:00Z", State::Stopped),
            ("2026-03-10T12:00:00Z", State::Terminating),
            ("2026-03-10T12:30:00Z", State::Terminated),
        ],
    )
    .await;
    (spanning, short)
}

/// Parses an RFC 4180 body whose cells hold no quotes or line breaks.
fn rows(csv: &str, separator: char) -> Vec<Vec<String>> {
    assert!(csv.ends_with("\r\n"), "rows end with CRLF");
    assert!(!csv.contains('"'), "no quoted cell expected in this data");
    csv.split("\r\n").filter(|r| !r.is_empty()).map(|r| r.split(separator).map(str::to_owned).collect()).collect()
}

/// An amount of at most two decimal places (`"5"`, `"4.8"`, `"0.41"`) in cents, exactly.
fn cents(amount: &str) -> i64 {
    let (units, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    assert!(fraction.len() <= 2, "at most two decimal places: {amount}");
    units.parse::<i64>().unwrap() * 100 + format!("{fraction:0<2}").parse::<i64>().unwrap()
}

#[tokio::test]
async fn my_costs_are_rebuilt_from_the_history_to_the_cent() {
    let app = spawn_app().await;
    let (spanning, short) = alices_march(&app).await;

    let march = app.get("alice", "/v1/costs/me?month=2026-03").await;
    assert_eq!(march.status, StatusCode::OK, "{}", march.body);
    assert_eq!(march.body["month"], "2026-03");
    assert_eq!(march.body["currency"], "EUR");
    assert_eq!(march.body["budget"], json!(null));
    // Oldest workspace first.
    assert_eq!(
        march.body["workspaces"],
        json!([
            {
                // 1 h running at 0.09; the whole calendar month of 50 GiB at 0.0928 per
                // GB-month: 4.64, whatever the month's length.
                "workspaceId": spanning, "name": "Cost history", "instanceType": "t3.large",
                "runningSeconds": 3600, "stoppedSeconds": 743 * 3600,
                "compute": "0.09", "storage": "4.64", "total": "4.73", "actual": null, "actualConverted": null
            },
            {
                // 1 h running at 0.35; 4.5 h of 100 GiB at 0.0928 over March's 744 h: 0.0561… → 0.06.
                "workspaceId": short, "name": "Cost history", "instanceType": "m5.2xlarge",
                "runningSeconds": 3600, "stoppedSeconds": 12600,
                "compute": "0.35", "storage": "0.06", "total": "0.41", "actual": null, "actualConverted": null
            }
        ])
    );
    assert_eq!(march.body["total"], "5.14");
    assert_eq!(march.body["unpriced"], json!([]));

    // February holds only the first two hours of the spanning workspace: 1 h at 0.09, and
    // 2 h of 50 GiB over February's 672 h (0.0138… → 0.01).
    let february = app.get("alice", "/v1/costs/me?month=2026-02").await;
    assert_eq!(february.body["total"], "0.10", "{}", february.body);
    assert_eq!(february.body["workspaces"][0]["runningSeconds"], 3600);
    assert_eq!(february.body["workspaces"][0]["stoppedSeconds"], 3600);
    assert_eq!(february.body["workspaces"].as_array().unwrap().len(), 1);

    // bob sees only his own: nothing.
    let bobs = app.get("bob", "/v1/costs/me?month=2026-03").await;
    assert_eq!(bobs.status, StatusCode::OK);
    assert_eq!(
        bobs.body,
        json!({
            "month": "2026-03", "currency": "EUR", "total": "0.00", "budget": null, "thresholdsCrossed": [],
            "workspaces": [], "unpriced": [], "conversion": null
        })
    );
}

#[tokio::test]
async fn the_users_report_and_the_export_agree_to_the_cent() {
    let app = spawn_app().await;
    alices_march(&app).await;
    history(
        &app,
        "bob",
        "memory-r5-8xlarge",
        "r5.8xlarge",
        &[
            ("2026-03-02T07:00:00Z", State::Provisioning),
            ("2026-03-02T07:05:00Z", State::Running),
            ("2026-03-02T09:35:17Z", State::Stopping),
            ("2026-03-02T09:36:00Z", State::Stopped),
            ("2026-03-20T00:00:00Z", State::Terminating),
            ("2026-03-20T00:10:00Z", State::Terminated),
        ],
    )
    .await;

    let users = app.get("ada", "/v1/costs/users?month=2026-03").await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    let list = users.body["users"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0],
        json!({
            "user": "alice", "email": "alice@atelier.test", "costCentre": "CC-ONCOLOGY",
            "runningSeconds": 7200, "total": "5.14", "budget": null, "thresholdsCrossed": [], "actual": null,
            "actualConverted": null, "overhead": null, "overheadConverted": null
        })
    );
    assert_eq!(list[1]["user"], "bob");
    assert_eq!(list[1]["costCentre"], "CC-CARDIOLOGY");
    // Running from 07:05:00 until the stop at 09:35:17: EC2 bills no compute while stopping.
    assert_eq!(list[1]["runningSeconds"], 9017);
    let users_total = cents(&users.str("total"));
    assert_eq!(users_total, list.iter().map(|u| cents(u["total"].as_str().unwrap())).sum::<i64>());

    let (status, headers, csv) = app.get_text("fiona", "/v1/costs/export.csv?month=2026-03").await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(headers["content-disposition"], "attachment; filename=\"atelier-costs-2026-03.csv\"");
    let table = rows(&csv, ',');
    assert_eq!(table[0], COLUMNS);
    assert_eq!(table.len(), 4, "three workspaces cost something in March");
    let total_column = COLUMNS.iter().position(|c| *c == "total_cost").unwrap();
    let csv_total: i64 = table[1..].iter().map(|r| cents(&r[total_column])).sum::<i64>();
    assert_eq!(csv_total, users_total, "the CSV's total_cost adds up to the users report");
    let short = table.iter().find(|r| r[7] == "m5.2xlarge").expect("alice's python workspace");
    assert_eq!(&short[..4], ["2026-03", "alice", "alice@atelier.test", "CC-ONCOLOGY"]);
    assert_eq!(&short[8..14], ["1.00", "3.50", "0.35", "0.06", "0.41", "EUR"]);
    assert_eq!(short[21], "estimate");

    // Admins may export too; the semicolon variant; a cost-centre filter.
    let (status, _, semicolon) = app.get_text("ada", "/v1/costs/export.csv?month=2026-03&separator=semicolon").await;
    assert_eq!(status, StatusCode::OK);
    let table = rows(&semicolon, ';');
    assert_eq!(table[0], COLUMNS);
    assert_eq!(table.len(), 4);
    let (_, _, cardiology) = app.get_text("fiona", "/v1/costs/export.csv?month=2026-03&costCentre=CC-CARDIOLOGY").await;
    let table = rows(&cardiology, ',');
    assert_eq!(table.len(), 2);
    assert_eq!(table[1][1], "bob");
}

#[tokio::test]
async fn reports_are_refused_to_whoever_may_not_read_them() {
    let app = spawn_app().await;
    alices_march(&app).await;
    for (user, path) in [
        ("alice", "/v1/costs/users?month=2026-03"),
        ("alice", "/v1/costs/export.csv?month=2026-03"),
        ("bob", "/v1/costs/export.csv?month=2026-03"),
        ("fiona", "/v1/costs/users?month=2026-03"),
    ] {
        let refused = app.get(user, path).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{user} {path}");
        assert_eq!(refused.body["type"], "/problems/forbidden");
    }
}

#[tokio::test]
async fn months_must_be_well_formed_and_begun() {
    let app = spawn_app().await;
    let next = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .first_of_month()
        .checked_add(jiff::Span::new().months(1))
        .unwrap();
    let future = format!("{:04}-{:02}", next.year(), next.month());
    for month in ["2026-13", "abc", "2026-1", "", future.as_str()] {
        for (user, route) in [("alice", "me"), ("ada", "users"), ("fiona", "export.csv")] {
            let refused = app.get(user, &format!("/v1/costs/{route}?month={month}")).await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{route} {month:?}: {}", refused.body);
            assert_eq!(refused.body["field"], "month");
        }
    }
    let unknown = app.get("alice", "/v1/costs/me?month=2026-03&currency=USD").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let missing = app.get("alice", "/v1/costs/me").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["field"], "month");
    let separator = app.get("fiona", "/v1/costs/export.csv?month=2026-03&separator=tab").await;
    assert_eq!(separator.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_workspace_launched_now_shows_in_this_month() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "python-r-standard").await;
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let month = format!("{:04}-{:02}", now.year(), now.month());
    let mine = app.get("alice", &format!("/v1/costs/me?month={month}")).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    assert_eq!(mine.body["workspaces"][0]["workspaceId"], id.as_str());
    assert_eq!(mine.body["workspaces"][0]["instanceType"], "m5.2xlarge");
    cents(mine.body["total"].as_str().unwrap());
}

#[tokio::test]
async fn a_closed_month_is_read_from_its_stored_lines_with_the_same_amounts() {
    let app = spawn_app().await;
    alices_march(&app).await;
    let at = |s: &str| -> jiff::Timestamp { s.parse().expect("an RFC 3339 instant") };
    let (status, _, open) = app.get_text("fiona", "/v1/costs/export.csv?month=2026-03").await;
    assert_eq!(status, StatusCode::OK, "{open}");
    let open_users = app.get("ada", "/v1/costs/users?month=2026-03").await;

    // Half an hour into April March may still get its last events; an hour and a half in,
    // the watch closes it: two workspaces cost something, two lines stored.
    let early = app.app.budget_run(at("2026-04-01T00:30:00Z")).await.expect("the watch runs");
    assert_eq!(early.closed, None, "{early:?}");
    let report = app.app.budget_run(at("2026-04-01T01:30:00Z")).await.expect("the watch runs");
    assert_eq!(report.closed, Some(2), "{report:?}");
    let again = app.app.budget_run(at("2026-04-01T01:35:00Z")).await.expect("the watch runs");
    assert_eq!(again.closed, None, "a month is closed once");

    // The export of the closed month: byte for byte the same, from one Query of its lines
    // (no history read), one GetItem telling it is closed and one of its stored actuals.
    app.aws_calls.reset();
    let (status, _, closed) = app.get_text("fiona", "/v1/costs/export.csv?month=2026-03").await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let calls = app.aws_calls.counts();
    assert_eq!(closed, open);
    assert_eq!(calls.get("DynamoDB.Query"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("DynamoDB.GetItem"), Some(&2), "{calls:?}");
    let closed_users = app.get("ada", "/v1/costs/users?month=2026-03").await;
    assert_eq!(closed_users.status, StatusCode::OK, "{}", closed_users.body);
    assert_eq!(closed_users.body["users"], open_users.body["users"]);
    assert_eq!(closed_users.body["total"], open_users.body["total"]);
    // Her own view reads her few histories as before, and agrees.
    let mine = app.get("alice", "/v1/costs/me?month=2026-03").await;
    assert_eq!(mine.body["total"], closed_users.body["total"]);
}

#[tokio::test]
async fn cost_centres_are_atelier_s_dated_records_and_a_closed_month_keeps_its_own() {
    let app = spawn_app().await;
    alices_march(&app).await;
    let at = |s: &str| -> jiff::Timestamp { s.parse().expect("an RFC 3339 instant") };
    // March closes with alice on the cost centre her workspaces recorded at creation.
    app.app.budget_run(at("2026-04-01T01:30:00Z")).await.expect("the watch closes March");
    let (_, _, closed) = app.get_text("fiona", "/v1/costs/export.csv?month=2026-03&costCentre=CC-ONCOLOGY").await;
    assert_eq!(rows(&closed, ',').len(), 3, "{closed}");

    // An admin moves her to CC-GENOMICS from this month on; a month that is over is refused.
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let this = format!("{:04}-{:02}", now.year(), now.month());
    let moved = app.put("ada", "/v1/cost-centres/alice", json!({ "costCentre": "CC-GENOMICS", "month": this })).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["changes"][0]["costCentre"], "CC-GENOMICS");
    assert_eq!(moved.body["changes"][0]["actor"], "ada");
    let past = app.put("ada", "/v1/cost-centres/alice", json!({ "costCentre": "CC-X", "month": "2026-03" })).await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", past.body);
    assert_eq!(past.body["field"], "month");
    for (body, field) in
        [(json!({ "costCentre": " " }), "costCentre"), (json!({ "costCentre": "CC", "month": "26-4" }), "month")]
    {
        let refused = app.put("ada", "/v1/cost-centres/alice", body).await;
        assert_eq!((refused.status, refused.body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)));
    }
    for path in ["/v1/cost-centres/nobody", &format!("/v1/cost-centres/{}", "a".repeat(129))] {
        let nobody = app.put("ada", path, json!({ "costCentre": "CC" })).await;
        assert_eq!(nobody.status, StatusCode::NOT_FOUND, "{}", nobody.body);
        assert_eq!(app.get("fiona", path).await.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(app.get("fiona", "/v1/cost-centres/alice").await.body["changes"].as_array().unwrap().len(), 1);

    // The closed month does not move; this month's usage goes to the new cost centre.
    let (_, _, again) = app.get_text("fiona", "/v1/costs/export.csv?month=2026-03").await;
    assert!(again.contains(",CC-ONCOLOGY,") && !again.contains("CC-GENOMICS"), "{again}");
    app.running_workspace("alice", "small-t3-large").await;
    let users = app.get("ada", &format!("/v1/costs/users?month={this}")).await;
    let alice = users.body["users"].as_array().unwrap().iter().find(|u| u["user"] == "alice").cloned().unwrap();
    assert_eq!(alice["costCentre"], "CC-GENOMICS", "{}", users.body);
}
