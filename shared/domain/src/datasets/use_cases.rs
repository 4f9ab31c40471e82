//! The dataset use cases: the registry (admins write; everybody sees only what they may
//! read, others answer NotFound), attach and detach, and the trace.

use std::sync::Arc;

use jiff::Timestamp;

use super::{
    AccessAction, AccessEvent, AccessInterval, Classification, Dataset, DatasetId, Location, MAX_ATTACHED, Readers,
    intervals, policy,
    ports::{AccessFilter, AttachmentChange, DataCredentials, DataMounts, DatasetStore, GroupDirectory, Mount},
};
use crate::costs::{MONTH_BOUNDARY, Month};
use crate::kernel::{Caller, DomainError, Page, PageRequest, StoreError, all_pages, retry_concurrent};
use crate::workspaces::{Actor, State, Workspace, WorkspaceStore, use_cases::visible_workspace};

/// How many times an attach or detach that lost a conditional write (to state-sync, the
/// scheduler or a registry edit) is re-read and re-decided before answering 409.
const ATTEMPTS: usize = 4;

/// A dataset's fields as an admin sends them (validated by [`DatasetInput::validate`]).
#[derive(Debug, Clone)]
pub struct DatasetInput {
    /// Display name; trimmed when stored, 1-128 characters after trimming.
    pub name: String,
    /// 0-2000 characters, stored as sent.
    pub description: String,
    /// Where the data lives; refused on update when it differs while attached.
    pub location: Location,
    /// How sensitive the data is.
    pub classification: Classification,
    /// The accountable person or team; trimmed when stored, 1-128 characters.
    pub owner: String,
    /// The whole new reader list (at most 90 names in all); the difference from the old
    /// one becomes grants and revokes in the trace.
    pub readers: Readers,
}

impl DatasetInput {
    /// The registry entry these fields make (name and owner trimmed), as registered or as
    /// updated.
    fn into_dataset(self, id: DatasetId, created_at: Timestamp, updated_at: Timestamp, version: u64) -> Dataset {
        Dataset {
            id,
            name: self.name.trim().to_owned(),
            description: self.description,
            location: self.location,
            classification: self.classification,
            owner: self.owner.trim().to_owned(),
            readers: self.readers,
            created_at,
            updated_at,
            version,
        }
    }

    /// Checks lengths and names.
    pub fn validate(&self) -> Result<(), DomainError> {
        let text = |field: &str, value: &str, min: usize, max: usize| {
            let len = value.chars().count();
            if len < min || len > max || value.chars().any(|c| c.is_control() && c != '\n') {
                Err(DomainError::invalid(
                    field,
                    format!("must be {min} to {max} characters, without control characters"),
                ))
            } else {
                Ok(())
            }
        };
        text("name", self.name.trim(), 1, 128)?;
        text("description", &self.description, 0, 2000)?;
        text("owner", self.owner.trim(), 1, 128)?;
        if self.readers.groups.len() + self.readers.users.len() > 90 {
            return Err(DomainError::invalid("readers", "at most 90 groups and users in all"));
        }
        self.readers.validate()
    }
}

/// The ports the dataset use cases run on.
#[derive(Clone)]
pub struct Datasets {
    /// The registry, attachments, trace and policy documents.
    pub store: Arc<dyn DatasetStore>,
    /// The workspaces datasets are attached to.
    pub workspaces: Arc<dyn WorkspaceStore>,
    /// Owners' groups as the directory says now, not as their token said.
    pub groups: Arc<dyn GroupDirectory>,
    /// Publishes each machine's mount list and reads its agent's reports.
    pub mounts: Arc<dyn DataMounts>,
    /// Each workspace's machine credentials (its IAM role's data policy).
    pub credentials: Arc<dyn DataCredentials>,
}

fn not_found() -> DomainError {
    DomainError::NotFound { kind: "dataset" }
}

fn require_admin(caller: &Caller, what: &str) -> Result<(), DomainError> {
    if caller.is_admin() { Ok(()) } else { Err(DomainError::Forbidden(format!("only admins may {what}"))) }
}

