"""Target lambda: the SAM service stack, its CodeDeploy traffic shifting and hooks, the pipeline's
deploy role and deploy actions, and the README's deploy steps.

Every Lambda combination (each runtime x all-at-once, canary and linear with predefined and with
custom percent/minutes x staging on and off; the other answers rotate) is rendered once for the
module; each gate tool runs once over all of them. The hooks' code runs against stand-in clients,
and against the rendered Node.js and Python handlers themselves.
"""

from __future__ import annotations

import fnmatch
import importlib
import io
import itertools
import json
import math
import os
import re
import shlex
import subprocess
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from samtranslator.model.preferences.deployment_preference_collection import CODEDEPLOY_PREDEFINED_CONFIGURATIONS_LIST

import gate
from helpers import answer_rules, as_list, catalog, choice_values, deploy_policies, environments_of, load_pipeline, load_service, render, report, resources_of_type

SERVICE = "orders"
REGION = "us-east-1"
ACCOUNT = "123456789012"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}

# Strategy answers, and what each must become. The predefined names are those of "Working with
# deployment configurations in CodeDeploy" (Lambda) without "CodeDeployDefault.Lambda", as SAM's
# DeploymentPreference.Type takes them; other values need a custom configuration.
VARIANTS: dict[str, dict[str, Any]] = {
    "all_at_once": {"strategy": "blue_green"},
    "canary_predefined": {"strategy": "canary", "canary_percent": 10, "canary_minutes": 5},
    "canary_custom": {"strategy": "canary", "canary_percent": 20, "canary_minutes": 7},
    "linear_predefined": {"strategy": "linear", "linear_percent": 10, "linear_minutes": 1},
    "linear_custom": {"strategy": "linear", "linear_percent": 15, "linear_minutes": 2},
}
EXPECTED_TYPE: dict[str, Any] = {
    "all_at_once": "AllAtOnce",
    "canary_predefined": "Canary10Percent5Minutes",
    "canary_custom": {"TimeBasedCanary": {"CanaryInterval": 7, "CanaryPercentage": 20}, "Type": "TimeBasedCanary"},
    "linear_predefined": "Linear10PercentEvery1Minute",
    "linear_custom": {"TimeBasedLinear": {"LinearInterval": 2, "LinearPercentage": 15}, "Type": "TimeBasedLinear"},
}
# Every predefined Lambda configuration ("Working with deployment configurations in CodeDeploy").
PREDEFINED = {
    ("canary", 10, 5): "Canary10Percent5Minutes",
    ("canary", 10, 10): "Canary10Percent10Minutes",
    ("canary", 10, 15): "Canary10Percent15Minutes",
    ("canary", 10, 30): "Canary10Percent30Minutes",
    ("linear", 10, 1): "Linear10PercentEvery1Minute",
    ("linear", 10, 2): "Linear10PercentEvery2Minutes",
    ("linear", 10, 3): "Linear10PercentEvery3Minutes",
    ("linear", 10, 10): "Linear10PercentEvery10Minutes",
}

HOOK_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "lambda:InvokeFunction", "codedeploy:PutLifecycleEventHookExecutionStatus"}
# What Lambda does with a function's role in a VPC (granted only when SubnetIds is given).
VPC_ACTIONS = {"ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
               "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses"}


def _combos() -> list[tuple[str, dict[str, Any]]]:
    combos = []
    runtimes = choice_values("runtime")
    for index, (runtime, variant, staging) in enumerate(itertools.product(runtimes, VARIANTS, (True, False))):
        versions = catalog.runtime_versions(runtime)
        answers = {
            **gate.ROTATING_ANSWERS[index % len(gate.ROTATING_ANSWERS)],
            "service_name": SERVICE,
            "target": "lambda",
            "runtime": runtime,
            "runtime_version": versions[index % len(versions)],
            "staging": staging,
            **VARIANTS[variant],
        }
        combos.append((f"{runtime}-{variant}-{'staging' if staging else 'prod'}", answers))
    return combos


COMBOS = dict(_combos())
CASES = sorted(COMBOS)


def render_sets() -> dict[str, dict[str, Any]]:
    """This module's answer sets; conftest renders them once with the session's others."""
    return dict(COMBOS)


# --------------------------------------------------------------------------- helpers


def expanded(template: dict[str, Any], function_name: str) -> dict[str, Any]:
    """The template as CloudFormation deploys it for the function `function_name`."""
    return gate.sam_expanded(template, {"FunctionName": function_name})


def sub(value: Any, variables: dict[str, str]) -> str:
    """A literal, {"Fn::Sub": ...} or {"Ref": ...} as a string, with `variables` (and the pseudo parameters) put in."""
    known = {**PSEUDO, **variables}
    if isinstance(value, dict) and "Ref" in value:
        return known.get(value["Ref"], "${" + value["Ref"] + "}")
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        assert isinstance(text, str), value
        return re.sub(r"\$\{([^}]+)\}", lambda m: known.get(m.group(1), m.group(0)), text)
    assert isinstance(value, str), value
    return value


def policy_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    """A role's inline statements; one written as Fn::If counts with both branches."""
    from helpers import policy_statements as document_statements

    return [statement for policy in role["Properties"]["Policies"] for statement in document_statements(policy["PolicyDocument"])]


# --------------------------------------------------------------------------- the gate


def test_the_variants_cover_every_lambda_strategy():
    assert {v["strategy"] for v in VARIANTS.values()} == set(catalog.target_strategies("lambda"))
    assert set(catalog.target_strategies("lambda")) <= set(choice_values("strategy"))
    assert len(CASES) == len(choice_values("runtime")) * len(VARIANTS) * 2


def test_every_combination_renders_a_sam_service_stack(renders):
    for case, render_dir in renders.items():
        template = load_service(render_dir)
        assert template["Transform"] == "AWS::Serverless-2016-10-31", case
        assert sorted(p.name for p in (render_dir / "infra").glob("*.yml")) == ["deploy-role.yml", "pipeline.yml", "service.yml"], case
        assert not (render_dir / "appspec.yml").exists() and not (render_dir / "appspec.yaml").exists(), case


