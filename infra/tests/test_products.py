"""Launch parameters of the workstation products (issue 15), read from the templates.

Run by `make infra-lint` (`python -m unittest discover -s infra/tests`). Every
infra/products/workstation-*.yaml is held to these rules, and each test fails naming the
product, the parameter, the resource and the property that breaks one:

  - Atelier's provisioner (shared/adapters/src/servicecatalog/mod.rs, read as text) passes
    exactly the parameters a launch may set: InstanceType and WorkspaceName (what the person
    chooses) and WorkspaceId (what Atelier sets). Every other parameter is pinned: one
    AllowedValues, equal to its Default, and the portfolio's template constraint for that
    product asserts the same value (no RuleCondition);
  - a Tags entry is a plain Key/Value whose value is a literal or the parameter Atelier sets
    for that key (Name: WorkspaceName, atelier:workspace: WorkspaceId); the other tags Atelier
    passes as provisioned-product tags (atelier:owner, atelier:cost-centre) are never set by a
    product, and the name is never one of those tags (Service Catalog refuses an apostrophe);
  - WorkspaceName, in any form (Ref, Sub, a Sub variable, a condition), appears nowhere but as
    the value of a Name tag on an EC2 resource, and no restricted field (a security group's
    GroupDescription, a launch template's name, the user data...) holds any user text;
  - rendered with names the API accepts (l'étude 2, 64 four-byte letters...), every field
    WorkspaceName reaches matches that field's documented character set and length, and the
    parameter's own MinLength/MaxLength/AllowedPattern accept it;
  - only Atelier's two provisioning roles may launch from the portfolio: they and the
    catalog-api role (which reads products as an end user to publish them) are the only
    principals associated with it, and of all the identity policies of the platform template
    only theirs grant servicecatalog:ProvisionProduct (the catalog-api role's does not); nothing
    shares the portfolio, and every product has its launch role and its template constraint.
"""

from __future__ import annotations

import json
import re
import unicodedata
import unittest
from pathlib import Path
from typing import Any, Iterator

import regex  # \p{L} and friends, as the AWS API references write their patterns (a cfn-lint dependency)

from cfn import load, resources, text
from test_perimeter import grants, identity_policies

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
TEMPLATE = INFRA / "template.yaml"
PORTFOLIO = INFRA / "products" / "portfolio.yaml"
PRODUCTS = sorted((INFRA / "products").glob("workstation-*.yaml"))
ALL_TEMPLATES = sorted(INFRA.glob("*.yaml")) + sorted((INFRA / "products").glob("*.yaml"))
PROVISIONER = ROOT / "shared" / "adapters" / "src" / "servicecatalog" / "mod.rs"

# What the person launching chooses, and what Atelier sets; nothing else is free.
LAUNCH_CHOICES = {"InstanceType", "WorkspaceName"}
SET_BY_ATELIER = {"WorkspaceId"}
FREE = LAUNCH_CHOICES | SET_BY_ATELIER
# Text a person typed. (InstanceType is one of the product's AllowedValues.)
USER_TEXT = {"WorkspaceName"}
# The parameters a product's own tags may take their values from, per tag key.
TAG_SOURCES = {"Name": {"WorkspaceName"}, "atelier:workspace": {"WorkspaceId"}}
WORKSPACE_ID_PATTERN = "^ws-[0-9A-HJKMNP-TV-Z]{26}$"
SAMPLE_WORKSPACE_ID = "ws-01HZY3Q7K8M9N0P1R2S3T4V5W6"
# Atelier's two provisioning roles (parameters of portfolio.yaml, outputs of template.yaml).
LAUNCHERS = {"WorkspacesApiRoleArn": "WorkspacesApiRole", "StateSyncRoleArn": "StateSyncRole"}
# Associated with the portfolio so that Service Catalog's end-user reads see its products, but
# without ProvisionProduct: it cannot launch.
READERS = {"CatalogApiRoleArn": "CatalogApiRole"}
ASSOCIATED = LAUNCHERS | READERS

# Properties whose values AWS restricts to a narrow character set, or that are code: no user
# text may reach them. (The reach test below is stricter still: it admits the name only in a
# Name tag; this list says why in the failure message.)
RESTRICTED_FIELDS = {
    "GroupDescription": "EC2 CreateSecurityGroup: a-z A-Z 0-9 spaces ._-:/()#,@[]+=&;{}!$* only",
    "GroupName": "EC2 CreateSecurityGroup: a-z A-Z 0-9 spaces ._-:/()#,@[]+=&;{}!$* only",
    "Description": "security group rules, network interfaces, constraints: restricted or ASCII",
    "LaunchTemplateName": "EC2 CreateLaunchTemplate: letters, digits and ( ) . - / _ only",
    "VersionDescription": "a launch template version's description",
    "KeyName": "an EC2 key pair name",
    "UserData": "a shell script run as root: user text would be code",
    "AlarmDescription": "CloudWatch alarm text",
}


