"""The one data table of copier-codepipeline.

Every AWS fact the templates need (images, runtime ids, commands, deployment
configurations) lives here once. Templates and copier.yml look values up through
the functions at the bottom; nothing in template/ repeats a value from this file.

When AWS moves a date or adds a version, this is the only file to change.
"""

from __future__ import annotations

from typing import Any

# --------------------------------------------------------------------------
# Runtimes
# Sources: "Available runtimes" and "Runtime versions" (CodeBuild user guide),
# "Lambda runtimes" (Lambda developer guide, supported-runtimes table and its
# deprecation dates). A version is offered only when the CodeBuild images below
# AND the Lambda managed runtimes carry it, so one answer works on every target.
# --------------------------------------------------------------------------

# The runtime-versions both CodeBuild images (ARCHITECTURES) carry, by runtime-versions key:
# runtimes.yml of al/aarch64/standard/4.0 and al/x86_64/standard/6.0 in
# aws/aws-codebuild-docker-images, checked 2026-12-02. Every offered version is among them.
CODEBUILD_IMAGE_RUNTIMES: dict[str, list[str]] = {
    "nodejs": ["22", "24"],
    "python": ["3.10", "3.11", "3.12", "3.13", "3.14"],
    "java": ["corretto8", "corretto11", "corretto17", "corretto21", "corretto25"],
    "golang": ["1.24", "1.25", "1.26"],
}

RUNTIMES: dict[str, dict[str, Any]] = {
    "nodejs": {
        "label": "Node.js",
        "codebuild_key": "nodejs",
        "port": 8080,
        # Newest first: the first entry is the default answer.
        "versions": {
            "24": {
                "codebuild_version": "24",
                "lambda_runtime": "nodejs24.x",
                "lambda_deprecation": "2028-04-30",
                "docker_build_image": "public.ecr.aws/docker/library/node:24-bookworm-slim",
                "docker_run_image": "public.ecr.aws/docker/library/node:24-bookworm-slim",
            },
            "22": {
                "codebuild_version": "22",
                "lambda_runtime": "nodejs22.x",
                "lambda_deprecation": "2027-04-30",
                "docker_build_image": "public.ecr.aws/docker/library/node:22-bookworm-slim",
                "docker_run_image": "public.ecr.aws/docker/library/node:22-bookworm-slim",
            },
        },
        "lambda_handler": "src/lambda.handler",
        "install_commands": ["npm ci --no-audit --no-fund"],
        "test_commands": ["npm test"],
        "build_commands": ["npm prune --omit=dev --no-audit --no-fund"],
        "start_command": "node src/server.js",
        # Whether start_command runs what build_commands make (README's "Run it locally").
        "start_needs_build": False,
        "test_report": {"files": ["reports/junit.xml"], "format": "JUNITXML"},
        "bundle_paths": ["package.json", "package-lock.json", "src/**/*", "node_modules/**/*"],
        "cache_paths": ["/root/.npm/**/*"],
        "build_env": {},
    },
    "python": {
        "label": "Python",
        "codebuild_key": "python",
        "port": 8080,
        "versions": {
            "3.14": {
                "codebuild_version": "3.14",
                "lambda_runtime": "python3.14",
                "lambda_deprecation": "2029-06-30",
                "docker_build_image": "public.ecr.aws/docker/library/python:3.14-slim-bookworm",
                "docker_run_image": "public.ecr.aws/docker/library/python:3.14-slim-bookworm",
            },
            "3.13": {
                "codebuild_version": "3.13",
                "lambda_runtime": "python3.13",
                "lambda_deprecation": "2029-06-30",
                "docker_build_image": "public.ecr.aws/docker/library/python:3.13-slim-bookworm",
                "docker_run_image": "public.ecr.aws/docker/library/python:3.13-slim-bookworm",
            },
            "3.12": {
                "codebuild_version": "3.12",
                "lambda_runtime": "python3.12",
                "lambda_deprecation": "2028-10-31",
                "docker_build_image": "public.ecr.aws/docker/library/python:3.12-slim-bookworm",
                "docker_run_image": "public.ecr.aws/docker/library/python:3.12-slim-bookworm",
            },
        },
        "lambda_handler": "app.lambda_handler.handler",
        "install_commands": ["python -m pip install --quiet -r requirements-dev.txt"],
        "test_commands": ["python -m pytest --junitxml=reports/junit.xml"],
        "build_commands": ["python -m compileall -q app"],
        "start_command": "python -m app.server",
        "start_needs_build": False,
        "test_report": {"files": ["reports/junit.xml"], "format": "JUNITXML"},
        "bundle_paths": ["app/**/*", "requirements.txt"],
        "cache_paths": ["/root/.cache/pip/**/*"],
        "build_env": {},
    },
    "java": {
        "label": "Java (Amazon Corretto, Maven)",
        "codebuild_key": "java",
        "port": 8080,
        "versions": {
            "25": {
                "codebuild_version": "corretto25",
                "lambda_runtime": "java25",
                "lambda_deprecation": "2029-06-30",
                "docker_build_image": "public.ecr.aws/docker/library/maven:3.9-amazoncorretto-25",
                "docker_run_image": "public.ecr.aws/amazoncorretto/amazoncorretto:25-al2023-headless",
            },
            "21": {
                "codebuild_version": "corretto21",
                "lambda_runtime": "java21",
                "lambda_deprecation": None,  # not scheduled on the page when last checked
                "docker_build_image": "public.ecr.aws/docker/library/maven:3.9-amazoncorretto-21",
                "docker_run_image": "public.ecr.aws/amazoncorretto/amazoncorretto:21-al2023-headless",
            },
        },
        "lambda_handler": "com.example.app.LambdaHandler::handleRequest",
        "install_commands": [],
        "test_commands": ["mvn --batch-mode --no-transfer-progress test"],
        "build_commands": ["mvn --batch-mode --no-transfer-progress package -DskipTests"],
        "start_command": "java -jar target/app.jar",
        "start_needs_build": True,
        "test_report": {"files": ["target/surefire-reports/*.xml"], "format": "JUNITXML"},
        "bundle_paths": ["target/app.jar"],
        "cache_paths": ["/root/.m2/**/*"],
        "build_env": {},
    },
    "go": {
        "label": "Go",
        "codebuild_key": "golang",
        "port": 8080,
        "versions": {
            "1.26": {
                "codebuild_version": "1.26",
                # Go has no managed Lambda runtime: the build makes a `bootstrap`
                # binary for the OS-only runtime ("Building Lambda functions with Go").
                "lambda_runtime": "provided.al2023",
                "lambda_deprecation": None,  # follows Amazon Linux 2023's own end of life
                "docker_build_image": "public.ecr.aws/docker/library/golang:1.26-bookworm",
                "docker_run_image": "public.ecr.aws/docker/library/debian:bookworm-slim",
            },
            "1.25": {
                "codebuild_version": "1.25",
                "lambda_runtime": "provided.al2023",
                "lambda_deprecation": None,  # follows Amazon Linux 2023's own end of life
                "docker_build_image": "public.ecr.aws/docker/library/golang:1.25-bookworm",
                "docker_run_image": "public.ecr.aws/docker/library/debian:bookworm-slim",
            },
            "1.24": {
                "codebuild_version": "1.24",
                "lambda_runtime": "provided.al2023",
                "lambda_deprecation": None,  # follows Amazon Linux 2023's own end of life
                "docker_build_image": "public.ecr.aws/docker/library/golang:1.24-bookworm",
                "docker_run_image": "public.ecr.aws/docker/library/debian:bookworm-slim",
            },
        },
        "lambda_handler": "bootstrap",
        # `go run` needs no PATH entry for GOPATH/bin on the build image.
        "install_commands": [],
        "test_commands": ["go run gotest.tools/gotestsum@v1.12.0 --junitfile reports/junit.xml ./..."],
        "build_commands": ["go build -trimpath -ldflags='-s -w' -o bin/app ."],
        "start_command": "bin/app",
        "start_needs_build": True,
        "test_report": {"files": ["reports/junit.xml"], "format": "JUNITXML"},
        "bundle_paths": ["bin/app"],
        # CodeBuild's standard images set GOPATH=/go: modules download to /go/pkg/mod.
        "cache_paths": ["/go/pkg/mod/**/*", "/root/.cache/go-build/**/*"],
        "build_env": {"CGO_ENABLED": "0", "GOOS": "linux"},
    },
}

