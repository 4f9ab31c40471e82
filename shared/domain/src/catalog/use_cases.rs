//! What admins do with the catalog: publish a Service Catalog product, edit what describes
//! it, append a price version, unpublish it; and what everybody reads of it.
//!
//! Name, description, provisioning artifacts and launch paths come from Service Catalog;
//! vCPUs, memory and hibernation support from EC2. The admin adds only what AWS does not
//! hold: the instance type offered, the volume size, hibernation, the groups that may see
//! it and its prices. Every change is one conditional write with its audit event.

use std::sync::Arc;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AppName, CatalogStore, InstanceTypes, PriceVersion, Product, ServiceCatalogProducts, ServiceCatalogRef};
use crate::{
    costs::PriceBook,
    kernel::{Caller, DomainError, Money, Page, PageRequest, ProductId, StoreError},
};

/// Room for the operating system and the tools next to the hibernation image on the root
/// volume: AWS requires the root volume to hold the instance's RAM and "the OS and
/// applications" (EC2 User Guide, "Prerequisites for EC2 instance hibernation").
pub const HIBERNATION_OS_ALLOWANCE_GIB: u32 = 16;

/// Smallest and largest root volume accepted, GiB (gp3 allows 1 to 16,384; below 8 no
/// Amazon Linux image boots).
const VOLUME_GIB: std::ops::RangeInclusive<u32> = 8..=16_384;

/// How this deployment provisions workspaces, which decides what a product needs from
/// Service Catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisioning {
    /// `ProvisionProduct`: an active provisioning artifact and exactly one launch path.
    ServiceCatalog,
    /// `RunInstances` with the hardened settings: Service Catalog supplies the product's
    /// name and description only (an artifact is recorded when it lists one).
    Ec2Launch,
}

/// An admin's request to publish a Service Catalog product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishProduct {
    /// Atelier's id for it.
    pub id: String,
    /// `prod-...`.
    pub service_catalog_product_id: String,
    /// The version to launch; the newest recommended one Service Catalog lists when absent.
    pub provisioning_artifact_id: Option<String>,
    /// Needed only when the product has several launch paths.
    pub launch_path_id: Option<String>,
    /// The instance type offered.
    pub instance_type: String,
    /// Root volume, GiB.
    pub volume_gib: u32,
    /// Whether workspaces may hibernate.
    pub hibernation: bool,
    /// Groups whose members may see and launch it.
    pub visible_to: Vec<String>,
    /// Apps its machines serve through the gateway.
    pub apps: Vec<String>,
    /// Its first price.
    pub price: FirstPrice,
}

/// A product's first price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstPrice {
    /// Compute per running hour.
    pub compute_per_hour: Decimal,
    /// Storage per GB-month.
    pub storage_per_gb_month: Decimal,
    /// ISO 4217.
    pub currency: String,
    /// When it starts to apply; now when absent.
    pub effective_from: Option<Timestamp>,
}

/// The fields an admin edits in place: none of them changes an amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditProduct {
    /// Display name.
    pub name: String,
    /// Catalog card text.
    pub description: String,
    /// Groups whose members may see and launch it.
    pub visible_to: Vec<String>,
    /// Apps its machines serve.
    pub apps: Vec<String>,
}

/// What happened to a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatalogEventAction {
    /// Published from Service Catalog.
    Publish,
    /// Descriptive fields changed.
    Edit,
    /// A price version appended.
    Price,
    /// Unpublished.
    Unpublish,
}

/// One entry of a product's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogEvent {
    /// When.
    pub at: Timestamp,
    /// Who: an admin's username, or `catalog-import`.
    pub actor: String,
    /// What.
    pub action: CatalogEventAction,
    /// Which product.
    pub product_id: ProductId,
    /// What changed (fields before and after, the version appended, what Service Catalog said).
    pub details: Value,
}

/// The catalog's use cases.
#[derive(Clone)]
pub struct CatalogCases {
    store: Arc<dyn CatalogStore>,
    service_catalog: Arc<dyn ServiceCatalogProducts>,
    instance_types: Arc<dyn InstanceTypes>,
    provisioning: Provisioning,
}

fn require_admin(caller: &Caller, what: &str) -> Result<(), DomainError> {
    if caller.is_admin() { Ok(()) } else { Err(DomainError::Forbidden(format!("only admins {what}"))) }
}

impl CatalogCases {
    /// Use cases over these ports, for a deployment that provisions as `provisioning` says.
    pub fn new(
        store: Arc<dyn CatalogStore>,
        service_catalog: Arc<dyn ServiceCatalogProducts>,
        instance_types: Arc<dyn InstanceTypes>,
        provisioning: Provisioning,
    ) -> Self {
        Self { store, service_catalog, instance_types, provisioning }
    }

