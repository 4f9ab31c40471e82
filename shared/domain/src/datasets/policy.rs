//! The per-workspace IAM policy document: read-only access to exactly the prefixes of the
//! datasets attached to one workspace, nothing else (docs/adr/0007-datasets.md).

use serde_json::{Value, json};

use super::Mount;

/// The policy document for a workspace with `mounts` attached. With no mount, a document
/// that allows nothing (an explicit empty statement list is not valid IAM, so it denies
/// everything on S3 instead).
pub fn document(workspace_id: &str, mounts: &[Mount]) -> Value {
    if mounts.is_empty() {
        return json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "NoDatasets",
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*"
            }]
        });
    }
    let mut statements = Vec::new();
    for mount in mounts {
        let bucket = mount.location.bucket();
        let prefix = mount.location.prefix();
        let sid: String = mount.dataset_id.as_str().chars().filter(char::is_ascii_alphanumeric).collect();
        statements.push(json!({
            "Sid": format!("List{sid}"),
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": format!("arn:aws:s3:::{bucket}"),
            "Condition": { "StringLike": { "s3:prefix": [prefix, format!("{prefix}*")] } }
        }));
        statements.push(json!({
            "Sid": format!("Read{sid}"),
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": format!("arn:aws:s3:::{bucket}/{prefix}*")
        }));
    }
    json!({
        "Version": "2012-10-17",
        "Id": format!("atelier-datasets-{workspace_id}"),
        "Statement": statements
    })
}

/// The S3 object ARNs a document allows reading (what tests and reviewers check).
pub fn readable_object_arns(document: &Value) -> Vec<String> {
    document["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| {
            s["Effect"] == "Allow" && s["Action"].as_array().is_some_and(|a| a.contains(&json!("s3:GetObject")))
        })
        .filter_map(|s| s["Resource"].as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::{DatasetId, Location};

    fn mount(id: &str, location: &str) -> Mount {
        Mount { dataset_id: DatasetId::parse(id).unwrap(), location: Location::parse(location).unwrap() }
    }

    #[test]
    fn the_document_allows_exactly_the_attached_prefixes_read_only() {
        let doc =
            document("ws-1", &[mount("onco-2026", "s3://lake/oncology/2026/"), mount("cardio", "s3://lake2/cardio/")]);
        assert_eq!(readable_object_arns(&doc), ["arn:aws:s3:::lake/oncology/2026/*", "arn:aws:s3:::lake2/cardio/*"]);
        let text = doc.to_string();
        for forbidden in ["PutObject", "DeleteObject", "s3:*", "arn:aws:s3:::lake/*"] {
            assert!(!text.contains(forbidden), "{forbidden} in {text}");
        }
        assert_eq!(
            doc["Statement"][0]["Condition"]["StringLike"]["s3:prefix"],
            json!(["oncology/2026/", "oncology/2026/*"])
        );
    }

    #[test]
    fn no_mount_allows_nothing() {
        let doc = document("ws-1", &[]);
        assert!(readable_object_arns(&doc).is_empty());
        assert_eq!(doc["Statement"][0]["Effect"], "Deny");
    }
}
