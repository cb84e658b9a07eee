"""How often the dynamic pass reaches a verdict on real Keras 3 training code, in a lean environment.

    python bench/dynamic_corpus.py --cache DIR [--mirror /work/.mirror] [--jobs N] [--timeout S]
                                   [--json OUT] [-k SUBSTRING] [--group keras|needs-library]

The corpus is bench/dynamic_corpus.json: scripts and notebooks written by others, each pinned to a
commit of a public GitHub repository. No third-party code is kept in this repository: each entry
is materialised into DIR/<owner+name>/<commit>/<path> (DIR must lie outside the repository) from
the repository's bare snapshot under the mirror (`fetch github:owner/name` puts one at
<mirror>/<owner+name>/...). Only the entry's file and its listed `extra_paths` (sibling modules
or configs it imports or reads) are written; data files never are: the point is to run each entry
the way a user's CI would, with tensorflow-cpu and losslint only, no network and no data.

Each file is then given to `losslint.dynamic.runner.run_script`, --jobs at a time, and its
outcome printed on one line: the verdict ("fit": every loss probed on the real batch; "model":
the script stopped before fit for an environment reason but the model was built and every loss
probed on synthesised targets; "none": no verdict), the seconds taken, the findings' codes with
their severity, and the start of the first error-severity finding's message (else of the first
error, else of the first finding).

Each entry has a `group`. "keras": the model, its losses and the compile/fit calls need only
TensorFlow/Keras (the data loading, plotting and other libraries around them may be missing: the
pass must survive that). "needs-library": building the model or reaching fit needs a library that
losslint[tf,test] does not install (keras_rs, keras_cv, keras_hub models, keras_crf, tf_keras, fit
run only inside an optuna/keras_tuner search, a torch-only loss). Entries marked
`"expect": "unreachable"` build their model from downloaded pretrained weights, in either group.

The criterion is computed on the counted entries: group "keras" and not expected unreachable.
"needs-library" and unreachable entries are run and reported apart, for information only.

Exit status 1 when fewer than 90% of the counted entries reach a verdict or any counted entry
has an error-severity finding; else 0 (also when the selection holds no counted entry). --group
runs one group only; -k only the entries whose repo:path contains a substring. --json writes the
per-entry results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from losslint.dynamic.runner import DynamicOptions, ScriptOutcome, run_script
from losslint.findings import Severity

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "bench" / "dynamic_corpus.json"
VERDICTS = ("fit", "model")
GROUPS = ("keras", "needs-library")
REQUIRED_RATE = 0.90
OUTPUT_TAIL = 4000  # characters of the script's own output kept in --json


@dataclass(frozen=True)
class Entry:
    repo: str
    commit: str
    path: str
    why: str
    extra_paths: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    expect: str = ""  # "unreachable": no verdict is possible offline; not counted
    group: str = "keras"  # "keras" (counted) or "needs-library" (informational)

    @property
    def folder(self) -> str:
        return self.repo.replace("/", "+")

    @property
    def name(self) -> str:
        return f"{self.repo}:{self.path}"

    @property
    def unreachable(self) -> bool:
        return self.expect == "unreachable"

    @property
    def counted(self) -> bool:
        """Part of the criterion: group "keras", not expected unreachable."""
        return self.group == "keras" and not self.unreachable


@dataclass
class Result:
    entry: Entry
    verdict: str = "none"
    seconds: float = 0.0
    peak_rss: int = 0
    findings: list[dict[str, object]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    output_tail: str = ""

    @property
    def error_findings(self) -> list[dict[str, object]]:
        return [f for f in self.findings if f["severity"] == Severity.ERROR.value]

    def line(self) -> str:
        codes = ",".join(f"{f['code']}:{f['severity']}" for f in self.findings) or "-"
        # The first error-severity finding's message; else the first error, else any finding's.
        first = self.error_findings
        if first:
            message = str(first[0]["message"])
        else:
            message = self.errors[0] if self.errors else str(self.findings[0]["message"]) if self.findings else ""
        marks = [] if self.entry.group == "keras" else [self.entry.group]
        if self.entry.unreachable:
            marks.append("expected unreachable")
        mark = f" ({', '.join(marks)})" if marks else ""
        return f"{self.verdict:5} {self.seconds:6.1f}s  {self.entry.name}{mark}  [{codes}]  {message[:100]}"

    def to_json(self) -> dict[str, object]:
        return {
            "repo": self.entry.repo, "commit": self.entry.commit, "path": self.entry.path,
            "group": self.entry.group, "expect": self.entry.expect or None,
            "verdict": self.verdict, "seconds": round(self.seconds, 2),
            "peak_rss": self.peak_rss, "findings": self.findings, "errors": self.errors, "notes": self.notes,
            "details": self.details, "output_tail": self.output_tail,
        }


class BenchError(Exception):
    """A one-line reason the bench cannot go on (missing snapshot, bad cache directory)."""


def load_entries(manifest: Path) -> list[Entry]:
    data = json.loads(manifest.read_text(encoding="utf-8"))
    entries = []
    for e in data["entries"]:
        group = e.get("group")
        if group not in GROUPS:
            raise BenchError(f"{e['repo']}:{e['path']}: group must be one of {', '.join(GROUPS)}, not {group!r}")
        entries.append(Entry(
            repo=e["repo"], commit=e["commit"], path=e["path"], why=e.get("why", ""),
            extra_paths=tuple(e.get("extra_paths", ())), args=tuple(e.get("args", ())), expect=e.get("expect", ""),
            group=group,
        ))
    return entries


def _is_git_dir(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir()


def find_git_dir(mirror: Path, entry: Entry) -> Path:
    """The bare git directory of the entry's snapshot: the mirror folder itself or one below it."""
    top = mirror / entry.folder
    if top.is_dir():
        if _is_git_dir(top):
            return top
        for depth in ("*", "*/*"):
            for candidate in sorted(top.glob(depth)):
                if candidate.is_dir() and _is_git_dir(candidate):
                    return candidate
    raise BenchError(f"no snapshot of {entry.repo} under {mirror}: fetch it first (fetch github:{entry.repo})")


