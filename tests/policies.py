"""Every IAM policy a render's stacks create, as plain JSON a policy linter can read.

CloudFormation writes ARNs with intrinsic functions; `resolve` turns them into the strings
CloudFormation would, for a fixed account, region and partition: pseudo parameters and
parameter defaults are substituted, a resource's Ref/GetAtt becomes an ARN built from its
name properties (roles with their path) or, for a resource without one, a placeholder that
names the stack and the logical id. Fn::If keeps both branches (as separate policies).
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import Any, Iterator

from helpers import as_list, load_cfn

ACCOUNT = "111122223333"
REGION = "eu-west-1"
PARTITION = "aws"

POLICY_TYPES = ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
ROLE_POLICY_TYPE = "AWS::IAM::RolePolicy"  # one inline policy of a role, as a resource of its own

# Types whose unnamed resources get a generated id or name that policies cannot foresee (EC2's
# ids; a target group's name is cut from the stack's and a random suffix).
GENERATED_IDS = ("AWS::EC2::", "AWS::ElasticLoadBalancingV2::TargetGroup")

# Types whose Ref is their ARN.
REF_IS_ARN = {"AWS::IAM::ManagedPolicy", "AWS::SNS::Topic", "AWS::ElasticLoadBalancingV2::LoadBalancer",
              "AWS::ElasticLoadBalancingV2::TargetGroup", "AWS::ElasticLoadBalancingV2::Listener",
              "AWS::ElasticLoadBalancingV2::ListenerRule"}


def stacks_of(render_dir: Path) -> dict[str, dict[str, Any]]:
    """Each CloudFormation template under infra/, by file name."""
    return {path.name: load_cfn(path) for path in sorted((render_dir / "infra").glob("*.yml"))}


STACK_NAMES = {"pipeline.yml": "{service}-pipeline", "deploy-role.yml": "{service}-pipeline-deploy-role",
               "service.yml": "{service}-{env}-service", "network.yml": "{service}-{env}-network"}


def deployments_of(render_dir: Path, service: str) -> Iterator[tuple[str, str, dict[str, Any], dict[str, str]]]:
    """(label, stack name, template, parameter values) for each stack the render deploys: the
    pipeline's stacks once, each environment's stacks once per environment (with its parameter file)."""
    stacks = stacks_of(render_dir)
    environments = sorted((render_dir / "infra" / "environments").glob("*.json"))
    for file_name, template in stacks.items():
        if file_name in ("service.yml", "network.yml"):
            for parameter_file in environments:
                values = json.loads(parameter_file.read_text())["Parameters"]
                if file_name == "network.yml":
                    values = {"EnvironmentName": values["EnvironmentName"]}
                name = STACK_NAMES[file_name].format(service=service, env=parameter_file.stem)
                yield f"{file_name}[{parameter_file.stem}]", name, template, values
        else:
            yield file_name, STACK_NAMES[file_name].format(service=service), template, {}


def exports_of(render_dir: Path, service: str) -> dict[str, Any]:
    """Every export of the render's stacks, resolved: what Fn::ImportValue finds."""
    exports: dict[str, Any] = {}
    for _, stack, template, values in deployments_of(render_dir, service):
        resolver = Resolver(template, stack, parameters=values)
        for output in template.get("Outputs", {}).values():
            if "Export" in output:
                exports[resolver(output["Export"]["Name"])] = resolver(output["Value"])
    return exports


