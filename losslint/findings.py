"""The one data type every pass produces and every reporter reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Pass(str, Enum):
    STATIC = "static"
    DYNAMIC = "dynamic"


@dataclass(frozen=True)
class RelatedLocation:
    """A second place that explains a finding, e.g. the `compile` call that uses the loss."""

    path: str
    line: int
    column: int
    message: str


@dataclass(frozen=True)
class Finding:
    """One problem at one place in the user's file. Lines and columns are 1-based."""

    code: str
    name: str
    severity: Severity
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    fix: str
    pass_: Pass = Pass.STATIC
    related: tuple[RelatedLocation, ...] = ()
    # The first line of the loss `def` or the compile call the finding sits in: a suppression
    # comment there also counts, and the dynamic pass reports the same problem there.
    scope_line: int | None = field(default=None, compare=False)
    # In a notebook: the code cell (1-based), `line` counts within it, and `file_line` is the
    # line of the .ipynb file (for SARIF and GitHub annotations).
    cell: int | None = None
    file_line: int | None = None

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.path, self.cell or 0, self.line, self.column, self.code)

    def to_json(self) -> dict[str, object]:
        """The JSON reporter's object: exactly these keys, in this order (and `cell` in notebooks)."""
        data: dict[str, object] = {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "message": self.message,
            "fix": self.fix,
            "pass": self.pass_.value,
        }
        if self.cell is not None:
            data["cell"] = self.cell
        return data


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Deterministic order: path, line, column, code."""
    return sorted(findings, key=Finding.sort_key)
