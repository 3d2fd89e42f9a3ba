"""The questionnaire: its choices, its validators, and which answers render."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import (
    recorded_answers,
    ROOT,
    answer_rules,
    catalog,
    choice_values,
    choices_of,
    combo_name,
    invalid_strategy_combinations,
    questionnaire,
    strategy_combinations,
)

QUESTIONS = {name: spec for name, spec in questionnaire().items() if not name.startswith("_")}


@pytest.mark.parametrize(
    ("question", "table"),
    [
        ("runtime", catalog.RUNTIMES),
        ("target", catalog.TARGETS),
        ("strategy", catalog.STRATEGIES),
        ("architecture", catalog.ARCHITECTURES),
        ("ec2_batch", catalog.EC2_BATCHES),
        ("source_provider", catalog.SOURCE_PROVIDERS),
        ("ecs_controller", catalog.ECS_CONTROLLERS),
    ],
)
def test_choices_are_the_data_tables_keys(question, table):
    assert sorted(choice_values(question)) == sorted(table)
    assert [text for text, value in choices_of(question).items()] == [choice_text(question, key, row) for key, row in table.items()]


def choice_text(question, key, row):
    """The prompt text a choice must show: its table's label (and, for some, one fact more)."""
    if question == "strategy":
        return f"{row['label']}: {row['summary']}"
    if question == "ec2_batch":
        return f"{row['label']} ({row['config']})"
    return row["label"]


def test_the_readme_names_choices_as_the_prompt_does(suite_renders):
    """The service README's summary line uses the labels the owner picked from."""
    for render_dir in suite_renders.values():
        answers = recorded_answers(render_dir)
        first_lines = (render_dir / "README.md").read_text().split("\n\n")[2]
        for question in ("runtime", "target", "architecture"):
            label = {value: text for text, value in choices_of(question).items()}[answers[question]]
            assert label in first_lines, (render_dir.name, question, label)


def test_strategies_a_target_cannot_use_are_disabled_with_the_reason():
    for target in choice_values("target"):
        offered = {spec["value"]: spec["validator"] for spec in choices_of("strategy", target=target).values()}
        assert [s for s, reason in offered.items() if not reason] == catalog.target_strategies(target)
        assert all(reason == catalog.STRATEGIES[s]["why_not"] for s, reason in offered.items() if reason)


@pytest.mark.parametrize("name", sorted(QUESTIONS))
def test_every_question_has_a_type_and_help(name):
    spec = QUESTIONS[name]
    assert spec.get("type") in {"str", "int", "bool", "yaml", "json", "float"}, name
    assert len(str(spec.get("help", "")).strip()) > 20, f"{name} needs help text that says what it does"


def test_free_text_questions_all_have_validators():
    free_text = [name for name, spec in QUESTIONS.items() if spec["type"] in {"str", "int"} and "choices" not in spec]
    assert free_text, "expected free-text questions"
    assert [name for name in free_text if "validator" not in QUESTIONS[name]] == []


def test_runtime_versions_are_newest_first_and_all_targets_can_run_them():
    for runtime, facts in catalog.RUNTIMES.items():
        versions = list(facts["versions"])
        assert versions == sorted(versions, key=lambda v: [int(p) for p in v.split(".")], reverse=True), runtime
        for version in versions:
            row = catalog.runtime_row(runtime, version)
            assert row["lambda_runtime"] and row["codebuild_version"] and row["docker_run_image"].startswith("public.ecr.aws/")


