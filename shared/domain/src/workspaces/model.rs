//! A workspace: one user's machine, launched from a catalog product.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::State;
use crate::kernel::{DatasetId, DomainError, ProductId, WorkspaceId};
use crate::schedule::Schedule;

/// A workspace's display name: 1-64 characters of letters (any script), digits, spaces and
/// `-_.'` (French names: "l'étude"), starting with a letter or digit; surrounding spaces
/// are trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkspaceName(String);

impl WorkspaceName {
    /// Validates a name received from outside.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let value = value.trim();
        let len = value.chars().count();
        if len == 0 || len > 64 {
            return Err(DomainError::invalid("name", "must be 1 to 64 characters long"));
        }
        if !value.chars().next().is_some_and(char::is_alphanumeric) {
            return Err(DomainError::invalid("name", "must start with a letter or a digit"));
        }
        if let Some(bad) = value.chars().find(|c| !(c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '\''))) {
            return Err(DomainError::invalid(
                "name",
                format!("may contain letters, digits, spaces, '-', '_', '.' and apostrophes, not {bad:?}"),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for WorkspaceName {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<WorkspaceName> for String {
    fn from(n: WorkspaceName) -> Self {
        n.0
    }
}

/// What the provisioner knows of the AWS resources behind a workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provisioned {
    /// Service Catalog provisioned product id (`pp-...`), when provisioned through it.
    pub provisioned_product_id: Option<String>,
    /// The Service Catalog record of the operation in flight (provision or terminate).
    pub record_id: Option<String>,
    /// The EC2 instance, once known.
    pub instance_id: Option<String>,
}

/// The owner of a workspace, as recorded when it was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// Cognito username (the key of the owner's workspace list).
    pub username: String,
    /// Cognito `sub`.
    pub sub: String,
    /// Cost centre at creation time (tagged on every resource).
    pub cost_centre: Option<String>,
}

/// A workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Random, set once at creation ([`WorkspaceId::generate`]); the key of everything
    /// stored about the workspace.
    pub id: WorkspaceId,
    /// What the owner calls it; need not be unique, shown only.
    pub name: WorkspaceName,
    /// Who created it; never changes. Only they and admins can see the workspace.
    pub owner: Owner,
    /// The catalog product it was launched from.
    pub product_id: ProductId,
    /// EC2 instance type (`m5.2xlarge`), copied from the product at creation: a later
    /// catalog edit does not change a running workspace.
    pub instance_type: String,
    /// Whether the product supports hibernation.
    pub hibernation: bool,
    /// Where it is in its lifecycle; changed only by [`super::transition`].
    pub state: State,
    /// Handles on its AWS resources, filled in as the provisioner learns them.
    pub provisioned: Provisioned,
    /// Token that makes provisioning idempotent (Service Catalog ProvisionToken, EC2 ClientToken).
    pub provision_token: String,
    /// When the create request was handled.
    pub created_at: Timestamp,
    /// When the state last changed: schedule, dataset and handle writes leave it alone,
    /// because state-sync's timeouts and grace periods count from it.
    pub updated_at: Timestamp,
    /// Why the workspace FAILED, in words for its owner.
    pub error: Option<String>,
    /// Optimistic-locking version; every write expects the version it read.
    pub version: u64,
    /// When the scheduler starts and stops it, with the owner's override inside
    /// ([`Schedule::with_override`]).
    pub schedule: Schedule,
    /// The datasets attached (mounted read-only), by id, sorted.
    pub datasets: Vec<DatasetId>,
    /// What it launched with, frozen: later catalog edits change none of it. `None` on
    /// workspaces created before launches were recorded.
    pub launch: Option<Launch>,
    /// While FAILED: what EC2 last showed of its instance, as its latest `sync` event
    /// records it (state-sync compares EC2 with it and writes an event only on a change);
    /// `None` in every other state, and on a FAILED workspace nobody has looked at yet.
    pub instance_seen: Option<super::InstanceState>,
    /// Its cost usage in the month of its last event, folded from each event in the same
    /// write ([`crate::costs::aggregate`]): reports read it instead of the history. `None`
    /// on workspaces created before it existed (and after an event out of time order):
    /// reports then read their history.
    pub usage: Option<crate::costs::MonthUsage>,
}

/// What a workspace was launched with, recorded at creation (and the volume once EC2 shows
/// it), so that costs never follow a later catalog edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Launch {
    /// The catalog product's version at launch.
    pub product_version: u64,
    /// The Service Catalog provisioning artifact launched, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_artifact_id: Option<String>,
    /// The `effectiveFrom` of the price version in force at launch (later versions still
    /// apply from their own instants: prices are a dated history, never edited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_version: Option<Timestamp>,
    /// The root volume asked for, GiB.
    pub volume_gib: u32,
    /// The volumes EC2 reports attached once the instance exists (`DescribeVolumes`), GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_volume_gib: Option<u32>,
}

impl Workspace {
    /// The volume size its storage is billed on: what EC2 reported, else what was asked
    /// for at launch; `None` for workspaces created before launches were recorded.
    pub fn volume_gib(&self) -> Option<u32> {
        self.launch.as_ref().map(|l| l.provisioned_volume_gib.unwrap_or(l.volume_gib))
    }

    /// True for a FAILED workspace whose instance EC2 last showed running: it is billed
    /// compute, and a budget stop must stop its instance without a transition (FAILED has
    /// no state to claim; state-sync records the stop when EC2 shows it).
    pub fn failed_and_running(&self) -> bool {
        self.state == super::State::Failed && self.instance_seen == Some(super::InstanceState::Running)
    }

    /// True for a FAILED workspace that may still cost money: it has a Service Catalog
    /// product, or an instance EC2 has not been seen to delete. State-sync keeps observing
    /// these, costs keep billing them, and the `FailedWorkspaces` alarm stays raised while
    /// any exists.
    pub fn failed_with_resources(&self) -> bool {
        self.state == super::State::Failed
            && (self.provisioned.provisioned_product_id.is_some()
                || (self.provisioned.instance_id.is_some() && self.instance_seen.is_none_or(|s| s.exists())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_accept_what_people_type() {
        for ok in ["Analyse 1", "étude-oncologie_2026.v2", "l'étude", "a", "  trimmed  "] {
            assert!(WorkspaceName::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(WorkspaceName::parse("  trimmed ").unwrap().as_str(), "trimmed");
    }

    #[test]
    fn names_reject_the_rest() {
        for bad in ["", "   ", "-leading", "<script>", "a/b", "tab\there", &"x".repeat(65)] {
            assert!(
                matches!(WorkspaceName::parse(bad), Err(DomainError::Invalid { ref field, .. }) if field == "name"),
                "{bad:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn a_parsed_name_parses_again_to_itself(s in "\\PC{0,80}") {
            if let Ok(n) = WorkspaceName::parse(&s) {
                prop_assert_eq!(WorkspaceName::parse(n.as_str()).unwrap(), n.clone());
                prop_assert!(n.as_str().chars().count() <= 64);
            }
        }
    }
}
