//! Catalog products: what a data scientist can launch, and what it costs per hour and per
//! GB-month of storage.

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::costs::{PriceBook, PriceVersion};
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
    /// Storage price per GB-month of the product's volumes (EBS gp3 in the region),
    /// prorated over a 730-hour month. Items written before storage was priced have none:
    /// their storage is billed at zero until the catalog is updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_price: Option<Money>,
    /// The product's price history, when the catalog keeps one: each version applies from
    /// its effective time until the next. When empty, the current `hourly_price` and
    /// `storage_price` apply to all time ([`Product::price_book`]).
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

impl Product {
    /// The prices costs are computed with: the product's versioned `prices` when it has
    /// any, else its current `hourly_price` and `storage_price` effective from the Unix
    /// epoch (so every interval, however old, has a price). A storage price in another
    /// currency than the hourly price is refused, as is any book [`PriceBook::new`] refuses.
    pub fn price_book(&self) -> Result<PriceBook, DomainError> {
        if !self.prices.is_empty() {
            return PriceBook::new(self.prices.clone());
        }
        let storage = match &self.storage_price {
            Some(price) if price.currency != self.hourly_price.currency => {
                return Err(DomainError::unprocessable(
                    "prices",
                    format!("product {}: storage and compute prices are in different currencies", self.id),
                ));
            }
            Some(price) => price.amount,
            None => Decimal::ZERO,
        };
        PriceBook::new(vec![PriceVersion {
            effective_from: Timestamp::UNIX_EPOCH,
            compute_per_hour: self.hourly_price.amount,
            storage_per_gb_month: storage,
            currency: self.hourly_price.currency.clone(),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn product(storage: Option<Money>, prices: Vec<PriceVersion>) -> Product {
        Product {
            id: ProductId::parse("python-r-standard").expect("id"),
            name: "Python".into(),
            description: "d".into(),
            instance_type: "m5.2xlarge".into(),
            vcpus: 8,
            memory_gib: 32,
            hourly_price: eur("0.35"),
            storage_price: storage,
            prices,
            hibernation: true,
            image_id: "ami-1".into(),
            volume_gib: 100,
            service_catalog: None,
        }
    }

    fn eur(amount: &str) -> Money {
        Money { amount: Decimal::from_str(amount).expect("decimal"), currency: "EUR".into() }
    }

    #[test]
    fn current_prices_apply_from_the_epoch() {
        let book = product(Some(eur("0.0928")), vec![]).price_book().expect("book");
        let version = book.at(Timestamp::UNIX_EPOCH).expect("a version at the epoch");
        assert_eq!(version.compute_per_hour, Decimal::from_str("0.35").expect("decimal"));
        assert_eq!(version.storage_per_gb_month, Decimal::from_str("0.0928").expect("decimal"));
        let unpriced = product(None, vec![]).price_book().expect("book");
        assert_eq!(unpriced.versions()[0].storage_per_gb_month, Decimal::ZERO);
        let usd = Money { currency: "USD".into(), ..eur("0.1") };
        assert!(product(Some(usd), vec![]).price_book().is_err());
    }

    #[test]
    fn versioned_prices_win_and_old_items_read_back() {
        let version = PriceVersion {
            effective_from: Timestamp::from_second(1_700_000_000).expect("ts"),
            compute_per_hour: Decimal::ONE,
            storage_per_gb_month: Decimal::ONE,
            currency: "EUR".into(),
        };
        let book = product(None, vec![version.clone()]).price_book().expect("book");
        assert_eq!(book.versions(), std::slice::from_ref(&version));

        let mut old = serde_json::to_value(product(None, vec![])).expect("json");
        old.as_object_mut().expect("object").remove("storagePrice");
        let read: Product = serde_json::from_value(old).expect("an item without storage price reads");
        assert_eq!(read.storage_price, None);
        assert!(read.prices.is_empty());
    }
}
