//! `/v1/workspaces/{id}/apps` and `/v1/workspaces/{id}/break-glass`: the apps a workspace
//! serves through the gateway, and an admin's audited access to them (docs/adr/0009-gateway.md).
//! Served by the workspaces-api function.

use atelier_domain::apps::{AppLink, Apps, BreakGlass};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{ApiError, Authenticated, extract::JsonBody, state::Area};

/// The app routes.
pub fn router(state: Area<Apps>) -> Router {
    Router::new()
        .route("/v1/workspaces/{id}/apps", get(list))
        .route("/v1/workspaces/{id}/break-glass", post(break_glass))
        .with_state(state)
}

/// One app of a workspace.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppView {
    app: String,
    url: String,
    ready: bool,
}

/// `{"items": [...]}`, in the order the product declares its apps.
#[derive(Serialize)]
struct AppsView {
    items: Vec<AppView>,
}

impl From<AppLink> for AppView {
    fn from(link: AppLink) -> Self {
        Self { app: link.app.to_string(), url: link.url, ready: link.ready }
    }
}

async fn list(
    State(s): State<Area<Apps>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<AppsView>, ApiError> {
    let links = s.cases.list(&caller, &id).await?;
    Ok(Json(AppsView { items: links.into_iter().map(AppView::from).collect() }))
}

/// Body of `POST /v1/workspaces/{id}/break-glass`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakGlassBody {
    reason: String,
}

/// A granted break-glass access.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BreakGlassView {
    workspace_id: String,
    username: String,
    reason: String,
    granted_at: Timestamp,
    expires_at: Timestamp,
}

impl From<BreakGlass> for BreakGlassView {
    fn from(g: BreakGlass) -> Self {
        Self {
            workspace_id: g.workspace_id.to_string(),
            username: g.username,
            reason: g.reason,
            granted_at: g.granted_at,
            expires_at: g.expires_at,
        }
    }
}

async fn break_glass(
    State(s): State<Area<Apps>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<BreakGlassBody>,
) -> Result<(StatusCode, Json<BreakGlassView>), ApiError> {
    let grant = s.cases.break_glass(&caller, &id, &body.reason, Timestamp::now()).await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}
