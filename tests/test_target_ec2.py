"""Target ec2: appspec.yml, the lifecycle scripts, infra/service.yml and the pipeline's deploy stage.

A sampled set of EC2 answers (every runtime with both strategies, every batch size with both
strategies, staging and approval on and off, every source provider, both architectures, secrets
and notifications in some) is rendered once for the module; the validation gate runs each tool
once over all of them.

The lifecycle scripts run for real, in CodeDeploy's order, against a temporary root: environment
variables point them at stand-ins for systemctl (which really starts the unit's ExecStart in the
background), dnf, useradd, id and the AWS CLI. The Node.js and Python sample apps start and answer
/health; Java and Go, which need their toolchains to build, run a stand-in executable instead.

The blue/green deployment group function (inline Python in infra/service.yml) runs against
stand-in CodeDeploy and Auto Scaling clients whose every call is checked against botocore's models,
through a blue/green deployment that replaces the Auto Scaling group, and answers CloudFormation on
a local HTTP server.
"""

from __future__ import annotations

import fnmatch
import glob
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
import types
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

import gate
from app_probe import free_port
from helpers import ROOT, answer_rules, catalog, choice_values, environment_stage_statements, environments_of, load_cfn, report

SECRETS = "DB_PASSWORD=secretsmanager:{env}/db,API_KEY=ssm:/orders/api-key"
EMAIL = "team@example.com"
CONNECTION_ARN = "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
LONGEST_NAME = "a" * (answer_rules.SERVICE_NAME_MAX - 2) + "bc"

# Every runtime with both strategies; each strategy with every batch size; the other answers rotate.
MATRIX: dict[str, dict[str, Any]] = {
    "nodejs-in_place": dict(runtime="nodejs", strategy="in_place", ec2_batch="all", staging=True, manual_approval=True,
                            source_provider="github", architecture="arm64"),
    "nodejs-blue_green": dict(runtime="nodejs", strategy="blue_green", ec2_batch="half", staging=False, manual_approval=False,
                              source_provider="codecommit", architecture="x86_64"),
    "python-in_place": dict(runtime="python", strategy="in_place", ec2_batch="one", staging=False, manual_approval=True,
                            source_provider="s3", architecture="x86_64", secrets=SECRETS),
    "python-blue_green": dict(runtime="python", runtime_version="3.12", strategy="blue_green", ec2_batch="all", staging=True,
                              manual_approval=False, source_provider="gitlab", architecture="arm64", secrets=SECRETS,
                              notification_email=EMAIL),
    "java-in_place": dict(runtime="java", strategy="in_place", ec2_batch="half", staging=True, manual_approval=False,
                          source_provider="bitbucket", connection_arn=CONNECTION_ARN, architecture="arm64"),
    "java-blue_green": dict(runtime="java", runtime_version="21", strategy="blue_green", ec2_batch="one", staging=False,
                            manual_approval=True, source_provider="github", architecture="x86_64", notification_email=EMAIL),
    "go-in_place": dict(runtime="go", strategy="in_place", ec2_batch="all", staging=False, manual_approval=False,
                        source_provider="codecommit", architecture="arm64"),
    "go-blue_green": dict(service_name=LONGEST_NAME, runtime="go", runtime_version="1.24", strategy="blue_green",
                          ec2_batch="half", staging=True, manual_approval=True, source_provider="s3", architecture="x86_64"),
}
CASES = sorted(MATRIX)


def answers_of(case: str) -> dict[str, Any]:
    return {"service_name": "orders", "target": "ec2", **MATRIX[case]}


def render_sets() -> dict[str, dict[str, Any]]:
    """This module's answer sets; conftest renders them once with the session's others."""
    return {case: answers_of(case) for case in CASES}


# --------------------------------------------------------------------------- reading renders


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_stack(project_dir: Path, name: str) -> dict[str, Any]:
    return load_cfn(project_dir / "infra" / name)


def runtime_row(case: str) -> dict[str, Any]:
    answers = answers_of(case)
    version = answers.get("runtime_version") or catalog.default_runtime_version(answers["runtime"])
    return catalog.runtime_row(answers["runtime"], version)


def ec2_row(case: str) -> dict[str, Any]:
    row = runtime_row(case)
    return catalog.ec2_runtime(row["name"], row["version"])


def settings_default(project_dir: Path, variable: str) -> str:
    """A variable of scripts/settings.sh as bash sets it with no overrides in the environment."""
    proc = subprocess.run(
        ["bash", "-c", f'source scripts/settings.sh && printf "%s" "${variable}"'],
        cwd=project_dir, env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, check=True,
    )
    return proc.stdout


