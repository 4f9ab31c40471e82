//! data-access: every minute, the data-access pass (`atelier_domain::jobs::data_access`):
//! revokes dataset access that no longer holds, converges every workspace role's data
//! policy in IAM with its attachments, deletes the roles of ended workspaces, republishes
//! the mount lists and records what the workspace agents mounted. Its per-item failures
//! become the `RevocationFailures` metric (embedded metric format), which raises an alarm.
//! Locally (no Lambda Runtime API) it runs one pass and prints its report.

use atelier_app::job::{self, Local};

// Lambda runs one invocation at a time per execution environment: no worker threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), atelier_app::Error> {
    job::init_tracing();
    let root = &atelier_app::from_env(&atelier_app::settings::DATA_ACCESS)?;
    job::run(Local::NoEvent, |_event| async move {
        let now = jiff::Timestamp::now();
        let report = root.data_access_job(now).await?;
        println!("{}", job::metric_line("data-access", "RevocationFailures", report.failed.len(), now));
        Ok(serde_json::to_value(report)?)
    })
    .await
}
