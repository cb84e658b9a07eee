"""Every `# expect: LLxxx` comment in a bad fixture is reported at its line, and nothing else;
good fixtures lint clean. Compared both ways against the CLI's JSON output."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from conftest import FIXTURES, ROOT

_EXPECT = re.compile(r"#\s*expect(?:-(?P<only>dynamic|static))?:\s*(?P<codes>LL\d{3}(?:\s*,\s*LL\d{3})*)")
FIXTURE_FILES = sorted(FIXTURES.rglob("*.py"))


def expected_findings(path, *, dynamic: bool = False) -> Counter:
    """(line, code) pairs from `# expect: ...` comments, plus `# expect-dynamic: ...` ones when
    the dynamic pass runs too; `# expect-static: ...` ones only when it does not (findings the
    dynamic pass measured away)."""
    expected: Counter = Counter()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for match in _EXPECT.finditer(line):
            if match["only"] == ("static" if dynamic else "dynamic"):
                continue
            for code in re.split(r"\s*,\s*", match["codes"]):
                expected[(number, code)] += 1
    return expected


def test_fixture_layout() -> None:
    """Folders are named after a registered rule and hold bad and good scripts."""
    from losslint import registry

    folders = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    assert folders
    for folder in folders:
        code, _, name = folder.name.partition("-")
        rule = registry.get(code)
        assert rule is not None and rule.name == name, folder.name
        assert list(folder.glob("bad*.py")), f"{folder.name} has no bad script"
        assert list(folder.glob("good*.py")), f"{folder.name} has no good script"


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_findings(path, fixtures_json) -> None:
    rel = path.relative_to(ROOT).as_posix()
    actual = Counter((f["line"], f["code"]) for f in fixtures_json if f["path"] == rel)
    expected = expected_findings(path)
    if path.name.startswith("good"):
        assert not expected, "good scripts carry no expect comments"
        assert not actual, f"good script has findings: {sorted(actual)}"
    else:
        assert expected or expected_findings(path, dynamic=True), "bad scripts declare their findings with `# expect:`"
        missing = expected - actual
        unexpected = actual - expected
        assert not missing and not unexpected, f"missing {sorted(missing)}, unexpected {sorted(unexpected)}"
