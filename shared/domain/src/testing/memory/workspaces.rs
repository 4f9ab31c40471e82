//! Workspaces and their histories.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{MemoryStore, index_event, is_active, move_active, paged, token};
use crate::kernel::{Page, PageRequest, StoreError, WorkspaceId};
use crate::workspaces::{Event, IdempotencyRecord, Inserted, State, Workspace, WorkspaceFilter, WorkspaceStore};

#[async_trait]
impl WorkspaceStore for MemoryStore {
    /// As the adapter's transaction: a live record for the same key answers
    /// [`Inserted::KeyTaken`] first, then a full owner [`Inserted::ActiveLimit`], then a
    /// taken id [`StoreError::Conflict`]; otherwise the workspace, its first event, the
    /// record, the owner's count and the month index entry are all written.
    async fn insert(
        &self,
        workspace: &Workspace,
        event: &Event,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Inserted, StoreError> {
        let mut data = self.lock();
        let now = Timestamp::now();
        if let Some(record) = idempotency
            && data.idempotency.get(&(record.owner.clone(), record.key.clone())).is_some_and(|r| r.expires_at > now)
        {
            return Ok(Inserted::KeyTaken);
        }
        let active = is_active(workspace);
        if active && data.active.get(&workspace.owner.username).copied().unwrap_or(0) >= self.max_active {
            return Ok(Inserted::ActiveLimit { max: self.max_active });
        }
        if data.workspaces.contains_key(&workspace.id) {
            return Err(StoreError::Conflict);
        }
        data.workspaces.insert(workspace.id.clone(), workspace.clone());
        data.events.insert(workspace.id.clone(), vec![event.clone()]);
        if let Some(record) = idempotency {
            data.idempotency.insert((record.owner.clone(), record.key.clone()), record.clone());
        }
        move_active(&mut data, &workspace.owner.username, i64::from(active));
        index_event(&mut data, workspace, event);
        Ok(Inserted::Created)
    }

    async fn get(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        Ok(self.lock().workspaces.get(id).cloned())
    }

    async fn idempotency(&self, owner: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let now = Timestamp::now();
        Ok(self.lock().idempotency.get(&(owner.to_owned(), key.to_owned())).filter(|r| r.expires_at > now).cloned())
    }

    /// By owner and all: newest first (by creation); by state: least recently changed first.
    async fn list(&self, filter: &WorkspaceFilter, page: &PageRequest) -> Result<Page<Workspace>, StoreError> {
        let data = self.lock();
        let mut all: Vec<&Workspace> = data
            .workspaces
            .values()
            .filter(|w| match filter {
                WorkspaceFilter::Owner(owner) => w.owner.username == *owner,
                WorkspaceFilter::All => true,
                WorkspaceFilter::State(state) => w.state == *state,
                WorkspaceFilter::Instance(id) => w.provisioned.instance_id.as_deref() == Some(id.as_str()),
            })
            .collect();
        let list = match filter {
            WorkspaceFilter::State(state) => {
                all.sort_unstable_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)));
                format!("state/{state}")
            }
            WorkspaceFilter::Owner(owner) => {
                all.sort_unstable_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
                format!("owner/{owner}")
            }
            WorkspaceFilter::All => {
                all.sort_unstable_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
                "all".to_owned()
            }
            WorkspaceFilter::Instance(id) => format!("instance/{id}"),
        };
        paged(&list, &all, page, self.limit(page))
    }

    /// Conditional on the stored version being `workspace.version - 1` and the stored
    /// state `expected_state`; with an event, the event and the month index entry are
    /// written too; a move into or out of an ended state moves the owner's count.
    async fn update(
        &self,
        workspace: &Workspace,
        expected_state: State,
        event: Option<&Event>,
    ) -> Result<(), StoreError> {
        let mut data = self.lock();
        let stored = data.workspaces.get(&workspace.id).ok_or(StoreError::Conflict)?;
        if stored.version + 1 != workspace.version || stored.state != expected_state {
            return Err(StoreError::Conflict);
        }
        let delta = i64::from(is_active(workspace)) - i64::from(!expected_state.is_ended());
        data.workspaces.insert(workspace.id.clone(), workspace.clone());
        if let Some(event) = event {
            data.events.entry(workspace.id.clone()).or_default().push(event.clone());
            index_event(&mut data, workspace, event);
        }
        move_active(&mut data, &workspace.owner.username, delta);
        Ok(())
    }

    /// Newest first.
    async fn events(&self, id: &WorkspaceId, page: &PageRequest) -> Result<Page<Event>, StoreError> {
        let data = self.lock();
        let list = format!("events/{id}");
        let all = data.events.get(id).map(Vec::as_slice).unwrap_or_default();
        // Newest first without copying the history: page n is a slice from the end.
        let from = super::offset(&list, page)?.min(all.len());
        let to = (from + self.limit(page)).min(all.len());
        let items = all[all.len() - to..all.len() - from].iter().rev().cloned().collect();
        Ok(Page { items, next_token: (to < all.len()).then(|| token(&list, to)) })
    }
}