class Resolver:
    """Resolves intrinsic functions of one template; `choices` fixes each Fn::If condition."""

    def __init__(self, template: dict[str, Any], stack_name: str, choices: dict[str, bool] | None = None,
                 parameters: dict[str, Any] | None = None, exports: dict[str, Any] | None = None):
        self.template = template
        self.stack_name = stack_name
        self.choices = choices or {}
        self.parameters = parameters or {}
        self.exports = exports or {}

    def ref(self, name: str) -> str | None:
        pseudo = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                  "AWS::StackName": self.stack_name, "AWS::URLSuffix": "amazonaws.com",
                  "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack_name}/0000"}
        if name in pseudo:
            return pseudo[name]
        if name == "AWS::NoValue":
            return None
        parameters = self.template.get("Parameters", {})
        if name in self.parameters:
            return str(self.parameters[name])
        if name in parameters:
            default = parameters[name].get("Default", f"param-{name}")
            if default == "" and ":connection/" in parameters[name].get("AllowedPattern", ""):
                return f"arn:{PARTITION}:codeconnections:{REGION}:{ACCOUNT}:connection/{'0' * 8}-{'0' * 4}-{'0' * 4}-{'0' * 4}-{'0' * 12}"
            return ",".join(default) if isinstance(default, list) else str(default)
        resources = self.template.get("Resources", {})
        if name not in resources and name.endswith(".Version") and name[: -len(".Version")] in resources:
            return self.get_att(name[: -len(".Version")], "Arn") + ":1"  # SAM: the function's latest version
        if resources.get(name, {}).get("Type") in REF_IS_ARN:
            return self.get_att(name, "Arn")
        return self._name(name)

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.template.get("Resources", {}).get(name, {})
        if attribute in ("Arn", "ConnectionArn", "TargetGroupArn", "ListenerArn", "RuleArn", "LoadBalancerArn"):
            return resource_arn(resource, self._name(name))
        return f"{self.stack_name}-{name}-{attribute}"

    def _name(self, name: str) -> str:
        """The resource's name: its name property, else what CloudFormation generates (an id for the
        GENERATED_IDS types, otherwise the stack's name and the logical id)."""
        properties = self.template.get("Resources", {}).get(name, {}).get("Properties", {})
        for key in NAME_PROPERTIES:
            if key in properties and not isinstance(properties[key], list):
                return str(self(properties[key]))
        if self.template.get("Resources", {}).get(name, {}).get("Type", "").startswith(GENERATED_IDS):
            return f"id-{hashlib.sha1(f'{self.stack_name}/{name}'.encode()).hexdigest()[:17]}"
        return f"{self.stack_name}-{name}"

    def condition(self, name: str) -> bool:
        return self.choices.get(name, True)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self(item) for item in value) if item is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(parts[0], parts[1])
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))
                return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), variables), text)
            if key == "Fn::If":
                return self(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Join":
                return arg[0].join(str(item) for item in self(arg[1]))
            if key == "Fn::Select":
                return self(arg[1])[int(self(arg[0]))]
            if key == "Fn::Split":
                return str(self(arg[1])).split(arg[0])
            if key == "Fn::ImportValue":
                name = self(arg)
                return self.exports.get(name, f"import-{name}")
        return {key: self(item) for key, item in value.items() if self(item) is not None or item is None}

    def _sub(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(variables[name])
        if "." in name:
            return self.get_att(*name.split(".", 1))
        return str(self.ref(name))


# The properties that name a resource: what Ref returns (and its ARN ends with) when one is set.
NAME_PROPERTIES = ("RoleName", "FunctionName", "LogGroupName", "AlarmName", "BucketName", "RepositoryName", "TopicName",
                   "DeploymentConfigName", "ApplicationName", "ManagedPolicyName", "ProjectName", "ClusterName",
                   "ConnectionName", "Name")


def resource_arn(resource: dict[str, Any], name: str) -> str:
    """An ARN of the resource's type for the name (a role's path included)."""
    kind = resource.get("Type", "")
    properties = resource.get("Properties", {})
    prefix = f"arn:{PARTITION}"
    arns = {
        "AWS::IAM::Role": lambda: f"{prefix}:iam::{ACCOUNT}:role{properties.get('Path', '/')}{name}",
        "AWS::IAM::ManagedPolicy": lambda: f"{prefix}:iam::{ACCOUNT}:policy{properties.get('Path', '/')}{name}",
        "AWS::S3::Bucket": lambda: f"{prefix}:s3:::{name.lower()}",
        "AWS::Logs::LogGroup": lambda: f"{prefix}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
        "AWS::Lambda::Function": lambda: f"{prefix}:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "AWS::Serverless::Function": lambda: f"{prefix}:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "AWS::KMS::Key": lambda: f"{prefix}:kms:{REGION}:{ACCOUNT}:key/{name}",
        "AWS::ECR::Repository": lambda: f"{prefix}:ecr:{REGION}:{ACCOUNT}:repository/{name}",
        "AWS::CodeBuild::Project": lambda: f"{prefix}:codebuild:{REGION}:{ACCOUNT}:project/{name}",
        "AWS::CodeBuild::ReportGroup": lambda: f"{prefix}:codebuild:{REGION}:{ACCOUNT}:report-group/{name}",
        "AWS::SNS::Topic": lambda: f"{prefix}:sns:{REGION}:{ACCOUNT}:{name}",
        "AWS::CodeConnections::Connection": lambda: f"{prefix}:codeconnections:{REGION}:{ACCOUNT}:connection/{name}",
        "AWS::CloudWatch::Alarm": lambda: f"{prefix}:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
        "AWS::ElasticLoadBalancingV2::LoadBalancer": lambda: f"{prefix}:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/{name}/0123",
        "AWS::ElasticLoadBalancingV2::TargetGroup": lambda: f"{prefix}:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{name}/0123",
        "AWS::ElasticLoadBalancingV2::Listener": lambda: f"{prefix}:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/lb/0123/{name}",
        "AWS::ElasticLoadBalancingV2::ListenerRule": lambda: f"{prefix}:elasticloadbalancing:{REGION}:{ACCOUNT}:listener-rule/app/lb/0123/4567/{name}",
    }
    return arns.get(kind, lambda: f"{prefix}:unknown:{REGION}:{ACCOUNT}:{kind}/{name}")()


def conditions_used(value: Any) -> set[str]:
    """The conditions named by every Fn::If inside value."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Fn::If" in value:
            found.add(value["Fn::If"][0])
        for item in value.values():
            found |= conditions_used(item)
    elif isinstance(value, list):
        for item in value:
            found |= conditions_used(item)
    return found


def identity_policies(template: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(resource, policy name, unresolved document) for every identity policy of the template:
    roles' inline policies, managed and plain policies, SAM functions' inline statements."""
    for logical, resource in template.get("Resources", {}).items():
        kind, properties = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield logical, policy["PolicyName"], policy["PolicyDocument"]
        elif kind == ROLE_POLICY_TYPE:
            yield logical, logical, properties["PolicyDocument"]
        elif kind in POLICY_TYPES and any(properties.get(key) for key in ("Roles", "Users", "Groups")):
            yield logical, logical, properties["PolicyDocument"]  # a policy attached to no one (a boundary) grants nothing
        elif kind == "AWS::Serverless::Function":
            for index, policy in enumerate(properties.get("Policies", []) or []):
                if isinstance(policy, dict) and "Statement" in policy:
                    yield logical, f"Policies[{index}]", policy


def resolved_policies(render_dir: Path, service: str) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(stack label, resource, policy name, resolved document) for every identity policy of every
    stack the render deploys (an environment's stacks once per environment, e.g.
    "service.yml[prod]"); a document with Fn::If comes once per combination of its conditions."""
    exports = exports_of(render_dir, service)
    for label, stack, template, values in deployments_of(render_dir, service):
        for logical, name, document in identity_policies(template):
            conditions = sorted(conditions_used(document))
            for choice in itertools.product((True, False), repeat=len(conditions)):
                resolver = Resolver(template, stack, dict(zip(conditions, choice)), values, exports)
                yield label, logical, name, resolver(document)


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def iam_match(pattern: str, arn: str) -> bool:
    """IAM's ARN wildcard match: `*` any run of characters, `?` one character."""
    return fnmatch.fnmatchcase(arn, pattern.replace("[", "[[]"))
