"""The validation gate: render the answer matrix once, run each tool once over all renders.

Used by tests/test_gate.py and by benchmarks/matrix_benchmark.py. Each `run_*`
function returns (files checked, findings) so a caller can assert both that the
tool saw the files it should and that it found nothing.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from helpers import combo_name, render_many, strategy_combinations

# Answers other than the strategy axis rotate through these, so the matrix also
# covers every source provider, staging/approval on and off, notifications and secrets.
ROTATING_ANSWERS: list[dict[str, Any]] = [
    {"source_provider": "github", "staging": True, "manual_approval": True, "notification_email": "team@example.com", "architecture": "arm64",
     "ecs_controller": "ecs", "bake_minutes": 5},
    {"source_provider": "codecommit", "staging": False, "manual_approval": False, "notification_email": "", "architecture": "x86_64"},
    {"source_provider": "gitlab", "staging": True, "manual_approval": False, "notification_email": "", "architecture": "x86_64",
     "secrets": "DB_PASSWORD=secretsmanager:{env}/db,API_KEY=ssm:/orders/api-key", "build_secrets": "NPM_TOKEN=secretsmanager:ci/npm-token"},
    {"source_provider": "s3", "staging": False, "manual_approval": True, "notification_email": "ops@example.com", "architecture": "arm64",
     "ecs_controller": "ecs"},
    {"source_provider": "bitbucket", "staging": True, "manual_approval": True, "notification_email": "",
     "connection_arn": "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d", "architecture": "arm64"},
]


def matrix_answers() -> list[dict[str, Any]]:
    """One answer set per valid (runtime, version, target, strategy), other answers rotating."""
    result = []
    for index, (runtime, version, target, strategy) in enumerate(strategy_combinations()):
        answers = {"service_name": "orders", "runtime": runtime, "runtime_version": version, "target": target, "strategy": strategy}
        answers.update(ROTATING_ANSWERS[index % len(ROTATING_ANSWERS)])
        result.append(answers)
    return result


def matrix_answer_sets() -> dict[str, dict[str, Any]]:
    """The matrix's answer sets by combination name."""
    sets = {}
    for answers in matrix_answers():
        sets[combo_name((answers["runtime"], answers["runtime_version"], answers["target"], answers["strategy"]))] = answers
    return sets


def render_matrix(template: Path, out: Path) -> list[Path]:
    """Render every answer set of the matrix into out/<combo>, in parallel."""
    return list(render_many(template, out, matrix_answer_sets()).values())


def tool(name: str) -> str:
    """A tool installed beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def cloudformation_templates(renders: list[Path]) -> list[Path]:
    return sorted(path for render_dir in renders for path in (render_dir / "infra").glob("*.yml"))


def same_content(files: list[Path]) -> dict[Path, list[Path]]:
    """The files grouped by their bytes: {the first of a group: every file of the group}. A linter's
    findings depend on a file's content only, so it needs to read one file of each group."""
    groups: dict[bytes, list[Path]] = {}
    for path in files:
        groups.setdefault(path.read_bytes(), []).append(path)
    return {paths[0]: paths for paths in groups.values()}


def run_cfn_lint(renders: list[Path]) -> tuple[list[Path], list[str]]:
    """cfn-lint over every distinct template, in one process per core (cfn-lint itself uses one);
    a finding in one file is reported for every file with the same content."""
    files = cloudformation_templates(renders)
    if not files:
        return files, []
    groups = same_content(files)
    chunks = balanced_chunks(list(groups), min(len(groups), os.cpu_count() or 1))
    with ThreadPoolExecutor(len(chunks)) as pool:
        findings = [finding for chunk_findings in pool.map(_cfn_lint, chunks) for finding in chunk_findings]
    return files, for_every_copy(findings, groups)


def for_every_copy(findings: list[str], groups: dict[Path, list[Path]]) -> list[str]:
    """Each "<file>:..." finding once for every file of its group; others (a tool failing) as they are."""
    result = []
    for finding in findings:
        first = next((first for first in groups if finding.startswith(f"{first}:")), None)
        result.extend([finding] if first is None else [finding.replace(str(first), str(path), 1) for path in groups[first]])
    return result


def balanced_chunks(files: list[Path], count: int) -> list[list[Path]]:
    """The files in `count` chunks of about the same total size (cfn-lint's time grows with it)."""
    chunks: list[list[Path]] = [[] for _ in range(count)]
    sizes = [0] * count
    for size, path in sorted(((path.stat().st_size, path) for path in files), reverse=True):
        smallest = sizes.index(min(sizes))
        chunks[smallest].append(path)
        sizes[smallest] += size
    return [sorted(chunk) for chunk in chunks]


