"""The JSON Schemas in tests/schemas/ and their loader, tests/schema_check.py.

Valid examples are modelled on AWS's documented examples ("Build specification reference
for CodeBuild", "AppSpec File example"); each broken example must be rejected with an
error that names the offending field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

import schema_check
from schema_check import SCHEMA_DIR, kind_for, schema_for, validate_document, validate_file, validate_text

# --- valid examples -------------------------------------------------------------------------

NODE_BUILDSPEC = """\
version: 0.2

env:
  shell: bash
  variables:
    NODE_ENV: "production"
    AWS_DEFAULT_REGION: "us-east-1"
  parameter-store:
    NPM_TOKEN: /orders/npm-token
  secrets-manager:
    DB_PASSWORD: "orders/db:password"
  exported-variables:
    - IMAGE_TAG
  git-credential-helper: no

phases:
  install:
    runtime-versions:
      nodejs: 22
    commands:
      - npm ci
  pre_build:
    on-failure: ABORT
    commands:
      - npm run lint
      - export IMAGE_TAG=$(echo $CODEBUILD_RESOLVED_SOURCE_VERSION | cut -c 1-7)
  build:
    on-failure: RETRY-2
    commands:
      - npm test -- --ci --reporters=default --reporters=jest-junit --coverage
      - npm run build
    finally:
      - echo Tests finished on `date`
  post_build:
    commands:
      - "echo Build completed: $IMAGE_TAG"

reports:
  unit-tests:
    files:
      - junit.xml
    base-directory: reports
    discard-paths: yes
    file-format: JUNITXML
  coverage:
    files:
      - clover.xml
    base-directory: coverage
    file-format: CLOVERXML

artifacts:
  files:
    - '**/*'
  base-directory: dist
  name: orders-$(date +%Y-%m-%d)
  discard-paths: no
  exclude-paths:
    - "**/.*"
  enable-symlinks: yes

cache:
  key: npm-key-$(codebuild-hash-files package-lock.json)
  fallback-keys:
    - npm-key-
    - npm-
  paths:
    - /root/.npm/**/*
    - node_modules/**/*
"""

# The example of "Build specification reference for CodeBuild" (Buildspec example), verbatim.
AWS_REFERENCE_BUILDSPEC = """\
version: 0.2

env:
  variables:
    JAVA_HOME: "/usr/lib/jvm/java-8-openjdk-amd64"
  parameter-store:
    LOGIN_PASSWORD: /CodeBuild/dockerLoginPassword

phases:
  install:
    commands:
      - echo Entered the install phase...
      - apt-get update -y
      - apt-get install -y maven
    finally:
      - echo This always runs even if the update or install command fails
  pre_build:
    commands:
      - echo Entered the pre_build phase...
      - docker login -u User -p $LOGIN_PASSWORD
    finally:
      - echo This always runs even if the login command fails
  build:
    commands:
      - echo Entered the build phase...
      - echo Build started on `date`
      - mvn install
    finally:
      - echo This always runs even if the install command fails
  post_build:
    commands:
      - echo Entered the post_build phase...
      - echo Build completed on `date`

reports:
  arn:aws:codebuild:your-region:your-aws-account-id:report-group/report-group-name-1:
    files:
      - "**/*"
    base-directory: 'target/tests/reports'
    discard-paths: no
  reportGroupCucumberJson:
    files:
      - 'cucumber/target/cucumber-tests.xml'
    discard-paths: yes
    file-format: CUCUMBERJSON # default is JUNITXML
artifacts:
  files:
    - target/messageUtil-1.0.jar
  discard-paths: yes
  secondary-artifacts:
    artifact1:
      files:
        - target/artifact-1.0.jar
      discard-paths: yes
    artifact2:
      files:
        - target/artifact-2.0.jar
      discard-paths: yes
cache:
  paths:
    - '/root/.m2/**/*'
"""

EC2_APPSPEC = """\
version: 0.0
os: linux
files:
  - source: /
    destination: /opt/orders
file_exists_behavior: OVERWRITE
permissions:
  - object: /opt/orders
    pattern: "**"
    owner: orders
    group: orders
    mode: "0755"
    type:
      - directory
  - object: /opt/orders
    pattern: "*.sh"
    except: [README.md]
    owner: orders
    mode: 750
    acls:
      - u:deploy:rx
    context:
      user: unconfined_u
      type: bin_t
      range: s0
    type:
      - file
