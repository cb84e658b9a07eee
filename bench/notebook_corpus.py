"""Precision of the static pass on real Jupyter notebooks.

    python bench/notebook_corpus.py --cache DIR [--mirror /work/.mirror] [-k SUBSTRING]

The corpus is bench/notebook_corpus.json: notebooks of public tutorial collections, each pinned
to a commit of its GitHub repository. No third-party notebook is kept in this repository: each
is materialised into DIR/<owner+name>/<commit>/<path> (DIR must lie outside the repository) from
the repository's bare snapshot under the mirror (`fetch github:owner/name` puts one there), by
bench/dynamic_corpus.py's `materialise`.

The static pass then runs on them (as `losslint` does, no cache) and the findings are printed by
code and severity, by notebook, then one per line. An entry's `expect` lists error-severity
findings verified to be true (code, cell and the evidence): they are counted apart.

Exit status 1 on any other error-severity finding (every one is a false alarm to fix, or a bug of
the notebook to verify and list under `expect`), on an expected finding that is no longer
reported, or on an internal error of the pass; else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from dynamic_corpus import BenchError, Entry, materialise

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "bench" / "notebook_corpus.json"


def load(manifest: Path) -> list[tuple[Entry, list[dict[str, object]]]]:
    """The manifest's entries, each with its expected (verified true) error findings."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return [
        (Entry(repo=e["repo"], commit=e["commit"], path=e["path"], why=e.get("why", "")), list(e.get("expect", ())))
        for e in data["entries"]
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="where notebooks are materialised (outside the repo)")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"), help="folder of the git snapshots")
    parser.add_argument("-k", dest="select", help="only entries whose repo:path contains this substring")
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cache = args.cache.resolve()
    if cache == ROOT or ROOT in cache.parents:
        print(f"error: --cache {cache} is inside the repository; give a directory outside it", file=sys.stderr)
        return 2
    entries = [(e, x) for e, x in load(args.manifest) if not args.select or args.select in e.name]
    if not entries:
        print("error: no entry matches", file=sys.stderr)
        return 2
    try:
        files = {str(materialise(entry, cache, args.mirror)): (entry, expect) for entry, expect in entries}
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    from losslint.config import Config
    from losslint.findings import Severity
    from losslint.runner import run

    started = time.perf_counter()
    result = run(list(files), Config())
    seconds = time.perf_counter() - started
    repos = Counter(entry.repo for entry, _ in files.values())
    print(
        f"{result.files_checked} notebooks ({', '.join(f'{n} from {r}' for r, n in repos.items())}) "
        f"in {seconds:.1f} s: {len(result.findings)} findings"
    )
    for (code, severity), count in sorted(Counter((f.code, f.severity.value) for f in result.findings).items()):
        print(f"  {code} [{severity}]: {count}")
    for path, count in Counter(f.path for f in result.findings).most_common():
        print(f"  {count:4d}  {files[path][0].name}")

    unexpected, missing, verified = [], [], 0
    for path, (entry, expect) in files.items():
        mine = [f for f in result.findings if f.path == path]
        for finding in mine:
            print(f"{entry.name}:cell {finding.cell}:{finding.line}:{finding.column}: {finding.code} "
                  f"[{finding.severity.value}] {finding.message}")
        errors = [f for f in mine if f.severity == Severity.ERROR]
        for item in expect:
            hits = [f for f in errors if f.code == item["code"] and f.cell == item["cell"]]
            if hits:
                verified += 1
                errors = [f for f in errors if f not in hits[:1]]
            else:
                missing.append(f"{entry.name}: expected {item['code']} at cell {item['cell']} is not reported")
        unexpected.extend(f"{entry.name}:cell {f.cell}:{f.line}: {f.code} {f.message}" for f in errors)
    for error in result.errors:
        print(f"error: {error}")
    print(f"error-severity findings: {verified} expected (verified true), {len(unexpected)} unexpected; "
          f"{len(missing)} expected missing")
    for line in [*unexpected, *missing]:
        print(f"  {line}")
    if unexpected or missing or result.errors:
        print("FAIL")
        return 1
    print("OK: no unexpected error-severity finding")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
