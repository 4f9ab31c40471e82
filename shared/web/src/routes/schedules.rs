//! `/v1/workspaces/{id}/schedule`, `/v1/workspaces/{id}/override` and `/v1/schedules`: a
//! workspace's schedule and its "keep running until" override, the organisation's
//! default schedule and a preview of any schedule (docs/adr/0005-scheduler.md). Served by
//! the workspaces-api function.

use atelier_domain::{
    DomainError,
    schedule::{MAX_PREVIEW, Schedule, Schedules, transitions},
};
use axum::{
    Json, Router,
    extract::{Path, State},
    routing::{get, post},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    ApiError, Authenticated,
    extract::JsonBody,
    state::Area,
    views::{TransitionView, WorkspaceView},
};

/// The schedule routes.
pub fn router(state: Area<Schedules>) -> Router {
    Router::new()
        .route("/v1/workspaces/{id}/schedule", get(get_schedule).put(put_schedule))
        .route("/v1/workspaces/{id}/override", post(set_override).delete(clear_override))
        .route("/v1/schedules/default", get(get_default_schedule).put(put_default_schedule))
        .route("/v1/schedules/preview", post(preview))
        .with_state(state)
}

async fn get_schedule(
    State(s): State<Area<Schedules>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(s.cases.schedule(&caller, &id).await?))
}

async fn put_schedule(
    State(s): State<Area<Schedules>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let schedule = Schedule::parse(body)?;
    let now = Timestamp::now();
    Ok(Json(WorkspaceView::at(s.cases.set_schedule(&caller, &id, schedule, now).await?, now)))
}

/// Body of `POST /v1/workspaces/{id}/override`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OverrideBody {
    until: String,
}

async fn set_override(
    State(s): State<Area<Schedules>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OverrideBody>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let until = parse_instant("until", &body.until)?;
    let now = Timestamp::now();
    Ok(Json(WorkspaceView::at(s.cases.set_override(&caller, &id, until, now).await?, now)))
}

async fn clear_override(
    State(s): State<Area<Schedules>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let now = Timestamp::now();
    Ok(Json(WorkspaceView::at(s.cases.clear_override(&caller, &id, now).await?, now)))
}

async fn get_default_schedule(
    State(s): State<Area<Schedules>>,
    Authenticated(_caller): Authenticated,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(s.cases.default_schedule().await?))
}

async fn put_default_schedule(
    State(s): State<Area<Schedules>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<Schedule>, ApiError> {
    if !caller.is_admin() {
        // Before validating the body: a non-admin learns nothing from it.
        return Err(DomainError::Forbidden("only admins may change the default schedule".into()).into());
    }
    let schedule = Schedule::parse(body)?;
    Ok(Json(s.cases.set_default_schedule(&caller, schedule).await?))
}

/// Body of `POST /v1/schedules/preview`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PreviewBody {
    schedule: serde_json::Value,
    from: String,
    count: i64,
}

/// `{"items":[{"at","to"}]}`.
#[derive(Serialize)]
struct PreviewView {
    items: Vec<TransitionView>,
}

async fn preview(
    Authenticated(_caller): Authenticated,
    JsonBody(body): JsonBody<PreviewBody>,
) -> Result<Json<PreviewView>, ApiError> {
    let schedule = Schedule::parse(body.schedule).map_err(|e| match e {
        DomainError::Unprocessable { field, message } if field != "schedule" => {
            DomainError::Unprocessable { field: format!("schedule.{field}"), message }
        }
        other => other,
    })?;
    let from = parse_instant("from", &body.from)?;
    let count = usize::try_from(body.count)
        .ok()
        .filter(|n| (1..=MAX_PREVIEW).contains(n))
        .ok_or_else(|| DomainError::unprocessable("count", format!("must be between 1 and {MAX_PREVIEW}")))?;
    let items = transitions(&schedule, from, count).into_iter().map(TransitionView::from).collect();
    Ok(Json(PreviewView { items }))
}

/// An RFC 3339 instant from a body field; `Unprocessable` naming `field` otherwise.
fn parse_instant(field: &str, value: &str) -> Result<Timestamp, DomainError> {
    value.parse().map_err(|_| {
        DomainError::unprocessable(
            field,
            format!("\"{value}\" is not an instant; expected RFC 3339 such as 2026-11-23T20:00:00+01:00"),
        )
    })
}