def resolve(value: Any, values: dict[str, Any]) -> Any:
    """Evaluate Ref, Fn::GetAtt and Fn::Sub against `values` (KeyError for a name it does not know);
    scalars become strings, as CloudFormation hands a custom resource its properties."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return values[arg]
        if key == "Fn::GetAtt":
            return values[".".join(arg) if isinstance(arg, list) else arg]
        if key == "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(values[m.group(1)]), arg)
    if isinstance(value, dict):
        return {k: resolve(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, values) for v in value]
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# --------------------------------------------------------------------------- the sample covers the questionnaire


def test_the_sample_covers_every_runtime_strategy_and_batch():
    combos = {(a["runtime"], a["strategy"]) for a in MATRIX.values()}
    assert combos == {(r, s) for r in choice_values("runtime") for s in catalog.target_strategies("ec2")}
    batches = {(a["strategy"], a["ec2_batch"]) for a in MATRIX.values()}
    assert batches == {(s, b) for s in catalog.target_strategies("ec2") for b in choice_values("ec2_batch")}
    assert {a["staging"] for a in MATRIX.values()} == {True, False}
    assert {a["manual_approval"] for a in MATRIX.values()} == {True, False}
    assert {a["source_provider"] for a in MATRIX.values()} == set(choice_values("source_provider"))
    assert {a["architecture"] for a in MATRIX.values()} == set(choice_values("architecture"))


def test_the_data_table_is_consistent_for_ec2():
    for runtime, row in catalog.RUNTIMES.items():
        assert set(catalog.EC2_RUNTIMES[runtime]["versions"]) == set(row["versions"]), runtime
    # ValidateService's polling ends before CodeDeploy's timeout for the event would.
    polling = catalog.EC2_HEALTH_RETRIES * (catalog.EC2_HEALTH_INTERVAL + catalog.EC2_HEALTH_TIMEOUT)
    assert polling < catalog.EC2_HOOKS["ValidateService"]["timeout"] <= 3600
    for strategy in catalog.target_strategies("ec2"):
        assert set(catalog.EC2_HOOKED_EVENTS[strategy]) <= set(catalog.EC2_HOOKS)


# --------------------------------------------------------------------------- the validation gate


def test_cfn_lint_finds_nothing(module_gate, renders):
    files, findings = module_gate("cfn-lint")
    assert sum(path.name == "service.yml" for path in files) == len(renders)
    assert not findings, report(findings)


def test_checkov_finds_nothing(module_gate, renders):
    checked, failures = module_gate("checkov")
    assert len(checked) > 0
    assert not failures, report(failures)


def test_shellcheck_finds_nothing(module_gate, renders):
    scripts, findings = module_gate("shellcheck")
    expected = sum(len(catalog.EC2_HOOKED_EVENTS[answers_of(case)["strategy"]]) + 1 for case in renders)  # + settings.sh
    assert sum(path.parent.name == catalog.EC2_SCRIPT_DIR for path in scripts) == expected
    assert not findings, report(findings)


def test_yamllint_finds_nothing(module_gate, renders):
    files, findings = module_gate("yamllint")
    assert sum(path.name in ("appspec.yml", "service.yml") for path in files) == 2 * len(renders)
    assert not findings, report(findings)


def test_appspec_and_buildspec_match_their_schemas(module_gate, renders):
    files, findings = module_gate("schemas")
    assert sorted(path.name for path in files) == sorted(["appspec.yml", "buildspec.yml"] * len(renders))
    assert not findings, report(findings)


# --------------------------------------------------------------------------- appspec.yml and the bundle


RESERVED_EVENTS = {"DownloadBundle", "Install", "BlockTraffic", "AllowTraffic"}


def bundle_patterns(project_dir: Path) -> list[str]:
    return load_yaml(project_dir / "buildspec.yml")["artifacts"]["files"]


def in_bundle(relative: str, patterns: list[str]) -> bool:
    """Whether a path of the project is one of the files CodeBuild puts into the artifact."""
    for pattern in patterns:
        if pattern.endswith("/**/*") and relative.startswith(pattern[: -len("**/*")]):
            return True
        if fnmatch.fnmatchcase(relative, pattern):
            return True
    return False


@pytest.mark.parametrize("case", CASES)
def test_appspec_hooks_exactly_the_events_of_the_strategy(renders, case):
    strategy = answers_of(case)["strategy"]
    appspec = load_yaml(renders[case] / "appspec.yml")
    assert appspec["version"] == 0.0 and appspec["os"] == "linux"
    hooked = list(appspec["hooks"])
    assert hooked == catalog.EC2_HOOKED_EVENTS[strategy]
    # Only events CodeDeploy runs scripts for with this strategy, none of the agent's own, in CodeDeploy's order.
    runs = catalog.EC2_LIFECYCLE_EVENTS[strategy]
    assert set(hooked) <= set(runs) and not set(hooked) & RESERVED_EVENTS
    assert hooked == sorted(hooked, key=runs.index)


@pytest.mark.parametrize("case", CASES)
def test_every_hook_script_is_in_the_bundle_executable_and_within_limits(renders, case):
    project_dir = renders[case]
    appspec = load_yaml(project_dir / "appspec.yml")
    patterns = bundle_patterns(project_dir)
    for event, scripts in appspec["hooks"].items():
        (script,) = scripts
        path = project_dir / script["location"]
        assert path.is_file(), script["location"]
        assert path.stat().st_mode & 0o111 == 0o111, f"{script['location']} is not executable"
        assert path.read_text().startswith("#!/usr/bin/env bash\n")
        assert "set -euo pipefail" in path.read_text().splitlines()[:6]
        assert in_bundle(script["location"], patterns), f"{script['location']} is not in the build artifact"
        hook = catalog.EC2_HOOKS[event]
        assert script == {"location": f"{catalog.EC2_SCRIPT_DIR}/{hook['script']}", "timeout": hook["timeout"], "runas": hook["runas"]}
        assert 0 < script["timeout"] <= 3600
    # No script without a hook: each one in the folder is run by CodeDeploy (settings.sh is sourced).
    locations = {scripts[0]["location"] for scripts in appspec["hooks"].values()}
    on_disk = {f"{catalog.EC2_SCRIPT_DIR}/{p.name}" for p in (project_dir / catalog.EC2_SCRIPT_DIR).glob("*.sh")}
    assert on_disk - locations == {f"{catalog.EC2_SCRIPT_DIR}/settings.sh"}
    assert not (project_dir / catalog.EC2_SCRIPT_DIR / "settings.sh").stat().st_mode & 0o111


@pytest.mark.parametrize("case", CASES)
def test_appspec_installs_the_bundle_where_the_scripts_look(renders, case):
    project_dir = renders[case]
    service = answers_of(case)["service_name"]
    appspec = load_yaml(project_dir / "appspec.yml")
    (files,) = appspec["files"]
    assert files == {"source": "/", "destination": f"/opt/{service}/app"}
    assert settings_default(project_dir, "APP_DIR") == files["destination"]
    assert appspec["file_exists_behavior"] == "OVERWRITE"
    owner = appspec["permissions"][0]
    assert owner == {"object": files["destination"], "owner": "root", "group": "root"}
    if answers_of(case)["runtime"] == "go":
        assert appspec["permissions"][1] == {"object": f"{files['destination']}/bin", "pattern": "app", "mode": 755, "type": ["file"]}


@pytest.mark.parametrize("case", CASES)
def test_the_build_artifact_is_the_codedeploy_bundle(renders, case):
    buildspec = load_yaml(renders[case] / "buildspec.yml")
    rt = runtime_row(case)
    assert buildspec["artifacts"]["files"] == ["appspec.yml", f"{catalog.EC2_SCRIPT_DIR}/**/*", *rt["bundle_paths"]]
    assert "base-directory" not in buildspec["artifacts"] and not buildspec["artifacts"].get("discard-paths")
    build = buildspec["phases"]["build"]["commands"]
    assert build[: len(rt["build_commands"])] == rt["build_commands"]
    assert build[len(rt["build_commands"]):] == [f"printf '%s\\n' \"$CODEBUILD_RESOLVED_SOURCE_VERSION\" > {catalog.EC2_SCRIPT_DIR}/VERSION"]


# --------------------------------------------------------------------------- infra/service.yml


def resources_of(template: dict[str, Any], type_name: str) -> dict[str, Any]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == type_name}


@pytest.mark.parametrize("case", CASES)
def test_deployment_group_matches_batch_strategy_and_rolls_back(renders, case):
    answers = answers_of(case)
    template = load_stack(renders[case], "service.yml")
    group = template["Resources"]["DeploymentGroup"]
    props = group["Properties"]
    blue_green = answers["strategy"] == "blue_green"
    assert group["Type"] == ("Custom::BlueGreenDeploymentGroup" if blue_green else "AWS::CodeDeploy::DeploymentGroup")
    assert props["DeploymentConfigName"] == catalog.EC2_BATCHES[answers["ec2_batch"]]["config"]
    assert props["DeploymentStyle"] == {
        "DeploymentOption": "WITH_TRAFFIC_CONTROL",
        "DeploymentType": "BLUE_GREEN" if blue_green else "IN_PLACE",
    }
    rollback = props["AutoRollbackConfiguration"]
    assert rollback["Enabled"] is True
    assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(rollback["Events"])
    alarms = props["AlarmConfiguration"]
    assert alarms["Enabled"] is True and alarms["Alarms"]
    for alarm in alarms["Alarms"]:
        name = alarm["Name"]["Ref"]
        resource = template["Resources"][name]
        assert resource["Type"] == "AWS::CloudWatch::Alarm"
        # The app's own 5xx, on this stack's load balancer and target group.
        assert resource["Properties"]["MetricName"] == "HTTPCode_Target_5XX_Count"
        dims = {d["Name"]: d["Value"] for d in resource["Properties"]["Dimensions"]}
        assert dims == {"LoadBalancer": {"Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]},
                        "TargetGroup": {"Fn::GetAtt": ["TargetGroup", "TargetGroupFullName"]}}
    assert props["LoadBalancerInfo"] == {"TargetGroupInfoList": [{"Name": {"Fn::GetAtt": ["TargetGroup", "TargetGroupName"]}}]}
    assert props["ApplicationName"] == {"Ref": "Application"}
    assert props["DeploymentGroupName"] == {"Ref": "EnvironmentName"}
    assert props["ServiceRoleArn"] == {"Fn::GetAtt": ["CodeDeployRole", "Arn"]}
    application = template["Resources"]["Application"]["Properties"]
    assert application == {"ApplicationName": {"Ref": "EnvironmentName"}, "ComputePlatform": "Server"}


@pytest.mark.parametrize("case", CASES)
def test_the_stack_owns_the_auto_scaling_group_only_in_place(renders, case):
    """Blue/green replaces the group on every deployment: the stack must not declare one."""
    template = load_stack(renders[case], "service.yml")
    groups = resources_of(template, "AWS::AutoScaling::AutoScalingGroup")
    props = template["Resources"]["DeploymentGroup"]["Properties"]
    if answers_of(case)["strategy"] == "in_place":
        assert list(groups) == ["AutoScalingGroup"]
        assert props["AutoScalingGroups"] == [{"Ref": "AutoScalingGroup"}]
        fleet = groups["AutoScalingGroup"]["Properties"]
        assert "BlueGreenDeploymentConfiguration" not in props
    else:
        assert groups == {}
        assert "AutoScalingGroups" not in props
        fleet = props["AutoScalingGroup"]
        assert fleet["AutoScalingGroupName"] == {"Fn::Sub": "${EnvironmentName}-fleet"}
        blue_green = props["BlueGreenDeploymentConfiguration"]
        assert blue_green["GreenFleetProvisioningOption"] == {"Action": "COPY_AUTO_SCALING_GROUP"}
        assert blue_green["DeploymentReadyOption"] == {"ActionOnTimeout": "CONTINUE_DEPLOYMENT"}
        assert blue_green["TerminateBlueInstancesOnDeploymentSuccess"] == {
            "Action": "TERMINATE", "TerminationWaitTimeInMinutes": {"Ref": "BlueTerminationWaitMinutes"}}
        wait = template["Parameters"]["BlueTerminationWaitMinutes"]
        assert wait["Default"] == catalog.EC2_BLUE_TERMINATION_WAIT_MINUTES["prod"] and wait["MaxValue"] == 2880
        # The deploy action waits for the blue fleet's termination: staging's wait is short, production's explicit.
        for env in environments_of(answers_of(case)):
            parameters = json.loads((renders[case] / "infra" / "environments" / f"{env['key']}.json").read_text())["Parameters"]
            assert parameters["BlueTerminationWaitMinutes"] == str(catalog.EC2_BLUE_TERMINATION_WAIT_MINUTES[env["key"]])
        assert catalog.EC2_BLUE_TERMINATION_WAIT_MINUTES["staging"] <= 10
        readme = (renders[case] / "README.md").read_text()
        assert "aws deploy continue-deployment --deployment-id <id> --deployment-wait-type TERMINATION_WAIT" in readme
        function = template["Resources"]["DeploymentGroupFunction"]["Properties"]
        assert props["ServiceToken"] == {"Fn::GetAtt": ["DeploymentGroupFunction", "Arn"]}
        assert function["Runtime"] == catalog.EC2_FLEET_FUNCTION_RUNTIME and function["Timeout"] == 900
        # The custom resource's function runs in the private subnets (AWS Control Tower's CT.LAMBDA.PR.3),
        # with its own security group that only reaches out over HTTPS.
        assert function["VpcConfig"] == {"SecurityGroupIds": [{"Ref": "DeploymentGroupFunctionSecurityGroup"}],
                                         "SubnetIds": {"Ref": "PrivateSubnetIds"}}
        group = template["Resources"]["DeploymentGroupFunctionSecurityGroup"]["Properties"]
        assert [(rule["FromPort"], rule["ToPort"]) for rule in group["SecurityGroupEgress"]] == [(443, 443)]
        assert "SecurityGroupIngress" not in group
    launch_template = {"LaunchTemplateId": {"Ref": "LaunchTemplate"},
                       "Version": {"Fn::GetAtt": ["LaunchTemplate", "LatestVersionNumber"]}}
    if answers_of(case)["strategy"] == "in_place":
        # One instance type, or with a FallbackInstanceType two (CT.AUTOSCALING.PR.6): InstanceType first, the
        # fallback when EC2 has none of it; a rule refuses the same type twice. The group names the subnets'
        # zones when given (CT.AUTOSCALING.PR.1).
        assert fleet["LaunchTemplate"] == {"Fn::If": ["HasFallbackInstanceType", {"Ref": "AWS::NoValue"}, launch_template]}
        condition, policy, otherwise = fleet["MixedInstancesPolicy"]["Fn::If"]
        assert (condition, otherwise) == ("HasFallbackInstanceType", {"Ref": "AWS::NoValue"})
        assert template["Conditions"]["HasFallbackInstanceType"] == \
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "FallbackInstanceType"}, ""]}]}
        assert policy["LaunchTemplate"] == {"LaunchTemplateSpecification": launch_template,
                                            "Overrides": [{"InstanceType": {"Ref": "InstanceType"}},
                                                          {"InstanceType": {"Ref": "FallbackInstanceType"}}]}
        assert policy["InstancesDistribution"] == {"OnDemandAllocationStrategy": "prioritized",
                                                   "OnDemandPercentageAboveBaseCapacity": 100}
        (assertion,) = template["Rules"]["TwoInstanceTypes"]["Assertions"]
        for first, fallback, holds in (("t4g.small", "", True), ("c7g.medium", "m7g.medium", True),
                                       ("c7g.medium", "c7g.medium", False)):
            parameters = {"InstanceType": first, "FallbackInstanceType": fallback}
            assert gate.intrinsic_holds(assertion["Assert"], lambda node: parameters[node["Ref"]]) is holds
        assert fleet["AvailabilityZones"] == {"Fn::If": ["NamesAvailabilityZones", {"Ref": "AvailabilityZones"},
                                                         {"Ref": "AWS::NoValue"}]}
        assert template["Parameters"]["AvailabilityZones"] == {**template["Parameters"]["AvailabilityZones"],
                                                               "Type": "CommaDelimitedList", "Default": ""}
    else:
        assert fleet["LaunchTemplate"] == launch_template
        assert "FallbackInstanceType" not in template["Parameters"] and "Rules" not in template
    assert fleet["TargetGroupARNs"] == [{"Ref": "TargetGroup"}]
    assert fleet["VPCZoneIdentifier"] == {"Ref": "PrivateSubnetIds"}


@pytest.mark.parametrize("case", CASES)
def test_instances_are_hardened_and_reachable_only_from_the_load_balancer(renders, case):
    answers = answers_of(case)
    template = load_stack(renders[case], "service.yml")
    arch = catalog.ARCHITECTURES[answers["architecture"]]
    assert template["Parameters"]["ImageId"]["Default"] == arch["ssm_ami_parameter"]
    assert template["Parameters"]["InstanceType"]["Default"] == arch["ec2_instance_type"]
    if answers["strategy"] == "in_place":
        assert template["Parameters"]["FallbackInstanceType"]["Default"] == ""
        assert arch["ec2_fallback_instance_types"] in template["Parameters"]["FallbackInstanceType"]["Description"]
    data = template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert all(mapping["Ebs"]["Encrypted"] is True for mapping in data["BlockDeviceMappings"])
    assert "NetworkInterfaces" not in data and "KeyName" not in data
    user_data = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert "https://aws-codedeploy-${AWS::Region}.s3.${AWS::Region}.amazonaws.com/latest/install" in user_data
    assert data["SecurityGroupIds"] == [{"Ref": "InstanceSecurityGroup"}]
    instance_sg = template["Resources"]["InstanceSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in instance_sg
    ingress = [r["Properties"] for r in resources_of(template, "AWS::EC2::SecurityGroupIngress").values()
               if r["Properties"]["GroupId"] == {"Ref": "InstanceSecurityGroup"}]
    port = runtime_row(case)["port"]
    assert ingress == [{"Description": ingress[0]["Description"], "FromPort": port, "GroupId": {"Ref": "InstanceSecurityGroup"},
                        "IpProtocol": "tcp", "SourceSecurityGroupId": {"Ref": "LoadBalancerSecurityGroup"}, "ToPort": port}]
    target_group = template["Resources"]["TargetGroup"]["Properties"]
    assert (target_group["HealthCheckPath"], target_group["Port"], target_group["Matcher"]) == ("/health", port, {"HttpCode": "200"})
    # The agent would need codedeploy-commands-secure and its :enable_auth_policy: setting to work
    # through VPC endpoints, which the instances do not get: the private subnets need a NAT gateway.
    subnets = " ".join(template["Parameters"]["PrivateSubnetIds"]["Description"].split())
    assert "NAT gateway" in subnets and "VPC endpoints for" not in subnets


@pytest.mark.parametrize("case", CASES)
def test_https_is_served_when_a_certificate_is_given(renders, case):
    template = load_stack(renders[case], "service.yml")
    https = template["Resources"]["HttpsListener"]
    assert https["Condition"] == "HasCertificate" and https["Properties"]["Protocol"] == "HTTPS"
    assert https["Properties"]["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    with_cert, without = template["Resources"]["HttpListener"]["Properties"]["DefaultActions"]["Fn::If"][1:]
    assert with_cert == [{"Type": "redirect", "RedirectConfig": {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}}]
    assert without == [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}]
    assert template["Resources"]["LoadBalancerHttpsIngress"]["Condition"] == "HasCertificate"
    pattern = template["Parameters"]["CertificateArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, "") and re.fullmatch(pattern, "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d")


@pytest.mark.parametrize("case", CASES)
def test_instance_role_reads_releases_and_exactly_the_apps_secrets(renders, case):
    answers = answers_of(case)
    template = load_stack(renders[case], "service.yml")
    role = template["Resources"]["InstanceRole"]["Properties"]
    statements = {s["Sid"]: s for s in role["Policies"][0]["PolicyDocument"]["Statement"]}
    assert statements["ReadReleases"]["Resource"]["Fn::Sub"][1]["Bucket"] == {"Fn::ImportValue": {"Fn::Sub": "${PipelineStackName}-ArtifactBucket"}}
    assert statements["DecryptReleases"] == {"Sid": "DecryptReleases", "Effect": "Allow", "Action": "kms:Decrypt",
                                             "Resource": {"Fn::ImportValue": {"Fn::Sub": "${PipelineStackName}-ArtifactKeyArn"}},
                                             "Condition": {"StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}}}
    secrets = answer_rules.parse_secrets(answers.get("secrets"))
    managed = [s["name"] for s in secrets if s["store"] == "secretsmanager"]
    params = [s["name"] for s in secrets if s["store"] == "ssm"]
    granted = [r["Fn::Sub"].split(":secret:")[1] for r in statements.get("ReadAppSecrets", {}).get("Resource", [])]
    assert granted == [f"{name.replace('{env}', '${EnvironmentName}')}-??????" for name in managed]
    granted = [r["Fn::Sub"].split(":parameter")[1] for r in statements.get("ReadAppParameters", {}).get("Resource", [])]
    assert granted == params
    # Only Session Manager's message channels, which have no resource-level permissions, take "*".
    assert all(action.startswith("ssmmessages:") for action in statements["OpenSessions"]["Action"])
    for sid, statement in statements.items():
        assert statement["Resource"] != "*" or sid == "OpenSessions"


@pytest.mark.parametrize("case", CASES)
def test_names_agree_with_the_pipeline_and_its_permissions(renders, case):
    project_dir = renders[case]
    answers = answers_of(case)
    names = answer_rules.derived_names(answers["service_name"], answers["staging"])
    service = load_stack(project_dir, "service.yml")
    pipeline = load_stack(project_dir, "pipeline.yml")
    assert service["Parameters"]["EnvironmentName"]["AllowedValues"] == [env["name"] for env in names["environments"]]
    assert service["Parameters"]["PipelineStackName"]["Default"] == names["pipeline_stack"]
    exports = {out["Export"]["Name"]["Fn::Sub"] for out in pipeline["Outputs"].values() if "Export" in out}
    assert {"${AWS::StackName}-ArtifactBucket", "${AWS::StackName}-ArtifactKeyArn"} <= exports
    stages = {stage["Name"]: stage["Actions"] for stage in pipeline["Resources"]["Pipeline"]["Properties"]["Stages"]}
    arn = "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:"
    for env in names["environments"]:
        # The stage deploys the environment's stacks first; the CodeDeploy action comes last.
        action = max(stages[env["title"]], key=lambda a: a["RunOrder"])
        assert action["ActionTypeId"]["Provider"] == "CodeDeploy"
        # The stack deployed with EnvironmentName=<env name> names its application and group so.
        assert action["Configuration"] == {"ApplicationName": env["name"], "DeploymentGroupName": env["name"]}
    statements = environment_stage_statements(project_dir)
    apps = [r["Fn::Sub"] for r in statements["RegisterRevisions"]["Resource"]]
    groups = [r["Fn::Sub"] for r in statements["DeployRevisions"]["Resource"]]
    assert apps == [f"{arn}application:{env['name']}" for env in names["environments"]]
    assert groups == [f"{arn}deploymentgroup:{env['name']}/{env['name']}" for env in names["environments"]]
    assert set(statements["DeployRevisions"]["Action"]) == {"codedeploy:CreateDeployment", "codedeploy:GetDeployment"}
    config = catalog.EC2_BATCHES[answers["ec2_batch"]]["config"]
    assert statements["ReadDeploymentConfig"]["Resource"]["Fn::Sub"] == f"{arn}deploymentconfig:{config}"
    # The artifact key lets each environment's instance role, by name, decrypt through S3.
    key_statements = pipeline["Resources"]["ArtifactKey"]["Properties"]["KeyPolicy"]["Statement"]
    (reader,) = [s for s in key_statements if s["Sid"] == "ServiceRolesReadArtifacts"]
    readers = [arn["Fn::Sub"].rsplit(":role/", 1)[1] for arn in reader["Condition"]["ArnEquals"]["aws:PrincipalArn"]]
    role_name = service["Resources"]["InstanceRole"]["Properties"]["RoleName"]["Fn::Sub"]
    assert readers == [role_name.replace("${EnvironmentName}", env["name"]) for env in names["environments"]]


@pytest.mark.parametrize("case", CASES)
def test_names_stay_within_aws_limits(renders, case):
    limits = {("AWS::IAM::Role", "RoleName"): 64, ("AWS::Lambda::Function", "FunctionName"): 64,
              ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name"): 32, ("AWS::EC2::LaunchTemplate", "LaunchTemplateName"): 128,
              ("AWS::CodeDeploy::Application", "ApplicationName"): 100, ("AWS::CloudWatch::Alarm", "AlarmName"): 255}
    template = load_stack(renders[case], "service.yml")
    longest = max((env["name"] for env in environments_of(answers_of(case))), key=len)
    checked = 0
    for res in template["Resources"].values():
        for (type_name, prop), limit in limits.items():
            if res["Type"] == type_name and prop in res["Properties"]:
                name = resolve(res["Properties"][prop], {"EnvironmentName": longest})
                assert len(name) <= limit, (type_name, name)
                checked += 1
    assert checked >= 6


@pytest.mark.parametrize("case", CASES)
def test_readme_names_the_deployment_files_and_who_owns_the_fleet(renders, case):
    answers = answers_of(case)
    readme = (renders[case] / "README.md").read_text()
    assert "| `appspec.yml` |" in readme and f"| `{catalog.EC2_SCRIPT_DIR}/` |" in readme
    blue_green = answers["strategy"] == "blue_green"
    assert ("### Who owns the Auto Scaling group" in readme) == blue_green
    assert ("start-instance-refresh" in readme) == (not blue_green)


# --------------------------------------------------------------------------- the lifecycle scripts, run for real

# Stand-ins for the instance's commands. Each records its arguments in $FAKE_STATE/calls.log.
FAKE_SYSTEMCTL = r'''#!/usr/bin/env python3
"""systemctl for one machine's worth of units: start runs the unit's ExecStart in the background."""
import json, os, shlex, signal, subprocess, sys, time
from pathlib import Path

state = Path(os.environ["FAKE_STATE"])
with open(state / "calls.log", "a") as log:
    log.write(json.dumps(["systemctl", *sys.argv[1:]]) + "\n")
args = [a for a in sys.argv[1:] if not a.startswith("--")]
command, units = args[0], args[1:]


def service_section(unit):
    values, section = {}, None
    for line in (Path(os.environ["UNIT_DIR"]) / unit).read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def environment_file(path):
    """KEY="value" lines as systemd reads them: \\ escapes the next character inside double quotes."""
    env = {}
    for line in Path(path).read_text().splitlines():
        key, raw = line.split("=", 1)
        if raw.startswith('"'):
            value, i = "", 1
            while raw[i] != '"':
                if raw[i] == "\\":
                    i += 1
                value += raw[i]
                i += 1
            env[key] = value
        else:
            env[key] = raw
    return env


def pid_of(unit):
    path = state / (unit + ".pid")
    if not path.exists():
        return None
    pid = int(path.read_text())
    try:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().split(") ", 1)[1].startswith("Z"):
                return None
    except FileNotFoundError:
        return None
    return pid


def stop(unit):
    pid = pid_of(unit)
    if pid:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(100):
            if not pid_of(unit):
                break
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
    (state / (unit + ".pid")).unlink(missing_ok=True)


def start(unit):
    service = service_section(unit)
    env = {"PATH": os.environ["PATH"], **environment_file(service["EnvironmentFile"])}
    with open(state / (unit + ".log"), "ab") as out:
        proc = subprocess.Popen(shlex.split(service["ExecStart"]), cwd=service["WorkingDirectory"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    (state / (unit + ".pid")).write_text(str(proc.pid))


if command in ("daemon-reload", "enable"):
    for unit in units:
        service_section(unit)  # a unit that is not there fails, as with systemd
elif command == "start":
    for unit in units:
        if not pid_of(unit):
            start(unit)
elif command == "restart":
    for unit in units:
        stop(unit)
        start(unit)
elif command == "stop":
    for unit in units:
        stop(unit)
elif command == "is-active":
    active = all(pid_of(unit) for unit in units)
    if "--quiet" not in sys.argv:
        print("active" if active else "inactive")
    sys.exit(0 if active else 3)
else:
    sys.exit(f"fake systemctl: {command} is not supported")
'''

FAKE_COMMANDS = {
    "dnf": r'''#!/usr/bin/env python3
import json, os, sys
from pathlib import Path
with open(Path(os.environ["FAKE_STATE"]) / "calls.log", "a") as log:
    log.write(json.dumps(["dnf", *sys.argv[1:]]) + "\n")
''',
    "useradd": r'''#!/usr/bin/env python3
import json, os, sys
from pathlib import Path
state = Path(os.environ["FAKE_STATE"])
with open(state / "calls.log", "a") as log:
    log.write(json.dumps(["useradd", *sys.argv[1:]]) + "\n")
users = json.loads((state / "users.json").read_text()) if (state / "users.json").exists() else {}
if sys.argv[-1] in users:
    sys.exit(f"useradd: user '{sys.argv[-1]}' already exists")
users[sys.argv[-1]] = int(os.environ.get("FAKE_NEW_UID", "990"))
(state / "users.json").write_text(json.dumps(users))
''',
    "id": r'''#!/usr/bin/env python3
import json, os, sys
from pathlib import Path
state = Path(os.environ["FAKE_STATE"])
with open(state / "calls.log", "a") as log:
    log.write(json.dumps(["id", *sys.argv[1:]]) + "\n")
users = json.loads((state / "users.json").read_text()) if (state / "users.json").exists() else {}
if sys.argv[1:2] != ["-u"] or sys.argv[2] not in users:
    sys.exit(f"id: '{sys.argv[-1]}': no such user")
print(users[sys.argv[2]])
''',
    "aws": r'''#!/usr/bin/env python3
import json, os, sys
from pathlib import Path
with open(Path(os.environ["FAKE_STATE"]) / "calls.log", "a") as log:
    log.write(json.dumps(["aws", *sys.argv[1:]]) + "\n")
secrets = json.loads(os.environ.get("FAKE_SECRETS", "{}"))
name = sys.argv[sys.argv.index("--secret-id" if "--secret-id" in sys.argv else "--name") + 1]
if name not in secrets:
    sys.exit(f"An error occurred (ResourceNotFoundException): {name} not found")
print(secrets[name])
''',
}

# What Java and Go run in place of the app they need a toolchain to build: /health answers like the app's.
STAND_IN_APP = r'''#!/usr/bin/env python3
import json, os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok", "service": os.environ["SERVICE_NAME"], "version": os.environ["APP_VERSION"]}).encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

signal.signal(signal.SIGTERM, lambda *_: sys.exit(int(os.environ.get("STAND_IN_EXIT", "0"))))
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Health).serve_forever()
'''


def running(pid: int) -> bool:
    """Whether a process is alive (a zombie, which nobody has reaped yet, is not)."""
    try:
        return not Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return False


def write_executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


class Instance:
    """A temporary root with stand-in commands, on which CodeDeploy's lifecycle events are played."""

    def __init__(self, root: Path, service: str, runtime: str, secrets: dict[str, str] | None = None):
        self.root, self.service, self.runtime = root, service, runtime
        self.state = root / "fake-state"
        self.state.mkdir(parents=True)
        bin_dir = root / "fake-bin"
        write_executable(bin_dir / "systemctl", FAKE_SYSTEMCTL)
        for name, text in FAKE_COMMANDS.items():
            write_executable(bin_dir / name, text)
        self.port = free_port()
        self.app_home = root / "opt" / service
        self.unit_dir = root / "etc/systemd/system"
        self.unit_dir.mkdir(parents=True)
        self.env_dir = root / "etc" / service
        self.env = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",  # the stand-ins shadow the real commands
            "FAKE_STATE": str(self.state),
            "FAKE_SECRETS": json.dumps(secrets or {}),
            "APP_HOME": str(self.app_home),
            "UNIT_DIR": str(self.unit_dir),
            "ENV_DIR": str(self.env_dir),
            "APP_PORT": str(self.port),
            "SYSTEMCTL": str(bin_dir / "systemctl"),
            "DNF": str(bin_dir / "dnf"),
            "USERADD": str(bin_dir / "useradd"),
            "ID": str(bin_dir / "id"),
            "AWS_CLI": str(bin_dir / "aws"),
            "HEALTH_RETRIES": "50",
            "HEALTH_INTERVAL": "0.2",
            # CodeDeploy names the application and deployment group after the environment: staging's here.
            "APPLICATION_NAME": f"{service}-stg",
            "DEPLOYMENT_GROUP_NAME": f"{service}-stg",
        }
        if runtime == "nodejs":
            self.env["APP_EXECUTABLE"] = shutil.which("node")
        elif runtime == "python":
            self.env["APP_EXECUTABLE"] = sys.executable
        elif runtime == "java":
            self.env["APP_EXECUTABLE"] = str(write_executable(root / "stand-in/java", STAND_IN_APP))
            self.env["STAND_IN_EXIT"] = "143"  # what the JVM exits with on SIGTERM
        self.releases = 0
        self.previous_bundle: Path | None = None

    @property
    def app_dir(self) -> Path:
        return self.app_home / "app"

    def calls(self, program: str | None = None) -> list[list[str]]:
        path = self.state / "calls.log"
        lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return [line for line in lines if program is None or line[0] == program]

    def run_script(self, bundle: Path, event: str, **extra: str) -> subprocess.CompletedProcess:
        script = bundle / catalog.EC2_SCRIPT_DIR / catalog.EC2_HOOKS[event]["script"]
        env = {**self.env, "LIFECYCLE_EVENT": event, "DEPLOYMENT_ID": f"d-TEST{self.releases:05d}", **extra}
        return subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=180)

    def deploy(self, bundle: Path, strategy: str) -> dict[str, subprocess.CompletedProcess]:
        """One deployment as the agent runs it: ApplicationStop from the previous revision, the
        install events, and between BeforeInstall and AfterInstall the Install step (the files)."""
        self.releases += 1
        events = catalog.EC2_HOOKED_EVENTS[strategy]
        results = {}
        for event in events:
            if event == "ApplicationStop":
                if self.previous_bundle is None:
                    continue  # CodeDeploy skips it: no earlier revision on this instance
                results[event] = self.run_script(self.previous_bundle, event)
            else:
                if event == "AfterInstall":
                    shutil.rmtree(self.app_dir, ignore_errors=True)  # the agent removes the previous revision's files
                    shutil.copytree(bundle, self.app_dir)
                results[event] = self.run_script(bundle, event)
            assert results[event].returncode == 0, f"{event} failed:\n{results[event].stdout}\n{results[event].stderr}"
        self.previous_bundle = bundle
        return results

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as answer:
            assert answer.status == 200
            return json.loads(answer.read())

    def app_pid(self) -> int:
        return int((self.state / f"{self.service}.service.pid").read_text())

    def shutdown(self) -> None:
        if (self.unit_dir / f"{self.service}.service").exists():
            subprocess.run([self.env["SYSTEMCTL"], "stop", f"{self.service}.service"], env=self.env, check=False)


