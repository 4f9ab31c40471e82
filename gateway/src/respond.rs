//! The gateway's own answers: short HTML pages for browsers (with a link back to the
//! portal), the same words as text for scripts.

use atelier_domain::DomainError;
use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

/// `status` with `message`, and a link to `portal` when given.
pub fn refusal(status: StatusCode, message: &str, portal: Option<&str>) -> Response {
    let escaped = escape(message);
    let link = portal.map(|p| format!(r#"<p><a href="{}">Back to the portal</a></p>"#, escape(p))).unwrap_or_default();
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Atelier</title>\
         <body><h1>Atelier</h1><p>{escaped}</p>{link}</body></html>"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        page,
    )
        .into_response()
}

/// The answer for a refused authorisation.
pub fn domain(error: &DomainError, portal: Option<&str>) -> Response {
    match error {
        DomainError::NotFound { kind } => {
            refusal(StatusCode::NOT_FOUND, &format!("No such {kind}, or it is not yours."), portal)
        }
        DomainError::Forbidden(why) => refusal(StatusCode::FORBIDDEN, &format!("Access refused: {why}."), portal),
        DomainError::Unprocessable { message, .. } => {
            refusal(StatusCode::CONFLICT, &format!("Not available: {message}."), portal)
        }
        DomainError::Upstream(e) if e.retryable => refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "Atelier could not check your access just now; try again in a moment.",
            portal,
        ),
        other => {
            tracing::error!(error = %other, "authorisation failed");
            refusal(StatusCode::BAD_GATEWAY, "Atelier could not check your access.", portal)
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
