"""Static pass speed: files/s and lines/s on the fixtures replicated to >= 300 files (or on any
folder given with --corpus, e.g. an unpacked keras-hub wheel), cold on one core, cold on every
core, and warm (cache); the wall time of one `losslint` run on one file, process start included;
and `pylint --disable=all --enable=E` on the same files as a reference, when it is installed.

    python bench/static_speed.py [--min-files 300] [--repeat 3] [--corpus DIR] [--no-pylint]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


def replicate(target: Path, min_files: int) -> tuple[int, int]:
    sources = sorted(FIXTURES.rglob("*.py"))
    copies = -(-min_files // len(sources))
    lines = 0
    for copy in range(copies):
        for source in sources:
            dest = target / f"copy{copy:03d}" / source.relative_to(FIXTURES)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
            lines += source.read_text(encoding="utf-8").count("\n")
    return copies * len(sources), lines


def count_lines(folder: Path) -> tuple[int, int]:
    files = list(folder.rglob("*.py"))
    return len(files), sum(p.read_bytes().count(b"\n") for p in files)


def timed(repeat: int, action) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-files", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", type=Path, help="lint this folder instead of the replicated fixtures")
    parser.add_argument("--no-pylint", action="store_true", help="skip the (slow) pylint reference run")
    args = parser.parse_args()

    from losslint.config import Config
    from losslint.runner import run

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.corpus:
            shutil.copytree(args.corpus, root / "corpus")
            files, lines = count_lines(root)
        else:
            files, lines = replicate(root, args.min_files)
        config = Config(root=root)

        def report(label: str, seconds: float) -> None:
            print(f"  {label:28} {seconds:7.3f} s  {files / seconds:8.0f} files/s  {lines / seconds:9.0f} lines/s")

        print(f"static pass on {files} files, {lines} lines (median of {args.repeat}):")
        report("cold, 1 process", timed(args.repeat, lambda: run([tmp], config, jobs=1, no_cache=True)))
        report(f"cold, {os.cpu_count()} processes", timed(args.repeat, lambda: run([tmp], config, jobs=0, no_cache=True)))
        run([tmp], config, jobs=0, no_cache=False)  # fill the cache
        report("warm (cache)", timed(args.repeat, lambda: run([tmp], config, jobs=0, no_cache=False)))
        shutil.rmtree(root / ".losslint_cache", ignore_errors=True)
        pylint = subprocess.run([sys.executable, "-m", "pylint", "--version"], capture_output=True)
        if args.no_pylint:
            pass
        elif pylint.returncode == 0:
            command = [sys.executable, "-m", "pylint", "--disable=all", "--enable=E", "--jobs=0", "-sn", tmp]
            report("pylint -E (reference)", timed(1, lambda: subprocess.run(command, capture_output=True)))
        else:
            print("  pylint is not installed: no reference figure (pip install pylint)")

    one_file = FIXTURES / "LL101-reshape-in-loss" / "bad_seed000.py"
    command = [sys.executable, "-m", "losslint.cli", "--no-cache", str(one_file)]
    import losslint

    package = Path(losslint.__file__).parent
    for cached in package.rglob("__pycache__"):
        shutil.rmtree(cached)
    no_bytecode = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    source_only = timed(5, lambda: subprocess.run(command, capture_output=True, check=False, env=no_bytecode))
    # As installed by pip, which byte-compiles the package: one run first writes the bytecode.
    installed = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(command, capture_output=True, check=False, env=installed)
    wall = timed(5, lambda: subprocess.run(command, capture_output=True, check=False, env=installed))
    print("one file through the CLI (process start included, no cache), median of 5:")
    print(f"  losslint byte-compiled, as pip installs it  {wall:.3f} s")
    print(f"  losslint compiled from source at each start {source_only:.3f} s (PYTHONDONTWRITEBYTECODE=1)")

if __name__ == "__main__":
    main()