class Charset:
    """A field's documented character set and length, with the page that documents it."""

    def __init__(self, pattern: str, max_length: int, doc: str) -> None:
        self.pattern, self.max_length, self.doc = regex.compile(pattern), max_length, doc

    def accepts(self, value: str) -> bool:
        return len(value) <= self.max_length and self.pattern.fullmatch(value) is not None


# EC2 tag values: "case-sensitive and accept a maximum of 256 Unicode characters", no
# character restriction (the EC2 User Guide: EC2 allows any character in its tags).
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Tag.html
EC2_TAG_VALUE = Charset(r"(?s).*", 256, "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Tag.html")
# A security group's description (and name): "Up to 255 characters in length. Valid
# characters: a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*".
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
SECURITY_GROUP_TEXT = Charset(
    r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*", 255, "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"
)
# A Service Catalog tag (ProvisionProduct's Tags, which become the stack's): value 1 to 256
# characters, pattern ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$ (no apostrophe).
# https://docs.aws.amazon.com/servicecatalog/latest/dg/API_Tag.html
SERVICE_CATALOG_TAG_VALUE = Charset(
    r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+", 256, "https://docs.aws.amazon.com/servicecatalog/latest/dg/API_Tag.html"
)

# Names the API accepts (shared/domain/src/workspaces/model.rs, WorkspaceName::parse): 1 to 64
# characters after trimming, a letter or digit first, then letters (any script), digits,
# spaces, - _ . and apostrophes. The longest ones in UTF-8 bytes and UTF-16 units are here.
ACCEPTED_NAMES = [
    "l'étude 2",
    "Analyse 1",
    "étude-oncologie_2026.v2",
    "a",
    "Straße O'Brien-Ñúñez.v3_final",
    "データ分析 第2版",
    "Ωmega²",
    "é" * 64,
    "\U0001d400" * 64,  # MATHEMATICAL BOLD CAPITAL A: 4 bytes in UTF-8, 2 units in UTF-16
]


def api_accepts(name: str) -> bool:
    """WorkspaceName::parse, near enough for the samples above (Rust's char::is_alphanumeric
    is Alphabetic or Numeric; Python's isalnum agrees on these)."""
    value = name.strip()
    if not 1 <= len(value) <= 64 or not value[0].isalnum():
        return False
    return all(c.isalnum() or c in " -_.'" for c in value)


# ---------------------------------------------------------------- template walking
def walk(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, value) under `value`, itself included."""
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, path + (i,))


SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


def referenced(value: Any) -> set[str]:
    """The parameters, resources and conditions `value` names itself (Ref, Fn::GetAtt,
    Fn::Sub variables that are not the Sub's own, Fn::If conditions, Condition)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                out.add(v)
            elif k == "Fn::GetAtt":
                out.add(v[0] if isinstance(v, list) else str(v).split(".")[0])
            elif k == "Fn::Sub":
                template, variables = (v, {}) if isinstance(v, str) else (v[0], v[1] if len(v) > 1 else {})
                for name in SUB_VARIABLE.findall(template):
                    name = name.split(".")[0]
                    if name not in variables:
                        out.add(name)
                out |= referenced(variables)
            elif k == "Fn::If":
                out.add(v[0])
                out |= referenced(v[1:])
            elif k == "Condition" and isinstance(v, str):
                out.add(v)
            else:
                out |= referenced(v)
    elif isinstance(value, list):
        for v in value:
            out |= referenced(v)
    return out


def reaches(doc: dict, names: set[str]) -> set[str]:
    """`names` and the conditions that depend on them, transitively."""
    found = set(names)
    conditions = doc.get("Conditions") or {}
    changed = True
    while changed:
        changed = False
        for condition, body in conditions.items():
            if condition not in found and referenced(body) & found:
                found.add(condition)
                changed = True
    return found


def where(product: Path, path: tuple) -> str:
    return f"{product.name}: " + ".".join(str(p) for p in path)


def parameters(product: Path) -> dict[str, dict]:
    return load(product).get("Parameters") or {}


def tag_lists(doc: dict) -> Iterator[tuple[tuple, str, Any]]:
    """(path, resource type, Tags value) of every Tags property in the resources, nested ones
    (a launch template's TagSpecifications) included."""
    for logical_id, resource in (doc.get("Resources") or {}).items():
        for path, value in walk(resource.get("Properties") or {}, ("Resources", logical_id, "Properties")):
            if path[-1] == "Tags":
                yield path, str(resource.get("Type")), value


def render(value: Any, name: str) -> str:
    """The string `value` becomes with WorkspaceName = `name` (WorkspaceId a sample id, any
    other parameter its default). Only the forms a product may use for a tag value."""
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Ref":
            return {"WorkspaceName": name, "WorkspaceId": SAMPLE_WORKSPACE_ID}.get(argument, f"<{argument}>")
        if function == "Fn::Sub":
            template, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1] if len(argument) > 1 else {})
            local = {k: render(v, name) for k, v in variables.items()}
            return SUB_VARIABLE.sub(lambda m: local.get(m.group(1)) or render({"Ref": m.group(1)}, name), template).replace("${!", "${")
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(render(v, name) for v in items)
    raise AssertionError(f"cannot render {value!r}")


