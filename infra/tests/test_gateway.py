"""Static checks of the workspace gateway's path (issue 17), read from the templates.

Run by `make infra-lint`. One test per rule:
  - the workspace security group has exactly one ingress rule: TCP 8443 from the gateway's group,
    and every product puts its instance in that group and creates no group of its own;
  - no security group in any template admits 0.0.0.0/0 (or ::/0);
  - the ALB is internal, listens on HTTPS only with the TLS 1.3 policy, drops invalid headers,
    logs its requests and keeps WebSockets an hour; its group admits only the corporate CIDR
    on 443, the gateway's only the ALB on 8080, and the gateway reaches only the guards (8443),
    the AWS endpoints (443) and HTTPS out (Cognito's public endpoints, through its NAT gateway;
    where that can go is held by test_egress.py);
  - the gateway tasks have no public IP, a read-only root filesystem and a non-root user;
  - every product writes the gateway's public key, binds JupyterLab and RStudio to 127.0.0.1
    and starts the guard on 8443; the portfolio pins the key and the group.
(The container's environment against settings.rs is in test_drift.py.)
"""

from __future__ import annotations

import re
import unittest
from pathlib import Path
from typing import Any

from cfn import load, resources, text

INFRA = Path(__file__).resolve().parents[1]
TEMPLATE = INFRA / "template.yaml"
NETWORK = INFRA / "network.yaml"
PORTFOLIO = INFRA / "products" / "portfolio.yaml"
PRODUCTS = sorted((INFRA / "products").glob("workstation-*.yaml"))
ALL_TEMPLATES = sorted(INFRA.glob("*.yaml")) + sorted((INFRA / "products").glob("*.yaml"))

WORKSPACE_SG, GATEWAY_SG, ALB_SG, ENDPOINT_SG = "WorkspaceSecurityGroup", "GatewaySecurityGroup", "GatewayAlbSecurityGroup", "EndpointSecurityGroup"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def rules(path: Path, group: str, direction: str) -> list[dict]:
    """Every ingress or egress rule of `group` in `path`: inline, and separate
    AWS::EC2::SecurityGroupIngress/Egress resources whose GroupId is the group."""
    key = "SecurityGroupIngress" if direction == "ingress" else "SecurityGroupEgress"
    props = load(path)["Resources"][group]["Properties"]
    out = list(props.get(key) or [])
    for resource in resources(path, f"AWS::EC2::{key}").values():
        if ref(resource["Properties"].get("GroupId")) == group:
            out.append(resource["Properties"])
    return out


def shape(rule: dict) -> tuple:
    """(protocol, from, to, peer) of a rule; the peer is a CIDR, a group or a prefix list."""
    keys = ("CidrIp", "CidrIpv6", "SourceSecurityGroupId", "DestinationSecurityGroupId", "SourcePrefixListId", "DestinationPrefixListId")
    peer = next((rule[k] for k in keys if k in rule), None)
    return (str(rule.get("IpProtocol")), int(rule.get("FromPort", -1)), int(rule.get("ToPort", -1)), ref(peer) or peer)


