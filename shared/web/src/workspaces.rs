//! `/v1/me`, `/v1/workspaces` and `/v1/schedules`: the workspaces-api function's routes.

use std::sync::Arc;

use atelier_domain::{
    Command, DomainError, Event, ProductId, Workspace, WorkspaceName,
    lifecycle::allowed_commands,
    ports::{Page, PageRequest},
    schedule::{Desired, MAX_PREVIEW, Override, Schedule, Transition, next_transition, transitions},
    service::{CreateWorkspace, ListScope, Workspaces},
};
use axum::{
    Json, Router,
    extract::{FromRef, Path, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    ApiError, Authenticated, JwtVerifier,
    extract::{JsonBody, QueryParams},
};

/// What the workspace routes run on.
#[derive(Clone)]
pub struct WorkspacesState {
    pub verifier: Arc<JwtVerifier>,
    pub workspaces: Workspaces,
    /// For `datasets` in `POST /v1/workspaces`.
    pub datasets: atelier_domain::datasets::Datasets,
}

impl FromRef<WorkspacesState> for Arc<JwtVerifier> {
    fn from_ref(state: &WorkspacesState) -> Self {
        state.verifier.clone()
    }
}

/// The routes of the workspaces-api function.
pub fn router(state: WorkspacesState) -> Router {
    Router::new()
        .route("/v1/me", get(me))
        .route("/v1/workspaces", get(list).post(create))
        .route("/v1/workspaces/{id}", get(get_one).delete(terminate))
        .route("/v1/workspaces/{id}/start", post(start))
        .route("/v1/workspaces/{id}/stop", post(stop))
        .route("/v1/workspaces/{id}/hibernate", post(hibernate))
        .route("/v1/workspaces/{id}/events", get(events))
        .route("/v1/workspaces/{id}/schedule", get(get_schedule).put(put_schedule))
        .route("/v1/workspaces/{id}/override", post(set_override).delete(clear_override))
        .route("/v1/schedules/default", get(get_default_schedule).put(put_default_schedule))
        .route("/v1/schedules/preview", post(preview))
        .with_state(state)
}

/// `GET /v1/me`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeView {
    sub: String,
    username: String,
    email: Option<String>,
    groups: Vec<String>,
    cost_centre: Option<String>,
}

async fn me(State(s): State<WorkspacesState>, Authenticated(caller): Authenticated) -> Result<Json<MeView>, ApiError> {
    let profile = s.workspaces.profile(&caller).await?;
    Ok(Json(MeView {
        sub: caller.sub,
        username: caller.username,
        email: profile.email,
        groups: caller.groups,
        cost_centre: profile.cost_centre,
    }))
}

/// A workspace as the API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView {
    id: String,
    name: String,
    owner: String,
    product_id: String,
    instance_type: String,
    state: atelier_domain::State,
    instance_id: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
    error: Option<String>,
    hibernation: bool,
    /// The commands the current state allows (what the portal offers).
    allowed_actions: Vec<Command>,
    /// The schedule, in its wire shape.
    schedule: Schedule,
    /// The "keep running until" override (`{"until": RFC 3339}`), or null.
    #[serde(rename = "override")]
    override_until: Option<Override>,
    /// The next change the scheduler will make, or null when there is none.
    next_transition: Option<TransitionView>,
    /// The ids of the datasets attached (mounted read-only under `/data`).
    datasets: Vec<String>,
}

/// A change of the desired state, as the API shows it: `{"at": RFC 3339, "to": "RUNNING"}`.
#[derive(Serialize)]
pub struct TransitionView {
    at: Timestamp,
    to: atelier_domain::State,
}

impl From<Transition> for TransitionView {
    fn from(t: Transition) -> Self {
        let to = match t.to {
            Desired::Running => atelier_domain::State::Running,
            Desired::Stopped => atelier_domain::State::Stopped,
        };
        Self { at: t.at, to }
    }
}

impl From<Workspace> for WorkspaceView {
    /// The view as of the wall clock.
    fn from(w: Workspace) -> Self {
        Self::at(w, Timestamp::now())
    }
}

impl WorkspaceView {
    /// The view as of `now` (which decides the next transition).
    pub fn at(w: Workspace, now: Timestamp) -> Self {
        Self {
            // A workspace that is gone (or never came up) has nothing scheduled.
            next_transition: (!matches!(w.state, atelier_domain::State::Terminated | atelier_domain::State::Failed))
                .then(|| next_transition(&w.schedule, now).map(TransitionView::from))
                .flatten(),
            override_until: w.schedule.override_until(),
            allowed_actions: allowed_commands(w.state)
                .into_iter()
                .filter(|c| *c != Command::Hibernate || w.hibernation)
                .collect(),
            id: w.id.to_string(),
            name: w.name.as_str().to_owned(),
            owner: w.owner.username,
            product_id: w.product_id.to_string(),
            instance_type: w.instance_type,
            state: w.state,
            instance_id: w.provisioned.instance_id,
            created_at: w.created_at,
            updated_at: w.updated_at,
            error: w.error,
            hibernation: w.hibernation,
            schedule: w.schedule,
            datasets: w.datasets.iter().map(ToString::to_string).collect(),
        }
    }
}

/// A page of a list, as every list route answers it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

impl<T> PageView<T> {
    /// Maps a domain page to its view.
    pub fn from_page<U>(page: Page<U>, f: impl FnMut(U) -> T) -> Self {
        Self { items: page.items.into_iter().map(f).collect(), next_token: page.next_token }
    }
}

