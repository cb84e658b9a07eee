"""Merging the two passes (no TensorFlow needed): one finding per code and place, with the
static span and the dynamic evidence; LL301 dropped where the step was measured consistent;
dynamic findings obey suppression comments and the selection."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from losslint.config import Config
from losslint.dynamic.runner import merge
from losslint.findings import Finding, Pass, RelatedLocation, Severity
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


def test_dynamic_finding_at_the_loss_def_merges_into_the_static_expression() -> None:
    """The dynamic pass knows the loss, the static pass the expression in it: one finding."""
    static = [dataclasses.replace(finding("LL110", 16, 12, "static", Pass.STATIC), scope_line=15)]
    merged = merge(static, [finding("LL110", 15, 1, "measured scalar", Pass.DYNAMIC)])
    assert [(f.line, f.column, f.message) for f in merged] == [(16, 12, "measured scalar")]


def test_dynamic_finding_at_compile_merges_into_one_static_key() -> None:
    """A compile call's dict keys: the first static key takes the measured message, the others stay."""
    static = [
        dataclasses.replace(finding("LL203", line, 27, "static", Pass.STATIC), scope_line=21) for line in (23, 24)
    ]
    merged = merge(static, [finding("LL203", 21, 1, "measured", Pass.DYNAMIC)])
    assert sorted((f.line, f.message) for f in merged) == [(23, "measured"), (24, "static")]


def test_dynamic_finding_matches_a_static_related_location() -> None:
    related = (RelatedLocation("train.py", 30, 1, "loss given to compile here"),)
    static = [dataclasses.replace(finding("LL204", 12, 9, "static", Pass.STATIC), related=related)]
    merged = merge(static, [finding("LL204", 30, 1, "measured", Pass.DYNAMIC)])
    assert [(f.line, f.message) for f in merged] == [(12, "measured")]


def test_unrelated_lines_of_one_code_stay_apart() -> None:
    static = [dataclasses.replace(finding("LL110", 40, 12, "static", Pass.STATIC), scope_line=39)]
    merged = merge(static, [finding("LL110", 15, 1, "measured", Pass.DYNAMIC)])
    assert sorted(f.line for f in merged) == [15, 40]


def test_a_crash_on_the_line_of_a_static_error_becomes_its_evidence() -> None:
    static = [finding("LL108", 20, 21, "np.mean on a tensor", Pass.STATIC)]
    crash = finding("LL206", 20, 5, "NotImplementedError: Cannot convert a symbolic tf.Tensor", Pass.DYNAMIC)
    merged = merge(static, [crash])
    assert len(merged) == 1 and merged[0].code == "LL108" and merged[0].column == 21
    assert "Cannot convert a symbolic" in merged[0].message


def test_a_script_crash_in_a_call_with_a_removed_keyword_becomes_its_evidence() -> None:
    """`model.compile(` on line 20 raised; the static finding is the keyword on line 23."""
    keyword = dataclasses.replace(finding("LL106", 23, 5, "compile(experimental_run_tf_function=...)", Pass.STATIC), scope_line=20)
    crash = finding("LL002", 20, 1, "the script raised before reaching fit: TypeError", Pass.DYNAMIC)
    (merged,) = merge([keyword], [crash])
    assert merged.code == "LL106" and merged.line == 23 and "TypeError" in merged.message


def test_a_crash_makes_the_warning_that_explains_it_an_error() -> None:
    static = [dataclasses.replace(finding("LL111", 17, 9, "python if on a tensor", Pass.STATIC), severity=Severity.WARNING)]
    (merged,) = merge(static, [finding("LL002", 17, 1, "OperatorNotAllowedInGraphError", Pass.DYNAMIC)])
    assert merged.code == "LL111" and merged.severity is Severity.ERROR


def test_the_same_crash_on_two_outputs_is_evidence_once() -> None:
    static = [finding("LL108", 20, 21, "np.mean", Pass.STATIC)]
    crashes = [finding("LL206", 20, 5, f"raises on output 'out_{i}'", Pass.DYNAMIC) for i in range(2)]
    (merged,) = merge(static, crashes)
    assert merged.message.count("measured:") == 1 and "out_0" in merged.message


def test_a_crash_elsewhere_is_kept() -> None:
    static = [finding("LL108", 20, 21, "np.mean", Pass.STATIC)]
    merged = merge(static, [finding("LL206", 22, 5, "crash", Pass.DYNAMIC)])
    assert sorted(f.code for f in merged) == ["LL108", "LL206"]


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
