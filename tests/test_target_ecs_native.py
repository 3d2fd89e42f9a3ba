"""Target ecs_fargate with ecs_controller=ecs: Amazon ECS itself runs blue/green, canary and linear.

The service stack carries the deployment strategy (DeploymentConfiguration), the alternate target
group and listener rules (LoadBalancers[].AdvancedConfiguration) and a lifecycle hook; there is no
CodeDeploy resource, no appspec.yaml and no taskdef.json. With ecs_controller=codedeploy none of
that appears. The hook's code runs here against ECS's event shape and a local HTTP server, and a
real `copier update` switches a CodeDeploy service to the native controller.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest
from copier import run_copy, run_update

from app_probe import RawServer, free_port
from helpers import catalog, copy_template, load_pipeline, load_service, recorded_answers, resources_of_type
from test_target_ecs import (
    ACCOUNT,
    REGION,
    SERVICE,
    LambdaContext,
    LoadBalancerInterfaces,
    _HealthServer,
    certificates,  # noqa: F401 (a fixture)
    container,
    deploy_actions,
    load_buildspec,
    run_post_build,
    serving,
    set_hook_environment,
    trust_only,
)

NATIVE: dict[str, dict[str, Any]] = {
    "blue_green-bake0": dict(strategy="blue_green", bake_minutes=0, runtime="nodejs", staging=True),
    "blue_green-bake45": dict(strategy="blue_green", bake_minutes=45, runtime="java", staging=False, architecture="x86_64"),
    "canary-2_5pct-7min": dict(strategy="canary", canary_percent=2.5, canary_minutes=7, bake_minutes=15, runtime="python", staging=True),
    "canary-0_3pct-1min": dict(strategy="canary", canary_percent=0.3, canary_minutes=1, bake_minutes=5, runtime="java", staging=True),
    "canary-100pct-0min": dict(strategy="canary", canary_percent=100, canary_minutes=0, bake_minutes=0, runtime="go", staging=False),
    "linear-25pct-3min": dict(strategy="linear", linear_percent=25, linear_minutes=3, bake_minutes=10, runtime="go", staging=True),
    # The most steps, and the longest rollout CloudFormation accepts: 33 steps of 55 minutes and a 165-minute bake (1980).
    "linear-3pct-55min": dict(strategy="linear", linear_percent=3, linear_minutes=55, bake_minutes=165, runtime="nodejs", staging=False),
}
CODEDEPLOY: dict[str, dict[str, Any]] = {
    f"codedeploy-{strategy}": dict(strategy=strategy, ecs_controller="codedeploy", runtime="python", staging=True)
    for strategy in ("blue_green", "canary", "linear")
}


def answers_of(case: str) -> dict[str, Any]:
    if case in NATIVE:
        return {"service_name": SERVICE, "target": "ecs_fargate", "ecs_controller": "ecs", **NATIVE[case]}
    return {"service_name": SERVICE, "target": "ecs_fargate", **CODEDEPLOY[case]}


def render_sets() -> dict[str, dict[str, Any]]:
    """This module's answer sets; conftest renders them once with the session's others."""
    return {case: answers_of(case) for case in [*NATIVE, *CODEDEPLOY]}


def service_props(render_dir: Path) -> dict[str, Any]:
    return load_service(render_dir)["Resources"]["Service"]["Properties"]


# --------------------------------------------------------------------------- the deployment configuration


def test_cfn_lint_accepts_the_edge_values(gate_run, renders):
    """cfn-lint's schema holds ECS's limits (CanaryPercent 0.1-100 in steps of 0.1, StepPercent 3-100, ...)."""
    files, findings = gate_run.within("cfn-lint", [renders[case] for case in NATIVE])
    assert sum(path.name == "service.yml" for path in files) == len(NATIVE)
    assert not findings, "\n".join(findings)
    # cfn-lint checks "multiple of 0.1" in binary floating point, where 0.3 / 0.1 != 3: only such a
    # value turns its E3002 off for the service, and only there.
    for case in NATIVE:
        metadata = load_service(renders[case])["Resources"]["Service"].get("Metadata")
        if case == "canary-0_3pct-1min":
            assert metadata == {"cfn-lint": {"config": {"ignore_checks": ["E3002"]}}}
        else:
            assert metadata is None, case


@pytest.mark.parametrize("case", list(NATIVE))
def test_strategy_and_its_numbers_are_the_answers(renders, case):
    answers = NATIVE[case]
    props = service_props(renders[case])
    config = props["DeploymentConfiguration"]
    assert props["DeploymentController"] == {"Type": "ECS"}
    assert config["Strategy"] == answers["strategy"].upper()
    assert config["BakeTimeInMinutes"] == answers["bake_minutes"]
    if answers["strategy"] == "canary":
        assert config["CanaryConfiguration"] == {
            "CanaryBakeTimeInMinutes": answers["canary_minutes"], "CanaryPercent": answers["canary_percent"]}
    else:
        assert "CanaryConfiguration" not in config
    if answers["strategy"] == "linear":
        assert config["LinearConfiguration"] == {
            "StepBakeTimeInMinutes": answers["linear_minutes"], "StepPercent": answers["linear_percent"]}
    else:
        assert "LinearConfiguration" not in config
    # Alarms roll back every strategy; the circuit breaker exists for blue/green only
    # ("Amazon ECS deployment failure detection": rolling update and blue/green types).
    assert config["Alarms"] == {"AlarmNames": [{"Ref": "ErrorAlarm"}], "Enable": True, "Rollback": True}
    if answers["strategy"] == "blue_green":
        assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    else:
        assert "DeploymentCircuitBreaker" not in config


@pytest.mark.parametrize("case", list(NATIVE))
def test_load_balancer_gives_ecs_a_green_target_group_rules_and_a_role(renders, case):
    service = load_service(renders[case])
    resources = service["Resources"]
    (balancer,) = resources["Service"]["Properties"]["LoadBalancers"]
    assert balancer["TargetGroupArn"] == {"Ref": "BlueTargetGroup"}
    advanced = balancer["AdvancedConfiguration"]
    assert advanced == {
        "AlternateTargetGroupArn": {"Ref": "GreenTargetGroup"},
        "ProductionListenerRule": {"Ref": "ProductionListenerRule"},
        "RoleArn": {"Fn::GetAtt": ["LoadBalancerManagementRole", "Arn"]},
        "TestListenerRule": {"Ref": "TestListenerRule"},
    }
    listeners = {name: res["Properties"] for name, res in resources_of_type(service, "AWS::ElasticLoadBalancingV2::Listener").items()}
    # HttpRedirectListener exists only with a certificate, and only redirects (test_target_ecs checks it).
    assert set(listeners) == {"ProductionListener", "TestListener", "HttpRedirectListener"}
    assert listeners["TestListener"]["Port"] == catalog.ECS_TEST_LISTENER_PORT != listeners["ProductionListener"]["Port"]
    for listener in ("Production", "Test"):
        rule = resources[f"{listener}ListenerRule"]["Properties"]
        assert rule["ListenerArn"] == {"Ref": f"{listener}Listener"}
        (action,) = rule["Actions"]
        # Only forward actions: ECS moves traffic by changing these weights.
        assert action["Type"] == "forward"
        assert action["ForwardConfig"]["TargetGroups"] == [
            {"TargetGroupArn": {"Ref": "BlueTargetGroup"}, "Weight": 100},
            {"TargetGroupArn": {"Ref": "GreenTargetGroup"}, "Weight": 0},
        ]
    # ECS assumes the role; it may change these rules, listeners and target groups and nothing else.
    role = resources["LoadBalancerManagementRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ecs.amazonaws.com"}
    statements = {s["Sid"]: s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]}
    assert statements["MoveTraffic"]["Resource"] == [{"Ref": "ProductionListenerRule"}, {"Ref": "TestListenerRule"}]
    assert statements["RegisterTasks"]["Resource"] == [{"Ref": "BlueTargetGroup"}, {"Ref": "GreenTargetGroup"}]
    assert statements["ModifyListeners"]["Resource"] == [{"Ref": "ProductionListener"}, {"Ref": "TestListener"}]
    assert [s["Resource"] for s in statements.values() if s["Resource"] == "*"] == ["*"]  # Describe* only
    assert statements["ReadLoadBalancer"]["Resource"] == "*"
    assert all(action.startswith("elasticloadbalancing:Describe") for action in statements["ReadLoadBalancer"]["Action"])


@pytest.mark.parametrize("case", list(NATIVE))
def test_lifecycle_hook_runs_after_test_traffic_with_its_own_roles(renders, case):
    resources = load_service(renders[case])["Resources"]
    (hook,) = resources["Service"]["Properties"]["DeploymentConfiguration"]["LifecycleHooks"]
    assert hook == {
        "HookTargetArn": {"Fn::GetAtt": ["TestTrafficCheck", "Arn"]},
        "LifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
        "RoleArn": {"Fn::GetAtt": ["HookInvokeRole", "Arn"]},
    }
    invoke = resources["HookInvokeRole"]["Properties"]
    assert invoke["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ecs.amazonaws.com"}
    (statement,) = [s for p in invoke["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert (statement["Action"], statement["Resource"]) == ("lambda:InvokeFunction", {"Fn::GetAtt": ["TestTrafficCheck", "Arn"]})
    # The check's own role writes its logs and lets Lambda place it in the VPC; the only API it calls
    # itself is EC2's DescribeNetworkInterfaces.
    own = [s for p in resources["TestTrafficCheckRole"]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert [sorted(s["Action"]) for s in own] == [
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        ["ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:UnassignPrivateIpAddresses"],
        ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]]
    check = resources["TestTrafficCheck"]["Properties"]
    assert check["Environment"]["Variables"]["LOAD_BALANCER"] == {"Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]}
    assert check["Environment"]["Variables"]["TEST_PORT"] == str(catalog.ECS_TEST_LISTENER_PORT)
    assert not check["FunctionName"]["Fn::Sub"].startswith("CodeDeployHook_")


@pytest.mark.parametrize("case", list(NATIVE))
def test_nothing_of_codedeploy_is_rendered(renders, case, tmp_path):
    render_dir = renders[case]
    service = load_service(render_dir)
    assert not [res["Type"] for res in service["Resources"].values() if res["Type"].startswith("AWS::CodeDeploy::")]
    assert not (render_dir / "appspec.yaml").exists()
    assert not (render_dir / "taskdef.json").exists()
    assert "CodeDeploy" not in (render_dir / "infra" / "service.yml").read_text()
    buildspec = load_buildspec(render_dir)
    assert buildspec["artifacts"]["files"] == ["imageDetail.json"]
    out = run_post_build(render_dir, tmp_path / "build")
    assert sorted(path.name for path in out.glob("image*.json")) == ["imageDetail.json"]


@pytest.mark.parametrize("case", list(NATIVE))
def test_the_stack_update_deploys_the_new_image_to_the_stack_service(renders, case, tmp_path):
    """No ECS action: the pipeline updates the service stack with the new image, and the new task
    definition starts the deployment with the service's own strategy."""
    render_dir = renders[case]
    service = load_service(render_dir)
    envs = service["Parameters"]["EnvironmentName"]["AllowedValues"]
    actions = deploy_actions(load_pipeline(render_dir))
    assert len(actions) == len(envs)
    for action in actions.values():
        assert action["ActionTypeId"]["Provider"] == "CloudFormation"
        assert action["Name"] == "DeployService"
        assert "#{BuildVariables.IMAGE_URI}" in str(action["Configuration"]["ParameterOverrides"])
    assert container(service)["Image"] == {"Ref": "ImageUri"}
    assert container(service)["Name"] == service["Resources"]["Service"]["Properties"]["LoadBalancers"][0]["ContainerName"]
    assert service["Resources"]["Service"]["Properties"]["TaskDefinition"] == {"Ref": "TaskDefinition"}
    out = run_post_build(render_dir, tmp_path / "build")
    assert json.loads((out / "imageDetail.json").read_text()) == {"ImageURI": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{SERVICE}:0123abc-7"}


@pytest.mark.parametrize("case", list(CODEDEPLOY))
def test_with_codedeploy_none_of_the_native_configuration_appears(renders, case):
    render_dir = renders[case]
    resources = load_service(render_dir)["Resources"]
    props = resources["Service"]["Properties"]
    assert props["DeploymentController"] == {"Type": "CODE_DEPLOY"}
    assert "DeploymentConfiguration" not in props
    assert "AdvancedConfiguration" not in props["LoadBalancers"][0]
    for name in ("ProductionListenerRule", "TestListenerRule", "LoadBalancerManagementRole", "HookInvokeRole"):
        assert name not in resources
    assert not resources_of_type({"Resources": resources}, "AWS::ElasticLoadBalancingV2::ListenerRule")
    assert resources["DeploymentGroup"]["Type"] == "AWS::CodeDeploy::DeploymentGroup"
    assert (render_dir / "appspec.yaml").is_file() and (render_dir / "taskdef.json").is_file()
    assert "bake_minutes" not in recorded_answers(render_dir)


@pytest.mark.parametrize("case", list(NATIVE))
def test_readme_explains_the_controller_and_links_the_migration_guide(renders, case):
    readme = (renders[case] / "README.md").read_text()
    assert "Amazon ECS runs the deployment itself" in readme
    assert "POST_TEST_TRAFFIC_SHIFT" in readme
    assert "Migrate CodeDeploy blue/green deployments to Amazon ECS blue/green deployments" in readme
    assert "](https://docs.aws.amazon.com/AmazonECS/latest/developerguide/migrate-codedeploy-to-ecs-bluegreen.html)" in readme


# --------------------------------------------------------------------------- the POST_TEST_TRAFFIC_SHIFT hook


def load_ecs_hook(render_dir: Path, monkeypatch, url: str, attempts: int = 3, retry_seconds: int = 20,
                  ec2: LoadBalancerInterfaces | None = None) -> types.ModuleType:
    properties = load_service(render_dir)["Resources"]["TestTrafficCheck"]["Properties"]
    set_hook_environment(monkeypatch, url, attempts)
    monkeypatch.setenv("RETRY_SECONDS", str(retry_seconds))
    # The only AWS API the check calls: EC2, for the load balancer's private addresses.
    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda name, **kwargs: {"ec2": ec2 or LoadBalancerInterfaces()}[name]))
    code = properties["Code"]["ZipFile"]
    assert len(code) <= 4096, "inline Lambda code is limited to 4096 characters"
    module = types.ModuleType("index")
    exec(compile(code, "index.py", "exec"), module.__dict__)  # noqa: S102 (the stack's own code, under test)
    return module


