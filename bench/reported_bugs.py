"""Recall of `losslint --dynamic` on real reported loss bugs, and whether their fixes come out clean.

    python bench/reported_bugs.py [--cache DIR] [--jobs N] [--timeout S] [--json OUT] [-k SUBSTRING]
                                  [--allow-modified]

The collection is bench/reported_bugs.json: loss bugs that users reported in public (GitHub issue
and pull-request threads, Q&A pages), each with its source, its class (issue 13's nine classes, or
"other" for the rest of the catalogue), the codes that name the problem and a one-line account of
the bug. For each report there are two Keras 3 scripts, written for this bench but reproducing
third-party code, so they are kept outside the repository: DIR/<id>/bad.py keeps the reporter's
bug, with synthetic data, as a whole script that reaches fit; DIR/<id>/fixed.py is the fixed
counterpart. DIR (default ~/.cache/losslint-bugs) must lie outside the repository. The manifest
holds the sha256 of both files: a local copy that differs is refused (exit 2) unless
--allow-modified, so the figures are always those of the copy the manifest describes.

Each script goes through what `losslint --dynamic FILE` runs (losslint.runner.run with the
default configuration: the static pass, then `losslint.dynamic.runner.run_script` in a sandboxed
child, and the merge of both), --jobs scripts at a time. A finding counts if its severity is error
or warning (an LL005 info only says the data was stood in). Per entry it prints the expected
codes, the codes found in the bad script and the verdict: "right" (an expected code is among
them), "other code" (something else was reported) or "missed" (nothing); then whether the fixed
script is "clean" or which codes it got. The verdict of the dynamic pass alone (without the
static findings) is printed after it, as dyn=...

Totals: recall (right / entries), reported something ((right + other code) / entries), missed, and
the rate of clean fixed scripts; then recall per class, and the dynamic pass's own recall.
Exit status 1 when recall is below 90% or a fixed script is not clean; 0 otherwise. -k runs only
the entries whose id contains a substring; --json writes the per-entry results with every
finding's code, severity, line and message.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/reported_bugs.py`: measure this checkout's losslint
    sys.path.insert(0, str(ROOT))

from losslint.config import Config  # noqa: E402
from losslint.dynamic.runner import DynamicOptions  # noqa: E402
from losslint.findings import Finding, Severity  # noqa: E402
from losslint.runner import run  # noqa: E402

MANIFEST = ROOT / "bench" / "reported_bugs.json"
DEFAULT_CACHE = Path.home() / ".cache" / "losslint-bugs"
REQUIRED_RECALL = 0.90
COUNTED = (Severity.ERROR, Severity.WARNING)
VERDICTS = ("right", "other code", "missed")


class BenchError(Exception):
    """A one-line reason the bench cannot go on (bad manifest, missing or modified local copy)."""


@dataclass(frozen=True)
class Entry:
    id: str
    cls: str
    expected: tuple[str, ...]
    url: str
    title: str
    bug: str
    files: dict[str, tuple[str, str]]  # "bad"/"fixed" -> (path under the cache, sha256)


@dataclass
class Run:
    """One script through `losslint --dynamic`."""

    findings: list[dict[str, object]] = field(default_factory=list)  # merged: what the user sees
    dynamic: list[dict[str, object]] = field(default_factory=list)  # the dynamic pass alone
    errors: list[str] = field(default_factory=list)
    verdict: str = "none"  # the dynamic pass's: "fit", "model" or "none"
    seconds: float = 0.0

    def codes(self, dynamic_only: bool = False) -> list[str]:
        found = self.dynamic if dynamic_only else self.findings
        return sorted({str(f["code"]) for f in found if f["severity"] in {s.value for s in COUNTED}})


@dataclass
class Result:
    entry: Entry
    bad: Run
    fixed: Run
    modified: bool = False

    def verdict(self, dynamic_only: bool = False) -> str:
        codes = self.bad.codes(dynamic_only)
        if any(code in codes for code in self.entry.expected):
            return "right"
        return "other code" if codes else "missed"

    @property
    def fixed_clean(self) -> bool:
        return not self.fixed.codes()

    def line(self) -> str:
        bad = ",".join(self.bad.codes()) or "-"
        fixed = "clean" if self.fixed_clean else ",".join(self.fixed.codes())
        mark = " (local copy modified)" if self.modified else ""
        errors = self.bad.errors + self.fixed.errors
        tail = f"  error: {errors[0][:120]}" if errors else ""
        return (
            f"{self.entry.id}{mark}  class {self.entry.cls}  expected {'/'.join(self.entry.expected)}  "
            f"bad: [{bad}] {self.verdict()}  fixed: {fixed}  dyn={self.verdict(dynamic_only=True)}  "
            f"({self.bad.seconds + self.fixed.seconds:.0f} s){tail}"
        )

    def to_json(self) -> dict[str, object]:
        def one(r: Run) -> dict[str, object]:
            return {
                "codes": r.codes(), "dynamic_codes": r.codes(dynamic_only=True), "probe_verdict": r.verdict,
                "seconds": round(r.seconds, 2), "findings": r.findings, "errors": r.errors,
            }

        return {
            "id": self.entry.id, "class": self.entry.cls, "expected": list(self.entry.expected),
            "source": self.entry.url, "verdict": self.verdict(), "dynamic_verdict": self.verdict(dynamic_only=True),
            "fixed_clean": self.fixed_clean, "modified": self.modified, "bad": one(self.bad), "fixed": one(self.fixed),
        }


def load_entries(manifest: Path) -> list[Entry]:
    data = json.loads(manifest.read_text(encoding="utf-8"))
    entries = []
    for e in data["entries"]:
        files = {which: (f["path"], f["sha256"]) for which, f in e["files"].items()}
        if set(files) != {"bad", "fixed"} or not e["expected"]:
            raise BenchError(f"{e['id']}: an entry needs files bad and fixed and at least one expected code")
        entries.append(Entry(
            id=e["id"], cls=str(e["class"]), expected=tuple(e["expected"]), url=e["source"]["url"],
            title=e["source"].get("title", ""), bug=e.get("bug", ""), files=files,
        ))
    return entries


def check_copy(entry: Entry, cache: Path) -> bool:
    """Whether the local copy is the one the manifest describes (False: modified); raise if missing."""
    same = True
    for relative, digest in entry.files.values():
        path = cache / relative
        if not path.is_file():
            raise BenchError(f"{entry.id}: {path} is missing; write the port there (see its source: {entry.url})")
        same = same and hashlib.sha256(path.read_bytes()).hexdigest() == digest
    return same


def _finding_dict(finding: Finding) -> dict[str, object]:
    return {
        "code": finding.code, "severity": finding.severity.value, "line": finding.line,
        "pass": finding.pass_.value, "message": finding.message,
    }


def lint(script: Path, timeout: float) -> Run:
    """`losslint --dynamic script` with the default configuration, one child at a time."""
    started = time.perf_counter()
    outcome = Run()
    try:
        result = run([str(script)], Config(root=script.parent), dynamic=DynamicOptions(timeout=timeout, jobs=1), jobs=1)
    except Exception as error:  # the bench reports a crash of losslint itself, and goes on
        outcome.errors.append(f"losslint raised {type(error).__name__}: {error}")
        outcome.seconds = time.perf_counter() - started
        return outcome
    outcome.findings = [_finding_dict(f) for f in result.findings]
    for dynamic in result.dynamic:
        outcome.dynamic.extend(_finding_dict(f) for f in dynamic.findings)
        outcome.verdict = str(dynamic.verdict)
    outcome.errors = list(result.errors)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _rate(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.0%}" if whole else "0/0"


def summary(results: list[Result], wall: float) -> tuple[list[str], bool]:
    n = len(results)
    verdicts = Counter(r.verdict() for r in results)
    dynamic = Counter(r.verdict(dynamic_only=True) for r in results)
    clean = sum(r.fixed_clean for r in results)
    recall = verdicts["right"] / n if n else 1.0
    passed = recall >= REQUIRED_RECALL and clean == n
    lines = [
        f"{n} reports",
        f"recall (right code): {_rate(verdicts['right'], n)} -> {'PASS' if recall >= REQUIRED_RECALL else 'FAIL'}"
        f" (needs >= {REQUIRED_RECALL:.0%})",
        f"reported something: {_rate(verdicts['right'] + verdicts['other code'], n)}"
        f" (other code {verdicts['other code']}), missed {verdicts['missed']}",
        f"fixed versions clean: {_rate(clean, n)}",
        f"the dynamic pass alone: recall {_rate(dynamic['right'], n)}, other code {dynamic['other code']},"
        f" missed {dynamic['missed']}",
        "recall per class: " + ", ".join(
            f"{cls} {_rate(sum(r.verdict() == 'right' for r in group), len(group))}"
            for cls, group in _by_class(results).items()
        ),
    ]
    lines.extend(f"  {r.verdict()}: {r.entry.id} (expected {'/'.join(r.entry.expected)}, found "
                 f"{','.join(r.bad.codes()) or 'nothing'})" for r in results if r.verdict() != "right")
    lines.extend(f"  fixed not clean: {r.entry.id} ({','.join(r.fixed.codes())})" for r in results if not r.fixed_clean)
    lines.extend(f"  losslint error: {r.entry.id}: {(r.bad.errors + r.fixed.errors)[0][:160]}"
                 for r in results if r.bad.errors or r.fixed.errors)
    modified = [r.entry.id for r in results if r.modified]
    if modified:
        lines.append(f"local copies that differ from the manifest (--allow-modified): {', '.join(modified)}")
    total = sum(r.bad.seconds + r.fixed.seconds for r in results)
    lines.append(f"total time: {total:.0f} s of runs, {wall:.0f} s wall")
    return lines, passed


def _by_class(results: list[Result]) -> dict[str, list[Result]]:
    groups: dict[str, list[Result]] = {}
    for r in sorted(results, key=lambda r: (not r.entry.cls.isdigit(), r.entry.cls)):
        groups.setdefault(r.entry.cls, []).append(r)
    return groups


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the ports are (outside the repo)")
    parser.add_argument("--jobs", type=int, default=2, help="scripts run at once")
    parser.add_argument("--timeout", type=float, default=DynamicOptions.timeout, help="seconds per script")
    parser.add_argument("--json", type=Path, help="write the per-entry results here")
    parser.add_argument("-k", dest="select", help="only entries whose id contains this substring")
    parser.add_argument("--allow-modified", action="store_true", help="run local copies that differ from the manifest")
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    cache = args.cache.expanduser().resolve()
    if cache == ROOT or ROOT in cache.parents:
        print(f"error: --cache {cache} is inside the repository; give a directory outside it", file=sys.stderr)
        return 2
    try:
        entries = load_entries(args.manifest)
        if args.select:
            entries = [e for e in entries if args.select in e.id]
        if not entries:
            raise BenchError("no entry matches")
        modified = {e.id for e in entries if not check_copy(e, cache)}
    except (BenchError, OSError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if modified and not args.allow_modified:
        print(f"error: local copies differ from the manifest's sha256: {', '.join(sorted(modified))} "
              "(restore them, or run with --allow-modified)", file=sys.stderr)
        return 2

    started = time.perf_counter()
    jobs = [(e, which) for e in entries for which in ("bad", "fixed")]
    runs: dict[tuple[str, str], Run] = {}
    done: list[Result] = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(lint, cache / e.files[which][0], args.timeout): (e, which) for e, which in jobs}
        for future in as_completed(futures):
            entry, which = futures[future]
            runs[(entry.id, which)] = future.result()
            if (entry.id, "bad") in runs and (entry.id, "fixed") in runs:
                done.append(Result(entry, runs[(entry.id, "bad")], runs[(entry.id, "fixed")], entry.id in modified))
                print(f"[{len(done):2}/{len(entries)}] {done[-1].line()}", flush=True)
    wall = time.perf_counter() - started
    order = {e.id: i for i, e in enumerate(entries)}
    results = sorted(done, key=lambda r: order[r.entry.id])

    lines, passed = summary(results, wall)
    print()
    for line in lines:
        print(line)
    if args.json:
        args.json.write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
