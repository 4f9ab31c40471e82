//! `/v1/costs`: estimated costs, rebuilt from the workspace event history
//! (docs/adr/0006-costs.md), with budgets and Cost Explorer actuals. Served by the
//! workspaces-api function. The export is written once, in chunks
//! (`atelier_domain::costs::export`), so its memory does not grow with the month: streamed
//! in the answer of `GET /v1/costs/export.csv`, or uploaded to the exports bucket by
//! `POST /v1/costs/exports`, which answers a presigned link (what the deployed portal uses).

use async_trait::async_trait;
use atelier_domain::{
    DomainError,
    costs::{
        Actual, Actuals, ChunkOut, Converted, Costs, Separator, Unpriced, UserCost, WorkspaceCost, content_disposition,
        use_cases::{Conversion, Reconciliation},
        whole_seconds,
    },
};
use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::{
    ApiError, Authenticated,
    extract::{JsonBody, QueryParams},
    state::Area,
    views::amount,
};

/// Media type of the export (and of every CSV the API answers).
pub use atelier_domain::costs::CSV_CONTENT_TYPE;

/// The cost routes.
pub fn router(state: Area<Costs>) -> Router {
    Router::new()
        .route("/v1/costs/me", get(me))
        .route("/v1/costs/users", get(users))
        .route("/v1/costs/export.csv", get(export))
        .route("/v1/costs/exports", post(create_export))
        .with_state(state)
}

/// Query of the JSON reports: `?month=YYYY-MM`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthQuery {
    month: String,
}

/// What AWS billed, stated: in Cost Explorer's own currency (never relabelled as the
/// estimate's), to the cent for display, through a given day, estimated or final.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActualView {
    amount: String,
    currency: String,
    through: String,
    estimated: bool,
}

impl From<Actual> for ActualView {
    fn from(a: Actual) -> Self {
        Self { amount: amount(a.amount), currency: a.currency, through: a.through.to_string(), estimated: a.estimated }
    }
}

/// An actual converted into the catalog's currency: with the rate and its effective day
/// (`null` when the currencies are the same), and the currency it was converted from.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConvertedView {
    amount: String,
    currency: String,
    rate: String,
    rate_date: Option<String>,
    from: String,
}

impl From<Converted> for ConvertedView {
    fn from(c: Converted) -> Self {
        Self {
            amount: amount(c.amount),
            currency: c.currency,
            rate: c.rate.normalize().to_string(),
            rate_date: c.rate_date.map(|d| d.to_string()),
            from: c.from,
        }
    }
}

/// How a report's actuals convert: the rate used, or why there is none (then every
/// `actualConverted` is `null`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConversionView {
    from: String,
    to: String,
    rate: Option<String>,
    rate_date: Option<String>,
    reason: Option<String>,
}

impl From<&Conversion> for ConversionView {
    fn from(c: &Conversion) -> Self {
        let (rate, rate_date, reason) = match &c.rate {
            Ok((rate, day)) => (Some(rate.normalize().to_string()), day.map(|d| d.to_string()), None),
            Err(reason) => (None, None, Some(reason.clone())),
        };
        Self { from: c.from.clone(), to: c.to.clone(), rate, rate_date, reason }
    }
}

/// The month's bill, whole, in Cost Explorer's currency, exact (not rounded): `direct +
/// overhead + unallocated = total`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReconciliationView {
    direct: String,
    overhead: String,
    unallocated: String,
    total: String,
    currency: String,
    through: String,
    estimated: bool,
    overhead_allocated: bool,
}

impl From<Reconciliation> for ReconciliationView {
    fn from(r: Reconciliation) -> Self {
        let exact = |d: rust_decimal::Decimal| d.normalize().to_string();
        Self {
            direct: exact(r.direct),
            overhead: exact(r.overhead),
            unallocated: exact(r.unallocated),
            total: exact(r.total),
            currency: r.currency,
            through: r.through.to_string(),
            estimated: r.estimated,
            overhead_allocated: r.overhead_allocated,
        }
    }
}

