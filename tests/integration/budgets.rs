//! Budgets: set by admins, shown in the cost reports, crossed thresholds recorded once,
//! and `stop-at-100` enforced by the budget watch through the normal transitions.

use atelier_domain::{
    State,
    costs::{COLUMNS, MONTH_BOUNDARY, Month},
};
use atelier_tests::{TestApp, spawn_app};
use http::StatusCode;
use serde_json::json;

/// A workspace of `owner` RUNNING on `product` since `since` (created and started then).
async fn running_since(app: &TestApp, owner: &str, product: &str, since: jiff::Timestamp) -> String {
    app.write_history(
        owner,
        product,
        "m5.2xlarge",
        "Budget run",
        &[(since, State::Provisioning), (since, State::Running)],
    )
    .await
}

#[tokio::test]
async fn admins_set_budgets_and_the_default_applies_to_everyone_else() {
    let app = spawn_app().await;
    let fresh = app.get("ada", "/v1/budgets/alice").await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    assert_eq!(
        fresh.body,
        json!({ "user": "alice", "amount": null, "currency": "EUR", "thresholds": [80, 100], "policy": "notify",
                "inherited": true, "effective": null })
    );
    let default = app.get("fiona", "/v1/config/budget").await;
    assert_eq!(default.body, json!({ "amount": null, "currency": "EUR", "thresholds": [80, 100], "policy": "notify" }));

    let set = app
        .put("ada", "/v1/config/budget", json!({ "amount": "250", "thresholds": [50, 100], "policy": "notify" }))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body, json!({ "amount": "250.00", "currency": "EUR", "thresholds": [50, 100], "policy": "notify" }));
    let inherited = app.get("ada", "/v1/budgets/bob").await;
    assert_eq!(inherited.body["inherited"], true);
    assert_eq!(inherited.body["effective"], "250.00");
    assert_eq!(inherited.body["thresholds"], json!([50, 100]));

    let own = app
        .put(
            "ada",
            "/v1/budgets/alice",
            json!({ "amount": "300.00", "thresholds": [80, 100], "policy": "stop-at-100" }),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(
        own.body,
        json!({ "user": "alice", "amount": "300.00", "currency": "EUR", "thresholds": [80, 100], "policy": "stop-at-100",
                "inherited": false, "effective": "300.00" })
    );
    assert_eq!(app.get("ada", "/v1/budgets/alice").await.body, own.body, "stored as answered");
    // Replacing it is a conditional write on its version: a second PUT works too.
    let again = app.put("ada", "/v1/budgets/alice", json!({ "amount": "320.50" })).await;
    assert_eq!(again.body["effective"], "320.50");
    assert_eq!(again.body["policy"], "notify", "a PUT replaces the whole rule");

    // The reports show them: alice's own, bob the default's, nobody's a crossing yet.
    let month = this_month();
    let mine = app.get("alice", &format!("/v1/costs/me?month={month}")).await;
    assert_eq!(mine.body["budget"], "320.50");
    assert_eq!(mine.body["thresholdsCrossed"], json!([]));
    let bobs = app.get("bob", &format!("/v1/costs/me?month={month}")).await;
    assert_eq!(bobs.body["budget"], "250.00");

    // amount null removes alice's own budget: the default applies again.
    let removed = app.put("ada", "/v1/budgets/alice", json!({ "amount": null })).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(removed.body["amount"], json!(null));
    assert_eq!(removed.body["inherited"], true);
    assert_eq!(removed.body["effective"], "250.00");

    let unknown = app.get("ada", "/v1/budgets/nobody-here").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let unknown = app.put("ada", "/v1/budgets/nobody-here", json!({ "amount": "1" })).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn malformed_budgets_are_422_on_their_field_and_scientists_are_refused_first() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({ "amount": "-5" }), "amount"),
        (json!({ "amount": "12.345" }), "amount"),
        (json!({ "amount": 300 }), "amount"),
        (json!({ "amount": "abc" }), "amount"),
        (json!({ "amount": "10", "thresholds": [] }), "thresholds"),
        (json!({ "amount": "10", "thresholds": [100, 80] }), "thresholds"),
        (json!({ "amount": "10", "thresholds": [0] }), "thresholds"),
        (json!({ "amount": "10", "thresholds": ["80"] }), "thresholds"),
        (json!({ "amount": "10", "policy": "stop" }), "policy"),
        (json!({ "thresholds": [80, 100] }), "amount"),
        (json!({ "amount": null, "thresholds": null }), "thresholds"),
        (json!({ "amount": "10", "policy": null }), "policy"),
    ] {
        for path in ["/v1/budgets/alice", "/v1/config/budget"] {
            let refused = app.put("ada", path, body.clone()).await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {}", refused.body);
            assert_eq!(refused.body["field"], field, "{path} {body}");
            assert_eq!(refused.headers["content-type"], "application/problem+json");
        }
        let scientist = app.put("alice", "/v1/budgets/alice", body.clone()).await;
        assert_eq!(scientist.status, StatusCode::FORBIDDEN, "a scientist learns nothing from validation");
    }
    let unknown_field = app.put("ada", "/v1/budgets/alice", json!({ "amount": "1", "currency": "USD" })).await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
    let not_an_object = app.put("ada", "/v1/config/budget", json!([null, null])).await;
    assert_eq!(not_an_object.status, StatusCode::BAD_REQUEST, "{}", not_an_object.body);
    assert_eq!(app.get("ada", "/v1/budgets/alice").await.body["amount"], json!(null), "nothing was stored");
}