def test_cfn_lint_with_the_sam_transform_finds_nothing(module_gate, renders):
    files, findings = module_gate("cfn-lint")
    assert len(files) == 3 * len(renders)
    assert not findings, report(findings)


def test_checkov_finds_nothing(module_gate, renders):
    checked, failures = module_gate("checkov")
    # Each service stack alone has more than 15 resources (function, hooks, roles, alarms, log groups).
    assert len(checked) > 15 * len(renders)
    assert not failures, report(failures)


def test_shellcheck_finds_nothing(module_gate, renders):
    _, findings = module_gate("shellcheck")
    assert not findings, report(findings)


def test_yamllint_finds_nothing(module_gate, renders):
    files, findings = module_gate("yamllint")
    assert sum(path.name == "service.yml" for path in files) == len(renders)
    assert not findings, report(findings)


def test_buildspecs_match_their_schema(module_gate, renders):
    files, findings = module_gate("schemas")
    assert sum(path.name == "buildspec.yml" for path in files) == len(renders)
    assert not findings, report(findings)


@pytest.mark.parametrize("case", CASES)
def test_rendered_files_read_as_written_by_hand(renders, case):
    render_dir = renders[case]
    for name in ("infra/service.yml", "infra/pipeline.yml", "buildspec.yml", "README.md"):
        text = (render_dir / name).read_text()
        assert "\n\n\n" not in text and text.endswith("\n") and not text.endswith("\n\n"), name
    lines = (render_dir / "infra" / "service.yml").read_text().splitlines()
    sections = [index for index, line in enumerate(lines) if re.fullmatch(r"[A-Za-z]+:.*", line)]
    assert [lines[i].split(":")[0] for i in sections] == [
        "AWSTemplateFormatVersion", "Transform", "Description", "Parameters", "Rules", "Conditions", "Resources", "Outputs"]
    start = lines.index("Resources:")
    resources = [index for index in range(start + 1, lines.index("Outputs:")) if re.fullmatch(r"  [A-Za-z0-9]+:", lines[index])]
    assert len(resources) >= 10
    for index in resources:
        above = index - 1
        while lines[above].startswith("  #"):
            above -= 1
        assert lines[above] == ("Resources:" if index == resources[0] else ""), f"{lines[index]} is not set apart by a blank line"


# --------------------------------------------------------------------------- traffic shifting


@pytest.mark.parametrize("case", CASES)
def test_deployment_preference_matches_the_strategy_answers(renders, case):
    variant = case.split("-")[1]
    template = load_service(renders[case])
    preference = template["Resources"]["Function"]["Properties"]["DeploymentPreference"]
    configs = resources_of_type(template, "AWS::CodeDeploy::DeploymentConfig")
    expected = EXPECTED_TYPE[variant]
    if isinstance(expected, str):
        assert preference["Type"] == expected
        assert expected in CODEDEPLOY_PREDEFINED_CONFIGURATIONS_LIST
        assert not configs, "a predefined configuration needs no custom one"
    else:
        ((name, config),) = configs.items()
        assert preference["Type"] == {"Ref": name}
        assert config["Properties"]["ComputePlatform"] == "Lambda"
        assert config["Properties"]["TrafficRoutingConfig"] == expected
        assert "MinimumHealthyHosts" not in config["Properties"]
        # The name carries the values, so changing them replaces the configuration without a name clash.
        values = re.findall(r"\d+", json.dumps(expected))
        assert all(value in config["Properties"]["DeploymentConfigName"]["Fn::Sub"] for value in values)


@pytest.mark.parametrize(("strategy", "percent", "minutes"), sorted(PREDEFINED))
def test_every_predefined_lambda_configuration_maps_to_its_sam_type(strategy, percent, minutes):
    config = catalog.traffic_config("Lambda", strategy, percent, minutes)
    assert config["custom"] is None
    assert catalog.sam_deployment_type(config["predefined"]) == PREDEFINED[(strategy, percent, minutes)]
    assert PREDEFINED[(strategy, percent, minutes)] in CODEDEPLOY_PREDEFINED_CONFIGURATIONS_LIST


