"""GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` line per finding."""

from __future__ import annotations

from losslint.findings import Finding, Severity

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        properties = ",".join(
            f"{key}={escape_property(str(value))}"
            for key, value in (
                (("file", f.path), ("line", f.line), ("col", f.column), ("endLine", f.end_line),
                 ("endColumn", f.end_column), ("title", f"{f.code} {f.name}"))
                if f.cell is None
                else (("file", f.path), ("line", f.file_line or 1), ("title", f"{f.code} {f.name} (cell {f.cell}, line {f.line})"))
            )
        )
        message = escape_data(f"{f.message}\nfix: {f.fix}")
        lines.append(f"::{_COMMAND[f.severity]} {properties}::{message}")
    return "".join(line + "\n" for line in lines)
