"""infra/pipeline.yml and buildspec.yml: what the pipeline stack contains for each set of answers.

A covering set of answers (every target, strategy and ECS controller, every source provider,
staging, approval and notifications on and off, both architectures, every runtime) is
rendered once per module; each test reads those renders. One test runs cfn-lint, checkov and
yamllint once over all of them.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gate import tool
from helpers import (
    allows,
    answer_rules,
    as_list,
    catalog,
    environment_stage_statements,
    environments_of,
    handler_permissions,
    load_buildspec,
    load_cfn,
    load_pipeline,
    policy_statements,
    recorded_answers,
    resources_of_type,
)

SERVICE = "orders"
CONNECTION_ARN = "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
SECRETS = "DB_PASSWORD=secretsmanager:{env}/db,API_KEY=ssm:/orders/api-key"
BUILD_SECRETS = "NPM_TOKEN=secretsmanager:ci/npm-token,REGISTRY_TOKEN=ssm:/ci/registry-token"
EMAIL = "team@example.com"

ANSWER_SETS: dict[str, dict[str, Any]] = {
    "ec2-in_place-github": dict(
        target="ec2", strategy="in_place", source_provider="github", runtime="nodejs", architecture="arm64",
        staging=True, manual_approval=True, notification_email=EMAIL, secrets=SECRETS, build_secrets=BUILD_SECRETS),
    "ec2-blue_green-codecommit": dict(
        target="ec2", strategy="blue_green", source_provider="codecommit", runtime="python", architecture="x86_64",
        staging=False, manual_approval=False, notification_email=""),
    "ecs-rolling-gitlab": dict(
        target="ecs_fargate", strategy="rolling", source_provider="gitlab", runtime="java", architecture="x86_64",
        staging=True, manual_approval=False, notification_email=EMAIL),
    "ecs-blue_green-s3": dict(
        target="ecs_fargate", strategy="blue_green", source_provider="s3", runtime="go", architecture="arm64",
        staging=False, manual_approval=True, notification_email=""),
    "ecs-canary-bitbucket-existing-connection": dict(
        target="ecs_fargate", strategy="canary", source_provider="bitbucket", connection_arn=CONNECTION_ARN,
        runtime="nodejs", architecture="arm64", staging=True, manual_approval=True, notification_email=EMAIL,
        secrets=SECRETS),
    "ecs-linear-native-github": dict(
        target="ecs_fargate", strategy="linear", ecs_controller="ecs", source_provider="github", runtime="python",
        architecture="x86_64", staging=False, manual_approval=False, notification_email=""),
    "ecs-blue_green-native-codecommit": dict(
        target="ecs_fargate", strategy="blue_green", ecs_controller="ecs", source_provider="codecommit",
        runtime="go", architecture="arm64", staging=True, manual_approval=True, notification_email=""),
    "lambda-blue_green-s3": dict(
        target="lambda", strategy="blue_green", source_provider="s3", runtime="java", architecture="arm64",
        staging=True, manual_approval=True, notification_email=EMAIL),
    "lambda-canary-gitlab": dict(
        target="lambda", strategy="canary", source_provider="gitlab", runtime="go", architecture="x86_64",
        staging=False, manual_approval=True, notification_email=""),
    # AWS GovCloud (US) has no CodeStar Notifications: an EventBridge rule e-mails instead.
    "ecs-blue_green-s3-govcloud": dict(
        target="ecs_fargate", strategy="blue_green", source_provider="s3", runtime="python", architecture="x86_64",
        aws_region="us-gov-west-1", staging=True, manual_approval=True, notification_email=EMAIL),
    "lambda-linear-codecommit": dict(
        target="lambda", strategy="linear", source_provider="codecommit", runtime="nodejs", architecture="arm64",
        staging=True, manual_approval=False, notification_email=EMAIL, secrets=SECRETS, build_secrets=BUILD_SECRETS),
}
CASES = sorted(ANSWER_SETS)

# Event type ids from "Events for notification rules on pipelines" (Developer Tools console guide).
PIPELINE_EVENT_IDS = {
    f"codepipeline-pipeline-{suffix}"
    for suffix in (
        "action-execution-succeeded", "action-execution-failed", "action-execution-canceled", "action-execution-started",
        "stage-execution-started", "stage-execution-succeeded", "stage-execution-resumed", "stage-execution-canceled",
        "stage-execution-failed", "pipeline-execution-failed", "pipeline-execution-canceled",
        "pipeline-execution-started", "pipeline-execution-resumed", "pipeline-execution-succeeded",
        "pipeline-execution-superseded", "manual-approval-failed", "manual-approval-needed", "manual-approval-succeeded",
    )
}

# Actions IAM cannot scope to a resource: the only ones an Allow may grant on "*".
NO_RESOURCE_LEVEL_PERMISSION = {
    "ecr:GetAuthorizationToken",
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "ecs:ListTasks",
    "ecs:ListTaskDefinitions",  # ci/keep_deployed_images.py finds an environment's newest task definitions
    "logs:DescribeLogGroups",  # CloudFormation calls it for every log group a stack creates
    "logs:DescribeIndexPolicies",  # CloudFormation reads a log group's policies before it updates it
    "logs:DescribeResourcePolicies",
    "kms:ListAliases",  # CloudFormation reads an alias through the list of aliases
}

# Permissions AWS's resource handlers list for reading and updating a type that SelfUpdateRole
# does not grant, because the pipeline stack never uses the feature that needs them. A template
# change that starts using one must grant it (test_self_update_role_grants_what_the_handlers_need).
UNUSED_HANDLER_PERMISSIONS = {
    # Inline policies only; a permissions boundary, once set, is not this role's to lift.
    "AWS::IAM::Role": {"iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
                       "iam:DeleteRolePermissionsBoundary"},
    # The key stays enabled.
    "AWS::KMS::Key": {"kms:DisableKey", "kms:EnableKey"},
    # The repository is encrypted with the AWS managed key aws/ecr, which needs no grants.
    "AWS::ECR::Repository": {"kms:CreateGrant", "kms:RetireGrant"},
    # No data protection, index or resource policy, deletion protection, delivery or bearer token.
    "AWS::Logs::LogGroup": {"firehose:TagDeliveryStream", "logs:CreateLogDelivery", "logs:DeleteIndexPolicy",
                            "logs:DeleteResourcePolicy", "logs:PutBearerTokenAuthentication", "logs:PutDataProtectionPolicy",
                            "logs:PutIndexPolicy", "logs:PutLogGroupDeletionProtection", "logs:PutResourcePolicy",
                            "s3:REST.PUT.OBJECT"},
    # Settings the bucket never has, so never removes; no metadata tables.
    "AWS::S3::Bucket": {"s3:CreateBucketMetadataTableConfiguration", "s3:DeleteBucketAnalyticsConfiguration",
                        "s3:DeleteBucketCors", "s3:DeleteBucketEncryption", "s3:DeleteBucketLifecycle",
                        "s3:DeleteBucketMetadataTableConfiguration", "s3:DeleteBucketMetricsConfiguration",
                        "s3:DeleteBucketReplication", "s3:DeleteBucketWebsite",
                        "s3:UpdateBucketMetadataAnnotationTableConfiguration",
                        "s3:UpdateBucketMetadataInventoryTableConfiguration",
                        "s3:UpdateBucketMetadataJournalTableConfiguration", "s3tables:CreateNamespace",
                        "s3tables:CreateTable", "s3tables:CreateTableBucket", "s3tables:GetTable",
                        "s3tables:GetTableMetadataLocation", "s3tables:PutTableBucketPolicy",
                        "s3tables:PutTableEncryption", "s3tables:PutTablePolicy", "s3tables:UpdateTableMetadataLocation"},
}

# Name limits from each resource's CloudFormation reference (and the IAM / CloudFormation quotas).
NAME_LIMITS = {
    ("AWS::CodePipeline::Pipeline", "Name"): 100,
    ("AWS::CodeBuild::Project", "Name"): 150,
    ("AWS::CodeBuild::ReportGroup", "Name"): 128,
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::CodeConnections::Connection", "ConnectionName"): 32,
    ("AWS::CodeStarNotifications::NotificationRule", "Name"): 64,
    ("AWS::SNS::Topic", "TopicName"): 256,
    ("AWS::KMS::Alias", "AliasName"): 256,
    ("AWS::Events::Rule", "Name"): 64,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::ECR::Repository", "RepositoryName"): 256,
}


# --------------------------------------------------------------------------- helpers

YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 160}, document-start: disable, truthy: {check-keys: false}}}"


def yamllint_findings(paths: list[str]) -> list[str]:
    proc = subprocess.run([tool("yamllint"), "--format", "parsable", "--strict", "-d", YAMLLINT_CONFIG, *paths],
                          capture_output=True, text=True, check=False)
    return [f"yamllint: {line}" for line in proc.stdout.splitlines() if line.strip()]



def render_sets() -> dict[str, dict[str, Any]]:
    """Every answer set of ANSWER_SETS; conftest renders them once with the session's others."""
    return {case: {"service_name": SERVICE, **ANSWER_SETS[case]} for case in CASES}