def test_every_offered_version_runs_on_the_build_images_lambda_and_ec2():
    """Each version is on both CodeBuild images, is a Lambda runtime that botocore knows and whose
    deprecation date (if any) is still ahead, and has an EC2 install."""
    import datetime

    import botocore.session

    lambda_runtimes = botocore.session.get_session().get_service_model("lambda").shape_for("Runtime").enum
    for runtime, facts in catalog.RUNTIMES.items():
        for version in facts["versions"]:
            row = catalog.runtime_row(runtime, version)
            assert row["codebuild_version"] in catalog.CODEBUILD_IMAGE_RUNTIMES[row["codebuild_key"]], (runtime, version)
            assert row["lambda_runtime"] in lambda_runtimes, (runtime, version)
            deprecation = row["lambda_deprecation"]
            assert deprecation is None or datetime.date.fromisoformat(deprecation) > datetime.date.today(), (runtime, version)
            assert version in catalog.EC2_RUNTIMES[runtime]["versions"], (runtime, version)
    images = {facts["codebuild_image"] for facts in catalog.ARCHITECTURES.values()}
    assert images == {"aws/codebuild/amazonlinux-aarch64-standard:4.0", "aws/codebuild/amazonlinux-x86_64-standard:6.0"}


@pytest.mark.parametrize("combo", strategy_combinations(), ids=combo_name)
def test_every_valid_combination_renders(copie, template_dir, combo):
    runtime, version, target, strategy = combo
    result = copie.copy(
        extra_answers={"runtime": runtime, "runtime_version": version, "target": target, "strategy": strategy},
        template_dir=template_dir,
    )
    assert result.exit_code == 0, result.exception
    recorded = recorded_answers(result.project_dir)
    assert (recorded["runtime"], recorded["runtime_version"], recorded["target"], recorded["strategy"]) == combo
    assert (result.project_dir / "README.md").is_file()


@pytest.mark.parametrize(("target", "strategy"), invalid_strategy_combinations())
def test_every_invalid_strategy_fails_with_the_reason(copie, template_dir, target, strategy):
    result = copie.copy(extra_answers={"target": target, "strategy": strategy}, template_dir=template_dir)
    assert result.exit_code != 0
    message = str(result.exception)
    assert "Invalid choice for 'strategy'" in message
    assert catalog.STRATEGIES[strategy]["why_not"] in message
    assert not any(result.project_dir.iterdir()) if result.project_dir else True


def test_defaults_render_the_documented_service(copie, template_dir):
    result = copie.copy(template_dir=template_dir)
    assert result.exit_code == 0, result.exception
    answers = recorded_answers(result.project_dir)
    assert (answers["runtime"], answers["target"], answers["strategy"]) == ("nodejs", "ecs_fargate", "blue_green")
    assert answers["runtime_version"] == catalog.runtime_versions("nodejs")[0]


@pytest.mark.parametrize(
    ("answers", "asked", "not_asked"),
    [
        ({"target": "ec2", "strategy": "in_place"}, {"ec2_batch"}, {"canary_percent", "linear_percent"}),
        ({"target": "lambda", "strategy": "canary"}, {"canary_percent", "canary_minutes"}, {"ec2_batch", "linear_minutes"}),
        ({"target": "ecs_fargate", "strategy": "linear"}, {"linear_percent", "linear_minutes"}, {"ec2_batch", "canary_minutes"}),
        ({"source_provider": "s3", "source_bucket": "orders-source"}, {"source_object_key", "source_bucket"}, {"branch", "connection_arn", "repository"}),
        ({"source_provider": "codecommit", "repository": "orders"}, {"branch"}, {"connection_arn", "source_object_key"}),
    ],
)
def test_conditional_questions_are_asked_only_when_relevant(copie, template_dir, answers, asked, not_asked):
    result = copie.copy(extra_answers=answers, template_dir=template_dir)
    assert result.exit_code == 0, result.exception
    recorded = set(recorded_answers(result.project_dir))
    assert asked <= recorded
    assert not (not_asked & recorded)


