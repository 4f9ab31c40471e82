"""ec2-launch (issue 15): the machines the ec2-launch provisioner launches are the products'.

Run by `make infra-lint` (`python -m unittest discover -s infra/tests`). It fails when:

  - the portfolio's launch template (`WorkspaceLaunchTemplate`, which RunInstances names for the
    bootstrap) sets anything but UserData and MetadataOptions: the network interface, the
    address, the image, the volume and the instance profile are RunInstances' own
    (shared/adapters/src/ec2.rs), and a launch template's would only compete with them;
  - its MetadataOptions differ from any product's;
  - its UserData, rendered, differs from any product's bootstrap, rendered: the Sub template and
    its local variables, and each outside name resolved to where its value comes from. A
    product's parameter is pinned to an SSM parameter name; the portfolio's parameter is the
    value the portfolio writes to that SSM name (or, for an SSM-typed one, that name itself);
    pseudo parameters are the same in both stacks, which share account and region;
  - the image, subnet and security group the portfolio hands to ec2-launch are not the products'
    pinned SSM names, or the volume key is not the products' key;
  - an output the platform's ec2-launch parameters are filled from is missing.
"""

from __future__ import annotations

import difflib
import re
import unittest
from pathlib import Path
from typing import Any

from cfn import load, resources

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
PORTFOLIO = INFRA / "products" / "portfolio.yaml"
PRODUCTS = sorted((INFRA / "products").glob("workstation-*.yaml"))
LAUNCH_TEMPLATE = "WorkspaceLaunchTemplate"

# Each ec2-launch setting -> the portfolio output it is taken from, which is also the name of
# the platform parameter that sets it (infra/template.yaml).
EC2_LAUNCH_OUTPUTS = {
    "ATELIER_SUBNET_ID": "WorkspaceSubnetId",
    "ATELIER_SECURITY_GROUP_ID": "WorkspaceSecurityGroupId",
    "ATELIER_VOLUME_KMS_KEY_ID": "WorkspaceVolumeKeyId",
    "ATELIER_IMAGE_ID": "WorkspaceImageId",
    "ATELIER_LAUNCH_TEMPLATE_ID": "WorkspaceLaunchTemplateId",
}
# The portfolio's parameters ec2-launch takes its machine from -> the products' parameter of
# the same role (both pinned to one SSM name).
SAME_AS_THE_PRODUCTS = {"WorkspaceImageId": "ImageId", "WorkspaceSubnetId": "SubnetId", "WorkspaceSecurityGroupId": "WorkspaceSecurityGroupId"}

SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


def launch_template_data(doc: dict, logical_id: str) -> dict:
    return doc["Resources"][logical_id]["Properties"]["LaunchTemplateData"]


def written_ssm_names(doc: dict) -> dict[str, str]:
    """Parameter of `doc` -> the SSM parameter name `doc` writes its value to."""
    out = {}
    for resource in (doc.get("Resources") or {}).values():
        if resource.get("Type") != "AWS::SSM::Parameter":
            continue
        value = resource["Properties"]["Value"]
        if isinstance(value, dict) and list(value) == ["Ref"]:
            out[value["Ref"]] = str(resource["Properties"]["Name"])
    return out


