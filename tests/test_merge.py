"""Merging the two passes (no TensorFlow needed): one finding per code and place, with the
static span and the dynamic evidence; LL301 dropped where the step was measured consistent;
dynamic findings obey suppression comments and the selection."""

from __future__ import annotations

from pathlib import Path

from losslint.config import Config
from losslint.dynamic.runner import merge
from losslint.findings import Finding, Pass, Severity
from losslint.runner import _reported


def finding(code: str, line: int, column: int, message: str, pass_: Pass, path: str = "train.py") -> Finding:
    return Finding(code, "x", Severity.ERROR, path, line, column, line, column + 4, message, "fix", pass_)


def test_dynamic_evidence_replaces_the_static_twin_keeping_its_span() -> None:
    static = [finding("LL101", 27, 12, "static", Pass.STATIC), finding("LL102", 30, 9, "static", Pass.STATIC)]
    dynamic = [finding("LL101", 27, 5, "measured (3, 35) -> (3, 5, 7)", Pass.DYNAMIC)]
    merged = merge(static, dynamic)
    assert len(merged) == 2
    ll101 = next(f for f in merged if f.code == "LL101")
    assert ll101.message.startswith("measured") and ll101.column == 12 and ll101.pass_ is Pass.DYNAMIC
    assert any(f.code == "LL102" and f.pass_ is Pass.STATIC for f in merged)


def test_two_static_findings_on_one_line_are_not_lost() -> None:
    static = [finding("LL106", 5, 1, "a", Pass.STATIC), finding("LL106", 5, 20, "b", Pass.STATIC)]
    assert len(merge(static, [])) == 2


def test_ll301_dropped_only_where_measured_consistent() -> None:
    static = [finding("LL301", 15, 9, "warn", Pass.STATIC), finding("LL301", 40, 9, "warn", Pass.STATIC)]
    merged = merge(static, [], {("train.py", 15)})
    assert [f.line for f in merged] == [40]


def test_dynamic_findings_obey_noqa_and_selection(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("a = 1\nb = 2  # noqa: LL201\n")
    ok = finding("LL201", 1, 1, "m", Pass.DYNAMIC, str(script))
    suppressed = finding("LL201", 2, 1, "m", Pass.DYNAMIC, str(script))
    assert _reported(ok, Config()) and not _reported(suppressed, Config())
    assert not _reported(ok, Config(ignore=("LL2",)))