/// Grant and revoke events for the change of readers from `before` to `after`.
fn reader_changes(
    dataset: &DatasetId,
    before: &Readers,
    after: &Readers,
    actor: &Caller,
    reason: Option<&str>,
    now: Timestamp,
) -> Vec<AccessEvent> {
    let event = |action, user: Option<&String>, group: Option<&String>| AccessEvent {
        at: now,
        dataset_id: dataset.clone(),
        action,
        actor: Actor::user(&actor.username),
        user: user.cloned(),
        group: group.cloned(),
        workspace_id: None,
        reason: reason.map(str::to_owned),
    };
    let mut events = Vec::new();
    for g in after.groups.difference(&before.groups) {
        events.push(event(AccessAction::Grant, None, Some(g)));
    }
    for u in after.users.difference(&before.users) {
        events.push(event(AccessAction::Grant, Some(u), None));
    }
    for g in before.groups.difference(&after.groups) {
        events.push(event(AccessAction::Revoke, None, Some(g)));
    }
    for u in before.users.difference(&after.users) {
        events.push(event(AccessAction::Revoke, Some(u), None));
    }
    events
}

impl Datasets {
    /// A page of the datasets the caller may see (admins: all). A page may hold fewer
    /// items than asked for when some are hidden; follow `nextToken` to the end.
    pub async fn list(&self, caller: &Caller, page: &PageRequest) -> Result<Page<Dataset>, DomainError> {
        let page = self.store.datasets(page).await?;
        Ok(Page {
            items: page.items.into_iter().filter(|d| d.visible_to(caller)).collect(),
            next_token: page.next_token,
        })
    }

    /// One dataset the caller may see.
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<Dataset, DomainError> {
        let id = DatasetId::lookup(id)?;
        self.store.dataset(&id).await?.filter(|d| d.visible_to(caller)).ok_or_else(not_found)
    }

