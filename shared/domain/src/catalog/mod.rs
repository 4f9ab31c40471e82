//! The catalog: the products a data scientist can launch (an instance type, an image, a
//! volume, with their prices), and where they come from in AWS Service Catalog.
//!
//! Owns [`Product`] and the [`Catalog`] port. Uses the kernel only; costs read a product's
//! prices through [`crate::costs::PriceBook::for_product`].

mod ports;
#[cfg(test)]
mod tests;
mod use_cases;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use crate::kernel::{Money, ProductId};
pub use ports::{
    Catalog, CatalogStore, InstanceTypeInfo, InstanceTypes, ScArtifact, ScProduct, ServiceCatalogProducts,
};
pub use use_cases::{
    CatalogCases, CatalogEvent, CatalogEventAction, EditProduct, FirstPrice, HIBERNATION_OS_ALLOWANCE_GIB,
    Provisioning, PublishProduct,
};

use crate::kernel::{Caller, DomainError};

/// An app's name as products declare it and URLs carry it: 1 to 32 of `a-z`, `0-9`, `-`,
/// starting with a letter (`jupyterlab`, `rstudio`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppName(String);

impl AppName {
    /// The name, if it is one; `Invalid` on `field` otherwise.
    pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
        let ok = (1..=32).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::invalid(
                field,
                "must be 1 to 32 lowercase letters, digits or dashes, starting with a letter",
            ))
        }
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AppName {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, DomainError> {
        Self::parse("app", &value)
    }
}

impl From<AppName> for String {
    fn from(name: AppName) -> Self {
        name.0
    }
}

impl std::fmt::Display for AppName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A product's prices from `effective_from` until the next version takes over (see
/// [`crate::costs::PriceBook`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceVersion {
    /// When these prices start to apply.
    pub effective_from: jiff::Timestamp,
    /// Compute price per running hour.
    pub compute_per_hour: Decimal,
    /// Storage price per GB-month of the workspace's volumes, prorated per second over the
    /// calendar month (see [`crate::costs::price`]).
    pub storage_per_gb_month: Decimal,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

/// Where a product comes from in AWS Service Catalog (used by the `ServiceCatalog` provisioner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceCatalogRef {
    /// Service Catalog product id (`prod-...`).
    pub product_id: String,
    /// Provisioning artifact (version) id (`pa-...`). Always set when the deployment
    /// provisions through Service Catalog ([`Provisioning::ServiceCatalog`]); may be absent
    /// with the `ec2-launch` provisioner, which launches no artifact.
    pub provisioning_artifact_id: Option<String>,
    /// Launch path (`lpv2-...`), when the portfolio has more than one.
    pub path_id: Option<String>,
}

/// A product of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// Stable id, e.g. `python-r-standard`.
    pub id: ProductId,
    /// Display name.
    pub name: String,
    /// One or two sentences for the catalog card.
    pub description: String,
    /// EC2 instance type, e.g. `m5.2xlarge`.
    pub instance_type: String,
    /// Virtual CPUs of the instance type.
    pub vcpus: u32,
    /// Memory of the instance type, GiB.
    pub memory_gib: u32,
    /// On-demand compute price per running hour.
    pub hourly_price: Money,
    /// Storage price per GB-month of the product's volumes (EBS gp3 in the region),
    /// prorated per second over the calendar month. Items written before storage was priced have none:
    /// their storage is billed at zero until the catalog is updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_price: Option<Money>,
    /// The product's price history, when the catalog keeps one: each version applies from
    /// its effective time until the next. When empty, the current `hourly_price` and
    /// `storage_price` apply to all time
    /// ([`crate::costs::PriceBook::for_product`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<PriceVersion>,
    /// Whether instances of this product can hibernate.
    pub hibernation: bool,
    /// Root volume size new workspaces launch with, GiB. A workspace keeps the size it was
    /// provisioned with ([`crate::workspaces::Launch`]), whatever the catalog says later.
    pub volume_gib: u32,
    /// The Service Catalog product behind it (used by the `ServiceCatalog` provisioner).
    pub service_catalog: Option<ServiceCatalogRef>,
    /// The apps its machines serve through the gateway (`jupyterlab`, `rstudio`), in the
    /// order the portal offers them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<AppName>,
    /// The Cognito groups whose members may see and launch it (admins always may).
    #[serde(default)]
    pub visible_to: Vec<String>,
    /// False once an admin unpublished it: nobody launches it any more, and the workspaces
    /// launched from it keep running and keep their prices.
    #[serde(default = "published_by_default")]
    pub published: bool,
    /// Optimistic-locking version, incremented by every change; every write expects the
    /// version it read.
    #[serde(default)]
    pub version: u64,
}

fn published_by_default() -> bool {
    true
}

impl Product {
    /// Whether `caller` may see it in the catalog: admins see every product, everyone else
    /// the published ones one of their groups may launch.
    pub fn visible_to(&self, caller: &Caller) -> bool {
        caller.is_admin() || (self.published && self.shared_with(caller))
    }

    /// Whether `caller` may launch it now: published, and an admin or in one of its groups.
    pub fn launchable_by(&self, caller: &Caller) -> bool {
        self.published && (caller.is_admin() || self.shared_with(caller))
    }

    fn shared_with(&self, caller: &Caller) -> bool {
        caller.groups.iter().any(|g| self.visible_to.iter().any(|v| v == g))
    }
}
