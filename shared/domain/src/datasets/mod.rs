//! Datasets: folders of the data lake that admins register, with who may read them, and
//! that workspaces mount read-only under `/data` (docs/adr/0007-datasets.md).
//!
//! Who may read a dataset is decided here, from the dataset's readers (groups and users)
//! and the reader's Cognito groups and username. Admins manage the registry and see every
//! dataset, but read (attach) one only when its readers admit them like anybody else.

pub mod access;
pub mod location;
pub mod policy;
pub mod ports;
pub mod service;
pub mod sync;

use std::{collections::BTreeSet, fmt};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Caller, DomainError};

pub use access::{AccessAction, AccessEvent, AccessInterval, intervals};
pub use location::Location;
pub use ports::{DataMounts, DatasetStore, GroupDirectory, Mount};
pub use service::{DatasetInput, Datasets};
pub use sync::{DatasetSync, DatasetSyncReport};

/// Most datasets one workspace may have attached (each is one instance tag; EC2 allows 50).
pub const MAX_ATTACHED: usize = 20;

/// A dataset's identifier, chosen by the admin who registers it: 3-64 characters of
/// lowercase letters, digits and `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DatasetId(String);

impl DatasetId {
    /// Validates an id for a new dataset (an `Invalid` error on field `id`).
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let ok = (3..=64).contains(&value.len())
            && value.as_bytes()[0].is_ascii_lowercase()
            && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::invalid(
                "id",
                "must be 3-64 characters of lowercase letters, digits and '-', starting with a letter",
            ))
        }
    }

    /// An id from a URL: anything not shaped like an id is simply not found.
    pub fn lookup(value: &str) -> Result<Self, DomainError> {
        Self::parse(value).map_err(|_| DomainError::NotFound { kind: "dataset" })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DatasetId {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DatasetId> for String {
    fn from(id: DatasetId) -> Self {
        id.0
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How sensitive the data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Classification {
    Public,
    Internal,
    Confidential,
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
    #[serde(default)]
    pub groups: BTreeSet<String>,
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
    pub id: DatasetId,
    pub name: String,
    pub description: String,
    pub location: Location,
    pub classification: Classification,
    /// The data owner (a person or team accountable for the data), free text.
    pub owner: String,
    pub readers: Readers,
    pub created_at: Timestamp,
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
