//! DynamoDB: the single table behind every store port ([`WorkspaceStore`], [`Catalog`],
//! [`ScheduleDefaults`], [`SchedulerRuns`], [`MonthIndex`], [`BudgetStore`], [`ActualStore`],
//! [`DatasetStore`], [`NotificationStore`], [`RequestCounter`]), all implemented on [`Table`].
//!
//! The key design, every item and every access pattern are in
//! docs/adr/0002-single-table.md. Here: one file per store (`workspaces`, `catalog`,
//! `schedule`, `costs`, `datasets`), and the mechanics they share written once: the key
//! formats (`keys`), the item codec (`items`), reads and pages (`reads`), conditional
//! writes and the one transaction helper (`writes`).
//!
//! [`WorkspaceStore`]: atelier_domain::workspaces::WorkspaceStore
//! [`Catalog`]: atelier_domain::catalog::Catalog
//! [`ScheduleDefaults`]: atelier_domain::schedule::ScheduleDefaults
//! [`SchedulerRuns`]: atelier_domain::schedule::SchedulerRuns
//! [`MonthIndex`]: atelier_domain::costs::MonthIndex
//! [`BudgetStore`]: atelier_domain::costs::BudgetStore
//! [`ActualStore`]: atelier_domain::costs::ActualStore
//! [`DatasetStore`]: atelier_domain::datasets::DatasetStore
//! [`NotificationStore`]: atelier_domain::notifications::NotificationStore
//! [`RequestCounter`]: atelier_domain::kernel::limits::RequestCounter

use atelier_domain::kernel::StoreError;
use aws_sdk_dynamodb::Client;

use crate::upstream;

mod apps;
mod catalog;
mod cost_centres;
mod costs;
mod datasets;
mod exchange_rates;
mod items;
mod keys;
mod limits;
mod notifications;
mod reads;
mod schedule;
#[cfg(test)]
mod tests;
mod workspaces;
mod writes;

/// Index over one owner's workspaces, newest first.
pub const BY_OWNER: &str = "by-owner";
/// Index over workspaces in one state.
pub const BY_STATE: &str = "by-state";
/// Index over every item of one kind (workspaces, products).
pub const BY_KIND: &str = "by-kind";
/// Sparse index over workspaces by EC2 instance id (only those with an instance).
pub const BY_INSTANCE: &str = "by-instance";

/// The table's key schema and indexes, as (index name, partition attribute, sort attribute).
/// `infra/` declares the same; a test compares them.
pub const INDEXES: [(&str, &str, &str); 4] = [
    (BY_OWNER, "ownerPk", "ownerSk"),
    (BY_STATE, "statePk", "stateSk"),
    (BY_KIND, "kindPk", "kindSk"),
    (BY_INSTANCE, "instancePk", "instanceSk"),
];

/// Most active workspaces (neither TERMINATED nor FAILED) one user may have, unless
/// configured otherwise ([`Table::with_max_active`]).
pub const DEFAULT_MAX_ACTIVE_WORKSPACES: u32 = 5;

/// The Atelier table.
#[derive(Clone, Debug)]
pub struct Table {
    client: Client,
    name: String,
    max_active: u32,
}

impl Table {
    /// The table `name`, through `client`, with the default cap on active workspaces.
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into(), max_active: DEFAULT_MAX_ACTIVE_WORKSPACES }
    }

    /// The table `name`, with a client built from `config`.
    pub fn from_config(config: &aws_types::SdkConfig, name: impl Into<String>) -> Self {
        Self::new(Client::new(config), name)
    }

    /// The same table, letting each user have at most `max` active workspaces.
    pub fn with_max_active(mut self, max: u32) -> Self {
        self.max_active = max;
        self
    }

    /// The cap on active workspaces per user.
    pub fn max_active(&self) -> u32 {
        self.max_active
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True when the table exists.
    pub async fn exists(&self) -> Result<bool, StoreError> {
        match self.client.describe_table().table_name(&self.name).send().await {
            Ok(_) => Ok(true),
            Err(e) if crate::error_code(&e) == Some("ResourceNotFoundException") => Ok(false),
            Err(e) => Err(upstream("dynamodb", "DescribeTable", e).into()),
        }
    }

    /// How many active workspaces the counter item says `owner` has (0 when none was ever
    /// created).
    pub async fn active_workspaces(&self, owner: &str) -> Result<i64, StoreError> {
        let item = self.get_item(keys::active_pk(owner), keys::ACTIVE_SK.into()).await?;
        let count = item.as_ref().and_then(|item| item.get("active")).and_then(|v| v.as_n().ok());
        count.map_or(Ok(0), |n| n.parse().map_err(|e| items::corrupt("active workspaces counter", e)))
    }
}
