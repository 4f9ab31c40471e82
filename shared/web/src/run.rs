//! One code path for Lambda and for a local port: a router is handed to `lambda_http`
//! when the Lambda Runtime API is present, and served with axum otherwise.

use crate::extract::MAX_BODY_BYTES;
use axum::Router;

/// Structured logs: honours `AWS_LAMBDA_LOG_FORMAT=JSON` and `AWS_LAMBDA_LOG_LEVEL` (or
/// `RUST_LOG`), as the Lambda runtime's default subscriber does.
pub fn init_tracing() {
    lambda_http::tracing::init_default_subscriber();
}

/// The layers every API router gets: body size cap and problem+json 404 and 405.
pub fn finish(router: Router) -> Router {
    // The body cap is enforced where bodies are read (the JSON extractor), so that an
    // oversized body gets a problem document like every other error.
    router
        .fallback(crate::problem::not_found)
        .method_not_allowed_fallback(crate::problem::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Serves `router` on Lambda, or on `ATELIER_BIND` (default `127.0.0.1:8080`) elsewhere.
pub async fn serve(router: Router) -> Result<(), lambda_http::Error> {
    let router = finish(router);
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda_http::run(router).await;
    }
    let bind = std::env::var("ATELIER_BIND").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    axum::serve(listener, router).await?;
    Ok(())
}