hooks:
  ApplicationStop:
    - location: scripts/stop.sh
      timeout: 60
      runas: root
  BeforeInstall:
    - location: scripts/before_install.sh
      timeout: 300
  AfterInstall:
    - location: scripts/after_install.sh
      timeout: 300
      runas: orders
  ApplicationStart:
    - location: scripts/start.sh
      timeout: 60
  ValidateService:
    - location: scripts/validate.sh
      timeout: 120
"""

ECS_APPSPEC = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: <TASK_DEFINITION>
        LoadBalancerInfo:
          ContainerName: "orders"
          ContainerPort: 8080
        PlatformVersion: "LATEST"
        NetworkConfiguration:
          AwsvpcConfiguration:
            Subnets: ["subnet-1234abcd", "subnet-5678abcd"]
            SecurityGroups: ["sg-12345678"]
            AssignPublicIp: "DISABLED"
Hooks:
  - AfterAllowTestTraffic: "orders-after-allow-test-traffic"
"""

# "AppSpec File example for an Amazon ECS deployment", verbatim.
AWS_REFERENCE_ECS_APPSPEC = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "arn:aws:ecs:us-east-1:111222333444:task-definition/my-task-definition-family-name:1"
        LoadBalancerInfo:
          ContainerName: "SampleApplicationName"
          ContainerPort: 80
# Optional properties
        PlatformVersion: "LATEST"
        NetworkConfiguration:
          AwsvpcConfiguration:
            Subnets: ["subnet-1234abcd","subnet-5678abcd"]
            SecurityGroups: ["sg-12345678"]
            AssignPublicIp: "ENABLED"
        CapacityProviderStrategy:
          - Base: 1
            CapacityProvider: "FARGATE_SPOT"
            Weight: 2
          - Base: 0
            CapacityProvider: "FARGATE"
            Weight: 1
Hooks:
  - BeforeInstall: "LambdaFunctionToValidateBeforeInstall"
  - AfterInstall: "LambdaFunctionToValidateAfterInstall"
  - AfterAllowTestTraffic: "LambdaFunctionToValidateAfterTestTrafficStarts"
  - BeforeAllowTraffic: "LambdaFunctionToValidateBeforeAllowingProductionTraffic"
  - AfterAllowTraffic: "LambdaFunctionToValidateAfterAllowingProductionTraffic"
"""

# "AppSpec File example for an AWS Lambda deployment", verbatim.
LAMBDA_APPSPEC = """\
version: 0.0
Resources:
  - myLambdaFunction:
      Type: AWS::Lambda::Function
      Properties:
        Name: "myLambdaFunction"
        Alias: "myLambdaFunctionAlias"
        CurrentVersion: "1"
        TargetVersion: "2"
Hooks:
  - BeforeAllowTraffic: "LambdaFunctionToValidateBeforeTrafficShift"
  - AfterAllowTraffic: "arn:aws:lambda:us-east-1:111122223333:function:LambdaFunctionToValidateAfterTrafficShift"
