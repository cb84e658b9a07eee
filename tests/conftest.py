"""Shared fixtures: the repository's paths and one CLI run over all bundled fixtures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
RULES_DIR = ROOT / "rules"


def run_cli(
    *args: str, cwd: Path = ROOT, stdin: bytes | None = None, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the real `losslint` console entry point in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "losslint.cli", *args],
        cwd=cwd, input=stdin, capture_output=True, timeout=timeout, env=env,
    )


@pytest.fixture(scope="session")
def fixtures_json() -> list[dict]:
    """`losslint --format json fixtures/`, run once for the whole session."""
    proc = run_cli("--format", "json", "fixtures")
    assert proc.returncode == 1, proc.stderr.decode()
    assert proc.stderr.decode() == "", proc.stderr.decode()
    return json.loads(proc.stdout)
