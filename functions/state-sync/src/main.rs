//! state-sync: one pass over transitional workspaces per EventBridge tick. Locally (no
//! Lambda Runtime API) it runs one pass and exits.

use atelier_adapters::{dynamodb::Table, ec2::Ec2, settings};
use atelier_domain::sync::StateSync;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = atelier_adapters::aws_config().await?;
    let table = Table::new(aws_sdk_dynamodb::Client::new(&config), settings::required("ATELIER_TABLE")?);
    let provisioner = atelier_adapters::provisioner(&config, &settings::ProvisionerSettings::from_env()?);
    let power = Ec2::new(aws_sdk_ec2::Client::new(&config));
    let timeouts = settings::sync_timeouts()?;
    let sync = StateSync { store: &table, catalog: &table, provisioner: provisioner.as_ref(), power: &power, timeouts };
    let once = |_event: Option<Value>| async {
        let report = sync.run(jiff::Timestamp::now()).await?;
        Ok::<_, Error>(json!({ "examined": report.examined, "settled": report.settled, "failed": report.failed }))
    };
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        println!("{}", once(None).await?);
        return Ok(());
    }
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| once(Some(event.payload)))).await
}
