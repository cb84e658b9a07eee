"""Precision on real, correct Keras code: lint pinned wheels of keras-hub, keras-rs,
tensorflow-recommenders and Keras itself (downloaded with `pip download --no-deps` into a cache
outside the repo, unpacked, never copied into it) and print the findings by code and by file.
Keras' own `*_test.py` files are left out: they build wrong set-ups on purpose, to check that
Keras raises.

    python bench/precision.py [--cache DIR] [--fail-on error|warning|never]

Exit status 1 when a finding of the --fail-on severity (default: error) is reported: every
finding there is a false alarm.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

WHEELS = ("keras-hub==0.32.0", "keras-rs==0.4.0", "tensorflow-recommenders==0.7.7", "keras==3.15.1")
TESTS = ("*_test.py",)
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "losslint-precision"


def fetch(cache: Path) -> list[Path]:
    """The unpacked wheels, downloading and unpacking what is not cached yet."""
    cache.mkdir(parents=True, exist_ok=True)
    roots = []
    for requirement in WHEELS:
        name, version = requirement.split("==")
        stem = f"{name.replace('-', '_')}-{version}"
        target = cache / stem
        if not target.is_dir():
            wheels = list(cache.glob(f"{stem}-*.whl"))
            if not wheels:
                subprocess.run(
                    [sys.executable, "-m", "pip", "download", "-q", "--no-deps", requirement, "-d", str(cache)],
                    check=True,
                )
                wheels = list(cache.glob(f"{stem}-*.whl"))
            with zipfile.ZipFile(wheels[0]) as archive:
                archive.extractall(target)
        roots.append(target)
    return roots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--fail-on", choices=("error", "warning", "never"), default="error")
    args = parser.parse_args()

    from losslint.config import Config
    from losslint.findings import Severity
    from losslint.runner import run

    roots = fetch(args.cache)
    start = time.perf_counter()
    result = run([str(r) for r in roots], Config(extend_exclude=TESTS))
    seconds = time.perf_counter() - start
    print(f"{result.files_checked} files from {', '.join(WHEELS)} in {seconds:.1f} s, {len(result.findings)} findings")
    by_code = Counter((f.code, f.severity.value) for f in result.findings)
    for (code, severity), count in sorted(by_code.items()):
        print(f"  {code} [{severity}]: {count}")
    for path, count in Counter(f.path for f in result.findings).most_common():
        print(f"  {count:4d}  {path}")
    for finding in result.findings:
        print(f"{finding.path}:{finding.line}:{finding.column}: {finding.code} [{finding.severity.value}] {finding.message}")
    for error in result.errors:
        print(f"error: {error}")
    failing = {"error": {Severity.ERROR}, "warning": {Severity.ERROR, Severity.WARNING}, "never": set()}[args.fail_on]
    bad = [f for f in result.findings if f.severity in failing]
    if bad or result.errors:
        print(f"FAIL: {len(bad)} finding(s) of severity {args.fail_on} or worse, {len(result.errors)} error(s)")
        return 1
    print("OK: no false alarm at the failing severity")
    return 0


if __name__ == "__main__":
    sys.exit(main())