def _cfn_lint(files: list[Path]) -> list[str]:
    # Informational findings (I....) are advice, not defects; errors and warnings count.
    proc = subprocess.run(
        [tool("cfn-lint"), "--format", "parseable", "--", *map(str, files)],
        capture_output=True, text=True, check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    findings = [line for line in lines if re.search(r":[EW]\d{4}:", line)]
    if proc.returncode and not lines:
        findings = [f"cfn-lint exited {proc.returncode}: {proc.stderr.strip()}"]
    return findings


def run_checkov(renders: list[Path]) -> tuple[list[tuple[str, str]], list[str]]:
    """Checkov once over every distinct template (CloudFormation); returns (the (file, resource)
    pairs it checked, failed checks), each file's result standing for every file with the same
    content. Each finding names the file by its absolute path."""
    groups = same_content(cloudformation_templates(renders))
    if not groups:
        return [], []
    proc = subprocess.run(
        [tool("checkov"), *(arg for first in groups for arg in ("-f", str(first))), "--framework", "cloudformation",
         "--output", "json", "--compact", "--skip-download", "--soft-fail"],
        capture_output=True, text=True, check=False, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    reports = json.loads(proc.stdout or "[]")
    if isinstance(reports, dict):
        reports = [reports]
    checked, failures = set(), []
    for report in reports:
        results = report.get("results", {})
        for kind in ("passed_checks", "failed_checks", "skipped_checks"):
            for check in results.get(kind, []):
                for path in groups[Path(check["file_abs_path"])]:
                    checked.add((str(path), check["resource"]))
        for check in results.get("failed_checks", []):
            for path in groups[Path(check["file_abs_path"])]:
                failures.append(f"{path}: {check['check_id']} {check['check_name']} ({check['resource']})")
    if not reports and proc.returncode:
        failures.append(f"checkov exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return sorted(checked), failures


def shell_scripts(renders: list[Path]) -> list[Path]:
    scripts = []
    for render_dir in renders:
        for path in render_dir.rglob("*"):
            if path.is_file() and not _ignored(path) and (path.suffix == ".sh" or _has_shell_shebang(path)):
                scripts.append(path)
    return sorted(scripts)


def _ignored(path: Path) -> bool:
    """Not the service's own files: git's internals and installed dependencies."""
    return ".git" in path.parts or "node_modules" in path.parts


def _has_shell_shebang(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            first = handle.readline(64)
    except OSError:
        return False
    return first.startswith(b"#!") and (b"bash" in first or first.rstrip().endswith(b"/sh"))


def run_shellcheck(renders: list[Path]) -> tuple[list[Path], list[str]]:
    scripts = shell_scripts(renders)
    if not scripts:
        return scripts, []
    proc = subprocess.run([tool("shellcheck"), "--format", "gcc", *map(str, scripts)], capture_output=True, text=True, check=False)
    return scripts, [line for line in proc.stdout.splitlines() if line.strip()]


def yaml_files(renders: list[Path]) -> list[Path]:
    return sorted(
        path
        for render_dir in renders
        for path in render_dir.rglob("*")
        if path.suffix in (".yml", ".yaml") and path.is_file() and not _ignored(path)
    )


def run_yamllint(renders: list[Path]) -> tuple[list[Path], list[str]]:
    """yamllint with each render's own .yamllint (the config its owner's pre-commit uses)."""
    files, findings = [], []
    for render_dir in renders:
        mine = [path for path in yaml_files([render_dir])]
        files.extend(mine)
    if not files:
        return files, []
    config = renders[0] / ".yamllint"
    proc = subprocess.run(
        [tool("yamllint"), "--format", "parsable", "--strict", "-c", str(config), *map(str, files)],
        capture_output=True, text=True, check=False,
    )
    findings = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode not in (0, 1, 2) or (proc.returncode and not findings):
        findings.append(f"yamllint exited {proc.returncode}: {proc.stderr.strip()}")
    return files, findings


def run_schemas(renders: list[Path]) -> tuple[list[Path], list[str]]:
    from schema_check import schema_for, validate_file

    files, findings = [], []
    for render_dir in renders:
        for path in sorted(render_dir.iterdir()):
            if path.is_file() and schema_for(path) is not None:
                files.append(path)
                findings.extend(f"{path}: {error}" for error in validate_file(path))
    return files, findings


# --------------------------------------------------------------------------- AWS Control Tower

GUARD_PACKAGE = Path(__file__).parent / "tools" / "node_modules" / "@cdklabs" / "cdk-validator-cfnguard"
CONTROL_TOWER_RULES = GUARD_PACKAGE / "rules" / "control-tower" / "cfn-guard"
CONTROL_ID = re.compile(r"\[(CT\.[A-Z0-9]+\.PR\.\d+)\]")


def guard_binary() -> Path:
    """cfn-guard as the npm package ships it for this machine (tests/tools, `npm ci` in .ci/run)."""
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[os.uname().machine.lower()]
    system = "macos" if sys.platform == "darwin" else "ubuntu"
    return GUARD_PACKAGE / "bin" / system / machine / "cfn-guard"


def deployed_document(path: Path) -> dict[str, Any]:
    """A template as CloudFormation's hooks see it when deployed with its parameters' defaults:
    parsed, the SAM transform applied, every condition decided (Fn::If resolved, resources whose
    condition is false left out), each reference to a parameter with a default replaced by it (hooks
    see resolved properties). Parameters without a default stay references."""
    from cfnlint.decode import cfn_yaml

    document = cfn_yaml.load(str(path))
    if document.get("Transform") == "AWS::Serverless-2016-10-31" or "AWS::Serverless-2016-10-31" in (document.get("Transform") or []):
        document = sam_expanded(document)
    return with_conditions_decided(json.loads(json.dumps(document, default=str)))


NO_VALUE = object()


def intrinsic_holds(node: Any, value: Callable[[Any], Any], condition: Callable[[str], bool] | None = None) -> bool:
    """A CloudFormation condition or Rules assertion, with `value` giving an argument's value (a
    parameter's, for a Ref) and `condition` a named condition's outcome."""
    (function, arguments), = node.items()
    if function == "Condition" and condition:
        return condition(arguments)
    if function == "Fn::Not":
        return not intrinsic_holds(arguments[0], value, condition)
    if function == "Fn::And":
        return all(intrinsic_holds(item, value, condition) for item in arguments)
    if function == "Fn::Or":
        return any(intrinsic_holds(item, value, condition) for item in arguments)
    if function == "Fn::Equals":
        left, right = (value(item) for item in arguments)
        return left == right
    if function == "Fn::EachMemberEquals":
        return all(member == value(arguments[1]) for member in value(arguments[0]))
    raise ValueError(f"cannot decide {node}")


def with_conditions_decided(document: dict[str, Any]) -> dict[str, Any]:
    defaults = {name: spec["Default"] for name, spec in document.get("Parameters", {}).items() if "Default" in spec}
    conditions = document.get("Conditions", {})
    decided: dict[str, bool] = {}

    def value(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in defaults:
            spec = document["Parameters"][node["Ref"]]
            default = defaults[node["Ref"]]
            return default.split(",") if "List" in spec["Type"] and isinstance(default, str) else default
        if isinstance(node, dict) and set(node) == {"Fn::Join"}:
            separator, items = node["Fn::Join"]
            items = value(items)
            return separator.join(str(value(item)) for item in items) if isinstance(items, list) else node
        return node

    def condition(name: str) -> bool:
        if name not in decided:
            decided[name] = intrinsic_holds(conditions[name], value, condition)
        return decided[name]

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, when_true, when_false = node["Fn::If"]
                return resolve(when_true if condition(name) else when_false)
            if node == {"Ref": "AWS::NoValue"}:
                return NO_VALUE
            if set(node) == {"Ref"} and node["Ref"] in defaults:
                return value(node)
            items = {key: resolve(item) for key, item in node.items()}
            return {key: item for key, item in items.items() if item is not NO_VALUE}
        if isinstance(node, list):
            return [item for item in (resolve(entry) for entry in node) if item is not NO_VALUE]
        return node

    resources = {name: resource for name, resource in document.get("Resources", {}).items()
                 if "Condition" not in resource or condition(resource["Condition"])}
    return {**document, "Resources": resolve(resources)}


def sam_expanded(document: dict[str, Any], parameter_values: dict[str, str] | None = None) -> dict[str, Any]:
    """The template as CloudFormation deploys it: the SAM transform applied locally, by samtranslator
    (no AWS call: the stacks name no managed policy, and the session only tells the region)."""
    import copy

    from boto3.session import Session
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    document = copy.deepcopy(document)
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/lambda/0123abcd"  # what `cloudformation package` writes
    translator = Translator({}, Parser(), boto_session=Session(region_name="us-east-1"))
    return translator.translate(document, parameter_values=parameter_values or {}, get_managed_policy_map=dict)


def resource_types(document: dict[str, Any]) -> set[str]:
    return {resource["Type"] for resource in document.get("Resources", {}).values()}


def rules_for(types: set[str]) -> tuple[Path, ...]:
    """The Control Tower rule files that look at one of `types` (the others skip; not loading
    them makes cfn-guard five times faster)."""
    return tuple(rule for rule, text in _control_tower_rules().items() if any(f"'{kind}'" in text or f'"{kind}"' in text for kind in types))


@functools.cache
def _control_tower_rules() -> dict[Path, str]:
    return {rule: rule.read_text() for rule in sorted(CONTROL_TOWER_RULES.rglob("*.guard"))}


def run_control_tower_guard(renders: list[Path]) -> tuple[list[Path], list[str]]:
    """AWS Control Tower's proactive controls (its Guard rules) over every template as deployed with
    its defaults (`deployed_document`); each distinct document is checked once, by the rule files
    that name one of its resource types. Findings: "<file>: CT.X.PR.N <resource>"."""
    import tempfile

    files = cloudformation_templates(renders)
    if not files:
        return files, []
    if not guard_binary().is_file():
        return files, [f"cfn-guard is not installed at {guard_binary()}: run `npm ci --prefix tests/tools`"]
    by_content: dict[str, tuple[dict[str, Any], list[Path]]] = {}
    for path in files:
        document = deployed_document(path)
        by_content.setdefault(json.dumps(document, sort_keys=True, default=str), (document, []))[1].append(path)
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as work:
        jobs: dict[tuple[Path, ...], list[tuple[Path, list[Path]]]] = {}
        for number, (text, (document, paths)) in enumerate(by_content.items()):
            data = Path(work) / f"{number}.json"
            data.write_text(text)
            jobs.setdefault(rules_for(resource_types(document)), []).append((data, paths))
        # Each set of rules over its documents, split so that every core has a share.
        chunks = [(rules, group[i::cores]) for rules, group in jobs.items() for i in range(cores) if group[i::cores]]
        with ThreadPoolExecutor(cores) as pool:
            findings = [finding for found in pool.map(lambda chunk: _guard(*chunk), chunks) for finding in found]
    return files, sorted(findings)


def _guard(rules: tuple[Path, ...], documents: list[tuple[Path, list[Path]]]) -> list[str]:
    if not rules:
        return []
    proc = subprocess.run(
        [str(guard_binary()), "validate", "--structured", "--output-format", "json", "--show-summary", "none",
         *(arg for rule in rules for arg in ("--rules", str(rule))), *(arg for data, _ in documents for arg in ("--data", str(data)))],
        capture_output=True, text=True, check=False,
    )
    try:
        reports = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return [f"cfn-guard exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"]
    originals = {str(data): paths for data, paths in documents}
    findings = []
    for report in reports:
        for control, resource in sorted(_breaches(report)):
            findings.extend(f"{path}: {control} {resource}" for path in originals[report["name"]])
    return findings


def _breaches(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(control id, resource) for each resource a report's failed rules name."""
    found = set()
    for rule in report.get("not_compliant", []):
        text = json.dumps(rule)
        controls = set(CONTROL_ID.findall(text)) or {rule.get("Rule", {}).get("name", "unnamed rule")}
        resources = set(re.findall(r'"path": "/Resources/([^/"]+)', text)) or {"(template)"}
        found.update((control, resource) for control in controls for resource in resources)
    return found


TOOLS = {"cfn-lint": run_cfn_lint, "checkov": run_checkov, "shellcheck": run_shellcheck, "yamllint": run_yamllint,
         "schemas": run_schemas, "control-tower": run_control_tower_guard}


class GateRun:
    """Every tool run once over all of a session's renders; `within` gives one group's share."""

    def __init__(self, renders: list[Path]):
        self.renders = list(renders)
        # The tools run side by side: each is one process (cfn-lint one per core) that waits on its own.
        with ThreadPoolExecutor(len(TOOLS)) as pool:
            futures = {name: pool.submit(run, self.renders) for name, run in TOOLS.items()}
        self.results = {name: future.result() for name, future in futures.items()}

    def within(self, tool_name: str, renders: list[Path]) -> tuple[list[Any], list[str]]:
        """The files (checkov: (file, resource) pairs) under `renders`, and the findings that name
        one of them or name no render at all (a tool that failed as a whole fails every group)."""
        mine = tuple(f"{render}{os.sep}" for render in renders)
        every = tuple(f"{render}{os.sep}" for render in self.renders)
        checked, findings = self.results[tool_name]
        files = [item for item in checked if str(item[0] if isinstance(item, tuple) else item).startswith(mine)]
        ours = [finding for finding in findings if any(root in finding for root in mine) or not any(root in finding for root in every)]
        return files, ours
