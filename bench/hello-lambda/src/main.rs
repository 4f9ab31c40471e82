//! hello-lambda: the smallest lambda_http + axum function, with the same tracing set-up as
//! Atelier's API functions. `make bench` compares their binary size and init time with it.

use axum::{Router, routing::get};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let router = Router::new().route("/hello", get(|| async { "hello" }));
    lambda_http::run(router).await
}