fn this_month() -> String {
    Month::containing(jiff::Timestamp::now(), &MONTH_BOUNDARY).to_string()
}

/// `hours` before `now`, but not before the month `now` falls in began.
fn hours_ago_this_month(now: jiff::Timestamp, hours: i64) -> jiff::Timestamp {
    let month_start = Month::containing(now, &MONTH_BOUNDARY).start(&MONTH_BOUNDARY).expect("in range");
    (now - jiff::SignedDuration::from_hours(hours)).max(month_start)
}

#[tokio::test]
async fn crossings_are_recorded_once_and_stop_at_100_stops_the_user_s_running_workspaces() {
    let app = spawn_app().await;
    // Running for ten hours at 0.35 (python-r-standard): 3.50 compute + a little storage.
    let now = jiff::Timestamp::now();
    let since = hours_ago_this_month(now, 10);
    let alices = running_since(&app, "alice", "python-r-standard", since).await;
    let bobs = running_since(&app, "bob", "python-r-standard", since).await;
    // A real instance for alice's, so that the stop reaches EC2 (moto).
    let instance = app.running_workspace("alice", "small-t3-large").await;
    assert_eq!(
        app.put("ada", "/v1/budgets/alice", json!({ "amount": "0.01", "policy": "stop-at-100" })).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.put("ada", "/v1/config/budget", json!({ "amount": "0.01", "thresholds": [50, 100] })).await.status,
        StatusCode::OK
    );

    let at = jiff::Timestamp::now();
    let report = app.app.budget_run(at).await.expect("the watch runs");
    assert!(report.failed.is_empty(), "{report:?}");
    let mut crossed = report.crossed.clone();
    crossed.sort();
    assert_eq!(crossed, ["alice@100", "alice@80", "bob@100", "bob@50"]);
    let mut stopped = report.stopped.clone();
    stopped.sort();
    let mut expected = vec![alices.clone(), instance.clone()];
    expected.sort();
    assert_eq!(stopped, expected, "alice's running workspaces, not bob's (notify)");
    assert_eq!(app.state("alice", &alices).await, "STOPPING");
    assert_eq!(app.state("alice", &instance).await, "STOPPING");
    assert_eq!(app.state("bob", &bobs).await, "RUNNING");
    let events = app.get("alice", &format!("/v1/workspaces/{instance}/events")).await;
    assert_eq!(events.body["items"][0]["actor"], "budget");
    assert_eq!(events.body["items"][0]["action"], "stop");
    assert!(events.body["items"][0]["reason"].as_str().unwrap().contains("monthly budget of 0.01 EUR reached"));

    // Once per (user, month, threshold): a second run records nothing and stops nothing.
    let again = app.app.budget_run(at + jiff::SignedDuration::from_secs(60)).await.expect("the watch runs");
    assert!(again.crossed.is_empty(), "{again:?}");
    assert!(again.stopped.is_empty(), "{again:?}");

    let month = this_month();
    let mine = app.get("alice", &format!("/v1/costs/me?month={month}")).await;
    assert_eq!(mine.body["budget"], "0.01");
    assert_eq!(mine.body["thresholdsCrossed"], json!([80, 100]));
    let users = app.get("ada", &format!("/v1/costs/users?month={month}")).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    let line =
        |user: &str| users.body["users"].as_array().unwrap().iter().find(|u| u["user"] == user).cloned().unwrap();
    assert_eq!(line("alice")["thresholdsCrossed"], json!([80, 100]));
    assert_eq!(line("alice")["budget"], "0.01");
    assert_eq!(line("bob")["thresholdsCrossed"], json!([50, 100]));
    assert_eq!(line("bob")["actual"], json!(null));
}

