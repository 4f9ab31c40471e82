//! The whole product wired for one process: every function's router on one port, and
//! state-sync and the scheduler on timers, with the same adapters the Lambda functions use.
//!
//! `POST /_local/scheduler/run` (replay a scheduled event) exists only here, in the
//! dev-server's router: the Lambda functions' routers never carry it.

use std::{path::Path, sync::Arc, time::Duration};

use atelier_adapters::{
    cognito::CognitoDirectory,
    dynamodb::Table,
    ec2::Ec2,
    settings::{ProvisionerKind, ProvisionerSettings},
};
use atelier_domain::{
    DomainError,
    costs::{BudgetWatch, WatchReport},
    datasets::{DatasetSync, DatasetSyncReport, Datasets},
    ports::Provisioner,
    scheduler::{Scheduler, SchedulerReport, event_instant},
    service::Workspaces,
    sync::{StateSync, SyncReport, Timeouts},
};
use atelier_web::{
    ApiError, JwtVerifier, VerifierSettings, budgets, catalog, config::PortalConfig, costs, datasets,
    extract::JsonBody, workspaces,
};
use axum::{Json, Router, extract::State, routing::post};
use jiff::Timestamp;

use crate::{Seeded, seed::REGION};

/// Everything the local product runs on.
#[derive(Clone)]
pub struct LocalApp {
    pub table: Arc<Table>,
    pub provisioner: Arc<dyn Provisioner>,
    pub power: Arc<Ec2>,
    pub directory: Arc<CognitoDirectory>,
    pub workspaces: Workspaces,
    pub datasets: Datasets,
    pub verifier: Arc<JwtVerifier>,
    pub portal: PortalConfig,
}