@pytest.mark.parametrize("case", CASES)
def test_the_alias_rolls_back_on_alarms_about_the_new_version(renders, case):
    template = load_service(renders[case])
    resources = template["Resources"]
    function = resources["Function"]["Properties"]
    assert function["AutoPublishAlias"] == catalog.LAMBDA_ALIAS
    assert function["AutoPublishAliasAllProperties"] is True
    alarms = function["DeploymentPreference"]["Alarms"]
    assert len(alarms) == 2
    metrics = {}
    for ref in alarms:
        alarm = resources[ref["Ref"]]
        assert alarm["Type"] == "AWS::CloudWatch::Alarm"
        props = alarm["Properties"]
        assert props["Namespace"] == "AWS/Lambda" and props["TreatMissingData"] == "notBreaching"
        dimensions = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        assert dimensions["FunctionName"] == {"Ref": "Function"}
        assert dimensions["Resource"] == {"Fn::Sub": "${Function}:" + catalog.LAMBDA_ALIAS}
        metrics[props["MetricName"]] = dimensions
    assert set(metrics) == {"Errors", "Throttles"}
    deployed = expanded(template, SERVICE)["Resources"]
    (version,) = [name for name, res in deployed.items() if res["Type"] == "AWS::Lambda::Version"]
    # Errors count only the version being deployed (the one SAM publishes for this change).
    (errors,) = [deployed[ref["Ref"]] for ref in alarms if deployed[ref["Ref"]]["Properties"]["MetricName"] == "Errors"]
    executed = [d["Value"] for d in errors["Properties"]["Dimensions"] if d["Name"] == "ExecutedVersion"]
    assert executed == [{"Fn::GetAtt": [version, "Version"]}]
    assert "ExecutedVersion" not in metrics["Throttles"], "throttles are counted on the alias, before a version runs"
    group = deployed["FunctionDeploymentGroup"]["Properties"]
    assert group["AutoRollbackConfiguration"]["Enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    assert group["AlarmConfiguration"]["Alarms"] == [{"Name": ref} for ref in alarms]


# --------------------------------------------------------------------------- hooks and roles


@pytest.mark.parametrize("case", CASES)
def test_hooks_are_functions_of_the_stack_that_codedeploy_may_invoke(renders, case):
    answers = COMBOS[case]
    template = load_service(renders[case])
    for env in environments_of(answers):
        resources = expanded(template, env["name"])["Resources"]
        update = resources["FunctionAlias" + catalog.LAMBDA_ALIAS]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        hooks = {"PreTraffic": update["BeforeAllowTrafficHook"]["Ref"], "PostTraffic": update["AfterAllowTrafficHook"]["Ref"]}
        assert set(hooks) == set(catalog.LAMBDA_HOOKS)
        group = resources["FunctionDeploymentGroup"]["Properties"]
        codedeploy_role = resources[group["ServiceRoleArn"]["Fn::GetAtt"][0]]
        assert "ManagedPolicyArns" not in codedeploy_role["Properties"], "SAM's managed-policy role is replaced"
        (invokable,) = [s for s in policy_statements(codedeploy_role) if s["Action"] == "lambda:InvokeFunction"]
        invokable_arns = {sub(arn, {"FunctionName": env["name"]}) for arn in invokable["Resource"]}
        for key, logical_id in hooks.items():
            hook = resources[logical_id]
            assert hook["Type"] == "AWS::Lambda::Function"
            name = sub(hook["Properties"]["FunctionName"], {"FunctionName": env["name"]})
            # AWSCodeDeployRoleForLambda (SAM's default role) invokes only functions named so.
            assert name.startswith(catalog.LAMBDA_HOOK_PREFIX) and len(name) <= catalog.LAMBDA_FUNCTION_NAME_MAX
            assert f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}" in invokable_arns
            module, function = hook["Properties"]["Handler"].split(".")
            assert module == catalog.LAMBDA_HOOKS[key]["module"]
            source = (renders[case] / catalog.LAMBDA_HOOK_DIR / f"{module}.py").read_text()
            assert f"def {function}(" in source
        assert len(invokable_arns) == len(hooks), "CodeDeploy's role invokes the hooks and nothing else"


@pytest.mark.parametrize("case", CASES)
def test_each_hook_role_may_only_run_its_check_and_report(renders, case):
    template = load_service(renders[case])
    resources = expanded(template, SERVICE)["Resources"]
    versions = [name for name, res in resources.items() if res["Type"] == "AWS::Lambda::Version"]
    assert len(versions) == 1
    group_arn = ("arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:"
                 "${ServerlessDeploymentApplication}/${FunctionDeploymentGroup}")
    for key in catalog.LAMBDA_HOOKS:
        hook = resources[f"{key}Hook"]["Properties"]
        role_id = hook["Role"]["Fn::GetAtt"][0]
        statements = policy_statements(resources[role_id])
        assert all(s["Effect"] == "Allow" for s in statements)
        actions = {action for s in statements for action in as_list(s["Action"])}
        assert actions == HOOK_ACTIONS | VPC_ACTIONS
        by_action = {action: s["Resource"] for s in statements for action in as_list(s["Action"])}
        assert by_action["logs:PutLogEvents"] == {"Fn::GetAtt": [f"{key}HookLogGroup", "Arn"]}
        assert by_action["codedeploy:PutLifecycleEventHookExecutionStatus"] == {"Fn::Sub": group_arn}
        invoke = by_action["lambda:InvokeFunction"]
        if catalog.LAMBDA_HOOKS[key]["lifecycle_event"] == "BeforeAllowTraffic":
            assert invoke == {"Ref": versions[0]}, "PreTraffic invokes the new version only"
            assert hook["Environment"]["Variables"]["TARGET_VERSION_ARN"] == {"Ref": versions[0]}
        else:
            alias_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{SERVICE}:{catalog.LAMBDA_ALIAS}"
            assert sub(invoke, {"FunctionName": SERVICE}) == alias_arn, "PostTraffic invokes the alias only"
            assert sub(hook["Environment"]["Variables"]["ALIAS_ARN"], {"FunctionName": SERVICE}) == alias_arn
        assert hook["Runtime"] == catalog.LAMBDA_HOOK_RUNTIME


