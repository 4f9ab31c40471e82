//! catalog-api: `/v1/products`. Its routes and their wiring are the composition root's
//! (`Root::catalog_api`), which the dev server and the tests serve too.

#[tokio::main]
async fn main() -> Result<(), atelier_app::Error> {
    atelier_app::init_tracing();
    let root = atelier_app::from_env(&atelier_app::settings::CATALOG_API)?;
    atelier_app::serve(root.catalog_api()).await
}