def field_charset(resource_type: str, path: tuple) -> Charset | None:
    """The documented character set of the property at `path` of a `resource_type`."""
    if resource_type.startswith("AWS::EC2::") and len(path) >= 3 and path[-3] == "Tags" and path[-1] == "Value":
        return EC2_TAG_VALUE
    if resource_type == "AWS::EC2::SecurityGroup" and path[-1] in ("GroupDescription", "GroupName"):
        return SECURITY_GROUP_TEXT
    return None


# ---------------------------------------------------------------- the portfolio
def portfolio_products() -> dict[str, str]:
    """Product template file name -> the logical id of its CloudFormationProduct."""
    out = {}
    for logical_id, product in resources(PORTFOLIO, "AWS::ServiceCatalog::CloudFormationProduct").items():
        for artifact in product["Properties"]["ProvisioningArtifactParameters"]:
            url = text(artifact["Info"]["LoadTemplateFromURL"]) or ""
            file_name = re.search(r"([\w.-]+\.yaml)$", url)
            out[file_name.group(1) if file_name else url] = logical_id
    return out


def constraints(kind: str, product_id: str) -> list[dict]:
    return [c["Properties"] for c in resources(PORTFOLIO, kind).values() if c["Properties"].get("ProductId") == {"Ref": product_id}]


def pinned_by_portfolio(product: Path) -> tuple[dict[str, list], list[str]]:
    """Parameter -> the values the product's template constraint admits, and the problems
    found reading the rules."""
    product_id = portfolio_products().get(product.name)
    pins: dict[str, list] = {}
    problems = []
    for constraint in constraints("AWS::ServiceCatalog::LaunchTemplateConstraint", str(product_id)):
        for rule_name, rule in json.loads(constraint["Rules"]).items():
            if "RuleCondition" in rule:
                problems.append(f"{product.name}: rule {rule_name} has a RuleCondition, so it does not always hold")
            for assertion in rule.get("Assertions") or []:
                check = assertion.get("Assert") or {}
                if list(check) == ["Fn::Contains"]:
                    values, target = check["Fn::Contains"]
                elif list(check) == ["Fn::Equals"] and {"Ref"} & set(check["Fn::Equals"][0]):
                    target, value = check["Fn::Equals"]
                    values = [value]
                else:
                    problems.append(f"{product.name}: rule {rule_name} asserts something this test does not read: {check}")
                    continue
                pins[str(target.get("Ref"))] = values
    return pins, problems


def atelier_sends() -> tuple[list[str], list[str]]:
    """The ProvisionProduct parameters and provisioned-product tag keys in the provisioner."""
    source = PROVISIONER.read_text(encoding="utf-8")
    params = re.findall(r"\bparameter\(\s*\"(\w+)\"", source)
    tags = re.findall(r"\(\s*\"((?:atelier:[\w-]+)|Name)\"\s*,", source)
    return params, tags


