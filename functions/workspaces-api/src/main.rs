//! workspaces-api: `/v1/me`, `/v1/workspaces`, `/v1/schedules`, `/v1/costs`, `/v1/budgets`,
//! `/v1/datasets` and `/v1/openapi.json`. Configuration, clients, state, run.

use std::sync::Arc;

use atelier_adapters::{cognito::CognitoDirectory, dynamodb::Table, ec2::Ec2, settings};
use atelier_domain::datasets::Datasets;
use atelier_domain::service::Workspaces;
use atelier_web::{JwtVerifier, VerifierSettings, budgets, costs, datasets, workspaces};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    atelier_web::init_tracing();
    let config = atelier_adapters::aws_config().await?;
    let table = Arc::new(
        Table::new(aws_sdk_dynamodb::Client::new(&config), settings::required("ATELIER_TABLE")?)
            .with_max_active(atelier_adapters::dynamodb::max_active_from_env()?),
    );
    let user_pool_id = settings::required("ATELIER_USER_POOL_ID")?;
    let power = Arc::new(Ec2::new(aws_sdk_ec2::Client::new(&config)));
    let directory =
        Arc::new(CognitoDirectory::new(aws_sdk_cognitoidentityprovider::Client::new(&config), user_pool_id));
    let datasets =
        Datasets { store: table.clone(), workspaces: table.clone(), groups: directory.clone(), mounts: power.clone() };
    let workspaces = Workspaces {
        store: table.clone(),
        catalog: table.clone(),
        provisioner: atelier_adapters::provisioner(&config, &settings::ProvisionerSettings::from_env()?),
        power,
        directory: directory.clone(),
        defaults: table.clone(),
    };
    let verifier = Arc::new(JwtVerifier::new(VerifierSettings::from_env()?));
    let costs = costs::router(costs::CostsState {
        verifier: verifier.clone(),
        costs: workspaces.costs(table.clone(), table.clone(), table.clone()),
    });
    let budgets = budgets::router(budgets::BudgetsState {
        verifier: verifier.clone(),
        budgets: atelier_domain::costs::Budgets { store: table, users: directory },
    });
    let datasets_routes =
        datasets::router(datasets::DatasetsState { verifier: verifier.clone(), datasets: datasets.clone() });
    let openapi = atelier_web::openapi::router()?;
    atelier_web::run(
        workspaces::router(workspaces::WorkspacesState { verifier, workspaces, datasets })
            .merge(costs)
            .merge(budgets)
            .merge(datasets_routes)
            .merge(openapi),
    )
    .await
}
