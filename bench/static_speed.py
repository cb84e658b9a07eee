"""Static pass speed: files/s and lines/s on the fixtures replicated to >= 300 files, and the
wall time of one `losslint` run on one file, process start included.

    python bench/static_speed.py [--min-files 300] [--repeat 5]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-files", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from losslint.config import Config
    from losslint.runner import run

    with tempfile.TemporaryDirectory() as tmp:
        files, lines = replicate(Path(tmp), args.min_files)
        timings = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = run([tmp], Config())
            timings.append(time.perf_counter() - start)
        assert result.files_checked == files, (result.files_checked, files)
    best, median = min(timings), statistics.median(timings)
    print(f"static pass, in process, 1 core: {files} files, {lines} lines, {len(result.findings)} findings")
    print(f"  median {median:.3f} s -> {files / median:.0f} files/s, {lines / median:.0f} lines/s")
    print(f"  best   {best:.3f} s -> {files / best:.0f} files/s, {lines / best:.0f} lines/s")

    one_file = FIXTURES / "LL101-reshape-in-loss" / "bad_seed000.py"
    walls = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "losslint.cli", str(one_file)], capture_output=True, check=False)
        walls.append(time.perf_counter() - start)
    print(f"one file through the CLI (process start included): median {statistics.median(walls):.3f} s, best {min(walls):.3f} s")


if __name__ == "__main__":
    main()
