//! workspaces-api: `/v1/me`, `/v1/workspaces`, `/v1/schedules`, `/v1/costs`, `/v1/budgets`,
//! `/v1/datasets` and `/v1/openapi.json`. Its routes and their wiring are the composition
//! root's (`Root::workspaces_api`), which the dev server and the tests serve too.

// Lambda runs one invocation at a time per execution environment: no worker threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), atelier_app::Error> {
    atelier_app::init_tracing();
    let root = atelier_app::from_env(&atelier_app::settings::WORKSPACES_API)?;
    atelier_app::serve(move || root.workspaces_api()).await
}
