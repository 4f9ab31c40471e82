//! What the dataset use cases need from the outside world: storage of the registry, the
//! attachments and the trace (DynamoDB), users' groups (Cognito), the machine's mount list
//! and the agent's reports (EC2 instance tags), and the machine's credentials (IAM).

use async_trait::async_trait;
use jiff::Timestamp;

use super::{AccessEvent, Dataset, DatasetId, Location};
use crate::kernel::{Page, PageRequest, StoreError, UpstreamError, WorkspaceId};
use crate::workspaces::{State, Workspace};

/// A dataset as a workspace mounts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Names the instance tag (`atelier:dataset:<id>`) and the mount point (`/data/<id>`).
    pub dataset_id: DatasetId,
    /// What the machine mounts, read-only.
    pub location: Location,
}

/// An open attachment of a dataset to a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The dataset attached.
    pub dataset_id: DatasetId,
    /// The workspace it is attached to.
    pub workspace_id: WorkspaceId,
    /// The workspace owner's Cognito username, copied at attach time: the reader the
    /// revocation pass checks.
    pub owner: String,
    /// When the attach was written (the attach event's instant).
    pub since: Timestamp,
    /// When the workspace agent reported the dataset mounted (recorded by the data-access
    /// pass, once per attachment); `None` until then.
    pub mounted_at: Option<Timestamp>,
}

/// What the workspace agent reports it has mounted (`atelier:mounted:<id>` = the instant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountReport {
    /// The dataset mounted under `/data/<id>`.
    pub dataset_id: DatasetId,
    /// When the agent mounted it, by the machine's clock.
    pub mounted_at: Timestamp,
}

/// Which part of the trace to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessFilter {
    /// One dataset's, oldest first.
    Dataset(DatasetId),
    /// One user's (as the workspace owner or the granted user), oldest first.
    User(String),
    /// Everything that happened in one UTC month (`YYYY-MM`), oldest first.
    Month(String),
}

/// An attach or detach, written all or nothing: the workspace (conditional on its stored
/// version and state), the attachment item, the trace event and the workspace's policy
/// document.
#[derive(Debug, Clone, Copy)]
pub struct AttachmentChange<'a> {
    /// The workspace as it is to be stored (version already incremented).
    pub workspace: &'a Workspace,
    /// The state the decision was made on, which the stored workspace must still be in.
    pub expected_state: State,
    /// The dataset attached or detached.
    pub dataset: &'a DatasetId,
    /// The version of the dataset the decision was made on: an attach fails with
    /// [`StoreError::Conflict`] when the dataset changed (or was deleted) meanwhile. A
    /// detach does not care.
    pub dataset_version: Option<u64>,
    /// The trace entry of the change (`attach` or `detach`).
    pub event: &'a AccessEvent,
    /// The workspace's new IAM policy document (JSON).
    pub policy: &'a str,
}

/// Durable storage of datasets, attachments and the access trace.
#[async_trait]
pub trait DatasetStore: Send + Sync {
    /// Inserts a new dataset with its grant events; [`StoreError::Conflict`] when the id is taken.
    async fn insert_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError>;
    /// One dataset.
    async fn dataset(&self, id: &DatasetId) -> Result<Option<Dataset>, StoreError>;
    /// A page of every dataset, by id.
    async fn datasets(&self, page: &PageRequest) -> Result<Page<Dataset>, StoreError>;
    /// Replaces a dataset whose stored version is `dataset.version - 1`, appending `events`.
    async fn update_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError>;
    /// Deletes a dataset whose stored version is `dataset.version`, appending `events`.
    async fn delete_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError>;
    /// The open attachments of a dataset.
    async fn attachments(&self, id: &DatasetId) -> Result<Vec<Attachment>, StoreError>;
    /// Attaches (adds the attachment item).
    async fn attach(&self, change: AttachmentChange<'_>) -> Result<(), StoreError>;
    /// Detaches (removes the attachment item).
    async fn detach(&self, change: AttachmentChange<'_>) -> Result<(), StoreError>;
    /// A page of the trace.
    async fn access_events(&self, filter: &AccessFilter, page: &PageRequest) -> Result<Page<AccessEvent>, StoreError>;
    /// The stored policy document of a workspace, if it ever had a dataset.
    async fn policy(&self, workspace: &WorkspaceId) -> Result<Option<String>, StoreError>;
    /// Records that the agent mounted an attached dataset: sets the attachment's
    /// `mounted_at` and appends `event` (a `mount`), all or nothing. [`StoreError::Conflict`]
    /// when the attachment is gone or already has its mount recorded.
    async fn record_mount(&self, attachment: &Attachment, event: &AccessEvent) -> Result<(), StoreError>;
}

/// Users' group memberships as the directory knows them now (not as an old token says).
#[async_trait]
pub trait GroupDirectory: Send + Sync {
    /// The groups of `username`; empty for a user the directory does not know.
    async fn groups(&self, username: &str) -> Result<Vec<String>, UpstreamError>;
}

/// Tells a workspace's machine what to mount.
#[async_trait]
pub trait DataMounts: Send + Sync {
    /// Makes the machine's published mount list exactly `mounts` (idempotent), and answers
    /// what the machine's agent reports it has mounted. Does nothing and answers nothing
    /// when the workspace has no machine yet.
    async fn publish(&self, workspace: &Workspace, mounts: &[Mount]) -> Result<Vec<MountReport>, UpstreamError>;
}

/// The AWS credentials a workspace's machine holds: one IAM role (and instance profile)
/// per workspace, whose data permissions are exactly the workspace's policy document
/// ([`super::policy::document`]). What IAM holds, not what the table says, decides what the
/// machine may read.
#[async_trait]
pub trait DataCredentials: Send + Sync {
    /// Makes the workspace role's data policy `policy` (JSON). Idempotent. The role exists
    /// from the workspace's provisioning on; a workspace without one is an error.
    async fn apply(&self, workspace: &Workspace, policy: &str) -> Result<(), UpstreamError>;
    /// The data policy IAM holds for the workspace's role (JSON); `None` when the workspace
    /// has no role.
    async fn applied(&self, workspace: &WorkspaceId) -> Result<Option<String>, UpstreamError>;
    /// The workspaces that hold a role, whatever their state in the table.
    async fn holders(&self) -> Result<Vec<WorkspaceId>, UpstreamError>;
    /// Deletes the workspace's role and instance profile; nothing when it has none.
    async fn remove(&self, workspace: &WorkspaceId) -> Result<(), UpstreamError>;
}
