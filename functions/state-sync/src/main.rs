//! state-sync: one pass over transitional workspaces per EventBridge tick, then the
//! datasets' revocation pass (docs/adr/0007-datasets.md). Locally (no Lambda Runtime API)
//! it runs one pass and exits.

use std::sync::Arc;

use atelier_adapters::{cognito::CognitoDirectory, dynamodb::Table, ec2::Ec2, settings};
use atelier_domain::{
    datasets::{DatasetSync, Datasets},
    sync::StateSync,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = atelier_adapters::aws_config().await?;
    let table = Arc::new(Table::new(aws_sdk_dynamodb::Client::new(&config), settings::required("ATELIER_TABLE")?));
    let provisioner = atelier_adapters::provisioner(&config, &settings::ProvisionerSettings::from_env()?);
    let power = Arc::new(Ec2::new(aws_sdk_ec2::Client::new(&config)));
    let directory = Arc::new(CognitoDirectory::new(
        aws_sdk_cognitoidentityprovider::Client::new(&config),
        settings::required("ATELIER_USER_POOL_ID")?,
    ));
    let timeouts = settings::sync_timeouts()?;
    let sync = StateSync {
        store: table.as_ref(),
        catalog: table.as_ref(),
        provisioner: provisioner.as_ref(),
        power: power.as_ref(),
        timeouts,
    };
    let datasets =
        Datasets { store: table.clone(), workspaces: table.clone(), groups: directory, mounts: power.clone() };
    let once = |_event: Option<Value>| async {
        let report = sync.run(jiff::Timestamp::now()).await?;
        let revocation = DatasetSync { datasets: &datasets }.run(jiff::Timestamp::now()).await?;
        Ok::<_, Error>(json!({
            "examined": report.examined,
            "settled": report.settled,
            "failed": report.failed,
            "datasets": revocation,
        }))
    };
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        println!("{}", once(None).await?);
        return Ok(());
    }
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| once(Some(event.payload)))).await
}
