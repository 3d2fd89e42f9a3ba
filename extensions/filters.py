"""Escaping filters: every value that came from an answer reaches YAML, JSON, TOML or a shell
through one of them (`yaml_str`, `json_str`, `shell_quote`)."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from jinja2.ext import Extension


def yaml_str(value: Any) -> str:
    """A double-quoted scalar that YAML reads back as exactly `value`.

    A JSON string is a YAML double-quoted scalar, except that YAML takes a character
    beyond U+FFFF as one \\UXXXXXXXX escape, not as a JSON surrogate pair.
    """
    return _SURROGATE_PAIR.sub(_astral_escape, json.dumps(str(value)))


_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def _astral_escape(match: re.Match) -> str:
    high, low = int(match[1], 16), int(match[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


def json_str(value: Any) -> str:
    """A JSON string literal of `value` (also a valid TOML basic string)."""
    return json.dumps(str(value))


def shell_quote(value: Any) -> str:
    return shlex.quote(str(value))


def shell_quote_env(value: Any, variable: str) -> str:
    """One shell word: `value` quoted, with each {env} token replaced by "${variable}"."""
    parts = str(value).split("{env}")
    return f'"${{{variable}}}"'.join(shlex.quote(part) if part else "" for part in parts)


class EscapingFilters(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.filters.update(yaml_str=yaml_str, json_str=json_str, shell_quote=shell_quote, shell_quote_env=shell_quote_env)