# question, bad value, words the message must contain
BAD_ANSWERS = [
    ("service_name", "Orders", "3-20 lowercase letters"),
    ("service_name", "ab", "3-20 lowercase letters"),
    ("service_name", "a" * 21, "3-20 lowercase letters"),
    ("service_name", "orders-", "ending with a letter or digit"),
    ("service_name", "9orders", "starting with a letter"),
    ("service_name", "orders--api", "single hyphens"),
    ("service_name", "pay-stg", "staging environment of the service 'pay'"),
    ("description", "", "empty description"),
    ("description", "line one\nline two", "one line"),
    ("aws_region", "us-east", "region code"),
    ("aws_region", "US-EAST-1", "region code"),
    ("aws_region", "zz-moon-1", "region code"),
    ("aws_region", "us-iso-east-1", "isolated partition"),
    ("aws_region", "cn-north-1", "AWS China"),
    ("aws_region", "eusc-de-east-1", "European Sovereign Cloud"),
    ("aws_region", "ca-west-1", "AWS::CodeBuild::Project"),
    ("aws_region", "us-gov-west-1", "answer architecture x86_64"),
    ("branch", "feature/../x", "'..'"),
    ("branch", "-rf", "branch name"),
    ("branch", "main; rm -rf /", "branch name"),
    ("repository", "just-a-name", "owner/repository"),
    ("repository", "org/repo/extra", "owner/repository"),
    ("repository", "org/repo.git", "leave out the '.git' suffix"),
    ("notification_email", "not-an-email", "e-mail address"),
    ("connection_arn", "arn:aws:iam::123456789012:role/x", "existing connection"),
    ("secrets", "db_password=secretsmanager:x", "ENV_NAME=secretsmanager"),
    ("secrets", "DB=secretsmanager:prod/*", "ENV_NAME=secretsmanager"),
    ("secrets", "DB=secretsmanager:a,DB=ssm:/b", "each ENV_NAME may appear once"),
    ("secrets", "DB=secretsmanager:{stage}/db", "{env} is the only"),
    ("secrets", "DB=secretsmanager:{env}/db-config", "hyphen and six characters"),
    ("build_secrets", "NPM_TOKEN=secretsmanager:ci/npm-tokens", "hyphen and six characters"),
    ("build_secrets", "NPM_TOKEN=secretsmanager:{env}/npm", "one build serves every environment"),
    ("build_secrets", "npm_token=ssm:/ci/npm", "ENV_NAME=secretsmanager"),
]


@pytest.mark.parametrize(("question", "value", "words"), BAD_ANSWERS, ids=lambda v: str(v)[:20])
def test_bad_answers_are_refused_with_a_clear_message(copie, template_dir, question, value, words):
    result = copie.copy(extra_answers={question: value}, template_dir=template_dir)
    assert result.exit_code != 0, f"{question}={value!r} was accepted"
    message = str(result.exception)
    assert f"Validation error for question '{question}'" in message
    assert repr(value) in message, "the message names the bad value"
    assert words in message


EXISTING_NETWORK = {"target": "ec2", "strategy": "in_place", "network": "existing", "vpc_id": "vpc-0123456789abcdef0",
                    "public_subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
                    "private_subnet_ids": "subnet-0123456789abcdef2,subnet-0123456789abcdef3"}


@pytest.mark.parametrize(
    ("question", "value", "words"),
    [
        ("vpc_id", "", "give a VPC id"),
        ("vpc_id", "vpc-12345", "give a VPC id"),
        ("public_subnet_ids", "subnet-0123456789abcdef0", "at least two subnets"),
        ("private_subnet_ids", "subnet-01234567,sg-01234567", "give subnet ids"),
    ],
)
def test_an_existing_network_needs_its_ids(copie, template_dir, question, value, words):
    result = copie.copy(extra_answers={**EXISTING_NETWORK, question: value}, template_dir=template_dir)
    assert result.exit_code != 0, f"{question}={value!r} was accepted"
    message = str(result.exception)
    assert f"Validation error for question '{question}'" in message and words in message


