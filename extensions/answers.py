"""Rules for free-text answers, and the values derived from the answers.

Every validator returns "" when the answer is fine, else a message that names the
question, the bad value and the rule. copier.yml calls them through the globals
that `data_table.py` registers, so the rules live here once.
"""

from __future__ import annotations

import math
import re
from typing import Any

SERVICE_NAME_MAX = 20
# Staging's resources are named "<service name>-stg": a service named "pay-stg" would take the names
# of the staging environment of a service "pay".
STAGING_SUFFIX = "-stg"


def _shown(value: Any) -> str:
    """The answer as it appears in a message: quoted, control characters escaped."""
    return repr(str(value))


def _check(question: str, value: Any, pattern: str, rule: str) -> str:
    text = "" if value is None else str(value)
    if re.fullmatch(pattern, text):
        return ""
    return f"{_shown(text)} is not a valid {question}: {rule}"


def check_service_name(value: Any) -> str:
    # 20 characters keep every derived name inside AWS limits: the longest is the
    # staging target group "<name>-stg-green" (load balancer and target group names
    # are at most 32 characters, "CreateTargetGroup" API reference).
    message = _check(
        "service_name",
        value,
        rf"[a-z][a-z0-9-]{{1,{SERVICE_NAME_MAX - 2}}}[a-z0-9]",
        f"use 3-{SERVICE_NAME_MAX} lowercase letters, digits or hyphens, starting with a letter "
        "and ending with a letter or digit",
    )
    if not message and "--" in str(value):
        message = f"{_shown(value)} is not a valid service_name: use single hyphens between words"
    if not message and str(value).endswith(STAGING_SUFFIX):
        message = (f"{_shown(value)} is not a valid service_name: it may not end in '{STAGING_SUFFIX}', which names the "
                   f"staging environment of the service {_shown(str(value)[:-len(STAGING_SUFFIX)])}")
    return message


def check_description(value: Any) -> str:
    text = "" if value is None else str(value)
    if not text.strip():
        return f"{_shown(text)} is not a valid description: an empty description says nothing; say in a few words what the service does"
    if len(text) > 200:
        return f"a description of {len(text)} characters is too long: use at most 200"
    if re.search(r"[\x00-\x1f\x7f]", text):
        return f"{_shown(text)} is not a valid description: use one line without control characters"
    return ""


def check_repository(provider: str, value: Any) -> str:
    segment = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}"
    if provider == "codecommit":
        message = _check("repository", value, r"[A-Za-z0-9_.-]{1,100}", "a CodeCommit repository name is 1-100 letters, digits, '.', '_' or '-'")
    elif provider == "gitlab":
        message = _check("repository", value, rf"{segment}(/{segment}){{1,5}}", "use the GitLab path 'group/project' (subgroups allowed), letters, digits, '.', '_' or '-'")
    else:
        message = _check("repository", value, rf"{segment}/{segment}", "use 'owner/repository' with letters, digits, '.', '_' or '-'")
    return message or _no_dots("repository", value) or _no_git_suffix(value)


def _no_git_suffix(value: Any) -> str:
    """The repository's name, not its clone URL's last part: CodeCommit refuses a name that ends in
    .git ("Quotas in AWS CodeCommit"), and the connections name a repository without it."""
    if str(value).lower().endswith(".git"):
        return f"{_shown(value)} is not a valid repository: leave out the '.git' suffix"
    return ""


def _no_dots(question: str, value: Any) -> str:
    if ".." in str(value):
        return f"{_shown(value)} is not a valid {question}: '..' may not appear in it"
    return ""