def build_bundle(project_dir: Path, work: Path, commit: str, runtime: str) -> Path:
    """What CodeBuild hands CodeDeploy: the project after the build's own commands, cut down to the
    artifact's files. The Java and Go builds need their toolchains; a stand-in takes the binary's place."""
    source = work / f"source-{commit}"
    shutil.copytree(project_dir, source)
    buildspec = load_yaml(source / "buildspec.yml")
    rt_commands = catalog.RUNTIMES[runtime]["build_commands"]
    commands = buildspec["phases"]["build"]["commands"]
    if runtime in ("nodejs", "python"):
        run = commands
    else:
        run = commands[len(rt_commands):]
        if runtime == "go":
            write_executable(source / "bin/app", STAND_IN_APP)
        else:
            write_executable(source / "target/app.jar", "stand-in jar\n")
    subprocess.run(["bash", "-ec", "\n".join(run)], cwd=source, check=True, capture_output=True,
                   env={**os.environ, "CODEBUILD_RESOLVED_SOURCE_VERSION": commit})
    bundle = work / f"bundle-{commit}"
    for pattern in buildspec["artifacts"]["files"]:
        for match in glob.glob(pattern, root_dir=source, recursive=True):
            if (source / match).is_file():
                (bundle / match).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / match, bundle / match)
    return bundle


