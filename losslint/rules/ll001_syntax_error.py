"""LL001 syntax-error: the file is not Python that parses; the other files are still linted. In a
notebook, a code cell that does not parse as IPython reads it; the other cells are still linted."""

from __future__ import annotations

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL001",
    name="syntax-error",
    severity=Severity.ERROR,
    passes=(Pass.STATIC,),
    built_in=True,
    summary="The file (or a notebook's cell) does not parse, or is not Python text; other files (cells) are still linted.",
)


def unparsable(path: str, message: str, line: int = 1, column: int = 1, fix: str | None = None) -> Finding:
    return Finding(
        code=RULE.code,
        name=RULE.name,
        severity=RULE.severity,
        path=path,
        line=max(line, 1),
        column=max(column, 1),
        end_line=max(line, 1),
        end_column=max(column, 1) + 1,
        message=message,
        fix=fix or "fix the syntax error; losslint checks nothing else in this file until it parses",
    )


def from_syntax_error(path: str, error: SyntaxError) -> Finding:
    detail = error.msg or "invalid syntax"
    return unparsable(path, f"file does not parse: {detail}", error.lineno or 1, error.offset or 1)


def unparsable_cell(path: str, message: str, line: int, column: int) -> Finding:
    """A notebook's code cell that does not parse (`line`, `column`: in the notebook's program)."""
    return unparsable(
        path, f"cell does not parse: {message}", line, column,
        fix="fix the syntax error; losslint checks the other cells without this one until it parses",
    )
