//! Errors the use cases report. The HTTP layer maps each variant to one status code.

use crate::lifecycle::IllegalTransition;

/// A failure of an external system (DynamoDB, EC2, Service Catalog, Cognito), kept with
/// its cause and whether trying again later may help.
#[derive(Debug, thiserror::Error)]
#[error("{service} {operation} failed")]
pub struct UpstreamError {
    /// The external service, e.g. `dynamodb`.
    pub service: &'static str,
    /// The operation that failed, e.g. `TransactWriteItems`.
    pub operation: &'static str,
    /// True when the failure is throttling or a transient fault: the caller may retry later.
    pub retryable: bool,
    /// The underlying error, for the logs only.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl UpstreamError {
    /// Wraps `source` as a failure of `service`'s `operation`.
    pub fn new(
        service: &'static str,
        operation: &'static str,
        retryable: bool,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self { service, operation, retryable, source: source.into() }
    }
}

/// Everything a use case can answer instead of success.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The thing does not exist, or the caller may not know it exists.
    #[error("{kind} not found")]
    NotFound { kind: &'static str },
    /// The input is malformed; `field` names the offending field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The input is well-formed but cannot be honoured (e.g. hibernate on a product without it).
    #[error("{field}: {message}")]
    Unprocessable { field: String, message: String },
    /// The caller lacks the role for this operation.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The action is not allowed in the workspace's current state.
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// Someone else changed the record first; the caller may reload and retry.
    #[error("the workspace changed while this request was being handled; reload and retry")]
    Concurrent,
    /// An external system failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl DomainError {
    /// Shorthand for [`DomainError::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), message: message.into() }
    }

    /// Shorthand for [`DomainError::Unprocessable`].
    pub fn unprocessable(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unprocessable { field: field.into(), message: message.into() }
    }
}
