//! Catalog products: what a data scientist can launch, and what it costs per hour.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::id::ProductId;

/// An amount of money in an explicit currency. Never a float: amounts are decimals,
/// serialised as strings (`"0.35"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// The amount, exact.
    pub amount: Decimal,
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
    /// Whether instances of this product can hibernate.
    pub hibernation: bool,
    /// Machine image launched by the `Ec2Launch` provisioner.
    pub image_id: String,
    /// Root volume size, GiB.
    pub volume_gib: u32,
    /// The Service Catalog product behind it (used by the `ServiceCatalog` provisioner).
    pub service_catalog: Option<ServiceCatalogRef>,
}
