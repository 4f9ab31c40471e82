//! The whole product wired for one process, by the composition root (`atelier_app::Root`)
//! with the local stack's settings: both API functions' routes on one port, the portal's
//! `/config.json`, and the scheduled jobs on timers, exactly as the Lambda functions run
//! them (`atelier_domain::jobs`).
//!
//! `POST /_local/scheduler/run` and `POST /_local/budget/run` (replay a scheduled event,
//! or the budget watch alone) and `POST /_local/history` (write a workspace's whole life at
//! given instants) exist only here, in the dev-server's router: the Lambda functions'
//! routers never carry them.

use std::{path::Path, sync::Arc, time::Duration};

use atelier_adapters::dynamodb::Table;
use atelier_app::{Overrides, Root, Settings};
use atelier_domain::{
    DomainError,
    costs::WatchReport,
    datasets::DataAccessReport,
    jobs::{SchedulerOutcome, StateSyncOutcome},
    schedule::SchedulerReport,
    workspaces::SyncReport,
};
use atelier_web::{ApiError, extract::JsonBody, routes::config::PortalConfig};
use axum::{
    Json, Router,
    body::Body,
    extract::{Request, State},
    response::IntoResponse,
    routing::post,
};
use jiff::{SignedDuration, Timestamp};
use tower::ServiceExt;

use crate::{
    Seeded,
    machines::{App, LocalMachines},
    seed::REGION,
};

/// How often the dev server's scheduler ticks unless told otherwise (`ATELIER_SCHEDULER_SECONDS`).
pub const SCHEDULER_TICK: Duration = Duration::from_secs(60);

/// Everything the local product runs on.
#[derive(Clone)]
pub struct LocalApp {
    /// The composition root on the local settings, shared by the routers and the timers.
    pub root: Arc<Root>,
    /// What `/config.json` answers: this server's URL, the seeded pool and client, and the
    /// local Cognito endpoint.
    pub portal: PortalConfig,
    /// The local workstations behind the gateway (an app, a guard, readiness reports).
    pub machines: Arc<LocalMachines>,
    /// The gateway's signing key (PKCS#8 PEM), made for this stack.
    pub gateway_key: Arc<str>,
}