#[tokio::test]
async fn the_month_index_bounds_the_reports_and_agrees_with_the_unsealed_read() {
    let app = spawn_app().await;
    let now = jiff::Timestamp::now();
    let since = hours_ago_this_month(now, 3);
    running_since(&app, "alice", "python-r-standard", since).await;
    running_since(&app, "bob", "small-t3-large", since).await;
    let month = this_month();
    // Before the watch seals the month: read from the index plus by-state.
    let unsealed = app.get("ada", &format!("/v1/costs/users?month={month}")).await;
    assert_eq!(unsealed.status, StatusCode::OK, "{}", unsealed.body);
    let report = app.app.budget_run(now).await.expect("the watch runs");
    assert_eq!(report.indexed, Some(2), "{report:?}");
    let sealed = app.get("ada", &format!("/v1/costs/users?month={month}")).await;
    // Same instants are not guaranteed between two calls (the month runs until now), so
    // compare what does not move: users and their running seconds to within a minute.
    let users = |body: &serde_json::Value| -> Vec<String> {
        body["users"].as_array().unwrap().iter().map(|u| u["user"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(users(&sealed.body), users(&unsealed.body));
    assert_eq!(users(&sealed.body), ["alice", "bob"]);

    // The streamed export adds up to the users report, to the cent.
    let (status, headers, csv) = app.get_text("fiona", &format!("/v1/costs/export.csv?month={month}")).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let rows: Vec<Vec<&str>> = csv.split("\r\n").filter(|r| !r.is_empty()).map(|r| r.split(',').collect()).collect();
    assert_eq!(rows[0], COLUMNS);
    assert_eq!(rows.len(), 3);
}

/// Every message moto's SES recorded as sent from this stack's sender identity (moto's
/// `GET /moto-api/data.json`: `ses.Message`, with `source`, `subject`, `body` and
/// `destinations`).
async fn sent_mail(app: &TestApp) -> Vec<serde_json::Value> {
    let url = format!("{}/moto-api/data.json", atelier_tests::moto().endpoint());
    let text = reqwest::get(url).await.expect("moto answers").text().await.expect("a body");
    let data: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["source"] == app.seeded.notification_sender.as_str())
        .collect()
}

/// The addresses a recorded message went to.
fn to_addresses(message: &serde_json::Value) -> Vec<String> {
    message["destinations"]["ToAddresses"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// `POST /_local/budget/run` on the dev server's router: the watch's full pass at `time`.
async fn local_budget_run(app: &TestApp, time: jiff::Timestamp) -> (StatusCode, serde_json::Value) {
    use tower::ServiceExt;
    let event =
        json!({ "version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "time": time.to_string() });
    let request = http::Request::post("/_local/budget/run")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(event.to_string()))
        .expect("a request");
    let response = app.app.dev_router().oneshot(request).await.expect("an answer");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

/// Alice has run a python-r-standard machine for 10 hours this month, over the 0.01 EUR
/// budget an admin then gives her (`extra` adds to the budget's body: its policy, its
/// thresholds).
async fn alice_past_a_cent(app: &TestApp, extra: serde_json::Value) {
    running_since(app, "alice", "python-r-standard", hours_ago_this_month(jiff::Timestamp::now(), 10)).await;
    let mut budget = json!({ "amount": "0.01" });
    if let (Some(body), Some(extra)) = (budget.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let put = app.put("ada", "/v1/budgets/alice", budget).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
}

/// A STOPPED workspace of `user` with a real (moto) instance.
async fn stopped_workspace(app: &TestApp, user: &str) -> String {
    let id = app.running_workspace(user, "small-t3-large").await;
    assert_eq!(app.post(user, &format!("/v1/workspaces/{id}/stop"), None).await.status, StatusCode::ACCEPTED);
    app.sync().await;
    assert_eq!(app.state(user, &id).await, "STOPPED");
    id
}

#[tokio::test]
async fn past_a_stop_at_100_budget_a_start_and_a_create_are_422_on_budget_until_it_is_raised() {
    let app = spawn_app().await;
    let stopped = stopped_workspace(&app, "alice").await;
    alice_past_a_cent(&app, json!({ "policy": "stop-at-100" })).await;

    let refused = app.post("alice", &format!("/v1/workspaces/{stopped}/start"), None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert_eq!(refused.body["field"], "budget");
    let why = refused.str("detail");
    assert!(why.contains("monthly budget of 0.01 EUR"), "{why}");
    assert!(why.contains("policy is stop-at-100"), "{why}");
    assert!(why.contains("Europe/Paris"), "says until when in the organisation's zone: {why}");
    assert!(why.contains("or until an admin raises the budget"), "{why}");
    assert_eq!(app.state("alice", &stopped).await, "STOPPED", "nothing was claimed");
    // An admin starting it is refused too: the owner's budget decides.
    let by_admin = app.post("ada", &format!("/v1/workspaces/{stopped}/start"), None).await;
    assert_eq!(by_admin.status, StatusCode::UNPROCESSABLE_ENTITY);
    let create =
        app.post("alice", "/v1/workspaces", Some(json!({ "productId": "small-t3-large", "name": "More" }))).await;
    assert_eq!(create.status, StatusCode::UNPROCESSABLE_ENTITY, "a create starts a machine: {}", create.body);
    assert_eq!(create.body["field"], "budget");
    // Bob's budget is not alice's.
    let bobs = app.post("bob", "/v1/workspaces", Some(json!({ "productId": "small-t3-large", "name": "Bob's" }))).await;
    assert_eq!(bobs.status, StatusCode::ACCEPTED, "{}", bobs.body);

    let raised = app.put("ada", "/v1/budgets/alice", json!({ "amount": "1000.00", "policy": "stop-at-100" })).await;
    assert_eq!(raised.status, StatusCode::OK);
    let started = app.post("alice", &format!("/v1/workspaces/{stopped}/start"), None).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
}

#[tokio::test]
async fn the_scheduler_s_refused_start_is_explained_in_the_history_and_the_tick_goes_on() {
    let app = spawn_app().await;
    let alices = stopped_workspace(&app, "alice").await;
    let bobs = stopped_workspace(&app, "bob").await;
    // Running into whatever month the tick falls in, so alice has spent something then.
    alice_past_a_cent(&app, json!({ "policy": "stop-at-100" })).await;
    // The next opening of the default window (weekdays 09:00 Paris), two minutes in.
    let paris = jiff::tz::TimeZone::get("Europe/Paris").expect("zone");
    let mut day = jiff::Timestamp::now().to_zoned(paris.clone()).date();
    let opening = loop {
        day = day.tomorrow().expect("a day");
        if !matches!(day.weekday(), jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday) {
            break day.at(9, 2, 0, 0).to_zoned(paris.clone()).expect("09:02").timestamp();
        }
    };
    let report = app.scheduler_run(&opening.to_string()).await;
    assert_eq!(report.started, [bobs], "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert_eq!(report.refused[0].0, alices);
    assert_eq!(app.state("alice", &alices).await, "STOPPED");
    let events = app.get("alice", &format!("/v1/workspaces/{alices}/events")).await;
    let last = &events.body["items"][0];
    assert_eq!(last["actor"], "scheduler");
    assert_eq!(last["action"], "start");
    assert_eq!((last["from"].as_str(), last["to"].as_str()), (Some("STOPPED"), Some("STOPPED")));
    let reason = last["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("window opened, start refused: the monthly budget of 0.01 EUR"), "{reason}");
}

#[tokio::test]
async fn a_crossing_is_one_e_mail_per_recipient_in_moto_and_a_notification_in_the_api() {
    let app = spawn_app().await;
    alice_past_a_cent(&app, json!({ "thresholds": [100] })).await;
    let now = jiff::Timestamp::now();
    let (status, report) = local_budget_run(&app, now).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["crossed"], json!(["alice@100"]), "{report}");
    assert_eq!(report["full"], true);
    assert_eq!(report["notifications"]["sent"].as_array().map(Vec::len), Some(2), "{report}");

    let mail = sent_mail(&app).await;
    assert_eq!(mail.len(), 2, "one to alice, one to the admin: {mail:?}");
    let mut to: Vec<String> = mail.iter().flat_map(to_addresses).collect();
    to.sort();
    assert_eq!(to, ["ada@atelier.test", "alice@atelier.test"]);
    let alices = mail.iter().find(|m| to_addresses(m) == ["alice@atelier.test"]).expect("alice's");
    assert_eq!(alices["subject"], format!("Atelier: Your {} estimate reached 100 % of the budget", this_month()));

    // Once: the next passes send nothing more.
    let (_, again) = local_budget_run(&app, now + jiff::SignedDuration::from_secs(60)).await;
    assert_eq!(again["crossed"], json!([]), "{again}");
    app.app.scheduler_job(now + jiff::SignedDuration::from_secs(120)).await.expect("a tick");
    assert_eq!(sent_mail(&app).await.len(), 2);

    let mine = app.get("alice", "/v1/me/notifications").await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    let items = mine.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{}", mine.body);
    assert_eq!(items[0]["kind"], "budget-crossing");
    assert_eq!(items[0]["user"], "alice");
    assert_eq!(items[0]["month"], this_month());
    assert_eq!(items[0]["threshold"], 100);
    assert_eq!(items[0]["budget"], "0.01");
    assert_eq!(items[0]["currency"], "EUR");
    assert_eq!(items[0]["delivery"]["status"], "sent");
    assert_eq!(items[0]["delivery"]["attempts"], 1);
    assert_eq!(mine.body["nextToken"], json!(null));
    let adas = app.get("ada", "/v1/me/notifications").await;
    assert_eq!(adas.body["items"][0]["user"], "alice", "admins are told of everybody's: {}", adas.body);
    let bobs = app.get("bob", "/v1/me/notifications").await;
    assert_eq!(bobs.body["items"], json!([]));
    let paged = app.get("alice", "/v1/me/notifications?limit=0").await;
    assert_eq!(paged.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn changing_a_budget_re_arms_its_thresholds() {
    let app = spawn_app().await;
    alice_past_a_cent(&app, json!({ "thresholds": [100] })).await;
    let now = jiff::Timestamp::now();
    assert_eq!(app.app.budget_run(now).await.expect("run").crossed, ["alice@100"]);
    assert!(app.app.budget_run(now + jiff::SignedDuration::from_secs(30)).await.expect("run").crossed.is_empty());
    // A new budget (still crossed): its threshold is armed again, crossed and notified again.
    assert_eq!(
        app.put("ada", "/v1/budgets/alice", json!({ "amount": "0.02", "thresholds": [100] })).await.status,
        StatusCode::OK
    );
    let month = this_month();
    let before = app.get("alice", &format!("/v1/costs/me?month={month}")).await;
    assert_eq!(before.body["thresholdsCrossed"], json!([]), "the new budget's, not the old one's");
    let rearmed = app.app.budget_run(now + jiff::SignedDuration::from_secs(60)).await.expect("run");
    assert_eq!(rearmed.crossed, ["alice@100"], "{rearmed:?}");
    let after = app.get("alice", &format!("/v1/costs/me?month={month}")).await;
    assert_eq!(after.body["thresholdsCrossed"], json!([100]));
    let notified = app.get("alice", "/v1/me/notifications").await;
    let budgets: Vec<&str> =
        notified.body["items"].as_array().unwrap().iter().filter_map(|n| n["budget"].as_str()).collect();
    assert_eq!(budgets, ["0.02", "0.01"], "newest first");
    assert_eq!(sent_mail(&app).await.iter().filter(|m| to_addresses(m) == ["alice@atelier.test"]).count(), 2);
    // The default changing re-arms those who inherit it.
    assert_eq!(
        app.put("ada", "/v1/config/budget", json!({ "amount": "0.01", "thresholds": [100] })).await.status,
        StatusCode::OK
    );
    running_since(&app, "bob", "python-r-standard", hours_ago_this_month(now, 10)).await;
    assert_eq!(app.app.budget_run(now + jiff::SignedDuration::from_secs(90)).await.expect("run").crossed, ["bob@100"]);
    assert_eq!(
        app.put("ada", "/v1/config/budget", json!({ "amount": "0.03", "thresholds": [100] })).await.status,
        StatusCode::OK
    );
    assert_eq!(app.app.budget_run(now + jiff::SignedDuration::from_secs(120)).await.expect("run").crossed, ["bob@100"]);
}
