//! What the workspace capability needs from the outside world: durable storage of
//! workspaces and their history (DynamoDB), the provisioner that creates and destroys their
//! AWS resources (Service Catalog or EC2), and the power switch of their machines (EC2).
//! Adapters implement them in `atelier-adapters`; `crate::testing` has one in-memory
//! implementation of each.

use std::collections::HashMap;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Event, Provisioned, State, Workspace};
use crate::catalog::Product;
use crate::kernel::{Page, PageRequest, StoreError, UpstreamError, WorkspaceId};

/// Which workspaces to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceFilter {
    /// One owner's, newest first.
    Owner(String),
    /// Everybody's, newest first (admins).
    All,
    /// Those in one state, least recently changed first (state-sync, scheduler).
    State(State),
    /// The one whose EC2 instance this is (at most one: instance ids are never reused), for
    /// state-sync's handling of an EC2 state-change event: one read, even for an instance
    /// Atelier does not own.
    Instance(String),
}

/// A remembered `Idempotency-Key`: the request it came with and the workspace it created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Owner username (keys are scoped per user).
    pub owner: String,
    /// The key as sent.
    pub key: String,
    /// Fingerprint of the request body, to refuse the same key with another body.
    pub request_hash: String,
    /// The workspace the first request created.
    pub workspace_id: WorkspaceId,
    /// When the record may be forgotten.
    pub expires_at: Timestamp,
}

/// Outcome of inserting a new workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// The workspace, its creation event and its idempotency record are written.
    Created,
    /// Another request with the same idempotency key won the race.
    KeyTaken,
    /// The owner already has `max` active workspaces (neither TERMINATED nor FAILED).
    ActiveLimit {
        /// The store's cap per owner (`ATELIER_MAX_ACTIVE_WORKSPACES` in AWS).
        max: u32,
    },
}

/// Durable storage of workspaces and their history.
#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    /// Inserts a new workspace, its creation event and (when given) its idempotency record,
    /// all or nothing. In the same write, the workspace is indexed under the month of the
    /// event (the cost month index, [`crate::costs::MonthIndex::indexed`]) and, when it is
    /// active, counted against its owner's cap ([`Inserted::ActiveLimit`]).
    async fn insert(
        &self,
        workspace: &Workspace,
        event: &Event,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Inserted, StoreError>;

    /// One workspace by id.
    async fn get(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError>;

    /// The idempotency record for `(owner, key)`, if one is live.
    async fn idempotency(&self, owner: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// A page of workspaces.
    async fn list(&self, filter: &WorkspaceFilter, page: &PageRequest) -> Result<Page<Workspace>, StoreError>;

    /// Replaces the workspace if its stored version is `workspace.version - 1` and its stored
    /// state is `expected_state`, appending `event` in the same transaction.
    /// [`StoreError::Conflict`] when the condition fails. With an event, the same write
    /// indexes the workspace as it now is under the month of the event (the cost month
    /// index, [`crate::costs::MonthIndex::indexed`]); a move into or out of an ended state
    /// ([`State::is_ended`]) moves its owner's count of active workspaces.
    async fn update(
        &self,
        workspace: &Workspace,
        expected_state: State,
        event: Option<&Event>,
    ) -> Result<(), StoreError>;

    /// A page of a workspace's history, newest first.
    async fn events(&self, id: &WorkspaceId, page: &PageRequest) -> Result<Page<Event>, StoreError>;
}

/// What a provisioning or termination operation has come to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Termination only: nothing has asked AWS to tear the resources down yet (the call
    /// failed or never happened); state-sync asks again.
    NotStarted,
    /// AWS is still working on it; ask again on the next run.
    InProgress,
    /// Done; for provisioning, the instance that was created.
    Succeeded {
        /// The EC2 instance id (`i-...`) provisioning produced, when the provisioner can
        /// tell (state-sync keeps the handle's otherwise); `None` for a termination.
        instance_id: Option<String>,
    },
    /// Failed, with a reason fit for the workspace's owner.
    Failed {
        /// What AWS said went wrong, in words; a failed provisioning's ends up in
        /// `Workspace::error`.
        reason: String,
    },
}

/// What the provisioner needs to create a workspace's resources.
#[derive(Debug, Clone, Copy)]
pub struct ProvisionRequest<'a> {
    /// The new workspace: its id, owner and cost centre become the resources' `atelier:*`
    /// tags, its `provision_token` makes a repeated call harmless.
    pub workspace: &'a Workspace,
    /// The catalog product it is launched from, as the catalog has it now.
    pub product: &'a Product,
}