RUN_CASES = ["nodejs-in_place", "python-in_place", "java-in_place", "go-in_place"]


@pytest.mark.parametrize("case", RUN_CASES)
def test_hooks_install_start_and_redeploy_the_app(renders, tmp_path, case):
    answers = answers_of(case)
    runtime, service = answers["runtime"], answers["service_name"]
    # DB_PASSWORD is the environment's own ({env}/db), named after the deployment group.
    secrets = {"orders-stg/db": 'pa"ss\\word $HOME', "/orders/api-key": "key-123"} if answers.get("secrets") else None
    instance = Instance(tmp_path / "root", service, runtime, secrets)
    try:
        first = build_bundle(renders[case], tmp_path, "1111111111111111111111111111111111111111", runtime)
        results = instance.deploy(first, answers["strategy"])
        assert "ApplicationStop" not in results
        health = instance.health()
        assert health["status"] == "ok" and health["service"] == service
        assert health["version"] == "1111111111111111111111111111111111111111"

        # BeforeInstall installed the runtime's packages and created the system user.
        packages = ec2_row(case)["packages"]
        assert [call[2:] for call in instance.calls("dnf")] == ([["--assumeyes", *packages]] if packages else [])
        (useradd,) = instance.calls("useradd")
        assert "--system" in useradd and useradd[-1] == service and useradd[useradd.index("--shell") + 1] == "/sbin/nologin"
        # AfterInstall wrote the unit and the environment file the app reads.
        unit = (instance.unit_dir / f"{service}.service").read_text()
        assert f"User={service}\n" in unit and "Restart=on-failure\n" in unit
        assert f"WorkingDirectory={instance.app_dir}\n" in unit
        assert f"EnvironmentFile={instance.env_dir}/{service}.env\n" in unit
        assert ("SuccessExitStatus=143\n" in unit) == (runtime == "java")
        env_file = instance.env_dir / f"{service}.env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        assert f'PORT="{instance.port}"' in env_file.read_text().splitlines()
        systemctl = [call[1] for call in instance.calls("systemctl")]
        assert systemctl[:2] == ["daemon-reload", "enable"] and "restart" in systemctl
        if secrets:
            assert 'DB_PASSWORD="pa\\"ss\\\\word $HOME"' in env_file.read_text().splitlines()
            assert 'API_KEY="key-123"' in env_file.read_text().splitlines()
            aws = instance.calls("aws")
            assert [call[1:3] for call in aws] == [["secretsmanager", "get-secret-value"], ["ssm", "get-parameter"]]
            assert all(call[call.index("--region") + 1] == "us-east-1" for call in aws)
        first_pid = instance.app_pid()

        # The hundredth deployment runs the same scripts: it must succeed and change what it should only.
        second = build_bundle(renders[case], tmp_path, "2222222222222222222222222222222222222222", runtime)
        results = instance.deploy(second, answers["strategy"])
        assert "ApplicationStop" in results
        assert instance.health()["version"] == "2222222222222222222222222222222222222222"
        assert instance.app_pid() != first_pid
        assert len(instance.calls("useradd")) == 1, "the second deployment created the user again"
        assert ["systemctl", "stop", f"{service}.service"] in instance.calls("systemctl")
        assert not list(instance.unit_dir.glob(".*")) and not list(instance.env_dir.glob(".*")), "temporary files left behind"
    finally:
        instance.shutdown()