"""

VALID = {
    "node buildspec": ("buildspec", NODE_BUILDSPEC),
    "AWS reference buildspec": ("buildspec", AWS_REFERENCE_BUILDSPEC),
    "EC2 appspec, five in-place hooks": ("appspec-ec2", EC2_APPSPEC),
    "ECS appspec, <TASK_DEFINITION>": ("appspec-ecs", ECS_APPSPEC),
    "AWS reference ECS appspec": ("appspec-ecs", AWS_REFERENCE_ECS_APPSPEC),
    "AWS reference Lambda appspec": ("appspec-lambda", LAMBDA_APPSPEC),
}


def load(text: str):
    return yaml.safe_load(text)


# --- the schemas themselves -----------------------------------------------------------------

SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.schema.json"))


def test_every_kind_has_a_schema_file():
    assert {path.name for path in SCHEMA_FILES} == {f"{kind}.schema.json" for kind in schema_check.KINDS}


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_is_a_valid_draft_2020_12_schema(path: Path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_rejects_unknown_top_level_keys(path: Path):
    kind = path.name.removesuffix(".schema.json")
    example = next(text for example_kind, text in VALID.values() if example_kind == kind)
    document = load(example)
    document["unexpected_key"] = 1
    errors = validate_document(document, kind)
    assert any("unexpected_key" in error for error in errors), errors


# --- valid examples pass --------------------------------------------------------------------

@pytest.mark.parametrize("kind,text", VALID.values(), ids=VALID.keys())
def test_valid_example_passes(kind: str, text: str):
    assert validate_text(text, kind) == []


@pytest.mark.parametrize(
    "on_failure",
    ["ABORT", "CONTINUE", "RETRY", "RETRY-0", "RETRY-4", "RETRY-100", "RETRY-invalid+", "RETRY-8-invalid+",
     "RETRY-3-.*connection timed out.*"],
)
def test_documented_on_failure_values_pass(on_failure: str):
    document = load(NODE_BUILDSPEC)
    document["phases"]["build"]["on-failure"] = on_failure
    assert validate_document(document, "buildspec") == []


@pytest.mark.parametrize("value", ["yes", "no", True, False])
def test_yes_no_fields_take_strings_and_yaml_booleans(value):
    document = load(NODE_BUILDSPEC)
    document["artifacts"]["discard-paths"] = value
    document["reports"]["unit-tests"]["discard-paths"] = value
    document["env"]["git-credential-helper"] = value
    document["proxy"] = {"upload-artifacts": value, "logs": value}
    assert validate_document(document, "buildspec") == []


@pytest.mark.parametrize("version", ["0.2", 0.2])
def test_buildspec_version_as_number_or_string(version):
    document = load(NODE_BUILDSPEC)
    document["version"] = version
    assert validate_document(document, "buildspec") == []


# --- broken examples are rejected, naming the bad field -------------------------------------


def _set(path, value):
    def mutate(document):
        target = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return mutate


def _delete(path):
    def mutate(document):
        target = document
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]
    return mutate


def _rename(path, new_key):
    def mutate(document):
        target = document
        for part in path[:-1]:
            target = target[part]
        target[new_key] = target.pop(path[-1])
    return mutate


def _ecs_hooks(*events):
    return _set(["Hooks"], [{event: "orders-hook"} for event in events])


BROKEN = {
    # name: (kind, valid example, mutation, strings the error must contain)
    "runtime-versions in build phase": (
        "buildspec", NODE_BUILDSPEC, _set(["phases", "build", "runtime-versions"], {"nodejs": 22}),
        ["$.phases.build", "runtime-versions"]),
    "unknown phase prebuild": (
        "buildspec", NODE_BUILDSPEC, _rename(["phases", "pre_build"], "prebuild"), ["$.phases", "prebuild"]),
    "report file-format JUNIT": (
        "buildspec", NODE_BUILDSPEC, _set(["reports", "unit-tests", "file-format"], "JUNIT"),
        ["$.reports.unit-tests.file-format", "JUNIT"]),
    "buildspec version 0.1": ("buildspec", NODE_BUILDSPEC, _set(["version"], 0.1), ["$.version", "0.1"]),
    "build phase without commands": (
        "buildspec", NODE_BUILDSPEC, _delete(["phases", "build", "commands"]), ["$.phases.build", "commands"]),
    "command parsed as a mapping (unquoted ': ')": (
        "buildspec", NODE_BUILDSPEC, _set(["phases", "post_build", "commands"], [{"echo Build completed": "$IMAGE_TAG"}]),
        ["$.phases.post_build.commands[0]", "is not of type 'string'"]),
    "on-failure typo": (
        "buildspec", NODE_BUILDSPEC, _set(["phases", "build", "on-failure"], "STOP"), ["$.phases.build.on-failure", "STOP"]),
    "on-failure retry count over 100": (
        "buildspec", NODE_BUILDSPEC, _set(["phases", "build", "on-failure"], "RETRY-101"),
        ["$.phases.build.on-failure", "RETRY-101"]),
    "runtime name go instead of golang": (
        "buildspec", NODE_BUILDSPEC, _set(["phases", "install", "runtime-versions"], {"go": "1.24"}),
        ["$.phases.install.runtime-versions.go", "'go' is not one of"]),
    "discard-paths maybe": (
        "buildspec", NODE_BUILDSPEC, _set(["artifacts", "discard-paths"], "maybe"), ["$.artifacts.discard-paths"]),
    "artifacts typo base-dir": (
        "buildspec", NODE_BUILDSPEC, _rename(["artifacts", "base-directory"], "base-dir"), ["$.artifacts", "base-dir"]),
    "env variable with a non-string value": (
        "buildspec", NODE_BUILDSPEC, _set(["env", "variables", "PORT"], 8080), ["$.env.variables.PORT", "string"]),
    "env variable with the reserved CODEBUILD_ prefix": (
        "buildspec", NODE_BUILDSPEC, _set(["env", "variables", "CODEBUILD_X"], "1"),
        ["$.env.variables.CODEBUILD_X", "reserved"]),
    "six cache fallback-keys": (
        "buildspec", NODE_BUILDSPEC, _set(["cache", "fallback-keys"], [f"k{i}" for i in range(6)]),
        ["$.cache.fallback-keys"]),
    "cache action both": (
        "buildspec", NODE_BUILDSPEC, _set(["cache", "action"], "both"), ["$.cache.action", "both"]),
    "EC2 hook Install (reserved)": (
        "appspec-ec2", EC2_APPSPEC, _set(["hooks", "Install"], [{"location": "scripts/install.sh"}]),
        ["$.hooks.Install", "reserved"]),
    "EC2 hook timeout 4000": (
        "appspec-ec2", EC2_APPSPEC, _set(["hooks", "AfterInstall", 0, "timeout"], 4000),
        ["$.hooks.AfterInstall[0].timeout", "4000"]),
    "EC2 hook scripts over 3600 s together": (
        "appspec-ec2", EC2_APPSPEC,
        _set(["hooks", "AfterInstall"], [{"location": "a.sh", "timeout": 2000}, {"location": "b.sh", "timeout": 2000}]),
        ["$.hooks.AfterInstall", "4000 s"]),
    "EC2 hook without location": (
        "appspec-ec2", EC2_APPSPEC, _set(["hooks", "ApplicationStart"], [{"timeout": 60}]),
        ["$.hooks.ApplicationStart[0]", "'location' is a required property"]),
    "EC2 unknown hook": (
        "appspec-ec2", EC2_APPSPEC, _rename(["hooks", "ValidateService"], "Validate"), ["$.hooks", "Validate"]),
    "EC2 os ubuntu": ("appspec-ec2", EC2_APPSPEC, _set(["os"], "ubuntu"), ["$.os", "ubuntu"]),
    "EC2 version 0.1": ("appspec-ec2", EC2_APPSPEC, _set(["version"], 0.1), ["$.version", "0.1"]),
    "EC2 symbolic mode": (
        "appspec-ec2", EC2_APPSPEC, _set(["permissions", 0, "mode"], "u+x"), ["$.permissions[0].mode"]),
    "EC2 file_exists_behavior lower case": (
        "appspec-ec2", EC2_APPSPEC, _set(["file_exists_behavior"], "overwrite"), ["$.file_exists_behavior"]),
    "ECS hook BeforeBlockTraffic": (
        "appspec-ecs", ECS_APPSPEC, _ecs_hooks("BeforeInstall", "BeforeBlockTraffic"),
        ["$.Hooks[1]", "BeforeBlockTraffic"]),
    "ECS missing LoadBalancerInfo": (
        "appspec-ecs", ECS_APPSPEC, _delete(["Resources", 0, "TargetService", "Properties", "LoadBalancerInfo"]),
        ["$.Resources[0].TargetService.Properties", "LoadBalancerInfo"]),
    "ECS ContainerPort as a string": (
        "appspec-ecs", ECS_APPSPEC,
        _set(["Resources", 0, "TargetService", "Properties", "LoadBalancerInfo", "ContainerPort"], "8080"),
        ["$.Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort"]),
    "ECS wrong task definition placeholder": (
        "appspec-ecs", ECS_APPSPEC, _set(["Resources", 0, "TargetService", "Properties", "TaskDefinition"], "<TASKDEF>"),
        ["$.Resources[0].TargetService.Properties.TaskDefinition"]),
    "ECS partial network configuration": (
        "appspec-ecs", ECS_APPSPEC,
        _delete(["Resources", 0, "TargetService", "Properties", "NetworkConfiguration", "AwsvpcConfiguration", "AssignPublicIp"]),
        ["$.Resources[0].TargetService.Properties.NetworkConfiguration.AwsvpcConfiguration", "AssignPublicIp"]),
    "ECS wrong resource type": (
        "appspec-ecs", ECS_APPSPEC, _set(["Resources", 0, "TargetService", "Type"], "AWS::Lambda::Function"),
        ["$.Resources[0].TargetService.Type"]),
    "ECS two hooks in one item": (
        "appspec-ecs", ECS_APPSPEC, _set(["Hooks"], [{"BeforeInstall": "a", "AfterInstall": "b"}]), ["$.Hooks[0]"]),
    "ECS hook value not a function name": (
        "appspec-ecs", ECS_APPSPEC, _set(["Hooks"], [{"AfterAllowTestTraffic": "LambdaFunctions/AfterAllowTestTraffic"}]),
        ["$.Hooks[0].AfterAllowTestTraffic"]),
    "ECS version 0.1": ("appspec-ecs", ECS_APPSPEC, _set(["version"], 0.1), ["$.version", "0.1"]),
    "Lambda hook AfterInstall": (
        "appspec-lambda", LAMBDA_APPSPEC, _set(["Hooks"], [{"AfterInstall": "fn"}]), ["$.Hooks[0]", "AfterInstall"]),
    "Lambda TargetVersion 0": (
        "appspec-lambda", LAMBDA_APPSPEC, _set(["Resources", 0, "myLambdaFunction", "Properties", "TargetVersion"], "0"),
        ["$.Resources[0].myLambdaFunction.Properties.TargetVersion"]),
    "Lambda missing Alias": (
        "appspec-lambda", LAMBDA_APPSPEC, _delete(["Resources", 0, "myLambdaFunction", "Properties", "Alias"]),
        ["$.Resources[0].myLambdaFunction.Properties", "Alias"]),
}


@pytest.mark.parametrize("kind,text,mutate,expected", BROKEN.values(), ids=BROKEN.keys())
def test_broken_example_is_rejected_naming_the_field(kind, text, mutate, expected):
    document = copy.deepcopy(load(text))
    mutate(document)
    errors = validate_document(document, kind)
    assert errors, "the broken example was accepted"
    assert any(all(part in error for part in expected) for error in errors), "\n".join(errors)


# --- the loader -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name,kind",
    [
        ("buildspec.yml", "buildspec"),
        ("buildspec_release.yml", "buildspec"),
        ("buildspec-test.yml", "buildspec"),
        ("appspec.yml", "appspec-ec2"),
        ("appspec.yaml", "appspec-ecs"),
        ("appspec-lambda.yml", "appspec-lambda"),
        (".copier-answers.yml", None),
        ("template.yml", None),
        ("README.md", None),
        ("taskdef.json", None),
    ],
)
def test_schema_is_chosen_by_file_name(name, kind):
    assert kind_for(name) == kind
    schema = schema_for(Path("some/dir") / name)
    if kind is None:
        assert schema is None
    else:
        assert schema["$id"] == f"urn:copier-codepipeline:schema:{kind}"


def test_validate_file_reads_yaml_and_reports_json_paths(tmp_path: Path):
    (tmp_path / "buildspec.yml").write_text(NODE_BUILDSPEC)
    (tmp_path / "appspec.yml").write_text(EC2_APPSPEC)
    (tmp_path / "appspec.yaml").write_text(ECS_APPSPEC)
    for name in ("buildspec.yml", "appspec.yml", "appspec.yaml"):
        assert validate_file(tmp_path / name) == [], name

    # An ECS AppSpec saved under the EC2 name is caught: wrong schema, wrong keys.
    (tmp_path / "appspec.yml").write_text(ECS_APPSPEC)
    errors = validate_file(tmp_path / "appspec.yml")
    assert any(error.startswith("$: ") and "'os' is a required property" in error for error in errors), errors

    broken = NODE_BUILDSPEC.replace("  pre_build:", "  prebuild:")
    (tmp_path / "buildspec.yml").write_text(broken)
    assert validate_file(tmp_path / "buildspec.yml") == [
        "$.phases: Additional properties are not allowed ('prebuild' was unexpected)"
    ]


def test_validate_file_reports_yaml_errors_and_empty_files(tmp_path: Path):
    (tmp_path / "buildspec.yml").write_text("version: 0.2\nphases: [\n")
    [error] = validate_file(tmp_path / "buildspec.yml")
    assert error.startswith("$: not valid YAML")
    (tmp_path / "appspec.yaml").write_text("# nothing\n")
    assert validate_file(tmp_path / "appspec.yaml") == ["$: the file is empty"]


def test_validate_file_refuses_files_without_a_schema(tmp_path: Path):
    (tmp_path / "template.yml").write_text("a: 1\n")
    with pytest.raises(ValueError, match="no schema"):
        validate_file(tmp_path / "template.yml")
    assert validate_file(tmp_path / "template.yml", kind="appspec-ec2")  # explicit kind overrides the name