def _git_show(git_dir: Path, commit: str, path: str, repo: str) -> bytes:
    shown = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"], capture_output=True, check=False
    )
    if shown.returncode != 0:
        reason = shown.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BenchError(
            f"{repo}: cannot read {path} at {commit[:12]} from {git_dir} "
            f"({reason[0] if reason else 'git show failed'}); fetch github:{repo} again"
        )
    return shown.stdout


def materialise(entry: Entry, cache: Path, mirror: Path) -> Path:
    """Write the entry's file and extra paths under the cache (once); return the file's path."""
    base = cache / entry.folder / entry.commit
    git_dir: Path | None = None
    for relative in (entry.path, *entry.extra_paths):
        target = base / relative
        if target.exists():
            continue
        git_dir = git_dir or find_git_dir(mirror, entry)
        content = _git_show(git_dir, entry.commit, relative, entry.repo)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(content)
        partial.replace(target)
    return base / entry.path


def _finding_dict(finding: object) -> dict[str, object]:
    severity = getattr(finding, "severity", "")
    return {
        "code": getattr(finding, "code", "?"),
        "severity": getattr(severity, "value", str(severity)),
        "cell": getattr(finding, "cell", None),  # in a notebook, `line` counts within this code cell
        "line": getattr(finding, "line", 0),
        "message": getattr(finding, "message", ""),
    }


def run_entry(entry: Entry, script: Path, timeout: float) -> Result:
    options = DynamicOptions(timeout=timeout, script_args=entry.args)
    result = Result(entry)
    started = time.perf_counter()
    try:
        outcome: ScriptOutcome = run_script(script, entry.name, options)
    except Exception as error:  # the bench reports a crash of the pass itself, and goes on
        result.seconds = time.perf_counter() - started
        result.errors.append(f"run_script raised {type(error).__name__}: {error}")
        return result
    result.verdict = str(getattr(outcome, "verdict", "none") or "none")
    result.seconds = outcome.seconds
    result.peak_rss = outcome.peak_rss
    result.findings = [_finding_dict(f) for f in outcome.findings]
    result.errors = list(outcome.errors)
    result.notes = list(outcome.notes)
    result.details = list(getattr(outcome, "details", ()))
    result.output_tail = outcome.output[-OUTPUT_TAIL:]
    return result


