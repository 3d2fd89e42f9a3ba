"""Least privilege on the rendered policies (issue 16), read as an IAM engineer would.

Every target is rendered twice, as `api` and as `api-gw` (a name that starts with the other's),
with staging, a CodeConnections source and secrets. tests/policies.py resolves each identity
policy to plain JSON; the tests read the statements: which actions on which resources, under
which conditions; parliament lints every policy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import allows, as_list, catalog, load_cfn, load_pipeline, resources_of_type, validation_message
from policies import ACCOUNT, REGION, Resolver, deployments_of, iam_match, resolved_policies, statements

SERVICES = ("api", "api-gw")
TARGETS: dict[str, dict[str, Any]] = {
    "ecs-codedeploy": dict(target="ecs_fargate", strategy="canary", ecs_controller="codedeploy"),
    "ecs-native": dict(target="ecs_fargate", strategy="linear", ecs_controller="ecs"),
    "ec2-blue_green": dict(target="ec2", strategy="blue_green"),
    "ec2-in_place": dict(target="ec2", strategy="in_place"),
    "lambda": dict(target="lambda", strategy="canary"),
}
COMMON = dict(staging=True, manual_approval=True, source_provider="github", repository="my-org/orders",
              notification_email="team@example.com")
SECRETS_KEY = "arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
CASES = [f"{service}/{target}" for service in SERVICES for target in TARGETS]


def answers_of(case: str) -> dict[str, Any]:
    service, target = case.split("/")
    return {"service_name": service, **COMMON, **TARGETS[target],
            "secrets": f"DB_PASSWORD=secretsmanager:{{env}}/db,API_KEY=ssm:/{{env}}/api-key,SHARED=secretsmanager:{service}/shared",
            "build_secrets": f"NPM_TOKEN=secretsmanager:{service}/ci/npm-token", "secrets_kms_keys": SECRETS_KEY}


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


# --------------------------------------------------------------------------- 1. the permissions boundary


def condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    """Whether a statement's Condition holds for a request with these condition keys (the
    operators our policies use; a key the request lacks fails unless the operator ends in IfExists)."""
    for operator, pairs in condition.items():
        base = operator.removesuffix("IfExists")
        assert base in ("StringEquals", "StringLike", "ArnEquals", "ArnLike"), f"no evaluator for {operator}"
        for key, wanted in pairs.items():
            if key not in context:
                if operator.endswith("IfExists"):
                    continue
                return False
            if not any(iam_match(value, context[key]) if base.endswith("Like") else value == context[key] for value in as_list(wanted)):
                return False
    return True


def decision(policy_statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, str] | None = None) -> str:
    """IAM's answer for one request under these statements: "Deny" (explicit), "Allow" or "NotAllowed"."""
    matching = []
    for statement in policy_statements:
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        if (allows(as_list(statement["Action"]), action) and any(iam_match(pattern, resource) for pattern in as_list(statement["Resource"]))
                and condition_holds(statement.get("Condition", {}), context or {})):
            matching.append(statement["Effect"])
    return "Deny" if "Deny" in matching else "Allow" if matching else "NotAllowed"


def boundary_of(renders, case) -> tuple[str, list[dict[str, Any]]]:
    """The boundary policy's ARN and its resolved statements."""
    return boundary_in(render_of(renders, case), case.split("/")[0])


def boundary_in(render_dir: Path, service: str) -> tuple[str, list[dict[str, Any]]]:
    for label, stack, template, values in deployments_of(render_dir, service):
        if label == "deploy-role.yml":
            resolver = Resolver(template, stack, parameters=values)
            boundary = template["Resources"]["PermissionsBoundary"]
            return resolver({"Ref": "PermissionsBoundary"}), statements(resolver(boundary["Properties"]["PolicyDocument"]))
    raise AssertionError("no infra/deploy-role.yml")


def environment_roles(renders, case) -> list[tuple[str, str, dict[str, Any], Resolver]]:
    """(stack label, logical id, properties, resolver) of every role the environment stacks create."""
    service = case.split("/")[0]
    found = []
    for label, stack, template, values in deployments_of(render_of(renders, case), service):
        if label.startswith(("service.yml", "network.yml")):
            resolver = Resolver(template, stack, parameters=values)
            found += [(label, logical, resource["Properties"], resolver)
                      for logical, resource in resources_of_type(template, "AWS::IAM::Role").items()]
    return found


