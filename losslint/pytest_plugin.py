"""The pytest plugin (entry point `pytest11`): `pytest --losslint` and the `losslint_check` fixture.

`pytest --losslint` (or `losslint = true` in the pytest ini options) adds one test item per
collected Python file, marked `losslint` (`-m losslint` runs only them). A file with findings
fails, and its report is losslint's text report for that file. A file whose findings are all
info passes. The static pass runs once over all the collected files of one configuration, the
way the CLI lints them together (a loss imported from a sibling module is analysed where it
is defined). The configuration is `[tool.losslint]` or `losslint.toml`, found upward from each
file as the CLI finds it, with its selection, per-file ignores and excludes. The dynamic pass
never runs here: it runs scripts, and a test session is not the place for that.

`losslint_check(model, x=None, y=None, batch_size=None)` probes a compiled model in the test's
own process (`losslint.check`). It raises `losslint.LossLintError` listing the findings, and
that fails the test.

Loading the plugin imports only pytest. losslint's linter is imported when `--losslint` is on,
and TensorFlow when the fixture is called.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from losslint.config import Config
    from losslint.findings import Finding


@dataclass
class _FileOutcome:
    """What losslint says about one file: the text report, and whether the item fails."""

    failed: bool
    report: str


@dataclass
class _Group:
    """The collected files that share one configuration file (or none)."""

    config: Config | None
    error: str | None = None  # a configuration the CLI would reject (exit 2)
    files: list[Path] = field(default_factory=list)
    outcomes: dict[Path, _FileOutcome] | None = None


class _Linter:
    """One pytest session's losslint run: configurations by folder, results by file."""

    def __init__(self) -> None:
        # Keyed by the configuration file (None: no file; a string: a file losslint rejects).
        self.groups: dict[Path | str | None, _Group] = {}
        self.key_of_folder: dict[Path, Path | str | None] = {}

    def group(self, path: Path) -> _Group:
        from losslint.config import ConfigError, find_config_file, load

        folder = path.parent.resolve()
        if folder not in self.key_of_folder:
            try:
                self.key_of_folder[folder] = find_config_file(folder)
            except ConfigError as error:  # a pyproject.toml that is not valid TOML
                self.key_of_folder[folder] = str(error)
        key = self.key_of_folder[folder]
        if key not in self.groups:
            if isinstance(key, str):
                self.groups[key] = _Group(None, key)
            else:
                try:
                    self.groups[key] = _Group(load(key) if key is not None else _default_config())
                except ConfigError as error:
                    self.groups[key] = _Group(None, str(error))
        return self.groups[key]

    def excluded(self, path: Path) -> bool:
        """The configured excludes, as the CLI applies them when it walks a folder: to the
        file and to every folder between the configuration's folder and it."""
        config = self.group(path).config
        if config is None:
            return False
        absolute = Path(os.path.abspath(path))
        root = Path(os.path.abspath(config.root))
        entries = [absolute, *[p for p in absolute.parents if root in p.parents]]
        return any(config.is_excluded(entry, root) for entry in entries)

    def outcome(self, path: Path, items: list[pytest.Item]) -> _FileOutcome:
        group = self.group(path)
        if group.error is not None:
            return _FileOutcome(True, f"losslint: error: {group.error}")
        if group.outcomes is None:
            mine = [i.path for i in items if isinstance(i, LossLintItem) and self.group(i.path) is group]
            group.files = sorted(set(mine) | {path})
            group.outcomes = _lint(group.files, group.config)
        return group.outcomes[path]


def _default_config() -> Config:
    from losslint.config import Config

    return Config()


def _lint(files: list[Path], config: Config) -> dict[Path, _FileOutcome]:
    """Lint the files together (one run, as the CLI does) and split the report by file."""
    from losslint.files import display_path
    from losslint.findings import Severity
    from losslint.reporters import text
    from losslint.runner import run

    result = run([str(p) for p in files], config, jobs=int(config.probe.get("jobs", 0)), no_cache=False)
    outcomes = {}
    for path in files:
        display = display_path(path)
        mine: list[Finding] = [f for f in result.findings if f.path == display]
        errors = [e for e in result.errors if e.startswith(display + ":")]
        notes = [n for n in result.notes if n.startswith(display + ":")]
        lines = [f"losslint: error: {e}" for e in errors] + [f"losslint: {n}" for n in notes]
        body = text.render(mine, 1, result.sources, colour=False)
        failed = bool(errors) or any(f.severity != Severity.INFO for f in mine)
        outcomes[path] = _FileOutcome(failed, "\n".join([body.rstrip("\n"), *lines]))
    return outcomes


class LossLintFileFailure(Exception):
    """One file's findings, as losslint's text report (the item's failure report)."""


class LossLintFile(pytest.File):
    def collect(self) -> Iterator[LossLintItem]:
        yield LossLintItem.from_parent(self, name="losslint")


class LossLintItem(pytest.Item):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker("losslint")

    def runtest(self) -> None:
        outcome = self.config.stash[_LINTER].outcome(self.path, self.session.items)
        if outcome.failed:
            raise LossLintFileFailure(outcome.report)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, LossLintFileFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"losslint {self.path.name}"


_LINTER = pytest.StashKey[_Linter]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("losslint")
    group.addoption(
        "--losslint", action="store_true", default=False,
        help="lint the collected Python files with losslint's static pass: one test item per file",
    )
    parser.addini("losslint", type="bool", default=False, help="run losslint as --losslint does")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "losslint: losslint's check of one file (pytest --losslint)")
    if config.getoption("losslint") or config.getini("losslint"):
        config.stash[_LINTER] = _Linter()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> LossLintFile | None:
    linter = parent.config.stash.get(_LINTER, None)
    if linter is None or file_path.suffix != ".py" or linter.excluded(file_path):
        return None
    return LossLintFile.from_parent(parent, path=file_path)


@pytest.fixture
def losslint_check() -> Callable[..., None]:
    """`losslint_check(model, x=None, y=None, batch_size=None)`: the dynamic probes on a compiled
    model, in process; raises losslint.LossLintError (a test failure) listing the findings."""

    def check(model: Any, x: Any = None, y: Any = None, batch_size: int | None = None) -> None:
        __tracebackhide__ = True
        from losslint.api import LossLintError, probe_at

        caller = sys._getframe(1)
        findings = probe_at(model, x, y, batch_size, (os.path.abspath(caller.f_code.co_filename), caller.f_lineno))
        if findings:
            raise LossLintError(findings)

    return check
