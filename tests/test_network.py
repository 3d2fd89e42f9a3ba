"""infra/network.yml: the VPC the pipeline deploys for each environment when network is 'create'.

A few ECS and EC2 answer sets (staging on and off, the longest service name) are rendered once for
the module with the session's other renders, beside one set per target with network 'existing' and
one for Lambda, which get no network stack. The tests read the parsed template: which subnets route
to the internet gateway and which to the NAT gateway, in which Availability Zone, with which
addresses, and what the outputs hand on to the service stack.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from helpers import answer_rules, environments_of, load_cfn, report, resources_of_type

LONGEST_NAME = "a" * (answer_rules.SERVICE_NAME_MAX - 2) + "bc"
EXISTING = dict(network="existing", vpc_id="vpc-0123456789abcdef0",
                public_subnet_ids="subnet-0123456789abcdef0,subnet-0123456789abcdef1",
                private_subnet_ids="subnet-0123456789abcdef2,subnet-0123456789abcdef3")

CREATE: dict[str, dict[str, Any]] = {
    "ecs-staging": dict(target="ecs_fargate", staging=True),
    "ecs-prod-only": dict(target="ecs_fargate", strategy="rolling", staging=False),
    "ec2-in_place": dict(target="ec2", strategy="in_place", staging=False),
    "ec2-blue_green": dict(service_name=LONGEST_NAME, target="ec2", strategy="blue_green", staging=True),
}
NO_NETWORK: dict[str, dict[str, Any]] = {
    "ecs-existing": dict(target="ecs_fargate", **EXISTING),
    "ec2-existing": dict(target="ec2", strategy="in_place", **EXISTING),
    "lambda": dict(target="lambda"),
}
CASES = sorted(CREATE)


def answers_of(case: str) -> dict[str, Any]:
    return {"service_name": "orders", **CREATE.get(case, NO_NETWORK.get(case))}


def render_sets() -> dict[str, dict[str, Any]]:
    """This module's answer sets; conftest renders them once with the session's others."""
    return {case: answers_of(case) for case in [*CREATE, *NO_NETWORK]}


def network_of(renders: dict[str, Path], case: str) -> dict[str, Any]:
    return load_cfn(renders[case] / "infra" / "network.yml")


# --------------------------------------------------------------------------- small predicates


def ref(value: Any) -> str | None:
    """The logical id a {"Ref": ...} names, else None."""
    return value.get("Ref") if isinstance(value, dict) else None


def is_type(template: dict[str, Any], logical_id: str | None, type_name: str) -> bool:
    return logical_id in template["Resources"] and template["Resources"][logical_id]["Type"] == type_name


def route_table_of(template: dict[str, Any]) -> dict[str, str]:
    """{subnet: route table} from the subnet route table associations."""
    return {ref(res["Properties"]["SubnetId"]): ref(res["Properties"]["RouteTableId"])
            for res in resources_of_type(template, "AWS::EC2::SubnetRouteTableAssociation").values()}


def default_routes(template: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The 0.0.0.0/0 routes of one route table."""
    return [res["Properties"] for res in resources_of_type(template, "AWS::EC2::Route").values()
            if ref(res["Properties"]["RouteTableId"]) == table and res["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"]


def egress_of(template: dict[str, Any], subnet: str) -> str:
    """'internet gateway' or 'NAT gateway': where the subnet's one default route leads."""
    routes = default_routes(template, route_table_of(template)[subnet])
    assert len(routes) == 1, (subnet, routes)
    route = routes[0]
    if is_type(template, ref(route.get("GatewayId")), "AWS::EC2::InternetGateway"):
        return "internet gateway"
    if is_type(template, ref(route.get("NatGatewayId")), "AWS::EC2::NatGateway"):
        return "NAT gateway"
    raise AssertionError(f"{subnet}'s default route leads nowhere known: {route}")


def subnets_by_egress(template: dict[str, Any]) -> dict[str, set[str]]:
    """{"public": subnets routed to the internet gateway, "private": subnets routed to the NAT gateway}."""
    kinds = {"internet gateway": "public", "NAT gateway": "private"}
    result: dict[str, set[str]] = {"public": set(), "private": set()}
    for subnet in resources_of_type(template, "AWS::EC2::Subnet"):
        result[kinds[egress_of(template, subnet)]].add(subnet)
    return result


def az_index(template: dict[str, Any], subnet: str) -> int:
    """Which of the region's Availability Zones the subnet takes: !Select [i, !GetAZs ""]."""
    zone = template["Resources"][subnet]["Properties"]["AvailabilityZone"]
    index, zones = zone["Fn::Select"]
    assert zones == {"Fn::GetAZs": ""}, zone
    return int(index)


def default_cidr(template: dict[str, Any]) -> ipaddress.IPv4Network:
    return ipaddress.ip_network(template["Parameters"]["VpcCidr"]["Default"])


def subnet_cidr(template: dict[str, Any], subnet: str) -> ipaddress.IPv4Network:
    """The subnet's block with the VPC's default CIDR, evaluated as !Select [i, !Cidr [block, count, bits]] is."""
    index, cidr = template["Resources"][subnet]["Properties"]["CidrBlock"]["Fn::Select"]
    block, count, bits = cidr["Fn::Cidr"]
    assert ref(block) == "VpcCidr", cidr
    blocks = list(default_cidr(template).subnets(new_prefix=32 - int(bits)))[:int(count)]
    return blocks[int(index)]


def depends_on(resource: dict[str, Any]) -> list[str]:
    value = resource.get("DependsOn", [])
    return [value] if isinstance(value, str) else value


def joined_refs(value: Any) -> list[str]:
    """The logical ids of a !Join [",", [!Ref a, !Ref b, ...]]."""
    delimiter, items = value["Fn::Join"]
    assert delimiter == ",", value
    return [ref(item) for item in items]


# --------------------------------------------------------------------------- which renders have it


def test_network_yml_only_when_the_pipeline_creates_the_network(renders):
    for case, render_dir in renders.items():
        assert (render_dir / "infra" / "network.yml").exists() == (case in CREATE), case


# --------------------------------------------------------------------------- subnets and routes


@pytest.mark.parametrize("case", CASES)
def test_two_public_and_two_private_subnets_in_two_zones(renders, case):
    template = network_of(renders, case)
    kinds = subnets_by_egress(template)
    assert len(kinds["public"]) == 2 and len(kinds["private"]) == 2, kinds
    for kind, subnets in kinds.items():
        assert sorted(az_index(template, subnet) for subnet in subnets) == [0, 1], kind


@pytest.mark.parametrize("case", CASES)
def test_every_subnet_is_in_the_vpc_and_maps_no_public_ip(renders, case):
    template = network_of(renders, case)
    (vpc,) = resources_of_type(template, "AWS::EC2::VPC")
    for subnet, res in resources_of_type(template, "AWS::EC2::Subnet").items():
        assert ref(res["Properties"]["VpcId"]) == vpc, subnet
        assert res["Properties"]["MapPublicIpOnLaunch"] is False, subnet


@pytest.mark.parametrize("case", CASES)
def test_subnet_blocks_lie_in_the_vpc_block_without_overlap(renders, case):
    template = network_of(renders, case)
    vpc_block = default_cidr(template)
    (vpc,) = resources_of_type(template, "AWS::EC2::VPC").values()
    assert ref(vpc["Properties"]["CidrBlock"]) == "VpcCidr"
    assert vpc_block == ipaddress.ip_network("10.0.0.0/16")
    blocks = [subnet_cidr(template, subnet) for subnet in resources_of_type(template, "AWS::EC2::Subnet")]
    assert all(block.subnet_of(vpc_block) for block in blocks), blocks
    assert all(not a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1:]), blocks
    assert all(block.prefixlen in (20, 24) for block in blocks), blocks