@pytest.mark.parametrize("case", CASES)
def test_the_function_runs_the_answered_runtime_and_reads_only_its_secrets(renders, case):
    answers = COMBOS[case]
    rt = catalog.runtime_row(answers["runtime"], answers["runtime_version"])
    template = load_service(renders[case])
    function = template["Resources"]["Function"]["Properties"]
    assert function["Runtime"] == rt["lambda_runtime"]
    assert function["Handler"] == rt["lambda_handler"]
    assert function["Architectures"] == [catalog.ARCHITECTURES[answers["architecture"]]["lambda"]]
    assert function["CodeUri"] == f"../{catalog.LAMBDA_CODE_DIR}"
    assert function["FunctionUrlConfig"] == {"AuthType": "AWS_IAM"}
    variables = function["Environment"]["Variables"]
    assert variables["SERVICE_NAME"] == SERVICE and variables["APP_VERSION"] == {"Ref": "AppVersion"}
    statements = {s["Sid"]: s for s in policy_statements(template["Resources"]["FunctionRole"])}
    secrets = answer_rules.parse_secrets(answers.get("secrets"))
    if not secrets:
        assert set(statements) == {"WriteLogs", "ManageNetworkInterfaces", "DescribeNetworkInterfaces"}
        assert set(variables) == {"SERVICE_NAME", "APP_VERSION"}
        return
    assert statements["ReadSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    # DB_PASSWORD is named after the environment ({env}/db): the function's name in this stack.
    assert [sub(r, {"FunctionName": "orders-stg"}) for r in statements["ReadSecrets"]["Resource"]] == [
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:orders-stg/db-??????"]
    assert statements["ReadParameters"]["Action"] == "ssm:GetParameter"
    assert [sub(r, {}) for r in statements["ReadParameters"]["Resource"]] == [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/orders/api-key"]
    # Names only: the values never appear in the template.
    assert variables["DB_PASSWORD_SECRET_ID"] == {"Fn::Sub": "${FunctionName}/db"}
    assert variables["API_KEY_PARAMETER_NAME"] == "/orders/api-key"
    assert "DB_PASSWORD" not in variables and "API_KEY" not in variables


def test_hook_timeout_leaves_room_for_every_attempt(renders):
    render_dir = renders[CASES[0]]
    with hook_modules(render_dir) as modules:
        support = modules["codedeploy_hook"]
        budget = support.MAX_ATTEMPTS * (support.CONNECT_TIMEOUT_SECONDS + support.READ_TIMEOUT_SECONDS)
    template = load_service(render_dir)
    for key in catalog.LAMBDA_HOOKS:
        assert template["Resources"][f"{key}Hook"]["Properties"]["Timeout"] > budget


def test_names_stay_within_aws_limits_for_the_longest_service_name(template_dir, tmp_path):
    longest = "a" * answer_rules.SERVICE_NAME_MAX
    render_dir = render(template_dir, tmp_path / "longest", service_name=longest, target="lambda", strategy="linear",
                        linear_percent=34, linear_minutes=1440, staging=True)  # the longest custom config name that passes the rollout cap
    template = load_service(render_dir)
    limits = {("AWS::IAM::Role", "RoleName"): 64, ("AWS::Serverless::Function", "FunctionName"): 64,
              ("AWS::CloudWatch::Alarm", "AlarmName"): 255, ("AWS::CodeDeploy::DeploymentConfig", "DeploymentConfigName"): 100,
              ("AWS::Logs::LogGroup", "LogGroupName"): 512}
    checked = 0
    for env in environments_of({"service_name": longest, "staging": True}):
        for res in template["Resources"].values():
            for (type_name, prop), limit in limits.items():
                if res["Type"] == type_name and prop in res["Properties"]:
                    value = sub(res["Properties"][prop], {"FunctionName": env["name"]})
                    assert len(value) <= limit, f"{type_name}.{prop} {value!r}"
                    checked += 1
    # Per environment: 4 roles, 3 functions, 3 log groups, 2 alarms, 1 deployment configuration.
    assert checked == 2 * 13


@pytest.mark.parametrize("description", [
    "Orders: 'quoted' \"double\" #not-a-comment &anchor *alias !!python/object",
    "Ünïcödé ✓ — naïve café <b>bold</b> & <script>x</script> " + "long " * 27,
    "key: value",
    "yes",
], ids=["yaml-indicators", "unicode-long", "mapping", "boolean"])
def test_the_description_reads_back_unchanged(template_dir, tmp_path, description):
    render_dir = render(template_dir, tmp_path / "service", target="lambda", strategy="canary", description=description)
    template = load_service(render_dir)
    assert template["Description"] == f"{description} (the function)"
    assert template["Resources"]["Function"]["Properties"]["Description"] == description
    _, findings = gate.run_yamllint([render_dir])
    assert not findings, findings


# --------------------------------------------------------------------------- the pipeline side


@pytest.mark.parametrize("case", CASES)
def test_pipeline_passes_each_environment_the_parameters_the_stack_declares(renders, case):
    answers = COMBOS[case]
    parameters = load_service(renders[case])["Parameters"]
    assert parameters["FunctionName"]["AllowedValues"] == [env["name"] for env in environments_of(answers)]
    stages = {s["Name"]: s for s in load_pipeline(renders[case])["Resources"]["Pipeline"]["Properties"]["Stages"]}
    version_variable = "#{SourceVariables.VersionId}" if answers["source_provider"] == "s3" else "#{SourceVariables.CommitId}"
    for env in environments_of(answers):
        create, _ = stages[env["title"]]["Actions"]
        config = create["Configuration"]
        assert set(config["Capabilities"].split(",")) == {"CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"}
        overrides = json.loads(config["ParameterOverrides"])
        assert overrides == {"AppVersion": version_variable}
        # The function's name is in the environment's parameter file, which the owner may extend.
        assert config["TemplateConfiguration"] == f"SourceOutput::infra/environments/{env['key']}.json"
        from_file = json.loads((renders[case] / "infra" / "environments" / f"{env['key']}.json").read_text())["Parameters"]
        assert from_file == {"FunctionName": env["name"]}
        assert [artifact["Name"] for artifact in create["InputArtifacts"]] == ["BuildOutput", "SourceOutput"]
        missing = {name for name, p in parameters.items() if "Default" not in p} - set(overrides) - set(from_file)
        assert not missing, f"{env['stack']} would be deployed without {missing}"


def _deploy_statements(render_dir: Path, artifact_bucket: str) -> list[dict[str, Any]]:
    """DeployRole's statements (infra/deploy-role.yml) with every ARN pattern resolved; the pipeline
    stack's exports are the bucket `artifact_bucket` and the key arn:aws:kms:key."""
    statements = []
    for statement in (item for document in deploy_policies(render_dir) for item in document["Statement"]):
        resources = []
        for resource in as_list(statement["Resource"]):
            if isinstance(resource, dict) and "Fn::ImportValue" in resource:
                resource = "arn:aws:kms:key"
            elif isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), list):
                text, variables = resource["Fn::Sub"]
                variables = {name: artifact_bucket if isinstance(value, dict) else value for name, value in variables.items()}
                resource = {"Fn::Sub": re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m[1], m[0]), text)}
            resources.append(sub(resource, {}))
        statements.append({**statement, "Action": as_list(statement["Action"]), "Resource": resources})
    return statements


