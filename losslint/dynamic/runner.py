"""The parent side of the dynamic pass: one sandboxed child process per script.

The parent never imports TensorFlow, never hangs (timeout, then the child's stack is dumped and
the child killed), and never loses the static findings: every failure of the child becomes a
finding or a one-line error.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import losslint
from losslint import registry
from losslint.findings import Finding, Pass, RelatedLocation, Severity

if TYPE_CHECKING:
    from losslint.static.notebook import Notebook

_POLL_SECONDS = 0.05
_DUMP_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


@dataclass(frozen=True)
class DynamicOptions:
    timeout: float = 120.0
    max_memory: int = 4 * 2**30  # bytes of resident memory
    device: str = "cpu"
    stub_data: bool = True
    script_args: tuple[str, ...] = ()
    jobs: int = 0  # 0: one per core


@dataclass
class ScriptOutcome:
    path: str  # as displayed
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # shown with -v: stand-ins, skipped statements
    output: str = ""  # the script's own stdout and stderr, shown with -v
    # (path, line) of custom train_steps whose loss the dynamic pass measured consistent.
    consistent_steps: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss: int = 0
    # How far the probe got: "fit" (every model probed with the real batch), "model" (every
    # model probed on targets made from its outputs: the data was not there), "none".
    verdict: str = "none"
    stubbed_out_of_memory: bool = False  # stopped for memory while keras.datasets was stood in


def finding_from_dict(data: dict, display: dict[str, str]) -> Finding:
    def shown(path: str) -> str:
        return display.get(path, _relative(path))

    related = tuple(
        RelatedLocation(shown(r["path"]), r["line"], r["column"], r["message"]) for r in data.get("related", ())
    )
    return Finding(
        code=data["code"], name=data["name"], severity=Severity(data["severity"]), path=shown(data["path"]),
        line=data["line"], column=data["column"], end_line=data["end_line"], end_column=data["end_column"],
        message=data["message"], fix=data["fix"], pass_=Pass(data.get("pass_", "dynamic")), related=related,
        scope_line=data.get("scope_line"),
    )


def _relative(path: str) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _script_finding(script: Path, display: str, line: int, message: str, fix: str, code: str = "LL002") -> Finding:
    rule = registry.get(code)
    assert rule is not None
    return Finding(
        code=rule.code, name=rule.name, severity=rule.severity, path=display, line=line, column=1,
        end_line=line, end_column=2, message=message, fix=fix, pass_=Pass.DYNAMIC,
    )


def _dump_line(dump: str, script: Path) -> int | None:
    """The script's innermost line in a faulthandler dump (most recent call first)."""
    target = str(script.resolve())
    for match in _DUMP_FRAME.finditer(dump):
        if os.path.abspath(match["file"]) == target:
            return int(match["line"])
    return None


