//! One code path for Lambda and for a local port: a router is handed to `lambda_http`
//! when the Lambda Runtime API is present, and served with axum otherwise.

use crate::extract::MAX_BODY_BYTES;
use axum::Router;

/// Structured logs: honours `AWS_LAMBDA_LOG_FORMAT=JSON` and `AWS_LAMBDA_LOG_LEVEL` (or
/// `RUST_LOG`), as the Lambda runtime's default subscriber does.
pub fn init_tracing() {
    lambda_http::tracing::init_default_subscriber();
}

/// The layers every API router gets: body size cap, problem+json 404 and 405, and
/// `Cache-Control: no-store` on every answer.
pub fn finish(router: Router) -> Router {
    // The body cap is enforced where bodies are read (the JSON extractor), so that an
    // oversized body gets a problem document like every other error.
    router
        .fallback(crate::problem::not_found)
        .method_not_allowed_fallback(crate::problem::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(no_store))
}

/// Every API answer is someone's own data (workspaces, costs, the data-access trace) or an
/// error about it: no browser cache, proxy or CloudFront may keep a copy, not even of a
/// 404 (it tells whether a resource exists for that caller). Set last, over anything a
/// route set.
async fn no_store(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

/// Serves the router `build` makes, on Lambda or on `ATELIER_BIND` (default
/// `127.0.0.1:8080`) elsewhere. `build` must give a finished router ([`finish`]).
///
/// On Lambda the router is built when the first request arrives, not at start-up: building
/// it creates the SDK clients, the token verifier and every route, which the function
/// would otherwise do before it even polls for its first event (docs/benchmarks.md). What
/// can fail is checked before (the settings), so a misconfigured function still fails at
/// init.
pub async fn serve<F>(build: F) -> Result<(), lambda_http::Error>
where
    F: FnOnce() -> Router + Send + 'static,
{
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        let router = std::sync::Arc::new(std::sync::LazyLock::new(build));
        let service = tower::service_fn(move |request: lambda_http::Request| {
            let router = std::sync::LazyLock::force(&router).clone();
            tower::ServiceExt::oneshot(router, request)
        });
        return lambda_http::run(service).await;
    }
    let router = build();
    let bind = std::env::var("ATELIER_BIND").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    axum::serve(listener, router).await?;
    Ok(())
}
