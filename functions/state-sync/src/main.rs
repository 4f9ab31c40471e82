//! state-sync: on each EventBridge tick, one full state-sync pass
//! (`atelier_domain::jobs::StateSyncJob`), at the wall clock; on an EC2 instance
//! state-change notification, the one instance's workspace (dataset revocation is the
//! data-access function's own job). Locally (no Lambda Runtime API) it runs one full pass
//! and prints its report.

use atelier_app::job::{self, Local};

// Lambda runs one invocation at a time per execution environment: no worker threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), atelier_app::Error> {
    job::init_tracing();
    let root = &atelier_app::from_env(&atelier_app::settings::STATE_SYNC)?;
    job::run(Local::NoEvent, |event| async move {
        let now = jiff::Timestamp::now();
        let outcome = root.state_sync_on(&event, now).await?;
        // Every workspace moved to FAILED, and every FAILED one still costing money, raises
        // the FailedWorkspaces alarm (infra/template.yaml).
        let failed = outcome.failed_workspaces_metric();
        println!("{}", job::metric_line("state-sync", "FailedWorkspaces", failed, now));
        Ok(serde_json::to_value(outcome)?)
    })
    .await
}