def test_the_app_stops_gracefully_with_its_unit(renders, tmp_path):
    """ApplicationStop's SIGTERM ends the real app cleanly; a second stop is harmless."""
    instance = Instance(tmp_path / "root", "orders", "python", {"orders-stg/db": "secret", "/orders/api-key": "key"})
    try:
        bundle = build_bundle(renders["python-in_place"], tmp_path, "3" * 40, "python")
        instance.deploy(bundle, "in_place")
        pid = instance.app_pid()
        for _ in range(2):
            stopped = instance.run_script(bundle, "ApplicationStop")
            assert stopped.returncode == 0, stopped.stderr
        assert not running(pid)
        # The app's own last words: it finished its requests and closed the server on SIGTERM.
        assert (instance.state / "orders.service.log").read_text().splitlines()[-2:] == ["SIGTERM received, shutting down", "stopped"]
    finally:
        instance.shutdown()


def test_application_stop_on_a_new_instance_does_nothing(renders, tmp_path):
    instance = Instance(tmp_path / "root", "orders", "nodejs")
    result = instance.run_script(renders["nodejs-in_place"], "ApplicationStop")
    assert result.returncode == 0
    assert "orders.service is not installed: nothing to stop" in result.stdout
    assert instance.calls() == []


def test_validate_service_fails_clearly_when_health_never_answers(renders, tmp_path):
    instance = Instance(tmp_path / "root", "orders", "nodejs")
    started = time.monotonic()
    result = instance.run_script(renders["nodejs-in_place"], "ValidateService", HEALTH_RETRIES="3", HEALTH_INTERVAL="0.2")
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert elapsed < 15, f"took {elapsed:.1f}s"
    url = f"http://127.0.0.1:{instance.port}/health"
    assert f"FAILED: {url} did not answer 200 after 3 tries" in result.stderr
    assert "journalctl -u orders.service" in result.stderr