# --------------------------------------------------------------------------
# Architectures
# Sources: "Docker images provided by CodeBuild" and "Build environment compute
# types" (CodeBuild), "Lambda instruction set architectures", "Amazon ECS task
# definition parameters" (runtimePlatform.cpuArchitecture). EC2: the default instance type is a
# Nitro one (AWS Control Tower's CT.EC2.PR.15), burstable and offered in every region. A second
# type for the in-place Auto Scaling group (CT.AUTOSCALING.PR.6) is the owner's choice: Control
# Tower's CT.AUTOSCALING.PR.11 then wants both to encrypt traffic between instances, which no
# burstable type does, and the types that do (e.g. "ec2_fallback_instance_types", about twice the
# price) are not offered in every region.
# --------------------------------------------------------------------------

ARCHITECTURES: dict[str, dict[str, str]] = {
    "arm64": {
        "label": "arm64 (AWS Graviton, cheaper)",
        "codebuild_image": "aws/codebuild/amazonlinux-aarch64-standard:4.0",
        "codebuild_environment_type": "ARM_CONTAINER",
        "lambda": "arm64",
        "ecs_cpu_architecture": "ARM64",
        "ec2_instance_type": "t4g.small",
        "ec2_fallback_instance_types": "c7g.medium, m7g.medium",
        "goarch": "arm64",
        "ssm_ami_parameter": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
    },
    "x86_64": {
        "label": "x86_64 (Intel/AMD)",
        "codebuild_image": "aws/codebuild/amazonlinux-x86_64-standard:6.0",
        "codebuild_environment_type": "LINUX_CONTAINER",
        "lambda": "x86_64",
        "ecs_cpu_architecture": "X86_64",
        "ec2_instance_type": "t3.small",
        "ec2_fallback_instance_types": "c7a.medium, m7a.medium",
        "goarch": "amd64",
        "ssm_ami_parameter": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    },
}

# --------------------------------------------------------------------------
# Regions, by partition
# Source: botocore's endpoints data (botocore 1.44.8, checked 2026-12-02: regions, and each served
# partition's domain, "url_suffix"); tests/test_questionnaire.py compares this table with the botocore
# installed. "console": the console's host ("AWS GovCloud (US) console"); "base_image_registry": where the
# container builds pull the runtimes' base images from (Amazon ECR Public, over the build's internet
# access; AWS China has none, one reason it is refused). A partition with "refused" is
# one the template does not deploy to yet; aws_region names the reason. CodePipeline V2 pipelines
# (PipelineType) exist in every region of cfn-lint's schemas (the test checks that the pipeline's
# schema is the same in all of them).
# --------------------------------------------------------------------------

_ISOLATED = "an isolated partition, whose endpoints, images and services this template does not know"
REGIONS: dict[str, dict[str, Any]] = {
    "aws": {"regions": (
        "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
        "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1",
        "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
        "il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2",
        "us-west-1", "us-west-2"), "console": "${AWS::Region}.console.aws.amazon.com", "url_suffix": "amazonaws.com",
        "base_image_registry": "public.ecr.aws"},
    "aws-us-gov": {"regions": ("us-gov-east-1", "us-gov-west-1"), "console": "console.amazonaws-us-gov.com",
                   "url_suffix": "amazonaws.com", "base_image_registry": "public.ecr.aws"},
    "aws-cn": {"regions": ("cn-north-1", "cn-northwest-1"),
               "refused": "AWS China (aws-cn) has its own domain (amazonaws.com.cn) and no ECR Public, CodeConnections "
                          "or CodeStar Notifications, which this template relies on"},
    "aws-eusc": {"regions": ("eusc-de-east-1",),
                 "refused": "the AWS European Sovereign Cloud (aws-eusc) has its own domain (amazonaws.eu) and "
                            "services this template has not been checked against"},
    "aws-iso": {"regions": ("us-iso-east-1", "us-iso-west-1"), "refused": _ISOLATED},
    "aws-iso-b": {"regions": ("us-isob-east-1", "us-isob-west-1"), "refused": _ISOLATED},
    "aws-iso-e": {"regions": ("eu-isoe-west-1",), "refused": _ISOLATED},
    "aws-iso-f": {"regions": ("us-isof-east-1", "us-isof-south-1"), "refused": _ISOLATED},
}

# What the stacks need that some regions of the partitions above lack: resource types CloudFormation
# has not there (cfn-lint 1.58.0's per-region schemas, checked 2026-12-02; tests/test_questionnaire.py
# compares them with the cfn-lint installed; it has none of me-south-1), and CodeBuild's ARM build environments ("AWS CodeBuild
# in AWS GovCloud (US)": "The ARM environment types are not available").
REGIONS_LACKING: dict[str, tuple[str, ...]] = {
    "AWS::CodeBuild::Project": ("ap-east-2", "ca-west-1", "mx-central-1"),
    "AWS::CodeConnections::Connection": (
        "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-3", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
        "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-2",
        "il-central-1", "me-central-1", "mx-central-1"),
    "AWS::CodeStarNotifications::NotificationRule": (
        "af-south-1", "ap-east-2", "ap-northeast-3", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
        "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-1",
        "eu-south-2", "il-central-1", "me-central-1", "mx-central-1", "us-gov-east-1", "us-gov-west-1"),
    "AWS::Lambda::Url": (
        "ap-east-2", "ap-south-2", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
        "ca-west-1", "eu-central-2", "il-central-1", "me-central-1", "mx-central-1", "us-gov-east-1",
        "us-gov-west-1"),
    "ARM builds": ("us-gov-east-1", "us-gov-west-1"),
}


def partition_of(region: str) -> dict[str, Any]:
    return next(partition for partition in REGIONS.values() if region in partition["regions"])


def console_host(region: str) -> str:
    """The AWS console's host name for a region's partition ("AWS GovCloud (US) console")."""
    return partition_of(region)["console"]


def url_suffix(region: str) -> str:
    """The domain of a region's AWS endpoints."""
    return partition_of(region)["url_suffix"]


def region_problem(region: str, architecture: str, target: str) -> str:
    """Why the answers so far cannot deploy to `region` (aws_region's validator), or ""."""
    unfit = f"{region!r} cannot host this service"
    if region in REGIONS_LACKING["AWS::CodeBuild::Project"]:
        return f"{unfit}: CloudFormation cannot create AWS CodeBuild projects there yet (AWS::CodeBuild::Project); choose another region"
    if architecture == "arm64" and region in REGIONS_LACKING["ARM builds"]:
        return f"{unfit} with architecture arm64: CodeBuild has no ARM build environments in AWS GovCloud (US); answer architecture x86_64"
    if target == "lambda" and region in REGIONS_LACKING["AWS::Lambda::Url"]:
        return (f"{unfit} on target lambda: the function serves through a Lambda function URL, which CloudFormation "
                "cannot create there (AWS::Lambda::Url); choose another region or target")
    return ""


def source_provider_disabled_reason(provider: str, region: str) -> str:
    """Why a source provider cannot serve in `region` (a disabled choice), or ""."""
    if SOURCE_PROVIDERS[provider]["kind"] == "connection" and region in REGIONS_LACKING["AWS::CodeConnections::Connection"]:
        return f"AWS CodeConnections is not in {region}: use CodeCommit or S3"
    return ""


def default_source_provider(region: str) -> str:
    return "github" if not source_provider_disabled_reason("github", region) else "s3"


def notifies_through_eventbridge(region: str) -> bool:
    """Where AWS CodeStar Notifications is missing, an EventBridge rule sends the pipeline's notifications."""
    return region in REGIONS_LACKING["AWS::CodeStarNotifications::NotificationRule"]


# --------------------------------------------------------------------------
# Targets and strategies
# Source: "Working with deployment configurations in CodeDeploy" (predefined
# configurations per compute platform) and "Deploying serverless applications
# gradually" (SAM DeploymentPreference types).
# --------------------------------------------------------------------------

