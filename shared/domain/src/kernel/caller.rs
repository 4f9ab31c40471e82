//! The people who call Atelier, as the verified token describes them, and the directory
//! that knows what the token does not carry.

use async_trait::async_trait;
use serde::Serialize;

use crate::kernel::UpstreamError;

/// A Cognito group that grants a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Group `scientists`: their own workspaces.
    Scientist,
    /// Group `admins`: every workspace, costs, budgets.
    Admin,
    /// Group `finance`: cost reports and exports.
    Finance,
}

impl Role {
    /// The role a Cognito group name grants, if any.
    pub fn from_group(group: &str) -> Option<Role> {
        match group {
            "scientists" => Some(Role::Scientist),
            "admins" => Some(Role::Admin),
            "finance" => Some(Role::Finance),
            _ => None,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Cognito `sub`: stable user id.
    pub sub: String,
    /// Cognito username: unique and immutable in the pool; the owner key of workspaces.
    pub username: String,
    /// Every group the token lists, recognised or not (shown by `/v1/me`).
    pub groups: Vec<String>,
}

impl Caller {
    /// True when one of the caller's groups grants `role`.
    pub fn has(&self, role: Role) -> bool {
        self.groups.iter().any(|g| Role::from_group(g) == Some(role))
    }

    /// Admins see and act on every workspace.
    pub fn is_admin(&self) -> bool {
        self.has(Role::Admin)
    }
}

/// What the directory knows of a user beyond the token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// Verified e-mail address, if any.
    pub email: Option<String>,
    /// Cost centre (`custom:cost_centre`), used for chargeback and tagging.
    pub cost_centre: Option<String>,
    /// The user's immutable id (`sub`), when the directory tells it.
    pub sub: Option<String>,
}

/// The user directory (Cognito), for what the access token does not carry.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// E-mail and cost centre of `username`.
    async fn profile(&self, username: &str) -> Result<Profile, UpstreamError>;
}