@pytest.mark.parametrize("case", CASES)
def test_one_nat_gateway_in_a_public_subnet_with_its_own_address(renders, case):
    template = network_of(renders, case)
    (nat,) = resources_of_type(template, "AWS::EC2::NatGateway").values()
    assert ref(nat["Properties"]["SubnetId"]) in subnets_by_egress(template)["public"]
    address, attribute = nat["Properties"]["AllocationId"]["Fn::GetAtt"]
    assert is_type(template, address, "AWS::EC2::EIP") and attribute == "AllocationId"
    assert template["Resources"][address]["Properties"]["Domain"] == "vpc"


@pytest.mark.parametrize("case", CASES)
def test_the_internet_gateway_is_attached_before_anything_routes_to_it(renders, case):
    template = network_of(renders, case)
    (gateway,) = resources_of_type(template, "AWS::EC2::InternetGateway")
    (vpc,) = resources_of_type(template, "AWS::EC2::VPC")
    attachments = {name: res["Properties"] for name, res in resources_of_type(template, "AWS::EC2::VPCGatewayAttachment").items()}
    (attachment,) = [name for name, props in attachments.items() if ref(props["InternetGatewayId"]) == gateway and ref(props["VpcId"]) == vpc]
    # CloudFormation cannot create a route to the gateway, or an Elastic IP for the VPC, before the attachment.
    needs_attachment = [name for name, res in template["Resources"].items()
                        if res["Type"] == "AWS::EC2::EIP" or ref(res.get("Properties", {}).get("GatewayId")) == gateway]
    assert needs_attachment
    for name in needs_attachment:
        assert attachment in depends_on(template["Resources"][name]), name


