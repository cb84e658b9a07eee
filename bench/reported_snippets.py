"""Recall of the static pass on real reported bugs: programs and snippets from issue threads,
Q&A posts and deep-learning bug benchmarks whose bug is visible in the source and belongs to the
rule catalogue, kept exactly as their authors posted or committed them (snippets without their
imports, losses never given to `compile`, fragments cut out of a method), plus fixed or correct
versions from the same sources.

    python bench/reported_snippets.py [--cache DIR] [--mirror /work/.mirror] [-k SUBSTRING]
                                      [--json OUT]

The manifest is bench/reported_snippets.json. No third-party code is kept in this repository:
hand-stored snippets are read from DIR/<file> (default ~/.cache/losslint-snippets) and checked
against the manifest's sha256; repository entries (repo, commit, path) are materialised into
DIR/<owner+name>/<commit>/<path> from the git snapshots under --mirror, the way
bench/dynamic_corpus.py materialises its own (`fetch github:owner/name` puts one there).

Each entry lists its bugs: a catalogue code and the line(s) where a reader would point at it
(for a notebook, the code cell and the line in that cell). Each file is linted on its own by the
static pass (`losslint.runner.run`, in-process, no cache) and every bug is classified:

    hit        a finding with the bug's code within 2 lines of one of its lines
    elsewhere  a finding with the bug's code, at another line
    other      no finding with that code, but findings with other codes in the file
    missed     no finding at all in the file

Printed per entry: its bugs and their class, the findings (code:line), and for each bug not hit
the entry's traits (`no-imports`, `not-compiled`, `does-not-parse`, ...: what makes the snippet
hard, recorded in the manifest), so that a miss reads with its likely reason. Totals: recall
(hits / bugs), recall at any line, entries with at least one bug hit; precision of the findings
on the buggy entries (a finding is right when it hits one of the entry's bugs or its code is in
the entry's `also` list: other real catalogue problems in the same source, e.g. a Keras 2 API);
clean rate of the fixed entries (no finding outside their `also` list); and the traits of the
bugs not hit, counted, most frequent first.

-k keeps the entries whose id or source contains a substring; --json writes the per-entry
results. Exit status 1 when an entry cannot be read (missing snapshot, changed snippet), else 0:
the figures are a measure, not a gate.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dynamic_corpus import BenchError, materialise
from dynamic_corpus import Entry as RepoEntry

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "bench" / "reported_snippets.json"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "losslint-snippets"
DEFAULT_MIRROR = Path("/work/.mirror")
LINE_SLACK = 2
CLASSES = ("hit", "elsewhere", "other", "missed")


@dataclass(frozen=True)
class Place:
    line: int
    cell: int | None = None  # notebooks: the code cell (1-based, code cells only), `line` within it

    def near(self, line: int, cell: int | None) -> bool:
        return self.cell == cell and abs(self.line - line) <= LINE_SLACK

    def __str__(self) -> str:
        return f"cell {self.cell}:{self.line}" if self.cell else str(self.line)


@dataclass(frozen=True)
class Bug:
    code: str
    places: tuple[Place, ...]
    description: str


@dataclass(frozen=True)
class Snippet:
    id: str
    kind: str  # "buggy" or "fixed"
    source: dict[str, str]
    bugs: tuple[Bug, ...]
    traits: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    file: str = ""  # hand-stored: the file under the cache, with its sha256
    sha256: str = ""
    note: str = ""

    @property
    def origin(self) -> str:
        src = self.source
        return src.get("url", "") if self.file else f"{src['repo']}@{src['commit'][:10]}:{src['path']}"


@dataclass
class Finding:
    code: str
    line: int
    cell: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.code}:{f'cell {self.cell}:' if self.cell else ''}{self.line}"


@dataclass
class Outcome:
    snippet: Snippet
    findings: list[Finding] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)  # one per bug, in order
    errors: list[str] = field(default_factory=list)

    def right(self, finding: Finding) -> bool:
        """The finding hits one of the entry's bugs, or is a known other problem of the source."""
        if finding.code in self.snippet.also:
            return True
        return any(
            bug.code == finding.code and any(p.near(finding.line, finding.cell) for p in bug.places)
            for bug in self.snippet.bugs
        )

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.snippet.id, "kind": self.snippet.kind, "origin": self.snippet.origin,
            "bugs": [
                {"code": b.code, "at": [str(p) for p in b.places], "class": c}
                for b, c in zip(self.snippet.bugs, self.classes)
            ],
            "findings": [{"code": f.code, "line": f.line, "cell": f.cell, "right": self.right(f),
                          "message": f.message} for f in self.findings],
            "traits": list(self.snippet.traits), "errors": self.errors,
        }


def load(manifest: Path) -> list[Snippet]:
    data = json.loads(manifest.read_text(encoding="utf-8"))
    snippets = []
    for e in data["entries"]:
        if e["kind"] not in ("buggy", "fixed") or (e["kind"] == "buggy") != bool(e["bugs"]):
            raise BenchError(f"{e['id']}: a buggy entry needs bugs, a fixed one none")
        bugs = tuple(
            Bug(b["code"], tuple(Place(p["line"], p.get("cell")) for p in b["at"]), b["description"]) for b in e["bugs"]
        )
        snippets.append(Snippet(
            id=e["id"], kind=e["kind"], source=e["source"], bugs=bugs, traits=tuple(e.get("traits", ())),
            also=tuple(e.get("also", ())), file=e.get("file", ""), sha256=e.get("sha256", ""), note=e.get("note", ""),
        ))
    return snippets


