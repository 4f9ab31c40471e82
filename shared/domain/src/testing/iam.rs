//! [`FakeIam`]: the workspaces' credentials, [`DataCredentials`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::datasets::DataCredentials;
use crate::kernel::{UpstreamError, WorkspaceId};
use crate::workspaces::Workspace;

#[derive(Default)]
struct IamData {
    /// Each workspace role's data policy.
    roles: BTreeMap<WorkspaceId, String>,
    /// Workspaces whose role IAM refuses to change.
    refused: BTreeSet<WorkspaceId>,
    /// How many policy writes were made.
    writes: usize,
}

/// One role per workspace with its data policy, in memory; writing the policy of a role
/// that does not exist fails like IAM (`NoSuchEntity`): [`FakeIam::put`] creates one, as
/// provisioning does. Clones share the roles.
#[derive(Clone, Default)]
pub struct FakeIam {
    data: Arc<Mutex<IamData>>,
}

impl FakeIam {
    fn lock(&self) -> MutexGuard<'_, IamData> {
        self.data.lock().expect("the IAM double's lock is never poisoned")
    }

    /// The data policy of `workspace`'s role, as IAM holds it.
    pub fn policy(&self, workspace: &WorkspaceId) -> Option<String> {
        self.lock().roles.get(workspace).cloned()
    }

    /// Creates `workspace`'s role with `policy`, or sets its data policy behind the control
    /// plane's back (a change by hand, a role left over).
    pub fn put(&self, workspace: &WorkspaceId, policy: &str) {
        self.lock().roles.insert(workspace.clone(), policy.to_owned());
    }

    /// Every write to `workspace`'s role fails from now on.
    pub fn refuse(&self, workspace: &WorkspaceId) {
        self.lock().refused.insert(workspace.clone());
    }

    /// How many policy writes were made.
    pub fn writes(&self) -> usize {
        self.lock().writes
    }

    fn refusal(&self, workspace: &WorkspaceId, operation: &'static str) -> Result<(), UpstreamError> {
        if self.lock().refused.contains(workspace) {
            return Err(UpstreamError::new("iam", operation, false, "AccessDenied"));
        }
        Ok(())
    }
}

#[async_trait]
impl DataCredentials for FakeIam {
    async fn apply(&self, workspace: &Workspace, policy: &str) -> Result<(), UpstreamError> {
        self.refusal(&workspace.id, "PutRolePolicy")?;
        let mut data = self.lock();
        let Some(role) = data.roles.get_mut(&workspace.id) else {
            return Err(UpstreamError::new("iam", "PutRolePolicy", false, "NoSuchEntity: the workspace has no role"));
        };
        *role = policy.to_owned();
        data.writes += 1;
        Ok(())
    }

    async fn applied(&self, workspace: &WorkspaceId) -> Result<Option<String>, UpstreamError> {
        Ok(self.policy(workspace))
    }

    async fn holders(&self) -> Result<Vec<WorkspaceId>, UpstreamError> {
        Ok(self.lock().roles.keys().cloned().collect())
    }

    async fn remove(&self, workspace: &WorkspaceId) -> Result<(), UpstreamError> {
        self.refusal(workspace, "DeleteRole")?;
        self.lock().roles.remove(workspace);
        Ok(())
    }
}
