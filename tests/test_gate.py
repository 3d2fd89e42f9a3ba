"""The validation gate over every rendered combination: each tool runs once over all renders."""

from __future__ import annotations

from helpers import recorded_answers, report, strategy_combinations
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
