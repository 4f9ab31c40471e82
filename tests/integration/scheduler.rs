//! The working-window scheduler and the schedule routes, against the local AWS server.
//!
//! Scheduler runs use fixed instants around Monday 2026-11-23 (Europe/Paris is UTC+1 then:
//! the default window closes at 17:00Z and opens at 08:00Z). Each test has its own table,
//! so its runs go forward in time from a baseline run of its own.

use atelier_app::Overrides;
use atelier_domain::{Caller, testing::Hooked};
use atelier_tests::{TestApp, spawn_app};
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Monday 17:30 Paris: inside the window, half an hour before it closes.
const MON_1730: &str = "2026-11-23T16:30:00Z";
/// Monday 18:05 Paris: just after the window closed.
const MON_1805: &str = "2026-11-23T17:05:00Z";
/// Monday 20:05 Paris.
const MON_2005: &str = "2026-11-23T19:05:00Z";
/// Tuesday 08:30 Paris: before the window opens.
const TUE_0830: &str = "2026-11-24T07:30:00Z";
/// Tuesday 09:05 Paris: just after the window opened.
const TUE_0905: &str = "2026-11-24T08:05:00Z";
/// Wednesday 09:05 Paris.
const WED_0905: &str = "2026-11-25T08:05:00Z";

fn alice() -> Caller {
    Caller { sub: "sub-alice".into(), username: "alice".into(), groups: vec!["scientists".into()] }
}

fn schedule(extra: Value) -> Value {
    let mut body = json!({
        "timezone": "Europe/Paris",
        "windows": [{ "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00" }],
        "holidays": null,
        "outside": "stop",
        "enabled": true
    });
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    body
}

/// The history of `id`, newest first.
async fn events(app: &TestApp, id: &str) -> Vec<Value> {
    app.get("alice", &format!("/v1/workspaces/{id}/events?limit=100")).await.body["items"]
        .as_array()
        .expect("a list of events")
        .clone()
}

#[tokio::test]
async fn the_window_closing_stops_and_the_next_opening_starts_again() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let view = app.get("alice", &format!("/v1/workspaces/{id}")).await.body;
    assert_eq!(view["schedule"], schedule(json!({})), "new workspaces get the default schedule");
    assert_eq!(view["override"], Value::Null);
    assert!(view["nextTransition"]["at"].is_string(), "{view}");

    let baseline = app.scheduler_run(MON_1730).await;
    assert!(baseline.started.is_empty() && baseline.stopped.is_empty(), "{baseline:?}");
    assert_eq!(baseline.skipped, 1);

    let closed = app.scheduler_run(MON_1805).await;
    assert_eq!(closed.stopped, std::slice::from_ref(&id));
    assert_eq!(app.state("alice", &id).await, "STOPPING");
    let history = events(&app, &id).await;
    let stop = history.iter().find(|e| e["actor"] == "scheduler").expect("a scheduler event");
    assert_eq!(stop["action"], "stop");
    assert_eq!(stop["reason"], "window closed");
    app.sync().await;
    assert_eq!(app.state("alice", &id).await, "STOPPED");

    let opened = app.scheduler_run(TUE_0905).await;
    assert_eq!(opened.started, std::slice::from_ref(&id));
    app.sync().await;
    assert_eq!(app.state("alice", &id).await, "RUNNING");
}

#[tokio::test]
async fn outside_hibernate_hibernates_at_window_close() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let put =
        app.put("alice", &format!("/v1/workspaces/{id}/schedule"), schedule(json!({"outside": "hibernate"}))).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["schedule"]["outside"], "hibernate");
    assert_eq!(put.body["state"], "RUNNING");
    let history = events(&app, &id).await;
    assert_eq!(history[0]["action"], "schedule");
    assert_eq!((&history[0]["from"], &history[0]["to"]), (&json!("RUNNING"), &json!("RUNNING")));

    app.scheduler_run(MON_1730).await;
    let closed = app.scheduler_run(MON_1805).await;
    assert_eq!(closed.hibernated, std::slice::from_ref(&id));
    assert!(closed.stopped.is_empty());
    app.sync().await;
    assert_eq!(app.state("alice", &id).await, "HIBERNATED");
}

#[tokio::test]
async fn an_override_keeps_the_workspace_running_until_it_ends() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    // Set at a chosen "now" (the HTTP route uses the wall clock).
    let now = MON_1730.parse().unwrap();
    let until = "2026-11-23T19:00:00Z".parse().unwrap();
    app.app.root.schedules().set_override(&alice(), &id, until, now).await.expect("the override is accepted");
    let view = app.get("alice", &format!("/v1/workspaces/{id}")).await.body;
    assert_eq!(view["override"], json!({ "until": "2026-11-23T19:00:00Z" }));

    app.scheduler_run(MON_1730).await;
    let at_close = app.scheduler_run(MON_1805).await;
    assert!(at_close.stopped.is_empty(), "{at_close:?}");
    assert_eq!(app.state("alice", &id).await, "RUNNING");

    let after = app.scheduler_run(MON_2005).await;
    assert_eq!(after.stopped, std::slice::from_ref(&id));
}

