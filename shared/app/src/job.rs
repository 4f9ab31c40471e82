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

/// The CloudWatch namespace of Atelier's own metrics (`infra/template.yaml` alarms on them).
pub const METRIC_NAMESPACE: &str = "Atelier";

/// One count in CloudWatch's embedded metric format: a JSON log line that CloudWatch Logs
/// turns into the metric `name` of [`METRIC_NAMESPACE`], dimension `Function` = `function`,
/// at `at`. Printed on standard output, where Lambda sends it to the function's log group.
pub fn metric_line(function: &str, name: &str, value: usize, at: jiff::Timestamp) -> Value {
    serde_json::json!({
        "_aws": {
            "Timestamp": at.as_millisecond(),
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [{ "Name": name, "Unit": "Count" }]
            }]
        },
        "Function": function,
        name: value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_line_is_embedded_metric_format() {
        let at: jiff::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let line = metric_line("data-access", "RevocationFailures", 2, at);
        assert_eq!(line["_aws"]["Timestamp"], 1_796_119_200_000_i64);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Atelier");
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["Function"]]));
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "RevocationFailures");
        assert_eq!((line["Function"].as_str(), line["RevocationFailures"].as_u64()), (Some("data-access"), Some(2)));
    }
}