TARGETS: dict[str, dict[str, Any]] = {
    "ecs_fargate": {
        "label": "Amazon ECS on AWS Fargate (containers)",
        "compute_platform": "ECS",
        "strategies": ["rolling", "blue_green", "canary", "linear"],
        "default_strategy": "blue_green",
    },
    "ec2": {
        "label": "Amazon EC2 instances behind a load balancer",
        "compute_platform": "Server",
        "strategies": ["in_place", "blue_green"],
        "default_strategy": "in_place",
    },
    "lambda": {
        "label": "AWS Lambda (serverless function)",
        "compute_platform": "Lambda",
        "strategies": ["blue_green", "canary", "linear"],
        "default_strategy": "canary",
    },
}

STRATEGIES: dict[str, dict[str, str]] = {
    "in_place": {
        "label": "In-place",
        "summary": "stop, update and restart the app on each instance",
        "why_not": "in-place replaces the app on running instances, so it needs EC2 instances",
    },
    "rolling": {
        "label": "Rolling",
        "summary": "ECS replaces tasks gradually, rolls back on a failed deployment",
        "why_not": "rolling updates are done by the ECS deployment controller, so they need ECS Fargate",
    },
    "blue_green": {
        "label": "Blue/green",
        "summary": "start the new version beside the old, then move all traffic at once",
        "why_not": "",
    },
    "canary": {
        "label": "Canary",
        "summary": "move a slice of traffic, wait, then the rest; roll back on alarm",
        "why_not": "canary shifts traffic between versions, so it needs ECS Fargate or Lambda",
    },
    "linear": {
        "label": "Linear",
        "summary": "move traffic in equal steps at a fixed interval; roll back on alarm",
        "why_not": "linear shifts traffic between versions, so it needs ECS Fargate or Lambda",
    },
}

# EC2 batch sizes -> predefined Server configurations.
EC2_BATCHES: dict[str, dict[str, str]] = {
    "all": {"label": "All at once", "config": "CodeDeployDefault.AllAtOnce", "min_healthy": "0 instances"},
    "half": {"label": "Half at a time", "config": "CodeDeployDefault.HalfAtATime", "min_healthy": "50% of instances"},
    "one": {"label": "One at a time", "config": "CodeDeployDefault.OneAtATime", "min_healthy": "all but one instance"},
}

# Predefined traffic-shifting configurations, keyed by (percent, minutes).
# Note the irregular names AWS chose ("Every1Minutes" for ECS, "Every1Minute" for
# Lambda): they are copied exactly from the AWS page, never computed.
PREDEFINED_TRAFFIC_CONFIGS: dict[str, dict[str, Any]] = {
    "ECS": {
        "all_at_once": "CodeDeployDefault.ECSAllAtOnce",
        "canary": {
            (10, 5): "CodeDeployDefault.ECSCanary10Percent5Minutes",
            (10, 15): "CodeDeployDefault.ECSCanary10Percent15Minutes",
        },
        "linear": {
            (10, 1): "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
            (10, 3): "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
        },
    },
    "Lambda": {
        "all_at_once": "CodeDeployDefault.LambdaAllAtOnce",
        "canary": {
            (10, 5): "CodeDeployDefault.LambdaCanary10Percent5Minutes",
            (10, 10): "CodeDeployDefault.LambdaCanary10Percent10Minutes",
            (10, 15): "CodeDeployDefault.LambdaCanary10Percent15Minutes",
            (10, 30): "CodeDeployDefault.LambdaCanary10Percent30Minutes",
        },
        "linear": {
            (10, 1): "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
            (10, 2): "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
            (10, 3): "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
            (10, 10): "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
        },
    },
}

# Limits of the strategy detail answers, per deployment controller.
# CodeDeploy: TimeBasedCanary / TimeBasedLinear take a whole percentage and whole
# minutes ("TimeBasedCanary", "TimeBasedLinear", CodeDeploy API reference). The API
# documents no maximum wait; this template caps a wait, and a whole linear rollout,
# at 2880 minutes (2 days) of its own accord: the pipeline run (and, for Lambda, the
# CloudFormation stack update) stays busy for the whole rollout.
# Amazon ECS native deployments ("Amazon ECS canary deployments", "Amazon ECS
# linear deployments"): CanaryPercent 0.1-100 in 0.1 steps, StepPercent 3-100,
# bake times 0-1440 minutes.
STRATEGY_LIMITS: dict[str, dict[str, dict[str, float]]] = {
    "codedeploy": {
        "canary_percent": {"low": 1, "high": 99, "step": 1},
        "linear_percent": {"low": 1, "high": 99, "step": 1},
        "canary_minutes": {"low": 1, "high": 2880, "step": 1},
        "linear_minutes": {"low": 1, "high": 2880, "step": 1},
    },
    "ecs": {
        "canary_percent": {"low": 0.1, "high": 100, "step": 0.1},
        "linear_percent": {"low": 3, "high": 100, "step": 1},
        "canary_minutes": {"low": 0, "high": 1440, "step": 1},
        "linear_minutes": {"low": 0, "high": 1440, "step": 1},
        "bake_minutes": {"low": 0, "high": 1440, "step": 1},
    },
}

CODEDEPLOY_MAX_ROLLOUT_MINUTES = 2880

# An Amazon ECS native rollout runs inside the service stack's CloudFormation update, which times
# out after 36 hours; CloudFormation refuses a canary or linear configuration whose bake times add
# up to more than 33 hours ("AWS::ECS::Service CanaryConfiguration", "... LinearConfiguration").
# The 3 hours between leave room for scale-up and the test traffic check.
ECS_CLOUDFORMATION_MAX_ROLLOUT_MINUTES = 33 * 60


# Who shifts the traffic of an ECS blue/green, canary or linear deployment.
ECS_CONTROLLERS: dict[str, dict[str, str]] = {
    "codedeploy": {"label": "CodeDeploy (appspec.yaml and a deployment group)"},
    "ecs": {"label": "Amazon ECS native deployments (recommended by AWS for new services)"},
}


def controller_for(answers: dict[str, Any]) -> str:
    """Who runs the deployment's traffic shifting: 'codedeploy' or 'ecs'."""
    if answers.get("target") == "ecs_fargate" and answers.get("strategy") != "rolling":
        return answers.get("ecs_controller") or "codedeploy"
    return "codedeploy"


# What a created network (infra/network.yml) costs per environment in us-east-1, in US dollars:
# "Amazon VPC pricing" (NAT gateway per hour and per GB processed; public IPv4 addresses per hour)
# and "Amazon CloudWatch pricing" (logs ingested), checked 2026-12-01 through copies of those
# pages (AWS's own pages load their prices with scripts). Other regions charge more.
NETWORK_PRICES: dict[str, Any] = {
    "checked": "2026-12-01",
    "region": "us-east-1",
    "nat_gateway_hour": 0.045,
    "nat_gateway_gb": 0.045,
    "public_ipv4_hour": 0.005,
    "flow_logs_gb": 0.50,
}
HOURS_PER_MONTH = 730  # AWS's pricing pages count a month as 730 hours


def network_monthly_cost() -> float:
    """The fixed monthly cost of one created network: its NAT gateway and that gateway's public IPv4 address."""
    return round((NETWORK_PRICES["nat_gateway_hour"] + NETWORK_PRICES["public_ipv4_hour"]) * HOURS_PER_MONTH, 2)


# Where the load balancer and the tasks or instances run (targets in a VPC: ECS Fargate, EC2).
NETWORKS: dict[str, dict[str, str]] = {
    "create": {"label": "Create a VPC for each environment (infra/network.yml, deployed by the pipeline)"},
    "existing": {"label": "Use an existing VPC (you give its id and subnet ids)"},
}

