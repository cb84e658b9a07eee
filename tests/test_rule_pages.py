"""Every registered rule has its page in rules/, in the format `losslint explain` prints, and
for implemented static rules the page's Bad example produces the rule and its Fixed example
produces no finding at all."""

from __future__ import annotations

import re

import pytest

from conftest import RULES_DIR
from losslint import registry
from losslint.config import Config
from losslint.static.linter import lint_source

RULES = registry.ALL_RULES
_PYTHON_BLOCK = re.compile(r"^```python\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)


def example(rule, section: str) -> str:
    """The first python block of the page's `## Bad` or `## Fixed` section."""
    page = (RULES_DIR / rule.page_name).read_text(encoding="utf-8")
    for part in page.split("\n## ")[1:]:
        heading, _, body = part.partition("\n")
        if heading.strip() == section:
            block = _PYTHON_BLOCK.search(body)
            assert block, f"{rule.page_name}: `## {section}` has no python block"
            return block["code"]
    raise AssertionError(f"{rule.page_name} has no `## {section}` section")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_page_exists_with_the_registry_metadata(rule) -> None:
    path = RULES_DIR / rule.page_name
    assert path.is_file(), f"missing page {path.name}"
    page = path.read_text(encoding="utf-8")
    assert page.startswith(f"# {rule.code} {rule.name}\n")
    passes = ", ".join(p.value for p in rule.passes)
    assert f"| {rule.code} | {rule.name} | {rule.severity.value} | {passes} | {rule.status} |" in page
    for section in ("## What it detects", "## Why it matters", "## Bad", "## Fixed", "## How to suppress"):
        assert section in page, f"{path.name} lacks {section}"


def test_index_lists_every_rule_with_its_status() -> None:
    index = (RULES_DIR / "README.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"| [{rule.code}]({rule.page_name}) | {rule.name} | {rule.severity.value} |" in index
        row = next(line for line in index.splitlines() if line.startswith(f"| [{rule.code}]"))
        assert f"| {rule.status} |" in row, row


def test_no_page_without_a_rule() -> None:
    pages = {p.name for p in RULES_DIR.glob("LL*.md")}
    assert pages == {rule.page_name for rule in RULES}


STATIC = [rule for rule in RULES if rule.static_implemented]


@pytest.mark.parametrize("rule", STATIC, ids=lambda r: r.code)
def test_bad_example_produces_the_rule(rule) -> None:
    config = Config(select=("ALL",))
    report = lint_source("example.py", example(rule, "Bad"), config)
    assert rule.code in {f.code for f in report.findings}, report.findings


@pytest.mark.parametrize("rule", STATIC, ids=lambda r: r.code)
def test_fixed_example_is_clean(rule) -> None:
    config = Config(select=("ALL",))
    report = lint_source("example.py", example(rule, "Fixed"), config)
    assert report.findings == [] and report.errors == []
