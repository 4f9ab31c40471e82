//! The catalog: the products a data scientist can launch (an instance type, an image, a
//! volume, with their prices), and where they come from in AWS Service Catalog.
//!
//! Owns [`Product`] and the [`Catalog`] port. Uses the kernel only; costs read a product's
//! prices through [`crate::costs::PriceBook::for_product`].

mod ports;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use crate::kernel::{Money, ProductId};
pub use ports::Catalog;

/// A product's prices from `effective_from` until the next version takes over (see
/// [`crate::costs::PriceBook`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceVersion {
    /// When these prices start to apply.
    pub effective_from: jiff::Timestamp,
    /// Compute price per running hour.
    pub compute_per_hour: Decimal,
    /// Storage price per GB-month (see [`crate::costs::GB_MONTH_HOURS`]) of the workspace's volumes.
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
    /// Provisioning artifact (version) id (`pa-...`).
    pub provisioning_artifact_id: String,
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
    /// prorated over a 730-hour month. Items written before storage was priced have none:
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
    /// Machine image launched by the `Ec2Launch` provisioner.
    pub image_id: String,
    /// Root volume size, GiB.
    pub volume_gib: u32,
    /// The Service Catalog product behind it (used by the `ServiceCatalog` provisioner).
    pub service_catalog: Option<ServiceCatalogRef>,
}
