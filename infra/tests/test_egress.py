"""Static checks of the VPC's routes: only the gateway goes out (issue 17, Cognito).

Run by `make infra-lint`. The platform's user pool has a domain, which AWS documents as
incompatible with PrivateLink, so the gateway calls Cognito's public endpoints through a NAT
gateway. Nothing else may: one test per rule, each naming the resource that breaks it.
  - every subnet of network.yaml is a workspace, gateway or public subnet (a new subnet must be
    classified here before it passes);
  - no route table associated with a workspace subnet has a 0.0.0.0/0 or ::/0 route, nor any
    route of its own (the local route and the gateway endpoints' prefix lists are implicit);
  - the only route tables with a route to a NAT gateway are the gateway subnets', each with its
    default route there; the only one with a route to the internet gateway is the public
    subnets'; no subnet gets a public IP on launch;
  - the S3 and DynamoDB gateway endpoints serve the gateway route tables too (so ECR layers and
    table calls never take the NAT);
  - the gateway service and its ALB run in the gateway subnets;
  - no product template, and no workspace setting, references the public or gateway subnets.
"""

from __future__ import annotations

import unittest
from pathlib import Path
from typing import Any, Iterator

from cfn import load, resources

INFRA = Path(__file__).resolve().parents[1]
TEMPLATE = INFRA / "template.yaml"
NETWORK = INFRA / "network.yaml"
PRODUCTS = sorted((INFRA / "products").glob("*.yaml"))

WORKSPACE_SUBNETS = {"SubnetA", "SubnetB"}
GATEWAY_SUBNETS = {"GatewaySubnetA", "GatewaySubnetB"}
PUBLIC_SUBNETS = {"PublicSubnetA", "PublicSubnetB"}
DEFAULT_ROUTES = {"0.0.0.0/0", "::/0"}
# Every target an AWS::EC2::Route can name besides the NAT gateway (all of them leave the VPC or
# go through an appliance: none belongs on a workspace table).
ROUTE_TARGETS = ("GatewayId", "NatGatewayId", "EgressOnlyInternetGatewayId", "TransitGatewayId", "VpcPeeringConnectionId",
                 "InstanceId", "NetworkInterfaceId", "VpcEndpointId", "CarrierGatewayId", "LocalGatewayId", "CoreNetworkArn")

