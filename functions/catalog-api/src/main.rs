//! catalog-api: `/v1/products`. Configuration, clients, state, run.

use std::sync::Arc;

use atelier_adapters::{dynamodb::Table, settings};
use atelier_web::{JwtVerifier, VerifierSettings, catalog};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    atelier_web::init_tracing();
    let config = atelier_adapters::aws_config().await?;
    let table = Table::new(aws_sdk_dynamodb::Client::new(&config), settings::required("ATELIER_TABLE")?);
    let verifier = Arc::new(JwtVerifier::new(VerifierSettings::from_env()?));
    atelier_web::run(catalog::router(catalog::CatalogState { verifier, catalog: Arc::new(table) })).await
}
