//! Test doubles and fixtures, for the domain's tests, the benchmarks, the adapters' tests
//! and the integration tests (feature `test-support`; production code never enables it).
//! There is one double per port: use it rather than writing another.
//!
//! | port(s) | double | set it up with | hooks and logs |
//! |---|---|---|---|
//! | `WorkspaceStore`, `Catalog`, `CatalogStore`, `MonthIndex`, `BudgetStore`, `NotificationStore`, `ActualStore`, `ScheduleDefaults`, `SchedulerRuns`, `DatasetStore` | [`MemoryStore`] | [`MemoryStore::put_product`], [`MemoryStore::put_workspace`], [`MemoryStore::load`] (a whole history), [`write_history`] (through the port) | [`MemoryStore::with_page_size`] (small pages), [`MemoryStore::with_max_active`]; read back with [`MemoryStore::workspace`], [`MemoryStore::history`], [`MemoryStore::all_events`] |
//! | any `WorkspaceStore` (the memory one, or the real DynamoDB table in integration tests) | [`Hooked`] around it | [`Hooked::new`], [`Hooked::around`] (a shared store) | [`Hooked::fail_after`] (a run interrupted after N calls), [`Hooked::latency`], [`Hooked::another_writer_wins`] (a lost race); [`Hooked::calls`], [`Hooked::history_reads`] |
//! | `PowerSwitch`, `DataMounts` | [`FakeEc2`] | [`FakeEc2::set`] (instance states), [`FakeEc2::report_mounted`] (the agent's reports) | [`FakeEc2::refuse`]; [`FakeEc2::calls`], [`FakeEc2::stopped`], [`FakeEc2::mounts`] |
//! | `ServiceCatalogProducts`, `InstanceTypes` | [`FakeServiceCatalog`], [`FakeInstanceTypes`] | [`FakeServiceCatalog::add`] (a product with one artifact and one path) | [`FakeServiceCatalog::deactivate`], [`FakeServiceCatalog::set_paths`] |
//! | `DataCredentials` | [`FakeIam`] | [`FakeIam::put`] (a role changed by hand) | [`FakeIam::refuse`]; [`FakeIam::policy`], [`FakeIam::writes`] |
//! | `Provisioner` | [`FakeProvisioner`] | [`FakeProvisioner::set_provisioning`], [`FakeProvisioner::set_termination`] | [`FakeProvisioner::fail_terminate`]; [`FakeProvisioner::terminated`] |
//! | `StartGate` | [`FixedGate`] (or the real `costs::BudgetGate` on the memory store) | [`FixedGate::refuse`] | [`FixedGate::asked`] |
//! | `Mailer` | [`FakeMailer`] | | [`FakeMailer::refuse`]; [`FakeMailer::sent`] |
//! | `UserDirectory`, `KnownUsers`, `GroupDirectory`, `Recipients` | [`FakeDirectory`] | [`FakeDirectory::with_user`], [`FakeDirectory::set_groups`] | [`FakeDirectory::fail_groups`]; an unknown user is a deleted one |
//! | `CostSource` | [`FakeCostSource`] | [`FakeCostSource::answering`] | [`FakeCostSource::asked`] |
//! | `ExportObjects` | [`MemoryExports`] | | [`MemoryExports::refuse_parts`]; [`MemoryExports::object`], [`MemoryExports::keys`], [`MemoryExports::aborted`] |
//!
//! The storage doubles keep the contracts the DynamoDB adapter keeps: conditional writes
//! on version and expected state, the month index entry and the active-workspace count
//! moved by every workspace write, the lists' orders, page tokens that only their own list
//! accepts; [`contract`] checks them on the double here and on the table in the
//! integration tests. Values come from [`fixtures`]: [`WorkspaceBuilder`] and [`ProductBuilder`]
//! with valid, boring defaults, so a test names only what it is about.

mod catalog;
pub mod contract;
mod cost_source;
mod directory;
mod ec2;
pub mod fixtures;
mod gate;
mod hooks;
mod iam;
pub mod json;
mod mail;
pub mod memory;
mod provisioner;
#[cfg(test)]
mod tests;

pub use catalog::{FakeInstanceTypes, FakeServiceCatalog};
pub use cost_source::FakeCostSource;
pub use directory::FakeDirectory;
pub use ec2::{FakeEc2, PowerAction, PowerCall};
pub use fixtures::{ProductBuilder, WorkspaceBuilder, creation_event, write_history};
pub use gate::FixedGate;
pub use hooks::{Call, Hooked};
pub use iam::FakeIam;
pub use mail::FakeMailer;
pub use memory::{MemoryExports, MemoryStore, StoredExport};
pub use provisioner::FakeProvisioner;
