//! The AWS configuration of a Lambda function, from the variables Lambda sets, and nothing
//! else: no config or credentials files, no profile, SSO, STS, web-identity, container or
//! instance-metadata providers. A Lambda function gets its region and its execution role's
//! credentials as environment variables (`AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), valid for the life of the execution
//! environment. Leaving `aws-config` out keeps its STS client and its provider chain out of
//! the binaries (smaller, faster to start: see docs/benchmarks.md).
//!
//! The HTTPS client is the SDK's default one (hyper, rustls with aws-lc), built on first
//! use: the SDK would otherwise load the platform's root certificates during init.
//! `AWS_ENDPOINT_URL` is honoured, as the SDK's own loader does (local stack, tests).

use std::{sync::OnceLock, time::Duration};

use aws_credential_types::{Credentials, provider::SharedCredentialsProvider};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::{
    http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector},
    runtime_components::RuntimeComponents,
};
use aws_types::{
    SdkConfig,
    region::Region,
    sdk_config::{RetryConfig, TimeoutConfig},
};

/// A missing or malformed AWS variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (Lambda sets it; set it by hand elsewhere)")]
    Missing(&'static str),
}

/// Connect timeout, as the SDK's default loader sets it.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The configuration every client of the function is built from, with Lambda's variables
/// read through `var`: region, credentials and optional endpoint; standard retries (3
/// attempts with exponential back-off, the SDK's default); the lazily built default HTTPS
/// client.
pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, ConfigError> {
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).ok_or(ConfigError::Missing("AWS_REGION"))?;
    let key = var("AWS_ACCESS_KEY_ID").ok_or(ConfigError::Missing("AWS_ACCESS_KEY_ID"))?;
    let secret = var("AWS_SECRET_ACCESS_KEY").ok_or(ConfigError::Missing("AWS_SECRET_ACCESS_KEY"))?;
    let credentials = Credentials::new(key, secret, var("AWS_SESSION_TOKEN"), None, "lambda-environment");
    let mut config = SdkConfig::builder()
        .behavior_version(aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .retry_config(RetryConfig::standard())
        .timeout_config(TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build())
        .http_client(SharedHttpClient::new(LazyHttps::default()));
    if let Some(endpoint) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    Ok(config.build())
}

/// The SDK's default HTTPS client, created when the first request needs a connector rather
/// than when the clients are built.
#[derive(Debug, Default)]
struct LazyHttps(OnceLock<SharedHttpClient>);

impl HttpClient for LazyHttps {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        self.0
            .get_or_init(|| {
                aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc)).build_https()
            })
            .http_connector(settings, components)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    #[tokio::test]
    async fn lambda_variables_make_the_configuration() {
        use aws_credential_types::provider::ProvideCredentials;
        let config = from_env(env(&[
            ("AWS_REGION", "eu-west-3"),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]))
        .unwrap();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-3"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        let retry = config.retry_config().unwrap();
        assert_eq!((retry.mode(), retry.max_attempts()), (aws_smithy_types::retry::RetryMode::Standard, 3));
        let credentials = config.credentials_provider().unwrap().provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "AKIAEXAMPLE");
        assert_eq!(credentials.session_token(), Some("token"));
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = from_env(env(&[("AWS_REGION", "eu-west-3")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable AWS_ACCESS_KEY_ID is not set (Lambda sets it; set it by hand elsewhere)"
        );
        let err = from_env(env(&[])).unwrap_err();
        assert!(err.to_string().contains("AWS_REGION"));
        let config = from_env(env(&[
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
        ]))
        .unwrap();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), None);
    }
}
