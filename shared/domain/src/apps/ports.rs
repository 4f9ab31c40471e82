//! What opening apps needs from the outside world: where a machine is and which apps
//! answer on it (EC2: private address, and the `atelier:app:*` tags its agent reports),
//! the break-glass grants (the table), and whether a person still stands in the directory
//! (Cognito).

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;

use super::BreakGlass;
use crate::kernel::{StoreError, UpstreamError, WorkspaceId};

/// A machine as the gateway reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` of the workspace's guard (its private address and the guard port).
    pub upstream: String,
    /// What its agent last reported of each app: `true` when it answered.
    pub ready: BTreeMap<String, bool>,
}

/// Where machines are (EC2).
#[async_trait]
pub trait AppEndpoints: Send + Sync {
    /// The endpoint of `instance_id`, or `None` when EC2 has no running instance by that id.
    async fn endpoint(&self, instance_id: &str) -> Result<Option<Endpoint>, UpstreamError>;
}

/// Break-glass grants and the connection log (the table; DynamoDB's TTL removes expired grants).
#[async_trait]
pub trait AppAccessStore: Send + Sync {
    /// Stores `grant` (replacing the same admin's previous grant on the workspace) and
    /// appends `event` to the workspace's history, in one write that requires the workspace
    /// to exist.
    async fn grant(&self, grant: &BreakGlass, event: &crate::Event) -> Result<(), StoreError>;
    /// The grant of admin `sub` on `workspace`, if one is live at `now`.
    async fn live_grant(
        &self,
        workspace: &WorkspaceId,
        sub: &str,
        now: Timestamp,
    ) -> Result<Option<BreakGlass>, StoreError>;
    /// Appends a `connect` or `disconnect` event to the history, once: `key` names the
    /// event (the same key twice writes it once). Requires the workspace to exist.
    async fn record(&self, workspace: &WorkspaceId, key: &str, event: &crate::Event) -> Result<(), StoreError>;
}

/// Where a person stands in the directory now (not when their token was issued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// False once the account is disabled or deleted.
    pub active: bool,
    /// Their `sub` in the directory now (a deleted and recreated username has another).
    pub sub: Option<String>,
    /// Their groups now.
    pub groups: Vec<String>,
}

/// The longest an API function trusts a [`Standing`] it read: how long a demotion or a
/// disabling can take to reach it (docs/adr/0004-auth.md, "Bounded authority").
pub const STANDING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// The directory's current view of a person (Cognito `AdminGetUser`, `AdminListGroupsForUser`).
#[async_trait]
pub trait Standings: Send + Sync {
    /// Where `username` stands; a user the directory does not know is inactive.
    async fn standing(&self, username: &str) -> Result<Standing, UpstreamError>;
}
