//! One code path for a scheduled function on Lambda and on a laptop: on Lambda (the Lambda
//! Runtime API is present) every invocation's event goes to the handler; elsewhere the
//! handler runs once, on an event read from standard input or on none, and its answer is
//! printed.

use std::future::Future;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tokio::io::AsyncReadExt;

/// What a run outside Lambda runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// One event, as JSON on standard input (`scheduler`, `cost-actuals`).
    EventOnStdin,
    /// No event (`state-sync`, which acts on the wall clock).
    NoEvent,
}

/// Structured logs, as the Lambda runtime's default subscriber writes them.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Runs `handler` on Lambda's events, or once locally as `local` says.
pub async fn run<F, Fut>(local: Local, handler: F) -> Result<(), Error>
where
    F: Fn(Value) -> Fut,
    Fut: Future<Output = Result<Value, Error>>,
{
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        let event = match local {
            Local::EventOnStdin => {
                let mut input = String::new();
                tokio::io::stdin().read_to_string(&mut input).await?;
                serde_json::from_str(&input)?
            }
            Local::NoEvent => Value::Null,
        };
        println!("{}", handler(event).await?);
        return Ok(());
    }
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| handler(event.payload))).await
}

/// The instant of a scheduled event (its `time` field).
pub fn event_time(event: &Value) -> Result<jiff::Timestamp, atelier_domain::DomainError> {
    atelier_domain::kernel::event_instant(event.get("time").and_then(Value::as_str))
}