#[tokio::test]
async fn no_window_opens_on_a_holiday() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let put =
        app.put("alice", &format!("/v1/workspaces/{id}/schedule"), schedule(json!({"holidays": ["2026-11-24"]}))).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    app.post("alice", &format!("/v1/workspaces/{id}/stop"), None).await;
    app.sync().await;

    app.scheduler_run(TUE_0830).await;
    let holiday = app.scheduler_run(TUE_0905).await;
    assert!(holiday.started.is_empty(), "{holiday:?}");
    assert_eq!(app.state("alice", &id).await, "STOPPED");

    let wednesday = app.scheduler_run(WED_0905).await;
    assert_eq!(wednesday.started, [id]);
}

#[tokio::test]
async fn replaying_a_run_changes_nothing() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    app.scheduler_run(MON_1730).await;
    assert_eq!(app.scheduler_run(MON_1805).await.stopped, std::slice::from_ref(&id));
    let before = app.get("alice", &format!("/v1/workspaces/{id}")).await.body;
    let history = events(&app, &id).await.len();

    let replay = app.scheduler_run(MON_1805).await;
    assert!(replay.started.is_empty() && replay.stopped.is_empty() && replay.hibernated.is_empty(), "{replay:?}");
    // An older instant replayed late changes nothing either.
    let late = app.scheduler_run(MON_1730).await;
    assert!(late.stopped.is_empty(), "{late:?}");
    assert_eq!(app.get("alice", &format!("/v1/workspaces/{id}")).await.body, before);
    assert_eq!(events(&app, &id).await.len(), history);
}

#[tokio::test]
async fn a_user_who_stopped_early_is_not_restarted() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    app.post("alice", &format!("/v1/workspaces/{id}/stop"), None).await;
    app.sync().await;
    // Monday mid-morning: the window is open, but nothing opened since the last run.
    app.scheduler_run("2026-11-23T09:30:00Z").await;
    let run = app.scheduler_run("2026-11-23T09:35:00Z").await;
    assert!(run.started.is_empty(), "{run:?}");
    assert_eq!(run.skipped, 1);
    assert_eq!(app.state("alice", &id).await, "STOPPED");
    // And the window closing does not touch a stopped machine.
    let closed = app.scheduler_run(MON_1805).await;
    assert!(closed.stopped.is_empty() && closed.started.is_empty(), "{closed:?}");
}

#[tokio::test]
async fn bad_schedules_name_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let path = format!("/v1/workspaces/{id}/schedule");
    let before = events(&app, &id).await.len();
    let overlapping = json!({"windows": [
        { "days": ["mon"], "start": "09:00", "end": "12:00" },
        { "days": ["mon"], "start": "11:00", "end": "14:00" }
    ]});
    for (body, field) in [
        (schedule(json!({"timezone": "Europe/Atlantis"})), "timezone"),
        (schedule(overlapping), "windows"),
        (schedule(json!({"windows": [{ "days": ["mon"], "start": "25:00", "end": "18:00" }]})), "windows[0].start"),
    ] {
        let response = app.put("alice", &path, body.clone()).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", response.body);
        assert_eq!(response.body["field"], field, "{}", response.body);
    }
    let memory = app.create_workspace("alice", "memory-r5-8xlarge", "Big").await;
    let response =
        app.put("alice", &format!("/v1/workspaces/{memory}/schedule"), schedule(json!({"outside": "hibernate"}))).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", response.body);
    assert_eq!(response.body["field"], "outside");
    assert_eq!(app.get("alice", &format!("/v1/workspaces/{memory}/schedule")).await.body["outside"], "stop");

    assert_eq!(app.get("alice", &path).await.body, schedule(json!({})));
    assert_eq!(events(&app, &id).await.len(), before, "nothing was written");
}

#[tokio::test]
async fn overrides_are_bounded_and_removable() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let path = format!("/v1/workspaces/{id}/override");
    let now = jiff::Timestamp::now();
    for until in [now - jiff::SignedDuration::from_hours(1), now + jiff::SignedDuration::from_hours(25)] {
        let response = app.post("alice", &path, Some(json!({ "until": until.to_string() }))).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", response.body);
        assert_eq!(response.body["field"], "until");
    }
    let response = app.post("alice", &path, Some(json!({ "until": "tonight" }))).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.body["field"], "until");

    let until = now + jiff::SignedDuration::from_hours(3);
    let set = app.post("alice", &path, Some(json!({ "until": until.to_string() }))).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["override"]["until"], until.to_string());
    assert_eq!(events(&app, &id).await[0]["action"], "override");

    let cleared = app.delete("alice", &path).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["override"], Value::Null);
    assert_eq!(cleared.body["state"], "RUNNING");
}

