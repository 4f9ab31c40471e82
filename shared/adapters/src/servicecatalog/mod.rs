//! [`Provisioner`] backed by AWS Service Catalog: each workspace is one provisioned product,
//! launched from the catalog product's Service Catalog product and provisioning artifact.
//!
//! Service Catalog works through records: `ProvisionProduct` and `TerminateProvisionedProduct`
//! answer at once with a record id, and `DescribeRecord` tells how that record is going. The
//! adapter keeps the record id in [`Provisioned::record_id`] so that state-sync can poll it.
//!
//! [`ServiceCatalogCatalog`] reads what publishing a product needs ([`products`]).

mod products;
pub use products::ServiceCatalogCatalog;

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
        let Some(artifact) = reference.provisioning_artifact_id.as_deref() else {
            return Err(UpstreamError::new(
                SERVICE,
                OPERATION,
                false,
                format!("product {} has no provisioning artifact: publish it again from Service Catalog", product.id),
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
            // The product names the workspace's own instance profile after it
            // (`atelier-<workspace id>`, created before this call: crate::iam).
            parameter("WorkspaceId", workspace.id.as_str()),
        ];

        let output = self
            .client
            .provision_product()
            .product_id(&reference.product_id)
            .provisioning_artifact_id(artifact)
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
mod tests;