def ecs_event(hook_details: Any = None) -> dict[str, Any]:
    """The payload shape of "Lifecycle hooks for Amazon ECS service deployments"."""
    revision = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{SERVICE}/{SERVICE}/0123456789"
    event = {
        "serviceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{SERVICE}/{SERVICE}",
        "targetServiceRevisionArn": revision,
        "testTrafficWeights": {revision: 100},
        "productionTrafficWeights": {revision: 0},
    }
    if hook_details is not None:
        event["hookDetails"] = hook_details
    return event


@pytest.fixture(scope="module")
def hook_render(renders) -> Path:
    return renders["canary-2_5pct-7min"]


def test_ecs_hook_succeeds_when_the_new_version_is_healthy(hook_render, monkeypatch):
    with _HealthServer(200) as server:
        hook = load_ecs_hook(hook_render, monkeypatch, f"http://127.0.0.1:{server.port}/health")
        assert hook.handler(ecs_event(), None) == {"hookStatus": "SUCCEEDED"}
    assert server.paths == ["/health"]


def test_ecs_hook_fails_when_the_app_answers_with_an_error(hook_render, monkeypatch):
    with _HealthServer(500) as server:
        hook = load_ecs_hook(hook_render, monkeypatch, f"http://127.0.0.1:{server.port}/health")
        assert hook.handler(ecs_event(), None) == {"hookStatus": "FAILED"}