def _environment(options: DynamicOptions) -> dict[str, str]:
    env = dict(os.environ)
    if options.device != "gpu":
        env["CUDA_VISIBLE_DEVICES"] = "-1"  # a probe never takes a training machine's GPU
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["MPLBACKEND"] = "Agg"  # plt.show() must not wait for a window
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in the user's folders
    # The probe runs on TensorFlow; the child says so when the user asked for another backend.
    user_backend = env.get("KERAS_BACKEND")
    if user_backend and user_backend != "tensorflow":
        env["LOSSLINT_USER_KERAS_BACKEND"] = user_backend
    env["KERAS_BACKEND"] = "tensorflow"
    package_parent = str(Path(losslint.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    return env


def run_script(script: Path, display: str, options: DynamicOptions) -> ScriptOutcome:
    """Run one script (or notebook: its code cells in order) in a sandboxed child process."""
    outcome = ScriptOutcome(display)
    book = None
    if script.suffix == ".ipynb":
        from losslint.static import notebook

        try:
            book = notebook.read(script.read_bytes())
        except (OSError, ValueError) as error:
            outcome.errors.append(f"{display}: dynamic pass: {error}")
            return outcome
    outcome = _run_child(script, display, options, book)
    if outcome.stubbed_out_of_memory:
        # Full-size stand-ins for keras.datasets (60,000 MNIST images) made the script too big
        # for --max-memory (a multi-hot of all of IMDB): a tenth of the samples is enough.
        first = outcome.seconds
        outcome = _run_child(script, display, options, book, stub_scale=0.1)
        outcome.seconds += first
        outcome.details.append(
            f"{display}: ran out of memory on full-size stand-ins for keras.datasets; ran again with a tenth of the samples"
        )
    if book is not None:
        outcome.findings = [book.map_finding(f) if f.path == display else f for f in outcome.findings]
    return outcome


def _run_child(
    script: Path, display: str, options: DynamicOptions, book: Notebook | None, stub_scale: float = 1.0,
) -> ScriptOutcome:
    outcome = ScriptOutcome(display)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="losslint-") as tmp:
        work = Path(tmp)
        (work / "scratch").mkdir()
        request = {
            "source": book.source if book is not None else None,
            "places": [[p.cell, p.line] for p in book.places] if book is not None else None,
            "scratch": str(work / "scratch"),
            "script": str(script.resolve()),
            "script_args": list(options.script_args),
            "stub_data": options.stub_data,
            "stub_scale": stub_scale,
            "result": str(work / "result.json"),
            "dump": str(work / "stack.txt"),
        }
        (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
        with open(work / "output.txt", "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "losslint.dynamic.child", str(work / "request.json")],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                env={**_environment(options), "TMPDIR": str(work / "scratch")}, start_new_session=True,
            )
            stopped = _watch(process, options, outcome)
        outcome.seconds = time.perf_counter() - started
        outcome.output = (work / "output.txt").read_text(encoding="utf-8", errors="replace")
        dump = (work / "stack.txt").read_text(encoding="utf-8", errors="replace") if (work / "stack.txt").exists() else ""
        stubbed = (work / "stubbed").exists()
        result_file = work / "result.json"
        result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.exists() else None

    if stopped == "timeout":
        line = _dump_line(dump, script) or 1
        outcome.findings.append(_script_finding(
            script, display, line,
            f"the script did not reach fit within {options.timeout:g} s (it was at line {line} when stopped)",
            "make the script reach model.fit(...) faster (smaller data for the check), or raise --timeout",
            code="LL003",
        ))
        return outcome
    if stopped == "memory":
        if stubbed and stub_scale == 1.0:
            outcome.stubbed_out_of_memory = True
            return outcome
        line = _dump_line(dump, script) or 1
        # The sandbox's limit, not a bug in the script: a warning that the probe did not run.
        outcome.findings.append(_script_finding(
            script, display, line,
            f"the script used more than {options.max_memory / 2**30:.1f} GiB of memory before fit "
            f"(at line {line}); the dynamic pass stopped it, so no loss was probed",
            "use less data before fit (the probe needs only one batch), or raise --max-memory",
            code="LL006",
        ))
        return outcome
    if result is None:
        returncode = process.returncode
        line = _dump_line(dump, script) or 1
        if returncode is not None and returncode < 0:
            name = signal.Signals(-returncode).name
            why = "was killed (SIGKILL), most likely out of memory" if name == "SIGKILL" else f"crashed with {name}"
        else:
            why = f"ended the process with exit code {returncode}"
        outcome.findings.append(_script_finding(
            script, display, line, f"the script {why} before reaching fit (line {line}), so nothing was probed",
            "let the script run up to model.fit(...)",
        ))
        return outcome
    outcome.verdict = result.get("verdict", "none")
    if result.get("error"):
        outcome.errors.append(f"{display}: dynamic pass: {result['error']}")
    display_paths = {str(script.resolve()): display}
    outcome.findings.extend(finding_from_dict(f, display_paths) for f in result.get("findings", ()))
    outcome.notes.extend(result.get("notes", ()))
    outcome.details.extend(result.get("details", ()))
    outcome.consistent_steps.extend(
        (display_paths.get(path, _relative(path)), line) for path, line in result.get("consistent_steps", ())
    )
    return outcome


def _watch(process: subprocess.Popen, options: DynamicOptions, outcome: ScriptOutcome) -> str | None:
    """Wait for the child; None when it ended by itself, else why it was stopped."""
    deadline = time.monotonic() + options.timeout
    while process.poll() is None:
        rss = _rss(process.pid)
        outcome.peak_rss = max(outcome.peak_rss, rss)
        reason = "memory" if rss > options.max_memory else "timeout" if time.monotonic() > deadline else None
        if reason is not None:
            _stop(process)
            return reason
        time.sleep(_POLL_SECONDS)
    return None


def _stop(process: subprocess.Popen) -> None:
    """Ask the child for a stack dump (where was it?), then kill its whole process group."""
    try:
        os.kill(process.pid, signal.SIGUSR1)
        time.sleep(0.3)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def missing_requirement() -> str | None:
    """Why the dynamic pass cannot run in this environment (without importing TensorFlow)."""
    import importlib.util

    for module in ("tensorflow", "keras", "numpy"):
        if importlib.util.find_spec(module) is None:
            return f'the dynamic pass needs TensorFlow ({module} is not installed): pip install "losslint[tf]"'
    return None


def run_scripts(scripts: list[tuple[Path, str]], options: DynamicOptions) -> list[ScriptOutcome]:
    """Run several scripts in parallel child processes (--jobs), results in input order."""
    jobs = options.jobs or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(scripts) or 1))) as pool:
        return list(pool.map(lambda item: run_script(item[0], item[1], options), scripts))


