//! scheduler: on each EventBridge tick, the working-window scheduler, then the budget watch
//! (`atelier_domain::jobs::SchedulerJob`: the month index's upkeep on every tick, budget
//! totals once per `ATELIER_BUDGET_EVERY_MINUTES`). The instant is the event's `time`, never
//! the wall clock, so any tick can be replayed. Locally (no Lambda Runtime API) it reads
//! one event JSON from stdin.

use atelier_app::job::{self, Local};

// Lambda runs one invocation at a time per execution environment: no worker threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), atelier_app::Error> {
    job::init_tracing();
    let root = &atelier_app::from_env(&atelier_app::settings::SCHEDULER)?;
    job::run(Local::EventOnStdin, |event| async move {
        let at = job::event_time(&event)?;
        Ok(serde_json::to_value(root.scheduler_job().run(at).await?)?)
    })
    .await
}