def test_ecs_hook_asks_to_be_called_again_while_the_new_tasks_are_not_ready(hook_render, monkeypatch):
    with _HealthServer([503, 503, 200], server_header="awselb/2.0") as server:
        hook = load_ecs_hook(hook_render, monkeypatch, f"http://127.0.0.1:{server.port}/health", attempts=5, retry_seconds=20)
        first = hook.handler(ecs_event(), None)
        assert first == {"hookStatus": "IN_PROGRESS", "callBackDelay": 20, "hookDetails": {"attempt": 1}}
        # ECS passes hookDetails back on the next call (and may pass it as a JSON string).
        second = hook.handler(ecs_event(json.dumps(first["hookDetails"])), None)
        assert second == {"hookStatus": "IN_PROGRESS", "callBackDelay": 20, "hookDetails": {"attempt": 2}}
        assert hook.handler(ecs_event(second["hookDetails"]), None) == {"hookStatus": "SUCCEEDED"}
    assert len(server.paths) == 3


def test_ecs_hook_gives_up_after_its_last_attempt(monkeypatch, hook_render):
    hook = load_ecs_hook(hook_render, monkeypatch, f"http://127.0.0.1:{free_port()}/health", attempts=3)
    assert hook.handler(ecs_event(), None)["hookStatus"] == "IN_PROGRESS"
    assert hook.handler(ecs_event({"attempt": 1}), None)["hookStatus"] == "IN_PROGRESS"
    assert hook.handler(ecs_event({"attempt": 2}), None) == {"hookStatus": "FAILED"}


