//! The data-access pass (the `data-access` function, every minute; its own job, not behind
//! state-sync): makes what AWS lets each machine read follow the attachments.
//!
//! 1. **Revocation**: every open attachment whose workspace ended (TERMINATED, FAILED) or
//!    whose owner is no longer one of the dataset's readers (groups as the directory says
//!    now) is detached, through the same write as a person's detach.
//! 2. **Credentials**: every workspace role IAM holds is compared with what it should be:
//!    the role of an ended or unknown workspace is deleted; a live workspace's data policy
//!    is rewritten when IAM's differs from the document of its attachments (a failed write
//!    at attach or detach time, or a change made by hand, is repaired here).
//! 3. **Mounts**: the mount list of every workspace that keeps datasets is republished
//!    (which also tags machines that appeared since the attach), and what its agent
//!    reports mounted is recorded in the trace once per attachment (`mount`).
//!
//! Every step isolates its items: one owner the directory cannot answer for, one role IAM
//! refuses to change or one machine whose tags cannot be read is reported in `failed` and
//! retried on the next pass; the others go on. The runner turns the count of failures into
//! the `RevocationFailures` metric, which raises an alarm.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::{
    AccessAction, AccessEvent, Dataset, DatasetId, Datasets, policy,
    ports::{Attachment, MountReport},
};
use crate::kernel::{DomainError, MAX_PAGE_SIZE, PageRequest, WorkspaceId};
use crate::workspaces::{Actor, Workspace};

/// How far a machine's clock may be behind the control plane's before its mount report
/// is taken for an earlier attachment's.
const REPORT_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct DataAccessReport {
    /// Open attachments looked at.
    pub examined: usize,
    /// `(workspace id, dataset id)` pairs detached.
    pub detached: Vec<(String, String)>,
    /// Workspaces whose role's data policy was rewritten in IAM.
    pub policies_applied: Vec<String>,
    /// Workspaces whose role was deleted (the workspace ended or is unknown).
    pub roles_removed: Vec<String>,
    /// `(workspace id, dataset id)` pairs whose mount the agent reported, recorded.
    pub mounts_recorded: Vec<(String, String)>,
    /// What could not be done this pass (retried on the next), with why: `(subject, why)`.
    pub failed: Vec<(String, String)>,
}

/// The data-access pass, on the dataset use cases' ports.
pub struct DataAccessPass<'a> {
    /// The use cases' ports; detaching goes through the same write as a person's detach.
    pub datasets: &'a Datasets,
}

/// What a pass carries from one step to the next.
#[derive(Default)]
struct Pass {
    report: DataAccessReport,
    /// Each owner's groups, asked of the directory once per pass (`None`: it failed).
    groups: HashMap<String, Option<Vec<String>>>,
    /// The attachments kept, per workspace: their mounts are republished and reported.
    keep: BTreeMap<WorkspaceId, Vec<Attachment>>,
    /// The workspaces IAM holds a role for (`None`: IAM could not list them).
    holders: Option<BTreeSet<WorkspaceId>>,
}

impl Pass {
    fn fail(&mut self, subject: impl ToString, why: impl ToString) {
        self.report.failed.push((subject.to_string(), why.to_string()));
    }
}

