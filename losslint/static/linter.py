"""The static pass over one file: read, parse, run the enabled rules, apply suppressions."""

from __future__ import annotations

import ast
import dataclasses
import functools
import io
import re
import tokenize
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from losslint import registry, suppression
from losslint.config import Config
from losslint.findings import Finding
from losslint.rules import ll001_syntax_error
from losslint.static import notebook
from losslint.static.discovery import file_context
from losslint.static.names import conventional_pattern

MAX_FILE_BYTES = 10 * 1024 * 1024
# Every static rule needs a TF/Keras/NumPy API or a compile/loss signature: a file with none of
# these words cannot produce a finding beyond LL001, so it skips the (costly) metadata.
_RELEVANT = re.compile(r"keras|tensorflow|numpy|compile|\.fit|_generator|\.targets|y_pred|y_true|noqa|losslint")


def relevant(source: str, config: Config) -> bool:
    """The file may produce a finding beyond LL001: it names TF/Keras/NumPy, a compile or a loss
    signature, or (a snippet without its imports) uses a conventional name such as `tf.x`."""
    if _RELEVANT.search(source):
        return True
    pattern = _conventional_pattern(tuple(sorted(config.conventional_names().items())))
    return pattern is not None and pattern.search(source) is not None


@functools.lru_cache(maxsize=8)
def _conventional_pattern(names: tuple[tuple[str, str], ...]) -> re.Pattern[str] | None:
    return conventional_pattern(dict(names))


@dataclass
class FileReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    # One-line problems that are not findings (unreadable file, internal error): exit code 2.
    errors: list[str] = field(default_factory=list)
    # One-line notes that change nothing (a file skipped because it is too large).
    notes: list[str] = field(default_factory=list)
    # The text, kept only when there are findings to show it under.
    source: str | None = None
    # The file visibly compiles a Keras model: a script for the dynamic pass.
    compiles_model: bool = False
    # Losses given to compile here that come from other modules: (module, name, factory, line, column).
    imported_losses: list[tuple[str, str, bool, int, int]] = field(default_factory=list)
    # A notebook's code cells (number -> lines), kept when there are findings to show.
    cell_sources: dict[int, list[str]] | None = None


def lint_notebook(display: str, data: bytes, config: Config, disabled: frozenset[str] = frozenset()) -> FileReport:
    """A notebook's code cells as one program, findings mapped back to their cells; a cell that
    does not parse is an LL001 finding at that cell, and the other cells are still linted."""
    try:
        book = notebook.read(data)
    except ValueError as error:
        report = FileReport(display)
        if "LL001" in config.enabled_codes() - disabled:
            report.findings.append(ll001_syntax_error.unparsable(display, str(error), fix="lint only valid .ipynb files"))
        return report
    report = lint_source(display, book.source, config, disabled)
    # The rules name other lines of the program (`the model built line 384`): said in cells.
    report.findings = [
        book.map_finding(dataclasses.replace(f, message=book.in_cells(f.message), fix=book.in_cells(f.fix)))
        for f in report.findings
    ]
    if book.broken and "LL001" in config.enabled_codes() - disabled and not suppression.parse(book.source).skip_file:
        for cell in book.broken:
            finding = book.map_finding(ll001_syntax_error.unparsable_cell(display, cell.message, cell.line, cell.column))
            # The cell is not in the program: its own comments say whether it is suppressed.
            if not suppression.parse("\n".join(book.cells[finding.cell or 1])).suppresses(finding):
                report.findings.append(finding)
    report.source = None
    if report.findings:
        report.cell_sources = book.cells
    return report


