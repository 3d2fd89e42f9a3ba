"""extensions/compile_cache.py: compiled templates are reused only where nothing that
shapes them changed (the template version included)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from jinja2 import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment

from helpers import ROOT, copy_template, render

spec = importlib.util.spec_from_file_location("compile_cache_under_test", ROOT / "extensions" / "compile_cache.py")
compile_cache = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compile_cache)


def template_root(tmp_path: Path) -> Path:
    root = tmp_path / "template"
    (root / "extensions").mkdir(parents=True)
    (root / "copier.yml").write_text("_subdirectory: template\n")
    (root / "extensions" / "rules.py").write_text("LIMIT = 1\n")
    return root


def environment(root: Path, **settings) -> SandboxedEnvironment:
    return SandboxedEnvironment(loader=FileSystemLoader(str(root)), **settings)


def test_the_fingerprint_is_the_same_for_the_same_template_and_settings(tmp_path):
    root = template_root(tmp_path)
    assert compile_cache.environment_fingerprint(environment(root), root) == \
        compile_cache.environment_fingerprint(environment(root), root)


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "extensions" / "rules.py").write_text("LIMIT = 2\n"),
        lambda root: (root / "extensions" / "more.py").write_text("X = 1\n"),
        lambda root: (root / "copier.yml").write_text("_subdirectory: template\n_envops: {}\n"),
    ],
    ids=["an extension changes", "an extension is added", "copier.yml changes"],
)
def test_a_new_template_version_gets_a_new_fingerprint(tmp_path, change):
    root = template_root(tmp_path)
    before = compile_cache.environment_fingerprint(environment(root), root)
    change(root)
    assert compile_cache.environment_fingerprint(environment(root), root) != before


@pytest.mark.parametrize("settings", [{"trim_blocks": True}, {"block_start_string": "[%"}, {"keep_trailing_newline": True}])
def test_settings_that_change_compiled_code_change_the_fingerprint(tmp_path, settings):
    root = template_root(tmp_path)
    assert compile_cache.environment_fingerprint(environment(root, **settings), root) != \
        compile_cache.environment_fingerprint(environment(root), root)


def test_the_key_ignores_the_clone_path_but_not_the_name(tmp_path):
    root = template_root(tmp_path)
    cache = compile_cache.VersionedBytecodeCache(environment(root), root)
    assert cache.get_cache_key("a.jinja", "/tmp/clone1/a.jinja") == cache.get_cache_key("a.jinja", "/tmp/clone2/a.jinja")
    assert cache.get_cache_key("a.jinja") != cache.get_cache_key("b.jinja")


def test_a_changed_partial_at_the_same_path_is_rendered_anew(tmp_path):
    """Same template folder, same file name, new source: the cache must not serve the old code."""
    template = copy_template(tmp_path / "template")
    first = render(template, tmp_path / "one", service_name="orders")
    assert "## Run it locally" in (first / "README.md").read_text()

    readme = template / "template" / "README.md.jinja"
    readme.write_text(readme.read_text().replace("## Run it locally", "## Run it on your machine"))
    second = render(template, tmp_path / "two", service_name="orders")

    assert "## Run it on your machine" in (second / "README.md").read_text()


def test_a_changed_data_table_at_the_same_path_reaches_the_render(tmp_path):
    template = copy_template(tmp_path / "template")
    assert "/root/.npm/**/*" in (render(template, tmp_path / "one", runtime="nodejs") / "buildspec.yml").read_text()
    catalog = template / "extensions" / "catalog.py"
    catalog.write_text(catalog.read_text().replace('"cache_paths": ["/root/.npm/**/*"]', '"cache_paths": ["/root/.npm/_cacache/**/*"]'))
    assert "/root/.npm/_cacache/**/*" in (render(template, tmp_path / "two", runtime="nodejs") / "buildspec.yml").read_text()