# --------------------------------------------------------------------------- endpoint, flow log, default security group


@pytest.mark.parametrize("case", CASES)
def test_s3_gateway_endpoint_serves_the_private_route_tables(renders, case):
    template = network_of(renders, case)
    tables = route_table_of(template)
    private_tables = {tables[subnet] for subnet in subnets_by_egress(template)["private"]}
    (endpoint,) = resources_of_type(template, "AWS::EC2::VPCEndpoint").values()
    props = endpoint["Properties"]
    assert props["VpcEndpointType"] == "Gateway"
    assert props["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}
    assert {ref(table) for table in props["RouteTableIds"]} == private_tables


@pytest.mark.parametrize("case", CASES)
def test_flow_log_records_the_vpc_into_a_log_group_that_expires(renders, case):
    template = network_of(renders, case)
    (vpc,) = resources_of_type(template, "AWS::EC2::VPC")
    (flow_log,) = resources_of_type(template, "AWS::EC2::FlowLog").values()
    props = flow_log["Properties"]
    assert ref(props["ResourceId"]) == vpc and props["ResourceType"] == "VPC"
    assert props["TrafficType"] in ("REJECT", "ALL")
    assert props["LogDestinationType"] == "cloud-watch-logs"
    group = ref(props["LogGroupName"])
    assert is_type(template, group, "AWS::Logs::LogGroup")
    assert template["Resources"][group]["Properties"]["RetentionInDays"] == 365  # a year: Control Tower's CT.CLOUDWATCH.PR.2
    role, attribute = props["DeliverLogsPermissionArn"]["Fn::GetAtt"]
    assert attribute == "Arn"
    (trust,) = template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    # The role writes to this log group only (plus listing log groups, which has no narrower resource).
    statements = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    writes = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
    assert writes and all(s["Resource"] == {"Fn::GetAtt": [group, "Arn"]} for s in writes)


@pytest.mark.parametrize("case", CASES)
def test_nothing_uses_the_default_security_group(renders, case):
    """The default security group stays as AWS makes it, so nothing may reference it."""
    text = (renders[case] / "infra" / "network.yml").read_text()
    assert "DefaultSecurityGroup" not in text


# --------------------------------------------------------------------------- parameters and outputs


@pytest.mark.parametrize("case", CASES)
def test_environment_name_allows_exactly_the_pipelines_environments(renders, case):
    template = network_of(renders, case)
    names = [env["name"] for env in environments_of(answers_of(case))]
    assert template["Parameters"]["EnvironmentName"]["AllowedValues"] == names


@pytest.mark.parametrize("case", CASES)
def test_outputs_hand_on_the_vpc_and_both_subnet_pairs(renders, case):
    template = network_of(renders, case)
    outputs = template["Outputs"]
    assert set(outputs) == {"VpcId", "PublicSubnetIds", "PrivateSubnetIds", "AvailabilityZones"}
    # The private subnets' zones, in the subnets' order.
    assert outputs["AvailabilityZones"]["Value"] == {"Fn::Join": [",", [
        {"Fn::GetAtt": [subnet, "AvailabilityZone"]} for subnet in joined_refs(outputs["PrivateSubnetIds"]["Value"])]]}
    (vpc,) = resources_of_type(template, "AWS::EC2::VPC")
    assert ref(outputs["VpcId"]["Value"]) == vpc
    kinds = subnets_by_egress(template)
    for output, kind in (("PublicSubnetIds", "public"), ("PrivateSubnetIds", "private")):
        subnets = joined_refs(outputs[output]["Value"])
        assert len(subnets) == 2 and set(subnets) == kinds[kind], output
        assert sorted(az_index(template, subnet) for subnet in subnets) == [0, 1], output


# --------------------------------------------------------------------------- the validation gate


def created(renders: dict[str, Path]) -> list[Path]:
    return [renders[case] for case in CASES]


def test_cfn_lint_finds_nothing(gate_run, renders):
    files, findings = gate_run.within("cfn-lint", created(renders))
    assert sum(path.name == "network.yml" for path in files) == len(CASES)
    assert not findings, report(findings)


def test_checkov_finds_nothing(gate_run, renders):
    checked, failures = gate_run.within("checkov", created(renders))
    assert len({file for file, _ in checked if file.endswith("/infra/network.yml")}) == len(CASES)
    assert not failures, report(failures)


def test_yamllint_finds_nothing(gate_run, renders):
    files, findings = gate_run.within("yamllint", created(renders))
    assert sum(path.name == "network.yml" for path in files) == len(CASES)
    assert not findings, report(findings)
