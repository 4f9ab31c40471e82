//! [`AppAccessStore`] on the table: break-glass grants and the connection log, in the
//! workspace's partition.
//!
//! A grant is the item `WS#<id>`/`BREAKGLASS#<admin sub>` (DynamoDB's TTL deletes it after
//! it expires; reads check `expiresAt` themselves, TTL being late by up to days). Granting
//! writes it with its `break-glass` event in one transaction that requires the workspace.
//! A connection event is written with the marker `WS#<id>`/`CONN#<key>`, on the marker's
//! absence: a gateway retrying after a timeout never records a session twice.

use async_trait::async_trait;
use atelier_domain::{
    Event, WorkspaceId,
    apps::{AppAccessStore, BreakGlass},
    kernel::StoreError,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Table, keys, workspaces::EventItem, writes::Condition};

/// A break-glass grant.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrantItem {
    pk: String,
    sk: String,
    workspace_id: String,
    sub: String,
    username: String,
    reason: String,
    granted_at: Timestamp,
    expires_at: Timestamp,
    /// Epoch seconds: DynamoDB TTL deletes the item some time after this.
    ttl: i64,
}

/// The marker of a recorded connection event.
#[derive(Serialize)]
struct MarkerItem {
    pk: String,
    sk: String,
}

#[async_trait]
impl AppAccessStore for Table {
    async fn grant(&self, grant: &BreakGlass, event: &Event) -> Result<(), StoreError> {
        let pk = keys::workspace_pk(&grant.workspace_id);
        let item = GrantItem {
            pk: pk.clone(),
            sk: keys::break_glass_sk(&grant.sub),
            workspace_id: grant.workspace_id.to_string(),
            sub: grant.sub.clone(),
            username: grant.username.clone(),
            reason: grant.reason.clone(),
            granted_at: grant.granted_at,
            expires_at: grant.expires_at,
            ttl: grant.expires_at.as_second(),
        };
        let mut write = self.transaction();
        write.check(pk, keys::WORKSPACE_SK.to_owned(), Condition::present())?;
        write.put(&item)?;
        write.put_if(
            &EventItem::stateless(&grant.workspace_id, &format!("break-glass-{}", grant.sub), event),
            Condition::absent(),
        )?;
        Ok(write.send().await?)
    }

    async fn live_grant(
        &self,
        workspace: &WorkspaceId,
        sub: &str,
        now: Timestamp,
    ) -> Result<Option<BreakGlass>, StoreError> {
        let item: Option<GrantItem> = self.get_as(keys::workspace_pk(workspace), keys::break_glass_sk(sub)).await?;
        let grant = item.map(|g| BreakGlass {
            workspace_id: workspace.clone(),
            sub: g.sub,
            username: g.username,
            reason: g.reason,
            granted_at: g.granted_at,
            expires_at: g.expires_at,
        });
        Ok(grant.filter(|g| g.live(now)))
    }

    async fn record(&self, workspace: &WorkspaceId, key: &str, event: &Event) -> Result<(), StoreError> {
        let pk = keys::workspace_pk(workspace);
        let mut write = self.transaction();
        write.check(pk.clone(), keys::WORKSPACE_SK.to_owned(), Condition::present())?;
        let marker = write.put_if(&MarkerItem { pk, sk: keys::connection_sk(key) }, Condition::absent())?;
        write.put_if(&EventItem::stateless(workspace, &format!("conn-{key}"), event), Condition::absent())?;
        match write.send().await {
            Ok(()) => Ok(()),
            Err(failed) if failed.failed_condition(marker) => Ok(()),
            Err(failed) => Err(failed.into()),
        }
    }
}
