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
    BadRequest {
        /// The field as the client spells it, dotted for nested ones (`limit`,
        /// `windows[0].start`), when the decoder could tell; the problem's `field`.
        field: Option<String>,
        /// The problem's `detail`, as the client reads it.
        message: String,
    },
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
    /// The caller made more requests of `limit`'s class than it allows in one window.
    #[error("too many requests: {} in {}", limit.class, limit.per)]
    TooManyRequests {
        /// The limit reached.
        limit: atelier_domain::kernel::limits::Limit,
        /// Seconds until the window ends (`Retry-After`).
        retry_after: u64,
    },
    /// What the use case answered; mapped variant by variant to a status, an upstream
    /// failure's cause going to the logs only.
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

/// What a problem document says besides its detail: status, stable type slug, title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kind {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
}

const fn kind(status: StatusCode, slug: &'static str, title: &'static str) -> Kind {
    Kind { status, slug, title }
}

const UNAUTHORIZED: Kind = kind(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized");
const INVALID: Kind = kind(StatusCode::BAD_REQUEST, "invalid-request", "Invalid request");
const TOO_LARGE: Kind = kind(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large");
const MEDIA_TYPE: Kind = kind(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type");
const NOT_FOUND: Kind = kind(StatusCode::NOT_FOUND, "not-found", "Not found");
const METHOD: Kind = kind(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed");
const UNPROCESSABLE: Kind = kind(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "Request cannot be honoured");
const FORBIDDEN: Kind = kind(StatusCode::FORBIDDEN, "forbidden", "Forbidden");
const ILLEGAL: Kind = kind(StatusCode::CONFLICT, "illegal-transition", "Action not allowed in this state");
const CONCURRENT: Kind = kind(StatusCode::CONFLICT, "concurrent-modification", "Concurrent modification");
const TOO_MANY: Kind = kind(StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests");
const UNAVAILABLE: Kind = kind(StatusCode::SERVICE_UNAVAILABLE, "upstream-unavailable", "Temporarily unavailable");
const UPSTREAM: Kind = kind(StatusCode::BAD_GATEWAY, "upstream-failure", "AWS request failed");

impl ApiError {
    /// The problem's kind, the field at fault when known, and the detail.
    fn parts(&self) -> (Kind, Option<String>, String) {
        match self {
            ApiError::Unauthorized(_) => (UNAUTHORIZED, None, "a valid access token is required".into()),
            ApiError::BadRequest { field, message } => (INVALID, field.clone(), message.clone()),
            ApiError::PayloadTooLarge => (TOO_LARGE, None, "the request body is larger than allowed".into()),
            ApiError::UnsupportedMediaType(m) => (MEDIA_TYPE, None, m.clone()),
            ApiError::RouteNotFound => (NOT_FOUND, None, "no such route".into()),
            ApiError::MethodNotAllowed => (METHOD, None, "this route does not accept this method".into()),
            ApiError::TooManyRequests { limit, retry_after } => (
                TOO_MANY,
                None,
                format!(
                    "at most {} {} requests per {} s per person; retry in {retry_after} s",
                    limit.requests,
                    limit.class,
                    limit.per.as_secs()
                ),
            ),
            ApiError::Domain(d) => domain_parts(d),
        }
    }
}

/// [`ApiError::parts`] of a use case's error. Upstream failures say nothing of AWS: the
/// cause goes to the logs.
fn domain_parts(error: &DomainError) -> (Kind, Option<String>, String) {
    match error {
        DomainError::NotFound { kind } => (NOT_FOUND, None, format!("{kind} not found")),
        DomainError::Invalid { field, message } => (INVALID, Some(field.clone()), format!("{field}: {message}")),
        DomainError::Unprocessable { field, message } => {
            (UNPROCESSABLE, Some(field.clone()), format!("{field}: {message}"))
        }
        DomainError::Forbidden(m) => (FORBIDDEN, None, m.clone()),
        DomainError::IllegalTransition(t) => (ILLEGAL, None, t.to_string()),
        DomainError::Concurrent => (CONCURRENT, None, error.to_string()),
        DomainError::Upstream(u) if u.retryable => {
            (UNAVAILABLE, None, "an AWS service is busy or unreachable; retry shortly".into())
        }
        DomainError::Upstream(_) => {
            (UPSTREAM, None, "an AWS service refused the request; the operators have the details".into())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (Kind { status, slug, title }, field, detail) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        } else if status == StatusCode::UNAUTHORIZED {
            tracing::info!(reason = %self, "rejected token");
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            tracing::info!(reason = %self, "limited");
        }
        let kind = format!("/problems/{slug}");
        let mut response =
            (status, Json(Problem { kind: &kind, title, status: status.as_u16(), detail, field })).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        if let ApiError::TooManyRequests { retry_after, .. } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<atelier_domain::kernel::StoreError> for ApiError {
    fn from(e: atelier_domain::kernel::StoreError) -> Self {
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
