"""Suppression comments: `# noqa`, `# losslint: ignore[...]`, `# losslint: skip-file`, and LL004
for the ones that suppress nothing."""

from __future__ import annotations

import pytest

from losslint.config import Config
from losslint.findings import sort_findings
from losslint.static.linter import lint_source

HEAD = "import tensorflow as tf\n"
DEF = "def my_loss(y_true, y_pred):"
# Line 3: LL101 at column 14.  Line 4: LL102 at column 37.
RESHAPE = "    y_pred = tf.reshape(y_pred, (-1, 5, 7))"
INDEX = "    return tf.reduce_mean(tf.square(y_true[0] - y_pred), axis=-1)"
# Line 3: LL102 (col 37) and LL101 (col 49) on one line.
BOTH = "    return tf.reduce_mean(tf.square(y_true[0] - tf.reshape(y_pred, (-1, 5, 7))), axis=-1)"


def script(def_comment: str = "", reshape_comment: str = "", index_comment: str = "", tail: str = "") -> str:
    return (
        HEAD
        + DEF + def_comment + "\n"
        + RESHAPE + reshape_comment + "\n"
        + INDEX + index_comment + "\n"
        + tail
    )


def lint(source: str, **config) -> list[tuple[int, str]]:
    report = lint_source("train.py", source, Config(**config))
    assert not report.errors, report.errors
    return [(f.line, f.code) for f in sort_findings(report.findings)]


def test_unsuppressed_baseline() -> None:
    assert lint(script()) == [(3, "LL101"), (4, "LL102")]


# on the reported line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "comment",
    [
        "  # noqa: LL101",
        "  # noqa:LL101",
        "  # noqa:LL101,LL102",
        "  # noqa: LL102, LL101",
        "  # NOQA: ll101",
        "  # noqa: E501, LL101",
        "  # noqa: reshape-in-loss",
        "  # losslint: ignore[LL101]",
        "  # losslint: ignore[reshape-in-loss]",
        "  # losslint: ignore[LL102, reshape-in-loss]",
        "  # losslint:ignore[LL101]",
        "  # pylint: disable=foo  # noqa: LL101",
    ],
)
def test_suppress_on_the_reported_line(comment: str) -> None:
    assert lint(script(reshape_comment=comment)) == [(4, "LL102")]


@pytest.mark.parametrize(
    "comment",
    [
        "  # noqa: LL102",
        "  # losslint: ignore[LL102]",
        "  # losslint: ignore[target-indexed-as-list]",
        "  # noqa: E501",
        "  # noqa: F401,E501",
        "  # losslint: ignore[LL999]",
    ],
)
def test_other_codes_do_not_suppress(comment: str) -> None:
    assert lint(script(reshape_comment=comment)) == [(3, "LL101"), (4, "LL102")]


def test_suppression_on_another_line_does_not_count() -> None:
    assert lint(script(index_comment="  # noqa: LL101")) == [(3, "LL101"), (4, "LL102")]


def test_bare_noqa_suppresses_everything_on_its_line() -> None:
    source = HEAD + DEF + "\n" + BOTH + "\n"
    assert lint(source) == [(3, "LL102"), (3, "LL101")]  # columns 37 and 49
    assert lint(source.replace(BOTH, BOTH + "  # noqa")) == []
    assert lint(source.replace(BOTH, BOTH + "  # NoQA")) == []
    assert lint(source.replace(BOTH, BOTH + "  # noqa: LL101")) == [(3, "LL102")]
    assert lint(source.replace(BOTH, BOTH + "  # noqa:LL101,LL102")) == []
    # ... and nothing on the other lines.
    assert lint(script(index_comment="  # noqa")) == [(3, "LL101")]


# on the `def` line of the loss ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "left"),
    [
        ("  # noqa: LL101", [(4, "LL102")]),
        ("  # noqa: LL102", [(3, "LL101")]),
        ("  # noqa:LL101,LL102", []),
        ("  # losslint: ignore[LL101]", [(4, "LL102")]),
        ("  # losslint: ignore[reshape-in-loss]", [(4, "LL102")]),
        ("  # losslint: ignore[reshape-in-loss, target-indexed-as-list]", []),
        ("  # noqa", []),
        ("  # noqa: E501", [(3, "LL101"), (4, "LL102")]),
    ],
)
def test_suppress_on_the_def_line(comment: str, left: list) -> None:
    assert lint(script(def_comment=comment)) == left


def test_def_line_of_a_multiline_signature() -> None:
    source = (
        HEAD
        + "def my_loss(  # losslint: ignore[LL101]\n"
        + "    y_true, y_pred\n"
        + "):\n"
        + RESHAPE + "\n"
    )
    assert lint(source) == []
    assert lint(source.replace("  # losslint: ignore[LL101]", "")) == [(5, "LL101")]
    # The comment must be on the `def` line, not on a later line of the signature.
    moved = source.replace("def my_loss(  # losslint: ignore[LL101]\n    y_true, y_pred\n",
                           "def my_loss(\n    y_true, y_pred  # losslint: ignore[LL101]\n")
    assert lint(moved) == [(5, "LL101")]