/// Query of list routes: `?limit=&nextToken=`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PageQuery {
    limit: Option<u32>,
    next_token: Option<String>,
}

impl PageQuery {
    /// The page asked for (default 50, at most 100 items).
    pub fn page(self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=atelier_domain::ports::MAX_PAGE_SIZE).contains(&limit) {
            return Err(ApiError::BadRequest {
                field: Some("limit".into()),
                message: format!("limit: must be between 1 and {}", atelier_domain::ports::MAX_PAGE_SIZE),
            });
        }
        Ok(PageRequest { limit, token: self.next_token })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListQuery {
    all: Option<bool>,
    owner: Option<String>,
    limit: Option<u32>,
    next_token: Option<String>,
}

async fn list(
    State(s): State<WorkspacesState>,
    Authenticated(caller): Authenticated,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<PageView<WorkspaceView>>, ApiError> {
    let scope = match (q.all.unwrap_or(false), q.owner) {
        (true, Some(_)) => {
            return Err(ApiError::BadRequest {
                field: Some("owner".into()),
                message: "owner: use either all or owner".into(),
            });
        }
        (true, None) => ListScope::All,
        (false, Some(owner)) => ListScope::Owner(owner),
        (false, None) => ListScope::Own,
    };
    let page = PageQuery { limit: q.limit, next_token: q.next_token }.page()?;
    let page = s.workspaces.list(&caller, scope, &page).await?;
    Ok(Json(PageView::from_page(page, WorkspaceView::from)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateBody {
    product_id: String,
    name: String,
    /// Datasets to attach at launch: each must be readable by the caller, else 404 and
    /// nothing is created.
    #[serde(default)]
    datasets: Vec<String>,
}

async fn create(
    State(s): State<WorkspacesState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let request =
        CreateWorkspace { product_id: ProductId::parse(&body.product_id)?, name: WorkspaceName::parse(&body.name)? };
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(v.to_str().map_err(|_| ApiError::BadRequest {
            field: Some("Idempotency-Key".into()),
            message: "Idempotency-Key: must be visible ASCII".into(),
        })?),
        None => None,
    };
    let datasets = s.datasets.check_for_launch(&caller, &body.datasets).await?;
    let mut workspace = s.workspaces.create(&caller, request, key, Timestamp::now()).await?;
    // A workspace whose provisioning could not even start is FAILED: nothing to attach to.
    let failed = workspace.state == atelier_domain::State::Failed;
    for dataset in datasets.iter().filter(|_| !failed) {
        workspace = s.datasets.attach(&caller, workspace.id.as_str(), dataset.as_str(), Timestamp::now()).await?;
    }
    Ok((StatusCode::ACCEPTED, Json(workspace.into())))
}

async fn get_one(
    State(s): State<WorkspacesState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<WorkspaceView>, ApiError> {
    Ok(Json(s.workspaces.get(&caller, &id).await?.into()))
}

async fn command(
    s: WorkspacesState,
    caller: atelier_domain::Caller,
    id: String,
    command: Command,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let workspace = s.workspaces.command(&caller, &id, command, Timestamp::now()).await?;
    Ok((StatusCode::ACCEPTED, Json(workspace.into())))
}

async fn start(
    State(s): State<WorkspacesState>,
    Authenticated(c): Authenticated,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    command(s, c, id, Command::Start).await
}

async fn stop(
    State(s): State<WorkspacesState>,
    Authenticated(c): Authenticated,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    command(s, c, id, Command::Stop).await
}

async fn hibernate(
    State(s): State<WorkspacesState>,
    Authenticated(c): Authenticated,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    command(s, c, id, Command::Hibernate).await
}

async fn terminate(
    State(s): State<WorkspacesState>,
    Authenticated(c): Authenticated,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    command(s, c, id, Command::Terminate).await
}

async fn events(
    State(s): State<WorkspacesState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Json<PageView<Event>>, ApiError> {
    let page = s.workspaces.events(&caller, &id, &q.page()?).await?;
    Ok(Json(PageView::from_page(page, |e| e)))
}

async fn get_schedule(
    State(s): State<WorkspacesState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(s.workspaces.schedule(&caller, &id).await?))
}

async fn put_schedule(
    State(s): State<WorkspacesState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let schedule = Schedule::parse(body)?;
    let now = Timestamp::now();
    Ok(Json(WorkspaceView::at(s.workspaces.set_schedule(&caller, &id, schedule, now).await?, now)))
}

/// Body of `POST /v1/workspaces/{id}/override`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OverrideBody {
    until: String,
}

async fn set_override(
    State(s): State<WorkspacesState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OverrideBody>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let until = parse_instant("until", &body.until)?;
    let now = Timestamp::now();
    Ok(Json(WorkspaceView::at(s.workspaces.set_override(&caller, &id, until, now).await?, now)))
}

async fn clear_override(
    State(s): State<WorkspacesState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let now = Timestamp::now();
    Ok(Json(WorkspaceView::at(s.workspaces.clear_override(&caller, &id, now).await?, now)))
}

async fn get_default_schedule(
    State(s): State<WorkspacesState>,
    Authenticated(_caller): Authenticated,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(s.workspaces.default_schedule().await?))
}

async fn put_default_schedule(
    State(s): State<WorkspacesState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<Schedule>, ApiError> {
    if !caller.is_admin() {
        // Before validating the body: a non-admin learns nothing from it.
        return Err(DomainError::Forbidden("only admins may change the default schedule".into()).into());
    }
    let schedule = Schedule::parse(body)?;
    Ok(Json(s.workspaces.set_default_schedule(&caller, schedule).await?))
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