class ProductParametersTest(unittest.TestCase):
    maxDiff = None

    def test_the_products_are_the_portfolios(self) -> None:
        self.assertEqual(len(PRODUCTS), 2)
        self.assertEqual(sorted(portfolio_products()), sorted(p.name for p in PRODUCTS), "every workstation-*.yaml is a product of the portfolio, and back")

    def test_atelier_passes_exactly_the_free_parameters(self) -> None:
        params, _ = atelier_sends()
        self.assertEqual(sorted(params), sorted(FREE), f"{PROVISIONER.relative_to(ROOT)} passes these; change the products and this test with it")
        for product in PRODUCTS:
            declared = parameters(product)
            for name in sorted(FREE):
                self.assertIn(name, declared, f"{product.name}: Atelier passes {name}")
            for name, parameter in declared.items():
                if name not in FREE:
                    self.assertIn("Default", parameter, f"{product.name}: {name} has no default and Atelier does not pass it")

    def test_the_free_parameters_are_constrained(self) -> None:
        for product in PRODUCTS:
            declared = parameters(product)
            instance_type = declared["InstanceType"]
            self.assertTrue(instance_type.get("AllowedValues"), f"{product.name}: InstanceType is one of the offered types")
            self.assertIn(instance_type.get("Default"), instance_type["AllowedValues"], product.name)
            workspace_id = declared["WorkspaceId"]
            self.assertNotIn("Default", workspace_id, f"{product.name}: WorkspaceId is required")
            self.assertEqual(workspace_id.get("AllowedPattern"), WORKSPACE_ID_PATTERN, product.name)
            name = declared["WorkspaceName"]
            self.assertEqual(name.get("Type"), "String", product.name)
            for key in ("Default", "AllowedValues", "NoEcho"):
                self.assertNotIn(key, name, f"{product.name}: WorkspaceName {key}")

    def test_every_other_parameter_is_pinned_by_the_product_and_the_portfolio(self) -> None:
        problems = []
        for product in PRODUCTS:
            pins, read_problems = pinned_by_portfolio(product)
            problems += read_problems
            declared = parameters(product)
            for name, parameter in declared.items():
                if name in FREE:
                    continue
                default = parameter.get("Default")
                if parameter.get("AllowedValues") != [default]:
                    problems.append(f"{product.name}: {name} is free (AllowedValues must be exactly [its Default {default!r}])")
                if pins.get(name) != [default]:
                    problems.append(f"{product.name}: the portfolio's template constraint does not pin {name} to {default!r} (it admits {pins.get(name)})")
            for name in sorted(set(pins) - set(declared)):
                problems.append(f"{product.name}: the portfolio pins {name}, which the product does not have (the launch would fail)")
            for name in sorted(set(pins) & FREE):
                problems.append(f"{product.name}: the portfolio pins {name}, which Atelier passes")
        self.assertEqual(problems, [])

    # ---------------------------------------------------------------- tags
    def test_tags_come_only_from_atelier(self) -> None:
        _, sent_tags = atelier_sends()
        self.assertNotIn("Name", sent_tags, "the name stays a parameter: a Service Catalog tag value refuses an apostrophe")
        self.assertFalse(set(sent_tags) - {"atelier:owner", "atelier:workspace", "atelier:cost-centre"}, sent_tags)
        # Set by Service Catalog from what Atelier passes; a product setting them would
        # override Atelier's value with its own.
        from_service_catalog = set(sent_tags) - set(TAG_SOURCES)
        problems = []
        for product in PRODUCTS:
            doc = load(product)
            own = set(parameters(product)) | set(doc.get("Conditions") or {})
            for path, _, tags in tag_lists(doc):
                entries = list(tags.items()) if isinstance(tags, dict) else None
                if entries is None:
                    if not isinstance(tags, list):
                        problems.append(f"{where(product, path)}: Tags must be a list of Key/Value")
                        continue
                    entries = []
                    for i, entry in enumerate(tags):
                        if not (isinstance(entry, dict) and set(entry) == {"Key", "Value"} and isinstance(entry["Key"], str)):
                            problems.append(f"{where(product, path + (i,))}: not a plain Key/Value tag ({entry})")
                            continue
                        entries.append((entry["Key"], entry["Value"]))
                for key, value in entries:
                    if key in from_service_catalog:
                        problems.append(f"{where(product, path)}: {key} comes from the provisioned product's tags (Atelier), not from the product")
                    sources = referenced(value) & own
                    wrong = sources - TAG_SOURCES.get(key, set())
                    if wrong:
                        problems.append(f"{where(product, path)}: tag {key} takes its value from {sorted(wrong)}, which Atelier does not set for it")
        self.assertEqual(problems, [])

    # ---------------------------------------------------------------- where the name goes
    def name_paths(self, product: Path) -> list[tuple[tuple, Any]]:
        """Every place outside Parameters that names WorkspaceName or a condition on it."""
        doc = load(product)
        names = reaches(doc, USER_TEXT)
        out = []
        for section, body in doc.items():
            if section == "Parameters":
                continue
            for path, value in walk(body, (section,)):
                # The innermost value that names it: a Ref, a Sub, an If.
                if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Ref", "Fn::Sub", "Fn::If", "Fn::GetAtt", "Condition") and referenced(value) & names:
                    out.append((path, value))
                elif isinstance(value, dict) and "Condition" in value and value["Condition"] in names:
                    out.append((path + ("Condition",), value["Condition"]))
        return out

    def test_the_name_reaches_only_name_tags(self) -> None:
        problems = []
        for product in PRODUCTS:
            doc = load(product)
            found = self.name_paths(product)
            self.assertTrue(found, f"{product.name}: the name tags the instance")
            for path, value in found:
                allowed = (
                    len(path) >= 6 and path[0] == "Resources" and path[2] == "Properties" and path[-3] == "Tags" and path[-1] == "Value"
                    and str(doc["Resources"][path[1]].get("Type", "")).startswith("AWS::EC2::")
                    and self.tag_key(doc, path) == "Name"
                )
                if not allowed:
                    problems.append(f"{where(product, path)}: WorkspaceName may only be the value of an EC2 resource's Name tag ({value})")
        self.assertEqual(problems, [])

    @staticmethod
    def tag_key(doc: dict, path: tuple) -> Any:
        entry: Any = doc
        for step in path[:-1]:
            entry = entry[step]
        return entry.get("Key")

    def test_no_restricted_field_holds_user_text(self) -> None:
        problems = []
        for product in PRODUCTS:
            doc = load(product)
            names = reaches(doc, USER_TEXT)
            for logical_id, resource in (doc.get("Resources") or {}).items():
                for path, value in walk(resource.get("Properties") or {}, ("Resources", logical_id, "Properties")):
                    if path[-1] in RESTRICTED_FIELDS and referenced(value) & names:
                        problems.append(f"{where(product, path)}: user text in {path[-1]} ({RESTRICTED_FIELDS[path[-1]]})")
        self.assertEqual(problems, [])

    def test_every_accepted_name_fits_every_field_it_reaches(self) -> None:
        for name in ACCEPTED_NAMES:
            self.assertTrue(api_accepts(name), f"{name!r} is not a name the API accepts: fix the sample")
        problems = []
        for product in PRODUCTS:
            doc = load(product)
            parameter = parameters(product)["WorkspaceName"]
            for name in ACCEPTED_NAMES:
                # However CloudFormation counts a length: characters, UTF-16 units or bytes.
                for unit, length in (("characters", len(name)), ("UTF-16 units", len(name.encode("utf-16-le")) // 2), ("UTF-8 bytes", len(name.encode("utf-8")))):
                    if not int(parameter.get("MinLength", 0)) <= length <= int(parameter.get("MaxLength", 4096)):
                        problems.append(f"{product.name}: WorkspaceName refuses {name!r} ({length} {unit})")
                pattern = parameter.get("AllowedPattern")
                if pattern and not regex.fullmatch(pattern, name):
                    problems.append(f"{product.name}: WorkspaceName's AllowedPattern refuses {name!r}")
            for path, value in self.name_paths(product):
                in_resources = path[0] == "Resources" and len(path) > 2
                resource_type = str(doc["Resources"][path[1]].get("Type")) if in_resources else ""
                charset = field_charset(resource_type, path) if in_resources else None
                if charset is None:
                    problems.append(f"{where(product, path)}: no documented character set for this field: keep the name out of it")
                    continue
                # The whole field's value, e.g. a Sub around the name.
                field = self.field_value(doc, path, resource_type)
                for name in ACCEPTED_NAMES:
                    rendered = render(field, name)
                    if not charset.accepts(rendered):
                        problems.append(f"{where(product, path)}: {rendered!r} breaks the field's character set ({charset.doc})")
        self.assertEqual(problems, [])

    @staticmethod
    def field_value(doc: dict, path: tuple, resource_type: str) -> Any:
        """The value of the property that holds `path` (the tag's Value, or the property)."""
        if field_charset(resource_type, path) is EC2_TAG_VALUE:
            depth = len(path)
        else:
            depth = next(i + 1 for i, step in enumerate(path) if i > 2 and step in ("GroupDescription", "GroupName"))
        value: Any = doc
        for step in path[:depth]:
            value = value[step]
        return value

    def test_the_character_sets_tell_the_fields_apart(self) -> None:
        # The reason the name is only a Name tag, and proof that the checks above can fail.
        self.assertTrue(EC2_TAG_VALUE.accepts("l'étude 2"))
        self.assertFalse(EC2_TAG_VALUE.accepts("x" * 257))
        self.assertFalse(SECURITY_GROUP_TEXT.accepts("l'étude 2"), "é and the apostrophe are not in a security group's set")
        self.assertFalse(SECURITY_GROUP_TEXT.accepts("letude 2'"))
        self.assertTrue(SECURITY_GROUP_TEXT.accepts("Atelier workspace ws-01 (2)"))
        self.assertFalse(SERVICE_CATALOG_TAG_VALUE.accepts("l'étude 2"), "Service Catalog tags refuse the apostrophe")
        self.assertTrue(SERVICE_CATALOG_TAG_VALUE.accepts("létude 2"))
        self.assertFalse(SERVICE_CATALOG_TAG_VALUE.accepts(""), "and empty values")
        self.assertEqual(unicodedata.category("\U0001d400"), "Lu")

    # ---------------------------------------------------------------- who may launch
    def test_only_atelier_may_launch_from_the_portfolio(self) -> None:
        associations = resources(PORTFOLIO, "AWS::ServiceCatalog::PortfolioPrincipalAssociation")
        principals = {}
        for logical_id, association in associations.items():
            props = association["Properties"]
            self.assertNotIn("Condition", association, logical_id)
            self.assertEqual(props.get("PrincipalType"), "IAM", f"{logical_id}: one role, not a pattern")
            self.assertEqual(props.get("PortfolioId"), {"Ref": "Portfolio"}, logical_id)
            principals[logical_id] = props["PrincipalARN"]
        self.assertEqual(sorted(principals.values(), key=str), [{"Ref": p} for p in sorted(ASSOCIATED)], "Atelier's two provisioning roles and catalog-api's")
        portfolio_parameters = parameters(PORTFOLIO)
        for parameter in ASSOCIATED:
            self.assertNotIn("Default", portfolio_parameters[parameter], parameter)
            self.assertTrue(portfolio_parameters[parameter].get("AllowedPattern", "").startswith("^arn:aws"), f"{parameter} is a role ARN")
        # They are the platform's own roles (its outputs).
        outputs = load(TEMPLATE)["Outputs"]
        for output, role in ASSOCIATED.items():
            self.assertEqual(outputs[output]["Value"], {"Fn::GetAtt": [role, "Arn"]}, output)
        # Of the associated roles, only the two that provision may launch: no identity policy of
        # the platform grants ProvisionProduct to any other role (catalog-api's included), by
        # name, wildcard or NotAction.
        may_launch: dict[str, list[str]] = {}
        for policy in identity_policies(TEMPLATE):
            for statement in policy.statements():
                if grants(statement, "servicecatalog:ProvisionProduct") or (statement.get("Effect") == "Allow" and "NotAction" in statement):
                    for role in policy.roles:
                        may_launch.setdefault(str(role.get("Ref") if isinstance(role, dict) else role), []).append(f"{policy} {statement.get('Sid')}")
        self.assertEqual(sorted(may_launch), sorted(LAUNCHERS.values()), f"who holds servicecatalog:ProvisionProduct: {may_launch}")
        for role in READERS.values():
            self.assertNotIn(role, may_launch, f"{role} is associated with the portfolio: it must not hold ProvisionProduct")
            managed = load(TEMPLATE)["Resources"][role]["Properties"].get("ManagedPolicyArns")
            self.assertIsNone(managed, f"{role}: no managed policy (AWS's could grant ProvisionProduct)")
        for path in ALL_TEMPLATES:
            for kind in ("AWS::ServiceCatalog::PortfolioShare", "AWS::ServiceCatalog::AcceptedPortfolioShare"):
                self.assertEqual(resources(path, kind), {}, f"{path.name}: the portfolio is not shared")
            if path != PORTFOLIO:
                self.assertEqual(resources(path, "AWS::ServiceCatalog::PortfolioPrincipalAssociation"), {}, path.name)
        for file_name, product_id in portfolio_products().items():
            self.assertEqual(len(constraints("AWS::ServiceCatalog::LaunchRoleConstraint", product_id)), 1, f"{file_name}: one launch role")
            self.assertEqual(len(constraints("AWS::ServiceCatalog::LaunchTemplateConstraint", product_id)), 1, f"{file_name}: one template constraint")


if __name__ == "__main__":
    unittest.main()
