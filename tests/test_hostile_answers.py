"""Bad and hostile answers: refused at the prompt, or rendered so they read back unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gate
from helpers import ROOT, load_pipeline, render, strategy_combinations, validation_message

HOSTILE = [
    "x; rm -rf /",
    "$(touch /tmp/pwned)",
    "`id`",
    "a'b",
    'a"b',
    "line\nbreak",
    "key: value",
    "# comment",
    "&anchor",
    "*alias",
    "!!python/object:os.system",
    "{{ 7 * 7 }}",
    "{% raw %}",
    "оrders",  # Cyrillic "о": looks like "orders"
    "../../etc/passwd",
    "a" * 300,
    "",
    "Orders",
    "orders*",
    "arn:aws:*",
]

# Every free-text question, with the answers that make it asked.
QUESTIONS = {
    "service_name": {},
    "repository": {},
    "branch": {},
    "aws_region": {},
    "notification_email": {},
    "secrets": {},
    "connection_arn": {},
    "source_bucket": {"source_provider": "s3"},
    "source_object_key": {"source_provider": "s3", "source_bucket": "orders-source"},
}

# Hostile values that are nonetheless valid for a question (empty means "none").
ACCEPTED = {
    ("notification_email", ""),
    ("secrets", ""),
    ("connection_arn", ""),
    ("branch", "Orders"),  # git branch names are case-sensitive and may be capitalised
}


@pytest.mark.parametrize("question", sorted(QUESTIONS))
@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:24])
def test_hostile_values_are_refused_by_every_free_text_question(question, value):
    """copier.yml's own validator expression, evaluated with the template's globals."""
    if (question, value) in ACCEPTED:
        pytest.skip("a legitimate value for this question")
    message = validation_message(question, value, **QUESTIONS[question])
    assert message, f"{question}={value!r} was accepted"
    assert question.split("_")[0] in message, "the message names the question"
    assert repr(value) in message, "the message names the bad value"


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_the_validator_is_wired_into_copier(copie, template_dir, question):
    """One real `copier copy` per question: Copier runs the validator and names the question."""
    value = "x; rm -rf /"
    result = copie.copy(extra_answers={**QUESTIONS[question], question: value}, template_dir=template_dir)
    assert result.exit_code != 0, f"{question}={value!r} was accepted"
    message = str(result.exception)
    assert f"Validation error for question '{question}'" in message
    assert repr(value) in message
    assert message.endswith(validation_message(question, value, **QUESTIONS[question]))


@pytest.mark.parametrize(
    ("extra", "question", "value"),
    [
        ({"source_provider": "codecommit"}, "repository", "../orders"),
        ({"source_provider": "s3"}, "source_bucket", "Orders_Bucket"),
        ({"source_provider": "gitlab"}, "repository", "group/../secret"),
        ({"strategy": "canary", "target": "lambda"}, "canary_percent", 100),
        ({"strategy": "canary", "target": "lambda"}, "canary_percent", 0),
        ({"strategy": "linear", "target": "ecs_fargate"}, "linear_minutes", 2881),
        ({}, "secrets", "DB=ssm:/orders/../admin"),
        ({}, "secrets", "DB=secretsmanager:orders/db ,X=ssm:/a b"),
    ],
)
def test_provider_specific_and_numeric_limits(extra, question, value):
    message = validation_message(question, value, **extra)
    assert message and question.split("_")[0] in message, f"{question}={value!r} was accepted"


FREE_TEXT_DESCRIPTIONS = [
    "Orders: 'quoted' \"double\" #not-a-comment &anchor *alias !!python/object",
    "{{ 7 * 7 }} {% if true %}jinja stays text{% endif %}",
    "$(touch /tmp/pwned) `id` ; rm -rf / && echo done | cat > /dev/null",
    "Ünïcödé ✓ — naïve café <b>bold</b> & <script>x</script>",
    "yes",
    "null",
    "- list item",
    "key: value",
]


def _read_back_descriptions(service: Path, runtime: str) -> list[str]:
    values = []
    if runtime == "nodejs":
        values.append(json.loads((service / "package.json").read_text())["description"])
    if runtime == "python":
        values.append(tomllib.loads((service / "pyproject.toml").read_text())["project"]["description"])
    if runtime == "java":
        namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
        values.append(ET.parse(service / "pom.xml").getroot().find("m:description", namespace).text)
    values.append(str(load_pipeline(service)["Description"]))
    return values


@pytest.mark.parametrize("runtime", ["nodejs", "python", "java"])
@pytest.mark.parametrize("description", FREE_TEXT_DESCRIPTIONS, ids=lambda v: repr(v)[:20])
def test_free_text_reads_back_unchanged(render_service, runtime, description):
    service = render_service(runtime=runtime, description=description)
    values = _read_back_descriptions(service, runtime)
    assert len(values) >= 1
    for value in values:
        assert description in value
    assert description in (service / "README.md").read_text()


def test_hostile_descriptions_pass_the_gate(template_dir, tmp_path):
    renders = [
        render(template_dir, tmp_path / f"s{index}", runtime=runtime, target=target, strategy=strategy, description=description)
        for index, (description, (runtime, target, strategy)) in enumerate(
            zip(FREE_TEXT_DESCRIPTIONS, [("nodejs", "ecs_fargate", "blue_green"), ("python", "lambda", "canary"),
                                         ("java", "ec2", "in_place"), ("go", "ecs_fargate", "rolling")] * 2)
        )
    ]
    for check in (gate.run_cfn_lint, gate.run_yamllint, gate.run_shellcheck, gate.run_schemas):
        _, findings = check(renders)
        assert not findings, "\n".join(findings[:40])


def test_an_invalid_answer_writes_nothing(tmp_path):
    destination = tmp_path / "never-created"
    copier = Path(sys.executable).parent / "copier"
    proc = subprocess.run(
        [str(copier), "copy", "--trust", "--defaults", "--data", "service_name=Bad Name", str(ROOT), str(destination)],
        capture_output=True, text=True,
    )
    assert proc.returncode != 0
    assert "Validation error for question 'service_name'" in proc.stderr
    assert not destination.exists()


def test_an_existing_file_is_not_overwritten_without_confirmation(tmp_path):
    destination = tmp_path / "existing"
    destination.mkdir()
    (destination / "README.md").write_text("my own README\n")
    copier = Path(sys.executable).parent / "copier"
    proc = subprocess.run(
        [str(copier), "copy", "--trust", "--defaults", str(ROOT), str(destination)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode != 0
    assert (destination / "README.md").read_text() == "my own README\n"


# Property: any value a validator accepts renders a service whose scripts pass
# `bash -n`, whose YAML and JSON parse, and whose CloudFormation passes cfn-lint.
branch_names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,30}", fullmatch=True)
service_names = st.from_regex(r"[a-z][a-z0-9-]{1,18}[a-z0-9]", fullmatch=True)
descriptions = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=120).filter(str.strip)


targets = st.sampled_from(sorted({(target, strategy) for _, _, target, strategy in strategy_combinations()}))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(service_name=service_names, branch=branch_names, description=descriptions, target=targets)
def test_any_accepted_answer_renders_a_valid_service(template_dir, tmp_path_factory, service_name, branch, description, target):
    from helpers import answer_rules

    if answer_rules.check_service_name(service_name) or answer_rules.check_branch(branch) or answer_rules.check_description(description):
        return  # the validators refuse it, as other tests show
    service = render(template_dir, tmp_path_factory.mktemp("prop"), service_name=service_name, branch=branch,
                     description=description, target=target[0], strategy=target[1])
    for path in service.rglob("*"):
        if path.suffix in (".yml", ".yaml") and path.parent.name != "infra":
            yaml.safe_load(path.read_text())
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.is_file() and gate._has_shell_shebang(path):
            subprocess.run(["bash", "-n", str(path)], check=True)
    _, findings = gate.run_cfn_lint([service])
    assert not findings, findings
    assert description in (service / "README.md").read_text()
