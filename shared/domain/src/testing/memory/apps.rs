//! [`AppAccessStore`] in memory: break-glass grants and the connection log, each write
//! requiring the workspace to exist, as the adapter's condition does.

use async_trait::async_trait;
use jiff::Timestamp;

use super::MemoryStore;
use crate::apps::{AppAccessStore, BreakGlass};
use crate::kernel::{StoreError, WorkspaceId};
use crate::workspaces::Event;

#[async_trait]
impl AppAccessStore for MemoryStore {
    async fn grant(&self, grant: &BreakGlass, event: &Event) -> Result<(), StoreError> {
        let mut data = self.lock();
        if !data.workspaces.contains_key(&grant.workspace_id) {
            return Err(StoreError::Conflict);
        }
        data.grants.insert((grant.workspace_id.clone(), grant.sub.clone()), grant.clone());
        data.events.entry(grant.workspace_id.clone()).or_default().push(event.clone());
        Ok(())
    }

    async fn live_grant(
        &self,
        workspace: &WorkspaceId,
        sub: &str,
        now: Timestamp,
    ) -> Result<Option<BreakGlass>, StoreError> {
        let data = self.lock();
        Ok(data.grants.get(&(workspace.clone(), sub.to_owned())).filter(|g| g.live(now)).cloned())
    }

    async fn record(&self, workspace: &WorkspaceId, key: &str, event: &Event) -> Result<(), StoreError> {
        let mut data = self.lock();
        if !data.workspaces.contains_key(workspace) {
            return Err(StoreError::Conflict);
        }
        if data.recorded.insert((workspace.clone(), key.to_owned())) {
            data.events.entry(workspace.clone()).or_default().push(event.clone());
        }
        Ok(())
    }
}
