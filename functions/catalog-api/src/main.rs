//! catalog-api: `/v1/products`. Its routes and their wiring are the composition root's
//! (`Root::catalog_api`), which the dev server and the tests serve too.

// Lambda runs one invocation at a time per execution environment: no worker threads to start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), atelier_app::Error> {
    atelier_app::init_tracing();
    let root = atelier_app::from_env(&atelier_app::settings::CATALOG_API)?;
    atelier_app::serve(move || root.catalog_api()).await
}
