//! [`FakeProvisioner`]: Service Catalog (or a direct EC2 launch) as each test sets it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::kernel::{UpstreamError, WorkspaceId};
use crate::workspaces::{Progress, ProvisionRequest, Provisioned, Provisioner, Workspace};

struct ProvisionerData {
    provisioning: Progress,
    termination: Progress,
    terminate_fails: bool,
    /// Provision token → the handle handed out for it.
    provisioned: HashMap<String, Provisioned>,
    /// Workspaces, in the order provisioning was asked (each token once).
    provisions: Vec<WorkspaceId>,
    terminated: Vec<WorkspaceId>,
}

/// A provisioner whose progress each test sets (both `IN_PROGRESS` until told otherwise).
///
/// - [`Provisioner::provision`] is idempotent per provision token, as the contract says:
///   the handle is `pp-<token>` / `rec-<token>`, with no instance yet.
/// - [`Provisioner::terminate`] answers the handle with record `rec-terminate`, or fails
///   definitively after [`FakeProvisioner::fail_terminate`]; termination progress is
///   [`Progress::NotStarted`] for a handle with no record.
pub struct FakeProvisioner {
    data: Mutex<ProvisionerData>,
}

impl Default for FakeProvisioner {
    fn default() -> Self {
        Self {
            data: Mutex::new(ProvisionerData {
                provisioning: Progress::InProgress,
                termination: Progress::InProgress,
                terminate_fails: false,
                provisioned: HashMap::new(),
                provisions: Vec::new(),
                terminated: Vec::new(),
            }),
        }
    }
}

impl FakeProvisioner {
    fn lock(&self) -> MutexGuard<'_, ProvisionerData> {
        self.data.lock().expect("fake provisioner lock")
    }

    /// What every provisioning reports from now on.
    pub fn set_provisioning(&self, progress: Progress) {
        self.lock().provisioning = progress;
    }

    /// What every started termination reports from now on.
    pub fn set_termination(&self, progress: Progress) {
        self.lock().termination = progress;
    }

    /// Makes every terminate call fail definitively (Service Catalog `AccessDenied`).
    pub fn fail_terminate(&self) {
        self.lock().terminate_fails = true;
    }

    /// The workspaces whose provisioning was started, in order, each once.
    pub fn provisioned(&self) -> Vec<WorkspaceId> {
        self.lock().provisions.clone()
    }

    /// The workspaces whose termination was started, in order (once per accepted call).
    pub fn terminated(&self) -> Vec<WorkspaceId> {
        self.lock().terminated.clone()
    }
}

#[async_trait]
impl Provisioner for FakeProvisioner {
    async fn provision(&self, request: ProvisionRequest<'_>) -> Result<Provisioned, UpstreamError> {
        let mut data = self.lock();
        let token = &request.workspace.provision_token;
        if let Some(handle) = data.provisioned.get(token) {
            return Ok(handle.clone());
        }
        let handle = Provisioned {
            provisioned_product_id: Some(format!("pp-{token}")),
            record_id: Some(format!("rec-{token}")),
            instance_id: None,
        };
        data.provisioned.insert(token.clone(), handle.clone());
        data.provisions.push(request.workspace.id.clone());
        Ok(handle)
    }

    async fn provisioning_progress(&self, _: &Provisioned) -> Result<Progress, UpstreamError> {
        Ok(self.lock().provisioning.clone())
    }

    async fn terminate(&self, workspace: &Workspace) -> Result<Provisioned, UpstreamError> {
        let mut data = self.lock();
        if data.terminate_fails {
            return Err(UpstreamError::new("servicecatalog", "TerminateProvisionedProduct", false, "AccessDenied"));
        }
        data.terminated.push(workspace.id.clone());
        Ok(Provisioned { record_id: Some("rec-terminate".into()), ..workspace.provisioned.clone() })
    }

    async fn termination_progress(&self, provisioned: &Provisioned) -> Result<Progress, UpstreamError> {
        if provisioned.record_id.is_none() {
            return Ok(Progress::NotStarted);
        }
        Ok(self.lock().termination.clone())
    }
}