def test_ecs_hook_fails_at_once_when_the_certificate_does_not_verify(hook_render, monkeypatch, certificates):
    """Over HTTPS, a certificate that no trusted root issued is FAILED at the first call, not IN_PROGRESS."""
    trust_only(monkeypatch, certificates)
    with _HealthServer(200, tls=serving(certificates, "self")) as server:
        hook = load_ecs_hook(hook_render, monkeypatch, f"https://127.0.0.1:{server.port}/health", attempts=5)
        assert hook.handler(ecs_event(), None) == {"hookStatus": "FAILED"}
    assert server.connections == 1 and server.paths == []


def test_ecs_hook_succeeds_over_https_with_a_certificate_for_another_name(hook_render, monkeypatch, certificates):
    trust_only(monkeypatch, certificates)
    with _HealthServer(200, tls=serving(certificates, "server")) as server:
        hook = load_ecs_hook(hook_render, monkeypatch, f"https://127.0.0.1:{server.port}/health")
        assert hook.handler(ecs_event(), None) == {"hookStatus": "SUCCEEDED"}
    assert server.paths == ["/health"]


def test_ecs_hook_fails_when_the_answer_is_not_http(hook_render, monkeypatch):
    with RawServer(b"garbage\r\n\r\n") as server:
        hook = load_ecs_hook(hook_render, monkeypatch, f"http://127.0.0.1:{server.port}/health", attempts=3)
        assert hook.handler(ecs_event(), None) == {"hookStatus": "FAILED"}


