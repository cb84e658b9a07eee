"""The in-process API: probe a live compiled Keras model from a notebook or a test.

    import losslint.api as losslint
    losslint.check(model, x_train, y_train, batch_size=32)   # raises LossLintError on findings
    findings = losslint.probe(model, x_train, y_train)

TensorFlow is imported only when these functions are called (the probes need it anyway).
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path
from typing import Any

from losslint.findings import Finding


class LossLintError(AssertionError):
    """losslint found problems with a model's losses; `findings` lists them."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = list(findings)
        lines = [f"losslint found {len(self.findings)} problem{'s' if len(self.findings) != 1 else ''}:"]
        for f in self.findings:
            lines.append(f"  {f.path}:{f.line}:{f.column}: {f.code} [{f.severity.value}] {f.message}")
            lines.append(f"      fix: {f.fix}")
        super().__init__("\n".join(lines))


class LossLintWarning(UserWarning):
    """losslint.Callback(on_finding="warn") found problems; the message lists them."""


def probe(model: Any, x: Any = None, y: Any = None, batch_size: int | None = None) -> list[Finding]:
    """Dynamic findings for a live compiled model: every loss (and function metric) is called
    with tensors of the shapes of `x`/`y` (the first `batch_size` rows are enough) the way
    Keras calls it in `fit`. Without `x`/`y` the model's input specs are used and the targets
    are assumed to have the outputs' shapes. Paths are absolute."""
    return _probe(model, x, y, batch_size, _caller())


def check(model: Any, x: Any = None, y: Any = None, batch_size: int | None = None) -> None:
    """`probe`, raising LossLintError (an AssertionError) when there is any finding."""
    findings = _probe(model, x, y, batch_size, _caller())
    if findings:
        raise LossLintError(findings)


def _caller() -> tuple[str, int]:
    """(file, line) of the code that called the function calling this one."""
    frame = sys._getframe(2)
    return os.path.abspath(frame.f_code.co_filename), frame.f_lineno


def user_frame(frame: Any) -> tuple[str, int] | None:
    """(file, line) of the innermost frame from `frame` outwards in the user's own files (the
    `fit` call a callback runs under, the test that calls a fixture), None if there is none."""
    from losslint.dynamic.capture import user_line

    found = user_line(_NonLibraryFiles().__contains__, frame)
    return (os.path.abspath(found.path), found.line) if found is not None else None


def probe_at(
    model: Any, x: Any, y: Any, batch_size: int | None, where: tuple[str, int], sample_weight: Any = None,
) -> list[Finding]:
    """`probe` with the line findings fall back to (and name as related location) given by the
    caller: the callback's `fit` call, the fixture's test line."""
    return _probe(model, x, y, batch_size, where, sample_weight)


def _probe(
    model: Any, x: Any, y: Any, batch_size: int | None, call: tuple[str, int], sample_weight: Any = None,
) -> list[Finding]:
    from losslint.dynamic.capture import CompileRecord, FitRecord, SourceLine
    from losslint.dynamic.data import first_batch
    from losslint.dynamic.discrepancy import measure
    from losslint.dynamic.probe import run_probes

    if not getattr(model, "compiled", False):
        raise ValueError("losslint.probe needs a compiled model: call model.compile(...) first")
    where = SourceLine(*call)
    config = getattr(getattr(model, "_compile_config", None), "config", None) or {}
    kwargs = {
        key: config.get(key)
        for key in ("loss", "loss_weights", "metrics", "weighted_metrics")
    }
    if kwargs["loss"] is None:
        kwargs["loss"] = getattr(model, "loss", None)
    compile_record = CompileRecord(model=model, kwargs=kwargs, where=where)
    fit = None
    if x is not None or y is not None:
        fit = FitRecord(
            model=model, method="fit", x=x, y=y, sample_weight=sample_weight, batch_size=batch_size, where=where,
        )
        first_batch(fit)
    user_files = _NonLibraryFiles()
    findings = measure(compile_record, fit, user_files).findings
    return findings + run_probes(compile_record, fit, user_files)


def _library_roots() -> tuple[str, ...]:
    roots = {os.path.dirname(os.path.abspath(__file__))}  # losslint itself
    for key in ("purelib", "platlib", "stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.abspath(path))
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix):
        roots.add(os.path.join(os.path.abspath(prefix), "lib"))
    return tuple(sorted(roots))


class _NonLibraryFiles:
    """The user's files for the in-process API: every file outside site-packages, the standard
    library and losslint (the script, notebook cells, helper modules, the tests)."""

    def __init__(self) -> None:
        self.roots = _library_roots()

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str) or not path or path.startswith("<"):
            return False
        full = os.path.abspath(path)
        parts = Path(full).parts
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return not any(full == root or full.startswith(root + os.sep) for root in self.roots)
