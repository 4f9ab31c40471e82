//! AWS adapters for the domain's ports, one module per service. Each module sits behind a
//! cargo feature so that a function links only the SDK crates it uses.
//!
//! The SDK is pointed at a local AWS-API server (moto) with the standard
//! `AWS_ENDPOINT_URL` variable: there is no "local mode" in this crate.

// Production functions stay under 80 lines (clippy.toml); tests may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

use atelier_domain::UpstreamError;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[cfg(feature = "cognito")]
pub mod cognito;
#[cfg(feature = "costexplorer")]
pub mod costexplorer;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "ec2")]
pub mod ec2;
#[cfg(feature = "iam")]
pub mod iam;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "servicecatalog")]
pub mod servicecatalog;
#[cfg(feature = "ses")]
pub mod ses;

pub mod lambda_config;
pub use lambda_config::ConfigError;

/// The name of a workspace's IAM role and instance profile (`atelier-<workspace id>`, at
/// most 37 characters of IAM's 64): the provisioners launch its machine with that profile,
/// the Service Catalog product derives it from its `WorkspaceId` parameter.
pub fn workspace_role_name(id: &atelier_domain::kernel::WorkspaceId) -> String {
    format!("atelier-{id}")
}

/// Error codes that mean "slow down or try again", across the services Atelier calls.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "ServiceUnavailable",
    "InternalServerError",
    "InternalError",
    "TransactionInProgressException",
];

/// Turns an SDK error into an [`UpstreamError`], keeping the cause and whether a retry may help.
pub(crate) fn upstream<E, R>(service: &'static str, operation: &'static str, err: SdkError<E, R>) -> UpstreamError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(e) => e.err().code().is_some_and(|c| RETRYABLE_CODES.contains(&c)),
        _ => false,
    };
    UpstreamError::new(
        service,
        operation,
        retryable,
        aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
    )
}

/// The error code of a service error, if the SDK error is one.
pub(crate) fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// Where and how `ec2-launch` launches: every field is required (the settings name each
/// missing one at start-up), so no launch falls back to a default VPC, group or key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ec2LaunchSettings {
    /// The private workspace subnet (`subnet-...`).
    pub subnet_id: String,
    /// The workspace security group (`sg-...`).
    pub security_group_id: String,
    /// The KMS key encrypting the root volumes (id, ARN or alias).
    pub kms_key_id: String,
    /// The machine image (`ami-...`).
    pub image_id: String,
    /// The launch template holding the bootstrap user data (`lt-...`), its latest version (CloudFormation never moves the default one).
    pub launch_template_id: String,
}