impl LocalApp {
    /// Wires the adapters against the local server at `endpoint`, for the seeded pool, with
    /// the default cap on active workspaces per user.
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str, seeded: &Seeded, api_url: &str) -> Self {
        Self::with_max_active(sdk, endpoint, seeded, api_url, atelier_adapters::dynamodb::DEFAULT_MAX_ACTIVE_WORKSPACES)
    }

    /// [`LocalApp::new`], letting each user have at most `max_active` active workspaces.
    pub fn with_max_active(
        sdk: &aws_config::SdkConfig,
        endpoint: &str,
        seeded: &Seeded,
        api_url: &str,
        max_active: u32,
    ) -> Self {
        let table = Arc::new(Table::new(aws_sdk_dynamodb::Client::new(sdk), &seeded.table).with_max_active(max_active));
        let provisioner = atelier_adapters::provisioner(
            sdk,
            &ProvisionerSettings {
                kind: ProvisionerKind::Ec2Launch,
                subnet_id: None,
                instance_profile: None,
                output_key: "InstanceId".into(),
            },
        );
        let power = Arc::new(Ec2::new(aws_sdk_ec2::Client::new(sdk)));
        let directory =
            Arc::new(CognitoDirectory::new(aws_sdk_cognitoidentityprovider::Client::new(sdk), &seeded.user_pool_id));
        let workspaces = Workspaces {
            store: table.clone(),
            catalog: table.clone(),
            provisioner: provisioner.clone(),
            power: power.clone(),
            directory: directory.clone(),
            defaults: table.clone(),
        };
        let datasets = Datasets {
            store: table.clone(),
            workspaces: table.clone(),
            groups: directory.clone(),
            mounts: power.clone(),
        };
        let verifier = Arc::new(JwtVerifier::new(VerifierSettings::for_pool(
            REGION,
            &seeded.user_pool_id,
            &seeded.client_id,
            Some(endpoint),
        )));
        let portal = PortalConfig {
            api_url: api_url.to_owned(),
            region: REGION.to_owned(),
            user_pool_id: seeded.user_pool_id.clone(),
            user_pool_client_id: seeded.client_id.clone(),
            cognito_endpoint: Some(endpoint.to_owned()),
        };
        Self { table, provisioner, power, directory, workspaces, datasets, verifier, portal }
    }

    /// Every API route plus `/config.json`, as API Gateway would expose them.
    pub fn router(&self) -> Router {
        atelier_web::run::finish(self.api_routes())
    }

    /// The API router plus the local-only routes ([`LocalApp::local_router`]).
    pub fn dev_router(&self) -> Router {
        atelier_web::run::finish(self.api_routes().merge(self.local_router()))
    }

    fn api_routes(&self) -> Router {
        Router::new()
            .merge(workspaces::router(workspaces::WorkspacesState {
                verifier: self.verifier.clone(),
                workspaces: self.workspaces.clone(),
                datasets: self.datasets.clone(),
            }))
            .merge(datasets::router(datasets::DatasetsState {
                verifier: self.verifier.clone(),
                datasets: self.datasets.clone(),
            }))
            .merge(costs::router(costs::CostsState { verifier: self.verifier.clone(), costs: self.costs() }))
            .merge(budgets::router(budgets::BudgetsState { verifier: self.verifier.clone(), budgets: self.budgets() }))
            .merge(catalog::router(catalog::CatalogState {
                verifier: self.verifier.clone(),
                catalog: self.table.clone(),
            }))
            .merge(atelier_web::config::router(self.portal.clone()))
            .merge(
                atelier_web::openapi::router().expect("the OpenAPI fragments merge (atelier-web's tests say why not)"),
            )
    }

    /// Routes only the local stack has: `POST /_local/scheduler/run` takes an EventBridge
    /// scheduled event (`{"time": RFC 3339, ...}`) and answers the scheduler's report.
    pub fn local_router(&self) -> Router {
        Router::new().route("/_local/scheduler/run", post(run_scheduler)).with_state(self.clone())
    }

    /// The API router, the local-only routes and the built portal at `/` (single-page app:
    /// unknown paths get `index.html`), when `dist` exists: what the dev-server serves.
    pub fn router_with_portal(&self, dist: &Path) -> Router {
        let router = self.dev_router();
        if !dist.join("index.html").exists() {
            return router;
        }
        let spa = tower_http::services::ServeDir::new(dist)
            .fallback(tower_http::services::ServeFile::new(dist.join("index.html")));
        // API routes first; anything else is a portal asset or a portal route.
        Router::new()
            .nest_service("/assets", tower_http::services::ServeDir::new(dist.join("assets")))
            .merge(router.fallback_service(spa))
    }

    /// One state-sync pass: the workspaces' states, then the datasets' revocation pass
    /// (as the state-sync function does).
    pub async fn sync_once(&self) -> Result<SyncReport, atelier_domain::DomainError> {
        let report = self.sync_at(jiff::Timestamp::now()).await?;
        let datasets = self.dataset_sync_once().await?;
        if !datasets.detached.is_empty() || !datasets.failed.is_empty() {
            tracing::info!(detached = ?datasets.detached, failed = ?datasets.failed, "dataset revocation");
        }
        Ok(report)
    }

    /// One dataset revocation pass (part of [`LocalApp::sync_once`]).
    pub async fn dataset_sync_once(&self) -> Result<DatasetSyncReport, DomainError> {
        DatasetSync { datasets: &self.datasets }.run(Timestamp::now()).await
    }

    /// One state-sync pass as if the time were `now` (tests of grace periods and timeouts);
    /// without the dataset pass, which records real instants.
    pub async fn sync_at(&self, now: Timestamp) -> Result<SyncReport, atelier_domain::DomainError> {
        StateSync {
            store: self.table.as_ref(),
            catalog: self.table.as_ref(),
            provisioner: self.provisioner.as_ref(),
            power: self.power.as_ref(),
            timeouts: Timeouts::default(),
        }
        .run(now)
        .await
    }

    /// The cost use cases on the table.
    pub fn costs(&self) -> atelier_domain::costs::Costs {
        self.workspaces.costs(self.table.clone(), self.table.clone(), self.table.clone())
    }

    /// The budget use cases on the table and the user pool.
    pub fn budgets(&self) -> atelier_domain::costs::Budgets {
        atelier_domain::costs::Budgets { store: self.table.clone(), users: self.directory.clone() }
    }

    /// One budget watch run for instant `at` (the scheduler function runs it on every tick).
    pub async fn budget_run(&self, at: Timestamp) -> Result<WatchReport, DomainError> {
        BudgetWatch {
            store: self.table.as_ref(),
            catalog: self.table.as_ref(),
            index: self.table.as_ref(),
            budgets: self.table.as_ref(),
            power: self.power.as_ref(),
        }
        .run(at)
        .await
    }

    /// One scheduler run for instant `at` (tests pass fixed instants).
    pub async fn scheduler_run(&self, at: Timestamp) -> Result<SchedulerReport, DomainError> {
        Scheduler { store: self.table.as_ref(), power: self.power.as_ref(), runs: self.table.as_ref() }.run(at).await
    }

    /// Runs the budget watch and the scheduler every `interval` with the wall clock until
    /// the task is dropped (the scheduler function's tick does both).
    pub async fn scheduler_forever(self, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = Timestamp::now();
            match self.budget_run(now).await {
                Ok(report) if !(report.crossed.is_empty() && report.stopped.is_empty() && report.failed.is_empty()) => {
                    tracing::info!(?report, "budget watch");
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = ?err, "budget watch run failed"),
            }
            match self.scheduler_run(now).await {
                Ok(report)
                    if !(report.started.is_empty()
                        && report.stopped.is_empty()
                        && report.hibernated.is_empty()
                        && report.failed.is_empty()) =>
                {
                    tracing::info!(?report, "scheduler");
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = ?err, "scheduler run failed"),
            }
        }
    }

    /// Runs state-sync every `interval` until the task is dropped.
    pub async fn sync_forever(self, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.sync_once().await {
                Ok(report) if report.settled > 0 || !report.failed.is_empty() => {
                    tracing::info!(settled = report.settled, failed = ?report.failed, "state-sync");
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = ?err, "state-sync run failed"),
            }
        }
    }
}

/// `POST /_local/scheduler/run`: one scheduler run at the event's `time`.
async fn run_scheduler(
    State(app): State<LocalApp>,
    JsonBody(event): JsonBody<serde_json::Value>,
) -> Result<Json<SchedulerReport>, ApiError> {
    let at = event_instant(event.get("time").and_then(serde_json::Value::as_str))?;
    Ok(Json(app.scheduler_run(at).await?))
}