def decode(path: str, data: bytes) -> str | Finding:
    """The file's text (PEP 263 coding cookie honoured), or an LL001 finding saying why not."""
    if b"\x00" in data:
        return ll001_syntax_error.unparsable(
            path, "not a Python text file: it contains NUL bytes", fix="lint only Python source files"
        )
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        if not _is_utf8(data):
            # Non-UTF-8 bytes on the first two lines and no cookie: say where, as below.
            encoding = "utf-8"
        else:
            return ll001_syntax_error.unparsable(path, f"cannot read the file's encoding: {error}")
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        start = getattr(error, "start", 0)
        line = data[:start].count(b"\n") + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        return ll001_syntax_error.unparsable(
            path,
            f"file is not valid {encoding}: {error.reason if hasattr(error, 'reason') else error}",
            line,
            column,
            fix="save the file as UTF-8 or declare its encoding with a `# -*- coding: ... -*-` line",
        )


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def lint_source(
    path: str, source: str, config: Config, disabled: frozenset[str] = frozenset(), external: dict | None = None
) -> FileReport:
    """Lint one file's text. `external`: name -> ExternalUse, the losses other files of the run
    import from this one and give to compile."""
    report = FileReport(path)
    enabled = config.enabled_codes() - disabled
    suppressions = suppression.parse(source)
    if suppressions.skip_file:
        return report
    raw: list[Finding] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings about the user's escapes are not ours
            # CPython's parser first: its verdict and message are LL001's, and it refuses deep
            # nesting that would overflow the stack of libcst's native parser (a segfault).
            ast.parse(source, filename=path)
    except SyntaxError as error:
        raw.append(ll001_syntax_error.from_syntax_error(path, error))
    except (ValueError, RecursionError, MemoryError) as error:
        detail = str(error) or "too deeply nested or too large for the parser"  # MemoryError() has no text
        raw.append(ll001_syntax_error.unparsable(path, f"file does not parse: {detail}"))
    if not raw and relevant(source, config):
        try:
            module = cst.parse_module(source)
        except cst.ParserSyntaxError as error:
            report.errors.append(f"{path}:{error.raw_line}:{error.raw_column + 1}: libcst cannot parse this file: {error.message}")
            return report
        except RecursionError:
            report.errors.append(f"{path}: file is too deeply nested to analyse")
            return report
        try:
            ctx = file_context(path, source, module, external, config.conventional_names())
        except RecursionError:
            report.errors.append(f"{path}: file is too deeply nested to analyse")
            return report
        except Exception as error:
            report.errors.append(f"{path}: internal error in loss discovery: {type(error).__name__}: {error}")
            return report
        report.compiles_model = bool(ctx.index.compile_calls)
        report.imported_losses = [
            (module_name, name, factory, *ctx.start(call)) for module_name, name, factory, call in ctx.index.imported_losses
        ]
        for rule in registry.ALL_RULES:
            if rule.static_check is None or rule.code not in enabled:
                continue
            try:
                raw.extend(rule.static_check(ctx))
            except RecursionError:
                report.errors.append(f"{path}: {rule.code} skipped: file is too deeply nested to analyse")
            except Exception as error:  # one rule's bug must not lose the other findings
                report.errors.append(f"{path}: internal error in {rule.code}: {type(error).__name__}: {error}")
    for finding in _dedupe(raw):
        if finding.code in enabled and not suppressions.suppresses(finding):
            report.findings.append(finding)
    if "LL004" in enabled:
        report.findings.extend(suppressions.unused(path))
    if report.findings:
        report.source = source
    return report


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple] = set()
    out = []
    for finding in findings:
        key = (finding.code, finding.line, finding.column, finding.end_line, finding.end_column)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def read_file(path: Path, display: str) -> bytes | FileReport:
    """The file's bytes, or a report saying why it is not linted (too large, unreadable)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            report = FileReport(display)
            report.notes.append(
                f"{display}: skipped: {size / 2**20:.1f} MiB is over the {MAX_FILE_BYTES // 2**20} MiB limit for one file"
            )
            return report
        return path.read_bytes()
    except OSError as error:
        report = FileReport(display)
        report.errors.append(f"{display}: cannot read: {error.strerror or error}")
        return report


def lint_bytes(
    display: str, data: bytes, config: Config, disabled: frozenset[str] = frozenset(), external: dict | None = None
) -> FileReport:
    if display.endswith(".ipynb"):
        return lint_notebook(display, data, config, disabled)
    source = decode(display, data)
    if isinstance(source, Finding):
        report = FileReport(display)
        if source.code in config.enabled_codes() - disabled:
            report.findings.append(source)
        return report
    return lint_source(display, source, config, disabled, external)
