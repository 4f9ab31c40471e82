//! Atelier's domain: what a workspace is, how it moves through its lifecycle, and the
//! ports (traits) through which the use cases reach storage, provisioning and EC2.
//!
//! Nothing here knows about AWS or HTTP; adapters live in `atelier-adapters`, the HTTP
//! layer in `atelier-web`.

pub mod costs;
pub mod datasets;
pub mod error;
pub mod event;
pub mod id;
pub mod lifecycle;
pub mod ports;
pub mod product;
pub mod schedule;
pub mod scheduler;
pub mod service;
pub mod sync;
pub mod user;
pub mod workspace;

pub use error::{DomainError, UpstreamError};
pub use event::{Actor, Event, EventAction};
pub use id::{ProductId, WorkspaceId};
pub use lifecycle::{Command, IllegalTransition, Observation, State, Trigger};
pub use product::{Money, Product};
pub use user::{Caller, Profile, Role};
pub use workspace::{Provisioned, Workspace, WorkspaceName};
