//! Builders for the values tests need most, with defaults that are valid and boring, so a
//! test sets only what it is about:
//!
//! ```
//! use atelier_domain::{State, testing::{ProductBuilder, WorkspaceBuilder}};
//! let workspace = WorkspaceBuilder::new().owner("bob").state(State::Stopped).instance("i-1").build();
//! assert_eq!(workspace.owner.username, "bob");
//! let product = ProductBuilder::new("gpu").hourly("10.00").no_storage_price().build();
//! assert_eq!(product.hourly_price.amount.to_string(), "10.00");
//! ```
//!
//! [`write_history`] writes a workspace and its state changes through any
//! [`WorkspaceStore`], as the use cases and state-sync would have.

use jiff::Timestamp;
use rust_decimal::Decimal;

use crate::catalog::{AppName, PriceVersion, Product, ServiceCatalogRef};
use crate::kernel::{DatasetId, Money, ProductId, StoreError, WorkspaceId};
use crate::schedule::Schedule;
use crate::workspaces::{
    Actor, Event, EventAction, Inserted, Owner, Provisioned, State, Workspace, WorkspaceName, WorkspaceStore,
};

/// The instant fixtures are created at unless told otherwise: a Monday, 08:00 UTC.
pub const CREATED_AT: &str = "2026-11-23T08:00:00Z";

/// A workspace, by default alice's `small-t3-large` named "Test", `RUNNING`, version 1,
/// created and last changed at [`CREATED_AT`], with no instance, the default schedule and
/// no dataset.
#[derive(Debug, Clone)]
pub struct WorkspaceBuilder(Workspace);

impl Default for WorkspaceBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Workspace> for WorkspaceBuilder {
    /// Starts from `workspace`, to change a few fields of a fixture.
    fn from(workspace: Workspace) -> Self {
        Self(workspace)
    }
}

impl WorkspaceBuilder {
    /// The default workspace, with a fresh id.
    pub fn new() -> Self {
        let at: Timestamp = CREATED_AT.parse().expect("a valid instant");
        let id = WorkspaceId::generate();
        Self(Workspace {
            provision_token: format!("token-{id}"),
            id,
            name: WorkspaceName::parse("Test").expect("a valid name"),
            owner: Owner { username: "alice".into(), sub: "sub-alice".into(), cost_centre: None },
            product_id: ProductId::parse("small-t3-large").expect("a valid id"),
            instance_type: "t3.large".into(),
            hibernation: true,
            state: State::Running,
            provisioned: Provisioned::default(),
            created_at: at,
            updated_at: at,
            error: None,
            version: 1,
            schedule: Schedule::default(),
            datasets: Vec::new(),
            launch: None,
            instance_seen: None,
            usage: None,
        })
    }

    /// Named `name` (panics when it is not a valid name).
    pub fn name(mut self, name: &str) -> Self {
        self.0.name = WorkspaceName::parse(name).expect("a valid name");
        self
    }

    /// Owned by `username`, whose `sub` is `sub-<username>`.
    pub fn owner(mut self, username: &str) -> Self {
        self.0.owner.username = username.into();
        self.0.owner.sub = format!("sub-{username}");
        self
    }

    /// With `owner.sub` set to `sub`.
    pub fn owner_sub(mut self, sub: &str) -> Self {
        self.0.owner.sub = sub.into();
        self
    }

    /// With the cost centre recorded at creation (`None`: none).
    pub fn cost_centre<'a>(mut self, cost_centre: impl Into<Option<&'a str>>) -> Self {
        self.0.owner.cost_centre = cost_centre.into().map(str::to_owned);
        self
    }

    /// Launched from `product`, an instance of `instance_type`.
    pub fn product(mut self, product: &str, instance_type: &str) -> Self {
        self.0.product_id = ProductId::parse(product).expect("a valid id");
        self.0.instance_type = instance_type.into();
        self
    }

    /// Whether the product can hibernate.
    pub fn hibernation(mut self, hibernation: bool) -> Self {
        self.0.hibernation = hibernation;
        self
    }

    /// In `state`.
    pub fn state(mut self, state: State) -> Self {
        self.0.state = state;
        self
    }

    /// With EC2 instance `instance_id` (and nothing else provisioned).
    pub fn instance(mut self, instance_id: &str) -> Self {
        self.0.provisioned.instance_id = Some(instance_id.into());
        self
    }

    /// With this provisioner handle.
    pub fn provisioned(mut self, provisioned: Provisioned) -> Self {
        self.0.provisioned = provisioned;
        self
    }

    /// With this provision token.
    pub fn provision_token(mut self, token: &str) -> Self {
        self.0.provision_token = token.into();
        self
    }

    /// Created and last changed at `at`.
    pub fn at(mut self, at: Timestamp) -> Self {
        self.0.created_at = at;
        self.0.updated_at = at;
        self
    }

    /// Last changed at `at` (its creation stays).
    pub fn updated_at(mut self, at: Timestamp) -> Self {
        self.0.updated_at = at;
        self
    }

    /// At version `version`.
    pub fn version(mut self, version: u64) -> Self {
        self.0.version = version;
        self
    }

    /// With this schedule.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.0.schedule = schedule;
        self
    }

    /// With these datasets attached.
    pub fn datasets(mut self, datasets: Vec<DatasetId>) -> Self {
        self.0.datasets = datasets;
        self
    }

    /// The workspace.
    pub fn build(self) -> Workspace {
        self.0
    }
}

