"""One run over many files: collect, lint each (one bad file never stops the others), sort."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from losslint import suppression
from losslint.cache import Cache
from losslint.config import Config
from losslint.files import collect, display_path
from losslint.findings import Finding, RelatedLocation, sort_findings
from losslint.static.discovery import ExternalUse
from losslint.static import notebook
from losslint.static.linter import FileReport, lint_bytes, read_file

if TYPE_CHECKING:
    from losslint.dynamic.runner import DynamicOptions, ScriptOutcome


@dataclass
class RunResult:
    findings: list[Finding] = field(default_factory=list)
    files_checked: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: dict[str, list[str]] = field(default_factory=dict)
    # Scripts the dynamic pass should run: (path, displayed name).
    scripts: list[tuple[Path, str]] = field(default_factory=list)
    dynamic: list[ScriptOutcome] = field(default_factory=list)

    def add(self, report: FileReport) -> None:
        self.files_checked += 1
        self.findings.extend(report.findings)
        self.errors.extend(report.errors)
        self.notes.extend(report.notes)
        if report.source is not None:
            self.sources[report.path] = report.source.splitlines()
        for cell, lines in (report.cell_sources or {}).items():
            self.sources[f"{report.path}:cell {cell}"] = lines


_PARALLEL_FROM = 24  # fewer files lint faster in this process than in a pool


def _lint_files(files: list[Path], config: Config, cache: Cache | None, jobs: int) -> list[FileReport]:
    """One report per file, in order: from the cache, or linted (in parallel when worth it)."""
    reports: list[FileReport | None] = [None] * len(files)
    todo: list[tuple[int, str, bytes, frozenset[str], str | None]] = []
    keys: set[str] = set()
    for index, path in enumerate(files):
        display = display_path(path)
        data = read_file(path, display)
        if isinstance(data, FileReport):
            reports[index] = data
            continue
        key = Cache.key(display, data) if cache is not None else None
        if key is not None:
            keys.add(key)
            hit = cache.get(key, display)
            if hit is not None:
                if hit.findings and display.endswith(".ipynb"):
                    hit.cell_sources = notebook.read(data).cells
                elif hit.findings:
                    hit.source = data.decode("utf-8", errors="replace")
                reports[index] = hit
                continue
        todo.append((index, display, data, config.ignored_for(path), key))
    workers = jobs or os.cpu_count() or 1
    arguments = [(display, data, config, disabled) for _, display, data, disabled, _ in todo]
    if workers > 1 and len(todo) >= _PARALLEL_FROM:
        from concurrent.futures import ProcessPoolExecutor  # imported only when used: start-up time

        with ProcessPoolExecutor(max_workers=workers) as pool:
            fresh = list(pool.map(_lint_args, arguments, chunksize=max(1, len(todo) // (workers * 4))))
    else:
        fresh = [_lint_args(a) for a in arguments]
    for (index, _, _, _, key), report in zip(todo, fresh):
        reports[index] = report
        if cache is not None and key is not None:
            cache.put(key, report)
    # Cross-module losses: a file whose functions other files give to compile is analysed again,
    # once, knowing which of its functions are losses and where they are compiled.
    for index, external in _external_uses(files, reports).items():
        path, display = files[index], display_path(files[index])
        data = path.read_bytes()
        context = json.dumps({name: [dataclasses.asdict(u) for u in uses] for name, uses in sorted(external.items())})
        key = Cache.key(display, data, context) if cache is not None else None
        report = cache.get(key, display) if cache is not None and key is not None else None
        if report is None:
            report = lint_bytes(display, data, config, config.ignored_for(path), external)
            if cache is not None and key is not None:
                cache.put(key, report)
        elif report.findings:
            report.source = data.decode("utf-8", errors="replace")
        if key is not None:
            keys.add(key)
        reports[index] = report
    if cache is not None:
        cache.save(keys)
    return [r for r in reports if r is not None]


def _external_uses(files: list[Path], reports: list[FileReport | None]) -> dict[int, dict[str, list[ExternalUse]]]:
    """For each linted file, the losses that other linted files import from it."""
    by_path = {path.resolve(): index for index, path in enumerate(files)}
    uses: dict[int, dict[str, list[ExternalUse]]] = {}
    for importer, report in zip(files, reports):
        for module, name, factory, line, column in (report.imported_losses if report else ()):
            target = _module_file(importer, module, by_path)
            if target is None or files[target].resolve() == importer.resolve():
                continue
            where = RelatedLocation(display_path(importer), line, column, "loss given to compile here")
            uses.setdefault(target, {}).setdefault(name, []).append(ExternalUse(factory, where))
    return uses


def _module_file(importer: Path, module: str, by_path: dict[Path, int]) -> int | None:
    """The linted file a module name refers to from `importer` (the script's folder is on
    sys.path when it runs; relative imports climb from the importer's package)."""
    level = len(module) - len(module.lstrip("."))
    parts = [p for p in module.lstrip(".").split(".") if p]
    base = importer.resolve().parent
    for _ in range(max(level - 1, 0)):
        base = base.parent
    candidates = [base.joinpath(*parts, "__init__.py")]
    if parts:
        candidates.insert(0, base.joinpath(*parts[:-1], parts[-1] + ".py"))
    for candidate in candidates:
        if candidate in by_path:
            return by_path[candidate]
    return None


def _lint_args(arguments: tuple[str, bytes, Config, frozenset[str]]) -> FileReport:
    return lint_bytes(*arguments)


def _reported(finding: Finding, config: Config) -> bool:
    """A dynamic finding goes through the same selection and suppression comments as a static
    one (the comments are read from the file it points into)."""
    if finding.code not in config.enabled_codes() - config.ignored_for(Path(finding.path)):
        return False
    try:
        source = Path(finding.path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True
    return not suppression.parse(source).suppresses(finding)


def run(
    paths: list[str],
    config: Config,
    stdin: tuple[str, bytes] | None = None,
    dynamic: DynamicOptions | None = None,
    *,
    jobs: int = 1,
    no_cache: bool = True,
) -> RunResult:
    """Lint `paths`; `stdin` is (the name to report it under, its bytes) for `losslint -`.

    With `dynamic`, scripts also go through the dynamic pass: every file named on the command
    line, and the files found in folders that visibly compile a Keras model. `jobs` processes
    lint the files (0: one per core); unless `no_cache`, unchanged files come from the cache.
    """
    result = RunResult()
    if stdin is not None:
        name, data = stdin
        result.add(lint_bytes(name, data, config, config.ignored_for(Path(name))))
    named = {Path(p).resolve() for p in paths if p != "-" and Path(p).is_file()}
    collected = collect([p for p in paths if p != "-"], config)
    result.errors.extend(collected.errors)
    cache = None if no_cache else Cache(config.root, config)
    for path, report in zip(collected.files, _lint_files(collected.files, config, cache, jobs)):
        result.add(report)
        if dynamic is not None and (report.compiles_model or path.resolve() in named):
            result.scripts.append((path, report.path))
    if dynamic is not None and result.scripts:
        from losslint.dynamic.runner import merge, missing_requirement, run_scripts

        missing = missing_requirement()
        if missing is not None:
            result.errors.append(missing)
            result.findings = sort_findings(result.findings)
            return result
        result.dynamic = run_scripts(result.scripts, dynamic)
        measured = []
        consistent: set[tuple[str, int]] = set()
        for outcome in result.dynamic:
            consistent.update(outcome.consistent_steps)
            measured.extend(f for f in outcome.findings if _reported(f, config))
            result.errors.extend(outcome.errors)
            result.notes.extend(outcome.notes)
        result.findings = merge(result.findings, measured, consistent)
        for finding in measured:  # the text report shows the source line of dynamic findings too
            if finding.path not in result.sources:
                try:
                    text = Path(finding.path).read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                result.sources[finding.path] = text.splitlines()
    result.findings = sort_findings(result.findings)
    return result
