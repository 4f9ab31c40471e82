//! `/v1/datasets`, `/v1/me/data-access` and `/v1/workspaces/{id}/datasets/{datasetId}`:
//! the dataset registry, attach/detach and the data-access trace
//! (docs/adr/0007-datasets.md). Served by the workspaces-api function.

use atelier_domain::{
    Caller, DomainError,
    datasets::{
        AccessEvent, AccessInterval, Classification, Dataset, DatasetInput, Datasets, Location, Readers, access,
    },
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    ApiError, Authenticated,
    extract::{JsonBody, QueryParams},
    routes::costs::CSV_CONTENT_TYPE,
    state::Area,
    views::{PageQuery, PageView, WorkspaceView},
};

/// The dataset routes.
pub fn router(state: Area<Datasets>) -> Router {
    Router::new()
        .route("/v1/datasets", get(list).post(create))
        .route("/v1/datasets/access.csv", get(export))
        .route("/v1/datasets/{id}", get(get_one).put(update).delete(remove))
        .route("/v1/datasets/{id}/access", get(access_report))
        .route("/v1/me/data-access", get(my_access))
        .route("/v1/workspaces/{id}/datasets/{datasetId}", post(attach).delete(detach))
        .with_state(state)
}

/// A dataset as the API shows it. `readers` only for admins; `readable` says whether the
/// caller may attach it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetView {
    id: String,
    name: String,
    description: String,
    location: String,
    classification: Classification,
    owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    readers: Option<Readers>,
    readable: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl DatasetView {
    fn of(d: Dataset, caller: &Caller) -> Self {
        Self {
            readable: d.readable_by(caller),
            readers: caller.is_admin().then(|| d.readers.clone()),
            id: d.id.to_string(),
            name: d.name,
            description: d.description,
            location: d.location.to_string(),
            classification: d.classification,
            owner: d.owner,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// Body of `POST /v1/datasets` (with `id`) and `PUT /v1/datasets/{id}` (`id` optional,
/// and equal to the path's when given).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DatasetBody {
    id: Option<String>,
    name: String,
    #[serde(default)]
    description: String,
    location: String,
    classification: Classification,
    owner: String,
    #[serde(default)]
    readers: ReadersBody,
}

/// `readers` as sent: lists, so that a name given twice is refused rather than merged.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReadersBody {
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    users: Vec<String>,
}

impl ReadersBody {
    fn readers(self) -> Result<Readers, DomainError> {
        let set = |field: &str, names: Vec<String>| {
            let mut out = std::collections::BTreeSet::new();
            for name in names {
                if let Some(twice) = out.replace(name) {
                    return Err(DomainError::invalid(field, format!("{twice:?} is listed twice")));
                }
            }
            Ok(out)
        };
        Ok(Readers { groups: set("readers.groups", self.groups)?, users: set("readers.users", self.users)? })
    }
}

impl DatasetBody {
    fn input(self) -> Result<(Option<String>, DatasetInput), DomainError> {
        let location = Location::parse(&self.location)?;
        Ok((
            self.id,
            DatasetInput {
                name: self.name,
                description: self.description,
                location,
                classification: self.classification,
                owner: self.owner,
                readers: self.readers.readers()?,
            },
        ))
    }
}

fn forbid_unless_admin(caller: &Caller, what: &str) -> Result<(), ApiError> {
    if caller.is_admin() { Ok(()) } else { Err(DomainError::Forbidden(format!("only admins may {what}")).into()) }
}

async fn list(
    State(s): State<Area<Datasets>>,
    Authenticated(caller): Authenticated,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Json<PageView<DatasetView>>, ApiError> {
    let page = s.cases.list(&caller, &q.page()?).await?;
    Ok(Json(PageView::from_page(page, |d| DatasetView::of(d, &caller))))
}

async fn create(
    State(s): State<Area<Datasets>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<DatasetBody>,
) -> Result<(StatusCode, Json<DatasetView>), ApiError> {
    // Before validating the body: a non-admin learns nothing from it.
    forbid_unless_admin(&caller, "register datasets")?;
    let (id, input) = body.input()?;
    let id = id.ok_or_else(|| DomainError::invalid("id", "is required"))?;
    let dataset = s.cases.create(&caller, &id, input, Timestamp::now()).await?;
    Ok((StatusCode::CREATED, Json(DatasetView::of(dataset, &caller))))
}

async fn get_one(
    State(s): State<Area<Datasets>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<DatasetView>, ApiError> {
    let dataset = s.cases.get(&caller, &id).await?;
    Ok(Json(DatasetView::of(dataset, &caller)))
}

async fn update(
    State(s): State<Area<Datasets>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<DatasetBody>,
) -> Result<Json<DatasetView>, ApiError> {
    // NotFound for what the caller may not see comes before Forbidden and validation.
    s.cases.get(&caller, &id).await?;
    forbid_unless_admin(&caller, "change datasets")?;
    let (body_id, input) = body.input()?;
    if body_id.is_some_and(|b| b != id) {
        return Err(DomainError::invalid("id", "must be the id in the path (ids cannot change)").into());
    }
    let dataset = s.cases.update(&caller, &id, input, Timestamp::now()).await?;
    Ok(Json(DatasetView::of(dataset, &caller)))
}

async fn remove(
    State(s): State<Area<Datasets>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.cases.delete(&caller, &id, Timestamp::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn attach(
    State(s): State<Area<Datasets>>,
    Authenticated(caller): Authenticated,
    Path((id, dataset_id)): Path<(String, String)>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let workspace = s.cases.attach(&caller, &id, &dataset_id, Timestamp::now()).await?;
    Ok(Json(workspace.into()))
}

async fn detach(
    State(s): State<Area<Datasets>>,
    Authenticated(caller): Authenticated,
    Path((id, dataset_id)): Path<(String, String)>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let workspace = s.cases.detach(&caller, &id, &dataset_id, Timestamp::now()).await?;
    Ok(Json(workspace.into()))
}

/// `GET /v1/datasets/{id}/access` and `GET /v1/me/data-access`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessView {
    #[serde(skip_serializing_if = "Option::is_none")]
    dataset_id: Option<String>,
    /// Who could read from which workspace, between which instants (`until` null: still attached).
    intervals: Vec<AccessInterval>,
    /// The trace: grants, revokes, attaches, detaches, oldest first.
    events: Vec<AccessEvent>,
}

async fn access_report(
    State(s): State<Area<Datasets>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<AccessView>, ApiError> {
    let (intervals, events) = s.cases.access(&caller, &id).await?;
    Ok(Json(AccessView { dataset_id: Some(id), intervals, events }))
}

async fn my_access(
    State(s): State<Area<Datasets>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<AccessView>, ApiError> {
    let (intervals, events) = s.cases.my_access(&caller).await?;
    Ok(Json(AccessView { dataset_id: None, intervals, events }))
}

/// Query of the compliance export: `?month=YYYY-MM`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthQuery {
    month: String,
}

async fn export(
    State(s): State<Area<Datasets>>,
    Authenticated(caller): Authenticated,
    QueryParams(q): QueryParams<MonthQuery>,
) -> Result<Response, ApiError> {
    let (month, events) = s.cases.month(&caller, &q.month, Timestamp::now()).await?;
    let month = month.to_string();
    let body = access::write_csv(&month, &events, Vec::new()).map_err(|e| {
        ApiError::Domain(DomainError::Upstream(atelier_domain::UpstreamError::new("web", "csv", false, e)))
    })?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CSV_CONTENT_TYPE));
    let disposition = format!("attachment; filename=\"atelier-data-access-{month}.csv\"");
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).expect("a month and ASCII make a valid header value"),
    );
    Ok(response)
}