def test_an_existing_network_is_recorded_and_a_created_one_asks_nothing_more(copie, template_dir):
    result = copie.copy(extra_answers=EXISTING_NETWORK, template_dir=template_dir)
    assert result.exit_code == 0, result.exception
    recorded = recorded_answers(result.project_dir)
    assert {key: recorded[key] for key in EXISTING_NETWORK} == EXISTING_NETWORK
    result = copie.copy(extra_answers={"target": "ecs_fargate"}, template_dir=template_dir)
    recorded = recorded_answers(result.project_dir)
    assert recorded["network"] == "create" and not {"vpc_id", "public_subnet_ids", "private_subnet_ids"} & set(recorded)
    result = copie.copy(extra_answers={"target": "lambda"}, template_dir=template_dir)
    assert "network" not in recorded_answers(result.project_dir), "a Lambda function runs outside any VPC"


@pytest.mark.parametrize(
    ("question", "low", "high", "extra"),
    [
        ("canary_percent", 1, 99, {"strategy": "canary"}),
        ("canary_minutes", 1, 2880, {"strategy": "canary"}),
        ("linear_percent", 1, 99, {"strategy": "linear"}),
        ("linear_minutes", 1, 2880, {"strategy": "linear", "linear_percent": 50}),  # one step: 2880 minutes in all
    ],
)
def test_numeric_answers_are_range_checked(copie, template_dir, question, low, high, extra):
    for value in (low - 1, high + 1):
        result = copie.copy(extra_answers={"target": "lambda", **extra, question: value}, template_dir=template_dir)
        assert result.exit_code != 0
        assert f"whole number from {low} to {high}" in str(result.exception)
    result = copie.copy(extra_answers={"target": "lambda", **extra, question: high}, template_dir=template_dir)
    assert result.exit_code == 0, result.exception


def test_a_key_alias_is_refused_as_a_secrets_key(copie, template_dir):
    value = "arn:aws:kms:eu-west-1:123456789012:alias/db"
    result = copie.copy(extra_answers={"secrets": "DB=secretsmanager:orders/db", "secrets_kms_keys": value}, template_dir=template_dir)
    assert result.exit_code != 0
    message = str(result.exception)
    assert "Validation error for question 'secrets_kms_keys'" in message and repr(value) in message and "key ARNs" in message


@pytest.mark.parametrize(
    ("question", "value", "extra"),
    [
        ("service_name", "orders-api-v2", {}),
        ("repository", "my-group/platform/orders", {"source_provider": "gitlab"}),
        ("repository", "orders", {"source_provider": "codecommit"}),
        ("branch", "release/2026.11", {}),
        ("aws_region", "us-gov-west-1", {"architecture": "x86_64"}),
        ("notification_email", "team+deploys@example.co.uk", {}),
        ("secrets", "DB_PASSWORD=secretsmanager:orders/db,API_KEY=ssm:/orders/api-key", {}),
        ("secrets", "DB_PASSWORD=secretsmanager:{env}/db,API_KEY=ssm:/{env}/api-key", {}),
        ("build_secrets", "NPM_TOKEN=secretsmanager:ci/npm-token", {}),
        ("secrets_kms_keys", "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
         {"secrets": "DB_PASSWORD=secretsmanager:orders/db"}),
    ],
)
def test_good_answers_are_accepted(copie, template_dir, question, value, extra):
    result = copie.copy(extra_answers={**extra, question: value}, template_dir=template_dir)
    assert result.exit_code == 0, result.exception
    assert recorded_answers(result.project_dir)[question] == value