/// An amount in euros (panics when it is not a decimal).
pub fn eur(amount: &str) -> Money {
    Money { amount: amount.parse::<Decimal>().expect("a decimal"), currency: "EUR".into() }
}

/// A product, by default an `m5.2xlarge` (8 vCPU, 32 GiB) at 0.35 EUR an hour with
/// storage at 0.0928 EUR per GB-month, hibernation, image `ami-1`, a 100 GiB volume, no
/// price history and no Service Catalog product.
#[derive(Debug, Clone)]
pub struct ProductBuilder(Product);

impl From<Product> for ProductBuilder {
    /// Starts from `product`, to change a few fields of a fixture.
    fn from(product: Product) -> Self {
        Self(product)
    }
}

impl ProductBuilder {
    /// The default product, with id `id` (panics when it is not a valid id).
    pub fn new(id: &str) -> Self {
        Self(Product {
            id: ProductId::parse(id).expect("a valid id"),
            name: "Python".into(),
            description: "d".into(),
            instance_type: "m5.2xlarge".into(),
            vcpus: 8,
            memory_gib: 32,
            hourly_price: eur("0.35"),
            storage_price: Some(eur("0.0928")),
            prices: Vec::new(),
            hibernation: true,
            volume_gib: 100,
            service_catalog: None,
            apps: vec![AppName::parse("app", "jupyterlab").expect("a valid app")],
            visible_to: vec!["scientists".into()],
            published: true,
            version: 1,
        })
    }

    /// Displayed as `name`.
    pub fn name(mut self, name: &str) -> Self {
        self.0.name = name.into();
        self
    }

    /// Described as `description` on its catalog card.
    pub fn description(mut self, description: &str) -> Self {
        self.0.description = description.into();
        self
    }

    /// An instance of `instance_type`, with `vcpus` and `memory_gib`.
    pub fn instance_type(mut self, instance_type: &str, vcpus: u32, memory_gib: u32) -> Self {
        self.0.instance_type = instance_type.into();
        self.0.vcpus = vcpus;
        self.0.memory_gib = memory_gib;
        self
    }

    /// At `amount` EUR per running hour.
    pub fn hourly(mut self, amount: &str) -> Self {
        self.0.hourly_price = eur(amount);
        self
    }

    /// With this storage price (any currency).
    pub fn storage_price(mut self, price: Money) -> Self {
        self.0.storage_price = Some(price);
        self
    }

    /// With no storage price (as items written before storage was priced).
    pub fn no_storage_price(mut self) -> Self {
        self.0.storage_price = None;
        self
    }

    /// With this price history.
    pub fn prices(mut self, prices: Vec<PriceVersion>) -> Self {
        self.0.prices = prices;
        self
    }

    /// Whether its instances can hibernate.
    pub fn hibernation(mut self, hibernation: bool) -> Self {
        self.0.hibernation = hibernation;
        self
    }

    /// With a `gib` GiB volume.
    pub fn volume(mut self, gib: u32) -> Self {
        self.0.volume_gib = gib;
        self
    }

    /// Visible to (and launchable by) members of these groups.
    pub fn visible_to(mut self, groups: &[&str]) -> Self {
        self.0.visible_to = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    /// Unpublished: nobody launches it any more.
    pub fn unpublished(mut self) -> Self {
        self.0.published = false;
        self
    }

    /// Provisioned from this Service Catalog product (`None`: launched directly).
    pub fn service_catalog(mut self, service_catalog: Option<ServiceCatalogRef>) -> Self {
        self.0.service_catalog = service_catalog;
        self
    }

    /// Serving these apps through the gateway (panics on an invalid name).
    pub fn apps(mut self, apps: &[&str]) -> Self {
        self.0.apps = apps.iter().map(|a| AppName::parse("app", a).expect("a valid app")).collect();
        self
    }

    /// The product.
    pub fn build(self) -> Product {
        self.0
    }
}

/// The event that creates `workspace`: its owner, at its creation instant, into its
/// current state (`PROVISIONING` for a new one).
pub fn creation_event(workspace: &Workspace) -> Event {
    Event {
        at: workspace.created_at,
        actor: Actor::user(&workspace.owner.username),
        action: EventAction::Create,
        from: None,
        to: workspace.state,
        reason: None,
        connection: None,
        instance: None,
    }
}

/// Writes `workspace` and its history through `store`, as the API and state-sync would
/// have: `steps` are (instant, state), the first its creation by its owner (the state
/// `workspace` is stored in, at that instant), each next one a state-sync observation
/// (version and last change moved, one event each). Returns the workspace as it is last
/// stored, or the store's error; panics when the insert answers anything but created.
pub async fn write_history(
    store: &dyn WorkspaceStore,
    mut workspace: Workspace,
    steps: &[(Timestamp, State)],
) -> Result<Workspace, StoreError> {
    let (&(created, first), changes) = steps.split_first().expect("a creation step");
    workspace.state = first;
    workspace.created_at = created;
    workspace.updated_at = created;
    let inserted = store.insert(&workspace, &creation_event(&workspace), None).await?;
    assert_eq!(inserted, Inserted::Created, "the workspace was created");
    for &(at, to) in changes {
        let from = workspace.state;
        workspace.state = to;
        workspace.version += 1;
        workspace.updated_at = at;
        let event = Event {
            at,
            actor: Actor::state_sync(),
            action: EventAction::Sync,
            from: Some(from),
            to,
            reason: None,
            connection: None,
            instance: None,
        };
        store.update(&workspace, from, Some(&event)).await?;
    }
    Ok(workspace)
}
