"""Apply the fix families: one file's text, a file's bytes, a whole run; unified diffs.

Fixes run on the static pass only. A fix is applied when its rule is selected for the file (the
configuration's select/ignore and per-file-ignores) and its finding is not suppressed by a
comment, as `losslint check` would report it. All fixes of a file go through one
`libcst.CSTTransformer` pass over the module the rules analysed (their metadata: qualified
names, scopes, positions), so everything outside the replaced nodes keeps its bytes: comments,
spacing, parentheses, line endings, the encoding (and a BOM).
"""

from __future__ import annotations

import ast
import difflib
import io
import tokenize
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from losslint import suppression
from losslint.config import Config
from losslint.files import collect, display_path
from losslint.findings import Finding
from losslint.fixes import FIXERS, Fix
from losslint.static.discovery import file_context
from losslint.static.linter import MAX_FILE_BYTES, lint_source, relevant


@dataclass
class SourceFix:
    text: str
    fixed: list[Finding] = field(default_factory=list)  # the findings whose fix was applied
    errors: list[str] = field(default_factory=list)


class _Apply(cst.CSTTransformer):
    """Replace each fixed node, bottom-up, by its fix of the node as already rewritten."""

    def __init__(self, fixes: dict[int, Fix]) -> None:
        super().__init__()
        self._fixes = fixes
        self.applied: list[Finding] = []

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        fix = self._fixes.get(id(original_node))
        if fix is None or fix.node is not original_node:
            return updated_node
        self.applied.append(fix.finding)
        return fix.replace(updated_node)


def _parses(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def fix_source(
    path: str, source: str, config: Config, disabled: frozenset[str] = frozenset(),
    only: Callable[[Finding], bool] | None = None,
) -> SourceFix:
    """`source` with every selected, unsuppressed safe fix applied (itself when there is none);
    `only`: just the fixes of the findings it accepts (an editor's fix for one diagnostic)."""
    out = SourceFix(source)
    suppressions = suppression.parse(source)
    if suppressions.skip_file or not relevant(source, config) or not _parses(source):
        return out
    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError):
        return out
    ctx = file_context(path, source, module, conventional=config.conventional_names())
    enabled = config.enabled_codes() - disabled
    chosen: dict[int, Fix] = {}
    for code, fixer in FIXERS.items():
        if code not in enabled:
            continue
        try:
            found = list(fixer(ctx))
        except RecursionError:
            out.errors.append(f"{path}: {code} fixes skipped: file is too deeply nested to analyse")
            continue
        except Exception as error:  # one family's bug must not lose the other fixes
            out.errors.append(f"{path}: internal error in the {code} fixes: {type(error).__name__}: {error}")
            continue
        for fix in found:
            if only is not None and not only(fix.finding):
                continue
            if id(fix.node) not in chosen and not suppressions.suppresses(fix.finding):
                chosen[id(fix.node)] = fix
    if not chosen:
        return out
    transformer = _Apply(chosen)
    try:
        text = module.visit(transformer).code
    except Exception as error:
        out.errors.append(f"{path}: internal error applying fixes: {type(error).__name__}: {error}; nothing fixed")
        return out
    if text == source:
        return out
    if not _parses(text):  # never write a file that does not parse
        out.errors.append(f"{path}: internal error: the fixes did not give valid Python; nothing fixed")
        return out
    out.text = text
    out.fixed = transformer.applied
    return out


@dataclass
class FileFix:
    """One file (or standard input) through the fixes."""

    path: str  # as reported
    file: Path | None  # None for standard input
    data: bytes  # the bytes read
    encoding: str = "utf-8"
    original: str | None = None  # None: not decodable, nothing fixed
    fixed: str | None = None
    fixed_findings: int = 0  # reported findings the fixes remove (re-linted)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.original is not None and self.fixed is not None and self.fixed != self.original

    def fixed_bytes(self) -> bytes:
        return self.fixed.encode(self.encoding) if self.changed else self.data  # type: ignore[union-attr]

    def diff(self) -> str:
        return unified_diff(self.path, self.original or "", self.fixed or "") if self.changed else ""


def _key(finding: Finding) -> tuple:
    return (finding.code, finding.line, finding.column, finding.end_line, finding.end_column)


def fix_bytes(
    display: str, data: bytes, config: Config, disabled: frozenset[str] = frozenset(), file: Path | None = None
) -> FileFix:
    out = FileFix(display, file, data)
    if b"\x00" in data or display.endswith(".ipynb"):  # notebooks are linted, not fixed
        return out
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
        if text.encode(encoding) != data:  # would not write back the same bytes
            return out
    except (SyntaxError, UnicodeError, LookupError):
        return out
    out.encoding, out.original = encoding, text
    result = fix_source(display, text, config, disabled)
    out.errors.extend(result.errors)
    out.fixed = result.text
    if out.changed:
        before = lint_source(display, text, config, disabled).findings
        keys = {_key(f) for f in before}
        made_here = {_key(f) for f in result.fixed if _key(f) not in keys}  # rules with no check yet (LL305)
        after = lint_source(display, result.text, config, disabled).findings
        out.fixed_findings = max(0, len(before) + len(made_here) - len(after))
    return out


@dataclass
class FixRun:
    files: list[FileFix] = field(default_factory=list)
    # Paths that do not exist, files that cannot be read or written, fix errors.
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[FileFix]:
        return [f for f in self.files if f.changed]

    @property
    def fixed_findings(self) -> int:
        return sum(f.fixed_findings for f in self.changed)

    @property
    def fix_errors(self) -> list[str]:
        """The errors of the fixes themselves (not of reading: a lint run reports those)."""
        return [error for file in self.files for error in file.errors]

    @property
    def stdin(self) -> FileFix | None:
        return next((f for f in self.files if f.file is None), None)


def fix_paths(paths: list[str], config: Config, stdin: tuple[str, bytes] | None = None) -> FixRun:
    """Fix (in memory) the files `losslint check` would lint: `stdin` is (name, bytes) for `-`."""
    run = FixRun()
    if stdin is not None:
        name, data = stdin
        run.files.append(fix_bytes(name, data, config, config.ignored_for(Path(name))))
    collected = collect([p for p in paths if p != "-"], config)
    run.errors.extend(collected.errors)
    for path in collected.files:
        display = display_path(path)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue  # the lint run says it was skipped
            data = path.read_bytes()
        except OSError as error:
            run.errors.append(f"{display}: cannot read: {error.strerror or error}")
            continue
        run.files.append(fix_bytes(display, data, config, config.ignored_for(path), file=path))
    for file in run.files:
        run.errors.extend(file.errors)
    return run


def write(run: FixRun) -> list[str]:
    """Write every changed file (not standard input); a file that cannot be written is left
    as it was and counts as not fixed."""
    errors = []
    for file in run.changed:
        if file.file is None:
            continue
        try:
            file.file.write_bytes(file.fixed_bytes())
        except OSError as error:
            errors.append(f"{file.path}: cannot write: {error.strerror or error}")
            file.fixed = file.original
            file.fixed_findings = 0
    return errors


def _lines(text: str) -> list[str]:
    """Lines split on "\\n" only (a form feed or a lone "\\r" stays inside its line)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def unified_diff(path: str, before: str, after: str) -> str:
    """A unified diff with a/ and b/ paths, like `git diff`, including its marker for a last
    line without a newline."""
    out = []
    for line in difflib.unified_diff(_lines(before), _lines(after), f"a/{path}", f"b/{path}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