impl DataAccessPass<'_> {
    /// One pass at `now`. Fails only when the registry itself cannot be listed; every
    /// other failure is an entry of the report's `failed`.
    pub async fn run(&self, now: Timestamp) -> Result<DataAccessReport, DomainError> {
        let d = self.datasets;
        let mut pass = Pass::default();
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let datasets = d.store.datasets(&page).await?;
            for dataset in &datasets.items {
                match d.store.attachments(&dataset.id).await {
                    Ok(attachments) => {
                        for attachment in attachments {
                            self.examine(dataset, attachment, &mut pass, now).await;
                        }
                    }
                    Err(err) => pass.fail(&dataset.id, format!("attachments could not be read: {err}")),
                }
            }
            match datasets.next_token {
                Some(token) => page.token = Some(token),
                None => break,
            }
        }
        self.credentials(&mut pass).await;
        self.mounts(&mut pass, now).await;
        for (subject, why) in &pass.report.failed {
            tracing::warn!(subject, why, "data-access pass: retried on the next pass");
        }
        Ok(pass.report)
    }

    /// The owner's groups, from the pass's cache or the directory.
    async fn groups_of<'p>(&self, owner: &str, pass: &'p mut Pass) -> Option<&'p [String]> {
        if !pass.groups.contains_key(owner) {
            let groups = match self.datasets.groups.groups(owner).await {
                Ok(groups) => Some(groups),
                Err(err) => {
                    pass.fail(owner, format!("the directory did not answer: {err}"));
                    None
                }
            };
            pass.groups.insert(owner.to_owned(), groups);
        }
        pass.groups.get(owner).and_then(Option::as_deref)
    }

    /// Detaches `attachment` when its workspace ended or its owner is no longer a reader;
    /// otherwise keeps it for the mounts step.
    async fn examine(&self, dataset: &Dataset, attachment: Attachment, pass: &mut Pass, now: Timestamp) {
        let d = self.datasets;
        pass.report.examined += 1;
        let id = attachment.workspace_id.clone();
        let workspace = match d.workspaces.get(&id).await {
            Ok(Some(workspace)) => workspace,
            Ok(None) => return pass.fail(&id, "workspace not found"),
            Err(err) => return pass.fail(&id, err),
        };
        let reason = if workspace.state.is_ended() {
            format!("workspace {}", workspace.state)
        } else {
            let Some(groups) = self.groups_of(&attachment.owner, pass).await else { return };
            if dataset.readers.admit(&attachment.owner, groups) {
                pass.keep.entry(id).or_default().push(attachment);
                return;
            }
            format!("{} is no longer one of the dataset's readers", attachment.owner)
        };
        if !workspace.datasets.contains(&dataset.id) {
            return pass.fail(&id, format!("{} attached but not listed", dataset.id));
        }
        match d.detach_from(workspace, &dataset.id, Actor::data_access(), Some(reason), now).await {
            Ok(_) => pass.report.detached.push((id.to_string(), dataset.id.to_string())),
            Err(err) => pass.fail(&id, err),
        }
    }

    /// Deletes the roles of ended and unknown workspaces, and rewrites the data policy of
    /// a live workspace's role when IAM's differs from its attachments' document.
    async fn credentials(&self, pass: &mut Pass) {
        let d = self.datasets;
        let holders = match d.credentials.holders().await {
            Ok(holders) => holders,
            Err(err) => return pass.fail("workspace roles", format!("IAM could not list them: {err}")),
        };
        pass.holders = Some(holders.iter().cloned().collect());
        for id in holders {
            let workspace = match d.workspaces.get(&id).await {
                Ok(workspace) => workspace,
                Err(err) => {
                    pass.fail(&id, err);
                    continue;
                }
            };
            match workspace {
                Some(workspace) if !workspace.state.is_ended() => {
                    if let Err(err) = self.converge(&workspace, pass).await {
                        pass.fail(&id, err);
                    }
                }
                _ => match d.credentials.remove(&id).await {
                    Ok(()) => pass.report.roles_removed.push(id.to_string()),
                    Err(err) => pass.fail(&id, format!("its role could not be deleted: {err}")),
                },
            }
        }
    }

    /// Makes IAM's data policy of `workspace` its attachments' document. IAM has no
    /// conditional write: when the workspace changed while the document was being written
    /// (a detach that wrote IAM just before), the write may be stale, so the workspace is
    /// read again and the document written again until it holds still.
    async fn converge(&self, workspace: &Workspace, pass: &mut Pass) -> Result<(), DomainError> {
        let d = self.datasets;
        let mut current = workspace.clone();
        for _ in 0..3 {
            let mounts = d.mounts_of(&current.datasets).await?;
            let wanted = policy::document(current.id.as_str(), &mounts);
            let applied = d.credentials.applied(&current.id).await?;
            if applied.as_deref().and_then(|doc| serde_json::from_str::<Value>(doc).ok()).as_ref() == Some(&wanted) {
                return Ok(());
            }
            d.credentials.apply(&current, &wanted.to_string()).await?;
            pass.report.policies_applied.push(current.id.to_string());
            match d.workspaces.get(&current.id).await? {
                Some(now) if now.version != current.version => current = now,
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// Republishes the mount list of every workspace that keeps datasets, and records what
    /// its agent reports mounted.
    async fn mounts(&self, pass: &mut Pass, now: Timestamp) {
        let d = self.datasets;
        for (id, attachments) in std::mem::take(&mut pass.keep) {
            if pass.holders.as_ref().is_some_and(|holders| !holders.contains(&id)) {
                // Launched before per-workspace roles: its machine's credentials are not its
                // own (runbook, "Workspaces without a role").
                pass.fail(&id, "the workspace has no role of its own: relaunch it or give it one");
            }
            let reports = match self.republish(&id).await {
                Ok(reports) => reports,
                Err(err) => {
                    pass.fail(&id, format!("mounts could not be published: {err}"));
                    continue;
                }
            };
            let reported: BTreeMap<&DatasetId, Timestamp> =
                reports.iter().map(|r| (&r.dataset_id, r.mounted_at)).collect();
            for attachment in attachments.iter().filter(|a| a.mounted_at.is_none()) {
                let Some(&at) = reported.get(&attachment.dataset_id) else { continue };
                // A report older than the attach belongs to an earlier attachment; one a
                // little older is the machine's clock (and the agent's whole seconds).
                if at < attachment.since - REPORT_SKEW {
                    continue;
                }
                let event = AccessEvent {
                    at: at.max(attachment.since).min(now),
                    dataset_id: attachment.dataset_id.clone(),
                    action: AccessAction::Mount,
                    actor: Actor::agent(),
                    user: Some(attachment.owner.clone()),
                    group: None,
                    workspace_id: Some(id.to_string()),
                    reason: Some(format!("mounted read-only at /data/{}", attachment.dataset_id)),
                };
                match d.store.record_mount(attachment, &event).await {
                    Ok(()) => pass.report.mounts_recorded.push((id.to_string(), attachment.dataset_id.to_string())),
                    Err(err) => {
                        pass.fail(&id, format!("the mount of {} was not recorded: {err}", attachment.dataset_id))
                    }
                }
            }
        }
    }

    /// Publishes one workspace's mount list; answers its agent's reports.
    async fn republish(&self, id: &WorkspaceId) -> Result<Vec<MountReport>, DomainError> {
        let d = self.datasets;
        let Some(workspace) = d.workspaces.get(id).await? else { return Ok(Vec::new()) };
        let mounts = d.mounts_of(&workspace.datasets).await?;
        Ok(d.mounts.publish(&workspace, &mounts).await?)
    }
}
