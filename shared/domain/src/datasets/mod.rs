//! Datasets: folders of the data lake that admins register, with who may read them, and
//! that workspaces mount read-only under `/data` (docs/adr/0007-datasets.md).
//!
//! Who may read a dataset is decided here, from the dataset's readers (groups and users)
//! and the reader's Cognito groups and username. Admins manage the registry and see every
//! dataset, but read (attach) one only when its readers admit them like anybody else.
//!
//! Owns the registry, attachments, the access trace ([`access`]), the per-workspace policy
//! document ([`policy`]), their ports ([`ports`]), the use cases the API exposes
//! ([`use_cases`]) and the data-access pass (revocation, credentials, mounts: [`revocation`]). May use: the
//! kernel, workspaces (a dataset is attached to a workspace, conditionally on its version
//! and state), and the month and CSV writer of costs (the monthly trace export).

pub mod access;
pub mod location;
pub mod policy;
pub mod ports;
pub mod revocation;
pub mod use_cases;

#[cfg(test)]
mod pass_tests;

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::kernel::{Caller, DomainError};

pub use crate::kernel::DatasetId;
pub use access::{AccessAction, AccessEvent, AccessInterval, intervals};
pub use location::Location;
pub use ports::{DataCredentials, DataMounts, DatasetStore, GroupDirectory, Mount, MountReport};
pub use revocation::{DataAccessPass, DataAccessReport};
pub use use_cases::{DatasetInput, Datasets};

/// Most datasets one workspace may have attached (each is one instance tag; EC2 allows 50).
pub const MAX_ATTACHED: usize = 20;

/// How sensitive the data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Classification {
    /// Open data, publishable as it is.
    Public,
    /// The organisation's own, not for outside.
    Internal,
    /// Sensitive business or personal data.
    Confidential,
    /// Patient data, anonymised before ingestion (docs/adr/0007-datasets.md).
    Clinical,
}

impl Classification {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Public => "public",
            Classification::Internal => "internal",
            Classification::Confidential => "confidential",
            Classification::Clinical => "clinical",
        }
    }
}

/// Who may read a dataset: members of any of `groups` (Cognito groups), and `users`
/// (Cognito usernames).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readers {
    /// Cognito group names; membership is what the directory says now, so leaving a group
    /// loses the data on state-sync's next pass.
    #[serde(default)]
    pub groups: BTreeSet<String>,
    /// Cognito usernames admitted by name, whatever their groups.
    #[serde(default)]
    pub users: BTreeSet<String>,
}

impl Readers {
    /// True when `username`, member of `groups`, may read.
    pub fn admit(&self, username: &str, groups: &[String]) -> bool {
        self.users.contains(username) || groups.iter().any(|g| self.groups.contains(g))
    }

    /// Validates names: 1-128 characters, no control characters or whitespace.
    pub fn validate(&self) -> Result<(), DomainError> {
        for (field, names) in [("readers.groups", &self.groups), ("readers.users", &self.users)] {
            if names.len() > 100 {
                return Err(DomainError::invalid(field, "at most 100 names"));
            }
            for name in names {
                if name.is_empty() || name.len() > 128 || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(DomainError::invalid(field, format!("{name:?} is not a Cognito name")));
                }
            }
        }
        Ok(())
    }
}

/// A registered dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Chosen by the admin who registers it; never changes.
    pub id: DatasetId,
    /// Display name, trimmed, 1-128 characters.
    pub name: String,
    /// What the data is, for people choosing it: 0-2000 characters, newlines allowed.
    pub description: String,
    /// Where the data lives; cannot change while a workspace has it attached.
    pub location: Location,
    /// A label for people: no decision reads it; access follows `readers`, whatever the class.
    pub classification: Classification,
    /// The data owner (a person or team accountable for the data), free text.
    pub owner: String,
    /// Who may attach it; only admins see the list.
    pub readers: Readers,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When an admin last changed any field (set on every update, even one that changes nothing).
    pub updated_at: Timestamp,
    /// Optimistic-locking version; every write expects the version it read.
    pub version: u64,
}

impl Dataset {
    /// True when the caller, as the token describes them, may read the data.
    pub fn readable_by(&self, caller: &Caller) -> bool {
        self.readers.admit(&caller.username, &caller.groups)
    }

    /// True when the caller may see the dataset's entry: its readers, and admins.
    pub fn visible_to(&self, caller: &Caller) -> bool {
        caller.is_admin() || self.readable_by(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(username: &str, groups: &[&str]) -> Caller {
        Caller {
            sub: format!("sub-{username}"),
            username: username.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    fn dataset(groups: &[&str], users: &[&str]) -> Dataset {
        let at = Timestamp::UNIX_EPOCH;
        Dataset {
            id: DatasetId::parse("onco-2026").unwrap(),
            name: "Oncology 2026".into(),
            description: String::new(),
            location: Location::parse("s3://lake/oncology/").unwrap(),
            classification: Classification::Clinical,
            owner: "data-office".into(),
            readers: Readers {
                groups: groups.iter().map(|g| (*g).to_owned()).collect(),
                users: users.iter().map(|u| (*u).to_owned()).collect(),
            },
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    #[test]
    fn readers_admit_group_members_and_named_users_only() {
        let d = dataset(&["oncology"], &["carol"]);
        assert!(d.readable_by(&caller("alice", &["scientists", "oncology"])));
        assert!(d.readable_by(&caller("carol", &["scientists"])));
        assert!(!d.readable_by(&caller("bob", &["scientists"])));
        // Role groups are not data grants: an admin reads only when admitted...
        assert!(!d.readable_by(&caller("ada", &["admins"])));
        // ...but sees the registry entry.
        assert!(d.visible_to(&caller("ada", &["admins"])));
        assert!(!d.visible_to(&caller("bob", &["scientists"])));
        assert!(!d.visible_to(&caller("fiona", &["finance"])));
    }

    #[test]
    fn a_group_name_is_not_a_username() {
        let d = dataset(&["oncology"], &[]);
        assert!(!d.readable_by(&caller("oncology", &[])));
    }

    #[test]
    fn dataset_ids_are_slugs_and_malformed_lookups_are_not_found() {
        assert!(DatasetId::parse("onco-2026").is_ok());
        for bad in ["", "ab", "1abc", "Onco", "a b c", "ds/../x", &"a".repeat(65)] {
            assert!(matches!(DatasetId::parse(bad), Err(DomainError::Invalid { .. })), "{bad}");
            assert!(matches!(DatasetId::lookup(bad), Err(DomainError::NotFound { kind: "dataset" })), "{bad}");
        }
    }

    #[test]
    fn reader_names_are_validated() {
        assert!(dataset(&["oncology"], &["alice"]).readers.validate().is_ok());
        assert!(dataset(&[""], &[]).readers.validate().is_err());
        assert!(dataset(&[], &["al ice"]).readers.validate().is_err());
    }
}