/// `GET /v1/costs/me`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MyCostsView {
    month: String,
    currency: String,
    total: String,
    /// The budget amount in force, if any.
    budget: Option<String>,
    /// Thresholds (percent) recorded as crossed this month.
    thresholds_crossed: Vec<u16>,
    workspaces: Vec<WorkspaceCostView>,
    /// Workspaces whose costs could not be computed (not in `total`), and why.
    unpriced: Vec<Unpriced>,
    /// How the actuals convert into `currency`; `null` before any fetch.
    conversion: Option<ConversionView>,
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
    /// What AWS billed for the month's closed days (Cost Explorer), when known.
    actual: Option<ActualView>,
    /// `actual` in `currency` with the admins' rate, when both are known.
    actual_converted: Option<ConvertedView>,
}

impl WorkspaceCostView {
    fn new(l: &WorkspaceCost, actuals: &Actuals, conversion: Option<&Conversion>) -> Self {
        let actual = actuals.workspace_total(&l.info.owner, l.info.workspace_id.as_str());
        let actual_converted = conversion.and_then(|c| c.convert(actual.as_ref())).map(ConvertedView::from);
        Self {
            workspace_id: l.info.workspace_id.to_string(),
            name: l.info.workspace_name.clone(),
            instance_type: l.info.instance_type.clone(),
            running_seconds: whole_seconds(l.running_seconds),
            stopped_seconds: whole_seconds(l.stopped_seconds),
            compute: amount(l.compute),
            storage: amount(l.storage),
            total: amount(l.total),
            actual: actual.map(ActualView::from),
            actual_converted,
        }
    }
}