def merge(static: list[Finding], dynamic: list[Finding], consistent_steps: set[tuple[str, int]] = frozenset()) -> list[Finding]:
    """One finding per problem. Where both passes report a code for the same place, keep the
    dynamic finding, which carries the measured evidence (shapes, values), at the static span,
    which is exact: the same line, or the dynamic pass's loss `def`/compile line when the static
    finding sits in that loss or call. A crash (LL002: the script raised; LL206: the loss raised
    when probed) on the line of a static finding is its consequence: it becomes that finding's
    evidence, and the finding an error.
    A static LL301 is dropped where the dynamic pass measured that train_step's loss equal to
    the compiled loss."""
    remaining = [
        f for f in static if not (f.code == "LL301" and (f.path, f.line) in consistent_steps)
    ]
    merged = []
    evidenced: set[int] = set()  # indexes in `remaining` of the findings a crash was folded into
    for finding in dynamic:
        twin = _twin(finding, remaining)
        if twin is not None:
            remaining.remove(twin)
            merged.append(dataclasses.replace(
                finding, line=twin.line, column=twin.column, end_line=twin.end_line,
                end_column=twin.end_column, scope_line=twin.scope_line or finding.scope_line,
                related=finding.related or twin.related,
            ))
            continue
        cause = _cause(finding, remaining) if finding.code in ("LL002", "LL206") else None
        if cause is not None:  # the crash is the static finding's measured consequence: an error
            index = next(i for i, f in enumerate(remaining) if f is cause)
            if index not in evidenced:  # the same crash on another output says nothing new
                evidenced.add(index)
                remaining[index] = dataclasses.replace(
                    cause, severity=Severity.ERROR, message=f"{cause.message}; measured: {finding.message}"
                )
            continue
        merged.append(finding)
    return remaining + merged


def _twin(finding: Finding, static: list[Finding]) -> Finding | None:
    same = [f for f in static if f.path == finding.path and f.code == finding.code and f.cell == finding.cell]
    for f in same:
        if f.line == finding.line:
            return f
    for f in same:
        if finding.line == f.scope_line or any(r.path == f.path and r.line == finding.line for r in f.related):
            return f
    return None


def _cause(crash: Finding, static: list[Finding]) -> Finding | None:
    """The static finding on the line that raised (or in the call that raised: a removed
    keyword argument)."""
    there = [f for f in static if f.path == crash.path and f.cell == crash.cell and crash.line in (f.line, f.scope_line)]
    there.sort(key=lambda f: f.severity != Severity.ERROR)  # `Adam(lr=..., decay=...)`: the error raised
    return there[0] if there else None