def _tally(results: list[Result]) -> tuple[str, float, list[Result]]:
    """One line of verdict figures for these results, the verdict rate, and those with an error finding."""
    reached = [r for r in results if r.verdict in VERDICTS]
    by_verdict = {v: sum(r.verdict == v for r in results) for v in (*VERDICTS, "none")}
    with_errors = [r for r in results if r.error_findings]
    rate = len(reached) / len(results) if results else 1.0
    line = (
        f"verdict reached {len(reached)}/{len(results)} = {rate:.0%} "
        f"(fit {by_verdict['fit']}, model {by_verdict['model']}, none {by_verdict['none']}); "
        f"with an error-severity finding: {len(with_errors)}"
    )
    return line, rate, with_errors


def summary(results: list[Result], wall: float) -> tuple[list[str], bool]:
    """The summary lines, and whether the corpus passes (on the counted "keras" entries alone)."""
    counted = [r for r in results if r.entry.counted]
    library = [r for r in results if r.entry.group == "needs-library" and not r.entry.unreachable]
    unreachable = [r for r in results if r.entry.unreachable]
    lines = [
        f"{len(results)} entries: {len(counted)} counted (group keras), {len(library)} needs-library, "
        f"{len(unreachable)} expected unreachable"
    ]
    passed = True
    if counted:
        line, rate, with_errors = _tally(counted)
        passed = rate >= REQUIRED_RATE and not with_errors
        verdict = "PASS" if passed else "FAIL"
        lines.append(f"criterion, group keras: {line} -> {verdict} (needs >= {REQUIRED_RATE:.0%} and no error)")
        lines.extend(f"  no verdict: {r.entry.name}" for r in counted if r.verdict not in VERDICTS)
        lines.extend(f"  error finding: {r.entry.name}" for r in with_errors)
    else:
        lines.append("criterion, group keras: no counted entry in this selection")
    if library:
        line, _, _ = _tally(library)
        lines.append(f"informational, group needs-library: {line}")
    if unreachable:
        line, _, _ = _tally(unreachable)
        lines.append(f"informational, expected unreachable: {line}")
        lines.append("  " + ", ".join(f"{r.entry.path}={r.verdict}" for r in unreachable))
    total = sum(r.seconds for r in results)
    lines.append(f"total time: {total:.0f} s of runs, {wall:.0f} s wall")
    return lines, passed


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="where files are materialised (outside the repo)")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"), help="folder of the git snapshots")
    parser.add_argument("--jobs", type=int, default=2, help="entries run at once")
    parser.add_argument("--timeout", type=float, default=DynamicOptions.timeout, help="seconds per entry")
    parser.add_argument("--json", type=Path, help="write the per-entry results here")
    parser.add_argument("-k", dest="select", help="only entries whose repo:path contains this substring")
    parser.add_argument("--group", choices=GROUPS, help="only the entries of this group")
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    cache = args.cache.resolve()
    if cache == ROOT or ROOT in cache.parents:
        print(f"error: --cache {cache} is inside the repository; give a directory outside it", file=sys.stderr)
        return 2
    try:
        entries = load_entries(args.manifest)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.select:
        entries = [e for e in entries if args.select in e.name]
    if args.group:
        entries = [e for e in entries if e.group == args.group]
    if not entries:
        print("error: no entry matches", file=sys.stderr)
        return 2
    try:
        scripts = [materialise(e, cache, args.mirror) for e in entries]
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    done: dict[int, Result] = {}
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {
            pool.submit(run_entry, entry, script, args.timeout): index
            for index, (entry, script) in enumerate(zip(entries, scripts))
        }
        for future in as_completed(futures):
            index = futures[future]
            done[index] = future.result()
            print(f"[{len(done):2}/{len(entries)}] {done[index].line()}", flush=True)
    wall = time.perf_counter() - started
    results = [done[i] for i in range(len(entries))]

    lines, passed = summary(results, wall)
    print()
    for line in lines:
        print(line)
    if args.json:
        args.json.write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