def locate(snippet: Snippet, cache: Path, mirror: Path) -> Path:
    """The local copy of the entry: the hand-stored file (checked) or the materialised one."""
    if snippet.file:
        path = cache / snippet.file
        if not path.is_file():
            raise BenchError(f"{snippet.id}: {path} is missing (store the snippet from {snippet.source['url']})")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != snippet.sha256:
            raise BenchError(f"{snippet.id}: {path} has changed (sha256 {digest[:12]}, manifest {snippet.sha256[:12]})")
        return path
    src = snippet.source
    return materialise(RepoEntry(repo=src["repo"], commit=src["commit"], path=src["path"], why=""), cache, mirror)


def classify(bug: Bug, findings: list[Finding]) -> str:
    same = [f for f in findings if f.code == bug.code]
    if any(p.near(f.line, f.cell) for f in same for p in bug.places):
        return "hit"
    if same:
        return "elsewhere"
    return "other" if findings else "missed"


def lint(snippet: Snippet, path: Path) -> Outcome:
    from losslint.config import Config
    from losslint.runner import run

    result = run([str(path)], Config(root=path.parent))
    outcome = Outcome(snippet, errors=list(result.errors))
    outcome.findings = [Finding(f.code, f.line, f.cell, f.message) for f in result.findings]
    outcome.classes = [classify(bug, outcome.findings) for bug in snippet.bugs]
    return outcome


def report(outcomes: list[Outcome]) -> dict[str, object]:
    """Print the per-entry lines and the totals; return the totals."""
    for o in outcomes:
        s = o.snippet
        found = ", ".join(str(f) + ("" if o.right(f) else "?") for f in o.findings) or "-"
        if s.kind == "buggy":
            bugs = "  ".join(f"{b.code}@{'/'.join(map(str, b.places))}:{c}" for b, c in zip(s.bugs, o.classes))
            print(f"{s.id:34} {bugs}  found [{found}]")
            for bug, cls in zip(s.bugs, o.classes):
                if cls != "hit":
                    parse = " (LL001: does not parse)" if any(f.code == "LL001" for f in o.findings) else ""
                    print(f"{'':34}   {cls} {bug.code}{parse}: {bug.description[:90]}; traits: {', '.join(s.traits) or '-'}")
        else:
            verdict = "clean" if all(o.right(f) for f in o.findings) else "NOT CLEAN"
            print(f"{s.id:34} fixed: {verdict}  found [{found}]")
        for error in o.errors:
            print(f"{'':34}   error: {error}")
    buggy = [o for o in outcomes if o.snippet.kind == "buggy"]
    fixed = [o for o in outcomes if o.snippet.kind == "fixed"]
    classes = [c for o in buggy for c in o.classes]
    counts = {c: classes.count(c) for c in CLASSES}
    n = len(classes)
    findings = [(o, f) for o in buggy for f in o.findings]
    right = sum(o.right(f) for o, f in findings)
    entries_hit = sum("hit" in o.classes for o in buggy)
    clean = sum(all(o.right(f) for f in o.findings) for o in fixed)
    unparsed = sum(any(f.code == "LL001" for f in o.findings) for o in buggy)

    def pct(a: int, b: int) -> str:
        return f"{a}/{b} ({100 * a / b:.0f}%)" if b else "-"

    print()
    print(f"buggy entries: {len(buggy)} with {n} bugs; fixed entries: {len(fixed)}")
    print(f"  bugs: {', '.join(f'{c} {counts[c]}' for c in CLASSES)}")
    print(f"  recall (right code within {LINE_SLACK} lines): {pct(counts['hit'], n)}")
    print(f"  recall at any line:                  {pct(counts['hit'] + counts['elsewhere'], n)}")
    print(f"  entries with a bug hit:              {pct(entries_hit, len(buggy))}")
    print(f"  buggy entries that do not parse (LL001): {unparsed}")
    print(f"  precision of the findings on buggy entries: {pct(right, len(findings))}")
    print(f"  fixed entries clean: {pct(clean, len(fixed))}")
    # What the bugs not hit have in common (an entry's traits apply to each of its bugs): the
    # first places to look when improving recall.
    traits: dict[str, int] = {}
    for o in buggy:
        for cls in o.classes:
            if cls != "hit":
                for trait in o.snippet.traits or ("-",):
                    traits[trait] = traits.get(trait, 0) + 1
    ranked = sorted(traits.items(), key=lambda item: (-item[1], item[0]))
    print(f"  bugs not hit, by trait: {', '.join(f'{t} {c}' for t, c in ranked) or '-'}")
    return {
        "buggy_entries": len(buggy), "bugs": n, **counts, "entries_hit": entries_hit,
        "findings_on_buggy": len(findings), "findings_right": right,
        "fixed_entries": len(fixed), "fixed_clean": clean, "buggy_unparsed": unparsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    parser.add_argument("-k", dest="keyword", default="")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    cache = args.cache.resolve()
    if cache == ROOT or ROOT in cache.parents:
        sys.exit(f"--cache must lie outside the repository, not {cache}")
    snippets = [s for s in load(MANIFEST) if args.keyword in s.id or args.keyword in s.origin]
    outcomes, failed = [], []
    for snippet in snippets:
        try:
            path = locate(snippet, cache, args.mirror)
        except BenchError as error:
            failed.append(str(error))
            continue
        outcomes.append(lint(snippet, path))
    totals = report(outcomes)
    for error in failed:
        print(f"error: {error}")
    if args.json:
        args.json.write_text(json.dumps(
            {"totals": totals, "entries": [o.to_json() for o in outcomes], "errors": failed}, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
