"""Least privilege on the rendered policies (issue 16), read as an IAM engineer would.

Every target is rendered twice, as `api` and as `api-gw` (a name that starts with the other's),
with staging, a CodeConnections source and secrets. tests/policies.py resolves each identity
policy to plain JSON; the tests read the statements: which actions on which resources, under
which conditions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import allows, load_cfn, load_pipeline
from policies import as_list, iam_match, resolved_policies, statements

SERVICES = ("api", "api-gw")
TARGETS: dict[str, dict[str, Any]] = {
    "ecs-codedeploy": dict(target="ecs_fargate", strategy="canary", ecs_controller="codedeploy"),
    "ecs-native": dict(target="ecs_fargate", strategy="linear", ecs_controller="ecs"),
    "ec2-blue_green": dict(target="ec2", strategy="blue_green"),
    "ec2-in_place": dict(target="ec2", strategy="in_place"),
    "lambda": dict(target="lambda", strategy="canary"),
}
COMMON = dict(staging=True, manual_approval=True, source_provider="github", repository="my-org/orders",
              notification_email="team@example.com",
              secrets="DB_PASSWORD=secretsmanager:orders/db,API_KEY=ssm:/orders/api-key")
CASES = [f"{service}/{target}" for service in SERVICES for target in TARGETS]


def answers_of(case: str) -> dict[str, Any]:
    service, target = case.split("/")
    return {"service_name": service, **COMMON, **TARGETS[target]}


def render_sets() -> dict[str, dict[str, Any]]:
    """This module's answer sets; conftest renders them once with the session's others."""
    return {case.replace("/", "-"): answers_of(case) for case in CASES}


def render_of(renders: dict[str, Path], case: str) -> Path:
    return renders[case.replace("/", "-")]


def policies_of(renders: dict[str, Path], case: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    return list(resolved_policies(render_of(renders, case), case.split("/")[0]))


def allowed(policies, resource_logical: str, stack: str | None = None) -> list[dict[str, Any]]:
    """The Allow statements of one resource's policies (in one stack, e.g. "service.yml[prod]")."""
    return [statement for label, logical, _, document in policies if logical == resource_logical and stack in (None, label)
            for statement in statements(document) if statement["Effect"] == "Allow"]


def granting(policies, resource_logical: str, permission: str, stack: str | None = None) -> list[dict[str, Any]]:
    return [statement for statement in allowed(policies, resource_logical, stack) if allows(as_list(statement["Action"]), permission)]


# --------------------------------------------------------------------------- 7. KMS, S3 and the connection


@pytest.mark.parametrize("case", CASES)
def test_pipeline_roles_use_the_artifact_key_only_to_read_and_write_objects(renders, case):
    policies = policies_of(renders, case)
    for role in ("PipelineRole", "BuildRole"):
        kms = {action for statement in allowed(policies, role) for action in as_list(statement["Action"]) if action.startswith("kms:")}
        assert kms == {"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"}, (role, kms)
    key_policy = load_pipeline(render_of(renders, case))["Resources"]["ArtifactKey"]["Properties"]["KeyPolicy"]
    roles_use_key = next(statement for statement in key_policy["Statement"] if statement["Sid"] == "PipelineRolesUseKey")
    assert sorted(roles_use_key["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]


@pytest.mark.parametrize("case", CASES)
def test_the_build_writes_only_under_its_own_prefixes(renders, case):
    service, target = case.split("/")
    writes = granting(policies_of(renders, case), "BuildRole", "s3:PutObject")
    resources = sorted(resource for statement in writes for resource in as_list(statement["Resource"]))
    bucket = f"arn:aws:s3:::{service}-pipeline-ArtifactBucket".lower()
    folder = f"{service}-pipeline"[:20]
    expected = {f"{bucket}/{prefix}/*" for prefix in [folder, "test-reports"]
                + (["build-cache"] if not target.startswith("ecs") else []) + (["lambda"] if target == "lambda" else [])}
    assert {resource.lower() for resource in resources} == expected
    buildspec = (render_of(renders, case) / "buildspec.yml").read_text()
    if target == "lambda":
        assert '--s3-prefix lambda ' in buildspec


@pytest.mark.parametrize("case", CASES)
def test_the_connection_serves_this_repository_only(renders, case):
    for prefix in ("codeconnections", "codestar-connections"):
        uses = granting(policies_of(renders, case), "PipelineRole", f"{prefix}:UseConnection")
        assert uses, prefix
        for statement in uses:
            assert statement["Condition"] == {"StringEquals": {f"{prefix}:FullRepositoryId": "my-org/orders"}}


# --------------------------------------------------------------------------- 4, 5. EC2 roles

PROD = "service.yml[prod]"
EC2_CASES = [case for case in CASES if "/ec2-" in case]
ASG = "arn:aws:autoscaling:eu-west-1:111122223333:autoScalingGroup:0a1b2c3d:autoScalingGroupName/"


def resources_of(statements_: list[dict[str, Any]]) -> list[str]:
    return [resource for statement in statements_ for resource in as_list(statement["Resource"])]


@pytest.mark.parametrize("case", EC2_CASES)
def test_ec2_roles_attach_no_account_wide_managed_policy(renders, case):
    template = load_cfn(render_of(renders, case) / "infra" / "service.yml")
    for role in ("InstanceRole", "CodeDeployRole"):
        assert "ManagedPolicyArns" not in template["Resources"][role]["Properties"], role


@pytest.mark.parametrize("case", EC2_CASES)
def test_instances_read_only_the_answered_parameters(renders, case):
    policies = policies_of(renders, case)
    reads = granting(policies, "InstanceRole", "ssm:GetParameter", PROD) + granting(policies, "InstanceRole", "ssm:GetParameters", PROD)
    assert resources_of(reads) == ["arn:aws:ssm:eu-west-1:111122223333:parameter/orders/api-key"]
    sessions = granting(policies, "InstanceRole", "ssmmessages:OpenDataChannel")
    assert sessions and granting(policies, "InstanceRole", "ssm:UpdateInstanceInformation")


@pytest.mark.parametrize("case", EC2_CASES)
def test_codedeploy_changes_only_this_environments_auto_scaling_groups(renders, case):
    service = case.split("/")[0]
    policies = policies_of(renders, case)
    blue_green = case.endswith("blue_green")
    for action in ("autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup", "autoscaling:CreateAutoScalingGroup"):
        patterns = resources_of(granting(policies, "CodeDeployRole", action, PROD))
        assert any(iam_match(pattern, f"{ASG}{service}-fleet") for pattern in patterns), (action, patterns)
        assert any(iam_match(pattern, f"{ASG}CodeDeploy_{service}_d-ABCDEF123") for pattern in patterns) == blue_green
        for other in (f"{service}-stg-fleet", f"{service}-gw-fleet", "CodeDeploy_other_d-ABCDEF123", f"CodeDeploy_{service}-gw_d-1"):
            assert not any(iam_match(pattern, f"{ASG}{other}") for pattern in patterns), (action, other)
    terminate = granting(policies, "CodeDeployRole", "ec2:TerminateInstances")
    assert terminate and all("aws:ResourceTag/aws:autoscaling:groupName" in statement["Condition"]["StringLike"] for statement in terminate)
