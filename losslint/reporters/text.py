"""Human output, ruff-style: location, code, message, the source line with a caret, the fix."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import click

from losslint import registry
from losslint.findings import Finding, Severity

_SEVERITY_COLOUR = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary(findings: list[Finding], files_checked: int) -> str:
    counts = Counter(f.severity for f in findings)
    parts = [_plural(counts[Severity.ERROR], "error"), _plural(counts[Severity.WARNING], "warning")]
    if counts[Severity.INFO]:
        parts.append(_plural(counts[Severity.INFO], "info"))
    return f"{', '.join(parts)} in {_plural(files_checked, 'file')}"


def _snippet(finding: Finding, line_text: str, colour: bool) -> list[str]:
    number = str(finding.line)
    gutter = " " * len(number)
    text = line_text.rstrip("\n").expandtabs(1)
    start = finding.column - 1
    end = finding.end_column - 1 if finding.end_line == finding.line else len(text)
    width = max(1, min(end, len(text)) - start)
    caret = " " * start + "^" * width
    if colour:
        caret = click.style(caret, fg=_SEVERITY_COLOUR[finding.severity], bold=True)
    bar = click.style("|", fg="blue", bold=True) if colour else "|"
    return [f"{gutter} {bar}", f"{number} {bar} {text}", f"{gutter} {bar} {caret}"]


def render(
    findings: list[Finding],
    files_checked: int,
    sources: Mapping[str, list[str]],
    *,
    colour: bool = False,
    show_source: bool = True,
    show_summary: bool = True,
) -> str:
    out: list[str] = []
    for f in findings:
        where = f.path if f.cell is None else f"{f.path}:cell {f.cell}"
        location = f"{where}:{f.line}:{f.column}:"
        code = f.code
        severity = f"[{f.severity.value}]"
        if colour:
            location = click.style(location, bold=True)
            code = click.style(code, fg=_SEVERITY_COLOUR[f.severity], bold=True)
            severity = click.style(severity, fg=_SEVERITY_COLOUR[f.severity])
        out.append(f"{location} {code} {severity} {f.message}")
        if not show_source:
            continue
        lines = sources.get(where)
        if lines and 0 < f.line <= len(lines):
            out.extend(_snippet(f, lines[f.line - 1], colour))
        pad = " " * (len(str(f.line)) + 1)
        out.append(f"{pad}= fix: {f.fix}")
        for related in f.related:
            out.append(f"{pad}= related: {related.path}:{related.line}:{related.column}: {related.message}")
        out.append("")
    if show_summary:
        out.append(summary(findings, files_checked))
    return "".join(line + "\n" for line in out)


def statistics(findings: list[Finding]) -> str:
    """Counts per code, most frequent first, like `ruff --statistics`."""
    counts = Counter(f.code for f in findings)
    lines = []
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        rule = registry.get(code)
        name = rule.name if rule else ""
        severity = rule.severity.value if rule else ""
        lines.append(f"{count:>5}\t{code}\t[{severity}]\t{name}")
    return "".join(line + "\n" for line in lines)