def allowed(statements: list[dict[str, Any]], action: str, arn: str, passed_to: str | None = None) -> bool:
    def matches(statement: dict[str, Any]) -> bool:
        hit = any(fnmatch.fnmatchcase(action, a) for a in statement["Action"]) and any(
            fnmatch.fnmatchcase(arn, pattern) for pattern in statement["Resource"])
        if hit and passed_to and statement["Effect"] == "Allow":
            return passed_to in as_list(statement["Condition"]["StringEquals"]["iam:PassedToService"])
        return hit

    return any(matches(s) for s in statements if s["Effect"] == "Allow") and not any(
        matches(s) for s in statements if s["Effect"] == "Deny")


@pytest.mark.parametrize("case", CASES)
def test_deploy_role_may_create_what_the_service_stack_creates_and_no_more(renders, case):
    answers = COMBOS[case]
    render_dir = renders[case]
    buildspec = yaml.safe_load((render_dir / "buildspec.yml").read_text())
    (package,) = [c for c in buildspec["phases"]["build"]["commands"] if c.startswith("aws cloudformation package")]
    prefix = shlex.split(package)[shlex.split(package).index("--s3-prefix") + 1]
    statements = _deploy_statements(render_dir, "artifacts")
    template = load_service(render_dir)
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    assert allowed(statements, "s3:GetObject", f"arn:aws:s3:::artifacts/{prefix}/0123abcd")
    assert allowed(statements, "cloudformation:CreateChangeSet",
                   f"arn:aws:cloudformation:{REGION}:aws:transform/Serverless-2016-10-31")
    # Only actions without resource-level permission are allowed on "*": looking log groups and networks up,
    # and creating a key (whose ARN exists only afterwards; the key's own policy grants the rest).
    assert allowed(statements, "logs:DescribeLogGroups", "*")
    assert sorted(s["Action"] for s in statements if s["Effect"] == "Allow" and "*" in s["Resource"]) == [
        ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"],
        ["kms:CreateKey"], ["logs:DescribeLogGroups"]]
    for env in environments_of(answers):
        resources = expanded(template, env["name"])["Resources"]
        names = {"FunctionName": env["name"]}
        for res in resources.values():
            props = res.get("Properties", {})
            if res["Type"] == "AWS::Lambda::Function":
                function = arn.format("lambda", "function:" + sub(props["FunctionName"], names))
                for action in ("lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
                               "lambda:DeleteFunction", "lambda:PublishVersion", "lambda:CreateAlias"):
                    assert allowed(statements, action, function), (action, function)
            elif res["Type"] == "AWS::Lambda::Url":
                qualified = arn.format("lambda", f"function:{env['name']}:{catalog.LAMBDA_ALIAS}")
                assert allowed(statements, "lambda:CreateFunctionUrlConfig", qualified)
            elif res["Type"] == "AWS::IAM::Role":
                role = f"arn:aws:iam::{ACCOUNT}:role/" + sub(props["RoleName"], names)
                service = props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
                for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRole"):
                    assert allowed(statements, action, role), (action, role)
                assert allowed(statements, "iam:PassRole", role, passed_to=service), role
                assert not allowed(statements, "iam:AttachRolePolicy", role), "the service stack attaches no managed policy"
            elif res["Type"] == "AWS::Logs::LogGroup":
                group = arn.format("logs", "log-group:" + sub(props["LogGroupName"], names))
                assert allowed(statements, "logs:CreateLogGroup", group) and allowed(statements, "logs:PutRetentionPolicy", group)
            elif res["Type"] == "AWS::CloudWatch::Alarm":
                alarm = arn.format("cloudwatch", "alarm:" + sub(props["AlarmName"], names))
                assert allowed(statements, "cloudwatch:PutMetricAlarm", alarm), alarm
            elif res["Type"] == "AWS::CodeDeploy::DeploymentConfig":
                config = arn.format("codedeploy", "deploymentconfig:" + sub(props["DeploymentConfigName"], names))
                assert allowed(statements, "codedeploy:CreateDeploymentConfig", config), config
                assert allowed(statements, "codedeploy:GetDeploymentConfig", config), config
        # SAM's application and group are unnamed: CloudFormation names them "<stack>-<logical id>-<random>".
        application = f"{env['stack']}-ServerlessDeploymentApplication-1A2B3C4D5E6F"
        group = arn.format("codedeploy", f"deploymentgroup:{application}/{env['stack']}-FunctionDeploymentGroup-6F5E4D3C2B1A")
        assert allowed(statements, "codedeploy:CreateApplication", arn.format("codedeploy", f"application:{application}"))
        for action in ("codedeploy:CreateDeploymentGroup", "codedeploy:CreateDeployment", "codedeploy:GetDeployment"):
            assert allowed(statements, action, group), action
        predefined = resources["FunctionDeploymentGroup"]["Properties"]["DeploymentConfigName"]
        if isinstance(predefined, dict) and "Fn::Sub" in predefined:
            name = sub({"Fn::Sub": predefined["Fn::Sub"][0]}, predefined["Fn::Sub"][1])
            assert allowed(statements, "codedeploy:GetDeploymentConfig", arn.format("codedeploy", f"deploymentconfig:{name}"))
    # Nothing of another service, nor the pipeline's own roles.
    assert not allowed(statements, "lambda:CreateFunction", arn.format("lambda", "function:billing"))
    assert not allowed(statements, "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/{SERVICE}-pipeline-codebuild")
    assert not allowed(statements, "cloudwatch:PutMetricAlarm", arn.format("cloudwatch", "alarm:billing-errors"))


@pytest.mark.parametrize("case", [case for case in CASES if COMBOS[case]["runtime"] == "go"])
def test_go_builds_the_bootstrap_for_the_functions_architecture(renders, case):
    answers = COMBOS[case]
    buildspec = yaml.safe_load((renders[case] / "buildspec.yml").read_text())
    variables = buildspec["env"]["variables"]
    assert variables["GOARCH"] == catalog.ARCHITECTURES[answers["architecture"]]["goarch"]
    assert variables["GOOS"] == "linux" and variables["CGO_ENABLED"] == "0"
    commands = buildspec["phases"]["build"]["commands"]
    assert f"cp bin/app {catalog.LAMBDA_CODE_DIR}/bootstrap" in commands
    assert load_service(renders[case])["Resources"]["Function"]["Properties"]["Runtime"] == "provided.al2023"


