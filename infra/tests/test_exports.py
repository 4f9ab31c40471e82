"""The cost exports bucket (issue 18, item 7), read from infra/template.yaml.

Run by `make infra-lint`. POST /v1/costs/exports writes each export to ExportsBucket and answers a
presigned GET signed with the workspaces-api role (docs/adr/0006-costs.md). One test per rule:
  - the bucket is private (every public-access block on, BucketOwnerEnforced), encrypted with the
    data key, logs its access to LogBucket and expires objects and incomplete multipart uploads
    after a day;
  - its policy denies every request without TLS, on the bucket and its objects;
  - the workspaces-api function is told the bucket (ATELIER_EXPORTS_BUCKET) and its role may only
    put, abort and get objects under exports/ (no list, no delete, no other bucket), and use the
    data key only through S3 for it;
  - no other role names the bucket;
  - the route is served by workspaces-api.
"""

from __future__ import annotations

import unittest
from pathlib import Path
from typing import Any, Iterator

from cfn import load, resources, text

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
BUCKET = "ExportsBucket"
EXPORT_ACTIONS = {"s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"}
KEY_ACTIONS = {"kms:GenerateDataKey", "kms:Decrypt"}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def statements(role: dict) -> Iterator[dict]:
    """Every statement of a role's inline policies (Fn::If branches included)."""
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if isinstance(statement, dict) and "Fn::If" in statement:
                yield from (s for s in statement["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s)
            else:
                yield statement


def names_bucket(value: Any) -> bool:
    """Whether a policy value refers to the exports bucket (Ref, GetAtt or Sub)."""
    if isinstance(value, dict):
        if value.get("Ref") == BUCKET or (value.get("Fn::GetAtt") or [None])[0] == BUCKET:
            return True
        sub = text(value)
        if sub is not None and "${" + BUCKET in sub:
            return True
        return any(names_bucket(v) for v in value.values())
    if isinstance(value, list):
        return any(names_bucket(v) for v in value)
    return False


class ExportsBucketTest(unittest.TestCase):
    def setUp(self) -> None:
        self.template = load(TEMPLATE)
        self.bucket = self.template["Resources"][BUCKET]
        self.props = self.bucket["Properties"]

    def test_the_bucket_is_private_encrypted_logged_and_short_lived(self) -> None:
        self.assertEqual(self.bucket["Type"], "AWS::S3::Bucket")
        block = self.props["PublicAccessBlockConfiguration"]
        for setting in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            self.assertIs(block.get(setting), True, setting)
        self.assertEqual(self.props["OwnershipControls"]["Rules"], [{"ObjectOwnership": "BucketOwnerEnforced"}])
        [encryption] = self.props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        default = encryption["ServerSideEncryptionByDefault"]
        self.assertEqual(default["SSEAlgorithm"], "aws:kms")
        self.assertEqual(default["KMSMasterKeyID"], {"Fn::GetAtt": ["DataKey", "Arn"]}, "the template's data key")
        logging = self.props["LoggingConfiguration"]
        self.assertEqual(logging["DestinationBucketName"], {"Ref": "LogBucket"})
        self.assertTrue(logging["LogFilePrefix"].startswith("s3/"), "where LogBucketPolicy admits S3 access logs")
        rules = [r for r in self.props["LifecycleConfiguration"]["Rules"] if r["Status"] == "Enabled" and "Prefix" not in r]
        self.assertTrue(any(r.get("ExpirationInDays") == 1 for r in rules), "objects expire after a day")
        self.assertTrue(
            any(r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") == 1 for r in rules),
            "incomplete multipart uploads are aborted after a day",
        )

    def test_the_bucket_policy_denies_requests_without_tls(self) -> None:
        policies = [
            p for p in resources(TEMPLATE, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": BUCKET}
        ]
        self.assertEqual(len(policies), 1)
        tls = [
            s
            for s in policies[0]["Properties"]["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        self.assertEqual(len(tls), 1, "one TLS-only deny")
        [deny] = tls
        self.assertEqual(deny["Principal"], "*")
        self.assertEqual(deny["Action"], "s3:*")
        resources_denied = as_list(deny["Resource"])
        self.assertIn({"Fn::GetAtt": [BUCKET, "Arn"]}, resources_denied)
        self.assertIn({"Fn::Sub": "${ExportsBucket.Arn}/*"}, resources_denied)

    def test_workspaces_api_may_only_write_and_read_back_exports(self) -> None:
        function = self.template["Resources"]["WorkspacesApiFunction"]["Properties"]
        self.assertEqual(function["Environment"]["Variables"]["ATELIER_EXPORTS_BUCKET"], {"Ref": BUCKET})
        role = self.template["Resources"]["WorkspacesApiRole"]
        on_bucket = [s for s in statements(role) if names_bucket(s.get("Resource"))]
        self.assertEqual(len(on_bucket), 1, "one statement names the bucket")
        [grant] = on_bucket
        self.assertEqual(grant["Effect"], "Allow")
        self.assertEqual(set(as_list(grant["Action"])), EXPORT_ACTIONS)
        self.assertEqual(as_list(grant["Resource"]), [{"Fn::Sub": "${ExportsBucket.Arn}/exports/*"}])
        s3_anywhere = {
            a for s in statements(role) for a in as_list(s["Action"]) if isinstance(a, str) and a.startswith("s3:")
        }
        self.assertEqual(s3_anywhere, EXPORT_ACTIONS, "no other S3 action, on any resource")
        via_s3 = [
            s
            for s in statements(role)
            if s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService") == {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}
        ]
        self.assertEqual(len(via_s3), 1)
        [key] = via_s3
        self.assertEqual(set(as_list(key["Action"])), KEY_ACTIONS)
        self.assertEqual(key["Resource"], {"Fn::GetAtt": ["DataKey", "Arn"]})

    def test_no_other_role_names_the_bucket(self) -> None:
        for name, role in resources(TEMPLATE, "AWS::IAM::Role").items():
            if name == "WorkspacesApiRole":
                continue
            for statement in statements(role):
                self.assertFalse(names_bucket(statement.get("Resource")), f"{name} {statement.get('Sid')}")

    def test_the_route_is_served_by_workspaces_api(self) -> None:
        events = self.template["Resources"]["WorkspacesApiFunction"]["Properties"]["Events"].values()
        routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events}
        self.assertIn(("POST", "/v1/costs/exports"), routes)


if __name__ == "__main__":
    unittest.main()
