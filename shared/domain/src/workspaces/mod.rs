//! Workspaces: one user's machine, launched from a catalog product, and its life.
//!
//! Owns what a workspace is ([`model`]) and its history ([`event`]); the lifecycle as a
//! data table ([`lifecycle`]) and the one writer that moves a workspace through it with a
//! conditional write ([`writer`]); the ports to its storage, its provisioner and its
//! machine's power ([`ports`]); the use cases the API exposes ([`use_cases`]: create, read,
//! list, start, stop, hibernate, terminate, history); and state-sync ([`state_sync`]), the
//! job that settles transitional workspaces from what AWS reports.
//!
//! May use: the kernel, the catalog (a workspace is launched from a product), the pure
//! schedule (a workspace carries its schedule) and three pure parts of costs: the month
//! aggregate (`costs::aggregate`: the writer folds each event into the workspace's `usage`
//! in the same conditional write as the event, so that it is never behind the history;
//! docs/adr/0006-costs.md, "Month aggregates"), the price book (a launch records the price
//! version in force) and the budget watch's actor name. Nothing else of costs: the
//! scheduler tick, the schedule edits, costs and datasets use this capability, never the
//! other way round.

pub mod event;
pub mod history;
pub mod lifecycle;
pub mod model;
pub mod ports;
pub mod state_sync;
pub mod use_cases;
pub mod writer;

pub use event::{Actor, Connection, Event, EventAction, InstanceSeen, TimeSource, Via};
pub use history::{HistoryRequest, HistoryStep};
pub use lifecycle::{Command, IllegalTransition, Observation, State, Trigger, allowed_commands};
pub use model::{Launch, Owner, Provisioned, Workspace, WorkspaceName};
pub use ports::{
    IdempotencyRecord, Inserted, InstanceState, InstanceStatus, PowerSwitch, Progress, ProvisionRequest, Provisioner,
    StartGate, WorkspaceFilter, WorkspaceStore,
};
pub use state_sync::{InstanceChange, RECONCILE_AFTER, StateSync, SyncReport, Timeouts};
pub use use_cases::{CreateWorkspace, IDEMPOTENCY_TTL, ListScope, Workspaces};
pub use writer::{record_event, record_provisioned, transition, transition_seen};