# --------------------------------------------------------------------------- README


def _timeline(readme: str) -> list[tuple[str, str]]:
    section = readme.split("### How a new version takes traffic", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|]+) \| ([^|]+) \|$", section, flags=re.M)
    return [(minute.strip(), traffic.strip()) for minute, traffic in rows][3:]  # after the header and the PreTraffic row


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_readme_shows_the_traffic_timeline_of_the_strategy(renders, variant):
    case = f"nodejs-{variant}-staging"
    readme = (renders[case] / "README.md").read_text()
    timeline = _timeline(readme)
    answers = VARIANTS[variant]
    if answers["strategy"] == "blue_green":
        assert [(m, t.split(",")[0]) for m, t in timeline] == [("0", "100%")]
    elif answers["strategy"] == "canary":
        p, m = answers["canary_percent"], answers["canary_minutes"]
        assert [(mm, t.split(",")[0]) for mm, t in timeline] == [("0", f"{p}%"), (str(m), "100%")]
    else:
        p, m = answers["linear_percent"], answers["linear_minutes"]
        steps = math.ceil(100 / p)
        assert timeline[0] == ("0", f"{p}%")
        assert timeline[-1][0] == str((steps - 1) * m) and timeline[-1][1].startswith("100%")
        assert len(timeline) == (steps if steps <= 6 else 5)
    assert "PostTraffic" in timeline[-1][1]
    assert "There is no `appspec.yml` in this repository" in readme
    assert "| `infra/service.yml` |" in readme and f"| `{catalog.LAMBDA_HOOK_DIR}/` |" in readme
    for env in environments_of(COMBOS[case]):
        assert f"stack `{env['stack']}`, function `{env['name']}`" in readme


@pytest.mark.parametrize("case", CASES[:2])
def test_the_function_reserves_no_concurrency_unless_an_environment_asks(renders, case):
    """Reserving takes from the account's quota, which new accounts have small: none by default."""
    template = load_service(renders[case])
    assert template["Parameters"]["ReservedConcurrency"]["Default"] == -1
    assert template["Conditions"]["ReservesConcurrency"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "-1"]}]}
    for path in (renders[case] / "infra" / "environments").glob("*.json"):
        assert "ReservedConcurrency" not in json.loads(path.read_text())["Parameters"]
    assert '`"ReservedConcurrency": "50"`' in (renders[case] / "README.md").read_text()


def test_readme_names_the_secrets_the_function_reads(renders):
    for case in (c for c in CASES if COMBOS[c].get("secrets")):
        readme = (renders[case] / "README.md").read_text()
        names = "`orders-stg/db` in staging, `orders/db` in production" if COMBOS[case]["staging"] else "`orders/db`"
        assert f"`DB_PASSWORD_SECRET_ID` names the Secrets Manager secret {names}" in readme
        # The Secrets table names the variables the function gets: names, not values.
        assert f"| `DB_PASSWORD_SECRET_ID` | the app, which reads the value itself | Secrets Manager secret {names} |" in readme
        assert "`API_KEY_PARAMETER_NAME` names the SSM Parameter Store parameter `/orders/api-key`" in readme


# --------------------------------------------------------------------------- the hooks' code


@contextmanager
def hook_modules(render_dir: Path) -> Iterator[dict[str, Any]]:
    """The rendered hooks, imported as Lambda imports them (their folder on sys.path)."""
    folder = str(render_dir / catalog.LAMBDA_HOOK_DIR)
    names = ["codedeploy_hook", *(hook["module"] for hook in catalog.LAMBDA_HOOKS.values())]
    sys.path.insert(0, folder)
    try:
        for name in names:
            sys.modules.pop(name, None)
        yield {name: importlib.import_module(name) for name in names}
    finally:
        sys.path.remove(folder)
        for name in names:
            sys.modules.pop(name, None)


VERSION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{SERVICE}:7"
ALIAS_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{SERVICE}:{catalog.LAMBDA_ALIAS}"
EVENT = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "hook-execution-42"}


class StubCodeDeploy:
    def __init__(self, fail: Exception | None = None):
        self.reports: list[dict[str, str]] = []
        self.fail = fail

    def put_lifecycle_event_hook_execution_status(self, **kwargs: str) -> dict[str, str]:
        if self.fail:
            raise self.fail
        self.reports.append(kwargs)
        return {"lifecycleEventHookExecutionId": kwargs["lifecycleEventHookExecutionId"]}


class StubLambda:
    """Answers every invoke with one HTTP response (or error), like the Lambda Invoke API."""

    def __init__(self, status: int = 200, body: Any = None, executed_version: str = "7",
                 function_error: str | None = None, raises: Exception | None = None, payload: bytes | None = None):
        self.calls: list[dict[str, Any]] = []
        self.status, self.executed_version, self.function_error, self.raises = status, executed_version, function_error, raises
        self.body = {"status": "ok", "service": SERVICE, "version": "abc123"} if body is None else body
        self.payload = payload

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append({**kwargs, "Payload": json.loads(kwargs["Payload"])})
        if self.raises:
            raise self.raises
        payload = self.payload or json.dumps({"statusCode": self.status, "body": json.dumps(self.body)}).encode()
        response = {"StatusCode": 200, "ExecutedVersion": self.executed_version, "Payload": io.BytesIO(payload)}
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


@pytest.fixture
def hooks(renders, monkeypatch) -> Iterator[dict[str, Any]]:
    """The hook modules with the environment infra/service.yml gives them; creating a real AWS client fails the test."""
    monkeypatch.setenv("TARGET_VERSION_ARN", VERSION_ARN)
    monkeypatch.setenv("ALIAS_ARN", ALIAS_ARN)
    monkeypatch.setenv("EXPECTED_APP_VERSION", "abc123")
    with hook_modules(renders[CASES[0]]) as modules:
        def no_aws(service: str, *args: Any) -> None:
            raise AssertionError(f"a real {service} client was created")

        for module in modules.values():
            if hasattr(module, "client"):
                monkeypatch.setattr(module, "client", no_aws)
        yield modules