def test_def_line_of_another_function_does_not_count() -> None:
    source = HEAD + "def helper():  # noqa: LL101\n    return 1\n" + script().replace(HEAD, "")
    assert lint(source) == [(5, "LL101"), (6, "LL102")]


# skip-file -----------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["top", "bottom", "middle"])
def test_skip_file(where: str) -> None:
    body = script()
    comment = "# losslint: skip-file\n"
    if where == "top":
        source = comment + body
    elif where == "bottom":
        source = body + comment
    else:
        source = body.replace(RESHAPE + "\n", RESHAPE + "  # losslint: skip-file\n")
    assert lint(source) == []
    assert lint(source, warn_unused_suppressions=True) == []


def test_skip_file_also_hides_syntax_errors() -> None:
    assert lint("# losslint: skip-file\ndef f(:\n") == []
    assert lint("def f(:\n") == [(1, "LL001")]
    # The tokenizer fails at the end of this file: the comments before that point still count.
    assert lint("x = [1,\n# losslint: skip-file\n") == []
    assert lint("x = [1,  # noqa: LL001\n") == []
    assert lint("x = [1,  # noqa: LL101\n") == [(1, "LL001")]


# comment-like text in strings ----------------------------------------------------------------


def test_noqa_in_a_string_does_not_count() -> None:
    source = script().replace(RESHAPE, '    y_pred = tf.reshape(y_pred, (-1, 5, 7), name="x  # noqa")')
    assert lint(source) == [(3, "LL101"), (4, "LL102")]
    source = script().replace(RESHAPE, "    y_pred = tf.reshape(y_pred, (-1, 5, 7), name='# losslint: ignore[LL101]')")
    assert lint(source) == [(3, "LL101"), (4, "LL102")]


def test_skip_file_in_a_string_does_not_count() -> None:
    source = HEAD + '"""Docs.\n\n# losslint: skip-file\n"""\n' + script().replace(HEAD, "")
    assert [code for _line, code in lint(source)] == ["LL101", "LL102"]
    source = script() + 'NOTE = "# losslint: skip-file"\n'
    assert lint(source) == [(3, "LL101"), (4, "LL102")]


# LL004: unused or unknown suppressions (off by default) --------------------------------------


def ll004(source: str) -> list[tuple[int, int, str]]:
    report = lint_source("train.py", source, Config(warn_unused_suppressions=True))
    assert not report.errors
    return sorted((f.line, f.column, f.message) for f in report.findings if f.code == "LL004")


def test_unused_suppression_is_off_by_default() -> None:
    assert lint(script(tail="x = 1  # noqa: LL101\n")) == [(3, "LL101"), (4, "LL102")]


def test_unused_suppression_reported() -> None:
    source = script(tail="x = 1  # noqa: LL101\n")
    assert lint(source, warn_unused_suppressions=True) == [(3, "LL101"), (4, "LL102"), (5, "LL004")]
    ((line, column, message),) = ll004(source)
    assert (line, column) == (5, 8)
    assert "LL101" in message and "nothing" in message


def test_unused_suppression_via_select() -> None:
    source = script(tail="x = 1  # noqa: LL101\n")
    assert lint(source, extend_select=("LL004",)) == [(3, "LL101"), (4, "LL102"), (5, "LL004")]
    assert lint(source, select=("LL004",)) == [(5, "LL004")]


@pytest.mark.parametrize(
    "comment",
    ["# losslint: ignore[LL999]", "# noqa: LL999", "# losslint: ignore[no-such-rule]"],
)
def test_unknown_code_reported(comment: str) -> None:
    source = script(reshape_comment="  " + comment)
    code = comment.split("[")[-1].rstrip("]") if "[" in comment else "LL999"
    ((line, column, message),) = ll004(source)
    assert line == 3
    assert column == len(RESHAPE) + 3
    assert code in message and "not a losslint rule" in message
    # An unknown code suppresses nothing.
    assert [c for _l, c in lint(source)] == ["LL101", "LL102"]


@pytest.mark.parametrize(
    "comment",
    [
        "  # noqa: LL101",
        "  # losslint: ignore[LL101]",
        "  # losslint: ignore[reshape-in-loss]",
        "  # noqa",
        "  # noqa: E501, LL101",
    ],
)
def test_used_suppression_not_reported(comment: str) -> None:
    assert ll004(script(reshape_comment=comment)) == []
    assert ll004(script(def_comment=comment)) == []


def test_partly_used_suppression_reports_the_unused_code_only() -> None:
    ((line, _column, message),) = ll004(script(reshape_comment="  # noqa: LL101, LL102"))
    assert line == 3 and "LL102" in message and "LL101" not in message


def test_other_tools_codes_and_bare_noqa_are_not_reported() -> None:
    assert ll004("x = 1  # noqa: E501\ny = 2  # noqa\n") == []


def test_unused_suppression_in_a_file_without_tf_words() -> None:
    """A file the rules would skip (no TF/Keras words) still gets its suppressions checked."""
    assert [(line, column) for line, column, _m in ll004("x = 1  # losslint: ignore[LL101]\n")] == [(1, 8)]
