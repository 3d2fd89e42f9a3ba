"""DeployRole (infra/deploy-role.yml) of targets ecs_fargate and ec2: the role CloudFormation creates,
updates and deletes each environment's network stack (infra/network.yml, network == 'create') and service
stack (infra/service.yml) with, as the pipeline's deploy actions do.

What a stack operation needs comes from AWS: the resource handlers' permissions in the CloudFormation
registry schemas cfn-lint ships, and for what has no schema the Service Authorization Reference. Which
actions take which resources comes from cfn-lint's copy of that reference (Policies.json). One answer set
per target, strategy, ECS controller and network choice is rendered once for the module.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from helpers import (
    allows,
    answer_rules,
    as_list,
    deploy_policies,
    environments_of,
    handler_permissions,
    load_cfn,
    policy_statements,
)

SERVICE = "orders"
LONGEST_SERVICE = "inventory-management"  # as long as service_name may be: the largest policy
EXISTING_NETWORK = dict(network="existing", vpc_id="vpc-0123456789abcdef0",
                        public_subnet_ids="subnet-0123456789abcdef0,subnet-0123456789abcdef1",
                        private_subnet_ids="subnet-0123456789abcdef2,subnet-0123456789abcdef3")

CASES: dict[str, dict[str, Any]] = {
    "ecs-blue_green-codedeploy": dict(target="ecs_fargate", strategy="blue_green", ecs_controller="codedeploy", staging=True),
    "ecs-canary-codedeploy-custom": dict(target="ecs_fargate", strategy="canary", ecs_controller="codedeploy",
                                         canary_percent=25, canary_minutes=7, staging=True),
    "ecs-canary-codedeploy-custom-longest-name": dict(service_name=LONGEST_SERVICE, target="ecs_fargate", strategy="canary",
                                                      ecs_controller="codedeploy", canary_percent=25, canary_minutes=7,
                                                      staging=True),
    "ecs-canary-native": dict(target="ecs_fargate", strategy="canary", ecs_controller="ecs", staging=True),
    "ecs-linear-native": dict(target="ecs_fargate", strategy="linear", ecs_controller="ecs", staging=False),
    "ecs-rolling": dict(target="ecs_fargate", strategy="rolling", staging=True),
    "ecs-blue_green-existing-network": dict(target="ecs_fargate", strategy="blue_green", staging=True, **EXISTING_NETWORK),
    "ec2-in_place": dict(target="ec2", strategy="in_place", staging=True),
    "ec2-in_place-longest-name": dict(service_name=LONGEST_SERVICE, target="ec2", strategy="in_place", staging=True),
    "ec2-blue_green": dict(target="ec2", strategy="blue_green", staging=True),
    "ec2-in_place-existing-network": dict(target="ec2", strategy="in_place", staging=False, **EXISTING_NETWORK),
}
NAMES = sorted(CASES)

CRUD = ("create", "read", "update", "delete")

# Permissions the handlers list that DeployRole does not grant, because the stacks never use the feature
# that needs them. A stack change that starts using one must grant it (test_deploy_role_grants_...).
UNUSED_HANDLER_PERMISSIONS: dict[str, dict[str, str]] = {
    "AWS::AutoScaling::AutoScalingGroup": {
        "autoscaling:AttachLoadBalancers": "no Classic Load Balancers (LoadBalancerNames)",
        "autoscaling:DetachLoadBalancers": "no Classic Load Balancers (LoadBalancerNames)",
        "autoscaling:AttachTrafficSources": "no TrafficSources: the target group comes in TargetGroupARNs",
        "autoscaling:DetachTrafficSources": "no TrafficSources: the target group comes in TargetGroupARNs",
        "autoscaling:PutLifecycleHook": "no LifecycleHookSpecificationList: the group's one hook is CodeDeploy's",
        "autoscaling:DeleteLifecycleHook": "no LifecycleHookSpecificationList: the group's one hook is CodeDeploy's",
        "autoscaling:PutNotificationConfiguration": "no NotificationConfigurations",
        "autoscaling:DeleteNotificationConfiguration": "no NotificationConfigurations",
        "autoscaling:StartInstanceRefresh": "no instance refresh: CodeDeploy updates the instances",
        "autoscaling:CancelInstanceRefresh": "no instance refresh: CodeDeploy updates the instances",
        "cloudwatch:PutMetricAlarm": "no scaling policies; the stack's own alarm is granted by name",
        "ec2:Get*": "one launch template, no InstanceRequirements; the family holds GetPasswordData (checkov CKV_AWS_107)",
        "ssm:Get*": "the launch template names an AMI id (the stack resolves the public parameter), no resolve:ssm: alias",
        "vpc-lattice:DeregisterTargets": "no VPC Lattice target groups",
        "vpc-lattice:GetTargetGroup": "no VPC Lattice target groups",
        "vpc-lattice:ListTargets": "no VPC Lattice target groups",
        "vpc-lattice:RegisterTargets": "no VPC Lattice target groups",
        # Not in the Service Authorization Reference: cfn-lint (W3037) refuses the prefix.
        "managed-fleets:CreateAutoScalingGroup": "no managed fleet; not an IAM service prefix cfn-lint knows",
        "managed-fleets:DeleteAutoScalingGroup": "no managed fleet; not an IAM service prefix cfn-lint knows",
        "managed-fleets:DeregisterAutoScalingGroup": "no managed fleet; not an IAM service prefix cfn-lint knows",
        "managed-fleets:Get*": "no managed fleet; not an IAM service prefix cfn-lint knows",
        "managed-fleets:RegisterAutoScalingGroup": "no managed fleet; not an IAM service prefix cfn-lint knows",
        "managed-fleets:UpdateAutoScalingGroup": "no managed fleet; not an IAM service prefix cfn-lint knows",
    },
    "AWS::CodeDeploy::DeploymentGroup": {
        "codedeploy:CreateDeployment": "no Deployment property: the pipeline deploys",
        "codedeploy:GetApplicationRevision": "no Deployment property: the pipeline registers revisions",
        "codedeploy:RegisterApplicationRevision": "no Deployment property: the pipeline registers revisions",
        "codedeploy:StopDeployment": "no Deployment property, so no deployment of the stack's to stop",
        "codedeploy:RegisterOnPremisesInstance": "no on-premises instances (OnPremisesInstanceTagFilters)",
    },
    "AWS::KMS::Key": {
        "kms:DisableKey": "the key stays enabled",
        "kms:EnableKey": "the key stays enabled",
        "kms:TagResource": "no Tags on the keys",
        "kms:UntagResource": "no Tags on the keys",
    },
    "AWS::SNS::Topic": {
        "iam:GetRole": "no delivery status logging (its feedback roles)",
        "iam:PassRole": "no delivery status logging (its feedback roles)",
        "sns:PutDataProtectionPolicy": "no DataProtectionPolicy",
    },
    "AWS::SNS::Subscription": {
        "iam:GetRole": "no SubscriptionRoleArn (Firehose endpoints only)",
        "iam:PassRole": "no SubscriptionRoleArn (Firehose endpoints only)",
    },
    "AWS::EC2::EIP": {
        "ec2:AcceptAddressTransfer": "no TransferAddress",
        "ec2:AssociateAddress": "no InstanceId: the NAT gateway takes the address",
        "ec2:DisassociateAddress": "no InstanceId: the NAT gateway, deleted first, lets go of the address itself",
    },
    "AWS::EC2::FlowLog": {
        "logs:CreateLogDelivery": "delivers to CloudWatch Logs with DeliverLogsPermissionArn, not through a log delivery",
        "logs:DeleteLogDelivery": "delivers to CloudWatch Logs with DeliverLogsPermissionArn, not through a log delivery",
        "s3:GetBucketPolicy": "no S3 destination",
        "s3:PutBucketPolicy": "no S3 destination",
    },
    "AWS::EC2::NatGateway": {
        "ec2:AssignPrivateNatGatewayAddress": "no secondary private addresses",
        "ec2:UnassignPrivateNatGatewayAddress": "no secondary private addresses",
        "ec2:AssociateNatGatewayAddress": "no secondary Elastic IP addresses",
        "ec2:DisassociateNatGatewayAddress": "no secondary Elastic IP addresses",
    },
    "AWS::EC2::Subnet": {
        "ec2:AssociateSubnetCidrBlock": "no IPv6 CIDR block",
        "ec2:DisassociateSubnetCidrBlock": "no IPv6 CIDR block",
    },
    "AWS::EC2::VPC": {
        "ec2:CreateVpcEncryptionControl": "no VPC encryption control",
        "ec2:ModifyVpcTenancy": "default tenancy, never changed",
    },
    "AWS::EC2::VPCEndpoint": {
        "vpc-lattice:CreateServiceNetworkVpcEndpointAssociation": "a gateway endpoint, no VPC Lattice service network",
        "vpc-lattice:DescribeServiceNetworkVpcEndpointAssociation": "no VPC Lattice service network (not an IAM action either)",
        "vpce:AllowMultiRegion": "the S3 endpoint of the stack's own region",
    },
    "AWS::EC2::VPCGatewayAttachment": {
        "ec2:AttachVpnGateway": "attaches an internet gateway, no VPN gateway",
        "ec2:DetachVpnGateway": "attaches an internet gateway, no VPN gateway",
    },
    "AWS::ECS::Cluster": {
        "ecs:PutAccountSetting": "account-wide settings are not the stack's to change",
        "ecs:PutAccountSettingDefault": "account-wide settings are not the stack's to change",
        "ecs:PutClusterCapacityProviders": "no CapacityProviders: the service names LaunchType FARGATE",
        "kms:DescribeKey": "no managed storage encryption key (Configuration.ManagedStorageConfiguration)",
    },
    "AWS::ElasticLoadBalancingV2::Listener": {
        "cognito-idp:DescribeUserPoolClient": "no authenticate-cognito actions",
    },
    "AWS::ElasticLoadBalancingV2::ListenerRule": {
        "cognito-idp:DescribeUserPoolClient": "no authenticate-cognito actions",
    },
    "AWS::ElasticLoadBalancingV2::LoadBalancer": {
        "elasticloadbalancing:ModifyCapacityReservation": "no MinimumLoadBalancerCapacity",
        "elasticloadbalancing:ModifyIpPools": "no IPAM pools (Ipv4IpamPoolId)",
        "elasticloadbalancing:SetIpAddressType": "no IpAddressType: IPv4 only, never changed",
    },
    "AWS::ElasticLoadBalancingV2::TargetGroup": {
        "elasticloadbalancing:RegisterTargets": "no Targets: ECS, Auto Scaling and CodeDeploy register them",
        "elasticloadbalancing:DeregisterTargets": "no Targets: ECS, Auto Scaling and CodeDeploy register them",
    },
    "AWS::IAM::Role": {
        "iam:PutRolePermissionsBoundary": "no PermissionsBoundary",
        "iam:DeleteRolePermissionsBoundary": "no PermissionsBoundary",
    },
    "AWS::Lambda::Function": {
        "lambda:AssociateRuntimeAlias": "no runtime alias (not an action of the Service Authorization Reference)",
        "lambda:DeleteFunctionCodeSigningConfig": "no CodeSigningConfigArn",
        "lambda:GetCodeSigningConfig": "no CodeSigningConfigArn",
        "lambda:PutFunctionCodeSigningConfig": "no CodeSigningConfigArn",
        "lambda:DeleteFunctionConcurrency": "no ReservedConcurrentExecutions",
        "lambda:PutFunctionConcurrency": "no ReservedConcurrentExecutions",
        "lambda:GetLayerVersion": "no Layers",
        "lambda:PassCapacityProvider": "no CapacityProviderConfig",
        "lambda:PutFunctionScalingConfig": "no CapacityProviderConfig",
        "lambda:PublishVersion": "no versions: nothing invokes a version of these functions",
        "lambda:PutFunctionRecursionConfig": "no RecursiveLoop",
        "lambda:PutRuntimeManagementConfig": "no RuntimeManagementConfig",
        "kms:CreateGrant": "no KmsKeyArn: Lambda's own key encrypts the environment",
        "kms:Decrypt": "no KmsKeyArn: Lambda's own key encrypts the environment",
        "kms:DescribeKey": "no KmsKeyArn: Lambda's own key encrypts the environment",
        "kms:Encrypt": "no KmsKeyArn: Lambda's own key encrypts the environment",
        "kms:GenerateDataKey": "no KmsKeyArn: Lambda's own key encrypts the environment",
        "s3:GetObject": "inline code (ZipFile), no S3 object",
        "s3:GetObjectVersion": "inline code (ZipFile), no S3 object",
        "elasticfilesystem:DescribeMountTargets": "no FileSystemConfigs",
        "s3files:ListMountTargets": "no FileSystemConfigs",
    },
    "AWS::Logs::LogGroup": {
        "firehose:TagDeliveryStream": "no delivery",
        "logs:CreateLogDelivery": "no delivery",
        "logs:DeleteIndexPolicy": "no index policy",
        "logs:PutIndexPolicy": "no index policy",
        "logs:DeleteResourcePolicy": "no resource policy",
        "logs:PutResourcePolicy": "no resource policy",
        "logs:PutBearerTokenAuthentication": "no bearer token authentication",
        "logs:PutDataProtectionPolicy": "no DataProtectionPolicy",
        "logs:PutLogGroupDeletionProtection": "no deletion protection: the stacks delete their log groups",
        "s3:REST.PUT.OBJECT": "no delivery (not an IAM action either)",
    },
}

# Types without a registry schema (handler_permissions is empty): what CloudFormation needs for them,
# from the Service Authorization Reference.
NO_REGISTRY_SCHEMA = {
    # CloudFormation invokes the ServiceToken function of a custom resource with the stack's role.
    "Custom::BlueGreenDeploymentGroup": {"lambda:InvokeFunction"},
}

# Actions IAM cannot scope to a resource: the only ones an Allow may grant on "*". The Describe* families
# are reads (most of their actions have no resource type either); test_no_resource_level_... checks.
NO_RESOURCE_LEVEL_PERMISSION = {
    "autoscaling:Describe*",
    "autoscaling:DescribeTags",
    "ec2:Describe*",
    "ecs:DeregisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "elasticloadbalancing:Describe*",
    "kms:CreateKey",  # the key's ARN exists only afterwards; its own policy then grants the rest
    "logs:DescribeIndexPolicies",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
}

# The values CloudFormation puts into ${AWS::...}: a commercial account, and for IAM's size quota the
# longest partition and region names together (AWS GovCloud (US)).
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
LONGEST_PSEUDO = {"AWS::Partition": "aws-us-gov", "AWS::Region": "us-gov-west-1", "AWS::AccountId": "123456789012"}

# "IAM and AWS STS quotas": a role's inline policies total at most 10,240 characters, white space not counted.
ROLE_INLINE_POLICY_QUOTA = 10_240


def render_sets() -> dict[str, dict[str, Any]]:
    """This module's answer sets; conftest renders them once with the session's others."""
    return {case: answers_of(case) for case in NAMES}


def answers_of(case: str) -> dict[str, Any]:
    return {"service_name": SERVICE, **CASES[case]}


# --------------------------------------------------------------------------- helpers


@functools.cache
def service_reference() -> dict[str, Any]:
    """cfn-lint's copy of the Service Authorization Reference: actions and the resource types they take.
    Read once per session (a large file, the same for every case); callers only read it."""
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    return load_resource(AdditionalSpecs, "Policies.json")


def reference_actions(action: str) -> dict[str, list[str]]:
    """The reference's actions an action (wildcards allowed) names, each with its resource types."""
    service, name = action.lower().split(":", 1)
    actions = service_reference().get(service, {}).get("Actions", {})
    return {key: value.get("Resources", []) for key, value in actions.items() if fnmatch.fnmatchcase(key, name)}