def reported(codedeploy: StubCodeDeploy) -> list[str]:
    assert all(r["deploymentId"] == EVENT["DeploymentId"] for r in codedeploy.reports)
    assert all(r["lifecycleEventHookExecutionId"] == EVENT["LifecycleEventHookExecutionId"] for r in codedeploy.reports)
    return [r["status"] for r in codedeploy.reports]


def test_pre_traffic_succeeds_when_the_new_version_is_healthy(hooks):
    codedeploy, lam = StubCodeDeploy(), StubLambda()
    assert hooks["pre_traffic"].handler(EVENT, None, codedeploy=codedeploy, lambda_client=lam) == "Succeeded"
    assert reported(codedeploy) == ["Succeeded"]
    (call,) = lam.calls
    assert call["FunctionName"] == VERSION_ARN and call["InvocationType"] == "RequestResponse"
    assert call["Payload"]["rawPath"] == "/health" and call["Payload"]["requestContext"]["http"]["method"] == "GET"


@pytest.mark.parametrize(
    "lam",
    [
        pytest.param(StubLambda(status=500, body={"error": "boom"}), id="answers-500"),
        pytest.param(StubLambda(body={"status": "degraded", "version": "abc123"}), id="status-not-ok"),
        pytest.param(StubLambda(body={"status": "ok", "version": "old999"}), id="reports-another-version"),
        pytest.param(StubLambda(function_error="Unhandled", payload=b'{"errorMessage": "x"}'), id="function-error"),
        pytest.param(StubLambda(payload=b"not json"), id="not-an-http-response"),
        pytest.param(StubLambda(raises=RuntimeError("connection reset")), id="invoke-raises"),
    ],
)
def test_pre_traffic_reports_failed_when_the_new_version_is_not_healthy(hooks, lam):
    codedeploy = StubCodeDeploy()
    assert hooks["pre_traffic"].handler(EVENT, None, codedeploy=codedeploy, lambda_client=lam) == "Failed"
    assert reported(codedeploy) == ["Failed"]


def test_pre_traffic_reports_failed_without_a_version_to_check(hooks, monkeypatch):
    monkeypatch.delenv("TARGET_VERSION_ARN")
    codedeploy, lam = StubCodeDeploy(), StubLambda()
    assert hooks["pre_traffic"].handler(EVENT, None, codedeploy=codedeploy, lambda_client=lam) == "Failed"
    assert reported(codedeploy) == ["Failed"] and lam.calls == []


def test_post_traffic_succeeds_when_the_alias_runs_the_new_version(hooks):
    codedeploy, lam = StubCodeDeploy(), StubLambda(executed_version="7")
    assert hooks["post_traffic"].handler(EVENT, None, codedeploy=codedeploy, lambda_client=lam) == "Succeeded"
    assert reported(codedeploy) == ["Succeeded"]
    assert [call["FunctionName"] for call in lam.calls] == [ALIAS_ARN]


@pytest.mark.parametrize(
    "lam",
    [
        pytest.param(StubLambda(executed_version="6"), id="alias-runs-the-old-version"),
        pytest.param(StubLambda(status=500, body={"error": "boom"}), id="answers-500"),
        pytest.param(StubLambda(raises=TimeoutError("read timeout")), id="invoke-raises"),
    ],
)
def test_post_traffic_reports_failed_when_the_alias_is_not_healthy(hooks, lam):
    codedeploy = StubCodeDeploy()
    assert hooks["post_traffic"].handler(EVENT, None, codedeploy=codedeploy, lambda_client=lam) == "Failed"
    assert reported(codedeploy) == ["Failed"]


