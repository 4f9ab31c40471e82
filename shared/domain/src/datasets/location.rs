//! Where a dataset lives: `s3://<bucket>/<prefix>/`, validated so that it can be put in an
//! IAM policy as is (no wildcard, no policy variable) and in an EC2 tag value.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::kernel::DomainError;

/// Longest location accepted, `s3://` included: an EC2 tag value holds at most 256 characters.
pub const MAX_LOCATION_LEN: usize = 256;

/// An S3 location: a bucket and a non-empty prefix ending with `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Location {
    bucket: String,
    prefix: String,
}

impl Location {
    /// Parses `s3://bucket/prefix/`. Every error names the field `location`.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let bad = |why: String| DomainError::invalid("location", why);
        if value.len() > MAX_LOCATION_LEN {
            return Err(bad(format!("must be at most {MAX_LOCATION_LEN} characters long")));
        }
        let rest = value.strip_prefix("s3://").ok_or_else(|| bad("must look like s3://bucket/prefix/".to_owned()))?;
        let (bucket, prefix) = rest
            .split_once('/')
            .ok_or_else(|| bad("must name a prefix after the bucket: s3://bucket/prefix/".to_owned()))?;
        check_bucket(bucket).map_err(|why| bad(format!("bucket {bucket:?} {why}")))?;
        check_prefix(prefix).map_err(|why| bad(format!("prefix {prefix:?} {why}")))?;
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

    /// True when every key under `other` is also under `self` (same bucket, `self`'s prefix
    /// is a prefix of `other`'s).
    pub fn contains(&self, other: &Location) -> bool {
        self.bucket == other.bucket && other.prefix.starts_with(&self.prefix)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

impl TryFrom<String> for Location {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Location> for String {
    fn from(l: Location) -> Self {
        l.to_string()
    }
}

/// The general-purpose bucket naming rules of Amazon S3.
fn check_bucket(bucket: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&bucket.len()) {
        return Err("must be 3 to 63 characters long");
    }
    if !bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
        return Err("may contain only lowercase letters, digits, '.' and '-'");
    }
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge(bucket.as_bytes()[0]) || !edge(bucket.as_bytes()[bucket.len() - 1]) {
        return Err("must begin and end with a letter or a digit");
    }
    if bucket.contains("..") || bucket.contains(".-") || bucket.contains("-.") {
        return Err("must not contain '..', '.-' or '-.'");
    }
    if bucket.split('.').count() == 4
        && bucket.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("must not be formatted as an IP address");
    }
    if ["xn--", "sthree-", "amzn-s3-demo-"].iter().any(|p| bucket.starts_with(p)) {
        return Err("must not start with a reserved prefix (xn--, sthree-, amzn-s3-demo-)");
    }
    if ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().any(|s| bucket.ends_with(s)) {
        return Err("must not end with a reserved suffix (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3)");
    }
    Ok(())
}

/// A prefix: one or more `/`-terminated segments of safe characters (letters, digits and
/// `-_.!'()=`), no `.`/`..` segment, nothing IAM would read as a wildcard (`*`, `?`) or a
/// policy variable (`${}`).
fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    if prefix.is_empty() {
        return Err("must not be empty: register a folder of the bucket, not the whole bucket");
    }
    if !prefix.ends_with('/') {
        return Err("must end with '/'");
    }
    if prefix.contains(['*', '?']) {
        return Err("must not contain wildcards ('*' or '?')");
    }
    if prefix.chars().any(|c| !(c.is_ascii_alphanumeric() || "-_.!'()=/".contains(c))) {
        return Err("may contain only letters, digits, '/' and -_.!'()=");
    }
    for segment in prefix[..prefix.len() - 1].split('/') {
        if segment.is_empty() {
            return Err("must not contain an empty segment ('//' or a leading '/')");
        }
        if segment == "." || segment == ".." {
            return Err("must not contain '.' or '..' segments");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn well_formed_locations_parse_and_print_back() {
        for ok in [
            "s3://atelier-lake-clinical/oncology/2026/",
            "s3://abc/x/",
            "s3://my.bucket-1/year=2026/month=11/",
            "s3://lake/a_b-c.d!e'f(g)/",
        ] {
            let location = Location::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(location.to_string(), ok);
        }
        let l = Location::parse("s3://lake/oncology/").unwrap();
        assert_eq!((l.bucket(), l.prefix()), ("lake", "oncology/"));
    }

    #[test]
    fn malformed_locations_are_refused_on_the_location_field() {
        for bad in [
            "",
            "lake/oncology/",
            "https://lake/oncology/",
            "s3://lake",
            "s3://lake/",
            "s3://lake/oncology",
            "s3://lake/onco*/",
            "s3://lake/onco?/",
            "s3://lake/${aws:username}/",
            "s3://lake//oncology/",
            "s3://lake/a/../b/",
            "s3://lake/./",
            "s3://lake/with space/",
            "s3://Lake/oncology/",
            "s3://ab/oncology/",
            "s3://-lake/oncology/",
            "s3://lake-/oncology/",
            "s3://la..ke/oncology/",
            "s3://192.168.1.1/oncology/",
            "s3://xn--lake/oncology/",
            "s3://lake-s3alias/oncology/",
            "s3://lake_under/oncology/",
            &format!("s3://{}/x/", "a".repeat(64)),
            &format!("s3://lake/{}/", "a".repeat(300)),
        ] {
            assert!(
                matches!(Location::parse(bad), Err(DomainError::Invalid { ref field, .. }) if field == "location"),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn containment_is_by_bucket_and_prefix() {
        let parent = Location::parse("s3://lake/oncology/").unwrap();
        assert!(parent.contains(&Location::parse("s3://lake/oncology/2026/").unwrap()));
        assert!(!parent.contains(&Location::parse("s3://lake/oncology-old/").unwrap()));
        assert!(!parent.contains(&Location::parse("s3://other/oncology/").unwrap()));
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,300}") {
            let _ = Location::parse(&s);
        }

        #[test]
        fn parsed_locations_round_trip_and_hold_no_wildcard(
            bucket in "[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
            segments in proptest::collection::vec("[A-Za-z0-9_=().!'*?$-]{1,12}", 1..5),
        ) {
            let text = format!("s3://{bucket}/{}/", segments.join("/"));
            if let Ok(location) = Location::parse(&text) {
                prop_assert_eq!(location.to_string(), text.clone());
                prop_assert_eq!(Location::parse(&location.to_string()).unwrap(), location.clone());
                prop_assert!(!location.prefix().contains(['*', '?', '$']));
                prop_assert!(location.prefix().ends_with('/'));
                prop_assert!(!location.bucket().contains(".."));
                prop_assert!(text.len() <= MAX_LOCATION_LEN);
            }
        }

        #[test]
        fn well_formed_generated_locations_are_accepted(
            bucket in "[a-z][a-z0-9-]{1,40}[a-z0-9]",
            segments in proptest::collection::vec("[a-z0-9_=-]{1,12}", 1..5),
        ) {
            prop_assume!(!bucket.starts_with("xn--") && !bucket.starts_with("sthree-") && !bucket.ends_with("-s3alias"));
            let text = format!("s3://{bucket}/{}/", segments.join("/"));
            prop_assert!(Location::parse(&text).is_ok(), "{}", text);
        }
    }
}