# `name` heads the README diagram's source, `title` the pipeline stack's, `label` is the
# prompt's choice. `revision` is the source action's output variable that names what a run deploys
# ("Variables reference", CodePipeline user guide: CodeStarSourceConnection and CodeCommit
# emit CommitId, S3 emits VersionId).
SOURCE_PROVIDERS: dict[str, dict[str, str]] = {
    "github": {
        "name": "GitHub",
        "title": "GitHub via CodeConnections",
        "label": "GitHub (AWS CodeConnections)",
        "kind": "connection",
        "connection_type": "GitHub",
        "revision": "CommitId",
        "revision_noun": "commit",
    },
    "gitlab": {
        "name": "GitLab",
        "title": "GitLab via CodeConnections",
        "label": "GitLab (AWS CodeConnections)",
        "kind": "connection",
        "connection_type": "GitLab",
        "revision": "CommitId",
        "revision_noun": "commit",
    },
    "bitbucket": {
        "name": "Bitbucket",
        "title": "Bitbucket via CodeConnections",
        "label": "Bitbucket (AWS CodeConnections)",
        "kind": "connection",
        "connection_type": "Bitbucket",
        "revision": "CommitId",
        "revision_noun": "commit",
    },
    "codecommit": {
        "name": "CodeCommit",
        "title": "CodeCommit",
        "label": "AWS CodeCommit",
        "kind": "codecommit",
        "connection_type": "",
        "revision": "CommitId",
        "revision_noun": "commit",
    },
    "s3": {
        "name": "S3",
        "title": "S3",
        "label": "Amazon S3 (zip upload)",
        "kind": "s3",
        "connection_type": "",
        "revision": "VersionId",
        "revision_noun": "version",
    },
}


# --------------------------------------------------------------------------
# Lambda packaging
# Source: "Deploy ... Lambda functions with .zip file archives" (Lambda developer
# guide, one page per runtime): Python dependencies at the root of the zip,
# node_modules beside the code, extra JARs under lib/, and for the OS-only
# runtime an executable named `bootstrap`. The build copies what the function
# needs into LAMBDA_CODE_DIR after the runtime's build commands ran;
# `aws cloudformation package` zips and uploads that directory, so the
# function's CodeUri in infra/service.yml is "../" + LAMBDA_CODE_DIR.
# --------------------------------------------------------------------------

LAMBDA_CODE_DIR = "dist"

LAMBDA_PACKAGE_COMMANDS: dict[str, list[str]] = {
    "nodejs": [
        f"rm -rf {LAMBDA_CODE_DIR} && mkdir -p {LAMBDA_CODE_DIR}",
        f"cp -R package.json src {LAMBDA_CODE_DIR}/",
        f"if [ -d node_modules ]; then cp -R node_modules {LAMBDA_CODE_DIR}/; fi",
    ],
    "python": [
        f"rm -rf {LAMBDA_CODE_DIR} && mkdir -p {LAMBDA_CODE_DIR}",
        f"python -m pip install --quiet --requirement requirements.txt --target {LAMBDA_CODE_DIR}",
        f"cp -R app {LAMBDA_CODE_DIR}/",
    ],
    "java": [
        f"rm -rf {LAMBDA_CODE_DIR} && mkdir -p {LAMBDA_CODE_DIR}/lib",
        f"cp target/app.jar {LAMBDA_CODE_DIR}/lib/",
    ],
    "go": [
        f"rm -rf {LAMBDA_CODE_DIR} && mkdir -p {LAMBDA_CODE_DIR}",
        f"cp bin/app {LAMBDA_CODE_DIR}/bootstrap",
    ],
}


# --------------------------------------------------------------------------
# Lambda traffic shifting
# Sources: "Deploying serverless applications gradually with AWS SAM" and SAM's
# "DeploymentPreference" reference; "AppSpec 'hooks' section" (Lambda lifecycle
# events); the managed policy AWSCodeDeployRoleForLambda, which lets CodeDeploy
# invoke only functions named "CodeDeployHook_*"; "Lambda quotas" (memory,
# timeout, 64-character function names); "PutRetentionPolicy" (CloudWatch Logs).
# --------------------------------------------------------------------------

# The alias callers use (the function URL points at it) and CodeDeploy shifts between versions.
LAMBDA_ALIAS = "live"

LAMBDA_HOOK_PREFIX = "CodeDeployHook_"
LAMBDA_FUNCTION_NAME_MAX = 64

# SAM DeploymentPreference.Hooks key -> the CodeDeploy lifecycle event it runs in, and the
# hook's code in the service: <LAMBDA_HOOK_DIR>/<module>.py, handler <module>.handler.
LAMBDA_HOOK_DIR = "hooks"
LAMBDA_HOOKS: dict[str, dict[str, str]] = {
    "PreTraffic": {"lifecycle_event": "BeforeAllowTraffic", "module": "pre_traffic", "suffix": "pre-traffic"},
    "PostTraffic": {"lifecycle_event": "AfterAllowTraffic", "module": "post_traffic", "suffix": "post-traffic"},
}

# The hooks are Python whatever the app's language (the managed runtime includes boto3);
# they run on the newest Python of the table, so they move on with it.
LAMBDA_HOOK_RUNTIME = next(iter(RUNTIMES["python"]["versions"].values()))["lambda_runtime"]

# Starting values of the service stack's parameters; the owner tunes them in infra/service.yml.
LAMBDA_DEFAULTS: dict[str, int] = {
    "memory_mb": 512,
    "timeout_seconds": 10,
    # -1 reserves none: reserving takes from the account's concurrency quota, which a new account
    # may have as low as 10 (and Lambda keeps 100 unreserved), so a reservation can fail the stack.
    "reserved_concurrency": -1,
    # A hook invokes the function at most twice, 5 s to connect and 30 s to answer each time.
    "hook_timeout_seconds": 90,
}

LAMBDA_LIMITS: dict[str, tuple[int, int]] = {
    "memory_mb": (128, 10240),
    "timeout_seconds": (1, 900),
}

# The roles an environment's stacks create, named <environment name>-<suffix> (RoleName in
# infra/service.yml and infra/network.yml). The pipeline's roles may change and pass these
# exact names only: a name prefix would also cover a service whose name starts with this one's
# (tests/test_least_privilege.py renders `api` beside `api-gw` and checks that each RoleName is here).
ECS_TASK_ROLE_SUFFIXES = ["execution", "task"]  # the task definition's roles
SERVICE_ROLE_SUFFIXES: dict[str, list[str]] = {
    "ecs_fargate": [*ECS_TASK_ROLE_SUFFIXES, "load-balancers", "codedeploy", "test-traffic-check", "invoke-check"],
    "ec2": ["instance", "codedeploy", "deployment-group"],
    "lambda": ["function", "codedeploy", "pre-traffic-hook", "post-traffic-hook"],
}
NETWORK_ROLE_SUFFIXES = ["flow-logs"]  # infra/network.yml's, when the pipeline creates the network

# How READMEs name a secret of each store (answers `secrets` and `build_secrets`).
SECRET_STORE_LABELS = {"secretsmanager": "Secrets Manager secret", "ssm": "SSM Parameter Store parameter"}