class Renderer:
    """Renders a UserData (Fn::Base64 of a Fn::Sub) with every outside name replaced by where
    its value comes from: `<ssm:/name>` or `<AWS::Region>`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.doc = load(path)
        self.parameters = self.doc.get("Parameters") or {}
        self.written = written_ssm_names(self.doc) if path == PORTFOLIO else {}

    def outside(self, name: str) -> str:
        if name.startswith("AWS::"):
            return f"<{name}>"
        parameter = self.parameters.get(name)
        if parameter is None:
            raise AssertionError(f"{self.path.name}: the user data names {name}, which is not a parameter (resources and attributes differ between stacks)")
        if str(parameter.get("Type", "")).startswith("AWS::SSM::Parameter::Value<"):
            # Resolved by CloudFormation from this SSM name (the products pin it there).
            self.pinned(name, parameter)
            return f"<ssm:{parameter['Default']}>"
        if name in self.written:
            # The value this stack writes to the SSM name the products read it from.
            return f"<ssm:{self.written[name]}>"
        raise AssertionError(f"{self.path.name}: {name} is neither pinned to an SSM parameter nor written to one, so the products cannot have it")

    def pinned(self, name: str, parameter: dict) -> None:
        if parameter.get("AllowedValues") != [parameter.get("Default")]:
            raise AssertionError(f"{self.path.name}: {name} is not pinned to its SSM name {parameter.get('Default')!r}")

    def value(self, value: Any) -> str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, dict) and list(value) == ["Ref"]:
            return self.outside(value["Ref"])
        if isinstance(value, dict) and list(value) == ["Fn::Sub"]:
            return self.sub(value["Fn::Sub"])
        raise AssertionError(f"{self.path.name}: the user data uses {value!r}, which this test does not render")

    def sub(self, argument: Any) -> str:
        template, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1] if len(argument) > 1 else {})
        local = {k: self.value(v) for k, v in variables.items()}

        def replace(m: re.Match) -> str:
            name = m.group(1)
            return local[name] if name in local else self.outside(name)

        return SUB_VARIABLE.sub(replace, template).replace("${!", "${")

    def user_data(self, logical_id: str) -> str:
        user_data = launch_template_data(self.doc, logical_id)["UserData"]
        self.assert_form(user_data)
        return self.sub(user_data["Fn::Base64"]["Fn::Sub"])

    def assert_form(self, user_data: Any) -> None:
        if not (isinstance(user_data, dict) and list(user_data) == ["Fn::Base64"] and isinstance(user_data["Fn::Base64"], dict)
                and list(user_data["Fn::Base64"]) == ["Fn::Sub"]):
            raise AssertionError(f"{self.path.name}: UserData must be Fn::Base64 of one Fn::Sub")


def diff(a: str, b: str, a_name: str, b_name: str) -> str:
    return "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), a_name, b_name, n=1))


class LaunchTemplateTest(unittest.TestCase):
    maxDiff = None

    def test_the_launch_template_sets_only_the_bootstrap_and_the_metadata_options(self) -> None:
        (logical_id,) = resources(PORTFOLIO, "AWS::EC2::LaunchTemplate")
        self.assertEqual(logical_id, LAUNCH_TEMPLATE)
        data = launch_template_data(load(PORTFOLIO), LAUNCH_TEMPLATE)
        self.assertEqual(sorted(data), ["MetadataOptions", "UserData"], "RunInstances sets the rest (shared/adapters/src/ec2.rs)")
        self.assertEqual(data["MetadataOptions"].get("HttpTokens"), "required")

    def test_its_metadata_options_are_the_products(self) -> None:
        options = launch_template_data(load(PORTFOLIO), LAUNCH_TEMPLATE)["MetadataOptions"]
        self.assertEqual(len(PRODUCTS), 2)
        for product in PRODUCTS:
            self.assertEqual(options, launch_template_data(load(product), "LaunchTemplate")["MetadataOptions"], product.name)

    def test_its_bootstrap_is_the_products(self) -> None:
        ours = Renderer(PORTFOLIO).user_data(LAUNCH_TEMPLATE)
        self.assertIn("#!/bin/bash", ours)
        for product in PRODUCTS:
            theirs = Renderer(product).user_data("LaunchTemplate")
            if ours != theirs:
                self.fail(f"the launch template's bootstrap is not {product.name}'s:\n" + diff(theirs, ours, product.name, f"portfolio.yaml {LAUNCH_TEMPLATE}"))
            # And literally the same text, variables included: a copy, not a rewrite.
            self.assertEqual(
                launch_template_data(load(PORTFOLIO), LAUNCH_TEMPLATE)["UserData"]["Fn::Base64"]["Fn::Sub"],
                launch_template_data(load(product), "LaunchTemplate")["UserData"]["Fn::Base64"]["Fn::Sub"],
                product.name,
            )

    def test_the_renderer_tells_different_sources_apart(self) -> None:
        # Proof that the comparison above can fail: a value the portfolio does not write to the
        # products' SSM name renders differently, and an unknown name is refused.
        renderer = Renderer(PORTFOLIO)
        self.assertEqual(renderer.sub("${CodeArtifactDomain}"), "<ssm:/atelier/workspaces/codeartifact-domain>")
        self.assertEqual(renderer.sub("${WorkspaceSubnetId}"), "<ssm:/atelier/network/workspace-subnet-id>")
        self.assertNotEqual(renderer.sub("${CodeArtifactDomain}"), renderer.sub("${CodeArtifactRepository}"))
        self.assertEqual(renderer.sub("${!NOT_A_VARIABLE}"), "${NOT_A_VARIABLE}")
        with self.assertRaises(AssertionError):
            renderer.sub("${TemplateBucketName}")
        with self.assertRaises(AssertionError):
            renderer.sub("${WorkspaceVolumeKey.Arn}")
        with self.assertRaises(AssertionError):
            Renderer(PRODUCTS[0]).sub("${WorkspaceId}")

    def test_it_launches_the_products_image_into_their_subnet_and_group_with_their_key(self) -> None:
        ours = load(PORTFOLIO)["Parameters"]
        for product in PRODUCTS:
            theirs = load(product)["Parameters"]
            for name, product_name in SAME_AS_THE_PRODUCTS.items():
                for key in ("Type", "Default", "AllowedValues"):
                    self.assertEqual(ours[name].get(key), theirs[product_name].get(key), f"{name} {key} (the {product.name} {product_name})")
            # The products' volume key is the SSM parameter the portfolio writes from its key.
            key_name = theirs["VolumeKeyArn"]["Default"]
            (written,) = [r for r in resources(PORTFOLIO, "AWS::SSM::Parameter").values() if r["Properties"]["Name"] == key_name]
            self.assertEqual(written["Properties"]["Value"], {"Fn::GetAtt": ["WorkspaceVolumeKey", "Arn"]}, product.name)
        # The alias the functions' grants are conditioned on (kms:ResourceAliases) is that key's.
        alias = resources(PORTFOLIO, "AWS::KMS::Alias")["WorkspaceVolumeKeyAlias"]["Properties"]
        self.assertEqual((alias["AliasName"], alias["TargetKeyId"]), ("alias/atelier-workspaces", {"Ref": "WorkspaceVolumeKey"}))

    def test_the_portfolio_outputs_every_ec2_launch_setting(self) -> None:
        outputs = load(PORTFOLIO)["Outputs"]
        expected = {
            "WorkspaceSubnetId": {"Ref": "WorkspaceSubnetId"},
            "WorkspaceSecurityGroupId": {"Ref": "WorkspaceSecurityGroupId"},
            "WorkspaceVolumeKeyId": {"Ref": "WorkspaceVolumeKey"},
            "WorkspaceImageId": {"Ref": "WorkspaceImageId"},
            "WorkspaceLaunchTemplateId": {"Ref": LAUNCH_TEMPLATE},
        }
        self.assertEqual(set(expected), set(EC2_LAUNCH_OUTPUTS.values()))
        for output, value in expected.items():
            self.assertIn(output, outputs)
            self.assertEqual(outputs[output]["Value"], value, output)


if __name__ == "__main__":
    unittest.main()