def test_validate_service_rejects_a_retry_count_that_is_not_a_number(renders, tmp_path):
    instance = Instance(tmp_path / "root", "orders", "nodejs")
    result = instance.run_script(renders["nodejs-in_place"], "ValidateService", HEALTH_RETRIES="soon")
    assert result.returncode != 0
    assert "HEALTH_RETRIES must be a whole number above 0, not 'soon'" in result.stderr


def test_before_install_refuses_a_user_with_roots_id(renders, tmp_path):
    instance = Instance(tmp_path / "root", "orders", "nodejs")
    result = instance.run_script(renders["nodejs-in_place"], "BeforeInstall", FAKE_NEW_UID="0")
    assert result.returncode != 0
    assert "orders has root's user id; the app must not run as root" in result.stderr


def test_after_install_refuses_a_secret_of_several_lines(renders, tmp_path):
    instance = Instance(tmp_path / "root", "orders", "python", {"orders-stg/db": "line one\nline two", "/orders/api-key": "k"})
    bundle = build_bundle(renders["python-in_place"], tmp_path, "4" * 40, "python")
    shutil.copytree(bundle, instance.app_dir)
    assert instance.run_script(bundle, "BeforeInstall").returncode == 0
    result = instance.run_script(bundle, "AfterInstall")
    assert result.returncode != 0
    assert "the value of DB_PASSWORD spans several lines" in result.stderr
    assert not (instance.env_dir / "orders.env").exists()


