"""Dynamic pass overhead, per fixture: wall time and peak memory of `losslint --dynamic FILE`
next to the script's own run up to `fit` (the same script with fit replaced by an exit) and
`python -c "import tensorflow"`.

    python bench/dynamic_overhead.py [FILE ...] [--repeat 3]

Peak memory is the largest resident set of any process in the run (ru_maxrss of the waited-for
descendants), measured in a fresh wrapper process per run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [
    "fixtures/LL101-reshape-in-loss/bad_seed000.py",
    "fixtures/LL101-reshape-in-loss/good_seed000.py",
    "fixtures/LL102-target-indexed-as-list/bad_seed002.py",
    "fixtures/LL103-hardcoded-batch-size/bad_seed004.py",
    "fixtures/LL105-symbolic-tensor-in-loss/bad_seed004.py",
    "fixtures/LL003-script-timeout/good.py",
    "fixtures/LL302-loss-discrepancy/bad_sum_vs_mean.py",
    "fixtures/LL302-loss-discrepancy/good_compute_loss.py",
]

# Runs one command in a child and prints its wall time and the peak RSS of its process tree.
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=sys.argv[2])
wall = time.perf_counter() - start
print(json.dumps({"wall": wall, "rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))
"""

# The user's script with keras' fit replaced by an exit: its own cost of running up to fit.
_UP_TO_FIT = """
import os, runpy, sys
import keras
def stop(*args, **kwargs):
    sys.stdout.flush()
    os._exit(0)
for name in ("fit", "train_on_batch", "evaluate"):
    setattr(keras.Model, name, stop)
sys.argv = [sys.argv[1]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def measure(command: list[str], cwd: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, json.dumps(command), str(cwd)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def best_of(command: list[str], cwd: Path, repeat: int) -> tuple[float, float]:
    runs = [measure(command, cwd) for _ in range(repeat)]
    return statistics.median(r["wall"] for r in runs), max(r["rss"] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env_python = sys.executable

    tf_wall, tf_rss = best_of([env_python, "-c", "import tensorflow"], ROOT, args.repeat)
    print(f"python -c 'import tensorflow': {tf_wall:.2f} s, {tf_rss / 2**20:.0f} MiB")
    print(f"{'fixture':58} {'script to fit':>17} {'losslint --dynamic':>20} {'overhead':>17}")
    for name in args.files:
        script = (ROOT / name).resolve()
        own_wall, own_rss = best_of([env_python, "-c", _UP_TO_FIT, str(script)], script.parent, args.repeat)
        lint_wall, lint_rss = best_of(
            [env_python, "-m", "losslint.cli", "--dynamic", "--isolated", "-q", str(script)], ROOT, args.repeat
        )
        print(
            f"{name:58} {own_wall:6.2f} s {own_rss / 2**20:5.0f} MiB {lint_wall:8.2f} s {lint_rss / 2**20:5.0f} MiB "
            f"{lint_wall - own_wall:+6.2f} s {(lint_rss - own_rss) / 2**20:+5.0f} MiB"
        )


if __name__ == "__main__":
    main()
