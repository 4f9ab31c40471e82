//! scheduler: starts and stops workspaces at their working-window transitions, then runs
//! the budget watch once per EventBridge tick: the month index's upkeep on every tick,
//! budget totals (threshold crossings, `stop-at-100`) once per `ATELIER_BUDGET_EVERY_MINUTES`.
//! The instant is the event's `time`, never the wall clock, so any tick can be replayed. Locally (no Lambda Runtime API) it reads one event JSON from stdin.

use atelier_adapters::{dynamodb::Table, ec2::Ec2, settings};
use atelier_domain::{
    costs::{BudgetWatch, watch::budgets_due},
    scheduler::{Scheduler, event_instant},
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tokio::io::AsyncReadExt;

/// The EventBridge rule's rate (infra/template.yaml: `rate(5 minutes)`).
const TICK: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = atelier_adapters::aws_config().await?;
    let table = Table::new(aws_sdk_dynamodb::Client::new(&config), settings::required("ATELIER_TABLE")?);
    let power = Ec2::new(aws_sdk_ec2::Client::new(&config));
    let scheduler = &Scheduler { store: &table, power: &power, runs: &table };
    let watch = &BudgetWatch { store: &table, catalog: &table, index: &table, budgets: &table, power: &power };
    let budget_every = settings::budget_every()?;
    let once = move |event: Value| async move {
        let at = event_instant(event.get("time").and_then(Value::as_str))?;
        let schedule = scheduler.run(at).await?;
        // After the scheduler, so that a user over a stop-at-100 budget is stopped even
        // when their window just opened. Totals once per `budget_every`; upkeep always.
        let budget =
            if budgets_due(at, budget_every, TICK) { watch.run(at).await? } else { watch.maintain(at).await? };
        Ok::<_, Error>(serde_json::json!({ "scheduler": schedule, "budget": budget }))
    };
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        let mut input = String::new();
        tokio::io::stdin().read_to_string(&mut input).await?;
        println!("{}", once(serde_json::from_str(&input)?).await?);
        return Ok(());
    }
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| once(event.payload))).await
}
