//! What the catalog needs from the outside world: where its products and their history are
//! stored (DynamoDB), what Service Catalog holds about a product, and what EC2 says about an
//! instance type.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{CatalogEvent, Product};
use crate::kernel::{Page, PageRequest, ProductId, StoreError, UpstreamError};

/// The product catalog, as everything that launches or prices workspaces reads it.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// A page of products, by id, published or not.
    async fn products(&self, page: &PageRequest) -> Result<Page<Product>, StoreError>;
    /// One product, published or not (a workspace's product stays readable for its costs).
    async fn product(&self, id: &ProductId) -> Result<Option<Product>, StoreError>;
}

/// The catalog's writes: each product change and its audit event in one transaction.
#[async_trait]
pub trait CatalogStore: Catalog {
    /// Writes a new product; `Conflict` when one with its id exists.
    async fn insert_product(&self, product: &Product, event: &CatalogEvent) -> Result<(), StoreError>;
    /// Replaces a product whose stored version is `product.version - 1`; `Conflict` otherwise.
    async fn update_product(&self, product: &Product, event: &CatalogEvent) -> Result<(), StoreError>;
    /// A page of a product's history, newest first.
    async fn product_events(&self, id: &ProductId, page: &PageRequest) -> Result<Page<CatalogEvent>, StoreError>;
}

/// A Service Catalog product as `DescribeProduct` shows it to the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScProduct {
    /// `prod-...`.
    pub id: String,
    /// Its name in Service Catalog.
    pub name: String,
    /// Its short description (empty when it has none).
    pub description: String,
    /// Its provisioning artifacts (versions), in Service Catalog's order.
    pub artifacts: Vec<ScArtifact>,
}

/// One provisioning artifact (version) of a Service Catalog product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScArtifact {
    /// `pa-...`.
    pub id: String,
    /// Its name (`v1`).
    pub name: String,
    /// When it was created, if Service Catalog says.
    pub created_at: Option<Timestamp>,
    /// False when its guidance is `DEPRECATED`: new launches should not use it.
    pub recommended: bool,
}

/// What Atelier reads from AWS Service Catalog to publish a product.
#[async_trait]
pub trait ServiceCatalogProducts: Send + Sync {
    /// `DescribeProduct`: `None` when Service Catalog does not know the id (or this account
    /// may not see it).
    async fn product(&self, id: &str) -> Result<Option<ScProduct>, UpstreamError>;
    /// `DescribeProvisioningArtifact`: whether the artifact is active (`Some(false)` when it
    /// is deactivated, `None` when it does not exist).
    async fn artifact_active(&self, product_id: &str, artifact_id: &str) -> Result<Option<bool>, UpstreamError>;
    /// `ListLaunchPaths`: the ids of the paths (portfolios) this account launches it through.
    async fn launch_paths(&self, product_id: &str) -> Result<Vec<String>, UpstreamError>;
}

/// What EC2 `DescribeInstanceTypes` says about an instance type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceTypeInfo {
    /// Default vCPUs.
    pub vcpus: u32,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// Whether instances of the type can hibernate (`HibernationSupported`).
    pub hibernation_supported: bool,
}

/// EC2's instance types in the region.
#[async_trait]
pub trait InstanceTypes: Send + Sync {
    /// `None` when EC2 does not offer `instance_type` in the region.
    async fn instance_type(&self, instance_type: &str) -> Result<Option<InstanceTypeInfo>, UpstreamError>;
}
