"""Static pass speed, as ratios against a floor measured in the same run: `libcst.parse_module`
of the same files, one after the other in one process (what any libcst linter pays at least).

Reported: the floor; losslint cold (no cache) in one process and on every core; warm (every
file from the cache); and the wall time of one `losslint` run on one file, process start
included. Corpora:

- default: the bundled fixtures, replicated to >= --min-files files;
- --scripts: real training scripts listed in bench/speed_corpus.json (repository, commit,
  paths), materialised under --cache from the git snapshots under --mirror (`fetch
  github:owner/name` puts one at <mirror>/<owner+name>/...), never copied into this repo;
- --corpus DIR: any folder (e.g. an unpacked keras-hub wheel from bench/precision.py's cache).

    python bench/static_speed.py [--scripts --cache DIR [--mirror DIR]] [--corpus DIR]
                                 [--min-files 300] [--repeat 3] [--pylint]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
MANIFEST = ROOT / "bench" / "speed_corpus.json"


def replicate(target: Path, min_files: int) -> None:
    sources = sorted(FIXTURES.rglob("*.py"))
    copies = -(-min_files // len(sources))
    for copy in range(copies):
        for source in sources:
            dest = target / f"copy{copy:03d}" / source.relative_to(FIXTURES)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)


def materialise(cache: Path, mirror: Path) -> Path:
    """The manifest's scripts under `cache` (written once), read from the git snapshots the
    way bench/dynamic_corpus.py reads its own."""
    from dynamic_corpus import BenchError, Entry
    from dynamic_corpus import materialise as materialise_entry

    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    try:
        for item in manifest["entries"]:
            for path in item["paths"]:
                materialise_entry(Entry(repo=item["repo"], commit=item["commit"], path=path, why=""), cache, mirror)
    except BenchError as error:
        sys.exit(str(error))
    return cache


def timed(repeat: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def parse_all(sources: list[str]) -> None:
    import libcst

    for source in sources:
        try:
            libcst.parse_module(source)
        except Exception:  # noqa: BLE001 - a file libcst cannot parse costs what it costs
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts", action="store_true", help="the real training scripts of bench/speed_corpus.json")
    parser.add_argument("--cache", type=Path, help="where --scripts are materialised (outside the repo)")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--corpus", type=Path, help="lint this folder instead")
    parser.add_argument("--min-files", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pylint", action="store_true", help="also time `pylint -E` on the same files (slow)")
    args = parser.parse_args()

    from losslint.config import Config
    from losslint.runner import run

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.scripts:
            if args.cache is None:
                sys.exit("--scripts needs --cache DIR (outside the repo)")
            shutil.copytree(materialise(args.cache, args.mirror), root / "corpus")
        elif args.corpus:
            shutil.copytree(args.corpus, root / "corpus")
        else:
            replicate(root, args.min_files)
        files = sorted(root.rglob("*.py"))
        sources = [p.read_text(encoding="utf-8", errors="replace") for p in files]
        lines = sum(s.count("\n") for s in sources)
        config = Config(root=root)
        cores = os.cpu_count() or 1

        print(f"static pass on {len(files)} files, {lines} lines ({lines // max(len(files), 1)} per file), "
              f"{cores} cores, median of {args.repeat}, interleaved:")
        # Interleaved, one of each per round: this machine's speed drifts by tens of percent over
        # minutes, and a ratio of two figures measured minutes apart would show the drift.
        actions: dict[str, Callable[[], object]] = {
            "floor: libcst.parse_module, 1 proc": lambda: parse_all(sources),
            "losslint cold, 1 process": lambda: run([tmp], config, jobs=1, no_cache=True),
            f"losslint cold, {cores} processes": lambda: run([tmp], config, jobs=0, no_cache=True),
        }
        timings: dict[str, list[float]] = {label: [] for label in actions}
        for _ in range(args.repeat):
            for label, action in actions.items():
                timings[label].append(timed(1, action))
        run([tmp], config, jobs=0, no_cache=False)  # fill the cache
        warm = timed(args.repeat, lambda: run([tmp], config, jobs=0, no_cache=False))
        floor = statistics.median(timings["floor: libcst.parse_module, 1 proc"])

        def report(label: str, seconds: float) -> None:
            print(f"  {label:36} {seconds:7.3f} s  {len(files) / seconds:8.0f} files/s  {seconds / floor:5.2f}x the floor")

        for label, measured in timings.items():
            report(label, statistics.median(measured))
        report("losslint warm (cache hits only)", warm)
        shutil.rmtree(root / ".losslint_cache", ignore_errors=True)
        if args.pylint:
            command = [sys.executable, "-m", "pylint", "--disable=all", "--enable=E", "--jobs=0", "-sn", tmp]
            report("pylint -E (reference)", timed(1, lambda: subprocess.run(command, capture_output=True)))

    import losslint

    package = Path(losslint.__file__).parent
    no_bytecode = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    # As installed by pip, which byte-compiles the package: one run first writes the bytecode.
    installed = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    print("one file through the CLI (process start included, no cache), median of 5:")
    for name in ("good_seed000.py", "bad_seed000.py"):  # clean, and with findings (their positions)
        one_file = FIXTURES / "LL101-reshape-in-loss" / name
        command = [sys.executable, "-m", "losslint.cli", "--no-cache", str(one_file)]
        # The floor of any libcst linter on one file: start Python, import libcst, parse the file.
        parse_one = [sys.executable, "-c", f"import libcst; libcst.parse_module(open({str(one_file)!r}, encoding='utf-8').read())"]
        for cached in package.rglob("__pycache__"):
            shutil.rmtree(cached)
        runs: dict[str, list[float]] = {"floor": [], "installed": []}
        runs["source"] = [timed(1, lambda: subprocess.run(command, capture_output=True, env=no_bytecode)) for _ in range(5)]
        subprocess.run(command, capture_output=True, check=False, env=installed)
        for _ in range(5):  # interleaved with its floor: this machine's speed drifts
            runs["floor"].append(timed(1, lambda: subprocess.run(parse_one, capture_output=True, env=installed)))
            runs["installed"].append(timed(1, lambda: subprocess.run(command, capture_output=True, env=installed)))
        floor_one, wall, source_only = (statistics.median(runs[k]) for k in ("floor", "installed", "source"))
        print(f"  {name}:")
        print(f"    floor: python, import libcst, parse it     {floor_one:.3f} s")
        print(f"    losslint byte-compiled, as pip installs it  {wall:.3f} s  {wall / floor_one:5.2f}x the floor")
        print(f"    losslint compiled from source at each start {source_only:.3f} s (PYTHONDONTWRITEBYTECODE=1)")


if __name__ == "__main__":
    main()
