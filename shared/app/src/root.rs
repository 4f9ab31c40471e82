//! [`Root`]: the adapters, built once and shared, and the use cases and jobs on them.

use std::sync::{Arc, OnceLock};

use atelier_adapters::dynamodb::Table;
use atelier_domain::{
    catalog::Catalog,
    schedule::Schedules,
    workspaces::{PowerSwitch, WorkspaceStore},
};
use aws_types::SdkConfig;

use crate::settings::Settings;

/// Ports that replace the AWS adapter the root would build, everywhere the root uses
/// that port (tests inject faults through them; production never sets one).
#[derive(Clone, Default)]
pub struct Overrides {
    /// Replaces the table as the workspace store; the catalog, the month index and the
    /// other stores stay the table.
    pub workspace_store: Option<Arc<dyn WorkspaceStore>>,
    /// Replaces EC2 as the power switch; mount lists are still published through EC2.
    pub power: Option<Arc<dyn PowerSwitch>>,
    /// Replaces EC2 as where the gateway finds machines (the local stack's machines listen
    /// on loopback ports, not at their moto private addresses).
    pub app_endpoints: Option<Arc<dyn atelier_domain::apps::AppEndpoints>>,
}

/// The composition root: settings and the SDK configuration in, adapters, use cases,
/// routers and jobs out. Each adapter is built on first use and then shared, so that every
/// use case of a function talks to AWS through the same clients (and caches).
pub struct Root {
    settings: Settings,
    sdk: SdkConfig,
    overrides: Overrides,
    table: OnceLock<Arc<Table>>,
    store: OnceLock<Arc<dyn WorkspaceStore>>,
    budget_gate: OnceLock<Arc<atelier_domain::costs::BudgetGate>>,
    #[cfg(feature = "ec2")]
    ec2: OnceLock<Arc<atelier_adapters::ec2::Ec2>>,
    #[cfg(feature = "ec2")]
    power: OnceLock<Arc<dyn PowerSwitch>>,
    #[cfg(all(feature = "ec2", feature = "servicecatalog", feature = "iam"))]
    provisioner: OnceLock<Arc<dyn atelier_domain::workspaces::Provisioner>>,
    #[cfg(feature = "iam")]
    roles: OnceLock<Arc<atelier_adapters::iam::WorkspaceRoles>>,
    #[cfg(feature = "cognito")]
    directory: OnceLock<Arc<atelier_adapters::cognito::CognitoDirectory>>,
    #[cfg(feature = "web")]
    verifier: OnceLock<Arc<atelier_web::JwtVerifier>>,
    #[cfg(feature = "web")]
    standing: OnceLock<Arc<atelier_web::StandingCheck>>,
    #[cfg(feature = "ses")]
    mailer: OnceLock<Arc<atelier_adapters::ses::Ses>>,
    #[cfg(feature = "s3")]
    exports: OnceLock<Arc<atelier_adapters::s3::S3Exports>>,
}

impl Root {
    /// The root of `settings`, talking to AWS as `sdk` says.
    pub fn new(sdk: SdkConfig, settings: Settings) -> Self {
        Self {
            settings,
            sdk,
            overrides: Overrides::default(),
            table: OnceLock::new(),
            store: OnceLock::new(),
            budget_gate: OnceLock::new(),
            #[cfg(feature = "ec2")]
            ec2: OnceLock::new(),
            #[cfg(feature = "ec2")]
            power: OnceLock::new(),
            #[cfg(all(feature = "ec2", feature = "servicecatalog", feature = "iam"))]
            provisioner: OnceLock::new(),
            #[cfg(feature = "iam")]
            roles: OnceLock::new(),
            #[cfg(feature = "cognito")]
            directory: OnceLock::new(),
            #[cfg(feature = "web")]
            verifier: OnceLock::new(),
            #[cfg(feature = "web")]
            standing: OnceLock::new(),
            #[cfg(feature = "ses")]
            mailer: OnceLock::new(),
            #[cfg(feature = "s3")]
            exports: OnceLock::new(),
        }
    }

    /// The same root with `overrides` in place of the adapters they name.
    pub fn with_overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// What the root was configured with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The SDK configuration every client is built from.
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The DynamoDB table behind every store port.
    pub fn table(&self) -> &Arc<Table> {
        self.table.get_or_init(|| {
            Arc::new(Table::from_config(&self.sdk, &self.settings.table).with_max_active(self.settings.max_active))
        })
    }

    /// The workspace store: the table, unless overridden.
    pub fn workspace_store(&self) -> &Arc<dyn WorkspaceStore> {
        self.store.get_or_init(|| match &self.overrides.workspace_store {
            Some(store) => store.clone(),
            None => self.table().clone(),
        })
    }

    /// The catalog (the table).
    pub fn catalog(&self) -> Arc<dyn Catalog> {
        self.table().clone()
    }