@pytest.mark.parametrize(
    ("answers", "accepted", "words"),
    [
        ({"strategy": "canary", "ecs_controller": "ecs", "canary_percent": 12.5}, True, ""),
        ({"strategy": "canary", "ecs_controller": "codedeploy", "canary_percent": 12.5}, False, "limit of CodeDeploy"),
        ({"strategy": "canary", "ecs_controller": "ecs", "canary_percent": 12.55}, False, "steps of 0.1"),
        ({"strategy": "canary", "ecs_controller": "ecs", "canary_minutes": 0}, True, ""),
        ({"strategy": "canary", "ecs_controller": "codedeploy", "canary_minutes": 0}, False, "whole number from 1 to 2880"),
        ({"strategy": "linear", "ecs_controller": "ecs", "linear_percent": 2}, False, "limit of Amazon ECS native"),
        ({"strategy": "linear", "ecs_controller": "codedeploy", "linear_percent": 2}, True, ""),
        ({"strategy": "linear", "ecs_controller": "ecs", "linear_minutes": 1441}, False, "from 0 to 1440"),
        ({"strategy": "blue_green", "ecs_controller": "ecs", "bake_minutes": 1441}, False, "from 0 to 1440"),
        ({"strategy": "blue_green", "ecs_controller": "ecs", "bake_minutes": 1440}, True, ""),
    ],
)
def test_strategy_details_use_the_limits_of_the_chosen_ecs_controller(copie, template_dir, answers, accepted, words):
    result = copie.copy(extra_answers={"target": "ecs_fargate", **answers}, template_dir=template_dir)
    if accepted:
        assert result.exit_code == 0, result.exception
    else:
        assert result.exit_code != 0
        assert words in str(result.exception)


@pytest.mark.parametrize(
    ("answers", "accepted"),
    [
        # The service stack's CloudFormation update runs the rollout; its action may take 3 days, so the
        # 60-minute limit of CodePipeline's ECS deploy action does not apply (a 90-minute canary is fine).
        ({"strategy": "canary", "canary_minutes": 90, "bake_minutes": 60}, True),
        ({"strategy": "canary", "canary_minutes": 1440, "bake_minutes": 540}, True),
        ({"strategy": "canary", "canary_minutes": 1440, "bake_minutes": 541}, False),
        ({"strategy": "linear", "linear_percent": 10, "linear_minutes": 220, "bake_minutes": 0}, True),  # 9 steps
        ({"strategy": "linear", "linear_percent": 10, "linear_minutes": 221, "bake_minutes": 0}, False),
        ({"strategy": "linear", "linear_percent": 11, "linear_minutes": 220, "bake_minutes": 0}, True),  # floor(100 / 11)
        ({"strategy": "blue_green", "bake_minutes": 1440}, True),
    ],
)
def test_an_ecs_native_rollout_stays_within_what_cloudformation_accepts(copie, template_dir, answers, accepted):
    """CloudFormation refuses an ECS canary or linear rollout whose bake times add up to more than 33 hours."""
    result = copie.copy(extra_answers={"target": "ecs_fargate", "ecs_controller": "ecs", **answers}, template_dir=template_dir)
    if accepted:
        assert result.exit_code == 0, result.exception
        return
    message = str(result.exception)
    assert "Validation error for question 'bake_minutes'" in message
    assert "CloudFormation" in message and f"more than {catalog.ECS_CLOUDFORMATION_MAX_ROLLOUT_MINUTES} minutes" in message


def test_ecs_controller_is_asked_only_for_traffic_shifting_on_ecs(copie, template_dir):
    for answers, asked in [
        ({"target": "ecs_fargate", "strategy": "canary"}, True),
        ({"target": "ecs_fargate", "strategy": "rolling"}, False),
        ({"target": "lambda", "strategy": "canary"}, False),
    ]:
        result = copie.copy(extra_answers=answers, template_dir=template_dir)
        assert result.exit_code == 0, result.exception
        assert ("ecs_controller" in recorded_answers(result.project_dir)) is asked, answers


