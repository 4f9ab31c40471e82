//! Atelier's domain: what a workspace is, how it moves through its lifecycle, what it
//! costs, what data it may read, and the ports (traits) through which the use cases reach
//! storage, provisioning, EC2 and the directory. One folder per capability:
//!
//! | module | owns |
//! |---|---|
//! | [`kernel`] | ids, errors, pages and store errors, callers and roles, money, instants |
//! | [`catalog`] | products, their prices and the apps they serve; the `Catalog` port |
//! | [`apps`] | opening a workspace's apps through the gateway: who may, break-glass, connections |
//! | [`workspaces`] | the workspace, its lifecycle table and writer, its ports, its use cases, state-sync |
//! | [`schedule`] | the pure schedule, its ports, the schedule edits, the scheduler tick |
//! | [`costs`] | the estimate, budgets and their watch, actuals, their ports |
//! | [`datasets`] | the registry, attachments, the access trace, revocation, their ports |
//! | [`notifications`] | what Atelier tells people of its own accord: in the API and by e-mail, with delivery status |
//! | [`jobs`] | the scheduled jobs, in the order every runner calls them |
//! | `testing` | one in-memory implementation of each port, and fixtures (feature `test-support`) |
//!
//! Nothing here knows about AWS or HTTP; adapters live in `atelier-adapters`, the HTTP
//! layer in `atelier-web`, and the composition root that wires them in `atelier-app`.

// Production functions stay under 80 lines (clippy.toml); tests may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]
// Money is decimal, never a float.
#![cfg_attr(not(test), deny(clippy::float_arithmetic))]
// Every public item says what it is for; rustdoc is the reference for the other crates.
#![warn(missing_docs)]

pub mod apps;
pub mod catalog;
pub mod costs;
pub mod datasets;
pub mod jobs;
pub mod kernel;
pub mod notifications;
pub mod schedule;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod workspaces;

// The vocabulary most callers need, at the root.
pub use catalog::Product;
pub use kernel::{Caller, DomainError, Money, ProductId, Profile, Role, UpstreamError, WorkspaceId};
pub use workspaces::{
    Actor, Command, Event, EventAction, IllegalTransition, Observation, Provisioned, State, Trigger, Workspace,
    WorkspaceName,
};