#[tokio::test]
async fn schedule_routes_are_authorized_like_the_workspace() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let until = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    let schedule_path = format!("/v1/workspaces/{id}/schedule");
    let override_path = format!("/v1/workspaces/{id}/override");
    for response in [
        app.get("bob", &schedule_path).await,
        app.put("bob", &schedule_path, schedule(json!({}))).await,
        app.post("bob", &override_path, Some(json!({ "until": until }))).await,
        app.delete("bob", &override_path).await,
    ] {
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{}", response.body);
        assert_eq!(response.body["detail"], "workspace not found");
    }
    assert_eq!(app.get("ada", &schedule_path).await.status, StatusCode::OK);

    let weekend = schedule(json!({"windows": [{ "days": ["sat"], "start": "10:00", "end": "12:00" }]}));
    let refused = app.put("fiona", "/v1/schedules/default", weekend.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let anonymous = app.call(http::Method::GET, "/v1/schedules/default", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("fiona", "/v1/schedules/default").await.body, schedule(json!({})));

    let changed = app.put("ada", "/v1/schedules/default", weekend.clone()).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(app.get("bob", "/v1/schedules/default").await.body, weekend);
    let new = app.create_workspace("bob", "small-t3-large", "Weekend").await;
    assert_eq!(app.get("bob", &format!("/v1/workspaces/{new}/schedule")).await.body, weekend);
    assert_eq!(app.get("alice", &schedule_path).await.body, schedule(json!({})), "existing ones keep theirs");
}

#[tokio::test]
async fn the_preview_lists_alternating_transitions() {
    let app = spawn_app().await;
    let body = |count: i64| json!({ "schedule": schedule(json!({})), "from": "2026-11-23T06:00:00Z", "count": count });
    let preview = app.post("bob", "/v1/schedules/preview", Some(body(4))).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!(
        preview.body,
        json!({ "items": [
            { "at": "2026-11-23T08:00:00Z", "to": "RUNNING" },
            { "at": "2026-11-23T17:00:00Z", "to": "STOPPED" },
            { "at": "2026-11-24T08:00:00Z", "to": "RUNNING" },
            { "at": "2026-11-24T17:00:00Z", "to": "STOPPED" },
        ]})
    );
    for count in [0, 101] {
        let refused = app.post("bob", "/v1/schedules/preview", Some(body(count))).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{count}");
        assert_eq!(refused.body["field"], "count");
    }
    let bad_zone =
        json!({ "schedule": schedule(json!({"timezone": "Mars/Base"})), "from": "2026-11-23T06:00:00Z", "count": 2 });
    let refused = app.post("bob", "/v1/schedules/preview", Some(bad_zone)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["field"], "schedule.timezone");
}

#[tokio::test]
async fn the_local_scheduler_route_replays_an_event_as_the_function_does_and_only_exists_locally() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let call = |router: axum::Router, event: Value| async move {
        let request = Request::post("/_local/scheduler/run")
            .header("content-type", "application/json")
            .body(Body::from(event.to_string()))
            .expect("a request");
        let response = router.oneshot(request).await.expect("an answer");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
        (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
    };
    let event =
        |time: &str| json!({ "version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "time": time });

    let (status, _) = call(app.router.clone(), event(MON_1730)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the API router has no local routes");

    let dev = app.app.dev_router();
    let (status, report) = call(dev.clone(), event(MON_1730)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (_, report) = call(dev.clone(), event(MON_1805)).await;
    // What the scheduler function runs: the tick, then the budget watch.
    assert_eq!(
        report["scheduler"],
        json!({ "started": [], "stopped": [id], "hibernated": [], "skipped": 0, "failed": [], "refused": [] })
    );
    assert_eq!(report["budget"]["month"], "2026-11", "{report}");
    let (status, problem) = call(dev, json!({ "detail-type": "Scheduled Event" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["field"], "time");
}

#[tokio::test]
async fn a_terminated_workspace_has_no_schedule_to_change() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    app.delete("alice", &format!("/v1/workspaces/{id}")).await;
    app.sync().await;
    let terminated = app.get("alice", &format!("/v1/workspaces/{id}")).await;
    assert_eq!(terminated.str("state"), "TERMINATED");
    assert_eq!(terminated.body["nextTransition"], json!(null));
    let response = app.put("alice", &format!("/v1/workspaces/{id}/schedule"), schedule(json!({}))).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", response.body);
    assert_eq!(response.str("field"), "schedule");
}

#[tokio::test]
async fn a_schedule_edit_that_loses_the_race_is_reapplied_not_refused() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    // Another writer changes the workspace just before the edit's first conditional write,
    // as state-sync does when it settles a workspace while its owner edits the schedule.
    let store = std::sync::Arc::new(Hooked::around(app.app.table().clone()));
    store.another_writer_wins();
    let schedules = app.app.with_overrides(Overrides { workspace_store: Some(store.clone()), ..Overrides::default() });
    let workspaces = schedules.root.schedules();
    let disabled: atelier_domain::schedule::Schedule =
        atelier_domain::schedule::Schedule::parse(schedule(json!({ "enabled": false }))).unwrap();
    let edited = workspaces.set_schedule(&alice(), &id, disabled, jiff::Timestamp::now()).await.unwrap();
    assert!(!store.another_writer_pending(), "the other writer did win the first write");
    assert!(!edited.schedule.enabled());
    let stored = app.get("alice", &format!("/v1/workspaces/{id}")).await;
    assert_eq!(stored.body["schedule"]["enabled"], json!(false), "the edit survived the race");
}
