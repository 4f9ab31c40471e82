//! [`Provisioner`] backed by AWS Service Catalog: each workspace is one provisioned product,
//! launched from the catalog product's Service Catalog product and provisioning artifact.
//!
//! Service Catalog works through records: `ProvisionProduct` and `TerminateProvisionedProduct`
//! answer at once with a record id, and `DescribeRecord` tells how that record is going. The
//! adapter keeps the record id in [`Provisioned::record_id`] so that state-sync can poll it.

use async_trait::async_trait;
use atelier_domain::{
    UpstreamError, Workspace,
    workspaces::{Progress, ProvisionRequest, Provisioned, Provisioner},
};
use aws_sdk_servicecatalog::{
    Client,
    operation::describe_record::DescribeRecordOutput,
    types::{ProvisioningParameter, RecordError, RecordStatus, Tag},
};

/// Service name reported in [`UpstreamError`]s.
const SERVICE: &str = "servicecatalog";

/// The provisioned product output that carries the EC2 instance id, unless told otherwise.
pub const DEFAULT_OUTPUT_KEY: &str = "InstanceId";

/// At most this many `DescribeRecord` pages are read per poll while looking for the instance
/// output: a product has a handful of outputs, so more pages mean a service that keeps handing
/// out tokens, and the next poll can try again rather than loop forever.
const MAX_RECORD_PAGES: usize = 20;

/// Length of the terminate token at most: Service Catalog accepts `[a-zA-Z0-9_-]{1,128}`,
/// and 64 characters keep all of a provision token's entropy with room to spare.
const TERMINATE_TOKEN_LEN: usize = 64;

/// Provisions workspaces as Service Catalog provisioned products.
#[derive(Debug, Clone)]
pub struct ServiceCatalogProvisioner {
    client: Client,
    /// Name of the provisioned product output holding the EC2 instance id.
    output_key: String,
}

impl ServiceCatalogProvisioner {
    /// A provisioner reading the instance id from the [`DEFAULT_OUTPUT_KEY`] output.
    pub fn new(client: Client) -> Self {
        Self { client, output_key: DEFAULT_OUTPUT_KEY.to_owned() }
    }

