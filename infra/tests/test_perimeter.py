"""Data perimeter checks (issue 16): what AWS enforces around datasets, read from the templates.

Run by `make infra-lint` (`python -m unittest discover -s infra/tests`). The templates are read
with cfn-lint's loader (CloudFormation short tags become Fn::* dicts), nothing is deployed.
One test per rule; each fails naming the template, resource and statement that breaks it:

  - only the workspace role boundary grants reads on the data lake (no other identity policy
    in infra/ names DataLakeBuckets or every bucket);
  - the boundary allows no IAM and no S3 write, and admits everything WorkspaceRolePolicy grants;
  - WorkspaceRolePolicy is the scoped Session Manager replacement (no SSM parameter or document
    reads), and no template references the broad managed instance-core policy;
  - the agent may tag only its own instance, only with atelier:mounted:* keys;
  - every VPC endpoint has a policy with the account (or organisation) conditions;
  - flow logs record all traffic;
  - the lake bucket policy denies reads outside the workspace endpoint and requests without
    TLS, and the lake's reads are recorded by CloudTrail;
  - the products run as their workspace's own instance profile, read metadata tags, install
    the agent and mount no bucket;
  - the launch role passes only workspace roles and creates no IAM;
  - every IAM grant to the functions is bounded: roles created only with the boundary, only
    WorkspaceRolePolicy attached, inline policies only on bounded roles, passed only to EC2,
    and only on the /atelier/workspaces/ path;
  - Session Manager sessions only for the workspace's owner;
  - every function has Errors and Throttles alarms, and the RevocationFailures alarm watches
    the data-access metric.
"""

from __future__ import annotations

import re
import unittest
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterator

from cfn import text
from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

INFRA = Path(__file__).resolve().parents[1]
TEMPLATE = INFRA / "template.yaml"
NETWORK = INFRA / "network.yaml"
DATA_LAKE = INFRA / "data-lake.yaml"
PORTFOLIO = INFRA / "products" / "portfolio.yaml"
PRODUCTS = sorted((INFRA / "products").glob("workstation-*.yaml"))
ALL_TEMPLATES = sorted(INFRA.glob("*.yaml")) + sorted((INFRA / "products").glob("*.yaml"))

