//! `/v1/cost-centres/{user}`: a person's dated cost centres, as Atelier records them
//! (docs/adr/0006-costs.md, "Cost centres"). Admins record a change from a month on;
//! admins and finance read the history. Served by the workspaces-api function.

use atelier_domain::costs::{CostCentreChange, CostCentres};
use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{ApiError, Authenticated, extract::JsonBody, state::Area};

/// The cost-centre routes.
pub fn router(state: Area<CostCentres>) -> Router {
    Router::new().route("/v1/cost-centres/{user}", get(history).put(assign)).with_state(state)
}

/// `GET /v1/cost-centres/{user}` and the answer of the `PUT`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HistoryBody {
    user: String,
    /// Oldest month first.
    changes: Vec<CostCentreChange>,
}

async fn history(
    State(s): State<Area<CostCentres>>,
    Authenticated(caller): Authenticated,
    Path(user): Path<String>,
) -> Result<Json<HistoryBody>, ApiError> {
    let changes = s.cases.history(&caller, &user).await?;
    Ok(Json(HistoryBody { user, changes }))
}

/// `PUT /v1/cost-centres/{user}`: `{"costCentre": "CC-ONCOLOGY", "month": "2026-04"}`
/// (`month` defaults to the current one).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AssignBody {
    cost_centre: String,
    month: Option<String>,
}

async fn assign(
    State(s): State<Area<CostCentres>>,
    Authenticated(caller): Authenticated,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<AssignBody>,
) -> Result<Json<HistoryBody>, ApiError> {
    let changes = s.cases.assign(&caller, &user, &body.cost_centre, body.month.as_deref(), Timestamp::now()).await?;
    Ok(Json(HistoryBody { user, changes }))
}