    /// The same, through a client built from `config`.
    pub fn from_config(config: &aws_types::SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    /// Reads the instance id from the output named `output_key` instead, for products whose
    /// templates name it differently.
    pub fn with_output_key(mut self, output_key: impl Into<String>) -> Self {
        self.output_key = output_key.into();
        self
    }

    /// One page of a record.
    async fn describe_page(
        &self,
        record_id: &str,
        page_token: Option<String>,
    ) -> Result<DescribeRecordOutput, UpstreamError> {
        self.client
            .describe_record()
            .id(record_id)
            .set_page_token(page_token)
            .send()
            .await
            .map_err(|e| crate::upstream(SERVICE, "DescribeRecord", e))
    }

    /// Reads a record's status and errors and, when `want_output` is set and the record
    /// succeeded, the value of the instance output.
    async fn record(&self, record_id: &str, want_output: bool) -> Result<RecordView, UpstreamError> {
        let first = self.describe_page(record_id, None).await?;
        let detail = first.record_detail();
        let status = detail.and_then(|d| d.status()).cloned();
        let errors = detail.map(|d| d.record_errors().to_vec()).unwrap_or_default();
        let output = if want_output && status == Some(RecordStatus::Succeeded) {
            self.find_output(record_id, first).await?
        } else {
            None
        };
        Ok(RecordView { status, errors, output })
    }

    /// Looks for the instance output in `page` and the pages after it: outputs are paginated,
    /// and the one we want need not be on the first page.
    async fn find_output(
        &self,
        record_id: &str,
        mut page: DescribeRecordOutput,
    ) -> Result<Option<String>, UpstreamError> {
        let mut pages_read = 1;
        loop {
            if let Some(value) = self.output_in(&page) {
                return Ok(Some(value));
            }
            let next = page.next_page_token().filter(|t| !t.is_empty()).map(str::to_owned);
            match next {
                Some(token) if pages_read < MAX_RECORD_PAGES => {
                    page = self.describe_page(record_id, Some(token)).await?;
                    pages_read += 1;
                }
                _ => return Ok(None),
            }
        }
    }

    /// The instance output's value on one page, if it is there and not empty.
    fn output_in(&self, page: &DescribeRecordOutput) -> Option<String> {
        page.record_outputs()
            .iter()
            .find(|o| o.output_key() == Some(self.output_key.as_str()))
            .and_then(|o| o.output_value())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }
}

/// What one poll of a record learned.
struct RecordView {
    /// `None` when the answer carried no record detail.
    status: Option<RecordStatus>,
    errors: Vec<RecordError>,
    /// The instance output, when asked for and found.
    output: Option<String>,
}

#[async_trait]
impl Provisioner for ServiceCatalogProvisioner {
    /// Calls `ProvisionProduct`. The workspace's provision token is the ProvisionToken, so a
    /// retried call (after a timeout, or a crash before the record id was saved) returns the
    /// same record instead of launching a second product.
    async fn provision(&self, request: ProvisionRequest<'_>) -> Result<Provisioned, UpstreamError> {
        const OPERATION: &str = "ProvisionProduct";
        let ProvisionRequest { workspace, product } = request;
        let Some(reference) = product.service_catalog.as_ref() else {
            return Err(UpstreamError::new(
                SERVICE,
                OPERATION,
                false,
                format!(
                    "product {} has no Service Catalog reference (product id and provisioning artifact)",
                    product.id
                ),
            ));
        };
        let owner = &workspace.owner;
        let tags = [
            ("atelier:owner", owner.username.as_str()),
            ("atelier:workspace", workspace.id.as_str()),
            ("atelier:cost-centre", owner.cost_centre.as_deref().unwrap_or("unassigned")),
        ]
        .into_iter()
        .map(|(key, value)| tag(key, value, OPERATION))
        .collect::<Result<Vec<_>, _>>()?;
        let parameters = vec![
            parameter("InstanceType", &product.instance_type),
            parameter("WorkspaceName", workspace.name.as_str()),
        ];

        let output = self
            .client
            .provision_product()
            .product_id(&reference.product_id)
            .provisioning_artifact_id(&reference.provisioning_artifact_id)
            .set_path_id(reference.path_id.clone())
            // The workspace id is a valid provisioned product name (`ws-` and 26 lowercase
            // alphanumerics) and unique, which makes the product easy to find in the console.
            .provisioned_product_name(workspace.id.as_str())
            .provision_token(&workspace.provision_token)
            .set_tags(Some(tags))
            .set_provisioning_parameters(Some(parameters))
            .send()
            .await
            .map_err(|e| crate::upstream(SERVICE, OPERATION, e))?;

        let detail = output.record_detail();
        let provisioned = Provisioned {
            provisioned_product_id: detail.and_then(|d| d.provisioned_product_id()).map(str::to_owned),
            record_id: detail.and_then(|d| d.record_id()).map(str::to_owned),
            instance_id: None,
        };
        tracing::info!(
            workspace = %workspace.id,
            provisioned_product_id = provisioned.provisioned_product_id.as_deref(),
            record_id = provisioned.record_id.as_deref(),
            "Service Catalog provisioning started"
        );
        Ok(provisioned)
    }

