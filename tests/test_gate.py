"""The validation gate over every rendered combination: each tool runs once over all renders."""

from __future__ import annotations

import re

import pytest

from helpers import load_cfn, recorded_answers, report, strategy_combinations


# Regions whose CloudFormation lacks something the default stacks use (catalog.REGIONS_LACKING), with the
# answers the questionnaire lets through there; cfn-lint checks each render against its own region.
REGION_SETS = {
    "govcloud-ecs": {"target": "ecs_fargate", "architecture": "x86_64", "aws_region": "us-gov-west-1",
                     "notification_email": "team@example.com", "manual_approval": True},
    "govcloud-ec2": {"target": "ec2", "architecture": "x86_64", "aws_region": "us-gov-east-1"},
    "eu-south-2-lambda": {"target": "lambda", "aws_region": "eu-south-2", "source_provider": "s3",
                          "source_bucket": "orders-source"},
    "ap-south-2-ec2": {"target": "ec2", "aws_region": "ap-south-2", "source_provider": "s3", "source_bucket": "orders-source"},
    "il-central-1-ecs": {"target": "ecs_fargate", "aws_region": "il-central-1", "source_provider": "codecommit",
                         "repository": "orders"},
}


def render_sets() -> dict[str, dict[str, object]]:
    """Beside the matrix (whose services create their network in us-east-1): answers whose Control Tower
    rows differ, and services in regions that lack what the defaults use."""
    return {"ec2-existing-network": {
        "service_name": "orders", "target": "ec2", "strategy": "in_place", "network": "existing",
        "vpc_id": "vpc-0123456789abcdef0", "public_subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "private_subnet_ids": "subnet-0123456789abcdef2,subnet-0123456789abcdef3"},
        **{name: {"service_name": "orders", **answers} for name, answers in REGION_SETS.items()}}


@pytest.mark.parametrize("case", sorted(REGION_SETS))
def test_every_stack_is_valid_in_the_region_it_deploys_to(renders, case):
    """cfn-lint with the answered region's schemas (the rendered .cfnlintrc names it, for the owner's own runs)."""
    import gate
    import yaml

    region = REGION_SETS[case]["aws_region"]
    settings = yaml.safe_load((renders[case] / ".cfnlintrc").read_text())
    assert settings == {"templates": ["infra/*.yml"], "regions": [region]}
    files = sorted((renders[case] / "infra").glob("*.yml"))
    assert len(files) >= 3
    findings = gate._cfn_lint(files, [region])
    assert not findings, report(findings)
    # Links into the console use the partition's console ("AWS GovCloud (US) console").
    url = load_cfn(renders[case] / "infra" / "pipeline.yml")["Outputs"]["PipelineConsoleUrl"]["Value"]["Fn::Sub"]
    host = "console.amazonaws-us-gov.com" if region.startswith("us-gov-") else "${AWS::Region}.console.aws.amazon.com"
    assert url.startswith(f"https://{host}/codesuite/"), url
def test_the_gate_runs_each_tool_once_over_every_render(gate_run, suite_renders):
    assert sorted(gate_run.renders) == sorted(suite_renders.values())
    cfn_files, _ = gate_run.results["cfn-lint"]
    assert {path.parent.parent for path in cfn_files} == set(suite_renders.values()), "one cfn-lint run covers every render"


def test_matrix_renders_every_combination(matrix_renders):
    assert len(matrix_renders) == len(strategy_combinations())
    for render_dir in matrix_renders:
        assert (render_dir / ".copier-answers.yml").is_file(), render_dir


def test_cfn_lint_finds_nothing(gate_run, matrix_renders):
    files, findings = gate_run.within("cfn-lint", matrix_renders)
    # Every render has at least its pipeline stack.
    assert len(files) >= len(matrix_renders)
    assert not findings, report(findings)


def test_checkov_finds_nothing(gate_run, matrix_renders):
    checked, failures = gate_run.within("checkov", matrix_renders)
    assert len(checked) > 0, "checkov checked no CloudFormation resources"
    assert not failures, report(failures)


def test_shellcheck_finds_nothing(gate_run, matrix_renders):
    scripts, findings = gate_run.within("shellcheck", matrix_renders)
    assert not findings, report(findings)


def test_yamllint_finds_nothing(gate_run, matrix_renders):
    files, findings = gate_run.within("yamllint", matrix_renders)
    # .copier-answers.yml, .pre-commit-config.yaml, .yamllint-free YAML and buildspec.yml at least.
    assert len(files) >= 3 * len(matrix_renders)
    assert not findings, report(findings)


def test_buildspec_and_appspec_match_their_schemas(gate_run, matrix_renders):
    files, findings = gate_run.within("schemas", matrix_renders)
    assert sum(path.name == "buildspec.yml" for path in files) == len(matrix_renders)
    assert not findings, report(findings)


def test_readme_runs_the_app_locally_with_the_data_tables_commands(matrix_renders):
    """"Run it locally" is the catalog's install, test, build (where the start command needs it)
    and start commands, in that order: nothing typed into the README by hand."""
    import re


    from helpers import catalog

    for render in matrix_renders:
        answers = recorded_answers(render)
        row = catalog.runtime_row(answers["runtime"], str(answers["runtime_version"]))
        section = (render / "README.md").read_text().split("## Run it locally", 1)[1]
        block = re.search(r"```sh\n(.*?)```", section, re.S)[1].splitlines()
        expected = [*row["install_commands"], *row["test_commands"], *(row["build_commands"] if row["start_needs_build"] else [])]
        assert block[: len(expected)] == expected, render.name
        assert block[len(expected)].endswith(row["start_command"]), render.name


# --------------------------------------------------------------------------- AWS Control Tower

# Issue 17: the only controls a stack may break (each needs something only the owner has, or
# what the control forbids), besides those the README marks "not yet". Issue 17 expected the stack
# to create log buckets for CT.S3.PR.2 and CT.ELASTICLOADBALANCING.PR.6; AWS's own rules make such
# a bucket break CT.S3.PR.10 (and PR.9): "Enabling Amazon S3 server access logging" (no Object Lock,
# SSE-S3 only) and "Enable access logs for your Application Load Balancer" (SSE-S3 only). The owner
# names one instead. CT.AUTOSCALING.PR.1: the deployed in-place group names the network stack's
# Availability Zones (a parameter the check cannot read), and an existing network's zones only the
# owner knows. CT.AUTOSCALING.PR.4: ELB health checks would replace the instances the stack starts,
# which have no release until the pipeline's first deployment, in a loop. CT.AUTOSCALING.PR.6: a second
# instance type must then encrypt traffic between instances (CT.AUTOSCALING.PR.11), which no burstable
# type does; such types cost twice as much and are not in every region, so the owner chooses them.
CONTROL_TOWER_EXCEPTIONS = {"CT.ELASTICLOADBALANCING.PR.1", "CT.ELASTICLOADBALANCING.PR.2", "CT.LAMBDA.PR.3",
                            "CT.CODEBUILD.PR.4", "CT.S3.PR.2", "CT.ELASTICLOADBALANCING.PR.6",
                            "CT.AUTOSCALING.PR.1", "CT.AUTOSCALING.PR.4", "CT.AUTOSCALING.PR.6"}


def control_tower_breach(finding: str) -> tuple[str, str]:
    """(control, resource) of a "<file>: CT.X.PR.N <resource>" finding."""
    control, resource = finding.rsplit(": ", 1)[1].split(" ", 1)
    return control, resource


def control_tower_breaches(findings: list[str]) -> set[tuple[str, str]]:
    return {control_tower_breach(finding) for finding in findings}


def test_control_tower_guard_rules_find_only_what_each_readme_lists(gate_run, matrix_renders, renders):
    """AWS Control Tower's proactive controls (its published Guard rules, run by cfn-guard) over
    every template of the matrix as deployed with its defaults (SAM expanded, conditions decided,
    as the controls' hooks see resolved properties): each render's
    findings are exactly the rows of its README's "Governed accounts" table (catalog.
    CONTROL_TOWER_FINDINGS), and every row is found somewhere (the table lists nothing stale)."""
    from helpers import catalog

    checked = [*matrix_renders, *renders.values()]
    files, findings = gate_run.within("control-tower", checked)
    assert len(files) >= 3 * len(checked), "every render has a pipeline, deploy-role and service stack"
    assert all(re.search(r": CT\.[A-Z0-9]+\.PR\.\d+ \S+$", finding) for finding in findings), report(findings)
    unlisted, found_rows = [], set()
    for render in checked:
        rows = catalog.control_tower_findings(recorded_answers(render))
        listed = {(row["control"], resource): index for index, row in enumerate(catalog.CONTROL_TOWER_FINDINGS)
                  if row in rows for resource in row["resources"]}
        for finding in findings:
            if finding.startswith(f"{render}/"):
                breach = control_tower_breach(finding)
                if breach in listed:
                    found_rows.add(listed[breach])
                else:
                    unlisted.append(finding)
        table = (render / "README.md").read_text().split("### Governed accounts", 1)[1].split("\n### ", 1)[0]
        assert [line.split(" | ")[0].lstrip("| ") for line in table.splitlines() if line.startswith("| CT.")] == \
            [row["control"] for row in rows], render.name
    assert not unlisted, report(unlisted)
    stale = [row for index, row in enumerate(catalog.CONTROL_TOWER_FINDINGS) if index not in found_rows]
    assert not stale, f"rows no finding needs (remove them): {stale}"


def test_control_tower_findings_left_to_the_owner_are_the_issues_exceptions():
    from helpers import catalog

    assert {row["control"] for row in catalog.CONTROL_TOWER_FINDINGS if row["status"] != "not yet"} <= CONTROL_TOWER_EXCEPTIONS
    assert all(row["status"] in ("owner", "deployed", "needed", "not yet") for row in catalog.CONTROL_TOWER_FINDINGS)


def test_control_tower_guard_finds_a_breach_it_is_shown(tmp_path):
    """The guard runner reports a rule's failure by control and resource (a check that cannot fail is no check)."""
    import gate

    infra = tmp_path / "svc" / "infra"
    infra.mkdir(parents=True)
    (infra / "stack.yml").write_text(
        "Resources:\n  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      RetentionInDays: 7\n")
    files, findings = gate.run_control_tower_guard([tmp_path / "svc"])
    assert files == [infra / "stack.yml"]
    assert control_tower_breaches(findings) == {("CT.CLOUDWATCH.PR.2", "Logs"), ("CT.CLOUDWATCH.PR.3", "Logs")}


def test_every_log_group_is_encrypted_by_a_key_that_lets_cloudwatch_logs_use_it_for_that_group(matrix_renders):
    """A log group whose KmsKeyId is a key of its stack fails to create unless the key policy lets
    CloudWatch Logs use the key with that group's ARN as encryption context."""
    checked = 0
    for render in matrix_renders:
        for path in sorted((render / "infra").glob("*.yml")):
            resources = load_cfn(path)["Resources"]
            for name, group in resources.items():
                if group["Type"] != "AWS::Logs::LogGroup":
                    continue
                key_id, attribute = group["Properties"]["KmsKeyId"]["Fn::GetAtt"]
                assert attribute == "Arn", (path, name)
                statements = resources[key_id]["Properties"]["KeyPolicy"]["Statement"]
                logs = [s for s in statements if s["Principal"].get("Service") in
                        ({"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}, "logs.amazonaws.com")]
                assert len(logs) == 1, (path, name)
                arns = logs[0]["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
                wanted = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:" + \
                    (group["Properties"]["LogGroupName"]["Fn::Sub"] if isinstance(group["Properties"]["LogGroupName"], dict)
                     else group["Properties"]["LogGroupName"])
                assert wanted in [arn["Fn::Sub"] if isinstance(arn, dict) else arn for arn in (arns if isinstance(arns, list) else [arns])], \
                    (path, name)
                checked += 1
    assert checked >= 3 * len(matrix_renders)


def test_a_finding_in_a_template_is_reported_for_every_copy_of_it(tmp_path):
    """The gate lints each distinct template once: a finding must still name every file with that content."""
    import gate

    broken = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      NoSuchProperty: 1\n"
    renders = [tmp_path / "a", tmp_path / "b"]
    for render in renders:
        (render / "infra").mkdir(parents=True)
        (render / "infra" / "stack.yml").write_text(broken)
    files, findings = gate.run_cfn_lint(renders)
    assert len(files) == 2
    assert sorted(finding.split(":", 1)[0] for finding in findings if ":E3002:" in finding) == \
        [str(render / "infra" / "stack.yml") for render in renders]


def test_the_guard_reads_a_template_as_deployed_with_its_defaults():
    """Conditions decided by the parameters' defaults: a Fn::If takes its branch, AWS::NoValue drops out, a
    resource whose condition is false is not there (a check of the raw template would see neither branch);
    a parameter with a default reads as that default, one without stays a reference."""
    import gate

    template = {
        "Parameters": {"Cert": {"Type": "String", "Default": ""}, "Subnets": {"Type": "CommaDelimitedList", "Default": ""},
                       "InstanceType": {"Type": "String", "Default": "t4g.small"}, "ImageId": {"Type": "String"}},
        "Conditions": {"HasCert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Cert"}, ""]}]},
                       "InVpc": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": [",", {"Ref": "Subnets"}]}, ""]}]}},
        "Resources": {
            "Https": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Condition": "HasCert", "Properties": {"Port": 443}},
            "Http": {"Type": "AWS::ElasticLoadBalancingV2::Listener",
                     "Properties": {"Port": {"Fn::If": ["HasCert", 443, 80]},
                                    "Certificates": {"Fn::If": ["HasCert", [{"CertificateArn": {"Ref": "Cert"}}], {"Ref": "AWS::NoValue"}]}}},
            "Function": {"Type": "AWS::Lambda::Function", "Properties": {"VpcConfig": {"Fn::If": ["InVpc", {"SubnetIds": {"Ref": "Subnets"}}, {"Ref": "AWS::NoValue"}]}}},
            "Template": {"Type": "AWS::EC2::LaunchTemplate",
                         "Properties": {"LaunchTemplateData": {"InstanceType": {"Ref": "InstanceType"}, "ImageId": {"Ref": "ImageId"}}}},
        },
    }
    deployed = gate.with_conditions_decided(template)
    assert deployed["Resources"] == {"Http": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {"Port": 80}},
                                     "Function": {"Type": "AWS::Lambda::Function", "Properties": {}},
                                     "Template": {"Type": "AWS::EC2::LaunchTemplate",
                                                  "Properties": {"LaunchTemplateData": {"InstanceType": "t4g.small",
                                                                                        "ImageId": {"Ref": "ImageId"}}}}}


def test_every_load_balancer_closes_idle_connections_before_the_app_does(matrix_renders):
    """Issue 21: the load balancer's idle timeout is set explicitly, below the sample app's, so that an
    idle keep-alive connection is never closed by the app first (a cause of intermittent 502s)."""
    from helpers import catalog

    assert catalog.LOAD_BALANCER_IDLE_TIMEOUT_SECONDS < catalog.APP_IDLE_TIMEOUT_SECONDS
    checked = 0
    for render in matrix_renders:
        if recorded_answers(render)["target"] == "lambda":
            continue
        balancer = load_cfn(render / "infra" / "service.yml")["Resources"]["LoadBalancer"]["Properties"]
        attributes = {item["Key"]: item["Value"] for item in balancer["LoadBalancerAttributes"] if isinstance(item, dict) and "Key" in item}
        assert attributes["idle_timeout.timeout_seconds"] == str(catalog.LOAD_BALANCER_IDLE_TIMEOUT_SECONDS), render.name
        assert attributes["deletion_protection.enabled"] == "true", render.name
        checked += 1
    assert checked >= 2