LAKE_READS = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket")
SESSION_MANAGER_ACTIONS = {
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}
# What the workspace gateway calls on the table (infra/template.yaml, GatewayTaskRole), the most
# the DynamoDB gateway endpoint admits.
DYNAMODB_GATEWAY_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")
WORKSPACE_ROLES = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/atelier/workspaces/*"}
WORKSPACE_PROFILES = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/atelier/workspaces/*"}
WORKSPACE_ID_PATTERN = "^ws-[0-9A-HJKMNP-TV-Z]{26}$"
BOUNDARY = {"Ref": "WorkspaceRoleBoundary"}
ROLE_POLICY = {"Ref": "WorkspaceRolePolicy"}
# What the functions may do in IAM, and nothing else (infra/template.yaml).
FUNCTION_IAM_ACTIONS = {
    "iam:CreateRole", "iam:TagRole", "iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:GetRole",
    "iam:CreateInstanceProfile", "iam:TagInstanceProfile", "iam:AddRoleToInstanceProfile",
    "iam:GetInstanceProfile", "iam:PassRole", "iam:GetRolePolicy", "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:ListRoles",
    "iam:DeleteRolePolicy", "iam:DeleteRole", "iam:DetachRolePolicy",
    "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile",
}

_loaded: dict[Path, dict] = {}


def load(path: Path) -> dict:
    if path not in _loaded:
        _loaded[path] = load_cfn_yaml(str(path))
    return _loaded[path]


def resources(path: Path, kind: str | None = None) -> dict[str, dict]:
    return {k: v for k, v in load(path)["Resources"].items() if kind is None or v.get("Type") == kind}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def branches(value: Any) -> Iterator[Any]:
    """Every value `value` can take: both sides of Fn::If, nothing for AWS::NoValue."""
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        _, yes, no = value["Fn::If"]
        yield from branches(yes)
        yield from branches(no)
    elif value == {"Ref": "AWS::NoValue"}:
        return
    else:
        yield value


def statements(document: dict) -> list[dict]:
    return [s for item in as_list(document.get("Statement", [])) for s in branches(item)]


def actions(statement: dict) -> list[str]:
    return [str(a) for a in as_list(statement.get("Action", []))]


def grants(statement: dict, action: str) -> bool:
    """Whether an Allow statement's Action patterns cover `action`."""
    return statement.get("Effect") == "Allow" and any(fnmatchcase(action.lower(), a.lower()) for a in actions(statement))


def references(value: Any, name: str) -> bool:
    """Whether `value` refers to the parameter or resource `name` (Ref, GetAtt or Sub)."""
    if isinstance(value, dict):
        if value.get("Ref") == name:
            return True
        if "Fn::GetAtt" in value and as_list(value["Fn::GetAtt"])[0] == name:
            return True
        if "Fn::Sub" in value and re.search(r"\$\{" + re.escape(name) + r"[.}]", text(value) or ""):
            return True
        return any(references(v, name) for v in value.values())
    if isinstance(value, list):
        return any(references(v, name) for v in value)
    return False


class Policy:
    """One identity policy document of a template: where it is, whom it is attached to."""

    def __init__(self, path: Path, resource: str, name: str, document: dict, roles: list) -> None:
        self.path, self.resource, self.name, self.document, self.roles = path, resource, name, document, roles

    def __str__(self) -> str:
        return f"{self.path.relative_to(INFRA.parent)}: {self.resource}/{self.name}"

    def statements(self) -> list[dict]:
        return statements(self.document)


def identity_policies(path: Path) -> list[Policy]:
    out = []
    for logical_id, resource in resources(path).items():
        props = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::IAM::Role":
            for policy in as_list(props.get("Policies") or []):
                out.append(Policy(path, logical_id, str(policy["PolicyName"]), policy["PolicyDocument"], [{"Ref": logical_id}]))
        elif kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            roles = [r for item in as_list(props.get("Roles") or []) for r in branches(item)]
            out.append(Policy(path, logical_id, str(props.get("PolicyName", logical_id)), props["PolicyDocument"], roles))
    return out


def user_data(product: Path) -> str:
    template = resources(product, "AWS::EC2::LaunchTemplate")["LaunchTemplate"]
    encoded = template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    return text(encoded) or ""


def function_roles() -> dict[str, str]:
    """Function logical id -> the logical id of its role (Role: !GetAtt X.Arn)."""
    out = {}
    for logical_id, fn in resources(TEMPLATE, "AWS::Serverless::Function").items():
        role = fn["Properties"]["Role"]
        out[logical_id] = as_list(role["Fn::GetAtt"])[0] if isinstance(role["Fn::GetAtt"], list) else str(role["Fn::GetAtt"]).split(".")[0]
    return out


class PerimeterTest(unittest.TestCase):
    maxDiff = None

    # ---------------------------------------------------------------- the lake in IAM
    def test_only_the_workspace_boundary_grants_lake_reads(self) -> None:
        problems = []
        for path in ALL_TEMPLATES:
            for policy in identity_policies(path):
                allowed = path == TEMPLATE and policy.resource == "WorkspaceRoleBoundary"
                for s in policy.statements():
                    if s.get("Effect") == "Allow" and ("NotAction" in s or "NotResource" in s):
                        problems.append(f"{policy} {s.get('Sid')}: Allow with NotAction/NotResource")
                    if not any(grants(s, a) for a in LAKE_READS):
                        continue
                    for r in as_list(s.get("Resource", [])):
                        literal = text(r) or ""
                        every_bucket = literal == "*" or re.fullmatch(r"arn:[^:]*:s3:::\*.*", literal)
                        if (references(r, "DataLakeBuckets") or every_bucket) and not allowed:
                            problems.append(f"{policy} {s.get('Sid')}: S3 reads on {literal or r}")
        self.assertEqual(problems, [], "only WorkspaceRoleBoundary may grant reads on the lake")
        for path in ALL_TEMPLATES:
            if path != TEMPLATE:
                doc = load(path)
                known = "DataLakeBuckets" in (doc.get("Parameters") or {}) or references(doc.get("Resources"), "DataLakeBuckets")
                self.assertFalse(known, f"{path.name} still knows the lake buckets")

    def boundary(self) -> Policy:
        return next(p for p in identity_policies(TEMPLATE) if p.resource == "WorkspaceRoleBoundary")

    def workspace_policy(self) -> Policy:
        return next(p for p in identity_policies(TEMPLATE) if p.resource == "WorkspaceRolePolicy")

    def test_the_boundary_allows_no_iam_and_no_lake_writes(self) -> None:
        problems = []
        for s in self.boundary().statements():
            if s.get("Effect") != "Allow":
                continue
            if "NotAction" in s:
                problems.append(f"{s.get('Sid')}: NotAction in an Allow")
            for a in actions(s):
                service = a.split(":")[0].lower()
                if a == "*" or service in ("iam", "organizations") or (service == "sts" and a != "sts:GetServiceBearerToken"):
                    problems.append(f"{s.get('Sid')}: {a}")
                if service == "s3" and a not in (*LAKE_READS, "s3:GetObject"):
                    problems.append(f"{s.get('Sid')}: {a} (the boundary allows S3 reads only)")
        self.assertEqual(problems, [])
        denies = [s for s in self.boundary().statements() if s.get("Effect") == "Deny"]
        self.assertTrue(any("iam:*" in actions(s) and s.get("Resource") == "*" for s in denies), "an explicit Deny iam:*")
        lake = [s for s in denies if sorted(as_list(s.get("NotAction", []))) == sorted(LAKE_READS)]
        self.assertEqual(len(lake), 1, "an explicit Deny of everything but the three reads on the lake")
        self.assertTrue(references(lake[0]["Resource"], "DataLakeBuckets"))

    def test_the_boundary_admits_what_the_workspace_policy_grants(self) -> None:
        bounded = {s.get("Sid"): s for s in self.boundary().statements()}
        for s in self.workspace_policy().statements():
            self.assertEqual(bounded.get(s.get("Sid")), s, f"WorkspaceRolePolicy {s.get('Sid')} must be repeated in WorkspaceRoleBoundary")

    def test_the_workspace_policy_is_the_scoped_session_manager_replacement(self) -> None:
        granted = {a for s in self.workspace_policy().statements() for a in actions(s)}
        agent = {a for a in granted if a.split(":")[0] in ("ssm", "ssmmessages", "ec2messages")}
        self.assertEqual(agent, SESSION_MANAGER_ACTIONS, "Session Manager's documented actions, nothing more")
        for a in granted:
            self.assertNotIn("*", a, f"no wildcard action ({a})")
        self.assertFalse(any(references(s, "DataLakeBuckets") for s in self.workspace_policy().statements()))
        for path in ALL_TEMPLATES:
            self.assertFalse("AmazonSSMManagedInstanceCore" in path.read_text(encoding="utf-8"), f"{path.name} names the broad managed policy")
            for logical_id, r in resources(path).items():
                for arn in as_list((r.get("Properties") or {}).get("ManagedPolicyArns") or []):
                    self.assertNotIn(":iam::aws:policy/AmazonSSM", text(arn) or "", f"{path.name} {logical_id}")

    def test_the_agent_tags_only_its_own_instance(self) -> None:
        report = next(s for s in self.workspace_policy().statements() if s.get("Sid") == "ReportMounts")
        self.assertEqual(sorted(actions(report)), ["ec2:CreateTags", "ec2:DeleteTags"])
        self.assertEqual(report["Condition"]["StringEquals"], {"aws:ResourceTag/atelier:workspace": "${aws:PrincipalTag/atelier:workspace}"})
        self.assertEqual(
            report["Condition"]["ForAllValues:StringLike"], {"aws:TagKeys": ["atelier:mounted:*", "atelier:app:*"]}
        )
        self.assertEqual(report["Condition"]["Null"], {"aws:TagKeys": "false"})
        # Every other tag grant of the platform names its keys too (a DeleteTags naming no
        # tag deletes them all), except tagging on launch.
        for policy in identity_policies(TEMPLATE):
            for s in policy.statements():
                if not (grants(s, "ec2:CreateTags") or grants(s, "ec2:DeleteTags")):
                    continue
                condition = s.get("Condition") or {}
                if "ec2:CreateAction" in (condition.get("StringEquals") or {}):
                    continue
                self.assertEqual((condition.get("Null") or {}).get("aws:TagKeys"), "false", f"{policy} {s.get('Sid')}")
                self.assertIn("aws:TagKeys", condition.get("ForAllValues:StringLike") or {}, f"{policy} {s.get('Sid')}")

    # ---------------------------------------------------------------- network
    def test_every_vpc_endpoint_admits_only_this_account_or_the_organisation(self) -> None:
        endpoints = resources(NETWORK, "AWS::EC2::VPCEndpoint")
        self.assertGreaterEqual(len(endpoints), 8)
        for logical_id, endpoint in endpoints.items():
            props = endpoint["Properties"]
            self.assertIn("PolicyDocument", props, f"{logical_id} has no endpoint policy")
            gateway = props.get("VpcEndpointType") == "Gateway"
            for s in statements(props["PolicyDocument"]):
                where = f"{logical_id} {s.get('Sid')}"
                self.assertEqual(s.get("Effect"), "Allow", where)
                condition = s.get("Condition") or {}
                equals = condition.get("StringEquals") or {}
                if str(s.get("Sid", "")).startswith("AwsOwned"):
                    # AWS's own buckets (Amazon Linux repositories...): one exact bucket, read only.
                    self.assertTrue(gateway, where)
                    self.assertEqual(actions(s), ["s3:GetObject"], where)
                    for r in as_list(s["Resource"]):
                        bucket = (text(r) or "").split(":::")[-1].split("/")[0]
                        self.assertTrue(bucket and "*" not in bucket, f"{where}: {r}")
                    continue
                self.assertEqual(equals.get("aws:PrincipalAccount"), {"Ref": "AWS::AccountId"}, f"{where}: aws:PrincipalAccount")
                if gateway:
                    resource_owner = equals.get("aws:ResourceAccount") == {"Ref": "AWS::AccountId"} or "aws:ResourceOrgID" in equals
                    self.assertTrue(resource_owner, f"{where}: aws:ResourceAccount or aws:ResourceOrgID")
                    if str(props["ServiceName"].get("Fn::Sub", "")).endswith(".dynamodb"):
                        # The gateway's table calls only, on this account's tables in this region.
                        self.assertEqual(sorted(actions(s)), sorted(DYNAMODB_GATEWAY_ACTIONS), where)
                        self.assertEqual(as_list(s["Resource"]), [{"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*"}], where)
                        continue
                    self.assertFalse([a for a in actions(s) if not a.startswith("s3:Get") and not a.startswith("s3:List")], f"{where}: reads only")

    def test_flow_logs_record_all_traffic(self) -> None:
        logs = resources(NETWORK, "AWS::EC2::FlowLog")
        self.assertTrue(any(f["Properties"]["ResourceId"] == {"Ref": "Vpc"} for f in logs.values()), "the VPC has a flow log")
        for logical_id, flow_log in logs.items():
            self.assertEqual(flow_log["Properties"]["TrafficType"], "ALL", logical_id)

    # ---------------------------------------------------------------- the lake's own policy
    def test_the_lake_bucket_policy_denies_reads_outside_the_endpoint_and_without_tls(self) -> None:
        policies = [p for p in resources(DATA_LAKE, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": "BucketName"}]
        self.assertEqual(len(policies), 1)
        lake = statements(policies[0]["Properties"]["PolicyDocument"])
        self.assertEqual([s.get("Sid") for s in lake if s.get("Effect") != "Deny"], [], "the lake policy only denies")
        everything = [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}"}, {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/*"}]

        def covers(s: dict, action: str) -> bool:
            return any(fnmatchcase(action, a) for a in actions(s))

        tls = [s for s in lake if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
        self.assertTrue(tls and actions(tls[0]) == ["s3:*"] and tls[0]["Resource"] == everything and tls[0]["Principal"] == "*", "Deny s3:* without TLS")
        endpoint = [s for s in lake if "aws:SourceVpce" in (s.get("Condition") or {}).get("StringNotEquals", {})]
        self.assertEqual(len(endpoint), 1, "one Deny for reads outside the endpoint")
        s = endpoint[0]
        for action in LAKE_READS:
            self.assertTrue(covers(s, action), f"{action} outside the endpoint must be denied")
        self.assertEqual(s["Principal"], "*")
        self.assertEqual(s["Resource"], everything)
        self.assertEqual(s["Condition"], {
            "StringNotEquals": {"aws:SourceVpce": {"Ref": "S3EndpointId"}},
            "ArnNotLike": {"aws:PrincipalArn": {"Ref": "ExemptPrincipalArns"}},
        }, "no other exception to the network rule")
        workspace = [s for s in lake if (s.get("Condition") or {}).get("ArnLike", {}).get("aws:PrincipalArn") == WORKSPACE_ROLES]
        self.assertTrue(any(x["Condition"].get("StringNotEquals") == {"aws:SourceVpc": {"Ref": "VpcId"}} and actions(x) == ["s3:*"] for x in workspace),
                        "workspace roles do nothing from outside the workspace VPC, exemptions or not")
        # What S3 served is recorded: every read of the bucket's objects.
        trails = resources(DATA_LAKE, "AWS::CloudTrail::Trail")
        self.assertEqual(len(trails), 1)
        selectors = trails[next(iter(trails))]["Properties"]["AdvancedEventSelectors"]
        fields = {f["Field"]: f for sel in selectors for f in sel["FieldSelectors"]}
        self.assertEqual(fields["eventCategory"]["Equals"], ["Data"])
        self.assertEqual(fields["resources.type"]["Equals"], ["AWS::S3::Object"])
        self.assertEqual(fields["readOnly"]["Equals"], ["true"])
        self.assertEqual(fields["resources.ARN"]["StartsWith"], [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/"}])

    # ---------------------------------------------------------------- products
    def test_products_run_as_their_workspace_and_install_the_agent(self) -> None:
        portfolio_parameters = {
            str(p["Properties"]["Name"]): p["Properties"]["Value"] for p in resources(PORTFOLIO, "AWS::SSM::Parameter").values()
        }
        self.assertEqual(len(PRODUCTS), 2)
        for product in PRODUCTS:
            name = product.name
            parameters = load(product)["Parameters"]
            self.assertNotIn("DataLakeBuckets", parameters, name)
            workspace_id = parameters["WorkspaceId"]
            self.assertNotIn("Default", workspace_id, f"{name}: WorkspaceId is required")
            self.assertEqual(workspace_id["AllowedPattern"], WORKSPACE_ID_PATTERN, name)
            for parameter in ("AgentArtifactBucket", "AgentArtifactKey"):
                self.assertIn(str(parameters[parameter]["Default"]), portfolio_parameters, f"{name}: {parameter} is written by portfolio.yaml")
            data = resources(product, "AWS::EC2::LaunchTemplate")["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
            self.assertEqual(data["IamInstanceProfile"], {"Name": {"Fn::Sub": "atelier-${WorkspaceId}"}}, name)
            self.assertEqual(data["MetadataOptions"]["InstanceMetadataTags"], "enabled", name)
            self.assertEqual(data["MetadataOptions"]["HttpTokens"], "required", name)
            tags = resources(product, "AWS::EC2::Instance")["Instance"]["Properties"]["Tags"]
            self.assertIn({"Key": "atelier:workspace", "Value": {"Ref": "WorkspaceId"}}, tags, name)
            script = user_data(product)
            self.assertRegex(script, r"aws s3 cp \S+ /usr/local/bin/atelier-agent\n", name)
            self.assertIn("chmod 755 /usr/local/bin/atelier-agent", script, name)
            unit = script[script.index("/etc/systemd/system/atelier-agent.service"):]
            unit = unit[: unit.index("\nEOF")]
            for line in ("Restart=always", "KillMode=process", "After=network-online.target", "Environment=ATELIER_AGENT_DATA_ROOT=/data", "ExecStart=/usr/local/bin/atelier-agent"):
                self.assertIn(line, unit.splitlines(), f"{name}: atelier-agent.service needs {line}")
            self.assertNotRegex(unit, r"(?m)^User=", f"{name}: the agent runs as root (FUSE mounts)")
            self.assertIn("systemctl enable --now atelier-agent.service", script, name)
            # Mountpoint stays installed for the agent, and nothing else mounts a bucket.
            for line in script.splitlines():
                if "mount-s3" in line and not line.strip().startswith("#"):
                    self.assertRegex(line.strip(), r"^(fetch mount-s3 |dnf install -y /tmp/mount-s3\.rpm)", f"{name}: {line.strip()}")
            for mount in ("atelier-mount@", "s3fs", "goofys", "mount -t"):
                self.assertNotIn(mount, script, name)
            self.assertEqual(resources(product, "AWS::IAM::Role") | resources(product, "AWS::IAM::InstanceProfile"), {}, f"{name} creates no IAM")

    def test_the_launch_role_passes_only_workspace_roles_and_creates_no_iam(self) -> None:
        self.assertEqual(list(resources(PORTFOLIO, "AWS::IAM::Role")), ["LaunchRole"], "the shared workspace role is gone")
        self.assertEqual(resources(PORTFOLIO, "AWS::IAM::InstanceProfile"), {})
        launch = [p for p in identity_policies(PORTFOLIO) if p.resource == "LaunchRole"]
        passes = 0
        for policy in launch:
            for s in policy.statements():
                for a in actions(s):
                    self.assertFalse(a == "*" or fnmatchcase("iam:createrole", a.lower()), f"{policy} {s.get('Sid')}: {a}")
                    if a.lower().startswith("iam:"):
                        self.assertEqual(a, "iam:PassRole", f"{policy} {s.get('Sid')}: the launch role's only IAM action is PassRole")
                if grants(s, "iam:PassRole"):
                    passes += 1
                    self.assertEqual(as_list(s["Resource"]), [WORKSPACE_ROLES], f"{policy} {s.get('Sid')}")
                    self.assertEqual(s["Condition"], {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}})
        self.assertEqual(passes, 1)

    # ---------------------------------------------------------------- the functions' IAM
    def test_every_iam_grant_to_the_functions_is_bounded(self) -> None:
        roles = {role: fn for fn, role in function_roles().items()}
        problems = []
        for policy in identity_policies(TEMPLATE):
            attached = [as_list(r.get("Ref"))[0] for r in policy.roles if isinstance(r, dict) and "Ref" in r]
            to_function = any(r in roles for r in attached)
            for s in policy.statements():
                iam = [a for a in actions(s) if a.lower().startswith("iam:") or a == "*"]
                if not iam or s.get("Effect") != "Allow":
                    continue
                where = f"{policy} {s.get('Sid')}"
                if not to_function:
                    if policy.resource not in ("WorkspaceRolePolicy", "WorkspaceRoleBoundary"):
                        problems.append(f"{where}: IAM actions for a role that is not a function's")
                    continue
                condition = s.get("Condition") or {}
                for a in iam:
                    if a not in FUNCTION_IAM_ACTIONS:
                        problems.append(f"{where}: {a} is not one of the workspace-role actions")
                if "iam:CreateRole" in iam and (condition.get("StringEquals") or {}).get("iam:PermissionsBoundary") != BOUNDARY:
                    problems.append(f"{where}: iam:CreateRole without iam:PermissionsBoundary = WorkspaceRoleBoundary")
                for a in ("iam:AttachRolePolicy", "iam:DetachRolePolicy"):
                    if a in iam and (condition.get("ArnEquals") or {}).get("iam:PolicyARN") != ROLE_POLICY:
                        problems.append(f"{where}: {a} without iam:PolicyARN = WorkspaceRolePolicy")
                for a in ("iam:AttachRolePolicy", "iam:PutRolePolicy"):
                    if a in iam and (condition.get("StringEquals") or {}).get("iam:PermissionsBoundary") != BOUNDARY:
                        problems.append(f"{where}: {a} on a role without the boundary")
                if "iam:PassRole" in iam and condition != {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}:
                    problems.append(f"{where}: iam:PassRole to anything but EC2")
                if iam == ["iam:ListRoles"] and s.get("Resource") == "*":
                    continue  # no resource-level permissions
                for r in as_list(s.get("Resource")):
                    if r not in (WORKSPACE_ROLES, WORKSPACE_PROFILES):
                        problems.append(f"{where}: resource {r} is outside /atelier/workspaces/")
        self.assertEqual(problems, [])
        # The provisioning grants reach exactly the two functions that provision.
        provision = next(p for p in identity_policies(TEMPLATE) if p.resource == "ProvisionWorkspaceRoles")
        self.assertEqual(sorted(r["Ref"] for r in provision.roles), ["StateSyncRole", "WorkspacesApiRole"])

    def test_the_functions_get_the_boundary_and_policy_arns(self) -> None:
        functions = resources(TEMPLATE, "AWS::Serverless::Function")
        for logical_id in ("WorkspacesApiFunction", "StateSyncFunction"):
            variables = functions[logical_id]["Properties"]["Environment"]["Variables"]
            self.assertEqual(variables["ATELIER_WORKSPACE_ROLE_BOUNDARY"], BOUNDARY, logical_id)
            self.assertEqual(variables["ATELIER_WORKSPACE_ROLE_POLICY"], ROLE_POLICY, logical_id)

    def test_only_the_scheduler_sends_mail_and_only_from_the_notification_sender(self) -> None:
        senders = [
            (p, s) for p in identity_policies(TEMPLATE) for s in p.statements() if any(a.startswith("ses:") for a in actions(s))
        ]
        self.assertTrue(senders, "the budget watch sends its e-mail through SES")
        for policy, s in senders:
            where = f"{policy} {s.get('Sid')}"
            self.assertEqual(policy.resource, "SchedulerRole", where)
            self.assertEqual(actions(s), ["ses:SendEmail"], where)
            self.assertEqual(s["Condition"], {"StringEquals": {"ses:FromAddress": {"Ref": "NotificationSender"}}}, where)
            for resource in as_list(s["Resource"]):
                self.assertTrue(references(resource, "NotificationSender"), f"{where}: {resource} is not the sender's identity")
                self.assertIn(":identity/", text(resource), where)

    def test_state_sync_no_longer_touches_datasets(self) -> None:
        state_sync = [p for p in identity_policies(TEMPLATE) if p.resource == "StateSyncRole"]
        for policy in state_sync:
            for s in policy.statements():
                for a in ("cognito-idp:AdminListGroupsForUser", "dynamodb:DeleteItem", "ec2:DeleteTags", "ec2:DescribeTags"):
                    self.assertFalse(grants(s, a), f"{policy} {s.get('Sid')}: {a} belongs to data-access")

    # ---------------------------------------------------------------- Session Manager
    def test_sessions_only_for_the_workspace_owner(self) -> None:
        session = next(p for p in identity_policies(PORTFOLIO) if p.resource == "SessionManagerPolicy")
        starts = [s for s in session.statements() if grants(s, "ssm:StartSession")]
        self.assertTrue(starts)
        for s in starts:
            where = f"{session} {s.get('Sid')}"
            self.assertEqual(s["Condition"].get("BoolIfExists"), {"ssm:SessionDocumentAccessCheck": "true"}, f"{where}: document access check")
            resource = as_list(s["Resource"])
            if resource == [{"Fn::Sub": "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*"}]:
                self.assertEqual(s["Condition"]["StringEquals"], {"ssm:resourceTag/atelier:owner": "${aws:PrincipalTag/atelier:owner}"}, where)
            else:
                self.assertEqual(resource, [{"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}::document/AWS-StartPortForwardingSession"}], where)
        ends = [s for s in session.statements() if grants(s, "ssm:TerminateSession") or grants(s, "ssm:ResumeSession")]
        self.assertTrue(ends)
        for s in ends:
            self.assertEqual(s["Condition"], {"StringEquals": {"ssm:resourceTag/aws:ssmmessages:session-id": "${aws:userid}"}}, str(s.get("Sid")))
        for path in ALL_TEMPLATES:
            for policy in identity_policies(path):
                if policy.resource != "SessionManagerPolicy":
                    for s in policy.statements():
                        self.assertFalse(grants(s, "ssm:StartSession"), f"{policy} {s.get('Sid')}")

    # ---------------------------------------------------------------- alarms
    def test_every_function_has_errors_and_throttles_alarms(self) -> None:
        alarms = resources(TEMPLATE, "AWS::CloudWatch::Alarm").values()
        for logical_id in resources(TEMPLATE, "AWS::Serverless::Function"):
            for metric in ("Errors", "Throttles"):
                found = [a for a in alarms if a["Properties"].get("Namespace") == "AWS/Lambda" and a["Properties"].get("MetricName") == metric
                         and a["Properties"].get("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": logical_id}}]]
                self.assertEqual(len(found), 1, f"{logical_id} needs one {metric} alarm")
                self.assertEqual(found[0]["Properties"]["AlarmActions"], [{"Ref": "AlarmTopicArn"}])

    def test_the_revocation_failures_alarm_watches_data_access(self) -> None:
        found = [a["Properties"] for a in resources(TEMPLATE, "AWS::CloudWatch::Alarm").values() if a["Properties"].get("MetricName") == "RevocationFailures"]
        self.assertEqual(len(found), 1)
        alarm = found[0]
        self.assertEqual(alarm["Namespace"], "Atelier")
        self.assertEqual(alarm["Dimensions"], [{"Name": "Function", "Value": "data-access"}])
        self.assertEqual((alarm["Statistic"], alarm["Period"], alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]),
                         ("Sum", 300, 1, "GreaterThanOrEqualToThreshold", "notBreaching"))
        self.assertEqual(alarm["AlarmActions"], [{"Ref": "AlarmTopicArn"}])
        data_access = resources(TEMPLATE, "AWS::Serverless::Function")["DataAccessFunction"]["Properties"]
        self.assertEqual(data_access["CodeUri"], "../build/lambda/data-access/bootstrap.zip", "the Function dimension names this binary")


if __name__ == "__main__":
    unittest.main()
