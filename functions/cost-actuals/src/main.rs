//! cost-actuals: once a day, asks Cost Explorer what AWS billed per `atelier:owner` and
//! `atelier:workspace` tag for the closed days of the month, and stores it for the cost
//! reports' `actual` fields. The only function that links the Cost Explorer SDK; reports
//! never call Cost Explorer. The instant is the event's `time`, so any day can be
//! replayed. Locally (no Lambda Runtime API) it reads one event JSON from stdin.

use atelier_app::job::{self, Local};

// Lambda runs one invocation at a time per execution environment: no worker threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), atelier_app::Error> {
    job::init_tracing();
    let root = &atelier_app::from_env(&atelier_app::settings::COST_ACTUALS)?;
    job::run(Local::EventOnStdin, |event| async move {
        let at = job::event_time(&event)?;
        Ok(serde_json::to_value(root.cost_actuals_job(at).await?)?)
    })
    .await
}