def test_after_install_refuses_to_guess_the_environment_of_its_secrets(renders, tmp_path):
    """DB_PASSWORD is named after the environment ({env}/db): without CodeDeploy's group name, no read at all."""
    instance = Instance(tmp_path / "root", "orders", "python", {"orders-stg/db": "x", "/orders/api-key": "k"})
    bundle = build_bundle(renders["python-in_place"], tmp_path, "5" * 40, "python")
    shutil.copytree(bundle, instance.app_dir)
    assert instance.run_script(bundle, "BeforeInstall").returncode == 0
    result = instance.run_script(bundle, "AfterInstall", DEPLOYMENT_GROUP_NAME="")
    assert result.returncode != 0
    assert "DEPLOYMENT_GROUP_NAME is not set" in result.stderr
    assert instance.calls("aws") == []


# --------------------------------------------------------------------------- the blue/green deployment group function

BLUE_GREEN = "nodejs-blue_green"


def _pascal(snake: str) -> str:
    return "".join(part.title() for part in snake.split("_"))


class StandInClient:
    """A boto3 client whose calls must fit botocore's model of the service; `state` is shared."""

    def __init__(self, service: str, state: dict[str, Any]):
        import botocore.session
        from botocore.validate import ParamValidator

        self._model = botocore.session.get_session().get_service_model(service)
        self._validator = ParamValidator()
        self.state = state
        self.exceptions = types.SimpleNamespace(
            DeploymentGroupDoesNotExistException=type("DeploymentGroupDoesNotExistException", (Exception,), {}),
            ApplicationDoesNotExistException=type("ApplicationDoesNotExistException", (Exception,), {}),
            InvalidRoleException=type("InvalidRoleException", (Exception,), {}),
        )

    def _call(self, operation: str, params: dict[str, Any]) -> None:
        report = self._validator.validate(params, self._model.operation_model(_pascal(operation)).input_shape)
        assert not report.has_errors(), f"{operation}: {report.generate_report()}"
        self.state["calls"].append((operation, params))
        if operation in self.state.get("fail", ()):
            raise RuntimeError(f"{operation} was refused")


class StandInCodeDeploy(StandInClient):
    def __init__(self, state):
        super().__init__("codedeploy", state)

    def get_deployment_group(self, **params):
        self._call("get_deployment_group", params)
        group = self.state["deployment_groups"].get((params["applicationName"], params["deploymentGroupName"]))
        if group is None:
            raise self.exceptions.DeploymentGroupDoesNotExistException(params["deploymentGroupName"])
        return {"deploymentGroupInfo": {**group, "autoScalingGroups": [{"name": n, "hook": "h"} for n in group["autoScalingGroups"]]}}

    def create_deployment_group(self, **params):
        self._call("create_deployment_group", params)
        if self.state.get("role_not_assumable", 0):
            # IAM has not propagated the new service role yet: CodeDeploy cannot assume it.
            self.state["role_not_assumable"] -= 1
            raise self.exceptions.InvalidRoleException("AWS CodeDeploy does not have the permissions required to assume the role")
        self.state["deployment_groups"][(params["applicationName"], params["deploymentGroupName"])] = params

    def update_deployment_group(self, **params):
        self._call("update_deployment_group", params)
        key = (params["applicationName"], params["currentDeploymentGroupName"])
        assert key in self.state["deployment_groups"]
        self.state["deployment_groups"][key] = {**params, "deploymentGroupName": key[1]}

    def delete_deployment_group(self, **params):
        self._call("delete_deployment_group", params)
        del self.state["deployment_groups"][(params["applicationName"], params["deploymentGroupName"])]
        return {"hooksNotCleanedUp": []}


class StandInAutoScaling(StandInClient):
    def __init__(self, state):
        super().__init__("autoscaling", state)

    def describe_auto_scaling_groups(self, **params):
        self._call("describe_auto_scaling_groups", params)
        if "AutoScalingGroupNames" not in params:
            # Every group of the account and Region, two a page.
            names = sorted(self.state["auto_scaling_groups"])
            start = int(params.get("NextToken", 0))
            page = {"AutoScalingGroups": [dict(self.state["auto_scaling_groups"][name], AutoScalingGroupName=name)
                                          for name in names[start:start + 2]]}
            return {**page, "NextToken": str(start + 2)} if start + 2 < len(names) else page
        found = []
        for name in params["AutoScalingGroupNames"]:
            group = self.state["auto_scaling_groups"].get(name)
            if group is None:
                continue
            found.append(dict(group, AutoScalingGroupName=name))
            if group.get("Status") == "Delete in progress":
                # A deleted group is listed a few more times, then gone.
                group["polls_left"] -= 1
                if group["polls_left"] <= 0:
                    del self.state["auto_scaling_groups"][name]
        return {"AutoScalingGroups": found}

    def create_auto_scaling_group(self, **params):
        self._call("create_auto_scaling_group", params)
        assert params["AutoScalingGroupName"] not in self.state["auto_scaling_groups"]
        self.state["auto_scaling_groups"][params["AutoScalingGroupName"]] = dict(params)

    def update_auto_scaling_group(self, **params):
        self._call("update_auto_scaling_group", params)
        self.state["auto_scaling_groups"][params["AutoScalingGroupName"]].update(params)

    def delete_auto_scaling_group(self, **params):
        self._call("delete_auto_scaling_group", params)
        group = self.state["auto_scaling_groups"][params["AutoScalingGroupName"]]
        group.update(Status="Delete in progress", polls_left=self.state.get("delete_polls", 2))


class CloudFormationEndpoint:
    """Receives the function's answers, as CloudFormation's presigned response URL does."""

    def __init__(self):
        answers = self.answers = []

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):
                answers.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/response?X-Amz-Signature=abc"

    def close(self):
        self.server.shutdown()


class Context:
    def __init__(self, remaining_ms: int = 900_000):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


FUNCTION_SOURCE = ROOT / "template" / "_partials" / "ec2" / "deployment_group.py"


def test_the_stack_inlines_the_deployment_group_function_unchanged(renders):
    template = load_stack(renders[BLUE_GREEN], "service.yml")
    code = template["Resources"]["DeploymentGroupFunction"]["Properties"]["Code"]["ZipFile"]
    assert code == FUNCTION_SOURCE.read_text()


