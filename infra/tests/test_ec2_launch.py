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
  - an output the platform's ec2-launch parameters are filled from is missing;
  - the settings differ from `EC2_LAUNCH` in shared/app/src/settings.rs (read as text), a function
    that provisions does not get each of them from the platform parameter named like the
    portfolio output, or gets it with another provisioner than ec2-launch (`Fn::If IsEc2Launch`,
    else `AWS::NoValue`), or a parameter has a default or accepts malformed values;
  - the provisioning roles may run an instance without the launch template, or into another
    subnet, with another group or image, or may use another key than the workspace key for the
    root volume.
"""

from __future__ import annotations

import difflib
import re
import unittest
from pathlib import Path
from typing import Any

from cfn import load, resources
from test_drift import SETTINGS, Template, declared_variables, strip_comments

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
TEMPLATE = INFRA / "template.yaml"
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

# A well-formed value of each platform parameter, and a malformed one.
SAMPLES = {
    "WorkspaceSubnetId": ("subnet-0123456789abcdef0", "sg-0123456789abcdef0"),
    "WorkspaceSecurityGroupId": ("sg-0123456789abcdef0", "subnet-0123456789abcdef0"),
    "WorkspaceVolumeKeyId": ("1234abcd-12ab-34cd-56ef-1234567890ab", "alias/atelier-workspaces"),
    "WorkspaceImageId": ("ami-0123456789abcdef0", "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"),
    "WorkspaceLaunchTemplateId": ("lt-0123456789abcdef0", "atelier-workspaces"),
}
IS_EC2_LAUNCH = "IsEc2Launch"

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



def ec2_launch_settings() -> set[str]:
    """The variable names of `EC2_LAUNCH` in shared/app/src/settings.rs."""
    source = strip_comments(SETTINGS.read_text(encoding="utf-8"))
    constants = dict(re.findall(r'pub const (\w+): &str = "([A-Z][A-Z0-9_]*)";', source))
    m = re.search(r"\bconst EC2_LAUNCH: \[&str; \d+\] = \[([^\]]*)\];", source)
    if m is None:
        raise AssertionError(f"{SETTINGS.relative_to(ROOT)}: no `const EC2_LAUNCH: [&str; N] = [...]`")
    return {constants[name] for name in re.findall(r"\w+", m.group(1))}


def statements(policy_document: dict) -> list[tuple[str | None, dict]]:
    """(condition or None, statement) of a policy document, Fn::If branches unwrapped."""
    out = []
    for item in policy_document["Statement"]:
        if isinstance(item, dict) and list(item) == ["Fn::If"]:
            condition, then, otherwise = item["Fn::If"]
            if otherwise != {"Ref": "AWS::NoValue"}:
                raise AssertionError(f"a conditional statement must be absent otherwise: {item}")
            out.append((condition, then))
        else:
            out.append((None, item))
    return out


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def sub(arn: str) -> dict:
    return {"Fn::Sub": arn}


class PlatformTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls) -> None:
        cls.template = Template()
        cls.functions = cls.template.functions()
        cls.declared = declared_variables()
        cls.provisioning = sorted(name for name, names in cls.declared.items() if set(EC2_LAUNCH_OUTPUTS) <= names)

    def test_the_settings_are_the_ones_ec2_launch_requires(self) -> None:
        self.assertEqual(ec2_launch_settings(), set(EC2_LAUNCH_OUTPUTS), f"EC2_LAUNCH in {SETTINGS.relative_to(ROOT)}")
        self.assertEqual(self.provisioning, ["state-sync", "workspaces-api"], "the functions that provision declare them")

    def test_the_functions_that_provision_get_them_with_ec2_launch_only(self) -> None:
        doc = self.template.doc
        self.assertEqual(doc["Conditions"][IS_EC2_LAUNCH], {"Fn::Equals": [{"Ref": "Provisioner"}, "ec2-launch"]})
        for name, props in sorted(self.functions.items()):
            variables = (props.get("Environment") or {}).get("Variables") or {}
            for setting, parameter in sorted(EC2_LAUNCH_OUTPUTS.items()):
                if name in self.provisioning:
                    expected = {"Fn::If": [IS_EC2_LAUNCH, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}
                    self.assertEqual(variables.get(setting), expected, f"{name}: {setting}")
                else:
                    self.assertNotIn(setting, variables, name)
            if name in self.provisioning:
                self.assertEqual(variables.get("ATELIER_PROVISIONER"), {"Ref": "Provisioner"}, name)

    def test_the_parameters_are_empty_by_default_and_only_take_well_formed_ids(self) -> None:
        parameters = self.template.doc["Parameters"]
        self.assertEqual(set(SAMPLES), set(EC2_LAUNCH_OUTPUTS.values()))
        for name, (good, bad) in sorted(SAMPLES.items()):
            parameter = parameters[name]
            self.assertEqual((parameter.get("Type"), parameter.get("Default")), ("String", ""), name)
            pattern = parameter.get("AllowedPattern", "")
            self.assertTrue(re.fullmatch(pattern, ""), f"{name}: empty (service-catalog) is allowed")
            self.assertTrue(re.fullmatch(pattern, good), f"{name}: {good}")
            self.assertFalse(re.fullmatch(pattern, bad), f"{name}: {bad}")
            self.assertIn(name, str(parameter.get("Description")), f"{name}: says which portfolio output to take")

    def role_statements(self, function: str) -> list[tuple[str | None, dict]]:
        role = self.functions[function]["Role"]["Fn::GetAtt"]
        role = role[0] if isinstance(role, list) else role.split(".")[0]
        out = []
        for policy in self.template.resources[role]["Properties"]["Policies"]:
            out += statements(policy["PolicyDocument"])
        return out

    def test_ec2_launch_runs_only_the_launch_template_in_the_workspace_network(self) -> None:
        arn = "arn:${AWS::Partition}:ec2:${AWS::Region}:"
        launch_template = sub(arn + "${AWS::AccountId}:launch-template/${WorkspaceLaunchTemplateId}")
        expected_resources = [
            sub(arn + "${AWS::AccountId}:instance/*"),
            sub(arn + "${AWS::AccountId}:volume/*"),
            sub(arn + "${AWS::AccountId}:subnet/${WorkspaceSubnetId}"),
            sub(arn + "${AWS::AccountId}:network-interface/*"),
            sub(arn + "${AWS::AccountId}:security-group/${WorkspaceSecurityGroupId}"),
            sub(arn + ":image/${WorkspaceImageId}"),
            launch_template,
        ]
        key = sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${WorkspaceVolumeKeyId}")
        for function in self.provisioning:
            found = []
            for condition, statement in self.role_statements(function):
                if "ec2:RunInstances" not in as_list(statement["Action"]):
                    continue
                self.assertEqual(condition, IS_EC2_LAUNCH, f"{function} {statement.get('Sid')}: ec2-launch only")
                self.assertEqual(as_list(statement["Action"]), ["ec2:RunInstances"], f"{function} {statement.get('Sid')}")
                resources_ = as_list(statement["Resource"])
                found += resources_
                if sub(arn + "${AWS::AccountId}:instance/*") in resources_:
                    # The instance exists only from the launch template (its bootstrap), tagged.
                    self.assertEqual(resources_, [sub(arn + "${AWS::AccountId}:instance/*")], f"{function}: the instance alone")
                    self.assertEqual(statement["Condition"]["ArnEquals"], {"ec2:LaunchTemplate": launch_template}, function)
                    self.assertEqual(statement["Condition"]["Null"], {"aws:RequestTag/atelier:owner": "false"}, function)
                if sub(arn + "${AWS::AccountId}:volume/*") in resources_:
                    self.assertEqual(statement["Condition"]["Null"], {"aws:RequestTag/atelier:owner": "false"}, function)
            self.assertEqual(sorted(map(str, found)), sorted(map(str, expected_resources)), f"{function}: what RunInstances may use")
            # The root volume: the workspace key only, through EC2 only.
            kms = [(c, s) for c, s in self.role_statements(function) if any(a.startswith("kms:") for a in as_list(s["Action"]))
                   and "kms:GenerateDataKeyWithoutPlaintext" in as_list(s["Action"])]
            self.assertEqual(len(kms), 1, f"{function}: one statement encrypts root volumes")
            condition, statement = kms[0]
            self.assertEqual(condition, IS_EC2_LAUNCH, function)
            self.assertEqual(statement["Resource"], key, function)
            self.assertEqual(statement["Condition"], {"StringEquals": {"kms:ViaService": sub("ec2.${AWS::Region}.amazonaws.com")}}, function)
            grants = [s for _, s in self.role_statements(function) if "kms:CreateGrant" in as_list(s["Action"])]
            self.assertTrue(grants, f"{function}: EBS creates a grant on the key at launch")
            for statement in grants:
                self.assertEqual(statement["Condition"]["Bool"], {"kms:GrantIsForAWSResource": "true"}, function)


if __name__ == "__main__":
    unittest.main()
