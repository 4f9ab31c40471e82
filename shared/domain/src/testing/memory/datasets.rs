//! The dataset registry, attachments, the access trace and workspace policies.

use async_trait::async_trait;
use jiff::tz::TimeZone;

use super::{Data, MemoryStore, paged};
use crate::datasets::ports::{AccessFilter, Attachment, AttachmentChange};
use crate::datasets::{AccessEvent, Dataset, DatasetId, DatasetStore};
use crate::kernel::{Page, PageRequest, StoreError, WorkspaceId};

/// The workspace write of an attach or detach: conditional on its stored version and
/// state, as every workspace write.
fn check_workspace(data: &Data, change: &AttachmentChange<'_>) -> Result<(), StoreError> {
    let stored = data.workspaces.get(&change.workspace.id).ok_or(StoreError::Conflict)?;
    if stored.version + 1 != change.workspace.version || stored.state != change.expected_state {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// What an attach or detach writes besides the attachment item.
fn write_change(data: &mut Data, change: &AttachmentChange<'_>) {
    data.workspaces.insert(change.workspace.id.clone(), change.workspace.clone());
    data.access_events.push(change.event.clone());
    data.policies.insert(change.workspace.id.clone(), change.policy.to_owned());
}

fn month_of(event: &AccessEvent) -> String {
    event.at.to_zoned(TimeZone::UTC).strftime("%Y-%m").to_string()
}

#[async_trait]
impl DatasetStore for MemoryStore {
    async fn insert_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.datasets.contains_key(&dataset.id) {
            return Err(StoreError::Conflict);
        }
        data.datasets.insert(dataset.id.clone(), dataset.clone());
        data.access_events.extend_from_slice(events);
        Ok(())
    }

    async fn dataset(&self, id: &DatasetId) -> Result<Option<Dataset>, StoreError> {
        Ok(self.lock().datasets.get(id).cloned())
    }

    /// By id.
    async fn datasets(&self, page: &PageRequest) -> Result<Page<Dataset>, StoreError> {
        let data = self.lock();
        let all: Vec<&Dataset> = data.datasets.values().collect();
        paged("datasets", &all, page, self.limit(page))
    }

    async fn update_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.datasets.get(&dataset.id).map(|d| d.version + 1) != Some(dataset.version) {
            return Err(StoreError::Conflict);
        }
        data.datasets.insert(dataset.id.clone(), dataset.clone());
        data.access_events.extend_from_slice(events);
        Ok(())
    }

    async fn delete_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError> {
        let mut data = self.lock();
        // The table's guard: no delete while an attach exists.
        let attached = data.attachments.keys().any(|(d, _)| *d == dataset.id);
        if attached || data.datasets.get(&dataset.id).map(|d| d.version) != Some(dataset.version) {
            return Err(StoreError::Conflict);
        }
        data.datasets.remove(&dataset.id);
        data.access_events.extend_from_slice(events);
        Ok(())
    }

    /// By workspace id.
    async fn attachments(&self, id: &DatasetId) -> Result<Vec<Attachment>, StoreError> {
        let data = self.lock();
        Ok(data.attachments.iter().filter(|((d, _), _)| d == id).map(|(_, a)| a.clone()).collect())
    }

    /// All or nothing: the workspace (conditional), the attachment (absent before), the
    /// event, the policy; and the dataset still at `dataset_version` when one is given.
    async fn attach(&self, change: AttachmentChange<'_>) -> Result<(), StoreError> {
        let mut data = self.lock();
        check_workspace(&data, &change)?;
        let key = (change.dataset.clone(), change.workspace.id.clone());
        if data.attachments.contains_key(&key) {
            return Err(StoreError::Conflict);
        }
        if let Some(version) = change.dataset_version
            && data.datasets.get(change.dataset).map(|d| d.version) != Some(version)
        {
            return Err(StoreError::Conflict);
        }
        let attachment = Attachment {
            dataset_id: change.dataset.clone(),
            workspace_id: change.workspace.id.clone(),
            owner: change.workspace.owner.username.clone(),
            since: change.event.at,
            mounted_at: None,
        };
        data.attachments.insert(key, attachment);
        write_change(&mut data, &change);
        Ok(())
    }

    /// All or nothing: the workspace (conditional), the attachment (present before), the
    /// event, the policy.
    async fn detach(&self, change: AttachmentChange<'_>) -> Result<(), StoreError> {
        let mut data = self.lock();
        check_workspace(&data, &change)?;
        let key = (change.dataset.clone(), change.workspace.id.clone());
        if data.attachments.remove(&key).is_none() {
            return Err(StoreError::Conflict);
        }
        write_change(&mut data, &change);
        Ok(())
    }

    /// Oldest first (events of the same instant in the order written).
    async fn access_events(&self, filter: &AccessFilter, page: &PageRequest) -> Result<Page<AccessEvent>, StoreError> {
        let data = self.lock();
        let mut all: Vec<&AccessEvent> = data
            .access_events
            .iter()
            .filter(|e| match filter {
                AccessFilter::Dataset(id) => e.dataset_id == *id,
                AccessFilter::User(user) => e.user.as_ref() == Some(user),
                AccessFilter::Month(month) => month_of(e) == *month,
            })
            .collect();
        all.sort_by_key(|e| e.at);
        let list = match filter {
            AccessFilter::Dataset(id) => format!("access/dataset/{id}"),
            AccessFilter::User(user) => format!("access/user/{user}"),
            AccessFilter::Month(month) => format!("access/month/{month}"),
        };
        paged(&list, &all, page, self.limit(page))
    }

    async fn policy(&self, workspace: &WorkspaceId) -> Result<Option<String>, StoreError> {
        Ok(self.lock().policies.get(workspace).cloned())
    }

    /// All or nothing: the attachment (present, no mount recorded yet) and the event.
    async fn record_mount(&self, attachment: &Attachment, event: &AccessEvent) -> Result<(), StoreError> {
        let mut data = self.lock();
        let key = (attachment.dataset_id.clone(), attachment.workspace_id.clone());
        match data.attachments.get_mut(&key) {
            Some(stored) if stored.mounted_at.is_none() => stored.mounted_at = Some(event.at),
            _ => return Err(StoreError::Conflict),
        }
        data.access_events.push(event.clone());
        Ok(())
    }
}