# The permissions boundary of those roles (infra/deploy-role.yml) allows these actions on every
# resource: what the roles' own policies use, per target (not whole services: Control Tower's
# CT.IAM.PR.3 refuses a customer managed policy that allows "service:*"). IAM, secrets and KMS it
# allows only as the roles use them (template/_partials/boundary.yml.jinja). An app that calls
# another AWS service needs its actions added to the boundary in infra/deploy-role.yml.
BOUNDARY_ACTIONS: dict[str, list[str]] = {
    "ecs_fargate": [
        "cloudwatch:DescribeAlarms", "codedeploy:PutLifecycleEventHookExecutionStatus",
        "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
        "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetAuthorizationToken",
        "ecr:GetDownloadUrlForLayer", "ecs:CreateTaskSet", "ecs:DeleteTaskSet", "ecs:DescribeServices",
        "ecs:UpdateServicePrimaryTaskSet", "elasticloadbalancing:DeregisterTargets",
        "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:RegisterTargets", "lambda:InvokeFunction", "logs:CreateLogStream",
        "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents", "s3:GetObject",
        "s3:GetObjectVersion",
    ],
    "ec2": [
        "autoscaling:AttachLoadBalancerTargetGroups", "autoscaling:CompleteLifecycleAction",
        "autoscaling:CreateAutoScalingGroup", "autoscaling:CreateOrUpdateTags",
        "autoscaling:DeleteAutoScalingGroup", "autoscaling:DeleteLifecycleHook",
        "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeLifecycleHooks",
        "autoscaling:DescribeNotificationConfigurations", "autoscaling:DescribePolicies",
        "autoscaling:DescribeScalingActivities", "autoscaling:DescribeScheduledActions",
        "autoscaling:EnableMetricsCollection", "autoscaling:PutLifecycleHook",
        "autoscaling:PutNotificationConfiguration", "autoscaling:PutScalingPolicy",
        "autoscaling:PutScheduledUpdateGroupAction", "autoscaling:PutWarmPool",
        "autoscaling:RecordLifecycleActionHeartbeat", "autoscaling:ResumeProcesses",
        "autoscaling:SuspendProcesses", "autoscaling:UpdateAutoScalingGroup", "cloudwatch:DescribeAlarms",
        "codedeploy:CreateDeploymentGroup", "codedeploy:DeleteDeploymentGroup",
        "codedeploy:GetDeploymentGroup", "codedeploy:UpdateDeploymentGroup", "ec2:AssignPrivateIpAddresses",
        "ec2:CreateNetworkInterface", "ec2:CreateTags", "ec2:DeleteNetworkInterface", "ec2:DescribeInstanceStatus",
        "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:RunInstances",
        "ec2:TerminateInstances", "ec2:UnassignPrivateIpAddresses", "elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:RegisterTargets", "logs:CreateLogStream", "logs:DescribeLogGroups",
        "logs:DescribeLogStreams", "logs:PutLogEvents", "s3:GetObject", "s3:GetObjectVersion",
        "ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel", "tag:GetResources",
    ],
    "lambda": [
        "cloudwatch:DescribeAlarms", "codedeploy:PutLifecycleEventHookExecutionStatus",
        "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses", "lambda:GetAlias",
        "lambda:GetProvisionedConcurrencyConfig", "lambda:InvokeFunction", "lambda:UpdateAlias",
        "logs:CreateLogStream", "logs:PutLogEvents",
    ],
}


# checkov reads the boundary as a policy that grants; these are its findings on it, per target.
BOUNDARY_CHECKOV_SKIPS: dict[str, list[str]] = {
    "ecs_fargate": ["CKV_AWS_108", "CKV_AWS_111"],
    "ec2": ["CKV_AWS_108", "CKV_AWS_111"],
    "lambda": ["CKV_AWS_111"],
}


def boundary_services(target: str) -> list[str]:
    """The AWS services the permissions boundary lets the environment roles use (README)."""
    return sorted({action.split(":")[0] for action in BOUNDARY_ACTIONS[target]})

# AWS Control Tower's proactive controls (its published Guard rules) the rendered stacks still
# break, per target: the README's "Governed accounts" table, and all that tests/test_gate.py lets
# cfn-guard find. "owner": the owner clears it (`clears` says how); "deployed": only a check of
# the template finds it (it cannot read a parameter), the deployed stack passes; "needed": the
# stack needs what the control forbids; "not yet": this template version does not clear it yet, so a
# governed account with the control enabled refuses the stack until a later version does (or
# until the owner does what `clears` says, where a row has it).
_PLAIN_HTTP = "port 80 serves plain HTTP until the environment has a certificate"
_CERTIFICATE_REDIRECTS = "`CertificateArn` in `infra/environments/<environment>.json`: port 80 then redirects to HTTPS"
_PARAMETER_UNREAD = "a parameter, which a check of the template cannot read"
CONTROL_TOWER_FINDINGS: list[dict[str, Any]] = [
    {"control": "CT.ELASTICLOADBALANCING.PR.1", "targets": ("ec2",), "resources": ("HttpListener",),
     "status": "owner", "why": _PLAIN_HTTP, "clears": _CERTIFICATE_REDIRECTS},
    {"control": "CT.ELASTICLOADBALANCING.PR.1", "targets": ("ecs_fargate",), "resources": ("ProductionListener",),
     "when": {"strategy": ("rolling",)}, "status": "owner", "why": _PLAIN_HTTP, "clears": _CERTIFICATE_REDIRECTS},
    {"control": "CT.ELASTICLOADBALANCING.PR.1", "targets": ("ecs_fargate",), "resources": ("ProductionListener", "TestListener"),
     "when": {"strategy": ("blue_green", "canary", "linear")},
     "status": "owner", "why": "ports 80 and 9000 (the test listener) serve plain HTTP until the environment has a certificate",
     "clears": f"{_CERTIFICATE_REDIRECTS}, and the test listener serves HTTPS"},
    {"control": "CT.LAMBDA.PR.3", "targets": ("lambda",), "resources": ("Function", "PreTrafficHook", "PostTrafficHook"),
     "status": "owner", "why": "the functions run outside a VPC unless the environment names its subnets",
     "clears": "`SubnetIds` and `SecurityGroupIds` in `infra/environments/<environment>.json`: private subnets "
               "with a NAT gateway or interface endpoints for Lambda and CodeDeploy"},
    {"control": "CT.LAMBDA.PR.3", "targets": ("ec2",), "resources": ("DeploymentGroupFunction",),
     "when": {"strategy": ("blue_green",)}, "status": "deployed",
     "why": f"the function that creates the deployment group runs in the private subnets, {_PARAMETER_UNREAD}",
     "clears": "nothing: the deployed function passes"},
    {"control": "CT.LAMBDA.PR.3", "targets": ("ecs_fargate",), "resources": ("TestTrafficCheck",),
     "status": "deployed", "why": f"the test traffic check runs in the private subnets, {_PARAMETER_UNREAD}",
     "clears": "nothing: the deployed function passes"},
    {"control": "CT.S3.PR.2", "targets": ("ec2", "ecs_fargate", "lambda"), "resources": ("ArtifactBucket",),
     "status": "owner", "why": "server access logs need a bucket that Control Tower's S3 controls would refuse in the "
                               "stack: S3 delivers them only to one without Object Lock, encrypted with S3's own keys",
     "clears": "`AccessLogsBucket`'s Default in `infra/pipeline.yml`: a log bucket of yours"},
    # CodeBuild's Docker server capability (Environment.DockerServer) does not spare it: AWS's own example of
    # it sets privileged mode too ("DockerServerOptions", AWS CDK API reference; "Docker image build server
    # sample for CodeBuild").
    {"control": "CT.CODEBUILD.PR.4", "targets": ("ecs_fargate",), "resources": ("BuildProject",),
     "status": "needed", "why": "building the container image needs the Docker daemon, which needs privileged mode",
     "clears": "nothing: leave this control off for the pipeline's account"},
    {"control": "CT.ELASTICLOADBALANCING.PR.6", "targets": ("ec2", "ecs_fargate"), "resources": ("LoadBalancer",),
     "status": "owner", "why": "access logs need a bucket that Control Tower's S3 controls would refuse in the stack: "
                               "Elastic Load Balancing writes only to one encrypted with S3's own keys",
     "clears": "`AccessLogsBucket` in `infra/environments/<environment>.json`: a log bucket of yours that lets "
               "Elastic Load Balancing write"},
    {"control": "CT.AUTOSCALING.PR.1", "targets": ("ec2",), "resources": ("AutoScalingGroup",),
     "when": {"strategy": ("in_place",), "network": ("create",)}, "status": "deployed",
     "why": f"the group's Availability Zones (the pipeline passes the network stack's) are {_PARAMETER_UNREAD}",
     "clears": "nothing: the deployed group names them"},
    {"control": "CT.AUTOSCALING.PR.1", "targets": ("ec2",), "resources": ("AutoScalingGroup",),
     "when": {"strategy": ("in_place",), "network": ("existing",)}, "status": "owner",
     "why": "the group takes its Availability Zones from the subnets unless the environment names them",
     "clears": "`AvailabilityZones` in `infra/environments/<environment>.json`: the zones of `PrivateSubnetIds`"},
    {"control": "CT.AUTOSCALING.PR.6", "targets": ("ec2",), "resources": ("AutoScalingGroup",),
     "when": {"strategy": ("in_place",)}, "status": "owner",
     "why": "the group runs one instance type unless the environment names a second: the types Control Tower's "
            "CT.AUTOSCALING.PR.11 then asks for cost about twice as much and are not offered in every region",
     "clears": "`FallbackInstanceType` and `InstanceType` in `infra/environments/<environment>.json`: two types that "
               "encrypt traffic between instances (not t4g or t3), e.g. `c7g.medium` and `m7g.medium` (arm64)"},
    {"control": "CT.AUTOSCALING.PR.4", "targets": ("ec2",), "resources": ("AutoScalingGroup",),
     "when": {"strategy": ("in_place",)}, "status": "needed",
     "why": "the group checks instance health (EC2): the instances the stack starts have no release yet, so "
            "the load balancer's check would have the group replace them in a loop until the first one",
     "clears": "nothing: leave this control off for the environments' accounts"},
]


