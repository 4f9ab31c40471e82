//! Errors as RFC 9457 `application/problem+json` documents with a stable `type`. Server
//! faults get a generic message; their cause goes to the logs, never to the client.

use atelier_domain::DomainError;
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// Media type of error bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything a route can answer instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or a token that does not verify. The reason is logged, not returned.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A malformed request body or query; `field` names what is wrong when known.
    #[error("{message}")]
    BadRequest { field: Option<String>, message: String },
    /// Body larger than allowed.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Body not JSON.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// No such route.
    #[error("no such route")]
    RouteNotFound,
    /// The route exists, not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error(transparent)]
    Domain(#[from] DomainError),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str, Option<String>, String) {
        use ApiError as A;
        use DomainError as D;
        match self {
            A::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                None,
                "a valid access token is required".into(),
            ),
            A::BadRequest { field, message } => {
                (StatusCode::BAD_REQUEST, "invalid-request", "Invalid request", field.clone(), message.clone())
            }
            A::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
                None,
                "the request body is larger than allowed".into(),
            ),
            A::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                None,
                m.clone(),
            ),
            A::RouteNotFound => (StatusCode::NOT_FOUND, "not-found", "Not found", None, "no such route".into()),
            A::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                None,
                "this route does not accept this method".into(),
            ),
            A::Domain(d) => match d {
                D::NotFound { kind } => {
                    (StatusCode::NOT_FOUND, "not-found", "Not found", None, format!("{kind} not found"))
                }
                D::Invalid { field, message } => (
                    StatusCode::BAD_REQUEST,
                    "invalid-request",
                    "Invalid request",
                    Some(field.clone()),
                    format!("{field}: {message}"),
                ),
                D::Unprocessable { field, message } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unprocessable",
                    "Request cannot be honoured",
                    Some(field.clone()),
                    format!("{field}: {message}"),
                ),
                D::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden", None, m.clone()),
                D::IllegalTransition(t) => (
                    StatusCode::CONFLICT,
                    "illegal-transition",
                    "Action not allowed in this state",
                    None,
                    t.to_string(),
                ),
                D::Concurrent => {
                    (StatusCode::CONFLICT, "concurrent-modification", "Concurrent modification", None, d.to_string())
                }
                D::Upstream(u) if u.retryable => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "upstream-unavailable",
                    "Temporarily unavailable",
                    None,
                    "an AWS service is busy or unreachable; retry shortly".into(),
                ),
                D::Upstream(_) => (
                    StatusCode::BAD_GATEWAY,
                    "upstream-failure",
                    "AWS request failed",
                    None,
                    "an AWS service refused the request; the operators have the details".into(),
                ),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title, field, detail) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        } else if status == StatusCode::UNAUTHORIZED {
            tracing::info!(reason = %self, "rejected token");
        }
        let kind = format!("/problems/{slug}");
        let mut response =
            (status, Json(Problem { kind: &kind, title, status: status.as_u16(), detail, field })).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<atelier_domain::ports::StoreError> for ApiError {
    fn from(e: atelier_domain::ports::StoreError) -> Self {
        ApiError::Domain(e.into())
    }
}

/// Fallback for unknown routes, as a problem document.
pub async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

/// Fallback for a known route called with the wrong method, as a problem document.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