    /// Polls the provisioning record; on success, the instance id comes from the product's
    /// outputs.
    async fn provisioning_progress(&self, provisioned: &Provisioned) -> Result<Progress, UpstreamError> {
        let Some(record_id) = provisioned.record_id.as_deref() else {
            // Without a record there is nothing to wait for: provisioning never really started.
            return Ok(Progress::Failed {
                reason: "provisioning has no Service Catalog record to follow (no record id was saved)".to_owned(),
            });
        };
        let record = self.record(record_id, true).await?;
        Ok(match record.status {
            Some(RecordStatus::Succeeded) => match record.output {
                Some(instance_id) => Progress::Succeeded { instance_id: Some(instance_id) },
                None => Progress::Failed {
                    reason: format!(
                        "Service Catalog record {record_id} succeeded but the product has no {:?} output naming the instance",
                        self.output_key
                    ),
                },
            },
            Some(RecordStatus::Failed) => Progress::Failed { reason: failure_reason(record_id, &record.errors) },
            // CREATED, IN_PROGRESS, IN_PROGRESS_IN_ERROR (rolling back, FAILED comes next) and
            // anything newer than this SDK: keep polling.
            _ => Progress::InProgress,
        })
    }

    /// Calls `TerminateProvisionedProduct` with a token derived from the provision token, so
    /// that a retried call does not start a second termination.
    async fn terminate(&self, workspace: &Workspace) -> Result<Provisioned, UpstreamError> {
        const OPERATION: &str = "TerminateProvisionedProduct";
        let Some(provisioned_product_id) = workspace.provisioned.provisioned_product_id.as_deref() else {
            // Nothing was ever provisioned, so there is nothing to tear down.
            return Ok(workspace.provisioned.clone());
        };
        let result = self
            .client
            .terminate_provisioned_product()
            .provisioned_product_id(provisioned_product_id)
            .terminate_token(terminate_token(&workspace.provision_token))
            .send()
            .await;
        match result {
            Ok(output) => {
                let record_id = output.record_detail().and_then(|d| d.record_id()).map(str::to_owned);
                tracing::info!(
                    workspace = %workspace.id,
                    provisioned_product_id,
                    record_id = record_id.as_deref(),
                    "Service Catalog termination started"
                );
                Ok(Provisioned { record_id, ..workspace.provisioned.clone() })
            }
            // Already terminated (or never created): the goal is reached.
            Err(e) if crate::error_code(&e) == Some("ResourceNotFoundException") => {
                tracing::info!(workspace = %workspace.id, provisioned_product_id, "provisioned product already gone");
                // Nothing is left to terminate: forget the product too, so that state-sync
                // sees the termination as done instead of asking again forever.
                Ok(Provisioned { record_id: None, provisioned_product_id: None, ..workspace.provisioned.clone() })
            }
            Err(e) => Err(crate::upstream(SERVICE, OPERATION, e)),
        }
    }