    /// The schedule use cases.
    pub fn schedules(&self) -> Schedules {
        Schedules { store: self.workspace_store().clone(), defaults: self.table().clone() }
    }

    /// The budget's start check (`stop-at-100`), asked by a person's start and create and
    /// by the scheduler's starts: the table only.
    pub fn budget_gate(&self) -> &Arc<atelier_domain::costs::BudgetGate> {
        self.budget_gate.get_or_init(|| {
            let table = self.table();
            Arc::new(atelier_domain::costs::BudgetGate {
                store: self.workspace_store().clone(),
                catalog: table.clone(),
                index: table.clone(),
                budgets: table.clone(),
                defaults: table.clone(),
            })
        })
    }

    /// The notification use cases (`GET /v1/me/notifications`): the table only.
    pub fn notifications(&self) -> atelier_domain::notifications::Notifications {
        atelier_domain::notifications::Notifications { store: self.table().clone() }
    }
}

#[cfg(feature = "ec2")]
impl Root {
    /// EC2: instance power and the published mount lists.
    pub fn ec2(&self) -> &Arc<atelier_adapters::ec2::Ec2> {
        self.ec2.get_or_init(|| Arc::new(atelier_adapters::ec2::Ec2::from_config(&self.sdk)))
    }

    /// The power switch: EC2, unless overridden.
    pub fn power(&self) -> &Arc<dyn PowerSwitch> {
        self.power.get_or_init(|| match &self.overrides.power {
            Some(power) => power.clone(),
            None => self.ec2().clone(),
        })
    }

    /// The scheduler tick, on the workspace store, the power switch, the table and the
    /// budget's start check.
    pub fn scheduler(&self) -> atelier_domain::schedule::Scheduler<'_> {
        atelier_domain::schedule::Scheduler {
            store: self.workspace_store().as_ref(),
            power: self.power().as_ref(),
            runs: self.table().as_ref(),
            gate: self.budget_gate().as_ref(),
        }
    }
}

#[cfg(all(feature = "ec2", feature = "cognito", feature = "ses"))]
impl Root {
    /// SES, sending from the settings' sender identity.
    pub fn mailer(&self) -> &Arc<atelier_adapters::ses::Ses> {
        self.mailer.get_or_init(|| {
            let Some(sender) = self.settings.notification_sender.clone() else {
                panic!("{} sends notifications but does not declare their sender", self.settings.function)
            };
            Arc::new(atelier_adapters::ses::Ses::from_config(&self.sdk, sender))
        })
    }

    /// The budget watch: the table, EC2 for its stops, Cognito for the admins and the
    /// addresses, SES for the e-mail. A user's total waits for the next full pass at most
    /// the full pass's cadence and one tick (its projection's horizon).
    pub fn budget_watch(&self) -> atelier_domain::costs::BudgetWatch<'_> {
        let table = self.table().as_ref();
        let directory = self.directory().as_ref();
        let tick = self.settings.scheduler_tick;
        atelier_domain::costs::BudgetWatch {
            store: self.workspace_store().as_ref(),
            catalog: table,
            index: table,
            budgets: table,
            power: self.power().as_ref(),
            cost_centres: table,
            notifications: table,
            mailer: self.mailer().as_ref(),
            directory,
            recipients: directory,
            horizon: self.settings.budget_every.max(tick) + tick,
        }
    }

    /// The scheduler function's job: the tick, then the budget watch.
    pub fn scheduler_job(&self) -> atelier_domain::jobs::SchedulerJob<'_> {
        atelier_domain::jobs::SchedulerJob {
            scheduler: self.scheduler(),
            watch: self.budget_watch(),
            budget_every: self.settings.budget_every,
            tick: self.settings.scheduler_tick,
        }
    }
}

#[cfg(feature = "iam")]
impl Root {
    /// The workspace roles (IAM): each machine's credentials.
    pub fn workspace_roles(&self) -> &Arc<atelier_adapters::iam::WorkspaceRoles> {
        self.roles.get_or_init(|| {
            let settings = &self.settings.workspace_roles;
            Arc::new(atelier_adapters::iam::WorkspaceRoles::from_config(
                &self.sdk,
                &self.settings.table,
                settings.boundary.clone(),
                settings.policy.clone(),
            ))
        })
    }
}

#[cfg(all(feature = "ec2", feature = "servicecatalog"))]
impl Root {
    /// The catalog's use cases: the table, Service Catalog and EC2's instance types, for
    /// the provisioner this deployment uses.
    pub fn catalog_cases(&self) -> atelier_domain::catalog::CatalogCases {
        let service_catalog = atelier_adapters::servicecatalog::ServiceCatalogCatalog::from_config(&self.sdk);
        atelier_domain::catalog::CatalogCases::new(
            self.table().clone(),
            Arc::new(service_catalog),
            self.ec2().clone(),
            self.settings.provisioner.kind.provisioning(),
        )
    }
}

