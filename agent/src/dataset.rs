//! The two values the control plane writes into an instance tag: a dataset id (in the key)
//! and its location (the value). Validated here rather than through `atelier-domain` (same
//! rules as `atelier_domain::datasets`, ADR 0007), so that a tag edited by hand can never
//! make the agent mount outside its data root or pass an option to the mount command.

use std::fmt;

/// Key prefix of the mount list the control plane writes: `atelier:dataset:<id>` =
/// `s3://<bucket>/<prefix>/`, one tag per attached dataset.
pub const DATASET_TAG_PREFIX: &str = "atelier:dataset:";

/// Key prefix of the agent's report: `atelier:mounted:<id>` = the RFC 3339 UTC instant
/// (seconds) at which the dataset was mounted.
pub const MOUNTED_TAG_PREFIX: &str = "atelier:mounted:";

/// Longest location accepted: an EC2 tag value holds at most 256 characters.
const MAX_LOCATION_LEN: usize = 256;

/// A dataset id: 3 to 64 characters of `a-z0-9-`, starting with a letter. It is the name of
/// the mount directory, so it never contains `/` or `.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DatasetId(String);

impl DatasetId {
    /// Checks `value` against `^[a-z][a-z0-9-]{2,63}$`.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut chars = value.chars();
        if !(3..=64).contains(&value.len()) {
            return Err(format!("dataset id {value:?} must be 3 to 64 characters long"));
        }
        if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
            return Err(format!("dataset id {value:?} must start with a lowercase letter"));
        }
        if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(format!("dataset id {value:?} may only use a-z, 0-9 and -"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a dataset lives: `s3://<bucket>/<prefix>/`, a folder of a bucket, never a whole one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    bucket: String,
    prefix: String,
}

impl Location {
    /// Parses `s3://<bucket>/<prefix>/`: an S3 general-purpose bucket name, and a non-empty
    /// prefix ending with `/` with no empty, `.` or `..` segment, of letters, digits and
    /// `-_.!'()=` only.
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.len() > MAX_LOCATION_LEN {
            return Err(format!("location must be at most {MAX_LOCATION_LEN} characters long"));
        }
        let rest = value.strip_prefix("s3://").ok_or_else(|| format!("location {value:?} must start with s3://"))?;
        let (bucket, prefix) =
            rest.split_once('/').ok_or_else(|| format!("location {value:?} must name a prefix after the bucket"))?;
        check_bucket(bucket).map_err(|why| format!("location {value:?}: bucket {why}"))?;
        check_prefix(prefix).map_err(|why| format!("location {value:?}: prefix {why}"))?;
        Ok(Self { bucket: bucket.to_owned(), prefix: prefix.to_owned() })
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix, ending with `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

fn check_bucket(bucket: &str) -> Result<(), &'static str> {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&bucket.len()) {
        return Err("must be 3 to 63 characters long");
    }
    if !bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-') {
        return Err("may only use a-z, 0-9, . and -");
    }
    if !edge(bucket.chars().next()) || !edge(bucket.chars().last()) {
        return Err("must start and end with a letter or digit");
    }
    if bucket.contains("..") {
        return Err("must not contain ..");
    }
    Ok(())
}

fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    let Some(folders) = prefix.strip_suffix('/') else {
        return Err("must be non-empty and end with /");
    };
    if folders.is_empty() {
        return Err("must be non-empty and end with /");
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.!'()=".contains(c);
    for segment in folders.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err("must not have an empty, . or .. segment");
        }
        if !segment.chars().all(allowed) {
            return Err("may only use letters, digits and -_.!'()=");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_ids_follow_the_registry_rule() {
        for ok in ["abc", "oncology-2024", "a-1", &format!("a{}", "b".repeat(63))] {
            assert!(DatasetId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "1abc", "Abc", "ab_c", "a/b", "..", "../etc", "a.b", "", &"a".repeat(65), "abc "] {
            assert!(DatasetId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locations_are_a_folder_of_a_bucket() {
        let location = Location::parse("s3://lake-a/oncology/2024/").unwrap();
        assert_eq!((location.bucket(), location.prefix()), ("lake-a", "oncology/2024/"));
        assert_eq!(location.to_string(), "s3://lake-a/oncology/2024/");
        for bad in [
            "s3://lake-a/",
            "s3://lake-a",
            "s3://lake-a/oncology",
            "s3://lake-a/../x/",
            "s3://lake-a/a/./b/",
            "s3://lake-a/a//b/",
            "s3://lake-a/a b/",
            "s3://lake-a/a*/",
            "s3://-lake/a/",
            "s3://la..ke/a/",
            "s3://LAKE/a/",
            "https://lake-a/a/",
            "",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
        assert!(Location::parse(&format!("s3://lake-a/{}/", "a".repeat(250))).is_err());
    }
}
