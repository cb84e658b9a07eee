"""The dynamic pass on the bundled fixture scripts, with real TensorFlow in sandboxed child
processes: every `# expect:` and `# expect-dynamic:` finding at its line, nothing else, and no
finding at all on good scripts. One CLI run serves every test (two scripts at a time)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from conftest import FIXTURES, ROOT, run_cli
from test_fixtures import FIXTURE_FILES, expected_findings


@pytest.fixture(scope="session")
def dynamic_run() -> tuple[list[dict], str]:
    proc = run_cli("--dynamic", "--format", "json", "--timeout", "45", "--jobs", "2", "fixtures", timeout=2400)
    stderr = proc.stderr.decode()
    assert "Traceback" not in stderr, stderr
    assert proc.returncode == 1, stderr
    return json.loads(proc.stdout), stderr


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_dynamic_fixture_findings(path, dynamic_run) -> None:
    findings, stderr = dynamic_run
    rel = path.relative_to(ROOT).as_posix()
    assert f"{rel}: dynamic pass:" not in stderr, stderr
    actual = Counter((f["line"], f["code"]) for f in findings if f["path"] == rel)
    expected = expected_findings(path, dynamic=True)
    if path.name.startswith("good"):
        assert not actual, f"good script has findings: {sorted(actual)}"
    else:
        missing, unexpected = expected - actual, actual - expected
        assert not missing and not unexpected, f"missing {sorted(missing)}, unexpected {sorted(unexpected)}"


def test_dynamic_findings_are_marked_dynamic(dynamic_run) -> None:
    findings, _ = dynamic_run
    passes = Counter(f["pass"] for f in findings)
    assert passes["dynamic"] > 0 and passes["static"] > 0
