"""Validate rendered buildspec / AppSpec files against the JSON Schemas in tests/schemas/.

    schema_for(path)     -> the schema (dict) for that file name, or None if no schema applies
    validate_file(path)  -> list of human-readable errors, each starting with its JSON path

File name -> schema:
    buildspec*.yml / buildspec*.yaml  -> buildspec.schema.json     (CodeBuild)
    appspec.yml                       -> appspec-ec2.schema.json   (CodeDeploy EC2/On-Premises)
    appspec.yaml                      -> appspec-ecs.schema.json   (CodeDeploy Amazon ECS)
    appspec*lambda*.yml / .yaml       -> appspec-lambda.schema.json (CodeDeploy AWS Lambda)

The files are read with yaml.safe_load (YAML 1.1), as CodeBuild/CodeDeploy users
write them: unquoted yes/no become booleans, 0.2 becomes a float; the schemas allow for that.
"""

from __future__ import annotations

import fnmatch
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

KINDS = ("buildspec", "appspec-ec2", "appspec-ecs", "appspec-lambda")

# First match wins; patterns are matched against the lower-cased file name.
_NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    ("buildspec*.yml", "buildspec"),
    ("buildspec*.yaml", "buildspec"),
    ("appspec*lambda*.yml", "appspec-lambda"),
    ("appspec*lambda*.yaml", "appspec-lambda"),
    ("appspec.yml", "appspec-ec2"),
    ("appspec.yaml", "appspec-ecs"),
)

# Documented in "AppSpec 'hooks' section" (EC2/On-Premises): 3600 s is the most all the
# scripts of one lifecycle event may take together; a schema cannot add numbers up.
EC2_EVENT_TIMEOUT_LIMIT = 3600


def kind_for(path: str | Path) -> str | None:
    """Which schema a file name calls for: one of KINDS, or None."""
    name = Path(path).name.lower()
    for pattern, kind in _NAME_PATTERNS:
        if fnmatch.fnmatchcase(name, pattern):
            return kind
    return None


@cache
def load_schema(kind: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"unknown schema kind {kind!r}; expected one of {KINDS}")
    return json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))


@cache
def _validator(kind: str) -> Draft202012Validator:
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_for(path: str | Path) -> dict[str, Any] | None:
    """The JSON Schema for this file name, or None when none applies."""
    kind = kind_for(path)
    return load_schema(kind) if kind else None


def json_path(parts) -> str:
    """('phases', 'build', 'commands', 0) -> $.phases.build.commands[0]"""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.replace("_", "a").replace("-", "a").isalnum():
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _message(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "not" and schema.get("description"):
        # A `not` schema's own message only repeats the schema; its description says why.
        what = f"{error.instance!r} is not allowed" if isinstance(error.instance, (str, int, float)) else "not allowed"
        return f"{what}: {schema['description']}"
    if error.validator == "pattern" and schema.get("description"):
        # The raw regular expression helps nobody; the description gives the documented form.
        return f"{error.instance!r} does not match the documented form: {schema['description']}"
    if error.validator in ("anyOf", "oneOf") and error.context:
        # Prefer the branch of the right type: its error says what is wrong with the value.
        same_type = [sub for sub in error.context if sub.validator != "type"] or list(error.context)
        return f"{error.instance!r} is not valid: {_message(best_match(same_type))}"
    return error.message


def format_error(error: ValidationError) -> str:
    path = list(error.absolute_path)
    # Errors on a mapping's keys (propertyNames) are reported against the key itself.
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        path.append(error.instance)
    return f"{json_path(path)}: {_message(error)}"


def _extra_checks(kind: str, document: Any) -> list[str]:
    """Documented rules a JSON Schema cannot state."""
    errors: list[str] = []
    if kind == "appspec-ec2" and isinstance(document, dict) and isinstance(document.get("hooks"), dict):
        for event, scripts in document["hooks"].items():
            if not isinstance(scripts, list) or len(scripts) < 2:
                continue  # a single script over the limit is already reported by the schema
            total = sum(
                script["timeout"]
                for script in scripts
                if isinstance(script, dict) and isinstance(script.get("timeout"), int) and not isinstance(script.get("timeout"), bool)
            )
            if total > EC2_EVENT_TIMEOUT_LIMIT:
                errors.append(
                    f"{json_path(['hooks', event])}: the timeouts of this event's scripts add up to {total} s,"
                    f" more than the {EC2_EVENT_TIMEOUT_LIMIT} s one lifecycle event may take"
                )
    return errors


def validate_document(document: Any, kind: str) -> list[str]:
    """Validate an already-parsed document against the schema of `kind`."""
    validator = _validator(kind)
    errors = sorted(validator.iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [format_error(error) for error in errors] + _extra_checks(kind, document)


def validate_text(text: str, kind: str) -> list[str]:
    """Parse YAML text (yaml.safe_load) and validate it against the schema of `kind`."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [f"$: not valid YAML: {exc}"]
    if document is None:
        return ["$: the file is empty"]
    return validate_document(document, kind)


def validate_file(path: str | Path, kind: str | None = None) -> list[str]:
    """Errors of one rendered file against the schema its name calls for ([] when valid).

    `kind` (one of KINDS) overrides the choice by file name.
    """
    path = Path(path)
    kind = kind or kind_for(path)
    if kind is None:
        raise ValueError(f"no schema applies to {path.name!r} (expected buildspec*.yml, appspec.yml or appspec.yaml)")
    return validate_text(path.read_text(encoding="utf-8"), kind)