async fn me(
    State(s): State<Area<Costs>>,
    Authenticated(caller): Authenticated,
    QueryParams(q): QueryParams<MonthQuery>,
) -> Result<Json<MyCostsView>, ApiError> {
    let mine = s.cases.my_costs(&caller, &q.month, Timestamp::now()).await?;
    let report = &mine.report;
    Ok(Json(MyCostsView {
        month: report.month.to_string(),
        currency: report.currency.clone(),
        total: amount(report.total),
        budget: mine.budget.map(amount),
        thresholds_crossed: mine.thresholds_crossed.clone(),
        workspaces: report
            .lines
            .iter()
            .map(|l| WorkspaceCostView::new(l, &mine.actuals, mine.conversion.as_ref()))
            .collect(),
        unpriced: report.unpriced.clone(),
        conversion: mine.conversion.as_ref().map(ConversionView::from),
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
    /// Workspaces whose costs could not be computed (not in `total`), and why.
    unpriced: Vec<Unpriced>,
    /// What AWS billed that neither an owner tag nor the platform's claims, when fetched.
    unallocated: Option<ActualView>,
    /// The platform's costs (`atelier:component=platform`), split between users as their
    /// `overhead`, when fetched.
    overhead: Option<ActualView>,
    /// `direct + overhead + unallocated = total`, exact, when fetched.
    reconciliation: Option<ReconciliationView>,
    /// How the actuals convert into `currency`; `null` before any fetch.
    conversion: Option<ConversionView>,
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
    /// The budget amount in force, if any.
    budget: Option<String>,
    /// Thresholds (percent) recorded as crossed this month.
    thresholds_crossed: Vec<u16>,
    /// What AWS billed for the month's closed days (Cost Explorer), when known.
    actual: Option<ActualView>,
    /// `actual` in `currency` with the admins' rate, when both are known.
    actual_converted: Option<ConvertedView>,
    /// Their share of the platform's overhead, when actuals are known.
    overhead: Option<ActualView>,
    /// `overhead` in `currency`, when both are known.
    overhead_converted: Option<ConvertedView>,
}

impl UserCostView {
    fn new(u: UserCost, conversion: Option<&Conversion>) -> Self {
        let convert = |a: &Option<Actual>| conversion.and_then(|c| c.convert(a.as_ref())).map(ConvertedView::from);
        let (actual_converted, overhead_converted) = (convert(&u.actual), convert(&u.overhead));
        Self {
            user: u.user,
            email: u.email,
            cost_centre: u.cost_centre,
            running_seconds: whole_seconds(u.running_seconds),
            total: amount(u.total),
            budget: u.budget.map(amount),
            thresholds_crossed: u.thresholds_crossed,
            actual: u.actual.map(ActualView::from),
            actual_converted,
            overhead: u.overhead.map(ActualView::from),
            overhead_converted,
        }
    }
}

async fn users(
    State(s): State<Area<Costs>>,
    Authenticated(caller): Authenticated,
    QueryParams(q): QueryParams<MonthQuery>,
) -> Result<Json<UsersView>, ApiError> {
    let report = s.cases.users_report(&caller, &q.month, Timestamp::now()).await?;
    Ok(Json(UsersView {
        month: report.month.to_string(),
        currency: report.currency.clone(),
        total: amount(report.total),
        users: report.users.into_iter().map(|u| UserCostView::new(u, report.conversion.as_ref())).collect(),
        unpriced: report.unpriced,
        unallocated: report.unallocated.map(ActualView::from),
        overhead: report.overhead.map(ActualView::from),
        reconciliation: report.reconciliation.map(ReconciliationView::from),
        conversion: report.conversion.as_ref().map(ConversionView::from),
    }))
}

/// `?separator=` of the export, `separator` of its body.
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

/// Chunks in flight between the report and the client: with
/// [`atelier_domain::costs::EXPORT_CHUNK_BYTES`], what bounds the export's memory whatever
/// the month's size.
const CHUNKS_IN_FLIGHT: usize = 4;

type Chunk = Result<Bytes, std::io::Error>;

/// The export's chunks, sent to the streaming body.
struct ChannelOut(mpsc::Sender<Chunk>);

#[async_trait]
impl ChunkOut for ChannelOut {
    async fn chunk(&mut self, bytes: Vec<u8>) -> Result<(), DomainError> {
        self.0.send(Ok(Bytes::from(bytes))).await.map_err(|_| {
            DomainError::Upstream(atelier_domain::UpstreamError::new("web", "export", false, "the client went away"))
        })
    }
}

impl From<SeparatorParam> for Separator {
    fn from(separator: SeparatorParam) -> Self {
        match separator {
            SeparatorParam::Comma => Separator::Comma,
            SeparatorParam::Semicolon => Separator::Semicolon,
        }
    }
}

/// `GET /v1/costs/export.csv`: the export streamed in the response (local development and
/// small months; behind API Gateway a Lambda's answer is capped at 6 MB, so the deployed
/// portal uses `POST /v1/costs/exports`).
async fn export(
    State(s): State<Area<Costs>>,
    Authenticated(caller): Authenticated,
    QueryParams(q): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    let separator = Separator::from(q.separator.unwrap_or_default());
    // Authorisation and the month are checked before the first byte: their errors are
    // problem documents. A failure once rows flow aborts the body (the client sees a
    // broken transfer, never a file that looks complete) and is logged.
    let request = s.cases.export_request(&caller, &q.month, q.cost_centre.as_deref(), Timestamp::now())?;
    let disposition = HeaderValue::from_str(&content_disposition(request.month))
        .map_err(|e| upstream_fault("content-disposition", e))?;
    let (tx, rx) = mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let costs = s.cases.clone();
    tokio::spawn(async move {
        if let Err(err) = costs.write_export(&request, separator, &mut ChannelOut(tx.clone())).await {
            tracing::error!(error = ?err, month = %request.month, "cost export failed while streaming");
            let _ = tx.send(Err(std::io::Error::other(err.to_string()))).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CSV_CONTENT_TYPE));
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    Ok(response)
}

/// Body of `POST /v1/costs/exports`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExportBody {
    month: String,
    // The schema allows no null for either (found by the fuzzer: `"separator": null` was read
    // as absent and answered 201).
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    cost_centre: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    separator: Option<SeparatorParam>,
}

/// `201` of `POST /v1/costs/exports`: where to download the export, until when.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportView {
    url: String,
    expires_at: String,
    bytes: u64,
    month: String,
}

/// `POST /v1/costs/exports`: the export written to an object of the exports bucket, answered
/// with a presigned link (15 minutes) that downloads it as `atelier-costs-YYYY-MM.csv`. What
/// the deployed portal uses: no response-size limit applies to the file.
async fn create_export(
    State(s): State<Area<Costs>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<ExportBody>,
) -> Result<(StatusCode, Json<ExportView>), ApiError> {
    let separator = Separator::from(body.separator.unwrap_or_default());
    let exported = s
        .cases
        .export_to_object(&caller, &body.month, body.cost_centre.as_deref(), separator, Timestamp::now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ExportView {
            url: exported.url,
            expires_at: exported.expires_at.to_string(),
            bytes: exported.bytes,
            month: exported.month.to_string(),
        }),
    ))
}

/// A fault of the HTTP layer itself: a server error.
fn upstream_fault(operation: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Domain(DomainError::Upstream(atelier_domain::UpstreamError::new("web", operation, false, e)))
}
