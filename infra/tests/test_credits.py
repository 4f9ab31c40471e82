"""T-family workspaces launch in standard credit mode (issue 18, "The whole bill").

Run by `make infra-lint` (`python -m unittest discover -s infra/tests`). T3 instances default
to unlimited credit mode (RunInstances' CreditSpecification: "Default: standard (T2 instances)
or unlimited (T3/T3a/T4g instances)"), and surplus credits are billed per vCPU-hour on top of
the hourly price, which Atelier's estimates never show. It fails when:

  - a product offers a burstable type (t2, t3, t3a, t4g) and its launch template, with that
    InstanceType, does not set CreditSpecification CpuCredits standard;
  - a product's launch template sets a credit specification for a type that is not burstable
    (the condition resolves wrongly);
  - ec2-launch (shared/adapters/src/ec2.rs, read as text) does not ask RunInstances for standard
    credits for burstable types: its launch template is shared by every product, so the
    instance type is only known to RunInstances.
"""

from __future__ import annotations

import unittest
from pathlib import Path
from typing import Any

from cfn import load

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = sorted((ROOT / "infra" / "products").glob("workstation-*.yaml"))
EC2_ADAPTER = ROOT / "shared" / "adapters" / "src" / "ec2.rs"
BURSTABLE_FAMILIES = {"t2", "t3", "t3a", "t4g"}


class Evaluator:
    """Resolves the few intrinsic functions the products' conditions use, for one set of
    parameter values."""

    def __init__(self, doc: dict, parameters: dict[str, str]) -> None:
        self.doc = doc
        self.parameters = parameters

    def value(self, node: Any) -> Any:
        if isinstance(node, (str, bool)):
            return node
        if isinstance(node, list):
            return [self.value(n) for n in node]
        (fn, arg), = node.items()
        if fn == "Ref":
            return self.parameters[arg]
        if fn == "Fn::Split":
            return self.value(arg[1]).split(arg[0])
        if fn == "Fn::Select":
            return self.value(arg[1])[int(arg[0])]
        if fn == "Fn::Equals":
            return self.value(arg[0]) == self.value(arg[1])
        if fn == "Fn::Or":
            return any(self.value(a) for a in arg)
        if fn == "Fn::And":
            return all(self.value(a) for a in arg)
        if fn == "Fn::Not":
            return not self.value(arg[0])
        if fn == "Condition":
            return self.condition(arg)
        raise AssertionError(f"unsupported intrinsic {fn}")

    def condition(self, name: str) -> bool:
        return bool(self.value(self.doc["Conditions"][name]))

    def property(self, node: Any) -> Any:
        """`node` with every Fn::If resolved; None for AWS::NoValue."""
        if isinstance(node, dict) and list(node) == ["Fn::If"]:
            name, yes, no = node["Fn::If"]
            return self.property(yes if self.condition(name) else no)
        if isinstance(node, dict) and node == {"Ref": "AWS::NoValue"}:
            return None
        return node


class CreditModeTest(unittest.TestCase):
    def test_products_launch_burstable_types_in_standard_mode_only(self) -> None:
        offered = set()
        for path in PRODUCTS:
            doc = load(path)
            for instance_type in doc["Parameters"]["InstanceType"]["AllowedValues"]:
                family = instance_type.split(".")[0]
                offered.add(family)
                templates = {k: v for k, v in doc["Resources"].items() if v["Type"] == "AWS::EC2::LaunchTemplate"}
                self.assertTrue(templates, f"{path.name}: no launch template")
                for logical_id, resource in templates.items():
                    data = resource["Properties"]["LaunchTemplateData"]
                    credits = Evaluator(doc, {"InstanceType": instance_type}).property(data.get("CreditSpecification"))
                    where = f"{path.name} {logical_id} CreditSpecification with InstanceType {instance_type}"
                    if family in BURSTABLE_FAMILIES:
                        self.assertEqual(credits, {"CpuCredits": "standard"}, where)
                    else:
                        self.assertIsNone(credits, where)
        # The rule is not vacuous: some product offers a burstable type today.
        self.assertTrue(offered & BURSTABLE_FAMILIES, "no product offers a T type: keep the test, check the families")

    def test_ec2_launch_asks_for_standard_credits_for_burstable_types(self) -> None:
        source = EC2_ADAPTER.read_text(encoding="utf-8")
        self.assertTrue("credit_specification(" in source, "ec2.rs: RunInstances sets no credit specification")
        self.assertTrue('cpu_credits("standard")' in source, "ec2.rs: the credit specification is not standard")
        for family in BURSTABLE_FAMILIES:
            self.assertTrue(f'"{family}"' in source, f"ec2.rs: burstable family {family} not listed")

if __name__ == "__main__":
    unittest.main()
