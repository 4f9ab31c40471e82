//! Errors the use cases report. The HTTP layer maps each variant to one status code.

use crate::workspaces::IllegalTransition;

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
    NotFound {
        /// What was looked for, in the singular (`workspace`, `dataset`, `user`): the only
        /// detail the answer gives.
        kind: &'static str,
    },
    /// The input is malformed; `field` names the offending field.
    #[error("{field}: {message}")]
    Invalid {
        /// The field as the client spells it (`name`, `productId`, `Idempotency-Key`); sent
        /// back in the problem document's `field`.
        field: String,
        /// What is wrong, worded to follow the field's name (`must be 1 to 64 characters long`).
        message: String,
    },
    /// The input is well-formed but cannot be honoured (e.g. hibernate on a product without it).
    #[error("{field}: {message}")]
    Unprocessable {
        /// The field as the client spells it (`productId`, `month`, `thresholds`).
        field: String,
        /// Why it cannot be honoured, worded to follow the field's name.
        message: String,
    },
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

/// Runs `attempt` again while it fails with [`DomainError::Concurrent`], at most `attempts`
/// times in all, and answers its last outcome. For changes that commute with the state
/// changes state-sync and the scheduler make concurrently: each attempt re-reads and
/// re-decides, so losing a conditional write to one of them is not failed back to the user.
pub async fn retry_concurrent<T, F>(attempts: usize, mut attempt: impl FnMut() -> F) -> Result<T, DomainError>
where
    F: std::future::Future<Output = Result<T, DomainError>>,
{
    let mut tried = 1;
    loop {
        match attempt().await {
            Err(DomainError::Concurrent) if tried < attempts => tried += 1,
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Fails with `first` errors (made by `error`) and then succeeds; counts its calls.
    async fn run(attempts: usize, first: usize, error: fn() -> DomainError) -> (Result<usize, DomainError>, usize) {
        let calls = Cell::new(0);
        let outcome = retry_concurrent(attempts, || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n <= first { Err(error()) } else { Ok(n) } }
        })
        .await;
        (outcome, calls.get())
    }

    #[tokio::test]
    async fn lost_writes_are_tried_again_up_to_the_limit_and_other_errors_are_not() {
        let (outcome, calls) = run(4, 3, || DomainError::Concurrent).await;
        assert_eq!((outcome.expect("the fourth attempt wins"), calls), (4, 4));
        let (outcome, calls) = run(4, 4, || DomainError::Concurrent).await;
        assert!(matches!(outcome, Err(DomainError::Concurrent)), "{outcome:?}");
        assert_eq!(calls, 4, "four attempts in all, then the conflict is answered");
        let (outcome, calls) = run(4, 1, || DomainError::NotFound { kind: "workspace" }).await;
        assert!(matches!(outcome, Err(DomainError::NotFound { .. })), "{outcome:?}");
        assert_eq!(calls, 1, "only a lost conditional write is tried again");
    }
}
