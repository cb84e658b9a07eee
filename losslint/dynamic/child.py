"""The child process of the dynamic pass: `python -m losslint.dynamic.child REQUEST.json`.

Runs the user's script as `__main__` with compile/fit intercepted, stops it before training,
probes every compiled model, and writes the findings to the result file named in the request.
The parent never imports TensorFlow; this process does.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import json
import os
import runpy
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from losslint import registry
from losslint.dynamic.capture import SourceLine
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
        self.consistent_steps: list[list] = []  # [path, line] of train_steps measured consistent
        self.error: str | None = None
        self.reached = False
        self.written = False

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
        rule = registry.get("LL002")
        assert rule is not None
        where = where or SourceLine(str(self.script), 1)
        self.findings.append(
            Finding(
                code=rule.code, name=rule.name, severity=rule.severity, path=where.path,
                line=where.line, column=where.column, end_line=where.line, end_column=where.column + 1,
                message=message, fix=fix, pass_=Pass.DYNAMIC,
            )
        )

    def write(self) -> None:
        if self.written:
            return
        self.written = True
        payload = {
            "reached": self.reached,
            "error": self.error,
            "notes": self.notes,
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
        from losslint.dynamic.sandbox import Interceptor, StopBeforeTraining, block_network, stub_datasets

        block_network()
        import keras

        if not keras.__version__.startswith("3."):
            self.error = f"the dynamic pass needs Keras 3, found keras {keras.__version__}"
            return
        if self.request.get("stub_data", True):
            stub_datasets()
        interceptor = Interceptor(self.is_user_file)
        interceptor.install()
        self._guard_exit()

        sys.argv = [str(self.script), *self.request.get("script_args", [])]
        os.chdir(self.root)
        sys.path.insert(0, str(self.root))
        try:
            runpy.run_path(str(self.script), run_name="__main__")
        except StopBeforeTraining:
            self.reached = True
        except SystemExit as stop:
            where = self.user_frame(sys.exc_info()[2])
            self.script_failed(
                f"the script called sys.exit({stop.code!r}) before reaching fit, so nothing was probed",
                where,
                "let the script run up to model.fit(...) (e.g. pass its arguments with --script-args)",
            )
            return
        except BaseException as error:  # the user's script may raise anything
            summary = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()
            text = summary[-1] if summary else type(error).__name__
            blocked = _network_block(error)
            if blocked is not None:
                self.script_failed(
                    f"the script opened a network connection before fit ({blocked}): the dynamic "
                    f"pass runs offline ({text})",
                    self.user_frame(sys.exc_info()[2]),
                    "load the data from local files (keras.datasets.* are stubbed offline), or lint without --dynamic",
                )
                return
            self.script_failed(
                f"the script raised before reaching fit: {text}",
                self.user_frame(sys.exc_info()[2]),
                "fix the error: the dynamic pass needs the script to run up to model.fit(...)",
            )
            return
        if not interceptor.compiles:
            self.script_failed(
                "the script finished without compiling a Keras model, so there was nothing to probe",
                None,
                "call model.compile(...) in the script, or lint it without --dynamic",
            )
            return
        self._probe(interceptor)

    def _probe(self, interceptor: Any) -> None:
        from losslint.dynamic.discrepancy import measure
        from losslint.dynamic.probe import probe_model

        user_files = frozenset({str(self.script)})
        for record in interceptor.compiles:
            fit = next((f for f in interceptor.fits if f.model is record.model), None)
            if fit is None:
                self.notes.append(
                    f"{self.script.name}: model `{getattr(record.model, 'name', '?')}` compiled at line "
                    f"{record.where.line if record.where else '?'} was not fit before the script stopped "
                    "at its first fit: probed without its targets"
                )
            elif "data_error" in fit.extra:
                self.notes.append(f"{self.script.name}: could not read a batch of the fit data: {fit.extra['data_error']}")
            try:
                # The step measurement restores every variable it touches: it goes first.
                step = measure(record, fit, user_files)
                self.findings.extend(step.findings)
                if step.consistent is not None:
                    self.consistent_steps.append([step.consistent.path, step.consistent.line])
            except Exception as error:
                self.notes.append(
                    f"{self.script.name}: internal error while measuring the train_step of model "
                    f"`{getattr(record.model, 'name', '?')}`: {type(error).__name__}: {error}"
                )
            try:
                self.findings.extend(probe_model(record, fit, user_files))
            except Exception as error:  # one model's probe failure must not lose the others
                self.notes.append(
                    f"{self.script.name}: internal error while probing model "
                    f"`{getattr(record.model, 'name', '?')}`: {type(error).__name__}: {error}"
                )

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


def _network_block(error: BaseException) -> str | None:
    """The blocked connection behind an exception, also when a library wrapped it (URLError)."""
    from losslint.dynamic.sandbox import NetworkBlocked

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NetworkBlocked):
            return str(current).replace("losslint sandbox: ", "")
        reason = getattr(current, "reason", None)  # urllib's URLError keeps the cause here
        if isinstance(reason, NetworkBlocked):
            return str(reason).replace("losslint sandbox: ", "")
        current = current.__cause__ or current.__context__
    return None


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
