//! state-sync: on each EventBridge tick, one state-sync pass over transitional workspaces
//! (`atelier_domain::jobs::StateSyncJob`), at the wall clock (dataset revocation is the
//! data-access function's own job). Locally (no Lambda Runtime API) it runs one tick and prints its report.

use atelier_app::job::{self, Local};

// Lambda runs one invocation at a time per execution environment: no worker threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), atelier_app::Error> {
    job::init_tracing();
    let root = &atelier_app::from_env(&atelier_app::settings::STATE_SYNC)?;
    job::run(Local::NoEvent, |_event| async move {
        let now = jiff::Timestamp::now();
        let outcome = root.state_sync_job(now).await?;
        // Every workspace moved to FAILED raises the FailedWorkspaces alarm (infra/template.yaml).
        println!("{}", job::metric_line("state-sync", "FailedWorkspaces", outcome.failed_workspaces, now));
        Ok(serde_json::to_value(outcome)?)
    })
    .await
}