/// Creates and destroys the AWS resources behind a workspace (Service Catalog product, or
/// an EC2 instance launched directly).
#[async_trait]
pub trait Provisioner: Send + Sync {
    /// Starts provisioning; idempotent for the same `workspace.provision_token`.
    async fn provision(&self, request: ProvisionRequest<'_>) -> Result<Provisioned, UpstreamError>;
    /// How provisioning is going.
    async fn provisioning_progress(&self, provisioned: &Provisioned) -> Result<Progress, UpstreamError>;
    /// Starts tearing everything down; returns the updated handle.
    async fn terminate(&self, workspace: &Workspace) -> Result<Provisioned, UpstreamError>;
    /// How termination is going.
    async fn termination_progress(&self, provisioned: &Provisioned) -> Result<Progress, UpstreamError>;
}

/// What EC2 says of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    /// `pending`: launching or starting.
    Pending,
    /// `running`: up, and EC2 bills its compute.
    Running,
    /// `stopping`, also while a hibernation writes memory to the volume.
    Stopping,
    /// `stopped`, also once hibernated.
    Stopped,
    /// `shutting-down`: on its way to `terminated`, whoever asked.
    ShuttingDown,
    /// `terminated`: gone, though EC2 still lists it for a while.
    Terminated,
    /// EC2 does not know the instance (any more).
    #[serde(rename = "unknown")]
    Missing,
}

impl InstanceState {
    /// EC2's name for the state (`unknown` for [`InstanceState::Missing`]).
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
            InstanceState::ShuttingDown => "shutting-down",
            InstanceState::Terminated => "terminated",
            InstanceState::Missing => "unknown",
        }
    }

    /// Parses EC2's name for a state (`running`, `shutting-down`, ...), as
    /// `DescribeInstances` and the state-change events spell it.
    pub fn parse(name: &str) -> Option<Self> {
        [
            InstanceState::Pending,
            InstanceState::Running,
            InstanceState::Stopping,
            InstanceState::Stopped,
            InstanceState::ShuttingDown,
            InstanceState::Terminated,
            InstanceState::Missing,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// True while the instance (and so its volume) still exists: EC2 bills its storage.
    pub fn exists(self) -> bool {
        matches!(
            self,
            InstanceState::Pending | InstanceState::Running | InstanceState::Stopping | InstanceState::Stopped
        )
    }
}

/// What `DescribeInstances` shows of one instance: its state and, when EC2 gives one, why
/// it last changed (`StateTransitionReason`, e.g. `User initiated (2026-03-10 14:02:11 GMT)`),
/// which dates a stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStatus {
    /// The state.
    pub state: InstanceState,
    /// EC2's `StateTransitionReason`, `None` when empty.
    pub transition_reason: Option<String>,
}

impl From<InstanceState> for InstanceStatus {
    fn from(state: InstanceState) -> Self {
        Self { state, transition_reason: None }
    }
}

/// Powers instances on and off (EC2).
#[async_trait]
pub trait PowerSwitch: Send + Sync {
    /// Starts the instances (one batched call).
    async fn start(&self, instance_ids: &[String]) -> Result<(), UpstreamError>;
    /// Stops the instances, hibernating them when `hibernate` is set (one batched call).
    async fn stop(&self, instance_ids: &[String], hibernate: bool) -> Result<(), UpstreamError>;
    /// The current state of each instance.
    async fn observe(&self, instance_ids: &[String]) -> Result<HashMap<String, InstanceState>, UpstreamError>;
    /// The current state of each instance with EC2's reason for its last change (one
    /// batched `DescribeInstances`); without an override, [`PowerSwitch::observe`] with
    /// no reasons.
    async fn describe(&self, instance_ids: &[String]) -> Result<HashMap<String, InstanceStatus>, UpstreamError> {
        Ok(self.observe(instance_ids).await?.into_iter().map(|(id, state)| (id, state.into())).collect())
    }
    /// The total size of the EBS volumes attached to the instance, GiB (`DescribeVolumes`);
    /// `None` when EC2 shows none (yet).
    async fn attached_volume_gib(&self, instance_id: &str) -> Result<Option<u32>, UpstreamError>;
}

/// Whether an owner may start compute now: asked before a person's start or create and
/// before the scheduler's start (the budget's `stop-at-100`, [`crate::costs::BudgetGate`]).
/// Only starts by Atelier are asked; what state-sync observes is never refused.
#[async_trait]
pub trait StartGate: Send + Sync {
    /// `None` when `owner` may start a machine at `now`; otherwise why not and until when,
    /// in words fit for the owner.
    async fn refusal(&self, owner: &str, now: Timestamp) -> Result<Option<String>, crate::kernel::DomainError>;
}