class GatewayNetworkTest(unittest.TestCase):
    maxDiff = None

    def test_the_workspace_group_admits_the_gateway_on_8443_only(self) -> None:
        ingress = rules(NETWORK, WORKSPACE_SG, "ingress")
        self.assertEqual([shape(r) for r in ingress], [("tcp", 8443, 8443, GATEWAY_SG)], "exactly one ingress rule")
        parameter = next(p for p in resources(NETWORK, "AWS::SSM::Parameter").values() if ref(p["Properties"]["Value"]) == WORKSPACE_SG)
        name = parameter["Properties"]["Name"]
        for product in PRODUCTS:
            self.assertEqual(resources(product, "AWS::EC2::SecurityGroup"), {}, f"{product.name}: no group of its own")
            self.assertEqual(resources(product, "AWS::EC2::SecurityGroupIngress"), {}, product.name)
            parameters = load(product)["Parameters"]
            self.assertEqual(parameters["WorkspaceSecurityGroupId"]["Default"], name, product.name)
            self.assertEqual(parameters["WorkspaceSecurityGroupId"]["AllowedValues"], [name], f"{product.name}: pinned")
            for instance in resources(product, "AWS::EC2::Instance").values():
                for interface in instance["Properties"]["NetworkInterfaces"]:
                    self.assertEqual(interface["GroupSet"], [{"Ref": "WorkspaceSecurityGroupId"}], product.name)
                    self.assertFalse(interface["AssociatePublicIpAddress"], product.name)

    def test_no_security_group_admits_the_internet(self) -> None:
        problems = []
        for path in ALL_TEMPLATES:
            for logical_id, resource in load(path)["Resources"].items():
                kind = resource.get("Type")
                props = resource.get("Properties") or {}
                found = []
                if kind == "AWS::EC2::SecurityGroup":
                    found = props.get("SecurityGroupIngress") or []
                elif kind == "AWS::EC2::SecurityGroupIngress":
                    found = [props]
                for rule in found:
                    if rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0":
                        problems.append(f"{path.name} {logical_id}: ingress from {rule.get('CidrIp') or rule.get('CidrIpv6')}")
        self.assertEqual(problems, [])
        # The corporate range is a parameter: the template refuses the whole internet.
        corporate = load(NETWORK)["Rules"]["CorporateNetworkOnly"]["Assertions"][0]["Assert"]
        self.assertEqual(corporate, {"Fn::Not": [{"Fn::Equals": [{"Ref": "CorporateCidr"}, "0.0.0.0/0"]}]})

    def test_only_the_corporate_network_reaches_the_alb_and_only_the_alb_the_gateway(self) -> None:
        self.assertEqual([shape(r) for r in rules(NETWORK, ALB_SG, "ingress")], [("tcp", 443, 443, "CorporateCidr")])
        self.assertEqual([shape(r) for r in rules(NETWORK, ALB_SG, "egress")], [("tcp", 8080, 8080, GATEWAY_SG)])
        self.assertEqual([shape(r) for r in rules(NETWORK, GATEWAY_SG, "ingress")], [("tcp", 8080, 8080, ALB_SG)])
        self.assertEqual(sorted(shape(r) for r in rules(NETWORK, GATEWAY_SG, "egress")), sorted([
            ("tcp", 443, 443, ENDPOINT_SG),
            ("tcp", 443, 443, "S3PrefixListId"),
            ("tcp", 443, 443, "DynamoDbPrefixListId"),
            ("tcp", 8443, 8443, WORKSPACE_SG),
            ("tcp", 443, 443, "0.0.0.0/0"),
        ]), "the gateway reaches the guards, the AWS endpoints and (HTTPS, through its NAT gateway) Cognito, nothing else")
        # The platform stack uses exactly these groups (SSM parameters written by network.yaml).
        written = {str(p["Properties"]["Name"]): ref(p["Properties"]["Value"]) for p in resources(NETWORK, "AWS::SSM::Parameter").values()}
        parameters = load(TEMPLATE)["Parameters"]
        self.assertEqual(written[parameters["GatewaySecurityGroupId"]["Default"]], GATEWAY_SG)
        self.assertEqual(written[parameters["GatewayAlbSecurityGroupId"]["Default"]], ALB_SG)