@pytest.mark.parametrize(
    ("percent", "minutes", "accepted"),
    [(10, 320, True), (10, 321, False), (1, 29, True), (1, 30, False), (50, 2880, True)],
)
def test_a_codedeploy_linear_rollout_finishes_within_two_days(copie, template_dir, percent, minutes, accepted):
    result = copie.copy(
        extra_answers={"target": "lambda", "strategy": "linear", "linear_percent": percent, "linear_minutes": minutes},
        template_dir=template_dir,
    )
    if accepted:
        assert result.exit_code == 0, result.exception
    else:
        assert "keep the whole rollout within 2880 minutes" in str(result.exception)


# The strategy details, each with the answers that make Copier ask it.
STRATEGY_DETAILS = {
    "canary_percent": {"target": "lambda", "strategy": "canary"},
    "canary_minutes": {"target": "lambda", "strategy": "canary"},
    "linear_percent": {"target": "lambda", "strategy": "linear"},
    "linear_minutes": {"target": "lambda", "strategy": "linear"},
    "bake_minutes": {"target": "ecs_fargate", "strategy": "blue_green", "ecs_controller": "ecs"},
}


@pytest.mark.parametrize("question", STRATEGY_DETAILS)
def test_a_strategy_detail_that_is_no_number_names_its_question(copie, template_dir, question):
    result = copie.copy(extra_answers={**STRATEGY_DETAILS[question], question: "abc"}, template_dir=template_dir)
    assert result.exit_code != 0
    message = str(result.exception)
    assert f"Validation error for question '{question}'" in message and "'abc'" in message
    assert "whole number" in message


@pytest.mark.parametrize("value", ["abc", ""])
def test_the_command_line_names_the_question_for_a_bad_or_empty_number(tmp_path, value):
    copier = Path(sys.executable).parent / "copier"
    proc = subprocess.run(
        [str(copier), "copy", "--trust", "--defaults", "--vcs-ref", "HEAD", "-d", "target=lambda", "-d", "strategy=canary",
         "-d", f"canary_percent={value}", str(ROOT), str(tmp_path / "svc")],
        capture_output=True, text=True,
    )
    assert proc.returncode != 0
    assert f"Validation error for question 'canary_percent': {value!r} is not a valid canary_percent" in proc.stderr
    assert "could not convert" not in proc.stderr, "no bare cast error: the same message as every other validator"
    assert not (tmp_path / "svc" / "infra").exists(), "nothing rendered"


def test_typed_whole_numbers_are_stored_as_integers(copie, template_dir):
    result = copie.copy(extra_answers={"target": "lambda", "strategy": "canary", "canary_percent": "20", "canary_minutes": "15"},
                        template_dir=template_dir)
    assert result.exit_code == 0, result.exception
    recorded = (result.project_dir / ".copier-answers.yml").read_text()
    assert "canary_percent: 20\n" in recorded and "canary_minutes: 15\n" in recorded


@pytest.mark.parametrize("value", [None, "", "abc", True, "nan", "inf", "1e400", [10]])
def test_check_range_refuses_what_is_no_number(value):
    assert "is not a valid canary_percent" in answer_rules.check_range("canary_percent", value, 1, 99)


@pytest.mark.parametrize(("value", "step"), [(20, 1), ("20", 1), (20.0, 1), (" 7 ", 1), (2.5, 0.1), ("0.1", 0.1)])
def test_check_range_accepts_numbers_typed_or_as_text(value, step):
    assert answer_rules.check_range("canary_percent", value, 0.1, 99, step) == ""


def test_each_environment_says_whether_an_approval_comes_before_it():
    """Environments are data: the pipeline loops over them and reads env.approval."""
    names = answer_rules.derived_names("orders", True, True)
    assert [(env["key"], env["approval"]) for env in names["environments"]] == [("staging", False), ("prod", True)]
    assert not any(env["approval"] for env in answer_rules.derived_names("orders", True, False)["environments"])
    assert [env["approval"] for env in answer_rules.derived_names("orders", False, True)["environments"]] == [True]