def role_statements(template: dict[str, Any]):
    """(role logical id, statement) for every inline policy statement of every role, including
    both branches of a statement written as Fn::If."""
    for name, role in resources_of_type(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy_statements(policy["PolicyDocument"]):
                yield name, statement


def stages(template: dict[str, Any]) -> list[dict[str, Any]]:
    return template["Resources"]["Pipeline"]["Properties"]["Stages"]


def stage(template: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in stages(template) if item["Name"] == name)


def providers(stage_decl: dict[str, Any]) -> list[str]:
    return [action["ActionTypeId"]["Provider"] for action in stage_decl["Actions"]]


def uses_ecs_controller(answers: dict[str, Any]) -> bool:
    return answers["target"] == "ecs_fargate" and (
        answers["strategy"] == "rolling" or answers.get("ecs_controller") == "ecs")


def get_att(logical_id: str, attribute: str = "Arn") -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


# --------------------------------------------------------------------------- stages


@pytest.mark.parametrize("case", CASES)
def test_stages_follow_the_answers(renders, case):
    answers = ANSWER_SETS[case]
    expected = ["Source", "UpdatePipeline", "Build"]
    expected += ["Staging"] if answers["staging"] else []
    expected += ["ApproveProduction"] if answers["manual_approval"] else []
    expected += ["Production"]
    assert [item["Name"] for item in stages(load_pipeline(renders[case]))] == expected


@pytest.mark.parametrize("case", CASES)
def test_the_pipeline_deploys_its_own_definition_before_it_builds(renders, case):
    template = load_pipeline(renders[case])
    update = stage(template, "UpdatePipeline")
    action, deploy_role = sorted(update["Actions"], key=lambda a: a["RunOrder"])
    assert deploy_role["Configuration"] == {
        "ActionMode": "CREATE_UPDATE", "StackName": f"{SERVICE}-pipeline-deploy-role",
        "TemplatePath": "SourceOutput::infra/deploy-role.yml", "Capabilities": "CAPABILITY_NAMED_IAM",
        "RoleArn": get_att("SelfUpdateRole"),
        # The pipeline role's unique id names its environment-stage policy in that stack.
        "ParameterOverrides": {"Fn::Sub": '{"PipelineRoleId": "${PipelineRole.RoleId}"}'}}
    assert deploy_role["RunOrder"] > action["RunOrder"], "after the pipeline stack, whose role deploys it"
    assert action["ActionTypeId"] == {"Category": "Deploy", "Owner": "AWS", "Provider": "CloudFormation", "Version": "1"}
    assert action["Configuration"] == {
        "ActionMode": "CREATE_UPDATE",
        "StackName": {"Ref": "AWS::StackName"},  # whatever name the stack was first deployed under
        "TemplatePath": "SourceOutput::infra/pipeline.yml",
        "Capabilities": "CAPABILITY_NAMED_IAM",
        "RoleArn": get_att("SelfUpdateRole"),
    }
    assert [artifact["Name"] for artifact in action["InputArtifacts"]] == ["SourceOutput"]
    # A changed definition starts a run on it; the run that changed it ends.
    assert template["Resources"]["Pipeline"]["Properties"]["RestartExecutionOnUpdate"] is True
    # No parameter is passed, so every parameter must keep its value by its Default.
    assert "ParameterOverrides" not in action["Configuration"] and "TemplateConfiguration" not in action["Configuration"]
    assert all("Default" in spec for spec in template.get("Parameters", {}).values())
    # The pipeline role may update this stack only, and pass the role to CloudFormation only.
    statements = {s["Sid"]: s for role, s in role_statements(template) if role == "PipelineRole"}
    stacks = ["arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${AWS::StackName}/*",
              f"arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{SERVICE}-pipeline-deploy-role/*"]
    assert statements["UpdateThisStack"]["Resource"] == [{"Fn::Sub": arn} for arn in stacks]
    assert statements["PassSelfUpdateRole"]["Condition"]["StringEquals"]["iam:PassedToService"] == "cloudformation.amazonaws.com"


@pytest.mark.parametrize("case", CASES)
def test_self_update_role_may_create_and_attach_every_managed_policy_of_the_deploy_role_stack(renders, case):
    """SelfUpdateRole deploys infra/deploy-role.yml (stage UpdatePipeline): it must be allowed to create each
    managed policy that stack holds, and to attach to DeployRole those that name it (a reviewer found the
    keys policy missing: the stack, and every environment after it, would fail)."""
    statements = {s["Sid"]: s for role, s in role_statements(load_pipeline(renders[case])) if role == "SelfUpdateRole"}
    deploy_role = load_cfn(renders[case] / "infra" / "deploy-role.yml")["Resources"]
    policies = {res["Properties"]["ManagedPolicyName"]: res["Properties"].get("Roles", [])
                for res in deploy_role.values() if res["Type"] == "AWS::IAM::ManagedPolicy"}
    assert len(policies) == 3, "DeployRole's IAM and keys policies, and the permissions boundary"

    def arn(name: str) -> dict[str, str]:
        return {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{name}"}

    manage, attach = statements["ManageDeployRolePolicies"], statements["AttachDeployRolePolicy"]
    assert "iam:CreatePolicy" in manage["Action"] and "iam:AttachRolePolicy" in attach["Action"]
    attachable = attach["Condition"]["ArnEquals"]["iam:PolicyARN"]
    for name, roles in policies.items():
        assert arn(name) in manage["Resource"], name
        assert (arn(name) in attachable) == (roles == [{"Ref": "DeployRole"}]), name


@pytest.mark.parametrize("case", CASES)
def test_self_update_role_grants_what_the_resource_handlers_need(renders, case):
    """CloudFormation reads each resource, then updates it, with the stack's role: the role must grant
    what AWS's handlers of each type in the stack list for read and update, bar unused features."""
    template = load_pipeline(renders[case])
    actions = [action for role, s in role_statements(template) if role == "SelfUpdateRole" and s["Effect"] == "Allow"
               for action in as_list(s["Action"])]
    connection = ANSWER_SETS[case]["source_provider"] in {"github", "gitlab", "bitbucket"}
    missing = {}
    for type_name in sorted({resource["Type"] for resource in template["Resources"].values()}):
        needed = handler_permissions(type_name, ("read", "update")) - UNUSED_HANDLER_PERMISSIONS.get(type_name, set())
        if type_name == "AWS::CodePipeline::Pipeline" and not connection:
            needed -= {"codestar-connections:PassConnection"}  # only a connection source passes one
        if lacking := sorted(permission for permission in needed if not allows(actions, permission)):
            missing[type_name] = lacking
    assert missing == {}


@pytest.mark.parametrize("case", CASES)
def test_self_update_role_reaches_only_this_stacks_resources(renders, case):
    template = load_pipeline(renders[case])
    for _, statement in (item for item in role_statements(template) if item[0] == "SelfUpdateRole"):
        for resource in as_list(statement["Resource"]):
            text = str(resource)
            if resource == "*":
                continue  # limited to NO_RESOURCE_LEVEL_PERMISSION by test_no_statement_grants_everything
            assert "Fn::GetAtt" in text or "Ref" in text or f":{SERVICE}" in text or f"/{SERVICE}" in text \
                or "notificationrule/*" in text, f"{statement['Sid']}: {resource}"
            assert "iam::${AWS::AccountId}:role/*" not in text


@pytest.mark.parametrize("case", CASES)
def test_templates_the_pipeline_deploys_fit_cloudformations_template_body(renders, case):
    # "CloudFormation quotas": a template passed in the request body is at most 51,200 bytes.
    for path in (renders[case] / "infra").glob("*.yml"):
        assert len(path.read_bytes()) <= 51_200, path.name


@pytest.mark.parametrize("case", CASES)
def test_source_action_and_change_detection_match_the_provider(renders, case):
    answers = ANSWER_SETS[case]
    template = load_pipeline(renders[case])
    kind = catalog.SOURCE_PROVIDERS[answers["source_provider"]]["kind"]
    (action,) = stage(template, "Source")["Actions"]
    config = action["Configuration"]
    triggers = template["Resources"]["Pipeline"]["Properties"].get("Triggers")
    assert template["Resources"]["Pipeline"]["Properties"]["PipelineType"] == "V2"
    if kind == "connection":
        assert action["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
        assert config["OutputArtifactFormat"] == "CODE_ZIP"
        assert config["ConnectionArn"] == {"Fn::If": ["CreateConnection", get_att("Connection", "ConnectionArn"), {"Ref": "ConnectionArn"}]}
        # V2 triggers exist only for connection sources: a push to the branch, docs-only changes excluded.
        (trigger,) = triggers
        assert trigger["ProviderType"] == "CodeStarSourceConnection"
        assert trigger["GitConfiguration"]["SourceActionName"] == action["Name"]
        (push,) = trigger["GitConfiguration"]["Push"]
        assert push["Branches"]["Includes"] == ["main"]
        assert {"**/*.md", "docs/**"} <= set(push["FilePaths"]["Excludes"])
        assert "SourceChangedRule" not in template["Resources"]
    else:
        assert action["ActionTypeId"]["Provider"] == {"codecommit": "CodeCommit", "s3": "S3"}[kind]
        assert triggers is None
        assert config["PollForSourceChanges"] is False
        rule = template["Resources"]["SourceChangedRule"]["Properties"]
        assert rule["EventPattern"]["source"] == [f"aws.{kind}"]
        (target,) = rule["Targets"]
        assert target["RoleArn"] == get_att("SourceEventsRole")
        if kind == "s3":
            assert config == {"S3Bucket": f"{SERVICE}-source", "S3ObjectKey": f"{SERVICE}/source.zip", "PollForSourceChanges": False}


@pytest.mark.parametrize("case", [case for case in CASES if ANSWER_SETS[case]["source_provider"] in ("github", "gitlab", "bitbucket")])
def test_connection_is_created_unless_one_is_given(renders, case):
    answers = ANSWER_SETS[case]
    template = load_pipeline(renders[case])
    parameter = template["Parameters"]["ConnectionArn"]
    assert parameter["Default"] == answers.get("connection_arn", "")
    assert re.fullmatch(parameter["AllowedPattern"], "")
    assert re.fullmatch(parameter["AllowedPattern"], CONNECTION_ARN)
    connection = template["Resources"]["Connection"]
    assert connection["Type"] == "AWS::CodeConnections::Connection"
    assert connection["Condition"] == "CreateConnection"
    assert connection["Properties"]["ProviderType"] == catalog.SOURCE_PROVIDERS[answers["source_provider"]]["connection_type"]
    assert "ConnectionArn" in template["Outputs"]


def stack_action(action: dict[str, Any]) -> dict[str, Any]:
    return {key: action["Configuration"][key] for key in ("ActionMode", "StackName", "TemplatePath")}


@pytest.mark.parametrize("case", CASES)
def test_each_environment_deploys_its_stacks_before_its_new_version(renders, case):
    answers = ANSWER_SETS[case]
    template = load_pipeline(renders[case])
    for env in environments_of({"service_name": SERVICE, **answers}):
        actions = stage(template, env["title"])["Actions"]
        by_name = {action["Name"]: action for action in actions}
        if answers["target"] == "lambda":
            create, execute = actions
            assert providers({"Actions": actions}) == ["CloudFormation", "CloudFormation"]
            assert create["Configuration"]["ActionMode"] == "CHANGE_SET_REPLACE"
            assert create["Configuration"]["TemplatePath"] == "BuildOutput::packaged.yml"
            assert create["Configuration"]["TemplateConfiguration"] == f"SourceOutput::infra/environments/{env['key']}.json"
            assert create["Configuration"]["RoleArn"] == {
                "Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{SERVICE}-pipeline-cloudformation"}
            assert execute["Configuration"]["ActionMode"] == "CHANGE_SET_EXECUTE"
            assert create["RunOrder"] < execute["RunOrder"]
            for action in actions:
                assert action["Configuration"]["StackName"] == env["stack"]
            continue
        expected = (["DeployNetwork"] if answers.get("network", "create") == "create" else []) + ["DeployService"]
        expected += [] if uses_ecs_controller(answers) else ["Deploy"]
        assert [action["Name"] for action in sorted(actions, key=lambda a: a["RunOrder"])] == expected
        assert len({action["RunOrder"] for action in actions}) == len(actions), "one after the other"
        service = by_name["DeployService"]
        assert stack_action(service) == {"ActionMode": "CREATE_UPDATE", "StackName": env["stack"],
                                         "TemplatePath": "SourceOutput::infra/service.yml"}
        assert service["Configuration"]["TemplateConfiguration"] == f"SourceOutput::infra/environments/{env['key']}.json"
        assert service["Configuration"]["RoleArn"] == {
            "Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{SERVICE}-pipeline-cloudformation"}
        assert service["Configuration"]["Capabilities"] == "CAPABILITY_NAMED_IAM"
        if "DeployNetwork" in by_name:
            network = by_name["DeployNetwork"]
            assert stack_action(network) == {"ActionMode": "CREATE_UPDATE", "StackName": env["network_stack"],
                                             "TemplatePath": "SourceOutput::infra/network.yml"}
            assert network["Namespace"] == f"{env['title']}Network"
            assert json.loads(network["Configuration"]["ParameterOverrides"]) == {"EnvironmentName": env["name"]}
        if answers["target"] == "ec2":
            deploy = by_name["Deploy"]
            assert deploy["ActionTypeId"]["Provider"] == "CodeDeploy"
            assert deploy["Configuration"] == {"ApplicationName": env["name"], "DeploymentGroupName": env["name"]}
        elif not uses_ecs_controller(answers):
            deploy = by_name["Deploy"]
            assert deploy["ActionTypeId"]["Provider"] == "CodeDeployToECS"
            assert deploy["Configuration"] == {
                "ApplicationName": env["name"],
                "DeploymentGroupName": env["name"],
                "TaskDefinitionTemplateArtifact": "BuildOutput",
                # One task definition and appspec per environment: each names its own roles and hook.
                "TaskDefinitionTemplatePath": f"taskdef-{env['key']}.json",
                "AppSpecTemplateArtifact": "BuildOutput",
                "AppSpecTemplatePath": f"appspec-{env['key']}.yaml",
                "Image1ArtifactName": "BuildOutput",
                "Image1ContainerName": "IMAGE1_NAME",
            }


def parameter_overrides(action: dict[str, Any]) -> dict[str, str]:
    """An action's ParameterOverrides as data; a Fn::Sub is read as the text it substitutes into."""
    value = action["Configuration"].get("ParameterOverrides", "{}")
    return json.loads(value["Fn::Sub"] if isinstance(value, dict) else value)


def template_configuration(render_dir: Path, action: dict[str, Any]) -> dict[str, Any]:
    artifact, path = action["Configuration"]["TemplateConfiguration"].split("::")
    assert artifact == "SourceOutput", "the parameter files are in the repository"
    return json.loads((render_dir / path).read_text())


@pytest.mark.parametrize("case", CASES)
def test_every_parameter_of_a_deployed_stack_gets_a_value(renders, case):
    """Parsed, not grepped: each stack's parameters without a Default are all given, by the
    environment's parameter file or the action's overrides, and nothing given is unknown."""
    answers = ANSWER_SETS[case]
    render_dir = renders[case]
    template = load_pipeline(render_dir)
    service_parameters = load_cfn(render_dir / "infra" / "service.yml")["Parameters"]
    required = {name for name, spec in service_parameters.items() if "Default" not in spec}
    for env in environments_of({"service_name": SERVICE, **answers}):
        actions = {action["Name"]: action for action in stage(template, env["title"])["Actions"]}
        service = actions["CreateChangeSet" if answers["target"] == "lambda" else "DeployService"]
        from_file = template_configuration(render_dir, service)["Parameters"]
        overrides = parameter_overrides(service)
        given = set(from_file) | set(overrides)
        assert required <= given, f"{env['key']}: no value for {sorted(required - given)}"
        assert given <= set(service_parameters), f"{env['key']}: unknown {sorted(given - set(service_parameters))}"
        assert not set(from_file) & set(overrides), "one place for each value"
        assert from_file.get("EnvironmentName", from_file.get("FunctionName")) == env["name"]
        for name, value in overrides.items():
            if value.startswith("#{"):
                namespace = value[2:].split(".")[0]
                assert namespace in {"SourceVariables", "BuildVariables"} | {
                    a["Namespace"] for a in actions.values() if a["RunOrder"] < service["RunOrder"] and "Namespace" in a
                }, f"{name} reads {namespace}, which no earlier action sets"
        if "DeployNetwork" in actions:
            outputs = load_cfn(render_dir / "infra" / "network.yml")["Outputs"]
            passed = ["VpcId", "PublicSubnetIds", "PrivateSubnetIds"]
            if answers["target"] == "ec2" and answers["strategy"] == "in_place":
                passed.append("AvailabilityZones")  # the in-place Auto Scaling group names them
            for name in passed:
                assert overrides[name] == f"#{{{env['title']}Network.{name}}}" and name in outputs
            assert ("AvailabilityZones" in overrides) == ("AvailabilityZones" in passed)


@pytest.mark.parametrize("case", CASES)
def test_the_readme_deploys_with_one_command(renders, case):
    readme = (renders[case] / "README.md").read_text()
    deploy = readme[readme.index("\n## Deploy\n"):readme.index("\n## Update from the template\n")]
    assert re.findall(r"aws cloudformation deploy\b", deploy) == ["aws cloudformation deploy"]
    assert "--template-file infra/pipeline.yml" in deploy and f"--stack-name {SERVICE}-pipeline" in deploy
    # Nothing to create or pass by hand after it.
    for manual in ("--parameter-overrides", "aws ecr describe-images", "vpc-0123"):
        assert manual not in deploy, manual
    # The first run starts with the stack; a connection the stack creates is PENDING until its
    # handshake, so that run fails at Source and must be started again, after the handshake.
    answers = ANSWER_SETS[case]
    pending = catalog.SOURCE_PROVIDERS[answers["source_provider"]]["kind"] == "connection" and not answers.get("connection_arn")
    assert deploy.count("aws codepipeline start-pipeline-execution") == pending
    if pending:
        assert deploy.index("Update pending connection") < deploy.index(f"start-pipeline-execution --name {SERVICE}-pipeline")
    # An S3 source's upload events reach EventBridge only once the bucket sends them.
    if answers["source_provider"] == "s3":
        bucket = recorded_answers(renders[case])["source_bucket"]
        commands = re.findall(r"^   aws s3api (put-bucket-\S+) --bucket (\S+)", deploy, re.MULTILINE)
        assert commands == [("put-bucket-versioning", bucket), ("put-bucket-notification-configuration", bucket)]
        assert """--notification-configuration '{"EventBridgeConfiguration": {}}'""" in deploy
    assert "### Changing the infrastructure" in deploy and "RestartExecutionOnUpdate" in deploy


@pytest.mark.parametrize("case", CASES)
def test_parameter_files_are_template_configurations(renders, case):
    """CodePipeline's template configuration file: a JSON object whose Parameters map names to strings."""
    files = sorted((renders[case] / "infra" / "environments").glob("*.json"))
    environments = environments_of({"service_name": SERVICE, **ANSWER_SETS[case]})
    assert [path.stem for path in files] == sorted(env["key"] for env in environments)
    for path in files:
        document = json.loads(path.read_text())
        assert set(document) == {"Parameters"}
        assert all(isinstance(value, str) and value for value in document["Parameters"].values())


@pytest.mark.parametrize("case", [case for case in CASES if ANSWER_SETS[case]["target"] == "ecs_fargate"])
def test_the_ecs_service_stack_gets_the_image_its_controller_allows(renders, case):
    """CodeDeploy owns a CODE_DEPLOY service's task definitions: its stack keeps the seed image on
    every run. With the ECS controller the stack owns the image, and updating it is the deployment."""
    answers = ANSWER_SETS[case]
    template = load_pipeline(renders[case])
    build = stage(template, "Build")["Actions"][0]
    assert build["Namespace"] == "BuildVariables"
    assert load_buildspec(renders[case])["env"]["exported-variables"] == ["IMAGE_URI"]
    for env in environments_of({"service_name": SERVICE, **answers}):
        service = next(a for a in stage(template, env["title"])["Actions"] if a["Name"] == "DeployService")
        image = parameter_overrides(service)["ImageUri"]
        if uses_ecs_controller(answers):
            assert image == "#{BuildVariables.IMAGE_URI}"
        else:
            assert image == "${ImageRepository.RepositoryUri}:" + catalog.ECS_SEED_IMAGE_TAG


@pytest.mark.parametrize("case", [case for case in CASES if ANSWER_SETS[case]["manual_approval"]])
def test_approval_links_the_run_and_notifies_only_with_an_email(renders, case):
    answers = ANSWER_SETS[case]
    template = load_pipeline(renders[case])
    (action,) = stage(template, "ApproveProduction")["Actions"]
    assert action["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
    config = action["Configuration"]
    assert "#{codepipeline.PipelineExecutionId}" in config["ExternalEntityLink"]["Fn::Sub"]
    assert config["CustomData"]
    if answers["notification_email"]:
        assert config["NotificationArn"] == {"Ref": "NotificationTopic"}
    else:
        assert "NotificationArn" not in config


@pytest.mark.parametrize("case", CASES)
def test_notifications_exist_only_with_an_email(renders, case):
    answers = ANSWER_SETS[case]
    resources = load_pipeline(renders[case])["Resources"]
    names = ("NotificationTopic", "NotificationTopicPolicy", "PipelineNotifications")
    if not answers["notification_email"]:
        assert not any(name in resources for name in names)
        return
    topic = resources["NotificationTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == get_att("ArtifactKey")
    assert topic["Subscription"] == [{"Endpoint": answers["notification_email"], "Protocol": "email"}]
    allow = [s for s in resources["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    key_users = [s["Principal"] for s in resources["ArtifactKey"]["Properties"]["KeyPolicy"]["Statement"]
                 if s["Sid"] == "NotificationsPublishToEncryptedTopic"]
    rule = resources["PipelineNotifications"]
    if catalog.notifies_through_eventbridge(answers.get("aws_region", "us-east-1")):
        # The rule alone may publish; it matches this pipeline's finished runs (a rejected approval fails the run).
        assert [s["Principal"] for s in allow] == key_users == [{"Service": "events.amazonaws.com"}]
        assert allow[0]["Condition"] == {"ArnEquals": {"aws:SourceArn": get_att("PipelineNotifications")}}
        assert rule["Type"] == "AWS::Events::Rule"
        pattern = rule["Properties"]["EventPattern"]
        assert pattern == {"source": ["aws.codepipeline"], "detail-type": ["CodePipeline Pipeline Execution State Change"],
                           "detail": {"pipeline": [f"{SERVICE}-pipeline"], "state": ["FAILED", "SUCCEEDED"]}}
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Ref": "NotificationTopic"}
        assert set(re.findall(r"<(\w+)>", target["InputTransformer"]["InputTemplate"])) == set(target["InputTransformer"]["InputPathsMap"])
        return
    assert [s["Principal"] for s in allow] == key_users == [{"Service": "codestar-notifications.amazonaws.com"}]
    rule = rule["Properties"]
    assert set(rule["EventTypeIds"]) <= PIPELINE_EVENT_IDS
    assert {"codepipeline-pipeline-pipeline-execution-failed", "codepipeline-pipeline-pipeline-execution-succeeded"} <= set(rule["EventTypeIds"])
    assert rule["Targets"] == [{"TargetAddress": {"Ref": "NotificationTopic"}, "TargetType": "SNS"}]
    assert rule["Resource"]["Fn::Sub"].endswith(":${Pipeline}")


# --------------------------------------------------------------------------- IAM


@pytest.mark.parametrize("case", CASES)
def test_every_pass_role_names_roles_of_this_service_and_their_service(renders, case):
    template = load_pipeline(renders[case])
    own_roles = set(resources_of_type(template, "AWS::IAM::Role"))
    # Roles of the service stacks (ECS task roles) are named <environment>-<suffix>
    # (catalog.SERVICE_ROLE_SUFFIXES); the pipeline's own are named <service>-pipeline-<suffix>.
    environments = environments_of({"service_name": SERVICE, **ANSWER_SETS[case]})
    service_roles = {f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{env['name']}-{suffix}"
                     for env in environments for suffix in catalog.SERVICE_ROLE_SUFFIXES[ANSWER_SETS[case]["target"]]}
    pipeline_role = re.compile(rf"arn:\$\{{AWS::Partition\}}:iam::\$\{{AWS::AccountId\}}:role/{SERVICE}-pipeline-[a-z-]+")
    passes = [(role, s) for role, s in role_statements(template) if "iam:PassRole" in as_list(s["Action"])]
    environment_stages = environment_stage_statements(renders[case])
    passes += [("PipelineRole", s) for s in environment_stages.values() if "iam:PassRole" in as_list(s["Action"])]
    for role, statement in passes:
        assert statement["Effect"] == "Allow"
        assert as_list(statement["Action"]) == ["iam:PassRole"], f"{role}/{statement['Sid']}: PassRole stands alone"
        assert statement["Condition"]["StringEquals"]["iam:PassedToService"], f"{role}/{statement['Sid']}"
        for resource in as_list(statement["Resource"]):
            if "Fn::GetAtt" in resource:
                assert resource["Fn::GetAtt"][0] in own_roles and resource["Fn::GetAtt"][1] == "Arn"
            elif role == "SelfUpdateRole":
                assert pipeline_role.fullmatch(resource["Fn::Sub"]), f"{role}/{statement['Sid']}: only the stack's own roles"
            elif statement["Sid"] == "PassDeployRole":
                assert resource["Fn::Sub"].endswith(f"role/{SERVICE}-pipeline-cloudformation")
            else:
                assert resource["Fn::Sub"] in service_roles, f"{role}/{statement['Sid']}: {resource}"
    pipeline_passes = {s["Sid"]: s["Resource"] for role, s in passes if role == "PipelineRole"}
    assert pipeline_passes["PassSelfUpdateRole"] == get_att("SelfUpdateRole")
    # DeployRole is in the stack of infra/deploy-role.yml.
    assert pipeline_passes["PassDeployRole"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{SERVICE}-pipeline-cloudformation"}


@pytest.mark.parametrize("case", CASES)
def test_no_statement_grants_everything(renders, case):
    template = load_pipeline(renders[case])
    for role, statement in role_statements(template):
        actions = as_list(statement["Action"])
        resources = as_list(statement["Resource"])
        assert "*" not in actions, f"{role}/{statement.get('Sid')}"
        if statement["Effect"] == "Allow":
            assert not any(action.endswith(":*") for action in actions), f"{role}/{statement.get('Sid')}: a whole service"
            if "*" in resources:
                assert set(actions) <= NO_RESOURCE_LEVEL_PERMISSION, f"{role}/{statement.get('Sid')}: {actions} on *"
    for name, role in resources_of_type(template, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], f"{name}: every permission is inline and scoped"


@pytest.mark.parametrize("case", CASES)
def test_arns_take_the_partition_from_the_stack(renders, case):
    text = (renders[case] / "infra" / "pipeline.yml").read_text()
    text = text.replace(CONNECTION_ARN, "")  # the answered connection, a parameter default
    assert "arn:aws:" not in text
    assert "${AWS::Partition}" in text


KMS_DATA_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt")


@pytest.mark.parametrize("case", CASES)
def test_artifact_key_is_used_only_by_this_stacks_roles(renders, case):
    template = load_pipeline(renders[case])
    key = template["Resources"]["ArtifactKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = {s["Sid"]: s for s in key["KeyPolicy"]["Statement"]}
    admin = statements["AccountAdministersKey"]
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:*"} & set(admin["Action"]), "administrators do not read artifacts"
    users = statements["PipelineRolesUseKey"]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    named = {arn["Fn::Sub"].rsplit("/", 1)[1] for arn in users}
    roles = resources_of_type(template, "AWS::IAM::Role")
    key_roles = {
        res["Properties"]["RoleName"]
        for name, res in roles.items()
        if any(any(a.startswith(KMS_DATA_ACTIONS) for a in as_list(s["Action"])) for r, s in role_statements(template) if r == name)
    }
    # Lambda's DeployRole (infra/deploy-role.yml) reads the packaged code with the key, which it imports.
    deploy_stack = load_cfn(renders[case] / "infra" / "deploy-role.yml")
    key_roles |= {
        res["Properties"]["RoleName"]
        for name, res in resources_of_type(deploy_stack, "AWS::IAM::Role").items()
        if any(any(a.startswith(KMS_DATA_ACTIONS) for a in as_list(s["Action"])) and "ArtifactKeyArn" in json.dumps(s["Resource"])
               for r, s in role_statements(deploy_stack) if r == name)
    }
    assert named == key_roles, "the roles that encrypt or decrypt with the key, and only they, are its users"


@pytest.mark.parametrize("case", CASES)
def test_artifact_bucket_is_encrypted_private_and_expiring(renders, case):
    resources = load_pipeline(renders[case])["Resources"]
    bucket = resources["ArtifactBucket"]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"] == {"KMSMasterKeyID": get_att("ArtifactKey"), "SSEAlgorithm": "aws:kms"}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True} and len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)

    def expiring(key: str) -> list[str]:
        return [rule["Id"] for rule in rules if "ExpirationInDays" in rule and key.startswith(rule.get("Prefix", ""))]

    # Old versions and unfinished uploads go everywhere; current objects expire, except the Lambda code
    # packages that rolling a service stack back needs (its previous template names them).
    (everywhere,) = [rule for rule in rules if "Prefix" not in rule]
    assert everywhere["NoncurrentVersionExpiration"] and everywhere["AbortIncompleteMultipartUpload"]
    assert expiring(f"{SERVICE}-pipeline/BuildOutpu/abc.zip") == ["ExpireOldArtifacts"]
    assert expiring(f"{catalog.ARTIFACT_BUCKET_PREFIXES['test_reports']}/x.xml") == ["ExpireOldTestReports"]
    assert expiring(f"{catalog.ARTIFACT_BUCKET_PREFIXES['lambda_code']}/0123abcd") == []
    assert all(rule["ExpirationInDays"] == {"Ref": "ArtifactRetentionDays"} for rule in rules if "ExpirationInDays" in rule)
    denies = {s["Sid"]: s for s in resources["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]}
    assert denies["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert denies["DenyNonKmsEncryption"]["Condition"]["StringNotEquals"] == {"s3:x-amz-server-side-encryption": "aws:kms"}
    assert all(s["Effect"] == "Deny" for s in denies.values())
    assert resources["Pipeline"]["Properties"]["ArtifactStore"]["EncryptionKey"] == {"Id": get_att("ArtifactKey"), "Type": "KMS"}


# --------------------------------------------------------------------------- build


@pytest.mark.parametrize("case", CASES)
def test_build_project_runs_on_the_answered_architecture(renders, case):
    answers = ANSWER_SETS[case]
    project = load_pipeline(renders[case])["Resources"]["BuildProject"]["Properties"]
    arch = catalog.ARCHITECTURES[answers["architecture"]]
    environment = project["Environment"]
    assert environment["Image"] == arch["codebuild_image"]
    assert environment["Type"] == arch["codebuild_environment_type"]
    assert environment["ComputeType"] == "BUILD_GENERAL1_SMALL"
    assert environment["PrivilegedMode"] is (answers["target"] == "ecs_fargate")
    assert project["Name"] == f"{SERVICE}-build"
    assert project["EncryptionKey"] == get_att("ArtifactKey")
    assert project["ServiceRole"] == get_att("BuildRole")
    assert project["LogsConfig"]["CloudWatchLogs"] == {"GroupName": {"Ref": "BuildLogGroup"}, "Status": "ENABLED"}


@pytest.mark.parametrize("architecture", sorted(catalog.ARCHITECTURES))
def test_both_architectures_pick_their_codebuild_image(render_service, architecture):
    project_dir = render_service(service_name=SERVICE, target="lambda", strategy="canary", architecture=architecture)
    environment = load_pipeline(project_dir)["Resources"]["BuildProject"]["Properties"]["Environment"]
    assert (environment["Image"], environment["Type"]) == (
        catalog.ARCHITECTURES[architecture]["codebuild_image"],
        catalog.ARCHITECTURES[architecture]["codebuild_environment_type"],
    )


@pytest.mark.parametrize("case", CASES)
def test_buildspec_reports_feed_the_report_group(renders, case):
    answers = ANSWER_SETS[case]
    template = load_pipeline(renders[case])
    buildspec = load_buildspec(renders[case])
    (key,) = buildspec["reports"]
    assert key.startswith("$"), "the report group's ARN comes from the build project"
    variables = {v["Name"]: v for v in template["Resources"]["BuildProject"]["Properties"]["Environment"]["EnvironmentVariables"]}
    assert variables[key[1:]] == {"Name": key[1:], "Type": "PLAINTEXT", "Value": get_att("TestReportGroup")}
    report = buildspec["reports"][key]
    runtime = catalog.runtime_row(answers["runtime"], catalog.default_runtime_version(answers["runtime"]))
    assert report == {"files": runtime["test_report"]["files"], "file-format": runtime["test_report"]["format"]}
    group = template["Resources"]["TestReportGroup"]["Properties"]
    assert group["Type"] == "TEST"
    assert group["ExportConfig"]["S3Destination"]["Bucket"] == {"Ref": "ArtifactBucket"}
    assert group["ExportConfig"]["S3Destination"]["EncryptionKey"] == get_att("ArtifactKey")
    assert group["ExportConfig"]["S3Destination"]["EncryptionDisabled"] is False
    grants = [s for role, s in role_statements(template) if role == "BuildRole" and "codebuild:BatchPutTestCases" in as_list(s["Action"])]
    assert [s["Resource"] for s in grants] == [get_att("TestReportGroup")]


@pytest.mark.parametrize("case", CASES)
def test_buildspec_runs_the_runtime_and_the_targets_packaging(renders, case):
    answers = ANSWER_SETS[case]
    buildspec = load_buildspec(renders[case])
    runtime = catalog.runtime_row(answers["runtime"], catalog.default_runtime_version(answers["runtime"]))
    phases = buildspec["phases"]
    assert buildspec["version"] == 0.2
    assert phases["install"]["runtime-versions"] == {runtime["codebuild_key"]: runtime["codebuild_version"]}
    assert phases["install"].get("commands", []) == runtime["install_commands"]
    assert phases["pre_build"]["commands"] == runtime["test_commands"]
    assert phases["build"]["commands"][: len(runtime["build_commands"])] == runtime["build_commands"]
    assert buildspec["cache"]["paths"] == runtime["cache_paths"]
    if answers["runtime"] == "go":
        # CodeBuild's standard images set GOPATH=/go (aws-reference.md): module downloads land there.
        assert "/go/pkg/mod/**/*" in buildspec["cache"]["paths"]
        assert not any(path.startswith("/root/go/") for path in buildspec["cache"]["paths"])
    assert buildspec["env"].get("variables", {}).items() >= runtime["build_env"].items()
    files = buildspec["artifacts"]["files"]
    if answers["target"] == "ec2":
        assert files == ["appspec.yml", "scripts/**/*", *runtime["bundle_paths"]]
    elif uses_ecs_controller(answers):
        assert files == ["imageDetail.json"]
    elif answers["target"] == "ecs_fargate":
        environments = [env["key"] for env in answer_rules.derived_names(SERVICE, answers["staging"])["environments"]]
        assert sorted(files) == sorted(["imageDetail.json", *(f"taskdef-{key}.json" for key in environments),
                                        *(f"appspec-{key}.yaml" for key in environments)])
    else:
        assert files == ["packaged.yml"]
        assert any(c.startswith("aws cloudformation package --template-file infra/service.yml") for c in phases["build"]["commands"])


# --------------------------------------------------------------------------- names and secrets


@pytest.mark.parametrize("target", ["ecs_fargate", "lambda"])
def test_names_stay_within_aws_limits_for_the_longest_service_name(render_service, target):
    longest = "a" * answer_rules.SERVICE_NAME_MAX
    project_dir = render_service(
        service_name=longest, target=target, staging=True, manual_approval=True,
        notification_email=EMAIL, source_provider="bitbucket")
    template = load_pipeline(project_dir)
    checked = 0
    for res in template["Resources"].values():
        for (type_name, prop), limit in NAME_LIMITS.items():
            if res["Type"] == type_name and prop in res["Properties"]:
                value = res["Properties"][prop]
                assert isinstance(value, str) and len(value) <= limit, f"{type_name}.{prop} {value!r}"
                checked += 1
    assert checked >= 10
    names = answer_rules.derived_names(longest, True)
    stacks = [names["pipeline_stack"]] + [env["stack"] for env in names["environments"]]
    assert len(set(stacks)) == len(stacks), "the pipeline stack is never named like a service stack"
    assert all(len(name) <= 128 for name in stacks)
    for env in names["environments"]:
        assert not env["stack"].startswith(names["pipeline_stack"] + "-")
    # The longest names still fit the 160-column lines of the service's .yamllint.
    assert not yamllint_findings([str(project_dir / "infra" / "pipeline.yml"), str(project_dir / "buildspec.yml")])


# The answers that make the stacks largest: the longest name, both environments, every option that
# adds a statement or a resource, and the longest source (a Bitbucket connection that exists).
LARGEST = dict(service_name="a" * answer_rules.SERVICE_NAME_MAX, staging=True, manual_approval=True,
               notification_email="platform-team@example.com", source_provider="bitbucket", repository="my-org/orders",
               connection_arn="arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
               secrets="DB_PASSWORD=secretsmanager:{env}/db,API_KEY=ssm:/{env}/api-key,SHARED=secretsmanager:shared/x",
               build_secrets="NPM_TOKEN=secretsmanager:ci/npm-token,GH_TOKEN=ssm:/ci/gh-token",
               secrets_kms_keys="arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d")


@pytest.mark.parametrize("target", [dict(target="ecs_fargate", strategy="linear", ecs_controller="codedeploy"),
                                    dict(target="ecs_fargate", strategy="linear", ecs_controller="ecs"),
                                    dict(target="ec2", strategy="blue_green"), dict(target="lambda", strategy="linear")],
                         ids=["ecs-codedeploy", "ecs-native", "ec2", "lambda"])
def test_the_largest_answers_fit_cloudformations_and_iams_quotas(render_service, target):
    """Every template within the 51,200 bytes of a request body ("CloudFormation quotas"), and the
    pipeline role's inline policies (infra/pipeline.yml's and infra/deploy-role.yml's) within IAM's
    10,240 characters per role ("IAM and AWS STS quotas")."""
    from policies import Resolver

    project_dir = render_service(**LARGEST, **target)
    sizes = {path.name: len(path.read_bytes()) for path in (project_dir / "infra").glob("*.yml")}
    assert {"pipeline.yml", "deploy-role.yml", "service.yml"} <= set(sizes)
    assert all(size <= 51_200 for size in sizes.values()), sizes
    pipeline, deploy_role = load_pipeline(project_dir), load_cfn(project_dir / "infra" / "deploy-role.yml")
    resolve = Resolver(pipeline, "a" * answer_rules.SERVICE_NAME_MAX + "-pipeline")
    documents = [policy["PolicyDocument"] for policy in pipeline["Resources"]["PipelineRole"]["Properties"]["Policies"]]
    documents += [resource["Properties"]["PolicyDocument"] for resource in resources_of_type(deploy_role, "AWS::IAM::RolePolicy").values()]
    assert len(documents) == 2
    assert sum(len(json.dumps(resolve(document), separators=(",", ":"))) for document in documents) <= 10_240


@pytest.mark.parametrize("case", [case for case in CASES if ANSWER_SETS[case].get("secrets")])
def test_the_build_reads_its_own_secrets_by_reference_and_never_the_apps(renders, case):
    template = load_pipeline(renders[case])
    env = load_buildspec(renders[case]).get("env", {})
    grants = {s["Sid"]: s for role, s in role_statements(template) if role == "BuildRole"}
    if ANSWER_SETS[case].get("build_secrets"):
        assert env["secrets-manager"] == {"NPM_TOKEN": "ci/npm-token"}
        assert env["parameter-store"] == {"REGISTRY_TOKEN": "/ci/registry-token"}
        assert grants["ReadBuildSecrets"]["Action"] == "secretsmanager:GetSecretValue"
        assert [r["Fn::Sub"].rsplit(":", 1)[1] for r in grants["ReadBuildSecrets"]["Resource"]] == ["ci/npm-token-??????"]
        assert grants["ReadBuildParameters"]["Action"] == "ssm:GetParameters"
        assert [r["Fn::Sub"].rsplit(":", 1)[1] for r in grants["ReadBuildParameters"]["Resource"]] == ["parameter/ci/registry-token"]
    else:
        assert not {"secrets-manager", "parameter-store"} & set(env)
        assert not {"ReadBuildSecrets", "ReadBuildParameters"} & set(grants)
    # The app's secrets reach neither the build's environment nor any role of the pipeline stack.
    assert not {"DB_PASSWORD", "API_KEY"} & {*env.get("secrets-manager", {}), *env.get("parameter-store", {}), *env.get("variables", {})}
    project_variables = template["Resources"]["BuildProject"]["Properties"]["Environment"]["EnvironmentVariables"]
    assert not {"DB_PASSWORD", "API_KEY", "NPM_TOKEN", "REGISTRY_TOKEN"} & {v["Name"] for v in project_variables}
    pipeline_text = (renders[case] / "infra" / "pipeline.yml").read_text()
    assert "/db-??????" not in pipeline_text and "parameter/orders/api-key" not in pipeline_text
    for path in (renders[case] / "buildspec.yml", renders[case] / "infra" / "pipeline.yml"):
        # The names appear only as the keys of secrets-manager / parameter-store, never as VAR=value.
        assert not re.search(r"(DB_PASSWORD|API_KEY|NPM_TOKEN|REGISTRY_TOKEN)\s*=", path.read_text()), path


# --------------------------------------------------------------------------- the gate tools



def test_cfn_lint_checkov_and_yamllint_find_nothing(gate_run, renders):
    """The session's one run of each tool, read for this module's renders."""
    group = [renders[case] for case in CASES]
    findings: list[str] = []
    linted, lint_findings = gate_run.within("cfn-lint", group)
    assert sum(path.name == "pipeline.yml" for path in linted) == len(CASES)
    checked, checkov_findings = gate_run.within("checkov", group)
    assert any(file.endswith("/infra/pipeline.yml") for file, _ in checked), "checkov checked the pipeline stacks"
    yaml_files, yaml_findings = gate_run.within("yamllint", group)
    assert sum(path.name in ("pipeline.yml", "buildspec.yml") for path in yaml_files) == 2 * len(CASES)
    findings = [f"cfn-lint: {line}" for line in lint_findings] + [f"checkov: {line}" for line in checkov_findings] + yaml_findings
    assert not findings, "\n".join(findings)