@pytest.mark.parametrize("seconds", [3, 12, 80, 600])
def test_hook_clients_end_within_the_time_given(renders, monkeypatch, seconds):
    """Every attempt's connect and read timeouts, and a second of back-off each, fit the time given."""
    configs = []
    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda service, config: configs.append(config)))
    with hook_modules(renders[CASES[0]]) as modules:
        support = modules["codedeploy_hook"]
        support.client("lambda", seconds)
    (config,) = configs
    attempts = config.retries["total_max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout + 1) <= max(seconds, attempts * 2)
    assert config.read_timeout <= support.READ_TIMEOUT_SECONDS and config.connect_timeout <= support.CONNECT_TIMEOUT_SECONDS


def test_the_check_gets_the_invocations_time_less_what_reporting_needs(hooks):
    class Context:
        def get_remaining_time_in_millis(self):
            return 40_000

    given = []
    support = hooks["codedeploy_hook"]
    assert support.run(EVENT, given.append, StubCodeDeploy(), Context()) == "Succeeded"
    assert given == [40 - support.REPORT_SECONDS]


def test_a_hook_that_cannot_report_raises_so_lambda_retries_it(hooks):
    codedeploy = StubCodeDeploy(fail=RuntimeError("throttled"))
    with pytest.raises(RuntimeError, match="throttled"):
        hooks["pre_traffic"].handler(EVENT, None, codedeploy=codedeploy, lambda_client=StubLambda())


# --------------------------------------------------------------------------- the real handlers

RUNNERS = {
    # The handler logs one JSON line per request to stdout; the runner moves logs to stderr so
    # that stdout carries only the response.
    "nodejs": [
        "node", "-e",
        "const write = process.stdout.write.bind(process.stdout);"
        "process.stdout.write = (chunk) => process.stderr.write(chunk);"
        "console.log = (...a) => process.stderr.write(a.join(' ') + '\\n');"
        "require('./src/lambda').handler(JSON.parse(process.argv[1]))"
        ".then((r) => write(JSON.stringify(r)));",
    ],
    "python": [
        sys.executable, "-c",
        "import contextlib, json, sys\n"
        "from app.lambda_handler import handler\n"
        "with contextlib.redirect_stdout(sys.stderr):\n"
        "    response = handler(json.loads(sys.argv[1]))\n"
        "sys.stdout.write(json.dumps(response))\n",
    ],
}


def run_handler(render_dir: Path, runtime: str, event: dict[str, Any], app_version: str) -> dict[str, Any]:
    env = {**os.environ, "SERVICE_NAME": SERVICE, "APP_VERSION": app_version}
    proc = subprocess.run([*RUNNERS[runtime], json.dumps(event)], cwd=render_dir, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


class HandlerLambda:
    """A Lambda client whose invoke runs the rendered handler, as the version would."""

    def __init__(self, render_dir: Path, runtime: str, app_version: str, executed_version: str = "7"):
        self.render_dir, self.runtime, self.app_version, self.executed_version = render_dir, runtime, app_version, executed_version

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 - boto3's names
        response = run_handler(self.render_dir, self.runtime, json.loads(Payload), self.app_version)
        return {"StatusCode": 200, "ExecutedVersion": self.executed_version, "Payload": io.BytesIO(json.dumps(response).encode())}


@pytest.mark.parametrize("runtime", ["nodejs", "python"])
def test_the_handler_answers_function_url_events(renders, hooks, runtime):
    render_dir = renders[f"{runtime}-canary_predefined-staging"]
    health = run_handler(render_dir, runtime, hooks["codedeploy_hook"].health_request("/health"), "abc123")
    assert health["statusCode"] == 200
    assert json.loads(health["body"]) == {"status": "ok", "service": SERVICE, "version": "abc123"}
    hello = hooks["codedeploy_hook"].health_request("/hello")
    hello["rawQueryString"] = "name=Ada"
    answer = run_handler(render_dir, runtime, hello, "abc123")
    assert answer["statusCode"] == 200 and json.loads(answer["body"]) == {"message": "Hello, Ada!"}


@pytest.mark.parametrize("runtime", ["nodejs", "python"])
def test_the_hooks_pass_the_real_handler_and_catch_a_stale_one(renders, hooks, runtime):
    render_dir = renders[f"{runtime}-canary_predefined-staging"]
    for module in ("pre_traffic", "post_traffic"):
        codedeploy = StubCodeDeploy()
        healthy = HandlerLambda(render_dir, runtime, app_version="abc123")
        assert hooks[module].handler(EVENT, None, codedeploy=codedeploy, lambda_client=healthy) == "Succeeded"
        # The handler that answers is not the revision being deployed (EXPECTED_APP_VERSION).
        stale = HandlerLambda(render_dir, runtime, app_version="old999")
        assert hooks[module].handler(EVENT, None, codedeploy=codedeploy, lambda_client=stale) == "Failed"
        assert reported(codedeploy) == ["Succeeded", "Failed"]


@pytest.mark.parametrize("case", CASES)
def test_the_function_and_its_hooks_run_in_the_subnets_an_environment_names(renders, case):
    """Control Tower's CT.LAMBDA.PR.3 asks for functions in a VPC: SubnetIds and SecurityGroupIds (empty by
    default: no VPC) put the function and both hooks in it, and only then give their roles the network
    interface rights Lambda uses there."""
    template = load_service(renders[case])
    parameters, resources = template["Parameters"], template["Resources"]
    assert parameters["SubnetIds"] == {**parameters["SubnetIds"], "Type": "CommaDelimitedList", "Default": ""}
    assert parameters["SecurityGroupIds"] == {**parameters["SecurityGroupIds"], "Type": "CommaDelimitedList", "Default": ""}
    assert template["Conditions"]["InVpc"] == {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": [",", {"Ref": "SubnetIds"}]}, ""]}]}
    functions = {name: res for name, res in resources.items() if res["Type"] == "AWS::Serverless::Function"}
    assert sorted(functions) == ["Function", "PostTrafficHook", "PreTrafficHook"]
    for name, function in functions.items():
        assert function["Properties"]["VpcConfig"] == {"Fn::If": [
            "InVpc", {"SecurityGroupIds": {"Ref": "SecurityGroupIds"}, "SubnetIds": {"Ref": "SubnetIds"}}, {"Ref": "AWS::NoValue"}]}
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        (policy,) = role["Properties"]["Policies"]
        conditional = [item["Fn::If"] for item in policy["PolicyDocument"]["Statement"] if "Fn::If" in item]
        assert [(branch[0], branch[1]["Sid"], branch[2]) for branch in conditional] == [
            ("InVpc", "ManageNetworkInterfaces", {"Ref": "AWS::NoValue"}),
            ("InVpc", "DescribeNetworkInterfaces", {"Ref": "AWS::NoValue"})], name
        assert "ec2:CreateNetworkInterface" in conditional[0][1]["Action"]


def _rule_holds(expression: Any, parameters: dict[str, list[str]]) -> bool:
    """A Rules assertion of the template, evaluated for parameter values."""
    return gate.intrinsic_holds(expression, lambda node: parameters[node["Ref"]] if isinstance(node, dict) else node)


@pytest.mark.parametrize("case", CASES[:1])
def test_subnets_without_security_groups_are_refused_before_anything_is_deployed(renders, case):
    """A reviewer found that SubnetIds alone would fail the function's creation midway: the template's Rules
    refuse it (and SecurityGroupIds alone) when the change set is created."""
    (assertion,) = load_service(renders[case])["Rules"]["SubnetsAndSecurityGroupsTogether"]["Assertions"]
    empty, subnets, groups = [""], ["subnet-0a1b2c3d", "subnet-4e5f6a7b"], ["sg-0a1b2c3d"]
    outcomes = {(s is not empty, g is not empty): _rule_holds(assertion["Assert"], {"SubnetIds": s, "SecurityGroupIds": g})
                for s in (empty, subnets) for g in (empty, groups)}
    assert outcomes == {(False, False): True, (True, True): True, (True, False): False, (False, True): False}
