"""catalog-api (issue 15): what publishing products may do in AWS, read from the templates.

Run by `make infra-lint` (`python -m unittest discover -s infra/tests`). It fails when:

  - catalog-api's role grants anything but its logs and traces, the catalog's items of the table
    (GetItem, PutItem, Query on keys starting with the product partition, and the by-kind
    index), the table key, Service Catalog's three end-user reads on products,
    ec2:DescribeInstanceTypes, and the two Cognito reads of a caller's standing on the pool;
    or when a statement widens one of these (a wildcard action, a resource beyond the table,
    products, the pool or, for DescribeInstanceTypes, "*");
  - the product partition the policy allows is not the one the Rust code writes a product and
    its events under (shared/adapters/src/dynamodb/keys.rs and catalog.rs, read as text);
  - catalog-api is not given ATELIER_PROVISIONER as workspaces-api is.

Who may launch from the portfolio (catalog-api is associated, cannot launch) is in
tests/test_products.py.
"""

from __future__ import annotations

import re
import unittest
from pathlib import Path
from typing import Any

from cfn import load

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
DYNAMODB = ROOT / "shared" / "adapters" / "src" / "dynamodb"
ROLE = "CatalogApiRole"
FUNCTION = "CatalogApiFunction"

TABLE = {"Fn::GetAtt": ["Table", "Arn"]}
BY_KIND = {"Fn::Sub": "${Table.Arn}/index/by-kind"}
PRODUCTS = {"Fn::Sub": "arn:${AWS::Partition}:catalog:${AWS::Region}:${AWS::AccountId}:product/*"}
# Sid -> (actions, resources) of every statement the role may have.
EXPECTED = {
    "Logs": (["logs:CreateLogStream", "logs:PutLogEvents"], [{"Fn::GetAtt": ["CatalogApiLogs", "Arn"]}]),
    "Tracing": (["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
    "Products": (["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], [TABLE]),
    "CatalogIndex": (["dynamodb:Query"], [BY_KIND]),
    "TableKey": (["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"], [{"Fn::GetAtt": ["DataKey", "Arn"]}]),
    "ServiceCatalogProducts": (
        ["servicecatalog:DescribeProduct", "servicecatalog:DescribeProvisioningArtifact", "servicecatalog:ListLaunchPaths"],
        [PRODUCTS],
    ),
    "InstanceTypes": (["ec2:DescribeInstanceTypes"], ["*"]),
    "Standing": (["cognito-idp:AdminGetUser", "cognito-idp:AdminListGroupsForUser"], [{"Fn::GetAtt": ["UserPool", "Arn"]}]),
}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def rust(path: Path) -> str:
    return path.read_text(encoding="utf-8")


class CatalogApiTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls) -> None:
        cls.doc = load(TEMPLATE)
        role = cls.doc["Resources"][ROLE]["Properties"]
        (policy,) = role["Policies"]
        cls.statements = {s.get("Sid"): s for s in policy["PolicyDocument"]["Statement"]}
        cls.role = role

    def test_the_role_grants_what_publishing_needs_and_nothing_else(self) -> None:
        self.assertEqual(sorted(self.statements), sorted(EXPECTED), f"{ROLE}: its statements")
        for sid, (actions, resources) in EXPECTED.items():
            statement = self.statements[sid]
            self.assertEqual(statement.get("Effect"), "Allow", sid)
            self.assertNotIn("NotAction", statement, sid)
            self.assertNotIn("NotResource", statement, sid)
            self.assertEqual(sorted(as_list(statement["Action"])), sorted(actions), sid)
            self.assertEqual(as_list(statement["Resource"]), resources, sid)
        self.assertNotIn("ManagedPolicyArns", self.role)
        self.assertNotIn("PermissionsBoundary", self.role)

    def test_its_table_writes_stay_in_the_product_partitions(self) -> None:
        condition = self.statements["Products"].get("Condition")
        self.assertEqual(condition, {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["PRODUCT#*"]}})
        # The partition the Rust code keeps a product and its history in.
        keys = rust(DYNAMODB / "keys.rs")
        m = re.search(r"fn product_pk\([^)]*\)\s*->\s*String\s*\{\s*format!\(\"([^\"{]*)\{", keys)
        self.assertIsNotNone(m, "fn product_pk in shared/adapters/src/dynamodb/keys.rs")
        self.assertEqual(m.group(1) + "*", "PRODUCT#*", "the product partition prefix")
        catalog = rust(DYNAMODB / "catalog.rs")
        # Every item catalog.rs builds, gets or queries on the table has its partition from
        # product_pk (the list goes through the by-kind index, a statement of its own).
        partitions = re.findall(r"\bpk:\s*(\w+)\(", catalog) + re.findall(r"\b(?:get_item|Query::table)\(\s*(\w+)\(", catalog)
        self.assertTrue(partitions, "catalog.rs: no item key found (did the layout change?)")
        self.assertEqual(set(partitions), {"product_pk"}, "catalog.rs keys an item outside the product partition")

    def test_it_knows_the_provisioner_of_the_deployment(self) -> None:
        functions = self.doc["Resources"]
        ours = functions[FUNCTION]["Properties"]["Environment"]["Variables"]
        theirs = functions["WorkspacesApiFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(ours.get("ATELIER_PROVISIONER"), theirs["ATELIER_PROVISIONER"])
        self.assertEqual(ours["ATELIER_PROVISIONER"], {"Ref": "Provisioner"})


if __name__ == "__main__":
    unittest.main()
