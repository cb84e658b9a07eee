"""One run over many files: collect, lint each (one bad file never stops the others), sort."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from losslint.config import Config
from losslint.files import collect, display_path
from losslint.findings import Finding, sort_findings
from losslint.static.linter import FileReport, lint_bytes, lint_file


@dataclass
class RunResult:
    findings: list[Finding] = field(default_factory=list)
    files_checked: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: dict[str, list[str]] = field(default_factory=dict)

    def add(self, report: FileReport) -> None:
        self.files_checked += 1
        self.findings.extend(report.findings)
        self.errors.extend(report.errors)
        self.notes.extend(report.notes)
        if report.source is not None:
            self.sources[report.path] = report.source.splitlines()


def run(paths: list[str], config: Config, stdin: tuple[str, bytes] | None = None) -> RunResult:
    """Lint `paths`; `stdin` is (the name to report it under, its bytes) for `losslint -`."""
    result = RunResult()
    if stdin is not None:
        name, data = stdin
        result.add(lint_bytes(name, data, config, config.ignored_for(Path(name))))
    collected = collect([p for p in paths if p != "-"], config)
    result.errors.extend(collected.errors)
    for path in collected.files:
        result.add(lint_file(path, display_path(path), config))
    result.findings = sort_findings(result.findings)
    return result