@pytest.mark.parametrize("case", CASES)
def test_every_environment_role_carries_the_boundary(renders, case):
    boundary, _ = boundary_of(renders, case)
    assert boundary == f"arn:aws:iam::{ACCOUNT}:policy/{case.split('/')[0]}-pipeline-boundary"
    roles = environment_roles(renders, case)
    assert len(roles) >= 4
    for label, logical, properties, resolver in roles:
        assert resolver(properties.get("PermissionsBoundary")) == boundary, (label, logical)


@pytest.mark.parametrize("service", SERVICES)
def test_the_serverless_transform_adds_no_role_without_the_boundary(renders, service):
    from test_target_lambda import expanded

    case = f"{service}/lambda"
    template = load_cfn(render_of(renders, case) / "infra" / "service.yml")
    roles = resources_of_type(expanded(template, service), "AWS::IAM::Role")
    assert len(roles) == 4
    for logical, role in roles.items():
        assert role["Properties"]["PermissionsBoundary"] == {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{service}-pipeline-boundary"}, logical


def condition_within(inner: dict[str, Any], outer: dict[str, Any]) -> bool:
    """Whether every request `inner` admits also meets `outer` (same operator and key, fewer values)."""
    return all(operator in inner and key in inner[operator] and set(as_list(inner[operator][key])) <= set(as_list(values))
               for operator, pairs in outer.items() for key, values in pairs.items())


def outside_the_boundary(render_dir: Path, service: str) -> tuple[int, list[str]]:
    """How many (action, resource) pairs the environment roles' Allow statements grant, and those the
    boundary does not cover (conditions included: the boundary's must hold for the role's)."""
    _, boundary = boundary_in(render_dir, service)
    checked, outside = 0, []
    for label, logical, _, document in resolved_policies(render_dir, service):
        if not label.startswith(("service.yml", "network.yml")):
            continue
        for statement in statements(document):
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    covered = [outer for outer in boundary if allows(as_list(outer["Action"]), action)
                               and any(iam_match(pattern, resource) for pattern in as_list(outer["Resource"]))
                               and condition_within(statement.get("Condition", {}), outer.get("Condition", {}))]
                    checked += 1
                    if not covered:
                        outside.append(f"{label} {logical} {statement.get('Sid')}: {action} on {resource}")
    return checked, outside


@pytest.mark.parametrize("case", CASES)
def test_the_boundary_allows_all_the_environment_roles_use(renders, case):
    """Every action on every resource an environment role's policies allow is within the boundary
    (else the boundary would break the service): checked statement by statement, conditions included."""
    checked, outside = outside_the_boundary(render_of(renders, case), case.split("/")[0])
    assert checked > 20 and not outside, "\n".join(outside)


def test_the_boundary_allows_what_every_combination_uses(matrix_renders):
    """The same over the whole matrix: every runtime, target and strategy, with the answers the gate rotates."""
    for render_dir in matrix_renders:
        checked, outside = outside_the_boundary(render_dir, "orders")
        assert checked >= 5 and not outside, f"{render_dir.name}:\n" + "\n".join(outside)


def test_the_boundary_names_actions_never_whole_services(renders):
    """Control Tower's CT.IAM.PR.3 refuses a customer managed policy that allows "service:*" or "*"."""
    for case in CASES:
        _, boundary = boundary_of(renders, case)
        actions = [action for statement in boundary if statement["Effect"] == "Allow" for action in as_list(statement["Action"])]
        assert actions and not [action for action in actions if action == "*" or action.endswith(":*")], case


@pytest.mark.parametrize("case", CASES)
def test_a_role_that_allows_everything_stays_within_the_boundary(renders, case):
    """What a commit could write into a role's policy ("Action": "*") meets the boundary: no IAM
    change, no other role, no other secret, no key outside the storage services, no other AWS service."""
    service = case.split("/")[0]
    boundary_arn, boundary = boundary_of(renders, case)
    role = f"arn:aws:iam::{ACCOUNT}:role/{service}"
    refused = [
        ("iam:CreateRole", f"{role}-admin", {}), ("iam:PutRolePolicy", f"{role}-task", {}),
        ("iam:AttachRolePolicy", f"{role}-function", {}), ("iam:DeleteRolePermissionsBoundary", f"{role}-task", {}),
        ("iam:CreatePolicyVersion", boundary_arn, {}), ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x", {}),
        ("iam:PassRole", f"{role}-pipeline-codebuild", {}), ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", {}),
        ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/admin", {}),
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:other/db-AbCdEf", {}),
        ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/other/key", {}),
        ("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234", {}),
        ("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234", {"kms:ViaService": f"lambda.{REGION}.amazonaws.com"}),
        ("organizations:LeaveOrganization", "*", {}), ("dynamodb:Scan", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/x", {}),
    ]
    for action, resource, context in refused:
        assert decision(boundary, action, resource, context) == "NotAllowed", (action, resource)
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{service}-stg/db-AbCdEf"
    assert decision(boundary, "secretsmanager:GetSecretValue", secret) == "Allow"
    assert decision(boundary, "kms:Decrypt", SECRETS_KEY, {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}) == "Allow"


@pytest.mark.parametrize("case", CASES)
def test_deploy_role_creates_and_changes_roles_only_with_the_boundary(renders, case):
    service = case.split("/")[0]
    boundary, _ = boundary_of(renders, case)
    deploy_role = [statement for label, logical, _, document in policies_of(renders, case)
                   if label == "deploy-role.yml" and logical in ("DeployRole", "DeployRoleIamPolicy") for statement in statements(document)]
    suffix = catalog.SERVICE_ROLE_SUFFIXES[answers_of(case)["target"]][0]
    role = f"arn:aws:iam::{ACCOUNT}:role/{service}-stg-{suffix}"
    bounded, other = {"iam:PermissionsBoundary": boundary}, {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/wide-open"}
    expected = [
        ("iam:CreateRole", role, bounded, "Allow"), ("iam:CreateRole", role, {}, "NotAllowed"), ("iam:CreateRole", role, other, "NotAllowed"),
        ("iam:PutRolePermissionsBoundary", role, bounded, "Allow"), ("iam:PutRolePermissionsBoundary", role, other, "NotAllowed"),
        ("iam:PutRolePolicy", role, bounded, "Allow"), ("iam:PutRolePolicy", role, other, "NotAllowed"),
        # A role made before v0.3.0 has no boundary until its stack's update (which sets it) is done.
        ("iam:PutRolePolicy", role, {}, "Allow"),
        ("iam:DeleteRolePermissionsBoundary", role, bounded, "Deny"),
        ("iam:AttachRolePolicy", role, bounded, "NotAllowed"),
        ("iam:CreatePolicyVersion", boundary, {}, "NotAllowed"), ("iam:DeletePolicy", boundary, {}, "NotAllowed"),
        ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/{service}-pipeline-codebuild", bounded, "Deny"),
        ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/{service}-stg-admin", bounded, "NotAllowed"),
    ]
    found = [(action, resource, context, decision(deploy_role, action, resource, context)) for action, resource, context, _ in expected]
    assert found == expected


@pytest.mark.parametrize("case", CASES)
def test_the_boundary_and_deploy_roles_iam_policy_fit_a_managed_policy(renders, case):
    """A managed policy may hold 6,144 characters, white space not counted ("IAM and AWS STS quotas")."""
    _, boundary = boundary_of(renders, case)
    documents = [{"Version": "2012-10-17", "Statement": boundary}] + [
        document for label, logical, _, document in policies_of(renders, case) if logical == "DeployRoleIamPolicy"]
    for document in documents:
        assert len(json.dumps(document, separators=(",", ":"))) <= 6144


# --------------------------------------------------------------------------- 2. names no other service shares


def patterns_of(policies) -> set[str]:
    """Every resource an Allow statement names, "*" aside (checked statement by statement elsewhere)."""
    return {resource for _, _, _, document in policies for statement in statements(document) if statement["Effect"] == "Allow"
            for resource in as_list(statement.get("Resource", [])) if resource != "*"}


def named_resources(renders, case) -> set[str]:
    """ARNs standing for the resources a service's policies name after it: each of its own patterns
    that contains its name, with every wildcard filled in."""
    service = case.split("/")[0]
    return {pattern.replace("*", "x1").replace("?", "z") for pattern in patterns_of(policies_of(renders, case))
            if re.search(rf"(?<![a-z0-9-]){re.escape(service)}(?![a-z0-9])", pattern)}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("ours", "theirs"), [("api", "api-gw"), ("api-gw", "api")])
def test_no_policy_covers_a_resource_of_a_service_whose_name_shares_a_prefix(renders, target, ours, theirs):
    their_resources = named_resources(renders, f"{theirs}/{target}")
    assert len(their_resources) > 10, "the other service's policies name its resources"
    covered = sorted(f"{pattern} covers {arn}" for pattern in patterns_of(policies_of(renders, f"{ours}/{target}"))
                     for arn in their_resources if iam_match(pattern, arn))
    assert not covered, "\n".join(covered)


@pytest.mark.parametrize("case", CASES)
def test_every_environment_role_is_one_the_pipeline_names(renders, case):
    """The pipeline's roles name the environments' roles one by one (catalog.SERVICE_ROLE_SUFFIXES)."""
    service, target = case.split("/")
    suffixes = catalog.SERVICE_ROLE_SUFFIXES[answers_of(case)["target"]] + catalog.NETWORK_ROLE_SUFFIXES
    names = []
    for label, stack, template, values in deployments_of(render_of(renders, case), service):
        if label.startswith(("service.yml", "network.yml")):
            resolver = Resolver(template, stack, parameters=values)
            environment = values.get("EnvironmentName") or values.get("FunctionName")
            for logical, resource in resources_of_type(template, "AWS::IAM::Role").items():
                name = resolver(resource["Properties"]["RoleName"])
                assert name in {f"{environment}-{suffix}" for suffix in suffixes}, (label, logical, name)
                names.append(name)
    assert len(names) >= 2 * len(catalog.SERVICE_ROLE_SUFFIXES["ec2"])


# --------------------------------------------------------------------------- 3. secrets per environment, the build's apart


def readers_of(policies, action: str, arn: str) -> set[str]:
    """The roles (as "stack label/logical id") whose Allow statements grant `action` on `arn`."""
    return {f"{label}/{logical}" for label, logical, _, document in policies for statement in statements(document)
            if statement["Effect"] == "Allow" and allows(as_list(statement["Action"]), action)
            and any(iam_match(pattern, arn) for pattern in as_list(statement.get("Resource", [])))}


@pytest.mark.parametrize("case", CASES)
def test_each_environment_reads_only_its_own_secrets_and_the_build_only_its_own(renders, case):
    service = case.split("/")[0]
    policies = policies_of(renders, case)
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{{}}-AbCdEf"
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{{}}"
    readers = {}
    for env, name in (("staging", f"{service}-stg"), ("prod", service)):
        readers[env] = readers_of(policies, "secretsmanager:GetSecretValue", secret.format(f"{name}/db"))
        readers[env + " parameter"] = (readers_of(policies, "ssm:GetParameter", parameter.format(f"{name}/api-key"))
                                       | readers_of(policies, "ssm:GetParameters", parameter.format(f"{name}/api-key")))
        assert readers[env], f"{env}'s app reads {name}/db"
        assert all(reader.startswith(f"service.yml[{env}]/") for reader in readers[env] | readers[env + " parameter"]), readers
    assert readers["staging parameter"] and readers["prod parameter"]
    shared = readers_of(policies, "secretsmanager:GetSecretValue", secret.format(f"{service}/shared"))
    assert {reader.split("/")[0] for reader in shared} == {"service.yml[staging]", "service.yml[prod]"}
    build = readers_of(policies, "secretsmanager:GetSecretValue", secret.format(f"{service}/ci/npm-token"))
    assert build == {"pipeline.yml/BuildRole"}
    buildspec = yaml.safe_load((render_of(renders, case) / "buildspec.yml").read_text())
    assert buildspec["env"]["secrets-manager"] == {"NPM_TOKEN": f"{service}/ci/npm-token"}
    assert "parameter-store" not in buildspec["env"]


# --------------------------------------------------------------------------- 8. customer managed keys of secrets


@pytest.mark.parametrize("case", CASES)
def test_roles_that_read_secrets_decrypt_them_through_the_secret_stores_only(renders, case):
    readers = 0
    for label, logical, _, document in policies_of(renders, case):
        allowed_here = [statement for statement in statements(document) if statement["Effect"] == "Allow"]
        if not any(allows(as_list(statement["Action"]), "secretsmanager:GetSecretValue") for statement in allowed_here):
            continue
        readers += 1
        decrypts = [statement for statement in allowed_here if allows(as_list(statement["Action"]), "kms:Decrypt")
                    and SECRETS_KEY in as_list(statement["Resource"])]
        assert len(decrypts) == 1, (label, logical)
        assert decrypts[0]["Condition"] == {"StringEquals": {"kms:ViaService": [
            "secretsmanager.eu-west-1.amazonaws.com", "ssm.eu-west-1.amazonaws.com"]}}
    assert readers >= 3, "the build and each environment's app read the secrets"
    assert SECRETS_KEY in (render_of(renders, case) / "README.md").read_text()


@pytest.mark.parametrize("value", ["alias/my-key", "arn:aws:kms:eu-west-1:111122223333:alias/my-key", f"{SECRETS_KEY},nope"])
def test_secrets_kms_keys_takes_key_arns_only(value):
    message = validation_message("secrets_kms_keys", value, secrets="DB=secretsmanager:db")
    assert "secrets_kms_keys" in message and "key ARNs" in message


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
    assert resources_of(reads) == [f"arn:aws:ssm:eu-west-1:111122223333:parameter/{case.split('/')[0]}/api-key"]
    sessions = granting(policies, "InstanceRole", "ssmmessages:OpenDataChannel")
    assert sessions and granting(policies, "InstanceRole", "ssm:UpdateInstanceInformation")


@pytest.mark.parametrize("case", EC2_CASES)
def test_codedeploy_changes_only_this_environments_auto_scaling_groups(renders, case):
    service = case.split("/")[0]
    policies = policies_of(renders, case)
    blue_green = case.endswith("blue_green")
    ours = [f"{service}-fleet", f"CodeDeploy_{service}_d-ABCDEF123"] if blue_green else [f"{service}-prod-service-AutoScalingGroup-A1B2C3"]
    theirs = [f"{service}-stg-fleet", f"{service}-gw-fleet", "CodeDeploy_other_d-ABCDEF123", f"CodeDeploy_{service}-gw_d-1",
              f"CodeDeploy_{service}-stg_d-1", f"{service}-staging-service-AutoScalingGroup-A1B2C3",
              f"{service}-gw-prod-service-AutoScalingGroup-A1B2C3", f"{service}-fleet" if not blue_green else "other-fleet"]
    for action in ("autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup", "autoscaling:CreateAutoScalingGroup"):
        patterns = resources_of(granting(policies, "CodeDeployRole", action, PROD))
        for group in ours:
            assert any(iam_match(pattern, f"{ASG}{group}") for pattern in patterns), (action, group, patterns)
        for group in theirs:
            assert not any(iam_match(pattern, f"{ASG}{group}") for pattern in patterns), (action, group)
    terminate = granting(policies, "CodeDeployRole", "ec2:TerminateInstances")
    assert terminate and all("aws:ResourceTag/aws:autoscaling:groupName" in statement["Condition"]["StringLike"] for statement in terminate)


# --------------------------------------------------------------------------- parliament

# What parliament (1.6.4; its IAM definitions date from 2023) reports that is not a defect, as
# (issue, policy's resource, text in the finding, why). Everything else it reports fails the test.
PARLIAMENT_EXPLAINED: list[tuple[str, str, str, str]] = [
    ("UNKNOWN_ACTION", "DeployRole", "ecs:StopServiceDeployment",
     "newer than parliament's definitions; cfn-lint's W3037 (the gate) knows it"),
    ("UNKNOWN_ACTION", "DeployRole", "lambda:GetFunctionScalingConfig",
     "newer than parliament's definitions; cfn-lint's W3037 (the gate) knows it"),
    ("INVALID_ARN", "", "Account expected to be of form like 123456789012",
     "the SAM transform's ARN, arn:aws:cloudformation:<region>:aws:transform/Serverless-2016-10-31, has the account 'aws'"),
    ("RESOURCE_STAR", "DeployRole", "ec2:Describe",
     "ReadWithoutResourceLevelPermission: read-only Describe calls, most of which take no resource"),
    ("RESOURCE_STAR", "CodeDeployRole", "cloudwatch:DescribeAlarms", "read-only; the alarms are named in the deployment group"),
    ("RESOURCE_STAR", "PipelineRoleEnvironmentsPolicy", "ecs:RegisterTaskDefinition",
     "a task definition's ARN has a revision that does not exist before the call; the family is scoped by TagNewTaskDefinitions"),
    ("RESOURCE_MISMATCH", "DeployRole", "ssm:GetParameters",
     "the public AMI parameter's ARN has no account (arn:aws:ssm:<region>::parameter/aws/service/...)"),
    ("RESOURCE_MISMATCH", "PipelineRole", "cloudformation:DescribeStack",
     "DescribeStack* also names StackSet actions; on stack ARNs only the stacks' own actions apply"),
    ("RESOURCE_MISMATCH", "PipelineRoleEnvironmentsPolicy", "cloudformation:DescribeStack",
     "DescribeStack* also names StackSet actions; on stack ARNs only the stacks' own actions apply"),
    ("RESOURCE_MISMATCH", "", "codestar-connections:",
     "connections made since 2024 have codeconnections ARNs; either prefix names the same connection"),
    ("RESOURCE_MISMATCH", "", "codedeploy:PutLifecycleEventHookExecutionStatus",
     "scoped to the deployment group, as CodeDeploy checks it (the digest); parliament knows no resource type"),
    ("RESOURCE_MISMATCH", "", "elasticloadbalancing:",
     "the statement names Application Load Balancer listeners and rules; parliament also expects the net/ formats"),
    ("RESOURCE_MISMATCH", "", "codedeploy:",
     "one statement names the application, deployment group and configuration; each action takes its own"),
    ("RESOURCE_MISMATCH", "CodeDeployRole", "ecs:CreateTaskSet",
     "kept to this environment's service, as the rest of the statement; parliament knows no resource type"),
    ("RESOURCE_MISMATCH", "SelfUpdateRole", "codepipeline:",
     "stage transitions are set on the pipeline, whose ARN the statement names"),
    ("RESOURCE_MISMATCH", "SelfUpdateRole", "s3:GetAccess",
     "s3:Get* (what the bucket's resource handler reads) also names access points and grants; on the bucket's ARN only"),
    ("RESOURCE_MISMATCH", "SelfUpdateRole", "sns:Unsubscribe", "on the topic the stack owns, whose subscriptions it manages"),
    ("RESOURCE_MISMATCH", "DeployRoleKeysPolicy", "sns:",
     "the alarm topics' subscriptions, by the topics' ARNs and their subscriptions' (<topic ARN>:*)"),
    ("RESOURCE_POLICY_PRIVILEGE_ESCALATION", "SelfUpdateRole", "artifactbucket",
     "the stack owns the artifact bucket and its policy (ArtifactBucketPolicy): CloudFormation sets them as infra/pipeline.yml says"),
]


def parliament_findings(policies) -> list[str]:
    import parliament

    found = []
    for label, logical, name, document in policies:
        for finding in parliament.analyze_policy_string(json.dumps(document)).findings:
            text = f"{finding.issue} {finding.detail}"
            if not any(issue == finding.issue and role in ("", logical) and detail in text
                       for issue, role, detail, _ in PARLIAMENT_EXPLAINED):
                found.append(f"{label} {logical} {name}: {text[:400]}")
    return sorted(set(found))


@pytest.mark.parametrize("case", CASES)
def test_parliament_finds_nothing_unexplained(renders, case):
    findings = parliament_findings(policies_of(renders, case))
    assert not findings, "\n".join(findings)


@pytest.mark.parametrize("case", CASES)
def test_parliament_on_the_boundary_finds_only_its_unscoped_resources(renders, case):
    """The boundary is a rendered policy too. Its one known finding is RESOURCE_STAR: it caps actions,
    and the roles' own policies name the resources (README, "What the roles may do")."""
    import parliament

    _, boundary = boundary_of(renders, case)
    findings = parliament.analyze_policy_string(json.dumps({"Version": "2012-10-17", "Statement": boundary})).findings
    assert {finding.issue for finding in findings} <= {"RESOURCE_STAR"}, [f"{f.issue} {f.detail}" for f in findings]


def test_parliament_reports_what_it_should():
    """The linter works: a statement granting everything is reported."""
    everything = ("x", "Role", "p", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]})
    assert parliament_findings([everything])
