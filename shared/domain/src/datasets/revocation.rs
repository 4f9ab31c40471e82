//! Revocation on state-sync: one pass over every open attachment. A dataset is detached
//! when its workspace's owner is no longer one of its readers (groups as the directory says
//! now), or when the workspace ended (TERMINATED, FAILED). Every workspace that keeps
//! datasets gets its mount list republished, which also tags machines that appeared since
//! the attach (Service Catalog reports the instance later).

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use super::{Dataset, Datasets, ports::Attachment};
use crate::kernel::{DomainError, MAX_PAGE_SIZE, PageRequest, WorkspaceId};
use crate::workspaces::Actor;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetSyncReport {
    /// Open attachments looked at.
    pub examined: usize,
    /// `(workspace id, dataset id)` pairs detached.
    pub detached: Vec<(String, String)>,
    /// What could not be done this pass (retried on the next), with why.
    pub failed: Vec<(String, String)>,
}

/// The revocation pass, on the dataset use cases' ports.
pub struct DatasetSync<'a> {
    /// The use cases' ports; detaching goes through the same write as a person's detach.
    pub datasets: &'a Datasets,
}

/// What a pass carries from one attachment to the next.
#[derive(Default)]
struct Pass {
    report: DatasetSyncReport,
    /// Each owner's groups, asked of the directory once per pass.
    groups: HashMap<String, Vec<String>>,
    /// The workspaces that keep datasets: their mount lists are republished.
    keep: BTreeSet<WorkspaceId>,
}

impl DatasetSync<'_> {
    /// One pass at `now`.
    pub async fn run(&self, now: Timestamp) -> Result<DatasetSyncReport, DomainError> {
        let d = self.datasets;
        let mut pass = Pass::default();
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let datasets = d.store.datasets(&page).await?;
            for dataset in &datasets.items {
                for attachment in d.store.attachments(&dataset.id).await? {
                    self.examine(dataset, attachment, &mut pass, now).await?;
                }
            }
            match datasets.next_token {
                Some(token) => page.token = Some(token),
                None => break,
            }
        }
        self.republish(&mut pass).await?;
        Ok(pass.report)
    }

    /// Detaches `attachment` when its workspace ended or its owner is no longer a reader;
    /// otherwise notes that the workspace keeps datasets.
    async fn examine(
        &self,
        dataset: &Dataset,
        Attachment { workspace_id, owner, .. }: Attachment,
        pass: &mut Pass,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        let d = self.datasets;
        pass.report.examined += 1;
        let Some(workspace) = d.workspaces.get(&workspace_id).await? else {
            pass.report.failed.push((workspace_id.to_string(), "workspace not found".into()));
            return Ok(());
        };
        if !pass.groups.contains_key(&owner) {
            let groups = d.groups.groups(&owner).await?;
            pass.groups.insert(owner.clone(), groups);
        }
        let owner_groups = pass.groups.get(&owner).map(Vec::as_slice).unwrap_or_default();
        let reason = if workspace.state.is_ended() {
            format!("workspace {}", workspace.state)
        } else if !dataset.readers.admit(&owner, owner_groups) {
            format!("{owner} is no longer one of the dataset's readers")
        } else {
            pass.keep.insert(workspace.id.clone());
            return Ok(());
        };
        if !workspace.datasets.contains(&dataset.id) {
            pass.report.failed.push((workspace_id.to_string(), format!("{} attached but not listed", dataset.id)));
            return Ok(());
        }
        let id = workspace.id.to_string();
        match d.detach_from(workspace, &dataset.id, Actor::state_sync(), Some(reason), now).await {
            Ok(_) => pass.report.detached.push((id, dataset.id.to_string())),
            Err(err) => pass.report.failed.push((id, err.to_string())),
        }
        Ok(())
    }

    /// Republishes the mount list of every workspace that keeps datasets.
    async fn republish(&self, pass: &mut Pass) -> Result<(), DomainError> {
        let d = self.datasets;
        for id in std::mem::take(&mut pass.keep) {
            if let Some(workspace) = d.workspaces.get(&id).await? {
                let mounts = d.mounts_of(&workspace.datasets).await?;
                if let Err(err) = d.mounts.publish(&workspace, &mounts).await {
                    pass.report.failed.push((id.to_string(), err.to_string()));
                }
            }
        }
        Ok(())
    }
}
