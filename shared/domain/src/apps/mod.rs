//! Opening a workspace's apps (JupyterLab, RStudio Server) in the browser, through the
//! gateway ([ADR 0009](../../../../docs/adr/0009-gateway.md)).
//!
//! Owns who may open what: the owner (by Cognito `sub`, never by username), or an admin
//! holding a live, audited [`BreakGlass`] grant; nobody while the workspace is not RUNNING,
//! nor once the directory says the person was disabled, deleted or (for an admin) removed
//! from `admins`. The gateway asks [`Apps::authorize`] on every session it opens and again
//! at least every [`RECHECK`] while it lasts; the API lists the apps with [`Apps::list`].
//! Connections are `connect` / `disconnect` events in the workspace's history.
//!
//! Ports: [`AppEndpoints`] (where a machine is and which of its apps answer: EC2),
//! [`AppAccessStore`] (the grants: the table), [`Standings`] (the directory: Cognito).

mod ports;
mod use_cases;

#[cfg(test)]
mod tests;

use jiff::{SignedDuration, Timestamp};

pub use crate::catalog::AppName;
pub use crate::workspaces::{Connection, Via};
pub use ports::{AppAccessStore, AppEndpoints, Endpoint, STANDING_MAX_AGE, Standing, Standings};
pub use use_cases::{AppLink, Apps, Target};

use crate::kernel::WorkspaceId;

/// How long a break-glass grant lasts.
pub const BREAK_GLASS_DURATION: SignedDuration = SignedDuration::from_mins(60);

/// The gateway re-asks [`Apps::authorize`] for an open session at least this often, so a
/// stopped workspace or a disabled person loses the session within this bound.
pub const RECHECK: SignedDuration = SignedDuration::from_secs(30);

/// The longest break-glass reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// An admin's time-limited, audited access to another person's workspace apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    /// The workspace it opens.
    pub workspace_id: WorkspaceId,
    /// The admin's Cognito `sub` (the grant is theirs alone).
    pub sub: String,
    /// The admin's username, for the history.
    pub username: String,
    /// Why, in the admin's words (recorded in the history).
    pub reason: String,
    /// When it was granted.
    pub granted_at: Timestamp,
    /// When it stops opening anything.
    pub expires_at: Timestamp,
}

impl BreakGlass {
    /// Whether it still opens the workspace at `now`.
    pub fn live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}
