//! Revocation on state-sync: one pass over every open attachment. A dataset is detached
//! when its workspace's owner is no longer one of its readers (groups as the directory says
//! now), or when the workspace ended (TERMINATED, FAILED). Every workspace that keeps
//! datasets gets its mount list republished, which also tags machines that appeared since
//! the attach (Service Catalog reports the instance later).

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use super::{Datasets, ports::Attachment};
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
    pub datasets: &'a Datasets,
}

impl DatasetSync<'_> {
    /// One pass at `now`.
    pub async fn run(&self, now: Timestamp) -> Result<DatasetSyncReport, DomainError> {
        let d = self.datasets;
        let mut report = DatasetSyncReport::default();
        let mut groups: HashMap<String, Vec<String>> = HashMap::new();
        let mut keep: BTreeMap<WorkspaceId, ()> = BTreeMap::new();
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let datasets = d.store.datasets(&page).await?;
            for dataset in &datasets.items {
                for Attachment { workspace_id, owner, .. } in d.store.attachments(&dataset.id).await? {
                    report.examined += 1;
                    let Some(workspace) = d.workspaces.get(&workspace_id).await? else {
                        report.failed.push((workspace_id.to_string(), "workspace not found".into()));
                        continue;
                    };
                    let owner_groups = match groups.get(&owner) {
                        Some(g) => g.clone(),
                        None => {
                            let g = d.groups.groups(&owner).await?;
                            groups.insert(owner.clone(), g.clone());
                            g
                        }
                    };
                    let reason = if workspace.state.is_ended() {
                        Some(format!("workspace {}", workspace.state))
                    } else if !dataset.readers.admit(&owner, &owner_groups) {
                        Some(format!("{owner} is no longer one of the dataset's readers"))
                    } else {
                        None
                    };
                    let Some(reason) = reason else {
                        keep.insert(workspace.id.clone(), ());
                        continue;
                    };
                    if !workspace.datasets.contains(&dataset.id) {
                        report
                            .failed
                            .push((workspace_id.to_string(), format!("{} attached but not listed", dataset.id)));
                        continue;
                    }
                    let id = workspace.id.to_string();
                    match d.detach_from(workspace, &dataset.id, Actor::state_sync(), Some(reason), now).await {
                        Ok(_) => report.detached.push((id, dataset.id.to_string())),
                        Err(err) => report.failed.push((id, err.to_string())),
                    }
                }
            }
            match datasets.next_token {
                Some(token) => page.token = Some(token),
                None => break,
            }
        }
        for id in keep.into_keys() {
            if let Some(workspace) = d.workspaces.get(&id).await? {
                let mounts = d.mounts_of(&workspace.datasets).await?;
                if let Err(err) = d.mounts.publish(&workspace, &mounts).await {
                    report.failed.push((id.to_string(), err.to_string()));
                }
            }
        }
        Ok(report)
    }
}