class GatewayServiceTest(unittest.TestCase):
    maxDiff = None

    def test_the_alb_is_internal_and_https_only_with_tls_13(self) -> None:
        balancers = resources(TEMPLATE, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        self.assertEqual(list(balancers), ["GatewayLoadBalancer"])
        props = balancers["GatewayLoadBalancer"]["Properties"]
        self.assertEqual(props["Scheme"], "internal")
        self.assertEqual(props["SecurityGroups"], [{"Ref": "GatewayAlbSecurityGroupId"}])
        attributes = {a["Key"]: a["Value"] for a in props["LoadBalancerAttributes"]}
        self.assertEqual(attributes["routing.http.drop_invalid_header_fields.enabled"], "true")
        self.assertEqual(attributes["idle_timeout.timeout_seconds"], "3600")
        self.assertEqual(attributes["deletion_protection.enabled"], "true")
        self.assertEqual(attributes["access_logs.s3.enabled"], "true")
        listeners = resources(TEMPLATE, "AWS::ElasticLoadBalancingV2::Listener")
        self.assertTrue(listeners)
        for logical_id, listener in listeners.items():
            self.assertEqual(ref(listener["Properties"]["LoadBalancerArn"]), "GatewayLoadBalancer", logical_id)
            self.assertEqual((listener["Properties"]["Protocol"], listener["Properties"]["Port"]), ("HTTPS", 443), f"{logical_id}: HTTPS only")
            self.assertEqual(listener["Properties"]["SslPolicy"], TLS_POLICY, logical_id)
        for logical_id, group in resources(TEMPLATE, "AWS::ElasticLoadBalancingV2::TargetGroup").items():
            props = group["Properties"]
            self.assertEqual((props["TargetType"], props["Port"], props["HealthCheckPath"]), ("ip", 8080, "/_atelier/health"), logical_id)
            attributes = {a["Key"]: a["Value"] for a in props["TargetGroupAttributes"]}
            self.assertEqual(attributes, {
                "deregistration_delay.timeout_seconds": "30",
                "stickiness.enabled": "true",
                "stickiness.type": "lb_cookie",
                "stickiness.lb_cookie.duration_seconds": "36000",
            }, logical_id)

    def test_the_gateway_tasks_have_no_public_ip_and_run_locked_down(self) -> None:
        services = resources(TEMPLATE, "AWS::ECS::Service")
        self.assertEqual(list(services), ["GatewayService"])
        props = services["GatewayService"]["Properties"]
        network = props["NetworkConfiguration"]["AwsvpcConfiguration"]
        self.assertEqual(network["AssignPublicIp"], "DISABLED")
        self.assertEqual(network["SecurityGroups"], [{"Ref": "GatewaySecurityGroupId"}])
        self.assertEqual(props["LaunchType"], "FARGATE")
        self.assertEqual(props["DeploymentConfiguration"]["DeploymentCircuitBreaker"], {"Enable": True, "Rollback": True})
        task = resources(TEMPLATE, "AWS::ECS::TaskDefinition")["GatewayTaskDefinition"]["Properties"]
        (container,) = task["ContainerDefinitions"]
        self.assertTrue(container["ReadonlyRootFilesystem"])
        self.assertNotIn(str(container.get("User", "root")).split(":")[0], ("root", "0", ""), "a non-root user")
        self.assertNotIn("Privileged", container)
        self.assertEqual(container["PortMappings"][0]["ContainerPort"], 8080)
        environment = {e["Name"]: e["Value"] for e in container["Environment"]}
        self.assertEqual(environment["ATELIER_GATEWAY_BIND"], "0.0.0.0:8080")
        self.assertEqual(environment["ATELIER_GATEWAY_GUARD_PORT"], "8443")

    def test_the_gateway_has_its_alarms(self) -> None:
        alarms = [a["Properties"] for a in resources(TEMPLATE, "AWS::CloudWatch::Alarm").values()]
        metrics = {(a.get("Namespace"), a.get("MetricName")) for a in alarms}
        for metric in (("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"), ("AWS/ApplicationELB", "UnHealthyHostCount"), ("ECS/ContainerInsights", "RunningTaskCount")):
            self.assertIn(metric, metrics)
        running = next(a for a in alarms if a.get("MetricName") == "RunningTaskCount")
        self.assertEqual((running["Threshold"], running["ComparisonOperator"]), ({"Ref": "GatewayDesiredCount"}, "LessThanThreshold"))
        for a in alarms:
            self.assertEqual(a["AlarmActions"], [{"Ref": "AlarmTopicArn"}], a.get("MetricName") or a["AlarmDescription"])


def csp_directives(name: str) -> list[list[str]]:
    """The sources of directive `name` in each of the portal's content security policies
    (there is at least one)."""
    policies = resources(TEMPLATE, "AWS::CloudFront::ResponseHeadersPolicy").values()
    csps = [
        text(p["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"])
        for p in policies
    ]
    assert csps, "the portal has a content security policy"
    return [next(d for d in csp.split(";") if d.strip().startswith(name)).split()[1:] for csp in csps]


class PortalOpensAppsTest(unittest.TestCase):
    def test_the_portal_may_post_its_forms_to_cognito_and_the_gateway_only(self) -> None:
        # "Open JupyterLab" posts a form to https://<GatewayDomainName>/w/<id>/<app>/_atelier/session:
        # a CSP without the gateway in form-action would block every click in AWS.
        for form_action in csp_directives("form-action"):
            self.assertEqual(
                form_action,
                ["'self'", "https://${CognitoDomainPrefix}.auth.${AWS::Region}.amazoncognito.com", "https://${GatewayDomainName}"],
            )

    def test_the_portal_may_call_this_deployments_api_and_cognito_only(self) -> None:
        # No wildcard: a script that got into the page must not reach another API Gateway of
        # the region (an attacker's, to send tokens to) any more than any other host.
        for connect in csp_directives("connect-src"):
            self.assertEqual(
                connect,
                [
                    "'self'",
                    "https://cognito-idp.${AWS::Region}.amazonaws.com",
                    "https://${CognitoDomainPrefix}.auth.${AWS::Region}.amazoncognito.com",
                    "https://${ApiDomainName}",
                ],
            )

    def test_the_api_answers_at_its_own_name_only(self) -> None:
        # The CSP names ApiDomainName: the API must be served there, and nowhere else.
        template = load(TEMPLATE)
        api = template["Resources"]["HttpApi"]["Properties"]
        self.assertIs(api["DisableExecuteApiEndpoint"], True)
        domain = resources(TEMPLATE, "AWS::ApiGatewayV2::DomainName")["ApiDomain"]["Properties"]
        self.assertEqual(domain["DomainName"], {"Ref": "ApiDomainName"})
        self.assertEqual(
            domain["DomainNameConfigurations"],
            [{"CertificateArn": {"Ref": "ApiCertificateArn"}, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}],
        )
        mapping = resources(TEMPLATE, "AWS::ApiGatewayV2::ApiMapping")["ApiDomainMapping"]["Properties"]
        self.assertEqual((mapping["ApiId"], mapping["DomainName"]), ({"Ref": "HttpApi"}, {"Ref": "ApiDomain"}))
        self.assertEqual(template["Outputs"]["ApiUrl"]["Value"], {"Fn::Sub": "https://${ApiDomainName}"})


class GatewayProductsTest(unittest.TestCase):
    def script(self, product: Path) -> str:
        template = resources(product, "AWS::EC2::LaunchTemplate")["LaunchTemplate"]
        sub = template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]

    def unit(self, script: str, name: str) -> list[str]:
        start = script.index(f"/etc/systemd/system/{name}")
        return script[start: script.index("\nEOF", start)].splitlines()

    def test_every_product_trusts_the_gateway_key_and_keeps_the_apps_on_loopback(self) -> None:
        written = {str(p["Properties"]["Name"]): p["Properties"]["Value"] for p in resources(PORTFOLIO, "AWS::SSM::Parameter").values()}
        self.assertEqual(written["/atelier/workspaces/gateway-public-key"], {"Ref": "GatewayPublicKey"})
        self.assertEqual(len(PRODUCTS), 2)
        for product in PRODUCTS:
            name = product.name
            key = load(product)["Parameters"]["GatewayPublicKey"]
            pinned = ("/atelier/workspaces/gateway-public-key", ["/atelier/workspaces/gateway-public-key"])
            self.assertEqual((key["Default"], key["AllowedValues"]), pinned, f"{name}: pinned")
            script = self.script(product)
            self.assertRegex(script, r"cat > /etc/atelier/gateway\.pub <<'EOF'\n\$\{GatewayPublicKey\}\nEOF\n", name)
            self.assertIn("chmod 0644 /etc/atelier/gateway.pub", script, name)
            agent = self.unit(script, "atelier-agent.service")
            for line in ("Environment=ATELIER_AGENT_GUARD_BIND=0.0.0.0:8443", "Environment=ATELIER_AGENT_GATEWAY_KEY_FILE=/etc/atelier/gateway.pub",
                         "Environment=ATELIER_AGENT_APPS=jupyterlab=8888,rstudio=8787"):
                self.assertIn(line, agent, name)
            jupyterlab = self.unit(script, "jupyterlab.service")
            jupyter = [line for line in jupyterlab if line.startswith("ExecStart=")]
            self.assertEqual(len(jupyter), 1, name)
            flags = jupyter[0].split()
            # The base URL is the gateway's /w/<workspace id>/jupyterlab/: the id comes from the
            # instance's atelier:workspace tag (one script for every product and ec2-launch),
            # written to workspace.env, which systemd expands (the Sub's ${!…} is a literal ${…}).
            self.assertIn("EnvironmentFile=/etc/atelier/workspace.env", jupyterlab, name)
            self.assertIn("WORKSPACE_ID=$(imds tags/instance/atelier:workspace)", script, name)
            self.assertIn("printf 'ATELIER_WORKSPACE_ID=%s\\n' \"$WORKSPACE_ID\" > /etc/atelier/workspace.env", script, name)
            self.assertNotIn("${WorkspaceId}", script, f"{name}: the script takes nothing from the product's WorkspaceId")
            for flag in ("--ip=127.0.0.1", "--port=8888", "--no-browser", "--ServerApp.base_url=/w/${!ATELIER_WORKSPACE_ID}/jupyterlab/",
                         "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.allow_remote_access=True"):
                self.assertIn(flag, flags, name)
            self.assertFalse([f for f in flags if re.match(r"--(ServerApp\.)?ip=(?!127\.0\.0\.1$)", f)], f"{name}: Jupyter on loopback only")
            self.assertIn("ipykernel", script, name)
            rstudio = re.search(r"printf '([^']*)' > /etc/rstudio/rserver\.conf", script)
            self.assertIsNotNone(rstudio, name)
            conf = rstudio.group(1).split("\\n")
            self.assertIn("www-address=127.0.0.1", conf, f"{name}: RStudio on loopback only")
            self.assertIn("www-port=8787", conf, name)
            self.assertEqual([c for c in conf if c.startswith("www-address=")], ["www-address=127.0.0.1"], f"{name}: auth-none only on loopback")
            self.assertNotIn("port forwarding", script.lower(), f"{name}: the apps are reached through the gateway")

    def test_the_portfolio_pins_the_key_and_the_group(self) -> None:
        constraints = resources(PORTFOLIO, "AWS::ServiceCatalog::LaunchTemplateConstraint")
        self.assertEqual({ref(c["Properties"]["ProductId"]) for c in constraints.values()}, {"StandardProduct", "MemoryProduct"})
        for logical_id, constraint in constraints.items():
            rules_text = constraint["Properties"]["Rules"]
            self.assertIn('[["/atelier/workspaces/gateway-public-key"], {"Ref": "GatewayPublicKey"}]', rules_text, logical_id)
            self.assertIn('[["/atelier/network/workspace-security-group-id"], {"Ref": "WorkspaceSecurityGroupId"}]', rules_text, logical_id)


if __name__ == "__main__":
    unittest.main()