def test_ecs_hook_fails_when_the_event_is_not_understood(hook_render, monkeypatch):
    hook = load_ecs_hook(hook_render, monkeypatch, "http://127.0.0.1:1/health")
    assert hook.handler(ecs_event("{not json"), None) == {"hookStatus": "FAILED"}


def test_ecs_hook_waits_no_longer_than_its_invocation_may_run(hook_render, monkeypatch):
    with RawServer(None) as server:
        hook = load_ecs_hook(hook_render, monkeypatch, f"http://127.0.0.1:{server.port}/health", attempts=3)
        started = time.monotonic()
        assert hook.handler(ecs_event(), LambdaContext(3))["hookStatus"] == "IN_PROGRESS"
    assert time.monotonic() - started < 2


def test_ecs_hook_settings_in_the_stack_bound_the_wait(renders):
    variables = load_service(renders["linear-25pct-3min"])["Resources"]["TestTrafficCheck"]["Properties"]["Environment"]["Variables"]
    assert int(variables["ATTEMPTS"]) == catalog.ECS_HOOK_ATTEMPTS > 1
    assert int(variables["RETRY_SECONDS"]) == catalog.ECS_HOOK_RETRY_SECONDS > 0


# --------------------------------------------------------------------------- switching controllers with copier update


GIT_ENV = {"GIT_AUTHOR_NAME": "Tests", "GIT_AUTHOR_EMAIL": "tests@example.com",
           "GIT_COMMITTER_NAME": "Tests", "GIT_COMMITTER_EMAIL": "tests@example.com"}


def git(repo: Path, *args: str) -> None:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env={**os.environ, **GIT_ENV}, check=False)
    assert proc.returncode == 0, proc.stderr


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def test_copier_update_switches_a_codedeploy_service_to_the_native_controller(tmp_path):
    template = copy_template(tmp_path / "template-repo")
    git(template, "init", "-q", "-b", "main")
    commit_all(template, "template")
    git(template, "tag", "v1.0.0")

    service = tmp_path / SERVICE
    run_copy(str(template), str(service), data={"service_name": SERVICE, "target": "ecs_fargate", "strategy": "canary",
                                                "ecs_controller": "codedeploy"},
             defaults=True, unsafe=True, quiet=True, vcs_ref="v1.0.0")
    git(service, "init", "-q", "-b", "main")
    commit_all(service, "rendered")
    assert (service / "appspec.yaml").is_file() and (service / "taskdef.json").is_file()

    run_update(str(service), data={"ecs_controller": "ecs"}, defaults=True, overwrite=True, unsafe=True, quiet=True)

    assert not (service / "appspec.yaml").exists()
    assert not (service / "taskdef.json").exists()
    answers = recorded_answers(service)
    assert answers["ecs_controller"] == "ecs"
    assert answers["bake_minutes"] == 10
    props = service_props(service)
    assert props["DeploymentController"] == {"Type": "ECS"}
    assert props["DeploymentConfiguration"]["Strategy"] == "CANARY"
    assert props["DeploymentConfiguration"]["BakeTimeInMinutes"] == 10
    assert not [res for res in load_service(service)["Resources"].values() if res["Type"].startswith("AWS::CodeDeploy::")]
    assert load_buildspec(service)["artifacts"]["files"] == ["imageDetail.json"]
    assert {action["ActionTypeId"]["Provider"] for action in deploy_actions(load_pipeline(service)).values()} == {"CloudFormation"}