def refs(value: Any) -> Iterator[str]:
    """Every logical id `value` names (Ref, GetAtt, inside Fn::If, Fn::Join, ...)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                yield inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
            else:
                yield from refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from refs(inner)


def tables_of(subnets: set[str]) -> set[str]:
    """The route tables associated with any of `subnets`."""
    return {next(refs(a["Properties"]["RouteTableId"])) for a in resources(NETWORK, "AWS::EC2::SubnetRouteTableAssociation").values()
            if set(refs(a["Properties"]["SubnetId"])) & subnets}


def routes() -> dict[str, dict]:
    return {k: v["Properties"] for k, v in resources(NETWORK, "AWS::EC2::Route").items()}


def destination(route: dict) -> str | None:
    return route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock") or route.get("DestinationPrefixListId")


def ssm_values() -> dict[str, set[str]]:
    """SSM parameter name -> the logical ids its value names (what the other templates read)."""
    return {str(p["Properties"]["Name"]): set(refs(p["Properties"]["Value"])) for p in resources(NETWORK, "AWS::SSM::Parameter").values()}


class RoutesTest(unittest.TestCase):
    maxDiff = None

    def test_every_subnet_is_classified(self) -> None:
        subnets = resources(NETWORK, "AWS::EC2::Subnet")
        self.assertEqual(set(subnets), WORKSPACE_SUBNETS | GATEWAY_SUBNETS | PUBLIC_SUBNETS)
        for logical_id, subnet in subnets.items():
            self.assertIs(subnet["Properties"]["MapPublicIpOnLaunch"], False, f"{logical_id}: no public IP on launch")
        # Each subnet has exactly one explicit association (none falls back to the main table).
        associations = [next(refs(a["Properties"]["SubnetId"])) for a in resources(NETWORK, "AWS::EC2::SubnetRouteTableAssociation").values()]
        self.assertEqual(sorted(associations), sorted(subnets), "one route table association per subnet")
        self.assertEqual(resources(NETWORK, "AWS::EC2::SubnetNetworkAclAssociation"), {}, "no network ACLs (the security groups decide)")

    def test_no_workspace_route_table_has_a_default_route_or_any_route_out(self) -> None:
        workspace_tables = tables_of(WORKSPACE_SUBNETS)
        self.assertTrue(workspace_tables)
        self.assertFalse(workspace_tables & (tables_of(GATEWAY_SUBNETS) | tables_of(PUBLIC_SUBNETS)), "workspace subnets share no table")
        problems = []
        for logical_id, route in routes().items():
            if set(refs(route["RouteTableId"])) & workspace_tables:
                kind = "a default route" if destination(route) in DEFAULT_ROUTES else "a route"
                targets = [t for t in ROUTE_TARGETS if t in route]
                problems.append(f"{logical_id}: {kind} to {destination(route)} via {targets} on a workspace subnet's table")
        self.assertEqual(problems, [])

    def test_only_the_gateway_subnets_route_to_a_nat_gateway(self) -> None:
        gateway_tables = tables_of(GATEWAY_SUBNETS)
        self.assertEqual(len(gateway_tables), 2, "one table per gateway subnet (per-az NAT)")
        nats = set(resources(NETWORK, "AWS::EC2::NatGateway"))
        self.assertTrue(nats)
        with_nat = {}
        for logical_id, route in routes().items():
            if "NatGatewayId" in route:
                self.assertLessEqual(set(refs(route["NatGatewayId"])), nats, logical_id)
                with_nat.setdefault(next(refs(route["RouteTableId"])), []).append(destination(route))
        self.assertEqual(set(with_nat), gateway_tables, "the only route tables with a route to a NAT are the gateway subnets'")
        for table, destinations in with_nat.items():
            self.assertEqual(destinations, ["0.0.0.0/0"], f"{table}: its default route, and only that, goes to the NAT")
        for logical_id, nat in resources(NETWORK, "AWS::EC2::NatGateway").items():
            self.assertLessEqual(set(refs(nat["Properties"]["SubnetId"])), PUBLIC_SUBNETS, f"{logical_id}: in a public subnet")

    def test_only_the_public_subnets_route_to_the_internet_gateway(self) -> None:
        public_tables = tables_of(PUBLIC_SUBNETS)
        gateways = set(resources(NETWORK, "AWS::EC2::InternetGateway"))
        self.assertEqual(len(gateways), 1)
        with_igw = {next(refs(r["RouteTableId"])): destination(r) for r in routes().values() if set(refs(r.get("GatewayId"))) & gateways}
        self.assertEqual(with_igw, {table: "0.0.0.0/0" for table in public_tables})
        self.assertEqual(resources(NETWORK, "AWS::EC2::EgressOnlyInternetGateway"), {})
        self.assertEqual(resources(NETWORK, "AWS::EC2::SubnetCidrBlock"), {}, "no IPv6 (no ::/0 path to reason about)")

    def test_the_gateway_endpoints_serve_the_gateway_subnets(self) -> None:
        wanted = tables_of(WORKSPACE_SUBNETS) | tables_of(GATEWAY_SUBNETS)
        for logical_id, endpoint in resources(NETWORK, "AWS::EC2::VPCEndpoint").items():
            props = endpoint["Properties"]
            if props.get("VpcEndpointType") == "Gateway":
                self.assertEqual(set(refs(props["RouteTableIds"])), wanted, f"{logical_id}: S3/DynamoDB from the gateway stay off the NAT")


class PlacementTest(unittest.TestCase):
    maxDiff = None

    def test_the_gateway_service_and_its_alb_run_in_the_gateway_subnets(self) -> None:
        parameters = load(TEMPLATE)["Parameters"]
        self.assertEqual(ssm_values()[parameters["GatewaySubnetIds"]["Default"]], GATEWAY_SUBNETS)
        service = resources(TEMPLATE, "AWS::ECS::Service")["GatewayService"]["Properties"]
        self.assertEqual(service["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"], {"Ref": "GatewaySubnetIds"})
        (balancer,) = resources(TEMPLATE, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
        self.assertEqual(balancer["Properties"]["Subnets"], {"Ref": "GatewaySubnetIds"})

    def test_no_workspace_can_be_placed_in_a_gateway_or_public_subnet(self) -> None:
        values = ssm_values()
        routed = GATEWAY_SUBNETS | PUBLIC_SUBNETS
        routed_names = {name for name, ids in values.items() if ids & routed}
        self.assertEqual(routed_names, {"/atelier/network/gateway-subnet-ids"})
        # What the products and ec2-launch read as the workspace subnet is a workspace subnet.
        self.assertLessEqual(values["/atelier/network/workspace-subnet-id"], WORKSPACE_SUBNETS)
        for product in PRODUCTS:
            text = product.read_text()
            for name in routed_names:
                self.assertNotIn(name, text, f"{product.name} references the gateway subnets")
            for logical_id in routed:
                self.assertNotIn(logical_id, text, f"{product.name} names {logical_id}")
            for parameter_id, parameter in (load(product).get("Parameters") or {}).items():
                if "Subnet" in str(parameter.get("Type")):
                    self.assertLessEqual(values.get(str(parameter.get("Default")), {"?"}), WORKSPACE_SUBNETS, f"{product.name} {parameter_id}")
        # The platform's own workspace subnet (ec2-launch) is given by hand, never from these.
        workspace_subnet = load(TEMPLATE)["Parameters"]["WorkspaceSubnetId"]
        self.assertNotIn(str(workspace_subnet.get("Default")), routed_names)
        # Only the gateway service reads the gateway subnets in the platform template.
        readers = {k for k, v in load(TEMPLATE)["Resources"].items() if "GatewaySubnetIds" in set(refs(v.get("Properties")))}
        self.assertEqual(readers, {"GatewayService", "GatewayLoadBalancer"})


if __name__ == "__main__":
    unittest.main()