def arn_formats(action: str) -> list[str]:
    """The ARN formats (regular expressions) of the resource types an action takes."""
    service = action.lower().split(":", 1)[0]
    resources = {key.lower(): value for key, value in service_reference()[service]["Resources"].items()}
    return [arn for kinds in reference_actions(action).values() for kind in kinds for arn in resources[kind.lower()]["ARNFormats"]]


def sub(value: Any, pseudo: dict[str, str] = PSEUDO) -> str:
    """A policy string as IAM sees it: an Fn::Sub of pseudo parameters, resolved."""
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        value = value["Fn::Sub"]
    assert isinstance(value, str), f"not a string or a plain Fn::Sub: {value!r}"
    for name, text in pseudo.items():
        value = value.replace("${" + name + "}", text)
    assert "${" not in value, value
    return value


def deploy_role(render_dir: Path) -> dict[str, Any]:
    return load_cfn(render_dir / "infra" / "deploy-role.yml")["Resources"]["DeployRole"]["Properties"]


def deploy_statements(render_dir: Path) -> list[dict[str, Any]]:
    return [statement for document in deploy_policies(render_dir) for statement in policy_statements(document)]


def allowed_actions(statements: list[dict[str, Any]]) -> list[str]:
    return [action for statement in statements if statement["Effect"] == "Allow" for action in as_list(statement["Action"])]


