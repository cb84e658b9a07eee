"""The child process of the dynamic pass: `python -m losslint.dynamic.child REQUEST.json`.

Runs the user's script as `__main__` with compile/fit intercepted, stops it before training,
probes every compiled model, and writes the findings to the result file named in the request.
The parent never imports TensorFlow; this process does.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import json
import linecache
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from losslint import registry
from losslint.dynamic.capture import SourceLine, and_join
from losslint.dynamic.environment import one_line
from losslint.findings import Finding, Pass

_LEGACY_VALUES = ("1", "true", "True", "yes")
_REAL_EXIT = os._exit


class Child:
    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request
        self.script = Path(request["script"]).resolve()
        self.root = self.script.parent
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        self.details: list[str] = []  # for -v
        self.dropped: list[Finding] = []  # probe findings that guessed sizes may explain
        self.consistent_steps: list[list] = []  # [path, line] of train_steps measured consistent
        self.error: str | None = None
        self.reached = False
        self.written = False
        self.verdict = "none"  # "fit": probed on the real batch; "model": on synthesised targets

    # Which frames belong to the user: the script's folder, minus installed packages.
    def is_user_file(self, filename: str) -> bool:
        if not filename or filename.startswith("<"):
            return False
        path = os.path.abspath(filename)
        if "site-packages" in path or "dist-packages" in path:
            return False
        return path == str(self.script) or path.startswith(str(self.root) + os.sep)

    def user_frame(self, tb: Any) -> SourceLine | None:
        frames = [f for f in traceback.extract_tb(tb) if self.is_user_file(f.filename)]
        if not frames:
            return None
        return SourceLine(os.path.abspath(frames[-1].filename), frames[-1].lineno or 1)

    def script_failed(self, message: str, where: SourceLine | None, fix: str) -> None:
        self._finding("LL002", where or SourceLine(str(self.script), 1), message, fix)

    def write(self) -> None:
        if self.written:
            return
        self.written = True
        for finding in self.dropped:
            self.details.append(f"{self._pos(finding.line)}: not reported, it may come from a stand-in: {finding.code} {finding.message}")
        writes = getattr(self, "writes", None)
        if writes is not None:
            self.details.extend(f"{self.script.name}: {entry}" for entry in writes.log)
        payload = {
            "reached": self.reached,
            "verdict": self.verdict,
            "error": self.error,
            "notes": self.notes,
            "details": self.details,
            "consistent_steps": self.consistent_steps,
            "findings": [dataclasses.asdict(f) for f in self.findings],
        }
        Path(self.request["result"]).write_text(json.dumps(payload, default=str), encoding="utf-8")

    def run(self) -> None:
        if os.environ.get("TF_USE_LEGACY_KERAS") in _LEGACY_VALUES:
            self.error = (
                "TF_USE_LEGACY_KERAS=1 selects tf_keras (Keras 2), which the dynamic pass does not "
                "support: unset it to probe with Keras 3"
            )
            return
        from losslint.dynamic.sandbox import (
            Interceptor, StopBeforeTraining, adapt_without_data, block_network, stub_datasets,
        )

        block_network()
        import keras

        if not keras.__version__.startswith("3."):
            self.error = f"the dynamic pass needs Keras 3, found keras {keras.__version__}"
            return
        if self.request.get("stub_data", True):
            marker = Path(self.request["result"]).with_name("stubbed")
            # The marker tells the parent, even if the process is then killed for its memory.
            stub_datasets(float(self.request.get("stub_scale", 1.0)), lambda name: marker.write_text(name))
        interceptor = Interceptor(self.is_user_file)
        interceptor.install()
        self._guard_exit()

        from losslint.dynamic import standins
        from losslint.dynamic.resume import Executor, main_module

        self.ledger = standins.Ledger(self.is_user_file)
        standins.install(self.ledger)
        adapt_without_data(self._adapt_skipped)
        self._guard_writes()
        sys.argv = [str(self.script), *self.request.get("script_args", [])]
        os.chdir(self.root)
        sys.path.insert(0, str(self.root))
        try:
            source = self.request.get("source")
            if source is not None:  # a notebook's code cells: tracebacks and the probe read these lines
                linecache.cache[str(self.script)] = (len(source), None, source.splitlines(True), str(self.script))
            else:
                source = self.script.read_text(encoding="utf-8", errors="replace")
            executor = Executor(self.script, source, self.ledger, self.is_user_file)
        except SyntaxError as error:
            self.script_failed(f"the script does not compile: {error.msg}", SourceLine(str(self.script), error.lineno or 1),
                               "fix the syntax error")
            return
        try:
            self.execution = executor.run(main_module(self.script).__dict__)
        except StopBeforeTraining:
            self.reached = True
            self.execution = executor.execution
        except SystemExit as stop:
            where = self.user_frame(sys.exc_info()[2])
            self.script_failed(
                f"the script called sys.exit({stop.code!r}) before reaching fit, so nothing was probed",
                where,
                "let the script run up to model.fit(...) (e.g. pass its arguments with --script-args)",
            )
            return
        self._note_standins()
        self._note_backend()
        failure = self.execution.failure
        if failure is not None:
            error, tb = failure
            self.script_failed(
                f"the script raised before reaching fit: {one_line(error)}",
                self.user_frame(tb),
                "fix the error: the dynamic pass needs the script to run up to model.fit(...)",
            )
            return
        causes = self._causes()
        if not interceptor.compiles:
            if causes:
                self._incomplete(causes, "no model was compiled without it, so no loss was probed")
                return
            self.script_failed(
                "the script finished without compiling a Keras model, so there was nothing to probe",
                None,
                "call model.compile(...) in the script, or lint it without --dynamic",
            )
            return
        coverages = self._probe(interceptor)
        self._verdict(interceptor, coverages, causes)

    # -- what the environment lacked -----------------------------------------------------

    def _note_standins(self) -> None:
        for module, (kind, where) in sorted(self.ledger.missing.items()):
            line = f" (imported at {self._at(where.line)})" if where is not None else ""
            what = "a display/plotting module" if kind == "display" else "not installed"
            self.details.append(f"{self.script.name}: `{module}` is {what}{line}: the script ran with an inert stand-in for it")
        for skip in self.execution.skips:
            if skip.reason.kind == "shape":
                self.details.append(f"{self._pos(skip.line)}: {skip.reason.text}")
                continue
            bound = f"; stand-ins for {and_join([f'`{n}`' for n in skip.names])}" if skip.names else ""
            self.details.append(f"{self._pos(skip.line)}: the environment stopped this statement ({skip.reason.text}){bound}")

    def _adapt_skipped(self, layer: str) -> None:
        self.ledger.guesses += 1  # the layer's state is not what the data would give
        self.details.append(f"{self.script.name}: `{layer}`.adapt(...) skipped: its data is not there; the layer keeps its initial state")

    def _note_backend(self) -> None:
        """Keras was imported on TensorFlow before the script ran: a script (or an environment)
        asking for JAX or PyTorch is probed on TensorFlow, and told so."""
        from losslint.dynamic.environment import asked_backend

        asked = asked_backend()
        if asked is not None:
            self.notes.append(
                f"{self.script.name}: KERAS_BACKEND={asked} is asked for; the dynamic pass probes on the "
                "TensorFlow backend"
            )

    def _causes(self) -> list[tuple[SourceLine, str]]:
        """What the script could not have here, where it first needed it, in script order."""
        causes: list[tuple[SourceLine, str]] = []
        kinds: list[str] = []
        for module, (kind, where) in self.ledger.missing.items():
            if kind == "missing" and where is not None:
                causes.append((where, f"`{module}` is not installed"))
                kinds.append("module")
        for where, text in self.ledger.absent[:3]:
            causes.append((where, text))
            kinds.append("file")
        seen: set[tuple[int, str]] = set()
        for skip in self.execution.skips:
            if skip.reason.kind in ("stand-in", "shape") or (skip.origin, skip.reason.text) in seen:
                continue
            seen.add((skip.origin, skip.reason.text))
            if skip.reason.kind == "module" and skip.reason.module in self.ledger.missing:
                continue
            text = skip.reason.text
            if skip.reason.kind == "network":
                text = f"{text}: the dynamic pass runs offline"
            causes.append((SourceLine(skip.path, skip.origin or skip.line), text))
            kinds.append(skip.reason.kind)
        order = sorted(range(len(causes)), key=lambda i: causes[i][0].line)
        # A loader failing on stand-in data is the missing file's consequence, not a cause.
        roots = [causes[i] for i in order if kinds[i] != "data"]
        return roots or [causes[i] for i in order]

    def _cell(self, line: int) -> tuple[int, int] | None:
        """In a notebook, the (cell, line in the cell) of a line of its program."""
        places = self.request.get("places")
        return tuple(places[line - 1]) if places and 1 <= line <= len(places) else None

    def _pos(self, line: int) -> str:
        """`train.py:12`, or in a notebook `nb.ipynb:cell 3:4`, as findings are placed."""
        cell = self._cell(line)
        return f"{self.script.name}:cell {cell[0]}:{cell[1]}" if cell else f"{self.script.name}:{line}"

    def _at(self, line: int) -> str:
        """A line of the script in words: `line 12`, or in a notebook `cell 3, line 4`."""
        cell = self._cell(line)
        return f"cell {cell[0]}, line {cell[1]}" if cell else f"line {line}"

    def _described(self, causes: list[tuple[SourceLine, str]]) -> str:
        parts = [f"{self._at(where.line)}: {text}" for where, text in causes[:3]]
        if len(causes) > 3:
            parts.append(f"and {len(causes) - 3} more")
        return "; ".join(parts)

    def _standin_names(self) -> list[str]:
        names: list[str] = []
        for skip in self.execution.skips:
            names.extend(n for n in skip.names if n not in names)
        return names

    def _finding(self, code: str, where: SourceLine, message: str, fix: str) -> None:
        rule = registry.get(code)
        assert rule is not None
        self.findings.append(Finding(
            code=rule.code, name=rule.name, severity=rule.severity, path=where.path, line=where.line,
            column=where.column, end_line=where.line, end_column=where.column + 1, message=message, fix=fix,
            pass_=Pass.DYNAMIC,
        ))

    def _incomplete(self, causes: list[tuple[SourceLine, str]], consequence: str) -> None:
        blocked = [s for s in self.execution.skips if s.reason.kind == "stand-in"]
        detail = ""
        if blocked:
            first = blocked[0]
            detail = f" ({self._at(first.line)} could not run on the stand-ins: {first.reason.text})"
        self._finding(
            "LL006", causes[0][0],
            f"the script cannot run here as written ({self._described(causes)}); {consequence}{detail}",
            "run losslint --dynamic where the data and modules are, or build the model from constants "
            "(input shape, class count) rather than from the loaded data",
        )

    def _verdict(self, interceptor: Any, coverages: list[tuple[Any, Any]], causes: list[tuple[SourceLine, str]]) -> None:
        # A model with its own train_step whose step was measured on the real batch has its
        # verdict even when it cannot be called on its inputs alone (a diffusion model).
        unprobed = [record for record, coverage in coverages if not coverage.forward and not coverage.step_measured]
        synthetic = [record for record, coverage in coverages if coverage.forward and not coverage.real_targets]
        if unprobed:
            names = and_join([f"`{getattr(r.model, 'name', '?')}`" for r in unprobed])
            if causes:
                self._incomplete(causes, f"model {names} compiled but could not be called on stand-in inputs, so its losses were not probed")
            self.verdict = "none"
            return
        real = any(coverage.real_targets or coverage.step_measured for _, coverage in coverages)
        # Targets built from guessed sizes (`np.zeros((len(paths),) + size)`) are not the real ones.
        derived = bool(causes) and self.ledger.guesses > 0
        self.verdict = "fit" if self.reached and real and not derived else "model"
        if not causes or not (synthetic or derived):
            return
        parts = []
        for record, coverage in coverages:
            where = f" (compiled at {self._at(record.where.line)})" if record.where else ""
            losses = and_join([f"'{name}'" for name in coverage.losses]) or "no loss"
            parts.append(f"model `{getattr(record.model, 'name', '?')}`{where} with {losses}")
        from losslint.dynamic.standins import GUESS

        names = self._standin_names()
        standing = f" with stand-ins for {and_join([f'`{n}`' for n in names[:6]])}" if names else ""
        if self.ledger.guesses:
            standing += (
                f" (where a size was read off the missing data, {GUESS} was used, so failures at "
                "a shape (LL103, LL201, LL203, LL205, LL206) are not reported"
                + (f": {len(self.dropped)} left out" if self.dropped else "") + ")"
            )
        self._finding(
            "LL005", causes[0][0],
            f"the script cannot run here as written ({self._described(causes)}); losslint went on{standing} and "
            f"probed {'; '.join(parts)} on targets made from the outputs' shapes. Not checked without the real "
            "targets: their shapes against the outputs (LL201, LL202), their encoding (LL205) and the measured "
            "train_step loss (LL302)",
            "nothing to fix if the data is there when it trains; for every check, run losslint --dynamic "
            "where the data and modules are",
        )

    def _probe(self, interceptor: Any) -> list[tuple[Any, Any]]:
        from losslint.dynamic.discrepancy import measure
        from losslint.dynamic.probe import Coverage, probe_model

        coverages = []
        user_files = frozenset({str(self.script)})
        for record in interceptor.compiles:
            measured = False
            fit = next((f for f in interceptor.fits if f.model is record.model), None)
            if fit is None:
                self.notes.append(
                    f"{self.script.name}: model `{getattr(record.model, 'name', '?')}` compiled at "
                    f"{self._at(record.where.line) if record.where else 'line ?'} was not fit before the script stopped "
                    "at its first fit: probed without its targets"
                )
            elif "data_error" in fit.extra:
                self.notes.append(f"{self.script.name}: could not read a batch of the fit data: {fit.extra['data_error']}")
            try:
                # The step measurement restores every variable it touches: it goes first.
                step = measure(record, fit, user_files)
                self.findings.extend(step.findings)
                measured = step.consistent is not None or bool(step.findings)
                if step.consistent is not None:
                    self.consistent_steps.append([step.consistent.path, step.consistent.line])
            except Exception as error:
                self.notes.append(
                    f"{self.script.name}: internal error while measuring the train_step of model "
                    f"`{getattr(record.model, 'name', '?')}`: {one_line(error)}"
                )
            coverage = Coverage(guess_inputs=bool(self.execution.skips or self.ledger.uses), step_measured=measured)
            coverages.append((record, coverage))
            try:
                uses = self.ledger.uses
                findings = probe_model(record, fit, user_files, coverage)
                if coverage.guessed_inputs:
                    self.ledger.guesses += 1
                if self.ledger.guesses or self.ledger.uses != uses:
                    # Built on guessed sizes, or a loss that calls a missing module (a torch-only
                    # loss probed on TensorFlow): a failure there says nothing about the real run.
                    kept = [f for f in findings if not _shape_dependent(f)]
                    self.dropped.extend(f for f in findings if _shape_dependent(f))
                    findings = kept
                self.findings.extend(findings)
            except Exception as error:  # one model's probe failure must not lose the others
                self.notes.append(
                    f"{self.script.name}: internal error while probing model "
                    f"`{getattr(record.model, 'name', '?')}`: {one_line(error)}"
                )
        return coverages

    def _guard_writes(self) -> None:
        from losslint.dynamic.writes import WriteGuard

        work = os.path.dirname(os.path.abspath(self.request["result"]))
        scratch = self.request.get("scratch") or os.path.join(work, "scratch")
        os.makedirs(scratch, exist_ok=True)
        sys.dont_write_bytecode = True  # no __pycache__ in the user's folders
        self.writes = WriteGuard(scratch, allowed=(work,))
        self.writes.install()

    def _guard_exit(self) -> None:
        """os._exit() skips every finally: report it before the process goes."""
        real_exit = os._exit
        child = self

        def guarded_exit(code: int) -> None:
            frame = sys._getframe(1)
            where = None
            while frame is not None:
                if child.is_user_file(frame.f_code.co_filename):
                    where = SourceLine(frame.f_code.co_filename, frame.f_lineno)
                    break
                frame = frame.f_back
            child.script_failed(
                f"the script called os._exit({code}) before reaching fit, so nothing was probed",
                where,
                "let the script run up to model.fit(...)",
            )
            child.write()
            real_exit(code)

        os._exit = guarded_exit  # type: ignore[assignment]


def _shape_dependent(finding: Finding) -> bool:
    """A finding about a failure at some shape, which a model built on guessed sizes cannot support."""
    rule = registry.get(finding.code)
    return rule is not None and rule.shape_dependent


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    # Stack dumps for the parent: on a fatal signal, and on SIGUSR1 when the parent times out.
    dump = open(request["dump"], "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    faulthandler.enable(file=dump, all_threads=True)
    faulthandler.register(signal.SIGUSR1, file=dump, all_threads=True)
    child = Child(request)
    try:
        child.run()
    except BaseException as error:  # losslint's own failure: still report what we have
        child.error = f"internal error in the dynamic pass: {type(error).__name__}: {error}"
    finally:
        child.write()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip TensorFlow's interpreter teardown (about a second): the results are written.
    _REAL_EXIT(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
