//! [`ServiceCatalogProducts`] on AWS Service Catalog: `DescribeProduct` (name, short
//! description, provisioning artifacts), `DescribeProvisioningArtifact` (whether one is
//! active) and `ListLaunchPaths`.
//!
//! moto implements `DescribeProduct` only (with no artifacts and no launch paths): the local
//! stack publishes with the `ec2-launch` provisioner, which needs neither; the other two
//! calls are checked by contract tests on AWS's documented responses (`tests.rs`).

use async_trait::async_trait;
use atelier_domain::{
    UpstreamError,
    catalog::{ScArtifact, ScProduct, ServiceCatalogProducts},
};
use aws_sdk_servicecatalog::{Client, types::ProvisioningArtifactGuidance};

use super::SERVICE;

/// At most this many `ListLaunchPaths` pages: a product sits in a handful of portfolios.
const MAX_PATH_PAGES: usize = 20;

/// Service Catalog as the catalog's admin use cases read it.
#[derive(Debug, Clone)]
pub struct ServiceCatalogCatalog {
    client: Client,
}

impl ServiceCatalogCatalog {
    /// Through `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Through a client built from `config`.
    pub fn from_config(config: &aws_types::SdkConfig) -> Self {
        Self::new(Client::new(config))
    }
}

#[async_trait]
impl ServiceCatalogProducts for ServiceCatalogCatalog {
    async fn product(&self, id: &str) -> Result<Option<ScProduct>, UpstreamError> {
        let output = match self.client.describe_product().id(id).send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(None),
            Err(e) => return Err(crate::upstream(SERVICE, "DescribeProduct", e)),
        };
        let Some(summary) = output.product_view_summary() else { return Ok(None) };
        let artifacts = output
            .provisioning_artifacts()
            .iter()
            .filter_map(|a| {
                Some(ScArtifact {
                    id: a.id()?.to_owned(),
                    name: a.name().unwrap_or_default().to_owned(),
                    created_at: a.created_time().and_then(|t| jiff::Timestamp::from_second(t.secs()).ok()),
                    recommended: a.guidance() != Some(&ProvisioningArtifactGuidance::Deprecated),
                })
            })
            .collect();
        Ok(Some(ScProduct {
            id: summary.product_id().unwrap_or(id).to_owned(),
            name: summary.name().unwrap_or_default().to_owned(),
            description: summary.short_description().unwrap_or_default().to_owned(),
            artifacts,
        }))
    }

    async fn artifact_active(&self, product_id: &str, artifact_id: &str) -> Result<Option<bool>, UpstreamError> {
        let call =
            self.client.describe_provisioning_artifact().product_id(product_id).provisioning_artifact_id(artifact_id);
        match call.send().await {
            Ok(output) => Ok(Some(output.provisioning_artifact_detail().and_then(|d| d.active()).unwrap_or(false))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(None),
            Err(e) => Err(crate::upstream(SERVICE, "DescribeProvisioningArtifact", e)),
        }
    }

    async fn launch_paths(&self, product_id: &str) -> Result<Vec<String>, UpstreamError> {
        let mut paths = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PATH_PAGES {
            let page = self
                .client
                .list_launch_paths()
                .product_id(product_id)
                .set_page_token(token.take())
                .send()
                .await
                .map_err(|e| crate::upstream(SERVICE, "ListLaunchPaths", e))?;
            paths.extend(page.launch_path_summaries().iter().filter_map(|p| p.id().map(str::to_owned)));
            match page.next_page_token().filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(paths),
            }
        }
        Err(UpstreamError::new(SERVICE, "ListLaunchPaths", true, "Service Catalog kept handing out page tokens"))
    }
}