#[cfg(all(feature = "ec2", feature = "servicecatalog", feature = "iam"))]
impl Root {
    /// The provisioner the settings choose (`ATELIER_PROVISIONER`), behind the workspace
    /// role's creation: no machine starts without its own credentials. Both adapters are
    /// linked: configuration, not a build per environment, decides.
    pub fn provisioner(&self) -> &Arc<dyn atelier_domain::workspaces::Provisioner> {
        use crate::settings::ProvisionerKind;
        self.provisioner.get_or_init(|| {
            let settings = &self.settings.provisioner;
            let launch: Arc<dyn atelier_domain::workspaces::Provisioner> = match settings.kind {
                ProvisionerKind::ServiceCatalog => Arc::new(
                    atelier_adapters::servicecatalog::ServiceCatalogProvisioner::from_config(&self.sdk)
                        .with_output_key(&settings.output_key),
                ),
                ProvisionerKind::Ec2Launch => {
                    let Some(ec2_launch) = settings.ec2_launch.clone() else {
                        panic!(
                            "{} provisions with ec2-launch but does not declare its settings",
                            self.settings.function
                        )
                    };
                    Arc::new(atelier_adapters::ec2::Ec2Launch::from_config(&self.sdk, ec2_launch))
                }
            };
            let roles = self.workspace_roles().as_ref().clone();
            Arc::new(atelier_adapters::iam::WithWorkspaceRole::new(launch, roles))
        })
    }

    /// The state-sync function's job at `now`.
    pub async fn state_sync_job(
        &self,
        now: jiff::Timestamp,
    ) -> Result<atelier_domain::jobs::StateSyncOutcome, atelier_domain::DomainError> {
        atelier_domain::jobs::StateSyncJob { sync: self.state_sync() }.run(now).await
    }

    /// The state-sync function's job on one of its events at `now`: an EC2 state-change
    /// notification is the one instance's workspace, anything else (the tick) the full pass.
    pub async fn state_sync_on(
        &self,
        event: &serde_json::Value,
        now: jiff::Timestamp,
    ) -> Result<atelier_domain::jobs::StateSyncOutcome, atelier_domain::DomainError> {
        atelier_domain::jobs::StateSyncJob { sync: self.state_sync() }.on_event(event, now).await
    }

    /// State-sync, on the workspace store, the catalog, the provisioner and the power switch.
    pub fn state_sync(&self) -> atelier_domain::workspaces::StateSync<'_> {
        atelier_domain::workspaces::StateSync {
            store: self.workspace_store().as_ref(),
            catalog: self.table().as_ref(),
            provisioner: self.provisioner().as_ref(),
            power: self.power().as_ref(),
            timeouts: self.settings.timeouts,
        }
    }
}

#[cfg(feature = "s3")]
impl Root {
    /// The exports bucket (S3), where cost exports are written for download.
    pub fn exports(&self) -> &Arc<atelier_adapters::s3::S3Exports> {
        self.exports.get_or_init(|| {
            let Some(bucket) = self.settings.exports_bucket.clone() else {
                panic!("{} writes exports but does not declare their bucket", self.settings.function)
            };
            Arc::new(atelier_adapters::s3::S3Exports::from_config(&self.sdk, bucket))
        })
    }
}

#[cfg(feature = "cognito")]
impl Root {
    /// The user directory: profiles, groups, known users.
    pub fn directory(&self) -> &Arc<atelier_adapters::cognito::CognitoDirectory> {
        self.directory.get_or_init(|| {
            Arc::new(atelier_adapters::cognito::CognitoDirectory::from_config(&self.sdk, self.settings.user_pool_id()))
        })
    }

    /// The cost use cases (their exports go to the exports bucket).
    #[cfg(feature = "s3")]
    pub fn costs(&self) -> atelier_domain::costs::Costs {
        let table = self.table();
        atelier_domain::costs::Costs {
            store: self.workspace_store().clone(),
            catalog: table.clone(),
            directory: self.directory().clone(),
            index: table.clone(),
            budgets: table.clone(),
            actuals: table.clone(),
            cost_centres: table.clone(),
            rates: table.clone(),
            exports: self.exports().clone(),
        }
    }

    /// The exchange-rate use cases.
    pub fn exchange_rates(&self) -> atelier_domain::costs::ExchangeRates {
        atelier_domain::costs::ExchangeRates { store: self.table().clone() }
    }

    /// The cost-centre use cases.
    pub fn cost_centres(&self) -> atelier_domain::costs::CostCentres {
        atelier_domain::costs::CostCentres { store: self.table().clone(), users: self.directory().clone() }
    }