    /// Polls the termination record; no record means there was nothing to terminate.
    async fn termination_progress(&self, provisioned: &Provisioned) -> Result<Progress, UpstreamError> {
        // The service forgets the provisioning record when it claims the termination, so a
        // record here is always the terminate record.
        let Some(record_id) = provisioned.record_id.as_deref() else {
            return Ok(match provisioned.provisioned_product_id {
                Some(_) => Progress::NotStarted,
                None => Progress::Succeeded { instance_id: None },
            });
        };
        let record = self.record(record_id, false).await?;
        Ok(match record.status {
            Some(RecordStatus::Succeeded) => Progress::Succeeded { instance_id: None },
            Some(RecordStatus::Failed) => Progress::Failed { reason: failure_reason(record_id, &record.errors) },
            _ => Progress::InProgress,
        })
    }
}

/// A provisioned product tag; the builder refuses only a missing key or value, which cannot
/// happen here, but the error is passed on rather than unwrapped.
fn tag(key: &str, value: &str, operation: &'static str) -> Result<Tag, UpstreamError> {
    Tag::builder().key(key).value(value).build().map_err(|e| UpstreamError::new(SERVICE, operation, false, e))
}

/// A provisioning parameter (a CloudFormation parameter of the product's template).
fn parameter(key: &str, value: &str) -> ProvisioningParameter {
    ProvisioningParameter::builder().key(key).value(value).build()
}

/// The TerminateToken for a workspace: deterministic, so that retrying a terminate whose
/// answer was lost finds the same record, and prefixed so that it never equals the
/// ProvisionToken. Only `[a-zA-Z0-9_-]` is kept, as Service Catalog requires.
fn terminate_token(provision_token: &str) -> String {
    let mut token = String::with_capacity(TERMINATE_TOKEN_LEN);
    token.push('t');
    token.extend(
        provision_token
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            .take(TERMINATE_TOKEN_LEN - 1),
    );
    token
}

/// A failed record's errors in one sentence, for the workspace's owner.
fn failure_reason(record_id: &str, errors: &[RecordError]) -> String {
    let details: Vec<String> = errors
        .iter()
        .filter_map(|e| match (e.code(), e.description()) {
            (Some(code), Some(description)) => Some(format!("{code}: {description}")),
            (Some(text), None) | (None, Some(text)) => Some(text.to_owned()),
            (None, None) => None,
        })
        .collect();
    if details.is_empty() {
        format!("Service Catalog record {record_id} failed without giving a reason")
    } else {
        format!("Service Catalog record {record_id} failed: {}", details.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atelier_domain::{
        Product, State,
        catalog::ServiceCatalogRef,
        testing::{ProductBuilder, WorkspaceBuilder},
    };
    use aws_sdk_servicecatalog::{
        config::retry::RetryConfig,
        error::ErrorMetadata,
        operation::{
            describe_record::DescribeRecordError,
            provision_product::ProvisionProductOutput,
            terminate_provisioned_product::{TerminateProvisionedProductError, TerminateProvisionedProductOutput},
        },
        types::{RecordDetail, RecordOutput, error::ResourceNotFoundException},
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use jiff::Timestamp;

    const RECORD_ID: &str = "rec-3k2zq4xbnmw6e";
    const PP_ID: &str = "pp-7ghd2ux5qkr4m";
    const INSTANCE_ID: &str = "i-0abc123def4567890";

    /// A mocked client, retries off so that a throttling answer comes back at once.
    fn client(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_servicecatalog, RuleMode::Sequential, rules, |b| b.retry_config(RetryConfig::disabled()))
    }

    fn provisioner(rules: &[&Rule]) -> ServiceCatalogProvisioner {
        ServiceCatalogProvisioner::new(client(rules))
    }

    fn product() -> Product {
        ProductBuilder::new("python-r-standard")
            .name("Python & R, standard")
            .description("JupyterLab and RStudio on 8 vCPUs.")
            .hourly("0.46")
            .no_storage_price()
            .image("ami-0c1a2b3c4d5e6f708")
            .service_catalog(Some(ServiceCatalogRef {
                product_id: "prod-abcdefghijklm".to_owned(),
                provisioning_artifact_id: "pa-abcdefghijklm".to_owned(),
                path_id: Some("lpv2-abcdefghijklm".to_owned()),
            }))
            .build()
    }

    fn workspace(cost_centre: Option<&str>) -> Workspace {
        WorkspaceBuilder::new()
            .name("Étude oncologie 2026")
            .owner("marie.curie")
            .owner_sub("8f4e2c1a-6b3d-4e5f-9a7b-1c2d3e4f5a6b")
            .cost_centre(cost_centre)
            .product("python-r-standard", "m5.2xlarge")
            .state(State::Provisioning)
            .provision_token("3f9a0c4e1b7d2a6f8e5c0b9d4a1f7e2c6b8d0a3e")
            .at(Timestamp::now())
            .build()
    }

    fn running_handle() -> Provisioned {
        Provisioned {
            provisioned_product_id: Some(PP_ID.to_owned()),
            record_id: Some(RECORD_ID.to_owned()),
            instance_id: Some(INSTANCE_ID.to_owned()),
        }
    }

    fn record(status: RecordStatus) -> RecordDetail {
        RecordDetail::builder()
            .record_id(RECORD_ID)
            .provisioned_product_id(PP_ID)
            .product_id("prod-abcdefghijklm")
            .provisioning_artifact_id("pa-abcdefghijklm")
            .record_type("PROVISION_PRODUCT")
            .provisioned_product_type("CFN_STACK")
            .status(status)
            .build()
    }

    fn output(key: &str, value: &str) -> RecordOutput {
        RecordOutput::builder().output_key(key).output_value(value).description("created by the template").build()
    }

    fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
        tags.iter().find(|t| t.key() == key).map(Tag::value)
    }

    fn parameter_value<'a>(parameters: &'a [ProvisioningParameter], key: &str) -> Option<&'a str> {
        parameters.iter().find(|p| p.key() == Some(key)).and_then(ProvisioningParameter::value)
    }