def stacks(render_dir: Path) -> dict[str, dict[str, Any]]:
    """The templates DeployRole deploys: infra/service.yml and, when the network is created, infra/network.yml."""
    return {path.name: load_cfn(path) for path in (render_dir / "infra" / name for name in ("network.yml", "service.yml"))
            if path.exists()}


def unused(type_name: str, templates: dict[str, dict[str, Any]]) -> set[str]:
    result = set(UNUSED_HANDLER_PERMISSIONS.get(type_name, {}))
    if type_name == "AWS::IAM::Role" and not any(
            resource["Properties"].get("ManagedPolicyArns") for template in templates.values()
            for resource in template["Resources"].values() if resource["Type"] == "AWS::IAM::Role"):
        result |= {"iam:AttachRolePolicy", "iam:DetachRolePolicy"}  # inline policies only
    return result


def needed_permissions(templates: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """What a create, read, update and delete of every resource of the stacks needs, by type, bar unused features;
    "(parameters)" holds what the stacks' parameters need."""
    needed: dict[str, set[str]] = {}
    for template in templates.values():
        for resource in template["Resources"].values():
            type_name = resource["Type"]
            needed[type_name] = (handler_permissions(type_name, CRUD) | NO_REGISTRY_SCHEMA.get(type_name, set())) \
                - unused(type_name, templates)
        # CloudFormation resolves a Systems Manager parameter type ("AWS::SSM::Parameter::Value<...>") itself.
        if any(spec["Type"].startswith("AWS::SSM::Parameter::Value<") for spec in template.get("Parameters", {}).values()):
            needed.setdefault("(parameters)", set()).add("ssm:GetParameters")
    return needed


def resolve_name(value: Any, environment: str) -> str | None:
    """A name property of the stacks (!Ref EnvironmentName or !Sub "...${EnvironmentName}...") for one environment."""
    if value == {"Ref": "EnvironmentName"}:
        return environment
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return value["Fn::Sub"].replace("${EnvironmentName}", environment)
    return value if isinstance(value, str) else None


# Named resources: (name property, the action that creates one, its ARN with {name} and {parent}).
NAMED_TYPES = {
    "AWS::IAM::Role": ("RoleName", "iam:CreateRole", "arn:aws:iam::123456789012:role/{name}"),
    "AWS::Lambda::Function": ("FunctionName", "lambda:CreateFunction", "arn:aws:lambda:us-east-1:123456789012:function:{name}"),
    "AWS::Logs::LogGroup": ("LogGroupName", "logs:CreateLogGroup", "arn:aws:logs:us-east-1:123456789012:log-group:{name}"),
    "AWS::ECS::Cluster": ("ClusterName", "ecs:CreateCluster", "arn:aws:ecs:us-east-1:123456789012:cluster/{name}"),
    "AWS::ECS::Service": ("ServiceName", "ecs:CreateService", "arn:aws:ecs:us-east-1:123456789012:service/{parent}/{name}"),
    "AWS::ECS::TaskDefinition": ("Family", "ecs:RegisterTaskDefinition", "arn:aws:ecs:us-east-1:123456789012:task-definition/{name}:1"),
    "AWS::CloudWatch::Alarm": ("AlarmName", "cloudwatch:PutMetricAlarm", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"),
    "AWS::SNS::Topic": ("TopicName", "sns:CreateTopic", "arn:aws:sns:us-east-1:123456789012:{name}"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (
        "Name", "elasticloadbalancing:CreateLoadBalancer",
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/{name}/0123456789abcdef"),
    "AWS::CodeDeploy::Application": ("ApplicationName", "codedeploy:CreateApplication",
                                     "arn:aws:codedeploy:us-east-1:123456789012:application:{name}"),
    "AWS::CodeDeploy::DeploymentGroup": ("DeploymentGroupName", "codedeploy:CreateDeploymentGroup",
                                         "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:{parent}/{name}"),
}
# Resources CloudFormation names itself ("<stack>-<logical id>-<random>"): the action that creates one, its ARN.
GENERATED_NAME_TYPES = {
    "AWS::IAM::InstanceProfile": ("iam:CreateInstanceProfile", "arn:aws:iam::123456789012:instance-profile/{name}"),
    "AWS::AutoScaling::AutoScalingGroup": (
        "autoscaling:CreateAutoScalingGroup",
        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f:autoScalingGroupName/{name}"),
    "AWS::CodeDeploy::DeploymentConfig": ("codedeploy:CreateDeploymentConfig",
                                          "arn:aws:codedeploy:us-east-1:123456789012:deploymentconfig:{name}"),
}
PARENTS = {"AWS::ECS::Service": ("Cluster", "ClusterName"), "AWS::CodeDeploy::DeploymentGroup": ("ApplicationName", "ApplicationName")}


def expected_arns(case: str, render_dir: Path) -> list[tuple[str, str, str]]:
    """(logical id, creating action, ARN) of every resource of the stacks CloudFormation creates by a name we know."""
    result = []
    for env in environments_of(answers_of(case)):
        for file_name, template in stacks(render_dir).items():
            stack = env["network_stack"] if file_name == "network.yml" else env["stack"]
            resources = template["Resources"]
            for logical_id, resource in resources.items():
                properties = resource.get("Properties", {})
                if resource["Type"] in NAMED_TYPES:
                    prop, action, arn = NAMED_TYPES[resource["Type"]]
                    name = resolve_name(properties.get(prop), env["name"])
                    if name is None:
                        continue  # unnamed: CloudFormation names it (not used by these stacks)
                    parent = None
                    if resource["Type"] in PARENTS:
                        ref, parent_prop = PARENTS[resource["Type"]]
                        parent = resolve_name(resources[properties[ref]["Ref"]]["Properties"][parent_prop], env["name"])
                    result.append((logical_id, action, arn.format(name=name, parent=parent)))
                elif resource["Type"] in GENERATED_NAME_TYPES:
                    action, arn = GENERATED_NAME_TYPES[resource["Type"]]
                    result.append((logical_id, action, arn.format(name=f"{stack}-{logical_id}-1A2B3C4D5E6F")))
    return result


def statement_allows(statement: dict[str, Any], action: str, arn: str) -> bool:
    return statement["Effect"] == "Allow" and allows(as_list(statement["Action"]), action) \
        and any(fnmatch.fnmatchcase(arn, sub(resource)) for resource in as_list(statement["Resource"]))


# --------------------------------------------------------------------------- what the stacks need


@pytest.mark.parametrize("case", NAMES)
def test_deploy_role_grants_what_the_resource_handlers_need(renders, case):
    """CloudFormation creates, reads, updates and deletes every resource of the stacks with DeployRole: it must
    grant what AWS's handlers of each type list, bar the features the stacks never use."""
    actions = allowed_actions(deploy_statements(renders[case]))
    templates = stacks(renders[case])
    missing = {}
    for type_name, needed in sorted(needed_permissions(templates).items()):
        granted = actions + (key_policy_grants_to_deploy_role(renders[case], templates) if type_name == "AWS::KMS::Key" else [])
        if lacking := sorted(permission for permission in needed if not allows(granted, permission)):
            missing[type_name] = lacking
    assert missing == {}


def key_policy_grants_to_deploy_role(render_dir: Path, templates: dict[str, dict[str, Any]]) -> list[str]:
    """The actions every KMS key of the stacks grants DeployRole in its own key policy (by its role ARN,
    so the grant needs no IAM policy): key ARNs hold random ids, which DeployRole's policy cannot name."""
    deploy_role_arn = f"arn:aws:iam::123456789012:role/{deploy_role(render_dir)['RoleName']}"
    per_key = []
    for template in templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::KMS::Key":
                per_key.append({action for statement in resource["Properties"]["KeyPolicy"]["Statement"]
                                if statement["Effect"] == "Allow" and "AWS" in statement["Principal"]
                                and sub(statement["Principal"]["AWS"]) == deploy_role_arn
                                for action in as_list(statement["Action"])})
    return sorted(set.intersection(*per_key)) if per_key else []


@pytest.mark.parametrize("case", NAMES)
def test_every_resource_type_has_a_registry_schema_or_a_listed_need(renders, case):
    types = {resource["Type"] for template in stacks(renders[case]).values() for resource in template["Resources"].values()}
    assert types, "no stack rendered"
    assert sorted(name for name in types if not handler_permissions(name, CRUD) and name not in NO_REGISTRY_SCHEMA) == []


def test_unused_permissions_name_real_handler_permissions():
    """Each UNUSED entry is a permission its type's handlers list (a stale entry hides nothing, but misleads)."""
    stale = {type_name: sorted(set(entries) - handler_permissions(type_name, CRUD))
             for type_name, entries in UNUSED_HANDLER_PERMISSIONS.items()}
    assert {type_name: entries for type_name, entries in stale.items() if entries} == {}


@pytest.mark.parametrize("case", NAMES)
def test_named_resources_fall_within_the_statements_that_create_them(renders, case):
    """Every resource the stacks name (after the environment) or CloudFormation names (after the stack) is
    within the Resource of an Allow that grants the action creating it, for every environment."""
    statements = deploy_statements(renders[case])
    expected = expected_arns(case, renders[case])
    assert len(expected) > 5
    outside = [f"{logical_id}: {action} on {arn}" for logical_id, action, arn in expected
               if not any(statement_allows(statement, action, arn) for statement in statements)]
    assert outside == []


# --------------------------------------------------------------------------- least privilege


@pytest.mark.parametrize("case", NAMES)
def test_no_allow_grants_a_whole_service_or_every_resource_of_a_scoped_action(renders, case):
    for statement in deploy_statements(renders[case]):
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement["Action"])
        assert not any(action == "*" or action.endswith(":*") for action in actions), statement["Sid"]
        if "*" in as_list(statement["Resource"]):
            assert as_list(statement["Resource"]) == ["*"], statement["Sid"]
            assert set(actions) <= NO_RESOURCE_LEVEL_PERMISSION, statement["Sid"]


def test_actions_listed_without_resource_level_permission_have_none():
    """The reference lists no resource type for each listed action; a listed family is Describe* (reads only)."""
    for action in sorted(NO_RESOURCE_LEVEL_PERMISSION):
        found = reference_actions(action)
        assert found, f"{action} is not in the Service Authorization Reference"
        if "*" in action:
            assert action.endswith(":Describe*"), action
            assert all(name.startswith("describe") for name in found), action
        else:
            assert found == {action.split(":", 1)[1].lower(): []}, action


@pytest.mark.parametrize("case", NAMES)
def test_each_scoped_action_takes_one_of_its_statements_resources(renders, case):
    """An action on a Resource other than "*" must take a resource type whose ARN format one of the
    statement's resources fits (else IAM never matches it), and each resource must fit some action."""
    problems = []
    for statement in deploy_statements(renders[case]):
        resources = [sub(resource) for resource in as_list(statement["Resource"])]
        if statement["Effect"] != "Allow" or resources == ["*"]:
            continue
        fits = {}
        for action in as_list(statement["Action"]):
            patterns = [re.compile(arn.replace("${Partition}", "aws").replace("${Region}", "us-east-1")
                                   .replace("${Account}", "(123456789012)?")) for arn in arn_formats(action)]
            fits[action] = {resource for resource in resources if any(pattern.fullmatch(resource) for pattern in patterns)}
            if not fits[action]:
                problems.append(f"{statement['Sid']}: {action} takes none of {resources}")
        for resource in resources:
            if not any(resource in matched for matched in fits.values()):
                problems.append(f"{statement['Sid']}: no action takes {resource}")
    assert problems == []


@pytest.mark.parametrize("case", NAMES)
def test_pass_role_hands_only_service_roles_to_the_services_that_trust_them(renders, case):
    templates = stacks(renders[case])
    trusted = {service for template in templates.values() for resource in template["Resources"].values()
               if resource["Type"] == "AWS::IAM::Role"
               for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
               for service in as_list(statement["Principal"].get("Service", []))}
    passing = [statement for statement in deploy_statements(renders[case])
               if statement["Effect"] == "Allow" and allows(as_list(statement["Action"]), "iam:PassRole")]
    assert passing
    for statement in passing:
        assert as_list(statement["Action"]) == ["iam:PassRole"], statement["Sid"]
        for resource in as_list(statement["Resource"]):
            assert sub(resource).startswith(f"arn:aws:iam::123456789012:role/{answers_of(case)['service_name']}-"), statement["Sid"]
        services = set(as_list(statement["Condition"]["StringEquals"]["iam:PassedToService"]))
        assert services and services <= trusted, statement["Sid"]


@pytest.mark.parametrize("case", NAMES)
def test_the_pipeline_roles_are_out_of_reach(renders, case):
    pipeline_stack = answer_rules.derived_names(answers_of(case)["service_name"], bool(CASES[case]["staging"]))["pipeline_stack"]
    denies = [statement for statement in deploy_statements(renders[case]) if statement["Effect"] == "Deny"]
    assert sorted((statement["Sid"], statement["Action"], sub(statement["Resource"])) for statement in denies) == [
        ("KeepOffPipelineRoles", "iam:*", f"arn:aws:iam::123456789012:role/{pipeline_stack}-*"),
        ("KeepPermissionsBoundaries", "iam:DeleteRolePermissionsBoundary", "*")]
    deny = f"arn:aws:iam::123456789012:role/{pipeline_stack}-*"
    assert fnmatch.fnmatchcase(f"arn:aws:iam::123456789012:role/{deploy_role(renders[case])['RoleName']}", deny)
    # ... and the stacks' own roles are not among them.
    assert [arn for _, action, arn in expected_arns(case, renders[case]) if action == "iam:CreateRole"
            and fnmatch.fnmatchcase(arn, deny)] == []


def test_the_longest_name_cases_use_the_longest_service_name():
    assert len(LONGEST_SERVICE) == answer_rules.SERVICE_NAME_MAX
    assert answer_rules.check_service_name(LONGEST_SERVICE) == ""


@pytest.mark.parametrize("case", NAMES)
def test_deploy_role_fits_iams_inline_policy_quota(renders, case):
    def resolved(value: Any) -> Any:
        if isinstance(value, dict) and "Fn::Sub" in value:
            return sub(value, LONGEST_PSEUDO)
        if isinstance(value, dict):
            return {key: resolved(item) for key, item in value.items()}
        return [resolved(item) for item in value] if isinstance(value, list) else value

    total = sum(len(json.dumps(resolved(policy["PolicyDocument"]), separators=(",", ":")))
                for policy in deploy_role(renders[case])["Policies"])
    assert total <= ROLE_INLINE_POLICY_QUOTA


@pytest.mark.parametrize("case", NAMES)
def test_deploy_role_renders_without_blank_lines(renders, case):
    text = (renders[case] / "infra" / "deploy-role.yml").read_text()
    resources = text[text.index("\nResources:\n") + len("\nResources:\n"):text.index("\nOutputs:\n")].rstrip("\n")
    blocks = resources.split("\n\n")
    assert len(blocks) == 5, ("DeployRole, its IAM policy, its keys policy, the permissions boundary and the pipeline "
                              "role's policy, one blank line apart")
    assert all(re.match(r"  (# |[A-Za-z]+:\n)", block) for block in blocks), blocks


# --------------------------------------------------------------------------- the gate


def test_cfn_lint_checkov_and_yamllint_find_nothing(module_gate, renders):
    files, lint = module_gate("cfn-lint")
    assert sum(path.name == "deploy-role.yml" for path in files) == len(renders)
    checked, failures = module_gate("checkov")
    assert sum(resource == "AWS::IAM::Role.DeployRole" for _, resource in checked) == len(renders)
    _, yaml_findings = module_gate("yamllint")
    assert not lint + failures + yaml_findings, "\n".join(lint + failures + yaml_findings)