def test_the_region_table_is_botocores():
    """catalog.REGIONS lists every partition and region botocore's endpoints data knows, and no other:
    a new region fails this test until the table (and its date) is brought up to date."""
    from botocore.loaders import Loader

    partitions = {partition["partition"]: partition for partition in Loader().load_data("endpoints")["partitions"]}
    assert {name: set(partition["regions"]) for name, partition in catalog.REGIONS.items()} == \
        {name: set(partition["regions"]) for name, partition in partitions.items()}
    served = [name for name, partition in catalog.REGIONS.items() if "refused" not in partition]
    assert served == ["aws", "aws-us-gov"]
    assert all(catalog.REGIONS[name]["url_suffix"] == partitions[name]["dnsSuffix"] for name in served)
    # Every base image the builds pull comes from the registry each served partition's builds can reach.
    images = {image for row in catalog.RUNTIMES.values() for version in row["versions"].values()
              for key, image in version.items() if key.endswith("_image")}
    assert len(images) >= 8
    for name in served:
        assert all(image.startswith(catalog.REGIONS[name]["base_image_registry"] + "/") for image in images), name


def test_the_regions_lacking_a_resource_type_are_cfn_lints():
    """catalog.REGIONS_LACKING names, for each resource type the stacks need, exactly the regions (of the
    partitions the template deploys to) whose CloudFormation schema cfn-lint ships has no such type."""
    import cfnlint

    providers = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
    served = [region for partition in catalog.REGIONS.values() if "refused" not in partition for region in partition["regions"]
              if (providers / f"{region}.json").is_file()]  # cfn-lint ships no schema of some (me-south-1)
    assert len(served) >= 30
    types = {region: set(json.loads((providers / f"{region}.json").read_text())) for region in served}
    for resource_type, regions in catalog.REGIONS_LACKING.items():
        if resource_type.startswith("AWS::"):
            assert set(regions) == {region for region in served if resource_type not in types[region]}, resource_type
    # One CodePipeline schema everywhere: V2 pipelines (PipelineType) wherever there is CodePipeline.
    pipeline_schemas = {json.loads((providers / f"{region}.json").read_text())["AWS::CodePipeline::Pipeline"] for region in served}
    assert len(pipeline_schemas) == 1


@pytest.mark.parametrize(
    ("answers", "question", "words"),
    [
        ({"target": "lambda", "architecture": "x86_64", "aws_region": "ap-south-2"}, "aws_region", "Lambda function URL"),
        ({"aws_region": "eu-south-2", "source_provider": "github"}, "source_provider", "CodeConnections is not in eu-south-2"),
    ],
)
def test_what_a_region_lacks_is_refused_with_the_question_and_the_reason(copie, template_dir, answers, question, words):
    result = copie.copy(extra_answers=answers, template_dir=template_dir)
    assert result.exit_code != 0, f"{answers} was accepted"
    message = str(result.exception)
    named = (f"Validation error for question '{question}'", f"Invalid choice for '{question}'")
    assert any(prefix in message for prefix in named) and words in message, message


def test_a_region_without_codeconnections_defaults_to_an_s3_source(copie, template_dir):
    result = copie.copy(extra_answers={"aws_region": "eu-south-2", "source_bucket": "orders-source"}, template_dir=template_dir)
    assert result.exit_code == 0, result.exception
    assert recorded_answers(result.project_dir)["source_provider"] == "s3"


def test_a_secret_name_is_checked_as_each_environment_names_it(copie, template_dir):
    """'db-{env}' of the service 'orders' is 'db-orders' in production: its '-orders' reads as an ARN's suffix."""
    answers = {"service_name": "orders", "staging": True, "secrets": "DB=secretsmanager:db-{env}"}
    result = copie.copy(extra_answers=answers, template_dir=template_dir)
    assert result.exit_code != 0
    assert "'db-orders' ends in a hyphen and six characters" in str(result.exception)
    result = copie.copy(extra_answers={**answers, "service_name": "payments"}, template_dir=template_dir)
    assert result.exit_code == 0, result.exception
