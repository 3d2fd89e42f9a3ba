"""The template's shape (CONTRIBUTING.md, "The house"): partials included by their names, one
partial per kind of source with one interface, and no source branch outside those partials."""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment, nodes

from helpers import ROOT, catalog

TEMPLATE = ROOT / "template"
PARTIALS = TEMPLATE / "_partials"
SOURCE_MACROS = {
    "header", "parameters", "conditions", "resources", "permissions", "self_update_permissions", "action",
    "start", "outputs", "readme_node", "readme_step", "readme_change", "readme_new_change", "readme_protect",
}


def macros_of(path: Path) -> set[str]:
    return {node.name for node in Environment().parse(path.read_text()).find_all(nodes.Macro)}


def template_files() -> list[Path]:
    return [path for path in TEMPLATE.rglob("*") if path.is_file()]


def test_each_kind_of_source_has_one_partial_with_the_same_macros():
    partials = {path.name.split(".")[0]: path for path in (PARTIALS / "source").iterdir()}
    assert set(partials) == {row["kind"] for row in catalog.SOURCE_PROVIDERS.values()}
    for kind, path in partials.items():
        assert macros_of(path) == SOURCE_MACROS, kind


def test_only_the_import_chains_branch_on_the_source():
    """A fact or a sentence that differs by source lives in the source's partial or its row of
    SOURCE_PROVIDERS; other templates pick the partial once, at the top, and call it."""
    branch = re.compile(r"source_provider|source\.kind")
    chain = re.compile(r"\{%- (if|elif) source\.kind == '(\w+)' -%\}")
    for path in template_files():
        if PARTIALS / "source" in path.parents:
            continue
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if not branch.search(line):
                continue
            match = chain.fullmatch(line)
            assert match, f"{path.relative_to(ROOT)}:{number + 1} branches on the source: {line.strip()}"
            assert f"'template/_partials/source/{match[2]}.yml.jinja' as src with context" in lines[number + 1]


def test_every_partial_is_included_by_its_full_name():
    """No partial is picked by joining strings, and none exists that nothing includes."""
    named = set()
    for path in template_files():
        named |= set(re.findall(r"'template/_partials/([^']+)'", path.read_text()))
    assert named == {path.relative_to(PARTIALS).as_posix() for path in PARTIALS.rglob("*") if path.is_file()}
    assert all(path.stat().st_size > 0 for path in PARTIALS.rglob("*") if path.is_file())