@pytest.fixture
def function(renders, monkeypatch):
    """The blue/green stack's function, imported from its source with stand-in clients, and its endpoint."""
    pytest.importorskip("botocore", reason="the stand-in clients check every call against botocore's models")
    template = load_stack(renders[BLUE_GREEN], "service.yml")
    state = {"calls": [], "deployment_groups": {}, "auto_scaling_groups": {}}
    clients = {"codedeploy": StandInCodeDeploy(state), "autoscaling": StandInAutoScaling(state)}
    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda name: clients[name]))
    spec = importlib.util.spec_from_file_location("ec2_deployment_group_function", FUNCTION_SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.time = types.SimpleNamespace(sleep=lambda seconds: state["calls"].append(("sleep", seconds)))
    endpoint = CloudFormationEndpoint()
    yield types.SimpleNamespace(module=module, state=state, endpoint=endpoint, template=template)
    endpoint.close()


def stack_properties(template: dict[str, Any], **overrides: str) -> dict[str, Any]:
    """The custom resource's properties as CloudFormation hands them to the function."""
    values = {
        "EnvironmentName": "orders", "Application": "orders", "RollbackAlarm": "orders-app-5xx",
        "LaunchTemplate": "lt-0123456789abcdef0", "LaunchTemplate.LatestVersionNumber": "1",
        "TargetGroup": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/orders-tg/0123456789abcdef",
        "TargetGroup.TargetGroupName": "orders-tg", "PrivateSubnetIds": ["subnet-a", "subnet-b"],
        "DesiredCapacity": 2, "MinSize": 2, "MaxSize": 4, "BlueTerminationWaitMinutes": 60,
        "CodeDeployRole.Arn": "arn:aws:iam::123456789012:role/orders-codedeploy",
        "DeploymentGroupFunction.Arn": "arn:aws:lambda:us-east-1:123456789012:function:orders-deployment-group",
        **overrides,
    }
    return resolve(template["Resources"]["DeploymentGroup"]["Properties"], values)


def invoke(function, request: str, props: dict[str, Any], old: dict[str, Any] | None = None, context=None) -> dict[str, Any]:
    event = {
        "RequestType": request, "ResponseURL": function.endpoint.url, "StackId": "arn:aws:cloudformation:stack/orders",
        "RequestId": f"request-{len(function.endpoint.answers)}", "LogicalResourceId": "DeploymentGroup",
        "ResourceType": "Custom::BlueGreenDeploymentGroup", "ResourceProperties": props,
    }
    if request != "Create":
        event["PhysicalResourceId"] = "orders/orders"
    if old is not None:
        event["OldResourceProperties"] = old
    function.state["calls"].clear()
    function.module.handler(event, context or Context())
    answer = function.endpoint.answers[-1]
    assert (answer["RequestId"], answer["LogicalResourceId"], answer["StackId"]) == (event["RequestId"], "DeploymentGroup", event["StackId"])
    return answer


def blue_green_deployment(state: dict[str, Any], deployment_id: str) -> str:
    """What CodeDeploy does to the groups in a successful blue/green deployment (COPY_AUTO_SCALING_GROUP)."""
    group = state["deployment_groups"][("orders", "orders")]
    (original,) = group["autoScalingGroups"]
    copy = f"CodeDeploy_orders_{deployment_id}"
    state["auto_scaling_groups"][copy] = dict(state["auto_scaling_groups"][original], AutoScalingGroupName=copy)
    del state["auto_scaling_groups"][original]
    group["autoScalingGroups"] = [copy]
    return copy


def test_function_creates_the_fleet_and_the_blue_green_deployment_group(function):
    props = stack_properties(function.template)
    answer = invoke(function, "Create", props)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"] == "orders/orders"
    assert answer["Data"] == {"AutoScalingGroupName": "orders-fleet", "DeploymentGroupName": "orders"}
    fleet = function.state["auto_scaling_groups"]["orders-fleet"]
    assert fleet["LaunchTemplate"] == {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "1"}
    assert (fleet["MinSize"], fleet["MaxSize"], fleet["DesiredCapacity"]) == (2, 4, 2)
    assert fleet["VPCZoneIdentifier"] == "subnet-a,subnet-b" and fleet["TargetGroupARNs"] == [props["AutoScalingGroup"]["TargetGroupARNs"][0]]
    group = function.state["deployment_groups"][("orders", "orders")]
    assert group["autoScalingGroups"] == ["orders-fleet"]
    assert group["deploymentStyle"] == {"deploymentOption": "WITH_TRAFFIC_CONTROL", "deploymentType": "BLUE_GREEN"}
    assert group["blueGreenDeploymentConfiguration"] == {
        "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
        "greenFleetProvisioningOption": {"action": "COPY_AUTO_SCALING_GROUP"},
        "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 60},
    }
    assert group["deploymentConfigName"] == catalog.EC2_BATCHES[answers_of(BLUE_GREEN)["ec2_batch"]]["config"]
    assert group["alarmConfiguration"] == {"alarms": [{"name": "orders-app-5xx"}], "enabled": True}
    assert group["autoRollbackConfiguration"] == {
        "enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"]}
    assert group["loadBalancerInfo"] == {"targetGroupInfoList": [{"name": "orders-tg"}]}


def test_stack_updates_follow_the_group_codedeploy_put_in_service(function):
    """The trap: after a blue/green deployment the stack's first group no longer exists."""
    props = stack_properties(function.template)
    assert invoke(function, "Create", props)["Status"] == "SUCCESS"
    in_service = blue_green_deployment(function.state, "d-ABCDEF123")

    changed = stack_properties(function.template, **{"LaunchTemplate.LatestVersionNumber": "2", "DesiredCapacity": 3})
    answer = invoke(function, "Update", changed, old=props)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["AutoScalingGroupName"] == in_service
    operations = [call[0] for call in function.state["calls"]]
    assert "create_auto_scaling_group" not in operations and "create_deployment_group" not in operations
    assert set(function.state["auto_scaling_groups"]) == {in_service}, "the stack's first group came back"
    group = function.state["auto_scaling_groups"][in_service]
    assert group["LaunchTemplate"]["Version"] == "2" and group["DesiredCapacity"] == 3
    assert function.state["deployment_groups"][("orders", "orders")]["autoScalingGroups"] == [in_service]

    # And again after the next deployment: always the group in service, never a stale name.
    newer = blue_green_deployment(function.state, "d-GHIJKL456")
    assert invoke(function, "Update", props, old=changed)["Data"]["AutoScalingGroupName"] == newer


def test_stack_deletion_removes_the_deployment_group_and_the_group_in_service(function):
    props = stack_properties(function.template)
    invoke(function, "Create", props)
    in_service = blue_green_deployment(function.state, "d-ABCDEF123")
    answer = invoke(function, "Delete", props)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert function.state["deployment_groups"] == {} and function.state["auto_scaling_groups"] == {}
    deletes = [params for op, params in function.state["calls"] if op == "delete_auto_scaling_group"]
    assert deletes == [{"AutoScalingGroupName": in_service, "ForceDelete": True}]
    # It waited for the instances to go: the security groups are deleted next.
    assert ("sleep", 15) in function.state["calls"]


def test_deletion_also_removes_the_copy_of_a_deployment_under_way(function):
    """A blue/green deployment in flight has a copy the deployment group does not name yet."""
    props = stack_properties(function.template)
    invoke(function, "Create", props)
    in_flight = "CodeDeploy_orders_d-INFLIGHT1"
    function.state["auto_scaling_groups"][in_flight] = dict(function.state["auto_scaling_groups"]["orders-fleet"])
    others = {"orders-stg-fleet", "CodeDeploy_orders-stg_d-OTHER", "CodeDeploy_ordersx_d-OTHER"}
    for name in others:
        function.state["auto_scaling_groups"][name] = {}
    answer = invoke(function, "Delete", props)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    deleted = {params["AutoScalingGroupName"] for op, params in function.state["calls"] if op == "delete_auto_scaling_group"}
    assert deleted == {"orders-fleet", in_flight}
    assert set(function.state["auto_scaling_groups"]) == set(others), "other environments' groups stay"


def test_creation_waits_for_codedeploy_to_accept_a_new_role(function):
    function.state["role_not_assumable"] = 3
    answer = invoke(function, "Create", stack_properties(function.template))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    creates = [op for op, _ in function.state["calls"] if op == "create_deployment_group"]
    assert len(creates) == 4 and function.state["calls"].count(("sleep", function.module.ROLE_RETRY_SECONDS)) == 3
    assert ("orders", "orders") in function.state["deployment_groups"]


def test_creation_fails_when_the_role_never_becomes_assumable(function):
    function.state["role_not_assumable"] = 1000
    answer = invoke(function, "Create", stack_properties(function.template))
    assert answer["Status"] == "FAILED" and answer["Reason"].startswith("InvalidRoleException")
    assert len([op for op, _ in function.state["calls"] if op == "create_deployment_group"]) == function.module.ROLE_ATTEMPTS


def test_deleting_a_stack_whose_create_failed_succeeds(function):
    answer = invoke(function, "Delete", stack_properties(function.template))
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    # No deployment group; the search for copies, then for the first group, finds nothing to delete or wait for.
    assert [op for op, _ in function.state["calls"]] == ["get_deployment_group"] + ["describe_auto_scaling_groups"] * 3
    assert [params for op, params in function.state["calls"]][1] == {}, "the first look lists every group for CodeDeploy's copies"


def test_a_refused_call_fails_the_stack_operation_with_the_reason(function):
    function.state["fail"] = {"create_deployment_group"}
    answer = invoke(function, "Create", stack_properties(function.template))
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == "RuntimeError: create_deployment_group was refused"
    assert answer["PhysicalResourceId"] == "orders/orders"  # the rollback's Delete then removes the group it made
    function.state.pop("fail")
    assert invoke(function, "Delete", stack_properties(function.template))["Status"] == "SUCCESS"
    assert function.state["auto_scaling_groups"] == {}


def test_deletion_that_outlasts_the_function_says_to_try_again(function):
    props = stack_properties(function.template)
    invoke(function, "Create", props)
    function.state["delete_polls"] = 10**6
    answer = invoke(function, "Delete", props, context=Context(remaining_ms=30_000))
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == "TimeoutError: orders-fleet still deleting: delete the stack again to wait for them"