    /// Registers a dataset (admins). Each initial reader is a grant in the trace.
    pub async fn create(
        &self,
        caller: &Caller,
        id: &str,
        input: DatasetInput,
        now: Timestamp,
    ) -> Result<Dataset, DomainError> {
        require_admin(caller, "register datasets")?;
        let id = DatasetId::parse(id)?;
        input.validate()?;
        let dataset = input.into_dataset(id.clone(), now, now, 1);
        let events =
            reader_changes(&id, &Readers::default(), &dataset.readers, caller, Some("dataset registered"), now);
        match self.store.insert_dataset(&dataset, &events).await {
            Ok(()) => Ok(dataset),
            Err(StoreError::Conflict) => {
                Err(DomainError::unprocessable("id", format!("a dataset with id {id} is already registered")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a dataset's fields (admins; others get NotFound for what they may not see
    /// and Forbidden for what they may). Readers removed are revoked: state-sync detaches
    /// the dataset from their workspaces on its next pass. The location cannot change while
    /// workspaces have the dataset attached.
    pub async fn update(
        &self,
        caller: &Caller,
        id: &str,
        input: DatasetInput,
        now: Timestamp,
    ) -> Result<Dataset, DomainError> {
        let current = self.get(caller, id).await?;
        require_admin(caller, "change datasets")?;
        input.validate()?;
        if input.location != current.location && !self.store.attachments(&current.id).await?.is_empty() {
            return Err(DomainError::unprocessable(
                "location",
                "the dataset is attached to workspaces; register the new location as another dataset",
            ));
        }
        let events = reader_changes(&current.id, &current.readers, &input.readers, caller, None, now);
        let next = input.into_dataset(current.id, current.created_at, now, current.version + 1);
        self.store.update_dataset(&next, &events).await?;
        Ok(next)
    }

    /// Removes a dataset from the registry (admins), revoking every reader. Refused while
    /// it is attached: remove its readers first, and state-sync detaches it.
    /// The delete is conditional on the dataset's version and on no attach having been
    /// written meanwhile (the store's guard): an attach and a delete of the same dataset
    /// racing each other cannot both succeed, the loser re-reads and decides again.
    pub async fn delete(&self, caller: &Caller, id: &str, now: Timestamp) -> Result<(), DomainError> {
        retry_concurrent(ATTEMPTS, || self.delete_once(caller, id, now)).await
    }

    async fn delete_once(&self, caller: &Caller, id: &str, now: Timestamp) -> Result<(), DomainError> {
        let current = self.get(caller, id).await?;
        require_admin(caller, "delete datasets")?;
        let attached = self.store.attachments(&current.id).await?;
        if !attached.is_empty() {
            return Err(DomainError::unprocessable(
                "id",
                format!(
                    "the dataset is attached to {} workspace(s); remove its readers first (state-sync then detaches it)",
                    attached.len()
                ),
            ));
        }
        let events =
            reader_changes(&current.id, &current.readers, &Readers::default(), caller, Some("dataset deleted"), now);
        self.store.delete_dataset(&current, &events).await?;
        Ok(())
    }

    /// The datasets a new workspace of the caller's may start with: each must exist and be
    /// readable by the caller (else NotFound, whatever the reason), at most
    /// [`MAX_ATTACHED`], no duplicates. Called before the workspace is created, so a refused
    /// id creates nothing.
    pub async fn check_for_launch(&self, caller: &Caller, ids: &[String]) -> Result<Vec<DatasetId>, DomainError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > MAX_ATTACHED {
            return Err(DomainError::invalid("datasets", format!("at most {MAX_ATTACHED} datasets")));
        }
        let groups = self.groups.groups(&caller.username).await?;
        let mut out: Vec<DatasetId> = Vec::new();
        for id in ids {
            let id = DatasetId::lookup(id)?;
            let dataset = self.store.dataset(&id).await?.ok_or_else(not_found)?;
            if !dataset.readers.admit(&caller.username, &groups) {
                return Err(not_found());
            }
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Attaches a dataset to a workspace. The workspace's owner must be one of the
    /// dataset's readers now (groups as the directory says at this moment). A scientist
    /// gets NotFound for any dataset they may not read, so ids cannot be probed.
    pub async fn attach(
        &self,
        caller: &Caller,
        workspace_id: &str,
        dataset_id: &str,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        retry_concurrent(ATTEMPTS, || self.attach_once(caller, workspace_id, dataset_id, now)).await
    }

    /// One read-decide-write of [`Self::attach`]; [`DomainError::Concurrent`] when the
    /// conditional write lost.
    async fn attach_once(
        &self,
        caller: &Caller,
        workspace_id: &str,
        dataset_id: &str,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        let workspace = visible_workspace(self.workspaces.as_ref(), caller, workspace_id).await?;
        let dataset_id = DatasetId::lookup(dataset_id)?;
        let dataset = self.store.dataset(&dataset_id).await?.filter(|d| d.visible_to(caller)).ok_or_else(not_found)?;
        let owner = workspace.owner.username.clone();
        let groups = self.groups.groups(&owner).await?;
        if !dataset.readers.admit(&owner, &groups) {
            return Err(if caller.is_admin() && owner != caller.username {
                DomainError::unprocessable("datasetId", format!("{owner} is not one of the dataset's readers"))
            } else {
                not_found()
            });
        }
        if workspace.datasets.contains(&dataset_id) {
            return Ok(workspace);
        }
        if matches!(workspace.state, State::Terminating | State::Terminated | State::Failed) {
            return Err(DomainError::unprocessable(
                "workspace",
                format!("the workspace is {}; datasets can no longer be attached", workspace.state),
            ));
        }
        if workspace.datasets.len() >= MAX_ATTACHED {
            return Err(DomainError::unprocessable(
                "datasetId",
                format!("a workspace has at most {MAX_ATTACHED} datasets"),
            ));
        }
        let mut next = workspace.clone();
        next.datasets.push(dataset_id.clone());
        next.datasets.sort();
        let event = AccessEvent {
            at: now,
            dataset_id: dataset_id.clone(),
            action: AccessAction::Attach,
            actor: Actor::user(&caller.username),
            user: Some(owner),
            group: None,
            workspace_id: Some(next.id.to_string()),
            reason: Some(dataset.location.to_string()),
        };
        self.write_attachment(&workspace, next, Some(dataset.version), &event).await
    }

    /// Detaches a dataset from a workspace (its owner or an admin). NotFound when it is not
    /// attached.
    pub async fn detach(
        &self,
        caller: &Caller,
        workspace_id: &str,
        dataset_id: &str,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        retry_concurrent(ATTEMPTS, || async move {
            let workspace = visible_workspace(self.workspaces.as_ref(), caller, workspace_id).await?;
            let dataset_id = DatasetId::lookup(dataset_id)?;
            if !workspace.datasets.contains(&dataset_id) {
                return Err(not_found());
            }
            self.detach_from(workspace, &dataset_id, Actor::user(&caller.username), None, now).await
        })
        .await
    }

    /// Detaches `dataset_id` from `workspace` (conditional write), then narrows the
    /// machine's credentials and mounts. Used by [`Datasets::detach`] and the data-access
    /// pass.
    pub(crate) async fn detach_from(
        &self,
        workspace: Workspace,
        dataset_id: &DatasetId,
        actor: Actor,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        let mut next = workspace.clone();
        next.datasets.retain(|d| d != dataset_id);
        let event = AccessEvent {
            at: now,
            dataset_id: dataset_id.clone(),
            action: AccessAction::Detach,
            actor,
            user: Some(workspace.owner.username.clone()),
            group: None,
            workspace_id: Some(next.id.to_string()),
            reason,
        };
        self.write_attachment(&workspace, next, None, &event).await
    }

    /// Writes `next` (`workspace` with its new list of datasets, as `event` says) with the
    /// event and the policy document for its mounts, conditionally on `workspace`'s state
    /// and version ([`DomainError::Concurrent`] when that lost), then republishes the
    /// machine's mounts. `dataset_version` (attach) also holds the registry entry still.
    async fn write_attachment(
        &self,
        workspace: &Workspace,
        mut next: Workspace,
        dataset_version: Option<u64>,
        event: &AccessEvent,
    ) -> Result<Workspace, DomainError> {
        next.version += 1;
        let mounts = self.mounts_of(&next.datasets).await?;
        let policy = policy::document(next.id.as_str(), &mounts).to_string();
        let change = AttachmentChange {
            workspace: &next,
            expected_state: workspace.state,
            dataset: &event.dataset_id,
            dataset_version,
            event,
            policy: &policy,
        };
        if event.action == AccessAction::Detach {
            self.store.detach(change).await?;
        } else {
            debug_assert_eq!(event.action, AccessAction::Attach, "only attach and detach change attachments");
            self.store.attach(change).await?;
        }
        self.publish(&next, &policy, &mounts).await;
        Ok(next)
    }

    /// The mounts of `ids` (a dataset deleted meanwhile has no mount).
    pub(crate) async fn mounts_of(&self, ids: &[DatasetId]) -> Result<Vec<Mount>, DomainError> {
        let mut mounts = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(d) = self.store.dataset(id).await? {
                mounts.push(Mount { dataset_id: d.id, location: d.location });
            }
        }
        Ok(mounts)
    }

    /// Applies `policy` to the workspace's credentials in IAM, then publishes the mount
    /// list to the machine. A failure is logged, not returned: the decision is stored, and
    /// the data-access pass converges IAM and the tags on every run (at most a minute).
    pub(crate) async fn publish(&self, workspace: &Workspace, policy: &str, mounts: &[Mount]) {
        if let Err(err) = self.credentials.apply(workspace, policy).await {
            tracing::warn!(workspace = %workspace.id, error = ?err, "applying the data policy failed; the data-access pass retries");
        }
        if let Err(err) = self.mounts.publish(workspace, mounts).await {
            tracing::warn!(workspace = %workspace.id, error = ?err, "publishing mounts failed; the data-access pass retries");
        }
    }

    /// Every event of `filter`, oldest first.
    async fn all_events(&self, filter: &AccessFilter) -> Result<Vec<AccessEvent>, DomainError> {
        Ok(all_pages(|page| async move { self.store.access_events(filter, &page).await }).await?)
    }

    /// Who had access to a dataset, from which workspace, between which instants, and
    /// the dataset's whole trace (admins).
    pub async fn access(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(Vec<AccessInterval>, Vec<AccessEvent>), DomainError> {
        let dataset = self.get(caller, id).await?;
        require_admin(caller, "read a dataset's access report")?;
        let events = self.all_events(&AccessFilter::Dataset(dataset.id)).await?;
        Ok((intervals(&events), events))
    }

    /// The caller's own data-access history: intervals and events.
    pub async fn my_access(&self, caller: &Caller) -> Result<(Vec<AccessInterval>, Vec<AccessEvent>), DomainError> {
        let events = self.all_events(&AccessFilter::User(caller.username.clone())).await?;
        Ok((intervals(&events), events))
    }

    /// Every event of a UTC month (admins), for the compliance CSV.
    pub async fn month(
        &self,
        caller: &Caller,
        month: &str,
        now: Timestamp,
    ) -> Result<(Month, Vec<AccessEvent>), DomainError> {
        require_admin(caller, "export the data-access trace")?;
        let month = Month::parse(month, now, &MONTH_BOUNDARY)?;
        let events = self.all_events(&AccessFilter::Month(month.to_string())).await?;
        Ok((month, events))
    }
}