def control_tower_findings(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The CONTROL_TOWER_FINDINGS rows that apply to a service's answers, owner-cleared first."""
    rows = [row for row in CONTROL_TOWER_FINDINGS
            if answers["target"] in row["targets"]
            and all(answers.get(question) in values for question, values in row.get("when", {}).items())]
    order = {"owner": 0, "deployed": 1, "needed": 2, "not yet": 3}
    return sorted(rows, key=lambda row: (order[row["status"]], row["control"]))


# Where the build writes in the artifact bucket, besides the pipeline's own artifacts: test
# reports, the dependency cache (targets that cache in S3) and packaged Lambda code. The build
# role may write under these prefixes only.
ARTIFACT_BUCKET_PREFIXES = {"test_reports": "test-reports", "build_cache": "build-cache", "lambda_code": "lambda"}

# CodePipeline keeps a pipeline's artifacts under the first 20 characters of its name (an AWS
# answer on re:Post, "CodePipeline truncates folder names in output artifact S3 bucket").
PIPELINE_ARTIFACT_FOLDER_LENGTH = 20

# Every log group keeps its events a year: AWS Control Tower's CT.CLOUDWATCH.PR.2 refuses less,
# and a stack parameter could not be read by its check (a literal can).
LOG_RETENTION_IN_DAYS = 365

# The load balancer closes a connection idle this long ("Configure the idle connection timeout for
# your Application Load Balancer", 60 by default, set explicitly in the service stacks); the sample
# apps keep an idle keep-alive connection open longer, so that the load balancer, never the app,
# closes it (an app that closes first is a cause of intermittent 502s: "Troubleshoot your
# Application Load Balancers", HTTP 502).
LOAD_BALANCER_IDLE_TIMEOUT_SECONDS = 60
APP_IDLE_TIMEOUT_SECONDS = 75


# --------------------------------------------------------------------------
# Look-ups used by copier.yml and the templates
# --------------------------------------------------------------------------


def choices(question: str, target: str = "", region: str = "") -> dict[str, Any]:
    """A question's choices for copier.yml, {text shown: value}, from the tables above.

    Strategies the target cannot use, and source providers the region lacks, stay listed,
    disabled with the reason (Copier's per-choice `validator`).
    """
    if question == "strategy":
        return {
            f"{row['label']}: {row['summary']}": {"value": key, "validator": strategy_disabled_reason(target, key)}
            for key, row in STRATEGIES.items()
        }
    if question == "source_provider" and region:
        return {row["label"]: {"value": key, "validator": source_provider_disabled_reason(key, region)}
                for key, row in SOURCE_PROVIDERS.items()}
    if question == "ec2_batch":
        return {f"{row['label']} ({row['config']})": key for key, row in EC2_BATCHES.items()}
    table = {
        "runtime": RUNTIMES,
        "architecture": ARCHITECTURES,
        "target": TARGETS,
        "ecs_controller": ECS_CONTROLLERS,
        "network": NETWORKS,
        "source_provider": SOURCE_PROVIDERS,
    }[question]
    return {row["label"]: key for key, row in table.items()}


def runtime_versions(runtime: str) -> list[str]:
    """Versions offered for a runtime, newest first."""
    return list(RUNTIMES.get(runtime, {}).get("versions", {}))


def default_runtime_version(runtime: str) -> str:
    versions = runtime_versions(runtime)
    return versions[0] if versions else ""


def runtime_row(runtime: str, version: str) -> dict[str, Any]:
    """The runtime's facts merged with the facts of one of its versions."""
    base = {k: v for k, v in RUNTIMES[runtime].items() if k != "versions"}
    return {"name": runtime, "version": version, **base, **RUNTIMES[runtime]["versions"][version]}


def target_strategies(target: str) -> list[str]:
    return list(TARGETS.get(target, {}).get("strategies", []))


def default_strategy(target: str) -> str:
    return TARGETS.get(target, {}).get("default_strategy", "")


def strategy_disabled_reason(target: str, strategy: str) -> str:
    """Empty when the target can use the strategy, else why not (for copier's per-choice validator)."""
    if strategy in target_strategies(target):
        return ""
    return STRATEGIES[strategy]["why_not"] or f"{strategy} is not offered for {target}"


def traffic_config(compute_platform: str, strategy: str, percent: int, minutes: int) -> dict[str, Any]:
    """The CodeDeploy configuration for a traffic-shifting strategy (ECS or Lambda).

    Returns the predefined name when the answers match one, else the custom
    TrafficRoutingConfig a later template renders as AWS::CodeDeploy::DeploymentConfig.
    """
    table = PREDEFINED_TRAFFIC_CONFIGS[compute_platform]
    if strategy == "blue_green":
        return {"predefined": table["all_at_once"], "custom": None}
    predefined = table[strategy].get((int(percent), int(minutes)))
    if predefined:
        return {"predefined": predefined, "custom": None}
    if strategy == "canary":
        custom = {"Type": "TimeBasedCanary", "TimeBasedCanary": {"CanaryPercentage": int(percent), "CanaryInterval": int(minutes)}}
    else:
        custom = {"Type": "TimeBasedLinear", "TimeBasedLinear": {"LinearPercentage": int(percent), "LinearInterval": int(minutes)}}
    return {"predefined": None, "custom": custom}


def deployment_config(answers: dict[str, Any]) -> dict[str, Any]:
    """What runs a deployment for these answers.

    `controller` is codedeploy or ecs; `predefined`/`custom` describe the CodeDeploy
    configuration (None where CodeDeploy is not used); `ecs_native` holds the ECS
    service's DeploymentConfiguration values when Amazon ECS runs the deployment;
    `ecs_appspec` says CodeDeploy deploys ECS tasks from appspec.yaml and taskdef.json.
    """
    target, strategy = answers["target"], answers["strategy"]
    platform = TARGETS[target]["compute_platform"]
    controller = controller_for(answers)
    result = {"platform": platform, "controller": controller, "predefined": None, "custom": None, "custom_name": None, "ecs_native": None,
              "ecs_appspec": target == "ecs_fargate" and strategy != "rolling" and controller == "codedeploy"}
    if target == "ec2":
        result["predefined"] = EC2_BATCHES[answers.get("ec2_batch") or "all"]["config"]
    elif strategy == "rolling":
        pass
    elif controller == "ecs":
        result["ecs_native"] = ecs_native_config(answers)
    else:
        percent = answers.get(f"{strategy}_percent") or 10
        minutes = answers.get(f"{strategy}_minutes") or 1
        result.update(traffic_config(platform, strategy, percent, minutes))
        if result["custom"]:
            result["custom_name"] = custom_config_name(result["custom"])
    return result


def custom_config_name(custom: dict[str, Any]) -> str:
    """The name part of a custom traffic-shifting configuration, e.g. Canary15Percent10Minutes."""
    if custom["Type"] == "TimeBasedCanary":
        canary = custom["TimeBasedCanary"]
        return f"Canary{canary['CanaryPercentage']}Percent{canary['CanaryInterval']}Minutes"
    linear = custom["TimeBasedLinear"]
    return f"Linear{linear['LinearPercentage']}PercentEvery{linear['LinearInterval']}Minutes"


def ecs_native_config(answers: dict[str, Any]) -> dict[str, Any]:
    """The ECS service's DeploymentConfiguration strategy values ("Amazon ECS blue/green deployments")."""
    strategy = answers["strategy"]
    config: dict[str, Any] = {"Strategy": strategy.upper(), "BakeTimeInMinutes": int(answers.get("bake_minutes") or 0)}
    if strategy == "canary":
        config["CanaryConfiguration"] = {
            "CanaryPercent": float(answers.get("canary_percent") or 10),
            "CanaryBakeTimeInMinutes": int(answers.get("canary_minutes") or 0),
        }
    elif strategy == "linear":
        config["LinearConfiguration"] = {
            "StepPercent": float(answers.get("linear_percent") or 10),
            "StepBakeTimeInMinutes": int(answers.get("linear_minutes") or 0),
        }
    return config


def percent_text(value: Any) -> str:
    """10.0 -> '10', 12.5 -> '12.5'."""
    return f"{float(value):g}"


def sam_deployment_type(predefined: str | None) -> str | None:
    """SAM DeploymentPreference.Type for a predefined Lambda config (drop the prefix)."""
    if not predefined:
        return None
    return predefined.removeprefix("CodeDeployDefault.Lambda")


def describe_deployment(answers: dict[str, Any]) -> str:
    """One sentence for the README: what a deployment does for these answers."""
    target, strategy = answers["target"], answers["strategy"]
    config = deployment_config(answers)
    name = config["predefined"] or "a custom deployment configuration"
    runner = "Amazon ECS" if config["controller"] == "ecs" else "CodeDeploy"
    if config["controller"] == "ecs":
        name = f"ECS deployment strategy {config['ecs_native']['Strategy']}, bake time {config['ecs_native']['BakeTimeInMinutes']} minutes"
    if target == "ec2":
        batch = EC2_BATCHES[answers.get("ec2_batch") or "all"]["label"].lower()
        if strategy == "in_place":
            return f"CodeDeploy updates the instances in place, {batch} ({name})."
        return f"CodeDeploy starts a green copy of the Auto Scaling group and moves traffic to it {batch} ({name})."
    if strategy == "rolling":
        return "Amazon ECS replaces tasks gradually; the deployment circuit breaker rolls back a failed deployment."
    if strategy == "blue_green":
        return f"{runner} starts the new version beside the old one and moves all traffic at once ({name})."
    percent = percent_text(answers.get(f"{strategy}_percent") or 10)
    minutes = answers.get(f"{strategy}_minutes")
    minutes = 1 if minutes is None else minutes
    if strategy == "canary":
        return f"{runner} moves {percent}% of traffic to the new version, waits {minutes} minutes, then moves the rest ({name})."
    return f"{runner} moves {percent}% of traffic every {minutes} minutes until the new version has it all ({name})."


# --------------------------------------------------------------------------
# ECS Fargate service (infra/service.yml, taskdef.json, Dockerfile)
# Sources: "Amazon ECS task definition parameters" (healthCheck, cpu/memory
# pairs for Fargate), "Amazon ECS deployment failure detection" (the circuit
# breaker supports the rolling update and blue/green types only; canary and
# linear deployments roll back on alarms), "Application Load Balancer resources
# for blue/green deployments", "Lifecycle hooks for Amazon ECS service
# deployments" (IN_PROGRESS is retried after callBackDelay seconds, 30 by default).
# --------------------------------------------------------------------------

# Health check commands the container runs inside its own image (ECS container
# health check, CMD form). Node.js and Python ask with their own runtime. The Go
# image (Debian slim) has no curl; the Java image (Amazon Linux 2023 headless JRE)
# has curl-minimal, AL2023's default curl ("Package changes for curl and libcurl"),
# but no JDK compiler. Both have bash, so one command serves both: bash speaks
# HTTP over /dev/tcp.
ECS_HEALTH_CHECK_COMMANDS: dict[str, list[str]] = {
    "nodejs": [
        "CMD",
        "node",
        "-e",
        "fetch('http://127.0.0.1:{port}/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))",
    ],
    "python": [
        "CMD",
        "python",
        "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health', timeout=4)",
    ],
    "java": [
        "CMD",
        "bash",
        "-c",
        "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '",
    ],
    "go": [
        "CMD",
        "bash",
        "-c",
        "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '",
    ],
}

# Container health check timing (seconds). A JVM starts slower than the others.
ECS_HEALTH_CHECK = {"interval": 15, "timeout": 5, "retries": 3, "start_period": {"java": 60, "default": 20}}

# HTTPS on every load balancer (EC2, ECS): the CertificateArn parameter takes an ACM
# certificate's ARN only, and the HTTPS listener uses TLS 1.3 and 1.2 ("Security policies for
# your Application Load Balancer").
ACM_CERTIFICATE_PATTERN = r"^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$"
ELB_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"

# Fargate task size (a valid CPU/memory pair) and how many tasks run. The one container gets all
# of the task's memory as its hard limit (Control Tower's CT.ECS.PR.7 asks for a limit).
ECS_TASK_CPU = "256"
ECS_TASK_MEMORY = "512"
ECS_DESIRED_COUNT = 2
# The container's user: an unprivileged id with no account and no home (the app needs neither).
# The Dockerfile's USER and the task definitions' User both say it (Control Tower's CT.ECS.PR.3
# reads the task definition, not the image).
CONTAINER_USER = "10001:10001"

# The load balancer listens for production traffic on HTTP 80 (HTTPS 443 with a certificate,
# port 80 then redirecting); CodeDeploy and Amazon ECS send test traffic to the new tasks
# through a second listener on ECS_TEST_LISTENER_PORT.
ECS_PRODUCTION_PORT = 80
ECS_TEST_LISTENER_PORT = 9000

# Deployment strategies of the ECS deployment controller that take the circuit breaker.
ECS_CIRCUIT_BREAKER_STRATEGIES = ("ROLLING", "BLUE_GREEN")

# Minutes CodeDeploy keeps the old (blue) task set after a successful deployment.
ECS_CODEDEPLOY_TERMINATION_WAIT_MINUTES = 5

# The image tag a CodeDeploy-controlled service stack starts every environment with: the first
# image the repository got, pushed once and never moved. CloudFormation cannot change the task
# definition of a service whose deployment controller is CODE_DEPLOY ("Unable to update task
# definition on services with a CODE_DEPLOY deployment controller"), so the stack's image must
# stay the same on every run; CodeDeploy deploys each new image after it.
ECS_SEED_IMAGE_TAG = "seed"

# Every build tags the images each environment runs, and those of its newest task definitions (a
# rollback goes back to one of them), with this prefix ("deployed-prod-41-0123456789ab";
# ci/keep_deployed_images.py) and removes older marks. The image repository's lifecycle policy
# never expires a marked image: rule 2 selects them with a count they cannot reach (at most
# ECS_KEPT_TASK_DEFINITIONS + 2 per environment), and "An image that matches the tagging
# requirements of a higher priority rule cannot be expired by a rule with a lower priority"
# ("Lifecycle policy evaluation rules", Amazon ECR).
ECS_DEPLOYED_IMAGE_TAG_PREFIX = "deployed-"
ECS_KEPT_TASK_DEFINITIONS = 3
ECS_DEPLOYED_IMAGES_CEILING = 100
# Besides the seed and the marked images, the repository keeps this many of the newest images.
ECS_KEEP_NEWEST_IMAGES = 30

# The hook functions (test traffic checks) are short Python scripts inline in the
# stack: they run on the newest Python Lambda runtime the table offers.
ECS_HOOK_LAMBDA_RUNTIME = RUNTIMES["python"]["versions"][next(iter(RUNTIMES["python"]["versions"]))]["lambda_runtime"]
# How long a hook waits for the new tasks behind the test listener: CodeDeploy's hook
# retries inside one invocation; Amazon ECS's hook answers IN_PROGRESS and is called again.
ECS_HOOK_ATTEMPTS = 10
ECS_HOOK_RETRY_SECONDS = 15


def ecs_private_endpoints(secrets: bool, check: bool, codedeploy: bool) -> list[str]:
    """The interface VPC endpoints ECS tasks in private subnets need without a NAT gateway (besides
    an S3 gateway endpoint for image layers): ECR's two, CloudWatch Logs, Secrets Manager and SSM
    when the app has secrets (aws-reference.md), and the APIs the test traffic check calls."""
    return (["ecr.api", "ecr.dkr", "logs"] + (["secretsmanager", "ssm"] if secrets else [])
            + (["ec2"] if check else []) + (["codedeploy"] if check and codedeploy else []))


def ecs_health_check_command(runtime: str, port: int) -> list[str]:
    """The container health check command of a runtime's image, for its port."""
    return [part.replace("{port}", str(port)) for part in ECS_HEALTH_CHECK_COMMANDS[runtime]]


# --------------------------------------------------------------------------
# EC2 instances with CodeDeploy (appspec.yml, scripts/, infra/service.yml)
# Sources: "AppSpec 'hooks' section" (lifecycle events of EC2/On-Premises
# deployments, in-place and blue/green, with a load balancer), "AppSpec 'files'
# section", "Node.js in AL2023", "Python in AL2023" (namespaced dnf packages and
# executables), "Install the CodeDeploy agent for Amazon Linux or RHEL",
# "Step 2: Create a service role for CodeDeploy" (launch templates need
# ec2:RunInstances, ec2:CreateTags and iam:PassRole).
# --------------------------------------------------------------------------

# The lifecycle events CodeDeploy runs scripts for on an instance, in the order it
# runs them (DownloadBundle, Install, BlockTraffic and AllowTraffic belong to the
# agent and the load balancer and take no scripts). In-place with a load balancer:
# the traffic events wrap the install events. Blue/green: the replacement instances
# run ApplicationStop..AfterAllowTraffic, the original ones only the two BlockTraffic
# events. ApplicationStop always runs the script of the previous successful revision.
EC2_LIFECYCLE_EVENTS: dict[str, list[str]] = {
    "in_place": [
        "BeforeBlockTraffic", "AfterBlockTraffic",
        "ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService",
        "BeforeAllowTraffic", "AfterAllowTraffic",
    ],
    "blue_green": [
        "ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService",
        "BeforeAllowTraffic", "AfterAllowTraffic",
        "BeforeBlockTraffic", "AfterBlockTraffic",
    ],
}

# The events the service hooks, per strategy. The traffic events stay unhooked on
# purpose: the load balancer drains an instance (deregistration delay) before
# ApplicationStop, and only sends traffic once its health check on /health passes,
# which ValidateService has already proved locally. Stopping the app on the original
# instances of a blue/green deployment (AfterBlockTraffic) would break the rollback,
# which routes traffic back to them; they stop when CodeDeploy terminates them.
EC2_HOOKED_EVENTS: dict[str, list[str]] = {
    "in_place": ["ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"],
    "blue_green": ["ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"],
}

# One script per hooked event (under EC2_SCRIPT_DIR of the bundle), its timeout in
# seconds (CodeDeploy allows at most 3600 per event) and the user it runs as. Every
# hook runs as root: they install packages, a user and a systemd unit, and the agent
# starts scripts from its own deployment root, which other users cannot always read
# (aws-codedeploy-agent issue #111). The app itself never runs as root: systemd
# starts it as the service's own system user.
EC2_SCRIPT_DIR = "scripts"
EC2_HOOKS: dict[str, dict[str, Any]] = {
    "ApplicationStop": {"script": "application_stop.sh", "timeout": 120, "runas": "root"},
    "BeforeInstall": {"script": "before_install.sh", "timeout": 900, "runas": "root"},
    "AfterInstall": {"script": "after_install.sh", "timeout": 600, "runas": "root"},
    "ApplicationStart": {"script": "application_start.sh", "timeout": 120, "runas": "root"},
    "ValidateService": {"script": "validate_service.sh", "timeout": 300, "runas": "root"},
}

# ValidateService asks http://127.0.0.1:<port>/health this many times, this many
# seconds apart (each try waits at most EC2_HEALTH_TIMEOUT seconds): 30 x (5 + 2) s
# stays well inside the hook's timeout above.
EC2_HEALTH_RETRIES = 30
EC2_HEALTH_INTERVAL = 5
EC2_HEALTH_TIMEOUT = 2

# What the hook scripts install on Amazon Linux 2023, per runtime version: the dnf
# packages, and the executable that runs the app. `arguments` follow the executable
# in the systemd unit (run in the install directory). Go needs no runtime: its
# binary is the app. Node.js dependencies (node_modules) are built by CodeBuild on
# Amazon Linux 2023 for the same architecture and shipped in the bundle; Python's
# are installed into a virtual environment on the instance. Java exits with 143
# (128 + SIGTERM) when systemd stops it, which systemd must count as success.
EC2_RUNTIMES: dict[str, dict[str, Any]] = {
    "nodejs": {
        "versions": {
            "24": {"packages": ["nodejs24"], "executable": "/usr/bin/node-24"},
            "22": {"packages": ["nodejs22"], "executable": "/usr/bin/node-22"},
        },
        "arguments": "src/server.js",
        "virtualenv": False,
        "success_exit_status": None,
    },
    "python": {
        "versions": {
            "3.14": {"packages": ["python3.14", "python3.14-pip"], "executable": "/usr/bin/python3.14"},
            "3.13": {"packages": ["python3.13", "python3.13-pip"], "executable": "/usr/bin/python3.13"},
            "3.12": {"packages": ["python3.12", "python3.12-pip"], "executable": "/usr/bin/python3.12"},
        },
        "arguments": "-m app.server",
        "virtualenv": True,
        "success_exit_status": None,
    },
    "java": {
        # Corretto's packages register /usr/bin/java with alternatives; the instance has no other JDK.
        "versions": {
            "25": {"packages": ["java-25-amazon-corretto-headless"], "executable": "/usr/bin/java"},
            "21": {"packages": ["java-21-amazon-corretto-headless"], "executable": "/usr/bin/java"},
        },
        "arguments": "-jar target/app.jar",
        "virtualenv": False,
        "success_exit_status": 143,
    },
    "go": {
        "versions": {
            "1.26": {"packages": [], "executable": "bin/app"},
            "1.25": {"packages": [], "executable": "bin/app"},
            "1.24": {"packages": [], "executable": "bin/app"},
        },
        "arguments": "",
        "virtualenv": False,
        "success_exit_status": None,
    },
}

# The fleet behind the load balancer: Auto Scaling sizes, and the seconds the load
# balancer lets requests in flight finish before an instance leaves the target group
# (the default of 300 would add five minutes to every in-place batch).
EC2_FLEET = {"min_size": 2, "max_size": 4, "desired_capacity": 2, "deregistration_delay": 30}

# Blue/green: minutes the original instances stay registered-out but running after a
# successful deployment, so a rollback only moves traffic back (at most 2880), per environment.
# The pipeline's deploy action waits for them too (a blue/green deployment succeeds only after
# the wait): staging's is short, so that runs do not queue behind it; production keeps an hour.
EC2_BLUE_TERMINATION_WAIT_MINUTES = {"staging": 5, "prod": 60}

# The alarm that stops and rolls back a deployment: 5xx answers of the app itself
# (not of the load balancer, which answers 503 while a new fleet has no healthy
# instance yet), per minute, on this many consecutive minutes.
EC2_ROLLBACK_ALARM = {"threshold": 5, "periods": 2}

# CloudFormation cannot create an EC2 blue/green deployment group that copies an
# Auto Scaling group (cloudformation-coverage-roadmap issue #2071: it rejects
# AutoScalingGroups with COPY_AUTO_SCALING_GROUP, and CodeDeploy requires exactly
# one), so a small inline Python function owns that group and the fleet it copies.
EC2_FLEET_FUNCTION_RUNTIME = RUNTIMES["python"]["versions"][next(iter(RUNTIMES["python"]["versions"]))]["lambda_runtime"]


def ec2_runtime(runtime: str, version: str) -> dict[str, Any]:
    """What the EC2 hook scripts install and run for a runtime version."""
    row = EC2_RUNTIMES[runtime]
    return {**{k: v for k, v in row.items() if k != "versions"}, **row["versions"][version]}
