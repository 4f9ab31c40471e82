//! `/v1/me` and `/v1/workspaces`: who is calling, and their workspaces (create, list,
//! read, start, stop, hibernate, terminate, history). Served by the workspaces-api function.

use atelier_domain::{
    Caller, Command, Event, ProductId, State as WorkspaceState, WorkspaceName,
    datasets::Datasets,
    workspaces::{CreateWorkspace, ListScope, Workspaces},
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    ApiError, Authenticated,
    extract::{JsonBody, QueryParams},
    state::Area,
    views::{PageQuery, PageView, WorkspaceView},
};

/// What the workspace routes run on: the workspace use cases, and the dataset ones for
/// the datasets a new workspace starts with.
#[derive(Clone)]
pub struct WorkspaceCases {
    /// Everything under `/v1/me` and `/v1/workspaces`.
    pub workspaces: Workspaces,
    /// Checks a create's `datasets` before anything is written, then attaches them.
    pub datasets: Datasets,
}

/// The workspace routes.
pub fn router(state: Area<WorkspaceCases>) -> Router {
    Router::new()
        .route("/v1/me", get(me))
        .route("/v1/workspaces", get(list).post(create))
        .route("/v1/workspaces/{id}", get(get_one).delete(terminate))
        .route("/v1/workspaces/{id}/start", post(start))
        .route("/v1/workspaces/{id}/stop", post(stop))
        .route("/v1/workspaces/{id}/hibernate", post(hibernate))
        .route("/v1/workspaces/{id}/events", get(events))
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

async fn me(
    State(s): State<Area<WorkspaceCases>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<MeView>, ApiError> {
    let profile = s.cases.workspaces.profile(&caller).await?;
    Ok(Json(MeView {
        sub: caller.sub,
        username: caller.username,
        email: profile.email,
        groups: caller.groups,
        cost_centre: profile.cost_centre,
    }))
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
    State(s): State<Area<WorkspaceCases>>,
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
    let page = s.cases.workspaces.list(&caller, scope, &page).await?;
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
    State(s): State<Area<WorkspaceCases>>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let request = CreateWorkspace {
        product_id: ProductId::parse(&body.product_id)?,
        name: WorkspaceName::parse(&body.name)?,
        datasets: body.datasets.clone(),
    };
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(v.to_str().map_err(|_| ApiError::BadRequest {
            field: Some("Idempotency-Key".into()),
            message: "Idempotency-Key: must be visible ASCII".into(),
        })?),
        None => None,
    };
    let datasets = s.cases.datasets.check_for_launch(&caller, &body.datasets).await?;
    let mut workspace = s.cases.workspaces.create(&caller, request, key, Timestamp::now()).await?;
    // A workspace whose provisioning could not even start is FAILED: nothing to attach to.
    let failed = workspace.state == WorkspaceState::Failed;
    for dataset in datasets.iter().filter(|_| !failed) {
        workspace = s.cases.datasets.attach(&caller, workspace.id.as_str(), dataset.as_str(), Timestamp::now()).await?;
    }
    Ok((StatusCode::ACCEPTED, Json(workspace.into())))
}

async fn get_one(
    State(s): State<Area<WorkspaceCases>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<WorkspaceView>, ApiError> {
    Ok(Json(s.cases.workspaces.get(&caller, &id).await?.into()))
}

async fn command(
    s: Area<WorkspaceCases>,
    caller: Caller,
    id: String,
    command: Command,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let workspace = s.cases.workspaces.command(&caller, &id, command, Timestamp::now()).await?;
    Ok((StatusCode::ACCEPTED, Json(workspace.into())))
}

async fn start(
    State(s): State<Area<WorkspaceCases>>,
    Authenticated(c): Authenticated,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    command(s, c, id, Command::Start).await
}

async fn stop(
    State(s): State<Area<WorkspaceCases>>,
    Authenticated(c): Authenticated,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    command(s, c, id, Command::Stop).await
}

async fn hibernate(
    State(s): State<Area<WorkspaceCases>>,
    Authenticated(c): Authenticated,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    command(s, c, id, Command::Hibernate).await
}

async fn terminate(
    State(s): State<Area<WorkspaceCases>>,
    Authenticated(c): Authenticated,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    command(s, c, id, Command::Terminate).await
}

async fn events(
    State(s): State<Area<WorkspaceCases>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Json<PageView<Event>>, ApiError> {
    let page = s.cases.workspaces.events(&caller, &id, &q.page()?).await?;
    Ok(Json(PageView::from_page(page, |e| e)))
}
