//! Identifiers. Workspace ids are opaque and unguessable (128 random bits); product ids
//! are short slugs chosen by the platform team; dataset ids are slugs chosen by the admin
//! who registers the dataset.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::kernel::DomainError;

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// 26 lowercase Crockford base32 characters: 128 bits from the operating system's random
/// source (workspace ids, export object names).
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    let value = u128::from_be_bytes(bytes);
    // 26 characters × 5 bits = 130 bits: the top two bits are always zero.
    (0..26).rev().map(|i| CROCKFORD[((value >> (i * 5)) & 0x1f) as usize] as char).collect()
}

/// A workspace's identifier: `ws-` followed by 26 lowercase Crockford base32 characters
/// (128 bits from the operating system's random source).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkspaceId(String);

impl WorkspaceId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(format!("ws-{}", random_token()))
    }

    /// Parses an id received from outside; anything not shaped like an id is rejected.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let rest = value.strip_prefix("ws-").ok_or(DomainError::NotFound { kind: "workspace" })?;
        if rest.len() == 26 && rest.bytes().all(|b| CROCKFORD.contains(&b)) {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::NotFound { kind: "workspace" })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for WorkspaceId {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<WorkspaceId> for String {
    fn from(id: WorkspaceId) -> Self {
        id.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A catalog product's identifier: 1-64 characters of `a-z`, `0-9` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductId(String);

impl ProductId {
    /// Parses a product id; a malformed one is `Invalid` on field `productId`.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::invalid("productId", "must be 1-64 characters of lowercase letters, digits and '-'"))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProductId {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ProductId> for String {
    fn from(id: ProductId) -> Self {
        id.0
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_ids_parse_and_differ() {
        let a = WorkspaceId::generate();
        let b = WorkspaceId::generate();
        assert_ne!(a, b);
        assert_eq!(WorkspaceId::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.as_str().len(), 29);
    }

    #[test]
    fn malformed_workspace_ids_are_not_found() {
        for bad in ["", "ws-", "ws-abc", "WS-0123456789abcdefghjkmnpqrs", "ws-0123456789abcdefghjkmnpqru", "../etc"] {
            assert!(matches!(WorkspaceId::parse(bad), Err(DomainError::NotFound { .. })), "{bad}");
        }
    }

    #[test]
    fn product_ids_are_slugs() {
        assert!(ProductId::parse("python-r-standard").is_ok());
        assert!(ProductId::parse("Python").is_err());
        assert!(ProductId::parse("").is_err());
        assert!(ProductId::parse(&"a".repeat(65)).is_err());
    }

    proptest! {
        #[test]
        fn workspace_id_parse_never_panics(s in ".*") {
            let _ = WorkspaceId::parse(&s);
        }
    }
}
