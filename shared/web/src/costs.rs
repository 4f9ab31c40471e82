//! `/v1/costs`: estimated costs, rebuilt from the workspace event history
//! (docs/adr/0006-costs.md). Served by the workspaces-api function.

use std::sync::Arc;

use atelier_domain::{
    DomainError,
    costs::{CostReport, Costs, CsvWriter, Separator, UserCost, WorkspaceCost, service::whole_seconds},
};
use axum::{
    Json, Router,
    extract::{FromRef, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{ApiError, Authenticated, JwtVerifier, extract::QueryParams};

/// Media type of the export.
pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// What the cost routes run on.
#[derive(Clone)]
pub struct CostsState {
    pub verifier: Arc<JwtVerifier>,
    pub costs: Costs,
}

impl FromRef<CostsState> for Arc<JwtVerifier> {
    fn from_ref(state: &CostsState) -> Self {
        state.verifier.clone()
    }
}

/// The cost routes.
pub fn router(state: CostsState) -> Router {
    Router::new()
        .route("/v1/costs/me", get(me))
        .route("/v1/costs/users", get(users))
        .route("/v1/costs/export.csv", get(export))
        .with_state(state)
}

/// An amount as the API shows it: a decimal string with exactly two places.
fn amount(value: Decimal) -> String {
    let mut value = value;
    value.rescale(2);
    value.to_string()
}

/// Query of the JSON reports: `?month=YYYY-MM`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthQuery {
    month: String,
}

/// `GET /v1/costs/me`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MyCostsView {
    month: String,
    currency: String,
    total: String,
    /// The caller's budget: phase 2.
    budget: Option<String>,
    workspaces: Vec<WorkspaceCostView>,
}

/// One workspace's line of `GET /v1/costs/me`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WorkspaceCostView {
    workspace_id: String,
    name: String,
    instance_type: String,
    running_seconds: u64,
    stopped_seconds: u64,
    compute: String,
    storage: String,
    total: String,
    /// The amount AWS actually billed (Cost Explorer): phase 2.
    actual: Option<String>,
}

impl From<&WorkspaceCost> for WorkspaceCostView {
    fn from(l: &WorkspaceCost) -> Self {
        Self {
            workspace_id: l.info.workspace_id.to_string(),
            name: l.info.workspace_name.clone(),
            instance_type: l.info.instance_type.clone(),
            running_seconds: whole_seconds(l.running_seconds),
            stopped_seconds: whole_seconds(l.stopped_seconds),
            compute: amount(l.compute),
            storage: amount(l.storage),
            total: amount(l.total),
            actual: None,
        }
    }
}

async fn me(
    State(s): State<CostsState>,
    Authenticated(caller): Authenticated,
    QueryParams(q): QueryParams<MonthQuery>,
) -> Result<Json<MyCostsView>, ApiError> {
    let report = s.costs.my_costs(&caller, &q.month, Timestamp::now()).await?;
    Ok(Json(MyCostsView {
        month: report.month.to_string(),
        currency: report.currency.clone(),
        total: amount(report.total),
        budget: None,
        workspaces: report.lines.iter().map(WorkspaceCostView::from).collect(),
    }))
}

/// `GET /v1/costs/users`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsersView {
    month: String,
    currency: String,
    total: String,
    users: Vec<UserCostView>,
}

/// One user's line of `GET /v1/costs/users`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserCostView {
    user: String,
    email: String,
    cost_centre: Option<String>,
    running_seconds: u64,
    total: String,
    /// Phase 2.
    budget: Option<String>,
    /// Phase 2.
    actual: Option<String>,
}

impl From<UserCost> for UserCostView {
    fn from(u: UserCost) -> Self {
        Self {
            user: u.user,
            email: u.email,
            cost_centre: u.cost_centre,
            running_seconds: whole_seconds(u.running_seconds),
            total: amount(u.total),
            budget: None,
            actual: None,
        }
    }
}

async fn users(
    State(s): State<CostsState>,
    Authenticated(caller): Authenticated,
    QueryParams(q): QueryParams<MonthQuery>,
) -> Result<Json<UsersView>, ApiError> {
    let report = s.costs.users_report(&caller, &q.month, Timestamp::now()).await?;
    Ok(Json(UsersView {
        month: report.month.to_string(),
        currency: report.currency.clone(),
        total: amount(report.total),
        users: report.by_user().into_iter().map(UserCostView::from).collect(),
    }))
}

/// `?separator=` of the export.
#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "lowercase")]
enum SeparatorParam {
    #[default]
    Comma,
    Semicolon,
}

/// Query of the export: `?month=YYYY-MM[&costCentre=][&separator=comma|semicolon]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExportQuery {
    month: String,
    cost_centre: Option<String>,
    separator: Option<SeparatorParam>,
}

async fn export(
    State(s): State<CostsState>,
    Authenticated(caller): Authenticated,
    QueryParams(q): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    let separator = match q.separator.unwrap_or_default() {
        SeparatorParam::Comma => Separator::Comma,
        SeparatorParam::Semicolon => Separator::Semicolon,
    };
    let report = s.costs.export(&caller, &q.month, q.cost_centre.as_deref(), Timestamp::now()).await?;
    let body = write_csv(&report, separator)?;
    let disposition = format!("attachment; filename=\"atelier-costs-{}.csv\"", report.month);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CSV_CONTENT_TYPE));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(|e| upstream_fault("content-disposition", e))?,
    );
    Ok(response)
}

/// The export's bytes: the header row (`atelier_domain::costs::COLUMNS`) and one row per line. Phase 1 builds
/// the file in memory (a month of an organisation is a few thousand rows).
fn write_csv(report: &CostReport, separator: Separator) -> Result<Vec<u8>, ApiError> {
    let mut csv = CsvWriter::new(Vec::new(), separator);
    csv.write_header().map_err(|e| upstream_fault("csv", e))?;
    for line in &report.lines {
        line.write_csv(&mut csv).map_err(|e| upstream_fault("csv", e))?;
    }
    csv.into_inner().map_err(|e| upstream_fault("csv", e))
}

/// Writing to memory cannot fail in practice; if it ever does, it is a server fault.
fn upstream_fault(operation: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Domain(DomainError::Upstream(atelier_domain::UpstreamError::new("web", operation, false, e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn amounts_have_two_places() {
        for (input, shown) in [("0.35", "0.35"), ("0", "0.00"), ("12", "12.00"), ("1.5", "1.50")] {
            assert_eq!(amount(Decimal::from_str(input).expect("decimal")), shown);
        }
    }
}
