//! cost-actuals: once a day, asks Cost Explorer what AWS billed per `atelier:owner` and
//! `atelier:workspace` tag for the closed days of the month, and stores it for the cost
//! reports' `actual` fields. The only function that links the Cost Explorer SDK; reports
//! never call Cost Explorer. The instant is the event's `time`, so any day can be
//! replayed. Locally (no Lambda Runtime API) it reads one event JSON from stdin.

use atelier_adapters::{costexplorer::CostExplorer, dynamodb::Table, settings};
use atelier_domain::{costs::actuals::fetch, scheduler::event_instant};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = atelier_adapters::aws_config().await?;
    let table = Table::new(aws_sdk_dynamodb::Client::new(&config), settings::required("ATELIER_TABLE")?);
    let explorer = CostExplorer::new(&config);
    let (table, explorer) = (&table, &explorer);
    let once = move |event: Value| async move {
        let at = event_instant(event.get("time").and_then(Value::as_str))?;
        Ok::<_, Error>(serde_json::to_value(fetch(explorer, table, at).await?)?)
    };
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        let mut input = String::new();
        tokio::io::stdin().read_to_string(&mut input).await?;
        println!("{}", once(serde_json::from_str(&input)?).await?);
        return Ok(());
    }
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| once(event.payload))).await
}