    /// The budget use cases.
    pub fn budgets(&self) -> atelier_domain::costs::Budgets {
        atelier_domain::costs::Budgets { store: self.table().clone(), users: self.directory().clone() }
    }
}

#[cfg(all(feature = "ec2", feature = "cognito", feature = "iam"))]
impl Root {
    /// The dataset use cases.
    pub fn datasets(&self) -> atelier_domain::datasets::Datasets {
        atelier_domain::datasets::Datasets {
            store: self.table().clone(),
            workspaces: self.workspace_store().clone(),
            groups: self.directory().clone(),
            mounts: self.ec2().clone(),
            credentials: self.workspace_roles().clone(),
        }
    }

    /// The data-access function's job at `now`: revocation, credentials, mounts.
    pub async fn data_access_job(
        &self,
        now: jiff::Timestamp,
    ) -> Result<atelier_domain::datasets::DataAccessReport, atelier_domain::DomainError> {
        atelier_domain::jobs::data_access(&self.datasets(), now).await
    }
}

#[cfg(all(feature = "ec2", feature = "servicecatalog", feature = "cognito", feature = "iam"))]
impl Root {
    /// The workspace use cases.
    pub fn workspaces(&self) -> atelier_domain::workspaces::Workspaces {
        atelier_domain::workspaces::Workspaces {
            store: self.workspace_store().clone(),
            catalog: self.table().clone(),
            provisioner: self.provisioner().clone(),
            power: self.power().clone(),
            directory: self.directory().clone(),
            defaults: self.table().clone(),
            gate: self.budget_gate().clone(),
        }
    }
}

#[cfg(all(feature = "ec2", feature = "cognito"))]
impl Root {
    /// Where the gateway finds machines: EC2 (private address, guard port), unless overridden.
    pub fn app_endpoints(&self) -> Arc<dyn atelier_domain::apps::AppEndpoints> {
        match &self.overrides.app_endpoints {
            Some(endpoints) => endpoints.clone(),
            None => Arc::new(self.ec2().app_endpoints(self.settings.gateway.guard_port)),
        }
    }

    /// The app use cases: the API's list and break-glass, the gateway's authorization.
    pub fn apps(&self) -> atelier_domain::apps::Apps {
        let table = self.table();
        atelier_domain::apps::Apps {
            store: self.workspace_store().clone(),
            catalog: table.clone(),
            endpoints: self.app_endpoints(),
            access: table.clone(),
            standings: self.directory().clone(),
            gateway_url: self.settings.gateway_url.clone().unwrap_or_default(),
        }
    }
}

#[cfg(feature = "costexplorer")]
impl Root {
    /// The cost-actuals function's job at `at`: Cost Explorer's closed days, stored.
    pub async fn cost_actuals_job(
        &self,
        at: jiff::Timestamp,
    ) -> Result<atelier_domain::costs::actuals::FetchReport, atelier_domain::DomainError> {
        let explorer = atelier_adapters::costexplorer::CostExplorer::new(&self.sdk);
        atelier_domain::jobs::cost_actuals(&explorer, self.table().as_ref(), at).await
    }
}

#[cfg(feature = "web")]
impl Root {
    /// The token verifier: the settings' user pool and app client, its keys from AWS's
    /// Cognito (or from `ATELIER_COGNITO_JWKS_BASE` locally).
    pub fn verifier(&self) -> &Arc<atelier_web::JwtVerifier> {
        self.verifier.get_or_init(|| {
            let region = self.sdk.region().map(|r| r.as_ref().to_owned()).unwrap_or_default();
            Arc::new(atelier_web::JwtVerifier::new(atelier_web::VerifierSettings::for_pool(
                &region,
                self.settings.user_pool_id(),
                self.settings.user_pool_client_id(),
                self.settings.cognito_jwks_base.as_deref(),
            )))
        })
    }

    /// The check of a caller's current standing in the directory (Cognito), trusted for
    /// [`atelier_domain::apps::STANDING_MAX_AGE`]: a constant, not a setting, so a deployment
    /// cannot widen the documented window.
    pub fn standing(&self) -> &Arc<atelier_web::StandingCheck> {
        self.standing.get_or_init(|| {
            let directory: Arc<dyn atelier_domain::apps::Standings> = self.directory().clone();
            Arc::new(atelier_web::StandingCheck::new(directory, atelier_domain::apps::STANDING_MAX_AGE))
        })
    }

    /// What every API request passes: the token verifier, the standing check and the
    /// per-caller limits (counted in the table).
    pub fn gate(&self) -> atelier_web::Gate {
        let counter: Arc<dyn atelier_domain::kernel::limits::RequestCounter> = self.table().clone();
        atelier_web::Gate { verifier: self.verifier().clone(), standing: self.standing().clone(), counter }
    }
}