def check_s3_bucket(value: Any) -> str:
    return _check("source_bucket", value, r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name is 3-63 lowercase letters, digits, '.' or '-'") or _no_dots("source_bucket", value)


def check_s3_object_key(value: Any) -> str:
    return _check("source_object_key", value, r"[A-Za-z0-9][A-Za-z0-9/_.-]{0,200}\.zip", "give the key of a .zip object: letters, digits, '/', '_', '.' or '-'") or _no_dots("source_object_key", value)


def check_branch(value: Any) -> str:
    message = _check("branch", value, r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,99}", "a branch name is 1-100 letters, digits, '.', '_', '-' or '/', starting with a letter, digit or '_'")
    text = str(value)
    if not message and (".." in text or "//" in text or text.endswith(("/", ".", ".lock"))):
        message = f"{_shown(text)} is not a valid branch: git forbids '..', '//' and a trailing '/', '.' or '.lock'"
    return message


def check_region(value: Any, partitions: dict[str, dict[str, Any]]) -> str:
    """A region of a partition the template deploys to (`partitions` is catalog.REGIONS)."""
    text = "" if value is None else str(value)
    for partition in partitions.values():
        if text in partition["regions"]:
            if "refused" in partition:
                return f"{_shown(text)} is not a region this template deploys to: {partition['refused']}"
            return ""
    return (f"{_shown(text)} is not a valid aws_region: use the code of an AWS region, such as 'us-east-1' or "
            "'eu-west-2' (the region codes botocore knows)")


def check_email(value: Any) -> str:
    if value in (None, ""):
        return ""
    return _check("notification_email", value, r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}", "give one e-mail address such as 'team@example.com', or leave it empty for no notifications")


def check_connection_arn(value: Any) -> str:
    if value in (None, ""):
        return ""
    return _check(
        "connection_arn",
        value,
        r"arn:aws(-cn|-us-gov)?:(codestar-connections|codeconnections):[a-z]{2}(-gov)?-[a-z]+-[0-9]:[0-9]{12}:connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "give the ARN of an existing connection (arn:aws:codeconnections:<region>:<account>:connection/<uuid>), or leave it empty to create one",
    )


def check_range(question: str, value: Any, low: float, high: float, step: float = 1) -> str:
    """A number within [low, high] on a grid of `step` (1: whole numbers, 0.1: tenths).

    The answer may come typed (20, 2.5) or as text ("20", "abc", "" for an empty answer).
    """
    rule = f"give a whole number from {_num(low)} to {_num(high)}" if step == 1 else \
        f"give a number from {_num(low)} to {_num(high)} in steps of {_num(step)}"
    shown = _shown("" if value is None else value)
    number = _as_number(value)
    if number is None:
        return f"{shown} is not a valid {question}: {rule}"
    on_grid = abs(number / step - round(number / step)) < 1e-9
    if not (low <= number <= high and on_grid):
        return f"{shown} is not a valid {question}: {rule}"
    return ""


def _as_number(value: Any) -> float | None:
    """The answer as a number, or None when it is none (text, empty, a YAML yes/no)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _num(number: float) -> str:
    return f"{number:g}"


def check_strategy_detail(question: str, value: Any, controller: str, limits_table: dict[str, Any]) -> str:
    """Range-check a strategy detail with the limits of the controller that uses it
    (`limits_table` is catalog.STRATEGY_LIMITS)."""
    limits = limits_table.get(controller or "codedeploy", limits_table["codedeploy"]).get(question)
    if limits is None:
        return ""
    message = check_range(question, value, limits["low"], limits["high"], limits["step"])
    if message and controller == "ecs":
        message += " (the limit of Amazon ECS native deployments)"
    elif message:
        message += " (the limit of CodeDeploy)"
    return message


def ecs_rollout_minutes(strategy: str, bake: Any, canary_minutes: Any, linear_percent: Any, linear_minutes: Any) -> int:
    """An Amazon ECS native rollout's bake times as CloudFormation counts them: the bake time, plus
    the canary's, or the step bake time once per step but the last ("AWS::ECS::Service
    LinearConfiguration": 100 / StepPercent - 1 steps when it divides evenly, else its floor)."""
    total = int(float(bake or 0))
    if strategy == "canary":
        total += int(float(canary_minutes or 0))
    elif strategy == "linear":
        shares = 100 / float(linear_percent)
        total += int(float(linear_minutes or 0)) * (int(shares) - 1 if shares.is_integer() else math.floor(shares))
    return total


def _rollout_over(controller: str, rule_for: str, minutes, max_minutes: int) -> int | None:
    """A rollout's minutes when the rule is for this controller and they exceed max_minutes, else None.
    `minutes` computes them from the answers; malformed numbers are the single-answer validators' to report."""
    if controller != rule_for:
        return None
    try:
        total = minutes()
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return total if total > max_minutes else None


def check_ecs_rollout(strategy: str, bake: Any, canary_minutes: Any, linear_percent: Any, linear_minutes: Any,
                      controller: str, max_minutes: int) -> str:
    """Amazon ECS native: the rollout within what CloudFormation accepts (checked at bake_minutes, the last detail)."""
    total = _rollout_over(controller, "ecs", lambda: ecs_rollout_minutes(strategy, bake, canary_minutes, linear_percent, linear_minutes),
                          max_minutes)
    if total is None:
        return ""
    return (
        f"{bake!r} is not a valid bake_minutes for this rollout: its bake times add up to {total} minutes, and "
        f"CloudFormation, which deploys the service stack, refuses an Amazon ECS rollout of more than {max_minutes} "
        f"minutes ({max_minutes // 60} hours); shorten the bake time{' or the canary' if strategy == 'canary' else ''}"
        f"{' or the steps (fewer minutes, a larger percent)' if strategy == 'linear' else ''}"
    )


def check_linear_rollout(percent: Any, minutes: Any, controller: str, max_minutes: int) -> str:
    """CodeDeploy linear: the whole rollout (steps after the first x interval) within max_minutes."""
    total = _rollout_over(controller, "codedeploy", lambda: (-(-100 // int(float(percent))) - 1) * int(minutes), max_minutes)
    if total is None:
        return ""
    return (
        f"{percent!r}% every {minutes!r} minutes is not a valid linear rollout: it takes {total} minutes; "
        f"keep the whole rollout within {max_minutes} minutes (fewer minutes or a larger percent)"
    )


# A name may hold the token "{env}": each environment reads the secret named with its own name there.
ENV_TOKEN = "{env}"
SECRET_ITEM = re.compile(
    r"(?P<env>[A-Z][A-Z0-9_]{0,63})=(?:"
    r"secretsmanager:(?P<secret>(?:[A-Za-z0-9/_+=.@-]|\{env\}){1,256})"
    r"|ssm:(?P<parameter>/?(?:[A-Za-z0-9_.-]|\{env\})+(/(?:[A-Za-z0-9_.-]|\{env\})+)*))"
)


def with_env(name: str, replacement: str) -> str:
    """A secret's name with its {env} token (if any) replaced: an environment's name, or what
    stands for it in the file (a ${Parameter} of the stack, a shell variable)."""
    return str(name).replace(ENV_TOKEN, replacement)


def parse_secrets(value: Any) -> list[dict[str, str]]:
    """'DB_PASSWORD=secretsmanager:{env}/db,API_KEY=ssm:/myapp/key' -> list of dicts
    (env, store, name); a name keeps its {env} token, and `per_environment` says whether it has one."""
    items = []
    for raw in str(value or "").split(","):
        item = raw.strip()
        if not item:
            continue
        match = SECRET_ITEM.fullmatch(item)
        if not match:
            raise ValueError(item)
        if match["secret"]:
            name, store = match["secret"], "secretsmanager"
        else:
            name, store = "/" + match["parameter"].lstrip("/"), "ssm"
        items.append({"env": match["env"], "store": store, "name": name, "per_environment": ENV_TOKEN in name})
    return items


def check_secrets(value: Any, question: str = "secrets", service_name: str = "") -> str:
    """`service_name` (when known) names the environments an {env} stands for."""
    try:
        items = parse_secrets(value)
    except ValueError as error:
        return (
            f"{_shown(error)} is not a valid {question} entry: give ENV_NAME=secretsmanager:<secret name> or "
            "ENV_NAME=ssm:/<parameter name>, separated by commas (no '*', spaces or '..'; "
            f"{ENV_TOKEN} is the only {{...}} a name may hold)"
        )
    names = [item["env"] for item in items]
    if len(set(names)) != len(names):
        return f"{_shown(value)} is not a valid {question} answer: each ENV_NAME may appear once"
    if any(".." in item["name"] for item in items):
        return f"{_shown(value)} is not a valid {question} answer: '..' may not appear in a name"
    environments = [env["name"] for env in derived_names(str(service_name), staging=True)["environments"]] if service_name else []
    for item in items:
        names = [with_env(item["name"], env) for env in environments] if item["per_environment"] else [item["name"]]
        for name in names:
            if item["store"] == "secretsmanager" and re.search(r"-[A-Za-z0-9]{6}$", name):
                # "Do not end your secret name with a hyphen followed by six characters" (CreateSecret, Name):
                # a name given where an ARN may be (ECS's valueFrom) would read as a partial ARN.
                return (f"{_shown(value)} is not a valid {question} answer: the Secrets Manager name {_shown(name)} "
                        "ends in a hyphen and six characters, which Secrets Manager reads as the random suffix of an ARN; "
                        f"rename the secret (e.g. {_shown(_underscored_suffix(item['name']))})")
    return ""


def _underscored_suffix(name: str) -> str:
    """'orders/db-config' -> 'orders/db_config'."""
    head, _, tail = name.rpartition("-")
    return f"{head}_{tail}"


def check_build_secrets(value: Any) -> str:
    """As `secrets`, without {env}: one build serves every environment."""
    problem = check_secrets(value, "build_secrets")
    if not problem and any(item["per_environment"] for item in parse_secrets(value)):
        return (f"{_shown(value)} is not a valid build_secrets answer: {ENV_TOKEN} names a secret per environment, "
                "but one build serves every environment; name the build's secrets without it")
    return problem


KMS_KEY_ARN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}"


def parse_kms_keys(value: Any) -> list[str]:
    """'arn:...:key/1,arn:...:key/2' -> the key ARNs."""
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def check_kms_keys(value: Any) -> str:
    """Empty, or comma-separated KMS key ARNs (an alias would not match the key in a policy)."""
    keys = parse_kms_keys(value)
    bad = [key for key in keys if not re.fullmatch(KMS_KEY_ARN, key)]
    if bad:
        return (f"{_shown(bad[0])} is not a valid secrets_kms_keys entry: give key ARNs "
                "(arn:aws:kms:<region>:<account>:key/<key id>), separated by commas, or nothing")
    return ""


def check_vpc_id(value: Any) -> str:
    return _check("vpc_id", value, r"vpc-[0-9a-f]{8}([0-9a-f]{9})?", "give a VPC id, vpc- and 8 or 17 hexadecimal digits")


def check_subnet_ids(question: str, value: Any) -> str:
    """Comma-separated subnet ids, in at least two Availability Zones (so at least two ids)."""
    text = "" if value is None else str(value)
    ids = [part.strip() for part in text.split(",")]
    if not all(re.fullmatch(r"subnet-[0-9a-f]{8}([0-9a-f]{9})?", part) for part in ids):
        return f"{_shown(text)} is not a valid {question}: give subnet ids (subnet- and 8 or 17 hexadecimal digits), separated by commas"
    if len(set(ids)) < 2:
        return f"{_shown(text)} is not a valid {question}: give at least two subnets, in different Availability Zones"
    return ""


def derived_names(service_name: str, staging: bool, manual_approval: bool = False) -> dict[str, Any]:
    """AWS names derived from the service name, and the environments the pipeline deploys.

    Each environment is what its pipeline stage needs: key, title, resource name, stack
    name, and whether a manual approval comes before it. Stack names stay distinct from
    each other so that deleting or recreating one never touches another (the pipeline
    stack is never named like a service stack).
    """
    environments = [{"key": "staging", "suffix": STAGING_SUFFIX, "title": "Staging"}] if staging else []
    environments.append({"key": "prod", "suffix": "", "title": "Production"})
    for env in environments:
        env["name"] = f"{service_name}{env['suffix']}"
        env["stack"] = f"{service_name}-{env['key']}-service"
        env["network_stack"] = f"{service_name}-{env['key']}-network"
        # The DeployNetwork action's variable namespace: its outputs are #{<namespace>.VpcId} etc.
        env["network_namespace"] = f"{env['title']}Network"
        env["approval"] = bool(manual_approval) and env["key"] == "prod"
    return {
        "pipeline": f"{service_name}-pipeline",
        "pipeline_stack": f"{service_name}-pipeline",
        "deploy_role_stack": f"{service_name}-pipeline-deploy-role",
        # The permissions boundary of every role the environments' stacks create (infra/deploy-role.yml).
        "boundary": f"{service_name}-pipeline-boundary",
        # The pipeline's own roles (infra/pipeline.yml; DeployRole is in infra/deploy-role.yml).
        "pipeline_roles": {role: f"{service_name}-pipeline-{suffix}" for role, suffix in (
            ("pipeline", "codepipeline"), ("build", "codebuild"), ("deploy", "cloudformation"),
            ("events", "events"), ("self_update", "self-update"))},
        # DeployRole's managed policies (infra/deploy-role.yml), by what they hold; SelfUpdateRole
        # manages and attaches exactly these.
        "deploy_role_policies": {part: f"{service_name}-pipeline-cloudformation-{part}" for part in ("iam", "keys")},
        "build_project": f"{service_name}-build",
        "environments": environments,
    }