    #[tokio::test]
    async fn provision_sends_the_product_token_name_tags_and_parameters() {
        let ws = workspace(Some("CC-4410"));
        let expected = ws.clone();
        let rule = mock!(Client::provision_product)
            .match_requests(move |req| {
                req.product_id() == Some("prod-abcdefghijklm")
                    && req.provisioning_artifact_id() == Some("pa-abcdefghijklm")
                    && req.path_id() == Some("lpv2-abcdefghijklm")
                    && req.provision_token() == Some(expected.provision_token.as_str())
                    && req.provisioned_product_name() == Some(expected.id.as_str())
                    && tag_value(req.tags(), "atelier:owner") == Some("marie.curie")
                    && tag_value(req.tags(), "atelier:workspace") == Some(expected.id.as_str())
                    && tag_value(req.tags(), "atelier:cost-centre") == Some("CC-4410")
                    && req.tags().len() == 3
                    && parameter_value(req.provisioning_parameters(), "InstanceType") == Some("m5.2xlarge")
                    && parameter_value(req.provisioning_parameters(), "WorkspaceName") == Some("Étude oncologie 2026")
            })
            .then_output(|| ProvisionProductOutput::builder().record_detail(record(RecordStatus::Created)).build());
        let sc = provisioner(&[&rule]);

        let provisioned =
            sc.provision(ProvisionRequest { workspace: &ws, product: &product() }).await.expect("provisioned");

        assert_eq!(
            provisioned,
            Provisioned {
                provisioned_product_id: Some(PP_ID.to_owned()),
                record_id: Some(RECORD_ID.to_owned()),
                instance_id: None
            }
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn provision_tags_a_missing_cost_centre_as_unassigned() {
        let rule = mock!(Client::provision_product)
            .match_requests(|req| tag_value(req.tags(), "atelier:cost-centre") == Some("unassigned"))
            .then_output(|| ProvisionProductOutput::builder().record_detail(record(RecordStatus::Created)).build());
        let sc = provisioner(&[&rule]);

        sc.provision(ProvisionRequest { workspace: &workspace(None), product: &product() }).await.expect("provisioned");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn provision_refuses_a_product_without_service_catalog_reference() {
        let rule = mock!(Client::provision_product).then_output(|| ProvisionProductOutput::builder().build());
        let sc = provisioner(&[&rule]);
        let product = ProductBuilder::from(product()).service_catalog(None).build();

        let err = sc
            .provision(ProvisionRequest { workspace: &workspace(None), product: &product })
            .await
            .expect_err("refused");

        assert!(!err.retryable);
        assert!(err.source.to_string().contains("no Service Catalog reference"), "{}", err.source);
        assert_eq!(rule.num_calls(), 0);
    }

    #[tokio::test]
    async fn provisioning_progress_follows_the_record_until_the_instance_output() {
        let rule = mock!(Client::describe_record)
            .match_requests(|req| req.id() == Some(RECORD_ID))
            .sequence()
            .output(|| DescribeRecordOutput::builder().record_detail(record(RecordStatus::InProgress)).build())
            .output(|| {
                DescribeRecordOutput::builder()
                    .record_detail(record(RecordStatus::Succeeded))
                    .record_outputs(output(
                        "CloudformationStackARN",
                        "arn:aws:cloudformation:eu-west-1:123456789012:stack/SC-123456789012-pp-7ghd2ux5qkr4m/0f1e2d3c",
                    ))
                    .record_outputs(output("InstanceId", INSTANCE_ID))
                    .build()
            })
            .build();
        let sc = provisioner(&[&rule]);
        let handle = Provisioned {
            provisioned_product_id: Some(PP_ID.to_owned()),
            record_id: Some(RECORD_ID.to_owned()),
            instance_id: None,
        };

        assert_eq!(sc.provisioning_progress(&handle).await.expect("first poll"), Progress::InProgress);
        assert_eq!(
            sc.provisioning_progress(&handle).await.expect("second poll"),
            Progress::Succeeded { instance_id: Some(INSTANCE_ID.to_owned()) }
        );
    }

    #[tokio::test]
    async fn provisioning_progress_reads_outputs_on_later_pages() {
        let rule = mock!(Client::describe_record)
            .match_requests(|req| req.id() == Some(RECORD_ID))
            .sequence()
            .output(|| {
                DescribeRecordOutput::builder()
                    .record_detail(record(RecordStatus::Succeeded))
                    .record_outputs(output("JupyterUrl", "https://10.0.3.17:8888"))
                    .next_page_token("page-2")
                    .build()
            })
            .build();
        let second_page = mock!(Client::describe_record)
            .match_requests(|req| req.id() == Some(RECORD_ID) && req.page_token() == Some("page-2"))
            .then_output(|| {
                DescribeRecordOutput::builder()
                    .record_detail(record(RecordStatus::Succeeded))
                    .record_outputs(output("InstanceId", INSTANCE_ID))
                    .build()
            });
        let sc = provisioner(&[&rule, &second_page]);

        assert_eq!(
            sc.provisioning_progress(&running_handle()).await.expect("poll"),
            Progress::Succeeded { instance_id: Some(INSTANCE_ID.to_owned()) }
        );
        assert_eq!(second_page.num_calls(), 1);
    }

    #[tokio::test]
    async fn in_progress_in_error_and_created_are_still_in_progress() {
        let rule = mock!(Client::describe_record)
            .sequence()
            .output(|| DescribeRecordOutput::builder().record_detail(record(RecordStatus::Created)).build())
            .output(|| DescribeRecordOutput::builder().record_detail(record(RecordStatus::InProgressInError)).build())
            .build();
        let sc = provisioner(&[&rule]);

        assert_eq!(sc.provisioning_progress(&running_handle()).await.expect("poll"), Progress::InProgress);
        assert_eq!(sc.provisioning_progress(&running_handle()).await.expect("poll"), Progress::InProgress);
    }

    #[tokio::test]
    async fn a_failed_record_reports_its_errors() {
        let rule = mock!(Client::describe_record).then_output(|| {
            DescribeRecordOutput::builder()
                .record_detail(
                    RecordDetail::builder()
                        .record_id(RECORD_ID)
                        .provisioned_product_id(PP_ID)
                        .record_type("PROVISION_PRODUCT")
                        .status(RecordStatus::Failed)
                        .record_errors(
                            RecordError::builder()
                                .code("InvalidParameter")
                                .description("Parameter InstanceType failed to satisfy constraint: must be a valid EC2 instance type.")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let sc = provisioner(&[&rule]);

        let Progress::Failed { reason } = sc.provisioning_progress(&running_handle()).await.expect("poll") else {
            panic!("expected Failed");
        };
        assert!(reason.contains(RECORD_ID), "{reason}");
        assert!(reason.contains("InvalidParameter: Parameter InstanceType failed to satisfy constraint"), "{reason}");
    }

    #[tokio::test]
    async fn success_without_the_instance_output_is_a_failure_naming_it() {
        let rule = mock!(Client::describe_record).then_output(|| {
            DescribeRecordOutput::builder()
                .record_detail(record(RecordStatus::Succeeded))
                .record_outputs(output(
                    "CloudformationStackARN",
                    "arn:aws:cloudformation:eu-west-1:123456789012:stack/SC-x/y",
                ))
                .build()
        });
        let sc = provisioner(&[&rule]);

        let Progress::Failed { reason } = sc.provisioning_progress(&running_handle()).await.expect("poll") else {
            panic!("expected Failed");
        };
        assert!(reason.contains("InstanceId"), "{reason}");
    }

    #[tokio::test]
    async fn a_custom_output_key_is_read() {
        let rule = mock!(Client::describe_record).then_output(|| {
            DescribeRecordOutput::builder()
                .record_detail(record(RecordStatus::Succeeded))
                .record_outputs(output("WorkspaceInstance", INSTANCE_ID))
                .build()
        });
        let sc = ServiceCatalogProvisioner::new(client(&[&rule])).with_output_key("WorkspaceInstance");

        assert_eq!(
            sc.provisioning_progress(&running_handle()).await.expect("poll"),
            Progress::Succeeded { instance_id: Some(INSTANCE_ID.to_owned()) }
        );
    }

    #[tokio::test]
    async fn no_record_id_means_provisioning_failed() {
        let rule = mock!(Client::describe_record).then_output(|| DescribeRecordOutput::builder().build());
        let sc = provisioner(&[&rule]);

        let progress = sc.provisioning_progress(&Provisioned::default()).await.expect("no call");

        assert!(matches!(progress, Progress::Failed { ref reason } if reason.contains("no record id")), "{progress:?}");
        assert_eq!(rule.num_calls(), 0);
    }

    #[tokio::test]
    async fn throttling_is_a_retryable_upstream_error() {
        let rule = mock!(Client::describe_record).then_error(|| {
            DescribeRecordError::generic(
                ErrorMetadata::builder().code("ThrottlingException").message("Rate exceeded").build(),
            )
        });
        let sc = provisioner(&[&rule]);

        let err = sc.provisioning_progress(&running_handle()).await.expect_err("throttled");

        assert!(err.retryable);
        assert_eq!((err.service, err.operation), ("servicecatalog", "DescribeRecord"));
        assert_eq!(rule.num_calls(), 1, "retries are off in the test client");
    }

    #[tokio::test]
    async fn terminate_sends_the_product_id_and_a_valid_deterministic_token() {
        let mut ws = workspace(Some("CC-4410"));
        ws.provisioned = running_handle();
        let token = terminate_token(&ws.provision_token);
        let expected_token = token.clone();
        let rule = mock!(Client::terminate_provisioned_product)
            .match_requests(move |req| {
                req.provisioned_product_id() == Some(PP_ID) && req.terminate_token() == Some(expected_token.as_str())
            })
            .then_output(|| {
                TerminateProvisionedProductOutput::builder()
                    .record_detail(
                        RecordDetail::builder()
                            .record_id("rec-9tq2w8zr5hnxa")
                            .provisioned_product_id(PP_ID)
                            .record_type("TERMINATE_PROVISIONED_PRODUCT")
                            .status(RecordStatus::Created)
                            .build(),
                    )
                    .build()
            });
        let sc = provisioner(&[&rule]);

        let handle = sc.terminate(&ws).await.expect("terminating");

        assert_eq!(handle, Provisioned { record_id: Some("rec-9tq2w8zr5hnxa".to_owned()), ..running_handle() });
        assert_eq!(rule.num_calls(), 1);
        assert_eq!(token, terminate_token(&ws.provision_token), "deterministic");
        assert_ne!(token, ws.provision_token);
        assert!((1..=128).contains(&token.len()));
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'), "{token}");
    }

    #[test]
    fn terminate_tokens_stay_within_service_catalog_limits() {
        assert_eq!(terminate_token(""), "t");
        assert_eq!(terminate_token("a b/c"), "tabc");
        assert_eq!(terminate_token(&"x".repeat(200)).len(), TERMINATE_TOKEN_LEN);
    }

    #[tokio::test]
    async fn terminating_a_product_that_is_already_gone_succeeds() {
        let mut ws = workspace(None);
        ws.provisioned = running_handle();
        let rule = mock!(Client::terminate_provisioned_product).then_error(|| {
            TerminateProvisionedProductError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("Provisioned product not found: pp-7ghd2ux5qkr4m")
                    .meta(ErrorMetadata::builder().code("ResourceNotFoundException").build())
                    .build(),
            )
        });
        let sc = provisioner(&[&rule]);

        let handle = sc.terminate(&ws).await.expect("already gone");

        assert_eq!(handle, Provisioned { record_id: None, provisioned_product_id: None, ..running_handle() });
        let rule = mock!(Client::describe_record).then_output(|| DescribeRecordOutput::builder().build());
        let done = provisioner(&[&rule]).termination_progress(&handle).await.expect("no call");
        assert_eq!(done, Progress::Succeeded { instance_id: None }, "a product already gone is terminated");
    }

    #[tokio::test]
    async fn terminate_without_provisioned_product_calls_nothing() {
        let mut ws = workspace(None);
        ws.provisioned =
            Provisioned { provisioned_product_id: None, record_id: Some(RECORD_ID.to_owned()), instance_id: None };
        let rule = mock!(Client::terminate_provisioned_product)
            .then_output(|| TerminateProvisionedProductOutput::builder().build());
        let sc = provisioner(&[&rule]);

        let handle = sc.terminate(&ws).await.expect("nothing to do");

        assert_eq!(handle, ws.provisioned);
        assert_eq!(rule.num_calls(), 0);
    }

    #[tokio::test]
    async fn termination_progress_reports_success_and_failure() {
        let rule = mock!(Client::describe_record)
            .match_requests(|req| req.id() == Some(RECORD_ID))
            .sequence()
            .output(|| DescribeRecordOutput::builder().record_detail(record(RecordStatus::InProgress)).build())
            .output(|| DescribeRecordOutput::builder().record_detail(record(RecordStatus::Succeeded)).build())
            .output(|| {
                DescribeRecordOutput::builder()
                    .record_detail(
                        RecordDetail::builder()
                            .record_id(RECORD_ID)
                            .record_type("TERMINATE_PROVISIONED_PRODUCT")
                            .status(RecordStatus::Failed)
                            .record_errors(
                                RecordError::builder()
                                    .code("DELETE_FAILED")
                                    .description("The following resource(s) failed to delete: [WorkspaceVolume].")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            })
            .build();
        let sc = provisioner(&[&rule]);
        let handle = running_handle();

        assert_eq!(sc.termination_progress(&handle).await.expect("poll"), Progress::InProgress);
        assert_eq!(sc.termination_progress(&handle).await.expect("poll"), Progress::Succeeded { instance_id: None });
        let Progress::Failed { reason } = sc.termination_progress(&handle).await.expect("poll") else {
            panic!("expected Failed");
        };
        assert!(reason.contains("DELETE_FAILED: The following resource(s) failed to delete"), "{reason}");
    }

    #[tokio::test]
    async fn termination_without_record_is_done() {
        let rule = mock!(Client::describe_record).then_output(|| DescribeRecordOutput::builder().build());
        let sc = provisioner(&[&rule]);

        let progress = sc.termination_progress(&Provisioned::default()).await.expect("no call");

        assert_eq!(progress, Progress::Succeeded { instance_id: None });
        assert_eq!(rule.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_termination_never_requested_is_not_started() {
        let rule = mock!(Client::describe_record).then_output(|| DescribeRecordOutput::builder().build());
        let sc = provisioner(&[&rule]);
        let handle = Provisioned { provisioned_product_id: Some("pp-abcdefghijklm".into()), ..Provisioned::default() };

        let progress = sc.termination_progress(&handle).await.expect("no call");

        assert_eq!(
            progress,
            Progress::NotStarted,
            "the provisioning record must never be read as the terminate record"
        );
        assert_eq!(rule.num_calls(), 0);
    }
}
