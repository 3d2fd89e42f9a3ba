"""Drive the real `copier copy` in a pseudo-terminal, the way a person answers it."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pexpect
import pytest

from helpers import catalog, recorded_answers

DOWN = "\x1b[B"
BACKSPACE = "\x7f"
def _copier() -> str:
    beside = Path(sys.executable).parent / "copier"
    return str(beside) if beside.exists() else shutil.which("copier")


def _clear(child: pexpect.spawn) -> None:
    """Erase whatever the prompt holds (a default or an earlier attempt)."""
    child.send(BACKSPACE * 40)


@pytest.fixture
def session(template_dir, tmp_path):
    env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "NO_COLOR": "1"}
    child = pexpect.spawn(
        _copier(), ["copy", "--trust", str(template_dir), str(tmp_path / "orders")],
        encoding="utf-8", dimensions=(60, 300), env=env, timeout=20,
    )
    yield child, tmp_path / "orders"
    child.close(force=True)


def test_a_person_answers_meets_a_validator_and_a_disabled_choice(session):
    child, destination = session

    child.expect("Service name")
    _clear(child)  # the default comes from the destination folder's name
    child.sendline("Orders API")
    child.expect("is not a valid service_name: use 3-20 lowercase letters")
    _clear(child)
    child.sendline("orders")

    child.expect("One line that says what the service does")
    child.sendline("")

    child.expect("Language of the sample app")
    child.expect(re.escape(catalog.RUNTIMES["java"]["label"]))  # the menu shows the data table's labels
    child.send(DOWN)  # Node.js -> Python
    child.sendline("")

    child.expect("Language version")
    child.sendline("")  # newest first
    child.expect("CPU architecture")
    child.expect(re.escape(catalog.ARCHITECTURES["arm64"]["label"]))
    child.sendline("")

    child.expect("Where the service runs")
    child.send(DOWN + DOWN)  # ECS Fargate -> EC2 -> Lambda
    child.sendline("")

    # Strategies Lambda cannot do stay on the menu, disabled, with the reason shown.
    child.expect("How a new version replaces the old one")
    child.expect(catalog.STRATEGIES["in_place"]["why_not"])
    child.expect(catalog.STRATEGIES["rolling"]["why_not"])
    child.sendline("")  # Lambda's default: canary

    child.expect("Canary: percent of traffic")
    _clear(child)
    child.sendline("150")
    child.expect("whole number from 1 to 99")
    _clear(child)
    child.sendline("25")

    # Everything else: take the defaults until Copier finishes.
    for _ in range(40):
        if child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=1) == 0:
            break
        child.send("\r")
    else:
        pytest.fail("copier did not finish")
    child.close()
    assert child.exitstatus == 0, child.before

    answers = recorded_answers(destination)
    assert answers["service_name"] == "orders"
    assert (answers["runtime"], answers["target"], answers["strategy"]) == ("python", "lambda", "canary")
    assert answers["runtime_version"] == catalog.runtime_versions("python")[0]
    assert answers["canary_percent"] == 25
    assert "ec2_batch" not in answers
    assert "25%" in (destination / "README.md").read_text()