impl LocalApp {
    /// Wires the product against the local server at `endpoint`, for the seeded pool, with
    /// the default cap on active workspaces per user.
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str, seeded: &Seeded, api_url: &str) -> Self {
        Self::with_settings(sdk, endpoint, seeded, api_url, |_| {})
    }

    /// [`LocalApp::new`], with the local settings changed by `adjust` (the cap on active
    /// workspaces, the scheduler's tick).
    pub fn with_settings(
        sdk: &aws_config::SdkConfig,
        endpoint: &str,
        seeded: &Seeded,
        api_url: &str,
        adjust: impl FnOnce(&mut Settings),
    ) -> Self {
        let tick = SignedDuration::try_from(SCHEDULER_TICK).expect("a minute fits");
        let mut settings = Settings::local(
            &seeded.table,
            &seeded.user_pool_id,
            &seeded.client_id,
            endpoint,
            seeded.ec2_launch.clone(),
            tick,
        );
        settings.notification_sender = Some(seeded.notification_sender.clone());
        settings.exports_bucket = Some(seeded.exports_bucket.clone());
        adjust(&mut settings);
        let portal = PortalConfig {
            api_url: api_url.to_owned(),
            region: REGION.to_owned(),
            user_pool_id: seeded.user_pool_id.clone(),
            user_pool_client_id: seeded.client_id.clone(),
            cognito_endpoint: Some(endpoint.to_owned()),
        };
        let (gateway_key, public) = atelier_proxy::identity::keygen();
        let public = atelier_proxy::identity::GatewayPublicKey::from_pem(&public).expect("a key just made");
        let machines = Arc::new(LocalMachines::new(App::Echo, public, sdk));
        let root =
            Root::new(sdk.clone(), settings).with_overrides(local_overrides(sdk, &machines, Overrides::default()));
        Self { root: Arc::new(root), portal, machines, gateway_key: gateway_key.into() }
    }

    /// The same product whose machines serve `app` (the dev server: a real JupyterLab).
    pub fn with_app(&self, app: App) -> Self {
        let public =
            atelier_proxy::identity::GatewayKey::from_pem(&self.gateway_key).expect("the stack's key").public_pem();
        let public = atelier_proxy::identity::GatewayPublicKey::from_pem(&public).expect("a key just made");
        let machines = Arc::new(LocalMachines::new(app, public, self.root.sdk()));
        let overrides = local_overrides(self.root.sdk(), &machines, Overrides::default());
        let root = Root::new(self.root.sdk().clone(), self.root.settings().clone()).with_overrides(overrides);
        Self { root: Arc::new(root), machines, ..self.clone() }
    }

    /// The gateway of this stack, sending browsers without a session to `portal_url` and
    /// opening sessions from its origin only.
    pub fn gateway(&self, portal_url: Option<String>) -> Arc<atelier_gateway::Gateway> {
        let config = atelier_gateway::GatewayConfig { portal_url, secure_cookies: false };
        let gateway =
            atelier_gateway::Gateway::new(self.root.apps(), self.root.verifier().clone(), &self.gateway_key, config);
        Arc::new(gateway.expect("the stack's key is valid"))
    }

    /// One pass of the local machines: started for RUNNING workspaces, stopped for the
    /// others, their app readiness reported to moto's EC2.
    pub async fn machines_once(&self) -> Result<(), String> {
        self.machines.reconcile(self.root.workspace_store().as_ref()).await
    }

    /// The same product with `overrides` in place of the adapters they name (tests that
    /// inject faults), wired by the same root.
    pub fn with_overrides(&self, overrides: Overrides) -> Self {
        let overrides = local_overrides(self.root.sdk(), &self.machines, overrides);
        let root = Root::new(self.root.sdk().clone(), self.root.settings().clone()).with_overrides(overrides);
        Self { root: Arc::new(root), ..self.clone() }
    }

    /// Publishes the seeded catalog through the admins' use case, as `seed` (what is in the
    /// table already is left as it is): the local catalog is made exactly as a deployed one.
    pub async fn publish_catalog(&self, seeded: &Seeded) -> Result<(), DomainError> {
        let cases = self.root.catalog_cases();
        for request in &seeded.catalog {
            match cases.publish_as("seed", request.clone(), Timestamp::now()).await {
                Ok(_) => {}
                Err(DomainError::Unprocessable { field, .. }) if field == "id" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The table.
    pub fn table(&self) -> &Arc<Table> {
        self.root.table()
    }

    /// Both API functions' routes plus `/config.json`, as API Gateway and the portal
    /// bucket would expose them.
    pub fn router(&self) -> Router {
        atelier_web::finish(self.api_routes())
    }

    fn api_routes(&self) -> Router {
        self.root.api_routes().merge(atelier_web::routes::config::router(self.portal.clone()))
    }

    /// [`LocalApp::router`] plus the local-only routes ([`LocalApp::local_router`]).
    pub fn dev_router(&self) -> Router {
        atelier_web::finish(self.dev_routes())
    }

    fn dev_routes(&self) -> Router {
        self.api_routes().merge(self.local_router())
    }

    /// Routes only the local stack has: `POST /_local/scheduler/run` takes an EventBridge
    /// scheduled event (`{"time": RFC 3339, ...}`), runs the scheduler function's job at
    /// its `time` and answers the job's report (`{"scheduler": ..., "budget": ...}`);
    /// `POST /_local/budget/run` takes the same event and runs the budget watch's full
    /// pass alone at its `time`, answering its report.
    pub fn local_router(&self) -> Router {
        Router::new()
            .route("/_local/scheduler/run", post(run_scheduler))
            .route("/_local/budget/run", post(run_budget))
            .route("/_local/service-catalog", axum::routing::get(service_catalog))
            .route("/_local/history", post(write_history))
            .with_state(self.clone())
    }

    /// The API router, the local-only routes and the built portal at `/` (single-page app:
    /// unknown paths get `index.html`), when `dist` exists: what the dev-server serves. An
    /// unknown path under `/v1/` or `/_local/` is the API's 404 problem document, never
    /// the portal.
    pub fn router_with_portal(&self, dist: &Path) -> Router {
        if !dist.join("index.html").exists() {
            return self.dev_router();
        }
        let spa = tower_http::services::ServeDir::new(dist)
            .fallback(tower_http::services::ServeFile::new(dist.join("index.html")));
        let portal = move |request: Request| {
            let spa = spa.clone();
            async move {
                if is_api_path(request.uri().path()) {
                    return ApiError::RouteNotFound.into_response();
                }
                match spa.oneshot(request).await {
                    Ok(response) => response.map(Body::new),
                    Err(never) => match never {},
                }
            }
        };
        // Assets are served from their folder only: a missing one is a 404, not the portal.
        Router::new()
            .nest_service("/assets", tower_http::services::ServeDir::new(dist.join("assets")))
            .merge(atelier_web::finish(self.dev_routes()))
            .fallback(portal)
    }

    /// One state-sync tick at the wall clock, as the state-sync function runs it.
    pub async fn sync_once(&self) -> Result<StateSyncOutcome, DomainError> {
        self.root.state_sync_job(Timestamp::now()).await
    }

    /// One data-access pass at the wall clock, as the data-access function runs it:
    /// revocation, workspace credentials in IAM, mounts.
    pub async fn data_access_once(&self) -> Result<DataAccessReport, DomainError> {
        self.root.data_access_job(Timestamp::now()).await
    }

    /// The state-sync function's job on `event` (an EC2 state-change notification, or a
    /// tick) at the wall clock, as the Lambda function runs it.
    pub async fn sync_event(&self, event: &serde_json::Value) -> Result<StateSyncOutcome, DomainError> {
        self.root.state_sync_on(event, Timestamp::now()).await
    }

    /// One state-sync pass as if the time were `now` (tests of grace periods and timeouts).
    pub async fn sync_at(&self, now: Timestamp) -> Result<SyncReport, DomainError> {
        self.root.state_sync().run(now).await
    }

    /// One budget watch run for instant `at`, totals included.
    pub async fn budget_run(&self, at: Timestamp) -> Result<WatchReport, DomainError> {
        self.root.budget_watch().run(at).await
    }

    /// One scheduler tick for instant `at`, without the budget watch (tests pass fixed
    /// instants).
    pub async fn scheduler_run(&self, at: Timestamp) -> Result<SchedulerReport, DomainError> {
        self.root.scheduler().run(at).await
    }

    /// The scheduler function's job for instant `at`: the tick, then the budget watch.
    pub async fn scheduler_job(&self, at: Timestamp) -> Result<SchedulerOutcome, DomainError> {
        self.root.scheduler_job().run(at).await
    }

    /// Runs the scheduler function's job every `interval` with the wall clock until the
    /// task is dropped.
    pub async fn scheduler_forever(self, interval: Duration) {
        every(interval, || async {
            match self.scheduler_job(Timestamp::now()).await {
                Ok(outcome) if busy_scheduler(&outcome) => tracing::info!(?outcome, "scheduler"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = ?err, "scheduler run failed"),
            }
        })
        .await
    }

    /// Runs the state-sync function's job, then the data-access function's, every
    /// `interval` until the task is dropped (two jobs, two outcomes: one failing does not
    /// hold the other back).
    pub async fn sync_forever(self, interval: Duration) {
        every(interval, || async {
            match self.sync_once().await {
                Ok(outcome) if outcome.settled > 0 || !outcome.failed.is_empty() => {
                    tracing::info!(?outcome, "state-sync");
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = ?err, "state-sync run failed"),
            }
            match self.data_access_once().await {
                Ok(report) if busy_data_access(&report) => tracing::info!(?report, "data-access"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = ?err, "data-access run failed"),
            }
            if let Err(err) = self.machines_once().await {
                tracing::warn!(error = %err, "local machines pass failed");
            }
        })
        .await
    }
}

/// `overrides`, with the gateway finding machines at their local guards (unless a test
/// overrides that too).
fn local_overrides(sdk: &aws_config::SdkConfig, machines: &LocalMachines, overrides: Overrides) -> Overrides {
    let ec2 =
        Arc::new(atelier_adapters::ec2::Ec2::from_config(sdk).app_endpoints(atelier_app::settings::DEFAULT_GUARD_PORT));
    Overrides { app_endpoints: overrides.app_endpoints.clone().or_else(|| Some(machines.endpoints(ec2))), ..overrides }
}

/// Whether a data-access pass did (or failed to do) anything worth a log line.
fn busy_data_access(report: &DataAccessReport) -> bool {
    !(report.detached.is_empty()
        && report.policies_applied.is_empty()
        && report.roles_removed.is_empty()
        && report.mounts_recorded.is_empty()
        && report.failed.is_empty())
}

/// Calls `tick` every `interval` (a late tick delays the next), forever.
async fn every<F, Fut>(interval: Duration, tick: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut timer = tokio::time::interval(interval);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        timer.tick().await;
        tick().await;
    }
}

/// True when a scheduler job did something worth a log line.
fn busy_scheduler(outcome: &SchedulerOutcome) -> bool {
    let (s, b) = (&outcome.scheduler, &outcome.budget);
    !(s.started.is_empty() && s.stopped.is_empty() && s.hibernated.is_empty() && s.failed.is_empty())
        || !(b.crossed.is_empty() && b.stopped.is_empty() && b.failed.is_empty())
}

/// Paths the API owns: the portal never answers them.
fn is_api_path(path: &str) -> bool {
    ["/v1", "/_local"].iter().any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
}

/// `GET /_local/service-catalog`: the seeded Service Catalog products in moto (moto lists
/// none: they are looked up by name), each with whether the catalog publishes it; what an
/// admin trying the portal's "publish" needs, an id.
async fn service_catalog(State(app): State<LocalApp>) -> Result<Json<serde_json::Value>, ApiError> {
    let sc = aws_sdk_servicecatalog::Client::new(app.root.sdk());
    let catalog = app.root.catalog();
    let products = atelier_domain::kernel::all_pages(|page| {
        let catalog = catalog.clone();
        async move { catalog.products(&page).await }
    })
    .await
    .map_err(DomainError::from)?;
    let published: std::collections::HashSet<String> =
        products.into_iter().filter_map(|p| p.service_catalog).map(|r| r.product_id).collect();
    let names = crate::seed::DEMO_CATALOG.iter().map(|d| d.service_catalog_name).chain([crate::seed::UNPUBLISHED.0]);
    let mut items = Vec::new();
    for name in names {
        if let Ok(found) = sc.describe_product().name(name).send().await
            && let Some(id) = found.product_view_summary().and_then(|p| p.product_id())
        {
            items.push(serde_json::json!({ "id": id, "name": name, "published": published.contains(id) }));
        }
    }
    Ok(Json(serde_json::json!({ "items": items })))
}

/// `POST /_local/scheduler/run`: the scheduler function's job at the event's `time`.
async fn run_scheduler(
    State(app): State<LocalApp>,
    JsonBody(event): JsonBody<serde_json::Value>,
) -> Result<Json<SchedulerOutcome>, ApiError> {
    Ok(Json(app.scheduler_job(atelier_app::job::event_time(&event)?).await?))
}

/// The body of `POST /_local/history`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HistoryBody {
    owner: String,
    product_id: String,
    name: String,
    #[serde(default)]
    instance_id: Option<String>,
    events: Vec<HistoryEventBody>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryEventBody {
    at: String,
    state: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /_local/history`: one workspace's whole life, written at the given instants
/// through the store and the lifecycle's one writer (`Workspaces::write_history`). 201 with
/// the workspace id; 422 naming the event the lifecycle refuses, and nothing written.
async fn write_history(
    State(app): State<LocalApp>,
    JsonBody(body): JsonBody<HistoryBody>,
) -> Result<(axum::http::StatusCode, Json<serde_json::Value>), ApiError> {
    use atelier_domain::workspaces::{HistoryRequest, HistoryStep, State as WorkspaceState};
    let mut steps = Vec::with_capacity(body.events.len());
    for (i, event) in body.events.into_iter().enumerate() {
        let at = event.at.parse::<Timestamp>().map_err(|_| {
            DomainError::unprocessable(format!("events[{i}].at"), format!("{:?} is not an RFC 3339 instant", event.at))
        })?;
        let state = WorkspaceState::parse(&event.state).ok_or_else(|| {
            DomainError::unprocessable(
                format!("events[{i}].state"),
                format!("{:?} is not a workspace state", event.state),
            )
        })?;
        steps.push(HistoryStep { at, state, reason: event.reason });
    }
    let request = HistoryRequest {
        owner: body.owner,
        product_id: body.product_id,
        name: body.name,
        instance_id: body.instance_id,
        steps,
    };
    let workspace = app.root.workspaces().write_history(request).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(serde_json::json!({
            "workspaceId": workspace.id.as_str(),
            "state": workspace.state.as_str(),
            "version": workspace.version,
        })),
    ))
}

/// `POST /_local/budget/run`: the budget watch's full pass at the event's `time`.
async fn run_budget(
    State(app): State<LocalApp>,
    JsonBody(event): JsonBody<serde_json::Value>,
) -> Result<Json<WatchReport>, ApiError> {
    Ok(Json(app.budget_run(atelier_app::job::event_time(&event)?).await?))
}
