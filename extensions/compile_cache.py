"""A compiled-template cache that is keyed by everything that shapes the compiled code.

It serves the template's files and the strings Copier renders (paths, questions, defaults).

Copier clones a git template into a new temporary folder for every render, so Jinja's own
file cache (keyed by the file's path) never hits and only leaves files behind. This one is
keyed by the template's name, the Jinja environment's settings and extensions, the tool
versions and this template version's own `copier.yml` and `extensions/` sources; Jinja
itself then checks each entry against the template's source checksum and its bytecode
format. A changed template, extension, setting or tool therefore never reads an old entry.
"""

from __future__ import annotations

import hashlib
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from jinja2 import FileSystemBytecodeCache
from jinja2.ext import Extension

# Environment settings that change what a template source compiles to.
_SETTINGS = (
    "block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
    "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
    "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline", "autoescape",
    "optimized", "finalize", "undefined", "enable_async", "intercepted_binops", "intercepted_unops",
)
_TOOLS = ("jinja2", "copier", "copier-template-extensions", "jinja2-ansible-filters")


class CompiledTemplateCache(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        if environment.bytecode_cache is None:
            environment.bytecode_cache = VersionedBytecodeCache(environment, Path(environment.loader.searchpath[0]))
            environment.from_string = _compile_strings_once(environment, environment.from_string)


def _compile_strings_once(environment, from_string):
    """Copier compiles every file name, question string and default it renders, most of them
    many times over; compile each source once per render, and keep its code in the cache."""
    compiled: dict[str, Any] = {}
    cache = environment.bytecode_cache

    def cached(source, globals=None, template_class=None):
        if globals is not None or template_class is not None or not isinstance(source, str):
            return from_string(source, globals, template_class)
        if source not in compiled:
            bucket = cache.get_bucket(environment, "<string>", None, source)
            if bucket.code is None:
                bucket.code = environment.compile(source)
                cache.set_bucket(bucket)
            compiled[source] = environment.template_class.from_code(environment, bucket.code, environment.make_globals(None))
        return compiled[source]

    return cached


class VersionedBytecodeCache(FileSystemBytecodeCache):
    def __init__(self, environment, template_root: Path):
        super().__init__(pattern="__copier_codepipeline_%s.cache")
        self._environment = environment
        self._root = template_root
        self._fingerprint: str | None = None

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        # The path is left out on purpose: it changes with every clone. Compiled code
        # keeps it only for tracebacks.
        return hashlib.sha256(f"{self.fingerprint()}|{name}".encode()).hexdigest()

    def get_bucket(self, environment, name, filename, source):
        # A string template has no name of its own: its source names it.
        if name == "<string>":
            name = "<string>" + hashlib.sha256(source.encode()).hexdigest()
        return super().get_bucket(environment, name, filename, source)

    def fingerprint(self) -> str:
        # Computed on first use, when every extension of the environment is loaded.
        if self._fingerprint is None:
            self._fingerprint = environment_fingerprint(self._environment, self._root)
        return self._fingerprint


def environment_fingerprint(environment, template_root: Path) -> str:
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    for tool in _TOOLS:
        digest.update(f"|{tool}={_version(tool)}".encode())
    for kind in (type(environment), environment.code_generator_class):
        digest.update(f"|{kind.__module__}.{kind.__qualname__}".encode())
    for setting in _SETTINGS:
        digest.update(f"|{setting}={_describe(getattr(environment, setting, None))}".encode())
    for extension in sorted(environment.extensions):
        digest.update(f"|{extension}".encode())
    for source in [template_root / "copier.yml", *sorted((template_root / "extensions").glob("*.py"))]:
        digest.update(b"|" + source.name.encode() + b"=" + source.read_bytes())
    return digest.hexdigest()


def _describe(value: Any) -> str:
    """A setting as text that is the same in every process (a function by its name, not its address)."""
    if callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__qualname__)}"
    return repr(value)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"