    /// A page of what the caller may see ([`Product::visible_to`]): a page can hold fewer
    /// products than asked, never one the caller may not see.
    pub async fn list(&self, caller: &Caller, page: &PageRequest) -> Result<Page<Product>, DomainError> {
        let mut page = self.store.products(page).await?;
        page.items.retain(|p| p.visible_to(caller));
        Ok(page)
    }

    /// One product the caller may see; `NotFound` for any other.
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<Product, DomainError> {
        let id = ProductId::parse(id).map_err(|_| DomainError::NotFound { kind: "product" })?;
        match self.store.product(&id).await? {
            Some(p) if p.visible_to(caller) => Ok(p),
            _ => Err(DomainError::NotFound { kind: "product" }),
        }
    }

    /// Publishes a Service Catalog product (admins).
    pub async fn publish(
        &self,
        caller: &Caller,
        input: PublishProduct,
        now: Timestamp,
    ) -> Result<Product, DomainError> {
        require_admin(caller, "publish products")?;
        self.publish_as(&caller.username, input, now).await
    }

    /// Publishes on behalf of `actor`, without a caller: the deploy's catalog import and the
    /// local seed, which go through exactly the checks an admin's request does.
    pub async fn publish_as(&self, actor: &str, input: PublishProduct, now: Timestamp) -> Result<Product, DomainError> {
        let id = ProductId::parse(&input.id)
            .map_err(|_| DomainError::invalid("id", "must be 1 to 64 lowercase letters, digits or dashes"))?;
        let visible_to = groups(&input.visible_to)?;
        let apps = apps(&input.apps)?;
        if !VOLUME_GIB.contains(&input.volume_gib) {
            return Err(DomainError::unprocessable(
                "volumeGiB",
                format!("must be {} to {} GiB", VOLUME_GIB.start(), VOLUME_GIB.end()),
            ));
        }
        let price = PriceVersion {
            effective_from: input.price.effective_from.unwrap_or(now),
            compute_per_hour: input.price.compute_per_hour,
            storage_per_gb_month: input.price.storage_per_gb_month,
            currency: input.price.currency.clone(),
        };
        check_price("price", &price)?;
        let (vcpus, memory_gib) = self.machine(&input).await?;
        let sc = self.service_catalog_ref(&input).await?;
        let (name, description) = sc.1;
        let product = Product {
            id: id.clone(),
            name,
            description,
            instance_type: input.instance_type.clone(),
            vcpus,
            memory_gib,
            hourly_price: Money { amount: price.compute_per_hour, currency: price.currency.clone() },
            storage_price: Some(Money { amount: price.storage_per_gb_month, currency: price.currency.clone() }),
            prices: vec![price.clone()],
            hibernation: input.hibernation,
            volume_gib: input.volume_gib,
            service_catalog: Some(sc.0.clone()),
            apps,
            visible_to,
            published: true,
            version: 1,
        };
        let event = CatalogEvent {
            at: now,
            actor: actor.to_owned(),
            action: CatalogEventAction::Publish,
            product_id: id.clone(),
            details: json!({
                "serviceCatalog": sc.0,
                "instanceType": product.instance_type,
                "vcpus": product.vcpus,
                "memoryGiB": product.memory_gib,
                "volumeGiB": product.volume_gib,
                "hibernation": product.hibernation,
                "visibleTo": product.visible_to,
                "price": price,
            }),
        };
        match self.store.insert_product(&product, &event).await {
            Ok(()) => Ok(product),
            Err(StoreError::Conflict) => {
                Err(DomainError::unprocessable("id", format!("a product with id {id} is already in the catalog")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What EC2 says of the instance type (vCPUs, memory GiB), checked against the request:
    /// hibernation needs a type that supports it and a root volume holding the RAM and the
    /// system.
    async fn machine(&self, input: &PublishProduct) -> Result<(u32, u32), DomainError> {
        let instance = self.instance_types.instance_type(&input.instance_type).await?.ok_or_else(|| {
            DomainError::unprocessable(
                "instanceType",
                format!("EC2 does not offer instance type {} in this region", input.instance_type),
            )
        })?;
        let memory_gib = u32::try_from(instance.memory_mib.div_ceil(1024)).unwrap_or(u32::MAX);
        if input.hibernation {
            if !instance.hibernation_supported {
                return Err(DomainError::unprocessable(
                    "hibernation",
                    format!("EC2 says instance type {} cannot hibernate", input.instance_type),
                ));
            }
            let needed = memory_gib.saturating_add(HIBERNATION_OS_ALLOWANCE_GIB);
            if input.volume_gib < needed {
                return Err(DomainError::unprocessable(
                    "volumeGiB",
                    format!(
                        "hibernation writes the {memory_gib} GiB of RAM to the root volume: it needs at least \
                         {needed} GiB ({memory_gib} GiB + {HIBERNATION_OS_ALLOWANCE_GIB} GiB for the system)"
                    ),
                ));
            }
        }
        Ok((instance.vcpus, memory_gib))
    }

    /// What Service Catalog holds: the reference to launch with, and the name and description.
    async fn service_catalog_ref(
        &self,
        input: &PublishProduct,
    ) -> Result<(ServiceCatalogRef, (String, String)), DomainError> {
        let product_id = &input.service_catalog_product_id;
        let sc = self.service_catalog.product(product_id).await?.ok_or_else(|| {
            DomainError::unprocessable(
                "serviceCatalogProductId",
                format!("Service Catalog has no product {product_id} this account can see"),
            )
        })?;
        let artifact = match &input.provisioning_artifact_id {
            Some(wanted) => {
                if !sc.artifacts.iter().any(|a| &a.id == wanted) {
                    return Err(DomainError::unprocessable(
                        "provisioningArtifactId",
                        format!("Service Catalog lists no provisioning artifact {wanted} for {product_id}"),
                    ));
                }
                Some(wanted.clone())
            }
            None => sc.artifacts.iter().filter(|a| a.recommended).max_by_key(|a| a.created_at).map(|a| a.id.clone()),
        };
        let path_id = match self.provisioning {
            Provisioning::Ec2Launch => {
                if input.launch_path_id.is_some() {
                    return Err(DomainError::unprocessable(
                        "launchPathId",
                        "this deployment launches with EC2 directly (ec2-launch) and uses no launch path",
                    ));
                }
                None
            }
            Provisioning::ServiceCatalog => {
                let Some(artifact) = &artifact else {
                    return Err(DomainError::unprocessable(
                        "provisioningArtifactId",
                        format!("Service Catalog lists no recommended provisioning artifact for {product_id}"),
                    ));
                };
                if self.service_catalog.artifact_active(product_id, artifact).await? != Some(true) {
                    return Err(DomainError::unprocessable(
                        "provisioningArtifactId",
                        format!("provisioning artifact {artifact} of {product_id} is not active"),
                    ));
                }
                let paths = self.service_catalog.launch_paths(product_id).await?;
                match (&input.launch_path_id, paths.as_slice()) {
                    (Some(wanted), _) if paths.contains(wanted) => Some(wanted.clone()),
                    (Some(wanted), _) => {
                        return Err(DomainError::unprocessable(
                            "launchPathId",
                            format!("{product_id} has no launch path {wanted} for this account"),
                        ));
                    }
                    (None, [only]) => Some(only.clone()),
                    (None, []) => {
                        return Err(DomainError::unprocessable(
                            "serviceCatalogProductId",
                            format!("{product_id} is in no portfolio this account can launch from"),
                        ));
                    }
                    (None, several) => {
                        return Err(DomainError::unprocessable(
                            "launchPathId",
                            format!("{product_id} has several launch paths: name one of {}", several.join(", ")),
                        ));
                    }
                }
            }
        };
        let name = sc.name.trim().to_owned();
        Ok((
            ServiceCatalogRef { product_id: sc.id, provisioning_artifact_id: artifact, path_id },
            (if name.is_empty() { input.id.clone() } else { name }, sc.description),
        ))
    }

    /// Replaces the descriptive fields (admins). Unchanged fields write nothing.
    pub async fn edit(
        &self,
        caller: &Caller,
        id: &str,
        input: EditProduct,
        now: Timestamp,
    ) -> Result<Product, DomainError> {
        require_admin(caller, "edit products")?;
        let current = self.get(caller, id).await?;
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(DomainError::invalid("name", "must be 1 to 100 characters long"));
        }
        if input.description.chars().count() > 1000 {
            return Err(DomainError::invalid("description", "must be at most 1000 characters long"));
        }
        let next = Product {
            name,
            description: input.description.trim().to_owned(),
            visible_to: groups(&input.visible_to)?,
            apps: apps(&input.apps)?,
            version: current.version + 1,
            ..current.clone()
        };
        let mut changes = serde_json::Map::new();
        let mut change = |field: &str, before: Value, after: Value| {
            if before != after {
                changes.insert(field.to_owned(), json!({ "before": before, "after": after }));
            }
        };
        change("name", json!(current.name), json!(next.name));
        change("description", json!(current.description), json!(next.description));
        change("visibleTo", json!(current.visible_to), json!(next.visible_to));
        change("apps", json!(current.apps), json!(next.apps));
        if changes.is_empty() {
            return Ok(current);
        }
        self.save(caller, next, CatalogEventAction::Edit, Value::Object(changes), now).await
    }

    /// Appends a price version (admins): it applies from its `effective_from`, which may not
    /// be in the past nor before the latest version, so no amount already incurred moves.
    pub async fn add_price(
        &self,
        caller: &Caller,
        id: &str,
        price: PriceVersion,
        now: Timestamp,
    ) -> Result<Product, DomainError> {
        require_admin(caller, "change prices")?;
        let current = self.get(caller, id).await?;
        check_price("", &price)?;
        if price.effective_from < now {
            return Err(DomainError::unprocessable(
                "effectiveFrom",
                format!("is in the past ({now} now): a price applies only from now on"),
            ));
        }
        let book = PriceBook::for_product(&current)?;
        if let Some(last) = book.versions().last()
            && price.effective_from <= last.effective_from
        {
            return Err(DomainError::unprocessable(
                "effectiveFrom",
                format!("must be after the latest version's, {}", last.effective_from),
            ));
        }
        if price.currency != book.currency() {
            return Err(DomainError::unprocessable(
                "currency",
                format!("the product is priced in {}; a version in another currency would not add up", book.currency()),
            ));
        }
        let mut prices = book.versions().to_vec();
        prices.push(price.clone());
        let next = Product { prices, version: current.version + 1, ..current };
        self.save(caller, next, CatalogEventAction::Price, json!({ "price": price }), now).await
    }

    /// Unpublishes a product (admins): nobody launches it any more; its workspaces keep
    /// running and keep their prices. Unpublishing it again changes nothing.
    pub async fn unpublish(&self, caller: &Caller, id: &str, now: Timestamp) -> Result<Product, DomainError> {
        require_admin(caller, "unpublish products")?;
        let current = self.get(caller, id).await?;
        if !current.published {
            return Ok(current);
        }
        let next = Product { published: false, version: current.version + 1, ..current };
        self.save(caller, next, CatalogEventAction::Unpublish, json!({}), now).await
    }

    /// A page of a product's history (admins).
    pub async fn events(
        &self,
        caller: &Caller,
        id: &str,
        page: &PageRequest,
    ) -> Result<Page<CatalogEvent>, DomainError> {
        require_admin(caller, "read the catalog's history")?;
        let product = self.get(caller, id).await?;
        Ok(self.store.product_events(&product.id, page).await?)
    }

    async fn save(
        &self,
        caller: &Caller,
        product: Product,
        action: CatalogEventAction,
        details: Value,
        now: Timestamp,
    ) -> Result<Product, DomainError> {
        let event =
            CatalogEvent { at: now, actor: caller.username.clone(), action, product_id: product.id.clone(), details };
        self.store.update_product(&product, &event).await?;
        Ok(product)
    }
}

/// Groups as given, trimmed, without duplicates: 1 to 20 of 1 to 128 characters.
fn groups(input: &[String]) -> Result<Vec<String>, DomainError> {
    let mut out: Vec<String> = Vec::new();
    for g in input {
        let g = g.trim();
        if g.is_empty() || g.chars().count() > 128 {
            return Err(DomainError::invalid("visibleTo", "each group must be 1 to 128 characters long"));
        }
        if !out.iter().any(|o| o == g) {
            out.push(g.to_owned());
        }
    }
    if out.is_empty() || out.len() > 20 {
        return Err(DomainError::invalid("visibleTo", "must name 1 to 20 groups"));
    }
    Ok(out)
}

fn apps(input: &[String]) -> Result<Vec<AppName>, DomainError> {
    let mut out: Vec<AppName> = Vec::new();
    for a in input {
        let app = AppName::parse("apps", a)?;
        if out.contains(&app) {
            return Err(DomainError::invalid("apps", format!("{app} is listed twice")));
        }
        out.push(app);
    }
    if out.len() > 8 {
        return Err(DomainError::invalid("apps", "at most 8 apps"));
    }
    Ok(out)
}

/// Not negative, an ISO 4217 code; `prefix` names the object holding the fields (`price`).
fn check_price(prefix: &str, price: &PriceVersion) -> Result<(), DomainError> {
    let field = |name: &str| if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") };
    if price.compute_per_hour.is_sign_negative() {
        return Err(DomainError::invalid(field("computePerHour"), "cannot be negative"));
    }
    if price.storage_per_gb_month.is_sign_negative() {
        return Err(DomainError::invalid(field("storagePerGbMonth"), "cannot be negative"));
    }
    if price.currency.len() != 3 || !price.currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(DomainError::invalid(field("currency"), "must be an ISO 4217 code such as EUR"));
    }
    Ok(())
}
